package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// APGD is Auto-PGD (Croce and Hein, "Reliable evaluation of adversarial
// robustness with an ensemble of diverse parameter-free attacks", ICML
// 2020), following the reference implementation
// (github.com/fra31/auto-attack, autoattack/autopgd_base.py,
// APGDAttack.attack_single_run and perturb):
//
//   - start: x0 + Eps·t/‖t‖ with t uniform in [-1,1]^d (L∞) or Gaussian (L2),
//     clipped to [0, 1];
//   - step size η = 2·Eps per example; momentum 0.75 (none at the first step):
//     z = Π(x + η·dir(∇)), x ← Π(x + 0.75(z - x) + 0.25(x - x_prev));
//   - checkpoints every k iterations, k starting at 0.22·Steps and shrinking
//     by 0.03·Steps down to 0.06·Steps (integer parts, at least 1): if the
//     loss rose in at most Rho·k of the last k steps, or the step size was
//     not halved at the previous checkpoint and the best loss has not
//     improved since, the step is halved and the iterate and its gradient
//     are reset to the best point;
//   - restarts only on examples not yet misclassified.
//
// For L1 it is APGD-L1 (see runL1). Deviations, both for correctness: the oscillation count at the first
// checkpoint compares the first step with the loss at the starting point
// (the reference compares with an unwritten zero), and Π is the exact L2
// projection onto the ball intersected with [0, 1] (the reference rescales
// onto the ball, then clips).
//
// An example counts as broken if any iterate misclassifies it; the last
// misclassified iterate is returned, or with EarlyStop (L∞ and L2) the
// first, at which the example stops being attacked. Otherwise the
// highest-loss point over all restarts is returned; examples misclassified
// at x0 are returned unchanged.
type APGD struct {
	Norm     Norm    // Linf (default), L2 or L1
	Eps      float64 // radius of the ball
	Steps    int     // iterations per restart; 0 means 100
	Restarts int     // 0 means 1
	Loss     Loss    // LossCE (default; LossDLR when Targeted), LossDLR or LossCW
	Rho      float64 // oscillation threshold; 0 means 0.75
	// Targeted runs, per target class, Restarts runs on a targeted loss
	// (see PGD.Targeted): with LossDLR this is APGD-T of AutoAttack, the
	// targeted DLR loss -(z_y - z_t)/(z_π1 - (z_π3 + z_π4)/2), each
	// example's t its r-th most likely wrong class at x0 in the r-th run.
	Targeted bool
	// Targets is the number of target classes; 0 means DefaultTargets. It
	// is capped at K-1.
	Targets int
	// LargeEps runs L1 in three phases at 3·Eps, 2·Eps and Eps (30%, 30%
	// and 40% of Steps), each starting where the last one ended, as
	// AutoAttack's standard L1 evaluation does (use_largereps).
	LargeEps bool
	// EarlyStop, in L∞ and L2, stops attacking an example at its first
	// misclassified iterate and returns it: the reference runs every step
	// on every example of a batch, which changes the point returned but
	// not whether the example is broken (an example's iterates do not
	// depend on the others'), at more oracle calls.
	EarlyStop bool
}

func (a APGD) withDefaults() APGD {
	if a.Norm == "" {
		a.Norm = Linf
	}
	if a.Loss == "" {
		a.Loss = LossCE
		if a.Targeted {
			a.Loss = LossDLR
		}
	}
	if a.Steps == 0 {
		a.Steps = 100
	}
	if a.Restarts == 0 {
		a.Restarts = 1
	}
	if a.Rho == 0 {
		a.Rho = 0.75
	}
	if a.Targeted && a.Targets == 0 {
		a.Targets = DefaultTargets
	}
	if !a.Targeted {
		a.Targets = 0
	}
	if a.Norm != L1 {
		a.LargeEps = false
	}
	return a
}

// Name returns "apgd".
func (a APGD) Name() string { return "apgd" }

// Params returns the effective parameters.
func (a APGD) Params() map[string]string {
	a = a.withDefaults()
	p := map[string]string{
		"norm":     string(a.Norm),
		"eps":      fmtFloat(a.Eps),
		"steps":    strconv.Itoa(a.Steps),
		"restarts": strconv.Itoa(a.Restarts),
		"loss":     string(a.Loss),
		"rho":      fmtFloat(a.Rho),
	}
	addTargets(p, a.Targeted, a.Targets)
	if a.LargeEps {
		p["large_eps"] = "true"
	}
	if a.EarlyStop && a.Norm != L1 {
		p["early_stop"] = "true"
	}
	return p
}

// apgdRun holds the state of one APGD run on m active examples.
type apgdRun struct {
	a                   APGD
	d, k                int
	eval                *evaluator
	x0                  []float32
	y, t                []int64 // labels and, targeted, targets
	xadv, xold, z, grad []float32
	xbest, gbest, xmis  []float32
	logits              []float32
	loss, lossBest      []float64
	hist                []float64 // (Steps+1)×m losses, row t after t steps
	broken              []bool
	step                []float64
	geo                 scratch
	// live lists the rows still attacked; evaluate computes only those.
	// The scratch rows below hold them gathered when some have left.
	live       []int
	xs, gs, zs []float32
	ys, ts     []int64
	ls         []float64
	// outside marks the phases of LargeEps beyond Eps, whose
	// misclassified iterates do not count.
	outside bool
}

// Run returns the adversarial examples in a new slice.
func (a APGD) Run(o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) ([]float32, error) {
	d, k, err := checkBatch(o, x0, labels, n)
	if err != nil {
		return nil, err
	}
	defer hold(o)()
	a = a.withDefaults()
	if err := checkBudget(a.Norm, a.Eps, true); err != nil {
		return nil, err
	}
	if err := checkLoss(a.Loss, k, a.Targeted); err != nil {
		return nil, err
	}
	if err := checkTargets(a.Targeted, a.Targets); err != nil {
		return nil, err
	}
	if a.Steps < 0 || a.Restarts < 0 || !(a.Rho > 0 && a.Rho <= 1) {
		return nil, fmt.Errorf("attack: apgd needs non-negative steps and restarts and rho in (0, 1], got %d, %d, %v", a.Steps, a.Restarts, a.Rho)
	}
	ev := &evaluator{o: o, d: d, k: k}
	xadv := make([]float32, len(x0))
	copy(xadv, x0)
	if n == 0 {
		return xadv, nil
	}
	logits := make([]float32, n*k)
	if err := callLogits(o, x0, n, logits); err != nil {
		return nil, err
	}
	robust := make([]bool, n)
	bestLoss := make([]float64, n)
	for i := range n {
		robust[i] = Predict(logits[i*k:(i+1)*k]) == int(labels[i])
		bestLoss[i] = math.Inf(-1)
	}
	var order []int64
	targets := 1
	if a.Targeted {
		order = make([]int64, n*(k-1))
		targetOrder(order, logits, labels, n, k)
		targets = min(a.Targets, k-1)
	}
	idx := make([]int, 0, n)
	for rank := range targets {
		for range a.Restarts {
			idx = idx[:0]
			for i := range n {
				if robust[i] {
					idx = append(idx, i)
				}
			}
			if len(idx) == 0 {
				return xadv, nil
			}
			r := newAPGDRun(a, ev, x0, labels, idx, d, k)
			if a.Targeted {
				r.t = make([]int64, len(idx))
				for j, i := range idx {
					r.t[j] = order[i*(k-1)+rank]
				}
				// Losses of different targets do not compare.
				for _, i := range idx {
					bestLoss[i] = math.Inf(-1)
				}
			}
			var err error
			if a.Norm == L1 {
				err = r.runL1(rng)
			} else {
				err = r.run(rng)
			}
			if err != nil {
				return nil, err
			}
			for j, i := range idx {
				switch {
				case r.broken[j]:
					robust[i] = false
					copy(xadv[i*d:(i+1)*d], r.xmis[j*d:(j+1)*d])
				case r.lossBest[j] > bestLoss[i]:
					bestLoss[i] = r.lossBest[j]
					copy(xadv[i*d:(i+1)*d], r.xbest[j*d:(j+1)*d])
				}
			}
		}
	}
	return xadv, nil
}

func newAPGDRun(a APGD, ev *evaluator, x0 []float32, labels []int64, idx []int, d, k int) *apgdRun {
	m := len(idx)
	r := &apgdRun{a: a, d: d, k: k, eval: ev}
	r.x0 = make([]float32, m*d)
	gather(r.x0, x0, idx, d)
	r.y = make([]int64, m)
	gather(r.y, labels, idx, 1)
	for _, p := range []*[]float32{&r.xadv, &r.xold, &r.z, &r.grad, &r.xbest, &r.gbest, &r.xmis} {
		*p = make([]float32, m*d)
	}
	r.logits = make([]float32, m*k)
	r.loss = make([]float64, m)
	r.lossBest = make([]float64, m)
	r.hist = make([]float64, (a.Steps+1)*m)
	r.broken = make([]bool, m)
	r.step = make([]float64, m)
	r.live = make([]int, m)
	for j := range r.live {
		r.live[j] = j
	}
	return r
}

// evaluate computes the loss, gradient and logits at r.xadv and records
// the misclassified iterates.
func (r *apgdRun) evaluate() error {
	if len(r.live) == len(r.y) {
		if err := r.eval.lossGrad(r.a.Loss, r.xadv, r.y, r.t, len(r.y), r.grad, r.logits, r.loss); err != nil {
			return err
		}
	} else if err := r.evaluateLive(); err != nil {
		return err
	}
	if !r.outside {
		r.markBroken()
	}
	return nil
}

// evaluateLive is evaluate's computation on the live rows alone, gathered
// and scattered back.
func (r *apgdRun) evaluateLive() error {
	d, k, m := r.d, r.k, len(r.live)
	r.xs, r.gs, r.zs = grow(r.xs, m*d), grow(r.gs, m*d), grow(r.zs, m*k)
	r.ys, r.ls = grow(r.ys, m), grow(r.ls, m)
	gather(r.xs, r.xadv, r.live, d)
	gather(r.ys, r.y, r.live, 1)
	var t []int64
	if r.t != nil {
		r.ts = grow(r.ts, m)
		gather(r.ts, r.t, r.live, 1)
		t = r.ts
	}
	if err := r.eval.lossGrad(r.a.Loss, r.xs, r.ys, t, m, r.gs, r.zs, r.ls); err != nil {
		return err
	}
	for q, j := range r.live {
		copy(r.grad[j*d:(j+1)*d], r.gs[q*d:(q+1)*d])
		copy(r.logits[j*k:(j+1)*k], r.zs[q*k:(q+1)*k])
		r.loss[j] = r.ls[q]
	}
	return nil
}

// dropBroken stops attacking the rows broken so far.
func (r *apgdRun) dropBroken() {
	live := r.live[:0]
	for _, j := range r.live {
		if !r.broken[j] {
			live = append(live, j)
		}
	}
	r.live = live
}

// keepBest records the iterates that raise an example's best loss.
func (r *apgdRun) keepBest() {
	d := r.d
	for _, j := range r.live {
		if r.loss[j] > r.lossBest[j] {
			r.lossBest[j] = r.loss[j]
			copy(r.xbest[j*d:(j+1)*d], r.xadv[j*d:(j+1)*d])
			copy(r.gbest[j*d:(j+1)*d], r.grad[j*d:(j+1)*d])
		}
	}
}

// run performs one APGD run from a random start.
func (r *apgdRun) run(rng *rand.Rand) error {
	a, d := r.a, r.d
	m := len(r.y)
	for j := range m {
		randomDirection(a.Norm, r.xadv[j*d:(j+1)*d], r.x0[j*d:(j+1)*d], a.Eps, rng)
	}
	if err := r.evaluate(); err != nil {
		return err
	}
	copy(r.xbest, r.xadv)
	copy(r.gbest, r.grad)
	copy(r.lossBest, r.loss)
	copy(r.hist[:m], r.loss)
	copy(r.xold, r.xadv)
	for j := range m {
		r.step[j] = 2 * a.Eps
	}
	checks := apgdCheckpoints(a.Steps)
	last := 0 // iterations done at the previous checkpoint
	lastBest := make([]float64, m)
	copy(lastBest, r.lossBest)
	reduced := make([]bool, m)
	for j := range reduced {
		reduced[j] = true
	}
	if a.EarlyStop {
		r.dropBroken()
	}
	for i := range a.Steps {
		if len(r.live) == 0 {
			break
		}
		mom := 0.75
		if i == 0 {
			mom = 1
		}
		for _, j := range r.live {
			x, xo, z, x0 := r.xadv[j*d:(j+1)*d], r.xold[j*d:(j+1)*d], r.z[j*d:(j+1)*d], r.x0[j*d:(j+1)*d]
			copy(z, x)
			ascend(a.Norm, z, r.grad[j*d:(j+1)*d], r.step[j], &r.geo)
			project(a.Norm, z, x0, a.Eps, &r.geo)
			for c := range x {
				xc := float64(x[c])
				next := xc + mom*(float64(z[c])-xc) + (1-mom)*(xc-float64(xo[c]))
				xo[c], x[c] = x[c], float32(next)
			}
			project(a.Norm, x, x0, a.Eps, &r.geo)
		}
		if err := r.evaluate(); err != nil {
			return err
		}
		copy(r.hist[(i+1)*m:(i+2)*m], r.loss)
		r.keepBest()
		if a.EarlyStop {
			r.dropBroken()
		}
		if len(checks) == 0 || i+1 != checks[0] {
			continue
		}
		window := checks[0] - last
		last, checks = checks[0], checks[1:]
		for _, j := range r.live {
			rises := 0
			for c := range window {
				if r.hist[(i+1-c)*m+j] > r.hist[(i-c)*m+j] {
					rises++
				}
			}
			oscillating := float64(rises) <= float64(window)*a.Rho
			stalled := !reduced[j] && lastBest[j] >= r.lossBest[j]
			reduced[j] = oscillating || stalled
			lastBest[j] = r.lossBest[j]
			if reduced[j] {
				r.step[j] /= 2
				copy(r.xadv[j*d:(j+1)*d], r.xbest[j*d:(j+1)*d])
				copy(r.grad[j*d:(j+1)*d], r.gbest[j*d:(j+1)*d])
			}
		}
	}
	return nil
}

// runL1 performs one APGD-L1 run (Croce and Hein, "Mind the box: l1-APGD
// for sparse adversarial attacks on image classifiers", ICML 2021),
// following the reference implementation's L1 branch:
//
//   - start: x0 plus standard normal noise, projected onto the L1 ball and
//     [0, 1] (see randomStart);
//   - steps without momentum: the sparse step of sparseStep over the top
//     share topk of coordinates, topk starting at 0.2, then the exact
//     projection;
//   - every max(int(0.04·Steps), 1) iterations, with s the number of
//     coordinates the best point changes: if s fell below 95% of its value
//     at the previous check, the step size returns to Eps and the iterate
//     and its gradient to the best point, otherwise the step size is
//     divided by 1.5 (within [Eps/10, Eps]); topk becomes s/(1.5·d).
//
// With LargeEps it runs the three phases of AutoAttack's use_largereps.
func (r *apgdRun) runL1(rng *rand.Rand) error {
	a := r.a
	d, m := r.d, len(r.y)
	epss, steps := []float64{a.Eps}, []int{a.Steps}
	if a.LargeEps {
		s1 := int(math.Ceil(0.3 * float64(a.Steps)))
		epss = []float64{3 * a.Eps, 2 * a.Eps, a.Eps}
		steps = []int{s1, s1, max(a.Steps-2*s1, 0)}
	}
	for j := range m {
		randomStart(L1, r.xadv[j*d:(j+1)*d], r.x0[j*d:(j+1)*d], epss[0], rng, &r.geo)
	}
	topk := make([]float64, m)
	spOld := make([]float64, m)
	for j := range m {
		topk[j], spOld[j] = 0.2, float64(d)
	}
	for phase, eps := range epss {
		if phase > 0 {
			// Start from the last phase's best point, inside the smaller
			// ball, with the sparsity it found.
			for j := range m {
				x := r.xadv[j*d : (j+1)*d]
				copy(x, r.xbest[j*d:(j+1)*d])
				project(L1, x, r.x0[j*d:(j+1)*d], eps, &r.geo)
				sp := float64(changed(x, r.x0[j*d:(j+1)*d]))
				topk[j], spOld[j] = sp/float64(d)/1.5, sp
			}
		}
		r.outside = eps > a.Eps
		if err := r.l1Phase(eps, steps[phase], topk, spOld); err != nil {
			return err
		}
	}
	return nil
}

// l1Phase runs APGD-L1 for steps iterations at radius eps from r.xadv.
func (r *apgdRun) l1Phase(eps float64, steps int, topk, spOld []float64) error {
	d, m := r.d, len(r.y)
	if err := r.evaluate(); err != nil {
		return err
	}
	copy(r.xbest, r.xadv)
	copy(r.gbest, r.grad)
	copy(r.lossBest, r.loss)
	for j := range m {
		r.step[j] = eps
	}
	period := max(int(0.04*float64(steps)), 1)
	for i := range steps {
		for j := range m {
			x := r.xadv[j*d : (j+1)*d]
			sparseStep(x, r.grad[j*d:(j+1)*d], r.step[j], topk[j], &r.geo)
			project(L1, x, r.x0[j*d:(j+1)*d], eps, &r.geo)
		}
		if err := r.evaluate(); err != nil {
			return err
		}
		r.keepBest()
		if (i+1)%period != 0 {
			continue
		}
		for j := range m {
			sp := float64(changed(r.xbest[j*d:(j+1)*d], r.x0[j*d:(j+1)*d]))
			shrunk := sp/spOld[j] < 0.95
			topk[j], spOld[j] = sp/float64(d)/1.5, sp
			if shrunk {
				r.step[j] = eps
				copy(r.xadv[j*d:(j+1)*d], r.xbest[j*d:(j+1)*d])
				copy(r.grad[j*d:(j+1)*d], r.gbest[j*d:(j+1)*d])
			} else {
				r.step[j] /= 1.5
			}
			r.step[j] = clamp(r.step[j], eps/10, eps)
		}
	}
	return nil
}

// changed returns the number of coordinates where x differs from x0.
func changed(x, x0 []float32) int {
	c := 0
	for i, v := range x {
		if v != x0[i] {
			c++
		}
	}
	return c
}

// apgdCheckpoints returns the iteration counts after which APGD checks its
// step size, as the reference computes them: a first window of
// int(0.22·steps) iterations, each next one shorter by int(0.03·steps) but
// at least int(0.06·steps) (all at least 1).
func apgdCheckpoints(steps int) []int {
	window := max(int(0.22*float64(steps)), 1)
	minWindow := max(int(0.06*float64(steps)), 1)
	decr := max(int(0.03*float64(steps)), 1)
	var out []int
	for at := window; at <= steps; at += window {
		out = append(out, at)
		window = max(window-decr, minWindow)
	}
	return out
}

// markBroken records the current iterates that are misclassified.
func (r *apgdRun) markBroken() {
	d, k := r.d, r.k
	for _, j := range r.live {
		if Predict(r.logits[j*k:(j+1)*k]) != int(r.y[j]) {
			r.broken[j] = true
			copy(r.xmis[j*d:(j+1)*d], r.xadv[j*d:(j+1)*d])
		}
	}
}

// randomDirection writes x0 + eps·t/‖t‖, clipped to [0, 1], to x: t is
// uniform in [-1, 1]^d normalised by its L∞ norm for Linf, Gaussian
// normalised by its L2 norm for L2, so the start lies on the sphere.
func randomDirection(norm Norm, x, x0 []float32, eps float64, rng *rand.Rand) {
	var size float64
	for i := range x {
		var t float64
		if norm == Linf {
			t = 2*rng.Float64() - 1
			size = math.Max(size, math.Abs(t))
		} else {
			t = rng.NormFloat64()
			size += t * t
		}
		x[i] = float32(t)
	}
	if norm == L2 {
		size = math.Sqrt(size)
	}
	s := eps / (size + 1e-12)
	for i := range x {
		x[i] = float32(float64(x0[i]) + s*float64(x[i]))
	}
	// Clipping to [0, 1] would do; projecting also absorbs float32
	// rounding of t.
	project(norm, x, x0, eps, nil)
}
