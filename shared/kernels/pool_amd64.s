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
	VMOVD DX, X10
	VPBROADCASTD X10, Y10          // 1
	SHRQ  $3, CX
	JZ    done

loop:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS (BX), Y2
	VMOVUPS 32(BX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4      // a: top left
	VSHUFPS $0xDD, Y1, Y0, Y5      // b: top right
	VSHUFPS $0x88, Y3, Y2, Y6      // c: bottom left
	VSHUFPS $0xDD, Y3, Y2, Y7      // d: bottom right
	VCMPPS  $0x1E, Y4, Y5, Y8      // s0 = b > a
	VMAXPS  Y4, Y5, Y4             // m0 = b > a ? b : a
	VCMPPS  $0x1E, Y6, Y7, Y9      // s1 = d > c
	VMAXPS  Y6, Y7, Y6             // m1 = d > c ? d : c
	VCMPPS  $0x1E, Y4, Y6, Y0      // v = m1 > m0
	VBLENDVPS Y0, Y9, Y8, Y1       // col = v ? s1 : s0
	VPAND   Y10, Y1, Y1            // j
	VPAND   Y13, Y0, Y0            // i·w
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
