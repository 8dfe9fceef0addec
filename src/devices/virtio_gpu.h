/* virtio-gpu in 2D mode (virtio 1.2 section 5.7, device id 16): a
 * framebuffer device the Linux virtio-gpu DRM driver drives, with a PNG
 * screendump of what the guest shows.
 *
 * Queues: 0 controlq (every command below), 1 cursorq (UPDATE_CURSOR and
 * MOVE_CURSOR are taken and returned unanswered: there is no cursor plane).
 * Config space (16 bytes): events_read, events_clear (write-1-to-clear into
 * events_read), num_scanouts = 1, num_capsets = 0. No feature bit is offered
 * (no VIRGL, no EDID, no blob resources), so Linux never sends GET_EDID; if
 * a driver does, it gets ERR_UNSPEC.
 *
 * Commands (all answered in the chain's writable part, fence flag, fence_id,
 * ctx_id and ring_idx echoed when the request had VIRTIO_GPU_FLAG_FENCE):
 *   GET_DISPLAY_INFO       scanout 0 enabled at xres x yres (option)
 *   RESOURCE_CREATE_2D     the eight 32-bit UNORM formats below
 *   RESOURCE_UNREF         also disables the scanout showing it
 *   SET_SCANOUT            resource 0 disables the scanout
 *   RESOURCE_FLUSH         counted (vmx_virtio_gpu_flushes)
 *   TRANSFER_TO_HOST_2D    row h of the rect comes from backing offset
 *                          `offset + h * width * 4` (the guest's stride is
 *                          the resource's); bytes past the backing's end are
 *                          left as they were (QEMU does the same)
 *   RESOURCE_ATTACH_BACKING / RESOURCE_DETACH_BACKING
 *
 * Errors: a request shorter than its command's struct, an unknown command,
 * a backing entry outside guest RAM, a second ATTACH, or a transfer into a
 * resource without backing answer ERR_UNSPEC; an unknown or zero resource id
 * ERR_INVALID_RESOURCE_ID; a scanout id other than 0 ERR_INVALID_SCANOUT_ID;
 * a bad format, zero size or rect outside the resource
 * ERR_INVALID_PARAMETER; going over the host-memory budget (max_hostmem
 * bytes of pixels plus backing tables, 256 MiB by default) or over 4096
 * resources ERR_OUT_OF_MEMORY.
 *
 * Guest memory is reached only through vmx_guest_ram_ptr. Backing entries
 * are checked when attached and again at every transfer (they are kept as
 * guest-physical addresses, never as host pointers).
 *
 * Thread-safety: none; everything runs on the device loop's thread.
 * Assumes a little-endian host (the wire structs below are copied whole).
 */
#ifndef VMX_DEVICES_VIRTIO_GPU_H
#define VMX_DEVICES_VIRTIO_GPU_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "devices/virtio.h"

#define VMX_VIRTIO_GPU_ID 16u
#define VMX_VIRTIO_GPU_CONTROLQ 0u
#define VMX_VIRTIO_GPU_CURSORQ 1u
#define VMX_VIRTIO_GPU_MAX_SCANOUTS 16u        /* entries in a display-info reply */
#define VMX_VIRTIO_GPU_MAX_BACKING 16384u      /* entries of one ATTACH_BACKING */
#define VMX_VIRTIO_GPU_MAX_RESOURCES 4096u
#define VMX_VIRTIO_GPU_DEFAULT_HOSTMEM (256ull << 20)

/* Command and response types (virtio 1.2, 5.7.6.7). */
enum {
  VMX_VIRTIO_GPU_CMD_GET_DISPLAY_INFO = 0x0100,
  VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
  VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF,
  VMX_VIRTIO_GPU_CMD_SET_SCANOUT,
  VMX_VIRTIO_GPU_CMD_RESOURCE_FLUSH,
  VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
  VMX_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
  VMX_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
  VMX_VIRTIO_GPU_CMD_GET_CAPSET_INFO,
  VMX_VIRTIO_GPU_CMD_GET_CAPSET,
  VMX_VIRTIO_GPU_CMD_GET_EDID,
  VMX_VIRTIO_GPU_CMD_UPDATE_CURSOR = 0x0300,
  VMX_VIRTIO_GPU_CMD_MOVE_CURSOR,
  VMX_VIRTIO_GPU_RESP_OK_NODATA = 0x1100,
  VMX_VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
  VMX_VIRTIO_GPU_RESP_ERR_UNSPEC = 0x1200,
  VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
  VMX_VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
  VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
  VMX_VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
  VMX_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
};

#define VMX_VIRTIO_GPU_FLAG_FENCE 1u
#define VMX_VIRTIO_GPU_FLAG_INFO_RING_IDX 2u
#define VMX_VIRTIO_GPU_EVENT_DISPLAY 1u

/* Pixel formats (virtio 1.2, 5.7.6.8): the name lists the bytes of a pixel
 * in memory order, lowest address first. */
enum {
  VMX_VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM = 1,
  VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM = 2,
  VMX_VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM = 3,
  VMX_VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM = 4,
  VMX_VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM = 67,
  VMX_VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM = 68,
  VMX_VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM = 121,
  VMX_VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM = 134,
};

/* Wire structs (little-endian, no padding). */
typedef struct vmx_virtio_gpu_hdr {
  uint32_t type, flags;
  uint64_t fence_id;
  uint32_t ctx_id;
  uint8_t ring_idx, padding[3];
} vmx_virtio_gpu_hdr_t;

typedef struct vmx_virtio_gpu_rect {
  uint32_t x, y, width, height;
} vmx_virtio_gpu_rect_t;

typedef struct vmx_virtio_gpu_display_info {
  vmx_virtio_gpu_hdr_t hdr;
  struct {
    vmx_virtio_gpu_rect_t r;
    uint32_t enabled, flags;
  } pmodes[VMX_VIRTIO_GPU_MAX_SCANOUTS];
} vmx_virtio_gpu_display_info_t;

typedef struct vmx_virtio_gpu_resource_create_2d {
  vmx_virtio_gpu_hdr_t hdr;
  uint32_t resource_id, format, width, height;
} vmx_virtio_gpu_resource_create_2d_t;

/* RESOURCE_UNREF, RESOURCE_DETACH_BACKING; GET_EDID (scanout in resource_id). */
typedef struct vmx_virtio_gpu_resource_cmd {
  vmx_virtio_gpu_hdr_t hdr;
  uint32_t resource_id, padding;
} vmx_virtio_gpu_resource_cmd_t;

typedef struct vmx_virtio_gpu_set_scanout {
  vmx_virtio_gpu_hdr_t hdr;
  vmx_virtio_gpu_rect_t r;
  uint32_t scanout_id, resource_id;
} vmx_virtio_gpu_set_scanout_t;

typedef struct vmx_virtio_gpu_resource_flush {
  vmx_virtio_gpu_hdr_t hdr;
  vmx_virtio_gpu_rect_t r;
  uint32_t resource_id, padding;
} vmx_virtio_gpu_resource_flush_t;

typedef struct vmx_virtio_gpu_transfer_to_host_2d {
  vmx_virtio_gpu_hdr_t hdr;
  vmx_virtio_gpu_rect_t r;
  uint64_t offset;
  uint32_t resource_id, padding;
} vmx_virtio_gpu_transfer_to_host_2d_t;

/* Followed in the request by nr_entries vmx_virtio_gpu_mem_entry_t. */
typedef struct vmx_virtio_gpu_attach_backing {
  vmx_virtio_gpu_hdr_t hdr;
  uint32_t resource_id, nr_entries;
} vmx_virtio_gpu_attach_backing_t;

typedef struct vmx_virtio_gpu_mem_entry {
  uint64_t addr;
  uint32_t length, padding;
} vmx_virtio_gpu_mem_entry_t;

/* Makes d a virtio-gpu on guest RAM ram: vmx_virtio_init with the gpu's
 * ops and a newly allocated backend (free it with vmx_virtio_gpu_destroy).
 * options: NULL or "" for the defaults, else comma-separated key=value:
 *   xres=N, yres=N     the display size GET_DISPLAY_INFO reports
 *                      (1..16384, default 1280x800, as QEMU)
 *   max_hostmem=N[K|M|G]  budget for resources (default 256M)
 * loop is unused (every command completes at once) and may be NULL.
 * Returns 0, VMX_EINVAL for a bad option (err says which), VMX_ENOMEM. */
int vmx_virtio_gpu_create(vmx_virtio_dev_t *d, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, const char *options, char *err,
                          size_t errlen);

/* Frees what vmx_virtio_gpu_create allocated (d itself stays the caller's).
 * Safe on a device whose create failed. */
void vmx_virtio_gpu_destroy(vmx_virtio_dev_t *d);

/* Writes what scanout 0 shows (its rect of the resource, converted from the
 * resource's format) to path as an RGB PNG (see vmx_screendump_png).
 * Returns 0; VMX_EAGAIN with "guest has not set up a display" in err when
 * no resource is on the scanout; VMX_EIO / VMX_ENOMEM from the writer. */
int vmx_virtio_gpu_screendump(vmx_virtio_dev_t *d, const char *path, char *err, size_t errlen);

/* RESOURCE_FLUSH commands accepted since create (a frame counter for
 * callers that wait for the guest to draw). */
uint64_t vmx_virtio_gpu_flushes(const vmx_virtio_dev_t *d);

/* Host bytes held by resources now (pixels plus backing tables). */
uint64_t vmx_virtio_gpu_hostmem(const vmx_virtio_dev_t *d);

#endif
