package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func uniformInputs(rng *rand.Rand, n, d int, lo, hi float64) []float32 {
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return x
}

// borderInputs returns inputs in [0, 1] of which about a third sit exactly
// on 0 or 1, so that the box constraint matters.
func borderInputs(rng *rand.Rand, n, d int) []float32 {
	x := uniformInputs(rng, n, d, 0, 1)
	for i := range x {
		switch rng.IntN(6) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = 1
		}
	}
	return x
}

// logits64 returns the model's logits of each example of x.
func logits64(m model, x []float32, n int) [][]float64 {
	d := m.size()
	out := make([][]float64, n)
	xi := make([]float64, d)
	for i := range n {
		for c := range d {
			xi[c] = float64(x[i*d+c])
		}
		out[i] = make([]float64, m.classes())
		m.forward(xi, out[i])
	}
	return out
}

func argmax64(z []float64) int {
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	return best
}

// predictedLabels returns the model's predictions, to use as labels so that
// every example starts correctly classified.
func predictedLabels(m model, x []float32, n int) []int64 {
	y := make([]int64, n)
	for i, z := range logits64(m, x, n) {
		y[i] = int64(argmax64(z))
	}
	return y
}

func countMisclassified(m model, x []float32, labels []int64) int {
	c := 0
	for i, z := range logits64(m, x, len(labels)) {
		if argmax64(z) != int(labels[i]) {
			c++
		}
	}
	return c
}

// dist returns the norm of example i's perturbation.
func dist(norm Norm, x, x0 []float32, d, i int) float64 {
	var s float64
	for c := i * d; c < (i+1)*d; c++ {
		u := float64(x[c]) - float64(x0[c])
		switch norm {
		case Linf:
			s = math.Max(s, math.Abs(u))
		case L1:
			s += math.Abs(u)
		default:
			s += u * u
		}
	}
	if norm == L2 {
		s = math.Sqrt(s)
	}
	return s
}

// robustLinearLinf reports, exactly, whether a linear model can be made to
// misclassify x (one example) within the L∞ ball of radius eps and [0, 1]:
// a linear function is maximised over a box at a vertex chosen coordinate by
// coordinate.
func robustLinearLinf(m *linear, x []float32, y int, eps float64) bool {
	for j := range m.k {
		if j == y {
			continue
		}
		s := m.b[j] - m.b[y]
		for i, v := range x {
			a := m.w[j*m.d+i] - m.w[y*m.d+i]
			lo, hi := math.Max(0, float64(v)-eps), math.Min(1, float64(v)+eps)
			if a > 0 {
				s += a * hi
			} else {
				s += a * lo
			}
		}
		if s > 0 {
			return false
		}
	}
	return true
}

// TestLinearBinaryWorstCase checks that on z = Wx + b with two classes,
// whose cross-entropy and margin losses increase along w_o - w_y, the
// gradient attacks land on the analytic maximiser: x - eps·sign(a) for L∞
// and x - eps·a/‖a‖ for L2, a = w_y - w_o.
func TestLinearBinaryWorstCase(t *testing.T) {
	const n, d = 12, 16
	rng := rand.New(rand.NewPCG(3, 4))
	m := newLinear(2, d, rng)
	x0 := uniformInputs(rng, n, d, 0.3, 0.7)
	// Examples misclassified at x0 are returned unchanged by design.
	labels := predictedLabels(m, x0, n)
	want := func(norm Norm, eps float64) []float32 {
		out := make([]float32, n*d)
		for i := range n {
			y := int(labels[i])
			var norm2 float64
			a := make([]float64, d)
			for c := range d {
				a[c] = m.w[y*d+c] - m.w[(1-y)*d+c]
				norm2 += a[c] * a[c]
			}
			for c := range d {
				step := eps * math.Copysign(1, a[c])
				if norm == L2 {
					step = eps * a[c] / math.Sqrt(norm2)
				}
				out[i*d+c] = float32(float64(x0[i*d+c]) - step)
			}
		}
		return out
	}
	// gain returns a·(x - x0) for example i: the attack minimises it.
	gain := func(x []float32, i int) (g, normA float64) {
		y := int(labels[i])
		for c := range d {
			a := m.w[y*d+c] - m.w[(1-y)*d+c]
			g += a * (float64(x[i*d+c]) - float64(x0[i*d+c]))
			normA += a * a
		}
		return g, math.Sqrt(normA)
	}
	for _, tc := range []struct {
		name string
		a    Attack
		norm Norm
		eps  float64
		// valueOnly checks the optimal value rather than the point: the
		// loss is flat near the optimum on the sphere, so float32 logits
		// cannot rank iterates that are within about 1e-4 of it.
		valueOnly bool
	}{
		{"fgsm-linf", FGSM{Eps: 0.05}, Linf, 0.05, false},
		{"fgsm-l2", FGSM{Norm: L2, Eps: 0.4}, L2, 0.4, false},
		{"fgsm-linf-cw", FGSM{Eps: 0.05, Loss: LossCW}, Linf, 0.05, false},
		{"pgd-linf", PGD{Eps: 0.05}, Linf, 0.05, false},
		{"pgd-linf-rs", PGD{Eps: 0.05, RandomStart: true, Restarts: 2}, Linf, 0.05, false},
		{"pgd-linf-cw", PGD{Eps: 0.05, Loss: LossCW, Steps: 20}, Linf, 0.05, false},
		{"pgd-l2", PGD{Norm: L2, Eps: 0.4, Steps: 20}, L2, 0.4, false},
		{"pgd-l2-rs", PGD{Norm: L2, Eps: 0.4, Alpha: 0.05, Steps: 200, RandomStart: true}, L2, 0.4, true},
		{"apgd-linf", APGD{Eps: 0.05, Steps: 10}, Linf, 0.05, false},
		{"apgd-linf-cw", APGD{Eps: 0.05, Steps: 10, Loss: LossCW}, Linf, 0.05, false},
		{"apgd-l2", APGD{Norm: L2, Eps: 0.4, Steps: 100}, L2, 0.4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.a.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(5, 6)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.valueOnly {
				for i := range n {
					g, normA := gain(got, i)
					if want := -tc.eps * normA; math.Abs(g-want) > 1e-6*math.Abs(want) {
						t.Errorf("example %d: a·δ = %v, optimum %v", i, g, want)
					}
					if dd := dist(tc.norm, got, x0, d, i); dd > tc.eps+1e-6 {
						t.Errorf("example %d at distance %v", i, dd)
					}
				}
				return
			}
			w := want(tc.norm, tc.eps)
			for i := range got {
				if math.Abs(float64(got[i])-float64(w[i])) > 1e-5 {
					t.Fatalf("example %d coordinate %d: got %v, want %v", i/d, i%d, got[i], w[i])
				}
			}
		})
	}
}

// TestFGSMRandomStart checks FGSM-RS against an independent computation of
// its documented steps: δ uniform in [-eps, eps]^d (one Float64 per
// coordinate), one step of -alpha·sign(a) on the linear binary model,
// projection onto the ball and [0, 1].
func TestFGSMRandomStart(t *testing.T) {
	const n, d, eps = 6, 10, 0.1
	rng := rand.New(rand.NewPCG(7, 8))
	m := newLinear(2, d, rng)
	x0 := borderInputs(rng, n, d)
	labels := predictedLabels(m, x0, n)
	got, err := FGSM{Eps: eps, RandomStart: true}.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	draw := rand.New(rand.NewPCG(9, 9))
	for i := range n {
		y := int(labels[i])
		for c := range d {
			x := float64(x0[i*d+c])
			start := math.Min(math.Max(x+eps*(2*draw.Float64()-1), 0), 1)
			a := m.w[y*d+c] - m.w[(1-y)*d+c]
			v := start - 1.25*eps*math.Copysign(1, a)
			v = math.Min(math.Max(v, math.Max(0, x-eps)), math.Min(1, x+eps))
			if math.Abs(float64(got[i*d+c])-v) > 1e-6 {
				t.Fatalf("example %d coordinate %d: got %v, want %v", i, c, got[i*d+c], v)
			}
		}
	}
}

// TestCWLinearBinary checks that CW-L2 with kappa 0 finds, on the linear
// binary model, a misclassified point at nearly the analytic minimal
// distance margin/‖w_y - w_o‖, and never a smaller one.
func TestCWLinearBinary(t *testing.T) {
	const n, d = 8, 10
	rng := rand.New(rand.NewPCG(11, 12))
	m := newLinear(2, d, rng)
	// Put the decision boundary through the centre of the box, so that the
	// clean margins are small and the minimal perturbations stay inside it.
	m.b[1] = m.b[0]
	for c := range d {
		m.b[1] += (m.w[c] - m.w[d+c]) / 2
	}
	x0 := uniformInputs(rng, n, d, 0.4, 0.6)
	labels := predictedLabels(m, x0, n)
	minDist := make([]float64, n)
	for i := range n {
		y := int(labels[i])
		z := logits64(m, x0[i*d:(i+1)*d], 1)[0]
		var norm2 float64
		for c := range d {
			a := m.w[y*d+c] - m.w[(1-y)*d+c]
			norm2 += a * a
		}
		minDist[i] = (z[y] - z[1-y]) / math.Sqrt(norm2)
		if minDist[i] > 0.1 {
			// Keep only examples whose boundary is inside the box.
			minDist[i] = -1
		}
	}
	got, err := CW{BinarySteps: 12, MaxIter: 1000}.Run(newOracle(m), x0, labels, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i := range n {
		if minDist[i] < 0 {
			continue
		}
		checked++
		z := logits64(m, got[i*d:(i+1)*d], 1)[0]
		if argmax64(z) == int(labels[i]) {
			t.Errorf("example %d not misclassified", i)
			continue
		}
		dd := dist(L2, got, x0, d, i)
		if dd < minDist[i]*(1-1e-4) || dd > minDist[i]*1.03 {
			t.Errorf("example %d: distance %v, analytic minimum %v", i, dd, minDist[i])
		}
	}
	if checked < n/2 {
		t.Fatalf("only %d examples have their boundary inside the box", checked)
	}
}

// allAttacks returns every attack with budget eps, small enough to run
// fast, for a model with k classes on c×h×w inputs.
func allAttacks(eps float64, k, c, h, w int) map[string]Attack {
	as := map[string]Attack{
		"fgsm-linf":     FGSM{Eps: eps},
		"fgsm-rs-linf":  FGSM{Eps: eps, RandomStart: true},
		"fgsm-l2":       FGSM{Norm: L2, Eps: 4 * eps},
		"fgsm-rs-l2":    FGSM{Norm: L2, Eps: 4 * eps, RandomStart: true},
		"pgd-linf":      PGD{Eps: eps, Steps: 5, RandomStart: true, Restarts: 2},
		"pgd-linf-cw":   PGD{Eps: eps, Steps: 5, Loss: LossCW},
		"pgd-l2":        PGD{Norm: L2, Eps: 4 * eps, Steps: 5, RandomStart: true, Restarts: 2},
		"pgd-l2-train":  PGD{Norm: L2, Eps: 4 * eps, Steps: 3, RandomStart: true, LastIterate: true},
		"apgd-linf-ce":  APGD{Eps: eps, Steps: 10, Restarts: 2},
		"apgd-l2-ce":    APGD{Norm: L2, Eps: 4 * eps, Steps: 10},
		"square":        Square{Eps: eps, Queries: 30, Channels: c, Height: h, Width: w},
		"square-l2":     Square{Norm: L2, Eps: 4 * eps, Queries: 30, Channels: c, Height: h, Width: w},
		"cw-restricted": CW{Eps: 4 * eps, MaxIter: 30, BinarySteps: 3, InitialConst: 1},
	}
	as["pgd-l1"] = PGD{Norm: L1, Eps: 10 * eps, Steps: 5, RandomStart: true, Restarts: 2}
	as["apgd-l1-ce"] = APGD{Norm: L1, Eps: 10 * eps, Steps: 10, Restarts: 2}
	as["apgd-l1-large"] = APGD{Norm: L1, Eps: 10 * eps, Steps: 10, LargeEps: true}
	as["pgd-linf-targeted"] = PGD{Eps: eps, Steps: 5, RandomStart: true, Targeted: true, Targets: 2}
	as["pgd-l2-targeted-cw"] = PGD{Norm: L2, Eps: 4 * eps, Steps: 5, Targeted: true, Loss: LossCW}
	as["fab-linf"] = FAB{Eps: eps, Steps: 10, Targets: 2}
	as["fab-l2"] = FAB{Norm: L2, Eps: 4 * eps, Steps: 10, Restarts: 2}
	if k >= 3 {
		as["pgd-linf-dlr"] = PGD{Eps: eps, Steps: 5, Loss: LossDLR}
		as["apgd-linf-dlr"] = APGD{Eps: eps, Steps: 10, Loss: LossDLR}
		as["apgd-l2-dlr"] = APGD{Norm: L2, Eps: 4 * eps, Steps: 10, Loss: LossDLR, Restarts: 2}
	}
	if k >= 4 {
		as["apgd-t-linf"] = APGD{Eps: eps, Steps: 10, Targeted: true, Targets: 3}
		as["apgd-t-l1"] = APGD{Norm: L1, Eps: 10 * eps, Steps: 10, Targeted: true}
	}
	return as
}

// budget returns the norm and radius an attack promises to respect, with
// radius +Inf for unrestricted CW.
func budget(a Attack) (Norm, float64) {
	switch a := a.(type) {
	case FGSM:
		return a.pgd().Norm, a.Eps
	case PGD:
		return a.withDefaults().Norm, a.Eps
	case APGD:
		return a.withDefaults().Norm, a.Eps
	case FAB:
		return a.withDefaults().Norm, a.Eps
	case Square:
		return a.withDefaults().Norm, a.Eps
	case CW:
		if a.Eps > 0 {
			return L2, a.Eps
		}
		return L2, math.Inf(1)
	}
	panic("unknown attack")
}

// TestEpsZero checks that a zero budget returns the inputs unchanged. CW
// and FAB have no budget of their own; with a tiny Eps they must discard
// everything they find.
func TestEpsZero(t *testing.T) {
	const n, k, c, h, w = 10, 4, 1, 3, 3
	rng := rand.New(rand.NewPCG(13, 14))
	m := newTanhNet(k, c*h*w, 6, rng)
	x0 := borderInputs(rng, n, c*h*w)
	// Random labels: some examples start misclassified.
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(rng.IntN(k))
	}
	as := allAttacks(0, k, c, h, w)
	// Eps 0 means unrestricted for the minimal-perturbation attacks.
	delete(as, "cw-restricted")
	delete(as, "fab-linf")
	delete(as, "fab-l2")
	as["cw-tiny"] = CW{Eps: 1e-9, MaxIter: 30, BinarySteps: 3, InitialConst: 1}
	as["fab-tiny"] = FAB{Eps: 1e-9, Steps: 10, Targets: 2}
	before := predictedLabels(m, x0, n)
	for name, a := range as {
		t.Run(name, func(t *testing.T) {
			got, err := a.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != x0[i] {
					t.Fatalf("value %d changed from %v to %v", i, x0[i], got[i])
				}
			}
			after := predictedLabels(m, got, n)
			for i := range after {
				if after[i] != before[i] {
					t.Fatalf("prediction of example %d changed", i)
				}
			}
		})
	}
}

// TestStaysInBudget runs every attack on many seeds, models and shapes, with
// inputs on the borders of [0, 1], and checks each result against its ball
// and the box.
func TestStaysInBudget(t *testing.T) {
	shapes := []struct{ k, c, h, w int }{{2, 1, 2, 3}, {3, 1, 4, 4}, {5, 3, 3, 2}, {4, 1, 3, 3}}
	for _, sh := range shapes {
		d := sh.c * sh.h * sh.w
		for seed := range uint64(24) {
			rng := rand.New(rand.NewPCG(seed, 15))
			var m model = newLinear(sh.k, d, rng)
			if seed%2 == 1 {
				m = newTanhNet(sh.k, d, 5, rng)
			}
			const n = 7
			x0 := borderInputs(rng, n, d)
			labels := make([]int64, n)
			for i := range labels {
				labels[i] = int64(rng.IntN(sh.k))
			}
			eps := []float64{0.03, 0.1, 0.3}[seed%3]
			for name, a := range allAttacks(eps, sh.k, sh.c, sh.h, sh.w) {
				got, err := a.Run(newOracle(m), x0, labels, n, rng)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				norm, r := budget(a)
				for i := range n {
					if dd := dist(norm, got, x0, d, i); dd > r+1e-6 {
						t.Fatalf("%s, seed %d, shape %v: example %d at %s distance %v > %v", name, seed, sh, i, norm, dd, r)
					}
				}
				for i, v := range got {
					if !(v >= 0 && v <= 1) {
						t.Fatalf("%s, seed %d: value %d is %v", name, seed, i, v)
					}
				}
				if _, ok := a.(CW); ok {
					// CW returns either x0 or a point that succeeds.
					z := logits64(m, got, n)
					for i := range n {
						if dist(L2, got, x0, d, i) > 0 && argmax64(z[i]) == int(labels[i]) {
							t.Fatalf("cw, seed %d: example %d moved but is not misclassified", seed, i)
						}
					}
				}
			}
		}
	}
}

// dlr64 is an independent DLR loss: sort a copy of the logits.
func dlr64(z []float64, y int) float64 {
	s := append([]float64(nil), z...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	other := math.Inf(-1)
	for j, v := range z {
		if j != y {
			other = math.Max(other, v)
		}
	}
	return -(z[y] - other) / (s[0] - s[2] + 1e-12)
}

// TestDLRCotangent checks dlrLoss and its gradient against the independent
// dlr64 and its central differences, with the true class at every rank.
func TestDLRCotangent(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, k := range []int{3, 4, 10} {
		for rank := range k {
			// Logits that are exact in float32, the true class at rank.
			z32 := make([]float32, k)
			perm := rng.Perm(k)
			for j := range k {
				z32[perm[j]] = float32(k-j) + float32(rng.IntN(64))/128
			}
			y := perm[rank]
			z := make([]float64, k)
			for j, v := range z32 {
				z[j] = float64(v)
			}
			cot := make([]float32, k)
			got := dlrLoss(z32, y, cot)
			if want := dlr64(z, y); math.Abs(got-want) > 1e-12 {
				t.Errorf("k=%d rank=%d: loss %v, want %v", k, rank, got, want)
			}
			const h = 1e-6
			for j := range k {
				zp := append([]float64(nil), z...)
				zm := append([]float64(nil), z...)
				zp[j] += h
				zm[j] -= h
				fd := (dlr64(zp, y) - dlr64(zm, y)) / (2 * h)
				if math.Abs(fd-float64(cot[j])) > 1e-5*(1+math.Abs(fd)) {
					t.Errorf("k=%d rank=%d: d/dz_%d = %v, finite difference %v", k, rank, j, cot[j], fd)
				}
			}
		}
	}
}

// TestAPGDAtLeastPGD compares, on a linear 10-class model whose exact L∞
// robustness is computable, the successes of PGD and APGD: neither may
// exceed the exact count, and APGD must match or beat PGD.
func TestAPGDAtLeastPGD(t *testing.T) {
	const n, k, d, eps = 200, 10, 40, 0.03
	rng := rand.New(rand.NewPCG(19, 20))
	m := newLinear(k, d, rng)
	x0 := borderInputs(rng, n, d)
	labels := predictedLabels(m, x0, n)
	breakable := 0
	for i := range n {
		if !robustLinearLinf(m, x0[i*d:(i+1)*d], int(labels[i]), eps) {
			breakable++
		}
	}
	run := func(a Attack) int {
		got, err := a.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(21, 22)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if dd := dist(Linf, got, x0, d, i); dd > eps+1e-6 {
				t.Fatalf("%s: example %d at distance %v", a.Name(), i, dd)
			}
		}
		return countMisclassified(m, got, labels)
	}
	pgd := run(PGD{Eps: eps, Steps: 20, RandomStart: true})
	apgdCE := run(APGD{Eps: eps, Steps: 20})
	apgdDLR := run(APGD{Eps: eps, Steps: 20, Loss: LossDLR})
	t.Logf("breakable %d/%d, pgd %d, apgd-ce %d, apgd-dlr %d", breakable, n, pgd, apgdCE, apgdDLR)
	if breakable < n/5 || breakable > n*4/5 {
		t.Fatalf("eps gives %d breakable examples of %d: test not informative", breakable, n)
	}
	for name, got := range map[string]int{"pgd": pgd, "apgd-ce": apgdCE, "apgd-dlr": apgdDLR} {
		if got > breakable {
			t.Errorf("%s broke %d examples, only %d can be", name, got, breakable)
		}
	}
	if apgdCE < pgd || apgdDLR < pgd {
		t.Errorf("apgd (ce %d, dlr %d) broke fewer examples than pgd (%d)", apgdCE, apgdDLR, pgd)
	}
	if apgdDLR < breakable*9/10 {
		t.Errorf("apgd-dlr broke %d of %d breakable examples", apgdDLR, breakable)
	}
}

// TestSquareLowersAccuracy checks that the gradient-free attack breaks a
// good share of the breakable examples of a linear model, never more than
// exist, within its query budget.
func TestSquareLowersAccuracy(t *testing.T) {
	const n, k, c, h, w, eps, queries = 60, 10, 3, 6, 6, 0.05, 300
	d := c * h * w
	rng := rand.New(rand.NewPCG(23, 24))
	m := newLinear(k, d, rng)
	x0 := uniformInputs(rng, n, d, 0, 1)
	labels := predictedLabels(m, x0, n)
	breakable := 0
	for i := range n {
		if !robustLinearLinf(m, x0[i*d:(i+1)*d], int(labels[i]), eps) {
			breakable++
		}
	}
	o := newOracle(m)
	got, err := Square{Eps: eps, Queries: queries, Channels: c, Height: h, Width: w}.Run(o, x0, labels, n, rng)
	if err != nil {
		t.Fatal(err)
	}
	broken := countMisclassified(m, got, labels)
	t.Logf("breakable %d/%d, square %d, %d queries", breakable, n, broken, o.queries)
	if breakable < n/5 {
		t.Fatalf("only %d breakable examples: test not informative", breakable)
	}
	if broken > breakable || broken < breakable/2 {
		t.Errorf("square broke %d examples, %d are breakable", broken, breakable)
	}
	if o.gradientCalls != 0 {
		t.Errorf("square made %d gradient calls", o.gradientCalls)
	}
	if max := n * (queries + 2); o.queries > max {
		t.Errorf("square made %d queries, budget %d", o.queries, max)
	}
	for i := range n {
		if dd := dist(Linf, got, x0, d, i); dd > eps+1e-6 {
			t.Fatalf("example %d at distance %v", i, dd)
		}
	}
}

// TestPGDRestartsKeepWorst checks the worst-case bookkeeping: PGD with R
// restarts must be at least as bad for the classifier, per example, as each
// of R single runs drawing the same random starts (misclassified beats
// correct, then higher loss wins).
func TestPGDRestartsKeepWorst(t *testing.T) {
	const n, k, d, restarts = 40, 4, 12, 4
	rng := rand.New(rand.NewPCG(25, 26))
	m := newTanhNet(k, d, 10, rng)
	x0 := uniformInputs(rng, n, d, 0, 1)
	labels := predictedLabels(m, x0, n)
	for _, norm := range []Norm{Linf, L2} {
		eps := 0.06
		if norm == L2 {
			eps = 0.3
		}
		a := PGD{Norm: norm, Eps: eps, Steps: 3, RandomStart: true, Restarts: restarts}
		combined, err := a.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(27, 28)))
		if err != nil {
			t.Fatal(err)
		}
		single := a
		single.Restarts = 1
		draw := rand.New(rand.NewPCG(27, 28))
		singles := make([][]float32, restarts)
		for r := range singles {
			if singles[r], err = single.Run(newOracle(m), x0, labels, n, draw); err != nil {
				t.Fatal(err)
			}
		}
		score := func(x []float32) (mis []bool, loss []float64) {
			cot := make([]float64, k)
			for i, z := range logits64(m, x, n) {
				mis = append(mis, argmax64(z) != int(labels[i]))
				loss = append(loss, lossCot64(LossCE, z, int(labels[i]), cot))
			}
			return mis, loss
		}
		cm, cl := score(combined)
		improved := 0
		for r, s := range singles {
			sm, sl := score(s)
			for i := range n {
				switch {
				case sm[i] && !cm[i]:
					t.Errorf("%s: restart %d misclassifies example %d, the combined result does not", norm, r, i)
				case !sm[i] && !cm[i] && sl[i] > cl[i]+1e-5:
					t.Errorf("%s: restart %d has loss %v on example %d, the combined result %v", norm, r, sl[i], i, cl[i])
				}
				if r == 0 && (cm[i] && !sm[i] || cm[i] == sm[i] && cl[i] > sl[i]+1e-9) {
					improved++
				}
			}
		}
		if improved == 0 {
			t.Errorf("%s: restarts never improved on the first run: test not informative", norm)
		}
	}
}

// TestProjectL2 compares the exact projection onto the L2 ball and the box
// with Dykstra's alternating projections, which converge to the same point.
func TestProjectL2(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for trial := range 60 {
		d := 1 + rng.IntN(12)
		if trial%10 == 0 {
			d = 300
		}
		passes := 30
		if trial%2 == 1 {
			passes = 0 // bisection only
		}
		x0 := borderInputs(rng, 1, d)
		v := make([]float32, d)
		for i := range v {
			v[i] = float32(float64(x0[i]) + rng.NormFloat64()*0.5)
		}
		eps := 0.05 + rng.Float64()*0.5
		got := append([]float32(nil), v...)
		projectL2Passes(got, x0, eps, passes)
		want := dykstra(v, x0, eps)
		for i := range d {
			if math.Abs(float64(got[i])-want[i]) > 1e-5 {
				t.Fatalf("trial %d (d=%d, %d passes) coordinate %d: got %v, Dykstra %v", trial, d, passes, i, got[i], want[i])
			}
		}
	}
}

// dykstra projects v onto {‖y - x0‖ ≤ eps} ∩ [0, 1]^d by Dykstra's
// algorithm.
func dykstra(v, x0 []float32, eps float64) []float64 {
	d := len(v)
	y := make([]float64, d)
	p, q := make([]float64, d), make([]float64, d)
	for i := range d {
		y[i] = float64(v[i])
	}
	b := make([]float64, d)
	for range 20000 {
		// Ball.
		var n2 float64
		for i := range d {
			b[i] = y[i] + p[i] - float64(x0[i])
			n2 += b[i] * b[i]
		}
		s := 1.0
		if n := math.Sqrt(n2); n > eps {
			s = eps / n
		}
		for i := range d {
			nb := float64(x0[i]) + s*b[i]
			p[i] = y[i] + p[i] - nb
			b[i] = nb
		}
		// Box.
		for i := range d {
			ny := math.Min(math.Max(b[i]+q[i], 0), 1)
			q[i] = b[i] + q[i] - ny
			y[i] = ny
		}
	}
	return y
}

// TestWorkspaceNoAllocs checks that PGD and FGSM reuse their workspace.
func TestWorkspaceNoAllocs(t *testing.T) {
	const n, k, d = 8, 3, 10
	rng := rand.New(rand.NewPCG(31, 32))
	o := newOracle(newTanhNet(k, d, 4, rng))
	x0 := uniformInputs(rng, n, d, 0, 1)
	labels := make([]int64, n)
	xadv := make([]float32, n*d)
	for name, a := range map[string]interface {
		Perturb(*Workspace, []float32, Oracle, []float32, []int64, int, *rand.Rand) error
	}{
		"pgd-train": PGD{Eps: 0.1, Steps: 3, RandomStart: true, LastIterate: true},
		"pgd-eval":  PGD{Norm: L2, Eps: 0.5, Steps: 3, RandomStart: true, Restarts: 2, Loss: LossDLR},
		"fgsm-rs":   FGSM{Eps: 0.1, RandomStart: true},
	} {
		var ws Workspace
		allocs := testing.AllocsPerRun(5, func() {
			if err := a.Perturb(&ws, xadv, o, x0, labels, n, rng); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call", name, allocs)
		}
	}
}

// TestBadInputs checks that malformed calls are refused.
func TestBadInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	o := newOracle(newLinear(2, 3, rng))
	good := []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}
	for _, tc := range []struct {
		name   string
		a      Attack
		x      []float32
		labels []int64
	}{
		{"short input", PGD{Eps: 0.1}, good[:5], []int64{0, 1}},
		{"missing label", PGD{Eps: 0.1}, good, []int64{0}},
		{"label out of range", FGSM{Eps: 0.1}, good, []int64{0, 2}},
		{"input above 1", APGD{Eps: 0.1}, []float32{0.1, 0.2, 1.5, 0.4, 0.5, 0.6}, []int64{0, 1}},
		{"NaN input", CW{}, []float32{0.1, float32(math.NaN()), 0.3, 0.4, 0.5, 0.6}, []int64{0, 1}},
		{"unknown norm", PGD{Norm: "l3", Eps: 0.1}, good, []int64{0, 1}},
		{"fab in l1", FAB{Norm: L1, Eps: 0.1}, good, []int64{0, 1}},
		{"fab restarts without eps", FAB{Restarts: 2}, good, []int64{0, 1}},
		{"targeted dlr on three classes", APGD{Eps: 0.1, Targeted: true}, []float32{0.1, 0.2, 0.3}, []int64{0}},
		{"negative eps", APGD{Eps: -1}, good, []int64{0, 1}},
		{"dlr on two classes", APGD{Eps: 0.1, Loss: LossDLR}, good, []int64{0, 1}},
		{"unknown loss", PGD{Eps: 0.1, Loss: "hinge"}, good, []int64{0, 1}},
		{"square without layout", Square{Eps: 0.1}, good, []int64{0, 1}},
		{"square with wrong layout", Square{Eps: 0.1, Channels: 1, Height: 2, Width: 2}, good, []int64{0, 1}},
		{"square in l1", Square{Norm: L1, Eps: 0.1, Channels: 1, Height: 1, Width: 3}, good, []int64{0, 1}},
	} {
		if _, err := tc.a.Run(o, tc.x, tc.labels, 2, rng); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestParams checks that the reported parameters carry the defaults used.
func TestParams(t *testing.T) {
	for _, tc := range []struct {
		a         Attack
		key, want string
	}{
		{PGD{Eps: 0.1}, "alpha", "0.025"},
		{PGD{Eps: 0.1, Restarts: 5}, "restarts", "1"}, // no random start
		{FGSM{Eps: 0.1, RandomStart: true}, "alpha", "0.125"},
		{APGD{Eps: 0.1}, "steps", "100"},
		{CW{}, "binary_steps", "9"},
		{Square{Eps: 0.1}, "queries", "5000"},
		{Square{Eps: 0.1}, "norm", "linf"},
		{FAB{}, "targets", "9"},
	} {
		if got := tc.a.Params()[tc.key]; got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.a.Name(), tc.key, got, tc.want)
		}
	}
}

// nanOracle returns NaN logits, as a broken model might.
type nanOracle struct{ *oracle }

func (o nanOracle) Logits(x []float32, n int, logits []float32) error {
	for i := range logits {
		logits[i] = float32(math.NaN())
	}
	return nil
}

func (o nanOracle) LossGrad(l Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	return o.Logits(x, n, logits)
}

func (o nanOracle) VJP(x []float32, n int, _ func(i int, z, c []float32), grad, logits []float32) error {
	return o.Logits(x, n, logits)
}

// TestNonFiniteLogits checks that NaN logits are an error rather than a
// successful attack.
func TestNonFiniteLogits(t *testing.T) {
	const n, k, c, h, w = 3, 3, 1, 2, 2
	rng := rand.New(rand.NewPCG(35, 36))
	o := nanOracle{newOracle(newLinear(k, c*h*w, rng))}
	x0 := uniformInputs(rng, n, c*h*w, 0, 1)
	labels := []int64{0, 1, 2}
	for name, a := range allAttacks(0.1, k, c, h, w) {
		if _, err := a.Run(o, x0, labels, n, rng); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestKeepWorst checks the order PGD keeps: misclassified beats correctly
// classified whatever the losses, then the higher loss wins, ties keep the
// earlier point.
func TestKeepWorst(t *testing.T) {
	for _, tc := range []struct {
		name           string
		bestMis, mis   bool
		bestLoss, loss float64
		replaced       bool
	}{
		{"misclassified beats higher loss", false, true, 5, 1, true},
		{"correct never beats misclassified", true, false, 1, 5, false},
		{"higher loss among correct", false, false, 1, 2, true},
		{"lower loss among correct", false, false, 2, 1, false},
		{"higher loss among misclassified", true, true, 1, 2, true},
		{"tie keeps earlier", false, false, 1, 1, false},
	} {
		ws := &Workspace{bestMis: []bool{tc.bestMis}, bestLoss: []float64{tc.bestLoss}, loss: []float64{tc.loss}}
		// Two classes, label 0: logits (0, 1) misclassify, (1, 0) do not.
		ws.logits = []float32{1, 0}
		if tc.mis {
			ws.logits = []float32{0, 1}
		}
		xadv, cur := []float32{0.5}, []float32{0.7}
		ws.keepWorst(xadv, cur, []int{0}, []int64{0}, 1, 2)
		if got := xadv[0] == cur[0]; got != tc.replaced {
			t.Errorf("%s: replaced %v, want %v", tc.name, got, tc.replaced)
		}
		if tc.replaced && (ws.bestMis[0] != tc.mis || ws.bestLoss[0] != tc.loss) {
			t.Errorf("%s: best not updated", tc.name)
		}
	}
}

// TestAPGDCheckpoints compares the checkpoint schedule with the paper's
// definition: p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03,
// 0.06), checkpoints at ⌈p_j·Steps⌉ iterations; for 100 steps 22, 41, 57,
// 70, 80, 87, 93 and 99.
func TestAPGDCheckpoints(t *testing.T) {
	want := []int{22, 41, 57, 70, 80, 87, 93, 99}
	got := apgdCheckpoints(100)
	if len(got) != len(want) {
		t.Fatalf("checkpoints %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("checkpoints %v, want %v", got, want)
		}
	}
	for _, steps := range []int{1, 5, 10, 20, 50, 1000} {
		ck := apgdCheckpoints(steps)
		p0, p1 := 0.0, 0.22
		for _, c := range ck {
			if w := int(math.Ceil(p1*float64(steps) - 1e-9)); steps >= 100 && c != w {
				t.Errorf("steps %d: checkpoint %d, paper %d", steps, c, w)
			}
			if c > steps {
				t.Errorf("steps %d: checkpoint %d beyond the end", steps, c)
			}
			p0, p1 = p1, p1+math.Max(p1-p0-0.03, 0.06)
		}
	}
}

// TestSquareL2LowersAccuracy checks the L2 Square attack on a linear
// model: it breaks most examples whose distance to a wrong class's
// boundary is well within eps, none beyond eps (the inputs keep the box
// out of the way, so that distance is exact), and stays in its ball.
func TestSquareL2LowersAccuracy(t *testing.T) {
	const n, k, c, h, w, eps, queries = 60, 10, 1, 10, 10, 0.1, 300
	d := c * h * w
	rng := rand.New(rand.NewPCG(65, 66))
	m := newLinear(k, d, rng)
	x0 := uniformInputs(rng, n, d, 0.35, 0.65)
	labels := predictedLabels(m, x0, n)
	// minDist is the L2 distance to the nearest wrong class's boundary.
	minDist := make([]float64, n)
	for i := range n {
		z := logits64(m, x0[i*d:(i+1)*d], 1)[0]
		y := int(labels[i])
		minDist[i] = math.Inf(1)
		for j := range k {
			if j == y {
				continue
			}
			var a2 float64
			for q := range d {
				a := m.w[j*d+q] - m.w[y*d+q]
				a2 += a * a
			}
			minDist[i] = math.Min(minDist[i], (z[y]-z[j])/math.Sqrt(a2))
		}
	}
	o := newOracle(m)
	got, err := Square{Norm: L2, Eps: eps, Queries: queries, Channels: c, Height: h, Width: w}.Run(o, x0, labels, n, rng)
	if err != nil {
		t.Fatal(err)
	}
	z := logits64(m, got, n)
	easy, easyBroken := 0, 0
	for i := range n {
		broken := argmax64(z[i]) != int(labels[i])
		if broken && minDist[i] > eps*(1+1e-6) {
			t.Errorf("example %d broken, but its boundary is %v away, eps %v", i, minDist[i], eps)
		}
		if minDist[i] < eps/2 {
			easy++
			if broken {
				easyBroken++
			}
		}
		if dd := dist(L2, got, x0, d, i); dd > eps+1e-5 {
			t.Fatalf("example %d at L2 distance %v", i, dd)
		}
	}
	t.Logf("%d examples within eps/2 of a boundary, %d of them broken; %d queries", easy, easyBroken, o.queries)
	if easy < n/5 || easyBroken < easy*9/10 {
		t.Errorf("square-l2 broke %d of the %d examples within eps/2 of a boundary", easyBroken, easy)
	}
	if o.gradientCalls != 0 {
		t.Errorf("square made %d gradient calls", o.gradientCalls)
	}
}

// holdingOracle is an oracle that counts its holds and fails a call made
// while not held.
type holdingOracle struct {
	*oracle
	holds, releases int
}

func (o *holdingOracle) Hold() (release func()) {
	o.holds++
	return func() { o.releases++ }
}

func (o *holdingOracle) held() error {
	if o.holds != o.releases+1 {
		return fmt.Errorf("oracle called with %d holds and %d releases, want it held once", o.holds, o.releases)
	}
	return nil
}

func (o *holdingOracle) Logits(x []float32, n int, logits []float32) error {
	if err := o.held(); err != nil {
		return err
	}
	return o.oracle.Logits(x, n, logits)
}

func (o *holdingOracle) LossGrad(l Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	if err := o.held(); err != nil {
		return err
	}
	return o.oracle.LossGrad(l, x, labels, n, loss, grad, logits)
}

func (o *holdingOracle) VJP(x []float32, n int, cotangent func(i int, z, c []float32), grad, logits []float32) error {
	if err := o.held(); err != nil {
		return err
	}
	return o.oracle.VJP(x, n, cotangent, grad, logits)
}

// TestAttacksHoldOracle checks that every attack holds a Holder oracle
// while it queries it, once, and releases it when done.
func TestAttacksHoldOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const n, k, d = 3, 4, 6
	m := newLinear(k, d, rng)
	x := uniformInputs(rng, n, d, 0.2, 0.8)
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(argmax64(logits64(m, x[i*d:(i+1)*d], 1)[0]))
	}
	for _, a := range []Attack{
		FGSM{Norm: Linf, Eps: 0.1},
		PGD{Norm: Linf, Eps: 0.1, Steps: 3},
		APGD{Norm: Linf, Eps: 0.1, Steps: 3},
		CW{BinarySteps: 2, MaxIter: 3},
		Square{Norm: Linf, Eps: 0.1, Queries: 5, Channels: 1, Height: 2, Width: 3},
		FAB{Norm: Linf, Eps: 0.1, Steps: 3},
	} {
		o := &holdingOracle{oracle: newOracle(m)}
		if _, err := a.Run(o, x, labels, n, rand.New(rand.NewPCG(1, 2))); err != nil {
			t.Errorf("%s: %v", a.Name(), err)
			continue
		}
		if o.holds != 1 || o.releases != 1 {
			t.Errorf("%s: %d holds, %d releases; want 1 and 1", a.Name(), o.holds, o.releases)
		}
	}
}

// TestClampMatchesMath checks the claim projectLinf's speed rests on: with
// finite bounds, as every caller has, the builtin min and max give what
// math.Min and math.Max do, bit for bit, on NaN, signed zeros and
// infinities too. (They differ where a bound is infinite and v is NaN:
// math.Min(NaN, -Inf) is -Inf.)
func TestClampMatchesMath(t *testing.T) {
	bounds := []float64{-1, math.Copysign(0, -1), 0, 0.25, 1}
	vals := append([]float64{math.NaN(), math.Inf(-1), math.Inf(1)}, bounds...)
	for _, v := range vals {
		for _, lo := range bounds {
			for _, hi := range bounds {
				got, want := clamp(v, lo, hi), math.Min(math.Max(v, lo), hi)
				if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("clamp(%v, %v, %v) = %v, math.Min(math.Max) gives %v", v, lo, hi, got, want)
				}
			}
		}
	}
}

// TestEarlyStop checks that stopping an example at its first
// misclassified iterate breaks exactly the examples that attacking every
// step breaks, returns for each a misclassified point within the budget,
// and asks the oracle about fewer examples.
func TestEarlyStop(t *testing.T) {
	const n, k, d = 60, 4, 12
	rng := rand.New(rand.NewPCG(91, 92))
	m := newTanhNet(k, d, 16, rng)
	x0 := uniformInputs(rng, n, d, 0.2, 0.8)
	labels := make([]int64, n)
	for i, z := range logits64(m, x0, n) {
		labels[i] = int64(argmax64(z))
	}
	for _, tc := range []struct {
		name string
		a    func(early bool) Attack
		norm Norm
		eps  float64
	}{
		{"apgd-linf", func(e bool) Attack { return APGD{Eps: 0.15, Steps: 30, EarlyStop: e} }, Linf, 0.15},
		{"apgd-l2", func(e bool) Attack { return APGD{Norm: L2, Eps: 0.6, Steps: 30, Restarts: 2, EarlyStop: e} }, L2, 0.6},
		{"apgd-t", func(e bool) Attack { return APGD{Eps: 0.15, Steps: 20, Targeted: true, Targets: 3, EarlyStop: e} }, Linf, 0.15},
		{"pgd", func(e bool) Attack {
			return PGD{Eps: 0.15, Steps: 30, RandomStart: true, Restarts: 2, EarlyStop: e}
		}, Linf, 0.15},
		{"pgd-cw-l2", func(e bool) Attack {
			return PGD{Norm: L2, Eps: 0.6, Steps: 30, Loss: LossCW, EarlyStop: e}
		}, L2, 0.6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(early bool) ([]float32, int) {
				o := newOracle(m)
				x, err := tc.a(early).Run(o, x0, labels, n, rand.New(rand.NewPCG(7, 8)))
				if err != nil {
					t.Fatal(err)
				}
				return x, o.gradExamples
			}
			full, fullCost := run(false)
			early, earlyCost := run(true)
			zFull, zEarly := logits64(m, full, n), logits64(m, early, n)
			broken := 0
			for i := range n {
				bf, be := argmax64(zFull[i]) != int(labels[i]), argmax64(zEarly[i]) != int(labels[i])
				if bf != be {
					t.Errorf("example %d: broken %v attacking every step, %v stopping early", i, bf, be)
				}
				if be {
					broken++
					if dd := dist(tc.norm, early, x0, d, i); dd > tc.eps+1e-5 {
						t.Errorf("example %d returned at distance %v, budget %v", i, dd, tc.eps)
					}
				}
			}
			if broken == 0 || broken == n {
				t.Fatalf("%d of %d examples broken: the check is vacuous", broken, n)
			}
			if earlyCost >= fullCost {
				t.Errorf("oracle asked about %d examples stopping early, %d attacking every step", earlyCost, fullCost)
			}
			t.Logf("%d of %d broken; oracle examples %d -> %d", broken, n, fullCost, earlyCost)
		})
	}
}
