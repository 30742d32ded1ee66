package kernels

import "testing"

// BenchmarkConvKernelPeak times the direct convolution's 6×16 kernels on
// data that stays in the first-level cache (144 taps of a 16-channel 10×10
// padded input), against Gemm6x16 on the same k: what the convolutions
// lose beyond this is in the memory hierarchy, not the kernels' loops.
func BenchmarkConvKernelPeak(b *testing.B) {
	if !fast {
		b.Skip("no AVX2 and FMA")
	}
	const cin, hp, wp = 16, 10, 10
	x := make([]float32, cin*hp*wp)
	var offs []int32
	for c := range cin {
		for ki := range 3 {
			for kj := range 3 {
				offs = append(offs, int32((c*hp+ki)*wp+kj))
			}
		}
	}
	k := len(offs)
	pos := []int32{0, 1, 2, 3, 4, 5}
	bp := make([]float32, 2*NR*k)
	c := make([]float32, 16*64)
	b.Run("filterT", func(b *testing.B) {
		for range b.N {
			ConvFilter6x16T(k, &x[0], &pos[0], &offs[0], &bp[0], &c[0], 64)
		}
		b.ReportMetric(2*float64(MR*NR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("filter", func(b *testing.B) {
		for range b.N {
			ConvFilter6x16(k, &x[0], &pos[0], &offs[0], &bp[0], &c[0], 16)
		}
		b.ReportMetric(2*float64(MR*NR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	ap := make([]float32, MR*k)
	b.Run("gemm", func(b *testing.B) {
		for range b.N {
			Gemm6x16(k, &ap[0], &bp[0], &c[0], 16)
		}
		b.ReportMetric(2*float64(MR*NR*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
