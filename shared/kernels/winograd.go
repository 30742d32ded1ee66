package kernels

// Winograd's F(2×2, 3×3) transforms (Lavin and Gray, 2016): a 3×3
// convolution of stride 1 computed tile by tile, each 2×2 tile of output
// from a 4×4 tile of input as Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, 16 multiplies
// where the direct sum takes 36. Summed over input channels, the 16
// elementwise products become 16 matrix products, which is where the time
// goes; the transforms here are the data's way in and out of them.
//
//	Bᵀ = | 1  0 -1  0 |   Aᵀ = | 1  1  1  0 |
//	     | 0  1  1  0 |        | 0  1 -1 -1 |
//	     | 0 -1  1  0 |
//	     | 0  1  0 -1 |

// WinogradIn transforms one row of tiles of one input channel: rows holds
// the four input rows the tiles cover (wp elements apart, zero-padded, at
// least 2·tiles+2 wide), tile t covering columns 2t to 2t+3. Element (ξ, ν)
// of tile t's Bᵀ d B goes to v[(4ξ+ν)·stride + t].
func WinogradIn(v []float32, stride int, rows []float32, wp, tiles int) {
	if tiles <= 0 {
		return
	}
	_ = v[15*stride+tiles-1]
	_ = rows[3*wp+2*tiles+1]
	if groups := tiles / 8; fast && groups > 0 {
		winoInAVX2(&v[0], stride, &rows[0], wp, groups, 8, 16)
		v, rows, tiles = v[8*groups:], rows[16*groups:], tiles-8*groups
	}
	if tiles > 0 {
		winoInGo(v, stride, rows, wp, tiles)
	}
}

// WinogradOut transforms one row of tiles of one output channel back: m
// holds the 16 products of each tile, element (ξ, ν) of tile t at
// m[(4ξ+ν)·stride + t], and Aᵀ M A, tile t's 2×2 output, goes to columns
// 2t and 2t+1 of y's first two rows (ldy elements apart).
func WinogradOut(y []float32, ldy int, m []float32, stride, tiles int) {
	if tiles <= 0 {
		return
	}
	_ = m[15*stride+tiles-1]
	_ = y[ldy+2*tiles-1]
	if groups := tiles / 8; fast && groups > 0 {
		winoOutAVX2(&y[0], ldy, &m[0], stride, groups, 8, 16)
		y, m, tiles = y[16*groups:], m[8*groups:], tiles-8*groups
	}
	if tiles > 0 {
		winoOutGo(y, ldy, m, stride, tiles)
	}
}

// WinogradOutAdj is WinogradOut's adjoint, for the filter gradient: it
// takes each 2×2 tile t of dy (columns 2t and 2t+1 of its first two rows,
// ldy elements apart) to the 4×4 A dy Aᵀ, element (ξ, ν) at
// z[(4ξ+ν)·stride + t].
func WinogradOutAdj(z []float32, stride int, dy []float32, ldy, tiles int) {
	if tiles <= 0 {
		return
	}
	_ = z[15*stride+tiles-1]
	_ = dy[ldy+2*tiles-1]
	if groups := tiles / 8; fast && groups > 0 {
		winoOutAdjAVX2(&z[0], stride, &dy[0], ldy, groups, 8, 16)
		z, dy, tiles = z[8*groups:], dy[16*groups:], tiles-8*groups
	}
	if tiles > 0 {
		winoOutAdjGo(z, stride, dy, ldy, tiles)
	}
}

// WinogradInRows is WinogradIn for th rows of tw tiles of one plane: rows
// holds its 2·th+2 input rows, and element (ξ, ν) of tile (ty, tx) goes to
// v[(4ξ+ν)·stride + ty·tw + tx]. Rows of four tiles (an 8-wide plane) go
// two at a time through the vector kernels, which take eight tiles.
func WinogradInRows(v []float32, stride int, rows []float32, wp, tw, th int) {
	ty := 0
	if pairs := th / 2; fast && tw == 4 && pairs > 0 {
		_ = v[15*stride+8*pairs-1]
		_ = rows[(4*pairs-1)*wp+2*tw+1]
		winoInAVX2(&v[0], stride, &rows[0], wp, pairs, 2*wp, 4*wp)
		ty = 2 * pairs
	}
	for ; ty < th; ty++ {
		WinogradIn(v[ty*tw:], stride, rows[2*ty*wp:], wp, tw)
	}
}

// WinogradOutRows is WinogradOut for th rows of tw tiles of one plane: m
// holds tile (ty, tx)'s products at m[(4ξ+ν)·stride + ty·tw + tx], and its
// 2×2 output goes to rows 2ty and 2ty+1 of y, columns 2tx and 2tx+1.
func WinogradOutRows(y []float32, ldy int, m []float32, stride, tw, th int) {
	ty := 0
	if pairs := th / 2; fast && tw == 4 && pairs > 0 {
		_ = m[15*stride+8*pairs-1]
		_ = y[(4*pairs-1)*ldy+2*tw-1]
		winoOutAVX2(&y[0], ldy, &m[0], stride, pairs, 2*ldy, 4*ldy)
		ty = 2 * pairs
	}
	for ; ty < th; ty++ {
		WinogradOut(y[2*ty*ldy:], ldy, m[ty*tw:], stride, tw)
	}
}

// WinogradOutAdjRows is WinogradOutAdj for th rows of tw tiles of one
// plane: tile (ty, tx) of dy, rows 2ty and 2ty+1, columns 2tx and 2tx+1,
// goes to z[(4ξ+ν)·stride + ty·tw + tx].
func WinogradOutAdjRows(z []float32, stride int, dy []float32, ldy, tw, th int) {
	ty := 0
	if pairs := th / 2; fast && tw == 4 && pairs > 0 {
		_ = z[15*stride+8*pairs-1]
		_ = dy[(4*pairs-1)*ldy+2*tw-1]
		winoOutAdjAVX2(&z[0], stride, &dy[0], ldy, pairs, 2*ldy, 4*ldy)
		ty = 2 * pairs
	}
	for ; ty < th; ty++ {
		WinogradOutAdj(z[ty*tw:], stride, dy[2*ty*ldy:], ldy, tw)
	}
}

// winoInGo is WinogradIn in Go, in the vector kernel's order: the columns
// of Bᵀ d first, then their rows.
func winoInGo(v []float32, stride int, rows []float32, wp, tiles int) {
	r0, r1, r2, r3 := rows[:2*tiles+2], rows[wp:wp+2*tiles+2], rows[2*wp:2*wp+2*tiles+2], rows[3*wp:3*wp+2*tiles+2]
	for t := range tiles {
		c := 2 * t
		var e [4][4]float32 // Bᵀ d
		for j := range 4 {
			e[0][j] = r0[c+j] - r2[c+j]
			e[1][j] = r1[c+j] + r2[c+j]
			e[2][j] = r2[c+j] - r1[c+j]
			e[3][j] = r1[c+j] - r3[c+j]
		}
		for xi := range 4 {
			o := 4 * xi * stride
			v[o+t] = e[xi][0] - e[xi][2]
			v[o+stride+t] = e[xi][1] + e[xi][2]
			v[o+2*stride+t] = e[xi][2] - e[xi][1]
			v[o+3*stride+t] = e[xi][1] - e[xi][3]
		}
	}
}

// winoOutGo is WinogradOut in Go, in the vector kernel's order: Aᵀ M
// first, then its rows times A.
func winoOutGo(y []float32, ldy int, m []float32, stride, tiles int) {
	for t := range tiles {
		var r [2][4]float32 // Aᵀ M
		for nu := range 4 {
			m0, m1, m2, m3 := m[nu*stride+t], m[(4+nu)*stride+t], m[(8+nu)*stride+t], m[(12+nu)*stride+t]
			r[0][nu] = m0 + m1 + m2
			r[1][nu] = m1 - m2 - m3
		}
		for i := range 2 {
			y[i*ldy+2*t] = r[i][0] + r[i][1] + r[i][2]
			y[i*ldy+2*t+1] = r[i][1] - r[i][2] - r[i][3]
		}
	}
}

// winoOutAdjGo is WinogradOutAdj in Go, in the vector kernel's order: the
// rows of A dy, then each row (a, b) times Aᵀ as (a, a+b, a-b, -b).
func winoOutAdjGo(z []float32, stride int, dy []float32, ldy, tiles int) {
	for t := range tiles {
		y00, y01, y10, y11 := dy[2*t], dy[2*t+1], dy[ldy+2*t], dy[ldy+2*t+1]
		rows := [4][2]float32{{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}}
		for xi, r := range rows {
			o := 4 * xi * stride
			a, b := r[0], r[1]
			z[o+t] = a
			z[o+stride+t] = a + b
			z[o+2*stride+t] = a - b
			z[o+3*stride+t] = -b
		}
	}
}
