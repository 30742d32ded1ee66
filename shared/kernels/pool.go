package kernels

import "unsafe"

// Argmax4 is the index, from base, of the largest element of the 2×2
// window (a b; c d) at row stride w, decided as Argmax2x2 decides it: the
// right element of a row wins only if strictly larger, then the bottom
// row's winner only if strictly larger than the top row's. Without NaNs
// that is the first largest in row-major order; with them, the same answer
// as the vector kernel.
func Argmax4(a, b, c, d float32, base, w int32) int32 {
	i0, m0 := base, a
	if b > a {
		i0, m0 = base+1, b
	}
	i1, m1 := base+w, c
	if d > c {
		i1, m1 = base+w+1, d
	}
	if m1 > m0 {
		return i1
	}
	return i0
}

func argmax2x2Go(r0, r1 *float32, out *int32, n int, base, w int32) {
	t, b, o := unsafe.Slice(r0, 2*n), unsafe.Slice(r1, 2*n), unsafe.Slice(out, n)
	for k := range n {
		o[k] = Argmax4(t[2*k], t[2*k+1], b[2*k], b[2*k+1], base+int32(2*k), w)
	}
}
