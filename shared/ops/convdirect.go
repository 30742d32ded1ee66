package ops

import "sgn/shared/kernels"

// Direct convolution: the float32 fast path reads each input in place, from
// a zero-padded copy, instead of unrolling it with im2col and packing the
// unrolled matrix; for stride 1 it computes the data gradient as the direct
// convolution of the output gradient with the flipped, transposed filters
// instead of a GEMM followed by col2im; and it computes the filter gradient
// from the padded input and the output gradient without im2col. The 6×16
// kernels (6×32 with AVX-512) cover the output with tiles of 16 positions
// of a row by 6 channels, 6 positions by 16 channels, or 6 rows of one
// channel, whichever fits (directLayout); where none fills three quarters,
// or where im2col measured faster, the im2col path stays.

// directPlan is a convolution of cin×hin×win inputs by kh×kw filters with
// padding padH and padW and the given stride, giving cout×hout×wout
// outputs. Tiles by rows and by planes need stride 1; tiles by channels and
// the filter gradient read the input at each output position's offset and
// take any stride.
type directPlan struct {
	cin, hin, win int
	cout, kh, kw  int
	padH, padW    int
	stride        int
	hout, wout    int
	tiles         int      // 16-wide segments per output row
	hp, wp        int      // padded input, wide enough for the last segment
	offs          []int32  // per filter tap (c, ki, kj): its offset in the padded input
	wide          bool     // pair tiles for the 6×32 AVX-512 kernels
	bufs          *buffers // the node's packing space, nil for the pool's
}

// newDirectPlan plans a convolution with the node's buffers b (nil for
// none), which keep its offset tables across runs.
func newDirectPlan(b *buffers, cin, hin, win, cout, kh, kw, padH, padW, stride int, wide bool) directPlan {
	p := directPlan{cin: cin, hin: hin, win: win, cout: cout, kh: kh, kw: kw, padH: padH, padW: padW, stride: stride, wide: wide, bufs: b}
	p.hout, p.wout = (hin+2*padH-kh)/stride+1, (win+2*padW-kw)/stride+1
	p.tiles = (p.wout + kernels.NR - 1) / kernels.NR
	// Wide enough for the last row segment, and for the padded input row.
	p.hp, p.wp = hin+2*padH, max(kernels.NR*p.tiles+kw-1, win+2*padW)
	p.offs = indices(b, 0, cin*kh*kw)[:0]
	for c := range cin {
		for ki := range kh {
			for kj := range kw {
				p.offs = append(p.offs, int32((c*p.hp+ki)*p.wp+kj))
			}
		}
	}
	return p
}

// useDirect reports whether the direct path suits a convolution with this
// stride and output geometry: a tiling whose kernel tiles are at least three
// quarters used, by channels when the stride is not 1.
func useDirect(stride, hout, wout, cout int) bool {
	switch {
	case !kernels.Fast() || stride < 1:
		return false
	case stride > 1:
		return fillOf(cout, kernels.NR) >= 0.75
	}
	_, ok := directLayout(hout, wout, cout, kernels.Wide())
	return ok
}

// fillOf is the share of tiles of the given size that n items use.
func fillOf(n, tile int) float64 { return float64(n) / float64(tile*((n+tile-1)/tile)) }

// directTiling is how the direct path's kernel tiles cover a convolution's
// output.
type directTiling int

const (
	tileRows      directTiling = iota // 16 positions of one row by 6 channels (run)
	tileChannels                      // 6 positions by 16 channels (runByChannels)
	tilePlanes                        // 6 rows of 16 positions of one channel (runPlanes)
	tileTapBlocks                     // by channels, a block of taps at a time (runByTapBlocks)
)

var tilingNames = [...]string{tileRows: "rows", tileChannels: "channels", tilePlanes: "planes", tileTapBlocks: "tap blocks"}

func (t directTiling) String() string { return tilingNames[t] }

// directLayout picks how kernel tiles cover a cout×hout×wout output: by
// rows or by channels, whichever wastes less of the tiles, and whether that
// one uses at least three quarters of them. A 14-wide row fills 7/8 of a
// 16-position tile; 64 channels fill 16-channel tiles exactly. With the
// wide kernels the choice weighs 32-wide tiles, since a lone 16-wide one
// runs at half their rate: a 16-wide row then goes by channels (twice as
// fast as by rows for CIFAR's 16×16 stages, BenchmarkConvLayouts). An
// output of one or two channels (the data gradient of a grey-scale input)
// goes by planes, six rows of one channel at a time, if at least six rows
// high: its kernel loads more per multiply-add, and beat the row tiles
// only below three channels (MNIST's input gradient: 1.3-1.7 ms against
// 2.6 by rows and 2.5 through im2col).
func directLayout(hout, wout, cout int, wide bool) (directTiling, bool) {
	if hout < 1 || wout < 1 || cout < 1 {
		return tileRows, false
	}
	fill := fillOf
	rows, chans := fill(wout, kernels.NR)*fill(cout, kernels.MR), fill(cout, kernels.NR)
	ok := max(rows, chans) >= 0.75
	if wide {
		rows, chans = fill(wout, 2*kernels.NR)*fill(cout, kernels.MR), fill(cout, 2*kernels.NR)
	}
	switch {
	case ok && chans > rows:
		return tileChannels, true
	case ok:
		return tileRows, true
	}
	segment := kernels.NR
	if wide {
		segment = 2 * kernels.NR
	}
	// The last six rows overlap the group before them when hout is not a
	// multiple of six, recomputing some.
	planes := fill(wout, segment) * fill(hout, kernels.MR)
	return tilePlanes, cout <= 2 && hout >= kernels.MR && planes >= 0.75
}

// convolve sets y [n,cout,hout,wout] to the convolution of x
// [n,cin,hin,win] with the filters w [cout, cin·kh·kw]. A strided plan
// always goes by channels: the other tilings read contiguous inputs. A
// layer by channels with many weights goes by tap blocks.
func (p directPlan) convolve(n int, x, w, y []float32, tiling directTiling) {
	if p.stride != 1 && tiling != tileTapBlocks {
		tiling = tileChannels
	}
	if tiling == tileChannels && len(p.offs)*p.cout > tapBlockWeights {
		tiling = tileTapBlocks
	}
	p.bufs.reservePacks(1)
	shared := p.bufs.pack(0)
	defer p.bufs.unpack(shared)
	taps := len(p.offs)
	switch tiling {
	case tileChannels, tileTapBlocks:
		bp := grow(&shared.whole, (p.cout+kernels.NR-1)/kernels.NR*kernels.NR*taps)
		kernels.PackB(true, w, taps, 0, 0, taps, p.cout, bp) // wᵀ, in panels of 16 channels
		if tiling == tileTapBlocks {
			p.runByTapBlocks(n, x, bp, y)
			break
		}
		p.runByChannels(n, x, bp, y)
	case tilePlanes:
		p.runPlanes(n, x, w, y) // each channel's filter is a row of w already
	default:
		ap := grow(&shared.whole, (p.cout+kernels.MR-1)/kernels.MR*kernels.MR*taps)
		kernels.PackA(false, w, taps, 0, 0, p.cout, taps, ap)
		p.run(n, x, ap, y)
	}
}

// runByChannels is run with tiles of 6 output positions by 16 channels:
// the kernel broadcasts the input at six positions and loads 16 channels'
// weights, packed in bp, for each filter tap.
func (p directPlan) runByChannels(n int, x, bp, y []float32) {
	inSize, positions := p.cin*p.hin*p.win, p.hout*p.wout
	outSize, taps := p.cout*positions, len(p.offs)
	posPanels, chanPanels := (positions+kernels.MR-1)/kernels.MR, (p.cout+kernels.NR-1)/kernels.NR
	// Each position's offset in the padded input; the last panel's missing
	// positions repeat the last one and are dropped.
	pos := indices(p.bufs, 1, posPanels*kernels.MR)
	for q := range positions {
		pos[q] = int32(q/p.wout*p.stride*p.wp + q%p.wout*p.stride)
	}
	for q := positions; q < len(pos); q++ {
		pos[q] = pos[positions-1]
	}
	p.workers(n, workersFor(n), func(_, lo, hi int, buf *gemmBuf, xp []float32) {
		tile := buf.tile[:]
		for i := lo; i < hi; i++ {
			p.fill(xp, x[i*inSize:(i+1)*inSize])
			yi := y[i*outSize : (i+1)*outSize]
			for ip := range posPanels {
				rows := min(kernels.MR, positions-kernels.MR*ip)
				for jp := 0; jp < chanPanels; {
					// Two full channel panels side by side take the 6×32 kernel;
					// the tile's rows are width floats apart.
					width := kernels.NR
					if p.wide && p.cout-kernels.NR*jp >= 2*kernels.NR {
						width = 2 * kernels.NR
					}
					cols := min(width, p.cout-kernels.NR*jp)
					base := kernels.NR*jp*positions + kernels.MR*ip
					if rows == kernels.MR && cols == width {
						// A full tile goes straight into y, transposed in registers.
						if width > kernels.NR {
							kernels.ConvFilter6x32T(taps, &xp[0], &pos[kernels.MR*ip], &p.offs[0], &bp[jp*kernels.NR*taps], kernels.NR*taps, &yi[base], positions)
						} else {
							kernels.ConvFilter6x16T(taps, &xp[0], &pos[kernels.MR*ip], &p.offs[0], &bp[jp*kernels.NR*taps], &yi[base], positions)
						}
						jp += width / kernels.NR
						continue
					}
					clear(tile[:kernels.MR*width])
					if width > kernels.NR {
						kernels.ConvFilter6x32(taps, &xp[0], &pos[kernels.MR*ip], &p.offs[0], &bp[jp*kernels.NR*taps], kernels.NR*taps, &tile[0], width)
					} else {
						kernels.ConvFilter6x16(taps, &xp[0], &pos[kernels.MR*ip], &p.offs[0], &bp[jp*kernels.NR*taps], &tile[0], width)
					}
					if rows == kernels.MR {
						// A partial channel panel goes channel by channel, six
						// contiguous positions each: row-wise stores,
						// 4·positions bytes apart, were slower.
						for j := range cols {
							d := (*[kernels.MR]float32)(yi[base+j*positions:])
							d[0], d[1], d[2] = tile[j], tile[width+j], tile[2*width+j]
							d[3], d[4], d[5] = tile[3*width+j], tile[4*width+j], tile[5*width+j]
						}
					} else {
						for r := range rows {
							dst := yi[base+r:]
							for j, v := range tile[r*width:][:cols] {
								dst[j*positions] = v
							}
						}
					}
					jp += width / kernels.NR
				}
			}
		}
	})
}

// tapBlock is how many filter taps runByTapBlocks takes at a time: 16 KB
// of a 16-channel weight panel, which stays in the first-level cache.
// Layers with more than tapBlockWeights weights take that path: it gained
// on preact-resnet18's 512-channel 4×4 stage (9.4 MB of weights, forward
// 105-141 GFLOP/s on two cores before, 121-148 after) but not on the
// 256-channel 8×8 one (2.4 MB, 146-164 against 163-165) or smaller ones.
const (
	tapBlock        = 256
	tapBlockWeights = 1 << 20
)

// runByTapBlocks is runByChannels for many taps: a kernel call over all
// the taps read the whole weight panel, taps·64 bytes, for six output
// positions, from the second-level cache or beyond (295 KB for
// preact-resnet18's 512-channel layers). Here each call takes tapBlock taps,
// whose weights serve every position of a chunk of examples (their padded
// copies side by side, as many as make about filterColumns positions) before
// the next block; the kernels add into a position-major sum, transposed
// into y at the end of the chunk.
func (p directPlan) runByTapBlocks(n int, x, bp, y []float32) {
	p.narrow()
	inSize, positions := p.cin*p.hin*p.win, p.hout*p.wout
	outSize, taps, exSize := p.cout*positions, len(p.offs), p.cin*p.hp*p.wp
	posPanels, chanPanels := (positions+kernels.MR-1)/kernels.MR, (p.cout+kernels.NR-1)/kernels.NR
	rowsPer, ldc := posPanels*kernels.MR, chanPanels*kernels.NR
	e := max(1, min(n, filterColumns/positions))
	// Each position's offset in the chunk's padded copies; an example's
	// last panel repeats its last position, whose extra rows are dropped.
	pos := indices(p.bufs, 1, e*rowsPer)
	for j := range e {
		for q := range rowsPer {
			qq := min(q, positions-1)
			pos[j*rowsPer+q] = int32(j*exSize + qq/p.wout*p.stride*p.wp + qq%p.wout*p.stride)
		}
	}
	p.workersBy(n, workersFor(n), e, func(_, lo, hi int, buf *gemmBuf, xp []float32) {
		sum := grow(&buf.packed, e*rowsPer*ldc)
		for i := lo; i < hi; i += e {
			m := min(e, hi-i)
			for j := range m {
				p.fill(xp[j*exSize:], x[(i+j)*inSize:(i+j+1)*inSize])
			}
			clear(sum[:m*rowsPer*ldc])
			for t0 := 0; t0 < taps; t0 += tapBlock {
				kb := min(tapBlock, taps-t0)
				for jp := 0; jp < chanPanels; {
					// Two full channel panels side by side take the 6×32 kernel.
					width := kernels.NR
					if p.wide && p.cout-kernels.NR*jp >= 2*kernels.NR {
						width = 2 * kernels.NR
					}
					b := &bp[jp*kernels.NR*taps+t0*kernels.NR]
					for ip := range m * posPanels {
						c := &sum[ip*kernels.MR*ldc+jp*kernels.NR]
						if width > kernels.NR {
							kernels.ConvFilter6x32(kb, &xp[0], &pos[ip*kernels.MR], &p.offs[t0], b, kernels.NR*taps, c, ldc)
						} else {
							kernels.ConvFilter6x16(kb, &xp[0], &pos[ip*kernels.MR], &p.offs[t0], b, c, ldc)
						}
					}
					jp += width / kernels.NR
				}
			}
			for j := range m {
				yj, sj := y[(i+j)*outSize:(i+j+1)*outSize], sum[j*rowsPer*ldc:]
				for o := range p.cout {
					row := yj[o*positions : (o+1)*positions]
					for q := range row {
						row[q] = sj[q*ldc+o]
					}
				}
			}
		}
	})
}

// run sets y [n,cout,hout,wout] to the convolution of x [n,cin,hin,win]
// with the filters packed in ap (panels of 6 output channels by cin·kh·kw
// taps, as kernels.PackA lays them out).
func (p directPlan) run(n int, x, ap, y []float32) {
	inSize, outSize := p.cin*p.hin*p.win, p.cout*p.hout*p.wout
	taps := len(p.offs)
	panels := (p.cout + kernels.MR - 1) / kernels.MR
	p.workers(n, workersFor(n), func(_, lo, hi int, buf *gemmBuf, xp []float32) {
		tile := buf.tile[:]
		for i := lo; i < hi; i++ {
			p.fill(xp, x[i*inSize:(i+1)*inSize])
			yi := y[i*outSize : (i+1)*outSize]
			for oh := range p.hout {
				for t := 0; t < p.tiles; {
					// Two segments side by side take the 6×32 kernel; the
					// padded row is wide enough for both.
					width := kernels.NR
					if p.wide && t+1 < p.tiles {
						width = 2 * kernels.NR
					}
					base, cols := oh*p.wp+kernels.NR*t, min(width, p.wout-kernels.NR*t)
					for ip := range panels {
						clear(tile[:kernels.MR*width])
						if width > kernels.NR {
							kernels.Conv6x32(taps, &ap[ip*kernels.MR*taps], &xp[base], &p.offs[0], &tile[0], width)
						} else {
							kernels.Conv6x16(taps, &ap[ip*kernels.MR*taps], &xp[base], &p.offs[0], &tile[0], width)
						}
						for r := range min(kernels.MR, p.cout-kernels.MR*ip) {
							copy(yi[((kernels.MR*ip+r)*p.hout+oh)*p.wout+kernels.NR*t:][:cols], tile[r*width:][:cols])
						}
					}
					t += width / kernels.NR
				}
			}
		}
	})
}

// runPlanes sets y [n,cout,hout,wout] to the convolution of x
// [n,cin,hin,win] with the filters w [cout, cin·kh·kw], six rows of one
// output channel at a time (hout >= 6): the kernel broadcasts each tap's
// weight against six rows of the input read in place.
func (p directPlan) runPlanes(n int, x, w, y []float32) {
	inSize, plane := p.cin*p.hin*p.win, p.hout*p.wout
	taps := len(p.offs)
	p.workers(n, workersFor(n), func(_, lo, hi int, buf *gemmBuf, xp []float32) {
		tile := buf.tile[:]
		for i := lo; i < hi; i++ {
			p.fill(xp, x[i*inSize:(i+1)*inSize])
			for o := range p.cout {
				wo, yo := w[o*taps:(o+1)*taps], y[(i*p.cout+o)*plane:][:plane]
				for oh := 0; oh < p.hout; oh += kernels.MR {
					// The last group of rows ends at the last row, overlapping
					// the group before; its rows already written are skipped.
					top := min(oh, p.hout-kernels.MR)
					for t := 0; t < p.tiles; {
						width := kernels.NR
						if p.wide && t+1 < p.tiles {
							width = 2 * kernels.NR
						}
						base, cols := top*p.wp+kernels.NR*t, min(width, p.wout-kernels.NR*t)
						clear(tile[:kernels.MR*width])
						if width > kernels.NR {
							kernels.ConvPlane6x32(taps, &wo[0], &xp[base], &p.offs[0], p.wp, &tile[0], width)
						} else {
							kernels.ConvPlane6x16(taps, &wo[0], &xp[base], &p.offs[0], p.wp, &tile[0], width)
						}
						for r := oh - top; r < kernels.MR; r++ {
							copy(yo[(top+r)*p.wout+kernels.NR*t:][:cols], tile[r*width:][:cols])
						}
						t += width / kernels.NR
					}
				}
			}
		}
	})
}

// workers runs body over n examples on parallelFor's workers, each with its
// packing space and its padded input, whose border is zero and stays so:
// fill overwrites only the interior.
func (p directPlan) workers(n, workers int, body func(wk, lo, hi int, buf *gemmBuf, xp []float32)) {
	p.workersBy(n, workers, 1, body)
}

// workersBy is workers with room for the padded copies of e examples side
// by side in xp.
func (p directPlan) workersBy(n, workers, e int, body func(wk, lo, hi int, buf *gemmBuf, xp []float32)) {
	p.bufs.reservePacks(1 + workers)
	parallelForN(n, workers, func(wk, lo, hi int) {
		buf := p.bufs.pack(1 + wk)
		defer p.bufs.unpack(buf)
		xp := grow(&buf.col, e*p.cin*p.hp*p.wp)
		clear(xp)
		body(wk, lo, hi, buf, xp)
	})
}

// fill copies the example xi into the interior of its padded copy xp,
// whose border is zero.
func (p directPlan) fill(xp, xi []float32) {
	for c := range p.cin {
		for r := range p.hin {
			copy(xp[(c*p.hp+r+p.padH)*p.wp+p.padW:][:p.win], xi[(c*p.hin+r)*p.win:][:p.win])
		}
	}
}

// directForward is convForwardKernel on the direct path.
func directForward(b *buffers, g convGeom, x, w []float32) []float32 {
	tiling, _ := directLayout(g.ho, g.wo, g.o, kernels.Wide())
	if g.stride != 1 {
		tiling = tileChannels
	}
	return directForwardWith(b, g, x, w, tiling, kernels.Wide())
}

// directForwardWith writes every element of its output, as does
// directBackDataWith: each tiling covers the whole output.
func directForwardWith(b *buffers, g convGeom, x, w []float32, tiling directTiling, wide bool) []float32 {
	p := newDirectPlan(b, g.c, g.h, g.w, g.o, g.kh, g.kw, g.pad, g.pad, g.stride, wide)
	y := output[float32](b, g.n*g.o*g.positions, false)
	p.convolve(g.n, x, w, y, tiling)
	return y
}

// directBackData is convBackDataKernel on the direct path: for stride 1
// the data gradient is the convolution of gy, padded by k-1-pad, with the
// filters flipped in space and with input and output channels swapped.
func directBackData(b *buffers, g convGeom, gy, w []float32) []float32 {
	tiling, _ := directLayout(g.h, g.w, g.c, kernels.Wide())
	return directBackDataWith(b, g, gy, w, tiling, kernels.Wide())
}

func directBackDataWith(b *buffers, g convGeom, gy, w []float32, tiling directTiling, wide bool) []float32 {
	kk := g.kh * g.kw
	wt := scratch[float32](b, 0, g.c*g.o*kk, false) // [C, O·KH·KW]
	for o := range g.o {
		for c := range g.c {
			src := w[(o*g.c+c)*kk:][:kk]
			dst := wt[(c*g.o+o)*kk:][:kk]
			for i, v := range src {
				dst[kk-1-i] = v // (ki, kj) -> (kh-1-ki, kw-1-kj)
			}
		}
	}
	p := newDirectPlan(b, g.o, g.ho, g.wo, g.c, g.kh, g.kw, g.kh-1-g.pad, g.kw-1-g.pad, 1, wide)
	dx := output[float32](b, g.n*g.c*g.h*g.w, false)
	p.convolve(g.n, gy, wt, dx, tiling)
	return dx
}

// directForwardOK, directBackDataOK and directBackFilterOK report whether
// the direct path applies to a convolution's three products: tiles mostly
// used (see directLayout; by channels for a stride above 1), and for the
// data gradient, a convolution itself only at stride 1, padding no larger
// than the kernel less one. The filter gradient's tiles run over filter
// taps and channels, which any layer fills well enough, and each kernel
// call sums over the output positions of enough examples (filterColumns).
// A strided forward pass with few taps was faster through im2col (its 1×1
// shortcut from 64 channels: 9.7 ms against 3.6; from 256, 3.3 against
// 3.2, about even). BenchmarkConvResNet has the figures.
func (g convGeom) directForwardOK() bool {
	return (g.stride == 1 || g.ckk >= 256) && useDirect(g.stride, g.ho, g.wo, g.o)
}

func (g convGeom) directBackDataOK() bool {
	return g.stride == 1 && g.pad <= g.kh-1 && g.pad <= g.kw-1 && useDirect(1, g.h, g.w, g.c)
}

func (g convGeom) directBackFilterOK() bool {
	return kernels.Fast()
}

// filterColumns is about how many output positions each kernel call of
// the direct filter gradient sums over: a layer with fewer per example
// lays several examples side by side. Each call adds its 6×16 tile into a
// sum of taps×channels floats, megabytes for the deep layers, so a call
// over a 4×4 example's 16 positions spent its time in the memory traffic
// of that sum (preact-resnet18's 512-channel 4×4 layers: 80 GFLOP/s on
// two cores through im2col, BenchmarkConvCIFAR).
const filterColumns = 256

// filterChunk is how many examples one kernel call of the direct filter
// gradient covers.
func (g convGeom) filterChunk() int {
	return max(1, min(g.n, filterColumns/g.positions))
}

// directBackFilter is convBackFilterKernel on the direct path (any stride):
// dwᵀ [taps,O] = Σ_n A_n·gy_nᵀ, where A_n[tap][q] is read in place from
// the padded example at output position q; each worker sums its examples,
// a chunk of them per kernel call, and the sum is transposed at the end.
func directBackFilter(b *buffers, g convGeom, x, gy []float32) []float32 {
	return directBackFilterWith(b, g, x, gy, kernels.Wide())
}

func directBackFilterWith(b *buffers, g convGeom, x, gy []float32, wide bool) []float32 {
	p := newDirectPlan(b, g.c, g.h, g.w, g.o, g.kh, g.kw, g.pad, g.pad, g.stride, wide)
	p.narrow()
	e := g.filterChunk()
	taps, positions, exSize := len(p.offs), g.positions, p.cin*p.hp*p.wp
	// Each position of each example of a chunk: its offset in the chunk's
	// padded copies.
	pos := indices(b, 1, e*positions)[:0]
	for j := range e {
		for oh := range g.ho {
			for ow := range g.wo {
				pos = append(pos, int32(j*exSize+oh*g.stride*p.wp+ow*g.stride))
			}
		}
	}
	tapPanels, oPanels := (taps+kernels.MR-1)/kernels.MR, (g.o+kernels.NR-1)/kernels.NR
	// The last panel's missing taps repeat the last one; their rows are dropped.
	aoffs := indices(b, 2, tapPanels*kernels.MR)
	copy(aoffs, p.offs)
	for i := taps; i < len(aoffs); i++ {
		aoffs[i] = p.offs[taps-1]
	}
	inSize, outSize := g.c*g.h*g.w, g.o*positions
	workers := workersFor(g.n)
	parts := make([][]float32, workers)
	for wk := range parts {
		parts[wk] = scratch[float32](b, wk, taps*g.o, true)
	}
	p.workersBy(g.n, workers, e, func(wk, lo, hi int, buf *gemmBuf, xp []float32) {
		acc := parts[wk]
		tile := buf.tile[:]
		for i := lo; i < hi; i += e {
			m := min(e, hi-i)
			k := m * positions
			bp := grow(&buf.packed, oPanels*kernels.NR*k)
			for j := range m {
				p.fill(xp[j*exSize:], x[(i+j)*inSize:(i+j+1)*inSize])
				packGradT(bp, gy[(i+j)*outSize:(i+j+1)*outSize], g.o, positions, k, j*positions)
			}
			for ip := range tapPanels {
				rows := min(kernels.MR, taps-kernels.MR*ip)
				for jp := 0; jp < oPanels; {
					// Two full channel panels side by side take the 6×32 kernel.
					col0, width := kernels.NR*jp, kernels.NR
					if wide && g.o-col0 >= 2*kernels.NR {
						width = 2 * kernels.NR
					}
					jp += width / kernels.NR
					cols := min(width, g.o-col0)
					kernel := func(c *float32, ldc int) {
						panel := &bp[col0*k]
						if width > kernels.NR {
							kernels.ConvFilter6x32(k, &xp[0], &aoffs[kernels.MR*ip], &pos[0], panel, kernels.NR*k, c, ldc)
						} else {
							kernels.ConvFilter6x16(k, &xp[0], &aoffs[kernels.MR*ip], &pos[0], panel, c, ldc)
						}
					}
					if rows == kernels.MR && cols == width {
						kernel(&acc[kernels.MR*ip*g.o+col0], g.o)
						continue
					}
					clear(tile[:kernels.MR*width])
					kernel(&tile[0], width)
					for r := range rows {
						dst := acc[(kernels.MR*ip+r)*g.o+col0:][:cols]
						for j, v := range tile[r*width:][:cols] {
							dst[j] += v
						}
					}
				}
			}
		}
	})
	// The workers' sums are added in place, then transposed into dw in
	// 16×16 blocks: adding each into dw column by column, its writes taps
	// floats apart, and zeroing dw first took 1% of a preact-resnet18 step.
	sum := parts[0]
	for _, acc := range parts[1:] {
		for i, v := range acc[:len(sum)] {
			sum[i] += v
		}
	}
	dw := output[float32](b, g.o*taps, false)
	const block = 16
	for t0 := 0; t0 < taps; t0 += block {
		for o0 := 0; o0 < g.o; o0 += block {
			for t := t0; t < min(t0+block, taps); t++ {
				row := sum[t*g.o : (t+1)*g.o]
				for o := o0; o < min(o0+block, g.o); o++ {
					dw[o*taps+t] = row[o]
				}
			}
		}
	}
	return dw
}

// narrow makes the padded input no wider than the padding needs: the
// filter gradient reads it only at output positions, not in 16-wide row
// segments, and a deep layer's 4-wide rows would otherwise take 18 floats.
func (p *directPlan) narrow() {
	p.wp = p.win + 2*p.padW
	i := 0
	for c := range p.cin {
		for ki := range p.kh {
			for kj := range p.kw {
				p.offs[i] = int32((c*p.hp+ki)*p.wp + kj)
				i++
			}
		}
	}
}

// packGradT packs the output gradient gy [o, positions] of one example
// into the rows [row, row+positions) of bp, panels of 16 channels by k rows
// (the layout kernels.PackB gives gyᵀ), zero-padding the last panel.
func packGradT(bp, gy []float32, o, positions, k, row int) {
	for j0 := 0; j0 < o; j0 += kernels.NR {
		dst := bp[j0*k+row*kernels.NR:][:positions*kernels.NR]
		if o-j0 >= kernels.NR {
			kernels.PackT16(gy[j0*positions:], positions, positions, dst)
			continue
		}
		clear(dst)
		for j := range o - j0 {
			for q, v := range gy[(j0+j)*positions:][:positions] {
				dst[q*kernels.NR+j] = v
			}
		}
	}
}
