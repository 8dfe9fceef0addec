/* The CLINT (src/devices/aclint.c) with a fake clock: mtime, mtimecmp as
 * OpenSBI and Linux write it, MTIP, the deadlines handed to the caller's
 * host timer, and msip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "devices/aclint.h"

#define NHARTS 3u
#define MSIP(h) (0x0u + 4u * (h))
#define MTIMECMP(h) (0x4000u + 8u * (h))
#define MTIME 0xbff8u

typedef struct fixture {
  vmx_aclint_t clint;
  uint64_t now;
  bool msip[VMX_ACLINT_MAX_HARTS], mtip[VMX_ACLINT_MAX_HARTS];
  uint64_t deadline[VMX_ACLINT_MAX_HARTS];
  int armed_calls[VMX_ACLINT_MAX_HARTS];
  int mtip_calls[VMX_ACLINT_MAX_HARTS];
} fixture_t;

static uint64_t fake_now(void *arg) { return ((fixture_t *)arg)->now; }

static void on_msip(void *arg, unsigned hart, bool level) {
  fixture_t *f = arg;
  assert_true(level != f->msip[hart]);
  f->msip[hart] = level;
}

static void on_mtip(void *arg, unsigned hart, bool level) {
  fixture_t *f = arg;
  assert_true(level != f->mtip[hart]);
  f->mtip[hart] = level;
  f->mtip_calls[hart]++;
}

static void on_armed(void *arg, unsigned hart, uint64_t deadline) {
  fixture_t *f = arg;
  f->deadline[hart] = deadline;
  f->armed_calls[hart]++;
}

static fixture_t *make(uint64_t now, unsigned nharts) {
  static fixture_t f;
  memset(&f, 0, sizeof f);
  f.now = now;
  for (unsigned h = 0; h < VMX_ACLINT_MAX_HARTS; h++)
    f.deadline[h] = VMX_ACLINT_DISARMED;
  vmx_aclint_io_t io = {fake_now, on_msip, on_mtip, on_armed, &f};
  assert_int_equal(vmx_aclint_init(&f.clint, nharts, &io), 0);
  return &f;
}

static int setup(void **state) {
  *state = make(1000000, NHARTS);
  return 0;
}

static uint64_t rd(fixture_t *f, uint64_t off, unsigned size) { return vmx_aclint_read(&f->clint, off, size); }
static void wr(fixture_t *f, uint64_t off, unsigned size, uint64_t v) { vmx_aclint_write(&f->clint, off, size, v); }

static void test_init_checks_its_arguments(void **state) {
  vmx_aclint_t c;
  vmx_aclint_io_t io = {fake_now, NULL, NULL, NULL, NULL};
  vmx_aclint_io_t no_clock = {NULL, NULL, NULL, NULL, NULL};
  assert_int_equal(vmx_aclint_init(&c, 0, &io), VMX_EINVAL);
  assert_int_equal(vmx_aclint_init(&c, VMX_ACLINT_MAX_HARTS + 1, &io), VMX_EINVAL);
  assert_int_equal(vmx_aclint_init(&c, 1, &no_clock), VMX_EINVAL);
  assert_int_equal(vmx_aclint_init(&c, 1, NULL), VMX_EINVAL);
  assert_true(VMX_ACLINT_MAX_HARTS >= 8);
}

static void test_mtime_starts_at_zero_and_follows_now(void **state) {
  fixture_t *f = *state;
  assert_int_equal(rd(f, MTIME, 8), 0);
  assert_int_equal(vmx_aclint_mtime(&f->clint), 0);
  f->now += 12345;
  assert_int_equal(rd(f, MTIME, 8), 12345);
  f->now += 0x100000000ull;
  assert_int_equal(rd(f, MTIME, 4), 12345);
  assert_int_equal(rd(f, MTIME + 4, 4), 1);
  assert_int_equal(vmx_aclint_mtime(&f->clint), 0x100000000ull + 12345);
  assert_false(f->mtip[0]); /* mtimecmp starts all-ones */
  assert_int_equal(rd(f, MTIMECMP(0), 8), UINT64_MAX);
}

static void test_mtime_writes_move_the_offset(void **state) {
  fixture_t *f = *state;
  wr(f, MTIME, 8, 0x123456789aull);
  assert_int_equal(rd(f, MTIME, 8), 0x123456789aull);
  f->now += 10;
  assert_int_equal(vmx_aclint_mtime(&f->clint), 0x12345678a4ull);
  wr(f, MTIME, 4, 0x11111111); /* low half */
  assert_int_equal(rd(f, MTIME, 8), 0x1211111111ull);
  wr(f, MTIME + 4, 4, 0x2); /* high half */
  assert_int_equal(rd(f, MTIME, 8), 0x211111111ull);
  wr(f, MTIME + 4, 8, 7); /* 64-bit at +4: unaligned, ignored */
  assert_int_equal(rd(f, MTIME, 8), 0x211111111ull);
}

static void test_future_mtimecmp_arms_the_host_timer_and_tick_raises_mtip(void **state) {
  fixture_t *f = *state;
  f->now += 500;                   /* mtime 500 */
  wr(f, MTIMECMP(1), 8, 800);      /* due in 300 ticks */
  assert_false(f->mtip[1]);
  assert_int_equal(f->deadline[1], f->now + 300);
  assert_int_equal(f->armed_calls[1], 1);
  assert_int_equal(f->armed_calls[0], 0);
  f->now += 299;
  vmx_aclint_tick(&f->clint);      /* early: re-armed, same deadline */
  assert_false(f->mtip[1]);
  assert_int_equal(f->armed_calls[1], 2);
  assert_int_equal(f->deadline[1], f->now + 1);
  f->now += 1;
  vmx_aclint_tick(&f->clint);
  assert_true(f->mtip[1]);
  assert_int_equal(f->deadline[1], VMX_ACLINT_DISARMED);
  assert_false(f->mtip[0]);
  assert_false(f->mtip[2]);
  vmx_aclint_tick(&f->clint);      /* nothing changes: no calls */
  assert_int_equal(f->mtip_calls[1], 1);
  assert_int_equal(f->armed_calls[1], 3);
  assert_int_equal(f->armed_calls[0], 0);
}

static void test_past_mtimecmp_raises_mtip_at_once_and_a_new_one_clears_it(void **state) {
  fixture_t *f = *state;
  f->now += 1000;
  wr(f, MTIMECMP(0), 8, 1000); /* equal counts as due */
  assert_true(f->mtip[0]);
  assert_int_equal(f->armed_calls[0], 0); /* was disarmed, still is */
  wr(f, MTIMECMP(0), 8, UINT64_MAX); /* OpenSBI's "no timer" */
  assert_false(f->mtip[0]);
  assert_int_equal(f->deadline[0], VMX_ACLINT_DISARMED);
  wr(f, MTIMECMP(0), 8, 1500);
  assert_false(f->mtip[0]);
  assert_int_equal(f->deadline[0], f->now + 500);
}

static void test_mtimecmp_halves_in_rv32_opensbi_order(void **state) {
  fixture_t *f = *state;
  f->now += 0x10;
  /* OpenSBI on RV32 (and Linux's clint driver): low = ~0, high, low. The
   * low = ~0 step keeps the half-written value in the future. */
  wr(f, MTIMECMP(2), 4, 0xffffffff);
  assert_false(f->mtip[2]);
  wr(f, MTIMECMP(2) + 4, 4, 0x1);
  assert_false(f->mtip[2]);
  wr(f, MTIMECMP(2), 4, 0x20);
  assert_int_equal(rd(f, MTIMECMP(2), 8), 0x100000020ull);
  assert_int_equal(rd(f, MTIMECMP(2), 4), 0x20);
  assert_int_equal(rd(f, MTIMECMP(2) + 4, 4), 0x1);
  assert_int_equal(f->deadline[2], f->now + 0x100000010ull);
  wr(f, MTIMECMP(2) + 4, 4, 0); /* now 0x20: 0x10 ticks away */
  assert_int_equal(f->deadline[2], f->now + 0x10);
  assert_false(f->mtip[2]);
}

static void test_mtime_write_reevaluates_every_hart(void **state) {
  fixture_t *f = *state;
  wr(f, MTIMECMP(0), 8, 100);
  wr(f, MTIMECMP(1), 8, 200);
  wr(f, MTIMECMP(2), 8, 300);
  wr(f, MTIME, 8, 250);
  assert_true(f->mtip[0]);
  assert_true(f->mtip[1]);
  assert_false(f->mtip[2]);
  assert_int_equal(f->deadline[2], f->now + 50);
  wr(f, MTIME, 8, 0); /* time goes back: all low again */
  assert_false(f->mtip[0]);
  assert_int_equal(f->deadline[0], f->now + 100);
}

static void test_deadline_past_the_clock_range_is_disarmed(void **state) {
  fixture_t *f = make(UINT64_MAX - 10, 1);
  wr(f, MTIMECMP(0), 8, 100); /* now() would wrap before it is due */
  assert_false(f->mtip[0]);
  assert_int_equal(f->deadline[0], VMX_ACLINT_DISARMED);
}

static void test_msip_sets_and_clears_each_hart(void **state) {
  fixture_t *f = *state;
  wr(f, MSIP(1), 4, 1);
  assert_true(f->msip[1]);
  assert_false(f->msip[0]);
  assert_int_equal(rd(f, MSIP(1), 4), 1);
  assert_int_equal(rd(f, MSIP(0), 4), 0);
  wr(f, MSIP(1), 4, 0xffffffff); /* unchanged: no call (the callback checks) */
  wr(f, MSIP(1), 4, 2);          /* only bit 0 counts */
  assert_false(f->msip[1]);
  wr(f, MSIP(2), 8, 1);          /* msip is 32 bits only */
  wr(f, MSIP(2) + 1, 4, 1);
  assert_false(f->msip[2]);
  wr(f, MSIP(NHARTS), 4, 1);     /* no such hart */
  assert_int_equal(rd(f, MSIP(NHARTS), 4), 0);
}

static void test_unsupported_accesses_read_zero(void **state) {
  fixture_t *f = *state;
  f->now += 77;
  assert_int_equal(rd(f, MTIME, 2), 0);
  assert_int_equal(rd(f, MTIME, 1), 0);
  assert_int_equal(rd(f, MTIME + 4, 8), 0);
  assert_int_equal(rd(f, MTIMECMP(NHARTS), 8), 0);
  wr(f, MTIMECMP(NHARTS), 8, 0);
  wr(f, MTIMECMP(0), 2, 0);
  assert_false(f->mtip[0]);
  assert_int_equal(rd(f, 0xc000, 8), 0);
  assert_int_equal(rd(f, VMX_ACLINT_SIZE, 8), 0);
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void test_any_offset_and_size_is_safe(void **state) {
  fixture_t *f = make(42, VMX_ACLINT_MAX_HARTS);
  static const unsigned sizes[] = {1, 2, 4, 8};
  uint64_t seed = 0x853c49e6748fea9bull;
  print_message("seed %#llx\n", (unsigned long long)seed);
  for (uint64_t off = 0; off < VMX_ACLINT_SIZE + 64; off++) {
    for (unsigned i = 0; i < 4; i++) {
      vmx_aclint_read(&f->clint, off, sizes[i]);
      vmx_aclint_write(&f->clint, off, sizes[i], xorshift(&seed));
    }
    f->now += xorshift(&seed) % 1000;
    if (off % 256 == 0)
      vmx_aclint_tick(&f->clint);
  }
  vmx_aclint_read(&f->clint, UINT64_MAX - 7, 8);
  vmx_aclint_write(&f->clint, UINT64_MAX - 7, 8, 0);
}

/* ------------------------------------------------------------ -icount */

static void test_read_at_and_write_at_use_the_callers_clock(void **state) {
  (void)state;
  fixture_t *f = make(0, NHARTS); /* as under -icount: the clocks start at 0 */
  f->now = 999;                   /* io->now is not looked at */
  assert_int_equal(vmx_aclint_read_at(&f->clint, MTIME, 8, 5000), 5000);
  /* mtime := 7000 at the caller's 5000: offset 2000, seen by a hart at 6000 */
  vmx_aclint_write_at(&f->clint, MTIME, 8, 7000, 5000);
  assert_int_equal(vmx_aclint_offset(&f->clint), 2000);
  assert_int_equal(vmx_aclint_read_at(&f->clint, MTIME + 4, 4, 6000), 0);
  assert_int_equal(vmx_aclint_read_at(&f->clint, MTIME, 8, 6000), 8000);
  vmx_aclint_write_at(&f->clint, MTIMECMP(1), 8, 9000, 6000);
  assert_int_equal(vmx_aclint_mtimecmp(&f->clint, 1), 9000);
  assert_int_equal(vmx_aclint_mtimecmp(&f->clint, 0), UINT64_MAX);
  assert_int_equal(vmx_aclint_mtimecmp(&f->clint, NHARTS), UINT64_MAX);
  /* The model's own view, at the writer's clock: due at now() 7000. */
  assert_int_equal(f->deadline[1], 7000);
}

static void test_due(void **state) {
  (void)state;
  /* pending: the time asked about */
  assert_int_equal(vmx_aclint_due(100, 0, 100), 100);
  assert_int_equal(vmx_aclint_due(0, 0, 7), 7);
  /* in the future: when now + offset reaches cmp */
  assert_int_equal(vmx_aclint_due(100, 0, 40), 100);
  assert_int_equal(vmx_aclint_due(100, 30, 40), 70);
  /* an offset that went "negative" (mtime written below now) */
  assert_int_equal(vmx_aclint_due(100, (uint64_t)-50, 120), 150);
  /* never: all-ones, or past the end of the clock */
  assert_int_equal(vmx_aclint_due(UINT64_MAX, 0, 5), UINT64_MAX);
  assert_int_equal(vmx_aclint_due(UINT64_MAX - 1, (uint64_t)-100, 200), VMX_ACLINT_DISARMED);
}

static void test_vclock_counts_instructions(void **state) {
  (void)state;
  vmx_aclint_vclock_t v = {.shift = 0};
  /* shift 0: 1 ns per instruction, 100 per tick */
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 0), 0);
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 99), 0);
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 100), 1);
  assert_int_equal(vmx_aclint_vclock_icount_at(&v, 1), 100);
  assert_int_equal(vmx_aclint_vclock_icount_at(&v, 0), 0);
  /* shift 3: 8 ns per instruction: tick 1 at 13 instructions (104 ns) */
  v.shift = 3;
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 12), 0);
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 13), 1);
  assert_int_equal(vmx_aclint_vclock_icount_at(&v, 1), 13);
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 1000000), 80000);
  /* shift 10 */
  v.shift = 10;
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 1), 10);
  assert_int_equal(vmx_aclint_vclock_icount_at(&v, 11), 2);
  /* icount_at is the first count at which ticks reaches the target, for
   * every shift and a bias */
  for (unsigned s = 0; s <= VMX_ACLINT_MAX_SHIFT; s++) {
    vmx_aclint_vclock_t w = {.shift = s, .bias_ns = 12345};
    for (uint64_t t = 100; t < 3000; t += 37) {
      uint64_t n = vmx_aclint_vclock_icount_at(&w, t);
      assert_true(vmx_aclint_vclock_ticks(&w, n) >= t);
      assert_true(n == 0 || vmx_aclint_vclock_ticks(&w, n - 1) < t);
    }
  }
  /* out of range: never */
  assert_int_equal(vmx_aclint_vclock_icount_at(&v, UINT64_MAX), UINT64_MAX);
}

static void test_vclock_skip_lands_on_the_deadline(void **state) {
  (void)state;
  vmx_aclint_vclock_t v = {.shift = 3};
  /* at 1000 instructions (8000 ns, tick 80) skip to tick 5000 */
  vmx_aclint_vclock_skip(&v, 1000, 5000);
  assert_int_equal(v.bias_ns, 500000 - 8000);
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 1000), 5000);
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 1012), 5000);
  assert_int_equal(vmx_aclint_vclock_ticks(&v, 1013), 5001);
  assert_int_equal(vmx_aclint_vclock_icount_at(&v, 5001), 1013);
  /* never backwards, and nothing for a target out of range */
  vmx_aclint_vclock_skip(&v, 1000, 10);
  assert_int_equal(v.bias_ns, 500000 - 8000);
  vmx_aclint_vclock_skip(&v, 1000, UINT64_MAX);
  assert_int_equal(v.bias_ns, 500000 - 8000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_checks_its_arguments),
      cmocka_unit_test_setup(test_mtime_starts_at_zero_and_follows_now, setup),
      cmocka_unit_test_setup(test_mtime_writes_move_the_offset, setup),
      cmocka_unit_test_setup(test_future_mtimecmp_arms_the_host_timer_and_tick_raises_mtip, setup),
      cmocka_unit_test_setup(test_past_mtimecmp_raises_mtip_at_once_and_a_new_one_clears_it, setup),
      cmocka_unit_test_setup(test_mtimecmp_halves_in_rv32_opensbi_order, setup),
      cmocka_unit_test_setup(test_mtime_write_reevaluates_every_hart, setup),
      cmocka_unit_test(test_deadline_past_the_clock_range_is_disarmed),
      cmocka_unit_test_setup(test_msip_sets_and_clears_each_hart, setup),
      cmocka_unit_test_setup(test_unsupported_accesses_read_zero, setup),
      cmocka_unit_test(test_any_offset_and_size_is_safe),
      cmocka_unit_test(test_read_at_and_write_at_use_the_callers_clock),
      cmocka_unit_test(test_due),
      cmocka_unit_test(test_vclock_counts_instructions),
      cmocka_unit_test(test_vclock_skip_lands_on_the_deadline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
