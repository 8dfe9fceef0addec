/*
 * fp.c - the F and D extensions, built twice: with -DFLEN=32 it tests the
 * single-precision instructions (guest_fp_single), with -DFLEN=64 the
 * double-precision ones (guest_fp_double).
 *
 * Every operation runs on raw bit patterns moved into f registers with
 * fmv, once per static rounding mode (the rm field) and again with rm=dyn
 * under each frm value, set once through fsrm and once through fscsr.  Each
 * result is printed with the fflags it raised; flags are cleared before each
 * operation.  Single-precision results are read back as the whole 64-bit
 * register, so a result that is not NaN-boxed shows as "!" and 16 digits.
 */
#include "guest_test.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>

#if FLEN == 32
#define P ".s"
#define OTHER ".d"
#define MV_TO_F "fmv.w.x"
#define WIDTH 8
static const uint64_t vals[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0xbfc00000,
    0x3f000000, 0xbf000000, 0x40200000, 0xc0200000, 0x40490fdb, 0x3eaaaaab,
    0x3f800001, 0x3f7fffff, 0x33800000, 0x34000000,
    0x00000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000,
    0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000,
    0x7fc00000, 0xffc00001, 0x7f800001, 0xff812345,
    0x4b000001, 0x4effffff, 0x4f000000, 0xcf000000, 0x4f800000,
    0x5f000000, 0xdf000000, 0x5f800000,
};
/* Operands of the fused multiply-adds, whose three-way product is large. */
static const uint64_t fma_vals[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3eaaaaab, 0x3f800001,
    0x3f7fffff, 0x00000001, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000,
    0x7f800001,
};
#else
#define P ".d"
#define OTHER ".s"
#define MV_TO_F "fmv.d.x"
#define WIDTH 16
static const uint64_t vals[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3ff8000000000000, 0xbff8000000000000, 0x3fe0000000000000, 0xbfe0000000000000,
    0x4004000000000000, 0xc004000000000000, 0x400921fb54442d18, 0x3fd5555555555555,
    0x3ff0000000000001, 0x3fefffffffffffff, 0x3ca0000000000000, 0x3cb0000000000000,
    0x0000000000000001, 0x000fffffffffffff, 0x800fffffffffffff, 0x0010000000000000,
    0x8010000000000000, 0x7fefffffffffffff, 0xffefffffffffffff,
    0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000000001,
    0x7ff0000000000001, 0xfff0000000012345,
    0x4330000000000001, 0x41dfffffffe00000, 0x41e0000000000000, 0xc1e0000000000000,
    0x41efffffffe00000, 0x41f0000000000000, 0x43e0000000000000, 0xc3e0000000000000,
    0x43f0000000000000, 0x3ff0000010000000, 0x47efffffe0000000, 0x47effffff0000000,
    0x36a0000000000000, 0x3690000000000000, 0x3810000000000000,
};
static const uint64_t fma_vals[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3fd5555555555555, 0x3ff0000000000001, 0x3fefffffffffffff, 0x0000000000000001,
    0x7fefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
    0x7ff0000000000001,
};
#endif
#define NVALS (sizeof vals / sizeof vals[0])
#define NFMA (sizeof fma_vals / sizeof fma_vals[0])

static const uint64_t ints[] = {
    0, 1, 2, 3, 0xffffffffffffffff, 0xfffffffffffffffd, 0x7fffffff, 0x80000000,
    0xffffffff, 0xffffffff80000000, 0x1000001, 0x1000003, 0xfffffffffefffffd,
    0x20000000000001, 0x7fffffffffffffff, 0x8000000000000000, 0x123456789abcdef1,
    0x1234567880000000, 0xfffffffe00000001,
};
#define NINTS (sizeof ints / sizeof ints[0])

/* The raw 64-bit f register after an operation and the fflags it raised. */
typedef struct {
    uint64_t r;
    uint64_t flags;
} fres_t;

typedef fres_t (*fp_fn)(uint64_t a, uint64_t b, uint64_t c, uint64_t frm, uint64_t via_fsrm);

/*
 * Sets frm (through fsrm+fsflags or through fscsr), moves the operands into
 * ft0..ft2, runs BODY and reads fflags.  BODY leaves its result in %[r].
 */
#define FP_ASM(body)                                                           \
    __asm__ volatile("beqz %[via], 1f\n fsrm %[frm]\n fsflags x0\n j 2f\n"     \
                     "1: fscsr %[csr]\n2:\n"                                   \
                     MV_TO_F " ft0, %[a]\n" MV_TO_F " ft1, %[b]\n"             \
                     MV_TO_F " ft2, %[c]\n" body "\n frflags %[fl]\n"          \
                     : [r] "=&r"(o.r), [fl] "=r"(o.flags)                      \
                     : [a] "r"(a), [b] "r"(b), [c] "r"(c), [frm] "r"(frm),     \
                       [csr] "r"(frm << 5), [via] "r"(via_fsrm)                \
                     : "ft0", "ft1", "ft2", "ft3")

/* Operand shapes: F = f register of this precision, X = integer register. */
#define BODY_FFF(insn, rm) insn " ft3, ft0, ft1, ft2" rm "\n fmv.x.d %[r], ft3"
#define BODY_FF(insn, rm) insn " ft3, ft0, ft1" rm "\n fmv.x.d %[r], ft3"
#define BODY_F(insn, rm) insn " ft3, ft0" rm "\n fmv.x.d %[r], ft3"
#define BODY_XF(insn, rm) insn " %[r], ft0" rm
#define BODY_XFF(insn, rm) insn " %[r], ft0, ft1" rm
#define BODY_FX(insn, rm) insn " ft3, %[a]" rm "\n fmv.x.d %[r], ft3"

/*
 * How a result is printed: RES_F is this precision, RES_O the other one,
 * RES_X a 64-bit integer register.
 */
enum res_kind { RES_F, RES_O, RES_X };

/* Operations with a rounding mode: X(id, mnemonic, shape, result kind). */
#if FLEN == 32
#define WIDEN_RM_OPS(X) X(fcvt_p_w, "fcvt" P ".w", FX, RES_F) X(fcvt_p_wu, "fcvt" P ".wu", FX, RES_F)
#define NARROW_OPS(X)
#define WIDEN_OPS(X) X(fcvt_o_p, "fcvt" OTHER P, F, RES_O)
#define EXACT_FROM_INT_OPS(X)
#else
#define WIDEN_RM_OPS(X)
#define NARROW_OPS(X) X(fcvt_o_p, "fcvt" OTHER P, F, RES_O)
#define WIDEN_OPS(X)
#define EXACT_FROM_INT_OPS(X) X(fcvt_p_w, "fcvt" P ".w", FX, RES_F) X(fcvt_p_wu, "fcvt" P ".wu", FX, RES_F)
#endif

#define BINARY_RM_OPS(X)                                                       \
    X(fadd, "fadd" P, FF, RES_F) X(fsub, "fsub" P, FF, RES_F)                  \
    X(fmul, "fmul" P, FF, RES_F) X(fdiv, "fdiv" P, FF, RES_F)
#define UNARY_RM_OPS(X)                                                        \
    X(fsqrt, "fsqrt" P, F, RES_F)                                              \
    X(fcvt_w, "fcvt.w" P, XF, RES_X) X(fcvt_wu, "fcvt.wu" P, XF, RES_X)        \
    X(fcvt_l, "fcvt.l" P, XF, RES_X) X(fcvt_lu, "fcvt.lu" P, XF, RES_X)        \
    NARROW_OPS(X)
#define FROM_INT_RM_OPS(X)                                                     \
    WIDEN_RM_OPS(X)                                                            \
    X(fcvt_p_l, "fcvt" P ".l", FX, RES_F) X(fcvt_p_lu, "fcvt" P ".lu", FX, RES_F)
#define FMA_OPS(X)                                                             \
    X(fmadd, "fmadd" P, FFF, RES_F) X(fmsub, "fmsub" P, FFF, RES_F)            \
    X(fnmadd, "fnmadd" P, FFF, RES_F) X(fnmsub, "fnmsub" P, FFF, RES_F)
#define ALL_RM_OPS(X) BINARY_RM_OPS(X) UNARY_RM_OPS(X) FROM_INT_RM_OPS(X) FMA_OPS(X)

/* Operations without a rounding mode. */
#define PAIR_OPS(X)                                                            \
    X(fmin, "fmin" P, FF, RES_F) X(fmax, "fmax" P, FF, RES_F)                  \
    X(fsgnj, "fsgnj" P, FF, RES_F) X(fsgnjn, "fsgnjn" P, FF, RES_F)            \
    X(fsgnjx, "fsgnjx" P, FF, RES_F)                                           \
    X(feq, "feq" P, XFF, RES_X) X(flt, "flt" P, XFF, RES_X) X(fle, "fle" P, XFF, RES_X)
#define SINGLE_OPS(X)                                                          \
    X(fclass, "fclass" P, XF, RES_X) WIDEN_OPS(X)
#define ALL_PLAIN_OPS(X) PAIR_OPS(X) SINGLE_OPS(X) EXACT_FROM_INT_OPS(X)

#define ROUNDING_MODES(X, ...)                                                 \
    X(__VA_ARGS__, rne) X(__VA_ARGS__, rtz) X(__VA_ARGS__, rdn)                \
    X(__VA_ARGS__, rup) X(__VA_ARGS__, rmm) X(__VA_ARGS__, dyn)

#define DEF_FN(id, insn, shape, kind, rm, rmtext)                              \
    static fres_t id##_##rm(uint64_t a, uint64_t b, uint64_t c, uint64_t frm,  \
                            uint64_t via_fsrm)                                 \
    {                                                                          \
        fres_t o;                                                              \
        FP_ASM(BODY_##shape(insn, rmtext));                                    \
        return o;                                                              \
    }
#define DEF_RM_FN(id, insn, shape, kind, rm) DEF_FN(id, insn, shape, kind, rm, ", " #rm)
#define DEF_RM_OP(id, insn, shape, kind) ROUNDING_MODES(DEF_RM_FN, id, insn, shape, kind)
#define DEF_PLAIN_OP(id, insn, shape, kind) DEF_FN(id, insn, shape, kind, plain, "")
ALL_RM_OPS(DEF_RM_OP)
ALL_PLAIN_OPS(DEF_PLAIN_OP)

static const char *const rm_names[] = {"rne", "rtz", "rdn", "rup", "rmm"};

typedef struct {
    const char *name;
    enum res_kind kind;
    fp_fn fn[6]; /* rne, rtz, rdn, rup, rmm, dyn */
} rm_op_t;

#define RM_ENTRY(id, insn, shape, kind)                                        \
    {insn, kind, {id##_rne, id##_rtz, id##_rdn, id##_rup, id##_rmm, id##_dyn}},
static const rm_op_t binary_rm_ops[] = {BINARY_RM_OPS(RM_ENTRY)};
static const rm_op_t unary_rm_ops[] = {UNARY_RM_OPS(RM_ENTRY)};
static const rm_op_t from_int_rm_ops[] = {FROM_INT_RM_OPS(RM_ENTRY)};
static const rm_op_t fma_ops[] = {FMA_OPS(RM_ENTRY)};

typedef struct {
    const char *name;
    enum res_kind kind;
    fp_fn fn;
} plain_op_t;

#define PLAIN_ENTRY(id, insn, shape, kind) {insn, kind, id##_plain},
static const plain_op_t pair_ops[] = {PAIR_OPS(PLAIN_ENTRY)};
static const plain_op_t single_ops[] = {SINGLE_OPS(PLAIN_ENTRY)};
#if FLEN == 64
static const plain_op_t exact_from_int_ops[] = {EXACT_FROM_INT_OPS(PLAIN_ENTRY)};
#endif

/* Formats a result into BUF: single values that are not NaN-boxed get a "!". */
static const char *fmt_value(char *buf, size_t size, enum res_kind kind, uint64_t r)
{
    int width = kind == RES_X ? 16 : kind == RES_F ? WIDTH : 24 - WIDTH;
    if (width == 8 && r >> 32 != 0xffffffff)
        snprintf(buf, size, "!%016" PRIx64, r);
    else
        snprintf(buf, size, "%0*" PRIx64, width, width == 8 ? r & 0xffffffff : r);
    return buf;
}

/*
 * Prints one operation in all five static rounding modes, then checks that
 * rm=dyn under each frm value (set both ways) gives the same results.
 */
static void run_rm_op(const rm_op_t *op, const char *operands, uint64_t a, uint64_t b,
                      uint64_t c)
{
    fres_t stat[5];
    char buf[32];
    printf("%s %s:", op->name, operands);
    for (int m = 0; m < 5; m++) {
        stat[m] = op->fn[m](a, b, c, 0, m & 1);
        printf(" %s=%s/%02" PRIx64, rm_names[m], fmt_value(buf, sizeof buf, op->kind, stat[m].r),
               stat[m].flags);
    }
    int dyn_ok = 1;
    for (int m = 0; m < 5; m++)
        for (int via = 0; via < 2; via++) {
            fres_t d = op->fn[5](a, b, c, m, via);
            if (d.r != stat[m].r || d.flags != stat[m].flags) {
                printf(" dyn[%s,%s]=%s/%02" PRIx64, rm_names[m], via ? "fsrm" : "fscsr",
                       fmt_value(buf, sizeof buf, op->kind, d.r), d.flags);
                dyn_ok = 0;
            }
        }
    printf("%s\n", dyn_ok ? " dyn=same" : "");
}

static void test_rm_ops(void)
{
    char operands[64];
    for (size_t op = 0; op < sizeof binary_rm_ops / sizeof binary_rm_ops[0]; op++)
        for (size_t i = 0; i < NVALS; i++)
            for (size_t j = 0; j < NVALS; j++) {
                snprintf(operands, sizeof operands, "%0*" PRIx64 " %0*" PRIx64, WIDTH, vals[i],
                         WIDTH, vals[j]);
                run_rm_op(&binary_rm_ops[op], operands, vals[i], vals[j], 0);
            }
    for (size_t op = 0; op < sizeof unary_rm_ops / sizeof unary_rm_ops[0]; op++)
        for (size_t i = 0; i < NVALS; i++) {
            snprintf(operands, sizeof operands, "%0*" PRIx64, WIDTH, vals[i]);
            run_rm_op(&unary_rm_ops[op], operands, vals[i], 0, 0);
        }
    for (size_t op = 0; op < sizeof from_int_rm_ops / sizeof from_int_rm_ops[0]; op++)
        for (size_t i = 0; i < NINTS; i++) {
            snprintf(operands, sizeof operands, "%016" PRIx64, ints[i]);
            run_rm_op(&from_int_rm_ops[op], operands, ints[i], 0, 0);
        }
}

static void test_fma(void)
{
    char operands[64];
    for (size_t op = 0; op < sizeof fma_ops / sizeof fma_ops[0]; op++)
        for (size_t i = 0; i < NFMA; i++)
            for (size_t j = 0; j < NFMA; j++)
                for (size_t k = 0; k < NFMA; k++) {
                    snprintf(operands, sizeof operands, "%0*" PRIx64 " %0*" PRIx64 " %0*" PRIx64,
                             WIDTH, fma_vals[i], WIDTH, fma_vals[j], WIDTH, fma_vals[k]);
                    run_rm_op(&fma_ops[op], operands, fma_vals[i], fma_vals[j], fma_vals[k]);
                }
}

static void run_plain(const plain_op_t *op, uint64_t a, uint64_t b)
{
    char buf[32];
    fres_t o = op->fn(a, b, 0, 0, 0);
    printf(" %s=%s/%02" PRIx64, op->name, fmt_value(buf, sizeof buf, op->kind, o.r), o.flags);
}

/* Min/max, sign injection and comparisons: one line per operand pair. */
static void test_plain_ops(void)
{
    for (size_t i = 0; i < NVALS; i++)
        for (size_t j = 0; j < NVALS; j++) {
            printf("%0*" PRIx64 " %0*" PRIx64 ":", WIDTH, vals[i], WIDTH, vals[j]);
            for (size_t op = 0; op < sizeof pair_ops / sizeof pair_ops[0]; op++)
                run_plain(&pair_ops[op], vals[i], vals[j]);
            printf("\n");
        }
    for (size_t i = 0; i < NVALS; i++) {
        printf("%0*" PRIx64 ":", WIDTH, vals[i]);
        for (size_t op = 0; op < sizeof single_ops / sizeof single_ops[0]; op++)
            run_plain(&single_ops[op], vals[i], 0);
        printf("\n");
    }
#if FLEN == 64
    for (size_t i = 0; i < NINTS; i++) {
        printf("%016" PRIx64 ":", ints[i]);
        for (size_t op = 0; op < sizeof exact_from_int_ops / sizeof exact_from_int_ops[0]; op++)
            run_plain(&exact_from_int_ops[op], ints[i], 0);
        printf("\n");
    }
#endif
}

/* fmv between register files copies bits: no canonicalisation, no flags. */
static void test_moves(void)
{
    for (size_t i = 0; i < NVALS; i++) {
        uint64_t x, boxed;
#if FLEN == 32
        __asm__ volatile("fmv.w.x ft0, %2\n fmv.x.w %0, ft0\n fmv.x.d %1, ft0"
                         : "=r"(x), "=r"(boxed) : "r"(vals[i] | 0x1234567800000000) : "ft0");
        printf("fmv.w.x/fmv.x.w %08" PRIx64 ": x=%016" PRIx64 " reg=%016" PRIx64 "\n", vals[i], x,
               boxed);
#else
        __asm__ volatile("fmv.d.x ft0, %2\n fmv.x.d %0, ft0\n fsgnj.d ft1, ft0, ft0\n fmv.x.d %1, ft1"
                         : "=r"(x), "=r"(boxed) : "r"(vals[i]) : "ft0", "ft1");
        printf("fmv.d.x/fmv.x.d %016" PRIx64 ": x=%016" PRIx64 " fmv.d=%016" PRIx64 "\n", vals[i], x,
               boxed);
#endif
    }
}

/*
 * Loads and stores move bits unchanged, signalling NaN payloads included,
 * at aligned and misaligned addresses.
 */
static void test_loads_stores(void)
{
    static uint8_t buf[32] __attribute__((aligned(16)));
    for (size_t off = 0; off < 8; off++) {
        uint64_t pattern = FLEN == 32 ? 0x7f812345 : 0x7ff0123456789abc;
        uint64_t reg, back = 0;
        memset(buf, 0xee, sizeof buf);
        memcpy(buf + off, &pattern, FLEN / 8);
#if FLEN == 32
        __asm__ volatile("flw ft0, 0(%2)\n fmv.x.d %0, ft0\n fsw ft0, 8(%2)\n lwu %1, 8(%2)"
                         : "=&r"(reg), "=&r"(back) : "r"(buf + off) : "ft0", "memory");
#else
        __asm__ volatile("fld ft0, 0(%2)\n fmv.x.d %0, ft0\n fsd ft0, 12(%2)\n ld %1, 12(%2)"
                         : "=&r"(reg), "=&r"(back) : "r"(buf + off) : "ft0", "memory");
#endif
        printf("load/store +%zu: reg=%016" PRIx64 " stored=%016" PRIx64 " guard=%02x\n", off, reg,
               back, buf[off + 8 + FLEN / 8 + (FLEN == 64 ? 4 : 0)]);
    }
}

#if FLEN == 32
/*
 * A single-precision operation that reads an f register whose upper 32 bits
 * are not all ones sees the canonical NaN (RISC-V unpriv 13.2).  Moves to
 * integer registers and stores copy the low bits without that check.
 */
static void test_nan_boxing(void)
{
    static const uint64_t unboxed[] = {
        0x000000003f800000, 0xfffffffe3f800000, 0x7fffffff7f800001, 0xffffffff3f800000,
    };
    for (size_t i = 0; i < sizeof unboxed / sizeof unboxed[0]; i++) {
        uint64_t u = unboxed[i], add, sgnj, sgnjn, cls, mvx, eq, lt, cvt, sq, mad, mn, stored,
                 fl_add, fl_eq, fl_lt, fl_cvt, cvtw;
        uint32_t mem = 0;
        __asm__ volatile("fmv.d.x ft0, %[u]\n fmv.w.x ft1, %[one]\n"
                         " fsflags x0\n fadd.s ft2, ft0, ft1\n frflags %[fl_add]\n fmv.x.d %[add], ft2\n"
                         " fsgnj.s ft2, ft0, ft0\n fmv.x.d %[sgnj], ft2\n"
                         " fsgnjn.s ft2, ft1, ft0\n fmv.x.d %[sgnjn], ft2\n"
                         " fclass.s %[cls], ft0\n fmv.x.w %[mvx], ft0\n"
                         " fsflags x0\n feq.s %[eq], ft0, ft0\n frflags %[fl_eq]\n"
                         " fsflags x0\n flt.s %[lt], ft0, ft1\n frflags %[fl_lt]\n"
                         " fsflags x0\n fcvt.d.s ft2, ft0\n frflags %[fl_cvt]\n fmv.x.d %[cvt], ft2\n"
                         " fcvt.w.s %[cvtw], ft0, rtz\n"
                         " fsqrt.s ft2, ft0\n fmv.x.d %[sq], ft2\n"
                         " fmadd.s ft2, ft1, ft1, ft0\n fmv.x.d %[mad], ft2\n"
                         " fmin.s ft2, ft0, ft1\n fmv.x.d %[mn], ft2\n"
                         " fsw ft0, 0(%[mem])\n lwu %[stored], 0(%[mem])\n"
                         : [add] "=&r"(add), [sgnj] "=&r"(sgnj), [sgnjn] "=&r"(sgnjn),
                           [cls] "=&r"(cls), [mvx] "=&r"(mvx), [eq] "=&r"(eq), [lt] "=&r"(lt),
                           [cvt] "=&r"(cvt), [sq] "=&r"(sq), [mad] "=&r"(mad), [mn] "=&r"(mn),
                           [stored] "=&r"(stored), [fl_add] "=&r"(fl_add), [fl_eq] "=&r"(fl_eq),
                           [fl_lt] "=&r"(fl_lt), [fl_cvt] "=&r"(fl_cvt), [cvtw] "=&r"(cvtw)
                         : [u] "r"(u), [one] "r"((uint64_t)0x3f800000), [mem] "r"(&mem)
                         : "ft0", "ft1", "ft2", "memory");
        printf("register %016" PRIx64 ": fadd=%016" PRIx64 "/%02" PRIx64 " fsgnj=%016" PRIx64
               " fsgnjn=%016" PRIx64 " fclass=%" PRIx64 " fmv.x.w=%016" PRIx64 "\n",
               u, add, fl_add, sgnj, sgnjn, cls, mvx);
        printf("  feq=%" PRIx64 "/%02" PRIx64 " flt=%" PRIx64 "/%02" PRIx64 " fcvt.d.s=%016" PRIx64
               "/%02" PRIx64 " fcvt.w.s=%016" PRIx64 " fsqrt=%016" PRIx64 " fmadd=%016" PRIx64
               " fmin=%016" PRIx64 " fsw=%08" PRIx64 "\n",
               eq, fl_eq, lt, fl_lt, cvt, fl_cvt, cvtw, sq, mad, mn, stored);
    }
    /* Double-precision operations see the whole register. */
    uint64_t d;
    __asm__ volatile("fmv.w.x ft0, %1\n fsgnj.d ft1, ft0, ft0\n fmv.x.d %0, ft1"
                     : "=r"(d) : "r"((uint64_t)0x3f800000) : "ft0", "ft1");
    printf("fsgnj.d of a boxed single = %016" PRIx64 "\n", d);
}
#endif

/* Flags accumulate across operations until software clears them. */
static void test_flag_accumulation(void)
{
    uint64_t f1, f2, f3;
    __asm__ volatile("fsflags x0\n"
                     MV_TO_F " ft0, %3\n" MV_TO_F " ft1, %4\n"
                     "fdiv" P " ft2, ft0, ft1\n frflags %0\n"            /* 1/0: DZ */
                     "fsqrt" P " ft2, ft1\n frflags %1\n"                /* sqrt(0): none */
                     "fdiv" P " ft2, ft1, ft1\n fadd" P " ft2, ft0, ft0\n frflags %2\n" /* 0/0: NV */
                     "fsflags x0\n"
                     : "=&r"(f1), "=&r"(f2), "=&r"(f3)
                     : "r"(vals[2]), "r"(vals[0])
                     : "ft0", "ft1", "ft2");
    printf("accumulated flags: %02" PRIx64 " %02" PRIx64 " %02" PRIx64 "\n", f1, f2, f3);
}

static sigjmp_buf sigill_jump;

static void on_sigill(int sig, siginfo_t *info, void *uc)
{
    printf("  SIGILL code %d\n", info->si_code);
    siglongjmp(sigill_jump, 1);
}

/*
 * rm values 5 and 6 are reserved, and rm=dyn is illegal while frm holds
 * 5..7: each raises an illegal-instruction exception.
 */
static void test_reserved_rounding_modes(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO};
    sigaction(SIGILL, &sa, NULL);
    uint64_t r = 0, frm = 0;
    /* funct7 0 is fadd.s, 1 is fadd.d. */
#if FLEN == 32
#define FADD_RM(rm) ".insn r OP_FP, " #rm ", 0, ft2, ft0, ft1\n"
#else
#define FADD_RM(rm) ".insn r OP_FP, " #rm ", 1, ft2, ft0, ft1\n"
#endif
    puts("fadd rm=5:");
    if (!sigsetjmp(sigill_jump, 1)) {
        __asm__ volatile(FADD_RM(5) : : : "ft2");
        puts("  executed");
    }
    puts("fadd rm=6:");
    if (!sigsetjmp(sigill_jump, 1)) {
        __asm__ volatile(FADD_RM(6) : : : "ft2");
        puts("  executed");
    }
    for (uint64_t bad = 5; bad < 8; bad++) {
        printf("fadd rm=dyn with frm=%" PRIu64 ":\n", bad);
        if (!sigsetjmp(sigill_jump, 1)) {
            __asm__ volatile("fsrm %0\n" FADD_RM(7) "fsrm x0" : : "r"(bad) : "ft2");
            puts("  executed");
        }
        __asm__ volatile("frrm %0\n fsrm x0" : "=r"(frm));
        printf("  frm was %" PRIu64 "\n", frm);
    }
    /* Instructions without a rounding mode do not care about frm. */
    __asm__ volatile("fsrm %1\n fsgnj" P " ft2, ft0, ft0\n fmv.x.d %0, ft2\n fsrm x0"
                     : "=r"(r) : "r"((uint64_t)6) : "ft2");
    puts("fsgnj with frm=6: executed");
}

int main(void)
{
    test_rm_ops();
    test_fma();
    test_plain_ops();
    test_moves();
    test_loads_stores();
#if FLEN == 32
    test_nan_boxing();
#endif
    test_flag_accumulation();
    test_reserved_rounding_modes();
    return 0;
}
