package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A CotangentFunc writes into cot, zeroed, the gradient with respect to the
// logits z of a loss computed outside the graph, at z; both hold N rows of
// K values.
type CotangentFunc func(z, cot []float32)

// A CotangentSource holds the function a Cotangent node calls: set F
// before each run of the program.
type CotangentSource struct{ F CotangentFunc }

// Cotangent returns a node of the shape of logits [N,K] whose value, on
// each run, is what src.F writes given the logits' value, held constant
// under differentiation. The gradient of sum(logits ⊙ Cotangent(logits))
// is then the vector-Jacobian product with the cotangent of a loss computed
// outside the graph (AutoAttack's DLR loss), in the one pass that computes
// the logits: asking for the logits first and the product after costs a
// second forward pass.
func Cotangent(logits *G.Node, src *CotangentSource) (*G.Node, error) {
	if err := checkFloat("cotangent", logits); err != nil {
		return nil, err
	}
	if logits.Dims() != 2 {
		return nil, fmt.Errorf("cotangent: logits of shape %v, want [N,K]", logits.Shape())
	}
	if src == nil {
		return nil, fmt.Errorf("cotangent: no source")
	}
	// The source's address names the op: two cotangent nodes of one graph
	// compute the same function only if they share their source.
	return apply(cotangentOp{symbolf("Cotangent{%p}", src), src}, logits)
}

// cotangentOp calls its source's function on its input; its derivative is
// zero, as constOp's.
type cotangentOp struct {
	symbol
	src *CotangentSource
}

func (op cotangentOp) Arity() int         { return 1 }
func (op cotangentOp) Type() hm.Type      { return fnType(2, 2) }
func (op cotangentOp) DiffWRT(int) []bool { return []bool{false} }

func (op cotangentOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op cotangentOp) Do(vs ...G.Value) (G.Value, error) { return run(op, 1, vs) }

func (op cotangentOp) do32(in []arg[float32]) (G.Value, error) {
	if op.src.F == nil {
		return nil, fmt.Errorf("%v: no cotangent function set", op)
	}
	z := in[0]
	out := output[float32](op.bufs, len(z.data), true)
	op.src.F(z.data, out)
	return result(op.bufs, z.shape, out), nil
}

// do64 hands the function float32 copies: the float64 path is the
// reference the float32 one is checked against, not a fast path.
func (op cotangentOp) do64(in []arg[float64]) (G.Value, error) {
	if op.src.F == nil {
		return nil, fmt.Errorf("%v: no cotangent function set", op)
	}
	z := in[0]
	z32, c32 := make([]float32, len(z.data)), make([]float32, len(z.data))
	for i, v := range z.data {
		z32[i] = float32(v)
	}
	op.src.F(z32, c32)
	out := output[float64](op.bufs, len(z.data), false)
	for i, v := range c32 {
		out[i] = float64(v)
	}
	return result(op.bufs, z.shape, out), nil
}

func (op cotangentOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{nil}, nil
}

func (op cotangentOp) symDiff(in G.Nodes, _, _ *G.Node, _ []bool) (G.Nodes, error) {
	return G.Nodes{nil}, nil
}
