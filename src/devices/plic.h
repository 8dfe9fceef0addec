/* The SiFive PLIC of the riscv `virt` machine (0xc000000), as QEMU 7.2's
 * hw/intc/sifive_plic.c presents it with virt's configuration: 96 sources
 * counting source 0 (which never interrupts), priorities 0..7, and two
 * contexts per hart: context 2h is hart h in M-mode (MEIP), 2h+1 is hart h
 * in S-mode (SEIP).
 *
 * Registers, all 32 bits (other sizes and unaligned accesses read 0 and are
 * ignored, as are offsets that name no register):
 *
 *   0x000000 + 4*src        priority of src (WARL: value & 7)
 *   0x001000 + 4*w          pending bits of sources 32w..32w+31 (read only)
 *   0x002000 + 0x80*ctx + 4*w   enable bits of ctx
 *   0x200000 + 0x1000*ctx   priority threshold of ctx (WARL: value & 7)
 *   0x200004 + 0x1000*ctx   claim (read) / complete (write) of ctx
 *
 * A context's interrupt (EIP) is raised while some source is pending, not
 * claimed, enabled in it and of priority above its threshold. A claim
 * returns the highest-priority such source, ties going to the lowest id
 * (0 if none), clears its pending bit and marks it claimed (it is then
 * offered to no context until completed). Completion clears the claim; a
 * line still high then pends again, so level-triggered devices are served
 * until they drop their line, as under QEMU.
 *
 * Thread-safety: none; the owner serialises every call. io.set_eip runs
 * synchronously inside the call that changed a level.
 */
#ifndef VMX_DEVICES_PLIC_H
#define VMX_DEVICES_PLIC_H

#include <stdbool.h>
#include <stdint.h>

#define VMX_PLIC_SOURCES 96u     /* interrupt sources, counting source 0 */
#define VMX_PLIC_PRIORITY_MAX 7u /* highest priority (virt: 3 priority bits) */
#define VMX_PLIC_MAX_HARTS 64u
#define VMX_PLIC_MAX_CONTEXTS (2u * VMX_PLIC_MAX_HARTS)
#define VMX_PLIC_WORDS ((VMX_PLIC_SOURCES + 31u) / 32u)

#define VMX_PLIC_PRIORITY_BASE 0x0u
#define VMX_PLIC_PENDING_BASE 0x1000u
#define VMX_PLIC_ENABLE_BASE 0x2000u
#define VMX_PLIC_ENABLE_STRIDE 0x80u
#define VMX_PLIC_CONTEXT_BASE 0x200000u
#define VMX_PLIC_CONTEXT_STRIDE 0x1000u

/* What the PLIC does to the outside. set_eip may be NULL. */
typedef struct vmx_plic_io {
  /* Context ctx's interrupt changed level (ctx = 2*hart + (S-mode ? 1 : 0)). */
  void (*set_eip)(void *arg, unsigned ctx, bool level);
  void *arg;
} vmx_plic_io_t;

/* The device state; the caller allocates it and treats it as opaque. */
typedef struct vmx_plic {
  vmx_plic_io_t io;
  unsigned ncontexts;
  uint32_t priority[VMX_PLIC_SOURCES];
  uint32_t pending[VMX_PLIC_WORDS];
  uint32_t claimed[VMX_PLIC_WORDS];
  uint32_t line[VMX_PLIC_WORDS]; /* input levels last given to vmx_plic_set_irq */
  uint32_t enable[VMX_PLIC_MAX_CONTEXTS][VMX_PLIC_WORDS];
  uint32_t threshold[VMX_PLIC_MAX_CONTEXTS];
  bool eip[VMX_PLIC_MAX_CONTEXTS]; /* levels last reported through io.set_eip */
} vmx_plic_t;

/* Puts p in its reset state (everything zero: no priorities, nothing
 * enabled, every EIP low) for nharts harts and keeps a copy of *io (io may
 * be NULL). Calls no callback. Returns 0, or VMX_EINVAL when nharts is 0 or
 * above VMX_PLIC_MAX_HARTS (p is then untouched). */
int vmx_plic_init(vmx_plic_t *p, unsigned nharts, const vmx_plic_io_t *io);

/* Bytes of MMIO region QEMU virt gives the PLIC. QEMU sizes it for its
 * 512-hart maximum whatever the hart count (0x600000, which the device tree
 * says), so every nharts up to 512 gets that; beyond, the region grows by
 * two contexts per hart. */
uint64_t vmx_plic_size(unsigned nharts);

/* A guest read of size bytes at off. Reading a claim register claims (and
 * may call io.set_eip). */
uint64_t vmx_plic_read(vmx_plic_t *p, uint64_t off, unsigned size);

/* A guest write of size bytes at off; may call io.set_eip. */
void vmx_plic_write(vmx_plic_t *p, uint64_t off, unsigned size, uint64_t val);

/* Sets the level of interrupt line src (1..95; others are ignored). As in
 * QEMU the pending bit follows the level: high pends the source, low
 * withdraws a pending (not yet claimed) request. May call io.set_eip. */
void vmx_plic_set_irq(vmx_plic_t *p, unsigned src, bool level);

#endif
