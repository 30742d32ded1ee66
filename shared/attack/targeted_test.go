package attack

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// pairModel is a linear model whose targeted problems have analytic
// answers: z_0 = M - g(x), z_1 = M + g(x) with g(x) = a·x + c, and the
// other classes constant far below. Label 0 is predicted while g < 0, its
// most likely wrong class is 1, and class 1 wins exactly when g > 0. Every
// loss the attacks ascend towards target 1 (log p_1, z_1 - max_{j≠1} z_j,
// the targeted DLR loss, cross-entropy of label 0) rises with g, so each
// attack's best point is the maximiser of a·x over the ball and the box.
func pairModel(k, d int, rng *rand.Rand) *linear {
	const big = 5
	m := &linear{k: k, d: d, w: make([]float64, k*d), b: make([]float64, k)}
	for i := range d {
		a := rng.NormFloat64()
		m.w[i], m.w[d+i] = -a, a
	}
	m.b[0], m.b[1] = big, big
	for j := 2; j < k; j++ {
		m.b[j] = -float64(j)
	}
	return m
}

// g returns a·x + c of pairModel for one example.
func (m *linear) g(x []float32) float64 {
	s := (m.b[1] - m.b[0]) / 2
	for i, v := range x {
		s += m.w[m.d+i] * float64(v)
	}
	return s
}

// placeMargins sets c so that the largest g(x0) over the n examples is
// -0.05: every example starts classified 0, the closest just short of the
// boundary.
func (m *linear) placeMargins(x0 []float32, n int) {
	top := math.Inf(-1)
	for e := range n {
		top = math.Max(top, m.g(x0[e*m.d:(e+1)*m.d]))
	}
	c := (m.b[1]-m.b[0])/2 - 0.05 - top
	mid := (m.b[0] + m.b[1]) / 2
	m.b[0], m.b[1] = mid-c, mid+c
}

// maxGain returns the largest a·δ over the ball of radius eps and the box
// around x: the vertex for L∞, eps·‖a‖ for L2 (the tests keep the box out
// of reach) and, for L1, the budget spent greedily on the largest |a_i|
// up to each coordinate's room.
func (m *linear) maxGain(norm Norm, x []float32, eps float64) float64 {
	d := m.d
	a := m.w[d : 2*d]
	var s float64
	switch norm {
	case Linf:
		for i, v := range x {
			if a[i] > 0 {
				s += a[i] * (math.Min(1, float64(v)+eps) - float64(v))
			} else {
				s += a[i] * (math.Max(0, float64(v)-eps) - float64(v))
			}
		}
	case L2:
		for _, v := range a {
			s += v * v
		}
		s = eps * math.Sqrt(s)
	case L1:
		idx := make([]int, d)
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(p, q int) bool { return math.Abs(a[idx[p]]) > math.Abs(a[idx[q]]) })
		left := eps
		for _, i := range idx {
			room := 1 - float64(x[i])
			if a[i] < 0 {
				room = float64(x[i])
			}
			u := math.Min(room, left)
			s += math.Abs(a[i]) * u
			left -= u
		}
	}
	return s
}

// TestTargetOrder checks that targets are the wrong classes, most likely
// first, ties to the lower index.
func TestTargetOrder(t *testing.T) {
	z := []float32{
		0.5, 3, 1, 2, // label 1: 3, 0, 2
		1, 1, 0, 1, // label 3: ties 0, 1, then 2
	}
	order := make([]int64, 2*3)
	targetOrder(order, z, []int64{1, 3}, 2, 4)
	want := []int64{3, 2, 0, 0, 1, 2}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

// dlrTargeted64 is an independent targeted DLR loss: sort a copy.
func dlrTargeted64(z []float64, y, tgt int) float64 {
	s := append([]float64(nil), z...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	return -(z[y] - z[tgt]) / (s[0] - (s[2]+s[3])/2 + 1e-12)
}

// TestDLRTargetedCotangent checks dlrTargetedLoss and its gradient against
// dlrTargeted64 and its central differences, with label and target at
// every pair of ranks.
func TestDLRTargetedCotangent(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, k := range []int{4, 5, 10} {
		for ry := range k {
			for rt := range k {
				if rt == ry {
					continue
				}
				z32 := make([]float32, k)
				perm := rng.Perm(k)
				for j := range k {
					z32[perm[j]] = float32(k-j) + float32(rng.IntN(64))/128
				}
				y, tgt := perm[ry], perm[rt]
				z := make([]float64, k)
				for j, v := range z32 {
					z[j] = float64(v)
				}
				cot := make([]float32, k)
				got := dlrTargetedLoss(z32, y, tgt, cot)
				if want := dlrTargeted64(z, y, tgt); math.Abs(got-want) > 1e-12 {
					t.Errorf("k=%d ranks %d,%d: loss %v, want %v", k, ry, rt, got, want)
				}
				const h = 1e-6
				for j := range k {
					zp := append([]float64(nil), z...)
					zm := append([]float64(nil), z...)
					zp[j] += h
					zm[j] -= h
					fd := (dlrTargeted64(zp, y, tgt) - dlrTargeted64(zm, y, tgt)) / (2 * h)
					if math.Abs(fd-float64(cot[j])) > 1e-5*(1+math.Abs(fd)) {
						t.Errorf("k=%d ranks %d,%d: d/dz_%d = %v, finite difference %v", k, ry, rt, j, cot[j], fd)
					}
				}
			}
		}
	}
}

// TestTargetedReachesTarget runs targeted PGD and APGD on pairModel, whose
// best point towards target 1 is known: every attack must reach the
// analytic maximum of g over the ball and the box, and so be classified as
// the target exactly where that maximum is positive.
func TestTargetedReachesTarget(t *testing.T) {
	const n, k, d = 40, 5, 24
	rng := rand.New(rand.NewPCG(43, 44))
	m := pairModel(k, d, rng)
	x0 := uniformInputs(rng, n, d, 0.3, 0.7)
	m.placeMargins(x0, n)
	labels := predictedLabels(m, x0, n)
	for i, y := range labels {
		if y != 0 {
			t.Fatalf("example %d predicted %d, want 0", i, y)
		}
	}
	for _, tc := range []struct {
		name string
		a    Attack
		norm Norm
		eps  float64
		// tol bounds, relative, how far the gain a·δ of an unbroken
		// example may fall short of the maximum; the target must be
		// reached where the maximum, shortened so, crosses the boundary.
		tol float64
		// allTargets: later targets pull g down again, so only the
		// reaching of target 1 is checked.
		allTargets bool
	}{
		{"pgd-linf-ce", PGD{Eps: 0.05, Steps: 20, Targeted: true, Targets: 1}, Linf, 0.05, 1e-5, false},
		{"pgd-linf-cw", PGD{Eps: 0.05, Steps: 20, Targeted: true, Targets: 1, Loss: LossCW}, Linf, 0.05, 1e-5, false},
		{"pgd-linf-dlr", PGD{Eps: 0.05, Steps: 20, Targeted: true, Targets: 1, Loss: LossDLR}, Linf, 0.05, 1e-5, false},
		{"pgd-l2-ce", PGD{Norm: L2, Eps: 0.3, Steps: 40, Targeted: true, Targets: 2}, L2, 0.3, 1e-4, false},
		{"apgd-t-linf", APGD{Eps: 0.05, Steps: 20, Targeted: true, Targets: 1}, Linf, 0.05, 1e-5, false},
		{"apgd-t-linf-9", APGD{Eps: 0.05, Steps: 20, Targeted: true}, Linf, 0.05, 1e-5, true},
		{"apgd-t-l2", APGD{Norm: L2, Eps: 0.3, Steps: 50, Targeted: true, Targets: 1}, L2, 0.3, 1e-4, false},
		// APGD-L1 spreads its budget evenly over the few coordinates its
		// sparse steps move, where the optimum fills the best ones first.
		{"apgd-t-l1", APGD{Norm: L1, Eps: 0.6, Steps: 100, Targeted: true, Targets: 1}, L1, 0.6, 0.2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.a.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(45, 46)))
			if err != nil {
				t.Fatal(err)
			}
			reached := 0
			z := logits64(m, got, n)
			for i := range n {
				xi, x0i := got[i*d:(i+1)*d], x0[i*d:(i+1)*d]
				gain, best := m.g(xi)-m.g(x0i), m.maxGain(tc.norm, x0i, tc.eps)
				if dd := dist(tc.norm, got, x0, d, i); dd > tc.eps+1e-5 {
					t.Fatalf("example %d at %s distance %v > %v", i, tc.norm, dd, tc.eps)
				}
				// Broken examples may stop short of the maximum (APGD returns
				// the last misclassified iterate); the others must reach it.
				mis := argmax64(z[i]) != 0
				if !mis && !tc.allTargets && (gain > best*(1+1e-6) || gain < best*(1-tc.tol)) {
					t.Errorf("example %d: gain %v, analytic maximum %v", i, gain, best)
				}
				want := m.g(x0i)+best*(1-tc.tol) > 1e-4
				if want && argmax64(z[i]) != 1 {
					t.Errorf("example %d: the target is reachable (g up to %v) but the attack ends at class %d", i, m.g(x0i)+best, argmax64(z[i]))
				}
				if !want && mis && m.g(x0i)+best < -1e-4 {
					t.Errorf("example %d misclassified, but g can reach only %v", i, m.g(x0i)+best)
				}
				if want {
					reached++
				}
			}
			if reached < n/5 || reached > n*4/5 {
				t.Errorf("the target is reachable for %d of %d examples: test not informative", reached, n)
			}
		})
	}
}

// TestAPGDTargetedBreaksBreakable compares APGD-T with APGD-CE on a
// random linear 10-class model whose exact L∞ robustness is computable:
// APGD-T, which tries every wrong class, must break at least as many
// examples as APGD-CE and nearly every breakable one, never more.
func TestAPGDTargetedBreaksBreakable(t *testing.T) {
	const n, k, d, eps = 200, 10, 40, 0.03
	rng := rand.New(rand.NewPCG(47, 48))
	m := newLinear(k, d, rng)
	x0 := borderInputs(rng, n, d)
	labels := predictedLabels(m, x0, n)
	breakable := 0
	for i := range n {
		if !robustLinearLinf(m, x0[i*d:(i+1)*d], int(labels[i]), eps) {
			breakable++
		}
	}
	broken := func(a Attack) int {
		got, err := a.Run(newOracle(m), x0, labels, n, rand.New(rand.NewPCG(49, 50)))
		if err != nil {
			t.Fatal(err)
		}
		return countMisclassified(m, got, labels)
	}
	ce := broken(APGD{Eps: eps, Steps: 20})
	tgt := broken(APGD{Eps: eps, Steps: 20, Targeted: true})
	t.Logf("breakable %d/%d, apgd-ce %d, apgd-t %d", breakable, n, ce, tgt)
	if tgt > breakable || tgt < ce || tgt < breakable*95/100 {
		t.Errorf("apgd-t broke %d examples: apgd-ce %d, breakable %d", tgt, ce, breakable)
	}
}

// TestTargetedParams checks the recorded parameters: the targets of a
// targeted attack, nothing new for an untargeted one (so that its streams
// merge with earlier ones), and APGD-T's default loss.
func TestTargetedParams(t *testing.T) {
	p := APGD{Eps: 0.1, Targeted: true}.Params()
	if p["targets"] != "9" || p["loss"] != "dlr" {
		t.Errorf("apgd-t params %v, want targets 9 and loss dlr", p)
	}
	if p := (PGD{Eps: 0.1, Targeted: true, Targets: 3}).Params(); p["targets"] != "3" || p["loss"] != "ce" {
		t.Errorf("targeted pgd params %v, want targets 3 and loss ce", p)
	}
	for _, a := range []Attack{PGD{Eps: 0.1}, APGD{Eps: 0.1}} {
		if _, ok := a.Params()["targets"]; ok {
			t.Errorf("untargeted %s records targets: %v", a.Name(), a.Params())
		}
	}
}
