package train

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/classifier"
	"sgn/shared/engine"
	"sgn/shared/sgn"
)

// toyData is a learnable 3-class problem on 1x4x4 images: the class is the
// quadrant row with the brightest mean.
func toyData(n int, seed uint64) Data {
	r := rand.New(rand.NewPCG(seed, 1))
	b := &stream.Batch{Pixels: make([]uint8, n*16), Labels: make([]int64, n)}
	for i := 0; i < n; i++ {
		c := r.IntN(3)
		b.Labels[i] = int64(c)
		for j := 0; j < 16; j++ {
			v := r.IntN(100)
			if j/4 == c {
				v += 120
			}
			b.Pixels[i*16+j] = uint8(v)
		}
	}
	h := stream.Header{Shape: []int{1, 4, 4}, Elem: stream.Uint8, Metadata: map[string]string{
		stream.MetaDataset: "toy", stream.MetaClasses: `["a","b","c"]`, stream.MetaPixelScale: "0.00392156862745098"}}
	return Data{Header: h, Examples: b}
}

func toyConfig(adv string) Config {
	return Config{Arch: "mlp", Epochs: 2, Batch: 16, Optimizer: "sgd", LR: 0.05, Schedule: "cyclic", Momentum: 0.9,
		WeightDecay: 5e-4, Adv: adv, Norm: "linf", Eps: 0.1, Steps: 3, Seed: 7, Val: 16, ValSteps: 3}
}

func runToEnd(t *testing.T, tr *Trainer) *classifier.Classifier {
	t.Helper()
	var last *classifier.Classifier
	err := tr.Run(context.Background(), Hooks{Save: func(c *classifier.Classifier) error { last = c; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func params(c *classifier.Classifier) [][]float32 {
	var out [][]float32
	for _, p := range c.Net.Params {
		out = append(out, p.Data)
	}
	return out
}

func equalParams(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// roundTrip passes a classifier through the checkpoint format.
func roundTrip(t *testing.T, c *classifier.Classifier) *classifier.Classifier {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := classifier.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTrainingLearnsAndIsDeterministic(t *testing.T) {
	for _, adv := range []string{"none", "fgsm", "pgd", "trades"} {
		t.Run(adv, func(t *testing.T) {
			data := toyData(160, 1)
			var runs [2][][]float32
			var recs []Record
			for i := range runs {
				tr, err := New(toyConfig(adv), data)
				if err != nil {
					t.Fatal(err)
				}
				recs = recs[:0]
				var last *classifier.Classifier
				err = tr.Run(context.Background(), Hooks{
					Save:  func(c *classifier.Classifier) error { last = c; return nil },
					Epoch: func(r Record) error { recs = append(recs, r); return nil },
				})
				tr.Close()
				if err != nil {
					t.Fatal(err)
				}
				runs[i] = params(last)
			}
			if !equalParams(runs[0], runs[1]) {
				t.Error("two runs with the same seed and data gave different weights")
			}
			if len(recs) != 2 || recs[1].ValClean == nil {
				t.Fatalf("records %+v: want 2 with validation", recs)
			}
			if *recs[1].ValClean < 0.8 {
				t.Errorf("validation accuracy %.3f after 2 epochs on an easy problem", *recs[1].ValClean)
			}
			if *recs[1].ValPGD > *recs[1].ValClean {
				t.Errorf("PGD accuracy %.3f above clean %.3f", *recs[1].ValPGD, *recs[1].ValClean)
			}
		})
	}
}

func TestResumeEqualsUninterruptedRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"pgd", toyConfig("pgd")},
		{"sgn-fgsm", func() Config {
			c := toyConfig("fgsm")
			s := sgn.DefaultConfig()
			s.Phi = "l2"
			c.SGN = &s
			return c
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := toyData(160, 2)
			tr, err := New(tc.cfg, data)
			if err != nil {
				t.Fatal(err)
			}
			want := params(runToEnd(t, tr))
			tr.Close()

			// Interrupt in the middle of the first epoch.
			tr, err = New(tc.cfg, data)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var saved *classifier.Classifier
			err = tr.Run(ctx, Hooks{
				Batch: func(epoch, b, n int, _ float64) {
					if epoch == 0 && b == 3 {
						cancel()
					}
				},
				Save: func(c *classifier.Classifier) error { saved = c; return nil },
			})
			tr.Close()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run returned %v, want context.Canceled", err)
			}
			if saved == nil {
				t.Fatal("no checkpoint saved on interrupt")
			}
			resumed, err := Resume(roundTrip(t, saved), data)
			if err != nil {
				t.Fatal(err)
			}
			if p := resumed.Progress(); p.Epoch != 0 || p.Batch != 3 {
				t.Fatalf("resumed at %+v, want epoch 0 batch 3", p)
			}
			got := params(runToEnd(t, resumed))
			resumed.Close()
			if !equalParams(got, want) {
				t.Error("resumed run ended with weights different from the uninterrupted run")
			}
		})
	}
}

func TestCheckpointRestoresPredictions(t *testing.T) {
	cfg := toyConfig("none")
	s := sgn.DefaultConfig()
	s.Gate = "-0.1"
	cfg.SGN = &s
	data := toyData(96, 3)
	tr, err := New(cfg, data)
	if err != nil {
		t.Fatal(err)
	}
	c := runToEnd(t, tr)
	tr.Close()
	loaded := roundTrip(t, c)
	x := make([]float32, 32*16)
	labels := make([]int64, 32)
	tr.gather(seq(32), x, labels)
	logits := func(c *classifier.Classifier) []float32 {
		o := engine.NewOracle(c.Net, 16, engine.WithForward(c.Forward()))
		defer o.Close()
		z := make([]float32, 32*3)
		if err := o.Logits(x, 32, z); err != nil {
			t.Fatal(err)
		}
		return z
	}
	if a, b := logits(c), logits(loaded); !slices.Equal(a, b) {
		t.Errorf("logits differ after a checkpoint round trip:\n%v\n%v", a[:6], b[:6])
	}
	if loaded.SGN == nil || loaded.SGN.Gate != "-0.1" {
		t.Errorf("SGN configuration lost: %+v", loaded.SGN)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestBadInput(t *testing.T) {
	good := toyData(64, 4)
	badLabel := toyData(64, 4)
	badLabel.Examples.Labels[5] = 3
	nanData := toyData(64, 4)
	nanData.Header.Elem = stream.Float32
	nanData.Examples.Floats = make([]float32, 64*16)
	nanData.Examples.Floats[17] = float32(nan())
	nanData.Examples.Pixels = nil
	empty := toyData(0, 4)
	badShape := toyData(64, 4)
	badShape.Header.Shape = []int{16}
	for _, tc := range []struct {
		name string
		data Data
		cfg  func(*Config)
		want string
	}{
		{"label out of range", badLabel, nil, "label 3"},
		{"nan pixel", nanData, nil, "example 1 has pixel NaN outside [0,1]"},
		{"empty", empty, nil, "no training examples"},
		{"flat images", badShape, nil, "C,H,W"},
		{"arch does not take shape", good, func(c *Config) { c.Arch = "cifar-cnn" }, "multiples of 8"},
		{"val holds out all", good, func(c *Config) { c.Val = 64 }, "holds out all"},
		{"batch too big", good, func(c *Config) { c.Batch = 100; c.Val = 0 }, "fewer than one batch"},
		{"unknown adv", good, func(c *Config) { c.Adv = "free" }, "adversarial training"},
		{"unknown arch", good, func(c *Config) { c.Arch = "vgg" }, "unknown architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := toyConfig("none")
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			tr, err := New(cfg, tc.data)
			if err == nil {
				tr.Close()
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestDivergenceStopsWithLastGoodSnapshot(t *testing.T) {
	cfg := toyConfig("none")
	cfg.LR = 1e30 // the weights overflow within a few steps
	cfg.Schedule = "constant"
	cfg.Epochs = 5
	tr, err := New(cfg, toyData(160, 5))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	saves := 0
	var last *classifier.Classifier
	err = tr.Run(context.Background(), Hooks{Save: func(c *classifier.Classifier) error { saves++; last = c; return nil }})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("got %v, want ErrDiverged", err)
	}
	if last != nil {
		for _, p := range last.Net.Params {
			for _, v := range p.Data {
				if v != v {
					t.Fatalf("snapshot %s holds NaN: a snapshot must be the last good state", p.Name)
				}
			}
		}
	}
}

func nan() float64 { var z float64; return z / z }

func TestEpsWarmupRampsLinearly(t *testing.T) {
	cfg := toyConfig("pgd")
	cfg.EpsWarmup = 2
	tr, err := New(cfg, toyData(160, 6))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	n := tr.Batches() // 9 batches of 16 from 144 training examples
	for _, tc := range []struct {
		step int
		want float64
	}{{0, 1 / float64(2*n)}, {n - 1, 0.5}, {2*n - 1, 1}, {5 * n, 1}} {
		tr.progress.Step = tc.step
		if got := tr.epsScale(); got != tc.want {
			t.Errorf("step %d: eps scale %v, want %v", tc.step, got, tc.want)
		}
	}
	tr.cfg.EpsWarmup = 0
	if got := tr.epsScale(); got != 1 {
		t.Errorf("no warm-up: eps scale %v, want 1", got)
	}
}
