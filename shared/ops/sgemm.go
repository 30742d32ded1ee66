package ops

import (
	"os"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Blocking of the float32 GEMM (GotoBLAS style): a kc×nc panel of op(B) and
// an mc×kc block of op(A) are packed into micro-panels of sgemmNR columns
// and sgemmMR rows, which the assembly kernel multiplies.
const (
	sgemmMR = 6
	sgemmNR = 16
	sgemmKC = 256
	sgemmMC = 96
	sgemmNC = 2048
)

// fastSgemm and wideKernels are fixed at start-up from the CPU's features:
// the 6×16 AVX2 kernels, and their 6×32 AVX-512 twins, which do twice the
// work per instruction (on this project's reference machine, twice the
// multiply-adds per second). Code taking a kernel choice as an argument
// lets the tests compare the two.
// SGN_KERNELS=avx2 in the environment keeps the 6×16 kernels on a CPU
// with AVX-512, to measure there what an AVX2-only CPU runs.
var (
	fastSgemm   = hasAVX2FMA()
	wideKernels = fastSgemm && hasAVX512() && os.Getenv("SGN_KERNELS") != "avx2"
)

// Kernels names the float32 kernels this process runs, as chosen at
// start-up: "AVX-512 6x32", "AVX2 6x16" (also on an AVX-512 CPU when
// SGN_KERNELS=avx2), or "gonum, no AVX2+FMA kernels" (without AVX2 and FMA,
// or built with the purego tag). Benchmarks print it next to their figures.
func Kernels() string { return kernelsName(fastSgemm, wideKernels) }

func kernelsName(fast, wide bool) string {
	switch {
	case fast && wide:
		return "AVX-512 6x32"
	case fast:
		return "AVX2 6x16"
	}
	return "gonum, no AVX2+FMA kernels"
}

// gemmBuf is packing space that one goroutine reuses across GEMM calls,
// with room for a convolution's im2col matrix.
type gemmBuf struct {
	a, b, col []float32
	whole     []float32                      // a whole packed A shared by the goroutines of one op
	tile      [sgemmMR * 2 * sgemmNR]float32 // room for a 6×32 tile
}

// gemmBufs recycles packing space across op runs: allocating it afresh cost
// a train step about 5% in zeroing alone. Like fmt's printer cache it holds
// nothing a caller can observe.
var gemmBufs = sync.Pool{New: func() any { return new(gemmBuf) }}

func getGemmBuf() *gemmBuf  { return gemmBufs.Get().(*gemmBuf) }
func putGemmBuf(b *gemmBuf) { gemmBufs.Put(b) }

// colScratch returns n elements of scratch for an im2col matrix, from buf
// for float32 (uninitialised: im2col writes every element).
func colScratch[T float](buf *gemmBuf, n int) []T {
	if _, ok := any(T(0)).(float32); ok {
		return any(grow(&buf.col, n)).([]T)
	}
	return make([]T, n)
}

// sgemm computes c = op(a)·op(b) + beta·c for row-major float32 matrices,
// op(a) m×k and op(b) k×n, on the calling goroutine.
func sgemm(buf *gemmBuf, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmPre(buf, nil, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// packWhole packs all of op(a), m×k, into dst's storage, block by block in
// sgemm's order, for many products with the same A (a convolution's weights
// meet every example) through sgemmPre.
func packWhole(dst *[]float32, tA bool, a []float32, lda, m, k int) []float32 {
	size := 0
	for pc := 0; pc < k; pc += sgemmKC {
		kb := min(sgemmKC, k-pc)
		for ic := 0; ic < m; ic += sgemmMC {
			size += (min(sgemmMC, m-ic) + sgemmMR - 1) / sgemmMR * sgemmMR * kb
		}
	}
	data, off := grow(dst, size), 0
	for pc := 0; pc < k; pc += sgemmKC {
		kb := min(sgemmKC, k-pc)
		for ic := 0; ic < m; ic += sgemmMC {
			mb := min(sgemmMC, m-ic)
			packA(tA, a, lda, ic, pc, mb, kb, data[off:])
			off += (mb + sgemmMR - 1) / sgemmMR * sgemmMR * kb
		}
	}
	return data
}

// sgemmPre is sgemm taking its A blocks from pre when that is not nil
// (pre must then be packWhole of the same a, tA, m and k).
func sgemmPre(buf *gemmBuf, pre []float32, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !fastSgemm {
		if m == 0 || n == 0 {
			return
		}
		ta, tb := blas.NoTrans, blas.NoTrans
		if tA {
			ta = blas.Trans
		}
		if tB {
			tb = blas.Trans
		}
		gonum.Implementation{}.Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmWith(wideKernels, buf, pre, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// sgemmWith is sgemmPre on the packed kernels, with the choice of width:
// wide pairs B panels for the 6×32 AVX-512 kernel. Without AVX2 only the
// tests call it, on the portable Go kernels.
func sgemmWith(wide bool, buf *gemmBuf, pre []float32, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k == 0 {
		return
	}
	if buf == nil {
		buf = new(gemmBuf)
	}
	for jc := 0; jc < n; jc += sgemmNC {
		nb := min(sgemmNC, n-jc)
		preOff := 0
		npanels := (nb + sgemmNR - 1) / sgemmNR
		for pc := 0; pc < k; pc += sgemmKC {
			kb := min(sgemmKC, k-pc)
			bp := grow(&buf.b, npanels*sgemmNR*kb)
			packB(tB, b, ldb, pc, jc, kb, nb, bp)
			for ic := 0; ic < m; ic += sgemmMC {
				mb := min(sgemmMC, m-ic)
				mpanels := (mb + sgemmMR - 1) / sgemmMR
				var ap []float32
				if pre != nil {
					ap = pre[preOff : preOff+mpanels*sgemmMR*kb]
					preOff += mpanels * sgemmMR * kb
				} else {
					ap = grow(&buf.a, mpanels*sgemmMR*kb)
					packA(tA, a, lda, ic, pc, mb, kb, ap)
				}
				for jr := 0; jr < npanels; {
					// Two full panels side by side take the 6×32 kernel.
					pair := wide && nb-jr*sgemmNR >= 2*sgemmNR
					bpanel := bp[jr*sgemmNR*kb:]
					for ir := 0; ir < mpanels; ir++ {
						rows := min(sgemmMR, mb-ir*sgemmMR)
						apanel := ap[ir*sgemmMR*kb:]
						ci := (ic+ir*sgemmMR)*ldc + jc + jr*sgemmNR
						switch {
						case pair && rows == sgemmMR:
							sgemmKernel6x32(kb, &apanel[0], &bpanel[0], sgemmNR*kb, &c[ci], ldc)
						case pair:
							sgemmTile(buf, kb, apanel, bpanel, c[ci:], ldc, rows, sgemmNR)
							sgemmTile(buf, kb, apanel, bpanel[sgemmNR*kb:], c[ci+sgemmNR:], ldc, rows, sgemmNR)
						default:
							sgemmTile(buf, kb, apanel, bpanel, c[ci:], ldc, rows, min(sgemmNR, nb-jr*sgemmNR))
						}
					}
					if pair {
						jr += 2
					} else {
						jr++
					}
				}
			}
		}
	}
}

// sgemmTile adds the product of a 6-row A panel and a 16-column B panel
// into the rows×cols block c (row stride ldc); an edge tile goes through a
// full-size scratch tile.
func sgemmTile(buf *gemmBuf, kb int, apanel, bpanel, c []float32, ldc, rows, cols int) {
	if rows == sgemmMR && cols == sgemmNR {
		sgemmKernel6x16(kb, &apanel[0], &bpanel[0], &c[0], ldc)
		return
	}
	tile := buf.tile[:sgemmMR*sgemmNR]
	clear(tile)
	sgemmKernel6x16(kb, &apanel[0], &bpanel[0], &tile[0], sgemmNR)
	for r := 0; r < rows; r++ {
		dst := c[r*ldc:][:cols]
		for j, v := range tile[r*sgemmNR:][:cols] {
			dst[j] += v
		}
	}
}

// grow returns (*s)[:n], reallocating when too short.
func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

// packA packs rows [ic, ic+mb) and columns [pc, pc+kb) of op(a) into
// panels of sgemmMR rows, column after column, zero-padding the last panel.
func packA(tA bool, a []float32, lda, ic, pc, mb, kb int, ap []float32) {
	for p0 := 0; p0 < mb; p0 += sgemmMR {
		rows := min(sgemmMR, mb-p0)
		dst := ap[(p0/sgemmMR)*sgemmMR*kb:][:sgemmMR*kb]
		if rows < sgemmMR {
			clear(dst)
		}
		if tA { // op(a)[i][p] = a[p·lda+i]: each p reads rows contiguous values
			for p := 0; p < kb; p++ {
				copy(dst[p*sgemmMR:p*sgemmMR+rows], a[(pc+p)*lda+ic+p0:])
			}
			continue
		}
		if rows == sgemmMR {
			packA6(a[(ic+p0)*lda+pc:], lda, kb, dst)
			continue
		}
		for r := 0; r < rows; r++ {
			src := a[(ic+p0+r)*lda+pc:][:kb]
			for p, v := range src {
				dst[p*sgemmMR+r] = v
			}
		}
	}
}

// packB packs rows [pc, pc+kb) and columns [jc, jc+nb) of op(b) into panels
// of sgemmNR columns, row after row, zero-padding the last panel.
func packB(tB bool, b []float32, ldb, pc, jc, kb, nb int, bp []float32) {
	for j0 := 0; j0 < nb; j0 += sgemmNR {
		cols := min(sgemmNR, nb-j0)
		dst := bp[(j0/sgemmNR)*sgemmNR*kb:][:sgemmNR*kb]
		if cols < sgemmNR {
			clear(dst)
		}
		if !tB { // op(b)[p][j] = b[p·ldb+j]
			for p := 0; p < kb; p++ {
				copy(dst[p*sgemmNR:p*sgemmNR+cols], b[(pc+p)*ldb+jc+j0:])
			}
			continue
		}
		if cols == sgemmNR {
			packBT16(b[(jc+j0)*ldb+pc:], ldb, kb, dst)
			continue
		}
		for j := 0; j < cols; j++ { // op(b)[p][j] = b[j·ldb+p]
			src := b[(jc+j0+j)*ldb+pc:][:kb]
			for p, v := range src {
				dst[p*sgemmNR+j] = v
			}
		}
	}
}

// packA6 packs a full panel of op(a) = a: dst[p·6+r] = a[r·lda+p] for
// r < 6, p < kb, reading the six rows side by side (see packBT16).
func packA6(a []float32, lda, kb int, dst []float32) {
	_ = a[5*lda+kb-1]
	r0, r1, r2 := a[0*lda:][:kb], a[1*lda:][:kb], a[2*lda:][:kb]
	r3, r4, r5 := a[3*lda:][:kb], a[4*lda:][:kb], a[5*lda:][:kb]
	dst = dst[:kb*sgemmMR]
	for p := 0; p < kb; p++ {
		d := (*[sgemmMR]float32)(dst[p*sgemmMR:])
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}

// packBT16 packs a full panel of op(b) = bᵀ: dst[p·16+j] = b[j·ldb+p] for
// j < 16, p < kb. It reads the 16 rows side by side and writes each packed
// row of 16 at once; writing one column at a time, 64 bytes apart, made the
// weight gradient of a convolution spend a tenth of a train step packing.
func packBT16(b []float32, ldb, kb int, dst []float32) {
	_ = b[15*ldb+kb-1]
	r0, r1, r2, r3 := b[0*ldb:][:kb], b[1*ldb:][:kb], b[2*ldb:][:kb], b[3*ldb:][:kb]
	r4, r5, r6, r7 := b[4*ldb:][:kb], b[5*ldb:][:kb], b[6*ldb:][:kb], b[7*ldb:][:kb]
	r8, r9, r10, r11 := b[8*ldb:][:kb], b[9*ldb:][:kb], b[10*ldb:][:kb], b[11*ldb:][:kb]
	r12, r13, r14, r15 := b[12*ldb:][:kb], b[13*ldb:][:kb], b[14*ldb:][:kb], b[15*ldb:][:kb]
	dst = dst[:kb*sgemmNR]
	for p := 0; p < kb; p++ {
		d := (*[sgemmNR]float32)(dst[p*sgemmNR:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13], d[14], d[15] = r12[p], r13[p], r14[p], r15[p]
	}
}

// sgemmKernelGo is the kernel in Go: c[6×16] += a·b on packed panels.
func sgemmKernelGo(k int, a, b, c []float32, ldc int) {
	var acc [sgemmMR * sgemmNR]float32
	for p := 0; p < k; p++ {
		ar, br := a[p*sgemmMR:][:sgemmMR], b[p*sgemmNR:][:sgemmNR]
		for r, av := range ar {
			row := acc[r*sgemmNR:][:sgemmNR]
			for j, bv := range br {
				row[j] += av * bv
			}
		}
	}
	for r := 0; r < sgemmMR; r++ {
		dst := c[r*ldc:][:sgemmNR]
		for j, v := range acc[r*sgemmNR:][:sgemmNR] {
			dst[j] += v
		}
	}
}
