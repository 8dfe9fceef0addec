/* virtio-console; see virtio_console.h. */
#include "devices/virtio_console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define RECEIVEQ 0u
#define TRANSMITQ 1u

typedef struct console {
  vmx_virtio_console_io_t cio;
  vmx_virtq_elem_t *elem; /* 16 KiB: one chain at a time */
} console_t;

/* struct virtio_console_config (5.3.4): cols, rows, max_nr_ports, emerg_wr. */
#define CONFIG_SIZE 12u
#define CONFIG_EMERG_WR 8u

static void console_tx_chain(console_t *c, const vmx_virtq_elem_t *e) {
  uint8_t buf[256];
  size_t off = 0, n;
  while ((n = vmx_virtq_read(e, off, buf, sizeof buf)) > 0) {
    if (c->cio.tx)
      c->cio.tx(c->cio.arg, buf, n);
    off += n;
  }
}

static void console_notify(vmx_virtio_dev_t *d, unsigned q) {
  console_t *c = d->backend;
  if (q == RECEIVEQ) {
    if (c->cio.rx_ready)
      c->cio.rx_ready(c->cio.arg);
    return;
  }
  while (vmx_virtq_pop(d, q, c->elem) == 1) {
    console_tx_chain(c, c->elem);
    vmx_virtio_push(d, q, c->elem->head, 0, d->generation);
  }
}

static void console_driver_ok(vmx_virtio_dev_t *d) {
  console_t *c = d->backend;
  if (c->cio.rx_ready)
    c->cio.rx_ready(c->cio.arg);
}

static uint64_t console_config_read(vmx_virtio_dev_t *d, uint32_t off, unsigned size) {
  uint8_t cfg[CONFIG_SIZE] = {0};
  uint16_t cols = VMX_VIRTIO_CONSOLE_COLS, rows = VMX_VIRTIO_CONSOLE_ROWS;
  uint32_t ports = 1;
  memcpy(cfg, &cols, 2);
  memcpy(cfg + 2, &rows, 2);
  memcpy(cfg + 4, &ports, 4);
  uint64_t v = 0;
  memcpy(&v, cfg + off, size); /* the transport keeps off + size <= CONFIG_SIZE */
  return v;
}

static void console_config_write(vmx_virtio_dev_t *d, uint32_t off, unsigned size,
                                 uint64_t val) {
  console_t *c = d->backend;
  if (off != CONFIG_EMERG_WR || size != 4 ||
      !vmx_virtio_has_feature(d, VMX_VIRTIO_CONSOLE_F_EMERG_WRITE))
    return;
  uint8_t byte = (uint8_t)val;
  if (c->cio.tx)
    c->cio.tx(c->cio.arg, &byte, 1);
}

static const vmx_virtio_ops_t console_ops = {
    .name = "virtio-console",
    .device_id = 3,
    .nqueues = 2,
    .queue_max = VMX_VIRTIO_CONSOLE_QUEUE_MAX,
    .features = (1ull << VMX_VIRTIO_CONSOLE_F_SIZE) | (1ull << VMX_VIRTIO_CONSOLE_F_EMERG_WRITE),
    .config_size = CONFIG_SIZE,
    .config_read = console_config_read,
    .config_write = console_config_write,
    .notify = console_notify,
    .driver_ok = console_driver_ok,
};

int vmx_virtio_console_create(vmx_virtio_dev_t *d, const vmx_guest_ram_t *ram,
                              const vmx_virtio_io_t *io, const vmx_virtio_console_io_t *cio,
                              char *err, size_t errlen) {
  console_t *c = calloc(1, sizeof *c);
  if (c)
    c->elem = malloc(sizeof *c->elem);
  if (c == NULL || c->elem == NULL) {
    free(c);
    if (err && errlen)
      snprintf(err, errlen, "virtio-console: out of memory");
    return VMX_ENOMEM;
  }
  if (cio)
    c->cio = *cio;
  vmx_virtio_init(d, &console_ops, c, ram, io);
  return 0;
}

void vmx_virtio_console_destroy(vmx_virtio_dev_t *d) {
  console_t *c = d->backend;
  if (c) {
    free(c->elem);
    free(c);
  }
  d->backend = NULL;
}

size_t vmx_virtio_console_rx(vmx_virtio_dev_t *d, const uint8_t *buf, size_t n) {
  console_t *c = d->backend;
  size_t done = 0;
  while (done < n && vmx_virtq_pop(d, RECEIVEQ, c->elem) == 1) {
    size_t k = vmx_virtq_write(c->elem, 0, buf + done, n - done);
    done += k;
    vmx_virtio_push(d, RECEIVEQ, c->elem->head, (uint32_t)k, d->generation);
  }
  return done;
}

bool vmx_virtio_console_rx_room(vmx_virtio_dev_t *d) {
  if (!vmx_virtq_usable(d, RECEIVEQ) || d->q[RECEIVEQ].broken)
    return false;
  const vmx_virtq_t *vq = &d->q[RECEIVEQ];
  const uint8_t *avail = vmx_guest_ram_ptr(&d->ram, vq->avail, 4);
  if (avail == NULL)
    return false;
  uint16_t idx = __atomic_load_n((const uint16_t *)(avail + 2), __ATOMIC_ACQUIRE);
  return idx != vq->last_avail;
}
