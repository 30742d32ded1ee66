package main

import (
	"bytes"
	"path/filepath"
	"syscall"
	"testing"

	"sgn/format/stream"
	"sgn/shared/cli/clitest"
)

// SIGINT and SIGTERM stop sgn-score between record batches and end it by
// the signal: the context it was given used to go unread.
func TestStopsOnSignals(t *testing.T) {
	dir := fixture.Dir(t)
	h, b := clitest.ReadStream(t, clitest.ReadFile(t, filepath.Join(dir, "test.arrow")))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		state, stderr := tools.Interrupt(t, self, h, b, sig, "-model", filepath.Join(dir, "m.sgn"))
		clitest.AssertInterrupted(t, state, stderr, self, sig)
	}
}

// Streams and checkpoints that claim more than they hold cost what they
// hold: a record batch of more rows than the tool works on is refused
// before it is read, and so is a checkpoint whose input shape makes a
// model too large to build.
func TestHostileInputs(t *testing.T) {
	dir := fixture.Dir(t)
	model := filepath.Join(dir, "m.sgn")
	tmp := t.TempDir()
	// 20,000 zero images in one zstd record batch: 15 MB in a few KB.
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, stream.Header{Shape: []int{1, 28, 28}, Elem: stream.Uint8}, stream.WithBatchRows(20000), stream.WithZstd())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&stream.Batch{Pixels: make([]uint8, 20000*784), Labels: make([]int64, 20000)}); err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	big := clitest.WriteFile(t, tmp, "big.arrow", buf.Bytes())
	lying := clitest.WriteFile(t, tmp, "lying.sgn", clitest.Reseal(t, model, func(c map[string]any) { c["model"].(map[string]any)["in_shape"] = []int{1, 1000, 1000000} }))
	tools.AssertRefusals(t, self, []clitest.Refusal{
		{Name: "record batch beyond the batch", Args: []string{"-model", model, big}, Code: 1, Want: []string{"big.arrow", "20000 rows, more than the 256"}},
		{Name: "input shape beyond any model", Args: []string{"-model", lying, filepath.Join(dir, "test.arrow")}, Code: 1, Want: []string{"lying.sgn", "values an input may have"}},
	})
}
