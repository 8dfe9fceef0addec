/* The SiFive PLIC (see plic.h for the register map and the claim rules). */
#include "devices/plic.h"

#include <string.h>

#include "base/error.h"

static void set_bit(uint32_t *words, unsigned src, bool on) {
  uint32_t mask = 1u << (src & 31);
  if (on)
    words[src >> 5] |= mask;
  else
    words[src >> 5] &= ~mask;
}

static bool test_bit(const uint32_t *words, unsigned src) {
  return (words[src >> 5] >> (src & 31)) & 1u;
}

/* The source context ctx would get from a claim now: pending, not claimed,
 * enabled, priority above the threshold; the highest priority wins and the
 * lowest id breaks ties. 0 when there is none. */
static unsigned best_source(const vmx_plic_t *p, unsigned ctx) {
  unsigned best = 0;
  uint32_t best_prio = p->threshold[ctx];
  for (unsigned w = 0; w < VMX_PLIC_WORDS; w++) {
    uint32_t ready = p->pending[w] & ~p->claimed[w] & p->enable[ctx][w];
    while (ready) {
      unsigned src = w * 32 + (unsigned)__builtin_ctz(ready);
      ready &= ready - 1;
      if (p->priority[src] > best_prio) {
        best = src;
        best_prio = p->priority[src];
      }
    }
  }
  return best;
}

/* Re-evaluates every context's EIP and reports the ones that changed. */
static void update(vmx_plic_t *p) {
  for (unsigned ctx = 0; ctx < p->ncontexts; ctx++) {
    bool level = best_source(p, ctx) != 0;
    if (level == p->eip[ctx])
      continue;
    p->eip[ctx] = level;
    if (p->io.set_eip)
      p->io.set_eip(p->io.arg, ctx, level);
  }
}

int vmx_plic_init(vmx_plic_t *p, unsigned nharts, const vmx_plic_io_t *io) {
  if (nharts == 0 || nharts > VMX_PLIC_MAX_HARTS)
    return VMX_EINVAL;
  memset(p, 0, sizeof *p);
  if (io)
    p->io = *io;
  p->ncontexts = 2 * nharts;
  return 0;
}

uint64_t vmx_plic_size(unsigned nharts) {
  /* QEMU virt: VIRT_PLIC_SIZE(VIRT_CPUS_MAX * 2), VIRT_CPUS_MAX = 512. */
  uint64_t harts = nharts > 512 ? nharts : 512;
  return VMX_PLIC_CONTEXT_BASE + 2 * harts * VMX_PLIC_CONTEXT_STRIDE;
}

/* Where a 32-bit register offset points. */
typedef enum { R_NONE, R_PRIORITY, R_PENDING, R_ENABLE, R_THRESHOLD, R_CLAIM } reg_kind_t;

typedef struct reg {
  reg_kind_t kind;
  unsigned index; /* source, pending word, or context */
  unsigned word;  /* enable word */
} reg_t;

static reg_t decode(const vmx_plic_t *p, uint64_t off) {
  reg_t r = {R_NONE, 0, 0};
  if (off < VMX_PLIC_PENDING_BASE) {
    if (off / 4 < VMX_PLIC_SOURCES)
      r = (reg_t){R_PRIORITY, (unsigned)(off / 4), 0};
  } else if (off < VMX_PLIC_ENABLE_BASE) {
    uint64_t w = (off - VMX_PLIC_PENDING_BASE) / 4;
    if (w < VMX_PLIC_WORDS)
      r = (reg_t){R_PENDING, (unsigned)w, 0};
  } else if (off < VMX_PLIC_CONTEXT_BASE) {
    uint64_t ctx = (off - VMX_PLIC_ENABLE_BASE) / VMX_PLIC_ENABLE_STRIDE;
    uint64_t w = (off - VMX_PLIC_ENABLE_BASE) % VMX_PLIC_ENABLE_STRIDE / 4;
    if (ctx < p->ncontexts && w < VMX_PLIC_WORDS)
      r = (reg_t){R_ENABLE, (unsigned)ctx, (unsigned)w};
  } else {
    uint64_t ctx = (off - VMX_PLIC_CONTEXT_BASE) / VMX_PLIC_CONTEXT_STRIDE;
    uint64_t at = (off - VMX_PLIC_CONTEXT_BASE) % VMX_PLIC_CONTEXT_STRIDE;
    if (ctx < p->ncontexts && at == 0)
      r = (reg_t){R_THRESHOLD, (unsigned)ctx, 0};
    else if (ctx < p->ncontexts && at == 4)
      r = (reg_t){R_CLAIM, (unsigned)ctx, 0};
  }
  return r;
}

static uint32_t claim(vmx_plic_t *p, unsigned ctx) {
  unsigned src = best_source(p, ctx);
  if (src) {
    set_bit(p->pending, src, false);
    set_bit(p->claimed, src, true);
  }
  update(p);
  return src;
}

static void complete(vmx_plic_t *p, uint32_t src) {
  /* QEMU accepts any source number below the count, enabled or not. */
  if (src >= VMX_PLIC_SOURCES)
    return;
  set_bit(p->claimed, src, false);
  if (test_bit(p->line, src))
    set_bit(p->pending, src, true);
  update(p);
}

uint64_t vmx_plic_read(vmx_plic_t *p, uint64_t off, unsigned size) {
  if (size != 4 || off % 4 != 0)
    return 0;
  reg_t r = decode(p, off);
  switch (r.kind) {
  case R_PRIORITY:
    return p->priority[r.index];
  case R_PENDING:
    return p->pending[r.index];
  case R_ENABLE:
    return p->enable[r.index][r.word];
  case R_THRESHOLD:
    return p->threshold[r.index];
  case R_CLAIM:
    return claim(p, r.index);
  default:
    return 0;
  }
}

void vmx_plic_write(vmx_plic_t *p, uint64_t off, unsigned size, uint64_t val) {
  if (size != 4 || off % 4 != 0)
    return;
  uint32_t v = (uint32_t)val;
  reg_t r = decode(p, off);
  switch (r.kind) {
  case R_PRIORITY:
    p->priority[r.index] = v & VMX_PLIC_PRIORITY_MAX;
    break;
  case R_ENABLE:
    p->enable[r.index][r.word] = v;
    break;
  case R_THRESHOLD:
    p->threshold[r.index] = v & VMX_PLIC_PRIORITY_MAX;
    break;
  case R_CLAIM:
    complete(p, v);
    return;
  default:
    return; /* pending bits are read only; holes ignore writes */
  }
  update(p);
}

void vmx_plic_set_irq(vmx_plic_t *p, unsigned src, bool level) {
  if (src == 0 || src >= VMX_PLIC_SOURCES)
    return;
  set_bit(p->line, src, level);
  set_bit(p->pending, src, level);
  update(p);
}
