/* The trace recorder (a bus tap writing msgpack records), the checked trace
 * reader, and `vmx trace dump`. The format is described in trace.h. */
#include "bus/trace.h"
#include "base/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

/* ------------------------------------------------------------ msgpack out */

/* Appends v as the shortest msgpack unsigned integer; returns the new end. */
static uint8_t *put_uint(uint8_t *p, uint64_t v) {
  if (v < 128) {
    *p++ = (uint8_t)v;
    return p;
  }
  unsigned n;
  if (v <= UINT8_MAX) {
    *p++ = 0xcc, n = 1;
  } else if (v <= UINT16_MAX) {
    *p++ = 0xcd, n = 2;
  } else if (v <= UINT32_MAX) {
    *p++ = 0xce, n = 4;
  } else {
    *p++ = 0xcf, n = 8;
  }
  for (unsigned i = n; i-- > 0;)
    *p++ = (uint8_t)(v >> (8 * i));
  return p;
}

/* Appends a str of len bytes (len < 65536); returns the new end. */
static uint8_t *put_str(uint8_t *p, const char *s, size_t len) {
  if (len < 32) {
    *p++ = (uint8_t)(0xa0 | len);
  } else if (len <= UINT8_MAX) {
    *p++ = 0xd9, *p++ = (uint8_t)len;
  } else {
    *p++ = 0xda, *p++ = (uint8_t)(len >> 8), *p++ = (uint8_t)len;
  }
  memcpy(p, s, len);
  return p + len;
}

/* ------------------------------------------------------------------ schema */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * UINT64_C(0x100000001b3);
  return h;
}

static uint64_t fnv1a_str(uint64_t h, const char *s) { return fnv1a(h, s, strlen(s) + 1); }

/* Little-endian, so the hash is the same on every host. */
static uint64_t fnv1a_u32(uint64_t h, uint32_t v) {
  uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  return fnv1a(h, le, sizeof le);
}

uint64_t vmx_trace_schema_hash(void) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (unsigned t = 0; t < VMX_TOPIC_COUNT; t++)
    h = fnv1a_str(h, vmx_topic_name(t));
  for (uint32_t type = 1; type < VMX_MSG_COUNT; type++) {
    const vmx_msg_schema_t *s = vmx_msg_schema(type);
    h = fnv1a_str(h, s->name);
    h = fnv1a_u32(h, s->version);
    h = fnv1a_u32(h, (uint32_t)s->topic);
    for (unsigned i = 0; i < s->nfields; i++) {
      h = fnv1a_str(h, s->fields[i].name);
      h = fnv1a_u32(h, (uint32_t)s->fields[i].type);
    }
  }
  return h;
}

/* ----------------------------------------------------------------- errors */

static void set_error(vmx_trace_error_t *err, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(vmx_trace_error_t *err, size_t offset, const char *fmt, ...) {
  if (!err)
    return;
  err->offset = offset;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->text, sizeof err->text, fmt, ap);
  va_end(ap);
}

int vmx_trace_topics_parse(const char *list, uint64_t *mask, vmx_trace_error_t *err) {
  if (!list || !*list || !strcasecmp(list, "all")) {
    *mask = VMX_TOPICS_ALL;
    return 0;
  }
  uint64_t m = 0;
  const char *p = list;
  for (;;) {
    size_t n = strcspn(p, ",");
    unsigned t = 0;
    while (t < VMX_TOPIC_COUNT &&
           !(strlen(vmx_topic_name(t)) == n && !strncasecmp(vmx_topic_name(t), p, n)))
      t++;
    if (t == VMX_TOPIC_COUNT) {
      set_error(err, 0, "unknown topic '%.*s' in '%s' (topics are listed in docs/messages.md)",
                (int)n, p, list);
      return VMX_EINVAL;
    }
    m |= UINT64_C(1) << t;
    if (!p[n])
      break;
    p += n + 1;
  }
  *mask = m;
  return 0;
}

/* ---------------------------------------------------------------- recorder */

/* Records of one loop collect in its buffer, written to the file when full.
 * Loops with an index of VMX_TRACE_LOOP_BUFS or more share the last buffer;
 * each buffer's lock is taken by the loops that use it (uncontended for the
 * first VMX_TRACE_LOOP_BUFS loops) and by close. */
#define VMX_TRACE_LOOP_BUFS 64
#define VMX_TRACE_BUF_SIZE (64 * 1024)
/* Largest record: array header, loop (u16), t_ns (u64), bin8 header, bytes. */
#define VMX_TRACE_RECORD_MAX (1 + 3 + 9 + 2 + VMX_MSG_MAX_ENCODED)

typedef struct trace_buf {
  pthread_mutex_t lock;
  size_t len;
  uint8_t data[VMX_TRACE_BUF_SIZE];
} trace_buf_t;

struct vmx_trace_rec {
  vmx_bus_t *bus;
  unsigned tap_id;
  uint64_t t0_ns;  /* CLOCK_MONOTONIC at open */
  char *path;
  char *tmp_path;
  /* file_lock guards f and write_errno (the buffers' owners write through it). */
  pthread_mutex_t file_lock;
  FILE *f;
  int write_errno; /* first failed write's errno, 0 if none */
  uint64_t count;  /* records taken; atomic, relaxed (a statistic) */
  uint64_t lost;   /* records lost for want of a buffer; atomic, relaxed */
  /* Allocated on a loop's first message; published with a release CAS. */
  trace_buf_t *bufs[VMX_TRACE_LOOP_BUFS + 1];
};

static void write_locked(vmx_trace_rec_t *rec, const void *data, size_t len) {
  if (rec->write_errno || len == 0 || !rec->f) /* !f: after vmx_trace_finish */
    return;
  if (fwrite(data, 1, len, rec->f) != len)
    rec->write_errno = errno ? errno : EIO;
}

static void buf_flush_locked(vmx_trace_rec_t *rec, trace_buf_t *b) {
  pthread_mutex_lock(&rec->file_lock);
  write_locked(rec, b->data, b->len);
  pthread_mutex_unlock(&rec->file_lock);
  b->len = 0;
}

static trace_buf_t *buf_for(vmx_trace_rec_t *rec, unsigned loop) {
  unsigned i = loop < VMX_TRACE_LOOP_BUFS ? loop : VMX_TRACE_LOOP_BUFS;
  /* Acquire: pairs with the release CAS below, so the mutex is initialised. */
  trace_buf_t *b = __atomic_load_n(&rec->bufs[i], __ATOMIC_ACQUIRE);
  if (b)
    return b;
  trace_buf_t *fresh = malloc(sizeof *fresh);
  if (!fresh)
    return NULL;
  pthread_mutex_init(&fresh->lock, NULL);
  fresh->len = 0;
  if (__atomic_compare_exchange_n(&rec->bufs[i], &b, fresh, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return fresh;
  pthread_mutex_destroy(&fresh->lock); /* another loop sharing slot i won */
  free(fresh);
  return b;
}

static void trace_tap(void *arg, unsigned loop, const vmx_msg_t *msg, const uint8_t *bytes,
                      size_t len) {
  (void)msg;
  vmx_trace_rec_t *rec = arg;
  trace_buf_t *b = buf_for(rec, loop);
  if (!b || len > VMX_MSG_MAX_ENCODED) {
    __atomic_fetch_add(&rec->lost, 1, __ATOMIC_RELAXED);
    return;
  }
  uint64_t t = vmx_clock_ns(CLOCK_MONOTONIC) - rec->t0_ns;
  pthread_mutex_lock(&b->lock);
  if (b->len + VMX_TRACE_RECORD_MAX > sizeof b->data)
    buf_flush_locked(rec, b);
  uint8_t *p = b->data + b->len;
  *p++ = 0x93;
  p = put_uint(p, loop);
  p = put_uint(p, t);
  *p++ = 0xc4; /* bin8: len <= VMX_MSG_MAX_ENCODED < 256 */
  *p++ = (uint8_t)len;
  memcpy(p, bytes, len);
  b->len = (size_t)(p + len - b->data);
  pthread_mutex_unlock(&b->lock);
  __atomic_fetch_add(&rec->count, 1, __ATOMIC_RELAXED);
}

static int write_header(vmx_trace_rec_t *rec) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0)
    host[0] = '\0';
  uint8_t hdr[64 + sizeof host], *p = hdr;
  *p++ = 0x95;
  p = put_str(p, VMX_TRACE_MAGIC, strlen(VMX_TRACE_MAGIC));
  p = put_uint(p, VMX_TRACE_FORMAT);
  p = put_uint(p, vmx_trace_schema_hash());
  p = put_uint(p, vmx_clock_ns(CLOCK_REALTIME));
  p = put_str(p, host, strlen(host));
  write_locked(rec, hdr, (size_t)(p - hdr));
  return rec->write_errno ? VMX_EIO : 0;
}

static void rec_free(vmx_trace_rec_t *rec) {
  for (unsigned i = 0; i <= VMX_TRACE_LOOP_BUFS; i++) {
    if (rec->bufs[i]) {
      pthread_mutex_destroy(&rec->bufs[i]->lock);
      free(rec->bufs[i]);
    }
  }
  pthread_mutex_destroy(&rec->file_lock);
  free(rec->path);
  free(rec->tmp_path);
  free(rec);
}

int vmx_trace_open(vmx_bus_t *bus, const char *path, const char *topics, vmx_trace_rec_t **out,
                   vmx_trace_error_t *err) {
  uint64_t mask;
  int rc = vmx_trace_topics_parse(topics, &mask, err);
  if (rc)
    return rc;
  vmx_trace_rec_t *rec = calloc(1, sizeof *rec);
  size_t n = strlen(path) + 32;
  if (!rec || !(rec->path = strdup(path)) || !(rec->tmp_path = malloc(n))) {
    if (rec)
      free(rec->path);
    free(rec);
    set_error(err, 0, "%s: out of memory", path);
    return VMX_ENOMEM;
  }
  pthread_mutex_init(&rec->file_lock, NULL);
  rec->bus = bus;
  snprintf(rec->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
  rec->f = fopen(rec->tmp_path, "wb");
  if (!rec->f) {
    set_error(err, 0, "%s: cannot create: %s", rec->tmp_path, strerror(errno));
    rec_free(rec);
    return VMX_EIO;
  }
  rec->t0_ns = vmx_clock_ns(CLOCK_MONOTONIC);
  if (write_header(rec) != 0 || vmx_bus_subscribe(bus, mask, trace_tap, rec, &rec->tap_id) != 0) {
    set_error(err, 0, "%s: %s", path,
              rec->write_errno ? strerror(rec->write_errno) : "no tap slot left on the bus");
    rc = rec->write_errno ? VMX_EIO : VMX_ENOMEM;
    fclose(rec->f);
    remove(rec->tmp_path);
    rec_free(rec);
    return rc;
  }
  *out = rec;
  return 0;
}

uint64_t vmx_trace_count(const vmx_trace_rec_t *rec) {
  return __atomic_load_n(&rec->count, __ATOMIC_RELAXED);
}

int vmx_trace_finish(vmx_trace_rec_t *rec) {
  if (!rec || !rec->f)
    return 0;
  vmx_bus_unsubscribe(rec->bus, rec->tap_id);
  for (unsigned i = 0; i <= VMX_TRACE_LOOP_BUFS; i++) {
    trace_buf_t *b = rec->bufs[i];
    if (b) {
      pthread_mutex_lock(&b->lock);
      buf_flush_locked(rec, b);
      pthread_mutex_unlock(&b->lock);
    }
  }
  /* Under every buffer's lock, so a late tap call sees f gone. */
  for (unsigned i = 0; i <= VMX_TRACE_LOOP_BUFS; i++)
    if (rec->bufs[i])
      pthread_mutex_lock(&rec->bufs[i]->lock);
  FILE *f = rec->f;
  rec->f = NULL;
  for (unsigned i = 0; i <= VMX_TRACE_LOOP_BUFS; i++)
    if (rec->bufs[i])
      pthread_mutex_unlock(&rec->bufs[i]->lock);
  if (fclose(f) != 0 && !rec->write_errno)
    rec->write_errno = errno ? errno : EIO;
  int rc = 0;
  if (!rec->write_errno && rename(rec->tmp_path, rec->path) != 0)
    rec->write_errno = errno;
  if (rec->write_errno) {
    vmx_log_error("%s: trace not written: %s", rec->path, strerror(rec->write_errno));
    remove(rec->tmp_path);
    rc = VMX_EIO;
  }
  uint64_t lost = __atomic_load_n(&rec->lost, __ATOMIC_RELAXED);
  if (lost)
    vmx_log_error("%s: %" PRIu64 " messages not recorded (out of memory)", rec->path, lost);
  return rc;
}

int vmx_trace_close(vmx_trace_rec_t *rec) {
  if (!rec)
    return 0;
  int rc = vmx_trace_finish(rec);
  rec_free(rec);
  return rc;
}

/* ------------------------------------------------------------------ reader */

struct vmx_trace_reader {
  char *path;
  uint8_t *data;
  size_t size;
  size_t pos;   /* offset of the next record */
  bool failed;  /* an error was reported; every later call repeats it */
  vmx_trace_header_t header;
  vmx_trace_error_t error;
};

/* A msgpack cursor over data[0, size), reading one item of a record or the
 * header that starts at `start`. Every read checks the room left; on running
 * short it records how many bytes the item needed. */
typedef struct cursor {
  const uint8_t *data;
  size_t size, pos, start;
  size_t need; /* on VMX_ERANGE: bytes from start the item needed */
  bool whole;  /* need counts the whole record (its bin length was known) */
} cursor_t;

/* Makes sure n more bytes are there; VMX_ERANGE (truncated) if not. */
static int cur_need(cursor_t *c, size_t n) {
  if (c->size - c->pos >= n)
    return 0;
  c->need = c->pos + n - c->start;
  return VMX_ERANGE;
}

static uint64_t cur_be(cursor_t *c, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++)
    v = v << 8 | c->data[c->pos++];
  return v;
}

/* Reads an unsigned integer: 0, VMX_ERANGE (truncated) or VMX_EINVAL (not an
 * unsigned integer; c->pos stays at its tag). */
static int cur_uint(cursor_t *c, uint64_t *v) {
  int rc = cur_need(c, 1);
  if (rc)
    return rc;
  uint8_t tag = c->data[c->pos];
  unsigned n;
  if (tag < 0x80) {
    c->pos++;
    *v = tag;
    return 0;
  }
  if (tag < 0xcc || tag > 0xcf)
    return VMX_EINVAL;
  n = 1u << (tag - 0xcc);
  if ((rc = cur_need(c, 1 + n)))
    return rc;
  c->pos++;
  *v = cur_be(c, n);
  return 0;
}

/* Reads the header of a str (want_str) or bin: its length in *len, with the
 * bytes there. Returns as cur_uint. */
static int cur_blob(cursor_t *c, bool want_str, size_t *len) {
  int rc = cur_need(c, 1);
  if (rc)
    return rc;
  uint8_t tag = c->data[c->pos];
  unsigned n;
  if (want_str && tag >= 0xa0 && tag <= 0xbf) {
    n = 0;
  } else if (tag == (want_str ? 0xd9 : 0xc4)) {
    n = 1;
  } else if (tag == (want_str ? 0xda : 0xc5)) {
    n = 2;
  } else if (tag == (want_str ? 0xdb : 0xc6)) {
    n = 4;
  } else {
    return VMX_EINVAL;
  }
  if ((rc = cur_need(c, 1 + n)))
    return rc;
  c->pos++;
  *len = n ? (size_t)cur_be(c, n) : (size_t)(tag & 0x1f);
  c->whole = true;
  return cur_need(c, *len);
}

/* Reads an array header. Returns as cur_uint. */
static int cur_array(cursor_t *c, uint32_t *count) {
  int rc = cur_need(c, 1);
  if (rc)
    return rc;
  uint8_t tag = c->data[c->pos];
  if (tag >= 0x90 && tag <= 0x9f) {
    c->pos++;
    *count = tag & 0x0f;
    return 0;
  }
  unsigned n = tag == 0xdc ? 2 : tag == 0xdd ? 4 : 0;
  if (!n)
    return VMX_EINVAL;
  if ((rc = cur_need(c, 1 + n)))
    return rc;
  c->pos++;
  *count = (uint32_t)cur_be(c, n);
  return 0;
}

/* Reports a failed read of item `what` in the record or header at c->start. */
static int reader_fail(vmx_trace_reader_t *r, const cursor_t *c, int rc, const char *part,
                       const char *what) {
  r->failed = true;
  if (rc == VMX_ERANGE)
    set_error(&r->error, c->start,
              "%s: truncated %s at offset %zu (needs %s%zu bytes, %zu left)", r->path, part,
              c->start, c->whole ? "" : "at least ", c->need, c->size - c->start);
  else
    set_error(&r->error, c->pos, "%s: bad %s at offset %zu: byte 0x%02x at offset %zu is not %s",
              r->path, part, c->start, c->data[c->pos], c->pos, what);
  return VMX_EINVAL;
}

static int read_header(vmx_trace_reader_t *r) {
  cursor_t c = {.data = r->data, .size = r->size};
  const char *magic = VMX_TRACE_MAGIC;
  size_t mlen = strlen(magic);
  r->failed = true;
  if (r->size == 0) {
    set_error(&r->error, 0, "%s: empty file at offset 0 (not a vmx trace)", r->path);
    return VMX_EINVAL;
  }
  /* The magic: an array of at least 2 whose first item is "VMXTRACE". A
   * short file that matches as far as it goes is a truncated trace. */
  uint8_t want[16] = {0x95, (uint8_t)(0xa0 | mlen)};
  memcpy(want + 2, magic, mlen);
  size_t have = r->size < mlen + 2 ? r->size : mlen + 2;
  bool arr_ok = (r->data[0] >= 0x92 && r->data[0] <= 0x9f);
  if (!arr_ok || memcmp(r->data + 1, want + 1, have - 1) != 0) {
    set_error(&r->error, 0, "%s: bad magic at offset 0 (not a vmx trace)", r->path);
    return VMX_EINVAL;
  }
  uint32_t count;
  size_t len;
  int rc = cur_array(&c, &count);
  if (!rc)
    rc = cur_blob(&c, true, &len);
  if (rc)
    return reader_fail(r, &c, rc, "header", "");
  c.pos += len;
  uint64_t format, schema, created;
  size_t format_at = c.pos;
  if ((rc = cur_uint(&c, &format)))
    return reader_fail(r, &c, rc, "header", "an unsigned integer (format version)");
  if (format != VMX_TRACE_FORMAT) {
    set_error(&r->error, format_at,
              "%s: unknown format version %" PRIu64 " at offset %zu (this vmx reads version %d)",
              r->path, format, format_at, VMX_TRACE_FORMAT);
    return VMX_EINVAL;
  }
  if (count != 5) {
    set_error(&r->error, 0, "%s: bad header at offset 0: %u items, expected 5", r->path, count);
    return VMX_EINVAL;
  }
  if ((rc = cur_uint(&c, &schema)) || (rc = cur_uint(&c, &created)))
    return reader_fail(r, &c, rc, "header", "an unsigned integer (schema, created_ns)");
  if ((rc = cur_blob(&c, true, &len)))
    return reader_fail(r, &c, rc, "header", "a string (host)");
  if (len >= sizeof r->header.host) {
    set_error(&r->error, c.pos, "%s: bad header at offset 0: host name of %zu bytes", r->path,
              len);
    return VMX_EINVAL;
  }
  r->header.format = (uint32_t)format;
  r->header.schema = schema;
  r->header.created_ns = created;
  memcpy(r->header.host, r->data + c.pos, len);
  r->header.host[len] = '\0';
  r->pos = c.pos + len;
  r->failed = false;
  return 0;
}

int vmx_trace_read_open(const char *path, vmx_trace_reader_t **out, vmx_trace_error_t *err) {
  vmx_trace_reader_t *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    set_error(err, 0, "%s: out of memory", path);
    return VMX_ENOMEM;
  }
  int rc = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_error(err, 0, "%s: cannot open: %s", path, strerror(errno));
    vmx_trace_read_close(r);
    return VMX_EIO;
  }
  /* Read it whole: records are small and the reader checks them in place. */
  size_t cap = 0;
  for (;;) {
    if (r->size == cap) {
      cap = cap ? cap * 2 : 64 * 1024;
      uint8_t *grown = realloc(r->data, cap);
      if (!grown) {
        rc = VMX_ENOMEM;
        set_error(err, 0, "%s: out of memory", path);
        break;
      }
      r->data = grown;
    }
    size_t got = fread(r->data + r->size, 1, cap - r->size, f);
    r->size += got;
    if (got == 0) {
      if (ferror(f)) {
        rc = VMX_EIO;
        set_error(err, r->size, "%s: read error at offset %zu: %s", path, r->size,
                  strerror(errno));
      }
      break;
    }
  }
  fclose(f);
  if (!rc && (rc = read_header(r)) && err)
    *err = r->error;
  if (rc) {
    vmx_trace_read_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

const vmx_trace_header_t *vmx_trace_read_header(const vmx_trace_reader_t *r) {
  return &r->header;
}

int vmx_trace_next(vmx_trace_reader_t *r, vmx_trace_record_t *rec) {
  if (r->failed)
    return VMX_EINVAL;
  if (r->pos == r->size)
    return 0;
  cursor_t c = {.data = r->data, .size = r->size, .pos = r->pos, .start = r->pos};
  uint32_t count;
  uint64_t loop, t;
  size_t len;
  int rc = cur_array(&c, &count);
  if (rc)
    return reader_fail(r, &c, rc, "record", "an array");
  if (count != 3) {
    r->failed = true;
    set_error(&r->error, c.start, "%s: bad record at offset %zu: %u items, expected 3", r->path,
              c.start, count);
    return VMX_EINVAL;
  }
  if ((rc = cur_uint(&c, &loop)))
    return reader_fail(r, &c, rc, "record", "an unsigned integer (loop)");
  if ((rc = cur_uint(&c, &t)))
    return reader_fail(r, &c, rc, "record", "an unsigned integer (t_ns)");
  size_t bin_at = c.pos;
  if ((rc = cur_blob(&c, false, &len)))
    return reader_fail(r, &c, rc, "record", "a bin (message bytes)");
  if (loop > 0xffff || len > VMX_MSG_MAX_ENCODED) {
    r->failed = true;
    set_error(&r->error, c.start, "%s: bad record at offset %zu: %s %" PRIu64 " out of range",
              r->path, c.start, loop > 0xffff ? "loop" : "message length",
              loop > 0xffff ? loop : (uint64_t)len);
    return VMX_EINVAL;
  }
  vmx_msg_error_t merr;
  if (vmx_msg_decode(r->data + c.pos, len, &rec->msg, &merr) != 0) {
    r->failed = true;
    /* merr.text starts "offset N: " relative to the message; name the file's. */
    const char *why = merr.text;
    const char *colon = strncmp(why, "offset ", 7) ? NULL : strstr(why, ": ");
    if (colon)
      why = colon + 2;
    set_error(&r->error, c.pos + merr.offset,
              "%s: bad message at offset %zu (record at offset %zu, bin at %zu): %s", r->path,
              c.pos + merr.offset, c.start, bin_at, why);
    return VMX_EINVAL;
  }
  rec->offset = c.start;
  rec->loop = (unsigned)loop;
  rec->t_ns = t;
  rec->bytes = r->data + c.pos;
  rec->len = len;
  r->pos = c.pos + len;
  return 1;
}

const vmx_trace_error_t *vmx_trace_read_error(const vmx_trace_reader_t *r) {
  return r->failed ? &r->error : NULL;
}

void vmx_trace_read_close(vmx_trace_reader_t *r) {
  if (!r)
    return;
  free(r->data);
  free(r->path);
  free(r);
}

/* -------------------------------------------------------------------- dump */

static void print_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

static int trace_dump(const char *path, FILE *out, FILE *errout) {
  vmx_trace_reader_t *r;
  vmx_trace_error_t err;
  if (vmx_trace_read_open(path, &r, &err) != 0) {
    fprintf(errout, "vmx trace dump: %s\n", err.text);
    return 1;
  }
  const vmx_trace_header_t *h = vmx_trace_read_header(r);
  fprintf(out,
          "{\"magic\":\"" VMX_TRACE_MAGIC "\",\"format\":%u,\"schema\":\"%016" PRIx64
          "\",\"schema_match\":%s,\"created_ns\":%" PRIu64 ",\"host\":",
          h->format, h->schema, h->schema == vmx_trace_schema_hash() ? "true" : "false",
          h->created_ns);
  print_json_string(out, h->host);
  fputs("}\n", out);
  vmx_trace_record_t rec;
  int rc;
  while ((rc = vmx_trace_next(r, &rec)) == 1) {
    fprintf(out, "{\"offset\":%zu,\"loop\":%u,\"t_ns\":%" PRIu64 ",\"msg\":", rec.offset,
            rec.loop, rec.t_ns);
    vmx_msg_print_json(out, &rec.msg);
    fputs("}\n", out);
  }
  int status = 0;
  if (rc < 0) {
    fflush(out);
    fprintf(errout, "vmx trace dump: %s\n", vmx_trace_read_error(r)->text);
    status = 1;
  }
  vmx_trace_read_close(r);
  if (fflush(out) != 0 || ferror(out)) {
    fprintf(errout, "vmx trace dump: write error: %s\n", strerror(errno));
    status = 1;
  }
  return status;
}

int vmx_trace_main(int argc, char **argv, FILE *out, FILE *err) {
  if (argc == 3 && !strcmp(argv[1], "dump"))
    return trace_dump(argv[2], out, err);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fprintf(out, "usage: vmx trace dump FILE\n"
                 "  print a trace file as JSON lines: the header, then one line per message\n");
    return 0;
  }
  fprintf(err, "usage: vmx trace dump FILE\n");
  return 2;
}
