/* User-mode networking: a libslirp (4.7) stack on a libuv loop, the backend of
 * QEMU's `-netdev user`. The guest's Ethernet frames go in through
 * vmx_slirp_input; frames for the guest come out through the rx callback.
 *
 * Options (QEMU's syntax, comma-separated, an optional leading "user"):
 *   id=NAME                   kept for the caller, not used here
 *   net=ADDR[/PREFIX|/MASK]   guest network, default 10.0.2.0/24
 *   host=ADDR                 the host as the guest sees it, default net+2
 *   dhcpstart=ADDR            first DHCP address, default net+15
 *   dns=ADDR                  the DNS forwarder, default net+3
 *   hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *                             (repeatable, at most VMX_SLIRP_MAX_HOSTFWD;
 *                             HOSTADDR defaults to any, GUESTADDR to dhcpstart)
 *   ipv6=on|off               IPv6 (fec0::/64 as QEMU), default on
 *   restrict=on|off           isolate the guest from the host, default off
 * Anything else is an error that names the key.
 *
 * How slirp is polled from libuv (Linux):
 *   slirp's set of sockets and the events it wants change after every call
 *   into it (slirp_input may open a socket; a reply may close one), and slirp
 *   may close a socket that libuv is still watching. A uv_poll_t per socket
 *   would then make libuv call epoll_ctl on a closed or reused descriptor,
 *   which aborts the process. So the sockets live in an epoll set of our own
 *   that libuv sees as one readable descriptor (one uv_poll_t):
 *     - a uv_prepare handle runs slirp_pollfds_fill before every poll phase
 *       and brings our epoll set in line with it (epoll_ctl only for sockets
 *       whose wanted events changed; unregister_poll_fd drops a socket slirp
 *       is about to close, so a reused number is added afresh);
 *     - when the epoll descriptor turns readable, epoll_wait(0) collects the
 *       events and slirp_pollfds_poll hands them to slirp;
 *     - the timeout slirp_pollfds_fill returns (its TCP/IP timers, at most
 *       1 s) arms a uv_timer that also runs slirp_pollfds_poll; the timer is
 *       only moved earlier, never pushed back, so a busy loop cannot starve
 *       slirp's timers;
 *     - slirp's own timers (timer_new_opaque) are uv_timer_t's that call
 *       slirp_handle_timer; notify needs nothing, because every loop
 *       iteration refills before it sleeps.
 *   All these handles are unreferenced: the backend never keeps a loop
 *   alive on its own.
 *
 * Thread-safety: none; every call and callback runs on the loop's thread.
 */
#ifndef VMX_DEVICES_SLIRP_NET_H
#define VMX_DEVICES_SLIRP_NET_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define VMX_SLIRP_MAX_HOSTFWD 16u

typedef struct vmx_slirp_net vmx_slirp_net_t;

/* A frame for the guest (an Ethernet frame without FCS). The callee copies
 * it: the bytes are slirp's and valid only during the call. */
typedef void (*vmx_slirp_rx_fn)(void *arg, const uint8_t *frame, size_t len);

/* Parses `options` without starting anything: 0, or VMX_EINVAL with a
 * message in err (which may be NULL) naming the bad key or rule. */
int vmx_slirp_net_check(const char *options, char *err, size_t errlen);

/* Creates a user-mode network on `loop` and sets up its host forwards.
 * Frames for the guest go to rx(arg, ...), from inside libuv callbacks on
 * the loop or from inside vmx_slirp_input. Returns 0 and *out, or a negative
 * VMX_E* code with a message in err: VMX_EINVAL for bad options, VMX_EIO
 * when a forwarded host port cannot be bound (already in use) or slirp does
 * not start. */
int vmx_slirp_net_create(vmx_slirp_net_t **out, uv_loop_t *loop, const char *options,
                         vmx_slirp_rx_fn rx, void *arg, char *err, size_t errlen);

/* Hands one Ethernet frame from the guest to slirp. Replies may come back
 * through rx before this returns. Frames shorter than an Ethernet header or
 * longer than 65535 bytes are dropped. */
void vmx_slirp_input(vmx_slirp_net_t *net, const uint8_t *frame, size_t len);

/* Shuts the stack down (closes its sockets and host forwards) and closes its
 * handles; rx is not called any more. The memory is freed by the handles'
 * close callbacks, so the loop must run once more (as before any
 * uv_loop_close) to free it. NULL is ignored. */
void vmx_slirp_net_destroy(vmx_slirp_net_t *net);

/* Frames handed to rx so far, and frames from the guest handed to slirp. */
uint64_t vmx_slirp_net_rx_frames(const vmx_slirp_net_t *net);
uint64_t vmx_slirp_net_tx_frames(const vmx_slirp_net_t *net);

#endif
