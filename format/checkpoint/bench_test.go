package checkpoint

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// madryMNIST returns a checkpoint the size of the Madry et al. MNIST CNN
// (3,274,634 parameters) with normally distributed weights, which compress
// about as badly as trained ones.
func madryMNIST() *Checkpoint {
	rng := rand.New(rand.NewPCG(1, 2))
	tensor := func(name string, shape ...int) Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64() * 0.05)
		}
		return Tensor{Name: name, Shape: shape, Data: data}
	}
	return &Checkpoint{
		Config: []byte(`{"arch":"madry-mnist","optimizer":"adam","lr":0.0001}`),
		Tensors: []Tensor{
			tensor("conv1.w", 32, 1, 5, 5), tensor("conv1.b", 32),
			tensor("conv2.w", 64, 32, 5, 5), tensor("conv2.b", 64),
			tensor("fc1.w", 1024, 7*7*64), tensor("fc1.b", 1024),
			tensor("fc2.w", 10, 1024), tensor("fc2.b", 10),
		},
		Sections: map[string][]byte{"rng": make([]byte, 32)},
	}
}

func BenchmarkEncodeMadryMNIST(b *testing.B) {
	c := madryMNIST()
	var buf bytes.Buffer
	b.SetBytes(4 * 3_274_634)
	for b.Loop() {
		buf.Reset()
		if err := Encode(&buf, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/(4*3_274_634), "ratio")
}

func BenchmarkDecodeMadryMNIST(b *testing.B) {
	data := encodeBytes(b, madryMNIST())
	b.SetBytes(4 * 3_274_634)
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStream decodes from a reader that tells nothing of its
// size (a pipe, or a file behind a TeeReader), without and with
// WithInputSize: the read buffer grows by doubling, or is sized once.
func BenchmarkDecodeStream(b *testing.B) {
	data := encodeBytes(b, madryMNIST())
	for _, c := range []struct {
		name string
		opts []Option
	}{{"growing", nil}, {"sized", []Option{WithInputSize(int64(len(data)))}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(4 * 3_274_634)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(struct{ io.Reader }{bytes.NewReader(data)}, c.opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
