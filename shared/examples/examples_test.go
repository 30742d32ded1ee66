package examples

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"sgn/format/stream"
)

func write(t *testing.T, h stream.Header, b *stream.Batch, opts ...stream.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads a stream through a Reader for m and returns the first
// error and how many examples it read.
func readAll(data []byte, m Model, batch int) (int64, error) {
	r, err := NewReader("in.arrow", bytes.NewReader(data), m, batch)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	for r.Next() {
	}
	return r.Len(), r.Err()
}

func TestReaderRefuses(t *testing.T) {
	m := Model{Shape: []int{1, 28, 28}, Classes: 10}
	const n = 300
	pixels := make([]uint8, n*784)
	for i := range pixels {
		pixels[i] = uint8(i)
	}
	labels := make([]int64, n)
	good := stream.Header{Shape: []int{1, 28, 28}, Elem: stream.Uint8}
	floats := func(at int, v float32, scale string) []byte {
		x := make([]float32, n*784)
		x[at] = v
		return write(t, stream.Header{Shape: good.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: scale}},
			&stream.Batch{Floats: x, Labels: labels})
	}
	badLabels := append([]int64(nil), labels...)
	badLabels[260] = 10
	for _, tc := range []struct {
		name string
		data []byte
		want string // "": read whole
	}{
		{"good", write(t, good, &stream.Batch{Pixels: pixels, Labels: labels}), ""},
		{"flat", write(t, stream.Header{Shape: []int{784}, Elem: stream.Uint8}, &stream.Batch{Pixels: pixels, Labels: labels}), "in.arrow: examples have shape [784], the model takes [1 28 28]"},
		{"two dimensions", write(t, stream.Header{Shape: []int{28, 28}, Elem: stream.Uint8}, &stream.Batch{Pixels: pixels, Labels: labels}), "shape [28 28], the model takes [1 28 28]"},
		{"four dimensions", write(t, stream.Header{Shape: []int{1, 1, 28, 28}, Elem: stream.Uint8}, &stream.Batch{Pixels: pixels, Labels: labels}), "shape [1 1 28 28], the model takes [1 28 28]"},
		{"label", write(t, good, &stream.Batch{Pixels: pixels, Labels: badLabels}), "in.arrow: example 260 has label 10, outside the model's 10 classes"},
		{"NaN", floats(299*784+5, float32(math.NaN()), "1"), "in.arrow: example 299 has pixel NaN outside [0,1]"},
		{"1e30", floats(784, 1e30, "1"), "example 1 has pixel 1e+30 outside [0,1]"},
		{"negative", floats(3, -1, "1"), "example 0 has pixel -1 outside [0,1]"},
		{"scaled to infinity", floats(784*257, 1e10, "1e30"), "example 257 has pixel +Inf outside [0,1]"},
		{"bytes at scale 1", write(t, stream.Header{Shape: good.Shape, Elem: stream.Uint8, Metadata: map[string]string{stream.MetaPixelScale: "1"}},
			&stream.Batch{Pixels: pixels, Labels: labels}), "example 0 has pixel 2 outside [0,1]"},
		{"one record batch of 300", write(t, good, &stream.Batch{Pixels: pixels, Labels: labels}, stream.WithBatchRows(300)), "record batch 1: 300 rows, more than the 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(tc.data, m, 64)
			switch {
			case tc.want == "" && (err != nil || got != n):
				t.Errorf("read %d examples, error %v; want all %d", got, err, n)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	// A tool working on larger batches takes larger record batches.
	if got, err := readAll(write(t, good, &stream.Batch{Pixels: pixels, Labels: labels}, stream.WithBatchRows(300)), m, 300); err != nil || got != n {
		t.Errorf("with batch 300: read %d examples, error %v", got, err)
	}
}

// CheckBatch checks a whole training set chunk by chunk, and names the
// example by its position.
func TestCheckBatch(t *testing.T) {
	h := stream.Header{Shape: []int{1, 2, 2}, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: "1"}}
	b := &stream.Batch{Floats: make([]float32, 1000*4), Labels: make([]int64, 1000)}
	if err := CheckBatch(h, b, 0); err != nil {
		t.Fatal(err)
	}
	b.Floats[700*4+2] = 1.5
	if err := CheckBatch(h, b, 0); err == nil || !strings.Contains(err.Error(), "example 700 has pixel 1.5") {
		t.Errorf("error %v, want example 700", err)
	}
	// Bytes at their default scale, 1/255, are in range; at scale 1 only 0
	// and 1 are.
	h = stream.Header{Shape: []int{1, 2, 2}, Elem: stream.Uint8}
	b = &stream.Batch{Pixels: make([]uint8, 1000*4), Labels: make([]int64, 1000)}
	b.Pixels[10] = 255
	if err := CheckBatch(h, b, 0); err != nil {
		t.Error(err)
	}
	h.Metadata = map[string]string{stream.MetaPixelScale: "1"}
	b.Pixels[10], b.Pixels[999*4] = 1, 2
	if err := CheckBatch(h, b, 5); err == nil || !strings.Contains(err.Error(), "example 1004 has pixel 2") {
		t.Errorf("error %v, want example 1004", err)
	}
}
