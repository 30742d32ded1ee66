//go:build amd64 && !purego

#include "textflag.h"

// func affineAVX2(out, x *float32, n int, a, b float32)
//
// out[i] = x[i]·a + b for n a positive multiple of 32, multiply and add
// rounded separately, 32 at a time. AVX2.
TEXT ·affineAVX2(SB), NOSPLIT, $0-32
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS b+28(FP), Y15
	SHRQ         $5, CX

aloop:
	VMULPS  (SI), Y14, Y0
	VMULPS  32(SI), Y14, Y1
	VMULPS  64(SI), Y14, Y2
	VMULPS  96(SI), Y14, Y3
	VADDPS  Y15, Y0, Y0
	VADDPS  Y15, Y1, Y1
	VADDPS  Y15, Y2, Y2
	VADDPS  Y15, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     aloop

	VZEROUPPER
	RET

// func affineReLUAVX2(out, x *float32, n int, a, b float32)
//
// out[i] = max(x[i]·a + b, 0) for n a positive multiple of 32, rounded as
// affineAVX2. VMAXPS returns its second source (zero here) when either is
// NaN, and +0 for -0, as Mask does. AVX2.
TEXT ·affineReLUAVX2(SB), NOSPLIT, $0-32
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS b+28(FP), Y15
	VXORPS       Y13, Y13, Y13
	SHRQ         $5, CX

rloop:
	VMULPS  (SI), Y14, Y0
	VMULPS  32(SI), Y14, Y1
	VMULPS  64(SI), Y14, Y2
	VMULPS  96(SI), Y14, Y3
	VADDPS  Y15, Y0, Y0
	VADDPS  Y15, Y1, Y1
	VADDPS  Y15, Y2, Y2
	VADDPS  Y15, Y3, Y3
	VMAXPS  Y13, Y0, Y0
	VMAXPS  Y13, Y1, Y1
	VMAXPS  Y13, Y2, Y2
	VMAXPS  Y13, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     rloop

	VZEROUPPER
	RET

// func combineAVX2(out, x, y *float32, n int, a, b, k float32)
//
// out[i] = (x[i]·a + y[i]·b) + k for n a positive multiple of 16, each
// operation rounded, 16 at a time. AVX2.
TEXT ·combineAVX2(SB), NOSPLIT, $0-44
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS a+32(FP), Y13
	VBROADCASTSS b+36(FP), Y14
	VBROADCASTSS k+40(FP), Y15
	SHRQ         $4, CX

cloop:
	VMULPS  (SI), Y13, Y0
	VMULPS  32(SI), Y13, Y1
	VMULPS  (DX), Y14, Y2
	VMULPS  32(DX), Y14, Y3
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	VADDPS  Y15, Y0, Y0
	VADDPS  Y15, Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	DECQ    CX
	JNZ     cloop

	VZEROUPPER
	RET
