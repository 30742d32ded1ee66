// Package kernels holds sgn's float32 numerical kernels: a packed GEMM, the
// direct convolution's micro-kernels (forward, data and filter gradients
// read in place from a padded input), the 2×2 max-pool argmax and the ReLU
// mask. They work on plain slices and pointers and know nothing of
// Gorgonia; sgn/shared/ops builds its differentiable ops on them.
//
// Each assembly routine (amd64, AVX2 and FMA for the 6×16 tiles, AVX-512F
// for the 6×32 ones) is documented by the Go loop it equals, and has a
// portable Go twin of the same name with a Go suffix, which a purego build
// or another architecture runs and which the tests compare it with.
//
// The kernel width is chosen once, at start-up, from the CPU's features
// (golang.org/x/sys/cpu) and the environment: SGN_KERNELS=avx2 keeps a CPU
// with AVX-512 on the 6×16 kernels, to measure there what an AVX2-only CPU
// runs. Fast, Wide and Name report the choice; nothing changes it later.
//
// The assembly routines are exported for callers that tile their own loops
// (the direct convolution's driver in sgn/shared/ops). They must only be
// called when Fast reports true, the 6×32 ones only when Wide does (or the
// CPU otherwise has AVX-512F); the pointers must address as many elements
// as the reference loop reads and writes, which is not checked.
package kernels
