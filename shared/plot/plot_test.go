package plot

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sgn/format/stream"
	"sgn/shared/score"
)

// attackStream writes an attack stream of n 1x6x6 examples: example i has
// label i%2, is broken (prediction 1-label) when broken(i), and adversarial
// pixels that grow with i.
func attackStream(t *testing.T, name, eps string, n int, broken func(int) bool) []byte {
	t.Helper()
	params, _ := json.Marshal(map[string]string{"norm": "linf", "loss": "ce", "eps": eps})
	h := stream.Header{Shape: []int{1, 6, 6}, Elem: stream.Float32,
		Metadata: map[string]string{stream.MetaAttack: name, stream.MetaAttackEps: eps, stream.MetaAttackParams: string(params), stream.MetaPixelScale: "1"},
		Extra: []stream.ColumnSpec{
			{Name: stream.ColIndex, Type: stream.Int64Column}, {Name: stream.ColCleanPred, Type: stream.Int64Column},
			{Name: stream.ColAdvPred, Type: stream.Int64Column}, {Name: stream.ColLinf, Type: stream.Float32Column},
			{Name: stream.ColL2, Type: stream.Float32Column},
		}}
	b := &stream.Batch{Extra: []stream.Column{{Name: stream.ColIndex}, {Name: stream.ColCleanPred}, {Name: stream.ColAdvPred},
		{Name: stream.ColLinf, Float32: make([]float32, n)}, {Name: stream.ColL2, Float32: make([]float32, n)}}}
	for i := range n {
		for p := range 36 {
			b.Floats = append(b.Floats, float32((i+p)%10)/10)
		}
		label := int64(i % 2)
		pred := label
		if broken(i) {
			pred = 1 - label
		}
		b.Labels = append(b.Labels, label)
		b.Extra[0].Int64 = append(b.Extra[0].Int64, int64(i))
		b.Extra[1].Int64 = append(b.Extra[1].Int64, label)
		b.Extra[2].Int64 = append(b.Extra[2].Int64, pred)
	}
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// scored reads the attack streams at these eps (pgd and fgsm each) into a
// result and a gallery.
func scored(t *testing.T, eps ...string) (score.Result, score.Gallery) {
	t.Helper()
	s := score.NewScorer(nil, 8, score.WithImages())
	for k, e := range eps {
		for _, a := range []string{"pgd", "fgsm"} {
			data := attackStream(t, a, e, 12, func(i int) bool { return i < 3*(k+1) })
			if err := s.Read(context.Background(), a+e, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := s.Result()
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Gallery()
	if err != nil {
		t.Fatal(err)
	}
	return r, g
}

// decode checks that b is a PNG image at least w x h pixels that is not of
// one colour, and returns its size.
func decode(t *testing.T, b []byte, w, h int) image.Point {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG image: %v", err)
	}
	size := img.Bounds().Size()
	if size.X < w || size.Y < h {
		t.Errorf("image of %v, want at least %dx%d", size, w, h)
	}
	colours := map[[4]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colours) < 3 {
		t.Errorf("image has %d colours: blank", len(colours))
	}
	return size
}

func TestCurve(t *testing.T) {
	r, _ := scored(t, "0.1", "0.2", "0.3")
	var b bytes.Buffer
	if err := Curve(&b, r); err != nil {
		t.Fatal(err)
	}
	decode(t, b.Bytes(), 300, 200)
}

func TestExamples(t *testing.T) {
	_, g1 := scored(t, "0.1")
	_, g3 := scored(t, "0.1", "0.2", "0.3")
	var b1, b3 bytes.Buffer
	if err := Examples(&b1, g1); err != nil {
		t.Fatal(err)
	}
	if err := Examples(&b3, g3); err != nil {
		t.Fatal(err)
	}
	// 8 columns of images at least cellMin wide; a row per attack.
	s1 := decode(t, b1.Bytes(), score.ShownExamples*cellMin, 2*cellMin)
	s3 := decode(t, b3.Bytes(), score.ShownExamples*cellMin, 6*cellMin)
	if s3.Y <= s1.Y {
		t.Errorf("6 attacks drawn %d pixels high, 2 attacks %d: want more rows", s3.Y, s1.Y)
	}
}

func TestRefuses(t *testing.T) {
	r, g := scored(t, "0.1")
	noEps := r
	noEps.ByEps = nil
	badShape := g
	badShape.Shape = []int{36}
	short := g
	short.Rows = slices.Clone(g.Rows)
	short.Rows[0].Examples = slices.Clone(g.Rows[0].Examples)
	short.Rows[0].Examples[0].Pixels = []float32{1}
	tests := []struct {
		name string
		draw func(*bytes.Buffer) error
		err  string
	}{
		{"curve without eps", func(b *bytes.Buffer) error { return Curve(b, noEps) }, "no attack with an eps"},
		{"bad shape", func(b *bytes.Buffer) error { return Examples(b, badShape) }, "want (C,H,W)"},
		{"wrong pixel count", func(b *bytes.Buffer) error { return Examples(b, short) }, "has 1 values"},
		{"no examples", func(b *bytes.Buffer) error { return Examples(b, score.Gallery{Shape: []int{1, 2, 2}}) }, "no examples"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.draw(&b); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v, want error %q", err, tc.err)
			}
		})
	}
}

func TestSave(t *testing.T) {
	tests := []struct {
		name  string
		eps   []string
		files []string
	}{
		{"one eps: examples", []string{"0.1"}, []string{"fig.png"}},
		{"several eps: curve and examples", []string{"0.1", "0.3"}, []string{"fig.png", "fig-examples.png"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r, g := scored(t, tc.eps...)
			written, err := Save(filepath.Join(dir, "fig.png"), r, g)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tc.files {
				want = append(want, filepath.Join(dir, f))
			}
			if !slices.Equal(written, want) {
				t.Errorf("wrote %v, want %v", written, want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(tc.files) {
				t.Errorf("%d files in the directory, want %d", len(entries), len(tc.files))
			}
			for _, f := range written {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				decode(t, b, 200, 100)
			}
		})
	}
}
