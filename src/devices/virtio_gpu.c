/* virtio-gpu, 2D only (see virtio_gpu.h for the commands and the errors). */
#include "devices/virtio_gpu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "devices/screendump.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wire structs are copied whole");
_Static_assert(sizeof(vmx_virtio_gpu_hdr_t) == 24, "virtio 1.2 5.7.6.7");
_Static_assert(sizeof(vmx_virtio_gpu_display_info_t) == 24 + 16 * 24, "virtio 1.2 5.7.6.8");
_Static_assert(sizeof(vmx_virtio_gpu_resource_create_2d_t) == 40, "virtio 1.2 5.7.6.8");
_Static_assert(sizeof(vmx_virtio_gpu_resource_cmd_t) == 32, "virtio 1.2 5.7.6.8");
_Static_assert(sizeof(vmx_virtio_gpu_set_scanout_t) == 48, "virtio 1.2 5.7.6.8");
_Static_assert(sizeof(vmx_virtio_gpu_resource_flush_t) == 48, "virtio 1.2 5.7.6.8");
_Static_assert(sizeof(vmx_virtio_gpu_transfer_to_host_2d_t) == 56, "virtio 1.2 5.7.6.8");
_Static_assert(sizeof(vmx_virtio_gpu_attach_backing_t) == 32, "virtio 1.2 5.7.6.8");
_Static_assert(sizeof(vmx_virtio_gpu_mem_entry_t) == 16, "virtio 1.2 5.7.6.8");

#define GPU_BPP 4u              /* every supported format is 32 bits a pixel */
#define GPU_MAX_DIMENSION 16384u
#define GPU_CONFIG_SIZE 16u

/* The supported formats: where R, G and B sit in a pixel's 4 bytes. */
typedef struct gpu_format {
  uint32_t id;
  uint8_t r, g, b;
} gpu_format_t;

static const gpu_format_t gpu_formats[] = {
    {VMX_VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 2, 1, 0},
    {VMX_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 2, 1, 0},
    {VMX_VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, 1, 2, 3},
    {VMX_VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, 1, 2, 3},
    {VMX_VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 0, 1, 2},
    {VMX_VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, 3, 2, 1},
    {VMX_VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, 3, 2, 1},
    {VMX_VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, 0, 1, 2},
};

/* One non-empty backing entry: guest-physical, checked again at each use. */
typedef struct gpu_backing {
  uint64_t gpa;
  uint64_t start;   /* offset of its first byte in the resource's backing */
  uint32_t len;
} gpu_backing_t;

typedef struct gpu_resource {
  uint32_t id, width, height;
  const gpu_format_t *format;
  uint8_t *pixels;             /* width * height * 4, rows width * 4 apart */
  bool has_backing;
  gpu_backing_t *backing;      /* nbacking entries, ascending start */
  uint32_t nbacking, backing_cap;   /* used and allocated entries */
  uint64_t backing_len;        /* sum of the entries' lengths */
} gpu_resource_t;

typedef struct gpu {
  uint32_t xres, yres;
  uint64_t max_hostmem, hostmem;
  gpu_resource_t **res;        /* nres live resources, in no order */
  uint32_t nres, cap_res;
  gpu_resource_t *scanout;     /* what scanout 0 shows, or NULL */
  vmx_virtio_gpu_rect_t scanout_rect;
  uint32_t events_read;
  uint64_t flushes;
  vmx_virtq_elem_t *elem;      /* the chain being served */
} gpu_t;

/* A request, read whole (the largest command struct fits). */
typedef union gpu_request {
  vmx_virtio_gpu_hdr_t hdr;
  vmx_virtio_gpu_resource_create_2d_t create_2d;
  vmx_virtio_gpu_resource_cmd_t resource;
  vmx_virtio_gpu_set_scanout_t set_scanout;
  vmx_virtio_gpu_resource_flush_t flush;
  vmx_virtio_gpu_transfer_to_host_2d_t transfer;
  vmx_virtio_gpu_attach_backing_t attach;
} gpu_request_t;

static const gpu_format_t *format_find(uint32_t id) {
  for (size_t i = 0; i < sizeof gpu_formats / sizeof gpu_formats[0]; i++)
    if (gpu_formats[i].id == id)
      return &gpu_formats[i];
  return NULL;
}

static gpu_resource_t *resource_find(const gpu_t *g, uint32_t id) {
  for (uint32_t i = 0; i < g->nres; i++)
    if (g->res[i]->id == id)
      return g->res[i];
  return NULL;
}

static uint64_t pixels_bytes(const gpu_resource_t *r) {
  return (uint64_t)r->width * r->height * GPU_BPP;
}

static void backing_free(gpu_t *g, gpu_resource_t *r) {
  g->hostmem -= (uint64_t)r->backing_cap * sizeof(gpu_backing_t);
  free(r->backing);
  r->backing = NULL;
  r->nbacking = r->backing_cap = 0;
  r->backing_len = 0;
  r->has_backing = false;
}

static void resource_free(gpu_t *g, gpu_resource_t *r) {
  backing_free(g, r);
  g->hostmem -= pixels_bytes(r);
  free(r->pixels);
  free(r);
}

static void resources_clear(gpu_t *g) {
  for (uint32_t i = 0; i < g->nres; i++)
    resource_free(g, g->res[i]);
  g->nres = 0;
  g->scanout = NULL;
}

/* True when rect lies inside the resource (empty rects included). */
static bool rect_inside(const vmx_virtio_gpu_rect_t *rect, const gpu_resource_t *r) {
  return rect->x <= r->width && rect->width <= r->width - rect->x &&
         rect->y <= r->height && rect->height <= r->height - rect->y;
}

/* Copies n bytes at offset off of r's backing into dst. Bytes past the
 * backing's end are not copied. -1 when an entry is no longer in RAM. */
static int backing_read(const vmx_guest_ram_t *ram, const gpu_resource_t *r, uint64_t off,
                        uint8_t *dst, uint64_t n) {
  if (off >= r->backing_len)
    return 0;
  if (n > r->backing_len - off)
    n = r->backing_len - off;
  uint32_t lo = 0, hi = r->nbacking;   /* the last entry starting at or before off */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (r->backing[mid].start <= off)
      lo = mid;
    else
      hi = mid;
  }
  for (uint32_t i = lo; n > 0; i++) {
    const gpu_backing_t *b = &r->backing[i];
    uint64_t within = off - b->start;
    uint64_t piece = b->len - within < n ? b->len - within : n;
    const uint8_t *src = vmx_guest_ram_ptr(ram, b->gpa + within, piece);
    if (!src)
      return -1;
    memcpy(dst, src, piece);
    dst += piece;
    off += piece;
    n -= piece;
  }
  return 0;
}

/* ---- commands: each returns the response type ---- */

typedef uint32_t (*gpu_command_fn)(vmx_virtio_dev_t *d, gpu_t *g, const gpu_request_t *req,
                                   const vmx_virtq_elem_t *e,
                                   vmx_virtio_gpu_display_info_t *resp);

static uint32_t cmd_get_display_info(vmx_virtio_dev_t *d, gpu_t *g, const gpu_request_t *req,
                                     const vmx_virtq_elem_t *e,
                                     vmx_virtio_gpu_display_info_t *resp) {
  resp->pmodes[0].r.width = g->xres;
  resp->pmodes[0].r.height = g->yres;
  resp->pmodes[0].enabled = 1;
  return VMX_VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t cmd_resource_create_2d(vmx_virtio_dev_t *d, gpu_t *g, const gpu_request_t *req,
                                       const vmx_virtq_elem_t *e,
                                       vmx_virtio_gpu_display_info_t *resp) {
  const vmx_virtio_gpu_resource_create_2d_t *c = &req->create_2d;
  if (c->resource_id == 0 || resource_find(g, c->resource_id))
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
  const gpu_format_t *format = format_find(c->format);
  if (!format || c->width == 0 || c->height == 0)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
  /* width * height < 2^64, so the product cannot wrap. */
  if ((uint64_t)c->width * c->height > (g->max_hostmem - g->hostmem) / GPU_BPP ||
      g->nres >= VMX_VIRTIO_GPU_MAX_RESOURCES)
    return VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
  if (g->nres == g->cap_res) {
    uint32_t cap = g->cap_res ? 2 * g->cap_res : 16;
    gpu_resource_t **res = realloc(g->res, cap * sizeof *res);
    if (!res)
      return VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
    g->res = res;
    g->cap_res = cap;
  }
  gpu_resource_t *r = calloc(1, sizeof *r);
  if (!r)
    return VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
  *r = (gpu_resource_t){.id = c->resource_id, .width = c->width, .height = c->height,
                        .format = format};
  r->pixels = calloc(1, pixels_bytes(r));
  if (!r->pixels) {
    free(r);
    return VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
  }
  g->hostmem += pixels_bytes(r);
  g->res[g->nres++] = r;
  return VMX_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_resource_unref(vmx_virtio_dev_t *d, gpu_t *g, const gpu_request_t *req,
                                   const vmx_virtq_elem_t *e,
                                   vmx_virtio_gpu_display_info_t *resp) {
  for (uint32_t i = 0; i < g->nres; i++) {
    gpu_resource_t *r = g->res[i];
    if (r->id != req->resource.resource_id)
      continue;
    if (g->scanout == r)
      g->scanout = NULL;
    resource_free(g, r);
    g->res[i] = g->res[--g->nres];
    return VMX_VIRTIO_GPU_RESP_OK_NODATA;
  }
  return VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
}

static uint32_t cmd_set_scanout(vmx_virtio_dev_t *d, gpu_t *g, const gpu_request_t *req,
                                const vmx_virtq_elem_t *e, vmx_virtio_gpu_display_info_t *resp) {
  const vmx_virtio_gpu_set_scanout_t *s = &req->set_scanout;
  if (s->scanout_id != 0)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
  if (s->resource_id == 0) {
    g->scanout = NULL;
    return VMX_VIRTIO_GPU_RESP_OK_NODATA;
  }
  gpu_resource_t *r = resource_find(g, s->resource_id);
  if (!r)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
  if (!rect_inside(&s->r, r) || s->r.width == 0 || s->r.height == 0)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
  g->scanout = r;
  g->scanout_rect = s->r;
  return VMX_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_resource_flush(vmx_virtio_dev_t *d, gpu_t *g, const gpu_request_t *req,
                                   const vmx_virtq_elem_t *e,
                                   vmx_virtio_gpu_display_info_t *resp) {
  const gpu_resource_t *r = resource_find(g, req->flush.resource_id);
  if (!r)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
  if (!rect_inside(&req->flush.r, r))
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
  g->flushes++;
  return VMX_VIRTIO_GPU_RESP_OK_NODATA;
}

/* virtio 1.2 5.7.6.8: row h of the rect comes from backing offset
 * offset + h * stride, the stride being the resource's (Linux and QEMU agree). */
static uint32_t cmd_transfer_to_host_2d(vmx_virtio_dev_t *d, gpu_t *g, const gpu_request_t *req,
                                        const vmx_virtq_elem_t *e,
                                        vmx_virtio_gpu_display_info_t *resp) {
  const vmx_virtio_gpu_transfer_to_host_2d_t *t = &req->transfer;
  gpu_resource_t *r = resource_find(g, t->resource_id);
  if (!r)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
  if (!rect_inside(&t->r, r))
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
  if (!r->has_backing)
    return VMX_VIRTIO_GPU_RESP_ERR_UNSPEC;
  uint64_t stride = (uint64_t)r->width * GPU_BPP;
  for (uint32_t h = 0; h < t->r.height; h++) {
    uint64_t rows = h * stride;
    if (t->offset > UINT64_MAX - rows)
      break;   /* past any backing */
    uint8_t *dst = r->pixels + (t->r.y + h) * stride + (uint64_t)t->r.x * GPU_BPP;
    if (backing_read(&d->ram, r, t->offset + rows, dst, (uint64_t)t->r.width * GPU_BPP) < 0)
      return VMX_VIRTIO_GPU_RESP_ERR_UNSPEC;
  }
  return VMX_VIRTIO_GPU_RESP_OK_NODATA;
}

/* Reads the request's nr_entries mem entries (after the attach struct) into
 * r's backing table, dropping empty ones. */
static uint32_t backing_load(vmx_virtio_dev_t *d, gpu_resource_t *r, const vmx_virtq_elem_t *e,
                             uint32_t nr_entries) {
  enum { BATCH = 128 };
  vmx_virtio_gpu_mem_entry_t batch[BATCH];
  for (uint32_t i = 0; i < nr_entries; i += BATCH) {
    uint32_t n = nr_entries - i < BATCH ? nr_entries - i : BATCH;
    size_t off = sizeof(vmx_virtio_gpu_attach_backing_t) + (size_t)i * sizeof batch[0];
    if (vmx_virtq_read(e, off, batch, n * sizeof batch[0]) != n * sizeof batch[0])
      return VMX_VIRTIO_GPU_RESP_ERR_UNSPEC;
    for (uint32_t k = 0; k < n; k++) {
      if (!vmx_guest_ram_ptr(&d->ram, batch[k].addr, batch[k].length))
        return VMX_VIRTIO_GPU_RESP_ERR_UNSPEC;
      if (batch[k].length == 0)
        continue;
      r->backing[r->nbacking++] =
          (gpu_backing_t){.gpa = batch[k].addr, .start = r->backing_len, .len = batch[k].length};
      r->backing_len += batch[k].length;
    }
  }
  return VMX_VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t cmd_resource_attach_backing(vmx_virtio_dev_t *d, gpu_t *g,
                                            const gpu_request_t *req, const vmx_virtq_elem_t *e,
                                            vmx_virtio_gpu_display_info_t *resp) {
  gpu_resource_t *r = resource_find(g, req->attach.resource_id);
  if (!r)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
  uint32_t n = req->attach.nr_entries;
  if (r->has_backing || n == 0 || n > VMX_VIRTIO_GPU_MAX_BACKING)
    return VMX_VIRTIO_GPU_RESP_ERR_UNSPEC;
  uint64_t table = (uint64_t)n * sizeof(gpu_backing_t);
  if (table > g->max_hostmem - g->hostmem)
    return VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
  r->backing = malloc(table);
  if (!r->backing)
    return VMX_VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
  r->backing_cap = n;
  r->has_backing = true;
  g->hostmem += table;
  uint32_t status = backing_load(d, r, e, n);
  if (status != VMX_VIRTIO_GPU_RESP_OK_NODATA)
    backing_free(g, r);
  return status;
}

static uint32_t cmd_resource_detach_backing(vmx_virtio_dev_t *d, gpu_t *g,
                                            const gpu_request_t *req, const vmx_virtq_elem_t *e,
                                            vmx_virtio_gpu_display_info_t *resp) {
  gpu_resource_t *r = resource_find(g, req->resource.resource_id);
  if (!r)
    return VMX_VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
  if (!r->has_backing)
    return VMX_VIRTIO_GPU_RESP_ERR_UNSPEC;
  backing_free(g, r);
  return VMX_VIRTIO_GPU_RESP_OK_NODATA;
}

/* The controlq commands: type, the request struct's size, the handler.
 * Anything else (GET_EDID, capsets, 3D) answers ERR_UNSPEC. */
static const struct gpu_command {
  uint32_t type;
  size_t size;
  gpu_command_fn run;
} gpu_commands[] = {
    {VMX_VIRTIO_GPU_CMD_GET_DISPLAY_INFO, sizeof(vmx_virtio_gpu_hdr_t), cmd_get_display_info},
    {VMX_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, sizeof(vmx_virtio_gpu_resource_create_2d_t),
     cmd_resource_create_2d},
    {VMX_VIRTIO_GPU_CMD_RESOURCE_UNREF, sizeof(vmx_virtio_gpu_resource_cmd_t),
     cmd_resource_unref},
    {VMX_VIRTIO_GPU_CMD_SET_SCANOUT, sizeof(vmx_virtio_gpu_set_scanout_t), cmd_set_scanout},
    {VMX_VIRTIO_GPU_CMD_RESOURCE_FLUSH, sizeof(vmx_virtio_gpu_resource_flush_t),
     cmd_resource_flush},
    {VMX_VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, sizeof(vmx_virtio_gpu_transfer_to_host_2d_t),
     cmd_transfer_to_host_2d},
    {VMX_VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, sizeof(vmx_virtio_gpu_attach_backing_t),
     cmd_resource_attach_backing},
    {VMX_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, sizeof(vmx_virtio_gpu_resource_cmd_t),
     cmd_resource_detach_backing},
};

/* Serves one controlq chain; returns the bytes written into it. */
static uint32_t control_serve(vmx_virtio_dev_t *d, gpu_t *g, const vmx_virtq_elem_t *e) {
  gpu_request_t req;
  memset(&req, 0, sizeof req);
  size_t got = vmx_virtq_read(e, 0, &req, sizeof req);
  vmx_virtio_gpu_display_info_t resp;
  memset(&resp, 0, sizeof resp);
  uint32_t type = VMX_VIRTIO_GPU_RESP_ERR_UNSPEC;
  for (size_t i = 0; i < sizeof gpu_commands / sizeof gpu_commands[0]; i++)
    if (gpu_commands[i].type == req.hdr.type && got >= gpu_commands[i].size)
      type = gpu_commands[i].run(d, g, &req, e, &resp);
  resp.hdr.type = type;
  /* virtio 1.2 5.7.6.7: a fenced request gets the fence back. */
  if (got >= sizeof req.hdr && (req.hdr.flags & VMX_VIRTIO_GPU_FLAG_FENCE)) {
    resp.hdr.flags = req.hdr.flags & (VMX_VIRTIO_GPU_FLAG_FENCE | VMX_VIRTIO_GPU_FLAG_INFO_RING_IDX);
    resp.hdr.fence_id = req.hdr.fence_id;
    resp.hdr.ctx_id = req.hdr.ctx_id;
    if (req.hdr.flags & VMX_VIRTIO_GPU_FLAG_INFO_RING_IDX)
      resp.hdr.ring_idx = req.hdr.ring_idx;
  }
  size_t len = type == VMX_VIRTIO_GPU_RESP_OK_DISPLAY_INFO ? sizeof resp : sizeof resp.hdr;
  return (uint32_t)vmx_virtq_write(e, 0, &resp, len);
}

/* ---- transport callbacks ---- */

static void gpu_notify(vmx_virtio_dev_t *d, unsigned q) {
  gpu_t *g = d->backend;
  while (vmx_virtq_pop(d, q, g->elem) == 1) {
    /* The cursor queue's commands are taken and returned unanswered. */
    uint32_t written = q == VMX_VIRTIO_GPU_CONTROLQ ? control_serve(d, g, g->elem) : 0;
    vmx_virtio_push(d, q, g->elem->head, written, d->generation);
  }
}

static void gpu_reset(vmx_virtio_dev_t *d) {
  gpu_t *g = d->backend;
  resources_clear(g);
  g->events_read = 0;
}

static uint64_t gpu_config_read(vmx_virtio_dev_t *d, uint32_t off, unsigned size) {
  const gpu_t *g = d->backend;
  uint32_t config[GPU_CONFIG_SIZE / 4] = {g->events_read, 0, 1, 0};
  uint64_t val = 0;
  memcpy(&val, (const uint8_t *)config + off, size);
  return val;
}

static void gpu_config_write(vmx_virtio_dev_t *d, uint32_t off, unsigned size, uint64_t val) {
  gpu_t *g = d->backend;
  if (off == 4 && size == 4)   /* events_clear */
    g->events_read &= ~(uint32_t)val;
}

static const vmx_virtio_ops_t gpu_ops = {
    .name = "virtio-gpu",
    .device_id = VMX_VIRTIO_GPU_ID,
    .nqueues = 2,
    .queue_max = 256,
    .features = 0,
    .config_size = GPU_CONFIG_SIZE,
    .config_read = gpu_config_read,
    .config_write = gpu_config_write,
    .notify = gpu_notify,
    .reset = gpu_reset,
};

/* ---- construction, options, screendump ---- */

static int parse_u64(const char *key, const char *text, uint64_t *out, bool suffix, char *err,
                     size_t errlen) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 0);
  unsigned shift = 0;
  if (suffix && *end) {
    const char *units = "KMG";
    const char *u = strchr(units, *end);
    if (u && end[1] == '\0') {
      shift = 10u * (unsigned)(u - units + 1);
      end++;
    }
  }
  if (errno || end == text || *end || text[0] == '-' || v > (UINT64_MAX >> shift)) {
    snprintf(err, errlen, "virtio-gpu: option %s: '%s' is not a number", key, text);
    return VMX_EINVAL;
  }
  *out = (uint64_t)v << shift;
  return 0;
}

static int parse_options(gpu_t *g, const char *options, char *err, size_t errlen) {
  char *copy = strdup(options ? options : "");
  if (!copy)
    return VMX_ENOMEM;
  int rc = 0;
  char *save = NULL;
  for (char *opt = strtok_r(copy, ",", &save); opt && rc == 0; opt = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(opt, '=');
    uint64_t v = 0;
    if (!eq) {
      snprintf(err, errlen, "virtio-gpu: option '%s' needs a value (key=value)", opt);
      rc = VMX_EINVAL;
      break;
    }
    *eq = '\0';
    bool is_size = strcmp(opt, "xres") == 0 || strcmp(opt, "yres") == 0;
    if (!is_size && strcmp(opt, "max_hostmem") != 0) {
      snprintf(err, errlen, "virtio-gpu: unknown option '%s' (xres, yres, max_hostmem)", opt);
      rc = VMX_EINVAL;
    } else if ((rc = parse_u64(opt, eq + 1, &v, !is_size, err, errlen)) != 0) {
    } else if (is_size && (v == 0 || v > GPU_MAX_DIMENSION)) {
      snprintf(err, errlen, "virtio-gpu: %s=%s outside 1..%u", opt, eq + 1, GPU_MAX_DIMENSION);
      rc = VMX_EINVAL;
    } else if (strcmp(opt, "xres") == 0) {
      g->xres = (uint32_t)v;
    } else if (strcmp(opt, "yres") == 0) {
      g->yres = (uint32_t)v;
    } else {
      g->max_hostmem = v;
    }
  }
  free(copy);
  return rc;
}

int vmx_virtio_gpu_create(vmx_virtio_dev_t *d, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, const char *options, char *err,
                          size_t errlen) {
  memset(d, 0, sizeof *d);
  gpu_t *g = calloc(1, sizeof *g);
  vmx_virtq_elem_t *elem = malloc(sizeof *elem);
  if (!g || !elem) {
    free(g);
    free(elem);
    snprintf(err, errlen, "virtio-gpu: out of memory");
    return VMX_ENOMEM;
  }
  *g = (gpu_t){.xres = 1280, .yres = 800, .max_hostmem = VMX_VIRTIO_GPU_DEFAULT_HOSTMEM,
               .elem = elem};
  int rc = parse_options(g, options, err, errlen);
  if (rc != 0) {
    free(elem);
    free(g);
    return rc;
  }
  vmx_virtio_init(d, &gpu_ops, g, ram, io);
  return 0;
}

void vmx_virtio_gpu_destroy(vmx_virtio_dev_t *d) {
  gpu_t *g = d->backend;
  if (!g || d->ops != &gpu_ops)
    return;
  resources_clear(g);
  free(g->res);
  free(g->elem);
  free(g);
  d->backend = NULL;
}

int vmx_virtio_gpu_screendump(vmx_virtio_dev_t *d, const char *path, char *err, size_t errlen) {
  const gpu_t *g = d->backend;
  const gpu_resource_t *r = g ? g->scanout : NULL;
  if (!r) {
    snprintf(err, errlen, "%s: guest has not set up a display", path);
    return VMX_EAGAIN;
  }
  const vmx_virtio_gpu_rect_t *rect = &g->scanout_rect;
  uint8_t *xrgb = malloc((size_t)rect->width * rect->height * 4);
  if (!xrgb) {
    snprintf(err, errlen, "%s: out of memory", path);
    return VMX_ENOMEM;
  }
  const gpu_format_t *f = r->format;
  size_t stride = (size_t)r->width * GPU_BPP;
  for (uint32_t y = 0; y < rect->height; y++) {
    const uint8_t *src = r->pixels + (rect->y + y) * stride + (size_t)rect->x * GPU_BPP;
    uint8_t *dst = xrgb + (size_t)y * rect->width * 4;
    for (uint32_t x = 0; x < rect->width; x++, src += GPU_BPP, dst += 4) {
      dst[0] = src[f->b];
      dst[1] = src[f->g];
      dst[2] = src[f->r];
      dst[3] = 0;
    }
  }
  int rc = vmx_screendump_png(path, xrgb, rect->width, rect->height, (size_t)rect->width * 4,
                              err, errlen);
  free(xrgb);
  return rc;
}

uint64_t vmx_virtio_gpu_flushes(const vmx_virtio_dev_t *d) {
  const gpu_t *g = d->backend;
  return g ? g->flushes : 0;
}

uint64_t vmx_virtio_gpu_hostmem(const vmx_virtio_dev_t *d) {
  const gpu_t *g = d->backend;
  return g ? g->hostmem : 0;
}
