//go:build !amd64 || purego

package kernels

func Argmax2x2(r0, r1 *float32, out *int32, n int, base, w int32) {
	argmax2x2Go(r0, r1, out, n, base, w)
}
