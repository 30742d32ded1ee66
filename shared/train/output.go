package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"sgn/shared/classifier"
	"sgn/shared/cli"
	"sgn/shared/outfile"
)

// Output is where a run's checkpoints go: the file Path, rewritten
// atomically after every epoch when it is a regular file and written once
// at the end when it is a device or FIFO; stdout, at the end, when Path is
// empty; and, every SaveEvery optimiser steps, numbered checkpoints beside
// Path (see StepPath).
type Output struct {
	Path      string
	SaveEvery int
	target    *outfile.Target        // nil for stdout
	last      *classifier.Classifier // the last snapshot saved
}

// NewOutput returns the output of a run given -o path, -resume resume and
// -save-every saveEvery. A resumed run is written back to its checkpoint
// unless told otherwise. Its error is the user's.
func NewOutput(path, resume string, saveEvery int) (*Output, error) {
	if path == "" && resume != "" {
		path = resume
	}
	if saveEvery < 0 {
		return nil, cli.Usagef("-save-every %d: want a positive number of steps", saveEvery)
	}
	if saveEvery > 0 && path == "" {
		return nil, cli.Usagef("-save-every needs -o FILE: the numbered checkpoints are named after it")
	}
	return &Output{Path: path, SaveEvery: saveEvery}, nil
}

// Check refuses an output that cannot take the checkpoints, before any
// data is read and a first epoch is trained: a terminal, for stdout
// (binary data is not for reading there); a path outfile.Inspect refuses;
// numbered checkpoints beside what is not a regular file.
func (o *Output) Check(stdout io.Writer) error {
	if o.Path == "" {
		if cli.IsTerminal(stdout) {
			return cli.Usagef("refusing to write a checkpoint to a terminal: use -o FILE or redirect stdout")
		}
		return nil
	}
	t, err := outfile.Inspect(o.Path)
	if err != nil {
		return err
	}
	if o.SaveEvery > 0 && !t.Replaceable() {
		return cli.Usagef("-save-every needs -o to be a regular file, not %s: the numbered checkpoints are named after it", o.Path)
	}
	o.target = t
	return nil
}

// replaceable reports whether the output is rewritten after every epoch.
func (o *Output) replaceable() bool { return o.target != nil && o.target.Replaceable() }

// Watch sets the hooks that save the run's checkpoints as it goes.
func (o *Output) Watch(h *Hooks) {
	h.Save = func(snap *classifier.Classifier) error {
		o.last = snap
		if o.replaceable() {
			return snap.SaveTo(o.target)
		}
		return nil
	}
	if o.SaveEvery > 0 {
		h.Every = o.SaveEvery
		h.Snapshot = func(step int, snap *classifier.Classifier) error {
			return snap.Save(StepPath(o.Path, step))
		}
	}
}

// Save writes t's run as it stands to the output's file, for a resumed
// run that has nothing left to train.
func (o *Output) Save(t *Trainer) error {
	snap, err := t.Snapshot()
	if err != nil {
		return err
	}
	return snap.SaveTo(o.target)
}

// Finish ends a run that Run left with err, under ctx: it writes the last
// checkpoint where it was not written as the run went (stdout, a device or
// FIFO) when the run ended or was interrupted, and says, for a run that
// diverged, where its last good checkpoint is.
func (o *Output) Finish(ctx context.Context, err error, stdout io.Writer) error {
	if errors.Is(err, ErrDiverged) {
		where := "no checkpoint was written"
		if o.last != nil && o.replaceable() {
			where = "the last good checkpoint is " + o.Path
		}
		return fmt.Errorf("%w; %s", err, where)
	}
	if o.last != nil && (err == nil || ctx.Err() != nil) {
		switch {
		case o.target == nil:
			if err := o.last.Encode(stdout); err != nil {
				return fmt.Errorf("write checkpoint to stdout: %w", err)
			}
		case !o.target.Replaceable():
			if err := o.last.SaveTo(o.target); err != nil {
				return err
			}
		}
	}
	return err
}

// StepPath is where -save-every puts the checkpoint of step: beside the
// -o file, with the step number, zero-padded so that names sort by step.
func StepPath(out string, step int) string {
	return fmt.Sprintf("%s-step%07d.sgn", strings.TrimSuffix(out, ".sgn"), step)
}
