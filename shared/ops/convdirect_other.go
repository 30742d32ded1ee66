//go:build !amd64 || purego

package ops

import "unsafe"

func convKernel6x16(k int, a, x *float32, offs *int32, c *float32, ldc int) {
	ap, op := unsafe.Slice(a, 6*k), unsafe.Slice(offs, k)
	cs := unsafe.Slice(c, 5*ldc+16)
	for p := range k {
		row := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(x), 4*int(op[p]))), 16)
		for r := range 6 {
			v := ap[p*6+r]
			for j, b := range row {
				cs[r*ldc+j] += v * b
			}
		}
	}
}

func convFilterKernel6x16(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int) {
	ao, ps, bs := unsafe.Slice(aoffs, 6), unsafe.Slice(pos, k), unsafe.Slice(b, 16*k)
	cs := unsafe.Slice(c, 5*ldc+16)
	at := func(i int) float32 { return *(*float32)(unsafe.Add(unsafe.Pointer(x), 4*i)) }
	for p := range k {
		for r := range 6 {
			v := at(int(ao[r]) + int(ps[p]))
			for j, bv := range bs[p*16 : p*16+16] {
				cs[r*ldc+j] += v * bv
			}
		}
	}
}

func convKernel6x32(k int, a, x *float32, offs *int32, c *float32, ldc int) {
	convKernel6x16(k, a, x, offs, c, ldc)
	convKernel6x16(k, a, (*float32)(unsafe.Add(unsafe.Pointer(x), 4*16)), offs, (*float32)(unsafe.Add(unsafe.Pointer(c), 4*16)), ldc)
}

func convFilterKernel6x32(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int) {
	convFilterKernel6x16(k, x, aoffs, pos, b, c, ldc)
	convFilterKernel6x16(k, x, aoffs, pos, (*float32)(unsafe.Add(unsafe.Pointer(b), 4*bstride)), (*float32)(unsafe.Add(unsafe.Pointer(c), 4*16)), ldc)
}

func convFilterKernel6x32T(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int) {
	var tile [6 * 32]float32
	convFilterKernel6x32(k, x, aoffs, pos, b, bstride, &tile[0], 32)
	cs := unsafe.Slice(c, 31*ldc+6)
	for j := range 32 {
		for r := range 6 {
			cs[j*ldc+r] = tile[r*32+j]
		}
	}
}

func convPlaneKernel6x16(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	convPlaneKernelGo(16, k, w, x, offs, rowStride, c, ldc)
}

func convPlaneKernel6x32(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	convPlaneKernelGo(32, k, w, x, offs, rowStride, c, ldc)
}

func convPlaneKernelGo(width, k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	ws, op := unsafe.Slice(w, k), unsafe.Slice(offs, k)
	cs := unsafe.Slice(c, 5*ldc+width)
	at := func(i int) float32 { return *(*float32)(unsafe.Add(unsafe.Pointer(x), 4*i)) }
	for p := range k {
		for r := range 6 {
			for j := range width {
				cs[r*ldc+j] += ws[p] * at(int(op[p])+r*rowStride+j)
			}
		}
	}
}
