/*
 * fprand.c - random cases of every F and D instruction (guest_fp_random).
 *
 * usage: fprand [COUNT [SEED [NAME]]]
 *
 * Runs COUNT cases (default 1000000).  A case is one instruction of the F or D
 * extension in one rounding mode (the five static ones, and rm=dyn), on
 * operands drawn to hit the hard parts: signed zeros, infinities, quiet and
 * signalling NaNs, subnormals, the largest finite values, ties, exact
 * results, x - x, scaling by powers of two, products at the underflow
 * threshold, cancellation in fused multiply-add, integers around the
 * conversion limits, and single-precision values that are not NaN-boxed.
 * Each case starts from random fflags and a random frm (any of the eight
 * values, valid ones only for rm=dyn: static and rm-less instructions must
 * ignore frm).  The random generator starts from SEED, so a run is
 * deterministic.
 *
 * To keep the output small, cases are not printed one by one.  Each group
 * (an instruction and rounding mode; rm=dyn split further by frm) prints one
 * line: its number of cases, a hash of all of them (operands, frm, fflags
 * before, result, fflags after) and its first case in full.  A mismatch
 * thus names the instruction and rounding mode.  With NAME (an instruction
 * such as FMADD_D, or "all"), every case of that instruction is printed as
 * well, to find the one that differs.  The cases do not depend on COUNT
 * (a shorter run makes the first cases of a longer one) nor on the results,
 * so a short run finds the first failing case quickly:
 *
 *     qemu-riscv64 fprand 100000 0x9e3779b97f4a7c15 FMADD_D >q.txt
 *     vmx run-user fprand 100000 0x9e3779b97f4a7c15 FMADD_D >v.txt
 */
#include "../guest_test.h"

#include <stdlib.h>

/* ---- Random numbers and operands ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15;

/*
 * xorshift64* (Vigna): the multiply mixes the high bits into the low ones,
 * which rndn() takes its small ranges from.
 */
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1d;
}

static uint64_t rndn(uint64_t n)
{
    return rnd() % n;
}

/* A special value of a binary format: zero, infinity, NaN, a bound. */
static void pick_special(uint64_t emax, int mbits, uint64_t *e, uint64_t *m)
{
    uint64_t mmask = (1ull << mbits) - 1;
    switch (rndn(11)) {
    case 0: *e = 0; *m = 0; break;                                  /* zero */
    case 1: *e = emax; *m = 0; break;                               /* inf */
    case 2: *e = emax; *m = 1ull << (mbits - 1); break;             /* default qNaN */
    case 3: *e = emax; *m = 1 + rndn(5); break;                     /* sNaN */
    case 4: *e = emax; *m = (rnd() & mmask) | 1; break;             /* any NaN */
    case 5: *e = 0; *m = 1 + rndn(3); break;                        /* smallest subnormals */
    case 6: *e = 0; *m = mmask - rndn(3); break;                    /* largest subnormals */
    case 7: *e = 1; *m = rndn(3); break;                            /* smallest normals */
    case 8: *e = emax - 1; *m = mmask - rndn(3); break;             /* largest finite */
    case 9: *e = (emax >> 1) - 1; *m = mmask - rndn(3); break;      /* just below one */
    default: *e = emax >> 1; *m = 0; break;                         /* one */
    }
}

/* A value of the binary format with EBITS exponent and MBITS fraction bits. */
static uint64_t gen_fp(int ebits, int mbits)
{
    static const int int_tops[] = {0, 1, 2, 23, 24, 30, 31, 32, 52, 53, 62, 63, 64, 65};
    uint64_t sign = rnd() & 1, emax = (1ull << ebits) - 1, bias = emax >> 1;
    uint64_t mmask = (1ull << mbits) - 1;
    uint64_t e, m;
    switch (rndn(10)) {
    case 0:
        pick_special(emax, mbits, &e, &m);
        break;
    case 1: case 2: case 3: /* near 1, few fraction bits: exact results and ties */
        e = bias - 3 + rndn(7);
        m = rnd() & mmask & ~(mmask >> (1 + rndn(mbits)));
        if (rnd() & 1)
            m |= rnd() & 1;
        break;
    case 4: /* anything */
        e = rndn(emax + 1);
        m = rnd() & mmask;
        break;
    case 5: /* tiny: subnormal results and underflow, often just above them */
        e = rnd() & 1 ? rndn(5) : rndn(mbits / 2 + 3);
        m = rnd() & mmask;
        if (rnd() & 1)
            m &= ~(mmask >> rndn(mbits));
        break;
    case 6: /* huge: overflow */
        e = emax - 1 - rndn(mbits / 2 + 2);
        m = rnd() & mmask;
        break;
    case 7: case 8: /* integers and near-integers around the conversion limits */
        e = bias + int_tops[rndn(sizeof int_tops / sizeof int_tops[0])];
        m = rnd() & mmask;
        if (rnd() & 1)
            m &= ~(mmask >> (1 + rndn(mbits)));
        if (rnd() & 1)
            m = rnd() & 1 ? mmask : 0;
        break;
    default: /* small values with short fractions: x.5, x.25 */
        e = bias - 2 + rndn(5);
        m = rnd() & mmask & ~(mmask >> rndn(5));
        break;
    }
    return sign << (ebits + mbits) | (e & emax) << mbits | (m & mmask);
}

/* A 64-bit f register holding a single: mostly NaN-boxed, sometimes not. */
static uint64_t gen_s(void)
{
    uint64_t v = gen_fp(8, 23);
    switch (rndn(25)) {
    case 0: return v;
    case 1: return rnd();
    default: return 0xffffffff00000000 | v;
    }
}

static uint64_t gen_d(void)
{
    return gen_fp(11, 52);
}

/*
 * A power of two from 1/16 to 16, either sign, NaN-boxed if single.  Scaling
 * a value near the subnormal range by one gives exact ties; a quotient has
 * no others.
 */
static uint64_t gen_pow2(int single)
{
    uint64_t sign = rnd() & 1;
    int e = (int)rndn(9) - 4;
    if (single)
        return 0xffffffff00000000 | sign << 31 | (uint64_t)(127 + e) << 23;
    return sign << 63 | (uint64_t)(1023 + e) << 52;
}

/*
 * Factors whose product lies at the underflow threshold: a just above
 * 2^(emin+j), b just below 2^-j.  At a = 2^(emin+j), b = 2^-j(1 - 2^-p) the
 * product rounds up to the smallest normal yet is tiny, and must raise UF.
 */
static void gen_underflow_pair(int single, uint64_t *a, uint64_t *b)
{
    int ebits = single ? 8 : 11, mbits = single ? 23 : 52;
    uint64_t bias = (1ull << (ebits - 1)) - 1, mmask = (1ull << mbits) - 1;
    uint64_t j = rndn(4);
    *a = (rnd() & 1) << (ebits + mbits) | (1 + j) << mbits | rndn(4);
    *b = (rnd() & 1) << (ebits + mbits) | (bias - 1 - j) << mbits | (mmask - rndn(4));
    if (single) {
        *a |= 0xffffffff00000000;
        *b |= 0xffffffff00000000;
    }
}

/* An integer source: limits, 32-bit values, or few significant bits (ties). */
static uint64_t gen_x(void)
{
    static const uint64_t specials[] = {
        0, 1, 0xffffffffffffffff, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
        0xffffffff80000000, 0x7fffffffffffffff, 0x8000000000000000, 0x1000001, 0x1000003,
        0x20000000000001, 0x20000000000003, 0xfffffffffeffffff,
    };
    switch (rndn(5)) {
    case 0: return specials[rndn(sizeof specials / sizeof specials[0])];
    case 1: return rnd();
    case 2: return (uint64_t)(int64_t)(int32_t)rnd();
    default: {
        uint64_t m = (rnd() & ((1ull << (20 + rndn(40))) - 1)) | 1;
        m <<= rndn(10);
        return rnd() & 1 ? m : 0 - m;
    }
    }
}

/* ---- The instructions ---- */

/*
 * Operand shapes, destination first: F is an f register, X an integer one.
 * The destination is ft3 or t0, the f sources ft0..ft2, the integer source t1.
 */
enum shape { SHAPE_FFF, SHAPE_FF, SHAPE_FFFF, SHAPE_XFF, SHAPE_XF, SHAPE_FX };
#define OPERANDS_FFF "ft3, ft0, ft1"
#define OPERANDS_FF "ft3, ft0"
#define OPERANDS_FFFF "ft3, ft0, ft1, ft2"
#define OPERANDS_XFF "t0, ft0, ft1"
#define OPERANDS_XF "t0, ft0"
#define OPERANDS_FX "ft3, t1"
static const int shape_sources[] = {2, 1, 3, 2, 1, 1};
static const int shape_x_dest[] = {0, 0, 0, 1, 1, 0};

/*
 * Instructions with a rounding mode: X(NAME, mnemonic, shape).  The source
 * format of an instruction is the last letter of its NAME (W and L are
 * integers, whose shape is FX).
 */
#define RM_OPS(X)                                                              \
    X(FADD_S, "fadd.s", FFF) X(FSUB_S, "fsub.s", FFF)                          \
    X(FMUL_S, "fmul.s", FFF) X(FDIV_S, "fdiv.s", FFF)                          \
    X(FADD_D, "fadd.d", FFF) X(FSUB_D, "fsub.d", FFF)                          \
    X(FMUL_D, "fmul.d", FFF) X(FDIV_D, "fdiv.d", FFF)                          \
    X(FSQRT_S, "fsqrt.s", FF) X(FSQRT_D, "fsqrt.d", FF)                        \
    X(FMADD_S, "fmadd.s", FFFF) X(FMSUB_S, "fmsub.s", FFFF)                    \
    X(FNMSUB_S, "fnmsub.s", FFFF) X(FNMADD_S, "fnmadd.s", FFFF)                \
    X(FMADD_D, "fmadd.d", FFFF) X(FMSUB_D, "fmsub.d", FFFF)                    \
    X(FNMSUB_D, "fnmsub.d", FFFF) X(FNMADD_D, "fnmadd.d", FFFF)                \
    X(FCVT_W_S, "fcvt.w.s", XF) X(FCVT_WU_S, "fcvt.wu.s", XF)                  \
    X(FCVT_L_S, "fcvt.l.s", XF) X(FCVT_LU_S, "fcvt.lu.s", XF)                  \
    X(FCVT_W_D, "fcvt.w.d", XF) X(FCVT_WU_D, "fcvt.wu.d", XF)                  \
    X(FCVT_L_D, "fcvt.l.d", XF) X(FCVT_LU_D, "fcvt.lu.d", XF)                  \
    X(FCVT_S_W, "fcvt.s.w", FX) X(FCVT_S_WU, "fcvt.s.wu", FX)                  \
    X(FCVT_S_L, "fcvt.s.l", FX) X(FCVT_S_LU, "fcvt.s.lu", FX)                  \
    X(FCVT_D_L, "fcvt.d.l", FX) X(FCVT_D_LU, "fcvt.d.lu", FX)                  \
    X(FCVT_S_D, "fcvt.s.d", FF)

/*
 * Exact conversions, whose rm field the assembler refuses although the ISA
 * defines it: X(NAME, funct7, rs2, shape), encoded with .insn.
 */
#define RM_ENCODED_OPS(X)                                                      \
    X(FCVT_D_W, "0x69", "x0", FX) X(FCVT_D_WU, "0x69", "x1", FX)               \
    X(FCVT_D_S, "0x21", "f0", FF)

/* Instructions without a rounding mode: X(NAME, mnemonic, shape). */
#define PLAIN_OPS(X)                                                           \
    X(FSGNJ_S, "fsgnj.s", FFF) X(FSGNJN_S, "fsgnjn.s", FFF)                    \
    X(FSGNJX_S, "fsgnjx.s", FFF) X(FSGNJ_D, "fsgnj.d", FFF)                    \
    X(FSGNJN_D, "fsgnjn.d", FFF) X(FSGNJX_D, "fsgnjx.d", FFF)                  \
    X(FMIN_S, "fmin.s", FFF) X(FMAX_S, "fmax.s", FFF)                          \
    X(FMIN_D, "fmin.d", FFF) X(FMAX_D, "fmax.d", FFF)                          \
    X(FEQ_S, "feq.s", XFF) X(FLT_S, "flt.s", XFF) X(FLE_S, "fle.s", XFF)       \
    X(FEQ_D, "feq.d", XFF) X(FLT_D, "flt.d", XFF) X(FLE_D, "fle.d", XFF)       \
    X(FCLASS_S, "fclass.s", XF) X(FCLASS_D, "fclass.d", XF)                    \
    X(FMV_X_W, "fmv.x.w", XF) X(FMV_X_D, "fmv.x.d", XF)                        \
    X(FMV_W_X, "fmv.w.x", FX) X(FMV_D_X, "fmv.d.x", FX)

/* X(..., name, rm field): the static rounding modes, then dyn. */
#define ROUNDING_MODES(X, ...)                                                 \
    X(__VA_ARGS__, rne, 0) X(__VA_ARGS__, rtz, 1) X(__VA_ARGS__, rdn, 2)       \
    X(__VA_ARGS__, rup, 3) X(__VA_ARGS__, rmm, 4) X(__VA_ARGS__, dyn, 7)
#define RM_DYN 7
#define RM_NONE (-1)

typedef struct {
    uint64_t a, b, c; /* a is both ft0 and t1 */
    uint64_t frm;
    uint64_t flags_in;
} fp_case_t;

typedef struct {
    uint64_t x, f; /* t0 and ft3 afterwards */
    uint64_t flags;
} fp_result_t;

typedef fp_result_t (*fp_fn_t)(const fp_case_t *in);

/*
 * One instruction: sets frm and fflags, fills t0 and ft3 with markers and
 * the sources with the operands, runs TEXT and reads t0, ft3 and fflags.
 */
#define DEF_FN(name, rm, text)                                                 \
    static fp_result_t name##_##rm(const fp_case_t *in)                        \
    {                                                                          \
        fp_result_t o;                                                         \
        __asm__ volatile("fsrm %[frm]\n fsflags %[fin]\n li t0, 0x5555\n"      \
                         "fmv.d.x ft3, zero\n mv t1, %[a]\n fmv.d.x ft0, %[a]\n" \
                         "fmv.d.x ft1, %[b]\n fmv.d.x ft2, %[c]\n" text "\n"   \
                         "frflags %[fl]\n mv %[x], t0\n fmv.x.d %[f], ft3"     \
                         : [x] "=&r"(o.x), [f] "=&r"(o.f), [fl] "=&r"(o.flags) \
                         : [a] "r"(in->a), [b] "r"(in->b), [c] "r"(in->c),     \
                           [frm] "r"(in->frm), [fin] "r"(in->flags_in)         \
                         : "t0", "t1", "ft0", "ft1", "ft2", "ft3");            \
        return o;                                                              \
    }
#define DEF_RM_FN(name, insn, shape, rm, field)                                \
    DEF_FN(name, rm, insn " " OPERANDS_##shape ", " #rm)
#define DEF_RM_OP(name, insn, shape) ROUNDING_MODES(DEF_RM_FN, name, insn, shape)
#define DEF_ENCODED_FN(name, funct7, rs2, shape, rm, field)                    \
    DEF_FN(name, rm, ".insn r 0x53, " #field ", " funct7 ", " OPERANDS_##shape ", " rs2)
#define DEF_ENCODED_OP(name, funct7, rs2, shape)                               \
    ROUNDING_MODES(DEF_ENCODED_FN, name, funct7, rs2, shape)
#define DEF_PLAIN_OP(name, insn, shape) DEF_FN(name, none, insn " " OPERANDS_##shape)
RM_OPS(DEF_RM_OP)
RM_ENCODED_OPS(DEF_ENCODED_OP)
PLAIN_OPS(DEF_PLAIN_OP)

typedef struct {
    const char *name;
    enum shape shape;
    int rm; /* the rm field: 0..4, RM_DYN or RM_NONE */
    fp_fn_t fn;
} fp_op_t;

#define RM_ENTRY(name, shape, rm, field) {#name, SHAPE_##shape, field, name##_##rm},
#define RM_OP_ENTRIES(name, insn, shape) ROUNDING_MODES(RM_ENTRY, name, shape)
#define ENCODED_OP_ENTRIES(name, funct7, rs2, shape) ROUNDING_MODES(RM_ENTRY, name, shape)
#define PLAIN_OP_ENTRY(name, insn, shape) {#name, SHAPE_##shape, RM_NONE, name##_none},
static const fp_op_t ops[] = {
    RM_OPS(RM_OP_ENTRIES) RM_ENCODED_OPS(ENCODED_OP_ENTRIES) PLAIN_OPS(PLAIN_OP_ENTRY)
};
#define NOPS (sizeof ops / sizeof ops[0])

/* ---- Running and reporting ---- */

static const char *const rm_names[] = {"rne", "rtz", "rdn", "rup", "rmm"};

/* Results are grouped by op and, for rm=dyn, by frm: group op * 5 + frm. */
#define NGROUPS (NOPS * 5)

typedef struct {
    long count;
    uint64_t hash;
    fp_case_t first;
    fp_result_t first_result;
} fp_group_t;

static fp_group_t groups[NGROUPS];

/* Mixes V into hash H (a multiply-xorshift step, as in MurmurHash3's finalizer). */
static uint64_t hash_mix(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0xff51afd7ed558ccd;
    return h ^ h >> 33;
}

/* Draws the operands of OP: the source format is the last letter of its name. */
static void gen_case(const fp_op_t *op, fp_case_t *in)
{
    if (op->shape == SHAPE_FX) {
        in->a = gen_x();
        in->b = in->c = 0;
    } else {
        uint64_t (*gen)(void) = op->name[strlen(op->name) - 1] == 'D' ? gen_d : gen_s;
        uint64_t sign_bit = gen == gen_d ? 1ull << 63 : 1ull << 31;
        in->a = gen();
        in->c = gen();
        switch (rndn(16)) {
        case 0: case 1: in->b = in->a; break;
        case 2: in->b = in->a ^ sign_bit; break; /* x - x: a zero signed per rm */
        case 3: case 4: in->b = gen_pow2(gen == gen_s); break;
        case 5: /* signed zeros: fmin(-0, +0), -0 + +0 */
            in->a = rnd() & 1 ? sign_bit : 0;
            in->b = rnd() & 1 ? sign_bit : 0;
            if (gen == gen_s) {
                in->a |= 0xffffffff00000000;
                in->b |= 0xffffffff00000000;
            }
            break;
        case 6: gen_underflow_pair(gen == gen_s, &in->a, &in->b); break;
        default: in->b = gen(); break;
        }
        /* Cancellation: the addend of a fused op is near minus the product. */
        if (op->shape == SHAPE_FFFF && rndn(3) == 0)
            in->c = in->a ^ sign_bit;
    }
    in->frm = op->rm == RM_DYN ? rndn(5) : rndn(8);
    in->flags_in = rndn(3) ? 1 : rndn(32);
}

static uint64_t result_value(const fp_op_t *op, const fp_result_t *out)
{
    return shape_x_dest[op->shape] ? out->x : out->f;
}

/* Prints the operands, frm and fflags of one case and what it gave. */
static void print_case(const fp_op_t *op, const fp_case_t *in, const fp_result_t *out)
{
    const uint64_t src[] = {in->a, in->b, in->c};
    for (int i = 0; i < shape_sources[op->shape]; i++)
        printf(" %016" PRIx64, src[i]);
    printf(" frm=%" PRIu64 " fflags=%02" PRIx64 " -> %016" PRIx64 " fflags=%02" PRIx64 "\n",
           in->frm, in->flags_in, result_value(op, out), out->flags);
}

/* The group of a case: instruction and rounding mode, padded to one width. */
static void print_group_name(const fp_op_t *op, uint64_t frm)
{
    if (op->rm == RM_NONE)
        printf("%-9s -      ", op->name);
    else if (op->rm == RM_DYN)
        printf("%-9s dyn/%s", op->name, rm_names[frm]);
    else
        printf("%-9s %s    ", op->name, rm_names[op->rm]);
}

static void run_case(const fp_op_t *op, const char *show)
{
    fp_case_t in;
    gen_case(op, &in);
    fp_result_t out = op->fn(&in);
    fp_group_t *g = &groups[(size_t)(op - ops) * 5 + (op->rm == RM_DYN ? in.frm : 0)];
    if (g->count++ == 0) {
        g->first = in;
        g->first_result = out;
    }
    const uint64_t facts[] = {in.a, in.b, in.c, in.frm, in.flags_in,
                              result_value(op, &out), out.flags};
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        g->hash = hash_mix(g->hash, facts[i]);
    if (show && (strcmp(show, "all") == 0 || strcmp(show, op->name) == 0)) {
        print_group_name(op, in.frm);
        print_case(op, &in, &out);
    }
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    if (argc > 2)
        rng_state = strtoull(argv[2], NULL, 0);
    const char *show = argc > 3 ? argv[3] : NULL;
    printf("fprand: %ld cases, seed 0x%016" PRIx64 "\n", count, rng_state);
    for (long i = 0; i < count; i++)
        run_case(&ops[rndn(NOPS)], show);
    for (size_t k = 0; k < NGROUPS; k++) {
        const fp_group_t *g = &groups[k];
        if (g->count == 0)
            continue;
        const fp_op_t *op = &ops[k / 5];
        print_group_name(op, k % 5);
        printf(" n=%-5ld hash=%016" PRIx64 " first:", g->count, g->hash);
        print_case(op, &g->first, &g->first_result);
    }
    return 0;
}
