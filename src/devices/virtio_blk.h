/* virtio-blk (virtio 1.2, 5.2): device id 2, one request queue, over a disk
 * image (src/block/image.h).
 *
 * Offered features: SEG_MAX (queue size - 2), BLK_SIZE (512), FLUSH, and
 * either RO (read-only image) or DISCARD + WRITE_ZEROES (one segment per
 * request). Config space: capacity (512-byte sectors, the image size rounded
 * down), seg_max, blk_size and the discard / write-zeroes limits.
 *
 * Requests: IN, OUT, FLUSH, GET_ID, DISCARD and WRITE_ZEROES. Disk I/O runs
 * on libuv's thread pool (uv_queue_work on the device loop), moving data
 * straight between the image and guest RAM; the completion returns on the
 * device loop, which writes the status byte and pushes the chain. Nothing
 * on the device loop (or a vCPU) waits for the disk. GET_ID and malformed
 * requests are answered at once. Status bytes:
 *   OK      done (FLUSH: after fdatasync returned);
 *   IOERR   the image failed, the range is outside the disk or not a
 *           multiple of 512 bytes, a write/discard/write-zeroes on a
 *           read-only drive, or a header shorter than 16 bytes;
 *   UNSUPP  an unknown request type, more than one discard/write-zeroes
 *           segment, or flags the type does not allow.
 * A chain without a device-writable byte (no room for the status) cannot be
 * answered: the device is marked NEEDS_RESET (vmx_virtio_fail) and stops.
 *
 * Reset: completions of requests still in flight are dropped (the transport's
 * generation); their disk I/O may still finish into guest RAM, as DMA would.
 *
 * Thread-safety: create, destroy and the transport callbacks run on the
 * device loop's thread (or while that loop is not running).
 */
#ifndef VMX_DEVICES_VIRTIO_BLK_H
#define VMX_DEVICES_VIRTIO_BLK_H

#include <stddef.h>
#include <uv.h>

#include "block/image.h"
#include "devices/virtio.h"

#define VMX_VIRTIO_BLK_QUEUE_MAX 256u
#define VMX_VIRTIO_BLK_ID_BYTES 20u

/* Request types, status values and feature bits (virtio 1.2, 5.2.3, 5.2.6). */
#define VMX_VIRTIO_BLK_T_IN 0u
#define VMX_VIRTIO_BLK_T_OUT 1u
#define VMX_VIRTIO_BLK_T_FLUSH 4u
#define VMX_VIRTIO_BLK_T_GET_ID 8u
#define VMX_VIRTIO_BLK_T_DISCARD 11u
#define VMX_VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VMX_VIRTIO_BLK_S_OK 0u
#define VMX_VIRTIO_BLK_S_IOERR 1u
#define VMX_VIRTIO_BLK_S_UNSUPP 2u
#define VMX_VIRTIO_BLK_F_SEG_MAX 2
#define VMX_VIRTIO_BLK_F_RO 5
#define VMX_VIRTIO_BLK_F_BLK_SIZE 6
#define VMX_VIRTIO_BLK_F_FLUSH 9
#define VMX_VIRTIO_BLK_F_DISCARD 13
#define VMX_VIRTIO_BLK_F_WRITE_ZEROES 14

/* Makes d a virtio-blk device serving img (which the caller keeps open
 * until after vmx_virtio_blk_destroy) over ram with transport io; disk work
 * completes on loop. Returns 0, or VMX_ENOMEM with a message in err. */
int vmx_virtio_blk_create(vmx_virtio_dev_t *d, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, vmx_image_t *img, char *err, size_t errlen);

/* Sets the serial GET_ID answers (at most 20 bytes are kept; "" by default,
 * as QEMU without serial=). */
void vmx_virtio_blk_set_serial(vmx_virtio_dev_t *d, const char *serial);

/* Waits until no disk I/O of d runs on the thread pool, then detaches d: the
 * image may be closed and d reused once this returns. Completions still
 * queued on the loop free their memory when the loop runs them (run the
 * loop once more, or accept that bounded leak at exit). */
void vmx_virtio_blk_destroy(vmx_virtio_dev_t *d);

#endif
