package ops

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// smallNet is conv3x3(1→3, pad 1) + bias, relu, maxpool 2, batch norm,
// flatten, linear(27→4): logits for x [2,1,6,6] and params
// w1 [3,1,3,3], b1 [3], gamma [3], beta [3], w2 [27,4], b2 [4].
func smallNet(x, w1, b1, gamma, beta, w2, b2 *G.Node) (*G.Node, error) {
	h, err := Conv2d(x, w1, 1, 1)
	if err != nil {
		return nil, err
	}
	if h, err = AddChannelBias(h, b1); err != nil {
		return nil, err
	}
	if h, err = ReLU(h); err != nil {
		return nil, err
	}
	if h, err = MaxPool2d(h, 2, 2); err != nil {
		return nil, err
	}
	if h, _, _, err = BatchNormTrain(h, gamma, beta, 1e-5); err != nil {
		return nil, err
	}
	if h, err = Flatten(h); err != nil {
		return nil, err
	}
	return Linear(h, w2, b2)
}

func smallNetInputs(diffX bool) []input {
	return []input{
		in("x", normal, diffX, 2, 1, 6, 6),
		in("w1", normal, true, 3, 1, 3, 3),
		in("b1", normal, true, 3),
		in("gamma", positive, true, 3),
		in("beta", normal, true, 3),
		in("w2", normal, true, 27, 4),
		in("b2", normal, true, 4),
		in("y", oneHot(4), false, 2, 4),
	}
}

func smallNetLoss(n []*G.Node) (*G.Node, error) {
	z, err := smallNet(n[0], n[1], n[2], n[3], n[4], n[5], n[6])
	if err != nil {
		return nil, err
	}
	return SoftmaxCrossEntropy(z, n[7])
}

func TestNetworkDerivatives(t *testing.T) {
	runCases(t, []diffCase{
		// gradients with respect to the input and every parameter, and
		// Hessian-vector products through the whole network
		{name: "cross entropy", inputs: smallNetInputs(true), build: smallNetLoss},
		// double backprop: d/dparams of ‖∂loss/∂x‖²
		{name: "input gradient norm", inputs: smallNetInputs(true), firstOnly: true,
			build: func(n []*G.Node) (*G.Node, error) {
				l, err := smallNetLoss(n)
				if err != nil {
					return nil, err
				}
				gx, err := Grad(l, n[0])
				if err != nil {
					return nil, err
				}
				return dot(gx[0], gx[0])
			}},
	})
}

// TestFloat32MatchesFloat64 runs the small network in both precisions on the
// same values.
func TestFloat32MatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	specs := smallNetInputs(true)
	vals := make([][]float64, len(specs))
	for i, s := range specs {
		vals[i] = s.gen(r, s.shape.TotalSize())
	}
	forward := func(dt tensor.Dtype) (logits, loss []float64) {
		g := G.NewGraph()
		var nodes []*G.Node
		for i, s := range specs {
			var back any = vals[i]
			if dt == tensor.Float32 {
				f := make([]float32, len(vals[i]))
				for j, v := range vals[i] {
					f[j] = float32(v)
				}
				back = f
			}
			nodes = append(nodes, G.NewTensor(g, dt, len(s.shape), G.WithShape(s.shape...), G.WithName(s.name),
				G.WithValue(tensor.New(tensor.WithShape(s.shape...), tensor.WithBacking(back)))))
		}
		z, err := smallNet(nodes[0], nodes[1], nodes[2], nodes[3], nodes[4], nodes[5], nodes[6])
		if err != nil {
			t.Fatal(err)
		}
		l, err := SoftmaxCrossEntropy(z, nodes[7])
		if err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return valuesOf(t, z), valuesOf(t, l)
	}
	z64, l64 := forward(tensor.Float64)
	z32, l32 := forward(tensor.Float32)
	for i := range z64 {
		if math.Abs(z64[i]-z32[i]) > 1e-5*(1+math.Abs(z64[i])) {
			t.Errorf("logit %d: float32 %.8g, float64 %.8g", i, z32[i], z64[i])
		}
	}
	if math.Abs(l64[0]-l32[0]) > 1e-5*(1+math.Abs(l64[0])) {
		t.Errorf("loss: float32 %.8g, float64 %.8g", l32[0], l64[0])
	}
}

// TestGradDoubleBackprop checks the case that G.Grad gets wrong: a second
// gradient through nodes that a first gradient already differentiated.
func TestGradDoubleBackprop(t *testing.T) {
	x0, w0, v := []float64{0.3, -0.7}, []float64{0.5, -0.2, 0.4, 0.9}, []float64{1.1, 0.6}
	// gw returns ∂x and ∂/∂w ⟨∂f/∂x, v⟩ for f = Σ tanh(x·w)².
	type gradFunc func(cost *G.Node, wrt ...*G.Node) (G.Nodes, error)
	eval := func(grad gradFunc, w []float64) (gx, gw []float64) {
		g := G.NewGraph()
		x := newNode(g, "x", tensor.Shape{1, 2}, append([]float64(nil), x0...))
		wn := newNode(g, "w", tensor.Shape{2, 2}, append([]float64(nil), w...))
		vn := newNode(g, "v", tensor.Shape{1, 2}, append([]float64(nil), v...))
		h := G.Must(G.Tanh(G.Must(G.Mul(x, wn))))
		f := G.Must(G.Sum(G.Must(G.Square(h))))
		d, err := grad(f, x)
		if err != nil {
			t.Fatal(err)
		}
		s, err := dot(d[0], vn)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := grad(s, wn)
		if err != nil {
			t.Fatal(err)
		}
		m := G.NewTapeMachine(g)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return valuesOf(t, d[0]), valuesOf(t, d2[0])
	}
	_, got := eval(Grad, w0)
	_, gorgonia := eval(G.Grad, w0)
	differs := false
	for i := range w0 {
		wp, wm := append([]float64(nil), w0...), append([]float64(nil), w0...)
		wp[i] += fdStep
		wm[i] -= fdStep
		gp, _ := eval(Grad, wp)
		gm, _ := eval(Grad, wm)
		var fd float64
		for j := range gp {
			fd += (gp[j] - gm[j]) / (2 * fdStep) * v[j]
		}
		if !near(got[i], fd, fdTol) {
			t.Errorf("w[%d]: Grad %.10g, finite difference %.10g", i, got[i], fd)
		}
		differs = differs || !near(gorgonia[i], fd, fdTol)
	}
	if !differs {
		t.Log("G.Grad now gets the double backprop right; Grad's workaround may be dropped")
	}
}

func TestGradWithRespectToIntermediateNode(t *testing.T) {
	g := G.NewGraph()
	x := newNode(g, "x", tensor.Shape{2, 3}, []float64{1, -2, 3, 0.5, 0.1, -1})
	h, err := Affine(x, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	y, err := UnitL2(h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dot(y, h)
	if err != nil {
		t.Fatal(err)
	}
	// c = Σ_i ‖h_i‖, so ∂c/∂h = h_i/‖h_i‖ and ∂c/∂x = 2·that.
	gs, err := Grad(c, h, x)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	// h's own value is not read: the tape machine may reuse its buffer
	xv, gh, gx := []float64{1, -2, 3, 0.5, 0.1, -1}, valuesOf(t, gs[0]), valuesOf(t, gs[1])
	for i := 0; i < 2; i++ {
		row := xv[i*3 : (i+1)*3]
		norm := math.Sqrt(row[0]*row[0] + row[1]*row[1] + row[2]*row[2])
		for j, v := range row {
			if want := v / norm; !near(gh[i*3+j], want, 1e-9) || !near(gx[i*3+j], 2*want, 1e-9) {
				t.Errorf("[%d,%d]: ∂c/∂h %.10g, ∂c/∂x %.10g, want %.10g and twice that", i, j, gh[i*3+j], gx[i*3+j], want)
			}
		}
	}
}

func TestGradErrors(t *testing.T) {
	g := G.NewGraph()
	x := newNode(g, "x", tensor.Shape{2, 2}, []float64{1, -2, 3, 4})
	k := newNode(g, "k", tensor.Shape{2, 2}, []float64{1, -2, 3, 4})
	y, err := Mask(k, x)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Mean(y)
	if err != nil {
		t.Fatal(err)
	}
	other := newNode(G.NewGraph(), "z", tensor.Shape{2}, []float64{1, 2})
	for _, tc := range []struct {
		name string
		cost *G.Node
		wrt  []*G.Node
		is   error
	}{
		{"non-scalar cost", y, []*G.Node{x}, nil},
		{"key gets no gradient", c, []*G.Node{k}, ErrNoPath},
		{"other graph", c, []*G.Node{other}, nil},
		{"nil cost", nil, []*G.Node{x}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Grad(tc.cost, tc.wrt...)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want %v", err, tc.is)
			}
		})
	}
}

// TestGorgoniaGradFirstOrder checks that the ops also serve G.Grad for a
// single first-order gradient (its one correct use), including the nil
// SymDiff entries for keys, which G.Grad accepts when DiffWRT is false.
func TestGorgoniaGradFirstOrder(t *testing.T) {
	specs := smallNetInputs(true)
	vals := draw(specs, 12)
	grads := func(grad func(cost *G.Node, wrt ...*G.Node) (G.Nodes, error)) [][]float64 {
		return evalNodes(t, specs, vals, func(n []*G.Node) (G.Nodes, error) {
			l, err := smallNetLoss(n)
			if err != nil {
				return nil, err
			}
			return grad(l, n[:7]...)
		})
	}
	ours, theirs := grads(Grad), grads(G.Grad)
	for i := range ours {
		for j := range ours[i] {
			if !near(ours[i][j], theirs[i][j], 1e-12) {
				t.Fatalf("input %d element %d: Grad %g, G.Grad %g", i, j, ours[i][j], theirs[i][j])
			}
		}
	}
	g := G.NewGraph()
	k := newNode(g, "k", tensor.Shape{2}, []float64{1, -1})
	h := newNode(g, "h", tensor.Shape{2}, []float64{3, 4})
	y, err := Mask(k, h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Mean(y)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(c, k); err == nil {
		t.Error("G.Grad differentiated with respect to a mask's key")
	}
}

// TestGradBuildsOnlyNeeded checks that asking for the gradient of the input
// alone builds fewer nodes than asking for the parameter's too: the tape
// machine runs every node, so an unwanted parameter gradient (a full-size
// reduction for a bias, say) would cost every attack step.
func TestGradBuildsOnlyNeeded(t *testing.T) {
	xs, cs := tensor.Shape{2, 3, 2, 2}, tensor.Shape{3}
	cases := []struct {
		name  string
		p     tensor.Shape
		build func(x, p *G.Node) (*G.Node, error)
	}{
		{"add channel bias", cs, AddChannelBias},
		{"channel scale", cs, ChannelScale},
		{"channel affine", cs, func(x, p *G.Node) (*G.Node, error) { return chanAffine(x, p, p) }},
		{"channel dot", xs, func(x, p *G.Node) (*G.Node, error) { return chanDot(x, p, 2) }},
		{"mul", xs, mul},
		{"sub", xs, sub},
	}
	count := func(t *testing.T, build func(x, p *G.Node) (*G.Node, error), pShape tensor.Shape, both bool) int {
		t.Helper()
		g := G.NewGraph()
		x := newNode(g, "x", xs, make([]float64, xs.TotalSize()))
		p := newNode(g, "p", pShape, make([]float64, pShape.TotalSize()))
		y, err := build(x, p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Mean(y)
		if err != nil {
			t.Fatal(err)
		}
		wrt := G.Nodes{x}
		if both {
			wrt = append(wrt, p)
		}
		if _, err := Grad(c, wrt...); err != nil {
			t.Fatal(err)
		}
		return len(g.AllNodes())
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if only, both := count(t, c.build, c.p, false), count(t, c.build, c.p, true); only >= both {
				t.Errorf("gradient of x alone built %d nodes, of x and the parameter %d", only, both)
			}
		})
	}
}
