//go:build amd64 && !purego

package ops

// convKernel6x16 adds a·B into the 6×16 block c (row stride ldc), where a
// is a packed 6×k panel and row p of B is the 16 floats at x[offs[p]:].
//
//go:noescape
func convKernel6x16(k int, a, x *float32, offs *int32, c *float32, ldc int)

// convFilterKernel6x16 adds A·b into the 6×16 block c (row stride ldc),
// where A[r][p] = x[aoffs[r]+pos[p]] and b is a packed k×16 panel.
//
//go:noescape
func convFilterKernel6x16(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int)

// convKernel6x32 is convKernel6x16 for 32 positions of a row, c a 6×32
// block: AVX-512F.
//
//go:noescape
func convKernel6x32(k int, a, x *float32, offs *int32, c *float32, ldc int)

// convFilterKernel6x32 is convFilterKernel6x16 on two b panels at once, the
// second bstride floats after b, with c a 6×32 block: AVX-512F.
//
//go:noescape
func convFilterKernel6x32(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int)

// convFilterKernel6x32T is convFilterKernel6x32 storing its result
// transposed, column j's six values at c[j·ldc:j·ldc+6], overwriting them:
// AVX-512F.
//
//go:noescape
func convFilterKernel6x32T(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int)

// convPlaneKernel6x16 adds into the 6×16 block c (row stride ldc) six rows
// of one output plane: c[r][j] += Σ_p w[p]·x[offs[p]+r·rowStride+j].
//
//go:noescape
func convPlaneKernel6x16(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int)

// convPlaneKernel6x32 is convPlaneKernel6x16 for 32 positions of each row,
// c a 6×32 block: AVX-512F.
//
//go:noescape
func convPlaneKernel6x32(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int)
