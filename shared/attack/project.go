package attack

import (
	"math"
	"math/rand/v2"
)

// project replaces x, one example, by its Euclidean projection onto the
// intersection of the norm ball of radius eps around x0 and the box [0, 1]^d.
// x0 must lie in the box.
func project(norm Norm, x, x0 []float32, eps float64) {
	if norm == L2 {
		projectL2(x, x0, eps)
		return
	}
	projectLinf(x, x0, eps)
}

// projectLinf clips x to [max(0, x0-eps), min(1, x0+eps)] coordinate-wise:
// the intersection of two boxes is a box, so clipping is the exact
// projection.
func projectLinf(x, x0 []float32, eps float64) {
	for i, v := range x {
		c := float64(x0[i])
		x[i] = float32(clamp(float64(v), math.Max(0, c-eps), math.Min(1, c+eps)))
	}
}

// projectL2 replaces x by the exact Euclidean projection of x onto
// {y : ‖y - x0‖₂ ≤ eps, 0 ≤ y ≤ 1}.
//
// With δ = x - x0, the KKT conditions of min ‖y - x‖² over that set give
// y(λ) = clip((x + λ·x0)/(1+λ), 0, 1) = clip(x0 + t·δ, 0, 1) with
// t = 1/(1+λ) ∈ (0, 1], because the objective and the ball penalty are
// separable per coordinate and the box then clips each coordinate's
// minimiser. If t = 1 (plain clipping) is inside the ball it is the answer;
// otherwise the ball is active and t solves f(t) = eps² for
// f(t) = ‖clip(x0 + t·δ) - x0‖², which is non-decreasing in t (x0 is in the
// box). This differs from the usual "rescale onto the ball, then clip",
// which is feasible but not the closest feasible point when the box cuts
// the ball.
//
// t is found from below: with S the sum of δ_i² over coordinates not
// clipped at t and C the squared distance of the clipped ones,
// t' = sqrt((eps² - C)/S) is still feasible (f(u) ≤ u²S + C for u ≥ t) and
// exact once no further coordinate clips, which takes a few passes; after
// 30 passes bisection finishes the job.
func projectL2(x, x0 []float32, eps float64) { projectL2Passes(x, x0, eps, 30) }

// projectL2Passes is projectL2 with at most passes fixed-point passes.
func projectL2Passes(x, x0 []float32, eps float64, passes int) {
	eps2 := eps * eps
	if l2Clipped(x, x0, 1) <= eps2 {
		scaleClip(x, x0, 1)
		return
	}
	var norm2 float64
	for i, v := range x {
		u := float64(v) - float64(x0[i])
		norm2 += u * u
	}
	// f(t) ≤ t²‖δ‖², so t = eps/‖δ‖ is feasible.
	t := eps / math.Sqrt(norm2)
	exact := false
	for range passes {
		var free, clipped float64
		for i, v := range x {
			c := float64(x0[i])
			u := float64(v) - c
			room := c
			if u > 0 {
				room = 1 - c
			}
			if t*math.Abs(u) >= room {
				clipped += room * room
			} else {
				free += u * u
			}
		}
		if free == 0 || clipped >= eps2 {
			exact = true
			break
		}
		next := math.Sqrt((eps2 - clipped) / free)
		if next >= 1 {
			next = 1
		}
		if next <= t {
			exact = true
			break
		}
		t = next
	}
	if !exact {
		for hi := 1.0; hi-t > 1e-13*hi; {
			mid := (t + hi) / 2
			if l2Clipped(x, x0, mid) <= eps2 {
				t = mid
			} else {
				hi = mid
			}
		}
	}
	scaleClip(x, x0, t)
}

// l2Clipped returns ‖clip(x0 + t(x - x0), 0, 1) - x0‖².
func l2Clipped(x, x0 []float32, t float64) float64 {
	var s float64
	for i, v := range x {
		c := float64(x0[i])
		u := clamp(c+t*(float64(v)-c), 0, 1) - c
		s += u * u
	}
	return s
}

// scaleClip sets x to clip(x0 + t(x - x0), 0, 1).
func scaleClip(x, x0 []float32, t float64) {
	for i, v := range x {
		c := float64(x0[i])
		x[i] = float32(clamp(c+t*(float64(v)-c), 0, 1))
	}
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// randomStart writes to x, one example, a point drawn uniformly from the
// norm ball of radius eps around x0 and then projected onto the ball and
// [0, 1] (which for a ball centred in the box is just clipping). L∞ draws d
// uniforms; L2 draws d normals for the direction and one uniform for the
// radius eps·U^(1/d). With x nil it draws the same numbers and discards
// them, so that streams stay aligned when some examples are skipped.
func randomStart(norm Norm, x, x0 []float32, eps float64, rng *rand.Rand) {
	d := len(x0)
	if norm == Linf {
		for i := range d {
			u := eps * (2*rng.Float64() - 1)
			if x != nil {
				x[i] = float32(clamp(float64(x0[i])+u, 0, 1))
			}
		}
		return
	}
	var norm2 float64
	for i := range d {
		g := rng.NormFloat64()
		norm2 += g * g
		if x != nil {
			x[i] = float32(g)
		}
	}
	r := eps * math.Pow(rng.Float64(), 1/float64(d))
	if x == nil {
		return
	}
	s := 0.0
	if norm2 > 0 {
		s = r / math.Sqrt(norm2)
	}
	for i := range d {
		x[i] = float32(float64(x0[i]) + s*float64(x[i]))
	}
	// Clipping to [0, 1] would do; projecting also absorbs the float32
	// rounding of the direction.
	projectL2(x, x0, eps)
}

// ascend moves x, one example, by alpha along the steepest-ascent direction
// of the norm for gradient g: sign(g) for L∞, g/‖g‖₂ for L2. For L∞ zero
// and NaN entries leave their coordinate alone; for L2 a zero gradient, or
// one with a NaN or infinite entry, leaves x alone.
func ascend(norm Norm, x, g []float32, alpha float64) {
	if norm == Linf {
		for i, v := range g {
			switch {
			case v > 0:
				x[i] = float32(float64(x[i]) + alpha)
			case v < 0:
				x[i] = float32(float64(x[i]) - alpha)
			}
		}
		return
	}
	// Scale by the largest entry first so that the norm cannot overflow.
	var big float64
	for _, v := range g {
		big = math.Max(big, math.Abs(float64(v)))
	}
	if !(big > 0) || math.IsInf(big, 1) {
		return
	}
	var n2 float64
	for _, v := range g {
		u := float64(v) / big
		n2 += u * u
	}
	s := alpha / (big * math.Sqrt(n2))
	for i, v := range g {
		x[i] = float32(float64(x[i]) + s*float64(v))
	}
}
