package ops

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// buffers are one node's output and scratch space. Every op of this
// package carries its own (in its symbol) and apply gives them to exactly
// one node. Until ReuseOutputs switches them on, each Do allocates afresh,
// as before: a node's old values may be held by whoever read them. Once on,
// each Do writes into the same memory, allocated by the first run, so a
// compiled program allocates (almost) nothing per run.
//
// This is safe under the tape machine, which reuses buffers of its own:
// Reset empties every register before a run, so a node's buffer enters
// the run only when its Do writes it, once per run, and from then on it
// is what the machine would have made of a fresh allocation: Gorgonia's
// in-place and preallocating ops write into a register's value only once
// the node that wrote it is dead. What changes is only across runs, which
// is why ReuseOutputs is asked for, not the default.
type buffers struct {
	node  *G.Node // the node the op was applied as, set by apply
	reuse bool
	// poison fills a reused output with NaN before each Do, so that a test
	// finds an element the op failed to write: a reused buffer would
	// otherwise still hold the same value from the run before.
	poison bool
	f32    []float32
	f64    []float64
	value  *tensor.Dense // the last result, returned again while it still wraps the buffer
	s32    [][]float32
	s64    [][]float64
	i32    [][]int32   // index tables (the direct convolution's offsets)
	c32    [][]float32 // caches (see cache)
	// packs is GEMM packing space, one set for all the nodes of a graph:
	// index 0 for what an op shares between its workers, 1+w for worker w.
	// The pool that serves nodes without buffers is emptied by every
	// garbage collection, and refilling it cost a madry-mnist train step
	// about 0.5 MB. A set per node, not per graph, raised the peak memory
	// of a preact-resnet18 training at batch 32 from 1.13 to 1.24 GB.
	packs *packSet
	// leafB is a product's B operand when that is an input of the graph,
	// read transposed when tB is set; shareB tells that another product
	// of the graph reads it the same way; seen is the packSet's run count
	// when this node last ran (see hold.go).
	leafB  *G.Node
	tB     bool
	shareB bool
	seen   uint64
}

// packSet is the packing space the nodes of one graph share: the tape
// machine runs one node at a time, and no op keeps anything in it from
// one Do to the next.
type packSet struct {
	bufs []*gemmBuf
	// whole holds graph inputs packed whole for products (hold.go); run
	// counts the runs of the graph, epoch the starts and ends of holds;
	// held is the set of inputs held while holds > 0.
	whole map[wholeKey]*wholeEntry
	run   uint64
	epoch uint64
	holds int
	held  map[*G.Node]bool
}

// reservePacks makes sure a reusing node has n packing spaces, before
// workers running in parallel take theirs with pack.
func (b *buffers) reservePacks(n int) {
	if b == nil || !b.reuse {
		return
	}
	for len(b.packs.bufs) < n {
		b.packs.bufs = append(b.packs.bufs, new(gemmBuf))
	}
}

// pack returns packing space i (reserved by reservePacks) of a reusing
// node, or space from the pool, which unpack gives back.
func (b *buffers) pack(i int) *gemmBuf {
	if b == nil || !b.reuse {
		return getGemmBuf()
	}
	return b.packs.bufs[i]
}

// unpack returns space that pack took from the pool.
func (b *buffers) unpack(buf *gemmBuf) {
	if b == nil || !b.reuse {
		putGemmBuf(buf)
	}
}

// output returns n elements for an op's result, zeroed if zero is set
// (the kernels that accumulate into their output need it): the node's
// buffer when it reuses one, else a new slice.
func output[T float](b *buffers, n int, zero bool) []T {
	if b == nil || !b.reuse {
		return make([]T, n)
	}
	var out []T
	switch s := any(&out).(type) {
	case *[]float32:
		*s = growSlice(&b.f32, n)
	case *[]float64:
		*s = growSlice(&b.f64, n)
	}
	prepare(out, zero, b.poison)
	return out
}

// scratch returns the i-th scratch slice of n elements of a node, kept
// across runs like its output, and zeroed if zero is set: callers that
// write every element before reading it pass false and skip a pass over
// memory (a Winograd filter gradient's accumulators are 16 MB a worker).
// Callers that hand slices to parallel workers take them all before
// starting the workers.
func scratch[T float](b *buffers, i, n int, zero bool) []T {
	if b == nil || !b.reuse {
		return make([]T, n)
	}
	var out []T
	switch s := any(&out).(type) {
	case *[]float32:
		for len(b.s32) <= i {
			b.s32 = append(b.s32, nil)
		}
		*s = growSlice(&b.s32[i], n)
	case *[]float64:
		for len(b.s64) <= i {
			b.s64 = append(b.s64, nil)
		}
		*s = growSlice(&b.s64[i], n)
	}
	prepare(out, zero, b.poison)
	return out
}

// cache returns the i-th cache of n elements of a reusing node, or nil:
// like its scratch it is kept across runs, but it is never cleared or
// poisoned, for what an op derives from an input and reuses while that
// input stays the same (an attack runs the same weights hundreds of
// times). It starts zeroed; a node that does not reuse its buffers has
// none.
func cache(b *buffers, i, n int) []float32 {
	if b == nil || !b.reuse {
		return nil
	}
	for len(b.c32) <= i {
		b.c32 = append(b.c32, nil)
	}
	if cap(b.c32[i]) < n {
		b.c32[i] = make([]float32, n)
	}
	return b.c32[i][:n]
}

// indices returns the i-th index table of n elements of a node, kept
// across runs like its scratch but not zeroed: its callers write every
// element. Rebuilt each run, the direct convolution's offset tables were
// about half of what a preact-resnet18 step allocated.
func indices(b *buffers, i, n int) []int32 {
	if b == nil || !b.reuse {
		return make([]int32, n)
	}
	for len(b.i32) <= i {
		b.i32 = append(b.i32, nil)
	}
	return growSlice(&b.i32[i], n)
}

// growSlice returns (*s)[:n], reallocating when too short.
func growSlice[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

// result wraps data, taken from output, as the op's value of the given
// shape. A reusing node returns the same tensor each run unless a later op
// changed it (Gorgonia's in-place ops may reshape the value they are given).
func result[T float](b *buffers, shape tensor.Shape, data []T) G.Value {
	if b == nil || !b.reuse || shape.IsScalar() {
		return dense(shape, data)
	}
	if t := b.value; t != nil && !t.IsMaterializable() && sameShape(t.Shape(), shape) && wraps(t, data) {
		return t
	}
	t := tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(data))
	b.value = t
	return t
}

// wraps reports whether t's backing array is data.
func wraps[T float](t *tensor.Dense, data []T) bool {
	if len(data) == 0 || t.DataSize() != len(data) {
		return false
	}
	switch d := any(data).(type) {
	case []float32:
		return t.Dtype() == tensor.Float32 && &t.Float32s()[0] == &d[0]
	case []float64:
		return t.Dtype() == tensor.Float64 && &t.Float64s()[0] == &d[0]
	}
	return false
}

// ReuseOutputs makes every node of g computed by one of this package's ops
// write its result, run after run, into memory of its own allocated by the
// first run, instead of allocating on each run: a train step of the
// madry-mnist CNN allocated 84 MB per run before. Call it once the graph is
// complete, before compiling it; run at most one machine on g at a time.
//
// A value read from such a node after a run (n.Value()) is overwritten by
// the next run: copy what must outlive it, as G.Read nodes do.
func ReuseOutputs(g *G.ExprGraph) error {
	return reuseOutputs(g, false)
}

func reuseOutputs(g *G.ExprGraph, poison bool) error {
	if g == nil {
		return fmt.Errorf("reuse outputs: nil graph")
	}
	packs := new(packSet)
	for _, n := range g.AllNodes() {
		op, ok := n.Op().(interface{ buffers() *buffers })
		if !ok {
			continue
		}
		b := op.buffers()
		if b == nil || b.node != n {
			// An op value applied twice would make two nodes share one buffer.
			return fmt.Errorf("reuse outputs: node %v: op %v has no buffers of its own", n.Name(), n.Op())
		}
		b.reuse, b.poison = true, poison
		if b.packs == nil {
			b.packs = packs
		}
	}
	findLeafB(g)
	return nil
}

// prepare zeroes a reused buffer for callers that accumulate into it, or
// else, in tests, fills it with NaN so that reading an element before
// writing it shows.
func prepare[T float](out []T, zero, poison bool) {
	switch {
	case zero:
		clear(out)
	case poison:
		for i := range out {
			out[i] = T(math.NaN())
		}
	}
}
