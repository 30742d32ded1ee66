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

// Select2x2 picks, for n 2×2 windows (n a multiple of 8) side by side over
// two rows k0 and k1 of keys, the element of the values' rows h0 and h1 at
// the position of the window's largest key, as Argmax4 decides it:
//
//	for k := range n {
//		out[k] = Select4(k0[2*k], k0[2*k+1], k1[2*k], k1[2*k+1], h0[2*k], h0[2*k+1], h1[2*k], h1[2*k+1])
//	}
//
// Max pooling's forward pass and its gradients' selections, without an
// index between them. AVX2.
//
//go:noescape
func Select2x2(k0, k1, h0, h1, out *float32, n int)

// Scatter2x2 is Select2x2's adjoint: it writes the windows' rows d0 and d1
// (2n elements each), each window grad[k] at the position of its largest key
// and 0 at the three others:
//
//	for k := range n {
//		Scatter4(k0[2*k], k0[2*k+1], k1[2*k], k1[2*k+1], grad[k], d0[2*k:], d1[2*k:])
//	}
//
// d0 is written before d1. AVX2.
//
//go:noescape
func Scatter2x2(k0, k1, grad, d0, d1 *float32, n int)
