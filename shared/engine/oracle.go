package engine

import (
	"fmt"
	"math/bits"
	"slices"

	"sgn/shared/attack"
	"sgn/shared/model"
	"sgn/shared/ops"

	G "gorgonia.org/gorgonia"
)

// NewVJP compiles x -> logits ("logits") and, for each example, the
// gradient with respect to its input of sum_k c[i,k]*logits[i,k]
// ("grad"), where c is the cotangent the function set by SetCotangent
// writes from the logits during the run, held constant: the gradient of a
// loss computed outside the graph (AutoAttack's DLR loss, FAB's logit
// differences) in one pass.
func NewVJP(net *model.Net, batch int, opts ...Option) (*Program, error) {
	f, err := begin(net, batch, opts, "", false)
	if err != nil {
		return nil, err
	}
	p, x := f.p, f.x
	p.cotangent = new(ops.CotangentSource)
	cot, err := ops.Cotangent(f.out.Logits, p.cotangent)
	if err != nil {
		return nil, fmt.Errorf("vjp: %w", err)
	}
	prod, err := G.HadamardProd(f.out.Logits, cot)
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

// SetCotangent sets the function a program of NewVJP calls, on each run,
// with the logits of the batch to get their cotangent (ops.CotangentFunc).
func (p *Program) SetCotangent(f ops.CotangentFunc) error {
	if p.cotangent == nil {
		return fmt.Errorf("program has no cotangent: not a vector-Jacobian product")
	}
	p.cotangent.F = f
	return nil
}

// Oracle adapts compiled programs to attack.Oracle. It splits any number of
// examples into chunks of at most the batch, all of one size, and runs each
// on a program compiled for the smallest size class that holds it, padding
// the rest: an attack whose unbroken examples thin out to a handful then
// computes on a handful, not on a whole padded batch. Programs are compiled
// the first time a kind and size is needed and kept, the least recently
// used dropped first, while they cost no more memory than four programs
// of the whole batch (see keepBatches).
type Oracle struct {
	net    *model.Net
	batch  int
	opts   []Option
	progs  []*heldProgram // most recently used first
	labels []int64
	// holds counts the Holds not released; while it is not zero every
	// program is held.
	holds int
}

// heldProgram is a compiled program of a kind and, while the oracle is
// held, the release of the program's own hold.
type heldProgram struct {
	kind    string
	p       *Program
	release func()
}

// An oracle keeps the programs it compiled while their cost, counted as
// their sizes plus programOverhead each, is at most keepBatches programs of
// its batch: two kinds (an attack's gradient and its logits) at two sizes
// (all its examples and its survivors), and beside them the small
// programs of a few survivors, which cost little to keep and as much as a
// large one to compile (the graph, its buffers' first page faults, the
// weights packed again). An SGN's gradient program holds about 2.7 MB an
// example. Keeping every kind (AutoAttack's suite: its attacks each use
// their own) grew to 2.1 GB live on 125 examples and 15 GB resident on
// 250; keeping two sizes of a kind compiled APGD-T's VJP of 8 examples six
// times on 25.
const (
	keepBatches     = 4
	programOverhead = 16 // examples' worth: packed weights, transformed filters, the graph
)

// NewOracle returns an oracle over net running chunks of at most batch
// examples. Options (e.g. WithForward for an SGN or an attacker's variant
// of it) apply to every program.
func NewOracle(net *model.Net, batch int, opts ...Option) *Oracle {
	return &Oracle{net: net, batch: batch, opts: opts}
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
		for _, h := range o.progs {
			o.hold(h)
		}
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		if o.holds--; o.holds == 0 {
			for _, h := range o.progs {
				h.unhold()
			}
		}
	}
}

// hold holds h's program while the oracle is held. A program that cannot
// be held computes as before, only packing its weights again on each run.
func (o *Oracle) hold(h *heldProgram) {
	if o.holds == 0 || h.release != nil {
		return
	}
	if r, err := h.p.Hold(); err == nil {
		h.release = r
	}
}

func (h *heldProgram) unhold() {
	if h.release != nil {
		h.release()
		h.release = nil
	}
}

// program returns the program of the given kind for chunks of size
// examples, compiling it with build if the oracle does not keep one.
func (o *Oracle) program(kind string, size int, build func(batch int) (*Program, error)) (*Program, error) {
	for i, h := range o.progs {
		if h.kind == kind && h.p.Batch == size {
			copy(o.progs[1:i+1], o.progs[:i])
			o.progs[0] = h
			return h.p, nil
		}
	}
	p, err := build(size)
	if err != nil {
		return nil, err
	}
	h := &heldProgram{kind: kind, p: p}
	o.hold(h)
	o.progs = slices.Insert(o.progs, 0, h)
	cost := 0
	for _, h := range o.progs {
		cost += h.p.Batch + programOverhead
	}
	for budget := keepBatches * (o.batch + programOverhead); cost > budget && len(o.progs) > 1; {
		cost -= o.progs[len(o.progs)-1].p.Batch + programOverhead
		o.evict(len(o.progs) - 1)
	}
	return p, nil
}

// evict closes the i'th program kept and forgets it.
func (o *Oracle) evict(i int) {
	h := o.progs[i]
	h.unhold()
	h.p.Close()
	o.progs = slices.Delete(o.progs, i, i+1)
}

// Close releases the compiled programs.
func (o *Oracle) Close() error {
	for _, h := range o.progs {
		h.unhold()
		h.p.Close()
	}
	o.progs = nil
	return nil
}

// chunking splits n examples into chunks of at most the batch, all but the
// last of one size, and returns that size and the size class of the
// program that runs them.
func (o *Oracle) chunking(n int) (per, size int) {
	chunks := (n + o.batch - 1) / o.batch
	per = (n + chunks - 1) / chunks
	return per, sizeClass(per, o.batch)
}

// sizeClass rounds n up to the next size programs are compiled for, at
// most batch: a multiple of 4 up to 16, then of an eighth of the next power
// of two, so that padding costs at most a quarter of a chunk beyond 16 and
// the sizes an attack passes through as its survivors thin out are few.
func sizeClass(n, batch int) int {
	q := max(4, 1<<max(0, bits.Len(uint(n))-3))
	return min((n+q-1)/q*q, batch)
}

// chunks calls f for each chunk [lo, hi) of n examples, to run on a program
// of size examples.
func (o *Oracle) chunks(n int, f func(lo, hi, size int) error) error {
	if o.batch < 1 {
		return fmt.Errorf("oracle: batch %d: want at least 1", o.batch)
	}
	if n <= 0 {
		return nil
	}
	per, size := o.chunking(n)
	for lo := 0; lo < n; lo += per {
		if err := f(lo, min(lo+per, n), size); err != nil {
			return err
		}
	}
	return nil
}

// setImages copies examples [lo,hi) of x into p's input, zero-padding.
func (o *Oracle) setImages(p *Program, name string, x []float32, lo, hi int) error {
	d := o.InputSize()
	buf := p.scratch("pad."+name, p.Batch*d)
	copy(buf, x[lo*d:hi*d])
	clear(buf[(hi-lo)*d:])
	return p.Set(name, buf)
}

// Logits implements attack.Oracle.
func (o *Oracle) Logits(x []float32, n int, logits []float32) error {
	k := o.Classes()
	return o.chunks(n, func(lo, hi, size int) error {
		p, err := o.program("logits", size, func(batch int) (*Program, error) {
			return NewLogits(o.net, batch, o.opts...)
		})
		if err != nil {
			return err
		}
		if err := o.setImages(p, "x", x, lo, hi); err != nil {
			return err
		}
		if err := p.Run(); err != nil {
			return err
		}
		z, err := p.Output("logits")
		if err != nil {
			return err
		}
		copy(logits[lo*k:hi*k], z)
		return nil
	})
}

// LossGrad implements attack.Oracle.
func (o *Oracle) LossGrad(l attack.Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	el, err := ParseLoss(string(l))
	if err != nil {
		return err
	}
	k, d := o.Classes(), o.InputSize()
	return o.chunks(n, func(lo, hi, size int) error {
		p, err := o.program("grad."+string(el), size, func(batch int) (*Program, error) {
			return NewInputGrad(o.net, batch, el, o.opts...)
		})
		if err != nil {
			return err
		}
		if err := o.setImages(p, "x", x, lo, hi); err != nil {
			return err
		}
		o.labels = append(o.labels[:0], labels[lo:hi]...)
		for len(o.labels) < p.Batch {
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
func (o *Oracle) VJP(x []float32, n int, cotangent func(i int, z, c []float32), grad, logits []float32) error {
	k, d := o.Classes(), o.InputSize()
	return o.chunks(n, func(lo, hi, size int) error {
		p, err := o.program("vjp", size, func(batch int) (*Program, error) {
			return NewVJP(o.net, batch, o.opts...)
		})
		if err != nil {
			return err
		}
		if err := o.setImages(p, "x", x, lo, hi); err != nil {
			return err
		}
		// Padding rows keep the zero cotangent they come with.
		if err := p.SetCotangent(func(z, c []float32) {
			for r := range hi - lo {
				cotangent(lo+r, z[r*k:(r+1)*k], c[r*k:(r+1)*k])
			}
		}); err != nil {
			return err
		}
		if err := p.Run(); err != nil {
			return err
		}
		return o.copyOut(p, lo, hi, k, d, nil, grad, logits)
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
