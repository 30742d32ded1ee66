// Command sgn-train trains a classifier on an example stream and writes a
// checkpoint: plain, adversarial (FGSM, PGD, TRADES), and self-gradient
// networks.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/train"
)

const synopsis = `sgn-train [flags] [-data FILE] [-o FILE]

Reads an example stream (stdin unless -data) and writes a checkpoint to -o
(rewritten atomically after every epoch) or, when -o is not given, to stdout
at the end. SIGINT or SIGTERM saves a checkpoint at the end of the current
batch; -resume continues from it, with the settings saved in it and the
same data; -resume with a larger -epochs lengthens a run, finished or not.`

const examples = `  sgn-fetch mnist | sgn-train -epochs 1 -o plain.sgn
  sgn-fetch mnist | sgn-train -adv pgd -eps 0.3 -val 1000 -log pgd.jsonl -o pgd.sgn
  sgn-fetch mnist | sgn-train -sgn -sg-taps input -sg-gate learned -adv fgsm -o sgn.sgn
  sgn-fetch cifar10 | sgn-train -arch preact-resnet18 -adv fgsm -epochs 15 -o fast.sgn
  sgn-train -data train.arrows -adv fgsm -epochs 5 -save-every 100 -o fgsm.sgn
  sgn-train -data train.arrows -resume pgd.sgn
  sgn-train -data train.arrows -resume pgd.sgn -epochs 20`

func main() { cli.Main("sgn-train", run) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sgn-train", synopsis, examples, stderr)
	var (
		dataPath  = fs.String("data", "", "example stream `FILE` (default stdin)")
		outPath   = fs.String("o", "", "checkpoint `FILE` (default stdout)")
		logPath   = fs.String("log", "", "append one JSON record per epoch to `FILE`")
		resume    = fs.String("resume", "", "continue the run saved in checkpoint `FILE`")
		saveEvery = fs.Int("save-every", 0, "also save a numbered checkpoint every `STEPS` optimiser steps (FILE-step0000100.sgn for -o FILE.sgn), for convergence curves")
		settings  = train.NewFlags(fs)
	)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	out, err := train.NewOutput(*outPath, *resume, *saveEvery)
	if err != nil {
		return err
	}
	in, name := stdin, "stdin"
	if *dataPath == "" {
		if _, err := cli.FromStdin(stdin, "the examples", "-data FILE"); err != nil {
			return err
		}
	}
	if err := out.Check(stdout); err != nil {
		return err
	}
	if *dataPath != "" {
		f, err := os.Open(*dataPath)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, *dataPath
	}
	data, err := train.ReadData(cli.Interruptible(ctx, in), name, settings.CheckHeader(*resume != ""))
	if err != nil {
		return err
	}
	var saved *classifier.Classifier
	if *resume != "" {
		if saved, err = classifier.LoadFile(*resume); err != nil {
			return err
		}
	}
	t, note, err := settings.Start(data, saved, *resume)
	if err != nil {
		return err
	}
	defer t.Close()
	if note != "" {
		fmt.Fprintf(stderr, "sgn-train: %s\n", note)
	}
	if t.Complete() {
		fmt.Fprintf(stderr, "sgn-train: the run in %s is complete (%d of %s); nothing to train\n", *resume, t.Progress().Epoch, cli.Count(t.Config().Epochs, "epoch"))
		if out.Path != *resume || note != "" {
			// The finished run, with its record brought up to date, is the
			// result asked for at -o.
			return out.Save(t)
		}
		return nil
	}
	var log io.Writer
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		defer f.Close()
		log = f
	}
	fmt.Fprintf(stderr, "sgn-train: %s\n", t.Summary())
	bar := cli.NewProgress(stderr, cli.IsTerminal(stderr))
	hooks := train.Report(t.Config(), bar, stderr, log)
	out.Watch(&hooks)
	err = t.Run(ctx, hooks)
	bar.Done()
	return out.Finish(ctx, err, stdout)
}
