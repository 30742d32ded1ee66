package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestArgmaxPlane checks the pooling argmax, the 2x2 fast paths included
// (Go and, on amd64 with AVX2, eight windows at a time with a Go tail),
// against a brute-force scan of every window, on planes full of ties (keys
// from -1, -0, +0 and 1, where -0 and +0 tie as floats) and of odd sizes
// that leave rows and columns out of every window.
func TestArgmaxPlane(t *testing.T) {
	cases := []struct{ h, w, kh, kw, sh, sw int }{
		{28, 28, 2, 2, 2, 2},
		{6, 40, 2, 2, 2, 2},
		{5, 35, 2, 2, 2, 2},
		{4, 16, 2, 2, 2, 2},
		{14, 14, 2, 2, 2, 2},
		{9, 12, 2, 2, 2, 2},
		{8, 9, 2, 2, 2, 2},
		{6, 6, 2, 2, 2, 2},
		{7, 9, 2, 2, 2, 2},
		{2, 2, 2, 2, 2, 2},
		{5, 5, 3, 3, 2, 2},
		{6, 7, 2, 3, 1, 2},
		{4, 4, 2, 2, 1, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases {
		g, err := poolParams{kh: c.kh, kw: c.kw, sh: c.sh, sw: c.sw}.geom("test", []int{1, 1, c.h, c.w})
		if err != nil {
			t.Fatal(err)
		}
		for trial := range 20 {
			key := make([]float32, c.h*c.w)
			for i := range key {
				key[i] = [...]float32{-1, float32(math.Copysign(0, -1)), 0, 1}[rng.IntN(4)]
			}
			at := make([]int32, g.ho*g.wo)
			argmaxPlane(g, key, at)
			for oh := range g.ho {
				for ow := range g.wo {
					want, bv := -1, float32(0)
					for i := range c.kh {
						for j := range c.kw {
							p := (oh*c.sh+i)*c.w + ow*c.sw + j
							if want < 0 || key[p] > bv {
								want, bv = p, key[p]
							}
						}
					}
					if got := int(at[oh*g.wo+ow]); got != want {
						t.Fatalf("%+v trial %d window (%d,%d): argmax at %d, want %d (first of the largest)", c, trial, oh, ow, got, want)
					}
				}
			}
		}
	}
}

// TestArgmax2x2NaN checks that a window holding NaNs gets the same argmax
// from the vector path (a row of eight windows) as from the scalar one (a
// single window), so whether a NaN propagates does not depend on the
// plane's width.
func TestArgmax2x2NaN(t *testing.T) {
	nan := float32(math.NaN())
	vals := []float32{nan, -1, 0, 2}
	p2 := poolParams{kh: 2, kw: 2, sh: 2, sw: 2}
	wide, _ := p2.geom("test", []int{1, 1, 2, 16})
	one, _ := p2.geom("test", []int{1, 1, 2, 2})
	n := 0
	for _, a := range vals {
		for _, b := range vals {
			for _, c := range vals {
				for _, d := range vals {
					row := make([]float32, 32)
					row[0], row[1], row[16], row[17] = a, b, c, d
					atWide := make([]int32, 8)
					argmaxPlane(wide, row, atWide)
					atOne := make([]int32, 1)
					argmaxPlane(one, []float32{a, b, c, d}, atOne)
					// Offsets within the window: (row, column).
					gw, go1 := [2]int32{atWide[0] / 16, atWide[0] % 16}, [2]int32{atOne[0] / 2, atOne[0] % 2}
					if gw != go1 {
						t.Errorf("window (%v %v; %v %v): vector path picks %v, scalar path %v", a, b, c, d, gw, go1)
					}
					n++
				}
			}
		}
	}
	if n != 256 {
		t.Fatalf("checked %d windows", n)
	}
}
