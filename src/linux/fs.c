/* File-system system calls: paths, files, directories, the stat family,
 * fcntl and ioctl. Guest fds are host fds; open flags, AT_* flags, errno
 * values, struct statx/statfs/flock/linux_dirent64/termios and the generic
 * ioctl numbers are the same on riscv64 and x86_64. struct stat is not
 * (vmx__stat_to_guest). */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linux/guest.h"

/* ---- paths ------------------------------------------------------------ */

int vmx__path_in(vmx_linux_thread_t *t, uint64_t addr, char *buf) {
  int64_t n = vmx_linux_mm_string_in(vmx__mm(t), buf, addr, PATH_MAX);
  return n < 0 ? (int)n : 0;
}

bool vmx__path_is_proc_self(const char *path, const char *name) {
  const char *rest;
  if (strncmp(path, "/proc/", 6) != 0)
    return false;
  path += 6;
  if (strncmp(path, "self/", 5) == 0) {
    rest = path + 5;
  } else {
    char *end;
    long pid = strtol(path, &end, 10);
    if (end == path || *end != '/' || pid != getpid())
      return false;
    rest = end + 1;
  }
  return strcmp(rest, name) == 0;
}

const char *vmx__path_host(vmx_linux_proc_t *p, const char *path, char *buf, bool sysroot) {
  if (path[0] != '/')
    return path;
  if (vmx__path_is_proc_self(path, "exe"))
    return p->exe_path;
  if (!sysroot || !p->opts.sysroot || strcmp(path, "/") == 0)
    return path;
  if ((size_t)snprintf(buf, PATH_MAX, "%s%s", p->opts.sysroot, path) >= PATH_MAX)
    return path;
  struct stat st;
  return fstatat(AT_FDCWD, buf, &st, AT_SYMLINK_NOFOLLOW) == 0 ? buf : path;
}

/* Reads guest path a[i] and resolves it for a lookup (sysroot true) or for
 * a change (false: creating, removing, renaming never touches the
 * sysroot). A guest NULL stays NULL (*path == NULL). */
static int path_arg(vmx_linux_thread_t *t, uint64_t addr, char *in, char *out, bool sysroot,
                    const char **path) {
  if (addr == 0) {
    *path = NULL;
    return 0;
  }
  int r = vmx__path_in(t, addr, in);
  if (r)
    return r;
  *path = vmx__path_host(t->proc, in, out, sysroot);
  return 0;
}

#define PATH_ARG(name, addr, sysroot)                                          \
  char name##_in[PATH_MAX], name##_buf[PATH_MAX];                            \
  const char *name;                                                          \
  do {                                                                       \
    int r_ = path_arg(t, (addr), name##_in, name##_buf, (sysroot), &name);  \
    if (r_)                                                                  \
      return r_;                                                             \
  } while (0)

/* ---- the stat family -------------------------------------------------- */

int vmx__stat_to_guest(const struct stat *st, vmx_linux_rv_stat_t *g) {
  memset(g, 0, sizeof *g);
  g->dev = st->st_dev;
  g->ino = st->st_ino;
  g->mode = st->st_mode;
  g->nlink = (uint32_t)st->st_nlink;
  if (g->nlink != st->st_nlink)
    return -EOVERFLOW;
  g->uid = st->st_uid;
  g->gid = st->st_gid;
  g->rdev = st->st_rdev;
  g->size = st->st_size;
  g->blksize = (int32_t)st->st_blksize;
  g->blocks = st->st_blocks;
  g->atime = st->st_atim.tv_sec;
  g->atime_nsec = (uint64_t)st->st_atim.tv_nsec;
  g->mtime = st->st_mtim.tv_sec;
  g->mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
  g->ctime = st->st_ctim.tv_sec;
  g->ctime_nsec = (uint64_t)st->st_ctim.tv_nsec;
  return 0;
}

static int64_t stat_out(vmx_linux_thread_t *t, long r, const struct stat *st, uint64_t addr) {
  if (r == -1)
    return -errno;
  vmx_linux_rv_stat_t g;
  int e = vmx__stat_to_guest(st, &g);
  if (e)
    return e;
  return vmx_linux_mm_copy_out(vmx__mm(t), addr, &g, sizeof g);
}

int64_t vmx_sys_fstatat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], true);
  struct stat st;
  return stat_out(t, syscall(SYS_newfstatat, (int)a[0], path, &st, (int)a[3]), &st, a[2]);
}

int64_t vmx_sys_fstat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  struct stat st;
  return stat_out(t, syscall(SYS_fstat, (int)a[0], &st), &st, a[1]);
}

int64_t vmx_sys_statx(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], true);
  GUEST_BUF(buf, a[4], 256);   /* struct statx: 256 bytes on every arch */
  return vmx__host_ret(syscall(SYS_statx, (int)a[0], path, (int)a[2], (unsigned)a[3], buf));
}

int64_t vmx_sys_statfs(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[0], true);
  GUEST_BUF(buf, a[1], 120);   /* struct statfs: same 120 bytes on both */
  return vmx__host_ret(syscall(SYS_statfs, path, buf));
}

int64_t vmx_sys_fstatfs(vmx_linux_thread_t *t, const uint64_t a[6]) {
  GUEST_BUF(buf, a[1], 120);
  return vmx__host_ret(syscall(SYS_fstatfs, (int)a[0], buf));
}

/* ---- opening, closing, emulated /proc files ---------------------------- */

/* A memfd holding len bytes of data, positioned at 0, for an emulated
 * /proc file. */
static int64_t memfd_with(const void *data, size_t len, int flags) {
  int fd = memfd_create("vmx-proc", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
  if (fd < 0)
    return -errno;
  if (len && write(fd, data, len) != (ssize_t)len) {
    close(fd);
    return -EIO;
  }
  lseek(fd, 0, SEEK_SET);
  return fd;
}

/* /proc/self/cmdline: the guest's argv, not vmx's. */
static int64_t open_cmdline(vmx_linux_thread_t *t, int flags) {
  vmx_linux_mm_t *mm = vmx__mm(t);
  size_t len = mm->arg_end - mm->arg_start;
  char *buf = malloc(len ? len : 1);
  if (!buf)
    return -ENOMEM;
  int64_t r = vmx_linux_mm_copy_in(mm, buf, mm->arg_start, len);
  if (r == 0)
    r = memfd_with(buf, len, flags);
  free(buf);
  return r;
}

/* /proc/self/maps: the guest's mappings at guest addresses. */
static int64_t open_maps(vmx_linux_thread_t *t, int flags) {
  char *data = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&data, &len);
  if (!f)
    return -ENOMEM;
  vmx_linux_mm_write_maps(vmx__mm(t), f);
  fclose(f);
  int64_t r = memfd_with(data, len, flags);
  free(data);
  return r;
}

int64_t vmx_sys_openat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  char in[PATH_MAX], buf[PATH_MAX];
  int r = vmx__path_in(t, a[1], in);
  if (r)
    return r;
  int flags = (int)a[2];
  if (in[0] == '/' && vmx__path_is_proc_self(in, "cmdline"))
    return open_cmdline(t, flags);
  if (in[0] == '/' && vmx__path_is_proc_self(in, "maps"))
    return open_maps(t, flags);
  /* Files a call may create or truncate are not looked up in the sysroot. */
  bool sysroot = !(flags & (O_CREAT | O_TRUNC)) && (flags & O_ACCMODE) == O_RDONLY;
  const char *path = vmx__path_host(t->proc, in, buf, sysroot);
  return vmx__host_ret(syscall(SYS_openat, (int)a[0], path, flags, (mode_t)a[3]));
}

int64_t vmx_sys_close(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_close, (int)a[0]));
}

int64_t vmx_sys_close_range(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_close_range, (unsigned)a[0], (unsigned)a[1], (unsigned)a[2]));
}

int64_t vmx_sys_dup(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_dup, (int)a[0]));
}

int64_t vmx_sys_dup3(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_dup3, (int)a[0], (int)a[1], (int)a[2]));
}

int64_t vmx_sys_memfd_create(vmx_linux_thread_t *t, const uint64_t a[6]) {
  char name[PATH_MAX];
  int r = vmx__path_in(t, a[0], name);
  if (r)
    return r;
  return vmx__host_ret(syscall(SYS_memfd_create, name, (unsigned)a[1]));
}

/* ---- directories and names -------------------------------------------- */

int64_t vmx_sys_getcwd(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[0], a[1], PROT_WRITE);
  if (!buf)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_getcwd, buf, a[1]));
}

int64_t vmx_sys_chdir(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[0], false);
  return vmx__host_ret(syscall(SYS_chdir, path));
}

int64_t vmx_sys_fchdir(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_fchdir, (int)a[0]));
}

int64_t vmx_sys_getdents64(vmx_linux_thread_t *t, const uint64_t a[6]) {
  void *buf = vmx__guest_io(t, a[1], (unsigned)a[2], PROT_WRITE);
  if (!buf)
    return -EFAULT;
  return vmx__host_ret(syscall(SYS_getdents64, (int)a[0], buf, (unsigned)a[2]));
}

int64_t vmx_sys_mkdirat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], false);
  return vmx__host_ret(syscall(SYS_mkdirat, (int)a[0], path, (mode_t)a[2]));
}

int64_t vmx_sys_mknodat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], false);
  return vmx__host_ret(syscall(SYS_mknodat, (int)a[0], path, (mode_t)a[2], (unsigned)a[3]));
}

int64_t vmx_sys_unlinkat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], false);
  return vmx__host_ret(syscall(SYS_unlinkat, (int)a[0], path, (int)a[2]));
}

int64_t vmx_sys_symlinkat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  char target[PATH_MAX];
  int r = vmx__path_in(t, a[0], target);   /* stored as is: not a lookup */
  if (r)
    return r;
  PATH_ARG(path, a[2], false);
  return vmx__host_ret(syscall(SYS_symlinkat, target, (int)a[1], path));
}

int64_t vmx_sys_linkat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(from, a[1], false);
  PATH_ARG(to, a[3], false);
  return vmx__host_ret(syscall(SYS_linkat, (int)a[0], from, (int)a[2], to, (int)a[4]));
}

int64_t vmx_sys_renameat2(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(from, a[1], false);
  PATH_ARG(to, a[3], false);
  return vmx__host_ret(syscall(SYS_renameat2, (int)a[0], from, (int)a[2], to, (unsigned)a[4]));
}

int64_t vmx_sys_readlinkat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  char in[PATH_MAX], buf[PATH_MAX];
  int r = vmx__path_in(t, a[1], in);
  if (r)
    return r;
  if ((int64_t)a[3] <= 0)
    return -EINVAL;
  uint64_t size = a[3];
  if (in[0] == '/' && vmx__path_is_proc_self(in, "exe")) {
    /* the guest program, not vmx (readlink does not NUL-terminate) */
    size_t len = strlen(t->proc->exe_path);
    if (len > size)
      len = size;
    r = vmx_linux_mm_copy_out(vmx__mm(t), a[2], t->proc->exe_path, len);
    return r ? r : (int64_t)len;
  }
  void *out = vmx__guest_io(t, a[2], size, PROT_WRITE);
  if (!out)
    return -EFAULT;
  const char *path = vmx__path_host(t->proc, in, buf, true);
  return vmx__host_ret(syscall(SYS_readlinkat, (int)a[0], path, out, size));
}

int64_t vmx_sys_inotify_init1(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_inotify_init1, (int)a[0]));
}

int64_t vmx_sys_inotify_add_watch(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], true);
  return vmx__host_ret(syscall(SYS_inotify_add_watch, (int)a[0], path, (uint32_t)a[2]));
}

int64_t vmx_sys_inotify_rm_watch(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_inotify_rm_watch, (int)a[0], (int)a[1]));
}

/* ---- attributes ------------------------------------------------------- */

int64_t vmx_sys_faccessat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], true);
  return vmx__host_ret(syscall(SYS_faccessat, (int)a[0], path, (int)a[2]));
}

int64_t vmx_sys_faccessat2(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], true);
  return vmx__host_ret(syscall(SYS_faccessat2, (int)a[0], path, (int)a[2], (int)a[3]));
}

int64_t vmx_sys_fchmod(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_fchmod, (int)a[0], (mode_t)a[1]));
}

int64_t vmx_sys_fchmodat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], false);
  return vmx__host_ret(syscall(SYS_fchmodat, (int)a[0], path, (mode_t)a[2]));
}

int64_t vmx_sys_fchown(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_fchown, (int)a[0], (uid_t)a[1], (gid_t)a[2]));
}

int64_t vmx_sys_fchownat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], false);
  return vmx__host_ret(
      syscall(SYS_fchownat, (int)a[0], path, (uid_t)a[2], (gid_t)a[3], (int)a[4]));
}

int64_t vmx_sys_utimensat(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[1], false);
  GUEST_BUF(times, a[2], 2 * 16);   /* struct timespec[2]: same on both */
  return vmx__host_ret(syscall(SYS_utimensat, (int)a[0], path, times, (int)a[3]));
}

int64_t vmx_sys_truncate(vmx_linux_thread_t *t, const uint64_t a[6]) {
  PATH_ARG(path, a[0], false);
  return vmx__host_ret(syscall(SYS_truncate, path, (off_t)a[1]));
}

int64_t vmx_sys_ftruncate(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_ftruncate, (int)a[0], (off_t)a[1]));
}

int64_t vmx_sys_fallocate(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_fallocate, (int)a[0], (int)a[1], (off_t)a[2], (off_t)a[3]));
}

int64_t vmx_sys_umask(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_umask, (mode_t)a[0]));
}

int64_t vmx_sys_flock(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_flock, (int)a[0], (int)a[1]));
}

int64_t vmx_sys_sync(vmx_linux_thread_t *t, const uint64_t a[6]) {
  sync();
  return 0;
}

int64_t vmx_sys_fsync(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_fsync, (int)a[0]));
}

int64_t vmx_sys_fdatasync(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx__host_ret(syscall(SYS_fdatasync, (int)a[0]));
}

/* ---- fcntl ------------------------------------------------------------ */

/* The argument of an fcntl command: an integer, or a pointer to a struct
 * of the given size (the same layout on both ABIs). */
static int fcntl_arg_size(int cmd) {
  switch (cmd) {
  case F_DUPFD: case F_GETFD: case F_SETFD: case F_GETFL: case F_SETFL:
  case F_SETOWN: case F_GETOWN: case F_SETSIG: case F_GETSIG:
  case F_SETLEASE: case F_GETLEASE: case F_NOTIFY: case F_DUPFD_CLOEXEC:
  case F_SETPIPE_SZ: case F_GETPIPE_SZ: case F_ADD_SEALS: case F_GET_SEALS:
    return 0;
  case F_GETLK: case F_SETLK: case F_SETLKW:
  case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
    return 32;   /* struct flock */
  case F_GETOWN_EX: case F_SETOWN_EX:
    return 8;    /* struct f_owner_ex */
  case F_GET_RW_HINT: case F_SET_RW_HINT: case F_GET_FILE_RW_HINT: case F_SET_FILE_RW_HINT:
    return 8;    /* uint64_t */
  default:
    return -1;
  }
}

int64_t vmx_sys_fcntl(vmx_linux_thread_t *t, const uint64_t a[6]) {
  int cmd = (int)a[1];
  int size = fcntl_arg_size(cmd);
  if (size < 0)
    return -EINVAL;
  if (size == 0)
    return vmx__host_ret(syscall(SYS_fcntl, (int)a[0], cmd, (unsigned long)a[2]));
  GUEST_BUF(arg, a[2], (uint64_t)size);
  return vmx__host_ret(syscall(SYS_fcntl, (int)a[0], cmd, arg));
}

/* ---- ioctl ------------------------------------------------------------ */

/* The ioctls passed to the host: those whose argument is an integer
 * (size 0), nothing (size 0) or a flat struct of `size` bytes with no
 * pointers inside (the kernel would take a guest pointer inside for a host
 * one). Termios structs are the kernel's, the same on both ABIs. */
static const struct ioctl_rule {
  unsigned cmd;
  unsigned size;
} ioctl_rules[] = {
    {TCGETS, 36}, {TCSETS, 36}, {TCSETSW, 36}, {TCSETSF, 36},
    {TCGETA, 18}, {TCSETA, 18}, {TCSETAW, 18}, {TCSETAF, 18},
    {_IOC(_IOC_READ, 'T', 0x2A, 44), 44},   /* TCGETS2 and friends: struct termios2 */
    {_IOC(_IOC_WRITE, 'T', 0x2B, 44), 44},
    {_IOC(_IOC_WRITE, 'T', 0x2C, 44), 44},
    {_IOC(_IOC_WRITE, 'T', 0x2D, 44), 44},
    {TCSBRK, 0}, {TCSBRKP, 0}, {TCXONC, 0}, {TCFLSH, 0},
    {TIOCEXCL, 0}, {TIOCNXCL, 0}, {TIOCSCTTY, 0}, {TIOCNOTTY, 0},
    {TIOCGPGRP, 4}, {TIOCSPGRP, 4}, {TIOCGSID, 4}, {TIOCOUTQ, 4}, {TIOCSTI, 1},
    {TIOCGWINSZ, 8}, {TIOCSWINSZ, 8},
    {TIOCMGET, 4}, {TIOCMBIS, 4}, {TIOCMBIC, 4}, {TIOCMSET, 4},
    {TIOCGSOFTCAR, 4}, {TIOCSSOFTCAR, 4}, {TIOCPKT, 4}, {TIOCGETD, 4}, {TIOCSETD, 4},
    {TIOCSBRK, 0}, {TIOCCBRK, 0}, {TIOCGPTN, 4}, {TIOCSPTLCK, 4}, {TIOCGPTPEER, 0},
    {TIOCGDEV, 4}, {TIOCGPKT, 4}, {TIOCGPTLCK, 4}, {TIOCGEXCL, 4}, {TIOCSERGETLSR, 4},
    {TIOCVHANGUP, 0}, {TIOCCONS, 0},
    {FIONREAD, 4}, {FIONBIO, 4}, {FIOASYNC, 4}, {FIOCLEX, 0}, {FIONCLEX, 0}, {FIOQSIZE, 8},
    {FIGETBSZ, 4}, {FICLONE, 0}, {FICLONERANGE, 32}, {FS_IOC_GETFLAGS, 4},
    {FS_IOC_SETFLAGS, 4}, {FS_IOC_GETVERSION, 4}, {BLKGETSIZE64, 8}, {BLKSSZGET, 4},
};

/* Commands whose argument is an integer even though size says 0. */
static bool ioctl_int_arg(unsigned cmd) {
  switch (cmd) {
  case TCSBRK: case TCSBRKP: case TCXONC: case TCFLSH: case TIOCSCTTY:
  case TIOCGPTPEER: case FICLONE: case TIOCVHANGUP:
    return true;
  default:
    return false;
  }
}

int64_t vmx_sys_ioctl(vmx_linux_thread_t *t, const uint64_t a[6]) {
  unsigned cmd = (unsigned)a[1];
  for (size_t i = 0; i < sizeof ioctl_rules / sizeof ioctl_rules[0]; i++) {
    if (ioctl_rules[i].cmd != cmd)
      continue;
    if (ioctl_rules[i].size == 0)
      return vmx__host_ret(
          syscall(SYS_ioctl, (int)a[0], cmd, ioctl_int_arg(cmd) ? (unsigned long)a[2] : 0ul));
    GUEST_BUF(arg, a[2], ioctl_rules[i].size);
    return vmx__host_ret(syscall(SYS_ioctl, (int)a[0], cmd, arg));
  }
  return -ENOSYS;   /* what qemu-riscv64 7.2 answers for an ioctl it does not know */
}
