package main

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// z975 is the standard normal distribution's 97.5% quantile.
const z975 = 1.959963984540054

// wilson is the 95% Wilson score interval for a proportion p of n trials.
func wilson(p float64, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = z975
	nf := float64(n)
	denom := 1 + z*z/nf
	centre := (p + z*z/(2*nf)) / denom
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / denom
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

// tQuantile975 is Student's t distribution's 97.5% quantile for df > 0
// degrees of freedom, which need not be whole: Welch's interval has
// fractional ones, and rounding them down widens it (a t of 4.30 for 3.19
// at df 2.99).
func tQuantile975(df float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.975)
}

// meanCI is the mean of xs and the half-width of its 95% t-interval
// (NaN for fewer than two values).
func meanCI(xs []float64) (mean, half float64) {
	n := len(xs)
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(n)
	if n < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	return mean, tQuantile975(float64(n-1)) * sd / math.Sqrt(float64(n))
}

// diffCI is the difference of means a-b and the half-width of its 95%
// Welch interval (NaN when either side has fewer than two values).
func diffCI(a, b []float64) (diff, half float64) {
	ma, _ := meanCI(a)
	mb, _ := meanCI(b)
	diff = ma - mb
	if len(a) < 2 || len(b) < 2 {
		return diff, math.NaN()
	}
	va, vb := variance(a, ma)/float64(len(a)), variance(b, mb)/float64(len(b))
	se := math.Sqrt(va + vb)
	if se == 0 {
		return diff, 0
	}
	// Welch-Satterthwaite degrees of freedom.
	df := (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	return diff, tQuantile975(df) * se
}

func variance(xs []float64, mean float64) float64 {
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return ss / float64(len(xs)-1)
}

// timeToLevel is when a convergence curve first reaches level: the
// training seconds and epochs, interpolated linearly between the points
// around the crossing, starting from the untrained model at time 0 with
// robust accuracy 0. ok is false when the curve never reaches it.
func timeToLevel(curve []Point, level float64) (seconds, epochs float64, ok bool) {
	prev := Point{}
	for _, p := range curve {
		if p.Robust >= level {
			seconds, epochs = crossing(prev, p, level)
			return seconds, epochs, true
		}
		prev = p
	}
	return 0, 0, false
}

// timeToStay is when a convergence curve reaches level for good: its
// last crossing from below, after which no checkpoint falls below it. ok
// is false when the curve ends below it. A noisy curve's first crossing
// flatters it and its last handicaps it; the two bracket its time.
func timeToStay(curve []Point, level float64) (seconds, epochs float64, ok bool) {
	prev, from := Point{}, 0
	for i, p := range curve {
		if p.Robust < level {
			prev, from = p, i+1
		}
	}
	if from == len(curve) {
		return 0, 0, false
	}
	seconds, epochs = crossing(prev, curve[from], level)
	return seconds, epochs, true
}

// crossing interpolates where the curve between prev, below level, and
// p, at or above it, meets level.
func crossing(prev, p Point, level float64) (seconds, epochs float64) {
	if p.Robust == prev.Robust || level <= prev.Robust {
		return p.TrainSeconds, p.Epoch
	}
	f := (level - prev.Robust) / (p.Robust - prev.Robust)
	return prev.TrainSeconds + f*(p.TrainSeconds-prev.TrainSeconds), prev.Epoch + f*(p.Epoch-prev.Epoch)
}

// curveOf is a cell's curve in step order; its last point is the final
// model under the curve's attack set.
func curveOf(c Cell) []Point {
	out := slices.Clone(c.Curve)
	slices.SortFunc(out, func(a, b Point) int { return a.Step - b.Step })
	return out
}
