//go:build amd64 && !purego

package ops

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

func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

func xgetbv0() (eax uint32)

// hasAVX2FMA reports whether the CPU and OS support the kernel's
// instructions: AVX2 and FMA, with the YMM state saved by the OS.
func hasAVX2FMA() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xgetbv0()&6 != 6 { // XMM and YMM state
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

// hasAVX512 reports whether the CPU and OS support the 6×32 kernels:
// AVX-512F, with the opmask and all ZMM state saved by the OS.
func hasAVX512() bool {
	if !hasAVX2FMA() {
		return false
	}
	if xgetbv0()&0xe6 != 0xe6 { // XMM, YMM, opmask, ZMM0-15 upper halves, ZMM16-31
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<16) != 0
}
