/* virtio-blk (src/devices/virtio_blk.c) driven through the virtio-mmio
 * registers by a small driver over a malloc'ed fake guest RAM, with the
 * device loop run until the disk work completes; results are checked in the
 * used ring, the status bytes and the host image file. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "devices/virtio_blk.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x100000ull
#define QNUM 16u
#define DESC (RAM_BASE)
#define AVAIL (RAM_BASE + 0x1000)
#define USED (RAM_BASE + 0x2000)
#define HDR (RAM_BASE + 0x3000)     /* request headers, 32 bytes apart */
#define STATUS (RAM_BASE + 0x4000)  /* status bytes, 16 apart */
#define DATA (RAM_BASE + 0x10000)   /* data buffers */
#define DISK_SIZE (1u << 20)

static uint8_t *host;
static vmx_guest_ram_t ram;
static vmx_virtio_dev_t dev;
static uv_loop_t loop;
static vmx_image_t *img;
static uint16_t avail_idx, next_desc;
static int irq_level, reports;
static char dir[64], disk_path[128];

static void on_irq(void *arg, bool level) { irq_level = level; }
static void on_report(void *arg, const char *msg) { reports++; }
static const vmx_virtio_io_t io = {on_irq, on_report, NULL};

static uint32_t rd(uint64_t off) { return (uint32_t)vmx_virtio_mmio_read(&dev, off, 4); }
static void wr(uint64_t off, uint32_t v) { vmx_virtio_mmio_write(&dev, off, 4, v); }
static uint8_t *gp(uint64_t gpa) { return host + (gpa - RAM_BASE); }

static int setup(void **state) {
  host = calloc(1, RAM_SIZE);
  ram = (vmx_guest_ram_t){.host = host, .base = RAM_BASE, .size = RAM_SIZE};
  avail_idx = next_desc = 0;
  irq_level = reports = 0;
  snprintf(dir, sizeof dir, "/tmp/vmx-vblk-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(disk_path, sizeof disk_path, "%s/disk.img", dir);
  assert_int_equal(uv_loop_init(&loop), 0);
  return 0;
}

static int teardown(void **state) {
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  free(host);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A raw disk of DISK_SIZE bytes of pattern (i * 7) and a device over it. */
static void make_device(bool readonly, const char *format) {
  char err[256];
  if (!format) {
    int fd = open(disk_path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    assert_true(fd >= 0);
    uint8_t *p = malloc(DISK_SIZE);
    for (size_t i = 0; i < DISK_SIZE; i++)
      p[i] = (uint8_t)(i * 7);
    assert_int_equal(write(fd, p, DISK_SIZE), DISK_SIZE);
    close(fd);
    free(p);
  }
  assert_int_equal(vmx_image_open(disk_path, format, readonly, &img, err, sizeof err), 0);
  assert_int_equal(vmx_virtio_blk_create(&dev, &loop, &ram, &io, img, err, sizeof err), 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_ID), 2);
}

static void destroy_device(void) {
  vmx_virtio_blk_destroy(&dev);
  uv_run(&loop, UV_RUN_DEFAULT);
  vmx_image_close(img);
}

static void driver_up(void) {
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  wr(VMX_VIRTIO_MMIO_STATUS, VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER);
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  uint32_t lo = rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES) & ~(1u << VMX_VIRTIO_F_EVENT_IDX);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, lo);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
  wr(VMX_VIRTIO_MMIO_STATUS, 0xb);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_STATUS), 0xb);
  wr(VMX_VIRTIO_MMIO_QUEUE_SEL, 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_NUM_MAX), VMX_VIRTIO_BLK_QUEUE_MAX);
  wr(VMX_VIRTIO_MMIO_QUEUE_NUM, QNUM);
  wr(VMX_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC);
  wr(VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL);
  wr(VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED);
  wr(VMX_VIRTIO_MMIO_QUEUE_READY, 1);
  wr(VMX_VIRTIO_MMIO_STATUS, 0xf);
  avail_idx = next_desc = 0;
}

typedef struct seg {
  uint64_t gpa;
  uint32_t len;
  bool writable;
} seg_t;

/* Puts one chain of segments in the ring (not yet notified); returns its head. */
static uint16_t chain(const seg_t *s, unsigned n) {
  uint16_t head = next_desc;
  for (unsigned i = 0; i < n; i++) {
    uint16_t idx = (uint16_t)((next_desc++) % QNUM);
    uint16_t flags = (s[i].writable ? VMX_VIRTQ_DESC_F_WRITE : 0) |
                     (i + 1 < n ? VMX_VIRTQ_DESC_F_NEXT : 0);
    uint16_t nxt = (uint16_t)(next_desc % QNUM);
    uint8_t *p = gp(DESC) + 16 * idx;
    memcpy(p, &s[i].gpa, 8);
    memcpy(p + 8, &s[i].len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &nxt, 2);
  }
  head %= QNUM;
  memcpy(gp(AVAIL) + 4 + 2 * (avail_idx % QNUM), &head, 2);
  avail_idx++;
  memcpy(gp(AVAIL) + 2, &avail_idx, 2);
  return head;
}

/* Writes request header number k; returns its guest address. */
static uint64_t header(unsigned k, uint32_t type, uint64_t sector) {
  uint64_t gpa = HDR + 32 * k;
  uint32_t zero = 0;
  memcpy(gp(gpa), &type, 4);
  memcpy(gp(gpa) + 4, &zero, 4);
  memcpy(gp(gpa) + 8, &sector, 8);
  gp(STATUS + 16 * k)[0] = 0xee;
  return gpa;
}

static uint8_t status(unsigned k) { return gp(STATUS + 16 * k)[0]; }

static uint16_t used_idx(void) {
  uint16_t v;
  memcpy(&v, gp(USED) + 2, 2);
  return v;
}

static uint32_t used_len(unsigned i) {
  uint32_t v;
  memcpy(&v, gp(USED) + 8 + 8 * (i % QNUM), 4);
  return v;
}

/* Notifies and runs the device loop until the disk work is done. */
static void kick(void) {
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
}

/* A simple request: header, one data segment (or none), status. */
static void simple(unsigned k, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
                   bool writable) {
  seg_t s[3] = {{header(k, type, sector), 16, false}, {data, len, writable},
                {STATUS + 16 * k, 1, true}};
  if (len)
    chain(s, 3);
  else
    chain((seg_t[]){s[0], s[2]}, 2);
}

static void read_disk(uint64_t off, void *buf, size_t len) {
  int fd = open(disk_path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
  close(fd);
}

static void test_config_and_features(void **state) {
  make_device(false, NULL);
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  uint32_t f = rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES);
  assert_true(f & 1u << VMX_VIRTIO_BLK_F_FLUSH);
  assert_true(f & 1u << VMX_VIRTIO_BLK_F_BLK_SIZE);
  assert_true(f & 1u << VMX_VIRTIO_BLK_F_SEG_MAX);
  assert_true(f & 1u << VMX_VIRTIO_BLK_F_DISCARD);
  assert_true(f & 1u << VMX_VIRTIO_BLK_F_WRITE_ZEROES);
  assert_false(f & 1u << VMX_VIRTIO_BLK_F_RO);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x100, 8), DISK_SIZE / 512);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x100, 4), DISK_SIZE / 512);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x104, 4), 0);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x10c, 4), VMX_VIRTIO_BLK_QUEUE_MAX - 2);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x114, 4), 512);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x128, 4), 1); /* max_discard_seg */
  destroy_device();
}

static void test_write_then_read_back(void **state) {
  make_device(false, NULL);
  driver_up();
  for (unsigned i = 0; i < 4096; i++)
    gp(DATA)[i] = (uint8_t)(i ^ 0x5a);
  simple(0, VMX_VIRTIO_BLK_T_OUT, 8, DATA, 4096, false);
  /* Header and data in one segment, then data split in two. */
  uint64_t h = header(1, VMX_VIRTIO_BLK_T_OUT, 100);
  uint8_t *hd = malloc(16 + 512);
  memcpy(hd, gp(h), 16);
  memset(hd + 16, 0xcd, 512);
  memcpy(gp(DATA + 0x8000), hd, 16 + 512);
  memset(gp(DATA + 0x9000), 0xef, 1024);
  chain((seg_t[]){{DATA + 0x8000, 16 + 512, false}, {DATA + 0x9000, 1000, false},
                  {DATA + 0x9400, 24, false}, {STATUS + 16, 1, true}}, 4);
  memset(gp(DATA + 0x9400), 0xef, 24);
  kick();
  assert_int_equal(used_idx(), 2);
  assert_int_equal(status(0), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(status(1), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(used_len(0), 1);
  assert_true(irq_level);
  uint8_t buf[4096];
  read_disk(8 * 512, buf, 4096);
  assert_memory_equal(buf, gp(DATA), 4096);
  read_disk(100 * 512, buf, 1536);
  for (unsigned i = 0; i < 1536; i++)
    assert_int_equal(buf[i], i < 512 ? 0xcd : 0xef);
  read_disk(101 * 512 + 1024, buf, 1);
  assert_int_equal(buf[0], (uint8_t)((101 * 512 + 1024) * 7));  /* untouched after */

  /* Read back into two segments, the second holding the status too. */
  header(2, VMX_VIRTIO_BLK_T_IN, 8);
  memset(gp(DATA + 0x20000), 0, 0x2000);
  chain((seg_t[]){{HDR + 64, 16, false}, {DATA + 0x20000, 1000, true},
                  {DATA + 0x21000, 4096 - 1000 + 1, true}}, 3);
  kick();
  assert_int_equal(used_idx(), 3);
  assert_int_equal(used_len(2), 4097);
  assert_memory_equal(gp(DATA + 0x20000), gp(DATA), 1000);
  assert_memory_equal(gp(DATA + 0x21000), gp(DATA) + 1000, 4096 - 1000);
  assert_int_equal(gp(DATA + 0x21000)[4096 - 1000], VMX_VIRTIO_BLK_S_OK);
  free(hd);
  destroy_device();
}

static void test_flush_and_get_id(void **state) {
  make_device(false, NULL);
  vmx_virtio_blk_set_serial(&dev, "vmx-disk-serial-0123456789");
  driver_up();
  simple(0, VMX_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
  memset(gp(DATA), 0xff, 64);
  simple(1, VMX_VIRTIO_BLK_T_GET_ID, 0, DATA, 20, true);
  kick();
  assert_int_equal(used_idx(), 2);
  assert_int_equal(status(0), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(status(1), VMX_VIRTIO_BLK_S_OK);
  assert_memory_equal(gp(DATA), "vmx-disk-serial-0123", 20);
  assert_int_equal(gp(DATA)[20], 0xff);
  destroy_device();
}

static void test_readonly_drive_answers_ioerr_to_writes(void **state) {
  make_device(false, NULL);
  destroy_device();
  make_device(true, "raw");
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  uint32_t f = rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES);
  assert_true(f & 1u << VMX_VIRTIO_BLK_F_RO);
  assert_false(f & 1u << VMX_VIRTIO_BLK_F_DISCARD);
  driver_up();
  memset(gp(DATA), 0x99, 512);
  simple(0, VMX_VIRTIO_BLK_T_OUT, 0, DATA, 512, false);
  simple(1, VMX_VIRTIO_BLK_T_IN, 1, DATA + 0x1000, 512, true);
  simple(2, VMX_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
  kick();
  assert_int_equal(used_idx(), 3);
  assert_int_equal(status(0), VMX_VIRTIO_BLK_S_IOERR);
  assert_int_equal(status(1), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(status(2), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(gp(DATA + 0x1000)[3], (uint8_t)((512 + 3) * 7));
  uint8_t b[512];
  read_disk(0, b, sizeof b);
  for (unsigned i = 0; i < sizeof b; i++)
    assert_int_equal(b[i], (uint8_t)(i * 7));
  destroy_device();
}

static void test_bad_requests(void **state) {
  make_device(false, NULL);
  driver_up();
  simple(0, 99, 0, 0, 0, false);                                          /* unknown type */
  chain((seg_t[]){{header(1, VMX_VIRTIO_BLK_T_IN, 0), 8, false}, {STATUS + 16, 1, true}}, 2);
  simple(2, VMX_VIRTIO_BLK_T_IN, DISK_SIZE / 512, DATA, 512, true);       /* past the end */
  simple(3, VMX_VIRTIO_BLK_T_OUT, 0, DATA, 100, false);                   /* not 512-aligned */
  simple(4, VMX_VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, DATA, 1024, true);  /* straddles the end */
  /* discard with the unmap flag (only write-zeroes may have it) */
  uint32_t seg[4] = {0, 0, 8, 1};
  memcpy(gp(DATA + 0x4000), seg, 16);
  chain((seg_t[]){{header(5, VMX_VIRTIO_BLK_T_DISCARD, 0), 16, false}, {DATA + 0x4000, 16, false},
                  {STATUS + 80, 1, true}}, 3);
  kick();
  assert_int_equal(used_idx(), 6);
  assert_int_equal(status(0), VMX_VIRTIO_BLK_S_UNSUPP);
  assert_int_equal(status(1), VMX_VIRTIO_BLK_S_IOERR);
  assert_int_equal(status(2), VMX_VIRTIO_BLK_S_IOERR);
  assert_int_equal(status(3), VMX_VIRTIO_BLK_S_IOERR);
  assert_int_equal(status(4), VMX_VIRTIO_BLK_S_IOERR);
  assert_int_equal(status(5), VMX_VIRTIO_BLK_S_UNSUPP);
  assert_int_equal(reports, 0);
  /* No status byte: the device cannot answer and needs a reset. */
  chain((seg_t[]){{header(6, VMX_VIRTIO_BLK_T_FLUSH, 0), 16, false}}, 1);
  kick();
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  assert_int_equal(reports, 1);
  destroy_device();
}

static void test_write_zeroes_and_discard(void **state) {
  make_device(false, NULL);
  driver_up();
  uint32_t seg[4] = {16, 0, 8, 0};  /* sector 16, 8 sectors, no flags */
  memcpy(gp(DATA), seg, 16);
  chain((seg_t[]){{header(0, VMX_VIRTIO_BLK_T_WRITE_ZEROES, 0), 16, false}, {DATA, 16, false},
                  {STATUS, 1, true}}, 3);
  seg[0] = 64, seg[3] = 0;
  memcpy(gp(DATA + 16), seg, 16);
  chain((seg_t[]){{header(1, VMX_VIRTIO_BLK_T_DISCARD, 0), 16, false}, {DATA + 16, 16, false},
                  {STATUS + 16, 1, true}}, 3);
  kick();
  assert_int_equal(used_idx(), 2);
  assert_int_equal(status(0), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(status(1), VMX_VIRTIO_BLK_S_OK);
  uint8_t buf[4098];
  read_disk(16 * 512 - 1, buf, sizeof buf);
  assert_int_equal(buf[0], (uint8_t)((16 * 512 - 1) * 7));
  for (unsigned i = 1; i <= 4096; i++)
    assert_int_equal(buf[i], 0);
  assert_int_equal(buf[4097], (uint8_t)((24 * 512) * 7));
  destroy_device();
}

static void test_qcow2_disk_seen_by_qemu_io(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "qemu-img create -f qcow2 %s 1M >/dev/null", disk_path);
  assert_int_equal(system(cmd), 0);
  make_device(false, "qcow2");
  driver_up();
  memset(gp(DATA), 0xab, 8192);
  simple(0, VMX_VIRTIO_BLK_T_OUT, 3, DATA, 8192, false);
  kick();
  simple(1, VMX_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
  simple(2, VMX_VIRTIO_BLK_T_IN, 2, DATA + 0x4000, 1024, true);
  kick();
  assert_int_equal(status(0), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(status(1), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(status(2), VMX_VIRTIO_BLK_S_OK);
  assert_int_equal(gp(DATA + 0x4000)[511], 0);
  assert_int_equal(gp(DATA + 0x4000)[512], 0xab);
  destroy_device();
  snprintf(cmd, sizeof cmd, "qemu-io -f qcow2 -r -c 'read -P 0xab 1536 8192' %s >/dev/null && "
           "qemu-img check %s >/dev/null", disk_path, disk_path);
  assert_int_equal(system(cmd), 0);
}

static void test_reset_drops_inflight_completions(void **state) {
  make_device(false, NULL);
  driver_up();
  simple(0, VMX_VIRTIO_BLK_T_IN, 0, DATA, 4096, true);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);   /* queued on the pool, not completed */
  wr(VMX_VIRTIO_MMIO_STATUS, 0);         /* reset */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(used_idx(), 0);
  assert_int_equal(status(0), 0xee);
  /* The device works again after the driver comes back. */
  memset(gp(USED), 0, 0x1000);
  driver_up();
  simple(1, VMX_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
  kick();
  assert_int_equal(used_idx(), 1);
  assert_int_equal(status(1), VMX_VIRTIO_BLK_S_OK);
  destroy_device();
}

static void test_destroy_with_requests_in_flight(void **state) {
  make_device(false, NULL);
  driver_up();
  for (unsigned k = 0; k < QNUM / 3; k++)
    simple(k, VMX_VIRTIO_BLK_T_OUT, 64 * k, DATA, 32768, false);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  vmx_virtio_blk_destroy(&dev);          /* waits for the pool's disk work */
  vmx_image_close(img);
  uv_run(&loop, UV_RUN_DEFAULT);         /* the completions free themselves */
  assert_int_equal(used_idx(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_config_and_features, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_then_read_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_and_get_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_readonly_drive_answers_ioerr_to_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_zeroes_and_discard, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qcow2_disk_seen_by_qemu_io, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_drops_inflight_completions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_destroy_with_requests_in_flight, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
