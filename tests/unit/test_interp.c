/* The interpreter on hand-assembled code: results, exits, exact icount. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "cpu/riscv/cpu.h"

#define MEM (1u << 20)
#define CODE 0x1000u

/* Instruction encoders for the test programs (constant expressions). */
#define I_TYPE(op, f3, rd, rs1, imm) \
  ((uint32_t)(op) | (uint32_t)(rd) << 7 | (uint32_t)(f3) << 12 | (uint32_t)(rs1) << 15 | ((uint32_t)(imm) & 0xfff) << 20)
#define R_TYPE(op, f3, f7, rd, rs1, rs2) \
  ((uint32_t)(op) | (uint32_t)(rd) << 7 | (uint32_t)(f3) << 12 | (uint32_t)(rs1) << 15 | (uint32_t)(rs2) << 20 | (uint32_t)(f7) << 25)
#define B_TYPE(f3, rs1, rs2, off) \
  (0x63u | (((uint32_t)(off) >> 11) & 1) << 7 | (((uint32_t)(off) >> 1) & 0xf) << 8 | (uint32_t)(f3) << 12 | \
   (uint32_t)(rs1) << 15 | (uint32_t)(rs2) << 20 | (((uint32_t)(off) >> 5) & 0x3f) << 25 | (((uint32_t)(off) >> 12) & 1) << 31)
#define ADDI(rd, rs1, imm) I_TYPE(0x13, 0, rd, rs1, imm)
#define ADD(rd, rs1, rs2) R_TYPE(0x33, 0, 0, rd, rs1, rs2)
#define LD(rd, rs1, imm) I_TYPE(0x03, 3, rd, rs1, imm)
#define BNE(rs1, rs2, off) B_TYPE(1, rs1, rs2, off)
#define ECALL 0x00000073u
#define EBREAK 0x00100073u

typedef struct {
  uint8_t *mem;
  vmx_rv_cpu_t cpu;
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  fx->mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_ptr_not_equal(fx->mem, MAP_FAILED);
  assert_int_equal(vmx_rv_cpu_init(&fx->cpu, fx->mem, MEM, NULL), 0);
  fx->cpu.pc = CODE;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  vmx_rv_cpu_close(&fx->cpu);
  munmap(fx->mem, MEM);
  free(fx);
  return 0;
}

static void load(fixture_t *fx, const uint32_t *code, size_t n) {
  memcpy(fx->mem + CODE, code, n * 4);
}

/* sum 1..10 in a loop: 3 setup + 10 * 3 loop + ecall */
static const uint32_t loop_prog[] = {
  ADDI(10, 0, 0),   /* a0 = 0 */
  ADDI(11, 0, 10),  /* a1 = 10 */
  ADDI(12, 0, 0),   /* a2 = 0 */
  ADDI(12, 12, 1),  /* loop: a2++ */
  ADD(10, 10, 12),  /* a0 += a2 */
  BNE(12, 11, -8),  /* while a2 != a1 */
  ECALL,
};

static void test_loop_result_and_icount(void **state) {
  fixture_t *fx = *state;
  load(fx, loop_prog, 7);
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_ECALL);
  assert_int_equal(fx->cpu.x[10], 55);
  assert_int_equal(fx->cpu.icount, 3 + 30 + 1);
  assert_int_equal(fx->cpu.pc, CODE + 7 * 4);
}

static void test_stops_after_exactly_n_instructions(void **state) {
  fixture_t *fx = *state;
  load(fx, loop_prog, 7);
  for (uint64_t n = 1; n <= 33; n++) {
    fx->cpu.pc = CODE;
    fx->cpu.icount = 0;
    fx->cpu.icount_limit = n;
    assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_LIMIT);
    assert_int_equal(fx->cpu.icount, n);
    /* Resuming without a limit finishes with the same result. */
    fx->cpu.icount_limit = UINT64_MAX;
    assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_ECALL);
    assert_int_equal(fx->cpu.x[10], 55);
    assert_int_equal(fx->cpu.icount, 34);
  }
}

static void test_x0_stays_zero(void **state) {
  fixture_t *fx = *state;
  const uint32_t prog[] = {ADDI(0, 0, 5), ADD(10, 0, 0), ECALL};
  load(fx, prog, 3);
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_ECALL);
  assert_int_equal(fx->cpu.x[0], 0);
  assert_int_equal(fx->cpu.x[10], 0);
}

static void test_load_outside_memory_faults_without_retiring(void **state) {
  fixture_t *fx = *state;
  const uint32_t prog[] = {ADDI(5, 0, 1), ADDI(6, 0, -8), LD(7, 6, 0), ECALL};
  load(fx, prog, 4);
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_FAULT);
  assert_int_equal(fx->cpu.fault_kind, VMX_RV_FAULT_LOAD);
  assert_int_equal(fx->cpu.fault_addr, (uint64_t)-8);
  assert_int_equal(fx->cpu.pc, CODE + 8);
  assert_int_equal(fx->cpu.icount, 2);
}

static void test_ebreak_and_illegal_do_not_retire(void **state) {
  fixture_t *fx = *state;
  const uint32_t prog[] = {ADDI(5, 0, 1), EBREAK, 0xffffffffu};
  load(fx, prog, 3);
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_EBREAK);
  assert_int_equal(fx->cpu.pc, CODE + 4);
  assert_int_equal(fx->cpu.icount, 1);
  fx->cpu.pc += 4;
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_ILLEGAL);
  assert_int_equal(fx->cpu.pc, CODE + 8);
  assert_int_equal(fx->cpu.exit_insn, 0xffffffffu);
  assert_int_equal(fx->cpu.icount, 1);
}

static void test_compressed_instructions(void **state) {
  fixture_t *fx = *state;
  /* c.li a0, 7 ; c.addi a0, 3 ; c.mv a1, a0 ; c.add a1, a0 ; ecall */
  const uint16_t prog[] = {0x451d, 0x050d, 0x85aa, 0x95aa, 0x0073, 0x0000};
  memcpy(fx->mem + CODE, prog, sizeof prog);
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_ECALL);
  assert_int_equal(fx->cpu.x[10], 10);
  assert_int_equal(fx->cpu.x[11], 20);
  assert_int_equal(fx->cpu.icount, 5);
  assert_int_equal(fx->cpu.pc, CODE + 12);
}

static void test_lr_sc_pair_succeeds_and_lone_sc_fails(void **state) {
  fixture_t *fx = *state;
  const uint32_t prog[] = {
    ADDI(5, 0, 0x100),                        /* t0 = 0x100 */
    ADDI(6, 0, 42),                           /* t1 = 42 */
    R_TYPE(0x2f, 3, 0x08, 7, 5, 0),           /* lr.d t2, (t0) */
    R_TYPE(0x2f, 3, 0x0c, 28, 5, 6),          /* sc.d t3, t1, (t0) */
    R_TYPE(0x2f, 3, 0x0c, 29, 5, 6),          /* sc.d t4, t1, (t0): no reservation */
    ECALL,
  };
  load(fx, prog, 6);
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_ECALL);
  assert_int_equal(fx->cpu.x[28], 0);
  assert_int_equal(fx->cpu.x[29], 1);
  uint64_t v;
  memcpy(&v, fx->mem + 0x100, 8);
  assert_int_equal(v, 42);
}

static void test_exit_request_stops_at_block_boundary(void **state) {
  fixture_t *fx = *state;
  const uint32_t prog[] = {ADDI(5, 5, 1), BNE(0, 5, -4)}; /* endless loop */
  load(fx, prog, 2);
  fx->cpu.icount_limit = 1000;
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_LIMIT);
  assert_int_equal(fx->cpu.x[5], 500);
  vmx_rv_cpu_kick(&fx->cpu);
  fx->cpu.icount_limit = UINT64_MAX;
  assert_int_equal(vmx_rv_cpu_run(&fx->cpu), VMX_RV_EXIT_REQUEST);
  assert_int_equal(fx->cpu.icount, 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_loop_result_and_icount, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stops_after_exactly_n_instructions, setup, teardown),
    cmocka_unit_test_setup_teardown(test_x0_stays_zero, setup, teardown),
    cmocka_unit_test_setup_teardown(test_load_outside_memory_faults_without_retiring, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ebreak_and_illegal_do_not_retire, setup, teardown),
    cmocka_unit_test_setup_teardown(test_compressed_instructions, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lr_sc_pair_succeeds_and_lone_sc_fails, setup, teardown),
    cmocka_unit_test_setup_teardown(test_exit_request_stops_at_block_boundary, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
