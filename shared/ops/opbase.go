package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float is the element type every kernel is written for.
type float interface{ ~float32 | ~float64 }

// symbol holds what every op shares: a name carrying all its parameters, from
// which String, WriteHash and Hashcode follow, so that two ops hash alike
// exactly when they compute the same function, and the buffers of the one
// node the op is applied as (which take no part in the hash).
type symbol struct {
	name string
	bufs *buffers
}

func (s symbol) String() string        { return s.name }
func (s symbol) WriteHash(h hash.Hash) { _, _ = io.WriteString(h, s.name) }
func (s symbol) ReturnsPtr() bool      { return false }
func (s symbol) CallsExtern() bool     { return false }
func (s symbol) OverwritesInput() int  { return -1 }
func (s symbol) Hashcode() uint32      { h := fnv.New32a(); s.WriteHash(h); return h.Sum32() }
func (s symbol) buffers() *buffers     { return s.bufs }

// symbolf names a new op, with buffers of its own: build a new op for
// every node, never apply one op value twice.
func symbolf(format string, a ...any) symbol {
	return symbol{name: fmt.Sprintf(format, a...), bufs: new(buffers)}
}

// tensorType is the type of a dims-dimensional tensor of the element type
// variable a; dims 0 is a scalar.
func tensorType(dims int) hm.Type {
	a := hm.TypeVariable('a')
	if dims == 0 {
		return a
	}
	return &G.TensorType{Dims: dims, Of: a}
}

// fnType is the type of an op taking tensors of the given dimensions and
// returning one of out dimensions, all of the same element type.
func fnType(out int, in ...int) hm.Type {
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range in {
		ts = append(ts, tensorType(d))
	}
	ts = append(ts, tensorType(out))
	return hm.NewFnType(ts...)
}

// shapesOf converts the DimSizers InferShape receives into shapes.
func shapesOf(op fmt.Stringer, want int, ds []G.DimSizer) ([]tensor.Shape, error) {
	if len(ds) != want {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, want, len(ds))
	}
	out := make([]tensor.Shape, len(ds))
	for i, d := range ds {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%v: input %d has no shape (%T)", op, i, d)
		}
		out[i] = s
	}
	return out, nil
}

// arg is one input value of a kernel: its shape and its contiguous data.
type arg[T float] struct {
	shape tensor.Shape
	data  []T
}

// argsOf extracts n inputs of element type T, contiguous, checking their count.
func argsOf[T float](op fmt.Stringer, vs []G.Value) ([]arg[T], error) {
	out := make([]arg[T], len(vs))
	for i, v := range vs {
		a, err := argOf[T](v)
		if err != nil {
			return nil, fmt.Errorf("%v: input %d: %w", op, i, err)
		}
		out[i] = a
	}
	return out, nil
}

func argOf[T float](v G.Value) (arg[T], error) {
	switch t := v.(type) {
	case *tensor.Dense:
		if t.Dtype() != dtypeFor[T]() {
			return arg[T]{}, fmt.Errorf("dtype %v, want %v", t.Dtype(), dtypeFor[T]())
		}
		if t.Shape().TotalSize() == 0 { // Data panics on an empty tensor
			return arg[T]{shape: t.Shape().Clone(), data: []T{}}, nil
		}
		if t.IsMaterializable() {
			m, ok := t.Materialize().(*tensor.Dense)
			if !ok {
				return arg[T]{}, fmt.Errorf("cannot materialise view of shape %v", t.Shape())
			}
			t = m
		}
		switch d := t.Data().(type) {
		case []T:
			return arg[T]{shape: t.Shape().Clone(), data: d}, nil
		case T:
			return arg[T]{shape: tensor.ScalarShape(), data: []T{d}}, nil
		}
		return arg[T]{}, fmt.Errorf("dtype %v, want %T", t.Dtype(), T(0))
	case *G.F64:
		return arg[T]{shape: tensor.ScalarShape(), data: []T{T(*t)}}, nil
	case *G.F32:
		return arg[T]{shape: tensor.ScalarShape(), data: []T{T(*t)}}, nil
	}
	return arg[T]{}, fmt.Errorf("unsupported value %T, want %T tensor", v, T(0))
}

// dtypeFor is the tensor dtype of T.
func dtypeFor[T float]() tensor.Dtype {
	if _, ok := any(T(0)).(float32); ok {
		return tensor.Float32
	}
	return tensor.Float64
}

// dtypeOf reports the element type of the first input.
func dtypeOf(op fmt.Stringer, vs []G.Value) (tensor.Dtype, error) {
	if len(vs) == 0 {
		return tensor.Dtype{}, fmt.Errorf("%v: no inputs", op)
	}
	return vs[0].Dtype(), nil
}

// kernel is a computation written once for both element types.
type kernel interface {
	fmt.Stringer
	do64(in []arg[float64]) (G.Value, error)
	do32(in []arg[float32]) (G.Value, error)
}

// run dispatches Do on the element type of the inputs.
func run(k kernel, want int, vs []G.Value) (G.Value, error) {
	if len(vs) != want {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", k, want, len(vs))
	}
	dt, err := dtypeOf(k, vs)
	if err != nil {
		return nil, err
	}
	switch dt {
	case tensor.Float64:
		in, err := argsOf[float64](k, vs)
		if err != nil {
			return nil, err
		}
		return k.do64(in)
	case tensor.Float32:
		in, err := argsOf[float32](k, vs)
		if err != nil {
			return nil, err
		}
		return k.do32(in)
	}
	return nil, fmt.Errorf("%v: unsupported dtype %v", k, dt)
}

// dense wraps data as a tensor of the given shape; a scalar shape gives a
// Gorgonia scalar value.
func dense[T float](shape tensor.Shape, data []T) G.Value {
	if shape.IsScalar() {
		switch d := any(data).(type) {
		case []float64:
			return G.NewF64(d[0])
		case []float32:
			return G.NewF32(d[0])
		}
	}
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(data))
}

// sameShape reports whether two shapes are equal, treating nil as scalar.
func sameShape(a, b tensor.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// parallelFor runs body over [0,n) split into contiguous chunks, one per
// worker, on at most GOMAXPROCS goroutines; worker is the chunk's index, so
// a body can keep per-worker scratch.
func parallelFor(n int, body func(worker, lo, hi int)) {
	parallelForN(n, workersFor(n), body)
}

// parallelForN is parallelFor on exactly workers chunks (1 <= workers <= n),
// for callers that size per-worker results beforehand: GOMAXPROCS can
// change between two reads of it.
func parallelForN(n, workers int, body func(worker, lo, hi int)) {
	if workers <= 1 {
		if n > 0 {
			body(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(w, lo, hi)
		}()
	}
	wg.Wait()
}

// parallelChunks runs body over [0,n) in contiguous chunks, in parallel
// only when n is large enough to pay for the goroutines.
func parallelChunks(n int, body func(lo, hi int)) {
	const minChunk = 1 << 15
	if n < 2*minChunk {
		body(0, n)
		return
	}
	parallelFor(n, func(_, lo, hi int) { body(lo, hi) })
}

// workersFor is the number of chunks parallelFor uses for n items.
func workersFor(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

// apply applies op to the children and wraps a failure with the op's name.
// It gives the op's buffers to the node, and refuses an op value already
// applied as another node, which would share them.
func apply(op G.Op, children ...*G.Node) (*G.Node, error) {
	n, err := G.ApplyOp(op, children...)
	if err != nil {
		return nil, fmt.Errorf("apply %v: %w", op, err)
	}
	// n may be an existing node with the same op and children (Gorgonia
	// merges those), whose op holds its own buffers.
	if o, ok := n.Op().(interface{ buffers() *buffers }); ok {
		switch b := o.buffers(); {
		case b == nil:
			return nil, fmt.Errorf("apply %v: op built without symbolf", op)
		case b.node == nil:
			b.node = n
		case b.node != n:
			return nil, fmt.Errorf("apply %v: op value already applied as node %v", op, b.node.Name())
		}
	}
	return n, nil
}

// checkFloat refuses nodes that are not float32 or float64.
func checkFloat(what string, ns ...*G.Node) error {
	for _, n := range ns {
		if n == nil {
			return fmt.Errorf("%s: nil node", what)
		}
		if dt := n.Dtype(); dt != tensor.Float64 && dt != tensor.Float32 {
			return fmt.Errorf("%s: %v has dtype %v, want float32 or float64", what, n.Name(), dt)
		}
	}
	return nil
}
