package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"sgn/shared/kernels"
)

// Per-channel ops on [N,C,...] tensors, fused: batch norm, biases and
// channel scales used to be built from a broadcast [C] -> [N,C,...] and an
// elementwise op, a full-size tensor written and read again per use. The
// ops here differentiate into one another, sumOp and the elementwise ops,
// so graphs built of them stay differentiable to any order.

// chanAffineOp is x·a[c] + b[c] for x [N,C,...], with the scale a, the
// shift b or both given as [C] inputs after x.
//
// With relu set it is max(x·a[c] + b[c], 0): batch norm in evaluation mode
// and the ReLU after it in one pass over memory.
type chanAffineOp struct {
	symbol
	dims         int
	scale, shift bool
	relu         bool
}

func newChanAffineOp(dims int, scale, shift bool) chanAffineOp {
	return chanAffineOp{symbolf("ChannelAffine{dims=%d,scale=%v,shift=%v}", dims, scale, shift), dims, scale, shift, false}
}

func newChanAffineReLUOp(dims int) chanAffineOp {
	return chanAffineOp{symbolf("ChannelAffineReLU{dims=%d}", dims), dims, true, true, true}
}

// chanAffine applies x·a[c] + b[c]; a or b may be nil.
func chanAffine(x, a, b *G.Node) (*G.Node, error) {
	in := G.Nodes{x}
	for _, v := range []*G.Node{a, b} {
		if v != nil {
			in = append(in, v)
		}
	}
	return apply(newChanAffineOp(x.Dims(), a != nil, b != nil), in...)
}

func (op chanAffineOp) Arity() int {
	n := 1
	if op.scale {
		n++
	}
	if op.shift {
		n++
	}
	return n
}

func (op chanAffineOp) Type() hm.Type {
	in := []int{op.dims}
	for range op.Arity() - 1 {
		in = append(in, 1)
	}
	return fnType(op.dims, in...)
}

func (op chanAffineOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

// checkChannels checks x [N,C,...] against per-channel vectors [C].
func checkChannels(op fmt.Stringer, x tensor.Shape, dims int, vs ...tensor.Shape) error {
	if len(x) != dims || dims < 2 {
		return fmt.Errorf("%v: input shape %v, want %d dimensions [N,C,...]", op, x, dims)
	}
	for _, v := range vs {
		if len(v) != 1 || v[0] != x[1] {
			return fmt.Errorf("%v: per-channel input %v for %d channels", op, v, x[1])
		}
	}
	return nil
}

func (op chanAffineOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, op.Arity(), ds)
	if err != nil {
		return nil, err
	}
	if err := checkChannels(op, s[0], op.dims, s[1:]...); err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op chanAffineOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, op.Arity(), vs) }
func (op chanAffineOp) do64(in []arg[float64]) (G.Value, error) { return chanAffineDo(op, in) }
func (op chanAffineOp) do32(in []arg[float32]) (G.Value, error) { return chanAffineDo(op, in) }

func chanAffineDo[T float](op chanAffineOp, in []arg[T]) (G.Value, error) {
	x := in[0]
	vs := make([]tensor.Shape, len(in)-1)
	for i, v := range in[1:] {
		vs[i] = v.shape
	}
	if err := checkChannels(op, x.shape, op.dims, vs...); err != nil {
		return nil, err
	}
	var a, b []T
	if op.scale {
		a = in[1].data
	}
	if op.shift {
		b = in[len(in)-1].data
	}
	_, mid, inner := split(x.shape, 1)
	out := output[T](op.bufs, len(x.data), false)
	out32, _ := any(out).([]float32)
	parallelChunks(len(out), func(lo, hi int) {
		for i := lo; i < hi; {
			c, end := (i/inner)%mid, min(hi, (i/inner+1)*inner)
			o, v := out[i:end], x.data[i:end]
			switch {
			case op.relu && out32 != nil:
				kernels.AffineReLU(out32[i:end], any(v).([]float32), float32(a[c]), float32(b[c]))
			case op.relu:
				s, t := a[c], b[c]
				for j, u := range v {
					o[j] = reluOf(u*s + t)
				}
			case a != nil && b != nil:
				s, t := a[c], b[c]
				for j, u := range v {
					o[j] = u*s + t
				}
			case a != nil:
				s := a[c]
				for j, u := range v {
					o[j] = u * s
				}
			default:
				t := b[c]
				for j, u := range v {
					o[j] = u + t
				}
			}
			i = end
		}
	})
	return result(op.bufs, x.shape, out), nil
}

func (op chanAffineOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, op.DiffWRT(len(in)))
}

// The adjoints: dx = g·a[c], da = Σ g⊙x per channel, db = Σ g per channel;
// only those needed are built (the tape machine runs every node). With
// relu, g is first masked by the output, as ReLU's own adjoint does.
func (op chanAffineOp) symDiff(in G.Nodes, out, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != op.Arity() || len(need) != len(in) {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(in))
	}
	d := make(G.Nodes, len(in))
	var err error
	if op.relu {
		if grad, err = Mask(out, grad); err != nil {
			return nil, err
		}
	}
	switch {
	case need[0] && op.scale:
		if d[0], err = chanAffine(grad, in[1], nil); err != nil {
			return nil, err
		}
	case need[0]:
		d[0] = grad
	}
	if op.scale && need[1] {
		if d[1], err = chanDot(grad, in[0], 1); err != nil {
			return nil, err
		}
	}
	if last := len(in) - 1; op.shift && need[last] {
		if d[last], err = apply(newSumOp(1, op.dims, 1), grad); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// chanDotOp is scale·Σ u⊙v over every axis but the channels: [C] from
// two [N,C,...] tensors of one shape.
type chanDotOp struct {
	symbol
	dims  int
	scale float64
}

// chanDot is scale·Σ u⊙v per channel.
func chanDot(u, v *G.Node, scale float64) (*G.Node, error) {
	return apply(chanDotOp{symbolf("ChannelDot{dims=%d,scale=%v}", u.Dims(), scale), u.Dims(), scale}, u, v)
}

func (op chanDotOp) Arity() int         { return 2 }
func (op chanDotOp) Type() hm.Type      { return fnType(1, op.dims, op.dims) }
func (op chanDotOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op chanDotOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 2, ds)
	if err != nil {
		return nil, err
	}
	if err := checkChannels(op, s[0], op.dims); err != nil {
		return nil, err
	}
	if !sameShape(s[0], s[1]) {
		return nil, fmt.Errorf("%v: input shapes %v and %v differ", op, s[0], s[1])
	}
	return tensor.Shape{s[0][1]}, nil
}

func (op chanDotOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 2, vs) }
func (op chanDotOp) do64(in []arg[float64]) (G.Value, error) { return chanDotDo(op, in[0], in[1]) }
func (op chanDotOp) do32(in []arg[float32]) (G.Value, error) { return chanDotDo(op, in[0], in[1]) }

func chanDotDo[T float](op chanDotOp, u, v arg[T]) (G.Value, error) {
	if err := checkChannels(op, u.shape, op.dims); err != nil {
		return nil, err
	}
	if !sameShape(u.shape, v.shape) || len(u.data) != len(v.data) {
		return nil, fmt.Errorf("%v: input shapes %v and %v differ", op, u.shape, v.shape)
	}
	_, mid, inner := split(u.shape, 1)
	sums := segmentSums(len(u.data), mid, inner, func(_, lo, hi int) float64 { return dot64(u.data[lo:hi], v.data[lo:hi]) })
	out := output[T](op.bufs, mid, false)
	for m, s := range sums {
		out[m] = T(s * op.scale)
	}
	return result(op.bufs, tensor.Shape{mid}, out), nil
}

// dot64 is the float64 dot product of u and v, four running sums at a
// time (see sum64), or through kernels.Dot64 for float32.
func dot64[T float](u, v []T) float64 {
	if u32, ok := any(u).([]float32); ok {
		return kernels.Dot64(u32, any(v).([]float32))
	}
	v = v[:len(u)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(u); i += 4 {
		s0 += float64(u[i]) * float64(v[i])
		s1 += float64(u[i+1]) * float64(v[i+1])
		s2 += float64(u[i+2]) * float64(v[i+2])
		s3 += float64(u[i+3]) * float64(v[i+3])
	}
	for ; i < len(u); i++ {
		s0 += float64(u[i]) * float64(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}

func (op chanDotOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true, true})
}

// The adjoints: du = v·(scale·g)[c], dv = u·(scale·g)[c]; only those
// needed are built.
func (op chanDotOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 2 || len(need) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, got %d", op, len(in))
	}
	g := grad
	if op.scale != 1 {
		var err error
		if g, err = Affine(grad, op.scale, 0); err != nil {
			return nil, err
		}
	}
	d := make(G.Nodes, 2)
	for j, other := range []*G.Node{in[1], in[0]} {
		if need[j] {
			var err error
			if d[j], err = chanAffine(other, g, nil); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// chanVarOp is scale·Σ(x - m[c])² per channel of x [N,C,...], for the mean
// m [C]: batch norm's biased variance in one pass.
type chanVarOp struct {
	symbol
	dims  int
	scale float64
}

func chanVar(x, m *G.Node, scale float64) (*G.Node, error) {
	return apply(chanVarOp{symbolf("ChannelVar{dims=%d,scale=%v}", x.Dims(), scale), x.Dims(), scale}, x, m)
}

func (op chanVarOp) Arity() int         { return 2 }
func (op chanVarOp) Type() hm.Type      { return fnType(1, op.dims, 1) }
func (op chanVarOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op chanVarOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 2, ds)
	if err != nil {
		return nil, err
	}
	if err := checkChannels(op, s[0], op.dims, s[1]); err != nil {
		return nil, err
	}
	return tensor.Shape{s[0][1]}, nil
}

func (op chanVarOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 2, vs) }
func (op chanVarOp) do64(in []arg[float64]) (G.Value, error) { return chanVarDo(op, in[0], in[1]) }
func (op chanVarOp) do32(in []arg[float32]) (G.Value, error) { return chanVarDo(op, in[0], in[1]) }

func chanVarDo[T float](op chanVarOp, x, m arg[T]) (G.Value, error) {
	if err := checkChannels(op, x.shape, op.dims, m.shape); err != nil {
		return nil, err
	}
	_, mid, inner := split(x.shape, 1)
	sums := segmentSums(len(x.data), mid, inner, func(c, lo, hi int) float64 {
		v, mc := x.data[lo:hi], float64(m.data[c])
		if v32, ok := any(v).([]float32); ok {
			return kernels.SumSq64(v32, mc) // 16 at a time with AVX2
		}
		var s0, s1 float64
		i := 0
		for ; i+2 <= len(v); i += 2 {
			d0, d1 := float64(v[i])-mc, float64(v[i+1])-mc
			s0 += d0 * d0
			s1 += d1 * d1
		}
		for ; i < len(v); i++ {
			d := float64(v[i]) - mc
			s0 += d * d
		}
		return s0 + s1
	})
	out := output[T](op.bufs, len(sums), false)
	for c, s := range sums {
		out[c] = T(s * op.scale)
	}
	return result(op.bufs, tensor.Shape{len(out)}, out), nil
}

func (op chanVarOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true, true})
}

// The adjoints: dx = 2·scale·h[c]·(x - m[c]), dm = -2·scale·h ⊙ (Σx - M·m)
// per channel, M the positions per channel.
func (op chanVarOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 2 || len(need) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, got %d", op, len(in))
	}
	x, m := in[0], in[1]
	h2, err := Affine(grad, 2*op.scale, 0)
	if err != nil {
		return nil, err
	}
	d := make(G.Nodes, 2)
	if need[0] {
		shift, err := mul(h2, m)
		if err == nil {
			shift, err = Affine(shift, -1, 0)
		}
		if err == nil {
			d[0], err = chanAffine(x, h2, shift)
		}
		if err != nil {
			return nil, err
		}
	}
	if need[1] {
		s := x.Shape()
		perChannel := float64(s.TotalSize() / s[1])
		sx, err := apply(newSumOp(1, op.dims, 1), x)
		if err != nil {
			return nil, err
		}
		mm, err := Affine(m, perChannel, 0)
		if err != nil {
			return nil, err
		}
		if sx, err = sub(sx, mm); err != nil {
			return nil, err
		}
		if sx, err = mul(sx, h2); err != nil {
			return nil, err
		}
		if d[1], err = Affine(sx, -1, 0); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// segmentSums adds f over [0,n) per index m, where element i belongs to
// m = (i/inner)%mid (a channel, when mid and inner come from split): f gets
// stretches that stay within one m. The work runs on both cores from 2^16
// elements, each worker adding into its own float64 partial sums, which are
// added in worker order.
func segmentSums(n, mid, inner int, f func(m, lo, hi int) float64) []float64 {
	workers := 1
	if n >= 1<<16 {
		workers = workersFor(n)
	}
	parts := make([][]float64, workers)
	parallelForN(n, workers, func(wk, lo, hi int) {
		acc := make([]float64, mid)
		for i := lo; i < hi; {
			end := min(hi, (i/inner+1)*inner)
			acc[(i/inner)%mid] += f((i/inner)%mid, i, end)
			i = end
		}
		parts[wk] = acc
	})
	sums := parts[0]
	if sums == nil { // n == 0
		sums = make([]float64, mid)
	}
	for _, p := range parts[1:] {
		for m, v := range p {
			sums[m] += v
		}
	}
	return sums
}

// chanCombineOp is u·a[c] + v·b[c] + k[c] for u, v [N,C,...] of one shape:
// batch norm's input gradient in one pass.
type chanCombineOp struct {
	symbol
	dims int
}

func chanCombine(u, v, a, b, k *G.Node) (*G.Node, error) {
	return apply(chanCombineOp{symbolf("ChannelCombine{dims=%d}", u.Dims()), u.Dims()}, u, v, a, b, k)
}

func (op chanCombineOp) Arity() int         { return 5 }
func (op chanCombineOp) Type() hm.Type      { return fnType(op.dims, op.dims, op.dims, 1, 1, 1) }
func (op chanCombineOp) DiffWRT(int) []bool { return []bool{true, true, true, true, true} }

func (op chanCombineOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 5, ds)
	if err != nil {
		return nil, err
	}
	if err := checkChannels(op, s[0], op.dims, s[2:]...); err != nil {
		return nil, err
	}
	if !sameShape(s[0], s[1]) {
		return nil, fmt.Errorf("%v: input shapes %v and %v differ", op, s[0], s[1])
	}
	return s[0].Clone(), nil
}

func (op chanCombineOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 5, vs) }
func (op chanCombineOp) do64(in []arg[float64]) (G.Value, error) { return chanCombineDo(op, in) }
func (op chanCombineOp) do32(in []arg[float32]) (G.Value, error) { return chanCombineDo(op, in) }

func chanCombineDo[T float](op chanCombineOp, in []arg[T]) (G.Value, error) {
	u, v := in[0], in[1]
	if err := checkChannels(op, u.shape, op.dims, in[2].shape, in[3].shape, in[4].shape); err != nil {
		return nil, err
	}
	if !sameShape(u.shape, v.shape) || len(u.data) != len(v.data) {
		return nil, fmt.Errorf("%v: input shapes %v and %v differ", op, u.shape, v.shape)
	}
	a, b, k := in[2].data, in[3].data, in[4].data
	_, mid, inner := split(u.shape, 1)
	out := output[T](op.bufs, len(u.data), false)
	out32, _ := any(out).([]float32)
	parallelChunks(len(out), func(lo, hi int) {
		for i := lo; i < hi; {
			c, end := (i/inner)%mid, min(hi, (i/inner+1)*inner)
			o, x, y := out[i:end], u.data[i:end], v.data[i:end]
			ac, bc, kc := a[c], b[c], k[c]
			if out32 != nil { // the same loop, eight at a time with AVX2
				kernels.Combine(out32[i:end], any(x).([]float32), any(y).([]float32), float32(ac), float32(bc), float32(kc))
				i = end
				continue
			}
			for j, xv := range x {
				o[j] = xv*ac + y[j]*bc + kc
			}
			i = end
		}
	})
	return result(op.bufs, u.shape, out), nil
}

func (op chanCombineOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, op.DiffWRT(5))
}

// The adjoints: du = h·a[c], dv = h·b[c], da = Σ h⊙u, db = Σ h⊙v, dk = Σ h
// per channel.
func (op chanCombineOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 5 || len(need) != 5 {
		return nil, fmt.Errorf("%v: want 5 inputs, got %d", op, len(in))
	}
	d := make(G.Nodes, 5)
	var err error
	build := []func() (*G.Node, error){
		func() (*G.Node, error) { return chanAffine(grad, in[2], nil) },
		func() (*G.Node, error) { return chanAffine(grad, in[3], nil) },
		func() (*G.Node, error) { return chanDot(grad, in[0], 1) },
		func() (*G.Node, error) { return chanDot(grad, in[1], 1) },
		func() (*G.Node, error) { return apply(newSumOp(1, op.dims, 1), grad) },
	}
	for j, f := range build {
		if need[j] {
			if d[j], err = f(); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// bnTrainOp is batch norm in training mode given the batch statistics:
// y = (x - mean[c])·γ[c]/sqrt(var[c]+eps) + β[c] for x [N,C,...]. mean and
// var must be ChannelMean(x) and chanVar(x, mean, 1/M): the op takes no
// gradient through them (DiffWRT false) because its gradient for x is the
// total one, through the statistics too, in three passes (Σg, Σg⊙x, then
// chanCombine) instead of the dozen of the same function built from
// per-channel pieces. Its gradient is again made of differentiable ops,
// in which the statistics appear as ordinary nodes, so a second derivative
// goes through them.
//
// With relu set the op is max(y, 0), the ReLU after batch norm fused into
// its pass over memory; its adjoint masks g by the output first.
type bnTrainOp struct {
	symbol
	dims int
	eps  float64
	relu bool
}

func newBNTrainOp(dims int, eps float64, relu bool) bnTrainOp {
	name := "BatchNormTrain"
	if relu {
		name = "BatchNormReLUTrain"
	}
	return bnTrainOp{symbolf("%s{dims=%d,eps=%v}", name, dims, eps), dims, eps, relu}
}

func (op bnTrainOp) Arity() int         { return 5 }
func (op bnTrainOp) Type() hm.Type      { return fnType(op.dims, op.dims, 1, 1, 1, 1) }
func (op bnTrainOp) DiffWRT(int) []bool { return []bool{true, false, false, true, true} }

func (op bnTrainOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 5, ds)
	if err != nil {
		return nil, err
	}
	if err := checkChannels(op, s[0], op.dims, s[1:]...); err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op bnTrainOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 5, vs) }
func (op bnTrainOp) do64(in []arg[float64]) (G.Value, error) { return bnTrainDo(op, in) }
func (op bnTrainOp) do32(in []arg[float32]) (G.Value, error) { return bnTrainDo(op, in) }

func bnTrainDo[T float](op bnTrainOp, in []arg[T]) (G.Value, error) {
	x := in[0]
	if err := checkChannels(op, x.shape, op.dims, in[1].shape, in[2].shape, in[3].shape, in[4].shape); err != nil {
		return nil, err
	}
	mean, variance, gamma, beta := in[1].data, in[2].data, in[3].data, in[4].data
	a, b := scratch[T](op.bufs, 0, len(mean), false), scratch[T](op.bufs, 1, len(mean), false)
	for c := range a {
		s := float64(gamma[c]) / math.Sqrt(float64(variance[c])+op.eps)
		a[c], b[c] = T(s), T(float64(beta[c])-float64(mean[c])*s)
	}
	_, mid, inner := split(x.shape, 1)
	out := output[T](op.bufs, len(x.data), false)
	out32, _ := any(out).([]float32)
	parallelChunks(len(out), func(lo, hi int) {
		for i := lo; i < hi; {
			c, end := (i/inner)%mid, min(hi, (i/inner+1)*inner)
			ac, bc := a[c], b[c]
			switch {
			case out32 != nil && op.relu: // the same loops, eight at a time with AVX2
				kernels.AffineReLU(out32[i:end], any(x.data[i:end]).([]float32), float32(ac), float32(bc))
			case out32 != nil:
				kernels.Affine(out32[i:end], any(x.data[i:end]).([]float32), float32(ac), float32(bc))
			case op.relu:
				for j, v := range x.data[i:end] {
					out[i+j] = reluOf(v*ac + bc)
				}
			default:
				for j, v := range x.data[i:end] {
					out[i+j] = v*ac + bc
				}
			}
			i = end
		}
	})
	return result(op.bufs, x.shape, out), nil
}

func (op bnTrainOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, op.DiffWRT(5))
}

// With inv = (var+eps)^-½, x̂ = (x-mean)·inv, M positions per channel and
// A = γ·inv: dβ = Σg, dγ = Σg⊙x̂ = inv·(Σg⊙x - mean·dβ), and
// dx = A·(g - dβ/M - x̂·dγ/M) = g·A + x·B + K with B = -A·dγ·inv/M and
// K = -A·dβ/M - B·mean.
func (op bnTrainOp) symDiff(in G.Nodes, out, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 5 || len(need) != 5 {
		return nil, fmt.Errorf("%v: want 5 inputs, got %d", op, len(in))
	}
	if op.relu {
		var err error
		if grad, err = Mask(out, grad); err != nil {
			return nil, err
		}
	}
	x, mean, variance, gamma := in[0], in[1], in[2], in[3]
	s := x.Shape()
	m := float64(s.TotalSize() / s[1])
	d := make(G.Nodes, 5)
	dBeta, err := apply(newSumOp(1, op.dims, 1), grad)
	if err != nil {
		return nil, err
	}
	if need[4] {
		d[4] = dBeta
	}
	if !need[0] && !need[3] {
		return d, nil
	}
	// Each step is a [C] op; e carries the first error through.
	var e error
	step := func(f func() (*G.Node, error)) *G.Node {
		if e != nil {
			return nil
		}
		n, err := f()
		e = err
		return n
	}
	inv := step(func() (*G.Node, error) { return power(variance, -0.5, op.eps) })
	gx := step(func() (*G.Node, error) { return chanDot(grad, x, 1) })
	mb := step(func() (*G.Node, error) { return mul(mean, dBeta) })
	dGamma := step(func() (*G.Node, error) { return sub(gx, mb) })
	dGamma = step(func() (*G.Node, error) { return mul(inv, dGamma) })
	if need[3] {
		d[3] = dGamma
	}
	if need[0] {
		a := step(func() (*G.Node, error) { return mul(gamma, inv) })
		b := step(func() (*G.Node, error) { return mul(a, dGamma) })
		b = step(func() (*G.Node, error) { return mul(b, inv) })
		b = step(func() (*G.Node, error) { return Affine(b, -1/m, 0) })
		k := step(func() (*G.Node, error) { return mul(a, dBeta) })
		k = step(func() (*G.Node, error) { return Affine(k, -1/m, 0) })
		bm := step(func() (*G.Node, error) { return mul(b, mean) })
		k = step(func() (*G.Node, error) { return sub(k, bm) })
		d[0] = step(func() (*G.Node, error) { return chanCombine(grad, x, a, b, k) })
	}
	return d, e
}
