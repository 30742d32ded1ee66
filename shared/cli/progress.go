package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress draws a one-line progress bar on a terminal, with the rate
// and the time left, and nothing elsewhere (tools print one summary line
// per unit of work instead).
type Progress struct {
	w       io.Writer
	enabled bool
	last    time.Time
	drawn   bool
	// The rate is measured from the first update of the current label.
	label string
	start time.Time
	now   func() time.Time
}

// NewProgress returns a bar writing to w; enabled is usually
// IsTerminal(stderr).
func NewProgress(w io.Writer, enabled bool) *Progress {
	return &Progress{w: w, enabled: enabled, now: time.Now}
}

// Update redraws the bar at done of total (total 0: unknown, no bar or
// time left), at most ten times a second. A new label restarts the rate.
func (p *Progress) Update(label string, done, total int, note string) {
	if !p.enabled {
		return
	}
	now := p.now()
	if label != p.label || p.start.IsZero() {
		p.label, p.start = label, now
	}
	if (total <= 0 || done < total) && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(label, done, total, note, now.Sub(p.start)))
	p.drawn = true
}

// line is the bar's text after elapsed time on this label.
func (p *Progress) line(label string, done, total int, note string, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString(label)
	if total > 0 {
		const width = 30
		filled := min(width*done/total, width)
		fmt.Fprintf(&b, " [%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total)
	} else {
		fmt.Fprintf(&b, " %d", done)
	}
	if done > 0 && elapsed > 0 {
		rate := float64(done) / elapsed.Seconds()
		fmt.Fprintf(&b, " %s/s", strings.TrimSuffix(fmt.Sprintf("%.3g", rate), ".0"))
		if total > done {
			left := time.Duration(float64(total-done) / rate * float64(time.Second))
			fmt.Fprintf(&b, " ETA %s", left.Round(time.Second))
		}
	}
	if note != "" {
		b.WriteString(" " + note)
	}
	return b.String()
}

// Done ends the bar's line so that the next message starts on its own.
func (p *Progress) Done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}
