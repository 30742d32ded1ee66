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
