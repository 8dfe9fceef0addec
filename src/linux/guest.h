/* What system-call handlers use to reach guest memory, guest paths and the
 * host kernel (internal to src/linux).
 *
 * Guest buffers that the host kernel reads or writes are passed to it as
 * host pointers into the reservation (vmx__guest_buf): the kernel checks
 * the pages and answers EFAULT, as the riscv64 kernel would. Data vmx
 * itself reads or writes (structs it translates, strings) goes through
 * vmx_linux_mm_copy_in/out, which never fault. Lengths that size a kernel
 * write are copied into vmx first, so a guest thread cannot change them
 * between the check and the call.
 */
#ifndef VMX_LINUX_GUEST_H
#define VMX_LINUX_GUEST_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>   /* syscall()'s declaration, before the macro below */

#include "linux/user.h"

struct stat;

/* Every host call of src/linux goes through vmx__host_syscall: those that
 * may wait (signal.c's host_sys_may_block) go through the safe stub, which
 * does not wait while a VCPU_SIGNAL is on its way to the calling thread
 * (see signal.c); the others are plain syscall(). */
long vmx__host_syscall(int nargs, long nr, ...);
#define VMX__SYS_NARGS_(a1, a2, a3, a4, a5, a6, a7, n, ...) n
#define VMX__SYS_NARGS(...) VMX__SYS_NARGS_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0, -1)
#define syscall(...) vmx__host_syscall(VMX__SYS_NARGS(__VA_ARGS__), __VA_ARGS__)

/* A host kernel result as a guest one: -errno on failure. */
static inline int64_t vmx__host_ret(long r) { return r == -1 ? -(int64_t)errno : r; }

/* Host pointer for the guest buffer [addr, addr+len) in *out: NULL for a
 * guest NULL (the host kernel then sees NULL, as the guest's would).
 * Returns 0, or -EFAULT when the range leaves the guest address space. */
static inline int vmx__guest_buf(vmx_linux_thread_t *t, uint64_t addr, uint64_t len, void **out) {
  if (addr == 0) {
    *out = 0;
    return 0;
  }
  *out = vmx_linux_g2h(t, addr, len);
  return *out ? 0 : -EFAULT;
}

/* Host pointer for a guest I/O buffer [addr, addr+len) that the host
 * kernel reads (prot PROT_READ) or writes (PROT_WRITE), or NULL (the call
 * fails with EFAULT) unless the guest has all of it mapped with that
 * protection. This is qemu's lock_user() check, stricter than Linux's
 * (which fails only when it touches a bad page), so that guests see the
 * same results under both. A zero length is never a fault. */
static inline void *vmx__guest_io(vmx_linux_thread_t *t, uint64_t addr, uint64_t len, int prot) {
  if (len == 0)
    return t->cpu.mem_base;
  if (!vmx_linux_mm_check(&t->proc->mm, addr, len, prot))
    return 0;
  return t->cpu.mem_base + addr;
}

static inline vmx_linux_mm_t *vmx__mm(vmx_linux_thread_t *t) { return &t->proc->mm; }

/* Copies a guest path (NUL-terminated, < PATH_MAX) into buf[PATH_MAX].
 * Returns 0, -EFAULT or -ENAMETOOLONG. */
int vmx__path_in(vmx_linux_thread_t *t, uint64_t addr, char *buf);

/* The host path to look up for guest path `path`: /proc/self/exe (or
 * /proc/<pid>/exe) is the guest program; an absolute path is tried under
 * the sysroot first (qemu's -L) when `sysroot` is true. Returns path or
 * buf[PATH_MAX]. */
const char *vmx__path_host(vmx_linux_proc_t *p, const char *path, char *buf, bool sysroot);

/* True when path names /proc/self/<name> or /proc/<our pid>/<name>. */
bool vmx__path_is_proc_self(const char *path, const char *name);

struct iovec;

/* Rebuilds the guest's iovec array (cnt entries at addr) with host
 * pointers in *out (heap, for the caller to free; NULL when cnt is 0);
 * the buffers must be mapped with prot (see vmx__guest_io). Returns 0,
 * -EINVAL (cnt above IOV_MAX, negative length), -EFAULT or -ENOMEM. */
int vmx__iov_in(vmx_linux_thread_t *t, uint64_t addr, uint64_t cnt, int prot, struct iovec **out);

/* struct stat of the riscv64 kernel (asm-generic, 128 bytes); x86_64's
 * orders and sizes the fields differently. */
typedef struct vmx_linux_rv_stat {
  uint64_t dev, ino;
  uint32_t mode, nlink, uid, gid;
  uint64_t rdev, pad1;
  int64_t size;
  int32_t blksize, pad2;
  int64_t blocks;
  int64_t atime;
  uint64_t atime_nsec;
  int64_t mtime;
  uint64_t mtime_nsec;
  int64_t ctime;
  uint64_t ctime_nsec;
  uint32_t unused4, unused5;
} vmx_linux_rv_stat_t;
_Static_assert(sizeof(vmx_linux_rv_stat_t) == 128, "riscv64 struct stat is 128 bytes");

/* Translates a host stat into the guest's layout. Returns 0, or -EOVERFLOW
 * when the link count does not fit (as the kernel's cp_new_stat). */
int vmx__stat_to_guest(const struct stat *st, vmx_linux_rv_stat_t *g);

/* In a handler with thread t: declares `void *name`, the host pointer of
 * guest buffer [addr, addr+len), or returns -EFAULT from the handler. */
#define GUEST_BUF(name, addr, len)                                             \
  void *name;                                                                \
  do {                                                                       \
    if (vmx__guest_buf(t, (addr), (len), &name))                             \
      return -EFAULT;                                                        \
  } while (0)

#endif
