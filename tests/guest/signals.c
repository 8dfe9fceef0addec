/*
 * signals.c - signal delivery: SA_SIGINFO handlers for signals sent by
 * raise, kill, tgkill and sigqueue (si_code and sender fields), masks and
 * pending sets, queueing of real-time signals, delivery order,
 * SA_NODEFER, SA_RESETHAND, SA_RESTART vs EINTR on a blocking pipe read,
 * alarm + pause, SIGCHLD, sigaltstack, signalfd, sigwaitinfo, synchronous
 * faults (SIGSEGV, SIGILL, SIGTRAP) and the ucontext a handler may edit:
 * integer registers, the pc, and the floating-point state restored on
 * return.
 */
#include "guest_test.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>

/* What the last handler saw, printed by the main line of the program. */
static volatile int seen_count;
static volatile int seen_signo, seen_code, seen_errno_in_handler;
static volatile int seen_pid_is_self, seen_uid_is_self, seen_value;
static char order[64];
static volatile int order_len;

static void record_order(int sig)
{
    if (order_len < (int)sizeof order - 4)
        order_len += snprintf(order + order_len, sizeof order - order_len, "%d ", sig);
}

static void on_info(int sig, siginfo_t *info, void *uc)
{
    seen_count++;
    seen_signo = info->si_signo;
    seen_code = info->si_code;
    seen_pid_is_self = info->si_pid == getpid();
    seen_uid_is_self = info->si_uid == getuid();
    seen_value = info->si_value.sival_int;
    record_order(sig);
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa = {.sa_sigaction = fn, .sa_flags = SA_SIGINFO | flags};
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0)
        printf("sigaction(%d) failed: %s\n", sig, gt_errname(errno));
}

static void report(const char *what)
{
    printf("%s: count=%d signo=%s code=%d from-self=%d uid=%d\n", what, seen_count,
           sigabbrev_np(seen_signo) ? sigabbrev_np(seen_signo) : "?", seen_code, seen_pid_is_self,
           seen_uid_is_self);
    seen_count = 0;
}

static void test_senders(void)
{
    puts("== senders and siginfo");
    install(SIGUSR1, on_info, 0);
    install(SIGUSR2, on_info, 0);
    GT_SYS(raise(SIGUSR1));
    report("raise");
    GT_SYS(kill(getpid(), SIGUSR1));
    report("kill");
    GT_SYS(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2));
    report("tgkill");
    GT_SYS(syscall(SYS_tkill, syscall(SYS_gettid), SIGUSR2));
    report("tkill");
    GT_SYS(sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 1234}));
    report("sigqueue");
    printf("sigqueue value: %d\n", seen_value);

    GT_SYS(kill(getpid(), 0));
    GT_SYS(kill(getpid(), 65));
    GT_SYS(kill(getpid(), -1));
    GT_SYS(sigaction(SIGKILL, &(struct sigaction){.sa_handler = SIG_IGN}, NULL));
    GT_SYS(sigaction(SIGSTOP, &(struct sigaction){.sa_handler = SIG_IGN}, NULL));
    GT_SYS(sigaction(0, NULL, NULL));
    GT_SYS(sigaction(65, NULL, NULL));
    GT_SYS(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4));

    /* An ignored signal and one whose default action is to ignore. */
    signal(SIGUSR1, SIG_IGN);
    GT_SYS(raise(SIGUSR1));
    GT_SYS(raise(SIGWINCH));
    GT_SYS(raise(SIGCHLD));
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    printf("queried disposition: %s\n", old.sa_handler == SIG_IGN ? "SIG_IGN" : "other");
}

static void test_masks_and_pending(void)
{
    puts("== masks, pending, order");
    install(SIGUSR1, on_info, 0);
    sigset_t block, old, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    GT_SYS(sigprocmask(SIG_BLOCK, &block, &old));
    raise(SIGUSR1);
    raise(SIGUSR1);
    sigpending(&pending);
    printf("pending SIGUSR1: %d, handled so far: %d\n", sigismember(&pending, SIGUSR1), seen_count);
    GT_SYS(sigprocmask(SIG_UNBLOCK, &block, NULL));
    printf("after unblock: handled %d (standard signals do not queue)\n", seen_count);
    seen_count = 0;

    /* Real-time signals queue, in order, with their values. */
    order_len = 0;
    install(SIGRTMIN, on_info, 0);
    install(SIGRTMIN + 1, on_info, 0);
    install(SIGUSR2, on_info, 0);
    sigaddset(&block, SIGRTMIN);
    sigaddset(&block, SIGRTMIN + 1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 1});
    sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 2});
    sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 3});
    raise(SIGUSR2);
    raise(SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    /*
     * Linux sets up one frame per deliverable signal, lowest number first,
     * each on top of the last: the handlers start in the opposite order.
     */
    printf("handler order: %s(count %d)\n", order, seen_count);
    seen_count = 0;

    /* SIGKILL and SIGSTOP cannot be blocked. */
    sigset_t all, now;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("blocked after blocking all: SIGKILL %d, SIGSTOP %d, SIGUSR1 %d\n",
           sigismember(&now, SIGKILL), sigismember(&now, SIGSTOP), sigismember(&now, SIGUSR1));
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    GT_SYS(sigprocmask(12345, &all, NULL));
    GT_SYS(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, 16));
}

static void on_nested(int sig, siginfo_t *info, void *uc)
{
    record_order(sig);
    if (sig == SIGUSR1 && seen_count++ == 0) {
        raise(SIGUSR2);
        raise(SIGUSR1);
        record_order(100 + sig);
    }
}

/*
 * The SIGUSR1 handler raises SIGUSR2 and SIGUSR1 once; "110" marks its end.
 * Not tested: a non-empty sa_mask, which QEMU 7.2 (riscv64) ignores while
 * Linux blocks those signals during the handler.
 */
static void run_nesting(const char *what, int flags)
{
    struct sigaction sa = {.sa_sigaction = on_nested, .sa_flags = SA_SIGINFO | flags};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    install(SIGUSR2, on_nested, 0);
    order_len = 0;
    seen_count = 0;
    raise(SIGUSR1);
    printf("%s: %s\n", what, order);
}

static void test_handler_flags(void)
{
    puts("== SA_NODEFER, SA_RESETHAND");
    run_nesting("plain", 0);
    run_nesting("SA_NODEFER", SA_NODEFER);

    struct sigaction sa = {.sa_sigaction = on_nested, .sa_flags = SA_SIGINFO | SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    seen_count = 1;
    raise(SIGUSR1);
    struct sigaction now;
    sigaction(SIGUSR1, NULL, &now);
    printf("after SA_RESETHAND: %s\n", now.sa_handler == SIG_DFL ? "SIG_DFL" : "still installed");
}

static sigjmp_buf fault_jump;
static volatile uintptr_t fault_pc, fault_addr;
static volatile int fault_code, fault_sig;
static volatile uintptr_t illegal_label;
static volatile uintptr_t fault_code_address = 0x18;

static void on_fault(int sig, siginfo_t *info, void *ucv)
{
    ucontext_t *uc = ucv;
    fault_sig = sig;
    fault_code = info->si_code;
    fault_addr = (uintptr_t)info->si_addr;
    fault_pc = uc->uc_mcontext.__gregs[REG_PC];
    siglongjmp(fault_jump, 1);
}

static void test_faults(void)
{
    puts("== synchronous faults");
    install(SIGSEGV, on_fault, 0);
    install(SIGILL, on_fault, 0);
    install(SIGBUS, on_fault, 0);
    volatile int *null = NULL;
    if (!sigsetjmp(fault_jump, 1)) {
        int v = *null;
        printf("NULL read returned %d\n", v);
    } else {
        printf("NULL read: %s code %d addr %#lx\n", sigabbrev_np(fault_sig), fault_code,
               (unsigned long)fault_addr);
    }
    if (!sigsetjmp(fault_jump, 1)) {
        *(volatile int *)(uintptr_t)fault_code_address = 1;
    } else {
        printf("write to 0x18: %s code %d addr %#lx\n", sigabbrev_np(fault_sig), fault_code,
               (unsigned long)fault_addr);
    }

    /* The reported pc and address are those of the illegal instruction. */
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile(".4byte 0xffffffff");
    printf("reserved 32-bit encoding: %s code %d\n", sigabbrev_np(fault_sig), fault_code);
    if (!sigsetjmp(fault_jump, 1)) {
        uintptr_t at;
        __asm__ volatile("lla %0, 2f\n sd %0, %1\n 2: .2byte 0\n"
                         : "=&r"(at), "=m"(illegal_label));
    }
    printf("c.unimp: %s code %d, pc is the instruction %d, si_addr is the instruction %d\n",
           sigabbrev_np(fault_sig), fault_code, fault_pc == illegal_label,
           fault_addr == illegal_label);
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("wfi");
    printf("wfi in user mode: %s code %d\n", sigabbrev_np(fault_sig), fault_code);
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("mret");
    printf("mret in user mode: %s code %d\n", sigabbrev_np(fault_sig), fault_code);
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("sfence.vma");
    printf("sfence.vma in user mode: %s code %d\n", sigabbrev_np(fault_sig), fault_code);

    /* Jumping to an unmapped address faults with the target as pc and address. */
    if (!sigsetjmp(fault_jump, 1))
        ((void (*)(void))0x1000)();
    printf("call to 0x1000: %s code %d pc %#lx addr %#lx\n", sigabbrev_np(fault_sig), fault_code,
           (unsigned long)fault_pc, (unsigned long)fault_addr);
}

static volatile uint64_t trap_a1;
static volatile unsigned trap_fcsr_seen;

/*
 * SIGTRAP from ebreak: reads a1 from the saved context, replaces a0, steps
 * the pc over the breakpoint, and changes the live FP state, which the
 * return from the handler must undo.
 */
static void on_trap(int sig, siginfo_t *info, void *ucv)
{
    ucontext_t *uc = ucv;
    seen_code = info->si_code;
    trap_a1 = uc->uc_mcontext.__gregs[11];
    uc->uc_mcontext.__gregs[10] = 0x600d;
    uint16_t insn = *(uint16_t *)uc->uc_mcontext.__gregs[REG_PC];
    uc->uc_mcontext.__gregs[REG_PC] += (insn & 3) == 3 ? 4 : 2;
    trap_fcsr_seen = uc->uc_mcontext.__fpregs.__d.__fcsr;
    /* ft0 is caller-saved: only the return from the handler can restore it. */
    __asm__ volatile("fsrm %0\n fsflags %1\n fmv.d.x ft0, %2"
                     : : "r"(3L), "r"(0x1fL), "r"(-1L) : "ft0");
}

static void test_ucontext(void)
{
    puts("== ucontext");
    install(SIGTRAP, on_trap, 0);
    uint64_t a0, ft0, fcsr;
    __asm__ volatile("fscsr %3\n fmv.d.x ft0, %4\n li a0, 1\n li a1, 0xabcdef\n ebreak\n"
                     " mv %0, a0\n fmv.x.d %1, ft0\n frcsr %2\n fscsr x0"
                     : "=r"(a0), "=r"(ft0), "=r"(fcsr)
                     : "r"(0x21L), "r"(0x400921fb54442d18L)
                     : "a0", "a1", "ft0");
    printf("ebreak: code %d, handler saw a1=%#" PRIx64 " fcsr=%#x\n", seen_code, trap_a1,
           trap_fcsr_seen);
    printf("after return: a0=%#" PRIx64 " ft0=%#" PRIx64 " fcsr=%#" PRIx64 "\n", a0, ft0, fcsr);
}

static volatile sig_atomic_t alarmed;
static int restart_pipe[2];

static void on_alarm(int sig)
{
    alarmed++;
}

static void on_alarm_write(int sig)
{
    alarmed++;
    write(restart_pipe[1], "R", 1);
}

/*
 * Repeats, so that a blocking call the first expiry came too early for is
 * still interrupted by a later one.
 */
static void arm_timer_ms(int ms)
{
    struct itimerval it = {.it_value = {0, ms * 1000}, .it_interval = {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm_timer(void)
{
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
}

static void test_interruptions(void)
{
    puts("== alarm, pause, EINTR and SA_RESTART");
    signal(SIGALRM, on_alarm);
    GT_SYS(alarm(1));
    GT_SYS(alarm(1) <= 1);
    GT_SYS(pause());
    printf("alarm handled: %d\n", alarmed);
    GT_SYS(alarm(0));

    int p[2];
    pipe(p);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    alarmed = 0;
    arm_timer_ms(50);
    char c = 0;
    GT_SYS(read(p[0], &c, 1));
    disarm_timer();
    printf("without SA_RESTART: handled %s\n", alarmed ? "yes" : "NO");

    pipe(restart_pipe);
    sa.sa_handler = on_alarm_write;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarmed = 0;
    arm_timer_ms(50);
    GT_SYS(read(restart_pipe[0], &c, 1));
    disarm_timer();
    printf("with SA_RESTART: handled %s, read '%c'\n", alarmed ? "yes" : "NO", c);

    /* nanosleep is not restarted; it reports the time left. */
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    arm_timer_ms(30);
    struct timespec nap = {5, 0}, rem = {0, 0};
    GT_SYS(nanosleep(&nap, &rem));
    disarm_timer();
    GT_FACT("remaining time reported", rem.tv_sec < 5 && (rem.tv_sec > 0 || rem.tv_nsec > 0));

    /* sigsuspend waits with a temporary mask. */
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    alarmed = 0;
    arm_timer_ms(20);
    sigemptyset(&wait_mask);
    GT_SYS(sigsuspend(&wait_mask));
    disarm_timer();
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("sigsuspend: handled %s, mask restored %d\n", alarmed ? "yes" : "NO",
           sigismember(&now, SIGALRM));
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    close(p[0]);
    close(p[1]);
}

static volatile int child_code, child_status, child_pid_matches;
static volatile pid_t expected_child;

static void on_child(int sig, siginfo_t *info, void *uc)
{
    child_code = info->si_code;
    child_status = info->si_status;
    child_pid_matches = info->si_pid == expected_child;
}

static void test_sigchld(void)
{
    puts("== SIGCHLD");
    sigset_t block, empty;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, NULL);
    install(SIGCHLD, on_child, 0);
    gt_flush();
    pid_t pid = fork();
    if (pid == 0)
        _exit(3);
    expected_child = pid;
    sigemptyset(&empty);
    sigsuspend(&empty);
    printf("exited child: code %s status %d pid matches %d\n",
           child_code == CLD_EXITED ? "CLD_EXITED" : "other", child_status, child_pid_matches);
    waitpid(pid, NULL, 0);

    pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    expected_child = pid;
    kill(pid, SIGTERM);
    sigsuspend(&empty);
    printf("killed child: code %s status %s pid matches %d\n",
           child_code == CLD_KILLED ? "CLD_KILLED" : "other",
           sigabbrev_np(child_status) ? sigabbrev_np(child_status) : "?", child_pid_matches);
    waitpid(pid, NULL, 0);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    signal(SIGCHLD, SIG_DFL);
}

static volatile int on_alt_stack, alt_flags_in_handler;
static char *alt_base;
static size_t alt_size;

static void on_alt(int sig)
{
    char local;
    stack_t cur;
    on_alt_stack = &local >= alt_base && &local < alt_base + alt_size;
    sigaltstack(NULL, &cur);
    alt_flags_in_handler = cur.ss_flags;
}

static void test_sigaltstack(void)
{
    puts("== sigaltstack");
    alt_size = 64 * 1024;
    alt_base = malloc(alt_size);
    stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size}, old;
    GT_SYS(sigaltstack(&ss, &old));
    printf("previous: disabled %d\n", (old.ss_flags & SS_DISABLE) != 0);
    struct sigaction sa = {.sa_handler = on_alt, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("SA_ONSTACK handler on the alternate stack: %d, SS_ONSTACK %d\n", on_alt_stack,
           (alt_flags_in_handler & SS_ONSTACK) != 0);
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("handler without SA_ONSTACK on the alternate stack: %d\n", on_alt_stack);
    stack_t tiny = {.ss_sp = alt_base, .ss_size = 512};
    GT_SYS(sigaltstack(&tiny, NULL));
    stack_t off = {.ss_flags = SS_DISABLE};
    GT_SYS(sigaltstack(&off, NULL));
    stack_t bad = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0x7};
    GT_SYS(sigaltstack(&bad, NULL));
    free(alt_base);
}

static void test_synchronous_waits(void)
{
    puts("== signalfd, sigwaitinfo, sigtimedwait");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = GT_FD(signalfd(-1, &set, SFD_NONBLOCK));
    struct signalfd_siginfo si;
    GT_SYS(read(fd, &si, sizeof si));
    sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 99});
    if (GT_SYS(read(fd, &si, sizeof si)) == sizeof si)
        printf("  signalfd: signo %s code %d value %d pid matches %d\n", sigabbrev_np(si.ssi_signo),
               si.ssi_code, si.ssi_int, si.ssi_pid == (uint32_t)getpid());
    close(fd);

    /* kill, not raise: QEMU 7.2 reports si_code 0 here for tgkill's SI_TKILL. */
    kill(getpid(), SIGUSR2);
    siginfo_t info;
    GT_SYS(sigwaitinfo(&set, &info));
    printf("  sigwaitinfo: signo %s code %d\n", sigabbrev_np(info.si_signo), info.si_code);
    struct timespec ts = {0, 10 * 1000 * 1000};
    GT_SYS(sigtimedwait(&set, &info, &ts));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int main(void)
{
    test_senders();
    test_masks_and_pending();
    test_handler_flags();
    test_faults();
    test_ucontext();
    test_interruptions();
    test_sigchld();
    test_sigaltstack();
    test_synchronous_waits();
    return 0;
}
