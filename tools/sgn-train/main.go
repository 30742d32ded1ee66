// Command sgn-train trains a classifier on an example stream and writes a
// checkpoint: plain, adversarial (FGSM, PGD, TRADES), and self-gradient
// networks.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sgn/format/stream"
	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/outfile"
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
	if *outPath == "" && *resume != "" {
		*outPath = *resume
	}
	if *saveEvery < 0 {
		return cli.Usagef("-save-every %d: want a positive number of steps", *saveEvery)
	}
	if *saveEvery > 0 && *outPath == "" {
		return cli.Usagef("-save-every needs -o FILE: the numbered checkpoints are named after it")
	}
	if *dataPath == "" {
		if _, err := cli.FromStdin(stdin, "the examples", "-data FILE"); err != nil {
			return err
		}
	}
	if *outPath == "" && cli.IsTerminal(stdout) {
		return cli.Usagef("refusing to write a checkpoint to a terminal: use -o FILE or redirect stdout")
	}
	// The output is checked before the data is read and a first epoch is
	// trained. A device or FIFO gets the final checkpoint only.
	var out *outfile.Target
	if *outPath != "" {
		var err error
		if out, err = outfile.Inspect(*outPath); err != nil {
			return err
		}
		if *saveEvery > 0 && !out.Replaceable() {
			return cli.Usagef("-save-every needs -o to be a regular file, not %s: the numbered checkpoints are named after it", *outPath)
		}
	}

	// A new run refuses, from the stream's header, a model that cannot be
	// built for its examples before it reads them.
	checkHeader := func(h stream.Header, name string) error {
		if *resume != "" || len(h.Shape) == 0 {
			return nil
		}
		c, err := settings.Config(h.Shape[0])
		if err != nil {
			return nil // reported with the other settings below
		}
		return train.CheckModel(c, h, name)
	}
	data, err := readData(ctx, *dataPath, stdin, checkHeader)
	if err != nil {
		return err
	}
	channels := data.Header.Shape[0]

	// The run a new command line describes; on -resume, what it asks of the
	// saved run.
	cfg, cfgErr := settings.Config(channels)

	var t *train.Trainer
	if *resume != "" {
		cls, err := classifier.LoadFile(*resume)
		if err != nil {
			return err
		}
		if t, err = train.Resume(cls, data); err != nil {
			return fmt.Errorf("%s: %w", *resume, err)
		}
		// The run's settings are in the checkpoint. The command line that
		// started it may be given again, but a setting it changes would be
		// silently ignored, so it is refused; only the length may change.
		if changed := settings.ResumeConflicts(t.Config(), channels); len(changed) > 0 {
			t.Close()
			return cli.Usagef("%s: a resumed run keeps the settings in %s; only -epochs can change", strings.Join(changed, ", "), *resume)
		}
		extended := false
		if was := t.Config().Epochs; isSet(fs, "epochs") && cfg.Epochs != was {
			if err := t.Extend(cfg.Epochs); err != nil {
				t.Close()
				return cli.Usagef("-epochs %d: %v", cfg.Epochs, err)
			}
			extended = true
			fmt.Fprintf(stderr, "sgn-train: the run in %s now lasts %s instead of %d", *resume, cli.Count(cfg.Epochs, "epoch"), was)
			if c := t.Config(); c.Schedule != "constant" && t.Progress().Step > 0 {
				fmt.Fprintf(stderr, "; the %s schedule is recomputed for the new length, so the learning rate changes at once", c.Schedule)
			}
			fmt.Fprintln(stderr)
		}
		if p := t.Progress(); p.Epoch >= t.Config().Epochs {
			defer t.Close()
			fmt.Fprintf(stderr, "sgn-train: the run in %s is complete (%d of %s); nothing to train\n", *resume, p.Epoch, cli.Count(t.Config().Epochs, "epoch"))
			if *outPath != *resume || extended {
				// The finished run, with its record brought up to date, is
				// the result asked for at -o.
				snap, err := t.Snapshot()
				if err != nil {
					return err
				}
				if err := snap.SaveTo(out); err != nil {
					return err
				}
			}
			return nil
		}
	} else {
		// A setting out of range is a usage error, not a failure of the run.
		if cfgErr != nil {
			return cli.Usagef("%v", cfgErr)
		}
		if t, err = train.New(cfg, data); err != nil {
			return err
		}
	}
	defer t.Close()

	var logFile *os.File
	if *logPath != "" {
		if logFile, err = os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		defer logFile.Close()
	}
	c := t.Config()
	fmt.Fprintf(stderr, "sgn-train: %s on %s (%s), %s of %s, adv=%s eps=%.4g\n",
		c.Arch, cli.Count(data.Examples.Len()-c.Val, "example"), data.Header.Metadata[stream.MetaDataset], cli.Count(c.Epochs, "epoch"), cli.Count(t.Batches(), "batch/batches"), c.Adv, c.Eps)

	var last *classifier.Classifier
	bar := cli.NewProgress(stderr, cli.IsTerminal(stderr))
	hooks := train.Hooks{
		Batch: func(epoch, b, n int, loss float64) {
			bar.Update(fmt.Sprintf("epoch %d/%d", epoch+1, c.Epochs), b, n, fmt.Sprintf("loss %.4f", loss))
		},
		Epoch: func(r train.Record) error {
			bar.Done()
			line := fmt.Sprintf("epoch %d/%d: loss %.4f train acc %.4f", r.Epoch, c.Epochs, r.TrainLoss, r.TrainAcc)
			if r.TrainExamples == 0 {
				line = fmt.Sprintf("epoch %d/%d: trained before the resume (its loss was not recorded)", r.Epoch, c.Epochs)
			}
			if r.ValClean != nil {
				line += fmt.Sprintf(" val clean %.4f val pgd-%d %.4f", *r.ValClean, c.ValSteps, *r.ValPGD)
			}
			fmt.Fprintf(stderr, "%s (%.1fs, %.0f ms/step)\n", line, r.EpochSeconds, r.StepMillis)
			if logFile != nil {
				b, _ := json.Marshal(r)
				if _, err := logFile.Write(append(b, '\n')); err != nil {
					return fmt.Errorf("write log: %w", err)
				}
			}
			return nil
		},
		Save: func(snap *classifier.Classifier) error {
			last = snap
			if out != nil && out.Replaceable() {
				return snap.SaveTo(out)
			}
			return nil
		},
	}
	if *saveEvery > 0 {
		hooks.Every = *saveEvery
		hooks.Snapshot = func(step int, snap *classifier.Classifier) error {
			return snap.Save(StepPath(*outPath, step))
		}
	}
	runErr := t.Run(ctx, hooks)
	bar.Done()
	if errors.Is(runErr, train.ErrDiverged) {
		where := "no checkpoint was written"
		if last != nil && out != nil && out.Replaceable() {
			where = "the last good checkpoint is " + *outPath
		}
		return fmt.Errorf("%w; %s", runErr, where)
	}
	if last != nil && (runErr == nil || ctx.Err() != nil) {
		switch {
		case out == nil:
			if err := last.Encode(stdout); err != nil {
				return fmt.Errorf("write checkpoint to stdout: %w", err)
			}
		case !out.Replaceable():
			if err := last.SaveTo(out); err != nil {
				return err
			}
		}
	}
	return runErr
}

// StepPath is where -save-every puts the checkpoint of step: beside the
// -o file, with the step number, zero-padded so that names sort by step.
func StepPath(out string, step int) string {
	return fmt.Sprintf("%s-step%07d.sgn", strings.TrimSuffix(out, ".sgn"), step)
}

// readData reads the examples at path (or stdin), calling check with
// their header before it reads any of them.
func readData(ctx context.Context, path string, stdin io.Reader, check func(stream.Header, string) error) (train.Data, error) {
	r, name := stdin, "stdin"
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return train.Data{}, err
		}
		defer f.Close()
		r, name = f, path
	}
	var refused error // check's, which names the examples itself
	h, b, err := stream.ReadAllChecked(cli.Interruptible(ctx, r), func(h stream.Header) error {
		refused = check(h, name)
		return refused
	})
	if refused != nil {
		return train.Data{}, refused
	}
	if err != nil {
		return train.Data{}, fmt.Errorf("read examples from %s: %w", name, err)
	}
	if b == nil || b.Len() == 0 {
		return train.Data{}, fmt.Errorf("read examples from %s: the stream holds no examples", name)
	}
	return train.Data{Header: h, Examples: b, Name: name}, nil
}

// isSet reports whether the command line gave the flag name.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
