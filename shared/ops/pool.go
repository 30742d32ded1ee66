package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"sgn/shared/kernels"
)

// MaxPool2d takes the maximum of each kernel×kernel window of x [N,C,H,W],
// windows stride apart, without padding: [N,C,Ho,Wo] with
// Ho = (H-kernel)/stride+1. Written as PoolSelect(x, x), which picks the
// values of its second input at the positions where the first is largest,
// so it is differentiable any number of times (ties go to the first position).
func MaxPool2d(x *G.Node, kernel, stride int) (*G.Node, error) {
	if err := checkFloat("maxpool2d", x); err != nil {
		return nil, err
	}
	p := poolParams{kh: kernel, kw: kernel, sh: stride, sw: stride}
	if _, err := p.geom("maxpool2d", x.Shape()); err != nil {
		return nil, err
	}
	return apply(newPoolOp(poolSelect, p), x, x)
}

// AvgPool2d averages each kernel×kernel window of x [N,C,H,W], windows
// stride apart, without padding: [N,C,Ho,Wo].
func AvgPool2d(x *G.Node, kernel, stride int) (*G.Node, error) {
	if err := checkFloat("avgpool2d", x); err != nil {
		return nil, err
	}
	p := poolParams{kh: kernel, kw: kernel, sh: stride, sw: stride}
	if _, err := p.geom("avgpool2d", x.Shape()); err != nil {
		return nil, err
	}
	return apply(newPoolOp(poolAvg, p), x)
}

// GlobalAvgPool averages x [N,C,H,W] over its spatial positions: [N,C].
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	if err := checkFloat("global avgpool", x); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("global avgpool: input shape %v, want [N,C,H,W]", s)
	}
	p := poolParams{kh: s[2], kw: s[3], sh: 1, sw: 1}
	if _, err := p.geom("global avgpool", s); err != nil {
		return nil, err
	}
	y, err := apply(newPoolOp(poolAvg, p), x)
	if err != nil {
		return nil, err
	}
	return reshape(y, tensor.Shape{s[0], s[1]})
}

type poolMode int

const (
	poolSelect  poolMode = iota // (key, h) -> h at each window's argmax of key
	poolScatter                 // (key, g) -> g added at each window's argmax of key
	poolAvg                     // x -> window means
	poolAvgAdj                  // g -> g/(kh·kw) spread over each window
)

// poolParams are the windows of a pooling op; h and w, the input's spatial
// size, are needed by poolAvgAdj, whose input does not fix them.
type poolParams struct {
	kh, kw, sh, sw int
	h, w           int
}

// poolOp is one of two adjoint pairs: PoolSelect/PoolScatter (linear in
// their second input, routed by the first, which gets no gradient) and
// AvgPool/its adjoint.
type poolOp struct {
	symbol
	mode poolMode
	p    poolParams
}

func newPoolOp(m poolMode, p poolParams) poolOp {
	name := [...]string{"PoolSelect", "PoolScatter", "AvgPool", "AvgPoolAdjoint"}[m]
	if m != poolAvgAdj {
		p.h, p.w = 0, 0
	}
	return poolOp{symbolf("%s{kernel=%dx%d,stride=%dx%d,in=%dx%d}", name, p.kh, p.kw, p.sh, p.sw, p.h, p.w), m, p}
}

// poolGeom is the geometry of a pooling: planes = N·C.
type poolGeom struct {
	poolParams
	n, c, ho, wo int
}

// geom checks an input [N,C,H,W] against the windows.
func (p poolParams) geom(what string, s tensor.Shape) (poolGeom, error) {
	if len(s) != 4 {
		return poolGeom{}, fmt.Errorf("%s: input shape %v, want [N,C,H,W]", what, s)
	}
	if p.kh < 1 || p.kw < 1 || p.sh < 1 || p.sw < 1 {
		return poolGeom{}, fmt.Errorf("%s: kernel %dx%d and stride %dx%d must be positive", what, p.kh, p.kw, p.sh, p.sw)
	}
	if s[2] < p.kh || s[3] < p.kw {
		return poolGeom{}, fmt.Errorf("%s: kernel %dx%d larger than input %v", what, p.kh, p.kw, s)
	}
	g := poolGeom{poolParams: p, n: s[0], c: s[1]}
	g.h, g.w = s[2], s[3]
	g.ho, g.wo = (g.h-p.kh)/p.sh+1, (g.w-p.kw)/p.sw+1
	return g, nil
}

func (op poolOp) Arity() int {
	if op.mode == poolSelect || op.mode == poolScatter {
		return 2
	}
	return 1
}

func (op poolOp) Type() hm.Type {
	if op.Arity() == 2 {
		return fnType(4, 4, 4)
	}
	return fnType(4, 4)
}

func (op poolOp) DiffWRT(n int) []bool {
	if op.Arity() == 2 {
		return []bool{false, true}
	}
	return []bool{true}
}

// geomOf checks the input shapes and returns the geometry and output shape.
func (op poolOp) geomOf(s []tensor.Shape) (poolGeom, tensor.Shape, error) {
	if len(s) != op.Arity() {
		return poolGeom{}, nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(s))
	}
	switch op.mode {
	case poolSelect, poolScatter:
		g, err := op.p.geom(op.String(), s[0])
		if err != nil {
			return g, nil, err
		}
		pooled := tensor.Shape{g.n, g.c, g.ho, g.wo}
		if op.mode == poolSelect {
			if !sameShape(s[0], s[1]) {
				return g, nil, fmt.Errorf("%v: key %v and value %v differ in shape", op, s[0], s[1])
			}
			return g, pooled, nil
		}
		if !sameShape(s[1], pooled) {
			return g, nil, fmt.Errorf("%v: gradient %v does not match key %v pooled to %v", op, s[1], s[0], pooled)
		}
		return g, s[0].Clone(), nil
	case poolAvg:
		g, err := op.p.geom(op.String(), s[0])
		if err != nil {
			return g, nil, err
		}
		return g, tensor.Shape{g.n, g.c, g.ho, g.wo}, nil
	}
	// poolAvgAdj: s[0] is the pooled gradient
	if len(s[0]) != 4 {
		return poolGeom{}, nil, fmt.Errorf("%v: gradient shape %v, want 4-d", op, s[0])
	}
	full := tensor.Shape{s[0][0], s[0][1], op.p.h, op.p.w}
	g, err := op.p.geom(op.String(), full)
	if err != nil {
		return g, nil, err
	}
	if g.ho != s[0][2] || g.wo != s[0][3] {
		return g, nil, fmt.Errorf("%v: gradient %v does not match input %v", op, s[0], full)
	}
	return g, full, nil
}

func (op poolOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, op.Arity(), ds)
	if err != nil {
		return nil, err
	}
	_, out, err := op.geomOf(s)
	return out, err
}

func (op poolOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, op.Arity(), vs) }
func (op poolOp) do64(in []arg[float64]) (G.Value, error) { return poolDo(op, in) }
func (op poolOp) do32(in []arg[float32]) (G.Value, error) { return poolDo(op, in) }

func poolDo[T float](op poolOp, in []arg[T]) (G.Value, error) {
	s := make([]tensor.Shape, len(in))
	for i, a := range in {
		s[i] = a.shape
	}
	g, outShape, err := op.geomOf(s)
	if err != nil {
		return nil, err
	}
	// Scatters and the average's adjoint add into their output: each
	// worker clears its planes as it comes to them, while they are in its
	// cache (clearing the whole output first, on one goroutine, took a
	// PGD step 2% of its time); the others write every element.
	out := output[T](op.bufs, outShape.TotalSize(), false)
	plane, pooled := g.h*g.w, g.ho*g.wo
	disjoint := g.sh >= g.kh && g.sw >= g.kw // windows do not overlap
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		var at []int32 // the windows' argmax, where the 2x2 kernels do not serve
		for pl := lo; pl < hi; pl++ {
			switch op.mode {
			case poolSelect:
				key, h, dst := in[0].data[pl*plane:(pl+1)*plane], in[1].data[pl*plane:(pl+1)*plane], out[pl*pooled:(pl+1)*pooled]
				if selectPlane2x2(g, key, h, dst) {
					continue
				}
				at = argmaxInto(g, key, at, pooled)
				for o, i := range at {
					dst[o] = h[i]
				}
			case poolScatter:
				key, gr, dst := in[0].data[pl*plane:(pl+1)*plane], in[1].data[pl*pooled:(pl+1)*pooled], out[pl*plane:(pl+1)*plane]
				if scatterPlane2x2(g, key, gr, dst) {
					continue
				}
				at = argmaxInto(g, key, at, pooled)
				clear(dst)
				if disjoint {
					// Each position is some window's argmax at most once:
					// a store, without reading dst first.
					for o, i := range at {
						dst[i] = gr[o]
					}
					continue
				}
				for o, i := range at {
					dst[i] += gr[o]
				}
			case poolAvg:
				avgPlane(g, in[0].data[pl*plane:(pl+1)*plane], out[pl*pooled:(pl+1)*pooled])
			case poolAvgAdj:
				dst := out[pl*plane : (pl+1)*plane]
				clear(dst)
				avgAdjPlane(g, in[0].data[pl*pooled:(pl+1)*pooled], dst)
			}
		}
	})
	return result(op.bufs, outShape, out), nil
}

// argmaxInto is argmaxPlane into at, made pooled long on first use.
func argmaxInto[T float](g poolGeom, key []T, at []int32, pooled int) []int32 {
	if at == nil {
		at = make([]int32, pooled)
	}
	argmaxPlane(g, key, at)
	return at
}

// argmaxPlane sets at[o], for each window o of a plane of key, to the
// position of the window's largest key, the first one on ties.
func argmaxPlane[T float](g poolGeom, key []T, at []int32) {
	if g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 {
		argmaxPlane2x2(g, key, at)
		return
	}
	argmaxPlaneGeneric(g, key, at)
}

// argmaxPlaneGeneric is argmaxPlane for any window.
func argmaxPlaneGeneric[T float](g poolGeom, key []T, at []int32) {
	for oh := 0; oh < g.ho; oh++ {
		for ow := 0; ow < g.wo; ow++ {
			best := oh*g.sh*g.w + ow*g.sw
			bv := key[best]
			for i := 0; i < g.kh; i++ {
				row := (oh*g.sh+i)*g.w + ow*g.sw
				for j, v := range key[row : row+g.kw] {
					if v > bv {
						bv, best = v, row+j
					}
				}
			}
			at[oh*g.wo+ow] = int32(best)
		}
	}
}

// argmaxPlane2x2 is argmaxPlane for 2x2 windows at stride 2, every CNN's
// pooling, eight windows at a time in AVX2 where the CPU has it (the
// generic loop spent a fifth of a PGD step here).
func argmaxPlane2x2[T float](g poolGeom, key []T, at []int32) {
	k32, ok := any(key).([]float32)
	if !ok {
		argmaxPlaneGeneric(g, key, at)
		return
	}
	w := g.w
	var vec func(oh, ow, n int) // without AVX2, Argmax4 alone
	if kernels.Fast() {
		vec = func(oh, ow, n int) {
			top := 2*oh*w + 2*ow
			kernels.Argmax2x2(&k32[top], &k32[top+w], &at[oh*g.wo+ow], n, int32(top), int32(w))
		}
	}
	rows2x2(g, g.w >= 6, vec, func(oh, ow int) {
		top := 2*oh*w + 2*ow
		at[oh*g.wo+ow] = kernels.Argmax4(k32[top], k32[top+1], k32[top+w], k32[top+w+1], int32(top), int32(w))
	})
}

// rows2x2 walks the output rows of 2x2 stride-2 windows: for each row oh
// it calls vec(oh, ow, n) on runs of n windows from ow, n a multiple of 8
// (a row's last eight again, overlapping, when its count is not a
// multiple of eight: recomputing a window gives what it gave, and a
// 14-wide row, MNIST's pooled 28x28, is then all vector work), and
// one(oh, ow) on each window left (on every one when vec is nil). Where
// a row holds fewer than eight windows but at least four and spill
// allows, vec runs on eight from the row's start, the extra ones over the
// next rows (7 on a 14x14 plane):
// their results land in the next output row's places, which that row
// rewrites; never on the last output row, which has no next.
func rows2x2(g poolGeom, spill bool, vec func(oh, ow, n int), one func(oh, ow int)) {
	for oh := 0; oh < g.ho; oh++ {
		first := 0
		if v := g.wo &^ 7; vec != nil && v > 0 {
			vec(oh, 0, v)
			if tail := g.wo - 8; tail > v-8 {
				vec(oh, tail, 8)
			}
			first = g.wo
		} else if vec != nil && spill && g.wo >= 4 && oh < g.ho-1 {
			vec(oh, 0, 8)
			first = g.wo
		}
		for ow := first; ow < g.wo; ow++ {
			one(oh, ow)
		}
	}
}

// selectPlane2x2 sets each element of dst, for 2x2 windows at stride 2
// over a float32 plane, to h at the window's largest key (Argmax4's
// choice), eight windows at a time without the indices between (the
// argmax and a gather after it took a PGD step's pooling twice as long);
// it reports whether it could.
func selectPlane2x2[T float](g poolGeom, key, h, dst []T) bool {
	k32, ok := any(key).([]float32)
	if !ok || !kernels.Fast() || g.kh != 2 || g.kw != 2 || g.sh != 2 || g.sw != 2 {
		return false
	}
	h32, d32 := any(h).([]float32), any(dst).([]float32)
	w := g.w
	// Reading eight windows from a row's start stays inside the plane
	// when 16 <= 3w.
	rows2x2(g, w >= 6, func(oh, ow, n int) {
		top := 2*oh*w + 2*ow
		kernels.Select2x2(&k32[top], &k32[top+w], &h32[top], &h32[top+w], &d32[oh*g.wo+ow], n)
	}, func(oh, ow int) {
		top := 2*oh*w + 2*ow
		d32[oh*g.wo+ow] = kernels.Select4(k32[top], k32[top+1], k32[top+w], k32[top+w+1], h32[top], h32[top+1], h32[top+w], h32[top+w+1])
	})
	return true
}

// scatterPlane2x2 is selectPlane2x2's adjoint: it writes all of dst, each
// window's gradient at its largest key and 0 elsewhere, from the pooled
// gradient gr; it reports whether it could.
func scatterPlane2x2[T float](g poolGeom, key, gr, dst []T) bool {
	k32, ok := any(key).([]float32)
	if !ok || !kernels.Fast() || g.kh != 2 || g.kw != 2 || g.sh != 2 || g.sw != 2 {
		return false
	}
	g32, d32 := any(gr).([]float32), any(dst).([]float32)
	w := g.w
	if g.h != 2*g.ho || w != 2*g.wo {
		clear(d32) // a last row or column no window covers
	}
	// Eight windows from a row's start write past the row only where the
	// windows fill the rows: the eighth's top elements come before the
	// bottom row's own (Scatter2x2 writes d0 first), its bottom ones
	// before the next output row's.
	rows2x2(g, w == 2*g.wo, func(oh, ow, n int) {
		top := 2*oh*w + 2*ow
		kernels.Scatter2x2(&k32[top], &k32[top+w], &g32[oh*g.wo+ow], &d32[top], &d32[top+w], n)
	}, func(oh, ow int) {
		top := 2*oh*w + 2*ow
		kernels.Scatter4(k32[top], k32[top+1], k32[top+w], k32[top+w+1], g32[oh*g.wo+ow], d32[top:top+2], d32[top+w:top+w+2])
	})
	return true
}

func avgPlane[T float](g poolGeom, x, y []T) {
	scale := 1 / T(g.kh*g.kw)
	for oh := 0; oh < g.ho; oh++ {
		for ow := 0; ow < g.wo; ow++ {
			var s T
			for i := 0; i < g.kh; i++ {
				row := x[(oh*g.sh+i)*g.w+ow*g.sw:][:g.kw]
				for _, v := range row {
					s += v
				}
			}
			y[oh*g.wo+ow] = s * scale
		}
	}
}

func avgAdjPlane[T float](g poolGeom, gy, dx []T) {
	scale := 1 / T(g.kh*g.kw)
	for oh := 0; oh < g.ho; oh++ {
		for ow := 0; ow < g.wo; ow++ {
			v := gy[oh*g.wo+ow] * scale
			for i := 0; i < g.kh; i++ {
				row := dx[(oh*g.sh+i)*g.w+ow*g.sw:][:g.kw]
				for j := range row {
					row[j] += v
				}
			}
		}
	}
}

func (op poolOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, op.DiffWRT(len(in)))
}

func (op poolOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(in))
	}
	p := op.p
	switch op.mode {
	case poolSelect, poolScatter:
		adj := poolScatter
		if op.mode == poolScatter {
			adj = poolSelect
		}
		d, err := apply(newPoolOp(adj, p), in[0], grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{nil, d}, nil
	case poolAvg:
		s := in[0].Shape()
		p.h, p.w = s[2], s[3]
		d, err := apply(newPoolOp(poolAvgAdj, p), grad)
		if err != nil {
			return nil, err
		}
		return G.Nodes{d}, nil
	}
	d, err := apply(newPoolOp(poolAvg, p), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
