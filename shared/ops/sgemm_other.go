//go:build !amd64 || purego

package ops

import "unsafe"

func sgemmKernel6x16(k int, a, b, c *float32, ldc int) {
	sgemmKernelGo(k, unsafe.Slice(a, 6*k), unsafe.Slice(b, 16*k), unsafe.Slice(c, 5*ldc+16), ldc)
}

func hasAVX2FMA() bool { return false }

// portableKernels: see sgemm_amd64.go.
const portableKernels = true

func sgemmKernel6x32(k int, a, b *float32, bstride int, c *float32, ldc int) {
	sgemmKernel6x16(k, a, b, c, ldc)
	sgemmKernel6x16(k, a, (*float32)(unsafe.Add(unsafe.Pointer(b), 4*bstride)), (*float32)(unsafe.Add(unsafe.Pointer(c), 4*16)), ldc)
}

func hasAVX512() bool { return false }
