package cli

import (
	"context"
	"io"
	"os"

	"sgn/shared/outfile"
)

// FromStdin returns stdin for reading what (such as "the checkpoint"),
// or a UsageError when stdin is a terminal: binary input is never typed,
// and a tool waiting silently for it looks hung. instead says how else to
// give it (such as "-model FILE").
func FromStdin(stdin io.Reader, what, instead string) (io.Reader, error) {
	if IsTerminal(stdin) {
		return nil, Usagef("%s would come from stdin, which is a terminal: give %s or redirect stdin", what, instead)
	}
	return stdin, nil
}

// OpenInputs opens a tool's checkpoint and example inputs: each from its
// file when named, otherwise from stdin, which must not be a terminal.
// Both cannot come from stdin.
func OpenInputs(modelPath, dataPath string, stdin io.Reader) (model, data io.Reader, closeAll func(), err error) {
	if modelPath == "" && dataPath == "" {
		return nil, nil, nil, Usagef("give -model FILE or -data FILE: the checkpoint and the examples cannot both come from stdin")
	}
	switch {
	case modelPath == "":
		_, err = FromStdin(stdin, "the checkpoint", "-model FILE")
	case dataPath == "":
		_, err = FromStdin(stdin, "the examples", "-data FILE")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	var files []*os.File
	closeAll = func() {
		for _, f := range files {
			f.Close()
		}
	}
	open := func(path string) (io.Reader, error) {
		if path == "" {
			return stdin, nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		return f, nil
	}
	if model, err = open(modelPath); err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	if data, err = open(dataPath); err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return model, data, closeAll, nil
}

// CreateOutput returns where a tool writes its result: stdout, or the
// file at path as package outfile writes it (a regular file through a
// temporary file beside it that commit(true) moves into place, a device or
// FIFO directly, a symbolic link's target), so a failed run never leaves a
// half-made file at path nor overwrites a good one, and never replaces what
// is not a regular file. The path is checked at once, before the tool does
// any work. commit(false) drops the output; calling it after a successful
// commit does nothing.
func CreateOutput(path string, stdout io.Writer) (w io.Writer, commit func(ok bool) error, err error) {
	if path == "" {
		if IsTerminal(stdout) {
			return nil, nil, Usagef("refusing to write binary data to a terminal: use -o FILE or redirect stdout")
		}
		return stdout, func(bool) error { return nil }, nil
	}
	t, err := outfile.Inspect(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := t.Create()
	if err != nil {
		return nil, nil, err
	}
	return f, func(ok bool) error {
		if !ok {
			f.Abort()
			return nil
		}
		return f.Commit()
	}, nil
}

// Interruptible returns a reader of r that fails with ctx's cause once ctx
// is done, so that a tool reading a long input stops at its next read.
func Interruptible(ctx context.Context, r io.Reader) io.Reader {
	return interruptible{ctx, r}
}

type interruptible struct {
	ctx context.Context
	r   io.Reader
}

func (i interruptible) Read(p []byte) (int, error) {
	if i.ctx.Err() != nil {
		return 0, context.Cause(i.ctx)
	}
	return i.r.Read(p)
}
