package plot

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"testing"

	"gonum.org/v1/plot/plotutil"
)

func TestLines(t *testing.T) {
	f := Figure{Title: "t", XLabel: "x", YLabel: "y", YMin: 0, YMax: 1, HLines: []float64{0.5},
		Series: []Series{
			{Label: "a", X: []float64{0, 1, 2}, Y: []float64{0.1, 0.5, 0.9}, Lo: []float64{0, 0.4, 0.8}, Hi: []float64{0.2, 0.6, 1}},
			{Label: "b", X: []float64{0, 2}, Y: []float64{0.2, 0.3}},
		}}
	// Each series' line is drawn in its colour.
	for i := range f.Series {
		if colourPixels(t, f, plotutil.Color(i)) == 0 {
			t.Errorf("no pixel in series %d's colour", i)
		}
	}
	var buf bytes.Buffer
	bad := Figure{Series: []Series{{Label: "bad", X: []float64{0, 1}, Y: []float64{1}}}}
	if err := Lines(&buf, bad); err == nil {
		t.Errorf("series with 2 x and 1 y values: no error")
	}
	badMarks := Figure{Series: []Series{{Label: "bad", X: []float64{0}, Y: []float64{1}, MarkX: []float64{0}}}}
	if err := Lines(&buf, badMarks); err == nil {
		t.Errorf("series with 1 mark x and 0 mark y values: no error")
	}
}

// colourPixels draws f and counts its pixels of exactly colour c.
func colourPixels(t *testing.T, f Figure, c color.Color) int {
	t.Helper()
	var buf bytes.Buffer
	if err := Lines(&buf, f); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	r0, g0, b0, _ := c.RGBA()
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r == r0 && g == g0 && b == b0 {
				n++
			}
		}
	}
	return n
}

// TestLinesMarks checks that a series' marks are drawn in its colour, and
// their legend entry in black.
func TestLinesMarks(t *testing.T) {
	colourPixels := func(f Figure, c color.Color) int { return colourPixels(t, f, c) }
	line := Series{Label: "a", X: []float64{0, 1}, Y: []float64{0.9, 0.9}}
	marked := line
	marked.MarkX, marked.MarkY = []float64{0.2, 0.5, 0.8}, []float64{0.1, 0.2, 0.3}
	plain := Figure{YMin: 0, YMax: 1, Series: []Series{line}}
	withMarks := Figure{YMin: 0, YMax: 1, MarkLabel: "under every attack", Series: []Series{marked}}
	if a, b := colourPixels(plain, plotutil.Color(0)), colourPixels(withMarks, plotutil.Color(0)); b <= a+50 {
		t.Errorf("three filled marks added %d pixels of the series' colour (%d without them), want more than 50", b-a, a)
	}
	if a, b := colourPixels(plain, color.Black), colourPixels(withMarks, color.Black); b <= a {
		t.Errorf("the marks' legend entry added no black pixels (%d, then %d)", a, b)
	}
}

// TestLinesLogX checks the log axis (positive X only) and a guide series,
// drawn in its grey and added to the legend.
func TestLinesLogX(t *testing.T) {
	guideGrey := func(f Figure) int { return colourPixels(t, f, color.Gray{Y: 90}) }
	a := Series{Label: "a", X: []float64{1, 10, 100}, Y: []float64{0.2, 0.5, 0.7}, MarkX: []float64{100}, MarkY: []float64{0.6}}
	guide := Series{Label: "a at 10x", X: []float64{0.1, 1, 10}, Y: []float64{0.2, 0.5, 0.7}, Guide: true}
	without := Figure{LogX: true, YMin: 0, YMax: 1, HLines: []float64{0.5}, Series: []Series{a}}
	with := without
	with.Series = []Series{a, guide}
	if n0, n1 := guideGrey(without), guideGrey(with); n1 <= n0+10 {
		t.Errorf("a guide series added %d grey pixels (%d without it), want more than 10", n1-n0, n0)
	}
	for _, bad := range []Series{
		{Label: "zero x", X: []float64{0, 1}, Y: []float64{0.1, 0.2}},
		{Label: "negative mark", X: []float64{1}, Y: []float64{0.1}, MarkX: []float64{-1}, MarkY: []float64{0.1}},
		{Label: "NaN guide", X: []float64{math.NaN()}, Y: []float64{0.1}, Guide: true},
	} {
		var buf bytes.Buffer
		if err := Lines(&buf, Figure{LogX: true, Series: []Series{bad}}); err == nil {
			t.Errorf("%s on a log axis: no error", bad.Label)
		}
	}
}
