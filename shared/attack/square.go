package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Square is the Square Attack (Andriushchenko et al., "Square Attack: a
// query-efficient black-box adversarial attack via random search", ECCV
// 2020), in L∞ and L2, following the reference implementation
// (github.com/fra31/auto-attack, autoattack/square.py). It uses Logits
// only, so gradient masking cannot hide from it.
//
// Examples misclassified at x0 are returned unchanged. In L∞ the others start at
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
// The L2 version (Norm L2) follows the reference's L2 branch: it starts
// from a grid of squares of side max(H/5, 1), each filled with a
// random-signed pattern of two opposite bumps per channel (squareBump),
// scaled to L2 norm Eps, and each proposal replaces one random window
// with a fresh bump plus its old content, empties a second window, and
// rescales the window's energy so that the whole perturbation keeps norm
// Eps (see proposeL2). Windows have an odd side of at least 3.
//
// The result is the point of lowest margin found, misclassifying if any.
type Square struct {
	Norm    Norm    // Linf (default) or L2
	Eps     float64 // radius
	Queries int     // iterations, one query per example still robust; 0 means 5000
	PInit   float64 // initial fraction of pixels per square; 0 means 0.8
	// Channels, Height and Width give the layout of an example,
	// channel-major; their product must be the oracle's input size.
	Channels, Height, Width int
}

func (a Square) withDefaults() Square {
	if a.Norm == "" {
		a.Norm = Linf
	}
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
		"norm":    string(a.Norm),
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
	defer hold(o)()
	a = a.withDefaults()
	if err := checkBudget(a.Norm, a.Eps, false); err != nil {
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
	for _, i := range idx {
		xi, x0i := xbest[i*d:(i+1)*d], x0[i*d:(i+1)*d]
		if a.Norm == L2 {
			a.startL2(xi, x0i, rng)
			continue
		}
		// Vertical stripes: one sign per channel and column.
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
	var l2 squareL2
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
		if a.Norm == L2 {
			side = max(side, 3)
			if side%2 == 0 {
				side++
			}
		}
		side = min(max(side, 1), h, w)
		for j, i := range idx {
			xn, xb, x0i := xnew[j*d:(j+1)*d], xbest[i*d:(i+1)*d], x0[i*d:(i+1)*d]
			if a.Norm == L2 {
				a.proposeL2(xn, xb, x0i, side, rng, &l2)
				continue
			}
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

// squareL2 holds the buffers of L2 proposals.
type squareL2 struct {
	delta []float64
	bump  []float64
	win   []float64
}

// startL2 writes the L2 starting point to x: a grid of bumps of side
// max(H/5, 1) from row and column (H - 5·side)/2, a random sign per
// channel and bump, the whole scaled to norm Eps and clipped to [0, 1].
func (a Square) startL2(x, x0 []float32, rng *rand.Rand) {
	c, h, w := a.Channels, a.Height, a.Width
	s := max(h/5, 1)
	delta := make([]float64, len(x))
	start := max((h-5*s)/2, 0)
	bump := make([]float64, s*s)
	for vh := start; vh+s <= h && vh < start+(h/s)*s; vh += s {
		for vw := start; vw+s <= w && vw < start+(w/s)*s; vw += s {
			squareBump(bump, s, rng)
			for ch := range c {
				sign := 1.0
				if rng.IntN(2) == 0 {
					sign = -1
				}
				for r := range s {
					for q := range s {
						delta[(ch*h+vh+r)*w+vw+q] += sign * bump[r*s+q]
					}
				}
			}
		}
	}
	scaleInto(x, x0, delta, a.Eps)
}

// scaleInto sets x to clip(x0 + eps·delta/‖delta‖₂, 0, 1).
func scaleInto(x, x0 []float32, delta []float64, eps float64) {
	var n2 float64
	for _, v := range delta {
		n2 += v * v
	}
	s := eps / (math.Sqrt(n2) + 1e-12)
	for i, v := range delta {
		x[i] = float32(clamp(float64(x0[i])+s*v, 0, 1))
	}
}

// proposeL2 writes to xn a proposal from the best point xb: with δ = xb -
// x0, a random side×side window W1 of every channel becomes a fresh bump
// with a random sign plus W1's old content (each normalised per channel),
// rescaled per channel to norm sqrt(max(Eps² - ‖δ‖², 0)/C + ‖δ on W1 ∪
// W2‖²) for a second random window W2, which is emptied first; then the
// perturbation is scaled to norm Eps and clipped to [0, 1].
func (a Square) proposeL2(xn, xb, x0 []float32, side int, rng *rand.Rand, b *squareL2) {
	c, h, w := a.Channels, a.Height, a.Width
	d := len(x0)
	b.delta = grow(b.delta, d)
	b.bump = grow(b.bump, side*side)
	b.win = grow(b.win, c*side*side)
	delta := b.delta
	var image float64
	for i := range d {
		delta[i] = float64(xb[i]) - float64(x0[i])
		image += delta[i] * delta[i]
	}
	v1, u1 := rng.IntN(h-side+1), rng.IntN(w-side+1)
	v2, u2 := rng.IntN(h-side+1), rng.IntN(w-side+1)
	in := func(r, q, vh, vw int) bool { return r >= vh && r < vh+side && q >= vw && q < vw+side }
	var windows float64 // ‖δ‖² over the union of the two windows, all channels
	for ch := range c {
		for r := range h {
			for q := range w {
				if in(r, q, v1, u1) || in(r, q, v2, u2) {
					v := delta[(ch*h+r)*w+q]
					windows += v * v
				}
			}
		}
	}
	target := math.Sqrt(math.Max(a.Eps*a.Eps-image, 0)/float64(c) + windows)
	squareBump(b.bump, side, rng)
	for ch := range c {
		var old float64
		for r := range side {
			for q := range side {
				v := delta[(ch*h+v1+r)*w+u1+q]
				old += v * v
			}
		}
		old = math.Sqrt(old) + 1e-12
		sign := 1.0
		if rng.IntN(2) == 0 {
			sign = -1
		}
		win := b.win[ch*side*side : (ch+1)*side*side]
		var n2 float64
		for r := range side {
			for q := range side {
				v := sign*b.bump[r*side+q] + delta[(ch*h+v1+r)*w+u1+q]/old
				win[r*side+q] = v
				n2 += v * v
			}
		}
		scale := target / (math.Sqrt(n2) + 1e-12)
		for i := range win {
			win[i] *= scale
		}
	}
	for ch := range c {
		for r := range side {
			for q := range side {
				delta[(ch*h+v2+r)*w+u2+q] = 0
			}
		}
	}
	for ch := range c {
		win := b.win[ch*side*side : (ch+1)*side*side]
		for r := range side {
			for q := range side {
				delta[(ch*h+v1+r)*w+u1+q] = win[r*side+q]
			}
		}
	}
	scaleInto(xn, x0, delta, a.Eps)
}

// squareBump writes the reference's eta(s) to b (s×s, row-major): the top
// s/2 rows hold a pyramid of nested rectangles centred in them (the k-th
// ring weighted 1/(k+1)²), the bottom rows the same pyramid negated, each
// half and then the whole normalised to unit L2 norm; transposed with
// probability 1/2.
func squareBump(b []float64, s int, rng *rand.Rand) {
	clear(b)
	top := s / 2
	rectangles(b[:top*s], top, s, 1)
	rectangles(b[top*s:], s-top, s, -1)
	normalise(b)
	if rng.IntN(2) == 0 {
		for r := range s {
			for q := r + 1; q < s; q++ {
				b[r*s+q], b[q*s+r] = b[q*s+r], b[r*s+q]
			}
		}
	}
}

// rectangles adds to b, x×y, sign times the reference's eta_rectangles:
// rings around the centre (x/2, y/2), the k-th of half-size k, each cell
// inside it gaining 1/(k+1)², normalised to unit norm.
func rectangles(b []float64, x, y int, sign float64) {
	if x == 0 || y == 0 {
		return
	}
	xc, yc := x/2+1, y/2+1
	r0, c0 := xc-1, yc-1
	for k := range max(xc, yc) {
		for r := max(r0, 0); r < min(r0+2*k+1, x); r++ {
			for q := max(c0, 0); q < min(c0+2*k+1, y); q++ {
				b[r*y+q] += sign / float64((k+1)*(k+1))
			}
		}
		r0--
		c0--
	}
	normalise(b)
}

// normalise scales v to unit L2 norm (leaving zero alone).
func normalise(v []float64) {
	var n2 float64
	for _, u := range v {
		n2 += u * u
	}
	if n2 == 0 {
		return
	}
	s := 1 / math.Sqrt(n2)
	for i := range v {
		v[i] *= s
	}
}
