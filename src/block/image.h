/* Disk images: one API over the raw and qcow2 formats, used by virtio-blk.
 *
 * Formats:
 *   raw    the file is the disk, byte for byte (regular file or block device).
 *   qcow2  versions 2 and 3 as qemu-img 7.2 creates them, with backing
 *          files (raw or qcow2, opened read-only; see qcow2.c for the exact
 *          subset: no compressed clusters, no encryption, 16-bit refcounts,
 *          no external data file, no extended L2 entries; images with
 *          internal snapshots open read-only only).
 * With format NULL the format is probed from the first bytes ("QFI\xfb" is
 * qcow2, anything else raw). As with QEMU, probing a raw image the guest can
 * write is unsafe (the guest can write a qcow2 header into it): give the
 * format when the image comes from an untrusted guest.
 *
 * Errors: functions return 0 or a negative VMX_E* code; open fills err with a
 * message naming the file and the problem. Errors found during I/O (a
 * corrupt table, a compressed cluster) are logged once per image with
 * vmx_log_error and answered with VMX_EIO / VMX_ENOSYS.
 *
 * Thread-safety: read, write, flush, discard and write_zeroes may be called
 * from several threads at once (libuv's thread pool) on one image; open and
 * close may not overlap anything else on that image. Requests that overlap
 * in the disk are not ordered against each other (as on real disks).
 */
#ifndef VMX_BLOCK_IMAGE_H
#define VMX_BLOCK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vmx_image vmx_image_t;

/* Opens path as format "raw", "qcow2" or NULL (probe). A writable image is
 * locked exclusively (flock) against other vmx processes, a read-only one
 * shared. On success *out owns the file until vmx_image_close. */
int vmx_image_open(const char *path, const char *format, bool readonly, vmx_image_t **out,
                   char *err, size_t errlen);
/* Closes the file and frees img (NULL is ignored). Does not flush: call
 * vmx_image_flush first when the data must be durable. */
void vmx_image_close(vmx_image_t *img);

/* The disk's size in bytes (the virtual size for qcow2). */
uint64_t vmx_image_size(const vmx_image_t *img);
/* True when the image was opened read-only. */
bool vmx_image_readonly(const vmx_image_t *img);
/* "raw" or "qcow2". */
const char *vmx_image_format(const vmx_image_t *img);

/* Reads len bytes at disk offset off into buf; all or nothing (VMX_ERANGE
 * when [off, off+len) is not inside the disk, VMX_EIO on a host error). */
int vmx_image_read(vmx_image_t *img, uint64_t off, void *buf, size_t len);
/* Writes len bytes from buf at off (VMX_EINVAL on a read-only image). */
int vmx_image_write(vmx_image_t *img, uint64_t off, const void *buf, size_t len);
/* Makes every completed write durable (fdatasync of each file written). */
int vmx_image_flush(vmx_image_t *img);
/* Tells the image [off, off+len) is unused; its content becomes unspecified.
 * Advisory: a format that cannot free space succeeds without doing anything. */
int vmx_image_discard(vmx_image_t *img, uint64_t off, uint64_t len);
/* Makes [off, off+len) read as zeros, freeing space when the format can. */
int vmx_image_write_zeroes(vmx_image_t *img, uint64_t off, uint64_t len);

/* The options of one -drive (QEMU's syntax, a subset):
 *   file=PATH,format=raw|qcow2,if=virtio|none,id=ID,readonly=on|off
 * ",," inside a value stands for one comma. */
typedef struct vmx_drive_opts {
  char file[4096];    /* required */
  char format[8];     /* "raw", "qcow2" or "" (probe) */
  char id[64];        /* "" when not given */
  bool if_none;       /* if=none: not attached to a bus by itself (default if=virtio) */
  bool readonly;
} vmx_drive_opts_t;

/* Parses spec into *out; VMX_EINVAL with err naming the key or value that
 * is wrong (unknown key, bad value, missing file=). */
int vmx_drive_parse(const char *spec, vmx_drive_opts_t *out, char *err, size_t errlen);

/* Internals shared by image.c and the format drivers (raw.c, qcow2.c). */
typedef struct vmx__image_driver {
  const char *format;
  int (*read)(vmx_image_t *img, uint64_t off, void *buf, size_t len);
  int (*write)(vmx_image_t *img, uint64_t off, const void *buf, size_t len);
  int (*discard)(vmx_image_t *img, uint64_t off, uint64_t len);
  int (*write_zeroes)(vmx_image_t *img, uint64_t off, uint64_t len);
  void (*close)(vmx_image_t *img);   /* frees the driver's state, not the fd */
} vmx__image_driver_t;

struct vmx_image {
  const vmx__image_driver_t *drv;
  int fd;
  bool readonly;
  uint64_t size;        /* disk size in bytes */
  void *state;          /* the driver's */
  unsigned depth;       /* 0, or how deep in a backing chain */
  char name[4096];      /* path: for messages and relative backing names */
};

#define VMX__IMAGE_MAX_DEPTH 16u   /* backing chain links, at most */

/* vmx_image_open for the backing file of an image `depth` deep in a chain. */
int vmx__image_open_at(const char *path, const char *format, bool readonly, unsigned depth,
                       vmx_image_t **out, char *err, size_t errlen);
/* Drivers' open functions: fill img->drv/size/state from img->fd. */
int vmx__raw_open(vmx_image_t *img, char *err, size_t errlen);
int vmx__qcow2_open(vmx_image_t *img, char *err, size_t errlen);
/* pread/pwrite of exactly len bytes (retries short transfers and EINTR).
 * A read past the end of the file fills zeros. 0 or VMX_EIO. */
int vmx__pread_full(int fd, void *buf, size_t len, uint64_t off);
int vmx__pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

#endif
