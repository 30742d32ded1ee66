package clitest

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sgn/format/stream"
)

// ReadFile returns the content of the file at path, failing the test if it
// cannot be read.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteFile writes content to the file name in dir and returns its path,
// failing the test if it cannot be written.
func WriteFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteStream writes an example stream of header h and the batch b (nil:
// no rows) to the file at path.
func WriteStream(t testing.TB, path string, h stream.Header, b *stream.Batch) {
	t.Helper()
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadStream reads a whole example stream from data.
func ReadStream(t testing.TB, data []byte) (stream.Header, *stream.Batch) {
	t.Helper()
	h, b, err := stream.ReadAll(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatalf("read stream back: %v", err)
	}
	return h, b
}

// WriteRelabelled writes the examples of h and b to path with example i
// labelled label.
func WriteRelabelled(t testing.TB, path string, h stream.Header, b *stream.Batch, i int, label int64) {
	t.Helper()
	bad := *b
	bad.Labels = slices.Clone(b.Labels)
	bad.Labels[i] = label
	WriteStream(t, path, h, &bad)
}

// WriteNaNPixel writes the examples of h and b to path as float32 images
// at pixel scale 1, with pixel k of example i NaN.
func WriteNaNPixel(t testing.TB, path string, h stream.Header, b *stream.Batch, i, k int) {
	t.Helper()
	floats := h.Float32Images(b, nil)
	floats[i*h.ExampleSize()+k] = float32(math.NaN())
	WriteStream(t, path, stream.Header{Shape: h.Shape, Elem: stream.Float32, Metadata: map[string]string{stream.MetaPixelScale: "1"}},
		&stream.Batch{Floats: floats, Labels: b.Labels})
}

// ScoreReport is the part of sgn-score's -json report that the tests read.
type ScoreReport struct {
	N int `json:"n"`
	// Accuracy is 0 when the report has none (attacks at several threat
	// models or budgets).
	Accuracy      float64         `json:"accuracy"`
	CleanAccuracy *float64        `json:"clean_accuracy"`
	Dataset       string          `json:"dataset"`
	Split         string          `json:"split"`
	Checkpoint    string          `json:"checkpoint_sha256"`
	Recipe        json.RawMessage `json:"recipe"`
	Attacks       []struct {
		Attack   string            `json:"attack"`
		Params   map[string]string `json:"params"`
		N        int               `json:"n"`
		Accuracy float64           `json:"accuracy"`
		Members  []struct {
			Name          string  `json:"name"`
			Attacked      int     `json:"attacked"`
			Broken        int     `json:"broken"`
			AccuracyAfter float64 `json:"accuracy_after"`
		} `json:"members"`
	} `json:"attacks"`
	Evaluations []struct {
		ThreatModel   string     `json:"threat_model"`
		Eps           float64    `json:"eps"`
		N             int        `json:"n"`
		CleanAccuracy *float64   `json:"clean_accuracy"`
		Robust        float64    `json:"robust_accuracy"`
		RobustCI95    [2]float64 `json:"robust_ci95"`
		Attacks       []string   `json:"attacks"`
	} `json:"evaluations"`
	Checks []struct {
		Name   string `json:"name"`
		Passed bool   `json:"passed"`
	} `json:"checks"`
}
