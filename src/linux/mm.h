/* The guest address space of a user-mode process.
 *
 * All guest memory lives in one host reservation [base, base + limit): guest
 * address a is host address base + a. The reservation is made once
 * (PROT_NONE, MAP_NORESERVE: nothing is committed) and never unmapped while
 * the process runs: guest mappings replace parts of it with MAP_FIXED, and
 * guest munmap puts PROT_NONE reservation back. So no host mapping ever
 * lands inside, and a guest address can never reach host memory outside.
 *
 * A sorted list of regions (vmx_linux_vma_t) records what the guest has
 * mapped and with which protection; it chooses addresses for mmap(NULL)
 * (top-down from mmap_base, as Linux does), answers "is this mapped" for
 * mprotect/msync/mincore, and feeds the emulated /proc/self/maps.
 *
 * Layout (limit = 1 << 38, Sv39's user space):
 *   0x10000...        ET_EXEC programs, then brk
 *   2/3 of limit      PIE programs (ELF_ET_DYN_BASE), brk after them
 *   ... mmap_base     mmap(NULL) allocations grow down from here
 *   stack_top = limit the initial stack, below a gap of max(RLIMIT_STACK, 128 MiB)
 *
 * Functions named vmx_linux_mm_* that serve system calls return a Linux
 * errno as a negative number (-ENOMEM...), which is the same on riscv64
 * and x86_64; vmx_linux_mm_init returns a VMX_E* code.
 *
 * Thread-safety: every function takes mm->lock itself, except the copy
 * helpers, which need no lock (the host kernel checks the pages). fork():
 * the caller must hold mm->lock across fork() and unlock it in both parent
 * and child, or the child may inherit it locked.
 */
#ifndef VMX_LINUX_MM_H
#define VMX_LINUX_MM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VMX_LINUX_PAGE_SIZE 4096ull
#define VMX_LINUX_GUEST_SPACE (1ull << 38)
/* Lowest address mmap hands out (vm.mmap_min_addr's usual value). */
#define VMX_LINUX_MMAP_MIN 0x10000ull

/* What a region is (vmx_linux_vma_t.kind), for /proc/self/maps and mremap. */
enum {
  VMX_LINUX_VMA_ANON = 0,  /* private anonymous */
  VMX_LINUX_VMA_SHARED,    /* shared anonymous, or any MAP_SHARED file */
  VMX_LINUX_VMA_FILE,      /* private file mapping */
  VMX_LINUX_VMA_HEAP,      /* the brk area */
  VMX_LINUX_VMA_STACK,     /* the initial stack */
};

typedef struct vmx_linux_vma {
  uint64_t start, end;   /* page aligned, start < end */
  uint32_t prot;         /* guest PROT_READ | PROT_WRITE | PROT_EXEC */
  uint32_t kind;         /* VMX_LINUX_VMA_* */
} vmx_linux_vma_t;

typedef struct vmx_linux_mm {
  uint8_t *base;               /* host address of guest address 0 */
  uint64_t limit;              /* size of the guest address space */
  /* Bumped (release) when mapped code may have changed: munmap, mprotect,
   * mremap, a MAP_FIXED mapping over an existing one, riscv_flush_icache.
   * vCPUs compare it with their own copy at block boundaries. */
  _Atomic uint64_t code_gen;
  pthread_mutex_t lock;        /* guards everything below */
  uint64_t brk_start, brk_cur;
  uint64_t mmap_base;          /* mmap(NULL) searches below this */
  uint64_t stack_top;          /* end of the initial stack */
  /* Where exec put argv's and envp's strings (for /proc/self/cmdline). */
  uint64_t arg_start, arg_end, env_start, env_end;
  vmx_linux_vma_t *vmas;       /* sorted by start, non-overlapping */
  size_t nvmas, cap;
} vmx_linux_mm_t;

/* Reserves the guest address space (VMX_LINUX_GUEST_SPACE bytes, PROT_NONE,
 * nothing committed), 2 MiB aligned in the host, and sets up the region
 * list. Returns 0 or VMX_ENOMEM. */
int vmx_linux_mm_init(vmx_linux_mm_t *mm);

/* Releases the reservation and the region list. */
void vmx_linux_mm_close(vmx_linux_mm_t *mm);

/* mmap(2) for the guest: prot and flags are Linux PROT_ and MAP_ values
 * (the generic ones, equal on riscv64 and x86_64); fd is a host fd (guest
 * fds are host fds). Returns the guest address or -errno. */
int64_t vmx_linux_mm_map(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, int prot,
                         int flags, int fd, uint64_t offset);

/* munmap(2): the range becomes reservation again. Returns 0 or -errno. */
int64_t vmx_linux_mm_unmap(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len);

/* mprotect(2). Returns 0 or -errno (-ENOMEM when part is unmapped). */
int64_t vmx_linux_mm_protect(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, int prot);

/* mremap(2). Returns the new guest address or -errno. */
int64_t vmx_linux_mm_remap(vmx_linux_mm_t *mm, uint64_t old_addr, uint64_t old_len,
                           uint64_t new_len, int flags, uint64_t new_addr);

/* brk(2): moves the break to `addr` when possible; returns the (new or
 * unchanged) break, as the kernel does. */
uint64_t vmx_linux_mm_brk(vmx_linux_mm_t *mm, uint64_t addr);

/* Sets the start of the brk area (the loader, after the program's bss). */
void vmx_linux_mm_set_brk(vmx_linux_mm_t *mm, uint64_t start);

/* Records a region as the kind given (the loader marks the initial stack). */
void vmx_linux_mm_set_kind(vmx_linux_mm_t *mm, uint64_t start, uint64_t end, uint32_t kind);

/* True when every page of [addr, addr+len) is mapped with at least `prot`
 * (0: mapped at all). */
bool vmx_linux_mm_check(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, int prot);

/* The signal a riscv64 kernel would send for a guest access at addr that
 * the host refused: SIGSEGV with *code SEGV_MAPERR when nothing is mapped
 * there, SIGSEGV with SEGV_ACCERR when the mapping lacks `prot`
 * (PROT_READ, PROT_WRITE or PROT_EXEC), and SIGBUS with BUS_ADRERR when it
 * has it (so the page lies past the end of the mapped file). Inside the
 * reservation every host fault is SEGV_ACCERR; this gives the guest's view. */
int vmx_linux_mm_fault_signal(vmx_linux_mm_t *mm, uint64_t addr, int prot, int *code);

/* Bumps code_gen: decoded guest code must be dropped. */
void vmx_linux_mm_code_changed(vmx_linux_mm_t *mm);

/* Copies guest memory to vmx (copy_in) or vmx memory to the guest
 * (copy_out). Bad guest addresses give -EFAULT, never a host fault; writes
 * respect the guest's page protection. Thread-safe. */
int vmx_linux_mm_copy_in(vmx_linux_mm_t *mm, void *dst, uint64_t src, size_t len);
int vmx_linux_mm_copy_out(vmx_linux_mm_t *mm, uint64_t dst, const void *src, size_t len);

/* Copies the NUL-terminated guest string at src into dst[size]. Returns its
 * length, -EFAULT, or -ENAMETOOLONG when it does not fit. */
int64_t vmx_linux_mm_string_in(vmx_linux_mm_t *mm, char *dst, uint64_t src, size_t size);

/* Writes the guest's view of /proc/self/maps to out: each guest region with
 * guest addresses; file, offset, device and inode from the host's map. */
void vmx_linux_mm_write_maps(vmx_linux_mm_t *mm, FILE *out);

#endif
