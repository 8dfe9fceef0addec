/* virtio-net (src/devices/virtio_net.c) over user-mode networking, driven the
 * way the Linux driver does it through the virtio-mmio registers over a
 * malloc'ed fake guest RAM: frames go out through the transmit queue with
 * the 12-byte virtio_net_hdr, slirp's answers come back in receive buffers,
 * and frames wait (boundedly) while the guest has posted none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "devices/virtio_net.h"
#include "net_frames.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x100000ull
#define QNUM 64u
#define RING(q, part) (RAM_BASE + 0x3000ull * (q) + 0x1000ull * (part))   /* desc, avail, used */
#define RX_BUF(i) (RAM_BASE + 0x10000ull + 2048ull * (i))
#define TX_BUF(i) (RAM_BASE + 0x60000ull + 2048ull * (i))
#define HDR 12u

typedef struct harness {
  uv_loop_t loop;
  uint8_t *host;
  vmx_guest_ram_t ram;
  vmx_virtio_dev_t dev;
  uint16_t avail_idx[2];
  unsigned next_rx_desc;
  int irq_level, reports;
} harness_t;

static harness_t *H;

static void on_irq(void *arg, bool level) {
  ((harness_t *)arg)->irq_level = level;
}

static void on_report(void *arg, const char *msg) {
  (void)msg;
  ((harness_t *)arg)->reports++;
}

static int setup_with(void **state, const char *options) {
  harness_t *h = calloc(1, sizeof *h);
  h->host = calloc(1, RAM_SIZE);
  h->ram = (vmx_guest_ram_t){.host = h->host, .base = RAM_BASE, .size = RAM_SIZE};
  assert_int_equal(uv_loop_init(&h->loop), 0);
  vmx_virtio_io_t io = {on_irq, on_report, h};
  char err[256] = "";
  if (vmx_virtio_net_create(&h->dev, &h->loop, &h->ram, &io, options, err, sizeof err))
    fail_msg("create(%s): %s", options, err);
  H = h;
  *state = h;
  return 0;
}

static int setup(void **state) {
  return setup_with(state, "user,id=n0");
}

static uint16_t hostfwd_port;

/* A forward from 127.0.0.1:hostfwd_port (a port free a moment ago). */
static int setup_hostfwd(void **state) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  bind(s, (struct sockaddr *)&sa, sizeof sa);
  getsockname(s, (struct sockaddr *)&sa, &sl);
  close(s);
  hostfwd_port = ntohs(sa.sin_port);
  char options[96];
  snprintf(options, sizeof options, "user,hostfwd=tcp:127.0.0.1:%u-:22", hostfwd_port);
  return setup_with(state, options);
}

static int teardown(void **state) {
  harness_t *h = *state;
  vmx_virtio_net_destroy(&h->dev);
  while (uv_run(&h->loop, UV_RUN_NOWAIT))
    ;
  assert_int_equal(uv_loop_close(&h->loop), 0);
  free(h->host);
  free(h);
  return 0;
}

static uint32_t rd(uint64_t off) { return (uint32_t)vmx_virtio_mmio_read(&H->dev, off, 4); }
static void wr(uint64_t off, uint32_t v) { vmx_virtio_mmio_write(&H->dev, off, 4, v); }
static uint8_t *gp(uint64_t gpa) { return H->host + (gpa - RAM_BASE); }

static void queue_setup(unsigned q) {
  wr(VMX_VIRTIO_MMIO_QUEUE_SEL, q);
  assert_int_equal(rd(VMX_VIRTIO_MMIO_QUEUE_NUM_MAX), VMX_VIRTIO_NET_QUEUE_MAX);
  wr(VMX_VIRTIO_MMIO_QUEUE_NUM, QNUM);
  wr(VMX_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RING(q, 0));
  wr(VMX_VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(RING(q, 0) >> 32));
  wr(VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)RING(q, 1));
  wr(VMX_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(RING(q, 1) >> 32));
  wr(VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)RING(q, 2));
  wr(VMX_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(RING(q, 2) >> 32));
  wr(VMX_VIRTIO_MMIO_QUEUE_READY, 1);
}

/* Linux's virtnet_probe order: reset, ACK, DRIVER, features, FEATURES_OK,
 * queues, DRIVER_OK. */
static void driver_up(void) {
  memset(H->host, 0, 0x6000);
  H->avail_idx[0] = H->avail_idx[1] = 0;
  H->next_rx_desc = 0;
  uint64_t features = (1ull << VMX_VIRTIO_F_VERSION_1) | (1ull << VMX_VIRTIO_NET_F_MAC) |
                      (1ull << VMX_VIRTIO_NET_F_STATUS);
  wr(VMX_VIRTIO_MMIO_STATUS, 0);
  wr(VMX_VIRTIO_MMIO_STATUS, VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  wr(VMX_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
  uint32_t st = VMX_VIRTIO_S_ACKNOWLEDGE | VMX_VIRTIO_S_DRIVER | VMX_VIRTIO_S_FEATURES_OK;
  wr(VMX_VIRTIO_MMIO_STATUS, st);
  assert_true(rd(VMX_VIRTIO_MMIO_STATUS) & VMX_VIRTIO_S_FEATURES_OK);
  queue_setup(0);
  queue_setup(1);
  wr(VMX_VIRTIO_MMIO_STATUS, st | VMX_VIRTIO_S_DRIVER_OK);
}

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next) {
  uint8_t *p = gp(RING(q, 0)) + 16 * i;
  memcpy(p, &addr, 8);
  memcpy(p + 8, &len, 4);
  memcpy(p + 12, &flags, 2);
  memcpy(p + 14, &next, 2);
}

static void avail_add(unsigned q, uint16_t head) {
  memcpy(gp(RING(q, 1)) + 4 + 2 * (H->avail_idx[q] % QNUM), &head, 2);
  H->avail_idx[q]++;
  memcpy(gp(RING(q, 1)) + 2, &H->avail_idx[q], 2);
}

static uint16_t used_idx(unsigned q) {
  uint16_t v;
  memcpy(&v, gp(RING(q, 2)) + 2, 2);
  return v;
}

static void used_elem(unsigned q, unsigned i, uint32_t *id, uint32_t *len) {
  memcpy(id, gp(RING(q, 2)) + 4 + 8 * (i % QNUM), 4);
  memcpy(len, gp(RING(q, 2)) + 8 + 8 * (i % QNUM), 4);
}

/* Posts n receive buffers of `size` bytes (one descriptor each) and kicks. */
static void post_rx(unsigned n, uint32_t size) {
  for (unsigned k = 0; k < n; k++) {
    unsigned i = H->next_rx_desc++ % QNUM;
    put_desc(0, i, RX_BUF(i), size, VMX_VIRTQ_DESC_F_WRITE, 0);
    avail_add(0, (uint16_t)i);
  }
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

/* Sends one frame as Linux does without offloads: the header and the frame
 * in two descriptors of one chain. */
static void send_frame(const uint8_t *frame, size_t len) {
  unsigned slot = (H->avail_idx[1] % (QNUM / 2)) * 2;
  memset(gp(TX_BUF(slot)), 0, HDR);
  memcpy(gp(TX_BUF(slot + 1)), frame, len);
  put_desc(1, slot, TX_BUF(slot), HDR, VMX_VIRTQ_DESC_F_NEXT, (uint16_t)(slot + 1));
  put_desc(1, slot + 1, TX_BUF(slot + 1), (uint32_t)len, 0, 0);
  avail_add(1, (uint16_t)slot);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
}

static void send_arp_request(void) {
  uint8_t frame[64];
  send_frame(frame, net_build_arp_request(frame, NET_GUEST_IP, NET_GATEWAY_IP));
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* Runs the device loop until `want` receive buffers are used or 2 s pass. */
static void run_until_rx_used(uint16_t want) {
  uv_timer_t tick;
  uv_timer_init(&H->loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);
  uint64_t deadline = uv_hrtime() + 2000000000ull;
  while (used_idx(0) < want && uv_hrtime() < deadline)
    uv_run(&H->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&H->loop, UV_RUN_NOWAIT);
}

/* The frame in used receive element i, after checking its header. */
static const uint8_t *rx_frame(unsigned i, size_t *len) {
  uint32_t id, used_len;
  used_elem(0, i, &id, &used_len);
  assert_true(used_len > HDR);
  const uint8_t *hdr = gp(RX_BUF(id));
  static const uint8_t want_hdr[HDR] = {[10] = 1};   /* no offloads, num_buffers 1 */
  assert_memory_equal(hdr, want_hdr, HDR);
  *len = used_len - HDR;
  return hdr + HDR;
}

static vmx_virtio_net_stats_t stats(void) {
  vmx_virtio_net_stats_t s;
  vmx_virtio_net_get_stats(&H->dev, &s);
  return s;
}

/* ---- tests ---- */

static void test_identity_features_and_config(void **state) {
  (void)state;
  assert_int_equal(rd(VMX_VIRTIO_MMIO_DEVICE_ID), VMX_VIRTIO_NET_ID);
  wr(VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  uint32_t f = rd(VMX_VIRTIO_MMIO_DEVICE_FEATURES);
  assert_true(f & (1u << VMX_VIRTIO_NET_F_MAC));
  assert_true(f & (1u << VMX_VIRTIO_NET_F_STATUS));
  assert_false(f & (1u << VMX_VIRTIO_NET_F_MRG_RXBUF));
  assert_false(f & 0x3fffu & ~(1u << VMX_VIRTIO_NET_F_MAC));   /* no offloads */
  for (unsigned i = 0; i < 6; i++)
    assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x100 + i, 1), NET_GUEST_MAC[i]);
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x106, 2), VMX_VIRTIO_NET_S_LINK_UP);
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x100, 4), 0x12005452u);
  static const uint8_t other[6] = {2, 0, 0, 0, 0, 9};
  vmx_virtio_net_set_mac(&H->dev, other);
  assert_int_equal(vmx_virtio_mmio_read(&H->dev, 0x105, 1), 9);
}

static void test_dhcp_discover_through_transmitq_gets_offer_in_a_receive_buffer(void **s) {
  (void)s;
  driver_up();
  post_rx(8, 2048);
  uint8_t frame[1024];
  send_frame(frame, net_build_dhcp_discover(frame, 0xabcdef01u));
  assert_int_equal(used_idx(1), 1);   /* the transmit chain came back */
  uint32_t id, len32;
  used_elem(1, 0, &id, &len32);
  assert_int_equal(id, 0);
  assert_int_equal(len32, 0);
  run_until_rx_used(1);
  assert_true(used_idx(0) >= 1);
  size_t len;
  const uint8_t *offer = rx_frame(0, &len);
  const uint8_t *bootp = net_udp_payload(offer, len, NET_PORT_BOOTPS, NET_PORT_BOOTPC);
  assert_non_null(bootp);
  assert_int_equal(bootp[0], 2);                       /* BOOTREPLY */
  assert_int_equal(net_be32(bootp + 4), 0xabcdef01u);  /* our xid */
  assert_memory_equal(bootp + 16, NET_GUEST_IP, 4);    /* yiaddr 10.0.2.15 */
  assert_int_equal(net_dhcp_message_type(bootp, len - (size_t)(bootp - offer)), NET_DHCP_OFFER);
  assert_int_equal(stats().tx_frames, 1);
  assert_true(H->irq_level);
  assert_int_equal(H->reports, 0);
}

static void test_frames_wait_for_receive_buffers_until_the_kick(void **state) {
  (void)state;
  driver_up();
  send_arp_request();   /* slirp answers at once, but there is no buffer */
  assert_int_equal(used_idx(0), 0);
  assert_int_equal(stats().rx_frames, 0);
  assert_int_equal(stats().rx_dropped, 0);
  post_rx(2, 2048);
  assert_int_equal(used_idx(0), 1);
  size_t len;
  const uint8_t *reply = rx_frame(0, &len);
  assert_int_equal(net_be16(reply + 12), NET_ETH_ARP);
  assert_int_equal(net_be16(reply + 20), 2);             /* ARP reply */
  assert_memory_equal(reply + 28, NET_GATEWAY_IP, 4);
  assert_int_equal(stats().rx_frames, 1);
}

static void test_waiting_frames_are_bounded_and_delivered_after_the_kick(void **state) {
  (void)state;
  driver_up();
  unsigned sent = VMX_VIRTIO_NET_RX_BACKLOG + 44;
  for (unsigned i = 0; i < sent; i++)
    send_arp_request();
  assert_int_equal(used_idx(1), sent & 0xffff);
  assert_int_equal(stats().rx_dropped, 44);
  post_rx(QNUM, 2048);
  assert_int_equal(used_idx(0), QNUM);
  for (unsigned i = 0; i < QNUM; i++) {
    size_t len;
    const uint8_t *reply = rx_frame(i, &len);
    assert_int_equal(net_be16(reply + 20), 2);
  }
  assert_int_equal(stats().rx_frames, QNUM);
}

static void test_reset_drops_waiting_frames(void **state) {
  (void)state;
  driver_up();
  send_arp_request();
  send_arp_request();
  driver_up();   /* writes 0 to Status first */
  post_rx(4, 2048);
  assert_int_equal(used_idx(0), 0);
  send_arp_request();
  assert_int_equal(used_idx(0), 1);
}

static void test_frame_larger_than_the_buffer_is_dropped(void **state) {
  (void)state;
  driver_up();
  post_rx(1, HDR + 20);
  send_arp_request();   /* a 42-byte reply */
  assert_int_equal(used_idx(0), 1);
  uint32_t id, len;
  used_elem(0, 0, &id, &len);
  assert_int_equal(len, 0);
  assert_int_equal(stats().rx_dropped, 1);
}

/* With no driver, what slirp sends (here its ARP request for the guest,
 * caused by a connection to a forwarded port) is dropped and counted. */
static void test_frames_before_driver_ok_are_dropped(void **state) {
  (void)state;
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(hostfwd_port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  connect(c, (struct sockaddr *)&sa, sizeof sa);
  uv_timer_t tick;
  uv_timer_init(&H->loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);
  uint64_t deadline = uv_hrtime() + 2000000000ull;
  while (stats().rx_dropped == 0 && uv_hrtime() < deadline)
    uv_run(&H->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&H->loop, UV_RUN_NOWAIT);
  assert_true(stats().rx_dropped >= 1);
  assert_int_equal(stats().rx_frames, 0);
  close(c);
}

static void test_a_short_transmit_chain_is_returned_unsent(void **state) {
  (void)state;
  driver_up();
  put_desc(1, 0, TX_BUF(0), HDR - 2, 0, 0);
  avail_add(1, 0);
  wr(VMX_VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  assert_int_equal(used_idx(1), 1);
  assert_int_equal(stats().tx_dropped, 1);
  assert_int_equal(stats().tx_frames, 0);
}

static void test_bad_netdev_options_fail_creation(void **state) {
  (void)state;
  vmx_virtio_dev_t d;
  char err[256] = "";
  assert_int_equal(vmx_virtio_net_create(&d, &H->loop, &H->ram, NULL, "user,bogus=1", err,
                                         sizeof err), VMX_EINVAL);
  assert_non_null(strstr(err, "'bogus'"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_identity_features_and_config, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_dhcp_discover_through_transmitq_gets_offer_in_a_receive_buffer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_frames_wait_for_receive_buffers_until_the_kick, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_waiting_frames_are_bounded_and_delivered_after_the_kick,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_drops_waiting_frames, setup, teardown),
      cmocka_unit_test_setup_teardown(test_frame_larger_than_the_buffer_is_dropped, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_frames_before_driver_ok_are_dropped, setup_hostfwd,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_a_short_transmit_chain_is_returned_unsent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bad_netdev_options_fail_creation, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
