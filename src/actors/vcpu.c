/* vCPU actors (see vcpu.h) and the `--stats` tables. */
#include "actors/vcpu.h"
#include "debug/dbg_vcpu.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "base/log.h"

/* One row of the vCPU table. Records are never freed (a guest thread that
 * ended keeps its final counters); past VMX_VCPU_RECS, vCPUs go uncounted. */
#define VMX_VCPU_RECS 4096

typedef struct vmx_vcpu_rec {
  vmx_str_t name;
  unsigned loop;
  vmx_addr_t addr;
  const vmx_rv_cpu_t *cpu; /* NULL once ended */
  uint64_t icount;         /* final, once ended */
  vmx_actor_stats_t stats; /* as of the last slice */
  int reason;
  bool ended;
} vmx_vcpu_rec_t;

static struct {
  bool on;
  pthread_mutex_t lock;
  unsigned n;
  vmx_vcpu_rec_t recs[VMX_VCPU_RECS];
} vmx__stats = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The vCPU whose receive runs on this thread, and its context. */
static __thread vmx_vcpu_t *vmx__cur;
static __thread vmx_actor_ctx_t *vmx__cur_ctx;

void vmx_vcpu_stats_enable(bool on) { vmx__stats.on = on; }
bool vmx_vcpu_stats_enabled(void) { return vmx__stats.on; }

static void rec_new(vmx_vcpu_t *v, const char *name) {
  v->rec = NULL;
  if (!vmx__stats.on)
    return;
  pthread_mutex_lock(&vmx__stats.lock);
  if (vmx__stats.n < VMX_VCPU_RECS) {
    vmx_vcpu_rec_t *r = &vmx__stats.recs[vmx__stats.n++];
    memset(r, 0, sizeof *r);
    vmx_str_set(&r->name, name);
    r->loop = vmx_loop_index(v->loop);
    r->cpu = v->cpu;
    v->rec = r;
  }
  pthread_mutex_unlock(&vmx__stats.lock);
}

/* Copies the running actor's counters into its row (loop thread). */
static void rec_update(vmx_vcpu_t *v, vmx_actor_ctx_t *ctx) {
  if (!v->rec)
    return;
  vmx_actor_stats_t s;
  vmx_actor_stats_get(ctx, &s);
  pthread_mutex_lock(&vmx__stats.lock);
  v->rec->addr = vmx_actor_self(ctx);
  v->rec->stats = s;
  pthread_mutex_unlock(&vmx__stats.lock);
}

static void rec_end(vmx_vcpu_t *v, int reason) {
  if (!v->rec)
    return;
  pthread_mutex_lock(&vmx__stats.lock);
  v->rec->icount = v->cpu->icount;
  v->rec->cpu = NULL;
  v->rec->reason = reason;
  v->rec->ended = true;
  pthread_mutex_unlock(&vmx__stats.lock);
  v->rec = NULL;
}

/* ---------------------------------------------------------------- actor */

/* Queues the next slice behind everything already in the loop's ring. */
static int vcpu_yield(vmx_vcpu_t *v) {
  if (v->run_queued || v->paused || v->stopping || v->idle)
    return 0;
  vmx_msg_t m = VMX_MSG_INIT(VCPU_RUN);
  /* Set before sending: the first RUN is sent by the spawning thread, and
   * the loop may handle it (and clear the flag) before the send returns. */
  v->run_queued = true;
  int rc = vmx_bus_send_wait(&v->self_sender, v->addr, &m, UINT64_C(10000000000));
  if (rc)
    v->run_queued = false;
  /* ENOENT: the bus is shutting down and takes no more sends; the vCPU
   * stops with its loop. */
  return rc == VMX_ENOENT ? 0 : rc;
}

/* The vCPU is no longer idle: its wake-up timer goes. */
static void idle_end(vmx_actor_ctx_t *ctx, vmx_vcpu_t *v) {
  v->idle = false;
  if (v->idle_timer_on) {
    vmx_actor_timer_stop(ctx, v->idle_timer); /* ENOENT: it fired already */
    v->idle_timer_on = false;
  }
}

/* Runs guest code until the guest thread ends or a message may wait. */
static int vcpu_slice(vmx_actor_ctx_t *ctx, vmx_vcpu_t *v) {
  if (!v->started) {
    v->started = true;
    if (v->on_start)
      v->on_start(v);
  }
  /* The kick that queued this slice (our own send) is stale; a message sent
   * after it set the flag again after pushing, so clearing then looking at
   * the ring misses nothing. */
  atomic_store_explicit(&v->cpu->exit_request, 0, memory_order_seq_cst);
  if (vmx_actor_mail_waiting(ctx))
    return vcpu_yield(v);
  vmx_rv_exit_t (*run)(vmx_rv_cpu_t *) = v->run ? v->run : vmx_rv_cpu_run;
  if (v->cpu->dbg)
    run = vmx_dbg_vcpu_run; /* a debugger, or --trace-exec */
  for (;;) {
    vmx_rv_exit_t why = run(v->cpu);
    if (v->dbg && vmx_dbg_vcpu_exit(v, why)) {
      rec_update(v, ctx);
      return 0;
    }
    int next = v->on_exit(v, why);
    if (next == VMX_VCPU_DONE) {
      v->stopping = true;
      rec_update(v, ctx);
      return vmx_actor_stop(ctx, vmx_actor_self(ctx), 0);
    }
    if (next == VMX_VCPU_IDLE) {
      /* Messages that came in while it ran wake it at once. */
      rec_update(v, ctx);
      if (vmx_actor_mail_waiting(ctx))
        return vcpu_yield(v);
      v->idle = true;
      /* Also wake after a while without a message: wfi may end at any
       * time, and this bounds the one delay the bus's wake protocol allows
       * (a sender preempted between raising wake_pending and writing the
       * eventfd: see vmx_bus_endpoint_may_sleep). */
      vmx_msg_t tick = VMX_MSG_INIT(VCPU_RUN);
      if (vmx_actor_timer_start(ctx, VMX_VCPU_IDLE_MAX_MS, 0, &tick, &v->idle_timer) == 0)
        v->idle_timer_on = true;
      return 0;
    }
    if (why == VMX_RV_EXIT_REQUEST) {
      rec_update(v, ctx);
      return vcpu_yield(v);
    }
  }
}

static int vcpu_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_vcpu_t *v = state;
  vmx__cur = v;
  vmx__cur_ctx = ctx;
  v->ctx = ctx;
  int rc = 0;
  switch (msg->env.type) {
  case VMX_MSG_VCPU_RUN:
    v->run_queued = false;
    idle_end(ctx, v);
    if (!v->paused && !v->stopping && !(v->dbg && v->dbg->halted))
      rc = vcpu_slice(ctx, v);
    break;
  case VMX_MSG_VCPU_PAUSE:
    v->paused = true;
    break;
  case VMX_MSG_VCPU_RESUME:
    v->paused = false;
    rc = vcpu_yield(v);
    break;
  case VMX_MSG_VCPU_STOP:
    v->stopping = true;
    rc = vmx_actor_stop(ctx, vmx_actor_self(ctx), msg->body.vcpu_stop.reason);
    break;
  case VMX_MSG_VCPU_DUMP: {
    vmx_msg_t r = VMX_MSG_INIT(VCPU_STATE);
    r.body.vcpu_state.pc = v->cpu->pc;
    r.body.vcpu_state.icount = v->cpu->icount;
    r.body.vcpu_state.ra = v->cpu->x[1];
    r.body.vcpu_state.sp = v->cpu->x[2];
    r.body.vcpu_state.a0 = v->cpu->x[10];
    r.body.vcpu_state.paused = v->paused;
    rc = vmx_actor_reply(ctx, &r);
    break;
  }
  case VMX_MSG_DBG_HALT: case VMX_MSG_DBG_RESUME: case VMX_MSG_DBG_REGS:
  case VMX_MSG_DBG_MEM: case VMX_MSG_DBG_POINT: case VMX_MSG_DBG_RESET:
    rc = vmx_dbg_vcpu_message(v, ctx, msg);
    if (rc == 1) {
      idle_end(ctx, v);
      rc = vcpu_yield(v);
    }
    break;
  default:
    if (v->on_message) {
      rc = v->on_message(v, msg);
      /* Anything that reaches an idle vCPU may have woken it. */
      if (rc == 0 && v->idle) {
        idle_end(ctx, v);
        rc = vcpu_yield(v);
      }
      break;
    }
    vmx_log_error("vCPU %s: unexpected message type %u", vmx_loop_name(v->loop),
                  (unsigned)msg->env.type);
    break;
  }
  if (rc == 0 && !v->stopping)
    rec_update(v, ctx);
  vmx__cur = NULL;
  vmx__cur_ctx = NULL;
  v->ctx = NULL;
  return rc;
}

/* Tells the debugger a vCPU began or ended. */
static void dbg_announce(vmx_vcpu_t *v, bool alive) {
  vmx_msg_t m = VMX_MSG_INIT(DBG_THREAD);
  m.body.dbg_thread.alive = alive;
  m.body.dbg_thread.thread = v->dbg->thread;
  m.body.dbg_thread.vcpu = v->addr;
  m.body.dbg_thread.code = -1;
  int rc = vmx_bus_send_wait(&v->self_sender, v->dbg->server, &m, UINT64_C(1000000000));
  if (rc && rc != VMX_ENOENT)
    vmx_log_error("vCPU %u: cannot tell the debugger: %s", v->dbg->thread, vmx_strerror(rc));
}

static void vcpu_on_stop(void *state, int reason) {
  vmx_vcpu_t *v = state;
  if (v->dbg)
    dbg_announce(v, false);
  rec_end(v, reason);
  if (v->on_end)
    v->on_end(v, reason);
}

int vmx_vcpu_spawn(vmx_loop_t *loop, vmx_vcpu_t *v, const char *name, bool start_paused) {
  v->loop = loop;
  v->paused = start_paused;
  v->started = v->stopping = v->run_queued = v->idle = v->idle_timer_on = false;
  v->ctx = NULL;
  vmx_bus_sender_init(vmx_loop_bus(loop), &v->self_sender);
  v->self_sender.icount = &v->cpu->icount;
  rec_new(v, name);
  vmx_actor_def_t def = {
      .name = name,
      .receive = vcpu_receive,
      .on_stop = vcpu_on_stop,
      .state = v,
      .mailbox_max = 256,
      .icount = &v->cpu->icount,
  };
  int rc = vmx_actor_spawn(loop, &def, &v->addr);
  if (rc) {
    rec_end(v, rc);
    return rc;
  }
  if (v->rec)
    v->rec->addr = v->addr;
  if (v->dbg)
    dbg_announce(v, true);
  return start_paused ? 0 : vcpu_yield(v);
}

/* ------------------------------------------------------------ statistics */

void vmx_vcpu_actor_exit_hook(vmx_loop_t *loop, const vmx_actor_info_t *info, void *arg) {
  pthread_mutex_lock(&vmx__stats.lock);
  for (unsigned i = vmx__stats.n; i-- > 0;) {
    if (vmx__stats.recs[i].addr == info->addr) {
      vmx__stats.recs[i].stats = info->stats;
      break;
    }
  }
  pthread_mutex_unlock(&vmx__stats.lock);
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

void vmx_vcpu_stats_print(FILE *out, vmx_bus_t *bus) {
  if (vmx__cur && vmx__cur_ctx)
    rec_update(vmx__cur, vmx__cur_ctx);
  fprintf(out, "vmx stats: loops\n");
  fprintf(out, "  %-4s %-12s %10s %10s %8s %8s %10s %8s %8s %8s\n", "loop", "name", "msgs-in",
          "msgs-out", "ring-hwm", "mbox-hwm", "busy-ms", "rounds", "b-press", "rescues");
  unsigned n = bus ? vmx_bus_endpoint_count(bus) : 0;
  for (unsigned i = 0; i < n; i++) {
    vmx_bus_endpoint_t *ep = vmx_bus_endpoint_at(bus, i);
    if (!ep || !ep->owner)
      continue;
    vmx_loop_t *loop = ep->owner;
    vmx_loop_stats_t s;
    vmx_loop_stats_get(loop, &s);
    fprintf(out, "  %-4u %-12s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64
                 " %10.3f %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
            i, vmx_loop_name(loop), s.msgs_in, s.msgs_out, s.ring_hwm, s.mailbox_hwm,
            ms(s.busy_ns), s.rounds, s.backpressure, s.wake_rescues);
  }
  fprintf(out, "vmx stats: actors\n");
  fprintf(out, "  %-12s %-4s %-6s %10s %10s %8s %10s %14s\n", "actor", "loop", "state",
          "msgs-in", "msgs-out", "mbox-hwm", "busy-ms", "insns");
  pthread_mutex_lock(&vmx__stats.lock);
  for (unsigned i = 0; i < vmx__stats.n; i++) {
    const vmx_vcpu_rec_t *r = &vmx__stats.recs[i];
    uint64_t ic = r->ended ? r->icount : __atomic_load_n(&r->cpu->icount, __ATOMIC_RELAXED);
    fprintf(out, "  %-12s %-4u %-6s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %10.3f %14" PRIu64 "\n",
            r->name.s, r->loop, r->ended ? "ended" : "live", r->stats.msgs_in, r->stats.msgs_out,
            r->stats.mailbox_hwm, ms(r->stats.busy_ns), ic);
  }
  fprintf(out, "vmx stats: %u vCPU%s\n", vmx__stats.n, vmx__stats.n == 1 ? "" : "s");
  pthread_mutex_unlock(&vmx__stats.lock);
  fflush(out);
}
