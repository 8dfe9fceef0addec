/* The system-mode MMU (src/mem/rv_mmu.c) and privileged architecture
 * (src/cpu/riscv/priv.c) driven directly, with no machine: a RAM buffer
 * holding Sv39, Sv48 and Sv57 page tables built by the test, stub device
 * callbacks that record what reaches them, and checks of translations,
 * trap causes and tvals, A/D bits, SUM/MXR, superpages, TLB flushes, trap
 * delegation and interrupt priority (RISC-V privileged spec 1.12, §3.1,
 * §4.3-4.5, and Sstc). A few tests run hand-assembled code through the
 * system-mode interpreter (vmx_rv_cpu_run_sys) on the same stub machine,
 * stopping at a wfi with nothing pending.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/riscv/cpu.h"
#include "cpu/riscv/priv.h"
#include "mem/rv_mmu.h"

/* Guest-physical map: 4 MiB of RAM at 2 GiB (1 GiB-aligned, so a gigapage
 * can map it), one device page below it, nothing else. */
#define RAM_BASE UINT64_C(0x80000000)
#define RAM_SIZE (UINT64_C(4) << 20)
#define DEV_BASE UINT64_C(0x10000000)
#define DEV_VALUE UINT64_C(0x1122334455667788)
/* Data pages for the tests, the page-table pool, and a 2 MiB-aligned
 * stretch of RAM for megapages. */
#define DATA(n) (RAM_BASE + 0x10000 + (uint64_t)(n) * 0x1000)
#define PT_POOL (RAM_BASE + 0x100000)
#define PT_POOL_END (RAM_BASE + 0x200000)
#define MEGA_PA (RAM_BASE + 0x200000)

#define PTE_V UINT64_C(1)
#define PTE_R UINT64_C(2)
#define PTE_W UINT64_C(4)
#define PTE_X UINT64_C(8)
#define PTE_U UINT64_C(16)
#define PTE_G UINT64_C(32)
#define PTE_A UINT64_C(64)
#define PTE_D UINT64_C(128)

/* CSR numbers (privileged spec table 2.2-2.5). */
enum {
  CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SIP = 0x144,
  CSR_SEPC = 0x141, CSR_STIMECMP = 0x14d, CSR_SATP = 0x180, CSR_MSTATUS = 0x300, CSR_MEDELEG = 0x302,
  CSR_MIDELEG = 0x303, CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306,
  CSR_MENVCFG = 0x30a, CSR_MEPC = 0x341, CSR_MIP = 0x344,
};

#define MIP(irq) VMX_RV_MIP(VMX_RV_IRQ_##irq)
#define IRQ(irq) (VMX_RV_CAUSE_INTERRUPT | VMX_RV_IRQ_##irq)

typedef struct fixture {
  vmx_rv_cpu_t cpu;
  vmx_rv_sys_t sys;
  uint8_t *ram;
  uint64_t next_pt; /* next free page-table page */
  uint64_t mtime;
  /* What reached the device callbacks. */
  unsigned reads, writes, timer_calls;
  uint64_t dev_pa, dev_val, timer_value;
  unsigned dev_size;
} fixture_t;

/* ------------------------------------------------------------ the stub machine */

static bool in_dev(uint64_t pa, unsigned size) {
  return pa >= DEV_BASE && pa + size <= DEV_BASE + 0x1000;
}

static bool stub_mmio_read(void *machine, vmx_rv_cpu_t *cpu, uint64_t pa, unsigned size,
                           uint64_t *val) {
  fixture_t *f = machine;
  (void)cpu;
  f->reads++;
  f->dev_pa = pa;
  f->dev_size = size;
  if (!in_dev(pa, size))
    return false;
  *val = size == 8 ? DEV_VALUE : DEV_VALUE & ((UINT64_C(1) << (8 * size)) - 1);
  return true;
}

/* The device page, and the watched RAM page (the store is in RAM already). */
static bool stub_mmio_write(void *machine, vmx_rv_cpu_t *cpu, uint64_t pa, unsigned size,
                            uint64_t val) {
  fixture_t *f = machine;
  f->writes++;
  f->dev_pa = pa;
  f->dev_size = size;
  f->dev_val = val;
  return in_dev(pa, size) || (pa & ~UINT64_C(0xfff)) == cpu->sys->watch_pa;
}

static uint64_t stub_mtime(void *machine, vmx_rv_cpu_t *cpu, uint64_t now) {
  (void)cpu;
  (void)now;
  return ((fixture_t *)machine)->mtime;
}

static void stub_timer_changed(void *machine, vmx_rv_cpu_t *cpu, uint64_t stimecmp) {
  fixture_t *f = machine;
  (void)cpu;
  f->timer_calls++;
  f->timer_value = stimecmp;
}

static const vmx_rv_machine_ops_t stub_ops = {
    .mmio_read = stub_mmio_read,
    .mmio_write = stub_mmio_write,
    .mtime = stub_mtime,
    .timer_changed = stub_timer_changed,
};

static int setup(void **state) {
  fixture_t *f = aligned_alloc(64, (sizeof *f + 63) & ~(size_t)63);
  if (!f)
    return -1;
  memset(f, 0, sizeof *f);
  f->ram = calloc(1, RAM_SIZE);
  if (!f->ram || vmx_rv_cpu_init(&f->cpu, NULL, 0, NULL)) {
    free(f->ram);
    free(f);
    return -1;
  }
  f->sys.ram = f->ram;
  f->sys.ram_base = RAM_BASE;
  f->sys.ram_size = RAM_SIZE;
  f->sys.watch_pa = UINT64_MAX;
  f->sys.ops = &stub_ops;
  f->sys.machine = f;
  vmx_rv_sys_init(&f->cpu, &f->sys, 0);
  /* As firmware does before it leaves M-mode: a PMP entry (pmpaddr0,
   * pmpcfg0 NAPOT RWX) over everything, or S and U could reach nothing
   * (priv §3.7.1). */
  if (!vmx_rv_sys_csr_write(&f->cpu, 0x3b0, UINT64_MAX, 0) ||
      !vmx_rv_sys_csr_write(&f->cpu, 0x3a0, 0x1f, 0)) {
    vmx_rv_cpu_close(&f->cpu);
    free(f->ram);
    free(f);
    return -1;
  }
  f->next_pt = PT_POOL;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  vmx_rv_cpu_close(&f->cpu);
  free(f->ram);
  free(f);
  return 0;
}

/* ------------------------------------------------------------ helpers */

static uint8_t *host(fixture_t *f, uint64_t pa) { return f->ram + (pa - RAM_BASE); }

static uint64_t ram64(fixture_t *f, uint64_t pa) {
  uint64_t v;
  memcpy(&v, host(f, pa), 8);
  return v;
}

static void set_ram64(fixture_t *f, uint64_t pa, uint64_t v) { memcpy(host(f, pa), &v, 8); }

static uint64_t pt_alloc(fixture_t *f) {
  uint64_t pa = f->next_pt;
  f->next_pt += 0x1000;
  assert_true(f->next_pt <= PT_POOL_END);
  memset(host(f, pa), 0, 0x1000);
  return pa;
}

/* Maps va to pa with a leaf PTE (flags) at `level` (0: 4 KiB, 1: 2 MiB,
 * 2: 1 GiB, ...) in the `levels`-level table at root, adding pointer PTEs
 * on the way down; returns the leaf's host address. */
static uint64_t *map(fixture_t *f, uint64_t root, unsigned levels, uint64_t va, uint64_t pa,
                     unsigned level, uint64_t flags) {
  uint64_t table = root;
  for (int l = (int)levels - 1; l > (int)level; l--) {
    uint64_t *pte = (uint64_t *)host(f, table + ((va >> (12 + 9 * l)) & 0x1ff) * 8);
    if (!(*pte & PTE_V))
      *pte = (pt_alloc(f) >> 12) << 10 | PTE_V;
    table = ((*pte >> 10) & ((UINT64_C(1) << 44) - 1)) << 12;
  }
  uint64_t *leaf = (uint64_t *)host(f, table + ((va >> (12 + 9 * level)) & 0x1ff) * 8);
  *leaf = (pa >> 12) << 10 | flags;
  return leaf;
}

static bool csr_read(fixture_t *f, uint32_t csr, uint64_t *val) {
  return vmx_rv_sys_csr_read(&f->cpu, csr, 0, val);
}

static bool csr_write(fixture_t *f, uint32_t csr, uint64_t val) {
  return vmx_rv_sys_csr_write(&f->cpu, csr, val, 0);
}

static uint64_t csr(fixture_t *f, uint32_t csr) {
  uint64_t v = 0;
  assert_true(csr_read(f, csr, &v));
  return v;
}

/* A new page table of `mode` (VMX_RV_SATP_SV39/48/57) installed in satp
 * from M-mode; returns its root. */
static uint64_t paging_on(fixture_t *f, unsigned mode) {
  uint64_t root = pt_alloc(f);
  assert_true(csr_write(f, CSR_SATP, (uint64_t)mode << 60 | root >> 12));
  return root;
}

static unsigned levels_of(unsigned mode) {
  return mode == VMX_RV_SATP_SV39 ? 3 : mode == VMX_RV_SATP_SV48 ? 4 : 5;
}

/* From M-mode, mret into priv (VMX_RV_PRIV_S or _U). */
static void enter(fixture_t *f, unsigned priv) {
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_M);
  uint64_t st = csr(f, CSR_MSTATUS) & ~VMX_RV_MSTATUS_MPP;
  assert_true(csr_write(f, CSR_MSTATUS, st | (uint64_t)priv << 11));
  assert_true(csr_write(f, CSR_MEPC, 0x1000));
  assert_int_equal(vmx_rv_sys_mret(&f->cpu), 0x1000);
  assert_int_equal(f->sys.priv, priv);
}

/* Back to M-mode by an ecall (nothing delegated in these tests). */
static void back_to_m(fixture_t *f) {
  vmx_rv_sys_trap(&f->cpu, VMX_RV_CAUSE_ECALL_U + f->sys.priv, 0, 0x1000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_M);
}

static uint64_t load(fixture_t *f, uint64_t va, unsigned size) {
  uint64_t v = 0;
  assert_true(vmx_rv_mem_load(&f->cpu, va, size, &v));
  return v;
}

/* The load/store/fetch at va faults with cause and tval == tval. */
static void load_faults(fixture_t *f, uint64_t va, unsigned size, unsigned cause,
                        uint64_t tval) {
  uint64_t v;
  assert_false(vmx_rv_mem_load(&f->cpu, va, size, &v));
  assert_int_equal(f->sys.trap_cause, cause);
  assert_int_equal(f->sys.trap_tval, tval);
}

static void store_faults(fixture_t *f, uint64_t va, unsigned size, unsigned cause,
                         uint64_t tval) {
  assert_false(vmx_rv_mem_store(&f->cpu, va, size, 0x5a5a5a5a5a5a5a5a));
  assert_int_equal(f->sys.trap_cause, cause);
  assert_int_equal(f->sys.trap_tval, tval);
}

static void fetch_faults(fixture_t *f, uint64_t va, unsigned cause) {
  uint64_t pa;
  assert_null(vmx_rv_mmu_fetch(&f->cpu, va, &pa));
  assert_int_equal(f->sys.trap_cause, cause);
  assert_int_equal(f->sys.trap_tval, va);
}

static const vmx_rv_tlb_entry_t *tlb(fixture_t *f, unsigned regime, uint64_t va) {
  return &f->sys.tlb[regime][(va >> 12) & (VMX_RV_TLB_SIZE - 1)];
}

/* ------------------------------------------------------------ M-mode, bare */

static void test_m_mode_is_bare_and_reaches_ram_and_devices(void **state) {
  fixture_t *f = *state;
  set_ram64(f, DATA(0), 0x0123456789abcdef);
  assert_int_equal(load(f, DATA(0), 8), 0x0123456789abcdef);
  assert_int_equal(load(f, DATA(0) + 1, 1), 0xcd);
  assert_true(vmx_rv_mem_store(&f->cpu, DATA(0) + 4, 4, 0xfeedface));
  assert_int_equal(ram64(f, DATA(0)), 0xfeedface89abcdef);

  /* A device: the access reaches mmio_read/mmio_write at its physical
   * address and size. */
  assert_int_equal(load(f, DEV_BASE + 8, 4), (uint32_t)DEV_VALUE);
  assert_int_equal(f->dev_pa, DEV_BASE + 8);
  assert_int_equal(f->dev_size, 4);
  assert_true(vmx_rv_mem_store(&f->cpu, DEV_BASE + 16, 2, 0xbeef));
  assert_int_equal(f->dev_pa, DEV_BASE + 16);
  assert_int_equal(f->dev_val, 0xbeef);

  /* Nothing there: access faults with the address. */
  load_faults(f, 0x40000000, 4, VMX_RV_CAUSE_LOAD_ACCESS, 0x40000000);
  store_faults(f, 0x40000008, 8, VMX_RV_CAUSE_STORE_ACCESS, 0x40000008);
  fetch_faults(f, 0x40000000, VMX_RV_CAUSE_FETCH_ACCESS);
  /* Code cannot run from a device. */
  fetch_faults(f, DEV_BASE, VMX_RV_CAUSE_FETCH_ACCESS);

  uint64_t pa;
  const uint8_t *p = vmx_rv_mmu_fetch(&f->cpu, DATA(1) + 0x10, &pa);
  assert_ptr_equal(p, host(f, DATA(1)));
  assert_int_equal(pa, DATA(1) + 0x10);
}

static void test_satp_is_ignored_in_m_mode_without_mprv(void **state) {
  fixture_t *f = *state;
  paging_on(f, VMX_RV_SATP_SV39); /* an empty table */
  set_ram64(f, DATA(0), 42);
  assert_int_equal(load(f, DATA(0), 8), 42);
  uint64_t pa;
  assert_int_equal(vmx_rv_mmu_translate(&f->cpu, DATA(0), VMX_RV_ACC_LOAD, VMX_RV_MMU_M, &pa), 0);
  assert_int_equal(pa, DATA(0));
}

/* ------------------------------------------------------------ walks */

/* One 4 KiB page at va in each mode: translation, the A bit on first
 * access, D on the first store, and the data itself. */
static void check_4k_page(fixture_t *f, unsigned mode, uint64_t va) {
  uint64_t root = paging_on(f, mode);
  uint64_t *pte = map(f, root, levels_of(mode), va, DATA(3), 0, PTE_V | PTE_R | PTE_W);
  set_ram64(f, DATA(3) + 0x128, 0x1111222233334444);
  enter(f, VMX_RV_PRIV_S);

  uint64_t pa;
  assert_int_equal(vmx_rv_mmu_translate(&f->cpu, va + 0x128, VMX_RV_ACC_LOAD, VMX_RV_MMU_S, &pa),
                   0);
  assert_int_equal(pa, DATA(3) + 0x128);
  assert_int_equal(*pte & (PTE_A | PTE_D), 0); /* translate does not touch A/D */

  assert_int_equal(load(f, va + 0x128, 8), 0x1111222233334444);
  assert_int_equal(*pte & (PTE_A | PTE_D), PTE_A);
  assert_true(vmx_rv_mem_store(&f->cpu, va + 0x130, 4, 0xabcd0123));
  assert_int_equal(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
  assert_int_equal(ram64(f, DATA(3) + 0x130), 0xabcd0123);
  /* The rest of the PTE is untouched by the A/D update. */
  assert_int_equal(*pte & ~(PTE_A | PTE_D), (DATA(3) >> 12) << 10 | PTE_V | PTE_R | PTE_W);
}

static void test_sv39_page(void **state) {
  check_4k_page(*state, VMX_RV_SATP_SV39, UINT64_C(0x0000003fc0201000));
}

static void test_sv39_negative_va(void **state) {
  check_4k_page(*state, VMX_RV_SATP_SV39, UINT64_C(0xffffffffc0201000));
}

static void test_sv48_page(void **state) {
  check_4k_page(*state, VMX_RV_SATP_SV48, UINT64_C(0x00007f8040201000));
}

static void test_sv48_negative_va(void **state) {
  check_4k_page(*state, VMX_RV_SATP_SV48, UINT64_C(0xffff800000402000));
}

static void test_sv57_page(void **state) {
  check_4k_page(*state, VMX_RV_SATP_SV57, UINT64_C(0x00ff008040201000));
}

static void test_sv57_negative_va(void **state) {
  check_4k_page(*state, VMX_RV_SATP_SV57, UINT64_C(0xff00000000403000));
}

/* Addresses whose upper bits do not copy bit VA-1 page-fault (§4.4.1). */
static void test_non_canonical_va_page_faults(void **state) {
  fixture_t *f = *state;
  paging_on(f, VMX_RV_SATP_SV39);
  enter(f, VMX_RV_PRIV_S);
  const uint64_t va = UINT64_C(0x0000008000000000); /* bit 39 set, 63:40 clear */
  load_faults(f, va, 8, VMX_RV_CAUSE_LOAD_PAGE, va);
  store_faults(f, va, 8, VMX_RV_CAUSE_STORE_PAGE, va);
  fetch_faults(f, va, VMX_RV_CAUSE_FETCH_PAGE);
  uint64_t pa;
  assert_int_equal(vmx_rv_mmu_translate(&f->cpu, UINT64_C(0x7fffffffffff0000), VMX_RV_ACC_LOAD,
                                        VMX_RV_MMU_S, &pa),
                   VMX_RV_CAUSE_LOAD_PAGE);
}

static void test_sv48_rejects_an_sv57_address(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV48);
  map(f, root, 4, 0x1000, DATA(0), 0, PTE_V | PTE_R | PTE_A);
  enter(f, VMX_RV_PRIV_S);
  /* Bit 48 set: fine in Sv57, not canonical in Sv48. */
  const uint64_t va = UINT64_C(0x0001000000001000);
  load_faults(f, va, 4, VMX_RV_CAUSE_LOAD_PAGE, va);
  assert_int_equal(load(f, 0x1000, 4), 0);
}

/* Each access kind gets its own page-fault cause, with the address. */
static void test_invalid_pte_faults_by_access_kind(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x5000, DATA(0), 0, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D); /* V clear */
  enter(f, VMX_RV_PRIV_S);
  load_faults(f, 0x5008, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x5008);
  store_faults(f, 0x5010, 4, VMX_RV_CAUSE_STORE_PAGE, 0x5010);
  fetch_faults(f, 0x5000, VMX_RV_CAUSE_FETCH_PAGE);
  /* No PTE at all (the table is empty there). */
  load_faults(f, 0x123456000, 1, VMX_RV_CAUSE_LOAD_PAGE, 0x123456000);
}

static void test_reserved_encodings_page_fault(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  /* W without R is reserved. */
  map(f, root, 3, 0x1000, DATA(0), 0, PTE_V | PTE_W | PTE_A | PTE_D);
  /* Bits 63:54 (N, PBMT, reserved) without Svnapot/Svpbmt. */
  uint64_t *hi = map(f, root, 3, 0x2000, DATA(0), 0, PTE_V | PTE_R | PTE_A);
  *hi |= UINT64_C(1) << 61;
  /* A pointer PTE in the last level. */
  map(f, root, 3, 0x3000, DATA(0), 0, PTE_V);
  enter(f, VMX_RV_PRIV_S);
  load_faults(f, 0x1000, 4, VMX_RV_CAUSE_LOAD_PAGE, 0x1000);
  store_faults(f, 0x1000, 4, VMX_RV_CAUSE_STORE_PAGE, 0x1000);
  load_faults(f, 0x2000, 4, VMX_RV_CAUSE_LOAD_PAGE, 0x2000);
  load_faults(f, 0x3000, 4, VMX_RV_CAUSE_LOAD_PAGE, 0x3000);
}

/* A page-table page outside RAM: access fault of the original kind. */
static void test_pte_outside_memory_is_an_access_fault(void **state) {
  fixture_t *f = *state;
  assert_true(csr_write(f, CSR_SATP, (uint64_t)VMX_RV_SATP_SV39 << 60 | (0x40000000 >> 12)));
  enter(f, VMX_RV_PRIV_S);
  load_faults(f, 0x1000, 4, VMX_RV_CAUSE_LOAD_ACCESS, 0x1000);
  store_faults(f, 0x1000, 4, VMX_RV_CAUSE_STORE_ACCESS, 0x1000);
  fetch_faults(f, 0x1000, VMX_RV_CAUSE_FETCH_ACCESS);
}

/* ------------------------------------------------------------ permissions */

static void test_read_only_and_execute_only_pages(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x1000, DATA(0), 0, PTE_V | PTE_R | PTE_A | PTE_D);
  map(f, root, 3, 0x2000, DATA(1), 0, PTE_V | PTE_X | PTE_A);
  set_ram64(f, DATA(1), 0x00000013); /* nop */
  enter(f, VMX_RV_PRIV_S);

  assert_int_equal(load(f, 0x1000, 4), 0);
  store_faults(f, 0x1004, 4, VMX_RV_CAUSE_STORE_PAGE, 0x1004);
  fetch_faults(f, 0x1000, VMX_RV_CAUSE_FETCH_PAGE);

  uint64_t pa;
  assert_ptr_equal(vmx_rv_mmu_fetch(&f->cpu, 0x2004, &pa), host(f, DATA(1)));
  assert_int_equal(pa, DATA(1) + 4);
  load_faults(f, 0x2000, 4, VMX_RV_CAUSE_LOAD_PAGE, 0x2000);
  store_faults(f, 0x2000, 4, VMX_RV_CAUSE_STORE_PAGE, 0x2000);
}

/* MXR makes execute-only pages readable (not writable), for S and U. */
static void test_mxr_reads_execute_only_pages(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x2000, DATA(1), 0, PTE_V | PTE_X | PTE_A);
  map(f, root, 3, 0x3000, DATA(2), 0, PTE_V | PTE_X | PTE_U | PTE_A);
  set_ram64(f, DATA(1), 0x00100073);
  set_ram64(f, DATA(2), 0x00000073);
  enter(f, VMX_RV_PRIV_S);
  load_faults(f, 0x2000, 4, VMX_RV_CAUSE_LOAD_PAGE, 0x2000);
  /* The fault above must not leave a readable entry behind, and setting
   * MXR must be seen at once. */
  assert_true(csr_write(f, CSR_SSTATUS, csr(f, CSR_SSTATUS) | VMX_RV_MSTATUS_MXR));
  assert_int_equal(load(f, 0x2000, 4), 0x00100073);
  store_faults(f, 0x2000, 4, VMX_RV_CAUSE_STORE_PAGE, 0x2000);
  assert_true(csr_write(f, CSR_SSTATUS, csr(f, CSR_SSTATUS) & ~VMX_RV_MSTATUS_MXR));
  load_faults(f, 0x2000, 4, VMX_RV_CAUSE_LOAD_PAGE, 0x2000);

  back_to_m(f);
  enter(f, VMX_RV_PRIV_U);
  load_faults(f, 0x3000, 4, VMX_RV_CAUSE_LOAD_PAGE, 0x3000);
  back_to_m(f);
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) | VMX_RV_MSTATUS_MXR));
  enter(f, VMX_RV_PRIV_U);
  assert_int_equal(load(f, 0x3000, 4), 0x00000073);
}

/* U pages from S: data only with SUM, never fetch; S pages from U: never. */
static void test_user_and_supervisor_pages(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x10000, DATA(4), 0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U);
  map(f, root, 3, 0x20000, DATA(5), 0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
  set_ram64(f, DATA(4), 0x44);
  set_ram64(f, DATA(5), 0x55);

  enter(f, VMX_RV_PRIV_S);
  load_faults(f, 0x10000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x10000);
  store_faults(f, 0x10000, 8, VMX_RV_CAUSE_STORE_PAGE, 0x10000);
  assert_true(csr_write(f, CSR_SSTATUS, csr(f, CSR_SSTATUS) | VMX_RV_MSTATUS_SUM));
  assert_int_equal(load(f, 0x10000, 8), 0x44);
  assert_true(vmx_rv_mem_store(&f->cpu, 0x10008, 8, 0x4444));
  fetch_faults(f, 0x10000, VMX_RV_CAUSE_FETCH_PAGE);
  /* Clearing SUM takes the permission away again at once (a TLB entry
   * filled under SUM must not survive). */
  assert_true(csr_write(f, CSR_SSTATUS, csr(f, CSR_SSTATUS) & ~VMX_RV_MSTATUS_SUM));
  load_faults(f, 0x10000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x10000);
  store_faults(f, 0x10008, 8, VMX_RV_CAUSE_STORE_PAGE, 0x10008);
  assert_int_equal(load(f, 0x20000, 8), 0x55);
  back_to_m(f);

  enter(f, VMX_RV_PRIV_U);
  assert_int_equal(load(f, 0x10008, 8), 0x4444);
  uint64_t pa;
  assert_ptr_equal(vmx_rv_mmu_fetch(&f->cpu, 0x10000, &pa), host(f, DATA(4)));
  load_faults(f, 0x20000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x20000);
  store_faults(f, 0x20000, 8, VMX_RV_CAUSE_STORE_PAGE, 0x20000);
  fetch_faults(f, 0x20000, VMX_RV_CAUSE_FETCH_PAGE);
  /* SUM changes nothing for U itself. */
  back_to_m(f);
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) | VMX_RV_MSTATUS_SUM));
  enter(f, VMX_RV_PRIV_U);
  load_faults(f, 0x20000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x20000);
}

/* M-mode with MPRV: data accesses use MPP's translation and permissions,
 * fetches stay bare. */
static void test_mprv_translates_m_mode_data_only(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x7000, DATA(6), 0, PTE_V | PTE_R | PTE_W | PTE_U);
  set_ram64(f, DATA(6), 0x66);
  uint64_t st = csr(f, CSR_MSTATUS) & ~VMX_RV_MSTATUS_MPP;
  assert_true(csr_write(f, CSR_MSTATUS,
                        st | VMX_RV_MSTATUS_MPRV | (uint64_t)VMX_RV_PRIV_U << 11));
  assert_int_equal(f->sys.mmu_data, VMX_RV_MMU_U);
  assert_int_equal(f->sys.mmu_fetch, VMX_RV_MMU_M);
  assert_int_equal(load(f, 0x7000, 8), 0x66);
  load_faults(f, DATA(6), 8, VMX_RV_CAUSE_LOAD_PAGE, DATA(6));
  uint64_t pa;
  assert_ptr_equal(vmx_rv_mmu_fetch(&f->cpu, DATA(6), &pa), host(f, DATA(6)));

  /* MPP = S: the U page needs SUM. */
  st = csr(f, CSR_MSTATUS) & ~VMX_RV_MSTATUS_MPP;
  assert_true(csr_write(f, CSR_MSTATUS, st | (uint64_t)VMX_RV_PRIV_S << 11));
  assert_int_equal(f->sys.mmu_data, VMX_RV_MMU_S);
  load_faults(f, 0x7000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x7000);
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) | VMX_RV_MSTATUS_SUM));
  assert_int_equal(load(f, 0x7000, 8), 0x66);

  /* mret to S clears MPRV (priv 1.12 §3.1.6.3). */
  assert_true(csr_write(f, CSR_MEPC, 0x7000));
  vmx_rv_sys_mret(&f->cpu);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_S);
  assert_int_equal(csr(f, CSR_SSTATUS) & VMX_RV_MSTATUS_SUM, VMX_RV_MSTATUS_SUM);
  back_to_m(f);
  assert_int_equal(csr(f, CSR_MSTATUS) & VMX_RV_MSTATUS_MPRV, 0);
  assert_int_equal(f->sys.mmu_data, VMX_RV_MMU_M);
}

/* ------------------------------------------------------------ A/D and the TLB */

/* A load fills the TLB without write permission while D is clear, so the
 * first store walks again and sets D. */
static void test_first_store_to_clean_page_sets_dirty(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  uint64_t *pte = map(f, root, 3, 0x9000, DATA(7), 0, PTE_V | PTE_R | PTE_W);
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x9000, 8), 0);
  assert_int_equal(*pte & (PTE_A | PTE_D), PTE_A);
  const vmx_rv_tlb_entry_t *e = tlb(f, VMX_RV_MMU_S, 0x9000);
  assert_int_equal(e->tag_r, 0x9000);
  assert_int_not_equal(e->tag_w & ~VMX_RV_TLB_IO, 0x9000);
  /* A clean page's tag must not match the fast path of any store. */
  assert_int_not_equal(e->tag_w, 0x9000);
  assert_true(vmx_rv_mem_store(&f->cpu, 0x9008, 1, 0x99));
  assert_int_equal(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
  assert_int_equal(tlb(f, VMX_RV_MMU_S, 0x9000)->tag_w, 0x9000);
  assert_int_equal(host(f, DATA(7))[8], 0x99);

  /* A fetch sets A as well. */
  uint64_t *xpte = map(f, root, 3, 0xa000, DATA(8), 0, PTE_V | PTE_X);
  uint64_t pa;
  assert_non_null(vmx_rv_mmu_fetch(&f->cpu, 0xa000, &pa));
  assert_int_equal(*xpte & (PTE_A | PTE_D), PTE_A);
}

/* A faulting access leaves A and D alone. */
static void test_faulting_access_sets_no_bits(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  uint64_t *ro = map(f, root, 3, 0x1000, DATA(0), 0, PTE_V | PTE_R);
  uint64_t *up = map(f, root, 3, 0x2000, DATA(1), 0, PTE_V | PTE_R | PTE_W | PTE_U);
  enter(f, VMX_RV_PRIV_S);
  store_faults(f, 0x1000, 8, VMX_RV_CAUSE_STORE_PAGE, 0x1000);
  assert_int_equal(*ro & (PTE_A | PTE_D), 0);
  store_faults(f, 0x2000, 8, VMX_RV_CAUSE_STORE_PAGE, 0x2000);
  assert_int_equal(*up & (PTE_A | PTE_D), 0);
}

/* After a PTE changes, a flush of that address (or of everything) makes
 * the next access walk again. */
static void test_tlb_flush_sees_changed_pte(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  set_ram64(f, DATA(0), 1);
  set_ram64(f, DATA(1), 2);
  set_ram64(f, DATA(2), 3);
  uint64_t *pte = map(f, root, 3, 0x40000, DATA(0), 0, PTE_V | PTE_R | PTE_A);
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x40000, 8), 1);

  *pte = (DATA(1) >> 12) << 10 | PTE_V | PTE_R | PTE_A;
  vmx_rv_tlb_flush(&f->cpu, 0x40000 + 0x123);
  assert_int_equal(load(f, 0x40000, 8), 2);

  *pte = (DATA(2) >> 12) << 10 | PTE_V | PTE_R | PTE_A;
  vmx_rv_tlb_flush(&f->cpu, UINT64_MAX);
  assert_int_equal(load(f, 0x40000, 8), 3);

  /* Unmapped: the next access faults. */
  *pte = 0;
  vmx_rv_tlb_flush(&f->cpu, 0x40000);
  load_faults(f, 0x40000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x40000);

  /* A write to satp with another table flushes. */
  uint64_t root2 = pt_alloc(f);
  map(f, root2, 3, 0x40000, DATA(1), 0, PTE_V | PTE_R | PTE_A);
  back_to_m(f);
  assert_true(csr_write(f, CSR_SATP, (uint64_t)VMX_RV_SATP_SV39 << 60 | root2 >> 12));
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x40000, 8), 2);
}

/* The TLB keeps other address spaces by satp (ASID and root): switching
 * back to one finds its entries (a PTE changed meanwhile without an
 * sfence.vma may still be seen stale, as the spec allows), and an
 * sfence.vma with an address removes that page from every kept set. */
static void test_tlb_keeps_address_spaces_across_satp_writes(void **state) {
  fixture_t *f = *state;
  uint64_t root_a = pt_alloc(f), root_b = pt_alloc(f);
  set_ram64(f, DATA(0), 0xa);
  set_ram64(f, DATA(1), 0xb);
  uint64_t *pte_a = map(f, root_a, 3, 0x40000, DATA(0), 0, PTE_V | PTE_R | PTE_A);
  map(f, root_b, 3, 0x40000, DATA(1), 0, PTE_V | PTE_R | PTE_A);
  uint64_t satp_a = (uint64_t)VMX_RV_SATP_SV39 << 60 | (uint64_t)1 << 44 | root_a >> 12;
  uint64_t satp_b = (uint64_t)VMX_RV_SATP_SV39 << 60 | (uint64_t)2 << 44 | root_b >> 12;
  assert_true(csr_write(f, CSR_SATP, satp_a));
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x40000, 8), 0xa);
  back_to_m(f);

  /* A's PTE goes away without an sfence; B runs; back in A, the kept entry
   * still translates. */
  *pte_a = 0;
  assert_true(csr_write(f, CSR_SATP, satp_b));
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x40000, 8), 0xb);
  back_to_m(f);
  assert_true(csr_write(f, CSR_SATP, satp_a));
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x40000, 8), 0xa);

  /* sfence.vma 0x40000 (any ASID) drops the page from A and from the kept
   * B: A now faults, B walks again. */
  vmx_rv_tlb_flush(&f->cpu, 0x40000);
  load_faults(f, 0x40000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x40000);
  back_to_m(f);
  assert_true(csr_write(f, CSR_SATP, satp_b));
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(tlb(f, VMX_RV_MMU_S, 0x40000)->tag_r, VMX_RV_TLB_INVALID);
  assert_int_equal(load(f, 0x40000, 8), 0xb);

  /* A full flush forgets every kept set. */
  back_to_m(f);
  vmx_rv_tlb_flush(&f->cpu, UINT64_MAX);
  for (unsigned k = 0; k < VMX_RV_TLB_SETS; k++)
    assert_false(f->sys.tlb_set[k].valid);
}

/* SUM selects its own table: toggling it flushes nothing. */
static void test_sum_switches_regime_without_flush(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  set_ram64(f, DATA(0), 7);
  map(f, root, 3, 0x40000, DATA(0), 0, PTE_V | PTE_R | PTE_A);
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(f->sys.mmu_data, VMX_RV_MMU_S);
  assert_int_equal(load(f, 0x40000, 8), 7);
  uint64_t st = csr(f, CSR_SSTATUS);
  assert_true(csr_write(f, CSR_SSTATUS, st | VMX_RV_MSTATUS_SUM));
  assert_int_equal(f->sys.mmu_data, VMX_RV_MMU_S_SUM);
  assert_true(csr_write(f, CSR_SSTATUS, st));
  assert_int_equal(f->sys.mmu_data, VMX_RV_MMU_S);
  assert_int_equal(tlb(f, VMX_RV_MMU_S, 0x40000)->tag_r, 0x40000);
}

/* ------------------------------------------------------------ superpages */

static void test_megapage_and_gigapage(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  /* 2 MiB at va 0x600000 -> MEGA_PA, 1 GiB at va 0x40000000 -> RAM_BASE. */
  uint64_t *mega = map(f, root, 3, 0x600000, MEGA_PA, 1, PTE_V | PTE_R | PTE_W);
  uint64_t *giga = map(f, root, 3, 0x40000000, RAM_BASE, 2, PTE_V | PTE_R | PTE_W | PTE_A);
  set_ram64(f, MEGA_PA + 0x12348, 0xaa);
  set_ram64(f, DATA(9) + 8, 0xbb);
  enter(f, VMX_RV_PRIV_S);

  uint64_t pa;
  assert_int_equal(vmx_rv_mmu_translate(&f->cpu, 0x600000 + 0x12348, VMX_RV_ACC_STORE,
                                        VMX_RV_MMU_S, &pa),
                   0);
  assert_int_equal(pa, MEGA_PA + 0x12348);
  assert_int_equal(load(f, 0x600000 + 0x12348, 8), 0xaa);
  assert_int_equal(*mega & (PTE_A | PTE_D), PTE_A);
  assert_true(vmx_rv_mem_store(&f->cpu, 0x600000 + 0x1ff000, 8, 0xcc));
  assert_int_equal(*mega & (PTE_A | PTE_D), PTE_A | PTE_D);
  assert_int_equal(ram64(f, MEGA_PA + 0x1ff000), 0xcc);

  const uint64_t gva = 0x40000000 + (DATA(9) - RAM_BASE) + 8;
  assert_int_equal(load(f, gva, 8), 0xbb);
  assert_true(vmx_rv_mem_store(&f->cpu, gva, 8, 0xdd));
  assert_int_equal(ram64(f, DATA(9) + 8), 0xdd);
  assert_int_equal(*giga & PTE_D, PTE_D);
}

/* A superpage whose PPN has bits set below its size page-faults. */
static void test_misaligned_superpage_faults(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x600000, MEGA_PA + 0x1000, 1, PTE_V | PTE_R | PTE_A);
  map(f, root, 3, 0x40000000, RAM_BASE + 0x200000, 2, PTE_V | PTE_R | PTE_A);
  enter(f, VMX_RV_PRIV_S);
  load_faults(f, 0x600010, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x600010);
  load_faults(f, 0x40000010, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x40000010);
}

/* Pieces of a superpage sit in the TLB as 4 KiB entries: flushing any one
 * address must still drop all of them (sfence.vma with the address the
 * kernel changed, which need not be the piece that was used). */
static void test_flush_of_one_address_drops_superpage_pieces(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV48);
  uint64_t *mega = map(f, root, 4, 0x600000, MEGA_PA, 1, PTE_V | PTE_R | PTE_A);
  set_ram64(f, MEGA_PA + 0x5000, 7);
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x605000, 8), 7);
  /* Remap the whole 2 MiB as invalid, flush its first address only. */
  *mega = 0;
  vmx_rv_tlb_flush(&f->cpu, 0x600000);
  load_faults(f, 0x605000, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x605000);
}

/* ------------------------------------------------------------ devices through pages */

static void test_device_page_through_translation(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV57);
  map(f, root, 5, 0xd000, DEV_BASE, 0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
  enter(f, VMX_RV_PRIV_S);
  f->reads = f->writes = 0;
  assert_int_equal(load(f, 0xd010, 8), DEV_VALUE);
  assert_int_equal(f->dev_pa, DEV_BASE + 0x10);
  assert_int_equal(load(f, 0xd018, 4), (uint32_t)DEV_VALUE);
  assert_int_equal(f->reads, 2); /* every device access reaches the device */
  assert_true(vmx_rv_mem_store(&f->cpu, 0xd020, 4, 0x12345678));
  assert_true(vmx_rv_mem_store(&f->cpu, 0xd024, 4, 0x9abcdef0));
  assert_int_equal(f->writes, 2);
  assert_int_equal(f->dev_pa, DEV_BASE + 0x24);
  assert_int_equal(f->dev_val, 0x9abcdef0);
  /* The TLB entry never lets the fast path reach a device. */
  const vmx_rv_tlb_entry_t *e = tlb(f, VMX_RV_MMU_S, 0xd000);
  assert_int_not_equal(e->tag_r, 0xd000);
  assert_int_not_equal(e->tag_w, 0xd000);
  /* No code or atomics on a device. */
  fetch_faults(f, 0xd000, VMX_RV_CAUSE_FETCH_ACCESS);
  assert_null(vmx_rv_mem_atomic(&f->cpu, 0xd008, 8, true));
  assert_int_equal(f->sys.trap_cause, VMX_RV_CAUSE_STORE_ACCESS);
  assert_int_equal(f->sys.trap_tval, 0xd008);
  assert_null(vmx_rv_mem_atomic(&f->cpu, 0xd008, 4, false));
  assert_int_equal(f->sys.trap_cause, VMX_RV_CAUSE_LOAD_ACCESS);
  /* The device refuses an access: access fault at the virtual address. */
  map(f, root, 5, 0xe000, DEV_BASE + 0x1000, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
  load_faults(f, 0xe000, 4, VMX_RV_CAUSE_LOAD_ACCESS, 0xe000);
  store_faults(f, 0xe000, 4, VMX_RV_CAUSE_STORE_ACCESS, 0xe000);
}

/* Stores to the watched RAM page land in RAM and are also reported. */
static void test_watched_page_stores_reach_ram_and_device(void **state) {
  fixture_t *f = *state;
  f->sys.watch_pa = DATA(10);
  f->writes = 0;
  assert_true(vmx_rv_mem_store(&f->cpu, DATA(10) + 8, 8, 0x1234));
  assert_int_equal(ram64(f, DATA(10) + 8), 0x1234);
  assert_int_equal(f->writes, 1);
  assert_int_equal(f->dev_pa, DATA(10) + 8);
  assert_int_equal(f->dev_val, 0x1234);
  assert_true(vmx_rv_mem_store(&f->cpu, DATA(10) + 12, 4, 0x1));
  assert_int_equal(f->writes, 2);
  assert_int_not_equal(tlb(f, VMX_RV_MMU_M, DATA(10))->tag_w, DATA(10));
  /* Loads from it are plain RAM. */
  assert_int_equal(load(f, DATA(10) + 8, 8), 0x100001234);
  assert_int_equal(tlb(f, VMX_RV_MMU_M, DATA(10))->tag_r, DATA(10));
  /* Neighbouring pages are not watched. */
  assert_true(vmx_rv_mem_store(&f->cpu, DATA(11), 8, 5));
  assert_int_equal(f->writes, 2);
}

/* ------------------------------------------------------------ misaligned */

static void test_misaligned_access_within_and_across_pages(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  /* Two adjacent virtual pages on physical pages that are not adjacent. */
  map(f, root, 3, 0x30000, DATA(12), 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
  map(f, root, 3, 0x31000, DATA(14), 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
  map(f, root, 3, 0x32000, DATA(15), 0, PTE_V | PTE_R | PTE_A);
  for (unsigned i = 0; i < 4; i++) {
    host(f, DATA(12))[0xffc + i] = (uint8_t)(0x10 + i);
    host(f, DATA(14))[i] = (uint8_t)(0x20 + i);
  }
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(load(f, 0x30ffd, 2), 0x1211);
  assert_int_equal(load(f, 0x30ffc, 8), 0x2322212013121110);
  assert_int_equal(load(f, 0x30ffe, 4), 0x21201312);

  assert_true(vmx_rv_mem_store(&f->cpu, 0x30ffb, 8, 0x8877665544332211));
  assert_int_equal(host(f, DATA(12))[0xffb], 0x11);
  assert_int_equal(host(f, DATA(12))[0xfff], 0x55);
  assert_int_equal(host(f, DATA(14))[0], 0x66);
  assert_int_equal(host(f, DATA(14))[2], 0x88);

  /* Crossing into a read-only page: store page fault with an address in
   * the part that faults (§3.1.16), and nothing stored in the first page. */
  assert_false(vmx_rv_mem_store(&f->cpu, 0x31ffe, 4, 0x5a5a5a5a));
  assert_int_equal(f->sys.trap_cause, VMX_RV_CAUSE_STORE_PAGE);
  assert_int_equal(f->sys.trap_tval >> 12, 0x32);
  assert_int_equal(host(f, DATA(14))[0xffe], 0);
  assert_int_equal(host(f, DATA(14))[0xfff], 0);
  /* Crossing into an unmapped page: load page fault at that page. */
  load_faults(f, 0x32ffc, 8, VMX_RV_CAUSE_LOAD_PAGE, 0x33000);
}

/* ------------------------------------------------------------ atomics */

static void test_atomics(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  uint64_t *ro = map(f, root, 3, 0x50000, DATA(16), 0, PTE_V | PTE_R | PTE_A);
  uint64_t *rw = map(f, root, 3, 0x51000, DATA(17), 0, PTE_V | PTE_R | PTE_W);
  enter(f, VMX_RV_PRIV_S);
  /* LR needs read permission, SC/AMO write permission (and set D). */
  assert_ptr_equal(vmx_rv_mem_atomic(&f->cpu, 0x50010, 8, false), host(f, DATA(16)) + 0x10);
  assert_null(vmx_rv_mem_atomic(&f->cpu, 0x50010, 8, true));
  assert_int_equal(f->sys.trap_cause, VMX_RV_CAUSE_STORE_PAGE);
  assert_int_equal(f->sys.trap_tval, 0x50010);
  assert_int_equal(*ro & PTE_D, 0);
  assert_ptr_equal(vmx_rv_mem_atomic(&f->cpu, 0x51008, 4, true), host(f, DATA(17)) + 8);
  assert_int_equal(*rw & (PTE_A | PTE_D), PTE_A | PTE_D);
  /* Misaligned: address-misaligned, LR as a load, SC/AMO as a store. */
  assert_null(vmx_rv_mem_atomic(&f->cpu, 0x51004, 8, true));
  assert_int_equal(f->sys.trap_cause, VMX_RV_CAUSE_STORE_MISALIGNED);
  assert_int_equal(f->sys.trap_tval, 0x51004);
  assert_null(vmx_rv_mem_atomic(&f->cpu, 0x51002, 4, false));
  assert_int_equal(f->sys.trap_cause, VMX_RV_CAUSE_LOAD_MISALIGNED);
  /* Unmapped. */
  assert_null(vmx_rv_mem_atomic(&f->cpu, 0x60000, 4, false));
  assert_int_equal(f->sys.trap_cause, VMX_RV_CAUSE_LOAD_PAGE);
}

/* ------------------------------------------------------------ satp */

static void test_satp_unsupported_mode_has_no_effect(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV48);
  uint64_t before = csr(f, CSR_SATP);
  assert_true(csr_write(f, CSR_SATP, (uint64_t)11 << 60 | 0x1234)); /* Sv64: not there */
  assert_int_equal(csr(f, CSR_SATP), before);
  assert_true(csr_write(f, CSR_SATP, (uint64_t)1 << 60 | root >> 12)); /* reserved */
  assert_int_equal(csr(f, CSR_SATP), before);
  /* Every mode vmx has reads back, with the ASID. */
  const unsigned modes[] = {VMX_RV_SATP_SV39, VMX_RV_SATP_SV48, VMX_RV_SATP_SV57,
                            VMX_RV_SATP_BARE};
  for (unsigned i = 0; i < 4; i++) {
    uint64_t v = (uint64_t)modes[i] << 60 | (uint64_t)0xffff << 44 | root >> 12;
    assert_true(csr_write(f, CSR_SATP, v));
    assert_int_equal(csr(f, CSR_SATP), v);
  }
  /* TVM: S-mode may not touch satp. */
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) | VMX_RV_MSTATUS_TVM));
  enter(f, VMX_RV_PRIV_S);
  uint64_t v;
  assert_false(csr_read(f, CSR_SATP, &v));
  assert_false(csr_write(f, CSR_SATP, 0));
}

/* ------------------------------------------------------------ traps */

static void test_trap_delegation(void **state) {
  fixture_t *f = *state;
  assert_true(csr_write(f, CSR_MTVEC, 0x80001000));
  assert_true(csr_write(f, CSR_STVEC, 0x80002000));
  assert_true(csr_write(f, CSR_MEDELEG, 0xffffffff));
  /* ecall from M (11) and the reserved causes cannot be delegated. */
  assert_int_equal(csr(f, CSR_MEDELEG), 0xb3ff);
  assert_true(csr_write(f, CSR_MEDELEG, UINT64_C(1) << VMX_RV_CAUSE_LOAD_PAGE |
                                            UINT64_C(1) << VMX_RV_CAUSE_ECALL_U));

  /* From U, delegated: S takes it, SPP = U, SPIE = SIE, SIE = 0. */
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) | VMX_RV_MSTATUS_SIE));
  enter(f, VMX_RV_PRIV_U);
  assert_int_equal(vmx_rv_sys_trap(&f->cpu, VMX_RV_CAUSE_LOAD_PAGE, 0xdead000, 0x4000),
                   0x80002000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_S);
  assert_int_equal(f->sys.scause, VMX_RV_CAUSE_LOAD_PAGE);
  assert_int_equal(f->sys.sepc, 0x4000);
  assert_int_equal(f->sys.stval, 0xdead000);
  uint64_t st = csr(f, CSR_SSTATUS);
  assert_int_equal(st & (VMX_RV_MSTATUS_SPP | VMX_RV_MSTATUS_SPIE | VMX_RV_MSTATUS_SIE),
                   VMX_RV_MSTATUS_SPIE);
  assert_int_equal(f->sys.mcause, 0); /* M saw nothing */

  /* From S, delegated: stays in S with SPP = S. */
  assert_int_equal(vmx_rv_sys_trap(&f->cpu, VMX_RV_CAUSE_LOAD_PAGE, 0xbeef000, 0x5000),
                   0x80002000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_S);
  assert_int_equal(csr(f, CSR_SSTATUS) & VMX_RV_MSTATUS_SPP, VMX_RV_MSTATUS_SPP);
  assert_int_equal(f->sys.sepc, 0x5000);

  /* sret back to S (SPP = S), then ecall from S: not delegated, M takes it
   * with MPP = S. */
  assert_int_equal(vmx_rv_sys_sret(&f->cpu), 0x5000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_S);
  assert_int_equal(vmx_rv_sys_trap(&f->cpu, VMX_RV_CAUSE_ECALL_S, 0, 0x5004), 0x80001000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_M);
  assert_int_equal(f->sys.mcause, VMX_RV_CAUSE_ECALL_S);
  assert_int_equal(f->sys.mepc, 0x5004);
  assert_int_equal((csr(f, CSR_MSTATUS) & VMX_RV_MSTATUS_MPP) >> 11, VMX_RV_PRIV_S);

  /* In M, delegation does not apply: M takes its own load page fault. */
  assert_int_equal(vmx_rv_sys_trap(&f->cpu, VMX_RV_CAUSE_LOAD_PAGE, 0x77, 0x6000), 0x80001000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_M);
  assert_int_equal(f->sys.mcause, VMX_RV_CAUSE_LOAD_PAGE);
  assert_int_equal(f->sys.mtval, 0x77);
  assert_int_equal((csr(f, CSR_MSTATUS) & VMX_RV_MSTATUS_MPP) >> 11, VMX_RV_PRIV_M);
}

static void test_vectored_interrupts(void **state) {
  fixture_t *f = *state;
  assert_true(csr_write(f, CSR_MTVEC, 0x80001001));
  assert_true(csr_write(f, CSR_STVEC, 0x80002001));
  assert_true(csr_write(f, CSR_MIDELEG, MIP(STI) | MIP(SEI) | MIP(SSI)));
  enter(f, VMX_RV_PRIV_U);
  /* Interrupts go to base + 4 * cause, exceptions to base. */
  assert_int_equal(vmx_rv_sys_trap(&f->cpu, IRQ(STI), 0, 0x4000), 0x80002000 + 4 * 5);
  assert_int_equal(f->sys.scause, IRQ(STI));
  assert_int_equal(vmx_rv_sys_trap(&f->cpu, IRQ(MEI), 0, 0x4000), 0x80001000 + 4 * 11);
  assert_int_equal(f->sys.mcause, IRQ(MEI));
  assert_int_equal(vmx_rv_sys_trap(&f->cpu, VMX_RV_CAUSE_ILLEGAL, 0x13, 0x4000), 0x80001000);
}

static void test_mret_and_sret_restore_state(void **state) {
  fixture_t *f = *state;
  /* mret: MIE = MPIE, MPIE = 1, MPP = U, priv = old MPP. */
  uint64_t st = csr(f, CSR_MSTATUS) & ~(VMX_RV_MSTATUS_MPP | VMX_RV_MSTATUS_MIE);
  assert_true(csr_write(f, CSR_MSTATUS, st | VMX_RV_MSTATUS_MPIE | (uint64_t)1 << 11));
  assert_true(csr_write(f, CSR_MEPC, 0x2001)); /* bit 0 always reads 0 */
  assert_int_equal(vmx_rv_sys_mret(&f->cpu), 0x2000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_S);
  back_to_m(f);
  st = csr(f, CSR_MSTATUS);
  /* The trap from S saved MIE (1 after the mret) into MPIE. */
  assert_int_equal(st & (VMX_RV_MSTATUS_MIE | VMX_RV_MSTATUS_MPIE), VMX_RV_MSTATUS_MPIE);

  /* sret: SIE = SPIE, SPIE = 1, SPP = U. */
  enter(f, VMX_RV_PRIV_S);
  st = csr(f, CSR_SSTATUS) & ~VMX_RV_MSTATUS_SIE;
  assert_true(csr_write(f, CSR_SSTATUS, st | VMX_RV_MSTATUS_SPIE));
  assert_true(csr_write(f, CSR_SEPC, 0x3000));
  assert_int_equal(vmx_rv_sys_sret(&f->cpu), 0x3000);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_U);
  back_to_m(f); /* leaves the S fields alone */
  st = csr(f, CSR_MSTATUS);
  assert_int_equal(st & (VMX_RV_MSTATUS_SIE | VMX_RV_MSTATUS_SPIE | VMX_RV_MSTATUS_SPP),
                   VMX_RV_MSTATUS_SIE | VMX_RV_MSTATUS_SPIE);
}

/* ------------------------------------------------------------ interrupts */

static void test_interrupt_priority(void **state) {
  fixture_t *f = *state;
  assert_true(csr_write(f, CSR_MIE, MIP(MEI) | MIP(MSI) | MIP(MTI) | MIP(SEI) | MIP(SSI) |
                                        MIP(STI)));
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) | VMX_RV_MSTATUS_MIE));
  /* §3.1.9: MEI, MSI, MTI, SEI, SSI, STI. */
  assert_true(csr_write(f, CSR_MIP, MIP(SSI) | MIP(STI)));
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(SSI));
  vmx_rv_sys_set_lines(&f->cpu, MIP(SEI), 0);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(SEI));
  vmx_rv_sys_set_lines(&f->cpu, MIP(MTI), 0);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(MTI));
  vmx_rv_sys_set_lines(&f->cpu, MIP(MSI), 0);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(MSI));
  vmx_rv_sys_set_lines(&f->cpu, MIP(MEI), 0);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(MEI));
  /* The lines are read-only in mip: a write does not clear them. */
  assert_true(csr_write(f, CSR_MIP, 0));
  assert_int_equal(csr(f, CSR_MIP), MIP(MEI) | MIP(MSI) | MIP(MTI) | MIP(SEI));
  vmx_rv_sys_set_lines(&f->cpu, 0, MIP(MEI) | MIP(MSI) | MIP(MTI));
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(SEI));
  /* mie masks. */
  assert_true(csr_write(f, CSR_MIE, MIP(MEI)));
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), 0);
}

static void test_interrupt_enables_by_privilege(void **state) {
  fixture_t *f = *state;
  assert_true(csr_write(f, CSR_MIE, MIP(MTI) | MIP(STI) | MIP(SSI)));
  assert_true(csr_write(f, CSR_MIDELEG, MIP(STI) | MIP(SSI)));
  assert_true(csr_write(f, CSR_MIP, MIP(STI)));

  /* In M, a delegated interrupt is never taken; an M one needs MIE. */
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), 0);
  vmx_rv_sys_set_lines(&f->cpu, MIP(MTI), 0);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), 0);
  assert_true(vmx_rv_sys_wfi_wakes(&f->cpu)); /* wfi ignores global enables */
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) | VMX_RV_MSTATUS_MIE));
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(MTI));
  vmx_rv_sys_set_lines(&f->cpu, 0, MIP(MTI));
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) & ~VMX_RV_MSTATUS_MIE));

  /* In S: M interrupts whatever MIE, S ones only with SIE. */
  enter(f, VMX_RV_PRIV_S);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), 0);
  vmx_rv_sys_set_lines(&f->cpu, MIP(MTI), 0);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(MTI));
  vmx_rv_sys_set_lines(&f->cpu, 0, MIP(MTI));
  assert_true(csr_write(f, CSR_SSTATUS, csr(f, CSR_SSTATUS) | VMX_RV_MSTATUS_SIE));
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(STI));
  /* sie is mie through mideleg; sip shows only delegated bits. */
  assert_int_equal(csr(f, CSR_SIE), MIP(STI) | MIP(SSI));
  assert_true(csr_write(f, CSR_SIE, 0));
  assert_int_equal(csr(f, CSR_SIE), 0);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), 0);
  assert_true(csr_write(f, CSR_SIE, MIP(STI) | MIP(MTI)));
  assert_int_equal(csr(f, CSR_SIE), MIP(STI));
  back_to_m(f);
  assert_int_equal(csr(f, CSR_MIE), MIP(MTI) | MIP(STI));

  /* In U: S interrupts whatever SIE. */
  assert_true(csr_write(f, CSR_MSTATUS, csr(f, CSR_MSTATUS) & ~VMX_RV_MSTATUS_SIE));
  enter(f, VMX_RV_PRIV_U);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(STI));
  /* sip: S can set SSIP only; STIP stays as M wrote it. */
  back_to_m(f);
  enter(f, VMX_RV_PRIV_S);
  assert_true(csr_write(f, CSR_SIP, MIP(SSI)));
  assert_int_equal(csr(f, CSR_SIP), MIP(SSI) | MIP(STI));
  assert_true(csr_write(f, CSR_SIP, 0));
  assert_int_equal(csr(f, CSR_SIP), MIP(STI));
}

/* Sstc: STIP follows mtime >= stimecmp while menvcfg.STCE is set; S-mode
 * reaches stimecmp only with STCE and mcounteren.TM. */
static void test_sstc_timer(void **state) {
  fixture_t *f = *state;
  uint64_t v;
  assert_true(csr_write(f, CSR_MIE, MIP(STI)));
  assert_true(csr_write(f, CSR_MIDELEG, MIP(STI)));
  f->mtime = 1000;
  assert_true(csr_write(f, CSR_STIMECMP, 2000));
  assert_int_equal(f->timer_calls, 1);
  assert_int_equal(f->timer_value, 2000);
  assert_true(csr_write(f, CSR_MENVCFG, VMX_RV_MENVCFG_STCE));
  assert_int_equal(csr(f, CSR_MIP) & MIP(STI), 0);

  enter(f, VMX_RV_PRIV_S);
  assert_false(csr_read(f, CSR_STIMECMP, &v)); /* mcounteren.TM clear */
  back_to_m(f);
  assert_true(csr_write(f, CSR_MCOUNTEREN, 2));
  enter(f, VMX_RV_PRIV_U);
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), 0);
  f->mtime = 2000;
  assert_int_equal(vmx_rv_sys_pending_irq(&f->cpu), IRQ(STI));
  back_to_m(f);
  assert_int_equal(csr(f, CSR_MIP) & MIP(STI), MIP(STI));
  /* Software cannot clear it through mip while STCE is set. */
  assert_true(csr_write(f, CSR_MIP, 0));
  assert_int_equal(csr(f, CSR_MIP) & MIP(STI), MIP(STI));

  enter(f, VMX_RV_PRIV_S);
  assert_true(csr_read(f, CSR_STIMECMP, &v));
  assert_int_equal(v, 2000);
  assert_true(csr_write(f, CSR_STIMECMP, 5000));
  assert_int_equal(f->timer_value, 5000);
  assert_int_equal(csr(f, CSR_SIP) & MIP(STI), 0);
  back_to_m(f);
  assert_true(csr_write(f, CSR_MENVCFG, 0));
  enter(f, VMX_RV_PRIV_S);
  assert_false(csr_read(f, CSR_STIMECMP, &v));
  assert_false(csr_write(f, CSR_STIMECMP, 0));
}

/* §3.1.9: SEIP reads as the OR of the software-writable bit and the
 * external line; M-mode writes only the software bit, S-mode neither. */
static void test_external_seip_and_software_seip(void **state) {
  fixture_t *f = *state;
  vmx_rv_sys_set_lines(&f->cpu, MIP(SEI), 0); /* the PLIC's S context */
  assert_int_equal(csr(f, CSR_MIP) & MIP(SEI), MIP(SEI));
  assert_true(csr_write(f, CSR_MIP, 0)); /* csrw cannot lower the line */
  assert_int_equal(csr(f, CSR_MIP) & MIP(SEI), MIP(SEI));
  vmx_rv_sys_set_lines(&f->cpu, 0, MIP(SEI));
  assert_int_equal(csr(f, CSR_MIP) & MIP(SEI), 0);
  assert_true(csr_write(f, CSR_MIP, MIP(SEI))); /* the software bit */
  assert_int_equal(csr(f, CSR_MIP) & MIP(SEI), MIP(SEI));
  assert_true(csr_write(f, CSR_MIP, 0));
  assert_int_equal(csr(f, CSR_MIP) & MIP(SEI), 0);

  /* Through sip the line cannot be latched (SEIP is read-only there):
   * csrrc sip, SSIP with the line high, then the line drops. */
  assert_true(csr_write(f, CSR_MIDELEG, MIP(SEI) | MIP(SSI)));
  vmx_rv_sys_set_lines(&f->cpu, MIP(SEI), 0);
  enter(f, VMX_RV_PRIV_S);
  uint64_t old = csr(f, CSR_SIP);
  assert_int_equal(old & MIP(SEI), MIP(SEI));
  assert_true(csr_write(f, CSR_SIP, old & ~MIP(SSI)));
  vmx_rv_sys_set_lines(&f->cpu, 0, MIP(SEI));
  assert_int_equal(csr(f, CSR_SIP) & MIP(SEI), 0);
}

/* ------------------------------------------------------------ through the interpreter */

/* Instruction words used below. */
#define INSN_WFI UINT32_C(0x10500073)
#define INSN_CSRRSI_MIP_SSIP UINT32_C(0x34416073) /* csrrsi x0, mip, 2 */
#define INSN_JAL_X0_PLUS6 UINT32_C(0x0060006f)    /* j .+6 */
#define INSN_ADDI_X7(imm) ((uint32_t)(imm) << 20 | 7u << 7 | 0x13u)
#define INSN_ADDI_X8_1 UINT32_C(0x00100413)          /* addi x8, x0, 1 */
#define INSN_CSRRSI_MSTATUS_MIE UINT32_C(0x30046073) /* csrrsi x0, mstatus, 8 */
#define INSN_FADD_S_F0 UINT32_C(0x00007053)          /* fadd.s f0, f0, f0 (dyn) */
#define INSN_ECALL UINT32_C(0x00000073)
#define INSN_SFENCE_VMA UINT32_C(0x12000073)
#define INSN_FENCE_I UINT32_C(0x0000100f)
#define INSN_CSRW_MINSTRET_X0 UINT32_C(0xb0201073)  /* csrrw x0, minstret, x0 */
#define INSN_CSRR_X7_MINSTRET UINT32_C(0xb02023f3)  /* csrrs x7, minstret, x0 */
#define INSN_CSRR_X8_MINSTRET UINT32_C(0xb0202473)  /* csrrs x8, minstret, x0 */

static void put32(fixture_t *f, uint64_t pa, uint32_t insn) { memcpy(host(f, pa), &insn, 4); }

static void put16(fixture_t *f, uint64_t pa, uint16_t half) { memcpy(host(f, pa), &half, 2); }

/* §3.1.9: CSRRS/CSRRC on mip modify only the software-writable SEIP bit;
 * the external line shows in the value read but must not be written back
 * into the software bit. OpenSBI 1.1 does csr_set(CSR_MIP, MIP_SSIP) for
 * every S-mode IPI (sbi_ipi_process), here with the PLIC holding SEIP. */
static void test_csrrsi_mip_does_not_latch_external_seip(void **state) {
  fixture_t *f = *state;
  put32(f, DATA(19), INSN_CSRRSI_MIP_SSIP);
  put32(f, DATA(19) + 4, INSN_WFI);
  vmx_rv_sys_set_lines(&f->cpu, MIP(SEI), 0);
  f->cpu.pc = DATA(19);
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->cpu.pc, DATA(19) + 8);
  assert_int_equal(f->cpu.icount, 2);
  vmx_rv_sys_set_lines(&f->cpu, 0, MIP(SEI));
  uint64_t mip = csr(f, CSR_MIP);
  assert_int_equal(mip & MIP(SSI), MIP(SSI));
  /* SEIP is not left pending after the PLIC dropped it: csrrs/csrrc use
   * only the software SEIP bit as the base (priv 1.12 §3.1.9). */
  assert_int_equal(mip & MIP(SEI), 0);
}

/* A block that jumps within its page to an instruction straddling into
 * the next page is chained to that block; after the next page is
 * remapped (and the TLB flushed, as sfence.vma does) the chained block
 * must not run the old second half. */
static void test_chain_into_page_straddling_insn_sees_remap(void **state) {
  fixture_t *f = *state;
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x10000, DATA(20), 0, PTE_V | PTE_R | PTE_X | PTE_A);
  uint64_t *next = map(f, root, 3, 0x11000, DATA(21), 0, PTE_V | PTE_R | PTE_X | PTE_A);
  const uint32_t old_insn = INSN_ADDI_X7(0x123), new_insn = INSN_ADDI_X7(0x456);
  put32(f, DATA(20) + 0xff8, INSN_JAL_X0_PLUS6);
  put16(f, DATA(20) + 0xffc, 0x0001); /* c.nop, jumped over */
  put16(f, DATA(20) + 0xffe, (uint16_t)old_insn); /* the same low half in both */
  put16(f, DATA(21), (uint16_t)(old_insn >> 16));
  put32(f, DATA(21) + 2, INSN_WFI);
  put16(f, DATA(22), (uint16_t)(new_insn >> 16));
  put32(f, DATA(22) + 2, INSN_WFI);
  enter(f, VMX_RV_PRIV_S);

  f->cpu.pc = 0x10ff8;
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->cpu.x[7], 0x123);
  assert_int_equal(f->cpu.pc, 0x11006);

  *next = (DATA(22) >> 12) << 10 | PTE_V | PTE_R | PTE_X | PTE_A;
  vmx_rv_tlb_flush(&f->cpu, UINT64_MAX);
  f->cpu.x[7] = 0;
  f->cpu.pc = 0x10ff8;
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->cpu.pc, 0x11006);
  /* The straddling block is never chained to, so its pa2 check runs. */
  assert_int_equal(f->cpu.x[7], 0x456);
}

/* An instruction that raises an exception does not retire: xepc is its
 * address and xtval what the spec asks for (§3.1.16). */
static void test_interp_exceptions_at_the_instruction(void **state) {
  fixture_t *f = *state;
  assert_true(csr_write(f, CSR_MTVEC, DATA(23)));
  put32(f, DATA(23), INSN_WFI); /* the M handler stops the run */

  /* FS off: an FP instruction is illegal, tval = its bits. */
  put32(f, DATA(24), INSN_ADDI_X7(1));
  put32(f, DATA(24) + 4, INSN_FADD_S_F0);
  f->cpu.pc = DATA(24);
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->sys.mcause, VMX_RV_CAUSE_ILLEGAL);
  assert_int_equal(f->sys.mepc, DATA(24) + 4);
  assert_int_equal(f->sys.mtval, INSN_FADD_S_F0);
  assert_int_equal(f->cpu.x[7], 1);
  assert_int_equal(f->cpu.icount, 2); /* addi and the handler's wfi */

  /* A fetch that faults on the second half of an instruction: epc is the
   * instruction, tval the part that faulted. */
  uint64_t root = paging_on(f, VMX_RV_SATP_SV39);
  map(f, root, 3, 0x10000, DATA(25), 0, PTE_V | PTE_R | PTE_X | PTE_A);
  put16(f, DATA(25) + 0xffe, (uint16_t)INSN_ADDI_X7(5));
  enter(f, VMX_RV_PRIV_S);
  f->cpu.pc = 0x10ffe;
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_M);
  assert_int_equal(f->sys.mcause, VMX_RV_CAUSE_FETCH_PAGE);
  assert_int_equal(f->sys.mepc, 0x10ffe);
  assert_int_equal(f->sys.mtval, 0x11000);

  /* ecall from U, delegated: S takes it at stvec. sfence.vma from U is
   * illegal (not delegated: M takes it). */
  map(f, root, 3, 0x20000, DATA(26), 0, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A);
  map(f, root, 3, 0x30000, DATA(27), 0, PTE_V | PTE_R | PTE_X | PTE_A);
  put32(f, DATA(26), INSN_ECALL);
  put32(f, DATA(26) + 4, INSN_SFENCE_VMA);
  put32(f, DATA(27), INSN_WFI);
  assert_true(csr_write(f, CSR_STVEC, 0x30000));
  assert_true(csr_write(f, CSR_MEDELEG, UINT64_C(1) << VMX_RV_CAUSE_ECALL_U));
  enter(f, VMX_RV_PRIV_U);
  f->cpu.pc = 0x20000;
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_S);
  assert_int_equal(f->sys.scause, VMX_RV_CAUSE_ECALL_U);
  assert_int_equal(f->sys.sepc, 0x20000);
  back_to_m(f);
  enter(f, VMX_RV_PRIV_U);
  f->cpu.pc = 0x20004;
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->sys.priv, VMX_RV_PRIV_M);
  assert_int_equal(f->sys.mcause, VMX_RV_CAUSE_ILLEGAL);
  assert_int_equal(f->sys.mepc, 0x20004);
  assert_int_equal(f->sys.mtval, INSN_SFENCE_VMA);
}

/* A CSR write that enables a pending interrupt: it is taken before the
 * next instruction, with mepc pointing at that instruction. */
static void test_interp_interrupt_after_enabling_csr_write(void **state) {
  fixture_t *f = *state;
  assert_true(csr_write(f, CSR_MTVEC, DATA(23)));
  put32(f, DATA(23), INSN_ADDI_X8_1);
  put32(f, DATA(23) + 4, INSN_WFI);
  assert_true(csr_write(f, CSR_MIE, MIP(MSI)));
  vmx_rv_sys_set_lines(&f->cpu, MIP(MSI), 0);
  put32(f, DATA(24), INSN_CSRRSI_MSTATUS_MIE);
  put32(f, DATA(24) + 4, INSN_ADDI_X7(1));
  f->cpu.pc = DATA(24);
  f->cpu.icount_limit = 2;
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_LIMIT);
  assert_int_equal(f->sys.mcause, IRQ(MSI));
  assert_int_equal(f->sys.mepc, DATA(24) + 4);
  assert_int_equal(f->cpu.x[7], 0);
  assert_int_equal(f->cpu.x[8], 1);
  assert_int_equal(csr(f, CSR_MSTATUS) & (VMX_RV_MSTATUS_MIE | VMX_RV_MSTATUS_MPIE),
                   VMX_RV_MSTATUS_MPIE);
}

/* fence.i makes this hart run code stored after its blocks were built. */
static void test_interp_fence_i_sees_new_code(void **state) {
  fixture_t *f = *state;
  put32(f, DATA(24), INSN_FENCE_I);
  put32(f, DATA(24) + 4, INSN_ADDI_X7(1));
  put32(f, DATA(24) + 8, INSN_WFI);
  f->cpu.pc = DATA(24);
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->cpu.x[7], 1);
  assert_true(vmx_rv_mem_store(&f->cpu, DATA(24) + 4, 4, INSN_ADDI_X7(2)));
  f->cpu.pc = DATA(24);
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->cpu.x[7], 2);
}

/* A write to minstret takes precedence over the writing instruction's own
 * increment: the next instruction reads the value written (as Spike). */
static void test_interp_minstret_write(void **state) {
  fixture_t *f = *state;
  put32(f, DATA(24), INSN_CSRW_MINSTRET_X0);
  put32(f, DATA(24) + 4, INSN_CSRR_X7_MINSTRET);
  put32(f, DATA(24) + 8, INSN_CSRR_X8_MINSTRET);
  put32(f, DATA(24) + 12, INSN_WFI);
  f->cpu.pc = DATA(24);
  assert_int_equal(vmx_rv_cpu_run_sys(&f->cpu), VMX_RV_EXIT_WFI);
  assert_int_equal(f->cpu.x[8] - f->cpu.x[7], 1);
  /* The written value replaces the writing instruction's increment. */
  assert_int_equal(f->cpu.x[7], 0);
}

/* ------------------------------------------------------------ CSR access */

static void test_csr_privilege_and_fs(void **state) {
  fixture_t *f = *state;
  uint64_t v;
  enter(f, VMX_RV_PRIV_S);
  assert_false(csr_read(f, CSR_MSTATUS, &v));
  assert_false(csr_write(f, CSR_MIE, 0));
  /* FS off: the FP CSRs are illegal; on: usable, and FS becomes dirty. */
  assert_false(csr_read(f, 0x003, &v));
  assert_true(csr_write(f, CSR_SSTATUS, csr(f, CSR_SSTATUS) | (UINT64_C(1) << 13)));
  assert_true(csr_read(f, 0x003, &v));
  assert_true(csr_write(f, 0x001, 0x1f));
  v = csr(f, CSR_SSTATUS);
  assert_int_equal(v & VMX_RV_MSTATUS_FS, VMX_RV_MSTATUS_FS);
  assert_int_equal(v & VMX_RV_MSTATUS_SD, VMX_RV_MSTATUS_SD);
  /* sstatus shows no M fields. */
  assert_int_equal(v & (VMX_RV_MSTATUS_MIE | VMX_RV_MSTATUS_MPP | VMX_RV_MSTATUS_MPRV), 0);
  back_to_m(f);
  /* MPP = 2 is reserved: the field keeps its value. */
  uint64_t st = csr(f, CSR_MSTATUS) & ~VMX_RV_MSTATUS_MPP;
  assert_true(csr_write(f, CSR_MSTATUS, st | (uint64_t)1 << 11));
  assert_true(csr_write(f, CSR_MSTATUS, st | (uint64_t)2 << 11));
  assert_int_equal((csr(f, CSR_MSTATUS) & VMX_RV_MSTATUS_MPP) >> 11, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_m_mode_is_bare_and_reaches_ram_and_devices),
      T(test_satp_is_ignored_in_m_mode_without_mprv),
      T(test_sv39_page),
      T(test_sv39_negative_va),
      T(test_sv48_page),
      T(test_sv48_negative_va),
      T(test_sv57_page),
      T(test_sv57_negative_va),
      T(test_non_canonical_va_page_faults),
      T(test_sv48_rejects_an_sv57_address),
      T(test_invalid_pte_faults_by_access_kind),
      T(test_reserved_encodings_page_fault),
      T(test_pte_outside_memory_is_an_access_fault),
      T(test_read_only_and_execute_only_pages),
      T(test_mxr_reads_execute_only_pages),
      T(test_user_and_supervisor_pages),
      T(test_mprv_translates_m_mode_data_only),
      T(test_first_store_to_clean_page_sets_dirty),
      T(test_faulting_access_sets_no_bits),
      T(test_tlb_flush_sees_changed_pte),
      T(test_tlb_keeps_address_spaces_across_satp_writes),
      T(test_sum_switches_regime_without_flush),
      T(test_megapage_and_gigapage),
      T(test_misaligned_superpage_faults),
      T(test_flush_of_one_address_drops_superpage_pieces),
      T(test_device_page_through_translation),
      T(test_watched_page_stores_reach_ram_and_device),
      T(test_misaligned_access_within_and_across_pages),
      T(test_atomics),
      T(test_satp_unsupported_mode_has_no_effect),
      T(test_trap_delegation),
      T(test_vectored_interrupts),
      T(test_mret_and_sret_restore_state),
      T(test_interrupt_priority),
      T(test_interrupt_enables_by_privilege),
      T(test_sstc_timer),
      T(test_external_seip_and_software_seip),
      T(test_csrrsi_mip_does_not_latch_external_seip),
      T(test_chain_into_page_straddling_insn_sees_remap),
      T(test_interp_exceptions_at_the_instruction),
      T(test_interp_interrupt_after_enabling_csr_write),
      T(test_interp_fence_i_sees_new_code),
      T(test_interp_minstret_write),
      T(test_csr_privilege_and_fs),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
