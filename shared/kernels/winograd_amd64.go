//go:build amd64 && !purego

package kernels

// winoInAVX2 is WinogradIn for 8·groups tiles, eight at a time. AVX2.
//
//go:noescape
func winoInAVX2(v *float32, stride int, rows *float32, wp, groups int)

// winoOutAVX2 is WinogradOut for 8·groups tiles, eight at a time. AVX2.
//
//go:noescape
func winoOutAVX2(y *float32, ldy int, m *float32, stride, groups int)
