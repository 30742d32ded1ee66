// Package score turns example streams into accuracy figures: clean accuracy
// of a model on examples, and robust accuracy from attack streams, merged
// per example (worst case) over several attacks and concatenated over
// shards. The worst case is taken per threat model and eps, over the
// attacks run there, never across threat models or budgets: an
// evaluation is one threat model and one eps. A suite's stream (sgn-attack
// -suite) is one attack whose rows say which of its members broke each
// example.
package score

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sgn/format/stream"
)

// Outcome is one example's result under one source (clean or an attack).
type Outcome struct {
	Index     int64
	Label     int64
	CleanPred int64 // -1 when unknown
	AdvPred   int64
	// BrokenBy is, in a suite's stream, the position of the member that
	// broke the example, or -1.
	BrokenBy int64
}

// Member is one attack of a suite, as its stream describes it.
type Member struct {
	Name   string            `json:"name"`
	Attack string            `json:"attack"`
	Params map[string]string `json:"params"`
	// Via says how the member saw the model: "" for its own gradients or
	// queries, else e.g. "detached", "surrogate" or "transfer".
	Via string `json:"via,omitempty"`
}

// Source is one stream's outcomes.
type Source struct {
	Name     string // attack name, or "clean"
	Eps      string
	Params   map[string]string
	Outcomes map[int64]Outcome
	Classes  []string
	// Members are a suite's attacks, in the order they ran.
	Members []Member
	// File names the stream in messages.
	File string
	// Dataset and Split are the examples' (stream metadata); Checkpoint
	// and Recipe the attacked checkpoint's SHA-256 and training
	// configuration, Model its description, as sgn-attack records them.
	Dataset, Split, Checkpoint, Model string
	Recipe                            json.RawMessage
	// Shown holds the images of the lowest-index examples (at most
	// ShownExamples, ordered by index) when the reader kept them for
	// display; nil otherwise.
	Shown []Shown
}

// Norm returns the source's threat model: its norm parameter, L-inf for
// streams without one (Square and FGSM wrote none before they had L2).
func (s *Source) Norm() string {
	if n := s.Params["norm"]; n != "" {
		return n
	}
	return "linf"
}

// Table accumulates sources and reports accuracies.
type Table struct {
	Sources []*Source
}

// ClassAccuracy is one class's share of examples still classified right.
type ClassAccuracy struct {
	Class    string  `json:"class"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
}

// AttackResult is the robust accuracy under one attack (or clean).
type AttackResult struct {
	Attack   string            `json:"attack"`
	Eps      string            `json:"eps,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	N        int               `json:"n"`
	Accuracy float64           `json:"accuracy"`
	// Members are, for a suite, its attacks in the order they ran.
	Members []MemberResult `json:"members,omitempty"`
}

// MemberResult is one suite member's share of the work.
type MemberResult struct {
	Member
	Attacked int `json:"attacked"` // examples still unbroken when it ran
	Broken   int `json:"broken"`   // of those, the ones it broke
	// AccuracyAfter is the suite's robust accuracy after this member.
	AccuracyAfter float64 `json:"accuracy_after"`
}

// Label names the attack with its eps and main parameters, e.g.
// "pgd (eps=0.3 norm=linf loss=ce steps=40)" or "suite standard
// (eps=0.3 norm=linf)".
func (a AttackResult) Label() string {
	s := a.Attack
	if a.Attack == "suite" && a.Params["suite"] != "" {
		s += " " + a.Params["suite"]
	}
	var parts []string
	if a.Eps != "" {
		parts = append(parts, "eps="+a.Eps)
	}
	for _, k := range []string{"norm", "loss", "steps", "queries", "restarts", "targets", "sg_grad", "surrogate"} {
		if v := a.Params[k]; v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, " ") + ")"
	}
	return s
}

// EpsResult is the robust accuracy at one threat model and eps: per
// example, the worst case over the attacks run there (and the clean
// predictions, when a clean stream was scored). It is Evaluation's older,
// shorter form, kept for the readers of by_eps.
type EpsResult struct {
	Eps      string  `json:"eps"`
	Norm     string  `json:"norm,omitempty"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
}

// Evaluation is what a comparison between defences needs about one threat
// model and budget: robust accuracy is per example the worst case over
// every attack run at that threat model and eps, with 95% Wilson
// intervals.
type Evaluation struct {
	ThreatModel   string      `json:"threat_model"` // linf, l2 or l1
	Eps           float64     `json:"eps"`
	N             int         `json:"n"`
	CleanAccuracy *float64    `json:"clean_accuracy,omitempty"`
	CleanCI95     *[2]float64 `json:"clean_ci95,omitempty"`
	Robust        float64     `json:"robust_accuracy"`
	RobustCI95    [2]float64  `json:"robust_ci95"`
	// Attacks names the attacks run, a suite's members one by one.
	Attacks []string `json:"attacks"`
}

// Result is what sgn-score prints.
type Result struct {
	N int `json:"n"`
	// Accuracy is the per-example worst case over every source when the
	// attacks share one threat model and eps (the robust accuracy), or
	// over the clean streams when there are no attacks; with attacks at
	// several threat models or budgets there is no single figure, and
	// Evaluations gives one per threat model and eps.
	Accuracy      *float64        `json:"accuracy,omitempty"`
	CleanAccuracy *float64        `json:"clean_accuracy,omitempty"`
	Dataset       string          `json:"dataset,omitempty"`
	Split         string          `json:"split,omitempty"`
	Model         string          `json:"model,omitempty"`
	Checkpoint    string          `json:"checkpoint_sha256,omitempty"`
	Recipe        json.RawMessage `json:"recipe,omitempty"`
	Evaluations   []Evaluation    `json:"evaluations,omitempty"`
	Attacks       []AttackResult  `json:"attacks,omitempty"`
	ByEps         []EpsResult     `json:"by_eps,omitempty"` // by threat model, then increasing eps
	PerClass      []ClassAccuracy `json:"per_class,omitempty"`
	Checks        []Check         `json:"checks,omitempty"`
}

// Add merges a source into the table: sources with the same attack and
// parameters (shards of one evaluation) are concatenated. Sources about
// different datasets, splits or checkpoints are refused.
func (t *Table) Add(s *Source) error {
	for _, o := range t.Sources {
		for _, f := range []struct{ what, a, b string }{
			{"dataset", o.Dataset, s.Dataset},
			{"split", o.Split, s.Split},
			{"checkpoint (SHA-256)", o.Checkpoint, s.Checkpoint},
		} {
			if f.a != "" && f.b != "" && f.a != f.b {
				return fmt.Errorf("%s: %s %s, but %s has %s: not the same evaluation", fileName(s), f.what, short(f.b), fileName(o), short(f.a))
			}
		}
	}
	for _, o := range t.Sources {
		if o.Name == s.Name && o.Eps == s.Eps && equalParams(o.Params, s.Params) && slices.EqualFunc(o.Members, s.Members, equalMember) {
			for i, out := range s.Outcomes {
				if _, dup := o.Outcomes[i]; dup {
					return fmt.Errorf("%s: example %d appears in two shards", s.Name, i)
				}
				o.Outcomes[i] = out
			}
			for _, e := range s.Shown {
				o.Shown = keepShown(o.Shown, e)
			}
			return nil
		}
	}
	t.Sources = append(t.Sources, s)
	return nil
}

func fileName(s *Source) string {
	if s.File == "" {
		return s.Name
	}
	return s.File
}

// short shortens a SHA-256 for messages.
func short(s string) string {
	if len(s) == 64 {
		return s[:12] + "…"
	}
	return s
}

// noCommonExamples explains disjoint streams. The usual cause is shards of
// one attack that were not merged because their parameters differ (say,
// written by versions of sgn-attack that recorded different ones): name it.
func noCommonExamples(sources []*Source) error {
	for i, a := range sources {
		for _, b := range sources[i+1:] {
			if a.Name != b.Name || a.Eps != b.Eps || equalParams(a.Params, b.Params) {
				continue
			}
			var diff []string
			for k, v := range a.Params {
				if b.Params[k] != v {
					diff = append(diff, k)
				}
			}
			for k := range b.Params {
				if _, ok := a.Params[k]; !ok {
					diff = append(diff, k)
				}
			}
			sort.Strings(diff)
			return fmt.Errorf("the streams share no examples: %s and %s look like shards of one %s attack, but their parameters differ in %s",
				fileName(a), fileName(b), a.Name, strings.Join(diff, ", "))
		}
	}
	return fmt.Errorf("the streams share no examples")
}

func equalParams(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func equalMember(a, b Member) bool {
	return a.Name == b.Name && a.Attack == b.Attack && a.Via == b.Via && equalParams(a.Params, b.Params)
}

// Result computes the accuracies. Robust accuracy is taken per example over
// the attacks of one threat model and eps: an example counts as robust
// only if no attack changed its prediction away from the label, and only
// examples every source covered are counted.
func (t *Table) Result() (Result, error) {
	var r Result
	if len(t.Sources) == 0 {
		return r, fmt.Errorf("no examples")
	}
	// The examples every source covers.
	common := map[int64]Outcome{}
	for i, o := range t.Sources[0].Outcomes {
		common[i] = o
	}
	for _, s := range t.Sources[1:] {
		for i := range common {
			if _, ok := s.Outcomes[i]; !ok {
				delete(common, i)
			}
		}
	}
	if len(common) == 0 {
		return r, noCommonExamples(t.Sources)
	}
	idx := make([]int64, 0, len(common))
	for i := range common {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	classes := t.Sources[0].Classes
	perN, perOK := map[int64]int{}, map[int64]int{}
	cleanKnown, cleanOK := 0, 0
	robust := 0
	clean := map[int64]int64{} // the clean prediction, where known
	for _, i := range idx {
		ok := true
		label := common[i].Label
		for _, s := range t.Sources {
			o := s.Outcomes[i]
			if o.Label != label {
				return r, fmt.Errorf("example %d has label %d in one stream and %d in another: not the same examples", i, label, o.Label)
			}
			if o.AdvPred != label {
				ok = false
			}
			if o.CleanPred >= 0 {
				clean[i] = o.CleanPred
			}
		}
		if c, known := clean[i]; known {
			cleanKnown++
			if c == label {
				cleanOK++
			}
		}
		perN[label]++
		if ok {
			robust++
			perOK[label]++
		}
	}
	r.N = len(idx)
	if cleanKnown == r.N {
		c := float64(cleanOK) / float64(r.N)
		r.CleanAccuracy = &c
	}
	for _, s := range t.Sources {
		ok := 0
		for _, i := range idx {
			if o := s.Outcomes[i]; o.AdvPred == o.Label {
				ok++
			}
		}
		a := AttackResult{Attack: s.Name, Eps: s.Eps, Params: s.Params, N: r.N, Accuracy: float64(ok) / float64(r.N)}
		a.Members = members(s, idx)
		r.Attacks = append(r.Attacks, a)
	}
	r.Evaluations, r.ByEps = evaluations(t.Sources, idx, r.CleanAccuracy, cleanOK)
	if len(r.Evaluations) <= 1 {
		acc := float64(robust) / float64(r.N)
		r.Accuracy = &acc
	}
	labels := make([]int64, 0, len(perN))
	for l := range perN {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(a, b int) bool { return labels[a] < labels[b] })
	for _, l := range labels {
		name := fmt.Sprint(l)
		if int(l) < len(classes) {
			name = classes[l]
		}
		r.PerClass = append(r.PerClass, ClassAccuracy{Class: name, N: perN[l], Accuracy: float64(perOK[l]) / float64(perN[l])})
	}
	for _, s := range t.Sources {
		r.Dataset = cmpOr(r.Dataset, s.Dataset)
		r.Split = cmpOr(r.Split, s.Split)
		r.Checkpoint = cmpOr(r.Checkpoint, s.Checkpoint)
		r.Model = cmpOr(r.Model, s.Model)
		if r.Recipe == nil {
			r.Recipe = s.Recipe
		}
	}
	r.Checks = MaskingChecks(r.Attacks)
	return r, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// members returns, for a suite's source, each member's work over the
// examples idx: an example is attacked by a member if it is classified
// right and no member before broke it.
func members(s *Source, idx []int64) []MemberResult {
	if len(s.Members) == 0 {
		return nil
	}
	out := make([]MemberResult, len(s.Members))
	left := 0
	for _, i := range idx {
		if o := s.Outcomes[i]; o.CleanPred == o.Label {
			left++
		}
	}
	for m := range out {
		out[m].Member = s.Members[m]
		out[m].Attacked = left
		for _, i := range idx {
			if s.Outcomes[i].BrokenBy == int64(m) {
				out[m].Broken++
			}
		}
		left -= out[m].Broken
		out[m].AccuracyAfter = float64(left) / float64(len(idx))
	}
	return out
}

// threat identifies an evaluation: a norm and an eps, compared as numbers
// to six significant digits, so that 8/255 written out in full and
// 0.0313725 are one budget.
type threat struct{ norm, eps string }

func threatOf(s *Source) threat {
	e := s.Eps
	if v, err := strconv.ParseFloat(e, 64); err == nil {
		e = strconv.FormatFloat(v, 'g', 6, 64)
	}
	return threat{s.Norm(), e}
}

// evaluations computes the worst case per threat model and eps over the
// examples idx, for the attacks run there together with the clean sources,
// in order of threat model and increasing eps. cleanOK is how many of idx
// are classified right, counted when the clean accuracy is known.
func evaluations(sources []*Source, idx []int64, cleanAcc *float64, cleanOK int) ([]Evaluation, []EpsResult) {
	var cleanSrc []*Source
	groups := map[threat][]*Source{}
	var keys []threat
	for _, s := range sources {
		switch {
		case s.Name == "clean":
			cleanSrc = append(cleanSrc, s)
		case s.Eps != "":
			k := threatOf(s)
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], s)
		}
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].norm != keys[b].norm {
			return normRank(keys[a].norm) < normRank(keys[b].norm)
		}
		return epsLess(keys[a].eps, keys[b].eps)
	})
	n := len(idx)
	var evals []Evaluation
	var byEps []EpsResult
	for _, k := range keys {
		group := slices.Concat(groups[k], cleanSrc)
		ok := 0
		for _, i := range idx {
			robust := true
			for _, s := range group {
				if o := s.Outcomes[i]; o.AdvPred != o.Label {
					robust = false
					break
				}
			}
			if robust {
				ok++
			}
		}
		e := Evaluation{ThreatModel: k.norm, N: n, Robust: float64(ok) / float64(n)}
		e.Eps, _ = strconv.ParseFloat(groups[k][0].Eps, 64)
		lo, hi := Wilson(ok, n)
		e.RobustCI95 = [2]float64{lo, hi}
		if cleanAcc != nil {
			c := *cleanAcc
			lo, hi := Wilson(cleanOK, n)
			e.CleanAccuracy, e.CleanCI95 = &c, &[2]float64{lo, hi}
		}
		for _, s := range groups[k] {
			if len(s.Members) > 0 {
				for _, m := range s.Members {
					e.Attacks = append(e.Attacks, m.Name)
				}
				continue
			}
			e.Attacks = append(e.Attacks, AttackResult{Attack: s.Name, Params: s.Params}.Label())
		}
		evals = append(evals, e)
		byEps = append(byEps, EpsResult{Eps: groups[k][0].Eps, Norm: k.norm, N: n, Accuracy: e.Robust})
	}
	return evals, byEps
}

// normRank orders threat models L-inf, L2, L1, then others by name.
func normRank(n string) string {
	switch n {
	case "linf":
		return "0"
	case "l2":
		return "1"
	case "l1":
		return "2"
	}
	return "3" + n
}

// epsLess orders eps values numerically, those that are not numbers last.
func epsLess(a, b string) bool {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	switch {
	case errA == nil && errB == nil && x != y:
		return x < y
	case (errA == nil) != (errB == nil):
		return errA == nil
	}
	return a < b
}

// Wilson returns the 95% Wilson score interval of a proportion of ok
// successes in n trials (Wilson, 1927): unlike the normal approximation it
// stays inside [0, 1] and is sound near 0 and 1, where robust accuracies
// often are.
func Wilson(ok, n int) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	const z = 1.959963984540054 // the 97.5% quantile of the standard normal
	p, fn := float64(ok)/float64(n), float64(n)
	den := 1 + z*z/fn
	mid := (p + z*z/(2*fn)) / den
	half := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

// SourceFromHeader starts a Source for the stream file with this header. A
// stream whose attack metadata is not what sgn-attack writes is refused.
func SourceFromHeader(file string, h stream.Header) (*Source, error) {
	s := &Source{Name: "clean", Outcomes: map[int64]Outcome{}, File: file,
		Dataset: h.Metadata[stream.MetaDataset], Split: h.Metadata[stream.MetaSplit]}
	if a := h.Metadata[stream.MetaAttack]; a != "" {
		s.Name = a
		s.Eps = h.Metadata[stream.MetaAttackEps]
		if p := h.Metadata[stream.MetaAttackParams]; p != "" {
			if err := json.Unmarshal([]byte(p), &s.Params); err != nil {
				return nil, fmt.Errorf("metadata %s is %.40q, want a JSON object of strings", stream.MetaAttackParams, p)
			}
		}
		if m := h.Metadata[stream.MetaSuite]; m != "" {
			if err := json.Unmarshal([]byte(m), &s.Members); err != nil || len(s.Members) == 0 {
				return nil, fmt.Errorf("metadata %s is %.40q, want a JSON array of the suite's attacks", stream.MetaSuite, m)
			}
		}
		s.Checkpoint = h.Metadata[stream.MetaModelSHA256]
		s.Model = h.Metadata[stream.MetaModel]
		if r := h.Metadata[stream.MetaModelRecipe]; r != "" {
			if !json.Valid([]byte(r)) {
				return nil, fmt.Errorf("metadata %s is %.40q, want a JSON object", stream.MetaModelRecipe, r)
			}
			s.Recipe = json.RawMessage(r)
		}
	}
	if c := h.Metadata[stream.MetaClasses]; c != "" {
		_ = json.Unmarshal([]byte(c), &s.Classes)
	}
	return s, nil
}

// IsAttackStream reports whether a stream carries predictions to score
// without a model.
func IsAttackStream(h stream.Header) bool {
	has := map[string]bool{}
	for _, c := range h.Extra {
		has[c.Name] = true
	}
	return has[stream.ColAdvPred] && has[stream.ColIndex]
}
