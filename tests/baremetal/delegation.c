/* delegation.c: medeleg/mideleg (priv §3.1.8), the status stack of traps,
 * mret and sret (§3.1.6.1, §3.3.2), the sstatus view of mstatus (§4.1.1),
 * and the virtualization traps TSR, TW and TVM (§3.1.6.5). */
#include "rt.h"

#define AT(insn) ({ u64 pc_; \
  __asm__ volatile("li a7, 0\n\tla %0, 1f\n" insn : "=&r"(pc_) :: "a7", "memory"); pc_; })

static u64 do_ecall(void) { return AT("1:\tecall"); }
static u64 do_illegal(void) { return AT(".option push\n\t.option norvc\n1:\t.4byte 0x0000000b\n\t.option pop"); }
static u64 do_sret(void) { return AT("1:\tsret"); }
static u64 do_mret(void) { return AT("1:\tmret"); }
static u64 do_wfi(void) { return AT("1:\twfi"); }
static u64 do_sfence(void) { return AT("1:\tsfence.vma"); }
static u64 do_read_satp(void) { return AT(".option push\n\t.option norvc\n1:\tcsrr a0, satp\n\t.option pop"); }
static u64 do_write_satp(void) { return AT(".option push\n\t.option norvc\n1:\tcsrw satp, zero\n\t.option pop"); }

/* U code for sret tests: an ecall (logged), then the way back to M. */
void u_ecall_exit(void);
__asm__(".section .utext, \"ax\"\n"
        ".globl u_ecall_exit\n"
        "u_ecall_exit:\n\tli a7, 0\n\tecall\n\tj mode_exit\n"
        ".text\n");

static void irq_clear(u64 code, int to)
{
  if (code == IRQ_SSI) {
    if (to == PRV_M) {
      csr_clear(mip, 1ull << IRQ_SSI);
    } else {
      csr_clear(sip, 1ull << IRQ_SSI);
    }
  } else if (code == IRQ_MTI) {
    *CLINT_MTIMECMP = ~0ull;
  }
}

static void test_deleg_registers(void)
{
  rt_printf("-- medeleg and mideleg\n");
  csr_write(medeleg, ~0ull);
  u64 e = csr_read(medeleg);
  csr_write(mideleg, ~0ull);
  u64 i = csr_read(mideleg);
  rt_printf("medeleg reads 0x%lx, mideleg 0x%lx after writing all ones\n", e, i);
  csr_write(medeleg, 0);
  csr_write(mideleg, 0);
  /* Not a check: QEMU 7.2 lets medeleg[11] be set, which the spec says is
   * read-only 0; it has no effect, as traps from M are never delegated. */
  if (e & (1ull << EXC_ECALL_M)) {
    note("medeleg[11] (ecall from M) is writable; the spec says read-only 0");
  }
  u64 need = (1ull << EXC_FETCH_MISALIGNED) | (1ull << EXC_ILLEGAL) | (1ull << EXC_BREAKPOINT) |
             (1ull << EXC_ECALL_U) | (1ull << EXC_ECALL_S) | (1ull << EXC_FETCH_PAGE) |
             (1ull << EXC_LOAD_PAGE) | (1ull << EXC_STORE_PAGE);
  check((e & need) == need, "medeleg can delegate causes 0, 2, 3, 8, 9, 12, 13, 15");
  u64 s_irqs = (1ull << IRQ_SSI) | (1ull << IRQ_STI) | (1ull << IRQ_SEI);
  check((i & s_irqs) == s_irqs, "mideleg can delegate SSI, STI, SEI");
}

/* One exception of `cause` from `from`, checked in the S handler's CSRs. */
static void expect_s_trap(const char *what, u64 cause, int from, u64 pc)
{
  if (expect_trap(what, cause, from, PRV_S, 0, cause != EXC_ILLEGAL)) {
    check_eq("  sepc", traps[0].epc, pc);
    check_eq("  sstatus.SPP = the mode trapped from", (traps[0].status >> 8) & 1, (u64)from);
  }
}

static u64 s_illegal_sie(u64 sie_on)
{
  if (sie_on) {
    csr_set(sstatus, MSTATUS_SIE);
  }
  do_illegal();
  u64 st = csr_read(sstatus);
  csr_clear(sstatus, MSTATUS_SIE);
  return st;
}

static void test_exception_delegation(void)
{
  rt_printf("-- exceptions delegated to S\n");
  csr_write(medeleg, (1ull << EXC_ECALL_U) | (1ull << EXC_ILLEGAL));
  traps_reset();
  u64 pc = run_in(PRV_U, do_ecall, 0, 0, 0);
  expect_s_trap("ecall from U, medeleg[8]=1", EXC_ECALL_U, PRV_U, pc);
  traps_reset();
  pc = run_in(PRV_S, do_ecall, 0, 0, 0);
  if (expect_trap("ecall from S, medeleg[9]=0", EXC_ECALL_S, PRV_S, PRV_M, 0, 1)) {
    check_eq("  mepc", traps[0].epc, pc);
    check_eq("  mstatus.MPP", (traps[0].status >> 11) & 3, PRV_S);
  }
  traps_reset();
  pc = run_in(PRV_U, do_illegal, 0, 0, 0);
  expect_s_trap("illegal instruction in U, medeleg[2]=1", EXC_ILLEGAL, PRV_U, pc);
  traps_reset();
  u64 st = run_in(PRV_S, s_illegal_sie, 1, 0, 0);
  if (expect_trap("illegal instruction in S with SIE=1, medeleg[2]=1", EXC_ILLEGAL, PRV_S, PRV_S, 0, 0)) {
    u64 at = traps[0].status;
    check((at & (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP)) == (MSTATUS_SPIE | MSTATUS_SPP),
          "  at the trap SIE=0, SPIE=1 (the old SIE), SPP=S (sstatus 0x%lx)", at);
  }
  check(st & MSTATUS_SIE, "  sret restored SIE=1 from SPIE (sstatus 0x%lx)", st);
  traps_reset();
  do_illegal();
  expect_trap("illegal instruction in M is never delegated", EXC_ILLEGAL, PRV_M, PRV_M, 0, 0);

  csr_write(medeleg, (1ull << EXC_ECALL_S));
  traps_reset();
  pc = run_in(PRV_S, do_ecall, 0, 0, 0);
  expect_s_trap("ecall from S, medeleg[9]=1", EXC_ECALL_S, PRV_S, pc);
  traps_reset();
  run_in(PRV_U, do_ecall, 0, 0, 0);
  expect_trap("ecall from U, medeleg[8]=0", EXC_ECALL_U, PRV_U, PRV_M, 0, 1);
  csr_write(medeleg, 0);
}

static u64 mret_to_self(void)
{
  u64 st;
  __asm__ volatile("la t0, 1f\n\tcsrw mepc, t0\n\tmret\n1:\tcsrr %0, mstatus" : "=r"(st) :: "t0", "memory");
  return st;
}

static u64 s_sret_to_self(void)
{
  u64 st;
  csr_set(sstatus, MSTATUS_SPP | MSTATUS_SPIE);
  csr_clear(sstatus, MSTATUS_SIE);
  __asm__ volatile("la t0, 1f\n\tcsrw sepc, t0\n\tsret\n1:\tcsrr %0, sstatus" : "=r"(st) :: "t0", "memory");
  csr_clear(sstatus, MSTATUS_SIE);
  return st;
}

static u64 s_sret_to_u(u64 target)
{
  csr_clear(sstatus, MSTATUS_SPP | MSTATUS_SIE);
  csr_set(sstatus, MSTATUS_SPIE);
  csr_write(sepc, target);
  __asm__ volatile("sret" ::: "memory");
  return 0;
}

static void test_xret(void)
{
  rt_printf("-- mret and sret (priv §3.3.2)\n");
  csr_clear(mstatus, MSTATUS_MIE | MSTATUS_MPP);
  csr_set(mstatus, MSTATUS_MPP | MSTATUS_MPIE);
  u64 st = mret_to_self();
  csr_clear(mstatus, MSTATUS_MIE);
  check((st & MSTATUS_MPP) == 0, "mret: MPP becomes U, the least-privileged mode (mstatus 0x%lx)", st);
  check(st & MSTATUS_MIE, "mret: MIE = the old MPIE (1)");
  check(st & MSTATUS_MPIE, "mret: MPIE becomes 1");

  csr_set(mstatus, MSTATUS_MPRV | MSTATUS_MPIE);
  traps_reset();
  run_in(PRV_S, do_ecall, 0, 0, 0);
  csr_clear(mstatus, MSTATUS_MPRV);
  if (expect_trap("ecall after mret to S with MPRV=1 MPIE=1", EXC_ECALL_S, PRV_S, PRV_M, 0, 1)) {
    /* Not a check: priv 1.12 clears MPRV on an xRET below M, QEMU 7.2
     * (which implements 1.11 here) keeps it. */
    note("mret to S %s MPRV (priv 1.12 clears it)",
         traps[0].status & MSTATUS_MPRV ? "kept" : "cleared");
    check(traps[0].status & MSTATUS_MPIE, "  S ran with MIE = the old MPIE (1)");
  }
  csr_clear(mstatus, MSTATUS_MPIE);
  traps_reset();
  run_in(PRV_S, do_ecall, 0, 0, 0);
  if (expect_trap("ecall after mret to S with MPIE=0", EXC_ECALL_S, PRV_S, PRV_M, 0, 1)) {
    check(!(traps[0].status & MSTATUS_MPIE), "  S ran with MIE = the old MPIE (0)");
  }

  traps_reset();
  st = run_in(PRV_S, s_sret_to_self, 0, 0, 0);
  expect_no_trap("sret from S to S");
  check(!(st & MSTATUS_SPP), "sret: SPP becomes U (sstatus 0x%lx)", st);
  check(st & MSTATUS_SIE, "sret: SIE = the old SPIE (1)");
  check(st & MSTATUS_SPIE, "sret: SPIE becomes 1");

  traps_reset();
  run_in(PRV_S, s_sret_to_u, (u64)u_ecall_exit, 0, 0);
  if (expect_trap("ecall after sret from S to U", EXC_ECALL_U, PRV_U, PRV_M, 0, 1)) {
    check(!(traps[0].status & MSTATUS_SPP), "  SPP is U");
  }

  traps_reset();
  run_in(PRV_U, do_sret, 0, 0, 0);
  expect_trap("sret in U", EXC_ILLEGAL, PRV_U, PRV_M, 0, 0);
  traps_reset();
  run_in(PRV_U, do_mret, 0, 0, 0);
  expect_trap("mret in U", EXC_ILLEGAL, PRV_U, PRV_M, 0, 0);
  traps_reset();
  run_in(PRV_S, do_mret, 0, 0, 0);
  expect_trap("mret in S", EXC_ILLEGAL, PRV_S, PRV_M, 0, 0);
}

static void test_sstatus_view(void)
{
  rt_printf("-- sstatus is a view of mstatus (priv §4.1.1)\n");
  u64 saved = csr_read(mstatus);
  u64 m_only = MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR;
  csr_set(mstatus, m_only);
  u64 s = csr_read(sstatus);
  check(!(s & (m_only | MSTATUS_MIE)), "M-only fields read 0 in sstatus (sstatus 0x%lx)", s);
  csr_clear(mstatus, m_only);
  u64 shared = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR;
  csr_set(sstatus, shared);
  u64 m = csr_read(mstatus);
  check((m & shared) == shared, "sstatus writes reach mstatus (mstatus 0x%lx)", m);
  csr_clear(sstatus, shared);
  check(!(csr_read(mstatus) & shared), "and clear it again");
  csr_write(mstatus, saved);

  csr_clear(mstatus, MSTATUS_MPP);
  csr_set(mstatus, 2ull << 11);
  u64 mpp = (csr_read(mstatus) >> 11) & 3;
  note("mstatus.MPP reads %lu after writing the reserved value 2", mpp);
  csr_clear(mstatus, MSTATUS_MPP);
}

static void test_tsr_tvm(void)
{
  rt_printf("-- TSR and TVM\n");
  csr_set(mstatus, MSTATUS_TSR);
  traps_reset();
  run_in(PRV_S, s_sret_to_self, 0, 0, 0);
  expect_trap("sret in S with TSR=1", EXC_ILLEGAL, PRV_S, PRV_M, 0, 0);
  csr_clear(mstatus, MSTATUS_TSR);

  csr_set(mstatus, MSTATUS_TVM);
  traps_reset();
  run_in(PRV_S, do_read_satp, 0, 0, 0);
  expect_trap("satp read in S with TVM=1", EXC_ILLEGAL, PRV_S, PRV_M, 0, 0);
  traps_reset();
  run_in(PRV_S, do_write_satp, 0, 0, 0);
  expect_trap("satp write in S with TVM=1", EXC_ILLEGAL, PRV_S, PRV_M, 0, 0);
  traps_reset();
  run_in(PRV_S, do_sfence, 0, 0, 0);
  expect_trap("sfence.vma in S with TVM=1", EXC_ILLEGAL, PRV_S, PRV_M, 0, 0);
  traps_reset();
  (void)csr_read(satp);
  expect_no_trap("satp read in M with TVM=1");
  csr_clear(mstatus, MSTATUS_TVM);
  traps_reset();
  run_in(PRV_S, do_read_satp, 0, 0, 0);
  run_in(PRV_S, do_write_satp, 0, 0, 0);
  run_in(PRV_S, do_sfence, 0, 0, 0);
  expect_no_trap("satp read, satp write and sfence.vma in S with TVM=0");
  traps_reset();
  run_in(PRV_U, do_sfence, 0, 0, 0);
  expect_trap("sfence.vma in U", EXC_ILLEGAL, PRV_U, PRV_M, 0, 0);
}

/* A timer far enough away (1 s) that it only ends a WFI that would never
 * end, even on a loaded host. */
static void arm_safety_timer(void)
{
  *CLINT_MTIMECMP = mtime() + MTIME_HZ;
  csr_write(mie, 1ull << IRQ_MTI);
}

static void disarm_timer(void)
{
  csr_write(mie, 0);
  *CLINT_MTIMECMP = ~0ull;
}

static int count_cause(u64 cause)
{
  int n = 0;
  for (unsigned k = 0; k < ntraps; k++) {
    n += traps[k].cause == cause;
  }
  return n;
}

static void test_tw(void)
{
  rt_printf("-- WFI and TW (priv §3.1.6.5, §3.3.3)\n");
  irq_hook = irq_clear;

  /* With TW=1, a WFI below M that nothing could end must trap at once;
   * the timer is only there so that a wrong implementation cannot hang. */
  csr_set(mstatus, MSTATUS_TW);
  arm_safety_timer();
  traps_reset();
  u64 pc = run_in(PRV_S, do_wfi, 0, 0, 0);
  disarm_timer();
  if (expect_trap("wfi in S with TW=1", EXC_ILLEGAL, PRV_S, PRV_M, 0, 0)) {
    check_eq("  mepc = the wfi", traps[0].epc, pc);
  }
  arm_safety_timer();
  traps_reset();
  run_in(PRV_U, do_wfi, 0, 0, 0);
  disarm_timer();
  expect_trap("wfi in U with TW=1", EXC_ILLEGAL, PRV_U, PRV_M, 0, 0);

  /* In M, TW does not apply: a pending (globally disabled) MTI ends it. */
  *CLINT_MTIMECMP = 0;
  csr_write(mie, 1ull << IRQ_MTI);
  traps_reset();
  do_wfi();
  expect_no_trap("wfi in M with TW=1 and an MTI pending, MIE=0");
  disarm_timer();
  csr_clear(mstatus, MSTATUS_TW);

  /* TW=0, S: a delegated SSI that S has disabled (SIE=0) is pending and
   * enabled in sie, so WFI returns without a trap. */
  csr_write(mideleg, 1ull << IRQ_SSI);
  csr_write(mie, 1ull << IRQ_SSI);
  csr_set(mip, 1ull << IRQ_SSI);
  csr_clear(mstatus, MSTATUS_SIE);
  traps_reset();
  run_in(PRV_S, do_wfi, 0, 0, 0);
  expect_no_trap("wfi in S with TW=0 and a disabled SSI pending");
  csr_clear(mip, 1ull << IRQ_SSI);
  csr_write(mie, 0);
  csr_write(mideleg, 0);

  /* TW=0, U: either WFI traps (QEMU does, since S-mode exists: priv §3.3.3
   * allows it), or it waits until the timer interrupt. */
  arm_safety_timer();
  traps_reset();
  run_in(PRV_U, do_wfi, 0, 0, 0);
  wait_until(ntraps > 0, 2 * MTIME_HZ);
  disarm_timer();
  int ill = count_cause(EXC_ILLEGAL), tmr = count_cause(CAUSE_INTR | IRQ_MTI);
  check(ill + tmr >= 1 && ntraps == (unsigned)(ill + tmr),
        "wfi in U with TW=0: ended by %s", ill ? "an illegal-instruction trap" : "the timer interrupt");
  irq_hook = 0;
}

static u64 s_spin(u64 sie_on)
{
  if (sie_on) {
    csr_set(sstatus, MSTATUS_SIE);
  }
  for (int i = 0; i < 200000 && ntraps == 0; i++) {
  }
  csr_clear(sstatus, MSTATUS_SIE);
  return 0;
}

static u64 u_spin(void)
{
  for (int i = 0; i < 200000 && ntraps == 0; i++) {
  }
  return 0;
}

static void spin_m(void)
{
  for (int i = 0; i < 200000 && ntraps == 0; i++) {
  }
}

static void test_interrupt_delegation(void)
{
  rt_printf("-- a delegated interrupt (SSI) is taken in S only (priv §3.1.9)\n");
  irq_hook = irq_clear;
  csr_write(mideleg, 1ull << IRQ_SSI);
  csr_write(mie, 1ull << IRQ_SSI);
  csr_set(mip, 1ull << IRQ_SSI);
  check(csr_read(sip) & (1ull << IRQ_SSI), "sip.SSIP shows the pending SSI");
  traps_reset();
  csr_set(mstatus, MSTATUS_MIE);
  spin_m();
  csr_clear(mstatus, MSTATUS_MIE);
  expect_no_trap("M with MIE=1 does not take a delegated SSI");
  run_in(PRV_S, s_spin, 0, 0, 0);
  expect_no_trap("S with SIE=0 does not take it");
  run_in(PRV_S, s_spin, 1, 0, 0);
  expect_trap("S with SIE=1 takes it in S", CAUSE_INTR | IRQ_SSI, PRV_S, PRV_S, 0, 0);
  csr_set(mip, 1ull << IRQ_SSI);
  traps_reset();
  run_in(PRV_U, u_spin, 0, 0, 0);
  expect_trap("U takes it in S whatever SIE is", CAUSE_INTR | IRQ_SSI, PRV_U, PRV_S, 0, 0);
  csr_write(mideleg, 0);
  csr_set(mip, 1ull << IRQ_SSI);
  traps_reset();
  run_in(PRV_S, s_spin, 0, 0, 0);
  expect_trap("not delegated, S takes it in M whatever SIE is", CAUSE_INTR | IRQ_SSI, PRV_S, PRV_M, 0, 0);
  csr_clear(mip, 1ull << IRQ_SSI);
  csr_write(mie, 0);
  irq_hook = 0;
}

int main(void)
{
  test_begin("delegation");
  test_deleg_registers();
  test_exception_delegation();
  test_xret();
  test_sstatus_view();
  test_tsr_tvm();
  test_tw();
  test_interrupt_delegation();
  test_end();
}
