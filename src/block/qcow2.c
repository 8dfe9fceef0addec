/* The qcow2 format, versions 2 and 3 (QEMU's docs/interop/qcow2.txt).
 *
 * Supported:
 *   - reading: unallocated clusters and (v3) zero clusters read as zeros;
 *   - writing in place to allocated clusters whose L2 entry has COPIED set;
 *   - writing to unallocated or zero clusters: new clusters (data, L2 tables,
 *     refcount blocks) are appended at the end of the file and their
 *     refcounts set before anything points to them, so a crash leaks
 *     clusters but never corrupts; `qemu-img check` finds no errors or leaks;
 *   - a v3 zero cluster that keeps its host cluster is written in place;
 *   - backing files (raw or qcow2, format from the header extension or
 *     probed, relative names from the image's directory), opened read-only,
 *     chains up to VMX__IMAGE_MAX_DEPTH: unallocated clusters read from the
 *     backing file, and a first write copies the rest of the cluster from it;
 *   - discard is advisory (does nothing); write_zeroes skips clusters that
 *     already read as zeros and writes zeros into allocated ones.
 * Refused at open, with a message: bad magic, versions other than 2 and 3,
 * cluster_bits outside 9..21, encryption, unreadable backing files, refcount_order other
 * than 4 (16-bit refcounts), unknown incompatible features, external data
 * files, extended L2 entries, tables misaligned or past the end of the file.
 * Refused for writing only: internal snapshots, the dirty and corrupt bits
 * (run `qemu-img check -r all`). Refused at I/O time with VMX_ENOSYS:
 * compressed clusters (no zlib). The refcount table grows (moves to the end
 * of the file) when the file outgrows it, up to QEMU's 8 MiB limit.
 *
 * Thread-safety: `lock` guards the metadata (the L1 table in memory, L2
 * tables, refcounts, next_free). Reads and in-place writes look up their
 * cluster under the lock and move the data without it; allocating writes
 * hold it throughout, so two writes to one unallocated cluster cannot both
 * allocate it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/log.h"
#include "block/image.h"

#define QCOW2_MAGIC 0x514649fbu           /* "QFI\xfb" */
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO 1ull
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_L1E_RESERVED 0x7f000000000001ffull
#define QCOW2_L2E_RESERVED 0x3f000000000001feull
#define QCOW2_REFT_RESERVED 0x1ffull
#define QCOW2_MAX_L1_ENTRIES (32u << 20) / 8u   /* QEMU's QCOW_MAX_L1_SIZE */
#define QCOW2_MAX_REFT_BYTES (8u << 20)         /* QEMU's QCOW_MAX_REFTABLE_SIZE */
#define QCOW2_MAX_SIZE (1ull << 61)

/* Incompatible feature bits (v3). */
#define QCOW2_INCOMPAT_DIRTY 1ull
#define QCOW2_INCOMPAT_CORRUPT 2ull
#define QCOW2_INCOMPAT_DATA_FILE 4ull
#define QCOW2_INCOMPAT_COMPRESSION 8ull
#define QCOW2_INCOMPAT_EXTL2 16ull
#define QCOW2_INCOMPAT_KNOWN 31ull

typedef struct qcow2 {
  pthread_mutex_t lock;
  uint32_t version;
  unsigned cluster_bits, l2_bits, rb_bits; /* log2 of cluster size, L2 entries, refcounts per block */
  uint64_t cluster_size;
  uint32_t l1_size;
  uint64_t l1_offset;
  uint64_t *l1;         /* host byte order */
  uint64_t rt_offset, rt_entries;
  uint64_t *rt;         /* refcount table, host byte order */
  uint64_t next_free;   /* host offset of the next cluster to allocate */
  bool reported;        /* an I/O-time problem was logged already */
  vmx_image_t *backing; /* read-only, or NULL */
} qcow2_t;

/* Where one guest cluster lives. */
typedef enum { MAP_UNALLOCATED, MAP_ZERO, MAP_DATA } map_kind_t;
typedef struct qcow2_map {
  map_kind_t kind;
  uint64_t host;        /* host offset of the cluster (0 when none) */
  bool copied;          /* refcount is exactly 1: may be written in place */
  uint64_t l2_entry;    /* host offset of the L2 entry (0 when there is no L2 table) */
} qcow2_map_t;

static uint64_t be64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
static uint32_t be32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

static int pwrite_be64(int fd, uint64_t off, uint64_t val) {
  uint64_t be = __builtin_bswap64(val);
  return vmx__pwrite_full(fd, &be, 8, off);
}

static void report_locked(vmx_image_t *img, qcow2_t *q, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report_locked(vmx_image_t *img, qcow2_t *q, const char *fmt, ...) {
  if (q->reported)
    return;
  q->reported = true;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  vmx_log_error("%s: %s", img->name, msg);
}

/* ---- open ---- */

typedef struct qcow2_header {
  uint32_t magic, version;
  uint64_t backing_file_offset;
  uint32_t backing_file_size, cluster_bits;
  uint64_t size;
  uint32_t crypt_method, l1_size;
  uint64_t l1_offset, rt_offset;
  uint32_t rt_clusters, nb_snapshots;
  uint64_t incompat, autoclear;
  uint32_t refcount_order, header_length;
} qcow2_header_t;

static void parse_header(const uint8_t *h, qcow2_header_t *hd) {
  hd->magic = be32(h + 0);
  hd->version = be32(h + 4);
  hd->backing_file_offset = be64(h + 8);
  hd->backing_file_size = be32(h + 16);
  hd->cluster_bits = be32(h + 20);
  hd->size = be64(h + 24);
  hd->crypt_method = be32(h + 32);
  hd->l1_size = be32(h + 36);
  hd->l1_offset = be64(h + 40);
  hd->rt_offset = be64(h + 48);
  hd->rt_clusters = be32(h + 56);
  hd->nb_snapshots = be32(h + 60);
  if (hd->version >= 3) {
    hd->incompat = be64(h + 72);
    hd->autoclear = be64(h + 88);
    hd->refcount_order = be32(h + 96);
    hd->header_length = be32(h + 100);
  } else {
    hd->incompat = hd->autoclear = 0;
    hd->refcount_order = 4;
    hd->header_length = 72;
  }
}

#define REFUSE(...)                        \
  do {                                     \
    snprintf(err, errlen, __VA_ARGS__);    \
    return VMX_EINVAL;                     \
  } while (0)

/* Checks the header fields that do not need the tables. */
static int check_header(const vmx_image_t *img, const qcow2_header_t *hd, uint64_t file_size,
                        char *err, size_t errlen) {
  const char *n = img->name;
  if (hd->magic != QCOW2_MAGIC)
    REFUSE("%s: not a qcow2 image (bad magic 0x%08x)", n, hd->magic);
  if (hd->version != 2 && hd->version != 3)
    REFUSE("%s: qcow2 version %u not supported (2 or 3)", n, hd->version);
  if (hd->cluster_bits < 9 || hd->cluster_bits > 21)
    REFUSE("%s: cluster_bits %u out of range 9..21", n, hd->cluster_bits);
  uint64_t cs = 1ull << hd->cluster_bits;
  if (hd->version >= 3 && (hd->header_length < 104 || hd->header_length > cs))
    REFUSE("%s: header_length %u out of range 104..%" PRIu64, n, hd->header_length, cs);
  if (hd->crypt_method != 0)
    REFUSE("%s: encrypted qcow2 images are not supported", n);
  if (hd->backing_file_offset != 0 &&
      (hd->backing_file_size == 0 || hd->backing_file_size > 1023 ||
       hd->backing_file_offset > cs || hd->backing_file_size > cs - hd->backing_file_offset ||
       hd->backing_file_offset + hd->backing_file_size > file_size))
    REFUSE("%s: backing file name at 0x%" PRIx64 " (%u bytes) outside the first cluster", n,
           hd->backing_file_offset, hd->backing_file_size);
  if (hd->refcount_order != 4)
    REFUSE("%s: refcount_order %u not supported (only 4: 16-bit refcounts)", n,
           hd->refcount_order);
  if (hd->incompat & ~QCOW2_INCOMPAT_KNOWN)
    REFUSE("%s: unknown incompatible qcow2 features 0x%" PRIx64, n,
           (uint64_t)(hd->incompat & ~QCOW2_INCOMPAT_KNOWN));
  if (hd->incompat & QCOW2_INCOMPAT_DATA_FILE)
    REFUSE("%s: qcow2 external data files are not supported", n);
  if (hd->incompat & QCOW2_INCOMPAT_EXTL2)
    REFUSE("%s: qcow2 extended L2 entries are not supported", n);
  if (!img->readonly && (hd->incompat & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)))
    REFUSE("%s: image is marked %s; repair it with 'qemu-img check -r all' or open it read-only",
           n, hd->incompat & QCOW2_INCOMPAT_CORRUPT ? "corrupt" : "dirty");
  if (!img->readonly && hd->nb_snapshots != 0)
    REFUSE("%s: writing to qcow2 images with internal snapshots is not supported", n);
  if (hd->size > QCOW2_MAX_SIZE)
    REFUSE("%s: virtual size 0x%" PRIx64 " too large", n, hd->size);
  unsigned l1_shift = hd->cluster_bits * 2 - 3; /* bytes mapped by one L1 entry */
  uint64_t l1_needed = (hd->size + (1ull << l1_shift) - 1) >> l1_shift;
  if (hd->l1_size < l1_needed || hd->l1_size > QCOW2_MAX_L1_ENTRIES)
    REFUSE("%s: L1 size %u does not fit virtual size 0x%" PRIx64, n, hd->l1_size, hd->size);
  if (hd->l1_offset & (cs - 1) || hd->l1_offset > file_size ||
      (uint64_t)hd->l1_size * 8 > file_size - hd->l1_offset)
    REFUSE("%s: L1 table at 0x%" PRIx64 " (%u entries) misaligned or past end of file (size 0x%"
           PRIx64 ")", n, hd->l1_offset, hd->l1_size, file_size);
  uint64_t rt_bytes = (uint64_t)hd->rt_clusters << hd->cluster_bits;
  if (hd->rt_clusters == 0 || rt_bytes > QCOW2_MAX_REFT_BYTES || hd->rt_offset & (cs - 1) ||
      hd->rt_offset > file_size || rt_bytes > file_size - hd->rt_offset)
    REFUSE("%s: refcount table at 0x%" PRIx64 " (%u clusters) misaligned, too large or past end "
           "of file (size 0x%" PRIx64 ")", n, hd->rt_offset, hd->rt_clusters, file_size);
  return 0;
}

/* Reads n big-endian 64-bit entries at off into a new host-order array. */
static int read_table(int fd, uint64_t off, uint64_t n, uint64_t **out) {
  uint64_t *t = malloc(n ? n * 8 : 8);
  if (!t)
    return VMX_ENOMEM;
  int rc = vmx__pread_full(fd, t, n * 8, off);
  for (uint64_t i = 0; i < n; i++)
    t[i] = __builtin_bswap64(t[i]);
  if (rc < 0)
    free(t);
  *out = rc < 0 ? NULL : t;
  return rc;
}

static int load_tables(vmx_image_t *img, qcow2_t *q, const qcow2_header_t *hd,
                       uint64_t file_size, char *err, size_t errlen) {
  const char *n = img->name;
  if (read_table(img->fd, q->l1_offset, q->l1_size, &q->l1) < 0 ||
      read_table(img->fd, q->rt_offset, q->rt_entries, &q->rt) < 0)
    REFUSE("%s: cannot read the L1 or refcount table", n);
  for (uint32_t i = 0; i < q->l1_size; i++) {
    uint64_t l2 = q->l1[i] & QCOW2_OFFSET_MASK;
    if (q->l1[i] & QCOW2_L1E_RESERVED || l2 >= file_size)
      REFUSE("%s: L1 entry %u (0x%016" PRIx64 ") invalid or past end of file (size 0x%" PRIx64 ")",
             n, i, q->l1[i], file_size);
    if (l2 && !(q->l1[i] & QCOW2_OFLAG_COPIED) && !img->readonly && hd->nb_snapshots == 0)
      REFUSE("%s: L1 entry %u lacks the COPIED flag; repair with 'qemu-img check -r all'", n, i);
  }
  for (uint64_t i = 0; i < q->rt_entries; i++) {
    if (q->rt[i] & QCOW2_REFT_RESERVED || q->rt[i] & (q->cluster_size - 1) ||
        q->rt[i] >= file_size)
      REFUSE("%s: refcount table entry %" PRIu64 " (0x%" PRIx64 ") misaligned or past end of file",
             n, i, q->rt[i]);
  }
  return 0;
}

#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau

/* The backing format named by a header extension in cluster 0 (c, clen
 * bytes read), or "" (probe). */
static void backing_format(const uint8_t *c, uint64_t clen, const qcow2_header_t *hd,
                           char fmt[16]) {
  fmt[0] = 0;
  uint64_t at = hd->version >= 3 ? hd->header_length : 72;
  while (at + 8 <= clen) {
    uint32_t type = be32(c + at), len = be32(c + at + 4);
    if (type == 0 || len > clen - at - 8)
      return;
    if (type == QCOW2_EXT_BACKING_FORMAT && len < 16) {
      memcpy(fmt, c + at + 8, len);
      fmt[len] = 0;
      return;
    }
    at += 8 + (((uint64_t)len + 7) & ~7ull);
  }
}

/* Opens the backing file read-only into q->backing. */
static int open_backing(vmx_image_t *img, qcow2_t *q, const qcow2_header_t *hd,
                        uint64_t file_size, char *err, size_t errlen) {
  uint64_t clen = q->cluster_size < file_size ? q->cluster_size : file_size;
  uint8_t *c = malloc(clen);
  if (!c)
    REFUSE("%s: out of memory", img->name);
  char name[1024], fmt[16], path[sizeof img->name + sizeof name];
  int rc = vmx__pread_full(img->fd, c, clen, 0);
  if (rc == 0) {
    memcpy(name, c + hd->backing_file_offset, hd->backing_file_size);
    name[hd->backing_file_size] = 0;
    backing_format(c, clen, hd, fmt);
  }
  free(c);
  if (rc < 0)
    REFUSE("%s: cannot read the backing file name", img->name);
  if (img->depth + 1 >= VMX__IMAGE_MAX_DEPTH)
    REFUSE("%s: backing chain longer than %u images (a loop?)", img->name, VMX__IMAGE_MAX_DEPTH);
  if (fmt[0] && strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0)
    REFUSE("%s: backing file format '%s' not supported (raw or qcow2)", img->name, fmt);
  const char *slash = strrchr(img->name, '/');
  if (name[0] == '/' || !slash)
    snprintf(path, sizeof path, "%s", name);
  else
    snprintf(path, sizeof path, "%.*s/%s", (int)(slash - img->name), img->name, name);
  char sub[512];
  rc = vmx__image_open_at(path, fmt[0] ? fmt : NULL, true, img->depth + 1, &q->backing, sub,
                          sizeof sub);
  /* Only the top image names itself: deeper ones pass the innermost message up. */
  if (rc < 0 && img->depth == 0)
    snprintf(err, errlen, "%s: backing file: %s", img->name, sub);
  else if (rc < 0)
    snprintf(err, errlen, "%s", sub);
  return rc;
}

static const vmx__image_driver_t qcow2_driver;

static void qcow2_free(qcow2_t *q) {
  vmx_image_close(q->backing);
  free(q->l1);
  free(q->rt);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

int vmx__qcow2_open(vmx_image_t *img, char *err, size_t errlen) {
  struct stat st;
  if (fstat(img->fd, &st) != 0 || st.st_size < 72) {
    snprintf(err, errlen, "%s: too short for a qcow2 header", img->name);
    return VMX_EINVAL;
  }
  uint64_t file_size = (uint64_t)st.st_size;
  uint8_t h[104] = {0};
  if (vmx__pread_full(img->fd, h, sizeof h, 0) < 0) {
    snprintf(err, errlen, "%s: cannot read the qcow2 header", img->name);
    return VMX_EIO;
  }
  qcow2_header_t hd;
  parse_header(h, &hd);
  int rc = check_header(img, &hd, file_size, err, errlen);
  if (rc < 0)
    return rc;
  qcow2_t *q = calloc(1, sizeof *q);
  if (!q) {
    snprintf(err, errlen, "%s: out of memory", img->name);
    return VMX_ENOMEM;
  }
  pthread_mutex_init(&q->lock, NULL);
  q->version = hd.version;
  q->cluster_bits = hd.cluster_bits;
  q->cluster_size = 1ull << hd.cluster_bits;
  q->l2_bits = hd.cluster_bits - 3;
  q->rb_bits = hd.cluster_bits - 1; /* 16-bit refcounts */
  q->l1_size = hd.l1_size;
  q->l1_offset = hd.l1_offset;
  q->rt_offset = hd.rt_offset;
  q->rt_entries = ((uint64_t)hd.rt_clusters << hd.cluster_bits) / 8;
  q->next_free = (file_size + q->cluster_size - 1) & ~(q->cluster_size - 1);
  rc = load_tables(img, q, &hd, file_size, err, errlen);
  if (rc == 0 && hd.backing_file_offset)
    rc = open_backing(img, q, &hd, file_size, err, errlen);
  /* Autoclear features (e.g. persistent bitmaps) we do not maintain must be
   * cleared before the first write (qcow2.txt, "autoclear_features"). */
  if (rc == 0 && !img->readonly && hd.autoclear != 0 && pwrite_be64(img->fd, 88, 0) < 0) {
    snprintf(err, errlen, "%s: cannot clear the autoclear features", img->name);
    rc = VMX_EIO;
  }
  if (rc < 0) {
    qcow2_free(q);
    return rc;
  }
  img->drv = &qcow2_driver;
  img->state = q;
  img->size = hd.size;
  return 0;
}

static void qcow2_close(vmx_image_t *img) {
  qcow2_free(img->state);
  img->state = NULL;
}

/* ---- cluster lookup ---- */

static int map_locked(vmx_image_t *img, qcow2_t *q, uint64_t voff, qcow2_map_t *m) {
  memset(m, 0, sizeof *m);
  uint64_t l1_index = voff >> (q->cluster_bits + q->l2_bits);
  uint64_t l2_index = (voff >> q->cluster_bits) & ((1ull << q->l2_bits) - 1);
  if (l1_index >= q->l1_size) /* checked at open: size fits the L1 table */
    return VMX_EIO;
  uint64_t l2 = q->l1[l1_index] & QCOW2_OFFSET_MASK;
  if (!l2)
    return 0;
  if (!(q->l1[l1_index] & QCOW2_OFLAG_COPIED) && !img->readonly) {
    report_locked(img, q, "L2 table at 0x%" PRIx64 " is shared (no COPIED flag)", l2);
    return VMX_EIO;
  }
  m->l2_entry = l2 + l2_index * 8;
  uint8_t raw[8];
  if (vmx__pread_full(img->fd, raw, 8, m->l2_entry) < 0)
    return VMX_EIO;
  uint64_t e = be64(raw);
  if (e & QCOW2_OFLAG_COMPRESSED) {
    report_locked(img, q, "compressed cluster at guest offset 0x%" PRIx64 " not supported", voff);
    return VMX_ENOSYS;
  }
  uint64_t reserved = QCOW2_L2E_RESERVED | (q->version < 3 ? QCOW2_OFLAG_ZERO : 0);
  m->host = e & QCOW2_OFFSET_MASK;
  if (e & reserved || m->host & (q->cluster_size - 1)) {
    report_locked(img, q, "L2 entry 0x%016" PRIx64 " at 0x%" PRIx64 " is invalid", e, m->l2_entry);
    return VMX_EIO;
  }
  m->copied = (e & QCOW2_OFLAG_COPIED) != 0;
  m->kind = e & QCOW2_OFLAG_ZERO ? MAP_ZERO : m->host ? MAP_DATA : MAP_UNALLOCATED;
  return 0;
}

/* Bytes from voff to the end of its cluster, at most len. */
static size_t chunk_len(const qcow2_t *q, uint64_t voff, size_t len) {
  uint64_t left = q->cluster_size - (voff & (q->cluster_size - 1));
  return len < left ? len : (size_t)left;
}

/* What the backing file holds at [off, off+n): zeros past its end. */
static int read_backing(qcow2_t *q, uint64_t off, uint8_t *p, size_t n) {
  uint64_t bsize = vmx_image_size(q->backing);
  size_t from = off >= bsize ? 0 : bsize - off < n ? (size_t)(bsize - off) : n;
  int rc = from ? vmx_image_read(q->backing, off, p, from) : 0;
  memset(p + from, 0, n - from);
  return rc;
}

static int qcow2_read(vmx_image_t *img, uint64_t off, void *buf, size_t len) {
  qcow2_t *q = img->state;
  uint8_t *p = buf;
  while (len > 0) {
    size_t n = chunk_len(q, off, len);
    qcow2_map_t m;
    pthread_mutex_lock(&q->lock);
    int rc = map_locked(img, q, off, &m);
    pthread_mutex_unlock(&q->lock);
    if (rc < 0)
      return rc;
    if (m.kind == MAP_DATA)
      rc = vmx__pread_full(img->fd, p, n, m.host + (off & (q->cluster_size - 1)));
    else if (m.kind == MAP_UNALLOCATED && q->backing)
      rc = read_backing(q, off, p, n);
    else
      memset(p, 0, n);
    if (rc < 0)
      return rc;
    p += n, off += n, len -= n;
  }
  return 0;
}

/* ---- allocation ---- */

static int write_zeros(int fd, uint64_t off, uint64_t len) {
  static const uint8_t zeros[65536];
  while (len > 0) {
    size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
    int rc = vmx__pwrite_full(fd, zeros, n, off);
    if (rc < 0)
      return rc;
    off += n, len -= n;
  }
  return 0;
}

static int set_refcount_locked(vmx_image_t *img, qcow2_t *q, uint64_t host_off, uint16_t val);

/* Moves the refcount table to a larger copy at the end of the file so that
 * it has an entry rt_index (and room for its own refcount blocks): the new
 * table is written and counted, then the header is switched to it in one
 * write, then the old table's clusters are freed. A crash in between leaks
 * clusters, nothing worse. */
static int grow_refcount_table_locked(vmx_image_t *img, qcow2_t *q, uint64_t rt_index) {
  unsigned cover = q->cluster_bits + q->rb_bits; /* log2 of the bytes one entry covers */
  uint64_t entries = q->rt_entries * 2, bytes;
  for (;;) {
    bytes = (entries * 8 + q->cluster_size - 1) & ~(q->cluster_size - 1);
    /* the new table and a few refcount blocks after it must be covered */
    uint64_t end = q->next_free + bytes + 4 * q->cluster_size;
    if (entries > rt_index && entries > (end >> cover))
      break;
    entries *= 2;
  }
  if (bytes > QCOW2_MAX_REFT_BYTES) {
    report_locked(img, q, "refcount table would exceed %u bytes", QCOW2_MAX_REFT_BYTES);
    return VMX_EIO;
  }
  entries = bytes / 8;
  uint64_t *rt = calloc(entries, 8), *be = calloc(entries, 8);
  if (!rt || !be) {
    free(rt);
    free(be);
    return VMX_ENOMEM;
  }
  memcpy(rt, q->rt, q->rt_entries * 8);
  for (uint64_t i = 0; i < entries; i++)
    be[i] = __builtin_bswap64(rt[i]);
  uint64_t old_offset = q->rt_offset, old_bytes = q->rt_entries * 8;
  uint64_t table = q->next_free;
  q->next_free += bytes;
  int rc = vmx__pwrite_full(img->fd, be, bytes, table);
  free(be);
  if (rc < 0) {
    free(rt);
    return rc;
  }
  free(q->rt);
  q->rt = rt;
  q->rt_entries = entries;
  q->rt_offset = table;
  for (uint64_t off = 0; off < bytes && rc == 0; off += q->cluster_size)
    rc = set_refcount_locked(img, q, table + off, 1);
  if (rc < 0)
    return rc;
  uint8_t hdr[12];
  uint64_t table_be = __builtin_bswap64(table);
  uint32_t clusters_be = __builtin_bswap32((uint32_t)(bytes >> q->cluster_bits));
  memcpy(hdr, &table_be, 8);
  memcpy(hdr + 8, &clusters_be, 4);
  rc = vmx__pwrite_full(img->fd, hdr, sizeof hdr, 48);
  for (uint64_t off = 0; off < old_bytes && rc == 0; off += q->cluster_size)
    rc = set_refcount_locked(img, q, old_offset + off, 0);
  return rc;
}

/* Sets the refcount of the host cluster at host_off to val, allocating (and
 * counting) a refcount block when its table entry is empty, and growing the
 * table when it has no entry for host_off. */
static int set_refcount_locked(vmx_image_t *img, qcow2_t *q, uint64_t host_off, uint16_t val) {
  uint64_t cluster = host_off >> q->cluster_bits;
  uint64_t rt_index = cluster >> q->rb_bits;
  if (rt_index >= q->rt_entries) {
    int rc = grow_refcount_table_locked(img, q, rt_index);
    if (rc < 0)
      return rc;
  }
  if (!q->rt[rt_index]) {
    uint64_t block = q->next_free;
    q->next_free += q->cluster_size;
    int rc = write_zeros(img->fd, block, q->cluster_size);
    if (rc == 0)
      rc = pwrite_be64(img->fd, q->rt_offset + rt_index * 8, block);
    if (rc < 0)
      return rc;
    q->rt[rt_index] = block;
    /* The block counts itself when it falls in its own range; otherwise
     * this allocates at most one more block (each covers >= 256 clusters). */
    rc = set_refcount_locked(img, q, block, 1);
    if (rc < 0)
      return rc;
  }
  uint16_t be = __builtin_bswap16(val);
  uint64_t index = cluster & ((1ull << q->rb_bits) - 1);
  return vmx__pwrite_full(img->fd, &be, 2, q->rt[rt_index] + index * 2);
}

/* A new host cluster at the end of the file with refcount 1. Its content
 * reads as zeros (it lies past the end of the file until written). */
static int alloc_cluster_locked(vmx_image_t *img, qcow2_t *q, uint64_t *out) {
  uint64_t off = q->next_free;
  q->next_free += q->cluster_size;
  *out = off;
  return set_refcount_locked(img, q, off, 1);
}

/* Gives guest offset voff an L2 table, returning its entry's host offset. */
static int ensure_l2_locked(vmx_image_t *img, qcow2_t *q, uint64_t voff, uint64_t *l2_entry) {
  uint64_t l1_index = voff >> (q->cluster_bits + q->l2_bits);
  uint64_t l2_index = (voff >> q->cluster_bits) & ((1ull << q->l2_bits) - 1);
  uint64_t l2;
  int rc = alloc_cluster_locked(img, q, &l2);
  if (rc == 0)
    rc = write_zeros(img->fd, l2, q->cluster_size);
  if (rc == 0)
    rc = pwrite_be64(img->fd, q->l1_offset + l1_index * 8, l2 | QCOW2_OFLAG_COPIED);
  if (rc < 0)
    return rc;
  q->l1[l1_index] = l2 | QCOW2_OFLAG_COPIED;
  *l2_entry = l2 + l2_index * 8;
  return 0;
}

/* Writes the whole new cluster at host: the backing file's cluster at
 * vcluster with buf[0..n) at offset `in` over it. */
static int write_cow_locked(qcow2_t *q, int fd, uint64_t vcluster, uint64_t host,
                            const void *buf, uint64_t in, size_t n) {
  uint8_t *c = malloc(q->cluster_size);
  if (!c)
    return VMX_ENOMEM;
  int rc = read_backing(q, vcluster, c, q->cluster_size);
  memcpy(c + in, buf, n);
  if (rc == 0)
    rc = vmx__pwrite_full(fd, c, q->cluster_size, host);
  free(c);
  return rc;
}

/* Writes into a cluster without data of its own (unallocated, or a v3 zero
 * cluster), giving it a host cluster: the zero cluster's own when it has one
 * with refcount 1 (the rest is zeroed), else a new one (the rest copied from
 * the backing file when the cluster was unallocated and there is one). */
static int write_fresh_locked(vmx_image_t *img, qcow2_t *q, uint64_t voff, const void *buf,
                              size_t n, qcow2_map_t *m) {
  uint64_t in = voff & (q->cluster_size - 1);
  uint64_t host = m->host;
  int rc = 0;
  if (m->kind == MAP_ZERO && host && m->copied) {
    rc = write_zeros(img->fd, host, in);
    if (rc == 0)
      rc = write_zeros(img->fd, host + in + n, q->cluster_size - in - n);
  } else {
    if (!m->l2_entry)
      rc = ensure_l2_locked(img, q, voff, &m->l2_entry);
    if (rc == 0)
      rc = alloc_cluster_locked(img, q, &host);
  }
  if (rc == 0 && m->kind == MAP_UNALLOCATED && q->backing)
    rc = write_cow_locked(q, img->fd, voff - in, host, buf, in, n);
  else if (rc == 0)
    rc = vmx__pwrite_full(img->fd, buf, n, host + in);
  if (rc == 0)
    rc = pwrite_be64(img->fd, m->l2_entry, host | QCOW2_OFLAG_COPIED);
  return rc;
}

static int qcow2_write(vmx_image_t *img, uint64_t off, const void *buf, size_t len) {
  qcow2_t *q = img->state;
  const uint8_t *p = buf;
  while (len > 0) {
    size_t n = chunk_len(q, off, len);
    qcow2_map_t m;
    pthread_mutex_lock(&q->lock);
    int rc = map_locked(img, q, off, &m);
    bool in_place = rc == 0 && m.kind == MAP_DATA && m.copied;
    if (rc == 0 && m.kind == MAP_DATA && !m.copied) {
      report_locked(img, q, "cluster at guest offset 0x%" PRIx64 " is shared (no COPIED flag)",
                    off);
      rc = VMX_EIO;
    }
    if (rc == 0 && !in_place)
      rc = write_fresh_locked(img, q, off, p, n, &m);
    pthread_mutex_unlock(&q->lock);
    if (rc == 0 && in_place)
      rc = vmx__pwrite_full(img->fd, p, n, m.host + (off & (q->cluster_size - 1)));
    if (rc < 0)
      return rc;
    p += n, off += n, len -= n;
  }
  return 0;
}

static int qcow2_write_zeroes(vmx_image_t *img, uint64_t off, uint64_t len) {
  static const uint8_t zeros[65536];
  qcow2_t *q = img->state;
  while (len > 0) {
    size_t n = chunk_len(q, off, len > sizeof zeros ? sizeof zeros : (size_t)len);
    qcow2_map_t m;
    pthread_mutex_lock(&q->lock);
    int rc = map_locked(img, q, off, &m);
    pthread_mutex_unlock(&q->lock);
    if (rc == 0 && (m.kind == MAP_DATA || (m.kind == MAP_UNALLOCATED && q->backing)))
      rc = qcow2_write(img, off, zeros, n);
    if (rc < 0)
      return rc;
    off += n, len -= n;
  }
  return 0;
}

static const vmx__image_driver_t qcow2_driver = {
    .format = "qcow2",
    .read = qcow2_read,
    .write = qcow2_write,
    .discard = NULL, /* advisory; freeing clusters is not implemented */
    .write_zeroes = qcow2_write_zeroes,
    .close = qcow2_close,
};
