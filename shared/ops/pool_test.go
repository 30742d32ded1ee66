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
