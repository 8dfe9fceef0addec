/* --trace-exec: one line on stderr for every block of guest code a vCPU
 * enters, with its address as a function, offset and source line when the
 * guest's ELF has symbols and DWARF line tables:
 *
 *   exec [TID] 0x0000000000010640 square (prog.c:4)
 *
 * TID is the guest thread (user mode) or the hart (system mode). Blocks
 * run by the debug variant of the interpreter (cpu.h: vmx_rv_dbg_t.trace),
 * so tracing slows the guest down a great deal. */
#ifndef VMX_DEBUG_TRACE_EXEC_H
#define VMX_DEBUG_TRACE_EXEC_H

#include <stdint.h>

#include "cpu/riscv/cpu.h"

typedef struct vmx_trace_exec vmx_trace_exec_t;

/* A tracer symbolising with the ELF file at path (its addresses plus bias),
 * or by address only when path is NULL or has no symbols (a note on stderr
 * says so). NULL when out of memory. */
vmx_trace_exec_t *vmx_trace_exec_new(const char *path, uint64_t bias);

/* Makes dbg report to t as guest thread or hart id. */
void vmx_trace_exec_attach(vmx_trace_exec_t *t, vmx_rv_dbg_t *dbg, uint32_t id);

#endif
