/* The bus codec (src/bus/codec.c): every message type round-trips through
 * msgpack; msgpack-c reads what we write; the decoder accepts every integer
 * width msgpack allows and rejects malformed input with an error that names
 * the offset and the field. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "bus/bus.h"

/* ------------------------------------------------------------ random values */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void) {
  /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static const uint64_t edge_u64[] = {0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
                                    (uint64_t)UINT32_MAX + 1, UINT64_MAX - 1, UINT64_MAX};
static const int64_t edge_i64[] = {0, 1, -1, -32, -33, 127, 128, -128, -129, 32767, -32768,
                                   -32769, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void rand_BOOL(bool *v) { *v = rnd() & 1; }
static void rand_U64(uint64_t *v) {
  *v = rnd() & 1 ? edge_u64[rnd() % COUNT(edge_u64)] : rnd() >> (rnd() % 64);
}
static void rand_ADDR(vmx_addr_t *v) { rand_U64(v); }
static void rand_U32(uint32_t *v) {
  uint64_t u;
  rand_U64(&u);
  *v = (uint32_t)u;
}
static void rand_I64(int64_t *v) {
  *v = rnd() & 1 ? edge_i64[rnd() % COUNT(edge_i64)] : (int64_t)rnd() >> (rnd() % 64);
}
static void rand_I32(int32_t *v) {
  int64_t s;
  rand_I64(&s);
  *v = (int32_t)s;
}
static void rand_F64(double *v) {
  static const double edge[] = {0.0, -0.0, 1.5, -2.25, 1e308, 5e-324, INFINITY, -INFINITY, NAN};
  if (rnd() & 1) {
    *v = edge[rnd() % COUNT(edge)];
  } else {
    uint64_t bits = rnd();
    memcpy(v, &bits, sizeof *v);
  }
}
static void rand_STR(vmx_str_t *v) {
  size_t n = rnd() % VMX_STR_MAX;
  memset(v, 0, sizeof *v);
  for (size_t i = 0; i < n; i++)
    v->s[i] = (char)(1 + rnd() % 255);
}

static void rand_body(vmx_msg_t *m) {
  switch (m->env.type) {
#define VMX_FIELD(TYPE, fname, doc) rand_##TYPE(&b->fname);
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  case VMX_MSG_##NAME: {                                 \
    vmx_msg_##name##_t *b = &m->body.name;               \
    (void)b;                                             \
    fields                                               \
  } break;
#include "bus/messages.def"
#undef VMX_FIELD
  }
}

static void rand_msg(vmx_msg_t *m, uint32_t type) {
  memset(m, 0, sizeof *m);
  m->env.type = type;
  m->env.version = vmx_msg_schema(type)->version;
  rand_ADDR(&m->env.src);
  rand_ADDR(&m->env.dst);
  rand_U64(&m->env.seq);
  rand_U64(&m->env.icount); /* UINT64_MAX is VMX_ICOUNT_NONE: encoded nil */
  rand_U64(&m->env.corr);
  rand_body(m);
}

/* Field-wise equality (doubles bit for bit, so NaN equals itself). */
static void assert_msg_equal(const vmx_msg_t *a, const vmx_msg_t *b) {
  assert_int_equal(a->env.type, b->env.type);
  assert_int_equal(a->env.version, b->env.version);
  assert_true(a->env.src == b->env.src && a->env.dst == b->env.dst);
  assert_true(a->env.seq == b->env.seq && a->env.icount == b->env.icount);
  assert_true(a->env.corr == b->env.corr);
  switch (a->env.type) {
#define VMX_FIELD(TYPE, fname, doc) \
  assert_memory_equal(&x->fname, &y->fname, sizeof x->fname);
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  case VMX_MSG_##NAME: {                                 \
    const vmx_msg_##name##_t *x = &a->body.name;         \
    const vmx_msg_##name##_t *y = &b->body.name;         \
    (void)x;                                             \
    (void)y;                                             \
    fields                                               \
  } break;
#include "bus/messages.def"
#undef VMX_FIELD
  }
}

/* ------------------------------------------------------- raw msgpack input */

typedef struct raw {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} raw_t;

static void raw_init(raw_t *r) {
  msgpack_sbuffer_init(&r->sb);
  msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

/* Packs an envelope for type/version with a body array of nfields. */
static void raw_envelope(raw_t *r, uint32_t type, uint32_t version, uint32_t nfields) {
  msgpack_pack_array(&r->pk, 8);
  msgpack_pack_uint32(&r->pk, type);
  msgpack_pack_uint32(&r->pk, version);
  msgpack_pack_uint64(&r->pk, 0x100000002u);
  msgpack_pack_uint64(&r->pk, 0x200000003u);
  msgpack_pack_uint64(&r->pk, 7);
  msgpack_pack_nil(&r->pk);
  msgpack_pack_uint64(&r->pk, 0);
  msgpack_pack_array(&r->pk, nfields);
}

/* Decodes r's bytes from an exactly sized heap copy (so ASan sees any read
 * past the end) and expects rejection with `needle` in the error text. */
static void expect_rejected(raw_t *r, const char *needle) {
  uint8_t *copy = malloc(r->sb.size ? r->sb.size : 1);
  memcpy(copy, r->sb.data, r->sb.size);
  vmx_msg_t out;
  vmx_msg_error_t err = {0};
  int rc = vmx_msg_decode(copy, r->sb.size, &out, &err);
  if (rc != VMX_EINVAL || !strstr(err.text, needle))
    fail_msg("expected rejection mentioning \"%s\", got rc %d: \"%s\"", needle, rc, err.text);
  assert_true(err.offset <= r->sb.size);
  free(copy);
  msgpack_sbuffer_destroy(&r->sb);
}

static vmx_msg_t decode_ok(raw_t *r) {
  vmx_msg_t out;
  vmx_msg_error_t err = {0};
  int rc = vmx_msg_decode(r->sb.data, r->sb.size, &out, &err);
  if (rc)
    fail_msg("decode failed: %s", err.text);
  msgpack_sbuffer_destroy(&r->sb);
  return out;
}

/* ------------------------------------------------------------------- tests */

static void test_every_type_round_trips(void **state) {
  for (uint32_t type = 1; type < VMX_MSG_COUNT; type++) {
    for (int i = 0; i < 2000; i++) {
      vmx_msg_t in, out;
      rand_msg(&in, type);
      uint8_t buf[VMX_MSG_MAX_ENCODED];
      size_t len;
      assert_int_equal(vmx_msg_encode(&in, buf, sizeof buf, &len), 0);
      vmx_msg_error_t err;
      int rc = vmx_msg_decode(buf, len, &out, &err);
      if (rc)
        fail_msg("%s: %s", vmx_msg_schema(type)->name, err.text);
      /* Strings the sender left unterminated come back cut; ours are not. */
      assert_msg_equal(&in, &out);
    }
  }
}

/* The longest encoding of each field type. */
static void max_BOOL(bool *v) { *v = true; }
static void max_U32(uint32_t *v) { *v = UINT32_MAX; }
static void max_U64(uint64_t *v) { *v = UINT64_MAX; }
static void max_I32(int32_t *v) { *v = INT32_MIN; }
static void max_I64(int64_t *v) { *v = INT64_MIN; }
static void max_F64(double *v) { *v = 1.0 / 3; }
static void max_ADDR(vmx_addr_t *v) { *v = UINT64_MAX; }
static void max_STR(vmx_str_t *v) { vmx_str_set(v, "0123456789abcdefghij"); }

static void test_largest_encoding_fits_one_slot(void **state) {
  for (uint32_t type = 1; type < VMX_MSG_COUNT; type++) {
    vmx_msg_t m = {.env = {type, 0, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX - 1,
                           UINT64_MAX}};
    switch (type) {
#define VMX_FIELD(TYPE, fname, doc) max_##TYPE(&b->fname);
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  case VMX_MSG_##NAME: {                                 \
    vmx_msg_##name##_t *b = &m.body.name;                \
    (void)b;                                             \
    fields                                               \
  } break;
#include "bus/messages.def"
#undef VMX_FIELD
    }
    uint8_t buf[VMX_MSG_MAX_ENCODED];
    size_t len;
    assert_int_equal(vmx_msg_encode(&m, buf, sizeof buf, &len), 0);
    assert_true(len <= VMX_MSG_MAX_ENCODED);
  }
}

static void test_encoding_too_small_a_buffer_is_erange(void **state) {
  vmx_msg_t m = VMX_MSG_INIT(PING);
  uint8_t buf[8];
  size_t len;
  assert_int_equal(vmx_msg_encode(&m, buf, sizeof buf, &len), VMX_ERANGE);
  m.env.type = 0;
  assert_int_equal(vmx_msg_encode(&m, buf, sizeof buf, &len), VMX_EINVAL);
  m.env.type = VMX_MSG_COUNT;
  assert_int_equal(vmx_msg_encode(&m, buf, sizeof buf, &len), VMX_EINVAL);
}

static void test_msgpack_c_reads_what_we_write(void **state) {
  vmx_msg_t m;
  rand_msg(&m, VMX_MSG_PROBE);
  m.env.icount = VMX_ICOUNT_NONE;
  m.body.probe.big = 0x123456789abcdef0u;
  vmx_str_set(&m.body.probe.label, "uart0");
  uint8_t buf[VMX_MSG_MAX_ENCODED];
  size_t len, off = 0;
  assert_int_equal(vmx_msg_encode(&m, buf, sizeof buf, &len), 0);
  msgpack_zone zone;
  msgpack_zone_init(&zone, 1024);
  msgpack_object o;
  assert_int_equal(msgpack_unpack((const char *)buf, len, &off, &zone, &o), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(off, len);
  assert_int_equal(o.type, MSGPACK_OBJECT_ARRAY);
  assert_int_equal(o.via.array.size, 8);
  const msgpack_object *e = o.via.array.ptr;
  assert_int_equal(e[0].via.u64, VMX_MSG_PROBE);
  assert_int_equal(e[1].via.u64, 1);
  assert_true(e[2].via.u64 == m.env.src && e[3].via.u64 == m.env.dst);
  assert_int_equal(e[5].type, MSGPACK_OBJECT_NIL);
  assert_int_equal(e[7].type, MSGPACK_OBJECT_ARRAY);
  assert_int_equal(e[7].via.array.size, 8);
  const msgpack_object *f = e[7].via.array.ptr;
  assert_true(f[2].via.u64 == 0x123456789abcdef0u);
  assert_int_equal(f[7].type, MSGPACK_OBJECT_STR);
  assert_int_equal(f[7].via.str.size, 5);
  assert_memory_equal(f[7].via.str.ptr, "uart0", 5);
  msgpack_zone_destroy(&zone);
}

static void test_decoder_accepts_every_integer_width(void **state) {
  raw_t r;
  raw_init(&r);
  /* The envelope's integers in wide fixed forms, the body's as signed types
   * holding non-negative values: all valid msgpack for the same numbers. */
  msgpack_pack_array(&r.pk, 8);
  msgpack_pack_fix_uint64(&r.pk, VMX_MSG_PING);
  msgpack_pack_fix_int8(&r.pk, 1);
  msgpack_pack_fix_uint32(&r.pk, 5);
  msgpack_pack_fix_uint16(&r.pk, 6);
  msgpack_pack_fix_int64(&r.pk, 7);
  msgpack_pack_fix_uint8(&r.pk, 8);
  msgpack_pack_fix_int32(&r.pk, 0);
  msgpack_pack_array(&r.pk, 2);
  msgpack_pack_fix_int16(&r.pk, 300);
  msgpack_pack_fix_uint64(&r.pk, 42);
  vmx_msg_t m = decode_ok(&r);
  assert_int_equal(m.env.type, VMX_MSG_PING);
  assert_int_equal(m.env.src, 5);
  assert_int_equal(m.env.dst, 6);
  assert_int_equal(m.env.seq, 7);
  assert_int_equal(m.env.icount, 8);
  assert_int_equal(m.body.ping.value, 300);
  assert_int_equal(m.body.ping.sent_ns, 42);
}

static void test_decoder_reads_float32_and_str8(void **state) {
  raw_t r;
  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_true(&r.pk);
  msgpack_pack_uint32(&r.pk, 1);
  msgpack_pack_uint64(&r.pk, 2);
  msgpack_pack_int32(&r.pk, -3);
  msgpack_pack_int64(&r.pk, -4);
  msgpack_pack_float(&r.pk, 0.5f);
  msgpack_pack_uint64(&r.pk, 9);
  /* str8 (0xd9) holding 3 bytes: a legal if unusual form. */
  msgpack_sbuffer_write(&r.sb, "\xd9\x03" "abc", 5);
  vmx_msg_t m = decode_ok(&r);
  assert_true(m.body.probe.flag);
  assert_int_equal(m.body.probe.neg, -3);
  assert_int_equal(m.body.probe.delta, -4);
  assert_true(m.body.probe.ratio == 0.5);
  assert_string_equal(m.body.probe.label.s, "abc");
}

static void test_every_truncation_is_rejected(void **state) {
  vmx_msg_t m;
  rand_msg(&m, VMX_MSG_PROBE);
  uint8_t buf[VMX_MSG_MAX_ENCODED];
  size_t len;
  assert_int_equal(vmx_msg_encode(&m, buf, sizeof buf, &len), 0);
  for (size_t cut = 0; cut < len; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1);
    memcpy(copy, buf, cut);
    vmx_msg_t out;
    vmx_msg_error_t err;
    assert_int_equal(vmx_msg_decode(copy, cut, &out, &err), VMX_EINVAL);
    if (!strstr(err.text, "truncated"))
      fail_msg("cut at %zu: %s", cut, err.text);
    assert_true(err.offset <= cut);
    free(copy);
  }
}

static void test_trailing_bytes_are_rejected(void **state) {
  raw_t r;
  raw_init(&r);
  raw_envelope(&r, VMX_MSG_EMPTY, 1, 0);
  msgpack_pack_nil(&r.pk);
  expect_rejected(&r, "1 trailing byte after the message");
}

static void test_envelope_errors_name_the_problem(void **state) {
  raw_t r;
  raw_init(&r);
  msgpack_pack_map(&r.pk, 0);
  expect_rejected(&r, "offset 0: message: expected an array, found a map");

  raw_init(&r);
  msgpack_pack_array(&r.pk, 7);
  expect_rejected(&r, "array of 7 elements; a message has 8");

  raw_init(&r);
  raw_envelope(&r, 0, 1, 0);
  expect_rejected(&r, "offset 1: envelope.type: unknown message type 0");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_COUNT + 100, 1, 0);
  expect_rejected(&r, "unknown message type");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PING, 2, 2);
  expect_rejected(&r, "envelope.version: PING version 2; this build reads version 1");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PING, 1, 3);
  expect_rejected(&r, "PING: body has 3 fields; version 1 has 2");

  raw_init(&r);
  msgpack_pack_array(&r.pk, 8);
  msgpack_pack_uint32(&r.pk, VMX_MSG_PING);
  msgpack_pack_uint32(&r.pk, 1);
  msgpack_pack_str(&r.pk, 1);
  msgpack_pack_str_body(&r.pk, "x", 1);
  expect_rejected(&r, "offset 3: envelope.src: expected an unsigned integer, found a string");

  raw_init(&r);
  msgpack_pack_array(&r.pk, 8);
  msgpack_pack_uint32(&r.pk, VMX_MSG_PING);
  msgpack_pack_uint32(&r.pk, 1);
  msgpack_pack_int64(&r.pk, -5);
  expect_rejected(&r, "envelope.src: -5 is negative");

  raw_init(&r);
  msgpack_sbuffer_write(&r.sb, "\xc1", 1);
  expect_rejected(&r, "never-used byte 0xc1");
}

static void test_field_errors_name_the_field(void **state) {
  raw_t r;
  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PING, 1, 2);
  msgpack_pack_str(&r.pk, 1);
  msgpack_pack_str_body(&r.pk, "1", 1);
  expect_rejected(&r, "PING.value: expected an unsigned integer, found a string");

  /* PROBE fields in order: flag small big neg delta ratio peer label */
  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_uint8(&r.pk, 1);
  expect_rejected(&r, "PROBE.flag: expected a boolean, found an unsigned integer");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_false(&r.pk);
  msgpack_pack_uint64(&r.pk, (uint64_t)UINT32_MAX + 1);
  expect_rejected(&r, "PROBE.small: 4294967296 is out of range (at most 4294967295)");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_false(&r.pk);
  msgpack_pack_uint32(&r.pk, 1);
  msgpack_pack_int64(&r.pk, -1);
  expect_rejected(&r, "PROBE.big: -1 is negative");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_false(&r.pk);
  msgpack_pack_uint32(&r.pk, 1);
  msgpack_pack_uint64(&r.pk, 2);
  msgpack_pack_int64(&r.pk, (int64_t)INT32_MIN - 1);
  expect_rejected(&r, "PROBE.neg: -2147483649 is out of range (at least -2147483648)");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_false(&r.pk);
  msgpack_pack_uint32(&r.pk, 1);
  msgpack_pack_uint64(&r.pk, 2);
  msgpack_pack_int32(&r.pk, 3);
  msgpack_pack_uint64(&r.pk, (uint64_t)INT64_MAX + 1);
  expect_rejected(&r, "PROBE.delta: 9223372036854775808 is out of range");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_false(&r.pk);
  msgpack_pack_uint32(&r.pk, 1);
  msgpack_pack_uint64(&r.pk, 2);
  msgpack_pack_int32(&r.pk, 3);
  msgpack_pack_int64(&r.pk, 4);
  msgpack_pack_uint8(&r.pk, 1);
  expect_rejected(&r, "PROBE.ratio: expected a float");
}

static void raw_probe_prefix(raw_t *r) {
  raw_init(r);
  raw_envelope(r, VMX_MSG_PROBE, 1, 8);
  msgpack_pack_false(&r->pk);
  msgpack_pack_uint32(&r->pk, 1);
  msgpack_pack_uint64(&r->pk, 2);
  msgpack_pack_int32(&r->pk, 3);
  msgpack_pack_int64(&r->pk, 4);
  msgpack_pack_double(&r->pk, 5.0);
  msgpack_pack_uint64(&r->pk, 6);
}

static void test_bad_strings_are_rejected(void **state) {
  raw_t r;
  raw_probe_prefix(&r);
  msgpack_pack_str(&r.pk, 16);
  msgpack_pack_str_body(&r.pk, "0123456789abcdef", 16);
  expect_rejected(&r, "PROBE.label: string of 16 bytes is too long (at most 15)");

  raw_probe_prefix(&r);
  msgpack_pack_str(&r.pk, 3);
  msgpack_pack_str_body(&r.pk, "a\0b", 3);
  expect_rejected(&r, "PROBE.label: string holds a NUL byte");

  /* A str32 header claiming 4 GiB must fail on the length, not read on. */
  raw_probe_prefix(&r);
  msgpack_sbuffer_write(&r.sb, "\xdb\xff\xff\xff\xff", 5);
  expect_rejected(&r, "too long");

  raw_probe_prefix(&r);
  msgpack_sbuffer_write(&r.sb, "\xa5" "ab", 3);
  expect_rejected(&r, "truncated: 6 more bytes needed, 3 left");

  raw_probe_prefix(&r);
  msgpack_pack_bin(&r.pk, 1);
  msgpack_pack_bin_body(&r.pk, "x", 1);
  expect_rejected(&r, "PROBE.label: expected a string, found binary data");
}

static void test_huge_array_headers_are_rejected(void **state) {
  raw_t r;
  raw_init(&r);
  msgpack_sbuffer_write(&r.sb, "\xdd\xff\xff\xff\xff", 5);
  expect_rejected(&r, "array of 4294967295 elements");

  raw_init(&r);
  raw_envelope(&r, VMX_MSG_PING, 1, 0);
  r.sb.size--; /* replace the body header with array32(2^32-1) */
  msgpack_sbuffer_write(&r.sb, "\xdd\xff\xff\xff\xff", 5);
  expect_rejected(&r, "PING: body has 4294967295 fields");
}

static void test_icount_nil_means_none(void **state) {
  vmx_msg_t m = VMX_MSG_INIT(EMPTY);
  m.env.icount = VMX_ICOUNT_NONE;
  uint8_t buf[VMX_MSG_MAX_ENCODED];
  size_t len;
  assert_int_equal(vmx_msg_encode(&m, buf, sizeof buf, &len), 0);
  assert_int_equal(buf[6], 0xc0); /* array, type, version, src, dst, seq, icount */
  vmx_msg_t out;
  assert_int_equal(vmx_msg_decode(buf, len, &out, NULL), 0);
  assert_true(out.env.icount == VMX_ICOUNT_NONE);
}

static void test_json_shows_every_field(void **state) {
  vmx_msg_t m = VMX_MSG_INIT(PROBE);
  m.env.src = vmx_addr_make(1, 2, 7);
  m.env.seq = 3;
  m.env.icount = 1000;
  m.body.probe = (vmx_msg_probe_t){true, 4, 5, -6, -7, 0.5, 0, {"a\"b"}};
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  assert_int_equal(vmx_msg_print_json(f, &m), 0);
  fclose(f);
  assert_string_equal(text,
                      "{\"type\":\"PROBE\",\"v\":1,\"src\":\"1.2#7\",\"dst\":null,\"seq\":3,"
                      "\"icount\":1000,\"corr\":0,\"body\":{\"flag\":true,\"small\":4,\"big\":5,"
                      "\"neg\":-6,\"delta\":-7,\"ratio\":0.5,\"peer\":null,\"label\":\"a\\\"b\"}}");
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_type_round_trips),
      cmocka_unit_test(test_largest_encoding_fits_one_slot),
      cmocka_unit_test(test_encoding_too_small_a_buffer_is_erange),
      cmocka_unit_test(test_msgpack_c_reads_what_we_write),
      cmocka_unit_test(test_decoder_accepts_every_integer_width),
      cmocka_unit_test(test_decoder_reads_float32_and_str8),
      cmocka_unit_test(test_every_truncation_is_rejected),
      cmocka_unit_test(test_trailing_bytes_are_rejected),
      cmocka_unit_test(test_envelope_errors_name_the_problem),
      cmocka_unit_test(test_field_errors_name_the_field),
      cmocka_unit_test(test_bad_strings_are_rejected),
      cmocka_unit_test(test_huge_array_headers_are_rejected),
      cmocka_unit_test(test_icount_nil_means_none),
      cmocka_unit_test(test_json_shows_every_field),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
