package main

import (
	"math"
	"slices"
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

// tQuantile975 is Student's t distribution's 97.5% quantile for df degrees
// of freedom (df >= 1): tabled to 30, beyond it the Cornish-Fisher
// expansion about the normal quantile, within 2e-4 there.
func tQuantile975(df int) float64 {
	table := []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df <= len(table) {
		return table[df-1]
	}
	const z = z975
	v := float64(df)
	z3, z5 := z*z*z, z*z*z*z*z
	return z + (z3+z)/(4*v) + (5*z5+16*z3+3*z)/(96*v*v)
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
	return mean, tQuantile975(n-1) * sd / math.Sqrt(float64(n))
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
	// Welch-Satterthwaite degrees of freedom, rounded down.
	df := (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	return diff, tQuantile975(max(1, int(df))) * se
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
