/* The two ways a guest ends a run: the sifive_test finisher behind virt's
 * syscon-poweroff/-reboot (src/devices/syscon.c), and HTIF's tohost/fromhost
 * words for riscv-tests and pk programs (src/devices/htif.c), here over a
 * fake guest RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/htif.h"
#include "devices/syscon.h"

/* ---- syscon ------------------------------------------------------------- */

typedef struct syscon_fixture {
  vmx_syscon_t dev;
  int events;
  vmx_syscon_event_t last;
  int code;
} syscon_fixture_t;

static void on_event(void *arg, vmx_syscon_event_t ev, int code) {
  syscon_fixture_t *f = arg;
  f->events++;
  f->last = ev;
  f->code = code;
}

static int syscon_setup(void **state) {
  static syscon_fixture_t f;
  memset(&f, 0, sizeof f);
  vmx_syscon_io_t io = {on_event, &f};
  vmx_syscon_init(&f.dev, &io);
  *state = &f;
  return 0;
}

static void test_syscon_poweroff_value_passes_with_code_0(void **state) {
  syscon_fixture_t *f = *state;
  vmx_syscon_write(&f->dev, 0, 4, 0x5555); /* Linux syscon-poweroff */
  assert_int_equal(f->events, 1);
  assert_int_equal(f->last, VMX_SYSCON_POWEROFF);
  assert_int_equal(f->code, 0);
  vmx_syscon_write(&f->dev, 0, 2, 0x5555); /* OpenSBI writes 16 bits */
  assert_int_equal(f->events, 2);
  vmx_syscon_write(&f->dev, 0, 4, 0xabcd5555); /* pass ignores the high half */
  assert_int_equal(f->code, 0);
}

static void test_syscon_fail_value_exits_with_the_high_half(void **state) {
  syscon_fixture_t *f = *state;
  vmx_syscon_write(&f->dev, 0, 4, (42u << 16) | 0x3333);
  assert_int_equal(f->events, 1);
  assert_int_equal(f->last, VMX_SYSCON_POWEROFF);
  assert_int_equal(f->code, 42);
  vmx_syscon_write(&f->dev, 0, 4, 0xffff3333u);
  assert_int_equal(f->code, 0xffff);
}

static void test_syscon_reboot_value_resets(void **state) {
  syscon_fixture_t *f = *state;
  vmx_syscon_write(&f->dev, 0, 4, 0x7777);
  assert_int_equal(f->events, 1);
  assert_int_equal(f->last, VMX_SYSCON_RESET);
  vmx_syscon_write(&f->dev, 0, 2, 0x7777);
  assert_int_equal(f->events, 2);
}

static void test_syscon_ignores_other_values_offsets_and_sizes(void **state) {
  syscon_fixture_t *f = *state;
  vmx_syscon_write(&f->dev, 0, 4, 0x1234);
  vmx_syscon_write(&f->dev, 0, 4, 0);
  vmx_syscon_write(&f->dev, 4, 4, 0x5555);
  vmx_syscon_write(&f->dev, 0, 1, 0x55);
  vmx_syscon_write(&f->dev, 0, 8, 0x5555);
  vmx_syscon_write(&f->dev, 0, 2, 0x15555); /* a 16-bit write has no high half: pass */
  assert_int_equal(f->events, 1);
  assert_int_equal(f->code, 0);
  assert_int_equal(vmx_syscon_read(&f->dev, 0, 4), 0);
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void test_syscon_any_offset_and_size_is_safe(void **state) {
  syscon_fixture_t *f = *state;
  static const unsigned sizes[] = {1, 2, 4, 8};
  uint64_t seed = 0xda942042e4dd58b5ull;
  print_message("seed %#llx\n", (unsigned long long)seed);
  for (uint64_t off = 0; off < VMX_SYSCON_SIZE + 16; off++)
    for (unsigned i = 0; i < 4; i++) {
      assert_int_equal(vmx_syscon_read(&f->dev, off, sizes[i]), 0);
      vmx_syscon_write(&f->dev, off, sizes[i], xorshift(&seed));
    }
}

/* ---- HTIF --------------------------------------------------------------- */

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x10000u
#define TOHOST (RAM_BASE + 0x1000)
#define FROMHOST (RAM_BASE + 0x1040)
#define MAGIC (RAM_BASE + 0x2000)
#define BUF (RAM_BASE + 0x3000)

typedef struct htif_fixture {
  vmx_htif_t dev;
  uint8_t ram[RAM_SIZE];
  char out[256];
  size_t nout;
  int exits;
  int exit_code;
} htif_fixture_t;

static bool in_ram(uint64_t paddr, size_t len) {
  return paddr >= RAM_BASE && paddr - RAM_BASE <= RAM_SIZE && len <= RAM_SIZE - (paddr - RAM_BASE);
}

static bool fake_read(void *arg, uint64_t paddr, void *buf, size_t len) {
  htif_fixture_t *f = arg;
  if (!in_ram(paddr, len))
    return false;
  memcpy(buf, f->ram + (paddr - RAM_BASE), len);
  return true;
}

static bool fake_write(void *arg, uint64_t paddr, const void *buf, size_t len) {
  htif_fixture_t *f = arg;
  if (!in_ram(paddr, len))
    return false;
  memcpy(f->ram + (paddr - RAM_BASE), buf, len);
  return true;
}

static void on_console(void *arg, uint8_t byte) {
  htif_fixture_t *f = arg;
  if (f->nout < sizeof f->out - 1)
    f->out[f->nout++] = (char)byte;
}

static void on_exit_code(void *arg, int code) {
  htif_fixture_t *f = arg;
  f->exits++;
  f->exit_code = code;
}

static int htif_setup(void **state) {
  static htif_fixture_t f;
  memset(&f, 0, sizeof f);
  vmx_htif_io_t io = {fake_read, fake_write, on_console, on_exit_code, &f};
  vmx_htif_init(&f.dev, TOHOST, FROMHOST, &io);
  *state = &f;
  return 0;
}

/* Host and guest are both little-endian here, so guest words are plain
 * uint64_t in ram[]. */
static uint64_t ram64(htif_fixture_t *f, uint64_t paddr) {
  uint64_t v;
  memcpy(&v, f->ram + (paddr - RAM_BASE), 8);
  return v;
}

static void set_ram64(htif_fixture_t *f, uint64_t paddr, uint64_t v) {
  memcpy(f->ram + (paddr - RAM_BASE), &v, 8);
}

/* The guest stores value into tohost with one 64-bit store. */
static void guest_tohost(htif_fixture_t *f, uint64_t value) {
  set_ram64(f, TOHOST, value);
  vmx_htif_store(&f->dev, TOHOST, 8);
}

static void put_magic(htif_fixture_t *f, uint64_t which, uint64_t a0, uint64_t a1, uint64_t a2) {
  uint64_t m[8] = {which, a0, a1, a2, 0, 0, 0, 0};
  memcpy(f->ram + (MAGIC - RAM_BASE), m, sizeof m);
}

static void test_htif_exit_reports_payload_shifted(void **state) {
  htif_fixture_t *f = *state;
  guest_tohost(f, (21u << 1) | 1);
  assert_int_equal(f->exits, 1);
  assert_int_equal(f->exit_code, 21);
  guest_tohost(f, 1); /* riscv-tests loops on its tohost store: ignored */
  vmx_htif_tohost(&f->dev, (1ull << 56) | (1ull << 48) | 'x');
  assert_int_equal(f->exits, 1);
  assert_int_equal(f->nout, 0);
}

static void test_htif_riscv_tests_pass_as_two_32_bit_stores(void **state) {
  htif_fixture_t *f = *state;
  /* sw TESTNUM(=1), tohost; sw zero, tohost+4 */
  uint32_t lo = 1, hi = 0;
  memcpy(f->ram + (TOHOST - RAM_BASE), &lo, 4);
  vmx_htif_store(&f->dev, TOHOST, 4);
  assert_int_equal(f->exits, 0); /* waits for the high half */
  memcpy(f->ram + (TOHOST + 4 - RAM_BASE), &hi, 4);
  vmx_htif_store(&f->dev, TOHOST + 4, 4);
  assert_int_equal(f->exits, 1);
  assert_int_equal(f->exit_code, 0);
}

static void test_htif_stores_not_ending_the_word_do_nothing(void **state) {
  htif_fixture_t *f = *state;
  set_ram64(f, TOHOST, 3);
  vmx_htif_store(&f->dev, TOHOST, 4);
  vmx_htif_store(&f->dev, TOHOST + 2, 2);
  vmx_htif_store(&f->dev, TOHOST - 4, 8);
  vmx_htif_store(&f->dev, TOHOST + 4, 8);
  assert_int_equal(f->exits, 0);
  vmx_htif_store(&f->dev, TOHOST + 7, 1);
  assert_int_equal(f->exits, 1);
  assert_int_equal(f->exit_code, 1);
}

static void test_htif_putchar_prints_and_acknowledges(void **state) {
  htif_fixture_t *f = *state;
  uint64_t cmd = (1ull << 56) | (1ull << 48);
  guest_tohost(f, cmd | 'o');
  guest_tohost(f, cmd | 'k');
  assert_int_equal(f->nout, 2);
  assert_memory_equal(f->out, "ok", 2);
  assert_int_equal(ram64(f, TOHOST), 0);
  assert_int_equal(ram64(f, FROMHOST), cmd | 0x100 | 'k');
  assert_int_equal(f->exits, 0);
}

static void test_htif_sys_write_through_magic_mem(void **state) {
  htif_fixture_t *f = *state;
  memcpy(f->ram + (BUF - RAM_BASE), "hello\n", 6);
  put_magic(f, 64, 1, BUF, 6);
  guest_tohost(f, MAGIC);
  assert_int_equal(f->nout, 6);
  assert_memory_equal(f->out, "hello\n", 6);
  assert_int_equal(ram64(f, MAGIC), 6);     /* the result */
  assert_int_equal(ram64(f, FROMHOST), 1);  /* what syscall() polls for */
  assert_int_equal(ram64(f, TOHOST), 0);
  put_magic(f, 64, 2, BUF, 2);              /* stderr too */
  guest_tohost(f, MAGIC);
  assert_int_equal(f->nout, 8);
  assert_int_equal(ram64(f, MAGIC), 2);
}

static void test_htif_sys_write_with_bad_buffer_answers_efault(void **state) {
  htif_fixture_t *f = *state;
  put_magic(f, 64, 1, 0x1000, 4); /* not RAM */
  guest_tohost(f, MAGIC);
  assert_int_equal(f->nout, 0);
  assert_int_equal((int64_t)ram64(f, MAGIC), -14);
  assert_int_equal(ram64(f, FROMHOST), 1);
  put_magic(f, 64, 1, UINT64_MAX - 2, 16); /* wraps around */
  guest_tohost(f, MAGIC);
  assert_int_equal((int64_t)ram64(f, MAGIC), -14);
}

static void test_htif_sys_write_stops_short_at_the_end_of_ram(void **state) {
  htif_fixture_t *f = *state;
  uint64_t tail = RAM_BASE + RAM_SIZE - 300;
  memset(f->ram + (tail - RAM_BASE), 'z', 300);
  put_magic(f, 64, 1, tail, 1ull << 40); /* far past RAM, and past the cap */
  guest_tohost(f, MAGIC);
  assert_int_equal(ram64(f, MAGIC), 300); /* every byte up to the end of RAM */
  assert_int_equal(f->nout, sizeof f->out - 1);
  assert_int_equal(ram64(f, FROMHOST), 1);
}

static void test_htif_other_syscalls_and_fds_fail_cleanly(void **state) {
  htif_fixture_t *f = *state;
  put_magic(f, 64, 3, BUF, 1);
  guest_tohost(f, MAGIC);
  assert_int_equal((int64_t)ram64(f, MAGIC), -9); /* EBADF */
  put_magic(f, 57, 1, 0, 0);                       /* close */
  guest_tohost(f, MAGIC);
  assert_int_equal((int64_t)ram64(f, MAGIC), -38); /* ENOSYS */
  assert_int_equal(f->nout, 0);
  put_magic(f, 93, 5, 0, 0);                       /* exit */
  guest_tohost(f, MAGIC);
  assert_int_equal(f->exits, 1);
  assert_int_equal(f->exit_code, 5);
}

static void test_htif_bad_magic_mem_address_does_not_crash(void **state) {
  htif_fixture_t *f = *state;
  guest_tohost(f, 0x10); /* payload 0x10: magic_mem outside RAM */
  assert_int_equal(ram64(f, FROMHOST), 1);
  assert_int_equal(ram64(f, TOHOST), 0);
  guest_tohost(f, RAM_BASE + RAM_SIZE - 8); /* block runs off the end */
  assert_int_equal(ram64(f, TOHOST), 0);
  assert_int_equal(f->exits, 0);
  assert_int_equal(f->nout, 0);
}

static void test_htif_getchar_waits_for_input(void **state) {
  htif_fixture_t *f = *state;
  assert_false(vmx_htif_input(&f->dev, 'a')); /* nobody asked */
  uint64_t getc = 1ull << 56;
  guest_tohost(f, getc);
  assert_int_equal(ram64(f, TOHOST), 0);
  assert_int_equal(ram64(f, FROMHOST), 0); /* no input: no answer, as spike */
  assert_true(vmx_htif_input(&f->dev, 'q'));
  assert_int_equal(ram64(f, FROMHOST), getc | 0x100 | 'q');
  assert_false(vmx_htif_input(&f->dev, 'r'));
}

static void test_htif_unknown_device_is_acknowledged_and_ignored(void **state) {
  htif_fixture_t *f = *state;
  guest_tohost(f, (7ull << 56) | (3ull << 48) | 0x1234);
  assert_int_equal(ram64(f, FROMHOST), (7ull << 56) | (3ull << 48));
  assert_int_equal(ram64(f, TOHOST), 0);
  guest_tohost(f, (0ull << 56) | (2ull << 48) | 0x1);
  assert_int_equal(f->exits, 0);
  assert_int_equal(f->nout, 0);
}

static void test_htif_unmapped_words_never_crash(void **state) {
  htif_fixture_t *f = *state;
  vmx_htif_io_t io = {fake_read, fake_write, on_console, on_exit_code, f};
  vmx_htif_init(&f->dev, 0x10, 0x18, &io); /* both words outside RAM */
  vmx_htif_store(&f->dev, 0x10, 8);
  vmx_htif_tohost(&f->dev, (1ull << 56) | (1ull << 48) | 'x');
  vmx_htif_tohost(&f->dev, 1ull << 56);
  assert_true(vmx_htif_input(&f->dev, 'y'));
  assert_int_equal(f->nout, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_syscon_poweroff_value_passes_with_code_0, syscon_setup),
      cmocka_unit_test_setup(test_syscon_fail_value_exits_with_the_high_half, syscon_setup),
      cmocka_unit_test_setup(test_syscon_reboot_value_resets, syscon_setup),
      cmocka_unit_test_setup(test_syscon_ignores_other_values_offsets_and_sizes, syscon_setup),
      cmocka_unit_test_setup(test_syscon_any_offset_and_size_is_safe, syscon_setup),
      cmocka_unit_test_setup(test_htif_exit_reports_payload_shifted, htif_setup),
      cmocka_unit_test_setup(test_htif_riscv_tests_pass_as_two_32_bit_stores, htif_setup),
      cmocka_unit_test_setup(test_htif_stores_not_ending_the_word_do_nothing, htif_setup),
      cmocka_unit_test_setup(test_htif_putchar_prints_and_acknowledges, htif_setup),
      cmocka_unit_test_setup(test_htif_sys_write_through_magic_mem, htif_setup),
      cmocka_unit_test_setup(test_htif_sys_write_with_bad_buffer_answers_efault, htif_setup),
      cmocka_unit_test_setup(test_htif_sys_write_stops_short_at_the_end_of_ram, htif_setup),
      cmocka_unit_test_setup(test_htif_other_syscalls_and_fds_fail_cleanly, htif_setup),
      cmocka_unit_test_setup(test_htif_bad_magic_mem_address_does_not_crash, htif_setup),
      cmocka_unit_test_setup(test_htif_getchar_waits_for_input, htif_setup),
      cmocka_unit_test_setup(test_htif_unknown_device_is_acknowledged_and_ignored, htif_setup),
      cmocka_unit_test_setup(test_htif_unmapped_words_never_crash, htif_setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
