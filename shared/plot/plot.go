// Package plot draws sgn-score's figures as PNG images: robust accuracy
// against eps (one line per attack, and the per-example worst case), and a
// grid of the first examples, clean and adversarial.
package plot

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"sgn/shared/score"
)

// Save writes the figures of sgn-score -plot path. When the attacks span
// several eps values, path holds the accuracy-against-eps curve and the
// examples grid goes next to it, its name suffixed "-examples" (plot.png,
// plot-examples.png); otherwise path holds the examples grid. It returns
// the files written.
func Save(path string, r score.Result, g score.Gallery) ([]string, error) {
	var written []string
	gridPath := path
	if len(r.ByEps) > 1 {
		if err := writeFile(path, func(w io.Writer) error { return Curve(w, r) }); err != nil {
			return nil, err
		}
		written = append(written, path)
		gridPath = strings.TrimSuffix(path, filepath.Ext(path)) + "-examples.png"
	}
	if err := writeFile(gridPath, func(w io.Writer) error { return Examples(w, g) }); err != nil {
		return written, err
	}
	return append(written, gridPath), nil
}

func writeFile(path string, draw func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = draw(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// Curve writes a PNG line plot of accuracy against eps: one line per attack
// (its name and parameters but eps; the lowest accuracy when one attack
// ran twice at an eps), and a thick dashed line for the per-example worst
// case at each eps, which starts from the clean accuracy at eps 0 when it
// is known. With several threat models it plots the first of r.ByEps.
func Curve(w io.Writer, r score.Result) error {
	if len(r.ByEps) == 0 {
		return fmt.Errorf("no attack with an eps to plot")
	}
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("Robust accuracy against eps (n=%d)", r.N)
	p.X.Label.Text = "eps"
	p.Y.Label.Text = "accuracy"
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, 1
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())

	type family struct {
		label  string
		points map[float64]float64
	}
	// One threat model per plot: eps of different norms share no axis.
	norm := r.ByEps[0].Norm
	normOf := func(a score.AttackResult) string {
		if n := a.Params["norm"]; n != "" {
			return n
		}
		return "linf"
	}
	var families []*family
	for _, a := range r.Attacks {
		if a.Attack == "clean" || a.Eps == "" || (norm != "" && normOf(a) != norm) {
			continue
		}
		x, err := strconv.ParseFloat(a.Eps, 64)
		if err != nil {
			return fmt.Errorf("attack %s: eps %q is not a number", a.Attack, a.Eps)
		}
		label := score.AttackResult{Attack: a.Attack, Params: a.Params}.Label()
		i := slices.IndexFunc(families, func(f *family) bool { return f.label == label })
		if i < 0 {
			families = append(families, &family{label: label, points: map[float64]float64{}})
			i = len(families) - 1
		}
		if y, ok := families[i].points[x]; !ok || a.Accuracy < y {
			families[i].points[x] = a.Accuracy
		}
	}
	for i, f := range families {
		xys := make(plotter.XYs, 0, len(f.points))
		for x, y := range f.points {
			xys = append(xys, plotter.XY{X: x, Y: y})
		}
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("attack %s: %w", f.label, err)
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(f.label, line, points)
	}

	worst := make(plotter.XYs, 0, len(r.ByEps)+1)
	for _, e := range r.ByEps {
		if e.Norm != norm {
			continue
		}
		x, err := strconv.ParseFloat(e.Eps, 64)
		if err != nil {
			return fmt.Errorf("eps %q is not a number", e.Eps)
		}
		worst = append(worst, plotter.XY{X: x, Y: e.Accuracy})
	}
	if r.CleanAccuracy != nil && worst[0].X > 0 {
		worst = slices.Insert(worst, 0, plotter.XY{X: 0, Y: *r.CleanAccuracy})
	}
	line, points, err := plotter.NewLinePoints(worst)
	if err != nil {
		return fmt.Errorf("worst case: %w", err)
	}
	line.Width = vg.Points(2.5)
	line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	points.Shape = draw.CircleGlyph{}
	p.Add(line, points)
	p.Legend.Add("worst case", line, points)

	wt, err := p.WriterTo(16*vg.Centimeter, 11*vg.Centimeter, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// Layout of the examples grid, in pixels (the canvas is drawn at 72 dpi, so
// one point is one pixel).
const (
	pad      = 8
	cellMin  = 72  // images are scaled up by whole factors to at least this size
	cellMax  = 160 // and drawn at most this size
	fontSize = 10
)

// Examples writes a PNG grid of the gallery's examples, one per column
// headed by its index and label: a row of clean images when there are any,
// then a row per attack of its adversarial images, each captioned with the
// model's prediction, red when it is wrong.
func Examples(w io.Writer, g score.Gallery) error {
	if len(g.Shape) != 3 || g.Shape[0] < 1 || g.Shape[1] < 1 || g.Shape[2] < 1 {
		return fmt.Errorf("images of shape %v, want (C,H,W)", g.Shape)
	}
	if len(g.Index) == 0 {
		return fmt.Errorf("no examples to show")
	}
	h, wd := g.Shape[1], g.Shape[2]
	red, green, gray := color.RGBA{R: 0xc0, A: 0xff}, color.RGBA{G: 0x80, A: 0xff}, color.Gray{Y: 0xe0}
	k := max(1, (cellMin+max(h, wd)-1)/max(h, wd))
	cw, ch := float64(k*wd), float64(k*h)
	if s := cellMax / max(cw, ch); s < 1 {
		cw, ch = cw*s, ch*s
	}
	cw = max(cw, 48) // room for the captions

	sty := draw.TextStyle{
		Color:   color.Black,
		Font:    font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, vg.Points(fontSize)),
		Handler: gplot.DefaultTextHandler,
	}
	type row struct {
		label    string
		examples []score.Shown
	}
	var rows []row
	if g.Clean != nil {
		rows = append(rows, row{"clean", g.Clean})
	}
	for _, r := range g.Rows {
		rows = append(rows, row{r.Label, r.Examples})
	}
	if len(rows) == 0 {
		return fmt.Errorf("no images to show")
	}
	labelW := 0.0
	for _, r := range rows {
		labelW = max(labelW, float64(sty.Width(r.label)))
	}
	lineH := float64(sty.Height("Mg"))
	title := "First examples by index, with their label y; captions: prediction, red when wrong"
	width := max(2*pad+labelW+pad+float64(len(g.Index))*(cw+pad), 2*pad+float64(sty.Width(title)))
	height := pad + lineH + pad + lineH + float64(len(rows))*(ch+lineH+pad) + pad

	c := vgimg.NewWith(vgimg.UseWH(vg.Length(math.Ceil(width)), vg.Length(math.Ceil(height))), vgimg.UseDPI(72), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	top := func(y float64) vg.Length { return vg.Length(height - y) } // y measured from the top
	write := func(s draw.TextStyle, x, y float64, str string) {
		dc.FillText(s, vg.Point{X: vg.Length(x), Y: top(y)}, str)
	}
	left := sty
	left.XAlign, left.YAlign = draw.XLeft, draw.YTop
	center := sty
	center.XAlign, center.YAlign = draw.XCenter, draw.YTop

	y := float64(pad)
	write(left, pad, y, title)
	y += lineH + pad
	x0 := 2*pad + labelW + pad
	for j, i := range g.Index {
		head := "#" + strconv.FormatInt(i, 10)
		for _, r := range rows {
			if e := r.examples[j]; e.Pixels != nil {
				head += " y=" + className(g.Classes, e.Label)
				break
			}
		}
		write(center, x0+float64(j)*(cw+pad)+cw/2, y, head)
	}
	y += lineH
	for _, r := range rows {
		mid := left
		mid.YAlign = draw.YCenter
		write(mid, pad, y+ch/2, r.label)
		for j, e := range r.examples {
			x := x0 + float64(j)*(cw+pad)
			ix := x + (cw-ch*float64(wd)/float64(h))/2
			rect := vg.Rectangle{
				Min: vg.Point{X: vg.Length(ix), Y: top(y + ch)},
				Max: vg.Point{X: vg.Length(ix + ch*float64(wd)/float64(h)), Y: top(y)},
			}
			if e.Pixels != nil && len(e.Pixels) != g.Shape[0]*h*wd {
				return fmt.Errorf("example %d has %d values, shape %v needs %d", e.Index, len(e.Pixels), g.Shape, g.Shape[0]*h*wd)
			}
			if e.Pixels == nil {
				dc.FillPolygon(gray, []vg.Point{rect.Min, {X: rect.Max.X, Y: rect.Min.Y}, rect.Max, {X: rect.Min.X, Y: rect.Max.Y}})
				continue
			}
			c.DrawImage(rect, toImage(e.Pixels, g.Shape, k))
			if e.Pred < 0 {
				continue // a clean image nothing predicted on
			}
			caption := center
			caption.Color = green
			if e.Pred != e.Label {
				caption.Color = red
			}
			write(caption, x+cw/2, y+ch+2, "→ "+className(g.Classes, e.Pred))
		}
		y += ch + lineH + pad
	}
	_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

func className(classes []string, c int64) string {
	switch {
	case c < 0:
		return "?"
	case int(c) < len(classes):
		return classes[c]
	}
	return strconv.FormatInt(c, 10)
}

// toImage turns C*H*W values in [0,1] into an image scaled up k times
// (nearest neighbour): grey for one channel, RGB for three, the first
// channel otherwise.
func toImage(px []float32, shape []int, k int) image.Image {
	ch, h, w := shape[0], shape[1], shape[2]
	level := func(c, y, x int) uint8 {
		v := px[(c*h+y)*w+x]
		if !(v > 0) {
			return 0
		}
		return uint8(min(v, 1)*255 + 0.5)
	}
	img := image.NewRGBA(image.Rect(0, 0, w*k, h*k))
	for y := range h * k {
		for x := range w * k {
			r := level(0, y/k, x/k)
			g, b := r, r
			if ch == 3 {
				g, b = level(1, y/k, x/k), level(2, y/k, x/k)
			}
			img.SetRGBA(x, y, color.RGBA{R: r, G: g, B: b, A: 0xff})
		}
	}
	return img
}
