package checkpoint

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.sgn")
	for _, c := range []*Checkpoint{sample(), {Config: []byte(`{"epoch":2}`)}} {
		if err := WriteFile(path, c); err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatalf("ReadFile: %v", err)
		}
		checkEqual(t, got, c)
		checkOnlyFile(t, path)
	}
}

// checkOnlyFile fails if path's directory holds anything but path.
func checkOnlyFile(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			t.Errorf("stray file %s left beside %s", e.Name(), filepath.Base(path))
		}
	}
}

func TestWriteFileFailureKeepsOriginal(t *testing.T) {
	invalid := &Checkpoint{Tensors: []Tensor{{Name: "w", Shape: []int{3}, Data: []float32{1}}}}
	tests := []struct {
		name  string
		write func(path string) error
		want  string
	}{
		{"invalid tensor", func(path string) error {
			return WriteFile(path, invalid)
		}, `tensor "w": shape [3] has 3 elements but data has 1`},
		{"over limit", func(path string) error {
			return WriteFile(path, sample(), WithMaxSize(10))
		}, "exceeds the limit"},
		{"disk full halfway", func(path string) error {
			return writeAtomic(path, func(w io.Writer) error {
				if _, err := w.Write([]byte("SGNCKPT\x00 half a checkpoint")); err != nil {
					return err
				}
				return errors.New("no space left on device")
			})
		}, "no space left on device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.sgn")
			if err := WriteFile(path, sample()); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.write(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error = %v, want one naming %s and containing %q", err, path, tt.want)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("failed write changed the existing checkpoint")
			}
			checkOnlyFile(t, path)
		})
	}
}

func TestWriteFileRenameFailure(t *testing.T) {
	// A non-empty directory where the file should go makes the rename fail
	// after the temporary file is complete.
	dir := t.TempDir()
	path := filepath.Join(dir, "model.sgn")
	if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, sample())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile over a directory: %v", err)
	}
	checkOnlyFile(t, path)
	if _, err := os.Stat(filepath.Join(path, "keep")); err != nil {
		t.Errorf("directory in the way was changed: %v", err)
	}
}

func TestReadFileErrorNamesPath(t *testing.T) {
	dir := t.TempDir()
	good := encodeBytes(t, sample())
	tests := []struct {
		name string
		data []byte // nil: no file
		want error
	}{
		{"missing", nil, os.ErrNotExist},
		{"truncated", good[:len(good)/2], ErrCorrupt},
		{"not a checkpoint", []byte("hello"), ErrNotCheckpoint},
		{"flipped", append(append([]byte{}, good[:100]...), append([]byte{good[100] ^ 4}, good[101:]...)...), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".sgn")
			if tt.data != nil {
				if err := os.WriteFile(path, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadFile(path)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("ReadFile error = %v, want %v naming %s", err, tt.want, path)
			}
		})
	}
}
