/* The system-call dispatcher, built from syscalls.def, and the MISC rows:
 * identity, time, scheduling and system information. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/log.h"
#include "linux/guest.h"

/* ---- the table -------------------------------------------------------- */

typedef struct sys_entry {
  const char *name;
  vmx_linux_sys_fn *fn;   /* NULL: not implemented */
} sys_entry_t;

#define FN_NONE(name) NULL
#define FN_FS(name) vmx_sys_##name
#define FN_MM(name) vmx_sys_##name
#define FN_SIG(name) vmx_sys_##name
#define FN_THR(name) vmx_sys_##name
#define FN_PROC(name) vmx_sys_##name
#define FN_MISC(name) vmx_sys_##name

static const sys_entry_t sys_table[] = {
#define X(nr, name, owner) [nr] = {#name, FN_##owner(name)},
#include "linux/syscalls.def"
#undef X
};
#define NSYS (sizeof sys_table / sizeof sys_table[0])

/* Numbers already reported as unsupported. Process-wide on purpose: the
 * report is a diagnostic for the person running vmx, once per number. */
#define REPORTED_MAX 4096
static _Atomic uint64_t reported[REPORTED_MAX / 64];

static void report_unsupported(uint64_t nr, const char *name) {
  if (nr < REPORTED_MAX) {
    uint64_t bit = 1ull << (nr % 64);
    /* relaxed: only the once-ness matters, nothing is published */
    if (atomic_fetch_or_explicit(&reported[nr / 64], bit, memory_order_relaxed) & bit)
      return;
  }
  if (name)
    vmx_log_error("unsupported syscall %" PRIu64 " (%s)", nr, name);
  else
    vmx_log_error("unsupported syscall %" PRIu64, nr);
}

static const char *sys_name(uint64_t nr) {
  return nr < NSYS ? sys_table[nr].name : NULL;
}

static void strace_line(vmx_linux_thread_t *t, uint64_t nr, const uint64_t a[6], bool done,
                        int64_t ret) {
  char call[256];
  const char *name = sys_name(nr);
  char unknown[32];
  if (!name) {
    snprintf(unknown, sizeof unknown, "syscall_%" PRIu64, nr);
    name = unknown;
  }
  snprintf(call, sizeof call, "%d %s(0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64
           ",0x%" PRIx64 ",0x%" PRIx64 ")", (int)t->tid, name, a[0], a[1], a[2], a[3], a[4], a[5]);
  if (!done)
    fprintf(stderr, "%s ...\n", call);
  else if (ret == VMX_LINUX_KEEP_REGS)
    fprintf(stderr, "%s = (registers set)\n", call);
  else if (ret < 0 && ret >= -4095)
    fprintf(stderr, "%s = -1 errno=%d (%s)\n", call, (int)-ret, strerror((int)-ret));
  else
    fprintf(stderr, "%s = %" PRId64 " (0x%" PRIx64 ")\n", call, ret, (uint64_t)ret);
}

void vmx_linux_syscall(vmx_linux_thread_t *t) {
  uint64_t nr = t->cpu.x[17];
  const uint64_t a[6] = {t->cpu.x[10], t->cpu.x[11], t->cpu.x[12],
                         t->cpu.x[13], t->cpu.x[14], t->cpu.x[15]};
  vmx_linux_sys_fn *fn = nr < NSYS ? sys_table[nr].fn : NULL;
  bool strace = t->proc->opts.strace;
  int64_t ret;
  if (!fn) {
    report_unsupported(nr, sys_name(nr));
    ret = -ENOSYS;
  } else {
    /* calls that may not return are logged before they run */
    if (strace && (nr == 93 || nr == 94 || nr == 221 || nr == 281))
      strace_line(t, nr, a, false, 0);
    ret = fn(t, a);
  }
  if (strace)
    strace_line(t, nr, a, true, ret);
  if (ret != VMX_LINUX_KEEP_REGS)
    t->cpu.x[10] = (uint64_t)ret;
}

/* ---- MISC: identity --------------------------------------------------- */

/* Credentials are per host thread for the raw calls; the guest's libc
 * broadcasts set*id to its threads itself (each a host thread), as it
 * does on a native kernel. */
#define SYS_PASS0(name)                                                        \
  int64_t vmx_sys_##name(vmx_linux_thread_t *t, const uint64_t a[6]) {        \
    return vmx__host_ret(syscall(SYS_##name));                                \
  }
#define SYS_PASS1(name)                                                        \
  int64_t vmx_sys_##name(vmx_linux_thread_t *t, const uint64_t a[6]) {        \
    return vmx__host_ret(syscall(SYS_##name, a[0]));                          \
  }
#define SYS_PASS2(name)                                                        \
  int64_t vmx_sys_##name(vmx_linux_thread_t *t, const uint64_t a[6]) {        \
    return vmx__host_ret(syscall(SYS_##name, a[0], a[1]));                    \
  }
#define SYS_PASS3(name)                                                        \
  int64_t vmx_sys_##name(vmx_linux_thread_t *t, const uint64_t a[6]) {        \
    return vmx__host_ret(syscall(SYS_##name, a[0], a[1], a[2]));              \
  }

SYS_PASS0(getuid)
SYS_PASS0(geteuid)
SYS_PASS0(getgid)
SYS_PASS0(getegid)
SYS_PASS1(setuid)
SYS_PASS1(setgid)
SYS_PASS2(setreuid)
SYS_PASS2(setregid)
SYS_PASS3(setresuid)
SYS_PASS3(setresgid)
SYS_PASS0(sched_yield)
SYS_PASS1(sched_getscheduler)
SYS_PASS1(sched_get_priority_max)
SYS_PASS1(sched_get_priority_min)
SYS_PASS2(getpriority)
SYS_PASS3(setpriority)
SYS_PASS1(personality)

static int64_t get_ids(vmx_linux_thread_t *t, const uint64_t a[6], long nr) {
  uint32_t ids[3];
  if (syscall(nr, &ids[0], &ids[1], &ids[2]))
    return -errno;
  for (int i = 0; i < 3; i++)
    if (vmx_linux_mm_copy_out(vmx__mm(t), a[i], &ids[i], 4))
      return -EFAULT;
  return 0;
}

int64_t vmx_sys_getresuid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return get_ids(t, a, SYS_getresuid);
}

int64_t vmx_sys_getresgid(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return get_ids(t, a, SYS_getresgid);
}

int64_t vmx_sys_getgroups(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int size = (int)a[0];
  if (size < 0)
    return -EINVAL;
  GUEST_BUF(list, size ? a[1] : 0, (uint64_t)size * 4);
  return vmx__host_ret(syscall(SYS_getgroups, size, list));
}

int64_t vmx_sys_capget(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(hdr, a[0], 8);
  GUEST_BUF(data, a[1], 24);   /* up to two __user_cap_data_struct */
  return vmx__host_ret(syscall(SYS_capget, hdr, data));
}

/* ---- MISC: time ------------------------------------------------------- */

int64_t vmx_sys_clock_gettime(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(ts, a[1], 16);
  return vmx__host_ret(syscall(SYS_clock_gettime, (clockid_t)a[0], ts));
}

int64_t vmx_sys_clock_getres(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(ts, a[1], 16);
  return vmx__host_ret(syscall(SYS_clock_getres, (clockid_t)a[0], ts));
}

int64_t vmx_sys_gettimeofday(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(tv, a[0], 16);
  GUEST_BUF(tz, a[1], 8);
  return vmx__host_ret(syscall(SYS_gettimeofday, tv, tz));
}

int64_t vmx_sys_nanosleep(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(req, a[0], 16);
  GUEST_BUF(rem, a[1], 16);
  return vmx__host_ret(syscall(SYS_nanosleep, req, rem));
}

int64_t vmx_sys_clock_nanosleep(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(req, a[2], 16);
  GUEST_BUF(rem, a[3], 16);
  return vmx__host_ret(syscall(SYS_clock_nanosleep, (clockid_t)a[0], (int)a[1], req, rem));
}

/* ---- MISC: system information ----------------------------------------- */

int64_t vmx_sys_uname(vmx_linux_thread_t *t, const uint64_t a[6]) {
  struct utsname u;   /* six 65-byte fields on both ABIs */
  if (uname(&u))
    return -errno;
  snprintf(u.machine, sizeof u.machine, "riscv64");
  return vmx_linux_mm_copy_out(vmx__mm(t), a[0], &u, sizeof u);
}

int64_t vmx_sys_sysinfo(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(info, a[0], 112);   /* struct sysinfo: same on LP64 */
  return vmx__host_ret(syscall(SYS_sysinfo, info));
}

int64_t vmx_sys_getrandom(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[0], a[1], PROT_WRITE);
  if (!buf)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_getrandom, buf, a[1], (unsigned)a[2]));
}

int64_t vmx_sys_getcpu(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(cpu, a[0], 4);
  GUEST_BUF(node, a[1], 4);
  return vmx__host_ret(syscall(SYS_getcpu, cpu, node, NULL));
}

/* riscv_hwprobe (Linux 6.4) is unknown to qemu-riscv64 7.2, which answers
 * ENOSYS; so do we, so guests take the same path (glibc falls back). */
int64_t vmx_sys_riscv_hwprobe(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return -ENOSYS;
}

/* ---- MISC: scheduling ------------------------------------------------- */

int64_t vmx_sys_sched_getparam(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(param, a[1], 4);
  return vmx__host_ret(syscall(SYS_sched_getparam, (pid_t)a[0], param));
}

/* cpu_set_t is a bit array of unsigned longs on both ABIs. */
int64_t vmx_sys_sched_getaffinity(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *mask = vmx__guest_io(t, a[2], a[1], PROT_WRITE);
  if (!mask)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_sched_getaffinity, (pid_t)a[0], a[1], mask));
}

int64_t vmx_sys_sched_setaffinity(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *mask = vmx__guest_io(t, a[2], a[1], PROT_READ);
  if (!mask)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_sched_setaffinity, (pid_t)a[0], a[1], mask));
}
