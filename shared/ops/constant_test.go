package ops

import (
	"errors"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestChannelScaleDerivatives(t *testing.T) {
	runCases(t, []diffCase{
		{name: "channel scale", inputs: []input{in("x", normal, true, 2, 3, 2, 2), in("alpha", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return ChannelScale(n[0], n[1]) }},
	})
}

// TestConstantOps checks the values of the zero-derivative ops and that
// gradients stop at them.
func TestConstantOps(t *testing.T) {
	specs := []input{in("x", func(*rand.Rand, int) []float64 {
		return []float64{0.5, -2, 0, 3, 3, 1}
	}, false, 2, 3)}
	vals := draw(specs, 1)
	got := evalNodes(t, specs, vals, func(n []*G.Node) (G.Nodes, error) {
		s, err := StopGradient(n[0])
		if err != nil {
			return nil, err
		}
		sg, err := Sign(n[0])
		if err != nil {
			return nil, err
		}
		oh, err := OneHotArgmax(n[0])
		return G.Nodes{s, sg, oh}, err
	})
	for i, want := range [][]float64{
		vals[0],
		{1, -1, 0, 1, 1, 1},
		{1, 0, 0, 1, 0, 0}, // ties go to the first column
	} {
		for j := range want {
			if got[i][j] != want[j] {
				t.Errorf("output %d: %v, want %v", i, got[i], want)
				break
			}
		}
	}

	// c = Σ x ⊙ stop(x): the gradient is stop(x) = x, not 2x
	g := G.NewGraph()
	x := newNode(g, "x", tensor.Shape{3}, []float64{1, -2, 4})
	s, err := StopGradient(x)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dot(x, s)
	if err != nil {
		t.Fatal(err)
	}
	gx, err := Grad(c, x)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := Sign(x)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Mean(sg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Grad(c2, x); !errors.Is(err, ErrNoPath) {
		t.Errorf("gradient through Sign alone: error %v, want ErrNoPath", err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, v := range valuesOf(t, gx[0]) {
		if want := []float64{1, -2, 4}[i]; v != want {
			t.Errorf("∂c/∂x[%d] = %g, want %g", i, v, want)
		}
	}
}
