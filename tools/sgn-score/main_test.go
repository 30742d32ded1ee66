package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli/clitest"
)

// The tests run the tool as a user would: this test binary stands in for
// sgn-score (TestMain runs main when asked to), and the tools that make its
// inputs are built once into a temporary directory.

const self = "sgn-score"

var tools = clitest.New(self, "sgn-fetch", "sgn-train", "sgn-attack")

func TestMain(m *testing.M) { os.Exit(tools.Main(m, main)) }

// fixture holds 64 MNIST test examples, an MLP trained on them, and attack
// streams against it: FGSM in two shards, PGD at eps 0.1 and 0.2, and the
// standard suite at 0.1, made once for all tests.
var fixture = tools.NewFixture(func(mnist, dir string) [][]string {
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	return [][]string{
		clitest.FetchMNIST(mnist, 64, data),
		clitest.TrainMLP("sgn-train", data, model),
		{"sgn-attack", "-fgsm", "-eps", "0.1", "-shard", "0/2", "-model", model, "-data", data, "-o", filepath.Join(dir, "fgsm0.arrow")},
		{"sgn-attack", "-fgsm", "-eps", "0.1", "-shard", "1/2", "-model", model, "-data", data, "-o", filepath.Join(dir, "fgsm1.arrow")},
		{"sgn-attack", "-pgd", "-steps", "2", "-eps", "0.1", "-model", model, "-data", data, "-o", filepath.Join(dir, "pgd.arrow")},
		{"sgn-attack", "-pgd", "-steps", "2", "-eps", "0.2", "-model", model, "-data", data, "-o", filepath.Join(dir, "pgd-0.2.arrow")},
		{"sgn-attack", "-suite", "standard", "-eps", "1/10", "-steps", "2", "-targets", "2", "-queries", "10", "-model", model, "-data", data, "-o", filepath.Join(dir, "aa.arrow")},
	}
})

func scoreJSON(t *testing.T, stdin []byte, args ...string) clitest.ScoreReport {
	t.Helper()
	r := tools.MustRun(t, self, stdin, append([]string{"-json"}, args...)...)
	var rep clitest.ScoreReport
	if err := json.Unmarshal(r.Stdout, &rep); err != nil || strings.Count(string(r.Stdout), "\n") != 1 {
		t.Fatalf("-json printed %q: %v", r.Stdout, err)
	}
	return rep
}

func TestCleanAccuracy(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	rep := scoreJSON(t, nil, "-model", model, data)
	if rep.N != 64 || rep.Accuracy < 0 || rep.Accuracy > 1 || rep.CleanAccuracy == nil || *rep.CleanAccuracy != rep.Accuracy {
		t.Fatalf("score %+v, want n=64 and a clean accuracy in [0,1]", rep)
	}
	// The same examples on stdin score the same.
	if again := scoreJSON(t, clitest.ReadFile(t, data), "-model", model); again.N != 64 || again.Accuracy != rep.Accuracy {
		t.Errorf("from stdin: %+v, want %+v", again, rep)
	}
	text := tools.MustRun(t, self, nil, "-model", model, data)
	if !strings.Contains(string(text.Stdout), "examples") || !strings.Contains(string(text.Stdout), fmt.Sprintf("%.4f", rep.Accuracy)) {
		t.Errorf("text report %q, want the accuracy %.4f", text.Stdout, rep.Accuracy)
	}
	md := tools.MustRun(t, self, nil, "-md", "-model", model, data)
	if !strings.HasPrefix(string(md.Stdout), "| ") {
		t.Errorf("-md printed %q, want a Markdown table", md.Stdout)
	}
}

// robust returns, per example index, whether an attack stream's adversarial
// example is still classified right.
func robust(t *testing.T, path string) map[int64]bool {
	t.Helper()
	_, b, err := stream.ReadAll(bytes.NewReader(clitest.ReadFile(t, path)), 0)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := b.Column(stream.ColIndex)
	adv, _ := b.Column(stream.ColAdvPred)
	out := map[int64]bool{}
	for i := range b.Len() {
		out[idx.Int64[i]] = adv.Int64[i] == b.Labels[i]
	}
	return out
}

func TestAttackStreams(t *testing.T) {
	dir := fixture.Dir(t)
	fgsm0, fgsm1, pgd := filepath.Join(dir, "fgsm0.arrow"), filepath.Join(dir, "fgsm1.arrow"), filepath.Join(dir, "pgd.arrow")
	one := scoreJSON(t, nil, fgsm0)
	if one.N != 32 || len(one.Attacks) != 1 || one.Attacks[0].Attack != "fgsm" {
		t.Errorf("one shard: %+v, want fgsm on 32 examples", one)
	}
	// Shards are concatenated; attacks are merged per example, worst case.
	fgsmOK, pgdOK := robust(t, fgsm0), robust(t, pgd)
	for k, v := range robust(t, fgsm1) {
		fgsmOK[k] = v
	}
	var nF, nP, nBoth int
	for i := range int64(64) {
		nF += b2i(fgsmOK[i])
		nP += b2i(pgdOK[i])
		nBoth += b2i(fgsmOK[i] && pgdOK[i])
	}
	rep := scoreJSON(t, nil, fgsm0, pgd, fgsm1)
	if rep.N != 64 || len(rep.Attacks) != 2 {
		t.Fatalf("merged: %+v, want two attacks over 64 examples", rep)
	}
	for _, a := range rep.Attacks {
		want := map[string]int{"fgsm": nF, "pgd": nP}[a.Attack]
		if a.N != 64 || a.Accuracy != float64(want)/64 {
			t.Errorf("%s: %+v, want %d/64 from its adv_pred column", a.Attack, a, want)
		}
	}
	if rep.Accuracy != float64(nBoth)/64 || rep.CleanAccuracy == nil || rep.Accuracy > *rep.CleanAccuracy {
		t.Errorf("worst case %g, want %d/64 (and no more than the clean accuracy)", rep.Accuracy, nBoth)
	}
	// The same shard twice is refused: its examples would count twice.
	r := tools.Run(t, self, nil, fgsm0, fgsm0)
	clitest.AssertOneLineError(t, r, 1, "fgsm", "appears in two shards")
}

// Streams at two budgets give a worst case per eps, none across them; the
// suite counts at its eps with its members among the attacks.
func TestPerThreatModel(t *testing.T) {
	dir := fixture.Dir(t)
	pgd1, pgd2, aa := filepath.Join(dir, "pgd.arrow"), filepath.Join(dir, "pgd-0.2.arrow"), filepath.Join(dir, "aa.arrow")
	ok1, ok2, okAA := robust(t, pgd1), robust(t, pgd2), robust(t, aa)
	var n1, n2 int
	for i := range int64(64) {
		n1 += b2i(ok1[i] && okAA[i])
		n2 += b2i(ok2[i])
	}
	rep := scoreJSON(t, nil, pgd1, pgd2, aa)
	if rep.Accuracy != 0 || len(rep.Evaluations) != 2 {
		t.Fatalf("report %+v, want no overall accuracy and two evaluations", rep)
	}
	e1, e2 := rep.Evaluations[0], rep.Evaluations[1]
	if e1.Eps != 0.1 || e1.Robust != float64(n1)/64 || e2.Eps != 0.2 || e2.Robust != float64(n2)/64 {
		t.Errorf("evaluations %+v, want %d/64 at 0.1 and %d/64 at 0.2", rep.Evaluations, n1, n2)
	}
	if want := []string{"apgd-ce", "apgd-t", "fab-t", "square"}; !slices.Equal(e1.Attacks[1:], want) || !strings.HasPrefix(e1.Attacks[0], "pgd") {
		t.Errorf("attacks at 0.1: %v, want pgd and the suite's %v", e1.Attacks, want)
	}
	if lo, hi := e1.RobustCI95[0], e1.RobustCI95[1]; !(lo <= e1.Robust && e1.Robust <= hi && hi-lo < 0.5) {
		t.Errorf("interval [%g, %g] around %g", lo, hi, e1.Robust)
	}
	text := string(tools.MustRun(t, self, nil, pgd1, pgd2).Stdout)
	for _, want := range []string{"robust accuracy at linf eps=0.1 (worst case)", "robust accuracy at linf eps=0.2 (worst case)"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "robust accuracy (worst case)") {
		t.Errorf("text report gives a worst case across budgets:\n%s", text)
	}
	md := string(tools.MustRun(t, self, nil, "-md", aa).Stdout)
	if !strings.Contains(md, "| mnist (test) | L∞ | 0.1 |") || !strings.Contains(md, "apgd-ce, apgd-t, fab-t, square | 64 |") {
		t.Errorf("-md printed\n%s\nwant the row of the suite", md)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRefusedInputs(t *testing.T) {
	dir := fixture.Dir(t)
	data, model := filepath.Join(dir, "test.arrow"), filepath.Join(dir, "m.sgn")
	good, examples := clitest.ReadFile(t, model), clitest.ReadFile(t, data)
	in := t.TempDir()
	put := func(name string, content []byte) string { return clitest.WriteFile(t, in, name, content) }
	half := put("half.sgn", good[:len(good)/2])
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x80
	flippedPath := put("flipped.sgn", flipped)
	truncated := put("truncated.arrow", examples[:len(examples)/2])
	h, b := clitest.ReadStream(t, examples)
	shape := filepath.Join(in, "shape.arrow")
	clitest.WriteStream(t, shape, stream.Header{Shape: []int{3, 8, 8}, Elem: stream.Uint8, Metadata: h.Metadata},
		&stream.Batch{Pixels: make([]uint8, 2*3*8*8), Labels: []int64{0, 1}})
	labels := filepath.Join(in, "labels.arrow")
	clitest.WriteRelabelled(t, labels, h, b, 60, 11)
	nan := filepath.Join(in, "nan.arrow")
	clitest.WriteNaNPixel(t, nan, h, b, 2, 5)

	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "truncated checkpoint", Args: []string{"-model", half, data}, Code: 1, Want: []string{"half.sgn", "truncated"}},
		{Name: "flipped byte", Args: []string{"-model", flippedPath, data}, Code: 1, Want: []string{"flipped.sgn", "checksum"}},
		{Name: "not a checkpoint", Args: []string{"-model", data, data}, Code: 1, Want: []string{"test.arrow", "not an sgn checkpoint"}},
		{Name: "truncated stream", Args: []string{"-model", model, truncated}, Code: 1, Want: []string{"truncated.arrow", "truncated"}},
		{Name: "not a stream", Args: []string{"-model", model, model}, Code: 1, Want: []string{"m.sgn", "not an Arrow IPC stream"}},
		{Name: "plain stream without model", Args: []string{data}, Code: 1, Want: []string{"test.arrow", "needs -model"}},
		{Name: "shape", Args: []string{"-model", model, shape}, Code: 1, Want: []string{"shape.arrow", "[3 8 8]", "[1 28 28]"}},
		{Name: "label out of range", Args: []string{"-model", model, labels}, Code: 1, Want: []string{"labels.arrow", "example 60", "label 11"}},
		{Name: "NaN pixel", Args: []string{"-model", model, nan}, Code: 1, Want: []string{"nan.arrow", "example 2", "NaN"}},
		{Name: "missing file", Args: []string{"-model", model, filepath.Join(in, "nope.arrow")}, Code: 1, Want: []string{"nope.arrow"}},
		{Name: "unknown flag", Args: []string{"-bogus", data}, Code: 2, Want: []string{"-bogus"}},
		{Name: "json and md", Args: []string{"-json", "-md", "-model", model, data}, Code: 2, Want: []string{"-json", "-md"}},
		{Name: "batch 0", Args: []string{"-batch", "0", "-model", model, data}, Code: 2, Want: []string{"-batch 0"}},
	})
}

func TestHelp(t *testing.T) {
	clitest.AssertHelp(t, tools.Run(t, self, nil, "-h"), "-json")
	clitest.AssertVersion(t, tools.Run(t, self, nil, "-version"))
}

// TestTerminalStdin checks that the tool refuses to wait for its binary
// input from a terminal.
func TestTerminalStdin(t *testing.T) {
	clitest.AssertRefusesTerminal(t, self, run)
}
