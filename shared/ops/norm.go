package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// unitL2Eps keeps UnitL2 finite at x_i = 0, where it gives 0.
const unitL2Eps = 1e-12

// UnitL2 scales each example of x [N,...] to unit Euclidean norm:
// x_i / (‖x_i‖₂ + 1e-12). It is differentiable any number of times; note that
// at x_i = 0 its Jacobian is I/1e-12.
func UnitL2(x *G.Node) (*G.Node, error) {
	if err := checkFloat("unit l2", x); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) < 1 || s.TotalSize() == 0 {
		return nil, fmt.Errorf("unit l2: input shape %v, want [N,...]", s)
	}
	n, err := apply(newRowNormOp(len(s)), x)
	if err != nil {
		return nil, err
	}
	inv, err := power(n, -1, unitL2Eps)
	if err != nil {
		return nil, err
	}
	if inv, err = apply(newBcastOp(0, s, 1), inv); err != nil {
		return nil, err
	}
	return mul(x, inv)
}

// rowNormOp is ‖x_i‖₂ per example: [N]. Its gradient, g_i·x_i/‖x_i‖, is
// written with UnitL2 (0 at x_i = 0 rather than NaN), so the two close
// under differentiation.
type rowNormOp struct {
	symbol
	dims int
}

func newRowNormOp(dims int) rowNormOp { return rowNormOp{symbolf("RowNorm{dims=%d}", dims), dims} }

func (op rowNormOp) Arity() int         { return 1 }
func (op rowNormOp) Type() hm.Type      { return fnType(1, op.dims) }
func (op rowNormOp) DiffWRT(int) []bool { return []bool{true} }

func (op rowNormOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	if len(s[0]) != op.dims || op.dims < 1 {
		return nil, fmt.Errorf("%v: input shape %v", op, s[0])
	}
	return tensor.Shape{s[0][0]}, nil
}

func (op rowNormOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 1, vs) }
func (op rowNormOp) do64(in []arg[float64]) (G.Value, error) { return rowNormDo(op, in[0]) }
func (op rowNormOp) do32(in []arg[float32]) (G.Value, error) { return rowNormDo(op, in[0]) }

func rowNormDo[T float](op rowNormOp, x arg[T]) (G.Value, error) {
	if len(x.shape) != op.dims || op.dims < 1 {
		return nil, fmt.Errorf("%v: input shape %v", op, x.shape)
	}
	n := x.shape[0]
	out := output[T](op.bufs, n, false)
	if n == 0 {
		return dense(tensor.Shape{0}, out), nil
	}
	d := len(x.data) / n
	for i := range out {
		var s float64
		for _, v := range x.data[i*d : (i+1)*d] {
			s += float64(v) * float64(v)
		}
		out[i] = T(math.Sqrt(s))
	}
	return result(op.bufs, tensor.Shape{n}, out), nil
}

func (op rowNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true})
}

func (op rowNormOp) symDiff(in G.Nodes, _, grad *G.Node, _ []bool) (G.Nodes, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, got %d", op, len(in))
	}
	u, err := UnitL2(in[0])
	if err != nil {
		return nil, err
	}
	gb, err := apply(newBcastOp(0, in[0].Shape(), 1), grad)
	if err != nil {
		return nil, err
	}
	d, err := mul(gb, u)
	return G.Nodes{d}, err
}
