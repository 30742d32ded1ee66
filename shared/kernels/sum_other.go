//go:build !amd64 || purego

package kernels

func sum64AVX2(v *float32, n int) float64 { return sum64AVX2Go(v, n) }

func dot64AVX2(u, v *float32, n int) float64 { return dot64AVX2Go(u, v, n) }

func sumSq64AVX2(v *float32, n int, m float64) float64 { return sumSq64AVX2Go(v, n, m) }
