/* rt.h: the small runtime of the bare-metal system-mode tests.
 *
 * A program is entered in M-mode at _start (crt.S), which sets up the stacks,
 * the trap vectors and an all-allowing PMP entry, then calls main(). main()
 * reports each check with check()/check_eq()/skip() and ends with
 * test_end(), which prints a summary and the marker line "END <name>" and
 * exits through HTIF with the number of failed checks as the exit code.
 *
 * Every trap (in M or, when delegated, in S) is logged in traps[] and then
 * resumed: a faulting load, store, ecall, ebreak or illegal instruction is
 * skipped; a faulting instruction fetch returns to the caller (pc = ra), so
 * fetch probes must be reached by a call. Interrupts call irq_hook, which must
 * clear the source; without a hook the interrupt is disabled in mie/sie.
 *
 * References are to the RISC-V privileged specification, version 1.12.
 */
#ifndef VMX_BAREMETAL_RT_H
#define VMX_BAREMETAL_RT_H

#include <stdarg.h>
#include <stdint.h>

typedef uint64_t u64;
typedef int64_t i64;
typedef uint32_t u32;

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* mstatus / sstatus fields (priv §3.1.6). */
#define MSTATUS_SIE  (1ull << 1)
#define MSTATUS_MIE  (1ull << 3)
#define MSTATUS_SPIE (1ull << 5)
#define MSTATUS_MPIE (1ull << 7)
#define MSTATUS_SPP  (1ull << 8)
#define MSTATUS_MPP  (3ull << 11)
#define MSTATUS_FS   (3ull << 13)
#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM  (1ull << 18)
#define MSTATUS_MXR  (1ull << 19)
#define MSTATUS_TVM  (1ull << 20)
#define MSTATUS_TW   (1ull << 21)
#define MSTATUS_TSR  (1ull << 22)

/* Interrupt numbers, as bits of mip/mie and as mcause codes (priv §3.1.9). */
#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define CAUSE_INTR (1ull << 63)

/* Exception codes (priv Table 3.6). */
#define EXC_FETCH_MISALIGNED 0
#define EXC_FETCH_ACCESS     1
#define EXC_ILLEGAL          2
#define EXC_BREAKPOINT       3
#define EXC_LOAD_MISALIGNED  4
#define EXC_LOAD_ACCESS      5
#define EXC_STORE_MISALIGNED 6
#define EXC_STORE_ACCESS     7
#define EXC_ECALL_U          8
#define EXC_ECALL_S          9
#define EXC_ECALL_M          11
#define EXC_FETCH_PAGE       12
#define EXC_LOAD_PAGE        13
#define EXC_STORE_PAGE       15

/* The CLINT, at the same address on QEMU's spike and virt and on vmx's virt. */
#define CLINT_BASE     0x2000000ull
#define CLINT_MSIP     ((volatile u32 *)(CLINT_BASE + 0x0))
#define CLINT_MTIMECMP ((volatile u64 *)(CLINT_BASE + 0x4000))
#define CLINT_MTIME    ((volatile u64 *)(CLINT_BASE + 0xbff8))
#define MTIME_HZ       10000000ull

/* A physical address with nothing behind it on any of the machines (RAM
 * starts at 0x80000000 and is far smaller than 62 GiB): accesses to it must
 * raise access faults (priv §3.6.1, vacant regions). */
#define VACANT_PA 0x1000000000ull

#define STR_(x) #x
#define STR(x) STR_(x)
#define csr_read(csr) ({ u64 v_; __asm__ volatile("csrr %0, " STR(csr) : "=r"(v_) :: "memory"); v_; })
#define csr_write(csr, val) __asm__ volatile("csrw " STR(csr) ", %0" :: "r"((u64)(val)) : "memory")
#define csr_set(csr, val) __asm__ volatile("csrs " STR(csr) ", %0" :: "r"((u64)(val)) : "memory")
#define csr_clear(csr, val) __asm__ volatile("csrc " STR(csr) ", %0" :: "r"((u64)(val)) : "memory")
#define csr_swap(csr, val) ({ u64 v_; __asm__ volatile("csrrw %0, " STR(csr) ", %1" : "=r"(v_) : "r"((u64)(val)) : "memory"); v_; })

/* Newer CSRs, by number so that the assembler's CSR list does not matter. */
#define CSR_MENVCFG  0x30a
#define CSR_STIMECMP 0x14d

/* ---- output and exit (rt.c) ---- */
void rt_putchar(int c);
void rt_printf(const char *fmt, ...);
_Noreturn void rt_exit(unsigned code);

/* ---- checks ---- */
void test_begin(const char *name);
/* Counts a passed or failed check and prints "PASS: what" or "FAIL: what". */
int check(int ok, const char *fmt, ...);
/* check() that also prints both values when they differ. */
int check_eq(const char *what, u64 got, u64 want);
void skip(const char *fmt, ...);
void note(const char *fmt, ...);
_Noreturn void test_end(void);
extern unsigned rt_failures;

/* ---- traps ---- */
struct trap_ev {
  u64 cause, tval, epc;
  i64 vec;     /* vector slot taken (-1: direct mode) */
  u64 status;  /* mstatus or sstatus at the trap, as the handler saw it */
  int from;    /* privilege the trap came from (xPP) */
  int to;      /* PRV_M or PRV_S */
};
#define MAX_TRAPS 64
extern volatile struct trap_ev traps[MAX_TRAPS];
extern volatile unsigned ntraps;
/* Called for each interrupt, in the mode that takes it; must clear the source. */
extern void (*volatile irq_hook)(u64 code, int to);

void traps_reset(void);
/* One logged exception of cause `cause` taken in `to` from `from`; with
 * tval_ok != 0 also tval == tval_want. Prints what it checked under `what`. */
int expect_trap(const char *what, u64 cause, int from, int to, u64 tval_want, int tval_ok);
int expect_no_trap(const char *what);
/* Prints the log (for diagnosis of a failed check). */
void traps_print(void);

/* ---- lower privilege (crt.S) ---- */
/* Runs fn(a0, a1, a2) in privilege `mode` (PRV_S or PRV_U) with the current
 * satp and returns its result; the call ends when fn returns to
 * lower_exit_pc (mode_exit by default), which ecalls back to M. Caller-saved
 * registers are clobbered; mstatus.MIE is 0 on return. */
u64 run_in(int mode, const void *fn, u64 a0, u64 a1, u64 a2);
extern u64 lower_exit_pc;  /* the pc fn returns to; mode_exit by default */
extern u64 lower_sp;       /* the stack fn runs on; 0: just below the caller's */
extern u64 utext_alias;    /* where .utext is also mapped (paging tests), or 0 */
extern char utext_start[], utext_end[], image_end[];

/* Probes in .utext (crt.S): position independent, no stack, no globals.
 * probe_load returns the doubleword at addr, or PROBE_POISON if it trapped;
 * probe_fetch calls addr and returns its a0, or PROBE_POISON if the fetch
 * trapped. */
#define PROBE_POISON 0x5afe5afe5afe5afeull
u64 probe_load(u64 addr);
u64 probe_load32(u64 addr);
u64 probe_store(u64 addr, u64 val);
u64 probe_fetch(u64 addr);
void mode_exit(void);

/* The code the fetch probes jump to: "li a0, FETCH_STUB_VALUE; ret". */
#define FETCH_STUB_VALUE 0x123
#define FETCH_STUB_INSN0 0x12300513u /* addi a0, zero, 0x123 */
#define FETCH_STUB_INSN1 0x00008067u /* jalr zero, 0(ra) */
void write_fetch_stub(void *page);

/* ---- CLINT ---- */
static inline u64 mtime(void) { return *CLINT_MTIME; }
/* Spins until cond holds or `ticks` of mtime pass; returns cond. */
#define wait_until(cond, ticks) ({ u64 t0_ = mtime(); int ok_; \
    while (!(ok_ = !!(cond)) && mtime() - t0_ < (ticks)) { } ok_; })

void *rt_memset(void *d, int c, unsigned long n);

#endif
