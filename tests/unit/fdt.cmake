# Tool paths for the device-tree and boot-image unit tests, whose targets
# the glob in this directory's CMakeLists.txt creates; include this file
# after that loop. Without it the tests find the tools on PATH.
#   test_fdt compares its trees with qemu-system-riscv64's dumpdtb;
#   test_boot cross-compiles a bare-metal ELF and lists it with the cross nm.
target_compile_definitions(test_fdt PRIVATE VMX_QEMU_SYSTEM_RISCV64="${QEMU_SYSTEM_RISCV64}")
target_compile_definitions(test_boot PRIVATE VMX_RISCV64_CC="${RISCV64_CC}")
