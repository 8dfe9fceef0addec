/* The system-call layer (src/linux/syscall.c, fs.c, io.c, net.c): the
 * dispatcher, the unsupported-call report, and the struct translations
 * between the riscv64 and x86_64 ABIs, driven through vmx_linux_syscall()
 * as a guest ecall would. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "linux/guest.h"
#include "linux/user.h"

#define PG 4096u
#define BUF 0x100000ull   /* a guest page the tests use as scratch memory */

typedef struct fixture {
  vmx_linux_proc_t proc;
  vmx_linux_thread_t thread;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_int_equal(vmx_linux_mm_init(&f->proc.mm), 0);
  vmx_linux_thread_t *t = &f->thread;
  assert_int_equal(vmx_rv_cpu_init(&t->cpu, f->proc.mm.base, f->proc.mm.limit, &f->proc.mm.code_gen), 0);
  t->proc = &f->proc;
  t->tid = getpid();
  assert_int_equal(vmx_linux_mm_map(&f->proc.mm, BUF, 4 * PG, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), (int64_t)BUF);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  vmx_rv_cpu_close(&f->thread.cpu);
  vmx_linux_mm_close(&f->proc.mm);
  free(f);
  return 0;
}

/* Makes system call nr with arguments a0..a5 and returns a0. */
static int64_t sys(fixture_t *f, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                   uint64_t a4, uint64_t a5) {
  vmx_rv_cpu_t *cpu = &f->thread.cpu;
  cpu->x[17] = nr;
  cpu->x[10] = a0, cpu->x[11] = a1, cpu->x[12] = a2;
  cpu->x[13] = a3, cpu->x[14] = a4, cpu->x[15] = a5;
  vmx_linux_syscall(&f->thread);
  return (int64_t)cpu->x[10];
}
/* CALL(f, nr, args...): missing arguments are 0. */
#define CALL_(f, nr, a0, a1, a2, a3, a4, a5, ...) sys(f, nr, a0, a1, a2, a3, a4, a5)
#define CALL(f, ...) CALL_(f, __VA_ARGS__, 0, 0, 0, 0, 0, 0)

static uint8_t *guest(fixture_t *f, uint64_t addr) { return f->proc.mm.base + addr; }

/* Runs fn with stderr captured into out. */
static void capture_stderr(char *out, size_t size, void (*fn)(fixture_t *), fixture_t *f) {
  fflush(stderr);
  int saved = dup(2);
  FILE *cap = tmpfile();
  dup2(fileno(cap), 2);
  fn(f);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(cap);
  size_t n = fread(out, 1, size - 1, cap);
  out[n] = 0;
  fclose(cap);
}

/* ---- the riscv64 struct stat ------------------------------------------ */

static void test_stat_layout_is_asm_generic(void **state) {
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, dev), 0);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, ino), 8);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, mode), 16);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, nlink), 20);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, uid), 24);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, gid), 28);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, rdev), 32);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, size), 48);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, blksize), 56);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, blocks), 64);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, atime), 72);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, atime_nsec), 80);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, mtime), 88);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, ctime), 104);
  assert_int_equal(offsetof(vmx_linux_rv_stat_t, ctime_nsec), 112);
  assert_int_equal(sizeof(vmx_linux_rv_stat_t), 128);
}

static void test_stat_translation_moves_every_field(void **state) {
  struct stat st;
  memset(&st, 0, sizeof st);
  st.st_dev = 0x801, st.st_ino = 123456789, st.st_mode = S_IFREG | 0644, st.st_nlink = 3;
  st.st_uid = 1000, st.st_gid = 100, st.st_rdev = 0x503, st.st_size = 1ll << 40;
  st.st_blksize = 4096, st.st_blocks = 99;
  st.st_atim = (struct timespec){1, 2}, st.st_mtim = (struct timespec){3, 4};
  st.st_ctim = (struct timespec){5, 6};
  vmx_linux_rv_stat_t g;
  assert_int_equal(vmx__stat_to_guest(&st, &g), 0);
  assert_int_equal(g.dev, 0x801);
  assert_int_equal(g.ino, 123456789);
  assert_int_equal(g.mode, S_IFREG | 0644);
  assert_int_equal(g.nlink, 3);
  assert_int_equal(g.uid, 1000);
  assert_int_equal(g.gid, 100);
  assert_int_equal(g.rdev, 0x503);
  assert_int_equal(g.size, 1ll << 40);
  assert_int_equal(g.blksize, 4096);
  assert_int_equal(g.blocks, 99);
  assert_int_equal(g.atime, 1);
  assert_int_equal(g.atime_nsec, 2);
  assert_int_equal(g.mtime, 3);
  assert_int_equal(g.mtime_nsec, 4);
  assert_int_equal(g.ctime, 5);
  assert_int_equal(g.ctime_nsec, 6);
  assert_int_equal(g.pad1 | (uint64_t)g.pad2 | g.unused4 | g.unused5, 0);
  st.st_nlink = 1ull << 32;   /* does not fit the guest's 32-bit field */
  assert_int_equal(vmx__stat_to_guest(&st, &g), -EOVERFLOW);
}

static void test_fstat_writes_the_guest_layout(void **state) {
  fixture_t *f = *state;
  FILE *tmp = tmpfile();
  fputs("12345", tmp);
  fflush(tmp);
  memset(guest(f, BUF), 0xff, 128);
  assert_int_equal(CALL(f, 80, fileno(tmp), BUF), 0);   /* fstat */
  vmx_linux_rv_stat_t g;
  memcpy(&g, guest(f, BUF), sizeof g);
  assert_int_equal(g.size, 5);
  assert_true(S_ISREG(g.mode));
  assert_int_equal(g.nlink, 0);   /* tmpfile() is unlinked */
  assert_int_equal(CALL(f, 80, fileno(tmp), 0x7000000), -EFAULT);
  fclose(tmp);
}

/* ---- dispatcher ------------------------------------------------------- */

static void call_unsupported(fixture_t *f) {
  assert_int_equal(CALL(f, 0, 0), -ENOSYS);      /* io_setup: NONE in the table */
  assert_int_equal(CALL(f, 0, 0), -ENOSYS);
  assert_int_equal(CALL(f, 1000, 0), -ENOSYS);   /* outside the table */
  assert_int_equal(CALL(f, 1000, 0), -ENOSYS);
}

static void test_unsupported_call_is_enosys_reported_once(void **state) {
  char err[512];
  capture_stderr(err, sizeof err, call_unsupported, *state);
  assert_string_equal(err, "vmx: unsupported syscall 0 (io_setup)\n"
                           "vmx: unsupported syscall 1000\n");
}

static void call_with_strace(fixture_t *f) {
  f->proc.opts.strace = true;
  CALL(f, 172, 0);   /* getpid */
  f->proc.opts.strace = false;
}

static void test_strace_logs_name_and_result(void **state) {
  char err[512], want[128];
  capture_stderr(err, sizeof err, call_with_strace, *state);
  snprintf(want, sizeof want, "getpid(0x0,0x0,0x0,0x0,0x0,0x0) = %d ", getpid());
  assert_non_null(strstr(err, want));
}

static void test_riscv_hwprobe_is_enosys_like_qemu(void **state) {
  assert_int_equal(CALL((fixture_t *)*state, 258, BUF, 1, 0, 0, 0), -ENOSYS);
}

/* ---- MISC ------------------------------------------------------------- */

static void test_uname_machine_is_riscv64(void **state) {
  fixture_t *f = *state;
  assert_int_equal(CALL(f, 160, BUF), 0);
  assert_string_equal((char *)guest(f, BUF + 4 * 65), "riscv64");
  assert_string_equal((char *)guest(f, BUF), "Linux");
}

static void test_getrandom_and_clock_fill_guest_memory(void **state) {
  fixture_t *f = *state;
  memset(guest(f, BUF), 0, 64);
  assert_int_equal(CALL(f, 278, BUF, 64, 0), 64);
  assert_int_equal(CALL(f, 113, 1 /* CLOCK_MONOTONIC */, BUF + 64), 0);
  int64_t sec;
  memcpy(&sec, guest(f, BUF + 64), 8);
  assert_true(sec > 0);
  assert_int_equal(CALL(f, 113, 1, 0x7000000), -EFAULT);
}

/* ---- files and I/O ---------------------------------------------------- */

static void test_read_into_unmapped_buffer_is_efault(void **state) {
  fixture_t *f = *state;
  int fd = open("/dev/zero", O_RDONLY);
  assert_int_equal(CALL(f, 63, fd, 0x7000000, 10), -EFAULT);
  /* partly mapped: qemu's rule, the whole buffer must be there */
  assert_int_equal(CALL(f, 63, fd, BUF + 4 * PG - 8, 16), -EFAULT);
  assert_int_equal(CALL(f, 63, fd, BUF + 4 * PG - 8, 8), 8);
  assert_int_equal(CALL(f, 63, fd, 0, 0), 0);
  close(fd);
}

static void test_writev_translates_each_iovec(void **state) {
  fixture_t *f = *state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  memcpy(guest(f, BUF + 0x100), "hello ", 6);
  memcpy(guest(f, BUF + 0x200), "world", 5);
  uint64_t iov[4] = {BUF + 0x100, 6, BUF + 0x200, 5};
  memcpy(guest(f, BUF), iov, sizeof iov);
  assert_int_equal(CALL(f, 66, p[1], BUF, 2), 11);   /* writev */
  char out[16] = {0};
  assert_int_equal(read(p[0], out, sizeof out), 11);
  assert_string_equal(out, "hello world");
  /* a bad first buffer faults; a bad later one shortens the transfer */
  iov[0] = 0x7000000;
  memcpy(guest(f, BUF), iov, sizeof iov);
  assert_int_equal(CALL(f, 66, p[1], BUF, 2), -EFAULT);
  iov[0] = BUF + 0x100, iov[2] = 0x7000000;
  memcpy(guest(f, BUF), iov, sizeof iov);
  assert_int_equal(CALL(f, 66, p[1], BUF, 2), 6);
  assert_int_equal(CALL(f, 66, p[1], BUF, 5000), -EINVAL);
  close(p[0]);
  close(p[1]);
}

static void test_epoll_event_is_16_bytes_for_the_guest(void **state) {
  fixture_t *f = *state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  int64_t ep = CALL(f, 20, 0);   /* epoll_create1 */
  assert_true(ep >= 0);
  uint32_t ev_in[4] = {0x1 /* EPOLLIN */, 0xdeadbeef, 0x55667788, 0x11223344};
  memcpy(guest(f, BUF), ev_in, sizeof ev_in);
  assert_int_equal(CALL(f, 21, ep, 1 /* ADD */, p[0], BUF), 0);
  assert_int_equal(write(p[1], "x", 1), 1);
  memset(guest(f, BUF + 0x100), 0xee, 64);
  assert_int_equal(CALL(f, 22, ep, BUF + 0x100, 4, 1000, 0, 8), 1);   /* epoll_pwait */
  uint32_t ev_out[4];
  memcpy(ev_out, guest(f, BUF + 0x100), sizeof ev_out);
  assert_int_equal(ev_out[0], 0x1);
  assert_int_equal(ev_out[2], 0x55667788);   /* data at offset 8 */
  assert_int_equal(ev_out[3], 0x11223344);
  assert_int_equal(CALL(f, 22, ep, BUF + 0x100, 0, 0, 0, 8), -EINVAL);
  close((int)ep);
  close(p[0]);
  close(p[1]);
}

static void test_proc_self_exe_is_the_guest_program(void **state) {
  fixture_t *f = *state;
  strcpy(f->proc.exe_path, "/opt/guest/prog");
  strcpy((char *)guest(f, BUF), "/proc/self/exe");
  assert_int_equal(CALL(f, 78, -100, BUF, BUF + 0x100, 100), 15);   /* readlinkat */
  assert_memory_equal(guest(f, BUF + 0x100), "/opt/guest/prog", 15);
  assert_int_equal(CALL(f, 78, -100, BUF, BUF + 0x100, 4), 4);
  snprintf((char *)guest(f, BUF), 64, "/proc/%d/exe", getpid());
  assert_int_equal(CALL(f, 78, -100, BUF, BUF + 0x100, 100), 15);
}

static void test_absolute_paths_look_in_the_sysroot_first(void **state) {
  fixture_t *f = *state;
  char root[] = "/tmp/vmx-test-sysroot-XXXXXX";
  assert_non_null(mkdtemp(root));
  const char *name = strrchr(root, '/');   /* "/vmx-test-sysroot-..." */
  char in_root[PATH_MAX], on_host[PATH_MAX];
  snprintf(in_root, sizeof in_root, "%s/tmp", root);
  assert_int_equal(mkdir(in_root, 0755), 0);
  snprintf(in_root, sizeof in_root, "%s/tmp%s", root, name);
  snprintf(on_host, sizeof on_host, "/tmp%s.host", name);
  FILE *out = fopen(in_root, "w");
  fputs("abc", out);
  fclose(out);
  f->proc.opts.sysroot = root;
  /* a lookup finds the sysroot's file */
  snprintf((char *)guest(f, BUF), PG, "/tmp%s", name);
  int64_t fd = CALL(f, 56, -100, BUF, O_RDONLY, 0);   /* openat */
  assert_true(fd >= 0);
  char got[4] = {0};
  assert_int_equal(read((int)fd, got, 3), 3);
  assert_string_equal(got, "abc");
  close((int)fd);
  /* a path missing there is the host's */
  strcpy((char *)guest(f, BUF), "/dev/null");
  fd = CALL(f, 56, -100, BUF, O_RDONLY, 0);
  assert_true(fd >= 0);
  close((int)fd);
  /* creating never lands in the sysroot */
  snprintf((char *)guest(f, BUF), PG, "%s", on_host);
  fd = CALL(f, 56, -100, BUF, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  close((int)fd);
  assert_int_equal(access(on_host, F_OK), 0);
  unlink(on_host);
  unlink(in_root);
  snprintf(in_root, sizeof in_root, "%s/tmp", root);
  rmdir(in_root);
  rmdir(root);
}

static void test_bad_path_pointer_is_efault(void **state) {
  fixture_t *f = *state;
  assert_int_equal(CALL(f, 56, -100, 0x7000000, O_RDONLY, 0), -EFAULT);
  memset(guest(f, BUF), 'a', 4 * PG);   /* no NUL anywhere */
  assert_int_equal(CALL(f, 56, -100, BUF, O_RDONLY, 0), -ENAMETOOLONG);
}

static void test_unknown_ioctl_is_refused(void **state) {
  fixture_t *f = *state;
  assert_int_equal(CALL(f, 29, 0, 0x12345678, BUF), -ENOSYS);
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], "abc", 3), 3);
  assert_int_equal(CALL(f, 29, p[0], 0x541B /* FIONREAD */, BUF), 0);
  int avail;
  memcpy(&avail, guest(f, BUF), 4);
  assert_int_equal(avail, 3);
  close(p[0]);
  close(p[1]);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stat_layout_is_asm_generic),
      cmocka_unit_test(test_stat_translation_moves_every_field),
      T(test_fstat_writes_the_guest_layout),
      T(test_unsupported_call_is_enosys_reported_once),
      T(test_strace_logs_name_and_result),
      T(test_riscv_hwprobe_is_enosys_like_qemu),
      T(test_uname_machine_is_riscv64),
      T(test_getrandom_and_clock_fill_guest_memory),
      T(test_read_into_unmapped_buffer_is_efault),
      T(test_writev_translates_each_iovec),
      T(test_epoll_event_is_16_bytes_for_the_guest),
      T(test_proc_self_exe_is_the_guest_program),
      T(test_absolute_paths_look_in_the_sysroot_first),
      T(test_bad_path_pointer_is_efault),
      T(test_unknown_ioctl_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
