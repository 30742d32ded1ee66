package kernels

import "unsafe"

// Go twins of the direct convolution's kernels, the loops of their
// documentation: what a portable build runs and what the tests compare the
// assembly with. x is read at computed offsets, as the assembly reads it.

func conv6x16Go(k int, a, x *float32, offs *int32, c *float32, ldc int) {
	convGo(NR, k, a, x, offs, c, ldc)
}

func conv6x32Go(k int, a, x *float32, offs *int32, c *float32, ldc int) {
	convGo(2*NR, k, a, x, offs, c, ldc)
}

func convGo(width, k int, a, x *float32, offs *int32, c *float32, ldc int) {
	as, op := unsafe.Slice(a, MR*k), unsafe.Slice(offs, k)
	cs := unsafe.Slice(c, (MR-1)*ldc+width)
	for p := range k {
		row := unsafe.Slice(at(x, int(op[p])), width)
		for r := range MR {
			v := as[p*MR+r]
			for j, xv := range row {
				cs[r*ldc+j] += v * xv
			}
		}
	}
}

func convFilter6x16Go(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int) {
	ao, ps, bs := unsafe.Slice(aoffs, MR), unsafe.Slice(pos, k), unsafe.Slice(b, NR*k)
	cs := unsafe.Slice(c, (MR-1)*ldc+NR)
	for p := range k {
		for r := range MR {
			v := *at(x, int(ao[r])+int(ps[p]))
			for j, bv := range bs[p*NR : p*NR+NR] {
				cs[r*ldc+j] += v * bv
			}
		}
	}
}

func convFilter6x32Go(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int) {
	convFilter6x16Go(k, x, aoffs, pos, b, c, ldc)
	convFilter6x16Go(k, x, aoffs, pos, at(b, bstride), at(c, NR), ldc)
}

func convFilter6x16TGo(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int) {
	var tile [MR * NR]float32
	convFilter6x16Go(k, x, aoffs, pos, b, &tile[0], NR)
	transposeTile(tile[:], NR, c, ldc)
}

func convFilter6x32TGo(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int) {
	var tile [MR * 2 * NR]float32
	convFilter6x32Go(k, x, aoffs, pos, b, bstride, &tile[0], 2*NR)
	transposeTile(tile[:], 2*NR, c, ldc)
}

// transposeTile stores the 6×width tile transposed, column j's six values
// at c[j·ldc:j·ldc+6].
func transposeTile(tile []float32, width int, c *float32, ldc int) {
	cs := unsafe.Slice(c, (width-1)*ldc+MR)
	for j := range width {
		for r := range MR {
			cs[j*ldc+r] = tile[r*width+j]
		}
	}
}

func convPlane6x16Go(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	convPlaneGo(NR, k, w, x, offs, rowStride, c, ldc)
}

func convPlane6x32Go(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	convPlaneGo(2*NR, k, w, x, offs, rowStride, c, ldc)
}

func convPlaneGo(width, k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int) {
	ws, op := unsafe.Slice(w, k), unsafe.Slice(offs, k)
	cs := unsafe.Slice(c, (MR-1)*ldc+width)
	for p := range k {
		for r := range MR {
			for j := range width {
				cs[r*ldc+j] += ws[p] * *at(x, int(op[p])+r*rowStride+j)
			}
		}
	}
}
