// Pieces shared by the 6×16 AVX2/FMA kernels: the accumulators are
// Y0..Y11, two registers (16 floats) for each of six rows.

// ZERO_ACC clears the accumulators.
#define ZERO_ACC \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	VXORPS Y8, Y8, Y8; \
	VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11

// ADD_ROW adds accumulators lo, hi into the 16 floats at c.
#define ADD_ROW(lo, hi, c) \
	VADDPS  (c), lo, lo; \
	VMOVUPS lo, (c); \
	VADDPS  32(c), hi, hi; \
	VMOVUPS hi, 32(c)

// ADD_ACC adds the accumulators into the 6×16 block at c, whose rows are
// stride bytes apart; it advances c.
#define ADD_ACC(c, stride) \
	ADD_ROW(Y0, Y1, c); \
	ADDQ stride, c; \
	ADD_ROW(Y2, Y3, c); \
	ADDQ stride, c; \
	ADD_ROW(Y4, Y5, c); \
	ADDQ stride, c; \
	ADD_ROW(Y6, Y7, c); \
	ADDQ stride, c; \
	ADD_ROW(Y8, Y9, c); \
	ADDQ stride, c; \
	ADD_ROW(Y10, Y11, c)

// FMA_ROWS adds b (Y12, Y13) times six broadcasts into the accumulators;
// A0..A5 are the broadcasts' sources.
#define FMA_ROWS(A0, A1, A2, A3, A4, A5) \
	VBROADCASTSS A0, Y14; \
	VFMADD231PS  Y12, Y14, Y0; \
	VFMADD231PS  Y13, Y14, Y1; \
	VBROADCASTSS A1, Y15; \
	VFMADD231PS  Y12, Y15, Y2; \
	VFMADD231PS  Y13, Y15, Y3; \
	VBROADCASTSS A2, Y14; \
	VFMADD231PS  Y12, Y14, Y4; \
	VFMADD231PS  Y13, Y14, Y5; \
	VBROADCASTSS A3, Y15; \
	VFMADD231PS  Y12, Y15, Y6; \
	VFMADD231PS  Y13, Y15, Y7; \
	VBROADCASTSS A4, Y14; \
	VFMADD231PS  Y12, Y14, Y8; \
	VFMADD231PS  Y13, Y14, Y9; \
	VBROADCASTSS A5, Y15; \
	VFMADD231PS  Y12, Y15, Y10; \
	VFMADD231PS  Y13, Y15, Y11

// STORE_T8 stores eight columns of the 6×16 accumulators transposed, six
// floats each, at DX, DX+R8, …, DX+7·R8, and advances DX by 8·R8. y0..y5
// hold the eight columns of the six rows (Y0, Y2, …, Y10 for columns 0..7)
// and x0..x3 name y0..y3's low halves. The transpose is TRANSPOSE6's,
// within 128-bit lanes, in the four registers AVX2 leaves free (Y12..Y15)
// and in y0..y3 once consumed: y0..y3 end with rows 0-3 of the lanes'
// columns 0..3, Y12 and Y13 (then X14, X15 for the upper lane) rows 4-5.
#define STORE_T8(y0, y1, y2, y3, y4, y5, x0, x1, x2, x3) \
	VUNPCKLPS    y1, y0, Y12; \
	VUNPCKHPS    y1, y0, Y13; \
	VUNPCKLPS    y3, y2, Y14; \
	VUNPCKHPS    y3, y2, Y15; \
	VSHUFPS      $0x44, Y14, Y12, y0; \
	VSHUFPS      $0xee, Y14, Y12, y1; \
	VSHUFPS      $0x44, Y15, Y13, y2; \
	VSHUFPS      $0xee, Y15, Y13, y3; \
	VUNPCKLPS    y5, y4, Y12; \
	VUNPCKHPS    y5, y4, Y13; \
	VEXTRACTF128 $1, Y12, X14; \
	VEXTRACTF128 $1, Y13, X15; \
	VMOVUPS      x0, (DX); \
	VMOVLPS      X12, 16(DX); \
	ADDQ         R8, DX; \
	VMOVUPS      x1, (DX); \
	VMOVHPS      X12, 16(DX); \
	ADDQ         R8, DX; \
	VMOVUPS      x2, (DX); \
	VMOVLPS      X13, 16(DX); \
	ADDQ         R8, DX; \
	VMOVUPS      x3, (DX); \
	VMOVHPS      X13, 16(DX); \
	ADDQ         R8, DX; \
	VEXTRACTF128 $1, y0, (DX); \
	VMOVLPS      X14, 16(DX); \
	ADDQ         R8, DX; \
	VEXTRACTF128 $1, y1, (DX); \
	VMOVHPS      X14, 16(DX); \
	ADDQ         R8, DX; \
	VEXTRACTF128 $1, y2, (DX); \
	VMOVLPS      X15, 16(DX); \
	ADDQ         R8, DX; \
	VEXTRACTF128 $1, y3, (DX); \
	VMOVHPS      X15, 16(DX); \
	ADDQ         R8, DX

// The 6×32 AVX-512 kernels use the same registers at full width: Z0..Z11
// accumulate two ZMM registers (32 floats) for each of six rows, Z12 and
// Z13 hold b, Z14 and Z15 the broadcasts. VZEROUPPER after them clears the
// upper halves again, as after the AVX2 kernels.

// ZERO_ACC_Z clears the accumulators.
#define ZERO_ACC_Z \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11

// ADD_ROW_Z adds accumulators lo, hi into the 32 floats at c.
#define ADD_ROW_Z(lo, hi, c) \
	VADDPS  (c), lo, lo; \
	VMOVUPS lo, (c); \
	VADDPS  64(c), hi, hi; \
	VMOVUPS hi, 64(c)

// ADD_ACC_Z adds the accumulators into the 6×32 block at c, whose rows are
// stride bytes apart; it advances c.
#define ADD_ACC_Z(c, stride) \
	ADD_ROW_Z(Z0, Z1, c); \
	ADDQ stride, c; \
	ADD_ROW_Z(Z2, Z3, c); \
	ADDQ stride, c; \
	ADD_ROW_Z(Z4, Z5, c); \
	ADDQ stride, c; \
	ADD_ROW_Z(Z6, Z7, c); \
	ADDQ stride, c; \
	ADD_ROW_Z(Z8, Z9, c); \
	ADDQ stride, c; \
	ADD_ROW_Z(Z10, Z11, c)

// FMA_ROWS_Z adds b (Z12, Z13) times six broadcasts into the accumulators;
// A0..A5 are the broadcasts' sources.
#define FMA_ROWS_Z(A0, A1, A2, A3, A4, A5) \
	VBROADCASTSS A0, Z14; \
	VFMADD231PS  Z12, Z14, Z0; \
	VFMADD231PS  Z13, Z14, Z1; \
	VBROADCASTSS A1, Z15; \
	VFMADD231PS  Z12, Z15, Z2; \
	VFMADD231PS  Z13, Z15, Z3; \
	VBROADCASTSS A2, Z14; \
	VFMADD231PS  Z12, Z14, Z4; \
	VFMADD231PS  Z13, Z14, Z5; \
	VBROADCASTSS A3, Z15; \
	VFMADD231PS  Z12, Z15, Z6; \
	VFMADD231PS  Z13, Z15, Z7; \
	VBROADCASTSS A4, Z14; \
	VFMADD231PS  Z12, Z14, Z8; \
	VFMADD231PS  Z13, Z14, Z9; \
	VBROADCASTSS A5, Z15; \
	VFMADD231PS  Z12, Z15, Z10; \
	VFMADD231PS  Z13, Z15, Z11

// ROW_POINTERS sets R8, R10, R11, R12, R13 and DI to AX plus four times the
// six int32 offsets at (R9): the six rows a filter kernel broadcasts from.
#define ROW_POINTERS \
	MOVLQSX 0(R9), R8; \
	LEAQ    (AX)(R8*4), R8; \
	MOVLQSX 4(R9), R10; \
	LEAQ    (AX)(R10*4), R10; \
	MOVLQSX 8(R9), R11; \
	LEAQ    (AX)(R11*4), R11; \
	MOVLQSX 12(R9), R12; \
	LEAQ    (AX)(R12*4), R12; \
	MOVLQSX 16(R9), R13; \
	LEAQ    (AX)(R13*4), R13; \
	MOVLQSX 20(R9), DI; \
	LEAQ    (AX)(DI*4), DI

// PLANE_TAP adds w (a broadcast weight) times the six input rows at R8,
// R10, R11, R12, R13 and DI, plus R9 floats, into the accumulators a0..a11,
// two per row, the second half bytes after the first.
#define PLANE_TAP(w, half, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) \
	VFMADD231PS (R8)(R9*4), w, a0; \
	VFMADD231PS half(R8)(R9*4), w, a1; \
	VFMADD231PS (R10)(R9*4), w, a2; \
	VFMADD231PS half(R10)(R9*4), w, a3; \
	VFMADD231PS (R11)(R9*4), w, a4; \
	VFMADD231PS half(R11)(R9*4), w, a5; \
	VFMADD231PS (R12)(R9*4), w, a6; \
	VFMADD231PS half(R12)(R9*4), w, a7; \
	VFMADD231PS (R13)(R9*4), w, a8; \
	VFMADD231PS half(R13)(R9*4), w, a9; \
	VFMADD231PS (DI)(R9*4), w, a10; \
	VFMADD231PS half(DI)(R9*4), w, a11

// TRANSPOSE6 transposes, within each 128-bit lane, six rows of 16 floats
// r0..r5: Z22..Z25 get rows 0-3 of the lane's columns 0..3, Z20 rows 4-5 of
// columns 0, 1 and Z21 of columns 2, 3 (in their low and high halves).
#define TRANSPOSE6(r0, r1, r2, r3, r4, r5) \
	VUNPCKLPS r1, r0, Z16; \
	VUNPCKHPS r1, r0, Z17; \
	VUNPCKLPS r3, r2, Z18; \
	VUNPCKHPS r3, r2, Z19; \
	VUNPCKLPS r5, r4, Z20; \
	VUNPCKHPS r5, r4, Z21; \
	VSHUFPS   $0x44, Z18, Z16, Z22; \
	VSHUFPS   $0xee, Z18, Z16, Z23; \
	VSHUFPS   $0x44, Z19, Z17, Z24; \
	VSHUFPS   $0xee, Z19, Z17, Z25

// STORE_LANE stores the four columns of lane l of TRANSPOSE6's result, six
// floats each, at DX, DX+R8, DX+2·R8 and DX+3·R8, and advances DX by 4·R8.
#define STORE_LANE(l) \
	VEXTRACTF32X4 $l, Z20, X14; \
	VEXTRACTF32X4 $l, Z21, X15; \
	VEXTRACTF32X4 $l, Z22, (DX); \
	VMOVLPS       X14, 16(DX); \
	ADDQ          R8, DX; \
	VEXTRACTF32X4 $l, Z23, (DX); \
	VMOVHPS       X14, 16(DX); \
	ADDQ          R8, DX; \
	VEXTRACTF32X4 $l, Z24, (DX); \
	VMOVLPS       X15, 16(DX); \
	ADDQ          R8, DX; \
	VEXTRACTF32X4 $l, Z25, (DX); \
	VMOVHPS       X15, 16(DX); \
	ADDQ          R8, DX

// TRANSPOSE8_STORE transposes the 8×8 block in Y0..Y7 (row r in Yr) and
// stores its column c, eight floats, at off+c·64(DI); Y8..Y15 are scratch.
#define TRANSPOSE8_STORE(off) \
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
	VMOVUPS    Y8, off+0(DI); \
	VMOVUPS    Y9, off+64(DI); \
	VMOVUPS    Y10, off+128(DI); \
	VMOVUPS    Y11, off+192(DI); \
	VMOVUPS    Y12, off+256(DI); \
	VMOVUPS    Y13, off+320(DI); \
	VMOVUPS    Y14, off+384(DI); \
	VMOVUPS    Y15, off+448(DI)
