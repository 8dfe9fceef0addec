#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static bool vmx__verbose;

static void vmx__log_v(const char *fmt, va_list ap) {
  char line[1024];
  vsnprintf(line, sizeof line, fmt, ap);
  fprintf(stderr, "vmx: %s\n", line);
}

void vmx_log_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmx__log_v(fmt, ap);
  va_end(ap);
}

void vmx_log_debug(const char *fmt, ...) {
  if (!vmx__verbose)
    return;
  va_list ap;
  va_start(ap, fmt);
  vmx__log_v(fmt, ap);
  va_end(ap);
}

void vmx_log_set_verbose(bool on) { vmx__verbose = on; }
