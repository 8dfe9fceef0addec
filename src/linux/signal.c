/* Guest signals: actions mirrored on the host, per-thread masks, the host
 * handlers that queue signals for the guest, riscv64 signal frames and the
 * signal system calls. See signal.h for the model. */
#include "linux/signal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/error.h"
#include "bus/bus.h"
#include "linux/guest.h"
#include "linux/thread.h"
#include "linux/user.h"

#define SIG_BIT VMX_LINUX_SIG_BIT
#define SIG_UNBLOCKABLE VMX_LINUX_SIG_UNBLOCKABLE
#define SIG_HOST_NEEDED VMX_LINUX_SIG_HOST_NEEDED
_Static_assert(SIG_UNBLOCKABLE == (SIG_BIT(SIGKILL) | SIG_BIT(SIGSTOP)), "signal numbers");
_Static_assert(SIG_HOST_NEEDED == (SIG_BIT(SIGSEGV) | SIG_BIT(SIGBUS)), "signal numbers");
/* Dequeued before the others, as Linux's SYNCHRONOUS_MASK. */
#define SIG_SYNC_FIRST (SIG_BIT(SIGSEGV) | SIG_BIT(SIGBUS) | SIG_BIT(SIGILL) | \
                        SIG_BIT(SIGTRAP) | SIG_BIT(SIGFPE) | SIG_BIT(SIGSYS))
/* Default actions (Linux's sig_kernel_ignore_mask and sig_kernel_stop_mask);
 * every other signal terminates, with or without a core. */
#define SIG_DEFAULT_IGNORE (SIG_BIT(SIGCHLD) | SIG_BIT(SIGURG) | SIG_BIT(SIGWINCH) | \
                            SIG_BIT(SIGCONT))
#define SIG_DEFAULT_STOP (SIG_BIT(SIGSTOP) | SIG_BIT(SIGTSTP) | SIG_BIT(SIGTTIN) | \
                          SIG_BIT(SIGTTOU))
/* Default action: terminate with a core dump (sig_kernel_coredump). */
#define SIG_DEFAULT_CORE (SIG_BIT(SIGQUIT) | SIG_BIT(SIGILL) | SIG_BIT(SIGTRAP) | SIG_BIT(SIGABRT) | \
                          SIG_BIT(SIGBUS) | SIG_BIT(SIGFPE) | SIG_BIT(SIGSEGV) | SIG_BIT(SIGXCPU) | \
                          SIG_BIT(SIGXFSZ) | SIG_BIT(SIGSYS))
/* Signals the host kernel raises for a faulting host instruction: with
 * si_code > 0 they are vmx's own faults, never the guest's. */
#define SIG_HOST_FAULTS (SIG_BIT(SIGILL) | SIG_BIT(SIGFPE) | SIG_BIT(SIGTRAP) | SIG_BIT(SIGSYS) | \
                         SIG_HOST_NEEDED)

/* sa_flags (asm-generic/signal-defs.h, the same values on riscv64 and
 * x86_64). The kernel keeps only the bits it knows (UAPI_SA_FLAGS; riscv64
 * has no SA_RESTORER). */
#define RV_SA_EXPOSE_TAGBITS 0x00000800u
#define RV_SA_KNOWN (SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | \
                     SA_NODEFER | SA_RESETHAND | RV_SA_EXPOSE_TAGBITS)
#define RV_SIG_DFL 0u
#define RV_SIG_IGN 1u
#define RV_MINSIGSTKSZ 2048u
#define RV_SS_AUTODISARM (1u << 31)

/* ---- the riscv64 signal frame (arch/riscv/kernel/signal.c) ------------- */

/* struct sigcontext: user_regs_struct (pc, then x1..x31) and union
 * __riscv_fp_state sized by its Q member (528 bytes); the D state sits at its
 * start and the Q layout's reserved words, which must be zero, at its end. */
typedef struct rv_sigcontext {
  alignas(16) uint64_t regs[32];
  uint64_t f[32];
  uint32_t fcsr;
  uint32_t fp_unused[64];
  uint32_t fp_reserved[3];
} rv_sigcontext_t;

/* struct ucontext: uc_sigmask is followed by room for a 1024-bit sigset. */
typedef struct rv_ucontext {
  uint64_t flags;
  uint64_t link;
  uint64_t ss_sp;     /* uc_stack (stack_t) */
  int32_t ss_flags;
  int32_t ss_pad;
  uint64_t ss_size;
  uint64_t sigmask;
  uint8_t sigmask_room[1024 / 8 - 8];
  rv_sigcontext_t mcontext;
} rv_ucontext_t;

typedef struct rv_sigframe {
  vmx_linux_siginfo_t info;
  rv_ucontext_t uc;
} rv_sigframe_t;

/* The guest's stack_t (sigaltstack). */
typedef struct rv_stack {
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
} rv_stack_t;

_Static_assert(sizeof(vmx_linux_siginfo_t) == 128, "siginfo_t is 128 bytes");
_Static_assert(sizeof(vmx_linux_siginfo_t) == sizeof(siginfo_t), "host siginfo_t differs");
_Static_assert(offsetof(rv_sigcontext_t, fp_reserved) == 256 + 516, "Q reserved words");
_Static_assert(sizeof(rv_sigcontext_t) == 784, "struct sigcontext");
_Static_assert(offsetof(rv_ucontext_t, sigmask) == 40, "uc_sigmask");
_Static_assert(offsetof(rv_ucontext_t, mcontext) == 176, "uc_mcontext");
_Static_assert(sizeof(rv_ucontext_t) == 960, "struct ucontext");
_Static_assert(sizeof(rv_sigframe_t) == 1088, "struct rt_sigframe");
_Static_assert(sizeof(rv_stack_t) == 24, "stack_t");

/* ---- host sigaction and masks through raw system calls ----------------- */

/* The kernel's struct sigaction. Raw calls, because glibc refuses the
 * signals it keeps for itself (32 and 33), which the guest's glibc uses. */
typedef struct host_ksigaction {
  void *handler;
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
} host_ksigaction_t;

#if defined(__x86_64__)
/* x86_64 handlers return through an sa_restorer that calls rt_sigreturn. */
#define HOST_SA_RESTORER 0x04000000ul
__attribute__((visibility("hidden"))) void vmx__sig_host_restorer(void);
__asm__(".text\n"
        ".globl vmx__sig_host_restorer\n"
        ".hidden vmx__sig_host_restorer\n"
        ".type vmx__sig_host_restorer, @function\n"
        ".align 16\n"
        "vmx__sig_host_restorer:\n"
        "  mov $15, %rax\n"   /* __NR_rt_sigreturn */
        "  syscall\n"
        ".size vmx__sig_host_restorer, .-vmx__sig_host_restorer\n");
#define HOST_RESTORER vmx__sig_host_restorer
#else
#define HOST_SA_RESTORER 0ul
#define HOST_RESTORER NULL
#endif

static int host_sigaction(int sig, void *handler, unsigned long flags) {
  host_ksigaction_t k = {handler, flags | HOST_SA_RESTORER, HOST_RESTORER, 0};
  return (int)syscall(SYS_rt_sigaction, sig, &k, NULL, 8);
}

static void *host_handler_of(int sig) {
  host_ksigaction_t old;
  if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8))
    return SIG_DFL;
  return old.handler;
}

static void host_setmask(uint64_t mask) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
}

/* The guest process this host process runs, and the guest thread each host
 * thread runs: host signal handlers are process-wide and get no argument,
 * so these are the one place they can find their target. */
static vmx_linux_proc_t *vmx__sig_proc;
static __thread vmx_linux_thread_t *vmx__sig_current;

/* ---- host handlers (async-signal-safe) -------------------------------- */

static void sig_enqueue(_Atomic uint64_t *pending, vmx_linux_siginfo_t *info, int sig,
                        const siginfo_t *si) {
  uint64_t bit = SIG_BIT(sig);
  if (atomic_load_explicit(pending, memory_order_relaxed) & bit) {
    /* Already queued: a standard signal coalesces, as on Linux; a
     * real-time one goes back to the host kernel's queue (the handler runs
     * with it blocked, so it waits there until this one is delivered). */
    if (sig >= 32)
      syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig, si);
    return;
  }
  memcpy(&info[sig], si, sizeof info[sig]);
  /* release: whoever sees the bit sees the siginfo */
  atomic_fetch_or_explicit(pending, bit, memory_order_release);
}

/* Queues sig for the guest thread on this host thread (or the process) and
 * kicks its vCPU out of guest code. Returns the signals queued on this
 * thread (or the process) so far. */
static uint64_t sig_enqueue_current(int sig, const siginfo_t *si) {
  vmx_linux_thread_t *t = vmx__sig_current;
  if (t) {
    sig_enqueue(&t->sig.pending, t->sig.info, sig, si);
    vmx_rv_cpu_kick(&t->cpu);
    return atomic_load_explicit(&t->sig.pending, memory_order_relaxed);
  }
  if (vmx__sig_proc) {
    sig_enqueue(&vmx__sig_proc->sig.pending, vmx__sig_proc->sig.info, sig, si);
    return atomic_load_explicit(&vmx__sig_proc->sig.pending, memory_order_relaxed);
  }
  return 0;
}

#if defined(__x86_64__)
/* Host system calls that may wait for something, and so may be interrupted
 * by a signal (the restartable ones among them). */
static bool host_sys_may_block(long nr) {
  switch (nr) {
  case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
  case SYS_pread64: case SYS_pwrite64: case SYS_preadv: case SYS_pwritev:
  case SYS_preadv2: case SYS_pwritev2: case SYS_sendfile: case SYS_splice: case SYS_tee:
  case SYS_copy_file_range: case SYS_openat: case SYS_open: case SYS_ioctl: case SYS_fcntl:
  case SYS_flock: case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6:
  case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_pause:
  case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_wait4: case SYS_waitid:
  case SYS_futex: case SYS_rt_sigtimedwait: case SYS_rt_sigsuspend: case SYS_accept: case SYS_accept4:
  case SYS_connect: case SYS_sendto: case SYS_recvfrom: case SYS_sendmsg: case SYS_recvmsg:
  case SYS_sendmmsg: case SYS_recvmmsg: case SYS_msgsnd: case SYS_msgrcv: case SYS_semop:
  case SYS_semtimedop: case SYS_mq_timedsend: case SYS_mq_timedreceive:
    return true;
  default:
    return false;
  }
}

/* The safe host call (qemu's safe_syscall): vmx__safe_syscall(flag, nr,
 * a1..a6) makes host call nr unless *flag is not 0, when it returns
 * -EINTR without calling. A host handler that finds the thread anywhere
 * from the check to the syscall instruction (host_syscall_interrupt)
 * moves it to the -EINTR exit. So a kick sent after *flag was raised
 * either is seen by the check, or lands between the check and the call
 * (moved to -EINTR), or interrupts the call itself: no window is left in
 * which the kick is taken and the thread then waits regardless. */
long vmx__safe_syscall(const _Atomic int32_t *flag, long nr, long a1, long a2, long a3, long a4,
                       long a5, long a6);
extern const char vmx__safe_syscall_start[], vmx__safe_syscall_end[], vmx__safe_syscall_eintr[];
__asm__(".text\n"
        ".globl vmx__safe_syscall\n"
        ".hidden vmx__safe_syscall\n"
        ".type vmx__safe_syscall, @function\n"
        "vmx__safe_syscall:\n"
        "  mov %rdi, %r11\n"      /* flag (syscall clobbers r11, but only after) */
        "  mov %rsi, %rax\n"      /* nr */
        "  mov %rdx, %rdi\n"
        "  mov %rcx, %rsi\n"
        "  mov %r8, %rdx\n"
        "  mov %r9, %r10\n"
        "  mov 8(%rsp), %r8\n"
        "  mov 16(%rsp), %r9\n"
        ".globl vmx__safe_syscall_start\n"
        ".hidden vmx__safe_syscall_start\n"
        "vmx__safe_syscall_start:\n"
        "  cmpl $0, (%r11)\n"
        "  jne vmx__safe_syscall_eintr\n"
        "  syscall\n"
        ".globl vmx__safe_syscall_end\n"
        ".hidden vmx__safe_syscall_end\n"
        "vmx__safe_syscall_end:\n"
        "  ret\n"
        ".globl vmx__safe_syscall_eintr\n"
        ".hidden vmx__safe_syscall_eintr\n"
        "vmx__safe_syscall_eintr:\n"
        "  mov $-4100, %rax\n"    /* VMX__SAFE_EINTR */
        "  ret\n"
        ".size vmx__safe_syscall, .-vmx__safe_syscall\n");
/* Whether host call nr with arguments a goes through the safe stub: the
 * calls that wait for something outside the thread (host_sys_may_block),
 * but not those that only may (openat of a FIFO, ioctl, fcntl other than
 * a waiting lock) nor futex operations that do not wait (a wake must not
 * be skipped: vmx wakes joiners itself when a thread exits). A call the
 * stub does not make runs again in full when the guest call restarts. */
static bool host_sys_safe(long nr, const long a[6]) {
  switch (nr) {
  case SYS_openat: case SYS_open: case SYS_ioctl:
    return false;
  case SYS_fcntl:
    return a[1] == F_SETLKW || a[1] == F_OFD_SETLKW;
  case SYS_futex:
    switch (a[1] & FUTEX_CMD_MASK) {
    case FUTEX_WAIT: case FUTEX_WAIT_BITSET: case FUTEX_LOCK_PI: case FUTEX_WAIT_REQUEUE_PI:
    case 13: /* FUTEX_LOCK_PI2 */
      return true;
    default:
      return false;
    }
  default:
    return host_sys_may_block(nr);
  }
}

/* What the stub returns when it did not call: not a host result (those
 * are -1..-4095 or the call's value). */
#define VMX__SAFE_EINTR (-4100)

/* Waiting calls that Linux never restarts after a handler ran, whatever
 * SA_RESTART says (they return ERESTARTNOHAND or ERESTART_RESTARTBLOCK). */
static bool host_sys_nohand(long nr) {
  switch (nr) {
  case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6: case SYS_epoll_wait:
  case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_pause: case SYS_nanosleep:
  case SYS_clock_nanosleep: case SYS_rt_sigtimedwait: case SYS_rt_sigsuspend:
    return true;
  default:
    return false;
  }
}

/* Marks the guest system call under way as interrupted: it runs again
 * (a0 as it was) unless a handler runs that forbids it (see
 * syscall_restart); nohand: unless any handler runs. */
static void restart_mark(vmx_linux_thread_t *t, bool nohand) {
  t->sig.restart_a0 = t->cpu.x[10];   /* the dispatcher has not written a0 yet */
  t->sig.restart_nohand = nohand;
  atomic_store_explicit(&t->sig.restart, true, memory_order_relaxed);
}

/* A signal for the guest interrupted vmx on a waiting host system call,
 * either just before it (the signal would be consumed and the call would
 * then wait regardless) or inside it with the host kernel about to restart
 * it (SA_RESTART is mirrored): in both cases the host pc is on the syscall
 * instruction with rax the call number. Make the call return EINTR instead,
 * so the guest handler runs first, and note that the guest system call is
 * to be restarted (vmx_linux_signal_deliver decides, by the guest handler's
 * SA_RESTART, as Linux's ERESTARTSYS). qemu's safe_syscall does the same
 * with a known code range. */
static void host_syscall_interrupt(vmx_linux_thread_t *t, ucontext_t *uc) {
  greg_t *g = uc->uc_mcontext.gregs;
  uintptr_t pc = (uintptr_t)g[REG_RIP];
  /* From the check up to the syscall instruction (2 bytes before the end). */
  if (pc >= (uintptr_t)vmx__safe_syscall_start && pc + 2 <= (uintptr_t)vmx__safe_syscall_end) {
    /* In the safe stub, before its call or rewound onto it (rax holds
     * the call's number there); the wrapper marks the restart. */
    g[REG_RIP] = (greg_t)vmx__safe_syscall_eintr;
    return;
  }
  const uint8_t *ip = (const uint8_t *)pc;
  if (ip[0] != 0x0f || ip[1] != 0x05 || !host_sys_may_block(g[REG_RAX]))
    return;
  g[REG_RIP] += 2;
  g[REG_RAX] = -EINTR;
  restart_mark(t, false);
}

/* A kick (no guest signal behind it yet) that ended a waiting host call
 * the kernel does not restart (it returned EINTR: poll, nanosleep,
 * sigtimedwait, futex with a timeout...): Linux would not have ended that
 * call for a signal the thread blocks, so it runs again unless a handler
 * runs (ERESTARTNOHAND). */
static void host_kick_interrupt(vmx_linux_thread_t *t, ucontext_t *uc) {
  greg_t *g = uc->uc_mcontext.gregs;
  if ((const char *)g[REG_RIP] == vmx__safe_syscall_end && g[REG_RAX] == -EINTR &&
      !atomic_load_explicit(&t->sig.restart, memory_order_relaxed)) {
    restart_mark(t, true);
    return;
  }
  host_syscall_interrupt(t, uc);
}
#endif

static void write_str(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

/* A fault of vmx's own code: report it and let the faulting instruction
 * run again with the default action, so vmx dies of the signal there. */
static void host_own_fault(int sig, const siginfo_t *si) {
  char line[80] = "vmx: internal error: signal ";
  size_t n = strlen(line);
  if (sig >= 10)
    line[n++] = (char)('0' + sig / 10);
  line[n++] = (char)('0' + sig % 10);
  memcpy(line + n, " at 0x", 6);
  n += 6;
  uint64_t a = (uint64_t)(uintptr_t)si->si_addr;
  for (int i = 0; i < 16; i++)
    line[n++] = "0123456789abcdef"[(a >> (60 - 4 * i)) & 15];
  line[n++] = '\n';
  line[n] = 0;
  write_str(line);
  host_sigaction(sig, SIG_DFL, 0);
}

/* The signals loop's wake-up (vmx_linux_signal_route), or NULL. */
static void (*_Atomic vmx__sig_wake)(void);

/* Whether a signal the host handler got came from outside the process:
 * kill or sigqueue from another process, or the kernel on its own behalf
 * (the terminal, itimers). Signals vmx itself put back in the host
 * kernel's queue (blocked ones, vmx_linux_signal_receive) come from our
 * pid and are queued at once when unblocked, as the unblocking call
 * returns; so are SIGPIPE, SIGCHLD and SIGIO, which belong to a call. */
static bool sig_from_outside(const siginfo_t *si) {
  switch (si->si_code) {
  case SI_USER: case SI_QUEUE: case SI_TKILL:
    return si->si_pid != getpid();
  case SI_KERNEL:
    return true;
  default:
    return false;
  }
}

/* Hands sig to the signals loop for guest thread t (the one the host
 * kernel chose: it does not block sig). False if an instance is already
 * on its way (the caller queues this one itself) or nothing routes. */
static bool sig_route_record(vmx_linux_thread_t *t, int sig, const siginfo_t *si) {
  void (*wake)(void) = atomic_load_explicit(&vmx__sig_wake, memory_order_acquire);
  vmx_linux_sigproc_t *ps = &vmx__sig_proc->sig;
  uint64_t bit = SIG_BIT(sig);
  if (!wake || (atomic_load_explicit(&ps->routed, memory_order_relaxed) & bit))
    return false;
  memcpy(&ps->routed_info[sig], si, sizeof ps->routed_info[sig]);
  ps->routed_tid[sig] = t->tid;
  /* Counted before the loop can send it (it sees the bit only after). */
  atomic_fetch_add_explicit(&t->sig.inbound, 1, memory_order_seq_cst);
  atomic_fetch_or_explicit(&ps->routed, bit, memory_order_release);
  wake();
  return true;
}

void vmx_linux_signal_route(void (*wake)(void)) {
  atomic_store_explicit(&vmx__sig_wake, wake, memory_order_release);
}

static void host_async_handler(int sig, siginfo_t *si, void *ucv) {
  if ((SIG_BIT(sig) & SIG_HOST_FAULTS) && si->si_code > 0) {
    host_own_fault(sig, si);
    return;
  }
  int saved_errno = errno;
  if (vmx__sig_current && sig_from_outside(si) && sig_route_record(vmx__sig_current, sig, si)) {
    /* The message will deliver it; a waiting call this signal ended
     * waits for it to decide whether to run again. */
#if defined(__x86_64__)
    host_kick_interrupt(vmx__sig_current, ucv);
#endif
    errno = saved_errno;
    return;
  }
  uint64_t queued = sig_enqueue_current(sig, si);
#if defined(__x86_64__)
  if (vmx__sig_current)
    host_syscall_interrupt(vmx__sig_current, ucv);
#endif
  /* Keep every queued signal blocked after the handler returns, so further
   * instances wait in the host kernel until it is delivered; the delivery
   * then unblocks it (vmx_linux_signal_sync_mask). All of them, not just
   * sig: when the host kernel delivers several signals at once, the
   * handlers run nested, and each return restores its own saved mask. */
  ucontext_t *uc = ucv;
  uint64_t m;
  memcpy(&m, &uc->uc_sigmask, sizeof m);
  m |= (queued | SIG_BIT(sig)) & ~SIG_HOST_NEEDED;
  memcpy(&uc->uc_sigmask, &m, sizeof m);
  errno = saved_errno;
}

/* What marks a debugger's kick (vmx_linux_signal_kick): a SIGSEGV queued by
 * vmx itself with this value. */
static const char vmx__kick_cookie[] = "vmx-debugger-kick";

static void host_fault_handler(int sig, siginfo_t *si, void *ucv) {
  if (si->si_code == SI_QUEUE && si->si_pid == getpid() && si->si_value.sival_ptr == vmx__kick_cookie) {
    /* The debugger wants this thread's vCPU: out of guest code, and out of
     * a waiting system call, which runs again when the vCPU resumes. */
    vmx_linux_thread_t *t = vmx__sig_current;
#if defined(__x86_64__)
    if (t)
      host_kick_interrupt(t, ucv);
#endif
    if (t)
      vmx_rv_cpu_kick(&t->cpu);
    return;
  }
  if (si->si_code <= 0) {
    /* Sent by kill/tkill/sigqueue: a signal for the guest like any other
     * (never blocked on the host, as vmx needs faults to get through). */
    int saved_errno = errno;
    sig_enqueue_current(sig, si);
#if defined(__x86_64__)
    /* The host handler has SA_RESTART (for the kicks): vmx decides. */
    if (vmx__sig_current)
      host_syscall_interrupt(vmx__sig_current, ucv);
#endif
    errno = saved_errno;
    return;
  }
  vmx_rv_cpu_host_fault(sig, si->si_code, si->si_addr); /* returns only for our own faults */
  host_own_fault(sig, si);
}

void vmx_linux_signal_kick(pid_t tid) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = SIGSEGV;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_ptr = (void *)vmx__kick_cookie;
  syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGSEGV, &si);
}

/* Installs the host disposition that mirrors the guest's action for sig. */
static void host_install_locked(vmx_linux_proc_t *p, int sig) {
  const vmx_linux_sigaction_t *a = &p->sig.action[sig];
  unsigned long mirrored = a->flags & (SA_RESTART | SA_NOCLDSTOP | SA_NOCLDWAIT);
  if (sig == SIGSEGV || sig == SIGBUS)
    /* SA_RESTART always: a kick must rewind a waiting host call onto its
     * syscall instruction, where host_syscall_interrupt finds it. */
    host_sigaction(sig, (void *)host_fault_handler, SA_SIGINFO | SA_NODEFER | SA_RESTART);
  else if (a->handler == RV_SIG_IGN)
    host_sigaction(sig, SIG_IGN, 0);
  else if (a->handler == RV_SIG_DFL && !(SIG_BIT(sig) & SIG_DEFAULT_CORE))
    host_sigaction(sig, SIG_DFL, mirrored);
  else   /* a guest handler; or a core dump, which vmx does without the core */
    host_sigaction(sig, (void *)host_async_handler, SA_SIGINFO | mirrored);
}

/* ---- masks ------------------------------------------------------------ */

void vmx_linux_signal_sync_mask(vmx_linux_thread_t *t) {
  /* Queued signals stay blocked until delivered (see host_async_handler);
   * retry if one was queued while the mask was being set. */
  uint64_t pending;
  do {
    pending = atomic_load_explicit(&t->sig.pending, memory_order_relaxed);
    host_setmask((t->sig.blocked | pending) & ~(SIG_UNBLOCKABLE | SIG_HOST_NEEDED));
  } while (atomic_load_explicit(&t->sig.pending, memory_order_relaxed) != pending);
}

void vmx_linux_signal_thread_start(vmx_linux_thread_t *t, uint64_t mask) {
  t->sig.bound = true;
  t->sig.blocked = mask & ~SIG_UNBLOCKABLE;
  if (!t->sig.ss_size && !t->sig.ss_flags)
    t->sig.ss_flags = SS_DISABLE;
  vmx__sig_current = t;
  vmx_linux_signal_sync_mask(t);
}

void vmx_linux_signal_block_all(void) {
  host_setmask(~SIG_HOST_NEEDED);
}

void vmx_linux_signal_thread_stop(vmx_linux_thread_t *t) {
  host_setmask(~SIG_HOST_NEEDED);
  vmx__sig_current = NULL;
  vmx_linux_proc_t *p = t->proc;
  uint64_t left = atomic_exchange_explicit(&t->sig.pending, 0, memory_order_acquire);
  while (left) {
    int sig = __builtin_ctzll(left) + 1;
    left &= left - 1;
    p->sig.info[sig] = t->sig.info[sig];
    atomic_fetch_or_explicit(&p->sig.pending, SIG_BIT(sig), memory_order_release);
  }
}

void vmx_linux_signal_after_fork(vmx_linux_thread_t *t) {
  atomic_store_explicit(&t->sig.pending, 0, memory_order_relaxed);
  atomic_store_explicit(&t->proc->sig.pending, 0, memory_order_relaxed);
  vmx_linux_signal_sync_mask(t);
}

void vmx_linux_signal_before_exec(vmx_linux_thread_t *t) {
  host_setmask(t->sig.blocked & ~SIG_UNBLOCKABLE);
}

static inline void sig_bind(vmx_linux_thread_t *t) {
  if (__builtin_expect(!t->sig.bound, 0))
    vmx_linux_signal_thread_start(t, t->proc->sig.initial_mask);
}

/* ---- set-up ----------------------------------------------------------- */

int vmx_linux_signal_init(vmx_linux_proc_t *p) {
  vmx_linux_sigproc_t *s = &p->sig;
  if (pthread_mutex_init(&s->lock, NULL))
    return VMX_ENOMEM;
  memset(s->action, 0, sizeof s->action);
  s->trampoline = 0;
  atomic_store_explicit(&s->pending, 0, memory_order_relaxed);
  vmx__sig_proc = p;
  for (int sig = 1; sig <= VMX_LINUX_NSIG; sig++) {
    if (!(SIG_BIT(sig) & SIG_UNBLOCKABLE) && host_handler_of(sig) == SIG_IGN)
      s->action[sig].handler = RV_SIG_IGN;
  }
  uint64_t mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask, 8);
  s->initial_mask = mask & ~SIG_UNBLOCKABLE;
  pthread_mutex_lock(&s->lock);
  for (int sig = 1; sig <= VMX_LINUX_NSIG; sig++)
    if (SIG_BIT(sig) & (SIG_DEFAULT_CORE | SIG_HOST_NEEDED))
      host_install_locked(p, sig);
  pthread_mutex_unlock(&s->lock);
  uint64_t needed = SIG_HOST_NEEDED;
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &needed, NULL, 8);
  return 0;
}

/* ---- default actions --------------------------------------------------- */

_Noreturn void vmx_linux_signal_die(int sig) {
  /* Die as the native program would, but never leave a core file behind. */
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  host_sigaction(sig, SIG_DFL, 0);
  uint64_t bit = SIG_BIT(sig);
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &bit, NULL, 8);
  syscall(SYS_tgkill, getpid(), gettid(), sig);
  /* Not reached for a fatal signal; for anything else, end as close as we can. */
  _exit(128 + sig);
}

/* The default action of a queued signal whose guest action is SIG_DFL. */
static void sig_default(int sig) {
  if (SIG_BIT(sig) & SIG_DEFAULT_IGNORE)
    return;
  if (SIG_BIT(sig) & SIG_DEFAULT_STOP) {
    /* The host disposition is SIG_DFL too: the host kernel stops us once the
     * delivery has unblocked sig again. */
    syscall(SYS_tgkill, getpid(), gettid(), sig);
    return;
  }
  vmx_linux_signal_die(sig);
}

static bool sig_ignored(const vmx_linux_sigaction_t *a, int sig) {
  return a->handler == RV_SIG_IGN ||
         (a->handler == RV_SIG_DFL && (SIG_BIT(sig) & SIG_DEFAULT_IGNORE));
}

/* ---- the alternate signal stack (kernel/signal.c) ---------------------- */

static bool altstack_on(const vmx_linux_sigthread_t *s, uint64_t sp) {
  if (s->ss_flags & RV_SS_AUTODISARM)
    return false;
  return sp > s->ss_sp && sp - s->ss_sp <= s->ss_size;
}

static uint32_t altstack_flags(const vmx_linux_sigthread_t *s, uint64_t sp) {
  if (!s->ss_size)
    return SS_DISABLE;
  return altstack_on(s, sp) ? SS_ONSTACK : 0;
}

static int altstack_set(vmx_linux_sigthread_t *s, const rv_stack_t *ss, uint64_t sp) {
  if (altstack_on(s, sp))
    return -EPERM;
  uint32_t flags = (uint32_t)ss->flags;
  uint32_t mode = flags & ~RV_SS_AUTODISARM;
  if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0)
    return -EINVAL;
  uint64_t ss_sp = ss->sp, ss_size = ss->size;
  if (mode == SS_DISABLE) {
    ss_sp = 0;
    ss_size = 0;
  } else if (ss_size < RV_MINSIGSTKSZ) {
    return -ENOMEM;
  }
  s->ss_sp = ss_sp;
  s->ss_size = ss_size;
  s->ss_flags = flags;
  return 0;
}

/* ---- delivery ---------------------------------------------------------- */

/* Pushes a signal frame for sig and points t's vCPU at the handler, as
 * setup_rt_frame() and signal_setup_done() do. False when the frame cannot
 * be written (the caller forces SIGSEGV). */
static bool frame_push(vmx_linux_thread_t *t, int sig, const vmx_linux_sigaction_t *act,
                       const vmx_linux_siginfo_t *info) {
  vmx_linux_sigthread_t *s = &t->sig;
  vmx_rv_cpu_t *c = &t->cpu;
  uint64_t sp = c->x[2];
  if (altstack_on(s, sp) && !altstack_on(s, sp - sizeof(rv_sigframe_t)))
    return false;
  if ((act->flags & SA_ONSTACK) && altstack_flags(s, sp) == 0)
    sp = s->ss_sp + s->ss_size;
  sp = (sp - sizeof(rv_sigframe_t)) & ~15ull;

  rv_sigframe_t f;
  memset(&f, 0, sizeof f);
  f.info = *info;
  f.uc.ss_sp = s->ss_sp;
  f.uc.ss_flags = (int32_t)s->ss_flags;
  f.uc.ss_size = s->ss_size;
  f.uc.sigmask = s->mask_saved ? s->saved_mask : s->blocked;
  f.uc.mcontext.regs[0] = c->pc;
  memcpy(&f.uc.mcontext.regs[1], &c->x[1], 31 * sizeof(uint64_t));
  memcpy(f.uc.mcontext.f, c->f, sizeof f.uc.mcontext.f);
  f.uc.mcontext.fcsr = c->frm << 5 | c->fflags;
  if (vmx_linux_mm_copy_out(&t->proc->mm, sp, &f, sizeof f))
    return false;

  if (s->ss_flags & RV_SS_AUTODISARM) {
    s->ss_sp = 0;
    s->ss_size = 0;
    s->ss_flags = SS_DISABLE;
  }
  s->mask_saved = false;
  s->blocked |= act->mask;
  if (!(act->flags & SA_NODEFER))
    s->blocked |= SIG_BIT(sig);
  s->blocked &= ~SIG_UNBLOCKABLE;
  c->pc = act->handler;
  c->x[1] = t->proc->sig.trampoline;   /* ra: the vDSO's rt_sigreturn (elf.c maps it) */
  c->x[2] = sp;
  c->x[10] = (uint64_t)sig;
  c->x[11] = sp + offsetof(rv_sigframe_t, info);
  c->x[12] = sp + offsetof(rv_sigframe_t, uc);
  return true;
}

/* Reads sig's action, applying SA_RESETHAND when it is about to run. */
static vmx_linux_sigaction_t action_take(vmx_linux_proc_t *p, int sig) {
  pthread_mutex_lock(&p->sig.lock);
  vmx_linux_sigaction_t a = p->sig.action[sig];
  if (a.handler > RV_SIG_IGN && (a.flags & SA_RESETHAND)) {
    p->sig.action[sig].handler = RV_SIG_DFL;
    host_install_locked(p, sig);
  }
  pthread_mutex_unlock(&p->sig.lock);
  return a;
}

/* force_sigsegv(): a frame for sig could not be written. */
static void force_sigsegv(vmx_linux_thread_t *t, int sig) {
  if (sig == SIGSEGV)
    vmx_linux_signal_die(SIGSEGV);
  vmx_linux_signal_sync(t, SIGSEGV, SI_KERNEL, 0);
}

/* Delivers the pending synchronous signal: a handler that is installed and
 * not blocked runs; otherwise the process dies of it (force_sig_info). */
static void deliver_sync(vmx_linux_thread_t *t) {
  int sig = t->sig.sync_sig;
  t->sig.sync_sig = 0;
  vmx_linux_proc_t *p = t->proc;
  pthread_mutex_lock(&p->sig.lock);
  bool fatal = (t->sig.blocked & SIG_BIT(sig)) || p->sig.action[sig].handler <= RV_SIG_IGN;
  pthread_mutex_unlock(&p->sig.lock);
  if (fatal)
    vmx_linux_signal_die(sig);
  vmx_linux_sigaction_t act = action_take(p, sig);
  vmx_linux_siginfo_t info = {.signo = sig, .code = t->sig.sync_code};
  info.field[0] = t->sig.sync_addr;
  if (!frame_push(t, sig, &act, &info))
    force_sigsegv(t, sig);
}

/* The guest system call that a signal interrupted (see
 * host_syscall_interrupt) returned -EINTR: makes it run again when the
 * guest's ecall is re-executed (pc back on the ecall, a0 as it was), unless
 * the handler about to run lacks SA_RESTART. Called once, before the first
 * frame, or after the loop when no handler ran (then it always restarts). */
static void syscall_restart(vmx_linux_thread_t *t, bool *pending, bool restart) {
  vmx_rv_cpu_t *c = &t->cpu;
  uint32_t insn = 0;
  if (!*pending)
    return;
  *pending = false;
  if ((int64_t)c->x[10] != -EINTR || !restart)
    return;
  if (vmx_linux_mm_copy_in(&t->proc->mm, &insn, c->pc - 4, sizeof insn) || insn != 0x00000073)
    return;   /* not right after an ecall: a stale mark */
  c->x[10] = t->sig.restart_a0;
  c->pc -= 4;
}

static void deliver_one(vmx_linux_thread_t *t, int sig, const vmx_linux_siginfo_t *info,
                        bool *restart) {
  vmx_linux_sigaction_t act = action_take(t->proc, sig);
  if (act.handler == RV_SIG_IGN)
    return;
  if (act.handler == RV_SIG_DFL) {
    sig_default(sig);
    return;
  }
  syscall_restart(t, restart, (act.flags & SA_RESTART) && !t->sig.restart_nohand);
  if (!frame_push(t, sig, &act, info))
    force_sigsegv(t, sig);
}

/* The next signal to take from `ready`: synchronous ones first, then the
 * lowest number (Linux's next_signal). */
static int sig_pick(uint64_t ready) {
  uint64_t first = ready & SIG_SYNC_FIRST;
  return __builtin_ctzll(first ? first : ready) + 1;
}

/* Takes sig off t's queue or the process's; false if another thread took
 * the process's instance first. */
static bool sig_take(vmx_linux_thread_t *t, int sig, vmx_linux_siginfo_t *info) {
  uint64_t bit = SIG_BIT(sig);
  if (atomic_load_explicit(&t->sig.pending, memory_order_acquire) & bit) {
    *info = t->sig.info[sig];
    atomic_fetch_and_explicit(&t->sig.pending, ~bit, memory_order_relaxed);
    return true;
  }
  vmx_linux_sigproc_t *ps = &t->proc->sig;
  *info = ps->info[sig];
  return atomic_fetch_and_explicit(&ps->pending, ~bit, memory_order_acquire) & bit;
}

uint64_t vmx_linux_signal_queued(vmx_linux_thread_t *t) {
  return atomic_load_explicit(&t->sig.pending, memory_order_acquire) |
         atomic_load_explicit(&t->proc->sig.pending, memory_order_acquire);
}

void vmx_linux_signal_sync(vmx_linux_thread_t *t, int sig, int code, uint64_t addr) {
  t->sig.sync_sig = sig;
  t->sig.sync_code = code;
  t->sig.sync_addr = addr;
}

void vmx_linux_signal_deliver(vmx_linux_thread_t *t) {
  sig_bind(t);
  if (__builtin_expect(!t->sig.sync_sig && !t->sig.mask_saved &&
                           !atomic_load_explicit(&t->sig.restart, memory_order_relaxed) &&
                           !(vmx_linux_signal_queued(t) & ~t->sig.blocked), 1))
    return;
  bool restart = atomic_exchange_explicit(&t->sig.restart, false, memory_order_relaxed);
  /* Each signal taken pushes a frame on the last (so the last handler runs
   * first), as Linux does when several are pending on return to user. */
  for (;;) {
    if (t->sig.sync_sig) {
      deliver_sync(t);
      continue;
    }
    uint64_t ready = vmx_linux_signal_queued(t) & ~t->sig.blocked;
    if (!ready)
      break;
    int sig = sig_pick(ready);
    vmx_linux_siginfo_t info;
    if (sig_take(t, sig, &info))
      deliver_one(t, sig, &info, &restart);
  }
  /* Marks made by vmx's own waits during this delivery mean nothing. */
  atomic_store_explicit(&t->sig.restart, false, memory_order_relaxed);
  syscall_restart(t, &restart, true);
  t->sig.restart_nohand = false;
  if (t->sig.mask_saved) {   /* rt_sigsuspend ran no handler */
    t->sig.blocked = t->sig.saved_mask;
    t->sig.mask_saved = false;
  }
  vmx_linux_signal_sync_mask(t);
}

/* ---- system calls ------------------------------------------------------ */

int64_t vmx_sys_rt_sigaction(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int sig = (int)a[0];
  vmx_linux_proc_t *p = t->proc;
  vmx_linux_sigaction_t nact, old;
  if (a[3] != 8)
    return -EINVAL;
  if (a[1] && vmx_linux_mm_copy_in(&p->mm, &nact, a[1], sizeof nact))
    return -EFAULT;
  if (sig < 1 || sig > VMX_LINUX_NSIG || (a[1] && (SIG_BIT(sig) & SIG_UNBLOCKABLE)))
    return -EINVAL;
  pthread_mutex_lock(&p->sig.lock);
  old = p->sig.action[sig];
  if (a[1]) {
    nact.flags &= RV_SA_KNOWN;
    nact.mask &= ~SIG_UNBLOCKABLE;
    p->sig.action[sig] = nact;
    host_install_locked(p, sig);
  }
  pthread_mutex_unlock(&p->sig.lock);
  if (a[2] && vmx_linux_mm_copy_out(&p->mm, a[2], &old, sizeof old))
    return -EFAULT;
  return 0;
}

int64_t vmx_sys_rt_sigprocmask(vmx_linux_thread_t *t, const uint64_t a[6]) {
  sig_bind(t);
  vmx_linux_mm_t *mm = &t->proc->mm;
  uint64_t old = t->sig.blocked, set;
  if (a[3] != 8)
    return -EINVAL;
  if (a[1]) {
    if (vmx_linux_mm_copy_in(mm, &set, a[1], sizeof set))
      return -EFAULT;
    set &= ~SIG_UNBLOCKABLE;
    switch (a[0]) {
    case SIG_BLOCK: t->sig.blocked |= set; break;
    case SIG_UNBLOCK: t->sig.blocked &= ~set; break;
    case SIG_SETMASK: t->sig.blocked = set; break;
    default: return -EINVAL;
    }
    vmx_linux_signal_sync_mask(t);
  }
  if (a[2] && vmx_linux_mm_copy_out(mm, a[2], &old, sizeof old))
    return -EFAULT;
  return 0;
}

int64_t vmx_sys_rt_sigpending(vmx_linux_thread_t *t, const uint64_t a[6]) {
  sig_bind(t);
  if (a[1] > 8)
    return -EINVAL;
  uint64_t host = 0;
  syscall(SYS_rt_sigpending, &host, 8);
  uint64_t set = (host | vmx_linux_signal_queued(t)) & t->sig.blocked;
  if (vmx_linux_mm_copy_out(&t->proc->mm, a[0], &set, a[1]))
    return -EFAULT;
  return 0;
}

/* Drops queued signals that the current actions ignore, so they do not end
 * a wait (Linux discards them when they are sent). */
static void sig_drop_ignored(vmx_linux_thread_t *t) {
  vmx_linux_proc_t *p = t->proc;
  uint64_t q = vmx_linux_signal_queued(t);
  if (!q)
    return;
  uint64_t ignored = 0;
  pthread_mutex_lock(&p->sig.lock);
  for (uint64_t left = q; left; left &= left - 1) {
    int sig = __builtin_ctzll(left) + 1;
    if (sig_ignored(&p->sig.action[sig], sig))
      ignored |= SIG_BIT(sig);
  }
  pthread_mutex_unlock(&p->sig.lock);
  atomic_fetch_and_explicit(&t->sig.pending, ~ignored, memory_order_relaxed);
  atomic_fetch_and_explicit(&p->sig.pending, ~ignored, memory_order_relaxed);
}

int64_t vmx_sys_rt_sigsuspend(vmx_linux_thread_t *t, const uint64_t a[6]) {
  sig_bind(t);
  uint64_t mask;
  if (a[1] != 8)
    return -EINVAL;
  if (vmx_linux_mm_copy_in(&t->proc->mm, &mask, a[0], sizeof mask))
    return -EFAULT;
  if (!t->sig.mask_saved) {
    t->sig.saved_mask = t->sig.blocked;
    t->sig.mask_saved = true;
  }
  t->sig.blocked = mask & ~SIG_UNBLOCKABLE;
  for (;;) {
    /* Everything blocked between the check and the host's atomic
     * unblock-and-wait, so no signal slips into the queue unseen. */
    host_setmask(~SIG_HOST_NEEDED);
    sig_drop_ignored(t);
    if (vmx_linux_signal_queued(t) & ~t->sig.blocked)
      break;
    if (atomic_load_explicit(&t->sig.inbound, memory_order_seq_cst)) {
      /* A VCPU_SIGNAL waits in the mailbox: go and take it; the call runs
       * again if it brings no handler (ERESTARTNOHAND). */
      restart_mark(t, true);
      break;
    }
    uint64_t wait = (t->sig.blocked | atomic_load_explicit(&t->sig.pending, memory_order_relaxed)) &
                    ~(SIG_UNBLOCKABLE | SIG_HOST_NEEDED);
    syscall(SYS_rt_sigsuspend, &wait, 8);
  }
  vmx_linux_signal_sync_mask(t);
  /* The delivery that follows runs the handler with the saved mask in its
   * frame (sigsuspend's ERESTARTNOHAND). */
  return -EINTR;
}

int64_t vmx_sys_rt_sigtimedwait(vmx_linux_thread_t *t, const uint64_t a[6]) {
  sig_bind(t);
  vmx_linux_mm_t *mm = &t->proc->mm;
  uint64_t set;
  struct timespec ts;
  if (a[3] != 8)
    return -EINVAL;
  if (vmx_linux_mm_copy_in(mm, &set, a[0], sizeof set))
    return -EFAULT;
  if (a[2] && vmx_linux_mm_copy_in(mm, &ts, a[2], sizeof ts))
    return -EFAULT;
  set &= ~SIG_UNBLOCKABLE;
  /* Block the set on the host first: a signal of the set then either is in
   * our queue already or waits in the host kernel for the host call. */
  host_setmask((t->sig.blocked | set | atomic_load_explicit(&t->sig.pending, memory_order_relaxed)) &
               ~(SIG_UNBLOCKABLE | SIG_HOST_NEEDED));
  vmx_linux_siginfo_t info;
  int64_t r;
  uint64_t queued = vmx_linux_signal_queued(t) & set;
  int sig = queued ? sig_pick(queued) : 0;
  if (sig && sig_take(t, sig, &info)) {
    r = sig;
  } else {
    siginfo_t hinfo;
    r = vmx__host_ret(syscall(SYS_rt_sigtimedwait, &set, &hinfo, a[2] ? &ts : NULL, 8));
    memcpy(&info, &hinfo, sizeof info);
  }
  vmx_linux_signal_sync_mask(t);
  if (r > 0 && a[1] && vmx_linux_mm_copy_out(mm, a[1], &info, sizeof info))
    return -EFAULT;
  return r;
}

int64_t vmx_sys_signalfd4(vmx_linux_thread_t *t, const uint64_t a[6]) {
  uint64_t mask;
  if (a[2] != 8)
    return -EINVAL;
  if (vmx_linux_mm_copy_in(&t->proc->mm, &mask, a[1], sizeof mask))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_signalfd4, (int)a[0], &mask, 8, (int)a[3]));
}

/* ---- sending: guest signals as VCPU_SIGNAL messages ------------------- */

/* A signal the guest sends, as the message carries it. */
static vmx_linux_siginfo_t sig_info_make(int sig, int code, uint64_t value) {
  vmx_linux_siginfo_t info = {.signo = sig, .code = code};
  info.field[0] = (uint32_t)getpid() | (uint64_t)getuid() << 32;
  info.field[1] = value;
  return info;
}

/* Whether a guest signal to this process goes as a message: signals 1-64
 * but SIGKILL and SIGSTOP, which nothing can catch or block (the host
 * kernel applies them to vmx as Linux to the native process), and 0, which
 * only checks the target. */
static bool sig_routable(int sig) {
  return sig >= 1 && sig <= VMX_LINUX_NSIG && !(SIG_BIT(sig) & SIG_UNBLOCKABLE);
}

/* Sends sig to thread tid of this process (thread) or to the process
 * (tid 0) as a VCPU_SIGNAL. Returns 0 (sent, or dropped as Linux drops a
 * signal to a thread that is ending), or 1 when it does not go as a
 * message (the caller makes the host call, which also gives the errors). */
static int sig_send(vmx_linux_thread_t *t, pid_t tid, int sig, const vmx_linux_siginfo_t *info) {
  if (!sig_routable(sig))
    return 1;
  vmx_msg_t m = VMX_MSG_INIT(VCPU_SIGNAL);
  m.body.vcpu_signal.signo = sig;
  m.body.vcpu_signal.code = info->code;
  m.body.vcpu_signal.pid = (int32_t)(uint32_t)info->field[0];
  m.body.vcpu_signal.uid = (uint32_t)(info->field[0] >> 32);
  m.body.vcpu_signal.value = info->field[1];
  m.body.vcpu_signal.thread = tid != 0;
  return vmx__thread_signal_send(t, tid, &m, false);
}

int64_t vmx_sys_kill(vmx_linux_thread_t *t, const uint64_t a[6]) {
  pid_t pid = (pid_t)a[0];
  int sig = (int)a[1];
  if (pid == getpid()) {
    vmx_linux_siginfo_t info = sig_info_make(sig, SI_USER, 0);
    if (sig_send(t, 0, sig, &info) == 0)
      return 0;
  }
  return vmx__host_ret(syscall(SYS_kill, pid, sig));
}

int64_t vmx_sys_tkill(vmx_linux_thread_t *t, const uint64_t a[6]) {
  pid_t tid = (pid_t)a[0];
  int sig = (int)a[1];
  vmx_linux_siginfo_t info = sig_info_make(sig, SI_TKILL, 0);
  if (tid > 0 && sig_send(t, tid, sig, &info) == 0)
    return 0;
  return vmx__host_ret(syscall(SYS_tkill, tid, sig));
}

int64_t vmx_sys_tgkill(vmx_linux_thread_t *t, const uint64_t a[6]) {
  pid_t tgid = (pid_t)a[0], tid = (pid_t)a[1];
  int sig = (int)a[2];
  vmx_linux_siginfo_t info = sig_info_make(sig, SI_TKILL, 0);
  if (tgid == getpid() && tid > 0 && sig_send(t, tid, sig, &info) == 0)
    return 0;
  return vmx__host_ret(syscall(SYS_tgkill, tgid, tid, sig));
}

int64_t vmx_sys_rt_sigqueueinfo(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_siginfo_t info;
  pid_t pid = (pid_t)a[0];
  int sig = (int)a[1];
  if (vmx_linux_mm_copy_in(&t->proc->mm, &info, a[2], sizeof info))
    return -EFAULT;
  /* The guest's own process: any si_code goes, as on Linux. */
  if (pid == getpid() && sig_send(t, 0, sig, &info) == 0)
    return 0;
  return vmx__host_ret(syscall(SYS_rt_sigqueueinfo, pid, sig, &info));
}

int64_t vmx_sys_rt_tgsigqueueinfo(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_siginfo_t info;
  pid_t tgid = (pid_t)a[0], tid = (pid_t)a[1];
  int sig = (int)a[2];
  if (vmx_linux_mm_copy_in(&t->proc->mm, &info, a[3], sizeof info))
    return -EFAULT;
  if (tgid == getpid() && tid > 0 && sig_send(t, tid, sig, &info) == 0)
    return 0;
  return vmx__host_ret(syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &info));
}

/* ---- receiving -------------------------------------------------------- */

/* One message counted in t->sig.inbound was handled. Never below 0: a
 * routed signal counted on a thread that ended before its message was
 * sent may reach the next thread on the same loop (same tid), which did
 * not count it. seq_cst: pairs with the senders' increment and the safe
 * stub's check. */
static void inbound_done(vmx_linux_thread_t *t) {
  int32_t n = atomic_load_explicit(&t->sig.inbound, memory_order_seq_cst);
  while (n > 0 && !atomic_compare_exchange_weak_explicit(&t->sig.inbound, &n, n - 1,
                                                          memory_order_seq_cst,
                                                          memory_order_seq_cst))
    ;
}

void vmx_linux_signal_receive(vmx_linux_thread_t *t, const vmx_msg_vcpu_signal_t *m) {
  int sig = m->signo;
  if (!sig_routable(sig) || t->exiting) {
    inbound_done(t);
    return;
  }
  vmx_linux_siginfo_t info = {.signo = sig, .code = m->code};
  info.field[0] = (uint32_t)m->pid | (uint64_t)m->uid << 32;
  info.field[1] = m->value;
  uint64_t bit = SIG_BIT(sig);
  vmx_linux_proc_t *p = t->proc;
  pthread_mutex_lock(&p->sig.lock);
  bool ignored = sig_ignored(&p->sig.action[sig], sig);
  pthread_mutex_unlock(&p->sig.lock);
  uint64_t queued = atomic_load_explicit(&t->sig.pending, memory_order_relaxed);
  if (t->sig.blocked & bit || (sig >= 32 && (queued & bit))) {
    /* Blocked, or a second real-time instance: to the host kernel's queue,
     * which holds it as Linux would (the host mask blocks it: the guest
     * mask plus what is queued here). */
    /* Linux lets a thread other than the main one queue SI_USER or
     * SI_TKILL only to itself: then the signal waits on this thread. */
    if (m->thread || syscall(SYS_rt_sigqueueinfo, getpid(), sig, &info) != 0)
      syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, &info);
  } else if (!ignored && !(queued & bit)) {
    t->sig.info[sig] = info;
    /* release: whoever sees the bit sees the siginfo */
    atomic_fetch_or_explicit(&t->sig.pending, bit, memory_order_release);
  }
  inbound_done(t);
  vmx_linux_signal_deliver(t);
}

void vmx_linux_signal_route_drain(void) {
  vmx_linux_sigproc_t *ps = &vmx__sig_proc->sig;
  uint64_t bits = atomic_load_explicit(&ps->routed, memory_order_acquire);
  while (bits) {
    int sig = __builtin_ctzll(bits) + 1;
    bits &= bits - 1;
    vmx_linux_siginfo_t info = ps->routed_info[sig];
    pid_t tid = ps->routed_tid[sig];
    atomic_fetch_and_explicit(&ps->routed, ~SIG_BIT(sig), memory_order_release);
    vmx_msg_t m = VMX_MSG_INIT(VCPU_SIGNAL);
    m.body.vcpu_signal.signo = sig;
    m.body.vcpu_signal.code = info.code;
    m.body.vcpu_signal.pid = (int32_t)(uint32_t)info.field[0];
    m.body.vcpu_signal.uid = (uint32_t)(info.field[0] >> 32);
    m.body.vcpu_signal.value = info.field[1];
    m.body.vcpu_signal.thread = false;
    if (vmx__thread_signal_send(NULL, tid, &m, true) != 0) {
      /* Its thread ended meanwhile: the process's, for any thread. */
      if (!(atomic_load_explicit(&ps->pending, memory_order_relaxed) & SIG_BIT(sig))) {
        ps->info[sig] = info;
        atomic_fetch_or_explicit(&ps->pending, SIG_BIT(sig), memory_order_release);
      }
    }
  }
}

bool vmx_linux_signal_waiting(vmx_linux_thread_t *t) {
  /* Any message counted, not only one that ended a call: Linux delivers a
   * signal sent to a thread before that thread next returns to user mode
   * (raise() runs the handler before it returns; so does the sigprocmask
   * that unblocks a signal routed from outside). */
  return atomic_load_explicit(&t->sig.inbound, memory_order_seq_cst) > 0;
}

int64_t vmx_sys_sigaltstack(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_mm_t *mm = &t->proc->mm;
  vmx_linux_sigthread_t *s = &t->sig;
  uint64_t sp = t->cpu.x[2];
  rv_stack_t ss, old = {0};
  if (a[0] && vmx_linux_mm_copy_in(mm, &ss, a[0], sizeof ss))
    return -EFAULT;
  old.sp = s->ss_sp;
  old.size = s->ss_size;
  old.flags = (int32_t)(altstack_flags(s, sp) | (s->ss_flags & RV_SS_AUTODISARM));
  int r = a[0] ? altstack_set(s, &ss, sp) : 0;
  if (r == 0 && a[1] && vmx_linux_mm_copy_out(mm, a[1], &old, sizeof old))
    r = -EFAULT;
  return r;
}

int64_t vmx_sys_rt_sigreturn(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_rv_cpu_t *c = &t->cpu;
  rv_ucontext_t uc;
  uint64_t frame = c->x[2];
  const rv_sigcontext_t *sc = &uc.mcontext;
  if (vmx_linux_mm_copy_in(&t->proc->mm, &uc, frame + offsetof(rv_sigframe_t, uc), sizeof uc) ||
      sc->fp_reserved[0] || sc->fp_reserved[1] || sc->fp_reserved[2]) {
    vmx_linux_signal_sync(t, SIGSEGV, SI_KERNEL, 0);
    return VMX_LINUX_KEEP_REGS;
  }
  t->sig.blocked = uc.sigmask & ~SIG_UNBLOCKABLE;
  c->pc = sc->regs[0];
  memcpy(&c->x[1], &sc->regs[1], 31 * sizeof(uint64_t));
  memcpy(c->f, sc->f, sizeof c->f);
  c->fflags = sc->fcsr & 0x1f;
  c->frm = (sc->fcsr >> 5) & 7;
  /* restore_altstack(): with the restored sp; errors other than EFAULT are
   * dropped, as the kernel does. */
  rv_stack_t ss = {uc.ss_sp, uc.ss_flags, 0, uc.ss_size};
  altstack_set(&t->sig, &ss, c->x[2]);
  vmx_linux_signal_sync_mask(t);
  return VMX_LINUX_KEEP_REGS;
}

int64_t vmx_sys_setitimer(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *nv, *ov;
  if (vmx__guest_buf(t, a[1], sizeof(struct itimerval), &nv) ||
      vmx__guest_buf(t, a[2], sizeof(struct itimerval), &ov))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_setitimer, (int)a[0], nv, ov));
}

int64_t vmx_sys_getitimer(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *cur;
  if (vmx__guest_buf(t, a[1], sizeof(struct itimerval), &cur))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_getitimer, (int)a[0], cur));
}

/* ---- host calls that may wait ----------------------------------------- */

#undef syscall
long vmx__host_syscall(int nargs, long nr, ...) {
  /* Each argument as a long, as glibc's syscall() passes them on: the
   * kernel narrows int arguments itself. */
  va_list ap;
  long a[6] = {0};
  va_start(ap, nr);
  for (int i = 0; i < nargs && i < 6; i++)
    a[i] = va_arg(ap, long);
  va_end(ap);
#if defined(__x86_64__)
  vmx_linux_thread_t *t = vmx__sig_current;
  if (t && host_sys_safe(nr, a)) {
    long r = vmx__safe_syscall(&t->sig.inbound, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (r == VMX__SAFE_EINTR) {
      /* Not called (a message is on its way) or moved off the call by a
       * handler: the guest call runs again unless the signal's handler
       * says otherwise. */
      if (!atomic_load_explicit(&t->sig.restart, memory_order_relaxed))
        restart_mark(t, host_sys_nohand(nr));
      r = -EINTR;
    }
    if (r < 0 && r > -4096) {
      errno = (int)-r;
      return -1;
    }
    return r;
  }
#endif
  return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
