//go:build !amd64 || purego

package kernels

import "unsafe"

// Without the assembly, the vector kernels' groups of eight tiles go to
// the Go twins, four tiles at a time, which compute the same sums in the
// same order.

func winoInAVX2(v *float32, stride int, rows *float32, wp, groups, half, step int) {
	vs := unsafe.Slice(v, 15*stride+8*groups)
	rs := unsafe.Slice(rows, (groups-1)*step+half+3*wp+10)
	for g := range groups {
		winoInGo(vs[8*g:], stride, rs[g*step:], wp, 4)
		winoInGo(vs[8*g+4:], stride, rs[g*step+half:], wp, 4)
	}
}

func winoOutAVX2(y *float32, ldy int, m *float32, stride, groups, half, step int) {
	ys := unsafe.Slice(y, (groups-1)*step+half+ldy+8)
	ms := unsafe.Slice(m, 15*stride+8*groups)
	for g := range groups {
		winoOutGo(ys[g*step:], ldy, ms[8*g:], stride, 4)
		winoOutGo(ys[g*step+half:], ldy, ms[8*g+4:], stride, 4)
	}
}

func winoOutAdjAVX2(z *float32, stride int, dy *float32, ldy, groups, half, step int) {
	zs := unsafe.Slice(z, 15*stride+8*groups)
	ds := unsafe.Slice(dy, (groups-1)*step+half+ldy+8)
	for g := range groups {
		winoOutAdjGo(zs[8*g:], stride, ds[g*step:], ldy, 4)
		winoOutAdjGo(zs[8*g+4:], stride, ds[g*step+half:], ldy, 4)
	}
}
