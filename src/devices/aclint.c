/* The CLINT: ACLINT MSWI + MTIMER (see aclint.h for the map and the time
 * model). */
#include "devices/aclint.h"

#include <string.h>

#include "base/error.h"

#define MSIP_END (VMX_ACLINT_MSIP_BASE + 4u * VMX_ACLINT_MAX_HARTS)
#define MTIMECMP_END (VMX_ACLINT_MTIMECMP_BASE + 8u * VMX_ACLINT_MAX_HARTS)

int vmx_aclint_init(vmx_aclint_t *c, unsigned nharts, const vmx_aclint_io_t *io) {
  if (nharts == 0 || nharts > VMX_ACLINT_MAX_HARTS || !io || !io->now)
    return VMX_EINVAL;
  memset(c, 0, sizeof *c);
  c->io = *io;
  c->nharts = nharts;
  c->offset = 0 - c->io.now(c->io.arg);
  for (unsigned h = 0; h < nharts; h++) {
    c->mtimecmp[h] = UINT64_MAX;
    c->deadline[h] = VMX_ACLINT_DISARMED;
  }
  return 0;
}

uint64_t vmx_aclint_mtime(const vmx_aclint_t *c) {
  return c->io.now(c->io.arg) + c->offset;
}

/* Sets hart's MTIP from mtime at host time `now` and tells the caller the
 * deadline; `rearm` repeats an unchanged future deadline (after a tick). */
static void evaluate(vmx_aclint_t *c, unsigned hart, uint64_t now, bool rearm) {
  uint64_t mtime = now + c->offset;
  uint64_t cmp = c->mtimecmp[hart];
  bool level = cmp <= mtime;
  uint64_t deadline = VMX_ACLINT_DISARMED;
  if (!level) {
    uint64_t wait = cmp - mtime;
    deadline = now + wait < now ? VMX_ACLINT_DISARMED : now + wait;
  }
  if (level != c->mtip[hart]) {
    c->mtip[hart] = level;
    if (c->io.set_mtip)
      c->io.set_mtip(c->io.arg, hart, level);
  }
  bool changed = deadline != c->deadline[hart];
  c->deadline[hart] = deadline;
  if ((changed || (rearm && deadline != VMX_ACLINT_DISARMED)) && c->io.timer_armed)
    c->io.timer_armed(c->io.arg, hart, deadline);
}

static void evaluate_all(vmx_aclint_t *c, bool rearm) {
  uint64_t now = c->io.now(c->io.arg);
  for (unsigned h = 0; h < c->nharts; h++)
    evaluate(c, h, now, rearm);
}

void vmx_aclint_tick(vmx_aclint_t *c) {
  evaluate_all(c, true);
}

/* Reads a 64-bit register as a 64-bit access at its base or a 32-bit access
 * at either half (`half` is the offset within the register: 0 or 4). */
static uint64_t read_half(uint64_t reg, unsigned half, unsigned size) {
  if (size == 8)
    return half == 0 ? reg : 0;
  return (uint32_t)(reg >> (half * 8));
}

/* The register after a write of val: whole (size 8 at half 0) or one half. */
static bool write_half(uint64_t *reg, unsigned half, unsigned size, uint64_t val) {
  if (size == 8) {
    if (half != 0)
      return false;
    *reg = val;
  } else if (half == 0) {
    *reg = (*reg & 0xffffffff00000000ull) | (uint32_t)val;
  } else {
    *reg = (*reg & 0xffffffffull) | ((uint64_t)(uint32_t)val << 32);
  }
  return true;
}

uint64_t vmx_aclint_read(vmx_aclint_t *c, uint64_t off, unsigned size) {
  return vmx_aclint_read_at(c, off, size, c->io.now(c->io.arg));
}

uint64_t vmx_aclint_read_at(vmx_aclint_t *c, uint64_t off, unsigned size, uint64_t now) {
  if ((size != 4 && size != 8) || off % size != 0)
    return 0;
  if (off < MSIP_END) {
    uint64_t hart = (off - VMX_ACLINT_MSIP_BASE) / 4;
    return size == 4 && hart < c->nharts ? c->msip[hart] : 0;
  }
  if (off >= VMX_ACLINT_MTIMECMP_BASE && off < MTIMECMP_END) {
    uint64_t hart = (off - VMX_ACLINT_MTIMECMP_BASE) / 8;
    return hart < c->nharts ? read_half(c->mtimecmp[hart], off % 8, size) : 0;
  }
  if (off == VMX_ACLINT_MTIME || off == VMX_ACLINT_MTIME + 4)
    return read_half(now + c->offset, (unsigned)(off - VMX_ACLINT_MTIME), size);
  return 0;
}

static void write_msip(vmx_aclint_t *c, unsigned hart, uint64_t val) {
  bool level = val & 1;
  if (level == c->msip[hart])
    return;
  c->msip[hart] = level;
  if (c->io.set_msip)
    c->io.set_msip(c->io.arg, hart, level);
}

static void write_mtime(vmx_aclint_t *c, unsigned half, unsigned size, uint64_t val,
                        uint64_t now) {
  uint64_t mtime = now + c->offset;
  if (!write_half(&mtime, half, size, val))
    return;
  c->offset = mtime - now;
  for (unsigned h = 0; h < c->nharts; h++)
    evaluate(c, h, now, false);
}

void vmx_aclint_write(vmx_aclint_t *c, uint64_t off, unsigned size, uint64_t val) {
  vmx_aclint_write_at(c, off, size, val, c->io.now(c->io.arg));
}

void vmx_aclint_write_at(vmx_aclint_t *c, uint64_t off, unsigned size, uint64_t val,
                         uint64_t now) {
  if ((size != 4 && size != 8) || off % size != 0)
    return;
  if (off < MSIP_END) {
    uint64_t hart = (off - VMX_ACLINT_MSIP_BASE) / 4;
    if (size == 4 && hart < c->nharts)
      write_msip(c, (unsigned)hart, val);
    return;
  }
  if (off >= VMX_ACLINT_MTIMECMP_BASE && off < MTIMECMP_END) {
    uint64_t hart = (off - VMX_ACLINT_MTIMECMP_BASE) / 8;
    if (hart < c->nharts && write_half(&c->mtimecmp[hart], off % 8, size, val))
      evaluate(c, (unsigned)hart, now, false);
    return;
  }
  if (off == VMX_ACLINT_MTIME || off == VMX_ACLINT_MTIME + 4)
    write_mtime(c, (unsigned)(off - VMX_ACLINT_MTIME), size, val, now);
}

uint64_t vmx_aclint_offset(const vmx_aclint_t *c) { return c->offset; }

uint64_t vmx_aclint_mtimecmp(const vmx_aclint_t *c, unsigned hart) {
  return hart < c->nharts ? c->mtimecmp[hart] : UINT64_MAX;
}

/* ------------------------------------------------------------ -icount */

uint64_t vmx_aclint_due(uint64_t cmp, uint64_t offset, uint64_t now) {
  uint64_t mtime = now + offset;
  if (cmp <= mtime)
    return now;
  uint64_t wait = cmp - mtime;
  return now + wait < now ? VMX_ACLINT_DISARMED : now + wait;
}

uint64_t vmx_aclint_vclock_ticks(const vmx_aclint_vclock_t *v, uint64_t icount) {
  /* icount << shift stays below 2^64 for any run shorter than centuries. */
  return ((icount << v->shift) + v->bias_ns) / VMX_ACLINT_NS_PER_TICK;
}

uint64_t vmx_aclint_vclock_icount_at(const vmx_aclint_vclock_t *v, uint64_t ticks) {
  if (ticks > UINT64_MAX / VMX_ACLINT_NS_PER_TICK)
    return UINT64_MAX;
  uint64_t ns = ticks * VMX_ACLINT_NS_PER_TICK;
  if (ns <= v->bias_ns)
    return 0;
  uint64_t per = (uint64_t)1 << v->shift;
  return (ns - v->bias_ns + per - 1) >> v->shift;
}

void vmx_aclint_vclock_skip(vmx_aclint_vclock_t *v, uint64_t icount, uint64_t ticks) {
  if (ticks > UINT64_MAX / VMX_ACLINT_NS_PER_TICK)
    return;
  uint64_t ns = (icount << v->shift) + v->bias_ns, want = ticks * VMX_ACLINT_NS_PER_TICK;
  if (want > ns)
    v->bias_ns += want - ns;
}
