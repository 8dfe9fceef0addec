/* F and D semantics, bit-exact with the RISC-V unprivileged spec (ch. 11-12):
 * rounding modes (static rm field and dynamic frm), accrued fflags, NaN
 * boxing of singles in the 64-bit registers, canonical NaNs, fmin/fmax and
 * fcvt edge cases.
 *
 * One function per compute instruction of insns.def with kind FP:
 *   int vmx_rv_fp_NAME(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in);
 * Operands come from in->rd/rs1/rs2/rs3/rm; results go to cpu->f[] or, for
 * compares, classify, fcvt-to-int and fmv.x, to cpu->x[] (never x0). Returns
 * 0, or -1 when the instruction is illegal (reserved rounding mode) and the
 * state is unchanged. FP loads and stores are in the interpreter.
 */
#ifndef VMX_CPU_RISCV_FPU_H
#define VMX_CPU_RISCV_FPU_H

#include "cpu/riscv/cpu.h"
#include "cpu/riscv/decode.h"

#define X(name, match, mask, fmt, kind) VMX_RV_FP_DECL_##kind(name)
#define VMX_RV_FP_DECL_FP(name) int vmx_rv_fp_##name(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in);
#define VMX_RV_FP_DECL_ALU(name)
#define VMX_RV_FP_DECL_MEM(name)
#define VMX_RV_FP_DECL_BR(name)
#define VMX_RV_FP_DECL_SYS(name)
#define VMX_RV_FP_DECL_AMO(name)
#define VMX_RV_FP_DECL_CSR(name)
#include "cpu/riscv/insns.def"
#undef X

/* NaN-boxes a single: the upper 32 bits all ones (unpriv §12.2). */
static inline uint64_t vmx_rv_box32(uint32_t v) { return 0xffffffff00000000ull | v; }

#endif
