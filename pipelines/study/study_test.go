package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sgn/shared/score"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		p      float64
		n      int
		lo, hi float64
	}{
		{0.5, 100, 0.4038, 0.5962}, // textbook values
		{0.9, 1000, 0.8798, 0.9171},
		{1, 10, 0.7225, 1},
		{0, 10, 0, 0.2775},
	} {
		lo, hi := wilson(tc.p, tc.n)
		if !near(lo, tc.lo, 1e-4) || !near(hi, tc.hi, 1e-4) {
			t.Errorf("wilson(%g, %d) = [%.4f, %.4f], want [%.4f, %.4f]", tc.p, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestMeanCI(t *testing.T) {
	// Reference quantiles from mpmath at 30 digits, inverting the
	// regularised incomplete beta function.
	const t2, t4, t2439 = 4.302652729749464, 2.776445105197794, 3.639411179516071
	m, h := meanCI([]float64{1, 2, 3})
	if m != 2 || !near(h, t2/math.Sqrt(3), 1e-9) {
		t.Errorf("meanCI(1,2,3) = %g ± %g, want 2 ± %g", m, h, t2/math.Sqrt(3))
	}
	if _, h := meanCI([]float64{5}); !math.IsNaN(h) {
		t.Errorf("one value: half-width %g, want NaN", h)
	}
	for _, tc := range []struct {
		name     string
		a, b     []float64
		diff, df float64
		t        float64
	}{
		// Equal variances and sizes give df = 2(n-1) = 4.
		{"equal variances", []float64{4, 5, 6}, []float64{1, 2, 3}, 3, 4, t4},
		// Variances 1 and 9 give df = 100/41, about 2.44: its quantile,
		// not df 2's.
		{"unequal variances", []float64{0, 1, 2}, []float64{0, 3, 6}, -2, 100.0 / 41, t2439},
	} {
		d, h := diffCI(tc.a, tc.b)
		se := math.Sqrt(variance(tc.a, mean(tc.a))/3 + variance(tc.b, mean(tc.b))/3)
		if d != tc.diff || !near(h, tc.t*se, 1e-9) {
			t.Errorf("%s: diffCI = %g ± %g, want %g ± %g (df %.3f)", tc.name, d, h, tc.diff, tc.t*se, tc.df)
		}
	}
}

func mean(xs []float64) float64 {
	m, _ := meanCI(xs)
	return m
}

func TestTimeToLevel(t *testing.T) {
	curve := []Point{
		{Step: 100, Epoch: 0.5, TrainSeconds: 10, Robust: 0.4},
		{Step: 200, Epoch: 1, TrainSeconds: 20, Robust: 0.8},
		{Step: 300, Epoch: 1.5, TrainSeconds: 30, Robust: 0.7},
	}
	for _, tc := range []struct {
		level, seconds, epochs float64
		ok                     bool
	}{
		{0.2, 5, 0.25, true}, // from the untrained model at (0, 0)
		{0.4, 10, 0.5, true},
		{0.6, 15, 0.75, true},
		{0.8, 20, 1, true},
		{0.81, 0, 0, false},
	} {
		s, e, ok := timeToLevel(curve, tc.level)
		if ok != tc.ok || !near(s, tc.seconds, 1e-9) || !near(e, tc.epochs, 1e-9) {
			t.Errorf("level %g: %g s, %g epochs, %v; want %g, %g, %v", tc.level, s, e, ok, tc.seconds, tc.epochs, tc.ok)
		}
	}
}

func TestTimeToStay(t *testing.T) {
	// Up, a dip below 70%, up again.
	curve := []Point{
		{Step: 100, Epoch: 0.5, TrainSeconds: 10, Robust: 0.5},
		{Step: 200, Epoch: 1, TrainSeconds: 20, Robust: 0.8},
		{Step: 300, Epoch: 1.5, TrainSeconds: 30, Robust: 0.6},
		{Step: 400, Epoch: 2, TrainSeconds: 40, Robust: 0.9},
	}
	for _, tc := range []struct {
		level, seconds, epochs float64
		ok                     bool
	}{
		{0.25, 5, 0.25, true}, // never below after the untrained model
		{0.5, 10, 0.5, true},
		{0.55, 35.0 / 3, 7.0 / 12, true}, // the dip stays above
		{0.7, 100.0 / 3, 5.0 / 3, true},  // after the dip, not at 16.7 s
		{0.9, 40, 2, true},
		{0.95, 0, 0, false},
	} {
		s, e, ok := timeToStay(curve, tc.level)
		if ok != tc.ok || !near(s, tc.seconds, 1e-9) || !near(e, tc.epochs, 1e-9) {
			t.Errorf("level %g: %g s, %g epochs, %v; want %g, %g, %v", tc.level, s, e, ok, tc.seconds, tc.epochs, tc.ok)
		}
		// Reaching a level for good is never before reaching it first.
		if fs, _, fok := timeToLevel(curve, tc.level); fok != tc.ok || fs > s && ok {
			t.Errorf("level %g: first reached at %g s (%v), for good at %g s", tc.level, fs, fok, s)
		}
	}
	// A curve that ends below the level never stays there.
	if _, _, ok := timeToStay(curve[:3], 0.7); ok {
		t.Errorf("a curve ending at 60%% stays at 70%%")
	}
}

// The committed study files parse, name only cells they define, and the
// real studies (not tiny, the Slurm test's) give every headline method at
// least three seeds.
func TestStudyFiles(t *testing.T) {
	files, err := filepath.Glob("../studies/*.tsv")
	if err != nil || len(files) < 3 {
		t.Fatalf("study files %v (%v), want mnist, fashion-mnist and cifar10", files, err)
	}
	for _, f := range files {
		rows, err := ReadStudy(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds := map[string]int{}
		for _, r := range rows {
			if r.Role == "headline" {
				seeds[r.Method]++
			}
		}
		if filepath.Base(f) == "tiny.tsv" {
			continue
		}
		for _, m := range []string{methodSGN, methodPGD, methodFGSM} {
			if seeds[m] < 3 {
				t.Errorf("%s: %s has %d headline seeds, want at least 3", f, m, seeds[m])
			}
		}
	}
}

func TestReadStudyRefuses(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"a\tmnist\tm\theadline\t1\t2\n", ":1: 6 columns"},
		{"a\tmnist\tm\theadline\t1\t0\t5\t-\t-adv none\n", "column 6"},
		{"a\tmnist\tm\tmain\t1\t1\t5\t-\t-adv none\n", "role \"main\""},
		{"a\tmnist\tm\theadline\t1\t1\t5\tb\t-adv none\n", "transfers from b"},
		{"# c\na\tmnist\tm\theadline\t1\t1\t5\t-\tx\na\tmnist\tm\theadline\t2\t1\t5\t-\tx\n", "3: cell a named twice"},
	} {
		path := filepath.Join(t.TempDir(), "s.tsv")
		if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadStudy(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one saying %q", tc.body, err, tc.want)
		}
	}
}

// synthetic writes a study of PGD-AT and SGN cells whose curves rise
// linearly to their final figures, PGD-AT's in pgdSeconds of training, the
// SGN's in sgnSeconds; sgnBest, unless NaN, is every SGN cell's best
// checkpoint under AutoAttack. It returns the study file and results
// directory.
func synthetic(t *testing.T, pgdFinal, sgnFinal []float64, pgdSeconds, sgnSeconds, sgnBest float64) (string, string) {
	t.Helper()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	if err := os.MkdirAll(filepath.Join(results, "cells"), 0o755); err != nil {
		t.Fatal(err)
	}
	var study strings.Builder
	study.WriteString("# Study synthetic: made by the test.\n")
	add := func(method string, seed int, final, seconds float64) {
		name := method + "-" + string(rune('0'+seed))
		study.WriteString(strings.Join([]string{name, "mnist", method, "headline", string(rune('0' + seed)), "4", "100", "-", "-adv x"}, "\t") + "\n")
		c := Cell{Row: Row{Cell: name, Method: method}, TrainSeconds: seconds, Machine: thisMachine()}
		for i := 1; i <= 4; i++ {
			c.Curve = append(c.Curve, Point{Step: 100 * i, Epoch: float64(i), TrainSeconds: seconds * float64(i) / 4, Eps: 0.3, N: 1000, Clean: 0.99, Robust: final * float64(i) / 4})
		}
		c.Final = Point{Step: 400, Epoch: 4, TrainSeconds: seconds, Eps: 0.3, N: 1000, Clean: 0.99, Robust: final - 0.01, Attacks: []Named{{Name: "apgd-ce", Accuracy: final}, {Name: "pgd-cw", Accuracy: final - 0.01}}}
		c.Sweep = []Point{{Eps: 0.4, N: 1000, Robust: 0.02}}
		if method == methodSGN && !math.IsNaN(sgnBest) {
			c.Best = &Point{Step: 400, Epoch: 4, Eps: 0.3, N: 250, Clean: 0.99, Robust: sgnBest}
		}
		f, err := os.Create(filepath.Join(results, "cells", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(f, c); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for i, v := range pgdFinal {
		add(methodPGD, i+1, v, pgdSeconds)
	}
	for i, v := range sgnFinal {
		add(methodSGN, i+1, v, sgnSeconds)
	}
	path := filepath.Join(dir, "synthetic.tsv")
	if err := os.WriteFile(path, []byte(study.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, results
}

func TestReportVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		pgd, sgn               []float64
		pgdSeconds, sgnSeconds float64
		sgnBest                float64 // NaN: no AutoAttack on the best checkpoint
		calib                  map[string]float64
		speed, gain            string
		says                   string // the report says this too
	}{
		{"sgn better and faster", []float64{0.80, 0.81, 0.82}, []float64{0.92, 0.93, 0.94}, 4000, 100, math.NaN(), nil, "confirmed", "confirmed", ""},
		{"sgn as good, slower", []float64{0.80, 0.81, 0.82}, []float64{0.80, 0.81, 0.82}, 4000, 1000, math.NaN(), nil, "refuted", "refuted", ""},
		{"sgn never gets there", []float64{0.90, 0.91, 0.92}, []float64{0.50, 0.51, 0.52}, 4000, 100, math.NaN(), nil, "refuted", "refuted", ""},
		{"sgn faster on the curve, holds under autoattack", []float64{0.80, 0.81, 0.82}, []float64{0.92, 0.93, 0.94}, 4000, 100, 0.90, nil, "confirmed", "confirmed", ""},
		{"sgn faster on the curve, masked under autoattack", []float64{0.80, 0.81, 0.82}, []float64{0.92, 0.93, 0.94}, 4000, 100, 0.02, nil, "refuted", "confirmed", ""},
		// The level is 79%; 78% on 250 images is within sampling error
		// of it (Wilson [72.5, 82.7]) and decides nothing.
		{"sgn faster on the curve, best within sampling error below the level", []float64{0.80, 0.81, 0.82}, []float64{0.92, 0.93, 0.94}, 4000, 100, 0.78, nil, "confirmed", "confirmed", ""},
		{"sgn faster on the curve, best below the level beyond sampling error", []float64{0.80, 0.81, 0.82}, []float64{0.92, 0.93, 0.94}, 4000, 100, 0.72, nil, "refuted", "confirmed", ""},
		// PGD-AT's mean final level is 83.7%, the level 81.7%, which its
		// first seed never reaches: the pairings are the others'.
		{"a pgd-at seed below the level", []float64{0.70, 0.90, 0.91}, []float64{0.92, 0.93, 0.94}, 4000, 100, math.NaN(), nil, "confirmed", "confirmed",
			"(1 of 3 PGD-AT seeds never reach it and are left out of the pairings)"},
		// 40× faster in wall time on the cells' machines, but at one
		// machine's cost per step the SGN's steps save only 2.3×: the
		// calibration decides.
		{"sgn faster only on a faster machine", []float64{0.80, 0.81, 0.82}, []float64{0.92, 0.93, 0.94}, 4000, 100, math.NaN(),
			map[string]float64{methodPGD: 100, methodSGN: 50}, "refuted", "confirmed", ""},
		{"sgn faster on one machine too", []float64{0.80, 0.81, 0.82}, []float64{0.92, 0.93, 0.94}, 4000, 100, math.NaN(),
			map[string]float64{methodPGD: 3000, methodSGN: 100}, "confirmed", "confirmed", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			study, results := synthetic(t, tc.pgd, tc.sgn, tc.pgdSeconds, tc.sgnSeconds, tc.sgnBest)
			if tc.calib != nil {
				writeCalibration(t, results, "calibration.json", "", tc.calib)
			}
			text := reportText(t, study, results)
			if want := "10× faster than PGD adversarial training: " + tc.speed + ".**"; !strings.Contains(text, want) {
				t.Errorf("report lacks %q:\n%s", want, text)
			}
			if want := "than PGD adversarial training: " + tc.gain + ".**"; !strings.Contains(text, want) {
				t.Errorf("report lacks %q", want)
			}
			if !strings.Contains(text, tc.says) {
				t.Errorf("report lacks %q:\n%s", tc.says, text)
			}
			// Every synthetic curve holds a quarter of its final accuracy
			// at its first checkpoint: the 10% and 20% levels are reached
			// there.
			if want := `| \*`; !strings.Contains(text, want) || !strings.Contains(text, "\\* Reached at a seed's first checkpoint") {
				t.Errorf("report does not mark levels reached at the first checkpoint")
			}
			// Every synthetic curve rises: reaching a level first is
			// reaching it for good.
			if strings.Contains(text, "Counted instead") {
				t.Errorf("report counts from the last crossing of rising curves")
			}
			if has := strings.Contains(text, "The same on one machine"); has != (tc.calib != nil) {
				t.Errorf("table on one machine present %v, want %v", has, tc.calib != nil)
			}
			if has := strings.Contains(text, "## Early stopping under AutoAttack"); has == math.IsNaN(tc.sgnBest) {
				t.Errorf("early-stopping section present %v, want %v", has, !math.IsNaN(tc.sgnBest))
			}
			for _, f := range []string{"convergence-time.png", "convergence-epochs.png", "eps.png"} {
				if _, err := os.Stat(filepath.Join(results, f)); err != nil || !strings.Contains(text, "("+f+")") {
					t.Errorf("figure %s: %v, or not in the report", f, err)
				}
			}
			// The figure on one machine's time needs the calibration.
			_, err := os.Stat(filepath.Join(results, "convergence-machine.png"))
			if drawn, cited := err == nil, strings.Contains(text, "(convergence-machine.png)"); drawn != (tc.calib != nil) || cited != drawn {
				t.Errorf("convergence-machine.png drawn %v, cited %v, want both %v", drawn, cited, tc.calib != nil)
			}
		})
	}
	// With no results at all, both claims are untested.
	study, results := synthetic(t, nil, nil, 0, 0, math.NaN())
	if err := writeReport(study, results); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(results, "report.md"))
	if strings.Count(string(md), ": not tested.**") != 2 {
		t.Errorf("empty study: report %s, want both claims not tested", md)
	}
}

func TestShortName(t *testing.T) {
	tests := []struct {
		a    score.AttackResult
		want string
	}{
		{score.AttackResult{Attack: "apgd", Params: map[string]string{"loss": "ce"}}, "apgd-ce"},
		{score.AttackResult{Attack: "pgd", Params: map[string]string{"loss": "cw", "surrogate": "tanh(s/0.005)"}}, "pgd-cw-smooth0.005"},
		{score.AttackResult{Attack: "pgd", Params: map[string]string{"loss": "ce", "sg_grad": "detached"}}, "pgd-ce-detached"},
		{score.AttackResult{Attack: "square", Params: map[string]string{"loss": "margin"}}, "square"},
		{score.AttackResult{Attack: "suite", Params: map[string]string{"suite": "standard"}}, "autoattack"},
		{score.AttackResult{Attack: "suite", Params: map[string]string{"suite": "sgn"}}, "suite-sgn"},
	}
	for _, tt := range tests {
		if got := shortName(tt.a); got != tt.want {
			t.Errorf("shortName(%s %v) = %q, want %q", tt.a.Attack, tt.a.Params, got, tt.want)
		}
	}
}

func TestBestCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		points map[string]float64 // point file id -> worst-case robust
		want   string
	}{
		{"peak inside", map[string]float64{"0000234": 0.5, "0001638": 0.68, "0002106": 0.6, "final": 0.44}, "model-step0001638.sgn"},
		{"final best", map[string]float64{"0000234": 0.5, "final": 0.9}, "model.sgn"},
		{"earliest of ties", map[string]float64{"0000468": 0.7, "0000234": 0.7, "final": 0.7}, "model-step0000234.sgn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for id, robust := range tc.points {
				step := 1 << 30 // the final model: after every numbered checkpoint
				if id != "final" {
					step = atoi(t, id)
				}
				f, err := os.Create(filepath.Join(dir, "point-"+id+".json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := writeJSON(f, Point{Step: step, Robust: robust}); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			got, err := BestCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, tc.want); got != want {
				t.Errorf("BestCheckpoint = %s, want %s", got, want)
			}
		})
	}
	if _, err := BestCheckpoint(t.TempDir()); err == nil {
		t.Error("a directory without points: no error")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// reportText writes the study's report and returns it.
func reportText(t *testing.T, study, results string) string {
	t.Helper()
	if err := writeReport(study, results); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(results, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(md)
}

// writeCalibration writes a calibration of the given costs per step as
// results/name.
func writeCalibration(t *testing.T, results, name, framework string, stepMS map[string]float64) {
	t.Helper()
	f, err := os.Create(filepath.Join(results, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeJSON(f, Calibration{Machine: thisMachine(), Framework: framework, Date: "2026-12-03T08:00:00Z", StepMS: stepMS}); err != nil {
		t.Fatal(err)
	}
}

// Where an SGN curve dips below the level after first reaching it, the
// report gives the speed-up counted from when each curve stays there too.
func TestReportStay(t *testing.T) {
	// Level 78%. PGD-AT reaches it at 3,900 s and stays; the SGN seeds at
	// 84.8 s, but seed 1 first at 47.2 s, at 85% before a dip to 69%.
	for _, tc := range []struct {
		name      string
		last      float64 // seed 1's final point under the curve's attacks
		says, not string
	}{
		{"back above", 0.92, "the SGN 1m24s (3.39 epochs): 46.0× in wall time (46.0–46.0×).", "never"},
		{"ends below", 0.75, "the SGN 1m24s (3.39 epochs), 1 seed never: 46.0× in wall time (46.0–46.0×).", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			study, results := synthetic(t, []float64{0.80, 0.80}, []float64{0.92, 0.92}, 4000, 100, math.NaN())
			path := filepath.Join(results, "cells", methodSGN+"-1.json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var c Cell
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			c.Curve[1].Robust, c.Curve[3].Robust = 0.85, tc.last
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := writeJSON(f, c); err != nil {
				t.Fatal(err)
			}
			f.Close()
			text := reportText(t, study, results)
			// The first crossings decide: 3,900 s against 47.2 and 84.8.
			if want := "59.1× faster in wall time (46.0–82.7×"; !strings.Contains(text, want) {
				t.Errorf("report lacks %q:\n%s", want, text)
			}
			if want := "Counted instead from when each curve stays at or above the level"; !strings.Contains(text, want) {
				t.Errorf("report lacks %q", want)
			}
			if !strings.Contains(text, tc.says) {
				t.Errorf("report lacks %q:\n%s", tc.says, text)
			}
		})
	}
}

// PyTorch's costs per step never decide the speed claim; beside sgn's on
// one machine, the report says whether they would decide it otherwise.
func TestReportPyTorchCalibration(t *testing.T) {
	// PGD-AT takes 3.9 epochs to the level, the SGN 3.39; sgn's costs, 30
	// to 1, give 34.5×, which confirms the claim; wall times give 46×.
	sgnCosts := map[string]float64{methodPGD: 3000, methodSGN: 100}
	for _, tc := range []struct {
		name          string
		calib         map[string]float64 // sgn's, or nil
		pytorch       map[string]float64
		says, saysNot string
	}{
		{"same verdict", sgnCosts, map[string]float64{methodPGD: 2000, methodSGN: 100}, "23.0× (23.0–23.0×), the same verdict.", "depends"},
		{"another verdict", sgnCosts, map[string]float64{methodPGD: 3000, methodSGN: 600}, "5.8× (5.8–5.8×), by which the claim would be refuted: the verdict depends on the implementation.", "the same verdict"},
		// Wall times on the cells' machines decide: PyTorch's costs on one
		// machine are no test of the implementation against them.
		{"no sgn calibration", nil, map[string]float64{methodPGD: 3000, methodSGN: 600}, "STUDY=synthetic`): 5.8× (5.8–5.8×).", "depends"},
		{"no sgn step", sgnCosts, map[string]float64{methodPGD: 3000}, "", "At PyTorch's cost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			study, results := synthetic(t, []float64{0.80, 0.80}, []float64{0.92, 0.92}, 4000, 100, math.NaN())
			if tc.calib != nil {
				writeCalibration(t, results, "calibration.json", "", tc.calib)
			}
			writeCalibration(t, results, "calibration-pytorch.json", "PyTorch 9.9, 2 threads", tc.pytorch)
			text := reportText(t, study, results)
			if want := "10× faster than PGD adversarial training: confirmed.**"; !strings.Contains(text, want) {
				t.Errorf("report lacks %q", want)
			}
			if !strings.Contains(text, tc.says) || strings.Contains(text, tc.saysNot) {
				t.Errorf("report says %q %v, %q %v, want true, false:\n%s", tc.says, strings.Contains(text, tc.says), tc.saysNot, strings.Contains(text, tc.saysNot), text)
			}
			if want := fmt.Sprintf("cores, PyTorch 9.9, 2 threads, measured 2026-12-03: %.0f ms per PGD-AT step", tc.pytorch[methodPGD]); tc.says != "" && !strings.Contains(text, want) {
				t.Errorf("the report does not name PyTorch's calibration")
			}
			// The table on one machine sets PyTorch's cost beside sgn's.
			if want := fmt.Sprintf("| %s | %.0f | %.0f |", methodPGD, tc.calib[methodPGD], tc.pytorch[methodPGD]); tc.calib != nil && !strings.Contains(text, want) {
				t.Errorf("report lacks the row %q", want)
			}
			if want := fmt.Sprintf("| %s | %.0f | – |", methodSGN, tc.calib[methodSGN]); tc.calib != nil && strings.Contains(text, want) != (tc.pytorch[methodSGN] == 0) {
				t.Errorf("a method PyTorch did not time shows %q: %v, want %v", want, strings.Contains(text, want), tc.pytorch[methodSGN] == 0)
			}
		})
	}
	// Swapped files: PyTorch's costs in calibration.json, or sgn's in
	// calibration-pytorch.json.
	for _, swap := range [][2]string{{"calibration.json", "PyTorch 9.9"}, {"calibration-pytorch.json", ""}} {
		study, results := synthetic(t, []float64{0.80, 0.80}, []float64{0.92, 0.92}, 4000, 100, math.NaN())
		writeCalibration(t, results, swap[0], swap[1], sgnCosts)
		if err := writeReport(study, results); err == nil || !strings.Contains(err.Error(), swap[0]) {
			t.Errorf("%s timed by %q: error %v, want one naming the file", swap[0], swap[1], err)
		}
	}
}

func TestMakeCalibration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.jsonl", `{"epoch":1,"step":20,"step_ms":900}`+"\n"+`{"epoch":2,"step":40,"step_ms":250.5}`+"\n")
	for _, tc := range []struct {
		name  string
		pairs []string
		want  map[string]float64 // nil: an error
	}{
		{"last epoch", []string{"pgd-at=" + good}, map[string]float64{"pgd-at": 250.5}},
		{"two methods", []string{"a=" + good, "b=" + write("b.jsonl", `{"step_ms":60}`)}, map[string]float64{"a": 250.5, "b": 60}},
		{"no method", []string{"=" + good}, nil},
		{"no log", []string{"pgd-at"}, nil},
		{"missing log", []string{"pgd-at=" + filepath.Join(dir, "none.jsonl")}, nil},
		{"empty log", []string{"pgd-at=" + write("empty.jsonl", "")}, nil},
		{"no step_ms", []string{"pgd-at=" + write("nostep.jsonl", `{"epoch":1}`)}, nil},
		{"last without step_ms", []string{"pgd-at=" + write("laststep.jsonl", `{"step_ms":5}`+"\n"+`{"epoch":2}`)}, nil},
		{"zero", []string{"pgd-at=" + write("zero.jsonl", `{"step_ms":0}`)}, nil},
		{"truncated", []string{"pgd-at=" + write("trunc.jsonl", `{"step_ms":5}`+"\n"+`{"step_`)}, nil},
		{"one framework", []string{"a=" + write("ta.jsonl", `{"step_ms":70,"framework":"PyTorch 1.13"}`), "b=" + write("tb.jsonl", `{"step_ms":9,"framework":"PyTorch 1.13"}`)},
			map[string]float64{"a": 70, "b": 9}},
		{"two frameworks", []string{"a=" + write("tc.jsonl", `{"step_ms":70,"framework":"PyTorch 1.13"}`), "b=" + good}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := makeCalibration(tc.pairs)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("got %v, want an error", c.StepMS)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(c.StepMS, tc.want) {
				t.Errorf("step_ms %v, want %v", c.StepMS, tc.want)
			}
			// A framework's timing names it and not sgn's toolchain.
			if pytorch := strings.HasPrefix(tc.name, "one framework"); pytorch != (c.Framework == "PyTorch 1.13") || pytorch == (c.Machine.Go != "") {
				t.Errorf("framework %q, machine %+v", c.Framework, c.Machine)
			}
		})
	}
}

func TestLeftToRun(t *testing.T) {
	cell := func(name string, train float64, evals ...float64) Cell {
		c := Cell{Row: Row{Cell: name, Method: methodPGD}, TrainSeconds: train}
		c.Final.EvalSeconds = evals[0]
		for _, e := range evals[1:] {
			c.Curve = append(c.Curve, Point{EvalSeconds: e})
		}
		c.Best = &Point{EvalSeconds: 100}
		return c
	}
	rows := []Row{{Cell: "pgd-at-1", Method: methodPGD}, {Cell: "pgd-at-2", Method: methodPGD}, {Cell: "pgd-at-3", Method: methodPGD},
		{Cell: "trades-1", Method: "trades", Role: "baseline"}, {Cell: "sgn-1", Method: methodSGN},
		{Cell: "sgn-a-1", Method: "sgn-a", Role: "ablation"}, {Cell: "sgn-b-1", Method: "sgn-b", Role: "ablation"}}
	// pgd-at-1 took 1000+500+100+100 s, pgd-at-2 3000+700+200+100 s: a
	// third seed costs their mean, 2850 s.
	done := &group{method: methodPGD, cells: []Cell{cell("pgd-at-1", 1000, 500, 100), cell("pgd-at-2", 3000, 700, 200)}}
	// sgn-a-1 took 300+200+100 s: an ablation without a finished cell of
	// its own reading costs as much.
	ablation := &group{method: "sgn-a", role: "ablation", cells: []Cell{cell("sgn-a-1", 300, 200)}}
	for _, tc := range []struct {
		missing []string
		groups  []*group
		want    string
	}{
		{[]string{"pgd-at-3"}, []*group{done}, " At the cost of the finished cells of their method (the mean, training and evaluation, on the machines below), 1 cell left comes to about 47m30s."},
		{[]string{"pgd-at-3", "trades-1", "sgn-1"}, []*group{done}, " At the cost of the finished cells of their method (the mean, training and evaluation, on the machines below), 1 cell left comes to about 47m30s. 2 cells (trades-1, sgn-1) have no finished cell of their method to go by."},
		{[]string{"trades-1"}, []*group{done}, " 1 cell (trades-1) has no finished cell of their method to go by."},
		{[]string{"sgn-b-1"}, []*group{done}, " 1 cell (sgn-b-1) has no finished cell of their method to go by."},
		{[]string{"pgd-at-3", "sgn-b-1", "trades-1"}, []*group{done, ablation}, " At the cost of the finished cells of their method (for 1 ablation, those of the other ablations; the mean, training and evaluation, on the machines below), 2 cells left come to about 57m30s. 1 cell (trades-1) has no finished cell of their method to go by."},
	} {
		r := &studyReport{rows: rows, missing: tc.missing, groups: tc.groups}
		if got := r.leftToRun(); got != tc.want {
			t.Errorf("missing %v:\n got %q\nwant %q", tc.missing, got, tc.want)
		}
	}
}

// TestTQuantile checks the 97.5% quantiles, for whole and fractional
// degrees of freedom, against Student's t distribution function integrated
// numerically.
func TestTQuantile(t *testing.T) {
	cdf := func(q, v float64) float64 {
		lg1, _ := math.Lgamma((v + 1) / 2)
		lg2, _ := math.Lgamma(v / 2)
		c := math.Exp(lg1-lg2) / math.Sqrt(v*math.Pi)
		pdf := func(x float64) float64 { return c * math.Pow(1+x*x/v, -(v+1)/2) }
		// Simpson's rule on [0, q]: the density is smooth there.
		const n = 2000
		h := q / n
		sum := pdf(0) + pdf(q)
		for i := 1; i < n; i++ {
			w := 2.0
			if i%2 == 1 {
				w = 4
			}
			sum += w * pdf(float64(i)*h)
		}
		return 0.5 + sum*h/3
	}
	prev := math.Inf(1)
	for df := 1.0; df <= 200; df += 0.25 {
		q := tQuantile975(df)
		if p := cdf(q, df); math.Abs(p-0.975) > 1e-5 {
			t.Errorf("df %g: quantile %.5f has probability %.7f below it, want 0.975", df, q, p)
		}
		if q >= prev || q <= z975 {
			t.Errorf("df %g: quantile %.5f not between the normal's and df %g's %.5f", df, q, df-0.25, prev)
		}
		prev = q
	}
}

func TestSpeedLevel(t *testing.T) {
	for _, tc := range []struct {
		finals []float64
		want   float64
	}{
		{[]float64{0.736}, 0.716},
		{[]float64{0.60}, 0.58}, // (0.60-0.02)*100 is 57.99999...
		{[]float64{0.80, 0.81, 0.82}, 0.79},
		{[]float64{0.8925, 0.8930}, 0.873}, // a tenth of a point, rounded
	} {
		g := &group{method: methodPGD}
		for _, f := range tc.finals {
			g.cells = append(g.cells, Cell{Curve: []Point{{Step: 1, Robust: f / 2}, {Step: 2, Robust: f}}})
		}
		r := &studyReport{groups: []*group{g}}
		if got, ok := r.speedLevel(); !ok || got != tc.want {
			t.Errorf("finals %v: level %v (%v), want %v", tc.finals, got, ok, tc.want)
		}
	}
	// A PGD-AT cell without a curve has no level to give.
	r := &studyReport{groups: []*group{{method: methodPGD, cells: []Cell{{}}}}}
	if _, ok := r.speedLevel(); ok {
		t.Error("a PGD-AT cell without a curve gave a level")
	}
}

func TestClosestFlags(t *testing.T) {
	cell := func(name, role, flags string) Cell {
		return Cell{Row: Row{Cell: name, Role: role, Flags: flags}}
	}
	headline := cell("sgn-1", "headline", "-adv fgsm -eps-warmup 1 -sgn -sg-taps input -sg-gate -0.06")
	l2 := cell("sgn-phi-l2-1", "ablation", "-adv fgsm -eps-warmup 1 -sgn -sg-taps input -sg-gate -0.5 -sg-phi l2")
	refs := []Cell{
		headline,
		cell("sgn-taps-conv1-1", "ablation", "-adv fgsm -eps-warmup 1 -sgn -sg-taps conv1 -sg-gate -0.06"),
		l2,
	}
	for _, tc := range []struct {
		flags, against, change string
	}{
		{"-adv fgsm -eps-warmup 1 -sgn -sg-taps input -sg-gate learned", "sgn-1", "`-sg-gate learned`"},
		// The same flags in another order change nothing.
		{"-sgn -sg-gate -0.5 -sg-phi l2 -adv fgsm -eps-warmup 1 -sg-taps input", "sgn-phi-l2-1", "none"},
		// Read against its parent ablation, one flag away, not the headline, three away.
		{"-adv fgsm -eps-warmup 1 -sgn -sg-taps input -sg-gate -0.5 -sg-phi l2 -sg-grad detached", "sgn-phi-l2-1", "`-sg-grad detached`"},
		// A dropped flag is named.
		{"-adv none -sgn -sg-taps input -sg-gate -0.06", "sgn-1", "`-adv none`, no `-eps-warmup`"},
		// One flag from sgn-1 and from sgn-taps-conv1-1: ties go to the first.
		{"-adv fgsm -eps-warmup 1 -sgn -sg-taps input,conv1 -sg-gate -0.06", "sgn-1", "`-sg-taps input,conv1`"},
	} {
		ref, changed, dropped, err := closestFlags(cell("x", "ablation", tc.flags), refs)
		if got := describeChange(changed, dropped); err != nil || ref.Row.Cell != tc.against || got != tc.change {
			t.Errorf("closestFlags(%q) = %s, %q; want %s, %q", tc.flags, ref.Row.Cell, got, tc.against, tc.change)
		}
	}
}

func TestParseFlags(t *testing.T) {
	// Read as sgn-train reads them: negative numbers are values, -name=value
	// is a form of -name value, and a boolean set true shows no value.
	got, err := parseFlags("-sg-gate -0.06 -sgn -eps-warmup=1 -sg-taps input,conv1")
	want := rowFlags{{"-eps-warmup", "1"}, {"-sg-gate", "-0.06"}, {"-sg-taps", "input,conv1"}, {"-sgn", ""}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseFlags = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"-sg-gaet -0.06", "-epochs five", "-sgn stray"} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted flags sgn-train refuses", bad)
		}
	}
}

func TestAblationTableReference(t *testing.T) {
	cell := func(name, method, role, flags string, robust float64) *group {
		c := Cell{Row: Row{Cell: name, Method: method, Role: role, Seed: 1, Flags: flags}, Final: Point{Robust: robust, N: 1000}}
		return &group{method: method, role: role, cells: []Cell{c}}
	}
	r := &studyReport{groups: []*group{
		cell("sgn-1", methodSGN, "headline", "-sgn -sg-gate -0.06", 0.681),
		cell("sgn-phi-l2-1", "sgn-phi-l2", "ablation", "-sgn -sg-gate -0.5 -sg-phi l2", 0.628),
		cell("sgn-phi-l2-detached-1", "sgn-phi-l2-detached", "ablation", "-sgn -sg-gate -0.5 -sg-phi l2 -sg-grad detached", 0.642),
	}}
	var b strings.Builder
	r.roleTable(&b, "ablation", "Ablations", "")
	for _, want := range []string{
		// The parent is read against the headline, not against its own
		// ablation listed below it, one flag closer.
		"| sgn-1 | `-sg-gate -0.5`, `-sg-phi l2` | -5.3 |",
		"| sgn-phi-l2-1 | `-sg-grad detached` | +1.4 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("ablation table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestEnsembleGap(t *testing.T) {
	at := func(pairs ...any) []Named {
		var ns []Named
		for i := 0; i < len(pairs); i += 2 {
			ns = append(ns, Named{Name: pairs[i].(string), Accuracy: pairs[i+1].(float64)})
		}
		return ns
	}
	for _, tc := range []struct {
		name     string
		p        Point
		gap      float64
		best     string
		recorded bool
	}{
		{"no attacks", Point{Robust: 0.5}, 0, "", false},
		{"one attack", Point{Robust: 0.4, Attacks: at("apgd-ce", 0.4)}, 0, "apgd-ce", true},
		{"attacks break different examples", Point{Robust: 0.055, Attacks: at("apgd-ce", 0.146, "square", 0.18, "pgd-cw", 0.235)}, 0.091, "apgd-ce", true},
		{"strongest listed last", Point{Robust: 0.19, Attacks: at("apgd-ce", 0.446, "square", 0.221)}, 0.031, "square", true},
	} {
		gap, best, ok := ensembleGap(tc.p)
		if ok != tc.recorded || best != tc.best || math.Abs(gap-tc.gap) > 1e-12 {
			t.Errorf("%s: ensembleGap = %.3f, %q, %v; want %.3f, %q, %v", tc.name, gap, best, ok, tc.gap, tc.best, tc.recorded)
		}
	}
}
