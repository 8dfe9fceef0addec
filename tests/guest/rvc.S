/*
 * rvc.S - every RV64C instruction, written with its explicit c. mnemonic so
 * the assembler cannot substitute the 32-bit form.
 *
 * rvc_run(results, buffer) stores one 64-bit value per RESULT line into
 * results[], and the NUL-separated names of those values into the
 * rvc_names list; rvc.c prints them.  buffer points to 256 bytes that
 * rvc.c filled with a known pattern.  rvc_ebreak executes c.ebreak for the
 * SIGTRAP test.
 */
    .option rvc

    .section .rodata.rvc_names, "a"
    .globl rvc_names
rvc_names:

    .set RESIDX, 0
/* Stores REG as the next result, named NAME. */
.macro RESULT reg, name
    sd \reg, (RESIDX * 8)(s1)
    .pushsection .rodata.rvc_names, "a"
    .asciz "\name"
    .popsection
    .set RESIDX, RESIDX + 1
.endm

    .text
    .globl rvc_run
    .type rvc_run, @function
rvc_run:
    addi sp, sp, -576
    sd ra, 568(sp)
    sd s0, 560(sp)
    sd s1, 552(sp)
    mv s1, a0
    mv s0, a1

    /* c.li, c.lui */
    c.li a0, 31
    RESULT a0, "c.li 31"
    c.li a0, -32
    RESULT a0, "c.li -32"
    c.li a0, 0
    RESULT a0, "c.li 0"
    c.lui a1, 1
    RESULT a1, "c.lui 1"
    c.lui a1, 31
    RESULT a1, "c.lui 31"
    c.lui a1, 0xfffe0
    RESULT a1, "c.lui 0xfffe0"
    c.lui a1, 0xfffff
    RESULT a1, "c.lui 0xfffff"

    /* c.addi, c.addiw */
    c.li a0, 5
    c.addi a0, 31
    RESULT a0, "c.addi 5+31"
    c.addi a0, -32
    RESULT a0, "c.addi 36-32"
    li a2, 0x7fffffff
    c.addiw a2, 1
    RESULT a2, "c.addiw 0x7fffffff+1"
    li a2, 0x123456789
    c.addiw a2, 0
    RESULT a2, "c.addiw 0x123456789+0"
    li a2, 0x180000000
    c.addiw a2, -32
    RESULT a2, "c.addiw 0x180000000-32"

    /* c.slli, c.srli, c.srai */
    li a3, 0x8000000000000001
    c.slli a3, 1
    RESULT a3, "c.slli 1"
    li a3, 0x8000000000000001
    c.slli a3, 63
    RESULT a3, "c.slli 63"
    li a3, 0x8000000000000001
    c.srli a3, 1
    RESULT a3, "c.srli 1"
    li a3, 0x8000000000000001
    c.srli a3, 32
    RESULT a3, "c.srli 32"
    li a3, 0x8000000000000001
    c.srli a3, 63
    RESULT a3, "c.srli 63"
    li a3, 0x8000000000000001
    c.srai a3, 1
    RESULT a3, "c.srai 1"
    li a3, 0x8000000000000001
    c.srai a3, 32
    RESULT a3, "c.srai 32"
    li a3, 0x8000000000000001
    c.srai a3, 63
    RESULT a3, "c.srai 63"
    li a3, 0x4000000000000000
    c.srai a3, 62
    RESULT a3, "c.srai 62 positive"

    /* c.andi */
    li a4, -1
    c.andi a4, -32
    RESULT a4, "c.andi -1&-32"
    li a4, 0x5555
    c.andi a4, 31
    RESULT a4, "c.andi 0x5555&31"
    li a4, 0x5555
    c.andi a4, 0
    RESULT a4, "c.andi 0x5555&0"

    /* c.mv, c.add (any registers) */
    li a5, 0x1111222233334444
    c.mv a0, a5
    RESULT a0, "c.mv"
    c.add a0, a5
    RESULT a0, "c.add"
    c.mv t1, a5
    c.add t1, t1
    RESULT t1, "c.mv/c.add t1"

    /* c.sub, c.xor, c.or, c.and, c.subw, c.addw */
    li a0, 0x80000000
    li a1, 1
    c.sub a0, a1
    RESULT a0, "c.sub 0x80000000-1"
    li a0, 0
    c.sub a0, a1
    RESULT a0, "c.sub 0-1"
    li a0, 0xff00ff00ff00ff00
    li a1, 0x0ff00ff00ff00ff0
    c.mv a2, a0
    c.xor a2, a1
    RESULT a2, "c.xor"
    c.mv a2, a0
    c.or a2, a1
    RESULT a2, "c.or"
    c.mv a2, a0
    c.and a2, a1
    RESULT a2, "c.and"
    li a0, 0x80000000
    li a1, 1
    c.subw a0, a1
    RESULT a0, "c.subw 0x80000000-1"
    li a0, 0
    li a1, 0x80000000
    c.subw a0, a1
    RESULT a0, "c.subw 0-0x80000000"
    li a0, 0x7fffffff
    li a1, 1
    c.addw a0, a1
    RESULT a0, "c.addw 0x7fffffff+1"
    li a0, 0x1ffffffff
    li a1, 0x100000001
    c.addw a0, a1
    RESULT a0, "c.addw high bits"

    /* c.lw, c.ld, c.sw, c.sd through s0 at both ends of their offset range */
    c.lw a0, 0(s0)
    RESULT a0, "c.lw 0"
    c.lw a0, 124(s0)
    RESULT a0, "c.lw 124"
    c.ld a0, 0(s0)
    RESULT a0, "c.ld 0"
    c.ld a0, 248(s0)
    RESULT a0, "c.ld 248"
    li a1, 0x0123456789abcdef
    c.sw a1, 4(s0)
    ld a2, 0(s0)
    RESULT a2, "c.sw 4 then ld 0"
    c.sd a1, 16(s0)
    ld a2, 16(s0)
    RESULT a2, "c.sd 16 then ld 16"

    /* c.lwsp, c.ldsp, c.swsp, c.sdsp at their largest offsets */
    li a0, 0xfedcba9876543210
    c.sdsp a0, 504(sp)
    c.ldsp t2, 504(sp)
    RESULT t2, "c.sdsp/c.ldsp 504"
    c.swsp a0, 252(sp)
    c.lwsp t2, 252(sp)
    RESULT t2, "c.swsp/c.lwsp 252"
    c.sdsp a0, 0(sp)
    c.lwsp t2, 4(sp)
    RESULT t2, "c.lwsp 4 of stored double"

    /* c.fld, c.fsd, c.fldsp, c.fsdsp */
    c.fld fa0, 8(s0)
    fmv.x.d a0, fa0
    RESULT a0, "c.fld 8"
    c.fsd fa0, 248(s0)
    ld a0, 248(s0)
    RESULT a0, "c.fsd 248"
    li a0, 0x7ff0000000000123
    sd a0, 496(sp)
    c.fldsp fa1, 496(sp)
    c.fsdsp fa1, 488(sp)
    ld a0, 488(sp)
    RESULT a0, "c.fldsp/c.fsdsp sNaN"
    fmv.x.d a0, fa1
    RESULT a0, "c.fldsp register"

    /* c.addi4spn, c.addi16sp: offsets from sp, compared with sp */
    c.addi4spn a0, sp, 8
    sub a0, a0, sp
    RESULT a0, "c.addi4spn 8"
    c.addi4spn a0, sp, 1020
    sub a0, a0, sp
    RESULT a0, "c.addi4spn 1020"
    mv t0, sp
    c.addi16sp sp, -512
    sub a0, t0, sp
    c.addi16sp sp, 496
    c.addi16sp sp, 16
    sub a1, t0, sp
    RESULT a0, "c.addi16sp -512"
    RESULT a1, "c.addi16sp back"

    /* c.j, c.beqz, c.bnez: taken and not taken, forward and backward */
    c.li a0, 0
    c.j 1f
    c.addi a0, 1
1:  c.beqz a0, 2f
    c.addi a0, 2
2:  c.bnez a0, 3f
    c.addi a0, 4
3:  c.bnez a0, 4f
    c.addi a0, 8
4:  c.beqz a0, 5f
    c.addi a0, 16
5:  RESULT a0, "branches (expect 20)"
    c.li a1, 0
    c.j 7f
6:  c.addi a1, 1
    c.j 8f
7:  c.j 6b
8:  RESULT a1, "backward c.j"

    /* c.jr, c.jalr (links pc + 2), c.nop */
    la t0, 9f
    c.li a0, 0
    c.jr t0
    c.li a0, 1
9:  RESULT a0, "c.jr skipped"
    la t1, rvc_leaf
    c.li a4, 0
    c.jalr t1
10: la t2, 10b
    sub a0, ra, t2
    RESULT a0, "c.jalr link - return point"
    RESULT a4, "c.jalr callee ran"
    c.nop
    c.li a0, 1
    RESULT a0, "c.nop"

    .pushsection .rodata.rvc_names, "a"
    .byte 0
    .popsection
    ld ra, 568(sp)
    ld s0, 560(sp)
    ld s1, 552(sp)
    addi sp, sp, 576
    ret
    .size rvc_run, . - rvc_run

rvc_leaf:
    c.li a4, 9
    c.jr ra

/* Returns 3 if the SIGTRAP handler stepped over the c.ebreak. */
    .globl rvc_ebreak
    .type rvc_ebreak, @function
rvc_ebreak:
    c.li a0, 1
    c.ebreak
    c.addi a0, 2
    c.jr ra
    .size rvc_ebreak, . - rvc_ebreak

    .section .rodata
    .globl rvc_result_count
    .balign 8
rvc_result_count:
    .quad RESIDX

    .section .note.GNU-stack, "", @progbits
