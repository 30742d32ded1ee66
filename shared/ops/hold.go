package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"sgn/shared/kernels"
)

// A product whose B operand is an input of the graph (a layer's weights)
// may keep B packed whole (kernels.WholeB) instead of packing it for each
// product: within one run, when several products read the same input the
// same way (an SGN's probe and response passes, the second-order terms of
// double backprop), and from one run to the next while the caller holds
// the input (Hold: an attack's steps all meet the same weights). Packing
// MNIST's fc1 weights (12.8 MB) took a PGD-10 attack about 8% of its CPU
// time, 22 times per attack.

// wholeKey names one way of reading a graph input as a B operand.
type wholeKey struct {
	node *G.Node
	tB   bool
}

// wholeEntry is an input packed whole and what it was packed from.
type wholeEntry struct {
	w     kernels.WholeB
	src   *float32 // the input's data when packed
	ldb   int
	run   uint64 // packSet.run when packed; 0 while not valid
	epoch uint64 // packSet.epoch when packed under a hold, else 0
}

// Hold declares that the values of the given inputs of g (a network's
// parameters, not the images) stay as they are until release is called:
// products that read them as their B operand then pack them once, not on
// every run. It costs each such product the packed copy (12.8 MB for
// MNIST's fc1, per orientation), kept for the next hold. ReuseOutputs must
// have been called on g; holds nest, and each release must be called once.
// Changing a held input before release makes the products use its old
// values.
func Hold(g *G.ExprGraph, inputs ...*G.Node) (release func(), err error) {
	if g == nil {
		return nil, fmt.Errorf("hold: nil graph")
	}
	for _, n := range inputs {
		if n == nil || n.Op() != nil {
			return nil, fmt.Errorf("hold: %v is not an input of the graph", n)
		}
	}
	var ps *packSet
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(interface{ buffers() *buffers }); ok {
			if b := op.buffers(); b != nil && b.reuse && b.packs != nil {
				ps = b.packs
				break
			}
		}
	}
	if ps == nil { // nothing of this package's reuses buffers: nothing to keep
		return func() {}, nil
	}
	if ps.holds == 0 {
		ps.epoch++
		ps.held = map[*G.Node]bool{}
	}
	ps.holds++
	for _, n := range inputs {
		ps.held[n] = true
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		if ps.holds--; ps.holds == 0 {
			ps.epoch++
			ps.held = nil
		}
	}, nil
}

// findLeafB records in the buffers of every product of g whose B operand is
// an input of the graph that input, and whether another product reads it
// the same way.
func findLeafB(g *G.ExprGraph) {
	count := map[wholeKey]int{}
	var found []*buffers
	for _, n := range g.AllNodes() {
		op, ok := n.Op().(matMulOp)
		if !ok || op.bufs == nil || op.bufs.node != n {
			continue
		}
		it := g.From(n.ID())
		if it.Len() != 2 {
			continue
		}
		it.Next()
		it.Next()
		b, ok := it.Node().(*G.Node)
		if !ok || b.Op() != nil {
			continue
		}
		op.bufs.leafB, op.bufs.tB = b, op.tb
		count[wholeKey{b, op.tb}]++
		found = append(found, op.bufs)
	}
	for _, b := range found {
		b.shareB = count[wholeKey{b.leafB, b.tB}] > 1
	}
}

// wholeB returns the packed B a product of this node may use, or nil, and
// whether the product must pack it first (it then calls the returned
// commit once it has). data is B's values, k×n once op(b) is applied.
func (b *buffers) wholeB(data []float32, ldb int, tB bool, k, n int) (w *kernels.WholeB, pack bool, commit func()) {
	if b == nil || !b.reuse || b.leafB == nil || b.packs == nil || !kernels.Fast() || k == 0 || n == 0 {
		return nil, false, nil
	}
	ps := b.packs
	// The tape runs the same nodes in the same order on every run: a node
	// that already ran since the count last moved starts a new run, in
	// which the inputs may have changed.
	if b.seen == ps.run {
		ps.run++
	}
	b.seen = ps.run
	held := ps.holds > 0 && ps.held[b.leafB]
	if !held && !b.shareB {
		return nil, false, nil
	}
	key := wholeKey{b.leafB, tB}
	e := ps.whole[key]
	if e == nil {
		if ps.whole == nil {
			ps.whole = map[wholeKey]*wholeEntry{}
		}
		e = new(wholeEntry)
		ps.whole[key] = e
	}
	if e.w.K == k && e.w.N == n && e.src == &data[0] && e.ldb == ldb &&
		(e.run == ps.run || held && e.epoch == ps.epoch) {
		return &e.w, false, nil
	}
	e.run, e.epoch = 0, 0
	e.w.Reset(k, n)
	run, epoch := ps.run, uint64(0)
	if held {
		epoch = ps.epoch
	}
	return &e.w, true, func() {
		e.src, e.ldb, e.run, e.epoch = &data[0], ldb, run, epoch
	}
}
