// Command sgn-attack crafts adversarial examples against a checkpoint and
// writes them as an attack stream for sgn-score.
package main

import (
	"context"
	"fmt"
	"io"

	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/harness"
)

const synopsis = `sgn-attack -fgsm|-pgd|-cw|-apgd|-fab|-square|-suite standard|sgn [flags] [-model FILE] [-data FILE] [-o FILE]

Attacks the examples of -data (or stdin) against the checkpoint -model (or
stdin) and writes an attack stream: the adversarial images with label,
index, clean_pred, adv_pred, linf, l2 and l1 columns and the attack in the
metadata, with the checkpoint's SHA-256 and training recipe. For an SGN the
attacker differentiates through the exact self-gradient path unless told
otherwise.

-suite standard runs AutoAttack's standard suite (Croce and Hein, 2020):
APGD-CE, APGD-T (targeted DLR loss, 9 target classes), FAB-T (9 target
classes) and Square (5,000 queries), each on the examples no attack before
it broke; L1 runs APGD-CE and APGD-T. The stream's broken_by column says
which attack broke each example. -suite sgn adds, for an SGN, APGD-CE
through the detached self-gradient path and through the smooth surrogate
tanh(s/TAU) of sign (-sg-surrogate, default 0.05), and APGD-CE transferred
from -transfer. A suite holds the examples of its shard in memory.

Progress goes to stderr: a bar with rate and time left at a terminal, one
line per attack otherwise.`

const examples = `  sgn-attack -pgd -data test.arrows < model.sgn | sgn-score
  sgn-attack -suite standard -eps 0.3 -model m.sgn -data test.arrows -o aa.arrows && sgn-score -md aa.arrows
  sgn-attack -suite sgn -transfer plain.sgn -eps 8/255 -model sgn.sgn -data test.arrows -o aa-sgn.arrows
  sgn-attack -apgd -targeted -model m.sgn -data test.arrows > apgd-t.arrows
  sgn-attack -fab -norm l2 -eps 2 -model m.sgn -data test.arrows > fab-t.arrows
  sgn-attack -apgd -norm l1 -eps 10 -model m.sgn -data test.arrows > apgd-l1.arrows
  sgn-attack -pgd -loss cw -restarts 5 -steps 100 -model m.sgn -data test.arrows -o pgd-cw.arrows
  sgn-attack -pgd -sg-grad detached -model sgn.sgn -data test.arrows > bpda.arrows
  sgn-attack -pgd -sg-surrogate 0.1 -model sgn.sgn -data test.arrows > smooth.arrows
  sgn-attack -square -eps 0.3 -model m.sgn -data test.arrows > square.arrows
  sgn-attack -pgd -transfer plain.sgn -model sgn.sgn -data test.arrows > transfer.arrows
  for i in 0 1; do sgn-attack -suite standard -shard $i/2 -model m.sgn -data test.arrows -o aa.$i.arrows & done`

func main() { cli.Main("sgn-attack", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-attack", synopsis, examples, stderr)
	var (
		modelPath = fs.String("model", "", "checkpoint `FILE` (default stdin)")
		dataPath  = fs.String("data", "", "example stream `FILE` (default stdin)")
		outPath   = fs.String("o", "", "output `FILE` (default stdout)")
		settings  = harness.NewFlags(fs)
	)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	opts, err := settings.Options()
	if err != nil {
		return err
	}
	modelIn, data, closeIn, err := cli.OpenInputs(*modelPath, *dataPath, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	// The stream names the checkpoint by the SHA-256 of its file.
	target, sum, err := classifier.LoadSum(modelIn)
	if err != nil {
		return fmt.Errorf("load model %s: %w", orStdin(*modelPath), err)
	}
	job, err := opts.Prepare(target, sum)
	if err != nil {
		return err
	}
	defer job.Close()
	out, commit, err := cli.CreateOutput(*outPath, stdout)
	if err != nil {
		return err
	}
	defer commit(false)
	for _, note := range job.Notes {
		fmt.Fprintf(stderr, "sgn-attack: %s\n", note)
	}
	bar := cli.NewProgress(stderr, cli.IsTerminal(stderr))
	summary, err := job.Run(ctx, data, *dataPath, cli.IsTerminal(stderr), out, harness.Watch{
		Step: func(s harness.Step) { bar.Update(s.Attack, s.Done, s.Total, "") },
		Line: func(line string) { bar.Done(); fmt.Fprintf(stderr, "sgn-attack: %s\n", line) },
	})
	if err != nil {
		return err
	}
	bar.Done()
	if err := commit(true); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sgn-attack: %s\n", summary)
	return nil
}

// orStdin names an input in messages: its file, or stdin.
func orStdin(path string) string {
	if path == "" {
		return "stdin"
	}
	return path
}
