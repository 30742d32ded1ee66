//go:build amd64 && !purego

#include "textflag.h"

// T8_STORE transposes the 8×8 block in Y0..Y7 (row i in Yi) and stores its
// columns, 8 floats each, at off(DI), off+64(DI), …, off+448(DI): packed
// rows of 16 floats, 64 bytes apart.
#define T8_STORE(off) \
	VUNPCKLPS  Y1, Y0, Y8; \
	VUNPCKHPS  Y1, Y0, Y9; \
	VUNPCKLPS  Y3, Y2, Y10; \
	VUNPCKHPS  Y3, Y2, Y11; \
	VUNPCKLPS  Y5, Y4, Y12; \
	VUNPCKHPS  Y5, Y4, Y13; \
	VUNPCKLPS  Y7, Y6, Y14; \
	VUNPCKHPS  Y7, Y6, Y15; \
	VSHUFPS    $0x44, Y10, Y8, Y0; \
	VSHUFPS    $0xee, Y10, Y8, Y1; \
	VSHUFPS    $0x44, Y11, Y9, Y2; \
	VSHUFPS    $0xee, Y11, Y9, Y3; \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xee, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xee, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15; \
	VMOVUPS    Y8, off(DI); \
	VMOVUPS    Y9, off+64(DI); \
	VMOVUPS    Y10, off+128(DI); \
	VMOVUPS    Y11, off+192(DI); \
	VMOVUPS    Y12, off+256(DI); \
	VMOVUPS    Y13, off+320(DI); \
	VMOVUPS    Y14, off+384(DI); \
	VMOVUPS    Y15, off+448(DI)

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
	T8_STORE(0)
	LOAD8
	T8_STORE(32)
	ADDQ $32, SI
	ADDQ $512, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET
