package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"sgn/shared/kernels"
)

// TestWholeB checks the products that keep a graph input packed whole:
// two products reading the weights w the same way share one packing within
// a run and pack again in the next run, after w changed; a held w is
// packed once for all runs until released. Both ways of splitting a
// product over the workers (by columns, by rows) are covered.
func TestWholeB(t *testing.T) {
	for _, tc := range []struct{ m, n, k int }{{20, 70, 300}, {150, 40, 50}} {
		t.Run(fmt.Sprintf("%dx%dx%d", tc.m, tc.n, tc.k), func(t *testing.T) {
			testWholeB(t, tc.m, tc.n, tc.k)
		})
	}
}

func testWholeB(t *testing.T, m, n, k int) {
	r := rand.New(rand.NewPCG(uint64(m), uint64(n)))
	fill := func(v []float32) []float32 {
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	g := G.NewGraph()
	node := func(name string, data []float32, shape ...int) *G.Node {
		return G.NewTensor(g, G.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))))
	}
	x1, x2, gr := fill(make([]float32, m*k)), fill(make([]float32, m*k)), fill(make([]float32, m*n))
	w := fill(make([]float32, k*n))
	wn := node("w", w, k, n)
	must := func(n *G.Node, err error) *G.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	y1 := must(MatMul(node("x1", x1, m, k), wn, false, false))
	y2 := must(MatMul(node("x2", x2, m, k), wn, false, false))
	y3 := must(MatMul(node("g", gr, m, n), wn, false, true)) // read transposed, once
	var v1, v2, v3 G.Value
	G.Read(y1, &v1)
	G.Read(y2, &v2)
	G.Read(y3, &v3)
	if err := ReuseOutputs(g); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n     *G.Node
		share bool
	}{{y1, true}, {y2, true}, {y3, false}} {
		b := c.n.Op().(matMulOp).bufs
		if b.leafB != wn || b.shareB != c.share {
			t.Errorf("%v: B operand %v, shared %v; want w, %v", c.n.Op(), b.leafB, b.shareB, c.share)
		}
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	// want returns the three products of w's current values, in float64.
	want := func() [3][]float64 {
		var out [3][]float64
		for i, a := range [][]float32{x1, x2} {
			out[i] = make([]float64, m*n)
			for row := range m {
				for j := range n {
					var s float64
					for p := range k {
						s += float64(a[row*k+p]) * float64(w[p*n+j])
					}
					out[i][row*n+j] = s
				}
			}
		}
		out[2] = make([]float64, m*k)
		for row := range m {
			for p := range k {
				var s float64
				for j := range n {
					s += float64(gr[row*n+j]) * float64(w[p*n+j])
				}
				out[2][row*k+p] = s
			}
		}
		return out
	}
	check := func(when string, want [3][]float64) {
		t.Helper()
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		for i, v := range []G.Value{v1, v2, v3} {
			got := v.Data().([]float32)
			for j, x := range got {
				if math.Abs(float64(x)-want[i][j]) > 1e-3*(1+math.Abs(want[i][j])) {
					t.Fatalf("%s: product %d element %d = %v, want %v", when, i+1, j, x, want[i][j])
				}
			}
		}
	}
	first := want()
	check("first run", first)
	if kernels.Fast() {
		ps := y1.Op().(matMulOp).bufs.packs
		if e := ps.whole[wholeKey{wn, false}]; e == nil || e.run != ps.run {
			t.Errorf("no packing of w kept for the run: %+v", e)
		}
		if e := ps.whole[wholeKey{wn, true}]; e != nil {
			t.Error("w read transposed by one product only, not held, was packed whole")
		}
	}
	check("second run", first)
	fill(w)
	second := want()
	check("run after w changed", second)

	release, err := Hold(g, wn)
	if err != nil {
		t.Fatal(err)
	}
	check("held", second)
	fill(w)
	held := second // what a held, packed w gives
	if !kernels.Fast() {
		held = want() // nothing is packed: every run reads w
	}
	check("held, after w changed", held)
	release()
	release() // a second call does nothing
	check("released", want())

	if _, err := Hold(g, y1); err == nil {
		t.Error("Hold accepted a node computed by the graph")
	}
}
