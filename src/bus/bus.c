/* Routing, back-pressure, wake-ups, asks, taps and quiescence of the bus. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus/bus.h"
#include "base/clock.h"

enum { ASK_FREE, ASK_WAITING, ASK_DONE };

/* One outstanding cross-loop ask. `lock` guards every field but `phase`,
 * which is also read without it (acquire) by the waiter's spin. */
typedef struct ask_rec {
  pthread_mutex_t lock;
  pthread_cond_t done;
  uint32_t gen;   /* bumped at each claim; the token carries it */
  uint32_t phase; /* ASK_*; stored with release under lock */
  int status;
  vmx_msg_t reply;
  uint32_t next_free; /* free list link (index + 1; 0 ends), under asks_lock */
} ask_rec_t;

typedef struct tap {
  uint64_t topics; /* stored with release after fn and arg; 0 = ended */
  vmx_bus_tap_fn fn;
  void *arg;
} tap_t;

struct vmx_bus {
  /* Endpoints: the array is fixed at init; entry i is written once, before
   * nendpoints becomes > i (release), so readers that load nendpoints with
   * acquire may read the entry plainly. Writers hold open_lock. */
  vmx_bus_endpoint_t **endpoints;
  unsigned max_endpoints;
  unsigned nendpoints;
  pthread_mutex_t open_lock;

  uint32_t next_sender; /* relaxed fetch_add: ids only need to differ */

  /* Shutdown. `stopping` and `external_busy` form a Dekker pair (both
   * seq_cst): an external sender raises external_busy then reads stopping;
   * vmx_bus_stop_senders raises stopping then waits for external_busy == 0.
   * One of the two always sees the other. */
  alignas(64) uint32_t stopping;
  uint64_t external_busy;

  /* Taps: slots are filled once, under tap_lock, and published by storing
   * ntaps with release; tap_topics is the union of live masks, read relaxed on
   * the delivery path (see vmx__bus_tapped). */
  alignas(64) uint64_t tap_topics;
  unsigned ntaps;
  tap_t taps[VMX_BUS_MAX_TAPS];
  pthread_mutex_t tap_lock;

  /* Asks: records and their free list (asks_lock). */
  ask_rec_t *asks;
  unsigned max_asks;
  uint32_t ask_free; /* index + 1 of the first free record, 0 if none */
  pthread_mutex_t asks_lock;
  uint64_t ask_rewake_ns; /* see vmx_bus_options_t */

  /* vmx_bus_quiescent's snapshot of the consumer counters (one caller). */
  uint64_t *snap_ring_done, *snap_local_done;
};

/* ------------------------------------------------------------ life cycle */

static int asks_init(vmx_bus_t *bus) {
  bus->asks = calloc(bus->max_asks, sizeof *bus->asks);
  if (!bus->asks)
    return VMX_ENOMEM;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  for (unsigned i = 0; i < bus->max_asks; i++) {
    pthread_mutex_init(&bus->asks[i].lock, NULL);
    pthread_cond_init(&bus->asks[i].done, &ca);
    bus->asks[i].next_free = i + 2 <= bus->max_asks ? i + 2 : 0;
  }
  pthread_condattr_destroy(&ca);
  bus->ask_free = 1;
  pthread_mutex_init(&bus->asks_lock, NULL);
  return 0;
}

int vmx_bus_init(vmx_bus_t **out, const vmx_bus_options_t *opts) {
  vmx_bus_options_t o = opts ? *opts : (vmx_bus_options_t){0};
  if (!o.max_endpoints)
    o.max_endpoints = 256;
  if (!o.max_asks)
    o.max_asks = 1024;
  if (o.max_endpoints >= VMX_ADDR_EXTERNAL_LOOP || o.max_asks > (1u << 20))
    return VMX_EINVAL;
  vmx_bus_t *bus = calloc(1, sizeof *bus);
  if (!bus)
    return VMX_ENOMEM;
  bus->max_endpoints = o.max_endpoints;
  bus->max_asks = o.max_asks;
  bus->ask_rewake_ns = o.ask_rewake_ns ? o.ask_rewake_ns : 2000000;
  bus->endpoints = calloc(o.max_endpoints, sizeof *bus->endpoints);
  bus->snap_ring_done = calloc(o.max_endpoints, sizeof *bus->snap_ring_done);
  bus->snap_local_done = calloc(o.max_endpoints, sizeof *bus->snap_local_done);
  if (!bus->endpoints || !bus->snap_ring_done || !bus->snap_local_done || asks_init(bus)) {
    free(bus->endpoints);
    free(bus->snap_ring_done);
    free(bus->snap_local_done);
    free(bus->asks);
    free(bus);
    return VMX_ENOMEM;
  }
  pthread_mutex_init(&bus->open_lock, NULL);
  pthread_mutex_init(&bus->tap_lock, NULL);
  *out = bus;
  return 0;
}

void vmx_bus_close(vmx_bus_t *bus) {
  if (!bus)
    return;
  for (unsigned i = 0; i < bus->nendpoints; i++) {
    vmx_ring_close(&bus->endpoints[i]->ring);
    free(bus->endpoints[i]);
  }
  for (unsigned i = 0; i < bus->max_asks; i++) {
    pthread_mutex_destroy(&bus->asks[i].lock);
    pthread_cond_destroy(&bus->asks[i].done);
  }
  pthread_mutex_destroy(&bus->asks_lock);
  pthread_mutex_destroy(&bus->open_lock);
  pthread_mutex_destroy(&bus->tap_lock);
  free(bus->asks);
  free(bus->endpoints);
  free(bus->snap_ring_done);
  free(bus->snap_local_done);
  free(bus);
}

/* -------------------------------------------------------------- endpoints */

int vmx_bus_endpoint_open(vmx_bus_t *bus, const vmx_bus_endpoint_options_t *opts,
                          vmx_bus_endpoint_t **out) {
  if (!opts || !opts->wake)
    return VMX_EINVAL;
  vmx_bus_endpoint_t *ep = aligned_alloc(64, sizeof *ep);
  if (!ep)
    return VMX_ENOMEM;
  memset(ep, 0, sizeof *ep);
  int rc = vmx_ring_init(&ep->ring, opts->ring_slots ? opts->ring_slots : 4095);
  if (rc) {
    free(ep);
    return rc;
  }
  ep->wake = opts->wake;
  ep->wake_arg = opts->wake_arg;
  ep->kick = opts->kick;
  ep->owner = opts->owner;
  pthread_mutex_lock(&bus->open_lock);
  unsigned n = bus->nendpoints;
  if (n == bus->max_endpoints) {
    pthread_mutex_unlock(&bus->open_lock);
    vmx_ring_close(&ep->ring);
    free(ep);
    return VMX_ENOMEM;
  }
  ep->index = n;
  bus->endpoints[n] = ep;
  /* Release: the entry and the endpoint's fields are visible to whoever
   * reads the new count with acquire. */
  __atomic_store_n(&bus->nendpoints, n + 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&bus->open_lock);
  *out = ep;
  return 0;
}

void vmx_bus_endpoint_close(vmx_bus_endpoint_t *ep) {
  /* Release: pairs with the acquire in push(); senders that see 1 stop. */
  __atomic_store_n(&ep->closed, 1, __ATOMIC_RELEASE);
}

unsigned vmx_bus_endpoint_count(vmx_bus_t *bus) {
  return __atomic_load_n(&bus->nendpoints, __ATOMIC_ACQUIRE);
}

vmx_bus_endpoint_t *vmx_bus_endpoint_at(vmx_bus_t *bus, unsigned i) {
  return i < vmx_bus_endpoint_count(bus) ? bus->endpoints[i] : NULL;
}

/* The wake protocol and its invariant.
 *
 *   producer: push (ck reserve, copy, commit: p_tail advances in ticket
 *             order, so a push returns only once its own message and every
 *             earlier-reserved one are visible), then notify(): exchange
 *             wake_pending to 1 (seq_cst, a full barrier on x86) and, if it
 *             was 0, write the loop's eventfd.
 *   consumer: run_round (loop.c) ends every round in one of two ways: with
 *             the idle handle armed (work left: no sleep), or here: store
 *             wake_pending = 0 (seq_cst), fence, look at the ring
 *             (p_tail - c_head). Empty: sleep in epoll. Not empty: set the
 *             flag back and go on.
 *
 * Invariant: while the loop sleeps with a message in its ring, an eventfd
 * write for it has happened or is under way. Proof: the producer's commit
 * precedes its exchange, the consumer's clear precedes its look (Dekker, both
 * sides seq_cst). If the exchange comes after the clear it reads 0 and that
 * producer writes the eventfd; if before, the look comes after the commit and
 * sees the message. wake_pending = 1 is only ever left standing by a producer
 * that then writes the eventfd, or by the consumer when it stays awake.
 * Several producers (MPSC) change nothing: a producer whose ticket waits for
 * an earlier, preempted one is still inside push() and has not exchanged
 * yet; the consumer may see the ring empty meanwhile, but the late commits
 * are each followed by their own exchange. The eventfd is level-triggered
 * and read (reset) before the round that drains, so a write during the round
 * only costs a spurious wake-up. The one delay the protocol allows is a
 * producer preempted between its exchange and its write: the loop sleeps
 * until that thread runs again (on a loaded host, milliseconds); later
 * producers see 1 and add nothing. The asker's re-wake (ask_wait) bounds
 * that case and counts it in ep->rescues. tests/unit/test_bus_wake.c watches
 * for a loop asleep with mail under load with the re-wake off. */
bool vmx_bus_endpoint_may_sleep(vmx_bus_endpoint_t *ep) {
  __atomic_store_n(&ep->wake_pending, 0, __ATOMIC_SEQ_CST);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (vmx_ring_depth(&ep->ring) == 0)
    return true;
  /* Staying awake: spare producers the wake call. Relaxed: a producer that
   * still sees 0 only makes a redundant wake-up. */
  __atomic_store_n(&ep->wake_pending, 1, __ATOMIC_RELAXED);
  return false;
}

/* ------------------------------------------------------------------ sends */

static vmx_bus_endpoint_t *endpoint_for(vmx_bus_t *bus, vmx_addr_t dst) {
  unsigned i = vmx_addr_loop(dst);
  return i < vmx_bus_endpoint_count(bus) ? bus->endpoints[i] : NULL;
}

static void notify(vmx_bus_endpoint_t *ep) {
  /* Release: a consumer that sees the kick (acquire) also sees the slot. */
  if (ep->kick)
    __atomic_store_n(ep->kick, 1, __ATOMIC_RELEASE);
  /* seq_cst swap: the producer half of the Dekker pair described in
   * vmx_bus_endpoint_may_sleep (the ring commit is ordered before it). */
  if (__atomic_exchange_n(&ep->wake_pending, 1, __ATOMIC_SEQ_CST) == 0)
    ep->wake(ep->wake_arg);
}

/* One attempt to put bytes in ep's ring. */
static int push(vmx_bus_endpoint_t *ep, const uint8_t *bytes, size_t len) {
  /* Acquire: pairs with vmx_bus_endpoint_close. */
  if (__atomic_load_n(&ep->closed, __ATOMIC_ACQUIRE))
    return VMX_ENOENT;
  if (!vmx_ring_push(&ep->ring, bytes, len))
    return VMX_EAGAIN;
  notify(ep);
  return 0;
}

static bool external_enter(vmx_bus_t *bus) {
  /* seq_cst, both: the sender half of the Dekker pair on stopping. */
  __atomic_fetch_add(&bus->external_busy, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&bus->stopping, __ATOMIC_SEQ_CST)) {
    __atomic_fetch_sub(&bus->external_busy, 1, __ATOMIC_RELEASE);
    return false;
  }
  return true;
}

static void external_leave(vmx_bus_t *bus) {
  /* Release: the ring push is visible to vmx_bus_stop_senders' acquire. */
  __atomic_fetch_sub(&bus->external_busy, 1, __ATOMIC_RELEASE);
}

static int post_once(vmx_bus_t *bus, vmx_bus_endpoint_t *ep, const uint8_t *bytes, size_t len,
                     bool external) {
  if (external && !external_enter(bus))
    return VMX_ENOENT;
  int rc = push(ep, bytes, len);
  if (external)
    external_leave(bus);
  return rc;
}

static void count_backpressure(vmx_bus_endpoint_t *ep) {
  /* Relaxed: a statistic; many producers add to it. */
  __atomic_fetch_add(&ep->backpressure, 1, __ATOMIC_RELAXED);
}

/* Encodes msg into bytes and finds its destination's endpoint. */
static int encode_for_post(vmx_bus_t *bus, vmx_msg_t *msg, uint8_t *bytes, size_t *len,
                           vmx_bus_endpoint_t **ep) {
  int rc = vmx_msg_encode(msg, bytes, VMX_MSG_MAX_ENCODED, len);
  if (rc)
    return rc;
  *ep = endpoint_for(bus, msg->env.dst);
  return *ep ? 0 : VMX_ENOENT;
}

int vmx__bus_post(vmx_bus_t *bus, vmx_msg_t *msg, bool external) {
  uint8_t bytes[VMX_MSG_MAX_ENCODED];
  size_t len;
  vmx_bus_endpoint_t *ep;
  int rc = encode_for_post(bus, msg, bytes, &len, &ep);
  if (rc)
    return rc;
  rc = post_once(bus, ep, bytes, len, external);
  if (rc == VMX_EAGAIN)
    count_backpressure(ep);
  return rc;
}

int vmx__bus_post_wait(vmx_bus_t *bus, vmx_msg_t *msg, bool external, uint64_t timeout_ns) {
  uint8_t bytes[VMX_MSG_MAX_ENCODED];
  size_t len;
  vmx_bus_endpoint_t *ep;
  int rc = encode_for_post(bus, msg, bytes, &len, &ep);
  if (rc)
    return rc;
  rc = post_once(bus, ep, bytes, len, external);
  if (rc != VMX_EAGAIN)
    return rc;
  /* Counted once per message that had to wait, however long it waits. */
  count_backpressure(ep);
  uint64_t deadline = vmx_clock_ns(CLOCK_MONOTONIC) + timeout_ns;
  for (unsigned attempt = 1;; attempt++) {
    if (attempt < 64)
      ck_pr_stall();
    else if (attempt < 128)
      sched_yield();
    else
      vmx_clock_sleep_ns(attempt < 256 ? 10000 : 100000);
    rc = post_once(bus, ep, bytes, len, external);
    if (rc != VMX_EAGAIN || vmx_clock_ns(CLOCK_MONOTONIC) >= deadline)
      return rc;
  }
}

static void fill_envelope(vmx_bus_sender_t *s, vmx_addr_t dst, vmx_msg_t *msg) {
  const vmx_msg_schema_t *schema = vmx_msg_schema(msg->env.type);
  msg->env.version = schema ? schema->version : 0;
  msg->env.src = s->addr;
  msg->env.dst = dst;
  msg->env.seq = s->next_seq++;
  msg->env.icount = s->icount ? *s->icount : VMX_ICOUNT_NONE;
  msg->env.corr = 0;
}

int vmx_bus_sender_init(vmx_bus_t *bus, vmx_bus_sender_t *s) {
  /* Relaxed: only uniqueness matters. Serial 0 is skipped so that no
   * address is VMX_ADDR_NONE. */
  uint32_t id = __atomic_add_fetch(&bus->next_sender, 1, __ATOMIC_RELAXED);
  s->bus = bus;
  s->addr = vmx_addr_make(VMX_ADDR_EXTERNAL_LOOP, id & 0xffff, id);
  s->next_seq = 1;
  s->icount = NULL;
  return 0;
}

int vmx_bus_send(vmx_bus_sender_t *s, vmx_addr_t dst, vmx_msg_t *msg) {
  fill_envelope(s, dst, msg);
  int rc = vmx__bus_post(s->bus, msg, true);
  if (rc)
    s->next_seq--; /* not sent: the sequence stays gapless */
  return rc;
}

int vmx_bus_send_wait(vmx_bus_sender_t *s, vmx_addr_t dst, vmx_msg_t *msg, uint64_t timeout_ns) {
  fill_envelope(s, dst, msg);
  int rc = vmx__bus_post_wait(s->bus, msg, true, timeout_ns);
  if (rc)
    s->next_seq--;
  return rc;
}

int vmx_bus_ask(vmx_bus_sender_t *s, vmx_addr_t dst, vmx_msg_t *req, vmx_msg_t *reply,
                uint64_t timeout_ns) {
  fill_envelope(s, dst, req);
  bool sent;
  int rc = vmx__bus_ask(s->bus, req, reply, true, timeout_ns, &sent);
  if (!sent)
    s->next_seq--;
  return rc;
}

/* ------------------------------------------------------------------- asks */

static ask_rec_t *ask_claim(vmx_bus_t *bus, uint64_t *token) {
  pthread_mutex_lock(&bus->asks_lock);
  uint32_t i = bus->ask_free;
  if (i)
    bus->ask_free = bus->asks[i - 1].next_free;
  pthread_mutex_unlock(&bus->asks_lock);
  if (!i)
    return NULL;
  ask_rec_t *a = &bus->asks[i - 1];
  pthread_mutex_lock(&a->lock);
  a->gen = (a->gen + 1) & 0x7fffffff; /* bit 63 of tokens marks same-loop asks */
  a->status = 0;
  /* Release (here and at every store of phase, all under the lock): the
   * waiter's spin reads phase without the lock. */
  __atomic_store_n(&a->phase, ASK_WAITING, __ATOMIC_RELEASE);
  *token = (uint64_t)a->gen << 32 | i;
  pthread_mutex_unlock(&a->lock);
  return a;
}

static void ask_release(vmx_bus_t *bus, ask_rec_t *a) {
  uint32_t i = (uint32_t)(a - bus->asks) + 1;
  pthread_mutex_lock(&bus->asks_lock);
  a->next_free = bus->ask_free;
  bus->ask_free = i;
  pthread_mutex_unlock(&bus->asks_lock);
}

/* Waits for the answer; on timeout the record is abandoned under its lock, so
 * a late answer finds phase != WAITING and is dropped. */
static int ask_wait(vmx_bus_t *bus, ask_rec_t *a, vmx_msg_t *reply, uint64_t deadline,
                    vmx_bus_endpoint_t *ep) {
  /* Spin a little first: a loop that is awake answers within microseconds,
   * faster than a futex wake-up. Acquire pairs with the completer's release. */
  for (unsigned i = 0; i < 2000; i++) {
    if (__atomic_load_n(&a->phase, __ATOMIC_ACQUIRE) == ASK_DONE)
      break;
    ck_pr_stall();
  }
  pthread_mutex_lock(&a->lock);
  /* Wait in slices of ask_rewake_ns. A slice that passes unanswered while
   * the destination's ring holds messages, has handled none of them and owes
   * a wake-up (wake_pending) means that loop is stalled: it is woken again
   * and the rescue counted. The wake protocol itself loses no wake-up (see
   * vmx_bus_endpoint_may_sleep); what this bounds is a waker preempted
   * between its flag exchange and its write on a loaded host, and any future
   * bug, and the counter tells whether it ever mattered. */
  uint64_t slice = bus->ask_rewake_ns;
  uint64_t done0 = ep ? __atomic_load_n(&ep->ring_done, __ATOMIC_ACQUIRE) : 0;
  while (a->phase == ASK_WAITING) {
    uint64_t now = vmx_clock_ns(CLOCK_MONOTONIC);
    uint64_t until = deadline - now > slice ? now + slice : deadline;
    struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
    if (pthread_cond_timedwait(&a->done, &a->lock, &ts) != 0 && a->phase == ASK_WAITING) {
      if (until >= deadline) {
        __atomic_store_n(&a->phase, ASK_FREE, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&a->lock);
        return VMX_EAGAIN;
      }
      if (!ep)
        continue;
      uint64_t done = __atomic_load_n(&ep->ring_done, __ATOMIC_ACQUIRE);
      if (done == done0 && vmx_ring_depth(&ep->ring) &&
          __atomic_load_n(&ep->wake_pending, __ATOMIC_SEQ_CST)) {
        /* Relaxed: a statistic. */
        __atomic_fetch_add(&ep->rescues, 1, __ATOMIC_RELAXED);
        ep->wake(ep->wake_arg);
      }
      done0 = done;
    }
  }
  int status = a->status;
  if (status == 0)
    *reply = a->reply;
  __atomic_store_n(&a->phase, ASK_FREE, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&a->lock);
  return status;
}

int vmx__bus_ask(vmx_bus_t *bus, vmx_msg_t *req, vmx_msg_t *reply, bool external,
                 uint64_t timeout_ns, bool *sent) {
  uint64_t deadline = vmx_clock_ns(CLOCK_MONOTONIC) + timeout_ns;
  uint64_t token;
  *sent = false;
  ask_rec_t *a = ask_claim(bus, &token);
  if (!a)
    return VMX_EAGAIN;
  req->env.corr = token;
  int rc = vmx__bus_post_wait(bus, req, external, timeout_ns);
  if (rc == 0) {
    *sent = true;
    rc = ask_wait(bus, a, reply, deadline, endpoint_for(bus, req->env.dst));
  } else {
    pthread_mutex_lock(&a->lock);
    __atomic_store_n(&a->phase, ASK_FREE, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&a->lock);
  }
  ask_release(bus, a);
  return rc;
}

int vmx__bus_ask_complete(vmx_bus_t *bus, uint64_t corr, int status, const vmx_msg_t *reply) {
  uint32_t i = (uint32_t)corr, gen = (uint32_t)(corr >> 32);
  if (i == 0 || i > bus->max_asks)
    return VMX_ENOENT;
  ask_rec_t *a = &bus->asks[i - 1];
  pthread_mutex_lock(&a->lock);
  if (a->gen != gen || a->phase != ASK_WAITING) {
    pthread_mutex_unlock(&a->lock);
    return VMX_ENOENT;
  }
  a->status = status;
  if (status == 0)
    a->reply = *reply;
  /* Release: the spinning waiter's acquire sees status and reply. */
  __atomic_store_n(&a->phase, ASK_DONE, __ATOMIC_RELEASE);
  pthread_cond_signal(&a->done);
  pthread_mutex_unlock(&a->lock);
  return 0;
}

/* ------------------------------------------------------------------- taps */

int vmx_bus_subscribe(vmx_bus_t *bus, uint64_t topics, vmx_bus_tap_fn fn, void *arg,
                      unsigned *id) {
  if (!fn || !topics)
    return VMX_EINVAL;
  pthread_mutex_lock(&bus->tap_lock);
  unsigned n = bus->ntaps;
  if (n == VMX_BUS_MAX_TAPS) {
    pthread_mutex_unlock(&bus->tap_lock);
    return VMX_ENOMEM;
  }
  bus->taps[n].fn = fn;
  bus->taps[n].arg = arg;
  /* Release, all three: a loop that reads ntaps or a mask with acquire sees
   * fn and arg. */
  __atomic_store_n(&bus->taps[n].topics, topics, __ATOMIC_RELEASE);
  __atomic_store_n(&bus->ntaps, n + 1, __ATOMIC_RELEASE);
  __atomic_fetch_or(&bus->tap_topics, topics, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&bus->tap_lock);
  *id = n;
  return 0;
}

int vmx_bus_unsubscribe(vmx_bus_t *bus, unsigned id) {
  pthread_mutex_lock(&bus->tap_lock);
  if (id >= bus->ntaps || bus->taps[id].topics == 0) {
    pthread_mutex_unlock(&bus->tap_lock);
    return VMX_EINVAL;
  }
  __atomic_store_n(&bus->taps[id].topics, 0, __ATOMIC_RELEASE);
  uint64_t all = 0;
  for (unsigned i = 0; i < bus->ntaps; i++)
    all |= bus->taps[i].topics;
  __atomic_store_n(&bus->tap_topics, all, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&bus->tap_lock);
  return 0;
}

bool vmx__bus_tapped(vmx_bus_t *bus, uint32_t type) {
  vmx_topic_t t = vmx_msg_topic(type);
  /* Relaxed: the masks themselves are read with acquire in vmx__bus_tap. */
  return t < VMX_TOPIC_COUNT &&
         (__atomic_load_n(&bus->tap_topics, __ATOMIC_RELAXED) & (UINT64_C(1) << t));
}

void vmx__bus_tap(vmx_bus_t *bus, unsigned loop, const vmx_msg_t *msg, const uint8_t *bytes,
                  size_t len) {
  vmx_topic_t t = vmx_msg_topic(msg->env.type);
  if (t >= VMX_TOPIC_COUNT)
    return;
  uint64_t bit = UINT64_C(1) << t;
  uint8_t own[VMX_MSG_MAX_ENCODED];
  unsigned n = __atomic_load_n(&bus->ntaps, __ATOMIC_ACQUIRE);
  for (unsigned i = 0; i < n; i++) {
    tap_t *tap = &bus->taps[i];
    if (!(__atomic_load_n(&tap->topics, __ATOMIC_ACQUIRE) & bit))
      continue;
    if (!bytes) {
      if (vmx_msg_encode(msg, own, sizeof own, &len) != 0)
        return;
      bytes = own;
    }
    tap->fn(tap->arg, loop, msg, bytes, len);
  }
}

/* --------------------------------------------------------------- shutdown */

void vmx_bus_stop_senders(vmx_bus_t *bus) {
  /* seq_cst: the controller half of the Dekker pair in external_enter. */
  __atomic_store_n(&bus->stopping, 1, __ATOMIC_SEQ_CST);
  /* seq_cst for the Dekker pair; it includes acquire, which pairs with
   * external_leave's release so the senders' pushes count as in flight. */
  while (__atomic_load_n(&bus->external_busy, __ATOMIC_SEQ_CST) != 0)
    sched_yield();
}

bool vmx_bus_stopping(vmx_bus_t *bus) {
  /* Acquire: a loop that sees the flag also sees what preceded it. */
  return __atomic_load_n(&bus->stopping, __ATOMIC_ACQUIRE) != 0;
}

/* Each message is created once (a ring reservation, or a consumer's local
 * queueing) and finished once, on the consumer it was sent to, after its
 * handler has run and made any messages of its own. Reading every "finished"
 * count before any "created" count gives, for each endpoint, finished <=
 * created; equality everywhere means nothing was in flight or being handled
 * between the two passes, and (with senders and timers stopped) nothing can
 * create a message any more. */
bool vmx_bus_quiescent(vmx_bus_t *bus) {
  unsigned n = vmx_bus_endpoint_count(bus);
  for (unsigned i = 0; i < n; i++) {
    vmx_bus_endpoint_t *ep = bus->endpoints[i];
    /* Acquire: pairs with the consumer's release after a handler ran, so the
     * messages that handler sent are visible to the second pass. */
    bus->snap_ring_done[i] = __atomic_load_n(&ep->ring_done, __ATOMIC_ACQUIRE);
    bus->snap_local_done[i] = __atomic_load_n(&ep->local_done, __ATOMIC_ACQUIRE);
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  for (unsigned i = 0; i < n; i++) {
    vmx_bus_endpoint_t *ep = bus->endpoints[i];
    if (vmx_ring_produced(&ep->ring) != (uint32_t)bus->snap_ring_done[i])
      return false;
    if (__atomic_load_n(&ep->local_in, __ATOMIC_ACQUIRE) != bus->snap_local_done[i])
      return false;
  }
  return true;
}
