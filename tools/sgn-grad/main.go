// Command sgn-grad writes, for each example, the gradient of the loss with
// respect to the input and, for a self-gradient network, its self-gradients
// at each tap, their norms and its gate values.
package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/engine"
	"sgn/shared/harness"
)

const synopsis = `sgn-grad -model FILE [-data FILE] [-self] [-loss ce|cw] [-o FILE]

Reads a checkpoint and an example stream (whichever of -model and -data is
not given comes from stdin) and writes a stream whose image column is the
gradient of the loss with respect to the input, with columns pred, loss,
grad_l2, grad_linf and, for an SGN, selfgrad.<tap> (the self-gradient at
the tap, a tensor column of the tapped activation's shape) and
selfgrad.<tap>.l2; the gates are in the metadata (sgn.gates). A summary of
the norms goes to stderr.`

const examples = `  sgn-grad -model sgn.sgn -data test.arrows > grads.arrows
  sgn-fetch -split test -limit 100 mnist | sgn-grad -model sgn.sgn -self -loss cw -o grads-cw.arrows`

func main() { cli.Main("sgn-grad", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-grad", synopsis, examples, stderr)
	modelPath := fs.String("model", "", "checkpoint `FILE` (default stdin)")
	dataPath := fs.String("data", "", "example stream `FILE` (default stdin)")
	outPath := fs.String("o", "", "output `FILE` (default stdout)")
	self := fs.Bool("self", false, "use the predicted label instead of the true one")
	lossName := fs.String("loss", "ce", "loss: ce or cw")
	batch := fs.Int("batch", 128, "batch size")
	zstd := fs.Bool("zstd", false, "compress the output stream with zstd")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	loss, err := engine.ParseLoss(*lossName)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if *batch < 1 {
		return cli.Usagef("-batch %d: want at least 1", *batch)
	}
	modelIn, data, closeIn, err := cli.OpenInputs(*modelPath, *dataPath, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	cls, err := classifier.Load(modelIn)
	if err != nil {
		return fmt.Errorf("load model %s: %w", orStdin(*modelPath), err)
	}
	out, commit, err := cli.CreateOutput(*outPath, stdout)
	if err != nil {
		return err
	}
	defer commit(false)
	sum, err := harness.Gradients(ctx, harness.GradConfig{Model: cls, Loss: loss, Self: *self, Batch: *batch, Zstd: *zstd, Source: orStdin(*dataPath)}, data, out)
	if err != nil {
		return err
	}
	if err := commit(true); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sgn-grad: %d examples, mean input-gradient L2 %.4g, L-inf %.4g", sum.N, sum.MeanL2, sum.MeanLinf)
	if sum.ZeroGradExamples > 0 {
		fmt.Fprintf(stderr, ", %d with a zero gradient", sum.ZeroGradExamples)
	}
	fmt.Fprintln(stderr)
	taps := make([]string, 0, len(sum.SelfGradMeanL2))
	for t := range sum.SelfGradMeanL2 {
		taps = append(taps, t)
	}
	slices.Sort(taps)
	for _, t := range taps {
		fmt.Fprintf(stderr, "sgn-grad: self-gradient at %s: mean L2 %.4g; gate mean %.4g\n", t, sum.SelfGradMeanL2[t], mean(sum.Gates[t]))
	}
	if sum.NonFiniteExamples > 0 {
		return fmt.Errorf("%d examples have a non-finite gradient", sum.NonFiniteExamples)
	}
	return nil
}

func mean(v []float32) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(len(v))
}

// orStdin names an input in messages: its file, or stdin.
func orStdin(path string) string {
	if path == "" {
		return "stdin"
	}
	return path
}
