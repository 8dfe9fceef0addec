/* The actor runtime: loop threads, actors, timers, asks, supervision.
 *
 * What the runtime promises
 *
 *   - A loop is one thread running one libuv loop. It owns one bus endpoint
 *     (an inbound ring that any thread may send to) and the actors spawned on
 *     it. An actor is state plus a receive function plus a mailbox; all of an
 *     actor's code runs on its loop's thread, one message at a time.
 *   - Messages to an actor on the same loop go straight into its mailbox, with
 *     no atomic operation; messages from elsewhere go through the loop's ring,
 *     and an eventfd in the loop's libuv poll set wakes it (loop.c says why
 *     not uv_async). Both carry encoded msgpack, and both are
 *     decoded (checked) just before the receive function runs, so what an
 *     actor sees is exactly what a trace of the bus records.
 *   - Each round of a loop moves at most ring_batch messages from the ring to
 *     mailboxes and gives each actor with mail one turn of at most actor_batch
 *     messages, then lets libuv run timers and I/O. No actor starves another.
 *   - Per sender and destination, messages arrive in the order sent.
 *   - Nothing is dropped silently. A full mailbox or ring makes the send fail
 *     with VMX_EAGAIN (an actor never blocks its loop on a send); a message to
 *     an actor that no longer exists is a dead letter; both are counted.
 *   - An actor whose receive returns a negative code has failed: the runtime
 *     logs it, stops it (on_stop runs, its queued messages become dead
 *     letters, pending asks get VMX_ENOENT) and sends ACTOR_EXITED to its
 *     supervisor. Other actors go on.
 *   - vmx_loop_stop_all shuts down cleanly: senders that are not actors are
 *     refused, timers stop, every message already sent is delivered (handlers
 *     may still send; the drain goes on until nothing is in flight), then
 *     every actor is stopped and every loop thread joined.
 *
 * Thread-safety: vmx_loop_start, vmx_loop_stop_all, vmx_loop_stats_get and
 * vmx_actor_spawn may be called from any thread. Functions taking a
 * vmx_actor_ctx_t are for the receive function that got the ctx, on its loop.
 */
#ifndef VMX_ACTORS_ACTOR_H
#define VMX_ACTORS_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bus/bus.h"

typedef struct vmx_loop vmx_loop_t;
typedef struct vmx_actor vmx_actor_t;
typedef struct vmx_actor_ctx vmx_actor_ctx_t;

/* Handles one message. msg is valid only during the call. Returns 0, or a
 * negative VMX_E* code: the actor has failed and is stopped. */
typedef int (*vmx_actor_receive_fn)(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg);

/* Called once on the loop thread when the actor ends: reason is 0 (stopped,
 * or its loop shut down) or the code its receive failed with, or the reason
 * of an ACTOR_STOP. The runtime never touches state afterwards: free it here. */
typedef void (*vmx_actor_stop_fn)(void *state, int reason);

/* Counters of one actor. Written by its loop thread only. */
typedef struct vmx_actor_stats {
  uint64_t msgs_in;      /* messages its receive handled (including asks) */
  uint64_t msgs_out;     /* messages it sent (including replies) */
  uint64_t mailbox_hwm;  /* most messages its mailbox held */
  uint64_t busy_ns;      /* time in its receive function */
  uint64_t backpressure; /* its sends refused with VMX_EAGAIN */
  uint64_t timer_overruns; /* timer ticks lost because its mailbox was full */
} vmx_actor_stats_t;

/* What on_actor_exit hooks get when an actor ends. */
typedef struct vmx_actor_info {
  vmx_addr_t addr;
  const char *name;
  int reason; /* as for vmx_actor_stop_fn */
  vmx_actor_stats_t stats;
} vmx_actor_info_t;

typedef struct vmx_actor_def {
  const char *name;             /* copied; at most VMX_STR_MAX - 1 bytes kept */
  vmx_actor_receive_fn receive; /* required */
  vmx_actor_stop_fn on_stop;    /* may be NULL */
  void *state;                  /* passed to receive and on_stop */
  vmx_addr_t supervisor;        /* gets ACTOR_EXITED when it ends; NONE: none */
  unsigned mailbox_max;         /* most queued messages; default 4096 */
  /* The retired-instruction counter of the vCPU this actor is, read (on the
   * loop thread) at each send and stamped into the envelope; NULL if none. */
  const uint64_t *icount;
} vmx_actor_def_t;

/* Counters of one loop. Written by the loop thread (backpressure also by
 * senders); any thread may read them with vmx_loop_stats_get. */
typedef struct vmx_loop_stats {
  uint64_t msgs_in;      /* messages handled by its actors */
  uint64_t msgs_out;     /* messages its actors sent */
  uint64_t ring_hwm;     /* most messages seen in its inbound ring */
  uint64_t mailbox_hwm;  /* most messages seen in one of its mailboxes */
  uint64_t backpressure; /* sends to it refused or delayed (ring or mailbox full) */
  uint64_t ring_stalls;  /* rounds that left the ring because a mailbox was full */
  uint64_t dead_letters; /* messages for actors that no longer exist */
  uint64_t dropped;      /* messages dropped at shutdown (drain timed out) */
  uint64_t malformed;    /* messages that failed to decode (a bug if ever > 0) */
  uint64_t busy_ns;      /* time spent in rounds that handled messages */
  uint64_t rounds;       /* rounds that handled messages */
  uint64_t wakeups;      /* wake-ups from sleep */
  uint64_t wake_rescues; /* asker re-wakes that found this loop stalled (bus.c ask_wait) */
  uint64_t actors_spawned;
  uint64_t actors_failed;
} vmx_loop_stats_t;

typedef struct vmx_loop_options {
  const char *name;       /* for logs and stats; default "loopN" */
  unsigned ring_slots;    /* inbound ring; default 4095 */
  unsigned max_actors;    /* actor slots; default 1024, at most 65535 */
  unsigned ring_batch;    /* ring messages moved per round; default 256 */
  unsigned actor_batch;   /* messages per actor turn; default 64 */
  /* Before sleeping, poll the ring this long (like KVM's halt polling): a
   * message arriving meanwhile is taken without a wake-up (~5-50 us on a VM)
   * but the thread burns its CPU while it polls. Default 0: sleep at once. */
  unsigned idle_poll_us;
  /* Runs on the new loop thread before its first round: pin the thread or
   * bind its memory here (the NUMA scheduler). */
  void (*on_thread_start)(vmx_loop_t *loop, void *arg);
  /* Runs on the loop thread whenever an actor ends, with its final counters
   * (for `vmx --stats`). */
  void (*on_actor_exit)(vmx_loop_t *loop, const vmx_actor_info_t *info, void *arg);
  /* Runs on the loop thread as it ends (in vmx_loop_stop_all), with the
   * loop's final counters. */
  void (*on_thread_exit)(vmx_loop_t *loop, const vmx_loop_stats_t *stats, void *arg);
  void *hook_arg;
  /* Optional exit-request flag: every message sent to this loop from another
   * thread stores 1 to it (release). A vCPU running guest code in a receive
   * polls it at block boundaries and returns to let the loop deliver. */
  uint32_t *kick;
  /* Make no thread: the loop runs when a thread calls vmx_loop_run (user
   * mode runs the guest's main thread on the process's main thread, so its
   * tid is the pid). Messages sent meanwhile wait in the ring. */
  bool on_caller;
} vmx_loop_options_t;

/* Starts a loop thread on bus (opts may be NULL). Returns 0 and *out, or
 * VMX_EINVAL, VMX_ENOMEM, VMX_EIO (thread or libuv set-up failed). The loop
 * lives until vmx_loop_stop_all; do not start loops once that has begun. */
int vmx_loop_start(vmx_bus_t *bus, const vmx_loop_options_t *opts, vmx_loop_t **out);

/* Runs a loop started with opts.on_caller on the calling thread, which
 * becomes its loop thread (on_thread_start runs first), until the loop ends
 * (vmx_loop_stop_all). Call exactly once per such loop: vmx_loop_stop_all
 * waits for it to run and end. */
void vmx_loop_run(vmx_loop_t *loop);

/* Shuts down every loop of bus: refuses senders that are not actors, stops
 * timers, waits (up to timeout_ns) until no message is in flight, then stops
 * every actor (on_stop, on_actor_exit), joins the threads and frees the
 * loops. Returns 0, or VMX_EAGAIN if the drain timed out: the messages left
 * were dropped and counted (vmx_loop_stats_t.dropped; also logged). Waits
 * without limit for receive functions that are running to return. Call from
 * a thread that is not a loop thread; then vmx_bus_close may follow. */
int vmx_loop_stop_all(vmx_bus_t *bus, uint64_t timeout_ns);

/* Copies the loop's counters. Any thread; each counter is exact, the set is
 * not a consistent snapshot while the loop runs. */
void vmx_loop_stats_get(vmx_loop_t *loop, vmx_loop_stats_t *out);

/* The counters of every loop of bus, summed (the high-water marks are the
 * largest). Any thread. */
void vmx_loop_stats_total(vmx_bus_t *bus, vmx_loop_stats_t *out);

/* The loop's index (the loop field of its actors' addresses), its name, and
 * its bus. Any thread. */
unsigned vmx_loop_index(const vmx_loop_t *loop);
const char *vmx_loop_name(const vmx_loop_t *loop);
vmx_bus_t *vmx_loop_bus(const vmx_loop_t *loop);
/* The libuv loop, for handles of actors on this loop (loop thread only; close
 * them in on_stop). */
uv_loop_t *vmx_loop_uv(vmx_loop_t *loop);

/* Creates an actor on loop. Returns 0 and its address, VMX_EINVAL (no
 * receive), VMX_ENOMEM (no free slot) or VMX_ENOENT (the loop is shutting
 * down). Any thread; messages may be sent to it as soon as this returns. */
int vmx_actor_spawn(vmx_loop_t *loop, const vmx_actor_def_t *def, vmx_addr_t *out);

/* The running actor's address, and its loop. Only during its receive. */
vmx_addr_t vmx_actor_self(const vmx_actor_ctx_t *ctx);
vmx_loop_t *vmx_actor_loop(const vmx_actor_ctx_t *ctx);

/* Sends msg (type and body set by the caller; the envelope is filled here)
 * from the running actor to dst. Never blocks. Returns 0; VMX_EAGAIN if dst's
 * mailbox (same loop) or ring (other loop) is full: nothing was sent, the
 * refusal is counted, the caller must retry later (for instance from a timer
 * or a message to itself) or give up; VMX_ENOENT if dst is known not to exist
 * (same loop) or its loop is gone; VMX_EINVAL for a bad type. */
int vmx_actor_send(vmx_actor_ctx_t *ctx, vmx_addr_t dst, vmx_msg_t *msg);

/* Sends req to dst and returns its reply in *reply. On the same loop this is
 * a direct call into dst's receive (it does not wait for messages already in
 * dst's mailbox); on another loop it goes by message and blocks this loop
 * thread up to timeout_ns. Returns 0; VMX_ENOENT (no such actor); VMX_ENOSYS
 * (dst returned without replying); dst's failure code (dst is then stopped);
 * VMX_EAGAIN (timeout, ring full until timeout, or dst is running: an ask
 * cycle on one loop); VMX_EINVAL (bad type, or dst is the caller). Asks
 * across loops must not form cycles (A asks B while B asks A deadlocks until
 * the timeouts). */
int vmx_actor_ask(vmx_actor_ctx_t *ctx, vmx_addr_t dst, vmx_msg_t *req, vmx_msg_t *reply,
                  uint64_t timeout_ns);

/* Answers the ask being handled with reply (type and body set by the
 * caller). Returns 0, VMX_EINVAL (the message is not an ask, or it was
 * answered already) or VMX_ENOENT (the asker gave up waiting). */
int vmx_actor_reply(vmx_actor_ctx_t *ctx, vmx_msg_t *reply);

/* Stops actor `who` with reason (0 or a negative code). If who is the running
 * actor, it stops when its receive returns and whatever is still in its
 * mailbox becomes dead letters. Otherwise this sends who an ACTOR_STOP, so
 * messages the running actor sent it earlier are handled first. Returns as
 * vmx_actor_send. */
int vmx_actor_stop(vmx_actor_ctx_t *ctx, vmx_addr_t who, int reason);

/* Delivers a copy of msg (type and body) to the running actor after delay_ms,
 * then every repeat_ms if that is not 0. Each tick is a message from the
 * actor to itself, with a fresh sequence number; a tick that finds the
 * mailbox full is lost and counted (timer_overruns). Sets *id. Returns 0,
 * VMX_EINVAL (bad type), VMX_ENOMEM, or VMX_ENOENT (the loop is shutting
 * down). A one-shot timer ends after its tick. */
int vmx_actor_timer_start(vmx_actor_ctx_t *ctx, uint64_t delay_ms, uint64_t repeat_ms,
                          const vmx_msg_t *msg, uint64_t *id);

/* Cancels the running actor's timer id. Returns 0, or VMX_ENOENT if it has
 * ended (fired once, or was cancelled). Timers end with their actor. */
int vmx_actor_timer_stop(vmx_actor_ctx_t *ctx, uint64_t id);

/* True if a message may be waiting for the running actor: its mailbox is not
 * empty, or its loop holds or has in its ring messages not yet routed (for
 * any of its actors). A vCPU running guest code calls it after clearing its
 * exit-request flag, so that a message that set the flag is not missed. */
bool vmx_actor_mail_waiting(const vmx_actor_ctx_t *ctx);

/* Copies the running actor's counters (its final ones go to on_actor_exit). */
void vmx_actor_stats_get(const vmx_actor_ctx_t *ctx, vmx_actor_stats_t *out);

#endif
