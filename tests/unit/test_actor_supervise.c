/* Supervision (src/actors): an actor whose receive fails is stopped, its
 * supervisor is told with ACTOR_EXITED, its pending messages become dead
 * letters and its pending asks fail; every other actor goes on. */
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
#include "actor_test.h"

#define FAIL_AT 13

/* Records the ACTOR_EXITED reports it gets. */
typedef struct supervisor {
  uint64_t reports;
  vmx_msg_actor_exited_t last;
  vmx_addr_t last_src;
} supervisor_t;

static int supervisor_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  supervisor_t *s = state;
  if (msg->env.type == VMX_MSG_ACTOR_EXITED) {
    s->last = msg->body.actor_exited;
    s->last_src = msg->env.src;
    __atomic_add_fetch(&s->reports, 1, __ATOMIC_RELEASE);
  }
  return 0;
}

/* Handles PINGs (answering asks) until it sees FAIL_AT, then fails. */
typedef struct worker {
  uint64_t handled, stopped;
  int stop_reason;
} worker_t;

static int worker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  worker_t *w = state;
  if (msg->body.ping.value == FAIL_AT)
    return VMX_EIO;
  __atomic_add_fetch(&w->handled, 1, __ATOMIC_RELEASE);
  if (msg->env.corr) {
    vmx_msg_t r = VMX_MSG_INIT(PONG);
    return vmx_actor_reply(ctx, &r);
  }
  return 0;
}

static void worker_stopped(void *state, int reason) {
  worker_t *w = state;
  w->stop_reason = reason;
  __atomic_add_fetch(&w->stopped, 1, __ATOMIC_RELEASE);
}

static vmx_addr_t spawn(vmx_loop_t *loop, const char *name, vmx_actor_receive_fn fn,
                        vmx_actor_stop_fn stop, void *state, vmx_addr_t supervisor) {
  vmx_actor_def_t def = {.name = name, .receive = fn, .on_stop = stop, .state = state,
                         .supervisor = supervisor};
  vmx_addr_t a;
  assert_int_equal(vmx_actor_spawn(loop, &def, &a), 0);
  return a;
}

static vmx_msg_t ping(uint64_t v) {
  vmx_msg_t m = VMX_MSG_INIT(PING);
  m.body.ping.value = v;
  return m;
}

static void check_failure_report(supervisor_t *s, vmx_addr_t worker, const char *name) {
  wait_for(&s->reports, 1);
  assert_true(s->last.actor == worker);
  assert_true(s->last_src == worker);
  assert_string_equal(s->last.name.s, name);
  assert_int_equal(s->last.error, VMX_EIO);
  assert_int_equal(s->last.msg_type, VMX_MSG_PING);
}

static void test_a_failing_actor_is_stopped_and_reported_while_others_go_on(void **state) {
  world_t *w = *state;
  supervisor_t sup = {0};
  worker_t bad = {0}, good = {0};
  vmx_addr_t s = spawn(w->loop[0], "supervisor", supervisor_receive, NULL, &sup, 0);
  vmx_addr_t b = spawn(w->loop[1], "worker", worker_receive, worker_stopped, &bad, s);
  vmx_addr_t g = spawn(w->loop[1], "bystander", worker_receive, worker_stopped, &good, s);
  for (uint64_t v = 1; v <= 20; v++) {
    vmx_msg_t m = ping(v);
    assert_int_equal(vmx_bus_send_wait(&w->out, b, &m, 5 * SEC), 0);
    m = ping(100 + v);
    assert_int_equal(vmx_bus_send_wait(&w->out, g, &m, 5 * SEC), 0);
  }
  check_failure_report(&sup, b, "worker");
  wait_for(&bad.stopped, 1);
  assert_int_equal(bad.stop_reason, VMX_EIO);
  assert_int_equal(bad.handled, FAIL_AT - 1);
  wait_for(&good.handled, 20);
  /* The failed actor is gone: asks fail, messages are dead letters (the 7
   * after FAIL_AT plus this one). */
  vmx_msg_t req = ping(1), rep;
  assert_int_equal(vmx_bus_ask(&w->out, b, &req, &rep, 5 * SEC), VMX_ENOENT);
  vmx_loop_stats_t st;
  vmx_loop_stats_get(w->loop[1], &st);
  assert_int_equal(st.dead_letters, 20 - FAIL_AT + 1);
  assert_int_equal(st.actors_failed, 1);
  /* The bystander still answers. */
  req = ping(1);
  assert_int_equal(vmx_bus_ask(&w->out, g, &req, &rep, 5 * SEC), 0);
  assert_int_equal(good.stopped, 0);
  assert_int_equal(sup.reports, 1);
}

static void test_an_ask_that_makes_its_target_fail_gets_the_failure(void **state) {
  world_t *w = *state;
  supervisor_t sup = {0};
  worker_t bad = {0};
  vmx_addr_t s = spawn(w->loop[1], "supervisor", supervisor_receive, NULL, &sup, 0);
  vmx_addr_t b = spawn(w->loop[1], "asked", worker_receive, worker_stopped, &bad, s);
  vmx_msg_t req = ping(FAIL_AT), rep;
  assert_int_equal(vmx_bus_ask(&w->out, b, &req, &rep, 5 * SEC), VMX_EIO);
  check_failure_report(&sup, b, "asked"); /* supervisor on the same loop */
  wait_for(&bad.stopped, 1);
}

/* Asks its target (same loop) PING(value) and records the outcome. */
typedef struct asker {
  vmx_addr_t target;
  int rc;
  uint64_t asks;
} asker_t;

static int asker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  asker_t *a = state;
  vmx_msg_t req = ping(msg->body.ping.value), rep;
  a->rc = vmx_actor_ask(ctx, a->target, &req, &rep, SEC);
  __atomic_add_fetch(&a->asks, 1, __ATOMIC_RELEASE);
  return 0;
}

static void test_a_failure_inside_a_same_loop_ask_stops_only_the_callee(void **state) {
  world_t *w = *state;
  supervisor_t sup = {0};
  worker_t bad = {0};
  vmx_addr_t s = spawn(w->loop[1], "supervisor", supervisor_receive, NULL, &sup, 0);
  asker_t a = {.target = spawn(w->loop[0], "callee", worker_receive, worker_stopped, &bad, s)};
  vmx_addr_t aa = spawn(w->loop[0], "caller", asker_receive, NULL, &a, s);
  vmx_msg_t m = ping(1);
  assert_int_equal(vmx_bus_send(&w->out, aa, &m), 0);
  wait_for(&a.asks, 1);
  assert_int_equal(a.rc, 0);
  m = ping(FAIL_AT);
  assert_int_equal(vmx_bus_send(&w->out, aa, &m), 0);
  wait_for(&a.asks, 2);
  assert_int_equal(a.rc, VMX_EIO);
  check_failure_report(&sup, a.target, "callee");
  m = ping(2);
  assert_int_equal(vmx_bus_send(&w->out, aa, &m), 0);
  wait_for(&a.asks, 3);
  assert_int_equal(a.rc, VMX_ENOENT); /* the caller goes on; the callee is gone */
  assert_int_equal(sup.reports, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_a_failing_actor_is_stopped_and_reported_while_others_go_on, setup, teardown),
      cmocka_unit_test_setup_teardown(test_an_ask_that_makes_its_target_fail_gets_the_failure,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_failure_inside_a_same_loop_ask_stops_only_the_callee, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
