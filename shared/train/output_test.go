package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"sgn/shared/classifier"
	"sgn/shared/cli"
)

// terminal stands in for a terminal's stdout (see cli.IsTerminal).
type terminal struct{ bytes.Buffer }

func (*terminal) IsTerminal() bool { return true }

func isUsage(err error) bool {
	var ue *cli.UsageError
	return errors.As(err, &ue)
}

func TestNewOutput(t *testing.T) {
	tests := []struct {
		path, resume string
		every        int
		want         string // the output's path, or a substring of the refusal
		refused      bool
	}{
		{"m.sgn", "", 0, "m.sgn", false},
		{"", "", 0, "", false},
		{"", "run.sgn", 0, "run.sgn", false}, // a resumed run goes back to its checkpoint
		{"other.sgn", "run.sgn", 10, "other.sgn", false},
		{"", "run.sgn", 10, "run.sgn", false},
		{"m.sgn", "", -1, "-save-every -1: want a positive number", true},
		{"", "", 10, "-save-every needs -o FILE", true},
	}
	for _, tt := range tests {
		o, err := NewOutput(tt.path, tt.resume, tt.every)
		switch {
		case tt.refused && (err == nil || !isUsage(err) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("NewOutput(%q, %q, %d) = %v, want a usage error %q", tt.path, tt.resume, tt.every, err, tt.want)
		case !tt.refused && (err != nil || o.Path != tt.want || o.SaveEvery != tt.every):
			t.Errorf("NewOutput(%q, %q, %d) = %+v, %v; want path %q", tt.path, tt.resume, tt.every, o, err, tt.want)
		}
	}
}

func TestOutputCheck(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		every  int
		stdout io.Writer
		want   string // "" for accepted
	}{
		{"", 0, &bytes.Buffer{}, ""},
		{"", 0, &terminal{}, "refusing to write a checkpoint to a terminal"},
		{filepath.Join(dir, "m.sgn"), 10, &terminal{}, ""},
		{fifo, 0, &bytes.Buffer{}, ""},
		{fifo, 10, &bytes.Buffer{}, "needs -o to be a regular file"},
		{filepath.Join(dir, "missing", "m.sgn"), 0, &bytes.Buffer{}, "missing"},
	}
	for _, tt := range tests {
		o := &Output{Path: tt.path, SaveEvery: tt.every}
		err := o.Check(tt.stdout)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%q with -save-every %d to %T: %v, want %q", tt.path, tt.every, tt.stdout, err, tt.want)
		}
	}
}

func TestStepPath(t *testing.T) {
	tests := []struct {
		out  string
		step int
		want string
	}{
		{"m.sgn", 100, "m-step0000100.sgn"},
		{"runs/pgd.sgn", 1234567, "runs/pgd-step1234567.sgn"},
		{"m.ckpt", 5, "m.ckpt-step0000005.sgn"},
	}
	for _, tt := range tests {
		if got := StepPath(tt.out, tt.step); got != tt.want {
			t.Errorf("StepPath(%q, %d) = %q, want %q", tt.out, tt.step, got, tt.want)
		}
	}
}

// TestOutputFinish checks where the last checkpoint goes when a run ends,
// and what a diverged run says.
func TestOutputFinish(t *testing.T) {
	tr, err := New(toyConfig("none"), toyData(64, 3))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	snap, err := tr.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "m.sgn")
	tests := []struct {
		path      string
		saved     bool // a snapshot was saved before the run ended
		err       error
		wantErr   string
		wantBytes bool // the checkpoint went to stdout
	}{
		{"", true, nil, "", true},
		{"", false, nil, "", false},
		{"", true, errors.New("disk on fire"), "disk on fire", false},
		{"", true, ErrDiverged, "training diverged; no checkpoint was written", false},
		{file, true, ErrDiverged, "training diverged; the last good checkpoint is " + file, false},
		{file, false, ErrDiverged, "no checkpoint was written", false},
		{file, true, nil, "", false},
	}
	for _, tt := range tests {
		o := &Output{Path: tt.path}
		if err := o.Check(&bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		var h Hooks
		o.Watch(&h)
		if tt.saved {
			if err := h.Save(snap); err != nil {
				t.Fatal(err)
			}
		}
		var stdout bytes.Buffer
		err := o.Finish(context.Background(), tt.err, &stdout)
		name := fmt.Sprintf("%q, saved %v, run error %v", tt.path, tt.saved, tt.err)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: %v, want %q", name, err, tt.wantErr)
		}
		if got := stdout.Len() > 0; got != tt.wantBytes {
			t.Errorf("%s: %d bytes on stdout", name, stdout.Len())
		}
		if tt.wantBytes {
			if _, err := classifier.Load(&stdout); err != nil {
				t.Errorf("%s: stdout holds no checkpoint: %v", name, err)
			}
		}
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("the epoch's save did not write %s: %v", file, err)
	}
}
