/* The device tree of vmx's RISC-V `virt` machine.
 *
 * vmx_fdt_build() turns a description of the machine (RAM, harts, ISA,
 * devices and their addresses) into a flattened device tree blob, written
 * with libfdt. The tree has the node names, compatibles, properties and
 * phandle wiring QEMU 7.2's `virt` machine produces (hw/riscv/virt.c), so
 * OpenSBI and Linux see the same machine under vmx as under QEMU; devices
 * vmx does not model (PCI, flash, fw-cfg, RTC, platform bus, PMU) are left
 * out, and every device below appears only when configured (size != 0).
 * Each cpu node also carries riscv,isa-base and riscv,isa-extensions (the
 * newer binding, derived from the ISA string) next to riscv,isa.
 *
 * No global state; the functions are thread-safe on distinct arguments.
 */
#ifndef VMX_MACHINE_FDT_H
#define VMX_MACHINE_FDT_H

#include <stddef.h>
#include <stdint.h>

#define VMX_FDT_MAX_HARTS  8
#define VMX_FDT_MAX_VIRTIO 8

/* The syscon values the test device's poweroff and reboot nodes write. */
#define VMX_FDT_SYSCON_POWEROFF 0x5555
#define VMX_FDT_SYSCON_REBOOT   0x7777

/* One virtio-mmio transport: registers at [base, base + size), PLIC source irq. */
typedef struct vmx_fdt_virtio {
  uint64_t base, size;
  uint32_t irq;
} vmx_fdt_virtio_t;

typedef struct vmx_fdt_config {
  uint64_t ram_base, ram_size;       /* one memory node */
  unsigned nharts;                   /* 1..VMX_FDT_MAX_HARTS; hart ids 0..nharts-1 */
  const char *isa;                   /* "rv64imafdc_zicsr_zifencei_sstc" (lower case) */
  const char *mmu_type;              /* "riscv,sv57"; NULL: no mmu-type (bare) */
  uint32_t timebase_frequency;       /* Hz of mtime, 10000000 on virt */

  /* /chosen. bootargs NULL: none; initrd_start == initrd_end == 0: none. */
  const char *bootargs;
  uint64_t initrd_start, initrd_end;

  /* Devices; a size of 0 leaves the device (and its node) out. */
  uint64_t clint_base, clint_size;
  uint64_t plic_base, plic_size;
  uint32_t plic_ndev;                /* riscv,ndev: highest source number */
  uint64_t uart_base, uart_size;     /* ns16550a; also /chosen stdout-path */
  uint32_t uart_irq, uart_clock;
  uint64_t test_base, test_size;     /* sifive,test1 syscon + poweroff/reboot */
  unsigned nvirtio;                  /* 0..VMX_FDT_MAX_VIRTIO slots in virtio[] */
  vmx_fdt_virtio_t virtio[VMX_FDT_MAX_VIRTIO];
} vmx_fdt_config_t;

/* Fills cfg with QEMU 7.2 `virt`'s memory map and defaults for ram_size
 * bytes of RAM at 0x80000000 and nharts harts: CLINT 0x2000000, PLIC
 * 0xc000000 (95 sources), ns16550a at 0x10000000 (irq 10, 3686400 Hz), the
 * test device at 0x100000, 8 virtio-mmio slots at 0x10001000 + i * 0x1000
 * (irq 1 + i), ISA rv64imafdc_zicsr_zifencei_sstc, Sv57, 10 MHz timebase,
 * no bootargs and no initrd. The caller changes what differs. */
void vmx_fdt_config_virt(vmx_fdt_config_t *cfg, uint64_t ram_size, unsigned nharts);

/* Builds the device tree cfg describes into a malloc'ed blob: *out (the
 * caller frees it) of *out_size bytes (== fdt_totalsize). Returns 0, or a
 * negative VMX_E* code with a message in err (errlen bytes, always
 * terminated): VMX_EINVAL for a configuration that cannot be described
 * (no harts or too many, a malformed ISA string, an interrupt-wired device
 * without a PLIC, an initrd end before its start, ...), VMX_ENOMEM. */
int vmx_fdt_build(const vmx_fdt_config_t *cfg, void **out, size_t *out_size,
                  char *err, size_t errlen);

#endif
