package kernels

import "os"

// fast and wide are fixed at start-up from the CPU's features: the 6×16
// AVX2 kernels, and their 6×32 AVX-512 twins, which do twice the work per
// instruction (on this project's reference machine, twice the multiply-adds
// per second). They are never written afterwards; code taking a kernel
// choice as an argument lets the tests compare the two.
var (
	fast = hasAVX2FMA()
	wide = fast && hasAVX512() && os.Getenv("SGN_KERNELS") != "avx2"
)

// Fast reports whether the assembly kernels run on this CPU: amd64 with
// AVX2 and FMA, in a build without the purego tag. Without them Sgemm runs
// gonum's Sgemm and callers take their portable paths.
func Fast() bool { return fast }

// Wide reports whether the 6×32 AVX-512 kernels were chosen: the CPU has
// AVX-512F and SGN_KERNELS is not "avx2".
func Wide() bool { return wide }

// Name names the float32 kernels this process runs, as chosen at start-up:
// "AVX-512 6x32", "AVX2 6x16" (also on an AVX-512 CPU when
// SGN_KERNELS=avx2), or "gonum, no AVX2+FMA kernels" (without AVX2 and FMA,
// or built with the purego tag). Benchmarks print it next to their figures.
func Name() string { return name(fast, wide) }

func name(fast, wide bool) string {
	switch {
	case fast && wide:
		return "AVX-512 6x32"
	case fast:
		return "AVX2 6x16"
	}
	return "gonum, no AVX2+FMA kernels"
}
