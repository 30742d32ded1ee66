package model

import (
	"fmt"

	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
)

// forward carries the state of one Forward call: the bound parameters, the
// mode, the tap hook and the batch statistics gathered so far. Layer methods
// stop at the first error, so architectures read as straight-line code and
// check f.err once.
type forward struct {
	b     *Bound
	train bool
	tapFn Tap
	stats []BatchStat
	err   error
}

func (f *forward) param(name string) *G.Node {
	n := f.b.nodes[name]
	if n == nil && f.err == nil {
		f.err = fmt.Errorf("missing parameter %s", name)
	}
	return n
}

func (f *forward) fail(layer string, err error) *G.Node {
	if f.err == nil && err != nil {
		f.err = fmt.Errorf("%s: %w", layer, err)
	}
	return nil
}

func (f *forward) tap(name string, h *G.Node) (*G.Node, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.tapFn == nil {
		return h, nil
	}
	out, err := f.tapFn(name, h)
	if err != nil {
		f.err = fmt.Errorf("tap %s: %w", name, err)
		return nil, f.err
	}
	return out, nil
}

// tapped is tap for use inside straight-line architecture code.
func (f *forward) tapped(name string, h *G.Node) *G.Node {
	out, _ := f.tap(name, h)
	return out
}

func (f *forward) conv(name string, x *G.Node, stride, pad int, bias bool) *G.Node {
	if f.err != nil {
		return nil
	}
	y, err := ops.Conv2d(x, f.param(name+".w"), stride, pad)
	if err != nil {
		return f.fail(name, err)
	}
	if bias {
		if y, err = ops.AddChannelBias(y, f.param(name+".b")); err != nil {
			return f.fail(name, err)
		}
	}
	return y
}

func (f *forward) linear(name string, x *G.Node) *G.Node {
	if f.err != nil {
		return nil
	}
	y, err := ops.Linear(x, f.param(name+".w"), f.param(name+".b"))
	if err != nil {
		return f.fail(name, err)
	}
	return y
}

func (f *forward) relu(x *G.Node) *G.Node {
	if f.err != nil {
		return nil
	}
	y, err := ops.ReLU(x)
	if err != nil {
		return f.fail("relu", err)
	}
	return y
}

func (f *forward) maxPool(x *G.Node, k, stride int) *G.Node {
	if f.err != nil {
		return nil
	}
	y, err := ops.MaxPool2d(x, k, stride)
	if err != nil {
		return f.fail("maxpool", err)
	}
	return y
}

// convPoolReLU is maxpool2x2(relu(conv(x) + b)) computed as
// relu(maxpool2x2(conv(x)) + b): a per-channel bias and a ReLU commute with
// the max of a window, values, first and second derivatives alike (the
// window's argmax is the same wherever the gradient is not zero), and the
// bias and ReLU then touch a quarter of the elements.
func (f *forward) convPoolReLU(name string, x *G.Node, pad int) *G.Node {
	h := f.maxPool(f.conv(name, x, 1, pad, false), 2, 2)
	if f.err != nil {
		return nil
	}
	h, err := ops.AddChannelBias(h, f.param(name+".b"))
	if err != nil {
		return f.fail(name, err)
	}
	return f.relu(h)
}

func (f *forward) globalPool(x *G.Node) *G.Node {
	if f.err != nil {
		return nil
	}
	y, err := ops.GlobalAvgPool(x)
	if err != nil {
		return f.fail("global pool", err)
	}
	return y
}

func (f *forward) flatten(x *G.Node) *G.Node {
	if f.err != nil {
		return nil
	}
	y, err := ops.Flatten(x)
	if err != nil {
		return f.fail("flatten", err)
	}
	return y
}

func (f *forward) add(a, b *G.Node) *G.Node {
	if f.err != nil {
		return nil
	}
	y, err := ops.Add(a, b)
	if err != nil {
		return f.fail("residual add", err)
	}
	return y
}

func (f *forward) batchNorm(name string, x *G.Node) *G.Node {
	return f.batchNormWith(name, x, false)
}

// batchNormReLU is relu(batchNorm(name, x)) in one op, one pass over x.
func (f *forward) batchNormReLU(name string, x *G.Node) *G.Node {
	return f.batchNormWith(name, x, true)
}

func (f *forward) batchNormWith(name string, x *G.Node, relu bool) *G.Node {
	if f.err != nil {
		return nil
	}
	gamma, beta := f.param(name+".gamma"), f.param(name+".beta")
	if !f.train {
		eval := ops.BatchNormEval
		if relu {
			eval = ops.BatchNormReLUEval
		}
		y, err := eval(x, gamma, beta, f.param(name+".running_mean"), f.param(name+".running_var"), bnEps)
		if err != nil {
			return f.fail(name, err)
		}
		return y
	}
	train := ops.BatchNormTrain
	if relu {
		train = ops.BatchNormReLUTrain
	}
	y, mean, variance, err := train(x, gamma, beta, bnEps)
	if err != nil {
		return f.fail(name, err)
	}
	count := x.Shape()[0]
	for _, d := range x.Shape()[2:] {
		count *= d
	}
	f.stats = append(f.stats, BatchStat{Layer: name, Mean: mean, Var: variance, Count: count})
	return y
}

const bnEps = 1e-5

// BNMomentum is the weight of a batch's statistics in the running averages,
// as in PyTorch.
const BNMomentum = 0.1

// FoldBatchStat folds one batch-norm layer's batch statistics (mean and
// biased variance over count values per channel) into its running averages,
// using the unbiased variance as PyTorch does.
func (n *Net) FoldBatchStat(layer string, mean, variance []float64, count int) error {
	rm, rv := n.Param(layer+".running_mean"), n.Param(layer+".running_var")
	if rm == nil || rv == nil {
		return fmt.Errorf("batch norm %s: no running statistics", layer)
	}
	if len(mean) != len(rm.Data) || len(variance) != len(rv.Data) {
		return fmt.Errorf("batch norm %s: %d statistics for %d channels", layer, len(mean), len(rm.Data))
	}
	unbias := 1.0
	if count > 1 {
		unbias = float64(count) / float64(count-1)
	}
	for i := range rm.Data {
		rm.Data[i] = float32((1-BNMomentum)*float64(rm.Data[i]) + BNMomentum*mean[i])
		rv.Data[i] = float32((1-BNMomentum)*float64(rv.Data[i]) + BNMomentum*variance[i]*unbias)
	}
	return nil
}
