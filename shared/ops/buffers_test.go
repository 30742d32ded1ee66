package ops

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestApplyRefusesSharedOp(t *testing.T) {
	g := G.NewGraph()
	a := newNode(g, "a", tensor.Shape{2, 3}, normal(rand.New(rand.NewPCG(1, 2)), 6))
	b := newNode(g, "b", tensor.Shape{2, 3}, normal(rand.New(rand.NewPCG(3, 4)), 6))
	op := newMaskOp(2)
	if _, err := apply(op, a, b); err != nil {
		t.Fatal(err)
	}
	// The same op on the same inputs is the same node, which Gorgonia merges.
	if _, err := apply(op, a, b); err != nil {
		t.Errorf("same op, same inputs: %v", err)
	}
	if _, err := apply(op, b, a); err == nil || !strings.Contains(err.Error(), "already applied") {
		t.Errorf("same op on other inputs: error %v, want one saying it is already applied", err)
	}
	// A node built around apply has buffers no node claimed: refused.
	if _, err := G.ApplyOp(newMaskOp(2), b, b); err != nil {
		t.Fatal(err)
	}
	if err := ReuseOutputs(g); err == nil {
		t.Error("ReuseOutputs accepted a node whose op apply never gave it")
	}
}

func TestOutputPoison(t *testing.T) {
	b := &buffers{reuse: true, poison: true}
	out := output[float32](b, 4, false)
	for i, v := range out {
		if !math.IsNaN(float64(v)) {
			t.Errorf("poisoned element %d is %v, want NaN", i, v)
		}
	}
	out[0] = 1
	if z := output[float32](b, 4, true); z[0] != 0 || &z[0] != &out[0] {
		t.Errorf("zeroed output: %v at %p, want 0 in the same buffer %p", z[0], &z[0], &out[0])
	}
	if fresh := output[float32](nil, 4, false); fresh[0] != 0 || len(fresh) != 4 {
		t.Errorf("output without buffers: %v, want 4 zeros", fresh)
	}
	// Scratch likewise: poisoned unless zeroed.
	s := scratch[float32](b, 0, 4, false)
	if !math.IsNaN(float64(s[3])) {
		t.Errorf("poisoned scratch element is %v, want NaN", s[3])
	}
	if z := scratch[float32](b, 0, 4, true); z[3] != 0 || &z[0] != &s[0] {
		t.Errorf("zeroed scratch: %v at %p, want 0 in the same buffer %p", z[3], &z[0], &s[0])
	}
}

// reuseNet builds, in float32, a network whose layers take every float32
// path of the default build (direct convolution forward, data and filter
// gradients; im2col for the strided layer; the AVX2 mask and 2x2 pooling;
// the packed GEMM) and the gradients of its loss with respect to the input
// and every parameter.
func reuseNet(t *testing.T, g *G.ExprGraph, vals map[string][]float32) G.Nodes {
	t.Helper()
	node := func(name string, shape ...int) *G.Node {
		return G.NewTensor(g, G.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals[name]))))
	}
	x := node("x", 4, 3, 16, 16)
	w1, b1 := node("w1", 32, 3, 5, 5), node("b1", 32)
	w2 := node("w2", 24, 32, 3, 3)
	gamma, beta := node("gamma", 24), node("beta", 24)
	w3 := node("w3", 24*4*4, 10)
	y := node("y", 4, 10)
	must := func(n *G.Node, err error) *G.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	h := must(Conv2d(x, w1, 1, 2))
	h = must(AddChannelBias(h, b1))
	h = must(ReLU(h))
	h = must(MaxPool2d(h, 2, 2))  // [4,32,8,8]
	h = must(Conv2d(h, w2, 2, 1)) // [4,24,4,4]
	h, _, _, err := BatchNormTrain(h, gamma, beta, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	h = must(ReLU(h))
	h = must(Flatten(h))
	z := must(MatMul(h, w3, false, false))
	loss := must(SoftmaxCrossEntropy(z, y))
	grads, err := Grad(loss, x, w1, b1, w2, gamma, beta, w3)
	if err != nil {
		t.Fatal(err)
	}
	return append(G.Nodes{loss}, grads...)
}

func reuseInputs(seed uint64) map[string][]float32 {
	r := rand.New(rand.NewPCG(seed, 9))
	vals := map[string][]float32{}
	for _, in := range []struct {
		name string
		n    int
	}{{"x", 4 * 3 * 16 * 16}, {"w1", 32 * 3 * 25}, {"b1", 32}, {"w2", 24 * 32 * 9}, {"gamma", 24}, {"beta", 24}, {"w3", 24 * 16 * 10}} {
		name, v := in.name, make([]float32, in.n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.3)
		}
		vals[name] = v
	}
	y := make([]float32, 4*10)
	for i := range 4 {
		y[i*10+r.IntN(10)] = 1
	}
	vals["y"] = y
	return vals
}

// TestReuseOutputs runs one graph with reused, poisoned outputs on two sets
// of inputs and compares the second run with a graph that allocates afresh:
// an element some op left unwritten would be NaN, a buffer two live nodes
// shared would give wrong values. Both graphs run the same kernels on the
// same workers, so the results must agree to the bit.
func TestReuseOutputs(t *testing.T) {
	type graph struct {
		m    G.VM
		outs []*G.Value
		vals map[string][]float32
	}
	build := func(reuse bool) graph {
		g := G.NewGraph()
		vals := reuseInputs(1)
		nodes := reuseNet(t, g, vals)
		outs := make([]*G.Value, len(nodes))
		for i, n := range nodes {
			outs[i] = new(G.Value)
			G.Read(n, outs[i])
		}
		if reuse {
			if err := reuseOutputs(g, true); err != nil {
				t.Fatal(err)
			}
		}
		m := G.NewTapeMachine(g)
		t.Cleanup(func() { m.Close() })
		return graph{m, outs, vals}
	}
	run := func(gr graph) {
		t.Helper()
		gr.m.Reset()
		if err := gr.m.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	setInputs := func(gr graph, seed uint64) {
		for name, v := range reuseInputs(seed) {
			copy(gr.vals[name], v)
		}
	}
	reused, fresh := build(true), build(false)
	run(reused)
	first := floatsOf(t, *reused.outs[0])
	setInputs(reused, 2)
	setInputs(fresh, 2)
	run(reused)
	run(fresh)
	if got := floatsOf(t, *reused.outs[0]); got[0] == first[0] {
		t.Fatalf("loss %v on both inputs: the check is vacuous", got[0])
	}
	for i := range reused.outs {
		got, want := floatsOf(t, *reused.outs[i]), floatsOf(t, *fresh.outs[i])
		for j := range want {
			if got[j] != want[j] && !(math.IsNaN(got[j]) && math.IsNaN(want[j])) {
				t.Fatalf("output %d element %d: %v with reused outputs, %v allocated afresh", i, j, got[j], want[j])
			}
		}
	}

	// What the reuse is for: a run allocates a small part of what it did.
	bytesPerRun := func(gr graph) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 3 {
			run(gr)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / 3
	}
	r, f := bytesPerRun(reused), bytesPerRun(fresh)
	t.Logf("bytes allocated per run: %d with reused outputs, %d without", r, f)
	if r*10 > f {
		t.Errorf("a run allocates %d bytes with reused outputs, %d without: want a tenth at most", r, f)
	}
}

// TestReuseOutputsSharesPacks checks that the nodes of a graph share one set
// of GEMM packing space, which the tape machine's one node at a time allows:
// a set per node kept up to a tenth more memory in a ResNet's training.
func TestReuseOutputsSharesPacks(t *testing.T) {
	g := G.NewGraph()
	reuseNet(t, g, reuseInputs(1))
	if err := ReuseOutputs(g); err != nil {
		t.Fatal(err)
	}
	sets := map[*packSet]int{}
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(interface{ buffers() *buffers }); ok {
			sets[op.buffers().packs]++
		}
	}
	if len(sets) != 1 || sets[nil] > 0 {
		t.Errorf("%d packing sets over the graph's nodes (%v), want one", len(sets), sets)
	}
}

// TestIndices checks that a reusing node's index tables keep their memory
// across runs, one table per index, and that without reuse each call gets
// a fresh table.
func TestIndices(t *testing.T) {
	b := &buffers{reuse: true}
	first := indices(b, 1, 10)
	first[9] = 7
	if again := indices(b, 1, 8); len(again) != 8 || &again[0] != &first[0] {
		t.Errorf("indices(b, 1, 8) = len %d, same memory %v; want 8, true", len(again), &again[0] == &first[0])
	}
	if other := indices(b, 0, 10); &other[0] == &first[0] {
		t.Error("index tables 0 and 1 share memory")
	}
	if a, c := indices(nil, 1, 4), indices(nil, 1, 4); &a[0] == &c[0] {
		t.Error("indices without buffers reused memory")
	}
}
