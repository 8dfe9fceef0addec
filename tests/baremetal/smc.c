/* smc.c: code that changes after it has run (self-modifying code).
 *
 * The spec makes new code visible to a hart's fetches after a fence.i
 * (unpriv ch. 3, "Zifencei"); without one it may run the old or the new.
 * QEMU, like vmx with its page descriptors (src/mem/pages.h), notices every
 * store to a page it has decoded code from and always runs the new code, so
 * the checks without fence.i hold on both and pin that behaviour down:
 * a store through any address (another virtual alias, an AMO, a page-table
 * walk's neighbour), to either page of an instruction that straddles two,
 * to a page whose data is written between calls, drops the old code.
 *
 * Each stub is "addi a0, zero, K; ret" (or K split across a page boundary),
 * called as a function. */
#include "rt.h"

#define PAGE 4096ull
#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_AD ((1ull << 6) | (1ull << 7))
#define ALIAS_X 0x40000000ull   /* the code page, executable */
#define ALIAS_W 0x40001000ull   /* the same page, writable */

typedef uint16_t u16;
typedef u64 (*stub_t)(void);

/* Two pages of code, and counters in the first one's last bytes. */
static u32 code[2][1024] __attribute__((aligned(4096)));
static u64 root[512] __attribute__((aligned(4096)));
static u64 l1[512] __attribute__((aligned(4096)));
static u64 l0[512] __attribute__((aligned(4096)));

#define RET 0x00008067u
static u32 addi_a0(u64 k) { return (u32)((k & 0xfff) << 20) | (10u << 7) | 0x13u; }

static void fence_i(void) { __asm__ volatile("fence.i" ::: "memory"); }

static u64 call(const void *p) { return ((stub_t)p)(); }

/* Writes "addi a0, zero, k; ret" at p. */
static void put_stub(volatile u32 *p, u64 k) {
  p[0] = addi_a0(k);
  p[1] = RET;
}

static void test_fence_i(void) {
  unsigned bad = 0;
  for (u64 k = 1; k <= 300; k++) {
    put_stub(&code[0][0], k);
    fence_i();
    if (call(&code[0][0]) != k)
      bad++;
  }
  check_eq("300 rewrites, each followed by fence.i, each run new", bad, 0);
}

static void test_no_fence(void) {
  put_stub(&code[0][8], 7);
  fence_i();
  check_eq("the stub runs", call(&code[0][8]), 7);
  unsigned bad = 0;
  for (u64 k = 8; k < 208; k++) {
    code[0][8] = addi_a0(k); /* the immediate only, no fence.i */
    if (call(&code[0][8]) != k)
      bad++;
  }
  check_eq("200 rewrites without fence.i, each run new (as QEMU)", bad, 0);
}

/* Data on the page of a stub that runs between writes: every write drops
 * the code, every call decodes it again. */
static void test_shared_page(void) {
  volatile u64 *counter = (volatile u64 *)&code[0][1020];
  put_stub(&code[0][16], 42);
  fence_i();
  *counter = 0;
  u64 sum = 0;
  for (int i = 0; i < 5000; i++) {
    *counter = *counter + 1;
    sum += call(&code[0][16]);
  }
  check_eq("a counter on the stub's page counts every write", *counter, 5000);
  check_eq("and the stub between the writes always runs", sum, 5000 * 42);
}

static void test_amo(void) {
  put_stub(&code[0][24], 3);
  fence_i();
  check_eq("stub before the AMO", call(&code[0][24]), 3);
  u32 old;
  __asm__ volatile("amoswap.w %0, %2, (%1)" : "=r"(old) : "r"(&code[0][24]), "r"(addi_a0(4)) : "memory");
  check_eq("amoswap.w returned the old instruction", old, addi_a0(3));
  check_eq("an AMO's write drops the code (no fence.i)", call(&code[0][24]), 4);
}

/* "addi a0, zero, K; ret" with the addi's first half at the end of page 0
 * and its second half (which holds K) at the start of page 1. */
static void test_straddle(void) {
  volatile u16 *first = (volatile u16 *)((u64)&code[1][0] - 2);
  volatile u16 *second = (volatile u16 *)&code[1][0];
  volatile u16 *ret = second + 1;
  *first = (u16)addi_a0(0x120);
  *second = (u16)(addi_a0(0x120) >> 16);
  ret[0] = (u16)RET;
  ret[1] = (u16)(RET >> 16);
  fence_i();
  check_eq("an instruction across two pages runs", call((const void *)first), 0x120);
  *second = (u16)(addi_a0(0x340) >> 16);
  check_eq("a write to its second page drops it (no fence.i)", call((const void *)first), 0x340);
  *first = (u16)(addi_a0(0x340) | 2u << 12); /* funct3 010: slti a0, zero, K */
  check_eq("a write to its first page drops it too (now slti: 1)", call((const void *)first), 1);
}

static u64 s_store_then_fetch(u64 k, u64 unused1, u64 unused2) {
  (void)unused1;
  (void)unused2;
  volatile u32 *w = (volatile u32 *)ALIAS_W;
  w[0] = addi_a0(k);
  return ((stub_t)ALIAS_X)();
}

/* One physical page at two virtual addresses: a store through one drops the
 * code fetched through the other (decoded code belongs to the physical
 * page). */
static void test_alias(void) {
  root[2] = ((0x80000000ull >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_AD;
  root[1] = (((u64)l1 >> 12) << 10) | PTE_V;
  l1[0] = (((u64)l0 >> 12) << 10) | PTE_V;
  u64 ppn = (u64)&code[0][0] >> 12;
  l0[0] = (ppn << 10) | PTE_V | PTE_R | PTE_X | PTE_AD;
  l0[1] = (ppn << 10) | PTE_V | PTE_R | PTE_W | PTE_AD;
  put_stub(&code[0][0], 9);
  fence_i();
  csr_write(satp, (8ull << 60) | ((u64)root >> 12));
  __asm__ volatile("sfence.vma" ::: "memory");
  check_eq("S runs the stub through the X alias", run_in(PRV_S, (const void *)ALIAS_X, 0, 0, 0), 9);
  check_eq("S store through the W alias, then run through the X alias",
           run_in(PRV_S, s_store_then_fetch, 11, 0, 0), 11);
  check_eq("again with another value", run_in(PRV_S, s_store_then_fetch, 12, 0, 0), 12);
  csr_write(satp, 0);
  __asm__ volatile("sfence.vma" ::: "memory");
  check_eq("M sees the S store through the physical address", call(&code[0][0]), 12);
}

int main(void) {
  test_begin("smc");
  traps_reset();
  test_fence_i();
  test_no_fence();
  test_shared_page();
  test_amo();
  test_straddle();
  expect_no_trap("no trap in the M-mode checks");
  test_alias();
  test_end();
}
