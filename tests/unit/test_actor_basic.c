/* The actor runtime's everyday behaviour (src/actors): delivery and order on
 * the same loop, across loops and from outside; asks (direct on one loop, by
 * message across loops); timers; taps; icount stamping; stop; hooks; stats. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/actor.h"
#include "actor_test.h"


/* ------------------------------------------------------------------ sink */

/* Counts PINGs and checks that each sender's seq and value only go up by 1. */
typedef struct sink {
  uint64_t count;
  struct {
    vmx_addr_t src;
    uint64_t seq, value;
  } from[8];
  unsigned nfrom;
  bool out_of_order;
  uint64_t last_icount;
  pthread_t thread;
} sink_t;

static int sink_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  sink_t *s = state;
  s->thread = pthread_self();
  if (msg->env.type != VMX_MSG_PING)
    return 0;
  unsigned i = 0;
  while (i < s->nfrom && s->from[i].src != msg->env.src)
    i++;
  if (i == s->nfrom && s->nfrom < 8) {
    s->from[s->nfrom++].src = msg->env.src;
  } else if (i < s->nfrom) {
    if (msg->env.seq <= s->from[i].seq || msg->body.ping.value != s->from[i].value + 1)
      s->out_of_order = true;
  }
  if (i < 8) {
    s->from[i].seq = msg->env.seq;
    s->from[i].value = msg->body.ping.value;
  }
  s->last_icount = msg->env.icount;
  __atomic_add_fetch(&s->count, 1, __ATOMIC_RELEASE);
  return 0;
}

static vmx_addr_t spawn(vmx_loop_t *loop, vmx_actor_receive_fn fn, void *state) {
  vmx_actor_def_t def = {.name = "test", .receive = fn, .state = state};
  vmx_addr_t a;
  assert_int_equal(vmx_actor_spawn(loop, &def, &a), 0);
  return a;
}

static vmx_msg_t ping(uint64_t value) {
  vmx_msg_t m = VMX_MSG_INIT(PING);
  m.body.ping.value = value;
  return m;
}

static void test_external_sends_arrive_in_order(void **state) {
  world_t *w = *state;
  sink_t s = {0};
  vmx_addr_t a = spawn(w->loop[0], sink_receive, &s);
  for (uint64_t i = 0; i < 20000; i++) {
    vmx_msg_t m = ping(i);
    assert_int_equal(vmx_bus_send_wait(&w->out, a, &m, 5 * SEC), 0);
  }
  wait_for(&s.count, 20000);
  assert_false(s.out_of_order);
  assert_int_equal(s.nfrom, 1);
  assert_true(s.last_icount == VMX_ICOUNT_NONE);
}

/* On PING(k): sends k PINGs to each destination, values 0..k-1. */
typedef struct fanout {
  vmx_addr_t dst[2];
  int rc;
} fanout_t;

static int fanout_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  fanout_t *f = state;
  for (uint64_t v = 0; v < msg->body.ping.value; v++) {
    for (int d = 0; d < 2; d++) {
      vmx_msg_t m = ping(v);
      int rc = vmx_actor_send(ctx, f->dst[d], &m);
      if (rc)
        f->rc = rc;
    }
  }
  return 0;
}

static void test_same_loop_and_cross_loop_sends_arrive_in_order(void **state) {
  world_t *w = *state;
  sink_t near = {0}, far = {0};
  fanout_t f = {{spawn(w->loop[0], sink_receive, &near), spawn(w->loop[1], sink_receive, &far)}, 0};
  vmx_addr_t fa = spawn(w->loop[0], fanout_receive, &f);
  vmx_msg_t m = ping(2000);
  assert_int_equal(vmx_bus_send(&w->out, fa, &m), 0);
  wait_for(&near.count, 2000);
  wait_for(&far.count, 2000);
  assert_int_equal(f.rc, 0);
  assert_false(near.out_of_order);
  assert_false(far.out_of_order);
  assert_true(near.from[0].src == fa && far.from[0].src == fa);
  assert_true(pthread_equal(near.thread, far.thread) == 0); /* two loop threads */
}

/* ------------------------------------------------------------------ asks */

typedef struct doubler {
  pthread_t thread;
  bool silent; /* answers nothing */
} doubler_t;

static int doubler_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  doubler_t *d = state;
  d->thread = pthread_self();
  if (d->silent || msg->env.type != VMX_MSG_PING)
    return 0;
  vmx_msg_t r = VMX_MSG_INIT(PONG);
  r.body.pong.value = msg->body.ping.value * 2;
  return vmx_actor_reply(ctx, &r);
}

/* On PING(v): asks `target` PING(v) and records what came back. */
typedef struct asker {
  vmx_addr_t target;
  int rc;
  uint64_t answer, corr;
  pthread_t thread;
  uint64_t done;
} asker_t;

static int asker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  asker_t *a = state;
  a->thread = pthread_self();
  vmx_msg_t req = ping(msg->body.ping.value), rep;
  a->rc = vmx_actor_ask(ctx, a->target, &req, &rep, 5 * SEC);
  a->answer = a->rc == 0 ? rep.body.pong.value : 0;
  a->corr = a->rc == 0 ? rep.env.corr : 0;
  __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
  return 0;
}

static void run_ask(world_t *w, vmx_loop_t *asker_loop, asker_t *a, uint64_t v) {
  vmx_addr_t aa = spawn(asker_loop, asker_receive, a);
  vmx_msg_t m = ping(v);
  assert_int_equal(vmx_bus_send(&w->out, aa, &m), 0);
  wait_for(&a->done, 1);
}

static void test_ask_on_the_same_loop_is_a_direct_call(void **state) {
  world_t *w = *state;
  doubler_t d = {0};
  asker_t a = {.target = spawn(w->loop[0], doubler_receive, &d)};
  run_ask(w, w->loop[0], &a, 21);
  assert_int_equal(a.rc, 0);
  assert_int_equal(a.answer, 42);
  assert_true(pthread_equal(a.thread, d.thread));
  assert_true(a.corr >> 63); /* same-loop token */
}

static void test_ask_across_loops_goes_by_message(void **state) {
  world_t *w = *state;
  doubler_t d = {0};
  asker_t a = {.target = spawn(w->loop[1], doubler_receive, &d)};
  run_ask(w, w->loop[0], &a, 50);
  assert_int_equal(a.rc, 0);
  assert_int_equal(a.answer, 100);
  assert_false(pthread_equal(a.thread, d.thread));
  assert_true(a.corr != 0 && !(a.corr >> 63));
}

static void test_ask_from_outside(void **state) {
  world_t *w = *state;
  doubler_t d = {0};
  vmx_addr_t da = spawn(w->loop[1], doubler_receive, &d);
  for (uint64_t v = 1; v <= 100; v++) {
    vmx_msg_t req = ping(v), rep;
    assert_int_equal(vmx_bus_ask(&w->out, da, &req, &rep, 5 * SEC), 0);
    assert_int_equal(rep.body.pong.value, 2 * v);
    assert_true(rep.env.src == da && rep.env.dst == w->out.addr);
  }
}

static void test_ask_errors(void **state) {
  world_t *w = *state;
  doubler_t quiet = {.silent = true};
  vmx_addr_t q0 = spawn(w->loop[0], doubler_receive, &quiet);
  vmx_addr_t q1 = spawn(w->loop[1], doubler_receive, &quiet);
  asker_t a = {.target = q0};
  run_ask(w, w->loop[0], &a, 1);
  assert_int_equal(a.rc, VMX_ENOSYS); /* same loop, no reply */
  a = (asker_t){.target = q1};
  run_ask(w, w->loop[0], &a, 1);
  assert_int_equal(a.rc, VMX_ENOSYS); /* other loop, no reply */
  vmx_msg_t req = ping(1), rep;
  assert_int_equal(vmx_bus_ask(&w->out, q1, &req, &rep, 5 * SEC), VMX_ENOSYS);
  vmx_addr_t nobody = vmx_addr_make(1, 77, 12345);
  req = ping(1);
  assert_int_equal(vmx_bus_ask(&w->out, nobody, &req, &rep, 5 * SEC), VMX_ENOENT);
  a = (asker_t){.target = vmx_addr_make(0, 77, 12345)};
  run_ask(w, w->loop[0], &a, 1);
  assert_int_equal(a.rc, VMX_ENOENT);
}

/* ----------------------------------------------------------------- timers */

typedef struct ticker {
  uint64_t ticks, one_shots, started;
  uint64_t repeat_id;
  int rc;
} ticker_t;

static int ticker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  ticker_t *t = state;
  if (msg->env.type == VMX_MSG_EMPTY) {
    vmx_msg_t tick = ping(0), once = VMX_MSG_INIT(PONG);
    uint64_t id;
    t->rc = vmx_actor_timer_start(ctx, 1, 2, &tick, &t->repeat_id);
    if (!t->rc)
      t->rc = vmx_actor_timer_start(ctx, 3, 0, &once, &id);
    __atomic_store_n(&t->started, 1, __ATOMIC_RELEASE);
  } else if (msg->env.type == VMX_MSG_PONG) {
    __atomic_add_fetch(&t->one_shots, 1, __ATOMIC_RELEASE);
  } else if (msg->env.type == VMX_MSG_PING) {
    if (msg->env.src != vmx_actor_self(ctx))
      t->rc = VMX_EINVAL;
    if (__atomic_add_fetch(&t->ticks, 1, __ATOMIC_RELEASE) == 5)
      t->rc = vmx_actor_timer_stop(ctx, t->repeat_id);
  }
  return 0;
}

static void test_timer_ticks_arrive_as_messages(void **state) {
  world_t *w = *state;
  ticker_t t = {0};
  vmx_addr_t a = spawn(w->loop[0], ticker_receive, &t);
  vmx_msg_t go = VMX_MSG_INIT(EMPTY);
  assert_int_equal(vmx_bus_send(&w->out, a, &go), 0);
  wait_for(&t.ticks, 5);
  wait_for(&t.one_shots, 1);
  usleep(30000);
  assert_int_equal(t.rc, 0);
  assert_int_equal(t.ticks, 5); /* stopped at the fifth */
  assert_int_equal(t.one_shots, 1);
}

/* ------------------------------------------------------------------- taps */

typedef struct tap_log {
  uint64_t pings, others, bad;
} tap_log_t;

static void tap(void *arg, unsigned loop, const vmx_msg_t *msg, const uint8_t *bytes, size_t len) {
  tap_log_t *t = arg;
  vmx_msg_t again;
  if (vmx_msg_decode(bytes, len, &again, NULL) != 0 || again.env.seq != msg->env.seq)
    __atomic_add_fetch(&t->bad, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(msg->env.type == VMX_MSG_PING ? &t->pings : &t->others, 1, __ATOMIC_RELAXED);
}

static void test_taps_see_the_topics_they_subscribed_to(void **state) {
  world_t *w = *state;
  tap_log_t log = {0};
  unsigned id;
  assert_int_equal(vmx_bus_subscribe(w->bus, 0, tap, &log, &id), VMX_EINVAL);
  assert_int_equal(vmx_bus_subscribe(w->bus, VMX_TOPIC_BIT(TEST), tap, &log, &id), 0);
  sink_t s = {0};
  vmx_addr_t a = spawn(w->loop[1], sink_receive, &s);
  for (uint64_t i = 0; i < 100; i++) {
    vmx_msg_t m = ping(i);
    assert_int_equal(vmx_bus_send_wait(&w->out, a, &m, 5 * SEC), 0);
  }
  vmx_msg_t stop = VMX_MSG_INIT(ACTOR_STOP); /* topic SYSTEM: not tapped */
  assert_int_equal(vmx_bus_send(&w->out, a, &stop), 0);
  wait_for(&s.count, 100);
  /* Asks are tapped too, request and reply. */
  doubler_t d = {0};
  vmx_addr_t da = spawn(w->loop[0], doubler_receive, &d);
  vmx_msg_t req = ping(1), rep;
  assert_int_equal(vmx_bus_ask(&w->out, da, &req, &rep, 5 * SEC), 0);
  assert_int_equal(vmx_bus_unsubscribe(w->bus, id), 0);
  assert_int_equal(vmx_bus_unsubscribe(w->bus, id), VMX_EINVAL);
  req = ping(2);
  assert_int_equal(vmx_bus_ask(&w->out, da, &req, &rep, 5 * SEC), 0);
  assert_int_equal(log.pings, 101);
  assert_int_equal(log.others, 1); /* the PONG */
  assert_int_equal(log.bad, 0);
}

/* ------------------------------------------------------ icount, stop, hooks */

typedef struct stamper {
  vmx_addr_t dst;
} stamper_t;

static int stamper_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_msg_t m = ping(0);
  return vmx_actor_send(ctx, ((stamper_t *)state)->dst, &m);
}

static void test_icount_is_stamped_into_envelopes(void **state) {
  world_t *w = *state;
  sink_t s = {0};
  stamper_t st = {spawn(w->loop[1], sink_receive, &s)};
  uint64_t icount = 123456789;
  vmx_actor_def_t def = {.name = "vcpu0", .receive = stamper_receive, .state = &st,
                         .icount = &icount};
  vmx_addr_t a;
  assert_int_equal(vmx_actor_spawn(w->loop[0], &def, &a), 0);
  vmx_msg_t m = ping(0);
  assert_int_equal(vmx_bus_send(&w->out, a, &m), 0);
  wait_for(&s.count, 1);
  assert_int_equal(s.last_icount, 123456789);
  uint64_t host_icount = 77;
  w->out.icount = &host_icount;
  m = ping(1);
  assert_int_equal(vmx_bus_send(&w->out, st.dst, &m), 0);
  wait_for(&s.count, 2);
  assert_int_equal(s.last_icount, 77);
}

typedef struct stoppable {
  int reason;
  uint64_t stopped;
} stoppable_t;

static void record_stop(void *state, int reason) {
  stoppable_t *s = state;
  s->reason = reason;
  __atomic_add_fetch(&s->stopped, 1, __ATOMIC_RELEASE);
}

static int stop_self_on_ping(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  return msg->env.type == VMX_MSG_PING ? vmx_actor_stop(ctx, vmx_actor_self(ctx), VMX_EIO) : 0;
}

static void test_actors_stop_by_message_or_by_themselves(void **state) {
  world_t *w = *state;
  stoppable_t s1 = {0}, s2 = {0};
  vmx_actor_def_t def = {.name = "s1", .receive = stop_self_on_ping, .on_stop = record_stop,
                         .state = &s1};
  vmx_addr_t a1, a2;
  assert_int_equal(vmx_actor_spawn(w->loop[0], &def, &a1), 0);
  def.state = &s2;
  assert_int_equal(vmx_actor_spawn(w->loop[1], &def, &a2), 0);
  vmx_msg_t stop = VMX_MSG_INIT(ACTOR_STOP);
  stop.body.actor_stop.reason = VMX_ERANGE;
  assert_int_equal(vmx_bus_send(&w->out, a1, &stop), 0);
  vmx_msg_t m = ping(1);
  assert_int_equal(vmx_bus_send(&w->out, a2, &m), 0);
  wait_for(&s1.stopped, 1);
  wait_for(&s2.stopped, 1);
  assert_int_equal(s1.reason, VMX_ERANGE);
  assert_int_equal(s2.reason, VMX_EIO);
  /* Later messages are dead letters, counted where they were to go. */
  vmx_loop_stats_t before, after;
  vmx_loop_stats_get(w->loop[1], &before);
  m = ping(2);
  assert_int_equal(vmx_bus_send(&w->out, a2, &m), 0);
  for (int i = 0; i < 1000; i++) {
    vmx_loop_stats_get(w->loop[1], &after);
    if (after.dead_letters > before.dead_letters)
      break;
    usleep(1000);
  }
  assert_int_equal(after.dead_letters, before.dead_letters + 1);
  assert_int_equal(s2.stopped, 1);
}

typedef struct hooks {
  pthread_t thread;
  unsigned index;
  uint64_t exits, threads_ended;
  uint64_t msgs_in;
} hooks_t;

static void on_start(vmx_loop_t *loop, void *arg) {
  hooks_t *h = arg;
  h->thread = pthread_self();
  h->index = vmx_loop_index(loop);
}

static void on_exit_actor(vmx_loop_t *loop, const vmx_actor_info_t *info, void *arg) {
  hooks_t *h = arg;
  h->exits++;
  h->msgs_in += info->stats.msgs_in;
}

static void on_end(vmx_loop_t *loop, const vmx_loop_stats_t *stats, void *arg) {
  ((hooks_t *)arg)->threads_ended++;
}

static void test_hooks_run_on_the_loop_thread_and_see_final_counters(void **state) {
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  hooks_t h = {0};
  vmx_loop_options_t o = {.name = "hooked", .on_thread_start = on_start,
                          .on_actor_exit = on_exit_actor, .on_thread_exit = on_end,
                          .hook_arg = &h};
  vmx_loop_t *loop;
  assert_int_equal(vmx_loop_start(bus, &o, &loop), 0);
  assert_string_equal(vmx_loop_name(loop), "hooked");
  assert_false(pthread_equal(h.thread, pthread_self()));
  assert_int_equal(h.index, vmx_loop_index(loop));
  sink_t s = {0};
  vmx_addr_t a = spawn(loop, sink_receive, &s);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  for (uint64_t i = 0; i < 10; i++) {
    vmx_msg_t m = ping(i);
    assert_int_equal(vmx_bus_send(&out, a, &m), 0);
  }
  wait_for(&s.count, 10);
  vmx_loop_stats_t st;
  vmx_loop_stats_get(loop, &st);
  assert_int_equal(st.msgs_in, 10);
  assert_int_equal(st.actors_spawned, 1);
  assert_true(st.ring_hwm >= 1);
  assert_int_equal(vmx_loop_stop_all(bus, 5 * SEC), 0);
  assert_true(pthread_equal(s.thread, h.thread));
  assert_int_equal(h.exits, 1);
  assert_int_equal(h.msgs_in, 10);
  assert_int_equal(h.threads_ended, 1);
  vmx_bus_close(bus);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_external_sends_arrive_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_same_loop_and_cross_loop_sends_arrive_in_order, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ask_on_the_same_loop_is_a_direct_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ask_across_loops_goes_by_message, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ask_from_outside, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ask_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_ticks_arrive_as_messages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_taps_see_the_topics_they_subscribed_to, setup, teardown),
      cmocka_unit_test_setup_teardown(test_icount_is_stamped_into_envelopes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_actors_stop_by_message_or_by_themselves, setup,
                                      teardown),
      cmocka_unit_test(test_hooks_run_on_the_loop_thread_and_see_final_counters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
