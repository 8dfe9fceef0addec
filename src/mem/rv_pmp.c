/* RISC-V PMP registers and checks (privileged spec 1.12, section 3.7). */
#include "mem/rv_pmp.h"

#define CFG_L 0x80u
#define CFG_A(cfg) (((cfg) >> 3) & 3u)
enum { A_OFF, A_TOR, A_NA4, A_NAPOT };
#define PRIV_M 3u
#define ADDR_BITS ((((uint64_t)1) << 54) - 1)

/* Recomputes the ranges, `active` and m_checked from cfg and addr: every
 * entry, since a TOR entry's range starts at the previous entry's address. */
static void decode(vmx_rv_pmp_t *pmp) {
  pmp->active = 0;
  pmp->m_checked = false;
  for (unsigned i = 0; i < VMX_RV_PMP_COUNT; i++) {
    uint64_t a = pmp->addr[i], lo, hi;
    switch (CFG_A(pmp->cfg[i])) {
    case A_TOR: {
      uint64_t prev = i ? pmp->addr[i - 1] : 0;
      if (prev >= a)
        continue; /* §3.7.1: matches no address */
      lo = prev << 2;
      hi = (a << 2) - 1;
      break;
    }
    case A_NA4:
      lo = a << 2;
      hi = lo + 3;
      break;
    case A_NAPOT: {
      /* The trailing ones of pmpaddr give the size: yyyy0111 is a
       * 2^(3+3)-byte range at yyyy000000 (Table 3.9). */
      uint64_t m = a << 2 | 3;
      lo = m & (m + 1);
      hi = m | (m + 1);
      break;
    }
    default:
      continue;
    }
    pmp->lo[i] = lo;
    pmp->hi[i] = hi;
    pmp->active |= 1u << i;
    if ((pmp->cfg[i] & CFG_L) || (lo & 0xfff) || ((hi + 1) & 0xfff))
      pmp->m_checked = true;
  }
}

static bool locked(const vmx_rv_pmp_t *pmp, unsigned i) { return pmp->cfg[i] & CFG_L; }

uint64_t vmx_rv_pmp_cfg_read(const vmx_rv_pmp_t *pmp, unsigned reg) {
  uint64_t val = 0;
  for (unsigned k = 0; k < 8; k++) {
    unsigned i = reg * 4 + k;
    if (i < VMX_RV_PMP_COUNT)
      val |= (uint64_t)pmp->cfg[i] << (8 * k);
  }
  return val;
}

void vmx_rv_pmp_cfg_write(vmx_rv_pmp_t *pmp, unsigned reg, uint64_t val) {
  for (unsigned k = 0; k < 8; k++) {
    unsigned i = reg * 4 + k;
    uint8_t cfg = (uint8_t)(val >> (8 * k)) & 0x9f; /* bits 6:5 are WARL 0 */
    if (i >= VMX_RV_PMP_COUNT || locked(pmp, i))
      continue;
    /* R=0 W=1 is reserved (§3.7.1): the write is not taken. */
    if ((cfg & (VMX_RV_PMP_R | VMX_RV_PMP_W)) == VMX_RV_PMP_W)
      continue;
    pmp->cfg[i] = cfg;
  }
  decode(pmp);
}

uint64_t vmx_rv_pmp_addr_read(const vmx_rv_pmp_t *pmp, unsigned i) {
  return i < VMX_RV_PMP_COUNT ? pmp->addr[i] : 0;
}

void vmx_rv_pmp_addr_write(vmx_rv_pmp_t *pmp, unsigned i, uint64_t val) {
  if (i >= VMX_RV_PMP_COUNT || locked(pmp, i))
    return;
  /* A locked TOR entry locks the address it starts at too. */
  if (i + 1 < VMX_RV_PMP_COUNT && locked(pmp, i + 1) && CFG_A(pmp->cfg[i + 1]) == A_TOR)
    return;
  pmp->addr[i] = val & ADDR_BITS;
  decode(pmp);
}

/* The permissions entry i gives priv: M-mode is only held to locked ones. */
static unsigned perms(const vmx_rv_pmp_t *pmp, unsigned i, unsigned priv) {
  if (priv == PRIV_M && !locked(pmp, i))
    return VMX_RV_PMP_RWX;
  return pmp->cfg[i] & VMX_RV_PMP_RWX;
}

/* No entry matched (§3.7.1): M-mode accesses succeed; S and U fail, since
 * entries are implemented. */
static unsigned fallback(unsigned priv) { return priv == PRIV_M ? VMX_RV_PMP_RWX : 0; }

unsigned vmx_rv_pmp_access(const vmx_rv_pmp_t *pmp, uint64_t pa, uint64_t len, unsigned priv) {
  uint64_t last = pa + (len - 1);
  for (uint32_t act = pmp->active; act; act &= act - 1) {
    unsigned i = (unsigned)__builtin_ctz(act);
    if (last < pmp->lo[i] || pa > pmp->hi[i])
      continue;
    /* The lowest-numbered entry matching any byte decides, and it must
     * match them all, whatever the privilege. */
    if (pa < pmp->lo[i] || last > pmp->hi[i])
      return 0;
    return perms(pmp, i, priv);
  }
  return fallback(priv);
}

unsigned vmx_rv_pmp_page(const vmx_rv_pmp_t *pmp, uint64_t pa, unsigned priv) {
  uint64_t last = pa + 4095;
  for (uint32_t act = pmp->active; act; act &= act - 1) {
    unsigned i = (unsigned)__builtin_ctz(act);
    if (last < pmp->lo[i] || pa > pmp->hi[i])
      continue;
    /* The bytes outside entry i are decided by later entries. */
    if (pa < pmp->lo[i] || last > pmp->hi[i])
      return VMX_RV_PMP_PARTIAL;
    return perms(pmp, i, priv);
  }
  return fallback(priv);
}
