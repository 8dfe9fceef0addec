/* Disk images (src/block): raw and qcow2 read/write checked against QEMU's
 * own tools (qemu-img create/check/compare, qemu-io), malformed images,
 * concurrent writers, the -drive parser, and a bounded fuzz of the qcow2
 * header and tables.
 *
 *   VMX_FUZZ_SEED=n     repeat a fuzz run (the seed is printed first)
 *   VMX_FUZZ_SECONDS=s  fuzz time budget (default 2)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "fuzz.h"
#include "base/error.h"
#include "block/image.h"

static char dir[64];
static char path_buf[8][256];

/* A path inside the test's temporary directory (8 rotating buffers). */
static const char *tmp(const char *name) {
  static unsigned next;
  char *p = path_buf[next++ % 8];
  snprintf(p, 256, "%s/%s", dir, name);
  return p;
}

/* Runs a shell command (quietly); returns its exit status. */
static int sh(const char *fmt, ...) {
  char cmd[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  char full[1200];
  snprintf(full, sizeof full, "(%s) >%s/sh.log 2>&1", cmd, dir);
  int st = system(full);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    char log[1024] = "";
    FILE *f = fopen(tmp("sh.log"), "r");
    if (f) {
      size_t n = fread(log, 1, sizeof log - 1, f);
      log[n] = 0;
      fclose(f);
    }
    printf("command failed: %s\n%s", cmd, log);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/vmx-block-XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static vmx_image_t *open_ok(const char *path, const char *format, bool readonly) {
  vmx_image_t *img;
  char err[256] = "";
  int rc = vmx_image_open(path, format, readonly, &img, err, sizeof err);
  if (rc != 0)
    printf("open %s: %s\n", path, err);
  assert_int_equal(rc, 0);
  return img;
}

static void fill(uint8_t *buf, size_t len, unsigned seed) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* One write into both the image under test and a raw mirror in memory. */
static void write_both(vmx_image_t *img, uint8_t *mirror, uint64_t off, size_t len,
                       unsigned seed) {
  uint8_t *buf = malloc(len);
  fill(buf, len, seed);
  assert_int_equal(vmx_image_write(img, off, buf, len), 0);
  memcpy(mirror + off, buf, len);
  free(buf);
}

static void assert_reads(vmx_image_t *img, const uint8_t *mirror, uint64_t off, size_t len) {
  uint8_t *buf = malloc(len);
  assert_int_equal(vmx_image_read(img, off, buf, len), 0);
  assert_memory_equal(buf, mirror + off, len);
  free(buf);
}

static void save_raw(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

static uint32_t be32_at(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- raw ---- */

static void test_raw_write_read_and_size(void **state) {
  const size_t size = 1 << 20;
  assert_int_equal(sh("truncate -s %zu %s", size, tmp("r.img")), 0);
  vmx_image_t *img = open_ok(tmp("r.img"), NULL, false);
  assert_string_equal(vmx_image_format(img), "raw");
  assert_int_equal(vmx_image_size(img), size);
  uint8_t *mirror = calloc(1, size);
  write_both(img, mirror, 0, 4096, 1);
  write_both(img, mirror, 12345, 70000, 2);
  write_both(img, mirror, size - 512, 512, 3);
  assert_reads(img, mirror, 0, size);
  uint8_t b[16];
  assert_int_equal(vmx_image_read(img, size - 8, b, 16), VMX_ERANGE);
  assert_int_equal(vmx_image_write(img, size, b, 1), VMX_ERANGE);
  assert_int_equal(vmx_image_write_zeroes(img, 12345, 5000), 0);
  memset(mirror + 12345, 0, 5000);
  assert_int_equal(vmx_image_discard(img, 0, 4096), 0);
  assert_reads(img, mirror, 4096, size - 4096);
  assert_int_equal(vmx_image_flush(img), 0);
  vmx_image_close(img);
  free(mirror);
}

static void test_readonly_image_refuses_writes(void **state) {
  assert_int_equal(sh("truncate -s 64k %s", tmp("ro.img")), 0);
  assert_int_equal(sh("qemu-img create -f qcow2 %s 1M", tmp("ro.qcow2")), 0);
  const char *paths[] = {tmp("ro.img"), tmp("ro.qcow2")};
  for (int i = 0; i < 2; i++) {
    vmx_image_t *img = open_ok(paths[i], NULL, true);
    assert_true(vmx_image_readonly(img));
    uint8_t b[512] = {1};
    assert_int_equal(vmx_image_write(img, 0, b, sizeof b), VMX_EINVAL);
    assert_int_equal(vmx_image_write_zeroes(img, 0, 512), VMX_EINVAL);
    assert_int_equal(vmx_image_discard(img, 0, 512), VMX_EINVAL);
    assert_int_equal(vmx_image_flush(img), 0);
    assert_int_equal(vmx_image_read(img, 0, b, sizeof b), 0);
    assert_int_equal(b[0], 0);
    vmx_image_close(img);
  }
}

static void test_writable_image_is_locked(void **state) {
  assert_int_equal(sh("truncate -s 64k %s", tmp("lock.img")), 0);
  vmx_image_t *img = open_ok(tmp("lock.img"), "raw", false), *other;
  char err[256];
  assert_int_equal(vmx_image_open(tmp("lock.img"), "raw", true, &other, err, sizeof err),
                   VMX_EAGAIN);
  assert_non_null(strstr(err, "in use"));
  vmx_image_close(img);
}

/* ---- qcow2 against QEMU's tools ---- */

/* Writes at allocated, unallocated, cluster-straddling and L2-straddling
 * offsets; then qemu-img check/compare and qemu-io agree with vmx. */
static void qcow2_write_check(const char *opts) {
  const size_t size = 8 << 20;
  const char *q = tmp("w.qcow2"), *r = tmp("w.raw");
  assert_int_equal(sh("qemu-img create -f qcow2 -o %s %s %zu", opts, q, size), 0);
  assert_int_equal(sh("qemu-io -f qcow2 -c 'write -P 0x11 0 64k' %s", q), 0);
  uint8_t *mirror = calloc(1, size);
  memset(mirror, 0x11, 65536);
  vmx_image_t *img = open_ok(q, NULL, false);
  assert_string_equal(vmx_image_format(img), "qcow2");
  assert_int_equal(vmx_image_size(img), size);
  write_both(img, mirror, 4096, 4096, 1);                 /* allocated, in place */
  write_both(img, mirror, 1 << 20, 512, 2);               /* unallocated */
  write_both(img, mirror, 60 * 1024, 10 * 1024, 3);       /* straddles 64k */
  write_both(img, mirror, (2 << 20) - 3000, 6000, 4);     /* straddles 2 MiB (4k clusters' L2) */
  write_both(img, mirror, 3 << 20, 1 << 20, 5);           /* many clusters */
  write_both(img, mirror, size - 100, 100, 6);            /* the last bytes */
  write_both(img, mirror, 1 << 20, 100, 7);               /* again, now allocated */
  assert_reads(img, mirror, 0, size);
  assert_int_equal(vmx_image_flush(img), 0);
  vmx_image_close(img);

  img = open_ok(q, "qcow2", true);                        /* reopened */
  assert_reads(img, mirror, 0, size);
  vmx_image_close(img);
  save_raw(r, mirror, size);
  assert_int_equal(sh("qemu-img check %s", q), 0);        /* 2: errors, 3: leaks */
  assert_int_equal(sh("qemu-img compare -f qcow2 -F raw %s %s", q, r), 0);
  assert_int_equal(sh("qemu-io -f qcow2 -r -c 'read -P 0x11 0 4k' -c 'read -P 0x11 8k 52k' %s", q),
                   0);
  /* A pattern qemu-io can name: one byte value over a span. */
  img = open_ok(q, NULL, false);
  uint8_t ab[3000];
  memset(ab, 0xab, sizeof ab);
  assert_int_equal(vmx_image_write(img, 5 << 20, ab, sizeof ab), 0);
  vmx_image_close(img);
  assert_int_equal(sh("qemu-io -f qcow2 -r -c 'read -P 0xab %d %zu' %s", 5 << 20, sizeof ab, q), 0);
  assert_int_equal(sh("qemu-img check %s", q), 0);
  free(mirror);
}

static void test_qcow2_v3_writes_pass_qemu_img_check(void **state) {
  qcow2_write_check("compat=1.1");
}

static void test_qcow2_v2_writes_pass_qemu_img_check(void **state) {
  qcow2_write_check("compat=0.10");
}

static void test_qcow2_small_clusters_new_l2_and_refblocks(void **state) {
  qcow2_write_check("cluster_size=4096");
  qcow2_write_check("cluster_size=512"); /* a refcount block covers only 128 KiB */
}

/* 512-byte clusters: qemu-img's one-cluster refcount table covers 8 MiB of
 * file, so 12 MiB of data makes vmx move it to a larger one. */
static void test_qcow2_refcount_table_grows(void **state) {
  const size_t size = 32 << 20, chunk = 1 << 20;
  const char *q = tmp("g.qcow2"), *r = tmp("g.raw");
  assert_int_equal(sh("qemu-img create -f qcow2 -o cluster_size=512 %s %zu", q, size), 0);
  uint8_t *mirror = calloc(1, size);
  vmx_image_t *img = open_ok(q, NULL, false);
  for (unsigned i = 0; i < 12; i++)
    write_both(img, mirror, (uint64_t)i * 2 * chunk + 512 * i, chunk, 100 + i);
  assert_reads(img, mirror, 0, size);
  vmx_image_close(img);
  size_t len;
  uint8_t *file = slurp(q, &len);
  assert_true(be32_at(file + 56) > 1);  /* refcount_table_clusters */
  free(file);
  save_raw(r, mirror, size);
  assert_int_equal(sh("qemu-img check %s", q), 0);
  assert_int_equal(sh("qemu-img compare -f qcow2 -F raw %s %s", q, r), 0);
  free(mirror);
}

static void test_qcow2_reads_data_written_by_qemu(void **state) {
  const char *q = tmp("qw.qcow2");
  assert_int_equal(sh("qemu-img create -f qcow2 %s 4M", q), 0);
  assert_int_equal(sh("qemu-io -f qcow2 -c 'write -P 0x5a 100k 300k' -c 'write -P 0x77 1M 128k' "
                      "-c 'write -z 1M 64k' %s", q), 0);
  vmx_image_t *img = open_ok(q, NULL, false);
  uint8_t *buf = malloc(4 << 20);
  assert_int_equal(vmx_image_read(img, 0, buf, 4 << 20), 0);
  for (size_t i = 0; i < (4u << 20); i++) {
    uint8_t want = 0;
    if (i >= 100 * 1024 && i < 400 * 1024)
      want = 0x5a;
    if (i >= (1u << 20) + 65536 && i < (1u << 20) + 131072)
      want = 0x77;
    if (buf[i] != want)
      fail_msg("byte 0x%zx is 0x%02x, want 0x%02x", i, buf[i], want);
  }
  /* Into the zero cluster qemu left, partly. */
  uint8_t ab[1000];
  memset(ab, 0xab, sizeof ab);
  assert_int_equal(vmx_image_write(img, (1 << 20) + 500, ab, sizeof ab), 0);
  assert_int_equal(vmx_image_write_zeroes(img, 100 * 1024, 4096), 0);
  vmx_image_close(img);
  assert_int_equal(sh("qemu-io -f qcow2 -r -c 'read -P 0 1M 500' -c 'read -P 0xab 1049076 1000' "
                      "-c 'read -P 0 1050076 64036' -c 'read -P 0 100k 4k' "
                      "-c 'read -P 0x5a 104k 296k' %s", q), 0);
  assert_int_equal(sh("qemu-img check %s", q), 0);
  free(buf);
}

/* raw base <- mid.qcow2 <- top.qcow2 (relative names): vmx reads through
 * the chain, copies on write into top only, and QEMU agrees. */
static void test_qcow2_backing_chain(void **state) {
  const size_t size = 4 << 20;
  assert_int_equal(sh("cd %s && truncate -s 4M base.raw && "
                      "qemu-io -f raw -c 'write -P 0x11 0 1M' -c 'write -P 0x22 2M 64k' base.raw && "
                      "qemu-img create -f qcow2 -b base.raw -F raw mid.qcow2 4M && "
                      "qemu-io -f qcow2 -c 'write -P 0x33 512k 64k' mid.qcow2 && "
                      "qemu-img create -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 4M && "
                      "cp base.raw base.orig && cp mid.qcow2 mid.orig", dir), 0);
  uint8_t *mirror = calloc(1, size);
  memset(mirror, 0x11, 1 << 20);
  memset(mirror + (2 << 20), 0x22, 65536);
  memset(mirror + (512 << 10), 0x33, 65536);
  vmx_image_t *img = open_ok(tmp("top.qcow2"), NULL, false);
  assert_reads(img, mirror, 0, size);
  write_both(img, mirror, 1000, 100, 1);                  /* over base data */
  write_both(img, mirror, (512 << 10) + 10, 10, 2);       /* over mid data */
  write_both(img, mirror, (2 << 20) + 65000, 1000, 3);    /* straddles base data's end */
  write_both(img, mirror, 3 << 20, 4096, 4);              /* over zeros of base */
  assert_int_equal(vmx_image_write_zeroes(img, 4096, 8192), 0);
  memset(mirror + 4096, 0, 8192);
  assert_reads(img, mirror, 0, size);
  vmx_image_close(img);
  save_raw(tmp("top.want"), mirror, size);
  assert_int_equal(sh("qemu-img check %s", tmp("top.qcow2")), 0);
  assert_int_equal(sh("qemu-img compare -f qcow2 -F raw %s %s", tmp("top.qcow2"), tmp("top.want")),
                   0);
  assert_int_equal(sh("cd %s && cmp base.raw base.orig && cmp mid.qcow2 mid.orig", dir), 0);
  free(mirror);
}

typedef struct writer {
  vmx_image_t *img;
  unsigned id;
} writer_t;

static void *writer_main(void *arg) {
  writer_t *w = arg;
  uint8_t buf[4096];
  for (unsigned i = 0; i < 64; i++) {
    /* Writers interleave in the same clusters and L2 tables. */
    uint64_t off = ((uint64_t)i * 4 + w->id) * 4096 * 5;
    fill(buf, sizeof buf, w->id * 1000 + i);
    if (vmx_image_write(w->img, off, buf, sizeof buf) != 0)
      return (void *)1;
  }
  return NULL;
}

static void test_qcow2_concurrent_writers(void **state) {
  const size_t size = 8 << 20;
  const char *q = tmp("cw.qcow2"), *r = tmp("cw.raw");
  assert_int_equal(sh("qemu-img create -f qcow2 -o cluster_size=16k %s %zu", q, size), 0);
  vmx_image_t *img = open_ok(q, NULL, false);
  pthread_t th[4];
  writer_t w[4];
  for (unsigned t = 0; t < 4; t++) {
    w[t] = (writer_t){img, t};
    assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
  }
  for (unsigned t = 0; t < 4; t++) {
    void *ret;
    pthread_join(th[t], &ret);
    assert_null(ret);
  }
  vmx_image_close(img);
  uint8_t *mirror = calloc(1, size);
  for (unsigned t = 0; t < 4; t++)
    for (unsigned i = 0; i < 64; i++)
      fill(mirror + ((uint64_t)i * 4 + t) * 4096 * 5, 4096, t * 1000 + i);
  save_raw(r, mirror, size);
  assert_int_equal(sh("qemu-img check %s", q), 0);
  assert_int_equal(sh("qemu-img compare -f qcow2 -F raw %s %s", q, r), 0);
  free(mirror);
}

/* ---- malformed qcow2 ---- */

static void put_be32(const char *path, long off, uint32_t v) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  uint8_t b[4] = {v >> 24, v >> 16, v >> 8, v};
  fseek(f, off, SEEK_SET);
  fwrite(b, 1, 4, f);
  fclose(f);
}

static void expect_refused(const char *path, bool readonly, const char *words) {
  vmx_image_t *img = NULL;
  char err[512] = "";
  int rc = vmx_image_open(path, "qcow2", readonly, &img, err, sizeof err);
  if (rc == 0 || !strstr(err, words))
    fail_msg("%s: rc %d, message '%s' (want one with '%s')", path, rc, err, words);
  assert_null(img);
}

static void test_qcow2_malformed_images_are_refused(void **state) {
  const char *q = tmp("m.qcow2");
  struct { long off; uint32_t val; const char *words; } cases[] = {
      {0, 0x12345678, "bad magic"},
      {4, 4, "version 4"},
      {20, 8, "cluster_bits 8"},
      {20, 22, "cluster_bits 22"},
      {32, 1, "encrypted"},
      {36, 0, "L1 size"},
      {44, 0x100000, "L1 table"},      /* l1_table_offset low word: past EOF */
      {52, 0x12345, "refcount table"}, /* misaligned */
      {56, 0, "refcount table"},
      {76, 0x100, "unknown incompatible"},
      {76, 4, "external data"},
      {76, 16, "extended L2"},
      {76, 2, "corrupt"},
      {96, 3, "refcount_order 3"},
      {100, 50, "header_length"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(sh("rm -f %s && qemu-img create -f qcow2 %s 1M", q, q), 0);
    put_be32(q, cases[i].off, cases[i].val);
    expect_refused(q, false, cases[i].words);
  }
  assert_int_equal(sh("printf 'QFI' > %s", q), 0);
  expect_refused(q, true, "too short");
  assert_int_equal(sh("rm -f %s && qemu-img create -f qcow2 %s 1M && "
                      "qemu-img rebase -u -b m.qcow2 -F qcow2 %s", q, q, q), 0);
  expect_refused(q, true, "backing chain longer");   /* the image backs itself */
  assert_int_equal(sh("qemu-img rebase -u -b nothere.img -F raw %s", q), 0);
  expect_refused(q, true, "No such file");
  assert_int_equal(sh("rm -f %s && qemu-img create -f qcow2 -o refcount_bits=8 %s 1M", q, q), 0);
  expect_refused(q, true, "refcount_order 3");
  assert_int_equal(sh("rm -f %s && qemu-img create -f qcow2 %s 1M && qemu-img snapshot -c s1 %s",
                      q, q, q), 0);
  expect_refused(q, false, "snapshots");
  vmx_image_close(open_ok(q, NULL, true));
}

static void test_qcow2_compressed_cluster_read_fails_cleanly(void **state) {
  const char *r = tmp("c.raw"), *q = tmp("c.qcow2");
  assert_int_equal(sh("truncate -s 1M %s && qemu-io -f raw -c 'write -P 0x33 0 128k' %s", r, r), 0);
  assert_int_equal(sh("qemu-img convert -c -f raw -O qcow2 %s %s", r, q), 0);
  vmx_image_t *img = open_ok(q, NULL, true);
  uint8_t buf[512];
  assert_int_equal(vmx_image_read(img, 0, buf, sizeof buf), VMX_ENOSYS);
  assert_int_equal(vmx_image_read(img, 512 << 10, buf, sizeof buf), 0); /* unallocated */
  vmx_image_close(img);
}

/* ---- -drive ---- */

static void test_drive_parse(void **state) {
  vmx_drive_opts_t o;
  char err[256];
  assert_int_equal(vmx_drive_parse("file=a,,b.img,format=qcow2,if=none,id=d0,readonly=on", &o,
                                   err, sizeof err), 0);
  assert_string_equal(o.file, "a,b.img");
  assert_string_equal(o.format, "qcow2");
  assert_string_equal(o.id, "d0");
  assert_true(o.if_none);
  assert_true(o.readonly);
  assert_int_equal(vmx_drive_parse("file=x.img", &o, err, sizeof err), 0);
  assert_string_equal(o.format, "");
  assert_false(o.if_none);
  assert_false(o.readonly);
  assert_int_equal(vmx_drive_parse("file=x,readonly", &o, err, sizeof err), 0);
  assert_true(o.readonly);
  assert_int_equal(vmx_drive_parse("file=x,cache=none", &o, err, sizeof err), VMX_EINVAL);
  assert_non_null(strstr(err, "'cache'"));
  assert_int_equal(vmx_drive_parse("file=x,format=vmdk", &o, err, sizeof err), VMX_EINVAL);
  assert_non_null(strstr(err, "vmdk"));
  assert_int_equal(vmx_drive_parse("format=raw", &o, err, sizeof err), VMX_EINVAL);
  assert_non_null(strstr(err, "file="));
  assert_int_equal(vmx_drive_parse("file=x,readonly=maybe", &o, err, sizeof err), VMX_EINVAL);
  assert_int_equal(vmx_drive_parse("file", &o, err, sizeof err), VMX_EINVAL);
}

/* ---- fuzz ---- */



/* Mutates the header, L1, refcount table and L2 area of a small image with
 * data in it; every open either fails with a message or gives an image whose
 * reads and writes return without crashing. */
static void test_qcow2_fuzz_tables(void **state) {
  double end = fuzz_begin(2.0);
  const char *q = tmp("f.qcow2"), *qb = tmp("fb.qcow2"), *f = tmp("fz.qcow2");
  assert_int_equal(sh("qemu-img create -f qcow2 -o cluster_size=4096 %s 4M && qemu-io -f qcow2 "
                      "-c 'write -P 0x5a 0 8k' -c 'write -P 1 2M 4k' %s", q, q), 0);
  /* A second seed with a backing file (named relatively: f.qcow2). */
  assert_int_equal(sh("cd %s && qemu-img create -f qcow2 -o cluster_size=4096 -b f.qcow2 -F qcow2 "
                      "fb.qcow2 4M && qemu-io -f qcow2 -c 'write -P 7 4k 8k' fb.qcow2", dir), 0);
  size_t lens[2];
  uint8_t *seeds[2] = {slurp(q, &lens[0]), slurp(qb, &lens[1])};
  uint8_t *img_bytes = malloc(lens[0] > lens[1] ? lens[0] : lens[1]);
  unsigned runs = 0, opened = 0;
  while (now_s() < end) {
    unsigned which = rnd() & 1;
    size_t len = lens[which];
    memcpy(img_bytes, seeds[which], len);
    unsigned nmut = 1 + rnd() % 8;
    for (unsigned i = 0; i < nmut; i++) {
      /* Mostly the header; else anywhere in the metadata clusters. */
      size_t at = rnd() % 4 ? rnd() % 112 : rnd() % (len < 6 * 4096 ? len : 6 * 4096);
      img_bytes[at] = rnd() % 3 ? (uint8_t)rnd() : img_bytes[at] ^ (uint8_t)(1u << (rnd() % 8));
    }
    save_raw(f, img_bytes, rnd() % 16 ? len : rnd() % len);
    bool readonly = rnd() & 1;
    vmx_image_t *img;
    char err[512] = "";
    runs++;
    if (vmx_image_open(f, "qcow2", readonly, &img, err, sizeof err) != 0) {
      assert_true(err[0] != 0);
      continue;
    }
    opened++;
    uint8_t buf[8192];
    uint64_t size = vmx_image_size(img);
    for (int k = 0; k < 8 && size; k++) {
      uint64_t off = rnd() % size;
      size_t n = (size_t)(size - off < sizeof buf ? size - off : sizeof buf);
      if (k < 4 || readonly)
        (void)vmx_image_read(img, off, buf, n);
      else if (off < (64u << 20))  /* keep the file small */
        (void)vmx_image_write(img, off, buf, n);
    }
    vmx_image_close(img);
  }
  printf("fuzz: %u images, %u opened\n", runs, opened);
  free(seeds[0]);
  free(seeds[1]);
  free(img_bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_raw_write_read_and_size),
      cmocka_unit_test(test_readonly_image_refuses_writes),
      cmocka_unit_test(test_writable_image_is_locked),
      cmocka_unit_test(test_qcow2_v3_writes_pass_qemu_img_check),
      cmocka_unit_test(test_qcow2_v2_writes_pass_qemu_img_check),
      cmocka_unit_test(test_qcow2_small_clusters_new_l2_and_refblocks),
      cmocka_unit_test(test_qcow2_refcount_table_grows),
      cmocka_unit_test(test_qcow2_reads_data_written_by_qemu),
      cmocka_unit_test(test_qcow2_backing_chain),
      cmocka_unit_test(test_qcow2_concurrent_writers),
      cmocka_unit_test(test_qcow2_malformed_images_are_refused),
      cmocka_unit_test(test_qcow2_compressed_cluster_read_fails_cleanly),
      cmocka_unit_test(test_drive_parse),
      cmocka_unit_test(test_qcow2_fuzz_tables),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
