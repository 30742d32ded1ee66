package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli/clitest"
)

// quickSuite are the flags that make a suite cheap enough for a test.
var quickSuite = []string{"-steps", "3", "-targets", "2", "-queries", "20"}

// suiteRows checks a suite's stream against the clean examples: every row
// within eps of its clean image in the norm, broken_by a member's position
// or -1, adv_pred differing from the label exactly for the broken rows of
// examples classified right, and unbroken rows left at the clean image.
// It returns the members and, per example, broken_by.
func suiteRows(t *testing.T, out, clean []byte, norm string, eps float64) ([]string, map[int64]int64) {
	t.Helper()
	ch, cb := clitest.ReadStream(t, clean)
	cleanX := ch.Float32Images(cb, nil)
	h, b := clitest.ReadStream(t, out)
	if h.Metadata[stream.MetaAttack] != "suite" {
		t.Fatalf("attack %q, want suite", h.Metadata[stream.MetaAttack])
	}
	var members []struct{ Name string }
	if err := json.Unmarshal([]byte(h.Metadata[stream.MetaSuite]), &members); err != nil {
		t.Fatalf("metadata %s: %v", stream.MetaSuite, err)
	}
	var names []string
	for _, m := range members {
		names = append(names, m.Name)
	}
	idx, _ := b.Column(stream.ColIndex)
	cp, _ := b.Column(stream.ColCleanPred)
	ap, _ := b.Column(stream.ColAdvPred)
	by, ok := b.Column(stream.ColBrokenBy)
	if !ok {
		t.Fatalf("no %s column: %+v", stream.ColBrokenBy, h.Extra)
	}
	d := h.ExampleSize()
	x := h.Float32Images(b, nil)
	got := map[int64]int64{}
	for i := range b.Len() {
		j := idx.Int64[i]
		var dist float64
		for k, v := range x[i*d : (i+1)*d] {
			u := math.Abs(float64(v - cleanX[int(j)*d+k]))
			switch norm {
			case "linf":
				dist = max(dist, u)
			case "l1":
				dist += u
			default:
				dist += u * u
			}
		}
		if norm == "l2" {
			dist = math.Sqrt(dist)
		}
		if dist > eps*(1+1e-5)+1e-6 {
			t.Errorf("example %d at %s distance %g > %g", j, norm, dist, eps)
		}
		bb := by.Int64[i]
		switch {
		case bb < -1 || bb >= int64(len(names)):
			t.Errorf("example %d: broken_by %d with %d members", j, bb, len(names))
		case bb >= 0 && ap.Int64[i] == b.Labels[i]:
			t.Errorf("example %d broken by %s, but adv_pred is its label", j, names[bb])
		case bb < 0 && cp.Int64[i] == b.Labels[i] && (ap.Int64[i] != b.Labels[i] || dist != 0):
			t.Errorf("example %d unbroken, but moved by %g or predicted %d", j, dist, ap.Int64[i])
		}
		got[j] = bb
	}
	return names, got
}

func TestSuiteStandard(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	r := tools.MustRun(t, self, nil, slices.Concat([]string{"-suite", "standard", "-eps", "0.1"}, quickSuite, []string{"-model", model, "-data", data})...)
	names, broken := suiteRows(t, r.Stdout, clitest.ReadFile(t, data), "linf", 0.1)
	if !slices.Equal(names, []string{"apgd-ce", "apgd-t", "fab-t", "square"}) || len(broken) != 64 {
		t.Fatalf("members %v over %d examples", names, len(broken))
	}
	// One line per member (stderr is not a terminal), then the summary.
	for _, want := range []string{"sgn-attack: apgd-ce: broke", "sgn-attack: apgd-t: broke", "sgn-attack: fab-t: broke", "sgn-attack: square: broke", "suite standard eps=0.1 on 64 examples"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q lacks %q", r.Stderr, want)
		}
	}
	rep := scoreJSON(t, r.Stdout)
	sum := sha256.Sum256(clitest.ReadFile(t, model))
	if rep.Checkpoint != hex.EncodeToString(sum[:]) || rep.Dataset != "mnist" || rep.Split != "test" || !strings.Contains(string(rep.Recipe), `"arch":"mlp"`) {
		t.Errorf("report names checkpoint %q, data %q %q, recipe %s", rep.Checkpoint, rep.Dataset, rep.Split, rep.Recipe)
	}
	if len(rep.Evaluations) != 1 || rep.Evaluations[0].ThreatModel != "linf" || rep.Evaluations[0].Eps != 0.1 ||
		!slices.Equal(rep.Evaluations[0].Attacks, names) || rep.Evaluations[0].Robust != rep.Accuracy {
		t.Fatalf("evaluations %+v", rep.Evaluations)
	}
	var nBroken int
	for _, b := range broken {
		if b >= 0 {
			nBroken++
		}
	}
	a := rep.Attacks[0]
	sumBroken := 0
	for _, m := range a.Members {
		sumBroken += m.Broken
	}
	if sumBroken != nBroken || a.Members[len(a.Members)-1].AccuracyAfter != rep.Accuracy {
		t.Errorf("members %+v: broke %d in all, want %d; last accuracy_after, want %g", a.Members, sumBroken, nBroken, rep.Accuracy)
	}
	// The suite is no weaker than its first member alone, APGD-CE with the
	// same iterations (its random starts differ: per example, this is
	// shared/attack's TestSuiteNeverWeaker).
	alone := scoreJSON(t, tools.MustRun(t, self, nil, "-apgd", "-steps", "3", "-eps", "0.1", "-model", model, "-data", data).Stdout)
	if rep.Accuracy > alone.Accuracy {
		t.Errorf("suite accuracy %g, apgd-ce alone %g", rep.Accuracy, alone.Accuracy)
	}
	md := tools.MustRun(t, "sgn-score", r.Stdout, "-md")
	if !strings.Contains(string(md.Stdout), "| mlp, standard training, 1 epoch | mnist (test) | L∞ | 0.1 |") {
		t.Errorf("sgn-score -md printed\n%s\nwant the RobustBench-style row", md.Stdout)
	}
}

// Sharded suites cover every example once and score as one suite.
func TestSuiteShards(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	var files []string
	seen := map[int64]bool{}
	for i := range 2 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("aa.%d.arrow", i))
		tools.MustRun(t, self, nil, slices.Concat([]string{"-suite", "standard", "-eps", "0.1", "-shard", fmt.Sprintf("%d/2", i)}, quickSuite,
			[]string{"-model", model, "-data", data, "-o", out})...)
		_, broken := suiteRows(t, clitest.ReadFile(t, out), clitest.ReadFile(t, data), "linf", 0.1)
		for j := range broken {
			if int(j)%2 != i || seen[j] {
				t.Errorf("shard %d/2 holds example %d", i, j)
			}
			seen[j] = true
		}
		files = append(files, out)
	}
	rep := scoreJSON(t, nil, files...)
	if len(seen) != 64 || rep.N != 64 || len(rep.Attacks) != 1 || rep.Attacks[0].Attack != "suite" || len(rep.Attacks[0].Members) != 4 {
		t.Errorf("shards cover %d examples; merged score %+v, want one suite over 64", len(seen), rep)
	}
}

// The sgn suite adds the detached path for an SGN (phi l2 here, so no
// smooth surrogate, which the tool says) and a transfer from -transfer.
func TestSuiteSGN(t *testing.T) {
	dir := fixture.Dir(t)
	data, model, plain := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "sgn.sgn"), filepath.Join(dir, "m.sgn")
	r := tools.MustRun(t, self, nil, slices.Concat([]string{"-suite", "sgn", "-transfer", plain, "-eps", "0.1"}, quickSuite,
		[]string{"-model", model, "-data", data})...)
	names, _ := suiteRows(t, r.Stdout, clitest.ReadFile(t, data), "linf", 0.1)
	if !slices.Equal(names, []string{"apgd-ce", "apgd-t", "fab-t", "square", "apgd-ce-detached", "transfer-apgd-ce"}) {
		t.Errorf("members %v", names)
	}
	if !strings.Contains(r.Stderr, "no smooth surrogate: the SGN's phi is l2") {
		t.Errorf("stderr %q, want the note on the surrogate", r.Stderr)
	}
	rep := scoreJSON(t, r.Stdout)
	checks := 0
	for _, c := range rep.Checks {
		if strings.Contains(c.Name, "points to the white-box attacks") {
			checks++
		}
	}
	if checks != 3 {
		t.Errorf("checks %+v, want one per member beyond the white-box ones (square, detached, transfer)", rep.Checks)
	}
}

// Targeted APGD, FAB-T, L1 and L2 budgets, and eps as a fraction.
func TestThreatModels(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	clean := clitest.ReadFile(t, data)
	for _, tc := range []struct {
		name, norm, eps string
		epsValue        float64
		args            []string
		params          map[string]string
	}{
		{"apgd-t", "linf", "8/255", 8.0 / 255, []string{"-apgd", "-targeted", "-targets", "2", "-steps", "3"}, map[string]string{"targets": "2", "loss": "dlr"}},
		{"pgd-t-l2", "l2", "1", 1, []string{"-pgd", "-targeted", "-steps", "3", "-norm", "l2"}, map[string]string{"targets": "9", "loss": "ce"}},
		{"fab-t", "linf", "0.1", 0.1, []string{"-fab", "-targets", "2", "-steps", "5"}, map[string]string{"targets": "2"}},
		{"fab-t-l2", "l2", "1.5", 1.5, []string{"-fab", "-targets", "1", "-steps", "5", "-norm", "l2"}, nil},
		{"apgd-l1", "l1", "5", 5, []string{"-apgd", "-norm", "l1", "-steps", "3"}, nil},
		{"square-l2", "l2", "1", 1, []string{"-square", "-norm", "l2", "-steps", "10"}, nil},
		{"suite-l1", "l1", "5", 5, slices.Concat([]string{"-suite", "standard", "-norm", "l1"}, quickSuite), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tools.MustRun(t, self, nil, slices.Concat(tc.args, []string{"-eps", tc.eps, "-model", model, "-data", data})...)
			h, b := clitest.ReadStream(t, r.Stdout)
			if got := h.Metadata[stream.MetaAttackEps]; got != fmt.Sprint(tc.epsValue) {
				t.Errorf("eps %q, want %v", got, tc.epsValue)
			}
			var params map[string]string
			if err := json.Unmarshal([]byte(h.Metadata[stream.MetaAttackParams]), &params); err != nil || params["norm"] != tc.norm {
				t.Errorf("params %v (%v), want norm %s", params, err, tc.norm)
			}
			for k, v := range tc.params {
				if params[k] != v {
					t.Errorf("param %s = %q, want %q", k, params[k], v)
				}
			}
			if tc.args[0] == "-suite" {
				suiteRows(t, r.Stdout, clean, tc.norm, tc.epsValue)
				return
			}
			col := map[string]string{"linf": stream.ColLinf, "l2": stream.ColL2, "l1": stream.ColL1}[tc.norm]
			norms, _ := b.Column(col)
			for i, v := range norms.Float32 {
				if float64(v) > tc.epsValue*(1+1e-5)+1e-6 {
					t.Errorf("row %d: %s %g > eps %g", i, col, v, tc.epsValue)
				}
			}
			rep := scoreJSON(t, r.Stdout)
			if len(rep.Evaluations) != 1 || rep.Evaluations[0].ThreatModel != tc.norm || rep.Evaluations[0].Eps != tc.epsValue {
				t.Errorf("evaluations %+v, want %s at %v", rep.Evaluations, tc.norm, tc.epsValue)
			}
		})
	}
}

func TestSuiteRefusals(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	in := []string{"-model", model, "-data", data}
	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "unknown suite", Args: slices.Concat([]string{"-suite", "plus"}, in), Code: 2, Want: []string{"-suite", "plus"}},
		{Name: "suite and attack", Args: slices.Concat([]string{"-suite", "standard", "-pgd"}, in), Code: 2, Want: []string{"exactly one attack"}},
		{Name: "suite with loss", Args: slices.Concat([]string{"-suite", "standard", "-loss", "cw"}, in), Code: 2, Want: []string{"-loss"}},
		{Name: "standard suite with transfer", Args: slices.Concat([]string{"-suite", "standard", "-transfer", model}, in), Code: 2, Want: []string{"-transfer", "-suite sgn"}},
		{Name: "targeted fgsm", Args: slices.Concat([]string{"-fgsm", "-targeted"}, in), Code: 2, Want: []string{"-targeted"}},
		{Name: "targets without targeted", Args: slices.Concat([]string{"-pgd", "-targets", "3"}, in), Code: 2, Want: []string{"-targets"}},
		{Name: "square in l1", Args: slices.Concat([]string{"-square", "-norm", "l1"}, in), Code: 2, Want: []string{"l1"}},
		{Name: "eps divides by zero", Args: slices.Concat([]string{"-pgd", "-eps", "8/0"}, in), Code: 2, Want: []string{"-eps", "8/0"}},
		{Name: "queries without suite", Args: slices.Concat([]string{"-square", "-queries", "10"}, in), Code: 2, Want: []string{"-queries"}},
	})
}
