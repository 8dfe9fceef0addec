/* Loop threads: one libuv loop each, draining the bus endpoint into actor
 * mailboxes and running actors in bounded turns; and the shutdown protocol. */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "actors/internal.h"
#include "base/log.h"

/* ----------------------------------------------------------- run queue */

void vmx__loop_runnable(vmx_loop_t *loop, vmx_actor_t *a) {
  if (a->queued || a->stopping)
    return;
  a->queued = true;
  a->rq_next = NULL;
  a->rq_prev = loop->rq_tail;
  if (loop->rq_tail)
    loop->rq_tail->rq_next = a;
  else
    loop->rq_head = a;
  loop->rq_tail = a;
  loop->rq_len++;
}

void vmx__loop_unqueue(vmx_loop_t *loop, vmx_actor_t *a) {
  if (!a->queued)
    return;
  if (a->rq_prev)
    a->rq_prev->rq_next = a->rq_next;
  else
    loop->rq_head = a->rq_next;
  if (a->rq_next)
    a->rq_next->rq_prev = a->rq_prev;
  else
    loop->rq_tail = a->rq_prev;
  a->queued = false;
  loop->rq_len--;
}

/* ------------------------------------------------------ message accounting */

void vmx__loop_finished(vmx_loop_t *loop, bool from_ring) {
  /* Release: everything the handler did (its sends above all) happens before
   * a quiescence check that reads this count (bus.c). */
  uint64_t *c = from_ring ? &loop->ep->ring_done : &loop->ep->local_done;
  __atomic_store_n(c, *c + 1, __ATOMIC_RELEASE);
}

void vmx__loop_local_in(vmx_loop_t *loop) {
  /* Release, for the same quiescence check. */
  __atomic_store_n(&loop->ep->local_in, loop->ep->local_in + 1, __ATOMIC_RELEASE);
}

/* Gives up on an encoded message: counts it in *counter, fails its ask (if it
 * is one) with VMX_ENOENT, and finishes it. */
void vmx__loop_discard(vmx_loop_t *loop, const vmx_ring_slot_t *slot, uint64_t *counter) {
  /* Counted before the asker is woken, so it sees the count. */
  vmx__stat_add(counter, 1);
  vmx_envelope_t env;
  if (vmx_msg_decode_envelope(slot->bytes, slot->len, &env, NULL) == 0 && env.corr &&
      !(env.corr & VMX__LOCAL_ASK))
    vmx__bus_ask_complete(loop->bus, env.corr, VMX_ENOENT, NULL);
  vmx__loop_finished(loop, slot->flags & VMX__SLOT_FROM_RING);
}

/* ------------------------------------------------------------------ rounds */

static void on_more(uv_idle_t *h);

void vmx__loop_more(vmx_loop_t *loop) { uv_idle_start(&loop->more, on_more); }

/* Moves the held slot into its actor's mailbox. VMX_EAGAIN: mailbox full. */
static int route_held(vmx_loop_t *loop) {
  vmx_ring_slot_t *slot = &loop->held;
  slot->flags = VMX__SLOT_FROM_RING;
  vmx_envelope_t env;
  vmx_msg_error_t err;
  if (vmx_msg_decode_envelope(slot->bytes, slot->len, &env, &err) != 0) {
    vmx_log_error("loop %s: dropping a malformed message from the ring: %s", loop->name,
                  err.text);
    vmx__loop_discard(loop, slot, &loop->stats.malformed);
    return 0;
  }
  vmx_actor_t *a = vmx__actor_lookup(loop, env.dst);
  if (!a) {
    vmx__loop_discard(loop, slot, &loop->stats.dead_letters);
    return 0;
  }
  return vmx__actor_enqueue(loop, a, slot);
}

static unsigned drain_ring(vmx_loop_t *loop) {
  vmx_bus_endpoint_t *ep = loop->ep;
  vmx__stat_max(&ep->ring_hwm, vmx_ring_depth(&ep->ring));
  unsigned moved = 0;
  while (moved < loop->opts.ring_batch) {
    if (!loop->holding) {
      if (!vmx_ring_pop(&ep->ring, &loop->held))
        break;
      loop->holding = true;
    }
    if (route_held(loop) == VMX_EAGAIN) {
      /* Its actor is queued (its mailbox is full); the ring waits, and its
       * senders get back-pressure, until it has room. */
      vmx__stat_add(&loop->stats.ring_stalls, 1);
      break;
    }
    loop->holding = false;
    moved++;
  }
  return moved;
}

static unsigned run_actors(vmx_loop_t *loop) {
  unsigned turns = loop->rq_len, handled = 0;
  while (turns-- > 0 && loop->rq_head) {
    vmx_actor_t *a = loop->rq_head;
    vmx__loop_unqueue(loop, a);
    handled += vmx__actor_turn(loop, a, loop->opts.actor_batch);
    if (a->mbox.count)
      vmx__loop_runnable(loop, a);
  }
  return handled;
}

/* Finalizes the actors that stopped this round; notify: tell supervisors
 * (not at shutdown, when the endpoints are closed). */
static void reap(vmx_loop_t *loop, bool notify) {
  while (loop->reap) {
    vmx_actor_t *a = loop->reap;
    loop->reap = a->reap_next;
    vmx__actor_finalize(loop, a, &loop->stats.dead_letters, notify);
  }
}

static bool handle_request(vmx_loop_t *loop);

/* Passes of drain + turns per libuv callback: amortizes libuv's iteration
 * (an epoll_wait per iteration) while timers and I/O still run often. */
#define PASSES_PER_ROUND 8

static bool more_work(vmx_loop_t *loop) { return loop->holding || loop->rq_head; }

/* Polls the ring for up to idle_poll_us; true if work came (a message, or a
 * shutdown request). Producers see wake_pending still set meanwhile and skip
 * the eventfd write. */
static bool poll_before_sleep(vmx_loop_t *loop) {
  uint64_t deadline = vmx__now_ns() + loop->opts.idle_poll_us * 1000ull;
  do {
    for (int i = 0; i < 64; i++) {
      /* Relaxed: a hint; handle_request rereads it with acquire. */
      if (vmx_ring_depth(&loop->ep->ring) ||
          __atomic_load_n(&loop->request, __ATOMIC_RELAXED) != loop->phase)
        return true;
      ck_pr_stall();
    }
  } while (vmx__now_ns() < deadline);
  return false;
}

static void run_round(vmx_loop_t *loop) {
  unsigned passes = 0;
  for (;;) {
    if (handle_request(loop))
      return;
    uint64_t t0 = vmx__now_ns();
    unsigned work = 0;
    while (passes < PASSES_PER_ROUND) {
      passes++;
      unsigned done = drain_ring(loop);
      done += run_actors(loop);
      reap(loop, true);
      work += done;
      if (!done || (!more_work(loop) && vmx_ring_depth(&loop->ep->ring) == 0))
        break;
    }
    if (work) {
      vmx__stat_add(&loop->stats.busy_ns, vmx__now_ns() - t0);
      vmx__stat_add(&loop->stats.rounds, 1);
    }
    if (more_work(loop)) {
      vmx__loop_more(loop);
      return;
    }
    uv_idle_stop(&loop->more);
    /* Polling found work: take it now rather than through another libuv
     * iteration (an epoll_wait), within this callback's passes. */
    if (loop->opts.idle_poll_us && passes < PASSES_PER_ROUND && poll_before_sleep(loop))
      continue;
    if (!vmx_bus_endpoint_may_sleep(loop->ep))
      vmx__loop_more(loop);
    return;
  }
}

static void on_more(uv_idle_t *h) { run_round(h->data); }

/* Wake-ups: an eventfd in the loop's epoll set, not uv_async. libuv 1.44's
 * uv_async makes the woken loop spin until the waking thread's write()
 * returns, and on a VM that write (it sends the IPI) returns late: measured
 * here, a wake-up took p50 34 us / p99 99 us through uv_async against
 * 7 us / 42-57 us for the same eventfd under a uv_poll handle. The bus
 * already sends one wake-up per sleep (vmx_bus_endpoint_may_sleep), which is
 * the coalescing uv_async would have done. */
static void loop_wake(void *arg) {
  vmx_loop_t *loop = arg;
  uint64_t one = 1;
  /* Fails only if the counter would overflow, and then the loop has wake-ups
   * pending anyway. */
  ssize_t n = write(loop->wake_fd, &one, sizeof one);
  (void)n;
}

static void on_wake(uv_poll_t *h, int status, int events) {
  vmx_loop_t *loop = h->data;
  uint64_t count;
  ssize_t n = read(loop->wake_fd, &count, sizeof count); /* resets the counter */
  (void)n;
  vmx__stat_add(&loop->stats.wakeups, 1);
  run_round(loop);
}

/* ---------------------------------------------------------------- shutdown */

static void set_phase(vmx_loop_t *loop, uint32_t phase) {
  /* Release: the controller (acquire) sees the stage's work done. */
  __atomic_store_n(&loop->phase, phase, __ATOMIC_RELEASE);
}

static void quiet(vmx_loop_t *loop) {
  for (unsigned i = 0; i < loop->table_cap; i++) {
    /* Acquire: pairs with vmx_actor_spawn's release. */
    vmx_actor_t *a = __atomic_load_n(&loop->table[i], __ATOMIC_ACQUIRE);
    if (a)
      vmx__actor_quiet_timers(a);
  }
  set_phase(loop, VMX__LOOP_QUIET);
}

static void drop_ring(vmx_loop_t *loop) {
  if (loop->holding) {
    vmx__loop_discard(loop, &loop->held, &loop->stats.dropped);
    loop->holding = false;
  }
  vmx_ring_slot_t slot;
  while (vmx_ring_pop(&loop->ep->ring, &slot)) {
    slot.flags = VMX__SLOT_FROM_RING;
    vmx__loop_discard(loop, &slot, &loop->stats.dropped);
  }
}

static void finish(vmx_loop_t *loop) {
  uint64_t dropped = loop->stats.dropped;
  /* Under table_lock, so that a concurrent vmx_actor_spawn either lands in
   * the table before we sweep it or sees FINISH and refuses. */
  pthread_mutex_lock(&loop->table_lock);
  set_phase(loop, VMX__LOOP_FINISH);
  pthread_mutex_unlock(&loop->table_lock);
  uv_idle_stop(&loop->more);
  drop_ring(loop);
  reap(loop, false);
  for (unsigned i = 0; i < loop->table_cap; i++) {
    vmx_actor_t *a = loop->table[i];
    if (a) {
      vmx__loop_unqueue(loop, a);
      vmx__actor_finalize(loop, a, &loop->stats.dropped, false);
    }
  }
  if (loop->stats.dropped != dropped)
    vmx_log_error("loop %s: shutdown dropped %llu undelivered message(s)", loop->name,
                  (unsigned long long)(loop->stats.dropped - dropped));
}

static void close_handle(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void exit_loop(vmx_loop_t *loop) {
  /* Nothing can send any more (every loop is past FINISH, outside senders
   * are refused), but a send that raced FINISH may have landed. */
  drop_ring(loop);
  if (loop->opts.on_thread_exit) {
    vmx_loop_stats_t stats;
    vmx_loop_stats_get(loop, &stats);
    loop->opts.on_thread_exit(loop, &stats, loop->opts.hook_arg);
  }
  set_phase(loop, VMX__LOOP_EXIT);
  uv_walk(&loop->uv, close_handle, NULL);
}

/* Runs the stages the controller asked for. Returns true once the loop no
 * longer runs actors. */
static bool handle_request(vmx_loop_t *loop) {
  /* Acquire: pairs with request_all's release. */
  uint32_t req = __atomic_load_n(&loop->request, __ATOMIC_ACQUIRE);
  if (loop->phase < VMX__LOOP_QUIET && req >= VMX__LOOP_QUIET)
    quiet(loop);
  if (loop->phase < VMX__LOOP_FINISH && req >= VMX__LOOP_FINISH)
    finish(loop);
  if (loop->phase < VMX__LOOP_EXIT && req >= VMX__LOOP_EXIT)
    exit_loop(loop);
  return loop->phase >= VMX__LOOP_FINISH;
}

static bool is_loop(vmx_bus_endpoint_t *ep) { return ep && ep->wake == loop_wake; }

/* Asks every loop to reach `stage` and waits until each has. */
static void request_all(vmx_bus_t *bus, uint32_t stage) {
  unsigned n = vmx_bus_endpoint_count(bus);
  for (unsigned i = 0; i < n; i++) {
    vmx_bus_endpoint_t *ep = vmx_bus_endpoint_at(bus, i);
    if (!is_loop(ep))
      continue;
    vmx_loop_t *loop = ep->owner;
    /* Release: pairs with handle_request's acquire. */
    __atomic_store_n(&loop->request, stage, __ATOMIC_RELEASE);
    /* A vCPU running guest code on the loop sees the request at its next
     * block boundary. */
    if (loop->opts.kick)
      __atomic_store_n(loop->opts.kick, 1, __ATOMIC_RELEASE);
    loop_wake(loop);
  }
  for (unsigned i = 0; i < n; i++) {
    vmx_bus_endpoint_t *ep = vmx_bus_endpoint_at(bus, i);
    if (!is_loop(ep))
      continue;
    vmx_loop_t *loop = ep->owner;
    /* Acquire: pairs with set_phase's release: the stage's work is done. */
    for (uint64_t nap = 10000; __atomic_load_n(&loop->phase, __ATOMIC_ACQUIRE) < stage;
         nap = nap < 1000000 ? nap * 2 : nap)
      vmx_clock_sleep_ns(nap);
  }
}

static void loop_free(vmx_loop_t *loop) {
  uv_loop_close(&loop->uv);
  close(loop->wake_fd);
  uv_sem_destroy(&loop->ready);
  pthread_mutex_destroy(&loop->table_lock);
  free(loop->table);
  free(loop);
}

int vmx_loop_stop_all(vmx_bus_t *bus, uint64_t timeout_ns) {
  uint64_t deadline = vmx__now_ns() + timeout_ns;
  vmx_bus_stop_senders(bus);
  request_all(bus, VMX__LOOP_QUIET);
  bool drained;
  for (uint64_t nap = 20000;; nap = nap < 1000000 ? nap * 2 : nap) {
    drained = vmx_bus_quiescent(bus);
    if (drained || vmx__now_ns() >= deadline)
      break;
    vmx_clock_sleep_ns(nap);
  }
  if (!drained)
    vmx_log_error("shutdown: messages still in flight after %llu ms; dropping them",
                  (unsigned long long)(timeout_ns / 1000000));
  unsigned n = vmx_bus_endpoint_count(bus);
  for (unsigned i = 0; i < n; i++)
    vmx_bus_endpoint_close(vmx_bus_endpoint_at(bus, i));
  request_all(bus, VMX__LOOP_FINISH);
  request_all(bus, VMX__LOOP_EXIT);
  for (unsigned i = 0; i < n; i++) {
    vmx_bus_endpoint_t *ep = vmx_bus_endpoint_at(bus, i);
    if (!is_loop(ep))
      continue;
    vmx_loop_t *loop = ep->owner;
    if (loop->opts.on_caller) {
      /* Acquire: pairs with vmx_loop_run's release. */
      for (uint64_t nap = 10000; !__atomic_load_n(&loop->caller_done, __ATOMIC_ACQUIRE);
           nap = nap < 1000000 ? nap * 2 : nap)
        vmx_clock_sleep_ns(nap);
    } else {
      uv_thread_join(&loop->thread);
    }
    ep->owner = NULL;
    ep->wake = NULL;
    loop_free(loop);
  }
  return drained ? 0 : VMX_EAGAIN;
}

/* ----------------------------------------------------------------- start */

static void loop_main(void *arg) {
  vmx_loop_t *loop = arg;
  if (loop->opts.on_thread_start)
    loop->opts.on_thread_start(loop, loop->opts.hook_arg);
  uv_sem_post(&loop->ready);
  uv_run(&loop->uv, UV_RUN_DEFAULT);
}

void vmx_loop_run(vmx_loop_t *loop) {
  loop_main(loop);
  /* Release: everything the loop did happens before stop_all frees it. */
  __atomic_store_n(&loop->caller_done, 1, __ATOMIC_RELEASE);
}

static int loop_options(const vmx_loop_options_t *opts, vmx_loop_options_t *o) {
  *o = opts ? *opts : (vmx_loop_options_t){0};
  if (!o->max_actors)
    o->max_actors = 1024;
  if (!o->ring_batch)
    o->ring_batch = 256;
  if (!o->actor_batch)
    o->actor_batch = 64;
  if (o->max_actors > 0xffff)
    return VMX_EINVAL;
  return 0;
}

static int loop_init_uv(vmx_loop_t *loop) {
  loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (loop->wake_fd < 0)
    return VMX_EIO;
  if (uv_loop_init(&loop->uv) != 0) {
    close(loop->wake_fd);
    return VMX_EIO;
  }
  if (uv_poll_init(&loop->uv, &loop->wake, loop->wake_fd) != 0 ||
      uv_poll_start(&loop->wake, UV_READABLE, on_wake) != 0) {
    uv_loop_close(&loop->uv);
    close(loop->wake_fd);
    return VMX_EIO;
  }
  uv_idle_init(&loop->uv, &loop->more);
  loop->wake.data = loop;
  loop->more.data = loop;
  return 0;
}

int vmx_loop_start(vmx_bus_t *bus, const vmx_loop_options_t *opts, vmx_loop_t **out) {
  vmx_loop_t *loop = calloc(1, sizeof *loop);
  if (!loop)
    return VMX_ENOMEM;
  int rc = loop_options(opts, &loop->opts);
  if (rc) {
    free(loop);
    return rc;
  }
  loop->bus = bus;
  loop->table_cap = loop->opts.max_actors;
  loop->table = calloc(loop->table_cap, sizeof *loop->table);
  if (!loop->table || (rc = loop_init_uv(loop)) != 0) {
    free(loop->table);
    free(loop);
    return rc ? rc : VMX_ENOMEM;
  }
  pthread_mutex_init(&loop->table_lock, NULL);
  uv_sem_init(&loop->ready, 0);
  vmx_bus_endpoint_options_t eo = {loop->opts.ring_slots, loop_wake, loop, loop->opts.kick, loop};
  if ((rc = vmx_bus_endpoint_open(bus, &eo, &loop->ep)) != 0) {
    /* The handles were never run: closing them needs one pass of the loop. */
    uv_walk(&loop->uv, close_handle, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    loop_free(loop);
    return rc;
  }
  loop->index = loop->ep->index;
  if (loop->opts.name)
    snprintf(loop->name, sizeof loop->name, "%s", loop->opts.name);
  else
    snprintf(loop->name, sizeof loop->name, "loop%u", loop->index);
  loop->opts.name = loop->name;
  if (loop->opts.on_caller) {
    *out = loop;
    return 0;
  }
  if (uv_thread_create(&loop->thread, loop_main, loop) != 0) {
    /* The endpoint stays (the bus owns it), closed; nothing routes to it. */
    vmx_bus_endpoint_close(loop->ep);
    loop->ep->wake = NULL;
    loop->ep->owner = NULL;
    uv_walk(&loop->uv, close_handle, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    loop_free(loop);
    return VMX_EIO;
  }
  uv_sem_wait(&loop->ready);
  *out = loop;
  return 0;
}

/* ------------------------------------------------------------------ access */

_Static_assert(sizeof(vmx_loop_stats_t) % sizeof(uint64_t) == 0, "all counters are uint64_t");

void vmx_loop_stats_get(vmx_loop_t *loop, vmx_loop_stats_t *out) {
  const uint64_t *src = (const uint64_t *)&loop->stats;
  uint64_t *dst = (uint64_t *)out;
  /* Relaxed: each counter is written by one thread; no ordering is implied
   * between them. */
  for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
    dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
  out->backpressure += __atomic_load_n(&loop->ep->backpressure, __ATOMIC_RELAXED);
  out->wake_rescues = __atomic_load_n(&loop->ep->rescues, __ATOMIC_RELAXED);
  out->ring_hwm = __atomic_load_n(&loop->ep->ring_hwm, __ATOMIC_RELAXED);
}

void vmx_loop_stats_total(vmx_bus_t *bus, vmx_loop_stats_t *out) {
  memset(out, 0, sizeof *out);
  unsigned n = vmx_bus_endpoint_count(bus);
  for (unsigned i = 0; i < n; i++) {
    vmx_bus_endpoint_t *ep = vmx_bus_endpoint_at(bus, i);
    if (!is_loop(ep))
      continue;
    vmx_loop_stats_t s;
    vmx_loop_stats_get(ep->owner, &s);
    uint64_t ring_hwm = out->ring_hwm, mailbox_hwm = out->mailbox_hwm;
    const uint64_t *src = (const uint64_t *)&s;
    uint64_t *dst = (uint64_t *)out;
    for (size_t k = 0; k < sizeof s / sizeof(uint64_t); k++)
      dst[k] += src[k];
    out->ring_hwm = ring_hwm > s.ring_hwm ? ring_hwm : s.ring_hwm;
    out->mailbox_hwm = mailbox_hwm > s.mailbox_hwm ? mailbox_hwm : s.mailbox_hwm;
  }
}

unsigned vmx_loop_index(const vmx_loop_t *loop) { return loop->index; }
const char *vmx_loop_name(const vmx_loop_t *loop) { return loop->name; }
vmx_bus_t *vmx_loop_bus(const vmx_loop_t *loop) { return loop->bus; }
uv_loop_t *vmx_loop_uv(vmx_loop_t *loop) { return &loop->uv; }
