package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackT16 checks PackT16 against its Go twin and against the
// definition, on lengths around the 8-wide blocks and a row stride longer
// than the rows.
func TestPackT16(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 7, 8, 9, 16, 23, 64, 100} {
		for _, ldb := range []int{k, k + 3} {
			b := make([]float32, 16*ldb)
			for i := range b {
				b[i] = r.Float32()
			}
			got, twin := make([]float32, 16*k+1), make([]float32, 16*k+1)
			got[16*k], twin[16*k] = -1, -1 // past the end: must stay
			PackT16(b, ldb, k, got)
			packT16AVX2Go(&b[0], ldb, k, &twin[0])
			for p := range k {
				for j := range NR {
					if want := b[j*ldb+p]; got[p*NR+j] != want || twin[p*NR+j] != want {
						t.Fatalf("k=%d ldb=%d: dst[%d·16+%d] = %v (twin %v), want %v", k, ldb, p, j, got[p*NR+j], twin[p*NR+j], want)
					}
				}
			}
			if got[16*k] != -1 {
				t.Errorf("k=%d ldb=%d: PackT16 wrote past the panel", k, ldb)
			}
		}
	}
}

func BenchmarkPackT16(b *testing.B) {
	for _, k := range []int{64, 256, 1024} {
		src, dst := make([]float32, 16*k), make([]float32, 16*k)
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			b.SetBytes(int64(4 * 16 * k))
			for range b.N {
				PackT16(src, k, k, dst)
			}
		})
		b.Run(fmt.Sprint(k, "/go"), func(b *testing.B) {
			b.SetBytes(int64(4 * 16 * k))
			for range b.N {
				packT16Go(src, k, k, dst)
			}
		})
	}
}
