/* Guest threads: clone() of a thread, exit, futex and the thread-identity
 * calls. Each guest thread runs on its own host thread; its tid is the host
 * tid, so tgkill and PI futexes need no translation. */
#include "linux/thread.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <semaphore.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linux/guest.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* The host stack of a guest thread: vmx's own frames only (the guest's
 * stack is guest memory), committed lazily by the host kernel. */
#define THREAD_HOST_STACK (1u << 20)

/* The flags a thread clone must have, and those it may have besides
 * (the set qemu accepts: glibc's pthread_create uses these). */
#define CLONE_THREAD_NEEDED (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
                             CLONE_SYSVSEM)
#define CLONE_THREAD_ALLOWED (CLONE_THREAD_NEEDED | CSIGNAL | CLONE_SETTLS | CLONE_PARENT_SETTID | \
                              CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PARENT |     \
                              CLONE_DETACHED | CLONE_IO)

/* Hand-over from the cloning thread to the new one. */
typedef struct thread_boot {
  vmx_linux_thread_t *t;
  uint64_t flags, ptid, ctid;
  pid_t tid;        /* written by the new thread before it posts `started` */
  sem_t started;
} thread_boot_t;

static void *thread_main(void *arg) {
  thread_boot_t *boot = arg;
  vmx_linux_thread_t *t = boot->t;
  vmx_linux_mm_t *mm = vmx__mm(t);
  uint32_t tid = (uint32_t)gettid();
  t->tid = (pid_t)tid;
  boot->tid = t->tid;
  /* Both tids are written before either thread runs guest code, as Linux
   * does (a bad address is ignored, as there). */
  if (boot->flags & CLONE_PARENT_SETTID)
    vmx_linux_mm_copy_out(mm, boot->ptid, &tid, sizeof tid);
  if (boot->flags & CLONE_CHILD_SETTID)
    vmx_linux_mm_copy_out(mm, boot->ctid, &tid, sizeof tid);
  sem_post(&boot->started);   /* boot is the parent's again from here */
  vmx_linux_signal_thread_start(t, t->sig.blocked);
  vmx_linux_thread_loop(t);
  vmx_linux_thread_exit(t);
}

/* A zeroed thread with a vCPU copied from parent's; NULL when out of memory. */
static vmx_linux_thread_t *thread_new(vmx_linux_thread_t *parent) {
  size_t align = alignof(vmx_linux_thread_t);
  size_t size = (sizeof(vmx_linux_thread_t) + align - 1) / align * align;
  vmx_linux_thread_t *t = aligned_alloc(align, size);
  if (!t)
    return NULL;
  memset(t, 0, sizeof *t);
  vmx_rv_cpu_t *c = &parent->cpu;
  if (vmx_rv_cpu_init(&t->cpu, c->mem_base, c->mem_limit, c->code_gen)) {
    free(t);
    return NULL;
  }
  vmx_rv_cpu_copy_state(&t->cpu, c);
  t->cpu.opaque = t;
  t->proc = parent->proc;
  return t;
}

int64_t vmx__thread_clone(vmx_linux_thread_t *t, uint64_t flags, uint64_t newsp, uint64_t ptid,
                          uint64_t tls, uint64_t ctid) {
  if ((flags & CLONE_THREAD_NEEDED) != CLONE_THREAD_NEEDED || (flags & ~(uint64_t)CLONE_THREAD_ALLOWED))
    return -EINVAL;
  vmx_linux_thread_t *n = thread_new(t);
  if (!n)
    return -ENOMEM;
  n->cpu.x[10] = 0;
  if (newsp)
    n->cpu.x[2] = newsp;
  if (flags & CLONE_SETTLS)
    n->cpu.x[4] = tls;
  n->clear_child_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
  n->sig.blocked = t->sig.blocked;   /* the alternate stack is not inherited */

  thread_boot_t boot = {.t = n, .flags = flags, .ptid = ptid, .ctid = ctid};
  sem_init(&boot.started, 0, 0);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, THREAD_HOST_STACK);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  atomic_fetch_add_explicit(&t->proc->nthreads, 1, memory_order_relaxed);
  /* The new host thread starts with every signal blocked, until it is
   * bound to n and takes n's mask. */
  vmx_linux_signal_block_all();
  pthread_t host;
  int err = pthread_create(&host, &attr, thread_main, &boot);
  vmx_linux_signal_sync_mask(t);
  pthread_attr_destroy(&attr);
  if (err) {
    atomic_fetch_sub_explicit(&t->proc->nthreads, 1, memory_order_relaxed);
    vmx_rv_cpu_close(&n->cpu);
    free(n);
    sem_destroy(&boot.started);
    return -EAGAIN;
  }
  while (sem_wait(&boot.started) != 0 && errno == EINTR) {
  }
  sem_destroy(&boot.started);
  return boot.tid;
}

_Noreturn void vmx_linux_thread_exit(vmx_linux_thread_t *t) {
  vmx_linux_signal_thread_stop(t);
  vmx_rv_cpu_close(&t->cpu);
  free(t);
  pthread_exit(NULL);
}

int64_t vmx_sys_exit(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int status = (int)a[0];
  /* The last thread to exit ends the process with its status. */
  if (atomic_fetch_sub_explicit(&t->proc->nthreads, 1, memory_order_acq_rel) == 1)
    syscall(SYS_exit_group, status);
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
