/* The loop/bus wake protocol under stress, with its safety nets off.
 *
 * A consumer loop goes idle between bursts while producers on several host
 * threads send to it, actors on other loops ask it (cross-loop asks block
 * their loop threads), a host thread asks it, and a timer runs on it. The
 * bus's asker re-wake is disabled (VMX_BUS_REWAKE_NEVER), so a lost wake-up
 * shows as a stall, and the consumer's timer is slow (40 ms) so that its
 * rounds do not hide one. Producers work in phases (a burst, then quiet), so
 * the consumer often goes to sleep right after a burst's last message. At
 * every phase boundary, and every millisecond from a watchdog thread, the
 * test looks for the state a lost wake-up leaves: the consumer's thread
 * blocked in epoll, messages in its ring, nothing in its eventfd, for a
 * while. Each such stall is counted and the loop woken so the run goes on.
 * The test passes only if no stall was seen, every message arrived, none
 * took a second or more, and every ask was answered. (Mutation check:
 * looking at the ring before clearing wake_pending in
 * vmx_bus_endpoint_may_sleep makes it fail.)
 *
 * Bounded time: VMX_FUZZ_SECONDS (default 6) for the sending phase; the
 * seed (VMX_FUZZ_SEED) only varies burst sizes and pauses. */
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/internal.h"
#include "fuzz.h"

#define SEC 1000000000ull

enum {
  PRODUCERS = 3,   /* host threads sending bursts */
  ASK_LOOPS = 2,   /* loops whose actors ask the consumer on a timer */
  PHASE_US = 3000,  /* producers' phase: a burst, then quiet */
  STALL_MS = 4,     /* watchdog: asleep with mail this many checks in a row: a stall */
  LATE_NS = 1000000000, /* a message this late fails the test */
};

typedef struct world {
  vmx_bus_t *bus;
  vmx_loop_t *consumer;
  vmx_loop_t *askers[ASK_LOOPS];
  vmx_addr_t sink;
  double end; /* when the sending phase ends (now_s) */
  uint64_t seed;

  /* Sink (consumer loop thread). */
  uint64_t received;   /* one-way PINGs handled (release) */
  uint64_t max_lat_ns; /* latest delivery seen */
  uint64_t late;       /* deliveries of LATE_NS or more */
  uint64_t ticks;      /* timer messages on the consumer (its loop thread) */

  /* Producers. */
  pthread_barrier_t phase; /* the producers' phases */
  uint64_t sent; /* one-way PINGs sent, all producers */
  uint64_t send_failures;

  /* Askers (their loop threads and the host asker). */
  uint64_t asks_ok, asks_failed, ask_max_ns;

  /* Watchdog. */
  pid_t consumer_tid; /* the consumer loop's thread (release) */
  uint64_t stalls, checks, phase_checks;
  int stop_watch;
} world_t;

static uint64_t now_ns(void) { return vmx_clock_ns(CLOCK_MONOTONIC); }

static void max_into(uint64_t *m, uint64_t v) {
  uint64_t cur = __atomic_load_n(m, __ATOMIC_RELAXED);
  while (v > cur && !__atomic_compare_exchange_n(m, &cur, v, true, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
    ;
}

/* ------------------------------------------------------------- the sink */

static int sink_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  world_t *w = state;
  if (msg->env.type != VMX_MSG_PING)
    return 0;
  if (msg->env.corr) {
    vmx_msg_t r = VMX_MSG_INIT(PONG);
    r.body.pong.value = msg->body.ping.value + 1;
    r.body.pong.sent_ns = msg->body.ping.sent_ns;
    return vmx_actor_reply(ctx, &r);
  }
  uint64_t lat = now_ns() - msg->body.ping.sent_ns;
  max_into(&w->max_lat_ns, lat);
  if (lat >= LATE_NS)
    __atomic_fetch_add(&w->late, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&w->received, 1, __ATOMIC_RELEASE);
  return 0;
}

/* The timer on the consumer: started by a message from the test. */
static int ticker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  world_t *w = state;
  if (msg->env.type == VMX_MSG_PONG) {
    vmx_msg_t tick = VMX_MSG_INIT(PING); /* sent_ns 0: a tick */
    uint64_t id;
    /* Rare enough not to hide a lost wake-up: a timer runs a round too. */
    return vmx_actor_timer_start(ctx, 1, 40, &tick, &id);
  }
  if (msg->env.type == VMX_MSG_PING)
    w->ticks++;
  return 0;
}

/* ----------------------------------------------------------- the askers */

/* An actor on an asker loop: a repeating timer makes it ask the sink, which
 * blocks its loop thread until the answer comes. */
static int asker_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  world_t *w = state;
  if (msg->env.type == VMX_MSG_PONG) {
    vmx_msg_t tick = VMX_MSG_INIT(PING);
    uint64_t id;
    return vmx_actor_timer_start(ctx, 1, 23, &tick, &id);
  }
  if (msg->env.type != VMX_MSG_PING || now_s() >= w->end)
    return 0;
  vmx_msg_t req = VMX_MSG_INIT(PING), reply;
  req.body.ping.value = 7;
  uint64_t t0 = now_ns();
  req.body.ping.sent_ns = t0;
  int rc = vmx_actor_ask(ctx, w->sink, &req, &reply, 5 * SEC);
  max_into(&w->ask_max_ns, now_ns() - t0);
  if (rc == 0 && reply.body.pong.value == 8)
    __atomic_fetch_add(&w->asks_ok, 1, __ATOMIC_RELAXED);
  else
    __atomic_fetch_add(&w->asks_failed, 1, __ATOMIC_RELAXED);
  return 0;
}

/* ------------------------------------------------------------- detection */

/* True if the loop's eventfd has a wake-up to read (without reading it). */
static bool wake_readable(vmx_loop_t *loop) {
  struct pollfd pfd = {.fd = loop->wake_fd, .events = POLLIN};
  return poll(&pfd, 1, 0) == 1;
}

/* True if thread tid of this process is blocked in epoll_wait now. */
static bool in_epoll(pid_t tid) {
  char path[64], buf[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  long nr = -1;
  if (fgets(buf, sizeof buf, f))
    nr = strtol(buf, NULL, 10); /* "running" reads as 0, not an epoll call */
  fclose(f);
  return nr == SYS_epoll_wait || nr == SYS_epoll_pwait;
}

/* The state a lost wake-up leaves: the consumer's thread blocked in epoll,
 * messages in its ring and nothing in its eventfd. (wake_pending is 1 if
 * the wake-up is owed and no producer will write the eventfd; 0 if the next
 * send will, but the messages already there wait for it.) */
static bool asleep_with_mail(world_t *w) {
  vmx_bus_endpoint_t *ep = w->consumer->ep;
  return in_epoll(__atomic_load_n(&w->consumer_tid, __ATOMIC_ACQUIRE)) &&
         vmx_ring_depth(&ep->ring) > 0 && !wake_readable(w->consumer);
}

/* Counts a stall seen in that state, reports it, and wakes the loop so that
 * the run goes on. */
static void stall(world_t *w, const char *where) {
  vmx_bus_endpoint_t *ep = w->consumer->ep;
  __atomic_fetch_add(&w->stalls, 1, __ATOMIC_RELAXED);
  fprintf(stderr,
          "%s: consumer asleep in epoll with mail and no wake-up coming: ring "
          "c_head %u p_tail %u p_head %u, wake_pending %u\n",
          where, ck_pr_load_uint(&ep->ring.ring.c_head), ck_pr_load_uint(&ep->ring.ring.p_tail),
          ck_pr_load_uint(&ep->ring.ring.p_head),
          __atomic_load_n(&ep->wake_pending, __ATOMIC_SEQ_CST));
  ep->wake(ep->wake_arg);
}

/* At a phase boundary, where no producer thread is inside a send: a stall
 * if the consumer is asleep with mail and stays so, its ring not moving,
 * for 500 us (an asker actor or the timer may be inside a send, briefly). */
static void phase_check(world_t *w) {
  vmx_bus_endpoint_t *ep = w->consumer->ep;
  w->phase_checks++;
  unsigned head = ck_pr_load_uint(&ep->ring.ring.c_head);
  if (!asleep_with_mail(w))
    return;
  usleep(500);
  if (asleep_with_mail(w) && ck_pr_load_uint(&ep->ring.ring.c_head) == head)
    stall(w, "phase boundary");
}

/* Also every millisecond, in and out of the phases: the same state for
 * STALL_MS checks in a row, the ring not moving, is a stall. */
static void *watchdog_main(void *arg) {
  world_t *w = arg;
  vmx_bus_endpoint_t *ep = w->consumer->ep;
  unsigned run = 0, head_then = 0;
  while (!__atomic_load_n(&w->stop_watch, __ATOMIC_ACQUIRE)) {
    usleep(1000);
    w->checks++;
    unsigned head = ck_pr_load_uint(&ep->ring.ring.c_head);
    bool suspect = asleep_with_mail(w) && (run == 0 || head == head_then);
    head_then = head;
    run = suspect ? run + 1 : 0;
    if (run >= STALL_MS) {
      stall(w, "watchdog");
      run = 0;
    }
  }
  return NULL;
}

static void on_consumer_start(vmx_loop_t *loop, void *arg) {
  (void)loop;
  world_t *w = arg;
  __atomic_store_n(&w->consumer_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------- host threads */

typedef struct producer {
  world_t *w;
  uint64_t rng;
  bool asks;  /* the host asker: asks instead of sending */
  bool first; /* checks the consumer at phase boundaries */
} producer_t;

static uint64_t prng(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* Producers work in phases of PHASE_US: all start a burst together, then
 * stay quiet until the phase ends, so that the consumer goes to sleep right
 * after the last message of a burst and nothing but a correct wake-up (no
 * later send) can deliver it. */
static void *producer_main(void *arg) {
  producer_t *p = arg;
  world_t *w = p->w;
  vmx_bus_sender_t s;
  vmx_bus_sender_init(w->bus, &s);
  for (;;) {
    pthread_barrier_wait(&w->phase);
    if (p->first)
      phase_check(w);
    bool last = now_s() >= w->end;
    pthread_barrier_wait(&w->phase);
    if (last)
      break;
    uint64_t phase_end = now_ns() + PHASE_US * 1000ull;
    if (p->asks) {
      usleep((unsigned)(prng(&p->rng) % 300));
      vmx_msg_t req = VMX_MSG_INIT(PING), reply;
      req.body.ping.value = 1;
      uint64_t t0 = now_ns();
      req.body.ping.sent_ns = t0;
      int rc = vmx_bus_ask(&s, w->sink, &req, &reply, 5 * SEC);
      max_into(&w->ask_max_ns, now_ns() - t0);
      __atomic_fetch_add(rc == 0 && reply.body.pong.value == 2 ? &w->asks_ok : &w->asks_failed,
                         1, __ATOMIC_RELAXED);
    } else {
      /* A burst of 1-16 messages, half of them single, some spaced. */
      unsigned n = prng(&p->rng) % 2 ? 1 : 1 + (unsigned)(prng(&p->rng) % 16);
      for (unsigned i = 0; i < n; i++) {
        vmx_msg_t m = VMX_MSG_INIT(PING);
        m.body.ping.value = i;
        m.body.ping.sent_ns = now_ns();
        if (vmx_bus_send_wait(&s, w->sink, &m, 5 * SEC) == 0)
          __atomic_fetch_add(&w->sent, 1, __ATOMIC_RELAXED);
        else
          __atomic_fetch_add(&w->send_failures, 1, __ATOMIC_RELAXED);
        unsigned gap = (unsigned)(prng(&p->rng) % 64);
        if (gap < 8)
          usleep(gap * 10);
        else if (gap < 16)
          sched_yield();
      }
    }
    uint64_t now = now_ns();
    if (now < phase_end)
      usleep((unsigned)((phase_end - now) / 1000));
  }
  return NULL;
}


/* ------------------------------------------------------------------ test */

static void test_no_wake_up_is_lost(void **state) {
  (void)state;
  world_t *w = calloc(1, sizeof *w);
  assert_non_null(w);
  w->end = fuzz_begin(6.0);
  w->seed = fuzz_seed;
  vmx_bus_options_t bo = {.ask_rewake_ns = VMX_BUS_REWAKE_NEVER};
  assert_int_equal(vmx_bus_init(&w->bus, &bo), 0);
  /* A small ring and batches, so that rounds end with work left and
   * producers meet a full ring at times. */
  vmx_loop_options_t co = {.name = "consumer", .ring_slots = 63, .ring_batch = 8,
                           .actor_batch = 4, .on_thread_start = on_consumer_start,
                           .hook_arg = w};
  assert_int_equal(vmx_loop_start(w->bus, &co, &w->consumer), 0);
  for (int i = 0; i < ASK_LOOPS; i++)
    assert_int_equal(vmx_loop_start(w->bus, NULL, &w->askers[i]), 0);
  assert_int_equal(vmx_actor_spawn(w->consumer,
                                   &(vmx_actor_def_t){.name = "sink", .receive = sink_receive,
                                                      .state = w},
                                   &w->sink),
                   0);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(w->bus, &out);
  vmx_addr_t ticker, askers[ASK_LOOPS];
  assert_int_equal(vmx_actor_spawn(w->consumer,
                                   &(vmx_actor_def_t){.name = "ticker",
                                                      .receive = ticker_receive, .state = w},
                                   &ticker),
                   0);
  vmx_msg_t go = VMX_MSG_INIT(PONG);
  assert_int_equal(vmx_bus_send(&out, ticker, &go), 0);
  for (int i = 0; i < ASK_LOOPS; i++) {
    assert_int_equal(vmx_actor_spawn(w->askers[i],
                                     &(vmx_actor_def_t){.name = "asker",
                                                        .receive = asker_receive, .state = w},
                                     &askers[i]),
                     0);
    assert_int_equal(vmx_bus_send(&out, askers[i], &go), 0);
  }

  pthread_barrier_init(&w->phase, NULL, PRODUCERS + 1);
  pthread_t threads[PRODUCERS + 1], watch;
  producer_t prod[PRODUCERS + 1];
  for (int i = 0; i <= PRODUCERS; i++) {
    prod[i] = (producer_t){w, w->seed + (uint64_t)i * 7919, i == PRODUCERS, i == 0};
    assert_int_equal(pthread_create(&threads[i], NULL, producer_main, &prod[i]), 0);
  }
  assert_int_equal(pthread_create(&watch, NULL, watchdog_main, w), 0);
  for (int i = 0; i <= PRODUCERS; i++)
    pthread_join(threads[i], NULL);

  /* Every message sent arrives (the watchdog still watches). */
  uint64_t sent = __atomic_load_n(&w->sent, __ATOMIC_RELAXED);
  for (int i = 0; i < 50000 && __atomic_load_n(&w->received, __ATOMIC_ACQUIRE) < sent; i++)
    usleep(100);
  /* The askers' timers stop asking at w->end; let a last ask finish. */
  usleep(20000);
  __atomic_store_n(&w->stop_watch, 1, __ATOMIC_RELEASE);
  pthread_join(watch, NULL);
  assert_int_equal(vmx_loop_stop_all(w->bus, 5 * SEC), 0);

  printf("sent %llu, received %llu, max latency %.3f ms, ticks %llu; asks %llu ok, %llu "
         "failed, slowest %.3f ms; %llu watchdog and %llu phase checks, %llu stalls\n",
         (unsigned long long)sent, (unsigned long long)w->received, w->max_lat_ns / 1e6,
         (unsigned long long)w->ticks, (unsigned long long)w->asks_ok,
         (unsigned long long)w->asks_failed, w->ask_max_ns / 1e6,
         (unsigned long long)w->checks, (unsigned long long)w->phase_checks,
         (unsigned long long)w->stalls);
  vmx_bus_close(w->bus);
  pthread_barrier_destroy(&w->phase);
  assert_int_equal(w->stalls, 0);
  assert_int_equal(w->send_failures, 0);
  assert_int_equal(w->received, sent);
  assert_int_equal(w->late, 0);
  assert_int_equal(w->asks_failed, 0);
  assert_true(w->asks_ok > 0);
  assert_true(w->ticks > 0);
  free(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_wake_up_is_lost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
