/* Many producers and consumers under load: actors on several loops (some on
 * the consumers' own loops) and host threads all send to every consumer at
 * once, backing off on VMX_EAGAIN; every message arrives, counted to the
 * message, and each sender's messages arrive in the order sent. */
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

enum {
  PER_PAIR = 20000,      /* messages from each producer to each consumer */
  PRODUCER_LOOPS = 3,
  ACTORS_PER_PRODUCER_LOOP = 2,
  CONSUMER_LOOPS = 2,
  CONSUMERS_PER_LOOP = 2,
  CONSUMERS = CONSUMER_LOOPS * CONSUMERS_PER_LOOP,
  THREADS = 2,
  /* one extra producer actor on each consumer loop (same-loop sends) */
  PRODUCERS = PRODUCER_LOOPS * ACTORS_PER_PRODUCER_LOOP + CONSUMER_LOOPS + THREADS,
  MAX_SENDERS = 16,
};

typedef struct consumer {
  uint64_t count;
  struct {
    vmx_addr_t src;
    uint64_t next_value, last_seq;
  } from[MAX_SENDERS];
  unsigned nfrom;
  uint64_t errors;
} consumer_t;

static int consumer_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  consumer_t *c = state;
  unsigned i = 0;
  while (i < c->nfrom && c->from[i].src != msg->env.src)
    i++;
  if (i == c->nfrom) {
    if (c->nfrom == MAX_SENDERS)
      return VMX_ERANGE;
    c->from[c->nfrom++].src = msg->env.src;
  }
  if (msg->body.ping.value != c->from[i].next_value || msg->env.seq <= c->from[i].last_seq)
    c->errors++;
  c->from[i].next_value = msg->body.ping.value + 1;
  c->from[i].last_seq = msg->env.seq;
  __atomic_add_fetch(&c->count, 1, __ATOMIC_RELEASE);
  return 0;
}

typedef struct producer {
  vmx_addr_t dst[CONSUMERS];
  uint64_t next[CONSUMERS];
  uint64_t done, refusals;
  int error;
} producer_t;

/* Sends a burst on every kick (EMPTY), round-robin over the consumers; when a
 * destination is full it backs off for a millisecond with a timer. */
static int producer_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  producer_t *p = state;
  bool blocked = false, left = false;
  for (int burst = 0; burst < 64 && !blocked; burst++) {
    left = false;
    for (int d = 0; d < CONSUMERS; d++) {
      if (p->next[d] == PER_PAIR)
        continue;
      left = true;
      vmx_msg_t m = VMX_MSG_INIT(PING);
      m.body.ping.value = p->next[d];
      int rc = vmx_actor_send(ctx, p->dst[d], &m);
      if (rc == VMX_EAGAIN) {
        p->refusals++;
        blocked = true;
        continue;
      }
      if (rc) {
        p->error = rc;
        return rc;
      }
      p->next[d]++;
    }
    if (!left)
      break;
  }
  if (!left) {
    __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
    return 0;
  }
  vmx_msg_t kick = VMX_MSG_INIT(EMPTY);
  uint64_t id;
  if (blocked)
    return vmx_actor_timer_start(ctx, 1, 0, &kick, &id);
  return vmx_actor_send(ctx, vmx_actor_self(ctx), &kick);
}

typedef struct host_producer {
  vmx_bus_t *bus;
  vmx_addr_t dst[CONSUMERS];
  int error;
} host_producer_t;

static void *host_produce(void *arg) {
  host_producer_t *h = arg;
  vmx_bus_sender_t s;
  vmx_bus_sender_init(h->bus, &s);
  for (uint64_t v = 0; v < PER_PAIR; v++) {
    for (int d = 0; d < CONSUMERS; d++) {
      vmx_msg_t m = VMX_MSG_INIT(PING);
      m.body.ping.value = v;
      int rc = vmx_bus_send_wait(&s, h->dst[d], &m, 10 * SEC);
      if (rc) {
        h->error = rc;
        return NULL;
      }
    }
  }
  return NULL;
}

static void test_no_message_is_lost_or_reordered_under_load(void **state) {
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  vmx_loop_t *ploop[PRODUCER_LOOPS], *cloop[CONSUMER_LOOPS];
  vmx_loop_options_t small = {.ring_slots = 255}; /* fills often: exercises back-pressure */
  for (int i = 0; i < CONSUMER_LOOPS; i++)
    assert_int_equal(vmx_loop_start(bus, &small, &cloop[i]), 0);
  for (int i = 0; i < PRODUCER_LOOPS; i++)
    assert_int_equal(vmx_loop_start(bus, NULL, &ploop[i]), 0);

  static consumer_t cons[CONSUMERS];
  memset(cons, 0, sizeof cons);
  vmx_addr_t caddr[CONSUMERS];
  for (int i = 0; i < CONSUMERS; i++) {
    vmx_actor_def_t def = {.name = "consumer", .receive = consumer_receive, .state = &cons[i],
                           .mailbox_max = 512};
    assert_int_equal(vmx_actor_spawn(cloop[i / CONSUMERS_PER_LOOP], &def, &caddr[i]), 0);
  }

  static producer_t prod[PRODUCERS];
  memset(prod, 0, sizeof prod);
  int np = 0;
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  for (int l = 0; l < PRODUCER_LOOPS + CONSUMER_LOOPS; l++) {
    int n = l < PRODUCER_LOOPS ? ACTORS_PER_PRODUCER_LOOP : 1;
    vmx_loop_t *loop = l < PRODUCER_LOOPS ? ploop[l] : cloop[l - PRODUCER_LOOPS];
    for (int k = 0; k < n; k++, np++) {
      memcpy(prod[np].dst, caddr, sizeof caddr);
      vmx_actor_def_t def = {.name = "producer", .receive = producer_receive, .state = &prod[np]};
      vmx_addr_t a;
      assert_int_equal(vmx_actor_spawn(loop, &def, &a), 0);
      vmx_msg_t kick = VMX_MSG_INIT(EMPTY);
      /* Producers already started fill their loop's ring: wait for room. */
      assert_int_equal(vmx_bus_send_wait(&out, a, &kick, 10 * SEC), 0);
    }
  }
  host_producer_t hosts[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    hosts[i] = (host_producer_t){.bus = bus};
    memcpy(hosts[i].dst, caddr, sizeof caddr);
    pthread_create(&th[i], NULL, host_produce, &hosts[i]);
  }

  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(hosts[i].error, 0);
  }
  for (int i = 0; i < CONSUMERS; i++) {
    for (int t = 0; t < 30000 && __atomic_load_n(&cons[i].count, __ATOMIC_ACQUIRE) <
                                    (uint64_t)PRODUCERS * PER_PAIR; t++)
      usleep(1000);
  }
  uint64_t refusals = 0;
  for (int i = 0; i < np; i++) {
    assert_int_equal(prod[i].error, 0);
    assert_int_equal(prod[i].done, 1);
    refusals += prod[i].refusals;
  }
  for (int i = 0; i < CONSUMERS; i++) {
    assert_int_equal(cons[i].count, (uint64_t)PRODUCERS * PER_PAIR);
    assert_int_equal(cons[i].errors, 0);
    assert_int_equal(cons[i].nfrom, PRODUCERS);
    for (unsigned s = 0; s < cons[i].nfrom; s++)
      assert_int_equal(cons[i].from[s].next_value, PER_PAIR);
  }
  vmx_loop_stats_t total;
  vmx_loop_stats_total(bus, &total);
  assert_int_equal(total.dead_letters, 0);
  assert_int_equal(total.malformed, 0);
  assert_int_equal(total.actors_failed, 0);
  assert_int_equal(total.dropped, 0);
  printf("load: %d producers x %d consumers x %d messages; %llu refusals (EAGAIN), "
         "back-pressure events %llu, ring stalls %llu, ring hwm %llu, mailbox hwm %llu\n",
         PRODUCERS, CONSUMERS, PER_PAIR, (unsigned long long)refusals,
         (unsigned long long)total.backpressure, (unsigned long long)total.ring_stalls,
         (unsigned long long)total.ring_hwm, (unsigned long long)total.mailbox_hwm);
  assert_int_equal(vmx_loop_stop_all(bus, 5 * SEC), 0);
  vmx_bus_close(bus);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_message_is_lost_or_reordered_under_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
