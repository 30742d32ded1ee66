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
	out := output[T](op.bufs, len(x.data), false)
	a, b := T(op.a), T(op.b)
	parallelChunks(len(out), func(lo, hi int) {
		out, in := out[lo:hi], x.data[lo:hi]
		switch {
		case op.kind == unaryAffine:
			for i, v := range in {
				out[i] = a*v + b
			}
		case op.a == 1:
			for i, v := range in {
				out[i] = v + b
			}
		case op.a == -1:
			for i, v := range in {
				out[i] = 1 / (v + b)
			}
		case op.a == -0.5:
			for i, v := range in {
				out[i] = T(1 / math.Sqrt(float64(v+b)))
			}
		default:
			for i, v := range in {
				out[i] = T(math.Pow(float64(v+b), op.a))
			}
		}
	})
	return result(op.bufs, x.shape, out), nil
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

type binaryKind int

const (
	binaryAdd binaryKind = iota
	binarySub
	binaryMul
)

// binaryOp is a+b, a-b or a⊙b for two tensors of one shape, on both cores.
// Gorgonia's own arithmetic runs on one goroutine and copies its first
// operand; batch norm's graph is mostly these. The derivatives are again
// binaryOps and Affine, so the op closes under differentiation.
type binaryOp struct {
	symbol
	kind binaryKind
	dims int
}

var binaryNames = [...]string{binaryAdd: "Add", binarySub: "Sub", binaryMul: "Mul"}

func newBinaryOp(k binaryKind, dims int) binaryOp {
	return binaryOp{symbolf("%s{dims=%d}", binaryNames[k], dims), k, dims}
}

func (op binaryOp) Arity() int         { return 2 }
func (op binaryOp) Type() hm.Type      { return fnType(op.dims, op.dims, op.dims) }
func (op binaryOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op binaryOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 2, ds)
	if err != nil {
		return nil, err
	}
	if len(s[0]) != op.dims || !sameShape(s[0], s[1]) {
		return nil, fmt.Errorf("%v: input shapes %v and %v", op, s[0], s[1])
	}
	return s[0].Clone(), nil
}

func (op binaryOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 2, vs) }
func (op binaryOp) do64(in []arg[float64]) (G.Value, error) { return binaryDo(op, in[0], in[1]) }
func (op binaryOp) do32(in []arg[float32]) (G.Value, error) { return binaryDo(op, in[0], in[1]) }

func binaryDo[T float](op binaryOp, a, b arg[T]) (G.Value, error) {
	if !sameShape(a.shape, b.shape) || len(a.data) != len(b.data) {
		return nil, fmt.Errorf("%v: input shapes %v and %v", op, a.shape, b.shape)
	}
	out := output[T](op.bufs, len(a.data), false)
	parallelChunks(len(out), func(lo, hi int) {
		o, x, y := out[lo:hi], a.data[lo:hi], b.data[lo:hi]
		switch op.kind {
		case binaryAdd:
			for i, v := range x {
				o[i] = v + y[i]
			}
		case binarySub:
			for i, v := range x {
				o[i] = v - y[i]
			}
		case binaryMul:
			for i, v := range x {
				o[i] = v * y[i]
			}
		}
	})
	return result(op.bufs, a.shape, out), nil
}

func (op binaryOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true, true})
}

// Only the gradients needed are built (the tape machine runs every node).
func (op binaryOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 2 || len(need) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, got %d", op, len(in))
	}
	d := make(G.Nodes, 2)
	var err error
	switch op.kind {
	case binaryAdd:
		d[0], d[1] = grad, grad
	case binarySub:
		d[0] = grad
		if need[1] {
			d[1], err = apply(newUnaryOp(unaryAffine, op.dims, -1, 0), grad)
		}
	case binaryMul:
		for j, other := range []*G.Node{in[1], in[0]} {
			if need[j] && err == nil {
				d[j], err = mul(grad, other)
			}
		}
	}
	return d, err
}
