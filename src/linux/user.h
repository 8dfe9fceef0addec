/* Linux user mode: a riscv64 Linux process running on the host's kernel.
 *
 * One vmx_linux_proc_t per guest process (fork makes a host process with its
 * own copy); one vmx_linux_thread_t per guest thread, each a host thread
 * running its own vCPU (vmx_rv_cpu_t). Guest system calls are translated to
 * the host's by the table in syscalls.def; guest signal numbers and errno
 * values are the same as the x86_64 host's (both use the generic Linux
 * numbering), struct layouts are not always (stat, epoll_event, sigaction).
 *
 * Guest memory is one reserved host range (mm.h); a guest pointer is valid
 * for vmx only through vmx_linux_g2h(), which confines it to that range.
 */
#ifndef VMX_LINUX_USER_H
#define VMX_LINUX_USER_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cpu/riscv/cpu.h"
#include "linux/mm.h"
#include "linux/signal.h"

/* Options of `vmx run-user`. */
typedef struct vmx_linux_opts {
  const char *sysroot;     /* -L: prefix for the interpreter and absolute paths */
  const char *argv0;       /* -0: argv[0] for the guest (default: the program path) */
  bool strace;             /* -strace: log every system call on stderr */
  const char *trace;       /* --trace FILE: record the bus's messages (trace.h) */
  const char *trace_topics; /* --trace-topics LIST: which topics (default all) */
  unsigned gdb_port;       /* -g PORT: wait for gdb there (0: no debugger) */
  bool trace_exec;         /* --trace-exec: log every block entered */
} vmx_linux_opts_t;

/* Process-wide state. Fields are written at start-up by the main thread
 * before any other thread exists, unless a comment says otherwise. */
typedef struct vmx_linux_proc {
  vmx_linux_opts_t opts;
  vmx_linux_mm_t mm;              /* address space (own lock) */
  vmx_linux_sigproc_t sig;        /* signal actions (own lock) */
  char exe_path[PATH_MAX];        /* guest program, absolute host path */
  char host_exe[PATH_MAX];        /* vmx's own binary, for execve */
  uint64_t exe_bias;              /* the program's load address minus its link address */
  _Atomic int nthreads;           /* live guest threads */
} vmx_linux_proc_t;

/* One guest thread. Owned by its host thread; others touch only cpu.exit_request
 * and the fields signal.h marks as shared. */
typedef struct vmx_linux_thread {
  vmx_rv_cpu_t cpu;
  vmx_linux_proc_t *proc;
  pid_t tid;                      /* host tid, which the guest sees */
  uint64_t clear_child_tid;       /* guest address, 0 for none (set_tid_address) */
  uint64_t robust_list;           /* guest address (set_robust_list) */
  vmx_linux_sigthread_t sig;      /* mask, pending signals, alternate stack */
  bool exiting;                   /* set by exit(): the loop returns */
  int exit_status;
} vmx_linux_thread_t;

/* A system-call handler: a[] holds a0..a5; returns the value for a0 (a
 * negative errno on failure), or VMX_LINUX_KEEP_REGS when the handler has set
 * the registers itself (rt_sigreturn, execve failure paths...). */
typedef int64_t vmx_linux_sys_fn(vmx_linux_thread_t *t, const uint64_t a[6]);
#define VMX_LINUX_KEEP_REGS INT64_MIN

/* Entry point of `vmx run-user`: parses argv (options, PROGRAM, ARGS),
 * loads the program and runs it. Returns the exit status for the host
 * process (a guest killed by a signal kills vmx with the same signal). */
int vmx_linux_main(int argc, char **argv);

/* Runs a guest thread until it exits: executes guest code, serves system
 * calls, delivers signals. Returns when the thread has exited (exit()). */
void vmx_linux_thread_loop(vmx_linux_thread_t *t);

/* Ends the calling guest thread after vmx_linux_thread_loop() returned:
 * clear_child_tid handling, freeing t, and ending the host thread (or the
 * process, when t was the last thread). Implemented in thread.c. */
_Noreturn void vmx_linux_thread_exit(vmx_linux_thread_t *t);

/* Serves the system call in t's registers (a7 = number) and writes a0. */
void vmx_linux_syscall(vmx_linux_thread_t *t);

/* Host pointer of guest range [addr, addr+len), or NULL when it leaves the
 * guest address space (callers return -EFAULT). The host kernel still
 * reports EFAULT for unmapped pages inside the range. */
static inline void *vmx_linux_g2h(vmx_linux_thread_t *t, uint64_t addr, uint64_t len) {
  return vmx_rv_g2h(&t->cpu, addr, len);
}

/* Declarations of every implemented handler (syscalls.def). */
#define X(nr, name, owner) VMX_LINUX_SYS_DECL_##owner(name)
#define VMX_LINUX_SYS_DECL_NONE(name)
#define VMX_LINUX_SYS_DECL_FS(name) vmx_linux_sys_fn vmx_sys_##name;
#define VMX_LINUX_SYS_DECL_MM(name) vmx_linux_sys_fn vmx_sys_##name;
#define VMX_LINUX_SYS_DECL_SIG(name) vmx_linux_sys_fn vmx_sys_##name;
#define VMX_LINUX_SYS_DECL_THR(name) vmx_linux_sys_fn vmx_sys_##name;
#define VMX_LINUX_SYS_DECL_PROC(name) vmx_linux_sys_fn vmx_sys_##name;
#define VMX_LINUX_SYS_DECL_MISC(name) vmx_linux_sys_fn vmx_sys_##name;
#include "linux/syscalls.def"
#undef X

#endif
