/* Addresses to names: a symboliser over one ELF file (a guest kernel's
 * vmlinux, a firmware or a user program), using elfutils' libdwfl. It reads
 * the ELF symbol table and, where the file has DWARF line tables, source
 * files and lines. Nothing is fetched from elsewhere: no separate debuginfo
 * files, no debuginfod.
 *
 * Thread-safety: one vmx_symbols_t may be used from several threads; calls
 * on it are serialised by a mutex inside it (libdwfl is not thread-safe).
 */
#ifndef VMX_DEBUG_SYMBOLS_H
#define VMX_DEBUG_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct vmx_symbols vmx_symbols_t;

typedef struct {
  const char *func;    /* the symbol containing addr (function or object) */
  uint64_t func_addr;  /* its start, in run-time addresses (bias added) */
  uint64_t offset;     /* addr - func_addr */
  const char *file;    /* source file from DWARF, or NULL */
  int line;            /* source line, or 0 when file is NULL */
} vmx_sym_info_t;

/* Opens the ELF file at path for lookups. bias is added to the file's
 * addresses to get run-time ones (0 for an ET_EXEC program or a kernel at its
 * link address; the load base for a PIE). On failure returns a negative
 * VMX_E* code (VMX_ENOENT: no such file; VMX_EBADELF: not an ELF file,
 * truncated, or without a symbol table; VMX_ENOMEM) and writes a message
 * naming path to err[0..errlen). The caller closes *out with
 * vmx_symbols_close. */
int vmx_symbols_open(const char *path, uint64_t bias, vmx_symbols_t **out, char *err,
                     size_t errlen);

/* Frees sym and everything lookups returned. NULL is allowed. */
void vmx_symbols_close(vmx_symbols_t *sym);

/* Fills *out for the run-time address addr. Returns 0, or VMX_ENOENT when no
 * symbol covers addr (out->func NULL). The strings stay valid until
 * vmx_symbols_close. */
int vmx_symbols_lookup(vmx_symbols_t *sym, uint64_t addr, vmx_sym_info_t *out);

/* Writes "func+0x1c (file.c:42)", "func+0x1c" without line information,
 * "func (file.c:40)" at offset 0, or "0x80200000" when no symbol covers
 * addr; file is the source file's base name. Output is NUL-terminated and
 * truncated to cap. Returns the length it would have had (like snprintf).
 * sym may be NULL (then always the hex form). */
size_t vmx_symbols_format(vmx_symbols_t *sym, uint64_t addr, char *buf, size_t cap);

#endif
