//go:build !amd64 || purego

package kernels

func Conv6x16(k int, a, x *float32, offs *int32, c *float32, ldc int) {
	conv6x16Go(k, a, x, offs, c, ldc)
}

func Conv6x32(k int, a, x *float32, offs *int32, c *float32, ldc int) {
	conv6x32Go(k, a, x, offs, c, ldc)
}

func ConvFilter6x16(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int) {
	convFilter6x16Go(k, x, aoffs, pos, b, c, ldc)
}

func ConvFilter6x16T(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int) {
	convFilter6x16TGo(k, x, aoffs, pos, b, c, ldc)
}

func ConvFilter6x32(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int) {
	convFilter6x32Go(k, x, aoffs, pos, b, bstride, c, ldc)
}

func ConvFilter6x32T(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int) {
	convFilter6x32TGo(k, x, aoffs, pos, b, bstride, c, ldc)
}

func ConvPlane6x16(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	convPlane6x16Go(k, w, x, offs, rowStride, c, ldc)
}

func ConvPlane6x32(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	convPlane6x32Go(k, w, x, offs, rowStride, c, ldc)
}
