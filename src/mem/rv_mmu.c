/* Sv39/Sv48/Sv57 translation, the per-hart TLB and the memory slow paths
 * (privileged spec 1.12, section 4.3-4.5).
 *
 * A/D bits are set by the walker with a compare-and-swap on the PTE in
 * guest RAM (as hardware that does not implement Svade does), so harts on
 * other host threads see a consistent PTE. A TLB entry is only given write
 * permission once D is set, so the first store to a clean page comes back
 * here. A store entry for a page that holds decoded code has
 * VMX_RV_TLB_NOTIFY, and its slow path drops that code (mem/pages.h).
 * Superpages are cached as 4 KiB pieces; an address-specific
 * sfence.vma then flushes everything, since the pieces are not indexed by
 * the superpage. */
#include "mem/rv_mmu.h"

#include <string.h>

#include "cpu/riscv/priv.h"
#include "mem/pages.h"
#include "mem/rv_pmp.h"

#define PAGE_MASK (~(uint64_t)0xfff)
/* Tag bits that send an access to the slow path of an entry that allows it. */
#define TAG_FLAGS (VMX_RV_TLB_IO | VMX_RV_TLB_NOTIFY | VMX_RV_TLB_DIRTY)
#define PTE_V 1u
#define PTE_R 2u
#define PTE_W 4u
#define PTE_X 8u
#define PTE_U 16u
#define PTE_A 64u
#define PTE_D 128u
#define PTE_PPN(pte) (((pte) >> 10) & (((uint64_t)1 << 44) - 1))
/* Bits 63:54: N, PBMT and reserved; vmx implements neither Svnapot nor
 * Svpbmt, so a leaf with any of them set is a page fault. */
#define PTE_HIGH(pte) ((pte) >> 54)

static unsigned page_fault(vmx_rv_access_t acc) {
  return acc == VMX_RV_ACC_FETCH ? VMX_RV_CAUSE_FETCH_PAGE
         : acc == VMX_RV_ACC_LOAD ? VMX_RV_CAUSE_LOAD_PAGE : VMX_RV_CAUSE_STORE_PAGE;
}

static unsigned access_fault(vmx_rv_access_t acc) {
  return acc == VMX_RV_ACC_FETCH ? VMX_RV_CAUSE_FETCH_ACCESS
         : acc == VMX_RV_ACC_LOAD ? VMX_RV_CAUSE_LOAD_ACCESS : VMX_RV_CAUSE_STORE_ACCESS;
}

/* The PTE permission bit an access needs. */
static unsigned need_perm(vmx_rv_access_t acc) {
  return acc == VMX_RV_ACC_FETCH ? PTE_X : acc == VMX_RV_ACC_LOAD ? PTE_R : PTE_W;
}

/* The privilege PMP checks a regime's accesses with. */
static const unsigned regime_priv[VMX_RV_MMU_COUNT] = {
    [VMX_RV_MMU_U] = VMX_RV_PRIV_U, [VMX_RV_MMU_S] = VMX_RV_PRIV_S,
    [VMX_RV_MMU_M] = VMX_RV_PRIV_M, [VMX_RV_MMU_S_SUM] = VMX_RV_PRIV_S};

/* PMP (priv 1.12 §3.7.1) on a page-table access: implicit, so checked with
 * S-mode's permissions whatever the access being translated. */
static bool pmp_pt_allows(const vmx_rv_sys_t *sys, uint64_t pte_pa, unsigned need) {
  return (vmx_rv_pmp_access(&sys->pmp, pte_pa, 8, VMX_RV_PRIV_S) << 1) & need;
}

/* PMP on the access of size bytes at physical pa in regime: what it may do
 * there, as PTE_R/W/X bits, for the whole page, or with *partial set for
 * this access only (an entry covers part of the page). A fetch is checked
 * to the end of the page, as QEMU 7.2 does: a block is built from there. */
static unsigned pmp_allows(const vmx_rv_sys_t *sys, uint64_t pa, unsigned size,
                           vmx_rv_access_t acc, unsigned regime, bool *partial) {
  unsigned priv = regime_priv[regime];
  *partial = false;
  if (!vmx_rv_pmp_restricts(&sys->pmp, priv))
    return PTE_R | PTE_W | PTE_X;
  unsigned p = vmx_rv_pmp_page(&sys->pmp, pa & PAGE_MASK, priv);
  if (p & VMX_RV_PMP_PARTIAL) {
    *partial = true;
    uint64_t len = acc == VMX_RV_ACC_FETCH ? 4096 - (pa & 0xfff) : size;
    p = vmx_rv_pmp_access(&sys->pmp, pa, len, priv);
  }
  return p << 1;
}

/* Host address of the 8-byte word at guest-physical pa in RAM, or NULL. */
static uint64_t *ram_word(const vmx_rv_sys_t *sys, uint64_t pa) {
  if (pa < sys->ram_base || pa - sys->ram_base > sys->ram_size - 8 || (pa & 7))
    return NULL;
  return (uint64_t *)(sys->ram + (pa - sys->ram_base));
}

static bool in_ram(const vmx_rv_sys_t *sys, uint64_t pa, uint64_t len) {
  return pa >= sys->ram_base && pa - sys->ram_base < sys->ram_size &&
         len <= sys->ram_size - (pa - sys->ram_base);
}

/* The walk result: physical address and what the leaf allows in this
 * regime (PTE_R/W/X, W only when D is set). */
typedef struct {
  uint64_t pa;
  unsigned perm;
  bool super;
} walk_t;

/* RAM at [pa, pa+len) within one page was written by this hart (the write
 * is done): blocks decoded from it, here or on other harts, must go. */
static void code_written(vmx_rv_cpu_t *cpu, uint64_t pa, unsigned len) {
  vmx_pages_t *pages = cpu->sys->pages;
  if (!pages)
    return;
  uint64_t pn = vmx_pages_index(pages, pa);
  if (pn != UINT64_MAX && vmx_pages_written(pages, (int)cpu->sys->shard, pa, len))
    vmx_rv_code_drop_page(cpu, pn);
}

/* The RAM page at pa was written by this hart: marked while logging. */
static void page_dirtied(vmx_rv_cpu_t *cpu, uint64_t pa) {
  vmx_pages_t *pages = cpu->sys->pages;
  if (!pages || !vmx_pages_logging(pages))
    return;
  uint64_t pn = vmx_pages_index(pages, pa);
  if (pn != UINT64_MAX)
    vmx_pages_mark_dirty(pages, (int)cpu->sys->shard, pn);
}

/* Walks the page table for va. update: set A (and D for stores). Returns 0
 * or the exception cause. */
static unsigned walk(vmx_rv_cpu_t *cpu, uint64_t va, vmx_rv_access_t acc, unsigned regime,
                     bool update, walk_t *out) {
  vmx_rv_sys_t *sys = cpu->sys;
  unsigned mode = VMX_RV_SATP_MODE(sys->satp);
  if (regime == VMX_RV_MMU_M || mode == VMX_RV_SATP_BARE) {
    out->pa = va;
    out->perm = PTE_R | PTE_W | PTE_X;
    out->super = false;
    return 0;
  }
  unsigned levels = mode == VMX_RV_SATP_SV39 ? 3 : mode == VMX_RV_SATP_SV48 ? 4 : 5;
  unsigned va_bits = 12 + 9 * levels;
  if ((uint64_t)((int64_t)(va << (64 - va_bits)) >> (64 - va_bits)) != va)
    return page_fault(acc);
  bool user = regime == VMX_RV_MMU_U;
  bool sum = regime == VMX_RV_MMU_S_SUM, mxr = sys->mstatus & VMX_RV_MSTATUS_MXR;
restart:;
  uint64_t table = (sys->satp & (((uint64_t)1 << 44) - 1)) << 12;
  for (int level = (int)levels - 1; level >= 0; level--) {
    uint64_t pte_pa = table + ((va >> (12 + 9 * level)) & 0x1ff) * 8;
    uint64_t *p = ram_word(sys, pte_pa);
    /* A hart's own walk (update) is held to PMP; a debugger's is not, as
     * QEMU's gdbstub is not. */
    if (!p || (update && !pmp_pt_allows(sys, pte_pa, PTE_R)))
      return access_fault(acc);
    uint64_t pte = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || PTE_HIGH(pte))
      return page_fault(acc);
    if (!(pte & (PTE_R | PTE_X))) {
      if (level == 0 || (pte & (PTE_A | PTE_D | PTE_U)))
        return page_fault(acc);
      table = PTE_PPN(pte) << 12;
      continue;
    }
    /* A leaf. */
    uint64_t ppn = PTE_PPN(pte);
    uint64_t low = ((uint64_t)1 << (9 * level)) - 1;
    if (ppn & low)
      return page_fault(acc); /* misaligned superpage */
    bool u_page = pte & PTE_U;
    if (user ? !u_page : u_page && (acc == VMX_RV_ACC_FETCH || !sum))
      return page_fault(acc);
    /* What this regime may do here: S never executes U pages (it only
     * reaches them for data, under SUM) and U never touches S pages. */
    unsigned perm = pte & PTE_W;
    if (pte & PTE_R || (mxr && (pte & PTE_X)))
      perm |= PTE_R;
    if (user == u_page)
      perm |= pte & PTE_X;
    if (!(perm & need_perm(acc)))
      return page_fault(acc);
    if (update) {
      uint64_t want = pte | PTE_A | (acc == VMX_RV_ACC_STORE ? PTE_D : 0);
      if (want != pte && !pmp_pt_allows(sys, pte_pa, PTE_W))
        return access_fault(acc);
      if (want != pte && !__atomic_compare_exchange_n(p, &pte, want, false, __ATOMIC_ACQ_REL,
                                                      __ATOMIC_ACQUIRE))
        goto restart; /* another hart changed the PTE: walk again */
      if (want != pte) {
        code_written(cpu, pte_pa, 8);
        page_dirtied(cpu, pte_pa);
      }
      pte = want;
    }
    if (!(pte & PTE_D))
      perm &= ~PTE_W;
    out->pa = ((ppn & ~low) | ((va >> 12) & low)) << 12 | (va & 0xfff);
    out->perm = perm;
    out->super = level > 0;
    return 0;
  }
  return page_fault(acc);
}

unsigned vmx_rv_mmu_translate(vmx_rv_cpu_t *cpu, uint64_t va, vmx_rv_access_t acc,
                              unsigned regime, uint64_t *pa) {
  walk_t w;
  unsigned cause = walk(cpu, va, acc, regime, false, &w);
  if (!cause)
    *pa = w.pa;
  return cause;
}

static void entry_clear(vmx_rv_tlb_entry_t *e) {
  e->tag_r = e->tag_w = e->tag_x = VMX_RV_TLB_INVALID;
  e->addend = 0;
  e->pa = 0;
}

/* The tables a set keeps, in the order of its tlb[]. */
static const unsigned set_regime[3] = {VMX_RV_MMU_U, VMX_RV_MMU_S, VMX_RV_MMU_S_SUM};

static void victims_clear(vmx_rv_sys_t *sys) {
  for (unsigned r = 0; r < VMX_RV_MMU_COUNT; r++)
    for (unsigned i = 0; i < VMX_RV_TLB_VICTIMS; i++)
      entry_clear(&sys->victim[r][i]);
}

void vmx_rv_tlb_flush(vmx_rv_cpu_t *cpu, uint64_t va) {
  vmx_rv_sys_t *sys = cpu->sys;
  victims_clear(sys);
  if (va == UINT64_MAX || sys->tlb_super) {
    for (unsigned r = 0; r < VMX_RV_MMU_COUNT; r++)
      for (unsigned i = 0; i < VMX_RV_TLB_SIZE; i++)
        entry_clear(&sys->tlb[r][i]);
    for (unsigned k = 0; k < VMX_RV_TLB_SETS; k++)
      sys->tlb_set[k].valid = false;
    sys->tlb_super = false;
    return;
  }
  unsigned i = (va >> 12) & (VMX_RV_TLB_SIZE - 1);
  for (unsigned r = 0; r < VMX_RV_MMU_COUNT; r++)
    entry_clear(&sys->tlb[r][i]);
  /* sfence.vma with an address applies to every address space (its ASID
   * operand only narrows it): the kept sets lose that page too. */
  for (unsigned k = 0; k < VMX_RV_TLB_SETS; k++) {
    struct vmx_rv_tlb_set *set = &sys->tlb_set[k];
    if (set->super)
      set->valid = false;
    for (unsigned t = 0; t < 3; t++)
      entry_clear(&set->tlb[t][i]);
  }
}

void vmx_rv_tlb_switch(vmx_rv_cpu_t *cpu, uint64_t satp) {
  vmx_rv_sys_t *sys = cpu->sys;
  victims_clear(sys);
  sys->tlb_switches++;
  if (VMX_RV_SATP_MODE(sys->satp) != VMX_RV_SATP_BARE) {
    /* Keep the old tables: in the old one's own set, or the least
     * recently used. */
    struct vmx_rv_tlb_set *victim = &sys->tlb_set[0];
    for (unsigned k = 0; k < VMX_RV_TLB_SETS; k++) {
      struct vmx_rv_tlb_set *set = &sys->tlb_set[k];
      if (set->valid && set->satp == sys->satp) {
        victim = set;
        break;
      }
      if (!set->valid || (victim->valid && set->used < victim->used))
        victim = set;
    }
    victim->satp = sys->satp;
    victim->used = sys->tlb_switches;
    victim->valid = true;
    victim->super = sys->tlb_super;
    for (unsigned t = 0; t < 3; t++)
      memcpy(victim->tlb[t], sys->tlb[set_regime[t]], sizeof victim->tlb[t]);
  }
  sys->satp = satp;
  for (unsigned k = 0; k < VMX_RV_TLB_SETS; k++) {
    struct vmx_rv_tlb_set *set = &sys->tlb_set[k];
    if (set->valid && set->satp == satp && VMX_RV_SATP_MODE(satp) != VMX_RV_SATP_BARE) {
      for (unsigned t = 0; t < 3; t++)
        memcpy(sys->tlb[set_regime[t]], set->tlb[t], sizeof set->tlb[t]);
      sys->tlb_super = set->super;
      set->used = sys->tlb_switches;
      return;
    }
  }
  for (unsigned t = 0; t < 3; t++)
    for (unsigned i = 0; i < VMX_RV_TLB_SIZE; i++)
      entry_clear(&sys->tlb[set_regime[t]][i]);
  /* Superpage pieces may remain in M's table only, which bare M does not
   * make; keep the flag conservative. */
}

/* Walks for acc (of size bytes) and fills va's TLB entry in regime with
 * everything the leaf and PMP allow; NULL with the trap set when acc is not
 * allowed. */
static vmx_rv_tlb_entry_t *fill(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size,
                                vmx_rv_access_t acc, unsigned regime) {
  vmx_rv_sys_t *sys = cpu->sys;
  vmx_rv_tlb_entry_t *slot = &sys->tlb[regime][(va >> 12) & (VMX_RV_TLB_SIZE - 1)];
  uint64_t want = va & PAGE_MASK;
  for (unsigned i = 0; i < VMX_RV_TLB_VICTIMS; i++) {
    vmx_rv_tlb_entry_t *v = &sys->victim[regime][i];
    uint64_t tag = acc == VMX_RV_ACC_LOAD ? v->tag_r : acc == VMX_RV_ACC_STORE ? v->tag_w : v->tag_x;
    if ((tag & ~TAG_FLAGS) == want) {
      vmx_rv_tlb_entry_t t = *slot;
      *slot = *v;
      *v = t;
      return slot;
    }
  }
  /* The slot's entry becomes a victim (if it holds anything). */
  if (!(slot->tag_r & slot->tag_w & slot->tag_x & VMX_RV_TLB_INVALID)) {
    sys->victim[regime][sys->victim_next[regime]] = *slot;
    sys->victim_next[regime] = (sys->victim_next[regime] + 1) % VMX_RV_TLB_VICTIMS;
  }
  sys->tlb_walks++;
  walk_t w;
  unsigned cause = walk(cpu, va, acc, regime, true, &w);
  bool partial = false;
  if (!cause) {
    w.perm &= pmp_allows(sys, w.pa, size, acc, regime, &partial);
    if (!(w.perm & need_perm(acc)))
      cause = access_fault(acc);
  }
  if (cause) {
    sys->trap_cause = cause;
    sys->trap_tval = va;
    return NULL;
  }
  vmx_rv_tlb_entry_t *e = &sys->tlb[regime][(va >> 12) & (VMX_RV_TLB_SIZE - 1)];
  uint64_t page = va & PAGE_MASK, pa_page = w.pa & PAGE_MASK;
  /* A page PMP splits is never a hit: each access comes back here. */
  uint64_t split = partial ? VMX_RV_TLB_PMP : 0;
  uint64_t io = 0;
  if (in_ram(sys, pa_page, 4096)) {
    e->addend = (uintptr_t)(sys->ram + (pa_page - sys->ram_base)) - (uintptr_t)page;
  } else {
    e->addend = 0;
    io = VMX_RV_TLB_IO;
  }
  e->pa = pa_page;
  e->tag_r = w.perm & PTE_R ? page | io | split : VMX_RV_TLB_INVALID;
  e->tag_w = w.perm & PTE_W ? page | io | split | (pa_page == sys->watch_pa ? VMX_RV_TLB_IO : 0)
                            : VMX_RV_TLB_INVALID;
  e->tag_x = w.perm & PTE_X && !io ? page | split : VMX_RV_TLB_INVALID;
  if (sys->pages && !io && (w.perm & PTE_W)) {
    uint64_t pn = vmx_pages_index(sys->pages, pa_page);
    if (pn != UINT64_MAX && vmx_pages_has_code(sys->pages, pn))
      e->tag_w |= VMX_RV_TLB_NOTIFY;
    if (pn != UINT64_MAX && vmx_pages_logging(sys->pages) &&
        !vmx_pages_dirty_in(sys->pages, sys->shard, pn))
      e->tag_w |= VMX_RV_TLB_DIRTY;
  }
  if (w.super)
    sys->tlb_super = true;
  return e;
}

/* The entry that allows acc (of size bytes) at va in regime, filling it on
 * a miss. */
static vmx_rv_tlb_entry_t *lookup(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size,
                                  vmx_rv_access_t acc, unsigned regime) {
  vmx_rv_tlb_entry_t *e = &cpu->sys->tlb[regime][(va >> 12) & (VMX_RV_TLB_SIZE - 1)];
  uint64_t tag = acc == VMX_RV_ACC_LOAD ? e->tag_r : acc == VMX_RV_ACC_STORE ? e->tag_w : e->tag_x;
  if ((tag & ~TAG_FLAGS) == (va & PAGE_MASK))
    return e;
  return fill(cpu, va, size, acc, regime);
}

const uint8_t *vmx_rv_mmu_fetch(vmx_rv_cpu_t *cpu, uint64_t va, uint64_t *pa) {
  vmx_rv_sys_t *sys = cpu->sys;
  vmx_rv_tlb_entry_t *e = &sys->tlb[sys->mmu_fetch][(va >> 12) & (VMX_RV_TLB_SIZE - 1)];
  if (e->tag_x != (va & PAGE_MASK)) {
    e = fill(cpu, va, 2, VMX_RV_ACC_FETCH, sys->mmu_fetch);
    if (!e)
      return NULL;
    if ((e->tag_x & ~VMX_RV_TLB_PMP) != (va & PAGE_MASK)) {
      /* Executable, but not RAM. */
      sys->trap_cause = VMX_RV_CAUSE_FETCH_ACCESS;
      sys->trap_tval = va;
      return NULL;
    }
  }
  *pa = e->pa | (va & 0xfff);
  return (const uint8_t *)(uintptr_t)((va & PAGE_MASK) + e->addend);
}

static bool load_one(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, uint64_t *val) {
  vmx_rv_sys_t *sys = cpu->sys;
  vmx_rv_tlb_entry_t *e = lookup(cpu, va, size, VMX_RV_ACC_LOAD, sys->mmu_data);
  if (!e)
    return false;
  if (!(e->tag_r & VMX_RV_TLB_IO)) {
    uint64_t v = 0;
    memcpy(&v, (void *)(uintptr_t)(va + e->addend), size);
    *val = v;
    return true;
  }
  uint64_t pa = e->pa | (va & 0xfff);
  if (!sys->ops->mmio_read(sys->machine, cpu, pa, size, val)) {
    sys->trap_cause = VMX_RV_CAUSE_LOAD_ACCESS;
    sys->trap_tval = va;
    return false;
  }
  return true;
}

static bool store_one(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, uint64_t val) {
  vmx_rv_sys_t *sys = cpu->sys;
  vmx_rv_tlb_entry_t *e = lookup(cpu, va, size, VMX_RV_ACC_STORE, sys->mmu_data);
  if (!e)
    return false;
  uint64_t pa = e->pa | (va & 0xfff);
  bool ram = in_ram(sys, e->pa, 4096);
  if (ram)
    memcpy((void *)(uintptr_t)(va + e->addend), &val, size);
  /* NOTIFY stays until the entry is refilled: a hart may decode the page
   * again right after this store dropped the last of its code. */
  if (e->tag_w & VMX_RV_TLB_NOTIFY)
    code_written(cpu, pa, size);
  if (e->tag_w & VMX_RV_TLB_DIRTY) {
    page_dirtied(cpu, pa);
    e->tag_w &= ~VMX_RV_TLB_DIRTY;
  }
  if (!(e->tag_w & VMX_RV_TLB_IO))
    return true;
  /* A device, or the watched RAM page (told after the store). */
  if (!sys->ops->mmio_write(sys->machine, cpu, pa, size, val) && !ram) {
    sys->trap_cause = VMX_RV_CAUSE_STORE_ACCESS;
    sys->trap_tval = va;
    return false;
  }
  return true;
}

bool vmx_rv_mem_load(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, uint64_t *val) {
  if ((va & 0xfff) + size <= 4096)
    return load_one(cpu, va, size, val);
  /* Across a page: byte by byte, little-endian. */
  uint64_t v = 0;
  for (unsigned i = 0; i < size; i++) {
    uint64_t b;
    if (!load_one(cpu, va + i, 1, &b))
      return false;
    v |= b << (8 * i);
  }
  *val = v;
  return true;
}

bool vmx_rv_mem_store(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, uint64_t val) {
  if ((va & 0xfff) + size <= 4096)
    return store_one(cpu, va, size, val);
  /* Check both pages first, so a fault on the second stores nothing. */
  vmx_rv_sys_t *sys = cpu->sys;
  uint64_t last = va + size - 1;
  if (!lookup(cpu, va, 1, VMX_RV_ACC_STORE, sys->mmu_data) ||
      !lookup(cpu, last, 1, VMX_RV_ACC_STORE, sys->mmu_data))
    return false;
  for (unsigned i = 0; i < size; i++)
    if (!store_one(cpu, va + i, 1, (val >> (8 * i)) & 0xff))
      return false;
  return true;
}

uint8_t *vmx_rv_mem_atomic(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, bool write) {
  vmx_rv_sys_t *sys = cpu->sys;
  if (va & (size - 1)) {
    sys->trap_cause = write ? VMX_RV_CAUSE_STORE_MISALIGNED : VMX_RV_CAUSE_LOAD_MISALIGNED;
    sys->trap_tval = va;
    return NULL;
  }
  vmx_rv_access_t acc = write ? VMX_RV_ACC_STORE : VMX_RV_ACC_LOAD;
  vmx_rv_tlb_entry_t *e = lookup(cpu, va, size, acc, sys->mmu_data);
  if (!e)
    return NULL;
  if (!in_ram(sys, e->pa, 4096)) {
    sys->trap_cause = write ? VMX_RV_CAUSE_STORE_ACCESS : VMX_RV_CAUSE_LOAD_ACCESS;
    sys->trap_tval = va;
    return NULL;
  }
  /* The caller writes; announced after that (vmx_rv_mem_atomic_done), or
   * another hart could decode the old bytes again in between. */
  if (write && (e->tag_w & VMX_RV_TLB_NOTIFY)) {
    sys->amo_pa = e->pa | (va & 0xfff);
    sys->amo_len = size;
  }
  if (write && (e->tag_w & VMX_RV_TLB_DIRTY)) {
    page_dirtied(cpu, e->pa);
    e->tag_w &= ~VMX_RV_TLB_DIRTY;
  }
  return (uint8_t *)(uintptr_t)(va + e->addend);
}

void vmx_rv_mem_atomic_done(vmx_rv_cpu_t *cpu) {
  vmx_rv_sys_t *sys = cpu->sys;
  code_written(cpu, sys->amo_pa, sys->amo_len);
  sys->amo_len = 0;
}

/* The entries of one table that map pa_page for stores take the slow path;
 * returns whether one of them did not before. */
static bool protect_table(vmx_rv_tlb_entry_t *t, unsigned n, uint64_t pa_page) {
  bool fast = false;
  for (unsigned i = 0; i < n; i++)
    if (t[i].pa == pa_page && !(t[i].tag_w & VMX_RV_TLB_INVALID)) {
      fast |= !(t[i].tag_w & VMX_RV_TLB_NOTIFY);
      t[i].tag_w |= VMX_RV_TLB_NOTIFY;
    }
  return fast;
}

bool vmx_rv_tlb_protect(vmx_rv_cpu_t *cpu, uint64_t pa_page) {
  vmx_rv_sys_t *sys = cpu->sys;
  bool fast = false;
  for (unsigned r = 0; r < VMX_RV_MMU_COUNT; r++) {
    fast |= protect_table(sys->tlb[r], VMX_RV_TLB_SIZE, pa_page);
    fast |= protect_table(sys->victim[r], VMX_RV_TLB_VICTIMS, pa_page);
  }
  for (unsigned k = 0; k < VMX_RV_TLB_SETS; k++)
    if (sys->tlb_set[k].valid)
      for (unsigned t = 0; t < 3; t++)
        fast |= protect_table(sys->tlb_set[k].tlb[t], VMX_RV_TLB_SIZE, pa_page);
  return fast;
}
