package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgn/shared/classifier"
	"sgn/shared/model"
)

// pointOf is the point of per-example results: correct[a][i] says whether
// example i survived attack a; robust is the worst case over the attacks.
func pointOf(clean []bool, correct [][]bool) Point {
	frac := func(xs []bool) float64 {
		n := 0
		for _, x := range xs {
			if x {
				n++
			}
		}
		return float64(n) / float64(len(xs))
	}
	p := Point{Step: 700, Eps: 0.3, N: len(clean), Clean: frac(clean), Weights: "ab12", EvalSeconds: 1}
	worst := make([]bool, len(clean))
	copy(worst, clean)
	for a, c := range correct {
		p.Attacks = append(p.Attacks, Named{Name: fmt.Sprint("attack", a), Label: fmt.Sprint("label", a), Accuracy: frac(c)})
		for i := range worst {
			worst[i] = worst[i] && c[i]
		}
	}
	p.Robust = frac(worst)
	return p
}

// TestMergePoints checks merged shards against the point computed on all
// examples at once, for shards of unequal sizes.
func TestMergePoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, attacks = 1000, 3
	clean := make([]bool, n)
	correct := make([][]bool, attacks)
	for i := range clean {
		clean[i] = rng.Float64() < 0.95
	}
	for a := range correct {
		correct[a] = make([]bool, n)
		for i := range n {
			correct[a][i] = clean[i] && rng.Float64() < 0.6+0.1*float64(a)
		}
	}
	want := pointOf(clean, correct)
	for _, cuts := range [][]int{{0, 1000}, {0, 250, 500, 750, 1000}, {0, 1, 333, 999, 1000}} {
		var shards []Point
		for k := 1; k < len(cuts); k++ {
			part := make([][]bool, attacks)
			for a := range part {
				part[a] = correct[a][cuts[k-1]:cuts[k]]
			}
			shards = append(shards, pointOf(clean[cuts[k-1]:cuts[k]], part))
		}
		shards[0].Machines = []Machine{{CPU: "A", Cores: 2}}
		for k := 1; k < len(shards); k++ {
			shards[k].Machines = []Machine{{CPU: "B", Cores: 2}}
		}
		got, err := mergePoints(shards)
		if err != nil {
			t.Fatalf("cuts %v: %v", cuts, err)
		}
		if wantMachines := min(len(shards), 2); len(got.Machines) != wantMachines {
			t.Errorf("cuts %v: machines %v, want each of the shards' once", cuts, got.Machines)
		}
		if got.N != n || got.Clean != want.Clean || got.Robust != want.Robust || got.EvalSeconds != float64(len(shards)) {
			t.Errorf("cuts %v: n %d clean %g robust %g eval %g s, want %d %g %g %d s", cuts, got.N, got.Clean, got.Robust, got.EvalSeconds, n, want.Clean, want.Robust, len(shards))
		}
		for a := range attacks {
			if got.Attacks[a] != want.Attacks[a] {
				t.Errorf("cuts %v: attack %d = %+v, want %+v", cuts, a, got.Attacks[a], want.Attacks[a])
			}
		}
	}
}

func TestMergePointsRefuses(t *testing.T) {
	base := func() Point {
		return Point{Step: 7, Eps: 0.3, N: 10, Weights: "ab", TransferWeights: "cd", Attacks: []Named{{Name: "apgd-ce", Label: "APGD-CE"}}}
	}
	for _, tc := range []struct {
		edit func(*Point)
		want string
	}{
		{func(p *Point) { p.Weights = "cd" }, "other weights"},
		{func(p *Point) { p.TransferWeights = "ef" }, "transfer attack crafted on other weights"},
		{func(p *Point) { p.Step = 8 }, "step 8"},
		{func(p *Point) { p.Eps = 0.1 }, "eps 0.1"},
		{func(p *Point) { p.Attacks = nil }, "0 attacks"},
		{func(p *Point) { p.Attacks[0].Label = "FGSM" }, "is FGSM, not APGD-CE"},
	} {
		other := base()
		tc.edit(&other)
		if _, err := mergePoints([]Point{base(), other}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one saying %q", err, tc.want)
		}
	}
	if _, err := mergePoints(nil); err == nil {
		t.Error("merged no points")
	}
	// A shard from before transfer models were recorded merges with
	// those that name one, and the merged point names it.
	old := base()
	old.TransferWeights = ""
	if m, err := mergePoints([]Point{old, base()}); err != nil || m.TransferWeights != "cd" {
		t.Errorf("merging an unrecorded and a recorded transfer model: %v, transfer %q, want cd", err, m.TransferWeights)
	}
}

func TestOnlyAttack(t *testing.T) {
	p := Point{N: 10, Clean: 0.9, Robust: 0.2, EvalSeconds: 50, Attacks: []Named{
		{Name: "autoattack", Accuracy: 0.3}, {Name: "square", Accuracy: 0.6},
	}}
	got, err := onlyAttack(p, "autoattack")
	if err != nil {
		t.Fatal(err)
	}
	if got.Robust != 0.3 || len(got.Attacks) != 1 || got.Attacks[0].Name != "autoattack" || got.Clean != 0.9 || got.EvalSeconds != 0 {
		t.Errorf("only autoattack = %+v, want robust 0.3 from the suite alone, clean 0.9, no evaluation time", got)
	}
	if _, err := onlyAttack(p, "fab"); err == nil {
		t.Error("took an attack the point does not have")
	}
}

// TestSameWeights saves one network twice with different training records
// (as a retraining bit for bit would: only its wall time differs), and once
// with one weight changed by one ulp.
func TestSameWeights(t *testing.T) {
	dir := t.TempDir()
	net, err := model.New(model.Config{Arch: "mlp", InShape: []int{1, 28, 28}, Classes: 10, Mean: []float32{0.1307}, Std: []float32{0.3081}}, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	save := func(name, train string) string {
		path := filepath.Join(dir, name)
		cls := &classifier.Classifier{Net: net, Train: json.RawMessage(train)}
		if err := cls.Save(path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	first := save("first.sgn", `{"progress":{"step":42,"seconds":10.5}}`)
	again := save("again.sgn", `{"progress":{"step":42,"seconds":11.25}}`)
	w := net.Params[0].Data
	w[0] = math.Nextafter32(w[0], 2)
	other := save("other.sgn", `{"progress":{"step":42,"seconds":10.5}}`)

	cls, err := classifier.LoadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := weightsSum(cls)
	if err != nil {
		t.Fatal(err)
	}
	point := filepath.Join(dir, "point.json")
	if err := os.WriteFile(point, []byte(`{"step":42,"weights_sha256":"`+sum+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A final shard whose transfer attack crafted on first's weights.
	transferred := filepath.Join(dir, "transferred.json")
	if err := os.WriteFile(transferred, []byte(`{"step":42,"weights_sha256":"`+sum+`","transfer_weights_sha256":"`+sum+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	unsigned := filepath.Join(dir, "unsigned.json")
	if err := os.WriteFile(unsigned, []byte(`{"step":42}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model, point, transfer string
		want                   bool
	}{
		{first, point, "", true},
		{again, point, "", true},
		{other, point, "", false},
		{first, unsigned, "", false}, // a point from before weights were recorded
		{first, transferred, again, true},
		{first, transferred, other, false}, // the transfer model changed
		{other, transferred, first, false}, // the model changed
		{first, point, other, true},        // from before transfer models were recorded
		{first, transferred, "", true},     // no transfer model to check
	} {
		got, err := sameWeights(tc.model, tc.point, tc.transfer)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("sameWeights(%s, %s, %q) = %v, want %v", filepath.Base(tc.model), filepath.Base(tc.point), filepath.Base(tc.transfer), got, tc.want)
		}
	}
	if _, err := sameWeights(filepath.Join(dir, "missing.sgn"), point, ""); err == nil {
		t.Error("no error for a missing checkpoint")
	}
	if _, err := sameWeights(first, transferred, filepath.Join(dir, "missing.sgn")); err == nil {
		t.Error("no error for a missing transfer model")
	}
}

// TestReportCost checks that the study's cost counts every evaluation,
// the best checkpoint's too, and names the machines of carried units.
func TestReportCost(t *testing.T) {
	study, results := synthetic(t, []float64{0.8}, []float64{0.9}, 4000, 100, 0.5)
	path := filepath.Join(results, "cells", methodSGN+"-1.json")
	var c Cell
	if err := readJSON(path, &c); err != nil {
		t.Fatal(err)
	}
	c.Final.EvalSeconds = 60
	c.Final.Machines = []Machine{{CPU: "Other CPU", Cores: 2, Go: "go1.26", Kernels: "AVX2 6x16"}}
	c.Best.EvalSeconds = 600
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(f, c); err != nil {
		t.Fatal(err)
	}
	f.Close()
	md := reportText(t, study, results)
	for _, want := range []string{" 11m0s of evaluation", "Other CPU, 2 cores, go1.26, AVX2 6x16 kernels", thisMachine().String()} {
		if !strings.Contains(md, want) {
			t.Errorf("the report's cost section lacks %q", want)
		}
	}
}

// TestMakeCellRefusesOtherWeights: a cell's final evaluation and sweep must
// have been measured on its final model's weights.
func TestMakeCellRefusesOtherWeights(t *testing.T) {
	dir := t.TempDir()
	net, err := model.New(model.Config{Arch: "mlp", InShape: []int{1, 28, 28}, Classes: 10, Mean: []float32{0.1307}, Std: []float32{0.3081}}, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	cls := &classifier.Classifier{Net: net, Train: json.RawMessage(`{"config":{"epochs":1},"progress":{"epoch":1,"step":10,"seconds":3,"done":true}}`)}
	if err := cls.Save(filepath.Join(dir, "model.sgn")); err != nil {
		t.Fatal(err)
	}
	sum, err := weightsSum(cls)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, weights string) {
		t.Helper()
		b := []byte(`{"step":10,"eps":0.3,"n":10,"weights_sha256":"` + weights + `"}`)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "log.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	row := Row{Cell: "c-1", Method: "c", Role: "headline", Seed: 1, Epochs: 1, Every: 5}
	for _, tc := range []struct {
		final, sweep string
		want         string
	}{
		{sum, sum, ""},
		{"", "", ""}, // units from before weights were recorded
		{"0bad", sum, "final.json: measured on other weights"},
		{sum, "0bad", "sweep-0.4.json: measured on other weights"},
	} {
		write("point-final.json", sum)
		write("final.json", tc.final)
		write("sweep-0.4.json", tc.sweep)
		c, err := makeCell("s", row, dir)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("final %q, sweep %q: %v", tc.final, tc.sweep, err)
		case tc.want == "" && c.Weights != sum:
			t.Errorf("cell weights %q, want %q", c.Weights, sum)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("final %q, sweep %q: error %v, want one saying %q", tc.final, tc.sweep, err, tc.want)
		}
	}
}

// TestMakePointRefusesOtherCheckpoint checks that a point is made only
// from streams of the checkpoint it names: streams kept from an earlier
// training at the same path must not pass for the new one's.
func TestMakePointRefusesOtherCheckpoint(t *testing.T) {
	dir := t.TempDir()
	net, err := model.New(model.Config{Arch: "mlp", InShape: []int{1, 28, 28}, Classes: 10, Mean: []float32{0.1307}, Std: []float32{0.3081}}, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.sgn")
	cls := &classifier.Classifier{Net: net, Train: json.RawMessage(`{"config":{"batch":10},"examples":100,"progress":{"epoch":1,"batch":5,"step":15,"seconds":3}}`)}
	if err := cls.Save(path); err != nil {
		t.Fatal(err)
	}
	sum, err := fileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, checkpoint string
		wantErr          bool
	}{
		{"same checkpoint", sum, false},
		{"no checkpoint recorded", "", false},
		{"earlier checkpoint", strings.Repeat("0", 64), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scorePath := filepath.Join(t.TempDir(), "score.json")
			js := fmt.Sprintf(`{"n":10,"clean_accuracy":0.9,"checkpoint_sha256":%q,"by_eps":[{"eps":"0.3","n":10,"accuracy":0.4}],"attacks":[{"attack":"apgd","eps":"0.3","params":{"loss":"ce"},"n":10,"accuracy":0.5}]}`, tc.checkpoint)
			if err := os.WriteFile(scorePath, []byte(js), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := makePoint(path, scorePath, 12)
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), "attacked checkpoint 000000000000")):
				t.Errorf("error %v, want one naming the streams' checkpoint", err)
			case !tc.wantErr && err != nil:
				t.Errorf("unexpected error: %v", err)
			case !tc.wantErr && (p.Step != 15 || p.Epoch != 1.5 || p.Robust != 0.4 || p.N != 10 || len(p.Attacks) != 1):
				t.Errorf("point %+v, want step 15, epoch 1.5, robust 0.4 on 10 with one attack", p)
			}
		})
	}
}
