package engine

import (
	"fmt"
	"slices"

	"sgn/shared/attack"
	"sgn/shared/model"
	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
)

// NewVJP compiles (x, cot) -> logits ("logits") and, for each example, the
// gradient of sum_k cot[i,k]*logits[i,k] with respect to its input ("grad"):
// the vector-Jacobian product attacks use for losses computed outside the
// graph (DLR, Carlini-Wagner's objective).
func NewVJP(net *model.Net, batch int, opts ...Option) (*Program, error) {
	f, err := begin(net, batch, opts, "cot", false)
	if err != nil {
		return nil, err
	}
	p, x := f.p, f.x
	prod, err := G.HadamardProd(f.out.Logits, f.t)
	if err != nil {
		return nil, fmt.Errorf("vjp: %w", err)
	}
	sum, err := G.Sum(prod)
	if err != nil {
		return nil, fmt.Errorf("vjp: %w", err)
	}
	grads, err := ops.Grad(sum, x)
	if err != nil {
		return nil, fmt.Errorf("vjp gradient: %w", err)
	}
	p.outs["grad"] = grads[0]
	return p, p.compile()
}

// Oracle adapts compiled programs to attack.Oracle: it splits any number of
// examples into the programs' fixed batches, padding the last one, and
// compiles each program the first time it is needed.
type Oracle struct {
	net    *model.Net
	batch  int
	opts   []Option
	logits *Program
	grads  map[attack.Loss]*Program
	vjp    *Program
	labels []int64
	// holds counts the Holds not released; releases are those of the
	// programs' own holds while it is not zero.
	holds    int
	releases []func()
}

// NewOracle returns an oracle over net running batches of the given size.
// Options (e.g. WithForward for an SGN or an attacker's variant of it) apply
// to every program.
func NewOracle(net *model.Net, batch int, opts ...Option) *Oracle {
	return &Oracle{net: net, batch: batch, opts: opts, grads: map[attack.Loss]*Program{}}
}

// Classes implements attack.Oracle.
func (o *Oracle) Classes() int { return o.net.Config.Classes }

// InputSize implements attack.Oracle.
func (o *Oracle) InputSize() int {
	s := o.net.Config.InShape
	return s[0] * s[1] * s[2]
}

// Fits returns an error if the oracle's programs cannot fit in memory at
// its batch (see WithMemory); a tool asks before it reads any example.
func (o *Oracle) Fits() error {
	c := &config{memory: machineMemory()}
	for _, opt := range o.opts {
		opt(c)
	}
	return fits(o.net, o.batch, c.memory)
}

// InputShape returns the shape of one example, C,H,W.
func (o *Oracle) InputShape() []int { return slices.Clone(o.net.Config.InShape) }

var _ attack.Holder = (*Oracle)(nil)

// Hold implements attack.Holder: until release is called, the caller
// promises that the network's parameters stay as they are, and the
// programs keep what depends on them alone (see Program.Hold) across calls,
// those compiled meanwhile included. Holds nest; call each release once.
func (o *Oracle) Hold() (release func()) {
	if o.holds++; o.holds == 1 {
		for _, p := range o.programs() {
			o.hold(p)
		}
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		if o.holds--; o.holds == 0 {
			for _, r := range o.releases {
				r()
			}
			o.releases = o.releases[:0]
		}
	}
}

// hold holds p while the oracle is held. A program that cannot be held
// computes as before, only packing its weights again on each run.
func (o *Oracle) hold(p *Program) {
	if o.holds == 0 {
		return
	}
	if r, err := p.Hold(); err == nil {
		o.releases = append(o.releases, r)
	}
}

// programs lists the compiled programs.
func (o *Oracle) programs() []*Program {
	var ps []*Program
	for _, p := range []*Program{o.logits, o.vjp} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	for _, p := range o.grads {
		ps = append(ps, p)
	}
	return ps
}

// Close releases the compiled programs.
func (o *Oracle) Close() error {
	for _, p := range []*Program{o.logits, o.vjp} {
		if p != nil {
			p.Close()
		}
	}
	for _, p := range o.grads {
		p.Close()
	}
	return nil
}

// chunks calls f for each batch-sized slice [lo, hi) of n examples.
func (o *Oracle) chunks(n int, f func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += o.batch {
		if err := f(lo, min(lo+o.batch, n)); err != nil {
			return err
		}
	}
	return nil
}

// setImages copies examples [lo,hi) of x into p's input, zero-padding.
func (o *Oracle) setImages(p *Program, name string, x []float32, lo, hi int) error {
	d := o.InputSize()
	buf := p.scratch("pad."+name, o.batch*d)
	copy(buf, x[lo*d:hi*d])
	clear(buf[(hi-lo)*d:])
	return p.Set(name, buf)
}

// Logits implements attack.Oracle.
func (o *Oracle) Logits(x []float32, n int, logits []float32) error {
	if o.logits == nil {
		p, err := NewLogits(o.net, o.batch, o.opts...)
		if err != nil {
			return err
		}
		o.logits = p
		o.hold(p)
	}
	k := o.Classes()
	return o.chunks(n, func(lo, hi int) error {
		if err := o.setImages(o.logits, "x", x, lo, hi); err != nil {
			return err
		}
		if err := o.logits.Run(); err != nil {
			return err
		}
		z, err := o.logits.Output("logits")
		if err != nil {
			return err
		}
		copy(logits[lo*k:hi*k], z)
		return nil
	})
}

// LossGrad implements attack.Oracle.
func (o *Oracle) LossGrad(l attack.Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	p := o.grads[l]
	if p == nil {
		el, err := ParseLoss(string(l))
		if err != nil {
			return err
		}
		if p, err = NewInputGrad(o.net, o.batch, el, o.opts...); err != nil {
			return err
		}
		o.grads[l] = p
		o.hold(p)
	}
	k, d := o.Classes(), o.InputSize()
	return o.chunks(n, func(lo, hi int) error {
		if err := o.setImages(p, "x", x, lo, hi); err != nil {
			return err
		}
		o.labels = append(o.labels[:0], labels[lo:hi]...)
		for len(o.labels) < o.batch {
			o.labels = append(o.labels, -1)
		}
		if err := p.SetLabels(o.labels); err != nil {
			return err
		}
		if err := p.Run(); err != nil {
			return err
		}
		return o.copyOut(p, lo, hi, k, d, loss, grad, logits)
	})
}

// VJP implements attack.Oracle.
func (o *Oracle) VJP(x []float32, cot []float32, n int, grad, logits []float32) error {
	if o.vjp == nil {
		p, err := NewVJP(o.net, o.batch, o.opts...)
		if err != nil {
			return err
		}
		o.vjp = p
		o.hold(p)
	}
	k, d := o.Classes(), o.InputSize()
	return o.chunks(n, func(lo, hi int) error {
		if err := o.setImages(o.vjp, "x", x, lo, hi); err != nil {
			return err
		}
		buf := o.vjp.scratch("pad.cot", o.batch*k)
		copy(buf, cot[lo*k:hi*k])
		clear(buf[(hi-lo)*k:])
		if err := o.vjp.Set("cot", buf); err != nil {
			return err
		}
		if err := o.vjp.Run(); err != nil {
			return err
		}
		return o.copyOut(o.vjp, lo, hi, k, d, nil, grad, logits)
	})
}

func (o *Oracle) copyOut(p *Program, lo, hi, k, d int, loss, grad, logits []float32) error {
	if loss != nil {
		v, err := p.Output("loss")
		if err != nil {
			return err
		}
		copy(loss[lo:hi], v)
	}
	if grad != nil {
		v, err := p.Output("grad")
		if err != nil {
			return err
		}
		copy(grad[lo*d:hi*d], v)
	}
	if logits != nil {
		v, err := p.Output("logits")
		if err != nil {
			return err
		}
		copy(logits[lo*k:hi*k], v)
	}
	return nil
}
