/* The device manager of the `virt` machine: the registry of device types
 * that `-device` names, the `-drive` and `-netdev` back ends they refer
 * to, and the eight virtio-mmio slots (QEMU's layout: 0x10001000 + 0x1000*i,
 * PLIC source 1 + i; the device tree always describes all eight, and an
 * empty slot answers as QEMU's does, device id 0).
 *
 * Two phases:
 *  - configuration, on the main thread before the guest starts: add the
 *    options, then vmx_devmgr_prepare checks them, opens disk images and
 *    gives each device its slot (the first device gets the highest slot,
 *    as on QEMU, so guests name disks alike) — every mistake is reported
 *    here, before anything runs;
 *  - running, on the device loop's thread only: vmx_devmgr_start builds the
 *    devices, register accesses go to vmx_devmgr_read/write, and
 *    vmx_devmgr_stop tears them down.
 */
#ifndef VMX_MACHINE_DEVICES_H
#define VMX_MACHINE_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "devices/virtio.h"

#define VMX_DEVMGR_SLOTS 8
#define VMX_DEVMGR_BASE 0x10001000u
#define VMX_DEVMGR_STRIDE 0x1000u
#define VMX_DEVMGR_IRQ0 1u

typedef struct vmx_devmgr vmx_devmgr_t;

/* What the devices do to the machine (device loop thread). */
typedef struct vmx_devmgr_io {
  void (*irq)(void *arg, unsigned line, bool level);            /* a PLIC source */
  void (*console)(void *arg, const uint8_t *buf, size_t n);     /* virtio-console output */
  void (*console_ready)(void *arg); /* virtio-console may take input now */
  void *arg;
} vmx_devmgr_io_t;

vmx_devmgr_t *vmx_devmgr_new(void);
/* Frees everything (after vmx_devmgr_stop, or if it never started). */
void vmx_devmgr_free(vmx_devmgr_t *dm);

/* One -drive, -netdev or -device option. Return 0, or VMX_EINVAL with a
 * message in err. `-device help` is the caller's (vmx_devmgr_help). */
int vmx_devmgr_add_drive(vmx_devmgr_t *dm, const char *spec, char *err, size_t errlen);
int vmx_devmgr_add_netdev(vmx_devmgr_t *dm, const char *spec, char *err, size_t errlen);
int vmx_devmgr_add_device(vmx_devmgr_t *dm, const char *spec, char *err, size_t errlen);

/* Lists the device types and their options (`-device help`). */
void vmx_devmgr_help(FILE *out);

/* Resolves drive= and netdev= references, opens the disk images, checks
 * the network options and assigns slots. 0 or an error with err set. */
int vmx_devmgr_prepare(vmx_devmgr_t *dm, char *err, size_t errlen);

/* Device loop thread: builds the devices over guest RAM. */
int vmx_devmgr_start(vmx_devmgr_t *dm, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                     const vmx_devmgr_io_t *io, char *err, size_t errlen);
/* Device loop thread: ends every device (disk I/O in flight completes,
 * and disks are flushed). */
void vmx_devmgr_stop(vmx_devmgr_t *dm);

/* A register access at off from VMX_DEVMGR_BASE (all eight slots). */
uint64_t vmx_devmgr_read(vmx_devmgr_t *dm, uint64_t off, unsigned size);
void vmx_devmgr_write(vmx_devmgr_t *dm, uint64_t off, unsigned size, uint64_t val);

/* The monitor's `info devices` (one line per device) into buf. */
size_t vmx_devmgr_info(vmx_devmgr_t *dm, char *buf, size_t cap);
/* The monitor's `screendump FILE`: the first virtio-gpu's screen as PNG. */
int vmx_devmgr_screendump(vmx_devmgr_t *dm, const char *path, char *err, size_t errlen);
/* Host console input for the virtio console: returns how many bytes it
 * took (0 while its driver has no buffer posted, or without one). */
size_t vmx_devmgr_console_in(vmx_devmgr_t *dm, const uint8_t *buf, size_t n);
/* Whether a virtio console is configured (any thread, after prepare). */
bool vmx_devmgr_has_console(const vmx_devmgr_t *dm);

#endif
