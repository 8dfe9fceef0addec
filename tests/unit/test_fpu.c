/* F and D semantics (src/cpu/riscv/fpu.c) against values worked out from the
 * RISC-V unprivileged spec (ch. 11-12) and IEEE 754, not from the code:
 * every rounding mode, accrued flags, NaN boxing, canonical NaNs, min/max,
 * compares, classify, the fcvt saturation table, RMM ties and fused
 * multiply-add. */
#include <fenv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/riscv/fpu.h"

enum { NV = VMX_RV_FF_NV, DZ = VMX_RV_FF_DZ, OF = VMX_RV_FF_OF, UF = VMX_RV_FF_UF,
       NX = VMX_RV_FF_NX };
enum { RNE = VMX_RV_RNE, RTZ = VMX_RV_RTZ, RDN = VMX_RV_RDN, RUP = VMX_RV_RUP,
       RMM = VMX_RV_RMM, DYN = VMX_RV_DYN };

#define CANON_S 0x7fc00000u
#define CANON_D 0x7ff8000000000000ull
#define SNAN_S 0x7f800001u
#define SNAN_D 0x7ff0000000000001ull
#define QNAN_S 0x7fc12345u          /* quiet, not canonical */
#define QNAN_D 0x7ff8000000012345ull
#define BOX(v) (0xffffffff00000000ull | (uint32_t)(v))

#define TEST(name) static void name(void **state __attribute__((unused)))

typedef int (*fp_fn_t)(vmx_rv_cpu_t *, const vmx_rv_insn_t *);

static vmx_rv_cpu_t cpu;

static uint64_t D(double d) { uint64_t b; memcpy(&b, &d, sizeof b); return b; }
static uint32_t S(float f) { uint32_t b; memcpy(&b, &f, sizeof b); return b; }

/* Operands in f1, f2, f3 (or x1); the result goes to f4 or x4. */
static void run(fp_fn_t fn, int rm) {
  vmx_rv_insn_t in = {.rd = 4, .rs1 = 1, .rs2 = 2, .rs3 = 3, .rm = (uint8_t)rm};
  assert_int_equal(fn(&cpu, &in), 0);
}

/* fflags every operation starts with (load() sets it). */
static uint32_t initial_fflags;

static void load(uint64_t f1, uint64_t f2, uint64_t f3) {
  memset(&cpu, 0, sizeof cpu);
  cpu.fflags = initial_fflags;
  cpu.f[1] = f1;
  cpu.f[2] = f2;
  cpu.f[3] = f3;
}

/* Double result and flags of fn(a, b[, c]) in mode rm. */
static uint64_t op_d(fp_fn_t fn, int rm, uint64_t a, uint64_t b, uint64_t c, uint32_t *flags) {
  load(a, b, c);
  run(fn, rm);
  *flags = cpu.fflags;
  return cpu.f[4];
}

/* Single result (checked NaN-boxed) of fn on raw 64-bit register values. */
static uint32_t op_s_raw(fp_fn_t fn, int rm, uint64_t a, uint64_t b, uint64_t c, uint32_t *flags) {
  load(a, b, c);
  run(fn, rm);
  *flags = cpu.fflags;
  assert_true(cpu.f[4] >> 32 == 0xffffffffu);
  return (uint32_t)cpu.f[4];
}

static uint32_t op_s(fp_fn_t fn, int rm, uint32_t a, uint32_t b, uint32_t c, uint32_t *flags) {
  return op_s_raw(fn, rm, BOX(a), BOX(b), BOX(c), flags);
}

/* Integer result (x4) of fn on f1 = a. */
static uint64_t op_to_x(fp_fn_t fn, int rm, uint64_t a, uint64_t b, uint32_t *flags) {
  load(a, b, 0);
  run(fn, rm);
  *flags = cpu.fflags;
  return cpu.x[4];
}

/* f4 of fn on x1 = x. */
static uint64_t op_from_x(fp_fn_t fn, int rm, uint64_t x, uint32_t *flags) {
  load(0, 0, 0);
  cpu.x[1] = x;
  run(fn, rm);
  *flags = cpu.fflags;
  return cpu.f[4];
}

#define EXPECT_D(fn, rm, a, b, c, want, want_flags)                          \
  do {                                                                       \
    uint32_t fl_;                                                            \
    assert_int_equal(op_d(vmx_rv_fp_##fn, rm, a, b, c, &fl_), want);         \
    assert_int_equal(fl_, want_flags);                                       \
  } while (0)
#define EXPECT_S(fn, rm, a, b, c, want, want_flags)                          \
  do {                                                                       \
    uint32_t fl_;                                                            \
    assert_int_equal(op_s(vmx_rv_fp_##fn, rm, a, b, c, &fl_), want);         \
    assert_int_equal(fl_, want_flags);                                       \
  } while (0)
#define EXPECT_X(fn, rm, a, b, want, want_flags)                             \
  do {                                                                       \
    uint32_t fl_;                                                            \
    assert_int_equal(op_to_x(vmx_rv_fp_##fn, rm, a, b, &fl_), want);         \
    assert_int_equal(fl_, want_flags);                                       \
  } while (0)
#define EXPECT_FROM_X(fn, rm, x, want, want_flags)                           \
  do {                                                                       \
    uint32_t fl_;                                                            \
    assert_int_equal(op_from_x(vmx_rv_fp_##fn, rm, x, &fl_), want);          \
    assert_int_equal(fl_, want_flags);                                       \
  } while (0)

/* ---- rounding modes ----------------------------------------------------- */

/* 1 + 0.75 ulp: nearest is 1 + ulp; toward zero and down give 1. */
TEST(test_fadd_d_rounds_in_each_static_mode) {
  uint64_t one = D(1.0), b = D(0x1.8p-53), up = D(0x1.0000000000001p0);
  EXPECT_D(FADD_D, RNE, one, b, 0, up, NX);
  EXPECT_D(FADD_D, RTZ, one, b, 0, one, NX);
  EXPECT_D(FADD_D, RDN, one, b, 0, one, NX);
  EXPECT_D(FADD_D, RUP, one, b, 0, up, NX);
  EXPECT_D(FADD_D, RMM, one, b, 0, up, NX);
  /* The mirror image: directed modes swap. */
  uint64_t mone = D(-1.0), mb = D(-0x1.8p-53), mup = D(-0x1.0000000000001p0);
  EXPECT_D(FADD_D, RNE, mone, mb, 0, mup, NX);
  EXPECT_D(FADD_D, RTZ, mone, mb, 0, mone, NX);
  EXPECT_D(FADD_D, RDN, mone, mb, 0, mup, NX);
  EXPECT_D(FADD_D, RUP, mone, mb, 0, mone, NX);
  EXPECT_D(FADD_D, RMM, mone, mb, 0, mup, NX);
}

TEST(test_fdiv_s_rounds_in_each_static_mode) {
  /* 1/3 = 0x1.555555...p-2: the 24-bit truncation is 0x3eaaaaaa and the
   * next bit is 1 (then more ones), so nearest rounds up. */
  EXPECT_S(FDIV_S, RNE, S(1.0f), S(3.0f), 0, 0x3eaaaaab, NX);
  EXPECT_S(FDIV_S, RTZ, S(1.0f), S(3.0f), 0, 0x3eaaaaaa, NX);
  EXPECT_S(FDIV_S, RDN, S(1.0f), S(3.0f), 0, 0x3eaaaaaa, NX);
  EXPECT_S(FDIV_S, RUP, S(1.0f), S(3.0f), 0, 0x3eaaaaab, NX);
  EXPECT_S(FDIV_S, RMM, S(1.0f), S(3.0f), 0, 0x3eaaaaab, NX);
  EXPECT_S(FDIV_S, RDN, S(-1.0f), S(3.0f), 0, 0xbeaaaaab, NX);
  EXPECT_S(FDIV_S, RUP, S(-1.0f), S(3.0f), 0, 0xbeaaaaaa, NX);
}

TEST(test_dynamic_mode_uses_frm) {
  uint64_t one = D(1.0), b = D(0x1.8p-53);
  load(one, b, 0);
  cpu.frm = RTZ;
  run(vmx_rv_fp_FADD_D, DYN);
  assert_int_equal(cpu.f[4], one);
  load(one, b, 0);
  cpu.frm = RUP;
  run(vmx_rv_fp_FADD_D, DYN);
  assert_int_equal(cpu.f[4], D(0x1.0000000000001p0));
}

/* Reserved modes (static 5/6, or dynamic with frm 5/6/7) are illegal and
 * leave every register and the flags as they were. */
TEST(test_reserved_rounding_mode_is_illegal) {
  static const fp_fn_t rounding[] = {
    vmx_rv_fp_FADD_S, vmx_rv_fp_FSUB_D, vmx_rv_fp_FMUL_S, vmx_rv_fp_FDIV_D,
    vmx_rv_fp_FSQRT_S, vmx_rv_fp_FSQRT_D, vmx_rv_fp_FMADD_S, vmx_rv_fp_FNMADD_D,
    vmx_rv_fp_FCVT_W_S, vmx_rv_fp_FCVT_LU_D, vmx_rv_fp_FCVT_S_W, vmx_rv_fp_FCVT_D_LU,
    vmx_rv_fp_FCVT_S_D, vmx_rv_fp_FCVT_D_S, vmx_rv_fp_FCVT_D_W,
  };
  for (size_t i = 0; i < sizeof rounding / sizeof *rounding; i++) {
    for (int rm = 5; rm <= 7; rm++) {
      for (int frm = 0; frm <= 7; frm++) {
        if (rm == DYN && frm <= RMM)
          continue;
        load(D(1.0), D(3.0), D(1.0));
        cpu.x[1] = 7;
        cpu.x[4] = 0x1234;
        cpu.f[4] = 0x5678;
        cpu.frm = (uint32_t)frm;
        cpu.fflags = NX;
        vmx_rv_insn_t in = {.rd = 4, .rs1 = 1, .rs2 = 2, .rs3 = 3, .rm = (uint8_t)rm};
        assert_int_equal(rounding[i](&cpu, &in), -1);
        assert_int_equal(cpu.x[4], 0x1234);
        assert_int_equal(cpu.f[4], 0x5678);
        assert_int_equal(cpu.fflags, NX);
      }
    }
  }
}

/* Other host code relies on round-to-nearest between operations. */
TEST(test_host_rounding_is_restored) {
  EXPECT_D(FADD_D, RTZ, D(1.0), D(0x1.8p-53), 0, D(1.0), NX);
  EXPECT_D(FMADD_D, RUP, D(1.0), D(1.0), D(0x1p-60), D(0x1.0000000000001p0), NX);
  EXPECT_S(FSQRT_S, RDN, S(2.0f), 0, 0, 0x3fb504f3, NX);
  assert_int_equal(fegetround(), FE_TONEAREST);
  volatile double one = 1.0, third = 3.0;
  assert_true(one / third == 0x1.5555555555555p-2);
}

TEST(test_flags_accrue) {
  load(D(1.0), D(0.0), 0);
  cpu.fflags = UF;
  run(vmx_rv_fp_FDIV_D, RNE);
  assert_int_equal(cpu.fflags, UF | DZ);
  run(vmx_rv_fp_FSQRT_D, RNE); /* sqrt(1): exact, adds nothing */
  assert_int_equal(cpu.fflags, UF | DZ);
}

/* ---- RMM ---------------------------------------------------------------- */

/* 1 + half an ulp: nearest-even goes down to 1, max-magnitude up. */
TEST(test_rmm_breaks_add_ties_away_from_zero) {
  EXPECT_D(FADD_D, RNE, D(1.0), D(0x1p-53), 0, D(1.0), NX);
  EXPECT_D(FADD_D, RMM, D(1.0), D(0x1p-53), 0, D(0x1.0000000000001p0), NX);
  EXPECT_D(FSUB_D, RMM, D(-1.0), D(0x1p-53), 0, D(-0x1.0000000000001p0), NX);
  /* 1 + 1.5 ulp: the tie's even neighbour is the one away from zero. */
  EXPECT_D(FADD_D, RNE, D(0x1.0000000000001p0), D(0x1p-53), 0, D(0x1.0000000000002p0), NX);
  EXPECT_D(FADD_D, RMM, D(0x1.0000000000001p0), D(0x1p-53), 0, D(0x1.0000000000002p0), NX);
  /* Not ties: a quarter ulp, and just above or below half an ulp. */
  EXPECT_D(FADD_D, RMM, D(1.0), D(0x1p-54), 0, D(1.0), NX);
  EXPECT_S(FADD_S, RNE, S(1.0f), S(0x1p-24f), 0, 0x3f800000, NX);
  EXPECT_S(FADD_S, RMM, S(1.0f), S(0x1p-24f), 0, 0x3f800001, NX);
  EXPECT_S(FSUB_S, RMM, S(1.0f), S(-0x1p-24f), 0, 0x3f800001, NX);
  EXPECT_S(FADD_S, RMM, S(1.0f), S(0x1.2p-24f), 0, 0x3f800001, NX);
  EXPECT_S(FADD_S, RMM, S(1.0f), S(0x1.ep-25f), 0, 0x3f800000, NX);
}

/* 4097^2 = 2^24 + 2^13 + 1 is odd, between 16785408 and 16785410 (the
 * spacing above 2^24 is 2); 16785408/2 is even. For doubles,
 * (2^26+1)(2^27+1) = 2^53 + 3*2^26 + 1, between two even-spaced doubles. */
TEST(test_rmm_breaks_mul_ties_away_from_zero) {
  EXPECT_S(FMUL_S, RNE, S(4097.0f), S(4097.0f), 0, S(16785408.0f), NX);
  EXPECT_S(FMUL_S, RMM, S(4097.0f), S(4097.0f), 0, S(16785410.0f), NX);
  EXPECT_S(FMUL_S, RMM, S(-4097.0f), S(4097.0f), 0, S(-16785410.0f), NX);
  EXPECT_S(FMUL_S, RTZ, S(4097.0f), S(4097.0f), 0, S(16785408.0f), NX);
  EXPECT_S(FMUL_S, RUP, S(4097.0f), S(4097.0f), 0, S(16785410.0f), NX);
  double a = 0x1p26 + 1, b = 0x1p27 + 1, lo = 0x1p53 + 0x1p27 + 0x1p26;
  EXPECT_D(FMUL_D, RNE, D(a), D(b), 0, D(lo), NX);
  EXPECT_D(FMUL_D, RMM, D(a), D(b), 0, D(lo + 2), NX);
  EXPECT_D(FMUL_D, RMM, D(a), D(-b), 0, D(-(lo + 2)), NX);
}

/* Division ties only occur among subnormals: 5 * 2^-149 / 2 = 2.5 units.
 * Half the smallest subnormal ties between 0 and it. Both are tiny and
 * inexact: UF and NX. */
TEST(test_rmm_breaks_subnormal_ties_away_from_zero) {
  EXPECT_S(FDIV_S, RNE, 5, S(2.0f), 0, 2, UF | NX);
  EXPECT_S(FDIV_S, RMM, 5, S(2.0f), 0, 3, UF | NX);
  EXPECT_S(FDIV_S, RMM, 0x80000005, S(2.0f), 0, 0x80000003, UF | NX);
  EXPECT_D(FDIV_D, RNE, 5, D(2.0), 0, 2, UF | NX);
  EXPECT_D(FDIV_D, RMM, 5, D(2.0), 0, 3, UF | NX);
  EXPECT_S(FMUL_S, RNE, 1, S(0.5f), 0, 0, UF | NX);
  EXPECT_S(FMUL_S, RMM, 1, S(0.5f), 0, 1, UF | NX);
  EXPECT_D(FMUL_D, RMM, 1, D(-0.5), 0, 0x8000000000000001ull, UF | NX);
  EXPECT_D(FMUL_D, RMM, 3, D(0.5), 0, 2, UF | NX); /* 1.5 units: even is away */
}

TEST(test_rmm_in_fma_and_conversions) {
  EXPECT_D(FMADD_D, RNE, D(1.0), D(1.0), D(0x1p-53), D(1.0), NX);
  EXPECT_D(FMADD_D, RMM, D(1.0), D(1.0), D(0x1p-53), D(0x1.0000000000001p0), NX);
  EXPECT_D(FMADD_D, RMM, D(1.0), D(1.0), D(0x1.0000000001p-53), D(0x1.0000000000001p0), NX);
  EXPECT_D(FMADD_D, RMM, D(1.0), D(1.0), D(0x1.fffffffffp-54), D(1.0), NX);
  EXPECT_S(FMADD_S, RMM, S(1.0f), S(1.0f), S(0x1p-24f), 0x3f800001, NX);
  EXPECT_S(FNMSUB_S, RMM, S(1.0f), S(1.0f), S(-0x1p-24f), 0xbf800001, NX);
  EXPECT_S(FMADD_S, RMM, S(4097.0f), S(4097.0f), S(0.0f), S(16785410.0f), NX);
  /* fcvt.s.d of 1 + 2^-24: a tie between 1 and 1 + 2^-23. */
  uint32_t fl;
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, D(1 + 0x1p-24), 0, 0, &fl), 0x3f800000);
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RMM, D(1 + 0x1p-24), 0, 0, &fl), 0x3f800001);
  assert_int_equal(fl, NX);
  /* Integer to float: 2^24 + 1 and 2^53 + 1 are ties. */
  EXPECT_FROM_X(FCVT_S_L, RNE, (1 << 24) + 1, BOX(S(0x1p24f)), NX);
  EXPECT_FROM_X(FCVT_S_L, RMM, (1 << 24) + 1, BOX(S(0x1p24f + 2)), NX);
  EXPECT_FROM_X(FCVT_S_W, RMM, (uint64_t)-((1 << 24) + 1), BOX(S(-0x1p24f - 2)), NX);
  EXPECT_FROM_X(FCVT_D_L, RNE, (1ull << 53) + 1, D(0x1p53), NX);
  EXPECT_FROM_X(FCVT_D_L, RMM, (1ull << 53) + 1, D(0x1p53 + 2), NX);
  EXPECT_FROM_X(FCVT_D_LU, RMM, (1ull << 53) + 3, D(0x1p53 + 4), NX);
}

/* ---- flags -------------------------------------------------------------- */

TEST(test_divide_by_zero_and_invalid) {
  EXPECT_D(FDIV_D, RNE, D(1.0), D(0.0), 0, D(__builtin_inf()), DZ);
  EXPECT_D(FDIV_D, RNE, D(-1.0), D(0.0), 0, D(-__builtin_inf()), DZ);
  EXPECT_S(FDIV_S, RNE, S(1.0f), S(-0.0f), 0, 0xff800000, DZ);
  EXPECT_D(FDIV_D, RNE, D(0.0), D(0.0), 0, CANON_D, NV);
  EXPECT_D(FDIV_D, RNE, D(__builtin_inf()), D(0.0), 0, D(__builtin_inf()), 0);
  EXPECT_S(FDIV_S, RNE, 0x7f800000, 0x7f800000, 0, CANON_S, NV);
  EXPECT_D(FSUB_D, RNE, D(__builtin_inf()), D(__builtin_inf()), 0, CANON_D, NV);
  EXPECT_D(FMUL_D, RNE, D(0.0), D(-__builtin_inf()), 0, CANON_D, NV);
  EXPECT_S(FADD_S, RNE, 0xff800000, 0x7f800000, 0, CANON_S, NV);
}

TEST(test_nan_operands_give_canonical_nan) {
  EXPECT_D(FADD_D, RNE, QNAN_D, D(1.0), 0, CANON_D, 0);
  EXPECT_D(FMUL_D, RNE, D(1.0), 0xfff8000000000042ull, 0, CANON_D, 0);
  EXPECT_D(FADD_D, RNE, SNAN_D, D(1.0), 0, CANON_D, NV);
  EXPECT_D(FDIV_D, RNE, D(1.0), SNAN_D | (1ull << 63), 0, CANON_D, NV);
  EXPECT_S(FADD_S, RNE, QNAN_S, S(1.0f), 0, CANON_S, 0);
  EXPECT_S(FSUB_S, RNE, S(1.0f), SNAN_S, 0, CANON_S, NV);
  EXPECT_S(FSQRT_S, RNE, QNAN_S, 0, 0, CANON_S, 0);
  EXPECT_D(FSQRT_D, RNE, SNAN_D, 0, 0, CANON_D, NV);
}

/* Overflow: the result is inf or the largest finite value depending on the
 * mode's direction; OF and NX in every mode. */
TEST(test_overflow_by_mode) {
  uint64_t max = 0x7fefffffffffffffull, inf = 0x7ff0000000000000ull, sign = 1ull << 63;
  EXPECT_D(FMUL_D, RNE, max, D(2.0), 0, inf, OF | NX);
  EXPECT_D(FMUL_D, RTZ, max, D(2.0), 0, max, OF | NX);
  EXPECT_D(FMUL_D, RDN, max, D(2.0), 0, max, OF | NX);
  EXPECT_D(FMUL_D, RUP, max, D(2.0), 0, inf, OF | NX);
  EXPECT_D(FMUL_D, RMM, max, D(2.0), 0, inf, OF | NX);
  EXPECT_D(FMUL_D, RDN, max, D(-2.0), 0, inf | sign, OF | NX);
  EXPECT_D(FMUL_D, RUP, max, D(-2.0), 0, max | sign, OF | NX);
  EXPECT_S(FADD_S, RNE, 0x7f7fffff, 0x7f7fffff, 0, 0x7f800000, OF | NX);
  EXPECT_S(FADD_S, RTZ, 0x7f7fffff, 0x7f7fffff, 0, 0x7f7fffff, OF | NX);
  /* MAX + ulp/2 ties to even (inf); in RMM it ties away (inf too). */
  EXPECT_D(FADD_D, RNE, max, D(0x1p970), 0, inf, OF | NX);
  EXPECT_D(FADD_D, RMM, max, D(0x1p970), 0, inf, OF | NX);
  EXPECT_D(FADD_D, RMM, max, D(0x1.fffffp969), 0, max, NX);
}

/* Tininess is detected after rounding (unpriv §11.4): (1 - 2^-54) 2^-1022
 * rounds, with unbounded exponent, to 2^-1022 in RNE (a tie whose even
 * neighbour is 1): not tiny, no UF. Truncated, it stays below 2^-1022: UF.
 * The operands are (1 + 2^-27) and (1 - 2^-27) 2^-1022. For singles,
 * 18631 * 1801 = 2^25 - 1, giving (1 - 2^-25) 2^-126. */
TEST(test_underflow_detected_after_rounding) {
  uint64_t a = D(1 + 0x1p-27), b = D((1 - 0x1p-27) * 0x1p-1022);
  EXPECT_D(FMUL_D, RNE, a, b, 0, 0x0010000000000000ull, NX);
  EXPECT_D(FMUL_D, RMM, a, b, 0, 0x0010000000000000ull, NX);
  EXPECT_D(FMUL_D, RUP, a, b, 0, 0x0010000000000000ull, NX);
  EXPECT_D(FMUL_D, RTZ, a, b, 0, 0x000fffffffffffffull, UF | NX);
  EXPECT_D(FMUL_D, RDN, a, b, 0, 0x000fffffffffffffull, UF | NX);
  uint32_t sa = S(18631 * 0x1p-14f), sb = S(1801 * 0x1p-137f);
  EXPECT_S(FMUL_S, RNE, sa, sb, 0, 0x00800000, NX);
  EXPECT_S(FMUL_S, RTZ, sa, sb, 0, 0x007fffff, UF | NX);
  /* Exact subnormal results raise nothing; inexact tiny ones UF | NX. */
  EXPECT_D(FMUL_D, RNE, D(0x1p-1050), D(0.5), 0, D(0x1p-1051), 0);
  EXPECT_D(FMUL_D, RNE, D(0x1p-1074), D(0x1p-10), 0, 0, UF | NX);
  EXPECT_D(FMUL_D, RUP, D(0x1p-1074), D(0x1p-10), 0, 1, UF | NX);
  EXPECT_S(FDIV_S, RNE, S(0x1p-126f), S(3.0f), 0, 0x002aaaab, UF | NX);
  /* (1 - 2^-53) 2^-1022 is tiny even after rounding to 53 bits, yet its
   * subnormal rounding (a tie, to even) is the smallest normal. */
  EXPECT_D(FMUL_D, RNE, D(1 - 0x1p-53), D(0x1p-1022), 0, 0x0010000000000000ull, UF | NX);
}

/* With NX accrued, RNE operations take a shortcut; it must still report
 * every other flag. */
TEST(test_flags_with_nx_already_accrued) {
  initial_fflags = NX;
  uint64_t max = 0x7fefffffffffffffull;
  EXPECT_D(FADD_D, RNE, D(1.0), D(0x1p-60), 0, D(1.0), NX);
  EXPECT_D(FADD_D, RNE, max, max, 0, D(__builtin_inf()), OF | NX);
  EXPECT_D(FADD_D, RNE, D(__builtin_inf()), D(-__builtin_inf()), 0, CANON_D, NV | NX);
  EXPECT_D(FADD_D, RNE, D(0x1p-1070), D(-0x1p-1071), 0, D(0x1p-1071), NX);
  EXPECT_D(FMUL_D, RNE, D(0x1p-600), D(0x1p-600), 0, 0, UF | NX);
  EXPECT_D(FMUL_D, RNE, D(1 - 0x1p-53), D(0x1p-1022), 0, 0x0010000000000000ull, UF | NX);
  EXPECT_D(FMUL_D, RNE, D(1 + 0x1p-27), D((1 - 0x1p-27) * 0x1p-1022), 0,
           0x0010000000000000ull, NX);
  EXPECT_D(FDIV_D, RNE, D(1.0), D(0.0), 0, D(__builtin_inf()), DZ | NX);
  EXPECT_D(FDIV_D, RNE, D(0x1p-1000), D(0x1p100), 0, 0, UF | NX);
  EXPECT_D(FSQRT_D, RNE, D(-1.0), 0, 0, CANON_D, NV | NX);
  EXPECT_D(FMADD_D, RNE, D(0x1p-600), D(0x1p-600), D(0x1p-1074), 1, UF | NX);
  EXPECT_D(FMADD_D, RNE, max, D(2.0), D(-1.0), D(__builtin_inf()), OF | NX);
  EXPECT_D(FMADD_D, RNE, D(__builtin_inf()), D(0.0), D(1.0), CANON_D, NV | NX);
  EXPECT_S(FMUL_S, RNE, S(0x1p-100f), S(0x1p-100f), 0, 0, UF | NX);
  EXPECT_S(FMUL_S, RNE, 0x7f7fffff, S(2.0f), 0, 0x7f800000, OF | NX);
  EXPECT_S(FDIV_S, RNE, S(-1.0f), S(0.0f), 0, 0xff800000, DZ | NX);
  EXPECT_S(FSUB_S, RNE, 0x7f800000, 0x7f800000, 0, CANON_S, NV | NX);
  EXPECT_S(FMADD_S, RNE, S(0x1p-100f), S(0x1p-40f), S(0.0f), 0x00000200, NX);
  EXPECT_S(FMADD_S, RNE, S(0x1p-100f), S(0x1p-50f), S(0.0f), 0, UF | NX);
  EXPECT_S(FSQRT_S, RNE, S(-4.0f), 0, 0, CANON_S, NV | NX);
  /* Zero and subnormal results that are exact raise nothing more. */
  EXPECT_D(FMUL_D, RNE, D(0.0), D(-0x1p-1070), 0, D(-0.0), NX);
  EXPECT_D(FMUL_D, RNE, D(0x1p-1070), D(0.5), 0, D(0x1p-1071), NX);
  EXPECT_D(FMUL_D, RNE, D(-0.0), D(__builtin_inf()), 0, CANON_D, NV | NX);
  EXPECT_D(FDIV_D, RNE, D(0.0), D(3.0), 0, D(0.0), NX);
  EXPECT_D(FDIV_D, RNE, D(0.0), D(0.0), 0, CANON_D, NV | NX);
  EXPECT_D(FMADD_D, RNE, D(0.0), D(5.0), 3, 3, NX);
  EXPECT_D(FMADD_D, RNE, D(2.0), D(-0.0), D(-0.0), D(-0.0), NX);
  EXPECT_D(FMADD_D, RNE, D(2.0), D(1.5), D(-3.0), D(0.0), NX);
  EXPECT_S(FMUL_S, RNE, S(0x1p-140f), S(0.0f), 0, 0, NX);
  EXPECT_S(FNMSUB_S, RNE, S(-0.0f), S(7.0f), 5, 5, NX);
  uint32_t fl;
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, D(1e300), 0, 0, &fl), 0x7f800000);
  assert_int_equal(fl, OF | NX);
  initial_fflags = 0;
}

TEST(test_fsqrt) {
  EXPECT_D(FSQRT_D, RNE, D(4.0), 0, 0, D(2.0), 0);
  EXPECT_D(FSQRT_D, RNE, D(-4.0), 0, 0, CANON_D, NV);
  EXPECT_D(FSQRT_D, RNE, D(-0x1p-1074), 0, 0, CANON_D, NV);
  EXPECT_D(FSQRT_D, RNE, D(-0.0), 0, 0, D(-0.0), 0);
  EXPECT_D(FSQRT_D, RNE, D(-__builtin_inf()), 0, 0, CANON_D, NV);
  EXPECT_D(FSQRT_D, RNE, D(__builtin_inf()), 0, 0, D(__builtin_inf()), 0);
  /* sqrt(2) = 0x1.6a09e667f3bcc908...p0: nearest and truncation differ. */
  EXPECT_D(FSQRT_D, RNE, D(2.0), 0, 0, D(0x1.6a09e667f3bcdp0), NX);
  EXPECT_D(FSQRT_D, RTZ, D(2.0), 0, 0, D(0x1.6a09e667f3bccp0), NX);
  EXPECT_D(FSQRT_D, RMM, D(2.0), 0, 0, D(0x1.6a09e667f3bcdp0), NX);
  EXPECT_S(FSQRT_S, RNE, S(-1.0f), 0, 0, CANON_S, NV);
  EXPECT_S(FSQRT_S, RTZ, S(2.0f), 0, 0, 0x3fb504f3, NX);
  EXPECT_S(FSQRT_S, RUP, S(2.0f), 0, 0, 0x3fb504f4, NX);
}

/* ---- fused multiply-add ------------------------------------------------- */

/* (1 + 2^-30)(1 - 2^-30) - 1 = -2^-60 exactly; rounding the product first
 * would give 0. */
TEST(test_fma_rounds_once) {
  uint64_t a = D(1 + 0x1p-30), b = D(1 - 0x1p-30);
  EXPECT_D(FMADD_D, RNE, a, b, D(-1.0), D(-0x1p-60), 0);
  EXPECT_D(FMSUB_D, RNE, a, b, D(1.0), D(-0x1p-60), 0);
  EXPECT_D(FNMSUB_D, RNE, a, b, D(1.0), D(0x1p-60), 0);
  EXPECT_D(FNMADD_D, RNE, a, b, D(-1.0), D(0x1p-60), 0);
  uint32_t sa = S(1 + 0x1p-12f), sb = S(1 - 0x1p-12f);
  EXPECT_S(FMADD_S, RNE, sa, sb, S(-1.0f), S(-0x1p-24f), 0);
  /* One rounding, not two: (1 + 2^-23)(1 - 2^-23) 2^-24 + (1 + 2^-23) is
   * 1 + 2^-23 + 2^-24 - 2^-70, just below the tie between 1 + 2^-23 and
   * 1 + 2^-22. Rounded to double first it would become the tie (then even:
   * 1 + 2^-22). */
  EXPECT_S(FMADD_S, RNE, S(1 + 0x1p-23f), S((1 - 0x1p-23f) * 0x1p-24f), S(1 + 0x1p-23f),
           0x3f800001, NX);
}

TEST(test_fma_signs) {
  /* fmadd: a*b+c, fmsub: a*b-c, fnmsub: -(a*b)+c, fnmadd: -(a*b)-c. */
  EXPECT_D(FMADD_D, RNE, D(2.0), D(3.0), D(1.0), D(7.0), 0);
  EXPECT_D(FMSUB_D, RNE, D(2.0), D(3.0), D(1.0), D(5.0), 0);
  EXPECT_D(FNMSUB_D, RNE, D(2.0), D(3.0), D(1.0), D(-5.0), 0);
  EXPECT_D(FNMADD_D, RNE, D(2.0), D(3.0), D(1.0), D(-7.0), 0);
  EXPECT_S(FMSUB_S, RNE, S(2.0f), S(3.0f), S(1.0f), S(5.0f), 0);
  EXPECT_S(FNMSUB_S, RNE, S(2.0f), S(3.0f), S(1.0f), S(-5.0f), 0);
  EXPECT_S(FNMADD_S, RNE, S(2.0f), S(3.0f), S(1.0f), S(-7.0f), 0);
  /* An exact zero sum is +0 except in RDN, also for the negated forms:
   * fnmadd(1, 1, -1) = (-1) + 1. */
  EXPECT_D(FMADD_D, RNE, D(1.0), D(1.0), D(-1.0), D(0.0), 0);
  EXPECT_D(FMADD_D, RDN, D(1.0), D(1.0), D(-1.0), D(-0.0), 0);
  EXPECT_D(FNMADD_D, RNE, D(1.0), D(1.0), D(-1.0), D(0.0), 0);
  EXPECT_S(FNMADD_S, RNE, S(1.0f), S(1.0f), S(-1.0f), S(0.0f), 0);
  EXPECT_S(FNMADD_S, RDN, S(1.0f), S(1.0f), S(-1.0f), S(-0.0f), 0);
  /* -(0*1) - 0 = -0 + -0 = -0. */
  EXPECT_D(FNMADD_D, RNE, D(0.0), D(1.0), D(0.0), D(-0.0), 0);
}

/* RISC-V sets NV for inf * 0 even when the addend is a quiet NaN (§11.6). */
TEST(test_fma_invalid_cases) {
  uint64_t inf = D(__builtin_inf());
  EXPECT_D(FMADD_D, RNE, inf, D(0.0), QNAN_D, CANON_D, NV);
  EXPECT_D(FMADD_D, RNE, D(-0.0), inf, QNAN_D, CANON_D, NV);
  EXPECT_S(FMADD_S, RNE, S(0.0f), 0xff800000, QNAN_S, CANON_S, NV);
  EXPECT_D(FMADD_D, RNE, inf, D(0.0), D(1.0), CANON_D, NV);
  EXPECT_D(FMADD_D, RNE, inf, D(1.0), D(-__builtin_inf()), CANON_D, NV);
  EXPECT_D(FMSUB_D, RNE, inf, D(1.0), inf, CANON_D, NV);
  EXPECT_D(FMADD_D, RNE, QNAN_D, D(0.0), D(1.0), CANON_D, 0);
  EXPECT_D(FMADD_D, RNE, D(1.0), D(1.0), QNAN_D, CANON_D, 0);
  EXPECT_D(FMADD_D, RNE, D(1.0), D(1.0), SNAN_D, CANON_D, NV);
  EXPECT_S(FNMADD_S, RNE, SNAN_S, S(1.0f), S(1.0f), CANON_S, NV);
  EXPECT_D(FMADD_D, RNE, inf, D(2.0), D(1.0), inf, 0);
}

/* ---- NaN boxing --------------------------------------------------------- */

TEST(test_unboxed_single_reads_as_canonical_nan) {
  uint32_t fl;
  uint64_t unboxed_one = S(1.0f);               /* upper half zero */
  uint64_t half_boxed = 0xfffffffe00000000ull | S(1.0f);
  assert_int_equal(op_s_raw(vmx_rv_fp_FADD_S, RNE, unboxed_one, BOX(S(1.0f)), 0, &fl), CANON_S);
  assert_int_equal(fl, 0);
  assert_int_equal(op_s_raw(vmx_rv_fp_FMUL_S, RNE, BOX(S(2.0f)), half_boxed, 0, &fl), CANON_S);
  /* A double in an f register is not a boxed single. */
  assert_int_equal(op_s_raw(vmx_rv_fp_FADD_S, RNE, D(1.0), D(1.0), 0, &fl), CANON_S);
  /* min/max return the other operand; compares see a quiet NaN. */
  assert_int_equal(op_s_raw(vmx_rv_fp_FMIN_S, RNE, unboxed_one, BOX(S(5.0f)), 0, &fl), S(5.0f));
  assert_int_equal(fl, 0);
  assert_int_equal(op_to_x(vmx_rv_fp_FEQ_S, RNE, unboxed_one, unboxed_one, &fl), 0);
  assert_int_equal(fl, 0);
  assert_int_equal(op_to_x(vmx_rv_fp_FLE_S, RNE, unboxed_one, BOX(S(1.0f)), &fl), 0);
  assert_int_equal(fl, NV);
  assert_int_equal(op_to_x(vmx_rv_fp_FCLASS_S, RNE, unboxed_one, 0, &fl), 1 << 9);
  assert_int_equal(op_to_x(vmx_rv_fp_FCVT_W_S, RNE, unboxed_one, 0, &fl), 0x7fffffff);
  assert_int_equal(fl, NV);
  assert_int_equal(op_d(vmx_rv_fp_FCVT_D_S, RNE, unboxed_one, 0, 0, &fl), CANON_D);
  assert_int_equal(fl, 0);
}

/* fsgnj* are bit operations, but read improperly boxed singles as the
 * canonical NaN; results are boxed. */
TEST(test_sign_injection) {
  uint32_t fl;
  EXPECT_S(FSGNJ_S, RNE, S(1.5f), S(-2.0f), 0, S(-1.5f), 0);
  EXPECT_S(FSGNJN_S, RNE, S(1.5f), S(-2.0f), 0, S(1.5f), 0);
  EXPECT_S(FSGNJN_S, RNE, S(1.5f), S(2.0f), 0, S(-1.5f), 0);
  EXPECT_S(FSGNJX_S, RNE, S(-1.5f), S(-2.0f), 0, S(1.5f), 0);
  EXPECT_S(FSGNJ_S, RNE, SNAN_S, S(-1.0f), 0, SNAN_S | 0x80000000u, 0);
  assert_int_equal(op_s_raw(vmx_rv_fp_FSGNJ_S, RNE, S(1.0f), BOX(S(-1.0f)), 0, &fl),
                   CANON_S | 0x80000000u);
  assert_int_equal(op_s_raw(vmx_rv_fp_FSGNJX_S, RNE, BOX(S(-3.0f)), S(1.0f), 0, &fl), S(-3.0f));
  EXPECT_D(FSGNJ_D, RNE, SNAN_D, D(-1.0), 0, SNAN_D | 1ull << 63, 0);
  EXPECT_D(FSGNJN_D, RNE, D(2.0), D(2.0), 0, D(-2.0), 0);
  EXPECT_D(FSGNJX_D, RNE, D(-2.0), D(-1.0), 0, D(2.0), 0);
  EXPECT_D(FSGNJX_D, RNE, D(-2.0), D(1.0), 0, D(-2.0), 0);
}

TEST(test_moves_transfer_bits) {
  uint32_t fl;
  assert_int_equal(op_to_x(vmx_rv_fp_FMV_X_W, RNE, BOX(0x80000001u), 0, &fl),
                   0xffffffff80000001ull);
  /* Transfers ignore NaN boxing: the low 32 bits, sign-extended. */
  assert_int_equal(op_to_x(vmx_rv_fp_FMV_X_W, RNE, 0x123456787fffffffull, 0, &fl), 0x7fffffff);
  assert_int_equal(op_to_x(vmx_rv_fp_FMV_X_D, RNE, SNAN_D, 0, &fl), SNAN_D);
  assert_int_equal(fl, 0);
  EXPECT_FROM_X(FMV_W_X, RNE, 0xdeadbeef7f800001ull, BOX(0x7f800001u), 0);
  EXPECT_FROM_X(FMV_D_X, RNE, SNAN_D, SNAN_D, 0);
}

/* ---- min/max, compares, classify ---------------------------------------- */

TEST(test_fmin_fmax) {
  uint64_t pz = D(0.0), nz = D(-0.0);
  EXPECT_D(FMIN_D, RNE, pz, nz, 0, nz, 0);
  EXPECT_D(FMIN_D, RNE, nz, pz, 0, nz, 0);
  EXPECT_D(FMAX_D, RNE, pz, nz, 0, pz, 0);
  EXPECT_D(FMAX_D, RNE, nz, pz, 0, pz, 0);
  EXPECT_D(FMIN_D, RNE, D(-1.0), D(2.0), 0, D(-1.0), 0);
  EXPECT_D(FMAX_D, RNE, D(-1.0), D(-2.0), 0, D(-1.0), 0);
  EXPECT_D(FMIN_D, RNE, D(-__builtin_inf()), D(-1e308), 0, D(-__builtin_inf()), 0);
  EXPECT_D(FMIN_D, RNE, QNAN_D, D(1.0), 0, D(1.0), 0);
  EXPECT_D(FMAX_D, RNE, D(1.0), QNAN_D, 0, D(1.0), 0);
  EXPECT_D(FMIN_D, RNE, SNAN_D, D(1.0), 0, D(1.0), NV);
  EXPECT_D(FMAX_D, RNE, QNAN_D, QNAN_D, 0, CANON_D, 0);
  EXPECT_D(FMIN_D, RNE, SNAN_D, QNAN_D, 0, CANON_D, NV);
  EXPECT_S(FMIN_S, RNE, S(0.0f), S(-0.0f), 0, S(-0.0f), 0);
  EXPECT_S(FMAX_S, RNE, S(-0.0f), S(0.0f), 0, S(0.0f), 0);
  EXPECT_S(FMAX_S, RNE, S(3.0f), S(2.0f), 0, S(3.0f), 0);
  EXPECT_S(FMIN_S, RNE, S(-3.0f), S(-2.0f), 0, S(-3.0f), 0);
  EXPECT_S(FMAX_S, RNE, SNAN_S, S(-2.0f), 0, S(-2.0f), NV);
  EXPECT_S(FMIN_S, RNE, QNAN_S, SNAN_S, 0, CANON_S, NV);
  /* A subnormal result is returned unchanged. */
  EXPECT_S(FMIN_S, RNE, 1, 2, 0, 1, 0);
}

TEST(test_compares) {
  EXPECT_X(FEQ_D, RNE, D(1.0), D(1.0), 1, 0);
  EXPECT_X(FEQ_D, RNE, D(-0.0), D(0.0), 1, 0);
  EXPECT_X(FLT_D, RNE, D(-0.0), D(0.0), 0, 0);
  EXPECT_X(FLE_D, RNE, D(0.0), D(-0.0), 1, 0);
  EXPECT_X(FLT_D, RNE, D(-2.0), D(-1.0), 1, 0);
  EXPECT_X(FLT_D, RNE, D(-1.0), D(-2.0), 0, 0);
  EXPECT_X(FLE_D, RNE, D(-__builtin_inf()), D(-1e308), 1, 0);
  EXPECT_X(FLT_D, RNE, D(1.0), D(1.0), 0, 0);
  EXPECT_X(FLE_D, RNE, D(1.0), D(1.0), 1, 0);
  /* feq is quiet, flt and fle signal. */
  EXPECT_X(FEQ_D, RNE, QNAN_D, D(1.0), 0, 0);
  EXPECT_X(FEQ_D, RNE, QNAN_D, QNAN_D, 0, 0);
  EXPECT_X(FEQ_D, RNE, SNAN_D, D(1.0), 0, NV);
  EXPECT_X(FLT_D, RNE, QNAN_D, D(1.0), 0, NV);
  EXPECT_X(FLE_D, RNE, D(1.0), QNAN_D, 0, NV);
  EXPECT_X(FEQ_S, RNE, BOX(S(-0.0f)), BOX(S(0.0f)), 1, 0);
  EXPECT_X(FLT_S, RNE, BOX(S(1.0f)), BOX(S(2.0f)), 1, 0);
  EXPECT_X(FLE_S, RNE, BOX(S(3.0f)), BOX(S(2.0f)), 0, 0);
  EXPECT_X(FEQ_S, RNE, BOX(SNAN_S), BOX(S(2.0f)), 0, NV);
  EXPECT_X(FLT_S, RNE, BOX(QNAN_S), BOX(S(2.0f)), 0, NV);
}

TEST(test_x0_is_never_written) {
  load(D(1.0), D(1.0), 0);
  vmx_rv_insn_t in = {.rd = 0, .rs1 = 1, .rs2 = 2, .rm = RNE};
  assert_int_equal(vmx_rv_fp_FEQ_D(&cpu, &in), 0);
  assert_int_equal(vmx_rv_fp_FCLASS_D(&cpu, &in), 0);
  assert_int_equal(vmx_rv_fp_FCVT_L_D(&cpu, &in), 0);
  assert_int_equal(vmx_rv_fp_FMV_X_D(&cpu, &in), 0);
  assert_int_equal(vmx_rv_fp_FMV_X_W(&cpu, &in), 0);
  assert_int_equal(cpu.x[0], 0);
  /* Flags are still accrued. */
  cpu.f[1] = D(1.5);
  assert_int_equal(vmx_rv_fp_FCVT_W_D(&cpu, &in), 0);
  assert_int_equal(cpu.x[0], 0);
  assert_int_equal(cpu.fflags, NX);
}

TEST(test_fclass_all_ten_classes) {
  static const struct { uint64_t d; uint32_t s; int bit; } cases[] = {
    {0xfff0000000000000ull, 0xff800000, 0}, /* -inf */
    {0xbff0000000000000ull, 0xbf800000, 1}, /* negative normal */
    {0x800fffffffffffffull, 0x807fffff, 2}, /* negative subnormal */
    {0x8000000000000000ull, 0x80000000, 3}, /* -0 */
    {0x0000000000000000ull, 0x00000000, 4}, /* +0 */
    {0x0000000000000001ull, 0x00000001, 5}, /* positive subnormal */
    {0x0010000000000000ull, 0x00800000, 6}, /* positive normal (smallest) */
    {0x7fefffffffffffffull, 0x7f7fffff, 6}, /* positive normal (largest) */
    {0x7ff0000000000000ull, 0x7f800000, 7}, /* +inf */
    {0x7ff0000000000001ull, 0x7f800001, 8}, /* signalling NaN */
    {0xfff7ffffffffffffull, 0xffbfffff, 8}, /* signalling NaN, sign set */
    {0x7ff8000000000000ull, 0x7fc00000, 9}, /* quiet NaN */
    {0xffffffffffffffffull, 0xffffffff, 9}, /* quiet NaN, sign set */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    EXPECT_X(FCLASS_D, RNE, cases[i].d, 0, 1u << cases[i].bit, 0);
    EXPECT_X(FCLASS_S, RNE, BOX(cases[i].s), 0, 1u << cases[i].bit, 0);
  }
}

/* ---- conversions to integers -------------------------------------------- */

/* The spec's table (§11.7): NaN and +inf or too large give the largest
 * value, -inf or too negative the smallest; NV alone. 32-bit results are
 * sign-extended, fcvt.wu too. */
TEST(test_fcvt_to_int_saturates) {
  uint64_t nan = QNAN_D, pinf = D(__builtin_inf()), ninf = D(-__builtin_inf());
  EXPECT_X(FCVT_W_D, RNE, nan, 0, 0x7fffffff, NV);
  EXPECT_X(FCVT_W_D, RNE, pinf, 0, 0x7fffffff, NV);
  EXPECT_X(FCVT_W_D, RNE, ninf, 0, 0xffffffff80000000ull, NV);
  EXPECT_X(FCVT_W_D, RNE, D(2147483648.0), 0, 0x7fffffff, NV);
  EXPECT_X(FCVT_W_D, RNE, D(-2147483649.0), 0, 0xffffffff80000000ull, NV);
  EXPECT_X(FCVT_W_D, RNE, D(2147483647.0), 0, 0x7fffffff, 0);
  EXPECT_X(FCVT_W_D, RNE, D(-2147483648.0), 0, 0xffffffff80000000ull, 0);
  EXPECT_X(FCVT_W_D, RTZ, D(2147483647.9), 0, 0x7fffffff, NX);
  EXPECT_X(FCVT_W_D, RNE, D(2147483647.9), 0, 0x7fffffff, NV); /* rounds to 2^31 */
  EXPECT_X(FCVT_W_D, RNE, D(-2147483648.5), 0, 0xffffffff80000000ull, NX); /* tie, even */
  EXPECT_X(FCVT_W_D, RMM, D(-2147483648.5), 0, 0xffffffff80000000ull, NV);

  EXPECT_X(FCVT_WU_D, RNE, nan, 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_WU_D, RNE, pinf, 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_WU_D, RNE, ninf, 0, 0, NV);
  EXPECT_X(FCVT_WU_D, RNE, D(4294967296.0), 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_WU_D, RNE, D(4294967295.0), 0, 0xffffffffffffffffull, 0);
  EXPECT_X(FCVT_WU_D, RNE, D(3e9), 0, 0xffffffffb2d05e00ull, 0);
  EXPECT_X(FCVT_WU_D, RNE, D(-1.0), 0, 0, NV);
  EXPECT_X(FCVT_WU_D, RNE, D(-0.5), 0, 0, NX); /* rounds to -0: fine */
  EXPECT_X(FCVT_WU_D, RDN, D(-0.5), 0, 0, NV); /* rounds to -1 */
  EXPECT_X(FCVT_WU_D, RNE, D(-0.0), 0, 0, 0);

  EXPECT_X(FCVT_L_D, RNE, nan, 0, 0x7fffffffffffffffull, NV);
  EXPECT_X(FCVT_L_D, RNE, pinf, 0, 0x7fffffffffffffffull, NV);
  EXPECT_X(FCVT_L_D, RNE, ninf, 0, 0x8000000000000000ull, NV);
  EXPECT_X(FCVT_L_D, RNE, D(0x1p63), 0, 0x7fffffffffffffffull, NV);
  EXPECT_X(FCVT_L_D, RNE, D(-0x1p63), 0, 0x8000000000000000ull, 0);
  EXPECT_X(FCVT_L_D, RNE, D(-0x1p64), 0, 0x8000000000000000ull, NV);
  EXPECT_X(FCVT_L_D, RNE, D(0x1.fffffffffffffp62), 0, 0x7ffffffffffffc00ull, 0);
  EXPECT_X(FCVT_L_D, RNE, D(1e300), 0, 0x7fffffffffffffffull, NV);

  EXPECT_X(FCVT_LU_D, RNE, nan, 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_LU_D, RNE, pinf, 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_LU_D, RNE, ninf, 0, 0, NV);
  EXPECT_X(FCVT_LU_D, RNE, D(0x1p64), 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_LU_D, RNE, D(0x1.fffffffffffffp63), 0, 0xfffffffffffff800ull, 0);
  EXPECT_X(FCVT_LU_D, RNE, D(-3.0), 0, 0, NV);

  uint64_t snan_s = BOX(SNAN_S), pinf_s = BOX(0x7f800000), ninf_s = BOX(0xff800000);
  EXPECT_X(FCVT_W_S, RNE, snan_s, 0, 0x7fffffff, NV);
  EXPECT_X(FCVT_W_S, RNE, ninf_s, 0, 0xffffffff80000000ull, NV);
  EXPECT_X(FCVT_W_S, RNE, BOX(S(0x1p31f)), 0, 0x7fffffff, NV);
  EXPECT_X(FCVT_W_S, RNE, BOX(S(-0x1p31f)), 0, 0xffffffff80000000ull, 0);
  EXPECT_X(FCVT_WU_S, RNE, pinf_s, 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_WU_S, RNE, BOX(S(3e9f)), 0, 0xffffffffb2d05e00ull, 0);
  EXPECT_X(FCVT_WU_S, RNE, BOX(S(0x1p32f)), 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_L_S, RNE, BOX(CANON_S), 0, 0x7fffffffffffffffull, NV);
  EXPECT_X(FCVT_L_S, RNE, BOX(S(-0x1p63f)), 0, 0x8000000000000000ull, 0);
  EXPECT_X(FCVT_L_S, RNE, BOX(S(0x1p63f)), 0, 0x7fffffffffffffffull, NV);
  EXPECT_X(FCVT_LU_S, RNE, ninf_s, 0, 0, NV);
  EXPECT_X(FCVT_LU_S, RNE, BOX(S(0x1p64f)), 0, 0xffffffffffffffffull, NV);
  EXPECT_X(FCVT_LU_S, RNE, BOX(S(0x1.fffffep63f)), 0, 0xffffff0000000000ull, 0);
}

TEST(test_fcvt_to_int_rounds_by_mode) {
  static const struct { double v; int64_t rne, rtz, rdn, rup, rmm; } cases[] = {
    {2.5, 2, 2, 2, 3, 3},     {-2.5, -2, -2, -3, -2, -3}, {3.5, 4, 3, 3, 4, 4},
    {1.25, 1, 1, 1, 2, 1},    {-1.75, -2, -1, -2, -1, -2}, {0.5, 0, 0, 0, 1, 1},
    {-0.5, 0, 0, -1, 0, -1},  {0x1p-1074, 0, 0, 0, 1, 0},  {-7.0, -7, -7, -7, -7, -7},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const int64_t want[5] = {cases[i].rne, cases[i].rtz, cases[i].rdn, cases[i].rup,
                             cases[i].rmm};
    uint32_t exact = cases[i].v == (double)(int64_t)cases[i].v ? 0 : NX;
    bool single = (double)(float)cases[i].v == cases[i].v;
    for (int rm = RNE; rm <= RMM; rm++) {
      EXPECT_X(FCVT_L_D, rm, D(cases[i].v), 0, (uint64_t)want[rm], exact);
      EXPECT_X(FCVT_W_D, rm, D(cases[i].v), 0, (uint64_t)want[rm], exact);
      if (single) {
        EXPECT_X(FCVT_W_S, rm, BOX(S((float)cases[i].v)), 0, (uint64_t)want[rm], exact);
        EXPECT_X(FCVT_LU_S, rm, BOX(S((float)cases[i].v)), 0,
                 want[rm] < 0 ? 0 : (uint64_t)want[rm],
                 want[rm] < 0 ? NV : exact);
      }
    }
  }
  EXPECT_X(FCVT_W_S, RUP, BOX(1), 0, 1, NX);
  EXPECT_X(FCVT_W_S, RDN, BOX(0x80000001), 0, (uint64_t)-1, NX);
  /* Large exact values: no rounding. */
  EXPECT_X(FCVT_L_S, RNE, BOX(S(-0x1.8p40f)), 0, (uint64_t)-0x18000000000ll, 0);
  EXPECT_X(FCVT_LU_D, RUP, D(0x1p51 + 0.5), 0, (1ull << 51) + 1, NX);
}

/* ---- conversions from integers and between formats ---------------------- */

TEST(test_fcvt_from_int) {
  EXPECT_FROM_X(FCVT_S_W, RNE, (uint64_t)-1, BOX(S(-1.0f)), 0);
  EXPECT_FROM_X(FCVT_S_W, RNE, 0x100000000ull, BOX(0), 0);    /* low 32 bits only */
  EXPECT_FROM_X(FCVT_S_W, RDN, 0, BOX(0), 0);                 /* +0, even rounding down */
  EXPECT_FROM_X(FCVT_S_WU, RNE, 0xffffffffffffffffull, BOX(S(0x1p32f)), NX);
  EXPECT_FROM_X(FCVT_S_WU, RTZ, 0xffffffffull, BOX(0x4f7fffff), NX);
  EXPECT_FROM_X(FCVT_S_L, RNE, 0x8000000000000000ull, BOX(S(-0x1p63f)), 0);
  EXPECT_FROM_X(FCVT_S_L, RUP, (uint64_t)-16777217, BOX(S(-16777216.0f)), NX);
  EXPECT_FROM_X(FCVT_S_L, RDN, (uint64_t)-16777217, BOX(S(-16777218.0f)), NX);
  EXPECT_FROM_X(FCVT_S_LU, RNE, ~0ull, BOX(S(0x1p64f)), NX);
  EXPECT_FROM_X(FCVT_S_LU, RTZ, ~0ull, BOX(0x5f7fffff), NX);
  EXPECT_FROM_X(FCVT_D_W, RNE, 0xffffffff80000000ull, D(-2147483648.0), 0);
  EXPECT_FROM_X(FCVT_D_WU, RNE, 0xffffffffffffffffull, D(4294967295.0), 0);
  EXPECT_FROM_X(FCVT_D_L, RNE, 0x8000000000000000ull, D(-0x1p63), 0);
  EXPECT_FROM_X(FCVT_D_L, RNE, 0x7fffffffffffffffull, D(0x1p63), NX);
  EXPECT_FROM_X(FCVT_D_L, RTZ, 0x7fffffffffffffffull, D(0x1.fffffffffffffp62), NX);
  EXPECT_FROM_X(FCVT_D_LU, RNE, ~0ull, D(0x1p64), NX);
  EXPECT_FROM_X(FCVT_D_LU, RDN, ~0ull, D(0x1.fffffffffffffp63), NX);
  EXPECT_FROM_X(FCVT_D_LU, RNE, 12345, D(12345.0), 0);
}

TEST(test_fcvt_between_formats) {
  uint32_t fl;
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, D(1.5), 0, 0, &fl), S(1.5f));
  assert_int_equal(fl, 0);
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, D(1e300), 0, 0, &fl), 0x7f800000);
  assert_int_equal(fl, OF | NX);
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RTZ, D(-1e300), 0, 0, &fl), 0xff7fffff);
  assert_int_equal(fl, OF | NX);
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, D(0x1p-160), 0, 0, &fl), 0);
  assert_int_equal(fl, UF | NX);
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RUP, D(0x1p-160), 0, 0, &fl), 1);
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, D(0x1p-140), 0, 0, &fl), 0x200);
  assert_int_equal(fl, 0); /* exact subnormal */
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, SNAN_D, 0, 0, &fl), CANON_S);
  assert_int_equal(fl, NV);
  assert_int_equal(op_s_raw(vmx_rv_fp_FCVT_S_D, RNE, QNAN_D, 0, 0, &fl), CANON_S);
  assert_int_equal(fl, 0);
  EXPECT_D(FCVT_D_S, RNE, BOX(S(1.5f)), 0, 0, D(1.5), 0);
  EXPECT_D(FCVT_D_S, RNE, BOX(1), 0, 0, D(0x1p-149), 0);
  EXPECT_D(FCVT_D_S, RNE, BOX(0xff800000), 0, 0, D(-__builtin_inf()), 0);
  EXPECT_D(FCVT_D_S, RNE, BOX(SNAN_S), 0, 0, CANON_D, NV);
  EXPECT_D(FCVT_D_S, RNE, BOX(QNAN_S), 0, 0, CANON_D, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fadd_d_rounds_in_each_static_mode),
    cmocka_unit_test(test_fdiv_s_rounds_in_each_static_mode),
    cmocka_unit_test(test_dynamic_mode_uses_frm),
    cmocka_unit_test(test_reserved_rounding_mode_is_illegal),
    cmocka_unit_test(test_host_rounding_is_restored),
    cmocka_unit_test(test_flags_accrue),
    cmocka_unit_test(test_rmm_breaks_add_ties_away_from_zero),
    cmocka_unit_test(test_rmm_breaks_mul_ties_away_from_zero),
    cmocka_unit_test(test_rmm_breaks_subnormal_ties_away_from_zero),
    cmocka_unit_test(test_rmm_in_fma_and_conversions),
    cmocka_unit_test(test_divide_by_zero_and_invalid),
    cmocka_unit_test(test_nan_operands_give_canonical_nan),
    cmocka_unit_test(test_overflow_by_mode),
    cmocka_unit_test(test_underflow_detected_after_rounding),
    cmocka_unit_test(test_flags_with_nx_already_accrued),
    cmocka_unit_test(test_fsqrt),
    cmocka_unit_test(test_fma_rounds_once),
    cmocka_unit_test(test_fma_signs),
    cmocka_unit_test(test_fma_invalid_cases),
    cmocka_unit_test(test_unboxed_single_reads_as_canonical_nan),
    cmocka_unit_test(test_sign_injection),
    cmocka_unit_test(test_moves_transfer_bits),
    cmocka_unit_test(test_fmin_fmax),
    cmocka_unit_test(test_compares),
    cmocka_unit_test(test_x0_is_never_written),
    cmocka_unit_test(test_fclass_all_ten_classes),
    cmocka_unit_test(test_fcvt_to_int_saturates),
    cmocka_unit_test(test_fcvt_to_int_rounds_by_mode),
    cmocka_unit_test(test_fcvt_from_int),
    cmocka_unit_test(test_fcvt_between_formats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
