package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// CW is the Carlini-Wagner L2 attack ("Towards Evaluating the Robustness of
// Neural Networks", 2017), following the authors' l2_attack.py
// (github.com/carlini/nn_robust_attacks). It minimises, per example,
//
//	‖x - x0‖₂² + c·max(z_y - max_{j≠y} z_j + Kappa, 0),  x = (tanh(w)+1)/2,
//
// over w with Adam, from w = atanh((2·x0-1)·0.999999), and binary-searches
// the constant c: starting at InitialConst, multiplied by 10 until an attack
// succeeds, then bisected between the largest failing and smallest
// succeeding c. With 10 or more binary steps the last one reruns with the
// smallest succeeding c, as the reference does. An inner run stops early
// when, checked every MaxIter/10 iterations, its objective has not fallen
// by 0.01% since the last check (per example; the reference checks the
// batch sum).
//
// A point succeeds if the true class loses by Kappa: argmax(z + Kappa·e_y)
// ≠ y (the reference's comparison, with the sign of the confidence fixed).
// The result is the successful point of smallest ‖x - x0‖₂ found over all
// iterations and binary steps, measured on the float32 values given to the
// oracle; examples that already succeed at x0 are returned unchanged, as
// are those with no success or, if Eps > 0, none within Eps.
//
// With Kappa 0 the results sit on the decision boundary, where a different
// batch composition or summation order in the model can flip the
// prediction back; a small Kappa guards robust-accuracy figures against
// that.
//
// The gradient of the hinge is that of the oracle's LossCW, which costs one
// LossGrad call per iteration.
type CW struct {
	Kappa        float64 // confidence; 0 finds the decision boundary
	LR           float64 // Adam learning rate; 0 means 0.01
	BinarySteps  int     // 0 means 9
	InitialConst float64 // 0 means 1e-3
	MaxIter      int     // Adam steps per binary step; 0 means 1000 (the paper uses 10000)
	NoEarlyAbort bool    // run every inner iteration
	// Eps, if positive, discards results farther than Eps from x0 in L2, so
	// that the attack measures robust accuracy at that radius.
	Eps float64
}

func (a CW) withDefaults() CW {
	if a.LR == 0 {
		a.LR = 0.01
	}
	if a.BinarySteps == 0 {
		a.BinarySteps = 9
	}
	if a.InitialConst == 0 {
		a.InitialConst = 1e-3
	}
	if a.MaxIter == 0 {
		a.MaxIter = 1000
	}
	return a
}

// Name returns "cw".
func (a CW) Name() string { return "cw" }

// Params returns the effective parameters.
func (a CW) Params() map[string]string {
	a = a.withDefaults()
	return map[string]string{
		"norm":          string(L2),
		"kappa":         fmtFloat(a.Kappa),
		"lr":            fmtFloat(a.LR),
		"binary_steps":  strconv.Itoa(a.BinarySteps),
		"initial_const": fmtFloat(a.InitialConst),
		"max_iter":      strconv.Itoa(a.MaxIter),
		"early_abort":   strconv.FormatBool(!a.NoEarlyAbort),
		"eps":           fmtFloat(a.Eps),
	}
}

// succeeds reports whether logits z make the attack on label y succeed with
// confidence kappa.
func succeeds(z []float32, y int, kappa float64) bool {
	zy := float64(z[y]) + kappa
	for j, v := range z {
		if j == y {
			continue
		}
		// Ties go to the lower index, as argmax does.
		if float64(v) > zy || (float64(v) == zy && j < y) {
			return true
		}
	}
	return false
}

// Run returns the adversarial examples in a new slice; rng is not used.
func (a CW) Run(o Oracle, x0 []float32, labels []int64, n int, _ *rand.Rand) ([]float32, error) {
	d, k, err := checkBatch(o, x0, labels, n)
	if err != nil {
		return nil, err
	}
	defer hold(o)()
	a = a.withDefaults()
	switch {
	case !(a.Kappa >= 0) || math.IsInf(a.Kappa, 1):
		return nil, fmt.Errorf("attack: cw kappa %v is not a finite non-negative number", a.Kappa)
	case !(a.LR > 0) || !(a.InitialConst > 0) || a.BinarySteps < 0 || a.MaxIter < 0:
		return nil, fmt.Errorf("attack: cw needs positive lr and initial constant and non-negative steps, got %v, %v, %d, %d", a.LR, a.InitialConst, a.BinarySteps, a.MaxIter)
	case !(a.Eps >= 0) || math.IsInf(a.Eps, 1):
		return nil, fmt.Errorf("attack: cw eps %v is not a finite non-negative number", a.Eps)
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
	var todo []int
	for i := range n {
		if !succeeds(logits[i*k:(i+1)*k], int(labels[i]), a.Kappa) {
			todo = append(todo, i)
		}
	}
	m := len(todo)
	if m == 0 {
		return xadv, nil
	}
	s := cwState{a: a, d: d, k: k, o: o}
	s.init(x0, labels, todo)
	for step := range a.BinarySteps {
		if a.BinarySteps >= 10 && step == a.BinarySteps-1 {
			for j := range m {
				if s.upper[j] < 1e10 {
					s.c[j] = s.upper[j]
				}
			}
		}
		if err := s.descend(); err != nil {
			return nil, err
		}
		for j := range m {
			if s.stepOK[j] {
				s.upper[j] = math.Min(s.upper[j], s.c[j])
				if s.upper[j] < 1e9 {
					s.c[j] = (s.lower[j] + s.upper[j]) / 2
				}
				continue
			}
			s.lower[j] = math.Max(s.lower[j], s.c[j])
			if s.upper[j] < 1e9 {
				s.c[j] = (s.lower[j] + s.upper[j]) / 2
			} else {
				s.c[j] *= 10
			}
		}
	}
	for j, i := range todo {
		if math.IsInf(s.bestL2[j], 1) || (a.Eps > 0 && math.Sqrt(s.bestL2[j]) > a.Eps) {
			continue
		}
		copy(xadv[i*d:(i+1)*d], s.best[j*d:(j+1)*d])
	}
	return xadv, nil
}

// cwState holds the m examples CW attacks.
type cwState struct {
	a    CW
	d, k int
	o    Oracle

	x0, best    []float32 // clean inputs and best successful points
	y           []int64
	w0          []float64 // atanh of the clean inputs
	bestL2      []float64 // squared distance of best, +Inf if none
	c, lower    []float64
	upper       []float64
	stepOK      []bool // success during the current binary step
	w, mom, vel []float64
	x, grad     []float32 // current points and oracle gradients, active rows
	logits      []float32
	oraLoss     []float32
	prev        []float64 // objective at the last abort check
}

func (s *cwState) init(x0 []float32, labels []int64, todo []int) {
	d, k, m := s.d, s.k, len(todo)
	s.x0 = make([]float32, m*d)
	gather(s.x0, x0, todo, d)
	s.y = make([]int64, m)
	gather(s.y, labels, todo, 1)
	s.best = make([]float32, m*d)
	s.w0 = make([]float64, m*d)
	for i, v := range s.x0 {
		s.w0[i] = math.Atanh((2*float64(v) - 1) * 0.999999)
	}
	s.bestL2 = make([]float64, m)
	s.c = make([]float64, m)
	s.lower = make([]float64, m)
	s.upper = make([]float64, m)
	for j := range m {
		s.bestL2[j] = math.Inf(1)
		s.c[j] = s.a.InitialConst
		s.upper[j] = 1e10
	}
	s.stepOK = make([]bool, m)
	s.w = make([]float64, m*d)
	s.mom = make([]float64, m*d)
	s.vel = make([]float64, m*d)
	s.x = make([]float32, m*d)
	s.grad = make([]float32, m*d)
	s.logits = make([]float32, m*k)
	s.oraLoss = make([]float32, m)
	s.prev = make([]float64, m)
}

// descend runs Adam for one binary step from the clean inputs.
func (s *cwState) descend() error {
	a, d, k := s.a, s.d, s.k
	m := len(s.y)
	copy(s.w, s.w0)
	clear(s.mom)
	clear(s.vel)
	idx := make([]int, 0, m)
	for j := range m {
		s.stepOK[j] = false
		s.prev[j] = math.Inf(1)
		idx = append(idx, j)
	}
	period := max(a.MaxIter/10, 1)
	const beta1, beta2 = 0.9, 0.999
	x0a := make([]float32, m*d)
	ya := make([]int64, m)
	for it := range a.MaxIter {
		if len(idx) == 0 {
			break
		}
		na := len(idx)
		for r, j := range idx {
			for c := range d {
				s.x[r*d+c] = float32((math.Tanh(s.w[j*d+c]) + 1) / 2)
			}
		}
		gather(ya, s.y, idx, 1)
		if err := s.o.LossGrad(LossCW, s.x[:na*d], ya[:na], na, s.oraLoss[:na], s.grad[:na*d], s.logits[:na*k]); err != nil {
			return fmt.Errorf("attack: cw loss gradient: %w", err)
		}
		if err := checkFinite(s.logits[:na*k]); err != nil {
			return err
		}
		gather(x0a, s.x0, idx, d)
		t := float64(it + 1)
		lr := a.LR * math.Sqrt(1-math.Pow(beta2, t)) / (1 - math.Pow(beta1, t))
		keep := idx[:0]
		for r, j := range idx {
			x, x0r := s.x[r*d:(r+1)*d], x0a[r*d:(r+1)*d]
			z := s.logits[r*k : (r+1)*k]
			y := int(s.y[j])
			var l2 float64
			for c := range x {
				u := float64(x[c]) - float64(x0r[c])
				l2 += u * u
			}
			hinge := -marginLoss(z, y) + a.Kappa
			obj := l2 + s.c[j]*math.Max(hinge, 0)
			if succeeds(z, y, a.Kappa) {
				s.stepOK[j] = true
				if l2 < s.bestL2[j] {
					s.bestL2[j] = l2
					copy(s.best[j*d:(j+1)*d], x)
				}
			}
			if !a.NoEarlyAbort && it%period == 0 {
				if obj > s.prev[j]*0.9999 {
					continue
				}
				s.prev[j] = obj
			}
			keep = append(keep, j)
			// d obj/dx = 2(x - x0) - c·∇cw while the hinge is active,
			// and dx/dw = (1 - tanh²w)/2.
			cg := 0.0
			if hinge > 0 {
				cg = -s.c[j]
			}
			g := s.grad[r*d : (r+1)*d]
			for c := range x {
				p := j*d + c
				th := math.Tanh(s.w[p])
				gw := (2*(float64(x[c])-float64(x0r[c])) + cg*float64(g[c])) * (1 - th*th) / 2
				s.mom[p] = beta1*s.mom[p] + (1-beta1)*gw
				s.vel[p] = beta2*s.vel[p] + (1-beta2)*gw*gw
				s.w[p] -= lr * s.mom[p] / (math.Sqrt(s.vel[p]) + 1e-8)
			}
		}
		idx = keep
	}
	return nil
}
