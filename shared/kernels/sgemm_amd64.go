//go:build amd64 && !purego

package kernels

// Gemm6x16 adds the product of a packed 6×k panel of A and a packed k×16
// panel of B into the 6×16 block c, whose rows are ldc floats apart:
//
//	for p := range k {
//		for r := range 6 {
//			for j := range 16 {
//				c[r*ldc+j] += a[p*6+r] * b[p*16+j]
//			}
//		}
//	}
//
// The sums over p are formed in registers, with fused multiply-adds, and
// added to c once. AVX2 and FMA.
//
//go:noescape
func Gemm6x16(k int, a, b, c *float32, ldc int)

// Gemm6x32 is Gemm6x16 on two B panels at once, the second bstride floats
// after b, with c a 6×32 block:
//
//	for p := range k {
//		for r := range 6 {
//			for j := range 16 {
//				c[r*ldc+j] += a[p*6+r] * b[p*16+j]
//				c[r*ldc+16+j] += a[p*6+r] * b[bstride+p*16+j]
//			}
//		}
//	}
//
// AVX-512F.
//
//go:noescape
func Gemm6x32(k int, a, b *float32, bstride int, c *float32, ldc int)

// packBT16x8 packs sixteen rows of b, ldb floats apart, transposed, for
// 8·n8 columns:
//
//	for p := range 8 * n8 {
//		for j := range 16 {
//			dst[p*16+j] = b[j*ldb+p]
//		}
//	}
//
// AVX.
//
//go:noescape
func packBT16x8(b *float32, ldb, n8 int, dst *float32)

// Gemm6x16Set is Gemm6x16 storing the product into c instead of adding it:
// c[r*ldc+j] = Σ_p a[p*6+r]·b[p*16+j]. AVX2 and FMA.
//
//go:noescape
func Gemm6x16Set(k int, a, b, c *float32, ldc int)

// Gemm6x32Set is Gemm6x32 storing the product into c instead of adding it.
// AVX-512F.
//
//go:noescape
func Gemm6x32Set(k int, a, b *float32, bstride int, c *float32, ldc int)
