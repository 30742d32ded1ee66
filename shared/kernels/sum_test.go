package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSum64 checks Sum64, SumSq64 and Dot64 bit for bit against their Go twins
// (the same lanes and order), and against a plain float64 loop within
// rounding, on lengths around the 16-wide blocks.
func TestSum64(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 100, 1000, 4099} {
		u, v := make([]float32, n), make([]float32, n)
		for i := range u {
			u[i], v[i] = float32(r.NormFloat64()*1e3), float32(r.NormFloat64())
		}
		vec := n &^ 15
		twinSum, twinDot := sum64Go(u[:vec]), dot64Go(u[:vec], v[:vec])
		if vec > 0 && (sum64AVX2Go(&u[0], vec) != twinSum || dot64AVX2Go(&u[0], &v[0], vec) != twinDot) {
			t.Fatalf("n=%d: the pointer twins differ from the slice ones", n)
		}
		var plainSum, plainDot, abs float64
		for i := range u {
			plainSum += float64(u[i])
			plainDot += float64(u[i]) * float64(v[i])
			abs += math.Abs(float64(u[i])) * (1 + math.Abs(float64(v[i])))
		}
		for i := vec; i < n; i++ {
			twinSum += float64(u[i])
			twinDot += float64(u[i]) * float64(v[i])
		}
		if got := Sum64(u); got != twinSum || math.Abs(got-plainSum) > 1e-12*abs {
			t.Errorf("n=%d: Sum64 = %v, twin %v, plain %v", n, got, twinSum, plainSum)
		}
		m := 123.25 // a mean away from zero
		twinSq, plainSq := sumSq64Go(u[:vec], m), 0.0
		if vec > 0 && sumSq64AVX2Go(&u[0], vec, m) != twinSq {
			t.Fatalf("n=%d: sumSq64AVX2Go differs from sumSq64Go", n)
		}
		for i := range u {
			d := float64(u[i]) - m
			plainSq += d * d
			if i >= vec {
				twinSq += float64(d * d)
			}
		}
		if got := SumSq64(u, m); got != twinSq || math.Abs(got-plainSq) > 1e-12*plainSq {
			t.Errorf("n=%d: SumSq64 = %v, twin %v, plain %v", n, got, twinSq, plainSq)
		}
		if got := Dot64(u, v); got != twinDot || math.Abs(got-plainDot) > 1e-12*abs {
			t.Errorf("n=%d: Dot64 = %v, twin %v, plain %v", n, got, twinDot, plainDot)
		}
	}
}

func BenchmarkSum64(b *testing.B) {
	u, v := make([]float32, 1<<16), make([]float32, 1<<16)
	b.Run("sum", func(b *testing.B) {
		b.SetBytes(4 << 16)
		for range b.N {
			Sum64(u)
		}
	})
	b.Run("dot", func(b *testing.B) {
		b.SetBytes(8 << 16)
		for range b.N {
			Dot64(u, v)
		}
	})
}
