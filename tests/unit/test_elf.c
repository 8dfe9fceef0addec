/* The ELF loader (src/linux/elf.c): good programs load where Linux puts
 * them with the stack the riscv64 kernel builds; bad files get one clear
 * line naming the file, and the error code the caller maps to 126/127. */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
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

#include "base/error.h"
#include "linux/elf.h"
#include "linux/user.h"

#define PG 4096u
#define ENTRY_OFF 0x100u   /* entry point: this far into the first segment */

typedef struct fixture {
  vmx_linux_proc_t *proc;
  char dir[64];
  char msg[1024];          /* what the loader printed on stderr */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  f->proc = calloc(1, sizeof *f->proc);
  assert_int_equal(vmx_linux_mm_init(&f->proc->mm), 0);
  strcpy(f->dir, "/tmp/vmx-test-elf-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  vmx_linux_mm_close(&f->proc->mm);
  free(f->proc);
  free(f);
  return 0;
}

/* ---- building test files ---------------------------------------------- */

typedef struct image {
  unsigned char bytes[3 * PG];
  size_t size;
} image_t;

static Elf64_Ehdr *ehdr(image_t *im) { return (Elf64_Ehdr *)im->bytes; }
static Elf64_Phdr *phdr(image_t *im, int i) {
  return (Elf64_Phdr *)(im->bytes + sizeof(Elf64_Ehdr)) + i;
}

/* A riscv64 program of type `type` linked at `vaddr`: one RX segment (the
 * headers and code, file page 0) and one RW segment with bss (file page 1,
 * 0x80 bytes of data, memsz 3 pages), plus PT_INTERP when interp is set. */
static void build(image_t *im, uint16_t type, uint64_t vaddr, const char *interp) {
  memset(im, 0, sizeof *im);
  im->size = 2 * PG;
  Elf64_Ehdr *e = ehdr(im);
  memcpy(e->e_ident, ELFMAG, SELFMAG);
  e->e_ident[EI_CLASS] = ELFCLASS64;
  e->e_ident[EI_DATA] = ELFDATA2LSB;
  e->e_ident[EI_VERSION] = EV_CURRENT;
  e->e_type = type;
  e->e_machine = EM_RISCV;
  e->e_version = EV_CURRENT;
  e->e_entry = vaddr + ENTRY_OFF;
  e->e_phoff = sizeof *e;
  e->e_ehsize = sizeof *e;
  e->e_phentsize = sizeof(Elf64_Phdr);
  e->e_phnum = interp ? 3 : 2;
  *phdr(im, 0) = (Elf64_Phdr){PT_LOAD, PF_R | PF_X, 0, vaddr, vaddr, PG, PG, PG};
  *phdr(im, 1) = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, PG, vaddr + PG, vaddr + PG, 0x80, 3 * PG, PG};
  /* file bytes past the data's filesz, in its page: the loader must zero them */
  memset(im->bytes + PG, 0xd1, PG);
  if (interp) {
    size_t len = strlen(interp) + 1;
    memcpy(im->bytes + 0x200, interp, len);
    *phdr(im, 2) = (Elf64_Phdr){PT_INTERP, PF_R, 0x200, vaddr + 0x200, vaddr + 0x200, len, len, 1};
  }
  memcpy(im->bytes + ENTRY_OFF, "\x73\x00\x00\x00", 4);   /* ecall */
}

static void write_file(fixture_t *f, const char *name, const void *data, size_t size, char *path) {
  snprintf(path, PATH_MAX, "%s/%s", f->dir, name);
  char *slash = strrchr(path, '/');
  *slash = 0;
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", path);
  assert_int_equal(system(cmd), 0);
  *slash = '/';
  FILE *out = fopen(path, "wb");
  assert_non_null(out);
  assert_int_equal(fwrite(data, 1, size, out), size);
  fclose(out);
}

/* Loads path with argv {path, "arg1"} and env {"A=1"}, capturing stderr. */
static int load(fixture_t *f, const char *path, uint64_t *pc, uint64_t *sp) {
  char *argv[] = {(char *)path, "arg1", NULL};
  char *envp[] = {"A=1", NULL};
  fflush(stderr);
  int saved = dup(2);
  FILE *cap = tmpfile();
  dup2(fileno(cap), 2);
  int r = vmx_linux_exec_load(f->proc, path, 2, argv, envp, pc, sp);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(cap);
  size_t n = fread(f->msg, 1, sizeof f->msg - 1, cap);
  f->msg[n] = 0;
  fclose(cap);
  return r;
}

static uint64_t rd64(fixture_t *f, uint64_t guest) {
  uint64_t v;
  memcpy(&v, f->proc->mm.base + guest, 8);
  return v;
}

static const char *str_at(fixture_t *f, uint64_t guest) {
  return (const char *)f->proc->mm.base + guest;
}

/* The value of auxv entry `type` on the stack at sp, or ~0 when absent. */
static uint64_t auxv(fixture_t *f, uint64_t sp, uint64_t type) {
  uint64_t p = sp + 8 * (rd64(f, sp) + 2);   /* past argc, argv, NULL */
  while (rd64(f, p))
    p += 8;
  for (p += 8; rd64(f, p) != AT_NULL; p += 16)
    if (rd64(f, p) == type)
      return rd64(f, p + 8);
  return ~0ull;
}

/* ---- good programs ---------------------------------------------------- */

static void test_static_exec_loads_at_link_address_with_linux_stack(void **state) {
  fixture_t *f = *state;
  image_t im;
  char path[PATH_MAX];
  build(&im, ET_EXEC, 0x10000, NULL);
  write_file(f, "prog", im.bytes, im.size, path);
  uint64_t pc, sp;
  assert_int_equal(load(f, path, &pc, &sp), 0);
  assert_string_equal(f->msg, "");
  assert_int_equal(pc, 0x10000 + ENTRY_OFF);
  assert_int_equal(sp % 16, 0);
  /* argc, argv, envp */
  assert_int_equal(rd64(f, sp), 2);
  assert_string_equal(str_at(f, rd64(f, sp + 8)), path);
  assert_string_equal(str_at(f, rd64(f, sp + 16)), "arg1");
  assert_int_equal(rd64(f, sp + 24), 0);
  assert_string_equal(str_at(f, rd64(f, sp + 32)), "A=1");
  assert_int_equal(rd64(f, sp + 40), 0);
  /* auxv */
  assert_int_equal(auxv(f, sp, AT_PAGESZ), 4096);
  assert_int_equal(auxv(f, sp, AT_ENTRY), pc);
  assert_int_equal(auxv(f, sp, AT_PHDR), 0x10000 + sizeof(Elf64_Ehdr));
  assert_int_equal(auxv(f, sp, AT_PHENT), sizeof(Elf64_Phdr));
  assert_int_equal(auxv(f, sp, AT_PHNUM), 2);
  assert_int_equal(auxv(f, sp, AT_BASE), 0);
  assert_int_equal(auxv(f, sp, AT_HWCAP), 0x112d);   /* I M A F D C */
  assert_int_equal(auxv(f, sp, AT_SECURE), 0);
  assert_int_equal(auxv(f, sp, AT_UID), getuid());
  assert_string_equal(str_at(f, auxv(f, sp, AT_EXECFN)), path);
  uint64_t rnd = auxv(f, sp, AT_RANDOM);
  assert_true(rnd > sp && rnd + 16 <= f->proc->mm.stack_top);
  assert_int_equal(auxv(f, sp, AT_SYSINFO_EHDR), ~0ull);   /* no vDSO */
  /* segments: code present, data's file tail and bss zeroed, brk after bss */
  assert_memory_equal(f->proc->mm.base + pc, "\x73\x00\x00\x00", 4);
  assert_int_equal(f->proc->mm.base[0x11000 + 0x7f], 0xd1);
  assert_int_equal(f->proc->mm.base[0x11000 + 0x80], 0);
  assert_int_equal(f->proc->mm.base[0x11000 + 3 * PG - 1], 0);
  assert_true(vmx_linux_mm_check(&f->proc->mm, 0x10000, PG, PROT_READ | PROT_EXEC));
  assert_false(vmx_linux_mm_check(&f->proc->mm, 0x10000, PG, PROT_WRITE));
  assert_true(vmx_linux_mm_check(&f->proc->mm, 0x11000, 3 * PG, PROT_READ | PROT_WRITE));
  assert_int_equal(f->proc->mm.brk_start, 0x14000);
  /* /proc/self/exe and /proc/self/cmdline data */
  char real[PATH_MAX];
  assert_non_null(realpath(path, real));
  assert_string_equal(f->proc->exe_path, real);
  assert_int_equal(f->proc->mm.arg_end - f->proc->mm.arg_start, strlen(path) + 1 + 5);
}

static void test_pie_goes_to_et_dyn_base_and_interpreter_below_mmap_base(void **state) {
  fixture_t *f = *state;
  image_t prog, interp;
  char ipath[PATH_MAX], path[PATH_MAX];
  build(&interp, ET_DYN, 0, NULL);
  write_file(f, "ld.so", interp.bytes, interp.size, ipath);
  build(&prog, ET_DYN, 0, ipath);
  write_file(f, "pie", prog.bytes, prog.size, path);
  uint64_t pc, sp;
  assert_int_equal(load(f, path, &pc, &sp), 0);
  uint64_t dyn_base = VMX_LINUX_ET_DYN_BASE(f->proc->mm.limit);
  uint64_t at_base = auxv(f, sp, AT_BASE);
  assert_int_equal(auxv(f, sp, AT_ENTRY), dyn_base + ENTRY_OFF);
  assert_int_equal(auxv(f, sp, AT_PHDR), dyn_base + sizeof(Elf64_Ehdr));
  assert_int_equal(auxv(f, sp, AT_PHNUM), 3);
  assert_int_equal(pc, at_base + ENTRY_OFF);
  assert_true(at_base < f->proc->mm.mmap_base && at_base > dyn_base);
  assert_int_equal(f->proc->mm.brk_start, dyn_base + 4 * PG);
}

static void test_interpreter_is_found_under_the_sysroot(void **state) {
  fixture_t *f = *state;
  image_t prog, interp;
  char ipath[PATH_MAX], path[PATH_MAX];
  build(&interp, ET_DYN, 0, NULL);
  write_file(f, "root/lib/ld-test.so.1", interp.bytes, interp.size, ipath);
  build(&prog, ET_EXEC, 0x10000, "/lib/ld-test.so.1");
  write_file(f, "prog", prog.bytes, prog.size, path);
  char root[PATH_MAX];
  snprintf(root, sizeof root, "%s/root", f->dir);
  f->proc->opts.sysroot = root;
  uint64_t pc, sp;
  assert_int_equal(load(f, path, &pc, &sp), 0);
  assert_int_equal(pc, auxv(f, sp, AT_BASE) + ENTRY_OFF);
}

static void test_static_pie_gets_brk_at_et_dyn_base(void **state) {
  fixture_t *f = *state;
  image_t im;
  char path[PATH_MAX];
  build(&im, ET_DYN, 0, NULL);
  write_file(f, "spie", im.bytes, im.size, path);
  uint64_t pc, sp;
  assert_int_equal(load(f, path, &pc, &sp), 0);
  assert_true(pc < f->proc->mm.mmap_base);
  assert_int_equal(auxv(f, sp, AT_BASE), 0);
  assert_int_equal(f->proc->mm.brk_start, VMX_LINUX_ET_DYN_BASE(f->proc->mm.limit));
}

static void test_script_runs_its_interpreter_with_the_script_as_argument(void **state) {
  fixture_t *f = *state;
  image_t im;
  char ipath[PATH_MAX], spath[PATH_MAX];
  build(&im, ET_EXEC, 0x10000, NULL);
  write_file(f, "interp", im.bytes, im.size, ipath);
  char script[PATH_MAX + 32];
  int n = snprintf(script, sizeof script, "#!  %s  -x  \necho hi\n", ipath);
  write_file(f, "script.sh", script, (size_t)n, spath);
  uint64_t pc, sp;
  assert_int_equal(load(f, spath, &pc, &sp), 0);
  assert_int_equal(rd64(f, sp), 4);
  assert_string_equal(str_at(f, rd64(f, sp + 8)), ipath);
  assert_string_equal(str_at(f, rd64(f, sp + 16)), "-x");
  assert_string_equal(str_at(f, rd64(f, sp + 24)), spath);
  assert_string_equal(str_at(f, rd64(f, sp + 32)), "arg1");
  assert_string_equal(str_at(f, auxv(f, sp, AT_EXECFN)), spath);
  char real[PATH_MAX];
  assert_non_null(realpath(ipath, real));
  assert_string_equal(f->proc->exe_path, real);
}

/* ---- bad input -------------------------------------------------------- */

/* Writes data as a file, loads it, and checks the code and message. */
static void expect_failure(fixture_t *f, const void *data, size_t size, int want,
                           const char *want_msg) {
  char path[PATH_MAX], line[PATH_MAX + 256];
  write_file(f, "bad", data, size, path);
  uint64_t pc, sp;
  assert_int_equal(load(f, path, &pc, &sp), want);
  snprintf(line, sizeof line, "vmx: %s: %s\n", path, want_msg);
  assert_string_equal(f->msg, line);
}

static void test_text_file_is_not_an_elf_executable(void **state) {
  expect_failure(*state, "hello world\n", 12, VMX_ENOEXEC, "not an ELF executable");
}

static void test_empty_file_is_not_an_elf_executable(void **state) {
  expect_failure(*state, "", 0, VMX_ENOEXEC, "not an ELF executable");
}

static void test_truncated_file_header_is_reported(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  expect_failure(*state, im.bytes, 40, VMX_ENOEXEC, "truncated ELF (file header)");
}

static void test_x86_64_program_is_not_riscv64(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  ehdr(&im)->e_machine = EM_X86_64;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "not a riscv64 ELF executable (machine x86-64)");
}

static void test_riscv32_program_is_not_riscv64(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  ehdr(&im)->e_ident[EI_CLASS] = ELFCLASS32;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "not a riscv64 ELF executable (machine RISC-V, 32-bit)");
}

static void test_big_endian_program_is_not_riscv64(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  ehdr(&im)->e_ident[EI_DATA] = ELFDATA2MSB;
  ehdr(&im)->e_machine = EM_PPC64 << 8;   /* as a big-endian file holds it */
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "not a riscv64 ELF executable (machine PowerPC64, big-endian)");
}

static void test_object_file_is_not_an_executable(void **state) {
  image_t im;
  build(&im, ET_REL, 0x10000, NULL);
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "not an executable (ELF type 1: relocatable object)");
}

static void test_program_headers_past_end_of_file(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  ehdr(&im)->e_phoff = im.size - 8;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "truncated ELF (program headers past end of file)");
}

static void test_program_header_offset_overflow(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  ehdr(&im)->e_phoff = ~0ull - 8;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "truncated ELF (program headers past end of file)");
}

static void test_segment_past_end_of_file(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  phdr(&im, 1)->p_filesz = PG + 1;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "truncated ELF (segment 1 past end of file)");
}

static void test_segment_file_size_above_memory_size(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  phdr(&im, 1)->p_memsz = 0x10;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "bad segment 1 (file size above memory size)");
}

static void test_segment_outside_the_address_space(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  phdr(&im, 1)->p_vaddr = 1ull << 40;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "segment 1 (0x10000000000) outside the address space");
}

static void test_segments_over_the_stack_are_refused(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x3fffff0000, NULL);
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC,
                 "segments overlap the stack (end 0x3fffff4000)");
}

static void test_bad_program_header_size(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, NULL);
  ehdr(&im)->e_phentsize = 32;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC, "bad ELF program header size 32");
}

static void test_unterminated_interpreter_path(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, "/lib/ld.so");
  phdr(&im, 2)->p_filesz -= 1;
  expect_failure(*state, im.bytes, im.size, VMX_ENOEXEC, "bad interpreter path in PT_INTERP");
}

static void test_missing_interpreter_names_it(void **state) {
  image_t im;
  build(&im, ET_EXEC, 0x10000, "/lib/ld-linux-riscv64-lp64d.so.1-missing");
  expect_failure(*state, im.bytes, im.size, VMX_ENOENT,
                 "interpreter /lib/ld-linux-riscv64-lp64d.so.1-missing not found (use -L SYSROOT)");
}

static void test_missing_program(void **state) {
  fixture_t *f = *state;
  char path[PATH_MAX], line[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/nothing", f->dir);
  uint64_t pc, sp;
  assert_int_equal(load(f, path, &pc, &sp), VMX_ENOENT);
  snprintf(line, sizeof line, "vmx: %s: No such file or directory\n", path);
  assert_string_equal(f->msg, line);
}

static void test_directory_is_not_a_program(void **state) {
  fixture_t *f = *state;
  uint64_t pc, sp;
  char line[PATH_MAX + 64];
  assert_int_equal(load(f, f->dir, &pc, &sp), VMX_ENOEXEC);
  snprintf(line, sizeof line, "vmx: %s: is a directory\n", f->dir);
  assert_string_equal(f->msg, line);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_static_exec_loads_at_link_address_with_linux_stack),
      T(test_pie_goes_to_et_dyn_base_and_interpreter_below_mmap_base),
      T(test_interpreter_is_found_under_the_sysroot),
      T(test_static_pie_gets_brk_at_et_dyn_base),
      T(test_script_runs_its_interpreter_with_the_script_as_argument),
      T(test_text_file_is_not_an_elf_executable),
      T(test_empty_file_is_not_an_elf_executable),
      T(test_truncated_file_header_is_reported),
      T(test_x86_64_program_is_not_riscv64),
      T(test_riscv32_program_is_not_riscv64),
      T(test_big_endian_program_is_not_riscv64),
      T(test_object_file_is_not_an_executable),
      T(test_program_headers_past_end_of_file),
      T(test_program_header_offset_overflow),
      T(test_segment_past_end_of_file),
      T(test_segment_file_size_above_memory_size),
      T(test_segment_outside_the_address_space),
      T(test_segments_over_the_stack_are_refused),
      T(test_bad_program_header_size),
      T(test_unterminated_interpreter_path),
      T(test_missing_interpreter_names_it),
      T(test_missing_program),
      T(test_directory_is_not_a_program),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
