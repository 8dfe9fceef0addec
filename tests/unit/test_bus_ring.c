/* The bus ring (src/bus/ring.c): bounded, FIFO, and with several producers
 * it loses nothing and keeps each producer's order. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/bus.h"

static void test_capacity_rounds_up_to_a_power_of_two_less_one(void **state) {
  vmx_ring_t r;
  assert_int_equal(vmx_ring_init(&r, 5), 0);
  assert_int_equal(vmx_ring_capacity(&r), 7);
  vmx_ring_close(&r);
  assert_int_equal(vmx_ring_init(&r, 0), VMX_EINVAL);
  assert_int_equal(vmx_ring_init(&r, (1u << 24) + 1), VMX_EINVAL);
}

static void test_full_ring_refuses_and_keeps_fifo_order(void **state) {
  vmx_ring_t r;
  assert_int_equal(vmx_ring_init(&r, 3), 0);
  for (uint8_t i = 0; i < 3; i++)
    assert_true(vmx_ring_push(&r, &i, 1));
  uint8_t x = 99;
  assert_false(vmx_ring_push(&r, &x, 1));
  assert_int_equal(vmx_ring_depth(&r), 3);
  assert_int_equal(vmx_ring_produced(&r), 3);
  vmx_ring_slot_t slot;
  for (uint8_t i = 0; i < 3; i++) {
    assert_true(vmx_ring_pop(&r, &slot));
    assert_int_equal(slot.len, 1);
    assert_int_equal(slot.bytes[0], i);
    assert_true(vmx_ring_push(&r, &x, 1)); /* room again after each pop */
  }
  assert_int_equal(vmx_ring_depth(&r), 3);
  vmx_ring_close(&r);
}

enum { PRODUCERS = 4, PER_PRODUCER = 200000 };

typedef struct producer {
  vmx_ring_t *ring;
  uint32_t id;
  uint64_t refused;
} producer_t;

static void *produce(void *arg) {
  producer_t *p = arg;
  for (uint32_t i = 0; i < PER_PRODUCER; i++) {
    uint32_t rec[2] = {p->id, i};
    while (!vmx_ring_push(p->ring, rec, sizeof rec)) {
      p->refused++;
      sched_yield();
    }
  }
  return NULL;
}

static void test_many_producers_lose_nothing_and_keep_order(void **state) {
  vmx_ring_t r;
  assert_int_equal(vmx_ring_init(&r, 255), 0);
  producer_t prod[PRODUCERS];
  pthread_t th[PRODUCERS];
  for (uint32_t i = 0; i < PRODUCERS; i++) {
    prod[i] = (producer_t){&r, i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, produce, &prod[i]), 0);
  }
  uint32_t next[PRODUCERS] = {0};
  uint64_t total = 0;
  vmx_ring_slot_t slot;
  while (total < (uint64_t)PRODUCERS * PER_PRODUCER) {
    if (!vmx_ring_pop(&r, &slot)) {
      sched_yield();
      continue;
    }
    uint32_t rec[2];
    assert_int_equal(slot.len, sizeof rec);
    memcpy(rec, slot.bytes, sizeof rec);
    assert_true(rec[0] < PRODUCERS);
    if (rec[1] != next[rec[0]])
      fail_msg("producer %u: got %u, expected %u", rec[0], rec[1], next[rec[0]]);
    next[rec[0]]++;
    total++;
  }
  for (uint32_t i = 0; i < PRODUCERS; i++)
    pthread_join(th[i], NULL);
  assert_false(vmx_ring_pop(&r, &slot));
  for (uint32_t i = 0; i < PRODUCERS; i++)
    assert_int_equal(next[i], PER_PRODUCER);
  assert_int_equal(vmx_ring_produced(&r), (uint32_t)total);
  vmx_ring_close(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_capacity_rounds_up_to_a_power_of_two_less_one),
      cmocka_unit_test(test_full_ring_refuses_and_keeps_fifo_order),
      cmocka_unit_test(test_many_producers_lose_nothing_and_keep_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
