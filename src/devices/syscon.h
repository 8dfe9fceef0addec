/* The test finisher of the riscv `virt` machine (0x100000, 0x1000 bytes):
 * QEMU 7.2's hw/misc/sifive_test.c, which virt's device tree also names as
 * the "syscon" regmap of its syscon-poweroff (value 0x5555) and
 * syscon-reboot (value 0x7777) nodes.
 *
 * A 16- or 32-bit write to offset 0 (OpenSBI writes 16 bits, Linux's
 * syscon drivers 32) acts on its low 16 bits:
 *   0x5555  pass: power off, exit code 0
 *   0x3333  fail: power off, exit code = bits 31:16 of the value
 *   0x7777  reset
 * and any other value, offset or size does nothing. Reads return 0.
 *
 * Thread-safety: none; the owner serialises every call. io.event runs
 * synchronously inside vmx_syscon_write.
 */
#ifndef VMX_DEVICES_SYSCON_H
#define VMX_DEVICES_SYSCON_H

#include <stdint.h>

#define VMX_SYSCON_SIZE 0x1000u

typedef enum vmx_syscon_event {
  VMX_SYSCON_POWEROFF, /* the machine stops; code is the exit status */
  VMX_SYSCON_RESET,    /* the machine resets; code is 0 */
} vmx_syscon_event_t;

/* What the finisher does to the outside. event may be NULL. */
typedef struct vmx_syscon_io {
  void (*event)(void *arg, vmx_syscon_event_t ev, int code);
  void *arg;
} vmx_syscon_io_t;

/* The device state; the caller allocates it and treats it as opaque. */
typedef struct vmx_syscon {
  vmx_syscon_io_t io;
} vmx_syscon_t;

/* Keeps a copy of *io (io may be NULL). */
void vmx_syscon_init(vmx_syscon_t *s, const vmx_syscon_io_t *io);

/* A guest read: always 0. */
uint64_t vmx_syscon_read(vmx_syscon_t *s, uint64_t off, unsigned size);

/* A guest write; may call io.event (see above). */
void vmx_syscon_write(vmx_syscon_t *s, uint64_t off, unsigned size, uint64_t val);

#endif
