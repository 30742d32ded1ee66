package engine_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"sgn/shared/attack"
	"sgn/shared/engine"
	"sgn/shared/kernels"
	"sgn/shared/model"
	"sgn/shared/ops"
	"sgn/shared/optim"
	"sgn/shared/sgn"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The benchmarks run the project's benchmark workload (docs/design.md): the Madry MNIST CNN on a
// batch of 128 random float32 images in [0,1] with random labels, one
// operation per b.N iteration. pipelines/bench.sh runs them and compares
// them with pipelines/bench_torch.py.

const benchBatch = 128

func benchNet(b *testing.B) *model.Net {
	b.Helper()
	cfg := model.Config{Arch: "madry-mnist", InShape: []int{1, 28, 28}, Classes: 10, Mean: []float32{0.1307}, Std: []float32{0.3081}}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	return net
}

// benchData returns a batch of random images in [0,1] and random labels.
func benchData(n int) ([]float32, []int64) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*28*28)
	for i := range x {
		x[i] = r.Float32()
	}
	y := make([]int64, n)
	for i := range y {
		y[i] = int64(r.IntN(10))
	}
	return x, y
}

// BenchmarkKernels does no work: it logs the kernels sgn chose (AVX-512
// 6x32, AVX2 6x16, or none), which pipelines/bench.sh prints with the
// figures.
func BenchmarkKernels(b *testing.B) {
	if b.N == 1 {
		b.Logf("sgn kernels: %s", kernels.Name())
	}
	for range b.N {
	}
}

// run times op b.N times after one untimed warm-up call and reports the
// mean wall time per call in milliseconds, the median call's (p50-ms/op,
// the statistic pipelines/bench.sh compares with PyTorch's, which is
// robust to a call that a neighbour's burst slowed) and, where the OS
// tells, the minor page faults per call and the system share of the CPU
// time: page faults of freshly allocated memory once took a third of the
// CPU time of a loaded machine in the kernel.
func run(b *testing.B, op func() error) {
	b.Helper()
	if err := op(); err != nil {
		b.Fatal(err)
	}
	calls := make([]time.Duration, b.N)
	b.ResetTimer()
	faults0, user0, sys0, ok := usage()
	for i := range b.N {
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		calls[i] = time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
	b.ReportMetric(float64(median(calls).Microseconds())/1e3, "p50-ms/op")
	if faults1, user1, sys1, ok1 := usage(); ok && ok1 {
		b.ReportMetric(float64(faults1-faults0)/float64(b.N), "faults/op")
		if cpu := (user1 - user0) + (sys1 - sys0); cpu > 0 {
			b.ReportMetric(100*float64(sys1-sys0)/float64(cpu), "sys-%")
		}
	}
}

// median returns the median of d (the mean of the middle two for an even
// count); it sorts d.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

// trainStep returns one SGD-momentum step of p on a batch of random
// MNIST-shaped images, as in train.Trainer's trainBatch.
func trainStep(b *testing.B, net *model.Net, p *engine.Program) func() error {
	b.Helper()
	x, y := benchData(benchBatch)
	return trainStepOn(net, p, x, y)
}

// trainStepOn is trainStep on the images x and labels y.
func trainStepOn(net *model.Net, p *engine.Program, x []float32, y []int64) func() error {
	params := net.Trainable()
	sizes := make([]int, len(params))
	data := make([][]float32, len(params))
	for i, q := range params {
		sizes[i], data[i] = len(q.Data), q.Data
	}
	opt := optim.NewSGD(sizes, optim.WithMomentum(0.9))
	return func() error {
		if err := p.Set("x", x); err != nil {
			return err
		}
		if err := p.SetLabels(y); err != nil {
			return err
		}
		if err := p.Run(); err != nil {
			return err
		}
		grads, err := p.ParamGrads()
		if err != nil {
			return err
		}
		return opt.Step(data, grads, 0.01)
	}
}

// BenchmarkTrainStep is a cross-entropy training step: forward, backward to
// every parameter, SGD with momentum 0.9.
func BenchmarkTrainStep(b *testing.B) {
	net := benchNet(b)
	p, err := engine.NewTrainStep(net, benchBatch, engine.CrossEntropy)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	run(b, trainStep(b, net, p))
}

// BenchmarkPGD10 is a 10-step L∞ PGD attack (eps 0.3, random start, last
// iterate: ten input-gradient passes) on 128 examples, into buffers kept
// across attacks as adversarial training keeps them.
func BenchmarkPGD10(b *testing.B) {
	net := benchNet(b)
	o := engine.NewOracle(net, benchBatch)
	defer o.Close()
	a := attack.PGD{Norm: attack.Linf, Eps: 0.3, Steps: 10, RandomStart: true, Restarts: 1, Loss: attack.LossCE, LastIterate: true}
	x, y := benchData(benchBatch)
	rng := rand.New(rand.NewPCG(5, 6))
	var ws attack.Workspace
	xadv := make([]float32, len(x))
	run(b, func() error {
		return a.Perturb(&ws, xadv, o, x, y, benchBatch, rng)
	})
}

// BenchmarkDoubleBackprop differentiates the loss plus the squared norm of
// its input gradient with respect to every parameter (no optimiser step).
func BenchmarkDoubleBackprop(b *testing.B) {
	net := benchNet(b)
	g := G.NewGraph()
	bound, err := net.Bind(g, tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	xs, labels := benchData(benchBatch)
	ys := make([]float32, benchBatch*10)
	for i, l := range labels {
		ys[i*10+int(l)] = 1
	}
	x := G.NewTensor(g, G.Float32, 4, G.WithShape(benchBatch, 1, 28, 28), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(benchBatch, 1, 28, 28), tensor.WithBacking(xs))))
	y := G.NewTensor(g, G.Float32, 2, G.WithShape(benchBatch, 10), G.WithName("y"),
		G.WithValue(tensor.New(tensor.WithShape(benchBatch, 10), tensor.WithBacking(ys))))
	logits, _, err := bound.Forward(x, true, nil)
	if err != nil {
		b.Fatal(err)
	}
	loss, err := ops.SoftmaxCrossEntropy(logits, y)
	if err != nil {
		b.Fatal(err)
	}
	gx, err := ops.Grad(loss, x)
	if err != nil {
		b.Fatal(err)
	}
	sq, err := ops.Mul(gx[0], gx[0])
	if err != nil {
		b.Fatal(err)
	}
	// sum = mean · size, with this package's differentiable reductions.
	mean, err := ops.Mean(sq)
	if err != nil {
		b.Fatal(err)
	}
	penalty, err := ops.Affine(mean, float64(sq.Shape().TotalSize()), 0)
	if err != nil {
		b.Fatal(err)
	}
	total, err := G.Add(loss, penalty)
	if err != nil {
		b.Fatal(err)
	}
	grads, err := ops.Grad(total, bound.Trainable...)
	if err != nil {
		b.Fatal(err)
	}
	if len(grads) != len(net.Trainable()) {
		b.Fatalf("%d gradients for %d parameters", len(grads), len(net.Trainable()))
	}
	// The penalty is read as soon as it is computed (the tape machine reuses
	// buffers) to check that the graph does compute an input gradient.
	var pv G.Value
	G.Read(penalty, &pv)
	if err := ops.ReuseOutputs(g); err != nil {
		b.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	run(b, func() error {
		m.Reset()
		return m.RunAll()
	})
	if v, ok := pv.Data().(float32); !ok || !(v > 0) || v-v != 0 {
		b.Fatalf("input-gradient penalty %v, want a positive number", pv.Data())
	}
}

// BenchmarkSGNStep is a training step of an SGN with the default
// configuration (input tap, sign, learned gate, exact gradients): probe
// pass, self-gradient, response pass, backward, SGD step. The backward
// skips the self-gradient's second-order path, whose gradient through
// sign is zero; bench_torch.py's sgn_step_ms skips it too.
func BenchmarkSGNStep(b *testing.B) {
	net := benchNet(b)
	cfg := sgn.DefaultConfig()
	if err := sgn.Wrap(net, cfg); err != nil {
		b.Fatal(err)
	}
	p, err := engine.NewTrainStep(net, benchBatch, engine.CrossEntropy, engine.WithForward(sgn.Forward(cfg)))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	run(b, trainStep(b, net, p))
}

// cifarStep is a training step (batch norm in training mode, SGD with
// momentum 0.9) of arch on a batch of 128 random 3×32×32 images with random
// labels, for pipelines/bench.sh --cifar.
func cifarStep(b *testing.B, arch string) {
	cfg := model.Config{Arch: arch, InShape: []int{3, 32, 32}, Classes: 10,
		Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}
	net, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	p, err := engine.NewTrainStep(net, benchBatch, engine.CrossEntropy, engine.WithTrainMode())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, benchBatch*3*32*32)
	for i := range x {
		x[i] = r.Float32()
	}
	y := make([]int64, benchBatch)
	for i := range y {
		y[i] = int64(r.IntN(10))
	}
	run(b, trainStepOn(net, p, x, y))
}

// BenchmarkCIFARCNNStep is a cifar-cnn training step on CIFAR-shaped data.
func BenchmarkCIFARCNNStep(b *testing.B) { cifarStep(b, "cifar-cnn") }

// BenchmarkPreActResNet18Step is a preact-resnet18 training step on
// CIFAR-shaped data.
func BenchmarkPreActResNet18Step(b *testing.B) { cifarStep(b, "preact-resnet18") }
