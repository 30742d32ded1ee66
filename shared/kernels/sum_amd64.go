//go:build amd64 && !purego

package kernels

// sum64AVX2 is sum64Go for n a positive multiple of 16. AVX2.
//
//go:noescape
func sum64AVX2(v *float32, n int) float64

// dot64AVX2 is dot64Go for n a positive multiple of 16. AVX2 and FMA.
//
//go:noescape
func dot64AVX2(u, v *float32, n int) float64

// sumSq64AVX2 is sumSq64Go for n a positive multiple of 16. AVX2.
//
//go:noescape
func sumSq64AVX2(v *float32, n int, m float64) float64
