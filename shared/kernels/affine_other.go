//go:build !amd64 || purego

package kernels

func affineAVX2(out, x *float32, n int, a, b float32) { affineAVX2Go(out, x, n, a, b) }

func affineReLUAVX2(out, x *float32, n int, a, b float32) {
	affineReLUAVX2Go(out, x, n, a, b)
}

func combineAVX2(out, x, y *float32, n int, a, b, k float32) {
	combineAVX2Go(out, x, y, n, a, b, k)
}
