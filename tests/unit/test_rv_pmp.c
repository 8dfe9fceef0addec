/* The PMP registers and checks (src/mem/rv_pmp.c) on their own: the
 * address-matching modes at their edges, the page summary the MMU caches
 * by, and the WARL and lock rules (RISC-V privileged spec 1.12, §3.7).
 * The same rules are checked against QEMU by tests/baremetal/pmp.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mem/rv_pmp.h"

enum { U = 0, S = 1, M = 3 };
enum { TOR = 0x08, NA4 = 0x10, NAPOT = 0x18, L = 0x80 };
#define R VMX_RV_PMP_R
#define W VMX_RV_PMP_W
#define X VMX_RV_PMP_X

static void set(vmx_rv_pmp_t *pmp, unsigned i, unsigned cfg, uint64_t addr) {
  vmx_rv_pmp_addr_write(pmp, i, addr);
  uint64_t reg = vmx_rv_pmp_cfg_read(pmp, i < 8 ? 0 : 2);
  unsigned sh = 8 * (i % 8);
  reg = (reg & ~((uint64_t)0xff << sh)) | (uint64_t)cfg << sh;
  vmx_rv_pmp_cfg_write(pmp, i < 8 ? 0 : 2, reg);
}

static void test_nothing_active_denies_s_and_u_only(void **state) {
  (void)state;
  vmx_rv_pmp_t pmp;
  memset(&pmp, 0, sizeof pmp);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x80000000, 8, S), 0);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x80000000, 8, U), 0);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x80000000, 8, M), R | W | X);
  assert_false(vmx_rv_pmp_restricts(&pmp, M));
  assert_true(vmx_rv_pmp_restricts(&pmp, S));
}

static void test_napot_all_ones_covers_the_whole_physical_space(void **state) {
  (void)state;
  vmx_rv_pmp_t pmp;
  memset(&pmp, 0, sizeof pmp);
  set(&pmp, 0, NAPOT | R | W | X, UINT64_MAX);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0, 8, S), R | W | X);
  assert_int_equal(vmx_rv_pmp_access(&pmp, ((uint64_t)1 << 56) - 8, 8, U), R | W | X);
  assert_int_equal(vmx_rv_pmp_page(&pmp, 0x80000000, S), R | W | X);
  /* A page-aligned unlocked entry leaves M unchecked. */
  assert_false(vmx_rv_pmp_restricts(&pmp, M));
}

static void test_tor_edges_and_empty_range(void **state) {
  (void)state;
  vmx_rv_pmp_t pmp;
  memset(&pmp, 0, sizeof pmp);
  set(&pmp, 0, 0, 0x1000 >> 2);
  set(&pmp, 1, TOR | R, 0x2000 >> 2);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0xffc, 4, S), 0);     /* below: no entry */
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x1000, 4, S), R);    /* first byte */
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x1ffc, 4, S), R);    /* last word */
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x1ffc, 8, S), 0);    /* straddles the top */
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x1ffc, 8, M), 0);    /* ...even for M */
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x1ff8, 8, M), R | W | X);
  /* pmpaddr[i-1] >= pmpaddr[i]: the entry matches nothing. */
  set(&pmp, 0, 0, 0x2000 >> 2);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x1000, 4, S), 0);
  assert_int_equal(pmp.active, 0);
}

static void test_page_summary_splits_pages_an_entry_ends_in(void **state) {
  (void)state;
  vmx_rv_pmp_t pmp;
  memset(&pmp, 0, sizeof pmp);
  set(&pmp, 0, NA4, 0x80001008 >> 2);
  set(&pmp, 1, NAPOT | R | W, (0x80000000 >> 2) | 0x3ff); /* 8 KiB */
  assert_int_equal(vmx_rv_pmp_page(&pmp, 0x80000000, S), R | W);
  assert_int_equal(vmx_rv_pmp_page(&pmp, 0x80001000, S), VMX_RV_PMP_PARTIAL);
  assert_int_equal(vmx_rv_pmp_page(&pmp, 0x80001000, M), VMX_RV_PMP_PARTIAL);
  assert_true(vmx_rv_pmp_restricts(&pmp, M));
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x80001008, 4, S), 0);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x80001008, 4, M), R | W | X);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x8000100c, 4, S), R | W);
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x80001004, 8, S), 0);
  assert_int_equal(vmx_rv_pmp_page(&pmp, 0x80002000, S), 0);
}

static void test_warl_reserved_bits_and_rw01(void **state) {
  (void)state;
  vmx_rv_pmp_t pmp;
  memset(&pmp, 0, sizeof pmp);
  vmx_rv_pmp_cfg_write(&pmp, 0, 0x19 | 0x60);
  assert_int_equal(vmx_rv_pmp_cfg_read(&pmp, 0), 0x19);
  vmx_rv_pmp_cfg_write(&pmp, 0, 0x1a);       /* R=0 W=1: not taken */
  assert_int_equal(vmx_rv_pmp_cfg_read(&pmp, 0), 0x19);
  vmx_rv_pmp_cfg_write(&pmp, 2, 0xffffffffffffffff & ~(uint64_t)0x0202020202020202);
  assert_int_equal(vmx_rv_pmp_cfg_read(&pmp, 2), 0x9d9d9d9d9d9d9d9d);
  vmx_rv_pmp_addr_write(&pmp, 3, UINT64_MAX);
  assert_int_equal(vmx_rv_pmp_addr_read(&pmp, 3), ((uint64_t)1 << 54) - 1);
  /* Entries 16-63 are not implemented: read-only zero. */
  vmx_rv_pmp_addr_write(&pmp, 40, 0x1234);
  assert_int_equal(vmx_rv_pmp_addr_read(&pmp, 40), 0);
  vmx_rv_pmp_cfg_write(&pmp, 4, UINT64_MAX);
  assert_int_equal(vmx_rv_pmp_cfg_read(&pmp, 4), 0);
}

static void test_lock_binds_m_and_freezes_entry_and_tor_base(void **state) {
  (void)state;
  vmx_rv_pmp_t pmp;
  memset(&pmp, 0, sizeof pmp);
  set(&pmp, 0, 0, 0x1000 >> 2);
  set(&pmp, 1, TOR | R | L, 0x2000 >> 2);
  assert_true(vmx_rv_pmp_restricts(&pmp, M));
  assert_int_equal(vmx_rv_pmp_access(&pmp, 0x1000, 8, M), R);
  set(&pmp, 1, TOR | R | W | X, 0x3000 >> 2);
  assert_int_equal(vmx_rv_pmp_cfg_read(&pmp, 0) >> 8 & 0xff, TOR | R | L);
  assert_int_equal(vmx_rv_pmp_addr_read(&pmp, 1), 0x2000 >> 2);
  vmx_rv_pmp_addr_write(&pmp, 0, 0);         /* the locked TOR's base */
  assert_int_equal(vmx_rv_pmp_addr_read(&pmp, 0), 0x1000 >> 2);
  set(&pmp, 0, NA4 | R, 0x1000 >> 2);        /* entry 0's cfg is not locked */
  assert_int_equal(vmx_rv_pmp_cfg_read(&pmp, 0) & 0xff, NA4 | R);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nothing_active_denies_s_and_u_only),
      cmocka_unit_test(test_napot_all_ones_covers_the_whole_physical_space),
      cmocka_unit_test(test_tor_edges_and_empty_range),
      cmocka_unit_test(test_page_summary_splits_pages_an_entry_ends_in),
      cmocka_unit_test(test_warl_reserved_bits_and_rw01),
      cmocka_unit_test(test_lock_binds_m_and_freezes_entry_and_tor_base),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
