//go:build amd64 && !purego

package ops

import "golang.org/x/sys/cpu"

// sgemmKernel6x16 adds the product of a packed 6×k panel of A and a packed
// k×16 panel of B into c, a 6×16 block with row stride ldc.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int)

// sgemmKernel6x32 is sgemmKernel6x16 on two B panels at once, the second
// bstride floats after b, with c a 6×32 block: AVX-512F.
//
//go:noescape
func sgemmKernel6x32(k int, a, b *float32, bstride int, c *float32, ldc int)

// portableKernels reports whether the kernels are the Go versions of
// sgemm_other.go and convdirect_other.go, which run anywhere.
const portableKernels = false

// hasAVX2FMA reports whether the CPU and OS support the kernel's
// instructions: AVX2 and FMA, with the YMM state saved by the OS.
func hasAVX2FMA() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// hasAVX512 reports whether the CPU and OS support the 6×32 kernels:
// AVX-512F, with the opmask and all ZMM state saved by the OS (x/sys/cpu
// reports AVX-512 only then).
func hasAVX512() bool { return hasAVX2FMA() && cpu.X86.HasAVX512F }
