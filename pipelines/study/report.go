package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sgn/shared/plot"
	"sgn/shared/train"
)

// The methods the claims are about: the SGN headline reading, the
// state-of-the-art baseline it is measured against, and the one-step
// adversarial training it builds on.
const (
	methodSGN  = "sgn"
	methodPGD  = "pgd-at"
	methodFGSM = "fgsm-rs"
)

// Decision thresholds of the verdict.
const (
	speedClaim  = 10.0          // "at least 10x faster"
	levelMargin = 0.02          // the speed level: PGD-AT's final curve accuracy less this
	gainClaim   = 0.10          // "about 10 points more"
	gainFloor   = gainClaim / 2 // a gain whose interval lies below half the claim refutes "about 10"
)

// group is the cells of one method, in seed order.
type group struct {
	method string
	role   string
	cells  []Cell
}

func (g *group) finals(pick func(Point) float64) []float64 {
	var xs []float64
	for _, c := range g.cells {
		xs = append(xs, pick(c.Final))
	}
	return xs
}

// studyReport is everything the report says, computed from the cells.
type studyReport struct {
	name, about string
	rows        []Row
	groups      []*group     // in the study file's order of first appearance
	missing     []string     // cells of the study without a result yet
	notes       string       // the study's notes file (STUDY.notes.md beside it), verbatim
	calib       *Calibration // the methods' cost per step on one machine, or nil
	pytorch     *Calibration // the same in PyTorch (calibration-pytorch.json), or nil
}

func (r *studyReport) group(method string) *group {
	for _, g := range r.groups {
		if g.method == method {
			return g
		}
	}
	return nil
}

func loadReport(studyPath, results string) (*studyReport, error) {
	rows, err := ReadStudy(studyPath)
	if err != nil {
		return nil, err
	}
	r := &studyReport{name: studyName(studyPath), rows: rows, about: studyAbout(studyPath)}
	notes, err := os.ReadFile(strings.TrimSuffix(studyPath, filepath.Ext(studyPath)) + ".notes.md")
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	r.notes = string(notes)
	if r.calib, err = readCalibration(filepath.Join(results, "calibration.json")); err != nil {
		return nil, err
	}
	if r.pytorch, err = readCalibration(filepath.Join(results, "calibration-pytorch.json")); err != nil {
		return nil, err
	}
	// Swapped files would have PyTorch decide and present sgn's costs as
	// PyTorch's.
	if r.calib != nil && r.calib.Framework != "" {
		return nil, fmt.Errorf("%s: timed in %s, not by sgn-train: it belongs in calibration-pytorch.json", filepath.Join(results, "calibration.json"), r.calib.Framework)
	}
	if r.pytorch != nil && r.pytorch.Framework == "" {
		return nil, fmt.Errorf("%s: names no framework: sgn-train's costs belong in calibration.json", filepath.Join(results, "calibration-pytorch.json"))
	}
	for _, row := range rows {
		var c Cell
		err := readJSON(filepath.Join(results, "cells", row.Cell+".json"), &c)
		if os.IsNotExist(err) {
			r.missing = append(r.missing, row.Cell)
			continue
		}
		if err != nil {
			return nil, err
		}
		c.Row = row // the study file is the authority on roles and names
		g := r.group(row.Method)
		if g == nil {
			g = &group{method: row.Method, role: row.Role}
			r.groups = append(r.groups, g)
		}
		g.cells = append(g.cells, c)
	}
	return r, nil
}

// studyAbout is the study file's first comment paragraph, without "#".
func studyAbout(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		t := sc.Text()
		if !strings.HasPrefix(t, "#") || strings.HasPrefix(t, "# One row per cell") {
			break
		}
		lines = append(lines, strings.TrimSpace(strings.TrimPrefix(t, "#")))
	}
	return strings.Join(lines, " ")
}

// writeReport writes results/report.md and its figures from the committed
// cell results alone.
func writeReport(studyPath, results string) error {
	r, err := loadReport(studyPath, results)
	if err != nil {
		return err
	}
	figures := map[string]func(io.Writer) error{
		"convergence-time.png":    func(w io.Writer) error { return r.convergencePlot(w, wallTime) },
		"convergence-epochs.png":  func(w io.Writer) error { return r.convergencePlot(w, epochsTrain) },
		"convergence-machine.png": func(w io.Writer) error { return r.convergencePlot(w, machineTime) },
		"eps.png":                 r.epsPlot,
	}
	drawn := map[string]bool{}
	for name, draw := range figures {
		var buf bytes.Buffer
		if err := draw(&buf); err != nil {
			continue // not enough results for this figure yet
		}
		if err := writeAtomic(filepath.Join(results, name), buf.Bytes()); err != nil {
			return err
		}
		drawn[name] = true
	}
	var md bytes.Buffer
	r.markdown(&md, drawn)
	return writeAtomic(filepath.Join(results, "report.md"), md.Bytes())
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f", 100*x)
}

// pm formats a mean and the half-width of its interval in percent.
func pm(mean, half float64) string {
	if math.IsNaN(half) {
		return pct(mean)
	}
	return fmt.Sprintf("%.1f ± %.1f", 100*mean, 100*half)
}

func duration(s float64) string {
	return (time.Duration(s) * time.Second).String()
}

func robust(p Point) float64 { return p.Robust }
func clean(p Point) float64  { return p.Clean }

// attackAcc is the accuracy of the named attack in p, NaN when it did not run.
func attackAcc(p Point, name string) float64 {
	for _, a := range p.Attacks {
		if a.Name == name {
			return a.Accuracy
		}
	}
	return math.NaN()
}

// ensembleGap is how far p's per-example worst case lies below its
// strongest single attack, and that attack's name; ok is false when p
// records no attack.
func ensembleGap(p Point) (gap float64, best string, ok bool) {
	strongest := math.Inf(1)
	for _, a := range p.Attacks {
		if a.Accuracy < strongest {
			strongest, best = a.Accuracy, a.Name
		}
	}
	if best == "" {
		return 0, "", false
	}
	return strongest - p.Robust, best, true
}

// speedLevel is the level the speed claim is decided at: PGD-AT's mean
// final accuracy under the curve's attack set, less levelMargin.
func (r *studyReport) speedLevel() (float64, bool) {
	g := r.group(methodPGD)
	if g == nil {
		return 0, false
	}
	var xs []float64
	for _, c := range g.cells {
		if cv := curveOf(c); len(cv) > 0 {
			xs = append(xs, cv[len(cv)-1].Robust)
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	m, _ := meanCI(xs)
	// Rounded to a tenth of a point, as the report prints it, so that the
	// level the rule applies is the one the tables show.
	return math.Round((m-levelMargin)*1000) / 1000, true
}

// bestBelow counts the cells of g whose best checkpoint, under AutoAttack,
// is below level with its whole 95% Wilson interval, of those evaluated
// so; at lists their figures, near those below the level within their
// interval. A figure within sampling error of the level decides nothing:
// a checkpoint scored on 1,000 images has an interval some 5 points wide.
func (g *group) bestBelow(level float64) (below, of int, at, near string) {
	var figs, nears []string
	for _, c := range g.cells {
		if c.Best == nil {
			continue
		}
		of++
		lo, hi := wilson(c.Best.Robust, c.Best.N)
		fig := fmt.Sprintf("%s: %s%% [%s, %s] after %.1f epochs, n=%d", c.Row.Cell, pct(c.Best.Robust), pct(lo), pct(hi), c.Best.Epoch, c.Best.N)
		switch {
		case hi < level:
			below++
			figs = append(figs, fig)
		case c.Best.Robust < level:
			nears = append(nears, fig)
		}
	}
	return below, of, strings.Join(figs, "; "), strings.Join(nears, "; ")
}

// reach is a method's times to a level: per seed (in wall time, epochs and
// optimiser steps), and how many seeds never reached it within their
// budget.
type reach struct {
	seconds, epochs, steps []float64
	missed                 int
	// early counts the seeds already at the level at their first
	// checkpoint, whose time is interpolated from the untrained model.
	early int
}

// reach is g's first crossings of level.
func (g *group) reach(level float64) reach { return g.reachBy(level, timeToLevel) }

// stay is when g's curves reach level for good.
func (g *group) stay(level float64) reach { return g.reachBy(level, timeToStay) }

func (g *group) reachBy(level float64, at func([]Point, float64) (seconds, epochs float64, ok bool)) reach {
	var out reach
	for _, c := range g.cells {
		cv := curveOf(c)
		s, e, ok := at(cv, level)
		if !ok {
			out.missed++
			continue
		}
		out.seconds, out.epochs = append(out.seconds, s), append(out.epochs, e)
		if e <= cv[0].Epoch {
			out.early++
		}
		last := cv[len(cv)-1]
		out.steps = append(out.steps, e*float64(last.Step)/last.Epoch)
	}
	return out
}

func (x reach) String() string {
	return x.time() + x.never()
}

// time gives the mean time and epochs to the level, marked when a seed
// reached it at its first checkpoint, or "not reached".
func (x reach) time() string {
	if len(x.seconds) == 0 {
		return "not reached"
	}
	m, _ := meanCI(x.seconds)
	e, _ := meanCI(x.epochs)
	s := fmt.Sprintf("%s (%.2f epochs)", duration(m), e)
	if x.early > 0 {
		s = `\*` + s
	}
	return s
}

// never counts the seeds that never reach the level, when some others do.
func (x reach) never() string {
	if x.missed == 0 || len(x.seconds) == 0 {
		return ""
	}
	return ", " + plural(x.missed, "seed") + " never"
}

// speedVerdict decides the claim "SGN reaches robustness at least 10x
// faster than PGD adversarial training".
func (r *studyReport) speedVerdict() (verdict, detail string) {
	sg, pg := r.group(methodSGN), r.group(methodPGD)
	level, ok := r.speedLevel()
	if sg == nil || pg == nil || !ok {
		return "not tested", "The SGN headline or the PGD-AT cells have no results yet."
	}
	ps, ss := pg.reach(level), sg.reach(level)
	head := fmt.Sprintf("At %s%% worst-case robust accuracy under the curve's attacks (PGD-AT's final level less %.0f points), PGD-AT takes %s and the SGN %s",
		pct(level), 100*levelMargin, ps, ss)
	if len(ps.seconds) == 0 {
		return "not tested", head + ": PGD-AT itself never reaches it."
	}
	if ps.missed > 0 {
		head += fmt.Sprintf(" (%d of %d PGD-AT seeds never reach it and are left out of the pairings)", ps.missed, len(pg.cells))
	}
	if ss.missed > 0 {
		return "refuted", head + fmt.Sprintf(": %d of %d SGN seeds never reach the robustness PGD-AT reaches, within a budget of %d epochs.",
			ss.missed, len(sg.cells), sg.cells[0].Row.Epochs)
	}
	// The curve's attacks are affordable, not the strongest: a level
	// reached under them counts only if the curve's best checkpoint keeps
	// it under AutoAttack (where the study ran that), as PGD-AT's must too.
	below, of, at, near := sg.bestBelow(level)
	if below > 0 {
		if pb, _, _, _ := pg.bestBelow(level); pb == 0 {
			return "refuted", head + fmt.Sprintf(" under the curve's attacks; but under AutoAttack %d of %d SGN seeds' best checkpoints fall below the level, their 95%% interval too (%s): "+
				"the curve's attacks overstate them, and by AutoAttack's reading the SGN does not reach the robustness PGD-AT reaches.", below, of, at)
		}
	}
	ratios := func(p, s []float64) (mean, lo, hi float64) {
		pm, _ := meanCI(p)
		sm, _ := meanCI(s)
		return pm / sm, slices.Min(p) / slices.Max(s), slices.Max(p) / slices.Min(s)
	}
	ratio, lo, hi := ratios(ps.seconds, ss.seconds)
	pm, _ := meanCI(ps.seconds)
	detail = head + fmt.Sprintf(": %.1f× faster in wall time (%.1f–%.1f× over the seeds' pairings).", ratio, lo, hi)
	if near != "" {
		detail += fmt.Sprintf(" Under AutoAttack, best checkpoints below the level within their 95%% interval, which decides nothing: %s.", near)
	}
	// Where the calibration has both, the steps each seed took at one
	// machine's cost per step decide: the cells' own machines differ.
	pc, okP := r.calib.seconds(methodPGD, ps)
	sc, okS := r.calib.seconds(methodSGN, ss)
	if okP && okS {
		ratio, lo, hi = ratios(pc, sc)
		pcm, _ := meanCI(pc)
		scm, _ := meanCI(sc)
		detail += fmt.Sprintf(" On one machine (%s: %.0f ms per PGD-AT step, %.0f per SGN step), their steps take %s and %s: %.1f× faster (%.1f–%.1f×); this decides.",
			r.calib, r.calib.StepMS[methodPGD], r.calib.StepMS[methodSGN], duration(pcm), duration(scm), ratio, lo, hi)
	}
	if fg := r.group(methodFGSM); fg != nil {
		if fs := fg.reach(level); len(fs.seconds) > 0 && fs.missed == 0 {
			fm, _ := meanCI(fs.seconds)
			detail += fmt.Sprintf(" FGSM-RS alone, the SGN's own adversary, takes %s: %.1f× faster than PGD-AT", fs, pm/fm)
			if fc, ok := r.calib.seconds(methodFGSM, fs); ok && okP {
				fcm, _ := meanCI(fc)
				pcm, _ := meanCI(pc)
				detail += fmt.Sprintf(" (%.1f× on one machine)", pcm/fcm)
			}
			detail += "."
		} else {
			detail += fmt.Sprintf(" FGSM-RS alone: %s.", fs)
		}
	}
	verdict = speedCall(lo, hi)
	// PyTorch's costs per step do not decide (the study trained with
	// sgn's), but beside sgn's costs on one machine they say whether the
	// verdict hangs on the implementation.
	tp, okTP := r.pytorch.seconds(methodPGD, ps)
	ts, okTS := r.pytorch.seconds(methodSGN, ss)
	if okTP && okTS {
		ratio, lo, hi := ratios(tp, ts)
		detail += fmt.Sprintf(" At PyTorch's cost per step on one machine (%s: %.0f ms per PGD-AT step, %.0f per SGN step, `make -C pipelines calibrate-pytorch STUDY=%s`): %.1f× (%.1f–%.1f×)",
			r.pytorch, r.pytorch.StepMS[methodPGD], r.pytorch.StepMS[methodSGN], r.name, ratio, lo, hi)
		switch v := speedCall(lo, hi); {
		case !okP || !okS:
			detail += "."
		case v == verdict:
			detail += ", the same verdict."
		default:
			detail += fmt.Sprintf(", by which the claim would be %s: the verdict depends on the implementation.", v)
		}
	}
	// The first crossing flatters a noisy curve; when each curve reaches
	// the level for good brackets its time from the other side, where a
	// curve dips below the level after reaching it.
	pst, sst := pg.stay(level), sg.stay(level)
	if slices.Equal(pst.seconds, ps.seconds) && slices.Equal(sst.seconds, ss.seconds) {
		return verdict, detail
	}
	detail += fmt.Sprintf(" Counted instead from when each curve stays at or above the level (its last crossing, which handicaps a noisy curve as the first flatters it; this does not decide): PGD-AT %s, the SGN %s", pst, sst)
	if len(pst.seconds) == 0 || len(sst.seconds) == 0 {
		return verdict, detail + "."
	}
	pcs, okPS := r.calib.seconds(methodPGD, pst)
	scs, okSS := r.calib.seconds(methodSGN, sst)
	if okPS && okSS {
		ratio, lo, hi := ratios(pcs, scs)
		detail += fmt.Sprintf(": %.1f× on one machine (%.1f–%.1f×)", ratio, lo, hi)
	} else {
		ratio, lo, hi := ratios(pst.seconds, sst.seconds)
		detail += fmt.Sprintf(": %.1f× in wall time (%.1f–%.1f×)", ratio, lo, hi)
	}
	tp, okTP = r.pytorch.seconds(methodPGD, pst)
	ts, okTS = r.pytorch.seconds(methodSGN, sst)
	if okTP && okTS {
		ratio, lo, hi := ratios(tp, ts)
		detail += fmt.Sprintf(", at PyTorch's %.1f× (%.1f–%.1f×)", ratio, lo, hi)
	}
	return verdict, detail + "."
}

// speedCall is the speed claim's verdict on the range of its ratios over
// the pairings of seeds.
func speedCall(lo, hi float64) string {
	switch {
	case lo >= speedClaim:
		return "confirmed"
	case hi < speedClaim:
		return "refuted"
	}
	return "inconclusive"
}

// gainVerdict decides the claim "about 10 points more robust accuracy
// under PGD and CW attacks" than PGD adversarial training.
func (r *studyReport) gainVerdict() (verdict, detail string) {
	sg, pg := r.group(methodSGN), r.group(methodPGD)
	if sg == nil || pg == nil {
		return "not tested", "The SGN headline or the PGD-AT cells have no results yet."
	}
	d, half := diffCI(sg.finals(robust), pg.finals(robust))
	sm, sh := meanCI(sg.finals(robust))
	pm_, ph := meanCI(pg.finals(robust))
	detail = fmt.Sprintf("Final worst-case robust accuracy: SGN %s%% (%s), PGD-AT %s%% (%s); difference %s points (95%% Welch interval).",
		pm(sm, sh), plural(len(sg.cells), "seed"), pm(pm_, ph), plural(len(pg.cells), "seed"), signed(d, half))
	pgdcw := func(p Point) float64 { return math.Min(attackAcc(p, "pgd-cw"), attackAcc(p, "apgd-ce")) }
	d2, h2 := diffCI(sg.finals(pgdcw), pg.finals(pgdcw))
	detail += fmt.Sprintf(" Under PGD-type attacks alone (the worse of APGD-CE and PGD-CW, per model) the difference is %s points.", signed(d2, h2))
	switch {
	case math.IsNaN(half):
		return "inconclusive", detail + " Fewer than two seeds on a side: no interval."
	case d-half >= gainFloor:
		return "confirmed", detail
	case d+half < gainFloor:
		return "refuted", detail
	}
	return "inconclusive", detail
}

func signed(d, half float64) string {
	if math.IsNaN(half) {
		return fmt.Sprintf("%+.1f", 100*d)
	}
	return fmt.Sprintf("%+.1f ± %.1f", 100*d, 100*half)
}

func (r *studyReport) markdown(w io.Writer, drawn map[string]bool) {
	fmt.Fprintf(w, "# Study: %s\n\n", r.name)
	fmt.Fprintf(w, "Generated by `make -C pipelines report STUDY=%s` from the cell results in `cells/` (rerun the study with `make -C pipelines %s`). %s\n\n",
		r.name, r.name, r.about)
	if len(r.missing) > 0 {
		fmt.Fprintf(w, "**Partial:** %d of %d cells have results; still to run: %s.%s\n\n", len(r.rows)-len(r.missing), len(r.rows), strings.Join(r.missing, ", "), r.leftToRun())
	}

	fmt.Fprintf(w, "## Verdict\n\n")
	v1, d1 := r.speedVerdict()
	v2, d2 := r.gainVerdict()
	fmt.Fprintf(w, "1. **Robust training converges at least 10× faster than PGD adversarial training: %s.** %s\n", v1, d1)
	fmt.Fprintf(w, "2. **About 10 points more robust accuracy under PGD and CW attacks than PGD adversarial training: %s.** %s\n\n", v2, d2)
	fmt.Fprintf(w, "How these are decided: speed at the level PGD-AT's final models reach under the curve's attack set, less %.0f points; "+
		"confirmed when every pairing of seeds gives at least %.0f×, refuted when none does, when an SGN seed never reaches the level, or when its curve's best checkpoint falls below it under AutoAttack with its whole 95%% interval where PGD-AT's does not. "+
		"Gain on the final worst case over every attack: confirmed when the 95%% interval of the difference lies above +%.0f points, "+
		"refuted when it lies wholly below +%.0f points, else inconclusive.", 100*levelMargin, speedClaim, 100*gainFloor, 100*gainFloor)
	if r.calib != nil {
		fmt.Fprintf(w, " Speed is compared on one machine: each seed's optimiser steps to the level at its method's cost per step measured by `make -C pipelines calibrate STUDY=%s` (%s), since the cells trained on different machines; wall times as measured are given beside.", r.name, r.calib)
	}
	fmt.Fprintf(w, "\n\n")

	r.headlineTable(w)
	r.convergenceSection(w, drawn)
	r.earlyStopSection(w)
	r.cellTable(w)
	r.attackTable(w)
	r.sweepSection(w, drawn)
	r.maskingSection(w)
	r.roleTable(w, "pilot", "Pilot: the headline SGN reading", "The pilot rows train each candidate reading for a short budget; the headline reading is the one with the highest worst-case robust accuracy under the curve's attacks at the end of it.")
	r.roleTable(w, "ablation", "Ablations", "Each ablation changes a setting of the headline SGN reading (seed 1), or of another ablation; the headline's own seed-1 row is repeated for reference, and each row names the cell it is read against (of the headline and the ablations listed above it, the one whose flags differ least), what it changes and its worst case's difference from that cell's. "+
		"An ablation's final evaluation has every attack of a headline cell's but AutoAttack's suite, most of an SGN's evaluation time (Square among them, with fewer queries): its worst case may lie above what the suite would find.")
	r.costSection(w)
	if r.notes != "" {
		fmt.Fprintf(w, "\n## Notes\n\n%s\n", strings.TrimSpace(r.notes))
	}
}

func (r *studyReport) headlineTable(w io.Writer) {
	fmt.Fprintf(w, "## Final models\n\n")
	var n int
	var eps float64
	for _, g := range r.groups {
		if len(g.cells) > 0 {
			n, eps = g.cells[0].Final.N, g.cells[0].Final.Eps
			break
		}
	}
	fmt.Fprintf(w, "Accuracy (%%) on the first %d test images at L-inf eps %g; robust accuracy is the per-example worst case over every attack of the final evaluation; ± is the 95%% interval over seeds (t), or for one seed the Wilson interval.\n\n", n, eps)
	fmt.Fprintf(w, "| method | role | seeds | clean | worst-case robust | train time per seed |\n|---|---|---|---|---|---|\n")
	for _, g := range r.groups {
		if g.role == "pilot" {
			continue
		}
		cm, ch := meanCI(g.finals(clean))
		rm, rh := meanCI(g.finals(robust))
		rob := pm(rm, rh)
		if len(g.cells) == 1 {
			lo, hi := wilson(g.cells[0].Final.Robust, g.cells[0].Final.N)
			rob = fmt.Sprintf("%s [%s, %s]", pct(rm), pct(lo), pct(hi))
		}
		var ts []float64
		for _, c := range g.cells {
			ts = append(ts, c.TrainSeconds)
		}
		tm, _ := meanCI(ts)
		fmt.Fprintf(w, "| %s | %s | %d | %s | **%s** | %s |\n", g.method, g.role, len(g.cells), pm(cm, ch), rob, duration(tm))
	}
	fmt.Fprintln(w)
}

// levels are the robust accuracies the convergence table reports the time
// to: every ten points up to the best any method reaches, and the speed
// claim's level.
func (r *studyReport) levels() []float64 {
	best := 0.0
	for _, g := range r.groups {
		for _, c := range g.cells {
			for _, p := range c.Curve {
				best = math.Max(best, p.Robust)
			}
		}
	}
	var ls []float64
	for l := 0.1; l <= best+1e-9; l += 0.1 {
		ls = append(ls, math.Round(l*100)/100)
	}
	if l, ok := r.speedLevel(); ok && !slices.Contains(ls, l) {
		ls = append(ls, l)
		slices.Sort(ls)
	}
	return ls
}

func (r *studyReport) convergenceSection(w io.Writer, drawn map[string]bool) {
	fmt.Fprintf(w, "## Convergence\n\n")
	fmt.Fprintf(w, "Each checkpoint along training is scored on the same test images by the curve's attack set, the same for every model: APGD with cross-entropy and PGD with the margin loss; for SGNs also PGD through the smooth surrogate tanh(s/0.05) of the sign of their self-gradient. Wall time is training time alone (evaluation excluded), on the machine below, one run at a time. The filled marks are each seed's final model under the worst case of its whole final evaluation and, where it differs, the curve's best checkpoint under AutoAttack: where they fall below a line, the curve's attacks overstate the model.\n\n")
	for _, f := range []string{"convergence-time.png", "convergence-epochs.png"} {
		if drawn[f] {
			fmt.Fprintf(w, "![%s](%s)\n\n", strings.TrimSuffix(f, ".png"), f)
		}
	}
	ls := r.levels()
	if len(ls) == 0 {
		return
	}
	fmt.Fprintf(w, "Training time to reach a worst-case robust accuracy (mean over seeds that reach it; epochs in brackets), and PGD-AT's time divided by it:\n\n| method |")
	for _, l := range ls {
		fmt.Fprintf(w, " %s%% |", pct(l))
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(ls)))
	pg := r.group(methodPGD)
	early := false // a table cell is marked as interpolated from the untrained model
	for _, g := range r.groups {
		if g.role == "pilot" || g.role == "ablation" {
			continue
		}
		fmt.Fprintf(w, "| %s |", g.method)
		for _, l := range ls {
			x := g.reach(l)
			cell := x.time()
			early = early || x.early > 0
			if pg != nil && g != pg && len(x.seconds) > 0 {
				if p := pg.reach(l); len(p.seconds) > 0 {
					pmn, _ := meanCI(p.seconds)
					m, _ := meanCI(x.seconds)
					cell += fmt.Sprintf(", %.1f×", pmn/m)
				}
			}
			fmt.Fprintf(w, " %s |", cell+x.never())
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if early {
		fmt.Fprintf(w, "\\* Reached at a seed's first checkpoint: the time is interpolated from the untrained model (0%% at time 0), so it and its ratio say little.\n\n")
	}
	if r.calib == nil {
		return
	}
	fmt.Fprintf(w, "The same on one machine (%s): each seed's optimiser steps to the level at its method's cost per step there, measured by `make -C pipelines calibrate STUDY=%s` (mean over seeds that reach it), and PGD-AT's divided by it", r.calib, r.name)
	if r.pytorch != nil {
		fmt.Fprintf(w, "; beside it the same step's cost in PyTorch (%s, `make -C pipelines calibrate-pytorch STUDY=%s`)", r.pytorch, r.name)
	}
	fmt.Fprintf(w, ":\n\n| method | ms per step |")
	if r.pytorch != nil {
		fmt.Fprintf(w, " PyTorch ms |")
	}
	for _, l := range ls {
		fmt.Fprintf(w, " %s%% |", pct(l))
	}
	fmt.Fprintf(w, "\n|---|---|%s%s\n", strings.Repeat("---|", len(ls)), map[bool]string{true: "---|"}[r.pytorch != nil])
	for _, g := range r.groups {
		ms, ok := r.calib.StepMS[g.method]
		if g.role == "pilot" || g.role == "ablation" || !ok {
			continue
		}
		fmt.Fprintf(w, "| %s | %.0f |", g.method, ms)
		if r.pytorch != nil {
			if tms, ok := r.pytorch.StepMS[g.method]; ok {
				fmt.Fprintf(w, " %.0f |", tms)
			} else {
				fmt.Fprintf(w, " – |")
			}
		}
		for _, l := range ls {
			x := g.reach(l)
			secs, _ := r.calib.seconds(g.method, x)
			cell := "not reached"
			if len(secs) > 0 {
				m, _ := meanCI(secs)
				cell = duration(m)
				if x.early > 0 {
					cell = `\*` + cell
				}
				if pg != nil && g != pg {
					if p, ok := r.calib.seconds(methodPGD, pg.reach(l)); ok && len(p) > 0 {
						pmn, _ := meanCI(p)
						cell += fmt.Sprintf(", %.1f×", pmn/m)
					}
				}
				cell += x.never()
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if drawn["convergence-machine.png"] {
		fmt.Fprintf(w, "The curves against training time on that machine (each checkpoint's steps at its method's cost per step), on a log scale where 10× is a fixed distance. The dashed line is PGD-AT's curve 10× sooner: the speed claim holds where the SGN's line reaches the level (dotted) at or left of it.\n\n![convergence-machine](convergence-machine.png)\n\n")
	}
}

// earlyStopSection reports each curve's best checkpoint under AutoAttack.
func (r *studyReport) earlyStopSection(w io.Writer) {
	var rows []string
	for _, g := range r.groups {
		for _, c := range g.cells {
			if c.Best == nil {
				continue
			}
			curve := math.NaN()
			for _, p := range c.Curve {
				if p.Step == c.Best.Step {
					curve = p.Robust
				}
			}
			lo, hi := wilson(c.Best.Robust, c.Best.N)
			rows = append(rows, fmt.Sprintf("| %s | %.1f | %s | **%s** [%s, %s] | %d | %s |", c.Row.Cell, c.Best.Epoch, pct(curve),
				pct(c.Best.Robust), pct(lo), pct(hi), c.Best.N, pct(c.Final.Robust)))
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "## Early stopping under AutoAttack\n\nThe checkpoint at each curve's peak is what early stopping would keep. Its worst-case robust accuracy (%%) under the curve's attacks, and under AutoAttack's standard suite (on a quarter of the test images, every fourth, unless it is the final model), beside the final model's worst case:\n\n"+
		"| cell | epoch | curve's attacks | AutoAttack [95%% Wilson] | n | final model |\n|---|---|---|---|---|---|\n%s\n\n", strings.Join(rows, "\n"))
}

func (r *studyReport) cellTable(w io.Writer) {
	fmt.Fprintf(w, "## Every cell\n\n| cell | method | role | seed | epochs | clean | worst-case robust [95%% Wilson] | n | train | eval | checkpoint SHA-256 |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range r.groups {
		for _, c := range g.cells {
			lo, hi := wilson(c.Final.Robust, c.Final.N)
			var eval float64
			for _, p := range c.Curve {
				eval += p.EvalSeconds
			}
			eval += c.Final.EvalSeconds
			for _, p := range c.Sweep {
				eval += p.EvalSeconds
			}
			fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %s | %s [%s, %s] | %d | %s | %s | `%.12s` |\n", c.Row.Cell, c.Row.Method, c.Row.Role, c.Row.Seed, c.Row.Epochs,
				pct(c.Final.Clean), pct(c.Final.Robust), pct(lo), pct(hi), c.Final.N, duration(c.TrainSeconds), duration(eval), c.Checkpoint)
		}
	}
	fmt.Fprintln(w)
}

// attackNames is every attack name in the final evaluations, in a fixed order.
func (r *studyReport) attackNames() []string {
	var names []string
	for _, g := range r.groups {
		for _, c := range g.cells {
			for _, a := range c.Final.Attacks {
				if !slices.Contains(names, a.Name) {
					names = append(names, a.Name)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

func (r *studyReport) attackTable(w io.Writer) {
	names := r.attackNames()
	fmt.Fprintf(w, "## Final evaluation, attack by attack\n\nAccuracy (%%) of each final model under each attack (– where it does not apply), and the per-example worst case.\n\n| cell | clean |")
	for _, n := range names {
		fmt.Fprintf(w, " %s |", n)
	}
	fmt.Fprintf(w, " **worst case** |\n|---|---|%s---|\n", strings.Repeat("---|", len(names)))
	for _, g := range r.groups {
		for _, c := range g.cells {
			fmt.Fprintf(w, "| %s | %s |", c.Row.Cell, pct(c.Final.Clean))
			for _, n := range names {
				fmt.Fprintf(w, " %s |", pct(attackAcc(c.Final, n)))
			}
			fmt.Fprintf(w, " **%s** |\n", pct(c.Final.Robust))
		}
	}
	fmt.Fprintln(w)
	if len(r.groups) > 0 && len(r.groups[0].cells) > 0 {
		fmt.Fprintf(w, "The attacks, as sgn-score describes them (from the first cell):\n\n")
		for _, a := range r.groups[0].cells[0].Final.Attacks {
			fmt.Fprintf(w, "- %s: %s\n", a.Name, a.Label)
		}
		fmt.Fprintln(w)
	}
}

func (r *studyReport) sweepSection(w io.Writer, drawn map[string]bool) {
	var epss []float64
	for _, g := range r.groups {
		for _, c := range g.cells {
			for _, p := range append(slices.Clone(c.Sweep), c.Final) {
				if !slices.Contains(epss, p.Eps) {
					epss = append(epss, p.Eps)
				}
			}
		}
	}
	if len(epss) < 2 {
		return
	}
	slices.Sort(epss)
	fmt.Fprintf(w, "## Accuracy against eps\n\nWorst-case robust accuracy (%%) per eps: at the study's eps the final evaluation, at the others the curve's attack set with half the final steps.\n\n")
	if drawn["eps.png"] {
		fmt.Fprintf(w, "![eps](eps.png)\n\n")
	}
	fmt.Fprintf(w, "| cell |")
	for _, e := range epss {
		fmt.Fprintf(w, " %g |", e)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(epss)))
	for _, g := range r.groups {
		for _, c := range g.cells {
			if c.Row.Role == "pilot" {
				continue
			}
			fmt.Fprintf(w, "| %s |", c.Row.Cell)
			for _, e := range epss {
				v := math.NaN()
				for _, p := range append(slices.Clone(c.Sweep), c.Final) {
					if p.Eps == e {
						v = p.Robust
					}
				}
				fmt.Fprintf(w, " %s |", pct(v))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
}

// whiteBox are the attacks that follow the model's own exact gradient.
var whiteBox = []string{"apgd-ce", "apgd-dlr", "pgd-cw", "fgsm"}

func (r *studyReport) maskingSection(w io.Writer) {
	fmt.Fprintf(w, "## Gradient-masking checks\n\nA defence that masks gradients looks robust to attacks that follow its gradient and not to others. Per final model: the best white-box attack on the exact gradient (APGD-CE, APGD-DLR, PGD-CW, FGSM), what the others reach, and the worst case. A gradient-free (Square) or transferred attack doing better than every exact white-box attack, or an SGN surrogate doing better, flags masking; accuracy at the largest eps of the sweep should be near zero. The worst case's gap below the strongest single attack (AutoAttack's suite counting as one) shows how far the attacks break different examples: on a model whose gradients guide every attack it is a fraction of a point, and a gap of several points says no attack alone is reliable there, so the worst case may still be too high.\n\n")
	fmt.Fprintf(w, "| cell | best exact white-box | square | transfer | SGN detached | SGN smooth (CE, CW) | worst case | below the strongest attack | largest eps | flags |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range r.groups {
		for _, c := range g.cells {
			if c.Row.Role == "pilot" {
				continue
			}
			f := c.Final
			wb := math.Inf(1)
			for _, n := range whiteBox {
				if v := attackAcc(f, n); !math.IsNaN(v) {
					wb = math.Min(wb, v)
				}
			}
			var flags []string
			for _, n := range []string{"square", "transfer-ce", "pgd-ce-detached", "pgd-ce-smooth0.05", "pgd-cw-smooth0.005"} {
				if v := attackAcc(f, n); v < wb-0.005 {
					flags = append(flags, fmt.Sprintf("%s %.1f below white-box", n, 100*(wb-v)))
				}
			}
			large := "–"
			if len(c.Sweep) > 0 {
				last := c.Sweep[len(c.Sweep)-1]
				if last.Eps > f.Eps {
					large = fmt.Sprintf("%s at %g", pct(last.Robust), last.Eps)
					if last.Robust > 0.1 {
						flags = append(flags, fmt.Sprintf("%.0f%% left at eps %g", 100*last.Robust, last.Eps))
					}
				}
			}
			flagText := "none"
			if len(flags) > 0 {
				flagText = "**" + strings.Join(flags, "; ") + "**"
			}
			gapText := "–"
			if gap, best, ok := ensembleGap(f); ok {
				gapText = fmt.Sprintf("%.1f (%s)", 100*gap, best)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s, %s | %s | %s | %s | %s |\n", c.Row.Cell, pct(wb), pct(attackAcc(f, "square")), pct(attackAcc(f, "transfer-ce")),
				pct(attackAcc(f, "pgd-ce-detached")), pct(attackAcc(f, "pgd-ce-smooth0.05")), pct(attackAcc(f, "pgd-cw-smooth0.005")), pct(f.Robust), gapText, large, flagText)
		}
	}
	fmt.Fprintln(w)
}

func (r *studyReport) roleTable(w io.Writer, role, title, about string) {
	var cells []Cell
	for _, g := range r.groups {
		for _, c := range g.cells {
			if c.Row.Role == role || (role == "ablation" && g.method == methodSGN && c.Row.Seed == 1) {
				cells = append(cells, c)
			}
		}
	}
	if len(cells) == 0 {
		return
	}
	// Ablations add the cell each is read against, what it changes and
	// the difference of their worst cases.
	header, rule := "| cell | sgn-train flags | epochs | clean | worst-case robust [95% Wilson] | train |", "|---|---|---|---|---|---|"
	if role == "ablation" {
		header, rule = header+" against | change | its worst case less that cell's (points) |", rule+"---|---|---|"
	}
	fmt.Fprintf(w, "## %s\n\n%s\n\n%s\n%s\n", title, about, header, rule)
	for i, c := range cells {
		lo, hi := wilson(c.Final.Robust, c.Final.N)
		fmt.Fprintf(w, "| %s | `%s` | %d | %s | %s [%s, %s] | %s |", c.Row.Cell, c.Row.Flags, c.Row.Epochs, pct(c.Final.Clean), pct(c.Final.Robust), pct(lo), pct(hi), duration(c.TrainSeconds))
		if role == "ablation" {
			against, change, delta := "", "", ""
			// Read against a cell listed above it: a parent comes before the
			// ablations of it, which must not become its reference.
			if c.Row.Role == "ablation" && i > 0 {
				ref, changed, dropped, err := closestFlags(c, cells[:i])
				if err != nil {
					change = err.Error()
				} else {
					against, change = ref.Row.Cell, describeChange(changed, dropped)
					delta = fmt.Sprintf("%+.1f", 100*(c.Final.Robust-ref.Final.Robust))
				}
			}
			fmt.Fprintf(w, " %s | %s | %s |", against, change, delta)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// closestFlags returns the cell among refs whose sgn-train flags differ
// least from c's (the first of equals, so the headline, which the study
// files list before the ablations, wins ties) and what c changes: its flags
// that differ, and the names of those it drops. An ablation of an ablation
// (detached on phi l2) is thus read against its parent rather than the
// headline, two flags further.
func closestFlags(c Cell, refs []Cell) (ref Cell, changed []flagValue, dropped []string, err error) {
	mine, err := parseFlags(c.Row.Flags)
	if err != nil {
		return Cell{}, nil, nil, fmt.Errorf("%s: %w", c.Row.Cell, err)
	}
	for i, r := range refs {
		theirs, err := parseFlags(r.Row.Flags)
		if err != nil {
			return Cell{}, nil, nil, fmt.Errorf("%s: %w", r.Row.Cell, err)
		}
		var ch []flagValue
		var dr []string
		for _, f := range mine {
			if v, ok := theirs.lookup(f.name); !ok || v != f.value {
				ch = append(ch, f)
			}
		}
		for _, f := range theirs {
			if _, ok := mine.lookup(f.name); !ok {
				dr = append(dr, f.name)
			}
		}
		if i == 0 || len(ch)+len(dr) < len(changed)+len(dropped) {
			ref, changed, dropped = r, ch, dr
		}
	}
	return ref, changed, dropped, nil
}

// describeChange writes what closestFlags found as Markdown.
func describeChange(changed []flagValue, dropped []string) string {
	var parts []string
	for _, f := range changed {
		parts = append(parts, "`"+f.String()+"`")
	}
	for _, name := range dropped {
		parts = append(parts, "no `"+name+"`")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// flagValue is one sgn-train flag a study row sets: its name with the
// dash and its value, empty for a boolean flag such as -sgn.
type flagValue struct{ name, value string }

func (f flagValue) String() string {
	if f.value == "" {
		return f.name
	}
	return f.name + " " + f.value
}

// rowFlags are the flags a row sets, in name order.
type rowFlags []flagValue

func (fl rowFlags) lookup(name string) (string, bool) {
	for _, f := range fl {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// parseFlags reads a study row's flags with sgn-train's own flag set, so
// that values, booleans and the -name=value form are read as sgn-train
// reads them.
func parseFlags(flags string) (rowFlags, error) {
	fs := flag.NewFlagSet("sgn-train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	train.NewFlags(fs)
	if err := fs.Parse(strings.Fields(flags)); err != nil {
		return nil, fmt.Errorf("sgn-train flags %q: %w", flags, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("sgn-train flags %q: unexpected argument %q", flags, fs.Arg(0))
	}
	var out rowFlags
	fs.Visit(func(f *flag.Flag) {
		v := flagValue{name: "-" + f.Name, value: f.Value.String()}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() && v.value == "true" {
			v.value = ""
		}
		out = append(out, v)
	})
	return out, nil
}

// points are every evaluation of the cell: its curve, final model, sweep
// and best checkpoint.
func (c Cell) points() []Point {
	points := slices.Concat(c.Curve, []Point{c.Final}, c.Sweep)
	if c.Best != nil {
		points = append(points, *c.Best)
	}
	return points
}

// seconds is what the cell took to compute: its training and every
// evaluation.
func (c Cell) seconds() float64 {
	s := c.TrainSeconds
	for _, p := range c.points() {
		s += p.EvalSeconds
	}
	return s
}

// seconds lists what each finished cell of the group took to compute.
func (g *group) seconds() []float64 {
	s := make([]float64, len(g.cells))
	for i, c := range g.cells {
		s[i] = c.seconds()
	}
	return s
}

// leftToRun estimates the compute the missing cells need from the finished
// cells of their method (a seed costs what another seed costs) or, for an
// ablation whose reading has none yet, from the finished ablations (each
// changes one setting of the same SGN, trains as long and is evaluated
// alike), and names those that have nothing to go by.
func (r *studyReport) leftToRun() string {
	var ablations []float64
	for _, g := range r.groups {
		if g.role == "ablation" {
			ablations = append(ablations, g.seconds()...)
		}
	}
	var total float64
	var known, byAblations int
	var unknown []string
	for _, row := range r.rows {
		if !slices.Contains(r.missing, row.Cell) {
			continue
		}
		var s []float64
		if g := r.group(row.Method); g != nil {
			s = g.seconds()
		} else if row.Role == "ablation" && len(ablations) > 0 {
			s = ablations
			byAblations++
		} else {
			unknown = append(unknown, row.Cell)
			continue
		}
		mean, _ := meanCI(s)
		total += mean
		known++
	}
	var text string
	if known > 0 {
		var basis string
		if byAblations > 0 {
			basis = fmt.Sprintf("for %s, those of the other ablations; ", plural(byAblations, "ablation"))
		}
		text = fmt.Sprintf(" At the cost of the finished cells of their method (%sthe mean, training and evaluation, on the machines below), %s left %s to about %s.",
			basis, plural(known, "cell"), verb(known, "comes", "come"), duration(total))
	}
	if len(unknown) > 0 {
		text += fmt.Sprintf(" %s (%s) %s no finished cell of their method to go by.", plural(len(unknown), "cell"), strings.Join(unknown, ", "), verb(len(unknown), "has", "have"))
	}
	return text
}

func (r *studyReport) costSection(w io.Writer) {
	var train, eval float64
	machines := map[string]bool{}
	for _, g := range r.groups {
		for _, c := range g.cells {
			train += c.TrainSeconds
			machines[c.Machine.String()] = true
			for _, p := range c.points() {
				eval += p.EvalSeconds
				for _, m := range p.Machines {
					machines[m.String()] = true
				}
			}
		}
	}
	fmt.Fprintf(w, "## Cost and machine\n\nThe cells with results took %s of training and %s of evaluation (attacks and scoring), %s in all, one process at a time using every core. Per cell, see the table of every cell.\n\n",
		duration(train), duration(eval), duration(train+eval))
	ms := make([]string, 0, len(machines))
	for m := range machines {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	fmt.Fprintf(w, "Machines: %s. Times hold for these machines only.\n", strings.Join(ms, "; "))
}

// curveAxis is what a convergence plot's horizontal axis measures.
type curveAxis int

const (
	wallTime    curveAxis = iota // training time as measured, in minutes
	epochsTrain                  // epochs trained
	machineTime                  // steps at the calibrated cost per step, in minutes, log scale
)

// convergencePlot draws worst-case robust accuracy under the curve's
// attacks against training time (or epochs), a line per method (the mean
// over seeds at each checkpoint) and a band from its lowest to its highest
// seed. Filled marks give each seed's final model under its final
// evaluation and the curve's best checkpoint under AutoAttack: the curve's
// attacks are chosen to be affordable, and the marks show where they
// overstate a model. On machineTime, where every method's steps are priced
// on one machine and a decade is 10×, a guide draws PGD-AT's line 10× sooner:
// the speed claim holds where the SGN's line reaches the level left of it.
func (r *studyReport) convergencePlot(w io.Writer, axis curveAxis) error {
	f := plot.Figure{Title: fmt.Sprintf("%s: worst-case robust accuracy while training", r.name), XLabel: "training time (minutes)", YLabel: "robust accuracy", YMin: 0, YMax: 1,
		MarkLabel: "filled: under AutoAttack and more"}
	switch axis {
	case epochsTrain:
		f.XLabel = "epochs"
	case machineTime:
		if r.calib == nil {
			return fmt.Errorf("no calibration")
		}
		f.XLabel = "training time on one machine (minutes, log scale)"
		f.LogX = true
	}
	if l, ok := r.speedLevel(); ok {
		f.HLines = []float64{l}
	}
	pgd := -1 // PGD-AT's index in f.Series
	for _, g := range r.groups {
		if g.role == "pilot" || g.role == "ablation" || len(g.cells) == 0 {
			continue
		}
		xOf := func(p Point) float64 { return p.TrainSeconds / 60 }
		switch axis {
		case epochsTrain:
			xOf = func(p Point) float64 { return p.Epoch }
		case machineTime:
			ms, ok := r.calib.StepMS[g.method]
			if !ok {
				continue // no cost to place it by
			}
			xOf = func(p Point) float64 { return float64(p.Step) * ms / 60000 }
		}
		// Seeds share checkpoint steps; average the points they all have.
		n := len(curveOf(g.cells[0]))
		for _, c := range g.cells {
			n = min(n, len(curveOf(c)))
		}
		s := plot.Series{Label: fmt.Sprintf("%s (%s)", g.method, plural(len(g.cells), "seed"))}
		mark := func(p Point) {
			if axis == machineTime && p.Step <= 0 {
				return // no place on a log axis
			}
			s.MarkX, s.MarkY = append(s.MarkX, xOf(p)), append(s.MarkY, p.Robust)
		}
		for _, c := range g.cells {
			mark(c.Final)
			if c.Best != nil && c.Best.Step != c.Final.Step {
				mark(*c.Best)
			}
		}
		for i := range n {
			var xs, ys []float64
			for _, c := range g.cells {
				p := curveOf(c)[i]
				xs, ys = append(xs, xOf(p)), append(ys, p.Robust)
			}
			mx, _ := meanCI(xs)
			my, _ := meanCI(ys)
			s.X, s.Y = append(s.X, mx), append(s.Y, my)
			s.Lo, s.Hi = append(s.Lo, slices.Min(ys)), append(s.Hi, slices.Max(ys))
		}
		if n > 0 {
			f.Series = append(f.Series, s)
			if g.method == methodPGD {
				pgd = len(f.Series) - 1
			}
		}
	}
	if len(f.Series) == 0 {
		return fmt.Errorf("no curves")
	}
	if axis == machineTime && pgd >= 0 {
		guide := plot.Series{Label: methodPGD + " 10× sooner", Y: f.Series[pgd].Y, Guide: true}
		for _, x := range f.Series[pgd].X {
			guide.X = append(guide.X, x/10)
		}
		f.Series = append(f.Series, guide)
	}
	return plot.Lines(w, f)
}

// epsPlot draws worst-case robust accuracy against eps, a line per method.
func (r *studyReport) epsPlot(w io.Writer) error {
	f := plot.Figure{Title: fmt.Sprintf("%s: robust accuracy against eps", r.name), XLabel: "eps (L-inf)", YLabel: "robust accuracy", YMin: 0, YMax: 1}
	for _, g := range r.groups {
		if g.role == "pilot" || g.role == "ablation" || len(g.cells) == 0 {
			continue
		}
		byEps := map[float64][]float64{}
		for _, c := range g.cells {
			byEps[0] = append(byEps[0], c.Final.Clean)
			for _, p := range append(slices.Clone(c.Sweep), c.Final) {
				byEps[p.Eps] = append(byEps[p.Eps], p.Robust)
			}
		}
		s := plot.Series{Label: g.method}
		var epss []float64
		for e := range byEps {
			epss = append(epss, e)
		}
		slices.Sort(epss)
		for _, e := range epss {
			m, _ := meanCI(byEps[e])
			s.X, s.Y = append(s.X, e), append(s.Y, m)
			s.Lo, s.Hi = append(s.Lo, slices.Min(byEps[e])), append(s.Hi, slices.Max(byEps[e]))
		}
		if len(epss) > 1 {
			f.Series = append(f.Series, s)
		}
	}
	if len(f.Series) == 0 {
		return fmt.Errorf("no sweeps")
	}
	return plot.Lines(w, f)
}

// verb is singular or plural to agree with a count of n.
func verb(n int, singular, plural string) string {
	if n == 1 {
		return singular
	}
	return plural
}

// plural writes n and noun, with an s unless n is 1: "1 seed", "3 seeds".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
