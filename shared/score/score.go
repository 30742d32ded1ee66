// Package score turns example streams into accuracy figures: clean accuracy
// of a model on examples, and robust accuracy from attack streams, merged
// per example (worst case) over several attacks and concatenated over
// shards. The worst case is reported over every attack, and also per eps
// (over the attacks run at that eps).
package score

import (
	"encoding/json"
	"fmt"
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
}

// Source is one stream's outcomes.
type Source struct {
	Name     string // attack name, or "clean"
	Eps      string
	Params   map[string]string
	Outcomes map[int64]Outcome
	Classes  []string
	// Shown holds the images of the lowest-index examples (at most
	// ShownExamples, ordered by index) when the reader kept them for
	// display; nil otherwise.
	Shown []Shown
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
}

// Label names the attack with its eps and main parameters, e.g.
// "pgd (eps=0.3 norm=linf loss=ce steps=40)".
func (a AttackResult) Label() string {
	s := a.Attack
	var parts []string
	if a.Eps != "" {
		parts = append(parts, "eps="+a.Eps)
	}
	for _, k := range []string{"norm", "loss", "steps", "restarts", "sg_grad", "surrogate"} {
		if v := a.Params[k]; v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, " ") + ")"
	}
	return s
}

// EpsResult is the robust accuracy at one eps: per example, the worst case
// over the attacks run at that eps (and the clean predictions, when a clean
// stream was scored).
type EpsResult struct {
	Eps      string  `json:"eps"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
}

// Result is what sgn-score prints.
type Result struct {
	N int `json:"n"`
	// Accuracy is the per-example worst case over every source, whatever
	// its eps (so, for nested threat models, the accuracy at the largest
	// eps), or the clean accuracy when there are no attacks. ByEps breaks it
	// down per eps.
	Accuracy      float64         `json:"accuracy"`
	CleanAccuracy *float64        `json:"clean_accuracy,omitempty"`
	Attacks       []AttackResult  `json:"attacks,omitempty"`
	ByEps         []EpsResult     `json:"by_eps,omitempty"` // in increasing eps
	PerClass      []ClassAccuracy `json:"per_class,omitempty"`
	Checks        []Check         `json:"checks,omitempty"`
}

// Add merges a source into the table: sources with the same attack and
// parameters (shards of one evaluation) are concatenated.
func (t *Table) Add(s *Source) error {
	for _, o := range t.Sources {
		if o.Name == s.Name && o.Eps == s.Eps && equalParams(o.Params, s.Params) {
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

// Result computes the accuracies. Robust accuracy is taken per example over
// every attack: an example counts as robust only if no attack changed its
// prediction away from the label, and only examples every attack covered
// are counted.
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
		return r, fmt.Errorf("the streams share no examples")
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
	for _, i := range idx {
		ok := true
		label := common[i].Label
		var clean int64 = -1
		for _, s := range t.Sources {
			o := s.Outcomes[i]
			if o.Label != label {
				return r, fmt.Errorf("example %d has label %d in one stream and %d in another: not the same examples", i, label, o.Label)
			}
			if o.AdvPred != label {
				ok = false
			}
			if o.CleanPred >= 0 {
				clean = o.CleanPred
			}
		}
		if clean >= 0 {
			cleanKnown++
			if clean == label {
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
	r.Accuracy = float64(robust) / float64(r.N)
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
		r.Attacks = append(r.Attacks, AttackResult{Attack: s.Name, Eps: s.Eps, Params: s.Params, N: r.N, Accuracy: float64(ok) / float64(r.N)})
	}
	r.ByEps = byEps(t.Sources, idx)
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
	r.Checks = MaskingChecks(r.Attacks)
	return r, nil
}

// byEps computes the worst case per eps over the examples idx: for each eps
// the attacks run at it, together with the clean sources.
func byEps(sources []*Source, idx []int64) []EpsResult {
	var clean []*Source
	groups := map[string][]*Source{}
	var eps []string
	for _, s := range sources {
		switch {
		case s.Name == "clean":
			clean = append(clean, s)
		case s.Eps != "":
			if _, ok := groups[s.Eps]; !ok {
				eps = append(eps, s.Eps)
			}
			groups[s.Eps] = append(groups[s.Eps], s)
		}
	}
	sort.Slice(eps, func(a, b int) bool { return epsLess(eps[a], eps[b]) })
	var out []EpsResult
	for _, e := range eps {
		group := slices.Concat(groups[e], clean)
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
		out = append(out, EpsResult{Eps: e, N: len(idx), Accuracy: float64(ok) / float64(len(idx))})
	}
	return out
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

// SourceFromHeader starts a Source for a stream with this header.
func SourceFromHeader(h stream.Header) *Source {
	s := &Source{Name: "clean", Outcomes: map[int64]Outcome{}}
	if a := h.Metadata[stream.MetaAttack]; a != "" {
		s.Name = a
		s.Eps = h.Metadata[stream.MetaAttackEps]
		if p := h.Metadata[stream.MetaAttackParams]; p != "" {
			_ = json.Unmarshal([]byte(p), &s.Params)
		}
	}
	if c := h.Metadata[stream.MetaClasses]; c != "" {
		_ = json.Unmarshal([]byte(c), &s.Classes)
	}
	return s
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
