/* The CLINT of the riscv `virt` machine (0x2000000, 0x10000 bytes), as QEMU
 * 7.2 builds it from hw/intc/riscv_aclint.c: an ACLINT MSWI (machine
 * software interrupts) followed by an ACLINT MTIMER (machine timer).
 *
 *   0x0000 + 4*hart   msip: bit 0 is hart's MSIP (32-bit accesses)
 *   0x4000 + 8*hart   mtimecmp of hart (64-bit, or 32-bit low/high halves)
 *   0xbff8            mtime (64-bit, or 32-bit low/high halves); writable
 *
 * Accesses of other sizes, unaligned ones, and offsets that name no
 * register (or a hart at or above nharts) read 0 and are ignored.
 *
 * Time: mtime = now() + offset, where now() is the caller's host-derived
 * count at 10 MHz (VMX_ACLINT_FREQ_HZ) and offset is 0 - now() at init (so
 * mtime starts at 0, as on QEMU reset) and changes when the guest writes
 * mtime. MTIP of a hart is high exactly while mtime >= mtimecmp. The device
 * needs no timer of its own: it tells the caller, through timer_armed, when
 * (in now() units) the next MTIP of each hart falls due, and the caller
 * calls vmx_aclint_tick when a host timer expires.
 *
 * mtimecmp starts at all-ones (the ACLINT spec leaves it unknown at reset;
 * all-ones means no timer interrupt is pending at boot) and msip at 0.
 *
 * Thread-safety: none; the owner serialises every call. Callbacks run
 * synchronously inside the call that caused them.
 */
#ifndef VMX_DEVICES_ACLINT_H
#define VMX_DEVICES_ACLINT_H

#include <stdbool.h>
#include <stdint.h>

#define VMX_ACLINT_SIZE 0x10000u
#define VMX_ACLINT_MAX_HARTS 64u
#define VMX_ACLINT_FREQ_HZ 10000000u /* virt's timebase-frequency */
#define VMX_ACLINT_MSIP_BASE 0x0u
#define VMX_ACLINT_MTIMECMP_BASE 0x4000u
#define VMX_ACLINT_MTIME 0xbff8u
#define VMX_ACLINT_DISARMED UINT64_MAX /* timer_armed's "no deadline" */

/* What the CLINT needs from and does to the outside. now is required; the
 * others may be NULL. */
typedef struct vmx_aclint_io {
  /* Host-derived ticks at VMX_ACLINT_FREQ_HZ; must not go backwards. */
  uint64_t (*now)(void *arg);
  /* hart's MSIP changed level. */
  void (*set_msip)(void *arg, unsigned hart, bool level);
  /* hart's MTIP changed level. */
  void (*set_mtip)(void *arg, unsigned hart, bool level);
  /* hart's next MTIP is due when now() reaches deadline; VMX_ACLINT_DISARMED
   * cancels (MTIP is already high, or the deadline lies past UINT64_MAX).
   * Called when a hart's deadline changes, and again from vmx_aclint_tick
   * for each hart still waiting (so a host timer that fired early is
   * re-armed). The caller keeps at most one host timer per hart armed. */
  void (*timer_armed)(void *arg, unsigned hart, uint64_t deadline);
  void *arg;
} vmx_aclint_io_t;

/* The device state; the caller allocates it and treats it as opaque. */
typedef struct vmx_aclint {
  vmx_aclint_io_t io;
  unsigned nharts;
  uint64_t offset; /* mtime - now(), modulo 2^64 */
  uint64_t mtimecmp[VMX_ACLINT_MAX_HARTS];
  uint64_t deadline[VMX_ACLINT_MAX_HARTS]; /* last told through timer_armed */
  bool msip[VMX_ACLINT_MAX_HARTS];
  bool mtip[VMX_ACLINT_MAX_HARTS];
} vmx_aclint_t;

/* Puts c in its reset state for nharts harts (mtime 0, msip 0, mtimecmp
 * all-ones, every line low, no deadline) and keeps a copy of *io. Calls
 * io->now once and no other callback. Returns 0, or VMX_EINVAL when nharts
 * is 0 or above VMX_ACLINT_MAX_HARTS or io->now is missing (c untouched). */
int vmx_aclint_init(vmx_aclint_t *c, unsigned nharts, const vmx_aclint_io_t *io);

/* A guest read of size bytes at off. */
uint64_t vmx_aclint_read(vmx_aclint_t *c, uint64_t off, unsigned size);

/* A guest write of size bytes at off. A write to mtimecmp or mtime
 * re-evaluates MTIP (and the deadline) of the harts it affects. */
void vmx_aclint_write(vmx_aclint_t *c, uint64_t off, unsigned size, uint64_t val);

/* Re-evaluates every hart's MTIP against now(): call it when a host timer
 * armed through timer_armed expires. */
void vmx_aclint_tick(vmx_aclint_t *c);

/* The current mtime (now() + offset): what the `time` CSR reads. */
uint64_t vmx_aclint_mtime(const vmx_aclint_t *c);

#endif
