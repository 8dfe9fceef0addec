/* Physical page descriptors (mem/pages.h): code slots per shard, the
 * requests a write or a first decode leaves for the other shards, and
 * their delivery under concurrent posting. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem/pages.h"

#define BASE 0x80000000ull
#define SIZE (64ull << 20)
#define NPAGES (SIZE >> 12)
#define REQ_CODE 4u

typedef struct taken {
  unsigned n[VMX_PAGES_KINDS + 1]; /* ... and VMX_PAGES_FLUSH */
  uint64_t last[VMX_PAGES_KINDS + 1];
  uint8_t *seen; /* NPAGES flags, or NULL */
} taken_t;

static void take_fn(void *arg, unsigned kind, uint64_t pn) {
  taken_t *t = arg;
  t->n[kind]++;
  t->last[kind] = pn;
  if (t->seen)
    t->seen[pn]++;
}

static int marker; /* a non-NULL "block" for the code slots */

static void test_bad_args(void **state) {
  (void)state;
  assert_null(vmx_pages_new(BASE, SIZE, 0));
  assert_null(vmx_pages_new(BASE, SIZE, VMX_PAGES_MAX_SHARDS + 1));
  assert_null(vmx_pages_new(BASE, 0, 1));
}

static void test_index(void **state) {
  (void)state;
  vmx_pages_t *p = vmx_pages_new(BASE, SIZE, 2);
  assert_non_null(p);
  assert_int_equal(vmx_pages_index(p, BASE), 0);
  assert_int_equal(vmx_pages_index(p, BASE + 0x1fff), 1);
  assert_int_equal(vmx_pages_index(p, BASE + SIZE - 1), NPAGES - 1);
  assert_true(vmx_pages_index(p, BASE + SIZE) == UINT64_MAX);
  assert_true(vmx_pages_index(p, BASE - 1) == UINT64_MAX);
  assert_true(vmx_pages_index(p, 0) == UINT64_MAX);
  vmx_pages_free(p);
}

static void test_written(void **state) {
  (void)state;
  vmx_pages_t *p = vmx_pages_new(BASE, SIZE, 3);
  _Atomic uint32_t req[3] = {0, 0, 0};
  for (unsigned s = 0; s < 3; s++)
    vmx_pages_attach(p, s, &req[s], REQ_CODE);
  /* No code anywhere: a write asks nothing of anyone. */
  assert_false(vmx_pages_written(p, 0, BASE + 0x5000, 8));
  assert_int_equal(req[1], 0);
  /* Shard 1 has code on page 5, shard 0 too. */
  atomic_store(vmx_pages_code(p, 1, 5), &marker);
  atomic_store(vmx_pages_code(p, 0, 5), &marker);
  assert_true(vmx_pages_has_code(p, 5));
  assert_false(vmx_pages_has_code(p, 6));
  /* Shard 0 writes it: it must drop its own, shard 1 is asked, 2 is not. */
  assert_true(vmx_pages_written(p, 0, BASE + 0x5ff8, 8));
  assert_int_equal(req[0], 0);
  assert_int_equal(req[1], REQ_CODE);
  assert_int_equal(req[2], 0);
  taken_t t = {0};
  vmx_pages_take(p, 1, take_fn, &t);
  assert_int_equal(t.n[VMX_PAGES_INVAL], 1);
  assert_int_equal(t.last[VMX_PAGES_INVAL], 5);
  assert_int_equal(t.n[VMX_PAGES_PROTECT], 0);
  /* Taken once: a second look finds nothing. */
  memset(&t, 0, sizeof t);
  vmx_pages_take(p, 1, take_fn, &t);
  assert_int_equal(t.n[VMX_PAGES_INVAL], 0);
  /* A device (self -1) writing a range over pages 4..6 asks both holders. */
  req[0] = req[1] = 0;
  assert_false(vmx_pages_written(p, -1, BASE + 0x4800, 0x2000));
  assert_int_equal(req[0], REQ_CODE);
  assert_int_equal(req[1], REQ_CODE);
  /* Ranges outside RAM, or empty, are ignored. */
  assert_false(vmx_pages_written(p, -1, BASE + SIZE, 8));
  assert_false(vmx_pages_written(p, -1, BASE - 8, 16));
  assert_false(vmx_pages_written(p, -1, BASE + 0x5000, 0));
  /* Clearing a shard's code empties its slots. */
  vmx_pages_clear_code(p, 1);
  assert_null(atomic_load(vmx_pages_code(p, 1, 5)));
  assert_non_null(atomic_load(vmx_pages_code(p, 0, 5)));
  vmx_pages_free(p);
}

static void test_code_added(void **state) {
  (void)state;
  vmx_pages_t *p = vmx_pages_new(BASE, SIZE, 3);
  _Atomic uint32_t req[3] = {0, 0, 0};
  for (unsigned s = 0; s < 3; s++)
    vmx_pages_attach(p, s, &req[s], REQ_CODE);
  vmx_pages_code_added(p, 2, NPAGES - 1);
  assert_int_equal(req[0], REQ_CODE);
  assert_int_equal(req[1], REQ_CODE);
  assert_int_equal(req[2], 0);
  for (unsigned s = 0; s < 2; s++) {
    taken_t t = {0};
    vmx_pages_take(p, s, take_fn, &t);
    assert_int_equal(t.n[VMX_PAGES_PROTECT], 1);
    assert_int_equal(t.last[VMX_PAGES_PROTECT], NPAGES - 1);
  }
  vmx_pages_free(p);
}

/* Writers on several threads post requests for every page while the owner
 * takes them concurrently: every page is delivered at least once, and none
 * that was never asked for. */
typedef struct poster {
  vmx_pages_t *p;
  uint64_t first, n;
} poster_t;

static void *post_thread(void *arg) {
  poster_t *ps = arg;
  for (uint64_t pn = ps->first; pn < ps->first + ps->n; pn++)
    vmx_pages_written(ps->p, -1, BASE + (pn << 12) + 16, 8);
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  vmx_pages_t *p = vmx_pages_new(BASE, SIZE, 1);
  _Atomic uint32_t req = 0;
  vmx_pages_attach(p, 0, &req, REQ_CODE);
  for (uint64_t pn = 0; pn < NPAGES; pn += 2)
    atomic_store(vmx_pages_code(p, 0, pn), &marker); /* even pages hold code */
  taken_t t = {0};
  t.seen = calloc(NPAGES, 1);
  pthread_t th[3];
  poster_t ps[3];
  for (unsigned i = 0; i < 3; i++) {
    ps[i] = (poster_t){p, i * (NPAGES / 3), NPAGES / 3};
    pthread_create(&th[i], NULL, post_thread, &ps[i]);
  }
  for (int i = 0; i < 1000; i++)
    vmx_pages_take(p, 0, take_fn, &t);
  for (unsigned i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  vmx_pages_take(p, 0, take_fn, &t);
  uint64_t covered = 3 * (NPAGES / 3);
  for (uint64_t pn = 0; pn < NPAGES; pn++) {
    if (pn < covered && pn % 2 == 0)
      assert_true(t.seen[pn] >= 1);
    else
      assert_int_equal(t.seen[pn], 0);
  }
  free(t.seen);
  vmx_pages_free(p);
}

/* Dirty logging: each hart's marks and the devices' writes while on, their
 * union at the end, a FLUSH request to every hart at the start. */
static void test_dirty_log(void **state) {
  (void)state;
  vmx_pages_t *p = vmx_pages_new(BASE, SIZE, 2);
  _Atomic uint32_t req[2] = {0, 0};
  for (unsigned s = 0; s < 2; s++)
    vmx_pages_attach(p, s, &req[s], REQ_CODE);
  assert_false(vmx_pages_logging(p));
  vmx_pages_written(p, -1, BASE, 4096); /* not logging: not counted */
  vmx_pages_log_start(p);
  assert_true(vmx_pages_logging(p));
  for (unsigned s = 0; s < 2; s++) {
    assert_int_equal(req[s], REQ_CODE);
    taken_t t = {0};
    vmx_pages_take(p, s, take_fn, &t);
    assert_int_equal(t.n[VMX_PAGES_FLUSH], 1);
  }
  vmx_pages_mark_dirty(p, 0, 10);
  vmx_pages_mark_dirty(p, 0, 10);
  vmx_pages_mark_dirty(p, 1, 10); /* both harts: one page */
  vmx_pages_mark_dirty(p, 1, NPAGES - 1);
  assert_true(vmx_pages_dirty_in(p, 0, 10));
  assert_false(vmx_pages_dirty_in(p, 0, NPAGES - 1));
  vmx_pages_written(p, -1, BASE + 0x20800, 0x2000); /* a device: pages 32..34 */
  assert_int_equal(vmx_pages_log_stop(p), 5);
  assert_false(vmx_pages_logging(p));
  /* A new measurement starts from nothing. */
  vmx_pages_log_start(p);
  assert_false(vmx_pages_dirty_in(p, 0, 10));
  assert_int_equal(vmx_pages_log_stop(p), 0);
  vmx_pages_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_args),
      cmocka_unit_test(test_index),
      cmocka_unit_test(test_written),
      cmocka_unit_test(test_code_added),
      cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_dirty_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
