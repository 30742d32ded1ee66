package dataset

import (
	"fmt"
	"io"
)

// progress draws a one-line percentage for a download on a terminal; with a
// nil writer it does nothing.
type progress struct {
	w           io.Writer
	name        string
	done, total int64
	shown       int // percent last drawn, -1 before the first
}

func newProgress(w io.Writer, name string, done, total int64) *progress {
	p := &progress{w: w, name: name, done: done, total: total, shown: -1}
	p.draw()
	return p
}

func (p *progress) add(n int) {
	p.done += int64(n)
	p.draw()
}

func (p *progress) draw() {
	if p.w == nil || p.total <= 0 {
		return
	}
	pct := int(min(100*p.done/p.total, 100))
	if pct == p.shown {
		return
	}
	p.shown = pct
	const width = 30
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < pct*width/100 {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3d%% %.1f/%.1f MB", p.name, bar, pct, float64(p.done)/1e6, float64(p.total)/1e6)
}

// end finishes the line.
func (p *progress) end() {
	if p.w != nil && p.shown >= 0 {
		fmt.Fprintln(p.w)
	}
}
