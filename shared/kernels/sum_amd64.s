//go:build amd64 && !purego

#include "textflag.h"

// REDUCE_LANES leaves in X0 the sum of Y0..Y3's 16 lanes in sumLanes's
// order: (Y0+Y1)+(Y2+Y3) per lane, then lanes 0+2 and 1+3, then those two.
#define REDUCE_LANES \
	VADDPD       Y1, Y0, Y0; \
	VADDPD       Y3, Y2, Y2; \
	VADDPD       Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPD       X1, X0, X0; \
	VHADDPD      X0, X0, X0

// func sum64AVX2(v *float32, n int) float64
//
// The float64 sum of n floats (n a positive multiple of 16), element i in
// lane i%16 of Y0..Y3. AVX2.
TEXT ·sum64AVX2(SB), NOSPLIT, $0-24
	MOVQ   v+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $4, CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3

sloop:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $64, SI
	DECQ      CX
	JNZ       sloop

	REDUCE_LANES
	VZEROUPPER
	MOVSD X0, ret+16(FP)
	RET

// func dot64AVX2(u, v *float32, n int) float64
//
// The float64 dot product of n floats (n a positive multiple of 16), in
// sum64AVX2's lanes. AVX2 and FMA.
TEXT ·dot64AVX2(SB), NOSPLIT, $0-32
	MOVQ   u+0(FP), SI
	MOVQ   v+8(FP), DI
	MOVQ   n+16(FP), CX
	SHRQ   $4, CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3

dloop:
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   16(SI), Y5
	VCVTPS2PD   32(SI), Y6
	VCVTPS2PD   48(SI), Y7
	VCVTPS2PD   (DI), Y8
	VCVTPS2PD   16(DI), Y9
	VCVTPS2PD   32(DI), Y10
	VCVTPS2PD   48(DI), Y11
	VFMADD231PD Y8, Y4, Y0
	VFMADD231PD Y9, Y5, Y1
	VFMADD231PD Y10, Y6, Y2
	VFMADD231PD Y11, Y7, Y3
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         dloop

	REDUCE_LANES
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET

// func sumSq64AVX2(v *float32, n int, m float64) float64
//
// The float64 sum of (v[i]-m)² over n floats (n a positive multiple of
// 16), in sum64AVX2's lanes; subtract, multiply and add each rounded. AVX2.
TEXT ·sumSq64AVX2(SB), NOSPLIT, $0-32
	MOVQ         v+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD m+16(FP), Y15
	SHRQ         $4, CX
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y2, Y2, Y2
	VXORPD       Y3, Y3, Y3

qloop:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VSUBPD    Y15, Y4, Y4
	VSUBPD    Y15, Y5, Y5
	VSUBPD    Y15, Y6, Y6
	VSUBPD    Y15, Y7, Y7
	VMULPD    Y4, Y4, Y4
	VMULPD    Y5, Y5, Y5
	VMULPD    Y6, Y6, Y6
	VMULPD    Y7, Y7, Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $64, SI
	DECQ      CX
	JNZ       qloop

	REDUCE_LANES
	VZEROUPPER
	MOVSD X0, ret+24(FP)
	RET
