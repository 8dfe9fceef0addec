/* RV64GC decoder: instruction bits to a vmx_rv_insn_t, driven by insns.def. */
#ifndef VMX_CPU_RISCV_DECODE_H
#define VMX_CPU_RISCV_DECODE_H

#include <stdint.h>

typedef enum {
#define X(name, match, mask, fmt, kind) VMX_RV_OP_##name,
#include "cpu/riscv/insns.def"
#undef X
  VMX_RV_OP_ILLEGAL,
  VMX_RV_OP_COUNT
} vmx_rv_op_t;

/* A decoded instruction. Fields a format does not use are zero. */
typedef struct vmx_rv_insn {
  const void *impl;   /* interpreter handler, filled in when a block is built */
  int64_t imm;        /* sign-extended immediate; CSR number for CSR ops */
  uint16_t op;        /* vmx_rv_op_t */
  uint8_t rd, rs1, rs2, rs3;
  uint8_t rm;         /* FP rounding mode field, or aq/rl bits for A */
  uint8_t len;        /* 2 (RVC) or 4 */
  uint8_t idx;        /* index of this instruction in its block */
  uint16_t pc_off;    /* offset of this instruction from its block's start */
  uint32_t bits;      /* the 32-bit (expanded) instruction word */
} vmx_rv_insn_t;

/* Decodes one instruction (fields only: branch and jump immediates stay
 * pc-relative; the interpreter makes them absolute when it builds a block). `lo` holds the first 16 bits at pc; when they
 * start a 32-bit instruction, `hi` must hold the next 16 bits. Sets
 * insn->len to 2 or 4 and insn->op to VMX_RV_OP_ILLEGAL when the bits are
 * not a valid RV64GC instruction. */
void vmx_rv_decode(vmx_rv_insn_t *insn, uint16_t lo, uint16_t hi);

/* Length in bytes of the instruction whose first 16 bits are lo. */
static inline unsigned vmx_rv_insn_len(uint16_t lo) { return (lo & 3) == 3 ? 4 : 2; }

/* Mnemonic of op ("add", "fmadd.d", ...). */
const char *vmx_rv_op_name(vmx_rv_op_t op);

#endif
