/* The vCPU side of the debugger: what a vCPU actor does with the DEBUG
 * messages of the GDB server (gdbstub.h), and how its runs stop for it.
 *
 * A vCPU with a debugger attached (v->dbg set before it is spawned) runs
 * the debug variant of the interpreter, which obeys the breakpoints and
 * watchpoints in v->dbg->pts. It stops ("halts") when the server asks
 * (DBG_HALT), at a breakpoint, after the instruction that touched a watched
 * range, and after a single step; it then sends the server a DBG_STOPPED
 * and runs no guest code until a DBG_RESUME. While halted it answers
 * DBG_REGS, DBG_MEM and DBG_POINT. In user mode a fault, an illegal
 * instruction or an ebreak stops it too, reported as the signal the guest
 * would get, before the guest gets it. Everything here runs on the vCPU's loop
 * thread; the server reaches the vCPU only by messages.
 */
#ifndef VMX_DEBUG_DBG_VCPU_H
#define VMX_DEBUG_DBG_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/vcpu.h"
#include "debug/gdb_target.h"

/* Why a vCPU stopped (DBG_STOPPED.reason). */
enum {
  VMX_DBG_HALTED = 0,
  VMX_DBG_BREAKPOINT = 1,
  VMX_DBG_WATCHPOINT = 2,
  VMX_DBG_STEPPED = 3,
  VMX_DBG_SIGNAL = 4,
  VMX_DBG_EXITED = 5,
};

/* Registers go by gdb's numbers (debug/gdb_target.h): x0-x31, pc 32,
 * f0-f31 from 33, CSR n at 65 + n, priv 4161; the g set is 0..64. */
#define VMX_DBG_REG_PC 32
#define VMX_DBG_REG_F0 33

typedef struct vmx_vcpu_dbg {
  vmx_rv_dbg_t pts;       /* breakpoints and watchpoints; cpu->dbg points here */
  vmx_addr_t server;      /* the GDB server actor */
  uint32_t thread;        /* gdb's thread id for this vCPU (>= 1) */
  uint32_t epoch;         /* of the last DBG_RESUME */
  bool halted;            /* stopped for the debugger: runs no guest code */
  bool stepping;          /* the current resume is a single step */
  uint64_t saved_limit;   /* icount_limit outside a step */
  /* User mode: a fault, illegal instruction or ebreak reported to gdb as a
   * signal (gdb's number in fault_sig) and held until gdb resumes: passing
   * that signal back (C/S) delivers it, 0 discards it. */
  vmx_rv_exit_t fault_exit;
  int fault_sig;
} vmx_vcpu_dbg_t;

/* gdb's numbers of the signals a guest fault raises (the remote protocol
 * uses gdb's own numbering): SIGTRAP 5, SIGILL 4, SIGSEGV 11, SIGBUS 10. */
enum { VMX_GDB_SIGILL = 4, VMX_GDB_SIGTRAP = 5, VMX_GDB_SIGBUS = 10, VMX_GDB_SIGSEGV = 11 };

/* Attaches d to v (before vmx_vcpu_spawn): v starts halted, and its cpu
 * runs the debug interpreter from then on. */
void vmx_dbg_vcpu_attach(vmx_vcpu_t *v, vmx_vcpu_dbg_t *d, vmx_addr_t server, uint32_t thread);

/* Copies breakpoints, watchpoints and the server of a running vCPU into a
 * new one (a guest thread created by clone); the new one starts running. */
void vmx_dbg_vcpu_inherit(vmx_vcpu_dbg_t *child, const vmx_vcpu_dbg_t *parent, uint32_t thread);

/* vcpu.c: handles one DEBUG-topic message. Returns 1 when the vCPU should
 * run again (it was resumed), 0 otherwise, or a negative code. */
int vmx_dbg_vcpu_message(vmx_vcpu_t *v, vmx_actor_ctx_t *ctx, const vmx_msg_t *msg);

/* vcpu.c: looks at an exit of the debug interpreter before the owner's
 * on_exit does. Returns true when the vCPU has stopped for the debugger
 * (the slice ends), false when the owner should handle the exit. */
bool vmx_dbg_vcpu_exit(vmx_vcpu_t *v, vmx_rv_exit_t why);

/* The debug interpreter for v's cpu. */
vmx_rv_exit_t vmx_dbg_vcpu_run(vmx_rv_cpu_t *cpu);

/* Reads (write false) or writes gdb register regno of cpu as a
 * little-endian value of *size bytes (set on return: 8, or 4 for fflags,
 * frm, fcsr). Returns 0 or VMX_EINVAL (no such register here). */
int vmx_dbg_reg(vmx_rv_cpu_t *cpu, uint32_t regno, uint64_t *val, unsigned *size, bool write);

/* Copies len bytes between guest virtual address addr (as cpu sees it) and
 * buf. Never faults on the host. Returns the bytes copied (stops at the
 * first unreadable or unwritable byte). */
size_t vmx_dbg_mem(vmx_rv_cpu_t *cpu, uint64_t addr, void *buf, size_t len, bool write);

#endif
