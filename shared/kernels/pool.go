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

// Select4 is the element of (ha hb; hc hd) at the position Argmax4 picks
// in the keys (a b; c d).
func Select4(a, b, c, d, ha, hb, hc, hd float32) float32 {
	switch Argmax4(a, b, c, d, 0, 2) {
	case 0:
		return ha
	case 1:
		return hb
	case 2:
		return hc
	}
	return hd
}

// Scatter4 sets the window (d0[0] d0[1]; d1[0] d1[1]) to g at the position
// Argmax4 picks in the keys (a b; c d), and to 0 elsewhere.
func Scatter4(a, b, c, d, g float32, d0, d1 []float32) {
	d0[0], d0[1], d1[0], d1[1] = 0, 0, 0, 0
	switch Argmax4(a, b, c, d, 0, 2) {
	case 0:
		d0[0] = g
	case 1:
		d0[1] = g
	case 2:
		d1[0] = g
	default:
		d1[1] = g
	}
}

func select2x2Go(k0, k1, h0, h1, out *float32, n int) {
	a, b := unsafe.Slice(k0, 2*n), unsafe.Slice(k1, 2*n)
	x, y, o := unsafe.Slice(h0, 2*n), unsafe.Slice(h1, 2*n), unsafe.Slice(out, n)
	for k := range n {
		j := 2 * k
		o[k] = Select4(a[j], a[j+1], b[j], b[j+1], x[j], x[j+1], y[j], y[j+1])
	}
}

func scatter2x2Go(k0, k1, g, d0, d1 *float32, n int) {
	a, b, gr := unsafe.Slice(k0, 2*n), unsafe.Slice(k1, 2*n), unsafe.Slice(g, n)
	x, y := unsafe.Slice(d0, 2*n), unsafe.Slice(d1, 2*n)
	for k := range n {
		j := 2 * k
		Scatter4(a[j], a[j+1], b[j], b[j+1], gr[k], x[j:j+2], y[j:j+2])
	}
}
