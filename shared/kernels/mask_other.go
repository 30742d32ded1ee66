//go:build !amd64 || purego

package kernels

func maskAVX2(out, key, h *float32, n int) { maskAVX2Go(out, key, h, n) }
