package sgn_test

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
	"sgn/shared/sgn"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

const classes = 5

var shapes = map[string][]int{"mlp": {1, 4, 4}, "madry-mnist": {1, 8, 8}, "cifar-cnn": {3, 8, 8}}

// newNet returns a backbone with small random biases, so that no unit sits
// exactly at a ReLU kink.
func newNet(t *testing.T, arch string, rng *rand.Rand) *model.Net {
	t.Helper()
	s := shapes[arch]
	cfg := model.Config{Arch: arch, InShape: s, Classes: classes, Mean: make([]float32, s[0]), Std: make([]float32, s[0])}
	for i := range s[0] {
		cfg.Mean[i], cfg.Std[i] = 0.5, 0.25
	}
	net, err := model.New(cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params {
		if strings.HasSuffix(p.Name, ".b") || strings.HasSuffix(p.Name, ".beta") {
			for i := range p.Data {
				p.Data[i] = float32(0.05 * rng.NormFloat64())
			}
		}
	}
	return net
}

// wrap adds cfg's gates to net and sets the learned ones to values spread
// over [0.3, 0.7] (0 when zero is set).
func wrap(t *testing.T, net *model.Net, cfg sgn.Config, zero bool) {
	t.Helper()
	if err := sgn.Wrap(net, cfg); err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if zero {
		return
	}
	for _, tap := range cfg.Taps {
		p := net.Param(sgn.GateParam(tap))
		if p == nil {
			continue
		}
		for i := range p.Data {
			p.Data[i] = float32(0.3 + 0.4*float64(i)/float64(max(1, len(p.Data)-1)))
		}
	}
}

func images(rng *rand.Rand, n int, shape []int) []float32 {
	x := make([]float32, n*shape[0]*shape[1]*shape[2])
	for i := range x {
		x[i] = rng.Float32()
	}
	return x
}

func labels(rng *rand.Rand, n int) []int64 {
	y := make([]int64, n)
	for i := range y {
		y[i] = int64(rng.IntN(classes))
	}
	return y
}

func runLogits(t *testing.T, net *model.Net, x []float32, batch int, opts ...engine.Option) *engine.Program {
	t.Helper()
	p, err := engine.NewLogits(net, batch, append([]engine.Option{engine.WithFloat64()}, opts...)...)
	if err != nil {
		t.Fatalf("NewLogits: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Set("x", x); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	return p
}

func output(t *testing.T, p *engine.Program, name string) []float64 {
	t.Helper()
	v, err := p.Float64Output(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func config(phi string, taps ...string) sgn.Config {
	c := sgn.DefaultConfig()
	c.Phi, c.Taps = phi, taps
	return c
}

// TestZeroGatesComputeBackbone checks that an SGN whose learned gates are
// all 0 computes exactly (bitwise, in float64) its backbone's logits,
// although its self-gradients are not 0.
func TestZeroGatesComputeBackbone(t *testing.T) {
	type tc struct {
		arch  string
		taps  []string
		train bool
	}
	var cases []tc
	for _, taps := range [][]string{{"input"}, {"input", "conv1"}, {"fc1"}} {
		cases = append(cases, tc{arch: "madry-mnist", taps: taps})
	}
	cases = append(cases, tc{arch: "mlp", taps: []string{"input", "fc2"}},
		tc{arch: "cifar-cnn", taps: []string{"input", "block1"}, train: true},
		tc{arch: "cifar-cnn", taps: []string{"block2", "fc1"}})
	for ci, c := range cases {
		for _, phi := range []string{"sign", "l2", "identity"} {
			name := fmt.Sprintf("%s/%s/%s/train=%v", c.arch, strings.Join(c.taps, "+"), phi, c.train)
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(ci), 1))
				net := newNet(t, c.arch, rng)
				cfg := config(phi, c.taps...)
				wrap(t, net, cfg, true)
				x := images(rng, 3, net.Config.InShape)
				var opts []engine.Option
				if c.train {
					opts = append(opts, engine.WithTrainMode())
				}
				want := output(t, runLogits(t, net, x, 3, opts...), "logits")
				p := runLogits(t, net, x, 3, append(opts, engine.WithForward(sgn.Forward(cfg)))...)
				got := output(t, p, "logits")
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("logit %d: SGN %v, backbone %v", i, got[i], want[i])
					}
				}
				for _, tap := range c.taps {
					if s := output(t, p, "selfgrad."+tap); maxAbs(s) == 0 {
						t.Errorf("self-gradient at %s is 0: the check is vacuous", tap)
					}
					if a := output(t, p, "gate."+tap); maxAbs(a) != 0 {
						t.Errorf("gate at %s is %v, want 0", tap, a)
					}
				}
			})
		}
	}
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// sgnLoss is the cross-entropy of an SGN's logits, plus its auxiliary
// (probe) loss in training.
func sgnLoss(f engine.ForwardFunc, train bool) gradcheck.CostFunc {
	return func(b *model.Bound, x, y *G.Node) (*G.Node, error) {
		out, err := f(b, x, y, train)
		if err != nil {
			return nil, err
		}
		loss, err := ops.SoftmaxCrossEntropy(out.Logits, y)
		if err != nil {
			return nil, err
		}
		if out.AuxLoss != nil {
			return G.Add(loss, out.AuxLoss)
		}
		return loss, nil
	}
}

// fdTol is the relative error TestExactGradient accepts.
const fdTol = 1e-6

func float64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TestExactGradient checks the exact mode's gradient of a cross-entropy on
// an SGN's logits, with nonzero gates, with respect to the input and to
// every parameter tensor including the gates, against finite differences of
// the whole SGN forward pass (probe, self-gradient, response) in float64.
// Its terms through the self-gradients are second derivatives of the
// backbone, so this checks the second-order path.
func TestExactGradient(t *testing.T) {
	for ci, c := range []struct {
		arch  string
		cfg   sgn.Config
		opts  []sgn.ForwardOption
		train bool
	}{
		{arch: "mlp", cfg: config("identity", "input", "fc1")},
		{arch: "mlp", cfg: config("l2", "input", "fc2")},
		{arch: "mlp", cfg: config("sign", "input", "fc1"), opts: []sgn.ForwardOption{sgn.WithSmoothSign(0.01)}},
		{arch: "mlp", cfg: config("sign", "input")},
		{arch: "mlp", cfg: func() sgn.Config {
			c := config("l2", "input", "fc1")
			c.Label, c.ProbeWeight = "true", 0.5
			return c
		}(), train: true},
		{arch: "madry-mnist", cfg: config("identity", "input", "conv1")},
		{arch: "madry-mnist", cfg: config("l2", "input", "fc1")},
		{arch: "madry-mnist", cfg: config("sign", "input", "conv2"), opts: []sgn.ForwardOption{sgn.WithSmoothSign(0.01)}},
	} {
		name := fmt.Sprintf("%s/%s/%s", c.arch, c.cfg.Phi, strings.Join(c.cfg.Taps, "+"))
		if len(c.opts) > 0 {
			name += "/smooth"
		}
		if c.train {
			name += "/train"
		}
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci)+10, 2))
			net := newNet(t, c.arch, rng)
			c.cfg.GateBound = 0.5
			wrap(t, net, c.cfg, false)
			const batch = 2
			var names []string
			for _, p := range net.Trainable() {
				names = append(names, p.Name)
			}
			names = append(names, "input")
			f := sgn.Forward(c.cfg, c.opts...)
			// An SGN of a ReLU backbone is discontinuous where a unit of the
			// probe pass switches (its self-gradient jumps): if too many
			// entries sit within a step of such a point, draw another batch.
			var (
				res      gradcheck.Result
				x        []float64
				y        []int64
				analytic *gradcheck.Graph
			)
			for draw := 0; draw < 3; draw++ {
				x = float64s(images(rng, batch, net.Config.InShape))
				y = labels(rng, batch)
				analytic = gradcheck.NewGraph(t, net, x, y, sgnLoss(f, c.train), names)
				analytic.Run(t)
				probe := gradcheck.NewGraph(t, net, x, y, sgnLoss(f, c.train), nil)
				eval := func() float64 { return probe.Run(t) }
				cost0 := eval()
				res = gradcheck.Result{}
				for _, name := range names {
					g := analytic.Grad(name)
					k := 3
					if strings.HasPrefix(name, "sgn.gate.") || name == "input" {
						k = 6
					}
					gradcheck.Check(t, gradcheck.New(fdTol), name, probe.Values(name), gradcheck.Sample(g, k, rng), g, eval, cost0, &res)
					if strings.HasPrefix(name, "sgn.gate.") && maxAbs(g) == 0 {
						t.Errorf("%s: zero gradient", name)
					}
				}
				if res.Kinks*5 <= res.Entries {
					break
				}
				t.Logf("draw %d: %d of %d entries within a step of a non-smooth point; drawing again", draw, res.Kinks, res.Entries)
			}
			if res.Kinks*5 > res.Entries {
				t.Errorf("%d of %d entries near a non-smooth point: the check checks too little", res.Kinks, res.Entries)
			}
			// The terms through the self-gradients must matter: the detached
			// gradient (the same without them) is far from the exact one,
			// except for the true sign, whose derivative is 0.
			detached := gradcheck.NewGraph(t, net, x, y, sgnLoss(sgn.Forward(c.cfg, append(c.opts, sgn.WithGradMode("detached"))...), c.train), names)
			detached.Run(t)
			diff := 0.0
			for _, name := range names {
				diff = math.Max(diff, relDiff(analytic.Grad(name), detached.Grad(name)))
			}
			if smoothless := c.cfg.Phi == "sign" && len(c.opts) == 0; smoothless != (diff < 1e-12) {
				t.Errorf("exact and detached gradients differ by %.2g (relative)", diff)
			}
			t.Logf("exact vs detached gradient: relative difference %.2g", diff)
			t.Logf("%d entries (%d extrapolated, %d skipped at kinks), max relative error %.2g", res.Entries, res.Extrapolated, res.Kinks, res.MaxRel)
		})
	}
}

// relDiff is ‖a-b‖/‖b‖.
func relDiff(a, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}

// selfGrads computes, independently of package sgn, the self-gradients of a
// batch at the given taps: the backbone's logits, the self-label (argmax,
// computed here), and the gradients of the summed per-example cross-entropy
// with respect to the tapped activations.
func selfGrads(t *testing.T, net *model.Net, x []float64, taps []string) map[string][]float64 {
	t.Helper()
	s := net.Config.InShape
	n := len(x) / (s[0] * s[1] * s[2])
	g := G.NewGraph()
	b, err := net.Bind(g, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(n, s[0], s[1], s[2]), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(n, s[0], s[1], s[2]), tensor.WithBacking(slices.Clone(x)))))
	yhat := make([]float64, n*classes)
	yn := G.NewTensor(g, tensor.Float64, 2, G.WithShape(n, classes), G.WithName("yhat"),
		G.WithValue(tensor.New(tensor.WithShape(n, classes), tensor.WithBacking(yhat))))
	var hs G.Nodes
	logits, _, err := b.Forward(xn, false, func(name string, h *G.Node) (*G.Node, error) {
		if slices.Contains(taps, name) {
			hs = append(hs, h)
		}
		return h, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	loss, err := ops.SoftmaxCrossEntropyPerExample(logits, yn)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := ops.Grad(G.Must(G.Sum(loss)), hs...)
	if err != nil {
		t.Fatal(err)
	}
	var zv G.Value
	G.Read(logits, &zv)
	vals := make([]*G.Value, len(grads))
	for i, gr := range grads {
		vals[i] = new(G.Value)
		G.Read(gr, vals[i])
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	z := zv.Data().([]float64)
	for i := range n {
		row := z[i*classes : (i+1)*classes]
		yhat[i*classes+slices.Index(row, slices.Max(row))] = 1
	}
	m.Reset()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for i, tap := range taps { // Forward visits the taps in Config.Taps order
		out[tap] = slices.Clone((*vals[i]).Data().([]float64))
	}
	return out
}

// moves computes alpha[c]*phi(s) for one tap's self-gradient s of n
// examples and c channels.
func moves(s []float64, n, c int, phi string, tau float64, alpha []float64) []float64 {
	out := make([]float64, len(s))
	per := len(s) / n
	inner := per / c
	for i := range n {
		row := s[i*per : (i+1)*per]
		norm := 0.0
		for _, v := range row {
			norm += v * v
		}
		norm = math.Sqrt(norm)
		for j, v := range row {
			var d float64
			switch {
			case phi == "identity":
				d = v
			case phi == "l2":
				d = v / (norm + 1e-12)
			case tau > 0:
				d = math.Tanh(v / tau)
			case v > 0:
				d = 1
			case v < 0:
				d = -1
			}
			out[i*per+j] = alpha[j/inner] * d
		}
	}
	return out
}

// gates returns each tap's alpha as the SGN defines it: bound*tanh(a) for a
// learned gate, the fixed value (stored like a parameter, in float32)
// otherwise.
func gates(t *testing.T, net *model.Net, cfg sgn.Config, channels map[string]int) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, tap := range cfg.Taps {
		a := make([]float64, channels[tap])
		if cfg.Gate == "learned" {
			p := net.Param(sgn.GateParam(tap))
			for i := range a {
				a[i] = cfg.GateBound * math.Tanh(float64(p.Data[i]))
			}
		} else {
			var v float64
			if _, err := fmt.Sscan(cfg.Gate, &v); err != nil {
				t.Fatal(err)
			}
			for i := range a {
				a[i] = float64(float32(v))
			}
		}
		out[tap] = a
	}
	return out
}

// response builds the backbone on x with the given constant moves added at
// their taps, and returns its logits and the gradient of the summed
// per-example cross-entropy on labels y with respect to x.
func response(t *testing.T, net *model.Net, x []float64, y []int64, mv map[string][]float64) (logits, grad []float64) {
	t.Helper()
	s := net.Config.InShape
	n := len(y)
	g := G.NewGraph()
	b, err := net.Bind(g, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(n, s[0], s[1], s[2]), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(n, s[0], s[1], s[2]), tensor.WithBacking(slices.Clone(x)))))
	oh := make([]float64, n*classes)
	for i, l := range y {
		oh[i*classes+int(l)] = 1
	}
	yn := G.NewTensor(g, tensor.Float64, 2, G.WithShape(n, classes), G.WithName("y"),
		G.WithValue(tensor.New(tensor.WithShape(n, classes), tensor.WithBacking(oh))))
	z, _, err := b.Forward(xn, false, func(name string, h *G.Node) (*G.Node, error) {
		m, ok := mv[name]
		if !ok {
			return h, nil
		}
		c := G.NewTensor(g, tensor.Float64, h.Dims(), G.WithShape(h.Shape()...), G.WithName("move."+name),
			G.WithValue(tensor.New(tensor.WithShape(h.Shape()...), tensor.WithBacking(slices.Clone(m)))))
		return G.Add(h, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	loss, err := ops.SoftmaxCrossEntropyPerExample(z, yn)
	if err != nil {
		t.Fatal(err)
	}
	gx, err := ops.Grad(G.Must(G.Sum(loss)), xn)
	if err != nil {
		t.Fatal(err)
	}
	var zv, gv G.Value
	G.Read(z, &zv)
	G.Read(gx[0], &gv)
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(zv.Data().([]float64)), slices.Clone(gv.Data().([]float64))
}

// tapChannels returns the channel count (dimension 1) at each tap point.
func tapChannels(t *testing.T, net *model.Net) map[string]int {
	t.Helper()
	g := G.NewGraph()
	b, err := net.Bind(g, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	s := net.Config.InShape
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, s[0], s[1], s[2]), G.WithName("x"))
	ch := map[string]int{}
	if _, _, err := b.Forward(x, false, func(name string, h *G.Node) (*G.Node, error) {
		ch[name] = h.Shape()[1]
		return h, nil
	}); err != nil {
		t.Fatal(err)
	}
	return ch
}

func inputGrad(t *testing.T, net *model.Net, x []float32, y []int64, f engine.ForwardFunc) (logits, grad []float64) {
	t.Helper()
	p, err := engine.NewInputGrad(net, len(y), engine.CrossEntropy, engine.WithFloat64(), engine.WithForward(f))
	if err != nil {
		t.Fatalf("NewInputGrad: %v", err)
	}
	defer p.Close()
	if err := p.Set("x", x); err != nil {
		t.Fatal(err)
	}
	if err := p.SetLabels(y); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	return output(t, p, "logits"), output(t, p, "grad")
}

func maxRelErr(got, want []float64) float64 {
	scale := maxAbs(want)
	e := 0.0
	for i := range got {
		e = math.Max(e, math.Abs(got[i]-want[i])/scale)
	}
	return e
}

// TestDetachedGradient checks the detached mode against its definition: its
// input gradient is that of the response pass with the self-gradients held
// constant, computed here from self-gradients read off an independent probe
// pass; and it differs from the exact gradient unless phi is the true sign,
// whose derivative is 0.
func TestDetachedGradient(t *testing.T) {
	for ci, c := range []struct {
		arch string
		cfg  sgn.Config
		tau  float64
		// viaConfig: detached as the model's own mode rather than as an
		// attacker's override.
		viaConfig bool
	}{
		{arch: "mlp", cfg: config("l2", "input", "fc1")},
		{arch: "mlp", cfg: config("identity", "fc1", "fc2"), viaConfig: true},
		{arch: "mlp", cfg: config("sign", "input")},
		{arch: "madry-mnist", cfg: config("identity", "input", "conv1"), viaConfig: true},
		{arch: "madry-mnist", cfg: config("sign", "input", "fc1"), tau: 0.01},
		{arch: "madry-mnist", cfg: func() sgn.Config {
			c := config("l2", "input", "conv2")
			c.Gate = "-0.2"
			return c
		}()},
	} {
		name := fmt.Sprintf("%s/%s/%s/gate=%s", c.arch, c.cfg.Phi, strings.Join(c.cfg.Taps, "+"), c.cfg.Gate)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(ci)+30, 3))
			net := newNet(t, c.arch, rng)
			c.cfg.GateBound = 0.5
			wrap(t, net, c.cfg, false)
			const batch = 3
			x32 := images(rng, batch, net.Config.InShape)
			x, y := float64s(x32), labels(rng, batch)

			sg := selfGrads(t, net, x, c.cfg.Taps)
			ch := tapChannels(t, net)
			alpha := gates(t, net, c.cfg, ch)
			mv := map[string][]float64{}
			for _, tap := range c.cfg.Taps {
				mv[tap] = moves(sg[tap], batch, ch[tap], c.cfg.Phi, c.tau, alpha[tap])
			}
			wantZ, wantG := response(t, net, x, y, mv)

			var opts []sgn.ForwardOption
			if c.tau > 0 {
				opts = append(opts, sgn.WithSmoothSign(c.tau))
			}
			detached := c.cfg
			dopts := opts
			if c.viaConfig {
				detached.Grad = "detached"
			} else {
				dopts = append(slices.Clone(opts), sgn.WithGradMode("detached"))
			}
			z, g := inputGrad(t, net, x32, y, sgn.Forward(detached, dopts...))
			ez, eg := maxRelErr(z, wantZ), maxRelErr(g, wantG)
			if ez > 1e-12 || eg > 1e-10 {
				t.Errorf("detached: logits differ by %.2g, input gradients by %.2g (relative to the largest)", ez, eg)
			}
			_, exact := inputGrad(t, net, x32, y, sgn.Forward(c.cfg, append(slices.Clone(opts), sgn.WithGradMode("exact"))...))
			d := relDiff(exact, g)
			if smoothless := c.cfg.Phi == "sign" && c.tau == 0; smoothless != (d < 1e-12) {
				t.Errorf("exact and detached input gradients differ by %.2g (relative)", d)
			}
			t.Logf("logits %.2g, gradient %.2g off the definition; exact differs by %.2g", ez, eg, d)
		})
	}
}

func TestValidate(t *testing.T) {
	mlp := model.Config{Arch: "mlp", InShape: []int{1, 4, 4}, Classes: 10, Mean: []float32{0.5}, Std: []float32{0.25}}
	madry := mlp
	madry.Arch, madry.InShape = "madry-mnist", []int{1, 8, 8}
	with := func(f func(*sgn.Config)) sgn.Config {
		c := sgn.DefaultConfig()
		c.Taps = slices.Clone(c.Taps)
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  sgn.Config
		net  model.Config
		ok   bool
	}{
		{"default", sgn.DefaultConfig(), mlp, true},
		{"all mlp taps", with(func(c *sgn.Config) { c.Taps = []string{"input", "fc1", "fc2"} }), mlp, true},
		{"madry taps", with(func(c *sgn.Config) { c.Taps = []string{"conv1", "conv2", "fc1"} }), madry, true},
		{"fixed gate", with(func(c *sgn.Config) { c.Gate, c.GateBound = "-0.2", 0 }), mlp, true},
		{"fixed gate +0.5", with(func(c *sgn.Config) { c.Gate = "+0.5" }), mlp, true},
		{"detached l2 true label", with(func(c *sgn.Config) { c.Grad, c.Phi, c.Label = "detached", "l2", "true" }), mlp, true},
		{"probe weight", with(func(c *sgn.Config) { c.ProbeWeight = 0.5 }), mlp, true},
		{"no taps", with(func(c *sgn.Config) { c.Taps = nil }), mlp, false},
		{"unknown tap", with(func(c *sgn.Config) { c.Taps = []string{"conv1"} }), mlp, false},
		{"tap twice", with(func(c *sgn.Config) { c.Taps = []string{"input", "fc1", "input"} }), mlp, false},
		{"tap case", with(func(c *sgn.Config) { c.Taps = []string{"Input"} }), mlp, false},
		{"unknown phi", with(func(c *sgn.Config) { c.Phi = "tanh" }), mlp, false},
		{"empty phi", with(func(c *sgn.Config) { c.Phi = "" }), mlp, false},
		{"unknown label", with(func(c *sgn.Config) { c.Label = "soft" }), mlp, false},
		{"unknown grad", with(func(c *sgn.Config) { c.Grad = "approx" }), mlp, false},
		{"gate string", with(func(c *sgn.Config) { c.Gate = "fixed" }), mlp, false},
		{"empty gate", with(func(c *sgn.Config) { c.Gate = "" }), mlp, false},
		{"NaN gate", with(func(c *sgn.Config) { c.Gate = "NaN" }), mlp, false},
		{"infinite gate", with(func(c *sgn.Config) { c.Gate = "-Inf" }), mlp, false},
		{"zero bound", with(func(c *sgn.Config) { c.GateBound = 0 }), mlp, false},
		{"negative bound", with(func(c *sgn.Config) { c.GateBound = -0.3 }), mlp, false},
		{"NaN bound", with(func(c *sgn.Config) { c.GateBound = math.NaN() }), mlp, false},
		{"infinite bound", with(func(c *sgn.Config) { c.GateBound = math.Inf(1) }), mlp, false},
		{"negative probe weight", with(func(c *sgn.Config) { c.ProbeWeight = -1 }), mlp, false},
		{"NaN probe weight", with(func(c *sgn.Config) { c.ProbeWeight = math.NaN() }), mlp, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate(tc.net)
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			net, err := model.New(tc.net, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			before := len(net.Params)
			err = sgn.Wrap(net, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("Wrap = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				if len(net.Params) != before {
					t.Error("a failed Wrap added parameters")
				}
				// the forward pass refuses the configuration too
				if _, err := engine.NewLogits(net, 1, engine.WithForward(sgn.Forward(tc.cfg))); err == nil {
					t.Error("NewLogits built an SGN of an invalid configuration")
				}
			}
		})
	}
	t.Run("wrap twice", func(t *testing.T) {
		net, err := model.New(mlp, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sgn.Wrap(net, sgn.DefaultConfig()); err != nil {
			t.Fatal(err)
		}
		if err := sgn.Wrap(net, sgn.DefaultConfig()); err == nil {
			t.Error("a second Wrap added a second gate")
		}
	})
}

// TestFixedGate checks SGNs with fixed gates: they have no parameters of
// their own, their logits are the backbone's at the moved input
// x + gate*sign(s), a gate of 0 is the backbone, and the sign convention
// holds: a small negative gate makes the network more confident in its
// self-label, a positive one less.
func TestFixedGate(t *testing.T) {
	rng := rand.New(rand.NewPCG(40, 4))
	const batch = 3
	base := newNet(t, "madry-mnist", rng)
	x32 := images(rng, batch, base.Config.InShape)
	x := float64s(x32)
	backbone := output(t, runLogits(t, base, x32, batch), "logits")
	probeCE := selfLabelCE(backbone)
	for _, gate := range []string{"-0.2", "0.2", "0", "-0.01", "0.01"} {
		t.Run(gate, func(t *testing.T) {
			cfg := config("sign", "input")
			cfg.Gate = gate
			net := &model.Net{Config: base.Config, Params: slices.Clone(base.Params)}
			if err := sgn.Wrap(net, cfg); err != nil {
				t.Fatal(err)
			}
			if len(net.Params) != len(base.Params) {
				t.Fatalf("Wrap added %d parameters for a fixed gate", len(net.Params)-len(base.Params))
			}
			p := runLogits(t, net, x32, batch, engine.WithForward(sgn.Forward(cfg)))
			z := output(t, p, "logits")
			if gate == "0" {
				if !slices.Equal(z, backbone) {
					t.Errorf("gate 0: logits %v, backbone %v", z, backbone)
				}
				return
			}
			s := output(t, p, "selfgrad.input")
			if maxAbs(s) == 0 {
				t.Fatal("self-gradient is 0: the check is vacuous")
			}
			alpha := gates(t, net, cfg, map[string]int{"input": 1})["input"]
			mv := moves(s, batch, 1, "sign", 0, alpha)
			moved := slices.Clone(x)
			for i := range moved {
				moved[i] += mv[i]
			}
			want, _ := response(t, net, moved, make([]int64, batch), nil)
			if e := maxRelErr(z, want); e > 1e-12 {
				t.Errorf("logits differ from the backbone's at x+gate*sign(s) by %.2g", e)
			}
			if gate == "-0.01" || gate == "0.01" {
				ce := selfLabelCE2(z, backbone)
				if (gate == "-0.01") != (ce < probeCE) {
					t.Errorf("gate %s: self-label cross-entropy %.6g, backbone's %.6g", gate, ce, probeCE)
				}
			}
			// the gradient programs build without gate parameters
			if _, g := inputGrad(t, net, x32, make([]int64, batch), sgn.Forward(cfg)); maxAbs(g) == 0 || math.IsNaN(maxAbs(g)) {
				t.Errorf("input gradient %v", g)
			}
			ts, err := engine.NewTrainStep(net, batch, engine.CrossEntropy, engine.WithFloat64(), engine.WithForward(sgn.Forward(cfg)))
			if err != nil {
				t.Fatalf("NewTrainStep: %v", err)
			}
			defer ts.Close()
			if err := ts.Set("x", x32); err != nil {
				t.Fatal(err)
			}
			if err := ts.SetLabels(make([]int64, batch)); err != nil {
				t.Fatal(err)
			}
			if err := ts.Run(); err != nil {
				t.Fatal(err)
			}
			grads, err := ts.ParamGrads()
			if err != nil {
				t.Fatal(err)
			}
			if len(grads) != len(base.Trainable()) {
				t.Errorf("%d parameter gradients, backbone has %d trainable parameters", len(grads), len(base.Trainable()))
			}
		})
	}
}

// selfLabelCE is the mean cross-entropy of logits z on their own argmax.
func selfLabelCE(z []float64) float64 { return selfLabelCE2(z, z) }

// selfLabelCE2 is the mean cross-entropy of logits z on the argmax of ref.
func selfLabelCE2(z, ref []float64) float64 {
	n := len(z) / classes
	total := 0.0
	for i := range n {
		row, r := z[i*classes:(i+1)*classes], ref[i*classes:(i+1)*classes]
		k := slices.Index(r, slices.Max(r))
		m := slices.Max(row)
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(v - m)
		}
		total += m + math.Log(sum) - row[k]
	}
	return total / float64(n)
}
