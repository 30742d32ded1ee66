package kernels

// Winograd's F(2×2, 5×5) transforms: a 5×5 convolution of stride 1
// computed tile by tile, each 2×2 tile of output from a 6×6 tile of input
// as Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, 36 multiplies where the direct sum takes
// 100. The interpolation points are 0, ±1, ±2 and ∞:
//
//	Bᵀ = | 4  0 -5  0  1  0 |   Aᵀ = | 1  1  1  1  1  0 |
//	     | 0 -4 -4  1  1  0 |        | 0  1 -1  2 -2  1 |
//	     | 0  4 -4 -1  1  0 |
//	     | 0 -2 -1  2  1  0 |
//	     | 0  2 -1 -2  1  0 |
//	     | 0  4  0 -5  0  1 |
//
// Bᵀ's rows are summed as (d4 - d2) + 4(d0 - d2) and so on, so that every
// product is by 2 or 4 and exact: a fused multiply-add then rounds as the
// separate add does, and the Go twins match the vector kernels bit for bit.
//
// Unlike F(2×2, 3×3)'s kernels, which take eight tiles of one plane to a
// vector, these take one tile of eight examples: each element of the input
// and output planes is a vector of the eight examples' values (position p
// of a plane at floats 8p to 8p+7), so that any plane size vectorizes.

// Winograd5In transforms a row of tiles of one input channel of eight
// interleaved examples: x holds the six rows the tiles cover, ld floats
// apart, tile i covering positions 2i to 2i+5 of each. The 36 vectors of
// tile i's Bᵀ d B go to v[(6ξ+ν)·stride + off_i : +8], where off_0 = 0 and
// the tiles take turns at the two halves of a packed GEMM panel of 16
// columns: after an even tile the next is 8 floats on, after an odd one
// pair-8 (counting tile 0 as odd when odd is set).
func Winograd5In(v []float32, stride int, x []float32, ld, tiles int, odd bool, pair int) {
	if tiles <= 0 {
		return
	}
	_ = v[35*stride+wino5Offset(tiles-1, odd, pair)+7]
	_ = x[5*ld+16*(tiles-1)+6*8-1]
	if fast {
		wino5InAVX2(&v[0], stride, &x[0], ld, tiles, b2i(odd), pair)
		return
	}
	wino5InGo(v, stride, x, ld, tiles, odd, pair)
}

// Winograd5Out transforms a row of tiles of one output channel back: m
// holds the 36 products of tile i, element (ξ, ν) at m[(6ξ+ν)·stride + 8i
// : +8], and Aᵀ M A, the tile's 2×2 output of eight examples, goes to
// positions 2i and 2i+1 of y's first two rows (ldy floats apart).
func Winograd5Out(y []float32, ldy int, m []float32, stride, tiles int) {
	if tiles <= 0 {
		return
	}
	_ = m[35*stride+8*tiles-1]
	_ = y[ldy+16*tiles-1]
	if fast {
		wino5OutAVX2(&y[0], ldy, &m[0], stride, tiles)
		return
	}
	wino5OutGo(y, ldy, m, stride, tiles)
}

// wino5Offset is where Winograd5In puts tile i's vectors.
func wino5Offset(i int, odd bool, pair int) int {
	if odd {
		// Tile 0 is the second half of a panel: tile 1 starts the next.
		return wino5Offset(i+1, false, pair) - 8
	}
	return i/2*pair + i%2*8
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bt6 is Bᵀd for six values, summed as the vector kernels sum it.
func bt6(d [6]float32) [6]float32 {
	p, q := d[4]-d[2], d[3]-d[1]
	return [6]float32{
		p + 4*(d[0]-d[2]),
		(d[3] + d[4]) - 4*(d[1]+d[2]),
		(d[4] - d[3]) + 4*(d[1]-d[2]),
		p + 2*q,
		p - 2*q,
		(d[5] - d[3]) + 4*(d[1]-d[3]),
	}
}

// wino5InGo is Winograd5In in Go, in the vector kernel's order: the rows
// of Bᵀ d first, then their columns.
func wino5InGo(v []float32, stride int, x []float32, ld, tiles int, odd bool, pair int) {
	for i := range tiles {
		off := wino5Offset(i, odd, pair)
		for lane := range 8 {
			var cols [6][6]float32 // cols[j] is column j of the tile
			for j := range 6 {
				for r := range 6 {
					cols[j][r] = x[r*ld+8*(2*i+j)+lane]
				}
			}
			var e [6][6]float32 // e[j] is column j of Bᵀ d
			for j := range 6 {
				e[j] = bt6(cols[j])
			}
			for xi := range 6 {
				row := bt6([6]float32{e[0][xi], e[1][xi], e[2][xi], e[3][xi], e[4][xi], e[5][xi]})
				for nu, u := range row {
					v[(6*xi+nu)*stride+off+lane] = u
				}
			}
		}
	}
}

// at6 is Aᵀm for six values, summed as the vector kernels sum it.
func at6(m [6]float32) [2]float32 {
	return [2]float32{m[0] + m[1] + m[2] + m[3] + m[4], (m[1] - m[2]) + 2*(m[3]-m[4]) + m[5]}
}

// wino5OutGo is Winograd5Out in Go, in the vector kernel's order: Aᵀ M
// first, then its rows times A.
func wino5OutGo(y []float32, ldy int, m []float32, stride, tiles int) {
	for i := range tiles {
		for lane := range 8 {
			var r [2][6]float32 // Aᵀ M
			for nu := range 6 {
				var col [6]float32
				for xi := range 6 {
					col[xi] = m[(6*xi+nu)*stride+8*i+lane]
				}
				c := at6(col)
				r[0][nu], r[1][nu] = c[0], c[1]
			}
			for row := range 2 {
				out := at6(r[row])
				y[row*ldy+16*i+lane] = out[0]
				y[row*ldy+16*i+8+lane] = out[1]
			}
		}
	}
}

// Transpose8 transposes blocks of 8×8 floats, for interleaving eight
// examples and back: block b's row r is src[b·srcStep + r·lds : +8], and
// its column j goes to dst[b·dstStep + j·ldd : +8].
func Transpose8(dst []float32, ldd, dstStep int, src []float32, lds, srcStep, blocks int) {
	if blocks <= 0 {
		return
	}
	_ = dst[(blocks-1)*dstStep+7*ldd+7]
	_ = src[(blocks-1)*srcStep+7*lds+7]
	if fast {
		transpose8AVX2(&dst[0], ldd, dstStep, &src[0], lds, srcStep, blocks)
		return
	}
	transpose8Go(dst, ldd, dstStep, src, lds, srcStep, blocks)
}

// transpose8Go is Transpose8 in Go.
func transpose8Go(dst []float32, ldd, dstStep int, src []float32, lds, srcStep, blocks int) {
	for b := range blocks {
		for r := range 8 {
			for j := range 8 {
				dst[b*dstStep+j*ldd+r] = src[b*srcStep+r*lds+j]
			}
		}
	}
}
