package attack

import (
	"math/rand/v2"
	"testing"
)

// maskedOracle hides the gradient of the examples whose first input value
// is below 1/2 (above, if high), as a defence that masks gradients would.
type maskedOracle struct {
	*oracle
	high bool
}

func (o maskedOracle) hide(x, grad []float32, n int) {
	d := o.m.size()
	for i := range n {
		if (x[i*d] < 0.5) != o.high {
			clear(grad[i*d : (i+1)*d])
		}
	}
}

func (o maskedOracle) LossGrad(l Loss, x []float32, labels []int64, n int, loss, grad, logits []float32) error {
	err := o.oracle.LossGrad(l, x, labels, n, loss, grad, logits)
	o.hide(x, grad, n)
	return err
}

func (o maskedOracle) VJP(x []float32, n int, cotangent func(i int, z, c []float32), grad, logits []float32) error {
	err := o.oracle.VJP(x, n, cotangent, grad, logits)
	o.hide(x, grad, n)
	return err
}

// TestSuiteNeverWeaker runs a suite on a non-linear model and each of its
// members alone on the same examples: every example a member breaks alone
// the suite breaks too, the suite's points are misclassified by the target
// within the budget, and the member it names is the first that broke the
// example. The members are deterministic given the examples (no random
// start, FAB-T with one run) or, like APGD-CE here, first in line, so that
// in the suite they attack with the draws they use alone. The target masks
// the gradients of half the examples; the last member crafts, as a
// transfer attack does, on another oracle, which masks the other half: so
// the suite is stronger than each member.
func TestSuiteNeverWeaker(t *testing.T) {
	const n, k, c, h, w, eps = 80, 5, 1, 4, 4, 0.05
	d := c * h * w
	rng := rand.New(rand.NewPCG(71, 72))
	m := newTanhNet(k, d, 12, rng)
	x0 := uniformInputs(rng, n, d, 0, 1)
	for i := range n {
		// Keep the first value away from 1/2 by more than eps, so that
		// whether an example's gradient is hidden does not change.
		x0[i*d] = float32(0.3*rng.Float64() + 0.7*float64(i%2))
	}
	// True labels: mostly the prediction, some not, so that some examples
	// start misclassified.
	labels := predictedLabels(m, x0, n)
	for i := 0; i < n; i += 9 {
		labels[i] = (labels[i] + 1) % k
	}
	// Weak members, so that each misses examples another breaks.
	members := []Member{
		{Name: "apgd-ce", Attack: APGD{Eps: eps, Steps: 1}},
		{Name: "pgd-t", Attack: PGD{Eps: eps, Steps: 2, Targeted: true, Targets: 1, Loss: LossCW}},
		{Name: "fab-t", Attack: FAB{Eps: eps, Steps: 2, Targets: 2}},
		{Name: "transfer", Attack: PGD{Eps: eps, Steps: 5}, Craft: maskedOracle{newOracle(m), true}},
	}
	target := func() Oracle { return maskedOracle{newOracle(m), false} }
	const seed = 7
	var calls []int
	var last SuiteProgress
	suite := Suite{Members: members, Chunk: 16, Progress: func(p SuiteProgress) {
		if p.Done > p.Total || p.Robust > last.Robust && len(calls) > 0 {
			t.Errorf("progress %+v after %+v", p, last)
		}
		calls = append(calls, p.Member)
		last = p
	}}
	res, err := suite.Run(target(), x0, labels, n, seed)
	if err != nil {
		t.Fatal(err)
	}
	clean := predictedLabels(m, x0, n)
	adv := predictedLabels(m, res.Adv, n)
	suiteBroken := 0
	for i := range n {
		if res.CleanPred[i] != clean[i] || res.AdvPred[i] != adv[i] {
			t.Fatalf("example %d: predictions %d, %d recorded, %d, %d recomputed", i, res.CleanPred[i], res.AdvPred[i], clean[i], adv[i])
		}
		switch {
		case clean[i] != labels[i]:
			if res.BrokenBy[i] != -1 || dist(Linf, res.Adv, x0, d, i) != 0 {
				t.Errorf("example %d misclassified to begin with, but broken by %d", i, res.BrokenBy[i])
			}
		case res.BrokenBy[i] >= 0:
			suiteBroken++
			if adv[i] == labels[i] {
				t.Errorf("example %d broken by %s, but its point is classified right", i, members[res.BrokenBy[i]].Name)
			}
			if dd := dist(Linf, res.Adv, x0, d, i); dd > eps+1e-6 {
				t.Errorf("example %d at distance %v", i, dd)
			}
		default:
			if adv[i] != labels[i] || dist(Linf, res.Adv, x0, d, i) != 0 {
				t.Errorf("example %d not broken, but its point moved or is misclassified", i)
			}
		}
	}
	best := 0
	for mi, mem := range members {
		craft := mem.Craft
		if craft == nil {
			craft = target()
		}
		// Alone, on the examples the target classifies right (as the
		// suite's first member sees them), with the suite's seed for it.
		var idx []int
		for i := range n {
			if clean[i] == labels[i] {
				idx = append(idx, i)
			}
		}
		xs := make([]float32, len(idx)*d)
		gather(xs, x0, idx, d)
		ys := make([]int64, len(idx))
		gather(ys, labels, idx, 1)
		var got []float32
		// The same chunks as the suite's first member, with its generator.
		r := memberRand(seed, mem.Name)
		for lo := 0; lo < len(idx); lo += suite.Chunk {
			hi := min(lo+suite.Chunk, len(idx))
			part, err := mem.Attack.Run(craft, xs[lo*d:hi*d], ys[lo:hi], hi-lo, r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, part...)
		}
		alone := predictedLabels(m, got, len(idx))
		broken := 0
		for j, i := range idx {
			if alone[j] == labels[i] {
				continue
			}
			broken++
			if res.BrokenBy[i] < 0 {
				t.Errorf("%s alone breaks example %d, the suite does not", mem.Name, i)
			}
			if mi == 0 && res.BrokenBy[i] != 0 {
				t.Errorf("example %d: broken by %d, but the first member breaks it", i, res.BrokenBy[i])
			}
		}
		best = max(best, broken)
		t.Logf("%s alone breaks %d, attacked %d in the suite", mem.Name, broken, res.Attacked[mi])
		if mi > 0 && res.Attacked[mi] > res.Attacked[mi-1] {
			t.Errorf("member %d attacked %d examples, more than the one before it (%d)", mi, res.Attacked[mi], res.Attacked[mi-1])
		}
	}
	t.Logf("the suite breaks %d", suiteBroken)
	correct := 0
	for i := range n {
		if clean[i] == labels[i] {
			correct++
		}
	}
	if last.Robust != correct-suiteBroken {
		t.Errorf("last progress %+v, want %d robust", last, correct-suiteBroken)
	}
	if suiteBroken <= best {
		t.Errorf("the suite breaks %d examples, its best member alone %d: test not informative", suiteBroken, best)
	}
	if len(calls) == 0 || calls[len(calls)-1] != len(members)-1 && res.Attacked[len(members)-1] > 0 {
		t.Errorf("progress calls %v", calls)
	}
}

// TestStandardSuite runs AutoAttack's standard members, shortened, on a
// model with a square input, in L∞ and L2: the suite must break at least
// as many examples as APGD-CE alone (its first member, so exactly those
// and more), and no example may be broken beyond the budget.
func TestStandardSuite(t *testing.T) {
	const n, k, c, h, w = 60, 10, 1, 5, 5
	d := c * h * w
	rng := rand.New(rand.NewPCG(73, 74))
	m := newTanhNet(k, d, 16, rng)
	x0 := uniformInputs(rng, n, d, 0, 1)
	labels := predictedLabels(m, x0, n)
	for _, tc := range []struct {
		norm Norm
		eps  float64
	}{{Linf, 0.05}, {L2, 0.25}, {L1, 0.6}} {
		t.Run(string(tc.norm), func(t *testing.T) {
			members := Standard(tc.norm, tc.eps, c, h, w)
			for i, mem := range members {
				switch a := mem.Attack.(type) {
				case APGD:
					a.Steps = 10
					members[i].Attack = a
				case FAB:
					a.Steps = 10
					members[i].Attack = a
				case Square:
					a.Queries = 50
					members[i].Attack = a
				}
			}
			res, err := Suite{Members: members}.Run(newOracle(m), x0, labels, n, 3)
			if err != nil {
				t.Fatal(err)
			}
			first, err := members[0].Attack.Run(newOracle(m), x0, labels, n, memberRand(3, members[0].Name))
			if err != nil {
				t.Fatal(err)
			}
			alone := predictedLabels(m, first, n)
			suiteBroken, firstBroken := 0, 0
			for i := range n {
				if res.BrokenBy[i] >= 0 {
					suiteBroken++
					if dd := dist(tc.norm, res.Adv, x0, d, i); dd > tc.eps*(1+1e-5) {
						t.Errorf("example %d at %s distance %v > %v", i, tc.norm, dd, tc.eps)
					}
				}
				if alone[i] != labels[i] {
					firstBroken++
					if res.BrokenBy[i] != 0 {
						t.Errorf("example %d: apgd-ce alone breaks it, the suite names member %d", i, res.BrokenBy[i])
					}
				}
			}
			t.Logf("%s: apgd-ce alone %d, suite %d of %d (attacked %v)", tc.norm, firstBroken, suiteBroken, n, res.Attacked)
			if firstBroken == 0 || firstBroken == n {
				t.Errorf("apgd-ce breaks %d of %d: test not informative", firstBroken, n)
			}
		})
	}
}
