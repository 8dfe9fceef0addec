/* Loading boot images into guest RAM (src/machine/boot.c): Debian's OpenSBI
 * loads at 0x80000000 as a binary and as an ELF; Linux Images load at the
 * address given with their bss; a bare-metal ELF built here gives its
 * tohost/fromhost; initrd, device tree and fw_dynamic_info go where QEMU
 * 7.2 puts them; truncated, garbage, x86 and malformed files and images too
 * big for RAM are refused with a message naming the file and the problem;
 * and a few seconds of random mutations of a small ELF and Image never make
 * the loader touch memory outside RAM (RAM sits between guard pages).
 *
 * The cross compiler comes from the compile definition VMX_RISCV64_CC
 * (tests/unit/fdt.cmake), else riscv64-linux-gnu-gcc on PATH. The fuzz test
 * runs VMX_FUZZ_SECONDS (default 3) with seed VMX_FUZZ_SEED (default: the
 * time, printed). Debian's kernel is loaded too when the test-asset cache
 * ($VMX_CACHE or ~/.cache/vmx) holds it. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libfdt.h>

#include "fuzz.h"
#include "base/error.h"
#include "machine/boot.h"
#include "machine/fdt.h"

#ifndef VMX_RISCV64_CC
#define VMX_RISCV64_CC "riscv64-linux-gnu-gcc"
#endif

#define OPENSBI_DIR "/usr/lib/riscv64-linux-gnu/opensbi/generic"
#define RAM_BASE UINT64_C(0x80000000)
#define KERNEL_ADDR UINT64_C(0x80200000)
#define MiB (UINT64_C(1) << 20)
#define PAGE 4096u
#define FILL 0xaa            /* RAM's contents before a load */

extern char **environ;
static char tmp_dir[] = "/tmp/vmx-test-boot-XXXXXX";
static char baremetal[128];  /* the bare-metal ELF built at setup */
static uint64_t sym_start, sym_tohost, sym_fromhost;   /* its symbols, from nm */

/* ---- guest RAM between guard pages ------------------------------------------ */

typedef struct ram {
  uint8_t *host;
  uint64_t base, size;
} ram_t;

static ram_t ram_new(uint64_t size) {
  uint8_t *map = mmap(NULL, size + 2 * PAGE, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  assert_true(map != MAP_FAILED);
  assert_int_equal(mprotect(map + PAGE, size, PROT_READ | PROT_WRITE), 0);
  return (ram_t){map + PAGE, RAM_BASE, size};
}

static void ram_free(ram_t *r) { munmap(r->host - PAGE, r->size + 2 * PAGE); }

static uint8_t *at(const ram_t *r, uint64_t addr) { return r->host + (addr - r->base); }

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static void wr64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- files -------------------------------------------------------------------- */

static const char *tmp_path(const char *name) {
  static char path[8][160];
  static unsigned next;
  char *p = path[next++ % 8];
  snprintf(p, sizeof path[0], "%s/%s", tmp_dir, name);
  return p;
}

static const char *write_bytes(const char *name, const void *buf, size_t len) {
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return path;
}

static uint8_t *read_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("%s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  uint8_t *buf = malloc(*len ? *len : 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, *len, f), *len);
  fclose(f);
  return buf;
}

/* A sparse file of len bytes. */
static const char *sparse_file(const char *name, uint64_t len) {
  const char *path = tmp_path(name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)len), 0);
  assert_int_equal(pwrite(fd, "initrd", 6, 0), 6);
  close(fd);
  return path;
}

/* A Linux Image: the header of boot-image-header.rst and payload bytes of
 * pattern, image_size (with bss) as given. Returns the file's length. */
static size_t make_image(uint8_t *buf, size_t payload, uint64_t image_size) {
  memset(buf, 0, 64);
  memcpy(buf, "MZ\x6f\x10", 4);                 /* code0: c.li s4,-13; EFI's "MZ" */
  wr64(buf + 0x08, 0x200000);                   /* text_offset */
  wr64(buf + 0x10, image_size);
  wr64(buf + 0x20, 2);                          /* version 0.2 */
  memcpy(buf + 0x30, "RISCV\0\0\0", 8);
  memcpy(buf + 0x38, "RSC\x05", 4);
  for (size_t i = 0; i < payload; i++)
    buf[64 + i] = (uint8_t)(i * 13 + 5);
  return 64 + payload;
}

/* ---- checking results --------------------------------------------------------- */

static void expect_msg(const char *err, const char *words) {
  if (!strstr(err, words))
    fail_msg("message \"%s\" does not say \"%s\"", err, words);
}

static void expect_kernel_refused(const char *path, uint64_t ram_size, int code,
                                  const char *words) {
  ram_t r = ram_new(ram_size);
  vmx_boot_image_t img = {.entry = 1};
  char err[512] = "";
  int rc = vmx_boot_load_kernel(path, r.host, r.base, r.size, KERNEL_ADDR, &img, err, sizeof err);
  if (rc != code)
    fail_msg("%s: got %d (%s), want %d", path, rc, err, code);
  assert_int_equal(img.entry, 1);       /* untouched on failure */
  expect_msg(err, path);
  expect_msg(err, words);
  ram_free(&r);
}

static vmx_boot_image_t load_kernel_ok(const ram_t *r, const char *path, uint64_t load_addr) {
  vmx_boot_image_t img;
  char err[512] = "";
  int rc = vmx_boot_load_kernel(path, r->host, r->base, r->size, load_addr, &img, err, sizeof err);
  if (rc)
    fail_msg("%s: %d %s", path, rc, err);
  return img;
}

/* The highest end of the PT_LOAD segments of an ELF in memory. */
static uint64_t elf_end(const uint8_t *elf) {
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
  uint64_t end = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff) + i;
    if (ph->p_type == PT_LOAD && ph->p_paddr + ph->p_memsz > end)
      end = ph->p_paddr + ph->p_memsz;
  }
  return end;
}

/* Each PT_LOAD's bytes in RAM are the file's, its tail beyond filesz zero
 * (a header prefix below RAM is not loaded). */
static void expect_segments_loaded(const ram_t *r, const uint8_t *elf) {
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
  bool zero_filled = false;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff) + i;
    if (ph->p_type != PT_LOAD)
      continue;
    uint64_t skip = ph->p_paddr < r->base ? r->base - ph->p_paddr : 0;
    assert_true(skip <= ph->p_filesz);
    assert_memory_equal(at(r, ph->p_paddr + skip), elf + ph->p_offset + skip,
                        ph->p_filesz - skip);
    for (uint64_t b = ph->p_filesz; b < ph->p_memsz; b++, zero_filled = true)
      if (at(r, ph->p_paddr)[b])
        fail_msg("segment %u byte 0x%" PRIx64 " not zero-filled", i, b);
  }
  assert_true(zero_filled);
}

/* ---- firmware ----------------------------------------------------------------- */

static void test_opensbi_bin_loads_at_ram_base(void **state) {
  ram_t r = ram_new(128 * MiB);
  memset(r.host, FILL, 4 * MiB);
  size_t len;
  uint8_t *bin = read_bytes(OPENSBI_DIR "/fw_dynamic.bin", &len);
  vmx_boot_image_t fw;
  char err[256];
  assert_int_equal(vmx_boot_load_firmware(OPENSBI_DIR "/fw_dynamic.bin", r.host, r.base, r.size,
                                          &fw, err, sizeof err), 0);
  assert_int_equal(fw.entry, RAM_BASE);
  assert_int_equal(fw.start, RAM_BASE);
  assert_int_equal(fw.end, RAM_BASE + len);
  assert_false(fw.elf);
  assert_memory_equal(r.host, bin, len);
  assert_int_equal(r.host[len], FILL);
  assert_int_equal(vmx_boot_kernel_addr(fw.end), KERNEL_ADDR);
  free(bin);
  ram_free(&r);
}

static void test_opensbi_elf_loads_like_the_bin(void **state) {
  ram_t r = ram_new(128 * MiB);
  memset(r.host, FILL, 4 * MiB);
  size_t len, bin_len;
  uint8_t *elf = read_bytes(OPENSBI_DIR "/fw_dynamic.elf", &len);
  uint8_t *bin = read_bytes(OPENSBI_DIR "/fw_dynamic.bin", &bin_len);
  vmx_boot_image_t fw;
  char err[256];
  assert_int_equal(vmx_boot_load_firmware(OPENSBI_DIR "/fw_dynamic.elf", r.host, r.base, r.size,
                                          &fw, err, sizeof err), 0);
  assert_int_equal(fw.entry, RAM_BASE);
  assert_int_equal(fw.start, RAM_BASE);
  assert_int_equal(fw.end, elf_end(elf));
  assert_true(fw.elf);
  assert_memory_equal(r.host, bin, bin_len);
  expect_segments_loaded(&r, elf);
  assert_int_equal(vmx_boot_kernel_addr(fw.end), KERNEL_ADDR);
  free(elf);
  free(bin);
  ram_free(&r);
}

/* ---- kernels ------------------------------------------------------------------ */

static void test_image_loads_at_load_addr_with_bss_zeroed(void **state) {
  static uint8_t buf[64 + 8192];
  size_t len = make_image(buf, 8192, 0x300000);
  const char *path = write_bytes("Image", buf, len);
  ram_t r = ram_new(16 * MiB);
  memset(r.host, FILL, r.size);
  vmx_boot_image_t k = load_kernel_ok(&r, path, KERNEL_ADDR);
  assert_int_equal(k.entry, KERNEL_ADDR);
  assert_int_equal(k.start, KERNEL_ADDR);
  assert_int_equal(k.end, KERNEL_ADDR + 0x300000);
  assert_false(k.elf);
  assert_int_equal(k.tohost, 0);
  assert_memory_equal(at(&r, KERNEL_ADDR), buf, len);
  for (uint64_t b = len; b < 0x300000; b++)
    if (at(&r, KERNEL_ADDR)[b])
      fail_msg("bss byte 0x%" PRIx64 " not zeroed", b);
  assert_int_equal(*at(&r, KERNEL_ADDR - 1), FILL);
  assert_int_equal(*at(&r, KERNEL_ADDR + 0x300000), FILL);
  ram_free(&r);
}

static void test_image_too_big_for_ram_is_refused(void **state) {
  static uint8_t buf[64 + 4096];
  size_t len = make_image(buf, 4096, 64 * MiB);
  expect_kernel_refused(write_bytes("Image.big", buf, len), 16 * MiB, VMX_ENOSPACE,
                        "does not fit in 16 MiB of RAM");
  /* Fits in RAM but runs into the top 2 MiB, where the device tree goes. */
  len = make_image(buf, 4096, 13 * MiB);
  expect_kernel_refused(write_bytes("Image.fdt", buf, len), 16 * MiB, VMX_ENOSPACE,
                        "overlaps the device-tree area");
}

static void test_debian_kernel_image_loads(void **state) {
  const char *cache = getenv("VMX_CACHE"), *home = getenv("HOME");
  char pattern[512];
  if (cache)
    snprintf(pattern, sizeof pattern, "%s/debian/pkgs/linux-image-*/boot/vmlinux-*", cache);
  else
    snprintf(pattern, sizeof pattern, "%s/.cache/vmx/debian/pkgs/linux-image-*/boot/vmlinux-*",
             home ? home : "/root");
  glob_t g;
  if (glob(pattern, 0, NULL, &g) || !g.gl_pathc) {
    print_message("no Debian kernel in the test cache (%s): skipped\n", pattern);
    skip();
  }
  uint8_t hdr[64];
  FILE *f = fopen(g.gl_pathv[0], "rb");
  assert_non_null(f);
  assert_int_equal(fread(hdr, 1, 64, f), 64);
  fclose(f);
  ram_t r = ram_new(512 * MiB);
  vmx_boot_image_t k = load_kernel_ok(&r, g.gl_pathv[0], KERNEL_ADDR);
  assert_int_equal(k.start, KERNEL_ADDR);
  assert_int_equal(k.end, KERNEL_ADDR + rd64(hdr + 0x10));
  assert_memory_equal(at(&r, KERNEL_ADDR), hdr, 64);
  assert_false(k.elf);
  globfree(&g);
  ram_free(&r);
}

static void test_garbage_and_truncated_files_are_refused(void **state) {
  uint8_t junk[4096];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (uint8_t)(i * 31 + 7);
  expect_kernel_refused(write_bytes("junk", junk, sizeof junk), 16 * MiB, VMX_ENOEXEC,
                        "not a RISC-V Linux Image (no RSC\\x05 magic at 0x38) nor a RISC-V ELF");
  static uint8_t image[64 + 64];
  make_image(image, 64, 0);
  expect_kernel_refused(write_bytes("Image.cut", image, 20), 16 * MiB, VMX_ENOEXEC, "too short");
  expect_kernel_refused(write_bytes("empty", image, 0), 16 * MiB, VMX_ENOEXEC, "too short");
  size_t len;
  uint8_t *elf = read_bytes(baremetal, &len);
  expect_kernel_refused(write_bytes("elf.40", elf, 40), 16 * MiB, VMX_EBADELF,
                        "truncated ELF header");
  expect_kernel_refused(write_bytes("elf.half", elf, len / 2), 16 * MiB, VMX_EBADELF,
                        "past end of file");
  free(elf);
}

static void test_x86_elf_is_named_and_refused(void **state) {
  char self[256];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(n > 0);
  self[n] = '\0';
  expect_kernel_refused(self, 16 * MiB, VMX_ENOEXEC, "ELF for machine 62 (x86-64), not RISC-V");
  ram_t r = ram_new(16 * MiB);
  vmx_boot_image_t img;
  char err[512];
  assert_int_equal(vmx_boot_load_firmware(self, r.host, r.base, r.size, &img, err, sizeof err),
                   VMX_ENOEXEC);
  expect_msg(err, "ELF for machine 62 (x86-64), not RISC-V");
  ram_free(&r);
}

static void test_missing_file_and_directory_are_refused(void **state) {
  expect_kernel_refused(tmp_path("no-such-kernel"), 16 * MiB, VMX_ENOENT, "No such file");
  expect_kernel_refused(tmp_dir, 16 * MiB, VMX_EIO, "is a directory");
  ram_t r = ram_new(16 * MiB);
  vmx_boot_image_t img;
  char err[512];
  assert_int_equal(vmx_boot_load_firmware(tmp_path("no-such-fw"), r.host, r.base, r.size, &img,
                                          err, sizeof err), VMX_ENOENT);
  expect_msg(err, "no-such-fw: cannot open: No such file");
  uint64_t s, e;
  assert_int_equal(vmx_boot_load_initrd(tmp_path("no-such-initrd"), r.host, r.base, r.size,
                                        KERNEL_ADDR, KERNEL_ADDR + MiB, &s, &e, err, sizeof err),
                   VMX_ENOENT);
  expect_msg(err, "no-such-initrd");
  ram_free(&r);
}

/* The first PT_LOAD program header of an ELF in memory. */
static Elf64_Phdr *first_load(uint8_t *elf) {
  Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    Elf64_Phdr *ph = (Elf64_Phdr *)(elf + eh->e_phoff) + i;
    if (ph->p_type == PT_LOAD)
      return ph;
  }
  fail_msg("no PT_LOAD");
  return NULL;
}

static void test_malformed_segments_are_refused(void **state) {
  size_t len;
  uint8_t *elf = read_bytes(baremetal, &len);
  uint8_t *bad = malloc(len);
  static const struct {
    size_t field;            /* offset in Elf64_Phdr */
    uint64_t value;          /* UINT64_MAX - 1: the file's length */
    int code;
    const char *words;
  } cases[] = {
      {offsetof(Elf64_Phdr, p_paddr), 0x10000000, VMX_ENOSPACE, "does not fit in 16 MiB of RAM"},
      {offsetof(Elf64_Phdr, p_paddr), 0x80fff000, VMX_ENOSPACE, "segment "},
      {offsetof(Elf64_Phdr, p_paddr), UINT64_MAX - 0x10, VMX_ENOSPACE, "does not fit"},
      {offsetof(Elf64_Phdr, p_offset), UINT64_MAX - 1, VMX_EBADELF, "past end of file"},
      {offsetof(Elf64_Phdr, p_offset), UINT64_MAX - 8, VMX_EBADELF, "past end of file"},
      {offsetof(Elf64_Phdr, p_memsz), 1, VMX_EBADELF, "file size"},
      {offsetof(Elf64_Phdr, p_memsz), UINT64_MAX, VMX_ENOSPACE, "does not fit"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memcpy(bad, elf, len);
    uint64_t v = cases[i].value == UINT64_MAX - 1 ? len : cases[i].value;
    memcpy((uint8_t *)first_load(bad) + cases[i].field, &v, 8);
    expect_kernel_refused(write_bytes("bad.elf", bad, len), 16 * MiB, cases[i].code,
                          cases[i].words);
  }
  /* p_filesz past the end, with p_memsz grown to match. */
  memcpy(bad, elf, len);
  first_load(bad)->p_filesz = first_load(bad)->p_memsz = len * 2;
  expect_kernel_refused(write_bytes("bad.elf", bad, len), 16 * MiB, VMX_EBADELF,
                        "past end of file");
  /* A refused file leaves RAM alone even when its other segments were fine. */
  ram_t r = ram_new(16 * MiB);
  memset(r.host, FILL, r.size);
  vmx_boot_image_t img;
  char err[256];
  assert_true(vmx_boot_load_kernel(tmp_path("bad.elf"), r.host, r.base, r.size, KERNEL_ADDR,
                                   &img, err, sizeof err) < 0);
  for (uint64_t b = 0; b < r.size; b += 512)
    assert_int_equal(r.host[b], FILL);
  ram_free(&r);
  free(bad);
  free(elf);
}

static void test_baremetal_elf_gives_tohost_and_fromhost(void **state) {
  size_t len;
  uint8_t *elf = read_bytes(baremetal, &len);
  ram_t r = ram_new(16 * MiB);
  memset(r.host, FILL, r.size);
  vmx_boot_image_t k = load_kernel_ok(&r, baremetal, KERNEL_ADDR);
  assert_true(k.elf);
  assert_int_equal(k.entry, sym_start);
  assert_int_equal(k.entry, RAM_BASE);
  assert_int_equal(k.start, RAM_BASE);   /* the header prefix below RAM is cut */
  assert_int_equal(k.end, elf_end(elf));
  assert_int_equal(k.tohost, sym_tohost);
  assert_int_equal(k.fromhost, sym_fromhost);
  expect_segments_loaded(&r, elf);
  vmx_boot_image_t fw;
  char err[256];
  assert_int_equal(vmx_boot_load_firmware(baremetal, r.host, r.base, r.size, &fw, err, sizeof err), 0);
  assert_int_equal(fw.tohost, sym_tohost);
  assert_int_equal(fw.fromhost, sym_fromhost);
  ram_free(&r);
  free(elf);
}

/* ---- initrd, device tree, fw_dynamic_info ------------------------------------ */

static void test_initrd_goes_where_qemu_puts_it(void **state) {
  static const struct { uint64_t ram, start; } cases[] = {
      {128 * MiB, 0x84200000}, {512 * MiB, 0x88200000}, {2048 * MiB, 0x88200000}};
  static uint8_t data[MiB + 5];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i ^ (i >> 8));
  const char *path = write_bytes("initrd", data, sizeof data);
  for (size_t i = 0; i < 3; i++) {
    ram_t r = ram_new(cases[i].ram);
    uint64_t s = 0, e = 0;
    char err[256];
    assert_int_equal(vmx_boot_initrd_addr(cases[i].ram, KERNEL_ADDR), cases[i].start);
    int rc = vmx_boot_load_initrd(path, r.host, r.base, r.size, KERNEL_ADDR,
                                  KERNEL_ADDR + 0x1e6b000, &s, &e, err, sizeof err);
    if (rc)
      fail_msg("%s", err);
    assert_int_equal(s, cases[i].start);
    assert_int_equal(e, cases[i].start + sizeof data);
    assert_memory_equal(at(&r, s), data, sizeof data);
    ram_free(&r);
  }
}

static void test_initrd_too_big_is_refused(void **state) {
  ram_t r = ram_new(128 * MiB);
  uint64_t s = 1, e = 1;
  char err[512];
  const char *path = sparse_file("initrd.big", 200 * MiB);
  assert_int_equal(vmx_boot_load_initrd(path, r.host, r.base, r.size, KERNEL_ADDR,
                                        KERNEL_ADDR + 30 * MiB, &s, &e, err, sizeof err),
                   VMX_ENOSPACE);
  expect_msg(err, path);
  expect_msg(err, "initrd of 200 MiB does not fit");
  expect_msg(err, "128 MiB of RAM");
  assert_int_equal(s, 1);
  ram_free(&r);
}

/* Where QEMU's address would run into the device tree, the initrd moves
 * down, but never onto the kernel. */
static void test_initrd_moves_down_when_qemu_address_does_not_fit(void **state) {
  ram_t r = ram_new(64 * MiB);
  uint64_t s, e, kernel_end = KERNEL_ADDR + 2 * MiB;
  char err[512];
  const char *path = sparse_file("initrd.40m", 40 * MiB);
  assert_int_equal(vmx_boot_load_initrd(path, r.host, r.base, r.size, KERNEL_ADDR, kernel_end,
                                        &s, &e, err, sizeof err), 0);
  assert_true(s >= kernel_end);
  assert_true(s < vmx_boot_initrd_addr(r.size, KERNEL_ADDR));
  assert_int_equal(s % PAGE, 0);
  assert_true(e <= vmx_boot_fw_dynamic_info_addr(vmx_boot_fdt_addr(r.base, r.size, 8192)));
  assert_memory_equal(at(&r, s), "initrd", 6);
  path = sparse_file("initrd.60m", 60 * MiB);
  assert_int_equal(vmx_boot_load_initrd(path, r.host, r.base, r.size, KERNEL_ADDR, kernel_end,
                                        &s, &e, err, sizeof err), VMX_ENOSPACE);
  ram_free(&r);
}

static void test_fdt_address_as_qemu(void **state) {
  assert_int_equal(vmx_boot_fdt_addr(RAM_BASE, 128 * MiB, 4000), 0x87e00000);
  assert_int_equal(vmx_boot_fdt_addr(RAM_BASE, 512 * MiB, 4000), 0x9fe00000);
  /* RAM past 3 GiB: the tree stays below 3 GiB for 32-bit code. */
  assert_int_equal(vmx_boot_fdt_addr(RAM_BASE, 2048 * MiB, 4000), 0xbfe00000);
  assert_int_equal(vmx_boot_fdt_addr(RAM_BASE, 8192 * MiB, 4000), 0xbfe00000);
  /* RAM starting at or above 3 GiB: its end. */
  assert_int_equal(vmx_boot_fdt_addr(0xc0000000, 1024 * MiB, 4000), 0xffe00000);
  assert_int_equal(vmx_boot_fdt_addr(RAM_BASE, 3 * MiB, 3 * MiB), RAM_BASE);
  assert_int_equal(vmx_boot_fdt_addr(RAM_BASE, MiB, 2 * MiB), 0);
  assert_int_equal(vmx_boot_fdt_addr(0x80100000, MiB, 4000), 0);
}

static void test_device_tree_and_fw_dynamic_info_are_placed(void **state) {
  ram_t r = ram_new(512 * MiB);
  vmx_fdt_config_t cfg;
  vmx_fdt_config_virt(&cfg, r.size, 2);
  void *fdt;
  size_t size;
  char err[256];
  assert_int_equal(vmx_fdt_build(&cfg, &fdt, &size, err, sizeof err), 0);
  uint64_t addr = 0;
  assert_int_equal(vmx_boot_place_fdt(r.host, r.base, r.size, fdt, size, &addr, err, sizeof err), 0);
  assert_int_equal(addr, 0x9fe00000);
  assert_memory_equal(at(&r, addr), fdt, size);
  assert_int_equal(fdt_check_full(at(&r, addr), size), 0);
  assert_int_equal(vmx_boot_place_fdt(r.host, r.base, r.size, fdt, size - 1, &addr, err,
                                      sizeof err), VMX_EINVAL);
  expect_msg(err, "device tree");

  uint64_t info = vmx_boot_fw_dynamic_info_addr(addr);
  assert_int_equal(info % 8, 0);
  assert_true(info + VMX_BOOT_FW_DYNAMIC_INFO_SIZE <= addr);
  assert_int_equal(vmx_boot_fw_dynamic_info(r.host, r.base, r.size, info, KERNEL_ADDR,
                                            VMX_BOOT_NEXT_MODE_S, 1, err, sizeof err), 0);
  static const uint64_t want[] = {0x4942534f, 2, KERNEL_ADDR, 1, 0, 1};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(rd64(at(&r, info) + 8 * i), want[i]);
  assert_int_equal(vmx_boot_fw_dynamic_info(r.host, r.base, r.size, info + 4, KERNEL_ADDR, 1, 0,
                                            err, sizeof err), VMX_EINVAL);
  assert_int_equal(vmx_boot_fw_dynamic_info(r.host, r.base, r.size, r.base + r.size - 40,
                                            KERNEL_ADDR, 1, 0, err, sizeof err), VMX_EINVAL);
  assert_int_equal(vmx_boot_fw_dynamic_info(r.host, r.base, r.size, info, KERNEL_ADDR, 2, 0, err,
                                            sizeof err), VMX_EINVAL);
  expect_msg(err, "next mode 2");
  free(fdt);
  ram_free(&r);
}

static void test_overlapping_images_are_named(void **state) {
  vmx_boot_region_t regions[] = {
      {"the firmware fw_dynamic.elf", 0x80000000, 0x80045ac8},
      {"the kernel Image", 0x80200000, 0x8206b000},
      {"the initrd", 0x80040000, 0x80050000},
  };
  char err[256];
  assert_int_equal(vmx_boot_check_overlap(regions, 2, err, sizeof err), 0);
  assert_int_equal(vmx_boot_check_overlap(regions, 3, err, sizeof err), VMX_ENOSPACE);
  expect_msg(err, "the firmware fw_dynamic.elf (0x80000000..0x80045ac8) overlaps the initrd");
}

/* ---- fuzzing ------------------------------------------------------------------ */


/* One random change to buf: a byte, a 16- or 64-bit field set to a value
 * that tends to break loaders, or a cut. Offsets favour the headers. */
static void mutate(uint8_t *buf, size_t *len, size_t max) {
  static const uint64_t big[] = {0, 1, 0x38, 0x40, 0x7fffffff, 0x80000000, 0x80800000,
                                 0xffffffff, UINT64_C(1) << 63, UINT64_MAX, UINT64_MAX - 7};
  static const uint16_t small[] = {0, 1, 2, 56, 64, 255, 256, 257, 0xffff};
  size_t span = rnd() % 2 ? (*len < 512 ? *len : 512) : *len;
  size_t off = span ? rnd() % span : 0;
  switch (rnd() % 6) {
  case 0:
  case 1:
    if (off < *len)
      buf[off] = (uint8_t)rnd();
    break;
  case 2:
    if (off + 8 <= *len)
      wr64(buf + (off & ~(size_t)7), rnd() % 4 ? big[rnd() % 11] : rnd() + *len);
    break;
  case 3:
    if (off + 2 <= *len) {
      uint16_t v = small[rnd() % 9];
      memcpy(buf + (off & ~(size_t)1), &v, 2);
    }
    break;
  case 4:
    *len = *len ? rnd() % *len : 0;
    break;
  default:
    if (*len < max)
      buf[(*len)++] = (uint8_t)rnd();
    break;
  }
}

static void test_fuzz_kernel_loader_never_crashes(void **state) {
  double end = fuzz_begin(3.0);

  size_t elf_len;
  uint8_t *elf = read_bytes(baremetal, &elf_len);
  static uint8_t image[64 + 4096];
  size_t image_len = make_image(image, 4096, 16384);
  size_t max = (elf_len > image_len ? elf_len : image_len) + 64;
  uint8_t *buf = malloc(max);
  /* The mutants live in a memfd, named by its /proc path: no disk I/O. */
  int fd = memfd_create("vmx-boot-fuzz", MFD_CLOEXEC);
  assert_true(fd >= 0);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ram_t r = ram_new(8 * MiB);
  unsigned long runs = 0, loaded = 0;
  do {
    bool use_elf = rnd() % 2;
    size_t len = use_elf ? elf_len : image_len;
    memcpy(buf, use_elf ? elf : image, len);
    for (unsigned m = 1 + rnd() % 8; m; m--)
      mutate(buf, &len, max);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
    vmx_boot_image_t img = {0};
    char err[512] = "";
    int rc = rnd() % 4
                 ? vmx_boot_load_kernel(path, r.host, r.base, r.size, KERNEL_ADDR, &img, err, sizeof err)
                 : vmx_boot_load_firmware(path, r.host, r.base, r.size, &img, err, sizeof err);
    if (rc == 0) {
      loaded++;
      assert_true(img.start >= r.base && img.start <= img.end && img.end <= r.base + r.size);
    } else {
      assert_true(rc < 0 && err[0]);
    }
    runs++;
  } while (now_s() < end);
  print_message("fuzz: %lu files, %lu loaded\n", runs, loaded);
  assert_true(runs > 100);
  close(fd);
  ram_free(&r);
  free(buf);
  free(elf);
}

/* ---- main --------------------------------------------------------------------- */

/* A bare-metal C program with HTIF symbols and 8 KiB of bss, built with
 * cmake/guest.cmake's BAREMETAL flags and -Ttext=0x80000000: ld maps its
 * ELF headers in a first segment just below RAM, which QEMU ignores. */
static const char baremetal_src[] =
    "volatile unsigned long tohost __attribute__((section(\".htif\"), aligned(64)));\n"
    "volatile unsigned long fromhost __attribute__((section(\".htif\"), aligned(64)));\n"
    "char scratch[8192];\n"
    "void _start(void) { scratch[1] = 1; tohost = 1; for (;;) ; }\n";

/* Runs argv, its stdout into out_path when given; returns its exit status. */
static int run(char *const argv[], const char *out_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (out_path)
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc)
    return -1;
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

/* Reads _start, tohost and fromhost from the cross nm's listing. */
static int read_symbols(void) {
  char nm[256], out[160], line[256];
  size_t n = strlen(VMX_RISCV64_CC);
  if (n < 3 || strcmp(VMX_RISCV64_CC + n - 3, "gcc"))
    return -1;
  snprintf(nm, sizeof nm, "%.*snm", (int)(n - 3), VMX_RISCV64_CC);
  snprintf(out, sizeof out, "%s/baremetal.nm", tmp_dir);
  char *argv[] = {nm, baremetal, NULL};
  if (run(argv, out) != 0)
    return -1;
  FILE *f = fopen(out, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f)) {
    uint64_t addr;
    char type, name[64];
    if (sscanf(line, "%" SCNx64 " %c %63s", &addr, &type, name) != 3)
      continue;
    if (!strcmp(name, "_start"))
      sym_start = addr;
    else if (!strcmp(name, "tohost"))
      sym_tohost = addr;
    else if (!strcmp(name, "fromhost"))
      sym_fromhost = addr;
  }
  fclose(f);
  return sym_start && sym_tohost && sym_fromhost ? 0 : -1;
}

static int group_setup(void **state) {
  if (!mkdtemp(tmp_dir))
    return -1;
  char src[160];
  snprintf(src, sizeof src, "%s/baremetal.c", tmp_dir);
  snprintf(baremetal, sizeof baremetal, "%s/baremetal.elf", tmp_dir);
  FILE *f = fopen(src, "w");
  if (!f || fputs(baremetal_src, f) < 0 || fclose(f))
    return -1;
  char *argv[] = {VMX_RISCV64_CC, "-O2", "-march=rv64gc", "-mabi=lp64d", "-static",
                  "-nostdlib", "-nostartfiles", "-fno-pie", "-no-pie", "-Wl,--build-id=none",
                  "-mcmodel=medany", "-Wl,-Ttext=0x80000000", "-o", baremetal, src, NULL};
  if (run(argv, NULL) != 0 || read_symbols() != 0) {
    fprintf(stderr, "%s could not build %s, or nm could not list it\n", VMX_RISCV64_CC,
            baremetal);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  char *argv[] = {"rm", "-rf", tmp_dir, NULL};
  return run(argv, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opensbi_bin_loads_at_ram_base),
      cmocka_unit_test(test_opensbi_elf_loads_like_the_bin),
      cmocka_unit_test(test_image_loads_at_load_addr_with_bss_zeroed),
      cmocka_unit_test(test_image_too_big_for_ram_is_refused),
      cmocka_unit_test(test_debian_kernel_image_loads),
      cmocka_unit_test(test_garbage_and_truncated_files_are_refused),
      cmocka_unit_test(test_x86_elf_is_named_and_refused),
      cmocka_unit_test(test_missing_file_and_directory_are_refused),
      cmocka_unit_test(test_malformed_segments_are_refused),
      cmocka_unit_test(test_baremetal_elf_gives_tohost_and_fromhost),
      cmocka_unit_test(test_initrd_goes_where_qemu_puts_it),
      cmocka_unit_test(test_initrd_too_big_is_refused),
      cmocka_unit_test(test_initrd_moves_down_when_qemu_address_does_not_fit),
      cmocka_unit_test(test_fdt_address_as_qemu),
      cmocka_unit_test(test_device_tree_and_fw_dynamic_info_are_placed),
      cmocka_unit_test(test_overlapping_images_are_named),
      cmocka_unit_test(test_fuzz_kernel_loader_never_crashes),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
