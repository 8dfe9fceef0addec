/*
 * zicsr.c - the Zicsr instructions on the user-visible CSRs: every access
 * form on fflags, frm and fcsr (old value, new value, field masking), the
 * counters cycle/time/instret (only that they read and do not go backwards:
 * their values differ between runs), and the illegal-instruction exception
 * for CSRs a user program may not touch.
 */
#include "guest_test.h"

#include <setjmp.h>
#include <signal.h>

#define CSR_READ(csr)                                                          \
    ({                                                                         \
        uint64_t v_;                                                           \
        __asm__ volatile("csrr %0, " csr : "=r"(v_));                          \
        v_;                                                                    \
    })

static uint64_t fcsr(void)
{
    return CSR_READ("fcsr");
}

static void show(const char *what, uint64_t old)
{
    printf("%-30s old=%02" PRIx64 " now fcsr=%02" PRIx64 " fflags=%02" PRIx64 " frm=%" PRIx64 "\n",
           what, old, fcsr(), CSR_READ("fflags"), CSR_READ("frm"));
}

/* Register forms, one line each: X(instruction, CSR, rs1 value). */
#define REG_FORMS(X)                                                           \
    X("csrrw", "fcsr", 0xffffffffffffffff)                                     \
    X("csrrw", "fcsr", 0x0)                                                    \
    X("csrrw", "fcsr", 0x1234567b5)                                            \
    X("csrrs", "fcsr", 0x0a)                                                   \
    X("csrrc", "fcsr", 0xe3)                                                   \
    X("csrrw", "fflags", 0xffffffff)                                           \
    X("csrrc", "fflags", 0x15)                                                 \
    X("csrrs", "fflags", 0x40)                                                 \
    X("csrrw", "frm", 0xff)                                                    \
    X("csrrc", "frm", 0x2)                                                     \
    X("csrrs", "frm", 0x8)                                                     \
    X("csrrw", "frm", 0x3)                                                     \
    X("csrrs", "fcsr", 0x0)                                                    \
    X("csrrc", "fcsr", 0x0)

/* Immediate forms: X(instruction, CSR, 5-bit immediate). */
#define IMM_FORMS(X)                                                           \
    X("csrrwi", "fcsr", 31)                                                    \
    X("csrrci", "fcsr", 10)                                                    \
    X("csrrsi", "fflags", 4)                                                   \
    X("csrrwi", "frm", 31)                                                     \
    X("csrrci", "frm", 1)                                                      \
    X("csrrsi", "frm", 0)                                                      \
    X("csrrci", "fflags", 0)                                                   \
    X("csrrwi", "fflags", 0)                                                   \
    X("csrrwi", "frm", 0)

/* The assembler's immediate pseudo-instructions: X(instruction, immediate). */
#define PSEUDO_IMM_FORMS(X)                                                    \
    X("fsflagsi", 9) X("fsrmi", 4) X("fsrmi", 0) X("fsflagsi", 0)

static void test_fp_csrs(void)
{
    uint64_t old;
#define RUN_REG(insn, csr, value)                                              \
    __asm__ volatile(insn " %0, " csr ", %1" : "=r"(old) : "r"((uint64_t)(value))); \
    show(insn " " csr " " #value, old);
    REG_FORMS(RUN_REG)
#define RUN_IMM(insn, csr, imm)                                                \
    __asm__ volatile(insn " %0, " csr ", " #imm : "=r"(old));                  \
    show(insn " " csr " " #imm, old);
    IMM_FORMS(RUN_IMM)
#define RUN_PSEUDO_IMM(insn, imm)                                              \
    __asm__ volatile(insn " %0, " #imm : "=r"(old));                           \
    show(insn " " #imm, old);
    PSEUDO_IMM_FORMS(RUN_PSEUDO_IMM)

    /* rd = x0 forms and the assembler's pseudo-instructions. */
    __asm__ volatile("csrw fcsr, %0" : : "r"((uint64_t)0x4b));
    show("csrw fcsr 0x4b", 0);
    __asm__ volatile("csrs fflags, %0" : : "r"((uint64_t)0x10));
    show("csrs fflags 0x10", 0);
    __asm__ volatile("csrc frm, %0" : : "r"((uint64_t)0x1));
    show("csrc frm 1", 0);
    __asm__ volatile("csrwi fflags, 3");
    show("csrwi fflags 3", 0);
    __asm__ volatile("csrsi frm, 4");
    show("csrsi frm 4", 0);
    __asm__ volatile("csrci fcsr, 1");
    show("csrci fcsr 1", 0);
    __asm__ volatile("fscsr %0, %1" : "=r"(old) : "r"((uint64_t)0x21));
    show("fscsr 0x21", old);
    __asm__ volatile("fsrm %0, %1" : "=r"(old) : "r"((uint64_t)2));
    show("fsrm 2", old);
    __asm__ volatile("fsflags %0, %1" : "=r"(old) : "r"((uint64_t)0x1f));
    show("fsflags 0x1f", old);
    __asm__ volatile("frcsr %0" : "=r"(old));
    show("frcsr", old);
    __asm__ volatile("frrm %0" : "=r"(old));
    show("frrm", old);
    __asm__ volatile("frflags %0" : "=r"(old));
    show("frflags", old);

    /* An FP operation ORs into fflags; it does not replace them. */
    __asm__ volatile("fscsr x0\n fsflags %0" : : "r"((uint64_t)0x2));
    __asm__ volatile("fmv.w.x ft0, %0\n fmv.w.x ft1, x0\n fdiv.s ft0, ft0, ft1"
                     : : "r"((uint64_t)0x3f800000) : "ft0", "ft1");
    show("fflags 0x2, then 1/0", 0);
    __asm__ volatile("fscsr x0");
}

static void test_counters(void)
{
    uint64_t c1 = CSR_READ("cycle"), t1 = CSR_READ("time"), i1 = CSR_READ("instret");
    for (volatile int i = 0; i < 100000; i++)
        ;
    uint64_t c2 = CSR_READ("cycle"), t2 = CSR_READ("time"), i2 = CSR_READ("instret");
    uint64_t rc, rt, ri;
    __asm__ volatile("rdcycle %0\n rdtime %1\n rdinstret %2" : "=r"(rc), "=r"(rt), "=r"(ri));
    GT_FACT("cycle readable and not decreasing", c2 >= c1 && rc >= c2);
    GT_FACT("time readable and not decreasing", t2 >= t1 && rt >= t2);
    GT_FACT("instret readable and not decreasing", i2 >= i1 && ri >= i2);
    GT_FACT("cycle advanced over a loop", c2 > c1);
    GT_FACT("instret advanced over a loop", i2 > i1);
}

static sigjmp_buf sigill_jump;

static void on_sigill(int sig, siginfo_t *info, void *uc)
{
    printf("  SIGILL code %d\n", info->si_code);
    siglongjmp(sigill_jump, 1);
}

#define TRY(text)                                                              \
    do {                                                                       \
        puts(text ":");                                                        \
        if (!sigsetjmp(sigill_jump, 1)) {                                      \
            uint64_t v_ = 0;                                                   \
            __asm__ volatile(text : "+r"(v_));                                 \
            puts("  executed");                                                \
        }                                                                      \
    } while (0)

/* CSRs that do not exist for a user program raise SIGILL (ILL_ILLOPC). */
static void test_illegal_csrs(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO};
    sigaction(SIGILL, &sa, NULL);
    TRY("csrw cycle, %0");
    TRY("csrrs %0, instret, x0");
    TRY("csrrsi %0, cycle, 0");
    TRY("csrr %0, mstatus");
    TRY("csrr %0, sstatus");
    TRY("csrw sscratch, %0");
    TRY("csrr %0, mhartid");
    TRY("csrr %0, satp");
    TRY("csrr %0, 0x7ff");
    TRY("csrr %0, 0xc80");
    TRY("csrr %0, 0xc82");
    TRY("unimp");
}

int main(void)
{
    test_fp_csrs();
    test_counters();
    test_illegal_csrs();
    return 0;
}
