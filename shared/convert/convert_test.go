package convert

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"sgn/format/safetensors"
	"sgn/shared/classifier"
	"sgn/shared/model"
	"sgn/shared/sgn"
)

func mnist(arch string) model.Config {
	return model.Config{Arch: arch, InShape: []int{1, 28, 28}, Classes: 10, Mean: []float32{0.1307}, Std: []float32{0.3081}}
}

func cifar(arch string) model.Config {
	return model.Config{Arch: arch, InShape: []int{3, 32, 32}, Classes: 10, Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2471, 0.2435, 0.2616}}
}

// randomClassifier returns a classifier whose every parameter and buffer
// is random, so that a value in the wrong place cannot go unnoticed.
func randomClassifier(t testing.TB, cfg model.Config, sc *sgn.Config) *classifier.Classifier {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := model.New(cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	if sc != nil {
		if err := sgn.Wrap(net, *sc); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range net.Params {
		for i := range p.Data {
			p.Data[i] = float32(rng.Float64() + 0.01)
		}
	}
	return &classifier.Classifier{Net: net, SGN: sc, Train: json.RawMessage(`{"progress":{"step":42}}`)}
}

func roundTrip(t testing.TB, c *classifier.Classifier) (*safetensors.File, *classifier.Classifier) {
	t.Helper()
	f, err := ToSafetensors(c)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	g, err := safetensors.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	back, note, err := FromSafetensors(g, "")
	if err != nil {
		t.Fatal(err)
	}
	if note != "" {
		t.Errorf("note %q for a file with metadata", note)
	}
	return g, back
}

func TestRoundTrip(t *testing.T) {
	inputTap := sgn.DefaultConfig()
	fixed := sgn.Config{Taps: []string{"conv1", "fc1"}, Phi: "l2", Label: "true", Grad: "detached", Gate: "-0.1"}
	tests := []struct {
		name string
		cfg  model.Config
		sgn  *sgn.Config
	}{
		{"mlp", mnist("mlp"), nil},
		{"madry-mnist", mnist("madry-mnist"), nil},
		{"madry-mnist sgn", mnist("madry-mnist"), &inputTap},
		{"madry-mnist fixed-gate sgn", mnist("madry-mnist"), &fixed},
		{"cifar-cnn", cifar("cifar-cnn"), nil},
		{"preact-resnet18 sgn", cifar("preact-resnet18"), &sgn.Config{Taps: []string{"input", "layer2"}, Phi: "sign", Label: "pred", Grad: "exact", Gate: "learned", GateBound: 0.3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := randomClassifier(t, tt.cfg, tt.sgn)
			_, back := roundTrip(t, c)
			if !equalConfig(back.Net.Config, c.Net.Config) || !equalSGN(back.SGN, c.SGN) || string(back.Train) != string(c.Train) {
				t.Errorf("configuration %+v %+v %s, want %+v %+v %s", back.Net.Config, back.SGN, back.Train, c.Net.Config, c.SGN, c.Train)
			}
			for i, p := range c.Net.Params {
				q := back.Net.Params[i]
				if q.Name != p.Name || !slices.Equal(q.Shape, p.Shape) || !slices.Equal(q.Data, p.Data) {
					t.Fatalf("parameter %s changed in the round trip", p.Name)
				}
			}
		})
	}
}

func equalConfig(a, b model.Config) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func equalSGN(a, b *sgn.Config) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestPyTorchLayout checks names, shapes and layouts against what
// pipelines/torch/models.py's state_dict has (make crosscheck loads them
// there with strict=True).
func TestPyTorchLayout(t *testing.T) {
	sc := sgn.DefaultConfig()
	tests := []struct {
		name  string
		c     *classifier.Classifier
		torch string // a tensor of the state_dict
		shape []int
		sgn   string // the parameter it comes from
	}{
		{"dense weight transposed", randomClassifier(t, mnist("mlp"), nil), "fc1.weight", []int{256, 784}, "fc1.w"},
		{"conv weight", randomClassifier(t, mnist("madry-mnist"), nil), "conv2.weight", []int{64, 32, 5, 5}, "conv2.w"},
		{"bias", randomClassifier(t, mnist("madry-mnist"), nil), "conv1.bias", []int{32}, "conv1.b"},
		{"bn weight", randomClassifier(t, cifar("cifar-cnn"), nil), "bn2.weight", []int{64}, "bn2.gamma"},
		{"bn bias", randomClassifier(t, cifar("cifar-cnn"), nil), "bn2.bias", []int{64}, "bn2.beta"},
		{"running var", randomClassifier(t, cifar("cifar-cnn"), nil), "bn3.running_var", []int{128}, "bn3.running_var"},
		{"resnet linear", randomClassifier(t, cifar("preact-resnet18"), nil), "linear.weight", []int{10, 512}, "fc.w"},
		{"resnet shortcut", randomClassifier(t, cifar("preact-resnet18"), nil), "layer3.0.shortcut.0.weight", []int{256, 128, 1, 1}, "layer3.0.shortcut.w"},
		{"sgn backbone", randomClassifier(t, mnist("madry-mnist"), &sc), "backbone.fc2.weight", []int{10, 1024}, "fc2.w"},
		{"sgn gate", randomClassifier(t, mnist("madry-mnist"), &sc), "gates.input", []int{1}, "sgn.gate.input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ToSafetensors(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			tn, ok := f.Tensor(tt.torch)
			if !ok {
				t.Fatalf("no tensor %s", tt.torch)
			}
			if !slices.Equal(tn.Shape, tt.shape) || tn.DType != safetensors.F32 {
				t.Fatalf("%s is %s %v, want F32 %v", tt.torch, tn.DType, tn.Shape, tt.shape)
			}
			got, _ := tn.Float32s()
			p := tt.c.Net.Param(tt.sgn)
			want := p.Data
			if len(p.Shape) == 2 {
				want = make([]float32, len(p.Data))
				in, out := p.Shape[0], p.Shape[1]
				for i := range in {
					for o := range out {
						want[o*in+i] = p.Data[i*out+o] // PyTorch's [out, in]
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s does not hold %s in PyTorch's layout", tt.torch, tt.sgn)
			}
		})
	}
	f, _ := ToSafetensors(randomClassifier(t, cifar("preact-resnet18"), nil))
	n, ok := f.Tensor("layer4.1.bn2.num_batches_tracked")
	if v, err := n.Int64s(); !ok || err != nil || len(n.Shape) != 0 || v[0] != 42 {
		t.Errorf("num_batches_tracked %v %v (%v), want the I64 scalar 42, the steps trained", n.Shape, v, err)
	}
	if len(f.Tensors) != 107 {
		// PyTorch's PreActResNet18().state_dict() has 107 entries: conv1,
		// 8 blocks of 2 batch norms (5 each) and 2 convolutions, 3
		// shortcuts, bn (5) and linear (2).
		t.Errorf("preact-resnet18 has %d tensors, PyTorch's state_dict 107", len(f.Tensors))
	}
}

func TestRefusals(t *testing.T) {
	sc := sgn.DefaultConfig()
	base := func(t *testing.T, c *classifier.Classifier) *safetensors.File {
		f, err := ToSafetensors(c)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	drop := func(f *safetensors.File, names ...string) {
		f.Tensors = slices.DeleteFunc(f.Tensors, func(t safetensors.Tensor) bool { return slices.Contains(names, t.Name) })
	}
	tests := []struct {
		name   string
		cfg    model.Config
		sgn    *sgn.Config
		arch   string
		change func(f *safetensors.File)
		want   []string
	}{
		{"missing and extra", mnist("madry-mnist"), nil, "", func(f *safetensors.File) {
			drop(f, "conv2.bias", "fc1.weight")
			f.Tensors = append(f.Tensors, safetensors.Float32("fc3.weight", []int{2}, []float32{1, 2}))
		}, []string{"missing conv2.bias", "missing fc1.weight", "unexpected fc3.weight [2]", "madry-mnist [1 28 28] with 10 classes"}},
		{"misshapen", mnist("mlp"), nil, "", func(f *safetensors.File) {
			f.Tensors[0] = safetensors.Float32("fc1.weight", []int{784, 256}, make([]float32, 784*256))
		}, []string{"fc1.weight has shape [784 256], want [256 784]"}},
		{"not a number", mnist("mlp"), nil, "", func(f *safetensors.File) {
			f.Tensors[1] = safetensors.Float32("fc1.bias", []int{256}, append(make([]float32, 255), float32(math.NaN())))
		}, []string{"fc1.bias holds NaN at index 255"}},
		{"integer weights", mnist("mlp"), nil, "", func(f *safetensors.File) {
			f.Tensors[1] = safetensors.Int64("fc1.bias", []int{256}, make([]int64, 256))
		}, []string{"fc1.bias has dtype I64"}},
		{"bad counter", cifar("cifar-cnn"), nil, "", func(f *safetensors.File) {
			for i, t := range f.Tensors {
				if t.Name == "bn1.num_batches_tracked" {
					f.Tensors[i] = safetensors.Float32(t.Name, []int{1}, []float32{0})
				}
			}
		}, []string{"bn1.num_batches_tracked is F32 [1], want an I64 scalar"}},
		{"no architecture", mnist("mlp"), nil, "", func(f *safetensors.File) { delete(f.Metadata, safetensors.KeyModel) }, []string{"give -arch"}},
		{"other architecture", mnist("mlp"), nil, "madry-mnist", func(f *safetensors.File) {}, []string{"names architecture mlp, not madry-mnist"}},
		{"sgn without its configuration", mnist("mlp"), &sc, "", func(f *safetensors.File) { delete(f.Metadata, safetensors.KeySGN) }, []string{"metadata sgn.sgn"}},
		{"sgn without its gate", mnist("mlp"), &sc, "", func(f *safetensors.File) { drop(f, "gates.input") }, []string{"missing gates.input", "as an SGN at input"}},
		{"bad model metadata", mnist("mlp"), nil, "", func(f *safetensors.File) { f.Metadata[safetensors.KeyModel] = `{"arch":"vgg"}` }, []string{`unknown architecture "vgg"`}},
		{"nothing fits", mnist("mlp"), nil, "madry-mnist", func(f *safetensors.File) { delete(f.Metadata, safetensors.KeyModel) }, []string{"tensors do not fit madry-mnist", "missing conv1.weight", "unexpected fc3.weight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base(t, randomClassifier(t, tt.cfg, tt.sgn))
			tt.change(f)
			_, _, err := FromSafetensors(f, tt.arch)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q has more than one line", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestWithoutMetadata imports bare state_dicts, as torch's save_file
// writes them, given only -arch.
func TestWithoutMetadata(t *testing.T) {
	tests := []struct {
		cfg     model.Config
		classes int
	}{
		{mnist("mlp"), 10},
		{cifar("mlp"), 10},
		{mnist("madry-mnist"), 10},
		{cifar("cifar-cnn"), 100},
		{cifar("preact-resnet18"), 10},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Arch, func(t *testing.T) {
			tt.cfg.Classes = tt.classes
			c := randomClassifier(t, tt.cfg, nil)
			f, err := ToSafetensors(c)
			if err != nil {
				t.Fatal(err)
			}
			f.Metadata = nil
			back, note, err := FromSafetensors(f, tt.cfg.Arch)
			if err != nil {
				t.Fatal(err)
			}
			got := back.Net.Config
			if !slices.Equal(got.InShape, tt.cfg.InShape) || got.Classes != tt.classes || got.Mean[0] != 0 || got.Std[0] != 1 {
				t.Errorf("inferred %+v, want shape %v, %d classes, no normalisation", got, tt.cfg.InShape, tt.classes)
			}
			if !strings.Contains(note, "no input normalisation") {
				t.Errorf("note %q does not say there is no normalisation", note)
			}
			if !slices.Equal(back.Net.Params[0].Data, c.Net.Params[0].Data) {
				t.Error("weights changed")
			}
		})
	}
}
