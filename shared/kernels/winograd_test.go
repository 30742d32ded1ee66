package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinograd checks both transforms, on the vector kernels where the CPU
// has them, against the matrices Bᵀ d B and Aᵀ M A multiplied out in
// float64, and against their Go twins bit for bit (the kernels add in the
// twins' order), for rows of tiles with and without a vector's remainder.
func TestWinograd(t *testing.T) {
	bt := [4][4]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	at := [2][4]float64{{1, 1, 1, 0}, {0, 1, -1, -1}}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tiles := range []int{1, 3, 7, 8, 9, 16, 21} {
		t.Run(fmt.Sprint(tiles), func(t *testing.T) {
			wp, stride := 2*tiles+5, tiles+3 // padding between rows and planes
			rows := make([]float32, 3*wp+2*tiles+2)
			for i := range rows {
				rows[i] = float32(rng.NormFloat64())
			}
			v, twin := make([]float32, 15*stride+tiles), make([]float32, 15*stride+tiles)
			WinogradIn(v, stride, rows, wp, tiles)
			winoInGo(twin, stride, rows, wp, tiles)
			for tt := range tiles {
				for xi := range 4 {
					for nu := range 4 {
						want := 0.0 // (Bᵀ d B)[ξ][ν]
						for r := range 4 {
							for c := range 4 {
								want += bt[xi][r] * float64(rows[r*wp+2*tt+c]) * bt[nu][c]
							}
						}
						i := (4*xi+nu)*stride + tt
						if got := v[i]; math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) || got != twin[i] {
							t.Fatalf("tile %d, V[%d][%d] = %g, want %g (twin %g)", tt, xi, nu, got, want, twin[i])
						}
					}
				}
			}

			m := make([]float32, 15*stride+tiles)
			for i := range m {
				m[i] = float32(rng.NormFloat64())
			}
			ldy := 2*tiles + 3
			y, ytwin := make([]float32, ldy+2*tiles), make([]float32, ldy+2*tiles)
			WinogradOut(y, ldy, m, stride, tiles)
			winoOutGo(ytwin, ldy, m, stride, tiles)
			for tt := range tiles {
				for i := range 2 {
					for j := range 2 {
						want := 0.0 // (Aᵀ M A)[i][j]
						for xi := range 4 {
							for nu := range 4 {
								want += at[i][xi] * float64(m[(4*xi+nu)*stride+tt]) * at[j][nu]
							}
						}
						k := i*ldy + 2*tt + j
						if got := y[k]; math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) || got != ytwin[k] {
							t.Fatalf("tile %d, Y[%d][%d] = %g, want %g (twin %g)", tt, i, j, got, want, ytwin[k])
						}
					}
				}
			}
		})
	}
}
