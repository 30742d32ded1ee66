package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2d convolves x [N,C,H,W] with the filters w [O,C,KH,KW] (cross
// correlation, as in every deep-learning library) with the given stride and
// zero padding on all four sides, giving [N,O,Ho,Wo] with
// Ho = (H+2·pad-KH)/stride+1. Differentiable any number of times in x and w.
func Conv2d(x, w *G.Node, stride, pad int) (*G.Node, error) {
	if err := checkFloat("conv2d", x, w); err != nil {
		return nil, err
	}
	op := convOp{mode: convForward, stride: stride, pad: pad}.named()
	if _, err := op.geom(x.Shape(), w.Shape()); err != nil {
		return nil, err
	}
	return apply(op, x, w)
}

type convMode int

const (
	convForward    convMode = iota // (x, w) -> y
	convBackData                   // (gy, w) -> dx
	convBackFilter                 // (x, gy) -> dw
)

// convOp is one of three bilinear maps that are each other's adjoints, so
// that the set is closed under differentiation: the gradient of any of them
// is again made of them.
type convOp struct {
	symbol
	mode        convMode
	stride, pad int
	h, w        int // input height and width, which gy alone does not fix when stride > 1 (convBackData)
	kh, kw      int // kernel height and width, likewise (convBackFilter)
}

func (op convOp) named() convOp {
	switch op.mode {
	case convForward:
		op.symbol = symbolf("Conv2d{stride=%d,pad=%d}", op.stride, op.pad)
	case convBackData:
		op.symbol = symbolf("ConvBackData{stride=%d,pad=%d,in=%dx%d}", op.stride, op.pad, op.h, op.w)
	case convBackFilter:
		op.symbol = symbolf("ConvBackFilter{stride=%d,pad=%d,kernel=%dx%d}", op.stride, op.pad, op.kh, op.kw)
	}
	return op
}

// convGeom is the geometry of one convolution, whichever op computes it.
type convGeom struct {
	n, c, h, w     int
	o, kh, kw      int
	ho, wo         int
	stride, pad    int
	ckk, positions int // rows and columns of the im2col matrix
}

func convOut(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

// geom checks the inputs' shapes and returns the geometry they imply.
func (op convOp) geom(a, b tensor.Shape) (convGeom, error) {
	if op.stride < 1 || op.pad < 0 {
		return convGeom{}, fmt.Errorf("%v: stride %d must be >= 1 and pad %d >= 0", op, op.stride, op.pad)
	}
	if len(a) != 4 || len(b) != 4 {
		return convGeom{}, fmt.Errorf("%v: inputs have shapes %v and %v, want two 4-d shapes", op, a, b)
	}
	g := convGeom{stride: op.stride, pad: op.pad}
	switch op.mode {
	case convForward: // x [N,C,H,W], w [O,C,KH,KW]
		g.n, g.c, g.h, g.w = a[0], a[1], a[2], a[3]
		g.o, g.kh, g.kw = b[0], b[2], b[3]
		if b[1] != g.c {
			return g, fmt.Errorf("conv2d: input %v has %d channels but filters %v expect %d", a, g.c, b, b[1])
		}
		if g.h+2*g.pad < g.kh || g.w+2*g.pad < g.kw {
			return g, fmt.Errorf("conv2d: kernel %dx%d larger than input %v padded by %d", g.kh, g.kw, a, g.pad)
		}
		g.ho, g.wo = convOut(g.h, g.kh, g.stride, g.pad), convOut(g.w, g.kw, g.stride, g.pad)
	case convBackData: // gy [N,O,Ho,Wo], w [O,C,KH,KW]
		g.n, g.o, g.ho, g.wo = a[0], a[1], a[2], a[3]
		g.c, g.kh, g.kw = b[1], b[2], b[3]
		g.h, g.w = op.h, op.w
		if b[0] != g.o {
			return g, fmt.Errorf("%v: gradient %v has %d channels but filters %v have %d", op, a, g.o, b, b[0])
		}
		if g.h+2*g.pad < g.kh || g.w+2*g.pad < g.kw || convOut(g.h, g.kh, g.stride, g.pad) != g.ho || convOut(g.w, g.kw, g.stride, g.pad) != g.wo {
			return g, fmt.Errorf("%v: gradient %v does not match input %dx%d and filters %v", op, a, g.h, g.w, b)
		}
	case convBackFilter: // x [N,C,H,W], gy [N,O,Ho,Wo]
		g.n, g.c, g.h, g.w = a[0], a[1], a[2], a[3]
		g.o, g.ho, g.wo = b[1], b[2], b[3]
		g.kh, g.kw = op.kh, op.kw
		if b[0] != g.n {
			return g, fmt.Errorf("%v: input %v and gradient %v differ in batch size", op, a, b)
		}
		if g.h+2*g.pad < g.kh || g.w+2*g.pad < g.kw || convOut(g.h, g.kh, g.stride, g.pad) != g.ho || convOut(g.w, g.kw, g.stride, g.pad) != g.wo {
			return g, fmt.Errorf("%v: gradient %v does not match input %v", op, b, a)
		}
	}
	if g.n < 1 || g.c < 1 || g.o < 1 || g.kh < 1 || g.kw < 1 || g.ho < 1 || g.wo < 1 {
		return g, fmt.Errorf("%v: empty dimension in shapes %v and %v", op, a, b)
	}
	g.ckk, g.positions = g.c*g.kh*g.kw, g.ho*g.wo
	return g, nil
}

func (op convOp) Arity() int         { return 2 }
func (op convOp) Type() hm.Type      { return fnType(4, 4, 4) }
func (op convOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op convOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 2, ds)
	if err != nil {
		return nil, err
	}
	g, err := op.geom(s[0], s[1])
	if err != nil {
		return nil, err
	}
	return g.outShape(op.mode), nil
}

func (g convGeom) outShape(m convMode) tensor.Shape {
	switch m {
	case convBackData:
		return tensor.Shape{g.n, g.c, g.h, g.w}
	case convBackFilter:
		return tensor.Shape{g.o, g.c, g.kh, g.kw}
	}
	return tensor.Shape{g.n, g.o, g.ho, g.wo}
}

func (op convOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 2, vs) }
func (op convOp) do64(in []arg[float64]) (G.Value, error) { return convDo(op, in) }
func (op convOp) do32(in []arg[float32]) (G.Value, error) { return convDo(op, in) }

func convDo[T float](op convOp, in []arg[T]) (G.Value, error) {
	g, err := op.geom(in[0].shape, in[1].shape)
	if err != nil {
		return nil, err
	}
	var out []T
	switch op.mode {
	case convForward:
		out = convForwardKernel(op.bufs, g, in[0].data, in[1].data)
	case convBackData:
		out = convBackDataKernel(op.bufs, g, in[0].data, in[1].data)
	case convBackFilter:
		out = convBackFilterKernel(op.bufs, g, in[0].data, in[1].data)
	}
	return result(op.bufs, g.outShape(op.mode), out), nil
}

func (op convOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true, true})
}

// symDiff applies the adjoints: each op is linear in each input, and the
// adjoint of each partial map is one of the three ops.
func (op convOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 2 || len(need) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, got %d", op, len(in))
	}
	a, b := in[0], in[1]
	res := make(G.Nodes, 2)
	var err error
	switch op.mode {
	case convForward: // a = x, b = w
		if need[0] {
			res[0], err = convData(grad, b, op.stride, op.pad, a.Shape())
		}
		if err == nil && need[1] {
			res[1], err = convFilter(a, grad, op.stride, op.pad, b.Shape())
		}
	case convBackData: // a = gy, b = w; the output has x's shape
		if need[0] {
			res[0], err = apply(convOp{mode: convForward, stride: op.stride, pad: op.pad}.named(), grad, b)
		}
		if err == nil && need[1] {
			res[1], err = convFilter(grad, a, op.stride, op.pad, b.Shape())
		}
	case convBackFilter: // a = x, b = gy; the output has w's shape
		if need[0] {
			res[0], err = convData(b, grad, op.stride, op.pad, a.Shape())
		}
		if err == nil && need[1] {
			res[1], err = apply(convOp{mode: convForward, stride: op.stride, pad: op.pad}.named(), a, grad)
		}
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// convData is the gradient of a convolution with respect to its input of
// shape xShape, given the output gradient gy and the filters w.
func convData(gy, w *G.Node, stride, pad int, xShape tensor.Shape) (*G.Node, error) {
	if len(xShape) != 4 {
		return nil, fmt.Errorf("conv back data: input shape %v, want 4-d", xShape)
	}
	op := convOp{mode: convBackData, stride: stride, pad: pad, h: xShape[2], w: xShape[3]}.named()
	return apply(op, gy, w)
}

// convFilter is the gradient of a convolution with respect to its filters of
// shape wShape, given the input x and the output gradient gy.
func convFilter(x, gy *G.Node, stride, pad int, wShape tensor.Shape) (*G.Node, error) {
	if len(wShape) != 4 {
		return nil, fmt.Errorf("conv back filter: filter shape %v, want 4-d", wShape)
	}
	op := convOp{mode: convBackFilter, stride: stride, pad: pad, kh: wShape[2], kw: wShape[3]}.named()
	return apply(op, x, gy)
}

// directCols reports whether the im2col matrix of one example is the example
// itself (1x1 kernel, stride 1, no padding), which saves the copy.
func (g convGeom) directCols() bool {
	return g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad == 0
}

// convWorkers runs body over the examples on parallelFor's workers, each
// with its packing space and, unless the im2col matrix is the example
// itself, its scratch for one.
func convWorkers[T float](b *buffers, g convGeom, workers int, body func(wk, lo, hi int, buf *gemmBuf, col []T)) {
	b.reservePacks(1 + workers)
	parallelForN(g.n, workers, func(wk, lo, hi int) {
		buf := b.pack(1 + wk)
		defer b.unpack(buf)
		var col []T
		if !g.directCols() {
			col = colScratch[T](buf, g.ckk*g.positions)
		}
		body(wk, lo, hi, buf, col)
	})
}

// convForwardKernel: per example, y_n [O,P] = w [O,CKK] · col(x_n) [CKK,P].
// The kernels take their output and scratch from b (nil: allocated).
func convForwardKernel[T float](b *buffers, g convGeom, x, w []T) []T {
	if x32, ok := any(x).([]float32); ok && g.winogradOK() {
		return any(winogradConv(b, g.n, g.c, g.h, g.w, g.o, x32, any(w).([]float32), false)).([]T)
	}
	if x32, ok := any(x).([]float32); ok && g.winograd5OK() {
		return any(winograd5Conv(b, g.n, g.c, g.h, g.w, g.o, x32, any(w).([]float32), false)).([]T)
	}
	if x32, ok := any(x).([]float32); ok && g.directForwardOK() {
		return any(directForward(b, g, x32, any(w).([]float32))).([]T)
	}
	return convForwardIm2col(b, g, x, w)
}

// convForwardIm2col is convForwardKernel through im2col and a GEMM.
func convForwardIm2col[T float](b *buffers, g convGeom, x, w []T) []T {
	y := output[T](b, g.n*g.o*g.positions, false) // the GEMM's beta 0 writes every element
	inSize, outSize := g.c*g.h*g.w, g.o*g.positions
	b.reservePacks(1)
	shared := b.pack(0)
	defer b.unpack(shared)
	pre := sharedA(shared, false, w, g.ckk, g.o, g.ckk) // the weights, packed once for every example
	convWorkers(b, g, workersFor(g.n), func(_, lo, hi int, buf *gemmBuf, col []T) {
		for i := lo; i < hi; i++ {
			xi := x[i*inSize : (i+1)*inSize]
			c := xi
			if col != nil {
				im2col(g, xi, col)
				c = col
			}
			gemmA(buf, pre, false, false, g.o, g.positions, g.ckk, w, g.ckk, c, g.positions, 0, y[i*outSize:(i+1)*outSize], g.positions)
		}
	})
	return y
}

// convBackDataKernel: per example, dx_n = col2im(wᵀ [CKK,O] · gy_n [O,P]).
func convBackDataKernel[T float](b *buffers, g convGeom, gy, w []T) []T {
	if gy32, ok := any(gy).([]float32); ok && g.winogradOK() {
		return any(winogradConv(b, g.n, g.o, g.h, g.w, g.c, gy32, any(w).([]float32), true)).([]T)
	}
	if gy32, ok := any(gy).([]float32); ok && g.winograd5OK() {
		return any(winograd5Conv(b, g.n, g.o, g.h, g.w, g.c, gy32, any(w).([]float32), true)).([]T)
	}
	if gy32, ok := any(gy).([]float32); ok && g.directBackDataOK() {
		return any(directBackData(b, g, gy32, any(w).([]float32))).([]T)
	}
	return convBackDataIm2col(b, g, gy, w)
}

// convBackDataIm2col is convBackDataKernel through a GEMM and col2im.
func convBackDataIm2col[T float](b *buffers, g convGeom, gy, w []T) []T {
	dx := output[T](b, g.n*g.c*g.h*g.w, !g.directCols()) // col2im adds into it
	inSize, outSize := g.c*g.h*g.w, g.o*g.positions
	b.reservePacks(1)
	shared := b.pack(0)
	defer b.unpack(shared)
	pre := sharedA(shared, true, w, g.ckk, g.ckk, g.o) // wᵀ, packed once for every example
	convWorkers(b, g, workersFor(g.n), func(_, lo, hi int, buf *gemmBuf, col []T) {
		for i := lo; i < hi; i++ {
			dxi := dx[i*inSize : (i+1)*inSize]
			c := dxi
			if col != nil {
				c = col
			}
			gemmA(buf, pre, true, false, g.ckk, g.positions, g.o, w, g.ckk, gy[i*outSize:(i+1)*outSize], g.positions, 0, c, g.positions)
			if col != nil {
				col2im(g, col, dxi)
			}
		}
	})
	return dx
}

// convBackFilterKernel: dw [O,CKK] = Σ_n gy_n [O,P] · col(x_n)ᵀ [P,CKK],
// each worker summing its examples into its own buffer.
func convBackFilterKernel[T float](b *buffers, g convGeom, x, gy []T) []T {
	if x32, ok := any(x).([]float32); ok && g.winogradOK() {
		return any(winogradBackFilter(b, g.n, g.c, g.h, g.w, g.o, x32, any(gy).([]float32))).([]T)
	}
	if x32, ok := any(x).([]float32); ok && g.directBackFilterOK() {
		return any(directBackFilter(b, g, x32, any(gy).([]float32))).([]T)
	}
	return convBackFilterIm2col(b, g, x, gy)
}

// convBackFilterIm2col is convBackFilterKernel through im2col and a GEMM.
func convBackFilterIm2col[T float](b *buffers, g convGeom, x, gy []T) []T {
	dw := output[T](b, g.o*g.ckk, true) // the GEMMs add into it
	inSize, outSize := g.c*g.h*g.w, g.o*g.positions
	workers := workersFor(g.n)
	parts := make([][]T, workers)
	for wk := 1; wk < workers; wk++ {
		parts[wk] = scratch[T](b, wk, len(dw), true)
	}
	convWorkers(b, g, workers, func(wk, lo, hi int, buf *gemmBuf, col []T) {
		acc := dw
		if wk > 0 {
			acc = parts[wk]
		}
		for i := lo; i < hi; i++ {
			xi := x[i*inSize : (i+1)*inSize]
			c := xi
			if col != nil {
				im2col(g, xi, col)
				c = col
			}
			gemm(buf, false, true, g.o, g.ckk, g.positions, gy[i*outSize:(i+1)*outSize], g.positions, c, g.positions, 1, acc, g.ckk)
		}
		parts[wk] = acc
	})
	for _, p := range parts[1:] {
		for i, v := range p {
			dw[i] += v
		}
	}
	return dw
}

// colRange is the range of output columns ow whose input column
// ow·stride-pad+k lies inside [0, size).
func colRange(size, out, k, stride, pad int) (lo, hi int) {
	// ow·stride >= pad-k  and  ow·stride <= size-1+pad-k
	lo = 0
	if d := pad - k; d > 0 {
		lo = min(out, (d+stride-1)/stride) // empty when the column never meets the input
	}
	hi = out
	if d := size - 1 + pad - k; d < 0 {
		hi = 0
	} else {
		hi = min(out, d/stride+1)
	}
	return lo, max(lo, hi)
}

// im2col lays out one example x [C,H,W] as col [C·KH·KW, Ho·Wo].
func im2col[T float](g convGeom, x, col []T) {
	for c := 0; c < g.c; c++ {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for ki := 0; ki < g.kh; ki++ {
			for kj := 0; kj < g.kw; kj++ {
				row := col[((c*g.kh+ki)*g.kw+kj)*g.positions:][:g.positions]
				lo, hi := colRange(g.w, g.wo, kj, g.stride, g.pad)
				for oh := 0; oh < g.ho; oh++ {
					dst := row[oh*g.wo : (oh+1)*g.wo]
					if lo == hi { // this kernel column never meets the input
						clear(dst)
						continue
					}
					ih := oh*g.stride - g.pad + ki
					if ih < 0 || ih >= g.h {
						clear(dst)
						continue
					}
					src := plane[ih*g.w : (ih+1)*g.w]
					clear(dst[:lo])
					clear(dst[hi:])
					if g.stride == 1 {
						copy(dst[lo:hi], src[lo-g.pad+kj:])
						continue
					}
					for ow := lo; ow < hi; ow++ {
						dst[ow] = src[ow*g.stride-g.pad+kj]
					}
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds col [C·KH·KW, Ho·Wo] into a
// zeroed example dx [C,H,W].
func col2im[T float](g convGeom, col, dx []T) {
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for ki := 0; ki < g.kh; ki++ {
			for kj := 0; kj < g.kw; kj++ {
				row := col[((c*g.kh+ki)*g.kw+kj)*g.positions:][:g.positions]
				lo, hi := colRange(g.w, g.wo, kj, g.stride, g.pad)
				if lo == hi { // this kernel column never meets the input
					continue
				}
				for oh := 0; oh < g.ho; oh++ {
					ih := oh*g.stride - g.pad + ki
					if ih < 0 || ih >= g.h {
						continue
					}
					src := row[oh*g.wo : (oh+1)*g.wo]
					dst := plane[ih*g.w : (ih+1)*g.w]
					if g.stride == 1 { // contiguous: a loop without index arithmetic or bounds checks
						d := dst[lo-g.pad+kj : hi-g.pad+kj]
						for i, v := range src[lo:hi][:len(d)] {
							d[i] += v
						}
						continue
					}
					for ow := lo; ow < hi; ow++ {
						dst[ow*g.stride-g.pad+kj] += src[ow]
					}
				}
			}
		}
	}
}
