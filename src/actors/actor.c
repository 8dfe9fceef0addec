/* Actors: spawn, mailboxes, delivery, send, ask and reply, stop and
 * supervision, timers. Everything here but vmx_actor_spawn runs on the
 * actor's loop thread. */
#include <stdlib.h>
#include <string.h>

#include "actors/internal.h"
#include "base/log.h"

/* ------------------------------------------------------------------ spawn */

static int claim_slot_locked(vmx_loop_t *loop, unsigned *slot) {
  for (unsigned k = 0; k < loop->table_cap; k++) {
    unsigned i = (loop->table_hint + k) % loop->table_cap;
    if (!loop->table[i]) {
      loop->table_hint = i + 1;
      *slot = i;
      return 0;
    }
  }
  return VMX_ENOMEM;
}

int vmx_actor_spawn(vmx_loop_t *loop, const vmx_actor_def_t *def, vmx_addr_t *out) {
  if (!def || !def->receive)
    return VMX_EINVAL;
  vmx_actor_t *a = calloc(1, sizeof *a);
  if (!a)
    return VMX_ENOMEM;
  a->loop = loop;
  vmx_str_set(&a->name, def->name ? def->name : "actor");
  a->receive = def->receive;
  a->on_stop = def->on_stop;
  a->state = def->state;
  a->supervisor = def->supervisor;
  a->icount = def->icount;
  a->mbox.max = def->mailbox_max ? def->mailbox_max : 4096;
  a->next_seq = 1;
  pthread_mutex_lock(&loop->table_lock);
  unsigned slot;
  /* Under table_lock, which finish() holds to enter FINISH; acquire for the
   * loop's other phase stores, made without it. */
  int rc = __atomic_load_n(&loop->phase, __ATOMIC_ACQUIRE) >= VMX__LOOP_FINISH
               ? VMX_ENOENT
               : claim_slot_locked(loop, &slot);
  if (rc == 0) {
    if (++loop->next_serial == 0)
      loop->next_serial = 1;
    a->addr = vmx_addr_make(loop->index, slot, loop->next_serial);
    loop->live++;
    /* Release: the loop thread's acquire lookup sees a complete actor. */
    __atomic_store_n(&loop->table[slot], a, __ATOMIC_RELEASE);
    /* The one counter spawners write; table_lock serializes them. */
    vmx__stat_add(&loop->stats.actors_spawned, 1);
  }
  pthread_mutex_unlock(&loop->table_lock);
  if (rc) {
    free(a);
    return rc;
  }
  *out = a->addr;
  return 0;
}

vmx_actor_t *vmx__actor_lookup(vmx_loop_t *loop, vmx_addr_t addr) {
  unsigned slot = vmx_addr_slot(addr);
  if (vmx_addr_loop(addr) != loop->index || slot >= loop->table_cap)
    return NULL;
  /* Acquire: pairs with the release in vmx_actor_spawn. */
  vmx_actor_t *a = __atomic_load_n(&loop->table[slot], __ATOMIC_ACQUIRE);
  if (!a || a->addr != addr || a->stopping)
    return NULL;
  return a;
}

vmx_addr_t vmx_actor_self(const vmx_actor_ctx_t *ctx) { return ctx->self->addr; }
vmx_loop_t *vmx_actor_loop(const vmx_actor_ctx_t *ctx) { return ctx->loop; }

bool vmx_actor_mail_waiting(const vmx_actor_ctx_t *ctx) {
  vmx_loop_t *loop = ctx->loop;
  /* Pairs with the producer's release store of the kick flag (seq_cst so the
   * caller's clearing of the flag is ordered before this look at the ring). */
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return ctx->self->mbox.count > 0 || loop->holding || vmx_ring_depth(&loop->ep->ring) > 0;
}

void vmx_actor_stats_get(const vmx_actor_ctx_t *ctx, vmx_actor_stats_t *out) {
  *out = ctx->self->stats;
}

/* --------------------------------------------------------------- mailboxes */

static bool mbox_grow(vmx__mailbox_t *m) {
  uint32_t cap = m->cap ? m->cap * 2 : 16;
  vmx_ring_slot_t *slots = malloc((size_t)cap * sizeof *slots);
  if (!slots)
    return false;
  for (uint32_t i = 0; i < m->count; i++)
    slots[i] = m->slots[(m->head + i) & (m->cap - 1)];
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  m->head = 0;
  return true;
}

/* The slot where the next message for a goes, or NULL if its mailbox is full
 * (force: system messages go in over the limit). */
static vmx_ring_slot_t *mbox_reserve(vmx_actor_t *a, bool force) {
  vmx__mailbox_t *m = &a->mbox;
  if (m->count >= m->max && !force)
    return NULL;
  if (m->count == m->cap && !mbox_grow(m))
    return NULL;
  return &m->slots[(m->head + m->count) & (m->cap - 1)];
}

static void mbox_commit(vmx_loop_t *loop, vmx_actor_t *a) {
  a->mbox.count++;
  vmx__stat_max(&a->stats.mailbox_hwm, a->mbox.count);
  vmx__stat_max(&loop->stats.mailbox_hwm, a->mbox.count);
  vmx__loop_runnable(loop, a);
}

int vmx__actor_enqueue(vmx_loop_t *loop, vmx_actor_t *a, const vmx_ring_slot_t *slot) {
  vmx_ring_slot_t *dst = mbox_reserve(a, false);
  if (!dst)
    return VMX_EAGAIN;
  memcpy(dst, slot, offsetof(vmx_ring_slot_t, bytes) + slot->len);
  mbox_commit(loop, a);
  return 0;
}

/* Encodes msg into to's mailbox. */
static int send_local(vmx_loop_t *loop, vmx_actor_t *to, const vmx_msg_t *msg, bool force) {
  vmx_ring_slot_t *slot = mbox_reserve(to, force);
  if (!slot)
    return VMX_EAGAIN;
  size_t len;
  int rc = vmx_msg_encode(msg, slot->bytes, sizeof slot->bytes, &len);
  if (rc)
    return rc;
  slot->len = (uint16_t)len;
  slot->flags = 0;
  mbox_commit(loop, to);
  vmx__loop_local_in(loop);
  return 0;
}

/* ---------------------------------------------------------------- sending */

static void fill_envelope(vmx_actor_t *a, vmx_addr_t dst, vmx_msg_t *msg) {
  const vmx_msg_schema_t *s = vmx_msg_schema(msg->env.type);
  msg->env.version = s ? s->version : 0;
  msg->env.src = a->addr;
  msg->env.dst = dst;
  msg->env.seq = a->next_seq++;
  msg->env.icount = a->icount ? *a->icount : VMX_ICOUNT_NONE;
  msg->env.corr = 0;
}

/* Sends a filled-in message from loop to its destination, wherever it is. */
static int route(vmx_loop_t *loop, vmx_msg_t *msg, bool force) {
  vmx_addr_t dst = msg->env.dst;
  if (vmx_addr_loop(dst) != loop->index)
    return vmx__bus_post(loop->bus, msg, false);
  vmx_actor_t *to = vmx__actor_lookup(loop, dst);
  if (!to) {
    vmx__stat_add(&loop->stats.dead_letters, 1);
    return VMX_ENOENT;
  }
  int rc = send_local(loop, to, msg, force);
  if (rc == VMX_EAGAIN)
    vmx__stat_add(&loop->stats.backpressure, 1);
  return rc;
}

/* Bookkeeping after a send attempt of the running actor a. */
static int count_send(vmx_loop_t *loop, vmx_actor_t *a, int rc) {
  if (rc == 0) {
    vmx__stat_add(&a->stats.msgs_out, 1);
    vmx__stat_add(&loop->stats.msgs_out, 1);
    return 0;
  }
  a->next_seq--; /* nothing left: the sequence stays gapless */
  if (rc == VMX_EAGAIN)
    vmx__stat_add(&a->stats.backpressure, 1);
  return rc;
}

int vmx_actor_send(vmx_actor_ctx_t *ctx, vmx_addr_t dst, vmx_msg_t *msg) {
  if (!vmx_msg_schema(msg->env.type))
    return VMX_EINVAL;
  fill_envelope(ctx->self, dst, msg);
  return count_send(ctx->loop, ctx->self, route(ctx->loop, msg, false));
}

/* ---------------------------------------------------------------- delivery */

static int call_receive(vmx_actor_ctx_t *ctx, const vmx_msg_t *msg) {
  vmx_actor_t *a = ctx->self;
  a->running++;
  int rc = a->receive(ctx, a->state, msg);
  a->running--;
  vmx__stat_add(&a->stats.msgs_in, 1);
  vmx__stat_add(&ctx->loop->stats.msgs_in, 1);
  return rc;
}

/* Marks a as ending; it is finalized at the end of the round, when no
 * receive is on the stack. */
static void begin_stop(vmx_loop_t *loop, vmx_actor_t *a, int reason, uint32_t msg_type) {
  if (a->stopping)
    return;
  a->stopping = true;
  a->exit_reason = reason;
  a->fail_type = msg_type;
  vmx__loop_unqueue(loop, a);
  a->reap_next = loop->reap;
  loop->reap = a;
}

static void fail(vmx_loop_t *loop, vmx_actor_t *a, int rc, uint32_t msg_type) {
  const vmx_msg_schema_t *s = vmx_msg_schema(msg_type);
  vmx_log_error("actor %s (%u.%u#%u) failed handling %s: %s; stopped", a->name.s,
                vmx_addr_loop(a->addr), vmx_addr_slot(a->addr), vmx_addr_serial(a->addr),
                s ? s->name : "?", vmx_strerror(rc));
  vmx__stat_add(&loop->stats.actors_failed, 1);
  begin_stop(loop, a, rc, msg_type);
}

static void deliver(vmx_loop_t *loop, vmx_actor_t *a, const vmx_msg_t *msg) {
  uint64_t corr = msg->env.corr;
  if (msg->env.type == VMX_MSG_ACTOR_STOP) {
    if (corr)
      vmx__bus_ask_complete(loop->bus, corr, VMX_ENOSYS, NULL);
    begin_stop(loop, a, msg->body.actor_stop.reason, 0);
    return;
  }
  vmx_actor_ctx_t ctx = {loop, a, corr, msg->env.src, NULL, false};
  int rc = call_receive(&ctx, msg);
  if (corr && !ctx.replied)
    vmx__bus_ask_complete(loop->bus, corr, rc < 0 ? rc : VMX_ENOSYS, NULL);
  if (rc < 0)
    fail(loop, a, rc, msg->env.type);
}

static void dispatch_one(vmx_loop_t *loop, vmx_actor_t *a) {
  vmx__mailbox_t *m = &a->mbox;
  const vmx_ring_slot_t *slot = &m->slots[m->head];
  bool from_ring = slot->flags & VMX__SLOT_FROM_RING;
  vmx_msg_t msg;
  vmx_msg_error_t err;
  int rc = vmx_msg_decode(slot->bytes, slot->len, &msg, &err);
  if (rc == 0 && vmx__bus_tapped(loop->bus, msg.env.type))
    vmx__bus_tap(loop->bus, loop->index, &msg, slot->bytes, slot->len);
  /* The slot is free from here: the receive may grow the mailbox. */
  m->head = (m->head + 1) & (m->cap - 1);
  m->count--;
  if (rc == 0) {
    deliver(loop, a, &msg);
  } else {
    vmx_log_error("actor %s: dropping a malformed message: %s", a->name.s, err.text);
    vmx__stat_add(&loop->stats.malformed, 1);
  }
  vmx__loop_finished(loop, from_ring);
}

unsigned vmx__actor_turn(vmx_loop_t *loop, vmx_actor_t *a, unsigned max) {
  /* Only what was queued when the turn began: what the actor sends itself
   * meanwhile waits for its next turn, behind the other actors. */
  if (max > a->mbox.count)
    max = a->mbox.count;
  uint64_t t0 = vmx__now_ns();
  unsigned n = 0;
  while (n < max && a->mbox.count && !a->stopping) {
    dispatch_one(loop, a);
    n++;
  }
  vmx__stat_add(&a->stats.busy_ns, vmx__now_ns() - t0);
  return n;
}

/* ---------------------------------------------------------------- ask/reply */

static int ask_local(vmx_actor_ctx_t *ctx, vmx_actor_t *to, vmx_msg_t *req, vmx_msg_t *reply) {
  vmx_loop_t *loop = ctx->loop;
  if (to->running)
    return VMX_EAGAIN; /* an ask cycle: to is on the stack already */
  req->env.corr = VMX__LOCAL_ASK | ++loop->next_local_ask;
  if (vmx__bus_tapped(loop->bus, req->env.type))
    vmx__bus_tap(loop->bus, loop->index, req, NULL, 0);
  vmx_actor_ctx_t sub = {loop, to, req->env.corr, ctx->self->addr, reply, false};
  int rc = call_receive(&sub, req);
  if (rc < 0) {
    fail(loop, to, rc, req->env.type);
    return rc;
  }
  return sub.replied ? 0 : VMX_ENOSYS;
}

int vmx_actor_ask(vmx_actor_ctx_t *ctx, vmx_addr_t dst, vmx_msg_t *req, vmx_msg_t *reply,
                  uint64_t timeout_ns) {
  vmx_actor_t *a = ctx->self;
  vmx_loop_t *loop = ctx->loop;
  if (!vmx_msg_schema(req->env.type) || req->env.type == VMX_MSG_ACTOR_STOP || dst == a->addr)
    return VMX_EINVAL;
  fill_envelope(a, dst, req);
  if (vmx_addr_loop(dst) == loop->index) {
    vmx_actor_t *to = vmx__actor_lookup(loop, dst);
    int rc = to ? ask_local(ctx, to, req, reply) : VMX_ENOENT;
    if (!to)
      vmx__stat_add(&loop->stats.dead_letters, 1);
    if (rc == VMX_ENOENT || rc == VMX_EAGAIN)
      return count_send(loop, a, rc); /* the request did not go */
    count_send(loop, a, 0);
    return rc;
  }
  bool went;
  int rc = vmx__bus_ask(loop->bus, req, reply, false, timeout_ns, &went);
  if (!went)
    return count_send(loop, a, rc);
  count_send(loop, a, 0);
  return rc;
}

int vmx_actor_reply(vmx_actor_ctx_t *ctx, vmx_msg_t *reply) {
  if (!ctx->corr || ctx->replied || !vmx_msg_schema(reply->env.type))
    return VMX_EINVAL;
  vmx_loop_t *loop = ctx->loop;
  fill_envelope(ctx->self, ctx->asker, reply);
  reply->env.corr = ctx->corr;
  if (vmx__bus_tapped(loop->bus, reply->env.type))
    vmx__bus_tap(loop->bus, loop->index, reply, NULL, 0);
  ctx->replied = true;
  int rc = 0;
  if (ctx->local_reply)
    *ctx->local_reply = *reply;
  else
    rc = vmx__bus_ask_complete(loop->bus, ctx->corr, 0, reply);
  if (rc == 0) {
    vmx__stat_add(&ctx->self->stats.msgs_out, 1);
    vmx__stat_add(&loop->stats.msgs_out, 1);
  }
  return rc;
}

/* ------------------------------------------------------ stop and supervise */

int vmx_actor_stop(vmx_actor_ctx_t *ctx, vmx_addr_t who, int reason) {
  if (who == ctx->self->addr) {
    begin_stop(ctx->loop, ctx->self, reason, 0);
    return 0;
  }
  vmx_msg_t msg = VMX_MSG_INIT(ACTOR_STOP);
  msg.body.actor_stop.reason = reason;
  return vmx_actor_send(ctx, who, &msg);
}

static void report_exit(vmx_loop_t *loop, vmx_actor_t *a) {
  vmx_msg_t msg = VMX_MSG_INIT(ACTOR_EXITED);
  msg.body.actor_exited.actor = a->addr;
  msg.body.actor_exited.name = a->name;
  msg.body.actor_exited.error = a->exit_reason;
  msg.body.actor_exited.msg_type = a->fail_type;
  fill_envelope(a, a->supervisor, &msg);
  int rc;
  if (vmx_addr_loop(a->supervisor) == loop->index)
    rc = route(loop, &msg, true); /* a supervisor's mailbox always takes it */
  else
    rc = vmx__bus_post_wait(loop->bus, &msg, false, 1000000000u);
  if (rc)
    vmx_log_error("actor %s: could not tell its supervisor that it ended: %s", a->name.s,
                  vmx_strerror(rc));
}

static void timer_closed(uv_handle_t *h) { free(h->data); }

static void timer_end(vmx__timer_t *t) {
  vmx_actor_t *a = t->owner;
  if (t->prev)
    t->prev->next = t->next;
  else
    a->timers = t->next;
  if (t->next)
    t->next->prev = t->prev;
  uv_timer_stop(&t->handle);
  uv_close((uv_handle_t *)&t->handle, timer_closed);
}

void vmx__actor_finalize(vmx_loop_t *loop, vmx_actor_t *a, uint64_t *discard_counter,
                         bool notify) {
  vmx__mailbox_t *m = &a->mbox;
  for (; m->count; m->count--, m->head = (m->head + 1) & (m->cap - 1))
    vmx__loop_discard(loop, &m->slots[m->head], discard_counter);
  while (a->timers)
    timer_end(a->timers);
  pthread_mutex_lock(&loop->table_lock);
  /* Release: pairs with spawners' lookups of free slots (under the lock) and
   * the loop's own acquire loads. */
  __atomic_store_n(&loop->table[vmx_addr_slot(a->addr)], NULL, __ATOMIC_RELEASE);
  loop->live--;
  pthread_mutex_unlock(&loop->table_lock);
  if (a->on_stop)
    a->on_stop(a->state, a->exit_reason);
  if (notify && a->supervisor != VMX_ADDR_NONE)
    report_exit(loop, a);
  if (loop->opts.on_actor_exit) {
    vmx_actor_info_t info = {a->addr, a->name.s, a->exit_reason, a->stats};
    loop->opts.on_actor_exit(loop, &info, loop->opts.hook_arg);
  }
  free(m->slots);
  free(a);
}

/* ------------------------------------------------------------------ timers */

static void on_timer(uv_timer_t *h) {
  vmx__timer_t *t = h->data;
  vmx_actor_t *a = t->owner;
  vmx_loop_t *loop = a->loop;
  vmx_msg_t msg = t->msg;
  fill_envelope(a, a->addr, &msg);
  if (send_local(loop, a, &msg, false) != 0) {
    a->next_seq--;
    vmx__stat_add(&a->stats.timer_overruns, 1);
  }
  if (!t->repeat)
    timer_end(t);
  vmx__loop_more(loop);
}

int vmx_actor_timer_start(vmx_actor_ctx_t *ctx, uint64_t delay_ms, uint64_t repeat_ms,
                          const vmx_msg_t *msg, uint64_t *id) {
  vmx_actor_t *a = ctx->self;
  if (!vmx_msg_schema(msg->env.type))
    return VMX_EINVAL;
  if (ctx->loop->phase >= VMX__LOOP_QUIET || a->stopping)
    return VMX_ENOENT;
  vmx__timer_t *t = calloc(1, sizeof *t);
  if (!t)
    return VMX_ENOMEM;
  uv_timer_init(&ctx->loop->uv, &t->handle);
  t->handle.data = t;
  t->owner = a;
  t->id = ++a->next_timer_id;
  t->repeat = repeat_ms != 0;
  t->msg = *msg;
  t->next = a->timers;
  if (a->timers)
    a->timers->prev = t;
  a->timers = t;
  uv_timer_start(&t->handle, on_timer, delay_ms, repeat_ms);
  *id = t->id;
  return 0;
}

int vmx_actor_timer_stop(vmx_actor_ctx_t *ctx, uint64_t id) {
  for (vmx__timer_t *t = ctx->self->timers; t; t = t->next) {
    if (t->id == id) {
      timer_end(t);
      return 0;
    }
  }
  return VMX_ENOENT;
}

void vmx__actor_quiet_timers(vmx_actor_t *a) {
  for (vmx__timer_t *t = a->timers; t; t = t->next)
    uv_timer_stop(&t->handle);
}
