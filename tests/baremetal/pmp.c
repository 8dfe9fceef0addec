/* pmp.c: Physical Memory Protection (priv §3.7): S and U accesses that no
 * entry matches, OFF/TOR/NA4/NAPOT ranges with each permission, priority
 * of the lowest-numbered entry, accesses that straddle a range, WARL
 * readback, mstatus.MPRV, page-table walks into denied memory, and locked
 * entries, which bind M-mode too and ignore later writes (checked last:
 * only a reset clears a lock).
 *
 * Entry 14 (TOR from pmpaddr13) lets S and U run the probes of .utext;
 * entry 15 allows everything else unless a check turns it off; entries
 * 0-2 are the ones under test. Every violation is an access fault (causes
 * 1, 5, 7) taken in M with mtval = the address. */
#include "rt.h"

#define PMP_R     0x01
#define PMP_W     0x02
#define PMP_X     0x04
#define PMP_TOR   0x08
#define PMP_NA4   0x10
#define PMP_NAPOT 0x18
#define PMP_L     0x80
#define PMP_RWX   (PMP_R | PMP_W | PMP_X)

#define PAGE 4096ull
/* Test pages; 4 and 5 form one 8 KiB NAPOT range; 8-10 hold page tables. */
static unsigned char pg[12][PAGE] __attribute__((aligned(65536)));

#define P(i) ((u64)pg[i])
#define NAPOT(base, size) (((base) >> 2) | (((size) >> 3) - 1))

/* ---- the registers ---- */
#define ADDR_CASE(n) case n: csr_write(pmpaddr##n, v); break;
static void addr_write(int i, u64 v)
{
  switch (i) {
  ADDR_CASE(0) ADDR_CASE(1) ADDR_CASE(2) ADDR_CASE(3) ADDR_CASE(4) ADDR_CASE(5)
  ADDR_CASE(6) ADDR_CASE(7) ADDR_CASE(8) ADDR_CASE(9) ADDR_CASE(10) ADDR_CASE(11)
  ADDR_CASE(12) ADDR_CASE(13) ADDR_CASE(14) ADDR_CASE(15)
  }
}

static u64 addr_read(int i)
{
  switch (i) {
  case 0: return csr_read(pmpaddr0);
  case 1: return csr_read(pmpaddr1);
  case 2: return csr_read(pmpaddr2);
  }
  return 0;
}

static unsigned cfg_get(int i)
{
  u64 reg = i < 8 ? csr_read(pmpcfg0) : csr_read(pmpcfg2);
  return (reg >> (8 * (i % 8))) & 0xff;
}

static void cfg_set(int i, unsigned cfg)
{
  u64 reg = i < 8 ? csr_read(pmpcfg0) : csr_read(pmpcfg2);
  u64 mask = 0xffull << (8 * (i % 8));
  reg = (reg & ~mask) | ((u64)cfg << (8 * (i % 8)));
  if (i < 8) {
    csr_write(pmpcfg0, reg);
  } else {
    csr_write(pmpcfg2, reg);
  }
}

static void entry(int i, unsigned cfg, u64 addr)
{
  addr_write(i, addr);
  cfg_set(i, cfg);
}

/* Entries 0-13 off, 14 over .utext (R X), 15 over everything (RWX) when
 * catch_all. */
static void pmp_base(int catch_all)
{
  csr_write(pmpcfg0, 0);
  for (int i = 0; i < 8; i++) {
    addr_write(i, 0);
  }
  addr_write(13, (u64)utext_start >> 2);
  addr_write(14, (u64)utext_end >> 2);
  addr_write(15, ~0ull);
  u64 cfg2 = (u64)(PMP_TOR | PMP_R | PMP_X) << 48;
  if (catch_all) {
    cfg2 |= (u64)(PMP_NAPOT | PMP_RWX) << 56;
  }
  csr_write(pmpcfg2, cfg2);
}

/* ---- accesses ---- */
static u64 pattern(u64 a) { return 0xc0de000000000000ull | a; }

static void fill_page(int i)
{
  volatile u64 *p = (volatile u64 *)P(i);
  for (int k = 0; k < 512; k++) {
    p[k] = pattern(P(i) + 8 * k);
  }
  write_fetch_stub(pg[i]);
}

static u64 lower(int mode, const void *probe, u64 a, u64 b)
{
  traps_reset();
  return run_in(mode, probe, a, b, 0);
}

/* The doubleword at a, read by M as two words: an M-mode doubleword
 * access that only partly matches an entry fails too (§3.7.1). */
static u64 peek64(u64 a)
{
  return *(volatile u32 *)a | (u64)*(volatile u32 *)(a + 4) << 32;
}

/* One access by `mode`; ok says whether it must succeed (a load returning
 * the page's pattern, a store landing, a fetch running the stub) or fail
 * with an access fault at a. */
static void load(const char *what, int mode, u64 a, int ok)
{
  u64 v = lower(mode, probe_load, a, 0);
  if (ok) {
    if (expect_no_trap(what)) {
      check_eq("  the value", v, peek64(a));
    }
  } else {
    expect_trap(what, EXC_LOAD_ACCESS, mode, PRV_M, a, 1);
  }
}

static void load32(const char *what, int mode, u64 a, int ok)
{
  u64 v = lower(mode, probe_load32, a, 0);
  if (ok) {
    if (expect_no_trap(what)) {
      check_eq("  the value", v, *(volatile u32 *)a);
    }
  } else {
    expect_trap(what, EXC_LOAD_ACCESS, mode, PRV_M, a, 1);
  }
}

static void store(const char *what, int mode, u64 a, int ok)
{
  u64 before = peek64(a), val = ~before;
  lower(mode, probe_store, a, val);
  if (ok) {
    if (expect_no_trap(what)) {
      check_eq("  the stored value", peek64(a), val);
    }
  } else {
    expect_trap(what, EXC_STORE_ACCESS, mode, PRV_M, a, 1);
    check_eq("  memory unchanged", peek64(a), before);
  }
}

static void fetch(const char *what, int mode, u64 a, int ok)
{
  u64 v = lower(mode, probe_fetch, a, 0);
  if (ok) {
    if (expect_no_trap(what)) {
      check_eq("  the stub ran", v, FETCH_STUB_VALUE);
    }
  } else {
    expect_trap(what, EXC_FETCH_ACCESS, mode, PRV_M, a, 1);
  }
}

/* ---- the checks ---- */
static void test_no_match(void)
{
  rt_printf("-- no entry matches: S and U fail, M succeeds (§3.7.1)\n");
  pmp_base(0);
  load("S load, no entry", PRV_S, P(0) + 64, 0);
  store("S store, no entry", PRV_S, P(0) + 64, 0);
  fetch("S fetch, no entry", PRV_S, P(0), 0);
  load("U load, no entry", PRV_U, P(0) + 64, 0);
  traps_reset();
  u64 v = *(volatile u64 *)(P(0) + 64);
  expect_no_trap("M load, no entry");
  check_eq("  the value", v, pattern(P(0) + 64));
  pmp_base(1);
  load("S load under the catch-all entry", PRV_S, P(0) + 64, 1);
}

/* "<prefix>rwx" with - for the permissions p lacks, in buf. */
static const char *label(char *buf, const char *prefix, unsigned p)
{
  char *o = buf;
  while (*prefix) {
    *o++ = *prefix++;
  }
  *o++ = p & PMP_R ? 'r' : '-';
  *o++ = p & PMP_W ? 'w' : '-';
  *o++ = p & PMP_X ? 'x' : '-';
  *o = 0;
  return buf;
}

static void test_napot_perms(void)
{
  static const unsigned perms[] = {0, PMP_R, PMP_R | PMP_W, PMP_X, PMP_R | PMP_X, PMP_RWX};
  char buf[48];
  rt_printf("-- NAPOT 4 KiB with each permission\n");
  pmp_base(1);
  for (unsigned k = 0; k < sizeof perms / sizeof perms[0]; k++) {
    unsigned p = perms[k];
    entry(0, PMP_NAPOT | p, NAPOT(P(1), PAGE));
    load(label(buf, "S load, NAPOT ", p), PRV_S, P(1) + 64, p & PMP_R);
    store(label(buf, "S store, NAPOT ", p), PRV_S, P(1) + 64, p & PMP_W);
    fetch(label(buf, "S fetch, NAPOT ", p), PRV_S, P(1), p & PMP_X);
  }
  entry(0, PMP_NAPOT | PMP_R, NAPOT(P(1), PAGE));
  load("U load, NAPOT r--", PRV_U, P(1) + 64, 1);
  store("U store, NAPOT r--", PRV_U, P(1) + 64, 0);
  fetch("U fetch, NAPOT r--", PRV_U, P(1), 0);
  entry(0, PMP_NAPOT | PMP_X, NAPOT(P(1), PAGE));
  fetch("U fetch, NAPOT --x", PRV_U, P(1), 1);
}

static void test_tor(void)
{
  rt_printf("-- TOR ranges, inside one page\n");
  pmp_base(1);
  entry(0, 0, P(2) >> 2);
  entry(1, PMP_TOR | PMP_R, (P(2) + 0x100) >> 2);
  store("S store after the range (catch-all)", PRV_S, P(2) + 0x100, 1);
  store("S store in TOR r-- [page, page+0x100)", PRV_S, P(2) + 0xf8, 0);
  load("S load in TOR r--", PRV_S, P(2) + 0xf8, 1);
  store("S store before the range (catch-all)", PRV_S, P(2) - 8, 1);
  store("S store after the range, again", PRV_S, P(2) + 0x100, 1);
  rt_printf("-- TOR in entry 0 starts at address 0 (and covers .utext: r-x)\n");
  entry(1, 0, 0);
  entry(0, PMP_TOR | PMP_R | PMP_X, P(2) >> 2);
  store("S store below pmpaddr0, TOR r-x", PRV_S, P(1) + 64, 0);
  load("S load below pmpaddr0, TOR r-x", PRV_S, P(1) + 64, 1);
  store("S store at pmpaddr0 (catch-all)", PRV_S, P(2) + 64, 1);
  rt_printf("-- TOR with pmpaddr[i-1] >= pmpaddr[i] matches nothing\n");
  entry(0, 0, P(2) >> 2);
  entry(1, PMP_TOR, P(1) >> 2);
  load("S load, empty TOR (catch-all)", PRV_S, P(1) + 64, 1);
}

static void test_na4_straddle(void)
{
  rt_printf("-- NA4 and NAPOT 8 bytes; accesses that straddle a range fail\n");
  pmp_base(1);
  entry(0, PMP_NA4 | PMP_R, (P(3) + 8) >> 2);
  load32("S lwu in NA4 r--", PRV_S, P(3) + 8, 1);
  load("S ld over NA4 and the next 4 bytes", PRV_S, P(3) + 8, 0);
  store("S sd over NA4 r-- and the next 4 bytes", PRV_S, P(3) + 8, 0);
  traps_reset();
  __asm__ volatile("ld t0, 0(%0)" :: "r"(P(3) + 8) : "t0", "memory");
  expect_trap("M ld over NA4 (not locked) and the next 4 bytes", EXC_LOAD_ACCESS, PRV_M, PRV_M,
              P(3) + 8, 1);
  load("S ld just below NA4 (catch-all)", PRV_S, P(3), 1);
  load("S ld just above NA4 (catch-all)", PRV_S, P(3) + 16, 1);
  entry(0, PMP_NA4, (P(3) + 8) >> 2);
  load32("S lwu in NA4 ---", PRV_S, P(3) + 8, 0);
  load32("S lwu below NA4 ---", PRV_S, P(3) + 4, 1);
  load32("S lwu above NA4 ---", PRV_S, P(3) + 12, 1);
  entry(0, PMP_NAPOT | PMP_R, NAPOT(P(3) + 8, 8));
  load("S ld in NAPOT 8 bytes r--", PRV_S, P(3) + 8, 1);
  store("S sd in NAPOT 8 bytes r--", PRV_S, P(3) + 8, 0);
  store("S sd next to NAPOT 8 bytes (catch-all)", PRV_S, P(3) + 16, 1);
}

static void test_priority(void)
{
  rt_printf("-- the lowest-numbered matching entry decides\n");
  pmp_base(1);
  entry(0, PMP_NAPOT | PMP_R, NAPOT(P(4), PAGE));
  entry(1, PMP_NAPOT | PMP_R | PMP_W, NAPOT(P(4), 2 * PAGE));
  store("S store: entry 0 r-- over entry 1 rw-", PRV_S, P(4) + 64, 0);
  load("S load: entry 0 r--", PRV_S, P(4) + 64, 1);
  store("S store: entry 1 rw- alone", PRV_S, P(5) + 64, 1);
  entry(0, PMP_NAPOT | PMP_R | PMP_W, NAPOT(P(4), 2 * PAGE));
  entry(1, PMP_NAPOT, NAPOT(P(4), PAGE));
  store("S store: entry 0 rw- over entry 1 ---", PRV_S, P(4) + 64, 1);
  entry(0, PMP_NA4, (P(4) + 8) >> 2);
  entry(1, PMP_NAPOT | PMP_R | PMP_W, NAPOT(P(4), 2 * PAGE));
  load32("S lwu: entry 0 NA4 --- inside entry 1 rw-", PRV_S, P(4) + 8, 0);
  load("S ld: entry 1 rw- next to it", PRV_S, P(4) + 16, 1);
}

static void test_warl(void)
{
  rt_printf("-- WARL: reserved R=0 W=1, grain, odd pmpcfg\n");
  pmp_base(1);
  entry(2, PMP_NAPOT | PMP_R, NAPOT(P(6), PAGE));
  cfg_set(2, PMP_NAPOT | PMP_W);
  unsigned got = cfg_get(2);
  /* QEMU 7.2 keeps the reserved value; vmx (as QEMU 8.1) ignores the write.
   * Either way the entry must do what it reads back as. */
  check(got == (PMP_NAPOT | PMP_W) || (got & (PMP_R | PMP_W)) != PMP_W,
        "pmp2cfg written R=0 W=1 reads 0x%x: as written or legal", got);
  note("pmp2cfg reads 0x%x after the write of 0x%x", got, PMP_NAPOT | PMP_W);
  load("S load as pmp2cfg reads", PRV_S, P(6) + 64, got & PMP_R);
  store("S store as pmp2cfg reads", PRV_S, P(6) + 64, got & PMP_W);
  entry(2, 0, 0);
  addr_write(2, ~0ull);
  u64 a = addr_read(2);
  check((a & 0x3fffffffffffffull) == 0x3fffffffffffffull,
        "pmpaddr2 keeps bits 53:0 (grain 4 bytes, G = 0): 0x%lx", a);
  addr_write(2, 0);
  traps_reset();
  __asm__ volatile("csrr t0, 0x3a1" ::: "t0");
  expect_trap("read of pmpcfg1 on RV64", EXC_ILLEGAL, PRV_M, PRV_M, 0, 0);
}

/* A doubleword load or store in M with mstatus.MPRV set and MPP = mpp;
 * PROBE_POISON when it trapped. */
static u64 mprv_access(u64 a, u64 mpp, int write)
{
  u64 v = PROBE_POISON;
  csr_clear(mstatus, MSTATUS_MPP);
  csr_set(mstatus, (mpp << 11) | MSTATUS_MPRV);
  if (write) {
    __asm__ volatile("sd %1, 0(%0)" :: "r"(a), "r"(~0ull) : "memory");
  } else {
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(a) : "memory");
  }
  csr_clear(mstatus, MSTATUS_MPRV);
  return v;
}

static void test_mprv(void)
{
  rt_printf("-- MPRV: M-mode data accesses checked with MPP's privilege\n");
  pmp_base(1);
  entry(0, PMP_NAPOT, NAPOT(P(7), PAGE));
  traps_reset();
  mprv_access(P(7) + 64, PRV_S, 0);
  expect_trap("M load, MPRV MPP=S, NAPOT ---", EXC_LOAD_ACCESS, PRV_M, PRV_M, P(7) + 64, 1);
  traps_reset();
  mprv_access(P(7) + 64, PRV_U, 0);
  expect_trap("M load, MPRV MPP=U, NAPOT ---", EXC_LOAD_ACCESS, PRV_M, PRV_M, P(7) + 64, 1);
  traps_reset();
  u64 v = mprv_access(P(7) + 64, PRV_M, 0);
  if (expect_no_trap("M load, MPRV MPP=M, NAPOT ---")) {
    check_eq("  the value", v, pattern(P(7) + 64));
  }
  entry(0, PMP_NAPOT | PMP_R, NAPOT(P(7), PAGE));
  traps_reset();
  v = mprv_access(P(7) + 64, PRV_S, 0);
  if (expect_no_trap("M load, MPRV MPP=S, NAPOT r--")) {
    check_eq("  the value", v, pattern(P(7) + 64));
  }
  traps_reset();
  mprv_access(P(7) + 64, PRV_S, 1);
  expect_trap("M store, MPRV MPP=S, NAPOT r--", EXC_STORE_ACCESS, PRV_M, PRV_M, P(7) + 64, 1);
  traps_reset();
  u64 w = *(volatile u64 *)(P(7) + 64);
  *(volatile u64 *)(P(7) + 64) = w;
  expect_no_trap("M store without MPRV, NAPOT r--");
}

/* Sv39: the image's gigapage identity-mapped for S, and TEST_VA through
 * tables in pages 8 (root), 9 and 10 to page 11. */
#define TEST_VA 0x40000000ull
#define PTE_V 1ull
#define PTE_LEAF (PTE_V | 0x2 | 0x4 | 0x8 | 0x40 | 0x80) /* RWX, A, D */
#define PTE_TO(pa) (((pa) >> 12) << 10)

static void test_walk(void)
{
  rt_printf("-- page-table reads are checked as S: access faults, not page faults\n");
  u64 *root = (u64 *)P(8), *l1 = (u64 *)P(9), *l0 = (u64 *)P(10);
  rt_memset(root, 0, PAGE);
  rt_memset(l1, 0, PAGE);
  rt_memset(l0, 0, PAGE);
  root[2] = PTE_TO(0x80000000ull) | PTE_LEAF;
  root[1] = PTE_TO(P(9)) | PTE_V;
  l1[0] = PTE_TO(P(10)) | PTE_V;
  l0[0] = PTE_TO(P(11)) | PTE_LEAF;
  fill_page(11);
  pmp_base(1);
  csr_write(satp, (8ull << 60) | (P(8) >> 12));
  __asm__ volatile("sfence.vma" ::: "memory");
  u64 v = lower(PRV_S, probe_load, TEST_VA + 64, 0);
  if (expect_no_trap("S load through the page tables, all allowed")) {
    check_eq("  the value", v, pattern(P(11) + 64));
  }
  entry(0, PMP_NAPOT, NAPOT(P(10), PAGE));
  lower(PRV_S, probe_load, TEST_VA + 64, 0);
  expect_trap("S load, level-0 table denied", EXC_LOAD_ACCESS, PRV_S, PRV_M, TEST_VA + 64, 1);
  lower(PRV_S, probe_store, TEST_VA + 64, 1);
  expect_trap("S store, level-0 table denied", EXC_STORE_ACCESS, PRV_S, PRV_M, TEST_VA + 64, 1);
  lower(PRV_S, probe_fetch, TEST_VA, 0);
  expect_trap("S fetch, level-0 table denied", EXC_FETCH_ACCESS, PRV_S, PRV_M, TEST_VA, 1);
  entry(0, PMP_NAPOT | PMP_R, NAPOT(P(10), PAGE));
  entry(1, PMP_NAPOT, NAPOT(P(11), PAGE));
  lower(PRV_S, probe_load, TEST_VA + 64, 0);
  expect_trap("S load, the page denied (tables allowed)", EXC_LOAD_ACCESS, PRV_S, PRV_M,
              TEST_VA + 64, 1);
  entry(1, PMP_NAPOT | PMP_R | PMP_X, NAPOT(P(11), PAGE));
  v = lower(PRV_S, probe_fetch, TEST_VA, 0);
  if (expect_no_trap("S fetch through read-only tables, the page r-x")) {
    check_eq("  the stub ran", v, FETCH_STUB_VALUE);
  }
  csr_write(satp, 0);
  __asm__ volatile("sfence.vma" ::: "memory");
}

static void m_store(const char *what, u64 a, int ok)
{
  u64 before = *(volatile u64 *)a;
  traps_reset();
  __asm__ volatile("sd %1, 0(%0)" :: "r"(a), "r"(~before) : "memory");
  if (ok) {
    expect_no_trap(what);
  } else {
    expect_trap(what, EXC_STORE_ACCESS, PRV_M, PRV_M, a, 1);
    check_eq("  memory unchanged", *(volatile u64 *)a, before);
  }
}

static void test_lock(void)
{
  rt_printf("-- locked entries bind M and ignore writes (last: only reset unlocks)\n");
  pmp_base(1);
  m_store("M store, NAPOT r-- unlocked", P(6) + 64, 1);
  u64 want = *(volatile u64 *)(P(6) + 64);
  entry(0, PMP_NAPOT | PMP_R | PMP_L, NAPOT(P(6), PAGE));
  m_store("M store, NAPOT r-- locked", P(6) + 64, 0);
  traps_reset();
  u64 v = *(volatile u64 *)(P(6) + 64);
  if (expect_no_trap("M load, NAPOT r-- locked")) {
    check_eq("  the value", v, want);
  }
  store("S store, NAPOT r-- locked", PRV_S, P(6) + 64, 0);
  cfg_set(0, PMP_NAPOT | PMP_RWX);
  check_eq("pmp0cfg after a write while locked", cfg_get(0), PMP_NAPOT | PMP_R | PMP_L);
  addr_write(0, NAPOT(P(7), PAGE));
  check_eq("pmpaddr0 after a write while locked", addr_read(0), NAPOT(P(6), PAGE));
  m_store("M store, still locked", P(6) + 64, 0);

  entry(1, 0, P(7) >> 2);
  entry(2, PMP_TOR | PMP_R | PMP_L, (P(7) + PAGE) >> 2);
  m_store("M store, TOR r-- locked", P(7) + 64, 0);
  addr_write(1, P(5) >> 2);
  check_eq("pmpaddr1 (a locked TOR's base) after a write", addr_read(1), P(7) >> 2);
  cfg_set(1, PMP_NAPOT | PMP_RWX);
  check_eq("pmp1cfg (not locked itself) takes writes", cfg_get(1), PMP_NAPOT | PMP_RWX);
  cfg_set(1, 0);
  m_store("M store next to the locked ranges", P(5) + 64, 1);
}

int main(void)
{
  test_begin("pmp");
  for (int i = 0; i < 12; i++) {
    fill_page(i);
  }
  test_no_match();
  test_napot_perms();
  test_tor();
  test_na4_straddle();
  test_priority();
  test_warl();
  test_mprv();
  test_walk();
  test_lock();
  test_end();
}
