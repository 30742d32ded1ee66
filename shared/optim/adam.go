package optim

import (
	"math"
	"slices"
)

// Adam is the Adam optimizer with the update rule and bias correction of
// torch.optim.Adam (amsgrad off). At step t (counting from 1):
//
//	g ← g + wd·p                       (coupled weight decay, WithWeightDecay)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	p ← p − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
//
// With WithDecoupledWeightDecay it is AdamW instead: p ← p·(1 − lr·wd)
// before the update, and the gradient is not changed.
type Adam struct {
	sizes        []int
	beta1, beta2 float64
	eps          float64
	weightDecay  float64
	decoupled    bool
	mask         []bool
	m, v         [][]float32
	steps        int64
}

var _ Optimizer = (*Adam)(nil)

type adamOption func(*Adam)

func (f adamOption) applyAdam(a *Adam) { f(a) }

// WithBetas sets the decay rates of the moment estimates (default 0.9, 0.999).
func WithBetas(beta1, beta2 float64) AdamOption {
	return adamOption(func(a *Adam) { a.beta1, a.beta2 = beta1, beta2 })
}

// WithEpsilon sets the term added to the denominator (default 1e-8).
func WithEpsilon(eps float64) AdamOption { return adamOption(func(a *Adam) { a.eps = eps }) }

// WithDecoupledWeightDecay applies decoupled weight decay as AdamW
// (torch.optim.AdamW): parameters shrink by lr·wd·p each step, independent of
// the adaptive step. It replaces WithWeightDecay; the last given wins.
func WithDecoupledWeightDecay(wd float64) AdamOption {
	return adamOption(func(a *Adam) { a.weightDecay, a.decoupled = wd, true })
}

// WithAdamDecayMask is WithDecayMask for Adam.
func WithAdamDecayMask(mask []bool) AdamOption { return WithDecayMask(mask) }

// NewAdam returns an Adam optimizer for parameter tensors of the given sizes.
func NewAdam(sizes []int, opts ...AdamOption) *Adam {
	a := &Adam{sizes: slices.Clone(sizes), beta1: 0.9, beta2: 0.999, eps: 1e-8}
	for _, o := range opts {
		o.applyAdam(a)
	}
	a.m = zeros(a.sizes)
	a.v = zeros(a.sizes)
	return a
}

// Step implements Optimizer.
func (a *Adam) Step(params, grads [][]float32, lr float64) error {
	if err := checkStep(a.sizes, a.mask, params, grads, lr); err != nil {
		return err
	}
	t := float64(a.steps + 1)
	b1, b2 := a.beta1, a.beta2
	stepSize := lr / (1 - math.Pow(b1, t))
	sqrtBC2 := math.Sqrt(1 - math.Pow(b2, t))
	for i, p := range params {
		g, m, v := grads[i], a.m[i], a.v[i]
		coupled, shrink := 0.0, 1.0
		if decays(a.mask, i) {
			if a.decoupled {
				shrink = 1 - lr*a.weightDecay
			} else {
				coupled = a.weightDecay
			}
		}
		eachRange(len(p), func(lo, hi int) {
			for j := lo; j < hi; j++ {
				pj := float64(p[j]) * shrink
				gj := float64(g[j]) + coupled*float64(p[j])
				mj := float32(b1*float64(m[j]) + (1-b1)*gj)
				vj := float32(b2*float64(v[j]) + (1-b2)*gj*gj)
				m[j], v[j] = mj, vj
				denom := math.Sqrt(float64(vj))/sqrtBC2 + a.eps
				p[j] = float32(pj - stepSize*float64(mj)/denom)
			}
		})
	}
	a.steps++
	return nil
}

// Steps returns the number of successful steps taken.
func (a *Adam) Steps() int64 { return a.steps }

// MarshalBinary implements Optimizer.
func (a *Adam) MarshalBinary() ([]byte, error) {
	return encodeState("adam", a.steps, a.sizes, [][][]float32{a.m, a.v}), nil
}

// UnmarshalBinary implements Optimizer.
func (a *Adam) UnmarshalBinary(data []byte) error {
	steps, bufs, err := decodeState("adam", data, a.sizes, 2)
	if err != nil {
		return err
	}
	a.steps, a.m, a.v = steps, bufs[0], bufs[1]
	return nil
}
