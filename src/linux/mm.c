/* The guest address space: one host reservation plus a sorted region list.
 * See mm.h for the layout and the rules. */
#include "linux/mm.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "linux/guest.h"

#define PAGE_MASK (VMX_LINUX_PAGE_SIZE - 1)
#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
#define HOST_ALIGN (2ull << 20)   /* lets 2 MiB guest ranges use host huge pages */

static uint64_t page_up(uint64_t x) { return (x + PAGE_MASK) & ~PAGE_MASK; }

/* ---- the region list -------------------------------------------------- */

/* Index of the first region that ends above addr (nvmas when none). */
static size_t vma_find(const vmx_linux_mm_t *mm, uint64_t addr) {
  size_t lo = 0, hi = mm->nvmas;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (mm->vmas[mid].end <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Makes room for `extra` more regions, so that the list operations that
 * follow cannot fail half-way. */
static int vma_reserve(vmx_linux_mm_t *mm, size_t extra) {
  if (mm->nvmas + extra <= mm->cap)
    return 0;
  size_t cap = mm->cap ? mm->cap * 2 : 64;
  while (cap < mm->nvmas + extra)
    cap *= 2;
  vmx_linux_vma_t *v = realloc(mm->vmas, cap * sizeof *v);
  if (!v)
    return -ENOMEM;
  mm->vmas = v;
  mm->cap = cap;
  return 0;
}

/* Splits the region that contains addr strictly inside it in two.
 * Needs one free slot (vma_reserve). */
static void vma_split(vmx_linux_mm_t *mm, uint64_t addr) {
  size_t i = vma_find(mm, addr);
  if (i == mm->nvmas || mm->vmas[i].start >= addr)
    return;
  memmove(&mm->vmas[i + 1], &mm->vmas[i], (mm->nvmas - i) * sizeof mm->vmas[0]);
  mm->nvmas++;
  mm->vmas[i].end = addr;
  mm->vmas[i + 1].start = addr;
}

/* Joins neighbours with equal attributes around indices [lo, hi]. */
static void vma_merge(vmx_linux_mm_t *mm, size_t lo, size_t hi) {
  if (lo > 0)
    lo--;
  if (hi + 1 > mm->nvmas)
    hi = mm->nvmas ? mm->nvmas - 1 : 0;
  for (size_t i = lo; i + 1 < mm->nvmas && i < hi;) {
    vmx_linux_vma_t *a = &mm->vmas[i], *b = &mm->vmas[i + 1];
    if (a->end == b->start && a->prot == b->prot && a->kind == b->kind) {
      a->end = b->end;
      memmove(b, b + 1, (mm->nvmas - i - 2) * sizeof *b);
      mm->nvmas--;
      hi--;
    } else {
      i++;
    }
  }
}

/* Removes [start, end) from the list; returns true when anything was
 * mapped there. Needs two free slots. */
static bool vma_carve(vmx_linux_mm_t *mm, uint64_t start, uint64_t end) {
  vma_split(mm, start);
  vma_split(mm, end);
  size_t i = vma_find(mm, start), j = i;
  while (j < mm->nvmas && mm->vmas[j].start < end)
    j++;
  if (j == i)
    return false;
  memmove(&mm->vmas[i], &mm->vmas[j], (mm->nvmas - j) * sizeof mm->vmas[0]);
  mm->nvmas -= j - i;
  return true;
}

/* Records [start, end) as one region, replacing whatever was there.
 * Needs three free slots. Returns true when it replaced something. */
static bool vma_add(vmx_linux_mm_t *mm, uint64_t start, uint64_t end, uint32_t prot,
                    uint32_t kind) {
  bool replaced = vma_carve(mm, start, end);
  size_t i = vma_find(mm, start);
  memmove(&mm->vmas[i + 1], &mm->vmas[i], (mm->nvmas - i) * sizeof mm->vmas[0]);
  mm->vmas[i] = (vmx_linux_vma_t){start, end, prot, kind};
  mm->nvmas++;
  vma_merge(mm, i, i + 1);
  return replaced;
}

static bool range_free(const vmx_linux_mm_t *mm, uint64_t start, uint64_t end) {
  size_t i = vma_find(mm, start);
  return i == mm->nvmas || mm->vmas[i].start >= end;
}

/* True when [start, end) is covered without holes by regions whose
 * protection includes prot. */
static bool range_mapped(const vmx_linux_mm_t *mm, uint64_t start, uint64_t end, int prot) {
  uint64_t at = start;
  for (size_t i = vma_find(mm, start); at < end; i++) {
    if (i == mm->nvmas || mm->vmas[i].start > at)
      return false;
    if ((mm->vmas[i].prot & (uint32_t)prot) != (uint32_t)prot)
      return false;
    at = mm->vmas[i].end;
  }
  return true;
}

/* A free range of len bytes for mmap(NULL): the hint when it is free, else
 * the highest gap below mmap_base (Linux's top-down layout), else the
 * lowest one above it. Returns 0 when the space is full. */
static uint64_t find_free(const vmx_linux_mm_t *mm, uint64_t hint, uint64_t len) {
  if (hint >= VMX_LINUX_MMAP_MIN && hint < mm->limit && len <= mm->limit - hint &&
      range_free(mm, hint, hint + len))
    return hint;
  uint64_t gap_end = mm->mmap_base;
  for (size_t i = mm->nvmas; i-- > 0;) {
    const vmx_linux_vma_t *v = &mm->vmas[i];
    if (v->start >= gap_end)
      continue;
    if (v->end < gap_end && gap_end - v->end >= len)
      return gap_end - len;
    gap_end = v->start;
  }
  if (gap_end >= VMX_LINUX_MMAP_MIN + len)
    return gap_end - len;
  uint64_t gap_start = mm->mmap_base;
  for (size_t i = vma_find(mm, gap_start); gap_start < mm->limit; i++) {
    uint64_t next = i < mm->nvmas ? mm->vmas[i].start : mm->limit;
    if (next > gap_start && next - gap_start >= len)
      return gap_start;
    if (i == mm->nvmas)
      break;
    gap_start = mm->vmas[i].end;
  }
  return 0;
}

/* ---- host mappings ---------------------------------------------------- */

/* The host protection for a guest one: the interpreter reads code, so
 * executable pages must be readable; guest code never runs natively. */
static int host_prot(int prot) {
  int p = prot & (PROT_READ | PROT_WRITE);
  return (prot & PROT_EXEC) ? p | PROT_READ : p;
}

/* Puts reservation back over [start, start+len), replacing any mapping. */
static int host_reserve(vmx_linux_mm_t *mm, uint64_t start, uint64_t len) {
  if (mmap(mm->base + start, len, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0) == MAP_FAILED)
    return -errno;
  return 0;
}

/* Fills a range that the host kernel may have left unmapped (a failed
 * MAP_FIXED mmap or mremap may unmap the target first) with reservation
 * again, without touching what is still mapped, and drops the regions of
 * pages that turned out empty. A host mapping inside the reservation would
 * break the guest's confinement, so failing to fill a hole is fatal. */
static void host_fill_holes(vmx_linux_mm_t *mm, uint64_t start, uint64_t len) {
  void *want = mm->base + start;
  void *p = mmap(want, len, PROT_NONE, RESERVE_FLAGS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == want) {
    vma_carve(mm, start, start + len);
    return;
  }
  if (p != MAP_FAILED)   /* a kernel without MAP_FIXED_NOREPLACE */
    munmap(p, len);
  for (uint64_t a = start; a < start + len; a += VMX_LINUX_PAGE_SIZE) {
    want = mm->base + a;
    p = mmap(want, VMX_LINUX_PAGE_SIZE, PROT_NONE, RESERVE_FLAGS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == want) {
      vma_carve(mm, a, a + VMX_LINUX_PAGE_SIZE);
    } else if (errno != EEXIST) {
      vmx_log_error("cannot restore the guest reservation at 0x%" PRIx64 ": %s", a,
                    strerror(errno));
      abort();
    }
  }
}

/* ---- set-up ----------------------------------------------------------- */

int vmx_linux_mm_init(vmx_linux_mm_t *mm) {
  memset(mm, 0, sizeof *mm);
  mm->limit = VMX_LINUX_GUEST_SPACE;
  size_t size = mm->limit + HOST_ALIGN;
  uint8_t *p = mmap(NULL, size, PROT_NONE, RESERVE_FLAGS, -1, 0);
  if (p == MAP_FAILED) {
    vmx_log_error("cannot reserve %" PRIu64 " GiB for the guest address space: %s",
                  mm->limit >> 30, strerror(errno));
    return VMX_ENOMEM;
  }
  uint8_t *base = (uint8_t *)(((uintptr_t)p + HOST_ALIGN - 1) & ~(uintptr_t)(HOST_ALIGN - 1));
  if (base > p)
    munmap(p, (size_t)(base - p));
  if (p + size > base + mm->limit)
    munmap(base + mm->limit, (size_t)(p + size - (base + mm->limit)));
  mm->base = base;
  pthread_mutex_init(&mm->lock, NULL);

  /* Linux's mmap_base: below the stack by RLIMIT_STACK, at least 128 MiB,
   * at most 5/6 of the space, plus the 1 MiB stack guard gap. */
  struct rlimit rl;
  uint64_t gap = 8ull << 20;
  if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    gap = rl.rlim_cur;
  if (gap < (128ull << 20))
    gap = 128ull << 20;
  if (gap > mm->limit / 6 * 5)
    gap = mm->limit / 6 * 5;
  mm->stack_top = mm->limit;
  mm->mmap_base = (mm->limit - gap - (1ull << 20)) & ~PAGE_MASK;
  return 0;
}

void vmx_linux_mm_close(vmx_linux_mm_t *mm) {
  if (mm->base)
    munmap(mm->base, mm->limit);
  free(mm->vmas);
  pthread_mutex_destroy(&mm->lock);
  memset(mm, 0, sizeof *mm);
}

void vmx_linux_mm_code_changed(vmx_linux_mm_t *mm) {
  /* release: a vCPU that sees the new value also sees the new mappings */
  atomic_fetch_add_explicit(&mm->code_gen, 1, memory_order_release);
}

/* ---- mmap ------------------------------------------------------------- */

#define PROT_KNOWN (PROT_READ | PROT_WRITE | PROT_EXEC)
#define PROT_GROWS (PROT_GROWSDOWN | PROT_GROWSUP)
/* Guest flags passed on to the host; MAP_FIXED is always added. Dropped:
 * MAP_GROWSDOWN (our stack is mapped whole), MAP_STACK, MAP_DENYWRITE and
 * MAP_EXECUTABLE (ignored by Linux), MAP_FIXED_NOREPLACE (done here). */
#define MAP_PASSED (MAP_TYPE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE | MAP_LOCKED | \
                    MAP_NONBLOCK | MAP_HUGETLB | MAP_SYNC)

static int64_t map_locked(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, int prot,
                          int flags, int fd, uint64_t offset) {
  bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  if (fixed) {
    if (addr & PAGE_MASK)
      return -EINVAL;
    if (addr >= mm->limit || len > mm->limit - addr)
      return -ENOMEM;
    if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) &&
        !range_free(mm, addr, addr + len))
      return -EEXIST;
  } else {
    addr = find_free(mm, addr & ~PAGE_MASK, len);
    if (!addr)
      return -ENOMEM;
  }
  if (vma_reserve(mm, 3))
    return -ENOMEM;
  bool anon = flags & MAP_ANONYMOUS;
  void *want = mm->base + addr;
  void *p = mmap(want, len, host_prot(prot), (flags & MAP_PASSED) | MAP_FIXED,
                 anon ? -1 : fd, anon ? 0 : (off_t)offset);
  if (p == MAP_FAILED) {
    int err = errno;
    host_fill_holes(mm, addr, len);
    return -err;
  }
  bool shared = (flags & MAP_TYPE) != MAP_PRIVATE;
  uint32_t kind = shared ? VMX_LINUX_VMA_SHARED : anon ? VMX_LINUX_VMA_ANON : VMX_LINUX_VMA_FILE;
  if (vma_add(mm, addr, addr + len, (uint32_t)(prot & PROT_KNOWN), kind))
    vmx_linux_mm_code_changed(mm);
  return (int64_t)addr;
}

int64_t vmx_linux_mm_map(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, int prot,
                         int flags, int fd, uint64_t offset) {
  if (len == 0 || (offset & PAGE_MASK) || (prot & ~(PROT_KNOWN | PROT_GROWS)))
    return -EINVAL;
  int type = flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
    return -EINVAL;
  if (len > mm->limit)
    return -ENOMEM;
  len = page_up(len);
  if (!(flags & MAP_ANONYMOUS) && offset + len < offset)
    return -EOVERFLOW;
  pthread_mutex_lock(&mm->lock);
  int64_t r = map_locked(mm, addr, len, prot & PROT_KNOWN, flags, fd, offset);
  pthread_mutex_unlock(&mm->lock);
  return r;
}

/* ---- munmap, mprotect ------------------------------------------------- */

static int64_t unmap_locked(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len) {
  if (vma_reserve(mm, 2))
    return -ENOMEM;
  int r = host_reserve(mm, addr, len);
  if (r)
    return r;
  if (vma_carve(mm, addr, addr + len))
    vmx_linux_mm_code_changed(mm);
  return 0;
}

int64_t vmx_linux_mm_unmap(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len) {
  if ((addr & PAGE_MASK) || len == 0 || addr >= mm->limit || len > mm->limit - addr)
    return -EINVAL;
  len = page_up(len);
  pthread_mutex_lock(&mm->lock);
  int64_t r = unmap_locked(mm, addr, len);
  pthread_mutex_unlock(&mm->lock);
  return r;
}

int64_t vmx_linux_mm_protect(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, int prot) {
  if ((addr & PAGE_MASK) || (prot & ~(PROT_KNOWN | PROT_GROWS)))
    return -EINVAL;
  if (len == 0)
    return 0;
  if (addr >= mm->limit || len > mm->limit - addr)
    return -ENOMEM;
  len = page_up(len);
  prot &= PROT_KNOWN;
  int64_t r = 0;
  pthread_mutex_lock(&mm->lock);
  if (!range_mapped(mm, addr, addr + len, 0)) {
    r = -ENOMEM;
  } else if (vma_reserve(mm, 2)) {
    r = -ENOMEM;
  } else if (mprotect(mm->base + addr, len, host_prot(prot))) {
    r = -errno;
  } else {
    vma_split(mm, addr);
    vma_split(mm, addr + len);
    size_t i = vma_find(mm, addr), j = i;
    for (; j < mm->nvmas && mm->vmas[j].start < addr + len; j++)
      mm->vmas[j].prot = (uint32_t)prot;
    vma_merge(mm, i, j);
    vmx_linux_mm_code_changed(mm);
  }
  pthread_mutex_unlock(&mm->lock);
  return r;
}

/* ---- mremap ----------------------------------------------------------- */

/* Replaces a range the host left unmapped (the source of a moving mremap)
 * with reservation. See host_fill_holes for why failure is fatal. */
static void rereserve_hole(vmx_linux_mm_t *mm, uint64_t start, uint64_t len) {
  vma_carve(mm, start, start + len);
  host_fill_holes(mm, start, len);
}

/* Moves [old, old+old_len) to new and resizes it to new_len. Private
 * anonymous memory moves with MREMAP_DONTUNMAP, which leaves the source
 * mapped, so the reservation never has a hole; other kinds fall back to
 * a plain move and re-reserve the source right after. */
static int64_t move_locked(vmx_linux_mm_t *mm, const vmx_linux_vma_t *v, uint64_t old,
                           uint64_t old_len, uint64_t new, uint64_t new_len) {
  vmx_linux_vma_t src = *v;
  uint8_t *b = mm->base;
  if (src.kind == VMX_LINUX_VMA_ANON || src.kind == VMX_LINUX_VMA_HEAP ||
      src.kind == VMX_LINUX_VMA_STACK) {
    uint64_t move_len = old_len < new_len ? old_len : new_len;
    if (mremap(b + old, move_len, move_len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
               b + new) != MAP_FAILED) {
      if (new_len > move_len &&
          mmap(b + new + move_len, new_len - move_len, host_prot((int)src.prot),
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        int err = errno;
        host_reserve(mm, new, new_len);
        return -err;
      }
      host_reserve(mm, old, old_len);
      vma_carve(mm, old, old + old_len);
      vma_add(mm, new, new + new_len, src.prot,
              src.kind == VMX_LINUX_VMA_ANON ? VMX_LINUX_VMA_ANON : src.kind);
      return (int64_t)new;
    }
  }
  if (mremap(b + old, old_len, new_len, MREMAP_MAYMOVE | MREMAP_FIXED, b + new) == MAP_FAILED) {
    int err = errno;
    host_fill_holes(mm, new, new_len);
    return -err;
  }
  rereserve_hole(mm, old, old_len);
  vma_add(mm, new, new + new_len, src.prot, src.kind);
  return (int64_t)new;
}

/* Grows [old, old+old_len) in place into the free range after it. */
static int64_t grow_locked(vmx_linux_mm_t *mm, const vmx_linux_vma_t *v, uint64_t old,
                           uint64_t old_len, uint64_t new_len) {
  vmx_linux_vma_t src = *v;
  uint8_t *b = mm->base;
  uint64_t tail = old + old_len, tail_len = new_len - old_len;
  if (src.kind == VMX_LINUX_VMA_ANON || src.kind == VMX_LINUX_VMA_HEAP) {
    /* New private anonymous pages are all that growing adds. */
    if (mmap(b + tail, tail_len, host_prot((int)src.prot), MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0) == MAP_FAILED) {
      int err = errno;
      host_fill_holes(mm, tail, tail_len);
      return -err;
    }
  } else {
    /* Shared or file-backed: the host must extend the mapping itself,
     * which needs the tail unmapped for the duration of one call. */
    if (munmap(b + tail, tail_len))
      return -errno;
    if (mremap(b + old, old_len, new_len, 0) == MAP_FAILED) {
      int err = errno;
      host_fill_holes(mm, tail, tail_len);
      return -err;
    }
  }
  vma_add(mm, tail, tail + tail_len, src.prot, src.kind);
  return (int64_t)old;
}

static int64_t remap_locked(vmx_linux_mm_t *mm, uint64_t old, uint64_t old_len,
                            uint64_t new_len, int flags, uint64_t new) {
  if (vma_reserve(mm, 6))
    return -ENOMEM;
  size_t i = vma_find(mm, old);
  if (i == mm->nvmas || mm->vmas[i].start > old || mm->vmas[i].end < old + old_len)
    return -EFAULT;
  const vmx_linux_vma_t *v = &mm->vmas[i];
  int64_t r;
  if (flags & MREMAP_FIXED) {
    if ((new & PAGE_MASK) || new >= mm->limit || new_len > mm->limit - new)
      return -EINVAL;
    if (new < old + old_len && old < new + new_len)
      return -EINVAL;
    r = move_locked(mm, v, old, old_len, new, new_len);
  } else if (new_len <= old_len) {
    r = new_len < old_len ? unmap_locked(mm, old + new_len, old_len - new_len) : 0;
    if (r == 0)
      r = (int64_t)old;
  } else if (old + new_len <= mm->limit && range_free(mm, old + old_len, old + new_len)) {
    r = grow_locked(mm, v, old, old_len, new_len);
  } else if (flags & MREMAP_MAYMOVE) {
    new = find_free(mm, 0, new_len);
    r = new ? move_locked(mm, v, old, old_len, new, new_len) : -ENOMEM;
  } else {
    r = -ENOMEM;
  }
  vmx_linux_mm_code_changed(mm);
  return r;
}

int64_t vmx_linux_mm_remap(vmx_linux_mm_t *mm, uint64_t old_addr, uint64_t old_len,
                           uint64_t new_len, int flags, uint64_t new_addr) {
  if ((old_addr & PAGE_MASK) || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)))
    return -EINVAL;
  if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
    return -EINVAL;
  /* old_len 0 (duplicating a shared mapping) is not supported. */
  if (old_len == 0 || new_len == 0 || old_len > mm->limit || new_len > mm->limit ||
      old_addr >= mm->limit)
    return -EINVAL;
  old_len = page_up(old_len);
  new_len = page_up(new_len);
  if (old_len > mm->limit - old_addr)
    return -EFAULT;
  pthread_mutex_lock(&mm->lock);
  int64_t r = remap_locked(mm, old_addr, old_len, new_len, flags, new_addr);
  pthread_mutex_unlock(&mm->lock);
  return r;
}

/* ---- brk -------------------------------------------------------------- */

void vmx_linux_mm_set_brk(vmx_linux_mm_t *mm, uint64_t start) {
  pthread_mutex_lock(&mm->lock);
  mm->brk_start = mm->brk_cur = page_up(start);
  pthread_mutex_unlock(&mm->lock);
}

static bool brk_move_locked(vmx_linux_mm_t *mm, uint64_t addr) {
  uint64_t old_top = page_up(mm->brk_cur), new_top = page_up(addr);
  if (new_top > old_top) {
    if (new_top > mm->limit || !range_free(mm, old_top, new_top) || vma_reserve(mm, 3))
      return false;
    if (mmap(mm->base + old_top, new_top - old_top, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
      host_fill_holes(mm, old_top, new_top - old_top);
      return false;
    }
    vma_add(mm, old_top, new_top, PROT_READ | PROT_WRITE, VMX_LINUX_VMA_HEAP);
  } else if (new_top < old_top) {
    if (unmap_locked(mm, new_top, old_top - new_top))
      return false;
  }
  return true;
}

uint64_t vmx_linux_mm_brk(vmx_linux_mm_t *mm, uint64_t addr) {
  pthread_mutex_lock(&mm->lock);
  if (addr >= mm->brk_start && addr < mm->limit && brk_move_locked(mm, addr))
    mm->brk_cur = addr;
  uint64_t r = mm->brk_cur;
  pthread_mutex_unlock(&mm->lock);
  return r;
}

/* ---- queries ---------------------------------------------------------- */

void vmx_linux_mm_set_kind(vmx_linux_mm_t *mm, uint64_t start, uint64_t end, uint32_t kind) {
  pthread_mutex_lock(&mm->lock);
  if (vma_reserve(mm, 2) == 0) {
    vma_split(mm, start);
    vma_split(mm, end);
    size_t i = vma_find(mm, start), j = i;
    for (; j < mm->nvmas && mm->vmas[j].start < end; j++)
      mm->vmas[j].kind = kind;
    vma_merge(mm, i, j);
  }
  pthread_mutex_unlock(&mm->lock);
}

bool vmx_linux_mm_check(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, int prot) {
  if (addr >= mm->limit || len > mm->limit - addr)
    return false;
  if (len == 0)
    return true;
  uint64_t end = page_up(addr + len);
  pthread_mutex_lock(&mm->lock);
  bool ok = range_mapped(mm, addr & ~PAGE_MASK, end, prot);
  pthread_mutex_unlock(&mm->lock);
  return ok;
}

int vmx_linux_mm_fault_signal(vmx_linux_mm_t *mm, uint64_t addr, int prot, int *code) {
  int sig = SIGSEGV;
  *code = SEGV_MAPERR;
  pthread_mutex_lock(&mm->lock);
  size_t i = addr < mm->limit ? vma_find(mm, addr) : mm->nvmas;
  if (i < mm->nvmas && mm->vmas[i].start <= addr) {
    if ((mm->vmas[i].prot & (uint32_t)prot) == (uint32_t)prot) {
      sig = SIGBUS;
      *code = BUS_ADRERR;
    } else {
      *code = SEGV_ACCERR;
    }
  }
  pthread_mutex_unlock(&mm->lock);
  return sig;
}

/* ---- copies between vmx and the guest ---------------------------------- */

/* process_vm_readv/writev on our own pid copy with the kernel's checks, so a
 * bad guest address is an error, not a host fault. Where they are
 * forbidden (a seccomp policy), the region list decides instead, under the
 * lock so the pages cannot go away during the copy. */
static int copy_checked(vmx_linux_mm_t *mm, void *local, uint64_t guest, size_t len, bool out) {
  if (len == 0)
    return 0;
  if (guest >= mm->limit || len > mm->limit - guest)
    return -EFAULT;
  struct iovec l = {local, len}, r = {mm->base + guest, len};
  ssize_t n = out ? process_vm_writev(gettid(), &l, 1, &r, 1, 0)
                  : process_vm_readv(gettid(), &l, 1, &r, 1, 0);
  if (n == (ssize_t)len)
    return 0;
  if (n >= 0 || (errno != ENOSYS && errno != EPERM))
    return -EFAULT;
  int err = 0;
  pthread_mutex_lock(&mm->lock);
  if (!range_mapped(mm, guest & ~PAGE_MASK, page_up(guest + len), out ? PROT_WRITE : PROT_READ))
    err = -EFAULT;
  else if (out)
    memcpy(mm->base + guest, local, len);
  else
    memcpy(local, mm->base + guest, len);
  pthread_mutex_unlock(&mm->lock);
  return err;
}

int vmx_linux_mm_copy_in(vmx_linux_mm_t *mm, void *dst, uint64_t src, size_t len) {
  return copy_checked(mm, dst, src, len, false);
}

int vmx_linux_mm_copy_out(vmx_linux_mm_t *mm, uint64_t dst, const void *src, size_t len) {
  return copy_checked(mm, (void *)src, dst, len, true);
}

int64_t vmx_linux_mm_string_in(vmx_linux_mm_t *mm, char *dst, uint64_t src, size_t size) {
  size_t pos = 0;
  while (pos < size) {
    uint64_t at = src + pos;
    size_t chunk = VMX_LINUX_PAGE_SIZE - (at & PAGE_MASK);
    if (chunk > size - pos)
      chunk = size - pos;
    if (copy_checked(mm, dst + pos, at, chunk, false))
      return -EFAULT;
    char *nul = memchr(dst + pos, 0, chunk);
    if (nul)
      return nul - dst;
    pos += chunk;
  }
  return -ENAMETOOLONG;
}

/* ---- /proc/self/maps -------------------------------------------------- */

static void write_map_line(FILE *out, const vmx_linux_vma_t *v, uint64_t start, uint64_t end,
                           uint64_t offset, const char *dev, unsigned long inode,
                           const char *path) {
  char line[512];
  int n = snprintf(line, sizeof line, "%08" PRIx64 "-%08" PRIx64 " %c%c%c%c %08" PRIx64 " %s %lu ",
                   start, end, (v->prot & PROT_READ) ? 'r' : '-', (v->prot & PROT_WRITE) ? 'w' : '-',
                   (v->prot & PROT_EXEC) ? 'x' : '-', v->kind == VMX_LINUX_VMA_SHARED ? 's' : 'p',
                   offset, dev, inode);
  if (v->kind == VMX_LINUX_VMA_HEAP)
    path = "[heap]";
  else if (v->kind == VMX_LINUX_VMA_STACK)
    path = "[stack]";
  if (*path)
    fprintf(out, "%s%*s%s\n", line, n < 73 ? 73 - n : 0, "", path);
  else
    fprintf(out, "%s\n", line);
}

void vmx_linux_mm_write_maps(vmx_linux_mm_t *mm, FILE *out) {
  FILE *in = fopen("/proc/self/maps", "r");
  if (!in)
    return;
  uintptr_t lo = (uintptr_t)mm->base, hi = lo + mm->limit;
  char line[4096 + 128];
  pthread_mutex_lock(&mm->lock);
  while (fgets(line, sizeof line, in)) {
    uintptr_t hs, he;
    unsigned long long off;
    unsigned long inode;
    char perms[8], dev[16];
    int pathpos = 0;
    if (sscanf(line, "%lx-%lx %7s %llx %15s %lu %n", &hs, &he, perms, &off, dev, &inode,
               &pathpos) < 6 || he <= lo || hs >= hi)
      continue;
    char *path = line + pathpos;
    path[strcspn(path, "\n")] = 0;
    uint64_t gs = (hs < lo ? lo : hs) - lo, ge = (he > hi ? hi : he) - lo;
    for (size_t i = vma_find(mm, gs); i < mm->nvmas && mm->vmas[i].start < ge; i++) {
      const vmx_linux_vma_t *v = &mm->vmas[i];
      uint64_t s = v->start > gs ? v->start : gs, e = v->end < ge ? v->end : ge;
      write_map_line(out, v, s, e, off + (s - (hs - lo)), dev, inode, path);
    }
  }
  pthread_mutex_unlock(&mm->lock);
  fclose(in);
}

/* ---- the MM system calls ---------------------------------------------- */

int64_t vmx_sys_mmap(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx_linux_mm_map(vmx__mm(t), a[0], a[1], (int)a[2], (int)a[3], (int)a[4], a[5]);
}

int64_t vmx_sys_munmap(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx_linux_mm_unmap(vmx__mm(t), a[0], a[1]);
}

int64_t vmx_sys_mprotect(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx_linux_mm_protect(vmx__mm(t), a[0], a[1], (int)a[2]);
}

int64_t vmx_sys_mremap(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return vmx_linux_mm_remap(vmx__mm(t), a[0], a[1], a[2], (int)a[3], a[4]);
}

int64_t vmx_sys_brk(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return (int64_t)vmx_linux_mm_brk(vmx__mm(t), a[0]);
}

/* Checks a page-aligned guest range for msync/mincore/mlock: -EINVAL when
 * misaligned or outside the space, -ENOMEM when not all mapped. */
static int64_t sys_range(vmx_linux_mm_t *mm, uint64_t addr, uint64_t len, bool mapped) {
  if ((addr & PAGE_MASK) || addr >= mm->limit || len > mm->limit - addr)
    return -EINVAL;
  if (mapped && len && !vmx_linux_mm_check(mm, addr, len, 0))
    return -ENOMEM;
  return 0;
}

int64_t vmx_sys_msync(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_mm_t *mm = vmx__mm(t);
  int64_t r = sys_range(mm, a[0], a[1], true);
  return r ? r : vmx__host_ret(msync(mm->base + a[0], a[1], (int)a[2]));
}

int64_t vmx_sys_mincore(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_mm_t *mm = vmx__mm(t);
  int64_t r = sys_range(mm, a[0], a[1], true);
  if (r)
    return r;
  void *vec;
  if (vmx__guest_buf(t, a[2], page_up(a[1]) / VMX_LINUX_PAGE_SIZE, &vec))
    return -EFAULT;
  return vmx__host_ret(mincore(mm->base + a[0], a[1], vec));
}

int64_t vmx_sys_mlock(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_mm_t *mm = vmx__mm(t);
  uint64_t start = a[0] & ~PAGE_MASK;
  int64_t r = sys_range(mm, start, a[1] + (a[0] - start), true);
  return r ? r : vmx__host_ret(mlock(mm->base + a[0], a[1]));
}

int64_t vmx_sys_munlock(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_mm_t *mm = vmx__mm(t);
  uint64_t start = a[0] & ~PAGE_MASK;
  int64_t r = sys_range(mm, start, a[1] + (a[0] - start), true);
  return r ? r : vmx__host_ret(munlock(mm->base + a[0], a[1]));
}

/* mlockall would lock vmx's own memory and commit the reservation: it is
 * accepted and ignored, as the hint it is for most programs. */
int64_t vmx_sys_mlockall(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return (a[0] & ~7ull) ? -EINVAL : 0;
}

int64_t vmx_sys_munlockall(vmx_linux_thread_t *t, const uint64_t a[6]) {
  return 0;
}

/* Advice that changes contents (DONTNEED, FREE, REMOVE) or fork behaviour
 * is passed on; the rest, unknown values included, succeed without effect,
 * as in qemu-riscv64 7.2. */
int64_t vmx_sys_madvise(vmx_linux_thread_t *t, const uint64_t a[6]) {
  vmx_linux_mm_t *mm = vmx__mm(t);
  int64_t r = sys_range(mm, a[0], a[1], false);
  if (r)
    return r;
  int advice = (int)a[2];
  switch (advice) {
  case MADV_DONTNEED:
  case MADV_FREE:
  case MADV_REMOVE:
  case MADV_DONTFORK:
  case MADV_DOFORK:
  case MADV_WIPEONFORK:
  case MADV_KEEPONFORK:
    if (a[1] && !vmx_linux_mm_check(mm, a[0], a[1], 0))
      return -ENOMEM;
    return vmx__host_ret(madvise(mm->base + a[0], a[1], advice));
  default:
    return 0;
  }
}

/* riscv_flush_icache(start, end, flags): decoded code must be dropped. */
int64_t vmx_sys_riscv_flush_icache(vmx_linux_thread_t *t, const uint64_t a[6]) {
  if (a[2] & ~1ull)   /* SYS_RISCV_FLUSH_ICACHE_LOCAL is the only flag */
    return -EINVAL;
  vmx_linux_mm_code_changed(vmx__mm(t));
  return 0;
}
