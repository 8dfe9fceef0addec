/* Diagnostics on stderr, prefixed "vmx: ". Thread-safe (one fprintf per call). */
#ifndef VMX_BASE_LOG_H
#define VMX_BASE_LOG_H

#include <stdbool.h>

/* Prints "vmx: <message>\n" on stderr. */
void vmx_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like vmx_log_error but only when verbose logging is on (vmx -v, VMX_VERBOSE=1). */
void vmx_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Turns debug logging on or off for the whole process. */
void vmx_log_set_verbose(bool on);

#endif
