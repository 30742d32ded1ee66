package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAffine checks Affine, AffineReLU and Combine bit for bit against their Go twins
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
		// The ReLU variant, on inputs with the values where max and Mask
		// could part: NaN, -0, +0 and sums that round to -0.
		xr := append([]float32(nil), x...)
		for i := range xr {
			switch i % 7 {
			case 1:
				xr[i] = float32(math.NaN())
			case 3:
				xr[i] = float32(math.Copysign(0, -1))
			case 5:
				xr[i] = -b / a
			}
		}
		AffineReLU(got[:n], xr, a, b)
		for i, v := range xr {
			want := float32(v*a) + b
			if !(want > 0) {
				want = 0 // Mask's zero: positive, also for NaN and -0
			}
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d: AffineReLU(%v) = %v, want %v", n, v, got[i], want)
			}
		}
		if n > 0 {
			twin := make([]float32, n)
			affineReLUAVX2Go(&twin[0], &xr[0], n, a, b)
			for i := range twin {
				if math.Float32bits(twin[i]) != math.Float32bits(got[i]) {
					t.Fatalf("n=%d: affineReLUAVX2Go out[%d] = %v, AffineReLU %v", n, i, twin[i], got[i])
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
