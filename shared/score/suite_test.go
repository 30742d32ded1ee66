package score

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"sgn/format/stream"
)

// TestWilson compares the interval with values computed by hand from
// Wilson's formula, and checks it brackets the proportion.
func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		ok, n  int
		lo, hi float64
	}{
		{0, 10, 0, 0.2775327998628892},
		{5, 10, 0.236593090512564, 0.7634069094874361},
		{812, 1000, 0.7866068125887822, 0.8350052901162315},
		{10, 10, 0.7224672001371107, 1},
	} {
		lo, hi := Wilson(tc.ok, tc.n)
		if math.Abs(lo-tc.lo) > 1e-12 || math.Abs(hi-tc.hi) > 1e-12 {
			t.Errorf("Wilson(%d, %d) = [%v, %v], want [%v, %v]", tc.ok, tc.n, lo, hi, tc.lo, tc.hi)
		}
		if p := float64(tc.ok) / float64(tc.n); p < lo || p > hi {
			t.Errorf("Wilson(%d, %d) = [%v, %v] does not hold %v", tc.ok, tc.n, lo, hi, p)
		}
	}
}

// suiteStream writes a suite's stream over examples 0..n-1 with these
// labels, clean and adversarial predictions and broken_by column, against
// checkpoint sha.
func suiteStream(t *testing.T, eps, sha string, members []Member, labels, clean, adv, brokenBy []int64, withColumn bool) []byte {
	t.Helper()
	params, _ := json.Marshal(map[string]string{"suite": "standard", "norm": "linf", "eps": eps})
	mj, _ := json.Marshal(members)
	h := stream.Header{Shape: shape(), Elem: stream.Float32,
		Metadata: map[string]string{stream.MetaAttack: "suite", stream.MetaAttackEps: eps, stream.MetaAttackParams: string(params),
			stream.MetaSuite: string(mj), stream.MetaPixelScale: "1", stream.MetaDataset: "mnist", stream.MetaSplit: "test",
			stream.MetaModelSHA256: sha, stream.MetaModelRecipe: `{"arch":"madry-mnist","adv":"fgsm","eps":0.3,"norm":"linf","epochs":2}`},
		Extra: []stream.ColumnSpec{
			{Name: stream.ColIndex, Type: stream.Int64Column}, {Name: stream.ColCleanPred, Type: stream.Int64Column},
			{Name: stream.ColAdvPred, Type: stream.Int64Column},
		}}
	idx := seq(0, int64(len(labels)), 1)
	cols := []stream.Column{{Name: stream.ColIndex, Int64: idx}, {Name: stream.ColCleanPred, Int64: clean}, {Name: stream.ColAdvPred, Int64: adv}}
	if withColumn {
		h.Extra = append(h.Extra, stream.ColumnSpec{Name: stream.ColBrokenBy, Type: stream.Int64Column})
		cols = append(cols, stream.Column{Name: stream.ColBrokenBy, Int64: brokenBy})
	}
	floats := make([]float32, 4*len(labels))
	return writeStream(t, h, &stream.Batch{Floats: floats, Labels: labels, Extra: cols})
}

var standardMembers = []Member{
	{Name: "apgd-ce", Attack: "apgd", Params: map[string]string{"loss": "ce"}},
	{Name: "apgd-t", Attack: "apgd", Params: map[string]string{"loss": "dlr", "targets": "9"}},
	{Name: "fab-t", Attack: "fab"},
	{Name: "square", Attack: "square"},
}

// TestScorerSuiteStream scores a suite's stream, in two shards, with a PGD
// stream at its eps and another at a larger one: the members' shares, the
// evaluation per eps with the suite's members among its attacks, the
// data and checkpoint of the report, and the masking check of square.
func TestScorerSuiteStream(t *testing.T) {
	// Ten examples of labels 0/1: example 0 misclassified clean; 1-3
	// broken by apgd-ce, 4 by apgd-t, 5 by square; 6-9 robust.
	labels := []int64{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}
	clean := slices.Clone(labels)
	clean[0] = 1
	adv := slices.Clone(clean)
	broken := []int64{-1, 0, 0, 0, 1, 3, -1, -1, -1, -1}
	for i, b := range broken {
		if b >= 0 {
			adv[i] = 1 - labels[i]
		}
	}
	const sha = "5e1f0000000000000000000000000000000000000000000000000000000000aa"
	half := func(lo, hi int) []byte {
		// A shard: the rows lo..hi-1, their indices kept.
		b := suiteStream(t, "0.3", sha, standardMembers, labels[lo:hi], clean[lo:hi], adv[lo:hi], broken[lo:hi], true)
		h, batch, err := stream.ReadAll(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatal(err)
		}
		col, _ := batch.Column(stream.ColIndex)
		for i := range col.Int64 {
			col.Int64[i] += int64(lo)
		}
		return writeStream(t, h, batch)
	}
	// PGD at 0.3 breaks example 6 too; at 0.5 everything.
	pgd03 := slices.Clone(adv)
	pgd03[6] = 1
	pgd05 := slices.Clone(labels)
	for i := range pgd05 {
		pgd05[i] = 1 - labels[i]
	}
	all := seq(0, 10, 1)
	s := NewScorer(nil, 4)
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"aa.0.arrow", half(0, 5)},
		{"aa.1.arrow", half(5, 10)},
		{"pgd-0.3.arrow", attackStreamClean(t, "pgd", "0.3", all, labels, clean, pgd03)},
		{"pgd-0.5.arrow", attackStreamClean(t, "pgd", "0.5", all, labels, clean, pgd05)},
	} {
		if err := s.Read(context.Background(), in.name, bytes.NewReader(in.data)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Result()
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 10 || r.Accuracy != nil || r.Dataset != "mnist" || r.Split != "test" || r.Checkpoint != sha || !strings.Contains(string(r.Recipe), "madry-mnist") {
		t.Errorf("report %+v", r)
	}
	if len(r.Attacks) != 3 || r.Attacks[0].Attack != "suite" || r.Attacks[0].Accuracy != 0.4 {
		t.Fatalf("attacks %+v, want the suite (0.4) and two pgd", r.Attacks)
	}
	wantMembers := []struct{ attacked, broken int }{{9, 3}, {6, 1}, {5, 0}, {5, 1}}
	for i, m := range r.Attacks[0].Members {
		if m.Attacked != wantMembers[i].attacked || m.Broken != wantMembers[i].broken || m.Name != standardMembers[i].Name {
			t.Errorf("member %d: %+v, want %+v", i, m, wantMembers[i])
		}
	}
	if after := r.Attacks[0].Members[3].AccuracyAfter; after != 0.4 {
		t.Errorf("accuracy after the last member %v, want the suite's 0.4", after)
	}
	if len(r.Evaluations) != 2 {
		t.Fatalf("evaluations %+v, want two (eps 0.3 and 0.5)", r.Evaluations)
	}
	e := r.Evaluations[0]
	if e.ThreatModel != "linf" || e.Eps != 0.3 || e.Robust != 0.3 || e.CleanAccuracy == nil || *e.CleanAccuracy != 0.9 ||
		!slices.Equal(e.Attacks, []string{"apgd-ce", "apgd-t", "fab-t", "square", "pgd (norm=linf)"}) {
		t.Errorf("evaluation at 0.3: %+v", e)
	}
	if lo, hi := Wilson(3, 10); e.RobustCI95 != [2]float64{lo, hi} {
		t.Errorf("interval %v, want [%v, %v]", e.RobustCI95, lo, hi)
	}
	if r.Evaluations[1].Eps != 0.5 || r.Evaluations[1].Robust != 0 {
		t.Errorf("evaluation at 0.5: %+v", r.Evaluations[1])
	}
	var failed []string
	for _, c := range r.Checks {
		if !c.Passed {
			failed = append(failed, c.Name+": "+c.Detail)
		}
	}
	want := "square adds at most 0.2 points to the white-box attacks of suite standard at linf eps 0.3: square broke 1 of the 5 examples left by the attacks before it (white-box: apgd-ce, apgd-t, fab-t): 10.0 points of accuracy"
	if !slices.Contains(failed, want) {
		t.Errorf("failed checks %q, want %q among them", failed, want)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r, false); err != nil {
		t.Fatal(err)
	}
	row := "| madry-mnist, fgsm linf eps=0.3, 2 epochs | mnist (test) | L∞ | 0.3 | 90.00% [59.6, 98.2] | **30.00%** [10.8, 60.3] | apgd-ce, apgd-t, fab-t, square, pgd (norm=linf) | 10 | 5e1f00000000… |"
	if !strings.Contains(md.String(), row) {
		t.Errorf("markdown lacks the row\n%s\n%s", row, md.String())
	}
}

// TestScorerRefusesSuites checks the one-line refusals of malformed suite
// streams and of streams about different checkpoints.
func TestScorerRefusesSuites(t *testing.T) {
	labels := []int64{0, 1, 0}
	ok := func(sha string, broken []int64, column bool) []byte {
		return suiteStream(t, "0.3", sha, standardMembers, labels, labels, labels, broken, column)
	}
	shaA := strings.Repeat("a", 64)
	shaB := strings.Repeat("b", 64)
	badMeta := func(key, value string) []byte {
		h, b, err := stream.ReadAll(bytes.NewReader(ok(shaA, []int64{-1, -1, -1}, true)), 0)
		if err != nil {
			t.Fatal(err)
		}
		h.Metadata[key] = value
		return writeStream(t, h, b)
	}
	for _, tc := range []struct {
		name   string
		inputs [][]byte
		err    string
	}{
		{"no broken_by column", [][]byte{ok(shaA, nil, false)}, "aa.arrow: a suite's stream without its broken_by column"},
		{"broken_by out of range", [][]byte{ok(shaA, []int64{-1, 4, -1}, true)}, "aa.arrow: example 1: broken_by is 4, want -1 or a member's position below 4"},
		{"members not JSON", [][]byte{badMeta(stream.MetaSuite, "apgd-ce")}, "aa.arrow: metadata sgn.attack.suite"},
		{"params not JSON", [][]byte{badMeta(stream.MetaAttackParams, "{")}, "aa.arrow: metadata sgn.attack.params"},
		{"two checkpoints", [][]byte{ok(shaA, []int64{-1, -1, -1}, true), ok(shaB, []int64{-1, -1, -1}, true)},
			"aa.arrow: checkpoint (SHA-256) bbbbbbbbbbbb…, but aa.arrow has aaaaaaaaaaaa…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewScorer(nil, 4)
			var err error
			for _, in := range tc.inputs {
				if err = s.Read(context.Background(), "aa.arrow", bytes.NewReader(in)); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}
