package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// PGD is projected gradient ascent on a loss (Madry et al., "Towards Deep
// Learning Models Resistant to Adversarial Attacks", 2018):
// x ← Π(x + Alpha·dir(∇loss)), dir = sign for L∞ and g/‖g‖₂ for L2, where Π
// is the exact Euclidean projection onto the Eps-ball around x0 intersected
// with [0, 1] (see projectL2 for L2).
//
// Unless LastIterate is set, it keeps per example the worst case over the
// clean input and every iterate of every restart: a misclassified point
// beats a correctly classified one, and otherwise the higher loss wins (the
// loss is computed from the logits in float64). Examples misclassified at
// x0 are returned unchanged and those misclassified by a run are not
// attacked by later ones, which changes nothing for accuracy and saves
// oracle calls; with EarlyStop an example stops at its first misclassified
// iterate, within a run too.
// Each run draws the random starts of all n examples, so run r starts
// where a single-run call would after r-1 others on the same rng.
//
// Targeted, it ascends a targeted loss (see Targeted) once per target
// class, Restarts runs each: example i's r-th run aims at its r-th most
// likely wrong class at x0. Success is still misclassification, as in
// AutoAttack: reaching another wrong class than the target counts.
//
// Cost: Steps gradient calls per run (VJP calls for LossDLR) and, unless
// LastIterate, one Logits call for x0 and one per run for its last
// iterate.
type PGD struct {
	Norm        Norm    // Linf (default), L2 or L1
	Eps         float64 // radius of the ball
	Alpha       float64 // step size; 0 means 2.5·Eps/Steps
	Steps       int     // gradient steps per restart; 0 means 10
	RandomStart bool    // start uniformly inside the ball instead of at x0
	// Restarts is the number of runs from independent random starts; 0
	// means 1. Without RandomStart every run would be the same, so there
	// is only one.
	Restarts int
	Loss     Loss // LossCE (default), LossCW or LossDLR
	// LastIterate returns the final iterate of a single run, without
	// evaluating it or keeping the worst case: what adversarial training
	// uses, one oracle call per step.
	LastIterate bool
	// EarlyStop stops attacking an example at its first misclassified
	// iterate and returns that iterate, not the worst one: whether an
	// example is broken stays the same (an example's iterates do not depend
	// on the others'), at fewer oracle calls. It has no effect with
	// LastIterate.
	EarlyStop bool
	// Targeted makes the loss targeted: for target t, LossCE ascends
	// log p_t, LossCW the margin z_t - max_{j≠t} z_j and LossDLR the
	// targeted DLR loss of APGD-T (four classes or more).
	Targeted bool
	// Targets is the number of target classes tried, the most likely wrong
	// ones first; 0 means DefaultTargets. It is capped at K-1.
	Targets int
}

func (a PGD) withDefaults() PGD {
	if a.Norm == "" {
		a.Norm = Linf
	}
	if a.Loss == "" {
		a.Loss = LossCE
	}
	if a.Steps == 0 {
		a.Steps = 10
	}
	if a.Alpha == 0 && a.Steps > 0 {
		a.Alpha = 2.5 * a.Eps / float64(a.Steps)
	}
	if a.Restarts == 0 || !a.RandomStart || a.LastIterate {
		a.Restarts = 1
	}
	if a.Targeted && a.Targets == 0 {
		a.Targets = DefaultTargets
	}
	if !a.Targeted {
		a.Targets = 0
	}
	return a
}

func (a PGD) check(k int) error {
	if err := checkBudget(a.Norm, a.Eps, true); err != nil {
		return err
	}
	if err := checkLoss(a.Loss, k, a.Targeted); err != nil {
		return err
	}
	if err := checkTargets(a.Targeted, a.Targets); err != nil {
		return err
	}
	if a.Steps < 0 || a.Restarts < 0 || !(a.Alpha >= 0) {
		return fmt.Errorf("attack: pgd needs non-negative steps, restarts and alpha, got %d, %d, %v", a.Steps, a.Restarts, a.Alpha)
	}
	return nil
}

// Name returns "pgd".
func (a PGD) Name() string { return "pgd" }

// Params returns the effective parameters.
func (a PGD) Params() map[string]string {
	a = a.withDefaults()
	p := map[string]string{
		"norm":         string(a.Norm),
		"eps":          fmtFloat(a.Eps),
		"alpha":        fmtFloat(a.Alpha),
		"steps":        strconv.Itoa(a.Steps),
		"random_start": strconv.FormatBool(a.RandomStart),
		"restarts":     strconv.Itoa(a.Restarts),
		"loss":         string(a.Loss),
		"last_iterate": strconv.FormatBool(a.LastIterate),
	}
	addTargets(p, a.Targeted, a.Targets)
	if a.EarlyStop && !a.LastIterate {
		p["early_stop"] = "true"
	}
	return p
}

// Run returns the adversarial examples in a new slice.
func (a PGD) Run(o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) ([]float32, error) {
	var ws Workspace
	xadv := make([]float32, len(x0))
	if err := a.Perturb(&ws, xadv, o, x0, labels, n, rng); err != nil {
		return nil, err
	}
	return xadv, nil
}

// A Workspace holds the buffers of PGD and FGSM so that repeated calls, as
// in a training loop, do not allocate once the largest batch has been seen.
// The zero value is ready to use; a Workspace must not be used by two calls
// at once.
type Workspace struct {
	eval     evaluator
	cur      []float32 // iterates of the active examples
	grad     []float32
	x0       []float32 // clean inputs of the active examples
	logits   []float32
	loss     []float64
	y        []int64
	idx      []int // active examples, ascending
	bestLoss []float64
	bestMis  []bool
	order    []int64 // targeted: each example's wrong classes, most likely first
	tgt      []int64 // targeted: targets of the active examples
	geo      scratch
}

// Perturb writes the adversarial examples of x0 to xadv (of the same length,
// not overlapping x0), using and growing ws.
func (a PGD) Perturb(ws *Workspace, xadv []float32, o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) error {
	d, k, err := checkBatch(o, x0, labels, n)
	if err != nil {
		return err
	}
	a = a.withDefaults()
	if err := a.check(k); err != nil {
		return err
	}
	if len(xadv) != len(x0) {
		return fmt.Errorf("attack: output has %d values, want %d", len(xadv), len(x0))
	}
	ws.eval.o, ws.eval.d, ws.eval.k = o, d, k
	ws.cur = grow(ws.cur, n*d)
	ws.grad = grow(ws.grad, n*d)
	ws.x0 = grow(ws.x0, n*d)
	ws.logits = grow(ws.logits, n*k)
	ws.loss = grow(ws.loss, n)
	ws.y = grow(ws.y, n)
	ws.idx = grow(ws.idx, n)
	ws.bestLoss = grow(ws.bestLoss, n)
	ws.bestMis = grow(ws.bestMis, n)
	copy(xadv, x0)
	if n == 0 {
		return nil
	}
	defer hold(o)()
	track := !a.LastIterate
	targets := min(a.Targets, k-1)
	if a.Targeted {
		ws.order = grow(ws.order, n*(k-1))
		ws.tgt = grow(ws.tgt, n)
		if err := callLogits(o, x0, n, ws.logits); err != nil {
			return err
		}
		targetOrder(ws.order, ws.logits, labels, n, k)
	}
	if track {
		if err := ws.eval.logits(a.Loss, x0, labels, nil, n, ws.logits, ws.loss); err != nil {
			return err
		}
		for i := range n {
			ws.bestMis[i] = Predict(ws.logits[i*k:(i+1)*k]) != int(labels[i])
			// Losses of different targets do not compare; misclassified
			// beats correct whatever they are.
			ws.bestLoss[i] = math.Inf(-1)
			if !a.Targeted {
				ws.bestLoss[i] = ws.loss[i]
			}
		}
	}
	for run := range max(targets, 1) * a.Restarts {
		idx := ws.idx[:0]
		for i := range n {
			if !track || !ws.bestMis[i] {
				idx = append(idx, i)
			}
		}
		if a.RandomStart {
			// Every example draws its start, attacked or not, so that a
			// restart's randomness does not depend on earlier results.
			for j, i := 0, 0; i < n; i++ {
				var dst []float32
				if j < len(idx) && idx[j] == i {
					dst = ws.cur[j*d : (j+1)*d]
					j++
				}
				randomStart(a.Norm, dst, x0[i*d:(i+1)*d], a.Eps, rng, &ws.geo)
			}
		}
		m := len(idx)
		if m == 0 {
			break
		}
		cur, x0a, y := ws.cur[:m*d], ws.x0[:m*d], ws.y[:m]
		gather(x0a, x0, idx, d)
		gather(y, labels, idx, 1)
		var t []int64
		if a.Targeted {
			rank := run / a.Restarts
			t = ws.tgt[:m]
			for j, i := range idx {
				t[j] = ws.order[i*(k-1)+rank]
			}
		}
		if !a.RandomStart {
			copy(cur, x0a)
		}
		for range a.Steps {
			if m == 0 {
				break
			}
			if err := ws.eval.lossGrad(a.Loss, cur, y, t, m, ws.grad[:m*d], ws.logits[:m*k], ws.loss[:m]); err != nil {
				return err
			}
			if track {
				ws.keepWorst(xadv, cur, idx, y, d, k)
			}
			if track && a.EarlyStop {
				keep := 0
				for j, i := range idx {
					if ws.bestMis[i] {
						continue
					}
					if keep != j {
						copy(cur[keep*d:(keep+1)*d], cur[j*d:(j+1)*d])
						copy(x0a[keep*d:(keep+1)*d], x0a[j*d:(j+1)*d])
						copy(ws.grad[keep*d:(keep+1)*d], ws.grad[j*d:(j+1)*d])
						y[keep], idx[keep] = y[j], i
						if t != nil {
							t[keep] = t[j]
						}
					}
					keep++
				}
				m, idx = keep, idx[:keep]
				cur, x0a, y = cur[:m*d], x0a[:m*d], y[:m]
				if t != nil {
					t = t[:m]
				}
			}
			for j := range m {
				row := cur[j*d : (j+1)*d]
				ascend(a.Norm, row, ws.grad[j*d:(j+1)*d], a.Alpha, &ws.geo)
				project(a.Norm, row, x0a[j*d:(j+1)*d], a.Eps, &ws.geo)
			}
		}
		if !track {
			for j, i := range idx {
				copy(xadv[i*d:(i+1)*d], cur[j*d:(j+1)*d])
			}
			continue
		}
		if err := ws.eval.logits(a.Loss, cur, y, t, m, ws.logits[:m*k], ws.loss[:m]); err != nil {
			return err
		}
		ws.keepWorst(xadv, cur, idx, y, d, k)
	}
	return nil
}

// keepWorst replaces each active example's best point by its current
// iterate if the iterate is worse for the classifier, using ws.logits and
// ws.loss of the iterates.
func (ws *Workspace) keepWorst(xadv, cur []float32, idx []int, y []int64, d, k int) {
	for j, i := range idx {
		mis := Predict(ws.logits[j*k:(j+1)*k]) != int(y[j])
		l := ws.loss[j]
		if (mis && !ws.bestMis[i]) || (mis == ws.bestMis[i] && l > ws.bestLoss[i]) {
			ws.bestMis[i], ws.bestLoss[i] = mis, l
			copy(xadv[i*d:(i+1)*d], cur[j*d:(j+1)*d])
		}
	}
}

// FGSM is the fast gradient sign method (Goodfellow et al., 2015): one step
// x0 + Eps·dir(∇loss(x0)), dir = sign for L∞ and g/‖g‖₂ for L2, projected
// onto [0, 1]. With RandomStart it is FGSM-RS of Wong et al. ("Fast is
// better than free", 2020): a uniform start in the ball, one step of Alpha
// from there, then projection onto the ball and [0, 1].
type FGSM struct {
	Norm        Norm    // Linf (default) or L2
	Eps         float64 // radius of the ball
	Alpha       float64 // step size; 0 means Eps, or 1.25·Eps with RandomStart
	RandomStart bool
	Loss        Loss // LossCE (default), LossCW or LossDLR
}

func (a FGSM) pgd() PGD {
	alpha := a.Alpha
	if alpha == 0 {
		alpha = a.Eps
		if a.RandomStart {
			alpha = 1.25 * a.Eps
		}
	}
	return PGD{Norm: a.Norm, Eps: a.Eps, Alpha: alpha, Steps: 1, RandomStart: a.RandomStart, Loss: a.Loss, LastIterate: true}.withDefaults()
}

// Name returns "fgsm".
func (a FGSM) Name() string { return "fgsm" }

// Params returns the effective parameters.
func (a FGSM) Params() map[string]string {
	p := a.pgd()
	return map[string]string{
		"norm":         string(p.Norm),
		"eps":          fmtFloat(p.Eps),
		"alpha":        fmtFloat(p.Alpha),
		"random_start": strconv.FormatBool(p.RandomStart),
		"loss":         string(p.Loss),
	}
}

// Run returns the adversarial examples in a new slice.
func (a FGSM) Run(o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) ([]float32, error) {
	return a.pgd().Run(o, x0, labels, n, rng)
}

// Perturb writes the adversarial examples of x0 to xadv, using ws.
func (a FGSM) Perturb(ws *Workspace, xadv []float32, o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) error {
	return a.pgd().Perturb(ws, xadv, o, x0, labels, n, rng)
}
