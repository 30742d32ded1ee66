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
		winoInAVX2(&v[0], stride, &rows[0], wp, groups)
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
		winoOutAVX2(&y[0], ldy, &m[0], stride, groups)
		y, m, tiles = y[16*groups:], m[8*groups:], tiles-8*groups
	}
	if tiles > 0 {
		winoOutGo(y, ldy, m, stride, tiles)
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
