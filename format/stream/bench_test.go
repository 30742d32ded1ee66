package stream

import (
	"bytes"
	"testing"
)

// mnistLike returns 60000 examples shaped like MNIST's training set.
func mnistLike() (Header, *Batch) {
	const n = 60000
	h := Header{
		Shape:    []int{1, 28, 28},
		Elem:     Uint8,
		Metadata: map[string]string{MetaDataset: "mnist", MetaSplit: "train", MetaPixelScale: "0.00392156862745098"},
	}
	b := &Batch{Pixels: make([]uint8, n*784), Labels: make([]int64, n)}
	for i := range b.Pixels {
		// Mostly-black images with some structure, so zstd has work to do.
		if x := (i * 2654435761) >> 7 & 0xff; x > 180 {
			b.Pixels[i] = uint8(x)
		}
	}
	for i := range b.Labels {
		b.Labels[i] = int64(i % 10)
	}
	return h, b
}

func BenchmarkMNIST(b *testing.B) {
	h, batch := mnistLike()
	for _, tc := range []struct {
		name string
		opts []WriterOption
	}{{"plain", nil}, {"zstd", []WriterOption{WithZstd()}}} {
		var encoded []byte
		b.Run("write/"+tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(batch.Pixels)))
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				w, err := NewWriter(&buf, h, tc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Write(batch); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			encoded = bytes.Clone(buf.Bytes())
			b.ReportMetric(float64(len(encoded)), "stream-bytes")
		})
		b.Run("read/"+tc.name, func(b *testing.B) {
			if encoded == nil {
				b.Skip("write benchmark did not run")
			}
			b.SetBytes(int64(len(batch.Pixels)))
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(encoded))
				if err != nil {
					b.Fatal(err)
				}
				rows := 0
				for r.Next() {
					rows += r.Batch().Len()
				}
				if err := r.Err(); err != nil {
					b.Fatal(err)
				}
				r.Close()
				if rows != 60000 {
					b.Fatalf("read %d rows", rows)
				}
			}
		})
	}
}
