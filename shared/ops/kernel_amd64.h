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
