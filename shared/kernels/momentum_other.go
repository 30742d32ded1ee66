//go:build !amd64 || purego

package kernels

func momentumAVX2(p, g, b *float32, n int, wd, mu, lr float64) {
	momentumAVX2Go(p, g, b, n, wd, mu, lr)
}
