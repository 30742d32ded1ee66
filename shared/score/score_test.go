package score

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sgn/format/stream"
)

// o is one outcome: example index, label, clean prediction (-1 unknown),
// adversarial prediction.
func o(index, label, clean, adv int64) Outcome {
	return Outcome{Index: index, Label: label, CleanPred: clean, AdvPred: adv, BrokenBy: -1}
}

func src(name, eps string, params map[string]string, outs ...Outcome) *Source {
	s := &Source{Name: name, Eps: eps, Params: params, Outcomes: map[int64]Outcome{}}
	for _, out := range outs {
		s.Outcomes[out.Index] = out
	}
	return s
}

func ptr(v float64) *float64 { return &v }

func fmtPtr(v *float64) string {
	if v == nil {
		return "none"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

func TestTableResult(t *testing.T) {
	pgd := map[string]string{"norm": "linf", "steps": "10"}
	tests := []struct {
		name     string
		sources  []*Source
		addErr   string
		err      string
		n        int
		acc      *float64 // nil: none (several evaluations)
		clean    *float64
		attacks  []float64
		perClass []ClassAccuracy
		byEps    []EpsResult
	}{
		{
			name: "worst case per example",
			sources: []*Source{
				src("pgd", "0.1", pgd, o(0, 0, 0, 1), o(1, 1, 1, 1), o(2, 0, 0, 0), o(3, 1, 1, 0)),
				src("square", "0.1", nil, o(0, 0, 0, 0), o(1, 1, 1, 0), o(2, 0, 0, 0), o(3, 1, 1, 0)),
			},
			n: 4, acc: ptr(0.25), clean: ptr(1), attacks: []float64{0.5, 0.5},
			perClass: []ClassAccuracy{{"0", 2, 0.5}, {"1", 2, 0}},
			byEps:    []EpsResult{{"0.1", "linf", 4, 0.25}},
		},
		{
			name: "shards concatenated",
			sources: []*Source{
				src("pgd", "0.1", pgd, o(0, 0, 0, 0), o(2, 0, 0, 1)),
				src("pgd", "0.1", pgd, o(1, 1, 1, 1), o(3, 1, 1, 1)),
			},
			n: 4, acc: ptr(0.75), clean: ptr(1), attacks: []float64{0.75},
		},
		{
			name: "duplicate example across shards",
			sources: []*Source{
				src("pgd", "0.1", pgd, o(0, 0, 0, 0), o(1, 0, 0, 0)),
				src("pgd", "0.1", pgd, o(1, 0, 0, 0), o(2, 0, 0, 0)),
			},
			addErr: "example 1 appears in two shards",
		},
		{
			name: "mismatched labels",
			sources: []*Source{
				src("pgd", "0.1", pgd, o(0, 0, 0, 0), o(1, 1, 1, 1)),
				src("square", "0.1", nil, o(0, 0, 0, 0), o(1, 2, 2, 2)),
			},
			err: "not the same examples",
		},
		{
			name: "clean accuracy unknown for one example",
			sources: []*Source{
				src("pgd", "0.1", pgd, o(0, 0, -1, 0), o(1, 1, 1, 1)),
			},
			n: 2, acc: ptr(1), attacks: []float64{1},
		},
		{
			name: "clean accuracy known from another source",
			sources: []*Source{
				src("pgd", "0.1", pgd, o(0, 0, -1, 0), o(1, 1, -1, 1)),
				src("clean", "", nil, o(0, 0, 1, 1), o(1, 1, 1, 1)),
			},
			n: 2, acc: ptr(0.5), clean: ptr(0.5), attacks: []float64{1, 0.5},
			byEps: []EpsResult{{"0.1", "linf", 2, 0.5}},
		},
		{
			name: "only the examples every source covers",
			sources: []*Source{
				src("pgd", "0.1", pgd, o(0, 0, 0, 0), o(1, 0, 0, 1), o(2, 0, 0, 0)),
				src("fgsm", "0.1", nil, o(1, 0, 0, 0), o(2, 0, 0, 0)),
			},
			n: 2, acc: ptr(0.5), clean: ptr(1), attacks: []float64{0.5, 1},
		},
		{
			// Never a worst case across budgets: 0 here, which no single
			// eps gives.
			name: "per eps in numeric order, no overall figure",
			sources: []*Source{
				src("pgd", "16", pgd, o(0, 0, 0, 1), o(1, 1, 1, 0), o(2, 2, 2, 2), o(3, 3, 3, 0)),
				src("pgd", "8", pgd, o(0, 0, 0, 0), o(1, 1, 1, 0), o(2, 2, 2, 2), o(3, 3, 3, 3)),
				src("fgsm", "8", nil, o(0, 0, 0, 0), o(1, 1, 1, 1), o(2, 2, 2, 0), o(3, 3, 3, 3)),
			},
			n: 4, acc: nil, clean: ptr(1), attacks: []float64{0.25, 0.75, 0.75},
			perClass: []ClassAccuracy{{"0", 1, 0}, {"1", 1, 0}, {"2", 1, 0}, {"3", 1, 0}},
			byEps:    []EpsResult{{"8", "linf", 4, 0.5}, {"16", "linf", 4, 0.25}},
		},
		{
			name: "threat models apart, 8/255 and 0.0313725 together",
			sources: []*Source{
				src("pgd", "0.03137254901960784", pgd, o(0, 0, 0, 1), o(1, 1, 1, 1), o(2, 2, 2, 2), o(3, 3, 3, 3)),
				src("square", "0.0313725", nil, o(0, 0, 0, 0), o(1, 1, 1, 0), o(2, 2, 2, 2), o(3, 3, 3, 3)),
				src("pgd", "0.03137254901960784", map[string]string{"norm": "l2"}, o(0, 0, 0, 0), o(1, 1, 1, 1), o(2, 2, 2, 0), o(3, 3, 3, 3)),
			},
			n: 4, acc: nil, clean: ptr(1), attacks: []float64{0.75, 0.75, 0.75},
			byEps: []EpsResult{{"0.03137254901960784", "linf", 4, 0.5}, {"0.03137254901960784", "l2", 4, 0.75}},
		},
		{
			name:    "no examples in common",
			sources: []*Source{src("pgd", "0.1", pgd, o(0, 0, 0, 0)), src("cw", "0", nil, o(1, 0, 0, 0))},
			err:     "share no examples",
		},
		{
			name:    "shards whose parameters differ",
			sources: []*Source{src("suite", "0.3", map[string]string{"steps": "100"}, o(0, 0, 0, 0)), src("suite", "0.3", map[string]string{"steps": "100", "queries": "5000"}, o(1, 0, 0, 0))},
			err:     "look like shards of one suite attack, but their parameters differ in queries",
		},
		{name: "empty", err: "no examples"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tab Table
			for _, s := range tc.sources {
				if err := tab.Add(s); err != nil {
					if tc.addErr == "" || !strings.Contains(err.Error(), tc.addErr) {
						t.Fatalf("Add: %v, want error %q", err, tc.addErr)
					}
					return
				}
			}
			if tc.addErr != "" {
				t.Fatalf("Add accepted the sources, want error %q", tc.addErr)
			}
			r, err := tab.Result()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Result: %v, want error %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.N != tc.n || (r.Accuracy == nil) != (tc.acc == nil) || r.Accuracy != nil && *r.Accuracy != *tc.acc {
				t.Errorf("n %d accuracy %v, want %d %v", r.N, fmtPtr(r.Accuracy), tc.n, fmtPtr(tc.acc))
			}
			if len(r.Evaluations) != len(r.ByEps) {
				t.Errorf("%d evaluations, %d by eps", len(r.Evaluations), len(r.ByEps))
			}
			for i, e := range r.Evaluations {
				if be := r.ByEps[i]; e.Robust != be.Accuracy || e.ThreatModel != be.Norm || e.N != be.N || strconv.FormatFloat(e.Eps, 'g', -1, 64) != be.Eps {
					t.Errorf("evaluation %+v, by eps %+v", e, be)
				}
			}
			switch {
			case tc.clean == nil && r.CleanAccuracy != nil:
				t.Errorf("clean accuracy %v, want none", *r.CleanAccuracy)
			case tc.clean != nil && (r.CleanAccuracy == nil || *r.CleanAccuracy != *tc.clean):
				t.Errorf("clean accuracy %v, want %v", r.CleanAccuracy, *tc.clean)
			}
			var attacks []float64
			for _, a := range r.Attacks {
				attacks = append(attacks, a.Accuracy)
			}
			if !slices.Equal(attacks, tc.attacks) {
				t.Errorf("attack accuracies %v, want %v", attacks, tc.attacks)
			}
			if tc.perClass != nil && !slices.Equal(r.PerClass, tc.perClass) {
				t.Errorf("per class %v, want %v", r.PerClass, tc.perClass)
			}
			if tc.byEps != nil && !slices.Equal(r.ByEps, tc.byEps) {
				t.Errorf("by eps %v, want %v", r.ByEps, tc.byEps)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(b), `"clean_accuracy"`); got != (tc.clean != nil) {
				t.Errorf("JSON %s: clean_accuracy present %v, want %v", b, got, tc.clean != nil)
			}
		})
	}
}

func TestPerClassNames(t *testing.T) {
	s := src("pgd", "0.1", nil, o(0, 0, 0, 0), o(1, 1, 1, 0), o(2, 1, 1, 1))
	s.Classes = []string{"cat", "dog"}
	tab := Table{Sources: []*Source{s}}
	r, err := tab.Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []ClassAccuracy{{"cat", 1, 1}, {"dog", 2, 0.5}}
	if !slices.Equal(r.PerClass, want) {
		t.Errorf("per class %v, want %v", r.PerClass, want)
	}
}

// suiteResult is a suite's result whose square broke square examples and,
// if detached > 0, whose detached-path member broke that many.
func suiteResult(eps string, square, detached int) AttackResult {
	a := AttackResult{Attack: "suite", Eps: eps, Accuracy: 0.5, Params: map[string]string{"suite": "standard", "norm": "linf"},
		Members: []MemberResult{
			{Member: Member{Name: "apgd-ce", Attack: "apgd"}, Attacked: 90, Broken: 30},
			{Member: Member{Name: "apgd-t", Attack: "apgd"}, Attacked: 60, Broken: 5},
			{Member: Member{Name: "fab-t", Attack: "fab"}, Attacked: 55, Broken: 0},
			{Member: Member{Name: "square", Attack: "square"}, Attacked: 55, Broken: square},
		}}
	if detached > 0 {
		a.Members = append(a.Members, MemberResult{Member: Member{Name: "apgd-ce-detached", Attack: "apgd", Via: "detached"}, Attacked: 55 - square, Broken: detached})
	}
	return a
}

func withN(a AttackResult, n int) AttackResult {
	a.N = n
	return a
}

func TestMaskingChecks(t *testing.T) {
	pgd := func(eps string, steps, restarts string, acc float64) AttackResult {
		return AttackResult{Attack: "pgd", Eps: eps, Accuracy: acc,
			Params: map[string]string{"norm": "linf", "loss": "ce", "steps": steps, "restarts": restarts}}
	}
	other := func(name, eps string, acc float64) AttackResult {
		return AttackResult{Attack: name, Eps: eps, Accuracy: acc, Params: map[string]string{"norm": "linf"}}
	}
	tests := []struct {
		name    string
		attacks []AttackResult
		failed  []string // names of the checks that must fail; all others pass
		checks  int
	}{
		{
			name: "healthy",
			attacks: []AttackResult{
				pgd("0.1", "10", "1", 0.40), pgd("0.1", "40", "1", 0.35), pgd("0.1", "40", "5", 0.30),
				other("square", "0.1", 0.45), other("transfer", "0.1", 0.60), other("fgsm", "0.1", 0.50),
				pgd("0.5", "40", "1", 0.02),
			},
			// square, transfer, fgsm, three stronger-pgd pairs, large eps.
			checks: 7,
		},
		{
			name:    "square beats pgd",
			attacks: []AttackResult{pgd("0.1", "10", "1", 0.40), other("square", "0.1", 0.20)},
			failed:  []string{"square weaker than white-box at eps 0.1"},
			checks:  1,
		},
		{
			name:    "transfer beats pgd",
			attacks: []AttackResult{pgd("0.1", "10", "1", 0.40), other("transfer", "0.1", 0.30)},
			failed:  []string{"transfer weaker than white-box at eps 0.1"},
			checks:  1,
		},
		{
			name:    "fgsm beats pgd",
			attacks: []AttackResult{pgd("0.1", "10", "1", 0.40), other("fgsm", "0.1", 0.35)},
			failed:  []string{"fgsm weaker than pgd at eps 0.1"},
			checks:  1,
		},
		{
			name:    "more steps raise accuracy",
			attacks: []AttackResult{pgd("0.1", "10", "1", 0.40), pgd("0.1", "100", "1", 0.45)},
			failed:  []string{"stronger pgd no worse at eps 0.1"},
			checks:  1,
		},
		{
			name:    "more restarts raise accuracy",
			attacks: []AttackResult{pgd("0.1", "10", "1", 0.40), pgd("0.1", "10", "4", 0.41)},
			failed:  []string{"stronger pgd no worse at eps 0.1"},
			checks:  1,
		},
		{
			name:    "large eps not near zero",
			attacks: []AttackResult{pgd("0.5", "10", "1", 0.30)},
			failed:  []string{"pgd at large eps 0.5 reaches near zero"},
			checks:  1,
		},
		{
			name:    "different eps not compared",
			attacks: []AttackResult{pgd("0.1", "10", "1", 0.40), other("square", "0.2", 0.10), other("fgsm", "0.05", 0.2)},
		},
		{
			name: "different threat models not compared",
			attacks: []AttackResult{pgd("0.5", "10", "1", 0.02),
				{Attack: "square", Eps: "0.5", Accuracy: 0.01, Params: map[string]string{"norm": "l2"}},
				{Attack: "apgd", Eps: "0.1", Accuracy: 0.9, Params: map[string]string{"norm": "l2"}}},
			checks: 1, // pgd at large eps (L-inf only); square has no white-box attack at L2 0.5
		},
		{
			name:    "suite whose square finds nothing",
			attacks: []AttackResult{suiteResult("0.3", 0, 0)},
			checks:  1,
		},
		{
			name:    "suite whose square breaks examples",
			attacks: []AttackResult{suiteResult("0.3", 3, 0)},
			failed:  []string{"square adds at most 0.2 points to the white-box attacks of suite standard at linf eps 0.3"},
			checks:  1,
		},
		{
			name:    "suite whose square breaks examples within AutoAttack's tolerance",
			attacks: []AttackResult{withN(suiteResult("0.3", 2, 0), 1000)}, // 0.2 points
			checks:  1,
		},
		{
			name:    "suite whose square breaks examples beyond AutoAttack's tolerance",
			attacks: []AttackResult{withN(suiteResult("0.3", 3, 0), 1000)}, // 0.3 points
			failed:  []string{"square adds at most 0.2 points to the white-box attacks of suite standard at linf eps 0.3"},
			checks:  1,
		},
		{
			name:    "sgn suite whose detached path breaks examples",
			attacks: []AttackResult{suiteResult("0.5", 0, 2)},
			failed:  []string{"apgd-ce-detached adds at most 0.2 points to the white-box attacks of suite standard at linf eps 0.5", "suite at large eps 0.5 reaches near zero"},
			checks:  3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks := MaskingChecks(tc.attacks)
			if len(checks) != tc.checks {
				t.Errorf("%d checks %v, want %d", len(checks), checks, tc.checks)
			}
			var failed []string
			for _, c := range checks {
				if !c.Passed {
					failed = append(failed, c.Name)
				}
			}
			if !slices.Equal(failed, tc.failed) {
				t.Errorf("failed checks %q, want %q", failed, tc.failed)
			}
		})
	}
}

func TestWriteReports(t *testing.T) {
	res := Result{
		N: 200, CleanAccuracy: ptr(0.975),
		Attacks: []AttackResult{
			{Attack: "pgd", Eps: "0.1", Params: map[string]string{"norm": "linf", "steps": "40"}, N: 200, Accuracy: 0.5},
			{Attack: "pgd", Eps: "0.3", Params: map[string]string{"norm": "linf", "steps": "40"}, N: 200, Accuracy: 0.25},
		},
		ByEps: []EpsResult{{"0.1", "linf", 200, 0.5}, {"0.3", "linf", 200, 0.125}},
		Evaluations: []Evaluation{
			{ThreatModel: "linf", Eps: 0.1, N: 200, CleanAccuracy: ptr(0.975), Robust: 0.5, RobustCI95: [2]float64{0.431, 0.569}, Attacks: []string{"pgd"}},
			{ThreatModel: "linf", Eps: 0.3, N: 200, CleanAccuracy: ptr(0.975), Robust: 0.125, RobustCI95: [2]float64{0.086, 0.178}, Attacks: []string{"pgd"}},
		},
		PerClass: []ClassAccuracy{{"cat", 120, 0.1}, {"dog", 80, 0.15}},
		Checks:   []Check{{Name: "fgsm weaker than pgd at eps 0.1", Passed: false, Detail: "fgsm 0.2 vs pgd 0.5"}},
	}
	noClean := res
	noClean.CleanAccuracy = nil
	noClean.Evaluations = slices.Clone(res.Evaluations)
	for i := range noClean.Evaluations {
		noClean.Evaluations[i].CleanAccuracy = nil
	}
	oneEps := res
	oneEps.Attacks, oneEps.ByEps, oneEps.Evaluations, oneEps.Accuracy = res.Attacks[:1], res.ByEps[:1], res.Evaluations[:1], ptr(0.5)
	tests := []struct {
		name     string
		write    func(*bytes.Buffer, Result, bool) error
		res      Result
		perClass bool
		want     []string
		not      []string
	}{
		{"table", tableTo, res, true,
			[]string{"examples 200", "clean accuracy 0.9750", "pgd (eps=0.1 norm=linf steps=40) 0.5000",
				"robust accuracy at linf eps=0.3 (worst case) 0.1250 [0.0860, 0.1780] 95% Wilson", "robust accuracy at linf eps=0.1 (worst case) 0.5000",
				"class cat 0.1000 (n=120)", "WARNING: possible gradient masking", "fgsm 0.2 vs pgd 0.5"},
			[]string{"robust accuracy (worst case)"}},
		{"table without clean or classes", tableTo, noClean, false, []string{"robust accuracy at linf eps=0.3 (worst case) 0.1250"}, []string{"clean accuracy", "class cat"}},
		{"table one eps", tableTo, oneEps, false, []string{"pgd (eps=0.1 norm=linf steps=40) 0.5000", "robust accuracy (worst case) 0.5000 [0.4310, 0.5690]"}, []string{"at linf eps"}},
		{"markdown", markdownTo, res, true,
			[]string{"| clean | 97.50% |", "| pgd (eps=0.3 norm=linf steps=40) | 25.00% |", "| **worst case** at linf eps=0.1 (n=200) | **50.00%** |",
				"| **worst case** at linf eps=0.3 (n=200) | **12.50%** |", "| dog | 80 | 15.00% |", "| fgsm weaker than pgd at eps 0.1 | **FAIL** | fgsm 0.2 vs pgd 0.5 |",
				"| – | – | L∞ | 0.3 | 97.50% | **12.50%** [8.6, 17.8] | pgd | 200 | – |"},
			nil},
		{"markdown without clean or classes", markdownTo, noClean, false, []string{"**12.50%**", "| L∞ | 0.1 | – | **50.00%** [43.1, 56.9] |"}, []string{"| clean |", "| cat |"}},
		{"markdown one eps", markdownTo, oneEps, false, []string{"| pgd (eps=0.1 norm=linf steps=40) | 50.00% |", "| **worst case** (n=200) | **50.00%** |"}, []string{"at linf eps"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b, tc.res, tc.perClass); err != nil {
				t.Fatal(err)
			}
			// Spaces collapsed, so that the table's alignment does not matter.
			var lines []string
			for l := range strings.Lines(b.String()) {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
			out := strings.Join(lines, "\n")
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func tableTo(b *bytes.Buffer, r Result, perClass bool) error    { return WriteTable(b, r, perClass) }
func markdownTo(b *bytes.Buffer, r Result, perClass bool) error { return WriteMarkdown(b, r, perClass) }

// Synthetic streams of 1x2x2 images.

func shape() []int { return []int{1, 2, 2} }

// pixel returns the constant pixel value of example i's images: clean i/32,
// adversarial i/32 + 1/64.
func pixel(i int64, adv bool) float32 {
	v := float32(i) / 32
	if adv {
		v += 1.0 / 64
	}
	return v
}

// attackStream writes an attack stream over the examples idx with these
// labels and adversarial predictions (clean predictions are the labels).
func attackStream(t *testing.T, name, eps string, idx, labels, adv []int64) []byte {
	t.Helper()
	return attackStreamClean(t, name, eps, idx, labels, labels, adv)
}

// attackStreamClean is attackStream with clean predictions.
func attackStreamClean(t *testing.T, name, eps string, idx, labels, clean, adv []int64) []byte {
	t.Helper()
	params, _ := json.Marshal(map[string]string{"norm": "linf", "eps": eps})
	h := stream.Header{Shape: shape(), Elem: stream.Float32,
		Metadata: map[string]string{stream.MetaAttack: name, stream.MetaAttackEps: eps, stream.MetaAttackParams: string(params), stream.MetaPixelScale: "1"},
		Extra: []stream.ColumnSpec{
			{Name: stream.ColIndex, Type: stream.Int64Column}, {Name: stream.ColCleanPred, Type: stream.Int64Column},
			{Name: stream.ColAdvPred, Type: stream.Int64Column}, {Name: stream.ColLinf, Type: stream.Float32Column}, {Name: stream.ColL2, Type: stream.Float32Column},
		}}
	var floats []float32
	for _, i := range idx {
		for range 4 {
			floats = append(floats, pixel(i, true))
		}
	}
	norms := make([]float32, len(idx))
	return writeStream(t, h, &stream.Batch{Floats: floats, Labels: labels, Extra: []stream.Column{
		{Name: stream.ColIndex, Int64: idx}, {Name: stream.ColCleanPred, Int64: clean}, {Name: stream.ColAdvPred, Int64: adv},
		{Name: stream.ColLinf, Float32: norms}, {Name: stream.ColL2, Float32: norms},
	}})
}

// plainStream writes n uint8 examples, example i having pixels i/32 and
// label labels[i].
func plainStream(t *testing.T, labels []int64) []byte {
	t.Helper()
	h := stream.Header{Shape: shape(), Elem: stream.Uint8, Metadata: map[string]string{stream.MetaPixelScale: "0.03125"}}
	var px []uint8
	for i := range labels {
		for range 4 {
			px = append(px, uint8(i))
		}
	}
	return writeStream(t, h, &stream.Batch{Pixels: px, Labels: labels})
}

func writeStream(t *testing.T, h stream.Header, b *stream.Batch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h, stream.WithBatchRows(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func seq(from, to, step int64) []int64 {
	var s []int64
	for i := from; i < to; i += step {
		s = append(s, i)
	}
	return s
}

func TestScorerAttackStreams(t *testing.T) {
	labels := make([]int64, 12)
	for i := range labels {
		labels[i] = int64(i % 3)
	}
	even, odd := seq(0, 12, 2), seq(1, 12, 2)
	pick := func(idx []int64, f func(int64) int64) []int64 {
		var out []int64
		for _, i := range idx {
			out = append(out, f(i))
		}
		return out
	}
	label := func(i int64) int64 { return labels[i] }
	// pgd at 0.1 breaks examples 0 and 1, at 0.3 examples 0-5; fgsm at 0.1
	// breaks example 2.
	breakBelow := func(n int64) func(int64) int64 {
		return func(i int64) int64 {
			if i < n {
				return (labels[i] + 1) % 3
			}
			return labels[i]
		}
	}
	fgsm := func(i int64) int64 {
		if i == 2 {
			return (labels[i] + 1) % 3
		}
		return labels[i]
	}
	s := NewScorer(nil, 4, WithImages())
	inputs := []struct {
		name string
		data []byte
	}{
		{"pgd-0.1-even", attackStream(t, "pgd", "0.1", even, pick(even, label), pick(even, breakBelow(2)))},
		{"pgd-0.1-odd", attackStream(t, "pgd", "0.1", odd, pick(odd, label), pick(odd, breakBelow(2)))},
		{"pgd-0.3", attackStream(t, "pgd", "0.3", seq(0, 12, 1), labels, pick(seq(0, 12, 1), breakBelow(6)))},
		{"fgsm-0.1", attackStream(t, "fgsm", "0.1", seq(0, 12, 1), labels, pick(seq(0, 12, 1), fgsm))},
		{"clean", plainStream(t, labels)},
	}
	for _, in := range inputs {
		if err := s.Read(context.Background(), in.name, bytes.NewReader(in.data)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Result()
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 12 || r.Accuracy != nil || r.CleanAccuracy == nil || *r.CleanAccuracy != 1 {
		t.Errorf("n %d accuracy %v clean %v, want 12, none at two eps, 1", r.N, fmtPtr(r.Accuracy), r.CleanAccuracy)
	}
	wantEps := []EpsResult{{"0.1", "linf", 12, 0.75}, {"0.3", "linf", 12, 0.5}}
	if !slices.Equal(r.ByEps, wantEps) {
		t.Errorf("by eps %v, want %v", r.ByEps, wantEps)
	}
	if len(r.Attacks) != 3 {
		t.Errorf("%d attacks, want 3 (the pgd shards merged)", len(r.Attacks))
	}

	g, err := s.Gallery()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Index, seq(0, ShownExamples, 1)) || !slices.Equal(g.Shape, shape()) {
		t.Fatalf("gallery of examples %v shape %v, want the first %d, shape %v", g.Index, g.Shape, ShownExamples, shape())
	}
	if len(g.Rows) != 3 || len(g.Clean) != ShownExamples {
		t.Fatalf("%d rows and %d clean images, want 3 and %d", len(g.Rows), len(g.Clean), ShownExamples)
	}
	for j, i := range g.Index {
		c := g.Clean[j]
		if c.Index != i || c.Label != labels[i] || c.Pred != labels[i] || !slices.Equal(c.Pixels, []float32{pixel(i, false), pixel(i, false), pixel(i, false), pixel(i, false)}) {
			t.Errorf("clean example %d: %+v", i, c)
		}
		e := g.Rows[0].Examples[j] // pgd at 0.1, from two shards
		if e.Index != i || e.Label != labels[i] || e.Pred != breakBelow(2)(i) || e.Pixels[0] != pixel(i, true) {
			t.Errorf("pgd example %d: %+v", i, e)
		}
	}
	if !strings.HasPrefix(g.Rows[2].Label, "fgsm (eps=0.1") {
		t.Errorf("row label %q, want fgsm's", g.Rows[2].Label)
	}
}

func TestScorerRefuses(t *testing.T) {
	labels := []int64{0, 1, 2}
	attack := attackStream(t, "pgd", "0.1", seq(0, 3, 1), labels, labels)
	tests := []struct {
		name   string
		images bool
		inputs [][]byte
		step   string // "read", "result" or "gallery": where the error comes
		err    string
	}{
		{"plain stream without model", false, [][]byte{attack, plainStream(t, labels)}, "read", "needs -model"},
		{"two plain streams", true, [][]byte{plainStream(t, labels), plainStream(t, labels), attack}, "read", "only one can give the clean images"},
		{"plain stream only", true, [][]byte{plainStream(t, labels)}, "result", "needs -model"},
		{"clean labels differ", true, [][]byte{attack, plainStream(t, []int64{0, 2, 2})}, "gallery", "not the same examples"},
		{"no images kept", false, [][]byte{attack}, "gallery", "kept no images"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.images {
				opts = append(opts, WithImages())
			}
			s := NewScorer(nil, 4, opts...)
			var err error
			step := "read"
			for i, in := range tc.inputs {
				if err = s.Read(context.Background(), string(rune('a'+i)), bytes.NewReader(in)); err != nil {
					break
				}
			}
			if err == nil {
				step = "result"
				_, err = s.Result()
			}
			if err == nil {
				step = "gallery"
				_, err = s.Gallery()
			}
			if step != tc.step || err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %s error %q", step, err, tc.step, tc.err)
			}
		})
	}
}

func TestKeepShownBounded(t *testing.T) {
	var list []Shown
	px := []float32{0.5}
	for i := int64(20); i >= 0; i-- {
		list = keepShown(list, Shown{Index: i, Pixels: px})
		list = keepShown(list, Shown{Index: i + 100, Pixels: px})
	}
	var got []int64
	for _, s := range list {
		got = append(got, s.Index)
	}
	if !slices.Equal(got, seq(0, ShownExamples, 1)) {
		t.Errorf("kept %v, want the %d lowest indices", got, ShownExamples)
	}
	px[0] = 0
	if list[0].Pixels[0] != 0.5 {
		t.Errorf("kept pixels alias the caller's buffer")
	}
}

func TestLabel(t *testing.T) {
	tests := []struct {
		a    AttackResult
		want string
	}{
		{AttackResult{Attack: "clean"}, "clean"},
		{AttackResult{Attack: "pgd", Eps: "0.3", Params: map[string]string{"norm": "linf", "alpha": "0.01", "steps": "40"}}, "pgd (eps=0.3 norm=linf steps=40)"},
		{AttackResult{Attack: "transfer", Params: map[string]string{"surrogate": "m2"}}, "transfer (surrogate=m2)"},
	}
	for _, tc := range tests {
		if got := tc.a.Label(); got != tc.want {
			t.Errorf("%+v: label %q, want %q", tc.a, got, tc.want)
		}
	}
}
