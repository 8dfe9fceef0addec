/* The privileged architecture of a system-mode hart: CSRs, traps,
 * interrupts, xRET (RISC-V privileged spec 1.12; Sstc for stimecmp).
 *
 * The PMP registers and their checks are in mem/rv_pmp.c; the MMU applies
 * them when it fills a TLB entry. */
#include "cpu/riscv/priv.h"

#include <string.h>

#include "cpu/riscv/interp.h"
#include "mem/rv_mmu.h"

#define MSTATUS_WRITABLE                                                                   \
  (VMX_RV_MSTATUS_SIE | VMX_RV_MSTATUS_MIE | VMX_RV_MSTATUS_SPIE | VMX_RV_MSTATUS_MPIE |   \
   VMX_RV_MSTATUS_SPP | VMX_RV_MSTATUS_MPP | VMX_RV_MSTATUS_FS | VMX_RV_MSTATUS_MPRV |     \
   VMX_RV_MSTATUS_SUM | VMX_RV_MSTATUS_MXR | VMX_RV_MSTATUS_TVM | VMX_RV_MSTATUS_TW |      \
   VMX_RV_MSTATUS_TSR)
#define SSTATUS_READABLE                                                                   \
  (VMX_RV_MSTATUS_SIE | VMX_RV_MSTATUS_SPIE | VMX_RV_MSTATUS_SPP | VMX_RV_MSTATUS_FS |     \
   VMX_RV_MSTATUS_SUM | VMX_RV_MSTATUS_MXR | VMX_RV_MSTATUS_UXL | VMX_RV_MSTATUS_SD)
#define SSTATUS_WRITABLE                                                                   \
  (VMX_RV_MSTATUS_SIE | VMX_RV_MSTATUS_SPIE | VMX_RV_MSTATUS_SPP | VMX_RV_MSTATUS_FS |     \
   VMX_RV_MSTATUS_SUM | VMX_RV_MSTATUS_MXR)

#define ALL_IRQS                                                                           \
  (VMX_RV_MIP(VMX_RV_IRQ_SSI) | VMX_RV_MIP(VMX_RV_IRQ_MSI) | VMX_RV_MIP(VMX_RV_IRQ_STI) |  \
   VMX_RV_MIP(VMX_RV_IRQ_MTI) | VMX_RV_MIP(VMX_RV_IRQ_SEI) | VMX_RV_MIP(VMX_RV_IRQ_MEI))
#define S_IRQS (VMX_RV_MIP(VMX_RV_IRQ_SSI) | VMX_RV_MIP(VMX_RV_IRQ_STI) | VMX_RV_MIP(VMX_RV_IRQ_SEI))
/* Exceptions M-mode may delegate: all but ecall from M (11) and the
 * reserved 10 and 14. */
#define MEDELEG_WRITABLE 0xb3ffu

enum {
  CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
  CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105, CSR_SCOUNTEREN = 0x106,
  CSR_SENVCFG = 0x10a, CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
  CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_STIMECMP = 0x14d, CSR_SATP = 0x180,
  CSR_MSTATUS = 0x300, CSR_MISA = 0x301, CSR_MEDELEG = 0x302, CSR_MIDELEG = 0x303,
  CSR_MIE = 0x304, CSR_MTVEC = 0x305, CSR_MCOUNTEREN = 0x306, CSR_MENVCFG = 0x30a,
  CSR_MCOUNTINHIBIT = 0x320, CSR_MSCRATCH = 0x340, CSR_MEPC = 0x341, CSR_MCAUSE = 0x342,
  CSR_MTVAL = 0x343, CSR_MIP = 0x344, CSR_PMPCFG0 = 0x3a0, CSR_PMPADDR0 = 0x3b0,
  CSR_MCYCLE = 0xb00, CSR_MINSTRET = 0xb02, CSR_CYCLE = 0xc00, CSR_TIME = 0xc01,
  CSR_INSTRET = 0xc02, CSR_MVENDORID = 0xf11, CSR_MARCHID = 0xf12, CSR_MIMPID = 0xf13,
  CSR_MHARTID = 0xf14, CSR_MCONFIGPTR = 0xf15,
};

static void update_regimes(vmx_rv_sys_t *sys);

void vmx_rv_sys_set_priv(vmx_rv_cpu_t *cpu, unsigned priv) {
  cpu->sys->priv = priv;
  update_regimes(cpu->sys);
}

/* Recomputes the TLB regimes for fetches and data after a change of
 * privilege or of mstatus.MPRV/MPP. */
static void update_regimes(vmx_rv_sys_t *sys) {
  static const unsigned regime[4] = {VMX_RV_MMU_U, VMX_RV_MMU_S, VMX_RV_MMU_M, VMX_RV_MMU_M};
  sys->mmu_fetch = regime[sys->priv];
  unsigned data_priv = sys->priv;
  if (sys->priv == VMX_RV_PRIV_M && (sys->mstatus & VMX_RV_MSTATUS_MPRV))
    data_priv = (unsigned)((sys->mstatus & VMX_RV_MSTATUS_MPP) >> 11);
  unsigned r = regime[data_priv];
  if (r == VMX_RV_MMU_S && (sys->mstatus & VMX_RV_MSTATUS_SUM))
    r = VMX_RV_MMU_S_SUM;
  sys->mmu_data = r;
}

void vmx_rv_sys_init(vmx_rv_cpu_t *cpu, vmx_rv_sys_t *sys, uint64_t hartid) {
  cpu->sys = sys;
  sys->mhartid = hartid;
  vmx_rv_sys_reset(cpu);
}

void vmx_rv_sys_reset(vmx_rv_cpu_t *cpu) {
  vmx_rv_sys_t *sys = cpu->sys;
  size_t from = offsetof(vmx_rv_sys_t, priv), to = offsetof(vmx_rv_sys_t, tlb);
  uint64_t hartid = sys->mhartid;
  memset((uint8_t *)sys + from, 0, to - from);
  sys->mhartid = hartid;
  sys->priv = VMX_RV_PRIV_M;
  /* RV64 with I M A F D C, S and U modes. */
  sys->misa = (uint64_t)2 << 62 | 1u << ('I' - 'A') | 1u << ('M' - 'A') | 1u << ('A' - 'A') |
              1u << ('F' - 'A') | 1u << ('D' - 'A') | 1u << ('C' - 'A') | 1u << ('S' - 'A') |
              1u << ('U' - 'A');
  sys->mstatus = (uint64_t)2 << 32 | (uint64_t)2 << 34; /* UXL = SXL = 64 */
  sys->stimecmp = UINT64_MAX;
  update_regimes(sys);
  vmx_rv_tlb_flush(cpu, UINT64_MAX);
  vmx_rv_cpu_flush_code(cpu);
  cpu->resv_valid = false;
}

/* Sstc: STIP follows stimecmp while menvcfg.STCE is set. */
static bool sstc_on(const vmx_rv_sys_t *sys) { return sys->menvcfg & VMX_RV_MENVCFG_STCE; }

/* The hart's retired instructions at this point of a run: the interpreter
 * takes a block's length from the budget when it enters the block, so this
 * is exact at block boundaries (where interrupts are looked at) and the
 * count at the end of the block inside one; outside a run it is icount. */
static uint64_t run_count(const vmx_rv_cpu_t *cpu) { return cpu->icount_limit - cpu->budget; }

/* mip at instruction count now. */
static uint64_t sys_mip(vmx_rv_cpu_t *cpu, uint64_t now) {
  vmx_rv_sys_t *sys = cpu->sys;
  uint64_t mip = sys->mip | atomic_load_explicit(&sys->ext_mip, memory_order_acquire);
  if (sstc_on(sys)) {
    mip &= ~VMX_RV_MIP(VMX_RV_IRQ_STI);
    if (sys->ops->mtime(sys->machine, cpu, now) >= sys->stimecmp)
      mip |= VMX_RV_MIP(VMX_RV_IRQ_STI);
  }
  return mip;
}

uint64_t vmx_rv_sys_mip(vmx_rv_cpu_t *cpu) { return sys_mip(cpu, run_count(cpu)); }

void vmx_rv_sys_set_lines(vmx_rv_cpu_t *cpu, uint64_t set, uint64_t clear) {
  vmx_rv_sys_t *sys = cpu->sys;
  if (set)
    atomic_fetch_or_explicit(&sys->ext_mip, set, memory_order_release);
  if (clear)
    atomic_fetch_and_explicit(&sys->ext_mip, ~clear, memory_order_release);
  /* The hart looks at its next block boundary, without leaving its run. */
  atomic_fetch_or_explicit(&cpu->exit_request, VMX_RV_REQ_IRQ, memory_order_release);
}

/* Highest-priority interrupt among bits (MEI, MSI, MTI, SEI, SSI, STI). */
static uint64_t first_irq(uint64_t bits) {
  static const unsigned order[] = {VMX_RV_IRQ_MEI, VMX_RV_IRQ_MSI, VMX_RV_IRQ_MTI,
                                   VMX_RV_IRQ_SEI, VMX_RV_IRQ_SSI, VMX_RV_IRQ_STI};
  for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++)
    if (bits & VMX_RV_MIP(order[i]))
      return VMX_RV_CAUSE_INTERRUPT | order[i];
  return 0;
}

uint64_t vmx_rv_sys_pending_irq(vmx_rv_cpu_t *cpu) {
  vmx_rv_sys_t *sys = cpu->sys;
  uint64_t lines = sys->mip | atomic_load_explicit(&sys->ext_mip, memory_order_acquire);
  if (!(sys->mie & lines) && !(sstc_on(sys) && (sys->mie & VMX_RV_MIP(VMX_RV_IRQ_STI))))
    return 0;
  uint64_t pending = vmx_rv_sys_mip(cpu) & sys->mie;
  if (!pending)
    return 0;
  uint64_t m = pending & ~sys->mideleg, s = pending & sys->mideleg;
  bool m_on = sys->priv < VMX_RV_PRIV_M || (sys->mstatus & VMX_RV_MSTATUS_MIE);
  bool s_on = sys->priv < VMX_RV_PRIV_S ||
              (sys->priv == VMX_RV_PRIV_S && (sys->mstatus & VMX_RV_MSTATUS_SIE));
  if (m_on && m)
    return first_irq(m);
  if (s_on && s)
    return first_irq(s);
  return 0;
}

bool vmx_rv_sys_wfi_wakes(vmx_rv_cpu_t *cpu) {
  return (vmx_rv_sys_mip(cpu) & cpu->sys->mie) != 0;
}

uint64_t vmx_rv_sys_trap(vmx_rv_cpu_t *cpu, uint64_t cause, uint64_t tval, uint64_t epc) {
  vmx_rv_sys_t *sys = cpu->sys;
  bool irq = cause & VMX_RV_CAUSE_INTERRUPT;
  unsigned code = (unsigned)(cause & 63);
  uint64_t deleg = irq ? sys->mideleg : sys->medeleg;
  uint64_t tvec;
  if (sys->priv <= VMX_RV_PRIV_S && ((deleg >> code) & 1)) {
    sys->scause = cause;
    sys->sepc = epc;
    sys->stval = tval;
    uint64_t st = sys->mstatus & ~(VMX_RV_MSTATUS_SPIE | VMX_RV_MSTATUS_SIE | VMX_RV_MSTATUS_SPP);
    if (sys->mstatus & VMX_RV_MSTATUS_SIE)
      st |= VMX_RV_MSTATUS_SPIE;
    if (sys->priv == VMX_RV_PRIV_S)
      st |= VMX_RV_MSTATUS_SPP;
    sys->mstatus = st;
    sys->priv = VMX_RV_PRIV_S;
    tvec = sys->stvec;
  } else {
    sys->mcause = cause;
    sys->mepc = epc;
    sys->mtval = tval;
    uint64_t st = sys->mstatus & ~(VMX_RV_MSTATUS_MPIE | VMX_RV_MSTATUS_MIE | VMX_RV_MSTATUS_MPP);
    if (sys->mstatus & VMX_RV_MSTATUS_MIE)
      st |= VMX_RV_MSTATUS_MPIE;
    st |= (uint64_t)sys->priv << 11;
    sys->mstatus = st;
    sys->priv = VMX_RV_PRIV_M;
    tvec = sys->mtvec;
  }
  update_regimes(sys);
  cpu->resv_valid = false;
  uint64_t base = tvec & ~(uint64_t)3;
  return (tvec & 1) && irq ? base + 4 * code : base;
}

uint64_t vmx_rv_sys_mret(vmx_rv_cpu_t *cpu) {
  vmx_rv_sys_t *sys = cpu->sys;
  unsigned mpp = (unsigned)((sys->mstatus & VMX_RV_MSTATUS_MPP) >> 11);
  uint64_t st = sys->mstatus & ~(VMX_RV_MSTATUS_MIE | VMX_RV_MSTATUS_MPP);
  if (sys->mstatus & VMX_RV_MSTATUS_MPIE)
    st |= VMX_RV_MSTATUS_MIE;
  st |= VMX_RV_MSTATUS_MPIE;
  if (mpp != VMX_RV_PRIV_M)
    st &= ~VMX_RV_MSTATUS_MPRV;
  sys->mstatus = st;
  sys->priv = mpp;
  update_regimes(sys); /* MPRV and MPP select a regime: no TLB to flush */
  cpu->resv_valid = false;
  return sys->mepc;
}

uint64_t vmx_rv_sys_sret(vmx_rv_cpu_t *cpu) {
  vmx_rv_sys_t *sys = cpu->sys;
  unsigned spp = sys->mstatus & VMX_RV_MSTATUS_SPP ? VMX_RV_PRIV_S : VMX_RV_PRIV_U;
  uint64_t st = sys->mstatus & ~(VMX_RV_MSTATUS_SIE | VMX_RV_MSTATUS_SPP | VMX_RV_MSTATUS_MPRV);
  if (sys->mstatus & VMX_RV_MSTATUS_SPIE)
    st |= VMX_RV_MSTATUS_SIE;
  st |= VMX_RV_MSTATUS_SPIE;
  sys->mstatus = st;
  sys->priv = spp;
  update_regimes(sys);
  cpu->resv_valid = false;
  return sys->sepc;
}

/* Counter access from S or U: gated by mcounteren (and scounteren for U). */
static bool counter_allowed(const vmx_rv_sys_t *sys, unsigned index) {
  if (sys->priv == VMX_RV_PRIV_M)
    return true;
  if (!((sys->mcounteren >> index) & 1))
    return false;
  return sys->priv == VMX_RV_PRIV_S || ((sys->scounteren >> index) & 1);
}

/* mcycle (index 0) and minstret (2) count retired instructions; while
 * mcountinhibit stops one, its offset holds the frozen value instead. */
static uint64_t counter(const vmx_rv_sys_t *sys, unsigned index, uint64_t now) {
  uint64_t off = index == 0 ? sys->mcycle_off : sys->minstret_off;
  return (sys->mcountinhibit >> index) & 1 ? off : now + off;
}

static void counter_set(vmx_rv_sys_t *sys, unsigned index, uint64_t now, uint64_t val) {
  uint64_t *off = index == 0 ? &sys->mcycle_off : &sys->minstret_off;
  *off = (sys->mcountinhibit >> index) & 1 ? val : val - now;
}

static uint64_t with_sd(uint64_t mstatus) {
  return (mstatus & VMX_RV_MSTATUS_FS) == VMX_RV_MSTATUS_FS ? mstatus | VMX_RV_MSTATUS_SD
                                                            : mstatus & ~VMX_RV_MSTATUS_SD;
}

bool vmx_rv_sys_csr_read(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t now, uint64_t *val) {
  vmx_rv_sys_t *sys = cpu->sys;
  if (((csr >> 8) & 3) > sys->priv)
    return false;
  switch (csr) {
  case CSR_FFLAGS: case CSR_FRM: case CSR_FCSR:
    if (!(sys->mstatus & VMX_RV_MSTATUS_FS))
      return false;
    return vmx_rv_csr_read(cpu, csr, now, val);
  case CSR_CYCLE: case CSR_INSTRET:
    if (!counter_allowed(sys, csr & 31))
      return false;
    *val = counter(sys, csr & 31, now);
    return true;
  case CSR_TIME:
    if (!counter_allowed(sys, 1))
      return false;
    *val = sys->ops->mtime(sys->machine, cpu, now);
    return true;
  case CSR_SSTATUS: *val = with_sd(sys->mstatus) & SSTATUS_READABLE; return true;
  case CSR_SIE: *val = sys->mie & sys->mideleg; return true;
  case CSR_STVEC: *val = sys->stvec; return true;
  case CSR_SCOUNTEREN: *val = sys->scounteren; return true;
  case CSR_SENVCFG: *val = sys->senvcfg; return true;
  case CSR_SSCRATCH: *val = sys->sscratch; return true;
  case CSR_SEPC: *val = sys->sepc; return true;
  case CSR_SCAUSE: *val = sys->scause; return true;
  case CSR_STVAL: *val = sys->stval; return true;
  case CSR_SIP: *val = sys_mip(cpu, now) & sys->mideleg; return true;
  case CSR_STIMECMP:
    if (sys->priv == VMX_RV_PRIV_S && (!sstc_on(sys) || !(sys->mcounteren & 2)))
      return false;
    *val = sys->stimecmp;
    return true;
  case CSR_SATP:
    if (sys->priv == VMX_RV_PRIV_S && (sys->mstatus & VMX_RV_MSTATUS_TVM))
      return false;
    *val = sys->satp;
    return true;
  case CSR_MSTATUS: *val = with_sd(sys->mstatus); return true;
  case CSR_MISA: *val = sys->misa; return true;
  case CSR_MEDELEG: *val = sys->medeleg; return true;
  case CSR_MIDELEG: *val = sys->mideleg; return true;
  case CSR_MIE: *val = sys->mie; return true;
  case CSR_MTVEC: *val = sys->mtvec; return true;
  case CSR_MCOUNTEREN: *val = sys->mcounteren; return true;
  case CSR_MENVCFG: *val = sys->menvcfg; return true;
  case CSR_MCOUNTINHIBIT: *val = sys->mcountinhibit; return true;
  case CSR_MSCRATCH: *val = sys->mscratch; return true;
  case CSR_MEPC: *val = sys->mepc; return true;
  case CSR_MCAUSE: *val = sys->mcause; return true;
  case CSR_MTVAL: *val = sys->mtval; return true;
  case CSR_MIP: *val = sys_mip(cpu, now); return true;
  case CSR_MCYCLE: *val = counter(sys, 0, now); return true;
  case CSR_MINSTRET: *val = counter(sys, 2, now); return true;
  case CSR_MVENDORID: case CSR_MARCHID: case CSR_MIMPID: case CSR_MCONFIGPTR:
    *val = 0;
    return true;
  case CSR_MHARTID: *val = sys->mhartid; return true;
  default: break;
  }
  if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
    if (csr & 1)
      return false; /* RV64 has the even ones only */
    *val = vmx_rv_pmp_cfg_read(&sys->pmp, csr - CSR_PMPCFG0);
    return true;
  }
  if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
    *val = vmx_rv_pmp_addr_read(&sys->pmp, csr - CSR_PMPADDR0);
    return true;
  }
  /* Performance counters and their events: present, always zero. */
  if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
    *val = 0;
    return true;
  }
  if (csr >= 0xc03 && csr <= 0xc1f) {
    if (!counter_allowed(sys, csr & 31))
      return false;
    *val = 0;
    return true;
  }
  return false;
}

/* TLB entries and decoded blocks were checked under the old PMP rules
 * (blocks chained within a page are not fetched again): both go. Firmware
 * writes PMP at boot and on domain switches only. */
static void pmp_changed(vmx_rv_cpu_t *cpu) {
  vmx_rv_tlb_flush(cpu, UINT64_MAX);
  vmx_rv_cpu_flush_code(cpu);
}

bool vmx_rv_sys_csr_write(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t val, uint64_t now) {
  vmx_rv_sys_t *sys = cpu->sys;
  if (((csr >> 8) & 3) > sys->priv || (csr >> 10) == 3)
    return false;
  switch (csr) {
  case CSR_FFLAGS: case CSR_FRM: case CSR_FCSR:
    if (!(sys->mstatus & VMX_RV_MSTATUS_FS))
      return false;
    sys->mstatus |= VMX_RV_MSTATUS_FS;
    return vmx_rv_csr_write(cpu, csr, val);
  case CSR_SSTATUS:
    val = (sys->mstatus & ~SSTATUS_WRITABLE) | (val & SSTATUS_WRITABLE);
    csr = CSR_MSTATUS;
    break;
  case CSR_SIE:
    sys->mie = (sys->mie & ~sys->mideleg) | (val & sys->mideleg);
    return true;
  case CSR_STVEC: sys->stvec = val & ~(uint64_t)2; return true;
  case CSR_SCOUNTEREN: sys->scounteren = val & 0xffffffffu; return true;
  case CSR_SENVCFG: sys->senvcfg = val & 1; return true;
  case CSR_SSCRATCH: sys->sscratch = val; return true;
  case CSR_SEPC: sys->sepc = val & ~(uint64_t)1; return true;
  case CSR_SCAUSE: sys->scause = val; return true;
  case CSR_STVAL: sys->stval = val; return true;
  case CSR_SIP: {
    uint64_t m = sys->mideleg & VMX_RV_MIP(VMX_RV_IRQ_SSI);
    sys->mip = (sys->mip & ~m) | (val & m);
    return true;
  }
  case CSR_STIMECMP:
    if (sys->priv == VMX_RV_PRIV_S && (!sstc_on(sys) || !(sys->mcounteren & 2)))
      return false;
    sys->stimecmp = val;
    if (sys->ops->timer_changed)
      sys->ops->timer_changed(sys->machine, cpu, val);
    return true;
  case CSR_SATP: {
    if (sys->priv == VMX_RV_PRIV_S && (sys->mstatus & VMX_RV_MSTATUS_TVM))
      return false;
    unsigned mode = VMX_RV_SATP_MODE(val);
    if (mode != VMX_RV_SATP_BARE && mode != VMX_RV_SATP_SV39 && mode != VMX_RV_SATP_SV48 &&
        mode != VMX_RV_SATP_SV57)
      return true; /* an unsupported mode: the write has no effect */
    val &= (uint64_t)15 << 60 | (uint64_t)0xffff << 44 | (((uint64_t)1 << 44) - 1);
    if (val != sys->satp)
      vmx_rv_tlb_switch(cpu, val);
    return true;
  }
  case CSR_MSTATUS: break;
  case CSR_MISA: return true; /* fixed */
  case CSR_MEDELEG: sys->medeleg = val & MEDELEG_WRITABLE; return true;
  case CSR_MIDELEG: sys->mideleg = val & S_IRQS; return true;
  case CSR_MIE: sys->mie = val & ALL_IRQS; return true;
  case CSR_MTVEC: sys->mtvec = val & ~(uint64_t)2; return true;
  case CSR_MCOUNTEREN: sys->mcounteren = val & 0xffffffffu; return true;
  case CSR_MENVCFG: {
    uint64_t old = sys->menvcfg;
    sys->menvcfg = val & (VMX_RV_MENVCFG_STCE | 1);
    if (!(old & VMX_RV_MENVCFG_STCE) && sstc_on(sys) && sys->ops->timer_changed)
      sys->ops->timer_changed(sys->machine, cpu, sys->stimecmp);
    return true;
  }
  case CSR_MCOUNTINHIBIT: {
    uint64_t cy = counter(sys, 0, now), ir = counter(sys, 2, now);
    sys->mcountinhibit = val & 0xfffffffdu;
    counter_set(sys, 0, now, cy);
    counter_set(sys, 2, now, ir);
    return true;
  }
  case CSR_MSCRATCH: sys->mscratch = val; return true;
  case CSR_MEPC: sys->mepc = val & ~(uint64_t)1; return true;
  case CSR_MCAUSE: sys->mcause = val; return true;
  case CSR_MTVAL: sys->mtval = val; return true;
  case CSR_MIP: {
    uint64_t m = VMX_RV_MIP(VMX_RV_IRQ_SSI) | VMX_RV_MIP(VMX_RV_IRQ_SEI);
    if (!sstc_on(sys))
      m |= VMX_RV_MIP(VMX_RV_IRQ_STI);
    sys->mip = (sys->mip & ~m) | (val & m);
    return true;
  }
  /* The written value is what the next instruction reads: it replaces
   * the writing instruction's own increment. */
  case CSR_MCYCLE: counter_set(sys, 0, now + 1, val); return true;
  case CSR_MINSTRET: counter_set(sys, 2, now + 1, val); return true;
  default:
    if (csr >= CSR_PMPCFG0 && csr < CSR_PMPCFG0 + 16) {
      if (csr & 1)
        return false;
      vmx_rv_pmp_cfg_write(&sys->pmp, csr - CSR_PMPCFG0, val);
      pmp_changed(cpu);
      return true;
    }
    if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
      vmx_rv_pmp_addr_write(&sys->pmp, csr - CSR_PMPADDR0, val);
      pmp_changed(cpu);
      return true;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f))
      return true;
    return false;
  }
  /* mstatus (directly or through sstatus). */
  uint64_t old = sys->mstatus;
  uint64_t st = (old & ~MSTATUS_WRITABLE) | (val & MSTATUS_WRITABLE);
  if (((st & VMX_RV_MSTATUS_MPP) >> 11) == 2)
    st = (st & ~VMX_RV_MSTATUS_MPP) | (old & VMX_RV_MSTATUS_MPP); /* reserved: keep */
  sys->mstatus = st & ~VMX_RV_MSTATUS_SD;
  /* MPRV, MPP and SUM select a regime; MXR changes what loads may read in
   * every translated regime. */
  if ((old ^ st) & (VMX_RV_MSTATUS_MPRV | VMX_RV_MSTATUS_MPP | VMX_RV_MSTATUS_SUM))
    update_regimes(sys);
  if ((old ^ st) & VMX_RV_MSTATUS_MXR)
    vmx_rv_tlb_flush(cpu, UINT64_MAX);
  return true;
}
