/* The RISC-V MMU of a system-mode hart: Sv39, Sv48 and Sv57 page-table
 * walks with the privileged spec's permission checks and hardware A/D
 * updates, the per-hart TLB (one table per regime, see vmx_rv_sys_t), and
 * the slow paths of guest loads, stores, atomics and fetches that the
 * interpreter takes when the TLB misses or the page is a device.
 *
 * Every function that can fault returns false/NULL with
 * cpu->sys->trap_cause and trap_tval set for the trap to raise. */
#ifndef VMX_MEM_RV_MMU_H
#define VMX_MEM_RV_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/riscv/cpu.h"

typedef enum { VMX_RV_ACC_LOAD, VMX_RV_ACC_STORE, VMX_RV_ACC_FETCH } vmx_rv_access_t;

/* Host pointer to the start of the RAM page holding code at va (fetch
 * regime), and va's physical address in *pa; NULL when fetching faults. */
const uint8_t *vmx_rv_mmu_fetch(vmx_rv_cpu_t *cpu, uint64_t va, uint64_t *pa);

/* Loads and stores of size 1, 2, 4 or 8 at va in the data regime, any
 * alignment (an access crossing a page is done byte by byte), RAM or
 * device. */
bool vmx_rv_mem_load(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, uint64_t *val);
bool vmx_rv_mem_store(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, uint64_t val);

/* Host pointer for an LR (write false), SC or AMO (write true) of size 4 or
 * 8 at va: misaligned, device and page faults are raised as the spec says. */
uint8_t *vmx_rv_mem_atomic(vmx_rv_cpu_t *cpu, uint64_t va, unsigned size, bool write);

/* After the write of an AMO or SC for which vmx_rv_mem_atomic set
 * sys->amo_len (the page holds decoded code): announces it, as a store's
 * slow path does after its write. */
void vmx_rv_mem_atomic_done(vmx_rv_cpu_t *cpu);

/* Drops the TLB entries for va (every regime, every kept address space),
 * or all when va is UINT64_MAX. */
void vmx_rv_tlb_flush(vmx_rv_cpu_t *cpu, uint64_t va);

/* Makes every store through the hart's TLB entries (all regimes, kept
 * address spaces and victims) to the RAM page at pa_page take the slow
 * path, which tells the page's code holders (mem/pages.h). Returns whether
 * an entry let stores through unannounced until now. */
bool vmx_rv_tlb_protect(vmx_rv_cpu_t *cpu, uint64_t pa_page);

/* satp becomes satp: the U and S tables of the old address space are kept
 * in a set (the least recently used one is reused) and those of the new one
 * come back from its set, or start empty. */
void vmx_rv_tlb_switch(vmx_rv_cpu_t *cpu, uint64_t satp);

/* Translates va for an access in regime (VMX_RV_MMU_*) without touching
 * the TLB or the A/D bits: for debuggers and monitors. Returns 0 and *pa,
 * or the exception cause the access would raise. */
unsigned vmx_rv_mmu_translate(vmx_rv_cpu_t *cpu, uint64_t va, vmx_rv_access_t acc,
                              unsigned regime, uint64_t *pa);

#endif
