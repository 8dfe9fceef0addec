/* --trace-exec (see trace_exec.h). */
#include "debug/trace_exec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "debug/symbols.h"

struct vmx_trace_exec {
  vmx_symbols_t *sym;
};

vmx_trace_exec_t *vmx_trace_exec_new(const char *path, uint64_t bias) {
  vmx_trace_exec_t *t = calloc(1, sizeof *t);
  if (!t || !path)
    return t;
  char err[256];
  if (vmx_symbols_open(path, bias, &t->sym, err, sizeof err))
    vmx_log_error("--trace-exec: addresses only: %s", err);
  return t;
}

/* Any vCPU thread: the symboliser locks for itself, and each line is one
 * stdio call. */
static void trace_block(void *arg, uint32_t id, uint64_t pc) {
  vmx_trace_exec_t *t = arg;
  char where[512];
  vmx_symbols_format(t->sym, pc, where, sizeof where);
  fprintf(stderr, "exec [%" PRIu32 "] 0x%016" PRIx64 " %s\n", id, pc, where);
}

void vmx_trace_exec_attach(vmx_trace_exec_t *t, vmx_rv_dbg_t *dbg, uint32_t id) {
  dbg->trace = trace_block;
  dbg->trace_arg = t;
  dbg->trace_id = id;
}
