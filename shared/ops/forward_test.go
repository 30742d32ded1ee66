package ops

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"sgn/shared/kernels"
)

// forwardCase compares an op's value with a direct reference computation.
type forwardCase struct {
	name   string
	inputs []input
	build  func(n []*G.Node) (*G.Node, error)
	ref    func(v [][]float64) []float64
}

// evalNodes builds a graph over the inputs' values and returns the values
// of the built nodes, read with G.Read so that no later op can overwrite them.
func evalNodes(t *testing.T, specs []input, vals [][]float64, build func(n []*G.Node) (G.Nodes, error)) [][]float64 {
	t.Helper()
	g := G.NewGraph()
	var nodes []*G.Node
	for i, s := range specs {
		nodes = append(nodes, newNode(g, s.name, s.shape, vals[i]))
	}
	outs, err := build(nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	read := make([]G.Value, len(outs))
	for i, o := range outs {
		G.Read(o, &read[i])
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	res := make([][]float64, len(outs))
	for i := range outs {
		res[i] = floatsOf(t, read[i])
	}
	return res
}

func draw(specs []input, seed uint64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 11))
	vals := make([][]float64, len(specs))
	for i, s := range specs {
		vals[i] = s.gen(r, s.shape.TotalSize())
	}
	return vals
}

func refConv(x, w []float64, xs, ws tensor.Shape, stride, pad int) []float64 {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	o, kh, kw := ws[0], ws[2], ws[3]
	ho, wo := (h+2*pad-kh)/stride+1, (wd+2*pad-kw)/stride+1
	y := make([]float64, n*o*ho*wo)
	for b := 0; b < n; b++ {
		for f := 0; f < o; f++ {
			for i := 0; i < ho; i++ {
				for j := 0; j < wo; j++ {
					var s float64
					for ch := 0; ch < c; ch++ {
						for a := 0; a < kh; a++ {
							for e := 0; e < kw; e++ {
								ii, jj := i*stride-pad+a, j*stride-pad+e
								if ii >= 0 && ii < h && jj >= 0 && jj < wd {
									s += x[((b*c+ch)*h+ii)*wd+jj] * w[((f*c+ch)*kh+a)*kw+e]
								}
							}
						}
					}
					y[((b*o+f)*ho+i)*wo+j] = s
				}
			}
		}
	}
	return y
}

// refPool applies f to each window of each plane.
func refPool(x []float64, s tensor.Shape, k, stride int, f func([]float64) float64) []float64 {
	ho, wo := (s[2]-k)/stride+1, (s[3]-k)/stride+1
	var y []float64
	for p := 0; p < s[0]*s[1]; p++ {
		for i := 0; i < ho; i++ {
			for j := 0; j < wo; j++ {
				var win []float64
				for a := 0; a < k; a++ {
					for b := 0; b < k; b++ {
						win = append(win, x[(p*s[2]+i*stride+a)*s[3]+j*stride+b])
					}
				}
				y = append(y, f(win))
			}
		}
	}
	return y
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func meanOf(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func refSoftmaxRow(z []float64) []float64 {
	m := maxOf(z)
	var s float64
	for _, v := range z {
		s += math.Exp(v - m)
	}
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = math.Exp(v-m) / s
	}
	return out
}

// rows applies f to each row of a matrix with k columns.
func rows(v []float64, k int, f func(row []float64, i int) []float64) []float64 {
	var out []float64
	for i := 0; i < len(v)/k; i++ {
		out = append(out, f(v[i*k:(i+1)*k], i)...)
	}
	return out
}

func refChannelStats(x []float64, s tensor.Shape) (mean, variance []float64) {
	c := s[1]
	inner := s.TotalSize() / (s[0] * c)
	mean, variance = make([]float64, c), make([]float64, c)
	m := float64(s[0] * inner)
	for b := 0; b < s[0]; b++ {
		for ch := 0; ch < c; ch++ {
			for _, v := range x[(b*c+ch)*inner : (b*c+ch+1)*inner] {
				mean[ch] += v / m
			}
		}
	}
	for b := 0; b < s[0]; b++ {
		for ch := 0; ch < c; ch++ {
			for _, v := range x[(b*c+ch)*inner : (b*c+ch+1)*inner] {
				variance[ch] += (v - mean[ch]) * (v - mean[ch]) / m
			}
		}
	}
	return mean, variance
}

func refChannelAffine(x []float64, s tensor.Shape, scale, shift func(ch int, v float64) float64) []float64 {
	c := s[1]
	inner := s.TotalSize() / (s[0] * c)
	out := make([]float64, len(x))
	for i, v := range x {
		ch := (i / inner) % c
		out[i] = scale(ch, v) + shift(ch, v)
	}
	return out
}

// refReLU is max(v, 0) elementwise.
func refReLU(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Max(v, 0)
	}
	return out
}

func TestForwardValues(t *testing.T) {
	xs, ws := tensor.Shape{2, 2, 5, 5}, tensor.Shape{3, 2, 3, 3}
	convCase := func(stride, pad int) forwardCase {
		return forwardCase{
			name:   "conv stride and pad",
			inputs: []input{in("x", normal, false, xs...), in("w", normal, false, ws...)},
			build:  func(n []*G.Node) (*G.Node, error) { return Conv2d(n[0], n[1], stride, pad) },
			ref:    func(v [][]float64) []float64 { return refConv(v[0], v[1], xs, ws, stride, pad) },
		}
	}
	ps := tensor.Shape{2, 3, 5, 5}
	bnShape := tensor.Shape{3, 2, 2, 2}
	big := tensor.Shape{2, 3, 120, 120}
	cases := []forwardCase{
		convCase(1, 0), convCase(2, 1), convCase(1, 2), convCase(3, 0),
		// A kernel wider than the padded input's overlap: some kernel
		// columns never meet the input (im2col's column range is empty).
		{name: "conv narrow input", inputs: []input{in("x", normal, false, 1, 1, 3, 1), in("w", normal, false, 2, 1, 5, 5)},
			build: func(n []*G.Node) (*G.Node, error) { return Conv2d(n[0], n[1], 1, 2) },
			ref: func(v [][]float64) []float64 {
				return refConv(v[0], v[1], tensor.Shape{1, 1, 3, 1}, tensor.Shape{2, 1, 5, 5}, 1, 2)
			}},
		{name: "conv 1x1", inputs: []input{in("x", normal, false, 2, 3, 2, 2), in("w", normal, false, 4, 3, 1, 1)},
			build: func(n []*G.Node) (*G.Node, error) { return Conv2d(n[0], n[1], 1, 0) },
			ref: func(v [][]float64) []float64 {
				return refConv(v[0], v[1], tensor.Shape{2, 3, 2, 2}, tensor.Shape{4, 3, 1, 1}, 1, 0)
			}},
		{name: "relu", inputs: []input{in("x", normal, false, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return ReLU(n[0]) },
			ref:   func(v [][]float64) []float64 { return refReLU(v[0]) }},
		{name: "relu and channel bias, large enough to split", inputs: []input{in("x", normal, false, big...), in("b", normal, false, 3)},
			build: func(n []*G.Node) (*G.Node, error) {
				y, err := ReLU(n[0])
				if err != nil {
					return nil, err
				}
				return AddChannelBias(y, n[1])
			},
			ref: func(v [][]float64) []float64 {
				return refChannelAffine(v[0], big,
					func(_ int, x float64) float64 { return math.Max(x, 0) },
					func(c int, _ float64) float64 { return v[1][c] })
			}},
		{name: "maxpool 3 stride 2", inputs: []input{in("x", normal, false, ps...)},
			build: func(n []*G.Node) (*G.Node, error) { return MaxPool2d(n[0], 3, 2) },
			ref:   func(v [][]float64) []float64 { return refPool(v[0], ps, 3, 2, maxOf) }},
		{name: "maxpool 2 stride 2", inputs: []input{in("x", normal, false, ps...)},
			build: func(n []*G.Node) (*G.Node, error) { return MaxPool2d(n[0], 2, 2) },
			ref:   func(v [][]float64) []float64 { return refPool(v[0], ps, 2, 2, maxOf) }},
		{name: "avgpool 2 stride 1", inputs: []input{in("x", normal, false, ps...)},
			build: func(n []*G.Node) (*G.Node, error) { return AvgPool2d(n[0], 2, 1) },
			ref:   func(v [][]float64) []float64 { return refPool(v[0], ps, 2, 1, meanOf) }},
		{name: "global avgpool", inputs: []input{in("x", normal, false, ps...)},
			build: func(n []*G.Node) (*G.Node, error) { return GlobalAvgPool(n[0]) },
			ref:   func(v [][]float64) []float64 { return refPool(v[0], ps, 5, 1, meanOf) }},
		{name: "linear", inputs: []input{in("x", normal, false, 2, 3), in("w", normal, false, 3, 2), in("b", normal, false, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return Linear(n[0], n[1], n[2]) },
			ref: func(v [][]float64) []float64 {
				x, w, b := v[0], v[1], v[2]
				out := make([]float64, 4)
				for i := 0; i < 2; i++ {
					for j := 0; j < 2; j++ {
						out[i*2+j] = b[j] + x[i*3]*w[j] + x[i*3+1]*w[2+j] + x[i*3+2]*w[4+j]
					}
				}
				return out
			}},
		{name: "channel mean", inputs: []input{in("x", normal, false, bnShape...)},
			build: func(n []*G.Node) (*G.Node, error) { return ChannelMean(n[0]) },
			ref:   func(v [][]float64) []float64 { m, _ := refChannelStats(v[0], bnShape); return m }},
		{name: "batch norm train", inputs: []input{in("x", normal, false, bnShape...), in("gamma", positive, false, 2), in("beta", normal, false, 2)},
			build: func(n []*G.Node) (*G.Node, error) {
				y, _, _, err := BatchNormTrain(n[0], n[1], n[2], 1e-3)
				return y, err
			},
			ref: func(v [][]float64) []float64 {
				m, va := refChannelStats(v[0], bnShape)
				return refChannelAffine(v[0], bnShape,
					func(c int, x float64) float64 { return (x - m[c]) / math.Sqrt(va[c]+1e-3) * v[1][c] },
					func(c int, _ float64) float64 { return v[2][c] })
			}},
		{name: "batch norm eval", inputs: []input{in("x", normal, false, bnShape...), in("gamma", positive, false, 2), in("beta", normal, false, 2),
			in("mean", normal, false, 2), in("var", positive, false, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return BatchNormEval(n[0], n[1], n[2], n[3], n[4], 1e-3) },
			ref: func(v [][]float64) []float64 {
				return refChannelAffine(v[0], bnShape,
					func(c int, x float64) float64 { return (x - v[3][c]) / math.Sqrt(v[4][c]+1e-3) * v[1][c] },
					func(c int, _ float64) float64 { return v[2][c] })
			}},
		{name: "batch norm relu train", inputs: []input{in("x", normal, false, bnShape...), in("gamma", positive, false, 2), in("beta", normal, false, 2)},
			build: func(n []*G.Node) (*G.Node, error) {
				y, _, _, err := BatchNormReLUTrain(n[0], n[1], n[2], 1e-3)
				return y, err
			},
			ref: func(v [][]float64) []float64 {
				m, va := refChannelStats(v[0], bnShape)
				return refReLU(refChannelAffine(v[0], bnShape,
					func(c int, x float64) float64 { return (x - m[c]) / math.Sqrt(va[c]+1e-3) * v[1][c] },
					func(c int, _ float64) float64 { return v[2][c] }))
			}},
		{name: "batch norm relu eval", inputs: []input{in("x", normal, false, bnShape...), in("gamma", positive, false, 2), in("beta", normal, false, 2),
			in("mean", normal, false, 2), in("var", positive, false, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return BatchNormReLUEval(n[0], n[1], n[2], n[3], n[4], 1e-3) },
			ref: func(v [][]float64) []float64 {
				return refReLU(refChannelAffine(v[0], bnShape,
					func(c int, x float64) float64 { return (x - v[3][c]) / math.Sqrt(v[4][c]+1e-3) * v[1][c] },
					func(c int, _ float64) float64 { return v[2][c] }))
			}},
		{name: "softmax of large logits", inputs: []input{in("z", func(r *rand.Rand, n int) []float64 {
			v := normal(r, n)
			for i := range v {
				v[i] = 800 + 50*v[i]
			}
			return v
		}, false, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return Softmax(n[0]) },
			ref: func(v [][]float64) []float64 {
				return rows(v[0], 4, func(r []float64, _ int) []float64 { return refSoftmaxRow(r) })
			}},
		{name: "cross entropy per example", inputs: []input{in("z", normal, false, 3, 4), in("y", oneHot(4), false, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return SoftmaxCrossEntropyPerExample(n[0], n[1]) },
			ref: func(v [][]float64) []float64 {
				return rows(v[0], 4, func(r []float64, i int) []float64 {
					p := refSoftmaxRow(r)
					var l float64
					for j := range p {
						l -= v[1][i*4+j] * math.Log(p[j])
					}
					return []float64{l}
				})
			}},
		{name: "margin loss kappa 0.3", inputs: []input{in("z", normal, false, 5, 4), in("y", oneHot(4), false, 5, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return MarginLossPerExample(n[0], n[1], 0.3) },
			ref: func(v [][]float64) []float64 {
				return rows(v[0], 4, func(r []float64, i int) []float64 {
					other, zy := math.Inf(-1), 0.0
					for j, z := range r {
						if v[1][i*4+j] == 1 {
							zy = z
						} else {
							other = math.Max(other, z)
						}
					}
					return []float64{math.Max(other-zy, -0.3)}
				})
			}},
		{name: "unit l2 with a zero example", inputs: []input{in("x", func(r *rand.Rand, n int) []float64 {
			v := normal(r, n)
			clear(v[:4])
			return v
		}, false, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return UnitL2(n[0]) },
			ref: func(v [][]float64) []float64 {
				return rows(v[0], 4, func(r []float64, _ int) []float64 {
					var s float64
					for _, x := range r {
						s += x * x
					}
					out := make([]float64, len(r))
					for j, x := range r {
						out[j] = x / (math.Sqrt(s) + 1e-12)
					}
					return out
				})
			}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals := draw(c.inputs, uint64(ci))
			got := evalNodes(t, c.inputs, vals, func(n []*G.Node) (G.Nodes, error) {
				y, err := c.build(n)
				return G.Nodes{y}, err
			})[0]
			want := c.ref(vals)
			if len(got) != len(want) {
				t.Fatalf("got %d values, want %d", len(got), len(want))
			}
			for i := range want {
				if !near(got[i], want[i], 1e-12) {
					t.Errorf("element %d: got %.15g, want %.15g", i, got[i], want[i])
				}
			}
		})
	}
}

// TestBatchNormStatistics reads the batch mean and variance the way a trainer
// would, with G.Read.
func TestBatchNormStatistics(t *testing.T) {
	specs := []input{in("x", normal, false, 4, 3, 2, 2), in("gamma", positive, false, 3), in("beta", normal, false, 3)}
	vals := draw(specs, 5)
	got := evalNodes(t, specs, vals, func(n []*G.Node) (G.Nodes, error) {
		y, m, v, err := BatchNormTrain(n[0], n[1], n[2], 1e-5)
		return G.Nodes{y, m, v}, err
	})
	m, v := refChannelStats(vals[0], specs[0].shape)
	for c := range m {
		if !near(got[1][c], m[c], 1e-12) || !near(got[2][c], v[c], 1e-12) {
			t.Errorf("channel %d: mean %g variance %g, want %g and %g", c, got[1][c], got[2][c], m[c], v[c])
		}
	}
}

// TestConvAdjoints checks ⟨Conv(x,w), g⟩ = ⟨x, BackData(g,w)⟩ = ⟨w, BackFilter(x,g)⟩.
func TestConvAdjoints(t *testing.T) {
	for _, tc := range []struct {
		x, w        tensor.Shape
		stride, pad int
	}{
		{tensor.Shape{2, 2, 5, 5}, tensor.Shape{3, 2, 3, 3}, 1, 1},
		{tensor.Shape{2, 2, 6, 7}, tensor.Shape{3, 2, 3, 2}, 2, 1},
		{tensor.Shape{3, 1, 7, 7}, tensor.Shape{2, 1, 5, 5}, 3, 2},
		{tensor.Shape{2, 1, 3, 1}, tensor.Shape{2, 1, 5, 5}, 1, 2}, // kernel columns off the input
	} {
		ho, wo := convOut(tc.x[2], tc.w[2], tc.stride, tc.pad), convOut(tc.x[3], tc.w[3], tc.stride, tc.pad)
		specs := []input{in("x", normal, false, tc.x...), in("w", normal, false, tc.w...), in("g", normal, false, tc.x[0], tc.w[0], ho, wo)}
		vals := draw(specs, 9)
		got := evalNodes(t, specs, vals, func(n []*G.Node) (G.Nodes, error) {
			y, err := Conv2d(n[0], n[1], tc.stride, tc.pad)
			if err != nil {
				return nil, err
			}
			dx, err := convData(n[2], n[1], tc.stride, tc.pad, tc.x)
			if err != nil {
				return nil, err
			}
			dw, err := convFilter(n[0], n[2], tc.stride, tc.pad, tc.w)
			return G.Nodes{y, dx, dw}, err
		})
		inner := func(a, b []float64) (s float64) {
			for i := range a {
				s += a[i] * b[i]
			}
			return s
		}
		a, b, c := inner(got[0], vals[2]), inner(vals[0], got[1]), inner(vals[1], got[2])
		if !near(a, b, 1e-12) || !near(a, c, 1e-12) {
			t.Errorf("%v * %v stride %d pad %d: ⟨y,g⟩ %.15g, ⟨x,dx⟩ %.15g, ⟨w,dw⟩ %.15g", tc.x, tc.w, tc.stride, tc.pad, a, b, c)
		}
	}
}

func TestMatMulForward(t *testing.T) {
	specs := []input{in("a", normal, false, 3, 4), in("b", normal, false, 4, 2), in("at", normal, false, 4, 3), in("bt", normal, false, 2, 4)}
	vals := draw(specs, 3)
	// at and bt hold the transposes of a and b
	for i := 0; i < 3; i++ {
		for p := 0; p < 4; p++ {
			vals[2][p*3+i] = vals[0][i*4+p]
		}
	}
	for p := 0; p < 4; p++ {
		for j := 0; j < 2; j++ {
			vals[3][j*4+p] = vals[1][p*2+j]
		}
	}
	got := evalNodes(t, specs, vals, func(n []*G.Node) (G.Nodes, error) {
		var outs G.Nodes
		for _, c := range []struct {
			a, b   *G.Node
			ta, tb bool
		}{{n[0], n[1], false, false}, {n[2], n[1], true, false}, {n[0], n[3], false, true}, {n[2], n[3], true, true}} {
			y, err := MatMul(c.a, c.b, c.ta, c.tb)
			if err != nil {
				return nil, err
			}
			outs = append(outs, y)
		}
		return outs, nil
	})
	for i := 0; i < 3; i++ {
		for j := 0; j < 2; j++ {
			var want float64
			for p := 0; p < 4; p++ {
				want += vals[0][i*4+p] * vals[1][p*2+j]
			}
			for v, out := range got {
				if !near(out[i*2+j], want, 1e-12) {
					t.Errorf("variant %d [%d,%d]: %g, want %g", v, i, j, out[i*2+j], want)
				}
			}
		}
	}
}

// TestFloat32Kernels compares the float32 GEMM path with float64 on shapes
// large enough to use full micro-tiles, edge tiles and several k blocks.
func TestFloat32Kernels(t *testing.T) {
	xs, ws := tensor.Shape{2, 16, 10, 10}, tensor.Shape{20, 16, 5, 5}
	gs := tensor.Shape{2, 20, 5, 5} // stride 2, pad 2
	specs := []input{in("x", normal, false, xs...), in("w", normal, false, ws...), in("g", normal, false, gs...),
		in("a", normal, false, 70, 300), in("b", normal, false, 300, 90)}
	vals := draw(specs, 4)
	build := func(n []*G.Node) (G.Nodes, error) {
		y, err := Conv2d(n[0], n[1], 2, 2)
		if err != nil {
			return nil, err
		}
		dx, err := convData(n[2], n[1], 2, 2, xs)
		if err != nil {
			return nil, err
		}
		dw, err := convFilter(n[0], n[2], 2, 2, ws)
		if err != nil {
			return nil, err
		}
		ab, err := MatMul(n[3], n[4], false, false)
		if err != nil {
			return nil, err
		}
		abt, err := MatMul(n[4], n[3], true, true)
		return G.Nodes{y, dx, dw, ab, abt}, err
	}
	want := evalNodes(t, specs, vals, build)
	// the same in float32
	g := G.NewGraph()
	var nodes []*G.Node
	for i, s := range specs {
		f := make([]float32, len(vals[i]))
		for j, v := range vals[i] {
			f[j] = float32(v)
		}
		nodes = append(nodes, G.NewTensor(g, G.Float32, len(s.shape), G.WithShape(s.shape...), G.WithName(s.name),
			G.WithValue(tensor.New(tensor.WithShape(s.shape...), tensor.WithBacking(f)))))
	}
	outs, err := build(nodes)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	for o, out := range outs {
		got := valuesOf(t, out)
		for i := range want[o] {
			if math.Abs(got[i]-want[o][i]) > 1e-5*(1+math.Abs(want[o][i]))*20 {
				t.Fatalf("output %d element %d: float32 %g, float64 %g", o, i, got[i], want[o][i])
			}
		}
	}
}

// TestPool2x2Planes checks the vector paths of 2x2 stride-2 max pooling
// (selectPlane2x2, scatterPlane2x2) against the argmax and its gather and
// scatter, bit for bit, on planes whose rows hold 8 or more windows, fewer
// (the spill into the next rows), an odd row or column no window covers,
// and keys with ties and NaNs; nothing outside the plane is written.
func TestPool2x2Planes(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, s := range [][2]int{{28, 28}, {14, 14}, {16, 16}, {7, 7}, {15, 15}, {14, 15}, {15, 14}, {2, 16}, {6, 8}, {4, 14}, {30, 30}, {18, 18}, {12, 40}} {
		h, w := s[0], s[1]
		g, err := (poolParams{kh: 2, kw: 2, sh: 2, sw: 2}).geom("test", tensor.Shape{1, 1, h, w})
		if err != nil {
			t.Fatal(err)
		}
		plane, pooled := h*w, g.ho*g.wo
		for trial := range 4 {
			key, val, gr := make([]float32, plane), make([]float32, plane), make([]float32, pooled)
			for i := range key {
				key[i], val[i] = float32(rng.IntN(4)), float32(rng.NormFloat64())
				if trial >= 2 && rng.IntN(10) == 0 {
					key[i] = float32(math.NaN())
				}
			}
			for i := range gr {
				gr[i] = float32(rng.NormFloat64())
			}
			at := make([]int32, pooled)
			argmaxPlane(g, key, at) // Argmax4's choice, NaNs included
			wantSel, wantSc := make([]float32, pooled), make([]float32, plane)
			for o, i := range at {
				wantSel[o] = val[i]
				wantSc[i] = gr[o]
			}
			const guard = 40
			sel, sc := make([]float32, pooled+guard), make([]float32, plane+guard)
			for _, d := range [][]float32{sel, sc} {
				for i := range d {
					d[i] = 99
				}
			}
			okSel := selectPlane2x2(g, key, val, sel[:pooled])
			okSc := scatterPlane2x2(g, key, gr, sc[:plane])
			if okSel != kernels.Fast() || okSc != kernels.Fast() {
				t.Fatalf("%dx%d: vector paths taken %v %v, want %v", h, w, okSel, okSc, kernels.Fast())
			}
			if !okSel {
				continue
			}
			same := func(a, b []float32) bool {
				return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
			}
			if !same(sel[:pooled], wantSel) {
				t.Errorf("%dx%d trial %d: select %v, want %v", h, w, trial, sel[:pooled], wantSel)
			}
			if !same(sc[:plane], wantSc) {
				t.Errorf("%dx%d trial %d: scatter %v, want %v", h, w, trial, sc[:plane], wantSc)
			}
			for i := range guard {
				if sel[pooled+i] != 99 || sc[plane+i] != 99 {
					t.Fatalf("%dx%d trial %d: written past the plane", h, w, trial)
				}
			}
		}
	}
}
