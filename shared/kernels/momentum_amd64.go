//go:build amd64 && !purego

package kernels

// momentumAVX2 is momentumGo for n a positive multiple of 4. AVX2.
//
//go:noescape
func momentumAVX2(p, grad, b *float32, n int, wd, mu, lr float64)
