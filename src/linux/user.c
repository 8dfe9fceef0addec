/* `vmx run-user`: process set-up and the guest thread loop. */
#include "linux/user.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "linux/elf.h"
#include "debug/trace_exec.h"
#include "linux/thread.h"

extern char **environ;

static int vmx__fetch_check(vmx_rv_cpu_t *cpu, uint64_t addr);

static void vmx__usage(FILE *out) {
  fprintf(out,
          "usage: vmx run-user [options] PROGRAM [ARGS...]\n"
          "Runs a riscv64 Linux program, translating its system calls to the host's.\n"
          "\n"
          "options:\n"
          "  -L SYSROOT   look for the ELF interpreter and absolute paths under SYSROOT\n"
          "               first (like qemu-riscv64 -L)\n"
          "  -0 ARGV0     pass ARGV0 as the program's argv[0]\n"
          "  -strace      log every system call on stderr\n"
          "  -g PORT      wait for gdb on 127.0.0.1:PORT before running (gdb-multiarch:\n"
          "               `target remote :PORT`); guest threads are gdb threads\n"
          "  --trace-exec log every block of guest code entered on stderr, as\n"
          "               function+offset (file:line) from the program's symbols\n"
          "  --stats      at exit, print the counters of the actor runtime's loops and\n"
          "               of every vCPU actor (one per guest thread) on stderr\n"
          "  --trace FILE record the bus's messages to FILE (read it with `vmx trace dump`)\n"
          "  --trace-topics LIST\n"
          "               record only these topics (comma-separated; default all)\n"
          VMX_SCHED_OPTIONS_HELP
          "  -h, --help   show this help\n");
}

/* Parses run-user options into o; returns the index of PROGRAM in argv,
 * or -1 after printing a message (status in *status). */
static int vmx__parse(int argc, char **argv, vmx_linux_opts_t *o, vmx_sched_opts_t *so,
                      bool *stats, int *status) {
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    vmx_sched_error_t serr;
    int r = vmx_sched_opts_arg(so, argc, argv, &i, &serr);
    if (r < 0) {
      vmx_log_error("run-user: %s", serr.text);
      *status = 2;
      return -1;
    }
    if (r == 1) {
      i--; /* the loop's i++ goes to the next argument */
      continue;
    }
    if (!strcmp(a, "--")) {
      i++;
      break;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      vmx__usage(stdout);
      *status = 0;
      return -1;
    } else if (!strcmp(a, "-strace")) {
      o->strace = true;
    } else if (!strcmp(a, "--trace-exec")) {
      o->trace_exec = true;
    } else if (!strcmp(a, "--stats")) {
      *stats = true;
    } else if (!strcmp(a, "--trace") && i + 1 < argc) {
      o->trace = argv[++i];
    } else if (!strcmp(a, "-g") && i + 1 < argc) {
      char *end;
      unsigned long port = strtoul(argv[++i], &end, 10);
      if (*end || port == 0 || port > 65535) {
        vmx_log_error("run-user: -g wants a TCP port (1-65535), not '%s'", argv[i]);
        *status = 2;
        return -1;
      }
      o->gdb_port = (unsigned)port;
    } else if (!strcmp(a, "--trace-topics") && i + 1 < argc) {
      o->trace_topics = argv[++i];
    } else if ((!strcmp(a, "-L") || !strcmp(a, "-0")) && i + 1 < argc) {
      if (a[1] == 'L')
        o->sysroot = argv[++i];
      else
        o->argv0 = argv[++i];
    } else {
      vmx_log_error("run-user: unknown option or missing value: %s", a);
      vmx__usage(stderr);
      *status = 2;
      return -1;
    }
  }
  if (i >= argc) {
    vmx_log_error("run-user: no program given");
    vmx__usage(stderr);
    *status = 2;
    return -1;
  }
  return i;
}

int vmx_linux_main(int argc, char **argv) {
  static vmx_linux_proc_t proc; /* lives as long as the process */
  int status = 0;
  vmx_sched_opts_t so = VMX_SCHED_OPTS_INIT;
  bool stats = false;
  int prog = vmx__parse(argc, argv, &proc.opts, &so, &stats, &status);
  if (prog < 0)
    return status;
  const char *path = argv[prog];
  if (access(path, F_OK) != 0) {
    vmx_log_error("%s: %s", path, strerror(errno));
    return 127;
  }
  if (!realpath(path, proc.exe_path)) {
    vmx_log_error("%s: %s", path, strerror(errno));
    return 127;
  }
  ssize_t n = readlink("/proc/self/exe", proc.host_exe, sizeof proc.host_exe - 1);
  if (n < 0) {
    vmx_log_error("cannot find vmx's own binary (/proc/self/exe): %s", strerror(errno));
    return 1;
  }
  proc.host_exe[n] = 0;

  vmx_sched_error_t serr;
  int err = vmx__thread_rt_init(&so, stats, proc.opts.trace, proc.opts.trace_topics, &serr);
  if (err) {
    vmx_log_error("run-user: %s", serr.text);
    return 2;
  }
  err = vmx_linux_mm_init(&proc.mm);
  if (err == 0)
    err = vmx_linux_signal_init(&proc);
  if (err) {
    vmx_log_error("cannot set up the guest process: %s", vmx_strerror(err));
    return 1;
  }
  /* The main guest thread is a vCPU actor, on a loop this thread runs. */
  vmx_linux_thread_t *t = vmx__thread_alloc_main();
  if (!t || vmx_rv_cpu_init(&t->cpu, proc.mm.base, proc.mm.limit, &proc.mm.code_gen)) {
    vmx_log_error("cannot set up the guest process: %s", vmx_strerror(VMX_ENOMEM));
    return 1;
  }
  t->proc = &proc;
  t->cpu.opaque = t;
  t->cpu.fetch_check = vmx__fetch_check;
  t->tid = vmx__thread_host_tid(t);

  char **gargv = &argv[prog];
  char *argv0 = gargv[0];
  if (proc.opts.argv0)
    gargv[0] = (char *)proc.opts.argv0;
  uint64_t pc, sp;
  err = vmx_linux_exec_load(&proc, path, argc - prog, gargv, environ, &pc, &sp);
  gargv[0] = argv0;
  if (err)
    return err == VMX_ENOENT ? 127 : 126;
  t->cpu.pc = pc;
  t->cpu.x[2] = sp;
  if (proc.opts.gdb_port) {
    char gerr[256];
    err = vmx__thread_gdb_start(proc.opts.gdb_port, proc.exe_path, proc.exe_bias, gerr, sizeof gerr);
    if (err) {
      vmx_log_error("run-user: %s", gerr);
      return 2;
    }
  }
  if (proc.opts.trace_exec)
    vmx__thread_trace_exec(vmx_trace_exec_new(proc.exe_path, proc.exe_bias));
  atomic_store(&proc.nthreads, 1);
  err = vmx__thread_start(t, proc.sig.initial_mask, NULL);
  if (err) {
    vmx_log_error("cannot start the guest's main thread: %s", vmx_strerror(err));
    return 1;
  }
  /* The guest ends the process (exit_group, its last thread's exit, or a
   * signal). If the main guest thread ends first, this thread idles in its
   * loop with every signal it may block blocked. */
  vmx__thread_run_main(t);
  return 1;
}

/* The vCPU's fetch_check hook: guest code runs only from PROT_EXEC pages. */
static int vmx__fetch_check(vmx_rv_cpu_t *cpu, uint64_t addr) {
  vmx_linux_thread_t *t = cpu->opaque;
  if (vmx_linux_mm_check(&t->proc->mm, addr, 2, PROT_EXEC))
    return 0;
  int code;
  vmx_linux_mm_fault_signal(&t->proc->mm, addr, PROT_EXEC, &code);
  return code;
}

/* Turns a vCPU exit that is not a system call into the signal a riscv64
 * Linux kernel would send for it. */
void vmx__thread_handle_exit(vmx_linux_thread_t *t, vmx_rv_exit_t why) {
  if (why == VMX_RV_EXIT_ECALL) {
    vmx_linux_syscall(t);
    return;
  }
  vmx_rv_cpu_t *cpu = &t->cpu;
  switch (why) {
  case VMX_RV_EXIT_EBREAK:
    vmx_linux_signal_sync(t, SIGTRAP, TRAP_BRKPT, cpu->pc);
    break;
  case VMX_RV_EXIT_ILLEGAL:
    vmx_linux_signal_sync(t, SIGILL, ILL_ILLOPC, cpu->pc);
    break;
  case VMX_RV_EXIT_FAULT: {
    /* The whole guest range is one PROT_NONE reservation on the host, so
     * the host's si_code cannot tell an unmapped page from a protected one
     * or from one past the end of a mapped file; the guest's mappings can. */
    static const int prot[] = {[VMX_RV_FAULT_LOAD] = PROT_READ, [VMX_RV_FAULT_STORE] = PROT_WRITE,
                               [VMX_RV_FAULT_FETCH] = PROT_EXEC};
    if (cpu->fault_kind == VMX_RV_FAULT_MISALIGNED) {
      vmx_linux_signal_sync(t, SIGBUS, BUS_ADRALN, cpu->fault_addr);
      break;
    }
    int code, sig = vmx_linux_mm_fault_signal(&t->proc->mm, cpu->fault_addr, prot[cpu->fault_kind], &code);
    vmx_linux_signal_sync(t, sig, code, cpu->fault_addr);
    break;
  }
  default:
    break;
  }
}

void vmx_linux_thread_loop(vmx_linux_thread_t *t) {
  while (!t->exiting) {
    vmx__thread_handle_exit(t, vmx_rv_cpu_run(&t->cpu));
    if (!t->exiting)
      vmx_linux_signal_deliver(t);
  }
}
