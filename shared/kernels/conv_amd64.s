//go:build amd64 && !purego

#include "textflag.h"
#include "kernel_amd64.h"

// func Conv6x16(k int, a, x *float32, offs *int32, c *float32, ldc int)
//
// c[6×16] += a·B, where a is k packed columns of 6 (as for Gemm6x16) and row p
// of B is the 16 floats at x[offs[p]:]: a convolution reads its input in
// place instead of an unrolled, packed copy. AVX2 and FMA.
TEXT ·Conv6x16(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ x+16(FP), BX
	MOVQ offs+24(FP), SI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	ZERO_ACC
	TESTQ CX, CX
	JZ    store

loop:
	MOVLQSX (SI), R9
	VMOVUPS (BX)(R9*4), Y12
	VMOVUPS 32(BX)(R9*4), Y13
	FMA_ROWS((AX), 4(AX), 8(AX), 12(AX), 16(AX), 20(AX))
	ADDQ    $24, AX
	ADDQ    $4, SI
	DECQ    CX
	JNZ     loop

store:
	ADD_ACC(DX, R8)
	VZEROUPPER
	RET

// func ConvFilter6x16(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int)
//
// c[6×16] += A·b, where A[r][p] = x[aoffs[r]+pos[p]] (six filter taps read
// in place from a padded input at the output positions pos) and b is k
// packed rows of 16: the weight gradient of a convolution without im2col.
TEXT ·ConvFilter6x16(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), AX
	MOVQ aoffs+16(FP), R9
	MOVQ pos+24(FP), SI
	MOVQ b+32(FP), BX
	MOVQ c+40(FP), DX
	ROW_POINTERS
	ZERO_ACC
	TESTQ CX, CX
	JZ    fstore

	TESTQ $1, CX
	JZ    floop2

	MOVLQSX (SI), R9
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	FMA_ROWS((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	ADDQ    $4, SI
	ADDQ    $64, BX
	DECQ    CX
	JZ      fstore

floop2:
	MOVLQSX (SI), R9
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	FMA_ROWS((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	MOVLQSX 4(SI), R9
	VMOVUPS 64(BX), Y12
	VMOVUPS 96(BX), Y13
	FMA_ROWS((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	ADDQ    $8, SI
	ADDQ    $128, BX
	SUBQ    $2, CX
	JNZ     floop2

fstore:
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	ADD_ACC(DX, R8)
	VZEROUPPER
	RET

// func ConvFilter6x16T(k int, x *float32, aoffs, pos *int32, b, c *float32, ldc int)
//
// ConvFilter6x16 storing its 6×16 result transposed and overwriting:
// column j's six values go to c[j·ldc : j·ldc+6]. runByChannels writes six
// output positions of 16 channels straight into the output this way; the
// transpose is done in registers (STORE_T8, eight columns at a time).
// Nothing outside the 16 six-float spans is written. AVX2 and FMA.
TEXT ·ConvFilter6x16T(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), AX
	MOVQ aoffs+16(FP), R9
	MOVQ pos+24(FP), SI
	MOVQ b+32(FP), BX
	MOVQ c+40(FP), DX
	ROW_POINTERS
	ZERO_ACC
	TESTQ CX, CX
	JZ    ftstore

	TESTQ $1, CX
	JZ    ftloop2

	MOVLQSX (SI), R9
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	FMA_ROWS((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	ADDQ    $4, SI
	ADDQ    $64, BX
	DECQ    CX
	JZ      ftstore

ftloop2:
	MOVLQSX (SI), R9
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	FMA_ROWS((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	MOVLQSX 4(SI), R9
	VMOVUPS 64(BX), Y12
	VMOVUPS 96(BX), Y13
	FMA_ROWS((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	ADDQ    $8, SI
	ADDQ    $128, BX
	SUBQ    $2, CX
	JNZ     ftloop2

ftstore:
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	STORE_T8(Y0, Y2, Y4, Y6, Y8, Y10, X0, X2, X4, X6)   // channels 0..7
	STORE_T8(Y1, Y3, Y5, Y7, Y9, Y11, X1, X3, X5, X7)   // channels 8..15
	VZEROUPPER
	RET

// func Conv6x32(k int, a, x *float32, offs *int32, c *float32, ldc int)
//
// Conv6x16 for 32 positions of a row (two 16-position tiles) in
// 512-bit registers. AVX-512F.
TEXT ·Conv6x32(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ x+16(FP), BX
	MOVQ offs+24(FP), SI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	ZERO_ACC_Z
	TESTQ CX, CX
	JZ    zstore

zloop:
	MOVLQSX (SI), R9
	VMOVUPS (BX)(R9*4), Z12
	VMOVUPS 64(BX)(R9*4), Z13
	FMA_ROWS_Z((AX), 4(AX), 8(AX), 12(AX), 16(AX), 20(AX))
	ADDQ    $24, AX
	ADDQ    $4, SI
	DECQ    CX
	JNZ     zloop

zstore:
	ADD_ACC_Z(DX, R8)
	VZEROUPPER
	RET

// func ConvFilter6x32(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int)
//
// ConvFilter6x16 for 32 columns: b₀ and b₁ are two packed k×16
// panels, b₁ starting bstride floats after b₀. AVX-512F.
TEXT ·ConvFilter6x32(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), AX
	MOVQ aoffs+16(FP), R9
	MOVQ pos+24(FP), SI
	MOVQ b+32(FP), BX
	MOVQ bstride+40(FP), DX
	LEAQ (BX)(DX*4), DX
	ROW_POINTERS
	ZERO_ACC_Z
	TESTQ CX, CX
	JZ    fzstore

fzloop:
	MOVLQSX (SI), R9
	VMOVUPS (BX), Z12
	VMOVUPS (DX), Z13
	FMA_ROWS_Z((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	ADDQ    $4, SI
	ADDQ    $64, BX
	ADDQ    $64, DX
	DECQ    CX
	JNZ     fzloop

fzstore:
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8
	ADD_ACC_Z(DX, R8)
	VZEROUPPER
	RET

// func ConvFilter6x32T(k int, x *float32, aoffs, pos *int32, b *float32, bstride int, c *float32, ldc int)
//
// ConvFilter6x32 storing its 6×32 result transposed and overwriting:
// column j's six values go to c[j·ldc : j·ldc+6]. runByChannels writes six
// output positions of 32 channels straight into the output this way; the
// transpose is done in registers (unpack and shuffle within 128-bit lanes,
// then each lane's four rows and the last two rows stored per column).
// Nothing outside the 32 six-float spans is written. AVX-512F.
TEXT ·ConvFilter6x32T(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), AX
	MOVQ aoffs+16(FP), R9
	MOVQ pos+24(FP), SI
	MOVQ b+32(FP), BX
	MOVQ bstride+40(FP), DX
	LEAQ (BX)(DX*4), DX
	ROW_POINTERS
	ZERO_ACC_Z
	TESTQ CX, CX
	JZ    tstore

tloop:
	MOVLQSX (SI), R9
	VMOVUPS (BX), Z12
	VMOVUPS (DX), Z13
	FMA_ROWS_Z((R8)(R9*4), (R10)(R9*4), (R11)(R9*4), (R12)(R9*4), (R13)(R9*4), (DI)(R9*4))
	ADDQ    $4, SI
	ADDQ    $64, BX
	ADDQ    $64, DX
	DECQ    CX
	JNZ     tloop

tstore:
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8
	TRANSPOSE6(Z0, Z2, Z4, Z6, Z8, Z10) // channels 0..15
	STORE_LANE(0)
	STORE_LANE(1)
	STORE_LANE(2)
	STORE_LANE(3)
	TRANSPOSE6(Z1, Z3, Z5, Z7, Z9, Z11) // channels 16..31
	STORE_LANE(0)
	STORE_LANE(1)
	STORE_LANE(2)
	STORE_LANE(3)
	VZEROUPPER
	RET

// func ConvPlane6x16(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int)
//
// c[r][j] += Σ_p w[p]·x[offs[p] + r·rowStride + j] for r < 6, j < 16: six
// rows of one output channel's plane at once, each filter tap's weight
// broadcast against the input read in place, for convolutions with too few
// output channels to fill a tile (the data gradient of a one-channel
// input). AVX2 and FMA.
TEXT ·ConvPlane6x16(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ w+8(FP), AX
	MOVQ x+16(FP), R8
	MOVQ offs+24(FP), SI
	MOVQ rowStride+32(FP), BX
	SHLQ $2, BX
	LEAQ (R8)(BX*1), R10
	LEAQ (R10)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (R12)(BX*1), R13
	LEAQ (R13)(BX*1), DI
	ZERO_ACC
	TESTQ CX, CX
	JZ    ConvPlane6x16store

ConvPlane6x16loop:
	MOVLQSX      (SI), R9
	VBROADCASTSS (AX), Y14
	PLANE_TAP(Y14, 32, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11)
	ADDQ         $4, AX
	ADDQ         $4, SI
	DECQ         CX
	JNZ          ConvPlane6x16loop

ConvPlane6x16store:
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	ADD_ACC(DX, R8)
	VZEROUPPER
	RET

// func ConvPlane6x32(k int, w, x *float32, offs *int32, rowStride int, c *float32, ldc int)
//
// c[r][j] += Σ_p w[p]·x[offs[p] + r·rowStride + j] for r < 6, j < 32: six
// rows of one output channel's plane at once, each filter tap's weight
// broadcast against the input read in place, for convolutions with too few
// output channels to fill a tile (the data gradient of a one-channel
// input). AVX-512F.
TEXT ·ConvPlane6x32(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ w+8(FP), AX
	MOVQ x+16(FP), R8
	MOVQ offs+24(FP), SI
	MOVQ rowStride+32(FP), BX
	SHLQ $2, BX
	LEAQ (R8)(BX*1), R10
	LEAQ (R10)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	LEAQ (R12)(BX*1), R13
	LEAQ (R13)(BX*1), DI
	ZERO_ACC_Z
	TESTQ CX, CX
	JZ    ConvPlane6x32store

ConvPlane6x32loop:
	MOVLQSX      (SI), R9
	VBROADCASTSS (AX), Z14
	PLANE_TAP(Z14, 64, Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11)
	ADDQ         $4, AX
	ADDQ         $4, SI
	DECQ         CX
	JNZ          ConvPlane6x32loop

ConvPlane6x32store:
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	ADD_ACC_Z(DX, R8)
	VZEROUPPER
	RET
