/* Shutdown (vmx_loop_stop_all): every message already sent is delivered,
 * including what handlers send while the loops drain; every actor is stopped
 * once; senders from outside are refused; timers stop; endless traffic is
 * cut off at the deadline with the drop counted. */
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

#include "actors/actor.h"

#define SEC 1000000000ull

typedef struct sink {
  uint64_t count;
  unsigned spin; /* busy work per message, to build a backlog */
  uint64_t stopped;
  int stop_reason;
} sink_t;

static int sink_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  sink_t *s = state;
  for (volatile unsigned i = 0; i < s->spin; i++)
    ;
  __atomic_add_fetch(&s->count, 1, __ATOMIC_RELEASE);
  return 0;
}

static void sink_stopped(void *state, int reason) {
  sink_t *s = state;
  s->stop_reason = reason;
  __atomic_add_fetch(&s->stopped, 1, __ATOMIC_RELEASE);
}

/* Forwards every message to dst (another loop), retrying on EAGAIN. */
typedef struct relay {
  vmx_addr_t dst;
  uint64_t forwarded;
} relay_t;

static int relay_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  relay_t *r = state;
  vmx_msg_t m = *msg;
  int rc;
  /* A relay may not drop; spinning on a full ring is this test's choice. */
  while ((rc = vmx_actor_send(ctx, r->dst, &m)) == VMX_EAGAIN)
    usleep(50);
  if (rc == 0)
    r->forwarded++;
  return rc;
}

static vmx_addr_t spawn(vmx_loop_t *loop, vmx_actor_receive_fn fn, vmx_actor_stop_fn stop,
                        void *state) {
  vmx_actor_def_t def = {.name = "t", .receive = fn, .on_stop = stop, .state = state};
  vmx_addr_t a;
  assert_int_equal(vmx_actor_spawn(loop, &def, &a), 0);
  return a;
}

typedef struct feeder {
  vmx_bus_t *bus;
  vmx_addr_t dst;
  uint64_t n, sent;
} feeder_t;

static void *feed(void *arg) {
  feeder_t *f = arg;
  vmx_bus_sender_t s;
  vmx_bus_sender_init(f->bus, &s);
  for (uint64_t i = 0; i < f->n; i++) {
    vmx_msg_t m = VMX_MSG_INIT(PING);
    m.body.ping.value = i;
    if (vmx_bus_send_wait(&s, f->dst, &m, 10 * SEC) != 0)
      break;
    f->sent++;
  }
  return NULL;
}

static void test_shutdown_delivers_every_message_in_flight(void **state) {
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  vmx_loop_t *loop[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(vmx_loop_start(bus, NULL, &loop[i]), 0);
  sink_t direct = {.spin = 2000}, relayed = {.spin = 2000};
  relay_t relay = {.dst = spawn(loop[2], sink_receive, sink_stopped, &relayed)};
  feeder_t f[2] = {{bus, spawn(loop[0], sink_receive, sink_stopped, &direct), 30000, 0},
                   {bus, spawn(loop[1], relay_receive, NULL, &relay), 30000, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, feed, &f[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  uint64_t in_flight = f[0].sent + f[1].sent -
                       __atomic_load_n(&direct.count, __ATOMIC_ACQUIRE) -
                       __atomic_load_n(&relayed.count, __ATOMIC_ACQUIRE);
  assert_int_equal(vmx_loop_stop_all(bus, 20 * SEC), 0);
  printf("shutdown began with %llu of %llu messages in flight\n", (unsigned long long)in_flight,
         (unsigned long long)(f[0].sent + f[1].sent));
  assert_true(in_flight > 0);
  assert_int_equal(f[0].sent, 30000);
  assert_int_equal(f[1].sent, 30000);
  assert_int_equal(direct.count, 30000);
  assert_int_equal(relay.forwarded, 30000);
  assert_int_equal(relayed.count, 30000);
  assert_int_equal(direct.stopped, 1);
  assert_int_equal(relayed.stopped, 1);
  assert_int_equal(direct.stop_reason, 0);
  vmx_bus_close(bus);
}

typedef struct exits {
  uint64_t actors, dropped, loops;
} exits_t;

static void count_exit(vmx_loop_t *loop, const vmx_actor_info_t *info, void *arg) {
  __atomic_add_fetch(&((exits_t *)arg)->actors, 1, __ATOMIC_RELAXED);
}

static void count_loop_end(vmx_loop_t *loop, const vmx_loop_stats_t *st, void *arg) {
  __atomic_add_fetch(&((exits_t *)arg)->dropped, st->dropped, __ATOMIC_RELAXED);
  __atomic_add_fetch(&((exits_t *)arg)->loops, 1, __ATOMIC_RELAXED);
}

static void test_shutdown_stops_every_actor_once(void **state) {
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  exits_t ex = {0};
  vmx_loop_options_t o = {.on_actor_exit = count_exit, .on_thread_exit = count_loop_end,
                          .hook_arg = &ex};
  vmx_loop_t *loop[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(vmx_loop_start(bus, &o, &loop[i]), 0);
  static sink_t sinks[150];
  memset(sinks, 0, sizeof sinks);
  for (int i = 0; i < 150; i++)
    spawn(loop[i % 3], sink_receive, sink_stopped, &sinks[i]);
  assert_int_equal(vmx_loop_stop_all(bus, 5 * SEC), 0);
  for (int i = 0; i < 150; i++) {
    assert_int_equal(sinks[i].stopped, 1);
    assert_int_equal(sinks[i].stop_reason, 0);
  }
  assert_int_equal(ex.actors, 150);
  assert_int_equal(ex.loops, 3);
  assert_int_equal(ex.dropped, 0);
  vmx_bus_close(bus);
}

/* Keeps its own mailbox full forever. */
static int breeder_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  for (int i = 0; i < 2; i++) {
    vmx_msg_t m = VMX_MSG_INIT(EMPTY);
    int rc = vmx_actor_send(ctx, vmx_actor_self(ctx), &m);
    if (rc && rc != VMX_EAGAIN)
      return rc;
  }
  return 0;
}

static void test_endless_traffic_is_cut_off_at_the_deadline_and_counted(void **state) {
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  exits_t ex = {0};
  vmx_loop_options_t o = {.on_actor_exit = count_exit, .on_thread_exit = count_loop_end,
                          .hook_arg = &ex};
  vmx_loop_t *loop;
  assert_int_equal(vmx_loop_start(bus, &o, &loop), 0);
  vmx_addr_t a = spawn(loop, breeder_receive, NULL, NULL);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  vmx_msg_t m = VMX_MSG_INIT(EMPTY);
  assert_int_equal(vmx_bus_send(&out, a, &m), 0);
  usleep(10000);
  assert_int_equal(vmx_loop_stop_all(bus, 200000000), VMX_EAGAIN);
  assert_true(ex.dropped > 0);
  assert_int_equal(ex.actors, 1);
  printf("dropped at the deadline: %llu\n", (unsigned long long)ex.dropped);
  vmx_bus_close(bus);
}

typedef struct stubborn {
  vmx_bus_t *bus;
  vmx_addr_t dst;
  uint64_t sent;
  int last_rc;
} stubborn_t;

/* Sends until the bus refuses it. */
static void *send_until_refused(void *arg) {
  stubborn_t *s = arg;
  vmx_bus_sender_t out;
  vmx_bus_sender_init(s->bus, &out);
  for (;;) {
    vmx_msg_t m = VMX_MSG_INIT(PING);
    int rc = vmx_bus_send(&out, s->dst, &m);
    if (rc == 0)
      s->sent++;
    else if (rc != VMX_EAGAIN) {
      s->last_rc = rc;
      return NULL;
    }
  }
}

static void test_outside_senders_are_refused_once_shutdown_begins(void **state) {
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  vmx_loop_t *loop;
  assert_int_equal(vmx_loop_start(bus, NULL, &loop), 0);
  sink_t s = {0};
  stubborn_t st = {bus, spawn(loop, sink_receive, NULL, &s), 0, 0};
  pthread_t th;
  pthread_create(&th, NULL, send_until_refused, &st);
  usleep(20000);
  assert_int_equal(vmx_loop_stop_all(bus, 5 * SEC), 0);
  pthread_join(th, NULL);
  assert_int_equal(st.last_rc, VMX_ENOENT);
  assert_true(st.sent > 0);
  assert_int_equal(s.count, st.sent); /* everything accepted was delivered */
  vmx_bus_close(bus);
}

/* Starts a 1 ms repeating timer on its first message. */
static int clock_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  uint64_t *ticks = state, id;
  if (msg->env.type == VMX_MSG_EMPTY) {
    vmx_msg_t tick = VMX_MSG_INIT(PING);
    return vmx_actor_timer_start(ctx, 1, 1, &tick, &id);
  }
  __atomic_add_fetch(ticks, 1, __ATOMIC_RELEASE);
  return 0;
}

static void test_timers_stop_so_shutdown_can_finish(void **state) {
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  vmx_loop_t *loop;
  assert_int_equal(vmx_loop_start(bus, NULL, &loop), 0);
  uint64_t ticks = 0;
  vmx_addr_t a = spawn(loop, clock_receive, NULL, &ticks);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  vmx_msg_t m = VMX_MSG_INIT(EMPTY);
  assert_int_equal(vmx_bus_send(&out, a, &m), 0);
  for (int i = 0; i < 10000 && __atomic_load_n(&ticks, __ATOMIC_ACQUIRE) < 3; i++)
    usleep(1000);
  assert_true(ticks >= 3);
  assert_int_equal(vmx_loop_stop_all(bus, 5 * SEC), 0);
  vmx_bus_close(bus);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shutdown_delivers_every_message_in_flight),
      cmocka_unit_test(test_shutdown_stops_every_actor_once),
      cmocka_unit_test(test_endless_traffic_is_cut_off_at_the_deadline_and_counted),
      cmocka_unit_test(test_outside_senders_are_refused_once_shutdown_begins),
      cmocka_unit_test(test_timers_stop_so_shutdown_can_finish),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
