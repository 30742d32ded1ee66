package score

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints a result as an aligned text table.
func WriteTable(w io.Writer, r Result, perClass bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "examples\t%d\n", r.N)
	if r.Dataset != "" {
		fmt.Fprintf(tw, "data\t%s\n", dataName(r))
	}
	if r.Checkpoint != "" {
		fmt.Fprintf(tw, "checkpoint\t%s (SHA-256)\n", r.Checkpoint)
	}
	if r.CleanAccuracy != nil {
		fmt.Fprintf(tw, "clean accuracy\t%.4f%s\n", *r.CleanAccuracy, cleanCI(r))
	}
	attacked := len(r.Attacks) > 1 || (len(r.Attacks) == 1 && r.Attacks[0].Attack != "clean")
	if !attacked {
		if r.Accuracy != nil {
			fmt.Fprintf(tw, "accuracy\t%.4f\n", *r.Accuracy)
		}
	} else {
		for _, a := range r.Attacks {
			fmt.Fprintf(tw, "%s\t%.4f\n", a.Label(), a.Accuracy)
			for _, m := range a.Members {
				fmt.Fprintf(tw, "  %s\t%.4f\tafter it (broke %d of %d)\n", memberLabel(m), m.AccuracyAfter, m.Broken, m.Attacked)
			}
		}
		for _, e := range r.Evaluations {
			what := "robust accuracy (worst case)"
			if len(r.Evaluations) > 1 {
				what = fmt.Sprintf("robust accuracy at %s eps=%s (worst case)", e.ThreatModel, fmtEps(e.Eps))
			}
			fmt.Fprintf(tw, "%s\t%.4f\t[%.4f, %.4f] 95%% Wilson\n", what, e.Robust, e.RobustCI95[0], e.RobustCI95[1])
		}
		if len(r.Evaluations) == 0 && r.Accuracy != nil {
			fmt.Fprintf(tw, "robust accuracy (worst case)\t%.4f\n", *r.Accuracy)
		}
	}
	if perClass {
		for _, c := range r.PerClass {
			fmt.Fprintf(tw, "  class %s\t%.4f\t(n=%d)\n", c.Class, c.Accuracy, c.N)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Checks go below the table, one line each: their long names would
	// otherwise widen its first column for every row.
	for _, c := range r.Checks {
		verdict := "ok"
		if !c.Passed {
			verdict = "WARNING: possible gradient masking"
		}
		if _, err := fmt.Fprintf(w, "check: %s: %s; %s\n", c.Name, verdict, c.Detail); err != nil {
			return err
		}
	}
	return nil
}

// WriteMarkdown prints a result as Markdown: first one RobustBench-style
// row per threat model and eps (model, data, threat model, eps, clean and
// robust accuracy with their 95% Wilson intervals, the attacks, n and the
// checkpoint), then every attack's accuracy and the masking checks.
func WriteMarkdown(w io.Writer, r Result, perClass bool) error {
	var b strings.Builder
	if len(r.Evaluations) > 0 {
		fmt.Fprintf(&b, "| model | data | threat model | eps | clean accuracy | robust accuracy | attacks | n | checkpoint (SHA-256) |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, e := range r.Evaluations {
			clean := "–"
			if e.CleanAccuracy != nil {
				clean = fmt.Sprintf("%.2f%%", 100**e.CleanAccuracy)
				if ci := e.CleanCI95; ci != nil {
					clean += fmt.Sprintf(" [%.1f, %.1f]", 100*ci[0], 100*ci[1])
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | **%.2f%%** [%.1f, %.1f] | %s | %d | %s |\n",
				orDash(modelName(r)), orDash(dataName(r)), threatName(e.ThreatModel), fmtEps(e.Eps), clean,
				100*e.Robust, 100*e.RobustCI95[0], 100*e.RobustCI95[1], strings.Join(e.Attacks, ", "), e.N, orDash(short(r.Checkpoint)))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "| evaluation | accuracy |\n|---|---|\n")
	if r.CleanAccuracy != nil {
		fmt.Fprintf(&b, "| clean | %.2f%% |\n", 100**r.CleanAccuracy)
	}
	for _, a := range r.Attacks {
		if a.Attack == "clean" {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.2f%% |\n", a.Label(), 100*a.Accuracy)
		for _, m := range a.Members {
			fmt.Fprintf(&b, "| &nbsp;&nbsp;after %s (broke %d of %d) | %.2f%% |\n", memberLabel(m), m.Broken, m.Attacked, 100*m.AccuracyAfter)
		}
	}
	if len(r.Evaluations) > 1 {
		for _, e := range r.Evaluations {
			fmt.Fprintf(&b, "| **worst case** at %s eps=%s (n=%d) | **%.2f%%** |\n", e.ThreatModel, fmtEps(e.Eps), e.N, 100*e.Robust)
		}
	} else if r.Accuracy != nil {
		fmt.Fprintf(&b, "| **worst case** (n=%d) | **%.2f%%** |\n", r.N, 100**r.Accuracy)
	}
	if perClass {
		fmt.Fprintf(&b, "\n| class | n | accuracy |\n|---|---|---|\n")
		for _, c := range r.PerClass {
			fmt.Fprintf(&b, "| %s | %d | %.2f%% |\n", c.Class, c.N, 100*c.Accuracy)
		}
	}
	if len(r.Checks) > 0 {
		fmt.Fprintf(&b, "\n| gradient-masking check | result | detail |\n|---|---|---|\n")
		for _, c := range r.Checks {
			v := "pass"
			if !c.Passed {
				v = "**FAIL**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, v, c.Detail)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// memberLabel names a suite member with how it saw the model.
func memberLabel(m MemberResult) string {
	if m.Via != "" && !strings.Contains(m.Name, m.Via) {
		return m.Name + " (" + m.Via + ")"
	}
	return m.Name
}

func cleanCI(r Result) string {
	if len(r.Evaluations) == 0 || r.Evaluations[0].CleanCI95 == nil {
		return ""
	}
	ci := r.Evaluations[0].CleanCI95
	return fmt.Sprintf("\t[%.4f, %.4f] 95%% Wilson", ci[0], ci[1])
}

func fmtEps(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func threatName(n string) string {
	switch n {
	case "linf":
		return "L∞"
	case "l2":
		return "L2"
	case "l1":
		return "L1"
	}
	return n
}

// dataName is the data's dataset and split, e.g. "mnist (test)".
func dataName(r Result) string {
	if r.Split == "" {
		return r.Dataset
	}
	return r.Dataset + " (" + r.Split + ")"
}

// modelName summarises the model from its training recipe: architecture,
// adversarial training and budget, epochs, SGN, e.g. "madry-mnist, fgsm
// eps=0.3, 2 epochs"; or its description without a recipe.
func modelName(r Result) string {
	var c struct {
		Arch   string          `json:"arch"`
		Epochs int             `json:"epochs"`
		Adv    string          `json:"adv"`
		Eps    float64         `json:"eps"`
		Norm   string          `json:"norm"`
		Steps  int             `json:"steps"`
		SGN    json.RawMessage `json:"sgn"`
	}
	if len(r.Recipe) == 0 || json.Unmarshal(r.Recipe, &c) != nil || c.Arch == "" {
		if i := strings.Index(r.Model, ","); i > 0 {
			return r.Model[:i]
		}
		return r.Model
	}
	parts := []string{c.Arch}
	if len(c.SGN) > 0 && string(c.SGN) != "null" {
		parts[0] += " SGN"
	}
	switch c.Adv {
	case "", "none":
		parts = append(parts, "standard training")
	default:
		adv := c.Adv
		if c.Adv == "pgd" || c.Adv == "trades" {
			adv += "-" + strconv.Itoa(c.Steps)
		}
		parts = append(parts, fmt.Sprintf("%s %s eps=%s", adv, c.Norm, strconv.FormatFloat(c.Eps, 'g', 6, 64)))
	}
	if c.Epochs > 0 {
		parts = append(parts, fmt.Sprintf("%d epoch%s", c.Epochs, map[bool]string{false: "s"}[c.Epochs == 1]))
	}
	return strings.Join(parts, ", ")
}
