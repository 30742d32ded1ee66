//go:build !amd64 || purego

package kernels

func Gemm6x16(k int, a, b, c *float32, ldc int) { gemm6x16Go(k, a, b, c, ldc) }

func Gemm6x32(k int, a, b *float32, bstride int, c *float32, ldc int) {
	gemm6x32Go(k, a, b, bstride, c, ldc)
}

func packBT16x8(b *float32, ldb, n8 int, dst *float32) { packBT16x8Go(b, ldb, n8, dst) }

func Gemm6x16Set(k int, a, b, c *float32, ldc int) { gemm6x16SetGo(k, a, b, c, ldc) }

func Gemm6x32Set(k int, a, b *float32, bstride int, c *float32, ldc int) {
	gemm6x32SetGo(k, a, b, bstride, c, ldc)
}
