package ops

import (
	"math"

	"sgn/shared/kernels"
)

// Winograd's F(2×2, 5×5) for the 5×5 convolutions of stride 1 and padding
// 2 of the Madry CNN, whose second layer (32 to 64 channels) holds most
// of its multiply-adds: each 2×2 tile of output costs 36 multiplies per
// input channel where the direct sum costs 100. As with F(2×2, 3×3), the
// input's tiles are transformed (kernels.Winograd5In) into 36 matrices V
// [C,T], the filters into 36 matrices U [O,C], their products M = U·V are
// GEMMs, and M goes back to tiles of output (kernels.Winograd5Out); the
// data gradient is the same convolution with each filter turned by 180°
// and the channels' roles swapped.
//
// The transforms take eight examples to a vector: each worker first
// interleaves eight examples' planes (position p of a plane at floats 8p
// to 8p+7), so that planes of any even size vectorize (MNIST's second
// layer is 14×14: rows of seven tiles), and each GEMM column is one tile
// of one example.

// wino5Tiles is how many tiles (of eight examples each) one chunk holds:
// the GEMMs' width is eight times that. V and M then take 36·(C+O)·64
// floats (885 KB at 32 and 64 channels).
const wino5Tiles = 8

// winograd5OK reports whether a convolution of this geometry goes through
// Winograd's F(2×2, 5×5) for its forward pass and data gradient: one it
// fits, with at least 16 channels on both sides (below that the GEMMs'
// depth is too shallow to outweigh the transforms). The batch size plays
// no part, so that an example's outputs are the same bits in any batch
// (batches of fewer than eight waste lanes). The filter gradient stays
// direct.
func (g convGeom) winograd5OK() bool {
	return kernels.Fast() && g.winograd5Fits() && min(g.c, g.o) >= 16
}

// winograd5Fits reports whether winograd5Conv can compute a convolution of
// this geometry, in both directions: Winograd5In writes V straight into
// the GEMM's packed panels, which it can for a depth (either side's
// channels) of one block of the GEMM; and each worker holds eight
// examples' padded planes, which must stay small (8 MB: 64 channels up
// to 60×60) where the direct path needs no such room.
func (g convGeom) winograd5Fits() bool {
	return g.kh == 5 && g.kw == 5 && g.stride == 1 && g.pad == 2 && g.h%2 == 0 && g.w%2 == 0 &&
		max(g.c, g.o) <= kernels.KC && max(g.c, g.o)*(g.h+4)*(g.w+4) <= 1<<18
}

// winograd5Conv sets y [n,cout,h,w] to the 5×5 convolution, stride 1 and
// padding 2, of x [n,cin,h,w] with the filters f [cout,cin,5,5]; with
// flip, f is [cin,cout,5,5] and each filter is turned by 180°: the data
// gradient of the convolution with f, x then being the output gradient.
func winograd5Conv(b *buffers, n, cin, h, w, cout int, x, f []float32, flip bool) []float32 {
	y := output[float32](b, n*cout*h*w, false) // every tile writes its four outputs
	tw, th := w/2, h/2
	tiles := tw * th
	chunk := min(tiles, wino5Tiles)
	cols := 8 * chunk
	hp, wp := h+4, w+4 // a plane with its zero border
	ld := 8 * wp
	inSize, outSize, plane := cin*h*w, cout*h*w, h*w

	size := kernels.PackedSize(cout, cin)
	packed := winograd5Packed(b, f, cin, cout, flip)

	groups := (n + 7) / 8
	workers := workersFor(groups)
	b.reservePacks(workers)
	parallelForN(groups, workers, func(wk, lo, hi int) {
		buf := b.pack(wk)
		defer b.unpack(buf)
		var vs [36]kernels.WholeB
		vSize := cin * ((cols + kernels.NR - 1) / kernels.NR * kernels.NR)
		vStride, mStride := winoStride(vSize), winoStride(cout*cols)
		xSize, ySize := cin*hp*wp*8, max(cin, cout)*plane*8
		scr := grow(&buf.col, xSize+ySize+36*vStride)
		x8, v := scr[:xSize], scr[xSize+ySize:]
		y8, xu := scr[xSize:xSize+ySize], scr[xSize:xSize+ySize] // the input, interleaved, until the first chunk's output
		for k := range vs {
			vs[k] = kernels.WholeB{Data: v[k*vStride : k*vStride+vSize], K: cin, N: cols}
		}
		pair := vs[0].Offset(0, kernels.NR) // from one packed panel to the next
		m := grow(&buf.packed, 36*mStride)
		clear(x8) // the border stays zero; each group fills the inside
		for gi := lo; gi < hi; gi++ {
			i0 := 8 * gi
			lanes := min(8, n-i0) // the missing examples' lanes are zero
			interleave8(xu, x[i0*inSize:], inSize, lanes)
			for c := range cin {
				for r := range h {
					copy(x8[((c*hp+r+2)*wp+2)*8:], xu[(c*plane+r*w)*8:(c*plane+(r+1)*w)*8])
				}
			}
			for t0 := 0; t0 < tiles; t0 += chunk {
				nt := min(chunk, tiles-t0)
				for c := range cin {
					xc := x8[c*hp*wp*8:]
					wino5Runs(t0, nt, tw, func(t, run int) {
						ty, tx, l := t/tw, t%tw, t-t0
						kernels.Winograd5In(v[vs[0].Offset(c, 8*l):], vStride, xc[(2*ty*wp+2*tx)*8:], ld, run, l%2 == 1, pair)
					})
				}
				for k := range 36 {
					kernels.SgemmPackedWholeB(&buf.Buf, packed[k*size:(k+1)*size], &vs[k], cout, 8*nt, m[k*mStride:], cols)
				}
				for o := range cout {
					yo := y8[o*plane*8:]
					wino5Runs(t0, nt, tw, func(t, run int) {
						ty, tx := t/tw, t%tw
						kernels.Winograd5Out(yo[(2*ty*w+2*tx)*8:], 8*w, m[o*cols+8*(t-t0):], mStride, run)
					})
				}
			}
			deinterleave8(y[i0*outSize:], y8, outSize, lanes)
		}
	})
	return y
}

// interleave8 sets dst[8p+lane] to src[lane·size+p] for the first lanes
// of eight examples of size floats each, the others to zero.
func interleave8(dst, src []float32, size, lanes int) {
	blocks := 0
	if lanes == 8 {
		blocks = size / 8
		kernels.Transpose8(dst, 8, 64, src, size, 8, blocks)
	}
	for p := 8 * blocks; p < size; p++ {
		d := dst[8*p : 8*p+8]
		for lane := range d {
			d[lane] = 0
			if lane < lanes {
				d[lane] = src[lane*size+p]
			}
		}
	}
}

// deinterleave8 is interleave8's inverse for the first lanes: it sets
// dst[lane·size+p] to src[8p+lane].
func deinterleave8(dst, src []float32, size, lanes int) {
	blocks := 0
	if lanes == 8 {
		blocks = size / 8
		kernels.Transpose8(dst, size, 8, src, 8, 64, blocks)
	}
	for p := 8 * blocks; p < size; p++ {
		for lane := range lanes {
			dst[lane*size+p] = src[8*p+lane]
		}
	}
}

// wino5Runs calls do for each run of tiles [t, t+run) of tiles [t0, t0+nt)
// that lies in one row of tw tiles.
func wino5Runs(t0, nt, tw int, do func(t, run int)) {
	for t := t0; t < t0+nt; {
		run := min(t0+nt, (t/tw+1)*tw) - t
		do(t, run)
		t += run
	}
}

// winograd5Packed returns the 36 matrices G g Gᵀ of f's filters (see
// winograd5Conv), each packed whole for the GEMMs. A reusing node keeps
// them, with a copy of f, and transforms again only when f is not the
// same bits: during an attack it never is, and transforming 64×32
// filters at every call cost a tenth of a convolution of 25 examples.
func winograd5Packed(b *buffers, f []float32, cin, cout int, flip bool) []float32 {
	size := kernels.PackedSize(cout, cin)
	// The copy of f, then 1 + flip: a zeroed cache holds no valid key.
	key, packed := cache(b, 0, len(f)+1), cache(b, 1, 36*size)
	tag := float32(1)
	if flip {
		tag = 2
	}
	if key != nil && key[len(f)] == tag && sameBits(key[:len(f)], f) {
		return packed
	}
	if packed == nil {
		packed = make([]float32, 36*size)
	}
	b.reservePacks(1)
	shared := b.pack(0) // free again once the filters are packed
	defer b.unpack(shared)
	u := grow(&shared.col, 36*cout*cin)
	winograd5Filters(u, f, cin, cout, flip)
	for k := range 36 {
		dst := packed[k*size : (k+1)*size]
		kernels.PackWhole(&dst, false, u[k*cout*cin:], cin, cout, cin)
	}
	if key != nil {
		copy(key, f)
		key[len(f)] = tag
	}
	return packed
}

// sameBits reports whether a and b hold the same float32 bit patterns
// (NaNs and signed zeros included, which == would not tell apart).
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i, x := range a {
		if math.Float32bits(x) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// winograd5Filters sets u [36][cout][cin] to G g Gᵀ for each filter g
// [5,5] of f (turned by 180° and read as f [cin,cout,5,5] with flip), in
// float64, rounded once.
func winograd5Filters(u, f []float32, cin, cout int, flip bool) {
	// G: Lagrange's interpolation at 0, 1, -1, 2, -2, and ∞.
	G := [6][5]float64{
		{1.0 / 4, 0, 0, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 2.0 / 24, 4.0 / 24, 8.0 / 24, 16.0 / 24},
		{1.0 / 24, -2.0 / 24, 4.0 / 24, -8.0 / 24, 16.0 / 24},
		{0, 0, 0, 0, 1},
	}
	parallelFor(cout, func(_, lo, hi int) {
		for o := lo; o < hi; o++ {
			for c := range cin {
				var g [5][5]float64
				if flip {
					src := f[(c*cout+o)*25:]
					for i := range 5 {
						for j := range 5 {
							g[i][j] = float64(src[(4-i)*5+4-j])
						}
					}
				} else {
					src := f[(o*cin+c)*25:]
					for i := range 5 {
						for j := range 5 {
							g[i][j] = float64(src[i*5+j])
						}
					}
				}
				var gg [6][5]float64 // G g
				for xi := range 6 {
					for j := range 5 {
						for k := range 5 {
							gg[xi][j] += G[xi][k] * g[k][j]
						}
					}
				}
				for xi := range 6 {
					for nu := range 6 {
						var s float64
						for j := range 5 {
							s += gg[xi][j] * G[nu][j]
						}
						u[((6*xi+nu)*cout+o)*cin+c] = float32(s)
					}
				}
			}
		}
	})
}
