package clitest

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"sgn/format/checkpoint"
	"sgn/format/stream"
)

// Reseal returns the checkpoint at path with its configuration edited by
// edit (the decoded JSON object), sealed again with valid checksums, as a
// hostile or careless program could write it.
func Reseal(t testing.TB, path string, edit func(config map[string]any)) []byte {
	t.Helper()
	ck, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(ck.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	if ck.Config, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := checkpoint.Encode(&buf, ck); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Interrupt runs tool with args and, on its stdin, the examples of h and
// b repeated for ever, so that it never runs out of work; once the tool
// has read some of them it sends sig, and returns how the tool ended and
// its stderr. The tool must end within a minute.
func (ts *Tools) Interrupt(t testing.TB, tool string, h stream.Header, b *stream.Batch, sig syscall.Signal, args ...string) (*os.ProcessState, string) {
	t.Helper()
	cmd, err := ts.Command(tool, args...)
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reading := make(chan struct{})
	go func() {
		defer in.Close()
		// The pipe holds 64 KiB: once 128 KiB are through, the tool is
		// reading.
		w, err := stream.NewWriter(&countingWriter{w: in, at: 128 << 10, reached: reading}, h)
		if err != nil {
			return
		}
		for w.Write(b) == nil {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-reading:
	case err := <-done:
		t.Fatalf("%s ended (%v) before it was interrupted; stderr %q", tool, err, stderr.String())
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("%s reads nothing; stderr %q", tool, stderr.String())
	}
	start := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s still running a minute after %v; stderr %q", tool, sig, stderr.String())
	}
	t.Logf("%s stopped %v after %v", tool, time.Since(start).Round(time.Millisecond), sig)
	return cmd.ProcessState, stderr.String()
}

// AssertInterrupted checks that a run of tool died of sig, the
// conventional status, after one line on stderr saying it was interrupted
// and nothing that looks like a crash.
func AssertInterrupted(t testing.TB, state *os.ProcessState, stderr, tool string, sig syscall.Signal) {
	t.Helper()
	ws, ok := state.Sys().(syscall.WaitStatus)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !ok || !ws.Signaled() || ws.Signal() != sig || !strings.HasPrefix(last, tool+": ") || !strings.Contains(last, "interrupted by") ||
		strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
		t.Errorf("%s ended with %v, stderr %q; want it to die of %v after one line saying it was interrupted", tool, state, stderr, sig)
	}
}

// countingWriter closes reached once at bytes have been written through
// it.
type countingWriter struct {
	w       io.Writer
	n, at   int
	reached chan struct{}
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if c.n < c.at && c.n+n >= c.at {
		close(c.reached)
	}
	c.n += n
	return n, err
}

// ReadFIFO starts reading the FIFO at path and returns a function that
// waits for what was written to it before its writer closed it. The
// function fails the test if nothing closes the FIFO within a minute (as
// when a tool replaced it instead of writing to it).
func ReadFIFO(t testing.TB, path string) func() []byte {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(path)
		got <- b
	}()
	return func() []byte {
		t.Helper()
		select {
		case b := <-got:
			return b
		case <-time.After(time.Minute):
			t.Fatalf("nothing was written to the FIFO %s", path)
			return nil
		}
	}
}
