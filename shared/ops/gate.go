package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"sgn/shared/kernels"
)

// ReLU is max(x, 0), written as Mask(x, x): the routing follows x but is
// held constant under differentiation, so the op is linear in its second
// input and its derivatives of every order exist (zero second derivative away
// from 0, as for any piecewise-linear function).
func ReLU(x *G.Node) (*G.Node, error) {
	if err := checkFloat("relu", x); err != nil {
		return nil, err
	}
	return Mask(x, x)
}

// reluOf is max(v, 0) as Mask(v, v) computes it: 0 for NaN and -0.
func reluOf[T float](v T) T {
	if v > 0 {
		return v
	}
	return 0
}

// Mask returns h where key > 0 and 0 elsewhere, for key and h of one shape.
// It is linear in h and has no gradient with respect to key.
func Mask(key, h *G.Node) (*G.Node, error) {
	if err := checkFloat("mask", key, h); err != nil {
		return nil, err
	}
	if !sameShape(key.Shape(), h.Shape()) {
		return nil, fmt.Errorf("mask: key %v and value %v differ in shape", key.Shape(), h.Shape())
	}
	return apply(newMaskOp(h.Dims()), key, h)
}

// maskOp is Mask. Its key gets no gradient: DiffWRT says false there and
// SymDiff returns nil in that slot, which G.Grad and Grad both accept.
type maskOp struct {
	symbol
	dims int
}

func newMaskOp(dims int) maskOp { return maskOp{symbolf("Mask{dims=%d}", dims), dims} }

func (op maskOp) Arity() int         { return 2 }
func (op maskOp) Type() hm.Type      { return fnType(op.dims, op.dims, op.dims) }
func (op maskOp) DiffWRT(int) []bool { return []bool{false, true} }

func (op maskOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 2, ds)
	if err != nil {
		return nil, err
	}
	if !sameShape(s[0], s[1]) {
		return nil, fmt.Errorf("%v: key %v and value %v differ in shape", op, s[0], s[1])
	}
	return s[1].Clone(), nil
}

func (op maskOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 2, vs) }
func (op maskOp) do64(in []arg[float64]) (G.Value, error) { return maskDo(op, in) }
func (op maskOp) do32(in []arg[float32]) (G.Value, error) { return maskDo(op, in) }

func maskDo[T float](op maskOp, in []arg[T]) (G.Value, error) {
	key, h := in[0], in[1]
	if !sameShape(key.shape, h.shape) {
		return nil, fmt.Errorf("%v: key %v and value %v differ in shape", op, key.shape, h.shape)
	}
	out := output[T](op.bufs, len(h.data), false)
	parallelChunks(len(out), func(lo, hi int) {
		switch o := any(out[lo:hi]).(type) {
		case []float32:
			kernels.Mask(o, any(key.data[lo:hi]).([]float32), any(h.data[lo:hi]).([]float32))
		case []float64:
			kernels.Mask64(o, any(key.data[lo:hi]).([]float64), any(h.data[lo:hi]).([]float64))
		}
	})
	return result(op.bufs, h.shape, out), nil
}

func (op maskOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{false, true})
}

func (op maskOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, got %d", op, len(in))
	}
	d, err := apply(newMaskOp(op.dims), in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, d}, nil
}
