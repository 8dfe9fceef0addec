/* The format-independent part of disk images: open/probe, range checks,
 * flush, and the -drive option parser. */
#include "block/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/error.h"

int vmx__pread_full(int fd, void *buf, size_t len, uint64_t off) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return VMX_EIO;
    if (n == 0) { /* past the end of the file: a hole */
      memset(p, 0, len);
      return 0;
    }
    p += n, len -= (size_t)n, off += (uint64_t)n;
  }
  return 0;
}

int vmx__pwrite_full(int fd, const void *buf, size_t len, uint64_t off) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return VMX_EIO;
    p += n, len -= (size_t)n, off += (uint64_t)n;
  }
  return 0;
}

static const char *probe_format(int fd) {
  uint8_t magic[4];
  if (vmx__pread_full(fd, magic, sizeof magic, 0) == 0 && memcmp(magic, "QFI\xfb", 4) == 0)
    return "qcow2";
  return "raw";
}

int vmx_image_open(const char *path, const char *format, bool readonly, vmx_image_t **out,
                   char *err, size_t errlen) {
  return vmx__image_open_at(path, format, readonly, 0, out, err, errlen);
}

int vmx__image_open_at(const char *path, const char *format, bool readonly, unsigned depth,
                       vmx_image_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (format && strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0) {
    snprintf(err, errlen, "%s: unknown image format '%s' (raw or qcow2)", path, format);
    return VMX_EINVAL;
  }
  int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return errno == ENOENT ? VMX_ENOENT : VMX_EIO;
  }
  if (flock(fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    snprintf(err, errlen, "%s: in use by another process (%s)", path, strerror(errno));
    close(fd);
    return VMX_EAGAIN;
  }
  vmx_image_t *img = calloc(1, sizeof *img);
  if (!img) {
    close(fd);
    snprintf(err, errlen, "%s: out of memory", path);
    return VMX_ENOMEM;
  }
  img->fd = fd;
  img->readonly = readonly;
  img->depth = depth;
  snprintf(img->name, sizeof img->name, "%s", path);
  if (!format)
    format = probe_format(fd);
  int rc = strcmp(format, "qcow2") == 0 ? vmx__qcow2_open(img, err, errlen)
                                         : vmx__raw_open(img, err, errlen);
  if (rc < 0) {
    close(fd);
    free(img);
    return rc;
  }
  *out = img;
  return 0;
}

void vmx_image_close(vmx_image_t *img) {
  if (!img)
    return;
  if (img->drv && img->drv->close)
    img->drv->close(img);
  close(img->fd);
  free(img);
}

uint64_t vmx_image_size(const vmx_image_t *img) { return img->size; }
bool vmx_image_readonly(const vmx_image_t *img) { return img->readonly; }
const char *vmx_image_format(const vmx_image_t *img) { return img->drv->format; }

static bool in_disk(const vmx_image_t *img, uint64_t off, uint64_t len) {
  return off <= img->size && len <= img->size - off;
}

int vmx_image_read(vmx_image_t *img, uint64_t off, void *buf, size_t len) {
  if (!in_disk(img, off, len))
    return VMX_ERANGE;
  return len ? img->drv->read(img, off, buf, len) : 0;
}

int vmx_image_write(vmx_image_t *img, uint64_t off, const void *buf, size_t len) {
  if (img->readonly)
    return VMX_EINVAL;
  if (!in_disk(img, off, len))
    return VMX_ERANGE;
  return len ? img->drv->write(img, off, buf, len) : 0;
}

int vmx_image_flush(vmx_image_t *img) {
  if (img->readonly)
    return 0;
  while (fdatasync(img->fd) != 0) {
    if (errno != EINTR)
      return VMX_EIO;
  }
  return 0;
}

int vmx_image_discard(vmx_image_t *img, uint64_t off, uint64_t len) {
  if (img->readonly)
    return VMX_EINVAL;
  if (!in_disk(img, off, len))
    return VMX_ERANGE;
  return len && img->drv->discard ? img->drv->discard(img, off, len) : 0;
}

int vmx_image_write_zeroes(vmx_image_t *img, uint64_t off, uint64_t len) {
  if (img->readonly)
    return VMX_EINVAL;
  if (!in_disk(img, off, len))
    return VMX_ERANGE;
  return len ? img->drv->write_zeroes(img, off, len) : 0;
}

/* ---- -drive options ---- */

/* Copies the next token of *p up to `stop` (or a ','), turning ",," into
 * ','. Returns false when it does not fit into dst[dstlen]. */
static bool next_token(const char **p, char stop, char *dst, size_t dstlen) {
  size_t n = 0;
  const char *s = *p;
  while (*s && *s != stop) {
    if (*s == ',') {
      if (s[1] != ',')
        break;
      s++;
    }
    if (n + 1 >= dstlen)
      return false;
    dst[n++] = *s++;
  }
  dst[n] = 0;
  *p = s;
  return true;
}

static int drive_set(vmx_drive_opts_t *o, const char *key, const char *val, bool has_val,
                     char *err, size_t errlen) {
  if (strcmp(key, "file") == 0) {
    snprintf(o->file, sizeof o->file, "%s", val);
  } else if (strcmp(key, "format") == 0) {
    if (strcmp(val, "raw") != 0 && strcmp(val, "qcow2") != 0)
      goto bad_value;
    snprintf(o->format, sizeof o->format, "%s", val);
  } else if (strcmp(key, "if") == 0) {
    if (strcmp(val, "virtio") != 0 && strcmp(val, "none") != 0)
      goto bad_value;
    o->if_none = strcmp(val, "none") == 0;
  } else if (strcmp(key, "id") == 0) {
    snprintf(o->id, sizeof o->id, "%s", val);
  } else if (strcmp(key, "readonly") == 0) {
    if (!has_val || strcmp(val, "on") == 0)
      o->readonly = true;
    else if (strcmp(val, "off") == 0)
      o->readonly = false;
    else
      goto bad_value;
  } else {
    snprintf(err, errlen, "-drive: unknown option '%s' (file, format, if, id, readonly)", key);
    return VMX_EINVAL;
  }
  if (!has_val && strcmp(key, "readonly") != 0) {
    snprintf(err, errlen, "-drive: option '%s' needs a value", key);
    return VMX_EINVAL;
  }
  return 0;
bad_value:
  snprintf(err, errlen, "-drive: bad value '%s' for option '%s'", val, key);
  return VMX_EINVAL;
}

int vmx_drive_parse(const char *spec, vmx_drive_opts_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *p = spec;
  while (*p) {
    char key[32], val[4096];
    if (!next_token(&p, '=', key, sizeof key)) {
      snprintf(err, errlen, "-drive: option name too long in '%s'", spec);
      return VMX_EINVAL;
    }
    bool has_val = *p == '=';
    val[0] = 0;
    if (has_val) {
      p++;
      if (!next_token(&p, 0, val, sizeof val)) {
        snprintf(err, errlen, "-drive: value of '%s' too long", key);
        return VMX_EINVAL;
      }
    }
    if (*p == ',')
      p++;
    if (!key[0] && !has_val)
      continue; /* empty element, as in "a=b," */
    int rc = drive_set(out, key, val, has_val, err, errlen);
    if (rc < 0)
      return rc;
  }
  if (!out->file[0]) {
    snprintf(err, errlen, "-drive: file= is required in '%s'", spec);
    return VMX_EINVAL;
  }
  return 0;
}
