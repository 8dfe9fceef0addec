/* The guest address space (src/linux/mm.c): reservation, region list,
 * mmap address choice, munmap/mprotect/mremap/brk, and the copy helpers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "linux/mm.h"

#define PG VMX_LINUX_PAGE_SIZE
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW (PROT_READ | PROT_WRITE)

static int mm_setup(void **state) {
  vmx_linux_mm_t *mm = calloc(1, sizeof *mm);
  assert_non_null(mm);
  assert_int_equal(vmx_linux_mm_init(mm), 0);
  *state = mm;
  return 0;
}

static int mm_teardown(void **state) {
  vmx_linux_mm_close(*state);
  free(*state);
  return 0;
}

/* Checks the region list's invariants: sorted, page aligned, disjoint. */
static void assert_vmas_sane(const vmx_linux_mm_t *mm) {
  for (size_t i = 0; i < mm->nvmas; i++) {
    const vmx_linux_vma_t *v = &mm->vmas[i];
    assert_true(v->start < v->end);
    assert_int_equal(v->start % PG, 0);
    assert_int_equal(v->end % PG, 0);
    if (i > 0)
      assert_true(mm->vmas[i - 1].end <= v->start);
  }
}

static void test_reservation_is_aligned_and_sized(void **state) {
  vmx_linux_mm_t *mm = *state;
  assert_int_equal((uintptr_t)mm->base % (2u << 20), 0);
  assert_int_equal(mm->limit, 1ull << 38);
  assert_int_equal(mm->stack_top, mm->limit);
  assert_true(mm->mmap_base <= mm->limit - (128ull << 20));
  assert_int_equal(mm->nvmas, 0);
}

static void test_mmap_null_goes_top_down_below_mmap_base(void **state) {
  vmx_linux_mm_t *mm = *state;
  int64_t a = vmx_linux_mm_map(mm, 0, 3 * PG, RW, ANON, -1, 0);
  int64_t b = vmx_linux_mm_map(mm, 0, 100, RW, ANON, -1, 0);
  assert_true(a > 0 && b > 0);
  assert_int_equal((uint64_t)a + 3 * PG, mm->mmap_base);
  assert_int_equal((uint64_t)b + PG, (uint64_t)a);
  /* the memory is there, zeroed and writable */
  assert_int_equal(mm->base[a], 0);
  memset(mm->base + b, 0x5a, PG);
  assert_true(vmx_linux_mm_check(mm, (uint64_t)b, 4 * PG, RW));
  assert_vmas_sane(mm);
  assert_int_equal(mm->nvmas, 1);   /* equal neighbours merge */
}

static void test_mmap_hint_is_used_when_free(void **state) {
  vmx_linux_mm_t *mm = *state;
  int64_t a = vmx_linux_mm_map(mm, 0x200000000, PG, PROT_READ, ANON, -1, 0);
  assert_int_equal(a, 0x200000000);
  int64_t b = vmx_linux_mm_map(mm, 0x200000000, PG, PROT_READ, ANON, -1, 0);
  assert_true(b > 0 && b != a);
}

static void test_mmap_rejects_bad_arguments(void **state) {
  vmx_linux_mm_t *mm = *state;
  assert_int_equal(vmx_linux_mm_map(mm, 0, 0, RW, ANON, -1, 0), -EINVAL);
  assert_int_equal(vmx_linux_mm_map(mm, 0, PG, RW, MAP_ANONYMOUS, -1, 0), -EINVAL);
  assert_int_equal(vmx_linux_mm_map(mm, 0, PG, RW, ANON, -1, 5), -EINVAL);
  assert_int_equal(vmx_linux_mm_map(mm, 0x10001, PG, RW, ANON | MAP_FIXED, -1, 0), -EINVAL);
  assert_int_equal(vmx_linux_mm_map(mm, mm->limit - PG, 2 * PG, RW, ANON | MAP_FIXED, -1, 0),
                   -ENOMEM);
  assert_int_equal(vmx_linux_mm_map(mm, 0, 1ull << 40, RW, ANON, -1, 0), -ENOMEM);
  assert_int_equal(vmx_linux_mm_map(mm, 0, PG, RW, MAP_PRIVATE, 9999, 0), -EBADF);
  assert_int_equal(mm->nvmas, 0);   /* failures leave nothing behind */
}

static void test_map_fixed_replaces_and_bumps_code_gen(void **state) {
  vmx_linux_mm_t *mm = *state;
  uint64_t at = 0x100000;
  assert_int_equal(vmx_linux_mm_map(mm, at, 4 * PG, RW, ANON | MAP_FIXED, -1, 0), (int64_t)at);
  uint64_t gen = atomic_load(&mm->code_gen);
  mm->base[at + PG] = 7;
  assert_int_equal(vmx_linux_mm_map(mm, at + PG, PG, PROT_READ | PROT_EXEC, ANON | MAP_FIXED, -1, 0),
                   (int64_t)(at + PG));
  assert_int_equal(mm->base[at + PG], 0);   /* fresh pages */
  assert_true(atomic_load(&mm->code_gen) > gen);
  assert_int_equal(mm->nvmas, 3);
  assert_true(vmx_linux_mm_check(mm, at + PG, PG, PROT_EXEC));
  assert_false(vmx_linux_mm_check(mm, at + PG, PG, PROT_WRITE));
  assert_vmas_sane(mm);
}

static void test_fixed_noreplace_refuses_occupied_range(void **state) {
  vmx_linux_mm_t *mm = *state;
  uint64_t at = 0x100000;
  assert_int_equal(vmx_linux_mm_map(mm, at, 2 * PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
                   (int64_t)at);
  assert_int_equal(vmx_linux_mm_map(mm, at + PG, 2 * PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
                   -EEXIST);
}

static void test_munmap_splits_and_rereserves(void **state) {
  vmx_linux_mm_t *mm = *state;
  uint64_t at = 0x100000;
  vmx_linux_mm_map(mm, at, 3 * PG, RW, ANON | MAP_FIXED, -1, 0);
  assert_int_equal(vmx_linux_mm_unmap(mm, at + PG, PG), 0);
  assert_int_equal(mm->nvmas, 2);
  assert_false(vmx_linux_mm_check(mm, at, 3 * PG, 0));
  assert_true(vmx_linux_mm_check(mm, at + 2 * PG, PG, RW));
  /* the hole is PROT_NONE reservation, not an unmapped host hole */
  unsigned char vec;
  assert_int_equal(mincore(mm->base + at + PG, PG, &vec), 0);
  assert_int_equal(vmx_linux_mm_unmap(mm, at + 1, PG), -EINVAL);
  assert_int_equal(vmx_linux_mm_unmap(mm, at, 0), -EINVAL);
  assert_int_equal(vmx_linux_mm_unmap(mm, 0x7000000, PG), 0);   /* nothing there: fine */
  assert_vmas_sane(mm);
}

static void test_mprotect_needs_a_mapped_range(void **state) {
  vmx_linux_mm_t *mm = *state;
  uint64_t at = 0x100000;
  vmx_linux_mm_map(mm, at, 2 * PG, RW, ANON | MAP_FIXED, -1, 0);
  assert_int_equal(vmx_linux_mm_protect(mm, at, 3 * PG, PROT_READ), -ENOMEM);
  assert_int_equal(vmx_linux_mm_protect(mm, at + 1, PG, PROT_READ), -EINVAL);
  assert_int_equal(vmx_linux_mm_protect(mm, at + PG, PG, PROT_READ), 0);
  assert_int_equal(mm->nvmas, 2);
  assert_false(vmx_linux_mm_check(mm, at, 2 * PG, PROT_WRITE));
  assert_true(vmx_linux_mm_check(mm, at, 2 * PG, PROT_READ));
  /* copy_out respects the guest's protection; copy_in still works */
  char x = 1;
  assert_int_equal(vmx_linux_mm_copy_out(mm, at + PG, &x, 1), -EFAULT);
  assert_int_equal(vmx_linux_mm_copy_out(mm, at, &x, 1), 0);
  assert_int_equal(vmx_linux_mm_copy_in(mm, &x, at + PG, 1), 0);
  assert_int_equal(vmx_linux_mm_protect(mm, at + PG, PG, RW), 0);
  assert_int_equal(mm->nvmas, 1);   /* merged back */
}

static void test_copy_helpers_never_fault(void **state) {
  vmx_linux_mm_t *mm = *state;
  char buf[64];
  assert_int_equal(vmx_linux_mm_copy_in(mm, buf, 0, 8), -EFAULT);
  assert_int_equal(vmx_linux_mm_copy_in(mm, buf, mm->limit - 4, 8), -EFAULT);
  assert_int_equal(vmx_linux_mm_copy_out(mm, 0x100000, buf, 8), -EFAULT);
  assert_int_equal(vmx_linux_mm_copy_in(mm, buf, 123, 0), 0);
  uint64_t at = 0x100000;
  vmx_linux_mm_map(mm, at, PG, RW, ANON | MAP_FIXED, -1, 0);
  assert_int_equal(vmx_linux_mm_copy_out(mm, at + 10, "hello", 6), 0);
  assert_int_equal(vmx_linux_mm_copy_in(mm, buf, at + 10, 6), 0);
  assert_string_equal(buf, "hello");
  /* a copy running off the end of the mapping fails as a whole */
  assert_int_equal(vmx_linux_mm_copy_in(mm, buf, at + PG - 4, 8), -EFAULT);
}

static void test_string_in_stops_at_nul_fault_or_size(void **state) {
  vmx_linux_mm_t *mm = *state;
  uint64_t at = 0x100000;
  vmx_linux_mm_map(mm, at, PG, RW, ANON | MAP_FIXED, -1, 0);
  char buf[PG];
  memcpy(mm->base + at + PG - 4, "abc", 4);
  assert_int_equal(vmx_linux_mm_string_in(mm, buf, at + PG - 4, sizeof buf), 3);
  assert_string_equal(buf, "abc");
  /* no NUL before the mapping ends */
  memcpy(mm->base + at + PG - 3, "xyz", 3);
  assert_int_equal(vmx_linux_mm_string_in(mm, buf, at + PG - 3, sizeof buf), -EFAULT);
  memset(mm->base + at, 'a', 100);
  mm->base[at + 100] = 0;
  assert_int_equal(vmx_linux_mm_string_in(mm, buf, at, 50), -ENAMETOOLONG);
  assert_int_equal(vmx_linux_mm_string_in(mm, buf, 0, 50), -EFAULT);
}

static void test_mremap_grows_shrinks_and_moves(void **state) {
  vmx_linux_mm_t *mm = *state;
  int64_t a = vmx_linux_mm_map(mm, 0x100000, PG, RW, ANON | MAP_FIXED, -1, 0);
  strcpy((char *)mm->base + a, "keep");
  /* grows in place while the next pages are free */
  assert_int_equal(vmx_linux_mm_remap(mm, (uint64_t)a, PG, 4 * PG, 0, 0), a);
  assert_string_equal((char *)mm->base + a, "keep");
  assert_true(vmx_linux_mm_check(mm, (uint64_t)a, 4 * PG, RW));
  /* blocked: fails without MAYMOVE, moves with it */
  vmx_linux_mm_map(mm, (uint64_t)a + 4 * PG, PG, PROT_READ, ANON | MAP_FIXED, -1, 0);
  assert_int_equal(vmx_linux_mm_remap(mm, (uint64_t)a, 4 * PG, 8 * PG, 0, 0), -ENOMEM);
  int64_t b = vmx_linux_mm_remap(mm, (uint64_t)a, 4 * PG, 8 * PG, MREMAP_MAYMOVE, 0);
  assert_true(b > 0 && b != a);
  assert_string_equal((char *)mm->base + b, "keep");
  assert_false(vmx_linux_mm_check(mm, (uint64_t)a, PG, 0));
  assert_true(vmx_linux_mm_check(mm, (uint64_t)b, 8 * PG, RW));
  /* shrinks in place */
  assert_int_equal(vmx_linux_mm_remap(mm, (uint64_t)b, 8 * PG, 2 * PG, 0, 0), b);
  assert_false(vmx_linux_mm_check(mm, (uint64_t)b + 2 * PG, PG, 0));
  /* moves to a fixed place, replacing what is there */
  uint64_t to = 0x300000;
  vmx_linux_mm_map(mm, to, PG, PROT_READ, ANON | MAP_FIXED, -1, 0);
  assert_int_equal(vmx_linux_mm_remap(mm, (uint64_t)b, 2 * PG, 3 * PG,
                                      MREMAP_MAYMOVE | MREMAP_FIXED, to), (int64_t)to);
  assert_string_equal((char *)mm->base + to, "keep");
  assert_true(vmx_linux_mm_check(mm, to, 3 * PG, RW));
  /* errors */
  assert_int_equal(vmx_linux_mm_remap(mm, 0x7000000, PG, 2 * PG, MREMAP_MAYMOVE, 0), -EFAULT);
  assert_int_equal(vmx_linux_mm_remap(mm, to, PG, 2 * PG, MREMAP_FIXED, 0x500000), -EINVAL);
  assert_int_equal(vmx_linux_mm_remap(mm, to, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
                                      to + PG), -EINVAL);
  assert_vmas_sane(mm);
}

static void test_mremap_moves_a_file_mapping(void **state) {
  vmx_linux_mm_t *mm = *state;
  char path[] = "/tmp/vmx-test-mm-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  char data[3 * PG];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)('a' + i / PG);
  assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
  int64_t a = vmx_linux_mm_map(mm, 0, 2 * PG, PROT_READ, MAP_PRIVATE, fd, PG);
  assert_true(a > 0);
  assert_int_equal(mm->base[a], 'b');
  assert_int_equal(mm->base[a + PG], 'c');
  vmx_linux_mm_map(mm, (uint64_t)a + 2 * PG, PG, PROT_READ, ANON | MAP_FIXED, -1, 0);
  int64_t b = vmx_linux_mm_remap(mm, (uint64_t)a, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
                                 0x400000);
  assert_int_equal(b, 0x400000);
  assert_int_equal(mm->base[b + PG], 'c');
  close(fd);
}

static void test_brk_grows_after_start_and_shrinks(void **state) {
  vmx_linux_mm_t *mm = *state;
  vmx_linux_mm_set_brk(mm, 0x123456);
  assert_int_equal(mm->brk_start, 0x124000);
  assert_int_equal(vmx_linux_mm_brk(mm, 0), 0x124000);
  assert_int_equal(vmx_linux_mm_brk(mm, 0x100000), 0x124000);   /* below start */
  assert_int_equal(vmx_linux_mm_brk(mm, 0x124000 + 3 * PG + 5), 0x124000 + 3 * PG + 5);
  mm->base[0x124000 + 3 * PG + 4] = 1;   /* the partial page is mapped */
  assert_true(vmx_linux_mm_check(mm, 0x124000, 4 * PG, RW));
  assert_int_equal(vmx_linux_mm_brk(mm, 0x124000 + PG), 0x124000 + PG);
  assert_false(vmx_linux_mm_check(mm, 0x124000 + PG, PG, 0));
  /* a mapping in the way stops the break */
  vmx_linux_mm_map(mm, 0x124000 + 8 * PG, PG, RW, ANON | MAP_FIXED, -1, 0);
  assert_int_equal(vmx_linux_mm_brk(mm, 0x124000 + 10 * PG), 0x124000 + PG);
}

static void test_maps_lists_guest_addresses(void **state) {
  vmx_linux_mm_t *mm = *state;
  vmx_linux_mm_map(mm, 0x100000, 2 * PG, PROT_READ | PROT_EXEC, ANON | MAP_FIXED, -1, 0);
  vmx_linux_mm_map(mm, mm->stack_top - 4 * PG, 4 * PG, RW, ANON | MAP_FIXED, -1, 0);
  vmx_linux_mm_set_kind(mm, mm->stack_top - 4 * PG, mm->stack_top, VMX_LINUX_VMA_STACK);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  vmx_linux_mm_write_maps(mm, f);
  fclose(f);
  assert_non_null(strstr(text, "00100000-00102000 r-xp 00000000 00:00 0"));
  char want[64];
  snprintf(want, sizeof want, "%08llx-%08llx rw-p", (unsigned long long)(mm->stack_top - 4 * PG),
           (unsigned long long)mm->stack_top);
  char *line = strstr(text, want);
  assert_non_null(line);
  assert_non_null(strstr(line, "[stack]\n"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reservation_is_aligned_and_sized, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_mmap_null_goes_top_down_below_mmap_base, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_mmap_hint_is_used_when_free, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_mmap_rejects_bad_arguments, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_map_fixed_replaces_and_bumps_code_gen, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_fixed_noreplace_refuses_occupied_range, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_munmap_splits_and_rereserves, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_mprotect_needs_a_mapped_range, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_copy_helpers_never_fault, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_string_in_stops_at_nul_fault_or_size, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_mremap_grows_shrinks_and_moves, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_mremap_moves_a_file_mapping, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_brk_grows_after_start_and_shrinks, mm_setup, mm_teardown),
      cmocka_unit_test_setup_teardown(test_maps_lists_guest_addresses, mm_setup, mm_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
