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
