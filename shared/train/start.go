package train

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sgn/format/stream"
	"sgn/shared/classifier"
	"sgn/shared/cli"
)

// ReadData reads a training set from r, named name in messages, calling
// check with its header before it reads any example, so that a run that
// cannot use the examples refuses them at once.
func ReadData(r io.Reader, name string, check func(stream.Header, string) error) (Data, error) {
	var refused error // check's, which names the examples itself
	h, b, err := stream.ReadAllChecked(r, func(h stream.Header) error {
		refused = check(h, name)
		return refused
	})
	if refused != nil {
		return Data{}, refused
	}
	if err != nil {
		return Data{}, fmt.Errorf("read examples from %s: %w", name, err)
	}
	if b == nil || b.Len() == 0 {
		return Data{}, fmt.Errorf("read examples from %s: the stream holds no examples", name)
	}
	return Data{Header: h, Examples: b, Name: name}, nil
}

// CheckHeader returns the check ReadData makes of a stream's header for
// the command line's run: a new run refuses a model that cannot be built
// for its examples; a resumed run (resuming) checks its data with the
// checkpoint later.
func (f *Flags) CheckHeader(resuming bool) func(stream.Header, string) error {
	return func(h stream.Header, name string) error {
		if resuming || len(h.Shape) == 0 {
			return nil
		}
		c, err := f.Config(h.Shape[0])
		if err != nil {
			return nil // reported with the other settings by Start
		}
		return CheckModel(c, h, name)
	}
}

// Start returns the trainer of the run the command line asks for on data:
// a new run or, when saved is not nil, the run saved in that checkpoint,
// named path in messages. A resumed run keeps the settings saved with it:
// a flag that changes one would be silently ignored, so it is refused;
// only -epochs may change, and note then says what the new length does.
// Errors in the command line are cli.UsageErrors.
func (f *Flags) Start(data Data, saved *classifier.Classifier, path string) (t *Trainer, note string, err error) {
	channels := data.Header.Shape[0]
	cfg, cfgErr := f.Config(channels)
	if saved == nil {
		// A setting out of range is a usage error, not a failure of the run.
		if cfgErr != nil {
			return nil, "", cli.Usagef("%v", cfgErr)
		}
		t, err := New(cfg, data)
		return t, "", err
	}
	if t, err = Resume(saved, data); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if changed := f.ResumeConflicts(t.Config(), channels); len(changed) > 0 {
		t.Close()
		return nil, "", cli.Usagef("%s: a resumed run keeps the settings in %s; only -epochs can change", strings.Join(changed, ", "), path)
	}
	if was := t.Config().Epochs; f.set()["epochs"] && cfg.Epochs != was {
		if err := t.Extend(cfg.Epochs); err != nil {
			t.Close()
			return nil, "", cli.Usagef("-epochs %d: %v", cfg.Epochs, err)
		}
		note = fmt.Sprintf("the run in %s now lasts %s instead of %d", path, cli.Count(cfg.Epochs, "epoch"), was)
		if c := t.Config(); c.Schedule != "constant" && t.Progress().Step > 0 {
			note += fmt.Sprintf("; the %s schedule is recomputed for the new length, so the learning rate changes at once", c.Schedule)
		}
	}
	return t, note, nil
}

// Complete reports whether the run has no epoch left to train.
func (t *Trainer) Complete() bool { return t.progress.Epoch >= t.cfg.Epochs }

// Summary describes the run in a line: the model, the examples trained
// on, its length and its adversarial training.
func (t *Trainer) Summary() string {
	c := t.cfg
	return fmt.Sprintf("%s on %s (%s), %s of %s, adv=%s eps=%.4g",
		c.Arch, cli.Count(t.data.Examples.Len()-c.Val, "example"), t.data.Header.Metadata[stream.MetaDataset], cli.Count(c.Epochs, "epoch"), cli.Count(t.Batches(), "batch/batches"), c.Adv, c.Eps)
}

// Report returns hooks that report the run of c as it goes: a progress
// bar over each epoch's batches, a line per epoch on w and, when log is
// not nil, the epoch's Record as a line of JSON on log.
func Report(c Config, bar *cli.Progress, w, log io.Writer) Hooks {
	return Hooks{
		Batch: func(epoch, b, n int, loss float64) {
			bar.Update(fmt.Sprintf("epoch %d/%d", epoch+1, c.Epochs), b, n, fmt.Sprintf("loss %.4f", loss))
		},
		Epoch: func(r Record) error {
			bar.Done()
			fmt.Fprintln(w, EpochLine(r, c))
			if log != nil {
				b, _ := json.Marshal(r)
				if _, err := log.Write(append(b, '\n')); err != nil {
					return fmt.Errorf("write log: %w", err)
				}
			}
			return nil
		},
	}
}

// EpochLine is the line that reports an epoch of the run of c.
func EpochLine(r Record, c Config) string {
	line := fmt.Sprintf("epoch %d/%d: loss %.4f train acc %.4f", r.Epoch, c.Epochs, r.TrainLoss, r.TrainAcc)
	if r.TrainExamples == 0 {
		line = fmt.Sprintf("epoch %d/%d: trained before the resume (its loss was not recorded)", r.Epoch, c.Epochs)
	}
	if r.ValClean != nil {
		line += fmt.Sprintf(" val clean %.4f val pgd-%d %.4f", *r.ValClean, c.ValSteps, *r.ValPGD)
	}
	return fmt.Sprintf("%s (%.1fs, %.0f ms/step)", line, r.EpochSeconds, r.StepMillis)
}
