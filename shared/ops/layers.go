package ops

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear is x·w + b for x [N,In], w [In,Out] and b [Out] (b may be nil):
// [N,Out].
func Linear(x, w, b *G.Node) (*G.Node, error) {
	if err := checkFloat("linear", x, w); err != nil {
		return nil, err
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] {
		return nil, fmt.Errorf("linear: input %v and weights %v do not multiply, want [N,In] and [In,Out]", xs, ws)
	}
	y, err := MatMul(x, w, false, false)
	if err != nil {
		return nil, fmt.Errorf("linear: %w", err)
	}
	if b == nil {
		return y, nil
	}
	if err := checkFloat("linear", b); err != nil {
		return nil, err
	}
	if !sameShape(b.Shape(), tensor.Shape{ws[1]}) {
		return nil, fmt.Errorf("linear: bias %v, want [%d]", b.Shape(), ws[1])
	}
	return AddChannelBias(y, b)
}

// Flatten reshapes x [N,...] to [N, product of the rest]; a matrix is
// returned as it is.
func Flatten(x *G.Node) (*G.Node, error) {
	if err := checkFloat("flatten", x); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) < 2 {
		return nil, fmt.Errorf("flatten: input shape %v, want [N,...]", s)
	}
	if len(s) == 2 {
		return x, nil
	}
	if s[0] == 0 {
		return nil, fmt.Errorf("flatten: empty batch in shape %v", s)
	}
	return reshape(x, tensor.Shape{s[0], s.TotalSize() / s[0]})
}

// BatchNormTrain normalises x [N,C,H,W] or [N,C] per channel with the batch
// statistics, then scales by gamma [C] and shifts by beta [C]:
// y = (x-mean)/sqrt(variance+eps)·gamma + beta. It also returns the batch
// mean and the biased batch variance [C], so that the caller can read them
// after a run and update its running statistics. Everything is built from
// ops differentiable to any order.
func BatchNormTrain(x, gamma, beta *G.Node, eps float64) (y, mean, variance *G.Node, err error) {
	return batchNormTrain(x, gamma, beta, eps, false)
}

// BatchNormReLUTrain is ReLU(BatchNormTrain(x, gamma, beta, eps)), the same
// values and derivatives of every order in one pass over x where the two
// take two: a pre-activation block spends about a tenth of its step in
// such passes.
func BatchNormReLUTrain(x, gamma, beta *G.Node, eps float64) (y, mean, variance *G.Node, err error) {
	return batchNormTrain(x, gamma, beta, eps, true)
}

func batchNormTrain(x, gamma, beta *G.Node, eps float64, relu bool) (y, mean, variance *G.Node, err error) {
	s, err := checkBatchNorm(x, gamma, beta, eps)
	if err != nil {
		return nil, nil, nil, err
	}
	if mean, err = ChannelMean(x); err != nil {
		return nil, nil, nil, err
	}
	if variance, err = chanVar(x, mean, float64(s[1])/float64(s.TotalSize())); err != nil {
		return nil, nil, nil, err
	}
	if y, err = apply(newBNTrainOp(len(s), eps, relu), x, mean, variance, gamma, beta); err != nil {
		return nil, nil, nil, err
	}
	return y, mean, variance, nil
}

// BatchNormEval normalises x [N,C,H,W] or [N,C] with running statistics
// runMean and runVar [C]: y = (x-runMean)/sqrt(runVar+eps)·gamma + beta.
func BatchNormEval(x, gamma, beta, runMean, runVar *G.Node, eps float64) (*G.Node, error) {
	return batchNormEval(x, gamma, beta, runMean, runVar, eps, false)
}

// BatchNormReLUEval is ReLU(BatchNormEval(x, gamma, beta, runMean, runVar,
// eps)) in one pass over x.
func BatchNormReLUEval(x, gamma, beta, runMean, runVar *G.Node, eps float64) (*G.Node, error) {
	return batchNormEval(x, gamma, beta, runMean, runVar, eps, true)
}

func batchNormEval(x, gamma, beta, runMean, runVar *G.Node, eps float64, relu bool) (*G.Node, error) {
	if _, err := checkBatchNorm(x, gamma, beta, eps); err != nil {
		return nil, err
	}
	if err := checkFloat("batch norm", runMean, runVar); err != nil {
		return nil, err
	}
	c := tensor.Shape{x.Shape()[1]}
	if !sameShape(runMean.Shape(), c) || !sameShape(runVar.Shape(), c) {
		return nil, fmt.Errorf("batch norm: running mean %v and variance %v, want %v", runMean.Shape(), runVar.Shape(), c)
	}
	inv, err := power(runVar, -0.5, eps)
	if err != nil {
		return nil, err
	}
	scale, err := mul(inv, gamma)
	if err != nil {
		return nil, err
	}
	ms, err := mul(runMean, scale)
	if err != nil {
		return nil, err
	}
	shift, err := sub(beta, ms)
	if err != nil {
		return nil, err
	}
	if relu {
		return apply(newChanAffineReLUOp(x.Dims()), x, scale, shift)
	}
	return chanAffine(x, scale, shift)
}

func checkBatchNorm(x, gamma, beta *G.Node, eps float64) (tensor.Shape, error) {
	if err := checkFloat("batch norm", x, gamma, beta); err != nil {
		return nil, err
	}
	s := x.Shape()
	if (len(s) != 2 && len(s) != 4) || s.TotalSize() == 0 {
		return nil, fmt.Errorf("batch norm: input shape %v, want [N,C,H,W] or [N,C]", s)
	}
	c := tensor.Shape{s[1]}
	if !sameShape(gamma.Shape(), c) || !sameShape(beta.Shape(), c) {
		return nil, fmt.Errorf("batch norm: scale %v and shift %v, want %v for input %v", gamma.Shape(), beta.Shape(), c, s)
	}
	if !(eps > 0) {
		return nil, fmt.Errorf("batch norm: eps %v, want > 0", eps)
	}
	return s, nil
}
