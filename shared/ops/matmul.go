package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMul is op(a)·op(b) for matrices, where op transposes a when ta is set
// and b when tb is set.
func MatMul(a, b *G.Node, ta, tb bool) (*G.Node, error) {
	if err := checkFloat("matmul", a, b); err != nil {
		return nil, err
	}
	op := newMatMulOp(ta, tb)
	if _, _, _, err := op.dims(a.Shape(), b.Shape()); err != nil {
		return nil, err
	}
	return apply(op, a, b)
}

// matMulOp is op(a)·op(b). The gradient of each input is again a matMulOp
// of the other input and the output gradient, with transposes chosen so
// that no transposed copy is ever made.
type matMulOp struct {
	symbol
	ta, tb bool
}

func newMatMulOp(ta, tb bool) matMulOp {
	return matMulOp{symbolf("MatMul{ta=%v,tb=%v}", ta, tb), ta, tb}
}

// dims checks the shapes and returns m, n, k of op(a) [m,k] · op(b) [k,n].
func (op matMulOp) dims(a, b tensor.Shape) (m, n, k int, err error) {
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, fmt.Errorf("%v: shapes %v and %v, want matrices", op, a, b)
	}
	m, k = a[0], a[1]
	if op.ta {
		m, k = k, m
	}
	kb, n := b[0], b[1]
	if op.tb {
		kb, n = n, kb
	}
	if k != kb {
		return 0, 0, 0, fmt.Errorf("%v: shapes %v and %v do not multiply", op, a, b)
	}
	return m, n, k, nil
}

func (op matMulOp) Arity() int         { return 2 }
func (op matMulOp) Type() hm.Type      { return fnType(2, 2, 2) }
func (op matMulOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op matMulOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 2, ds)
	if err != nil {
		return nil, err
	}
	m, n, _, err := op.dims(s[0], s[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{m, n}, nil
}

func (op matMulOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 2, vs) }
func (op matMulOp) do64(in []arg[float64]) (G.Value, error) { return matMulDo(op, in) }
func (op matMulOp) do32(in []arg[float32]) (G.Value, error) { return matMulDo(op, in) }

func matMulDo[T float](op matMulOp, in []arg[T]) (G.Value, error) {
	a, b := in[0], in[1]
	m, n, k, err := op.dims(a.shape, b.shape)
	if err != nil {
		return nil, err
	}
	c := output[T](op.bufs, m*n, false) // beta 0 writes every element
	if b32, ok := any(b.data).([]float32); ok {
		if w, pack, commit := op.bufs.wholeB(b32, b.shape[1], op.tb, k, n); w != nil {
			parallelGemmWholeB(op.bufs, w, pack, op.ta, op.tb, m, n, k, any(a.data).([]float32), a.shape[1], b32, b.shape[1], any(c).([]float32), n)
			if commit != nil {
				commit()
			}
			return result(op.bufs, tensor.Shape{m, n}, c), nil
		}
	}
	parallelGemm(op.bufs, op.ta, op.tb, m, n, k, a.data, a.shape[1], b.data, b.shape[1], 0, c, n)
	return result(op.bufs, tensor.Shape{m, n}, c), nil
}

func (op matMulOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true, true})
}

// symDiff, for c = op(a)·op(b) and gradient g:
//
//	∂a = g·op(b)ᵀ, or op(b)·gᵀ when a is transposed;
//	∂b = op(a)ᵀ·g, or gᵀ·op(a) when b is transposed.
func (op matMulOp) symDiff(in G.Nodes, _, grad *G.Node, need []bool) (G.Nodes, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: want 2 inputs, got %d", op, len(in))
	}
	a, b := in[0], in[1]
	res := make(G.Nodes, 2)
	var err error
	if need[0] {
		if op.ta {
			res[0], err = apply(newMatMulOp(op.tb, true), b, grad)
		} else {
			res[0], err = apply(newMatMulOp(false, !op.tb), grad, b)
		}
		if err != nil {
			return nil, err
		}
	}
	if need[1] {
		if op.tb {
			res[1], err = apply(newMatMulOp(true, op.ta), grad, a)
		} else {
			res[1], err = apply(newMatMulOp(!op.ta, false), a, grad)
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}
