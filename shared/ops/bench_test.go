package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"sgn/shared/kernels"
)

// madry builds the Madry MNIST CNN's cross-entropy loss for a batch of
// float32 images x [N,1,28,28] and one-hot labels y [N,10], returning the
// loss and the parameters.
func madry(g *G.ExprGraph, x, y *G.Node, r *rand.Rand) (*G.Node, G.Nodes, error) {
	param := func(name string, scale float32, shape ...int) *G.Node {
		v := make([]float32, tensor.Shape(shape).TotalSize())
		for i := range v {
			v[i] = scale * float32(r.NormFloat64())
		}
		return G.NewTensor(g, G.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
	}
	w1, b1 := param("w1", 0.2, 32, 1, 5, 5), param("b1", 0.01, 32)
	w2, b2 := param("w2", 0.035, 64, 32, 5, 5), param("b2", 0.01, 64)
	w3, b3 := param("w3", 0.025, 3136, 1024), param("b3", 0.01, 1024)
	w4, b4 := param("w4", 0.04, 1024, 10), param("b4", 0.01, 10)
	h, err := Conv2d(x, w1, 1, 2)
	steps := []func(*G.Node) (*G.Node, error){
		func(h *G.Node) (*G.Node, error) { return AddChannelBias(h, b1) },
		ReLU,
		func(h *G.Node) (*G.Node, error) { return MaxPool2d(h, 2, 2) },
		func(h *G.Node) (*G.Node, error) { return Conv2d(h, w2, 1, 2) },
		func(h *G.Node) (*G.Node, error) { return AddChannelBias(h, b2) },
		ReLU,
		func(h *G.Node) (*G.Node, error) { return MaxPool2d(h, 2, 2) },
		Flatten,
		func(h *G.Node) (*G.Node, error) { return Linear(h, w3, b3) },
		ReLU,
		func(h *G.Node) (*G.Node, error) { return Linear(h, w4, b4) },
		func(h *G.Node) (*G.Node, error) { return SoftmaxCrossEntropy(h, y) },
	}
	for _, s := range steps {
		if err != nil {
			return nil, nil, err
		}
		h, err = s(h)
	}
	return h, G.Nodes{w1, b1, w2, b2, w3, b3, w4, b4}, err
}

func madryBatch(r *rand.Rand, n int) (x, y *tensor.Dense) {
	xs := make([]float32, n*28*28)
	for i := range xs {
		xs[i] = r.Float32()
	}
	ys := make([]float32, n*10)
	for i := 0; i < n; i++ {
		ys[i*10+r.IntN(10)] = 1
	}
	return tensor.New(tensor.WithShape(n, 1, 28, 28), tensor.WithBacking(xs)), tensor.New(tensor.WithShape(n, 10), tensor.WithBacking(ys))
}

// BenchmarkMadryTrainStep is one forward and backward pass (gradients of all
// parameters) of the Madry MNIST CNN on a batch of 128 float32 images, on a
// reused tape machine with the batch bound by G.Let.
func BenchmarkMadryTrainStep(b *testing.B) {
	benchMadry(b, false)
}

// BenchmarkMadryDoubleBackprop adds the squared input-gradient norm to the
// loss and differentiates the sum with respect to the parameters.
func BenchmarkMadryDoubleBackprop(b *testing.B) {
	benchMadry(b, true)
}

func benchMadry(b *testing.B, double bool) {
	const n = 128
	r := rand.New(rand.NewPCG(1, 2))
	g := G.NewGraph()
	x := G.NewTensor(g, G.Float32, 4, G.WithShape(n, 1, 28, 28), G.WithName("x"))
	y := G.NewTensor(g, G.Float32, 2, G.WithShape(n, 10), G.WithName("y"))
	loss, params, err := madry(g, x, y, r)
	if err != nil {
		b.Fatal(err)
	}
	if double {
		gx, err := Grad(loss, x)
		if err != nil {
			b.Fatal(err)
		}
		sq, err := mul(gx[0], gx[0])
		if err != nil {
			b.Fatal(err)
		}
		pen, err := apply(newSumOp(-1, 4, 1), sq)
		if err != nil {
			b.Fatal(err)
		}
		if loss, err = G.Add(loss, pen); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := Grad(loss, params...); err != nil {
		b.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	xv, yv := madryBatch(r, n)
	cpu0, cpuOK := cpuTime()
	b.ResetTimer()
	for range b.N {
		if err := G.Let(x, xv); err != nil {
			b.Fatal(err)
		}
		if err := G.Let(y, yv); err != nil {
			b.Fatal(err)
		}
		if err := m.RunAll(); err != nil {
			b.Fatal(err)
		}
		m.Reset()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	if cpu1, ok := cpuTime(); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkConvMadry times each convolution product of the Madry CNN on a
// batch of 128 (the train step's kernels), MNIST's layers and CIFAR-10's
// second, on the direct path and, where it fits, by Winograd's F(2×2,
// 5×5), each reusing its buffers as a compiled program does, and reports
// GFLOP/s of the direct arithmetic, two operations per multiply-add.
func BenchmarkConvMadry(b *testing.B) {
	const n = 128
	layers := []struct {
		name string
		g    convGeom
	}{
		{"conv1", convGeom{n: n, c: 1, h: 28, w: 28, o: 32, kh: 5, kw: 5, ho: 28, wo: 28, stride: 1, pad: 2}},
		{"conv2", convGeom{n: n, c: 32, h: 14, w: 14, o: 64, kh: 5, kw: 5, ho: 14, wo: 14, stride: 1, pad: 2}},
		{"cifar-conv2", convGeom{n: n, c: 32, h: 16, w: 16, o: 64, kh: 5, kw: 5, ho: 16, wo: 16, stride: 1, pad: 2}},
	}
	r := rand.New(rand.NewPCG(7, 8))
	fill := func(size int) []float32 {
		v := make([]float32, size)
		for i := range v {
			v[i] = r.Float32() - 0.5
		}
		return v
	}
	for _, l := range layers {
		g := l.g
		g.ckk, g.positions = g.c*g.kh*g.kw, g.ho*g.wo
		x, w, gy := fill(g.n*g.c*g.h*g.w), fill(g.o*g.ckk), fill(g.n*g.o*g.positions)
		flop := 2 * float64(g.n*g.o*g.ckk*g.positions)
		for _, p := range []struct {
			name string
			ok   bool
			do   func(*buffers)
		}{
			{"forward/direct", g.directForwardOK(), func(bf *buffers) { directForward(bf, g, x, w) }},
			{"forward/winograd", g.winograd5Fits(), func(bf *buffers) { winograd5Conv(bf, g.n, g.c, g.h, g.w, g.o, x, w, false) }},
			{"data/direct", g.directBackDataOK(), func(bf *buffers) { directBackData(bf, g, gy, w) }},
			{"data/winograd", g.winograd5Fits(), func(bf *buffers) { winograd5Conv(bf, g.n, g.o, g.h, g.w, g.c, gy, w, true) }},
			{"filter/direct", g.directBackFilterOK(), func(bf *buffers) { directBackFilter(bf, g, x, gy) }},
		} {
			if !p.ok {
				continue
			}
			b.Run(l.name+"/"+p.name, func(b *testing.B) {
				bf := &buffers{reuse: true, packs: &packSet{}}
				p.do(bf) // sizes the buffers
				b.ResetTimer()
				for range b.N {
					p.do(bf)
				}
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// data gradient of their three-channel input, for directLayout's choice.
func BenchmarkConvLayouts(b *testing.B) {
	for _, c := range []struct{ c, h, o int }{{3, 32, 32}, {32, 32, 32}, {32, 16, 64}, {64, 8, 128}, {64, 32, 64}, {128, 16, 128}, {256, 8, 256}, {32, 32, 3}, {64, 32, 3}} {
		g := convGeom{n: 64, c: c.c, h: c.h, w: c.h, o: c.o, kh: 3, kw: 3, ho: c.h, wo: c.h, stride: 1, pad: 1}
		g.ckk, g.positions = c.c*9, c.h*c.h
		x, w := make([]float32, g.n*g.c*g.h*g.w), make([]float32, g.o*g.ckk)
		y := make([]float32, g.n*g.o*g.positions)
		p := newDirectPlan(nil, g.c, g.h, g.w, g.o, g.kh, g.kw, g.pad, g.pad, 1, kernels.Wide())
		for _, tiling := range []directTiling{tileRows, tileChannels, tilePlanes, tileTapBlocks} {
			b.Run(fmt.Sprintf("%dx%dx%d->%d/%v", c.c, c.h, c.h, c.o, tiling), func(b *testing.B) {
				for range b.N {
					p.convolve(g.n, x, w, y, tiling)
				}
				b.ReportMetric(2*float64(g.n*g.o*g.ckk*g.positions)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkConvResNet times the forward pass and the filter gradient of
// preact-resnet18's strided convolutions and of its last stage (batch 128)
// on the direct path and through im2col, for the choice between them.
func BenchmarkConvResNet(b *testing.B) {
	for _, c := range []struct{ c, h, o, k, pad, stride int }{
		{64, 32, 128, 3, 1, 2}, {64, 32, 128, 1, 0, 2}, {256, 8, 512, 3, 1, 2}, {256, 8, 512, 1, 0, 2}, {512, 4, 512, 3, 1, 1},
	} {
		g, err := convOp{mode: convForward, stride: c.stride, pad: c.pad}.geom(tensor.Shape{128, c.c, c.h, c.h}, tensor.Shape{c.o, c.c, c.k, c.k})
		if err != nil {
			b.Fatal(err)
		}
		x, w, gy := make([]float32, 128*c.c*c.h*c.h), make([]float32, c.o*g.ckk), make([]float32, 128*c.o*g.positions)
		name := fmt.Sprintf("%dx%dx%d->%d-k%d-s%d", c.c, c.h, c.h, c.o, c.k, c.stride)
		for _, v := range []struct {
			name string
			do   func()
		}{
			{"forward/direct", func() { directForwardWith(nil, g, x, w, tileChannels, kernels.Wide()) }},
			{"forward/im2col", func() { convForwardIm2col(nil, g, x, w) }},
			{"filter/direct", func() { directBackFilter(nil, g, x, gy) }},
			{"filter/im2col", func() { convBackFilterIm2col(nil, g, x, gy) }},
		} {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				for range b.N {
					v.do()
				}
			})
		}
	}
}

// BenchmarkConvCIFAR times the three products of the CIFAR networks' 3×3
// stride-1 convolutions (batch 128) on the direct path, through im2col
// and by Winograd's F(2×2, 3×3), in GFLOP/s of the direct arithmetic (two operations per multiply-add), for the choice between them.
func BenchmarkConvCIFAR(b *testing.B) {
	for _, c := range []struct{ c, h, o int }{
		{3, 32, 32}, {32, 16, 64}, {64, 8, 128}, {64, 32, 64}, {128, 16, 128}, {256, 8, 256}, {512, 4, 512},
	} {
		g, err := convOp{mode: convForward, stride: 1, pad: 1}.geom(tensor.Shape{128, c.c, c.h, c.h}, tensor.Shape{c.o, c.c, 3, 3})
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, 8))
		fill := func(size int) []float32 {
			v := make([]float32, size)
			for i := range v {
				v[i] = r.Float32() - 0.5
			}
			return v
		}
		x, w, gy := fill(g.n*g.c*g.h*g.w), fill(g.o*g.ckk), fill(g.n*g.o*g.positions)
		// Each variant reuses its buffers, as a compiled program does.
		bufs := func() *buffers { return &buffers{reuse: true, packs: &packSet{}} }
		flop := 2 * float64(g.n*g.o*g.ckk*g.positions)
		name := fmt.Sprintf("%dx%dx%d->%d", c.c, c.h, c.h, c.o)
		for _, v := range []struct {
			name string
			ok   bool
			do   func(*buffers)
		}{
			{"forward/direct", g.directForwardOK(), func(bf *buffers) { directForward(bf, g, x, w) }},
			{"forward/im2col", true, func(bf *buffers) { convForwardIm2col(bf, g, x, w) }},
			{"data/direct", g.directBackDataOK(), func(bf *buffers) { directBackData(bf, g, gy, w) }},
			{"data/im2col", true, func(bf *buffers) { convBackDataIm2col(bf, g, gy, w) }},
			{"filter/direct", g.directBackFilterOK(), func(bf *buffers) { directBackFilter(bf, g, x, gy) }},
			{"filter/im2col", true, func(bf *buffers) { convBackFilterIm2col(bf, g, x, gy) }},
			{"forward/winograd", g.winogradFits(), func(bf *buffers) { winogradConv(bf, g.n, g.c, g.h, g.w, g.o, x, w, false) }},
			{"data/winograd", g.winogradFits(), func(bf *buffers) { winogradConv(bf, g.n, g.o, g.h, g.w, g.c, gy, w, true) }},
			{"filter/winograd", g.winogradFits(), func(bf *buffers) { winogradBackFilter(bf, g.n, g.c, g.h, g.w, g.o, x, gy) }},
		} {
			if !v.ok {
				continue
			}
			b.Run(name+"/"+v.name, func(b *testing.B) {
				bf := bufs()
				v.do(bf) // sizes the buffers
				b.ResetTimer()
				for range b.N {
					v.do(bf)
				}
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
