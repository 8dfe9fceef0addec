/* The trace recorder and reader (src/bus/trace.c): messages between actors on
 * two loops are recorded and read back in order with their fields; topic
 * filters; truncated, corrupted, empty and foreign files are rejected with an
 * error naming the offset, never a crash.
 *
 * With an argument PATH, the recording test also leaves its trace at PATH and
 * a truncated copy at PATH.cut, for the `vmx trace dump` ctests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ACTOR_TEST_OWN_WORLD
#include "actor_test.h"
#include "bus/trace.h"
#define N_PINGS 3000 /* more than one 64 KiB buffer of records */

static const char *keep_path; /* argv[1], or NULL */
static char tmp_dir[] = "/tmp/vmx-test-trace-XXXXXX";

static void path_in_tmp(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmp_dir, name);
}

/* ------------------------------------------------------- a traced world */

/* The sender actor sends `count` PINGs (values 1..count) to dst when it gets
 * an EMPTY; the sink counts PINGs. */
typedef struct pinger {
  vmx_addr_t dst;
  unsigned count;
} pinger_t;

static int pinger_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  pinger_t *p = state;
  if (msg->env.type != VMX_MSG_EMPTY)
    return 0;
  for (unsigned i = 1; i <= p->count; i++) {
    vmx_msg_t m = VMX_MSG_INIT(PING);
    m.body.ping.value = i;
    int rc = vmx_actor_send(ctx, p->dst, &m);
    if (rc)
      return rc;
  }
  return 0;
}

static int sink_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  (void)ctx;
  if (msg->env.type == VMX_MSG_PING)
    __atomic_fetch_add((uint64_t *)state, 1, __ATOMIC_RELEASE);
  return 0;
}

typedef struct recorded {
  vmx_addr_t from, to;
  unsigned from_loop, to_loop;
} recorded_t;

/* Records `count` PINGs from an actor on loop 0 to one on loop 1, with the
 * trace limited to `topics`, into path. */
static recorded_t record_pings(const char *path, const char *topics, unsigned count) {
  vmx_bus_t *bus;
  vmx_loop_t *loop[2];
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(vmx_loop_start(bus, NULL, &loop[i]), 0);
  vmx_trace_rec_t *rec;
  vmx_trace_error_t err;
  int rc = vmx_trace_open(vmx_loop_bus(loop[0]), path, topics, &rec, &err);
  if (rc)
    fail_msg("vmx_trace_open: %s", err.text);

  uint64_t got = 0;
  pinger_t pinger = {.count = count};
  recorded_t r = {.from_loop = vmx_loop_index(loop[0]), .to_loop = vmx_loop_index(loop[1])};
  assert_int_equal(vmx_actor_spawn(loop[1], &(vmx_actor_def_t){.name = "sink",
                                                               .receive = sink_receive,
                                                               .state = &got},
                                   &r.to),
                   0);
  pinger.dst = r.to;
  assert_int_equal(vmx_actor_spawn(loop[0], &(vmx_actor_def_t){.name = "pinger",
                                                               .receive = pinger_receive,
                                                               .state = &pinger},
                                   &r.from),
                   0);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  vmx_msg_t go = VMX_MSG_INIT(EMPTY);
  assert_int_equal(vmx_bus_send(&out, r.from, &go), 0);
  wait_for(&got, count);

  assert_int_equal(vmx_loop_stop_all(bus, 5 * SEC), 0);
  assert_int_equal(vmx_trace_close(rec), 0);
  vmx_bus_close(bus);
  return r;
}

static uint8_t *slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc((size_t)n + 1);
  assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return data;
}

static void spit(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, size, f), size);
  fclose(f);
}

/* Records `count` PINGs into the temporary file `name` (its path goes to
 * path) and returns the file's bytes. */
static uint8_t *record_small(const char *name, unsigned count, char path[256], size_t *size) {
  path_in_tmp(path, 256, name);
  record_pings(path, NULL, count);
  return slurp(path, size);
}

/* Reads a whole trace. Returns the number of records read, sets *rc to the
 * last vmx_trace_next result (0 at a clean end) and copies the error. */
static unsigned read_all(const char *path, int *rc, vmx_trace_error_t *err) {
  vmx_trace_reader_t *r;
  *rc = vmx_trace_read_open(path, &r, err);
  if (*rc)
    return 0;
  vmx_trace_record_t rec;
  unsigned n = 0;
  while ((*rc = vmx_trace_next(r, &rec)) == 1)
    n++;
  if (*rc < 0)
    *err = *vmx_trace_read_error(r);
  /* Errors are sticky. */
  if (*rc < 0)
    assert_int_equal(vmx_trace_next(r, &rec), VMX_EINVAL);
  vmx_trace_read_close(r);
  return n;
}

/* ------------------------------------------------------------------ tests */

static void test_records_pings_between_two_loops_in_order(void **state) {
  (void)state;
  char path[256];
  if (keep_path)
    snprintf(path, sizeof path, "%s", keep_path);
  else
    path_in_tmp(path, sizeof path, "pings.bin");
  recorded_t w = record_pings(path, NULL, N_PINGS);
  /* Nothing half-written is left beside it. */
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  assert_int_not_equal(access(tmp, F_OK), 0);

  vmx_trace_reader_t *r;
  vmx_trace_error_t err;
  assert_int_equal(vmx_trace_read_open(path, &r, &err), 0);
  const vmx_trace_header_t *h = vmx_trace_read_header(r);
  assert_int_equal(h->format, VMX_TRACE_FORMAT);
  assert_int_equal(h->schema, vmx_trace_schema_hash());
  assert_true(h->created_ns > 1600000000ull * SEC);

  vmx_trace_record_t rec;
  unsigned pings = 0, empties = 0;
  uint64_t last_seq = 0, last_t = 0;
  int rc;
  while ((rc = vmx_trace_next(r, &rec)) == 1) {
    if (rec.msg.env.type == VMX_MSG_EMPTY) {
      assert_int_equal(rec.loop, w.from_loop);
      assert_int_equal(rec.msg.env.dst, w.from);
      empties++;
      continue;
    }
    assert_int_equal(rec.msg.env.type, VMX_MSG_PING);
    assert_int_equal(rec.loop, w.to_loop);
    assert_int_equal(rec.msg.env.src, w.from);
    assert_int_equal(rec.msg.env.dst, w.to);
    assert_int_equal(rec.msg.body.ping.value, pings + 1);
    assert_true(rec.msg.env.seq > last_seq);
    assert_true(rec.t_ns >= last_t);
    /* The bytes are the message as encoded on the bus. */
    vmx_msg_t again;
    assert_int_equal(vmx_msg_decode(rec.bytes, rec.len, &again, NULL), 0);
    assert_int_equal(again.body.ping.value, rec.msg.body.ping.value);
    last_seq = rec.msg.env.seq;
    last_t = rec.t_ns;
    pings++;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(empties, 1);
  assert_int_equal(pings, N_PINGS);
  assert_null(vmx_trace_read_error(r));
  vmx_trace_read_close(r);

  if (keep_path) {
    /* A copy cut inside its last record, for the failing dump ctest. */
    size_t size;
    uint8_t *data = slurp(path, &size);
    char cut[300];
    snprintf(cut, sizeof cut, "%s.cut", path);
    spit(cut, data, size - 3);
    free(data);
  }
}

static void test_topic_filter(void **state) {
  (void)state;
  char path[256];
  path_in_tmp(path, sizeof path, "system-only.bin");
  record_pings(path, "SYSTEM", 10);
  int rc;
  vmx_trace_error_t err;
  assert_int_equal(read_all(path, &rc, &err), 0); /* no TEST message */
  assert_int_equal(rc, 0);

  path_in_tmp(path, sizeof path, "test-only.bin");
  record_pings(path, "system,Test", 10);
  assert_int_equal(read_all(path, &rc, &err), 11);
  assert_int_equal(rc, 0);

  uint64_t mask;
  assert_int_equal(vmx_trace_topics_parse("TEST,NOPE", &mask, &err), VMX_EINVAL);
  assert_non_null(strstr(err.text, "NOPE"));
  vmx_trace_rec_t *rec;
  assert_int_equal(vmx_trace_open(NULL, path, "BOGUS", &rec, &err), VMX_EINVAL);
}

/* Every cut of a small trace: at a record boundary it is a shorter good
 * trace; anywhere else an error naming an offset. */
static void test_truncated_files_name_the_offset(void **state) {
  (void)state;
  char path[256], cut[256];
  size_t size;
  uint8_t *data = record_small("small.bin", 20, path, &size);
  path_in_tmp(cut, sizeof cut, "small-cut.bin");

  /* Where records start (and the end). */
  size_t bounds[64];
  unsigned nb = 0;
  vmx_trace_reader_t *r;
  vmx_trace_error_t err;
  vmx_trace_record_t rec;
  assert_int_equal(vmx_trace_read_open(path, &r, &err), 0);
  while (vmx_trace_next(r, &rec) == 1)
    bounds[nb++] = rec.offset;
  vmx_trace_read_close(r);
  assert_int_equal(nb, 21);
  bounds[nb] = size;

  for (size_t len = 0; len < size; len++) {
    spit(cut, data, len);
    int rc;
    unsigned n = read_all(cut, &rc, &err);
    unsigned whole = 0;
    while (whole <= nb && bounds[whole] <= len)
      whole++;
    bool at_boundary = whole > 0 && bounds[whole - 1] == len;
    if (at_boundary) {
      assert_int_equal(rc, 0);
      assert_int_equal(n, whole - 1);
    } else {
      if (rc == 0)
        fail_msg("cut at %zu of %zu read as a good trace", len, size);
      assert_non_null(strstr(err.text, "offset"));
      assert_non_null(strstr(err.text, cut));
      if (len >= bounds[0]) {
        /* Inside a record: the good records before it were read. */
        assert_int_equal(n, whole - 1);
        assert_non_null(strstr(err.text, "truncated record at offset"));
        assert_int_equal(err.offset, bounds[whole - 1]);
      }
    }
  }
  /* The message of the task description, checked once in full. */
  spit(cut, data, size - 5);
  int rc;
  read_all(cut, &rc, &err);
  char want[400];
  snprintf(want, sizeof want, "%s: truncated record at offset %zu (needs %zu bytes, %zu left)",
           cut, bounds[nb - 1], size - bounds[nb - 1], size - 5 - bounds[nb - 1]);
  assert_string_equal(err.text, want);
  free(data);
}

/* Every byte flipped: a good read or an error naming an offset, never a crash
 * (the ASan build checks no read goes astray). */
static void test_corrupted_bytes_never_crash(void **state) {
  (void)state;
  char path[256], bad[256];
  size_t size;
  uint8_t *data = record_small("flip.bin", 5, path, &size);
  path_in_tmp(bad, sizeof bad, "flip-bad.bin");
  vmx_trace_error_t err;
  int rc;
  for (size_t i = 0; i < size; i++) {
    for (unsigned x = 0; x < 3; x++) {
      uint8_t keep = data[i];
      data[i] ^= (uint8_t[]){0xff, 0x80, 0x01}[x];
      spit(bad, data, size);
      read_all(bad, &rc, &err);
      if (rc < 0)
        assert_non_null(strstr(err.text, "offset"));
      data[i] = keep;
    }
  }

  /* A record whose array tag is damaged: named at its offset. */
  vmx_trace_reader_t *r;
  vmx_trace_record_t rec;
  assert_int_equal(vmx_trace_read_open(path, &r, &err), 0);
  assert_int_equal(vmx_trace_next(r, &rec), 1);
  assert_int_equal(vmx_trace_next(r, &rec), 1);
  size_t second = rec.offset;
  vmx_trace_read_close(r);
  data[second] = 0xc1;
  spit(bad, data, size);
  assert_int_equal(read_all(bad, &rc, &err), 1);
  assert_int_equal(rc, VMX_EINVAL);
  assert_int_equal(err.offset, second);
  char want[64];
  snprintf(want, sizeof want, "bad record at offset %zu", second);
  assert_non_null(strstr(err.text, want));
  free(data);
}

static void test_empty_foreign_and_future_files_are_rejected(void **state) {
  (void)state;
  char path[256];
  path_in_tmp(path, sizeof path, "other.bin");
  vmx_trace_reader_t *r = NULL;
  vmx_trace_error_t err;

  spit(path, "", 0);
  assert_int_equal(vmx_trace_read_open(path, &r, &err), VMX_EINVAL);
  assert_non_null(strstr(err.text, "empty file at offset 0"));

  spit(path, "hello, world\n", 13);
  assert_int_equal(vmx_trace_read_open(path, &r, &err), VMX_EINVAL);
  assert_non_null(strstr(err.text, "bad magic at offset 0"));

  /* A msgpack array of two strings is msgpack, but not a trace. */
  spit(path, "\x92\xa3" "abc\xa1x", 7);
  assert_int_equal(vmx_trace_read_open(path, &r, &err), VMX_EINVAL);
  assert_non_null(strstr(err.text, "bad magic at offset 0"));

  /* Format 7: the magic is right, the version is not one we read. */
  spit(path, "\x95\xa8VMXTRACE\x07\x00\x00\xa0", 14);
  assert_int_equal(vmx_trace_read_open(path, &r, &err), VMX_EINVAL);
  assert_non_null(strstr(err.text, "unknown format version 7 at offset 10"));

  path_in_tmp(path, sizeof path, "missing.bin");
  assert_int_equal(vmx_trace_read_open(path, &r, &err), VMX_EIO);
  assert_non_null(strstr(err.text, "missing.bin"));
  assert_null(r);
}

/* While a new trace is recorded, the older one at its path stays whole; the
 * new one replaces it only at close. */
static void test_older_trace_replaced_only_at_close(void **state) {
  (void)state;
  char path[256];
  size_t old_size;
  uint8_t *old = record_small("replace.bin", 3, path, &old_size);

  vmx_bus_t *bus;
  vmx_loop_t *loop;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  assert_int_equal(vmx_loop_start(bus, NULL, &loop), 0);
  vmx_trace_rec_t *rec;
  vmx_trace_error_t err;
  assert_int_equal(vmx_trace_open(bus, path, "TEST", &rec, &err), 0);
  uint64_t got = 0;
  vmx_addr_t sink;
  assert_int_equal(
      vmx_actor_spawn(loop, &(vmx_actor_def_t){.receive = sink_receive, .state = &got}, &sink), 0);
  vmx_bus_sender_t out;
  vmx_bus_sender_init(bus, &out);
  for (unsigned i = 0; i < 7; i++) {
    vmx_msg_t m = VMX_MSG_INIT(PING);
    assert_int_equal(vmx_bus_send(&out, sink, &m), 0);
  }
  wait_for(&got, 7);
  size_t mid_size;
  uint8_t *mid = slurp(path, &mid_size);
  assert_int_equal(mid_size, old_size);
  assert_memory_equal(mid, old, old_size);

  assert_int_equal(vmx_loop_stop_all(bus, 5 * SEC), 0);
  assert_int_equal(vmx_trace_count(rec), 7);
  assert_int_equal(vmx_trace_close(rec), 0);
  vmx_bus_close(bus);
  int rc;
  assert_int_equal(read_all(path, &rc, &err), 7);
  assert_int_equal(rc, 0);
  free(old);
  free(mid);
}

/* A trace whose file cannot be created is refused at open. */
static void test_open_fails_on_unwritable_path(void **state) {
  (void)state;
  vmx_bus_t *bus;
  assert_int_equal(vmx_bus_init(&bus, NULL), 0);
  vmx_trace_rec_t *rec;
  vmx_trace_error_t err;
  assert_int_equal(vmx_trace_open(bus, "/nonexistent-dir/t.bin", NULL, &rec, &err), VMX_EIO);
  assert_non_null(strstr(err.text, "/nonexistent-dir/t.bin"));
  vmx_bus_close(bus);
}

int main(int argc, char **argv) {
  keep_path = argc > 1 ? argv[1] : NULL;
  if (!mkdtemp(tmp_dir))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_records_pings_between_two_loops_in_order),
      cmocka_unit_test(test_topic_filter),
      cmocka_unit_test(test_truncated_files_name_the_offset),
      cmocka_unit_test(test_corrupted_bytes_never_crash),
      cmocka_unit_test(test_empty_foreign_and_future_files_are_rejected),
      cmocka_unit_test(test_older_trace_replaced_only_at_close),
      cmocka_unit_test(test_open_fails_on_unwritable_path),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
  if (system(cmd) != 0)
    failed++;
  return failed;
}
