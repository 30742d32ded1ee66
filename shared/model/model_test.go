package model_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"sgn/shared/engine"
	"sgn/shared/gradcheck"
	"sgn/shared/model"
	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

const classes = 5

// newNet returns a network of arch at the given input shape, with every
// parameter and buffer drawn from rng: weights as New draws them, biases,
// batch-norm parameters and running statistics away from their trivial
// initial values so that the checks see every term.
func newNet(t *testing.T, arch string, shape []int, rng *rand.Rand) *model.Net {
	t.Helper()
	c := shape[0]
	cfg := model.Config{Arch: arch, InShape: shape, Classes: classes, Mean: make([]float32, c), Std: make([]float32, c)}
	for i := range c {
		cfg.Mean[i], cfg.Std[i] = 0.4+0.1*float32(i), 0.3-0.05*float32(i)
	}
	net, err := model.New(cfg, rng)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, p := range net.Params {
		for i := range p.Data {
			switch {
			case strings.HasSuffix(p.Name, ".b"), strings.HasSuffix(p.Name, ".beta"):
				p.Data[i] = float32(0.05 * rng.NormFloat64())
			case strings.HasSuffix(p.Name, ".gamma"):
				p.Data[i] = float32(0.8 + 0.4*rng.Float64())
			case strings.HasSuffix(p.Name, ".running_mean"):
				p.Data[i] = float32(0.1 * rng.NormFloat64())
			case strings.HasSuffix(p.Name, ".running_var"):
				p.Data[i] = float32(0.5 + rng.Float64())
			}
		}
	}
	return net
}

// newCostGraph returns a float64 graph of a scalar cost of a network on a
// fixed batch: the mean cross-entropy L (order 1) or ‖∂L/∂x‖² (order 2, a
// double backprop through the whole network), with, if asked, its
// gradients with respect to the input and some parameters.
func newCostGraph(t *testing.T, net *model.Net, x []float64, labels []int64, train bool, order int, wrt []string) *gradcheck.Graph {
	t.Helper()
	return gradcheck.NewGraph(t, net, x, labels, func(b *model.Bound, xn, yn *G.Node) (*G.Node, error) {
		logits, _, err := b.Forward(xn, train, nil)
		if err != nil {
			return nil, fmt.Errorf("Forward: %w", err)
		}
		cost, err := ops.SoftmaxCrossEntropy(logits, yn)
		if err != nil || order != 2 {
			return cost, err
		}
		gx, err := ops.Grad(cost, xn)
		if err != nil {
			return nil, fmt.Errorf("input gradient: %w", err)
		}
		return G.Sum(G.Must(G.HadamardProd(gx[0], gx[0])))
	}, wrt)
}

type gradCase struct {
	arch    string
	shape   []int
	batch   int
	train   bool
	order   int
	tensors int // parameter tensors checked, evenly spaced (0: all)
	entries int // entries checked per tensor
	tol     float64
}

func (c gradCase) name() string {
	mode := "eval"
	if c.train {
		mode = "train"
	}
	return fmt.Sprintf("%s/%s/order%d", c.arch, mode, c.order)
}

// TestGradients checks, for every architecture, the gradient of a
// cross-entropy loss with respect to the input and to a sample of parameter
// entries (order 1), and the gradient with respect to parameters of the
// squared norm of the input gradient (order 2, double backprop), against
// central finite differences in float64.
func TestGradients(t *testing.T) {
	mlp := []int{1, 4, 4}
	mnist := []int{1, 8, 8}
	cifar := []int{3, 8, 8}
	// preact-resnet18 is checked on few entries, and at order 2 in training
	// mode only (eval-mode batch norm is checked at order 2 in cifar-cnn):
	// each of its float64 graphs takes seconds to build and run.
	cases := []gradCase{
		{arch: "mlp", shape: mlp, batch: 2, order: 1, entries: 4, tol: 1e-6},
		{arch: "mlp", shape: mlp, batch: 2, order: 2, entries: 4, tol: 1e-6},
		{arch: "madry-mnist", shape: mnist, batch: 2, order: 1, entries: 4, tol: 1e-6},
		{arch: "madry-mnist", shape: mnist, batch: 2, order: 2, entries: 4, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, order: 1, entries: 3, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, order: 2, entries: 3, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, train: true, order: 1, entries: 3, tol: 1e-6},
		{arch: "cifar-cnn", shape: cifar, batch: 2, train: true, order: 2, entries: 3, tol: 1e-6},
		{arch: "preact-resnet18", shape: cifar, batch: 3, order: 1, tensors: 6, entries: 1, tol: 1e-6},
		{arch: "preact-resnet18", shape: cifar, batch: 3, train: true, order: 1, tensors: 6, entries: 1, tol: 1e-6},
		{arch: "preact-resnet18", shape: cifar, batch: 3, train: true, order: 2, tensors: 3, entries: 1, tol: 1e-6},
	}
	for ci, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci)+1, 11))
			net := newNet(t, c.arch, c.shape, rng)
			x := make([]float64, c.batch*c.shape[0]*c.shape[1]*c.shape[2])
			for i := range x {
				x[i] = rng.Float64()
			}
			labels := make([]int64, c.batch)
			for i := range labels {
				labels[i] = int64(rng.IntN(classes))
			}
			var names []string
			params := net.Trainable()
			step := 1
			if c.tensors > 0 {
				step = max(1, len(params)/c.tensors)
			}
			for i := 0; i < len(params); i += step {
				names = append(names, params[i].Name)
			}
			if last := params[len(params)-1].Name; names[len(names)-1] != last {
				names = append(names, last)
			}
			names = append(names, "input")
			analytic := newCostGraph(t, net, x, labels, c.train, c.order, names)
			analytic.Run(t)
			probe := newCostGraph(t, net, x, labels, c.train, c.order, nil)
			eval := func() float64 { return probe.Run(t) }
			cost0 := eval()
			var res gradcheck.Result
			for _, name := range names {
				g := analytic.Grad(name)
				gradcheck.Check(t, gradcheck.New(c.tol), name, probe.Values(name), gradcheck.Sample(g, c.entries, rng), g, eval, cost0, &res)
			}
			if res.Kinks*5 > res.Entries {
				t.Errorf("%d of %d entries near a kink: the check checks too little", res.Kinks, res.Entries)
			}
			t.Logf("%d tensors, %d entries (%d extrapolated, %d skipped at kinks), max relative error %.2g",
				len(names), res.Entries, res.Extrapolated, res.Kinks, res.MaxRel)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func(arch string, shape ...int) model.Config {
		c := model.Config{Arch: arch, InShape: shape, Classes: 10}
		for range shape[0] {
			c.Mean = append(c.Mean, 0.5)
			c.Std = append(c.Std, 0.25)
		}
		return c
	}
	with := func(c model.Config, f func(*model.Config)) model.Config {
		c.InShape, c.Mean, c.Std = slices.Clone(c.InShape), slices.Clone(c.Mean), slices.Clone(c.Std)
		f(&c)
		return c
	}
	mlp := valid("mlp", 1, 4, 4)
	for _, tc := range []struct {
		name string
		cfg  model.Config
		ok   bool
	}{
		{"mlp", mlp, true},
		{"mlp odd size", valid("mlp", 2, 3, 5), true},
		{"madry-mnist", valid("madry-mnist", 1, 28, 28), true},
		{"cifar-cnn", valid("cifar-cnn", 3, 32, 32), true},
		{"preact-resnet18", valid("preact-resnet18", 3, 8, 8), true},
		{"unknown arch", with(mlp, func(c *model.Config) { c.Arch = "resnet50" }), false},
		{"empty arch", with(mlp, func(c *model.Config) { c.Arch = "" }), false},
		{"two-dim shape", with(mlp, func(c *model.Config) { c.InShape = []int{4, 4} }), false},
		{"zero channels", with(mlp, func(c *model.Config) { c.InShape[0] = 0 }), false},
		{"negative width", with(mlp, func(c *model.Config) { c.InShape[2] = -4 }), false},
		{"one class", with(mlp, func(c *model.Config) { c.Classes = 1 }), false},
		{"too many classes", with(mlp, func(c *model.Config) { c.Classes = 100001 }), false},
		{"missing mean", with(mlp, func(c *model.Config) { c.Mean = nil }), false},
		{"extra std", with(mlp, func(c *model.Config) { c.Std = append(c.Std, 1) }), false},
		{"zero std", with(mlp, func(c *model.Config) { c.Std[0] = 0 }), false},
		{"negative std", with(mlp, func(c *model.Config) { c.Std[0] = -1 }), false},
		{"NaN std", with(mlp, func(c *model.Config) { c.Std[0] = float32(math.NaN()) }), false},
		{"madry-mnist not multiple of 4", valid("madry-mnist", 1, 30, 28), false},
		{"madry-mnist too small", valid("madry-mnist", 1, 2, 2), false},
		{"cifar-cnn not multiple of 8", valid("cifar-cnn", 3, 12, 16), false},
		{"preact-resnet18 too small", valid("preact-resnet18", 3, 4, 4), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", tc.cfg, err, tc.ok)
			}
			_, err = model.New(tc.cfg, rand.New(rand.NewPCG(1, 2)))
			if (err == nil) != tc.ok {
				t.Errorf("New: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestForwardRejectsBadInput checks that a wrong input shape is an error,
// not a panic, and that a failing tap's error reaches the caller.
func TestForwardRejectsBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		arch  string
		shape []int
		bad   [][]int
	}{
		{"mlp", []int{1, 4, 4}, [][]int{{2, 1, 4, 5}, {2, 3, 4, 4}, {2, 16}, {1, 4, 4}, {2, 1, 1, 4, 4}}},
		{"madry-mnist", []int{1, 8, 8}, [][]int{{2, 1, 4, 4}, {2, 1, 8, 12}, {2, 3, 8, 8}}},
		{"cifar-cnn", []int{3, 8, 8}, [][]int{{2, 1, 8, 8}, {2, 3, 16, 16}}},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			net := newNet(t, tc.arch, tc.shape, rng)
			for _, s := range tc.bad {
				g := G.NewGraph()
				b, err := net.Bind(g, tensor.Float32)
				if err != nil {
					t.Fatal(err)
				}
				x := G.NewTensor(g, tensor.Float32, len(s), G.WithShape(s...), G.WithName("x"))
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("input %v: panic %v", s, r)
						}
					}()
					if _, _, err := b.Forward(x, false, nil); err == nil {
						t.Errorf("input %v: no error", s)
					}
				}()
			}
			g := G.NewGraph()
			if _, err := net.Bind(g, tensor.Int); err == nil {
				t.Error("Bind accepted an int dtype")
			}
			b, err := net.Bind(g, tensor.Float32)
			if err != nil {
				t.Fatal(err)
			}
			s := tc.shape
			x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, s[0], s[1], s[2]), G.WithName("x"))
			var visited []string
			if _, _, err := b.Forward(x, false, func(name string, h *G.Node) (*G.Node, error) {
				visited = append(visited, name)
				return h, nil
			}); err != nil {
				t.Fatalf("Forward: %v", err)
			}
			if want := net.Config.Taps(); !slices.Equal(visited, want) {
				t.Errorf("taps visited %v, Config.Taps %v", visited, want)
			}
			last := visited[len(visited)-1]
			_, _, err = b.Forward(x, false, func(name string, h *G.Node) (*G.Node, error) {
				if name == last {
					return nil, fmt.Errorf("refused")
				}
				return h, nil
			})
			if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Errorf("failing tap %s: error %v", last, err)
			}
		})
	}
}

// conv3x3 is an independent 3x3 convolution with padding 1, stride 1 and
// no bias: x [n,c,h,w], w [o,c,3,3] -> [n,o,h,w].
func conv3x3(x []float64, n, c, h, w int, wt []float32, o int) []float64 {
	out := make([]float64, n*o*h*w)
	for b := range n {
		for k := range o {
			for i := range h {
				for j := range w {
					var s float64
					for ch := range c {
						for di := -1; di <= 1; di++ {
							for dj := -1; dj <= 1; dj++ {
								ii, jj := i+di, j+dj
								if ii < 0 || jj < 0 || ii >= h || jj >= w {
									continue
								}
								s += x[((b*c+ch)*h+ii)*w+jj] * float64(wt[((k*c+ch)*3+di+1)*3+dj+1])
							}
						}
					}
					out[((b*o+k)*h+i)*w+j] = s
				}
			}
		}
	}
	return out
}

// TestUpdateRunningStats checks that a training-mode run folds each batch
// norm's batch statistics into its running averages with momentum 0.1 and
// the unbiased variance, against an independent computation of the first
// batch norm's input.
func TestUpdateRunningStats(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []engine.Option
		tol  float64
	}{
		{"float32", nil, 2e-5},
		{"float64", []engine.Option{engine.WithFloat64()}, 1e-6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			const n, c, h, w = 4, 3, 8, 8
			net := newNet(t, "cifar-cnn", []int{c, h, w}, rng)
			x := make([]float32, n*c*h*w)
			for i := range x {
				x[i] = rng.Float32()
			}
			p, err := engine.NewLogits(net, n, append([]engine.Option{engine.WithTrainMode()}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Set("x", x); err != nil {
				t.Fatal(err)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			// bn1's input: conv1 of the normalised image.
			norm := make([]float64, len(x))
			for i, v := range x {
				ch := i / (h * w) % c
				norm[i] = (float64(v) - float64(net.Config.Mean[ch])) / float64(net.Config.Std[ch])
			}
			w1 := net.Param("conv1.w")
			o := w1.Shape[0]
			act := conv3x3(norm, n, c, h, w, w1.Data, o)
			mean, unbiased := make([]float64, o), make([]float64, o)
			count := float64(n * h * w)
			for k := range o {
				var s, ss float64
				for b := range n {
					for _, v := range act[(b*o+k)*h*w : (b*o+k+1)*h*w] {
						s += v
					}
				}
				mean[k] = s / count
				for b := range n {
					for _, v := range act[(b*o+k)*h*w : (b*o+k+1)*h*w] {
						ss += (v - mean[k]) * (v - mean[k])
					}
				}
				unbiased[k] = ss / (count - 1)
			}
			before := map[string][]float32{}
			for _, q := range net.Params {
				if !q.Trainable {
					before[q.Name] = slices.Clone(q.Data)
				}
			}
			rm, rv := net.Param("bn1.running_mean").Data, net.Param("bn1.running_var").Data
			for step := 1; step <= 2; step++ {
				old := [2][]float32{slices.Clone(rm), slices.Clone(rv)}
				if err := p.UpdateRunningStats(); err != nil {
					t.Fatal(err)
				}
				for k := range o {
					wantM := 0.9*float64(old[0][k]) + 0.1*mean[k]
					wantV := 0.9*float64(old[1][k]) + 0.1*unbiased[k]
					if math.Abs(float64(rm[k])-wantM) > tc.tol*(1+math.Abs(wantM)) || math.Abs(float64(rv[k])-wantV) > tc.tol*(1+math.Abs(wantV)) {
						t.Errorf("fold %d channel %d: running mean %.8g var %.8g, want %.8g and %.8g", step, k, rm[k], rv[k], wantM, wantV)
					}
				}
			}
			for name, old := range before {
				if slices.Equal(old, net.Param(name).Data) {
					t.Errorf("%s unchanged by the update", name)
				}
			}
		})
	}
}

func TestFoldBatchStat(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	net := newNet(t, "cifar-cnn", []int{3, 8, 8}, rng)
	ch := len(net.Param("bn2.running_mean").Data)
	stats := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = 0.5 + rng.Float64()
		}
		return v
	}
	for _, tc := range []struct {
		name       string
		layer      string
		mean, vars []float64
		count      int
		unbias     float64 // 0: error expected
	}{
		{"count 10", "bn2", stats(ch), stats(ch), 10, 10.0 / 9},
		{"count 1 (no unbiasing)", "bn2", stats(ch), stats(ch), 1, 1},
		{"unknown layer", "bn9", stats(ch), stats(ch), 10, 0},
		{"not a batch norm", "conv1", stats(ch), stats(ch), 10, 0},
		{"short mean", "bn2", stats(ch - 1), stats(ch), 10, 0},
		{"long variance", "bn2", stats(ch), stats(ch + 1), 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rm, rv := net.Param("bn2.running_mean"), net.Param("bn2.running_var")
			oldM, oldV := slices.Clone(rm.Data), slices.Clone(rv.Data)
			err := net.FoldBatchStat(tc.layer, tc.mean, tc.vars, tc.count)
			if tc.unbias == 0 {
				if err == nil {
					t.Fatal("no error")
				}
				if !slices.Equal(oldM, rm.Data) || !slices.Equal(oldV, rv.Data) {
					t.Error("running statistics changed by a failed fold")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k := range ch {
				wantM := float32((1-model.BNMomentum)*float64(oldM[k]) + model.BNMomentum*tc.mean[k])
				wantV := float32((1-model.BNMomentum)*float64(oldV[k]) + model.BNMomentum*tc.vars[k]*tc.unbias)
				if rm.Data[k] != wantM || math.Abs(float64(rv.Data[k]-wantV)) > 1e-7*float64(wantV) {
					t.Errorf("channel %d: %v %v, want %v %v", k, rm.Data[k], rv.Data[k], wantM, wantV)
				}
			}
		})
	}
	if model.BNMomentum != 0.1 {
		t.Errorf("BNMomentum %v, want 0.1 as in PyTorch", model.BNMomentum)
	}
}

// TestMadryForwardReference checks madry-mnist's logits, which the model
// computes as relu(maxpool(conv(x)) + b), against an independent float64
// computation in the paper's order, maxpool(relu(conv(x) + b)).
func TestMadryForwardReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, h, w = 2, 8, 12
	net := newNet(t, "madry-mnist", []int{1, h, w}, rng)
	x := make([]float64, n*h*w)
	for i := range x {
		x[i] = rng.Float64()
	}
	g := G.NewGraph()
	bound, err := net.Bind(g, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	xn := G.NewTensor(g, G.Float64, 4, G.WithShape(n, 1, h, w), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(n, 1, h, w), tensor.WithBacking(slices.Clone(x)))))
	logits, _, err := bound.Forward(xn, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out G.Value
	G.Read(logits, &out)
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := out.Data().([]float64)

	p := func(name string) []float32 { return net.Param(name).Data }
	cfg := net.Config
	hh := make([]float64, len(x))
	for i, v := range x {
		hh[i] = (v - float64(cfg.Mean[0])) / float64(cfg.Std[0])
	}
	a := poolRef(reluRef(convRef(hh, n, 1, h, w, p("conv1.w"), p("conv1.b"), 32, 5, 2)), n*32, h, w)
	a = poolRef(reluRef(convRef(a, n, 32, h/2, w/2, p("conv2.w"), p("conv2.b"), 64, 5, 2)), n*64, h/2, w/2)
	a = reluRef(linearRef(a, n, 64*(h/4)*(w/4), p("fc1.w"), p("fc1.b")))
	want := linearRef(a, n, 1024, p("fc2.w"), p("fc2.b"))
	if len(got) != len(want) {
		t.Fatalf("%d logits, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-6*(1+math.Abs(want[i])) { // the model normalises with float32 constants
			t.Fatalf("logit %d = %.12g, want %.12g", i, got[i], want[i])
		}
	}
}

// convRef is a direct k×k convolution with stride 1, padding pad and bias.
func convRef(x []float64, n, c, h, w int, wt, b []float32, o, k, pad int) []float64 {
	out := make([]float64, n*o*h*w)
	for bi := range n {
		for ko := range o {
			for i := range h {
				for j := range w {
					s := float64(b[ko])
					for ch := range c {
						for di := range k {
							for dj := range k {
								ii, jj := i+di-pad, j+dj-pad
								if ii < 0 || jj < 0 || ii >= h || jj >= w {
									continue
								}
								s += x[((bi*c+ch)*h+ii)*w+jj] * float64(wt[((ko*c+ch)*k+di)*k+dj])
							}
						}
					}
					out[((bi*o+ko)*h+i)*w+j] = s
				}
			}
		}
	}
	return out
}

func reluRef(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = max(v, 0)
	}
	return out
}

// poolRef is 2x2 max pooling at stride 2 of planes h×w.
func poolRef(x []float64, planes, h, w int) []float64 {
	out := make([]float64, 0, planes*(h/2)*(w/2))
	for pl := range planes {
		for i := 0; i+1 < h; i += 2 {
			for j := 0; j+1 < w; j += 2 {
				at := func(di, dj int) float64 { return x[(pl*h+i+di)*w+j+dj] }
				out = append(out, max(at(0, 0), at(0, 1), at(1, 0), at(1, 1)))
			}
		}
	}
	return out
}

// linearRef is x [n,in] · w [in,out] + b.
func linearRef(x []float64, n, in int, wt, b []float32) []float64 {
	o := len(b)
	out := make([]float64, n*o)
	for r := range n {
		for j := range o {
			s := float64(b[j])
			for i := range in {
				s += x[r*in+i] * float64(wt[i*o+j])
			}
			out[r*o+j] = s
		}
	}
	return out
}
