package ops

import "sgn/shared/kernels"

// Winograd's F(2×2, 3×3) for the 3×3 convolutions of stride 1 and padding
// 1 that make up most of a ResNet: each 2×2 tile of output costs 16
// multiplies per input channel where the direct sum costs 36. The input's
// 4×4 tiles are transformed (kernels.WinogradIn) into 16 matrices V [C,T]
// over a chunk of T tiles, the filters into 16 matrices U [O,C], their 16
// products M = U·V [O,T] are GEMMs, and M goes back to 2×2 tiles of output
// (kernels.WinogradOut). The data gradient of such a convolution is one
// too, with each filter turned by 180° and the channels' roles swapped.

// winoColumns is about how many tiles one chunk of a worker's examples
// holds: the GEMMs' column count. V and M then take 16·(C+O)·winoColumns
// floats (1 MB at 64 channels), which stay near the core for CIFAR's
// first stages.
const winoColumns = 256

// winoSkew is added to the distance between the 16 matrices of a
// transform's side, which the transforms read or write as 16 streams at
// once: at whole multiples of 4 KB apart (as C·winoColumns floats are)
// they all fall into one set of the L1 and L2 caches and evict each
// other.
const winoSkew = 16

// winoStride is the distance between the 16 matrices of size floats each.
func winoStride(size int) int { return size + winoSkew }

// winoTiles is how a worker walks its examples' planes (h×w, both even):
// tw×th tiles of 2×2 outputs each, e examples a chunk (cols tiles, the
// GEMMs' width), every input plane copied into a zero-bordered (h+2)×wp
// one first.
type winoTiles struct {
	h, w, tw, th, tiles, e, cols, wp int
}

func newWinoTiles(n, h, w int) winoTiles {
	t := winoTiles{h: h, w: w, tw: w / 2, th: h / 2, wp: w + 2}
	t.tiles = t.tw * t.th
	t.e = max(1, min(n, winoColumns/t.tiles))
	t.cols = t.e * t.tiles
	return t
}

// padSize is the length of a padded plane.
func (t winoTiles) padSize() int { return (t.h + 2) * t.wp }

// fill copies plane src into pad's inside; its border, cleared once by
// the caller, stays zero.
func (t winoTiles) fill(pad, src []float32) {
	for r := range t.h {
		copy(pad[(r+1)*t.wp+1:(r+1)*t.wp+1+t.w], src[r*t.w:(r+1)*t.w])
	}
}

// winogradOK reports whether a convolution of this geometry goes through
// Winograd's F(2×2, 3×3), in all three products: one it fits, with at
// least 64 channels on both sides, so that the GEMMs outweigh the
// transforms, and planes of at least 4×4. BenchmarkConvCIFAR on an AMD
// EPYC with AVX2 only (2 cores, batch 128, GFLOP/s of the direct sum,
// two runs), direct against Winograd, forward, data and filter gradient:
// 64 channels at 32×32 121-127, 127-134, 134-149 against 190-213,
// 203-207, 165-191; 128 at 16×16 129-140, 136-137, 130-142 against
// 169-209, 205-230, 165-185; 256 at 8×8 (two rows of four tiles to a
// vector) 105-107, 102-117, 129-159 against 212-213, 180-194, 178-191;
// 512 at 4×4 (the transforms in Go) 97-124, 89-114, 108-115 against
// 142-145, 138-142, 148-157. Fewer channels lose on an Intel Xeon
// (Sapphire Rapids): 32 to 64 at 16×16 came out even (112 against 111
// forward), 3 to 32 at 32×32 lost (76 against 35).
func (g convGeom) winogradOK() bool {
	return kernels.Fast() && g.winogradFits() && min(g.c, g.o) >= 64 && min(g.h, g.w) >= 4
}

// winogradFits reports whether winogradConv can compute a convolution of
// this geometry.
func (g convGeom) winogradFits() bool {
	return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.pad == 1 && g.h%2 == 0 && g.w%2 == 0
}

// winogradConv sets y [n,cout,h,w] to the 3×3 convolution, stride 1 and
// padding 1, of x [n,cin,h,w] with the filters f [cout,cin,3,3]; with
// flip, f is [cin,cout,3,3] and each filter is turned by 180°: the data
// gradient of the convolution with f, x then being the output gradient.
func winogradConv(b *buffers, n, cin, h, w, cout int, x, f []float32, flip bool) []float32 {
	y := output[float32](b, n*cout*h*w, false) // every tile writes its four outputs
	tl := newWinoTiles(n, h, w)
	tw, th, tiles, e, cols, wp := tl.tw, tl.th, tl.tiles, tl.e, tl.cols, tl.wp
	inSize, outSize, plane := cin*h*w, cout*h*w, h*w

	b.reservePacks(1)
	shared := b.pack(0)
	defer b.unpack(shared)
	u := grow(&shared.col, 16*cout*cin)
	winogradFilters(u, f, cin, cout, flip)
	size := kernels.PackedSize(cout, cin)
	packed := grow(&shared.whole, 16*size)
	for k := range 16 {
		dst := packed[k*size : (k+1)*size]
		kernels.PackWhole(&dst, false, u[k*cout*cin:], cin, cout, cin)
	}

	workers := workersFor(n)
	b.reservePacks(1 + workers)
	parallelForN(n, workers, func(wk, lo, hi int) {
		buf := b.pack(1 + wk)
		defer b.unpack(buf)
		// V goes straight into the GEMM's packed layout, one WholeB per
		// (ξ, ν): packing it afresh for each product took a tenth of the
		// time.
		var vs [16]kernels.WholeB
		vSize := cin * ((cols + kernels.NR - 1) / kernels.NR * kernels.NR)
		vStride, mStride := winoStride(vSize), winoStride(cout*cols)
		scr := grow(&buf.col, tl.padSize()+16*vStride)
		pad, v := scr[:tl.padSize()], scr[tl.padSize():]
		for k := range vs {
			vs[k] = kernels.WholeB{Data: v[k*vStride : k*vStride+vSize], K: cin, N: cols}
		}
		clear(pad) // the border stays zero; each plane fills the inside
		m := grow(&buf.packed, 16*mStride)
		for i := lo; i < hi; i += e {
			ex := min(e, hi-i)
			for j := range ex {
				xj := x[(i+j)*inSize:]
				for c := range cin {
					tl.fill(pad, xj[c*plane:])
					for ty := 0; ty < th; {
						t0 := j*tiles + ty*tw
						if tw == 4 && ty+1 < th && t0%kernels.NR+2*tw <= kernels.NR {
							// Two rows of four tiles in one packed panel: one
							// vector of eight.
							kernels.WinogradInRows(v[vs[0].Offset(c, t0):], vStride, pad[2*ty*wp:], wp, tw, 2)
							ty += 2
							continue
						}
						// A row of tiles, split where it crosses from one
						// packed panel of 16 columns into the next.
						for t := t0; t < t0+tw; {
							end := min(t0+tw, (t/kernels.NR+1)*kernels.NR)
							kernels.WinogradIn(v[vs[0].Offset(c, t):], vStride, pad[2*ty*wp+2*(t-t0):], wp, end-t)
							t = end
						}
						ty++
					}
				}
			}
			used := ex * tiles
			for k := range 16 {
				kernels.SgemmPackedWholeB(&buf.Buf, packed[k*size:(k+1)*size], &vs[k], cout, used, m[k*mStride:], cols)
			}
			for j := range ex {
				yj := y[(i+j)*outSize:]
				for o := range cout {
					kernels.WinogradOutRows(yj[o*plane:], w, m[o*cols+j*tiles:], mStride, tw, th)
				}
			}
		}
	})
	return y
}

// winogradFilters sets u [16][cout][cin] to G g Gᵀ for each filter g
// [3,3] of f (turned by 180° and read as f [cin,cout,3,3] with flip), G
// being
//
//	| 1    0    0  |
//	| 1/2  1/2  1/2 |
//	| 1/2 -1/2  1/2 |
//	| 0    0    1  |
func winogradFilters(u, f []float32, cin, cout int, flip bool) {
	parallelFor(cout, func(_, lo, hi int) {
		for o := lo; o < hi; o++ {
			for c := range cin {
				var g [3][3]float32
				if flip {
					src := f[(c*cout+o)*9:]
					for i := range 3 {
						for j := range 3 {
							g[i][j] = src[(2-i)*3+2-j]
						}
					}
				} else {
					src := f[(o*cin+c)*9:]
					for i := range 3 {
						for j := range 3 {
							g[i][j] = src[i*3+j]
						}
					}
				}
				var gg [4][3]float32 // G g
				for j := range 3 {
					gg[0][j] = g[0][j]
					gg[1][j] = (g[0][j] + g[1][j] + g[2][j]) / 2
					gg[2][j] = (g[0][j] - g[1][j] + g[2][j]) / 2
					gg[3][j] = g[2][j]
				}
				for xi := range 4 {
					r := gg[xi]
					at := func(nu int) *float32 { return &u[((4*xi+nu)*cout+o)*cin+c] }
					*at(0) = r[0]
					*at(1) = (r[0] + r[1] + r[2]) / 2
					*at(2) = (r[0] - r[1] + r[2]) / 2
					*at(3) = r[2]
				}
			}
		}
	})
}

// winogradBackFilter returns the filter gradient dw [cout,cin,3,3] of the
// 3×3 convolution, stride 1 and padding 1, of x [n,cin,h,w] whose output
// gradient is gy [n,cout,h,w]. Y = Aᵀ[Σ_c U_c ⊙ V_c]A for each tile makes
// the gradient of U = G g Gᵀ the sum over tiles of (A dY Aᵀ) ⊙ V: 16
// products Z·Vᵀ [O,C] whose depth is the tiles (kernels.WinogradOutAdj
// transforms dY into Z), and dw = Gᵀ dU G. Each worker sums its examples
// into its own dU.
func winogradBackFilter(b *buffers, n, cin, h, w, cout int, x, gy []float32) []float32 {
	tl := newWinoTiles(n, h, w)
	tw, th, tiles, e, cols, wp := tl.tw, tl.th, tl.tiles, tl.e, tl.cols, tl.wp
	inSize, outSize, plane := cin*h*w, cout*h*w, h*w
	uSize := 16 * cout * cin

	workers := workersFor(n)
	parts := make([][]float32, workers)
	for wk := range parts {
		parts[wk] = scratch[float32](b, wk, uSize, false) // the first chunk sets it
	}
	b.reservePacks(workers)
	parallelForN(n, workers, func(wk, lo, hi int) {
		buf := b.pack(wk)
		defer b.unpack(buf)
		vStride, zStride := winoStride(cin*cols), winoStride(cout*cols)
		scr := grow(&buf.col, tl.padSize()+16*(vStride+zStride))
		pad, v, z := scr[:tl.padSize()], scr[tl.padSize():tl.padSize()+16*vStride], scr[tl.padSize()+16*vStride:]
		clear(pad) // the border stays zero; each plane fills the inside
		acc := parts[wk]
		var beta float32 // the first chunk sets acc, the others add to it
		for i := lo; i < hi; i += e {
			ex := min(e, hi-i)
			for j := range ex {
				xj, gyj := x[(i+j)*inSize:], gy[(i+j)*outSize:]
				for c := range cin {
					tl.fill(pad, xj[c*plane:])
					kernels.WinogradInRows(v[c*cols+j*tiles:], vStride, pad, wp, tw, th)
				}
				for o := range cout {
					kernels.WinogradOutAdjRows(z[o*cols+j*tiles:], zStride, gyj[o*plane:], w, tw, th)
				}
			}
			used := ex * tiles
			for k := range 16 {
				kernels.Sgemm(&buf.Buf, false, true, cout, cin, used, z[k*zStride:], cols, v[k*vStride:], cols, beta, acc[k*cout*cin:], cin)
			}
			beta = 1
		}
	})
	sum := parts[0]
	for _, acc := range parts[1:] {
		for i, v := range acc[:uSize] {
			sum[i] += v
		}
	}
	dw := output[float32](b, cout*cin*9, false)
	parallelFor(cout, func(_, lo, hi int) {
		for o := lo; o < hi; o++ {
			for c := range cin {
				var d [4][4]float32
				for k := range 16 {
					d[k/4][k%4] = sum[(k*cout+o)*cin+c]
				}
				// Gᵀ d, then its rows times G.
				var q [3][4]float32
				for j := range 4 {
					q[0][j] = d[0][j] + (d[1][j]+d[2][j])/2
					q[1][j] = (d[1][j] - d[2][j]) / 2
					q[2][j] = (d[1][j]+d[2][j])/2 + d[3][j]
				}
				out := dw[(o*cin+c)*9:]
				for i, r := range q {
					out[3*i] = r[0] + (r[1]+r[2])/2
					out[3*i+1] = (r[1] - r[2]) / 2
					out[3*i+2] = (r[1]+r[2])/2 + r[3]
				}
			}
		}
	})
	return dw
}
