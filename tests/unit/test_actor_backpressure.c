/* Back-pressure (src/actors, src/bus): a full ring or mailbox refuses the
 * send with VMX_EAGAIN, counts it, and loses nothing; a full mailbox holds
 * the ring back instead of dropping. */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/actor.h"
#define ACTOR_TEST_OWN_WORLD
#include "actor_test.h"


typedef struct world {
  vmx_bus_t *bus;
  vmx_loop_t *fast, *blocked; /* `blocked` has a 15-slot ring */
  vmx_bus_sender_t out;
  sem_t release, inside;
  vmx_addr_t blocker;
} world_t;

/* Holds its loop's thread until the test releases it. */
static int blocker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  world_t *w = state;
  sem_post(&w->inside);
  sem_wait(&w->release);
  return 0;
}

static int setup(void **state) {
  world_t *w = calloc(1, sizeof *w);
  assert_int_equal(vmx_bus_init(&w->bus, NULL), 0);
  assert_int_equal(vmx_loop_start(w->bus, NULL, &w->fast), 0);
  vmx_loop_options_t o = {.ring_slots = 15};
  assert_int_equal(vmx_loop_start(w->bus, &o, &w->blocked), 0);
  vmx_bus_sender_init(w->bus, &w->out);
  sem_init(&w->release, 0, 0);
  sem_init(&w->inside, 0, 0);
  vmx_actor_def_t def = {.name = "blocker", .receive = blocker_receive, .state = w};
  assert_int_equal(vmx_actor_spawn(w->blocked, &def, &w->blocker), 0);
  *state = w;
  return 0;
}

static int teardown(void **state) {
  world_t *w = *state;
  assert_int_equal(vmx_loop_stop_all(w->bus, 5 * SEC), 0);
  vmx_bus_close(w->bus);
  sem_destroy(&w->release);
  sem_destroy(&w->inside);
  free(w);
  return 0;
}

static void block(world_t *w) {
  vmx_msg_t m = VMX_MSG_INIT(EMPTY);
  assert_int_equal(vmx_bus_send(&w->out, w->blocker, &m), 0);
  sem_wait(&w->inside);
}

typedef struct counter {
  uint64_t count, next;
  bool out_of_order;
  unsigned delay_us;
} counter_t;

static int counter_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  counter_t *c = state;
  if (msg->env.type == VMX_MSG_PING) {
    if (msg->body.ping.value != c->next)
      c->out_of_order = true;
    c->next = msg->body.ping.value + 1;
  }
  if (c->delay_us)
    usleep(c->delay_us);
  __atomic_add_fetch(&c->count, 1, __ATOMIC_RELEASE);
  return 0;
}

static vmx_addr_t spawn_counter(vmx_loop_t *loop, counter_t *c, unsigned mailbox_max) {
  vmx_actor_def_t def = {.name = "counter", .receive = counter_receive, .state = c,
                         .mailbox_max = mailbox_max};
  vmx_addr_t a;
  assert_int_equal(vmx_actor_spawn(loop, &def, &a), 0);
  return a;
}

static vmx_msg_t ping(uint64_t v) {
  vmx_msg_t m = VMX_MSG_INIT(PING);
  m.body.ping.value = v;
  return m;
}

static void test_a_full_ring_refuses_senders_until_its_loop_drains(void **state) {
  world_t *w = *state;
  counter_t c = {0};
  vmx_addr_t a = spawn_counter(w->blocked, &c, 0);
  block(w);
  uint64_t accepted = 0;
  int rc;
  for (;;) {
    vmx_msg_t m = ping(accepted);
    if ((rc = vmx_bus_send(&w->out, a, &m)) != 0)
      break;
    accepted++;
  }
  assert_int_equal(rc, VMX_EAGAIN);
  assert_int_equal(accepted, 15);
  vmx_msg_t m = ping(accepted);
  assert_int_equal(vmx_bus_send(&w->out, a, &m), VMX_EAGAIN);
  vmx_loop_stats_t st;
  vmx_loop_stats_get(w->blocked, &st);
  assert_int_equal(st.backpressure, 2);
  sem_post(&w->release);
  wait_for(&c.count, accepted);
  /* Nothing was lost or reordered, and the ring takes messages again. */
  assert_false(c.out_of_order);
  m = ping(accepted);
  assert_int_equal(vmx_bus_send_wait(&w->out, a, &m, 5 * SEC), 0);
  wait_for(&c.count, accepted + 1);
  assert_false(c.out_of_order);
}

/* On PING(n): sends n PINGs to dst and records how many went. */
typedef struct flooder {
  vmx_addr_t dst;
  uint64_t sent, refused, done;
  vmx_actor_stats_t stats;
} flooder_t;

static int flooder_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  flooder_t *f = state;
  for (uint64_t i = 0; i < msg->body.ping.value; i++) {
    vmx_msg_t m = ping(f->sent);
    int rc = vmx_actor_send(ctx, f->dst, &m);
    if (rc == 0)
      f->sent++;
    else if (rc == VMX_EAGAIN)
      f->refused++;
    else
      return rc;
  }
  vmx_actor_stats_get(ctx, &f->stats);
  __atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
  return 0;
}

static void flood(world_t *w, vmx_loop_t *loop, flooder_t *f, uint64_t n) {
  vmx_actor_def_t def = {.name = "flooder", .receive = flooder_receive, .state = f};
  vmx_addr_t a;
  assert_int_equal(vmx_actor_spawn(loop, &def, &a), 0);
  vmx_msg_t m = ping(n);
  assert_int_equal(vmx_bus_send(&w->out, a, &m), 0);
  wait_for(&f->done, 1);
}

static void test_a_full_mailbox_refuses_same_loop_senders(void **state) {
  world_t *w = *state;
  counter_t c = {0};
  flooder_t f = {.dst = spawn_counter(w->fast, &c, 8)};
  flood(w, w->fast, &f, 20);
  assert_int_equal(f.sent, 8);
  assert_int_equal(f.refused, 12);
  assert_int_equal(f.stats.backpressure, 12);
  assert_int_equal(f.stats.msgs_out, 8);
  wait_for(&c.count, 8);
  vmx_loop_stats_t st;
  vmx_loop_stats_get(w->fast, &st);
  assert_int_equal(st.backpressure, 12);
  assert_int_equal(st.mailbox_hwm, 8);
}

static void test_a_full_ring_refuses_actors_on_other_loops(void **state) {
  world_t *w = *state;
  counter_t c = {0};
  flooder_t f = {.dst = spawn_counter(w->blocked, &c, 0)};
  block(w);
  flood(w, w->fast, &f, 40);
  assert_int_equal(f.sent, 15);
  assert_int_equal(f.refused, 25);
  sem_post(&w->release);
  wait_for(&c.count, 15);
  assert_false(c.out_of_order);
  vmx_loop_stats_t st;
  vmx_loop_stats_get(w->blocked, &st);
  assert_int_equal(st.backpressure, 25);
}

static void test_a_full_mailbox_holds_the_ring_back_without_loss(void **state) {
  world_t *w = *state;
  counter_t slow = {.delay_us = 20}, other = {0};
  vmx_addr_t a = spawn_counter(w->blocked, &slow, 4);
  vmx_addr_t b = spawn_counter(w->blocked, &other, 0);
  for (uint64_t i = 0; i < 500; i++) {
    vmx_msg_t m = ping(i);
    assert_int_equal(vmx_bus_send_wait(&w->out, a, &m, 5 * SEC), 0);
    m = ping(i);
    assert_int_equal(vmx_bus_send_wait(&w->out, b, &m, 5 * SEC), 0);
  }
  wait_for(&slow.count, 500);
  wait_for(&other.count, 500);
  assert_false(slow.out_of_order);
  assert_false(other.out_of_order);
  vmx_loop_stats_t st;
  vmx_loop_stats_get(w->blocked, &st);
  assert_true(st.ring_stalls > 0);
  assert_true(st.backpressure > 0); /* send_wait had to wait */
  assert_int_equal(st.dead_letters, 0);
  /* The loop's high-water mark is over all its mailboxes: `other` has the
   * default limit and may hold more than `slow`'s 4 when the loop runs late. */
  assert_true(st.mailbox_hwm >= 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_full_ring_refuses_senders_until_its_loop_drains,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_full_mailbox_refuses_same_loop_senders, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_full_ring_refuses_actors_on_other_loops, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_full_mailbox_holds_the_ring_back_without_loss, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
