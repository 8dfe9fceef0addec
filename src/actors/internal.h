/* Internals shared by loop.c and actor.c; not for other modules.
 *
 * Ownership: a loop's thread is the only one that reads or writes its actors,
 * their mailboxes and the fields marked "loop thread" below. Other threads
 * touch a loop only through its endpoint (bus.h), the actor table under
 * table_lock (vmx_actor_spawn), the request/phase pair (shutdown) and the
 * counters (read with relaxed loads).
 */
#ifndef VMX_ACTORS_INTERNAL_H
#define VMX_ACTORS_INTERNAL_H

#include <pthread.h>

#include "actors/actor.h"
#include "base/clock.h"

/* Mailbox slot flag: the message came through the loop's ring (it is
 * finished in ep->ring_done rather than ep->local_done). */
#define VMX__SLOT_FROM_RING 1u

/* The correlation tokens of same-loop asks have this bit set; bus ask tokens
 * never do (bus.c keeps their generation to 31 bits). A trace can tell the two
 * apart; local tokens never reach the bus's ask table. */
#define VMX__LOCAL_ASK (UINT64_C(1) << 63)

/* A growable FIFO of encoded messages; capacity a power of two. */
typedef struct vmx__mailbox {
  vmx_ring_slot_t *slots;
  uint32_t cap, head, count, max;
} vmx__mailbox_t;

typedef struct vmx__timer {
  uv_timer_t handle;
  vmx_actor_t *owner;
  uint64_t id;
  bool repeat;
  vmx_msg_t msg;
  struct vmx__timer *next, *prev;
} vmx__timer_t;

struct vmx_actor {
  /* Set at spawn, read-only after. */
  vmx_loop_t *loop;
  vmx_addr_t addr;
  vmx_str_t name;
  vmx_actor_receive_fn receive;
  vmx_actor_stop_fn on_stop;
  void *state;
  vmx_addr_t supervisor;
  const uint64_t *icount;

  /* Loop thread. */
  vmx__mailbox_t mbox;
  uint64_t next_seq;
  vmx_actor_t *rq_next, *rq_prev; /* run queue links, while queued */
  bool queued;
  bool stopping;        /* no more deliveries; finalized at the end of the round */
  unsigned running;     /* its receive calls now on the stack (asks nest) */
  int exit_reason;
  uint32_t fail_type;
  vmx_actor_t *reap_next;
  vmx__timer_t *timers;
  uint64_t next_timer_id;
  vmx_actor_stats_t stats;
};

struct vmx_actor_ctx {
  vmx_loop_t *loop;
  vmx_actor_t *self;
  uint64_t corr;          /* the ask being handled; 0 if none */
  vmx_addr_t asker;
  vmx_msg_t *local_reply; /* same-loop ask: where the reply goes */
  bool replied;
};

/* Shutdown stages, in order. */
enum { VMX__LOOP_RUNNING, VMX__LOOP_QUIET, VMX__LOOP_FINISH, VMX__LOOP_EXIT };

struct vmx_loop {
  /* Set by vmx_loop_start, read-only after. */
  vmx_bus_t *bus;
  vmx_bus_endpoint_t *ep;
  unsigned index;
  char name[32];
  vmx_loop_options_t opts;
  uv_thread_t thread;
  uv_sem_t ready;
  uint32_t caller_done; /* on_caller loops: vmx_loop_run has returned (release) */

  /* libuv handles: loop thread. Any thread may write to wake_fd. */
  uv_loop_t uv;
  int wake_fd;       /* an eventfd; see loop_wake in loop.c */
  uv_poll_t wake;    /* watches wake_fd */
  uv_idle_t more;    /* active while there is work left for another round */

  /* The actor table. table_lock guards slot allocation and release, `live`,
   * next_serial and the move to VMX__LOOP_FINISH; entries are published with
   * release and read by the loop thread with acquire. */
  pthread_mutex_t table_lock;
  vmx_actor_t **table;
  unsigned table_cap, table_hint, live;
  uint32_t next_serial;

  /* Loop thread. */
  vmx_actor_t *rq_head, *rq_tail;
  unsigned rq_len;
  vmx_ring_slot_t held; /* popped from the ring, waiting for mailbox room */
  bool holding;
  vmx_actor_t *reap;
  uint64_t next_local_ask;

  /* Shutdown: the controller stores `request` (release) and wakes the loop;
   * the loop works through the stages and stores `phase` (release). Both are
   * read with acquire. */
  uint32_t request;
  uint32_t phase;

  /* Counters: loop thread writes (relaxed stores), anyone reads. */
  vmx_loop_stats_t stats;
};

/* Counter updates by the single writer: relaxed stores, so readers on other
 * threads see whole values; no read-modify-write needed. */
static inline void vmx__stat_add(uint64_t *c, uint64_t n) {
  __atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}
static inline void vmx__stat_max(uint64_t *c, uint64_t v) {
  if (v > *c)
    __atomic_store_n(c, v, __ATOMIC_RELAXED);
}

/* Monotonic host time in ns, for busy-time counters and deadlines. */
static inline uint64_t vmx__now_ns(void) { return vmx_clock_ns(CLOCK_MONOTONIC); }

/* loop.c */
void vmx__loop_runnable(vmx_loop_t *loop, vmx_actor_t *a);
void vmx__loop_unqueue(vmx_loop_t *loop, vmx_actor_t *a);
void vmx__loop_more(vmx_loop_t *loop);
void vmx__loop_finished(vmx_loop_t *loop, bool from_ring);
void vmx__loop_local_in(vmx_loop_t *loop);
void vmx__loop_discard(vmx_loop_t *loop, const vmx_ring_slot_t *slot, uint64_t *counter);

/* actor.c */
vmx_actor_t *vmx__actor_lookup(vmx_loop_t *loop, vmx_addr_t addr);
int vmx__actor_enqueue(vmx_loop_t *loop, vmx_actor_t *a, const vmx_ring_slot_t *slot);
unsigned vmx__actor_turn(vmx_loop_t *loop, vmx_actor_t *a, unsigned max);
void vmx__actor_finalize(vmx_loop_t *loop, vmx_actor_t *a, uint64_t *discard_counter,
                         bool notify);
void vmx__actor_quiet_timers(vmx_actor_t *a);

#endif
