// Command sgn-score reports accuracy: of a model on example streams, or
// under attack from the predictions attack streams carry.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/plot"
	"sgn/shared/score"
)

const synopsis = `sgn-score [-model FILE] [-json | -md] [-plot FILE.png] [STREAM...]

Reads example streams (the files named, else stdin). Attack streams are
scored from the predictions they carry; with -model every stream's images
are run through the model instead. Several attack streams over the same
examples are merged per example: robust accuracy is the worst case over the
attacks of one threat model and eps, never across them, reported with its
95% Wilson interval; shards are concatenated. A suite's stream (sgn-attack
-suite) counts as one attack, shown member by member.

-json adds what a comparison needs: dataset, split, n, and per threat model
and eps (as a number) the clean and robust accuracy with their intervals
and the attacks run; the checkpoint's SHA-256 and training recipe (from the
streams, or from -model). -md prints a RobustBench-style row per threat
model and eps, then every attack.

-plot draws PNG figures: when the attacks span several eps values, accuracy
against eps in FILE.png (a line per attack and the worst case) and the
examples in FILE-examples.png; otherwise the examples in FILE.png. The
examples grid shows the first 8 examples, adversarial under each attack,
and clean when a plain example stream is among the inputs (without -model it
is not scored, only shown: example i is the one at its position i).`

const examples = `  sgn-fetch -split test mnist | sgn-score -model model.sgn
  sgn-attack -pgd -data test.arrows < model.sgn | sgn-score -json
  sgn-score pgd.arrows cw.arrows square.arrows
  sgn-score -md aa.0.arrows aa.1.arrows
  sgn-score -plot robust.png test.arrows pgd-0.1.arrows pgd-0.2.arrows pgd-0.3.arrows`

func main() { cli.Main("sgn-score", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-score", synopsis, examples, stderr)
	modelPath := fs.String("model", "", "checkpoint `FILE` to run the examples through")
	asJSON := fs.Bool("json", false, "print one JSON object")
	asMD := fs.Bool("md", false, "print a Markdown table")
	perClass := fs.Bool("per-class", false, "also print per-class accuracy")
	batch := fs.Int("batch", 256, "batch size when running a model")
	plotPath := fs.String("plot", "", "draw PNG figures to `FILE.png` (and FILE-examples.png when there are several eps)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *asJSON && *asMD {
		return cli.Usagef("-json and -md exclude each other")
	}
	if *batch < 1 {
		return cli.Usagef("-batch %d: want at least 1", *batch)
	}
	in := stdin
	if fs.NArg() == 0 {
		var err error
		if in, err = cli.FromStdin(stdin, "the streams to score", "STREAM files"); err != nil {
			return err
		}
	}
	var cls *classifier.Classifier
	var opts []score.Option
	if *modelPath != "" {
		var err error
		if cls, err = classifier.LoadFile(*modelPath); err != nil {
			return err
		}
		sum, err := fileSHA256(*modelPath)
		if err != nil {
			return err
		}
		opts = append(opts, score.WithCheckpoint(sum))
	}
	if *plotPath != "" {
		opts = append(opts, score.WithImages())
	}
	scorer := score.NewScorer(cls, *batch, opts...)
	defer scorer.Close()
	inputs := fs.Args()
	if len(inputs) == 0 {
		if err := scorer.Read(ctx, "stdin", in); err != nil {
			return err
		}
	}
	for _, path := range inputs {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = scorer.Read(ctx, path, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	res, err := scorer.Result()
	if err != nil {
		return err
	}
	if *plotPath != "" {
		g, err := scorer.Gallery()
		if err != nil {
			return err
		}
		if _, err := plot.Save(*plotPath, res, g); err != nil {
			return err
		}
	}
	switch {
	case *asJSON:
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	case *asMD:
		return score.WriteMarkdown(stdout, res, *perClass)
	}
	return score.WriteTable(stdout, res, *perClass)
}

// fileSHA256 returns the hex SHA-256 of a file, as sha256sum prints it.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
