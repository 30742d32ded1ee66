package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinograd checks the three transforms, on the vector kernels where
// the CPU has them, against Bᵀ d B, Aᵀ M A and A dy Aᵀ multiplied out in
// float64 (the last also against its dot-product identity with the
// second), and against their Go twins bit for bit (the kernels add in the
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

			// The adjoint: A dy Aᵀ, and <WinogradOut(m), dy> = <m, WinogradOutAdj(dy)>.
			dy := make([]float32, ldy+2*tiles)
			for i := range dy {
				dy[i] = float32(rng.NormFloat64())
			}
			z, ztwin := make([]float32, 15*stride+tiles), make([]float32, 15*stride+tiles)
			WinogradOutAdj(z, stride, dy, ldy, tiles)
			winoOutAdjGo(ztwin, stride, dy, ldy, tiles)
			var lhs, rhs float64
			for tt := range tiles {
				for xi := range 4 {
					for nu := range 4 {
						want := 0.0 // (A dy Aᵀ)[ξ][ν]
						for i := range 2 {
							for j := range 2 {
								want += at[i][xi] * float64(dy[i*ldy+2*tt+j]) * at[j][nu]
							}
						}
						k := (4*xi+nu)*stride + tt
						if got := z[k]; math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) || got != ztwin[k] {
							t.Fatalf("tile %d, Z[%d][%d] = %g, want %g (twin %g)", tt, xi, nu, got, want, ztwin[k])
						}
						rhs += float64(m[k]) * float64(z[k])
					}
				}
				for i := range 2 {
					for j := range 2 {
						lhs += float64(y[i*ldy+2*tt+j]) * float64(dy[i*ldy+2*tt+j])
					}
				}
			}
			if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
				t.Fatalf("<Out(m), dy> = %g, <m, OutAdj(dy)> = %g", lhs, rhs)
			}
		})
	}
}

// TestWinogradRows checks the transforms of whole planes of tiles, whose
// rows of four tiles go two at a time through the vector kernels, against
// the Go twins row by row, bit for bit, and that they write nothing
// outside their tiles.
func TestWinogradRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	sentinel := float32(math.NaN())
	fresh := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = sentinel
		}
		return s
	}
	same := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		for i := range want {
			g, w := got[i], want[i]
			if math.Float32bits(g) != math.Float32bits(w) {
				t.Fatalf("%s: element %d = %g, want %g", what, i, g, w)
			}
		}
	}
	for _, tw := range []int{1, 2, 3, 4, 5, 8} {
		for _, th := range []int{1, 2, 3, 4, 5} {
			t.Run(fmt.Sprintf("%dx%d", tw, th), func(t *testing.T) {
				tiles := tw * th
				wp, stride := 2*tw+3, tiles+5
				rows := fill((2*th + 2) * wp)
				v, want := fresh(16*stride), fresh(16*stride)
				WinogradInRows(v, stride, rows, wp, tw, th)
				for ty := range th {
					winoInGo(want[ty*tw:], stride, rows[2*ty*wp:], wp, tw)
				}
				same(t, "in", v, want)

				m := fill(16 * stride)
				ldy := 2*tw + 1
				y, ywant := fresh(2*th*ldy), fresh(2*th*ldy)
				WinogradOutRows(y, ldy, m, stride, tw, th)
				for ty := range th {
					winoOutGo(ywant[2*ty*ldy:], ldy, m[ty*tw:], stride, tw)
				}
				same(t, "out", y, ywant)

				dy := fill(2 * th * ldy)
				z, zwant := fresh(16*stride), fresh(16*stride)
				WinogradOutAdjRows(z, stride, dy, ldy, tw, th)
				for ty := range th {
					winoOutAdjGo(zwant[ty*tw:], stride, dy[2*ty*ldy:], ldy, tw)
				}
				same(t, "adjoint", z, zwant)
			})
		}
	}
}
