package kernels

import "unsafe"

// Go twins of the GEMM kernels, the loops of their documentation: what a
// portable build runs and what the tests compare the assembly with.

func gemm6x16Go(k int, a, b, c *float32, ldc int) {
	gemmGo(k, unsafe.Slice(a, MR*k), unsafe.Slice(b, NR*k), unsafe.Slice(c, (MR-1)*ldc+NR), ldc)
}

func gemm6x32Go(k int, a, b *float32, bstride int, c *float32, ldc int) {
	gemm6x16Go(k, a, b, c, ldc)
	gemm6x16Go(k, a, at(b, bstride), at(c, NR), ldc)
}

func gemm6x16SetGo(k int, a, b, c *float32, ldc int) {
	cs := unsafe.Slice(c, (MR-1)*ldc+NR)
	for r := range MR {
		clear(cs[r*ldc:][:NR])
	}
	gemm6x16Go(k, a, b, c, ldc)
}

func gemm6x32SetGo(k int, a, b *float32, bstride int, c *float32, ldc int) {
	gemm6x16SetGo(k, a, b, c, ldc)
	gemm6x16SetGo(k, a, at(b, bstride), at(c, NR), ldc)
}

// gemmGo is c[6×16] += a·b on packed panels, summing in a tile first as
// the assembly sums in registers.
func gemmGo(k int, a, b, c []float32, ldc int) {
	var acc [MR * NR]float32
	for p := 0; p < k; p++ {
		ar, br := a[p*MR:][:MR], b[p*NR:][:NR]
		for r, av := range ar {
			row := acc[r*NR:][:NR]
			for j, bv := range br {
				row[j] += av * bv
			}
		}
	}
	for r := 0; r < MR; r++ {
		dst := c[r*ldc:][:NR]
		for j, v := range acc[r*NR:][:NR] {
			dst[j] += v
		}
	}
}

// at is p advanced by i elements.
func at[T any](p *T, i int) *T {
	var zero T
	return (*T)(unsafe.Add(unsafe.Pointer(p), uintptr(i)*unsafe.Sizeof(zero)))
}

func packBT16x8Go(b *float32, ldb, n8 int, dst *float32) {
	packBT16Go(unsafe.Slice(b, 15*ldb+8*n8), ldb, 8*n8, unsafe.Slice(dst, NR*8*n8))
}
