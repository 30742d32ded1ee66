//go:build !amd64 || purego

package kernels

import "unsafe"

func momentumAVX2(p, grad, b *float32, n int, wd, mu, lr float64) {
	momentumGo(unsafe.Slice(p, n), unsafe.Slice(grad, n), unsafe.Slice(b, n), wd, mu, lr)
}
