//go:build amd64 && !purego

#include "textflag.h"

// func momentumAVX2(p, grad, b *float32, n int, wd, mu, lr float64)
//
// Four elements at a time, widened to float64, each product rounded
// before its sum as momentumGo's are (no FMA).
TEXT ·momentumAVX2(SB), NOSPLIT, $0-56
	MOVQ p+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSD wd+32(FP), Y13
	VBROADCASTSD mu+40(FP), Y14
	VBROADCASTSD lr+48(FP), Y15
	SHRQ $2, CX
	JZ   done

loop:
	VCVTPS2PD (DI), Y0             // p
	VCVTPS2PD (SI), Y1             // g
	VCVTPS2PD (DX), Y2             // b
	VMULPD  Y13, Y0, Y3            // wd·p
	VADDPD  Y3, Y1, Y3             // d = g + wd·p
	VMULPD  Y14, Y2, Y4            // mu·b
	VADDPD  Y3, Y4, Y4             // mu·b + d
	VCVTPD2PSY Y4, X5              // the new b, in float32
	VMOVUPS X5, (DX)
	VCVTPS2PD X5, Y5
	VMULPD  Y15, Y5, Y5            // lr·b
	VSUBPD  Y5, Y0, Y0             // p - lr·b
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)
	ADDQ    $16, DI
	ADDQ    $16, SI
	ADDQ    $16, DX
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
