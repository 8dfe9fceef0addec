/* counters.c: the cycle, time and instret counters (priv §3.1.10-§3.1.13,
 * unpriv Zicntr): they count, mcycle/minstret are writable, the time CSR
 * reads the CLINT's mtime, and mcounteren/scounteren gate S and U reads
 * with illegal-instruction traps. */
#include "rt.h"

#define CY (1ull << 0)
#define TM (1ull << 1)
#define IR (1ull << 2)
#define CSR_MCOUNTINHIBIT 0x320

static u64 read_cycle(void) { return csr_read(cycle); }
static u64 read_time(void) { return csr_read(time); }
static u64 read_instret(void) { return csr_read(instret); }

/* 2 * n + 1 instructions. */
static void spin_insns(u64 n)
{
  __asm__ volatile("1:\taddi %0, %0, -1\n\tbnez %0, 1b" : "+r"(n) :: "memory");
}

static int m_read_traps(u64 (*fn)(void))
{
  traps_reset();
  fn();
  return ntraps != 0;
}

static void test_counting(void)
{
  rt_printf("-- counting in M\n");
  u64 c0 = csr_read(mcycle), i0 = csr_read(minstret);
  spin_insns(1000);
  u64 c1 = csr_read(mcycle), i1 = csr_read(minstret);
  check(c1 > c0, "mcycle increases (by %lu)", c1 - c0);
  check(i1 - i0 >= 1000, "minstret increases by at least 1000 over 2001 instructions (by %lu)", i1 - i0);
  u64 u = csr_read(cycle), m = csr_read(mcycle);
  check(m >= u && m - u < 10000000000ull, "cycle (%lu) is mcycle (%lu)", u, m);
  u = csr_read(instret);
  m = csr_read(minstret);
  check(m >= u && m - u < 10000000000ull, "instret (%lu) is minstret (%lu)", u, m);

  csr_write(mcycle, 1000);
  u64 c = csr_read(mcycle);
  check(c >= 1000 && c < 1000 + 10000000000ull, "mcycle is writable: 1000, then reads %lu", c);
  csr_write(minstret, 5000);
  u64 i = csr_read(minstret);
  check(i >= 5000 && i < 5000 + 10000000000ull, "minstret is writable: 5000, then reads %lu", i);

  csr_write(CSR_MCOUNTINHIBIT, CY | IR);
  if ((csr_read(CSR_MCOUNTINHIBIT) & (CY | IR)) != (CY | IR)) {
    skip("mcountinhibit.CY/IR are not writable");
  } else {
    c0 = csr_read(mcycle);
    i0 = csr_read(minstret);
    spin_insns(1000);
    c1 = csr_read(mcycle);
    i1 = csr_read(minstret);
    check(c1 == c0 && i1 == i0, "mcountinhibit.CY/IR stop mcycle and minstret");
  }
  csr_write(CSR_MCOUNTINHIBIT, 0);
}

static int time_exists;

static void test_time(void)
{
  rt_printf("-- the time CSR\n");
  time_exists = !m_read_traps(read_time);
  if (!time_exists) {
    skip("reading the time CSR in M traps (QEMU's spike has no time CSR; M-mode firmware emulates it)");
    return;
  }
  u64 t0 = mtime();
  u64 t = csr_read(time);
  u64 t1 = mtime();
  check(t0 <= t && t <= t1, "mtime %lu <= time %lu <= mtime %lu", t0, t, t1);
  csr_write(mcounteren, TM);
  t0 = mtime();
  traps_reset();
  t = run_in(PRV_S, read_time, 0, 0, 0);
  t1 = mtime();
  expect_no_trap("time read in S with mcounteren.TM=1");
  check(t0 <= t && t <= t1, "  mtime %lu <= time %lu <= mtime %lu", t0, t, t1);
  csr_write(mcounteren, 0);
}

struct counter {
  const char *name, *field;
  u64 bit;
  u64 (*read)(void);
};

static void expect_read(const char *what, int mode, u64 (*fn)(void), int traps_want)
{
  traps_reset();
  run_in(mode, fn, 0, 0, 0);
  if (traps_want) {
    expect_trap(what, EXC_ILLEGAL, mode, PRV_M, 0, 0);
  } else {
    expect_no_trap(what);
  }
}

/* Three settings: this counter's mcounteren bit clear (the others set);
 * mcounteren set but scounteren clear; both set. */
static void test_gating(const struct counter *c)
{
  rt_printf("-- %s: mcounteren and scounteren (priv §3.1.11, §4.1.5)\n", c->name);
  u64 all = CY | TM | IR;
  for (unsigned k = 0; k < 3; k++) {
    u64 men = k == 0 ? all & ~c->bit : all;
    u64 sen = k == 1 ? all & ~c->bit : all;
    csr_write(mcounteren, men);
    csr_write(scounteren, sen);
    int m_on = !!(men & c->bit), s_on = !!(sen & c->bit);
    rt_printf("mcounteren.%s=%d scounteren.%s=%d:\n", c->field, m_on, c->field, s_on);
    expect_read("  read in S", PRV_S, c->read, !m_on);
    expect_read("  read in U", PRV_U, c->read, !m_on || !s_on);
  }
  csr_write(mcounteren, 0);
  csr_write(scounteren, 0);
}

int main(void)
{
  test_begin("counters");
  test_counting();
  test_time();
  static const struct counter counters[] = {
      {"cycle", "CY", CY, read_cycle},
      {"instret", "IR", IR, read_instret},
      {"time", "TM", TM, read_time},
  };
  for (unsigned k = 0; k < 3; k++) {
    if (counters[k].bit == TM && !time_exists) {
      skip("time: mcounteren/scounteren gating (no time CSR)");
      continue;
    }
    test_gating(&counters[k]);
  }
  test_end();
}
