/* Guest processes: fork (clone without CLONE_VM, vfork), execve, wait and
 * the process-identity, limit and accounting calls.
 *
 * A guest process is a host process: fork is the host's fork (the guest
 * address space is a private mapping, so the child gets a copy-on-write
 * copy; MAP_SHARED guest mappings stay shared, as they should), and guest
 * pids are host pids. execve of a riscv64 program (or of a #! script whose
 * interpreter is one) executes vmx itself on it; anything else is the
 * host's execve, so host programs run natively, as under qemu-riscv64.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <unistd.h>

#include "linux/guest.h"
#include "linux/thread.h"

#ifndef EM_RISCV
#define EM_RISCV 243
#endif

/* ---- fork ------------------------------------------------------------- */

/* Flags a fork may carry: the exit signal, the tid and TLS settings, and
 * those Linux ignores. (CLONE_VM and CLONE_VFORK together are a vfork.) */
#define CLONE_FORK_ALLOWED (CSIGNAL | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | \
                            CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_IO | CLONE_VFORK |    \
                            CLONE_VM)

/* A pipe whose write end the vfork child holds until it execs or exits
 * (close-on-exec): the parent reads it to EOF, which is how long a vfork
 * parent waits. Its fds sit high, away from the numbers the child expects
 * its own open()s to get. */
static int vfork_pipe(int fds[2]) {
  int raw[2];
  if (pipe2(raw, O_CLOEXEC))
    return -1;
  struct rlimit rl;
  int high = 256;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 64)
    high = (int)(rl.rlim_cur - 32);
  for (int i = 0; i < 2; i++) {
    fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, high);
    if (fds[i] < 0)
      fds[i] = raw[i];
    else
      close(raw[i]);
  }
  return 0;
}

/* In a vfork child (this host process), the write end its parent waits on;
 * -1 otherwise. A fork of the child must not carry it on, or the parent
 * would wait for the grandchild too. (Per host process, as a guest process
 * is one.) */
static int vmx__vfork_release_fd = -1;
static ino_t vmx__vfork_release_ino;

/* Closes the inherited vfork write end in a fork child, unless the guest
 * has already closed that fd and the number now names one of its files. */
static void vfork_release_drop(void) {
  struct stat st;
  if (vmx__vfork_release_fd >= 0 && fstat(vmx__vfork_release_fd, &st) == 0 &&
      S_ISFIFO(st.st_mode) && st.st_ino == vmx__vfork_release_ino)
    close(vmx__vfork_release_fd);
  vmx__vfork_release_fd = -1;
}

static void vfork_wait(int fd) {
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR)
      continue;   /* a signal for the guest: queued, delivered after the call */
    if (n <= 0)
      break;
  }
  close(fd);
}

/* The child side of fork: only this thread survived. */
static void fork_child(vmx_linux_thread_t *t, uint64_t flags, uint64_t newsp, uint64_t tls,
                       uint64_t ctid) {
  uint32_t tid = (uint32_t)gettid();
  t->tid = (pid_t)tid;
  atomic_store_explicit(&t->proc->nthreads, 1, memory_order_relaxed);
  vmx_linux_signal_after_fork(t);
  if (flags & CLONE_CHILD_SETTID)
    vmx_linux_mm_copy_out(vmx__mm(t), ctid, &tid, sizeof tid);
  t->clear_child_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
  if (flags & CLONE_SETTLS)
    t->cpu.x[4] = tls;
  if (newsp)
    t->cpu.x[2] = newsp;
}

/* fork(), and vfork() as a fork whose parent waits until the child has
 * exec'd or exited. The child's exit signal is always SIGCHLD. */
static int64_t process_fork(vmx_linux_thread_t *t, uint64_t flags, uint64_t newsp, uint64_t ptid,
                            uint64_t tls, uint64_t ctid) {
  vmx_linux_proc_t *p = t->proc;
  if ((flags & ~(uint64_t)CLONE_FORK_ALLOWED) ||
      ((flags & CLONE_VM) && !(flags & CLONE_VFORK)))
    return -EINVAL;
  int wait_fds[2] = {-1, -1};
  bool vfork = (flags & CLONE_VFORK) && vfork_pipe(wait_fds) == 0;
  /* No other thread may hold these across fork(), or the child would
   * inherit them locked. */
  pthread_mutex_lock(&p->mm.lock);
  pthread_mutex_lock(&p->sig.lock);
  pid_t pid = fork();
  int err = errno;
  pthread_mutex_unlock(&p->sig.lock);
  pthread_mutex_unlock(&p->mm.lock);
  if (pid == 0) {
    vfork_release_drop();
    if (vfork) {
      struct stat st;
      close(wait_fds[0]);
      if (fstat(wait_fds[1], &st) == 0) {
        vmx__vfork_release_fd = wait_fds[1];
        vmx__vfork_release_ino = st.st_ino;
      }
    }
    fork_child(t, flags, newsp, tls, ctid);
    return 0;
  }
  if (vfork)
    close(wait_fds[1]);
  if (pid < 0) {
    if (vfork)
      close(wait_fds[0]);
    return -err;
  }
  if (flags & CLONE_PARENT_SETTID) {
    uint32_t v = (uint32_t)pid;
    vmx_linux_mm_copy_out(vmx__mm(t), ptid, &v, sizeof v);
  }
  if (vfork)
    vfork_wait(wait_fds[0]);
  return pid;
}

/* riscv64 clone: (flags, newsp, parent_tidptr, tls, child_tidptr). */
int64_t vmx_sys_clone(vmx_linux_thread_t *t, const uint64_t a[6]) {
  uint64_t flags = a[0];
  if ((flags & CLONE_VM) && !(flags & CLONE_VFORK))
    return vmx__thread_clone(t, flags, a[1], a[2], a[3], a[4]);
  return process_fork(t, flags, a[1], a[2], a[3], a[4]);
}

int64_t vmx_sys_clone3(vmx_linux_thread_t *t, const uint64_t a[6]) {
  /* As in qemu 7.2: glibc falls back to clone when clone3 is ENOSYS. */
  return -ENOSYS;
}

/* ---- execve ----------------------------------------------------------- */

/* MAX_ARG_STRLEN: the longest argument or environment string. */
#define EXEC_STRING_MAX (32 * 4096)
/* Scripts may name scripts as their interpreter this deep (as Linux). */
#define EXEC_SCRIPT_DEPTH 4

/* A NULL-terminated vector of strings owned by it. */
typedef struct strvec {
  char **v;
  size_t n, cap;
} strvec_t;

static int strvec_push(strvec_t *s, const char *str) {
  if (s->n + 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **v = realloc(s->v, cap * sizeof *v);
    if (!v)
      return -ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  if (!(s->v[s->n] = strdup(str)))
    return -ENOMEM;
  s->v[++s->n] = NULL;
  return 0;
}

static void strvec_free(strvec_t *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  memset(s, 0, sizeof *s);
}

/* Reads the guest's argv or envp array at addr (NULL is an empty one). */
static int strvec_from_guest(vmx_linux_thread_t *t, uint64_t addr, char *buf, strvec_t *out) {
  if (!addr)
    return 0;
  for (uint64_t i = 0;; i++) {
    uint64_t str;
    if (i > INT_MAX / 8)
      return -E2BIG;
    if (vmx_linux_mm_copy_in(vmx__mm(t), &str, addr + 8 * i, sizeof str))
      return -EFAULT;
    if (!str)
      return 0;
    int64_t n = vmx_linux_mm_string_in(vmx__mm(t), buf, str, EXEC_STRING_MAX);
    if (n < 0)
      return n == -ENAMETOOLONG ? -E2BIG : (int)n;
    int r = strvec_push(out, buf);
    if (r)
      return r;
  }
}

/* What executes a file: vmx (a riscv64 ELF, or a script whose interpreter
 * chain ends in one) or the host kernel (everything else). */
enum { EXEC_BY_HOST = 0, EXEC_BY_VMX = 1 };

static bool elf_is_riscv64(const unsigned char *h, ssize_t n) {
  return n >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(h, ELFMAG, SELFMAG) == 0 &&
         h[EI_CLASS] == ELFCLASS64 && h[EI_DATA] == ELFDATA2LSB &&
         (h[18] | h[19] << 8) == EM_RISCV;
}

/* The interpreter path of a #! line in h[0..n), copied into interp[PATH_MAX];
 * false when h is not a script or names none. */
static bool script_interp(const unsigned char *h, ssize_t n, char *interp) {
  if (n < 2 || h[0] != '#' || h[1] != '!')
    return false;
  ssize_t i = 2, len = 0;
  while (i < n && (h[i] == ' ' || h[i] == '\t'))
    i++;
  while (i < n && h[i] != ' ' && h[i] != '\t' && h[i] != '\n' && h[i] != 0 && len < PATH_MAX - 1)
    interp[len++] = (char)h[i++];
  interp[len] = 0;
  return len > 0;
}

/* Decides who executes `path`, after the checks execve makes before it
 * reads a file: returns EXEC_BY_VMX, EXEC_BY_HOST, or -errno (ENOENT,
 * EACCES for a non-regular or non-executable file, ...). */
static int exec_probe(vmx_linux_proc_t *p, const char *path, int depth) {
  struct stat st;
  if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS))
    return -errno;
  if (stat(path, &st))
    return -errno;
  if (!S_ISREG(st.st_mode))
    return -EACCES;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return EXEC_BY_HOST;   /* execute-only: let the host kernel decide */
  unsigned char head[256];
  ssize_t n = pread(fd, head, sizeof head, 0);
  close(fd);
  if (elf_is_riscv64(head, n))
    return EXEC_BY_VMX;
  char interp[PATH_MAX], buf[PATH_MAX];
  if (depth < EXEC_SCRIPT_DEPTH && script_interp(head, n, interp)) {
    int r = exec_probe(p, vmx__path_host(p, interp, buf, true), depth + 1);
    return r == EXEC_BY_VMX ? EXEC_BY_VMX : EXEC_BY_HOST;
  }
  return EXEC_BY_HOST;
}

/* Replaces this process with `vmx run-user` on the riscv64 program `path`,
 * keeping vmx's options. Returns only on failure (-errno). */
static int exec_vmx(vmx_linux_thread_t *t, const char *path, strvec_t *argv, strvec_t *envp) {
  vmx_linux_proc_t *p = t->proc;
  strvec_t hv = {0};
  int r = strvec_push(&hv, p->host_exe);
  if (!r)
    r = strvec_push(&hv, "run-user");
  if (!r && p->opts.sysroot && !(r = strvec_push(&hv, "-L")))
    r = strvec_push(&hv, p->opts.sysroot);
  if (!r && p->opts.strace)
    r = strvec_push(&hv, "-strace");
  /* Linux runs a program given no argv with argv = {""}. */
  if (!r && !(r = strvec_push(&hv, "-0")))
    r = strvec_push(&hv, argv->n ? argv->v[0] : "");
  if (!r && !(r = strvec_push(&hv, "--")))
    r = strvec_push(&hv, path);
  for (size_t i = 1; !r && i < argv->n; i++)
    r = strvec_push(&hv, argv->v[i]);
  if (!r) {
    vmx_linux_signal_before_exec(t);
    execve(p->host_exe, hv.v, envp->v ? envp->v : (char *[]){NULL});
    r = -errno;
    vmx_linux_signal_sync_mask(t);
  }
  strvec_free(&hv);
  return r;
}

/* execveat(dirfd, path, argv, envp, flags); execve is dirfd AT_FDCWD. */
static int64_t process_exec(vmx_linux_thread_t *t, int dirfd, uint64_t path_addr, uint64_t argv_addr,
                            uint64_t envp_addr, int flags) {
  vmx_linux_proc_t *p = t->proc;
  char in[PATH_MAX], joined[PATH_MAX + 32], buf[PATH_MAX];
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
    return -EINVAL;
  int r = vmx__path_in(t, path_addr, in);
  if (r)
    return r;
  /* The file to probe, as a path from the current directory. */
  const char *path = in;
  if (in[0] == 0) {
    if (!(flags & AT_EMPTY_PATH))
      return -ENOENT;
    snprintf(joined, sizeof joined, "/proc/self/fd/%d", dirfd);
    path = joined;
  } else if (in[0] != '/' && dirfd != AT_FDCWD) {
    if ((size_t)snprintf(joined, sizeof joined, "/proc/self/fd/%d/%s", dirfd, in) >= sizeof joined)
      return -ENAMETOOLONG;
    path = joined;
  } else {
    path = vmx__path_host(p, in, buf, true);
  }
  struct stat st;
  if ((flags & AT_SYMLINK_NOFOLLOW) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
    return -ELOOP;

  strvec_t argv = {0}, envp = {0};
  char *strbuf = malloc(EXEC_STRING_MAX);
  if (!strbuf)
    return -ENOMEM;
  r = strvec_from_guest(t, argv_addr, strbuf, &argv);
  if (!r)
    r = strvec_from_guest(t, envp_addr, strbuf, &envp);
  free(strbuf);
  if (!r)
    r = exec_probe(p, path, 0);
  if (r == EXEC_BY_VMX) {
    /* A path through a (maybe close-on-exec) fd must not outlive the fd:
     * the new vmx gets the file's own path. */
    char real[PATH_MAX];
    if (path == joined && realpath(path, real))
      path = real;
    r = exec_vmx(t, path, &argv, &envp);
  } else if (r == EXEC_BY_HOST) {
    char *empty[] = {NULL};
    vmx_linux_signal_before_exec(t);
    syscall(SYS_execveat, AT_FDCWD, path, argv.v ? argv.v : empty, envp.v ? envp.v : empty, 0);
    r = -errno;
    vmx_linux_signal_sync_mask(t);
  }
  strvec_free(&argv);
  strvec_free(&envp);
  return r;
}

int64_t vmx_sys_execve(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return process_exec(t, AT_FDCWD, a[0], a[1], a[2], 0);
}

int64_t vmx_sys_execveat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return process_exec(t, (int)a[0], a[1], a[2], a[3], (int)a[4]);
}

/* ---- wait ------------------------------------------------------------- */

/* struct rusage and siginfo_t have the same layout on riscv64 and x86_64. */

int64_t vmx_sys_wait4(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *status, *ru;
  if (vmx__guest_buf(t, a[1], sizeof(int), &status) ||
      vmx__guest_buf(t, a[3], sizeof(struct rusage), &ru))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_wait4, (pid_t)a[0], status, (int)a[2], ru));
}

int64_t vmx_sys_waitid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *info, *ru;
  if (vmx__guest_buf(t, a[2], sizeof(siginfo_t), &info) ||
      vmx__guest_buf(t, a[4], sizeof(struct rusage), &ru))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_waitid, (int)a[0], (pid_t)a[1], info, (int)a[3], ru));
}

/* ---- identity ---------------------------------------------------------- */

int64_t vmx_sys_getpid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return getpid();
}

int64_t vmx_sys_getppid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return getppid();
}

int64_t vmx_sys_getpgid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_getpgid, (pid_t)a[0]));
}

int64_t vmx_sys_setpgid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_setpgid, (pid_t)a[0], (pid_t)a[1]));
}

int64_t vmx_sys_getsid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_getsid, (pid_t)a[0]));
}

int64_t vmx_sys_setsid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_setsid));
}

/* ---- limits and accounting -------------------------------------------- */

/* struct rlimit, struct rusage and struct tms: the same on both sides. */

int64_t vmx_sys_getrlimit(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *rl;
  if (vmx__guest_buf(t, a[1], sizeof(struct rlimit), &rl))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_getrlimit, (int)a[0], rl));
}

int64_t vmx_sys_setrlimit(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *rl;
  if (vmx__guest_buf(t, a[1], sizeof(struct rlimit), &rl))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_setrlimit, (int)a[0], rl));
}

int64_t vmx_sys_prlimit64(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *nl, *ol;
  if (vmx__guest_buf(t, a[2], sizeof(struct rlimit), &nl) ||
      vmx__guest_buf(t, a[3], sizeof(struct rlimit), &ol))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_prlimit64, (pid_t)a[0], (int)a[1], nl, ol));
}

int64_t vmx_sys_getrusage(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *ru;
  if (vmx__guest_buf(t, a[1], sizeof(struct rusage), &ru))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_getrusage, (int)a[0], ru));
}

int64_t vmx_sys_times(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf;
  if (vmx__guest_buf(t, a[0], sizeof(struct tms), &buf))
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_times, buf));
}

/* ---- prctl ------------------------------------------------------------ */

/* Options whose arguments are plain integers and whose effect on vmx is the
 * effect the guest asked for: passed to the host as they are. */
static bool prctl_passes(int option) {
  switch (option) {
  case PR_SET_PDEATHSIG:
  case PR_GET_DUMPABLE:
  case PR_SET_DUMPABLE:
  case PR_GET_KEEPCAPS:
  case PR_SET_KEEPCAPS:
  case PR_GET_TIMERSLACK:
  case PR_SET_TIMERSLACK:
  case PR_CAPBSET_READ:
  case PR_SET_CHILD_SUBREAPER:
  case PR_GET_NO_NEW_PRIVS:
  case PR_SET_NO_NEW_PRIVS:
  case PR_GET_THP_DISABLE:
  case PR_SET_THP_DISABLE:
    return true;
  default:
    return false;
  }
}

int64_t vmx_sys_prctl(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int option = (int)a[0];
  char name[16];
  void *out;
  switch (option) {
  case PR_SET_NAME: {
    /* The kernel copies 16 bytes and terminates them. */
    int64_t n = vmx_linux_mm_string_in(vmx__mm(t), name, a[1], sizeof name);
    if (n == -EFAULT)
      return -EFAULT;
    name[sizeof name - 1] = 0;
    return vmx__host_ret(prctl(PR_SET_NAME, name));
  }
  case PR_GET_NAME:
    if (prctl(PR_GET_NAME, name))
      return -errno;
    return vmx_linux_mm_copy_out(vmx__mm(t), a[1], name, sizeof name);
  case PR_GET_PDEATHSIG:
  case PR_GET_CHILD_SUBREAPER:
    if (vmx__guest_buf(t, a[1], sizeof(int), &out))
      return -EFAULT;
    return vmx__host_ret(prctl(option, out));
  case PR_GET_TID_ADDRESS:
    return vmx_linux_mm_copy_out(vmx__mm(t), a[1], &t->clear_child_tid, sizeof t->clear_child_tid);
  default:
    if (prctl_passes(option))
      return vmx__host_ret(prctl(option, a[1], a[2], a[3], a[4]));
    return -EINVAL;
  }
}
