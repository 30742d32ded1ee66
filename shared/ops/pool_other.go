//go:build !amd64 || purego

package ops

func argmax2x2AVX2(r0, r1 *float32, out *int32, n int, base, w int32) {
	panic("ops: argmax2x2AVX2 without amd64")
}
