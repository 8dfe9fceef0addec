/* I/O system calls: read/write and their vector forms, pipes, splicing,
 * poll/select/epoll, eventfd and timerfd. struct iovec holds pointers and
 * is rebuilt with host ones; struct epoll_event is packed (12 bytes) on
 * x86_64 and 16 bytes on riscv64; pollfd, fd_set, timespec and itimerspec
 * are the same on both. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "linux/guest.h"

/* ---- read and write --------------------------------------------------- */

int64_t vmx_sys_read(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[1], a[2], PROT_WRITE);
  if (!buf)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_read, (int)a[0], buf, a[2]));
}

int64_t vmx_sys_write(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[1], a[2], PROT_READ);
  if (!buf)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_write, (int)a[0], buf, a[2]));
}

int64_t vmx_sys_pread64(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[1], a[2], PROT_WRITE);
  if (!buf)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_pread64, (int)a[0], buf, a[2], (off_t)a[3]));
}

int64_t vmx_sys_pwrite64(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[1], a[2], PROT_READ);
  if (!buf)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_pwrite64, (int)a[0], buf, a[2], (off_t)a[3]));
}

int64_t vmx_sys_lseek(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_lseek, (int)a[0], (off_t)a[1], (int)a[2]));
}

/* Rebuilds the guest's iovec array with host pointers, as qemu's
 * lock_iovec() does: a bad first buffer is EFAULT; a bad later one ends
 * the vector there (a short transfer). */
int vmx__iov_in(vmx_linux_thread_t *t, uint64_t addr, uint64_t cnt, int prot, struct iovec **out) {
  *out = NULL;
  if (cnt > IOV_MAX)
    return -EINVAL;
  if (cnt == 0)
    return 0;
  uint64_t *g = malloc(cnt * 16);
  struct iovec *iov = calloc(cnt, sizeof *iov);
  int r = (!g || !iov) ? -ENOMEM : vmx_linux_mm_copy_in(vmx__mm(t), g, addr, cnt * 16);
  bool bad = false;
  uint64_t total = 0;
  for (uint64_t i = 0; r == 0 && i < cnt; i++) {
    uint64_t len = g[2 * i + 1];
    if ((int64_t)len < 0) {
      r = -EINVAL;
      break;
    }
    if (len == 0 || bad)
      continue;
    iov[i].iov_base = vmx__guest_io(t, g[2 * i], len, prot);
    if (!iov[i].iov_base) {
      if (i == 0)
        r = -EFAULT;
      bad = true;
      continue;
    }
    if (len > SSIZE_MAX - total)   /* Linux's MAX_RW_COUNT-style cap */
      len = SSIZE_MAX - total;
    iov[i].iov_len = len;
    total += len;
  }
  free(g);
  if (r)
    free(iov);
  else
    *out = iov;
  return r;
}

static int64_t vec_io(vmx_linux_thread_t *t, const uint64_t a[6], long nr, bool positioned,
                      int prot) {
  struct iovec *iov;
  int r = vmx__iov_in(t, a[1], a[2], prot, &iov);
  if (r)
    return r;
  long ret = positioned ? syscall(nr, (int)a[0], iov, (int)a[2], (long)a[3], 0L)
                        : syscall(nr, (int)a[0], iov, (int)a[2]);
  int64_t res = vmx__host_ret(ret);
  free(iov);
  return res;
}

int64_t vmx_sys_readv(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vec_io(t, a, SYS_readv, false, PROT_WRITE);
}

int64_t vmx_sys_writev(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vec_io(t, a, SYS_writev, false, PROT_READ);
}

/* riscv64 passes the offset whole in a3 (a4, the high half, is unused on
 * 64-bit); x86_64's preadv takes the same (pos_l, pos_h) pair. */
int64_t vmx_sys_preadv(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vec_io(t, a, SYS_preadv, true, PROT_WRITE);
}

int64_t vmx_sys_pwritev(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vec_io(t, a, SYS_pwritev, true, PROT_READ);
}

/* ---- pipes and splicing ----------------------------------------------- */

int64_t vmx_sys_pipe2(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int fds[2];
  if (syscall(SYS_pipe2, fds, (int)a[1]))
    return -errno;
  int r = vmx_linux_mm_copy_out(vmx__mm(t), a[0], fds, sizeof fds);
  if (r) {
    close(fds[0]);
    close(fds[1]);
  }
  return r;
}

int64_t vmx_sys_sendfile(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(off, a[2], 8);
  return vmx__host_ret(syscall(SYS_sendfile, (int)a[0], (int)a[1], off, (size_t)a[3]));
}

int64_t vmx_sys_splice(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(off_in, a[1], 8);
  GUEST_BUF(off_out, a[3], 8);
  return vmx__host_ret(syscall(SYS_splice, (int)a[0], off_in, (int)a[2], off_out, (size_t)a[4],
                               (unsigned)a[5]));
}

int64_t vmx_sys_copy_file_range(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(off_in, a[1], 8);
  GUEST_BUF(off_out, a[3], 8);
  return vmx__host_ret(syscall(SYS_copy_file_range, (int)a[0], off_in, (int)a[2], off_out,
                               (size_t)a[4], (unsigned)a[5]));
}

/* ---- eventfd, timerfd ------------------------------------------------- */

int64_t vmx_sys_eventfd2(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_eventfd2, (unsigned)a[0], (int)a[1]));
}

int64_t vmx_sys_timerfd_create(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_timerfd_create, (int)a[0], (int)a[1]));
}

int64_t vmx_sys_timerfd_settime(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(new_value, a[2], 32);
  GUEST_BUF(old_value, a[3], 32);
  return vmx__host_ret(syscall(SYS_timerfd_settime, (int)a[0], (int)a[1], new_value, old_value));
}

int64_t vmx_sys_timerfd_gettime(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(cur, a[1], 32);
  return vmx__host_ret(syscall(SYS_timerfd_gettime, (int)a[0], cur));
}

/* ---- signal masks of the p* calls ------------------------------------- */

/* ppoll, pselect6 and epoll_pwait wait with the guest's temporary mask as
 * Linux does: the host call swaps the host mask atomically (signal.c keeps
 * each thread's host mask equal to its guest mask plus the signals queued
 * for delivery), and a signal that interrupts the wait is delivered with
 * the temporary mask in force, the old one restored after its handler
 * (t->sig.saved_mask, as rt_sigsuspend does). */
typedef struct sigswap {
  bool active;
  uint64_t orig;   /* the guest mask before the call */
  uint64_t host;   /* the host mask for the call */
} sigswap_t;

/* Returns 0 to make the host call (with s->host as its mask when
 * s->active), 1 when a signal is already deliverable under the new mask
 * (the call fails with EINTR without waiting), or -errno. */
static int sigswap_begin(vmx_linux_thread_t *t, uint64_t mask_addr, uint64_t size, sigswap_t *s) {
  s->active = false;
  if (mask_addr == 0)
    return 0;
  if (size != 8)
    return -EINVAL;
  uint64_t mask;
  if (vmx_linux_mm_copy_in(vmx__mm(t), &mask, mask_addr, 8))
    return -EFAULT;
  /* Block everything between the queue check and the host call, so no
   * signal lands in the queue unseen. */
  uint64_t all = ~VMX_LINUX_SIG_HOST_NEEDED;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
  s->active = true;
  s->orig = t->sig.blocked;
  t->sig.blocked = mask & ~VMX_LINUX_SIG_UNBLOCKABLE;
  if (vmx_linux_signal_queued(t) & ~t->sig.blocked)
    return 1;
  s->host = (t->sig.blocked | atomic_load_explicit(&t->sig.pending, memory_order_relaxed)) &
            ~(VMX_LINUX_SIG_UNBLOCKABLE | VMX_LINUX_SIG_HOST_NEEDED);
  return 0;
}

static int64_t sigswap_end(vmx_linux_thread_t *t, sigswap_t *s, int64_t ret) {
  if (!s->active)
    return ret;
  if (ret == -EINTR) {
    if (!t->sig.mask_saved) {
      t->sig.saved_mask = s->orig;
      t->sig.mask_saved = true;
    }
  } else {
    t->sig.blocked = s->orig;
  }
  vmx_linux_signal_sync_mask(t);
  return ret;
}

/* ---- poll and select -------------------------------------------------- */

int64_t vmx_sys_ppoll(vmx_linux_thread_t *t, const uint64_t a[6]) {
  uint64_t nfds = a[1];
  if (nfds > (1u << 20))
    return -EINVAL;
  GUEST_BUF(fds, a[0], nfds * 8);   /* struct pollfd: same on both */
  GUEST_BUF(tmo, a[2], 16);
  sigswap_t ss;
  int r = sigswap_begin(t, a[3], a[4], &ss);
  if (r < 0)
    return r;
  int64_t ret = r ? -EINTR
                  : vmx__host_ret(syscall(SYS_ppoll, fds, nfds, tmo, ss.active ? &ss.host : NULL, 8));
  return sigswap_end(t, &ss, ret);
}

int64_t vmx_sys_pselect6(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int n = (int)a[0];
  if (n < 0)
    return -EINVAL;
  uint64_t set_bytes = ((uint64_t)n + 63) / 64 * 8;
  GUEST_BUF(in, a[1], set_bytes);
  GUEST_BUF(out, a[2], set_bytes);
  GUEST_BUF(ex, a[3], set_bytes);
  GUEST_BUF(tmo, a[4], 16);
  /* a5 points at { const sigset_t *ss; size_t ss_len; } */
  uint64_t sig[2] = {0, 0};
  if (a[5] && vmx_linux_mm_copy_in(vmx__mm(t), sig, a[5], sizeof sig))
    return -EFAULT;
  sigswap_t ss;
  int r = sigswap_begin(t, sig[0], sig[1], &ss);
  if (r < 0)
    return r;
  uint64_t host_sig[2] = {(uint64_t)(uintptr_t)&ss.host, 8};
  int64_t ret = r ? -EINTR
                  : vmx__host_ret(syscall(SYS_pselect6, n, in, out, ex, tmo,
                                          ss.active ? host_sig : NULL));
  return sigswap_end(t, &ss, ret);
}

/* ---- epoll ------------------------------------------------------------ */

/* riscv64's struct epoll_event: natural alignment, 16 bytes. */
typedef struct rv_epoll_event {
  uint32_t events;
  uint32_t pad;
  uint64_t data;
} rv_epoll_event_t;

#define EPOLL_BATCH 256   /* events fetched per host call; fewer is allowed */

int64_t vmx_sys_epoll_create1(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_epoll_create1, (int)a[0]));
}

int64_t vmx_sys_epoll_ctl(vmx_linux_thread_t *t, const uint64_t a[6]) {
  struct epoll_event ev, *evp = NULL;
  if ((int)a[1] != EPOLL_CTL_DEL || a[3]) {
    rv_epoll_event_t g;
    if (vmx_linux_mm_copy_in(vmx__mm(t), &g, a[3], sizeof g))
      return -EFAULT;
    ev.events = g.events;
    ev.data.u64 = g.data;
    evp = &ev;
  }
  return vmx__host_ret(syscall(SYS_epoll_ctl, (int)a[0], (int)a[1], (int)a[2], evp));
}

/* epoll_pwait (timeout in ms) and epoll_pwait2 (struct timespec *). */
static int64_t epoll_wait_common(vmx_linux_thread_t *t, const uint64_t a[6], bool pwait2) {
  int maxevents = (int)a[2];
  if (maxevents <= 0 || maxevents > (int)(INT32_MAX / sizeof(rv_epoll_event_t)))
    return -EINVAL;
  if (!vmx_linux_g2h(t, a[1], (uint64_t)maxevents * sizeof(rv_epoll_event_t)))
    return -EFAULT;
  GUEST_BUF(tmo, pwait2 ? a[3] : 0, 16);
  int n = maxevents < EPOLL_BATCH ? maxevents : EPOLL_BATCH;
  struct epoll_event ev[EPOLL_BATCH];
  sigswap_t ss;
  int r = sigswap_begin(t, a[4], a[5], &ss);
  if (r < 0)
    return r;
  uint64_t *mask = ss.active ? &ss.host : NULL;
  long got = r ? -1
               : pwait2 ? syscall(SYS_epoll_pwait2, (int)a[0], ev, n, tmo, mask, 8)
                        : syscall(SYS_epoll_pwait, (int)a[0], ev, n, (int)a[3], mask, 8);
  int64_t ret = sigswap_end(t, &ss, r ? -EINTR : vmx__host_ret(got));
  if (ret <= 0)
    return ret;
  rv_epoll_event_t out[EPOLL_BATCH];
  for (long i = 0; i < got; i++)
    out[i] = (rv_epoll_event_t){ev[i].events, 0, ev[i].data.u64};
  r = vmx_linux_mm_copy_out(vmx__mm(t), a[1], out, (size_t)got * sizeof out[0]);
  return r ? r : ret;
}

int64_t vmx_sys_epoll_pwait(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return epoll_wait_common(t, a, false);
}

int64_t vmx_sys_epoll_pwait2(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return epoll_wait_common(t, a, true);
}
