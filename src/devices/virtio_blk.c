/* virtio-blk; see virtio_blk.h. */
#include "devices/virtio_blk.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define SECTOR 512u
#define CONFIG_SIZE 60u
#define MAX_DISCARD_SECTORS 0x3fffffu /* QEMU's BDRV_REQUEST_MAX_SECTORS */
#define WRITE_ZEROES_F_UNMAP 1u

typedef struct blk_req blk_req_t;

typedef struct blk {
  vmx_virtio_dev_t *d;        /* NULL once destroyed */
  uv_loop_t *loop;
  vmx_image_t *img;
  uint64_t sectors;           /* capacity */
  uint8_t config[CONFIG_SIZE];
  char serial[VMX_VIRTIO_BLK_ID_BYTES];
  /* Loop thread only: */
  unsigned inflight;          /* requests whose after-callback has not run */
  blk_req_t *spare;           /* free requests, reused */
  unsigned nspare;
  /* `lock` guards `working` (requests whose work function has not returned),
   * written by the loop thread and the pool threads; destroy waits on `idle`. */
  pthread_mutex_t lock;
  pthread_cond_t idle;
  unsigned working;
} blk_t;

struct blk_req {
  uv_work_t work;
  blk_t *blk;
  uint32_t generation;        /* the transport's, at pop time */
  uint32_t type;
  uint64_t off, len;          /* disk range in bytes */
  uint8_t status;             /* set by the work function */
  blk_req_t *next_spare;
  vmx_virtq_elem_t elem;
};

static void put_le(uint8_t *p, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static uint64_t blk_config_read(vmx_virtio_dev_t *d, uint32_t off, unsigned size) {
  blk_t *b = d->backend;
  if (off >= CONFIG_SIZE || size > CONFIG_SIZE - off)
    return 0;
  return get_le(b->config + off, size);
}

/* ---- requests ---- */

static blk_req_t *req_get(blk_t *b) {
  blk_req_t *r = b->spare;
  if (r) {
    b->spare = r->next_spare;
    b->nspare--;
  } else {
    r = malloc(sizeof *r);
  }
  return r;
}

static void req_put(blk_t *b, blk_req_t *r) {
  if (b->nspare >= 8) {
    free(r);
    return;
  }
  r->next_spare = b->spare;
  b->spare = r;
  b->nspare++;
}

/* Writes the status byte (the chain's last writable byte) and returns the
 * chain with data_written + 1 bytes written. */
static void req_finish(blk_t *b, blk_req_t *r, uint8_t status, uint64_t data_written) {
  vmx_virtq_elem_t *e = &r->elem;
  vmx_virtq_write(e, vmx_virtq_in_len(e) - 1, &status, 1);
  vmx_virtio_push(b->d, 0, e->head, (uint32_t)data_written + 1, r->generation);
}

/* Moves len bytes between the disk at off and the chain's segments
 * [first, end), starting skip bytes into them. */
static int req_transfer(blk_req_t *r, unsigned first, unsigned end, size_t skip, bool to_disk) {
  uint64_t off = r->off, len = r->len;
  for (unsigned i = first; i < end && len > 0; i++) {
    vmx_virtq_iov_t *v = &r->elem.iov[i];
    if (skip >= v->len) {
      skip -= v->len;
      continue;
    }
    size_t n = v->len - skip;
    if (n > len)
      n = (size_t)len;
    int rc = to_disk ? vmx_image_write(r->blk->img, off, v->base + skip, n)
                     : vmx_image_read(r->blk->img, off, v->base + skip, n);
    if (rc < 0)
      return rc;
    skip = 0;
    off += n, len -= n;
  }
  return len ? VMX_EIO : 0;
}

/* On a pool thread. */
static void req_work(uv_work_t *w) {
  blk_req_t *r = w->data;
  blk_t *b = r->blk;
  vmx_virtq_elem_t *e = &r->elem;
  int rc;
  switch (r->type) {
  case VMX_VIRTIO_BLK_T_IN:
    rc = req_transfer(r, e->nout, e->nout + e->nin, 0, false);
    break;
  case VMX_VIRTIO_BLK_T_OUT:
    rc = req_transfer(r, 0, e->nout, 16, true);
    break;
  case VMX_VIRTIO_BLK_T_FLUSH:
    rc = vmx_image_flush(b->img);
    break;
  case VMX_VIRTIO_BLK_T_DISCARD:
    rc = vmx_image_discard(b->img, r->off, r->len);
    break;
  default: /* VMX_VIRTIO_BLK_T_WRITE_ZEROES */
    rc = vmx_image_write_zeroes(b->img, r->off, r->len);
    break;
  }
  r->status = rc == 0 ? VMX_VIRTIO_BLK_S_OK : VMX_VIRTIO_BLK_S_IOERR;
  pthread_mutex_lock(&b->lock);
  if (--b->working == 0)
    pthread_cond_broadcast(&b->idle);
  pthread_mutex_unlock(&b->lock);
}

static void blk_free(blk_t *b) {
  while (b->spare) {
    blk_req_t *r = b->spare;
    b->spare = r->next_spare;
    free(r);
  }
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->idle);
  free(b);
}

/* On the loop thread. */
static void req_after(uv_work_t *w, int status) {
  blk_req_t *r = w->data;
  blk_t *b = r->blk;
  b->inflight--;
  if (!b->d) { /* destroyed meanwhile */
    free(r);
    if (b->inflight == 0)
      blk_free(b);
    return;
  }
  if (r->generation == b->d->generation) {
    bool ok = status == 0 && r->status == VMX_VIRTIO_BLK_S_OK;
    req_finish(b, r, ok ? VMX_VIRTIO_BLK_S_OK : VMX_VIRTIO_BLK_S_IOERR,
               ok && r->type == VMX_VIRTIO_BLK_T_IN ? r->len : 0);
  }
  req_put(b, r);
}

static void req_queue(blk_t *b, blk_req_t *r) {
  r->work.data = r;
  pthread_mutex_lock(&b->lock);
  b->working++;
  pthread_mutex_unlock(&b->lock);
  b->inflight++;
  if (uv_queue_work(b->loop, &r->work, req_work, req_after) != 0) {
    pthread_mutex_lock(&b->lock);
    b->working--;
    pthread_mutex_unlock(&b->lock);
    b->inflight--;
    req_finish(b, r, VMX_VIRTIO_BLK_S_IOERR, 0);
    req_put(b, r);
  }
}

/* Checks a disk range of a request; false answers IOERR. */
static bool range_ok(const blk_t *b, uint64_t sector, uint64_t bytes) {
  return bytes % SECTOR == 0 && sector <= b->sectors && bytes / SECTOR <= b->sectors - sector;
}

/* DISCARD / WRITE_ZEROES: one 16-byte segment {le64 sector, le32 sectors,
 * le32 flags} after the header. Returns the status to answer at once, or
 * VMX_VIRTIO_BLK_S_OK when r is ready to queue. */
static uint8_t parse_zeroes(const blk_t *b, blk_req_t *r) {
  uint8_t seg[16];
  if (vmx_virtq_out_len(&r->elem) != 32 || vmx_virtq_read(&r->elem, 16, seg, 16) != 16)
    return VMX_VIRTIO_BLK_S_UNSUPP;
  uint64_t sector = get_le(seg, 8), nsec = get_le(seg + 8, 4);
  uint32_t flags = (uint32_t)get_le(seg + 12, 4);
  uint32_t allowed = r->type == VMX_VIRTIO_BLK_T_WRITE_ZEROES ? WRITE_ZEROES_F_UNMAP : 0;
  if (flags & ~allowed)
    return VMX_VIRTIO_BLK_S_UNSUPP;
  if (nsec > MAX_DISCARD_SECTORS || !range_ok(b, sector, nsec * SECTOR))
    return VMX_VIRTIO_BLK_S_IOERR;
  r->off = sector * SECTOR;
  r->len = nsec * SECTOR;
  return VMX_VIRTIO_BLK_S_OK;
}

/* Starts one popped request: answered now or queued on the pool. Returns
 * false when the device had to stop (a chain without a status byte). */
static bool req_start(blk_t *b, blk_req_t *r) {
  vmx_virtio_dev_t *d = b->d;
  vmx_virtq_elem_t *e = &r->elem;
  size_t in_len = vmx_virtq_in_len(e), out_len = vmx_virtq_out_len(e);
  r->blk = b;
  r->generation = d->generation;
  if (in_len < 1) {
    vmx_virtio_push(d, 0, e->head, 0, r->generation);
    vmx_virtio_fail(d, "virtio-blk: request without a status byte");
    req_put(b, r);
    return false;
  }
  uint8_t hdr[16];
  if (vmx_virtq_read(e, 0, hdr, sizeof hdr) != sizeof hdr) {
    req_finish(b, r, VMX_VIRTIO_BLK_S_IOERR, 0);
    req_put(b, r);
    return true;
  }
  r->type = (uint32_t)get_le(hdr, 4);
  uint64_t sector = get_le(hdr + 8, 8);
  bool writes = r->type == VMX_VIRTIO_BLK_T_OUT || r->type == VMX_VIRTIO_BLK_T_DISCARD ||
                r->type == VMX_VIRTIO_BLK_T_WRITE_ZEROES;
  uint8_t status = VMX_VIRTIO_BLK_S_OK;
  uint64_t answered = 0;
  switch (r->type) {
  case VMX_VIRTIO_BLK_T_IN:
  case VMX_VIRTIO_BLK_T_OUT:
    r->off = sector * SECTOR;
    r->len = r->type == VMX_VIRTIO_BLK_T_IN ? in_len - 1 : out_len - 16;
    if (!range_ok(b, sector, r->len))
      status = VMX_VIRTIO_BLK_S_IOERR;
    break;
  case VMX_VIRTIO_BLK_T_FLUSH:
    break;
  case VMX_VIRTIO_BLK_T_GET_ID:
    answered = vmx_virtq_write(e, 0, b->serial,
                               in_len - 1 < sizeof b->serial ? in_len - 1 : sizeof b->serial);
    status = VMX_VIRTIO_BLK_S_OK;
    break;
  case VMX_VIRTIO_BLK_T_DISCARD:
  case VMX_VIRTIO_BLK_T_WRITE_ZEROES:
    status = parse_zeroes(b, r);
    break;
  default:
    status = VMX_VIRTIO_BLK_S_UNSUPP;
    break;
  }
  if (status == VMX_VIRTIO_BLK_S_OK && writes && vmx_image_readonly(b->img))
    status = VMX_VIRTIO_BLK_S_IOERR;
  if (status != VMX_VIRTIO_BLK_S_OK || r->type == VMX_VIRTIO_BLK_T_GET_ID) {
    req_finish(b, r, status, answered);
    req_put(b, r);
  } else {
    req_queue(b, r);
  }
  return true;
}

static void blk_notify(vmx_virtio_dev_t *d, unsigned q) {
  blk_t *b = d->backend;
  for (;;) {
    blk_req_t *r = req_get(b);
    if (!r) {
      vmx_virtio_fail(d, "virtio-blk: out of memory");
      return;
    }
    if (vmx_virtq_pop(d, q, &r->elem) != 1) {
      req_put(b, r);
      return;
    }
    if (!req_start(b, r))
      return;
  }
}

#define BLK_FEATURES                                                                \
  (1ull << VMX_VIRTIO_BLK_F_SEG_MAX | 1ull << VMX_VIRTIO_BLK_F_BLK_SIZE |           \
   1ull << VMX_VIRTIO_BLK_F_FLUSH)
#define BLK_OPS(extra_features)                  \
  {                                              \
    .name = "virtio-blk",                        \
    .device_id = 2,                              \
    .nqueues = 1,                                \
    .queue_max = VMX_VIRTIO_BLK_QUEUE_MAX,       \
    .features = BLK_FEATURES | (extra_features), \
    .config_size = CONFIG_SIZE,                  \
    .config_read = blk_config_read,              \
    .notify = blk_notify,                        \
  }

/* The offered features differ between read-only and writable drives. */
static const vmx_virtio_ops_t blk_ops_ro = BLK_OPS(1ull << VMX_VIRTIO_BLK_F_RO);
static const vmx_virtio_ops_t blk_ops_rw =
    BLK_OPS(1ull << VMX_VIRTIO_BLK_F_DISCARD | 1ull << VMX_VIRTIO_BLK_F_WRITE_ZEROES);

static void blk_fill_config(blk_t *b) {
  uint8_t *c = b->config;
  put_le(c + 0, b->sectors, 8);                      /* capacity */
  put_le(c + 12, VMX_VIRTIO_BLK_QUEUE_MAX - 2, 4);   /* seg_max */
  put_le(c + 20, SECTOR, 4);                         /* blk_size */
  put_le(c + 36, MAX_DISCARD_SECTORS, 4);            /* max_discard_sectors */
  put_le(c + 40, 1, 4);                              /* max_discard_seg */
  put_le(c + 44, 1, 4);                              /* discard_sector_alignment */
  put_le(c + 48, MAX_DISCARD_SECTORS, 4);            /* max_write_zeroes_sectors */
  put_le(c + 52, 1, 4);                              /* max_write_zeroes_seg */
  c[56] = 1;                                         /* write_zeroes_may_unmap */
}

int vmx_virtio_blk_create(vmx_virtio_dev_t *d, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, vmx_image_t *img, char *err,
                          size_t errlen) {
  blk_t *b = calloc(1, sizeof *b);
  if (!b) {
    if (err && errlen)
      snprintf(err, errlen, "virtio-blk: out of memory");
    return VMX_ENOMEM;
  }
  b->d = d;
  b->loop = loop;
  b->img = img;
  b->sectors = vmx_image_size(img) / SECTOR;
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->idle, NULL);
  blk_fill_config(b);
  vmx_virtio_init(d, vmx_image_readonly(img) ? &blk_ops_ro : &blk_ops_rw, b, ram, io);
  return 0;
}

void vmx_virtio_blk_set_serial(vmx_virtio_dev_t *d, const char *serial) {
  blk_t *b = d->backend;
  memset(b->serial, 0, sizeof b->serial);
  memcpy(b->serial, serial, strnlen(serial, sizeof b->serial));
}

void vmx_virtio_blk_destroy(vmx_virtio_dev_t *d) {
  blk_t *b = d->backend;
  if (!b)
    return;
  pthread_mutex_lock(&b->lock);
  while (b->working > 0)
    pthread_cond_wait(&b->idle, &b->lock);
  pthread_mutex_unlock(&b->lock);
  b->d = NULL;
  if (b->inflight == 0)
    blk_free(b);
  d->backend = NULL;
}
