//go:build amd64 && !purego

#include "textflag.h"
#include "kernel_amd64.h"

// LOAD8 loads eight rows of 8 floats, BX bytes apart, from AX into Y0..Y7,
// and advances AX by eight rows. R8 holds 3·BX.
#define LOAD8 \
	VMOVUPS (AX), Y0; \
	VMOVUPS (AX)(BX*1), Y1; \
	VMOVUPS (AX)(BX*2), Y2; \
	VMOVUPS (AX)(R8*1), Y3; \
	LEAQ    (AX)(BX*4), AX; \
	VMOVUPS (AX), Y4; \
	VMOVUPS (AX)(BX*1), Y5; \
	VMOVUPS (AX)(BX*2), Y6; \
	VMOVUPS (AX)(R8*1), Y7; \
	LEAQ    (AX)(BX*4), AX

// func packT16AVX2(b *float32, ldb, k int, dst *float32)
//
// dst[p·16+j] = b[j·ldb+p] for j < 16, p < k, k a positive multiple of 8:
// per 8 columns of b, rows 0-7 then rows 8-15 as 8×8 blocks.
TEXT ·packT16AVX2(SB), NOSPLIT, $0-32
	MOVQ b+0(FP), SI
	MOVQ ldb+8(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R8
	MOVQ k+16(FP), CX
	SHRQ $3, CX
	MOVQ dst+24(FP), DI

loop:
	MOVQ SI, AX
	LOAD8
	TRANSPOSE8_STORE(0)
	LOAD8
	TRANSPOSE8_STORE(32)
	ADDQ $32, SI
	ADDQ $512, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET
