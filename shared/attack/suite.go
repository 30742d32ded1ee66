package attack

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
)

// A Member is one attack of a Suite.
type Member struct {
	// Name is how streams and reports name the member, e.g. "apgd-t".
	Name   string
	Attack Attack
	// Craft is the oracle the attack differentiates or queries: another
	// model for a transfer attack, a variant of the target's forward pass
	// (an SGN's detached path); nil means the target itself.
	Craft Oracle
	// Via says, for reports, what Craft is when it is not the target's
	// own gradient: "detached", "surrogate", "transfer"; "" otherwise.
	Via string
}

// Suite runs attacks one after the other, as AutoAttack does: each member
// attacks only the examples the target still classifies correctly after
// the members before it, and an example counts as broken by the first
// member whose point the target misclassifies. Whatever a member crafts
// on, success is judged on the target. The suite's robust accuracy is
// therefore never above any member's on the same examples, up to the
// randomness of the members, whose draws depend on which examples they
// attack.
type Suite struct {
	Members []Member
	// Chunk is how many examples a member attacks per call; 0 means all at
	// once. Members attack the survivors of the whole input, so that
	// chunks stay full as the survivors thin out.
	Chunk int
	// Progress, if not nil, is called after every chunk of every member.
	Progress func(SuiteProgress)
}

// SuiteProgress is how far a Suite has got.
type SuiteProgress struct {
	Member      int // position of the member running
	Done, Total int // examples it has attacked, of those it attacks
	Broken      int // examples it has broken so far
	Robust      int // examples no member has broken so far
}

// SuiteResult is the outcome of a Suite on n examples.
type SuiteResult struct {
	// Adv holds, for each example, the point that broke it, or the clean
	// example when none did.
	Adv []float32
	// BrokenBy is the position of the member that broke each example, or
	// -1: not broken, or misclassified to begin with.
	BrokenBy []int
	// CleanPred and AdvPred are the target's predictions on the clean
	// examples and on Adv.
	CleanPred, AdvPred []int64
	// Attacked is how many examples each member attacked.
	Attacked []int
}

// Run attacks the n examples x0 with labels, judging success on target.
// Member m draws its random numbers from a generator seeded by seed and
// its name, so that adding or removing other members leaves its draws
// alone.
func (s Suite) Run(target Oracle, x0 []float32, labels []int64, n int, seed uint64) (SuiteResult, error) {
	d, k, err := checkBatch(target, x0, labels, n)
	if err != nil {
		return SuiteResult{}, err
	}
	for i, m := range s.Members {
		if m.Attack == nil || m.Name == "" {
			return SuiteResult{}, fmt.Errorf("attack: suite member %d has no attack or no name", i)
		}
		if m.Craft != nil && (m.Craft.InputSize() != d || m.Craft.Classes() != k) {
			return SuiteResult{}, fmt.Errorf("attack: suite member %s crafts on a model of %d inputs and %d classes, the target has %d and %d",
				m.Name, m.Craft.InputSize(), m.Craft.Classes(), d, k)
		}
		if slices.IndexFunc(s.Members[:i], func(o Member) bool { return o.Name == m.Name }) >= 0 {
			return SuiteResult{}, fmt.Errorf("attack: two suite members are named %s", m.Name)
		}
	}
	r := SuiteResult{
		Adv:       slices.Clone(x0),
		BrokenBy:  make([]int, n),
		CleanPred: make([]int64, n),
		AdvPred:   make([]int64, n),
		Attacked:  make([]int, len(s.Members)),
	}
	logits := make([]float32, n*k)
	if err := callLogits(target, x0, n, logits); err != nil {
		return SuiteResult{}, err
	}
	robust := make([]bool, n)
	left := 0 // examples still robust
	for i := range n {
		r.BrokenBy[i] = -1
		r.CleanPred[i] = int64(Predict(logits[i*k : (i+1)*k]))
		r.AdvPred[i] = r.CleanPred[i]
		robust[i] = r.CleanPred[i] == labels[i]
		if robust[i] {
			left++
		}
	}
	for mi, m := range s.Members {
		var idx []int
		for i := range n {
			if robust[i] {
				idx = append(idx, i)
			}
		}
		r.Attacked[mi] = len(idx)
		if len(idx) == 0 {
			if s.Progress != nil {
				s.Progress(SuiteProgress{Member: mi, Robust: left})
			}
			continue
		}
		broken := 0
		craft := m.Craft
		if craft == nil {
			craft = target
		}
		rng := memberRand(seed, m.Name)
		chunk := s.Chunk
		if chunk <= 0 {
			chunk = len(idx)
		}
		for lo := 0; lo < len(idx); lo += chunk {
			part := idx[lo:min(lo+chunk, len(idx))]
			c := len(part)
			xs := make([]float32, c*d)
			gather(xs, x0, part, d)
			ys := make([]int64, c)
			gather(ys, labels, part, 1)
			adv, err := m.Attack.Run(craft, xs, ys, c, rng)
			if err != nil {
				return SuiteResult{}, fmt.Errorf("%s: %w", m.Name, err)
			}
			if err := callLogits(target, adv, c, logits[:c*k]); err != nil {
				return SuiteResult{}, fmt.Errorf("%s: %w", m.Name, err)
			}
			for j, i := range part {
				p := int64(Predict(logits[j*k : (j+1)*k]))
				if p == labels[i] {
					continue
				}
				robust[i] = false
				broken++
				left--
				r.BrokenBy[i] = mi
				r.AdvPred[i] = p
				copy(r.Adv[i*d:(i+1)*d], adv[j*d:(j+1)*d])
			}
			if s.Progress != nil {
				s.Progress(SuiteProgress{Member: mi, Done: lo + c, Total: len(idx), Broken: broken, Robust: left})
			}
		}
	}
	return r, nil
}

// memberRand returns the generator of the suite member named name.
func memberRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Standard returns the members of AutoAttack's standard suite (Croce and
// Hein, 2020; autoattack.py, version "standard") for a threat model:
// APGD-CE, APGD-T with the targeted DLR loss over 9 target classes, FAB-T
// over 9 target classes, each of 100 iterations and one run, and Square
// with 5,000 queries. For L1, as AutoAttack's L1 evaluation: APGD-CE with
// 5 restarts and APGD-T over 5 target classes, both with the large-eps
// phases; sgn has no L1 version of FAB or Square. Square needs the
// example's layout, channels × height × width.
func Standard(norm Norm, eps float64, channels, height, width int) []Member {
	if norm == L1 {
		return []Member{
			{Name: "apgd-ce", Attack: APGD{Norm: L1, Eps: eps, Steps: 100, Restarts: 5, Loss: LossCE, LargeEps: true}},
			{Name: "apgd-t", Attack: APGD{Norm: L1, Eps: eps, Steps: 100, Targeted: true, Targets: 5, Loss: LossDLR, LargeEps: true}},
		}
	}
	return []Member{
		{Name: "apgd-ce", Attack: APGD{Norm: norm, Eps: eps, Steps: 100, Loss: LossCE}},
		{Name: "apgd-t", Attack: APGD{Norm: norm, Eps: eps, Steps: 100, Targeted: true, Targets: DefaultTargets, Loss: LossDLR}},
		{Name: "fab-t", Attack: FAB{Norm: norm, Eps: eps, Steps: 100, Targets: DefaultTargets}},
		{Name: "square", Attack: Square{Norm: norm, Eps: eps, Queries: 5000, Channels: channels, Height: height, Width: width}},
	}
}
