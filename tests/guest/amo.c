/*
 * amo.c - the A extension on one hart: every AMO in .w and .d form with each
 * ordering suffix, LR/SC success and failure, sign extension of the 32-bit
 * results, and the faults a misaligned or unmapped atomic raises.
 * threads.c covers atomics that contend across harts.
 */
#include "guest_test.h"

#include <setjmp.h>
#include <signal.h>

static const uint64_t vals[] = {
    0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x8000000000000000,
    0x7fffffffffffffff, 0xffffffffffffffff, 0x123456789abcdef0,
};
#define NVALS (sizeof vals / sizeof vals[0])

#define AMO_OPS(X)                                                             \
    X(amoswap) X(amoadd) X(amoxor) X(amoand) X(amoor)                          \
    X(amomin) X(amomax) X(amominu) X(amomaxu)

/* The ordering suffixes: X(token, text). */
#define ORDERS(X, op, w) X(op, w, plain, "") X(op, w, aq, ".aq") X(op, w, rl, ".rl") X(op, w, aqrl, ".aqrl")

#define DEF_AMO_ORDER(op, w, tok, sfx)                                         \
    static uint64_t op##_##w##_##tok(void *mem, uint64_t src)                  \
    {                                                                          \
        uint64_t r;                                                            \
        __asm__ volatile(#op "." #w sfx " %0, %2, (%1)"                        \
                         : "=&r"(r) : "r"(mem), "r"(src) : "memory");          \
        return r;                                                              \
    }
#define DEF_AMO(op) ORDERS(DEF_AMO_ORDER, op, w) ORDERS(DEF_AMO_ORDER, op, d)
AMO_OPS(DEF_AMO)

static const struct {
    const char *name;
    int is_word;
    uint64_t (*fn)(void *, uint64_t);
} amo_table[] = {
#define AMO_ENTRY_ORDER(op, w, tok, sfx) {#op "." #w sfx, #w[0] == 'w', op##_##w##_##tok},
#define AMO_ENTRY(op) ORDERS(AMO_ENTRY_ORDER, op, w) ORDERS(AMO_ENTRY_ORDER, op, d)
    AMO_OPS(AMO_ENTRY)
};

/*
 * Each AMO runs on the middle of three 64-bit words, so a .w form that
 * writes past its word shows in the neighbours.  The .w forms also run on
 * the upper half of the middle word.
 */
static void test_amos(void)
{
    static uint64_t mem[3];
    for (size_t op = 0; op < sizeof amo_table / sizeof amo_table[0]; op++)
        for (size_t i = 0; i < NVALS; i++)
            for (size_t j = 0; j < NVALS; j++) {
                mem[0] = mem[2] = 0x5a5a5a5a5a5a5a5a;
                mem[1] = vals[i];
                uint64_t old = amo_table[op].fn(&mem[1], vals[j]);
                printf("%s mem=%" PRIx64 " src=%" PRIx64 ": rd=%" PRIx64 " mem=%" PRIx64
                       " guards=%d\n", amo_table[op].name, vals[i], vals[j], old, mem[1],
                       mem[0] == 0x5a5a5a5a5a5a5a5a && mem[2] == 0x5a5a5a5a5a5a5a5a);
                if (amo_table[op].is_word && j == 3) {
                    mem[1] = vals[i] << 32 | 0x11111111;
                    old = amo_table[op].fn((char *)&mem[1] + 4, 0x80000001);
                    printf("%s high half mem=%" PRIx64 " src=80000001: rd=%" PRIx64 " mem=%" PRIx64 "\n",
                           amo_table[op].name, vals[i] << 32 | 0x11111111, old, mem[1]);
                }
            }
}

static void test_amo_register_overlap(void)
{
    static uint64_t mem = 40;
    uint64_t r = 2;
    /* rd == rs2: the old value lands in rd after rs2 was read. */
    __asm__ volatile("amoadd.d %0, %0, (%1)" : "+r"(r) : "r"(&mem) : "memory");
    printf("amoadd rd==rs2: rd=%" PRIu64 " mem=%" PRIu64 "\n", r, mem);
    /* rd == x0 still performs the write. */
    __asm__ volatile("amoswap.d x0, %1, (%0)" : : "r"(&mem), "r"((uint64_t)7) : "memory");
    printf("amoswap rd=x0: mem=%" PRIu64 "\n", mem);
}

#define LR(insn, addr)                                                         \
    ({                                                                         \
        uint64_t v_;                                                           \
        __asm__ volatile(insn " %0, (%1)" : "=r"(v_) : "r"(addr) : "memory");  \
        v_;                                                                    \
    })
#define SC(insn, addr, val)                                                    \
    ({                                                                         \
        uint64_t r_;                                                           \
        __asm__ volatile(insn " %0, %2, (%1)" : "=&r"(r_) : "r"(addr), "r"(val) : "memory"); \
        r_;                                                                    \
    })

static void test_lr_sc(void)
{
    static uint64_t a[2], b[2];
    uint64_t v, r;

    a[0] = 0x1122334455667788;
    v = LR("lr.d", &a[0]);
    r = SC("sc.d", &a[0], 0xaaaa);
    printf("lr.d/sc.d: loaded=%" PRIx64 " sc=%" PRIx64 " mem=%" PRIx64 "\n", v, r, a[0]);

    r = SC("sc.d", &a[0], 0xbbbb);
    printf("sc.d with no reservation: sc=%" PRIx64 " mem=%" PRIx64 "\n", r, a[0]);

    b[0] = 5;
    v = LR("lr.d", &a[0]);
    r = SC("sc.d", &b[0], 6);
    printf("sc.d to another address: sc=%" PRIx64 " mem=%" PRIx64 "\n", r, b[0]);
    r = SC("sc.d", &a[0], 0xcccc);
    printf("sc.d after failed sc: sc=%" PRIx64 " mem=%" PRIx64 "\n", r, a[0]);

    v = LR("lr.d", &a[0]);
    a[0] = 0x4242;
    __asm__ volatile("" ::: "memory");
    r = SC("sc.d", &a[0], 0xdddd);
    printf("sc.d after a store of a new value: sc=%" PRIx64 " mem=%" PRIx64 "\n", r, a[0]);

    a[0] = 0xffffffff80000001;
    a[1] = 0x0123456789abcdef;
    v = LR("lr.w", &a[0]);
    r = SC("sc.w", &a[0], 0xfedcba9876543210);
    printf("lr.w/sc.w: loaded=%" PRIx64 " sc=%" PRIx64 " mem=%" PRIx64 " next=%" PRIx64 "\n",
           v, r, a[0], a[1]);
    v = LR("lr.w", (char *)&a[0] + 4);
    r = SC("sc.w", (char *)&a[0] + 4, 0x7fffffff);
    printf("lr.w/sc.w high half: loaded=%" PRIx64 " sc=%" PRIx64 " mem=%" PRIx64 "\n", v, r, a[0]);

    v = LR("lr.d.aq", &a[1]);
    r = SC("sc.d.rl", &a[1], 1);
    printf("lr.d.aq/sc.d.rl: loaded=%" PRIx64 " sc=%" PRIx64 " mem=%" PRIx64 "\n", v, r, a[1]);
    v = LR("lr.d.aqrl", &a[1]);
    r = SC("sc.d.aqrl", &a[1], 2);
    printf("lr.d.aqrl/sc.d.aqrl: loaded=%" PRIx64 " sc=%" PRIx64 " mem=%" PRIx64 "\n", v, r, a[1]);
    v = LR("lr.w.aq", &a[1]);
    r = SC("sc.w.rl", &a[1], 3);
    printf("lr.w.aq/sc.w.rl: loaded=%" PRIx64 " sc=%" PRIx64 " mem=%" PRIx64 "\n", v, r, a[1]);

    /* A compare-and-swap loop as the compiler emits it. */
    uint64_t expected = 2, counter = 2;
    int ok = __atomic_compare_exchange_n(&counter, &expected, 9, 0, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
    printf("cas hit: ok=%d counter=%" PRIu64 "\n", ok, counter);
    expected = 3;
    ok = __atomic_compare_exchange_n(&counter, &expected, 10, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST);
    printf("cas miss: ok=%d counter=%" PRIu64 " expected=%" PRIu64 "\n", ok, counter, expected);
    uint32_t small = 0xfffffff0;
    uint32_t prev = __atomic_fetch_add(&small, 0x20, __ATOMIC_RELAXED);
    printf("fetch_add u32: prev=%" PRIx32 " now=%" PRIx32 "\n", prev, small);
}

static sigjmp_buf fault_jump;

static void on_fault(int sig, siginfo_t *info, void *uc)
{
    printf("  caught signal %s code %d\n", sigabbrev_np(sig), info->si_code);
    siglongjmp(fault_jump, 1);
}

/* Misaligned atomics fault with SIGBUS (BUS_ADRALN); unmapped ones SIGSEGV. */
static void test_faults(void)
{
    static uint64_t mem[2];
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    uint64_t r = 1;
    char *odd = (char *)mem + 2;

    puts("lr.w misaligned:");
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("lr.w %0, (%1)" : "=r"(r) : "r"(odd) : "memory");
    puts("lr.d misaligned by 4:");
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("lr.d %0, (%1)" : "=r"(r) : "r"((char *)mem + 4) : "memory");
    puts("amoadd.w misaligned:");
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("amoadd.w %0, %0, (%1)" : "+r"(r) : "r"(odd) : "memory");
    puts("amoswap.d misaligned by 4:");
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("amoswap.d %0, %0, (%1)" : "+r"(r) : "r"((char *)mem + 4) : "memory");
    printf("memory untouched: %d\n", mem[0] == 0 && mem[1] == 0);
    puts("amoadd.d at NULL:");
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("amoadd.d %0, %0, (%1)" : "+r"(r) : "r"(0) : "memory");
    puts("lr.d at NULL:");
    if (!sigsetjmp(fault_jump, 1))
        __asm__ volatile("lr.d %0, (%1)" : "=r"(r) : "r"(0) : "memory");
}

int main(void)
{
    test_amos();
    test_amo_register_overlap();
    test_lr_sc();
    test_faults();
    return 0;
}
