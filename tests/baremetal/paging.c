/* paging.c: Sv39, Sv48 or Sv57 translation (priv §4.3-4.5), chosen at build
 * time with -DSATP_MODE=8, 9 or 10.
 *
 * All code, data, the HTIF mailbox and the page tables are identity-mapped
 * by one S-only gigapage at 0x80000000; the probes of .utext are also mapped
 * user-accessible at UTEXT_ALIAS. The checks map test pages elsewhere and
 * touch them with the probes from S and U, expecting page faults (causes
 * 12/13/15) with xtval = the virtual address, first taken in M, then
 * delegated to S. */
#include "rt.h"

#ifndef SATP_MODE
#define SATP_MODE 8
#endif
#define LEVELS (SATP_MODE - 5)     /* Sv39: 3, Sv48: 4, Sv57: 5 */
#define VA_BITS (12 + 9 * LEVELS)

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_AD (PTE_A | PTE_D)

#define PAGE 4096ull
#define LEVEL_SIZE(l) (PAGE << (9 * (l)))

/* Virtual layout (all canonical in Sv39, the smallest). */
#define TVA          0x100000000ull  /* 4 KiB test pages, one slot each */
#define UTEXT_ALIAS  0x100200000ull
#define MEGA_VA      0x180000000ull
#define MEGA_BAD_VA  0x180200000ull
#define GIGA_VA      0x200000000ull
#define GIGA_BAD_VA  0x240000000ull
#define TERA_VA      0x8000000000ull     /* Sv48+: level-3 leaf */
#define TERA_BAD_VA  0x10000000000ull
#define PETA_VA      0x1000000000000ull  /* Sv57: level-4 leaf */
#define PETA_BAD_VA  0x2000000000000ull
#define HIGH_VA      (~0ull << (VA_BITS - 1)) /* first address of the upper half */
#define NONCANON_VA  (1ull << (VA_BITS - 1))

#define MEGA_PA      0x80400000ull  /* 2 MiB aligned, past the image */

static u64 pt_pool[48][512] __attribute__((aligned(4096)));
static unsigned pt_used;
static u64 *root;
static unsigned char tpage[20][4096] __attribute__((aligned(4096)));
static volatile u64 marker = 0x6d61726b65722121ull;
static int deleg;  /* page faults delegated to S */

static u64 *pt_alloc(void)
{
  if (pt_used == sizeof pt_pool / sizeof pt_pool[0]) {
    check(0, "page-table pool exhausted");
    test_end();
  }
  return pt_pool[pt_used++];
}

static unsigned vpn(u64 va, int level)
{
  return (va >> (12 + 9 * level)) & 0x1ff;
}

/* The PTE that maps va at `level`, creating the tables above it. */
static volatile u64 *pte_at(u64 va, int level)
{
  u64 *table = root;
  for (int l = LEVELS - 1; l > level; l--) {
    u64 *e = &table[vpn(va, l)];
    if (!(*e & PTE_V)) {
      *e = (((u64)pt_alloc() >> 12) << 10) | PTE_V;
    }
    table = (u64 *)((*e >> 10) << 12);
  }
  return &table[vpn(va, level)];
}

static void map(u64 va, u64 pa, int level, u64 flags)
{
  *pte_at(va, level) = ((pa >> 12) << 10) | flags;
  __asm__ volatile("sfence.vma" ::: "memory");
}

static u64 slot_va(int i) { return TVA + (u64)i * PAGE; }
static u64 slot_pa(int i) { return (u64)tpage[i]; }
static u64 pattern(int i) { return 0x5a5a000000000000ull | ((u64)i << 32) | 0x1234; }

/* Maps test slot i (its own page, filled with pattern(i)) with flags. */
static u64 map_slot(int i, u64 flags)
{
  volatile u64 *p = (volatile u64 *)slot_pa(i);
  for (int k = 0; k < 512; k++) {
    p[k] = pattern(i);
  }
  map(slot_va(i), slot_pa(i), 0, flags);
  return slot_va(i);
}

static u64 user_pc(const void *fn) { return UTEXT_ALIAS + ((u64)fn - (u64)utext_start); }

static u64 in_s(const void *probe, u64 a0, u64 a1)
{
  return run_in(PRV_S, probe, a0, a1, 0);
}

static u64 in_u(const void *probe, u64 a0, u64 a1)
{
  lower_exit_pc = user_pc(mode_exit);
  u64 r = run_in(PRV_U, (const void *)user_pc(probe), a0, a1, 0);
  lower_exit_pc = (u64)mode_exit;
  return r;
}

/* One page fault of `cause` from `from`, to S when delegated, tval = va. */
static void page_fault(const char *what, u64 cause, int from, u64 va)
{
  expect_trap(what, cause, from, deleg ? PRV_S : PRV_M, va, 1);
}

static void set_deleg(int on)
{
  u64 bits = (1ull << EXC_FETCH_PAGE) | (1ull << EXC_LOAD_PAGE) | (1ull << EXC_STORE_PAGE);
  deleg = on;
  if (on) {
    csr_set(medeleg, bits);
  } else {
    csr_clear(medeleg, bits);
  }
  note("page faults %s", on ? "delegated to S (medeleg bits 12, 13, 15)" : "taken in M");
}

static void load_ok(const char *what, int mode, u64 va, u64 want)
{
  traps_reset();
  u64 got = mode == PRV_U ? in_u(probe_load, va, 0) : in_s(probe_load, va, 0);
  check_eq(what, got, want);
  expect_no_trap(what);
}

static void load_faults(const char *what, int mode, u64 va)
{
  traps_reset();
  u64 got = mode == PRV_U ? in_u(probe_load, va, 0) : in_s(probe_load, va, 0);
  page_fault(what, EXC_LOAD_PAGE, mode, va);
  check_eq("  the load wrote no register", got, PROBE_POISON);
}

static void store_ok(const char *what, int mode, u64 va, u64 pa)
{
  u64 val = 0xc0ffee0000000000ull | va;
  traps_reset();
  if (mode == PRV_U) {
    in_u(probe_store, va, val);
  } else {
    in_s(probe_store, va, val);
  }
  expect_no_trap(what);
  check_eq("  the stored value in memory", *(volatile u64 *)pa, val);
}

static void store_faults(const char *what, int mode, u64 va, u64 pa)
{
  u64 before = *(volatile u64 *)pa;
  traps_reset();
  if (mode == PRV_U) {
    in_u(probe_store, va, 0xbadbadbadull);
  } else {
    in_s(probe_store, va, 0xbadbadbadull);
  }
  page_fault(what, EXC_STORE_PAGE, mode, va);
  check_eq("  memory unchanged", *(volatile u64 *)pa, before);
}

static void fetch_ok(const char *what, int mode, u64 va)
{
  traps_reset();
  u64 got = mode == PRV_U ? in_u(probe_fetch, va, 0) : in_s(probe_fetch, va, 0);
  check_eq(what, got, FETCH_STUB_VALUE);
  expect_no_trap(what);
}

static void fetch_faults(const char *what, int mode, u64 va)
{
  traps_reset();
  u64 got = mode == PRV_U ? in_u(probe_fetch, va, 0) : in_s(probe_fetch, va, 0);
  page_fault(what, EXC_FETCH_PAGE, mode, va);
  check_eq("  nothing ran", got, PROBE_POISON);
}

static void with_status(u64 bits, int on)
{
  if (on) {
    csr_set(mstatus, bits);
  } else {
    csr_clear(mstatus, bits);
  }
}

static int probe_satp(void)
{
  u64 want = ((u64)SATP_MODE << 60) | ((u64)root >> 12);
  csr_write(satp, want);
  u64 got = csr_read(satp);
  csr_write(satp, 0);
  rt_printf("satp written 0x%lx, read 0x%lx\n", want, got);
  if (got >> 60 != SATP_MODE) {
    skip("satp.MODE %d (Sv%d) is not supported: the write was ignored", SATP_MODE, VA_BITS);
    return 0;
  }
  check_eq("satp reads back as written (ASID 0)", got, want);
  return 1;
}

static void test_translation(void)
{
  rt_printf("-- 4 KiB pages\n");
  u64 va = map_slot(0, PTE_V | PTE_R | PTE_W | PTE_AD);
  load_ok("S load from a 4 KiB RW page", PRV_S, va + 8, pattern(0));
  store_ok("S store to a 4 KiB RW page", PRV_S, va + 16, slot_pa(0) + 16);
  map(HIGH_VA, slot_pa(1), 0, PTE_V | PTE_R | PTE_W | PTE_AD);
  map_slot(1, PTE_V | PTE_R | PTE_W | PTE_AD);
  load_ok("S load through the first upper-half address", PRV_S, HIGH_VA + 24, pattern(1));
  va = map_slot(2, PTE_V | PTE_R | PTE_W | PTE_U | PTE_AD);
  load_ok("U load from a U page", PRV_U, va, pattern(2));
  store_ok("U store to a U page", PRV_U, va + 8, slot_pa(2) + 8);

  rt_printf("-- superpages\n");
  volatile u64 *mega = (volatile u64 *)MEGA_PA;
  mega[0] = 0x1111222233334444ull;
  mega[(LEVEL_SIZE(1) - 8) / 8] = 0x5555666677778888ull;
  map(MEGA_VA, MEGA_PA, 1, PTE_V | PTE_R | PTE_W | PTE_AD);
  load_ok("S load, start of a 2 MiB page", PRV_S, MEGA_VA, 0x1111222233334444ull);
  load_ok("S load, end of a 2 MiB page", PRV_S, MEGA_VA + LEVEL_SIZE(1) - 8, 0x5555666677778888ull);
  u64 off = (u64)&marker - 0x80000000ull;
  map(GIGA_VA, 0x80000000ull, 2, PTE_V | PTE_R | PTE_AD);
  load_ok("S load through a 1 GiB page", PRV_S, GIGA_VA + off, marker);
  if (LEVELS >= 4) {
    map(TERA_VA, 0, 3, PTE_V | PTE_R | PTE_AD);
    load_ok("S load through a 512 GiB page", PRV_S, TERA_VA + (u64)&marker, marker);
  }
  if (LEVELS >= 5) {
    map(PETA_VA, 0, 4, PTE_V | PTE_R | PTE_AD);
    load_ok("S load through a 256 TiB page", PRV_S, PETA_VA + (u64)&marker, marker);
  }

  rt_printf("-- misaligned superpages (priv §4.3.2 step 6)\n");
  map(MEGA_BAD_VA, MEGA_PA + PAGE, 1, PTE_V | PTE_R | PTE_AD);
  load_faults("2 MiB page with PPN[0] != 0", PRV_S, MEGA_BAD_VA + 8);
  map(GIGA_BAD_VA, 0x80200000ull, 2, PTE_V | PTE_R | PTE_AD);
  load_faults("1 GiB page with PPN[1] != 0", PRV_S, GIGA_BAD_VA + 8);
  if (LEVELS >= 4) {
    map(TERA_BAD_VA, 0x40000000ull, 3, PTE_V | PTE_R | PTE_AD);
    load_faults("512 GiB page with PPN[2] != 0", PRV_S, TERA_BAD_VA + 8);
  }
  if (LEVELS >= 5) {
    map(PETA_BAD_VA, 0x8000000000ull, 4, PTE_V | PTE_R | PTE_AD);
    load_faults("256 TiB page with PPN[3] != 0", PRV_S, PETA_BAD_VA + 8);
  }
}

static void test_permissions(void)
{
  rt_printf("-- read-only, execute-only, reserved and invalid PTEs\n");
  u64 ro = map_slot(3, PTE_V | PTE_R | PTE_AD);
  load_ok("S load from a read-only page", PRV_S, ro, pattern(3));
  store_faults("S store to a read-only page", PRV_S, ro + 8, slot_pa(3) + 8);
  fetch_faults("S fetch from a page without X", PRV_S, ro);

  u64 xo = map_slot(4, PTE_V | PTE_X | PTE_AD);
  write_fetch_stub(tpage[4]);
  u64 stub = ((u64)FETCH_STUB_INSN1 << 32) | FETCH_STUB_INSN0;
  fetch_ok("S fetch from an execute-only page", PRV_S, xo);
  load_faults("S load from an execute-only page, MXR=0", PRV_S, xo);
  with_status(MSTATUS_MXR, 1);
  load_ok("S load from an execute-only page, MXR=1", PRV_S, xo, stub);
  with_status(MSTATUS_MXR, 0);
  store_faults("S store to an execute-only page", PRV_S, xo + 8, slot_pa(4) + 8);

  u64 wo = map_slot(5, PTE_V | PTE_W | PTE_AD);
  load_faults("S load, reserved PTE W=1 R=0", PRV_S, wo);
  store_faults("S store, reserved PTE W=1 R=0", PRV_S, wo + 8, slot_pa(5) + 8);
  u64 wx = map_slot(6, PTE_V | PTE_W | PTE_X | PTE_AD);
  write_fetch_stub(tpage[6]);
  fetch_faults("S fetch, reserved PTE W=1 X=1 R=0", PRV_S, wx);

  u64 inv = map_slot(7, PTE_R | PTE_W | PTE_X | PTE_AD);
  write_fetch_stub(tpage[7]);
  load_faults("S load, PTE V=0", PRV_S, inv + 8);
  store_faults("S store, PTE V=0", PRV_S, inv + 8, slot_pa(7) + 8);
  fetch_faults("S fetch, PTE V=0", PRV_S, inv);

  /* A pointer PTE (V=1, RWX=0) at level 0 cannot point further (step 4). */
  map(slot_va(8), slot_pa(8), 0, PTE_V);
  load_faults("S load, non-leaf PTE at level 0", PRV_S, slot_va(8));

  load_faults("S load from a non-canonical address", PRV_S, NONCANON_VA);
  store_faults("S store to a non-canonical address", PRV_S, NONCANON_VA, slot_pa(0) + 32);
  fetch_faults("S fetch from a non-canonical address", PRV_S, NONCANON_VA);

  rt_printf("-- U and S pages, SUM (priv §4.3.1, §3.1.6.3)\n");
  u64 upage = map_slot(9, PTE_V | PTE_R | PTE_W | PTE_U | PTE_AD);
  load_faults("S load from a U page, SUM=0", PRV_S, upage);
  store_faults("S store to a U page, SUM=0", PRV_S, upage + 8, slot_pa(9) + 8);
  with_status(MSTATUS_SUM, 1);
  load_ok("S load from a U page, SUM=1", PRV_S, upage, pattern(9));
  store_ok("S store to a U page, SUM=1", PRV_S, upage + 8, slot_pa(9) + 8);
  u64 ux = map_slot(10, PTE_V | PTE_R | PTE_X | PTE_U | PTE_AD);
  write_fetch_stub(tpage[10]);
  fetch_faults("S fetch from a U page, SUM=1", PRV_S, ux);
  with_status(MSTATUS_SUM, 0);
  fetch_ok("U fetch from a U page", PRV_U, ux);

  u64 spage = map_slot(11, PTE_V | PTE_R | PTE_W | PTE_X | PTE_AD);
  write_fetch_stub(tpage[11]);
  fetch_ok("S fetch from an S page", PRV_S, spage);
  load_faults("U load from an S page", PRV_U, spage + 8);
  store_faults("U store to an S page", PRV_U, spage + 8, slot_pa(11) + 8);
  fetch_faults("U fetch from an S page", PRV_U, spage);
  u64 uxo = map_slot(12, PTE_V | PTE_X | PTE_U | PTE_AD);
  write_fetch_stub(tpage[12]);
  load_faults("U load from a U execute-only page, MXR=0", PRV_U, uxo);
  with_status(MSTATUS_MXR, 1);
  load_ok("U load from a U execute-only page, MXR=1", PRV_U, uxo, stub);
  with_status(MSTATUS_MXR, 0);
}

/* Hardware A/D updates (priv §4.3.1): QEMU sets them; the spec also allows
 * a page fault instead (Svade), which this suite does not accept. */
static void test_accessed_dirty(void)
{
  rt_printf("-- A and D bits\n");
  u64 va = map_slot(13, PTE_V | PTE_R | PTE_W);
  volatile u64 *pte = pte_at(va, 0);
  traps_reset();
  u64 got = in_s(probe_load, va, 0);
  expect_no_trap("S load from a page with A=0");
  check_eq("  the load read memory", got, pattern(13));
  check(*pte & PTE_A, "  the load set A (PTE 0x%lx)", *pte);
  check(!(*pte & PTE_D), "  the load left D clear");
  traps_reset();
  in_s(probe_store, va + 8, 77);
  expect_no_trap("S store to a page with D=0");
  check((*pte & PTE_AD) == PTE_AD, "  the store set D (PTE 0x%lx)", *pte);

  va = map_slot(14, PTE_V | PTE_R | PTE_W | PTE_A);
  pte = pte_at(va, 0);
  traps_reset();
  in_s(probe_store, va, 78);
  expect_no_trap("S store to a page with A=1 D=0");
  check(*pte & PTE_D, "  the store set D (PTE 0x%lx)", *pte);

  va = map_slot(15, PTE_V | PTE_R | PTE_X);
  write_fetch_stub(tpage[15]);
  pte = pte_at(va, 0);
  fetch_ok("S fetch from a page with A=0", PRV_S, va);
  check(*pte & PTE_A, "  the fetch set A (PTE 0x%lx)", *pte);
  check(!(*pte & PTE_D), "  the fetch left D clear");

  map(MEGA_VA, MEGA_PA, 1, PTE_V | PTE_R | PTE_W);
  pte = pte_at(MEGA_VA, 1);
  in_s(probe_store, MEGA_VA + 64, 79);
  check((*pte & PTE_AD) == PTE_AD, "a store through a 2 MiB page sets its A and D (PTE 0x%lx)", *pte);
}

static u64 s_sfence_load(u64 va, u64 with_address)
{
  if (with_address) {
    __asm__ volatile("sfence.vma %0, zero" :: "r"(va) : "memory");
  } else {
    __asm__ volatile("sfence.vma" ::: "memory");
  }
  return probe_load(va);
}

static void test_sfence(void)
{
  rt_printf("-- sfence.vma after a PTE change (priv §4.2.1)\n");
  map_slot(16, PTE_V | PTE_R | PTE_AD);
  map_slot(17, PTE_V | PTE_R | PTE_AD);
  u64 va = slot_va(16);
  volatile u64 *pte = pte_at(va, 0);
  load_ok("S load before the change", PRV_S, va, pattern(16));
  *pte = ((slot_pa(17) >> 12) << 10) | PTE_V | PTE_R | PTE_AD;
  traps_reset();
  check_eq("S load after the PTE moved, sfence.vma", in_s(s_sfence_load, va, 0), pattern(17));
  *pte = ((slot_pa(16) >> 12) << 10) | PTE_V | PTE_R | PTE_AD;
  check_eq("S load after the PTE moved back, sfence.vma va", in_s(s_sfence_load, va, 1),
           pattern(16));
  expect_no_trap("the two loads");
  *pte = 0;
  traps_reset();
  in_s(s_sfence_load, va, 1);
  page_fault("S load after the PTE was cleared, sfence.vma va", EXC_LOAD_PAGE, PRV_S, va);
}

static u64 mprv_load(u64 va, int mpp)
{
  u64 v = PROBE_POISON;
  csr_clear(mstatus, MSTATUS_MPP);
  csr_set(mstatus, (u64)mpp << 11);
  /* Nothing else may touch memory while MPRV is set. */
  __asm__ volatile("csrs mstatus, %1\n\tld %0, 0(%2)\n\tcsrc mstatus, %1"
                   : "+r"(v) : "r"(MSTATUS_MPRV), "r"(va) : "memory");
  return v;
}

static void test_mprv(void)
{
  rt_printf("-- M-mode loads with MPRV=1 (priv §3.1.6.3)\n");
  u64 va = map_slot(18, PTE_V | PTE_R | PTE_AD);
  traps_reset();
  check_eq("M load, MPRV=1 MPP=S, through the S page table", mprv_load(va, PRV_S), pattern(18));
  expect_no_trap("that load");
  traps_reset();
  mprv_load(va, PRV_U);
  expect_trap("M load, MPRV=1 MPP=U, from an S page", EXC_LOAD_PAGE, PRV_M, PRV_M, va, 1);
  traps_reset();
  mprv_load(slot_va(19), PRV_S);
  expect_trap("M load, MPRV=1 MPP=S, unmapped", EXC_LOAD_PAGE, PRV_M, PRV_M, slot_va(19), 1);
}

/* A leaf that translates to a vacant physical address: the walk succeeds
 * and the access then raises an access fault with xtval = the VA. */
static void test_access_faults(void)
{
  rt_printf("-- access faults behind a valid PTE\n");
  u64 va = slot_va(19);
  map(va, VACANT_PA, 0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_AD);
  traps_reset();
  in_s(probe_load, va + 8, 0);
  expect_trap("S load from a vacant physical page", EXC_LOAD_ACCESS, PRV_S, PRV_M, va + 8, 1);
  traps_reset();
  in_s(probe_store, va + 8, 1);
  expect_trap("S store to a vacant physical page", EXC_STORE_ACCESS, PRV_S, PRV_M, va + 8, 1);
  traps_reset();
  in_s(probe_fetch, va, 0);
  expect_trap("S fetch from a vacant physical page", EXC_FETCH_ACCESS, PRV_S, PRV_M, va, 1);
  map(va, 0, 0, 0);
}

int main(void)
{
  test_begin(SATP_MODE == 8 ? "paging_sv39" : SATP_MODE == 9 ? "paging_sv48" : "paging_sv57");
  if ((u64)image_end > MEGA_PA) {
    check(0, "the image (ends at %p) stays below the 2 MiB test page at 0x%lx", image_end, MEGA_PA);
    test_end();
  }
  root = pt_alloc();
  if (!probe_satp()) {
    test_end();
  }
  map(0x80000000ull, 0x80000000ull, 2, PTE_V | PTE_R | PTE_W | PTE_X | PTE_AD);
  for (u64 p = (u64)utext_start; p < (u64)utext_end; p += PAGE) {
    map(UTEXT_ALIAS + (p - (u64)utext_start), p, 0, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A);
  }
  utext_alias = UTEXT_ALIAS;
  csr_write(satp, ((u64)SATP_MODE << 60) | ((u64)root >> 12));
  __asm__ volatile("sfence.vma" ::: "memory");

  test_translation();
  for (int d = 0; d < 2; d++) {
    set_deleg(d);
    test_permissions();
  }
  set_deleg(0);
  test_accessed_dirty();
  test_sfence();
  test_mprv();
  test_access_faults();
  csr_write(satp, 0);
  test_end();
}
