//go:build !amd64 || purego

package kernels

// Portable reports whether the exported kernels are their Go twins, which
// run anywhere: true here (another architecture, or the purego tag).
const Portable = true

func hasAVX2FMA() bool { return false }

func hasAVX512() bool { return false }
