//go:build amd64 && !purego

#include "textflag.h"

// Window offsets 2k of the eight windows k in the order the even/odd
// deinterleave below leaves them: 0, 1, 4, 5 | 2, 3, 6, 7.
DATA argmaxIota<>+0(SB)/4, $0
DATA argmaxIota<>+4(SB)/4, $2
DATA argmaxIota<>+8(SB)/4, $8
DATA argmaxIota<>+12(SB)/4, $10
DATA argmaxIota<>+16(SB)/4, $4
DATA argmaxIota<>+20(SB)/4, $6
DATA argmaxIota<>+24(SB)/4, $12
DATA argmaxIota<>+28(SB)/4, $14
GLOBL argmaxIota<>(SB), RODATA|NOPTR, $32

// KEYS2X2 loads eight 2x2 windows of keys from the rows at AX and BX and
// leaves, in the windows' order 0, 1, 4, 5 | 2, 3, 6, 7, Y8 = b > a (the
// top row's right element wins), Y9 = d > c (the bottom row's) and
// Y10 = the bottom row's winner beats the top row's, as Argmax2x2 decides;
// it uses Y0-Y7.
#define KEYS2X2 \
	VMOVUPS (AX), Y0; \
	VMOVUPS 32(AX), Y1; \
	VMOVUPS (BX), Y2; \
	VMOVUPS 32(BX), Y3; \
	VSHUFPS $0x88, Y1, Y0, Y4; \
	VSHUFPS $0xDD, Y1, Y0, Y5; \
	VSHUFPS $0x88, Y3, Y2, Y6; \
	VSHUFPS $0xDD, Y3, Y2, Y7; \
	VCMPPS  $0x1E, Y4, Y5, Y8; \
	VMAXPS  Y4, Y5, Y4; \
	VCMPPS  $0x1E, Y6, Y7, Y9; \
	VMAXPS  Y6, Y7, Y6; \
	VCMPPS  $0x1E, Y4, Y6, Y10

// func Argmax2x2(r0, r1 *float32, out *int32, n int, base, w int32)
//
// For the n (a multiple of 8) 2x2 windows k over r0[2k:2k+2] and
// r1[2k:2k+2], out[k] = base + 2k + j + i·w for the window's first largest
// element (i, j) in row-major order, as Argmax4 decides it: within a
// row the right element wins only if strictly larger, then the bottom
// row's winner only if strictly larger than the top row's. AVX2.
TEXT ·Argmax2x2(SB), NOSPLIT, $0-40
	MOVQ  r0+0(FP), AX
	MOVQ  r1+8(FP), BX
	MOVQ  out+16(FP), DI
	MOVQ  n+24(FP), CX
	MOVL  base+32(FP), DX
	MOVL  w+36(FP), R8
	VMOVD DX, X14
	VPBROADCASTD X14, Y14          // base
	VMOVD R8, X13
	VPBROADCASTD X13, Y13          // w
	VMOVDQU argmaxIota<>(SB), Y12
	VPADDD Y12, Y14, Y14           // base + 2k, permuted
	MOVL  $16, DX
	VMOVD DX, X11
	VPBROADCASTD X11, Y11          // 16: next eight windows
	MOVL  $1, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Y15          // 1
	SHRQ  $3, CX
	JZ    done

loop:
	KEYS2X2
	VBLENDVPS Y10, Y9, Y8, Y1      // column: the winning row's
	VPAND   Y15, Y1, Y1            // j
	VPAND   Y13, Y10, Y0           // i·w
	VPADDD  Y1, Y0, Y0
	VPADDD  Y14, Y0, Y0
	VPERMQ  $0xD8, Y0, Y0          // windows back in order
	VMOVDQU Y0, (DI)
	VPADDD  Y11, Y14, Y14
	ADDQ    $64, AX
	ADDQ    $64, BX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET

// func Select2x2(k0, k1, h0, h1, out *float32, n int)
TEXT ·Select2x2(SB), NOSPLIT, $0-48
	MOVQ k0+0(FP), AX
	MOVQ k1+8(FP), BX
	MOVQ h0+16(FP), SI
	MOVQ h1+24(FP), DX
	MOVQ out+32(FP), DI
	MOVQ n+40(FP), CX
	SHRQ $3, CX
	JZ   selectDone

selectLoop:
	KEYS2X2
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4      // ha
	VSHUFPS $0xDD, Y1, Y0, Y5      // hb
	VSHUFPS $0x88, Y3, Y2, Y6      // hc
	VSHUFPS $0xDD, Y3, Y2, Y7      // hd
	VBLENDVPS Y8, Y5, Y4, Y4       // top = b > a ? hb : ha
	VBLENDVPS Y9, Y7, Y6, Y6       // bottom = d > c ? hd : hc
	VBLENDVPS Y10, Y6, Y4, Y4      // the winning row's
	VPERMQ  $0xD8, Y4, Y4          // windows back in order
	VMOVUPS Y4, (DI)
	ADDQ    $64, AX
	ADDQ    $64, BX
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     selectLoop

selectDone:
	VZEROUPPER
	RET

// func Scatter2x2(k0, k1, grad, d0, d1 *float32, n int)
TEXT ·Scatter2x2(SB), NOSPLIT, $0-48
	MOVQ k0+0(FP), AX
	MOVQ k1+8(FP), BX
	MOVQ grad+16(FP), SI
	MOVQ d0+24(FP), DI
	MOVQ d1+32(FP), DX
	MOVQ n+40(FP), CX
	SHRQ $3, CX
	JZ   scatterDone

scatterLoop:
	KEYS2X2
	VMOVUPS (SI), Y0
	VPERMQ  $0xD8, Y0, Y0          // grad in the windows' order
	VANDNPS Y0, Y10, Y1            // top row's share: grad where the top wins
	VANDPS  Y0, Y10, Y2            // bottom row's
	VANDNPS Y1, Y8, Y3             // a
	VANDPS  Y1, Y8, Y4             // b
	VANDNPS Y2, Y9, Y5             // c
	VANDPS  Y2, Y9, Y6             // d
	VUNPCKLPS Y4, Y3, Y0           // top row, elements 0-7: a b a b ...
	VUNPCKHPS Y4, Y3, Y1           // elements 8-15
	VUNPCKLPS Y6, Y5, Y2           // bottom row
	VUNPCKHPS Y6, Y5, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ    $64, AX
	ADDQ    $64, BX
	ADDQ    $32, SI
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    CX
	JNZ     scatterLoop

scatterDone:
	VZEROUPPER
	RET
