package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// model is a differentiable classifier in float64, for test oracles.
type model interface {
	classes() int
	size() int
	// forward writes the logits of one example.
	forward(x, z []float64)
	// backward writes d(cot·z)/dx for one example.
	backward(x, cot, g []float64)
}

// linear is z = W x + b.
type linear struct {
	k, d int
	w, b []float64 // w is k×d
}

func newLinear(k, d int, rng *rand.Rand) *linear {
	m := &linear{k: k, d: d, w: make([]float64, k*d), b: make([]float64, k)}
	for i := range m.w {
		m.w[i] = rng.NormFloat64()
	}
	for i := range m.b {
		m.b[i] = rng.NormFloat64()
	}
	return m
}

func (m *linear) classes() int { return m.k }
func (m *linear) size() int    { return m.d }

func (m *linear) forward(x, z []float64) {
	for j := range m.k {
		s := m.b[j]
		for i, v := range x {
			s += m.w[j*m.d+i] * v
		}
		z[j] = s
	}
}

func (m *linear) backward(_, cot, g []float64) {
	clear(g)
	for j, c := range cot {
		for i := range g {
			g[i] += c * m.w[j*m.d+i]
		}
	}
}

// tanhNet is z = B tanh(A x + a) + b.
type tanhNet struct {
	k, d, h    int
	a, ab      []float64 // h×d, h
	bw, bb     []float64 // k×h, k
	hid, gpre  []float64 // scratch
	hiddenGrad []float64
}

func newTanhNet(k, d, h int, rng *rand.Rand) *tanhNet {
	m := &tanhNet{k: k, d: d, h: h,
		a: make([]float64, h*d), ab: make([]float64, h),
		bw: make([]float64, k*h), bb: make([]float64, k),
		hid: make([]float64, h), gpre: make([]float64, h), hiddenGrad: make([]float64, h)}
	for i := range m.a {
		m.a[i] = rng.NormFloat64() * 2 / math.Sqrt(float64(d))
	}
	for i := range m.ab {
		m.ab[i] = rng.NormFloat64()
	}
	for i := range m.bw {
		m.bw[i] = rng.NormFloat64() * 2
	}
	for i := range m.bb {
		m.bb[i] = rng.NormFloat64() * 0.1
	}
	return m
}

func (m *tanhNet) classes() int { return m.k }
func (m *tanhNet) size() int    { return m.d }

func (m *tanhNet) hidden(x []float64) {
	for u := range m.h {
		s := m.ab[u]
		for i, v := range x {
			s += m.a[u*m.d+i] * v
		}
		m.hid[u] = math.Tanh(s)
	}
}

func (m *tanhNet) forward(x, z []float64) {
	m.hidden(x)
	for j := range m.k {
		s := m.bb[j]
		for u, v := range m.hid {
			s += m.bw[j*m.h+u] * v
		}
		z[j] = s
	}
}

func (m *tanhNet) backward(x, cot, g []float64) {
	m.hidden(x)
	for u := range m.h {
		var s float64
		for j, c := range cot {
			s += c * m.bw[j*m.h+u]
		}
		m.gpre[u] = s * (1 - m.hid[u]*m.hid[u])
	}
	clear(g)
	for u, c := range m.gpre {
		for i := range g {
			g[i] += c * m.a[u*m.d+i]
		}
	}
}

// lossCot64 returns loss l of logits z for label y, and writes dl/dz to cot,
// all in float64 and independently of the package's code.
func lossCot64(l Loss, z []float64, y int, cot []float64) float64 {
	clear(cot)
	switch l {
	case LossCE:
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		var s float64
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		for j, v := range z {
			cot[j] = math.Exp(v-mx) / s
		}
		cot[y]--
		return mx + math.Log(s) - z[y]
	case LossCW:
		o := -1
		for j, v := range z {
			if j != y && (o < 0 || v > z[o]) {
				o = j
			}
		}
		cot[o], cot[y] = 1, -1
		return z[o] - z[y]
	}
	panic("unknown loss " + string(l))
}

// oracle adapts a model to Oracle without allocating, and counts calls.
type oracle struct {
	m             model
	x, z, cot, g  []float64
	logitCalls    int
	gradientCalls int
	gradExamples  int // examples passed to LossGrad and VJP
	queries       int // examples passed to Logits
}

func newOracle(m model) *oracle {
	return &oracle{m: m, x: make([]float64, m.size()), z: make([]float64, m.classes()),
		cot: make([]float64, m.classes()), g: make([]float64, m.size())}
}

func (o *oracle) Classes() int   { return o.m.classes() }
func (o *oracle) InputSize() int { return o.m.size() }

func (o *oracle) check(x []float32, n int, outs ...int) error {
	d, k := o.m.size(), o.m.classes()
	if len(x) != n*d {
		return fmt.Errorf("x has %d values, want %d", len(x), n*d)
	}
	want := []int{n * k, n * d, n}
	for i, l := range outs {
		if l != want[i] {
			return fmt.Errorf("buffer %d has %d values, want %d", i, l, want[i])
		}
	}
	return nil
}

func (o *oracle) load(x []float32, i int) {
	d := o.m.size()
	for c := range d {
		o.x[c] = float64(x[i*d+c])
	}
}

func (o *oracle) store(logits []float32, grad []float32, i int) {
	k, d := o.m.classes(), o.m.size()
	for j := range k {
		logits[i*k+j] = float32(o.z[j])
	}
	if grad != nil {
		for c := range d {
			grad[i*d+c] = float32(o.g[c])
		}
	}
}

func (o *oracle) Logits(x []float32, n int, logits []float32) error {
	if err := o.check(x, n, len(logits)); err != nil {
		return err
	}
	o.logitCalls++
	o.queries += n
	for i := range n {
		o.load(x, i)
		o.m.forward(o.x, o.z)
		o.store(logits, nil, i)
	}
	return nil
}

func (o *oracle) LossGrad(l Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	if err := o.check(x, n, len(logits), len(grad), len(loss)); err != nil {
		return err
	}
	if len(labels) != n {
		return fmt.Errorf("%d labels for %d examples", len(labels), n)
	}
	if l != LossCE && l != LossCW {
		return fmt.Errorf("no graph for loss %q", l)
	}
	o.gradientCalls++
	o.gradExamples += n
	for i := range n {
		o.load(x, i)
		o.m.forward(o.x, o.z)
		loss[i] = float32(lossCot64(l, o.z, int(labels[i]), o.cot))
		o.m.backward(o.x, o.cot, o.g)
		o.store(logits, grad, i)
	}
	return nil
}

func (o *oracle) VJP(x []float32, n int, cotangent func(i int, z, c []float32), grad, logits []float32) error {
	k := o.m.classes()
	if err := o.check(x, n, len(logits), len(grad)); err != nil {
		return err
	}
	o.gradientCalls++
	o.gradExamples += n
	z, c := make([]float32, k), make([]float32, k)
	for i := range n {
		o.load(x, i)
		o.m.forward(o.x, o.z)
		for j, v := range o.z {
			z[j] = float32(v)
		}
		clear(c)
		cotangent(i, z, c)
		for j, v := range c {
			o.cot[j] = float64(v)
		}
		o.m.backward(o.x, o.cot, o.g)
		o.store(logits, grad, i)
	}
	return nil
}

// TestOracleGradients checks the test oracles' analytic gradients against
// central differences of their float64 forward passes.
func TestOracleGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		m    model
	}{
		{"linear", newLinear(4, 7, rng)},
		{"tanh", newTanhNet(5, 6, 8, rng)},
	} {
		for _, l := range []Loss{LossCE, LossCW} {
			t.Run(tc.name+"/"+string(l), func(t *testing.T) {
				d, k := tc.m.size(), tc.m.classes()
				x := make([]float64, d)
				for i := range x {
					x[i] = rng.Float64()
				}
				z, cot, g := make([]float64, k), make([]float64, k), make([]float64, d)
				y := rng.IntN(k)
				f := func(x []float64) float64 {
					tc.m.forward(x, z)
					return lossCot64(l, z, y, cot)
				}
				f(x)
				tc.m.backward(x, cot, g)
				const h = 1e-6
				for i := range d {
					xp := append([]float64(nil), x...)
					xm := append([]float64(nil), x...)
					xp[i] += h
					xm[i] -= h
					fd := (f(xp) - f(xm)) / (2 * h)
					if math.Abs(fd-g[i]) > 1e-6*(1+math.Abs(fd)) {
						t.Errorf("coordinate %d: analytic %v, finite difference %v", i, g[i], fd)
					}
				}
			})
		}
	}
}
