/* virtio-rng (virtio 1.2, 5.4): device id 4, one request queue. Every
 * device-writable segment of a chain is filled with bytes from the host's
 * getrandom(2), at most VMX_VIRTIO_RNG_CHAIN_MAX bytes per chain (Linux asks
 * for at most a page at a time), and the chain is returned at once.
 *
 * Thread-safety: none; the device loop's thread owns it, as the transport.
 */
#ifndef VMX_DEVICES_VIRTIO_RNG_H
#define VMX_DEVICES_VIRTIO_RNG_H

#include <stddef.h>

#include "devices/virtio.h"

#define VMX_VIRTIO_RNG_QUEUE_MAX 64u
#define VMX_VIRTIO_RNG_CHAIN_MAX 65536u

/* Makes d a virtio-rng device over ram with transport io. Returns 0, or
 * VMX_ENOMEM (with a message in err). Undo with vmx_virtio_rng_destroy. */
int vmx_virtio_rng_create(vmx_virtio_dev_t *d, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, char *err, size_t errlen);

/* Frees what vmx_virtio_rng_create allocated; d may then be reused. */
void vmx_virtio_rng_destroy(vmx_virtio_dev_t *d);

#endif
