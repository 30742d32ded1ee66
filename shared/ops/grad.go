package ops

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ErrNoPath is wrapped by the error Grad returns when the cost does not
// depend differentiably on a wrt node (its gradient is identically zero).
var ErrNoPath = errors.New("cost does not depend differentiably on it")

// partialDiffer is implemented by this package's ops: SymDiff restricted to
// the inputs that need a gradient, so that asking for an input gradient does
// not add, say, a filter gradient to the graph that a machine would then run.
type partialDiffer interface {
	symDiff(inputs G.Nodes, output, grad *G.Node, need []bool) (G.Nodes, error)
}

// Grad returns the gradient of the scalar cost with respect to each node of
// wrt, as new nodes of the cost's graph. Use it instead of G.Grad for every
// gradient, first or higher order:
//
//   - G.Grad skips any node that some earlier G.Grad call already
//     differentiated, reusing that old gradient, so the second of two calls on
//     one graph (a double backprop, or a second loss) is silently wrong; Grad
//     keeps no state between calls.
//   - wrt may be any node, not only an input: a self-gradient at an
//     intermediate activation is Grad(cost, activation).
//   - only the gradients on a path from cost to wrt are built.
//
// Like G.Grad it records each result as its node's Deriv, so that
// G.NodesToValueGrads and Gorgonia's solvers see the latest gradient.
func Grad(cost *G.Node, wrt ...*G.Node) (G.Nodes, error) {
	if cost == nil {
		return nil, fmt.Errorf("grad: nil cost")
	}
	if !cost.IsScalar() {
		return nil, fmt.Errorf("grad: cost has shape %v, want a scalar", cost.Shape())
	}
	g := cost.Graph()
	for i, w := range wrt {
		if w == nil || w.Graph() != g {
			return nil, fmt.Errorf("grad: wrt %d is nil or not in the cost's graph", i)
		}
	}
	sorted, err := G.Sort(g) // parents before children
	if err != nil {
		return nil, fmt.Errorf("grad: sort graph: %w", err)
	}

	kids := make(map[*G.Node][]*G.Node)
	childrenOf := func(n *G.Node) []*G.Node {
		if cs, ok := kids[n]; ok {
			return cs
		}
		var cs []*G.Node
		for it := g.From(n.ID()); it.Next(); {
			cs = append(cs, it.Node().(*G.Node))
		}
		kids[n] = cs
		return cs
	}
	diffWRT := func(n *G.Node) (G.SDOp, []bool) {
		op, ok := n.Op().(G.SDOp)
		if !ok {
			return nil, nil
		}
		return op, op.DiffWRT(len(childrenOf(n)))
	}

	// reach: nodes the cost depends on through differentiable edges.
	reach := map[*G.Node]bool{cost: true}
	for _, n := range sorted {
		if !reach[n] || n.Op() == nil {
			continue
		}
		_, diffs := diffWRT(n)
		for j, c := range childrenOf(n) {
			if j < len(diffs) && diffs[j] {
				reach[c] = true
			}
		}
	}
	// dep: nodes that depend on some wrt through differentiable edges.
	dep := make(map[*G.Node]bool, len(wrt))
	for _, w := range wrt {
		dep[w] = true
	}
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		if dep[n] || n.Op() == nil {
			continue
		}
		_, diffs := diffWRT(n)
		for j, c := range childrenOf(n) {
			if j < len(diffs) && diffs[j] && dep[c] {
				dep[n] = true
				break
			}
		}
	}
	for i, w := range wrt {
		if !reach[w] {
			return nil, fmt.Errorf("grad: wrt %d (%v): %w", i, w.Name(), ErrNoPath)
		}
	}
	active := func(n *G.Node) bool { return reach[n] && dep[n] }

	var one G.Value = G.NewF64(1)
	if cost.Dtype() == tensor.Float32 {
		one = G.NewF32(1)
	}
	terms := map[*G.Node]G.Nodes{cost: {g.Constant(one)}}
	total := make(map[*G.Node]*G.Node)
	for _, n := range sorted {
		if !active(n) {
			continue
		}
		gn, err := sumTerms(terms[n])
		if err != nil {
			return nil, fmt.Errorf("grad: gradient of %v: %w", n.Name(), err)
		}
		total[n] = gn
		if n.Op() == nil {
			continue
		}
		op, diffs := diffWRT(n)
		if op == nil {
			return nil, fmt.Errorf("grad: %v is not differentiable", n.Op())
		}
		cs := childrenOf(n)
		need := make([]bool, len(cs))
		needed := false
		for j, c := range cs {
			need[j] = j < len(diffs) && diffs[j] && active(c)
			needed = needed || need[j]
		}
		if !needed {
			continue
		}
		var dc G.Nodes
		if p, ok := op.(partialDiffer); ok {
			dc, err = p.symDiff(cs, n, gn, need)
		} else {
			dc, err = op.SymDiff(cs, n, gn)
		}
		if err != nil {
			return nil, fmt.Errorf("grad: differentiate %v: %w", n.Op(), err)
		}
		if len(dc) < len(cs) {
			return nil, fmt.Errorf("grad: %v returned %d gradients for %d inputs", n.Op(), len(dc), len(cs))
		}
		for j, c := range cs {
			if !need[j] {
				continue
			}
			if dc[j] == nil {
				return nil, fmt.Errorf("grad: %v returned no gradient for input %d", n.Op(), j)
			}
			if !dc[j].Shape().Eq(c.Shape()) {
				return nil, fmt.Errorf("grad: %v gave input %d a gradient of shape %v, want %v", n.Op(), j, dc[j].Shape(), c.Shape())
			}
			terms[c] = append(terms[c], dc[j])
		}
	}
	out := make(G.Nodes, len(wrt))
	for i, w := range wrt {
		out[i] = total[w]
		G.SetDerivOf(out[i], w)
	}
	return out, nil
}

// sumTerms adds the gradient contributions reaching one node.
func sumTerms(ts G.Nodes) (*G.Node, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("no gradient reached it")
	}
	s := ts[0]
	for _, t := range ts[1:] {
		var err error
		if s, err = add(s, t); err != nil {
			return nil, fmt.Errorf("add gradient terms %v and %v: %w", s.Shape(), t.Shape(), err)
		}
	}
	return s, nil
}
