/* smc_smp.c: one hart rewrites code that another hart runs (run with
 * -smp 2).
 *
 * Hart 0 writes "addi a0, zero, K; ret" with a new K each round, publishes
 * the round, and hart 1 calls the stub and reports what it returned. With a
 * fence.i on hart 1 before the call, the spec guarantees the new code
 * (unpriv ch. 3, Zifencei); without one it allows either, and QEMU, like
 * vmx (whose hart 1 takes the invalidation hart 0's store posted at its
 * next block boundary, src/mem/pages.h), runs the new code.
 *
 * Built with -DSTRESS (vmx only): hart 1 calls the stub all the time, so
 * its blocks are dropped and decoded again while hart 0 writes, and each
 * round hart 0 writes in one of three ways (one store; a junk store, then
 * the real one; an amoswap). After its fence.i hart 1 must run the new
 * code every time. QEMU 7.2 fails this (its fence.i does not reach other
 * harts' translations), so only vmx runs it. */
#include "rt.h"

#ifdef STRESS
#define ROUNDS 30000
#else
#define ROUNDS 300
#endif
#define RET 0x00008067u

extern volatile u64 park_entry;

static u32 code[1024] __attribute__((aligned(4096)));
static volatile u64 round_no, acked, with_fence, got[ROUNDS + 1];
static volatile int write_kind; /* STRESS: 0 one store, 1 two stores, 2 amoswap */

static u32 addi_a0(u64 k) { return (u32)((k & 0xfff) << 20) | (10u << 7) | 0x13u; }

static void fence(void) { __asm__ volatile("fence rw, rw" ::: "memory"); }

/* Hart 1, from crt.S's park loop. */
static void hart1(u64 hartid) {
  CLINT_MSIP[hartid] = 0;
  u64 seen = 0;
  for (;;) {
    while (round_no == seen) {
#ifdef STRESS
      ((u64(*)(void))code)();
#endif
    }
    seen = round_no;
    fence();
    if (with_fence)
      __asm__ volatile("fence.i" ::: "memory");
    got[seen % (ROUNDS + 1)] = ((u64(*)(void))code)();
    fence();
    acked = seen;
  }
}

/* Runs ROUNDS rewrites; returns how many calls on hart 1 ran old code, or
 * -1 when hart 1 stops answering. */
static int rounds(int fence_i, u64 first) {
  with_fence = fence_i;
  int stale = 0;
  for (u64 r = first; r < first + ROUNDS; r++) {
    u64 k = r & 0x7ff;
    if (write_kind == 1)
      *(volatile u32 *)&code[0] = addi_a0(k ^ 0x400);
    if (write_kind == 2) {
      u32 old;
      __asm__ volatile("amoswap.w %0, %2, (%1)" : "=r"(old) : "r"(&code[0]), "r"(addi_a0(k)) : "memory");
    } else {
      code[0] = addi_a0(k);
    }
    fence();
    round_no = r;
    if (!wait_until(acked == r, 5 * MTIME_HZ))
      return -1;
    if (got[r % (ROUNDS + 1)] != k)
      stale++;
  }
  return stale;
}

int main(void) {
  test_begin("smc_smp");
  code[0] = addi_a0(1);
  code[1] = RET;
  __asm__ volatile("fence.i" ::: "memory");
  park_entry = (u64)hart1;
  fence();
  CLINT_MSIP[1] = 1;
  round_no = 1;
  if (!check(wait_until(acked == 1, 5 * MTIME_HZ), "hart 1 started (run with -smp 2)"))
    test_end();
  check_eq("hart 1 ran the first stub", got[1], 1);
#ifdef STRESS
  static const char *const kinds[] = {"one store", "two stores", "amoswap"};
  for (int kind = 0; kind < 3; kind++) {
    write_kind = kind;
    check_eq(kinds[kind], (u64)rounds(1, 2 + (u64)kind * ROUNDS), 0);
  }
#else
  check_eq("rewrites on hart 0, fence.i and call on hart 1: stale calls", (u64)rounds(1, 2), 0);
  check_eq("rewrites on hart 0, call on hart 1 without fence.i: stale calls (as QEMU)",
           (u64)rounds(0, 2 + ROUNDS), 0);
#endif
  test_end();
}
