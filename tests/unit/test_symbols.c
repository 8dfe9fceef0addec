/* The ELF/DWARF symboliser, on riscv64 programs compiled here from a source
 * this test writes (so function addresses come from riscv64-linux-gnu-nm
 * and lines from the source), and on broken files that must be refused. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/error.h"
#include "debug/symbols.h"

/* Line numbers below are the source's: keep them in step with it. */
static const char program_source[] =
    "int counter;\n"                      /* 1 */
    "int add_one(int x) {\n"              /* 2 */
    "  counter++;\n"                      /* 3 */
    "  return x + 1;\n"                   /* 4 */
    "}\n"                                 /* 5 */
    "int main(void) {\n"                  /* 6 */
    "  return add_one(41) - 42;\n"        /* 7 */
    "}\n";                                /* 8 */
#define ADD_ONE_FIRST_LINE 2
#define ADD_ONE_LAST_LINE 5
#define MAIN_FIRST_LINE 6

static char dir[] = "/tmp/vmx-symbols-XXXXXX";
static char path_static[128], path_pie[128], path_scratch[128];

static void run(const char *cmd) {
  if (system(cmd) != 0)
    fail_msg("command failed: %s", cmd);
}

static uint64_t nm_address(const char *elf, const char *symbol) {
  char cmd[512], line[256];
  snprintf(cmd, sizeof cmd, "riscv64-linux-gnu-nm %s", elf);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  uint64_t found = 0;
  bool seen = false;
  while (fgets(line, sizeof line, p)) {
    unsigned long long addr;
    char type, name[128];
    if (sscanf(line, "%llx %c %127s", &addr, &type, name) == 3 && strcmp(name, symbol) == 0) {
      found = addr;
      seen = true;
    }
  }
  pclose(p);
  if (!seen)
    fail_msg("%s: no symbol %s in nm's output", elf, symbol);
  return found;
}

static int setup(void **state) {
  if (system("command -v riscv64-linux-gnu-gcc >/dev/null 2>&1") != 0) {
    fprintf(stderr, "riscv64-linux-gnu-gcc not found: install gcc-riscv64-linux-gnu\n");
    return -1;
  }
  if (!mkdtemp(dir))
    return -1;
  char src[128], cmd[512];
  snprintf(src, sizeof src, "%s/prog.c", dir);
  FILE *f = fopen(src, "w");
  if (!f)
    return -1;
  fputs(program_source, f);
  fclose(f);
  snprintf(path_static, sizeof path_static, "%s/prog", dir);
  snprintf(path_pie, sizeof path_pie, "%s/prog-pie", dir);
  snprintf(path_scratch, sizeof path_scratch, "%s/scratch", dir);
  snprintf(cmd, sizeof cmd,
           "cd %s && riscv64-linux-gnu-gcc -g -O0 -static -o prog prog.c && "
           "riscv64-linux-gnu-gcc -g -O0 -fPIE -pie -o prog-pie prog.c",
           dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static vmx_symbols_t *open_ok(const char *path, uint64_t bias) {
  vmx_symbols_t *sym;
  char err[256] = "";
  int rc = vmx_symbols_open(path, bias, &sym, err, sizeof err);
  if (rc != 0)
    fail_msg("vmx_symbols_open(%s): %d %s", path, rc, err);
  return sym;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_function_start_gives_name_file_and_line(void **state) {
  vmx_symbols_t *sym = open_ok(path_static, 0);
  uint64_t add_one = nm_address(path_static, "add_one");
  vmx_sym_info_t info;
  assert_int_equal(vmx_symbols_lookup(sym, add_one, &info), 0);
  assert_string_equal(info.func, "add_one");
  assert_true(info.func_addr == add_one);
  assert_true(info.offset == 0);
  assert_non_null(info.file);
  assert_true(ends_with(info.file, "prog.c"));
  assert_int_equal(info.line, ADD_ONE_FIRST_LINE);
  char buf[128];
  vmx_symbols_format(sym, add_one, buf, sizeof buf);
  assert_string_equal(buf, "add_one (prog.c:2)");
  uint64_t main_addr = nm_address(path_static, "main");
  assert_int_equal(vmx_symbols_lookup(sym, main_addr, &info), 0);
  assert_string_equal(info.func, "main");
  assert_int_equal(info.line, MAIN_FIRST_LINE);
  vmx_symbols_close(sym);
}

static void test_address_inside_a_function_gives_offset_and_its_line(void **state) {
  vmx_symbols_t *sym = open_ok(path_static, 0);
  uint64_t add_one = nm_address(path_static, "add_one");
  uint64_t main_addr = nm_address(path_static, "main");
  bool saw_body_line = false;
  for (uint64_t a = add_one + 2; a < main_addr; a += 2) {
    vmx_sym_info_t info;
    assert_int_equal(vmx_symbols_lookup(sym, a, &info), 0);
    assert_string_equal(info.func, "add_one");
    assert_true(info.offset == a - add_one);
    assert_true(info.line >= ADD_ONE_FIRST_LINE && info.line <= ADD_ONE_LAST_LINE);
    saw_body_line |= info.line == 3 || info.line == 4;
  }
  assert_true(saw_body_line);
  char buf[128], want[128];
  vmx_symbols_format(sym, add_one + 0x10, buf, sizeof buf);
  vmx_sym_info_t info;
  vmx_symbols_lookup(sym, add_one + 0x10, &info);
  snprintf(want, sizeof want, "add_one+0x10 (prog.c:%d)", info.line);
  assert_string_equal(buf, want);
  vmx_symbols_close(sym);
}

static void test_data_symbols_have_names_without_lines(void **state) {
  vmx_symbols_t *sym = open_ok(path_static, 0);
  uint64_t counter = nm_address(path_static, "counter");
  char buf[128];
  vmx_symbols_format(sym, counter, buf, sizeof buf);
  assert_string_equal(buf, "counter");
  vmx_symbols_close(sym);
}

static void test_unknown_addresses_print_as_hex(void **state) {
  vmx_symbols_t *sym = open_ok(path_static, 0);
  vmx_sym_info_t info;
  char buf[64];
  assert_int_equal(vmx_symbols_lookup(sym, 0x10, &info), VMX_ENOENT);
  assert_null(info.func);
  vmx_symbols_format(sym, 0x10, buf, sizeof buf);
  assert_string_equal(buf, "0x10");
  assert_int_equal(vmx_symbols_lookup(sym, 0xffffffff80000000ull, &info), VMX_ENOENT);
  vmx_symbols_format(NULL, 0x80200000, buf, sizeof buf);
  assert_string_equal(buf, "0x80200000");
  vmx_symbols_close(sym);
}

static void test_format_truncates_like_snprintf(void **state) {
  vmx_symbols_t *sym = open_ok(path_static, 0);
  uint64_t add_one = nm_address(path_static, "add_one");
  char buf[8];
  size_t n = vmx_symbols_format(sym, add_one, buf, sizeof buf);
  assert_int_equal(n, strlen("add_one (prog.c:2)"));
  assert_string_equal(buf, "add_one");
  vmx_symbols_close(sym);
}

static void test_bias_moves_a_pie_to_its_load_address(void **state) {
  const uint64_t base = 0x2aaaaaa000ull;
  vmx_symbols_t *sym = open_ok(path_pie, base);
  uint64_t add_one = nm_address(path_pie, "add_one");
  vmx_sym_info_t info;
  assert_int_equal(vmx_symbols_lookup(sym, base + add_one + 4, &info), 0);
  assert_string_equal(info.func, "add_one");
  assert_true(info.func_addr == base + add_one && info.offset == 4);
  assert_int_equal(info.line, ADD_ONE_FIRST_LINE);
  /* Below the bias nothing is mapped. */
  assert_int_equal(vmx_symbols_lookup(sym, add_one, &info), VMX_ENOENT);
  vmx_symbols_close(sym);
}

typedef struct {
  vmx_symbols_t *sym;
  uint64_t add_one;
  int failures;
} lookers_t;

static void *look_many_times(void *arg) {
  lookers_t *l = arg;
  for (int i = 0; i < 2000; i++) {
    char buf[128];
    vmx_symbols_format(l->sym, l->add_one + 4 * (uint64_t)(i % 4), buf, sizeof buf);
    if (strncmp(buf, "add_one", 7) != 0)
      __atomic_fetch_add(&l->failures, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void test_lookups_from_several_threads(void **state) {
  lookers_t l = {open_ok(path_static, 0), nm_address(path_static, "add_one"), 0};
  pthread_t threads[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&threads[i], NULL, look_many_times, &l), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(threads[i], NULL);
  assert_int_equal(l.failures, 0);
  vmx_symbols_close(l.sym);
}

/* Opening path must fail with code, and the message must name the file. */
static void expect_refused(const char *path, int code, const char *what) {
  vmx_symbols_t *sym = (vmx_symbols_t *)1;
  char err[256] = "";
  int rc = vmx_symbols_open(path, 0, &sym, err, sizeof err);
  if (rc != code)
    fail_msg("%s: got %d (%s), want %d", what, rc, err, code);
  assert_null(sym);
  assert_non_null(strstr(err, path));
  if (strlen(err) <= strlen(path) + 2)
    fail_msg("%s: message without a reason: %s", what, err);
}

static void write_scratch(const void *bytes, size_t n) {
  FILE *f = fopen(path_scratch, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  fclose(f);
}

static void test_missing_and_non_files_are_refused(void **state) {
  char missing[160];
  snprintf(missing, sizeof missing, "%s/no-such-file", dir);
  expect_refused(missing, VMX_ENOENT, "missing file");
  expect_refused(dir, VMX_EBADELF, "a directory");
}

static void test_garbage_is_refused(void **state) {
  write_scratch("", 0);
  expect_refused(path_scratch, VMX_EBADELF, "empty file");
  write_scratch("this is not an ELF file\n", 24);
  expect_refused(path_scratch, VMX_EBADELF, "text file");
  uint8_t junk[4096];
  srand(7);
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (uint8_t)rand();
  memcpy(junk, "\x7f" "ELF\x02\x01\x01", 7); /* an ELF ident over random headers */
  write_scratch(junk, sizeof junk);
  expect_refused(path_scratch, VMX_EBADELF, "random bytes behind an ELF ident");
}

static void test_truncated_elf_is_refused(void **state) {
  FILE *f = fopen(path_static, "rb");
  assert_non_null(f);
  static uint8_t image[8 << 20];
  size_t size = fread(image, 1, sizeof image, f);
  fclose(f);
  assert_true(size > 4096 && size < sizeof image);
  const size_t cuts[] = {16, 63, 64, 200, 4096, size / 2, size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    write_scratch(image, cuts[i]);
    char what[64];
    snprintf(what, sizeof what, "file cut to %zu bytes", cuts[i]);
    expect_refused(path_scratch, VMX_EBADELF, what);
  }
  /* Whole file, section headers pointed past its end. */
  uint64_t shoff = (uint64_t)size + 0x1000;
  memcpy(image + 0x28, &shoff, 8); /* e_shoff in an ELF64 header */
  write_scratch(image, size);
  expect_refused(path_scratch, VMX_EBADELF, "e_shoff past the end");
}

static void test_stripped_elf_is_refused(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "riscv64-linux-gnu-strip -o %s %s", path_scratch, path_static);
  run(cmd);
  expect_refused(path_scratch, VMX_EBADELF, "stripped program");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_function_start_gives_name_file_and_line),
      cmocka_unit_test(test_address_inside_a_function_gives_offset_and_its_line),
      cmocka_unit_test(test_data_symbols_have_names_without_lines),
      cmocka_unit_test(test_unknown_addresses_print_as_hex),
      cmocka_unit_test(test_format_truncates_like_snprintf),
      cmocka_unit_test(test_bias_moves_a_pie_to_its_load_address),
      cmocka_unit_test(test_lookups_from_several_threads),
      cmocka_unit_test(test_missing_and_non_files_are_refused),
      cmocka_unit_test(test_garbage_is_refused),
      cmocka_unit_test(test_truncated_elf_is_refused),
      cmocka_unit_test(test_stripped_elf_is_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
