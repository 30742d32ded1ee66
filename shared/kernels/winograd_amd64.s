//go:build amd64 && !purego

#include "textflag.h"

// WINO_ROW finishes one row ξ of Bᵀ d B for eight tiles: Y0, Y1 hold
// columns 0-15 of the tiles' row of Bᵀ d, Y2, Y3 columns 2-17; the even
// and odd columns of each pair are the tiles' d0, d1 and d2, d3 (after a
// shuffle within lanes and a permutation across them), and Bᵀ's row
// combinations of them go to dst, dst+stride, dst+2·stride and
// dst+3·stride (R8 one stride in bytes, R14 three).
#define WINO_ROW(dst) \
	VSHUFPS $0x88, Y1, Y0, Y4 \
	VSHUFPS $0xDD, Y1, Y0, Y5 \
	VSHUFPS $0x88, Y3, Y2, Y6 \
	VSHUFPS $0xDD, Y3, Y2, Y7 \
	VPERMPD $0xD8, Y4, Y4 \
	VPERMPD $0xD8, Y5, Y5 \
	VPERMPD $0xD8, Y6, Y6 \
	VPERMPD $0xD8, Y7, Y7 \
	VSUBPS  Y6, Y4, Y8 \
	VADDPS  Y6, Y5, Y9 \
	VSUBPS  Y5, Y6, Y10 \
	VSUBPS  Y7, Y5, Y11 \
	VMOVUPS Y8, (dst) \
	VMOVUPS Y9, (dst)(R8*1) \
	VMOVUPS Y10, (dst)(R8*2) \
	VMOVUPS Y11, (dst)(R14*1)

// func winoInAVX2(v *float32, stride int, rows *float32, wp, groups, half, step int)
TEXT ·winoInAVX2(SB), NOSPLIT, $0-56
	MOVQ v+0(FP), DI
	MOVQ stride+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), SI
	MOVQ wp+24(FP), R9
	SHLQ $2, R9
	MOVQ groups+32(FP), CX
	MOVQ half+40(FP), BX
	SHLQ $2, BX               // tiles 4-7 from their rows' start
	MOVQ step+48(FP), AX
	SHLQ $2, AX               // from one group's rows to the next's
	LEAQ (SI)(R9*1), R11      // row 1
	LEAQ (SI)(R9*2), R10      // row 2
	LEAQ (R10)(R9*1), R12     // row 3
	LEAQ (R8)(R8*2), R14      // three strides
	MOVQ R8, R13
	SHLQ $2, R13              // four strides: one row ξ of the output

loop:
	MOVQ DI, DX

	// ξ = 0: row 0 - row 2
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS 8(SI), Y2
	VMOVUPS 8(SI)(BX*1), Y3
	VSUBPS  (R10), Y0, Y0
	VSUBPS  (R10)(BX*1), Y1, Y1
	VSUBPS  8(R10), Y2, Y2
	VSUBPS  8(R10)(BX*1), Y3, Y3
	WINO_ROW(DX)
	ADDQ    R13, DX

	// ξ = 1: row 1 + row 2
	VMOVUPS (R11), Y0
	VMOVUPS (R11)(BX*1), Y1
	VMOVUPS 8(R11), Y2
	VMOVUPS 8(R11)(BX*1), Y3
	VADDPS  (R10), Y0, Y0
	VADDPS  (R10)(BX*1), Y1, Y1
	VADDPS  8(R10), Y2, Y2
	VADDPS  8(R10)(BX*1), Y3, Y3
	WINO_ROW(DX)
	ADDQ    R13, DX

	// ξ = 2: row 2 - row 1
	VMOVUPS (R10), Y0
	VMOVUPS (R10)(BX*1), Y1
	VMOVUPS 8(R10), Y2
	VMOVUPS 8(R10)(BX*1), Y3
	VSUBPS  (R11), Y0, Y0
	VSUBPS  (R11)(BX*1), Y1, Y1
	VSUBPS  8(R11), Y2, Y2
	VSUBPS  8(R11)(BX*1), Y3, Y3
	WINO_ROW(DX)
	ADDQ    R13, DX

	// ξ = 3: row 1 - row 3
	VMOVUPS (R11), Y0
	VMOVUPS (R11)(BX*1), Y1
	VMOVUPS 8(R11), Y2
	VMOVUPS 8(R11)(BX*1), Y3
	VSUBPS  (R12), Y0, Y0
	VSUBPS  (R12)(BX*1), Y1, Y1
	VSUBPS  8(R12), Y2, Y2
	VSUBPS  8(R12)(BX*1), Y3, Y3
	WINO_ROW(DX)

	ADDQ AX, SI
	ADDQ AX, R10
	ADDQ AX, R11
	ADDQ AX, R12
	ADDQ $32, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET

// WINO_OUT writes one output row of eight tiles from a row of Aᵀ M in
// a, b, c, d (its four columns): the even columns (a + b) + c and the odd
// (b - c) - d, interleaved into 16 consecutive outputs at dst.
#define WINO_OUT(a, b, c, d, dst) \
	VADDPS     b, a, Y8 \
	VADDPS     c, Y8, Y8 \
	VSUBPS     c, b, Y9 \
	VSUBPS     d, Y9, Y9 \
	VUNPCKLPS  Y9, Y8, Y10 \
	VUNPCKHPS  Y9, Y8, Y11 \
	VPERM2F128 $0x20, Y11, Y10, Y12 \
	VPERM2F128 $0x31, Y11, Y10, Y13 \
	VMOVUPS    Y12, (dst) \
	VMOVUPS    Y13, (dst)(SI*1)

// WINO_COL loads column ν of the tiles' 4×4 products M (at off from each
// row ξ's start) and leaves the column of Aᵀ M: (M0 + M1) + M2 in r0 and
// (M1 - M2) - M3 in r1.
#define WINO_COL(off, r0, r1) \
	VMOVUPS off(AX), r0 \
	VADDPS  off(BX), r0, r0 \
	VADDPS  off(DX), r0, r0 \
	VMOVUPS off(BX), r1 \
	VSUBPS  off(DX), r1, r1 \
	VSUBPS  off(R10), r1, r1

// func winoOutAVX2(y *float32, ldy int, m *float32, stride, groups, half, step int)
TEXT ·winoOutAVX2(SB), NOSPLIT, $0-56
	MOVQ y+0(FP), DI
	MOVQ ldy+8(FP), R9
	SHLQ $2, R9
	MOVQ m+16(FP), AX         // row ξ = 0 of M
	MOVQ stride+24(FP), R8
	SHLQ $2, R8
	MOVQ groups+32(FP), CX
	MOVQ half+40(FP), SI
	SHLQ $2, SI               // tiles 4-7's outputs from their rows' start
	MOVQ step+48(FP), R12
	SHLQ $2, R12              // from one group's rows to the next's
	MOVQ R8, R13
	SHLQ $2, R13              // four strides: one row ξ
	LEAQ (AX)(R13*1), BX      // ξ = 1
	LEAQ (BX)(R13*1), DX      // ξ = 2
	LEAQ (DX)(R13*1), R10     // ξ = 3
	LEAQ (R8)(R8*2), R14      // three strides

loop:
	WINO_COL(0, Y0, Y4)
	ADDQ R8, AX
	ADDQ R8, BX
	ADDQ R8, DX
	ADDQ R8, R10
	WINO_COL(0, Y1, Y5)
	ADDQ R8, AX
	ADDQ R8, BX
	ADDQ R8, DX
	ADDQ R8, R10
	WINO_COL(0, Y2, Y6)
	ADDQ R8, AX
	ADDQ R8, BX
	ADDQ R8, DX
	ADDQ R8, R10
	WINO_COL(0, Y3, Y7)
	SUBQ R14, AX
	SUBQ R14, BX
	SUBQ R14, DX
	SUBQ R14, R10

	WINO_OUT(Y0, Y1, Y2, Y3, DI)
	LEAQ (DI)(R9*1), R11
	WINO_OUT(Y4, Y5, Y6, Y7, R11)

	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, DX
	ADDQ $32, R10
	ADDQ R12, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET

// WINO_ADJ_ROW writes one row ξ of A dy Aᵀ for eight tiles from that row
// of A dy, (a, b): a, a + b, a - b and -b (a sign flip by Y15's mask) to
// dst, dst+stride, dst+2·stride and dst+3·stride.
#define WINO_ADJ_ROW(a, b, dst) \
	VADDPS  b, a, Y8 \
	VSUBPS  b, a, Y9 \
	VXORPS  b, Y15, Y10 \
	VMOVUPS a, (dst) \
	VMOVUPS Y8, (dst)(R8*1) \
	VMOVUPS Y9, (dst)(R8*2) \
	VMOVUPS Y10, (dst)(R14*1)

// func winoOutAdjAVX2(z *float32, stride int, dy *float32, ldy, groups, half, step int)
TEXT ·winoOutAdjAVX2(SB), NOSPLIT, $0-56
	MOVQ z+0(FP), DI
	MOVQ stride+8(FP), R8
	SHLQ $2, R8
	MOVQ dy+16(FP), SI
	MOVQ ldy+24(FP), R9
	SHLQ $2, R9
	MOVQ groups+32(FP), CX
	MOVQ half+40(FP), BX
	SHLQ $2, BX               // tiles 4-7 from their rows' start
	MOVQ step+48(FP), AX
	SHLQ $2, AX               // from one group's rows to the next's
	LEAQ (SI)(R9*1), R11      // row 1
	LEAQ (R8)(R8*2), R14      // three strides
	MOVQ R8, R13
	SHLQ $2, R13              // four strides: one row ξ of the output
	VPCMPEQD Y15, Y15, Y15
	VPSLLD   $31, Y15, Y15    // the sign bit of each lane

loop:
	// The tiles' y00, y01 (Y4, Y5) and y10, y11 (Y6, Y7): the even and odd
	// columns of the two rows.
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(BX*1), Y1
	VMOVUPS (R11), Y2
	VMOVUPS (R11)(BX*1), Y3
	VSHUFPS $0x88, Y1, Y0, Y4
	VSHUFPS $0xDD, Y1, Y0, Y5
	VSHUFPS $0x88, Y3, Y2, Y6
	VSHUFPS $0xDD, Y3, Y2, Y7
	VPERMPD $0xD8, Y4, Y4
	VPERMPD $0xD8, Y5, Y5
	VPERMPD $0xD8, Y6, Y6
	VPERMPD $0xD8, Y7, Y7
	MOVQ    DI, DX

	WINO_ADJ_ROW(Y4, Y5, DX)  // ξ = 0: row 0
	ADDQ    R13, DX
	VADDPS  Y6, Y4, Y0        // ξ = 1: row 0 + row 1
	VADDPS  Y7, Y5, Y1
	WINO_ADJ_ROW(Y0, Y1, DX)
	ADDQ    R13, DX
	VSUBPS  Y6, Y4, Y0        // ξ = 2: row 0 - row 1
	VSUBPS  Y7, Y5, Y1
	WINO_ADJ_ROW(Y0, Y1, DX)
	ADDQ    R13, DX
	VXORPS  Y6, Y15, Y0       // ξ = 3: -row 1
	VXORPS  Y7, Y15, Y1
	WINO_ADJ_ROW(Y0, Y1, DX)

	ADDQ AX, SI
	ADDQ AX, R11
	ADDQ $32, DI
	DECQ CX
	JNZ  loop

	VZEROUPPER
	RET
