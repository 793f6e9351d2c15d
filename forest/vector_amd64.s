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
// the 16 keys (one per row) it compares. Two trees of one depth walk side
// by side (their instructions interleaved level by level), so one tree's
// gathers overlap the other's: tree A uses BX, DX, Z0 and Z1-Z11, tree B
// R12, R13, Z24 and Z12-Z22. Z25-Z31 hold constants.

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
#define KEY(base, tmp, off, z) MOVWLZX off(base), tmp; SHLQ $6, tmp; VMOVDQU32 (R10)(tmp*1), z

// GATHERKEY gathers row r's key of column col[r] into z (col is clobbered).
#define GATHERKEY(col, z) VPSLLD $4, col, col; VPADDD Z31, col, col; KXNORW K7, K7, K7; VPGATHERDD (R10)(col*4), K7, z

// STEP compares keys with thresholds and moves ix to the children.
#define STEP(key, t, ix, k) VPCMPUD $5, t, key, k; VPADDD ix, ix, ix; VPADDD Z30, ix, k, ix

// TOP walks levels 0 to 2 (nodes 1 to 7) and sets ix to the level-3 nodes.
#define TOP(base, tmp, ix, k1, k2, k3, z1, z2, z3, z4, z5, z6, z7, z8, z9, z10) \
	KEY(base, tmp, 12, z1); VPCMPUD.BCST $5, 8(base), z1, k1; \
	KEY(base, tmp, 20, z2); KEY(base, tmp, 28, z3); VPBLENDMD z3, z2, k1, z2; \
	VPBROADCASTD 16(base), z4; VPBLENDMD.BCST 24(base), z4, k1, z4; VPCMPUD $5, z4, z2, k2; \
	KEY(base, tmp, 36, z5); KEY(base, tmp, 44, z6); KEY(base, tmp, 52, z7); KEY(base, tmp, 60, z8); \
	VPBLENDMD z6, z5, k2, z5; VPBLENDMD z8, z7, k2, z7; VPBLENDMD z7, z5, k1, z5; \
	VPBROADCASTD 32(base), z9; VPBLENDMD.BCST 40(base), z9, k2, z9; \
	VPBROADCASTD 48(base), z10; VPBLENDMD.BCST 56(base), z10, k2, z10; VPBLENDMD z10, z9, k1, z9; \
	VPCMPUD $5, z9, z5, k3; VMOVDQA32 Z27, ix; VPADDD Z28, ix, k1, ix; VPADDD Z29, ix, k2, ix; VPADDD Z30, ix, k3, ix

// L3 walks level 3: nodes 8 to 15 in one register, node i's words at
// dwords 2i and 2i+1 modulo 16.
#define L3(base, ix, k, tab, i2, t, col, key) \
	VMOVDQU32 64(base), tab; VPADDD ix, ix, i2; VPERMD tab, i2, t; VPADDD Z30, i2, i2; VPERMD tab, i2, col; \
	GATHERKEY(col, key); STEP(key, t, ix, k)

// L3B walks level 3 as TOP does, selecting among the 8 nodes' key
// columns with TOP's masks k1, k2, k3 (node 8+4*k1+2*k2+k3); the
// thresholds come from a register as in L3.
#define L3B(base, tmp, ix, k1, k2, k3, z1, z2, z3, z4, z5, z6, z7, z8, tab, t) \
	KEY(base, tmp, 68, z1); KEY(base, tmp, 76, z2); KEY(base, tmp, 84, z3); KEY(base, tmp, 92, z4); \
	KEY(base, tmp, 100, z5); KEY(base, tmp, 108, z6); KEY(base, tmp, 116, z7); KEY(base, tmp, 124, z8); \
	VPBLENDMD z2, z1, k3, z1; VPBLENDMD z4, z3, k3, z3; VPBLENDMD z6, z5, k3, z5; VPBLENDMD z8, z7, k3, z7; \
	VPBLENDMD z3, z1, k2, z1; VPBLENDMD z7, z5, k2, z5; VPBLENDMD z5, z1, k1, z1; \
	VMOVDQU32 64(base), tab; VPADDD ix, ix, t; VPERMD tab, t, t; \
	STEP(z1, t, ix, k1)

// L4 walks level 4: nodes 16 to 31 in two registers (dwords modulo 32).
#define L4(base, ix, k, a, b, i2, t, col, key) \
	VMOVDQU32 128(base), a; VMOVDQU32 192(base), b; VPADDD ix, ix, i2; \
	VMOVDQA32 i2, t; VPERMI2D b, a, t; VPADDD Z30, i2, col; VPERMI2D b, a, col; \
	GATHERKEY(col, key); STEP(key, t, ix, k)

// L5 walks level 5: nodes 32 to 63 in four registers; bit 4 of i picks
// the pair.
#define L5(base, ix, k, a, b, c, d, i2, t, t2, col, key) \
	VMOVDQU32 256(base), a; VMOVDQU32 320(base), b; VMOVDQU32 384(base), c; VMOVDQU32 448(base), d; \
	VPTESTMD Z26, ix, k; VPADDD ix, ix, i2; \
	VMOVDQA32 i2, t; VPERMI2D b, a, t; VMOVDQA32 i2, t2; VPERMI2D d, c, t2; VPBLENDMD t2, t, k, t; \
	VPADDD Z30, i2, i2; VMOVDQA32 i2, col; VPERMI2D b, a, col; VPERMI2D d, c, i2; VPBLENDMD i2, col, k, col; \
	GATHERKEY(col, key); STEP(key, t, ix, k)

// DEEP walks a level by gathering its nodes' words.
#define DEEP(base, ix, k, t, col, key) \
	KXNORW K7, K7, K7; VPGATHERDD (base)(ix*8), K7, t; \
	KXNORW K7, K7, K7; VPGATHERDD 4(base)(ix*8), K7, col; \
	GATHERKEY(col, key); STEP(key, t, ix, k)

// Leaves of final nodes 2^d to 2^(d+1)-1 (ix is clobbered).
#define LEAF4(lb, ix, tab, out) VMOVDQU32 64(lb), tab; VPERMD tab, ix, out
#define LEAF5(lb, ix, a, b, out) VMOVDQU32 128(lb), a; VMOVDQU32 192(lb), b; VMOVDQA32 ix, out; VPERMI2D b, a, out
#define LEAF6(lb, ix, k, a, b, c, d, out) \
	VMOVDQU32 256(lb), a; VMOVDQU32 320(lb), b; VMOVDQU32 384(lb), c; VMOVDQU32 448(lb), d; \
	VPTESTMD Z25, ix, k; VMOVDQA32 ix, out; VPERMI2D b, a, out; VPERMI2D d, c, ix; VPBLENDMD ix, out, k, out
#define LEAFG(lb, ix, out) KXNORW K7, K7, K7; VPGATHERDD (lb)(ix*4), K7, out

// ADD adds out times the weight of the tree at off(SI) to its group's
// accumulators: each row's float32 operations in tree order, as in the
// scalar walk.
#define ADD(off, out, tmp) \
	VMULPS.BCST (vecTree_weight+off)(SI), out, out; MOVLQSX (vecTree_acc+off)(SI), AX; \
	VMOVUPS (R11)(AX*1), tmp; VADDPS out, tmp, tmp; VMOVUPS tmp, (R11)(AX*1)

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

tree:
	CMPQ CX, $2
	JB single
	MOVL vecTree_depth(SI), DI
	CMPL DI, $3
	JB single
	CMPL DI, (vecTree__size+vecTree_depth)(SI)
	JNE single

	// Two trees of one depth (at least 3).
	MOVLQSX vecTree_node(SI), BX
	ADDQ R8, BX
	MOVLQSX vecTree_leaf(SI), DX
	ADDQ R9, DX
	MOVLQSX (vecTree__size+vecTree_node)(SI), R12
	ADDQ R8, R12
	MOVLQSX (vecTree__size+vecTree_leaf)(SI), R13
	ADDQ R9, R13
	TOP(BX, AX, Z0, K1, K2, K3, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10)
	TOP(R12, R14, Z24, K4, K5, K6, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21)
	CMPL DI, $3
	JEQ pgleaves
	L3B(BX, AX, Z0, K1, K2, K3, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10)
	L3B(R12, R14, Z24, K4, K5, K6, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21)
	CMPL DI, $4
	JEQ pleaves4
	L4(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6)
	L4(R12, Z24, K2, Z12, Z13, Z14, Z15, Z16, Z17)
	CMPL DI, $5
	JEQ pleaves5
	L5(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9)
	L5(R12, Z24, K2, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20)
	SUBL $6, DI
	JZ pleaves6

pdeep:
	DEEP(BX, Z0, K1, Z1, Z2, Z3)
	DEEP(R12, Z24, K2, Z12, Z13, Z14)
	DECL DI
	JNZ pdeep

pgleaves:
	LEAFG(DX, Z0, Z1)
	LEAFG(R13, Z24, Z12)
	JMP padd

pleaves4:
	LEAF4(DX, Z0, Z2, Z1)
	LEAF4(R13, Z24, Z13, Z12)
	JMP padd

pleaves5:
	LEAF5(DX, Z0, Z2, Z3, Z1)
	LEAF5(R13, Z24, Z13, Z14, Z12)
	JMP padd

pleaves6:
	LEAF6(DX, Z0, K1, Z2, Z3, Z4, Z5, Z1)
	LEAF6(R13, Z24, K2, Z13, Z14, Z15, Z16, Z12)

padd:
	ADD(0, Z1, Z2)
	ADD(vecTree__size, Z12, Z13)
	ADDQ $(2*vecTree__size), SI
	SUBQ $2, CX
	JMP tree

	// One tree.
single:
	TESTQ CX, CX
	JZ done
	MOVLQSX vecTree_node(SI), BX
	ADDQ R8, BX
	MOVLQSX vecTree_leaf(SI), DX
	ADDQ R9, DX
	MOVL vecTree_depth(SI), DI
	CMPL DI, $3
	JB small
	TOP(BX, AX, Z0, K1, K2, K3, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10)
	CMPL DI, $3
	JEQ gleaves
	L3B(BX, AX, Z0, K1, K2, K3, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10)
	CMPL DI, $4
	JEQ leaves4
	L4(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6)
	CMPL DI, $5
	JEQ leaves5
	L5(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9)
	SUBL $6, DI
	JZ leaves6

deep:
	DEEP(BX, Z0, K1, Z1, Z2, Z3)
	DECL DI
	JNZ deep

gleaves:
	LEAFG(DX, Z0, Z1)
	JMP add

	// Depths 0 to 2: gather everything from the root.
small:
	VMOVDQA32 Z30, Z0
	TESTL DI, DI
	JZ gleaves
	JMP deep

leaves4:
	LEAF4(DX, Z0, Z2, Z1)
	JMP add

leaves5:
	LEAF5(DX, Z0, Z2, Z3, Z1)
	JMP add

leaves6:
	LEAF6(DX, Z0, K1, Z2, Z3, Z4, Z5, Z1)

add:
	ADD(0, Z1, Z2)
	ADDQ $vecTree__size, SI
	DECQ CX
	JMP tree

done:
	VZEROUPPER
	RET

// The flat kernel: the same walk for flat trees (node i, numbered from 0,
// at BX+8i: key t at +0, column at +4, left child at +6; a row moves to
// left+(key >= t), and a leaf loops on itself, so a walk may take more
// steps than its tree's depth). Level 0 reads the root's whole key
// column; levels 1 to 3 (nodes below 15) find their node words in
// registers; deeper levels gather them. Two consecutive trees walk side
// by side for the larger of their depths. Z23 holds 0xffff.

// FSTEP compares the gathered keys with t and moves ix to left+(key >= t)
// (hi is the node's upper word: column, then left child).
#define FSTEP(t, hi, ix, k, col, key) \
	VPANDD Z23, hi, col; VPSRLD $16, hi, hi; GATHERKEY(col, key); \
	VPCMPUD $5, t, key, k; VPADDD Z30, hi, k, hi; VMOVDQA32 hi, ix

// FTOP walks level 0 from the root.
#define FTOP(base, tmp, ix, k, z) \
	MOVWLZX 4(base), tmp; SHLQ $6, tmp; VMOVDQU32 (R10)(tmp*1), z; VPCMPUD.BCST $5, (base), z, k; \
	MOVWLZX 6(base), tmp; VPBROADCASTD tmp, ix; VPADDD Z30, ix, k, ix

// FL1 walks a level whose nodes are below 8 (levels 1 and 2).
#define FL1(base, ix, k, tab, i2, t, hi, col, key) \
	VMOVDQU32 (base), tab; VPADDD ix, ix, i2; VPERMD tab, i2, t; VPADDD Z30, i2, i2; VPERMD tab, i2, hi; \
	FSTEP(t, hi, ix, k, col, key)

// FL3 walks a level whose nodes are below 16 (level 3).
#define FL3(base, ix, k, a, b, i2, t, hi, col, key) \
	VMOVDQU32 (base), a; VMOVDQU32 64(base), b; VPADDD ix, ix, i2; \
	VMOVDQA32 i2, t; VPERMI2D b, a, t; VPADDD Z30, i2, hi; VPERMI2D b, a, hi; \
	FSTEP(t, hi, ix, k, col, key)

// FDEEP walks a level by gathering its nodes' words.
#define FDEEP(base, ix, k, t, hi, col, key) \
	KXNORW K7, K7, K7; VPGATHERDD (base)(ix*8), K7, t; \
	KXNORW K7, K7, K7; VPGATHERDD 4(base)(ix*8), K7, hi; \
	FSTEP(t, hi, ix, k, col, key)

// FDEEPQ is FDEEP gathering each row's node as one 8-byte word (two
// 8-lane gathers, cheaper than two 16-lane ones here), then splitting the
// words into t and hi with Z21 (even dwords) and Z22 (odd dwords). yix is
// ix as a Y register; yc is col's.
#define FDEEPQ(base, ix, yix, k, lo, up, t, hi, col, yc, key) \
	VEXTRACTI32X8 $1, ix, yc; \
	KXNORW K7, K7, K7; VPGATHERDQ (base)(yix*8), K7, lo; \
	KXNORW K7, K7, K7; VPGATHERDQ (base)(yc*8), K7, up; \
	VMOVDQA32 Z21, t; VPERMI2D up, lo, t; VMOVDQA32 Z22, hi; VPERMI2D up, lo, hi; \
	FSTEP(t, hi, ix, k, col, key)

// func flat16(trees *vecTree, n int, nodes, leafval, xt unsafe.Pointer, acc *float32)
TEXT ·flat16(SB), NOSPLIT, $0-48
	MOVQ trees+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ nodes+16(FP), R8
	MOVQ leafval+24(FP), R9
	MOVQ xt+32(FP), R10
	MOVQ acc+40(FP), R11
	VMOVDQU32 iota16<>(SB), Z31
	MOVL $1, AX
	VPBROADCASTD AX, Z30
	MOVL $0xffff, AX
	VPBROADCASTD AX, Z23
	VMOVDQU32 iota16<>(SB), Z21
	VPADDD Z21, Z21, Z21
	VPADDD Z30, Z21, Z22

ftree:
	CMPQ CX, $2
	JB fsingle

	// Two trees, for the larger of their depths (at least 1).
	MOVLQSX vecTree_node(SI), BX
	ADDQ R8, BX
	MOVLQSX vecTree_leaf(SI), DX
	ADDQ R9, DX
	MOVLQSX (vecTree__size+vecTree_node)(SI), R12
	ADDQ R8, R12
	MOVLQSX (vecTree__size+vecTree_leaf)(SI), R13
	ADDQ R9, R13
	MOVL vecTree_depth(SI), DI
	MOVL (vecTree__size+vecTree_depth)(SI), AX
	CMPL AX, DI
	CMOVLGT AX, DI
	MOVL $1, AX
	CMPL DI, AX
	CMOVLLT AX, DI
	FTOP(BX, AX, Z0, K1, Z1)
	FTOP(R12, R14, Z24, K2, Z12)
	DECL DI
	JZ fpleaves
	FL1(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6)
	FL1(R12, Z24, K2, Z12, Z13, Z14, Z15, Z16, Z17)
	DECL DI
	JZ fpleaves
	FL1(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6)
	FL1(R12, Z24, K2, Z12, Z13, Z14, Z15, Z16, Z17)
	DECL DI
	JZ fpleaves
	FL3(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	FL3(R12, Z24, K2, Z12, Z13, Z14, Z15, Z16, Z17, Z18)
	DECL DI
	JZ fpleaves

fpdeep:
	FDEEPQ(BX, Z0, Y0, K1, Z1, Z2, Z3, Z4, Z5, Y5, Z6)
	FDEEPQ(R12, Z24, Y24, K2, Z12, Z13, Z14, Z15, Z16, Y16, Z17)
	DECL DI
	JNZ fpdeep

fpleaves:
	LEAFG(DX, Z0, Z1)
	LEAFG(R13, Z24, Z12)
	ADD(0, Z1, Z2)
	ADD(vecTree__size, Z12, Z13)
	ADDQ $(2*vecTree__size), SI
	SUBQ $2, CX
	JMP ftree

	// One tree.
fsingle:
	TESTQ CX, CX
	JZ fdone
	MOVLQSX vecTree_node(SI), BX
	ADDQ R8, BX
	MOVLQSX vecTree_leaf(SI), DX
	ADDQ R9, DX
	MOVL vecTree_depth(SI), DI
	MOVL $1, AX
	CMPL DI, AX
	CMOVLLT AX, DI
	FTOP(BX, AX, Z0, K1, Z1)
	DECL DI
	JZ fleaves
	FL1(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6)
	DECL DI
	JZ fleaves
	FL1(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6)
	DECL DI
	JZ fleaves
	FL3(BX, Z0, K1, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	DECL DI
	JZ fleaves

fdeep:
	FDEEPQ(BX, Z0, Y0, K1, Z1, Z2, Z3, Z4, Z5, Y5, Z6)
	DECL DI
	JNZ fdeep

fleaves:
	LEAFG(DX, Z0, Z1)
	ADD(0, Z1, Z2)
	ADDQ $vecTree__size, SI
	DECQ CX
	JMP ftree

fdone:
	VZEROUPPER
	RET

// func keys16(rows *float32, nf, nb int, xt *uint32)
//
// keys16 is transposeKeys (vector.go) in vector form: for each feature it
// gathers the nb rows' values (padding rows read as NaN), maps them to
// their order-preserving keys as floatKey does (x+0 turns -0 into +0; a
// positive's key flips its sign bit, a negative's flips every bit) and
// stores the two key columns (missing as missingKey, then as 0), then the
// zero column.
TEXT ·keys16(SB), NOSPLIT, $0-32
	MOVQ rows+0(FP), SI
	MOVQ nf+8(FP), CX
	MOVQ nb+16(FP), DX
	MOVQ xt+24(FP), DI
	VMOVDQU32 iota16<>(SB), Z31
	VPBROADCASTD CX, Z30
	VPMULLD Z30, Z31, Z31            // row r's value of feature 0 at dword r*nf
	MOVL $1, AX
	SHLXL DX, AX, AX
	DECL AX
	KMOVW AX, K6                     // the nb real rows
	MOVL $0x7fc00000, AX
	VPBROADCASTD AX, Z29             // NaN
	MOVL $0x80000000, AX
	VPBROADCASTD AX, Z28             // the sign bit
	VPTERNLOGD $0xff, Z27, Z27, Z27  // missingKey
	VPXORD Z26, Z26, Z26             // 0
	TESTQ CX, CX
	JZ kzero

kcol:
	VMOVDQA32 Z29, Z1
	KMOVW K6, K7
	VPGATHERDD (SI)(Z31*4), K7, Z1
	VCMPPS $3, Z1, Z1, K1            // unordered: missing
	VADDPS Z26, Z1, Z1
	VPSRAD $31, Z1, Z2
	VPORD Z28, Z2, Z2
	VPXORD Z2, Z1, Z1
	VMOVDQA32 Z27, K1, Z1
	VMOVDQU32 Z1, (DI)
	VPXORD Z1, Z1, K1, Z1
	VMOVDQU32 Z1, 64(DI)
	ADDQ $4, SI
	ADDQ $128, DI
	DECQ CX
	JNZ kcol

kzero:
	VMOVDQU32 Z26, (DI)
	VZEROUPPER
	RET
