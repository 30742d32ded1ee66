//go:build !amd64 || purego

package kernels

func Argmax2x2(r0, r1 *float32, out *int32, n int, base, w int32) {
	argmax2x2Go(r0, r1, out, n, base, w)
}

func Select2x2(k0, k1, h0, h1, out *float32, n int) { select2x2Go(k0, k1, h0, h1, out, n) }

func Scatter2x2(k0, k1, grad, d0, d1 *float32, n int) { scatter2x2Go(k0, k1, grad, d0, d1, n) }
