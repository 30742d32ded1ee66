//go:build !amd64 || purego

package kernels

import "unsafe"

func affineAVX2(out, x *float32, n int, a, b float32) {
	affineGo(unsafe.Slice(out, n), unsafe.Slice(x, n), a, b)
}

func combineAVX2(out, x, y *float32, n int, a, b, k float32) {
	combineGo(unsafe.Slice(out, n), unsafe.Slice(x, n), unsafe.Slice(y, n), a, b, k)
}
