/* Guest signals (src/linux/signal.c): the riscv64 frame a handler gets, what
 * rt_sigreturn restores, masks mirrored on the host, the alternate stack,
 * SA_* semantics, and the default action of a synchronous signal that the
 * guest cannot take. Layouts follow arch/riscv/kernel/signal.c. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "linux/user.h"

#define STACK_TOP 0x40000000ull
#define STACK_SIZE 0x10000ull
#define TRAMPOLINE 0x7000ull     /* where handlers return (not mapped: never run here) */
#define HANDLER 0x12340ull
#define FRAME_SIZE 1088u         /* sizeof(struct rt_sigframe) on riscv64 */
#define UC_OFF 128u              /* frame->uc */
#define SIGMASK_OFF (UC_OFF + 40u)
#define MCONTEXT_OFF (UC_OFF + 176u)
#define FP_OFF (MCONTEXT_OFF + 256u)
#define FCSR_OFF (FP_OFF + 256u)
#define STACK_T_OFF (UC_OFF + 16u)

typedef struct fixture {
  vmx_linux_proc_t *proc;
  vmx_linux_thread_t *t;
  uint64_t scratch;    /* guest page for syscall arguments */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  f->proc = calloc(1, sizeof *f->proc);
  assert_int_equal(vmx_linux_mm_init(&f->proc->mm), 0);
  assert_int_equal(vmx_linux_signal_init(f->proc), 0);
  vmx_linux_mm_t *mm = &f->proc->mm;
  assert_int_equal(vmx_linux_mm_map(mm, STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                   (int64_t)(STACK_TOP - STACK_SIZE));
  f->scratch = 0x20000000;
  assert_int_equal(vmx_linux_mm_map(mm, f->scratch, 4096, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                   (int64_t)f->scratch);
  f->proc->sig.trampoline = TRAMPOLINE;
  f->t = aligned_alloc(alignof(vmx_linux_thread_t), sizeof(vmx_linux_thread_t) + 64);
  memset(f->t, 0, sizeof *f->t);
  assert_int_equal(vmx_rv_cpu_init(&f->t->cpu, mm->base, mm->limit, &mm->code_gen), 0);
  f->t->cpu.opaque = f->t;
  f->t->proc = f->proc;
  f->t->tid = gettid();
  atomic_store(&f->proc->nthreads, 1);
  vmx_linux_signal_thread_start(f->t, 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  vmx_linux_signal_thread_stop(f->t);
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
  vmx_rv_cpu_close(&f->t->cpu);
  free(f->t);
  vmx_linux_mm_close(&f->proc->mm);
  free(f->proc);
  free(f);
  return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static int64_t sys(fixture_t *f, vmx_linux_sys_fn *fn, uint64_t a0, uint64_t a1, uint64_t a2,
                   uint64_t a3) {
  const uint64_t a[6] = {a0, a1, a2, a3, 0, 0};
  return fn(f->t, a);
}

static uint64_t rd64(fixture_t *f, uint64_t addr) {
  uint64_t v;
  assert_int_equal(vmx_linux_mm_copy_in(&f->proc->mm, &v, addr, 8), 0);
  return v;
}

static uint32_t rd32(fixture_t *f, uint64_t addr) {
  uint32_t v;
  assert_int_equal(vmx_linux_mm_copy_in(&f->proc->mm, &v, addr, 4), 0);
  return v;
}

static void wr(fixture_t *f, uint64_t addr, const void *p, size_t n) {
  assert_int_equal(vmx_linux_mm_copy_out(&f->proc->mm, addr, p, n), 0);
}

/* rt_sigaction(sig, {handler, flags, mask}) through the guest's memory. */
static void set_action(fixture_t *f, int sig, uint64_t handler, uint64_t flags, uint64_t mask) {
  uint64_t act[3] = {handler, flags, mask};
  wr(f, f->scratch, act, sizeof act);
  assert_int_equal(sys(f, vmx_sys_rt_sigaction, (uint64_t)sig, f->scratch, 0, 8), 0);
}

/* A recognisable register state: x[i] = i * 0x1111, f[i] = i << 32 | i. */
static void fill_regs(vmx_rv_cpu_t *c, uint64_t sp) {
  for (int i = 1; i < 32; i++)
    c->x[i] = (uint64_t)i * 0x1111;
  for (int i = 0; i < 32; i++)
    c->f[i] = (uint64_t)i << 32 | (uint64_t)i;
  c->x[2] = sp;
  c->pc = 0x10100;
  c->fflags = 0x15;
  c->frm = 3;
}

static uint64_t host_blocked(void) {
  uint64_t m = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, 8);
  return m;
}

#define BIT(sig) (1ull << ((sig) - 1))

/* ---- tests ------------------------------------------------------------- */

static void test_handler_gets_riscv64_frame(void **state) {
  fixture_t *f = *state;
  vmx_rv_cpu_t *c = &f->t->cpu;
  set_action(f, SIGILL, HANDLER, SA_SIGINFO, BIT(SIGUSR2));
  uint64_t sp = STACK_TOP - 0x108;   /* not 16-byte aligned on purpose */
  fill_regs(c, sp);
  f->t->sig.blocked = BIT(SIGHUP);
  vmx_linux_signal_sync(f->t, SIGILL, ILL_ILLOPC, 0x10100);
  vmx_linux_signal_deliver(f->t);

  uint64_t frame = c->x[2];
  assert_int_equal(frame % 16, 0);
  assert_true(frame <= sp - FRAME_SIZE && frame > sp - FRAME_SIZE - 16);
  assert_int_equal(c->pc, HANDLER);
  assert_int_equal(c->x[1], TRAMPOLINE);
  assert_int_equal(c->x[10], SIGILL);
  assert_int_equal(c->x[11], frame);
  assert_int_equal(c->x[12], frame + UC_OFF);
  /* siginfo */
  assert_int_equal(rd32(f, frame), SIGILL);
  assert_int_equal(rd32(f, frame + 8), ILL_ILLOPC);
  assert_int_equal(rd64(f, frame + 16), 0x10100);
  /* ucontext: mask before delivery, registers, FP state */
  assert_int_equal(rd64(f, frame + SIGMASK_OFF), BIT(SIGHUP));
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF), 0x10100);
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF + 8), 0x1111);          /* ra */
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF + 2 * 8), sp);          /* sp */
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF + 31 * 8), 31 * 0x1111); /* t6 */
  assert_int_equal(rd64(f, frame + FP_OFF + 7 * 8), 7ull << 32 | 7);
  assert_int_equal(rd32(f, frame + FCSR_OFF), 3 << 5 | 0x15);
  /* the handler runs with sa_mask and the signal itself blocked */
  assert_int_equal(f->t->sig.blocked, BIT(SIGHUP) | BIT(SIGUSR2) | BIT(SIGILL));
}

static void test_sigreturn_restores_registers_and_mask(void **state) {
  fixture_t *f = *state;
  vmx_rv_cpu_t *c = &f->t->cpu;
  set_action(f, SIGUSR1, HANDLER, 0, 0);
  uint64_t sp = STACK_TOP - 0x200;
  fill_regs(c, sp);
  f->t->sig.blocked = BIT(SIGHUP);
  raise(SIGUSR1);   /* the host handler queues it for the guest */
  vmx_linux_signal_deliver(f->t);
  assert_int_equal(c->pc, HANDLER);
  assert_true(host_blocked() & BIT(SIGUSR1));

  /* The handler edits its saved pc and a register, and clobbers the rest. */
  uint64_t frame = c->x[2];
  uint64_t new_pc = 0x10200, new_s0 = 0xdead;
  wr(f, frame + MCONTEXT_OFF, &new_pc, 8);
  wr(f, frame + MCONTEXT_OFF + 8 * 8, &new_s0, 8);
  memset(c->x, 0, sizeof c->x);
  memset(c->f, 0xff, sizeof c->f);
  c->fflags = 0;
  c->frm = 0;
  c->x[2] = frame;
  assert_int_equal(sys(f, vmx_sys_rt_sigreturn, 0, 0, 0, 0), VMX_LINUX_KEEP_REGS);

  assert_int_equal(c->pc, 0x10200);
  assert_int_equal(c->x[8], 0xdead);
  assert_int_equal(c->x[2], sp);
  assert_int_equal(c->x[31], 31 * 0x1111);
  assert_int_equal(c->f[31], 31ull << 32 | 31);
  assert_int_equal(c->fflags, 0x15);
  assert_int_equal(c->frm, 3);
  assert_int_equal(f->t->sig.blocked, BIT(SIGHUP));
  assert_false(host_blocked() & BIT(SIGUSR1));
}

static void test_sigreturn_with_bad_frame_is_sigsegv(void **state) {
  fixture_t *f = *state;
  f->t->cpu.x[2] = 0x1000;   /* unmapped */
  assert_int_equal(sys(f, vmx_sys_rt_sigreturn, 0, 0, 0, 0), VMX_LINUX_KEEP_REGS);
  assert_int_equal(f->t->sig.sync_sig, SIGSEGV);
  f->t->sig.sync_sig = 0;
}

static void test_host_handler_queues_siginfo(void **state) {
  fixture_t *f = *state;
  set_action(f, SIGUSR2, HANDLER, SA_SIGINFO, 0);
  fill_regs(&f->t->cpu, STACK_TOP - 0x100);
  atomic_store(&f->t->cpu.exit_request, 0);
  raise(SIGUSR2);
  assert_true(atomic_load(&f->t->cpu.exit_request));   /* the vCPU was kicked */
  vmx_linux_signal_deliver(f->t);
  uint64_t frame = f->t->cpu.x[2];
  assert_int_equal(rd32(f, frame), SIGUSR2);
  assert_int_equal((int32_t)rd32(f, frame + 8), SI_TKILL);
  assert_int_equal(rd32(f, frame + 16), getpid());   /* si_pid */
}

static void test_blocked_signal_waits_and_shows_pending(void **state) {
  fixture_t *f = *state;
  set_action(f, SIGUSR1, HANDLER, 0, 0);
  fill_regs(&f->t->cpu, STACK_TOP - 0x100);
  uint64_t set = BIT(SIGUSR1);
  wr(f, f->scratch + 64, &set, 8);
  assert_int_equal(sys(f, vmx_sys_rt_sigprocmask, SIG_BLOCK, f->scratch + 64, 0, 8), 0);
  assert_true(host_blocked() & BIT(SIGUSR1));
  raise(SIGUSR1);
  vmx_linux_signal_deliver(f->t);
  assert_int_equal(f->t->cpu.pc, 0x10100);   /* not delivered */
  assert_int_equal(sys(f, vmx_sys_rt_sigpending, f->scratch + 72, 8, 0, 0), 0);
  assert_int_equal(rd64(f, f->scratch + 72), BIT(SIGUSR1));
  assert_int_equal(sys(f, vmx_sys_rt_sigprocmask, SIG_UNBLOCK, f->scratch + 64, 0, 8), 0);
  vmx_linux_signal_deliver(f->t);
  assert_int_equal(f->t->cpu.pc, HANDLER);
}

static void test_host_mask_never_blocks_faults(void **state) {
  fixture_t *f = *state;
  uint64_t set = ~0ull;
  wr(f, f->scratch, &set, 8);
  assert_int_equal(sys(f, vmx_sys_rt_sigprocmask, SIG_SETMASK, f->scratch, f->scratch + 8, 8), 0);
  uint64_t m = host_blocked();
  assert_false(m & (BIT(SIGSEGV) | BIT(SIGBUS)));
  assert_true(m & BIT(SIGINT));
  /* the guest sees its whole mask, less SIGKILL and SIGSTOP */
  assert_int_equal(f->t->sig.blocked, ~(BIT(SIGKILL) | BIT(SIGSTOP)));
}

static void test_sigaction_checks_arguments(void **state) {
  fixture_t *f = *state;
  uint64_t act[3] = {HANDLER, 0xffffffffffffffffull, ~0ull};
  wr(f, f->scratch, act, sizeof act);
  assert_int_equal(sys(f, vmx_sys_rt_sigaction, SIGKILL, f->scratch, 0, 8), -EINVAL);
  assert_int_equal(sys(f, vmx_sys_rt_sigaction, 65, f->scratch, 0, 8), -EINVAL);
  assert_int_equal(sys(f, vmx_sys_rt_sigaction, SIGUSR1, f->scratch, 0, 4), -EINVAL);
  assert_int_equal(sys(f, vmx_sys_rt_sigaction, SIGUSR1, 0x1000, 0, 8), -EFAULT);
  /* unknown flag bits and SIGKILL/SIGSTOP in the mask are dropped */
  assert_int_equal(sys(f, vmx_sys_rt_sigaction, SIGUSR1, f->scratch, f->scratch + 64, 8), 0);
  assert_int_equal(sys(f, vmx_sys_rt_sigaction, SIGUSR1, 0, f->scratch + 64, 8), 0);
  assert_int_equal(rd64(f, f->scratch + 64), HANDLER);
  assert_int_equal(rd64(f, f->scratch + 72),
                   (uint64_t)(SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART |
                              SA_NODEFER | SA_RESETHAND | 0x800));
  assert_int_equal(rd64(f, f->scratch + 80), ~(BIT(SIGKILL) | BIT(SIGSTOP)));
  set_action(f, SIGUSR1, 0, 0, 0);
}

static void test_resethand_and_nodefer(void **state) {
  fixture_t *f = *state;
  set_action(f, SIGUSR1, HANDLER, SA_RESETHAND | SA_NODEFER, 0);
  fill_regs(&f->t->cpu, STACK_TOP - 0x100);
  raise(SIGUSR1);
  vmx_linux_signal_deliver(f->t);
  assert_int_equal(f->t->cpu.pc, HANDLER);
  assert_false(f->t->sig.blocked & BIT(SIGUSR1));
  assert_int_equal(f->proc->sig.action[SIGUSR1].handler, 0);   /* SIG_DFL again */
}

static void test_altstack_runs_onstack_handlers(void **state) {
  fixture_t *f = *state;
  vmx_rv_cpu_t *c = &f->t->cpu;
  uint64_t alt = STACK_TOP - STACK_SIZE, alt_size = 0x4000;
  uint64_t ss[3] = {alt, 0, alt_size};
  wr(f, f->scratch, ss, sizeof ss);
  c->x[2] = STACK_TOP - 0x100;
  assert_int_equal(sys(f, vmx_sys_sigaltstack, f->scratch, f->scratch + 32, 0, 0), 0);
  assert_int_equal(rd32(f, f->scratch + 32 + 8), SS_DISABLE);   /* none before */
  set_action(f, SIGUSR1, HANDLER, SA_ONSTACK, 0);
  fill_regs(c, STACK_TOP - 0x100);
  raise(SIGUSR1);
  vmx_linux_signal_deliver(f->t);
  uint64_t frame = c->x[2];
  assert_true(frame >= alt && frame + FRAME_SIZE <= alt + alt_size);
  assert_int_equal(rd64(f, frame + STACK_T_OFF), alt);   /* uc_stack */
  /* on the alternate stack: it reports SS_ONSTACK and cannot be changed */
  assert_int_equal(sys(f, vmx_sys_sigaltstack, 0, f->scratch + 32, 0, 0), 0);
  assert_int_equal(rd32(f, f->scratch + 32 + 8), SS_ONSTACK);
  assert_int_equal(sys(f, vmx_sys_sigaltstack, f->scratch, 0, 0, 0), -EPERM);
  /* too small */
  c->x[2] = STACK_TOP - 0x100;
  uint64_t small[3] = {alt, 0, 100};
  wr(f, f->scratch, small, sizeof small);
  assert_int_equal(sys(f, vmx_sys_sigaltstack, f->scratch, 0, 0, 0), -ENOMEM);
}

/* A guest system call that a signal cut short (the host handler marked it)
 * runs again after an SA_RESTART handler, and fails with EINTR otherwise. */
static void interrupted_syscall(fixture_t *f, uint64_t flags) {
  vmx_rv_cpu_t *c = &f->t->cpu;
  uint32_t ecall = 0x00000073;
  wr(f, f->scratch + 0x100, &ecall, 4);
  set_action(f, SIGUSR1, HANDLER, flags, 0);
  fill_regs(c, STACK_TOP - 0x100);
  c->pc = f->scratch + 0x104;
  c->x[10] = (uint64_t)-EINTR;
  f->t->sig.restart_a0 = 5;
  atomic_store(&f->t->sig.restart, true);
  raise(SIGUSR1);
  vmx_linux_signal_deliver(f->t);
  assert_int_equal(c->pc, HANDLER);
}

static void test_sa_restart_reruns_interrupted_syscall(void **state) {
  fixture_t *f = *state;
  interrupted_syscall(f, SA_RESTART);
  uint64_t frame = f->t->cpu.x[2];
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF), f->scratch + 0x100);   /* on the ecall */
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF + 10 * 8), 5);           /* a0 as it was */
}

static void test_no_sa_restart_returns_eintr(void **state) {
  fixture_t *f = *state;
  interrupted_syscall(f, 0);
  uint64_t frame = f->t->cpu.x[2];
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF), f->scratch + 0x104);
  assert_int_equal(rd64(f, frame + MCONTEXT_OFF + 10 * 8), (uint64_t)-EINTR);
}

static void test_blocked_sync_signal_kills_with_it(void **state) {
  fixture_t *f = *state;
  set_action(f, SIGSEGV, HANDLER, 0, 0);
  pid_t pid = fork();
  if (pid == 0) {
    f->t->sig.blocked = BIT(SIGSEGV);
    vmx_linux_signal_sync(f->t, SIGSEGV, SEGV_MAPERR, 0x10);
    vmx_linux_signal_deliver(f->t);
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGSEGV);
  assert_false(WCOREDUMP(status));
}

static void test_default_terminate_kills_with_signal(void **state) {
  fixture_t *f = *state;
  pid_t pid = fork();
  if (pid == 0) {
    vmx_linux_signal_sync(f->t, SIGTRAP, TRAP_BRKPT, 0x10100);   /* no handler */
    vmx_linux_signal_deliver(f->t);
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGTRAP);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_handler_gets_riscv64_frame, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sigreturn_restores_registers_and_mask, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sigreturn_with_bad_frame_is_sigsegv, setup, teardown),
    cmocka_unit_test_setup_teardown(test_host_handler_queues_siginfo, setup, teardown),
    cmocka_unit_test_setup_teardown(test_blocked_signal_waits_and_shows_pending, setup, teardown),
    cmocka_unit_test_setup_teardown(test_host_mask_never_blocks_faults, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sigaction_checks_arguments, setup, teardown),
    cmocka_unit_test_setup_teardown(test_resethand_and_nodefer, setup, teardown),
    cmocka_unit_test_setup_teardown(test_altstack_runs_onstack_handlers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sa_restart_reruns_interrupted_syscall, setup, teardown),
    cmocka_unit_test_setup_teardown(test_no_sa_restart_returns_eintr, setup, teardown),
    cmocka_unit_test_setup_teardown(test_blocked_sync_signal_kills_with_it, setup, teardown),
    cmocka_unit_test_setup_teardown(test_default_terminate_kills_with_signal, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
