package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// StopGradient returns x unchanged in value but held constant under
// differentiation: the detached self-gradient of an SGN, and the
// BPDA-style attacker's view of it.
func StopGradient(x *G.Node) (*G.Node, error) {
	if err := checkFloat("stop gradient", x); err != nil {
		return nil, err
	}
	return apply(constOp{symbolf("StopGradient{dims=%d}", x.Dims()), x.Dims(), constIdentity}, x)
}

// Sign is the elementwise sign (-1, 0, 1). Its derivative is zero wherever
// it exists, and the op says so: the gradient through it is zero, not an
// error. Attacks that need a useful gradient replace it by a smooth
// surrogate.
func Sign(x *G.Node) (*G.Node, error) {
	if err := checkFloat("sign", x); err != nil {
		return nil, err
	}
	return apply(constOp{symbolf("Sign{dims=%d}", x.Dims()), x.Dims(), constSign}, x)
}

// OneHotArgmax maps logits [N,K] to the one-hot rows of their argmax (the
// first on ties): an SGN's self-label. It is piecewise constant, so its
// derivative is zero.
func OneHotArgmax(logits *G.Node) (*G.Node, error) {
	if err := checkFloat("one-hot argmax", logits); err != nil {
		return nil, err
	}
	if logits.Dims() != 2 {
		return nil, fmt.Errorf("one-hot argmax: logits of shape %v, want [N,K]", logits.Shape())
	}
	return apply(constOp{symbolf("OneHotArgmax"), 2, constOneHot}, logits)
}

// ChannelScale multiplies channel c of x [N,C,...] by alpha[c]; it is
// differentiable (to any order) in both.
func ChannelScale(x, alpha *G.Node) (*G.Node, error) {
	if err := checkFloat("channel scale", x, alpha); err != nil {
		return nil, err
	}
	if err := checkChannels(symbolf("channel scale"), x.Shape(), x.Dims(), alpha.Shape()); err != nil {
		return nil, err
	}
	return chanAffine(x, alpha, nil)
}

type constKind int

const (
	constIdentity constKind = iota
	constSign
	constOneHot
)

// constOp is a function of one input whose derivative is zero: DiffWRT says
// false and SymDiff returns nil, as for Mask's key.
type constOp struct {
	symbol
	dims int
	kind constKind
}

func (op constOp) Arity() int         { return 1 }
func (op constOp) Type() hm.Type      { return fnType(op.dims, op.dims) }
func (op constOp) DiffWRT(int) []bool { return []bool{false} }

func (op constOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	return s[0].Clone(), nil
}

func (op constOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 1, vs) }
func (op constOp) do64(in []arg[float64]) (G.Value, error) { return constDo(op, in) }
func (op constOp) do32(in []arg[float32]) (G.Value, error) { return constDo(op, in) }

func constDo[T float](op constOp, in []arg[T]) (G.Value, error) {
	x := in[0]
	// Sign and OneHot write only their non-zero elements.
	out := output[T](op.bufs, len(x.data), op.kind != constIdentity)
	switch op.kind {
	case constIdentity:
		copy(out, x.data)
	case constSign:
		for i, v := range x.data {
			switch {
			case v > 0:
				out[i] = 1
			case v < 0:
				out[i] = -1
			}
		}
	case constOneHot:
		if len(x.shape) != 2 || x.shape[1] == 0 {
			return nil, fmt.Errorf("%v: input of shape %v", op, x.shape)
		}
		k := x.shape[1]
		for r := 0; r < x.shape[0]; r++ {
			row := x.data[r*k : (r+1)*k]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			out[r*k+best] = 1
		}
	}
	return result(op.bufs, x.shape, out), nil
}

func (op constOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{nil}, nil
}

func (op constOp) symDiff(in G.Nodes, _, _ *G.Node, _ []bool) (G.Nodes, error) {
	return G.Nodes{nil}, nil
}
