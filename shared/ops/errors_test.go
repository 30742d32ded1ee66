package ops

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestShapeErrors checks that bad shapes and parameters give errors, never
// panics.
func TestShapeErrors(t *testing.T) {
	g := G.NewGraph()
	node := func(name string, shape ...int) *G.Node {
		return G.NewTensor(g, G.Float64, len(shape), G.WithShape(shape...), G.WithName(name))
	}
	x4, w4 := node("x4", 2, 3, 8, 8), node("w4", 4, 3, 3, 3)
	x2, v3 := node("x2", 2, 3), node("v3", 3)
	ints := G.NewTensor(g, G.Int, 2, G.WithShape(2, 3), G.WithName("ints"))
	for _, tc := range []struct {
		name  string
		build func() (*G.Node, error)
	}{
		{"conv channels", func() (*G.Node, error) { return Conv2d(x4, node("w5", 4, 2, 3, 3), 1, 0) }},
		{"conv kernel too large", func() (*G.Node, error) { return Conv2d(x4, node("w9", 4, 3, 11, 3), 1, 1) }},
		{"conv stride 0", func() (*G.Node, error) { return Conv2d(x4, w4, 0, 0) }},
		{"conv negative pad", func() (*G.Node, error) { return Conv2d(x4, w4, 1, -1) }},
		{"conv 2d input", func() (*G.Node, error) { return Conv2d(x2, w4, 1, 0) }},
		{"conv int input", func() (*G.Node, error) { return Conv2d(ints, w4, 1, 0) }},
		{"conv nil", func() (*G.Node, error) { return Conv2d(nil, w4, 1, 0) }},
		{"bias length", func() (*G.Node, error) { return AddChannelBias(x4, node("v4", 4)) }},
		{"relu nil", func() (*G.Node, error) { return ReLU(nil) }},
		{"mask shapes", func() (*G.Node, error) { return Mask(x2, node("x23", 3, 2)) }},
		{"maxpool 2d", func() (*G.Node, error) { return MaxPool2d(x2, 2, 2) }},
		{"maxpool kernel too large", func() (*G.Node, error) { return MaxPool2d(x4, 9, 1) }},
		{"maxpool stride 0", func() (*G.Node, error) { return MaxPool2d(x4, 2, 0) }},
		{"avgpool kernel 0", func() (*G.Node, error) { return AvgPool2d(x4, 0, 1) }},
		{"global avgpool 2d", func() (*G.Node, error) { return GlobalAvgPool(x2) }},
		{"linear inner", func() (*G.Node, error) { return Linear(x2, node("w22", 2, 2), nil) }},
		{"linear bias", func() (*G.Node, error) { return Linear(x2, node("w32", 3, 2), v3) }},
		{"flatten vector", func() (*G.Node, error) { return Flatten(v3) }},
		{"batch norm gamma", func() (*G.Node, error) { y, _, _, err := BatchNormTrain(x4, node("g4", 4), v3, 1e-5); return y, err }},
		{"batch norm 3d", func() (*G.Node, error) {
			y, _, _, err := BatchNormTrain(node("x3", 2, 3, 4), v3, v3, 1e-5)
			return y, err
		}},
		{"batch norm eps", func() (*G.Node, error) { y, _, _, err := BatchNormTrain(x4, v3, v3, 0); return y, err }},
		{"batch norm eval running var", func() (*G.Node, error) { return BatchNormEval(x4, v3, v3, v3, node("v2", 2), 1e-5) }},
		{"softmax 4d", func() (*G.Node, error) { return Softmax(x4) }},
		{"cross entropy targets", func() (*G.Node, error) { return SoftmaxCrossEntropy(x2, node("y32", 3, 2)) }},
		{"margin targets", func() (*G.Node, error) { return MarginLoss(x2, node("y24", 2, 4), 0) }},
		{"margin kappa", func() (*G.Node, error) { return MarginLossPerExample(x2, x2, -posInf()) }},
		{"channel broadcast", func() (*G.Node, error) { return ChannelBroadcast(v3, tensor.Shape{2, 4}) }},
		{"channel mean vector", func() (*G.Node, error) { return ChannelMean(v3) }},
		{"unit l2 nil", func() (*G.Node, error) { return UnitL2(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.build()
			if err == nil {
				t.Fatalf("no error, got node of shape %v", n.Shape())
			}
		})
	}
}

func posInf() float64 { return math.Inf(1) }

// TestDoRejectsBadValues calls ops' Do directly with values whose shapes do
// not match, as a machine would after a bad Let.
func TestDoRejectsBadValues(t *testing.T) {
	d := func(shape ...int) G.Value { return tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float64)) }
	for _, tc := range []struct {
		name string
		op   G.Op
		in   []G.Value
	}{
		{"conv channels", convOp{mode: convForward, stride: 1}.named(), []G.Value{d(1, 2, 4, 4), d(1, 3, 3, 3)}},
		{"conv arity", convOp{mode: convForward, stride: 1}.named(), []G.Value{d(1, 2, 4, 4)}},
		{"back data size", convOp{mode: convBackData, stride: 1, h: 9, w: 9}.named(), []G.Value{d(1, 2, 2, 2), d(2, 3, 3, 3)}},
		{"mask", newMaskOp(2), []G.Value{d(2, 2), d(2, 3)}},
		{"pool", newPoolOp(poolSelect, poolParams{kh: 2, kw: 2, sh: 2, sw: 2}), []G.Value{d(1, 1, 4, 4), d(1, 1, 4, 5)}},
		{"sum", newSumOp(1, 4, 1), []G.Value{d(2, 3)}},
		{"broadcast", newBcastOp(1, tensor.Shape{2, 3}, 1), []G.Value{d(4)}},
		{"softmax", newSoftmaxOp(true), []G.Value{d(2, 3, 4)}},
		{"row select", newRowSelectOp(false), []G.Value{d(2, 3), d(2, 3), d(3, 3)}},
		{"reshape", newReshapeOp(tensor.Shape{2, 3}, tensor.Shape{6}), []G.Value{d(3, 2)}},
		{"int dtype", newMaskOp(2), []G.Value{tensor.New(tensor.WithShape(2, 2), tensor.Of(tensor.Int)), d(2, 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.op.Do(tc.in...); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestOpIdentity checks that ops with different parameters hash and print
// differently, and equal ones alike, since Gorgonia merges nodes by hash.
func TestOpIdentity(t *testing.T) {
	ops := []G.Op{
		convOp{mode: convForward, stride: 1, pad: 0}.named(),
		convOp{mode: convForward, stride: 2, pad: 0}.named(),
		convOp{mode: convForward, stride: 1, pad: 1}.named(),
		convOp{mode: convBackData, stride: 1, pad: 0, h: 5, w: 5}.named(),
		convOp{mode: convBackData, stride: 1, pad: 0, h: 6, w: 5}.named(),
		convOp{mode: convBackFilter, stride: 1, pad: 0, kh: 3, kw: 3}.named(),
		convOp{mode: convBackFilter, stride: 1, pad: 0, kh: 3, kw: 2}.named(),
		newPoolOp(poolSelect, poolParams{kh: 2, kw: 2, sh: 2, sw: 2}),
		newPoolOp(poolSelect, poolParams{kh: 3, kw: 3, sh: 2, sw: 2}),
		newPoolOp(poolScatter, poolParams{kh: 2, kw: 2, sh: 2, sw: 2}),
		newPoolOp(poolAvg, poolParams{kh: 2, kw: 2, sh: 1, sw: 1}),
		newPoolOp(poolAvgAdj, poolParams{kh: 2, kw: 2, sh: 1, sw: 1, h: 5, w: 5}),
		newPoolOp(poolAvgAdj, poolParams{kh: 2, kw: 2, sh: 1, sw: 1, h: 6, w: 5}),
		newMaskOp(2), newMaskOp(4),
		newSumOp(1, 4, 0.5), newSumOp(1, 4, 0.25), newSumOp(0, 4, 0.5), newSumOp(-1, 4, 0.5),
		newBcastOp(1, tensor.Shape{2, 3}, 1), newBcastOp(1, tensor.Shape{4, 3}, 1), newBcastOp(1, tensor.Shape{2, 3}, 2),
		newUnaryOp(unaryAffine, 2, 1, 0.5), newUnaryOp(unaryAffine, 2, 1, 0.25), newUnaryOp(unaryPow, 2, 1, 0.5),
		newSoftmaxOp(false), newSoftmaxOp(true), newRowSelectOp(false), newRowSelectOp(true),
		newRowNormOp(2), newRowNormOp(4),
		newReshapeOp(tensor.Shape{2, 3}, tensor.Shape{6}), newReshapeOp(tensor.Shape{3, 2}, tensor.Shape{6}),
	}
	seen := map[uint32]string{}
	names := map[string]bool{}
	for _, op := range ops {
		if prev, ok := seen[op.Hashcode()]; ok {
			t.Errorf("%v and %v share hash %x", prev, op, op.Hashcode())
		}
		seen[op.Hashcode()] = op.String()
		if names[op.String()] {
			t.Errorf("two ops print as %v", op)
		}
		names[op.String()] = true
		if _, ok := op.(G.SDOp); !ok {
			t.Errorf("%v is not differentiable", op)
		}
	}
	a, b := convOp{mode: convBackData, stride: 2, pad: 1, h: 7, w: 7}.named(), convOp{mode: convBackData, stride: 2, pad: 1, h: 7, w: 7}.named()
	if a.Hashcode() != b.Hashcode() || a.String() != b.String() {
		t.Errorf("equal ops %v and %v differ", a, b)
	}
}

// TestMatMulEmpty multiplies matrices with an empty inner dimension, which
// gonum itself refuses with a panic.
func TestMatMulEmpty(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		a := tensor.New(tensor.WithShape(3, 0), tensor.Of(dt))
		b := tensor.New(tensor.WithShape(0, 2), tensor.Of(dt))
		v, err := newMatMulOp(false, false).Do(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Shape(); !sameShape(got, tensor.Shape{3, 2}) {
			t.Errorf("%v: shape %v, want (3, 2)", dt, got)
		}
	}
}
