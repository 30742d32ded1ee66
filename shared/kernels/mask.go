package kernels

import (
	"math"
	"unsafe"
)

// Mask sets out to h where key > 0 and to +0 elsewhere (ReLU is Mask with
// key = h), selecting bits without a branch: ReLU keys have random signs,
// which defeat prediction. NaN and -0 keys drop their value. key and h must
// be at least as long as out.
func Mask(out, key, h []float32) {
	h = h[:len(out)]
	key = key[:len(out)]
	if vec := len(out) &^ 7; fast && vec > 0 {
		maskAVX2(&out[0], &key[0], &h[0], vec)
		out, key, h = out[vec:], key[vec:], h[vec:]
	}
	maskGo(out, key, h)
}

// maskGo is Mask in Go, the scalar loop the vector kernel equals.
func maskGo(out, key, h []float32) {
	h = h[:len(out)]
	key = key[:len(out)]
	for i, k := range key {
		// k > 0 exactly when its bits b, as a signed integer, lie in
		// (0, bits of +Inf]: sign clear, not zero, not NaN
		b := int32(math.Float32bits(k))
		drop := b>>31 | (b-1)>>31 | (0x7f800000-b)>>31 // all ones outside
		out[i] = math.Float32frombits(math.Float32bits(h[i]) &^ uint32(drop))
	}
}

// Mask64 is Mask for float64.
func Mask64(out, key, h []float64) {
	h = h[:len(out)]
	key = key[:len(out)]
	for i, k := range key {
		b := int64(math.Float64bits(k))
		drop := b>>63 | (b-1)>>63 | (0x7ff0000000000000-b)>>63
		out[i] = math.Float64frombits(math.Float64bits(h[i]) &^ uint64(drop))
	}
}

func maskAVX2Go(out, key, h *float32, n int) {
	maskGo(unsafe.Slice(out, n), unsafe.Slice(key, n), unsafe.Slice(h, n))
}
