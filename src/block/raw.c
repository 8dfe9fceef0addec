/* The raw format: the file (or block device) is the disk. Data I/O is
 * pread/pwrite and needs no lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "block/image.h"

static int raw_read(vmx_image_t *img, uint64_t off, void *buf, size_t len) {
  return vmx__pread_full(img->fd, buf, len, off);
}

static int raw_write(vmx_image_t *img, uint64_t off, const void *buf, size_t len) {
  return vmx__pwrite_full(img->fd, buf, len, off);
}

static int raw_discard(vmx_image_t *img, uint64_t off, uint64_t len) {
  /* Advisory: a file system without hole punching keeps the data. */
  (void)fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
  return 0;
}

static int raw_write_zeroes(vmx_image_t *img, uint64_t off, uint64_t len) {
  if (fallocate(img->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
    return 0;
  if (fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
    return 0;
  static const uint8_t zeros[65536];
  while (len > 0) {
    size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
    int rc = vmx__pwrite_full(img->fd, zeros, n, off);
    if (rc < 0)
      return rc;
    off += n, len -= n;
  }
  return 0;
}

static const vmx__image_driver_t raw_driver = {
    .format = "raw",
    .read = raw_read,
    .write = raw_write,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
};

int vmx__raw_open(vmx_image_t *img, char *err, size_t errlen) {
  off_t end = lseek(img->fd, 0, SEEK_END); /* also right for block devices */
  if (end < 0) {
    snprintf(err, errlen, "%s: cannot find its size: %s", img->name, strerror(errno));
    return VMX_EIO;
  }
  img->drv = &raw_driver;
  img->size = (uint64_t)end;
  return 0;
}
