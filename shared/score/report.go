package score

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints a result as an aligned text table.
func WriteTable(w io.Writer, r Result, perClass bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "examples\t%d\n", r.N)
	if r.CleanAccuracy != nil {
		fmt.Fprintf(tw, "clean accuracy\t%.4f\n", *r.CleanAccuracy)
	}
	if len(r.Attacks) > 1 || (len(r.Attacks) == 1 && r.Attacks[0].Attack != "clean") {
		for _, a := range r.Attacks {
			fmt.Fprintf(tw, "%s\t%.4f\n", a.Label(), a.Accuracy)
		}
		if len(r.ByEps) > 1 {
			for _, e := range r.ByEps {
				fmt.Fprintf(tw, "worst case at eps=%s\t%.4f\n", e.Eps, e.Accuracy)
			}
		}
		fmt.Fprintf(tw, "robust accuracy (worst case)\t%.4f\n", r.Accuracy)
	} else {
		fmt.Fprintf(tw, "accuracy\t%.4f\n", r.Accuracy)
	}
	if perClass {
		for _, c := range r.PerClass {
			fmt.Fprintf(tw, "  class %s\t%.4f\t(n=%d)\n", c.Class, c.Accuracy, c.N)
		}
	}
	for _, c := range r.Checks {
		verdict := "ok"
		if !c.Passed {
			verdict = "WARNING: possible gradient masking"
		}
		fmt.Fprintf(tw, "check: %s\t%s\t%s\n", c.Name, verdict, c.Detail)
	}
	return tw.Flush()
}

// WriteMarkdown prints a result as a Markdown table.
func WriteMarkdown(w io.Writer, r Result, perClass bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| evaluation | accuracy |\n|---|---|\n")
	if r.CleanAccuracy != nil {
		fmt.Fprintf(&b, "| clean | %.2f%% |\n", 100**r.CleanAccuracy)
	}
	for _, a := range r.Attacks {
		if a.Attack == "clean" {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.2f%% |\n", a.Label(), 100*a.Accuracy)
	}
	if len(r.ByEps) > 1 {
		for _, e := range r.ByEps {
			fmt.Fprintf(&b, "| worst case at eps=%s | %.2f%% |\n", e.Eps, 100*e.Accuracy)
		}
	}
	fmt.Fprintf(&b, "| **worst case** (n=%d) | **%.2f%%** |\n", r.N, 100*r.Accuracy)
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
