package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// OpenInputs opens a tool's checkpoint and example inputs: each from its
// file when named, otherwise from stdin. Both cannot come from stdin.
func OpenInputs(modelPath, dataPath string, stdin io.Reader) (model, data io.Reader, closeAll func(), err error) {
	if modelPath == "" && dataPath == "" {
		return nil, nil, nil, Usagef("give -model FILE or -data FILE: the checkpoint and the examples cannot both come from stdin")
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

// CreateOutput returns where a tool writes its result: stdout, or a
// temporary file beside path that commit(true) moves into place (after
// fsync), so a failed run never leaves a half-made file at path nor
// overwrites a good one. commit(false) removes the temporary file; calling
// it after a successful commit does nothing.
func CreateOutput(path string, stdout io.Writer) (w io.Writer, commit func(ok bool) error, err error) {
	if path == "" {
		if IsTerminal(stdout) {
			return nil, nil, Usagef("refusing to write binary data to a terminal: use -o FILE or redirect stdout")
		}
		return stdout, func(bool) error { return nil }, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	// CreateTemp makes the file private; the result should have the
	// permissions of any new file.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	done := false
	commit = func(ok bool) error {
		if done {
			return nil
		}
		done = true
		if !ok {
			f.Close()
			os.Remove(f.Name())
			return nil
		}
		if err := f.Sync(); err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(f.Name(), path); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	return f, commit, nil
}
