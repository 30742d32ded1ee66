//go:build amd64 && !purego

package kernels

// affineAVX2 is affineGo for n a positive multiple of 32. AVX2.
//
//go:noescape
func affineAVX2(out, x *float32, n int, a, b float32)

// affineReLUAVX2 is affineReLUGo for n a positive multiple of 32. AVX2.
//
//go:noescape
func affineReLUAVX2(out, x *float32, n int, a, b float32)

// combineAVX2 is combineGo for n a positive multiple of 16. AVX2.
//
//go:noescape
func combineAVX2(out, x, y *float32, n int, a, b, k float32)
