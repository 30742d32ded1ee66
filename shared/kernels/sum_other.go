//go:build !amd64 || purego

package kernels

import "unsafe"

func sum64AVX2(v *float32, n int) float64 { return sum64Go(unsafe.Slice(v, n)) }

func dot64AVX2(u, v *float32, n int) float64 {
	return dot64Go(unsafe.Slice(u, n), unsafe.Slice(v, n))
}

func sumSq64AVX2(v *float32, n int, m float64) float64 { return sumSq64Go(unsafe.Slice(v, n), m) }
