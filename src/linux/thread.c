/* Guest threads: clone() of a thread, exit, futex and the thread-identity
 * calls. Each guest thread is a vCPU actor on its own loop thread; its tid
 * is that host thread's tid, so tgkill and PI futexes need no translation. */
#include "linux/thread.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bus/trace.h"

#include "base/error.h"
#include "base/log.h"
#include "linux/guest.h"
#include "actors/vcpu.h"
#include "debug/dbg_vcpu.h"
#include "debug/gdbstub.h"
#include "debug/trace_exec.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* The flags a thread clone must have, and those it may have besides
 * (the set qemu accepts: glibc's pthread_create uses these). */
#define CLONE_THREAD_NEEDED (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
                             CLONE_SYSVSEM)
#define CLONE_THREAD_ALLOWED (CLONE_THREAD_NEEDED | CSIGNAL | CLONE_SETTLS | CLONE_PARENT_SETTID | \
                              CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PARENT |     \
                              CLONE_DETACHED | CLONE_IO)

/* ---- the runtime of guest threads ------------------------------------- */

/* A loop thread and the guest thread it runs. t comes first, so a thread is
 * its slot; slots are never freed (the loop's kick flag is t.cpu's
 * exit_request for the loop's whole life). */
typedef struct vcpu_slot {
  vmx_linux_thread_t t;
  vmx_loop_t *loop;
  vmx_vcpu_t v;
  vmx_vcpu_dbg_t dbg;  /* under gdb (run-user -g) */
  unsigned seq;        /* n-th loop started: its place in the scheduler's plan */
  pid_t tid;           /* host tid of the loop thread */
  uint64_t start_mask; /* guest signal mask at start */
  bool main;           /* the guest's main thread, on the process's main thread */
  struct vcpu_slot *next_idle;
  struct vcpu_slot *next_live; /* vmx__rt.live: its vCPU actor runs (under vmx__rt.lock) */
} vcpu_slot_t;

static struct {
  vmx_bus_t *bus;
  vmx_sched_t *sched;
  pthread_mutex_t lock; /* idle, live, nloops */
  vcpu_slot_t *idle;
  vcpu_slot_t *live;    /* guest threads whose vCPU actor runs: signal targets */
  unsigned nloops;
  bool forked;          /* this process is a fork child: no bus */
  vmx_trace_rec_t *trace; /* --trace recorder, or NULL */
  vmx_bus_sender_t sig_sender; /* the host signals loop's (its thread only) */
  bool gdb;             /* -g: a GDB server runs */
  vmx_trace_exec_t *trace_exec; /* --trace-exec */
  vmx_addr_t gdb_server;
} vmx__rt = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- the signals loop: host signals from outside, as messages -------- */

static uv_async_t vmx__sig_async; /* on the signals loop */

static void sig_async_cb(uv_async_t *h) {
  (void)h;
  vmx_linux_signal_route_drain();
}

/* The host handler's wake-up (async-signal-safe). */
static void sig_wake(void) { uv_async_send(&vmx__sig_async); }

static void sig_loop_start(vmx_loop_t *loop, void *arg) {
  (void)arg;
  if (uv_async_init(vmx_loop_uv(loop), &vmx__sig_async, sig_async_cb) == 0)
    vmx_linux_signal_route(sig_wake);
}

/* Starts the "signals" loop: a thread with every host signal blocked that
 * sends the host handler's signals on as VCPU_SIGNAL messages. Without it
 * (it failed to start) the handler queues them itself, as before. */
static void sig_loop_spawn(void) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  vmx_loop_options_t lo = {.name = "signals", .ring_slots = 15, .max_actors = 1,
                           .on_thread_start = sig_loop_start};
  vmx_loop_t *loop;
  if (vmx_loop_start(vmx__rt.bus, &lo, &loop))
    vmx_log_debug("run-user: no signals loop; host signals are queued by the handler");
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void rt_after_fork_child(void) {
  /* The signals loop stayed with the parent. */
  vmx_linux_signal_route(NULL);
  /* Only the forking thread survived: the other loop threads, idle or not,
   * are gone, and the loops' epoll sets are shared with the parent. The
   * forking thread runs on without its loop; threads the child makes get
   * new loops. */
  vmx__rt.forked = true;
  vmx__rt.idle = NULL;
  vmx__rt.live = NULL;
  /* The parent owns the trace file; the child records nothing. */
  vmx__rt.trace = NULL;
  /* The debugger follows the parent only. */
  vmx__rt.gdb = false;
  pthread_mutex_init(&vmx__rt.lock, NULL);
  vmx_vcpu_stats_enable(false);
}

int vmx__thread_rt_init(const vmx_sched_opts_t *so, bool stats, const char *trace_path,
                        const char *trace_topics, vmx_sched_error_t *err) {
  int rc = vmx_sched_init(&vmx__rt.sched, so, err);
  if (rc)
    return rc;
  vmx_log_debug("run-user: %s", vmx_sched_describe(vmx__rt.sched));
  /* Before any loop thread exists, so that they all inherit it. */
  vmx_sched_error_t merr;
  if (vmx_sched_membind_thread(vmx__rt.sched, &merr))
    vmx_log_debug("run-user: %s", merr.text);
  else
    vmx_log_debug("run-user: guest memory on NUMA node %d", vmx_sched_node(vmx__rt.sched));
  rc = vmx_bus_init(&vmx__rt.bus, NULL);
  if (rc) {
    snprintf(err->text, sizeof err->text, "cannot set up the bus: %s", vmx_strerror(rc));
    return rc;
  }
  vmx_bus_sender_init(vmx__rt.bus, &vmx__rt.sig_sender);
  if (trace_path) {
    vmx_trace_error_t terr;
    rc = vmx_trace_open(vmx__rt.bus, trace_path, trace_topics, &vmx__rt.trace, &terr);
    if (rc) {
      snprintf(err->text, sizeof err->text, "%.240s", terr.text);
      return rc;
    }
  }
  vmx_vcpu_stats_enable(stats);
  pthread_atfork(NULL, NULL, rt_after_fork_child);
  return 0;
}

/* gdb asked to kill the guest. */
static void gdb_kill(void *arg) {
  (void)arg;
  syscall(SYS_exit_group, 137);
}

/* gdb halts a thread that waits in a host system call. */
static void gdb_kick(void *arg, uint32_t thread) {
  (void)arg;
  vmx_linux_signal_kick((pid_t)thread);
}

int vmx__thread_gdb_start(unsigned port, const char *exe, uint64_t bias, char *err, size_t errlen) {
  vmx_gdb_opts_t o = {.port = port, .system = false, .start_running = false, .on_kill = gdb_kill,
                      .kick = gdb_kick, .symbols = exe, .symbols_bias = bias};
  int rc = vmx_gdb_server_spawn(vmx__rt.bus, &o, &vmx__rt.gdb_server, err, errlen);
  if (rc == 0)
    vmx__rt.gdb = true;
  return rc;
}

void vmx__thread_trace_exec(vmx_trace_exec_t *tracer) { vmx__rt.trace_exec = tracer; }

/* The guest process ends with status: gdb hears of it first. */
static void gdb_exit(vmx_linux_thread_t *t, int status) {
  if (!vmx__rt.gdb || vmx__rt.forked)
    return;
  vcpu_slot_t *s = (vcpu_slot_t *)t;
  vmx_gdb_notify_exit(&s->v.self_sender, vmx__rt.gdb_server, status & 0xff);
}

static void slot_thread_start(vmx_loop_t *loop, void *arg) {
  vcpu_slot_t *s = arg;
  s->tid = gettid();
  vmx_sched_error_t err;
  unsigned pu;
  if (vmx__rt.sched && vmx_sched_pin_loop(vmx__rt.sched, s->seq, &pu, &err))
    vmx_log_debug("vCPU loop %s not pinned: %s", vmx_loop_name(loop), err.text);
}

/* A new slot with its loop (a thread of its own unless on_caller). */
static vcpu_slot_t *slot_new(vmx_linux_thread_t *cur, bool on_caller) {
  pthread_mutex_lock(&vmx__rt.lock);
  unsigned seq = vmx__rt.nloops++;
  pthread_mutex_unlock(&vmx__rt.lock);
  size_t size = (sizeof(vcpu_slot_t) + 63) & ~(size_t)63;
  vcpu_slot_t *s = aligned_alloc(64, size);
  if (!s)
    return NULL;
  memset(s, 0, sizeof *s);
  s->seq = seq;
  s->main = on_caller;
  char name[16];
  snprintf(name, sizeof name, "vcpu%u", seq);
  vmx_loop_options_t lo = {
      .name = name,
      .ring_slots = 63,
      .max_actors = 4,
      .on_thread_start = slot_thread_start,
      .on_actor_exit = vmx_vcpu_actor_exit_hook,
      .hook_arg = s,
      .kick = (uint32_t *)&s->t.cpu.exit_request,
      .on_caller = on_caller,
  };
  /* A loop thread starts with every signal blocked; a guest thread it runs
   * takes its own mask. */
  if (!on_caller)
    vmx_linux_signal_block_all();
  int rc = vmx_loop_start(vmx__rt.bus, &lo, &s->loop);
  if (cur)
    vmx_linux_signal_sync_mask(cur);
  if (rc) {
    free(s);
    return NULL;
  }
  if (on_caller)
    s->tid = gettid();
  return s;
}

vmx_linux_thread_t *vmx__thread_alloc(vmx_linux_thread_t *cur) {
  pthread_mutex_lock(&vmx__rt.lock);
  vcpu_slot_t *s = vmx__rt.idle;
  if (s)
    vmx__rt.idle = s->next_idle;
  pthread_mutex_unlock(&vmx__rt.lock);
  if (!s && !(s = slot_new(cur, false)))
    return NULL;
  memset(&s->t, 0, sizeof s->t);
  return &s->t;
}

vmx_linux_thread_t *vmx__thread_alloc_main(void) {
  vcpu_slot_t *s = slot_new(NULL, true);
  return s ? &s->t : NULL;
}

void vmx__thread_run_main(vmx_linux_thread_t *t) {
  vmx_loop_run(((vcpu_slot_t *)t)->loop);
}

pid_t vmx__thread_host_tid(vmx_linux_thread_t *t) { return ((vcpu_slot_t *)t)->tid; }

void vmx__thread_free(vmx_linux_thread_t *t) {
  vcpu_slot_t *s = (vcpu_slot_t *)t;
  /* The main thread's loop runs on the process's main thread, whose tid is
   * the pid: no other guest thread may have it. */
  if (s->main)
    return;
  pthread_mutex_lock(&vmx__rt.lock);
  s->next_idle = vmx__rt.idle;
  vmx__rt.idle = s;
  pthread_mutex_unlock(&vmx__rt.lock);
}

static void slot_on_start(vmx_vcpu_t *v) {
  vcpu_slot_t *s = v->arg;
  vmx_linux_signal_thread_start(&s->t, s->start_mask);
}

static int slot_on_exit(vmx_vcpu_t *v, vmx_rv_exit_t why) {
  vcpu_slot_t *s = v->arg;
  vmx_linux_thread_t *t = &s->t;
  vmx__thread_handle_exit(t, why);
  /* A signal still on its way as a message is waited for, idle (the vCPU
   * runs again once it handled a message), as Linux delivers it before the
   * thread returns to user mode; delivering now would also decide an
   * interrupted call's restart without the signal's handler. */
  if (!t->exiting && vmx_linux_signal_waiting(t))
    return VMX_VCPU_IDLE;
  if (!t->exiting)
    vmx_linux_signal_deliver(t);
  if (__builtin_expect(vmx__rt.forked, 0) && !t->exiting) {
    /* A fork child: never go back to a loop shared with the parent. It
     * runs undebugged (a step over the fork's ecall left a limit). */
    t->cpu.icount_limit = UINT64_MAX;
    t->cpu.dbg = NULL;
    vmx_linux_thread_loop(t);
    vmx_linux_thread_exit(t);
  }
  return t->exiting ? VMX_VCPU_DONE : VMX_VCPU_CONTINUE;
}

/* Between slices: a guest signal from another thread or from the host. */
static int slot_on_message(vmx_vcpu_t *v, const vmx_msg_t *msg) {
  vcpu_slot_t *s = v->arg;
  if (msg->env.type != VMX_MSG_VCPU_SIGNAL) {
    vmx_log_error("vCPU %d: unexpected message type %u", (int)s->tid, (unsigned)msg->env.type);
    return 0;
  }
  if (!s->t.sig.bound) /* it came before the first slice */
    vmx_linux_signal_thread_start(&s->t, s->start_mask);
  vmx_linux_signal_receive(&s->t, &msg->body.vcpu_signal);
  return 0;
}

/* Runs guest code, unless a signal message is still on its way (the idle
 * vCPU's timer ran it first): then it waits on. */
static vmx_rv_exit_t slot_run(vmx_rv_cpu_t *cpu) {
  vmx_linux_thread_t *t = cpu->opaque;
  if (vmx_linux_signal_waiting(t))
    return VMX_RV_EXIT_REQUEST;
  return vmx_rv_cpu_run(cpu);
}

static void live_remove(vcpu_slot_t *s) {
  pthread_mutex_lock(&vmx__rt.lock);
  for (vcpu_slot_t **pp = &vmx__rt.live; *pp; pp = &(*pp)->next_live) {
    if (*pp == s) {
      *pp = s->next_live;
      break;
    }
  }
  pthread_mutex_unlock(&vmx__rt.lock);
}

/* The target of a signal (vmx__rt.lock held): thread tid, or for tid 0
 * the one Linux's complete_signal() wakes: the main thread if it does not
 * block sig, else a thread that does not, else the main thread (the signal
 * then waits, process-wide, for a thread to unblock or take it). Masks of
 * other threads are read without their owner's lock: a stale one only
 * picks another thread, and the target checks its own mask again. */
static vcpu_slot_t *signal_target_locked(pid_t tid, int sig) {
  vcpu_slot_t *main = NULL, *other = NULL, *any = NULL;
  uint64_t bit = VMX_LINUX_SIG_BIT(sig);
  for (vcpu_slot_t *s = vmx__rt.live; s; s = s->next_live) {
    if (tid) {
      if (s->tid == tid)
        return s;
      continue;
    }
    bool blocks = __atomic_load_n(&s->t.sig.blocked, __ATOMIC_RELAXED) & bit;
    if (s->main)
      main = s;
    else if (!blocks && !other)
      other = s;
    any = s;
  }
  if (tid)
    return NULL;
  if (main && !(__atomic_load_n(&main->t.sig.blocked, __ATOMIC_RELAXED) & bit))
    return main;
  return other ? other : main ? main : any;
}

int vmx__thread_signal_send(vmx_linux_thread_t *from, pid_t tid, vmx_msg_t *m, bool counted) {
  if (vmx__rt.forked || !vmx__rt.bus)
    return 1;
  pthread_mutex_lock(&vmx__rt.lock);
  vcpu_slot_t *s = signal_target_locked(tid, m->body.vcpu_signal.signo);
  if (!s) {
    pthread_mutex_unlock(&vmx__rt.lock);
    return 1;
  }
  /* Raised before the message is sent and the kick follows, both while
   * the target cannot be reused (it is live while the lock is held; a
   * slot reused later starts from a zeroed thread). seq_cst: pairs with
   * the check in the target's safe stub. */
  if (!counted)
    atomic_fetch_add_explicit(&s->t.sig.inbound, 1, memory_order_seq_cst);
  vmx_addr_t dst = s->v.addr;
  pid_t target_tid = s->tid;
  pthread_mutex_unlock(&vmx__rt.lock);
  vmx_bus_sender_t *sender = from ? &((vcpu_slot_t *)from)->v.self_sender : &vmx__rt.sig_sender;
  int rc = vmx_bus_send_wait(sender, dst, m, UINT64_C(1000000000));
  if (rc) {
    /* ENOENT: the bus is going away with the process. */
    atomic_fetch_sub_explicit(&s->t.sig.inbound, 1, memory_order_seq_cst);
    if (rc != VMX_ENOENT)
      vmx_log_error("signal %d to thread %d: %s", (int)m->body.vcpu_signal.signo, (int)target_tid,
                    vmx_strerror(rc));
    return rc == VMX_ENOENT ? 0 : 1;
  }
  /* The send set the target's exit flag (the loop's kick) for guest code;
   * a target in a waiting host call needs a host signal. A thread sending
   * to itself is in neither. */
  if (&s->t != from && !counted)
    vmx_linux_signal_kick(target_tid);
  return 0;
}

static void slot_on_end(vmx_vcpu_t *v, int reason) {
  vcpu_slot_t *s = v->arg;
  live_remove(s);
  if (s->t.sig.bound)
    vmx_linux_signal_thread_stop(&s->t);
  vmx_rv_cpu_close(&s->t.cpu);
  vmx__thread_free(&s->t);
}

int vmx__thread_start(vmx_linux_thread_t *t, uint64_t mask, vmx_linux_thread_t *parent) {
  vcpu_slot_t *s = (vcpu_slot_t *)t;
  s->start_mask = mask;
  /* After the main thread's loop, which keeps index 0. */
  if (!parent && !vmx__rt.forked)
    sig_loop_spawn();
  s->v = (vmx_vcpu_t){.cpu = &t->cpu, .on_exit = slot_on_exit, .on_start = slot_on_start,
                      .on_end = slot_on_end, .on_message = slot_on_message, .run = slot_run,
                      .arg = s};
  if (vmx__rt.gdb && !vmx__rt.forked) {
    vcpu_slot_t *ps = (vcpu_slot_t *)parent;
    if (!parent) {
      vmx_dbg_vcpu_attach(&s->v, &s->dbg, vmx__rt.gdb_server, (uint32_t)t->tid);
    } else if (ps->v.dbg) {
      vmx_dbg_vcpu_inherit(&s->dbg, ps->v.dbg, (uint32_t)t->tid);
      s->v.dbg = &s->dbg;
      t->cpu.dbg = &s->dbg.pts;
    }
  }
  if (vmx__rt.trace_exec && !vmx__rt.forked) {
    if (!s->v.dbg)
      memset(&s->dbg, 0, sizeof s->dbg);
    vmx_trace_exec_attach(vmx__rt.trace_exec, &s->dbg.pts, (uint32_t)t->tid);
    t->cpu.dbg = &s->dbg.pts;
  }
  char name[16];
  snprintf(name, sizeof name, "vcpu-%d", (int)s->tid);
  /* Live from its spawn on, under the lock: a sender never sees it
   * without its address, and its end (live_remove) comes after. */
  pthread_mutex_lock(&vmx__rt.lock);
  int rc = vmx_vcpu_spawn(s->loop, &s->v, name, false);
  if (rc == 0) {
    s->next_live = vmx__rt.live;
    vmx__rt.live = s;
  }
  pthread_mutex_unlock(&vmx__rt.lock);
  return rc;
}

/* As the process ends: prints the --stats tables (if asked for) and
 * finishes the --trace file (loops still run, so its memory stays). */
static void rt_exit_stats(void) {
  if (vmx_vcpu_stats_enabled())
    vmx_vcpu_stats_print(stderr, vmx__rt.bus);
  vmx_trace_finish(vmx__rt.trace);
}

/* ---- clone and exit --------------------------------------------------- */

/* A guest thread with a vCPU copied from parent's, on an idle loop; NULL
 * when out of memory. */
static vmx_linux_thread_t *thread_new(vmx_linux_thread_t *parent) {
  vmx_linux_thread_t *t = vmx__thread_alloc(parent);
  if (!t)
    return NULL;
  vmx_rv_cpu_t *c = &parent->cpu;
  if (vmx_rv_cpu_init(&t->cpu, c->mem_base, c->mem_limit, c->code_gen)) {
    vmx__thread_free(t);
    return NULL;
  }
  vmx_rv_cpu_copy_state(&t->cpu, c);
  t->cpu.opaque = t;
  t->proc = parent->proc;
  t->tid = vmx__thread_host_tid(t);
  return t;
}

int64_t vmx__thread_clone(vmx_linux_thread_t *t, uint64_t flags, uint64_t newsp, uint64_t ptid,
                          uint64_t tls, uint64_t ctid) {
  if ((flags & CLONE_THREAD_NEEDED) != CLONE_THREAD_NEEDED || (flags & ~(uint64_t)CLONE_THREAD_ALLOWED))
    return -EINVAL;
  vmx_linux_thread_t *n = thread_new(t);
  if (!n)
    return -EAGAIN;
  n->cpu.x[10] = 0;
  if (newsp)
    n->cpu.x[2] = newsp;
  if (flags & CLONE_SETTLS)
    n->cpu.x[4] = tls;
  n->clear_child_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
  /* Both tids are written before either thread runs guest code, as Linux
   * does (a bad address is ignored, as there). */
  uint32_t tid = (uint32_t)n->tid;
  if (flags & CLONE_PARENT_SETTID)
    vmx_linux_mm_copy_out(vmx__mm(t), ptid, &tid, sizeof tid);
  if (flags & CLONE_CHILD_SETTID)
    vmx_linux_mm_copy_out(vmx__mm(t), ctid, &tid, sizeof tid);
  atomic_fetch_add_explicit(&t->proc->nthreads, 1, memory_order_relaxed);
  /* The alternate stack is not inherited; the mask is. */
  if (vmx__thread_start(n, t->sig.blocked, t)) {
    atomic_fetch_sub_explicit(&t->proc->nthreads, 1, memory_order_relaxed);
    vmx_rv_cpu_close(&n->cpu);
    vmx__thread_free(n);
    return -EAGAIN;
  }
  return (int64_t)tid;
}

/* Only a fork child's threads, which run without the bus, end this way. */
_Noreturn void vmx_linux_thread_exit(vmx_linux_thread_t *t) {
  vmx_linux_signal_thread_stop(t);
  vmx_rv_cpu_close(&t->cpu);
  pthread_exit(NULL);
}

int64_t vmx_sys_exit(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int status = (int)a[0];
  /* The last thread to exit ends the process with its status. */
  if (atomic_fetch_sub_explicit(&t->proc->nthreads, 1, memory_order_acq_rel) == 1) {
    gdb_exit(t, status);
    rt_exit_stats();
    syscall(SYS_exit_group, status);
  }
  if (t->clear_child_tid) {
    /* mm_release(): clear the tid and wake a joiner (a shared futex wake,
     * which is what glibc's pthread_join waits for). */
    uint32_t zero = 0;
    if (vmx_linux_mm_copy_out(vmx__mm(t), t->clear_child_tid, &zero, sizeof zero) == 0)
      syscall(SYS_futex, vmx_linux_g2h(t, t->clear_child_tid, 4), FUTEX_WAKE, 1, NULL, NULL, 0);
  }
  t->exit_status = status & 0xff;
  t->exiting = true;
  return 0;
}

int64_t vmx_sys_exit_group(vmx_linux_thread_t *t, const uint64_t a[6]) {
  gdb_exit(t, (int)a[0]);
  rt_exit_stats();
  syscall(SYS_exit_group, (int)a[0]);
  __builtin_unreachable();
}

int64_t vmx_sys_futex(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int op = (int)a[1];
  int cmd = op & FUTEX_CMD_MASK;
  void *uaddr = vmx_linux_g2h(t, a[0], 4), *uaddr2 = NULL, *arg4;
  if (!uaddr)
    return -EFAULT;
  /* The fourth argument is a timeout for the waits and a count for the
   * requeues; guest and host struct timespec are the same. */
  switch (cmd) {
  case FUTEX_WAIT:
  case FUTEX_WAIT_BITSET:
  case FUTEX_LOCK_PI:
  case FUTEX_LOCK_PI2:
  case FUTEX_WAIT_REQUEUE_PI:
    if (vmx__guest_buf(t, a[3], sizeof(struct timespec), &arg4))
      return -EFAULT;
    break;
  default:
    arg4 = (void *)(uintptr_t)a[3];
    break;
  }
  switch (cmd) {
  case FUTEX_REQUEUE:
  case FUTEX_CMP_REQUEUE:
  case FUTEX_WAKE_OP:
  case FUTEX_WAIT_REQUEUE_PI:
  case FUTEX_CMP_REQUEUE_PI:
    uaddr2 = vmx_linux_g2h(t, a[4], 4);
    if (!uaddr2)
      return -EFAULT;
    break;
  default:
    break;
  }
  return vmx__host_ret(syscall(SYS_futex, uaddr, op, (uint32_t)a[2], arg4, uaddr2, (uint32_t)a[5]));
}

int64_t vmx_sys_set_tid_address(vmx_linux_thread_t *t, const uint64_t a[6]) {
  t->clear_child_tid = a[0];
  return t->tid;
}

/* struct robust_list_head: list, futex_offset, list_op_pending. */
#define ROBUST_LIST_HEAD_SIZE 24

int64_t vmx_sys_set_robust_list(vmx_linux_thread_t *t, const uint64_t a[6]) {
  if (a[1] != ROBUST_LIST_HEAD_SIZE)
    return -EINVAL;
  /* Recorded only: vmx does not walk the list when a thread dies. */
  t->robust_list = a[0];
  return 0;
}

int64_t vmx_sys_get_robust_list(vmx_linux_thread_t *t, const uint64_t a[6]) {
  pid_t pid = (pid_t)a[0];
  if (pid != 0 && pid != t->tid)
    return -ESRCH;
  uint64_t len = ROBUST_LIST_HEAD_SIZE;
  if (vmx_linux_mm_copy_out(vmx__mm(t), a[2], &len, sizeof len) ||
      vmx_linux_mm_copy_out(vmx__mm(t), a[1], &t->robust_list, sizeof t->robust_list))
    return -EFAULT;
  return 0;
}

int64_t vmx_sys_gettid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return t->tid;
}

int64_t vmx_sys_rseq(vmx_linux_thread_t *t, const uint64_t a[6]) {
  /* Not supported, as in qemu 7.2; glibc then goes without. */
  return -ENOSYS;
}

int64_t vmx_sys_membarrier(vmx_linux_thread_t *t, const uint64_t a[6]) {
  /* Guest threads are host threads: the host's barriers order them. */
  return vmx__host_ret(syscall(SYS_membarrier, (int)a[0], (unsigned)a[1], (int)a[2]));
}
