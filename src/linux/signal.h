/* Guest signals in user mode.
 *
 * Guest signal numbers are the host's (both use the generic Linux numbering),
 * and so is siginfo_t's 128-byte layout; only the signal frame, the
 * sigaction struct and the machine context are riscv64's own.
 *
 * How a guest signal travels (docs/architecture.md, "The signal path"):
 *  - A signal a guest thread sends to its own process (kill, tkill, tgkill,
 *    rt_sigqueueinfo, rt_tgsigqueueinfo) is a VCPU_SIGNAL message to the
 *    target thread's vCPU actor, which queues it between slices
 *    (vmx_linux_signal_receive); so is one from outside the process, which
 *    the host handler hands to the signals loop (vmx_linux_signal_route).
 *    The sender counts it in the target's sig.inbound and kicks the target
 *    out of a waiting host call; waiting calls go through a safe stub that
 *    does not wait while inbound is not 0 (signal.c).
 *  - Synchronous signals of the current instruction are never messages.
 *
 * How a host signal reaches the guest:
 *  - Each guest action is mirrored on the host (vmx_linux_sigproc_t.action):
 *    SIG_IGN and SIG_DFL are installed as they are, so the host kernel
 *    ignores, stops or kills the process exactly as it would the native
 *    program (and exec keeps ignored signals ignored); a guest handler is a
 *    host handler that queues the signal (with its siginfo) on the guest
 *    thread it arrived on and kicks that thread's vCPU. SA_RESTART,
 *    SA_NOCLDSTOP and SA_NOCLDWAIT are mirrored too, so an interrupted host
 *    system call restarts or fails with EINTR as the guest asked.
 *  - Each thread's host signal mask is its guest mask (except SIGSEGV and
 *    SIGBUS, which vmx needs) plus the signals queued but not yet delivered:
 *    the host kernel keeps blocked and repeated signals pending for us, and
 *    rt_sigpending, rt_sigtimedwait and signalfd see them.
 *  - The thread loop calls vmx_linux_signal_deliver() after every exit of
 *    the vCPU; it builds the riscv64 frame (as arch/riscv/kernel/signal.c
 *    does) or applies the default action.
 * SIGSEGV and SIGBUS always have a host handler: a fault on guest memory
 * becomes a vCPU exit (vmx_rv_cpu_host_fault) and then a synchronous guest
 * signal; any other fault is vmx's own and kills vmx with that signal.
 */
#ifndef VMX_LINUX_SIGNAL_H
#define VMX_LINUX_SIGNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VMX_LINUX_NSIG 64
/* Signal sets are 64-bit masks, bit n-1 for signal n (the kernel's sigset_t
 * on both riscv64 and x86_64). */
#define VMX_LINUX_SIG_BIT(sig) (1ull << ((sig) - 1))
/* SIGKILL and SIGSTOP: never blocked, caught or ignored. */
#define VMX_LINUX_SIG_UNBLOCKABLE (VMX_LINUX_SIG_BIT(9) | VMX_LINUX_SIG_BIT(19))
/* SIGBUS and SIGSEGV: never blocked on the host (vmx takes guest memory
 * faults through them), whatever the guest's mask says. */
#define VMX_LINUX_SIG_HOST_NEEDED (VMX_LINUX_SIG_BIT(7) | VMX_LINUX_SIG_BIT(11))

/* A guest sigaction (riscv64 kernel layout, no sa_restorer). */
typedef struct vmx_linux_sigaction {
  uint64_t handler;
  uint64_t flags;
  uint64_t mask;
} vmx_linux_sigaction_t;

/* siginfo_t: 128 bytes, the same layout on riscv64 and x86_64. */
typedef struct vmx_linux_siginfo {
  int32_t signo;
  int32_t err;
  int32_t code;
  int32_t pad;
  uint64_t field[14];   /* field[0]: si_addr, or si_pid | si_uid << 32 ... */
} vmx_linux_siginfo_t;

/* Process-wide signal state. */
typedef struct vmx_linux_sigproc {
  pthread_mutex_t lock;        /* guards action[] and the host dispositions */
  vmx_linux_sigaction_t action[VMX_LINUX_NSIG + 1];
  uint64_t trampoline;         /* guest address of `li a7, 139; ecall` (exec maps it) */
  uint64_t initial_mask;       /* the host mask vmx started with (kept across exec) */
  /* Signals that arrived on a host thread running no guest thread (set by
   * the host handler, release); any thread's vmx_linux_signal_deliver
   * takes them (acquire). info[n] is valid while bit n-1 is set. */
  _Atomic uint64_t pending;
  vmx_linux_siginfo_t info[VMX_LINUX_NSIG + 1];
  /* Signals from outside the process that the host handler took on a
   * guest thread and handed to the signals loop (vmx_linux_signal_route):
   * set by the handler (release) after routed_info[n] and routed_tid[n],
   * cleared by the loop (acquire) once it read them. */
  _Atomic uint64_t routed;
  vmx_linux_siginfo_t routed_info[VMX_LINUX_NSIG + 1];
  pid_t routed_tid[VMX_LINUX_NSIG + 1];
} vmx_linux_sigproc_t;

/* Per-thread signal state. Owned by the thread, except `pending` and
 * `info`, which the host handler also writes on the same thread. */
typedef struct vmx_linux_sigthread {
  uint64_t blocked;            /* guest signal mask (bit n-1 for signal n) */
  uint64_t saved_mask;         /* rt_sigsuspend: the mask to restore... */
  bool mask_saved;             /* ...after the next delivery, when set */
  bool bound;                  /* vmx_linux_signal_thread_start() ran */
  uint64_t ss_sp, ss_size;     /* sigaltstack (ss_size 0: none) */
  uint32_t ss_flags;           /* 0, SS_DISABLE, and/or SS_AUTODISARM */
  int sync_sig, sync_code;     /* synchronous signal to deliver first, or 0 */
  uint64_t sync_addr;
  /* Set by the host handler when it made a waiting host call return EINTR
   * (see signal.c): the guest system call is restarted with a0 =
   * restart_a0 unless a handler without SA_RESTART runs. */
  _Atomic bool restart;
  /* With restart: the host call returned EINTR rather than being rewound
   * (Linux's ERESTARTNOHAND class: poll, nanosleep, sigsuspend...), so it
   * runs again only if no handler runs. */
  bool restart_nohand;
  uint64_t restart_a0;
  /* VCPU_SIGNAL messages sent to this thread and not yet handled: senders
   * add 1 before sending (seq_cst), the vCPU takes 1 off once it queued
   * the signal. While it is not 0, no waiting host call of this thread
   * blocks (the safe-call stub in signal.c checks it) and an interrupted
   * guest call waits for the message before it restarts or fails. */
  _Atomic int32_t inbound;
  _Atomic uint64_t pending;    /* queued by the host handler (release) */
  vmx_linux_siginfo_t info[VMX_LINUX_NSIG + 1];
} vmx_linux_sigthread_t;

struct vmx_linux_proc;
struct vmx_linux_thread;

/* Sets up the process's signal state (all actions default, except those the
 * host already ignores: ignored signals stay ignored across execve, as on
 * Linux) and installs the host handlers vmx needs: SIGSEGV/SIGBUS route
 * guest memory faults to vmx_rv_cpu_host_fault(); asynchronous signals for
 * the guest are queued on the target thread, which is kicked out of guest
 * code to take them. Call once, on the main thread, before any guest code.
 * Returns 0 or a negative VMX_E* code. */
int vmx_linux_signal_init(struct vmx_linux_proc *p);

/* Binds guest thread t to the calling host thread, sets its guest mask to
 * `mask` and the host mask to match. Call on the thread before it runs
 * guest code (thread.c does for new threads; for the main thread the first
 * system call or delivery does it with the mask vmx started with). */
void vmx_linux_signal_thread_start(struct vmx_linux_thread *t, uint64_t mask);

/* Unbinds t from the calling host thread when its guest thread ends: blocks
 * every host signal on this thread and hands signals still queued on t to
 * the process. */
void vmx_linux_signal_thread_stop(struct vmx_linux_thread *t);

/* Blocks every host signal vmx may block (all but SIGSEGV and SIGBUS) on
 * the calling thread; a host thread created meanwhile inherits the mask. */
void vmx_linux_signal_block_all(void);

/* In a fork child: drops the signals queued in the parent and sets the
 * host mask to t's guest mask. */
void vmx_linux_signal_after_fork(struct vmx_linux_thread *t);

/* Before execve: sets the host mask to exactly the guest mask, which the
 * new program inherits. (vmx_linux_signal_sync_mask undoes it on failure.) */
void vmx_linux_signal_before_exec(struct vmx_linux_thread *t);

/* Sets the host mask of the calling thread from t's guest mask. */
void vmx_linux_signal_sync_mask(struct vmx_linux_thread *t);

/* The signals queued for delivery to t: its own and the process's. Any
 * thread may call it; bits only tell, they do not take. */
uint64_t vmx_linux_signal_queued(struct vmx_linux_thread *t);

/* Queues a synchronous signal caused by the current instruction (SIGSEGV on a
 * fault, SIGILL, SIGTRAP, SIGBUS) for thread t, with si_code and si_addr.
 * The next vmx_linux_signal_deliver() delivers it first. */
void vmx_linux_signal_sync(struct vmx_linux_thread *t, int sig, int code, uint64_t addr);

/* Delivers t's pending, unblocked signals: builds a riscv64 signal frame on
 * the guest stack and points the vCPU at the handler, or applies the default
 * action (a fatal one ends the whole process with that signal, as a native
 * run would). Called by the thread loop between runs of guest code. */
void vmx_linux_signal_deliver(struct vmx_linux_thread *t);

/* Ends the whole process with signal sig as a native process dying of it
 * would end (the parent sees WIFSIGNALED with sig), without a core file. */
_Noreturn void vmx_linux_signal_die(int sig);

struct vmx_msg_vcpu_signal;

/* Takes a VCPU_SIGNAL that reached t's vCPU (its loop thread, between
 * slices): an unblocked signal is queued on t and delivered at once; one
 * t blocks goes to the host kernel's pending set (thread- or
 * process-directed, as it was sent), where rt_sigpending, rt_sigtimedwait
 * and signalfd look, and from which the host handler queues it when it is
 * unblocked; one the process ignores is dropped, as Linux drops it when
 * sent. Then t->sig.inbound loses one. */
void vmx_linux_signal_receive(struct vmx_linux_thread *t, const struct vmx_msg_vcpu_signal *m);

/* Routes signals from outside the process (kill from another process,
 * the terminal's Ctrl-C, SI_KERNEL timers) as messages: the host handler,
 * which may not encode or allocate, records the signal (routed bits and
 * siginfo) for the guest thread the host kernel picked, counts the message
 * to come in that thread's inbound, and calls wake (async-signal-safe:
 * uv_async_send); the signals loop then calls vmx_linux_signal_route_drain
 * on its thread. wake NULL: signals are queued by the handler itself (a
 * fork child has no bus). */
void vmx_linux_signal_route(void (*wake)(void));

/* On the signals loop: sends every recorded signal as a VCPU_SIGNAL to the
 * vCPU of the thread it arrived on. */
void vmx_linux_signal_route_drain(void);

/* True while a VCPU_SIGNAL counted for t is not handled yet: t must not
 * run guest code (nor decide whether an interrupted call restarts) until
 * it came; the caller ends the slice and waits for it. */
bool vmx_linux_signal_waiting(struct vmx_linux_thread *t);

/* Makes the guest thread with host tid `tid` leave guest code, and any host
 * system call it waits in (the guest's call runs again once its vCPU runs
 * again), without a guest signal: the debugger's way to halt a thread that
 * waits in the kernel. Any thread; async-signal-safe. */
void vmx_linux_signal_kick(pid_t tid);

#endif
