package plot

import (
	"fmt"
	"image/color"
	"io"
	"slices"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one line of a Figure: Y against X, and, when Lo and Hi are
// given (as long as X), a shaded band between them, such as the range over
// seeds. MarkX and MarkY are points drawn unconnected, filled, in the
// series' colour: figures that belong to the series but were measured
// otherwise than its line, such as a model under a stronger evaluation.
//
// A Guide series is drawn as a thin dashed grey line, without points, band
// or marks: a reference to read the others against, such as another series
// shifted.
type Series struct {
	Label        string
	X, Y         []float64
	Lo, Hi       []float64
	MarkX, MarkY []float64
	Guide        bool
}

// Figure is a line plot of several series on shared axes.
type Figure struct {
	Title, XLabel, YLabel string
	// YMin and YMax fix the vertical axis when YMax > YMin.
	YMin, YMax float64
	// HLines draws dotted horizontal reference lines (levels) at these Y.
	HLines []float64
	// MarkLabel is the legend's entry for the series' marks.
	MarkLabel string
	// LogX puts the horizontal axis on a log scale, where equal ratios are
	// equal distances; every X must then be positive.
	LogX   bool
	Series []Series
}

// filledShape is the filled twin of plotutil.Shape(i) for its first three
// shapes (ring, square, triangle), so a series' marks match its points.
func filledShape(i int) draw.GlyphDrawer {
	switch i % 3 {
	case 1:
		return draw.BoxGlyph{}
	case 2:
		return draw.PyramidGlyph{}
	}
	return draw.CircleGlyph{}
}

// points pairs x and y, of equal length.
func points(x, y []float64) plotter.XYs {
	xys := make(plotter.XYs, len(x))
	for j := range x {
		xys[j] = plotter.XY{X: x[j], Y: y[j]}
	}
	return xys
}

// addGuide draws s as a thin dashed grey line with its legend entry.
func addGuide(p *gplot.Plot, s Series) error {
	l, err := plotter.NewLine(points(s.X, s.Y))
	if err != nil {
		return fmt.Errorf("series %q: %w", s.Label, err)
	}
	l.Color = color.Gray{Y: 90}
	l.Width = vg.Points(1)
	l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(l)
	p.Legend.Add(s.Label, l)
	return nil
}

// Lines writes f as a PNG image.
func Lines(w io.Writer, f Figure) error {
	p := gplot.New()
	p.Title.Text = f.Title
	p.X.Label.Text, p.Y.Label.Text = f.XLabel, f.YLabel
	if f.LogX {
		p.X.Scale, p.X.Tick.Marker = gplot.LogScale{}, gplot.LogTicks{Prec: -1}
	} else {
		p.X.Min = 0
	}
	if f.YMax > f.YMin {
		p.Y.Min, p.Y.Max = f.YMin, f.YMax
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	hasMarks := false
	for i, s := range f.Series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return fmt.Errorf("series %q: %d x and %d y values", s.Label, len(s.X), len(s.Y))
		}
		if len(s.MarkX) != len(s.MarkY) {
			return fmt.Errorf("series %q: %d x and %d y values of marks", s.Label, len(s.MarkX), len(s.MarkY))
		}
		if f.LogX {
			for _, x := range append(slices.Clip(s.X), s.MarkX...) {
				if !(x > 0) {
					return fmt.Errorf("series %q: x value %g on a log axis", s.Label, x)
				}
			}
		}
		if s.Guide {
			if err := addGuide(p, s); err != nil {
				return err
			}
			continue
		}
		c := plotutil.Color(i)
		if len(s.Lo) == len(s.X) && len(s.Hi) == len(s.X) && len(s.X) > 1 {
			band := make(plotter.XYs, 0, 2*len(s.X))
			for j := range s.X {
				band = append(band, plotter.XY{X: s.X[j], Y: s.Hi[j]})
			}
			for j := len(s.X) - 1; j >= 0; j-- {
				band = append(band, plotter.XY{X: s.X[j], Y: s.Lo[j]})
			}
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return fmt.Errorf("series %q band: %w", s.Label, err)
			}
			r, g, b, _ := c.RGBA()
			poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 50}
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		line, glyphs, err := plotter.NewLinePoints(points(s.X, s.Y))
		if err != nil {
			return fmt.Errorf("series %q: %w", s.Label, err)
		}
		line.Color, glyphs.Color = c, c
		line.Width = vg.Points(1.5)
		glyphs.Shape = plotutil.Shape(i)
		p.Add(line, glyphs)
		p.Legend.Add(s.Label, line, glyphs)
		if len(s.MarkX) > 0 {
			sc, err := plotter.NewScatter(points(s.MarkX, s.MarkY))
			if err != nil {
				return fmt.Errorf("series %q marks: %w", s.Label, err)
			}
			sc.Color = c
			sc.Shape = filledShape(i)
			sc.Radius = vg.Points(4)
			p.Add(sc)
			hasMarks = true
		}
	}
	if hasMarks && f.MarkLabel != "" {
		key, err := plotter.NewScatter(plotter.XYs{{}})
		if err != nil {
			return err
		}
		key.Color, key.Shape, key.Radius = color.Black, draw.CircleGlyph{}, vg.Points(4)
		p.Legend.Add(f.MarkLabel, key)
	}
	for _, y := range f.HLines {
		l, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: y}, {X: p.X.Max, Y: y}})
		if err != nil {
			return err
		}
		l.Color = color.Gray{Y: 120}
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
		p.Add(l)
	}
	wt, err := p.WriterTo(16*vg.Centimeter, 11*vg.Centimeter, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
