package ops

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Softmax normalises each row of logits [N,K] into probabilities.
func Softmax(logits *G.Node) (*G.Node, error) {
	if err := checkLogits("softmax", logits); err != nil {
		return nil, err
	}
	return apply(newSoftmaxOp(false), logits)
}

// LogSoftmax is log(Softmax(logits)), computed stably.
func LogSoftmax(logits *G.Node) (*G.Node, error) {
	if err := checkLogits("log softmax", logits); err != nil {
		return nil, err
	}
	return apply(newSoftmaxOp(true), logits)
}

// SoftmaxCrossEntropyPerExample is -Σ_k onehot[n,k]·log softmax(logits)[n,k]
// for logits and onehot [N,K]: [N]. onehot is a node so that one graph serves
// every batch; any distribution over the classes works as well.
func SoftmaxCrossEntropyPerExample(logits, onehot *G.Node) (*G.Node, error) {
	if err := checkTargets("softmax cross entropy", logits, onehot); err != nil {
		return nil, err
	}
	ls, err := LogSoftmax(logits)
	if err != nil {
		return nil, err
	}
	p, err := mul(onehot, ls)
	if err != nil {
		return nil, err
	}
	return apply(newSumOp(0, 2, -1), p)
}

// SoftmaxCrossEntropy is the batch mean of SoftmaxCrossEntropyPerExample, a scalar.
func SoftmaxCrossEntropy(logits, onehot *G.Node) (*G.Node, error) {
	l, err := SoftmaxCrossEntropyPerExample(logits, onehot)
	if err != nil {
		return nil, err
	}
	return Mean(l)
}

func checkLogits(what string, z *G.Node) error {
	if err := checkFloat(what, z); err != nil {
		return err
	}
	if s := z.Shape(); len(s) != 2 || s[0] < 1 || s[1] < 1 {
		return fmt.Errorf("%s: logits shape %v, want [N,K]", what, s)
	}
	return nil
}

func checkTargets(what string, z, onehot *G.Node) error {
	if err := checkLogits(what, z); err != nil {
		return err
	}
	if err := checkFloat(what, onehot); err != nil {
		return err
	}
	if !sameShape(z.Shape(), onehot.Shape()) {
		return fmt.Errorf("%s: logits %v and targets %v differ in shape", what, z.Shape(), onehot.Shape())
	}
	if z.Dtype() != onehot.Dtype() {
		return fmt.Errorf("%s: logits %v and targets %v differ in dtype", what, z.Dtype(), onehot.Dtype())
	}
	return nil
}

// softmaxOp is Softmax or LogSoftmax over the rows of a matrix. Their
// gradients are made of Softmax, row sums, row broadcasts and elementwise
// products, so they close under differentiation.
type softmaxOp struct {
	symbol
	log bool
}

func newSoftmaxOp(log bool) softmaxOp {
	if log {
		return softmaxOp{symbolf("LogSoftmax"), true}
	}
	return softmaxOp{symbolf("Softmax"), false}
}

func (op softmaxOp) Arity() int         { return 1 }
func (op softmaxOp) Type() hm.Type      { return fnType(2, 2) }
func (op softmaxOp) DiffWRT(int) []bool { return []bool{true} }

func (op softmaxOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	if len(s[0]) != 2 {
		return nil, fmt.Errorf("%v: input shape %v, want [N,K]", op, s[0])
	}
	return s[0].Clone(), nil
}

func (op softmaxOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 1, vs) }
func (op softmaxOp) do64(in []arg[float64]) (G.Value, error) { return softmaxDo(op, in[0]) }
func (op softmaxOp) do32(in []arg[float32]) (G.Value, error) { return softmaxDo(op, in[0]) }

func softmaxDo[T float](op softmaxOp, z arg[T]) (G.Value, error) {
	if len(z.shape) != 2 {
		return nil, fmt.Errorf("%v: input shape %v, want [N,K]", op, z.shape)
	}
	n, k := z.shape[0], z.shape[1]
	out := output[T](op.bufs, n*k, false)
	for i := 0; i < n; i++ {
		row, dst := z.data[i*k:(i+1)*k], out[i*k:(i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		if op.log {
			shift := m + math.Log(s)
			for j, v := range row {
				dst[j] = T(float64(v) - shift)
			}
			continue
		}
		for j, v := range row {
			dst[j] = T(math.Exp(float64(v)-m) / s)
		}
	}
	return result(op.bufs, z.shape, out), nil
}

func (op softmaxOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true})
}

// symDiff: for s = softmax(z), dz = s ⊙ (g - rowsum(g ⊙ s));
// for l = log softmax(z), dz = g - softmax(z) ⊙ rowsum(g).
func (op softmaxOp) symDiff(in G.Nodes, out, grad *G.Node, _ []bool) (G.Nodes, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, got %d", op, len(in))
	}
	z := in[0]
	s := out
	weighted := grad
	if op.log {
		var err error
		if s, err = apply(newSoftmaxOp(false), z); err != nil {
			return nil, err
		}
	} else {
		var err error
		if weighted, err = mul(grad, s); err != nil {
			return nil, err
		}
	}
	rs, err := apply(newSumOp(0, 2, 1), weighted)
	if err != nil {
		return nil, err
	}
	rb, err := apply(newBcastOp(0, z.Shape(), 1), rs)
	if err != nil {
		return nil, err
	}
	var d *G.Node
	if op.log {
		sr, err := mul(s, rb)
		if err != nil {
			return nil, err
		}
		d, err = sub(grad, sr)
		if err != nil {
			return nil, err
		}
	} else {
		gr, err := sub(grad, rb)
		if err != nil {
			return nil, err
		}
		if d, err = mul(s, gr); err != nil {
			return nil, err
		}
	}
	return G.Nodes{d}, nil
}
