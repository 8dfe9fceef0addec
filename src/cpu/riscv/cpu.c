/* vCPU life cycle, user-level CSRs and the bridge from host faults. */
#include "cpu/riscv/cpu.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/error.h"
#include "cpu/riscv/interp.h"
#include "mem/pages.h"
#include "mem/rv_mmu.h"

__thread vmx__rv_tls_t vmx__rv_tls;

int vmx_rv_cpu_init(vmx_rv_cpu_t *cpu, uint8_t *mem_base, uint64_t mem_limit,
                    _Atomic uint64_t *code_gen) {
  memset(cpu, 0, sizeof *cpu);
  cpu->mem_base = mem_base;
  cpu->mem_limit = mem_limit;
  cpu->icount_limit = UINT64_MAX;
  cpu->code_gen = code_gen ? code_gen : &cpu->own_code_gen;
  cpu->bcache = calloc(1, sizeof *cpu->bcache);
  if (!cpu->bcache)
    return VMX_ENOMEM;
  /* The arena is committed lazily by the host kernel as blocks fill it. */
  void *arena = mmap(NULL, VMX_RV_BCACHE_ARENA, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (arena == MAP_FAILED) {
    free(cpu->bcache);
    cpu->bcache = NULL;
    return VMX_ENOMEM;
  }
  cpu->bcache->arena = arena;
  cpu->bcache_gen = atomic_load_explicit(cpu->code_gen, memory_order_acquire);
  return 0;
}

void vmx_rv_cpu_copy_state(vmx_rv_cpu_t *dst, const vmx_rv_cpu_t *src) {
  memcpy(dst->x, src->x, sizeof dst->x);
  memcpy(dst->f, src->f, sizeof dst->f);
  dst->pc = src->pc;
  dst->fflags = src->fflags;
  dst->frm = src->frm;
  dst->icount = src->icount;
  dst->fetch_check = src->fetch_check;
  dst->resv_valid = false;
}

void vmx_rv_cpu_close(vmx_rv_cpu_t *cpu) {
  if (!cpu->bcache)
    return;
  munmap(cpu->bcache->arena, VMX_RV_BCACHE_ARENA);
  free(cpu->bcache);
  cpu->bcache = NULL;
}

void vmx_rv_cpu_flush_code(vmx_rv_cpu_t *cpu) {
  memset(cpu->bcache->bucket, 0, sizeof cpu->bcache->bucket);
  cpu->bcache->used = 0;
  if (cpu->sys && cpu->sys->pages)
    vmx_pages_clear_code(cpu->sys->pages, cpu->sys->shard);
}

/* A page's list runs through page_next[0] of the blocks that start on it
 * and page_next[1] of those whose first instruction ends on it. */
static vmx_rv_block_t *page_next(const vmx_rv_block_t *b, uint64_t page_pa) {
  return (b->pa & ~(uint64_t)0xfff) == page_pa ? b->page_next[0] : b->page_next[1];
}

void vmx_rv_code_added(vmx_rv_cpu_t *cpu, vmx_rv_block_t *b, unsigned which) {
  vmx_rv_sys_t *sys = cpu->sys;
  uint64_t pn = vmx_pages_index(sys->pages, which ? b->pa2 : b->pa);
  if (pn == UINT64_MAX)
    return;
  _Atomic(void *) *slot = vmx_pages_code(sys->pages, sys->shard, pn);
  vmx_rv_block_t *head = atomic_load_explicit(slot, memory_order_relaxed);
  b->page_next[which] = head;
  atomic_store_explicit(slot, b, memory_order_relaxed);
  if (!head) {
    /* The page's first code here. The slot is visible before the bytes are
     * read (paired with the fence in vmx_pages_written: a writer either
     * sees the slot or this hart reads its bytes); stores to the page must
     * now take the slow path, in this hart's TLB and (by request) in the
     * others'. */
    atomic_thread_fence(memory_order_seq_cst);
    vmx_rv_tlb_protect(cpu, vmx_pages_addr(sys->pages, pn));
    vmx_pages_code_added(sys->pages, sys->shard, pn);
  }
}

void vmx_rv_code_unadd(vmx_rv_cpu_t *cpu, vmx_rv_block_t *b) {
  vmx_rv_sys_t *sys = cpu->sys;
  uint64_t pn = vmx_pages_index(sys->pages, b->pa);
  if (pn == UINT64_MAX)
    return;
  /* The fetch that failed may have dropped the page (and b with it). */
  _Atomic(void *) *slot = vmx_pages_code(sys->pages, sys->shard, pn);
  if (atomic_load_explicit(slot, memory_order_relaxed) == b)
    atomic_store_explicit(slot, b->page_next[0], memory_order_relaxed);
}

void vmx_rv_code_drop_page(vmx_rv_cpu_t *cpu, uint64_t pn) {
  vmx_rv_sys_t *sys = cpu->sys;
  vmx_rv_bcache_t *bc = cpu->bcache;
  _Atomic(void *) *slot = vmx_pages_code(sys->pages, sys->shard, pn);
  vmx_rv_block_t *b = atomic_load_explicit(slot, memory_order_relaxed);
  atomic_store_explicit(slot, NULL, memory_order_relaxed);
  uint64_t page_pa = vmx_pages_addr(sys->pages, pn);
  while (b) {
    vmx_rv_block_t *next = page_next(b, page_pa);
    if (b->live_pc != VMX_RV_BLOCK_DEAD) {
      /* Out of its bucket, and dead to chains that still point at it; a
       * block running now finishes (the spec wants a fence.i before
       * modified code must run). The arena keeps it until a flush. */
      vmx_rv_block_t **p = &bc->bucket[vmx__bucket(b->pa)];
      while (*p && *p != b)
        p = &(*p)->hash_next;
      if (*p)
        *p = b->hash_next;
      b->live_pc = VMX_RV_BLOCK_DEAD;
    }
    b = next;
  }
}

static void take_request(void *arg, unsigned kind, uint64_t pn) {
  vmx_rv_cpu_t *cpu = arg;
  vmx_rv_sys_t *sys = cpu->sys;
  uint64_t pa = vmx_pages_addr(sys->pages, pn);
  if (kind == VMX_PAGES_FLUSH) {
    vmx_rv_tlb_flush(cpu, UINT64_MAX); /* dirty logging began: refill to log */
  } else if (kind == VMX_PAGES_INVAL) {
    vmx_rv_code_drop_page(cpu, pn);
  } else if (vmx_rv_tlb_protect(cpu, pa)) {
    /* This hart could store to the page without telling anyone until now,
     * perhaps after the other hart decoded it: that code goes. */
    vmx_pages_written(sys->pages, (int)sys->shard, pa, 1u << VMX_PAGES_SHIFT);
  }
}

void vmx_rv_code_sync(vmx_rv_cpu_t *cpu) {
  if (cpu->sys && cpu->sys->pages)
    vmx_pages_take(cpu->sys->pages, cpu->sys->shard, take_request, cpu);
}

/* User-level CSRs (unpriv ch. 8 and 10): the FP CSRs and the counters. */
enum { CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
       CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02 };

bool vmx_rv_csr_read(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t now, uint64_t *val) {
  switch (csr) {
  case CSR_FFLAGS: *val = cpu->fflags; return true;
  case CSR_FRM: *val = cpu->frm; return true;
  case CSR_FCSR: *val = cpu->frm << 5 | cpu->fflags; return true;
  case CSR_CYCLE:
  case CSR_INSTRET: *val = now; return true;
  case CSR_TIME: {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* A 10 MHz timebase, as QEMU's virt machine has. */
    *val = (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100u;
    return true;
  }
  default: return false;
  }
}

bool vmx_rv_csr_write(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t val) {
  switch (csr) {
  case CSR_FFLAGS: cpu->fflags = val & 0x1f; return true;
  case CSR_FRM: cpu->frm = val & 7; return true;
  case CSR_FCSR: cpu->fflags = val & 0x1f; cpu->frm = (val >> 5) & 7; return true;
  default: return false;
  }
}

bool vmx_rv_cpu_host_fault(int signo, int si_code, void *host_addr) {
  vmx__rv_tls_t *tls = &vmx__rv_tls;
  vmx_rv_cpu_t *cpu = tls->cpu;
  if (!cpu)
    return false;
  uintptr_t a = (uintptr_t)host_addr, base = (uintptr_t)cpu->mem_base;
  if (a < base || a - base >= cpu->mem_limit)
    return false;
  if (!tls->fetching && !cpu->cur_insn)
    return false;
  cpu->fault_addr = a - base;
  cpu->fault_host_code = si_code;
  /* The handler runs with signo blocked; siglongjmp does not restore the
   * mask (sigsetjmp saved none, to keep vmx_rv_cpu_run cheap), so unblock
   * it here or the next guest fault would kill the process. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  siglongjmp(tls->jb, 1);
}
