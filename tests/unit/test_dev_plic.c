/* The SiFive PLIC (src/devices/plic.c): gating, claim order, completion of
 * level-triggered lines and per-context state, as Linux's irq-sifive-plic
 * and OpenSBI use them on QEMU virt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/error.h"
#include "devices/plic.h"

#define NHARTS 4u

typedef struct fixture {
  vmx_plic_t plic;
  bool eip[VMX_PLIC_MAX_CONTEXTS];
  int calls[VMX_PLIC_MAX_CONTEXTS];
} fixture_t;

static void on_eip(void *arg, unsigned ctx, bool level) {
  fixture_t *f = arg;
  assert_true(ctx < VMX_PLIC_MAX_CONTEXTS);
  assert_true(level != f->eip[ctx]); /* changes only */
  f->eip[ctx] = level;
  f->calls[ctx]++;
}

static int setup(void **state) {
  static fixture_t f;
  memset(&f, 0, sizeof f);
  vmx_plic_io_t io = {on_eip, &f};
  assert_int_equal(vmx_plic_init(&f.plic, NHARTS, &io), 0);
  *state = &f;
  return 0;
}

static uint32_t rd(fixture_t *f, uint64_t off) {
  return (uint32_t)vmx_plic_read(&f->plic, off, 4);
}

static void wr(fixture_t *f, uint64_t off, uint32_t val) {
  vmx_plic_write(&f->plic, off, 4, val);
}

static void set_priority(fixture_t *f, unsigned src, uint32_t prio) { wr(f, 4 * src, prio); }

static void enable(fixture_t *f, unsigned ctx, unsigned src, bool on) {
  uint64_t off = 0x2000 + 0x80 * ctx + 4 * (src / 32);
  uint32_t word = rd(f, off);
  word = on ? word | (1u << (src % 32)) : word & ~(1u << (src % 32));
  wr(f, off, word);
}

static void set_threshold(fixture_t *f, unsigned ctx, uint32_t t) { wr(f, 0x200000 + 0x1000 * ctx, t); }
static uint32_t claim(fixture_t *f, unsigned ctx) { return rd(f, 0x200004 + 0x1000 * ctx); }
static void complete(fixture_t *f, unsigned ctx, uint32_t src) { wr(f, 0x200004 + 0x1000 * ctx, src); }

static void test_init_checks_hart_count_and_size_is_qemus(void **state) {
  vmx_plic_t p;
  assert_int_equal(vmx_plic_init(&p, 0, NULL), VMX_EINVAL);
  assert_int_equal(vmx_plic_init(&p, VMX_PLIC_MAX_HARTS + 1, NULL), VMX_EINVAL);
  assert_int_equal(vmx_plic_init(&p, VMX_PLIC_MAX_HARTS, NULL), 0);
  assert_true(VMX_PLIC_MAX_HARTS >= 8);
  assert_int_equal(vmx_plic_size(1), 0x600000);
  assert_int_equal(vmx_plic_size(8), 0x600000);
  assert_int_equal(vmx_plic_size(VMX_PLIC_MAX_HARTS), 0x600000);
}

static void test_priority_threshold_and_enable_gate_the_interrupt(void **state) {
  fixture_t *f = *state;
  unsigned s_ctx = 1; /* hart 0, S-mode */
  vmx_plic_set_irq(&f->plic, 10, true);
  assert_int_equal(rd(f, 0x1000), 1u << 10); /* pending, though nothing offers it */
  assert_false(f->eip[s_ctx]);
  enable(f, s_ctx, 10, true);
  assert_false(f->eip[s_ctx]); /* priority 0 never interrupts */
  set_priority(f, 10, 3);
  assert_true(f->eip[s_ctx]);
  set_threshold(f, s_ctx, 3); /* must be strictly above the threshold */
  assert_false(f->eip[s_ctx]);
  set_threshold(f, s_ctx, 2);
  assert_true(f->eip[s_ctx]);
  enable(f, s_ctx, 10, false);
  assert_false(f->eip[s_ctx]);
  assert_int_equal(claim(f, s_ctx), 0); /* disabled: nothing to claim */
  assert_int_equal(f->calls[s_ctx], 4);
}

static void test_priority_and_threshold_are_warl_3_bits(void **state) {
  fixture_t *f = *state;
  set_priority(f, 5, 0xffffffff);
  assert_int_equal(rd(f, 4 * 5), 7);
  set_priority(f, 5, 9);
  assert_int_equal(rd(f, 4 * 5), 1);
  set_threshold(f, 3, 0xff);
  assert_int_equal(rd(f, 0x200000 + 0x3000), 7);
}

static void test_claim_takes_highest_priority_ties_to_lowest_id(void **state) {
  fixture_t *f = *state;
  unsigned ctx = 0;
  static const struct { unsigned src, prio; } lines[] = {{3, 2}, {9, 5}, {7, 5}, {40, 1}, {95, 6}};
  for (unsigned i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    set_priority(f, lines[i].src, lines[i].prio);
    enable(f, ctx, lines[i].src, true);
    vmx_plic_set_irq(&f->plic, lines[i].src, true);
  }
  assert_true(f->eip[ctx]);
  assert_int_equal(claim(f, ctx), 95);
  assert_int_equal(claim(f, ctx), 7);
  assert_int_equal(claim(f, ctx), 9);
  assert_int_equal(claim(f, ctx), 3);
  assert_true(f->eip[ctx]);
  assert_int_equal(claim(f, ctx), 40);
  assert_false(f->eip[ctx]);
  assert_int_equal(claim(f, ctx), 0);
}

static void test_claim_clears_pending(void **state) {
  fixture_t *f = *state;
  set_priority(f, 33, 1);
  enable(f, 0, 33, true);
  vmx_plic_set_irq(&f->plic, 33, true);
  assert_int_equal(rd(f, 0x1004), 1u << 1);
  assert_int_equal(claim(f, 0), 33);
  assert_int_equal(rd(f, 0x1004), 0);
  assert_false(f->eip[0]);
}

static void test_completion_repends_a_line_still_high(void **state) {
  fixture_t *f = *state;
  set_priority(f, 10, 1);
  enable(f, 1, 10, true);
  vmx_plic_set_irq(&f->plic, 10, true);
  assert_int_equal(claim(f, 1), 10);
  assert_false(f->eip[1]);
  complete(f, 1, 10); /* the UART still has data */
  assert_true(f->eip[1]);
  assert_int_equal(rd(f, 0x1000), 1u << 10);
  assert_int_equal(claim(f, 1), 10);
  vmx_plic_set_irq(&f->plic, 10, false); /* the driver drained it */
  complete(f, 1, 10);
  assert_false(f->eip[1]);
  assert_int_equal(rd(f, 0x1000), 0);
}

static void test_line_dropping_before_claim_withdraws_it(void **state) {
  fixture_t *f = *state;
  set_priority(f, 8, 1);
  enable(f, 0, 8, true);
  vmx_plic_set_irq(&f->plic, 8, true);
  assert_true(f->eip[0]);
  vmx_plic_set_irq(&f->plic, 8, false);
  assert_false(f->eip[0]);
  assert_int_equal(claim(f, 0), 0);
}

static void test_claimed_source_is_offered_to_no_context_until_complete(void **state) {
  fixture_t *f = *state;
  set_priority(f, 5, 1);
  enable(f, 1, 5, true); /* hart 0 S */
  enable(f, 3, 5, true); /* hart 1 S */
  vmx_plic_set_irq(&f->plic, 5, true);
  assert_true(f->eip[1]);
  assert_true(f->eip[3]);
  assert_int_equal(claim(f, 3), 5);
  assert_false(f->eip[1]);
  assert_false(f->eip[3]);
  assert_int_equal(claim(f, 1), 0);
  vmx_plic_set_irq(&f->plic, 5, true); /* raised again while in service */
  assert_false(f->eip[1]);
  complete(f, 3, 5);
  assert_true(f->eip[1]);
  assert_true(f->eip[3]);
}

static void test_contexts_are_independent(void **state) {
  fixture_t *f = *state;
  set_priority(f, 1, 4);
  set_priority(f, 2, 4);
  enable(f, 0, 1, true); /* hart 0 M: source 1 */
  enable(f, 7, 2, true); /* hart 3 S: source 2 */
  set_threshold(f, 7, 4);
  vmx_plic_set_irq(&f->plic, 1, true);
  vmx_plic_set_irq(&f->plic, 2, true);
  assert_true(f->eip[0]);
  assert_false(f->eip[7]); /* its threshold masks priority 4 */
  for (unsigned ctx = 1; ctx < 2 * NHARTS; ctx++)
    assert_false(f->eip[ctx]);
  assert_int_equal(rd(f, 0x2000 + 0x80 * 0), 1u << 1);
  assert_int_equal(rd(f, 0x2000 + 0x80 * 7), 1u << 2);
  assert_int_equal(rd(f, 0x200000 + 0x1000 * 7), 4);
  assert_int_equal(rd(f, 0x200000), 0);
  set_threshold(f, 7, 0);
  assert_true(f->eip[7]);
  assert_int_equal(claim(f, 7), 2);
  assert_true(f->eip[0]);
}

static void test_eip_callback_only_on_change(void **state) {
  fixture_t *f = *state;
  set_priority(f, 4, 1);
  set_priority(f, 6, 2);
  enable(f, 2, 4, true);
  enable(f, 2, 6, true);
  vmx_plic_set_irq(&f->plic, 4, true);
  vmx_plic_set_irq(&f->plic, 4, true);
  vmx_plic_set_irq(&f->plic, 6, true);
  set_priority(f, 6, 3);
  assert_int_equal(f->calls[2], 1);
  assert_int_equal(claim(f, 2), 6);
  assert_int_equal(f->calls[2], 1); /* source 4 keeps it high */
  assert_int_equal(claim(f, 2), 4);
  assert_int_equal(f->calls[2], 2);
}

static void test_bad_sources_contexts_and_sizes_are_ignored(void **state) {
  fixture_t *f = *state;
  vmx_plic_set_irq(&f->plic, 0, true); /* source 0 does not exist */
  vmx_plic_set_irq(&f->plic, VMX_PLIC_SOURCES, true);
  vmx_plic_set_irq(&f->plic, 1000, true);
  for (unsigned w = 0; w < VMX_PLIC_WORDS; w++)
    assert_int_equal(rd(f, 0x1000 + 4 * w), 0);
  wr(f, 0x1000, 0xffffffff); /* pending is read only */
  assert_int_equal(rd(f, 0x1000), 0);
  unsigned past = 2 * NHARTS; /* first context that does not exist */
  wr(f, 0x200000 + 0x1000 * past, 5);
  assert_int_equal(rd(f, 0x200000 + 0x1000 * past), 0);
  wr(f, 0x2000 + 0x80 * past, 0xffffffff);
  assert_int_equal(rd(f, 0x2000 + 0x80 * past), 0);
  assert_int_equal(rd(f, 0x2000 + 0x80 * 0 + 4 * VMX_PLIC_WORDS), 0); /* past the last word */
  vmx_plic_write(&f->plic, 4 * 3, 8, 5); /* 64-bit: not supported */
  vmx_plic_write(&f->plic, 4 * 3 + 1, 4, 5);
  vmx_plic_write(&f->plic, 4 * 3, 1, 5);
  assert_int_equal(rd(f, 4 * 3), 0);
  set_priority(f, 3, 5);
  assert_int_equal(vmx_plic_read(&f->plic, 4 * 3, 8), 0);
  assert_int_equal(vmx_plic_read(&f->plic, 4 * 3, 2), 0);
  complete(f, 0, 0xffffffff); /* completing a nonexistent source */
  assert_int_equal(rd(f, 0x200008), 0); /* hole in a context */
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void test_any_offset_and_size_is_safe(void **state) {
  static fixture_t f;
  memset(&f, 0, sizeof f);
  vmx_plic_io_t io = {on_eip, &f};
  assert_int_equal(vmx_plic_init(&f.plic, VMX_PLIC_MAX_HARTS, &io), 0);
  static const unsigned sizes[] = {1, 2, 4, 8};
  uint64_t seed = 0x2545f4914f6cdd1dull;
  print_message("seed %#llx\n", (unsigned long long)seed);
  uint64_t end = vmx_plic_size(VMX_PLIC_MAX_HARTS) + 64;
  for (uint64_t off = 0; off < end; off++) {
    for (unsigned i = 0; i < 4; i++) {
      vmx_plic_read(&f.plic, off, sizes[i]);
      vmx_plic_write(&f.plic, off, sizes[i], xorshift(&seed));
    }
    if (off % 4096 == 0)
      vmx_plic_set_irq(&f.plic, (unsigned)(xorshift(&seed) % 128), xorshift(&seed) & 1);
  }
  vmx_plic_read(&f.plic, UINT64_MAX - 3, 4);
  vmx_plic_write(&f.plic, UINT64_MAX - 3, 4, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_checks_hart_count_and_size_is_qemus),
      cmocka_unit_test_setup(test_priority_threshold_and_enable_gate_the_interrupt, setup),
      cmocka_unit_test_setup(test_priority_and_threshold_are_warl_3_bits, setup),
      cmocka_unit_test_setup(test_claim_takes_highest_priority_ties_to_lowest_id, setup),
      cmocka_unit_test_setup(test_claim_clears_pending, setup),
      cmocka_unit_test_setup(test_completion_repends_a_line_still_high, setup),
      cmocka_unit_test_setup(test_line_dropping_before_claim_withdraws_it, setup),
      cmocka_unit_test_setup(test_claimed_source_is_offered_to_no_context_until_complete, setup),
      cmocka_unit_test_setup(test_contexts_are_independent, setup),
      cmocka_unit_test_setup(test_eip_callback_only_on_change, setup),
      cmocka_unit_test_setup(test_bad_sources_contexts_and_sizes_are_ignored, setup),
      cmocka_unit_test(test_any_offset_and_size_is_safe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
