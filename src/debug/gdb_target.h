/* The riscv64 target description vmx gives gdb, and the register numbering
 * that goes with it.
 *
 * Numbering follows gdb's own (riscv-tdep.h) and QEMU's, so gdb's p/P
 * numbers are its internal ones:
 *
 *   0..31    x0..x31 (zero, ra, sp, ... t6)      org.gnu.gdb.riscv.cpu
 *   32       pc                                   org.gnu.gdb.riscv.cpu
 *   33..64   f0..f31 (ft0 ... ft11), 64-bit       org.gnu.gdb.riscv.fpu
 *   66..68   fflags, frm, fcsr (65 + CSR number),  org.gnu.gdb.riscv.fpu
 *            32-bit, as in gdb's 64bit-fpu.xml
 *   65 + n   CSR n, system mode only              org.gnu.gdb.riscv.csr
 *   4161     priv (privilege level 0/1/3),        org.gnu.gdb.riscv.virtual
 *            system mode only
 *
 * The 'g' packet carries registers 0..64 (VMX_GDB_G_REGS of 8 bytes each, in
 * number order); gdb reads the others with 'p' once it sees a shorter 'g'.
 * User mode describes cpu + fpu only.
 */
#ifndef VMX_DEBUG_GDB_TARGET_H
#define VMX_DEBUG_GDB_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMX_GDB_G_REGS 65       /* x0..x31, pc, f0..f31 */
#define VMX_GDB_REGNUM_CSR0 65  /* gdb number of CSR 0 */
#define VMX_GDB_REGNUM_PRIV 4161

typedef enum {
  VMX_GDB_REG_GPR,  /* index: x register 0..31 */
  VMX_GDB_REG_PC,
  VMX_GDB_REG_FPR,  /* index: f register 0..31 (NaN-boxed 64-bit value) */
  VMX_GDB_REG_FCSR, /* index: CSR number 1 fflags, 2 frm, 3 fcsr (both modes) */
  VMX_GDB_REG_CSR,  /* index: CSR number (system mode) */
  VMX_GDB_REG_PRIV, /* the hart's privilege level (system mode) */
} vmx_gdb_reg_kind_t;

typedef struct {
  vmx_gdb_reg_kind_t kind;
  uint16_t index;
  uint8_t size;     /* bytes on the wire: 8, or 4 for fflags/frm/fcsr */
  const char *name; /* the name in the target description */
} vmx_gdb_reg_t;

/* The whole target description (one document, no includes: answer it for
 * the annex "target.xml"), for system mode (cpu, fpu, csr, virtual) or user
 * mode (cpu, fpu). A static string built on first use (thread-safe); *len
 * receives its length if len is not NULL. */
const char *vmx_gdb_target_xml(bool system, size_t *len);

/* The register with gdb number regnum in the given mode, or NULL if that
 * mode's description has none (the server answers "E01" to p/P for it). */
const vmx_gdb_reg_t *vmx_gdb_target_reg(bool system, unsigned regnum);

#endif
