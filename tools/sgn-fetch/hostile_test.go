package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"sgn/shared/cli/clitest"
)

// A FIFO named like an official file in -from is refused at once, in one
// line: sgn-fetch used to block in open() until SIGKILL.
func TestFIFOInFromDir(t *testing.T) {
	mnist := mnistDir(t)
	from := t.TempDir()
	fifo := filepath.Join(from, "t10k-images-idx3-ubyte.gz")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	labels := clitest.ReadFile(t, filepath.Join(mnist, "t10k-labels-idx1-ubyte.gz"))
	clitest.WriteFile(t, from, "t10k-labels-idx1-ubyte.gz", labels)
	out := t.TempDir()
	type result struct {
		r   clitest.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := tools.Exec("sgn-fetch", nil, "-split", "test", "-from", from, "-o", filepath.Join(out, "test.arrow"), "mnist")
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		clitest.AssertOneLineError(t, res.r, 1, fifo, "not a regular file")
	case <-time.After(time.Minute):
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("sgn-fetch hangs on a FIFO in -from")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("left %v behind", entries)
	}
}
