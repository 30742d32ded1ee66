package kernels

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Blocking of the float32 GEMM (GotoBLAS style): a kc×nc panel of op(B) and
// an mc×kc block of op(A) are packed into micro-panels of NR columns
// and MR rows, which the assembly kernel multiplies.
const (
	MR      = 6  // rows of a kernel tile and of a packed A panel
	NR      = 16 // columns of a 6×16 tile and of a packed B panel
	sgemmKC = 256
	KC      = sgemmKC // the depth of one block: WholeB.Offset's panels hold up to KC rows
	sgemmMC = 96
	sgemmNC = 2048
)

// Buf is packing space that one goroutine reuses across Sgemm calls; the
// zero value is ready to use.
type Buf struct {
	a, b []float32
	tile [MR * NR]float32 // an edge tile's scratch
}

// Sgemm computes c = op(a)·op(b) + beta·c for row-major float32 matrices,
// op(a) m×k and op(b) k×n, on the calling goroutine, where op transposes
// when tA or tB is set. It packs into buf (nil allocates); without the
// assembly kernels it runs gonum's Sgemm.
func Sgemm(buf *Buf, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmPacked(buf, nil, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// PackWhole packs all of op(a), m×k, into dst's storage, block by block in
// Sgemm's order, for many products with the same A (a convolution's weights
// meet every example) through SgemmPacked.
func PackWhole(dst *[]float32, tA bool, a []float32, lda, m, k int) []float32 {
	data, off := grow(dst, PackedSize(m, k)), 0
	for pc := 0; pc < k; pc += sgemmKC {
		kb := min(sgemmKC, k-pc)
		for ic := 0; ic < m; ic += sgemmMC {
			mb := min(sgemmMC, m-ic)
			PackA(tA, a, lda, ic, pc, mb, kb, data[off:])
			off += (mb + MR - 1) / MR * MR * kb
		}
	}
	return data
}

// PackedSize is the length of PackWhole's result for an m×k op(a).
func PackedSize(m, k int) int {
	size := 0
	for pc := 0; pc < k; pc += sgemmKC {
		kb := min(sgemmKC, k-pc)
		for ic := 0; ic < m; ic += sgemmMC {
			size += (min(sgemmMC, m-ic) + MR - 1) / MR * MR * kb
		}
	}
	return size
}

// SgemmPacked is Sgemm taking its A blocks from pre when that is not nil
// (pre must then be PackWhole of the same a, tA, m and k).
func SgemmPacked(buf *Buf, pre []float32, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !fast {
		gonumSgemm(tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmWith(wide, buf, pre, nil, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// gonumSgemm is Sgemm without the assembly kernels.
func gonumSgemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
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
}

// WholeB is all of op(b), k×n, packed in Sgemm's blocks (for each block of
// up to sgemmKC rows, the NR-column panels of all n columns), for many
// products with the same B: the weights of a fully connected layer meet
// every step of an attack, in the same orientation, and the forward and
// backward passes of an SGN or a double-backprop step read them twice per
// run. Packing them (12.8 MB for MNIST's fc1) cost each product as much
// memory traffic as a tenth of its multiply-adds.
type WholeB struct {
	Data []float32
	K, N int
}

// Reset sizes w for an op(b) of k×n, reusing its storage.
func (w *WholeB) Reset(k, n int) {
	w.K, w.N = k, n
	w.Data = grow(&w.Data, k*((n+NR-1)/NR*NR))
}

// Pack packs columns [j0, j1) of op(b) into w; j0 must be a multiple of NR
// and j1 one too unless it is N. Goroutines may pack disjoint column ranges
// at once.
func (w *WholeB) Pack(tB bool, b []float32, ldb, j0, j1 int) {
	np := (w.N + NR - 1) / NR * NR
	for pc := 0; pc < w.K; pc += sgemmKC {
		kb := min(sgemmKC, w.K-pc)
		PackB(tB, b, ldb, pc, j0, kb, j1-j0, w.Data[pc*np+j0*kb:])
	}
}

// Offset is where element (i, j) of op(b) lies in w.Data, for callers
// that write B there in packed form themselves; elements j to j+15-j%16
// of a row are contiguous.
func (w *WholeB) Offset(i, j int) int {
	np := (w.N + NR - 1) / NR * NR
	pc := i / sgemmKC * sgemmKC
	kb := min(sgemmKC, w.K-pc)
	return pc*np + j/NR*NR*kb + (i-pc)*NR + j%NR
}

// SgemmPackedWholeB sets c (m×n) to A·B with both operands packed: A,
// m×w.K, as PackWhole packed it into pre, B from w's columns [0, n). Only
// the assembly kernels take packed operands: callers check Fast.
func SgemmPackedWholeB(buf *Buf, pre []float32, w *WholeB, m, n int, c []float32, ldc int) {
	sgemmWith(wide, buf, pre, &wholeAt{w, 0, false}, false, false, m, n, w.K, nil, 0, nil, 0, 0, c, ldc)
}

// SgemmWholeB is Sgemm with op(b) taken from w, packed whole: the product
// uses its columns [j0, j0+n), j0 a multiple of NR. With pack set it first
// packs them there, block by block as Sgemm does, from b (op(b)'s columns
// [j0, j0+n), as Sgemm takes b; unused otherwise). Only the assembly
// kernels take packed operands: callers check Fast.
func SgemmWholeB(buf *Buf, w *WholeB, j0 int, pack, tA, tB bool, m, n int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(wide, buf, nil, &wholeAt{w, j0, pack}, tA, tB, m, n, w.K, a, lda, b, ldb, beta, c, ldc)
}

// wholeAt is the columns of a product in a WholeB, from j0 on, packed
// there by the product when pack is set.
type wholeAt struct {
	w    *WholeB
	j0   int
	pack bool
}

// sgemmWith is SgemmPacked on the packed kernels, with the choice of width:
// wide pairs B panels for the 6×32 AVX-512 kernel. B's panels come from wb
// when it is not nil (b is then read only to pack them there). With beta 0
// the first block of k stores its tiles instead of adding them: clearing c
// first, then reading it back, cost the weight gradient of MNIST's fc1
// (12.8 MB of c, k only 128) two more passes over c. Without AVX2 only the
// tests call it, on the portable Go kernels.
func sgemmWith(wide bool, buf *Buf, pre []float32, wb *wholeAt, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	set := beta == 0 && k > 0
	if beta != 1 && !set {
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
		buf = new(Buf)
	}
	for jc := 0; jc < n; jc += sgemmNC {
		nb := min(sgemmNC, n-jc)
		preOff := 0
		npanels := (nb + NR - 1) / NR
		for pc := 0; pc < k; pc += sgemmKC {
			kb := min(sgemmKC, k-pc)
			first := set && pc == 0
			var bp []float32
			if wb != nil {
				np := (wb.w.N + NR - 1) / NR * NR
				bp = wb.w.Data[pc*np+(wb.j0+jc)*kb:][:npanels*NR*kb]
				if wb.pack {
					PackB(tB, b, ldb, pc, jc, kb, nb, bp)
				}
			} else {
				bp = grow(&buf.b, npanels*NR*kb)
				PackB(tB, b, ldb, pc, jc, kb, nb, bp)
			}
			for ic := 0; ic < m; ic += sgemmMC {
				mb := min(sgemmMC, m-ic)
				mpanels := (mb + MR - 1) / MR
				var ap []float32
				if pre != nil {
					ap = pre[preOff : preOff+mpanels*MR*kb]
					preOff += mpanels * MR * kb
				} else {
					ap = grow(&buf.a, mpanels*MR*kb)
					PackA(tA, a, lda, ic, pc, mb, kb, ap)
				}
				for jr := 0; jr < npanels; {
					// Two full panels side by side take the 6×32 kernel.
					pair := wide && nb-jr*NR >= 2*NR
					bpanel := bp[jr*NR*kb:]
					for ir := 0; ir < mpanels; ir++ {
						rows := min(MR, mb-ir*MR)
						apanel := ap[ir*MR*kb:]
						ci := (ic+ir*MR)*ldc + jc + jr*NR
						switch {
						case pair && rows == MR && first:
							Gemm6x32Set(kb, &apanel[0], &bpanel[0], NR*kb, &c[ci], ldc)
						case pair && rows == MR:
							Gemm6x32(kb, &apanel[0], &bpanel[0], NR*kb, &c[ci], ldc)
						case pair:
							sgemmTile(buf, kb, apanel, bpanel, c[ci:], ldc, rows, NR, first)
							sgemmTile(buf, kb, apanel, bpanel[NR*kb:], c[ci+NR:], ldc, rows, NR, first)
						default:
							sgemmTile(buf, kb, apanel, bpanel, c[ci:], ldc, rows, min(NR, nb-jr*NR), first)
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
// into the rows×cols block c (row stride ldc), or stores it there when set
// is; an edge tile goes through a full-size scratch tile.
func sgemmTile(buf *Buf, kb int, apanel, bpanel, c []float32, ldc, rows, cols int, set bool) {
	if rows == MR && cols == NR {
		if set {
			Gemm6x16Set(kb, &apanel[0], &bpanel[0], &c[0], ldc)
		} else {
			Gemm6x16(kb, &apanel[0], &bpanel[0], &c[0], ldc)
		}
		return
	}
	tile := buf.tile[:]
	Gemm6x16Set(kb, &apanel[0], &bpanel[0], &tile[0], NR)
	for r := 0; r < rows; r++ {
		dst, src := c[r*ldc:][:cols], tile[r*NR:][:cols]
		if set {
			copy(dst, src)
			continue
		}
		for j, v := range src {
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

// PackA packs rows [ic, ic+mb) and columns [pc, pc+kb) of op(a) into
// panels of MR rows, column after column, zero-padding the last panel.
func PackA(tA bool, a []float32, lda, ic, pc, mb, kb int, ap []float32) {
	for p0 := 0; p0 < mb; p0 += MR {
		rows := min(MR, mb-p0)
		dst := ap[(p0/MR)*MR*kb:][:MR*kb]
		if rows < MR {
			clear(dst)
		}
		if tA { // op(a)[i][p] = a[p·lda+i]: each p reads rows contiguous values
			for p := 0; p < kb; p++ {
				copy(dst[p*MR:p*MR+rows], a[(pc+p)*lda+ic+p0:])
			}
			continue
		}
		if rows == MR {
			packA6(a[(ic+p0)*lda+pc:], lda, kb, dst)
			continue
		}
		for r := 0; r < rows; r++ {
			src := a[(ic+p0+r)*lda+pc:][:kb]
			for p, v := range src {
				dst[p*MR+r] = v
			}
		}
	}
}

// PackB packs rows [pc, pc+kb) and columns [jc, jc+nb) of op(b) into panels
// of NR columns, row after row, zero-padding the last panel.
func PackB(tB bool, b []float32, ldb, pc, jc, kb, nb int, bp []float32) {
	j0 := 0
	if !tB && nb >= NR {
		// Full panels of op(b) = b row by row across all of them, so that
		// each row of b is read once, left to right.
		j0 = nb / NR * NR
		packBRows(b[pc*ldb+jc:], ldb, kb, j0/NR, bp)
	}
	for ; j0 < nb; j0 += NR {
		cols := min(NR, nb-j0)
		dst := bp[(j0/NR)*NR*kb:][:NR*kb]
		if cols < NR {
			clear(dst)
		}
		if !tB { // op(b)[p][j] = b[p·ldb+j]
			for p := 0; p < kb; p++ {
				copy(dst[p*NR:p*NR+cols], b[(pc+p)*ldb+jc+j0:])
			}
			continue
		}
		if cols == NR {
			packBT16(b[(jc+j0)*ldb+pc:], ldb, kb, dst)
			continue
		}
		for j := 0; j < cols; j++ { // op(b)[p][j] = b[j·ldb+p]
			src := b[(jc+j0+j)*ldb+pc:][:kb]
			for p, v := range src {
				dst[p*NR+j] = v
			}
		}
	}
}

// packBRows packs panels full panels of op(b) = b, kb rows each:
// dst[q·NR·kb + p·NR + j] = b[p·ldb + q·NR + j], a row of b at a time
// across all panels, so that b is read once, left to right. A panel at a
// time read b down its columns, a row of fc1's weights (4 KB) for every 64
// bytes, at less than half the speed (go test -bench PackB); sixteen rows
// at a time across the panels was in between. Copying 64 bytes from a
// slice is a call to memmove, 16 bytes two moves.
func packBRows(b []float32, ldb, kb, panels int, dst []float32) {
	dst = dst[:panels*NR*kb]
	for p := 0; p < kb; p++ {
		src := b[p*ldb:][:panels*NR]
		for q := range panels {
			s, d := src[q*NR:][:NR], dst[q*NR*kb+p*NR:][:NR]
			*(*[4]float32)(d[0:]) = *(*[4]float32)(s[0:])
			*(*[4]float32)(d[4:]) = *(*[4]float32)(s[4:])
			*(*[4]float32)(d[8:]) = *(*[4]float32)(s[8:])
			*(*[4]float32)(d[12:]) = *(*[4]float32)(s[12:])
		}
	}
}

// packA6 packs a full panel of op(a) = a: dst[p·6+r] = a[r·lda+p] for
// r < 6, p < kb, reading the six rows side by side (see packBT16).
func packA6(a []float32, lda, kb int, dst []float32) {
	_ = a[5*lda+kb-1]
	r0, r1, r2 := a[0*lda:][:kb], a[1*lda:][:kb], a[2*lda:][:kb]
	r3, r4, r5 := a[3*lda:][:kb], a[4*lda:][:kb], a[5*lda:][:kb]
	dst = dst[:kb*MR]
	for p := 0; p < kb; p++ {
		d := (*[MR]float32)(dst[p*MR:])
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}

// packBT16 packs a full panel of op(b) = bᵀ: dst[p·16+j] = b[j·ldb+p] for
// j < 16, p < kb: eight columns at a time by 8×8 transposes in AVX
// registers, where there are, the rest as packBT16Go. Transposing one float
// at a time took a train step 5% of its time (3% for fc1's weights alone).
func packBT16(b []float32, ldb, kb int, dst []float32) {
	_ = b[15*ldb+kb-1]
	dst = dst[:kb*NR]
	n8 := 0
	if fast {
		n8 = kb / 8
		if n8 > 0 {
			packBT16x8(&b[0], ldb, n8, &dst[0])
		}
	}
	if p0 := 8 * n8; p0 < kb {
		packBT16Go(b[p0:], ldb, kb-p0, dst[p0*NR:])
	}
}

// packBT16Go is packBT16 in Go. It reads the 16 rows side by side and
// writes each packed row of 16 at once; writing one column at a time, 64
// bytes apart, made the weight gradient of a convolution spend a tenth of
// a train step packing.
func packBT16Go(b []float32, ldb, kb int, dst []float32) {
	_ = b[15*ldb+kb-1]
	r0, r1, r2, r3 := b[0*ldb:][:kb], b[1*ldb:][:kb], b[2*ldb:][:kb], b[3*ldb:][:kb]
	r4, r5, r6, r7 := b[4*ldb:][:kb], b[5*ldb:][:kb], b[6*ldb:][:kb], b[7*ldb:][:kb]
	r8, r9, r10, r11 := b[8*ldb:][:kb], b[9*ldb:][:kb], b[10*ldb:][:kb], b[11*ldb:][:kb]
	r12, r13, r14, r15 := b[12*ldb:][:kb], b[13*ldb:][:kb], b[14*ldb:][:kb], b[15*ldb:][:kb]
	dst = dst[:kb*NR]
	for p := 0; p < kb; p++ {
		d := (*[NR]float32)(dst[p*NR:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13], d[14], d[15] = r12[p], r13[p], r14[p], r15[p]
	}
}
