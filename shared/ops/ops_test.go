package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func in(name string, gen func(*rand.Rand, int) []float64, diff bool, shape ...int) input {
	return input{name: name, shape: tensor.Shape(shape), gen: gen, diff: diff}
}

func TestConvDerivatives(t *testing.T) {
	conv := func(stride, pad int) func([]*G.Node) (*G.Node, error) {
		return func(n []*G.Node) (*G.Node, error) { return Conv2d(n[0], n[1], stride, pad) }
	}
	runCases(t, []diffCase{
		{name: "3x3 stride 1 pad 0", inputs: []input{in("x", normal, true, 2, 2, 5, 5), in("w", normal, true, 3, 2, 3, 3)}, build: conv(1, 0)},
		{name: "3x3 stride 2 pad 1", inputs: []input{in("x", normal, true, 2, 2, 5, 5), in("w", normal, true, 3, 2, 3, 3)}, build: conv(2, 1)},
		{name: "3x3 stride 2 pad 0 drops a row", inputs: []input{in("x", normal, true, 1, 2, 6, 6), in("w", normal, true, 2, 2, 3, 3)}, build: conv(2, 0)},
		{name: "2x3 stride 1 pad 2", inputs: []input{in("x", normal, true, 2, 1, 4, 5), in("w", normal, true, 2, 1, 2, 3)}, build: conv(1, 2)},
		{name: "1x1 direct", inputs: []input{in("x", normal, true, 3, 3, 2, 3), in("w", normal, true, 2, 3, 1, 1)}, build: conv(1, 0)},
		{name: "back data stride 2 pad 1", inputs: []input{in("gy", normal, true, 2, 3, 3, 3), in("w", normal, true, 3, 2, 3, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return convData(n[0], n[1], 2, 1, tensor.Shape{2, 2, 6, 6}) }},
		{name: "back filter stride 2 pad 1", inputs: []input{in("x", normal, true, 2, 2, 6, 6), in("gy", normal, true, 2, 3, 3, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return convFilter(n[0], n[1], 2, 1, tensor.Shape{3, 2, 3, 3}) }},
	})
}

func TestPiecewiseLinearDerivatives(t *testing.T) {
	pool := func(max bool, k, s int) func([]*G.Node) (*G.Node, error) {
		return func(n []*G.Node) (*G.Node, error) {
			if max {
				return MaxPool2d(n[0], k, s)
			}
			return AvgPool2d(n[0], k, s)
		}
	}
	// a smooth factor in front makes the second derivative of a linear or
	// piecewise-linear op non-trivial: f = op(x)·y
	times := func(op func([]*G.Node) (*G.Node, error)) func([]*G.Node) (*G.Node, error) {
		return func(n []*G.Node) (*G.Node, error) {
			y, err := op(n[:1])
			if err != nil {
				return nil, err
			}
			return mul(y, n[1])
		}
	}
	p := func(m poolMode, k, s int) poolOp { return newPoolOp(m, poolParams{kh: k, kw: k, sh: s, sw: s}) }
	runCases(t, []diffCase{
		{name: "relu", inputs: []input{in("x", awayFromZero, true, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return ReLU(n[0]) }},
		{name: "relu times y", inputs: []input{in("x", awayFromZero, true, 2, 3, 2, 2), in("y", normal, true, 2, 3, 2, 2)},
			build: times(func(n []*G.Node) (*G.Node, error) { return ReLU(n[0]) })},
		{name: "mask key no gradient", inputs: []input{in("key", awayFromZero, false, 3, 4), in("h", normal, true, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return Mask(n[0], n[1]) }},
		{name: "maxpool 2 stride 2", inputs: []input{in("x", distinct, true, 2, 2, 4, 4)}, build: pool(true, 2, 2)},
		{name: "maxpool 3 stride 2 overlapping", inputs: []input{in("x", distinct, true, 2, 2, 7, 7), in("y", normal, true, 2, 2, 3, 3)},
			build: times(pool(true, 3, 2))},
		{name: "maxpool 3 stride 1 times y", inputs: []input{in("x", distinct, true, 1, 2, 5, 5), in("y", normal, true, 1, 2, 3, 3)},
			build: times(pool(true, 3, 1))},
		{name: "pool select", inputs: []input{in("key", distinct, false, 2, 1, 5, 5), in("h", normal, true, 2, 1, 5, 5)},
			build: func(n []*G.Node) (*G.Node, error) { return apply(p(poolSelect, 3, 2), n[0], n[1]) }},
		{name: "pool scatter", inputs: []input{in("key", distinct, false, 2, 1, 5, 5), in("g", normal, true, 2, 1, 2, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return apply(p(poolScatter, 3, 2), n[0], n[1]) }},
		{name: "avgpool 2 stride 2 odd input", inputs: []input{in("x", normal, true, 2, 2, 5, 5), in("y", normal, true, 2, 2, 2, 2)},
			build: times(pool(false, 2, 2))},
		{name: "avgpool 3 stride 2 overlapping", inputs: []input{in("x", normal, true, 2, 2, 7, 7), in("y", normal, true, 2, 2, 3, 3)},
			build: times(pool(false, 3, 2))},
		{name: "avgpool adjoint", inputs: []input{in("g", normal, true, 2, 2, 3, 3)},
			build: func(n []*G.Node) (*G.Node, error) {
				q := poolParams{kh: 3, kw: 3, sh: 2, sw: 2, h: 7, w: 8}
				return apply(newPoolOp(poolAvgAdj, q), n[0])
			}},
		{name: "global avgpool times y", inputs: []input{in("x", normal, true, 2, 3, 3, 4), in("y", normal, true, 2, 3)},
			build: times(func(n []*G.Node) (*G.Node, error) { return GlobalAvgPool(n[0]) })},
	})
}

func TestReductionDerivatives(t *testing.T) {
	runCases(t, []diffCase{
		{name: "channel mean 4d", inputs: []input{in("x", normal, true, 2, 3, 2, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return ChannelMean(n[0]) }},
		{name: "channel mean 2d", inputs: []input{in("x", normal, true, 4, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return ChannelMean(n[0]) }},
		{name: "channel broadcast", inputs: []input{in("v", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return ChannelBroadcast(n[0], tensor.Shape{2, 3, 2, 2}) }},
		{name: "add channel bias", inputs: []input{in("x", normal, true, 2, 3, 2, 2), in("b", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return AddChannelBias(n[0], n[1]) }},
		{name: "channel affine", inputs: []input{in("x", normal, true, 2, 3, 2, 2), in("a", normal, true, 3), in("b", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return chanAffine(n[0], n[1], n[2]) }},
		{name: "channel affine squared, 2d", inputs: []input{in("x", normal, true, 4, 3), in("a", normal, true, 3), in("b", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) {
				y, err := chanAffine(n[0], n[1], n[2])
				if err != nil {
					return nil, err
				}
				return mul(y, y)
			}},
		{name: "channel scale times x", inputs: []input{in("x", normal, true, 2, 3, 2, 2), in("a", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) {
				y, err := ChannelScale(n[0], n[1])
				if err != nil {
					return nil, err
				}
				return mul(y, n[0])
			}},
		{name: "channel dot", inputs: []input{in("u", normal, true, 2, 3, 2, 2), in("v", normal, true, 2, 3, 2, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return chanDot(n[0], n[1], 0.5) }},
		{name: "add squared", inputs: []input{in("a", normal, true, 2, 3, 2), in("b", normal, true, 2, 3, 2)},
			build: func(n []*G.Node) (*G.Node, error) {
				y, err := Add(n[0], n[1])
				if err != nil {
					return nil, err
				}
				return mul(y, n[0])
			}},
		{name: "mul, same input", inputs: []input{in("x", normal, true, 2, 3, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return Mul(n[0], n[0]) }},
		{name: "channel variance", inputs: []input{in("x", normal, true, 2, 3, 2, 2), in("m", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return chanVar(n[0], n[1], 0.125) }},
		{name: "channel combine squared", inputs: []input{in("u", normal, true, 2, 3, 2), in("v", normal, true, 2, 3, 2),
			in("a", normal, true, 3), in("b", normal, true, 3), in("k", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) {
				y, err := chanCombine(n[0], n[1], n[2], n[3], n[4])
				if err != nil {
					return nil, err
				}
				return mul(y, y)
			}},
		{name: "channel dot squared, same input", inputs: []input{in("x", normal, true, 3, 2, 5)},
			build: func(n []*G.Node) (*G.Node, error) {
				d, err := chanDot(n[0], n[0], 1)
				if err != nil {
					return nil, err
				}
				return mul(d, d)
			}},
		{name: "sum per example squared", inputs: []input{in("x", normal, true, 3, 2, 2)},
			build: func(n []*G.Node) (*G.Node, error) {
				s, err := SumPerExample(n[0])
				if err != nil {
					return nil, err
				}
				return mul(s, s)
			}},
		{name: "mean squared", inputs: []input{in("x", normal, true, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) {
				m, err := Mean(n[0])
				if err != nil {
					return nil, err
				}
				return mul(m, m)
			}},
		{name: "affine times x", inputs: []input{in("x", normal, true, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) {
				a, err := Affine(n[0], -1.5, 0.25)
				if err != nil {
					return nil, err
				}
				return mul(a, n[0])
			}},
		{name: "pow -0.5", inputs: []input{in("x", positive, true, 5)},
			build: func(n []*G.Node) (*G.Node, error) { return power(n[0], -0.5, 1e-3) }},
		{name: "pow -1", inputs: []input{in("x", positive, true, 2, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return power(n[0], -1, 0.1) }},
		{name: "pow 2.5", inputs: []input{in("x", positive, true, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return power(n[0], 2.5, 0) }},
	})
}

func TestLayerDerivatives(t *testing.T) {
	bn := func(n []*G.Node) (*G.Node, error) {
		y, _, _, err := BatchNormTrain(n[0], n[1], n[2], 1e-3)
		return y, err
	}
	runCases(t, []diffCase{
		{name: "linear", inputs: []input{in("x", normal, true, 3, 4), in("w", normal, true, 4, 2), in("b", normal, true, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return Linear(n[0], n[1], n[2]) }},
		{name: "linear no bias", inputs: []input{in("x", normal, true, 3, 4), in("w", normal, true, 4, 2)},
			build: func(n []*G.Node) (*G.Node, error) { return Linear(n[0], n[1], nil) }},
		{name: "flatten times y", inputs: []input{in("x", normal, true, 2, 2, 1, 3), in("y", normal, true, 2, 6)},
			build: func(n []*G.Node) (*G.Node, error) {
				f, err := Flatten(n[0])
				if err != nil {
					return nil, err
				}
				return mul(f, n[1])
			}},
		{name: "batch norm train 4d", inputs: []input{in("x", normal, true, 3, 2, 2, 2), in("gamma", positive, true, 2), in("beta", normal, true, 2)}, build: bn},
		{name: "batch norm train 2d", inputs: []input{in("x", normal, true, 4, 3), in("gamma", positive, true, 3), in("beta", normal, true, 3)}, build: bn},
		{name: "batch norm train variance", inputs: []input{in("x", normal, true, 3, 2, 2, 2), in("gamma", positive, false, 2), in("beta", normal, false, 2)},
			build: func(n []*G.Node) (*G.Node, error) {
				_, _, v, err := BatchNormTrain(n[0], n[1], n[2], 1e-3)
				return v, err
			}},
		{name: "batch norm eval", inputs: []input{in("x", normal, true, 2, 3, 2, 2), in("gamma", positive, true, 3), in("beta", normal, true, 3),
			in("mean", normal, true, 3), in("var", positive, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return BatchNormEval(n[0], n[1], n[2], n[3], n[4], 1e-3) }},
		// The fused ReLU, times y so that the second derivative is not
		// zero; the values of these seeds stay clear of the kink.
		{name: "batch norm relu train times y", inputs: []input{in("x", normal, true, 3, 2, 2, 2), in("gamma", positive, true, 2), in("beta", normal, true, 2),
			in("y", normal, true, 3, 2, 2, 2)},
			build: func(n []*G.Node) (*G.Node, error) {
				h, _, _, err := BatchNormReLUTrain(n[0], n[1], n[2], 1e-3)
				if err != nil {
					return nil, err
				}
				return mul(h, n[3])
			}},
		{name: "batch norm relu eval times y", inputs: []input{in("x", normal, true, 2, 3, 2, 2), in("gamma", positive, true, 3), in("beta", normal, true, 3),
			in("mean", normal, true, 3), in("var", positive, true, 3), in("y", normal, true, 2, 3, 2, 2)},
			build: func(n []*G.Node) (*G.Node, error) {
				h, err := BatchNormReLUEval(n[0], n[1], n[2], n[3], n[4], 1e-3)
				if err != nil {
					return nil, err
				}
				return mul(h, n[5])
			}},
	})
}

func TestLossDerivatives(t *testing.T) {
	targets := func(f func(z, y *G.Node) (*G.Node, error)) func([]*G.Node) (*G.Node, error) {
		return func(n []*G.Node) (*G.Node, error) { return f(n[0], n[1]) }
	}
	margin := func(kappa float64, mean bool) func(z, y *G.Node) (*G.Node, error) {
		return func(z, y *G.Node) (*G.Node, error) {
			if mean {
				return MarginLoss(z, y, kappa)
			}
			return MarginLossPerExample(z, y, kappa)
		}
	}
	zy := []input{in("z", distinct, true, 4, 5), in("y", oneHot(5), false, 4, 5)}
	runCases(t, []diffCase{
		{name: "softmax", inputs: []input{in("z", normal, true, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return Softmax(n[0]) }},
		{name: "log softmax", inputs: []input{in("z", normal, true, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return LogSoftmax(n[0]) }},
		{name: "cross entropy", inputs: []input{in("z", normal, true, 3, 4), in("y", oneHot(4), false, 3, 4)}, build: targets(SoftmaxCrossEntropy)},
		{name: "cross entropy per example", inputs: []input{in("z", normal, true, 3, 4), in("y", oneHot(4), false, 3, 4)}, build: targets(SoftmaxCrossEntropyPerExample)},
		{name: "cross entropy soft targets", inputs: []input{in("z", normal, true, 3, 4), in("y", positive, true, 3, 4)}, build: targets(SoftmaxCrossEntropy)},
		{name: "margin kappa 0", inputs: zy, build: targets(margin(0, true))},
		{name: "margin kappa 0.25 per example", inputs: zy, build: targets(margin(0.25, false))},
		{name: "margin unclamped (kappa +Inf) per example", inputs: zy, build: targets(margin(math.Inf(1), false))},
		{name: "margin times z", inputs: zy, build: func(n []*G.Node) (*G.Node, error) {
			m, err := MarginLossPerExample(n[0], n[1], 0.05)
			if err != nil {
				return nil, err
			}
			s, err := SumPerExample(n[0])
			if err != nil {
				return nil, err
			}
			return mul(m, s)
		}},
		{name: "row scatter", inputs: []input{in("key", distinct, false, 3, 4), in("excl", oneHot(4), false, 3, 4), in("g", normal, true, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return apply(newRowSelectOp(true), n[0], n[1], n[2]) }},
		{name: "unit l2", inputs: []input{in("x", normal, true, 3, 4)},
			build: func(n []*G.Node) (*G.Node, error) { return UnitL2(n[0]) }},
		{name: "unit l2 4d", inputs: []input{in("x", normal, true, 2, 2, 1, 3)},
			build: func(n []*G.Node) (*G.Node, error) { return UnitL2(n[0]) }},
	})
}

func TestMatMulDerivatives(t *testing.T) {
	mm := func(ta, tb bool) func([]*G.Node) (*G.Node, error) {
		return func(n []*G.Node) (*G.Node, error) { return MatMul(n[0], n[1], ta, tb) }
	}
	runCases(t, []diffCase{
		{name: "a b", inputs: []input{in("a", normal, true, 3, 4), in("b", normal, true, 4, 2)}, build: mm(false, false)},
		{name: "aT b", inputs: []input{in("a", normal, true, 4, 3), in("b", normal, true, 4, 2)}, build: mm(true, false)},
		{name: "a bT", inputs: []input{in("a", normal, true, 3, 4), in("b", normal, true, 2, 4)}, build: mm(false, true)},
		{name: "aT bT", inputs: []input{in("a", normal, true, 4, 3), in("b", normal, true, 2, 4)}, build: mm(true, true)},
	})
}

// TestSegmentSums checks the per-channel sums, on both cores from 2^16
// elements, against a plain loop: every element counted once, in its
// channel, whatever the worker boundaries.
func TestSegmentSums(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct{ outer, mid, inner int }{{0, 3, 4}, {1, 1, 5}, {2, 3, 1}, {7, 5, 2257}, {129, 3, 251}, {1, 1, 80000}} {
		n := c.outer * c.mid * c.inner
		data := make([]float64, n)
		for i := range data {
			data[i] = r.NormFloat64()
		}
		want := make([]float64, c.mid)
		for i, v := range data {
			want[(i/c.inner)%c.mid] += v
		}
		got := segmentSums(n, c.mid, c.inner, func(_, lo, hi int) float64 { return sum64(data[lo:hi]) })
		if len(got) != c.mid {
			t.Fatalf("%+v: %d sums, want %d", c, len(got), c.mid)
		}
		for m := range want {
			if math.Abs(got[m]-want[m]) > 1e-9*(1+math.Abs(want[m])) {
				t.Errorf("%+v: channel %d sums to %.12g, want %.12g", c, m, got[m], want[m])
			}
		}
	}
}
