/* The bus without the actor runtime (src/bus/bus.c): routing to endpoints,
 * back-pressure, wake-ups, kicks, sequence numbers, stopping senders,
 * quiescence and the ask records. The test thread plays the consumer. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus/bus.h"

typedef struct fixture {
  vmx_bus_t *bus;
  vmx_bus_endpoint_t *ep;
  unsigned wakes;
  uint32_t kick;
  vmx_bus_sender_t sender;
} fixture_t;

static void count_wake(void *arg) { __atomic_add_fetch(&((fixture_t *)arg)->wakes, 1, __ATOMIC_RELAXED); }

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_int_equal(vmx_bus_init(&f->bus, NULL), 0);
  vmx_bus_endpoint_options_t o = {.ring_slots = 3, .wake = count_wake, .wake_arg = f,
                                  .kick = &f->kick};
  assert_int_equal(vmx_bus_endpoint_open(f->bus, &o, &f->ep), 0);
  assert_int_equal(f->ep->index, 0);
  vmx_bus_sender_init(f->bus, &f->sender);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  vmx_bus_close(f->bus);
  free(f);
  return 0;
}

static vmx_msg_t ping(uint64_t value) {
  vmx_msg_t m = VMX_MSG_INIT(PING);
  m.body.ping.value = value;
  return m;
}

static vmx_msg_t pop(fixture_t *f) {
  vmx_ring_slot_t slot;
  assert_true(vmx_ring_pop(&f->ep->ring, &slot));
  vmx_msg_t m;
  assert_int_equal(vmx_msg_decode(slot.bytes, slot.len, &m, NULL), 0);
  return m;
}

static void test_send_routes_by_the_loop_in_the_address(void **state) {
  fixture_t *f = *state;
  vmx_addr_t dst = vmx_addr_make(0, 5, 9);
  vmx_msg_t m = ping(41);
  assert_int_equal(vmx_bus_send(&f->sender, dst, &m), 0);
  vmx_msg_t got = pop(f);
  assert_int_equal(got.body.ping.value, 41);
  assert_true(got.env.dst == dst);
  assert_true(got.env.src == f->sender.addr);
  assert_int_equal(vmx_addr_loop(got.env.src), VMX_ADDR_EXTERNAL_LOOP);
  assert_int_equal(got.env.seq, 1);
  assert_true(got.env.icount == VMX_ICOUNT_NONE);
  m = ping(1);
  assert_int_equal(vmx_bus_send(&f->sender, vmx_addr_make(1, 0, 1), &m), VMX_ENOENT);
}

static void test_full_ring_is_eagain_counted_and_seq_stays_gapless(void **state) {
  fixture_t *f = *state;
  vmx_addr_t dst = vmx_addr_make(0, 1, 1);
  for (int i = 0; i < 3; i++) {
    vmx_msg_t m = ping(i);
    assert_int_equal(vmx_bus_send(&f->sender, dst, &m), 0);
  }
  vmx_msg_t m = ping(3);
  assert_int_equal(vmx_bus_send(&f->sender, dst, &m), VMX_EAGAIN);
  assert_int_equal(vmx_bus_send(&f->sender, dst, &m), VMX_EAGAIN);
  assert_int_equal(f->ep->backpressure, 2);
  assert_int_equal(pop(f).env.seq, 1);
  assert_int_equal(vmx_bus_send(&f->sender, dst, &m), 0);
  assert_int_equal(pop(f).env.seq, 2);
  assert_int_equal(pop(f).env.seq, 3);
  vmx_msg_t last = pop(f);
  assert_int_equal(last.env.seq, 4); /* the refused attempts used no number */
  assert_int_equal(last.body.ping.value, 3);
}

static void test_wake_is_called_once_until_the_consumer_may_sleep(void **state) {
  fixture_t *f = *state;
  vmx_addr_t dst = vmx_addr_make(0, 1, 1);
  vmx_msg_t m = ping(0);
  assert_int_equal(vmx_bus_send(&f->sender, dst, &m), 0);
  assert_int_equal(vmx_bus_send(&f->sender, dst, &m), 0);
  assert_int_equal(f->wakes, 1);
  pop(f);
  assert_false(vmx_bus_endpoint_may_sleep(f->ep)); /* one message still there */
  pop(f);
  assert_true(vmx_bus_endpoint_may_sleep(f->ep));
  assert_int_equal(vmx_bus_send(&f->sender, dst, &m), 0);
  assert_int_equal(f->wakes, 2);
}

static void test_every_send_raises_the_kick_flag(void **state) {
  fixture_t *f = *state;
  vmx_msg_t m = ping(0);
  assert_int_equal(f->kick, 0);
  assert_int_equal(vmx_bus_send(&f->sender, vmx_addr_make(0, 1, 1), &m), 0);
  assert_int_equal(f->kick, 1);
  f->kick = 0;
  assert_int_equal(vmx_bus_send(&f->sender, vmx_addr_make(0, 1, 1), &m), 0);
  assert_int_equal(f->kick, 1);
}

static void *drain_later(void *arg) {
  fixture_t *f = arg;
  usleep(20000);
  vmx_ring_slot_t slot;
  while (!vmx_ring_pop(&f->ep->ring, &slot))
    ;
  return NULL;
}

static void test_send_wait_waits_for_room_or_times_out(void **state) {
  fixture_t *f = *state;
  vmx_addr_t dst = vmx_addr_make(0, 1, 1);
  vmx_msg_t m = ping(0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(vmx_bus_send(&f->sender, dst, &m), 0);
  assert_int_equal(vmx_bus_send_wait(&f->sender, dst, &m, 1000000), VMX_EAGAIN);
  pthread_t th;
  pthread_create(&th, NULL, drain_later, f);
  assert_int_equal(vmx_bus_send_wait(&f->sender, dst, &m, 5000000000u), 0);
  pthread_join(th, NULL);
  assert_int_equal(f->ep->backpressure, 2); /* once per waiting message */
}

static void test_closed_endpoint_and_stopping_bus_refuse(void **state) {
  fixture_t *f = *state;
  vmx_msg_t m = ping(0);
  vmx_bus_endpoint_close(f->ep);
  assert_int_equal(vmx_bus_send(&f->sender, vmx_addr_make(0, 1, 1), &m), VMX_ENOENT);
  vmx_bus_endpoint_t *ep2;
  vmx_bus_endpoint_options_t o = {.wake = count_wake, .wake_arg = f};
  assert_int_equal(vmx_bus_endpoint_open(f->bus, &o, &ep2), 0);
  assert_int_equal(vmx_bus_send(&f->sender, vmx_addr_make(1, 1, 1), &m), 0);
  assert_false(vmx_bus_stopping(f->bus));
  vmx_bus_stop_senders(f->bus);
  assert_true(vmx_bus_stopping(f->bus));
  assert_int_equal(vmx_bus_send(&f->sender, vmx_addr_make(1, 1, 1), &m), VMX_ENOENT);
  /* Actors (not external senders) may still send while the bus drains. */
  m.env.dst = vmx_addr_make(1, 1, 1);
  m.env.src = vmx_addr_make(1, 2, 2);
  assert_int_equal(vmx__bus_post(f->bus, &m, false), 0);
}

static void test_quiescent_only_when_every_message_is_finished(void **state) {
  fixture_t *f = *state;
  assert_true(vmx_bus_quiescent(f->bus));
  vmx_msg_t m = ping(0);
  assert_int_equal(vmx_bus_send(&f->sender, vmx_addr_make(0, 1, 1), &m), 0);
  assert_false(vmx_bus_quiescent(f->bus));
  pop(f);
  assert_false(vmx_bus_quiescent(f->bus)); /* popped is not finished */
  f->ep->ring_done++;
  assert_true(vmx_bus_quiescent(f->bus));
  f->ep->local_in++;
  assert_false(vmx_bus_quiescent(f->bus));
  f->ep->local_done++;
  assert_true(vmx_bus_quiescent(f->bus));
}

/* Answers the first ask in the ring from another thread. */
static void *answer(void *arg) {
  fixture_t *f = arg;
  vmx_ring_slot_t slot;
  while (!vmx_ring_pop(&f->ep->ring, &slot))
    ;
  vmx_msg_t req, rep = VMX_MSG_INIT(PONG);
  assert_int_equal(vmx_msg_decode(slot.bytes, slot.len, &req, NULL), 0);
  rep.body.pong.value = req.body.ping.value * 2;
  rep.env.corr = req.env.corr;
  assert_int_equal(vmx__bus_ask_complete(f->bus, req.env.corr, 0, &rep), 0);
  /* A second answer to the same ask is refused. */
  assert_int_equal(vmx__bus_ask_complete(f->bus, req.env.corr, 0, &rep), VMX_ENOENT);
  return NULL;
}

static void test_ask_gets_the_answer_or_times_out(void **state) {
  fixture_t *f = *state;
  pthread_t th;
  pthread_create(&th, NULL, answer, f);
  vmx_msg_t req = ping(21), rep;
  assert_int_equal(vmx_bus_ask(&f->sender, vmx_addr_make(0, 1, 1), &req, &rep, 5000000000u), 0);
  pthread_join(th, NULL);
  assert_int_equal(rep.env.type, VMX_MSG_PONG);
  assert_int_equal(rep.body.pong.value, 42);
  assert_true(req.env.corr != 0);
  /* Nobody answers this one; a late answer is refused. */
  req = ping(1);
  assert_int_equal(vmx_bus_ask(&f->sender, vmx_addr_make(0, 1, 1), &req, &rep, 2000000),
                   VMX_EAGAIN);
  assert_int_equal(vmx__bus_ask_complete(f->bus, req.env.corr, 0, &rep), VMX_ENOENT);
  assert_int_equal(vmx__bus_ask_complete(f->bus, 0, 0, &rep), VMX_ENOENT);
  assert_int_equal(vmx__bus_ask_complete(f->bus, UINT64_MAX, 0, &rep), VMX_ENOENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_send_routes_by_the_loop_in_the_address, setup, teardown),
      cmocka_unit_test_setup_teardown(test_full_ring_is_eagain_counted_and_seq_stays_gapless, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_wake_is_called_once_until_the_consumer_may_sleep, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_every_send_raises_the_kick_flag, setup, teardown),
      cmocka_unit_test_setup_teardown(test_send_wait_waits_for_room_or_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_closed_endpoint_and_stopping_bus_refuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_quiescent_only_when_every_message_is_finished, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ask_gets_the_answer_or_times_out, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
