/* Addresses to names over one ELF file with libdwfl: see symbols.h. */
#include "debug/symbols.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

struct vmx_symbols {
  pthread_mutex_t lock; /* serialises every libdwfl call on dwfl */
  Dwfl *dwfl;
  Dwfl_Module *module;
  uint64_t bias;
};

/* Separate debuginfo is never looked for (no system paths, no debuginfod):
 * the file's own DWARF, if any, is used. */
static int no_separate_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                                 Dwarf_Addr base, const char *file_name,
                                 const char *debuglink_file, GElf_Word debuglink_crc,
                                 char **debuginfo_file_name) {
  return -1;
}

static char *no_debuginfo_path = (char *)"";

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = no_separate_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &no_debuginfo_path,
};

/* libelf maps lazily and trusts header offsets, so check that every section
 * and segment the headers describe lies inside the file before libdwfl
 * reads it. */
static int check_elf_layout(Elf *elf, uint64_t file_size, const char *path, char *err,
                            size_t errlen) {
  GElf_Ehdr eh;
  size_t shnum, phnum;
  if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
    return vmx_error_set(err, errlen, VMX_EBADELF, "%s: not an ELF file", path);
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
    return vmx_error_set(err, errlen, VMX_EBADELF, "%s: ELF type %u is not an executable", path,
                         eh.e_type);
  if (elf_getshdrnum(elf, &shnum) != 0 || elf_getphdrnum(elf, &phnum) != 0)
    return vmx_error_set(err, errlen, VMX_EBADELF, "%s: unreadable ELF headers: %s", path,
                         elf_errmsg(-1));
  if (eh.e_shoff > file_size || (uint64_t)shnum * eh.e_shentsize > file_size - eh.e_shoff)
    return vmx_error_set(err, errlen, VMX_EBADELF,
                         "%s: section headers at 0x%" PRIx64
                         " past end of file (size 0x%" PRIx64 ")",
                         path, (uint64_t)eh.e_shoff, file_size);
  for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn)) != NULL;) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh))
      return vmx_error_set(err, errlen, VMX_EBADELF, "%s: bad section header", path);
    if (sh.sh_type != SHT_NOBITS &&
        (sh.sh_offset > file_size || sh.sh_size > file_size - sh.sh_offset))
      return vmx_error_set(err, errlen, VMX_EBADELF,
                           "%s: section %zu at 0x%" PRIx64 " size 0x%" PRIx64
                           " past end of file (size 0x%" PRIx64 ")",
                           path, elf_ndxscn(scn), (uint64_t)sh.sh_offset, (uint64_t)sh.sh_size,
                           file_size);
  }
  for (size_t i = 0; i < phnum; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf, (int)i, &ph))
      return vmx_error_set(err, errlen, VMX_EBADELF, "%s: bad program header %zu", path, i);
    if (ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset)
      return vmx_error_set(err, errlen, VMX_EBADELF,
                           "%s: segment %zu at 0x%" PRIx64 " past end of file (size 0x%" PRIx64 ")",
                           path, i, (uint64_t)ph.p_offset, file_size);
  }
  return 0;
}

static int check_file(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return vmx_error_set(err, errlen, errno == ENOENT ? VMX_ENOENT : VMX_EIO, "%s: %s", path,
                         strerror(errno));
  struct stat st;
  int rc = fstat(fd, &st);
  if (rc != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return vmx_error_set(err, errlen, VMX_EBADELF, "%s: not a regular file", path);
  }
  elf_version(EV_CURRENT);
  Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
  rc = elf ? check_elf_layout(elf, (uint64_t)st.st_size, path, err, errlen)
           : vmx_error_set(err, errlen, VMX_EBADELF, "%s: %s", path, elf_errmsg(-1));
  elf_end(elf);
  close(fd);
  return rc;
}

int vmx_symbols_open(const char *path, uint64_t bias, vmx_symbols_t **out, char *err,
                     size_t errlen) {
  *out = NULL;
  int rc = check_file(path, err, errlen);
  if (rc != 0)
    return rc;
  vmx_symbols_t *sym = calloc(1, sizeof *sym);
  if (!sym || !(sym->dwfl = dwfl_begin(&callbacks))) {
    free(sym);
    return vmx_error_set(err, errlen, VMX_ENOMEM, "%s: out of memory", path);
  }
  pthread_mutex_init(&sym->lock, NULL);
  sym->bias = bias;
  /* Reported at the file's own addresses (an ET_DYN file at base 0); bias is
   * applied by hand, the same way for ET_EXEC and ET_DYN. */
  dwfl_report_begin(sym->dwfl);
  const char *base = strrchr(path, '/');
  sym->module = dwfl_report_elf(sym->dwfl, base ? base + 1 : path, path, -1, 0, true);
  if (!sym->module || dwfl_report_end(sym->dwfl, NULL, NULL) != 0) {
    rc = vmx_error_set(err, errlen, VMX_EBADELF, "%s: %s", path, dwfl_errmsg(-1));
    vmx_symbols_close(sym);
    return rc;
  }
  if (dwfl_module_getsymtab(sym->module) <= 0) {
    vmx_symbols_close(sym);
    return vmx_error_set(err, errlen, VMX_EBADELF, "%s: no symbol table (stripped?)", path);
  }
  *out = sym;
  return 0;
}

void vmx_symbols_close(vmx_symbols_t *sym) {
  if (!sym)
    return;
  dwfl_end(sym->dwfl);
  pthread_mutex_destroy(&sym->lock);
  free(sym);
}

static int lookup_locked(vmx_symbols_t *sym, uint64_t addr, vmx_sym_info_t *out) {
  memset(out, 0, sizeof *out);
  if (addr < sym->bias)
    return VMX_ENOENT;
  Dwarf_Addr file_addr = addr - sym->bias;
  if (dwfl_addrmodule(sym->dwfl, file_addr) != sym->module)
    return VMX_ENOENT;
  GElf_Off offset;
  GElf_Sym elf_sym;
  const char *name =
      dwfl_module_addrinfo(sym->module, file_addr, &offset, &elf_sym, NULL, NULL, NULL);
  if (name && name[0] == '$') {
    /* A RISC-V mapping symbol ($x, $xrv64i2p1_...) marks where code
     * starts, it names nothing: take the nearest real symbol below. */
    name = NULL;
    GElf_Addr best = 0;
    int n = dwfl_module_getsymtab(sym->module);
    for (int i = 1; i < n; i++) {
      GElf_Sym s2;
      GElf_Addr a2;
      const char *nm = dwfl_module_getsym_info(sym->module, i, &s2, &a2, NULL, NULL, NULL);
      int type = GELF_ST_TYPE(s2.st_info);
      if (!nm || !*nm || nm[0] == '$' || a2 > file_addr || (name && a2 <= best) ||
          (type != STT_FUNC && type != STT_NOTYPE && type != STT_OBJECT) || s2.st_shndx == SHN_UNDEF)
        continue;
      name = nm;
      best = a2;
    }
    offset = file_addr - best;
  }
  if (!name || !*name)
    return VMX_ENOENT;
  out->func = name;
  out->offset = offset;
  out->func_addr = addr - offset;
  Dwfl_Line *line = dwfl_module_getsrc(sym->module, file_addr);
  if (line) {
    int lineno = 0;
    const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
    if (file && lineno > 0) {
      out->file = file;
      out->line = lineno;
    }
  }
  return 0;
}

int vmx_symbols_lookup(vmx_symbols_t *sym, uint64_t addr, vmx_sym_info_t *out) {
  pthread_mutex_lock(&sym->lock);
  int rc = lookup_locked(sym, addr, out);
  pthread_mutex_unlock(&sym->lock);
  return rc;
}

size_t vmx_symbols_format(vmx_symbols_t *sym, uint64_t addr, char *buf, size_t cap) {
  vmx_sym_info_t info;
  int n;
  if (!sym || vmx_symbols_lookup(sym, addr, &info) != 0) {
    n = snprintf(buf, cap, "0x%" PRIx64, addr);
    return (size_t)n;
  }
  char off[24] = "";
  if (info.offset)
    snprintf(off, sizeof off, "+0x%" PRIx64, info.offset);
  if (info.file) {
    const char *base = strrchr(info.file, '/');
    n = snprintf(buf, cap, "%s%s (%s:%d)", info.func, off, base ? base + 1 : info.file,
                 info.line);
  } else {
    n = snprintf(buf, cap, "%s%s", info.func, off);
  }
  return (size_t)n;
}
