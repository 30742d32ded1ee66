package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestAffine checks Affine and Combine bit for bit against their Go twins
// on lengths around the vector blocks, and that they write nothing past
// out.
func TestAffine(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		a, b, k := float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())
		got, want := make([]float32, n+1), make([]float32, n)
		got[n] = 7 // past the end: must stay
		Affine(got[:n], x, a, b)
		affineGo(want, x, a, b)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n=%d: Affine out[%d] = %v, twin %v", n, i, got[i], want[i])
			}
		}
		if n > 0 {
			twin := make([]float32, n)
			affineAVX2Go(&twin[0], &x[0], n, a, b)
			for i := range want {
				if twin[i] != want[i] {
					t.Fatalf("n=%d: affineAVX2Go out[%d] = %v, affineGo %v", n, i, twin[i], want[i])
				}
			}
		}
		Combine(got[:n], x, y, a, b, k)
		combineGo(want, x, y, a, b, k)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n=%d: Combine out[%d] = %v, twin %v", n, i, got[i], want[i])
			}
		}
		if n > 0 {
			twin := make([]float32, n)
			combineAVX2Go(&twin[0], &x[0], &y[0], n, a, b, k)
			for i := range want {
				if twin[i] != want[i] {
					t.Fatalf("n=%d: combineAVX2Go out[%d] = %v, combineGo %v", n, i, twin[i], want[i])
				}
			}
		}
		if got[n] != 7 {
			t.Errorf("n=%d: a kernel wrote past out", n)
		}
	}
}
