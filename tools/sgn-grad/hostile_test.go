package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"sgn/shared/cli/clitest"
)

// SIGINT and SIGTERM stop sgn-grad between batches, leave no temporary
// file, and end the tool by the signal: the context it was given used to
// go unread.
func TestStopsOnSignals(t *testing.T) {
	dir := fixture.Dir(t)
	h, b := clitest.ReadStream(t, clitest.ReadFile(t, filepath.Join(dir, "test.arrow")))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		out := t.TempDir()
		state, stderr := tools.Interrupt(t, self, h, b, sig, "-batch", "16", "-model", filepath.Join(dir, "sgn.sgn"), "-o", filepath.Join(out, "grad.arrow"))
		clitest.AssertInterrupted(t, state, stderr, self, sig)
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("after %v the output directory holds %v", sig, entries)
		}
	}
}
