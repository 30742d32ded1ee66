//go:build amd64 && !purego

package kernels

// wino5InAVX2 is Winograd5In for tiles tiles, odd being 0 or 1. AVX2.
//
//go:noescape
func wino5InAVX2(v *float32, stride int, x *float32, ld, tiles, odd, pair int)

// wino5OutAVX2 is Winograd5Out. AVX2.
//
//go:noescape
func wino5OutAVX2(y *float32, ldy int, m *float32, stride, tiles int)

// transpose8AVX2 is Transpose8. AVX2.
//
//go:noescape
func transpose8AVX2(dst *float32, ldd, dstStep int, src *float32, lds, srcStep, blocks int)
