package attack

import (
	"math"
	"math/rand/v2"
	"testing"
)

// hyperplaneCase returns a point in the box (a third of its coordinates on
// the border), a random normal w and an offset b that puts the hyperplane
// {w·u = b} at a random place, sometimes beyond the box.
func hyperplaneCase(rng *rand.Rand, d int) (p, w []float32, b float64) {
	p = borderInputs(rng, 1, d)
	w = make([]float32, d)
	var wp, wn float64
	for i := range w {
		if rng.IntN(5) > 0 { // some zero weights
			w[i] = float32(rng.NormFloat64())
		}
		wp += float64(w[i]) * float64(p[i])
		wn += math.Abs(float64(w[i]))
	}
	b = wp + rng.NormFloat64()*wn*0.3
	return p, w, b
}

// TestProjectHyperplaneL2 compares the L2 step onto a hyperplane within
// the box with Dykstra's alternating projections onto the hyperplane and
// the box, which converge to the same point when the two meet.
func TestProjectHyperplaneL2(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	var geo scratch
	checked := 0
	for trial := range 200 {
		d := 1 + rng.IntN(10)
		p, w, b := hyperplaneCase(rng, d)
		delta := make([]float32, d)
		projectHyperplane(L2, delta, p, w, b, &geo)
		var reach, got float64 // the most w·u can be moved towards b; w·(p+delta)
		var wp float64
		for i := range d {
			wp += float64(w[i]) * float64(p[i])
			got += float64(w[i]) * (float64(p[i]) + float64(delta[i]))
			if v := float64(p[i]) + float64(delta[i]); v < -1e-7 || v > 1+1e-7 {
				t.Fatalf("trial %d: coordinate %d at %v, outside [0, 1]", trial, i, v)
			}
			if (b > wp) == (w[i] > 0) {
				reach += math.Abs(float64(w[i])) * (1 - float64(p[i]))
			} else {
				reach += math.Abs(float64(w[i])) * float64(p[i])
			}
		}
		if reach <= math.Abs(b-wp)*(1+1e-6) {
			continue // the hyperplane misses the box
		}
		if math.Abs(got-b) > 1e-5*(1+math.Abs(b)) {
			t.Fatalf("trial %d: w·(p+delta) = %v, want %v", trial, got, b)
		}
		want := dykstraHyperplane(p, w, b)
		for i := range d {
			if math.Abs(float64(p[i])+float64(delta[i])-want[i]) > 1e-4 {
				t.Fatalf("trial %d (d=%d) coordinate %d: got %v, Dykstra %v", trial, d, i, float64(p[i])+float64(delta[i]), want[i])
			}
		}
		checked++
	}
	if checked < 50 {
		t.Fatalf("only %d cases with the hyperplane inside the box", checked)
	}
}

// dykstraHyperplane projects p onto {w·u = b} ∩ [0, 1]^d by Dykstra's
// algorithm.
func dykstraHyperplane(p, w []float32, b float64) []float64 {
	d := len(p)
	y := make([]float64, d)
	for i, v := range p {
		y[i] = float64(v)
	}
	pc, qc, h := make([]float64, d), make([]float64, d), make([]float64, d)
	var w2 float64
	for _, v := range w {
		w2 += float64(v) * float64(v)
	}
	for range 50000 {
		var wh float64
		for i := range d {
			h[i] = y[i] + pc[i]
			wh += float64(w[i]) * h[i]
		}
		s := (wh - b) / w2
		for i := range d {
			nh := h[i] - s*float64(w[i])
			pc[i] = h[i] - nh
			h[i] = nh
		}
		for i := range d {
			ny := math.Min(math.Max(h[i]+qc[i], 0), 1)
			qc[i] = h[i] + qc[i] - ny
			y[i] = ny
		}
	}
	return y
}

// TestProjectHyperplaneLinf checks the L∞ step onto a hyperplane within the
// box: it reaches the hyperplane, and no step shorter by a millionth could,
// since the most that steps of L∞ norm τ within the box move w·u is
// Σ|w_i|·min(τ, room_i), computed here coordinate by coordinate.
func TestProjectHyperplaneLinf(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	var geo scratch
	checked := 0
	for trial := range 300 {
		d := 1 + rng.IntN(12)
		if trial%20 == 0 {
			d = 500
		}
		p, w, b := hyperplaneCase(rng, d)
		delta := make([]float32, d)
		projectHyperplane(Linf, delta, p, w, b, &geo)
		var wp float64
		for i := range d {
			wp += float64(w[i]) * float64(p[i])
		}
		r := b - wp
		most := func(tau float64) float64 {
			var s float64
			for i := range d {
				room := float64(p[i])
				if (r > 0) == (w[i] > 0) {
					room = 1 - float64(p[i])
				}
				s += math.Abs(float64(w[i])) * math.Min(tau, room)
			}
			return s
		}
		if most(1) <= math.Abs(r)*(1+1e-6) {
			continue
		}
		var got, tau float64
		for i := range d {
			got += float64(w[i]) * (float64(p[i]) + float64(delta[i]))
			tau = math.Max(tau, math.Abs(float64(delta[i])))
			if v := float64(p[i]) + float64(delta[i]); v < -1e-7 || v > 1+1e-7 {
				t.Fatalf("trial %d: coordinate %d at %v, outside [0, 1]", trial, i, v)
			}
		}
		if math.Abs(got-b) > 1e-5*(1+math.Abs(b)) {
			t.Fatalf("trial %d: w·(p+delta) = %v, want %v", trial, got, b)
		}
		if most(tau*(1-1e-6)) >= math.Abs(r) {
			t.Fatalf("trial %d: a step of L∞ norm %v would do, the projection took %v", trial, tau*(1-1e-6), tau)
		}
		checked++
	}
	if checked < 50 {
		t.Fatalf("only %d cases with the hyperplane inside the box", checked)
	}
}

// TestFABLinearMinimum checks that FAB-T finds, on pairModel, adversarial
// points within a few percent of the analytic minimal distance to the
// boundary g = 0: -g(x0)/‖a‖₁ in L∞ and -g(x0)/‖a‖₂ in L2 (the box is out
// of reach), and never closer.
func TestFABLinearMinimum(t *testing.T) {
	const n, k, d = 30, 5, 20
	rng := rand.New(rand.NewPCG(55, 56))
	m := pairModel(k, d, rng)
	x0 := uniformInputs(rng, n, d, 0.4, 0.6)
	m.placeMargins(x0, n)
	labels := predictedLabels(m, x0, n)
	var a1, a2, amax float64
	for i := range d {
		a := m.w[d+i]
		a1 += math.Abs(a)
		a2 += a * a
		amax = math.Max(amax, math.Abs(a))
	}
	a2 = math.Sqrt(a2)
	for _, norm := range []Norm{Linf, L2} {
		t.Run(string(norm), func(t *testing.T) {
			o := newOracle(m)
			got, err := FAB{Norm: norm, Steps: 100, Targets: 1}.Run(o, x0, labels, n, rand.New(rand.NewPCG(57, 58)))
			if err != nil {
				t.Fatal(err)
			}
			z := logits64(m, got, n)
			checked, worst := 0, 0.0
			for i := range n {
				// The minimal step moves coordinate i by minDist in L∞ and
				// by minDist·|a_i|/‖a‖₂ in L2; the box is 0.4 away or more.
				minDist := -m.g(x0[i*d:(i+1)*d]) / a1
				move := minDist
				if norm == L2 {
					minDist = -m.g(x0[i*d:(i+1)*d]) / a2
					move = minDist * amax / a2
				}
				if move > 0.35 {
					continue // the box could cut in
				}
				checked++
				if argmax64(z[i]) != 1 {
					t.Errorf("example %d ends at class %d, want the target 1", i, argmax64(z[i]))
					continue
				}
				dd := dist(norm, got, x0, d, i)
				worst = math.Max(worst, dd/minDist)
				if dd < minDist*(1-1e-4) || dd > minDist*1.03 {
					t.Errorf("example %d: distance %v, analytic minimum %v", i, dd, minDist)
				}
			}
			if checked < n/2 {
				t.Fatalf("only %d examples close enough to the boundary", checked)
			}
			t.Logf("%d examples, largest distance / analytic minimum %.5f", checked, worst)
			// A Logits call for x0, then one VJP to start and one per step,
			// whose logits judge the step, and one per step with iterates
			// to evaluate again after moving them back.
			if o.logitCalls != 1 || o.gradientCalls < 101 || o.gradientCalls > 201 {
				t.Errorf("%d gradient and %d logit calls, want 101 to 201 and 1", o.gradientCalls, o.logitCalls)
			}
		})
	}
}

// TestFABEps checks the budget: with Eps, examples whose minimal
// perturbation is beyond it come back unchanged and count as not broken,
// those within it are broken within it.
func TestFABEps(t *testing.T) {
	const n, k, d = 40, 5, 20
	rng := rand.New(rand.NewPCG(59, 60))
	m := pairModel(k, d, rng)
	x0 := uniformInputs(rng, n, d, 0.4, 0.6)
	m.placeMargins(x0, n)
	labels := predictedLabels(m, x0, n)
	var a1 float64
	for i := range d {
		a1 += math.Abs(m.w[d+i])
	}
	const eps = 0.04
	got, err := FAB{Eps: eps, Steps: 100}.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(61, 62)))
	if err != nil {
		t.Fatal(err)
	}
	z := logits64(m, got, n)
	within, beyond := 0, 0
	for i := range n {
		minDist := -m.g(x0[i*d:(i+1)*d]) / a1
		dd := dist(Linf, got, x0, d, i)
		switch {
		case minDist > eps*1.01:
			beyond++
			if dd != 0 {
				t.Errorf("example %d: minimal distance %v > eps, but moved by %v", i, minDist, dd)
			}
		case minDist < eps*0.95:
			within++
			if argmax64(z[i]) == 0 || dd > eps+1e-6 {
				t.Errorf("example %d: minimal distance %v < eps, but class %d at distance %v", i, minDist, argmax64(z[i]), dd)
			}
		}
	}
	if within < n/5 || beyond < n/5 {
		t.Fatalf("%d examples within eps, %d beyond: test not informative", within, beyond)
	}
}
