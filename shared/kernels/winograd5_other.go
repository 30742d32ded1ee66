//go:build !amd64 || purego

package kernels

import "unsafe"

// Without the assembly the exported transforms run their Go twins; these
// are never called, as fast is false.

func wino5InAVX2(v *float32, stride int, x *float32, ld, tiles, odd, pair int) {
	vs := unsafe.Slice(v, 35*stride+wino5Offset(tiles-1, odd == 1, pair)+8)
	xs := unsafe.Slice(x, 5*ld+16*(tiles-1)+48)
	wino5InGo(vs, stride, xs, ld, tiles, odd == 1, pair)
}

func wino5OutAVX2(y *float32, ldy int, m *float32, stride, tiles int) {
	wino5OutGo(unsafe.Slice(y, ldy+16*tiles), ldy, unsafe.Slice(m, 35*stride+8*tiles), stride, tiles)
}

func transpose8AVX2(dst *float32, ldd, dstStep int, src *float32, lds, srcStep, blocks int) {
	transpose8Go(unsafe.Slice(dst, (blocks-1)*dstStep+7*ldd+8), ldd, dstStep, unsafe.Slice(src, (blocks-1)*srcStep+7*lds+8), lds, srcStep, blocks)
}
