package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress draws a one-line progress bar on a terminal and nothing
// elsewhere (tools print one summary line per unit of work instead).
type Progress struct {
	w       io.Writer
	enabled bool
	last    time.Time
	drawn   bool
}

// NewProgress returns a bar writing to w; enabled is usually
// IsTerminal(stderr).
func NewProgress(w io.Writer, enabled bool) *Progress {
	return &Progress{w: w, enabled: enabled}
}

// Update redraws the bar at done of total, at most ten times a second.
func (p *Progress) Update(label string, done, total int, note string) {
	if !p.enabled || total <= 0 {
		return
	}
	if done < total && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := min(width*done/total, width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s\x1b[K", label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total, note)
	p.drawn = true
}

// Done ends the bar's line so that the next message starts on its own.
func (p *Progress) Done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}
