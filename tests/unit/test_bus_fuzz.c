/* Bounded-time fuzzing of the bus decoder (vmx_msg_decode).
 *
 * Inputs are random bytes and mutations of valid encodings (bit flips,
 * interesting bytes, truncation, extension, span copies and deletions,
 * splices of two messages). Each input is decoded from an exactly sized heap
 * block, so ASan catches any read past its end. Properties:
 *   - a rejection carries an error text and an offset inside the input;
 *   - what the decoder accepts is one complete msgpack object to msgpack-c;
 *   - an accepted message re-encodes and decodes to the same message.
 *
 *   VMX_FUZZ_SEED=n     repeat a run (the seed is printed first)
 *   VMX_FUZZ_SECONDS=s  time budget (default 5)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <msgpack.h>

#include "fuzz.h"
#include "bus/bus.h"



/* A valid encoding of a random message of a random type. */
static size_t valid_message(uint8_t *buf) {
  vmx_msg_t m;
  memset(&m, 0, sizeof m);
  m.env.type = 1 + (uint32_t)(rnd() % (VMX_MSG_COUNT - 1));
  m.env.src = rnd() >> (rnd() % 64);
  m.env.dst = rnd() >> (rnd() % 64);
  m.env.seq = rnd() >> (rnd() % 64);
  m.env.icount = rnd() & 1 ? VMX_ICOUNT_NONE : rnd() >> (rnd() % 64);
  m.env.corr = rnd() & 1 ? 0 : rnd();
  /* Random body bytes, made legal: bools 0/1 and strings terminated. */
  uint8_t *body = (uint8_t *)&m.body;
  for (size_t i = 0; i < sizeof m.body; i++)
    body[i] = (uint8_t)rnd();
  switch (m.env.type) {
#define FIX_BOOL(f) f = (rnd() & 1) != 0;
#define FIX_STR(f) f.s[rnd() % VMX_STR_MAX] = 0, f.s[VMX_STR_MAX - 1] = 0;
#define FIX_U32(f)
#define FIX_U64(f)
#define FIX_I32(f)
#define FIX_I64(f)
#define FIX_F64(f)
#define FIX_ADDR(f)
#define VMX_FIELD(TYPE, fname, doc) FIX_##TYPE(b->fname)
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  case VMX_MSG_##NAME: {                                 \
    vmx_msg_##name##_t *b = &m.body.name;                \
    (void)b;                                             \
    fields                                               \
  } break;
#include "bus/messages.def"
#undef VMX_FIELD
  }
  size_t len;
  assert_int_equal(vmx_msg_encode(&m, buf, VMX_MSG_MAX_ENCODED, &len), 0);
  return len;
}

static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x98, 0x9f, 0xa0, 0xaf,
                                      0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xca, 0xcb, 0xcc, 0xcf,
                                      0xd0, 0xd3, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};

enum { FUZZ_INPUT_MAX = 512 };

/* Mutates buf[0, *len) in place, keeping *len <= FUZZ_INPUT_MAX. */
static void mutate(uint8_t *buf, size_t *len) {
  unsigned rounds = 1 + rnd() % 4;
  for (unsigned k = 0; k < rounds; k++) {
    size_t n = *len;
    switch (rnd() % 7) {
    case 0: /* flip a bit */
      if (n)
        buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
      break;
    case 1: /* an interesting byte */
      if (n)
        buf[rnd() % n] = interesting[rnd() % sizeof interesting];
      break;
    case 2: /* truncate */
      if (n)
        *len = rnd() % n;
      break;
    case 3: /* extend with random bytes */
      for (size_t add = 1 + rnd() % 16; add && *len < FUZZ_INPUT_MAX; add--)
        buf[(*len)++] = (uint8_t)rnd();
      break;
    case 4: /* delete a span */
      if (n) {
        size_t at = rnd() % n, cnt = 1 + rnd() % (n - at);
        memmove(buf + at, buf + at + cnt, n - at - cnt);
        *len = n - cnt;
      }
      break;
    case 5: /* copy a span elsewhere (overwriting) */
      if (n > 1) {
        size_t from = rnd() % n, to = rnd() % n, cnt = 1 + rnd() % (n - (from > to ? from : to));
        memmove(buf + to, buf + from, cnt);
      }
      break;
    case 6: /* splice: a prefix of this, then a suffix of another message */
      if (n) {
        uint8_t other[VMX_MSG_MAX_ENCODED];
        size_t olen = valid_message(other), cut = rnd() % n, ocut = rnd() % olen;
        size_t take = olen - ocut;
        if (cut + take > FUZZ_INPUT_MAX)
          take = FUZZ_INPUT_MAX - cut;
        memcpy(buf + cut, other + ocut, take);
        *len = cut + take;
      }
      break;
    }
  }
}

static void make_input(uint8_t *buf, size_t *len) {
  if (rnd() % 8 == 0) {
    *len = rnd() % 160;
    for (size_t i = 0; i < *len; i++)
      buf[i] = (uint8_t)rnd();
    return;
  }
  *len = valid_message(buf);
  mutate(buf, len);
}

static void check_accepted(const uint8_t *in, size_t len, const vmx_msg_t *m,
                           msgpack_zone *zone) {
  size_t off = 0;
  msgpack_object o;
  msgpack_unpack_return r = msgpack_unpack((const char *)in, len, &off, zone, &o);
  if (r != MSGPACK_UNPACK_SUCCESS || off != len)
    fail_msg("accepted %zu bytes that msgpack-c reads as %d (offset %zu)", len, (int)r, off);
  msgpack_zone_clear(zone);
  uint8_t again[VMX_MSG_MAX_ENCODED];
  size_t alen;
  assert_int_equal(vmx_msg_encode(m, again, sizeof again, &alen), 0);
  vmx_msg_t m2;
  assert_int_equal(vmx_msg_decode(again, alen, &m2, NULL), 0);
  assert_memory_equal(&m->env, &m2.env, sizeof m->env);
  uint8_t again2[VMX_MSG_MAX_ENCODED];
  size_t alen2;
  assert_int_equal(vmx_msg_encode(&m2, again2, sizeof again2, &alen2), 0);
  assert_int_equal(alen, alen2);
  assert_memory_equal(again, again2, alen);
}

static void test_decoder_survives_random_and_mutated_input(void **state) {
  double end = fuzz_begin(5.0);
  msgpack_zone zone;
  msgpack_zone_init(&zone, 4096);
  uint64_t runs = 0, accepted = 0;
  uint8_t buf[FUZZ_INPUT_MAX];
  while (runs % 256 != 0 || now_s() < end) {
    size_t len;
    make_input(buf, &len);
    uint8_t *heap = malloc(len ? len : 1);
    memcpy(heap, buf, len);
    vmx_msg_t m;
    vmx_msg_error_t err;
    err.text[0] = 0;
    err.offset = SIZE_MAX;
    if (vmx_msg_decode(heap, len, &m, &err) == 0) {
      accepted++;
      check_accepted(heap, len, &m, &zone);
    } else {
      if (strncmp(err.text, "offset ", 7) != 0 || err.offset > len)
        fail_msg("seed %llu: rejection without a proper error: \"%s\" (offset %zu of %zu)",
                 (unsigned long long)fuzz_seed, err.text, err.offset, len);
    }
    free(heap);
    runs++;
  }
  msgpack_zone_destroy(&zone);
  printf("fuzz: %llu inputs, %llu accepted, %llu rejected\n", (unsigned long long)runs,
         (unsigned long long)accepted, (unsigned long long)(runs - accepted));
  assert_true(runs > 1000);
  assert_true(accepted > 0); /* the mutations sometimes stay valid */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decoder_survives_random_and_mutated_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
