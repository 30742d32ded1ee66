package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"sgn/shared/attack"
	"sgn/shared/engine"
	"sgn/shared/gradcheck"
	"sgn/shared/model"
	"sgn/shared/ops"
	"sgn/shared/sgn"
)

const classes = 5

// newTestNet returns a small network with small random biases.
func newTestNet(t *testing.T, arch string, shape []int, seed uint64) *model.Net {
	t.Helper()
	c := shape[0]
	cfg := model.Config{Arch: arch, InShape: shape, Classes: classes, Mean: make([]float32, c), Std: make([]float32, c)}
	for i := range c {
		cfg.Mean[i], cfg.Std[i] = 0.5, 0.25
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	net, err := model.New(cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params {
		if p.Trainable && len(p.Shape) == 1 {
			for i := range p.Data {
				p.Data[i] += float32(0.05 * rng.NormFloat64())
			}
		}
	}
	return net
}

// cloneNet copies a network's parameters, so that running statistics can be
// updated on each copy independently.
func cloneNet(net *model.Net) *model.Net {
	c := &model.Net{Config: net.Config}
	for _, p := range net.Params {
		q := *p
		q.Data = slices.Clone(p.Data)
		c.Params = append(c.Params, &q)
	}
	return c
}

// fdGrid is the spacing of test inputs and fdStep the finite-difference
// step: both powers of two, so that x±fdStep is exact in float32 (inputs
// are set as float32 and computed with in float64).
const (
	fdGrid = 0x1p-16
	fdStep = 0x1p-20
)

func gridImages(rng *rand.Rand, n int, shape []int) []float32 {
	x := make([]float32, n*shape[0]*shape[1]*shape[2])
	for i := range x {
		x[i] = float32(rng.IntN(1<<16)) * fdGrid
	}
	return x
}

func randLabels(rng *rand.Rand, n int) []int64 {
	y := make([]int64, n)
	for i := range y {
		y[i] = int64(rng.IntN(classes))
	}
	return y
}

func mustRun(t *testing.T, p *engine.Program, inputs map[string][]float32, labels []int64) {
	t.Helper()
	for name, v := range inputs {
		if err := p.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if labels != nil {
		if err := p.SetLabels(labels); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
}

func out64(t *testing.T, p *engine.Program, name string) []float64 {
	t.Helper()
	v, err := p.Float64Output(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func out32(t *testing.T, p *engine.Program, name string) []float32 {
	t.Helper()
	v, err := p.Output(name)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(v)
}

// compiled takes a constructor's results, failing the test on an error and
// closing the program at its end.
func compiled(t *testing.T) func(*engine.Program, error) *engine.Program {
	return func(p *engine.Program, err error) *engine.Program {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
}

// checkFD compares grad[i] for each i in idx with the central difference of
// f as x[i] moves by ±fdStep; errors are relative to the larger value, to
// 1e-3 of the largest entry of grad, or to the rounding error of the
// difference over the tolerance, whichever is largest. It returns the
// largest relative error.
func checkFD(t *testing.T, what string, x []float32, idx []int, grad []float64, f func() float64) float64 {
	t.Helper()
	var res gradcheck.Result
	gradcheck.Check(t, gradcheck.Checker{Step: fdStep, Floor: 1e-3, Tol: 1e-6}, what, x, idx, grad, f, f(), &res)
	return res.MaxRel
}

// TestInputGradPerExample checks that each example's loss and input
// gradient do not depend on the other examples of the batch (eval mode) and
// that the gradient is that of the example's own loss.
func TestInputGradPerExample(t *testing.T) {
	for _, loss := range []engine.Loss{engine.CrossEntropy, engine.Margin} {
		t.Run(string(loss), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			shape := []int{1, 8, 8}
			net := newTestNet(t, "madry-mnist", shape, 3)
			const batch = 3
			d := shape[0] * shape[1] * shape[2]
			p := compiled(t)(engine.NewInputGrad(net, batch, loss, engine.WithFloat64()))
			x, y := gridImages(rng, batch, shape), randLabels(rng, batch)
			mustRun(t, p, map[string][]float32{"x": x}, y)
			l0, g0 := out64(t, p, "loss"), out64(t, p, "grad")

			// other examples in rows 1 and 2
			x2, y2 := slices.Clone(x), slices.Clone(y)
			copy(x2[d:], gridImages(rng, batch-1, shape))
			y2[1], y2[2] = (y[1]+1)%classes, (y[2]+2)%classes
			mustRun(t, p, map[string][]float32{"x": x2}, y2)
			l1, g1 := out64(t, p, "loss"), out64(t, p, "grad")
			if l1[0] != l0[0] || !slices.Equal(g1[:d], g0[:d]) {
				t.Errorf("example 0 changed with its neighbours: loss %v vs %v", l1[0], l0[0])
			}
			if slices.Equal(g1[d:], g0[d:]) {
				t.Error("examples 1 and 2 did not change: the check is vacuous")
			}
			// the same example alone
			single := compiled(t)(engine.NewInputGrad(net, 1, loss, engine.WithFloat64()))
			mustRun(t, single, map[string][]float32{"x": x[:d]}, y[:1])
			ls, gs := out64(t, single, "loss"), out64(t, single, "grad")
			if math.Abs(ls[0]-l0[0]) > 1e-12*(1+math.Abs(l0[0])) {
				t.Errorf("alone, example 0 has loss %v, in a batch %v", ls[0], l0[0])
			}
			for i := range d {
				if math.Abs(gs[i]-g0[i]) > 1e-12 {
					t.Fatalf("alone, example 0 has gradient[%d] %v, in a batch %v", i, gs[i], g0[i])
				}
			}
			// finite differences of example 1's own loss, in a batch
			xs := slices.Clone(x)
			f := func() float64 {
				mustRun(t, p, map[string][]float32{"x": xs}, y)
				return out64(t, p, "loss")[1]
			}
			idx := rng.Perm(d)[:16]
			for k := range idx {
				idx[k] += d
			}
			worst := checkFD(t, "grad", xs, idx, g0, f)
			// and example 1's loss does not move with example 0's pixels
			for _, i := range rng.Perm(d)[:4] {
				xs[i] += 0x1p-8
				if l := f(); l != l0[1] {
					t.Errorf("example 1's loss moved with pixel %d of example 0: %v, was %v", i, l, l0[1])
				}
				xs[i] -= 0x1p-8
			}
			t.Logf("input gradient vs finite differences: max relative error %.2g", worst)
		})
	}
}

// TestPaddingRows checks that a row labelled -1 has zero loss and gradient
// and leaves the other rows as they were.
func TestPaddingRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	shape := []int{1, 8, 8}
	net := newTestNet(t, "madry-mnist", shape, 6)
	const batch = 3
	d := 64
	for _, loss := range []engine.Loss{engine.CrossEntropy, engine.Margin} {
		t.Run(string(loss), func(t *testing.T) {
			p := compiled(t)(engine.NewInputGrad(net, batch, loss, engine.WithFloat64()))
			x := gridImages(rng, batch, shape)
			mustRun(t, p, map[string][]float32{"x": x}, []int64{2, 0, 4})
			l0, g0 := out64(t, p, "loss"), out64(t, p, "grad")
			mustRun(t, p, map[string][]float32{"x": x}, []int64{2, -1, 4})
			l1, g1 := out64(t, p, "loss"), out64(t, p, "grad")
			if l1[1] != 0 || slices.ContainsFunc(g1[d:2*d], func(v float64) bool { return v != 0 }) {
				t.Errorf("padding row: loss %v, gradient not zero", l1[1])
			}
			if loss == engine.CrossEntropy && l0[1] == 0 {
				t.Error("labelled row has zero loss: the check is vacuous")
			}
			if l1[0] != l0[0] || l1[2] != l0[2] || !slices.Equal(g1[:d], g0[:d]) || !slices.Equal(g1[2*d:], g0[2*d:]) {
				t.Error("a padding row changed the other rows")
			}
		})
	}
	p := compiled(t)(engine.NewInputGrad(net, batch, engine.CrossEntropy))
	for _, bad := range [][]int64{{0, 1}, {0, 1, 2, 3}, {0, classes, 1}} {
		if err := p.SetLabels(bad); err == nil {
			t.Errorf("SetLabels(%v) accepted", bad)
		}
	}
}

// ce and kl are computed here from logits: the mean cross-entropy of z on
// labels y, and the mean KL(softmax z || softmax za).
func logSoftmax(z []float64) []float64 {
	m := slices.Max(z)
	s := 0.0
	for _, v := range z {
		s += math.Exp(v - m)
	}
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = v - m - math.Log(s)
	}
	return out
}

func tradesLoss(z, za []float64, y []int64, beta float64) float64 {
	n := len(y)
	var ce, kl float64
	for i := range n {
		lp := logSoftmax(z[i*classes : (i+1)*classes])
		lq := logSoftmax(za[i*classes : (i+1)*classes])
		ce -= lp[y[i]]
		for k := range classes {
			kl += math.Exp(lp[k]) * (lp[k] - lq[k])
		}
	}
	return (ce + beta*kl) / float64(n)
}

// TestTradesStep checks NewTradesStep's loss against CE + beta*KL computed
// here from the logits of NewLogits (training mode, as TRADES runs), that
// with beta 0 its parameter gradients are NewTrainStep's, and that the
// running statistics follow the clean pass.
func TestTradesStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	shape := []int{3, 8, 8}
	net := newTestNet(t, "cifar-cnn", shape, 9)
	const batch = 3
	x, y := gridImages(rng, batch, shape), randLabels(rng, batch)
	xadv := slices.Clone(x)
	for i := range xadv {
		xadv[i] += float32(0.03 * (2*rng.Float64() - 1))
	}
	lp := compiled(t)(engine.NewLogits(net, batch, engine.WithTrainMode(), engine.WithFloat64()))
	mustRun(t, lp, map[string][]float32{"x": x}, nil)
	z := out64(t, lp, "logits")
	mustRun(t, lp, map[string][]float32{"x": xadv}, nil)
	za := out64(t, lp, "logits")
	for _, beta := range []float64{0, 1, 6} {
		t.Run(fmt.Sprint("beta=", beta), func(t *testing.T) {
			p := compiled(t)(engine.NewTradesStep(net, batch, beta, engine.WithFloat64()))
			mustRun(t, p, map[string][]float32{"x": x, "xadv": xadv}, y)
			if got := out64(t, p, "logits"); !slices.Equal(got, z) {
				t.Errorf("clean logits %v, NewLogits %v", got, z)
			}
			if got := out64(t, p, "adv_logits"); !slices.Equal(got, za) {
				t.Errorf("adversarial logits %v, NewLogits %v", got, za)
			}
			got, want := out64(t, p, "loss")[0], tradesLoss(z, za, y, beta)
			if math.Abs(got-want) > 1e-12*math.Abs(want) {
				t.Errorf("loss %.15g, want %.15g", got, want)
			}
			if beta > 0 && math.Abs(want-tradesLoss(z, za, y, 0)) < 1e-6 {
				t.Error("the KL term is negligible: the check is vacuous")
			}
			if beta != 0 {
				return
			}
			ts := compiled(t)(engine.NewTrainStep(net, batch, engine.CrossEntropy, engine.WithFloat64()))
			mustRun(t, ts, map[string][]float32{"x": x}, y)
			gt, err := p.ParamGrads()
			if err != nil {
				t.Fatal(err)
			}
			gt = slices.Clone(gt)
			gs, err := ts.ParamGrads()
			if err != nil {
				t.Fatal(err)
			}
			for i := range gs {
				for j := range gs[i] {
					if math.Abs(float64(gt[i][j]-gs[i][j])) > 1e-6*(1e-3+math.Abs(float64(gs[i][j]))) {
						t.Fatalf("parameter %d entry %d: TRADES gradient %v, train step %v", i, j, gt[i][j], gs[i][j])
					}
				}
			}
		})
	}
	// running statistics: TRADES's update equals a clean training pass's
	a, b := cloneNet(net), cloneNet(net)
	pa := compiled(t)(engine.NewTradesStep(a, batch, 6, engine.WithFloat64()))
	mustRun(t, pa, map[string][]float32{"x": x, "xadv": xadv}, y)
	pb := compiled(t)(engine.NewLogits(b, batch, engine.WithTrainMode(), engine.WithFloat64()))
	mustRun(t, pb, map[string][]float32{"x": x}, nil)
	if err := pa.UpdateRunningStats(); err != nil {
		t.Fatal(err)
	}
	if err := pb.UpdateRunningStats(); err != nil {
		t.Fatal(err)
	}
	for i, q := range a.Params {
		if !q.Trainable && !slices.Equal(q.Data, b.Params[i].Data) {
			t.Errorf("%s: TRADES folded other statistics than the clean pass's", q.Name)
		}
		if !q.Trainable && slices.Equal(q.Data, net.Params[i].Data) {
			t.Errorf("%s: not updated", q.Name)
		}
	}
}

// TestOracleChunks checks that the Oracle adapter gives, for any number of
// examples, what one-example calls give: chunks run on programs of several
// sizes, padded, the padding never mixed with the results.
func TestOracleChunks(t *testing.T) {
	shape := []int{1, 8, 8}
	net := newTestNet(t, "madry-mnist", shape, 10)
	cfg := sgn.DefaultConfig()
	cfg.Taps, cfg.Phi, cfg.Gate = []string{"input", "conv1"}, "l2", "-0.1"
	const batch, all = 16, 40
	d := 64
	for _, tc := range []struct {
		name string
		opts []engine.Option
	}{
		{"plain", nil},
		{"sgn", []engine.Option{engine.WithForward(sgn.Forward(cfg))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			x, y := gridImages(rng, all, shape), randLabels(rng, all)
			cot := make([]float32, all*classes)
			for i := range cot {
				cot[i] = float32(rng.NormFloat64())
			}
			ref := engine.NewOracle(net, 1, tc.opts...)
			defer ref.Close()
			wantZ := make([]float32, all*classes)
			wantL, wantG := make([]float32, all), make([]float32, all*d)
			wantV := make([]float32, all*d)
			for i := range all {
				if err := ref.Logits(x[i*d:(i+1)*d], 1, wantZ[i*classes:(i+1)*classes]); err != nil {
					t.Fatal(err)
				}
				if err := ref.LossGrad(attack.LossCE, x[i*d:(i+1)*d], y[i:i+1], 1, wantL[i:i+1], wantG[i*d:(i+1)*d], nil); err != nil {
					t.Fatal(err)
				}
				if err := ref.VJP(x[i*d:(i+1)*d], 1, fixed(cot[i*classes:(i+1)*classes]), wantV[i*d:(i+1)*d], nil); err != nil {
					t.Fatal(err)
				}
			}
			// One oracle for every n: it compiles sizes 4, 8, 12, 16 and 14
			// (40 = 3 chunks of 14), evicting and compiling again.
			o := engine.NewOracle(net, batch, tc.opts...)
			defer o.Close()
			for _, n := range []int{1, 3, 7, 8, 9, 16, 17, 40, 3} {
				z := make([]float32, n*classes)
				if err := o.Logits(x[:n*d], n, z); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(z, wantZ[:n*classes]) {
					t.Errorf("n=%d: logits differ from one-example calls", n)
				}
				l, g, z2 := make([]float32, n), make([]float32, n*d), make([]float32, n*classes)
				if err := o.LossGrad(attack.LossCE, x[:n*d], y[:n], n, l, g, z2); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(l, wantL[:n]) || !slices.Equal(g, wantG[:n*d]) || !slices.Equal(z2, wantZ[:n*classes]) {
					t.Errorf("n=%d: loss, gradient or logits differ from one-example calls", n)
				}
				v, z3 := make([]float32, n*d), make([]float32, n*classes)
				seen := make([]bool, n)
				err := o.VJP(x[:n*d], n, func(i int, z, c []float32) {
					if seen[i] || !slices.Equal(z, wantZ[i*classes:(i+1)*classes]) {
						t.Errorf("n=%d: cotangent of example %d asked twice or with other logits", n, i)
					}
					seen[i] = true
					copy(c, cot[i*classes:(i+1)*classes])
				}, v, z3)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(v, wantV[:n*d]) || !slices.Equal(z3, wantZ[:n*classes]) || slices.Contains(seen, false) {
					t.Errorf("n=%d: VJP differs from one-example calls", n)
				}
			}
		})
	}
}

// TestOracleWorkers checks that an oracle's results do not depend on how
// many goroutines its operations split their work over: a study runs its
// evaluations one process to a core (GOMAXPROCS=1) and still reads them as
// those of the same model, bit for bit.
func TestOracleWorkers(t *testing.T) {
	shape := []int{1, 28, 28} // MNIST's: every kernel path of the Madry CNN
	net := newTestNet(t, "madry-mnist", shape, 15)
	cfg := sgn.DefaultConfig()
	cfg.Taps, cfg.Phi, cfg.Gate = []string{"input", "conv1"}, "l2", "-0.1"
	const n = 24
	d := 28 * 28
	rng := rand.New(rand.NewPCG(15, 16))
	x, y := gridImages(rng, n, shape), randLabels(rng, n)
	cot := make([]float32, n*classes)
	for i := range cot {
		cot[i] = float32(rng.NormFloat64())
	}
	run := func(opts []engine.Option) (z, l, g, v []float32) {
		o := engine.NewOracle(net, n, opts...)
		defer o.Close()
		z, l, g, v = make([]float32, n*classes), make([]float32, n), make([]float32, n*d), make([]float32, n*d)
		if err := o.Logits(x, n, z); err != nil {
			t.Fatal(err)
		}
		if err := o.LossGrad(attack.LossCE, x, y, n, l, g, nil); err != nil {
			t.Fatal(err)
		}
		err := o.VJP(x, n, func(i int, _, c []float32) { copy(c, cot[i*classes:(i+1)*classes]) }, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		return z, l, g, v
	}
	for _, tc := range []struct {
		name string
		opts []engine.Option
	}{
		{"plain", nil},
		{"sgn", []engine.Option{engine.WithForward(sgn.Forward(cfg))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			z1, l1, g1, v1 := run(tc.opts)
			runtime.GOMAXPROCS(3) // more goroutines than this machine's cores, split unevenly
			z3, l3, g3, v3 := run(tc.opts)
			for _, c := range []struct {
				what string
				a, b []float32
			}{{"logits", z1, z3}, {"losses", l1, l3}, {"gradients", g1, g3}, {"VJPs", v1, v3}} {
				if !slices.Equal(c.a, c.b) {
					t.Errorf("%s differ between GOMAXPROCS 1 and 3", c.what)
				}
			}
		})
	}
}

// fixed is a cotangent function giving every example of a one-example
// call the cotangent c.
func fixed(c []float32) func(i int, z, cot []float32) {
	return func(_ int, _, cot []float32) { copy(cot, c) }
}

// TestVJP checks that the VJP with a one-hot cotangent is the gradient of
// that logit (against finite differences of NewLogits), that it is linear
// in the cotangent, and that a cotangent computed from the logits during
// the run, that of half their squared norm, gives the gradient of that
// loss.
func TestVJP(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	shape := []int{1, 8, 8}
	net := newTestNet(t, "madry-mnist", shape, 15)
	const batch = 3
	d := 64
	x := gridImages(rng, batch, shape)
	vjp := compiled(t)(engine.NewVJP(net, batch, engine.WithFloat64()))
	logits := compiled(t)(engine.NewLogits(net, batch, engine.WithFloat64()))
	onehot := func(ks []int, scale float32) []float32 {
		c := make([]float32, batch*classes)
		for i, k := range ks {
			c[i*classes+k] = scale
		}
		return c
	}
	run := func(f ops.CotangentFunc) []float64 {
		t.Helper()
		if err := vjp.SetCotangent(f); err != nil {
			t.Fatal(err)
		}
		mustRun(t, vjp, map[string][]float32{"x": x}, nil)
		return out64(t, vjp, "grad")
	}
	constant := func(c []float32) ops.CotangentFunc { return func(_, cot []float32) { copy(cot, c) } }
	grads := map[int][]float64{}
	worst := 0.0
	for _, ks := range [][]int{{0, 3, 4}, {2, 2, 1}} {
		g := run(constant(onehot(ks, 1)))
		grads[ks[0]] = g
		xs := slices.Clone(x)
		for i, k := range ks {
			f := func() float64 {
				mustRun(t, logits, map[string][]float32{"x": xs}, nil)
				return out64(t, logits, "logits")[i*classes+k]
			}
			idx := rng.Perm(d)[:8]
			for j := range idx {
				idx[j] += i * d
			}
			worst = math.Max(worst, checkFD(t, fmt.Sprintf("example %d logit %d", i, k), xs, idx, g, f))
		}
	}
	// linearity: 2*e_{0,3,4} - 0.5*e_{2,2,1}
	c := onehot([]int{0, 3, 4}, 2)
	for i, v := range onehot([]int{2, 2, 1}, -0.5) {
		c[i] += v
	}
	g := run(constant(c))
	for i := range g {
		want := 2*grads[0][i] - 0.5*grads[2][i]
		if math.Abs(g[i]-want) > 1e-12*(1+math.Abs(want)) {
			t.Fatalf("entry %d: VJP of a combination %v, combination of VJPs %v", i, g[i], want)
		}
	}
	// c = z: the gradient of 0.5*|z_i|^2 for each example i.
	g = run(func(z, cot []float32) { copy(cot, z) })
	xs := slices.Clone(x)
	for i := range batch {
		f := func() float64 {
			mustRun(t, logits, map[string][]float32{"x": xs}, nil)
			sum := 0.0
			for _, v := range out64(t, logits, "logits")[i*classes : (i+1)*classes] {
				sum += v * v / 2
			}
			return sum
		}
		idx := rng.Perm(d)[:8]
		for j := range idx {
			idx[j] += i * d
		}
		worst = math.Max(worst, checkFD(t, fmt.Sprintf("example %d, half squared norm", i), xs, idx, g, f))
	}
	t.Logf("VJP vs finite differences: max relative error %.2g", worst)
}

// TestFloat32MatchesFloat64 runs the float32 fast paths (direct
// convolutions, vector pooling, the assembly GEMM) through whole networks
// at the sizes of the real data, against the float64 reference path: the
// loss, the input gradient (forward convolutions and data gradients) and a
// train step's parameter gradients (filter gradients).
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, tc := range []struct {
		arch  string
		shape []int
	}{
		{"madry-mnist", []int{1, 28, 28}},
		{"cifar-cnn", []int{3, 32, 32}},
		{"preact-resnet18", []int{3, 32, 32}}, // strided convolutions, both paths
	} {
		t.Run(tc.arch, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			net := newTestNet(t, tc.arch, tc.shape, 4)
			const batch = 3
			x, y := gridImages(rng, batch, tc.shape), randLabels(rng, batch)
			p32 := compiled(t)(engine.NewInputGrad(net, batch, engine.CrossEntropy))
			p64 := compiled(t)(engine.NewInputGrad(net, batch, engine.CrossEntropy, engine.WithFloat64()))
			mustRun(t, p32, map[string][]float32{"x": x}, y)
			mustRun(t, p64, map[string][]float32{"x": x}, y)
			l32, l64 := out32(t, p32, "loss"), out64(t, p64, "loss")
			for i := range l64 {
				if math.Abs(float64(l32[i])-l64[i]) > 1e-4*(1+math.Abs(l64[i])) {
					t.Errorf("loss %d: float32 %v, float64 %v", i, l32[i], l64[i])
				}
			}
			g32, g64 := out32(t, p32, "grad"), out64(t, p64, "grad")
			scale := 0.0
			for _, v := range g64 {
				scale = max(scale, math.Abs(v))
			}
			if scale == 0 {
				t.Fatal("zero input gradient: the check is vacuous")
			}
			for i := range g64 {
				if math.Abs(float64(g32[i])-g64[i]) > 1e-3*scale {
					t.Fatalf("grad[%d]: float32 %v, float64 %v (largest %v)", i, g32[i], g64[i], scale)
				}
			}

			s32 := compiled(t)(engine.NewTrainStep(net, batch, engine.CrossEntropy))
			s64 := compiled(t)(engine.NewTrainStep(net, batch, engine.CrossEntropy, engine.WithFloat64()))
			mustRun(t, s32, map[string][]float32{"x": x}, y)
			mustRun(t, s64, map[string][]float32{"x": x}, y)
			pg32, err := s32.ParamGrads()
			if err != nil {
				t.Fatal(err)
			}
			pg32 = slices.Clone(pg32)
			pg64, err := s64.ParamGrads()
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range pg64 {
				largest := 0.0
				for _, v := range want {
					largest = max(largest, math.Abs(float64(v)))
				}
				for j, v := range want {
					if math.Abs(float64(pg32[i][j]-v)) > 1e-3*largest {
						t.Fatalf("%s entry %d: float32 gradient %v, float64 %v (largest %v)", net.Trainable()[i].Name, j, pg32[i][j], v, largest)
					}
				}
			}
		})
	}
}

// TestOracleHold checks that a held oracle computes what one never held
// does, with a program compiled before the hold and one compiled during it,
// and that once released it follows a change of the weights.
func TestOracleHold(t *testing.T) {
	shape := []int{1, 8, 8}
	net := newTestNet(t, "madry-mnist", shape, 13)
	const batch = 4
	d := 64
	rng := rand.New(rand.NewPCG(13, 14))
	x, y := gridImages(rng, batch, shape), randLabels(rng, batch)
	type result struct{ loss, grad, logits []float32 }
	eval := func(o *engine.Oracle) result {
		t.Helper()
		r := result{make([]float32, batch), make([]float32, batch*d), make([]float32, batch*classes)}
		if err := o.LossGrad(attack.LossCE, x, y, batch, r.loss, r.grad, nil); err != nil {
			t.Fatal(err)
		}
		if err := o.Logits(x, batch, r.logits); err != nil {
			t.Fatal(err)
		}
		return r
	}
	fresh := func() result {
		t.Helper()
		o := engine.NewOracle(net, batch)
		defer o.Close()
		return eval(o)
	}
	same := func(when string, got, want result) {
		t.Helper()
		if !slices.Equal(got.loss, want.loss) || !slices.Equal(got.grad, want.grad) || !slices.Equal(got.logits, want.logits) {
			t.Errorf("%s: loss, gradient or logits differ from an oracle never held", when)
		}
	}
	want := fresh()
	o := engine.NewOracle(net, batch)
	defer o.Close()
	if err := o.LossGrad(attack.LossCE, x, y, batch, make([]float32, batch), make([]float32, batch*d), nil); err != nil {
		t.Fatal(err) // the gradient program is compiled before the hold, the logits one during it
	}
	release := o.Hold()
	inner := o.Hold()
	same("held", eval(o), want)
	inner()
	inner() // a second call does nothing
	same("held, again", eval(o), want)
	release()
	for _, p := range net.Params {
		if p.Trainable {
			for i := range p.Data {
				p.Data[i] *= 0.75
			}
		}
	}
	same("released, weights changed", eval(o), fresh())
}
