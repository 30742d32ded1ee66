package train

import (
	"slices"
	"testing"

	"sgn/format/stream"
)

// TestGatherAppliesPixelScale checks that training sees the pixels every
// other reader sees: stored values times sgn.pixel_scale, whether they are
// bytes or float32.
func TestGatherAppliesPixelScale(t *testing.T) {
	tests := []struct {
		name string
		h    stream.Header
		b    *stream.Batch
	}{
		{"bytes", stream.Header{Shape: []int{1, 1, 2}, Elem: stream.Uint8, Metadata: map[string]string{stream.MetaPixelScale: "0.01"}},
			&stream.Batch{Pixels: []uint8{10, 20, 30, 40}, Labels: []int64{0, 1}}},
		{"float32 on 0..100", stream.Header{Shape: []int{1, 1, 2}, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: "0.01"}},
			&stream.Batch{Floats: []float32{10, 20, 30, 40}, Labels: []int64{0, 1}}},
	}
	for _, tt := range tests {
		tr := &Trainer{data: Data{Header: tt.h, Examples: tt.b}}
		x, labels := make([]float32, 4), make([]int64, 2)
		tr.gather([]int{1, 0}, x, labels)
		want := tt.h.Float32Images(tt.b, nil)
		want = append(want[2:], want[:2]...) // examples 1 then 0
		if !slices.Equal(x, want) || !slices.Equal(labels, []int64{1, 0}) {
			t.Errorf("%s: gather = %v %v, want %v [1 0] (as Float32Images scales)", tt.name, x, labels, want)
		}
		if x[0] > 1 {
			t.Errorf("%s: gathered pixel %v outside [0,1]", tt.name, x[0])
		}
	}
}
