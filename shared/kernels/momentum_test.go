package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"sgn/shared/testenv"
)

// TestMomentum compares the AVX2 momentum step with its Go twin bit for
// bit, on lengths with a tail, weight decay on and off, and parameters,
// gradients and buffers with infinities, NaNs, signed zeros and subnormals.
func TestMomentum(t *testing.T) {
	if !fast && !Portable {
		testenv.Skipf(t, testenv.AVX2, "no AVX2")
	}
	rng := rand.New(rand.NewPCG(19, 20))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.NaN()), 1e-45, -3e-39, math.MaxFloat32}
	for _, n := range []int{1, 4, 7, 64, 1001} {
		for _, wd := range []float64{0, 5e-4} {
			p, g, b := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range p {
				p[i], g[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*1e-2), float32(rng.NormFloat64()*1e-2)
				if rng.IntN(10) == 0 {
					p[i] = special[rng.IntN(len(special))]
				}
				if rng.IntN(10) == 0 {
					g[i] = special[rng.IntN(len(special))]
				}
			}
			p2, g2, b2 := append([]float32(nil), p...), append([]float32(nil), g...), append([]float32(nil), b...)
			Momentum(p, g, b, wd, 0.9, 0.01)
			momentumGo(p2, g2, b2, wd, 0.9, 0.01)
			for i := range p {
				if math.Float32bits(p[i]) != math.Float32bits(p2[i]) || math.Float32bits(b[i]) != math.Float32bits(b2[i]) {
					t.Fatalf("n=%d wd=%g: element %d: p %v b %v, want p %v b %v", n, wd, i, p[i], b[i], p2[i], b2[i])
				}
			}
		}
	}
}
