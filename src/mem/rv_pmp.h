/* RISC-V Physical Memory Protection of a system-mode hart (privileged spec
 * 1.12, section 3.7).
 *
 * vmx implements 16 entries with a 4-byte grain (G = 0), as QEMU 7.2's
 * harts do: pmpcfg0 and pmpcfg2 (RV64 has no odd pmpcfg) and pmpaddr0-15.
 * The CSRs of entries 16-63 read as zero and ignore writes (the spec's
 * read-only-zero fields; QEMU 7.2 raises illegal instruction there).
 *
 * The registers are decoded into byte ranges when written, so a check is a
 * loop over at most 16 ranges. It runs only when the MMU fills a TLB entry
 * (mem/rv_mmu.c), never on a TLB hit; vmx_rv_pmp_restricts() says whether a
 * privilege needs it at all. Every write must be followed by a TLB flush:
 * entries were filled under the old rules.
 *
 * Owned by the hart's thread, like the rest of vmx_rv_sys_t. */
#ifndef VMX_MEM_RV_PMP_H
#define VMX_MEM_RV_PMP_H

#include <stdbool.h>
#include <stdint.h>

#define VMX_RV_PMP_COUNT 16

/* Permission bits, as in pmpcfg (R, W, X); VMX_RV_PMP_PARTIAL in the
 * result of vmx_rv_pmp_page() only. */
enum {
  VMX_RV_PMP_R = 1,
  VMX_RV_PMP_W = 2,
  VMX_RV_PMP_X = 4,
  VMX_RV_PMP_RWX = 7,
  VMX_RV_PMP_PARTIAL = 8
};

typedef struct vmx_rv_pmp {
  uint8_t cfg[VMX_RV_PMP_COUNT];
  uint64_t addr[VMX_RV_PMP_COUNT];
  /* Decoded from cfg and addr: the bytes entry i matches, [lo[i], hi[i]]
   * inclusive, for the entries in `active` (A not OFF and a non-empty
   * range). */
  uint64_t lo[VMX_RV_PMP_COUNT], hi[VMX_RV_PMP_COUNT];
  uint32_t active;
  /* M-mode is checked: an active entry is locked, or has an end inside a
   * 4 KiB page (an access only partly in an entry fails even in M). */
  bool m_checked;
} vmx_rv_pmp_t;

/* Reads pmpcfg<reg> (reg even, < 16). */
uint64_t vmx_rv_pmp_cfg_read(const vmx_rv_pmp_t *pmp, unsigned reg);

/* Writes pmpcfg<reg> (reg even, < 16): bytes of locked entries are kept,
 * and so is a byte with the reserved R=0 W=1 combination (as QEMU 8.1 and
 * later do); bits 6:5 read as zero. */
void vmx_rv_pmp_cfg_write(vmx_rv_pmp_t *pmp, unsigned reg, uint64_t val);

/* Reads pmpaddr<i> (i < 64). */
uint64_t vmx_rv_pmp_addr_read(const vmx_rv_pmp_t *pmp, unsigned i);

/* Writes pmpaddr<i> (i < 64), bits 53:0 (physical address bits 55:2);
 * ignored when entry i is locked or entry i+1 is a locked TOR entry. */
void vmx_rv_pmp_addr_write(vmx_rv_pmp_t *pmp, unsigned i, uint64_t val);

/* Whether accesses in privilege priv (VMX_RV_PRIV_*; 3 is M) may be
 * restricted at all: S and U always are (an access no entry matches
 * fails), M only while m_checked. */
static inline bool vmx_rv_pmp_restricts(const vmx_rv_pmp_t *pmp, unsigned priv) {
  return priv != 3 || pmp->m_checked;
}

/* What privilege priv may do on every byte of the 4 KiB page at pa (page
 * aligned): VMX_RV_PMP_R/W/X bits, or VMX_RV_PMP_PARTIAL when the entry
 * that decides is not the same for the whole page, so that each access
 * must be checked with vmx_rv_pmp_access(). */
unsigned vmx_rv_pmp_page(const vmx_rv_pmp_t *pmp, uint64_t pa, unsigned priv);

/* What privilege priv may do with the len bytes at pa (len >= 1): the
 * permissions of the lowest-numbered entry matching any of them, none
 * when that entry does not match all of them (even for M, and whatever
 * its L bit: §3.7.1), or the default when no
 * entry matches (everything for M, nothing for S and U). */
unsigned vmx_rv_pmp_access(const vmx_rv_pmp_t *pmp, uint64_t pa, uint64_t len, unsigned priv);

#endif
