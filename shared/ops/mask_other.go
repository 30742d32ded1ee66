//go:build !amd64 || purego

package ops

func maskAVX2(out, key, h *float32, n int) {
	panic("ops: maskAVX2 without amd64")
}
