package ops

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// input describes one input of a case: its shape, how its values are drawn
// and whether derivatives with respect to it are checked.
type input struct {
	name  string
	shape tensor.Shape
	gen   func(r *rand.Rand, n int) []float64
	diff  bool
}

// diffCase is a function of some inputs, checked against finite differences.
type diffCase struct {
	name   string
	inputs []input
	build  func(in []*G.Node) (*G.Node, error)
	// firstOnly skips the Hessian-vector check (for costs that are already
	// gradients, where it would be a third derivative of a larger graph).
	firstOnly bool
}

func normal(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// awayFromZero draws values at least 0.1 from 0, so that finite differences
// never cross a ReLU kink.
func awayFromZero(r *rand.Rand, n int) []float64 {
	v := normal(r, n)
	for i, x := range v {
		v[i] = math.Copysign(0.1+math.Abs(x), x)
	}
	return v
}

// distinct draws a shuffled grid with spacing 0.1 around 0 (shifted by 0.05
// off 0), so that max and argmax never tie within a finite-difference step.
func distinct(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i, j := range r.Perm(n) {
		v[i] = 0.1*float64(j-n/2) + 0.05
	}
	return v
}

func oneHot(classes int) func(r *rand.Rand, n int) []float64 {
	return func(r *rand.Rand, n int) []float64 {
		v := make([]float64, n)
		for i := 0; i < n/classes; i++ {
			v[i*classes+r.IntN(classes)] = 1
		}
		return v
	}
}

func positive(r *rand.Rand, n int) []float64 {
	v := normal(r, n)
	for i, x := range v {
		v[i] = 0.5 + math.Abs(x)
	}
	return v
}

// harness is a case's graph: the scalar L = Σ f(inputs)⊙r, its gradients,
// and S = Σ_j ⟨∂L/∂x_j, v_j⟩ with its gradients, which are Hessian-vector
// products H·v; one tape machine evaluates all of it.
type harness struct {
	vals       [][]float64 // backings of the inputs' values, perturbed in place
	diffs      []int       // indices of differentiated inputs
	l, s       *G.Node
	grads, hvs G.Nodes // hvs[k] is nil when ∂S/∂x_k is identically zero
	m          G.VM
}

func newNode(g *G.ExprGraph, name string, shape tensor.Shape, backing []float64) *G.Node {
	if len(shape) == 0 {
		return G.NewScalar(g, G.Float64, G.WithName(name), G.WithValue(backing[0]))
	}
	return G.NewTensor(g, G.Float64, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))))
}

func newHarness(t *testing.T, c diffCase, r *rand.Rand) *harness {
	t.Helper()
	g := G.NewGraph()
	h := &harness{}
	var in, wrt G.Nodes
	for i, spec := range c.inputs {
		v := spec.gen(r, spec.shape.TotalSize())
		h.vals = append(h.vals, v)
		in = append(in, newNode(g, spec.name, spec.shape, v))
		if spec.diff {
			h.diffs = append(h.diffs, i)
			wrt = append(wrt, in[i])
		}
	}
	out, err := c.build(in)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	rn := newNode(g, "r", out.Shape(), normal(r, max(1, out.Shape().TotalSize())))
	if h.l, err = dot(out, rn); err != nil {
		t.Fatalf("cost: %v", err)
	}
	if h.grads, err = Grad(h.l, wrt...); err != nil {
		t.Fatalf("grad: %v", err)
	}
	if !c.firstOnly {
		var terms G.Nodes
		for k, gk := range h.grads {
			vk := newNode(g, fmt.Sprintf("v%d", k), gk.Shape(), normal(r, max(1, gk.Shape().TotalSize())))
			d, err := dot(gk, vk)
			if err != nil {
				t.Fatalf("hv cost: %v", err)
			}
			terms = append(terms, d)
		}
		if h.s, err = sumTerms(terms); err != nil {
			t.Fatalf("hv cost: %v", err)
		}
		for _, w := range wrt {
			hv, err := Grad(h.s, w)
			switch {
			case errors.Is(err, ErrNoPath):
				h.hvs = append(h.hvs, nil)
			case err != nil:
				t.Fatalf("second grad: %v", err)
			default:
				h.hvs = append(h.hvs, hv[0])
			}
		}
	}
	// Every check runs on reused outputs, poisoned before each Do: the
	// finite differences rerun the graph on new inputs, so an element an op
	// leaves unwritten shows as NaN, and a buffer shared by two live nodes
	// as a wrong gradient.
	if err := reuseOutputs(g, true); err != nil {
		t.Fatalf("reuse outputs: %v", err)
	}
	h.m = G.NewTapeMachine(g)
	t.Cleanup(func() { h.m.Close() })
	return h
}

// dot is Σ a⊙b as a scalar node.
func dot(a, b *G.Node) (*G.Node, error) {
	p, err := mul(a, b)
	if err != nil {
		return nil, err
	}
	return apply(newSumOp(-1, len(p.Shape()), 1), p)
}

func (h *harness) run(t *testing.T) {
	t.Helper()
	h.m.Reset()
	if err := h.m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func scalarOf(t *testing.T, n *G.Node) float64 {
	t.Helper()
	return valuesOf(t, n)[0]
}

// valuesOf copies a node's value as float64s.
func valuesOf(t *testing.T, n *G.Node) []float64 {
	t.Helper()
	return floatsOf(t, n.Value())
}

// floatsOf copies a value as float64s.
func floatsOf(t *testing.T, val G.Value) []float64 {
	t.Helper()
	switch v := val.(type) {
	case *G.F64:
		return []float64{float64(*v)}
	case *G.F32:
		return []float64{float64(*v)}
	case tensor.Tensor:
		switch d := v.Data().(type) {
		case []float64:
			return append([]float64(nil), d...)
		case []float32:
			out := make([]float64, len(d))
			for i, x := range d {
				out[i] = float64(x)
			}
			return out
		case float64:
			return []float64{d}
		case float32:
			return []float64{float64(d)}
		}
	}
	t.Fatalf("unexpected value %T", val)
	return nil
}

const (
	fdStep = 1e-5
	fdTol  = 1e-6
)

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*(1+math.Max(math.Abs(a), math.Abs(b)))
}

// check compares the gradients and the Hessian-vector products at the
// inputs' values with central differences of L and S.
func (h *harness) check(t *testing.T, firstOnly bool) {
	t.Helper()
	h.run(t)
	grads := make([][]float64, len(h.diffs))
	hvs := make([][]float64, len(h.diffs))
	for k := range h.diffs {
		grads[k] = valuesOf(t, h.grads[k])
		if !firstOnly && h.hvs[k] != nil {
			hvs[k] = valuesOf(t, h.hvs[k])
		}
	}
	bad := 0
	for k, i := range h.diffs {
		for e := range h.vals[i] {
			x0 := h.vals[i][e]
			h.vals[i][e] = x0 + fdStep
			h.run(t)
			lp := scalarOf(t, h.l)
			var sp, sm float64
			if !firstOnly {
				sp = scalarOf(t, h.s)
			}
			h.vals[i][e] = x0 - fdStep
			h.run(t)
			lm := scalarOf(t, h.l)
			if !firstOnly {
				sm = scalarOf(t, h.s)
			}
			h.vals[i][e] = x0
			if fd := (lp - lm) / (2 * fdStep); !near(grads[k][e], fd, fdTol) {
				t.Errorf("input %d element %d: gradient %.10g, finite difference %.10g", i, e, grads[k][e], fd)
				bad++
			}
			if firstOnly {
				continue
			}
			want := (sp - sm) / (2 * fdStep)
			got := 0.0
			if hvs[k] != nil {
				got = hvs[k][e]
			}
			if !near(got, want, fdTol) {
				t.Errorf("input %d element %d: Hessian-vector %.10g, finite difference %.10g", i, e, got, want)
				bad++
			}
			if bad > 10 {
				t.Fatal("too many mismatches")
			}
		}
	}
}

// runCases checks each case's first and second derivatives.
func runCases(t *testing.T, cases []diffCase) {
	t.Helper()
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci)+1, 7))
			h := newHarness(t, c, r)
			h.check(t, c.firstOnly)
		})
	}
}
