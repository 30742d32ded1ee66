package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Affine is a·x + b elementwise, for constants a and b.
func Affine(x *G.Node, a, b float64) (*G.Node, error) {
	if err := checkFloat("affine", x); err != nil {
		return nil, err
	}
	return apply(newUnaryOp(unaryAffine, x.Dims(), a, b), x)
}

// power is (x + eps)^p elementwise.
func power(x *G.Node, p, eps float64) (*G.Node, error) {
	return apply(newUnaryOp(unaryPow, x.Dims(), p, eps), x)
}

type unaryKind int

const (
	unaryAffine unaryKind = iota // a·x + b
	unaryPow                     // (x + b)^a
)

// unaryOp is an elementwise function with two constant parameters. Both
// kinds differentiate into themselves and an elementwise product, which is
// what makes batch norm and UnitL2 differentiable to any order without
// Gorgonia's InverseSqrt, whose gradient is wrong in v0.9.18.
type unaryOp struct {
	symbol
	kind unaryKind
	dims int
	a, b float64
}

func newUnaryOp(k unaryKind, dims int, a, b float64) unaryOp {
	name := "Affine{a=%v,b=%v,dims=%d}"
	if k == unaryPow {
		name = "Pow{p=%v,eps=%v,dims=%d}"
	}
	return unaryOp{symbolf(name, a, b, dims), k, dims, a, b}
}

func (op unaryOp) Arity() int         { return 1 }
func (op unaryOp) Type() hm.Type      { return fnType(op.dims, op.dims) }
func (op unaryOp) DiffWRT(int) []bool { return []bool{true} }

func (op unaryOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	if len(s[0]) != op.dims {
		return nil, fmt.Errorf("%v: input shape %v", op, s[0])
	}
	return s[0].Clone(), nil
}

func (op unaryOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 1, vs) }
func (op unaryOp) do64(in []arg[float64]) (G.Value, error) { return unaryDo(op, in[0]) }
func (op unaryOp) do32(in []arg[float32]) (G.Value, error) { return unaryDo(op, in[0]) }

func unaryDo[T float](op unaryOp, x arg[T]) (G.Value, error) {
	out := make([]T, len(x.data))
	a, b := T(op.a), T(op.b)
	switch {
	case op.kind == unaryAffine:
		for i, v := range x.data {
			out[i] = a*v + b
		}
	case op.a == 1:
		for i, v := range x.data {
			out[i] = v + b
		}
	case op.a == -1:
		for i, v := range x.data {
			out[i] = 1 / (v + b)
		}
	case op.a == -0.5:
		for i, v := range x.data {
			out[i] = T(1 / math.Sqrt(float64(v+b)))
		}
	default:
		for i, v := range x.data {
			out[i] = T(math.Pow(float64(v+b), op.a))
		}
	}
	return dense(x.shape, out), nil
}

func (op unaryOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true})
}

func (op unaryOp) symDiff(in G.Nodes, _, grad *G.Node, _ []bool) (G.Nodes, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, got %d", op, len(in))
	}
	// affine: a·g;  pow: g ⊙ a·(x+b)^(a-1)
	if op.kind == unaryAffine {
		d, err := apply(newUnaryOp(unaryAffine, op.dims, op.a, 0), grad)
		return G.Nodes{d}, err
	}
	dp, err := apply(newUnaryOp(unaryPow, op.dims, op.a-1, op.b), in[0])
	if err != nil {
		return nil, err
	}
	if dp, err = apply(newUnaryOp(unaryAffine, op.dims, op.a, 0), dp); err != nil {
		return nil, err
	}
	d, err := mul(grad, dp)
	return G.Nodes{d}, err
}
