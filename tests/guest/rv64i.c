/*
 * rv64i.c - the RV64I base integer instructions, one result per line.
 *
 * Every instruction is reached through inline assembly with compression off,
 * so each line tests the 32-bit encoding named on it (rvc.S covers the
 * compressed forms).  Operands are the usual edges: 0, +-1, the 32- and
 * 64-bit sign boundaries, and shift amounts at and past the width.
 */
#include "guest_test.h"

#include <stdlib.h>
#include <sys/mman.h>

#define NORVC(body) ".option push\n.option norvc\n" body "\n.option pop\n"

static const uint64_t vals[] = {
    0, 1, 2, 31, 32, 33, 63, 64, 65, 0x7f, 0x80, 0xfff,
    0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
    0x7fffffffffffffff, 0x8000000000000000, 0xfffffffffffffffe,
    0xffffffffffffffff, 0x123456789abcdef0, 0xfedcba9876543210,
    0x5555555580000001,
};
#define NVALS (sizeof vals / sizeof vals[0])

/* Register-register operations: X(mnemonic). */
#define RR_OPS(X)                                                              \
    X(add) X(sub) X(sll) X(slt) X(sltu) X(xor) X(srl) X(sra) X(or) X(and)      \
    X(addw) X(subw) X(sllw) X(srlw) X(sraw)

#define DEF_RR(op)                                                             \
    static uint64_t rr_##op(uint64_t a, uint64_t b)                            \
    {                                                                          \
        uint64_t r;                                                            \
        __asm__ volatile(NORVC(#op " %0, %1, %2") : "=r"(r) : "r"(a), "r"(b)); \
        return r;                                                              \
    }
RR_OPS(DEF_RR)

static const struct {
    const char *name;
    uint64_t (*fn)(uint64_t, uint64_t);
} rr_table[] = {
#define RR_ENTRY(op) {#op, rr_##op},
    RR_OPS(RR_ENTRY)
};

static void test_register_ops(void)
{
    for (size_t op = 0; op < sizeof rr_table / sizeof rr_table[0]; op++)
        for (size_t i = 0; i < NVALS; i++)
            for (size_t j = 0; j < NVALS; j++)
                printf("%s %" PRIx64 " %" PRIx64 " = %" PRIx64 "\n", rr_table[op].name,
                       vals[i], vals[j], rr_table[op].fn(vals[i], vals[j]));
}

/* Register-immediate operations: X(mnemonic, immediate). */
#define IMM_OPS(X)                                                             \
    X(addi, 0) X(addi, 1) X(addi, -1) X(addi, 2047) X(addi, -2048)             \
    X(slti, 0) X(slti, 1) X(slti, -1) X(slti, 2047) X(slti, -2048)             \
    X(sltiu, 0) X(sltiu, 1) X(sltiu, -1) X(sltiu, 2047) X(sltiu, -2048)        \
    X(xori, 0) X(xori, -1) X(xori, 0x555) X(xori, -2048)                       \
    X(ori, 0) X(ori, -1) X(ori, 0x555) X(ori, -2048)                           \
    X(andi, 0) X(andi, -1) X(andi, 0x555) X(andi, -2048)                       \
    X(slli, 0) X(slli, 1) X(slli, 31) X(slli, 32) X(slli, 63)                  \
    X(srli, 0) X(srli, 1) X(srli, 31) X(srli, 32) X(srli, 63)                  \
    X(srai, 0) X(srai, 1) X(srai, 31) X(srai, 32) X(srai, 63)                  \
    X(addiw, 0) X(addiw, 1) X(addiw, -1) X(addiw, 2047) X(addiw, -2048)        \
    X(slliw, 0) X(slliw, 1) X(slliw, 31)                                       \
    X(srliw, 0) X(srliw, 1) X(srliw, 31)                                       \
    X(sraiw, 0) X(sraiw, 1) X(sraiw, 31)

static const char *const imm_names[] = {
#define IMM_NAME(op, imm) #op " " #imm,
    IMM_OPS(IMM_NAME)
};

static uint64_t run_imm(size_t which, uint64_t a)
{
    uint64_t r = 0;
    size_t n = 0;
#define IMM_RUN(op, imm)                                                       \
    if (which == n++)                                                          \
        __asm__ volatile(NORVC(#op " %0, %1, " #imm) : "=r"(r) : "r"(a));
    IMM_OPS(IMM_RUN)
    return r;
}

static void test_immediate_ops(void)
{
    for (size_t op = 0; op < sizeof imm_names / sizeof imm_names[0]; op++)
        for (size_t i = 0; i < NVALS; i++)
            printf("%s %" PRIx64 " = %" PRIx64 "\n", imm_names[op], vals[i],
                   run_imm(op, vals[i]));
}

#define LUI(imm)                                                               \
    do {                                                                       \
        uint64_t r;                                                            \
        __asm__ volatile(NORVC("lui %0, " #imm) : "=r"(r));                    \
        printf("lui " #imm " = %" PRIx64 "\n", r);                             \
    } while (0)

/* auipc's result minus its own address: the immediate, sign-extended. */
#define AUIPC(imm)                                                             \
    do {                                                                       \
        uint64_t r, pc;                                                        \
        __asm__ volatile(NORVC("1: auipc %0, " #imm "\n lla %1, 1b")           \
                         : "=r"(r), "=r"(pc));                                 \
        printf("auipc " #imm " - pc = %" PRIx64 "\n", r - pc);                 \
    } while (0)

static void test_upper_immediates(void)
{
    LUI(0);
    LUI(1);
    LUI(0x7ffff);
    LUI(0x80000);
    LUI(0xfffff);
    LUI(0x12345);
    AUIPC(0);
    AUIPC(1);
    AUIPC(0x7ffff);
    AUIPC(0x80000);
    AUIPC(0xfffff);
}

/* Sets one bit of the result per branch that was taken. */
static unsigned branches(uint64_t a, uint64_t b)
{
    unsigned taken = 0;
#define BR(insn, bit)                                                          \
    __asm__ volatile(NORVC(insn " %1, %2, 1f\n j 2f\n1: ori %0, %0, " #bit "\n2:") \
                     : "+r"(taken) : "r"(a), "r"(b));
    BR("beq", 1)
    BR("bne", 2)
    BR("blt", 4)
    BR("bge", 8)
    BR("bltu", 16)
    BR("bgeu", 32)
    return taken;
}

static void test_branches(void)
{
    for (size_t i = 0; i < NVALS; i++)
        for (size_t j = 0; j < NVALS; j++) {
            unsigned t = branches(vals[i], vals[j]);
            printf("branch %" PRIx64 " %" PRIx64 ": beq=%u bne=%u blt=%u bge=%u bltu=%u bgeu=%u\n",
                   vals[i], vals[j], t & 1, t >> 1 & 1, t >> 2 & 1, t >> 3 & 1,
                   t >> 4 & 1, t >> 5 & 1);
        }
}

static void test_jumps(void)
{
    uint64_t link, expect, step = 0;

    /* jal: the link register holds the address after the jal. */
    __asm__ volatile(NORVC("jal %0, 1f\n2: li %2, 99\n1: lla %1, 2b")
                     : "=r"(link), "=r"(expect), "+r"(step));
    printf("jal link ok: %d, skipped: %d\n", link == expect, step == 0);

    /* jalr clears bit 0 of the target. */
    __asm__ volatile(NORVC("lla t0, 1f\n addi t0, t0, 1\n jalr %0, 0(t0)\n"
                           "2: li %2, 99\n1: lla %1, 2b")
                     : "=r"(link), "=r"(expect), "+r"(step) : : "t0");
    printf("jalr odd target ok: %d, skipped: %d\n", link == expect, step == 0);

    /* jalr with rd == rs1 jumps to the old value. */
    __asm__ volatile(NORVC("lla t0, 1f\n jalr t0, 0(t0)\n2: li %2, 99\n"
                           "1: lla %1, 2b\n mv %0, t0")
                     : "=r"(link), "=r"(expect), "+r"(step) : : "t0");
    printf("jalr rd==rs1 ok: %d, skipped: %d\n", link == expect, step == 0);

    /* jalr with a negative offset, and a backward jal. */
    __asm__ volatile(NORVC("j 3f\n1: li %0, 7\n j 4f\n3: lla t0, 1b+16\n"
                           " jalr x0, -16(t0)\n li %0, 99\n4: jal x0, 5f\n"
                           "6: li %0, 8\n j 7f\n5: jal x0, 6b\n7:")
                     : "+r"(step) : : "t0");
    printf("negative offsets: %" PRIu64 "\n", step);

    /* A call and return through ra, and jalr to a target 2 mod 4. */
    __asm__ volatile(NORVC("li %0, 0\n lla t0, 1f\n jalr ra, t0\n j 2f\n"
                           ".balign 4\n.option push\n.option rvc\n c.nop\n"
                           "1: c.addi %0, 5\n.option pop\n ret\n2:")
                     : "=&r"(step) : : "t0", "ra");
    printf("call to 2-mod-4 target: %" PRIu64 "\n", step);
}

static void test_x0(void)
{
    uint64_t r;
    __asm__ volatile(NORVC("addi x0, x0, 5\n lui x0, 0x12345\n mv %0, x0") : "=r"(r));
    printf("x0 after writes = %" PRIx64 "\n", r);
    uint64_t word = 0x1234;
    __asm__ volatile(NORVC("ld x0, 0(%1)\n add %0, x0, x0") : "=r"(r) : "r"(&word));
    printf("x0 after load = %" PRIx64 "\n", r);
    /* Hints and fences execute as no-ops. */
    __asm__ volatile(NORVC("fence\n fence rw, rw\n fence.tso\n fence r, w\n"
                           " slti x0, x0, 1\n addi x0, x1, 3\n nop"));
    puts("fences and hints: done");
}

#define LOAD(insn, type, p)                                                    \
    ({                                                                         \
        type r_;                                                               \
        __asm__ volatile(NORVC(insn " %0, 0(%1)") : "=r"(r_) : "r"(p) : "memory"); \
        r_;                                                                    \
    })

static void print_loads(const uint8_t *base, size_t off)
{
    const uint8_t *p = base + off;
    printf("load +%zu: lb=%" PRIx64 " lbu=%" PRIx64 " lh=%" PRIx64 " lhu=%" PRIx64
           " lw=%" PRIx64 " lwu=%" PRIx64 " ld=%" PRIx64 "\n",
           off, LOAD("lb", uint64_t, p), LOAD("lbu", uint64_t, p), LOAD("lh", uint64_t, p),
           LOAD("lhu", uint64_t, p), LOAD("lw", uint64_t, p), LOAD("lwu", uint64_t, p),
           LOAD("ld", uint64_t, p));
}

static void print_bytes(const char *what, const uint8_t *p, size_t n)
{
    printf("%s:", what);
    for (size_t i = 0; i < n; i++)
        printf(" %02x", p[i]);
    printf("\n");
}

static void stores_at(uint8_t *p, size_t off, const char *tag)
{
    const uint64_t v = 0x8877665544332211;
    char what[64];
    memset(p, 0, 16);
    __asm__ volatile(NORVC("sb %0, 0(%1)") : : "r"(v), "r"(p + off) : "memory");
    snprintf(what, sizeof what, "%s sb +%zu", tag, off);
    print_bytes(what, p, 16);
    memset(p, 0, 16);
    __asm__ volatile(NORVC("sh %0, 0(%1)") : : "r"(v), "r"(p + off) : "memory");
    snprintf(what, sizeof what, "%s sh +%zu", tag, off);
    print_bytes(what, p, 16);
    memset(p, 0, 16);
    __asm__ volatile(NORVC("sw %0, 0(%1)") : : "r"(v), "r"(p + off) : "memory");
    snprintf(what, sizeof what, "%s sw +%zu", tag, off);
    print_bytes(what, p, 16);
    memset(p, 0, 16);
    __asm__ volatile(NORVC("sd %0, 0(%1)") : : "r"(v), "r"(p + off) : "memory");
    snprintf(what, sizeof what, "%s sd +%zu", tag, off);
    print_bytes(what, p, 16);
}

static void test_loads_stores(void)
{
    static uint8_t buf[32] __attribute__((aligned(16)));
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(0x70 + i * 7);
    /* Offsets 1..7 are misaligned for the wider accesses. */
    for (size_t off = 0; off < 8; off++)
        print_loads(buf, off);
    for (size_t off = 0; off < 8; off++)
        stores_at(buf, off, "buf");

    /* Offset immediates, positive and negative. */
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(0x70 + i * 7);
    uint64_t a, b;
    __asm__ volatile(NORVC("ld %0, 8(%2)\n ld %1, -8(%3)")
                     : "=r"(a), "=r"(b) : "r"(buf), "r"(buf + 16) : "memory");
    printf("ld 8(buf) = %" PRIx64 ", ld -8(buf+16) = %" PRIx64 "\n", a, b);

    /* Misaligned accesses that straddle two pages. */
    uint8_t *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) {
        puts("mmap failed");
        exit(1);
    }
    for (size_t i = 0; i < 8192; i++)
        pages[i] = (uint8_t)(i * 13 + 5);
    for (size_t back = 1; back < 8; back++)
        print_loads(pages + 4096 - back, 0);
    for (size_t back = 1; back < 8; back++) {
        uint8_t *p = pages + 4096 - 8;
        stores_at(p, 8 - back, "page-cross");
    }
    munmap(pages, 8192);
}

int main(void)
{
    test_register_ops();
    test_immediate_ops();
    test_upper_immediates();
    test_branches();
    test_jumps();
    test_x0();
    test_loads_stores();
    return 0;
}
