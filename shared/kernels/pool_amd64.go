//go:build amd64 && !purego

package kernels

// Argmax2x2 finds the largest element of n 2×2 windows, n a multiple of
// 8, side by side over two rows r0 and r1 of a plane whose rows are w
// apart, the first at index base of the plane:
//
//	for k := range n {
//		out[k] = Argmax4(r0[2*k], r0[2*k+1], r1[2*k], r1[2*k+1], base+2*k, w)
//	}
//
// AVX2.
//
//go:noescape
func Argmax2x2(r0, r1 *float32, out *int32, n int, base, w int32)
