#include "go_asm.h"
#include "textflag.h"

// The AVX-512 walk of 16 rows down perfect trees (see vector.go).
//
// Registers: SI the current vecTree, CX trees left, R8 nodes, R9 leafval,
// R10 the rows' keys (xt: column c of the 16 rows at R10+64c), R11 the
// accumulators; per tree BX its nodes (node i, numbered from 1, at
// BX+8i: key t at +0, column at +4) and DX its leaves (final node i's at
// DX+4i). Z0 holds the 16 rows' node indexes once they differ. The top
// three levels (7 nodes) read whole key columns and select among them
// with masks; levels 3 to 5 find their nodes' words in registers with
// permutes; deeper levels gather them. Every level below the top gathers
// the 16 keys (one per row) it compares.

DATA iota16<>+0(SB)/4, $0
DATA iota16<>+4(SB)/4, $1
DATA iota16<>+8(SB)/4, $2
DATA iota16<>+12(SB)/4, $3
DATA iota16<>+16(SB)/4, $4
DATA iota16<>+20(SB)/4, $5
DATA iota16<>+24(SB)/4, $6
DATA iota16<>+28(SB)/4, $7
DATA iota16<>+32(SB)/4, $8
DATA iota16<>+36(SB)/4, $9
DATA iota16<>+40(SB)/4, $10
DATA iota16<>+44(SB)/4, $11
DATA iota16<>+48(SB)/4, $12
DATA iota16<>+52(SB)/4, $13
DATA iota16<>+56(SB)/4, $14
DATA iota16<>+60(SB)/4, $15
GLOBL iota16<>(SB), RODATA|NOPTR, $64

// KEY loads the 16 keys of the column named at byte off of the nodes.
#define KEY(off, z) MOVWLZX off(BX), AX; SHLQ $6, AX; VMOVDQU32 (R10)(AX*1), z

// GATHERKEY gathers row r's key of column col[r] into z (col is clobbered).
#define GATHERKEY(col, z) VPSLLD $4, col, col; VPADDD Z31, col, col; KXNORW K7, K7, K7; VPGATHERDD (R10)(col*4), K7, z

// STEP compares keys with thresholds and moves Z0 to the children.
#define STEP(key, t) VPCMPUD $5, t, key, K6; VPADDD Z0, Z0, Z0; VPADDD Z30, Z0, K6, Z0

// func perfect16(trees *vecTree, n int, nodes, leafval, xt unsafe.Pointer, acc *float32)
TEXT ·perfect16(SB), NOSPLIT, $0-48
	MOVQ trees+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ nodes+16(FP), R8
	MOVQ leafval+24(FP), R9
	MOVQ xt+32(FP), R10
	MOVQ acc+40(FP), R11
	VMOVDQU32 iota16<>(SB), Z31
	MOVL $1, AX
	VPBROADCASTD AX, Z30
	MOVL $2, AX
	VPBROADCASTD AX, Z29
	MOVL $4, AX
	VPBROADCASTD AX, Z28
	MOVL $8, AX
	VPBROADCASTD AX, Z27
	MOVL $16, AX
	VPBROADCASTD AX, Z26
	MOVL $32, AX
	VPBROADCASTD AX, Z25
	TESTQ CX, CX
	JZ done

tree:
	MOVLQSX vecTree_node(SI), BX
	ADDQ R8, BX
	MOVLQSX vecTree_leaf(SI), DX
	ADDQ R9, DX
	MOVL vecTree_depth(SI), DI
	CMPL DI, $3
	JB small

	// Level 0: node 1. K1 = rows going right.
	KEY(12, Z1)
	VPCMPUD.BCST $5, 8(BX), Z1, K1

	// Level 1: node 2+K1. K2 = rows going right.
	KEY(20, Z2)
	KEY(28, Z3)
	VPBLENDMD Z3, Z2, K1, Z2
	VPBROADCASTD 16(BX), Z4
	VPBLENDMD.BCST 24(BX), Z4, K1, Z4
	VPCMPUD $5, Z4, Z2, K2

	// Level 2: node 4+2*K1+K2. K3 = rows going right.
	KEY(36, Z5)
	KEY(44, Z6)
	KEY(52, Z7)
	KEY(60, Z8)
	VPBLENDMD Z6, Z5, K2, Z5
	VPBLENDMD Z8, Z7, K2, Z7
	VPBLENDMD Z7, Z5, K1, Z5
	VPBROADCASTD 32(BX), Z9
	VPBLENDMD.BCST 40(BX), Z9, K2, Z9
	VPBROADCASTD 48(BX), Z10
	VPBLENDMD.BCST 56(BX), Z10, K2, Z10
	VPBLENDMD Z10, Z9, K1, Z9
	VPCMPUD $5, Z9, Z5, K3
	VMOVDQA32 Z27, Z0
	VPADDD Z28, Z0, K1, Z0
	VPADDD Z29, Z0, K2, Z0
	VPADDD Z30, Z0, K3, Z0
	CMPL DI, $3
	JEQ leaves

	// Level 3: nodes 8 to 15 in one register; node i's words are
	// dwords 2i and 2i+1 modulo 16.
	VMOVDQU32 64(BX), Z11
	VPADDD Z0, Z0, Z12
	VPERMD Z11, Z12, Z13
	VPADDD Z30, Z12, Z12
	VPERMD Z11, Z12, Z14
	GATHERKEY(Z14, Z15)
	STEP(Z15, Z13)
	CMPL DI, $4
	JEQ leaves

	// Level 4: nodes 16 to 31 in two registers (dwords 2i, 2i+1 mod 32).
	VMOVDQU32 128(BX), Z11
	VMOVDQU32 192(BX), Z16
	VPADDD Z0, Z0, Z12
	VMOVDQA32 Z12, Z13
	VPERMI2D Z16, Z11, Z13
	VPADDD Z30, Z12, Z14
	VPERMI2D Z16, Z11, Z14
	GATHERKEY(Z14, Z15)
	STEP(Z15, Z13)
	CMPL DI, $5
	JEQ leaves

	// Level 5: nodes 32 to 63 in four registers; bit 4 of i picks the pair.
	VMOVDQU32 256(BX), Z11
	VMOVDQU32 320(BX), Z16
	VMOVDQU32 384(BX), Z17
	VMOVDQU32 448(BX), Z18
	VPTESTMD Z26, Z0, K1
	VPADDD Z0, Z0, Z12
	VMOVDQA32 Z12, Z13
	VPERMI2D Z16, Z11, Z13
	VMOVDQA32 Z12, Z19
	VPERMI2D Z18, Z17, Z19
	VPBLENDMD Z19, Z13, K1, Z13
	VPADDD Z30, Z12, Z12
	VMOVDQA32 Z12, Z14
	VPERMI2D Z16, Z11, Z14
	VPERMI2D Z18, Z17, Z12
	VPBLENDMD Z12, Z14, K1, Z14
	GATHERKEY(Z14, Z15)
	STEP(Z15, Z13)
	SUBL $6, DI
	JZ leaves

	// Levels 6 on: gather the nodes.
deep:
	KXNORW K1, K1, K1
	VPGATHERDD (BX)(Z0*8), K1, Z13
	KXNORW K2, K2, K2
	VPGATHERDD 4(BX)(Z0*8), K2, Z14
	GATHERKEY(Z14, Z15)
	STEP(Z15, Z13)
	DECL DI
	JNZ deep
	JMP gleaves

	// Depths 0 to 2: gather everything from the root.
small:
	VMOVDQA32 Z30, Z0
	TESTL DI, DI
	JZ gleaves
	JMP deep

	// The leaves of final nodes 2^d to 2^(d+1)-1.
leaves:
	MOVL vecTree_depth(SI), AX
	CMPL AX, $4
	JEQ leaves4
	CMPL AX, $5
	JEQ leaves5
	CMPL AX, $6
	JEQ leaves6

gleaves:
	KXNORW K1, K1, K1
	VPGATHERDD (DX)(Z0*4), K1, Z20
	JMP add

leaves4:
	VMOVDQU32 64(DX), Z21
	VPERMD Z21, Z0, Z20
	JMP add

leaves5:
	VMOVDQU32 128(DX), Z21
	VMOVDQU32 192(DX), Z22
	VMOVDQA32 Z0, Z20
	VPERMI2D Z22, Z21, Z20
	JMP add

leaves6:
	VMOVDQU32 256(DX), Z21
	VMOVDQU32 320(DX), Z22
	VMOVDQU32 384(DX), Z23
	VMOVDQU32 448(DX), Z24
	VPTESTMD Z25, Z0, K1
	VMOVDQA32 Z0, Z20
	VPERMI2D Z22, Z21, Z20
	VPERMI2D Z24, Z23, Z0
	VPBLENDMD Z0, Z20, K1, Z20

	// acc[group] += leaf * weight, each row's float32 operations in
	// tree order as in the scalar walk.
add:
	VMULPS.BCST vecTree_weight(SI), Z20, Z20
	MOVLQSX vecTree_acc(SI), AX
	VMOVUPS (R11)(AX*1), Z21
	VADDPS Z20, Z21, Z21
	VMOVUPS Z21, (R11)(AX*1)
	ADDQ $vecTree__size, SI
	DECQ CX
	JNZ tree

done:
	VZEROUPPER
	RET
