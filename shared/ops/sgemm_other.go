//go:build !amd64 || purego

package ops

import "unsafe"

func sgemmKernel6x16(k int, a, b, c *float32, ldc int) {
	sgemmKernelGo(k, unsafe.Slice(a, 6*k), unsafe.Slice(b, 16*k), unsafe.Slice(c, 5*ldc+16), ldc)
}

func hasAVX2FMA() bool { return false }
