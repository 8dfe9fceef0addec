/* icount.c: deterministic time (-icount shift=ICOUNT_SHIFT, sleep=off).
 *
 * The clock: each retired instruction is 2^ICOUNT_SHIFT ns of virtual time
 * and mtime counts 100 ns ticks, so K instructions advance mtime by about
 * (K << shift) / 100 ticks; a wfi with nothing pending but a timer armed
 * moves the clock to that timer's deadline at once.
 *
 * It prints ("note" lines) the time CSR and the CLINT's mtime at fixed
 * points, the loop iterations until an MTIP (mtimecmp) and an STIP (Sstc
 * stimecmp, delegated to S) interrupt, and the time after wfi: under vmx
 * every one of them is a function of the instruction count, so two runs
 * print the same bytes (the ctest compares them). It checks in-program:
 * time never goes backwards, time advances with minstret as the shift
 * predicts, the CLINT's mtime agrees with the time CSR, an interrupt comes
 * at its deadline, and wfi jumps to the deadline.
 *
 * Exactness: vmx reads the time CSR at the exact count of the csrr, takes a
 * timer interrupt before the first instruction at or past its deadline, and
 * ends a wfi with the clock exactly at the deadline; an MMIO read of mtime
 * sees the count at the end of its block (up to BLOCK_MAX instructions
 * later). The ICOUNT_EXACT build (run by vmx) checks those exact values;
 * the other (run by QEMU's virt machine with -icount, whose timers and
 * TB-granular counting differ, and whose minstret counts virtual time)
 * checks the same things with a block's tolerance.
 *
 * Both print through the virt machine's UART (the _virt builds): HTIF's
 * console makes the hart spin until the host has taken each byte, a wait
 * that depends on host timing by nature (a device completion). */
#include "rt.h"

#ifndef ICOUNT_SHIFT
#error "build with -DICOUNT_SHIFT=N, the -icount shift it runs under"
#endif

#ifdef ICOUNT_EXACT
#define EXACT 1 /* vmx */
#else
#define EXACT 0 /* QEMU */
#endif

#define BIT(n) (1ull << (n))
/* The most instructions the clock may be read ahead of the instruction
 * that reads it (vmx: a block's length; QEMU: its TBs). */
#define BLOCK_MAX 512ull
/* Ticks that n instructions take. */
#define TICKS(n) (((u64)(n) << ICOUNT_SHIFT) / 100)
#define SLACK (TICKS(BLOCK_MAX) + 2)

static u64 rdtime(void) { return csr_read(time); }
static u64 rdinstret(void) { return csr_read(minstret); }

static volatile u64 hit_time, hit_cause;
static volatile int hit;

static void irq_record(u64 code, int to)
{
  (void)to;
  hit_time = rdtime();
  hit_cause = code;
  hit = 1;
  if (code == IRQ_MTI)
    *CLINT_MTIMECMP = ~0ull;
  else if (code == IRQ_STI)
    csr_write(CSR_STIMECMP, ~0ull);
}

/* A fixed amount of work: n iterations of a short loop. */
static void __attribute__((noinline)) spin(u64 n)
{
  for (volatile u64 i = 0; i < n; i++) {
  }
}

static void test_points(void)
{
  rt_printf("-- fixed points\n");
  u64 t0 = rdtime(), m0 = mtime();
  note("time at start %lu, mtime %lu", t0, m0);
  spin(1000);
  u64 t1 = rdtime(), m1 = mtime();
  note("time after spin(1000) %lu, mtime %lu", t1, m1);
  spin(100000);
  u64 t2 = rdtime(), m2 = mtime();
  note("time after spin(100000) %lu, mtime %lu", t2, m2);
  check(t0 <= t1 && t1 <= t2 && m0 <= m1 && m1 <= m2, "time and mtime grow over the fixed points");
}

static void test_monotonic(void)
{
  rt_printf("-- monotonic\n");
  u64 last_t = rdtime(), last_m = mtime();
  int ok_t = 1, ok_m = 1;
  for (int i = 0; i < 20000; i++) {
    u64 t = rdtime();
    if (t < last_t)
      ok_t = 0;
    last_t = t;
    if ((i & 15) == 0) {
      u64 m = mtime();
      if (m < last_m)
        ok_m = 0;
      last_m = m;
    }
  }
  check(ok_t, "the time CSR never goes backwards (20000 reads)");
  check(ok_m, "the CLINT's mtime never goes backwards (1250 reads)");
}

static void test_rate(void)
{
  rt_printf("-- rate: 2^%d ns per instruction\n", ICOUNT_SHIFT);
  /* Exactly 2 * n instructions between the two time reads. */
  u64 n = 500000, t0, t1;
  __asm__ volatile("csrr %0, time\n"
                   "1: addi %2, %2, -1\n"
                   "bnez %2, 1b\n"
                   "csrr %1, time"
                   : "=&r"(t0), "=&r"(t1), "+r"(n) :: "memory");
  u64 insns = 2 * 500000, want = TICKS(insns), got = t1 - t0;
  note("%lu instructions took %lu ticks (%lu predicted)", insns, got, want);
  if (EXACT)
    check(got >= want && got <= want + 1, "time CSR: ticks == (instructions << shift) / 100 (+1)");
  else
    check(got + SLACK >= want && got <= want + SLACK, "time CSR: ticks follow the instruction count");
  if (EXACT) {
    /* minstret counts the same instructions (QEMU's -icount makes it count
     * virtual nanoseconds instead, so only vmx checks it). */
    u64 i0 = rdinstret();
    spin(200000);
    u64 i1 = rdinstret();
    note("spin(200000) retired %lu instructions", i1 - i0);
  }

  u64 a = rdtime();
  u64 m = mtime();
  u64 b = rdtime();
  note("time %lu, mtime %lu, time %lu", a, m, b);
  check(a <= m && m <= b + SLACK, "the CLINT's mtime matches the time CSR (within a block)");
}

/* Spins counting iterations until the interrupt, up to `max` of them. */
static u64 count_until_hit(u64 max)
{
  u64 n = 0;
  while (!hit && n < max)
    n++;
  return n;
}

static void test_mtip(void)
{
  rt_printf("-- MTIP from mtimecmp\n");
  const u64 delta = 5000; /* 500 us */
  irq_hook = irq_record;
  hit = 0;
  csr_write(mie, BIT(IRQ_MTI));
  u64 cmp = rdtime() + delta;
  *CLINT_MTIMECMP = cmp;
  csr_set(mstatus, MSTATUS_MIE);
  u64 n = count_until_hit(100000000ull);
  csr_clear(mstatus, MSTATUS_MIE);
  note("MTIP after %lu iterations; time in the handler %lu = mtimecmp + %lu", n, hit_time,
       hit_time - cmp);
  check(hit && hit_cause == IRQ_MTI, "the timer interrupt came");
  check(hit_time >= cmp, "not before mtimecmp");
  check(hit_time - cmp <= SLACK, "within a block of it (%lu ticks late)", hit_time - cmp);
  csr_write(mie, 0);
}

static u64 s_spin_until_hit(u64 delta)
{
  csr_write(CSR_STIMECMP, csr_read(time) + delta);
  csr_set(sstatus, MSTATUS_SIE);
  u64 n = count_until_hit(100000000ull);
  csr_clear(sstatus, MSTATUS_SIE);
  return n;
}

static int sstc_on(void)
{
  csr_set(CSR_MENVCFG, 1ull << 63);
  return (csr_read(CSR_MENVCFG) >> 63) & 1;
}

static void test_stip(void)
{
  rt_printf("-- STIP from Sstc stimecmp, delegated to S\n");
  if (!sstc_on()) {
    skip("no Sstc (menvcfg.STCE is not writable)");
    return;
  }
  csr_write(mcounteren, 1ull << 1);
  csr_write(CSR_STIMECMP, ~0ull);
  csr_write(mideleg, BIT(IRQ_STI));
  csr_write(mie, BIT(IRQ_STI));
  irq_hook = irq_record;
  hit = 0;
  u64 t0 = rdtime();
  u64 n = run_in(PRV_S, s_spin_until_hit, 3000, 0, 0);
  note("STIP after %lu iterations; time in the S handler %lu (%lu after the start)", n, hit_time,
       hit_time - t0);
  check(hit && hit_cause == IRQ_STI, "the supervisor timer interrupt came, in S");
  check(hit_time - t0 >= 3000, "not before stimecmp");
  check(hit_time - t0 <= 3000 + 2 * SLACK, "within a block or two of it");
  csr_write(mie, 0);
  csr_write(mideleg, 0);
}

/* wfi with MIE = 0 and one timer enabled in mie: it returns when the timer
 * is pending, and under -icount sleep=off the clock jumps there. */
static void test_wfi(const char *what, int stip)
{
  const u64 delta = MTIME_HZ / 10; /* 100 ms of virtual time */
  csr_clear(mstatus, MSTATUS_MIE);
  u64 i0 = rdinstret();
  u64 cmp = rdtime() + delta;
  if (stip) {
    csr_write(mie, BIT(IRQ_STI));
    csr_write(CSR_STIMECMP, cmp);
  } else {
    csr_write(mie, BIT(IRQ_MTI));
    *CLINT_MTIMECMP = cmp;
  }
  u64 t;
  /* The time read is the first instruction after wfi. */
  __asm__ volatile("wfi\n\tcsrr %0, time" : "=r"(t) :: "memory");
  u64 i1 = rdinstret();
  u64 pending = csr_read(mip) & (stip ? BIT(IRQ_STI) : BIT(IRQ_MTI));
  if (EXACT)
    note("%s: wfi until %lu: time after %lu (deadline + %lu) in %lu instructions", what, cmp, t,
         t - cmp, i1 - i0);
  else
    note("%s: wfi until %lu: time after %lu (deadline + %lu)", what, cmp, t, t - cmp);
  check(pending, "%s: the timer is pending after wfi", what);
  check(t >= cmp, "%s: time after wfi is not before the deadline", what);
  if (EXACT)
    check_eq("  time after wfi == the deadline exactly", t, cmp);
  else
    check(t - cmp <= SLACK, "%s: time after wfi is the deadline (within a block)", what);
  /* 100 ms at 2^shift ns per instruction would be 10^8 >> shift
   * instructions of spinning: far fewer means the clock jumped. (QEMU's
   * minstret counts virtual time under -icount: vmx only.) */
  if (EXACT)
    check(i1 - i0 < 1000, "%s: wfi skipped the wait (%lu instructions)", what, i1 - i0);
  if (stip)
    csr_write(CSR_STIMECMP, ~0ull);
  else
    *CLINT_MTIMECMP = ~0ull;
  csr_write(mie, 0);
}

int main(void)
{
  test_begin("icount");
  *CLINT_MTIMECMP = ~0ull;
  test_points();
  test_monotonic();
  test_rate();
  test_mtip();
  test_stip();
  rt_printf("-- wfi\n");
  test_wfi("MTIP", 0);
  if (sstc_on())
    test_wfi("STIP", 1);
  else
    skip("wfi for STIP: no Sstc");
  rt_printf("-- end: time %lu\n", rdtime());
  test_end();
}
