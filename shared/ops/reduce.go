package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"sgn/shared/kernels"
)

// ChannelMean averages x [N,C,...] over every axis but the channel axis 1: [C].
func ChannelMean(x *G.Node) (*G.Node, error) {
	if err := checkFloat("channel mean", x); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) < 2 || s.TotalSize() == 0 {
		return nil, fmt.Errorf("channel mean: input shape %v, want [N,C,...]", s)
	}
	return apply(newSumOp(1, len(s), float64(s[1])/float64(s.TotalSize())), x)
}

// ChannelBroadcast repeats v [C] along every axis but axis 1 of shape, whose
// axis 1 must be C: out[n,c,...] = v[c].
func ChannelBroadcast(v *G.Node, shape tensor.Shape) (*G.Node, error) {
	return broadcast("channel broadcast", v, 1, shape)
}

// AddChannelBias adds b [C] to every position of channel c of x [N,C,...].
func AddChannelBias(x, b *G.Node) (*G.Node, error) {
	if err := checkFloat("add channel bias", x, b); err != nil {
		return nil, err
	}
	if err := checkChannels(symbolf("add channel bias"), x.Shape(), x.Dims(), b.Shape()); err != nil {
		return nil, err
	}
	return chanAffine(x, nil, b)
}

// SumPerExample sums x [N,...] over every axis but the first: [N].
func SumPerExample(x *G.Node) (*G.Node, error) {
	if err := checkFloat("sum per example", x); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) < 1 {
		return nil, fmt.Errorf("sum per example: input is a scalar, want [N,...]")
	}
	return apply(newSumOp(0, len(s), 1), x)
}

// Mean averages all elements of x into a scalar.
func Mean(x *G.Node) (*G.Node, error) {
	if err := checkFloat("mean", x); err != nil {
		return nil, err
	}
	s := x.Shape()
	if s.TotalSize() == 0 {
		return nil, fmt.Errorf("mean: empty input of shape %v", s)
	}
	return apply(newSumOp(-1, len(s), 1/float64(s.TotalSize())), x)
}

// broadcast checks v against axis keep of shape and repeats it.
func broadcast(what string, v *G.Node, keep int, shape tensor.Shape) (*G.Node, error) {
	if err := checkFloat(what, v); err != nil {
		return nil, err
	}
	if len(shape) <= keep || shape.TotalSize() == 0 || len(v.Shape()) != 1 || v.Shape()[0] != shape[keep] {
		return nil, fmt.Errorf("%s: cannot broadcast %v along axis %d of %v", what, v.Shape(), keep, shape)
	}
	return apply(newBcastOp(keep, shape, 1), v)
}

// Add adds two float tensors of one shape elementwise on both cores (a
// residual connection, an SGN's move): Gorgonia's G.Add runs on one
// goroutine and copies its first operand.
func Add(a, b *G.Node) (*G.Node, error) {
	if err := checkFloat("add", a, b); err != nil {
		return nil, err
	}
	return add(a, b)
}

// add adds two nodes of one shape.
func add(a, b *G.Node) (*G.Node, error) {
	if !sameShape(a.Shape(), b.Shape()) {
		return nil, fmt.Errorf("add: shapes %v and %v differ", a.Shape(), b.Shape())
	}
	n, err := apply(newBinaryOp(binaryAdd, a.Dims()), a, b)
	if err != nil {
		return nil, fmt.Errorf("add %v and %v: %w", a.Shape(), b.Shape(), err)
	}
	return n, nil
}

// sub subtracts two nodes of one shape.
func sub(a, b *G.Node) (*G.Node, error) {
	if !sameShape(a.Shape(), b.Shape()) {
		return nil, fmt.Errorf("sub: shapes %v and %v differ", a.Shape(), b.Shape())
	}
	n, err := apply(newBinaryOp(binarySub, a.Dims()), a, b)
	if err != nil {
		return nil, fmt.Errorf("sub %v and %v: %w", a.Shape(), b.Shape(), err)
	}
	return n, nil
}

// Mul multiplies two float tensors of one shape elementwise on both cores
// (a squared input gradient for double backprop): Gorgonia's
// G.HadamardProd runs on one goroutine and allocates its result on every
// run, where Mul reuses its node's buffer once ReuseOutputs is on.
func Mul(a, b *G.Node) (*G.Node, error) {
	if err := checkFloat("mul", a, b); err != nil {
		return nil, err
	}
	return mul(a, b)
}

// mul multiplies two nodes of one shape elementwise.
func mul(a, b *G.Node) (*G.Node, error) {
	if !sameShape(a.Shape(), b.Shape()) {
		return nil, fmt.Errorf("mul: shapes %v and %v differ", a.Shape(), b.Shape())
	}
	n, err := apply(newBinaryOp(binaryMul, a.Dims()), a, b)
	if err != nil {
		return nil, fmt.Errorf("mul %v and %v: %w", a.Shape(), b.Shape(), err)
	}
	return n, nil
}

// sumOp is scale·Σx over every axis but keep, giving [shape[keep]], or over
// all axes when keep < 0, giving a scalar. Its adjoint is bcastOp.
type sumOp struct {
	symbol
	keep, dims int
	scale      float64
}

func newSumOp(keep, dims int, scale float64) sumOp {
	return sumOp{symbolf("Sum{keep=%d,dims=%d,scale=%v}", keep, dims, scale), keep, dims, scale}
}

// bcastOp is scale·v repeated along every axis but keep into shape (v a
// scalar when keep < 0). Its adjoint is sumOp.
type bcastOp struct {
	symbol
	keep  int
	shape tensor.Shape
	scale float64
}

func newBcastOp(keep int, shape tensor.Shape, scale float64) bcastOp {
	return bcastOp{symbolf("Broadcast{keep=%d,shape=%v,scale=%v}", keep, []int(shape), scale), keep, shape.Clone(), scale}
}

// split gives the sizes before, along and after axis keep.
func split(s tensor.Shape, keep int) (outer, mid, inner int) {
	if keep < 0 {
		return 1, 1, s.TotalSize()
	}
	outer, inner = 1, 1
	for _, d := range s[:keep] {
		outer *= d
	}
	for _, d := range s[keep+1:] {
		inner *= d
	}
	return outer, s[keep], inner
}

func reducedShape(s tensor.Shape, keep int) tensor.Shape {
	if keep < 0 {
		return tensor.ScalarShape()
	}
	return tensor.Shape{s[keep]}
}

func keptDims(keep int) int {
	if keep < 0 {
		return 0
	}
	return 1
}

func (op sumOp) Arity() int         { return 1 }
func (op sumOp) Type() hm.Type      { return fnType(keptDims(op.keep), op.dims) }
func (op sumOp) DiffWRT(int) []bool { return []bool{true} }

func (op sumOp) check(s tensor.Shape) error {
	if len(s) != op.dims || op.keep >= len(s) {
		return fmt.Errorf("%v: input shape %v", op, s)
	}
	return nil
}

func (op sumOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	if err := op.check(s[0]); err != nil {
		return nil, err
	}
	return reducedShape(s[0], op.keep), nil
}

func (op sumOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 1, vs) }
func (op sumOp) do64(in []arg[float64]) (G.Value, error) { return sumDo(op, in[0]) }
func (op sumOp) do32(in []arg[float32]) (G.Value, error) { return sumDo(op, in[0]) }

func sumDo[T float](op sumOp, x arg[T]) (G.Value, error) {
	if err := op.check(x.shape); err != nil {
		return nil, err
	}
	_, mid, inner := split(x.shape, op.keep)
	// Accumulate in float64: batch-norm statistics of float32 activations
	// sum millions of terms.
	acc := segmentSums(len(x.data), mid, inner, func(_, lo, hi int) float64 { return sum64(x.data[lo:hi]) })
	out := output[T](op.bufs, mid, false)
	for m, s := range acc {
		out[m] = T(s * op.scale)
	}
	return result(op.bufs, reducedShape(x.shape, op.keep), out), nil
}

// sum64 is the float64 sum of v, four running sums at a time: one sum's
// chain of dependent additions ran at a quarter of the adder's rate.
// float32 goes through kernels.Sum64, 16 at a time with AVX2 (the scalar
// loop was 4% of a cifar-cnn training step).
func sum64[T float](v []T) float64 {
	if v32, ok := any(v).([]float32); ok {
		return kernels.Sum64(v32)
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += float64(v[i])
		s1 += float64(v[i+1])
		s2 += float64(v[i+2])
		s3 += float64(v[i+3])
	}
	for ; i < len(v); i++ {
		s0 += float64(v[i])
	}
	return (s0 + s1) + (s2 + s3)
}

func (op sumOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true})
}

func (op sumOp) symDiff(in G.Nodes, _, grad *G.Node, _ []bool) (G.Nodes, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, got %d", op, len(in))
	}
	d, err := apply(newBcastOp(op.keep, in[0].Shape(), op.scale), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

func (op bcastOp) Arity() int         { return 1 }
func (op bcastOp) Type() hm.Type      { return fnType(len(op.shape), keptDims(op.keep)) }
func (op bcastOp) DiffWRT(int) []bool { return []bool{true} }

func (op bcastOp) check(s tensor.Shape) error {
	if !sameShape(s, reducedShape(op.shape, op.keep)) {
		return fmt.Errorf("%v: input shape %v, want %v", op, s, reducedShape(op.shape, op.keep))
	}
	return nil
}

func (op bcastOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapesOf(op, 1, ds)
	if err != nil {
		return nil, err
	}
	if err := op.check(s[0]); err != nil {
		return nil, err
	}
	return op.shape.Clone(), nil
}

func (op bcastOp) Do(vs ...G.Value) (G.Value, error)       { return run(op, 1, vs) }
func (op bcastOp) do64(in []arg[float64]) (G.Value, error) { return bcastDo(op, in[0]) }
func (op bcastOp) do32(in []arg[float32]) (G.Value, error) { return bcastDo(op, in[0]) }

func bcastDo[T float](op bcastOp, v arg[T]) (G.Value, error) {
	if err := op.check(v.shape); err != nil {
		return nil, err
	}
	_, mid, inner := split(op.shape, op.keep)
	out := output[T](op.bufs, op.shape.TotalSize(), false)
	scale := T(op.scale)
	parallelChunks(len(out), func(lo, hi int) {
		for i := lo; i < hi; {
			m := (i / inner) % mid
			end := min(hi, (i/inner+1)*inner)
			x := v.data[m] * scale
			for j := range out[i:end] {
				out[i+j] = x
			}
			i = end
		}
	})
	return result(op.bufs, op.shape, out), nil
}

func (op bcastOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	return op.symDiff(in, out, grad, []bool{true})
}

func (op bcastOp) symDiff(in G.Nodes, _, grad *G.Node, _ []bool) (G.Nodes, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%v: want 1 input, got %d", op, len(in))
	}
	d, err := apply(newSumOp(op.keep, len(op.shape), op.scale), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
