//go:build amd64 && !purego

package kernels

// maskAVX2 is Mask's loop, eight at a time, for n a multiple of 8:
//
//	for i := range n {
//		if key[i] > 0 { // false for NaN and -0
//			out[i] = h[i]
//		} else {
//			out[i] = 0
//		}
//	}
//
// AVX2.
//
//go:noescape
func maskAVX2(out, key, h *float32, n int)
