/* Socket system calls. Socket addresses, socket options (SO_* numbers,
 * struct linger, timeval...) and control messages are laid out the same on
 * riscv64 and x86_64 (both LP64, generic numbering); struct msghdr holds
 * pointers and is rebuilt with host ones. Options whose value holds a
 * pointer (socket filters) are refused: the kernel would follow it as a
 * host pointer. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "linux/guest.h"

int64_t vmx_sys_socket(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_socket, (int)a[0], (int)a[1], (int)a[2]));
}

int64_t vmx_sys_socketpair(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int sv[2];
  if (syscall(SYS_socketpair, (int)a[0], (int)a[1], (int)a[2], sv))
    return -errno;
  int r = vmx_linux_mm_copy_out(vmx__mm(t), a[3], sv, sizeof sv);
  if (r) {
    close(sv[0]);
    close(sv[1]);
  }
  return r;
}

int64_t vmx_sys_bind(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(addr, a[1], (uint32_t)a[2]);
  return vmx__host_ret(syscall(SYS_bind, (int)a[0], addr, (socklen_t)a[2]));
}

int64_t vmx_sys_connect(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(addr, a[1], (uint32_t)a[2]);
  return vmx__host_ret(syscall(SYS_connect, (int)a[0], addr, (socklen_t)a[2]));
}

int64_t vmx_sys_listen(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_listen, (int)a[0], (int)a[1]));
}

int64_t vmx_sys_shutdown(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_shutdown, (int)a[0], (int)a[1]));
}

/* Calls that return an address through (addr, *lenp): the length is read
 * into vmx, so the buffer the kernel writes is the one checked. */
typedef struct addr_out {
  void *addr;
  socklen_t len, *lenp;
} addr_out_t;

static int addr_out_in(vmx_linux_thread_t *t, uint64_t addr, uint64_t lenp, addr_out_t *o) {
  o->addr = NULL;
  o->lenp = NULL;
  if (lenp == 0)
    return 0;
  if (vmx_linux_mm_copy_in(vmx__mm(t), &o->len, lenp, sizeof o->len))
    return -EFAULT;
  if ((int)o->len < 0)
    return -EINVAL;
  if (vmx__guest_buf(t, addr, o->len, &o->addr))
    return -EFAULT;
  o->lenp = &o->len;
  return 0;
}

static int64_t addr_out_done(vmx_linux_thread_t *t, long r, uint64_t lenp, addr_out_t *o) {
  if (r == -1)
    return -errno;
  if (o->lenp && vmx_linux_mm_copy_out(vmx__mm(t), lenp, &o->len, sizeof o->len))
    return -EFAULT;
  return r;
}

int64_t vmx_sys_accept4(vmx_linux_thread_t *t, const uint64_t a[6]) {
  addr_out_t o;
  int r = addr_out_in(t, a[1], a[2], &o);
  if (r)
    return r;
  long fd = syscall(SYS_accept4, (int)a[0], o.addr, o.lenp, (int)a[3]);
  int64_t ret = addr_out_done(t, fd, a[2], &o);
  if (ret < 0 && fd >= 0)
    close((int)fd);
  return ret;
}

int64_t vmx_sys_accept(vmx_linux_thread_t *t, const uint64_t a[6]) {
  const uint64_t b[6] = {a[0], a[1], a[2], 0, 0, 0};
  return vmx_sys_accept4(t, b);
}

int64_t vmx_sys_getsockname(vmx_linux_thread_t *t, const uint64_t a[6]) {
  addr_out_t o;
  int r = addr_out_in(t, a[1], a[2], &o);
  if (r)
    return r;
  return addr_out_done(t, syscall(SYS_getsockname, (int)a[0], o.addr, o.lenp), a[2], &o);
}

int64_t vmx_sys_getpeername(vmx_linux_thread_t *t, const uint64_t a[6]) {
  addr_out_t o;
  int r = addr_out_in(t, a[1], a[2], &o);
  if (r)
    return r;
  return addr_out_done(t, syscall(SYS_getpeername, (int)a[0], o.addr, o.lenp), a[2], &o);
}

int64_t vmx_sys_sendto(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[1], a[2], PROT_READ);
  if (!buf)
    return -EFAULT;
  GUEST_BUF(addr, a[4], (uint32_t)a[5]);
  return vmx__host_ret(
      syscall(SYS_sendto, (int)a[0], buf, a[2], (int)a[3], addr, (socklen_t)a[5]));
}

int64_t vmx_sys_recvfrom(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[1], a[2], PROT_WRITE);
  if (!buf)
    return -EFAULT;
  addr_out_t o;
  int r = addr_out_in(t, a[4], a[5], &o);
  if (r)
    return r;
  return addr_out_done(
      t, syscall(SYS_recvfrom, (int)a[0], buf, a[2], (int)a[3], o.addr, o.lenp), a[5], &o);
}

/* Options whose value holds a pointer. */
static bool sockopt_has_pointer(int level, int name) {
  return level == SOL_SOCKET && (name == SO_ATTACH_FILTER || name == SO_ATTACH_REUSEPORT_CBPF);
}

int64_t vmx_sys_setsockopt(vmx_linux_thread_t *t, const uint64_t a[6]) {
  if (sockopt_has_pointer((int)a[1], (int)a[2]))
    return -ENOPROTOOPT;
  GUEST_BUF(val, a[3], (uint32_t)a[4]);
  return vmx__host_ret(
      syscall(SYS_setsockopt, (int)a[0], (int)a[1], (int)a[2], val, (socklen_t)a[4]));
}

int64_t vmx_sys_getsockopt(vmx_linux_thread_t *t, const uint64_t a[6]) {
  addr_out_t o;   /* the same (buffer, *len) shape */
  int r = addr_out_in(t, a[3], a[4], &o);
  if (r)
    return r;
  return addr_out_done(
      t, syscall(SYS_getsockopt, (int)a[0], (int)a[1], (int)a[2], o.addr, o.lenp), a[4], &o);
}

/* ---- sendmsg, recvmsg ------------------------------------------------- */

/* struct msghdr as the guest lays it out (the same as x86_64's, with
 * guest pointers). */
typedef struct rv_msghdr {
  uint64_t name;
  uint32_t namelen, pad0;
  uint64_t iov, iovlen, control, controllen;
  int32_t flags, pad1;
} rv_msghdr_t;

/* Builds the host msghdr for guest msghdr g; *iov_out is heap (free it). */
static int msghdr_in(vmx_linux_thread_t *t, const rv_msghdr_t *g, int prot, struct msghdr *h,
                     struct iovec **iov_out) {
  memset(h, 0, sizeof *h);
  if ((int)g->namelen < 0)
    return -EINVAL;
  if (vmx__guest_buf(t, g->name, g->namelen, &h->msg_name))
    return -EFAULT;
  h->msg_namelen = g->namelen;
  if (g->controllen > INT32_MAX)
    return -ENOBUFS;
  if (vmx__guest_buf(t, g->control, g->controllen, &h->msg_control))
    return -EFAULT;
  h->msg_controllen = g->controllen;
  h->msg_flags = g->flags;
  int r = vmx__iov_in(t, g->iov, g->iovlen, prot, iov_out);
  if (r)
    return r == -EINVAL ? -EMSGSIZE : r;
  h->msg_iov = *iov_out;
  h->msg_iovlen = g->iovlen;
  return 0;
}

int64_t vmx_sys_sendmsg(vmx_linux_thread_t *t, const uint64_t a[6]) {
  rv_msghdr_t g;
  if (vmx_linux_mm_copy_in(vmx__mm(t), &g, a[1], sizeof g))
    return -EFAULT;
  struct msghdr h;
  struct iovec *iov = NULL;
  int r = msghdr_in(t, &g, PROT_READ, &h, &iov);
  int64_t ret = r ? r : vmx__host_ret(syscall(SYS_sendmsg, (int)a[0], &h, (int)a[2]));
  free(iov);
  return ret;
}

int64_t vmx_sys_recvmsg(vmx_linux_thread_t *t, const uint64_t a[6]) {
  rv_msghdr_t g;
  if (vmx_linux_mm_copy_in(vmx__mm(t), &g, a[1], sizeof g))
    return -EFAULT;
  struct msghdr h;
  struct iovec *iov = NULL;
  int64_t ret = msghdr_in(t, &g, PROT_WRITE, &h, &iov);
  if (ret == 0)
    ret = vmx__host_ret(syscall(SYS_recvmsg, (int)a[0], &h, (int)a[2]));
  free(iov);
  if (ret < 0)
    return ret;
  /* The kernel updates namelen, controllen and flags. */
  g.namelen = h.msg_namelen;
  g.controllen = h.msg_controllen;
  g.flags = h.msg_flags;
  if (vmx_linux_mm_copy_out(vmx__mm(t), a[1], &g, sizeof g))
    return -EFAULT;
  return ret;
}
