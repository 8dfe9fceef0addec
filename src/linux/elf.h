/* Loading a riscv64 Linux program into a user-mode process, as execve(2)
 * does on a riscv64 kernel.
 *
 * Programs may be static or dynamic (PT_INTERP), ET_EXEC or ET_DYN (PIE,
 * static-pie, or ld.so run directly), or "#!" scripts whose interpreter is
 * such a program. Every header field and offset is checked against the file
 * before use. Layout (see mm.h): ET_EXEC at its link address; a PIE with an
 * interpreter at 2/3 of the address space (Linux's ELF_ET_DYN_BASE); the
 * interpreter and ET_DYN programs without one where mmap(NULL) would put
 * them; the initial stack at the top, laid out as the riscv64 kernel does:
 *
 *   sp -> argc, argv[0..argc-1], NULL, envp[..], NULL, auxv pairs, AT_NULL
 *         ... AT_RANDOM's 16 bytes, argv strings, envp strings, execfn, 8 zero bytes
 *
 * The auxiliary vector holds AT_HWCAP (IMAFDC), AT_PAGESZ, AT_CLKTCK,
 * AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID,
 * AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_EXECFN: what qemu-riscv64 7.2
 * gives, so guests see the same values under both (no AT_SYSINFO_EHDR: no
 * vDSO; no AT_MINSIGSTKSZ, which qemu 7.2 does not give either). In place
 * of the vDSO's rt_sigreturn, a page with `li a7, 139; ecall` is mapped
 * and recorded in p->sig.trampoline, where signal handlers return.
 */
#ifndef VMX_LINUX_ELF_H
#define VMX_LINUX_ELF_H

#include <stdint.h>

struct vmx_linux_proc;

/* AT_HWCAP for RV64GC: one bit per single-letter extension, bit (c - 'a'). */
#define VMX_LINUX_HWCAP                                                            \
  ((1u << ('i' - 'a')) | (1u << ('m' - 'a')) | (1u << ('a' - 'a')) | (1u << ('f' - 'a')) | \
   (1u << ('d' - 'a')) | (1u << ('c' - 'a')))

/* Linux's ELF_ET_DYN_BASE for a space of `limit` bytes: where a PIE goes. */
#define VMX_LINUX_ET_DYN_BASE(limit) (((limit) / 3 * 2) & ~0xfffull)

/* Loads the program at host path `path` (and its PT_INTERP, resolved under
 * p->opts.sysroot when set, as qemu's -L does) into p's address space,
 * which vmx_linux_mm_init() must have set up; sets the brk area, records
 * the program in p->exe_path (absolute), builds the initial stack from
 * argv[0..argc-1] and the NULL-terminated envp, and returns the entry pc
 * and stack pointer in *pc and *sp (a0 should start 0: no atexit hook).
 *
 * On failure prints one line naming the file and the problem on stderr
 * ("vmx: ./prog: not a riscv64 ELF executable (machine x86-64)") and
 * returns VMX_ENOENT (the program or its interpreter does not exist: a
 * shell reports 127), VMX_ENOEXEC (not a loadable riscv64 program or not
 * readable: 126), VMX_ERANGE (arguments too long for the stack) or
 * VMX_ENOMEM. The address space may then hold part of the program. */
int vmx_linux_exec_load(struct vmx_linux_proc *p, const char *path, int argc, char **argv,
                        char **envp, uint64_t *pc, uint64_t *sp);

#endif
