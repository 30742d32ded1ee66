package attack

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
)

// FAB is the targeted Fast Adaptive Boundary attack, FAB-T (Croce and Hein,
// "Minimally distorted adversarial examples with a fast adaptive boundary
// attack", ICML 2020; targeted as in AutoAttack), following the reference
// implementation (github.com/fra31/auto-attack, autoattack/fab_base.py,
// attack_single_run with is_targeted, and perturb). It looks for the
// smallest perturbation, in the L∞ or L2 norm, that changes the
// prediction.
//
// For target t (each example's r-th most likely wrong class at x0, for r =
// 1..Targets), it linearises f = z_t - z_y at the iterate x, so that the
// decision boundary is the hyperplane {u : f(x) + ∇f·(u - x) = 0}, and
// projects both x and x0 onto that hyperplane within [0, 1]^d (the
// smallest perturbation in the attack's norm; see projectHyperplane),
// giving steps d1 from x and d2 from x0. The next iterate is
//
//	x ← clip((x + Eta·d1)(1 - α) + (x0 + Eta·d2)·α, 0, 1),
//	α = min(‖d1‖/(‖d1‖ + ‖d2‖), AlphaMax),
//
// a step to the boundary biased towards x0. When x misclassifies the
// example, it is kept if closer to x0 than the best so far, and x moves
// back towards x0: x ← x0 + Beta(x - x0). Each step costs one VJP call
// (and another on the iterates moved back). Restarts beyond the first start at a random point at
// distance Eps/2 (they need Eps > 0).
//
// An example misclassified at x0 is returned unchanged; so is one whose
// smallest adversarial perturbation found is larger than Eps, which counts
// as not broken, as for CW. With Eps > 0, as in AutoAttack, later targets
// and restarts attack only the examples not yet broken within Eps, and an
// example stops being attacked as soon as it is: the reference keeps
// shrinking its perturbation, which does not change whether it is broken.
// With Eps = 0 every target runs on every example, and the smallest
// perturbation found over all of them is returned.
type FAB struct {
	Norm     Norm    // Linf (default) or L2
	Eps      float64 // budget; 0 means none (minimal perturbations)
	Steps    int     // iterations per target and restart; 0 means 100
	Targets  int     // target classes, most likely first; 0 means DefaultTargets, capped at K-1
	Restarts int     // runs per target; 0 means 1
	AlphaMax float64 // largest bias towards x0; 0 means 0.1
	Eta      float64 // overshoot; 0 means 1.05
	Beta     float64 // backward step; 0 means 0.9
}

func (a FAB) withDefaults() FAB {
	if a.Norm == "" {
		a.Norm = Linf
	}
	if a.Steps == 0 {
		a.Steps = 100
	}
	if a.Targets == 0 {
		a.Targets = DefaultTargets
	}
	if a.Restarts == 0 {
		a.Restarts = 1
	}
	if a.AlphaMax == 0 {
		a.AlphaMax = 0.1
	}
	if a.Eta == 0 {
		a.Eta = 1.05
	}
	if a.Beta == 0 {
		a.Beta = 0.9
	}
	return a
}

// Name returns "fab".
func (a FAB) Name() string { return "fab" }

// Params returns the effective parameters.
func (a FAB) Params() map[string]string {
	a = a.withDefaults()
	return map[string]string{
		"norm":      string(a.Norm),
		"eps":       fmtFloat(a.Eps),
		"steps":     strconv.Itoa(a.Steps),
		"targets":   strconv.Itoa(a.Targets),
		"restarts":  strconv.Itoa(a.Restarts),
		"alpha_max": fmtFloat(a.AlphaMax),
		"eta":       fmtFloat(a.Eta),
		"beta":      fmtFloat(a.Beta),
	}
}

// Run returns the adversarial examples in a new slice.
func (a FAB) Run(o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) ([]float32, error) {
	d, k, err := checkBatch(o, x0, labels, n)
	if err != nil {
		return nil, err
	}
	defer hold(o)()
	a = a.withDefaults()
	if err := checkBudget(a.Norm, a.Eps, false); err != nil {
		return nil, err
	}
	switch {
	case a.Steps < 0 || a.Targets < 1 || a.Restarts < 1:
		return nil, fmt.Errorf("attack: fab needs non-negative steps and at least one target and restart, got %d, %d, %d", a.Steps, a.Targets, a.Restarts)
	case !(a.AlphaMax >= 0 && a.AlphaMax <= 1) || !(a.Eta >= 1) || !(a.Beta > 0 && a.Beta < 1):
		return nil, fmt.Errorf("attack: fab needs alpha_max in [0, 1], eta >= 1 and beta in (0, 1), got %v, %v, %v", a.AlphaMax, a.Eta, a.Beta)
	case a.Restarts > 1 && a.Eps == 0:
		return nil, fmt.Errorf("attack: fab restarts start at distance eps/2 and need eps > 0")
	}
	xadv := make([]float32, len(x0))
	copy(xadv, x0)
	if n == 0 {
		return xadv, nil
	}
	logits := make([]float32, n*k)
	if err := callLogits(o, x0, n, logits); err != nil {
		return nil, err
	}
	order := make([]int64, n*(k-1))
	targetOrder(order, logits, labels, n, k)
	best := make([]float64, n) // distance of the best adversarial point, +Inf if none
	for i := range best {
		best[i] = math.Inf(1)
	}
	attacked := make([]bool, n)
	for i := range n {
		attacked[i] = Predict(logits[i*k:(i+1)*k]) == int(labels[i])
	}
	done := func(i int) bool { return !attacked[i] || (a.Eps > 0 && best[i] <= a.Eps) }
	s := fabState{a: a, o: o, d: d, k: k}
	for rank := range min(a.Targets, k-1) {
		for restart := range a.Restarts {
			var idx []int
			for i := range n {
				if !done(i) {
					idx = append(idx, i)
				}
			}
			if len(idx) == 0 {
				break
			}
			if err := s.run(x0, labels, order, rank, idx, restart > 0, rng, xadv, best); err != nil {
				return nil, err
			}
		}
	}
	for i := range n {
		if a.Eps > 0 && best[i] > a.Eps {
			copy(xadv[i*d:(i+1)*d], x0[i*d:(i+1)*d])
		}
	}
	return xadv, nil
}

// fabState holds the buffers of FAB runs.
type fabState struct {
	a    FAB
	o    Oracle
	d, k int
	geo  scratch
}

// run performs one FAB-T run on examples idx towards their target of the
// given rank, writing improvements to xadv and best.
func (s *fabState) run(x0All []float32, labels, order []int64, rank int, idx []int, randomStart bool, rng *rand.Rand, xadv []float32, best []float64) error {
	a, d, k := s.a, s.d, s.k
	m := len(idx)
	x0 := make([]float32, m*d)
	gather(x0, x0All, idx, d)
	y := make([]int64, m)
	gather(y, labels, idx, 1)
	t := make([]int64, m)
	for j, i := range idx {
		t[j] = order[i*(k-1)+rank]
	}
	x := make([]float32, m*d)
	copy(x, x0)
	if randomStart {
		for j := range m {
			randomDirection(a.Norm, x[j*d:(j+1)*d], x0[j*d:(j+1)*d], a.Eps/2, rng)
		}
	}
	grad := make([]float32, m*d)
	logits := make([]float32, m*k)
	d1, d2 := make([]float32, d), make([]float32, d)
	live := make([]int, m) // row j of the buffers is example idx[live[j]]
	for j := range live {
		live[j] = j
	}
	// evaluate writes the logits at rows of x and the gradient of
	// z_t - z_y there; rows nil means the first len(live).
	var xs, gs, zs []float32
	var ys, ts []int64
	evaluate := func(rows []int) error {
		vjp := func(x, grad, logits []float32, y, t []int64) error {
			err := s.o.VJP(x, len(y), func(j int, _, c []float32) { c[t[j]], c[y[j]] = 1, -1 }, grad, logits)
			if err != nil {
				return fmt.Errorf("attack: fab vector-Jacobian product: %w", err)
			}
			return checkFinite(logits)
		}
		if rows == nil {
			ma := len(live)
			return vjp(x[:ma*d], grad[:ma*d], logits[:ma*k], y[:ma], t[:ma])
		}
		mr := len(rows)
		xs, gs, zs = grow(xs, mr*d), grow(gs, mr*d), grow(zs, mr*k)
		ys, ts = grow(ys, mr), grow(ts, mr)
		gather(xs, x, rows, d)
		gather(ys, y, rows, 1)
		gather(ts, t, rows, 1)
		if err := vjp(xs, gs, zs, ys, ts); err != nil {
			return err
		}
		for r, j := range rows {
			copy(grad[j*d:(j+1)*d], gs[r*d:(r+1)*d])
			copy(logits[j*k:(j+1)*k], zs[r*k:(r+1)*k])
		}
		return nil
	}
	if a.Steps == 0 {
		return nil
	}
	// One VJP per step gives both the logits that judge a step's iterate
	// and the gradient the next step starts from; only iterates moved back
	// towards x0 are evaluated again.
	if err := evaluate(nil); err != nil {
		return err
	}
	var moved []int
	for range a.Steps {
		if len(live) == 0 {
			break
		}
		ma := len(live)
		for j := range ma {
			xj, x0j, g := x[j*d:(j+1)*d], x0[j*d:(j+1)*d], grad[j*d:(j+1)*d]
			z := logits[j*k : (j+1)*k]
			// The boundary's linearisation at xj is {u : w·u = b} with
			// w = ∇f and b = w·xj - f(xj).
			f := float64(z[t[j]]) - float64(z[y[j]])
			var wx float64
			for c, v := range g {
				wx += float64(v) * float64(xj[c])
			}
			b := wx - f
			projectHyperplane(a.Norm, d1, xj, g, b, &s.geo)
			projectHyperplane(a.Norm, d2, x0j, g, b, &s.geo)
			a1 := math.Max(norm(a.Norm, d1), 1e-8)
			a2 := math.Max(norm(a.Norm, d2), 1e-8)
			alpha := math.Min(math.Max(a1/(a1+a2), 0), a.AlphaMax)
			for c := range xj {
				v := (float64(xj[c])+a.Eta*float64(d1[c]))*(1-alpha) + (float64(x0j[c])+a.Eta*float64(d2[c]))*alpha
				xj[c] = float32(clamp(v, 0, 1))
			}
		}
		if err := evaluate(nil); err != nil {
			return err
		}
		keep := 0
		moved = moved[:0]
		for j := range ma {
			xj, x0j := x[j*d:(j+1)*d], x0[j*d:(j+1)*d]
			i := idx[live[j]]
			back := Predict(logits[j*k:(j+1)*k]) != int(y[j])
			if back {
				if dist := distance(a.Norm, xj, x0j); dist < best[i] {
					best[i] = dist
					copy(xadv[i*d:(i+1)*d], xj)
				}
				for c := range xj {
					xj[c] = float32(float64(x0j[c]) + a.Beta*(float64(xj[c])-float64(x0j[c])))
				}
			}
			if a.Eps > 0 && best[i] <= a.Eps {
				continue // broken within the budget: nothing left to find
			}
			if keep != j {
				copy(x[keep*d:(keep+1)*d], xj)
				copy(x0[keep*d:(keep+1)*d], x0j)
				copy(grad[keep*d:(keep+1)*d], grad[j*d:(j+1)*d])
				copy(logits[keep*k:(keep+1)*k], logits[j*k:(j+1)*k])
				y[keep], t[keep], live[keep] = y[j], t[j], live[j]
			}
			if back {
				moved = append(moved, keep)
			}
			keep++
		}
		live = live[:keep]
		if len(moved) > 0 {
			if err := evaluate(moved); err != nil {
				return err
			}
		}
	}
	return nil
}

// norm returns the L∞ or L2 norm of v.
func norm(n Norm, v []float32) float64 {
	var s float64
	for _, u := range v {
		if n == Linf {
			s = math.Max(s, math.Abs(float64(u)))
		} else {
			s += float64(u) * float64(u)
		}
	}
	if n == L2 {
		s = math.Sqrt(s)
	}
	return s
}

// distance returns the norm of x - x0, computed from the float32 values.
func distance(n Norm, x, x0 []float32) float64 {
	var s float64
	for i, v := range x {
		u := float64(v) - float64(x0[i])
		switch n {
		case Linf:
			s = math.Max(s, math.Abs(u))
		case L1:
			s += math.Abs(u)
		default:
			s += u * u
		}
	}
	if n == L2 {
		s = math.Sqrt(s)
	}
	return s
}

// projectHyperplane writes to delta the smallest step, in the L∞ or L2
// norm, that takes p onto the hyperplane {u : w·u = b} while keeping
// p + delta in [0, 1]^d; if the hyperplane misses the box, the step to the
// box's corner closest to it. p must lie in the box.
//
// With r = b - w·p the distance to cover along w, and each coordinate's
// room cap_i towards the box in the direction of sign(r·w_i):
//
//   - L∞: delta_i = sign(r·w_i)·min(τ, cap_i) for the smallest τ with
//     Σ|w_i|·min(τ, cap_i) = |r|: the sum is increasing and piecewise linear
//     in τ, with kinks at the caps, so sorting them finds τ exactly;
//   - L2: delta_i = clip(λ·w_i, -p_i, 1 - p_i) for the λ with w·delta = r
//     (the KKT conditions of the projection onto the hyperplane within the
//     box): w·delta is piecewise linear in λ, with kinks where coordinates
//     reach the box, again found by sorting.
//
// The reference's projection_linf and projection_l2 solve the same
// problems.
func projectHyperplane(n Norm, delta, p, w []float32, b float64, geo *scratch) {
	d := len(p)
	var wp float64
	for i, v := range w {
		wp += float64(v) * float64(p[i])
	}
	r := b - wp
	clear(delta)
	if r == 0 || math.IsNaN(r) {
		return
	}
	sgn := 1.0
	if r < 0 {
		sgn, r = -1, -r
	}
	// room returns coordinate i's weight |w_i| and its room towards the box
	// in the helpful direction sign(sgn·w_i).
	room := func(i int) (wi, cap float64) {
		wi = sgn * float64(w[i])
		if wi > 0 {
			return wi, 1 - float64(p[i])
		}
		return -wi, float64(p[i])
	}
	// Both norms solve Σ_i |w_i|·min(q·v_i, cap_i) = r for the scalar q
	// (τ with v_i = 1 for L∞, λ with v_i = |w_i| for L2): the sum is
	// q·A + B, A the weight Σ|w_i|·v_i of the coordinates not yet at
	// their cap and B what the capped ones give, with kinks at q =
	// cap_i/v_i.
	kinks := geo.kinks[:0]
	var a, total float64
	for i := range d {
		wi, cap := room(i)
		if wi == 0 {
			continue
		}
		v := 1.0
		if n == L2 {
			v = wi
		}
		a += wi * v
		total += wi * cap
		kinks = append(kinks, kink{at: cap / v, slope: wi * v, gain: wi * cap})
	}
	geo.kinks = kinks
	q := math.Inf(1) // the hyperplane is beyond the box: go to its corner
	if total > r {
		slices.SortFunc(kinks, func(x, y kink) int { return cmp.Compare(x.at, y.at) })
		var bsum float64
		for _, kk := range kinks {
			if kk.at*a+bsum >= r {
				break
			}
			a -= kk.slope
			bsum += kk.gain
		}
		q = (r - bsum) / a
	}
	for i := range d {
		wi, cap := room(i)
		if wi == 0 {
			continue
		}
		v := 1.0
		if n == L2 {
			v = wi
		}
		u := math.Min(q*v, cap)
		if sgn*float64(w[i]) < 0 {
			u = -u
		}
		delta[i] = float32(u)
	}
}

// A kink is where a coordinate reaches its cap in projectHyperplane.
type kink struct{ at, slope, gain float64 }
