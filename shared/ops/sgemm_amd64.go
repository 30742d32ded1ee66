//go:build amd64 && !purego

package ops

// sgemmKernel6x16 adds the product of a packed 6×k panel of A and a packed
// k×16 panel of B into c, a 6×16 block with row stride ldc.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int)

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
