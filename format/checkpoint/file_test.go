package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.sgn")
	for _, c := range []*Checkpoint{sample(), {Config: []byte(`{"epoch":2}`)}} {
		if err := os.WriteFile(path, encodeBytes(t, c), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatalf("ReadFile: %v", err)
		}
		checkEqual(t, got, c)
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
