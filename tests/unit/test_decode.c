/* The decoder against its own table and against RVC expansions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpu/riscv/decode.h"

static const struct { uint32_t match; uint16_t op; } table[] = {
#define X(name, match, mask, fmt, kind) {match, VMX_RV_OP_##name},
#include "cpu/riscv/insns.def"
#undef X
};

/* Every entry's match pattern decodes to that entry: no entry shadows another. */
static void test_every_table_entry_decodes_to_itself(void **state) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    vmx_rv_insn_t in;
    vmx_rv_decode(&in, (uint16_t)table[i].match, (uint16_t)(table[i].match >> 16));
    if (in.op != table[i].op)
      fail_msg("0x%08x decodes to %s, expected %s", table[i].match, vmx_rv_op_name(in.op),
               vmx_rv_op_name(table[i].op));
    assert_int_equal(in.len, 4);
  }
}

static void test_all_zero_and_all_one_words_are_illegal(void **state) {
  vmx_rv_insn_t in;
  vmx_rv_decode(&in, 0, 0);
  assert_int_equal(in.op, VMX_RV_OP_ILLEGAL);
  assert_int_equal(in.len, 2);
  vmx_rv_decode(&in, 0xffff, 0xffff);
  assert_int_equal(in.op, VMX_RV_OP_ILLEGAL);
}

/* RVC words and the 32-bit words they expand to, from riscv64-linux-gnu-as
 * (the same instruction assembled with and without .option rvc). */
static const struct { uint16_t c; uint32_t w; } rvc[] = {
  {0x0808, 0x01010513}, /* addi4spn a0, sp, 16 */
  {0x41c8, 0x0045a503}, /* lw a0, 4(a1) */
  {0x6588, 0x0085b503}, /* ld a0, 8(a1) */
  {0xc1c8, 0x00a5a223}, /* sw a0, 4(a1) */
  {0xe588, 0x00a5b423}, /* sd a0, 8(a1) */
  {0x0505, 0x00150513}, /* addi a0, 1 */
  {0x357d, 0xfff5051b}, /* addiw a0, -1 */
  {0x4515, 0x00500513}, /* li a0, 5 */
  {0x717d, 0xff010113}, /* addi16sp sp, -16 */
  {0x6505, 0x00001537}, /* lui a0, 1 */
  {0x8105, 0x00155513}, /* srli a0, 1 */
  {0x8505, 0x40155513}, /* srai a0, 1 */
  {0x897d, 0x01f57513}, /* andi a0, 31 */
  {0x8d0d, 0x40b50533}, /* sub a0, a1 */
  {0x8d2d, 0x00b54533}, /* xor a0, a1 */
  {0x8d4d, 0x00b56533}, /* or a0, a1 */
  {0x8d6d, 0x00b57533}, /* and a0, a1 */
  {0x9d0d, 0x40b5053b}, /* subw a0, a1 */
  {0x9d2d, 0x00b5053b}, /* addw a0, a1 */
  {0x0506, 0x00151513}, /* slli a0, 1 */
  {0x4502, 0x00012503}, /* lwsp a0, 0(sp) */
  {0x6502, 0x00013503}, /* ldsp a0, 0(sp) */
  {0x8082, 0x00008067}, /* jr ra */
  {0x852e, 0x00b00533}, /* mv a0, a1 */
  {0x9002, 0x00100073}, /* ebreak */
  {0x9502, 0x000500e7}, /* jalr a0 */
  {0x952e, 0x00b50533}, /* add a0, a1 */
  {0xc02a, 0x00a12023}, /* swsp a0, 0(sp) */
  {0xe02a, 0x00a13023}, /* sdsp a0, 0(sp) */
  {0x2518, 0x00853707}, /* fld fa4, 8(a0) */
};

static void test_rvc_expands_like_the_assembler(void **state) {
  for (size_t i = 0; i < sizeof rvc / sizeof rvc[0]; i++) {
    vmx_rv_insn_t c, w;
    vmx_rv_decode(&c, rvc[i].c, 0);
    vmx_rv_decode(&w, (uint16_t)rvc[i].w, (uint16_t)(rvc[i].w >> 16));
    if (c.bits != rvc[i].w || c.op != w.op)
      fail_msg("c 0x%04x expands to 0x%08x (%s), expected 0x%08x (%s)", rvc[i].c, c.bits,
               vmx_rv_op_name(c.op), rvc[i].w, vmx_rv_op_name(w.op));
    assert_int_equal(c.len, 2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_table_entry_decodes_to_itself),
    cmocka_unit_test(test_all_zero_and_all_one_words_are_illegal),
    cmocka_unit_test(test_rvc_expands_like_the_assembler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
