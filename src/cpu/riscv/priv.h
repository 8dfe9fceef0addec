/* The RISC-V privileged architecture of a system-mode hart: CSRs, traps,
 * interrupts and the xRET instructions (privileged spec, version 1.12).
 *
 * Used by the system-mode interpreter on the hart's own thread. */
#ifndef VMX_CPU_RISCV_PRIV_H
#define VMX_CPU_RISCV_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/riscv/cpu.h"

/* mstatus fields. */
#define VMX_RV_MSTATUS_SIE ((uint64_t)1 << 1)
#define VMX_RV_MSTATUS_MIE ((uint64_t)1 << 3)
#define VMX_RV_MSTATUS_SPIE ((uint64_t)1 << 5)
#define VMX_RV_MSTATUS_MPIE ((uint64_t)1 << 7)
#define VMX_RV_MSTATUS_SPP ((uint64_t)1 << 8)
#define VMX_RV_MSTATUS_MPP ((uint64_t)3 << 11)
#define VMX_RV_MSTATUS_FS ((uint64_t)3 << 13)
#define VMX_RV_MSTATUS_MPRV ((uint64_t)1 << 17)
#define VMX_RV_MSTATUS_SUM ((uint64_t)1 << 18)
#define VMX_RV_MSTATUS_MXR ((uint64_t)1 << 19)
#define VMX_RV_MSTATUS_TVM ((uint64_t)1 << 20)
#define VMX_RV_MSTATUS_TW ((uint64_t)1 << 21)
#define VMX_RV_MSTATUS_TSR ((uint64_t)1 << 22)
#define VMX_RV_MSTATUS_UXL ((uint64_t)3 << 32)
#define VMX_RV_MSTATUS_SXL ((uint64_t)3 << 34)
#define VMX_RV_MSTATUS_SD ((uint64_t)1 << 63)

/* Interrupt bits of mip/mie (and causes, with the interrupt bit). */
enum {
  VMX_RV_IRQ_SSI = 1, VMX_RV_IRQ_MSI = 3, VMX_RV_IRQ_STI = 5, VMX_RV_IRQ_MTI = 7,
  VMX_RV_IRQ_SEI = 9, VMX_RV_IRQ_MEI = 11,
};
#define VMX_RV_MIP(irq) ((uint64_t)1 << (irq))
#define VMX_RV_CAUSE_INTERRUPT ((uint64_t)1 << 63)

/* Exception causes. */
enum {
  VMX_RV_CAUSE_FETCH_MISALIGNED = 0, VMX_RV_CAUSE_FETCH_ACCESS = 1, VMX_RV_CAUSE_ILLEGAL = 2,
  VMX_RV_CAUSE_BREAKPOINT = 3, VMX_RV_CAUSE_LOAD_MISALIGNED = 4, VMX_RV_CAUSE_LOAD_ACCESS = 5,
  VMX_RV_CAUSE_STORE_MISALIGNED = 6, VMX_RV_CAUSE_STORE_ACCESS = 7,
  VMX_RV_CAUSE_ECALL_U = 8, VMX_RV_CAUSE_ECALL_S = 9, VMX_RV_CAUSE_ECALL_M = 11,
  VMX_RV_CAUSE_FETCH_PAGE = 12, VMX_RV_CAUSE_LOAD_PAGE = 13, VMX_RV_CAUSE_STORE_PAGE = 15,
};

/* satp and menvcfg. */
#define VMX_RV_SATP_MODE(satp) ((unsigned)((satp) >> 60))
enum { VMX_RV_SATP_BARE = 0, VMX_RV_SATP_SV39 = 8, VMX_RV_SATP_SV48 = 9, VMX_RV_SATP_SV57 = 10 };
#define VMX_RV_MENVCFG_STCE ((uint64_t)1 << 63)

/* Sets up cpu as hart `hartid` in M-mode at reset (pc is the caller's)
 * on the machine's memory map; sys is owned by the caller. */
void vmx_rv_sys_init(vmx_rv_cpu_t *cpu, vmx_rv_sys_t *sys, uint64_t hartid);

/* Puts the hart in privilege priv (VMX_RV_PRIV_*) with the TLB regimes
 * that go with it: for a debugger, which may also write CSRs from another
 * privilege and must then restore the hart's own. */
void vmx_rv_sys_set_priv(vmx_rv_cpu_t *cpu, unsigned priv);

/* Reset state again (a machine reset): M-mode, CSRs cleared, TLB flushed,
 * decoded code dropped. Registers other than the CSRs are left as they are. */
void vmx_rv_sys_reset(vmx_rv_cpu_t *cpu);

/* CSR access from the current privilege at instruction count now. False:
 * the access is illegal (the caller raises an illegal-instruction trap);
 * a failed write changes nothing. */
bool vmx_rv_sys_csr_read(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t now, uint64_t *val);
bool vmx_rv_sys_csr_write(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t val, uint64_t now);

/* Takes trap `cause` (an exception, or VMX_RV_CAUSE_INTERRUPT | irq) raised
 * by the instruction at epc (for interrupts: the next instruction to run)
 * with tval; returns the pc of the handler. */
uint64_t vmx_rv_sys_trap(vmx_rv_cpu_t *cpu, uint64_t cause, uint64_t tval, uint64_t epc);

/* The interrupt to take now (VMX_RV_CAUSE_INTERRUPT | irq), or 0. */
uint64_t vmx_rv_sys_pending_irq(vmx_rv_cpu_t *cpu);

/* True when an interrupt is pending and enabled in mie (whatever the
 * global enables): wfi does not wait then. */
bool vmx_rv_sys_wfi_wakes(vmx_rv_cpu_t *cpu);

/* mret and sret: return the pc to continue at. */
uint64_t vmx_rv_sys_mret(vmx_rv_cpu_t *cpu);
uint64_t vmx_rv_sys_sret(vmx_rv_cpu_t *cpu);

/* Interrupt lines driven from outside the hart (devices): sets the bits of
 * `set` and clears those of `clear` in the external part of mip (MEIP, SEIP,
 * MTIP, MSIP). Any thread: a running hart sees the change at its next block
 * boundary; one idle in wfi must also get a message to wake it. */
void vmx_rv_sys_set_lines(vmx_rv_cpu_t *cpu, uint64_t set, uint64_t clear);

/* The full mip as software reads it. */
uint64_t vmx_rv_sys_mip(vmx_rv_cpu_t *cpu);

#endif
