// Command sgn-score reports accuracy: of a model on example streams, or
// under attack from the predictions attack streams carry.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/score"
)

const synopsis = `sgn-score [-model FILE] [-json | -md] [STREAM...]

Reads example streams (the files named, else stdin). Attack streams are
scored from the predictions they carry; with -model every stream's images
are run through the model instead. Several attack streams over the same
examples are merged per example (worst case); shards are concatenated.`

const examples = `  sgn-fetch -split test mnist | sgn-score -model model.sgn
  sgn-attack -pgd -data test.arrow < model.sgn | sgn-score -json
  sgn-score pgd.arrow cw.arrow square.arrow`

func main() { cli.Main("sgn-score", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-score", synopsis, examples, stderr)
	modelPath := fs.String("model", "", "checkpoint `FILE` to run the examples through")
	asJSON := fs.Bool("json", false, "print one JSON object")
	asMD := fs.Bool("md", false, "print a Markdown table")
	perClass := fs.Bool("per-class", false, "also print per-class accuracy")
	batch := fs.Int("batch", 256, "batch size when running a model")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *asJSON && *asMD {
		return cli.Usagef("-json and -md exclude each other")
	}
	var cls *classifier.Classifier
	if *modelPath != "" {
		var err error
		if cls, err = classifier.LoadFile(*modelPath); err != nil {
			return err
		}
	}
	scorer := score.NewScorer(cls, *batch)
	defer scorer.Close()
	inputs := fs.Args()
	if len(inputs) == 0 {
		if err := scorer.Read("stdin", stdin); err != nil {
			return err
		}
	}
	for _, path := range inputs {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = scorer.Read(path, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	res, err := scorer.Result()
	if err != nil {
		return err
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
