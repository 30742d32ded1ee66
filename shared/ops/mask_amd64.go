//go:build amd64 && !purego

package ops

// maskAVX2 is maskBits32 for n a multiple of 8, eight at a time; see
// mask_amd64.s.
//
//go:noescape
func maskAVX2(out, key, h *float32, n int)
