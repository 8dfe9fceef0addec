/*
 * fencei.c - Zifencei and self-modifying code: code written into RWX and
 * RW->RX pages, rewritten after it has run (and has been run often enough
 * to be worth translating), rewritten from within itself, replaced by a new
 * mapping at the same address, and fetched across a page boundary.  After
 * fence.i (or the riscv_flush_icache system call) the new code must run.
 */
#include "guest_test.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGE 4096

enum { X_ZERO = 0, X_T0 = 5, X_A0 = 10 }; /* register numbers */

static uint32_t addi(int rd, int rs1, int imm)
{
    return (uint32_t)(imm & 0xfff) << 20 | rs1 << 15 | rd << 7 | 0x13;
}

static uint32_t sw(int rs2, int rs1, int imm)
{
    return (uint32_t)(imm >> 5 & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | 2 << 12 |
           (imm & 0x1f) << 7 | 0x23;
}

static uint32_t auipc(int rd, int imm20)
{
    return (uint32_t)imm20 << 12 | rd << 7 | 0x17;
}

static const uint32_t RET = 0x00008067;     /* jalr x0, 0(ra) */
static const uint32_t FENCE_I = 0x0000100f; /* fence.i */
static const uint16_t C_JR_RA = 0x8082;
static const uint16_t C_NOP = 0x0001;

static uint16_t c_li_a0(int imm)
{
    return 0x4000 | (imm >> 5 & 1) << 12 | X_A0 << 7 | (imm & 0x1f) << 2 | 1;
}

typedef long (*code_fn)(void);

static void fence_i(void)
{
    __asm__ volatile("fence.i" ::: "memory");
}

static void *map(void *at, size_t len, int prot, int extra_flags)
{
    void *p = mmap(at, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap failed: %s\n", gt_errname(errno));
        exit(1);
    }
    return p;
}

/* Writes "li a0, VALUE; ret" at P. */
static void write_return(uint32_t *p, int value)
{
    p[0] = addi(X_A0, X_ZERO, value);
    p[1] = RET;
}

static void test_rwx_rewrite(void)
{
    uint32_t *code = map(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0);
    write_return(code, 42);
    fence_i();
    printf("rwx first: %ld\n", ((code_fn)code)());
    write_return(code, 43);
    fence_i();
    printf("rwx rewritten: %ld\n", ((code_fn)code)());

    /* Run the code often enough to be translated, then keep rewriting it. */
    long sum = 0;
    for (int round = 0; round < 200; round++) {
        write_return(code, round);
        fence_i();
        for (int i = 0; i < 50; i++)
            sum += ((code_fn)code)();
    }
    printf("rwx hot rewrite sum: %ld\n", sum);

    /* Rewrite only the immediate of a longer function, in its middle. */
    for (int i = 0; i < 64; i++)
        code[i] = addi(X_A0, X_A0, 1);
    code[0] = addi(X_A0, X_ZERO, 0);
    code[64] = RET;
    fence_i();
    long before = ((code_fn)code)();
    code[33] = addi(X_A0, X_A0, 1000);
    fence_i();
    printf("patched middle: %ld -> %ld\n", before, ((code_fn)code)());
    munmap(code, PAGE);
}

static void test_rw_then_rx(void)
{
    uint32_t *code = map(NULL, PAGE, PROT_READ | PROT_WRITE, 0);
    write_return(code, 7);
    printf("mprotect RX: %d\n", mprotect(code, PAGE, PROT_READ | PROT_EXEC));
    fence_i();
    printf("rx first: %ld\n", ((code_fn)code)());
    mprotect(code, PAGE, PROT_READ | PROT_WRITE);
    write_return(code, 8);
    mprotect(code, PAGE, PROT_READ | PROT_EXEC);
    fence_i();
    printf("rx rewritten: %ld\n", ((code_fn)code)());
    munmap(code, PAGE);
}

/*
 * The code stores a new instruction just ahead of itself, executes fence.i,
 * then runs the instruction it wrote:
 *     auipc t0, 0; addi t1, zero, <encoding>...; sw t1, 16(t0); fence.i;
 *     addi a0, zero, 1   <- overwritten with addi a0, zero, 2; ret
 * The new encoding is built in t1 from a value the caller passes in a0.
 */
static void test_modify_own_next_instruction(void)
{
    uint32_t *code = map(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0);
    code[0] = auipc(X_T0, 0);
    code[1] = sw(X_A0, X_T0, 16);
    code[2] = FENCE_I;
    code[3] = addi(X_ZERO, X_ZERO, 0);
    code[4] = addi(X_A0, X_ZERO, 1);
    code[5] = RET;
    fence_i();
    long (*fn)(uint64_t) = (long (*)(uint64_t))(void *)code;
    long first = fn(addi(X_A0, X_ZERO, 2));
    long second = fn(addi(X_A0, X_ZERO, 3));
    printf("self-modified next instruction: %ld then %ld\n", first, second);
    munmap(code, PAGE);
}

static void test_remap_same_address(void)
{
    uint32_t *code = map(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0);
    write_return(code, 100);
    fence_i();
    long first = ((code_fn)code)();
    munmap(code, PAGE);
    uint32_t *again = map(code, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_FIXED);
    write_return(again, 200);
    fence_i();
    printf("new mapping at the same address: %ld then %ld\n", first, ((code_fn)again)());
    munmap(again, PAGE);
}

static void test_flush_icache_syscall(void)
{
    uint32_t *code = map(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0);
    write_return(code, 11);
    __builtin___clear_cache((char *)code, (char *)(code + 2));
    long first = ((code_fn)code)();
    write_return(code, 12);
    long rc = syscall(SYS_riscv_flush_icache, code, code + 2, 0UL);
    printf("riscv_flush_icache = %ld, code: %ld then %ld\n", rc, first, ((code_fn)code)());
    munmap(code, PAGE);
}

static sigjmp_buf fault_jump;
static uintptr_t fault_base;

static void on_segv(int sig, siginfo_t *info, void *uc)
{
    printf("  SIGSEGV code %d at base%+ld\n", info->si_code,
           (long)((uintptr_t)info->si_addr - fault_base));
    siglongjmp(fault_jump, 1);
}

/*
 * A 32-bit instruction whose halves lie on two pages runs whole; when the
 * second page is not executable, fetching it faults.  Executing from a page
 * without PROT_EXEC faults too.
 */
static void test_page_crossing(void)
{
    uint8_t *pages = map(NULL, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0);
    uint8_t *entry = pages + PAGE - 4;
    uint16_t li = c_li_a0(1), jr = C_JR_RA, nop = C_NOP;
    uint32_t add = addi(X_A0, X_A0, 100);
    memcpy(entry, &li, 2);
    memcpy(entry + 2, &add, 4); /* straddles the boundary */
    memcpy(entry + 6, &jr, 2);
    fence_i();
    printf("page-crossing instruction: %ld\n", ((code_fn)(void *)entry)());

    struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &sa, NULL);
    fault_base = (uintptr_t)pages;
    mprotect(pages + PAGE, PAGE, PROT_READ | PROT_WRITE);
    fence_i();
    puts("second half not executable:");
    if (!sigsetjmp(fault_jump, 1))
        printf("  ran: %ld\n", ((code_fn)(void *)entry)());

    memcpy(pages + PAGE, &nop, 2);
    memcpy(pages + PAGE + 2, &jr, 2);
    puts("page without PROT_EXEC:");
    if (!sigsetjmp(fault_jump, 1))
        printf("  ran: %ld\n", ((code_fn)(void *)(pages + PAGE))());
    munmap(pages, 2 * PAGE);
}

int main(void)
{
    test_rwx_rewrite();
    test_rw_then_rx();
    test_modify_own_next_instruction();
    test_remap_same_address();
    test_flush_icache_syscall();
    test_page_crossing();
    return 0;
}
