//go:build amd64 && !purego

#include "textflag.h"

// Registers of wino5InAVX2: SI row 0 of the tile, R9 one row (ld) in
// bytes, R10 row 3; Y13 holds 2 and Y14 4 in every lane; Y6 and Y7 are
// scratch. Each ROWS_ξ macro leaves in E row ξ of Bᵀ d at column off (in
// bytes) of the tile, summed as bt6 sums it.

// ξ = 0: (r4 - r2) + 4(r0 - r2)
#define ROWS_0(off, E) \
	VMOVUPS     off(SI), Y6 \
	VSUBPS      off(SI)(R9*2), Y6, Y6 \
	VMOVUPS     off(SI)(R9*4), E \
	VSUBPS      off(SI)(R9*2), E, E \
	VFMADD231PS Y14, Y6, E

// ξ = 1: (r3 + r4) - 4(r1 + r2)
#define ROWS_1(off, E) \
	VMOVUPS      off(SI)(R9*1), Y6 \
	VADDPS       off(SI)(R9*2), Y6, Y6 \
	VMOVUPS      off(R10), E \
	VADDPS       off(SI)(R9*4), E, E \
	VFNMADD231PS Y14, Y6, E

// ξ = 2: (r4 - r3) + 4(r1 - r2)
#define ROWS_2(off, E) \
	VMOVUPS     off(SI)(R9*1), Y6 \
	VSUBPS      off(SI)(R9*2), Y6, Y6 \
	VMOVUPS     off(SI)(R9*4), E \
	VSUBPS      off(R10), E, E \
	VFMADD231PS Y14, Y6, E

// ξ = 3: (r4 - r2) + 2(r3 - r1)
#define ROWS_3(off, E) \
	VMOVUPS     off(R10), Y6 \
	VSUBPS      off(SI)(R9*1), Y6, Y6 \
	VMOVUPS     off(SI)(R9*4), E \
	VSUBPS      off(SI)(R9*2), E, E \
	VFMADD231PS Y13, Y6, E

// ξ = 4: (r4 - r2) - 2(r3 - r1)
#define ROWS_4(off, E) \
	VMOVUPS      off(R10), Y6 \
	VSUBPS       off(SI)(R9*1), Y6, Y6 \
	VMOVUPS      off(SI)(R9*4), E \
	VSUBPS       off(SI)(R9*2), E, E \
	VFNMADD231PS Y13, Y6, E

// ξ = 5: (r5 - r3) + 4(r1 - r3)
#define ROWS_5(off, E) \
	VMOVUPS     off(SI)(R9*1), Y6 \
	VSUBPS      off(R10), Y6, Y6 \
	VMOVUPS     off(R10)(R9*2), E \
	VSUBPS      off(R10), E, E \
	VFMADD231PS Y14, Y6, E

// BT_STORE multiplies the row in Y0-Y5 by B, as bt6 does, and stores
// element ν at (DX) + ν strides (R8 one stride in bytes, R14 three; R11
// is set to DX + 4 strides).
#define BT_STORE \
	LEAQ         (DX)(R8*4), R11 \
	VSUBPS       Y2, Y0, Y6 \
	VSUBPS       Y2, Y4, Y7 \
	VMOVAPS      Y7, Y8 \
	VFMADD231PS  Y14, Y6, Y8 \
	VMOVUPS      Y8, (DX) \
	VSUBPS       Y1, Y3, Y6 \
	VMOVAPS      Y7, Y8 \
	VFMADD231PS  Y13, Y6, Y8 \
	VFNMADD231PS Y13, Y6, Y7 \
	VMOVUPS      Y8, (DX)(R14*1) \
	VMOVUPS      Y7, (R11) \
	VADDPS       Y4, Y3, Y6 \
	VADDPS       Y2, Y1, Y7 \
	VFNMADD231PS Y14, Y7, Y6 \
	VMOVUPS      Y6, (DX)(R8*1) \
	VSUBPS       Y3, Y4, Y6 \
	VSUBPS       Y2, Y1, Y7 \
	VFMADD231PS  Y14, Y7, Y6 \
	VMOVUPS      Y6, (DX)(R8*2) \
	VSUBPS       Y3, Y5, Y6 \
	VSUBPS       Y3, Y1, Y7 \
	VFMADD231PS  Y14, Y7, Y6 \
	VMOVUPS      Y6, (R11)(R8*1)

// func wino5InAVX2(v *float32, stride int, x *float32, ld, tiles, odd, pair int)
TEXT ·wino5InAVX2(SB), NOSPLIT, $0-56
	MOVQ v+0(FP), DI
	MOVQ stride+8(FP), R8
	SHLQ $2, R8
	MOVQ x+16(FP), SI
	MOVQ ld+24(FP), R9
	SHLQ $2, R9
	MOVQ tiles+32(FP), CX
	MOVQ odd+40(FP), BX
	MOVQ pair+48(FP), AX
	SUBQ $8, AX
	SHLQ $2, AX               // from an odd tile to the next
	LEAQ (SI)(R9*2), R10
	ADDQ R9, R10              // row 3
	LEAQ (R8)(R8*2), R14      // three strides
	LEAQ (R14)(R14*1), R13    // six strides: one row ξ of the output
	MOVL $0x40000000, R12     // 2.0
	MOVQ R12, X13
	VBROADCASTSS X13, Y13
	MOVL $0x40800000, R12     // 4.0
	MOVQ R12, X14
	VBROADCASTSS X14, Y14

loop:
	MOVQ DI, DX
	ROWS_0(0, Y0)
	ROWS_0(32, Y1)
	ROWS_0(64, Y2)
	ROWS_0(96, Y3)
	ROWS_0(128, Y4)
	ROWS_0(160, Y5)
	BT_STORE
	ADDQ R13, DX
	ROWS_1(0, Y0)
	ROWS_1(32, Y1)
	ROWS_1(64, Y2)
	ROWS_1(96, Y3)
	ROWS_1(128, Y4)
	ROWS_1(160, Y5)
	BT_STORE
	ADDQ R13, DX
	ROWS_2(0, Y0)
	ROWS_2(32, Y1)
	ROWS_2(64, Y2)
	ROWS_2(96, Y3)
	ROWS_2(128, Y4)
	ROWS_2(160, Y5)
	BT_STORE
	ADDQ R13, DX
	ROWS_3(0, Y0)
	ROWS_3(32, Y1)
	ROWS_3(64, Y2)
	ROWS_3(96, Y3)
	ROWS_3(128, Y4)
	ROWS_3(160, Y5)
	BT_STORE
	ADDQ R13, DX
	ROWS_4(0, Y0)
	ROWS_4(32, Y1)
	ROWS_4(64, Y2)
	ROWS_4(96, Y3)
	ROWS_4(128, Y4)
	ROWS_4(160, Y5)
	BT_STORE
	ADDQ R13, DX
	ROWS_5(0, Y0)
	ROWS_5(32, Y1)
	ROWS_5(64, Y2)
	ROWS_5(96, Y3)
	ROWS_5(128, Y4)
	ROWS_5(160, Y5)
	BT_STORE

	ADDQ $64, SI              // two positions of eight
	ADDQ $64, R10
	TESTQ BX, BX
	JNZ  odd
	ADDQ $32, DI              // the panel's second half
	MOVQ $1, BX
	JMP  next

odd:
	ADDQ AX, DI               // the next panel's first half
	XORQ BX, BX

next:
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET

// OUT_COL loads column ν of a tile's products (each row ξ's pointer in
// AX, BX, DX, SI, R10, R11) and leaves Aᵀ's two sums of it in r0 and r1,
// as at6 sums them: (((M0 + M1) + M2) + M3) + M4 and ((M1 - M2) + 2(M3 -
// M4)) + M5. Y12 is scratch, Y13 holds 2.
#define OUT_COL(r0, r1) \
	VMOVUPS     (AX), r0 \
	VADDPS      (BX), r0, r0 \
	VADDPS      (DX), r0, r0 \
	VADDPS      (SI), r0, r0 \
	VADDPS      (R10), r0, r0 \
	VMOVUPS     (SI), Y12 \
	VSUBPS      (R10), Y12, Y12 \
	VMOVUPS     (BX), r1 \
	VSUBPS      (DX), r1, r1 \
	VFMADD231PS Y13, Y12, r1 \
	VADDPS      (R11), r1, r1 \
	ADDQ        R8, AX \
	ADDQ        R8, BX \
	ADDQ        R8, DX \
	ADDQ        R8, SI \
	ADDQ        R8, R10 \
	ADDQ        R8, R11

// OUT_ROW stores a row of Aᵀ M (in a-f) times A at dst0 and dst1, as
// at6 sums it, with Y12, Y14 and Y15 as scratch.
#define OUT_ROW(a, b, c, d, e, f, dst0, dst1) \
	VADDPS      b, a, Y14 \
	VADDPS      c, Y14, Y14 \
	VADDPS      d, Y14, Y14 \
	VADDPS      e, Y14, Y14 \
	VMOVUPS     Y14, dst0 \
	VSUBPS      e, d, Y12 \
	VSUBPS      c, b, Y15 \
	VFMADD231PS Y13, Y12, Y15 \
	VADDPS      f, Y15, Y15 \
	VMOVUPS     Y15, dst1

// func wino5OutAVX2(y *float32, ldy int, m *float32, stride, tiles int)
TEXT ·wino5OutAVX2(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ ldy+8(FP), R9
	SHLQ $2, R9
	MOVQ m+16(FP), AX         // row ξ = 0 of M
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ tiles+32(FP), CX
	LEAQ (R8)(R8*2), R13
	ADDQ R13, R13             // six strides: one row ξ
	LEAQ (AX)(R13*1), BX      // ξ = 1
	LEAQ (BX)(R13*1), DX      // ξ = 2
	LEAQ (DX)(R13*1), SI      // ξ = 3
	LEAQ (SI)(R13*1), R10     // ξ = 4
	LEAQ (R10)(R13*1), R11    // ξ = 5
	MOVL $0x40000000, R12     // 2.0
	MOVQ R12, X13
	VBROADCASTSS X13, Y13
	MOVQ R13, R12
	SUBQ $32, R12             // back from column 6 to the next tile's column 0

loop:
	OUT_COL(Y0, Y6)
	OUT_COL(Y1, Y7)
	OUT_COL(Y2, Y8)
	OUT_COL(Y3, Y9)
	OUT_COL(Y4, Y10)
	OUT_COL(Y5, Y11)
	OUT_ROW(Y0, Y1, Y2, Y3, Y4, Y5, (DI), 32(DI))
	OUT_ROW(Y6, Y7, Y8, Y9, Y10, Y11, (DI)(R9*1), 32(DI)(R9*1))
	SUBQ R12, AX
	SUBQ R12, BX
	SUBQ R12, DX
	SUBQ R12, SI
	SUBQ R12, R10
	SUBQ R12, R11
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET

// func transpose8AVX2(dst *float32, ldd, dstStep int, src *float32, lds, srcStep, blocks int)
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ dstStep+16(FP), R11
	SHLQ $2, R11
	MOVQ src+24(FP), SI
	MOVQ lds+32(FP), R9
	SHLQ $2, R9
	MOVQ srcStep+40(FP), R12
	SHLQ $2, R12
	MOVQ blocks+48(FP), CX
	LEAQ (R9)(R9*2), R10      // three source rows
	LEAQ (R8)(R8*2), R13      // three destination rows

loop:
	LEAQ (SI)(R9*4), DX       // source row 4
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VMOVUPS (DX), Y4
	VMOVUPS (DX)(R9*1), Y5
	VMOVUPS (DX)(R9*2), Y6
	VMOVUPS (DX)(R10*1), Y7

	VUNPCKLPS Y1, Y0, Y8      // r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]
	VUNPCKHPS Y1, Y0, Y9      // elements 2, 3 | 6, 7
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0   // rows 0-3 of column 0 | of column 4
	VSHUFPS $0xEE, Y10, Y8, Y1   // column 1 | 5
	VSHUFPS $0x44, Y11, Y9, Y2   // column 2 | 6
	VSHUFPS $0xEE, Y11, Y9, Y3   // column 3 | 7
	VSHUFPS $0x44, Y14, Y12, Y4  // rows 4-7 likewise
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	LEAQ (DI)(R8*4), DX       // destination row 4
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R8*1)
	VMOVUPS Y10, (DI)(R8*2)
	VMOVUPS Y11, (DI)(R13*1)
	VMOVUPS Y12, (DX)
	VMOVUPS Y13, (DX)(R8*1)
	VMOVUPS Y14, (DX)(R8*2)
	VMOVUPS Y15, (DX)(R13*1)

	ADDQ R12, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET
