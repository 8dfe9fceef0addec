/*
 * rv64m.c - the M extension: multiply, divide and remainder, 64-bit and W
 * forms, over operand pairs that include division by zero and the signed
 * overflow INT_MIN / -1 (RISC-V defines both results; neither traps).
 */
#include "guest_test.h"

static const uint64_t vals[] = {
    0, 1, 2, 3, 7, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
    0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000001,
    0xfffffffffffffffe, 0xffffffffffffffff, 0xffffffff80000000,
    0x123456789abcdef0, 0xfedcba9876543210, 0x5555555580000001,
    0xdeadbeefcafebabe,
};
#define NVALS (sizeof vals / sizeof vals[0])

#define M_OPS(X)                                                               \
    X(mul) X(mulh) X(mulhsu) X(mulhu) X(div) X(divu) X(rem) X(remu)            \
    X(mulw) X(divw) X(divuw) X(remw) X(remuw)

#define DEF_M(op)                                                              \
    static uint64_t m_##op(uint64_t a, uint64_t b)                             \
    {                                                                          \
        uint64_t r;                                                            \
        __asm__ volatile(#op " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));        \
        return r;                                                              \
    }
M_OPS(DEF_M)

static const struct {
    const char *name;
    uint64_t (*fn)(uint64_t, uint64_t);
} m_table[] = {
#define M_ENTRY(op) {#op, m_##op},
    M_OPS(M_ENTRY)
};

/*
 * The recommended fused sequences (mulh+mul, div+rem on the same operands)
 * must give the same results as the instructions alone, even when the
 * destination overlaps a source.
 */
static void test_fused_sequences(void)
{
    for (size_t i = 0; i < NVALS; i++)
        for (size_t j = 0; j < NVALS; j++) {
            uint64_t hi, lo, q, r;
            __asm__ volatile("mulh %0, %2, %3\n mul %1, %2, %3"
                             : "=&r"(hi), "=&r"(lo) : "r"(vals[i]), "r"(vals[j]));
            __asm__ volatile("div %0, %2, %3\n rem %1, %2, %3"
                             : "=&r"(q), "=&r"(r) : "r"(vals[i]), "r"(vals[j]));
            printf("pair %" PRIx64 " %" PRIx64 ": hi=%" PRIx64 " lo=%" PRIx64
                   " q=%" PRIx64 " r=%" PRIx64 "\n", vals[i], vals[j], hi, lo, q, r);
        }
    uint64_t a = 0x123456789, b = 0x1000;
    __asm__ volatile("divu %0, %0, %1" : "+r"(a) : "r"(b));
    printf("divu in place = %" PRIx64 "\n", a);
    a = 0xfffffffffffffff9;
    __asm__ volatile("mul %0, %0, %0" : "+r"(a));
    printf("mul square in place = %" PRIx64 "\n", a);
}

int main(void)
{
    for (size_t op = 0; op < sizeof m_table / sizeof m_table[0]; op++)
        for (size_t i = 0; i < NVALS; i++)
            for (size_t j = 0; j < NVALS; j++)
                printf("%s %" PRIx64 " %" PRIx64 " = %" PRIx64 "\n", m_table[op].name,
                       vals[i], vals[j], m_table[op].fn(vals[i], vals[j]));
    test_fused_sequences();
    return 0;
}
