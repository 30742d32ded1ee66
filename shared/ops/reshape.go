package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reshape gives x the shape to (same number of elements) in a new buffer.
// Gorgonia's Reshape returns a view of its input, which a following in-place
// op of the tape machine then overwrites, corrupting the input.
func reshape(x *G.Node, to tensor.Shape) (*G.Node, error) {
	from := x.Shape()
	if from.TotalSize() != to.TotalSize() {
		return nil, fmt.Errorf("reshape: %v and %v differ in size", from, to)
	}
	return apply(newReshapeOp(from, to), x)
}

// reshapeOp copies its input into another shape; its adjoint is the reverse
// reshape.
type reshapeOp struct {
	symbol
	from, to tensor.Shape
}

func newReshapeOp(from, to tensor.Shape) reshapeOp {
	return reshapeOp{symbolf("Reshape{from=%v,to=%v}", []int(from), []int(to)), from.Clone(), to.Clone()}
}

func (op reshapeOp) Arity() int         { return 1 }
func (op reshapeOp) Type() hm.Type      { return fnType(len(op.to), len(op.from)) }
func (op reshapeOp) DiffWRT(int) []bool { return []bool{true} }

func (op reshapeOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	if !sameShape(s[0], op.from) {
		return nil, fmt.Errorf("%v: input shape %v", op, s[0])
	}
	return op.to.Clone(), nil
}

func (op reshapeOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 1, vs) }
func (op reshapeOp) do64(in []arg[float64]) (G.Value, error) { return reshapeDo(op, in[0]) }
func (op reshapeOp) do32(in []arg[float32]) (G.Value, error) { return reshapeDo(op, in[0]) }

func reshapeDo[T float](op reshapeOp, x arg[T]) (G.Value, error) {
	if !sameShape(x.shape, op.from) {
		return nil, fmt.Errorf("%v: input shape %v", op, x.shape)
	}
	out := output[T](op.bufs, len(x.data), false)
	copy(out, x.data)
	return result(op.bufs, op.to, out), nil
}

func (op reshapeOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true})
}

func (op reshapeOp) symDiff(in G.Nodes, _, grad *G.Node, _ []bool) (G.Nodes, error) {
	d, err := apply(newReshapeOp(op.to, op.from), grad)
	return G.Nodes{d}, err
}
