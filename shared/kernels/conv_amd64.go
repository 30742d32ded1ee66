//go:build amd64 && !purego

package kernels

// Conv6x16 adds a·B into the 6×16 block c, whose rows are ldc floats
// apart, where a is a packed 6×k panel (as for Gemm6x16) and row p of B is
// the 16 floats at x[offs[p]:]: a convolution reading its padded input in
// place instead of an unrolled, packed copy.
//
//	for p := range k {
//		for r := range 6 {
//			for j := range 16 {
//				c[r*ldc+j] += a[p*6+r] * x[offs[p]+j]
//			}
//		}
//	}
//
// AVX2 and FMA.
//
//go:noescape
func Conv6x16(k int, a, x *float32, offs *int32, c *float32, ldc int)

// ConvFilter6x16 adds A·b into the 6×16 block c, whose rows are ldc floats
// apart, where A[r][p] = x[aoffs[r]+pos[p]] (six filter taps read in place
// from a padded input at the output positions pos) and b is a packed k×16
// panel: the weight gradient of a convolution without im2col.
//
//	for p := range k {
//		for r := range 6 {
//			for j := range 16 {
//				c[r*ldc+j] += x[aoffs[r]+pos[p]] * b[p*16+j]
//			}
//		}
//	}
//
// AVX2 and FMA.
//
//go:noescape
func ConvFilter6x16(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int)

// ConvFilter6x16T is ConvFilter6x16 storing its result transposed, column
// j's six values at c[j·ldc:j·ldc+6], overwriting them:
//
//	var t [6 * 16]float32
//	ConvFilter6x16(k, x, aoffs, pos, b, &t[0], 16)
//	for j := range 16 {
//		for r := range 6 {
//			c[j*ldc+r] = t[r*16+j]
//		}
//	}
//
// AVX2 and FMA.
//
//go:noescape
func ConvFilter6x16T(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int)

// Conv6x32 is Conv6x16 for 32 positions of a row, c a 6×32 block:
//
//	for p := range k {
//		for r := range 6 {
//			for j := range 32 {
//				c[r*ldc+j] += a[p*6+r] * x[offs[p]+j]
//			}
//		}
//	}
//
// AVX-512F.
//
//go:noescape
func Conv6x32(k int, a, x *float32, offs *int32, c *float32, ldc int)

// ConvFilter6x32 is ConvFilter6x16 on two b panels at once, the second
// bstride floats after b, with c a 6×32 block:
//
//	for p := range k {
//		for r := range 6 {
//			v := x[aoffs[r]+pos[p]]
//			for j := range 16 {
//				c[r*ldc+j] += v * b[p*16+j]
//				c[r*ldc+16+j] += v * b[bstride+p*16+j]
//			}
//		}
//	}
//
// AVX-512F.
//
//go:noescape
func ConvFilter6x32(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int)

// ConvFilter6x32T is ConvFilter6x32 storing its result transposed, column
// j's six values at c[j·ldc:j·ldc+6], overwriting them:
//
//	var t [6 * 32]float32
//	ConvFilter6x32(k, x, aoffs, pos, b, bstride, &t[0], 32)
//	for j := range 32 {
//		for r := range 6 {
//			c[j*ldc+r] = t[r*32+j]
//		}
//	}
//
// AVX-512F.
//
//go:noescape
func ConvFilter6x32T(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int)

// ConvPlane6x16 adds into the 6×16 block c, whose rows are ldc floats
// apart, six rows of one output plane:
//
//	for p := range k {
//		for r := range 6 {
//			for j := range 16 {
//				c[r*ldc+j] += w[p] * x[offs[p]+r*rowStride+j]
//			}
//		}
//	}
//
// AVX2 and FMA.
//
//go:noescape
func ConvPlane6x16(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int)

// ConvPlane6x32 is ConvPlane6x16 for 32 positions of each row, c a 6×32
// block (j in range 32 in ConvPlane6x16's loop). AVX-512F.
//
//go:noescape
func ConvPlane6x32(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int)
