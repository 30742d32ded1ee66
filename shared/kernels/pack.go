package kernels

import "unsafe"

// packT16Go is PackT16's portable twin: it reads the 16 rows side by side
// and writes each packed row of 16 at once.
func packT16Go(b []float32, ldb, k int, dst []float32) {
	_ = b[15*ldb+k-1]
	r0, r1, r2, r3 := b[0*ldb:][:k], b[1*ldb:][:k], b[2*ldb:][:k], b[3*ldb:][:k]
	r4, r5, r6, r7 := b[4*ldb:][:k], b[5*ldb:][:k], b[6*ldb:][:k], b[7*ldb:][:k]
	r8, r9, r10, r11 := b[8*ldb:][:k], b[9*ldb:][:k], b[10*ldb:][:k], b[11*ldb:][:k]
	r12, r13, r14, r15 := b[12*ldb:][:k], b[13*ldb:][:k], b[14*ldb:][:k], b[15*ldb:][:k]
	dst = dst[:k*NR]
	for p := 0; p < k; p++ {
		d := (*[NR]float32)(dst[p*NR:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13], d[14], d[15] = r12[p], r13[p], r14[p], r15[p]
	}
}

// packT16AVX2Go is the twin of the AVX2 kernel, in its signature.
func packT16AVX2Go(b *float32, ldb, k int, dst *float32) {
	packT16Go(unsafe.Slice(b, 15*ldb+k), ldb, k, unsafe.Slice(dst, k*NR))
}
