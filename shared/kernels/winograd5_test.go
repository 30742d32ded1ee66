package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinograd5 checks F(2×2, 5×5)'s two transforms, on the vector kernels
// where the CPU has them, against Bᵀ d B and Aᵀ M A multiplied out in
// float64 and against their Go twins bit for bit, for runs of tiles that
// start on either half of a packed panel.
func TestWinograd5(t *testing.T) {
	bt := [6][6]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	at := [2][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 1}}
	rng := rand.New(rand.NewPCG(5, 7))
	for _, c := range []struct {
		tiles int
		odd   bool
	}{{1, false}, {1, true}, {2, false}, {3, true}, {7, false}, {7, true}, {8, false}} {
		t.Run(fmt.Sprintf("%d,odd=%v", c.tiles, c.odd), func(t *testing.T) {
			ld := 8 * (2*c.tiles + 4 + 3) // padding between rows
			pair := 16 * 5                // a panel of 16 columns, five rows deep
			stride := wino5Offset(c.tiles-1, c.odd, pair) + 8 + 24
			x := make([]float32, 5*ld+16*c.tiles+32)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			v, twin := make([]float32, 36*stride), make([]float32, 36*stride)
			Winograd5In(v, stride, x, ld, c.tiles, c.odd, pair)
			wino5InGo(twin, stride, x, ld, c.tiles, c.odd, pair)
			written := 0
			for tt := range c.tiles {
				off := wino5Offset(tt, c.odd, pair)
				for lane := range 8 {
					for xi := range 6 {
						for nu := range 6 {
							want := 0.0 // (Bᵀ d B)[ξ][ν]
							for r := range 6 {
								for col := range 6 {
									want += bt[xi][r] * float64(x[r*ld+8*(2*tt+col)+lane]) * bt[nu][col]
								}
							}
							i := (6*xi+nu)*stride + off + lane
							if got := v[i]; math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) || got != twin[i] {
								t.Fatalf("tile %d lane %d, V[%d][%d] = %g, want %g (twin %g)", tt, lane, xi, nu, got, want, twin[i])
							}
							written++
						}
					}
				}
			}
			nonzero := 0
			for _, u := range v {
				if u != 0 {
					nonzero++
				}
			}
			if nonzero > written {
				t.Fatalf("%d elements written, want at most %d", nonzero, written)
			}

			mStride := 8*c.tiles + 5
			m := make([]float32, 36*mStride)
			for i := range m {
				m[i] = float32(rng.NormFloat64())
			}
			ldy := 16*c.tiles + 24
			y, ytwin := make([]float32, ldy+16*c.tiles), make([]float32, ldy+16*c.tiles)
			Winograd5Out(y, ldy, m, mStride, c.tiles)
			wino5OutGo(ytwin, ldy, m, mStride, c.tiles)
			for tt := range c.tiles {
				for lane := range 8 {
					for i := range 2 {
						for j := range 2 {
							want := 0.0 // (Aᵀ M A)[i][j]
							for xi := range 6 {
								for nu := range 6 {
									want += at[i][xi] * float64(m[(6*xi+nu)*mStride+8*tt+lane]) * at[j][nu]
								}
							}
							k := i*ldy + 8*(2*tt+j) + lane
							if got := y[k]; math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) || got != ytwin[k] {
								t.Fatalf("tile %d lane %d, y[%d][%d] = %g, want %g (twin %g)", tt, lane, i, j, got, want, ytwin[k])
							}
						}
					}
				}
			}
		})
	}
}

// TestTranspose8 checks Transpose8, on the vector kernel where the CPU has
// it, against its definition, both ways round.
func TestTranspose8(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const blocks, size = 3, 29 // rows of 29 floats, the last five left out
	src := make([]float32, 8*size)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	in := make([]float32, 8*8*blocks)
	Transpose8(in, 8, 64, src, size, 8, blocks)
	for p := range 8 * blocks {
		for lane := range 8 {
			if got, want := in[8*p+lane], src[lane*size+p]; got != want {
				t.Fatalf("interleaved position %d lane %d = %g, want %g", p, lane, got, want)
			}
		}
	}
	back := make([]float32, 8*size)
	Transpose8(back, size, 8, in, 8, 64, blocks)
	for lane := range 8 {
		for p := range size {
			want := src[lane*size+p]
			if p >= 8*blocks {
				want = 0
			}
			if got := back[lane*size+p]; got != want {
				t.Fatalf("lane %d position %d = %g, want %g", lane, p, got, want)
			}
		}
	}
}
