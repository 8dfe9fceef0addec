/* vmx error codes.
 *
 * Functions that can fail return int: 0 on success or a negative VMX_E* code.
 * The list below is the one table of error codes; vmx_strerror() reads it.
 */
#ifndef VMX_BASE_ERROR_H
#define VMX_BASE_ERROR_H

#define VMX_ERRNO_MAP(X)                                              \
  X(NOMEM,    "out of memory")                                        \
  X(INVAL,    "invalid argument")                                     \
  X(IO,       "input/output error")                                   \
  X(NOENT,    "no such file or directory")                            \
  X(NOEXEC,   "not an executable for this machine")                   \
  X(BADELF,   "malformed ELF file")                                   \
  X(RANGE,    "value out of range")                                   \
  X(NOSPACE,  "no room in the guest address space")                   \
  X(FAULT,    "guest memory fault")                                   \
  X(AGAIN,    "resource temporarily unavailable")                     \
  X(NOSYS,    "not implemented")

typedef enum {
#define X(name, text) VMX__EPOS_##name,
  VMX_ERRNO_MAP(X)
#undef X
  VMX__EPOS_COUNT
} vmx__err_pos_t;

/* Negative codes: VMX_ENOMEM == -1, VMX_EINVAL == -2, ... */
enum {
  VMX_OK = 0,
#define X(name, text) VMX_E##name = -(VMX__EPOS_##name + 1),
  VMX_ERRNO_MAP(X)
#undef X
};

/* Returns a static description of err (a VMX_E* code); never NULL. */
const char *vmx_strerror(int err);

#include <stddef.h>

/* Writes the printf-style message into err[0..errlen) (nothing when err
 * is NULL or errlen 0) and returns code: `return vmx_error_set(err,
 * errlen, VMX_EINVAL, "...", ...)` for functions that report a message
 * with their error code. */
int vmx_error_set(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
