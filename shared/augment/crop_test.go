package augment

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// newRand returns a generator and a way to clone its current state.
func newRand(seed uint64) (*rand.Rand, func() *rand.Rand) {
	pcg := rand.NewPCG(seed, seed^0x5eed)
	clone := func() *rand.Rand {
		state, err := pcg.MarshalBinary()
		if err != nil {
			panic(err)
		}
		var c rand.PCG
		if err := c.UnmarshalBinary(state); err != nil {
			panic(err)
		}
		return rand.New(&c)
	}
	return rand.New(pcg), clone
}

// distinct returns n*c*h*w nonzero values, all different, where value
// 1000*(example*c+channel) + k+1 tells the example and channel it belongs to.
func distinct(n, c, h, w int) []float32 {
	src := make([]float32, n*c*h*w)
	for i := range src {
		plane := i / (h * w)
		src[i] = float32(1000*plane + i%(h*w) + 1)
	}
	return src
}

// reference crops by building the zero-padded image explicitly and reading
// the window at (pad+dy, pad+dx), drawing the offsets in the documented order.
func reference(src []float32, n, c, h, w, pad int, flip bool, rng *rand.Rand) []float32 {
	ph, pw := h+2*pad, w+2*pad
	out := make([]float32, len(src))
	for i := range n {
		dy, dx := 0, 0
		if pad > 0 {
			dy = rng.IntN(2*pad+1) - pad
			dx = rng.IntN(2*pad+1) - pad
		}
		mirror := flip && rng.IntN(2) == 1
		for ch := range c {
			padded := make([]float32, ph*pw)
			for y := range h {
				for x := range w {
					padded[(y+pad)*pw+x+pad] = src[((i*c+ch)*h+y)*w+x]
				}
			}
			for y := range h {
				for x := range w {
					xx := x
					if mirror {
						xx = w - 1 - x
					}
					py, px := pad+dy+y, pad+dx+xx
					var v float32
					if py >= 0 && py < ph && px >= 0 && px < pw {
						v = padded[py*pw+px]
					}
					out[((i*c+ch)*h+y)*w+x] = v
				}
			}
		}
	}
	return out
}

func TestIdentityWithoutPadOrFlip(t *testing.T) {
	src := distinct(3, 2, 5, 4)
	dst := make([]float32, len(src))
	rng, clone := newRand(1)
	before := clone().Uint64()
	RandomCropFlip(dst, src, 3, 2, 5, 4, 0, false, rng)
	if !slices.Equal(dst, src) {
		t.Error("pad 0 without flip changed the images")
	}
	if rng.Uint64() != before {
		t.Error("pad 0 without flip drew from the generator")
	}
}

func TestMatchesReference(t *testing.T) {
	tests := []struct {
		n, c, h, w, pad int
		flip            bool
	}{
		{4, 3, 8, 8, 2, true},
		{4, 3, 8, 8, 2, false},
		{5, 1, 3, 7, 0, true},
		{3, 2, 5, 6, 4, true}, // pad close to the image size
		{6, 1, 2, 3, 5, true}, // pad larger than the image: some crops are all zero
		{2, 3, 32, 32, 4, true},
		{0, 3, 32, 32, 4, true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%dx%dx%dx%d pad %d flip %v", tt.n, tt.c, tt.h, tt.w, tt.pad, tt.flip)
		src := distinct(tt.n, tt.c, tt.h, tt.w)
		for seed := range uint64(5) {
			rng, clone := newRand(seed)
			want := reference(src, tt.n, tt.c, tt.h, tt.w, tt.pad, tt.flip, clone())
			dst := make([]float32, len(src))
			for i := range dst {
				dst[i] = -1 // stale values must be overwritten
			}
			RandomCropFlip(dst, src, tt.n, tt.c, tt.h, tt.w, tt.pad, tt.flip, rng)
			if !slices.Equal(dst, want) {
				t.Errorf("%s seed %d: output differs from the direct computation", name, seed)
			}
		}
	}
}

func TestSameSeedSameOutput(t *testing.T) {
	src := distinct(8, 3, 6, 6)
	a := make([]float32, len(src))
	b := make([]float32, len(src))
	r1, _ := newRand(7)
	r2, _ := newRand(7)
	RandomCropFlip(a, src, 8, 3, 6, 6, 2, true, r1)
	RandomCropFlip(b, src, 8, 3, 6, 6, 2, true, r2)
	if !slices.Equal(a, b) {
		t.Error("same seed gave different outputs")
	}
	r3, _ := newRand(8)
	RandomCropFlip(b, src, 8, 3, 6, 6, 2, true, r3)
	if slices.Equal(a, b) {
		t.Error("different seeds gave the same output for 8 examples")
	}
}

func TestPixelsComeFromSameChannel(t *testing.T) {
	const n, c, h, w = 10, 3, 5, 5
	src := distinct(n, c, h, w)
	inPlane := map[float32]int{}
	for i, v := range src {
		inPlane[v] = i / (h * w)
	}
	dst := make([]float32, len(src))
	rng, _ := newRand(3)
	RandomCropFlip(dst, src, n, c, h, w, 3, true, rng)
	for i, v := range dst {
		if v == 0 {
			continue
		}
		p, ok := inPlane[v]
		if !ok {
			t.Fatalf("output %d holds %v, not a source value", i, v)
		}
		if p != i/(h*w) {
			t.Fatalf("output %d (example %d channel %d) holds a value of example %d channel %d",
				i, i/(c*h*w), i/(h*w)%c, p/c, p%c)
		}
	}
}

// TestOffsetsAndFlipUniform recovers each example's offsets and flip from
// its output alone and checks that every combination occurs about equally
// often.
func TestOffsetsAndFlipUniform(t *testing.T) {
	const n, h, w, pad = 5000, 4, 4, 2
	src := make([]float32, n*h*w)
	for i := range src {
		src[i] = float32(i%(h*w) + 1) // pixel (y, x) holds y*w+x+1
	}
	dst := make([]float32, len(src))
	rng, _ := newRand(11)
	RandomCropFlip(dst, src, n, 1, h, w, pad, true, rng)

	type draw struct {
		dy, dx int
		mirror bool
	}
	counts := map[draw]int{}
	for i := range n {
		out := dst[i*h*w : (i+1)*h*w]
		var found []draw
		for dy := -pad; dy <= pad; dy++ {
			for dx := -pad; dx <= pad; dx++ {
				for _, mirror := range []bool{false, true} {
					if matches(out, h, w, dy, dx, mirror) {
						found = append(found, draw{dy, dx, mirror})
					}
				}
			}
		}
		if len(found) != 1 {
			t.Fatalf("example %d matches %d crops, want exactly 1", i, len(found))
		}
		counts[found[0]]++
	}
	const combos = (2*pad + 1) * (2*pad + 1) * 2
	if len(counts) != combos {
		t.Fatalf("saw %d offset/flip combinations, want %d", len(counts), combos)
	}
	for d, k := range counts {
		// Expected 100 each, standard deviation about 10; the seed is fixed.
		if k < 60 || k > 140 {
			t.Errorf("%+v drawn %d times in %d, want about %d", d, k, n, n/combos)
		}
	}
}

// matches reports whether out is the crop at (dy, dx) of the image whose
// pixel (y, x) holds y*w+x+1, mirrored if mirror.
func matches(out []float32, h, w, dy, dx int, mirror bool) bool {
	for y := range h {
		for x := range w {
			sy, sx := y+dy, x+dx
			if mirror {
				sx = w - 1 - x + dx
			}
			var want float32
			if sy >= 0 && sy < h && sx >= 0 && sx < w {
				want = float32(sy*w + sx + 1)
			}
			if out[y*w+x] != want {
				return false
			}
		}
	}
	return true
}

func TestPanicsOnBadSizes(t *testing.T) {
	tests := []struct {
		name     string
		dst, src int
		pad      int
	}{
		{"short src", 48, 47, 1},
		{"short dst", 47, 48, 1},
		{"negative pad", 48, 48, -1},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tt.name)
				}
			}()
			rng, _ := newRand(1)
			RandomCropFlip(make([]float32, tt.dst), make([]float32, tt.src), 1, 3, 4, 4, tt.pad, true, rng)
		}()
	}
}
