package ops

import (
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"sgn/shared/kernels"
)

// gemmBuf is packing space that one goroutine reuses across GEMM calls,
// with room for a convolution's im2col matrix and the direct path's
// tiles.
type gemmBuf struct {
	kernels.Buf
	col    []float32                            // im2col matrix, or a padded input
	whole  []float32                            // a whole packed A shared by the goroutines of one op
	packed []float32                            // a packed output gradient (the direct filter gradient)
	tile   [kernels.MR * 2 * kernels.NR]float32 // room for a 6×32 tile
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

// grow returns (*s)[:n], reallocating when too short.
func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

// gemm computes c = op(a)·op(b) + beta·c for row-major matrices on the
// calling goroutine, where op transposes when tA or tB is set; op(a) is m×k
// and op(b) is k×n. float32 goes through kernels.Sgemm with the packing space buf
// (nil allocates); float64, used for checking, through gonum. Callers size
// the slices from a checked geometry, so gonum's panics on bad sizes cannot
// be reached from user input.
func gemm[T float](buf *gemmBuf, tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 { // gonum rejects the leading dimension 0 of an empty operand
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	switch a := any(a).(type) {
	case []float32:
		kernels.Sgemm(&buf.Buf, tA, tB, m, n, k, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		ta, tb := blas.NoTrans, blas.NoTrans
		if tA {
			ta = blas.Trans
		}
		if tB {
			tb = blas.Trans
		}
		gonum.Implementation{}.Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// parallelGemm is gemm split over GOMAXPROCS goroutines along the larger of
// m and n, for a single large product, with the packing space of bufs.
func parallelGemm[T float](bufs *buffers, tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	const grain = 64 // rows or columns per piece at least, to keep kernels busy
	pieces := (max(m, n) + grain - 1) / grain
	workers := workersFor(pieces)
	bufs.reservePacks(workers)
	if m >= n {
		parallelForN(pieces, workers, func(wk, lo, hi int) {
			i0, i1 := lo*grain, min(m, hi*grain)
			ai := i0 * lda
			if tA {
				ai = i0
			}
			buf := bufs.pack(wk)
			defer bufs.unpack(buf)
			gemm(buf, tA, tB, i1-i0, n, k, a[ai:], lda, b, ldb, beta, c[i0*ldc:], ldc)
		})
		return
	}
	parallelForN(pieces, workers, func(wk, lo, hi int) {
		j0, j1 := lo*grain, min(n, hi*grain)
		bj := j0
		if tB {
			bj = j0 * ldb
		}
		buf := bufs.pack(wk)
		defer bufs.unpack(buf)
		gemm(buf, tA, tB, m, j1-j0, k, a, lda, b[bj:], ldb, beta, c[j0:], ldc)
	})
}

// parallelGemmWholeB is parallelGemm of c = op(a)·op(b) with op(b) taken
// from w, packed whole, packing it there first when pack is set (the
// workers then each pack the columns they multiply, as gemm would).
func parallelGemmWholeB(bufs *buffers, w *kernels.WholeB, pack, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	const grain = 64 // as parallelGemm's; a multiple of kernels.NR
	if m >= n {
		if pack { // every worker reads all of B: pack it first
			pieces := (n + grain - 1) / grain
			parallelForN(pieces, workersFor(pieces), func(_, lo, hi int) {
				w.Pack(tB, b, ldb, lo*grain, min(n, hi*grain))
			})
		}
		pieces := (m + grain - 1) / grain
		workers := workersFor(pieces)
		bufs.reservePacks(workers)
		parallelForN(pieces, workers, func(wk, lo, hi int) {
			i0, i1 := lo*grain, min(m, hi*grain)
			ai := i0 * lda
			if tA {
				ai = i0
			}
			buf := bufs.pack(wk)
			defer bufs.unpack(buf)
			kernels.SgemmWholeB(&buf.Buf, w, 0, false, tA, false, i1-i0, n, a[ai:], lda, nil, 0, 0, c[i0*ldc:], ldc)
		})
		return
	}
	pieces := (n + grain - 1) / grain
	workers := workersFor(pieces)
	bufs.reservePacks(workers)
	parallelForN(pieces, workers, func(wk, lo, hi int) {
		j0, j1 := lo*grain, min(n, hi*grain)
		bj := j0
		if tB {
			bj = j0 * ldb
		}
		buf := bufs.pack(wk)
		defer bufs.unpack(buf)
		kernels.SgemmWholeB(&buf.Buf, w, j0, pack, tA, tB, m, j1-j0, a, lda, b[bj:], ldb, 0, c[j0:], ldc)
	})
}

// sharedA packs op(a), m×k, once into buf for many gemmA calls with the
// same A, when T is float32 on the fast path; otherwise it returns nil and
// gemmA packs as gemm does.
func sharedA[T float](buf *gemmBuf, tA bool, a []T, lda, m, k int) []float32 {
	a32, ok := any(a).([]float32)
	if !ok || !kernels.Fast() || m == 0 || k == 0 {
		return nil
	}
	return kernels.PackWhole(&buf.whole, tA, a32, lda, m, k)
}

// gemmA is gemm with op(a)'s packed blocks taken from pre, when not nil.
func gemmA[T float](buf *gemmBuf, pre []float32, tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if pre == nil {
		gemm(buf, tA, tB, m, n, k, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kernels.SgemmPacked(&buf.Buf, pre, tA, tB, m, n, k, any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
}
