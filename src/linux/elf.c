/* The riscv64 ELF loader and initial stack (see elf.h). */
#include "linux/elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "linux/user.h"

#define PAGE VMX_LINUX_PAGE_SIZE
#define PAGE_MASK (PAGE - 1)
#define MAX_PHNUM 1024            /* far more than any real program has */
#define SCRIPT_DEPTH 4            /* Linux's BINPRM_MAX_RECURSION */
#define SCRIPT_LINE 256           /* Linux's BINPRM_BUF_SIZE */

static uint64_t page_up(uint64_t x) { return (x + PAGE_MASK) & ~PAGE_MASK; }

/* An opened, validated ELF file. */
typedef struct elf_file {
  const char *shown;        /* the name messages use */
  int fd;
  uint64_t size;
  Elf64_Ehdr eh;
  Elf64_Phdr *ph;           /* eh.e_phnum entries, heap */
  char interp[PATH_MAX];    /* PT_INTERP, "" when static */
} elf_file_t;

/* Where a loaded image ended up. */
typedef struct elf_image {
  uint64_t bias;            /* load address minus link address */
  uint64_t entry, phdr, end;
} elf_image_t;

static int fail(int err, const char *shown, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(int err, const char *shown, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  vmx_log_error("%s: %s", shown, msg);
  return err;
}

static const char *machine_name(unsigned m) {
  switch (m) {
  case EM_386: return "i386";
  case EM_X86_64: return "x86-64";
  case EM_ARM: return "ARM";
  case EM_AARCH64: return "AArch64";
  case EM_RISCV: return "RISC-V";
  case EM_PPC: return "PowerPC";
  case EM_PPC64: return "PowerPC64";
  case EM_S390: return "S/390";
  case EM_MIPS: return "MIPS";
  case EM_SPARCV9: return "SPARC v9";
  case EM_LOONGARCH: return "LoongArch";
  default: return NULL;
  }
}

/* ---- opening and checking --------------------------------------------- */

static int open_file(const char *path, const char *shown, int *fd_out, uint64_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return fail(e == ENOENT || e == ENOTDIR ? VMX_ENOENT : VMX_ENOEXEC, shown, "%s", strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st)) {
    int e = errno;
    close(fd);
    return fail(VMX_ENOEXEC, shown, "%s", strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fail(VMX_ENOEXEC, shown, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
  }
  *fd_out = fd;
  *size = (uint64_t)st.st_size;
  return 0;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
    if (n <= 0)
      return -1;
    done += (size_t)n;
  }
  return 0;
}

static int check_ident(const elf_file_t *f) {
  const unsigned char *id = f->eh.e_ident;
  bool riscv64 = id[EI_CLASS] == ELFCLASS64 && id[EI_DATA] == ELFDATA2LSB &&
                 f->eh.e_machine == EM_RISCV;
  if (!riscv64) {
    /* e_machine is read in the file's byte order to name it. */
    unsigned m = f->eh.e_machine;
    if (id[EI_DATA] == ELFDATA2MSB)
      m = ((m & 0xff) << 8) | (m >> 8);
    const char *name = machine_name(m);
    char what[64];
    if (name)
      snprintf(what, sizeof what, "%s", name);
    else
      snprintf(what, sizeof what, "%u", m);
    return fail(VMX_ENOEXEC, f->shown, "not a riscv64 ELF executable (machine %s%s%s)", what,
                id[EI_CLASS] == ELFCLASS32 ? ", 32-bit" : "",
                id[EI_DATA] == ELFDATA2MSB ? ", big-endian" : "");
  }
  if (id[EI_VERSION] != EV_CURRENT || f->eh.e_version != EV_CURRENT)
    return fail(VMX_ENOEXEC, f->shown, "bad ELF version %u", f->eh.e_version);
  if (f->eh.e_type != ET_EXEC && f->eh.e_type != ET_DYN)
    return fail(VMX_ENOEXEC, f->shown, "not an executable (ELF type %u: %s)", f->eh.e_type,
                f->eh.e_type == ET_REL ? "relocatable object" :
                f->eh.e_type == ET_CORE ? "core dump" : "unknown");
  return 0;
}

static int check_phdrs(elf_file_t *f, uint64_t limit) {
  const Elf64_Ehdr *eh = &f->eh;
  if (eh->e_phentsize != sizeof(Elf64_Phdr))
    return fail(VMX_ENOEXEC, f->shown, "bad ELF program header size %u", eh->e_phentsize);
  if (eh->e_phnum == 0 || eh->e_phnum > MAX_PHNUM)
    return fail(VMX_ENOEXEC, f->shown, "bad ELF program header count %u", eh->e_phnum);
  uint64_t table = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
  if (eh->e_phoff > f->size || table > f->size - eh->e_phoff)
    return fail(VMX_ENOEXEC, f->shown, "truncated ELF (program headers past end of file)");
  f->ph = malloc(table);
  if (!f->ph)
    return fail(VMX_ENOMEM, f->shown, "out of memory");
  if (read_at(f->fd, f->ph, table, eh->e_phoff))
    return fail(VMX_ENOEXEC, f->shown, "cannot read the program headers");
  int nload = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *ph = &f->ph[i];
    if (ph->p_type == PT_INTERP && !f->interp[0]) {
      if (ph->p_filesz < 2 || ph->p_filesz > PATH_MAX || ph->p_offset > f->size ||
          ph->p_filesz > f->size - ph->p_offset)
        return fail(VMX_ENOEXEC, f->shown, "truncated ELF (interpreter path past end of file)");
      if (read_at(f->fd, f->interp, ph->p_filesz, ph->p_offset) ||
          f->interp[ph->p_filesz - 1] != 0 || strlen(f->interp) == 0) {
        f->interp[0] = 0;
        return fail(VMX_ENOEXEC, f->shown, "bad interpreter path in PT_INTERP");
      }
    }
    if (ph->p_type != PT_LOAD)
      continue;
    nload++;
    if (ph->p_offset > f->size || ph->p_filesz > f->size - ph->p_offset)
      return fail(VMX_ENOEXEC, f->shown, "truncated ELF (segment %u past end of file)", i);
    if (ph->p_filesz > ph->p_memsz)
      return fail(VMX_ENOEXEC, f->shown, "bad segment %u (file size above memory size)", i);
    if (((ph->p_vaddr - ph->p_offset) & PAGE_MASK) != 0)
      return fail(VMX_ENOEXEC, f->shown, "bad segment %u (address and offset not page-congruent)", i);
    if (ph->p_vaddr >= limit || ph->p_memsz > limit - ph->p_vaddr)
      return fail(VMX_ENOEXEC, f->shown, "segment %u (0x%" PRIx64 ") outside the address space", i,
                  (uint64_t)ph->p_vaddr);
  }
  if (nload == 0)
    return fail(VMX_ENOEXEC, f->shown, "no loadable segments");
  return 0;
}

static void elf_close(elf_file_t *f) {
  if (f->fd >= 0)
    close(f->fd);
  free(f->ph);
  f->fd = -1;
  f->ph = NULL;
}

/* Opens and checks an ELF file. `head` holds its first bytes already read. */
static int elf_open(elf_file_t *f, int fd, uint64_t size, const char *shown, uint64_t limit) {
  memset(f, 0, sizeof *f);
  f->fd = fd;
  f->size = size;
  f->shown = shown;
  if (size < SELFMAG || read_at(fd, &f->eh, size < sizeof f->eh ? size : sizeof f->eh, 0) ||
      memcmp(f->eh.e_ident, ELFMAG, SELFMAG) != 0)
    return fail(VMX_ENOEXEC, shown, "not an ELF executable");
  if (size < sizeof f->eh)
    return fail(VMX_ENOEXEC, shown, "truncated ELF (file header)");
  int r = check_ident(f);
  return r ? r : check_phdrs(f, limit);
}

/* ---- mapping ---------------------------------------------------------- */

static int seg_prot(uint32_t pf) {
  return ((pf & PF_R) ? PROT_READ : 0) | ((pf & PF_W) ? PROT_WRITE : 0) |
         ((pf & PF_X) ? PROT_EXEC : 0);
}

/* Zeroes guest [from, to), which lies in pages mapped with `prot`. */
static void zero_fill(vmx_linux_mm_t *mm, uint64_t from, uint64_t to, int prot) {
  if (from >= to)
    return;
  uint64_t pg = from & ~PAGE_MASK;
  if (!(prot & PROT_WRITE))
    mprotect(mm->base + pg, page_up(to) - pg, PROT_READ | PROT_WRITE);
  memset(mm->base + from, 0, to - from);
  if (!(prot & PROT_WRITE))
    vmx_linux_mm_protect(mm, pg, page_up(to) - pg, prot);
}

/* Maps a segment's file bytes [vaddr page, file end page) at fixed addr.
 * Falls back to reading them when the file cannot be mapped. */
static int64_t map_file_part(vmx_linux_mm_t *mm, const elf_file_t *f, uint64_t addr, uint64_t len,
                             int prot, uint64_t off) {
  int64_t r = vmx_linux_mm_map(mm, addr, len, prot, MAP_PRIVATE | MAP_FIXED, f->fd, off);
  if (r != -ENODEV && r != -EACCES)
    return r;
  r = vmx_linux_mm_map(mm, addr, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (r < 0)
    return r;
  uint64_t n = f->size - off < len ? f->size - off : len;
  if (read_at(f->fd, mm->base + addr, n, off))
    return -EIO;
  return vmx_linux_mm_protect(mm, addr, len, prot);
}

static int64_t map_segment(vmx_linux_mm_t *mm, const elf_file_t *f, const Elf64_Phdr *ph,
                           uint64_t bias, uint64_t *mapped_end) {
  uint64_t vaddr = ph->p_vaddr + bias;
  uint64_t file_end = vaddr + ph->p_filesz, mem_end = vaddr + ph->p_memsz;
  int prot = seg_prot(ph->p_flags);
  uint64_t anon_start = vaddr & ~PAGE_MASK;
  if (ph->p_filesz) {
    uint64_t start = vaddr & ~PAGE_MASK;
    bool zero_tail = mem_end > file_end && (file_end & PAGE_MASK);
    int64_t r = map_file_part(mm, f, start, page_up(file_end) - start,
                              zero_tail ? prot | PROT_WRITE : prot, ph->p_offset & ~PAGE_MASK);
    if (r < 0)
      return r;
    if (zero_tail)
      zero_fill(mm, file_end, page_up(file_end), prot);
    anon_start = page_up(file_end);
  } else if (anon_start < *mapped_end) {
    /* bss starting in the last page of the previous segment */
    zero_fill(mm, vaddr, *mapped_end < mem_end ? *mapped_end : mem_end, prot);
    anon_start = *mapped_end;
  }
  if (page_up(mem_end) > anon_start) {
    int64_t r = vmx_linux_mm_map(mm, anon_start, page_up(mem_end) - anon_start, prot,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (r < 0)
      return r;
  }
  if (page_up(mem_end) > *mapped_end)
    *mapped_end = page_up(mem_end);
  return 0;
}

/* The initial stack's size: RLIMIT_STACK, 8 MiB when unlimited. */
static uint64_t stack_size(void) {
  struct rlimit rl;
  uint64_t size = 8ull << 20;   /* qemu's default; Linux's usual rlimit */
  if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    size = rl.rlim_cur;
  if (size < (128ull << 10))
    size = 128ull << 10;
  if (size > (1ull << 30))
    size = 1ull << 30;
  return page_up(size);
}

/* Chooses the load bias: none for ET_EXEC; ELF_ET_DYN_BASE for a PIE with
 * an interpreter; otherwise a free range, as mmap(NULL) would pick. The
 * span is reserved (PROT_NONE) so gaps between segments stay unused. */
static int choose_bias(vmx_linux_mm_t *mm, const elf_file_t *f, bool main_with_interp,
                       uint64_t lo, uint64_t hi, uint64_t *bias) {
  uint64_t align = PAGE;
  for (unsigned i = 0; i < f->eh.e_phnum; i++)
    if (f->ph[i].p_type == PT_LOAD && f->ph[i].p_align > align &&
        (f->ph[i].p_align & (f->ph[i].p_align - 1)) == 0 && f->ph[i].p_align <= (1u << 30))
      align = f->ph[i].p_align;
  uint64_t span = hi - lo, base;
  if (f->eh.e_type == ET_EXEC) {
    if (lo < VMX_LINUX_MMAP_MIN)
      return fail(VMX_ENOEXEC, f->shown, "segment below 0x%llx", VMX_LINUX_MMAP_MIN);
    base = lo;
  } else if (main_with_interp) {
    base = VMX_LINUX_ET_DYN_BASE(mm->limit) & ~(align - 1);
  } else {
    int64_t r = vmx_linux_mm_map(mm, 0, span + align - PAGE, PROT_NONE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r < 0)
      return fail(VMX_ENOMEM, f->shown, "no room for %" PRIu64 " bytes", span);
    base = ((uint64_t)r + align - 1) & ~(align - 1);
    if (base > (uint64_t)r)
      vmx_linux_mm_unmap(mm, (uint64_t)r, base - (uint64_t)r);
    if (base + span < (uint64_t)r + span + align - PAGE)
      vmx_linux_mm_unmap(mm, base + span, (uint64_t)r + span + align - PAGE - (base + span));
  }
  if (base >= mm->limit || span > mm->limit - base)
    return fail(VMX_ENOEXEC, f->shown, "does not fit in the address space");
  if (base + span > mm->stack_top - stack_size())
    return fail(VMX_ENOEXEC, f->shown, "segments overlap the stack (end 0x%" PRIx64 ")",
                base + span);
  if (vmx_linux_mm_map(mm, base, span, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) < 0)
    return fail(VMX_ENOMEM, f->shown, "cannot map %" PRIu64 " bytes at 0x%" PRIx64, span, base);
  *bias = base - lo;
  return 0;
}

static int elf_load_image(vmx_linux_mm_t *mm, const elf_file_t *f, bool main_with_interp,
                          elf_image_t *img) {
  uint64_t lo = UINT64_MAX, hi = 0;
  for (unsigned i = 0; i < f->eh.e_phnum; i++) {
    const Elf64_Phdr *ph = &f->ph[i];
    if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
      continue;
    if ((ph->p_vaddr & ~PAGE_MASK) < lo)
      lo = ph->p_vaddr & ~PAGE_MASK;
    if (page_up(ph->p_vaddr + ph->p_memsz) > hi)
      hi = page_up(ph->p_vaddr + ph->p_memsz);
  }
  if (hi <= lo)
    return fail(VMX_ENOEXEC, f->shown, "no loadable segments");
  int r = choose_bias(mm, f, main_with_interp, lo, hi, &img->bias);
  if (r)
    return r;
  img->phdr = 0;
  uint64_t mapped_end = 0;
  for (unsigned i = 0; i < f->eh.e_phnum; i++) {
    const Elf64_Phdr *ph = &f->ph[i];
    if (ph->p_type == PT_PHDR)
      img->phdr = ph->p_vaddr + img->bias;
    if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
      continue;
    if (!img->phdr && ph->p_offset <= f->eh.e_phoff && f->eh.e_phoff < ph->p_offset + ph->p_filesz)
      img->phdr = f->eh.e_phoff - ph->p_offset + ph->p_vaddr + img->bias;
    int64_t r = map_segment(mm, f, ph, img->bias, &mapped_end);
    if (r < 0)
      return fail(VMX_ENOMEM, f->shown, "cannot map segment %u: %s", i, strerror((int)-r));
  }
  img->entry = f->eh.e_entry + img->bias;
  img->end = hi + img->bias;
  return 0;
}

/* ---- paths ------------------------------------------------------------ */

/* The host path of a guest path for the interpreter: under the sysroot when
 * it exists there (qemu's -L), else as is. */
static const char *sysroot_path(const vmx_linux_proc_t *p, const char *path, char *buf,
                                size_t size) {
  if (!p->opts.sysroot || path[0] != '/')
    return path;
  if ((size_t)snprintf(buf, size, "%s%s", p->opts.sysroot, path) >= size || access(buf, F_OK))
    return path;
  return buf;
}

/* ---- the initial stack ------------------------------------------------ */

typedef struct stack_writer {
  vmx_linux_mm_t *mm;
  uint64_t sp;
} stack_writer_t;

static uint64_t push_bytes(stack_writer_t *w, const void *data, size_t len) {
  w->sp -= len;
  memcpy(w->mm->base + w->sp, data, len);
  return w->sp;
}

typedef struct exec_args {
  int argc;
  char **argv;
  char **envp;
  const char *execfn;
} exec_args_t;

static int build_stack(vmx_linux_proc_t *p, const exec_args_t *a, const elf_file_t *main_elf,
                       const elf_image_t *main_img, uint64_t interp_base, uint64_t *sp_out) {
  vmx_linux_mm_t *mm = &p->mm;
  uint64_t size = stack_size();
  int envc = 0;
  while (a->envp && a->envp[envc])
    envc++;
  size_t strings = strlen(a->execfn) + 1;
  for (int i = 0; i < a->argc; i++)
    strings += strlen(a->argv[i]) + 1;
  for (int i = 0; i < envc; i++)
    strings += strlen(a->envp[i]) + 1;
  size_t pointers = ((size_t)a->argc + envc + 3 + 2 * 20) * 8 + 64;
  if (strings + pointers > size / 4) /* Linux's limit: a quarter of the stack */
    return fail(VMX_ERANGE, a->execfn, "argument list too long");
  uint64_t bottom = mm->stack_top - size;
  if (vmx_linux_mm_map(mm, bottom, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) < 0)
    return fail(VMX_ENOMEM, a->execfn, "cannot map the stack");
  vmx_linux_mm_set_kind(mm, bottom, mm->stack_top, VMX_LINUX_VMA_STACK);

  /* Strings: argv's, envp's, execfn, 8 zero bytes at the top. */
  stack_writer_t w = {mm, mm->stack_top - 8};
  memset(mm->base + w.sp, 0, 8);
  uint64_t execfn = push_bytes(&w, a->execfn, strlen(a->execfn) + 1);
  uint64_t *envp = calloc((size_t)envc + 1, 8), *argv = calloc((size_t)a->argc + 1, 8);
  if (!envp || !argv) {
    free(envp);
    free(argv);
    return fail(VMX_ENOMEM, a->execfn, "out of memory");
  }
  mm->env_end = w.sp;
  for (int i = envc; i-- > 0;)
    envp[i] = push_bytes(&w, a->envp[i], strlen(a->envp[i]) + 1);
  mm->env_start = mm->arg_end = w.sp;
  for (int i = a->argc; i-- > 0;)
    argv[i] = push_bytes(&w, a->argv[i], strlen(a->argv[i]) + 1);
  mm->arg_start = w.sp;

  w.sp &= ~15ull;
  uint8_t rnd[16];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    memset(rnd, 0x5a, sizeof rnd);
  uint64_t at_random = push_bytes(&w, rnd, sizeof rnd);

  const uint64_t auxv[][2] = {
      {AT_HWCAP, VMX_LINUX_HWCAP},
      {AT_PAGESZ, PAGE},
      {AT_CLKTCK, (uint64_t)sysconf(_SC_CLK_TCK)},
      {AT_PHDR, main_img->phdr},
      {AT_PHENT, sizeof(Elf64_Phdr)},
      {AT_PHNUM, main_elf->eh.e_phnum},
      {AT_BASE, interp_base},
      {AT_FLAGS, 0},
      {AT_ENTRY, main_img->entry},
      {AT_UID, getuid()},
      {AT_EUID, geteuid()},
      {AT_GID, getgid()},
      {AT_EGID, getegid()},
      {AT_SECURE, 0},
      {AT_RANDOM, at_random},
      {AT_EXECFN, execfn},
      {AT_NULL, 0},
  };
  size_t nauxv = sizeof auxv / sizeof auxv[0];
  size_t words = 1 + ((size_t)a->argc + 1) + ((size_t)envc + 1) + 2 * nauxv;
  w.sp = (w.sp - words * 8) & ~15ull;
  uint64_t *out = (uint64_t *)(mm->base + w.sp);
  *out++ = (uint64_t)a->argc;
  memcpy(out, argv, ((size_t)a->argc + 1) * 8);
  out += a->argc + 1;
  memcpy(out, envp, ((size_t)envc + 1) * 8);
  out += envc + 1;
  memcpy(out, auxv, sizeof auxv);
  free(envp);
  free(argv);
  *sp_out = w.sp;
  return 0;
}

/* ---- the signal return trampoline ------------------------------------- */

/* The riscv64 kernel's vDSO holds __vdso_rt_sigreturn, where signal
 * handlers return to; we have no vDSO, so exec maps a page with the same
 * two instructions (as execve maps the vDSO, before the program runs, so
 * it never takes a hole the program's own munmap leaves) and records it
 * for signal.c. */
static const uint32_t sigreturn_code[2] = {
    0x08b00893,   /* li a7, 139 (__NR_rt_sigreturn) */
    0x00000073,   /* ecall */
};

static int map_sigreturn(vmx_linux_proc_t *p, const char *shown) {
  vmx_linux_mm_t *mm = &p->mm;
  int64_t a = vmx_linux_mm_map(mm, 0, PAGE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a < 0)
    return fail(VMX_ENOMEM, shown, "cannot map the signal trampoline");
  memcpy(mm->base + a, sigreturn_code, sizeof sigreturn_code);
  vmx_linux_mm_protect(mm, (uint64_t)a, PAGE, PROT_READ | PROT_EXEC);
  p->sig.trampoline = (uint64_t)a;
  return 0;
}

/* ---- exec ------------------------------------------------------------- */

/* Reads a "#!" line: the interpreter and its optional single argument
 * (Linux's binfmt_script rules). Returns 1 when f is a script, 0 when not,
 * or an error. */
static int parse_script(int fd, const char *shown, char *interp, size_t isize, char *arg,
                        size_t asize) {
  char line[SCRIPT_LINE + 1];
  ssize_t n = pread(fd, line, SCRIPT_LINE, 0);
  if (n < 2 || line[0] != '#' || line[1] != '!')
    return 0;
  line[n] = 0;
  char *end = strchr(line, '\n');
  if (!end && n == SCRIPT_LINE)
    return fail(VMX_ENOEXEC, shown, "interpreter line too long");
  if (end)
    *end = 0;
  char *s = line + 2;
  s += strspn(s, " \t");
  size_t ilen = strcspn(s, " \t");
  if (ilen == 0)
    return fail(VMX_ENOEXEC, shown, "empty interpreter line");
  if (ilen >= isize)
    return fail(VMX_ENOEXEC, shown, "interpreter path too long");
  memcpy(interp, s, ilen);
  interp[ilen] = 0;
  s += ilen;
  s += strspn(s, " \t");
  size_t alen = strlen(s);
  while (alen && (s[alen - 1] == ' ' || s[alen - 1] == '\t'))
    alen--;
  if (alen >= asize)
    return fail(VMX_ENOEXEC, shown, "interpreter argument too long");
  memcpy(arg, s, alen);
  arg[alen] = 0;
  return 1;
}

static int load_elf_program(vmx_linux_proc_t *p, elf_file_t *f, const exec_args_t *a,
                            uint64_t *pc, uint64_t *sp) {
  vmx_linux_mm_t *mm = &p->mm;
  elf_image_t img, interp_img = {0};
  bool dynamic = f->interp[0] != 0;
  int r = elf_load_image(mm, f, dynamic, &img);
  if (r)
    return r;
  if (dynamic) {
    char buf[PATH_MAX];
    const char *ipath = sysroot_path(p, f->interp, buf, sizeof buf);
    int fd;
    uint64_t size;
    if (access(ipath, F_OK)) {
      if (p->opts.sysroot)
        return fail(VMX_ENOENT, f->shown, "interpreter %s not found (not under -L %s either)",
                    f->interp, p->opts.sysroot);
      return fail(VMX_ENOENT, f->shown, "interpreter %s not found (use -L SYSROOT)", f->interp);
    }
    if ((r = open_file(ipath, ipath, &fd, &size)))
      return r;
    elf_file_t fi;
    r = elf_open(&fi, fd, size, ipath, mm->limit);
    if (!r && fi.interp[0])
      r = fail(VMX_ENOEXEC, ipath, "an interpreter cannot have an interpreter");
    if (!r)
      r = elf_load_image(mm, &fi, false, &interp_img);
    elf_close(&fi);
    if (r)
      return r;
  }
  /* Linux puts brk after the bss; for ET_DYN without an interpreter (ld.so
   * run directly, static-pie), whose image sits in the mmap area, it moves
   * brk to ELF_ET_DYN_BASE where the heap has room to grow. */
  if (f->eh.e_type == ET_DYN && !dynamic)
    vmx_linux_mm_set_brk(mm, VMX_LINUX_ET_DYN_BASE(mm->limit));
  else
    vmx_linux_mm_set_brk(mm, img.end);
  r = map_sigreturn(p, f->shown);
  if (r)
    return r;
  p->exe_bias = img.bias;
  r = build_stack(p, a, f, &img, dynamic ? interp_img.bias : 0, sp);
  if (r)
    return r;
  *pc = dynamic ? interp_img.entry : img.entry;
  return 0;
}

int vmx_linux_exec_load(struct vmx_linux_proc *p, const char *path, int argc, char **argv,
                        char **envp, uint64_t *pc, uint64_t *sp) {
  exec_args_t a = {argc, argv, envp, path};
  char interp[SCRIPT_DEPTH][PATH_MAX], iarg[SCRIPT_DEPTH][SCRIPT_LINE];
  char resolved[SCRIPT_DEPTH][PATH_MAX];
  char **new_argv[SCRIPT_DEPTH] = {0};
  const char *host_path = path;
  int r;
  for (int depth = 0;; depth++) {
    int fd;
    uint64_t size;
    if ((r = open_file(host_path, host_path, &fd, &size)))
      break;
    int script = depth < SCRIPT_DEPTH
                     ? parse_script(fd, host_path, interp[depth], PATH_MAX, iarg[depth], SCRIPT_LINE)
                     : 0;
    if (script < 0) {
      close(fd);
      r = script;
      break;
    }
    if (script == 0) {
      elf_file_t f;
      r = elf_open(&f, fd, size, host_path, p->mm.limit);
      if (!r && !realpath(host_path, p->exe_path)) {
        size_t n = strnlen(host_path, sizeof p->exe_path - 1);
        memcpy(p->exe_path, host_path, n);
        p->exe_path[n] = 0;
      }
      if (!r)
        r = load_elf_program(p, &f, &a, pc, sp);
      elf_close(&f);
      break;
    }
    close(fd);
    /* argv becomes: interpreter, [its argument], the script, argv[1..]. */
    int extra = iarg[depth][0] ? 2 : 1;
    char **nv = calloc((size_t)a.argc + (size_t)extra + 2, sizeof *nv);
    if (!nv) {
      r = fail(VMX_ENOMEM, host_path, "out of memory");
      break;
    }
    int n = 0;
    nv[n++] = interp[depth];
    if (iarg[depth][0])
      nv[n++] = iarg[depth];
    nv[n++] = (char *)(depth == 0 ? path : host_path);
    for (int i = 1; i < a.argc; i++)
      nv[n++] = a.argv[i];
    new_argv[depth] = nv;
    a.argc = n;
    a.argv = nv;
    host_path = sysroot_path(p, interp[depth], resolved[depth], PATH_MAX);
  }
  for (int i = 0; i < SCRIPT_DEPTH; i++)
    free(new_argv[i]);
  return r;
}
