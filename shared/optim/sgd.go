package optim

import (
	"slices"

	"sgn/shared/kernels"
)

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and coupled weight decay, with the update rule of torch.optim.SGD
// (no dampening):
//
//	g ← g + wd·p
//	b ← μ·b + g            (b starts at 0, so the first b is g)
//	d ← g + μ·b if Nesterov, else b
//	p ← p − lr·d
type SGD struct {
	sizes       []int
	momentum    float64
	nesterov    bool
	weightDecay float64
	mask        []bool
	buf         [][]float32 // momentum buffers; nil without momentum
	steps       int64
}

var _ Optimizer = (*SGD)(nil)

type sgdOption func(*SGD)

func (f sgdOption) applySGD(s *SGD) { f(s) }

// WithMomentum sets the momentum factor μ (0.9 is usual; 0, the default,
// disables momentum).
func WithMomentum(m float64) SGDOption { return sgdOption(func(s *SGD) { s.momentum = m }) }

// WithNesterov uses Nesterov momentum. It has no effect without momentum.
func WithNesterov() SGDOption { return sgdOption(func(s *SGD) { s.nesterov = true }) }

// NewSGD returns an SGD optimizer for parameter tensors of the given sizes.
func NewSGD(sizes []int, opts ...SGDOption) *SGD {
	s := &SGD{sizes: slices.Clone(sizes)}
	for _, o := range opts {
		o.applySGD(s)
	}
	if s.momentum != 0 {
		s.buf = zeros(s.sizes)
	}
	return s
}

// Step implements Optimizer.
func (s *SGD) Step(params, grads [][]float32, lr float64) error {
	if err := checkStep(s.sizes, s.mask, params, grads, lr); err != nil {
		return err
	}
	mu := s.momentum
	for i, p := range params {
		g := grads[i]
		wd := 0.0
		if decays(s.mask, i) {
			wd = s.weightDecay
		}
		if s.buf == nil {
			eachRange(len(p), func(lo, hi int) {
				for j := lo; j < hi; j++ {
					d := float64(g[j]) + wd*float64(p[j])
					p[j] = float32(float64(p[j]) - lr*d)
				}
			})
			continue
		}
		b := s.buf[i]
		if s.nesterov {
			eachRange(len(p), func(lo, hi int) {
				for j := lo; j < hi; j++ {
					d := float64(g[j]) + wd*float64(p[j])
					bj := float32(mu*float64(b[j]) + d)
					b[j] = bj
					d += mu * float64(bj)
					p[j] = float32(float64(p[j]) - lr*d)
				}
			})
			continue
		}
		// Momentum without Nesterov's correction, the usual case, in
		// vector code: the scalar loop took 7% of a madry-mnist
		// training step's CPU time.
		eachRange(len(p), func(lo, hi int) {
			kernels.Momentum(p[lo:hi], g[lo:hi], b[lo:hi], wd, mu, lr)
		})
	}
	s.steps++
	return nil
}

// Steps returns the number of successful steps taken.
func (s *SGD) Steps() int64 { return s.steps }

// MarshalBinary implements Optimizer.
func (s *SGD) MarshalBinary() ([]byte, error) {
	var bufs [][][]float32
	if s.buf != nil {
		bufs = [][][]float32{s.buf}
	}
	return encodeState("sgd", s.steps, s.sizes, bufs), nil
}

// UnmarshalBinary implements Optimizer.
func (s *SGD) UnmarshalBinary(data []byte) error {
	nbuf := 0
	if s.buf != nil {
		nbuf = 1
	}
	steps, bufs, err := decodeState("sgd", data, s.sizes, nbuf)
	if err != nil {
		return err
	}
	s.steps = steps
	if nbuf == 1 {
		s.buf = bufs[0]
	}
	return nil
}
