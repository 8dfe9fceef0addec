/* virtio-net (virtio 1.2, 5.1): device id 1, the guest's Ethernet card, backed
 * by user-mode networking (devices/slirp_net.h).
 *
 * Queues: 0 receiveq, 1 transmitq (no control queue, no multiqueue).
 * Features offered: VIRTIO_NET_F_MAC (QEMU's default 52:54:00:12:34:56) and
 * VIRTIO_NET_F_STATUS (the link is always up); no offloads and no
 * MRG_RXBUF, so the guest posts receive buffers that each hold a whole frame
 * (Linux's "small" buffers, 1518 bytes plus the header).
 * Config space: mac[6], status (le16, LINK_UP), max_virtqueue_pairs (le16, 1).
 *
 * Every frame, both ways, is prefixed with the 12-byte virtio_net_hdr of
 * VERSION_1 (the transport insists on it): flags 0, gso_type NONE,
 * num_buffers 1 on receive.
 *   - Transmit: a kick of queue 1 pops every chain, strips the header, hands
 *     the frame to slirp and returns the chain. Chains shorter than the
 *     header or longer than header + 65535 are returned unsent (tx_dropped).
 *   - Receive: a frame from slirp goes into the next receive chain at once.
 *     When the guest has posted none, up to VMX_VIRTIO_NET_RX_BACKLOG frames
 *     wait (in order) until it kicks queue 0; beyond that, and while the
 *     driver is not ready, frames are dropped (rx_dropped), as a full NIC
 *     ring would drop them; TCP retransmits. A chain too small for its frame
 *     is returned with 0 bytes written and the frame dropped.
 *   - Reset drops the waiting frames.
 *
 * Thread-safety: none; the device loop's thread owns the device, the
 * transport and the slirp stack.
 */
#ifndef VMX_DEVICES_VIRTIO_NET_H
#define VMX_DEVICES_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "devices/virtio.h"

#define VMX_VIRTIO_NET_ID 1u
#define VMX_VIRTIO_NET_QUEUE_MAX 256u
#define VMX_VIRTIO_NET_RX_BACKLOG 256u   /* frames held while no receive buffer */
#define VMX_VIRTIO_NET_HDR_SIZE 12u      /* struct virtio_net_hdr with VERSION_1 */
#define VMX_VIRTIO_NET_CONFIG_SIZE 10u

/* Feature bits (virtio 1.2, 5.1.3) and config status bits. */
#define VMX_VIRTIO_NET_F_MAC 5
#define VMX_VIRTIO_NET_F_MRG_RXBUF 15
#define VMX_VIRTIO_NET_F_STATUS 16
#define VMX_VIRTIO_NET_S_LINK_UP 1u

typedef struct vmx_virtio_net_stats {
  uint64_t tx_frames;    /* frames the guest sent, handed to slirp */
  uint64_t tx_dropped;   /* malformed transmit chains */
  uint64_t rx_frames;    /* frames written into receive buffers */
  uint64_t rx_dropped;   /* backlog full, driver not ready, or buffer too small */
} vmx_virtio_net_stats_t;

/* Makes d a virtio-net device over ram with transport io, and starts a slirp
 * stack on `loop` from netdev_options (the `-netdev user,...` string, see
 * slirp_net.h). Returns 0, or a negative VMX_E* code with a message in err
 * (bad options, a busy forwarded port, no memory). Undo with
 * vmx_virtio_net_destroy. */
int vmx_virtio_net_create(vmx_virtio_dev_t *d, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, const char *netdev_options, char *err,
                          size_t errlen);

/* Sets the MAC address the config space shows (before the guest looks). */
void vmx_virtio_net_set_mac(vmx_virtio_dev_t *d, const uint8_t mac[6]);

/* Counters since creation. */
void vmx_virtio_net_get_stats(const vmx_virtio_dev_t *d, vmx_virtio_net_stats_t *out);

/* Stops the slirp stack and frees the device's state; the slirp stack's
 * handles are freed by the next run of `loop` (see vmx_slirp_net_destroy).
 * d may then be reused. */
void vmx_virtio_net_destroy(vmx_virtio_dev_t *d);

#endif
