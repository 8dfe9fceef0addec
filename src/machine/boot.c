/* Boot images into guest RAM (see boot.h). Every offset and size read from
 * a file is checked against the file's size and against RAM before it is
 * used; a whole image is validated before its first byte reaches RAM. */
#include "machine/boot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdt.h>

#include "base/error.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GUEST_PAGE (4 * KiB)
#define FDT_32BIT_LIMIT (3072 * MiB)   /* QEMU keeps the FDT below 3 GiB */
#define INITRD_MAX_OFFSET (128 * MiB)
#define MAX_PHNUM 256                  /* far more than any real image has */
#define MAX_HEADER_PREFIX (64 * KiB)
#define MAX_STRTAB (256 * MiB)
#define SYM_CHUNK 512

/* Documentation/riscv/boot-image-header.rst */
#define IMAGE_HEADER_SIZE 64
#define IMAGE_IMAGE_SIZE_AT 0x10
#define IMAGE_MAGIC2_AT 0x38
static const uint8_t image_magic2[4] = {'R', 'S', 'C', 0x05};

typedef struct guest_ram {
  uint8_t *host;
  uint64_t base, size;
} guest_ram_t;

/* An open image file; messages about it start with its path. */
typedef struct boot_file {
  const char *path;
  int fd;
  uint64_t size;
  char *err;
  size_t errlen;
} boot_file_t;

/* "path: <message>". */
static int file_fail(const boot_file_t *f, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int file_fail(const boot_file_t *f, int code, const char *fmt, ...) {
  if (f->err && f->errlen) {
    int n = snprintf(f->err, f->errlen, "%s: ", f->path);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < f->errlen)
      vsnprintf(f->err + n, f->errlen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* "16 MiB", "1.5 MiB", "4.0 KiB", "12 bytes" into buf[32]. */
static const char *size_str(char buf[32], uint64_t n) {
  if (n >= MiB && n % MiB == 0)
    snprintf(buf, 32, "%" PRIu64 " MiB", n / MiB);
  else if (n >= MiB)
    snprintf(buf, 32, "%.1f MiB", (double)n / MiB);
  else if (n >= KiB)
    snprintf(buf, 32, "%.1f KiB", (double)n / KiB);
  else
    snprintf(buf, 32, "%" PRIu64 " bytes", n);
  return buf;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t x, uint64_t a) { return x & ~(a - 1); }

static uint64_t le32(const uint8_t *p) {
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return le32(p) | le32(p + 4) << 32; }

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- guest RAM ------------------------------------------------------------- */

/* True when [addr, addr + len) lies in RAM; *off is addr's offset in it. */
static bool ram_holds(const guest_ram_t *r, uint64_t addr, uint64_t len, uint64_t *off) {
  if (addr < r->base || addr - r->base > r->size || len > r->size - (addr - r->base))
    return false;
  *off = addr - r->base;
  return true;
}

static uint64_t ram_end(const guest_ram_t *r) { return r->base + r->size; }

/* The end of the range the device tree is placed below (QEMU 7.2). */
static uint64_t fdt_top(uint64_t ram_base, uint64_t ram_size) {
  uint64_t end = ram_base + ram_size;
  return ram_base < FDT_32BIT_LIMIT && end > FDT_32BIT_LIMIT ? FDT_32BIT_LIMIT : end;
}

/* [*lo, *hi): what a device tree of up to VMX_BOOT_FDT_MAX_SIZE bytes and
 * the fw_dynamic_info below it may occupy. */
static void fdt_area(const guest_ram_t *r, uint64_t *lo, uint64_t *hi) {
  *hi = fdt_top(r->base, r->size);
  uint64_t fdt = vmx_boot_fdt_addr(r->base, r->size, VMX_BOOT_FDT_MAX_SIZE);
  uint64_t info = fdt ? vmx_boot_fw_dynamic_info_addr(fdt) : 0;
  *lo = fdt && info >= r->base ? info : r->base;
}

/* Checks that an image of f occupying [start, start + len) fits in RAM and
 * stays clear of the device-tree area; what names it ("segment 2", ...). */
static int check_fits(const boot_file_t *f, const guest_ram_t *r, const char *what,
                      uint64_t start, uint64_t len) {
  char ram[32], need[32];
  uint64_t off, lo, hi;
  if (start + len < start || !ram_holds(r, start, len, &off))
    return file_fail(f, VMX_ENOSPACE,
                     "%s (%s at 0x%" PRIx64 ") does not fit in %s of RAM (0x%" PRIx64
                     "..0x%" PRIx64 ")", what, size_str(need, len), start, size_str(ram, r->size),
                     r->base, ram_end(r));
  fdt_area(r, &lo, &hi);
  if (len && start < hi && start + len > lo)
    return file_fail(f, VMX_ENOSPACE,
                     "%s (0x%" PRIx64 "..0x%" PRIx64 ") overlaps the device-tree area at "
                     "0x%" PRIx64 "..0x%" PRIx64 " (top of %s of RAM)", what, start,
                     start + len, lo, hi, size_str(ram, r->size));
  return 0;
}

/* ---- files ----------------------------------------------------------------- */

static int file_open(boot_file_t *f, const char *path, char *err, size_t errlen) {
  *f = (boot_file_t){.path = path ? path : "(null)", .fd = -1, .err = err, .errlen = errlen};
  if (!path || !*path)
    return file_fail(f, VMX_EINVAL, "no file name");
  f->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) {
    int e = errno;
    return file_fail(f, e == ENOENT || e == ENOTDIR ? VMX_ENOENT : VMX_EIO,
                     "cannot open: %s", strerror(e));
  }
  struct stat st;
  if (fstat(f->fd, &st))
    return file_fail(f, VMX_EIO, "cannot stat: %s", strerror(errno));
  if (S_ISDIR(st.st_mode))
    return file_fail(f, VMX_EIO, "is a directory");
  if (!S_ISREG(st.st_mode))
    return file_fail(f, VMX_EIO, "not a regular file");
  f->size = (uint64_t)st.st_size;
  return 0;
}

static void file_close(boot_file_t *f) {
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
}

/* Reads len bytes at off; what names them in the message when they are
 * not all in the file. */
static int file_read(const boot_file_t *f, void *buf, uint64_t len, uint64_t off,
                     const char *what) {
  if (off > f->size || len > f->size - off)
    return file_fail(f, VMX_EBADELF,
                     "%s (0x%" PRIx64 " bytes at offset 0x%" PRIx64 ") past end of file "
                     "(size 0x%" PRIx64 ")", what, len, off, f->size);
  for (uint64_t done = 0; done < len;) {
    size_t chunk = len - done > (1u << 30) ? (1u << 30) : (size_t)(len - done);
    ssize_t n = pread(f->fd, (uint8_t *)buf + done, chunk, (off_t)(off + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return file_fail(f, VMX_EIO, "read error: %s", strerror(errno));
    if (n == 0)
      return file_fail(f, VMX_EIO, "file shrank while being read");
    done += (uint64_t)n;
  }
  return 0;
}

/* ---- ELF ------------------------------------------------------------------- */

static const char *machine_name(unsigned m) {
  switch (m) {
  case EM_386: return "i386";
  case EM_X86_64: return "x86-64";
  case EM_ARM: return "ARM";
  case EM_AARCH64: return "AArch64";
  case EM_PPC: return "PowerPC";
  case EM_PPC64: return "PowerPC64";
  case EM_S390: return "S/390";
  case EM_MIPS: return "MIPS";
  case EM_SPARCV9: return "SPARC v9";
  case EM_LOONGARCH: return "LoongArch";
  default: return "unknown";
  }
}

static bool is_elf(const uint8_t *head, uint64_t len) {
  return len >= SELFMAG && !memcmp(head, ELFMAG, SELFMAG);
}

static int elf_check_header(const boot_file_t *f, const Elf64_Ehdr *eh) {
  const unsigned char *id = eh->e_ident;
  unsigned m = eh->e_machine;   /* at the same offset in ELF32 */
  if (id[EI_DATA] == ELFDATA2MSB)
    m = ((m & 0xff) << 8) | (m >> 8);
  if (m != EM_RISCV)
    return file_fail(f, VMX_ENOEXEC, "ELF for machine %u (%s), not RISC-V", m,
                     machine_name(m));
  if (id[EI_CLASS] != ELFCLASS64)
    return file_fail(f, VMX_ENOEXEC, "32-bit RISC-V ELF; the virt machine is RV64");
  if (id[EI_DATA] != ELFDATA2LSB)
    return file_fail(f, VMX_ENOEXEC, "big-endian RISC-V ELF");
  if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
    return file_fail(f, VMX_ENOEXEC, "ELF of type %u, not an executable", eh->e_type);
  if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > MAX_PHNUM)
    return file_fail(f, VMX_EBADELF, "bad program header table (%u entries of %u bytes)",
                     eh->e_phnum, eh->e_phentsize);
  return 0;
}

/* ld gives a program linked with -Ttext=<RAM base> a first segment that
 * starts with the file's own ELF and program headers, mapped just below
 * .text and so below RAM. QEMU drops writes outside RAM and such programs
 * boot there; here that prefix (file offset 0, headers and padding up to
 * the segment's alignment) is cut off the segment instead. */
static void elf_trim_header_prefix(const guest_ram_t *r, const Elf64_Ehdr *eh, Elf64_Phdr *p) {
  if (p->p_offset != 0 || p->p_paddr >= r->base || eh->e_entry < r->base)
    return;
  uint64_t skip = r->base - p->p_paddr;
  if (skip > p->p_filesz || skip > p->p_align || skip > MAX_HEADER_PREFIX)
    return;
  p->p_paddr += skip;
  p->p_offset += skip;
  p->p_filesz -= skip;
  p->p_memsz -= skip;
}

/* Checks every PT_LOAD segment against the file and RAM (trimming a
 * header prefix below RAM); sets start/end. */
static int elf_check_segments(const boot_file_t *f, const guest_ram_t *r, const Elf64_Ehdr *eh,
                              Elf64_Phdr *ph, vmx_boot_image_t *img) {
  img->start = UINT64_MAX;
  img->end = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    Elf64_Phdr *p = &ph[i];
    if (p->p_type != PT_LOAD)
      continue;
    char what[32];
    snprintf(what, sizeof what, "segment %u", i);
    if (p->p_filesz > p->p_memsz)
      return file_fail(f, VMX_EBADELF, "%s has file size 0x%" PRIx64 " > memory size 0x%" PRIx64,
                       what, p->p_filesz, p->p_memsz);
    if (p->p_offset > f->size || p->p_filesz > f->size - p->p_offset)
      return file_fail(f, VMX_EBADELF,
                       "%s (0x%" PRIx64 " bytes at offset 0x%" PRIx64 ") past end of file "
                       "(size 0x%" PRIx64 ")", what, p->p_filesz, p->p_offset, f->size);
    elf_trim_header_prefix(r, eh, p);
    if (!p->p_memsz)
      continue;
    int rc = check_fits(f, r, what, p->p_paddr, p->p_memsz);
    if (rc)
      return rc;
    if (p->p_paddr < img->start)
      img->start = p->p_paddr;
    if (p->p_paddr + p->p_memsz > img->end)
      img->end = p->p_paddr + p->p_memsz;
  }
  if (img->start > img->end)
    return file_fail(f, VMX_EBADELF, "no loadable segment");
  return 0;
}

/* Points *symtab and *strtab at .symtab and its string table in sh[], or
 * leaves them NULL when the file has no symbol table. */
static int elf_find_symtab(const boot_file_t *f, const Elf64_Ehdr *eh, const Elf64_Shdr *sh,
                           const Elf64_Shdr **symtab, const Elf64_Shdr **strtab) {
  const Elf64_Shdr *sym = NULL;
  for (unsigned i = 0; i < eh->e_shnum && !sym; i++)
    if (sh[i].sh_type == SHT_SYMTAB)
      sym = &sh[i];
  if (!sym)
    return 0;
  if (sym->sh_link >= eh->e_shnum || sh[sym->sh_link].sh_type != SHT_STRTAB)
    return file_fail(f, VMX_EBADELF, ".symtab links to section %u, not a string table",
                     sym->sh_link);
  if (sym->sh_entsize != sizeof(Elf64_Sym) || sym->sh_size % sizeof(Elf64_Sym))
    return file_fail(f, VMX_EBADELF, ".symtab of 0x%" PRIx64 " bytes in entries of %" PRIu64,
                     sym->sh_size, sym->sh_entsize);
  if (sh[sym->sh_link].sh_size > MAX_STRTAB)
    return file_fail(f, VMX_EBADELF, "symbol string table of 0x%" PRIx64 " bytes",
                     sh[sym->sh_link].sh_size);
  *symtab = sym;
  *strtab = &sh[sym->sh_link];
  return 0;
}

static bool name_is(const char *names, uint64_t names_size, uint64_t at, const char *want) {
  size_t n = strlen(want) + 1;
  return at < names_size && names_size - at >= n && !memcmp(names + at, want, n);
}

/* Sets img->tohost and img->fromhost from the symbols of those names. */
static int elf_scan_symbols(const boot_file_t *f, const Elf64_Shdr *symtab,
                            const Elf64_Shdr *strtab, vmx_boot_image_t *img) {
  char *names = malloc(strtab->sh_size ? strtab->sh_size : 1);
  if (!names)
    return file_fail(f, VMX_ENOMEM, "out of memory");
  int rc = file_read(f, names, strtab->sh_size, strtab->sh_offset, "symbol string table");
  uint64_t count = symtab->sh_size / sizeof(Elf64_Sym);
  Elf64_Sym chunk[SYM_CHUNK];
  for (uint64_t i = 0; !rc && i < count; i += SYM_CHUNK) {
    uint64_t k = count - i < SYM_CHUNK ? count - i : SYM_CHUNK;
    rc = file_read(f, chunk, k * sizeof *chunk, symtab->sh_offset + i * sizeof *chunk,
                   ".symtab");
    for (uint64_t j = 0; !rc && j < k; j++) {
      if (name_is(names, strtab->sh_size, chunk[j].st_name, "tohost"))
        img->tohost = chunk[j].st_value;
      if (name_is(names, strtab->sh_size, chunk[j].st_name, "fromhost"))
        img->fromhost = chunk[j].st_value;
    }
  }
  free(names);
  return rc;
}

/* Finds the HTIF symbols tohost and fromhost, if the file has a .symtab. */
static int elf_symbols(const boot_file_t *f, const Elf64_Ehdr *eh, vmx_boot_image_t *img) {
  if (!eh->e_shoff || !eh->e_shnum)
    return 0;
  if (eh->e_shentsize != sizeof(Elf64_Shdr))
    return file_fail(f, VMX_EBADELF, "section headers of %u bytes", eh->e_shentsize);
  Elf64_Shdr *sh = malloc((size_t)eh->e_shnum * sizeof *sh);
  if (!sh)
    return file_fail(f, VMX_ENOMEM, "out of memory");
  const Elf64_Shdr *symtab = NULL, *strtab = NULL;
  int rc = file_read(f, sh, (uint64_t)eh->e_shnum * sizeof *sh, eh->e_shoff,
                     "section header table");
  if (!rc)
    rc = elf_find_symtab(f, eh, sh, &symtab, &strtab);
  if (!rc && symtab)
    rc = elf_scan_symbols(f, symtab, strtab, img);
  free(sh);
  return rc;
}

/* Copies the PT_LOAD segments (already checked) to RAM. */
static int elf_copy(const boot_file_t *f, const guest_ram_t *r, const Elf64_Phdr *ph,
                    unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    uint64_t off;
    if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
      continue;
    if (!ram_holds(r, ph[i].p_paddr, ph[i].p_memsz, &off))
      abort();   /* elf_check_segments let it through */
    int rc = file_read(f, r->host + off, ph[i].p_filesz, ph[i].p_offset, "segment");
    if (rc)
      return rc;
    memset(r->host + off + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
  }
  return 0;
}

static int elf_load(const boot_file_t *f, const guest_ram_t *r, vmx_boot_image_t *img) {
  Elf64_Ehdr eh;
  if (f->size < sizeof eh)
    return file_fail(f, VMX_EBADELF, "truncated ELF header (%" PRIu64 " bytes, needs %zu)",
                     f->size, sizeof eh);
  int rc = file_read(f, &eh, sizeof eh, 0, "ELF header");
  if (!rc)
    rc = elf_check_header(f, &eh);
  if (rc)
    return rc;
  Elf64_Phdr ph[MAX_PHNUM];
  rc = file_read(f, ph, (uint64_t)eh.e_phnum * sizeof ph[0], eh.e_phoff, "program header table");
  if (!rc)
    rc = elf_check_segments(f, r, &eh, ph, img);
  if (!rc)
    rc = elf_symbols(f, &eh, img);
  if (!rc)
    rc = elf_copy(f, r, ph, eh.e_phnum);
  img->entry = eh.e_entry;
  img->elf = true;
  return rc;
}

/* ---- raw images ------------------------------------------------------------ */

/* Copies the whole file to addr, then zeroes RAM up to addr + len. */
static int raw_load(const boot_file_t *f, const guest_ram_t *r, const char *what,
                    uint64_t addr, uint64_t len, vmx_boot_image_t *img) {
  if (!f->size)
    return file_fail(f, VMX_ENOEXEC, "empty file");
  if (len < f->size)
    len = f->size;
  int rc = check_fits(f, r, what, addr, len);
  uint64_t off;
  if (rc)
    return rc;
  if (!ram_holds(r, addr, len, &off))
    abort();     /* check_fits let it through */
  rc = file_read(f, r->host + off, f->size, 0, what);
  if (rc)
    return rc;
  memset(r->host + off + f->size, 0, len - f->size);
  *img = (vmx_boot_image_t){.entry = addr, .start = addr, .end = addr + len};
  return 0;
}

/* ---- the public API -------------------------------------------------------- */

static int check_ram(uint8_t *ram, uint64_t ram_base, uint64_t ram_size, char *err,
                     size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  if (!ram || !ram_size || ram_base + ram_size < ram_base)
    return vmx_error_set(err, errlen, VMX_EINVAL, "no guest RAM");
  return 0;
}

int vmx_boot_load_firmware(const char *path, uint8_t *ram, uint64_t ram_base,
                           uint64_t ram_size, vmx_boot_image_t *out, char *err,
                           size_t errlen) {
  int rc = check_ram(ram, ram_base, ram_size, err, errlen);
  if (rc || !out)
    return rc ? rc : vmx_error_set(err, errlen, VMX_EINVAL, "no output");
  guest_ram_t r = {ram, ram_base, ram_size};
  boot_file_t f;
  vmx_boot_image_t img = {0};
  uint8_t head[SELFMAG] = {0};
  rc = file_open(&f, path, err, errlen);
  if (!rc)
    rc = file_read(&f, head, f.size < SELFMAG ? f.size : SELFMAG, 0, "header");
  if (!rc)
    rc = is_elf(head, f.size) ? elf_load(&f, &r, &img)
                              : raw_load(&f, &r, "the firmware", ram_base, f.size, &img);
  file_close(&f);
  if (!rc)
    *out = img;
  return rc;
}

uint64_t vmx_boot_kernel_addr(uint64_t firmware_end) {
  return align_up(firmware_end, VMX_BOOT_KERNEL_ALIGN);
}

static int image_load(const boot_file_t *f, const guest_ram_t *r, uint64_t load_addr,
                      const uint8_t *hdr, vmx_boot_image_t *img) {
  uint64_t image_size = le64(hdr + IMAGE_IMAGE_SIZE_AT);
  /* Headers before version 0.2 may leave image_size 0: the file is all. */
  return raw_load(f, r, "the Linux Image with its bss", load_addr,
                  image_size ? image_size : f->size, img);
}

int vmx_boot_load_kernel(const char *path, uint8_t *ram, uint64_t ram_base,
                         uint64_t ram_size, uint64_t load_addr, vmx_boot_image_t *out,
                         char *err, size_t errlen) {
  int rc = check_ram(ram, ram_base, ram_size, err, errlen);
  if (rc || !out)
    return rc ? rc : vmx_error_set(err, errlen, VMX_EINVAL, "no output");
  guest_ram_t r = {ram, ram_base, ram_size};
  boot_file_t f;
  vmx_boot_image_t img = {0};
  uint8_t hdr[IMAGE_HEADER_SIZE] = {0};
  rc = file_open(&f, path, err, errlen);
  if (!rc)
    rc = file_read(&f, hdr, f.size < sizeof hdr ? f.size : sizeof hdr, 0, "header");
  if (rc) {
    file_close(&f);
    return rc;
  }
  if (is_elf(hdr, f.size))
    rc = elf_load(&f, &r, &img);
  else if (f.size >= sizeof hdr && !memcmp(hdr + IMAGE_MAGIC2_AT, image_magic2, 4))
    rc = image_load(&f, &r, load_addr, hdr, &img);
  else if (f.size < sizeof hdr)
    rc = file_fail(&f, VMX_ENOEXEC,
                   "too short (%" PRIu64 " bytes) for a RISC-V Linux Image header, and not an ELF",
                   f.size);
  else
    rc = file_fail(&f, VMX_ENOEXEC,
                   "not a RISC-V Linux Image (no RSC\\x05 magic at 0x38) nor a RISC-V ELF");
  file_close(&f);
  if (!rc)
    *out = img;
  return rc;
}

uint64_t vmx_boot_initrd_addr(uint64_t ram_size, uint64_t kernel_start) {
  uint64_t offset = ram_size / 2 < INITRD_MAX_OFFSET ? ram_size / 2 : INITRD_MAX_OFFSET;
  return kernel_start + offset;
}

int vmx_boot_load_initrd(const char *path, uint8_t *ram, uint64_t ram_base,
                         uint64_t ram_size, uint64_t kernel_start, uint64_t kernel_end,
                         uint64_t *start, uint64_t *end, char *err, size_t errlen) {
  int rc = check_ram(ram, ram_base, ram_size, err, errlen);
  if (rc)
    return rc;
  guest_ram_t r = {ram, ram_base, ram_size};
  if (!start || !end || kernel_end < kernel_start || kernel_start < ram_base ||
      kernel_end > ram_end(&r))
    return vmx_error_set(err, errlen, VMX_EINVAL,
                         "initrd: bad kernel range 0x%" PRIx64
                         "..0x%" PRIx64, kernel_start, kernel_end);
  boot_file_t f;
  rc = file_open(&f, path, err, errlen);
  if (!rc && !f.size)
    rc = file_fail(&f, VMX_ENOEXEC, "empty file");
  if (rc) {
    file_close(&f);
    return rc;
  }
  uint64_t lo, hi, off;
  fdt_area(&r, &lo, &hi);
  uint64_t first = align_up(kernel_end, GUEST_PAGE);
  uint64_t at = vmx_boot_initrd_addr(ram_size, kernel_start);
  if (lo >= f.size && at > align_down(lo - f.size, GUEST_PAGE))
    at = align_down(lo - f.size, GUEST_PAGE);
  if (at < first)
    at = first;
  if (at > lo || f.size > lo - at) {
    char need[32], ram_s[32];
    rc = file_fail(&f, VMX_ENOSPACE,
                   "initrd of %s does not fit between the kernel's end (0x%" PRIx64 ") and "
                   "the device-tree area (0x%" PRIx64 ") in %s of RAM",
                   size_str(need, f.size), kernel_end, lo, size_str(ram_s, ram_size));
  } else if (!ram_holds(&r, at, f.size, &off)) {
    abort();     /* at..at+size is below lo, which is inside RAM */
  } else {
    rc = file_read(&f, ram + off, f.size, 0, "initrd");
  }
  if (!rc) {
    *start = at;
    *end = at + f.size;
  }
  file_close(&f);
  return rc;
}

uint64_t vmx_boot_fdt_addr(uint64_t ram_base, uint64_t ram_size, size_t fdt_size) {
  if (ram_base + ram_size < ram_base)
    return 0;
  uint64_t top = fdt_top(ram_base, ram_size);
  if (fdt_size > top - ram_base)
    return 0;
  uint64_t at = align_down(top - fdt_size, 2 * MiB);
  return at >= ram_base ? at : 0;
}

int vmx_boot_place_fdt(uint8_t *ram, uint64_t ram_base, uint64_t ram_size,
                       const void *fdt, size_t size, uint64_t *addr, char *err,
                       size_t errlen) {
  int rc = check_ram(ram, ram_base, ram_size, err, errlen);
  if (rc)
    return rc;
  if (!fdt || !addr || size < sizeof(struct fdt_header) || fdt_check_header(fdt) ||
      fdt_totalsize(fdt) != size)
    return vmx_error_set(err, errlen, VMX_EINVAL,
                         "device tree: not a valid blob of %zu bytes", size);
  char ram_s[32];
  if (size > VMX_BOOT_FDT_MAX_SIZE)
    return vmx_error_set(err, errlen, VMX_ENOSPACE,
                         "device tree: %zu bytes, more than the %u reserved",
                         size, VMX_BOOT_FDT_MAX_SIZE);
  guest_ram_t r = {ram, ram_base, ram_size};
  uint64_t at = vmx_boot_fdt_addr(ram_base, ram_size, size), off;
  if (!at || !ram_holds(&r, at, size, &off))
    return vmx_error_set(err, errlen, VMX_ENOSPACE,
                         "device tree: %zu bytes do not fit in %s of RAM",
                         size, size_str(ram_s, ram_size));
  memcpy(ram + off, fdt, size);
  *addr = at;
  return 0;
}

uint64_t vmx_boot_fw_dynamic_info_addr(uint64_t fdt_addr) {
  return align_down(fdt_addr - VMX_BOOT_FW_DYNAMIC_INFO_SIZE, 8);
}

int vmx_boot_fw_dynamic_info(uint8_t *ram, uint64_t ram_base, uint64_t ram_size,
                             uint64_t at, uint64_t next_addr, unsigned next_mode,
                             unsigned boot_hart, char *err, size_t errlen) {
  int rc = check_ram(ram, ram_base, ram_size, err, errlen);
  if (rc)
    return rc;
  if (next_mode != VMX_BOOT_NEXT_MODE_U && next_mode != VMX_BOOT_NEXT_MODE_S &&
      next_mode != VMX_BOOT_NEXT_MODE_M)
    return vmx_error_set(err, errlen, VMX_EINVAL,
                         "fw_dynamic_info: next mode %u is not U (0), S (1) or M (3)",
                         next_mode);
  guest_ram_t r = {ram, ram_base, ram_size};
  uint64_t off;
  if (at % 8 || !ram_holds(&r, at, VMX_BOOT_FW_DYNAMIC_INFO_SIZE, &off))
    return vmx_error_set(err, errlen, VMX_EINVAL,
                         "fw_dynamic_info: 0x%" PRIx64 " is not an 8-byte aligned place in RAM",
                         at);
  const uint64_t fields[VMX_BOOT_FW_DYNAMIC_INFO_SIZE / 8] = {
      VMX_BOOT_FW_DYNAMIC_INFO_MAGIC, VMX_BOOT_FW_DYNAMIC_INFO_VERSION, next_addr, next_mode,
      0 /* options */, boot_hart};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    put_le64(ram + off + 8 * i, fields[i]);
  return 0;
}

int vmx_boot_check_overlap(const vmx_boot_region_t *regions, size_t n, char *err,
                           size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      const vmx_boot_region_t *a = &regions[i], *b = &regions[j];
      if (a->start < a->end && b->start < b->end && a->start < b->end && b->start < a->end)
        return vmx_error_set(err, errlen, VMX_ENOSPACE,
                             "%s (0x%" PRIx64 "..0x%" PRIx64 ") overlaps %s (0x%" PRIx64
                             "..0x%" PRIx64 ")",
                             a->what, a->start, a->end, b->what, b->start, b->end);
    }
  return 0;
}
