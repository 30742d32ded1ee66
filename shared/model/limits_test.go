package model_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sgn/shared/model"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func config(arch string, shape ...int) model.Config {
	c := model.Config{Arch: arch, InShape: shape, Classes: 10}
	for range min(shape[0], 8) {
		c.Mean, c.Std = append(c.Mean, 0.5), append(c.Std, 0.25)
	}
	return c
}

// A configuration too large to build is refused before anything is
// allocated for it, whatever claims it (a checkpoint, a stream's shape).
func TestConfigSizeBounds(t *testing.T) {
	for _, tc := range []struct {
		cfg  model.Config
		want string // "": accepted
	}{
		{config("mlp", 1, 4096, 4096), "parameters (17.2 GB of float32), more than the 268435456"},
		{config("madry-mnist", 1, 8, 1000000), "parameters (131 GB of float32), more than the 268435456"},
		{config("mlp", 1, 1000, 1000000), "more than the 16777216 values an input may have"},
		{config("mlp", 1<<40, 1<<40, 1<<40), "more than the 16777216 values an input may have"},
		{config("mlp", 3, 32, 32), ""},
		// Its parameters do not grow with the input: the engine checks
		// that its activations fit when it builds a program.
		{config("preact-resnet18", 3, 1024, 1024), ""},
	} {
		t.Run(fmt.Sprint(tc.cfg.Arch, tc.cfg.InShape), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			errValidate := tc.cfg.Validate()
			_, errParams := tc.cfg.Params()
			var errNew error
			if tc.want != "" {
				_, errNew = model.New(tc.cfg, rand.New(rand.NewPCG(1, 2)))
			}
			runtime.ReadMemStats(&after)
			for _, err := range []error{errValidate, errParams, errNew} {
				if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) || tc.want == "" && err != nil {
					t.Fatalf("error %v, want one saying %q", err, tc.want)
				}
			}
			if n := after.TotalAlloc - before.TotalAlloc; tc.want != "" && n > 1<<20 {
				t.Errorf("refusing the configuration allocated %d bytes", n)
			}
		})
	}
}

// Params lists what New builds, without data; TapChannels gives the
// channels that building the network on an example finds at each tap.
func TestParamsAndTapChannels(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, cfg := range []model.Config{config("mlp", 2, 5, 3), config("madry-mnist", 1, 28, 28), config("cifar-cnn", 3, 16, 8), config("preact-resnet18", 3, 8, 8)} {
		t.Run(cfg.Arch, func(t *testing.T) {
			net, err := model.New(cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			params, err := cfg.Params()
			if err != nil {
				t.Fatal(err)
			}
			if len(params) != len(net.Params) {
				t.Fatalf("Params lists %d tensors, New builds %d", len(params), len(net.Params))
			}
			for i, p := range params {
				q := net.Params[i]
				if p.Name != q.Name || !slices.Equal(p.Shape, q.Shape) || p.Trainable != q.Trainable || p.Decay != q.Decay || p.Data != nil {
					t.Errorf("Params[%d] = %s %v (trainable %v, decay %v, %d values), New has %s %v (%v, %v)",
						i, p.Name, p.Shape, p.Trainable, p.Decay, len(p.Data), q.Name, q.Shape, q.Trainable, q.Decay)
				}
			}
			g := G.NewGraph()
			b, err := net.Bind(g, tensor.Float32)
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.InShape
			x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, s[0], s[1], s[2]), G.WithName("x"))
			want := map[string]int{}
			if _, _, err := b.Forward(x, true, func(name string, h *G.Node) (*G.Node, error) {
				want[name] = h.Shape()[1]
				return h, nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := cfg.TapChannels()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(cfg.Taps()) {
				t.Errorf("TapChannels = %v, the built network has %v at taps %v", got, want, cfg.Taps())
			}
		})
	}
}
