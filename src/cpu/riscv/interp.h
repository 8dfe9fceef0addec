/* Interpreter internals shared by interp.c and cpu.c: decoded blocks and
 * the per-cpu block cache. */
#ifndef VMX_CPU_RISCV_INTERP_H
#define VMX_CPU_RISCV_INTERP_H

#include <setjmp.h>
#include <stddef.h>

#include "cpu/riscv/cpu.h"
#include "cpu/riscv/decode.h"

/* Longest block, in instructions. Blocks also end at a control transfer, at
 * a SYS instruction and before an instruction that crosses a page. */
#define VMX_RV_BLOCK_MAX 64

/* A straight-line run of decoded instructions ending in a control transfer
 * or in a BLOCK_END marker (which continues at end_pc). */
typedef struct vmx_rv_block {
  uint64_t pc;                     /* guest address of the first instruction */
  uint64_t live_pc;                /* pc while the block may run, VMX_RV_BLOCK_DEAD
                                      once its code was overwritten: what lookups
                                      and chains compare */
  uint64_t end_pc;                 /* address after the last instruction */
  uint64_t pa;                     /* system mode: physical address of pc (else pc) */
  uint64_t pa2;                    /* physical page of an instruction's second half
                                      on the next page, or UINT64_MAX */
  uint8_t priv;                    /* privilege the block was built for */
  uint8_t bp;                      /* debug variant: a breakpoint is at pc */
  struct vmx_rv_block *chain[2];   /* successor cache: [0] taken/target, [1] fall-through */
  struct vmx_rv_block *hash_next;  /* bucket chain in the block cache */
  struct vmx_rv_block *page_next[2]; /* system mode: the next block decoded from
                                      the page of pa [0] and of pa2 [1] */
  uint32_t n;                      /* instructions, not counting the marker */
  vmx_rv_insn_t insn[];            /* n instructions, then the marker */
} vmx_rv_block_t;

/* No pc is odd: a dead block is never found or chained to. */
#define VMX_RV_BLOCK_DEAD UINT64_MAX

#define VMX_RV_BCACHE_BUCKETS 65536
#define VMX_RV_BCACHE_ARENA (16u << 20)

/* Decoded blocks of one cpu: a hash table over an arena that is reset as a
 * whole (flush). Owned by the cpu's thread. */
typedef struct vmx_rv_bcache {
  vmx_rv_block_t *bucket[VMX_RV_BCACHE_BUCKETS];
  uint8_t *arena;
  size_t used;
} vmx_rv_bcache_t;

static inline unsigned vmx__bucket(uint64_t pc) {
  return (unsigned)((pc >> 1) ^ (pc >> 14)) & (VMX_RV_BCACHE_BUCKETS - 1);
}

/* System mode: block b (pa, pa2 set) is about to be decoded from the page
 * of its pa (which 0) or pa2 (which 1); links it into that page's list in
 * the hart's page descriptors before its bytes are read (cpu.c).
 * vmx_rv_code_unadd takes back the link of pa's page when decoding b
 * failed (its space in the arena is used again). */
void vmx_rv_code_added(vmx_rv_cpu_t *cpu, vmx_rv_block_t *b, unsigned which);
void vmx_rv_code_unadd(vmx_rv_cpu_t *cpu, vmx_rv_block_t *b);

/* Per-thread context that lets the host fault handler return into
 * vmx_rv_cpu_run(). */
typedef struct vmx__rv_tls {
  vmx_rv_cpu_t *cpu;      /* the cpu running on this thread, or NULL */
  bool fetching;          /* fault is an instruction fetch while decoding */
  uint64_t fetch_pc;      /* address being fetched */
  uint64_t fetch_insn_pc; /* the instruction it belongs to */
  sigjmp_buf jb;
} vmx__rv_tls_t;

extern __thread vmx__rv_tls_t vmx__rv_tls;

#endif
