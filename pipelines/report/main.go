// Command report assembles a study's Markdown report from the files the
// pipeline wrote: per model, the training log (<model>.log.jsonl), the clean
// score (<model>.score.json) and the robust scores (<model>.robust.json,
// <model>.robust.md).
//
//	go run ./pipelines/report DIR MODEL...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"sgn/shared/score"
	"sgn/shared/train"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: report DIR MODEL...")
		os.Exit(2)
	}
	if err := write(os.Stdout, os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

type modelReport struct {
	name   string
	clean  score.Result
	robust score.Result
	sweep  score.Result // the eps sweep, where the study ran one (its checks)
	md     string
	log    []train.Record
}

// pct prints an accuracy in percent; sgn-score gives none for attacks at
// several threat models or budgets.
func pct(acc *float64) string {
	if acc == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f", 100**acc)
}

func write(w *os.File, dir string, models []string) error {
	var reps []modelReport
	for _, m := range models {
		r := modelReport{name: m}
		if err := readJSON(filepath.Join(dir, m+".score.json"), &r.clean); err != nil {
			return err
		}
		if err := readJSON(filepath.Join(dir, m+".robust.json"), &r.robust); err != nil {
			return err
		}
		if err := readJSON(filepath.Join(dir, m+".sweep.json"), &r.sweep); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		md, err := os.ReadFile(filepath.Join(dir, m+".robust.md"))
		if err != nil {
			return err
		}
		r.md = string(md)
		if r.log, err = readLog(filepath.Join(dir, m+".log.jsonl")); err != nil {
			return err
		}
		reps = append(reps, r)
	}
	out := bufio.NewWriter(w)
	defer out.Flush()
	fmt.Fprintf(out, "# sgn study report: %s\n\n", filepath.Base(dir))
	now := time.Now()
	fmt.Fprintf(out, "Generated %s by `pipelines/report` from the files in `%s`.\n\n", now.UTC().Format(time.RFC3339), dir)
	if took, ok := elapsed(filepath.Join(dir, "started"), now); ok {
		fmt.Fprintf(out, "The last `make` of this study took %s of wall time on %s (%d CPUs), from its start to this report (steps done by an earlier, interrupted `make` are not counted).\n\n", took, cpuModel(), runtime.NumCPU())
	}
	// Attacks in the order they first appear.
	var attacks []string
	for _, r := range reps {
		for _, a := range r.robust.Attacks {
			if l := label(a); !slices.Contains(attacks, l) {
				attacks = append(attacks, l)
			}
		}
	}
	fmt.Fprintf(out, "## Accuracy (%%) under every attack\n\n")
	fmt.Fprintf(out, "Robust accuracy is the per-example worst case over all attacks run against that model.\n\n")
	fmt.Fprintf(out, "| model | train time | clean (n=%d) | %s | **worst case** |\n", reps[0].clean.N, strings.Join(attacks, " | "))
	fmt.Fprintf(out, "|---|---|---|%s---|\n", strings.Repeat("---|", len(attacks)))
	for _, r := range reps {
		fmt.Fprintf(out, "| %s | %s | %s |", r.name, trainTime(r.log), pct(r.clean.Accuracy))
		for _, a := range attacks {
			cell := " – |"
			for _, ra := range r.robust.Attacks {
				if label(ra) == a {
					cell = fmt.Sprintf(" %.1f |", 100*ra.Accuracy)
				}
			}
			fmt.Fprint(out, cell)
		}
		fmt.Fprintf(out, " **%s** (n=%d) |\n", pct(r.robust.Accuracy), r.robust.N)
	}
	fmt.Fprintf(out, "\n## Gradient-masking checks\n\n")
	any := false
	for _, r := range reps {
		for _, c := range slices.Concat(r.robust.Checks, r.sweep.Checks) {
			v := "pass"
			if !c.Passed {
				v = "**FAIL: possible gradient masking**"
			}
			fmt.Fprintf(out, "- %s: %s — %s (%s)\n", r.name, c.Name, v, c.Detail)
			any = true
		}
	}
	if !any {
		fmt.Fprintln(out, "No check applied.")
	}
	fmt.Fprintf(out, "\n## Training\n\n| model | epoch | loss | train acc | val clean | val PGD | s/epoch | ms/step |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range reps {
		for _, l := range r.log {
			fmt.Fprintf(out, "| %s | %d | %.4f | %.3f | %s | %s | %.1f | %.0f |\n", r.name, l.Epoch, l.TrainLoss, l.TrainAcc, opt(l.ValClean), opt(l.ValPGD), l.EpochSeconds, l.StepMillis)
		}
	}
	fmt.Fprintf(out, "\n## Per model\n")
	for _, r := range reps {
		fmt.Fprintf(out, "\n### %s\n\n%s", r.name, r.md)
	}
	return nil
}

func label(a score.AttackResult) string {
	s := a.Attack
	if st := a.Params["steps"]; st != "" && (a.Attack == "pgd" || a.Attack == "apgd") {
		s += "-" + st
	}
	// Exact differentiation of an SGN is the default attack, the same column
	// as a plain model's; the variants get columns of their own.
	if a.Params["sg_grad"] == "detached" {
		s += " detached"
	}
	if v := a.Params["loss"]; v != "" && v != "ce" {
		s += " " + v
	}
	if r := a.Params["restarts"]; r != "" && r != "1" {
		s += " ×" + r
	}
	if a.Params["surrogate"] != "" {
		s += " smooth"
	}
	return s
}

func opt(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.3f", *v)
}

func trainTime(log []train.Record) string {
	if len(log) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f s", log[len(log)-1].WallSeconds)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func readLog(path string) ([]train.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []train.Record
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r train.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// elapsed reads the Unix time the pipeline's Makefile wrote to path when the
// run started and returns the wall time since, rounded to seconds.
func elapsed(path string, now time.Time) (time.Duration, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || sec > now.Unix() {
		return 0, false
	}
	return now.Sub(time.Unix(sec, 0)).Round(time.Second), true
}

// cpuModel names the processor from /proc/cpuinfo, or the architecture
// where that is not available.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
