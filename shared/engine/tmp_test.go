package engine_test

import (
	"math/rand/v2"
	"testing"

	"sgn/shared/engine"
	"sgn/shared/model"
	"sgn/shared/optim"
)

func BenchmarkTmpCIFAR(b *testing.B) {
	for _, arch := range []string{"cifar-cnn", "preact-resnet18"} {
		b.Run(arch, func(b *testing.B) {
			cfg := model.Config{Arch: arch, InShape: []int{3, 32, 32}, Classes: 10, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}
			net, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				b.Fatal(err)
			}
			const n = 128
			p, err := engine.NewTrainStep(net, n, engine.CrossEntropy, engine.WithTrainMode())
			if err != nil {
				b.Fatal(err)
			}
			params := net.Trainable()
			sizes := make([]int, len(params))
			data := make([][]float32, len(params))
			for i, q := range params {
				sizes[i], data[i] = len(q.Data), q.Data
			}
			opt := optim.NewSGD(sizes, optim.WithMomentum(0.9))
			r := rand.New(rand.NewPCG(3, 4))
			x := make([]float32, n*3*32*32)
			for i := range x {
				x[i] = r.Float32()
			}
			y := make([]int64, n)
			for i := range y {
				y[i] = int64(r.IntN(10))
			}
			step := func() error {
				if err := p.Set("x", x); err != nil {
					return err
				}
				if err := p.SetLabels(y); err != nil {
					return err
				}
				if err := p.Run(); err != nil {
					return err
				}
				g, err := p.ParamGrads()
				if err != nil {
					return err
				}
				return opt.Step(data, g, 0.01)
			}
			run(b, step)
		})
	}
}
