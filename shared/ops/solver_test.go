package ops

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGradFeedsSolvers checks that Grad's results reach Gorgonia's solvers
// the usual way: a tape machine binding dual values, then Step.
func TestGradFeedsSolvers(t *testing.T) {
	g := G.NewGraph()
	w := newNode(g, "w", tensor.Shape{3}, []float64{1, -2, 0.5})
	a := newNode(g, "a", tensor.Shape{3}, []float64{2, 1, -1})
	// cost = mean((w ⊙ a)²)·3, gradient 2·w·a²
	p, err := mul(w, a)
	if err != nil {
		t.Fatal(err)
	}
	sq, err := mul(p, p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := apply(newSumOp(-1, 1, 1), sq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Grad(c, w); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(w))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	s := G.NewVanillaSolver(G.WithLearnRate(0.1))
	if err := s.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
		t.Fatal(err)
	}
	want := []float64{1 - 0.1*2*1*4, -2 - 0.1*2*-2*1, 0.5 - 0.1*2*0.5*1}
	got := valuesOf(t, w)
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Errorf("w[%d] after one step: %g, want %g", i, got[i], want[i])
		}
	}
}
