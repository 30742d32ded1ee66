package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Per-channel ops on [N,C,...] tensors, fused: batch norm, biases and
// channel scales used to be built from a broadcast [C] -> [N,C,...] and an
// elementwise op, a full-size tensor written and read again per use. The
// two ops close under differentiation with sumOp and bcastOp.

// chanAffineOp is x·a[c] + b[c] for x [N,C,...], with the scale a, the
// shift b or both given as [C] inputs after x.
type chanAffineOp struct {
	symbol
	dims         int
	scale, shift bool
}

func newChanAffineOp(dims int, scale, shift bool) chanAffineOp {
	return chanAffineOp{symbolf("ChannelAffine{dims=%d,scale=%v,shift=%v}", dims, scale, shift), dims, scale, shift}
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
	out := make([]T, len(x.data))
	parallelChunks(len(out), func(lo, hi int) {
		for i := lo; i < hi; {
			c, end := (i/inner)%mid, min(hi, (i/inner+1)*inner)
			o, v := out[i:end], x.data[i:end]
			switch {
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
	return dense(x.shape, out), nil
}

func (op chanAffineOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, op.DiffWRT(len(in)))
}

// The adjoints: dx = g·a[c], da = Σ g⊙x per channel, db = Σ g per channel;
// only those needed are built (the tape machine runs every node).
func (op chanAffineOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != op.Arity() || len(need) != len(in) {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(in))
	}
	d := make(G.Nodes, len(in))
	var err error
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
// two [N,C,...] tensors of one shape, or from one, u⊙u, when square (one
// input gets one gradient term, not two to be added).
type chanDotOp struct {
	symbol
	dims   int
	scale  float64
	square bool
}

// chanDot is scale·Σ u⊙v per channel.
func chanDot(u, v *G.Node, scale float64) (*G.Node, error) {
	return apply(chanDotOp{symbolf("ChannelDot{dims=%d,scale=%v}", u.Dims(), scale), u.Dims(), scale, false}, u, v)
}

// chanSquares is scale·Σ u⊙u per channel.
func chanSquares(u *G.Node, scale float64) (*G.Node, error) {
	return apply(chanDotOp{symbolf("ChannelSquares{dims=%d,scale=%v}", u.Dims(), scale), u.Dims(), scale, true}, u)
}

func (op chanDotOp) Arity() int {
	if op.square {
		return 1
	}
	return 2
}

func (op chanDotOp) Type() hm.Type {
	if op.square {
		return fnType(1, op.dims)
	}
	return fnType(1, op.dims, op.dims)
}

func (op chanDotOp) DiffWRT(n int) []bool { return []bool{true, true}[:op.Arity()] }

func (op chanDotOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, op.Arity(), ds)
	if err != nil {
		return nil, err
	}
	if err := checkChannels(op, s[0], op.dims); err != nil {
		return nil, err
	}
	if !sameShape(s[0], s[len(s)-1]) {
		return nil, fmt.Errorf("%v: input shapes %v and %v differ", op, s[0], s[1])
	}
	return tensor.Shape{s[0][1]}, nil
}

func (op chanDotOp) Do(vs ...G.Value) (G.Value, error) { return run(op, op.Arity(), vs) }
func (op chanDotOp) do64(in []arg[float64]) (G.Value, error) {
	return chanDotDo(op, in[0], in[len(in)-1])
}
func (op chanDotOp) do32(in []arg[float32]) (G.Value, error) {
	return chanDotDo(op, in[0], in[len(in)-1])
}

func chanDotDo[T float](op chanDotOp, u, v arg[T]) (G.Value, error) {
	if err := checkChannels(op, u.shape, op.dims); err != nil {
		return nil, err
	}
	if !sameShape(u.shape, v.shape) || len(u.data) != len(v.data) {
		return nil, fmt.Errorf("%v: input shapes %v and %v differ", op, u.shape, v.shape)
	}
	_, mid, inner := split(u.shape, 1)
	// As sumDo: float64 partial sums per worker, added in worker order.
	workers := 1
	if len(u.data) >= 1<<16 {
		workers = workersFor(len(u.data))
	}
	parts := make([][]float64, workers)
	body := func(wk, lo, hi int) {
		acc := make([]float64, mid)
		for i := lo; i < hi; {
			end := min(hi, (i/inner+1)*inner)
			acc[(i/inner)%mid] += dot64(u.data[i:end], v.data[i:end])
			i = end
		}
		parts[wk] = acc
	}
	if workers > 1 {
		parallelForN(len(u.data), workers, body)
	} else {
		body(0, 0, len(u.data))
	}
	out := make([]T, mid)
	for m := range out {
		var s float64
		for _, p := range parts {
			s += p[m]
		}
		out[m] = T(s * op.scale)
	}
	return dense(tensor.Shape{mid}, out), nil
}

// dot64 is the float64 dot product of u and v, four running sums at a
// time (see sum64).
func dot64[T float](u, v []T) float64 {
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
	return op.symDiff(in, out, grad, op.DiffWRT(len(in)))
}

// The adjoints: du = v·(scale·g)[c], dv = u·(scale·g)[c]; for squares,
// du = u·(2·scale·g)[c]. Only those needed are built.
func (op chanDotOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != op.Arity() || len(need) != len(in) {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.Arity(), len(in))
	}
	factor := op.scale
	if op.square {
		factor *= 2
	}
	g := grad
	if factor != 1 {
		var err error
		if g, err = apply(newUnaryOp(unaryAffine, 1, factor, 0), grad); err != nil {
			return nil, err
		}
	}
	if op.square {
		du, err := chanAffine(in[0], g, nil)
		return G.Nodes{du}, err
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
