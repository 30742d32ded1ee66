package kernels

import "unsafe"

// Affine sets out[i] = x[i]·a + b, the product rounded to float32 before
// the sum (as Go computes it without fused multiply-adds): batch norm's
// per-channel scale and shift. x must be at least as long as out.
func Affine(out, x []float32, a, b float32) {
	x = x[:len(out)]
	if vec := len(out) &^ 31; fast && vec > 0 {
		affineAVX2(&out[0], &x[0], vec, a, b)
		out, x = out[vec:], x[vec:]
	}
	affineGo(out, x, a, b)
}

// AffineReLU sets out[i] = max(x[i]·a + b, 0), rounded as Affine, with 0
// where the sum is NaN as Mask gives it: batch norm followed by a ReLU in
// one pass over memory instead of two.
func AffineReLU(out, x []float32, a, b float32) {
	x = x[:len(out)]
	if vec := len(out) &^ 31; fast && vec > 0 {
		affineReLUAVX2(&out[0], &x[0], vec, a, b)
		out, x = out[vec:], x[vec:]
	}
	affineReLUGo(out, x, a, b)
}

// Combine sets out[i] = x[i]·a + y[i]·b + k, each product rounded before
// the sums, which go left to right: batch norm's input gradient. x and y
// must be at least as long as out.
func Combine(out, x, y []float32, a, b, k float32) {
	x, y = x[:len(out)], y[:len(out)]
	if vec := len(out) &^ 15; fast && vec > 0 {
		combineAVX2(&out[0], &x[0], &y[0], vec, a, b, k)
		out, x, y = out[vec:], x[vec:], y[vec:]
	}
	combineGo(out, x, y, a, b, k)
}

// affineGo and combineGo are the kernels' loops in Go; the conversions
// round each product, which keeps the compiler from fusing it into the sum.
func affineGo(out, x []float32, a, b float32) {
	x = x[:len(out)]
	for i, v := range x {
		out[i] = float32(v*a) + b
	}
}

func affineReLUGo(out, x []float32, a, b float32) {
	x = x[:len(out)]
	for i, v := range x {
		if y := float32(v*a) + b; y > 0 {
			out[i] = y
		} else {
			out[i] = 0
		}
	}
}

func combineGo(out, x, y []float32, a, b, k float32) {
	x, y = x[:len(out)], y[:len(out)]
	for i, v := range x {
		out[i] = float32(float32(v*a)+float32(y[i]*b)) + k
	}
}

// affineAVX2Go and combineAVX2Go are the twins of the AVX2 kernels, in
// their signatures.
func affineAVX2Go(out, x *float32, n int, a, b float32) {
	affineGo(unsafe.Slice(out, n), unsafe.Slice(x, n), a, b)
}

func affineReLUAVX2Go(out, x *float32, n int, a, b float32) {
	affineReLUGo(unsafe.Slice(out, n), unsafe.Slice(x, n), a, b)
}

func combineAVX2Go(out, x, y *float32, n int, a, b, k float32) {
	combineGo(unsafe.Slice(out, n), unsafe.Slice(x, n), unsafe.Slice(y, n), a, b, k)
}
