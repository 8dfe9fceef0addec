/* virtio-gpu in 2D mode (src/devices/virtio_gpu.c) and the PNG screendump
 * (src/devices/screendump.c), driven as the Linux driver does through the
 * virtio-mmio transport over a malloc'ed fake guest RAM.
 *
 * The last test sends random commands for a bounded time:
 *   VMX_FUZZ_SEED=n     repeat a run (the seed is printed first)
 *   VMX_FUZZ_SECONDS=s  time budget (default 1)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "fuzz.h"
#include "base/error.h"
#include "devices/screendump.h"
#include "devices/virtio_gpu.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x400000ull
#define QNUM 64u
#define QUEUE_AREA(q) (0x10000ull * (q))     /* desc, avail, used of queue q */
#define REQ 0x20000ull                       /* request struct */
#define REQ_DATA 0x21000ull                  /* second out segment (mem entries) */
#define RESP 0x30000ull
#define BACK_A 0x100000ull                   /* the two pieces of the backing */
#define BACK_B 0x200000ull

#define FB_W 64u
#define FB_H 48u
#define FB_BYTES (FB_W * FB_H * 4u)
#define SPLIT 5002u   /* the first backing piece ends inside a pixel */

typedef struct harness {
  uint8_t *host;
  vmx_guest_ram_t ram;
  vmx_virtio_dev_t dev;
  uint16_t avail_idx[2], used_seen[2];
  char dir[64];
} harness_t;

static harness_t *H;

static uint8_t *gp(uint64_t off) { return H->host + off; }
static uint32_t rd(uint64_t off) { return (uint32_t)vmx_virtio_mmio_read(&H->dev, off, 4); }
static void wr(uint64_t off, uint32_t v) { vmx_virtio_mmio_write(&H->dev, off, 4, v); }
static void wr64(uint64_t lo_off, uint64_t v) {
  wr(lo_off, (uint32_t)v);
  wr(lo_off + 4, (uint32_t)(v >> 32));
}

/* The driver's bring-up: VERSION_1 only, both queues of QNUM entries. */
static void driver_start(void) {
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  wr(VMX_VIRTIO_MMIO_STATUS, VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, 1);   /* bit 32 */
  wr(VMX_VIRTIO_MMIO_STATUS,
     VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER | VMX_VIRTIO_S_FEATURES_OK);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_FEATURES_OK);
  for (unsigned q = 0; q < 2; q++) {
    memset(gp(QUEUE_AREA(q)), 0, 0x3000);
    wr(VMX_VIRTIO_MMIO_QUEUE_SEL, q);
    assert_true(rd(VMX_VIRTIO_MMIO_QUEUE_NUM_MAX) >= QNUM);
    wr(VMX_VIRTIO_MMIO_QUEUE_NUM, QNUM);
    wr64(VMX_VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_BASE + QUEUE_AREA(q));
    wr64(VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW, RAM_BASE + QUEUE_AREA(q) + 0x1000);
    wr64(VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW, RAM_BASE + QUEUE_AREA(q) + 0x2000);
    wr(VMX_VIRTIO_MMIO_QUEUE_READY, 1);
    H->avail_idx[q] = H->used_seen[q] = 0;
  }
  wr(VMX_VIRTIO_MMIO_STATUS, VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER |
                                 VMX_VIRTIO_S_FEATURES_OK | VMX_VIRTIO_S_DRIVER_OK);
}

static int setup_with(void **state, const char *options) {
  harness_t *h = calloc(1, sizeof *h);
  h->host = calloc(1, RAM_SIZE);
  h->ram = (vmx_guest_ram_t){.host = h->host, .base = RAM_BASE, .size = RAM_SIZE};
  char err[200] = "";
  int rc = vmx_virtio_gpu_create(&h->dev, NULL, &h->ram, NULL, options, err, sizeof err);
  if (rc != 0)
    fail_msg("create: %s", err);
  snprintf(h->dir, sizeof h->dir, "/tmp/vmx-gpu-XXXXXX");
  assert_non_null(mkdtemp(h->dir));
  H = h;
  *state = h;
  driver_start();
  return 0;
}

static int setup(void **state) { return setup_with(state, "xres=800,yres=600"); }
static int setup_small(void **state) { return setup_with(state, "max_hostmem=64K"); }

static int teardown(void **state) {
  harness_t *h = *state;
  vmx_virtio_gpu_destroy(&h->dev);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", h->dir);
  assert_int_equal(system(cmd), 0);
  free(h->host);
  free(h);
  return 0;
}

typedef struct seg {
  uint64_t off;   /* in the fake RAM */
  uint32_t len;
  bool writable;
} seg_t;

/* Posts one chain on queue q, notifies, and returns the used length; the
 * device must have returned exactly this chain. */
static uint32_t submit(unsigned q, const seg_t *segs, unsigned n) {
  uint8_t *desc = gp(QUEUE_AREA(q)), *avail = desc + 0x1000, *used = desc + 0x2000;
  for (unsigned i = 0; i < n; i++) {
    uint64_t addr = RAM_BASE + segs[i].off;
    uint16_t flags = (uint16_t)((i + 1 < n ? VMX_VIRTQ_DESC_F_NEXT : 0) |
                                (segs[i].writable ? VMX_VIRTQ_DESC_F_WRITE : 0));
    uint16_t next = (uint16_t)(i + 1);
    memcpy(desc + 16 * i, &addr, 8);
    memcpy(desc + 16 * i + 8, &segs[i].len, 4);
    memcpy(desc + 16 * i + 12, &flags, 2);
    memcpy(desc + 16 * i + 14, &next, 2);
  }
  uint16_t head = 0, idx = ++H->avail_idx[q];
  memcpy(avail + 4 + 2 * ((idx - 1) % QNUM), &head, 2);
  memcpy(avail + 2, &idx, 2);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, q);
  uint16_t used_idx;
  memcpy(&used_idx, used + 2, 2);
  assert_int_equal(used_idx, (uint16_t)(H->used_seen[q] + 1));
  uint32_t id, len;
  memcpy(&id, used + 4 + 8 * (H->used_seen[q] % QNUM), 4);
  memcpy(&len, used + 8 + 8 * (H->used_seen[q] % QNUM), 4);
  H->used_seen[q] = used_idx;
  assert_int_equal(id, head);
  return len;
}

/* Sends req (req_len bytes) on the controlq with a resp_cap-byte response
 * buffer; returns the response type, or 0 when nothing was written. */
static uint32_t command_sized(const void *req, uint32_t req_len, uint32_t resp_cap) {
  memcpy(gp(REQ), req, req_len);
  memset(gp(RESP), 0xaa, 512);
  seg_t segs[2] = {{REQ, req_len, false}, {RESP, resp_cap, true}};
  uint32_t written = submit(VMX_VIRTIO_GPU_CONTROLQ, segs, resp_cap ? 2 : 1);
  assert_true(written <= resp_cap);
  if (written < 4)
    return 0;
  uint32_t type;
  memcpy(&type, gp(RESP), 4);
  return type;
}

static uint32_t command(const void *req, uint32_t req_len) {
  return command_sized(req, req_len, 512);
}

static vmx_virtio_gpu_hdr_t hdr(uint32_t type) { return (vmx_virtio_gpu_hdr_t){.type = type}; }

static uint32_t create_2d(uint32_t id, uint32_t format, uint32_t w, uint32_t h) {
  vmx_virtio_gpu_resource_create_2d_t c = {
      hdr(VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), id, format, w, h};
  return command(&c, sizeof c);
}

static uint32_t resource_cmd(uint32_t type, uint32_t id) {
  vmx_virtio_gpu_resource_cmd_t c = {hdr(type), id, 0};
  return command(&c, sizeof c);
}

/* ATTACH_BACKING the way Linux sends it: the struct, then the entries in
 * a second out segment. */
static uint32_t attach(uint32_t id, const vmx_virtio_gpu_mem_entry_t *e, uint32_t n,
                       uint32_t claimed) {
  vmx_virtio_gpu_attach_backing_t a = {hdr(VMX_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), id,
                                       claimed};
  memcpy(gp(REQ), &a, sizeof a);
  memcpy(gp(REQ_DATA), e, n * sizeof *e);
  memset(gp(RESP), 0xaa, 64);
  seg_t segs[3] = {{REQ, sizeof a, false},
                   {REQ_DATA, (uint32_t)(n * sizeof *e), false},
                   {RESP, 64, true}};
  if (n == 0)
    segs[1] = segs[2];
  assert_int_equal(submit(VMX_VIRTIO_GPU_CONTROLQ, segs, n ? 3 : 2), 24);
  uint32_t type;
  memcpy(&type, gp(RESP), 4);
  return type;
}

static uint32_t transfer(uint32_t id, vmx_virtio_gpu_rect_t r, uint64_t offset) {
  vmx_virtio_gpu_transfer_to_host_2d_t t = {hdr(VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D), r,
                                            offset, id, 0};
  return command(&t, sizeof t);
}

static uint32_t set_scanout(uint32_t scanout, uint32_t id, vmx_virtio_gpu_rect_t r) {
  vmx_virtio_gpu_set_scanout_t s = {hdr(VMX_VIRTIO_GPU_CMD_SET_SCANOUT), r, scanout, id};
  return command(&s, sizeof s);
}

static uint32_t flush(uint32_t id, vmx_virtio_gpu_rect_t r) {
  vmx_virtio_gpu_resource_flush_t f = {hdr(VMX_VIRTIO_GPU_CMD_RESOURCE_FLUSH), r, id, 0};
  return command(&f, sizeof f);
}

/* The byte at linear offset off of the two-piece backing. */
static uint8_t *backing_byte(uint64_t off) {
  return off < SPLIT ? gp(BACK_A + off) : gp(BACK_B + off - SPLIT);
}

static void pattern_rgb(unsigned x, unsigned y, uint8_t rgb[3]) {
  rgb[0] = (uint8_t)(x * 3 + 1);
  rgb[1] = (uint8_t)(y * 5 + 2);
  rgb[2] = (uint8_t)((x * y) ^ 0x5a);
}

/* Writes pixel (x, y) of a FB_W-wide B8G8R8X8 image into the backing. */
static void backing_put(unsigned x, unsigned y, const uint8_t rgb[3]) {
  uint64_t off = ((uint64_t)y * FB_W + x) * 4;
  *backing_byte(off + 0) = rgb[2];
  *backing_byte(off + 1) = rgb[1];
  *backing_byte(off + 2) = rgb[0];
  *backing_byte(off + 3) = 0x33;
}

/* Reads path back as 8-bit RGB; the caller frees the pixels. */
static uint8_t *png_load(const char *path, unsigned *w, unsigned *h) {
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path))
    fail_msg("%s: %s", path, img.message);
  img.format = PNG_FORMAT_RGB;
  uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
  assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
  *w = img.width;
  *h = img.height;
  return px;
}

static void dump_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", H->dir, name);
}

/* ---- tests ---- */

static void test_config_reports_one_scanout(void **state) {
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_ID), 16);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_CONFIG + 0), 0);   /* events_read */
  assert_int_equal(rd(VMX_VIRTIO_MMIO_CONFIG + 8), 1);   /* num_scanouts */
  assert_int_equal(rd(VMX_VIRTIO_MMIO_CONFIG + 12), 0);  /* num_capsets */
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES) & 0x1f, 0);   /* no VIRGL, no EDID */
  /* Linux's probe asks for the host-visible region: length ~0 means none
   * (a 0 would make it try to reserve a region and fail the probe). */
  wr(VMX_VIRTIO_MMIO_SHM_SEL, 1);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_SHM_LEN_LOW), UINT32_MAX);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_SHM_LEN_HIGH), UINT32_MAX);
}

static void test_display_info_is_the_configured_size(void **state) {
  vmx_virtio_gpu_hdr_t req = hdr(VMX_VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
  memcpy(gp(REQ), &req, sizeof req);
  seg_t segs[2] = {{REQ, sizeof req, false}, {RESP, 512, true}};
  assert_int_equal(submit(0, segs, 2), sizeof(vmx_virtio_gpu_display_info_t));
  vmx_virtio_gpu_display_info_t info;
  memcpy(&info, gp(RESP), sizeof info);
  assert_int_equal(info.hdr.type, VMX_VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
  assert_int_equal(info.pmodes[0].enabled, 1);
  assert_int_equal(info.pmodes[0].r.width, 800);
  assert_int_equal(info.pmodes[0].r.height, 600);
  for (unsigned i = 1; i < VMX_VIRTIO_GPU_MAX_SCANOUTS; i++)
    assert_int_equal(info.pmodes[i].enabled, 0);
}

static void test_fence_is_echoed(void **state) {
  vmx_virtio_gpu_hdr_t req = {.type = VMX_VIRTIO_GPU_CMD_GET_DISPLAY_INFO,
                              .flags = VMX_VIRTIO_GPU_FLAG_FENCE | VMX_VIRTIO_GPU_FLAG_INFO_RING_IDX,
                              .fence_id = 0x1122334455667788ull, .ctx_id = 7, .ring_idx = 3};
  assert_int_equal(command(&req, sizeof req), VMX_VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
  vmx_virtio_gpu_hdr_t resp;
  memcpy(&resp, gp(RESP), sizeof resp);
  assert_int_equal(resp.flags, VMX_VIRTIO_GPU_FLAG_FENCE | VMX_VIRTIO_GPU_FLAG_INFO_RING_IDX);
  assert_true(resp.fence_id == 0x1122334455667788ull);
  assert_int_equal(resp.ctx_id, 7);
  assert_int_equal(resp.ring_idx, 3);
  /* An unfenced request gets no fence back. */
  req.flags = 0;
  assert_int_equal(command(&req, sizeof req), VMX_VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
  memcpy(&resp, gp(RESP), sizeof resp);
  assert_int_equal(resp.flags, 0);
  assert_true(resp.fence_id == 0);
}

/* The whole path Linux's fbdev takes, then the screendump read back. */
static void test_framebuffer_reaches_the_png(void **state) {
  const vmx_virtio_gpu_rect_t full = {0, 0, FB_W, FB_H};
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, FB_W, FB_H),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  vmx_virtio_gpu_mem_entry_t e[2] = {{RAM_BASE + BACK_A, SPLIT, 0},
                                     {RAM_BASE + BACK_B, FB_BYTES - SPLIT, 0}};
  assert_int_equal(attach(1, e, 2, 2), VMX_VIRTIO_GPU_RESP_OK_NODATA);
  for (unsigned y = 0; y < FB_H; y++)
    for (unsigned x = 0; x < FB_W; x++) {
      uint8_t rgb[3];
      pattern_rgb(x, y, rgb);
      backing_put(x, y, rgb);
    }
  assert_int_equal(transfer(1, full, 0), VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(set_scanout(0, 1, full), VMX_VIRTIO_GPU_RESP_OK_NODATA);
  uint64_t flushes = vmx_virtio_gpu_flushes(&H->dev);
  assert_int_equal(flush(1, full), VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_true(vmx_virtio_gpu_flushes(&H->dev) == flushes + 1);

  /* A partial transfer: only rect (10, 5) 8x4 takes the new colour. */
  const uint8_t white[3] = {0xff, 0xfe, 0xfd};
  for (unsigned y = 0; y < FB_H; y++)
    for (unsigned x = 0; x < FB_W; x++)
      backing_put(x, y, white);
  vmx_virtio_gpu_rect_t part = {10, 5, 8, 4};
  assert_int_equal(transfer(1, part, 5 * FB_W * 4 + 10 * 4), VMX_VIRTIO_GPU_RESP_OK_NODATA);

  char path[128], err[256] = "";
  dump_path(path, sizeof path, "screen.png");
  assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), 0);
  char tmp[140];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_int_equal(access(tmp, F_OK), -1);
  unsigned w, h;
  uint8_t *px = png_load(path, &w, &h);
  assert_int_equal(w, FB_W);
  assert_int_equal(h, FB_H);
  for (unsigned y = 0; y < FB_H; y++)
    for (unsigned x = 0; x < FB_W; x++) {
      uint8_t want[3];
      bool in_part = x >= 10 && x < 18 && y >= 5 && y < 9;
      if (in_part)
        memcpy(want, white, 3);
      else
        pattern_rgb(x, y, want);
      if (memcmp(px + 3 * (y * FB_W + x), want, 3) != 0)
        fail_msg("pixel (%u,%u) is %02x%02x%02x, want %02x%02x%02x", x, y,
                 px[3 * (y * FB_W + x)], px[3 * (y * FB_W + x) + 1], px[3 * (y * FB_W + x) + 2],
                 want[0], want[1], want[2]);
    }
  free(px);
}

/* Each format's name gives its bytes in memory order. */
static void test_every_format_keeps_its_colour_order(void **state) {
  static const struct {
    uint32_t format;
    const char *order;
  } formats[] = {
      {VMX_VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, "BGRA"}, {VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, "BGRX"},
      {VMX_VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, "ARGB"}, {VMX_VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, "XRGB"},
      {VMX_VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, "RGBA"}, {VMX_VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, "XBGR"},
      {VMX_VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, "ABGR"}, {VMX_VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, "RGBX"},
  };
  const vmx_virtio_gpu_rect_t r = {0, 0, 2, 1};
  for (unsigned i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    uint32_t id = 100 + i;
    assert_int_equal(create_2d(id, formats[i].format, 2, 1), VMX_VIRTIO_GPU_RESP_OK_NODATA);
    vmx_virtio_gpu_mem_entry_t e = {RAM_BASE + BACK_A, 8, 0};
    assert_int_equal(attach(id, &e, 1, 1), VMX_VIRTIO_GPU_RESP_OK_NODATA);
    const uint8_t colours[2][3] = {{0x10, 0x80, 0xf0}, {0xc1, 0x02, 0x7e}};
    for (unsigned p = 0; p < 2; p++)
      for (unsigned k = 0; k < 4; k++) {
        const char *c = strchr("RGB", formats[i].order[k]);
        *gp(BACK_A + 4 * p + k) = c ? colours[p][c - "RGB"] : 0x99;
      }
    assert_int_equal(transfer(id, r, 0), VMX_VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(set_scanout(0, id, r), VMX_VIRTIO_GPU_RESP_OK_NODATA);
    char path[128], err[256] = "";
    dump_path(path, sizeof path, "fmt.png");
    assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), 0);
    unsigned w, h;
    uint8_t *px = png_load(path, &w, &h);
    assert_int_equal(w * h, 2);
    if (memcmp(px, colours, 6) != 0)
      fail_msg("format %s: got %02x%02x%02x %02x%02x%02x", formats[i].order, px[0], px[1],
               px[2], px[3], px[4], px[5]);
    free(px);
  }
}

static void test_scanout_rect_crops_the_dump(void **state) {
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, 4, 4),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  vmx_virtio_gpu_mem_entry_t e = {RAM_BASE + BACK_A, 64, 0};
  assert_int_equal(attach(1, &e, 1, 1), VMX_VIRTIO_GPU_RESP_OK_NODATA);
  for (unsigned i = 0; i < 16; i++)
    memcpy(gp(BACK_A + 4 * i), (uint8_t[4]){(uint8_t)i, (uint8_t)(i + 16), (uint8_t)(i + 32), 0}, 4);
  assert_int_equal(transfer(1, (vmx_virtio_gpu_rect_t){0, 0, 4, 4}, 0),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(set_scanout(0, 1, (vmx_virtio_gpu_rect_t){1, 2, 3, 2}),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  char path[128], err[256] = "";
  dump_path(path, sizeof path, "crop.png");
  assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), 0);
  unsigned w, h;
  uint8_t *px = png_load(path, &w, &h);
  assert_int_equal(w, 3);
  assert_int_equal(h, 2);
  assert_int_equal(px[0], 9);                 /* pixel (1, 2) */
  assert_int_equal(px[3 * 5 + 2], 15 + 32);   /* pixel (3, 3), blue */
  free(px);
}

static void test_no_scanout_means_no_dump(void **state) {
  char path[128], err[256] = "";
  dump_path(path, sizeof path, "none.png");
  assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), VMX_EAGAIN);
  assert_non_null(strstr(err, "guest has not set up a display"));
  assert_int_equal(access(path, F_OK), -1);
  /* Unref of the scanout's resource turns the display off again. */
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(set_scanout(0, 1, (vmx_virtio_gpu_rect_t){0, 0, 8, 8}),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), 0);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF, 1),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), VMX_EAGAIN);
  /* So does SET_SCANOUT with resource 0. */
  assert_int_equal(create_2d(2, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(set_scanout(0, 2, (vmx_virtio_gpu_rect_t){0, 0, 8, 8}),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(set_scanout(0, 0, (vmx_virtio_gpu_rect_t){0, 0, 0, 0}),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), VMX_EAGAIN);
}

static void test_bad_commands_get_their_error(void **state) {
  enum { UNSPEC = VMX_VIRTIO_GPU_RESP_ERR_UNSPEC, NOMEM = VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
         BADSCAN = VMX_VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
         BADRES = VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
         BADPARAM = VMX_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, OK = VMX_VIRTIO_GPU_RESP_OK_NODATA };
  const vmx_virtio_gpu_rect_t r8 = {0, 0, 8, 8};
  vmx_virtio_gpu_hdr_t h = hdr(0x0999);
  assert_int_equal(command(&h, sizeof h), UNSPEC);   /* unknown command */
  h = hdr(VMX_VIRTIO_GPU_CMD_GET_EDID);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_GET_EDID, 0), UNSPEC);
  assert_int_equal(command(&h, 10), UNSPEC);          /* short header */

  /* RESOURCE_CREATE_2D */
  vmx_virtio_gpu_resource_create_2d_t c = {hdr(VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), 1,
                                           VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8};
  assert_int_equal(command(&c, sizeof c - 1), UNSPEC);   /* short request */
  assert_int_equal(create_2d(0, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8), BADRES);
  assert_int_equal(create_2d(1, 5, 8, 8), BADPARAM);      /* no such format */
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 8), BADPARAM);
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16384, 16384), NOMEM);
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, UINT32_MAX, UINT32_MAX),
                   NOMEM);
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8), OK);
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8), BADRES);  /* twice */

  /* SET_SCANOUT */
  assert_int_equal(set_scanout(1, 1, r8), BADSCAN);
  assert_int_equal(set_scanout(0, 9, r8), BADRES);
  assert_int_equal(set_scanout(0, 1, (vmx_virtio_gpu_rect_t){1, 0, 8, 8}), BADPARAM);
  assert_int_equal(set_scanout(0, 1, (vmx_virtio_gpu_rect_t){0, 0, 0, 8}), BADPARAM);
  assert_int_equal(set_scanout(0, 1, (vmx_virtio_gpu_rect_t){UINT32_MAX, 0, 2, 8}), BADPARAM);

  /* RESOURCE_FLUSH */
  assert_int_equal(flush(9, r8), BADRES);
  assert_int_equal(flush(1, (vmx_virtio_gpu_rect_t){4, 4, 5, 1}), BADPARAM);
  assert_int_equal(flush(1, (vmx_virtio_gpu_rect_t){0, 2, 8, UINT32_MAX}), BADPARAM);

  /* TRANSFER_TO_HOST_2D */
  assert_int_equal(transfer(9, r8, 0), BADRES);
  assert_int_equal(transfer(1, (vmx_virtio_gpu_rect_t){0, 0, 9, 8}, 0), BADPARAM);
  assert_int_equal(transfer(1, r8, 0), UNSPEC);        /* no backing yet */

  /* RESOURCE_ATTACH_BACKING */
  vmx_virtio_gpu_mem_entry_t outside[] = {
      {RAM_BASE - 4096, 4096, 0},             /* below RAM */
      {RAM_BASE + RAM_SIZE - 16, 32, 0},      /* runs off the end */
      {UINT64_MAX - 7, 64, 0},                /* wraps */
  };
  for (unsigned i = 0; i < 3; i++)
    assert_int_equal(attach(1, &outside[i], 1, 1), UNSPEC);
  vmx_virtio_gpu_mem_entry_t good = {RAM_BASE + BACK_A, 256, 0};
  assert_int_equal(attach(9, &good, 1, 1), BADRES);
  assert_int_equal(attach(1, &good, 1, 2), UNSPEC);    /* claims more entries than sent */
  assert_int_equal(attach(1, &good, 0, 0), UNSPEC);    /* no entries */
  assert_int_equal(attach(1, &good, 1, VMX_VIRTIO_GPU_MAX_BACKING + 1), UNSPEC);
  assert_int_equal(vmx_virtio_gpu_hostmem(&H->dev), 8 * 8 * 4);   /* failures free the table */
  assert_int_equal(attach(1, &good, 1, 1), OK);
  assert_int_equal(attach(1, &good, 1, 1), UNSPEC);    /* already has backing */
  /* A short backing is not an error: what lies past its end stays. */
  assert_int_equal(transfer(1, r8, 0), OK);
  assert_int_equal(transfer(1, r8, UINT64_MAX - 8), OK);

  /* RESOURCE_DETACH_BACKING, RESOURCE_UNREF */
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 9), BADRES);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 1), OK);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 1), UNSPEC);
  assert_int_equal(transfer(1, r8, 0), UNSPEC);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF, 9), BADRES);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF, 1), OK);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF, 1), BADRES);
  assert_int_equal(vmx_virtio_gpu_hostmem(&H->dev), 0);

  /* A response buffer too small takes what fits; none at all, nothing. */
  vmx_virtio_gpu_hdr_t di = hdr(VMX_VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
  assert_int_equal(command_sized(&di, sizeof di, 6), VMX_VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
  assert_int_equal(*gp(RESP + 6), 0xaa);
  assert_int_equal(command_sized(&di, sizeof di, 0), 0);
  assert_false(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
}

static void test_hostmem_budget_is_enforced(void **state) {
  /* 64 KiB: one 128x128 resource fits exactly, nothing more. */
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 128, 128),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(create_2d(2, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
                   VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
  vmx_virtio_gpu_mem_entry_t e = {RAM_BASE + BACK_A, 4096, 0};
  assert_int_equal(attach(1, &e, 1, 1), VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
  assert_int_equal(resource_cmd(VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF, 1),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(create_2d(2, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 64, 64),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(attach(2, &e, 1, 1), VMX_VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_cursor_commands_are_taken(void **state) {
  uint8_t cursor[56] = {0};
  uint32_t type = VMX_VIRTIO_GPU_CMD_UPDATE_CURSOR;
  memcpy(cursor, &type, 4);
  memcpy(gp(REQ), cursor, sizeof cursor);
  seg_t seg = {REQ, sizeof cursor, false};
  assert_int_equal(submit(VMX_VIRTIO_GPU_CURSORQ, &seg, 1), 0);
}

static void test_reset_frees_everything(void **state) {
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  assert_int_equal(set_scanout(0, 1, (vmx_virtio_gpu_rect_t){0, 0, 8, 8}),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
  driver_start();   /* writes 0 to Status first */
  assert_int_equal(vmx_virtio_gpu_hostmem(&H->dev), 0);
  char path[128], err[256] = "";
  dump_path(path, sizeof path, "after-reset.png");
  assert_int_equal(vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err), VMX_EAGAIN);
  assert_int_equal(create_2d(1, VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
                   VMX_VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_options_are_checked(void **state) {
  static const char *bad[] = {"xres=0", "yres=16385", "xres", "colour=1", "max_hostmem=12Q",
                              "xres=-1", "max_hostmem=99999999999G"};
  vmx_virtio_dev_t d;
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[200] = "";
    assert_int_equal(vmx_virtio_gpu_create(&d, NULL, &H->ram, NULL, bad[i], err, sizeof err),
                     VMX_EINVAL);
    assert_non_null(strstr(err, "virtio-gpu"));
    vmx_virtio_gpu_destroy(&d);
  }
}

static void test_screendump_failure_leaves_no_file(void **state) {
  uint8_t px[16] = {0};
  char err[256] = "";
  char path[160];
  snprintf(path, sizeof path, "%s/no-such-dir/x.png", H->dir);
  assert_int_equal(vmx_screendump_png(path, px, 2, 2, 8, err, sizeof err), VMX_EIO);
  assert_non_null(strstr(err, "no-such-dir"));
  dump_path(path, sizeof path, "bad.png");
  assert_int_equal(vmx_screendump_png(path, px, 2, 2, 4, err, sizeof err), VMX_EINVAL);
  assert_int_equal(vmx_screendump_png(path, px, 0, 2, 8, err, sizeof err), VMX_EINVAL);
  assert_int_equal(access(path, F_OK), -1);
}

/* ---- fuzz ---- */

static uint32_t pick(uint32_t n) { return (uint32_t)(rnd() % n); }

/* A small number usually, sometimes an edge value. */
static uint32_t fuzz_u32(uint32_t small) {
  switch (pick(8)) {
  case 0: return UINT32_MAX - pick(4);
  case 1: return pick(UINT32_MAX);
  default: return pick(small + 1);
  }
}

static vmx_virtio_gpu_rect_t fuzz_rect(void) {
  return (vmx_virtio_gpu_rect_t){fuzz_u32(8), fuzz_u32(8), fuzz_u32(24), fuzz_u32(24)};
}

static uint64_t fuzz_gpa(void) {
  switch (pick(20)) {
  case 0: return rnd();
  case 1: return RAM_BASE + RAM_SIZE - pick(64);
  default: return RAM_BASE + BACK_A + pick(0x200000);
  }
}

/* Sends one random command; true when it was answered OK. */
static bool fuzz_one(void) {
  /* Weighted so that resources live long enough to get backing and transfers. */
  static const uint32_t types[] = {
      VMX_VIRTIO_GPU_CMD_GET_DISPLAY_INFO, VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
      VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
      VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF, VMX_VIRTIO_GPU_CMD_SET_SCANOUT,
      VMX_VIRTIO_GPU_CMD_SET_SCANOUT, VMX_VIRTIO_GPU_CMD_RESOURCE_FLUSH,
      VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
      VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, VMX_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
      VMX_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, VMX_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
      VMX_VIRTIO_GPU_CMD_GET_EDID, 0x0200, 0};
  static const uint32_t formats[] = {1, 2, 3, 4, 67, 68, 121, 134, 0, 5};
  uint32_t words[16];
  uint8_t *req = (uint8_t *)words;
  for (size_t i = 0; i < sizeof words / 4; i++)
    words[i] = (uint32_t)rnd();
  vmx_virtio_gpu_hdr_t h = {.type = types[pick(sizeof types / sizeof types[0])],
                            .flags = pick(4), .fence_id = rnd()};
  memcpy(req, &h, sizeof h);
  uint32_t *w = words + sizeof h / 4;   /* the command's words after the header */
  uint32_t id = pick(6);
  switch (h.type) {
  case VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
    w[0] = id, w[1] = formats[pick(10)], w[2] = fuzz_u32(70), w[3] = fuzz_u32(70);
    break;
  case VMX_VIRTIO_GPU_CMD_SET_SCANOUT: {
    vmx_virtio_gpu_rect_t r = fuzz_rect();
    memcpy(w, &r, sizeof r);
    w[4] = pick(8) == 0 ? 1 : 0, w[5] = id;
    break;
  }
  case VMX_VIRTIO_GPU_CMD_RESOURCE_FLUSH:
  case VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: {
    vmx_virtio_gpu_rect_t r = fuzz_rect();
    memcpy(w, &r, sizeof r);
    uint64_t off = pick(4) == 0 ? rnd() : pick(0x8000);
    if (h.type == VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D)
      memcpy(w + 4, &off, 8), w[6] = id;
    else
      w[4] = id;
    break;
  }
  case VMX_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: {
    uint32_t n = pick(8) == 0 ? 0 : 1 + pick(5);
    w[0] = id, w[1] = pick(10) == 0 ? fuzz_u32(20000) : n;
    vmx_virtio_gpu_mem_entry_t e[6];
    for (uint32_t i = 0; i < n; i++)
      e[i] = (vmx_virtio_gpu_mem_entry_t){fuzz_gpa(), pick(8) ? pick(0x8000) : fuzz_u32(0), 0};
    memcpy(gp(REQ_DATA), e, sizeof e);
    break;
  }
  default:
    w[0] = id;
  }
  bool data = h.type == VMX_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING;
  /* The entries follow the attach struct in the stream, as Linux sends them. */
  uint32_t full = data ? sizeof(vmx_virtio_gpu_attach_backing_t) : sizeof words;
  uint32_t req_len = pick(6) == 0 ? 1 + pick(sizeof words) : full;
  uint32_t resp_cap = pick(6) == 0 ? pick(40) : 512;
  memcpy(gp(REQ), req, sizeof words);
  seg_t segs[3] = {{REQ, req_len, false}, {REQ_DATA, 6 * 16, false}, {RESP, resp_cap, true}};
  if (!data)
    segs[1] = segs[2];
  uint32_t written = submit(0, segs, (data ? 2 : 1) + (resp_cap ? 1 : 0));
  assert_true(written <= resp_cap);
  if (written >= 4) {
    uint32_t type;
    memcpy(&type, gp(RESP), 4);
    assert_true((type >= 0x1100 && type <= 0x1101) || (type >= 0x1200 && type <= 0x1205));
    return type < 0x1200;
  }
  return false;
}

static void test_random_commands_never_break_the_device(void **state) {
  double end = fuzz_begin(1.0);
  unsigned long n = 0, ok = 0;
  char path[128], err[256];
  dump_path(path, sizeof path, "fuzz.png");
  for (;; n++) {
    if ((n & 255) == 0 && now_s() > end)
      break;
    ok += fuzz_one();
    if (pick(200) == 0) {
      int rc = vmx_virtio_gpu_screendump(&H->dev, path, err, sizeof err);
      assert_true(rc == 0 || rc == VMX_EAGAIN);
    }
    if (pick(500) == 0)
      driver_start();
    assert_false(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_NEEDS_RESET);
    assert_true(vmx_virtio_gpu_hostmem(&H->dev) <= (1u << 20));
  }
  fprintf(stderr, "virtio-gpu fuzz: %lu commands, %lu answered OK\n", n, ok);
  driver_start();
  assert_int_equal(vmx_virtio_gpu_hostmem(&H->dev), 0);
}

static int setup_fuzz(void **state) { return setup_with(state, "max_hostmem=1M"); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_config_reports_one_scanout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_display_info_is_the_configured_size, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fence_is_echoed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_framebuffer_reaches_the_png, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_format_keeps_its_colour_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scanout_rect_crops_the_dump, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_scanout_means_no_dump, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_commands_get_their_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostmem_budget_is_enforced, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_cursor_commands_are_taken, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_frees_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(test_options_are_checked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_screendump_failure_leaves_no_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_commands_never_break_the_device, setup_fuzz,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
