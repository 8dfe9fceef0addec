/* crt.S: entry, trap vectors, lower-privilege calls and probes of the
 * bare-metal tests (see rt.h). */

#define FRAME      304
#define F_VEC      0
#define F_SP       16
#define F_EPC      256
#define F_CAUSE    264
#define F_TVAL     272
#define F_STATUS   280
#define F_MODE     288

#define STACK_SIZE 16384

        .section .text.start, "ax"
        .globl _start
_start:
        .option push
        .option norelax
        la      gp, __global_pointer$
        .option pop
        csrr    t0, mhartid
        bnez    t0, park
        la      sp, stack_top
        la      t0, bss_start
        la      t1, bss_end
1:      bgeu    t0, t1, 2f
        sd      zero, 0(t0)
        addi    t0, t0, 8
        j       1b
2:
        /* PMP: one NAPOT entry over everything, or S and U could access
         * nothing (priv §3.7.1); skipped if PMP is not implemented. */
        la      t0, 3f
        csrw    mtvec, t0
        li      t0, -1
        csrw    pmpaddr0, t0
        li      t0, 0x1f
        csrw    pmpcfg0, t0
        .balign 4
3:
        la      t0, m_trap_direct
        csrw    mtvec, t0
        la      t0, s_trap_direct
        csrw    stvec, t0
        la      t0, m_trap_stack_top
        csrw    mscratch, t0
        la      t0, s_trap_stack_top
        csrw    sscratch, t0
        csrw    medeleg, zero
        csrw    mideleg, zero
        csrw    mie, zero
        csrw    satp, zero
        li      t0, (1 << 13)           /* mstatus.FS = Initial */
        csrs    mstatus, t0
        call    main
        call    test_end
/* Other harts wait here until hart 0 stores an entry point in park_entry
 * and raises their MSIP (smc_smp.c); they run it in M-mode on the second
 * stack with a0 = mhartid. One secondary hart at most may be started. */
park:   li      t0, 8                   /* mie.MSIE: wfi ends on an MSIP */
        csrs    mie, t0
1:      wfi
        la      t0, park_entry
        ld      t0, 0(t0)
        beqz    t0, 1b
        la      sp, park_stack_top
        csrr    a0, mhartid
        jr      t0

/* ---- traps ----
 * Every entry swaps sp with xscratch (which holds the top of that mode's
 * trap stack), saves all registers and the trap CSRs into a frame and calls
 * trap_handle(frame). The handler may edit the frame: it is written back,
 * and xscratch is set to the top of the trap stack again. */
.macro TRAP_ENTRY p, vec
        csrrw   sp, \p\()scratch, sp
        addi    sp, sp, -FRAME
        sd      t0, 5*8(sp)
        li      t0, \vec
        j       \p\()_trap_common
.endm

.macro TRAP_COMMON p, ret, mode
\p\()_trap_common:
        sd      t0, F_VEC(sp)
        sd      x1, 1*8(sp)
        sd      x3, 3*8(sp)
        sd      x4, 4*8(sp)
        sd      x6, 6*8(sp)
        sd      x7, 7*8(sp)
        sd      x8, 8*8(sp)
        sd      x9, 9*8(sp)
        sd      x10, 10*8(sp)
        sd      x11, 11*8(sp)
        sd      x12, 12*8(sp)
        sd      x13, 13*8(sp)
        sd      x14, 14*8(sp)
        sd      x15, 15*8(sp)
        sd      x16, 16*8(sp)
        sd      x17, 17*8(sp)
        sd      x18, 18*8(sp)
        sd      x19, 19*8(sp)
        sd      x20, 20*8(sp)
        sd      x21, 21*8(sp)
        sd      x22, 22*8(sp)
        sd      x23, 23*8(sp)
        sd      x24, 24*8(sp)
        sd      x25, 25*8(sp)
        sd      x26, 26*8(sp)
        sd      x27, 27*8(sp)
        sd      x28, 28*8(sp)
        sd      x29, 29*8(sp)
        sd      x30, 30*8(sp)
        sd      x31, 31*8(sp)
        csrr    t0, \p\()scratch
        sd      t0, F_SP(sp)
        csrr    t0, \p\()epc
        sd      t0, F_EPC(sp)
        csrr    t0, \p\()cause
        sd      t0, F_CAUSE(sp)
        csrr    t0, \p\()tval
        sd      t0, F_TVAL(sp)
        csrr    t0, \p\()status
        sd      t0, F_STATUS(sp)
        li      t0, \mode
        sd      t0, F_MODE(sp)
        .option push
        .option norelax
        la      gp, __global_pointer$
        .option pop
        mv      a0, sp
        call    trap_handle
        ld      t0, F_EPC(sp)
        csrw    \p\()epc, t0
        ld      t0, F_STATUS(sp)
        csrw    \p\()status, t0
        addi    t0, sp, FRAME
        csrw    \p\()scratch, t0
        ld      x1, 1*8(sp)
        ld      x3, 3*8(sp)
        ld      x4, 4*8(sp)
        ld      x5, 5*8(sp)
        ld      x6, 6*8(sp)
        ld      x7, 7*8(sp)
        ld      x8, 8*8(sp)
        ld      x9, 9*8(sp)
        ld      x10, 10*8(sp)
        ld      x11, 11*8(sp)
        ld      x12, 12*8(sp)
        ld      x13, 13*8(sp)
        ld      x14, 14*8(sp)
        ld      x15, 15*8(sp)
        ld      x16, 16*8(sp)
        ld      x17, 17*8(sp)
        ld      x18, 18*8(sp)
        ld      x19, 19*8(sp)
        ld      x20, 20*8(sp)
        ld      x21, 21*8(sp)
        ld      x22, 22*8(sp)
        ld      x23, 23*8(sp)
        ld      x24, 24*8(sp)
        ld      x25, 25*8(sp)
        ld      x26, 26*8(sp)
        ld      x27, 27*8(sp)
        ld      x28, 28*8(sp)
        ld      x29, 29*8(sp)
        ld      x30, 30*8(sp)
        ld      x31, 31*8(sp)
        ld      sp, F_SP(sp)
        \ret
.endm

/* Vectored mode (priv §3.1.7): exceptions enter at the base, interrupt
 * cause n at base + 4n. Each slot is one uncompressed jump to an entry that
 * records n as the frame's vector. */
.macro VECTORS p
        .balign 256
        .globl \p\()_trap_vectors
\p\()_trap_vectors:
        .option push
        .option norvc
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        j       \p\()_vec\n
        .endr
        .option pop
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
\p\()_vec\n: TRAP_ENTRY \p, \n
        .endr
.endm

        .text
        .balign 4
        .globl m_trap_direct
m_trap_direct:
        TRAP_ENTRY m, -1
        TRAP_COMMON m, mret, 3
        VECTORS m

        .balign 4
        .globl s_trap_direct
s_trap_direct:
        TRAP_ENTRY s, -1
        TRAP_COMMON s, sret, 1
        VECTORS s

/* s_forward_exit(value): S-mode end of a run_in() whose mode_exit ecall was
 * delegated to S: passes it on to M, as an ebreak because ecalls from S may
 * be delegated too (no test delegates breakpoints while running code). */
        .globl s_forward_exit
s_forward_exit:
        la      t0, s_trap_stack_top
        csrw    sscratch, t0
        li      a7, 0x564d58
        li      a6, 0x45584954
        ebreak
        j       .

/* u64 run_in(int mode, const void *fn, u64 a0, u64 a1, u64 a2) */
        .globl run_in
run_in:
        la      t0, m_ctx
        sd      ra, 0(t0)
        sd      sp, 8(t0)
        sd      gp, 16(t0)
        sd      tp, 24(t0)
        sd      s0, 32(t0)
        sd      s1, 40(t0)
        sd      s2, 48(t0)
        sd      s3, 56(t0)
        sd      s4, 64(t0)
        sd      s5, 72(t0)
        sd      s6, 80(t0)
        sd      s7, 88(t0)
        sd      s8, 96(t0)
        sd      s9, 104(t0)
        sd      s10, 112(t0)
        sd      s11, 120(t0)
        li      t1, (3 << 11)
        csrc    mstatus, t1
        slli    t2, a0, 11
        csrs    mstatus, t2
        csrw    mepc, a1
        ld      t3, lower_sp
        addi    sp, sp, -64
        beqz    t3, 1f
        mv      sp, t3
1:      ld      ra, lower_exit_pc
        mv      a0, a2
        mv      a1, a3
        mv      a2, a4
        mret

/* ---- code that may run in U-mode, also at the alias address ---- */
        .section .utext, "ax"
        .globl mode_exit
mode_exit:
        li      a7, 0x564d58
        li      a6, 0x45584954
        ecall
        j       .

        .globl probe_load
probe_load:
        mv      t0, a0
        li      a0, 0x5afe5afe5afe5afe
        ld      a0, 0(t0)
        ret

        .globl probe_load32
probe_load32:
        mv      t0, a0
        li      a0, 0x5afe5afe5afe5afe
        lwu     a0, 0(t0)
        ret

        .globl probe_store
probe_store:
        sd      a1, 0(a0)
        ret

        .globl probe_fetch
probe_fetch:
        mv      t0, a0
        mv      t1, ra
        li      a0, 0x5afe5afe5afe5afe
        jalr    t0
        mv      ra, t1
        ret

/* ---- data ---- */
        .data
        .balign 8
        .globl park_entry
park_entry:
        .dword  0
        .globl lower_exit_pc
lower_exit_pc:
        .dword  mode_exit
        .globl lower_sp
lower_sp:
        .dword  0
        .globl utext_alias
utext_alias:
        .dword  0

        .bss
        .balign 16
        .globl m_ctx
m_ctx:  .space  128
        .balign 16
        .space  STACK_SIZE
stack_top:
        .space  STACK_SIZE
park_stack_top:
        .space  STACK_SIZE
        .globl m_trap_stack_top
m_trap_stack_top:
        .space  STACK_SIZE
        .globl s_trap_stack_top
s_trap_stack_top:

/* HTIF mailbox, found by QEMU and vmx through these symbols. */
        .section .tohost, "aw", @progbits
        .balign 64
        .globl tohost
tohost: .dword  0
        .size   tohost, 8
        .globl fromhost
fromhost: .dword 0
        .size   fromhost, 8
