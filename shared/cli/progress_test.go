package cli

import (
	"strings"
	"testing"
	"time"
)

// TestProgress checks the bar against a fake clock: the rate and time left
// from the first update of a label, throttling, and nothing when disabled.
func TestProgress(t *testing.T) {
	var out strings.Builder
	clock := time.Unix(0, 0)
	p := NewProgress(&out, true)
	p.now = func() time.Time { return clock }
	p.Update("apgd-t", 0, 100, "")
	clock = clock.Add(10 * time.Second)
	p.Update("apgd-t", 20, 100, "robust 0.9")
	if got := out.String(); !strings.Contains(got, "apgd-t [======                        ] 20/100 2/s ETA 40s robust 0.9") {
		t.Errorf("bar %q", got)
	}
	out.Reset()
	clock = clock.Add(10 * time.Millisecond)
	p.Update("apgd-t", 21, 100, "")
	if out.Len() != 0 {
		t.Errorf("redrawn after 10 ms: %q", out.String())
	}
	clock = clock.Add(time.Second)
	p.Update("square", 5, 0, "") // a new label restarts the rate; no total, no ETA
	if got := out.String(); !strings.Contains(got, "square 5") || strings.Contains(got, "ETA") || strings.Contains(got, "/s") {
		t.Errorf("bar %q, want the count without rate or ETA", got)
	}
	p.Done()
	if !strings.HasSuffix(out.String(), "\r\x1b[K") {
		t.Errorf("Done did not clear the line: %q", out.String())
	}
	var quiet strings.Builder
	q := NewProgress(&quiet, false)
	q.Update("x", 1, 2, "")
	q.Done()
	if quiet.Len() != 0 {
		t.Errorf("disabled bar wrote %q", quiet.String())
	}
}
