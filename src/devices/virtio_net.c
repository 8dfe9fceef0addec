/* virtio-net over user-mode networking; see virtio_net.h. */
#include "devices/virtio_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "devices/slirp_net.h"

#define NET_RXQ 0u
#define NET_TXQ 1u
#define NET_FRAME_MAX 65535u

typedef struct net_frame {   /* a frame waiting for a receive buffer */
  uint32_t len;
  uint8_t data[];
} net_frame_t;

typedef struct net {
  vmx_virtio_dev_t *dev;
  vmx_slirp_net_t *slirp;
  vmx_virtq_elem_t *rx_elem, *tx_elem;   /* separate: a transmit may receive */
  uint8_t *tx_frame;                     /* NET_FRAME_MAX bytes */
  uint8_t mac[6];
  net_frame_t *backlog[VMX_VIRTIO_NET_RX_BACKLOG];
  unsigned backlog_head, backlog_count;
  vmx_virtio_net_stats_t stats;
} net_t;

typedef enum { NET_DELIVERED, NET_DROPPED, NET_NO_BUFFER } net_deliver_t;

/* Copies one frame into the next receive chain. */
static net_deliver_t net_deliver(net_t *n, const uint8_t *frame, size_t len) {
  vmx_virtio_dev_t *d = n->dev;
  vmx_virtq_elem_t *e = n->rx_elem;
  int r = vmx_virtq_pop(d, NET_RXQ, e);
  if (r == 0)
    return NET_NO_BUFFER;
  if (r < 0) {
    n->stats.rx_dropped++;
    return NET_DROPPED;
  }
  uint32_t written = 0;
  if (vmx_virtq_in_len(e) < VMX_VIRTIO_NET_HDR_SIZE + len) {
    n->stats.rx_dropped++;
  } else {
    /* flags 0, gso_type NONE, hdr_len/gso_size/csum_* 0, num_buffers 1 (le16) */
    uint8_t hdr[VMX_VIRTIO_NET_HDR_SIZE] = {[10] = 1};
    vmx_virtq_write(e, 0, hdr, sizeof hdr);
    vmx_virtq_write(e, sizeof hdr, frame, len);
    written = (uint32_t)(sizeof hdr + len);
    n->stats.rx_frames++;
  }
  vmx_virtio_push(d, NET_RXQ, e->head, written, d->generation);
  return written ? NET_DELIVERED : NET_DROPPED;
}

static void net_backlog_clear(net_t *n) {
  for (; n->backlog_count; n->backlog_count--) {
    free(n->backlog[n->backlog_head]);
    n->backlog_head = (n->backlog_head + 1) % VMX_VIRTIO_NET_RX_BACKLOG;
  }
}

/* Delivers waiting frames, oldest first, while the guest has buffers. */
static void net_backlog_flush(net_t *n) {
  while (n->backlog_count) {
    net_frame_t *f = n->backlog[n->backlog_head];
    if (net_deliver(n, f->data, f->len) == NET_NO_BUFFER)
      return;
    free(f);
    n->backlog_head = (n->backlog_head + 1) % VMX_VIRTIO_NET_RX_BACKLOG;
    n->backlog_count--;
  }
}

static void net_backlog_push(net_t *n, const uint8_t *frame, size_t len) {
  net_frame_t *f = NULL;
  if (n->backlog_count < VMX_VIRTIO_NET_RX_BACKLOG)
    f = malloc(sizeof *f + len);
  if (!f) {
    n->stats.rx_dropped++;
    return;
  }
  f->len = (uint32_t)len;
  memcpy(f->data, frame, len);
  n->backlog[(n->backlog_head + n->backlog_count) % VMX_VIRTIO_NET_RX_BACKLOG] = f;
  n->backlog_count++;
}

/* slirp has a frame for the guest. */
static void net_on_slirp_frame(void *arg, const uint8_t *frame, size_t len) {
  net_t *n = arg;
  if (!vmx_virtq_usable(n->dev, NET_RXQ) || len > NET_FRAME_MAX) {
    n->stats.rx_dropped++;
    return;
  }
  if (n->backlog_count == 0) {
    if (net_deliver(n, frame, len) == NET_NO_BUFFER)
      net_backlog_push(n, frame, len);
    return;
  }
  net_backlog_push(n, frame, len);   /* behind the older ones */
  net_backlog_flush(n);
}

static void net_transmit(net_t *n) {
  vmx_virtio_dev_t *d = n->dev;
  vmx_virtq_elem_t *e = n->tx_elem;
  while (vmx_virtq_pop(d, NET_TXQ, e) == 1) {
    uint16_t head = e->head;
    uint32_t generation = d->generation;
    size_t total = vmx_virtq_out_len(e);
    if (total < VMX_VIRTIO_NET_HDR_SIZE || total - VMX_VIRTIO_NET_HDR_SIZE > NET_FRAME_MAX) {
      n->stats.tx_dropped++;
    } else {
      size_t len = vmx_virtq_read(e, VMX_VIRTIO_NET_HDR_SIZE, n->tx_frame,
                                  total - VMX_VIRTIO_NET_HDR_SIZE);
      n->stats.tx_frames++;
      vmx_slirp_input(n->slirp, n->tx_frame, len);   /* may receive at once */
    }
    vmx_virtio_push(d, NET_TXQ, head, 0, generation);
  }
}

static void net_notify(vmx_virtio_dev_t *d, unsigned q) {
  net_t *n = d->backend;
  if (q == NET_TXQ)
    net_transmit(n);
  else
    net_backlog_flush(n);
}

static void net_reset(vmx_virtio_dev_t *d) {
  net_backlog_clear(d->backend);
}

static uint64_t net_config_read(vmx_virtio_dev_t *d, uint32_t off, unsigned size) {
  net_t *n = d->backend;
  uint8_t cfg[VMX_VIRTIO_NET_CONFIG_SIZE] = {0};
  memcpy(cfg, n->mac, 6);
  cfg[6] = VMX_VIRTIO_NET_S_LINK_UP;   /* status, le16 */
  cfg[8] = 1;                          /* max_virtqueue_pairs, le16 */
  uint64_t v = 0;
  if (off < sizeof cfg && size <= sizeof v)
    memcpy(&v, cfg + off, size < sizeof cfg - off ? size : sizeof cfg - off);
  return v;   /* little-endian host, as the config space */
}

static const vmx_virtio_ops_t net_ops = {
    .name = "virtio-net",
    .device_id = VMX_VIRTIO_NET_ID,
    .nqueues = 2,
    .queue_max = VMX_VIRTIO_NET_QUEUE_MAX,
    .features = (1ull << VMX_VIRTIO_NET_F_MAC) | (1ull << VMX_VIRTIO_NET_F_STATUS),
    .config_size = VMX_VIRTIO_NET_CONFIG_SIZE,
    .config_read = net_config_read,
    .notify = net_notify,
    .reset = net_reset,
};

static void net_free(net_t *n) {
  net_backlog_clear(n);
  free(n->rx_elem);
  free(n->tx_elem);
  free(n->tx_frame);
  free(n);
}

int vmx_virtio_net_create(vmx_virtio_dev_t *d, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, const char *netdev_options, char *err,
                          size_t errlen) {
  static const uint8_t qemu_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  net_t *n = calloc(1, sizeof *n);
  if (n) {
    n->rx_elem = malloc(sizeof *n->rx_elem);
    n->tx_elem = malloc(sizeof *n->tx_elem);
    n->tx_frame = malloc(NET_FRAME_MAX);
  }
  if (!n || !n->rx_elem || !n->tx_elem || !n->tx_frame) {
    if (n)
      net_free(n);
    if (err && errlen)
      snprintf(err, errlen, "virtio-net: out of memory");
    return VMX_ENOMEM;
  }
  memcpy(n->mac, qemu_mac, sizeof n->mac);
  n->dev = d;
  int rc = vmx_slirp_net_create(&n->slirp, loop, netdev_options, net_on_slirp_frame, n, err,
                                errlen);
  if (rc) {
    net_free(n);
    return rc;
  }
  vmx_virtio_init(d, &net_ops, n, ram, io);
  return 0;
}

void vmx_virtio_net_set_mac(vmx_virtio_dev_t *d, const uint8_t mac[6]) {
  net_t *n = d->backend;
  memcpy(n->mac, mac, sizeof n->mac);
}

void vmx_virtio_net_get_stats(const vmx_virtio_dev_t *d, vmx_virtio_net_stats_t *out) {
  const net_t *n = d->backend;
  *out = n->stats;
}

void vmx_virtio_net_destroy(vmx_virtio_dev_t *d) {
  net_t *n = d->backend;
  if (n) {
    vmx_slirp_net_destroy(n->slirp);
    net_free(n);
  }
  d->backend = NULL;
}
