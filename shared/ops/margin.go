package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MarginLossPerExample is the Carlini-Wagner margin
// max(max_{j≠y} z_j − z_y, −kappa) for logits z and onehot [N,K]: [N]. The
// largest other logit is picked by a gated select (the choice is held
// constant under differentiation, ties go to the first class), the true
// logit by a product with onehot. kappa = +Inf gives the unclamped margin,
// which attacks ascend: with kappa 0 a correctly classified example has
// loss 0 and no gradient.
func MarginLossPerExample(logits, onehot *G.Node, kappa float64) (*G.Node, error) {
	if err := checkTargets("margin loss", logits, onehot); err != nil {
		return nil, err
	}
	if math.IsNaN(kappa) || math.IsInf(kappa, -1) {
		return nil, fmt.Errorf("margin loss: kappa %v is not finite", kappa)
	}
	other, err := apply(newRowSelectOp(false), logits, onehot, logits)
	if err != nil {
		return nil, err
	}
	zy, err := mul(onehot, logits)
	if err != nil {
		return nil, err
	}
	if zy, err = apply(newSumOp(0, 2, 1), zy); err != nil {
		return nil, err
	}
	d, err := sub(other, zy)
	if err != nil {
		return nil, err
	}
	if math.IsInf(kappa, 1) {
		return d, nil
	}
	// max(d, -κ) = relu(d + κ) - κ
	if d, err = Affine(d, 1, kappa); err != nil {
		return nil, err
	}
	if d, err = ReLU(d); err != nil {
		return nil, err
	}
	return Affine(d, 1, -kappa)
}

// MarginLoss is the batch mean of MarginLossPerExample, a scalar.
func MarginLoss(logits, onehot *G.Node, kappa float64) (*G.Node, error) {
	l, err := MarginLossPerExample(logits, onehot, kappa)
	if err != nil {
		return nil, err
	}
	return Mean(l)
}

// rowSelectOp picks, in each row of h [N,K], the entry at the column where
// key is largest among the columns that exclude leaves open (exclude ≤ 0.5):
// [N], 0 for a row with no open column. rowScatter is its adjoint, putting
// g [N] back at those columns. Neither key nor exclude gets a gradient.
type rowSelectOp struct {
	symbol
	scatter bool
}

func newRowSelectOp(scatter bool) rowSelectOp {
	if scatter {
		return rowSelectOp{symbolf("RowScatter"), true}
	}
	return rowSelectOp{symbolf("RowSelect"), false}
}

func (op rowSelectOp) Arity() int         { return 3 }
func (op rowSelectOp) DiffWRT(int) []bool { return []bool{false, false, true} }

func (op rowSelectOp) Type() hm.Type {
	if op.scatter {
		return fnType(2, 2, 2, 1)
	}
	return fnType(1, 2, 2, 2)
}

func (op rowSelectOp) check(s []tensor.Shape) (tensor.Shape, error) {
	key := s[0]
	if len(key) != 2 || !sameShape(key, s[1]) {
		return nil, fmt.Errorf("%v: key %v and exclusion %v must be one [N,K] shape", op, key, s[1])
	}
	if op.scatter {
		if !sameShape(s[2], tensor.Shape{key[0]}) {
			return nil, fmt.Errorf("%v: gradient %v, want [%d]", op, s[2], key[0])
		}
		return key.Clone(), nil
	}
	if !sameShape(s[2], key) {
		return nil, fmt.Errorf("%v: value %v and key %v differ in shape", op, s[2], key)
	}
	return tensor.Shape{key[0]}, nil
}

func (op rowSelectOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 3, ds)
	if err != nil {
		return nil, err
	}
	return op.check(s)
}

func (op rowSelectOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 3, vs) }
func (op rowSelectOp) do64(in []arg[float64]) (G.Value, error) { return rowSelectDo(op, in) }
func (op rowSelectOp) do32(in []arg[float32]) (G.Value, error) { return rowSelectDo(op, in) }

func rowSelectDo[T float](op rowSelectOp, in []arg[T]) (G.Value, error) {
	outShape, err := op.check([]tensor.Shape{in[0].shape, in[1].shape, in[2].shape})
	if err != nil {
		return nil, err
	}
	n, k := in[0].shape[0], in[0].shape[1]
	out := output[T](op.bufs, outShape.TotalSize(), true) // only the selected entries are written
	for i := 0; i < n; i++ {
		key, excl := in[0].data[i*k:(i+1)*k], in[1].data[i*k:(i+1)*k]
		at := -1
		for j, v := range key {
			if excl[j] <= 0.5 && (at < 0 || v > key[at]) {
				at = j
			}
		}
		if at < 0 {
			continue
		}
		if op.scatter {
			out[i*k+at] = in[2].data[i]
		} else {
			out[i] = in[2].data[i*k+at]
		}
	}
	return result(op.bufs, outShape, out), nil
}

func (op rowSelectOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, op.DiffWRT(3))
}

func (op rowSelectOp) symDiff(in G.Nodes, _, grad *G.Node, _ []bool) (G.Nodes, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%v: want 3 inputs, got %d", op, len(in))
	}
	d, err := apply(newRowSelectOp(!op.scatter), in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, nil, d}, nil
}
