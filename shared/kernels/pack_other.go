//go:build !amd64 || purego

package kernels

// PackT16 packs 16 rows of b, k floats each and ldb apart, transposed:
// dst[p·16+j] = b[j·ldb+p] for j < 16, p < k (a full panel of PackB's
// op(b) = bᵀ).
func PackT16(b []float32, ldb, k int, dst []float32) { packT16Go(b, ldb, k, dst) }
