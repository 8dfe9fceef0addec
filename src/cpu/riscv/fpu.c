/* F and D compute semantics (RISC-V unprivileged spec 20191213, ch. 11-12),
 * bit-exact with the spec and with qemu-riscv64.
 *
 * How results are obtained:
 *  - add, sub, mul, div, sqrt, fma and fcvt.s.d run on the host's SSE unit
 *    inside a "host window" that loads MXCSR with the rounding mode (which
 *    also clears the host flags), runs the one operation and reads the flags
 *    back. x86 detects tininess after rounding, as RISC-V does (§11.4),
 *    so OF, UF and NX come straight from the host.
 *  - RMM (ties to max magnitude) has no x86 mode: the operation runs as RNE
 *    and an exact tie that RNE broke towards zero is moved away from zero
 *    (see the rmm_* functions).
 *  - NaN operands, compares, min/max, classify, sign injection and every
 *    integer conversion are done on the bit patterns, in software.
 *  - Fast path: MXCSR accesses cost more than the operation itself, so in
 *    RNE with NX already accrued (the usual state of FP code) the operation
 *    runs as plain C and the window is skipped whenever the result shows
 *    that no other flag can have been raised (see fast_result_ok()). qemu's
 *    softfloat does the same ("hardfloat").
 *
 * Invariant between operations, which the fast path relies on: MXCSR holds
 * HOST_MXCSR_RNE's controls (round to nearest, all exceptions masked, no
 * FTZ/DAZ), the Linux default, which nothing else in vmx changes; its
 * sticky flags are garbage, since each host window clears them first.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/riscv/fpu.h"

/* ---- formats and bit patterns ----------------------------------------- */

/* An IEEE binary format, described by its bit patterns. */
typedef struct {
  uint64_t sign;   /* the sign bit */
  uint64_t inf;    /* +infinity: every exponent bit set */
  uint64_t quiet;  /* the quiet bit of a NaN */
  uint64_t canon;  /* the canonical NaN (unpriv §11.3) */
  int mant_bits;   /* stored significand bits */
  int bias;        /* exponent bias */
} fp_fmt_t;

static const fp_fmt_t FMT_S = {0x80000000u, 0x7f800000u, 0x00400000u, 0x7fc00000u, 23, 127};
static const fp_fmt_t FMT_D = {1ull << 63, 0x7ff0000000000000ull, 1ull << 51,
                               0x7ff8000000000000ull, 52, 1023};

static inline uint64_t fp_mag(const fp_fmt_t *f, uint64_t v) { return v & ~f->sign; }
static inline bool fp_is_nan(const fp_fmt_t *f, uint64_t v) { return fp_mag(f, v) > f->inf; }
static inline bool fp_is_snan(const fp_fmt_t *f, uint64_t v) {
  return fp_is_nan(f, v) && !(v & f->quiet);
}
static inline bool fp_is_inf(const fp_fmt_t *f, uint64_t v) { return fp_mag(f, v) == f->inf; }
static inline bool fp_is_zero(const fp_fmt_t *f, uint64_t v) { return fp_mag(f, v) == 0; }
static inline bool fp_is_finite(const fp_fmt_t *f, uint64_t v) { return fp_mag(f, v) < f->inf; }

static inline float f32_of(uint32_t b) { float f; memcpy(&f, &b, sizeof f); return f; }
static inline uint32_t f32_bits(float f) { uint32_t b; memcpy(&b, &f, sizeof b); return b; }
static inline double f64_of(uint64_t b) { double d; memcpy(&d, &b, sizeof d); return d; }
static inline uint64_t f64_bits(double d) { uint64_t b; memcpy(&b, &d, sizeof b); return b; }

/* ---- the host window ---------------------------------------------------- */

#if defined(__x86_64__) && !defined(VMX_FPU_FENV_HOST)

typedef uint32_t host_mode_t;

/* MXCSR with all exceptions masked, FTZ and DAZ off, and the rounding
 * control (bits 13-14) for each RISC-V mode. RMM runs as RNE (see rmm_*). */
#define HOST_MXCSR_RNE 0x1f80u
static const host_mode_t host_mode[5] = {
  [VMX_RV_RNE] = HOST_MXCSR_RNE,          [VMX_RV_RTZ] = HOST_MXCSR_RNE | 0x6000,
  [VMX_RV_RDN] = HOST_MXCSR_RNE | 0x2000, [VMX_RV_RUP] = HOST_MXCSR_RNE | 0x4000,
  [VMX_RV_RMM] = HOST_MXCSR_RNE,
};
static const uint32_t host_mxcsr_rne = HOST_MXCSR_RNE;

/* The window is tied together by data dependences, not by hoping the
 * compiler keeps statement order: the asm that loads MXCSR "redefines" the
 * operands, so the operation cannot start before it, and the asm that reads
 * the flags consumes the result, so it cannot finish after. GCC can neither
 * constant-fold nor move the operation out, with or without -frounding-math. */
#define HOST_ENTER1(m, a) __asm__ volatile("ldmxcsr %1" : "+x"(a) : "m"(m))
#define HOST_ENTER2(m, a, b) __asm__ volatile("ldmxcsr %2" : "+x"(a), "+x"(b) : "m"(m))
#define HOST_ENTER3(m, a, b, c) \
  __asm__ volatile("ldmxcsr %3" : "+x"(a), "+x"(b), "+x"(c) : "m"(m))
#define HOST_LEAVE(m, r, flags)                                              \
  do {                                                                       \
    uint32_t host_st_;                                                       \
    __asm__ volatile("stmxcsr %1" : "+x"(r), "=m"(host_st_));                \
    if ((m) != HOST_MXCSR_RNE)                                               \
      __asm__ volatile("ldmxcsr %1" : "+x"(r) : "m"(host_mxcsr_rne));        \
    (flags) = host_fflags(host_st_);                                         \
  } while (0)

/* MXCSR flags (IE DE ZE OE UE PE, bits 0-5) to fflags (NV DZ OF UF NX,
 * bits 4-0). DE, the denormal-operand flag, has no RISC-V counterpart. */
static inline uint32_t host_fflags(uint32_t st) {
  return (st << 4 & VMX_RV_FF_NV) | (st << 1 & VMX_RV_FF_DZ) | (st >> 1 & VMX_RV_FF_OF) |
         (st >> 3 & VMX_RV_FF_UF) | (st >> 5 & VMX_RV_FF_NX);
}

#else /* any other host: <fenv.h>. Correct only where the host, like RISC-V,
       * detects tininess after rounding (not on AArch64, where UF differs). */

#include <fenv.h>

typedef int host_mode_t;
static const host_mode_t host_mode[5] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD,
                                         FE_TONEAREST};

#define HOST_PIN(v) __asm__ volatile("" : "+m"(v) : : "memory")
#define HOST_ENTER0(m)               \
  do {                               \
    if ((m) != FE_TONEAREST)         \
      fesetround(m);                 \
    feclearexcept(FE_ALL_EXCEPT);    \
  } while (0)
#define HOST_ENTER1(m, a) do { HOST_ENTER0(m); HOST_PIN(a); } while (0)
#define HOST_ENTER2(m, a, b) do { HOST_ENTER0(m); HOST_PIN(a); HOST_PIN(b); } while (0)
#define HOST_ENTER3(m, a, b, c) \
  do { HOST_ENTER0(m); HOST_PIN(a); HOST_PIN(b); HOST_PIN(c); } while (0)
#define HOST_LEAVE(m, r, flags)                                          \
  do {                                                                   \
    HOST_PIN(r);                                                         \
    (flags) = host_fflags(fetestexcept(FE_ALL_EXCEPT));                  \
    if ((m) != FE_TONEAREST)                                             \
      fesetround(FE_TONEAREST);                                          \
  } while (0)

static inline uint32_t host_fflags(int e) {
  return (e & FE_INVALID ? VMX_RV_FF_NV : 0) | (e & FE_DIVBYZERO ? VMX_RV_FF_DZ : 0) |
         (e & FE_OVERFLOW ? VMX_RV_FF_OF : 0) | (e & FE_UNDERFLOW ? VMX_RV_FF_UF : 0) |
         (e & FE_INEXACT ? VMX_RV_FF_NX : 0);
}

#endif

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV } fp_op_t;

/* The operation in plain C, in whatever mode the host is in. */
static inline float c_arith_s(fp_op_t op, float a, float b) {
  return op == OP_ADD ? a + b : op == OP_SUB ? a - b : op == OP_MUL ? a * b : a / b;
}
static inline double c_arith_d(fp_op_t op, double a, double b) {
  return op == OP_ADD ? a + b : op == OP_SUB ? a - b : op == OP_MUL ? a * b : a / b;
}

static inline float host_arith_s(fp_op_t op, float a, float b, int rm, uint32_t *flags) {
  host_mode_t m = host_mode[rm];
  HOST_ENTER2(m, a, b);
  float r = c_arith_s(op, a, b);
  HOST_LEAVE(m, r, *flags);
  return r;
}

static inline double host_arith_d(fp_op_t op, double a, double b, int rm, uint32_t *flags) {
  host_mode_t m = host_mode[rm];
  HOST_ENTER2(m, a, b);
  double r = c_arith_d(op, a, b);
  HOST_LEAVE(m, r, *flags);
  return r;
}

/* a must not be negative or NaN (no errno, no library call). */
static inline float host_sqrt_s(float a, int rm, uint32_t *flags) {
  host_mode_t m = host_mode[rm];
  HOST_ENTER1(m, a);
  float r = sqrtf(a);
  HOST_LEAVE(m, r, *flags);
  return r;
}

static inline double host_sqrt_d(double a, int rm, uint32_t *flags) {
  host_mode_t m = host_mode[rm];
  HOST_ENTER1(m, a);
  double r = sqrt(a);
  HOST_LEAVE(m, r, *flags);
  return r;
}

/* glibc's fmaf/fma are correctly rounded in every host mode (the FMA
 * instruction where the CPU has it); fmaf is not the same as a double fma
 * rounded to float. */
static inline float host_fma_s(float a, float b, float c, int rm, uint32_t *flags) {
  host_mode_t m = host_mode[rm];
  HOST_ENTER3(m, a, b, c);
  float r = fmaf(a, b, c);
  HOST_LEAVE(m, r, *flags);
  return r;
}

static inline double host_fma_d(double a, double b, double c, int rm, uint32_t *flags) {
  host_mode_t m = host_mode[rm];
  HOST_ENTER3(m, a, b, c);
  double r = fma(a, b, c);
  HOST_LEAVE(m, r, *flags);
  return r;
}

/* Fused multiply-add for the fast path, which needs the FMA instruction
 * inline (vfmadd231: c = a*b + c, one rounding); without it every fma
 * takes the slow path. */
#if defined(__x86_64__) && !defined(VMX_FPU_FENV_HOST)
static bool host_has_fma;

__attribute__((constructor)) static void host_fma_probe(void) {
  host_has_fma = __builtin_cpu_supports("fma");
}

static inline float hw_fma_s(float a, float b, float c) {
  __asm__("vfmadd231ss %2, %1, %0" : "+x"(c) : "x"(a), "x"(b));
  return c;
}

static inline double hw_fma_d(double a, double b, double c) {
  __asm__("vfmadd231sd %2, %1, %0" : "+x"(c) : "x"(a), "x"(b));
  return c;
}
#else
static const bool host_has_fma = true;
static inline float hw_fma_s(float a, float b, float c) { return fmaf(a, b, c); }
static inline double hw_fma_d(double a, double b, double c) { return fma(a, b, c); }
#endif

static inline float host_d_to_s(double a, int rm, uint32_t *flags) {
  host_mode_t m = host_mode[rm];
  HOST_ENTER1(m, a);
  float r = (float)a;
  HOST_LEAVE(m, r, *flags);
  return r;
}

/* ---- RMM ----------------------------------------------------------------
 *
 * RMM and RNE pick the same result except when the exact value lies exactly
 * halfway between two neighbours and RNE picked the one nearer zero (the
 * even one); RMM then picks the other, next_away(r). So an RMM operation
 * runs as RNE and, when it was inexact, tests for that tie exactly, in a
 * wider format: double for singles, __float128 (113 bits) for doubles.
 * Midpoints need p+1 bits, so those tests are exact products and sums.
 *
 * The flags of RNE are those of RMM: both overflow from the same threshold
 * (MAX + ulp/2, since MAX is odd), and they round to the same p-bit value
 * with unbounded exponent except at ties whose lower neighbour is even,
 * never the odd 2^emin(1 - 2^-p), so tininess after rounding agrees; NX
 * agrees trivially.
 */

typedef __float128 fp128_t;

/* Rare (RMM only): kept out of line so the common paths stay lean. */
#define RMM_SLOW __attribute__((noinline, cold))

/* The neighbour of finite r farther from zero (from +-0: +-min subnormal). */
static inline float next_away_s(float r) { return f32_of(f32_bits(r) + 1); }
static inline double next_away_d(double r) { return f64_of(f64_bits(r) + 1); }

/* Knuth's TwoSum: the exact error of s = RNE(a + b), for finite s. */
static inline float two_sum_err_s(float a, float b, float s) {
  float bb = s - a;
  return (a - (s - bb)) + (b - bb);
}
static inline double two_sum_err_d(double a, double b, double s) {
  double bb = s - a;
  return (a - (s - bb)) + (b - bb);
}
static inline fp128_t two_sum_err_q(fp128_t a, fp128_t b, fp128_t s) {
  fp128_t bb = s - a;
  return (a - (s - bb)) + (b - bb);
}

/* r = RNE(a op b), inexact; returns RMM(a op b). */
static RMM_SLOW float rmm_arith_s(fp_op_t op, float a, float b, float r) {
  if (!fp_is_finite(&FMT_S, f32_bits(r)))
    return r;
  float n = next_away_s(r);
  double mid = ((double)r + (double)n) / 2;
  bool tie;
  switch (op) {
  case OP_ADD:
  case OP_SUB:
    tie = (double)two_sum_err_s(a, op == OP_SUB ? -b : b, r) == mid - (double)r;
    break;
  case OP_MUL:
    tie = (double)a * (double)b == mid;
    break;
  default:
    tie = mid * (double)b == (double)a;
    break;
  }
  return tie ? n : r;
}

static RMM_SLOW double rmm_arith_d(fp_op_t op, double a, double b, double r) {
  if (!fp_is_finite(&FMT_D, f64_bits(r)))
    return r;
  double n = next_away_d(r);
  fp128_t mid = ((fp128_t)r + (fp128_t)n) / 2;
  bool tie;
  switch (op) {
  case OP_ADD:
  case OP_SUB:
    tie = (fp128_t)two_sum_err_d(a, op == OP_SUB ? -b : b, r) == mid - (fp128_t)r;
    break;
  case OP_MUL:
    tie = (fp128_t)a * (fp128_t)b == mid;
    break;
  default:
    tie = mid * (fp128_t)b == (fp128_t)a;
    break;
  }
  return tie ? n : r;
}

/* r = RNE(a*b + c), inexact; returns RMM(a*b + c). The product is exact in
 * the wider format; the sum is the tie only when it is exact there too. */
static RMM_SLOW float rmm_fma_s(float a, float b, float c, float r) {
  if (!fp_is_finite(&FMT_S, f32_bits(r)))
    return r;
  float n = next_away_s(r);
  double mid = ((double)r + (double)n) / 2;
  double p = (double)a * (double)b, s = p + (double)c;
  return two_sum_err_d(p, c, s) == 0 && s == mid ? n : r;
}

static RMM_SLOW double rmm_fma_d(double a, double b, double c, double r) {
  if (!fp_is_finite(&FMT_D, f64_bits(r)))
    return r;
  double n = next_away_d(r);
  fp128_t mid = ((fp128_t)r + (fp128_t)n) / 2;
  fp128_t p = (fp128_t)a * (fp128_t)b, s = p + (fp128_t)c;
  return two_sum_err_q(p, c, s) == 0 && s == mid ? n : r;
}

/* r = RNE((float)a), inexact; returns RMM((float)a). */
static RMM_SLOW float rmm_d_to_s(double a, float r) {
  if (!fp_is_finite(&FMT_S, f32_bits(r)))
    return r;
  float n = next_away_s(r);
  return a == ((double)r + (double)n) / 2 ? n : r;
}

/* ---- registers and rounding modes --------------------------------------- */

/* The rounding mode in effect for in (unpriv §11.2), or -1 when it is
 * reserved: rm 5 or 6, or rm 7 (dynamic) with frm 5, 6 or 7. */
static inline int fp_rm(const vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in) {
  unsigned rm = in->rm == VMX_RV_DYN ? cpu->frm : in->rm;
  return rm <= VMX_RV_RMM ? (int)rm : -1;
}

/* A single operand: the canonical NaN unless properly NaN-boxed (§12.2). */
static inline uint32_t freg_s(const vmx_rv_cpu_t *cpu, unsigned r) {
  uint64_t v = cpu->f[r];
  return v >> 32 == 0xffffffffu ? (uint32_t)v : (uint32_t)FMT_S.canon;
}

/* Writes an arithmetic result: any NaN becomes the canonical NaN. */
static inline void put_s(vmx_rv_cpu_t *cpu, unsigned rd, uint32_t v) {
  cpu->f[rd] = vmx_rv_box32(fp_is_nan(&FMT_S, v) ? (uint32_t)FMT_S.canon : v);
}
static inline void put_d(vmx_rv_cpu_t *cpu, unsigned rd, uint64_t v) {
  cpu->f[rd] = fp_is_nan(&FMT_D, v) ? FMT_D.canon : v;
}

static inline void put_x(vmx_rv_cpu_t *cpu, unsigned rd, uint64_t v) {
  if (rd)
    cpu->x[rd] = v;
}

/* ---- arithmetic ---------------------------------------------------------
 *
 * Each operation is a fast path, inlined into the instruction, and a slow
 * path out of line (so the fast one needs no stack frame): the host window,
 * RMM, NaN operands and flags.
 */

/* Out of line, and not assumed cold: the slow paths run for every
 * operation until the first inexact one, and in modes other than RNE. */
#define SLOW_PATH __attribute__((noinline))

/* Whether the fast path may be tried: the host rounds to nearest already,
 * and NX, the flag that cannot be read off the result, is accrued. */
static inline bool fast_path(const vmx_rv_cpu_t *cpu, int rm) {
  return rm == VMX_RV_RNE && (cpu->fflags & VMX_RV_FF_NX);
}

/* Whether r, computed in RNE, proves that the operation raised nothing but
 * NX: NV and DZ produce NaN or inf, overflow in RNE produces inf, and
 * underflow needs |r| <= the smallest normal (tininess after rounding).
 * may_be_tiny says the result is exact whenever it is tiny: a sum or
 * difference, or a product (quotient) with a zero factor (dividend). */
static inline bool fast_result_ok(const fp_fmt_t *f, uint64_t r, bool may_be_tiny) {
  uint64_t mag = fp_mag(f, r);
  return mag < f->inf && (may_be_tiny || mag > 1ull << f->mant_bits);
}

/* Whether a op b is exact when its result is tiny (see fast_result_ok()). */
static inline bool exact_if_tiny(fp_op_t op, bool a_is_zero, bool b_is_zero) {
  return op <= OP_SUB || (op == OP_MUL && (a_is_zero || b_is_zero)) ||
         (op == OP_DIV && a_is_zero);
}

static SLOW_PATH int arith_slow_s(vmx_rv_cpu_t *cpu, unsigned rd, fp_op_t op, int rm, float a,
                                  float b) {
  uint32_t flags;
  float r = host_arith_s(op, a, b, rm, &flags);
  if (rm == VMX_RV_RMM && (flags & VMX_RV_FF_NX))
    r = rmm_arith_s(op, a, b, r);
  put_s(cpu, rd, f32_bits(r));
  cpu->fflags |= flags;
  return 0;
}

static SLOW_PATH int arith_slow_d(vmx_rv_cpu_t *cpu, unsigned rd, fp_op_t op, int rm, double a,
                                  double b) {
  uint32_t flags;
  double r = host_arith_d(op, a, b, rm, &flags);
  if (rm == VMX_RV_RMM && (flags & VMX_RV_FF_NX))
    r = rmm_arith_d(op, a, b, r);
  put_d(cpu, rd, f64_bits(r));
  cpu->fflags |= flags;
  return 0;
}

static inline int arith_s(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, fp_op_t op) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  float a = f32_of(freg_s(cpu, in->rs1)), b = f32_of(freg_s(cpu, in->rs2));
  if (fast_path(cpu, rm)) {
    uint32_t r = f32_bits(c_arith_s(op, a, b));
    if (fast_result_ok(&FMT_S, r, exact_if_tiny(op, a == 0, b == 0))) {
      cpu->f[in->rd] = vmx_rv_box32(r);
      return 0;
    }
  }
  return arith_slow_s(cpu, in->rd, op, rm, a, b);
}

static inline int arith_d(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, fp_op_t op) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  double a = f64_of(cpu->f[in->rs1]), b = f64_of(cpu->f[in->rs2]);
  if (fast_path(cpu, rm)) {
    uint64_t r = f64_bits(c_arith_d(op, a, b));
    if (fast_result_ok(&FMT_D, r, exact_if_tiny(op, a == 0, b == 0))) {
      cpu->f[in->rd] = r;
      return 0;
    }
  }
  return arith_slow_d(cpu, in->rd, op, rm, a, b);
}

/* Square roots. NaN or negative (not -0) operands are invalid, handled here
 * so the host never sees them. A positive finite operand raises nothing
 * but NX (the root is never tiny nor huge), which the fast path uses. A
 * root never lies on a tie (a (p+1)-bit midpoint squared needs more than p
 * bits), so RMM is RNE. */
static SLOW_PATH int sqrt_slow_s(vmx_rv_cpu_t *cpu, unsigned rd, int rm, uint32_t a) {
  uint32_t flags, r;
  if (fp_is_nan(&FMT_S, a) || ((a & FMT_S.sign) && !fp_is_zero(&FMT_S, a))) {
    flags = fp_is_nan(&FMT_S, a) && !fp_is_snan(&FMT_S, a) ? 0 : VMX_RV_FF_NV;
    r = (uint32_t)FMT_S.canon;
  } else {
    r = f32_bits(host_sqrt_s(f32_of(a), rm, &flags));
  }
  put_s(cpu, rd, r);
  cpu->fflags |= flags;
  return 0;
}

static SLOW_PATH int sqrt_slow_d(vmx_rv_cpu_t *cpu, unsigned rd, int rm, uint64_t a) {
  uint64_t r;
  uint32_t flags;
  if (fp_is_nan(&FMT_D, a) || ((a & FMT_D.sign) && !fp_is_zero(&FMT_D, a))) {
    flags = fp_is_nan(&FMT_D, a) && !fp_is_snan(&FMT_D, a) ? 0 : VMX_RV_FF_NV;
    r = FMT_D.canon;
  } else {
    r = f64_bits(host_sqrt_d(f64_of(a), rm, &flags));
  }
  put_d(cpu, rd, r);
  cpu->fflags |= flags;
  return 0;
}

static int sqrt_s(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  uint32_t a = freg_s(cpu, in->rs1);
  if (fast_path(cpu, rm) && a < FMT_S.inf) {
    cpu->f[in->rd] = vmx_rv_box32(f32_bits(sqrtf(f32_of(a))));
    return 0;
  }
  return sqrt_slow_s(cpu, in->rd, rm, a);
}

static int sqrt_d(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  uint64_t a = cpu->f[in->rs1];
  if (fast_path(cpu, rm) && a < FMT_D.inf) {
    cpu->f[in->rd] = f64_bits(sqrt(f64_of(a)));
    return 0;
  }
  return sqrt_slow_d(cpu, in->rd, rm, a);
}

/* Flags of a fused multiply-add with a NaN operand: NV for a signalling NaN
 * and, as RISC-V requires (§11.6), for inf * 0 even when the addend is a
 * quiet NaN. The result is the canonical NaN. */
static uint32_t fma_nan_flags(const fp_fmt_t *f, uint64_t a, uint64_t b, uint64_t c) {
  bool inf_times_zero = (fp_is_inf(f, a) && fp_is_zero(f, b)) ||
                        (fp_is_zero(f, a) && fp_is_inf(f, b));
  return fp_is_snan(f, a) || fp_is_snan(f, b) || fp_is_snan(f, c) || inf_times_zero
             ? VMX_RV_FF_NV : 0;
}

static SLOW_PATH int fma_slow_s(vmx_rv_cpu_t *cpu, unsigned rd, int rm, uint32_t a, uint32_t b,
                                uint32_t c) {
  if (fp_is_nan(&FMT_S, a) || fp_is_nan(&FMT_S, b) || fp_is_nan(&FMT_S, c)) {
    cpu->f[rd] = vmx_rv_box32((uint32_t)FMT_S.canon);
    cpu->fflags |= fma_nan_flags(&FMT_S, a, b, c);
    return 0;
  }
  float fa = f32_of(a), fb = f32_of(b), fc = f32_of(c);
  uint32_t flags;
  float r = host_fma_s(fa, fb, fc, rm, &flags);
  if (rm == VMX_RV_RMM && (flags & VMX_RV_FF_NX))
    r = rmm_fma_s(fa, fb, fc, r);
  put_s(cpu, rd, f32_bits(r));
  cpu->fflags |= flags;
  return 0;
}

static SLOW_PATH int fma_slow_d(vmx_rv_cpu_t *cpu, unsigned rd, int rm, uint64_t a, uint64_t b,
                                uint64_t c) {
  if (fp_is_nan(&FMT_D, a) || fp_is_nan(&FMT_D, b) || fp_is_nan(&FMT_D, c)) {
    cpu->f[rd] = FMT_D.canon;
    cpu->fflags |= fma_nan_flags(&FMT_D, a, b, c);
    return 0;
  }
  double fa = f64_of(a), fb = f64_of(b), fc = f64_of(c);
  uint32_t flags;
  double r = host_fma_d(fa, fb, fc, rm, &flags);
  if (rm == VMX_RV_RMM && (flags & VMX_RV_FF_NX))
    r = rmm_fma_d(fa, fb, fc, r);
  put_d(cpu, rd, f64_bits(r));
  cpu->fflags |= flags;
  return 0;
}

/* (+-a)*b + (+-c) with one rounding. fmsub, fnmsub and fnmadd negate the
 * operands, not the result, so an exact zero sum gets its sign from the
 * rounding mode as for any sum (as softfloat and qemu do). A NaN operand
 * makes the fast path's result NaN, so the slow path sees it. With a zero
 * factor the result is c (or a zero) exactly, tiny or not. */
static inline int fma_s(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, bool neg_prod, bool neg_c) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  uint32_t a = freg_s(cpu, in->rs1), b = freg_s(cpu, in->rs2), c = freg_s(cpu, in->rs3);
  a ^= neg_prod ? (uint32_t)FMT_S.sign : 0;
  c ^= neg_c ? (uint32_t)FMT_S.sign : 0;
  if (fast_path(cpu, rm) && host_has_fma) {
    uint32_t r = f32_bits(hw_fma_s(f32_of(a), f32_of(b), f32_of(c)));
    if (fast_result_ok(&FMT_S, r, fp_is_zero(&FMT_S, a) || fp_is_zero(&FMT_S, b))) {
      cpu->f[in->rd] = vmx_rv_box32(r);
      return 0;
    }
  }
  return fma_slow_s(cpu, in->rd, rm, a, b, c);
}

static inline int fma_d(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, bool neg_prod, bool neg_c) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  uint64_t a = cpu->f[in->rs1], b = cpu->f[in->rs2], c = cpu->f[in->rs3];
  a ^= neg_prod ? FMT_D.sign : 0;
  c ^= neg_c ? FMT_D.sign : 0;
  if (fast_path(cpu, rm) && host_has_fma) {
    uint64_t r = f64_bits(hw_fma_d(f64_of(a), f64_of(b), f64_of(c)));
    if (fast_result_ok(&FMT_D, r, fp_is_zero(&FMT_D, a) || fp_is_zero(&FMT_D, b))) {
      cpu->f[in->rd] = r;
      return 0;
    }
  }
  return fma_slow_d(cpu, in->rd, rm, a, b, c);
}

/* ---- sign injection, min/max, compares, classify ------------------------ */

/* Sign injection (§11.6): rs1 with the sign of rs2 (kind 0), its inverse
 * (1) or the xor of both signs (2). Bit operations: NaNs keep their payload
 * (singles still read an improperly boxed operand as the canonical NaN). */
static inline uint64_t fp_sgnj(const fp_fmt_t *f, uint64_t a, uint64_t b, int kind) {
  uint64_t s = kind == 0 ? b : kind == 1 ? ~b : a ^ b;
  return (a & ~f->sign) | (s & f->sign);
}

/* a < b for non-NaN a and b; -0 < +0 only when signed_zero. */
static inline bool fp_lt(const fp_fmt_t *f, uint64_t a, uint64_t b, bool signed_zero) {
  bool neg_a = a & f->sign, neg_b = b & f->sign;
  if (neg_a != neg_b)
    return neg_a && (signed_zero || !(fp_is_zero(f, a) && fp_is_zero(f, b)));
  return neg_a ? a > b : a < b;
}

/* fmin/fmax (§11.6, IEEE 754-2019 minimumNumber/maximumNumber): a NaN
 * operand yields the other operand, two NaNs the canonical NaN, a
 * signalling NaN sets NV, and -0 < +0. */
static uint64_t fp_minmax(const fp_fmt_t *f, uint64_t a, uint64_t b, bool max, uint32_t *flags) {
  if (fp_is_snan(f, a) || fp_is_snan(f, b))
    *flags |= VMX_RV_FF_NV;
  if (fp_is_nan(f, a))
    return fp_is_nan(f, b) ? f->canon : b;
  if (fp_is_nan(f, b))
    return a;
  return fp_lt(f, a, b, true) != max ? a : b;
}

typedef enum { CMP_EQ, CMP_LT, CMP_LE } fp_cmp_t;

/* feq is quiet (NV only for a signalling NaN); flt and fle signal (NV for
 * any NaN). A NaN operand compares false. */
static uint64_t fp_compare(const fp_fmt_t *f, uint64_t a, uint64_t b, fp_cmp_t cmp,
                           uint32_t *flags) {
  if (fp_is_nan(f, a) || fp_is_nan(f, b)) {
    if (cmp != CMP_EQ || fp_is_snan(f, a) || fp_is_snan(f, b))
      *flags |= VMX_RV_FF_NV;
    return 0;
  }
  switch (cmp) {
  case CMP_EQ: return a == b || (fp_is_zero(f, a) && fp_is_zero(f, b));
  case CMP_LT: return fp_lt(f, a, b, false);
  default:     return !fp_lt(f, b, a, false);
  }
}

/* fclass (§11.9): one of ten bits. */
static uint64_t fp_classify(const fp_fmt_t *f, uint64_t v) {
  bool neg = v & f->sign;
  uint64_t mag = fp_mag(f, v);
  if (mag > f->inf)
    return v & f->quiet ? 1u << 9 : 1u << 8;
  if (mag == f->inf)
    return neg ? 1u << 0 : 1u << 7;
  if (mag == 0)
    return neg ? 1u << 3 : 1u << 4;
  if (mag < 1ull << f->mant_bits)
    return neg ? 1u << 2 : 1u << 5;
  return neg ? 1u << 1 : 1u << 6;
}

/* ---- conversions -------------------------------------------------------- */

/* Whether rounding a magnitude whose dropped part is rem (half being one
 * half unit of the kept part) goes away from zero. odd: the kept part is odd. */
static inline bool round_away(int rm, bool neg, bool odd, uint64_t rem, uint64_t half) {
  switch (rm) {
  case VMX_RV_RNE: return rem > half || (rem == half && odd);
  case VMX_RV_RTZ: return false;
  case VMX_RV_RDN: return neg && rem;
  case VMX_RV_RUP: return !neg && rem;
  default:         return rem >= half; /* RMM */
  }
}

/* The integer (-1)^neg * mag in format f, rounded per rm; adds NX when
 * inexact. Zero converts to +0 in every mode. No 64-bit integer overflows
 * a single. */
static uint64_t int_to_fp(const fp_fmt_t *f, bool neg, uint64_t mag, int rm, uint32_t *flags) {
  if (mag == 0)
    return 0;
  int top = 63 - __builtin_clzll(mag);
  int drop = top - f->mant_bits;
  uint64_t sig;
  if (drop <= 0) {
    sig = mag << -drop;
  } else {
    uint64_t rem = mag & ((1ull << drop) - 1), half = 1ull << (drop - 1);
    sig = mag >> drop;
    if (rem) {
      *flags |= VMX_RV_FF_NX;
      if (round_away(rm, neg, sig & 1, rem, half) && ++sig >> (f->mant_bits + 1)) {
        sig >>= 1;
        top++;
      }
    }
  }
  return (neg ? f->sign : 0) | (uint64_t)(top + f->bias) << f->mant_bits |
         (sig & ((1ull << f->mant_bits) - 1));
}

/* Rounds |v| of a finite v (format f) to an integer per rm; neg is v's
 * sign. Returns false when the result would not fit in 64 bits. */
static bool round_to_int(const fp_fmt_t *f, uint64_t v, bool neg, int rm, uint64_t *q,
                         bool *inexact) {
  uint64_t mag = fp_mag(f, v);
  int exp = (int)(mag >> f->mant_bits);
  uint64_t sig = mag & ((1ull << f->mant_bits) - 1);
  if (exp)
    sig |= 1ull << f->mant_bits;
  else
    exp = 1;
  int e = exp - f->bias - f->mant_bits; /* |v| = sig * 2^e */
  *inexact = false;
  if (e >= 0) {
    *q = sig << (e > 63 ? 0 : e);
    return e <= 63 - f->mant_bits; /* sig < 2^(mant_bits+1) */
  }
  int sh = -e;
  /* sig < 2^53 <= 2^(sh-1) when sh > 62: nonzero and below one half. */
  uint64_t rem = sh > 62 ? 1 : sig & ((1ull << sh) - 1);
  uint64_t half = sh > 62 ? 2 : 1ull << (sh - 1);
  *q = sh > 62 ? 0 : sig >> sh;
  *inexact = sig != 0 && rem != 0;
  *q += *inexact && round_away(rm, neg, *q & 1, rem, half);
  return true;
}

/* v (format f) to a signed or unsigned integer of width 32 or 64, rounded
 * per rm, returned sign-extended to 64 bits (fcvt.wu too, §11.7). Invalid
 * inputs set NV alone and saturate as the spec's table says: NaN and too
 * large positive inputs give the largest value, -inf and too large negative
 * ones the smallest (0 for unsigned). Otherwise NX when inexact. */
static uint64_t fp_to_int(const fp_fmt_t *f, uint64_t v, int rm, bool is_signed, int width,
                          uint32_t *flags) {
  bool neg = (v & f->sign) && !fp_is_nan(f, v);
  uint64_t max = is_signed ? (1ull << (width - 1)) - 1 : ~0ull >> (64 - width);
  uint64_t neg_limit = is_signed ? 1ull << (width - 1) : 0; /* largest |negative| */
  uint64_t q = 0;
  bool inexact = false;
  bool valid = fp_is_finite(f, v) && round_to_int(f, v, neg, rm, &q, &inexact) &&
               q <= (neg ? neg_limit : max);
  uint64_t r;
  if (!valid) {
    *flags |= VMX_RV_FF_NV;
    r = neg ? 0 - neg_limit : max;
  } else {
    *flags |= inexact ? VMX_RV_FF_NX : 0;
    r = neg ? 0 - q : q;
  }
  return width == 32 ? (uint64_t)(int64_t)(int32_t)r : r;
}

static int cvt_to_int(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, const fp_fmt_t *f,
                      bool is_signed, int width) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  uint64_t v = f == &FMT_S ? freg_s(cpu, in->rs1) : cpu->f[in->rs1];
  uint32_t flags = 0;
  uint64_t r = fp_to_int(f, v, rm, is_signed, width, &flags);
  put_x(cpu, in->rd, r);
  cpu->fflags |= flags;
  return 0;
}

/* From x[rs1]: its low 32 bits sign- or zero-extended (width 32), or all
 * 64 bits. */
static int cvt_from_int(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, const fp_fmt_t *f,
                        bool is_signed, int width) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  uint64_t x = cpu->x[in->rs1];
  if (width == 32)
    x = is_signed ? (uint64_t)(int64_t)(int32_t)x : (uint32_t)x;
  bool neg = is_signed && (int64_t)x < 0;
  uint32_t flags = 0;
  uint64_t r = int_to_fp(f, neg, neg ? 0 - x : x, rm, &flags);
  if (f == &FMT_S)
    put_s(cpu, in->rd, (uint32_t)r);
  else
    put_d(cpu, in->rd, r);
  cpu->fflags |= flags;
  return 0;
}

/* ---- the instructions --------------------------------------------------- */

#define FP_INSN(name) int vmx_rv_fp_##name(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in)

FP_INSN(FADD_S) { return arith_s(cpu, in, OP_ADD); }
FP_INSN(FSUB_S) { return arith_s(cpu, in, OP_SUB); }
FP_INSN(FMUL_S) { return arith_s(cpu, in, OP_MUL); }
FP_INSN(FDIV_S) { return arith_s(cpu, in, OP_DIV); }
FP_INSN(FADD_D) { return arith_d(cpu, in, OP_ADD); }
FP_INSN(FSUB_D) { return arith_d(cpu, in, OP_SUB); }
FP_INSN(FMUL_D) { return arith_d(cpu, in, OP_MUL); }
FP_INSN(FDIV_D) { return arith_d(cpu, in, OP_DIV); }
FP_INSN(FSQRT_S) { return sqrt_s(cpu, in); }
FP_INSN(FSQRT_D) { return sqrt_d(cpu, in); }

FP_INSN(FMADD_S) { return fma_s(cpu, in, false, false); }
FP_INSN(FMSUB_S) { return fma_s(cpu, in, false, true); }
FP_INSN(FNMSUB_S) { return fma_s(cpu, in, true, false); }
FP_INSN(FNMADD_S) { return fma_s(cpu, in, true, true); }
FP_INSN(FMADD_D) { return fma_d(cpu, in, false, false); }
FP_INSN(FMSUB_D) { return fma_d(cpu, in, false, true); }
FP_INSN(FNMSUB_D) { return fma_d(cpu, in, true, false); }
FP_INSN(FNMADD_D) { return fma_d(cpu, in, true, true); }

static int sgnj_s(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, int kind) {
  uint64_t r = fp_sgnj(&FMT_S, freg_s(cpu, in->rs1), freg_s(cpu, in->rs2), kind);
  cpu->f[in->rd] = vmx_rv_box32((uint32_t)r);
  return 0;
}
static int sgnj_d(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, int kind) {
  cpu->f[in->rd] = fp_sgnj(&FMT_D, cpu->f[in->rs1], cpu->f[in->rs2], kind);
  return 0;
}
FP_INSN(FSGNJ_S) { return sgnj_s(cpu, in, 0); }
FP_INSN(FSGNJN_S) { return sgnj_s(cpu, in, 1); }
FP_INSN(FSGNJX_S) { return sgnj_s(cpu, in, 2); }
FP_INSN(FSGNJ_D) { return sgnj_d(cpu, in, 0); }
FP_INSN(FSGNJN_D) { return sgnj_d(cpu, in, 1); }
FP_INSN(FSGNJX_D) { return sgnj_d(cpu, in, 2); }

static int minmax_s(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, bool max) {
  uint32_t flags = 0;
  uint64_t r = fp_minmax(&FMT_S, freg_s(cpu, in->rs1), freg_s(cpu, in->rs2), max, &flags);
  cpu->f[in->rd] = vmx_rv_box32((uint32_t)r);
  cpu->fflags |= flags;
  return 0;
}
static int minmax_d(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, bool max) {
  uint32_t flags = 0;
  cpu->f[in->rd] = fp_minmax(&FMT_D, cpu->f[in->rs1], cpu->f[in->rs2], max, &flags);
  cpu->fflags |= flags;
  return 0;
}
FP_INSN(FMIN_S) { return minmax_s(cpu, in, false); }
FP_INSN(FMAX_S) { return minmax_s(cpu, in, true); }
FP_INSN(FMIN_D) { return minmax_d(cpu, in, false); }
FP_INSN(FMAX_D) { return minmax_d(cpu, in, true); }

static int compare(vmx_rv_cpu_t *cpu, const vmx_rv_insn_t *in, const fp_fmt_t *f, fp_cmp_t cmp) {
  uint32_t flags = 0;
  uint64_t a = f == &FMT_S ? freg_s(cpu, in->rs1) : cpu->f[in->rs1];
  uint64_t b = f == &FMT_S ? freg_s(cpu, in->rs2) : cpu->f[in->rs2];
  put_x(cpu, in->rd, fp_compare(f, a, b, cmp, &flags));
  cpu->fflags |= flags;
  return 0;
}
FP_INSN(FEQ_S) { return compare(cpu, in, &FMT_S, CMP_EQ); }
FP_INSN(FLT_S) { return compare(cpu, in, &FMT_S, CMP_LT); }
FP_INSN(FLE_S) { return compare(cpu, in, &FMT_S, CMP_LE); }
FP_INSN(FEQ_D) { return compare(cpu, in, &FMT_D, CMP_EQ); }
FP_INSN(FLT_D) { return compare(cpu, in, &FMT_D, CMP_LT); }
FP_INSN(FLE_D) { return compare(cpu, in, &FMT_D, CMP_LE); }

FP_INSN(FCLASS_S) {
  put_x(cpu, in->rd, fp_classify(&FMT_S, freg_s(cpu, in->rs1)));
  return 0;
}
FP_INSN(FCLASS_D) {
  put_x(cpu, in->rd, fp_classify(&FMT_D, cpu->f[in->rs1]));
  return 0;
}

FP_INSN(FCVT_W_S) { return cvt_to_int(cpu, in, &FMT_S, true, 32); }
FP_INSN(FCVT_WU_S) { return cvt_to_int(cpu, in, &FMT_S, false, 32); }
FP_INSN(FCVT_L_S) { return cvt_to_int(cpu, in, &FMT_S, true, 64); }
FP_INSN(FCVT_LU_S) { return cvt_to_int(cpu, in, &FMT_S, false, 64); }
FP_INSN(FCVT_W_D) { return cvt_to_int(cpu, in, &FMT_D, true, 32); }
FP_INSN(FCVT_WU_D) { return cvt_to_int(cpu, in, &FMT_D, false, 32); }
FP_INSN(FCVT_L_D) { return cvt_to_int(cpu, in, &FMT_D, true, 64); }
FP_INSN(FCVT_LU_D) { return cvt_to_int(cpu, in, &FMT_D, false, 64); }

FP_INSN(FCVT_S_W) { return cvt_from_int(cpu, in, &FMT_S, true, 32); }
FP_INSN(FCVT_S_WU) { return cvt_from_int(cpu, in, &FMT_S, false, 32); }
FP_INSN(FCVT_S_L) { return cvt_from_int(cpu, in, &FMT_S, true, 64); }
FP_INSN(FCVT_S_LU) { return cvt_from_int(cpu, in, &FMT_S, false, 64); }
FP_INSN(FCVT_D_W) { return cvt_from_int(cpu, in, &FMT_D, true, 32); }
FP_INSN(FCVT_D_WU) { return cvt_from_int(cpu, in, &FMT_D, false, 32); }
FP_INSN(FCVT_D_L) { return cvt_from_int(cpu, in, &FMT_D, true, 64); }
FP_INSN(FCVT_D_LU) { return cvt_from_int(cpu, in, &FMT_D, false, 64); }

/* Narrowing rounds on the host (OF, UF, NX from it); a NaN becomes the
 * canonical NaN, with NV when signalling. */
FP_INSN(FCVT_S_D) {
  int rm = fp_rm(cpu, in);
  if (rm < 0)
    return -1;
  uint64_t a = cpu->f[in->rs1];
  uint32_t flags, r;
  if (fp_is_nan(&FMT_D, a)) {
    flags = fp_is_snan(&FMT_D, a) ? VMX_RV_FF_NV : 0;
    r = (uint32_t)FMT_S.canon;
  } else {
    float fr = host_d_to_s(f64_of(a), rm, &flags);
    if (rm == VMX_RV_RMM && (flags & VMX_RV_FF_NX))
      fr = rmm_d_to_s(f64_of(a), fr);
    r = f32_bits(fr);
  }
  put_s(cpu, in->rd, r);
  cpu->fflags |= flags;
  return 0;
}

/* Widening is exact. The rm field is still checked, as qemu does. */
FP_INSN(FCVT_D_S) {
  if (fp_rm(cpu, in) < 0)
    return -1;
  uint32_t a = freg_s(cpu, in->rs1);
  if (fp_is_nan(&FMT_S, a)) {
    cpu->fflags |= fp_is_snan(&FMT_S, a) ? VMX_RV_FF_NV : 0;
    cpu->f[in->rd] = FMT_D.canon;
  } else {
    cpu->f[in->rd] = f64_bits((double)f32_of(a));
  }
  return 0;
}

/* Moves are transfers (§12.2): bits unchanged, boxing not checked. */
FP_INSN(FMV_X_W) {
  put_x(cpu, in->rd, (uint64_t)(int64_t)(int32_t)cpu->f[in->rs1]);
  return 0;
}
FP_INSN(FMV_W_X) {
  cpu->f[in->rd] = vmx_rv_box32((uint32_t)cpu->x[in->rs1]);
  return 0;
}
FP_INSN(FMV_X_D) {
  put_x(cpu, in->rd, cpu->f[in->rs1]);
  return 0;
}
FP_INSN(FMV_D_X) {
  cpu->f[in->rd] = cpu->x[in->rs1];
  return 0;
}
