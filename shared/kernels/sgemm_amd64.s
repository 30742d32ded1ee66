//go:build amd64 && !purego

#include "textflag.h"
#include "kernel_amd64.h"

// func Gemm6x16(k int, a, b, c *float32, ldc int)
//
// c[6×16] += a·b, where a is k packed columns of 6 and b k packed rows of
// 16, and c is row-major with row stride ldc floats. AVX2 and FMA.
TEXT ·Gemm6x16(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	ZERO_ACC
	TESTQ CX, CX
	JZ    store

loop:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	FMA_ROWS((AX), 4(AX), 8(AX), 12(AX), 16(AX), 20(AX))
	ADDQ    $24, AX
	ADDQ    $64, BX
	DECQ    CX
	JNZ     loop

store:
	ADD_ACC(DX, R8)
	VZEROUPPER
	RET

// func Gemm6x32(k int, a, b *float32, bstride int, c *float32, ldc int)
//
// c[6×32] += a·[b₀ b₁], where a is k packed columns of 6 and b₀, b₁ are
// two packed k×16 panels, b₁ starting bstride floats after b₀: two of
// Gemm6x16's tiles at once in 512-bit registers. AVX-512F.
TEXT ·Gemm6x32(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ bstride+24(FP), R9
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	LEAQ (BX)(R9*4), R9
	ZERO_ACC_Z
	TESTQ CX, CX
	JZ    zstore

zloop:
	VMOVUPS (BX), Z12
	VMOVUPS (R9), Z13
	FMA_ROWS_Z((AX), 4(AX), 8(AX), 12(AX), 16(AX), 20(AX))
	ADDQ    $24, AX
	ADDQ    $64, BX
	ADDQ    $64, R9
	DECQ    CX
	JNZ     zloop

zstore:
	ADD_ACC_Z(DX, R8)
	VZEROUPPER
	RET

