/* The virt machine's device tree (src/machine/fdt.c): the blob passes
 * libfdt's full check for 1, 2 and 4 harts with and without bootargs,
 * initrd and virtio; its nodes, in order, with their properties and their
 * phandle references resolved to paths, are those QEMU 7.2 dumps for the
 * same -smp, -m, -append and -initrd (qemu-system-riscv64 runs during the
 * test), less the devices vmx does not model; the ISA string becomes
 * riscv,isa-base and riscv,isa-extensions; bad configurations are refused
 * with a message.
 *
 * QEMU's path comes from the compile definition VMX_QEMU_SYSTEM_RISCV64
 * (tests/unit/fdt.cmake), else qemu-system-riscv64 on PATH. */
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libfdt.h>

#include "base/error.h"
#include "machine/boot.h"
#include "machine/fdt.h"

#ifndef VMX_QEMU_SYSTEM_RISCV64
#define VMX_QEMU_SYSTEM_RISCV64 "qemu-system-riscv64"
#endif

/* QEMU 7.2's default cpu on virt, which the comparisons configure. */
#define QEMU_ISA "rv64imafdch_zicsr_zifencei_zihintpause_zba_zbb_zbc_zbs_sstc"
#define QEMU_MMU "riscv,sv48"
#define QEMU_PLIC_NDEV 96
#define BOOTARGS "console=ttyS0 earlycon=sbi rdinit=/init"
#define INITRD_SIZE 5000
#define MiB (UINT64_C(1) << 20)

extern char **environ;
static char tmp_dir[] = "/tmp/vmx-test-fdt-XXXXXX";

/* ---- helpers ---------------------------------------------------------------- */

static void path_in_tmp(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmp_dir, name);
}

static void write_file(const char *path, size_t size) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < size; i++)
    fputc((int)(i * 7 + 3), f);
  assert_int_equal(fclose(f), 0);
}

static void *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n > 0);
  rewind(f);
  void *buf = malloc((size_t)n);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return buf;
}

/* Runs argv (output discarded); returns its exit status. */
static int run(char *const argv[]) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
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

/* QEMU's device tree for `-m mem -smp n`, with -kernel/-initrd/-append when
 * boot is set (a small raw kernel and an INITRD_SIZE-byte initrd). */
static void *qemu_dtb(unsigned n, uint64_t mem, bool boot, size_t *size) {
  char dtb[128], kernel[128], initrd[128], smp[16], m[32], machine[192];
  path_in_tmp(dtb, sizeof dtb, "qemu.dtb");
  path_in_tmp(kernel, sizeof kernel, "kernel.bin");
  path_in_tmp(initrd, sizeof initrd, "initrd.img");
  snprintf(smp, sizeof smp, "%u", n);
  snprintf(m, sizeof m, "%" PRIu64 "M", mem / MiB);
  snprintf(machine, sizeof machine, "virt,dumpdtb=%s", dtb);
  unlink(dtb);
  char *argv[20] = {VMX_QEMU_SYSTEM_RISCV64, "-M", machine, "-m", m, "-smp", smp,
                    "-nographic"};
  int argc = 8;
  if (boot) {
    write_file(kernel, 4096);
    write_file(initrd, INITRD_SIZE);
    char *more[] = {"-kernel", kernel, "-initrd", initrd, "-append", BOOTARGS};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
      argv[argc++] = more[i];
  }
  argv[argc] = NULL;
  if (run(argv) != 0)
    fail_msg("%s -M virt,dumpdtb=... failed", VMX_QEMU_SYSTEM_RISCV64);
  return read_file(dtb, size);
}

/* The comparison configuration: virt's layout with QEMU's cpu. When boot
 * is set, bootargs and the initrd where vmx_boot places it for a kernel at
 * 0x80200000 (where QEMU puts one after its default OpenSBI). */
static void qemu_like(vmx_fdt_config_t *cfg, unsigned n, uint64_t mem, bool boot,
                      bool virtio) {
  vmx_fdt_config_virt(cfg, mem, n);
  cfg->isa = QEMU_ISA;
  cfg->mmu_type = QEMU_MMU;
  cfg->plic_ndev = QEMU_PLIC_NDEV;
  if (!virtio)
    cfg->nvirtio = 0;
  if (boot) {
    cfg->bootargs = BOOTARGS;
    cfg->initrd_start = vmx_boot_initrd_addr(mem, 0x80200000);
    cfg->initrd_end = cfg->initrd_start + INITRD_SIZE;
  }
}

static void *build(const vmx_fdt_config_t *cfg, size_t *size) {
  void *blob = NULL;
  char err[256] = "";
  int rc = vmx_fdt_build(cfg, &blob, size, err, sizeof err);
  if (rc)
    fail_msg("vmx_fdt_build: %d %s", rc, err);
  assert_int_equal(fdt_check_full(blob, *size), 0);
  assert_int_equal(fdt_totalsize(blob), *size);
  return blob;
}

/* ---- comparing two trees ---------------------------------------------------- */

static bool prefixed(const char *s, const char *prefix) {
  return !strncmp(s, prefix, strlen(prefix));
}

/* QEMU nodes vmx leaves out (devices it does not model). */
static bool unmodeled(const char *path, bool virtio) {
  static const char *const skip[] = {"/pmu", "/fw-cfg@", "/flash@", "/platform-bus@",
                                     "/soc/rtc@", "/soc/pci@"};
  for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
    if (prefixed(path, skip[i]))
      return true;
  return !virtio && prefixed(path, "/soc/virtio_mmio@");
}

/* Properties whose value holds phandles: compared as the paths they name. */
static bool is_reference(const char *name) {
  return !strcmp(name, "interrupt-parent") || !strcmp(name, "regmap") ||
         !strcmp(name, "cpu") || !strcmp(name, "interrupts-extended");
}

/* Writes a reference property as text, each phandle as its node's path and
 * each specifier as numbers: "/cpus/cpu@0/interrupt-controller 11 ...". */
static void resolve(const void *fdt, const char *name, const fdt32_t *cells, int len,
                    char *out, size_t cap) {
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < len / 4;) {
    int node = fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(cells[i]));
    char path[256];
    if (node < 0 || fdt_get_path(fdt, node, path, sizeof path))
      fail_msg("%s: phandle %u resolves to nothing", name, fdt32_to_cpu(cells[i]));
    used += (size_t)snprintf(out + used, cap - used, "%s", path);
    i++;
    int args = 0;
    if (!strcmp(name, "interrupts-extended")) {
      const fdt32_t *ic = fdt_getprop(fdt, node, "#interrupt-cells", NULL);
      assert_non_null(ic);
      args = (int)fdt32_to_cpu(*ic);
    }
    for (int a = 0; a < args && i < len / 4; a++, i++)
      used += (size_t)snprintf(out + used, cap - used, " %u", fdt32_to_cpu(cells[i]));
    used += (size_t)snprintf(out + used, cap - used, "; ");
    assert_true(used < cap);
  }
}

static uint64_t number(const void *val, int len) {
  const fdt32_t *c = val;
  return len == 8 ? (uint64_t)fdt32_to_cpu(c[0]) << 32 | fdt32_to_cpu(c[1]) : fdt32_to_cpu(c[0]);
}

/* Properties only one side has by design. */
static bool ours_only(const char *name) {
  return !strcmp(name, "riscv,isa-base") || !strcmp(name, "riscv,isa-extensions");
}

static void compare_props(const void *ours, int on, const void *qemu, int qn, const char *path) {
  int off;
  fdt_for_each_property_offset(off, ours, on) {
    const char *name;
    int len, qlen;
    const void *val = fdt_getprop_by_offset(ours, off, &name, &len);
    if (!strcmp(name, "phandle") || ours_only(name))
      continue;
    const void *qval = fdt_getprop(qemu, qn, name, &qlen);
    if (!qval)
      fail_msg("%s: property %s is not in QEMU's tree", path, name);
    if (is_reference(name)) {
      char a[1024], b[1024];
      resolve(ours, name, val, len, a, sizeof a);
      resolve(qemu, name, qval, qlen, b, sizeof b);
      if (strcmp(a, b))
        fail_msg("%s: %s is <%s>, QEMU's <%s>", path, name, a, b);
    } else if (prefixed(name, "linux,initrd-")) {
      /* QEMU 7.2 writes one cell, vmx a u64 (Linux reads either). */
      if (number(val, len) != number(qval, qlen))
        fail_msg("%s: %s is 0x%" PRIx64 ", QEMU's 0x%" PRIx64, path, name, number(val, len),
                 number(qval, qlen));
    } else if (len != qlen || memcmp(val, qval, (size_t)len)) {
      fail_msg("%s: property %s differs from QEMU's", path, name);
    }
  }
  fdt_for_each_property_offset(off, qemu, qn) {
    const char *name;
    fdt_getprop_by_offset(qemu, off, &name, NULL);
    if (strcmp(name, "rng-seed") && !fdt_getprop(ours, on, name, NULL))
      fail_msg("%s: QEMU's property %s is missing", path, name);
  }
}

/* The node after off in document order, or -1 after the last (libfdt's
 * fdt_next_node returns the END tag's offset once depth drops below 0). */
static int next_node(const void *fdt, int off, int *depth) {
  off = fdt_next_node(fdt, off, depth);
  return *depth < 0 ? -1 : off;
}

/* Ours must list exactly QEMU's nodes, in QEMU's order, less the unmodeled
 * ones, each with the same properties. */
static void compare_trees(const void *ours, const void *qemu, bool virtio) {
  int on = 0, qn = 0, od = 0, qd = 0;
  char opath[256], qpath[256];
  while (on >= 0) {
    while (qn >= 0) {
      assert_int_equal(fdt_get_path(qemu, qn, qpath, sizeof qpath), 0);
      if (!unmodeled(qpath, virtio))
        break;
      qn = next_node(qemu, qn, &qd);
    }
    if (qn < 0)
      fail_msg("node %s is not in QEMU's tree", fdt_get_path(ours, on, opath, sizeof opath) ? "?" : opath);
    assert_int_equal(fdt_get_path(ours, on, opath, sizeof opath), 0);
    if (strcmp(opath, qpath))
      fail_msg("node %s where QEMU has %s", opath, qpath);
    compare_props(ours, on, qemu, qn, opath);
    on = next_node(ours, on, &od);
    qn = next_node(qemu, qn, &qd);
  }
  for (; qn >= 0; qn = next_node(qemu, qn, &qd)) {
    assert_int_equal(fdt_get_path(qemu, qn, qpath, sizeof qpath), 0);
    if (!unmodeled(qpath, virtio))
      fail_msg("QEMU's node %s is missing", qpath);
  }
}

static void check_against_qemu(unsigned n, uint64_t mem, bool boot) {
  size_t qsize, size;
  void *qemu = qemu_dtb(n, mem, boot, &qsize);
  assert_int_equal(fdt_check_full(qemu, qsize), 0);
  for (int virtio = 0; virtio < 2; virtio++) {
    vmx_fdt_config_t cfg;
    qemu_like(&cfg, n, mem, boot, virtio);
    void *ours = build(&cfg, &size);
    compare_trees(ours, qemu, virtio);
    free(ours);
  }
  free(qemu);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_one_hart_matches_qemu(void **state) { check_against_qemu(1, 512 * MiB, false); }
static void test_two_harts_match_qemu(void **state) { check_against_qemu(2, 512 * MiB, false); }
static void test_four_harts_match_qemu(void **state) { check_against_qemu(4, 512 * MiB, false); }

/* -append and -initrd: /chosen's bootargs, and the initrd where QEMU's
 * riscv_load_initrd puts it, for RAM below, at and above 256 MiB. */
static void test_chosen_matches_qemu_128m(void **state) { check_against_qemu(1, 128 * MiB, true); }
static void test_chosen_matches_qemu_512m(void **state) { check_against_qemu(2, 512 * MiB, true); }
static void test_chosen_matches_qemu_2g(void **state) { check_against_qemu(4, 2048 * MiB, true); }

static void test_every_variant_passes_check_full(void **state) {
  static const unsigned harts[] = {1, 2, 4, 8};
  for (size_t h = 0; h < sizeof harts / sizeof harts[0]; h++)
    for (int variant = 0; variant < 8; variant++) {
      vmx_fdt_config_t cfg;
      size_t size;
      vmx_fdt_config_virt(&cfg, 256 * MiB, harts[h]);
      if (variant & 1)
        cfg.bootargs = BOOTARGS;
      if (variant & 2) {
        cfg.initrd_start = 0x88200000;
        cfg.initrd_end = 0x88300000;
      }
      if (variant & 4)
        cfg.nvirtio = 0;
      free(build(&cfg, &size));
    }
}

static const char *string_list_at(const void *fdt, const char *path, const char *prop,
                                  int *len) {
  int node = fdt_path_offset(fdt, path);
  assert_true(node >= 0);
  const char *v = fdt_getprop(fdt, node, prop, len);
  if (!v)
    fail_msg("%s has no %s", path, prop);
  return v;
}

static void expect_extensions(const char *isa, const char *base, const char *const *exts,
                              size_t n) {
  vmx_fdt_config_t cfg;
  size_t size;
  int len;
  vmx_fdt_config_virt(&cfg, 128 * MiB, 2);
  cfg.isa = isa;
  void *fdt = build(&cfg, &size);
  assert_string_equal(string_list_at(fdt, "/cpus/cpu@1", "riscv,isa-base", &len), base);
  assert_string_equal(string_list_at(fdt, "/cpus/cpu@1", "riscv,isa", &len), isa);
  const char *list = string_list_at(fdt, "/cpus/cpu@1", "riscv,isa-extensions", &len);
  size_t i = 0;
  for (int at = 0; at < len; at += (int)strlen(list + at) + 1, i++) {
    assert_true(i < n);
    assert_string_equal(list + at, exts[i]);
  }
  assert_int_equal(i, n);
  free(fdt);
}

static void test_isa_string_gives_base_and_extensions(void **state) {
  static const char *const virt[] = {"i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "sstc"};
  expect_extensions("rv64imafdc_zicsr_zifencei_sstc", "rv64i", virt, 9);
  static const char *const g[] = {"i", "m", "a", "f", "d", "zicsr", "zifencei", "c"};
  expect_extensions("rv64gc", "rv64i", g, 8);
  static const char *const gdup[] = {"i", "m", "a", "f", "d", "zicsr", "zifencei", "c", "svpbmt"};
  expect_extensions("rv64gc_zicsr_svpbmt", "rv64i", gdup, 9);
}

static void test_cpu_nodes_and_cpu_map(void **state) {
  vmx_fdt_config_t cfg;
  size_t size;
  int len;
  vmx_fdt_config_virt(&cfg, 128 * MiB, 4);
  void *fdt = build(&cfg, &size);
  for (unsigned h = 0; h < 4; h++) {
    char path[64];
    snprintf(path, sizeof path, "/cpus/cpu@%u", h);
    int cpu = fdt_path_offset(fdt, path);
    assert_true(cpu >= 0);
    assert_string_equal(string_list_at(fdt, path, "device_type", &len), "cpu");
    assert_string_equal(string_list_at(fdt, path, "status", &len), "okay");
    assert_string_equal(string_list_at(fdt, path, "mmu-type", &len), "riscv,sv57");
    const fdt32_t *reg = fdt_getprop(fdt, cpu, "reg", &len);
    assert_int_equal(len, 4);
    assert_int_equal(fdt32_to_cpu(*reg), h);
    int intc = fdt_subnode_offset(fdt, cpu, "interrupt-controller");
    assert_true(intc >= 0);
    assert_int_equal(fdt_node_check_compatible(fdt, intc, "riscv,cpu-intc"), 0);
    assert_non_null(fdt_getprop(fdt, intc, "interrupt-controller", NULL));
    assert_true(fdt_get_phandle(fdt, intc) != 0);
    snprintf(path, sizeof path, "/cpus/cpu-map/cluster0/core%u", h);
    const fdt32_t *ref = (const fdt32_t *)string_list_at(fdt, path, "cpu", &len);
    assert_int_equal(fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(*ref)), cpu);
  }
  free(fdt);
}

static void test_chosen_holds_bootargs_initrd_and_stdout(void **state) {
  vmx_fdt_config_t cfg;
  size_t size;
  int len;
  vmx_fdt_config_virt(&cfg, 4096 * MiB, 1);
  cfg.bootargs = "console=ttyS0";
  cfg.initrd_start = 0x188200000;   /* above 4 GiB: needs the u64 */
  cfg.initrd_end = 0x188300000;
  void *fdt = build(&cfg, &size);
  assert_string_equal(string_list_at(fdt, "/chosen", "bootargs", &len), "console=ttyS0");
  const char *stdout_path = string_list_at(fdt, "/chosen", "stdout-path", &len);
  assert_int_equal(fdt_node_check_compatible(fdt, fdt_path_offset(fdt, stdout_path), "ns16550a"), 0);
  const void *start = string_list_at(fdt, "/chosen", "linux,initrd-start", &len);
  assert_int_equal(number(start, len), 0x188200000);
  const void *end = string_list_at(fdt, "/chosen", "linux,initrd-end", &len);
  assert_int_equal(number(end, len), 0x188300000);
  const fdt32_t *reg = (const fdt32_t *)string_list_at(fdt, "/memory@80000000", "reg", &len);
  assert_int_equal(len, 16);
  assert_int_equal(number(reg + 2, 8), 4096 * MiB);
  free(fdt);
}

static void test_unconfigured_devices_are_absent(void **state) {
  vmx_fdt_config_t cfg;
  size_t size;
  vmx_fdt_config_virt(&cfg, 128 * MiB, 1);
  cfg.clint_size = cfg.test_size = cfg.uart_size = 0;
  cfg.nvirtio = 0;
  cfg.mmu_type = NULL;
  void *fdt = build(&cfg, &size);
  static const char *const gone[] = {"/soc/clint@2000000", "/soc/test@100000", "/poweroff",
                                     "/reboot", "/soc/serial@10000000",
                                     "/soc/virtio_mmio@10001000"};
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
    assert_true(fdt_path_offset(fdt, gone[i]) < 0);
  int chosen = fdt_path_offset(fdt, "/chosen");
  assert_true(chosen >= 0);
  assert_null(fdt_getprop(fdt, chosen, "stdout-path", NULL));
  assert_null(fdt_getprop(fdt, chosen, "bootargs", NULL));
  assert_null(fdt_getprop(fdt, chosen, "linux,initrd-start", NULL));
  assert_null(fdt_getprop(fdt, fdt_path_offset(fdt, "/cpus/cpu@0"), "mmu-type", NULL));
  assert_true(fdt_path_offset(fdt, "/soc/plic@c000000") >= 0);
  free(fdt);
}

static void test_syscon_poweroff_and_reboot(void **state) {
  vmx_fdt_config_t cfg;
  size_t size;
  int len;
  vmx_fdt_config_virt(&cfg, 128 * MiB, 1);
  void *fdt = build(&cfg, &size);
  int test = fdt_path_offset(fdt, "/soc/test@100000");
  assert_int_equal(fdt_node_check_compatible(fdt, test, "syscon"), 0);
  static const struct { const char *path; uint32_t value; } act[] = {
      {"/poweroff", VMX_FDT_SYSCON_POWEROFF}, {"/reboot", VMX_FDT_SYSCON_REBOOT}};
  for (size_t i = 0; i < 2; i++) {
    const fdt32_t *v = (const fdt32_t *)string_list_at(fdt, act[i].path, "value", &len);
    assert_int_equal(fdt32_to_cpu(*v), act[i].value);
    const fdt32_t *map = (const fdt32_t *)string_list_at(fdt, act[i].path, "regmap", &len);
    assert_int_equal(fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(*map)), test);
  }
  free(fdt);
}

static void expect_refused(const vmx_fdt_config_t *cfg, const char *words) {
  void *blob = (void *)1;
  size_t size = 1;
  char err[256] = "";
  assert_int_equal(vmx_fdt_build(cfg, &blob, &size, err, sizeof err), VMX_EINVAL);
  assert_null(blob);
  if (!strstr(err, words))
    fail_msg("message \"%s\" does not say \"%s\"", err, words);
}

static void test_bad_configurations_are_refused(void **state) {
  vmx_fdt_config_t cfg;
  vmx_fdt_config_virt(&cfg, 128 * MiB, 0);
  expect_refused(&cfg, "0 harts");
  vmx_fdt_config_virt(&cfg, 128 * MiB, 9);
  expect_refused(&cfg, "9 harts");
  vmx_fdt_config_virt(&cfg, 128 * MiB, 1);
  cfg.isa = "x86_64";
  expect_refused(&cfg, "must start with rv64");
  cfg.isa = "rv64imafdc_Zicsr";
  expect_refused(&cfg, "bad extension name");
  cfg.isa = "rv64imafdc__zicsr";
  expect_refused(&cfg, "bad extension name");
  cfg.isa = "rv64imazicsr";
  expect_refused(&cfg, "multi-letter");
  cfg.isa = NULL;
  expect_refused(&cfg, "ISA string");
  vmx_fdt_config_virt(&cfg, 128 * MiB, 1);
  cfg.plic_size = 0;
  expect_refused(&cfg, "needs a PLIC");
  vmx_fdt_config_virt(&cfg, 128 * MiB, 1);
  cfg.virtio[3].irq = 0;
  expect_refused(&cfg, "not a PLIC source");
  vmx_fdt_config_virt(&cfg, 128 * MiB, 1);
  cfg.initrd_start = 0x90000000;
  cfg.initrd_end = 0x8fffffff;
  expect_refused(&cfg, "before it starts");
  vmx_fdt_config_virt(&cfg, 0, 1);
  expect_refused(&cfg, "bad RAM region");
}

/* ---- main ----------------------------------------------------------------------- */

static int group_setup(void **state) { return mkdtemp(tmp_dir) ? 0 : -1; }

static int group_teardown(void **state) {
  static const char *const files[] = {"qemu.dtb", "kernel.bin", "initrd.img"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[128];
    path_in_tmp(path, sizeof path, files[i]);
    unlink(path);
  }
  return rmdir(tmp_dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_hart_matches_qemu),
      cmocka_unit_test(test_two_harts_match_qemu),
      cmocka_unit_test(test_four_harts_match_qemu),
      cmocka_unit_test(test_chosen_matches_qemu_128m),
      cmocka_unit_test(test_chosen_matches_qemu_512m),
      cmocka_unit_test(test_chosen_matches_qemu_2g),
      cmocka_unit_test(test_every_variant_passes_check_full),
      cmocka_unit_test(test_isa_string_gives_base_and_extensions),
      cmocka_unit_test(test_cpu_nodes_and_cpu_map),
      cmocka_unit_test(test_chosen_holds_bootargs_initrd_and_stdout),
      cmocka_unit_test(test_unconfigured_devices_are_absent),
      cmocka_unit_test(test_syscon_poweroff_and_reboot),
      cmocka_unit_test(test_bad_configurations_are_refused),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
