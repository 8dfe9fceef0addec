/* The RV64GC hart: architectural state and the execution entry point.
 *
 * A vmx_rv_cpu_t is owned by exactly one host thread (its vCPU thread); only
 * exit_request may be written by other threads. Guest memory is reached
 * through one host mapping: guest address a lives at host address
 * mem_base + a for every a < mem_limit, and any access at or above mem_limit
 * faults. The bounds check and the add are the whole fast path, so generated
 * code can inline it (see vmx_rv_g2h()).
 */
#ifndef VMX_CPU_RISCV_CPU_H
#define VMX_CPU_RISCV_CPU_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem/rv_pmp.h"

/* Why vmx_rv_cpu_run() returned. */
typedef enum {
  VMX_RV_EXIT_ECALL,    /* ecall retired: pc is the next instruction */
  VMX_RV_EXIT_EBREAK,   /* pc is the ebreak, not retired */
  VMX_RV_EXIT_ILLEGAL,  /* pc is the instruction, exit_insn its bits */
  VMX_RV_EXIT_FAULT,    /* pc is the instruction; see fault_* */
  VMX_RV_EXIT_LIMIT,    /* icount reached icount_limit */
  VMX_RV_EXIT_REQUEST,  /* exit_request was set */
  VMX_RV_EXIT_WFI,      /* system mode: wfi with nothing pending; pc is past it */
  VMX_RV_EXIT_BREAKPOINT, /* debugger (vmx_rv_cpu_run_dbg): pc is a breakpoint, not run */
  VMX_RV_EXIT_WATCH,    /* debugger: the instruction at pc would touch a watched
                           range (dbg->hit_*); it has not run */
} vmx_rv_exit_t;

/* Bits of exit_request. Other threads set EXIT; the cpu sets IRQ on itself
 * when something it did may have made an interrupt deliverable; CODE means
 * the hart's page requests (mem/pages.h) want a look. */
enum { VMX_RV_REQ_EXIT = 1, VMX_RV_REQ_IRQ = 2, VMX_RV_REQ_CODE = 4 };

/* Privilege levels. */
enum { VMX_RV_PRIV_U = 0, VMX_RV_PRIV_S = 1, VMX_RV_PRIV_M = 3 };

/* A system-mode TLB entry. The host address of virtual address va is
 * va + addend when the entry's tag for the access kind equals va's page
 * number shifted back (va & ~0xfff); tags carry VMX_RV_TLB_INVALID or
 * VMX_RV_TLB_IO in their low bits so that the compare fails and the slow
 * path runs. Aligned accesses need one compare: (va & (~0xfff | (size-1))). */
typedef struct vmx_rv_tlb_entry {
  uint64_t tag_r, tag_w, tag_x;
  uintptr_t addend;
  uint64_t pa;                  /* guest-physical page address */
} vmx_rv_tlb_entry_t;

#define VMX_RV_TLB_SIZE 256
#define VMX_RV_TLB_VICTIMS 8
#define VMX_RV_TLB_INVALID ((uint64_t)1 << 10)
#define VMX_RV_TLB_IO ((uint64_t)1 << 11)
/* In tag_w: the page holds decoded code, so stores take the slow path,
 * which tells the harts that decoded it (mem/pages.h). */
#define VMX_RV_TLB_NOTIFY ((uint64_t)1 << 9)
/* In tag_w: dirty logging is on and this hart has not marked the page
 * written yet; the slow path marks it and clears the bit. */
#define VMX_RV_TLB_DIRTY ((uint64_t)1 << 7)
/* Allowed, but a PMP entry covers only part of the page: every access
 * misses and is checked at its exact address (mem/rv_mmu.c). */
#define VMX_RV_TLB_PMP ((uint64_t)1 << 8)

/* Translation regimes, one TLB each: U, S, M (bare; data accesses under
 * MPRV use MPP's regime), and S with mstatus.SUM set, so that Linux's
 * toggling of SUM around every user copy switches tables instead of
 * flushing one. */
enum { VMX_RV_MMU_U, VMX_RV_MMU_S, VMX_RV_MMU_M, VMX_RV_MMU_S_SUM, VMX_RV_MMU_COUNT };

/* Address spaces whose U and S entries a hart keeps across satp writes:
 * the TLB is tagged by the whole satp (mode, ASID and root) at the
 * granularity of a table set. */
#define VMX_RV_TLB_SETS 4

struct vmx_rv_cpu;

/* What a machine provides to its harts (system mode). */
typedef struct vmx_rv_machine_ops {
  /* Device access at guest-physical pa (not RAM). Return false for an
   * access fault. May block (the device answers by message). */
  bool (*mmio_read)(void *machine, struct vmx_rv_cpu *cpu, uint64_t pa, unsigned size,
                    uint64_t *val);
  bool (*mmio_write)(void *machine, struct vmx_rv_cpu *cpu, uint64_t pa, unsigned size,
                     uint64_t val);
  /* mtime as cpu sees it after `now` retired instructions, for the time
   * CSR and Sstc (a machine with one host-derived clock may ignore cpu and
   * now; under -icount each hart's clock is a function of them). */
  uint64_t (*mtime)(void *machine, struct vmx_rv_cpu *cpu, uint64_t now);
  /* The hart's stimecmp changed (Sstc): wake it at that mtime. */
  void (*timer_changed)(void *machine, struct vmx_rv_cpu *cpu, uint64_t stimecmp);
} vmx_rv_machine_ops_t;

/* System-mode state of a hart (privileged spec names). */
typedef struct vmx_rv_sys {
  /* The guest-physical memory map: RAM at [ram_base, ram_base+ram_size)
   * at host address ram, with one RAM page (watch_pa, or ~0) whose stores
   * go through mmio_write as well (HTIF's tohost). Everything else is
   * mmio. */
  uint8_t *ram;
  uint64_t ram_base, ram_size;
  uint64_t watch_pa;
  /* RAM's page descriptors (which harts hold code where), shared by the
   * machine's harts, this hart's shard in them; NULL: none, and fence.i
   * drops every decoded block instead. */
  struct vmx_pages *pages;
  unsigned shard;
  const vmx_rv_machine_ops_t *ops;
  void *machine;

  unsigned priv;
  unsigned mmu_fetch, mmu_data;  /* TLB regime for fetches and for data */
  uint64_t mhartid;
  uint64_t mstatus, misa, medeleg, mideleg, mie, mip, mtvec, mscratch, mepc, mcause, mtval;
  uint64_t mcounteren, mcountinhibit, menvcfg;
  uint64_t stvec, sscratch, sepc, scause, stval, scounteren, senvcfg, satp, stimecmp;
  vmx_rv_pmp_t pmp;
  uint64_t mcycle_off, minstret_off; /* written value minus icount, or the
                                        frozen value while mcountinhibit stops it */
  /* Interrupt lines from devices (MEIP SEIP MTIP MSIP): written by device
   * threads (vmx_rv_sys_set_lines), read by the hart. */
  _Atomic uint64_t ext_mip;

  /* A trap raised by a helper: cause and tval. */
  uint64_t trap_cause, trap_tval;
  bool tlb_super;                /* the TLB holds pieces of a superpage */

  vmx_rv_tlb_entry_t tlb[VMX_RV_MMU_COUNT][VMX_RV_TLB_SIZE];
  /* Entries the table evicted, looked at on a miss before walking: two
   * pages whose numbers share their low bits (a copy between buffers a
   * multiple of 1 MiB apart) would otherwise evict each other on every
   * access. Emptied by every sfence.vma and satp change. */
  vmx_rv_tlb_entry_t victim[VMX_RV_MMU_COUNT][VMX_RV_TLB_VICTIMS];
  unsigned victim_next[VMX_RV_MMU_COUNT];
  uint64_t tlb_walks;            /* misses that walked the page table */
  uint64_t amo_pa;               /* an AMO/SC to a page with code: where, and */
  unsigned amo_len;              /* its size, until vmx_rv_mem_atomic_done (0: none) */

  /* The U, S and S_SUM tables of other address spaces, by satp (mem/rv_mmu.c). */
  struct vmx_rv_tlb_set {
    uint64_t satp;
    uint64_t used;              /* last switch to it, for replacement */
    bool valid, super;
    vmx_rv_tlb_entry_t tlb[3][VMX_RV_TLB_SIZE];
  } tlb_set[VMX_RV_TLB_SETS];
  uint64_t tlb_switches;
} vmx_rv_sys_t;

/* The access that faulted (VMX_RV_EXIT_FAULT). */
typedef enum {
  VMX_RV_FAULT_LOAD,
  VMX_RV_FAULT_STORE,     /* stores and AMOs */
  VMX_RV_FAULT_FETCH,
  VMX_RV_FAULT_MISALIGNED /* misaligned LR/SC/AMO (the spec lets us trap) */
} vmx_rv_fault_t;

/* Rounding modes (RISC-V unpriv §11.2, the frm field). */
enum { VMX_RV_RNE = 0, VMX_RV_RTZ, VMX_RV_RDN, VMX_RV_RUP, VMX_RV_RMM, VMX_RV_DYN = 7 };

/* Accrued exception flags (fflags). */
enum { VMX_RV_FF_NX = 1, VMX_RV_FF_UF = 2, VMX_RV_FF_OF = 4, VMX_RV_FF_DZ = 8, VMX_RV_FF_NV = 16 };

struct vmx_rv_bcache;

/* Breakpoints and watchpoints a debugger set on one cpu (the debug
 * variants of the interpreter, vmx_rv_cpu_run_dbg and _sys_dbg, obey
 * them). Addresses are virtual. Owned by the cpu's thread; after changing
 * bp, call vmx_rv_cpu_flush_code (blocks are built around breakpoints). */
#define VMX_RV_DBG_MAX_BP 64
#define VMX_RV_DBG_MAX_WP 16
enum { VMX_RV_WATCH_WRITE = 1, VMX_RV_WATCH_READ = 2 };
typedef struct vmx_rv_dbg {
  unsigned nbp, nwp;
  uint64_t bp[VMX_RV_DBG_MAX_BP];
  struct vmx_rv_watch {
    uint64_t addr, len;
    unsigned kind;              /* VMX_RV_WATCH_* bits that trigger it */
  } wp[VMX_RV_DBG_MAX_WP];
  bool stepping;                /* system mode: a trap taken ends the run (the
                                   step lands on the handler), and interrupts
                                   are not taken */
  bool wp_off;                  /* watchpoints ignored (stepping over a hit) */
  unsigned hit;                 /* VMX_RV_EXIT_WATCH: index into wp */
  uint64_t hit_addr;            /* ...and the accessed address */
  /* --trace-exec: called with the pc of every block entered (cpu's
   * thread); NULL for none. */
  void (*trace)(void *arg, uint32_t id, uint64_t pc);
  void *trace_arg;
  uint32_t trace_id;            /* the guest thread or hart it names */
} vmx_rv_dbg_t;

typedef struct vmx_rv_cpu {
  /* Hot state, used by every instruction: one cache-line group. */
  alignas(64) uint64_t x[33];   /* x[0] is kept 0; x[32] is where decoded
                                   code sends writes to x0 */
  uint64_t pc;
  uint8_t *mem_base;            /* host address of guest address 0 */
  uint64_t mem_limit;           /* first guest address that faults */
  uint64_t icount;              /* instructions retired, exact at every exit */
  uint64_t icount_limit;        /* run stops when icount reaches it */

  alignas(64) uint64_t f[32];   /* FP registers; singles NaN-boxed */
  uint32_t fflags;              /* accrued flags (VMX_RV_FF_*) */
  uint32_t frm;                 /* dynamic rounding mode */

  /* LR/SC reservation: address and the value LR saw. SC succeeds when the
   * word still holds that value (compare-and-swap), which is atomic with
   * respect to other harts on other host threads. */
  uint64_t resv_addr;
  uint64_t resv_val;
  bool resv_valid;

  /* Written by any thread to make the vCPU leave vmx_rv_cpu_run() at the
   * next block boundary; read (relaxed: a late read only delays the exit by
   * one block) by the vCPU thread, which clears it. */
  alignas(64) _Atomic uint32_t exit_request;

  /* Exit details, valid after the corresponding exit. */
  uint32_t exit_insn;           /* VMX_RV_EXIT_ILLEGAL: instruction bits */
  vmx_rv_fault_t fault_kind;    /* VMX_RV_EXIT_FAULT */
  uint64_t fault_addr;          /* VMX_RV_EXIT_FAULT: guest address */
  int fault_host_code;          /* host si_code (SEGV_MAPERR/ACCERR/...) */

  /* The code generation this cpu's decoded blocks belong to. When *code_gen
   * (shared by all vCPUs of an address space) differs, the block cache is
   * flushed before the next block runs (user mode: munmap, mprotect,
   * fence.i; system mode: a debugger's memory write). */
  uint64_t bcache_gen;
  _Atomic uint64_t *code_gen;   /* never NULL after init */
  _Atomic uint64_t own_code_gen;
  struct vmx_rv_bcache *bcache;

  void *opaque;                 /* owner (the Linux thread, the machine) */

  /* System mode (vmx_rv_cpu_run_sys); NULL in user mode. */
  vmx_rv_sys_t *sys;

  /* Debugger state, or NULL when none is attached. */
  vmx_rv_dbg_t *dbg;
  uint8_t bcache_variant;       /* 1: the block cache holds debug-variant blocks */

  /* Optional: asked once per decoded block (and page) whether guest code
   * may be fetched at addr; returns 0, or the si_code of the fault
   * (SEGV_MAPERR, SEGV_ACCERR) to report. NULL: all memory executable. */
  int (*fetch_check)(struct vmx_rv_cpu *cpu, uint64_t addr);

  /* Interpreter-private: instructions left before icount_limit during a
   * run, and the instruction whose guest access may fault. */
  uint64_t budget;
  const struct vmx_rv_insn *cur_insn;
} vmx_rv_cpu_t;

/* Initialises cpu with all registers zero, frm RNE, no icount limit, and
 * guest memory [0, mem_limit) at host mem_base. code_gen may be NULL when
 * nothing else changes code (the cpu then uses a private counter). Returns
 * 0 or VMX_ENOMEM. */
int vmx_rv_cpu_init(vmx_rv_cpu_t *cpu, uint8_t *mem_base, uint64_t mem_limit,
                    _Atomic uint64_t *code_gen);

/* Copies the architectural state (registers, pc, FP state, icount) and the
 * fetch_check hook of src into dst, which must be initialised; the
 * reservation is not copied. Used for clone() and fork(). */
void vmx_rv_cpu_copy_state(vmx_rv_cpu_t *dst, const vmx_rv_cpu_t *src);

/* Frees the block cache. */
void vmx_rv_cpu_close(vmx_rv_cpu_t *cpu);

/* Runs guest code from cpu->pc until an exit (see vmx_rv_exit_t). The
 * calling thread becomes the cpu's thread for the duration; host faults on
 * guest memory must be routed to vmx_rv_cpu_host_fault() by the process's
 * SIGSEGV/SIGBUS handler. */
vmx_rv_exit_t vmx_rv_cpu_run(vmx_rv_cpu_t *cpu);

/* Runs guest code in system mode (cpu->sys set up by vmx_rv_sys_init):
 * traps are taken inside; returns on REQUEST, LIMIT or WFI. */
vmx_rv_exit_t vmx_rv_cpu_run_sys(vmx_rv_cpu_t *cpu);

/* The same two with cpu->dbg obeyed (it must be set): they return
 * VMX_RV_EXIT_BREAKPOINT before running an instruction at a breakpoint and
 * VMX_RV_EXIT_WATCH before an access to a watched range; with icount_limit
 * one past icount they step exactly one instruction (system mode: or stop
 * at the handler of a trap the instruction raised). Slower: used only while
 * a debugger is attached. */
vmx_rv_exit_t vmx_rv_cpu_run_dbg(vmx_rv_cpu_t *cpu);
vmx_rv_exit_t vmx_rv_cpu_run_sys_dbg(vmx_rv_cpu_t *cpu);

/* Called from a host SIGSEGV/SIGBUS handler on any thread. When the fault is
 * a guest memory access of the cpu this thread is running, it does not
 * return: the run ends with VMX_RV_EXIT_FAULT. Otherwise returns false and
 * the handler should treat the fault as vmx's own. */
bool vmx_rv_cpu_host_fault(int signo, int si_code, void *host_addr);

/* Drops every decoded block of this cpu (called by the owner thread). */
void vmx_rv_cpu_flush_code(vmx_rv_cpu_t *cpu);

/* System mode with page descriptors (sys->pages), owner thread: drops the
 * blocks decoded from RAM page pn (its number in sys->pages), and takes
 * the page requests other threads left for this hart. */
void vmx_rv_code_drop_page(vmx_rv_cpu_t *cpu, uint64_t pn);
void vmx_rv_code_sync(vmx_rv_cpu_t *cpu);

/* Asks the cpu to leave vmx_rv_cpu_run() at the next block boundary.
 * Thread-safe, async-signal-safe. */
static inline void vmx_rv_cpu_kick(vmx_rv_cpu_t *cpu) {
  atomic_store_explicit(&cpu->exit_request, 1, memory_order_release);
}

/* Host pointer for guest address a, or NULL when [a, a+len) is outside
 * guest memory. (A non-NULL pointer may still fault if the page is not
 * mapped with the needed protection.) */
static inline void *vmx_rv_g2h(const vmx_rv_cpu_t *cpu, uint64_t a, uint64_t len) {
  if (a >= cpu->mem_limit || len > cpu->mem_limit - a)
    return 0;
  return cpu->mem_base + a;
}

/* Reads CSR csr for the instruction at icount `now`; returns false when the
 * CSR does not exist or is not accessible in user mode. */
bool vmx_rv_csr_read(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t now, uint64_t *val);

/* Writes CSR csr; returns false when it is read-only or does not exist. */
bool vmx_rv_csr_write(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t val);

#endif
