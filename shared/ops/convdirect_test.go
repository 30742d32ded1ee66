package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"sgn/shared/kernels"
	"sgn/shared/testenv"
)

// TestConvDirect checks the direct float32 convolution and its data and
// filter gradients against the im2col path in float64, on the shapes of the
// models (28 and 14 wide, one and 32 input channels), partial row segments
// and output-channel panels, non-square kernels, every padding, and
// strides above 1 (forward by channels and the filter gradient), and
// examples side by side in the filter gradient of small outputs and in the
// tap blocks of the forward pass and data gradient; and Winograd's F(2×2,
// 3×3) and F(2×2, 5×5) where they apply.
func TestConvDirect(t *testing.T) {
	if !kernels.Fast() && !kernels.Portable {
		testenv.Skipf(t, testenv.AVX2, "the direct path's assembly kernels need AVX2 and FMA")
	}
	cases := []struct{ n, c, h, w, o, kh, kw, pad, stride int }{
		{3, 1, 28, 28, 32, 5, 5, 2, 1},
		{2, 32, 14, 14, 64, 5, 5, 2, 1},
		{2, 3, 32, 32, 16, 3, 3, 1, 1},
		{2, 4, 9, 13, 7, 3, 3, 0, 1},
		{1, 2, 6, 21, 5, 3, 5, 1, 1},
		{1, 5, 4, 4, 13, 1, 1, 0, 1},
		{1, 3, 5, 40, 40, 3, 3, 1, 1},  // a pair of panels and one more, partial
		{2, 8, 16, 16, 64, 3, 3, 1, 2}, // ResNet's downsampling: stride 2
		{2, 8, 9, 11, 48, 1, 1, 0, 2},  // and its 1x1 shortcut, odd sizes
		{1, 5, 13, 13, 32, 3, 3, 0, 3},
		{37, 4, 4, 4, 20, 3, 3, 1, 1},   // a deep stage: chunks of 16 examples per filter-gradient call, and their tails
		{5, 6, 8, 8, 16, 3, 3, 1, 1},    // chunks of 4
		{19, 30, 4, 4, 20, 3, 3, 1, 1},  // 270 taps: two tap blocks over chunks of examples
		{3, 32, 8, 8, 40, 3, 3, 1, 2},   // tap blocks at stride 2
		{3, 5, 32, 32, 7, 3, 3, 1, 1},   // Winograd: two vectors of tiles per row
		{70, 3, 4, 6, 5, 3, 3, 1, 1},    // Winograd: chunks of examples and a short last one
		{2, 4, 16, 18, 6, 3, 3, 1, 1},   // Winograd: a vector of tiles and a remainder
		{2, 300, 6, 4, 20, 3, 3, 1, 1},  // Winograd: two blocks of the GEMM's depth
		{3, 4, 6, 8, 5, 3, 3, 1, 1},     // Winograd: rows of four tiles in pairs, an odd one, pairs across panels
		{19, 16, 8, 6, 20, 5, 5, 2, 1},  // F(2×2, 5×5): a short last group of eight, rows of three tiles across chunks
		{9, 17, 14, 14, 33, 5, 5, 2, 1}, // F(2×2, 5×5): MNIST's 14×14, chunks starting on odd tiles, odd channel counts
	}
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(n int) ([]float32, []float64) {
		f, d := make([]float32, n), make([]float64, n)
		for i := range f {
			f[i] = float32(rng.NormFloat64())
			d[i] = float64(f[i])
		}
		return f, d
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			g, err := convOp{mode: convForward, stride: c.stride, pad: c.pad}.geom(tensor.Shape{c.n, c.c, c.h, c.w}, tensor.Shape{c.o, c.c, c.kh, c.kw})
			if err != nil {
				t.Fatal(err)
			}
			x32, x64 := draw(c.n * c.c * c.h * c.w)
			w32, w64 := draw(c.o * c.c * c.kh * c.kw)
			gy32, gy64 := draw(c.n * c.o * g.ho * g.wo)
			check := func(what string, got []float32, want []float64, terms int) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
				}
				tol := 1e-6 * math.Sqrt(float64(terms)) * 10
				for i := range want {
					if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) {
						t.Fatalf("%s: element %d = %g, want %g", what, i, got[i], want[i])
					}
				}
			}
			want := convForwardKernel(nil, g, x64, w64)
			wantDX := convBackDataKernel(nil, g, gy64, w64)
			wantDW := convBackFilterKernel(nil, g, x64, gy64)
			if g.winogradFits() {
				// Twice on buffers kept across runs (outputs poisoned), as a
				// compiled program runs it.
				bf := &buffers{reuse: true, poison: true, packs: &packSet{}}
				for range 2 {
					check("forward (Winograd)", winogradConv(bf, c.n, c.c, c.h, c.w, c.o, x32, w32, false), want, g.ckk)
					check("data gradient (Winograd)", winogradConv(bf, c.n, c.o, c.h, c.w, c.c, gy32, w32, true), wantDX, c.o*9)
					check("filter gradient (Winograd)", winogradBackFilter(bf, c.n, c.c, c.h, c.w, c.o, x32, gy32), wantDW, c.n*g.positions)
				}
			}
			if g.winograd5Fits() {
				// The second run takes the transformed filters from the
				// cache; then other filters must not.
				bf := &buffers{reuse: true, poison: true, packs: &packSet{}}
				bd := &buffers{reuse: true, poison: true, packs: &packSet{}}
				for range 2 {
					check("forward (F(2×2, 5×5))", winograd5Conv(bf, c.n, c.c, c.h, c.w, c.o, x32, w32, false), want, g.ckk)
					check("data gradient (F(2×2, 5×5))", winograd5Conv(bd, c.n, c.o, c.h, c.w, c.c, gy32, w32, true), wantDX, c.o*25)
				}
				y := slices.Clone(winograd5Conv(bf, c.n, c.c, c.h, c.w, c.o, x32, w32, false))
				neg := make([]float32, len(w32))
				for i, v := range w32 {
					neg[i] = -v
				}
				for i, v := range winograd5Conv(bf, c.n, c.c, c.h, c.w, c.o, x32, neg, false) {
					if v != -y[i] {
						t.Fatalf("forward with the filters negated: element %d = %g, want %g", i, v, -y[i])
					}
				}
			}
			for _, wide := range kernelWidths() {
				check(fmt.Sprintf("filter gradient (wide %v)", wide), directBackFilterWith(nil, g, x32, gy32, wide), wantDW, c.n*g.positions)
				for _, tiling := range []directTiling{tileRows, tileChannels, tilePlanes, tileTapBlocks} {
					// Only tiles by channels take a stride; planes need six rows
					// of output; the data gradient is a convolution at stride 1.
					if c.stride != 1 {
						if tiling == tileChannels || tiling == tileTapBlocks {
							check(fmt.Sprintf("forward (by %v, wide %v)", tiling, wide), directForwardWith(nil, g, x32, w32, tiling, wide), want, g.ckk)
						}
						continue
					}
					if tiling != tilePlanes || g.ho >= kernels.MR {
						check(fmt.Sprintf("forward (by %v, wide %v)", tiling, wide), directForwardWith(nil, g, x32, w32, tiling, wide), want, g.ckk)
					}
					if c.pad <= c.kh-1 && c.pad <= c.kw-1 && (tiling != tilePlanes || g.h >= kernels.MR) {
						check(fmt.Sprintf("data gradient (by %v, wide %v)", tiling, wide), directBackDataWith(nil, g, gy32, w32, tiling, wide), wantDX, c.o*c.kh*c.kw)
					}
				}
			}
		})
	}
}

// kernelWidths lists the kernel choices this CPU runs: the 6×16 AVX2
// kernels, and the 6×32 AVX-512 ones where available; both for the
// portable Go kernels (-tags purego).
func kernelWidths() []bool {
	if kernels.Wide() || kernels.Portable {
		return []bool{false, true}
	}
	return []bool{false}
}

// TestDirectLayout pins directLayout's choices on the networks' shapes.
func TestDirectLayout(t *testing.T) {
	cases := []struct {
		hout, wout, cout int
		wide             bool
		tiling           directTiling
		ok               bool
	}{
		{28, 28, 32, false, tileChannels, true}, // madry conv1: 32 channels fill two panels
		{28, 28, 32, true, tileChannels, true},  // and one 32-wide panel
		{14, 14, 64, true, tileChannels, true},  // madry conv2
		{28, 28, 1, true, tilePlanes, true},     // one-channel data gradient
		{28, 28, 1, false, tilePlanes, true},
		{32, 32, 2, true, tilePlanes, true},
		{32, 32, 3, true, tilePlanes, false},   // CIFAR's input gradient: im2col
		{4, 28, 1, true, tilePlanes, false},    // planes need six rows
		{28, 4, 1, true, tilePlanes, false},    // and fill their row segments
		{16, 16, 30, false, tileRows, true},    // a 16-wide row fills a 16-wide tile
		{16, 16, 30, true, tileChannels, true}, // but half of a 32-wide one
		{32, 32, 30, true, tileRows, true},     // a 32-wide row fills it
	}
	for _, c := range cases {
		tiling, ok := directLayout(c.hout, c.wout, c.cout, c.wide)
		if ok != c.ok || ok && tiling != c.tiling {
			t.Errorf("directLayout(%d, %d, %d, wide %v) = %v, %v; want %v, %v", c.hout, c.wout, c.cout, c.wide, tiling, ok, c.tiling, c.ok)
		}
	}
}

// TestWinograd5Choice checks which convolutions go through Winograd's
// F(2×2, 5×5): the Madry CNN's second layer both ways round, and none
// that it cannot compute or would compute slower or in too much memory.
func TestWinograd5Choice(t *testing.T) {
	if kernels.Portable {
		t.Skip("a build without the assembly kernels never takes Winograd's path")
	}
	if !kernels.Fast() {
		testenv.Skipf(t, testenv.AVX2, "Winograd's transforms need AVX2 and FMA")
	}
	for _, c := range []struct {
		name                  string
		n, c, h, w, o, k, pad int
		want                  bool
	}{
		{"MNIST conv2", 128, 32, 14, 14, 64, 5, 2, true},
		{"CIFAR-10 conv2", 1, 32, 16, 16, 64, 5, 2, true},
		{"its data gradient's shape", 7, 64, 14, 14, 32, 5, 2, true},
		{"conv1: one input channel", 128, 1, 28, 28, 32, 5, 2, false},
		{"3×3", 128, 32, 14, 14, 64, 3, 1, false},
		{"padding 0", 128, 32, 14, 14, 64, 5, 0, false},
		{"odd planes", 128, 32, 7, 7, 64, 5, 2, false},
		{"deeper than a GEMM block", 8, 300, 8, 8, 64, 5, 2, false},
		{"planes too large to interleave", 8, 64, 224, 224, 64, 5, 2, false},
	} {
		g, err := convOp{mode: convForward, stride: 1, pad: c.pad}.geom(tensor.Shape{c.n, c.c, c.h, c.w}, tensor.Shape{c.o, c.c, c.k, c.k})
		if err != nil {
			t.Fatal(err)
		}
		if got := g.winograd5OK(); got != c.want {
			t.Errorf("%s: winograd5OK = %v, want %v", c.name, got, c.want)
		}
	}
}
