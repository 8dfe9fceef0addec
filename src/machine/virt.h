/* The RISC-V `virt` machine of system mode: RAM, harts as vCPU actors,
 * and the devices (CLINT, PLIC, ns16550a UART, syscon, HTIF) as actors on
 * a device loop, laid out as QEMU's `virt` machine so the same firmware,
 * kernel and device tree work unchanged.
 *
 * Run:   vmx -M virt [-m SIZE] [-smp N] [-bios FW|none] -kernel IMAGE
 *            [-initrd FILE] [-append CMDLINE] [-nographic]
 */
#ifndef VMX_MACHINE_VIRT_H
#define VMX_MACHINE_VIRT_H

/* Guest-physical memory map (QEMU 7.2 hw/riscv/virt.c). */
#define VMX_VIRT_TEST_BASE 0x100000u
#define VMX_VIRT_CLINT_BASE 0x2000000u
#define VMX_VIRT_PLIC_BASE 0xc000000u
#define VMX_VIRT_UART0_BASE 0x10000000u
#define VMX_VIRT_UART0_IRQ 10u
#define VMX_VIRT_DRAM_BASE 0x80000000u
#define VMX_VIRT_MAX_HARTS 8u

/* The firmware vmx uses when -bios is not given (Debian's opensbi). */
#define VMX_VIRT_DEFAULT_BIOS "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"

/* `vmx -M virt ...` (argv[0] is "vmx"): runs the machine until the guest
 * powers off (exit status 0, or the code the guest gave through the test
 * device or HTIF) or the user quits with Ctrl-A X. Returns the exit
 * status; 1 with a message for bad options or images, before the guest
 * starts. */
int vmx_virt_main(int argc, char **argv);

#endif
