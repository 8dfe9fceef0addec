/* The virtio-mmio transport and split virtqueue (src/devices/virtio.c),
 * driven the way a guest driver would over a malloc'ed fake guest RAM.
 *
 * The hostile cases each build one malformed ring and check that the pop
 * returns -1, the device reads NEEDS_RESET, a report was made and nothing
 * outside the fake RAM was touched (the ASan build catches that). The last
 * test is a bounded-time fuzz of random rings:
 *
 *   VMX_FUZZ_SEED=n     repeat a run (the seed is printed first)
 *   VMX_FUZZ_SECONDS=s  time budget (default 2)
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

#include "fuzz.h"
#include "devices/virtio.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x10000ull
#define QNUM 16u
#define DESC (RAM_BASE + 0x0000)
#define AVAIL (RAM_BASE + 0x1000)
#define USED (RAM_BASE + 0x2000)
#define TABLE (RAM_BASE + 0x3000)   /* an indirect table */
#define BUF (RAM_BASE + 0x4000)     /* data buffers */
#define BIG_TABLE (RAM_BASE + 0x8000)
#define F_TEST_DEV 5                /* a device-specific bit the test device offers */

typedef struct harness {
  uint8_t *host;
  vmx_guest_ram_t ram;
  vmx_virtio_dev_t dev;
  vmx_virtq_elem_t *elem;
  int irq_level, irq_changes, reports, notifies, resets, driver_oks;
  unsigned last_notify;
  char last_report[256];
  uint16_t avail_idx;
  uint64_t written_gpa, written_len;  /* the last ram.written call */
  unsigned writtens;
} harness_t;

static harness_t *H;

static void on_irq(void *arg, bool level) {
  harness_t *h = arg;
  h->irq_level = level;
  h->irq_changes++;
}

static void on_written(void *arg, uint64_t gpa, uint64_t len) {
  harness_t *h = arg;
  h->written_gpa = gpa;
  h->written_len = len;
  h->writtens++;
}

static void on_report(void *arg, const char *msg) {
  harness_t *h = arg;
  h->reports++;
  snprintf(h->last_report, sizeof h->last_report, "%s", msg);
}

static void dev_notify(vmx_virtio_dev_t *d, unsigned q) {
  harness_t *h = d->backend;
  h->notifies++;
  h->last_notify = q;
}

static void dev_reset(vmx_virtio_dev_t *d) { ((harness_t *)d->backend)->resets++; }
static void dev_driver_ok(vmx_virtio_dev_t *d) { ((harness_t *)d->backend)->driver_oks++; }

static const uint8_t config_bytes[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

static uint64_t dev_config_read(vmx_virtio_dev_t *d, uint32_t off, unsigned size) {
  uint64_t v = 0;
  memcpy(&v, config_bytes + off, size);
  return v;
}

static const vmx_virtio_ops_t test_ops = {
    .name = "virtio-test",
    .device_id = 4,
    .nqueues = 2,
    .queue_max = QNUM,
    .features = 1ull << F_TEST_DEV,
    .config_size = sizeof config_bytes,
    .config_read = dev_config_read,
    .notify = dev_notify,
    .reset = dev_reset,
    .driver_ok = dev_driver_ok,
};

static int setup(void **state) {
  harness_t *h = calloc(1, sizeof *h);
  h->host = calloc(1, RAM_SIZE);
  h->elem = malloc(sizeof *h->elem);
  h->ram = (vmx_guest_ram_t){.host = h->host, .base = RAM_BASE, .size = RAM_SIZE,
                             .written = on_written, .written_arg = h};
  vmx_virtio_io_t io = {on_irq, on_report, h};
  vmx_virtio_init(&h->dev, &test_ops, h, &h->ram, &io);
  H = h;
  *state = h;
  return 0;
}

static int teardown(void **state) {
  harness_t *h = *state;
  free(h->elem);
  free(h->host);
  free(h);
  return 0;
}

static uint32_t rd(uint64_t off) { return (uint32_t)vmx_virtio_mmio_read(&H->dev, off, 4); }
static void wr(uint64_t off, uint32_t v) { vmx_virtio_mmio_write(&H->dev, off, 4, v); }
static uint8_t *gp(uint64_t gpa) { return H->host + (gpa - RAM_BASE); }

/* Negotiates `features` and returns the Status read back after FEATURES_OK. */
static uint32_t negotiate(uint64_t features) {
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  wr(VMX_VIRTIO_MMIO_STATUS, VMX_VIRTIO_S_ACKNOWLEDGE);
  wr(VMX_VIRTIO_MMIO_STATUS, VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
  wr(VMX_VIRTIO_MMIO_STATUS,
     VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER | VMX_VIRTIO_S_FEATURES_OK);
  return rd(VMX_VIRTIO_MMIO_STATUS);
}

static void queue_setup(unsigned q, uint16_t num, uint64_t desc, uint64_t avail, uint64_t used) {
  wr(VMX_VIRTIO_MMIO_QUEUE_SEL, q);
  wr(VMX_VIRTIO_MMIO_QUEUE_NUM, num);
  wr(VMX_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
  wr(VMX_VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
  wr(VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
  wr(VMX_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
  wr(VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
  wr(VMX_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
  wr(VMX_VIRTIO_MMIO_QUEUE_READY, 1);
}

/* A driver up to DRIVER_OK with queue 0 at DESC/AVAIL/USED, rings zeroed. */
static void driver_up(uint64_t extra_features) {
  memset(H->host, 0, 0x3000);
  H->avail_idx = 0;
  uint32_t st = negotiate((1ull << VMX_VIRTIO_F_VERSION_1) | extra_features);
  assert_true(st & VMX_VIRTIO_S_FEATURES_OK);
  queue_setup(0, QNUM, DESC, AVAIL, USED);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_READY), 1);
  wr(VMX_VIRTIO_MMIO_STATUS, st | VMX_VIRTIO_S_DRIVER_OK);
}

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next) {
  uint8_t *p = gp(table) + 16 * i;
  memcpy(p, &addr, 8);
  memcpy(p + 8, &len, 4);
  memcpy(p + 12, &flags, 2);
  memcpy(p + 14, &next, 2);
}

static void avail_add(uint16_t head) {
  memcpy(gp(AVAIL) + 4 + 2 * (H->avail_idx % QNUM), &head, 2);
  H->avail_idx++;
  memcpy(gp(AVAIL) + 2, &H->avail_idx, 2);
}

static uint16_t used_idx(void) {
  uint16_t v;
  memcpy(&v, gp(USED) + 2, 2);
  return v;
}

static void used_elem(unsigned i, uint32_t *id, uint32_t *len) {
  memcpy(id, gp(USED) + 4 + 8 * (i % QNUM), 4);
  memcpy(len, gp(USED) + 8 + 8 * (i % QNUM), 4);
}

static void set_avail_u16(unsigned off, uint16_t v) { memcpy(gp(AVAIL) + off, &v, 2); }

/* ---- registers and negotiation ---- */

static void test_registers(void **state) {
  assert_int_equal(rd(VMX_VIRTIO_MMIO_MAGIC), 0x74726976);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_VERSION), 2);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_ID), 4);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_VENDOR_ID), 0x554d4551);
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES), (1u << 28) | (1u << 29) | (1u << F_TEST_DEV));
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES), 1);
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES), 0);
  wr(VMX_VIRTIO_MMIO_QUEUE_SEL, 1);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_NUM_MAX), QNUM);
  wr(VMX_VIRTIO_MMIO_QUEUE_SEL, 2);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
  /* config space, all sizes; past its end reads 0 */
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x100, 4), 0x44332211);
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x101, 1), 0x22);
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x106, 2), 0x8877);
  assert_true(vmx_virtio_mmio_read(&H->dev, 0x100, 8) == 0x8877665544332211ull);
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x106, 4), 0);
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x1fc, 4), 0);
  /* sub-word register reads are refused */
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0, 2), 0);
  /* no shared memory regions (Linux: a length of ~0 means none) */
  assert_int_equal(rd(VMX_VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffffu);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_CONFIG_GENERATION), 0);
  vmx_virtio_config_changed(&H->dev);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_CONFIG_GENERATION), 1);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_INTERRUPT_STATUS), VMX_VIRTIO_INT_CONFIG);
  assert_int_equal(H->irq_level, 1);
}

static void test_negotiation(void **state) {
  uint64_t v1 = 1ull << VMX_VIRTIO_F_VERSION_1;
  /* accepted: a subset of the offer with VERSION_1 */
  assert_true(negotiate(v1 | (1ull << F_TEST_DEV)) & VMX_VIRTIO_S_FEATURES_OK);
  assert_true(vmx_virtio_has_feature(&H->dev, F_TEST_DEV));
  /* features are fixed once FEATURES_OK is set */
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, 0);
  assert_true(vmx_virtio_has_feature(&H->dev, F_TEST_DEV));
  /* refused: a bit not offered */
  assert_false(negotiate(v1 | (1ull << 7)) & VMX_VIRTIO_S_FEATURES_OK);
  assert_int_equal(H->reports, 1);
  /* refused: no VERSION_1 (a legacy driver) */
  assert_false(negotiate(1ull << F_TEST_DEV) & VMX_VIRTIO_S_FEATURES_OK);
  assert_int_equal(H->reports, 2);
  /* accepted after a refusal and a reset */
  assert_true(negotiate(v1) & VMX_VIRTIO_S_FEATURES_OK);
  assert_true(H->resets >= 4);
}

static void test_queue_setup(void **state) {
  driver_up(0);
  assert_int_equal(H->driver_oks, 1);
  assert_true(vmx_virtq_usable(&H->dev, 0));
  assert_false(vmx_virtq_usable(&H->dev, 1));
  /* ring addresses are fixed while the queue is ready */
  wr(VMX_VIRTIO_MMIO_QUEUE_SEL, 0);
  wr(VMX_VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1234);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)DESC);
  /* notify reaches the device only for a ready queue */
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  assert_int_equal(H->notifies, 0);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert_int_equal(H->notifies, 1);
  assert_int_equal(H->last_notify, 0);
  /* an empty ring */
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 1, H->elem), 0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 7, H->elem), 0);
}

static void test_bad_queue_setup(void **state) {
  uint32_t st = negotiate(1ull << VMX_VIRTIO_F_VERSION_1);
  queue_setup(0, 12, DESC, AVAIL, USED); /* not a power of 2 */
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_READY), 0);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  negotiate(1ull << VMX_VIRTIO_F_VERSION_1);
  queue_setup(0, QNUM, DESC, AVAIL, RAM_BASE + RAM_SIZE - 8); /* used ring past RAM */
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_READY), 0);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  negotiate(1ull << VMX_VIRTIO_F_VERSION_1);
  queue_setup(0, QNUM, DESC + 8, AVAIL, USED); /* misaligned */
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_READY), 0);
  st = negotiate(1ull << VMX_VIRTIO_F_VERSION_1);
  queue_setup(0, QNUM, DESC, AVAIL, USED);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_READY), 1);
  assert_false(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  (void)st;
}

/* ---- the data path ---- */

static void test_chain_out_in(void **state) {
  driver_up(0);
  memcpy(gp(BUF), "hello, device", 13);
  put_desc(DESC, 3, BUF, 5, VMX_VIRTQ_DESC_F_NEXT, 7);
  put_desc(DESC, 7, BUF + 5, 8, VMX_VIRTQ_DESC_F_NEXT, 2);
  put_desc(DESC, 2, BUF + 0x100, 16, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(3);
  vmx_virtq_elem_t *e = H->elem;
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, e), 1);
  assert_int_equal(e->head, 3);
  assert_int_equal(e->nout, 2);
  assert_int_equal(e->nin, 1);
  assert_int_equal(vmx_virtq_out_len(e), 13);
  assert_int_equal(vmx_virtq_in_len(e), 16);
  /* The harts hear of the one device-writable segment, not the others. */
  assert_int_equal(H->writtens, 1);
  assert_int_equal(H->written_gpa, BUF + 0x100);
  assert_int_equal(H->written_len, 16);
  char got[16] = {0};
  assert_int_equal(vmx_virtq_read(e, 3, got, sizeof got), 10);
  assert_memory_equal(got, "lo, device", 10);
  assert_int_equal(vmx_virtq_write(e, 2, "reply", 5), 5);
  assert_int_equal(vmx_virtq_write(e, 14, "xyz", 3), 2);
  assert_memory_equal(gp(BUF + 0x102), "reply", 5);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, e), 0);
  assert_int_equal(H->irq_level, 0);
  vmx_virtio_push(&H->dev, 0, 3, 7, H->dev.generation);
  assert_int_equal(used_idx(), 1);
  uint32_t id, len;
  used_elem(0, &id, &len);
  assert_int_equal(id, 3);
  assert_int_equal(len, 7);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_INTERRUPT_STATUS), VMX_VIRTIO_INT_USED);
  assert_int_equal(H->irq_level, 1);
  /* ack lowers the line */
  wr(VMX_VIRTIO_MMIO_INTERRUPT_ACK, VMX_VIRTIO_INT_USED);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
  assert_int_equal(H->irq_level, 0);
  /* the avail ring wraps */
  for (unsigned i = 0; i < 3 * QNUM; i++) {
    put_desc(DESC, i % QNUM, BUF, 4, 0, 0);
    avail_add((uint16_t)(i % QNUM));
    assert_int_equal(vmx_virtq_pop(&H->dev, 0, e), 1);
    assert_int_equal(e->head, i % QNUM);
    vmx_virtio_push(&H->dev, 0, e->head, 0, H->dev.generation);
  }
  assert_int_equal(used_idx(), 1 + 3 * QNUM);
  assert_int_equal(H->dev.malformed, 0);
  assert_int_equal(H->reports, 0);
}

static void test_indirect(void **state) {
  driver_up(1ull << VMX_VIRTIO_F_INDIRECT_DESC);
  put_desc(TABLE, 0, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 2);
  put_desc(TABLE, 2, BUF + 4, 4, VMX_VIRTQ_DESC_F_NEXT, 1);
  put_desc(TABLE, 1, BUF + 0x100, 32, VMX_VIRTQ_DESC_F_WRITE, 0);
  put_desc(DESC, 5, TABLE, 3 * 16, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(5);
  vmx_virtq_elem_t *e = H->elem;
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, e), 1);
  assert_int_equal(e->head, 5);
  assert_int_equal(e->nout, 2);
  assert_int_equal(e->nin, 1);
  assert_ptr_equal(e->iov[1].base, gp(BUF + 4));
  assert_int_equal(vmx_virtq_in_len(e), 32);
  /* a direct chain whose last descriptor is an indirect table */
  put_desc(DESC, 6, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 8);
  put_desc(DESC, 8, TABLE + 16, 16, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(6);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, e), 1);
  assert_int_equal(e->nout, 1);
  assert_int_equal(e->nin, 1);
  assert_int_equal(H->dev.malformed, 0);
}

static void test_no_interrupt(void **state) {
  driver_up(0);
  set_avail_u16(0, VMX_VIRTQ_AVAIL_F_NO_INTERRUPT);
  put_desc(DESC, 0, BUF, 4, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 1);
  vmx_virtio_push(&H->dev, 0, 0, 4, H->dev.generation);
  assert_int_equal(used_idx(), 1);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
  assert_int_equal(H->irq_level, 0);
  set_avail_u16(0, 0);
  avail_add(0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 1);
  vmx_virtio_push(&H->dev, 0, 0, 4, H->dev.generation);
  assert_int_equal(H->irq_level, 1);
}

static void test_event_idx(void **state) {
  driver_up(1ull << VMX_VIRTIO_F_EVENT_IDX);
  uint16_t avail_event;
  /* NO_INTERRUPT is ignored with event-idx; used_event rules */
  set_avail_u16(0, VMX_VIRTQ_AVAIL_F_NO_INTERRUPT);
  set_avail_u16(4 + 2 * QNUM, 0); /* used_event: interrupt when used idx passes 0 */
  for (unsigned i = 0; i < 6; i++) {
    put_desc(DESC, i, BUF, 4, VMX_VIRTQ_DESC_F_WRITE, 0);
    avail_add((uint16_t)i);
  }
  for (unsigned i = 0; i < 6; i++)
    assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 1);
  memcpy(&avail_event, gp(USED) + 4 + 8 * QNUM, 2);
  assert_int_equal(avail_event, 6);
  vmx_virtio_push(&H->dev, 0, 0, 0, H->dev.generation); /* used 0 -> 1: passes 0 */
  assert_int_equal(H->irq_level, 1);
  wr(VMX_VIRTIO_MMIO_INTERRUPT_ACK, 1);
  vmx_virtio_push(&H->dev, 0, 1, 0, H->dev.generation); /* 1 -> 2: suppressed */
  assert_int_equal(H->irq_level, 0);
  set_avail_u16(4 + 2 * QNUM, 3); /* interrupt when used idx passes 3 */
  vmx_virtio_push(&H->dev, 0, 2, 0, H->dev.generation); /* 2 -> 3: suppressed */
  assert_int_equal(H->irq_level, 0);
  vmx_virtio_push(&H->dev, 0, 3, 0, H->dev.generation); /* 3 -> 4: passes 3 */
  assert_int_equal(H->irq_level, 1);
  wr(VMX_VIRTIO_MMIO_INTERRUPT_ACK, 1);
  /* used_event already behind: the next pushes stay quiet */
  vmx_virtio_push(&H->dev, 0, 4, 0, H->dev.generation);
  assert_int_equal(H->irq_level, 0);
  /* an event index skipped by a batch of two still interrupts */
  set_avail_u16(4 + 2 * QNUM, 5);
  vmx_virtio_push(&H->dev, 0, 5, 0, H->dev.generation); /* 5 -> 6 passes 5 */
  assert_int_equal(H->irq_level, 1);
  /* an empty pop re-arms avail_event at last_avail */
  memset(gp(USED) + 4 + 8 * QNUM, 0, 2);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 0);
  memcpy(&avail_event, gp(USED) + 4 + 8 * QNUM, 2);
  assert_int_equal(avail_event, 6);
}

static void test_reset(void **state) {
  driver_up(0);
  put_desc(DESC, 0, BUF, 4, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 1);
  uint32_t gen = H->dev.generation;
  vmx_virtio_config_changed(&H->dev);
  assert_int_equal(H->irq_level, 1);
  int resets = H->resets;
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  assert_int_equal(H->resets, resets + 1);
  assert_int_equal(H->dev.generation, gen + 1);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_STATUS), 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_INTERRUPT_STATUS), 0);
  assert_int_equal(H->irq_level, 0);
  wr(VMX_VIRTIO_MMIO_QUEUE_SEL, 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_READY), 0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 0);
  /* the driver comes back; the stale completion is dropped */
  driver_up(0);
  vmx_virtio_push(&H->dev, 0, 0, 4, gen);
  assert_int_equal(used_idx(), 0);
  assert_int_equal(H->irq_level, 0);
  put_desc(DESC, 0, BUF, 4, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 1);
  vmx_virtio_push(&H->dev, 0, 0, 4, H->dev.generation);
  assert_int_equal(used_idx(), 1);
}

/* ---- hostile rings ---- */

/* The ring built by the caller must be refused: -1, NEEDS_RESET, a report,
 * a config interrupt; later pops keep failing and reset recovers. */
static void expect_malformed(const char *what) {
  int reports = H->reports;
  int r = vmx_virtq_pop(&H->dev, 0, H->elem);
  if (r != -1)
    fail_msg("%s: pop returned %d", what, r);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_DRIVER_OK);
  assert_int_equal(H->reports, reports + 1);
  assert_non_null(strstr(H->last_report, "virtio-test"));
  assert_int_equal(H->dev.malformed, 1);
  assert_true(rd(VMX_VIRTIO_MMIO_INTERRUPT_STATUS) & VMX_VIRTIO_INT_CONFIG);
  assert_int_equal(H->irq_level, 1);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), -1);
  /* NEEDS_RESET survives driver status writes; notify is not passed on */
  wr(VMX_VIRTIO_MMIO_STATUS, rd(VMX_VIRTIO_MMIO_STATUS) & ~VMX_VIRTIO_S_NEEDS_RESET);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  int notifies = H->notifies;
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert_int_equal(H->notifies, notifies);
  assert_int_equal(H->reports, reports + 1); /* reported once */
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_STATUS), 0);
  assert_int_equal(H->irq_level, 0);
  H->dev.malformed = 0;
}

static void test_hostile_loop(void **state) {
  driver_up(0);
  put_desc(DESC, 0, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 0);
  avail_add(0);
  expect_malformed("self loop");
  driver_up(0);
  put_desc(DESC, 0, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 1);
  put_desc(DESC, 1, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 2);
  put_desc(DESC, 2, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 0);
  avail_add(0);
  expect_malformed("loop of three");
}

static void test_hostile_index(void **state) {
  driver_up(0);
  put_desc(DESC, 0, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, QNUM);
  avail_add(0);
  expect_malformed("next out of range");
  driver_up(0);
  avail_add(QNUM + 3);
  expect_malformed("head out of range");
  driver_up(0);
  set_avail_u16(2, QNUM + 1);
  expect_malformed("avail idx jumps past the queue size");
}

static void test_hostile_address(void **state) {
  driver_up(0);
  put_desc(DESC, 0, 0x1000, 4, 0, 0);
  avail_add(0);
  expect_malformed("address below RAM");
  driver_up(0);
  put_desc(DESC, 0, RAM_BASE + RAM_SIZE, 1, 0, 0);
  avail_add(0);
  expect_malformed("address at the end of RAM");
  driver_up(0);
  put_desc(DESC, 0, RAM_BASE + RAM_SIZE - 16, 17, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(0);
  expect_malformed("length past the end of RAM");
  driver_up(0);
  put_desc(DESC, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
  avail_add(0);
  expect_malformed("addr + len wraps around 2^64");
  driver_up(0);
  put_desc(DESC, 0, RAM_BASE + 0x10, 0xffffffffu, 0, 0);
  avail_add(0);
  expect_malformed("4 GiB length");
  /* exactly up to the end of RAM is fine */
  driver_up(0);
  put_desc(DESC, 0, RAM_BASE + RAM_SIZE - 16, 16, VMX_VIRTQ_DESC_F_WRITE, 0);
  avail_add(0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 1);
}

static void test_hostile_indirect(void **state) {
  uint64_t ind = 1ull << VMX_VIRTIO_F_INDIRECT_DESC;
  driver_up(ind);
  put_desc(TABLE, 0, TABLE + 32, 16, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  put_desc(DESC, 0, TABLE, 16, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("nested indirect");
  driver_up(ind);
  put_desc(DESC, 0, TABLE, 20, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("indirect length not a multiple of 16");
  driver_up(ind);
  put_desc(DESC, 0, TABLE, 0, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("empty indirect table");
  driver_up(ind);
  put_desc(TABLE, 0, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 0);
  put_desc(DESC, 0, TABLE, 32, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("loop inside an indirect table");
  driver_up(ind);
  put_desc(TABLE, 0, BUF, 4, VMX_VIRTQ_DESC_F_NEXT, 2);
  put_desc(DESC, 0, TABLE, 32, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("next past the indirect table");
  driver_up(ind);
  put_desc(DESC, 0, RAM_BASE + RAM_SIZE - 16, 32, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("indirect table past RAM");
  driver_up(0); /* not negotiated */
  put_desc(TABLE, 0, BUF, 4, 0, 0);
  put_desc(DESC, 0, TABLE, 16, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("indirect without the feature");
}

static void test_hostile_segments(void **state) {
  /* 1025 segments in one indirect table: one too many */
  driver_up(1ull << VMX_VIRTIO_F_INDIRECT_DESC);
  unsigned n = VMX_VIRTQ_MAX_SEGS + 1;
  for (unsigned i = 0; i < n; i++)
    put_desc(BIG_TABLE, i, BUF, 1, i + 1 < n ? VMX_VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
  put_desc(DESC, 0, BIG_TABLE, 16 * n, VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  expect_malformed("too many segments");
  /* exactly 1024 is fine */
  driver_up(1ull << VMX_VIRTIO_F_INDIRECT_DESC);
  put_desc(BIG_TABLE, n - 2, BUF, 1, 0, 0);
  put_desc(DESC, 0, BIG_TABLE, 16 * (n - 1), VMX_VIRTQ_DESC_F_INDIRECT, 0);
  avail_add(0);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), 1);
  assert_int_equal(H->elem->nout, VMX_VIRTQ_MAX_SEGS);
  /* writable before readable */
  driver_up(0);
  put_desc(DESC, 0, BUF, 4, VMX_VIRTQ_DESC_F_WRITE | VMX_VIRTQ_DESC_F_NEXT, 1);
  put_desc(DESC, 1, BUF, 4, 0, 0);
  avail_add(0);
  expect_malformed("readable after writable");
}

static void test_fail(void **state) {
  driver_up(0);
  vmx_virtio_fail(&H->dev, "backend died");
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
  assert_non_null(strstr(H->last_report, "backend died"));
  assert_int_equal(H->irq_level, 1);
  assert_int_equal(vmx_virtq_pop(&H->dev, 0, H->elem), -1);
}

/* ---- fuzz ---- */



/* A mostly plausible random address: in RAM, near its ends, or anywhere. */
static uint64_t fuzz_addr(void) {
  switch (rnd() % 4) {
  case 0: return rnd();
  case 1: return RAM_BASE + RAM_SIZE - rnd() % 64;
  case 2: return DESC + 16 * (rnd() % QNUM);
  default: return RAM_BASE + rnd() % RAM_SIZE;
  }
}

static void fuzz_ring(void) {
  for (unsigned i = 0; i < QNUM; i++) {
    uint32_t len = rnd() & 1 ? (uint32_t)(rnd() % 256) : (uint32_t)rnd();
    uint16_t flags = (uint16_t)(rnd() % 8);
    put_desc(DESC, i, fuzz_addr(), rnd() % 3 ? len & ~15u : len, flags,
             (uint16_t)(rnd() % 4 ? rnd() % (QNUM + 2) : rnd()));
  }
  for (unsigned i = 0; i < 64; i++) /* indirect tables land here too */
    put_desc(TABLE, i, fuzz_addr(), (uint32_t)(rnd() % 512), (uint16_t)(rnd() % 8),
             (uint16_t)(rnd() % 70));
  for (unsigned i = 0; i < 4 + 2 * QNUM + 2; i += 2)
    set_avail_u16(i, (uint16_t)(rnd() % 4 ? rnd() % (QNUM + 4) : rnd()));
  if (rnd() % 2)
    set_avail_u16(2, (uint16_t)(rnd() % (QNUM + 2)));
}

static void test_fuzz(void **state) {
  double end = fuzz_begin(2.0);
  unsigned long rounds = 0, taken = 0, bad = 0;
  while (now_s() < end) {
    for (int k = 0; k < 64; k++, rounds++) {
      uint64_t f = 0;
      if (rnd() & 1)
        f |= 1ull << VMX_VIRTIO_F_INDIRECT_DESC;
      if (rnd() & 1)
        f |= 1ull << VMX_VIRTIO_F_EVENT_IDX;
      driver_up(f);
      fuzz_ring();
      for (int n = 0; n < 2 * (int)QNUM; n++) {
        int r = vmx_virtq_pop(&H->dev, 0, H->elem);
        if (r <= 0) {
          bad += r < 0;
          if (r < 0 && !(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET))
            fail_msg("seed %llu: -1 without NEEDS_RESET", (unsigned long long)fuzz_seed);
          break;
        }
        taken++;
        const vmx_virtq_elem_t *e = H->elem;
        assert_true(e->nout + e->nin <= VMX_VIRTQ_MAX_SEGS);
        for (unsigned i = 0; i < e->nout + e->nin; i++)
          if (e->iov[i].base < H->host || e->iov[i].base + e->iov[i].len > H->host + RAM_SIZE)
            fail_msg("seed %llu: segment outside RAM", (unsigned long long)fuzz_seed);
        static const uint8_t junk[64];
        vmx_virtq_write(e, 0, junk, vmx_virtq_in_len(e) < 64 ? vmx_virtq_in_len(e) : 64);
        vmx_virtio_push(&H->dev, 0, e->head, (uint32_t)rnd(), H->dev.generation);
      }
      H->dev.malformed = 0;
    }
  }
  printf("fuzz: %lu rings, %lu chains taken, %lu malformed\n", rounds, taken, bad);
  assert_true(rounds > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_negotiation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queue_setup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_queue_setup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chain_out_in, setup, teardown),
      cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_interrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_loop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_index, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_address, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_indirect, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_segments, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
