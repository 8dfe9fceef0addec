/* Hand-built Ethernet frames for the network tests (test_slirp_net.c,
 * test_virtio_net.c): what a guest on slirp's default network
 * (10.0.2.0/24, guest 10.0.2.15 with QEMU's MAC 52:54:00:12:34:56, gateway
 * 10.0.2.2) sends, and accessors for what slirp sends back. */
#ifndef VMX_TESTS_NET_FRAMES_H
#define VMX_TESTS_NET_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const uint8_t NET_GUEST_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t NET_SLIRP_MAC[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
static const uint8_t NET_GUEST_IP[4] = {10, 0, 2, 15};
static const uint8_t NET_GATEWAY_IP[4] = {10, 0, 2, 2};

enum {
  NET_ETH_IP = 0x0800,
  NET_ETH_ARP = 0x0806,
  NET_PORT_BOOTPS = 67,
  NET_PORT_BOOTPC = 68,
  NET_BOOTP_OPTIONS = 240,   /* fixed BOOTP fields (236) + magic cookie */
  NET_BOOTP_SIZE = 548,      /* fixed fields + the 312-byte options area */
  NET_DHCP_DISCOVER = 1,
  NET_DHCP_OFFER = 2,
  NET_TCP_SYN = 0x02,
  NET_TCP_PSH = 0x08,
  NET_TCP_RST = 0x04,
  NET_TCP_ACK = 0x10,
};

static inline uint16_t net_be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t net_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void net_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void net_put32(uint8_t *p, uint32_t v) {
  net_put16(p, (uint16_t)(v >> 16));
  net_put16(p + 2, (uint16_t)v);
}

/* RFC 1071 sum, folded but not complemented. */
static inline uint32_t net_sum(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2)
    sum += net_be16(p + i);
  if (n & 1)
    sum += (uint32_t)p[n - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

static inline size_t net_eth(uint8_t *p, const uint8_t *dst, uint16_t type) {
  memcpy(p, dst, 6);
  memcpy(p + 6, NET_GUEST_MAC, 6);
  net_put16(p + 12, type);
  return 14;
}

/* An IPv4 header without options, checksummed. */
static inline size_t net_ipv4(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                              size_t payload) {
  memset(p, 0, 20);
  p[0] = 0x45;
  net_put16(p + 2, (uint16_t)(20 + payload));
  p[8] = 64;
  p[9] = proto;
  memcpy(p + 12, src, 4);
  memcpy(p + 16, dst, 4);
  net_put16(p + 10, (uint16_t)~net_sum(p, 20, 0));
  return 20;
}

static inline size_t net_build_arp_request(uint8_t *p, const uint8_t *sender_ip,
                                           const uint8_t *target_ip) {
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  size_t n = net_eth(p, bcast, NET_ETH_ARP);
  uint8_t *a = p + n;
  net_put16(a, 1);            /* Ethernet */
  net_put16(a + 2, 0x0800);   /* IPv4 */
  a[4] = 6;
  a[5] = 4;
  net_put16(a + 6, 1);        /* request */
  memcpy(a + 8, NET_GUEST_MAC, 6);
  memcpy(a + 14, sender_ip, 4);
  memset(a + 18, 0, 6);
  memcpy(a + 24, target_ip, 4);
  memset(a + 28, 0, 14);      /* pad to the 60-byte minimum frame */
  return 60;
}

/* DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67 (UDP checksum 0). */
static inline size_t net_build_dhcp_discover(uint8_t *p, uint32_t xid) {
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t any[4] = {0, 0, 0, 0}, all[4] = {255, 255, 255, 255};
  size_t n = net_eth(p, bcast, NET_ETH_IP);
  n += net_ipv4(p + n, any, all, 17, 8 + NET_BOOTP_SIZE);
  uint8_t *u = p + n;
  net_put16(u, NET_PORT_BOOTPC);
  net_put16(u + 2, NET_PORT_BOOTPS);
  net_put16(u + 4, 8 + NET_BOOTP_SIZE);
  net_put16(u + 6, 0);
  uint8_t *b = u + 8;
  memset(b, 0, NET_BOOTP_SIZE);
  b[0] = 1;                   /* BOOTREQUEST */
  b[1] = 1;                   /* Ethernet */
  b[2] = 6;
  net_put32(b + 4, xid);
  memcpy(b + 28, NET_GUEST_MAC, 6);   /* chaddr */
  static const uint8_t opts[] = {99, 130, 83, 99,            /* magic cookie */
                                 53, 1, NET_DHCP_DISCOVER,   /* message type */
                                 55, 3, 1, 3, 6,             /* mask, router, dns */
                                 255};
  memcpy(b + 236, opts, sizeof opts);
  return n + 8 + NET_BOOTP_SIZE;
}

/* A TCP segment (no options) with `payload` bytes, checksummed. */
static inline size_t net_build_tcp(uint8_t *p, const uint8_t *src, const uint8_t *dst,
                                   uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                                   uint32_t ack, const void *payload, size_t n) {
  size_t off = net_eth(p, NET_SLIRP_MAC, NET_ETH_IP);
  off += net_ipv4(p + off, src, dst, 6, 20 + n);
  uint8_t *t = p + off;
  memset(t, 0, 20);
  net_put16(t, sport);
  net_put16(t + 2, dport);
  net_put32(t + 4, seq);
  net_put32(t + 8, ack);
  t[12] = 5 << 4;
  t[13] = flags;
  net_put16(t + 14, 65535);
  memcpy(t + 20, payload, n);
  uint8_t pseudo[12];
  memcpy(pseudo, src, 4);
  memcpy(pseudo + 4, dst, 4);
  pseudo[8] = 0;
  pseudo[9] = 6;
  net_put16(pseudo + 10, (uint16_t)(20 + n));
  net_put16(t + 16, (uint16_t)~net_sum(t, 20 + n, net_sum(pseudo, 12, 0)));
  return off + 20 + n;
}

static inline size_t net_build_tcp_syn(uint8_t *p, const uint8_t *src, const uint8_t *dst,
                                       uint16_t sport, uint16_t dport, uint32_t seq) {
  return net_build_tcp(p, src, dst, sport, dport, NET_TCP_SYN, seq, 0, "", 0);
}

/* The IPv4 header of an Ethernet frame, or NULL. */
static inline const uint8_t *net_ipv4_header(const uint8_t *p, size_t len, uint8_t proto) {
  if (len < 34 || net_be16(p + 12) != NET_ETH_IP || (p[14] >> 4) != 4 || p[14 + 9] != proto)
    return NULL;
  size_t ihl = (size_t)(p[14] & 15) * 4;
  return len >= 14 + ihl + 8 ? p + 14 : NULL;
}

static inline const uint8_t *net_udp_payload(const uint8_t *p, size_t len, uint16_t sport,
                                             uint16_t dport) {
  const uint8_t *ip = net_ipv4_header(p, len, 17);
  if (!ip)
    return NULL;
  const uint8_t *u = ip + (ip[0] & 15) * 4;
  return net_be16(u) == sport && net_be16(u + 2) == dport ? u + 8 : NULL;
}

static inline const uint8_t *net_tcp_header(const uint8_t *p, size_t len) {
  const uint8_t *ip = net_ipv4_header(p, len, 6);
  if (!ip || len < 14 + (size_t)(ip[0] & 15) * 4 + 20)
    return NULL;
  return ip + (ip[0] & 15) * 4;
}

/* Option 53 of a DHCP message of len bytes, or 0. */
static inline int net_dhcp_message_type(const uint8_t *b, size_t len) {
  for (size_t i = NET_BOOTP_OPTIONS; i + 1 < len && b[i] != 255;) {
    if (b[i] == 0) {
      i++;
      continue;
    }
    if (b[i] == 53 && i + 2 < len)
      return b[i + 2];
    i += 2 + (size_t)b[i + 1];
  }
  return 0;
}

#endif
