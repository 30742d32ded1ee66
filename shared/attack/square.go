package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Square is the L∞ Square Attack (Andriushchenko et al., "Square Attack: a
// query-efficient black-box adversarial attack via random search", ECCV
// 2020), following the reference implementation
// (github.com/fra31/auto-attack, autoattack/square.py, Linf branch). It uses
// Logits only, so gradient masking cannot hide from it.
//
// Examples misclassified at x0 are returned unchanged. The others start at
// vertical stripes, x0 + Eps·s with one random sign s per channel and
// column, and then, for Queries iterations, each example still correctly
// classified gets a random square window of side
// round(sqrt(p·H·W)) (at least 1, at most min(H, W)) set to x0 ± Eps with one
// random sign per channel; the proposal is kept if it lowers the margin
// z_y - max_{j≠y} z_j or misclassifies (the reference accepts a zero
// margin, which argmax may still classify correctly). The fraction p follows the
// paper's schedule from PInit, halved at iterations 10, 50, 200, 500, 1000,
// 2000, 4000, 6000 and 8000 of 10000, rescaled to Queries. As in the
// authors' original code, a proposal that would not change the image is
// redrawn (up to 10 times). Every point is clipped to the ball and [0, 1].
//
// The result is the point of lowest margin found, misclassifying if any.
type Square struct {
	Eps     float64 // L∞ radius
	Queries int     // iterations, one query per example still robust; 0 means 5000
	PInit   float64 // initial fraction of pixels per square; 0 means 0.8
	// Channels, Height and Width give the layout of an example,
	// channel-major; their product must be the oracle's input size.
	Channels, Height, Width int
}

func (a Square) withDefaults() Square {
	if a.Queries == 0 {
		a.Queries = 5000
	}
	if a.PInit == 0 {
		a.PInit = 0.8
	}
	return a
}

// Name returns "square".
func (a Square) Name() string { return "square" }

// Params returns the effective parameters.
func (a Square) Params() map[string]string {
	a = a.withDefaults()
	return map[string]string{
		"norm":    string(Linf),
		"eps":     fmtFloat(a.Eps),
		"queries": strconv.Itoa(a.Queries),
		"p_init":  fmtFloat(a.PInit),
		"loss":    "margin",
	}
}

// pSelection returns the fraction of pixels of a square at iteration it.
func (a Square) pSelection(it int) float64 {
	it = int(float64(it) / float64(a.Queries) * 10000)
	switch {
	case it <= 10:
		return a.PInit
	case it <= 50:
		return a.PInit / 2
	case it <= 200:
		return a.PInit / 4
	case it <= 500:
		return a.PInit / 8
	case it <= 1000:
		return a.PInit / 16
	case it <= 2000:
		return a.PInit / 32
	case it <= 4000:
		return a.PInit / 64
	case it <= 6000:
		return a.PInit / 128
	case it <= 8000:
		return a.PInit / 256
	}
	return a.PInit / 512
}

// Run returns the adversarial examples in a new slice.
func (a Square) Run(o Oracle, x0 []float32, labels []int64, n int, rng *rand.Rand) ([]float32, error) {
	d, k, err := checkBatch(o, x0, labels, n)
	if err != nil {
		return nil, err
	}
	a = a.withDefaults()
	if err := checkBudget(Linf, a.Eps, false); err != nil {
		return nil, err
	}
	c, h, w := a.Channels, a.Height, a.Width
	switch {
	case c <= 0 || h <= 0 || w <= 0 || c*h*w != d:
		return nil, fmt.Errorf("attack: square needs the image layout, got %dx%dx%d for input size %d", c, h, w, d)
	case a.Queries < 0 || !(a.PInit > 0 && a.PInit <= 1):
		return nil, fmt.Errorf("attack: square needs non-negative queries and p_init in (0, 1], got %d, %v", a.Queries, a.PInit)
	}
	xbest := make([]float32, len(x0))
	copy(xbest, x0)
	if n == 0 {
		return xbest, nil
	}
	logits := make([]float32, n*k)
	if err := callLogits(o, x0, n, logits); err != nil {
		return nil, err
	}
	// margin is z_y - max_{j≠y} z_j at the best point; fooled says whether
	// argmax misclassifies it (which a zero margin may not).
	margin := make([]float64, n)
	fooled := make([]bool, n)
	idx := make([]int, 0, n)
	for i := range n {
		z := logits[i*k : (i+1)*k]
		margin[i] = -marginLoss(z, int(labels[i]))
		fooled[i] = Predict(z) != int(labels[i])
		if !fooled[i] {
			idx = append(idx, i)
		}
	}
	m := len(idx)
	if m == 0 {
		return xbest, nil
	}
	// Vertical stripes: one sign per channel and column.
	for _, i := range idx {
		xi, x0i := xbest[i*d:(i+1)*d], x0[i*d:(i+1)*d]
		for ch := range c {
			for col := range w {
				s := a.Eps
				if rng.IntN(2) == 0 {
					s = -s
				}
				for row := range h {
					p := (ch*h+row)*w + col
					xi[p] = float32(clamp(float64(x0i[p])+s, 0, 1))
				}
			}
		}
	}
	xnew := make([]float32, m*d)
	gather(xnew, xbest, idx, d)
	if err := callLogits(o, xnew, m, logits[:m*k]); err != nil {
		return nil, err
	}
	for j, i := range idx {
		z := logits[j*k : (j+1)*k]
		margin[i] = -marginLoss(z, int(labels[i]))
		fooled[i] = Predict(z) != int(labels[i])
	}
	signs := make([]float64, c)
	for it := range a.Queries {
		idx = idx[:0]
		for i := range n {
			if !fooled[i] {
				idx = append(idx, i)
			}
		}
		m = len(idx)
		if m == 0 {
			break
		}
		side := int(math.Round(math.Sqrt(a.pSelection(it) * float64(h*w))))
		side = min(max(side, 1), h, w)
		for j, i := range idx {
			xn, xb, x0i := xnew[j*d:(j+1)*d], xbest[i*d:(i+1)*d], x0[i*d:(i+1)*d]
			copy(xn, xb)
			top, left := rng.IntN(h-side+1), rng.IntN(w-side+1)
			for try := 0; try < 10; try++ {
				for ch := range c {
					signs[ch] = a.Eps
					if rng.IntN(2) == 0 {
						signs[ch] = -a.Eps
					}
				}
				if paintSquare(xn, xb, x0i, signs, h, w, top, left, side) {
					break
				}
			}
		}
		if err := callLogits(o, xnew[:m*d], m, logits[:m*k]); err != nil {
			return nil, err
		}
		for j, i := range idx {
			z := logits[j*k : (j+1)*k]
			mg := -marginLoss(z, int(labels[i]))
			mis := Predict(z) != int(labels[i])
			if mg < margin[i] || mis {
				margin[i], fooled[i] = mg, mis
				copy(xbest[i*d:(i+1)*d], xnew[j*d:(j+1)*d])
			}
		}
	}
	return xbest, nil
}

// paintSquare sets the side×side window at (top, left) of every channel of
// x to clip(x0 + sign[channel], 0, 1) and reports whether that changed x
// compared with the current best xb.
func paintSquare(x, xb, x0 []float32, signs []float64, h, w, top, left, side int) bool {
	changed := false
	for ch, s := range signs {
		for row := top; row < top+side; row++ {
			for col := left; col < left+side; col++ {
				p := (ch*h+row)*w + col
				x[p] = float32(clamp(float64(x0[p])+s, 0, 1))
				if math.Abs(float64(x[p])-float64(xb[p])) >= 1e-7 {
					changed = true
				}
			}
		}
	}
	return changed
}
