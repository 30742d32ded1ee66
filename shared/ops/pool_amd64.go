//go:build amd64 && !purego

package ops

// argmax2x2AVX2 is the argmax of n (a multiple of 8) 2x2 windows over two
// input rows, eight at a time; see pool_amd64.s.
//
//go:noescape
func argmax2x2AVX2(r0, r1 *float32, out *int32, n int, base, w int32)
