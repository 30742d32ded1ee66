package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refGemm is the definition: c = op(a)·op(b) + beta·c in float64.
func refGemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				ai, bi := i*lda+p, p*ldb+j
				if tA {
					ai = p*lda + i
				}
				if tB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			out[i*ldc+j] = s + float64(beta)*float64(c[i*ldc+j])
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	// Packing A per block, and once for the whole product (as convolutions
	// share their weights' packing); B per block, and once for the whole
	// product, in two column ranges packed and multiplied apart (as
	// parallel workers do with a layer's weights); with each kernel width
	// this CPU runs.
	type variant struct{ whole, wholeB, wide, packed bool }
	variants := []variant{{}} // SgemmPacked as the package runs it
	if fast || Portable {
		for _, wide := range kernelWidths() {
			variants = append(variants, variant{false, false, wide, true}, variant{true, false, wide, true},
				variant{false, true, wide, true}, variant{true, true, wide, true})
		}
	}
	var (
		buf   Buf
		whole []float32
		wb    WholeB
	)
	for _, tc := range []struct{ m, n, k int }{
		{1, 1, 1}, {6, 16, 3}, {7, 17, 5}, {5, 15, 300}, {13, 40, 257}, {100, 33, 600}, {97, 2100, 20}, {12, 32, 0},
	} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.5} {
					lda, ldb, ldc := tc.k+1, tc.n+2, tc.n+3
					if tA {
						lda = tc.m + 1
					}
					if tB {
						ldb = tc.k + 2
					}
					rowsA, rowsB := tc.m, tc.k
					if tA {
						rowsA = tc.k
					}
					if tB {
						rowsB = tc.n
					}
					a, b, c := fill(max(1, rowsA*lda)), fill(max(1, rowsB*ldb)), fill(tc.m*ldc)
					want := refGemm(tA, tB, tc.m, tc.n, tc.k, a, lda, b, ldb, beta, c, ldc)
					c0 := c
					for _, v := range variants {
						c := slices.Clone(c0)
						var pa []float32
						if v.whole {
							pa = PackWhole(&whole, tA, a, lda, tc.m, tc.k)
						}
						switch {
						case v.wholeB:
							js := tc.n / 2 / NR * NR
							// The first range packed by Pack, the second by the product.
							bj := js
							if tB {
								bj = js * ldb
							}
							wb.Reset(tc.k, tc.n)
							wb.Pack(tB, b, ldb, 0, js)
							sgemmWith(v.wide, &buf, pa, &wholeAt{&wb, js, true}, tA, tB, tc.m, tc.n-js, tc.k, a, lda, b[min(bj, len(b)):], ldb, beta, c[js:], ldc)
							sgemmWith(v.wide, &buf, pa, &wholeAt{&wb, 0, false}, tA, false, tc.m, js, tc.k, a, lda, nil, 0, beta, c, ldc)
							// Again from what is packed.
							c2 := slices.Clone(c0)
							sgemmWith(v.wide, &buf, pa, &wholeAt{&wb, js, false}, tA, false, tc.m, tc.n-js, tc.k, a, lda, nil, 0, beta, c2[js:], ldc)
							sgemmWith(v.wide, &buf, pa, &wholeAt{&wb, 0, false}, tA, false, tc.m, js, tc.k, a, lda, nil, 0, beta, c2, ldc)
							if !slices.Equal(c, c2) {
								t.Fatalf("%+v tA=%v tB=%v beta=%v %+v: products from a packed B differ from those that packed it", tc, tA, tB, beta, v)
							}
						case v.packed:
							sgemmWith(v.wide, &buf, pa, nil, tA, tB, tc.m, tc.n, tc.k, a, lda, b, ldb, beta, c, ldc)
						default:
							Sgemm(&buf, tA, tB, tc.m, tc.n, tc.k, a, lda, b, ldb, beta, c, ldc)
						}
						for i := 0; i < tc.m; i++ {
							for j := 0; j < ldc; j++ {
								got, w := float64(c[i*ldc+j]), want[i*ldc+j]
								if math.Abs(got-w) > 1e-4*(1+math.Abs(w))*math.Sqrt(float64(tc.k+1)) {
									t.Fatalf("%+v tA=%v tB=%v beta=%v %+v: c[%d,%d] = %g, want %g", tc, tA, tB, beta, v, i, j, got, w)
								}
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, sz := range []struct {
		name    string
		m, n, k int
		tA, tB  bool
	}{
		{"conv2 forward 64x196x800", 64, 196, 800, false, false},
		{"conv2 back data 800x196x64", 800, 196, 64, true, false},
		{"conv2 back filter 64x800x196", 64, 800, 196, false, true},
		{"fc1 128x1024x3136", 128, 1024, 3136, false, false},
		{"fc1 back data 128x3136x1024", 128, 3136, 1024, false, true},
		{"fc1 back filter 3136x1024x128", 3136, 1024, 128, true, false},
	} {
		a := make([]float32, sz.m*sz.k)
		bb := make([]float32, sz.k*sz.n)
		c := make([]float32, sz.m*sz.n)
		lda, ldb := sz.k, sz.n
		if sz.tA {
			lda = sz.m
		}
		if sz.tB {
			ldb = sz.k
		}
		var buf Buf
		b.Run(sz.name, func(b *testing.B) {
			for range b.N {
				Sgemm(&buf, sz.tA, sz.tB, sz.m, sz.n, sz.k, a, lda, bb, ldb, 0, c, sz.n)
			}
			b.ReportMetric(2*float64(sz.m*sz.n*sz.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		if !fast {
			continue
		}
		// B packed once, as a held layer's weights are.
		var w WholeB
		w.Reset(sz.k, sz.n)
		w.Pack(sz.tB, bb, ldb, 0, sz.n)
		b.Run(sz.name+" packed B", func(b *testing.B) {
			for range b.N {
				SgemmWholeB(&buf, &w, 0, false, sz.tA, false, sz.m, sz.n, a, lda, nil, 0, 0, c, sz.n)
			}
			b.ReportMetric(2*float64(sz.m*sz.n*sz.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPackB packs fc1's weights (3136×1024) whole, as a held layer
// does, read as they are (the forward pass) and transposed (the data
// gradient).
func BenchmarkPackB(b *testing.B) {
	const k, n = 3136, 1024
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(i)
	}
	for _, tB := range []bool{false, true} {
		rows, cols, ld := k, n, n
		if tB {
			rows, cols, ld = n, k, n
		}
		var wb WholeB
		wb.Reset(rows, cols)
		b.Run(fmt.Sprintf("tB=%v", tB), func(b *testing.B) {
			for range b.N {
				wb.Pack(tB, w, ld, 0, cols)
			}
			b.ReportMetric(float64(4*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
