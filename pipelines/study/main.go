// Command sgn-study is the pipelines' helper for studies defined by a file
// of cells (pipelines/studies/*.tsv). The Makefile runs the sgn tools; this
// program only reads what they wrote:
//
//	sgn-study is-sgn MODEL                      prints yes for an SGN checkpoint, else no
//	sgn-study point -model M -score S [-seconds T] [-transfer TM]
//	                                            one evaluation (sgn-score -json S of attacks on M) as a curve point
//	sgn-study same-weights MODEL POINT [TRANSFER]
//	                                            prints yes if POINT was measured on MODEL's weights (and TRANSFER's
//	                                            for its transfer attack), else no
//	sgn-study merge POINT...                    the point of the union of disjoint shards' points
//	sgn-study only ATTACK POINT                 POINT as measured by ATTACK alone
//	sgn-study best DIR                          prints the best checkpoint of the curve in DIR
//	sgn-study cell -study FILE -cell C -dir D   a cell's result file, from its directory
//	sgn-study calibration METHOD=LOG...         each method's cost per training step on this machine (calibrate.sh)
//	sgn-study report -study FILE -results DIR   DIR/report.md and its plots, from DIR/cells/*.json alone
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"sgn/shared/classifier"
	"sgn/shared/cli"
)

func main() { cli.Main("sgn-study", run) }

func run(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cli.Usagef("want a command: is-sgn, same-weights, merge, only, best, point, cell, calibration or report")
	}
	fs := flag.NewFlagSet("sgn-study "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "is-sgn":
		if len(args) != 2 {
			return cli.Usagef("is-sgn MODEL")
		}
		cls, err := classifier.LoadFile(args[1])
		if err != nil {
			return err
		}
		if cls.SGN != nil {
			fmt.Fprintln(stdout, "yes")
		} else {
			fmt.Fprintln(stdout, "no")
		}
		return nil
	case "same-weights":
		if len(args) != 3 && len(args) != 4 {
			return cli.Usagef("same-weights MODEL POINT [TRANSFER]")
		}
		var transfer string
		if len(args) == 4 {
			transfer = args[3]
		}
		same, err := sameWeights(args[1], args[2], transfer)
		if err != nil {
			return err
		}
		if same {
			fmt.Fprintln(stdout, "yes")
		} else {
			fmt.Fprintln(stdout, "no")
		}
		return nil
	case "merge":
		if len(args) < 2 {
			return cli.Usagef("merge POINT...")
		}
		var shards []Point
		for _, path := range args[1:] {
			var p Point
			if err := readJSON(path, &p); err != nil {
				return err
			}
			shards = append(shards, p)
		}
		p, err := mergePoints(shards)
		if err != nil {
			return fmt.Errorf("merge %s: %w", strings.Join(args[1:], " "), err)
		}
		return writeJSON(stdout, p)
	case "only":
		if len(args) != 3 {
			return cli.Usagef("only ATTACK POINT")
		}
		var p Point
		if err := readJSON(args[2], &p); err != nil {
			return err
		}
		p, err := onlyAttack(p, args[1])
		if err != nil {
			return fmt.Errorf("%s: %w", args[2], err)
		}
		return writeJSON(stdout, p)
	case "best":
		if len(args) != 2 {
			return cli.Usagef("best DIR")
		}
		path, err := BestCheckpoint(args[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
		return nil
	case "point":
		model := fs.String("model", "", "the checkpoint attacked")
		scorePath := fs.String("score", "", "sgn-score -json of the attack streams")
		seconds := fs.Float64("seconds", 0, "wall time of the evaluation")
		transfer := fs.String("transfer", "", "the model a transfer attack crafted its examples on, if any")
		if err := fs.Parse(args[1:]); err != nil {
			return cli.Usagef("%v", err)
		}
		p, err := makePoint(*model, *scorePath, *seconds)
		if err != nil {
			return err
		}
		if *transfer != "" {
			if p.TransferWeights, err = fileWeightsSum(*transfer); err != nil {
				return err
			}
		}
		return writeJSON(stdout, p)
	case "cell":
		studyPath := fs.String("study", "", "the study file")
		name := fs.String("cell", "", "the cell")
		dir := fs.String("dir", "", "the cell's directory")
		if err := fs.Parse(args[1:]); err != nil {
			return cli.Usagef("%v", err)
		}
		rows, err := ReadStudy(*studyPath)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(rows, func(r Row) bool { return r.Cell == *name })
		if i < 0 {
			return fmt.Errorf("%s: no cell %q", *studyPath, *name)
		}
		c, err := makeCell(studyName(*studyPath), rows[i], *dir)
		if err != nil {
			return err
		}
		return writeJSON(stdout, c)
	case "calibration":
		if len(args) < 2 {
			return cli.Usagef("calibration METHOD=LOG...")
		}
		c, err := makeCalibration(args[1:])
		if err != nil {
			return err
		}
		return writeJSON(stdout, c)
	case "report":
		studyPath := fs.String("study", "", "the study file")
		results := fs.String("results", "", "the study's results directory (cells/*.json)")
		if err := fs.Parse(args[1:]); err != nil {
			return cli.Usagef("%v", err)
		}
		return writeReport(*studyPath, *results)
	}
	return cli.Usagef("unknown command %q: want is-sgn, same-weights, merge, only, best, point, cell, calibration or report", args[0])
}

// studyName is the study a file defines: its base name without extension.
func studyName(path string) string {
	base := filepath.Base(path)
	return base[:len(base)-len(filepath.Ext(base))]
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
