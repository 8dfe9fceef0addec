#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const vmx__err_text[] = {
#define X(name, text) text,
  VMX_ERRNO_MAP(X)
#undef X
};

const char *vmx_strerror(int err) {
  if (err == 0)
    return "success";
  unsigned pos = (unsigned)(-err - 1);
  if (err > 0 || pos >= sizeof vmx__err_text / sizeof vmx__err_text[0])
    return "unknown error";
  return vmx__err_text[pos];
}

int vmx_error_set(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}
