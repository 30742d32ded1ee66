//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// Portable reports whether the exported kernels are their Go twins, which
// run anywhere: false here, where they are assembly.
const Portable = false

// hasAVX2FMA reports whether the CPU and OS support the 6×16 kernels'
// instructions: AVX2 and FMA, with the YMM state saved by the OS.
func hasAVX2FMA() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// hasAVX512 reports whether the CPU and OS support the 6×32 kernels:
// AVX-512F, with the opmask and all ZMM state saved by the OS (x/sys/cpu
// reports AVX-512 only then).
func hasAVX512() bool { return hasAVX2FMA() && cpu.X86.HasAVX512F }
