package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

var testSizes = []int{3, 5, 1, 4}

// randTensors returns tensors of the given sizes with values in [-scale, scale).
func randTensors(r *rand.Rand, sizes []int, scale float64) [][]float32 {
	out := make([][]float32, len(sizes))
	for i, n := range sizes {
		out[i] = make([]float32, n)
		for j := range out[i] {
			out[i][j] = float32(scale * (2*r.Float64() - 1))
		}
	}
	return out
}

func clone2(x [][]float32) [][]float32 {
	out := make([][]float32, len(x))
	for i := range x {
		out[i] = slices.Clone(x[i])
	}
	return out
}

func to64(x [][]float32) [][]float64 {
	out := make([][]float64, len(x))
	for i := range x {
		out[i] = make([]float64, len(x[i]))
		for j, v := range x[i] {
			out[i][j] = float64(v)
		}
	}
	return out
}

func assertClose(t *testing.T, what string, got [][]float32, want [][]float64) {
	t.Helper()
	for i := range want {
		for j := range want[i] {
			g, w := float64(got[i][j]), want[i][j]
			if math.Abs(g-w) > 1e-5*(1+math.Abs(w)) {
				t.Fatalf("%s: param %d[%d] = %v, want %v", what, i, j, g, w)
			}
		}
	}
}

// refSGD is torch.optim.SGD's documented algorithm in float64, with the
// first-step special case buf = g written out.
type refSGD struct {
	mu, wd   float64
	nesterov bool
	mask     []bool
	buf      [][]float64
	t        int
}

func (r *refSGD) step(p [][]float64, g [][]float32, lr float64) {
	if r.buf == nil {
		r.buf = make([][]float64, len(p))
	}
	for i := range p {
		if r.buf[i] == nil {
			r.buf[i] = make([]float64, len(p[i]))
		}
		for j := range p[i] {
			gt := float64(g[i][j])
			if r.mask == nil || r.mask[i] {
				gt += r.wd * p[i][j]
			}
			if r.mu != 0 {
				if r.t == 0 {
					r.buf[i][j] = gt
				} else {
					r.buf[i][j] = r.mu*r.buf[i][j] + gt
				}
				if r.nesterov {
					gt = gt + r.mu*r.buf[i][j]
				} else {
					gt = r.buf[i][j]
				}
			}
			p[i][j] -= lr * gt
		}
	}
	r.t++
}

// refAdam is Adam as in Kingma and Ba with torch's conventions (coupled
// weight decay added to the gradient, or AdamW's decoupled shrinkage), in
// float64, written with the bias-corrected moments m̂ and v̂.
type refAdam struct {
	b1, b2, eps, wd float64
	decoupled       bool
	mask            []bool
	m, v            [][]float64
	t               int
}

func (r *refAdam) step(p [][]float64, g [][]float32, lr float64) {
	r.t++
	if r.m == nil {
		r.m, r.v = make([][]float64, len(p)), make([][]float64, len(p))
		for i := range p {
			r.m[i], r.v[i] = make([]float64, len(p[i])), make([]float64, len(p[i]))
		}
	}
	for i := range p {
		decay := r.mask == nil || r.mask[i]
		for j := range p[i] {
			gt := float64(g[i][j])
			if decay && !r.decoupled {
				gt += r.wd * p[i][j]
			}
			if decay && r.decoupled {
				p[i][j] -= lr * r.wd * p[i][j]
			}
			r.m[i][j] = r.b1*r.m[i][j] + (1-r.b1)*gt
			r.v[i][j] = r.b2*r.v[i][j] + (1-r.b2)*gt*gt
			mhat := r.m[i][j] / (1 - math.Pow(r.b1, float64(r.t)))
			vhat := r.v[i][j] / (1 - math.Pow(r.b2, float64(r.t)))
			p[i][j] -= lr * mhat / (math.Sqrt(vhat) + r.eps)
		}
	}
}

var mask = []bool{true, false, true, false}

func TestSGDMatchesReference(t *testing.T) {
	// The last tensor is large enough for Step to split its update over
	// goroutines.
	sizes := append(slices.Clone(testSizes), 150001)
	mask := append(slices.Clone(mask), true)
	tests := []struct {
		name string
		opts []SGDOption
		ref  refSGD
	}{
		{"plain", nil, refSGD{}},
		{"momentum", []SGDOption{WithMomentum(0.9)}, refSGD{mu: 0.9}},
		{"nesterov", []SGDOption{WithMomentum(0.8), WithNesterov()}, refSGD{mu: 0.8, nesterov: true}},
		{"weight decay", []SGDOption{WithWeightDecay(0.05)}, refSGD{wd: 0.05}},
		{"momentum decay", []SGDOption{WithMomentum(0.9), WithWeightDecay(0.1)}, refSGD{mu: 0.9, wd: 0.1}},
		{"nesterov decay mask", []SGDOption{WithMomentum(0.9), WithNesterov(), WithWeightDecay(0.1), WithDecayMask(mask)},
			refSGD{mu: 0.9, nesterov: true, wd: 0.1, mask: mask}},
	}
	for _, tt := range tests {
		r := rand.New(rand.NewPCG(1, 2))
		params := randTensors(r, sizes, 1)
		want := to64(params)
		opt := NewSGD(sizes, tt.opts...)
		ref := tt.ref
		for step := range 8 {
			grads := randTensors(r, sizes, 2)
			lr := 0.1 / float64(step+1)
			if err := opt.Step(params, grads, lr); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			ref.step(want, grads, lr)
			assertClose(t, tt.name, params, want)
		}
		if opt.Steps() != 8 {
			t.Errorf("%s: Steps() = %d, want 8", tt.name, opt.Steps())
		}
	}
}

func TestAdamMatchesReference(t *testing.T) {
	sizes := append(slices.Clone(testSizes), 150001) // see TestSGDMatchesReference
	mask := append(slices.Clone(mask), true)
	def := refAdam{b1: 0.9, b2: 0.999, eps: 1e-8}
	with := func(f func(*refAdam)) refAdam { r := def; f(&r); return r }
	tests := []struct {
		name string
		opts []AdamOption
		ref  refAdam
	}{
		{"default", nil, def},
		{"betas eps", []AdamOption{WithBetas(0.5, 0.9), WithEpsilon(1e-3)},
			refAdam{b1: 0.5, b2: 0.9, eps: 1e-3}},
		{"coupled decay", []AdamOption{WithWeightDecay(0.2)}, with(func(r *refAdam) { r.wd = 0.2 })},
		{"coupled decay mask", []AdamOption{WithWeightDecay(0.2), WithAdamDecayMask(mask)},
			with(func(r *refAdam) { r.wd, r.mask = 0.2, mask })},
		{"decoupled decay mask", []AdamOption{WithDecoupledWeightDecay(0.3), WithDecayMask(mask)},
			with(func(r *refAdam) { r.wd, r.decoupled, r.mask = 0.3, true, mask })},
		{"last decay wins", []AdamOption{WithDecoupledWeightDecay(0.3), WithWeightDecay(0.2)},
			with(func(r *refAdam) { r.wd = 0.2 })},
	}
	for _, tt := range tests {
		r := rand.New(rand.NewPCG(3, 4))
		params := randTensors(r, sizes, 1)
		want := to64(params)
		opt := NewAdam(sizes, tt.opts...)
		ref := tt.ref
		for step := range 8 {
			grads := randTensors(r, sizes, 2)
			lr := 0.01 * float64(step+1)
			if err := opt.Step(params, grads, lr); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			ref.step(want, grads, lr)
			assertClose(t, tt.name, params, want)
		}
	}
}

// TestQuadraticConverges minimises f(x) = ½ Σ aᵢ(xᵢ − cᵢ)².
func TestQuadraticConverges(t *testing.T) {
	a := []float32{1, 4, 0.5, 2, 3}
	c := []float32{1, -2, 3, 0.5, -1}
	tests := []struct {
		name  string
		opt   Optimizer
		sched Schedule
		steps int
	}{
		{"sgd", NewSGD([]int{5}), Constant(0.2), 300},
		{"sgd momentum", NewSGD([]int{5}, WithMomentum(0.9)), Constant(0.05), 500},
		{"sgd nesterov", NewSGD([]int{5}, WithMomentum(0.9), WithNesterov()), Constant(0.05), 500},
		{"adam cosine", NewAdam([]int{5}), Cosine(0.1, 0, 0), 2000},
		{"adam one-cycle", NewAdam([]int{5}), OneCycle(0.1), 2000},
	}
	for _, tt := range tests {
		x := [][]float32{make([]float32, 5)}
		g := [][]float32{make([]float32, 5)}
		for step := range tt.steps {
			for i := range x[0] {
				g[0][i] = a[i] * (x[0][i] - c[i])
			}
			if err := tt.opt.Step(x, g, tt.sched.LR(step, tt.steps)); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		for i := range c {
			if d := math.Abs(float64(x[0][i] - c[i])); d > 1e-3 {
				t.Errorf("%s: x[%d] = %v, want %v", tt.name, i, x[0][i], c[i])
			}
		}
	}
}

// makeOptimizers returns constructors of every kind of optimizer state.
func makeOptimizers() map[string]func() Optimizer {
	return map[string]func() Optimizer{
		"sgd":          func() Optimizer { return NewSGD(testSizes) },
		"sgd momentum": func() Optimizer { return NewSGD(testSizes, WithMomentum(0.9), WithNesterov(), WithWeightDecay(0.01)) },
		"adam":         func() Optimizer { return NewAdam(testSizes, WithWeightDecay(0.01)) },
		"adamw":        func() Optimizer { return NewAdam(testSizes, WithDecoupledWeightDecay(0.01)) },
	}
}

func TestResumeGivesIdenticalSteps(t *testing.T) {
	for name, mk := range makeOptimizers() {
		r := rand.New(rand.NewPCG(5, 6))
		params := randTensors(r, testSizes, 1)
		opt := mk()
		for range 5 {
			if err := opt.Step(params, randTensors(r, testSizes, 1), 0.01); err != nil {
				t.Fatal(err)
			}
		}
		state, err := opt.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		resumed := mk()
		if err := resumed.UnmarshalBinary(state); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if again := mustState(resumed); !slices.Equal(again, state) {
			t.Errorf("%s: restored state marshals differently", name)
		}
		p1, p2 := clone2(params), clone2(params)
		for range 5 {
			g := randTensors(r, testSizes, 1)
			if err := opt.Step(p1, g, 0.01); err != nil {
				t.Fatal(err)
			}
			if err := resumed.Step(p2, g, 0.01); err != nil {
				t.Fatal(err)
			}
		}
		for i := range p1 {
			if !slices.Equal(p1[i], p2[i]) {
				t.Errorf("%s: resumed optimizer diverged at parameter %d", name, i)
			}
		}
		// A fresh optimizer (zero moments, step 0) must differ, or the test
		// above proves nothing.
		if name != "sgd" {
			p3 := clone2(params)
			fresh := mk()
			g := randTensors(rand.New(rand.NewPCG(7, 7)), testSizes, 1)
			_ = fresh.Step(p3, g, 0.01)
			p4 := clone2(params)
			_ = resumed.Step(p4, g, 0.01)
			if slices.Equal(p3[0], p4[0]) {
				t.Errorf("%s: state made no difference to the step", name)
			}
		}
	}
}

func TestUnmarshalRejectsBadState(t *testing.T) {
	mk := makeOptimizers()
	for name, newOpt := range mk {
		opt := newOpt()
		params := randTensors(rand.New(rand.NewPCG(8, 8)), testSizes, 1)
		_ = opt.Step(params, randTensors(rand.New(rand.NewPCG(9, 9)), testSizes, 1), 0.1)
		good, _ := opt.MarshalBinary()

		bad := map[string][]byte{
			"trailing":  append(slices.Clone(good), 0),
			"bad magic": append([]byte("XXXX"), good[4:]...),
		}
		for n := range len(good) {
			if n%3 == 0 || n < 40 {
				bad[fmt.Sprintf("truncated at %d", n)] = good[:n]
			}
		}
		// State of an optimizer built for other sizes or options.
		for other, mkOther := range mk {
			if other != name {
				s, _ := mkOther().MarshalBinary()
				bad["from "+other] = s
			}
		}
		for _, sizes := range [][]int{{3, 5, 1}, {3, 5, 1, 4, 2}, {3, 5, 2, 4}} {
			var o Optimizer
			if strings.HasPrefix(name, "adam") {
				o = NewAdam(sizes)
			} else if name == "sgd" {
				o = NewSGD(sizes)
			} else {
				o = NewSGD(sizes, WithMomentum(0.9))
			}
			s, _ := o.MarshalBinary()
			bad[fmt.Sprintf("sizes %v", sizes)] = s
		}

		for what, data := range bad {
			if name == "adam" && what == "from adamw" || name == "adamw" && what == "from adam" {
				continue // the same state layout: options are not state
			}
			if err := opt.UnmarshalBinary(data); err == nil {
				t.Errorf("%s: %s: no error", name, what)
			} else if strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: %s: multi-line error %q", name, what, err)
			}
		}
		// Failed unmarshals left the state as it was.
		after, _ := opt.MarshalBinary()
		if !slices.Equal(after, good) {
			t.Errorf("%s: a failed unmarshal changed the state", name)
		}
	}
}

func TestUnmarshalErrorsNameTheProblem(t *testing.T) {
	sgdState, _ := NewSGD(testSizes, WithMomentum(0.9)).MarshalBinary()
	adamState, _ := NewAdam(testSizes).MarshalBinary()
	tests := []struct {
		name string
		opt  Optimizer
		data []byte
		want string
	}{
		{"kind", NewAdam(testSizes), sgdState, "state is for sgd, not adam"},
		{"count", NewAdam([]int{3}), adamState, "4 parameters, optimizer has 1"},
		{"size", NewAdam([]int{3, 5, 2, 4}), adamState, "1 values for parameter 2, optimizer has 2"},
		{"buffers", NewSGD(testSizes), sgdState, "1 buffers per parameter, optimizer has 0"},
		{"truncated", NewAdam(testSizes), adamState[:len(adamState)-4], "truncated"},
		{"magic", NewAdam(testSizes), []byte("garbage state"), "not an optimizer state"},
	}
	for _, tt := range tests {
		err := tt.opt.UnmarshalBinary(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestStepRefusesBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	good := randTensors(r, testSizes, 1)
	withValue := func(i, j int, v float32) [][]float32 {
		g := clone2(good)
		g[i][j] = v
		return g
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name   string
		params [][]float32
		grads  [][]float32
		lr     float64
		want   string
	}{
		{"nan", nil, withValue(2, 0, nan), 0.1, "parameter 2 is not finite"},
		{"+inf", nil, withValue(1, 4, inf), 0.1, "parameter 1 is not finite"},
		{"-inf", nil, withValue(3, 3, -inf), 0.1, "parameter 3 is not finite"},
		{"missing grad", nil, good[:3], 0.1, "3 gradient tensors, want 4"},
		{"missing param", good[:3], good, 0.1, "3 parameter tensors"},
		{"short grad", nil, append(clone2(good[:3]), good[3][:2]), 0.1, "gradient of parameter 3 has 2 values, want 4"},
		{"long param", append(clone2(good[:1]), good[1], good[2], append(slices.Clone(good[3]), 1)), good, 0.1, "parameter 3 has 5 values, want 4"},
		{"nan lr", nil, good, math.NaN(), "learning rate"},
		{"negative lr", nil, good, -1, "learning rate"},
	}
	for name, mk := range makeOptimizers() {
		for _, tt := range tests {
			opt := mk()
			params := tt.params
			if params == nil {
				params = randTensors(rand.New(rand.NewPCG(11, 11)), testSizes, 1)
			}
			before := clone2(params)
			err := opt.Step(params, tt.grads, tt.lr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s %s: error %v, want it to contain %q", name, tt.name, err, tt.want)
			}
			for i := range params {
				if !slices.Equal(params[i], before[i]) {
					t.Errorf("%s %s: parameter %d changed", name, tt.name, i)
				}
			}
			if state, _ := opt.MarshalBinary(); !slices.Equal(state, mustState(mk())) {
				t.Errorf("%s %s: refused step changed the optimizer state", name, tt.name)
			}
		}
	}
}

func mustState(o Optimizer) []byte {
	b, err := o.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecayMaskLengthChecked(t *testing.T) {
	params := randTensors(rand.New(rand.NewPCG(1, 1)), testSizes, 1)
	for _, opt := range []Optimizer{
		NewSGD(testSizes, WithWeightDecay(0.1), WithDecayMask([]bool{true})),
		NewAdam(testSizes, WithWeightDecay(0.1), WithAdamDecayMask([]bool{true, false, true, true, true})),
	} {
		if err := opt.Step(params, params, 0.1); err == nil || !strings.Contains(err.Error(), "mask") {
			t.Errorf("%T: error %v, want one about the mask", opt, err)
		}
	}
}

// TestEachRange checks that the split of an update covers every index
// exactly once, whether or not it is large enough to split.
func TestEachRange(t *testing.T) {
	for _, n := range []int{0, 1, 1<<16 - 1, 1 << 17, 3<<17 + 5} {
		var mu sync.Mutex
		hits := make([]int, n)
		eachRange(n, func(lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			for i := lo; i < hi; i++ {
				hits[i]++
			}
		})
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d: index %d covered %d times", n, i, h)
			}
		}
	}
}

// TestAllFinite32 puts each non-finite value at each position of slices
// of every length up to 9, which covers the unrolled loop and its tail.
func TestAllFinite32(t *testing.T) {
	for n := range 10 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i) - 3.5
		}
		if !allFinite32(v) {
			t.Errorf("%v: not all finite, want all finite", v)
		}
		for i := range v {
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
				old := v[i]
				v[i] = bad
				if allFinite32(v) {
					t.Errorf("%v: all finite", v)
				}
				v[i] = old
			}
		}
	}
	if !allFinite32([]float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}) {
		t.Error("the largest and smallest finite values: not all finite")
	}
}

// BenchmarkSGDStep is an SGD-momentum step on the parameters of the Madry
// MNIST CNN (3.3 million, most of them fc1's weights).
func BenchmarkSGDStep(b *testing.B) {
	sizes := []int{32 * 25, 32, 64 * 32 * 25, 64, 3136 * 1024, 1024, 1024 * 10, 10}
	r := rand.New(rand.NewPCG(12, 12))
	params, grads := randTensors(r, sizes, 1), randTensors(r, sizes, 1)
	opt := NewSGD(sizes, WithMomentum(0.9))
	for range b.N {
		if err := opt.Step(params, grads, 1e-6); err != nil {
			b.Fatal(err)
		}
	}
}
