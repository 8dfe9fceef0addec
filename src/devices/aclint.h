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
 * Deterministic time (-icount): the caller may instead pass the time of each
 * access itself (vmx_aclint_read_at, vmx_aclint_write_at: `now` in the same
 * units as io->now), when every hart has a clock of its own; the
 * vmx_aclint_vclock_* functions below are that clock, and the hart then
 * raises its own MTIP from vmx_aclint_mtimecmp and vmx_aclint_offset rather
 * than from set_mtip and host timers.
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

/* The same two at an explicit time `now` (the accessing hart's clock, in
 * io->now's units) in place of io->now. */
uint64_t vmx_aclint_read_at(vmx_aclint_t *c, uint64_t off, unsigned size, uint64_t now);
void vmx_aclint_write_at(vmx_aclint_t *c, uint64_t off, unsigned size, uint64_t val,
                         uint64_t now);

/* Re-evaluates every hart's MTIP against now(): call it when a host timer
 * armed through timer_armed expires. */
void vmx_aclint_tick(vmx_aclint_t *c);

/* The current mtime (now() + offset): what the `time` CSR reads. */
uint64_t vmx_aclint_mtime(const vmx_aclint_t *c);

/* mtime - now() (modulo 2^64): what guest writes of mtime changed. */
uint64_t vmx_aclint_offset(const vmx_aclint_t *c);

/* hart's mtimecmp (all-ones for a hart at or above nharts). */
uint64_t vmx_aclint_mtimecmp(const vmx_aclint_t *c, unsigned hart);

/* When, in now() units, mtime (now + offset) reaches cmp, seen at time now:
 * now itself when it has already (the timer is pending), else the now()
 * that makes mtime == cmp, or VMX_ACLINT_DISARMED when that lies past
 * UINT64_MAX. The same rule the device applies to MTIP; also used for
 * Sstc's stimecmp, which counts in mtime as well. */
uint64_t vmx_aclint_due(uint64_t cmp, uint64_t offset, uint64_t now);

/* ------------------------------------------------------------ -icount
 *
 * A hart's virtual clock under -icount shift=N (QEMU's meaning of N: one
 * instruction every 2^N ns of virtual time): after icount retired
 * instructions the clock reads
 *
 *   ns    = icount * 2^shift + bias_ns
 *   ticks = ns / 100            (10 MHz: the now() of read_at/write_at)
 *
 * bias_ns starts at 0 and grows only when the hart waits in wfi for a timer:
 * vmx_aclint_vclock_skip moves the clock forward to the deadline at once
 * (QEMU's sleep=off), so idle time costs no host time and every value the
 * hart sees is a function of its instruction count. */
#define VMX_ACLINT_NS_PER_TICK 100u /* 1e9 / VMX_ACLINT_FREQ_HZ */
#define VMX_ACLINT_MAX_SHIFT 10u

typedef struct vmx_aclint_vclock {
  unsigned shift;   /* 0..VMX_ACLINT_MAX_SHIFT */
  uint64_t bias_ns; /* time skipped while idle */
} vmx_aclint_vclock_t;

/* The clock in ticks after icount instructions. */
uint64_t vmx_aclint_vclock_ticks(const vmx_aclint_vclock_t *v, uint64_t icount);

/* The smallest instruction count at which the clock reads `ticks` or more
 * (0 when it already does at 0), or UINT64_MAX when never. */
uint64_t vmx_aclint_vclock_icount_at(const vmx_aclint_vclock_t *v, uint64_t ticks);

/* Moves the clock forward so that at icount it reads exactly `ticks` (ns ==
 * ticks * 100); does nothing when it reads that much already or ticks is
 * out of range. */
void vmx_aclint_vclock_skip(vmx_aclint_vclock_t *v, uint64_t icount, uint64_t ticks);

#endif
