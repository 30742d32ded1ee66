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



// LOAD8 loads eight floats from each of the eight rows at AX, AX+R8, …,
// AX+7·R8 (R9 = 3·R8) into Y0..Y7 and leaves AX at the row after them.
#define LOAD8 \
	VMOVUPS (AX), Y0; \
	VMOVUPS (AX)(R8*1), Y1; \
	VMOVUPS (AX)(R8*2), Y2; \
	VMOVUPS (AX)(R9*1), Y3; \
	LEAQ    (AX)(R8*4), AX; \
	VMOVUPS (AX), Y4; \
	VMOVUPS (AX)(R8*1), Y5; \
	VMOVUPS (AX)(R8*2), Y6; \
	VMOVUPS (AX)(R9*1), Y7; \
	LEAQ    (AX)(R8*4), AX

// func packBT16x8(b *float32, ldb, n8 int, dst *float32)
//
// dst[p·16+j] = b[j·ldb+p] for j < 16, p < 8·n8: sixteen rows of b, eight
// columns at a time, through two 8×8 transposes in registers. AVX.
TEXT ·packBT16x8(SB), NOSPLIT, $0-32
	MOVQ b+0(FP), SI
	MOVQ ldb+8(FP), R8
	MOVQ n8+16(FP), CX
	MOVQ dst+24(FP), DI
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	TESTQ CX, CX
	JZ    tdone

tloop:
	MOVQ SI, AX
	LOAD8
	TRANSPOSE8_STORE(0)
	LOAD8
	TRANSPOSE8_STORE(32)
	ADDQ $32, SI
	ADDQ $512, DI
	DECQ CX
	JNZ  tloop

tdone:
	VZEROUPPER
	RET

// STORE_ACC stores the accumulators Y0..Y11 into the 6×16 block at c, whose
// rows are stride bytes apart; it advances c.
#define STORE_ACC(c, stride) \
	VMOVUPS Y0, (c); \
	VMOVUPS Y1, 32(c); \
	ADDQ    stride, c; \
	VMOVUPS Y2, (c); \
	VMOVUPS Y3, 32(c); \
	ADDQ    stride, c; \
	VMOVUPS Y4, (c); \
	VMOVUPS Y5, 32(c); \
	ADDQ    stride, c; \
	VMOVUPS Y6, (c); \
	VMOVUPS Y7, 32(c); \
	ADDQ    stride, c; \
	VMOVUPS Y8, (c); \
	VMOVUPS Y9, 32(c); \
	ADDQ    stride, c; \
	VMOVUPS Y10, (c); \
	VMOVUPS Y11, 32(c)

// func Gemm6x16Set(k int, a, b, c *float32, ldc int)
//
// c[6×16] = a·b: Gemm6x16 storing its sums instead of adding them, for a
// product's first block when c's old values do not count.
TEXT ·Gemm6x16Set(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	ZERO_ACC
	TESTQ CX, CX
	JZ    sstore

sloop:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	FMA_ROWS((AX), 4(AX), 8(AX), 12(AX), 16(AX), 20(AX))
	ADDQ    $24, AX
	ADDQ    $64, BX
	DECQ    CX
	JNZ     sloop

sstore:
	STORE_ACC(DX, R8)
	VZEROUPPER
	RET

// STORE_ACC_Z stores the accumulators Z0..Z11 into the 6×32 block at c,
// whose rows are stride bytes apart; it advances c.
#define STORE_ACC_Z(c, stride) \
	VMOVUPS Z0, (c); \
	VMOVUPS Z1, 64(c); \
	ADDQ    stride, c; \
	VMOVUPS Z2, (c); \
	VMOVUPS Z3, 64(c); \
	ADDQ    stride, c; \
	VMOVUPS Z4, (c); \
	VMOVUPS Z5, 64(c); \
	ADDQ    stride, c; \
	VMOVUPS Z6, (c); \
	VMOVUPS Z7, 64(c); \
	ADDQ    stride, c; \
	VMOVUPS Z8, (c); \
	VMOVUPS Z9, 64(c); \
	ADDQ    stride, c; \
	VMOVUPS Z10, (c); \
	VMOVUPS Z11, 64(c)

// func Gemm6x32Set(k int, a, b *float32, bstride int, c *float32, ldc int)
//
// c[6×32] = a·[b₀ b₁]: Gemm6x32 storing its sums instead of adding them.
// AVX-512F.
TEXT ·Gemm6x32Set(SB), NOSPLIT, $0-48
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
	JZ    zsstore

zsloop:
	VMOVUPS (BX), Z12
	VMOVUPS (R9), Z13
	FMA_ROWS_Z((AX), 4(AX), 8(AX), 12(AX), 16(AX), 20(AX))
	ADDQ    $24, AX
	ADDQ    $64, BX
	ADDQ    $64, R9
	DECQ    CX
	JNZ     zsloop

zsstore:
	STORE_ACC_Z(DX, R8)
	VZEROUPPER
	RET
