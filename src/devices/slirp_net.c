/* User-mode networking: libslirp on a libuv loop. See slirp_net.h for the
 * options and for how slirp's sockets are polled. */
#include "devices/slirp_net.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "base/error.h"
#include "base/log.h"

/* ---- options ------------------------------------------------------------ */

typedef struct slirp_hostfwd {
  bool udp;
  struct in_addr host_addr, guest_addr;   /* guest 0: slirp takes dhcpstart */
  int host_port, guest_port;
  char rule[80];                          /* as written, for messages */
} slirp_hostfwd_t;

typedef struct slirp_options {
  struct in_addr net, mask, host, dhcp, dns;
  bool host_set, dhcp_set, dns_set;
  bool ipv6, restricted;
  unsigned nfwd;
  slirp_hostfwd_t fwd[VMX_SLIRP_MAX_HOSTFWD];
} slirp_options_t;

static bool slirp_parse_port(const char *s, int *port) {
  char *end;
  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || v < 1 || v > 65535)
    return false;
  *port = (int)v;
  return true;
}

/* "ADDR:PORT" with ADDR possibly empty (then *addr is left as it is). */
static bool slirp_parse_endpoint(char *s, struct in_addr *addr, int *port) {
  char *colon = strrchr(s, ':');
  if (!colon)
    return false;
  *colon = '\0';
  if (*s && inet_pton(AF_INET, s, addr) != 1)
    return false;
  return slirp_parse_port(colon + 1, port);
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static int slirp_parse_hostfwd(const char *rule, slirp_options_t *o, char *err, size_t errlen) {
  if (o->nfwd == VMX_SLIRP_MAX_HOSTFWD)
    return vmx_error_set(err, errlen, VMX_EINVAL, "netdev user: more than %u hostfwd rules",
                         VMX_SLIRP_MAX_HOSTFWD);
  slirp_hostfwd_t *f = &o->fwd[o->nfwd];
  memset(f, 0, sizeof *f);
  snprintf(f->rule, sizeof f->rule, "%s", rule);
  char buf[sizeof f->rule];
  snprintf(buf, sizeof buf, "%s", rule);
  char *colon = strchr(buf, ':');
  char *dash = colon ? strchr(colon + 1, '-') : NULL;
  bool ok = colon && dash && strlen(rule) < sizeof buf;
  if (ok) {
    *colon = '\0';
    *dash = '\0';
    if (!strcmp(buf, "udp"))
      f->udp = true;
    else if (*buf && strcmp(buf, "tcp"))
      ok = false;
  }
  f->host_addr.s_addr = htonl(INADDR_ANY);
  ok = ok && slirp_parse_endpoint(colon + 1, &f->host_addr, &f->host_port) &&
       slirp_parse_endpoint(dash + 1, &f->guest_addr, &f->guest_port);
  if (!ok)
    return vmx_error_set(err, errlen, VMX_EINVAL,
                         "netdev user: bad hostfwd '%s' (want [tcp|udp]:[hostaddr]:hostport-"
                         "[guestaddr]:guestport, ports 1-65535)", rule);
  o->nfwd++;
  return 0;
}

/* ADDR[/PREFIX] or ADDR/MASK */
static int slirp_parse_net(const char *val, slirp_options_t *o, char *err, size_t errlen) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", val);
  char *slash = strchr(buf, '/');
  uint32_t mask = 0xffffff00u;
  bool ok = strlen(val) < sizeof buf;
  if (ok && slash) {
    *slash = '\0';
    struct in_addr m;
    int prefix;
    if (strchr(slash + 1, '.') && inet_pton(AF_INET, slash + 1, &m) == 1) {
      mask = ntohl(m.s_addr);
      ok = mask && (~mask & (~mask + 1)) == 0;   /* contiguous ones */
    } else if (slirp_parse_port(slash + 1, &prefix) && prefix <= 30) {
      mask = 0xffffffffu << (32 - prefix);
    } else {
      ok = false;
    }
  }
  ok = ok && inet_pton(AF_INET, buf, &o->net) == 1 && (ntohl(o->net.s_addr) & ~mask) == 0;
  if (!ok)
    return vmx_error_set(err, errlen, VMX_EINVAL,
                         "netdev user: bad net '%s' (want a network address like 10.0.2.0/24)",
                         val);
  o->mask.s_addr = htonl(mask);
  return 0;
}

static int slirp_parse_bool(const char *key, const char *val, bool *out, char *err,
                            size_t errlen) {
  if (!strcmp(val, "on"))
    *out = true;
  else if (!strcmp(val, "off"))
    *out = false;
  else
    return vmx_error_set(err, errlen, VMX_EINVAL, "netdev user: %s='%s' (want on or off)", key,
                         val);
  return 0;
}

static int slirp_parse_addr(const char *key, const char *val, struct in_addr *addr, bool *set,
                            char *err, size_t errlen) {
  if (inet_pton(AF_INET, val, addr) != 1)
    return vmx_error_set(err, errlen, VMX_EINVAL, "netdev user: %s='%s' is not an IPv4 address",
                         key, val);
  *set = true;
  return 0;
}

static int slirp_parse_option(const char *key, const char *val, slirp_options_t *o, char *err,
                              size_t errlen) {
  if (!strcmp(key, "id"))
    return 0;
  if (!strcmp(key, "net"))
    return slirp_parse_net(val, o, err, errlen);
  if (!strcmp(key, "host"))
    return slirp_parse_addr(key, val, &o->host, &o->host_set, err, errlen);
  if (!strcmp(key, "dhcpstart"))
    return slirp_parse_addr(key, val, &o->dhcp, &o->dhcp_set, err, errlen);
  if (!strcmp(key, "dns"))
    return slirp_parse_addr(key, val, &o->dns, &o->dns_set, err, errlen);
  if (!strcmp(key, "hostfwd"))
    return slirp_parse_hostfwd(val, o, err, errlen);
  if (!strcmp(key, "ipv6"))
    return slirp_parse_bool(key, val, &o->ipv6, err, errlen);
  if (!strcmp(key, "restrict"))
    return slirp_parse_bool(key, val, &o->restricted, err, errlen);
  return vmx_error_set(err, errlen, VMX_EINVAL,
                       "netdev user: unknown option '%s' (known: id, net, host, dhcpstart, dns, "
                       "hostfwd, ipv6, restrict)", key);
}

/* host, dhcpstart and dns default to net+2, net+15 and net+3 (QEMU's) and
 * must be host addresses inside net. */
static int slirp_check_addr(const char *key, struct in_addr *a, bool set, uint32_t dflt,
                            const slirp_options_t *o, char *err, size_t errlen) {
  uint32_t net = ntohl(o->net.s_addr), mask = ntohl(o->mask.s_addr);
  if (!set)
    a->s_addr = htonl(net | dflt);
  uint32_t v = ntohl(a->s_addr);
  if ((v & mask) != net || (v & ~mask) == 0 || (v & ~mask) == ~mask) {
    char abuf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, a, abuf, sizeof abuf);
    return vmx_error_set(err, errlen, VMX_EINVAL,
                         "netdev user: %s %s is not a host address of the guest network", key,
                         abuf);
  }
  return 0;
}

static int slirp_options_parse(const char *options, slirp_options_t *o, char *err,
                               size_t errlen) {
  memset(o, 0, sizeof *o);
  inet_pton(AF_INET, "10.0.2.0", &o->net);
  o->mask.s_addr = htonl(0xffffff00u);
  o->ipv6 = true;
  char *copy = strdup(options ? options : "");
  if (!copy)
    return vmx_error_set(err, errlen, VMX_ENOMEM, "netdev user: out of memory");
  int rc = 0;
  char *save = NULL;
  bool first = true;
  for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq && first && !strcmp(tok, "user")) {
      /* the netdev type */
    } else if (!eq && first) {
      rc = vmx_error_set(err, errlen, VMX_EINVAL,
                         "netdev '%s' is not supported (only 'user' networking)", tok);
    } else if (!eq) {
      rc = vmx_error_set(err, errlen, VMX_EINVAL, "netdev user: option '%s' needs a value", tok);
    } else {
      *eq = '\0';
      rc = slirp_parse_option(tok, eq + 1, o, err, errlen);
    }
    first = false;
  }
  free(copy);
  if (!rc)
    rc = slirp_check_addr("host", &o->host, o->host_set, 2, o, err, errlen);
  if (!rc)
    rc = slirp_check_addr("dhcpstart", &o->dhcp, o->dhcp_set, 15, o, err, errlen);
  if (!rc)
    rc = slirp_check_addr("dns", &o->dns, o->dns_set, 3, o, err, errlen);
  return rc;
}

int vmx_slirp_net_check(const char *options, char *err, size_t errlen) {
  slirp_options_t o;
  return slirp_options_parse(options, &o, err, errlen);
}

/* ---- the stack on the loop ---------------------------------------------- */

typedef struct slirp_timer {
  uv_timer_t handle;
  vmx_slirp_net_t *net;
  SlirpTimerId id;
  void *cb_opaque;
  struct slirp_timer *next;     /* net->timers list */
} slirp_timer_t;

typedef struct slirp_pollfd {   /* one entry of the last slirp_pollfds_fill */
  int fd;
  int events, revents;          /* SLIRP_POLL_* */
} slirp_pollfd_t;

typedef struct slirp_fdinfo {   /* per descriptor number, for the epoll set */
  uint32_t events;              /* epoll events registered, when registered */
  uint32_t seen;                /* fill generation that last listed it */
  int idx;                      /* its index in that fill */
  bool registered;              /* in net->epfd */
} slirp_fdinfo_t;

struct vmx_slirp_net {
  uv_loop_t *loop;
  Slirp *slirp;
  vmx_slirp_rx_fn rx;
  void *rx_arg;
  bool closing;
  unsigned open_handles;        /* handles whose close callback is still due */
  int epfd;
  uv_poll_t epoll_watch;        /* epfd readable: some slirp socket is ready */
  uv_prepare_t prepare;         /* fill before each poll phase */
  uv_timer_t timeout;           /* slirp's own TCP/IP timers */
  slirp_timer_t *timers;        /* timer_new_opaque timers alive */
  slirp_pollfd_t *pfds;         /* the last fill: npfds entries */
  int *prev_fds;                /* the descriptors of the fill before */
  struct epoll_event *events;   /* epoll_wait buffer, pfd_cap entries */
  unsigned npfds, nprev, pfd_cap;
  slirp_fdinfo_t *fdinfo;       /* indexed by descriptor, nfdinfo entries */
  size_t nfdinfo;
  uint32_t fill_gen;
  uint64_t rx_frames, tx_frames;
};

static ssize_t slirp_cb_send_packet(const void *buf, size_t len, void *opaque) {
  vmx_slirp_net_t *net = opaque;
  if (!net->closing && net->rx) {
    net->rx_frames++;
    net->rx(net->rx_arg, buf, len);
  }
  return (ssize_t)len;
}

static void slirp_cb_guest_error(const char *msg, void *opaque) {
  (void)opaque;
  vmx_log_debug("netdev user: guest error: %s", msg);
}

static int64_t slirp_cb_clock_get_ns(void *opaque) {
  (void)opaque;
  return (int64_t)uv_hrtime();
}

static void slirp_timer_fire(uv_timer_t *h) {
  slirp_timer_t *t = h->data;
  slirp_handle_timer(t->net->slirp, t->id, t->cb_opaque);
}

static void *slirp_cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque) {
  vmx_slirp_net_t *net = opaque;
  slirp_timer_t *t = calloc(1, sizeof *t);
  if (!t)
    abort();   /* slirp has no way to hear of the failure */
  t->net = net;
  t->id = id;
  t->cb_opaque = cb_opaque;
  uv_timer_init(net->loop, &t->handle);
  uv_unref((uv_handle_t *)&t->handle);
  t->handle.data = t;
  t->next = net->timers;
  net->timers = t;
  return t;
}

static void slirp_timer_closed(uv_handle_t *h) {
  free(h->data);
}

static void slirp_cb_timer_free(void *timer, void *opaque) {
  vmx_slirp_net_t *net = opaque;
  slirp_timer_t *t = timer;
  for (slirp_timer_t **p = &net->timers; *p; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      break;
    }
  }
  uv_close((uv_handle_t *)&t->handle, slirp_timer_closed);
}

/* expire_ms is absolute, on slirp_cb_clock_get_ns's clock. */
static void slirp_cb_timer_mod(void *timer, int64_t expire_ms, void *opaque) {
  (void)opaque;
  slirp_timer_t *t = timer;
  int64_t now_ms = (int64_t)(uv_hrtime() / 1000000u);
  uint64_t delay = expire_ms > now_ms ? (uint64_t)(expire_ms - now_ms) : 0;
  uv_timer_start(&t->handle, slirp_timer_fire, delay, 0);
}

static void slirp_epoll_del(vmx_slirp_net_t *net, int fd) {
  struct epoll_event dummy = {0};
  epoll_ctl(net->epfd, EPOLL_CTL_DEL, fd, &dummy);   /* ENOENT/EBADF: already gone */
  net->fdinfo[fd].registered = false;
}

static void slirp_cb_register_poll_fd(int fd, void *opaque) {
  (void)fd;
  (void)opaque;   /* the next fill lists it */
}

/* slirp is about to close fd: forget it, so that a new socket that gets the
 * same number is added to the epoll set afresh. */
static void slirp_cb_unregister_poll_fd(int fd, void *opaque) {
  vmx_slirp_net_t *net = opaque;
  if (fd >= 0 && (size_t)fd < net->nfdinfo && net->fdinfo[fd].registered)
    slirp_epoll_del(net, fd);
}

static void slirp_cb_notify(void *opaque) {
  (void)opaque;   /* every loop iteration refills before it sleeps */
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_cb_send_packet,
    .guest_error = slirp_cb_guest_error,
    .clock_get_ns = slirp_cb_clock_get_ns,
    .timer_free = slirp_cb_timer_free,
    .timer_mod = slirp_cb_timer_mod,
    .register_poll_fd = slirp_cb_register_poll_fd,
    .unregister_poll_fd = slirp_cb_unregister_poll_fd,
    .notify = slirp_cb_notify,
    .timer_new_opaque = slirp_cb_timer_new_opaque,
};

static bool slirp_grow_fdinfo(vmx_slirp_net_t *net, int fd) {
  if ((size_t)fd < net->nfdinfo)
    return true;
  size_t n = net->nfdinfo ? net->nfdinfo : 64;
  while (n <= (size_t)fd)
    n *= 2;
  slirp_fdinfo_t *p = realloc(net->fdinfo, n * sizeof *p);
  if (!p)
    return false;
  memset(p + net->nfdinfo, 0, (n - net->nfdinfo) * sizeof *p);
  net->fdinfo = p;
  net->nfdinfo = n;
  return true;
}

static bool slirp_grow_pfds(vmx_slirp_net_t *net) {
  if (net->npfds < net->pfd_cap)
    return true;
  unsigned n = net->pfd_cap ? net->pfd_cap * 2 : 16;
  slirp_pollfd_t *p = realloc(net->pfds, n * sizeof *p);
  if (p)
    net->pfds = p;
  int *q = p ? realloc(net->prev_fds, n * sizeof *q) : NULL;
  if (q)
    net->prev_fds = q;
  struct epoll_event *e = q ? realloc(net->events, n * sizeof *e) : NULL;
  if (!e)
    return false;
  net->events = e;
  net->pfd_cap = n;
  return true;
}

/* slirp_pollfds_fill's add_poll: returns the index get_revents will get, or
 * -1 (slirp then does not ask) when memory runs out. */
static int slirp_add_poll(int fd, int events, void *opaque) {
  vmx_slirp_net_t *net = opaque;
  if (fd < 0 || !slirp_grow_fdinfo(net, fd) || !slirp_grow_pfds(net))
    return -1;
  int idx = (int)net->npfds++;
  net->pfds[idx] = (slirp_pollfd_t){.fd = fd, .events = events};
  net->fdinfo[fd].seen = net->fill_gen;
  net->fdinfo[fd].idx = idx;
  return idx;
}

static int slirp_get_revents(int idx, void *opaque) {
  vmx_slirp_net_t *net = opaque;
  return idx >= 0 && (unsigned)idx < net->npfds ? net->pfds[idx].revents : 0;
}

static uint32_t slirp_to_epoll(int events) {
  return (events & SLIRP_POLL_IN ? EPOLLIN : 0) | (events & SLIRP_POLL_OUT ? EPOLLOUT : 0) |
         (events & SLIRP_POLL_PRI ? EPOLLPRI : 0);
}

static int slirp_from_epoll(uint32_t ev) {
  return (ev & EPOLLIN ? SLIRP_POLL_IN : 0) | (ev & EPOLLOUT ? SLIRP_POLL_OUT : 0) |
         (ev & EPOLLPRI ? SLIRP_POLL_PRI : 0) | (ev & EPOLLERR ? SLIRP_POLL_ERR : 0) |
         (ev & EPOLLHUP ? SLIRP_POLL_HUP : 0);
}

/* Makes the epoll set hold exactly the last fill's descriptors with the
 * events slirp wants; epoll_ctl only for what changed. */
static void slirp_sync_epoll(vmx_slirp_net_t *net) {
  for (unsigned i = 0; i < net->nprev; i++) {
    int fd = net->prev_fds[i];
    if (net->fdinfo[fd].seen != net->fill_gen && net->fdinfo[fd].registered)
      slirp_epoll_del(net, fd);
  }
  for (unsigned i = 0; i < net->npfds; i++) {
    int fd = net->pfds[i].fd;
    slirp_fdinfo_t *fi = &net->fdinfo[fd];
    uint32_t want = slirp_to_epoll(net->pfds[i].events);
    net->prev_fds[i] = fd;
    if (fi->registered && fi->events == want)
      continue;
    struct epoll_event ev = {.events = want, .data.fd = fd};
    int op = fi->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(net->epfd, op, fd, &ev);
    if (rc && errno == EEXIST)
      rc = epoll_ctl(net->epfd, EPOLL_CTL_MOD, fd, &ev);
    else if (rc && errno == ENOENT)
      rc = epoll_ctl(net->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (rc)
      vmx_log_debug("netdev user: cannot watch socket %d: %s", fd, strerror(errno));
    fi->registered = rc == 0;
    fi->events = want;
  }
  net->nprev = net->npfds;
}

/* Collects the ready sockets (without waiting) and lets slirp serve them and
 * run its timers. */
static void slirp_dispatch(vmx_slirp_net_t *net) {
  if (net->closing)
    return;
  for (unsigned i = 0; i < net->npfds; i++)
    net->pfds[i].revents = 0;
  int n = net->npfds ? epoll_wait(net->epfd, net->events, (int)net->npfds, 0) : 0;
  for (int i = 0; i < n; i++) {
    int fd = net->events[i].data.fd;
    if ((size_t)fd < net->nfdinfo && net->fdinfo[fd].seen == net->fill_gen)
      net->pfds[net->fdinfo[fd].idx].revents = slirp_from_epoll(net->events[i].events);
  }
  slirp_pollfds_poll(net->slirp, 0, slirp_get_revents, net);
}

static void slirp_on_ready(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  slirp_dispatch(h->data);
}

static void slirp_on_timeout(uv_timer_t *h) {
  slirp_dispatch(h->data);
}

static void slirp_on_prepare(uv_prepare_t *h) {
  vmx_slirp_net_t *net = h->data;
  if (net->closing)
    return;
  uint32_t timeout = UINT32_MAX;
  net->fill_gen++;
  net->npfds = 0;
  slirp_pollfds_fill(net->slirp, &timeout, slirp_add_poll, net);
  slirp_sync_epoll(net);
  /* Only ever move the deadline earlier: a loop that iterates more often
   * than `timeout` must not keep pushing slirp's timers back. */
  if (timeout != UINT32_MAX &&
      (!uv_is_active((uv_handle_t *)&net->timeout) ||
       uv_timer_get_due_in(&net->timeout) > timeout))
    uv_timer_start(&net->timeout, slirp_on_timeout, timeout, 0);
}

static void slirp_free(vmx_slirp_net_t *net) {
  free(net->pfds);
  free(net->prev_fds);
  free(net->events);
  free(net->fdinfo);
  free(net);
}

static void slirp_handle_closed(uv_handle_t *h) {
  vmx_slirp_net_t *net = h->data;
  if (--net->open_handles == 0)
    slirp_free(net);
}

static int slirp_start(vmx_slirp_net_t *net, const slirp_options_t *o, char *err,
                       size_t errlen) {
  SlirpConfig cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.version = SLIRP_CONFIG_VERSION_MAX;
  cfg.restricted = o->restricted;
  cfg.in_enabled = true;
  cfg.vnetwork = o->net;
  cfg.vnetmask = o->mask;
  cfg.vhost = o->host;
  cfg.vdhcp_start = o->dhcp;
  cfg.vnameserver = o->dns;
  cfg.in6_enabled = o->ipv6;
  inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);   /* QEMU's IPv6 defaults */
  cfg.vprefix_len = 64;
  inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
  inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
  net->slirp = slirp_new(&cfg, &slirp_callbacks, net);
  if (!net->slirp)
    return vmx_error_set(err, errlen, VMX_EIO, "netdev user: libslirp %s did not start",
                         slirp_version_string());
  for (unsigned i = 0; i < o->nfwd; i++) {
    const slirp_hostfwd_t *f = &o->fwd[i];
    errno = 0;
    if (slirp_add_hostfwd(net->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
                          f->guest_port) < 0)
      return vmx_error_set(err, errlen, VMX_EIO,
                           "netdev user: hostfwd '%s': cannot listen on host port %d: %s", f->rule,
                           f->host_port, errno ? strerror(errno) : "already in use?");
  }
  return 0;
}

int vmx_slirp_net_create(vmx_slirp_net_t **out, uv_loop_t *loop, const char *options,
                         vmx_slirp_rx_fn rx, void *arg, char *err, size_t errlen) {
  slirp_options_t o;
  *out = NULL;
  int rc = slirp_options_parse(options, &o, err, errlen);
  if (rc)
    return rc;
  vmx_slirp_net_t *net = calloc(1, sizeof *net);
  if (!net)
    return vmx_error_set(err, errlen, VMX_ENOMEM, "netdev user: out of memory");
  net->loop = loop;
  net->rx = rx;
  net->rx_arg = arg;
  net->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (net->epfd < 0 || uv_poll_init(loop, &net->epoll_watch, net->epfd) != 0) {
    if (net->epfd >= 0)
      close(net->epfd);
    free(net);
    return vmx_error_set(err, errlen, VMX_EIO, "netdev user: cannot create an epoll set: %s",
                         strerror(errno));
  }
  uv_prepare_init(loop, &net->prepare);
  uv_timer_init(loop, &net->timeout);
  net->open_handles = 3;
  net->epoll_watch.data = net->prepare.data = net->timeout.data = net;
  uv_unref((uv_handle_t *)&net->epoll_watch);
  uv_unref((uv_handle_t *)&net->prepare);
  uv_unref((uv_handle_t *)&net->timeout);
  rc = slirp_start(net, &o, err, errlen);
  if (rc) {
    vmx_slirp_net_destroy(net);
    return rc;
  }
  uv_poll_start(&net->epoll_watch, UV_READABLE, slirp_on_ready);
  uv_prepare_start(&net->prepare, slirp_on_prepare);
  *out = net;
  return 0;
}

void vmx_slirp_input(vmx_slirp_net_t *net, const uint8_t *frame, size_t len) {
  if (net->closing || len < 14 || len > 65535)
    return;
  net->tx_frames++;
  slirp_input(net->slirp, frame, (int)len);
}

void vmx_slirp_net_destroy(vmx_slirp_net_t *net) {
  if (!net)
    return;
  net->closing = true;
  if (net->slirp)
    slirp_cleanup(net->slirp);   /* closes its sockets, frees its timers */
  net->slirp = NULL;
  while (net->timers)
    slirp_cb_timer_free(net->timers, net);
  uv_close((uv_handle_t *)&net->epoll_watch, slirp_handle_closed);
  uv_close((uv_handle_t *)&net->prepare, slirp_handle_closed);
  uv_close((uv_handle_t *)&net->timeout, slirp_handle_closed);
  close(net->epfd);   /* libuv stopped watching it in uv_close */
}

uint64_t vmx_slirp_net_rx_frames(const vmx_slirp_net_t *net) {
  return net->rx_frames;
}

uint64_t vmx_slirp_net_tx_frames(const vmx_slirp_net_t *net) {
  return net->tx_frames;
}
