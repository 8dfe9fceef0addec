/* virtio-console (virtio 1.2, 5.3) without multiport: device id 3, queue 0
 * the receiveq (host to guest), queue 1 the transmitq (guest to host).
 *
 * Model choices:
 *   - Offers VIRTIO_CONSOLE_F_SIZE (80 columns, 25 rows in config space) and
 *     VIRTIO_CONSOLE_F_EMERG_WRITE (a 4-byte write at config offset 8 sends
 *     its low byte out at once, even before the queues are set up).
 *   - Transmitted bytes go to cio.tx as each chain is taken; the chain is
 *     returned at once.
 *   - Host input is written straight into the guest's receive buffers:
 *     vmx_virtio_console_rx returns how many bytes found a buffer, and the
 *     caller keeps the rest. When the guest adds receive buffers (or becomes
 *     ready), cio.rx_ready is called so the caller can try again. Nothing is
 *     queued inside the device, so a reset loses nothing the host still has.
 *
 * Thread-safety: none; the device loop's thread owns it, as the transport.
 */
#ifndef VMX_DEVICES_VIRTIO_CONSOLE_H
#define VMX_DEVICES_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"

#define VMX_VIRTIO_CONSOLE_F_SIZE 0
#define VMX_VIRTIO_CONSOLE_F_EMERG_WRITE 2
#define VMX_VIRTIO_CONSOLE_QUEUE_MAX 128u
#define VMX_VIRTIO_CONSOLE_COLS 80u
#define VMX_VIRTIO_CONSOLE_ROWS 25u

/* What the console does to the outside (besides the transport's io). Any
 * pointer may be NULL. */
typedef struct vmx_virtio_console_io {
  void (*tx)(void *arg, const uint8_t *buf, size_t n); /* the guest wrote bytes */
  void (*rx_ready)(void *arg); /* receive buffers may have become available */
  void *arg;
} vmx_virtio_console_io_t;

/* Makes d a virtio-console device over ram with transport io and console
 * cio. Returns 0, or VMX_ENOMEM (with a message in err). Undo with
 * vmx_virtio_console_destroy. */
int vmx_virtio_console_create(vmx_virtio_dev_t *d, const vmx_guest_ram_t *ram,
                              const vmx_virtio_io_t *io, const vmx_virtio_console_io_t *cio,
                              char *err, size_t errlen);

/* Frees what vmx_virtio_console_create allocated; d may then be reused. */
void vmx_virtio_console_destroy(vmx_virtio_dev_t *d);

/* Writes up to n bytes of host input into the guest's receive buffers and
 * returns how many fitted (0..n); 0 when the driver is not ready or has no
 * buffer posted. The transport interrupts the guest as usual. */
size_t vmx_virtio_console_rx(vmx_virtio_dev_t *d, const uint8_t *buf, size_t n);

/* True when the driver has at least one receive buffer posted. */
bool vmx_virtio_console_rx_room(vmx_virtio_dev_t *d);

#endif
