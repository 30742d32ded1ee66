//go:build amd64 && !purego

#include "textflag.h"

// func maskAVX2(out, key, h *float32, n int)
//
// out[i] = h[i] where key[i] > 0 and +0 elsewhere, for n a multiple of 8:
// the ordered greater-than compare is false for NaN and for -0, as in
// Mask. AVX2.
TEXT ·maskAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ key+8(FP), SI
	MOVQ h+16(FP), DX
	MOVQ n+24(FP), CX
	VXORPS Y15, Y15, Y15
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0
	VCMPPS  $0x1e, Y15, Y0, Y0 // key > 0 (GT_OQ)
	VANDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
