package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"sgn/shared/testenv"
)

// kernelWidths lists the kernel choices this CPU runs: the 6×16 AVX2
// kernels, and the 6×32 AVX-512 ones where available; both for the
// portable Go kernels (-tags purego).
func kernelWidths() []bool {
	if wide || Portable {
		return []bool{false, true}
	}
	return []bool{false}
}

// TestKernelsMatchGo runs each assembly kernel and its Go twin on the same
// random operands, c starting non-zero, and compares every element of c,
// including those between the tile's rows that neither may write.
func TestKernelsMatchGo(t *testing.T) {
	if !fast {
		if Portable {
			t.Skip("a portable build runs the Go twins themselves")
		}
		testenv.Skipf(t, testenv.AVX2, "no AVX2 and FMA")
	}
	const k, ldc, rowStride, bstride = 37, 41, 45, 16*37 + 3
	r := rand.New(rand.NewPCG(8, 9))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	x := rnd(2000)
	a, b, w := rnd(6*k), rnd(bstride+16*k), rnd(k)
	offs, pos, aoffs := make([]int32, k), make([]int32, k), []int32{0, 3, 50, 51, 99, 120}
	for p := range k {
		offs[p] = int32(r.IntN(1000))
		pos[p] = int32(r.IntN(1000))
	}
	type kernel func(c *float32)
	for _, tc := range []struct {
		name      string
		wide      bool // AVX-512F
		asm, twin kernel
	}{
		{"Gemm6x16", false,
			func(c *float32) { Gemm6x16(k, &a[0], &b[0], c, ldc) },
			func(c *float32) { gemm6x16Go(k, &a[0], &b[0], c, ldc) }},
		{"Gemm6x32", true,
			func(c *float32) { Gemm6x32(k, &a[0], &b[0], bstride, c, ldc) },
			func(c *float32) { gemm6x32Go(k, &a[0], &b[0], bstride, c, ldc) }},
		{"Gemm6x16Set", false,
			func(c *float32) { Gemm6x16Set(k, &a[0], &b[0], c, ldc) },
			func(c *float32) { gemm6x16SetGo(k, &a[0], &b[0], c, ldc) }},
		{"Gemm6x32Set", true,
			func(c *float32) { Gemm6x32Set(k, &a[0], &b[0], bstride, c, ldc) },
			func(c *float32) { gemm6x32SetGo(k, &a[0], &b[0], bstride, c, ldc) }},
		{"Conv6x16", false,
			func(c *float32) { Conv6x16(k, &a[0], &x[0], &offs[0], c, ldc) },
			func(c *float32) { conv6x16Go(k, &a[0], &x[0], &offs[0], c, ldc) }},
		{"Conv6x32", true,
			func(c *float32) { Conv6x32(k, &a[0], &x[0], &offs[0], c, ldc) },
			func(c *float32) { conv6x32Go(k, &a[0], &x[0], &offs[0], c, ldc) }},
		{"ConvFilter6x16", false,
			func(c *float32) { ConvFilter6x16(k, &x[0], &aoffs[0], &pos[0], &b[0], c, ldc) },
			func(c *float32) { convFilter6x16Go(k, &x[0], &aoffs[0], &pos[0], &b[0], c, ldc) }},
		{"ConvFilter6x16T", false,
			func(c *float32) { ConvFilter6x16T(k, &x[0], &aoffs[0], &pos[0], &b[0], c, ldc) },
			func(c *float32) { convFilter6x16TGo(k, &x[0], &aoffs[0], &pos[0], &b[0], c, ldc) }},
		{"ConvFilter6x32", true,
			func(c *float32) { ConvFilter6x32(k, &x[0], &aoffs[0], &pos[0], &b[0], bstride, c, ldc) },
			func(c *float32) { convFilter6x32Go(k, &x[0], &aoffs[0], &pos[0], &b[0], bstride, c, ldc) }},
		{"ConvFilter6x32T", true,
			func(c *float32) { ConvFilter6x32T(k, &x[0], &aoffs[0], &pos[0], &b[0], bstride, c, ldc) },
			func(c *float32) { convFilter6x32TGo(k, &x[0], &aoffs[0], &pos[0], &b[0], bstride, c, ldc) }},
		{"ConvPlane6x16", false,
			func(c *float32) { ConvPlane6x16(k, &w[0], &x[0], &offs[0], rowStride, c, ldc) },
			func(c *float32) { convPlane6x16Go(k, &w[0], &x[0], &offs[0], rowStride, c, ldc) }},
		{"ConvPlane6x32", true,
			func(c *float32) { ConvPlane6x32(k, &w[0], &x[0], &offs[0], rowStride, c, ldc) },
			func(c *float32) { convPlane6x32Go(k, &w[0], &x[0], &offs[0], rowStride, c, ldc) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wide && !hasAVX512() {
				t.Skip("no AVX-512")
			}
			want := rnd(33 * ldc)
			got := slices.Clone(want)
			tc.twin(&want[0])
			tc.asm(&got[0])
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("c[%d] (row %d, column %d): assembly %g, Go %g", i, i/ldc, i%ldc, got[i], want[i])
				}
			}
		})
	}
}

// TestConvFilterT checks the transposing kernels against the plain ones:
// the same 6×width values, column j's six at c[j·ldc:], and nothing else
// written.
func TestConvFilterT(t *testing.T) {
	const k, bstride, ldc = 37, 16*37 + 5, 9
	rng := rand.New(rand.NewPCG(11, 12))
	x := make([]float32, 400)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	b := make([]float32, bstride+16*k)
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	aoffs := []int32{0, 3, 50, 51, 99, 120}
	pos := make([]int32, k)
	for i := range pos {
		pos[i] = int32(rng.IntN(250))
	}
	for _, tc := range []struct {
		width            int
		plain, transpose func(c *float32, ldc int)
	}{
		{16,
			func(c *float32, ldc int) { ConvFilter6x16(k, &x[0], &aoffs[0], &pos[0], &b[0], c, ldc) },
			func(c *float32, ldc int) { ConvFilter6x16T(k, &x[0], &aoffs[0], &pos[0], &b[0], c, ldc) }},
		{32,
			func(c *float32, ldc int) { ConvFilter6x32(k, &x[0], &aoffs[0], &pos[0], &b[0], bstride, c, ldc) },
			func(c *float32, ldc int) { ConvFilter6x32T(k, &x[0], &aoffs[0], &pos[0], &b[0], bstride, c, ldc) }},
	} {
		t.Run(fmt.Sprintf("6x%dT", tc.width), func(t *testing.T) {
			switch {
			case Portable:
			case tc.width > NR && !hasAVX512():
				t.Skip("no AVX-512")
			case !fast:
				testenv.Skipf(t, testenv.AVX2, "no AVX2 and FMA")
			}
			want := make([]float32, 6*tc.width)
			tc.plain(&want[0], tc.width)
			const sentinel = -12345
			c := make([]float32, (tc.width+1)*ldc)
			for i := range c {
				c[i] = sentinel
			}
			tc.transpose(&c[0], ldc)
			for i, v := range c {
				j, r := i/ldc, i%ldc
				if j < tc.width && r < 6 {
					if v != want[r*tc.width+j] {
						t.Fatalf("column %d row %d: %g, want %g", j, r, v, want[r*tc.width+j])
					}
				} else if v != sentinel {
					t.Fatalf("c[%d] (column %d, offset %d) written: %g", i, j, r, v)
				}
			}
		})
	}
}

// TestArgmax2x2 compares the vector argmax with Argmax4 window by window,
// on values with many ties and on NaNs, which Argmax4 decides as the
// kernel does.
func TestArgmax2x2(t *testing.T) {
	if !fast && !Portable {
		testenv.Skipf(t, testenv.AVX2, "no AVX2")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	const n, w, base = 24, 50, 7
	for trial := range 20 {
		r0, r1 := make([]float32, 2*n), make([]float32, 2*n)
		for i := range r0 {
			r0[i], r1[i] = float32(rng.IntN(3)), float32(rng.IntN(3))
			if trial%2 == 1 && rng.IntN(8) == 0 {
				r0[i] = float32(math.NaN())
			}
		}
		got, want := make([]int32, n), make([]int32, n)
		Argmax2x2(&r0[0], &r1[0], &got[0], n, base, w)
		argmax2x2Go(&r0[0], &r1[0], &want[0], n, base, w)
		for k := range n {
			if got[k] != want[k] {
				t.Fatalf("trial %d window %d (%v %v; %v %v): %d, want %d", trial, k, r0[2*k], r0[2*k+1], r1[2*k], r1[2*k+1], got[k], want[k])
			}
		}
	}
}

// TestSelectScatter2x2 compares the vector select and scatter with their
// Go twins bit for bit, on keys with many ties and NaNs, values with
// signed zeros and NaNs, and rows whose ends the kernels must not pass.
func TestSelectScatter2x2(t *testing.T) {
	if !fast && !Portable {
		testenv.Skipf(t, testenv.AVX2, "no AVX2")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	const n, pad = 24, 8
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(-1))}
	for trial := range 20 {
		k0, k1 := make([]float32, 2*n), make([]float32, 2*n)
		h0, h1, g := make([]float32, 2*n), make([]float32, 2*n), make([]float32, n)
		for i := range k0 {
			k0[i], k1[i] = float32(rng.IntN(3)), float32(rng.IntN(3))
			h0[i], h1[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			if trial%2 == 1 && rng.IntN(8) == 0 {
				k0[i], h1[i] = float32(math.NaN()), special[rng.IntN(len(special))]
			}
		}
		for i := range g {
			g[i] = float32(rng.NormFloat64())
			if trial%2 == 1 && rng.IntN(6) == 0 {
				g[i] = special[rng.IntN(len(special))]
			}
		}
		got, want := make([]float32, n+pad), make([]float32, n+pad)
		Select2x2(&k0[0], &k1[0], &h0[0], &h1[0], &got[0], n)
		select2x2Go(&k0[0], &k1[0], &h0[0], &h1[0], &want[0], n)
		if !sameBits(got, want) {
			t.Fatalf("trial %d: Select2x2 %v, want %v", trial, got, want)
		}
		// The rows are written whole, and nothing past them.
		d0, d1 := make([]float32, 2*n+pad), make([]float32, 2*n+pad)
		w0, w1 := make([]float32, 2*n+pad), make([]float32, 2*n+pad)
		for _, d := range [][]float32{d0, d1, w0, w1} {
			for i := range d {
				d[i] = 7
			}
		}
		Scatter2x2(&k0[0], &k1[0], &g[0], &d0[0], &d1[0], n)
		scatter2x2Go(&k0[0], &k1[0], &g[0], &w0[0], &w1[0], n)
		if !sameBits(d0, w0) || !sameBits(d1, w1) {
			t.Fatalf("trial %d: Scatter2x2\n%v\n%v\nwant\n%v\n%v", trial, d0, d1, w0, w1)
		}
		for i := 2 * n; i < len(d0); i++ {
			if d0[i] != 7 || d1[i] != 7 {
				t.Fatalf("trial %d: Scatter2x2 wrote past the rows", trial)
			}
		}
	}
}

// TestSelect4Scatter4 pins the twins to Argmax4: the value and the
// gradient go where it points.
func TestSelect4Scatter4(t *testing.T) {
	for _, c := range [][4]float32{{1, 1, 1, 1}, {1, 2, 1, 1}, {1, 1, 2, 1}, {1, 1, 1, 2}, {2, 1, 1, 2}, {1, 2, 2, 1}} {
		at := Argmax4(c[0], c[1], c[2], c[3], 0, 2)
		if got := Select4(c[0], c[1], c[2], c[3], 10, 11, 12, 13); got != float32(10+at) {
			t.Errorf("Select4(%v) = %v, want %v", c, got, 10+at)
		}
		d0, d1 := []float32{9, 9}, []float32{9, 9}
		Scatter4(c[0], c[1], c[2], c[3], 5, d0, d1)
		got := []float32{d0[0], d0[1], d1[0], d1[1]}
		for i, v := range got {
			if want := float32(0); int32(i) == at && v != 5 || int32(i) != at && v != want {
				t.Errorf("Scatter4(%v) = %v, want 5 at %d", c, got, at)
			}
		}
	}
}

// TestArgmax4 pins the order of ties: the first largest in row-major order.
func TestArgmax4(t *testing.T) {
	for _, c := range []struct {
		a, b, c, d float32
		want       int32
	}{
		{1, 1, 1, 1, 100}, {1, 2, 1, 1, 101}, {1, 1, 2, 1, 110}, {1, 1, 1, 2, 111}, {2, 1, 1, 2, 100}, {1, 2, 2, 1, 101},
	} {
		if got := Argmax4(c.a, c.b, c.c, c.d, 100, 10); got != c.want {
			t.Errorf("Argmax4(%v %v; %v %v) = %d, want %d", c.a, c.b, c.c, c.d, got, c.want)
		}
	}
}

// TestMaskSpecialKeys checks the branch-free select against k > 0 on keys
// at the edges of the float formats.
func TestMaskSpecialKeys(t *testing.T) {
	keys := []float64{0, math.Copysign(0, -1), 1, -1, math.Inf(1), math.Inf(-1), math.NaN(), -math.NaN(),
		5e-324, -5e-324, math.MaxFloat64, -math.MaxFloat64, 1e-45, 1e-40}
	h := make([]float64, len(keys))
	for i := range h {
		h[i] = float64(i + 1)
	}
	out64 := make([]float64, len(keys))
	Mask64(out64, keys, h)
	for i, k := range keys {
		want := 0.0
		if k > 0 {
			want = h[i]
		}
		if out64[i] != want {
			t.Errorf("float64 key %g: got %g, want %g", k, out64[i], want)
		}
	}
	// float32: every subslice of up to 20 of the keys repeated, so that every
	// key falls both in the vector part and in the scalar tail; the dropped
	// values exactly +0.
	var k32, h32 []float32
	for range 3 {
		for i, k := range keys {
			k32, h32 = append(k32, float32(k)), append(h32, float32(h[i]))
		}
	}
	for lo := range keys {
		for n := 1; n <= 20; n++ {
			ks, hs := k32[lo:lo+n], h32[lo:lo+n]
			out32 := make([]float32, len(ks))
			Mask(out32, ks, hs)
			for i := range ks {
				want32 := float32(0)
				if ks[i] > 0 {
					want32 = hs[i]
				}
				if math.Float32bits(out32[i]) != math.Float32bits(want32) {
					t.Errorf("float32 key %g at %d of %d: got %g, want %g", ks[i], i, len(ks), out32[i], want32)
				}
			}
		}
	}
}

// TestMaskAVX2 compares the vector mask with its Go twin on random keys,
// a fifth of them zero of either sign, bit for bit.
func TestMaskAVX2(t *testing.T) {
	if !fast && !Portable {
		testenv.Skipf(t, testenv.AVX2, "no AVX2")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	const n = 64
	key, h := make([]float32, n), make([]float32, n)
	for i := range key {
		key[i], h[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		if rng.IntN(5) == 0 {
			key[i] = float32(math.Copysign(0, rng.NormFloat64()))
		}
	}
	got, want := make([]float32, n), make([]float32, n)
	maskAVX2(&got[0], &key[0], &h[0], n)
	maskAVX2Go(&want[0], &key[0], &h[0], n)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("key %g, value %g: %g, want %g", key[i], h[i], got[i], want[i])
		}
	}
}

// BenchmarkMask is ReLU's mask over a conv1-sized activation (800,000
// elements); with -tags purego it runs the scalar loop.
func BenchmarkMask(b *testing.B) {
	n := 800000
	k, h, out := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range k {
		k[i], h[i] = float32(i%7)-3, float32(i)
	}
	for range b.N {
		Mask(out, k, h)
	}
}

// BenchmarkKernelPeak runs the GEMM kernels on panels that stay in the L1
// cache, one core: what each width reaches at best, to compare with the
// whole products (BenchmarkSgemm, and BenchmarkConvMadry in
// sgn/shared/ops).
func BenchmarkKernelPeak(b *testing.B) {
	if !fast {
		b.Skip("no AVX2 and FMA")
	}
	const k = 256
	a, p := make([]float32, MR*k), make([]float32, 2*NR*k)
	c := make([]float32, MR*2*NR)
	for _, wide := range kernelWidths() {
		cols := NR
		if wide {
			cols = 2 * NR
		}
		b.Run(fmt.Sprintf("6x%d", cols), func(b *testing.B) {
			for range b.N {
				if wide {
					Gemm6x32(k, &a[0], &p[0], NR*k, &c[0], 2*NR)
				} else {
					Gemm6x16(k, &a[0], &p[0], &c[0], 2*NR)
				}
			}
			b.ReportMetric(2*float64(MR*cols*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestPackBT16MatchesGo compares the transposing pack of a 16-row panel,
// in assembly eight columns at a time (and packBT16, which adds the
// columns left over), with its Go twin, and checks that neither writes
// past the panel.
func TestPackBT16MatchesGo(t *testing.T) {
	if !fast {
		if Portable {
			t.Skip("a portable build runs the Go twins themselves")
		}
		testenv.Skipf(t, testenv.AVX2, "no AVX2 and FMA")
	}
	const ldb = 43
	r := rand.New(rand.NewPCG(14, 15))
	b := make([]float32, 16*ldb)
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	for _, kb := range []int{1, 7, 8, 9, 16, 24, 37, ldb} {
		want := make([]float32, NR*kb+NR)
		packBT16Go(b, ldb, kb, want)
		got := make([]float32, len(want))
		packBT16(b, ldb, kb, got)
		if !slices.Equal(got, want) {
			t.Errorf("kb=%d: packBT16 differs from its Go twin", kb)
		}
		n8 := kb / 8
		if n8 == 0 {
			continue
		}
		want, got = make([]float32, NR*kb+NR), make([]float32, NR*kb+NR)
		packBT16x8Go(&b[0], ldb, n8, &want[0])
		packBT16x8(&b[0], ldb, n8, &got[0])
		if !slices.Equal(got, want) {
			t.Errorf("kb=%d: packBT16x8 differs from its Go twin", kb)
		}
		for i, v := range got[8*n8*NR:] {
			if v != 0 {
				t.Errorf("kb=%d: packBT16x8 wrote %v at %d, past its %d columns", kb, v, 8*n8*NR+i, 8*n8)
				break
			}
		}
	}
}

// sameBits reports whether a and b hold the same float32 bits.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}
