#include "base/error.h"

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
