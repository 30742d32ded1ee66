//go:build !amd64 || purego

package kernels

import "unsafe"

// Without the assembly, the vector kernels' groups of eight tiles go to
// the Go twins, which compute the same sums in the same order.

func winoInAVX2(v *float32, stride int, rows *float32, wp, groups int) {
	winoInGo(unsafe.Slice(v, 15*stride+8*groups), stride, unsafe.Slice(rows, 3*wp+16*groups+2), wp, 8*groups)
}

func winoOutAVX2(y *float32, ldy int, m *float32, stride, groups int) {
	winoOutGo(unsafe.Slice(y, ldy+16*groups), ldy, unsafe.Slice(m, 15*stride+8*groups), stride, 8*groups)
}
