package gradcheck

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Checker says how Check compares a gradient with finite differences.
type Checker struct {
	// Step is the finite-difference step h.
	Step float64
	// Floor: an entry's error is relative to the larger of its own size
	// and Floor times the largest entry of its gradient.
	Floor float64
	// Tol is the largest relative error accepted.
	Tol float64
	// Extrapolate re-measures a mismatch by Richardson extrapolation and
	// counts an entry at a kink of the cost instead of failing it.
	Extrapolate bool
}

// New returns the checker for float64 costs that may have kinks: steps of
// 1e-5, errors relative to at least 1e-3 of the largest gradient entry,
// tolerance tol, and extrapolation.
func New(tol float64) Checker {
	return Checker{Step: 1e-5, Floor: 1e-3, Tol: tol, Extrapolate: true}
}

// Result sums up the entries that Check has compared.
type Result struct {
	Entries      int     // entries compared
	Extrapolated int     // entries re-measured by extrapolation
	Kinks        int     // entries skipped within a step of a kink
	MaxRel       float64 // largest relative error of a checked entry
}

// Check compares grad[i] for i in idx with central differences of eval
// (cost0 at the unperturbed values) as vals[i] moves by c.Step, reporting
// each mismatch with t.Errorf under the name what, and adds the entries to
// res (which may be nil).
//
// With c.Extrapolate, a mismatch at step h is re-measured by Richardson
// extrapolation from steps h and h/2, which removes the O(h²) error of a
// strongly curved cost, and if need be from h/4 and h/8. An entry that
// matches neither extrapolation while the two disagree with each other sits
// within a step of a point where the cost is not smooth (a ReLU or max-pool
// kink; for an SGN also a jump of its self-gradient) and is counted as a
// kink, not checked; otherwise it must match.
//
// Errors are relative to the larger of the two values, of c.Floor times the
// largest entry of grad, and of the rounding error of the difference over
// the tolerance. Float32 values suit steps that are exact in float32 (a
// power of two, on inputs on a grid).
func Check[T float32 | float64](t testing.TB, c Checker, what string, vals []T, idx []int, grad []float64, eval func() float64, cost0 float64, res *Result) {
	t.Helper()
	if res == nil {
		res = new(Result)
	}
	scale := 0.0
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(g))
	}
	// A central difference carries a rounding error of a few ulps of the
	// cost over the step: errors below that count as agreement.
	noise := 4 * 0x1p-52 * (1 + math.Abs(cost0)) / c.Step
	floor := math.Max(c.Floor*scale, noise/c.Tol)
	rel := func(a, b float64) float64 {
		return math.Abs(a-b) / math.Max(math.Max(math.Abs(a), math.Abs(b)), floor)
	}
	central := func(i int, h float64) float64 {
		x0 := vals[i]
		vals[i] = x0 + T(h)
		lp := eval()
		vals[i] = x0 - T(h)
		lm := eval()
		vals[i] = x0
		return (lp - lm) / (2 * h)
	}
	richardson := func(i int, h, fdh float64) float64 { return (4*central(i, h/2) - fdh) / 3 }
	for _, i := range idx {
		res.Entries++
		fd := central(i, c.Step)
		e := rel(grad[i], fd)
		if e > c.Tol && c.Extrapolate {
			res.Extrapolated++
			fd = richardson(i, c.Step, fd)
			if e = rel(grad[i], fd); e > c.Tol {
				r := richardson(i, c.Step/4, central(i, c.Step/4))
				er := rel(grad[i], r)
				if er > c.Tol && rel(fd, r) > c.Tol {
					res.Kinks++
					continue
				}
				fd, e = r, er
			}
		}
		res.MaxRel = math.Max(res.MaxRel, e)
		if e > c.Tol {
			t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g (relative error %.2g)", what, i, grad[i], fd, e)
		}
	}
}

// Sample picks the entry of grad with the largest magnitude and k-1 others
// at random (all of them if grad has no more than k).
func Sample(grad []float64, k int, rng *rand.Rand) []int {
	best := 0
	for i, g := range grad {
		if math.Abs(g) > math.Abs(grad[best]) {
			best = i
		}
	}
	idx := []int{best}
	for _, i := range rng.Perm(len(grad)) {
		if len(idx) == min(k, len(grad)) {
			break
		}
		if i != best {
			idx = append(idx, i)
		}
	}
	return idx
}
