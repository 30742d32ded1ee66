package augment

import (
	"fmt"
	"math/rand/v2"
)

// RandomCropFlip writes to dst, per example, a random h×w crop of src
// zero-padded by pad pixels on every side, and, if flip is set, mirrors the
// crop horizontally with probability 1/2. This is torchvision's
// RandomCrop(size, padding=pad) followed by RandomHorizontalFlip.
//
// Both slices hold n examples of c×h×w float32 values, row-major; they must
// have the same length n*c*h*w and must not overlap. Per example, the
// function draws the vertical offset dy and then the horizontal offset dx,
// each uniform in [-pad, pad] with rng.IntN(2*pad+1)-pad (only when pad > 0),
// and then the flip with rng.IntN(2) == 1 (only when flip is set). Output
// pixel (y, x) of every channel is src pixel (y+dy, x+dx) of the same channel,
// or 0 outside the image; a flip then maps output column x to w-1-x.
//
// RandomCropFlip panics if the sizes are negative or do not match the slices,
// as indexing out of range would.
func RandomCropFlip(dst, src []float32, n, c, h, w, pad int, flip bool, rng *rand.Rand) {
	if n < 0 || c < 0 || h < 0 || w < 0 || pad < 0 {
		panic(fmt.Sprintf("augment: negative size n=%d c=%d h=%d w=%d pad=%d", n, c, h, w, pad))
	}
	size := c * h * w
	if len(src) != n*size || len(dst) != len(src) {
		panic(fmt.Sprintf("augment: %d examples of %dx%dx%d need %d values, got src %d and dst %d",
			n, c, h, w, n*size, len(src), len(dst)))
	}
	for i := range n {
		dy, dx := 0, 0
		if pad > 0 {
			dy = rng.IntN(2*pad+1) - pad
			dx = rng.IntN(2*pad+1) - pad
		}
		mirror := flip && rng.IntN(2) == 1
		cropFlip(dst[i*size:(i+1)*size], src[i*size:(i+1)*size], c, h, w, dy, dx, mirror)
	}
}

// cropFlip writes one example: out(y, x) = in(y+dy, x+dx), zero outside,
// with columns reversed if mirror.
func cropFlip(dst, src []float32, c, h, w, dy, dx int, mirror bool) {
	// Output columns [x0, x1) read from inside the image; the rest are padding.
	x0, x1 := max(0, -dx), min(w, w-dx)
	if x1 < x0 {
		x1 = x0
	}
	for ch := range c {
		plane := ch * h * w
		for y := range h {
			out := dst[plane+y*w : plane+(y+1)*w]
			sy := y + dy
			if sy < 0 || sy >= h || x0 == x1 {
				clear(out)
				continue
			}
			in := src[plane+sy*w : plane+(sy+1)*w]
			if !mirror {
				clear(out[:x0])
				copy(out[x0:x1], in[x0+dx:x1+dx])
				clear(out[x1:])
				continue
			}
			// Mirrored: out[w-1-x] takes the unmirrored out[x].
			clear(out[w-x0:])
			for x := x0; x < x1; x++ {
				out[w-1-x] = in[x+dx]
			}
			clear(out[:w-x1])
		}
	}
}
