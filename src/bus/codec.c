/* msgpack encode and decode of bus messages, the schema table, and the
 * printers (JSON, Markdown), all generated from messages.def.
 *
 * Encoding goes through msgpack-c's packer into a bounded buffer. Decoding is a
 * reader of exactly the msgpack subset the schema allows; it checks each tag,
 * length, range and count before using it (bus.h says why it is not
 * msgpack-c's generic unpacker).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <msgpack.h>

#include "bus/bus.h"

/* ------------------------------------------------------------------ schema */

#define VMX_FIELD(TYPE, fname, fdoc) {#fname, VMX_FIELD_##TYPE, fdoc},
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  static const vmx_field_schema_t schema_fields_##name[] = {fields{NULL, 0, NULL}};
#include "bus/messages.def"
#undef VMX_FIELD

#define VMX_FIELD(TYPE, fname, fdoc) +1
static const vmx_msg_schema_t msg_schemas[VMX_MSG_COUNT] = {
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  [VMX_MSG_##NAME] = {#NAME, VMX_MSG_##NAME, version, VMX_TOPIC_##TOPIC, doc, 0 fields, schema_fields_##name},
#include "bus/messages.def"
};
#undef VMX_FIELD

static const char *const topic_names[] = {
#define VMX_TOPIC(NAME, doc) #NAME,
#include "bus/messages.def"
};

static const char *const topic_docs[] = {
#define VMX_TOPIC(NAME, doc) doc,
#include "bus/messages.def"
};

static const char *const field_type_names[] = {
#define T(TYPE, ctype, max, name) name,
    VMX_FIELD_TYPES(T)
#undef T
};

const vmx_msg_schema_t *vmx_msg_schema(uint32_t type) {
  if (type == VMX_MSG_INVALID || type >= VMX_MSG_COUNT)
    return NULL;
  return &msg_schemas[type];
}

const char *vmx_topic_name(unsigned topic) {
  return topic < VMX_TOPIC_COUNT ? topic_names[topic] : NULL;
}

const char *vmx_topic_doc(unsigned topic) {
  return topic < VMX_TOPIC_COUNT ? topic_docs[topic] : NULL;
}

const char *vmx_field_type_name(vmx_field_type_t type) {
  return (unsigned)type < sizeof field_type_names / sizeof field_type_names[0]
             ? field_type_names[type]
             : NULL;
}

vmx_topic_t vmx_msg_topic(uint32_t type) {
  const vmx_msg_schema_t *s = vmx_msg_schema(type);
  return s ? s->topic : VMX_TOPIC_COUNT;
}

void vmx_str_set(vmx_str_t *dst, const char *text) {
  size_t n = strnlen(text, VMX_STR_MAX - 1);
  memcpy(dst->s, text, n);
  memset(dst->s + n, 0, VMX_STR_MAX - n);
}

/* ------------------------------------------------------------------ encode */

typedef struct out_buf {
  uint8_t *p;
  size_t n, cap;
  bool overflow;
} out_buf_t;

static int out_write(void *data, const char *bytes, size_t len) {
  out_buf_t *o = data;
  if (len > o->cap - o->n) {
    o->overflow = true;
    return -1;
  }
  memcpy(o->p + o->n, bytes, len);
  o->n += len;
  return 0;
}

static inline void put_BOOL(msgpack_packer *pk, const bool *v) {
  if (*v)
    msgpack_pack_true(pk);
  else
    msgpack_pack_false(pk);
}
static inline void put_U32(msgpack_packer *pk, const uint32_t *v) { msgpack_pack_uint32(pk, *v); }
static inline void put_U64(msgpack_packer *pk, const uint64_t *v) { msgpack_pack_uint64(pk, *v); }
static inline void put_I32(msgpack_packer *pk, const int32_t *v) { msgpack_pack_int32(pk, *v); }
static inline void put_I64(msgpack_packer *pk, const int64_t *v) { msgpack_pack_int64(pk, *v); }
static inline void put_F64(msgpack_packer *pk, const double *v) { msgpack_pack_double(pk, *v); }
static inline void put_ADDR(msgpack_packer *pk, const vmx_addr_t *v) { msgpack_pack_uint64(pk, *v); }
/* Out of line: inlined into vmx_msg_encode, GCC 12 with -fsanitize loses
 * track of which union member v is and reports a false stringop-overread. */
static __attribute__((noinline)) void put_STR(msgpack_packer *pk, const vmx_str_t *v) {
  /* A string the sender left unterminated is cut at VMX_STR_MAX - 1 bytes. */
  size_t n = strnlen(v->s, VMX_STR_MAX - 1);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, v->s, n);
}

int vmx_msg_encode(const vmx_msg_t *msg, void *buf, size_t cap, size_t *len) {
  const vmx_msg_schema_t *s = vmx_msg_schema(msg->env.type);
  if (!s)
    return VMX_EINVAL;
  out_buf_t o = {buf, 0, cap, false};
  msgpack_packer pk;
  msgpack_packer_init(&pk, &o, out_write);
  msgpack_pack_array(&pk, 8);
  msgpack_pack_uint32(&pk, msg->env.type);
  msgpack_pack_uint32(&pk, s->version);
  msgpack_pack_uint64(&pk, msg->env.src);
  msgpack_pack_uint64(&pk, msg->env.dst);
  msgpack_pack_uint64(&pk, msg->env.seq);
  if (msg->env.icount == VMX_ICOUNT_NONE)
    msgpack_pack_nil(&pk);
  else
    msgpack_pack_uint64(&pk, msg->env.icount);
  msgpack_pack_uint64(&pk, msg->env.corr);
  msgpack_pack_array(&pk, s->nfields);
  switch (msg->env.type) {
#define VMX_FIELD(TYPE, fname, doc) put_##TYPE(&pk, &b->fname);
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  case VMX_MSG_##NAME: {                                 \
    const vmx_msg_##name##_t *b = &msg->body.name;       \
    (void)b;                                             \
    fields                                               \
  } break;
#include "bus/messages.def"
#undef VMX_FIELD
  }
  if (o.overflow)
    return VMX_ERANGE;
  *len = o.n;
  return 0;
}

/* ------------------------------------------------------------------ decode */

typedef struct reader {
  const uint8_t *base, *p, *end;
  vmx_msg_error_t *err;
  const char *where; /* "envelope" or the message name */
  const char *field; /* the field being read */
} reader_t;

static const char *tag_name(uint8_t b) {
  if (b <= 0x7f || (b >= 0xcc && b <= 0xcf))
    return "an unsigned integer";
  if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
    return "a signed integer";
  if (b <= 0x8f || b == 0xde || b == 0xdf)
    return "a map";
  if (b <= 0x9f || b == 0xdc || b == 0xdd)
    return "an array";
  if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
    return "a string";
  switch (b) {
  case 0xc0: return "nil";
  case 0xc1: return "the never-used byte 0xc1";
  case 0xc2: case 0xc3: return "a boolean";
  case 0xc4: case 0xc5: case 0xc6: return "binary data";
  case 0xca: case 0xcb: return "a float";
  default: return "an extension";
  }
}

__attribute__((format(printf, 2, 3))) static int fail(reader_t *r, const char *fmt, ...) {
  if (r->err) {
    vmx_msg_error_t *e = r->err;
    e->offset = (size_t)(r->p - r->base);
    int n = snprintf(e->text, sizeof e->text, "offset %zu: %s%s%s: ", e->offset, r->where,
                     r->field ? "." : "", r->field ? r->field : "");
    if (n < 0 || (size_t)n >= sizeof e->text)
      n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text + n, sizeof e->text - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return VMX_EINVAL;
}

static inline int need(reader_t *r, size_t n) {
  size_t have = (size_t)(r->end - r->p);
  if (have < n)
    return fail(r, "truncated: %zu more byte%s needed, %zu left", n, n == 1 ? "" : "s", have);
  return 0;
}

/* Reads an n-byte big-endian number, n in {1, 2, 4, 8}. */
static inline uint64_t load_be(const uint8_t *p, unsigned n) {
  switch (n) {
  case 1:
    return p[0];
  case 2: {
    uint16_t v;
    memcpy(&v, p, 2);
    return __builtin_bswap16(v);
  }
  case 4: {
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
  }
  default: {
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
  }
  }
}

/* Reads any msgpack integer: *neg tells whether it is below zero; then *sv
 * holds it, else *uv does. */
static int get_integer(reader_t *r, const char *want, bool *neg, int64_t *sv, uint64_t *uv) {
  int rc = need(r, 1);
  if (rc)
    return rc;
  uint8_t tag = *r->p;
  *neg = false;
  if (tag <= 0x7f) {
    *uv = tag;
    r->p++;
    return 0;
  }
  if (tag >= 0xe0) {
    *neg = true;
    *sv = (int8_t)tag;
    r->p++;
    return 0;
  }
  if (tag >= 0xcc && tag <= 0xd3) {
    unsigned width = 1u << ((tag - 0xcc) & 3);
    if ((rc = need(r, 1 + width)) != 0)
      return rc;
    uint64_t raw = load_be(r->p + 1, width);
    if (tag <= 0xcf) {
      *uv = raw;
    } else {
      /* Sign-extend from the encoded width. */
      unsigned shift = 64 - 8 * width;
      int64_t v = (int64_t)(raw << shift) >> shift;
      if (v < 0) {
        *neg = true;
        *sv = v;
      } else {
        *uv = (uint64_t)v;
      }
    }
    r->p += 1 + width;
    return 0;
  }
  return fail(r, "expected %s, found %s (0x%02x)", want, tag_name(tag), tag);
}

static __attribute__((noinline)) int get_unsigned_slow(reader_t *r, uint64_t max, uint64_t *out) {
  bool neg = false;
  int64_t sv = 0;
  uint64_t uv = 0; /* set by get_integer on success; zeroed for gcc -O3's benefit */
  const uint8_t *at = r->p;
  int rc = get_integer(r, "an unsigned integer", &neg, &sv, &uv);
  if (rc)
    return rc;
  if (neg || uv > max) {
    r->p = at;
    if (neg)
      return fail(r, "%" PRId64 " is negative; the field is unsigned", sv);
    return fail(r, "%" PRIu64 " is out of range (at most %" PRIu64 ")", uv, max);
  }
  *out = uv;
  return 0;
}

/* The forms our encoder writes for unsigned values (positive fixint and
 * uint8-64) read inline; everything else, errors included, goes the long way. */
static inline __attribute__((always_inline)) int get_unsigned(reader_t *r, uint64_t max,
                                                               uint64_t *out) {
  if (r->p < r->end) {
    uint8_t tag = *r->p;
    if (tag <= 0x7f) {
      *out = tag; /* every max is >= 0x7f */
      r->p++;
      return 0;
    }
    if (tag >= 0xcc && tag <= 0xcf) {
      unsigned width = 1u << (tag - 0xcc);
      if ((size_t)(r->end - r->p) > width) {
        uint64_t v = load_be(r->p + 1, width);
        if (v <= max) {
          *out = v;
          r->p += 1 + width;
          return 0;
        }
      }
    }
  }
  return get_unsigned_slow(r, max, out);
}

static int get_signed(reader_t *r, int64_t min, int64_t max, int64_t *out) {
  bool neg = false;
  int64_t sv = 0;
  uint64_t uv = 0; /* set by get_integer on success; zeroed for gcc -O3's benefit */
  const uint8_t *at = r->p;
  int rc = get_integer(r, "an integer", &neg, &sv, &uv);
  if (rc)
    return rc;
  if (!neg) {
    if (uv > (uint64_t)max) {
      r->p = at;
      return fail(r, "%" PRIu64 " is out of range (at most %" PRId64 ")", uv, max);
    }
    sv = (int64_t)uv;
  } else if (sv < min) {
    r->p = at;
    return fail(r, "%" PRId64 " is out of range (at least %" PRId64 ")", sv, min);
  }
  *out = sv;
  return 0;
}

static inline int get_U64(reader_t *r, uint64_t *v) { return get_unsigned(r, UINT64_MAX, v); }
static inline int get_ADDR(reader_t *r, vmx_addr_t *v) { return get_unsigned(r, UINT64_MAX, v); }

static inline int get_U32(reader_t *r, uint32_t *v) {
  uint64_t u;
  int rc = get_unsigned(r, UINT32_MAX, &u);
  if (rc == 0)
    *v = (uint32_t)u;
  return rc;
}

static int get_I64(reader_t *r, int64_t *v) { return get_signed(r, INT64_MIN, INT64_MAX, v); }

static int get_I32(reader_t *r, int32_t *v) {
  int64_t s;
  int rc = get_signed(r, INT32_MIN, INT32_MAX, &s);
  if (rc == 0)
    *v = (int32_t)s;
  return rc;
}

static int get_BOOL(reader_t *r, bool *v) {
  int rc = need(r, 1);
  if (rc)
    return rc;
  uint8_t tag = *r->p;
  if (tag != 0xc2 && tag != 0xc3)
    return fail(r, "expected a boolean, found %s (0x%02x)", tag_name(tag), tag);
  *v = tag == 0xc3;
  r->p++;
  return 0;
}

static int get_F64(reader_t *r, double *v) {
  int rc = need(r, 1);
  if (rc)
    return rc;
  uint8_t tag = *r->p;
  if (tag == 0xcb) {
    if ((rc = need(r, 9)) != 0)
      return rc;
    uint64_t bits = load_be(r->p + 1, 8);
    memcpy(v, &bits, sizeof *v);
    r->p += 9;
    return 0;
  }
  if (tag == 0xca) {
    if ((rc = need(r, 5)) != 0)
      return rc;
    uint32_t bits = (uint32_t)load_be(r->p + 1, 4);
    float f;
    memcpy(&f, &bits, sizeof f);
    *v = f;
    r->p += 5;
    return 0;
  }
  return fail(r, "expected a float, found %s (0x%02x)", tag_name(tag), tag);
}

static int get_STR(reader_t *r, vmx_str_t *v) {
  int rc = need(r, 1);
  if (rc)
    return rc;
  uint8_t tag = *r->p;
  size_t hdr, len;
  if (tag >= 0xa0 && tag <= 0xbf) {
    hdr = 1;
    len = tag & 0x1f;
  } else if (tag >= 0xd9 && tag <= 0xdb) {
    unsigned width = 1u << (tag - 0xd9);
    if ((rc = need(r, 1 + width)) != 0)
      return rc;
    hdr = 1 + width;
    len = (size_t)load_be(r->p + 1, width);
  } else {
    return fail(r, "expected a string, found %s (0x%02x)", tag_name(tag), tag);
  }
  if (len > VMX_STR_MAX - 1)
    return fail(r, "string of %zu bytes is too long (at most %d)", len, VMX_STR_MAX - 1);
  if ((rc = need(r, hdr + len)) != 0)
    return rc;
  if (memchr(r->p + hdr, 0, len))
    return fail(r, "string holds a NUL byte");
  memcpy(v->s, r->p + hdr, len);
  memset(v->s + len, 0, VMX_STR_MAX - len);
  r->p += hdr + len;
  return 0;
}

static inline int get_array(reader_t *r, uint32_t *count) {
  int rc = need(r, 1);
  if (rc)
    return rc;
  uint8_t tag = *r->p;
  if (tag >= 0x90 && tag <= 0x9f) {
    *count = tag & 0x0f;
    r->p++;
    return 0;
  }
  if (tag == 0xdc || tag == 0xdd) {
    unsigned width = tag == 0xdc ? 2 : 4;
    if ((rc = need(r, 1 + width)) != 0)
      return rc;
    *count = (uint32_t)load_be(r->p + 1, width);
    r->p += 1 + width;
    return 0;
  }
  return fail(r, "expected an array, found %s (0x%02x)", tag_name(tag), tag);
}

static inline int get_icount(reader_t *r, uint64_t *v) {
  int rc = need(r, 1);
  if (rc)
    return rc;
  if (*r->p == 0xc0) {
    *v = VMX_ICOUNT_NONE;
    r->p++;
    return 0;
  }
  return get_U64(r, v);
}

static int decode_envelope(reader_t *r, vmx_envelope_t *env, const vmx_msg_schema_t **schema) {
  uint32_t n = 0;
  int rc;
  r->where = "message";
  if ((rc = get_array(r, &n)) != 0)
    return rc;
  if (n != 8)
    return fail(r, "is an array of %" PRIu32 " elements; a message has 8 (type, version, src, "
                   "dst, seq, icount, corr, body)", n);
  r->where = "envelope";
  const uint8_t *at = r->p;
  r->field = "type";
  if ((rc = get_U32(r, &env->type)) != 0)
    return rc;
  const vmx_msg_schema_t *s = vmx_msg_schema(env->type);
  if (!s) {
    r->p = at;
    return fail(r, "unknown message type %" PRIu32, env->type);
  }
  at = r->p;
  r->field = "version";
  if ((rc = get_U32(r, &env->version)) != 0)
    return rc;
  if (env->version != s->version) {
    r->p = at;
    return fail(r, "%s version %" PRIu32 "; this build reads version %" PRIu32, s->name,
                env->version, s->version);
  }
  r->field = "src";
  if ((rc = get_ADDR(r, &env->src)) != 0)
    return rc;
  r->field = "dst";
  if ((rc = get_ADDR(r, &env->dst)) != 0)
    return rc;
  r->field = "seq";
  if ((rc = get_U64(r, &env->seq)) != 0)
    return rc;
  r->field = "icount";
  if ((rc = get_icount(r, &env->icount)) != 0)
    return rc;
  r->field = "corr";
  if ((rc = get_U64(r, &env->corr)) != 0)
    return rc;
  r->where = s->name;
  r->field = NULL;
  at = r->p;
  if ((rc = get_array(r, &n)) != 0)
    return rc;
  if (n != s->nfields) {
    r->p = at;
    return fail(r, "body has %" PRIu32 " fields; version %" PRIu32 " has %u", n, s->version,
                s->nfields);
  }
  *schema = s;
  return 0;
}

int vmx_msg_decode_envelope(const void *buf, size_t len, vmx_envelope_t *env,
                            vmx_msg_error_t *err) {
  reader_t r = {buf, buf, (const uint8_t *)buf + len, err, "message", NULL};
  const vmx_msg_schema_t *s;
  return decode_envelope(&r, env, &s);
}

int vmx_msg_decode(const void *buf, size_t len, vmx_msg_t *out, vmx_msg_error_t *err) {
  reader_t r = {buf, buf, (const uint8_t *)buf + len, err, "message", NULL};
  const vmx_msg_schema_t *s;
  int rc = decode_envelope(&r, &out->env, &s);
  if (rc)
    return rc;
  memset(&out->body, 0, sizeof out->body);
  switch (out->env.type) {
#define VMX_FIELD(TYPE, fname, doc)            \
  r.field = #fname;                            \
  if ((rc = get_##TYPE(&r, &b->fname)) != 0)   \
    return rc;
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  case VMX_MSG_##NAME: {                                 \
    vmx_msg_##name##_t *b = &out->body.name;             \
    (void)b;                                             \
    fields                                               \
  } break;
#include "bus/messages.def"
#undef VMX_FIELD
  }
  if (r.p != r.end) {
    r.field = NULL;
    return fail(&r, "%zu trailing byte%s after the message", (size_t)(r.end - r.p),
                r.end - r.p == 1 ? "" : "s");
  }
  return 0;
}

/* ----------------------------------------------------------------- printing */

static void print_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f) /* bytes of non-ASCII text too: no UTF-8 check */
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

static void print_addr(FILE *out, vmx_addr_t a) {
  if (a == VMX_ADDR_NONE)
    fputs("null", out);
  else
    fprintf(out, "\"%u.%u#%" PRIu32 "\"", vmx_addr_loop(a), vmx_addr_slot(a), vmx_addr_serial(a));
}

static void show_BOOL(FILE *out, const bool *v) { fputs(*v ? "true" : "false", out); }
static void show_U32(FILE *out, const uint32_t *v) { fprintf(out, "%" PRIu32, *v); }
static void show_U64(FILE *out, const uint64_t *v) { fprintf(out, "%" PRIu64, *v); }
static void show_I32(FILE *out, const int32_t *v) { fprintf(out, "%" PRId32, *v); }
static void show_I64(FILE *out, const int64_t *v) { fprintf(out, "%" PRId64, *v); }
static void show_ADDR(FILE *out, const vmx_addr_t *v) { print_addr(out, *v); }
static void show_STR(FILE *out, const vmx_str_t *v) {
  char s[VMX_STR_MAX];
  memcpy(s, v->s, VMX_STR_MAX - 1);
  s[VMX_STR_MAX - 1] = 0;
  print_json_string(out, s);
}
static void show_F64(FILE *out, const double *v) {
  /* JSON has no NaN or infinities: print those as strings. */
  if (*v != *v)
    fputs("\"nan\"", out);
  else if (*v > 1.7976931348623157e308 || *v < -1.7976931348623157e308)
    fputs(*v > 0 ? "\"inf\"" : "\"-inf\"", out);
  else
    fprintf(out, "%.17g", *v);
}

int vmx_msg_print_json(FILE *out, const vmx_msg_t *msg) {
  const vmx_msg_schema_t *s = vmx_msg_schema(msg->env.type);
  if (!s)
    return VMX_EINVAL;
  const vmx_envelope_t *e = &msg->env;
  fprintf(out, "{\"type\":\"%s\",\"v\":%" PRIu32 ",\"src\":", s->name, s->version);
  print_addr(out, e->src);
  fputs(",\"dst\":", out);
  print_addr(out, e->dst);
  fprintf(out, ",\"seq\":%" PRIu64 ",\"icount\":", e->seq);
  if (e->icount == VMX_ICOUNT_NONE)
    fputs("null", out);
  else
    fprintf(out, "%" PRIu64, e->icount);
  fprintf(out, ",\"corr\":%" PRIu64 ",\"body\":{", e->corr);
  const char *sep = "";
  switch (msg->env.type) {
#define VMX_FIELD(TYPE, fname, doc)           \
  fprintf(out, "%s\"" #fname "\":", sep);     \
  show_##TYPE(out, &b->fname);                \
  sep = ",";
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  case VMX_MSG_##NAME: {                                 \
    const vmx_msg_##name##_t *b = &msg->body.name;       \
    (void)b;                                             \
    fields                                               \
  } break;
#include "bus/messages.def"
#undef VMX_FIELD
  }
  (void)sep;
  fputs("}}", out);
  return ferror(out) ? VMX_EIO : 0;
}

/* Table cells must not break the Markdown table. */
static void print_md_cell(FILE *out, const char *text) {
  for (const char *p = text; *p; p++) {
    if (*p == '|')
      fputs("\\|", out);
    else if (*p == '\n')
      fputc(' ', out);
    else
      fputc(*p, out);
  }
}

int vmx_msg_write_markdown(FILE *out) {
  fputs("# Bus messages\n\n"
        "Generated from `src/bus/messages.def` by `vmx_msg_write_markdown()`; do not edit.\n"
        "Regenerate with `BUILD/tests/unit/test_bus_schema --write-docs` (the unit test\n"
        "`unit_bus_schema` fails while this file is out of date).\n\n"
        "On the wire (rings, mailboxes, traces) every message is one msgpack array:\n\n"
        "    [type, version, src, dst, seq, icount | nil, corr, [field, ...]]\n\n"
        "- `type`, `version`: the type code and schema version below; a reader rejects\n"
        "  any other version.\n"
        "- `src`, `dst`: actor addresses (u64: bits 0-15 slot, 16-31 loop, 32-63 serial;\n"
        "  loop 65535 is a sender that is not an actor).\n"
        "- `seq`: the sender's sequence number, from 1.\n"
        "- `icount`: the sending vCPU's retired-instruction count, nil if the sender is\n"
        "  not a vCPU.\n"
        "- `corr`: the ask correlation token, 0 for a one-way message.\n"
        "- The body holds the fields in the order listed. Integers use msgpack's\n"
        "  shortest form; `str` fields hold at most 15 bytes and no NUL.\n\n"
        "## Topics\n\n| topic | bit | meaning |\n|---|---|---|\n",
        out);
  for (unsigned t = 0; t < VMX_TOPIC_COUNT; t++) {
    fprintf(out, "| %s | %u | ", topic_names[t], t);
    print_md_cell(out, topic_docs[t]);
    fputs(" |\n", out);
  }
  fputs("\n## Messages\n", out);
  for (uint32_t type = 1; type < VMX_MSG_COUNT; type++) {
    const vmx_msg_schema_t *s = &msg_schemas[type];
    fprintf(out, "\n### %s\n\nType %" PRIu32 ", version %" PRIu32 ", topic %s.\n\n%s\n", s->name,
            s->type, s->version, topic_names[s->topic], s->doc);
    if (s->nfields == 0) {
      fputs("\nNo fields.\n", out);
      continue;
    }
    fputs("\n| field | type | meaning |\n|---|---|---|\n", out);
    for (unsigned i = 0; i < s->nfields; i++) {
      fprintf(out, "| %s | %s | ", s->fields[i].name, field_type_names[s->fields[i].type]);
      print_md_cell(out, s->fields[i].doc);
      fputs(" |\n", out);
    }
  }
  return ferror(out) ? VMX_EIO : 0;
}
