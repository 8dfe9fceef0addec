/* User-mode networking (src/devices/slirp_net.c): libslirp on a libuv loop
 * answers DHCP and ARP, connects the guest's TCP to the host's loopback,
 * forwards host ports into the guest, and rejects bad options clearly.
 * Frames are built by hand, as a guest's network stack would send them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "devices/slirp_net.h"
#include "net_frames.h"

#define MAX_FRAMES 64

typedef struct fixture {
  uv_loop_t loop;
  vmx_slirp_net_t *net;
  uint8_t frame[MAX_FRAMES][2048];
  size_t len[MAX_FRAMES];
  unsigned nframes;
} fixture_t;

static void on_rx(void *arg, const uint8_t *frame, size_t len) {
  fixture_t *f = arg;
  if (f->nframes < MAX_FRAMES && len <= sizeof f->frame[0]) {
    memcpy(f->frame[f->nframes], frame, len);
    f->len[f->nframes++] = len;
  }
}

static fixture_t *fixture_new(const char *options) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  char err[256] = "";
  int rc = vmx_slirp_net_create(&f->net, &f->loop, options, on_rx, f, err, sizeof err);
  if (rc)
    fail_msg("create(%s): %s", options, err);
  return f;
}

static void fixture_free(fixture_t *f) {
  vmx_slirp_net_destroy(f->net);
  while (uv_run(&f->loop, UV_RUN_NOWAIT))
    ;
  uv_run(&f->loop, UV_RUN_NOWAIT);   /* close callbacks of unreferenced handles */
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

static void on_tick(uv_timer_t *t) {
  (void)t;
}

/* Runs the loop until done(f, ctx) holds or 2 s pass; returns done's value. */
static bool run_until(fixture_t *f, bool (*done)(fixture_t *, void *), void *ctx) {
  uv_timer_t tick;
  uv_timer_init(&f->loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);
  uint64_t deadline = uv_hrtime() + 2000000000ull;
  bool ok;
  while (!(ok = done(f, ctx)) && uv_hrtime() < deadline)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  return ok;
}

/* ---- finding replies ---- */

static const uint8_t *find_frame(fixture_t *f, bool (*match)(const uint8_t *, size_t, void *),
                                 void *ctx, size_t *len) {
  for (unsigned i = 0; i < f->nframes; i++) {
    if (match(f->frame[i], f->len[i], ctx)) {
      if (len)
        *len = f->len[i];
      return f->frame[i];
    }
  }
  return NULL;
}

typedef struct frame_query {
  bool (*match)(const uint8_t *, size_t, void *);
  void *ctx;
} frame_query_t;

static bool have_frame(fixture_t *f, void *ctx) {
  frame_query_t *q = ctx;
  return find_frame(f, q->match, q->ctx, NULL) != NULL;
}

static const uint8_t *wait_frame(fixture_t *f, bool (*match)(const uint8_t *, size_t, void *),
                                 void *ctx, size_t *len) {
  frame_query_t q = {match, ctx};
  run_until(f, have_frame, &q);
  return find_frame(f, match, ctx, len);
}

static bool is_dhcp_offer(const uint8_t *p, size_t len, void *ctx) {
  uint32_t want = *(uint32_t *)ctx;
  const uint8_t *b = net_udp_payload(p, len, NET_PORT_BOOTPS, NET_PORT_BOOTPC);
  if (!b || len < (size_t)(b - p) + NET_BOOTP_OPTIONS + 3 || b[0] != 2)
    return false;
  uint32_t yiaddr;
  memcpy(&yiaddr, b + 16, 4);
  return yiaddr == want && net_dhcp_message_type(b, len - (size_t)(b - p)) == NET_DHCP_OFFER;
}

static bool is_arp_reply_from_gateway(const uint8_t *p, size_t len, void *ctx) {
  (void)ctx;
  return len >= 42 && net_be16(p + 12) == NET_ETH_ARP && net_be16(p + 20) == 2 &&
         !memcmp(p + 28, NET_GATEWAY_IP, 4) && !memcmp(p + 38, NET_GUEST_IP, 4) &&
         !memcmp(p + 32, NET_GUEST_MAC, 6) && !memcmp(p, NET_GUEST_MAC, 6);
}

typedef struct tcp_query {
  uint16_t sport, dport;
  uint8_t flags;   /* exact SYN/ACK/RST bits wanted */
} tcp_query_t;

static bool is_tcp(const uint8_t *p, size_t len, void *ctx) {
  tcp_query_t *q = ctx;
  const uint8_t *t = net_tcp_header(p, len);
  return t && net_be16(t) == q->sport && net_be16(t + 2) == q->dport &&
         (t[13] & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) == q->flags;
}

typedef struct data_query {
  tcp_query_t *tcp;
  const char *payload;
} data_query_t;

static bool is_tcp_with_data(const uint8_t *p, size_t len, void *ctx) {
  data_query_t *q = ctx;
  if (!is_tcp(p, len, q->tcp))
    return false;
  const uint8_t *ip = p + 14, *t = net_tcp_header(p, len);
  size_t hl = (size_t)(t[12] >> 4) * 4, n = strlen(q->payload);
  size_t total = net_be16(ip + 2) - (size_t)(ip[0] & 15) * 4 - hl;
  return total == n && !memcmp(t + hl, q->payload, n);
}

/* A SYN from slirp's side towards guest port 2222 (any source port). */
static bool is_syn_to_guest_port(const uint8_t *p, size_t len, void *ctx) {
  (void)ctx;
  const uint8_t *t = net_tcp_header(p, len);
  return t && net_be16(t + 2) == 2222 &&
         (t[13] & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) == NET_TCP_SYN;
}

/* ---- host sockets ---- */

static int listen_on(uint32_t addr, uint16_t *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  assert_true(s >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(addr)};
  sa.sin_port = htons(*port);
  assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(s, 4), 0);
  socklen_t sl = sizeof sa;
  getsockname(s, (struct sockaddr *)&sa, &sl);
  *port = ntohs(sa.sin_port);
  return s;
}

static uint16_t free_port(void) {
  uint16_t port = 0;
  close(listen_on(INADDR_LOOPBACK, &port));
  return port;
}

typedef struct accept_ctx {
  int listener, conn;
} accept_ctx_t;

static bool accepted(fixture_t *f, void *ctx) {
  (void)f;
  accept_ctx_t *a = ctx;
  if (a->conn < 0)
    a->conn = accept(a->listener, NULL, NULL);
  return a->conn >= 0;
}

typedef struct read_ctx {
  int fd;
  char buf[16];
  size_t n;
} read_ctx_t;

static bool read_some(fixture_t *f, void *ctx) {
  (void)f;
  read_ctx_t *r = ctx;
  ssize_t got = recv(r->fd, r->buf + r->n, sizeof r->buf - r->n, MSG_DONTWAIT);
  if (got > 0)
    r->n += (size_t)got;
  return r->n >= 5;
}

/* An ARP request from the guest teaches slirp the guest's MAC, which it needs
 * before it sends anything but DHCP replies to 10.0.2.15. */
static void guest_arps_for_gateway(fixture_t *f) {
  uint8_t frame[64];
  size_t n = net_build_arp_request(frame, NET_GUEST_IP, NET_GATEWAY_IP);
  vmx_slirp_input(f->net, frame, n);
  assert_non_null(wait_frame(f, is_arp_reply_from_gateway, NULL, NULL));
}

/* ---- tests ---- */

static void test_dhcp_discover_gets_an_offer_for_10_0_2_15(void **state) {
  (void)state;
  fixture_t *f = fixture_new("user,id=n0");
  uint8_t frame[1024];
  size_t n = net_build_dhcp_discover(frame, 0x12345678u);
  vmx_slirp_input(f->net, frame, n);
  uint32_t want;
  inet_pton(AF_INET, "10.0.2.15", &want);
  size_t len = 0;
  const uint8_t *offer = wait_frame(f, is_dhcp_offer, &want, &len);
  assert_non_null(offer);
  const uint8_t *bootp = net_udp_payload(offer, len, NET_PORT_BOOTPS, NET_PORT_BOOTPC);
  assert_memory_equal(bootp + 28, NET_GUEST_MAC, 6);   /* chaddr: for our client */
  assert_int_equal(net_be32(bootp + 4), 0x12345678u);  /* xid */
  assert_int_equal(vmx_slirp_net_tx_frames(f->net), 1);
  assert_true(vmx_slirp_net_rx_frames(f->net) >= 1);
  fixture_free(f);
}

static void test_net_option_moves_the_dhcp_range(void **state) {
  (void)state;
  fixture_t *f = fixture_new("user,net=192.168.76.0/24");
  uint8_t frame[1024];
  size_t n = net_build_dhcp_discover(frame, 7);
  vmx_slirp_input(f->net, frame, n);
  uint32_t want;
  inet_pton(AF_INET, "192.168.76.15", &want);
  assert_non_null(wait_frame(f, is_dhcp_offer, &want, NULL));
  fixture_free(f);
}

static void test_arp_request_for_the_gateway_gets_a_reply(void **state) {
  (void)state;
  fixture_t *f = fixture_new("user");
  guest_arps_for_gateway(f);
  fixture_free(f);
}

static void test_tcp_to_gateway_reaches_host_loopback_both_ways(void **state) {
  (void)state;
  uint16_t port = 0;
  accept_ctx_t a = {listen_on(INADDR_LOOPBACK, &port), -1};
  fixture_t *f = fixture_new("user,id=n0");
  guest_arps_for_gateway(f);
  uint8_t frame[128];
  size_t n = net_build_tcp_syn(frame, NET_GUEST_IP, NET_GATEWAY_IP, 40000, port, 1000);
  vmx_slirp_input(f->net, frame, n);
  tcp_query_t q = {port, 40000, NET_TCP_SYN | NET_TCP_ACK};
  size_t len = 0;
  const uint8_t *synack = wait_frame(f, is_tcp, &q, &len);
  assert_non_null(synack);
  assert_int_equal(net_be32(net_tcp_header(synack, len) + 8), 1001);   /* acks our SYN */
  assert_true(run_until(f, accepted, &a));
  /* Complete the handshake; bytes the host writes reach the guest. */
  uint32_t their_seq = net_be32(net_tcp_header(synack, len) + 4);
  n = net_build_tcp(frame, NET_GUEST_IP, NET_GATEWAY_IP, 40000, port, NET_TCP_ACK, 1001,
                    their_seq + 1, "", 0);
  vmx_slirp_input(f->net, frame, n);
  assert_int_equal(write(a.conn, "hello", 5), 5);
  tcp_query_t dq = {port, 40000, NET_TCP_ACK};
  data_query_t want = {&dq, "hello"};
  const uint8_t *data = wait_frame(f, is_tcp_with_data, &want, &len);
  assert_non_null(data);
  /* and bytes the guest sends reach the host */
  n = net_build_tcp(frame, NET_GUEST_IP, NET_GATEWAY_IP, 40000, port, NET_TCP_ACK | NET_TCP_PSH,
                    1001, their_seq + 6, "world", 5);
  vmx_slirp_input(f->net, frame, n);
  read_ctx_t r = {a.conn, {0}, 0};
  assert_true(run_until(f, read_some, &r));
  assert_memory_equal(r.buf, "world", 5);
  close(a.conn);
  close(a.listener);
  fixture_free(f);
}

static void test_hostfwd_connection_becomes_a_syn_to_the_guest(void **state) {
  (void)state;
  uint16_t host_port = free_port();
  char options[128];
  snprintf(options, sizeof options, "user,id=n0,hostfwd=tcp:127.0.0.1:%u-:2222", host_port);
  fixture_t *f = fixture_new(options);
  guest_arps_for_gateway(f);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(host_port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int rc = connect(s, (struct sockaddr *)&sa, sizeof sa);
  assert_true(rc == 0 || errno == EINPROGRESS);
  const uint8_t *syn = wait_frame(f, is_syn_to_guest_port, NULL, NULL);
  assert_non_null(syn);
  assert_memory_equal(syn + 14 + 16, NET_GUEST_IP, 4);   /* to 10.0.2.15 */
  assert_memory_equal(syn, NET_GUEST_MAC, 6);
  close(s);
  fixture_free(f);
}

static void test_hostfwd_on_a_busy_port_fails_at_start(void **state) {
  (void)state;
  uint16_t port = 0;
  int busy = listen_on(INADDR_ANY, &port);
  char options[128], err[256] = "";
  snprintf(options, sizeof options, "user,hostfwd=tcp::%u-:22", port);
  uv_loop_t loop;
  uv_loop_init(&loop);
  vmx_slirp_net_t *net = (void *)1;
  assert_int_equal(vmx_slirp_net_create(&net, &loop, options, on_rx, NULL, err, sizeof err),
                   VMX_EIO);
  assert_null(net);
  char want[32];
  snprintf(want, sizeof want, "host port %u", port);
  assert_non_null(strstr(err, want));
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&loop), 0);
  close(busy);
}

static void expect_option_error(const char *options, const char *fragment) {
  char err[256] = "";
  assert_int_equal(vmx_slirp_net_check(options, err, sizeof err), VMX_EINVAL);
  if (!strstr(err, fragment))
    fail_msg("'%s': error '%s' does not mention '%s'", options, err, fragment);
}

static void test_bad_options_are_named_in_the_error(void **state) {
  (void)state;
  expect_option_error("user,id=n0,colour=blue", "'colour'");
  expect_option_error("user,hostfwd=tcp::99999-:22", "tcp::99999-:22");
  expect_option_error("user,hostfwd=sctp::22-:22", "sctp::22-:22");
  expect_option_error("user,hostfwd=tcp::22", "tcp::22");
  expect_option_error("user,hostfwd=tcp::2222-1.2.3:22", "1.2.3");
  expect_option_error("user,net=10.0.2.1/24", "10.0.2.1/24");
  expect_option_error("user,net=10.0.2.0/24,dhcpstart=10.0.3.15", "dhcpstart 10.0.3.15");
  expect_option_error("user,ipv6=maybe", "ipv6");
  expect_option_error("tap,id=n0", "'tap'");
  expect_option_error("user,restrict", "'restrict' needs a value");
  assert_int_equal(vmx_slirp_net_check("user,id=n0,net=10.1.0.0/16,hostfwd=tcp::2222-:22,"
                                       "hostfwd=udp:127.0.0.1:5353-10.1.0.15:53,ipv6=off",
                                       NULL, 0), 0);
  assert_int_equal(vmx_slirp_net_check("net=172.16.0.0/255.255.0.0", NULL, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dhcp_discover_gets_an_offer_for_10_0_2_15),
      cmocka_unit_test(test_net_option_moves_the_dhcp_range),
      cmocka_unit_test(test_arp_request_for_the_gateway_gets_a_reply),
      cmocka_unit_test(test_tcp_to_gateway_reaches_host_loopback_both_ways),
      cmocka_unit_test(test_hostfwd_connection_becomes_a_syn_to_the_guest),
      cmocka_unit_test(test_hostfwd_on_a_busy_port_fails_at_start),
      cmocka_unit_test(test_bad_options_are_named_in_the_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
