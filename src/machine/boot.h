/* Loading the boot images of the RISC-V `virt` machine into guest RAM.
 *
 * The firmware (OpenSBI, or a bare-metal program), the Linux kernel, the
 * initramfs, the device tree and OpenSBI's fw_dynamic_info are copied into
 * guest RAM, given as a host pointer `ram` to ram_size bytes that hold guest
 * physical addresses [ram_base, ram_base + ram_size). Placement follows
 * QEMU 7.2's hw/riscv/boot.c, so a guest finds everything where it would
 * under QEMU:
 *
 *   ram_base            firmware (fw_dynamic.bin is 0x80000000..)
 *   ram_base + 2 MiB    kernel (vmx_boot_kernel_addr: firmware end, 2 MiB up)
 *   kernel + min(RAM/2, 128 MiB)   initrd
 *   fdt - 48            fw_dynamic_info
 *   end of RAM (or 3 GiB) - fdt size, 2 MiB down:   device tree
 *
 * Every function that can fail returns 0 or a negative VMX_E* code and
 * writes a message for the user into err (errlen bytes, always terminated)
 * naming the file and the problem: VMX_ENOENT (missing file), VMX_EIO
 * (unreadable), VMX_ENOEXEC (not a RISC-V image), VMX_EBADELF (malformed
 * ELF), VMX_ENOSPACE (does not fit in RAM or overlaps something), VMX_EINVAL
 * (bad arguments). Files are checked in full before RAM is written: no
 * offset or size from a file is trusted, and nothing outside
 * [ram, ram + ram_size) is ever touched, whatever the file holds. On
 * failure RAM may be partly written only by a read error in the middle of a
 * load.
 *
 * No global state; thread-safe on distinct RAM.
 */
#ifndef VMX_MACHINE_BOOT_H
#define VMX_MACHINE_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the RV64 kernel goes relative to the firmware's start (QEMU's
 * KERNEL_BOOT_ADDRESS 0x80200000 on virt). */
#define VMX_BOOT_KERNEL_ALIGN (2u << 20)

/* The largest device tree vmx_boot_place_fdt() accepts. The top of RAM that
 * a device tree this size and the fw_dynamic_info below it may use is kept
 * free of the other images. */
#define VMX_BOOT_FDT_MAX_SIZE (64u << 10)

/* OpenSBI's struct fw_dynamic_info (include/sbi/fw_dynamic.h), version 2. */
#define VMX_BOOT_FW_DYNAMIC_INFO_SIZE  48
#define VMX_BOOT_FW_DYNAMIC_INFO_MAGIC 0x4942534fu   /* "OSBI" */
#define VMX_BOOT_FW_DYNAMIC_INFO_VERSION 2
#define VMX_BOOT_NEXT_MODE_U 0
#define VMX_BOOT_NEXT_MODE_S 1
#define VMX_BOOT_NEXT_MODE_M 3

/* A loaded image. [start, end) is the guest-physical range it occupies
 * (for an ELF, its PT_LOAD segments with their zero-filled tails; for a
 * Linux Image, image_size bytes including bss; for a raw binary, the file).
 * entry is the ELF's e_entry, or start for an Image or raw binary. Like
 * QEMU 7.2, fw_dynamic's next_addr for a kernel should be start, not entry
 * (an ELF kernel may have an SBI entry separate from its ELF entry).
 * tohost and fromhost are the addresses of the ELF symbols of those names
 * (HTIF), 0 when absent. */
typedef struct {
  uint64_t entry, start, end;
  bool elf;
  uint64_t tohost, fromhost;
} vmx_boot_image_t;

/* Loads the firmware at path: a RISC-V 64-bit little-endian ELF (its
 * PT_LOAD segments at their p_paddr, each inside RAM; memsz beyond filesz
 * zero-filled), or else a raw binary loaded at ram_base (entry ram_base).
 * Fills *out. */
int vmx_boot_load_firmware(const char *path, uint8_t *ram, uint64_t ram_base,
                           uint64_t ram_size, vmx_boot_image_t *out, char *err,
                           size_t errlen);

/* The kernel load address after a firmware ending at firmware_end: aligned
 * up to 2 MiB, as QEMU's riscv_calc_kernel_start_addr does on RV64
 * (0x80200000 after fw_dynamic.bin at 0x80000000). */
uint64_t vmx_boot_kernel_addr(uint64_t firmware_end);

/* Loads the kernel at path: a RISC-V Linux Image (header of
 * Documentation/riscv/boot-image-header.rst: "RSC\x05" at 0x38, image_size
 * at 0x10; Debian's boot/vmlinux-* is one, behind an EFI PE header), loaded
 * at load_addr, whose image_size (bss included) must fit in RAM from there;
 * or a RISC-V 64-bit ELF, loaded at its p_paddr like the firmware (the path
 * for bare-metal programs under `-bios none`, with tohost/fromhost read from
 * .symtab). Anything else is refused (VMX_ENOEXEC). Fills *out. */
int vmx_boot_load_kernel(const char *path, uint8_t *ram, uint64_t ram_base,
                         uint64_t ram_size, uint64_t load_addr, vmx_boot_image_t *out,
                         char *err, size_t errlen);

/* QEMU 7.2's initrd address (riscv_load_initrd): kernel_start +
 * min(ram_size / 2, 128 MiB). */
uint64_t vmx_boot_initrd_addr(uint64_t ram_size, uint64_t kernel_start);

/* Loads the initrd at path for a kernel occupying [kernel_start,
 * kernel_end) at vmx_boot_initrd_addr(). Where QEMU's address would overlap
 * the kernel or run into the device-tree area at the top of RAM, the initrd
 * moves to the nearest page-aligned place between the two; when there is
 * none, VMX_ENOSPACE. Sets *start and *end (exclusive) for the device tree's
 * linux,initrd-start and linux,initrd-end. */
int vmx_boot_load_initrd(const char *path, uint8_t *ram, uint64_t ram_base,
                         uint64_t ram_size, uint64_t kernel_start, uint64_t kernel_end,
                         uint64_t *start, uint64_t *end, char *err, size_t errlen);

/* Where QEMU 7.2's riscv_load_fdt puts a device tree of fdt_size bytes: the
 * end of RAM, or 3 GiB when RAM starts below 3 GiB and ends above it (so
 * 32-bit code can reach it), minus fdt_size, aligned down to 2 MiB.
 * 0 when that is not inside RAM. */
uint64_t vmx_boot_fdt_addr(uint64_t ram_base, uint64_t ram_size, size_t fdt_size);

/* Checks the device tree blob fdt (size bytes, == its totalsize, at most
 * VMX_BOOT_FDT_MAX_SIZE) and copies it to vmx_boot_fdt_addr(); sets *addr. */
int vmx_boot_place_fdt(uint8_t *ram, uint64_t ram_base, uint64_t ram_size,
                       const void *fdt, size_t size, uint64_t *addr, char *err,
                       size_t errlen);

/* Where fw_dynamic_info goes for a device tree at fdt_addr: right below
 * it, 8-byte aligned, inside the area the other images keep clear. */
uint64_t vmx_boot_fw_dynamic_info_addr(uint64_t fdt_addr);

/* Writes OpenSBI's struct fw_dynamic_info at guest address `at` (8-byte
 * aligned, inside RAM): magic, version 2, next_addr, next_mode
 * (VMX_BOOT_NEXT_MODE_*), options 0, boot_hart. OpenSBI's fw_dynamic is
 * entered with a0 = hart id, a1 = device tree address, a2 = `at`. */
int vmx_boot_fw_dynamic_info(uint8_t *ram, uint64_t ram_base, uint64_t ram_size,
                             uint64_t at, uint64_t next_addr, unsigned next_mode,
                             unsigned boot_hart, char *err, size_t errlen);

/* A named guest-physical range [start, end) for vmx_boot_check_overlap. */
typedef struct vmx_boot_region {
  const char *what;       /* "the firmware fw_dynamic.bin", "the kernel Image" */
  uint64_t start, end;
} vmx_boot_region_t;

/* Fails with VMX_ENOSPACE, naming both, when two of the n regions overlap
 * (empty regions never do): the firmware, kernel, initrd and device tree
 * loaded one by one cannot see each other. */
int vmx_boot_check_overlap(const vmx_boot_region_t *regions, size_t n, char *err,
                           size_t errlen);

#endif
