/* virtio-rng and virtio-console (src/devices/virtio_rng.c,
 * virtio_console.c), driven through the virtio-mmio registers by a small
 * driver over a malloc'ed fake guest RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio_console.h"
#include "devices/virtio_rng.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x10000ull
#define QNUM 8u
/* queue q's rings at RAM_BASE + 0x1000 * (3q + 0/1/2) */
#define DESC(q) (RAM_BASE + 0x3000ull * (q))
#define AVAIL(q) (DESC(q) + 0x1000)
#define USED(q) (DESC(q) + 0x2000)
#define BUF (RAM_BASE + 0x8000)

static uint8_t *host;
static vmx_guest_ram_t ram;
static vmx_virtio_dev_t dev;
static uint16_t avail_idx[2];
static int irq_level, reports, rx_ready_calls;
static uint8_t tx_buf[64];
static size_t tx_len;

static void on_irq(void *arg, bool level) { irq_level = level; }
static void on_report(void *arg, const char *msg) { reports++; }
static void on_tx(void *arg, const uint8_t *buf, size_t n) {
  assert_true(tx_len + n <= sizeof tx_buf);
  memcpy(tx_buf + tx_len, buf, n);
  tx_len += n;
}
static void on_rx_ready(void *arg) { rx_ready_calls++; }

static const vmx_virtio_io_t io = {on_irq, on_report, NULL};

static int setup(void **state) {
  host = calloc(1, RAM_SIZE);
  ram = (vmx_guest_ram_t){.host = host, .base = RAM_BASE, .size = RAM_SIZE};
  memset(avail_idx, 0, sizeof avail_idx);
  irq_level = reports = rx_ready_calls = 0;
  tx_len = 0;
  return 0;
}

static int teardown(void **state) {
  free(host);
  return 0;
}

static uint32_t rd(uint64_t off) { return (uint32_t)vmx_virtio_mmio_read(&dev, off, 4); }
static void wr(uint64_t off, uint32_t v) { vmx_virtio_mmio_write(&dev, off, 4, v); }
static uint8_t *gp(uint64_t gpa) { return host + (gpa - RAM_BASE); }

static void driver_up(unsigned nq, uint64_t features) {
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  wr(VMX_VIRTIO_MMIO_STATUS, VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER);
  features |= 1ull << VMX_VIRTIO_F_VERSION_1;
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
  wr(VMX_VIRTIO_MMIO_STATUS, 0xb);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_STATUS), 0xb);
  for (unsigned q = 0; q < nq; q++) {
    wr(VMX_VIRTIO_MMIO_QUEUE_SEL, q);
    assert_true(rd(VMX_VIRTIO_MMIO_QUEUE_NUM_MAX) >= QNUM);
    wr(VMX_VIRTIO_MMIO_QUEUE_NUM, QNUM);
    wr(VMX_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC(q));
    wr(VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)AVAIL(q));
    wr(VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)USED(q));
    wr(VMX_VIRTIO_MMIO_QUEUE_READY, 1);
    avail_idx[q] = 0;
  }
  wr(VMX_VIRTIO_MMIO_STATUS, 0xf);
}

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next) {
  uint8_t *p = gp(DESC(q)) + 16 * i;
  memcpy(p, &addr, 8);
  memcpy(p + 8, &len, 4);
  memcpy(p + 12, &flags, 2);
  memcpy(p + 14, &next, 2);
}

static void avail_add(unsigned q, uint16_t head) {
  memcpy(gp(AVAIL(q)) + 4 + 2 * (avail_idx[q] % QNUM), &head, 2);
  avail_idx[q]++;
  memcpy(gp(AVAIL(q)) + 2, &avail_idx[q], 2);
}

static uint16_t used_idx(unsigned q) {
  uint16_t v;
  memcpy(&v, gp(USED(q)) + 2, 2);
  return v;
}

static uint32_t used_len(unsigned q, unsigned i) {
  uint32_t v;
  memcpy(&v, gp(USED(q)) + 8 + 8 * (i % QNUM), 4);
  return v;
}

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

static void test_rng(void **state) {
  char err[100];
  assert_int_equal(vmx_virtio_rng_create(&dev, &ram, &io, err, sizeof err), 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_ID), 4);
  driver_up(1, 0);
  put_desc(0, 0, BUF, 16, VMX_VIRTQ_DESC_F_WRITE | VMX_VIRTQ_DESC_F_NEXT, 1);
  put_desc(0, 1, BUF + 0x100, 32, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(0, 0);
  put_desc(0, 2, BUF + 0x200, 8, 0, 0); /* nothing writable: 0 bytes */
  avail_add(0, 2);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert_int_equal(used_idx(0), 2);
  assert_int_equal(used_len(0, 0), 48);
  assert_int_equal(used_len(0, 1), 0);
  assert_false(all_zero(gp(BUF), 16));
  assert_false(all_zero(gp(BUF + 0x100), 32));
  assert_true(all_zero(gp(BUF + 16), 0x100 - 16));
  assert_int_equal(irq_level, 1);
  wr(VMX_VIRTIO_MMIO_INTERRUPT_ACK, 1);
  assert_int_equal(irq_level, 0);
  /* a hostile chain: the device stops, no crash */
  put_desc(0, 3, BUF, 16, VMX_VIRTQ_DESC_F_WRITE | VMX_VIRTQ_DESC_F_NEXT, 3);
  avail_add(0, 3);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  assert_int_equal(reports, 1);
  assert_int_equal(used_idx(0), 2);
  vmx_virtio_rng_destroy(&dev);
}

static void test_console(void **state) {
  char err[100];
  vmx_virtio_console_io_t cio = {on_tx, on_rx_ready, NULL};
  assert_int_equal(vmx_virtio_console_create(&dev, &ram, &io, &cio, err, sizeof err), 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_ID), 3);
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES) & 7, 5);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x100, 2), 80);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x102, 2), 25);
  assert_int_equal(vmx_virtio_mmio_read(&dev, 0x104, 4), 1);
  /* no buffers yet */
  assert_int_equal(vmx_virtio_console_rx(&dev, (const uint8_t *)"x", 1), 0);
  assert_false(vmx_virtio_console_rx_room(&dev));
  driver_up(2, (1ull << VMX_VIRTIO_CONSOLE_F_SIZE) | (1ull << VMX_VIRTIO_CONSOLE_F_EMERG_WRITE));
  assert_int_equal(rx_ready_calls, 1); /* DRIVER_OK */
  assert_false(vmx_virtio_console_rx_room(&dev));
  assert_int_equal(vmx_virtio_console_rx(&dev, (const uint8_t *)"x", 1), 0);
  /* two 4-byte receive buffers */
  put_desc(0, 0, BUF, 4, VMX_VIRTQ_DESC_F_WRITE, 0);
  put_desc(0, 1, BUF + 4, 4, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(0, 0);
  avail_add(0, 1);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert_int_equal(rx_ready_calls, 2);
  assert_true(vmx_virtio_console_rx_room(&dev));
  assert_int_equal(vmx_virtio_console_rx(&dev, (const uint8_t *)"hello world", 11), 8);
  assert_memory_equal(gp(BUF), "hello wo", 8);
  assert_int_equal(used_idx(0), 2);
  assert_int_equal(used_len(0, 0), 4);
  assert_int_equal(used_len(0, 1), 4);
  assert_false(vmx_virtio_console_rx_room(&dev));
  assert_int_equal(vmx_virtio_console_rx(&dev, (const uint8_t *)"rld", 3), 0);
  assert_int_equal(irq_level, 1);
  wr(VMX_VIRTIO_MMIO_INTERRUPT_ACK, 1);
  /* transmit: a chain of two out segments */
  memcpy(gp(BUF + 0x100), "abcde", 5);
  put_desc(1, 4, BUF + 0x100, 2, VMX_VIRTQ_DESC_F_NEXT, 5);
  put_desc(1, 5, BUF + 0x102, 3, 0, 0);
  avail_add(1, 4);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  assert_int_equal(tx_len, 5);
  assert_memory_equal(tx_buf, "abcde", 5);
  assert_int_equal(used_idx(1), 1);
  assert_int_equal(used_len(1, 0), 0);
  assert_int_equal(irq_level, 1);
  /* emergency write */
  vmx_virtio_mmio_write(&dev, 0x108, 4, 'Z');
  assert_int_equal(tx_len, 6);
  assert_int_equal(tx_buf[5], 'Z');
  /* after a reset nothing is received */
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  assert_int_equal(irq_level, 0);
  assert_int_equal(vmx_virtio_console_rx(&dev, (const uint8_t *)"x", 1), 0);
  assert_int_equal(reports, 0);
  vmx_virtio_console_destroy(&dev);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rng, setup, teardown),
      cmocka_unit_test_setup_teardown(test_console, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
