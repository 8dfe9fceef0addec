/* Physical page descriptors of guest RAM, sharded by hart (see pages.h). */
#include "mem/pages.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Anonymous zeroed memory the host commits as it is touched: a shard's
 * arrays cover all of RAM, but a guest runs code from a small part of it. */
static void *zalloc(size_t bytes) {
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return m == MAP_FAILED ? NULL : m;
}

static size_t code_bytes(const vmx_pages_t *p) { return p->npages * sizeof(void *); }
static size_t sum_words(const vmx_pages_t *p) { return (p->words + 63) / 64; }

void vmx_pages_free(vmx_pages_t *p) {
  if (!p)
    return;
  for (unsigned s = 0; s < p->nshards; s++) {
    vmx_page_shard_t *sh = &p->shard[s];
    if (sh->code)
      munmap(sh->code, code_bytes(p));
    free(sh->dirty);
    for (unsigned k = 0; k < VMX_PAGES_KINDS; k++) {
      free(sh->req[k]);
      free(sh->sum[k]);
    }
  }
  free(p->dirty_dev);
  free(p);
}

vmx_pages_t *vmx_pages_new(uint64_t base, uint64_t size, unsigned nshards) {
  if (nshards == 0 || nshards > VMX_PAGES_MAX_SHARDS || size == 0)
    return NULL;
  vmx_pages_t *p = calloc(1, sizeof *p + nshards * sizeof p->shard[0]);
  if (!p)
    return NULL;
  p->base = base;
  p->npages = size >> VMX_PAGES_SHIFT;
  p->nshards = nshards;
  p->words = (p->npages + 63) / 64;
  p->dirty_dev = calloc(p->words, sizeof(uint64_t));
  if (!p->dirty_dev) {
    free(p);
    return NULL;
  }
  for (unsigned s = 0; s < nshards; s++) {
    vmx_page_shard_t *sh = &p->shard[s];
    sh->code = zalloc(code_bytes(p));
    sh->dirty = calloc(p->words, sizeof(uint64_t));
    if (!sh->code || !sh->dirty)
      goto fail;
    for (unsigned k = 0; k < VMX_PAGES_KINDS; k++) {
      sh->req[k] = calloc(p->words, sizeof(uint64_t));
      sh->sum[k] = calloc(sum_words(p), sizeof(uint64_t));
      if (!sh->req[k] || !sh->sum[k])
        goto fail;
    }
  }
  return p;
fail:
  vmx_pages_free(p);
  return NULL;
}

void vmx_pages_attach(vmx_pages_t *p, unsigned shard, _Atomic uint32_t *exit_request,
                      uint32_t req_bit) {
  p->shard[shard].req_bit = req_bit;
  p->shard[shard].exit_request = exit_request;
}

/* Tells shard's hart it has requests: the pending flag, then its exit
 * request, each a release after whatever the request is. */
static void wake_owner(vmx_page_shard_t *sh) {
  atomic_store_explicit(&sh->pending, true, memory_order_release);
  if (sh->exit_request)
    atomic_fetch_or_explicit(sh->exit_request, sh->req_bit, memory_order_release);
}

/* Sets pn's bit of kind in shard: the bitmap word first, then its summary
 * bit, then wake_owner(), each a release, so a taker that sees the flag
 * sees the bits, and a taker that cleared the flag or a summary bit too
 * early finds it set again. */
static void post(vmx_pages_t *p, unsigned shard, unsigned kind, uint64_t pn) {
  vmx_page_shard_t *sh = &p->shard[shard];
  uint64_t w = pn / 64;
  uint64_t bit = (uint64_t)1 << (pn % 64);
  /* Every step even when the bit is set already: its poster may not have
   * reached the summary and the flag yet, and a fence.i must find them. */
  atomic_fetch_or_explicit(&sh->req[kind][w], bit, memory_order_release);
  atomic_fetch_or_explicit(&sh->sum[kind][w / 64], (uint64_t)1 << (w % 64), memory_order_release);
  wake_owner(sh);
}

bool vmx_pages_written(vmx_pages_t *p, int self, uint64_t pa, uint64_t len) {
  if (len == 0)
    return false;
  uint64_t first = vmx_pages_index(p, pa), last = vmx_pages_index(p, pa + len - 1);
  if (first == UINT64_MAX || last == UINT64_MAX || last < first)
    return false;
  /* The write must be visible before the code slots are looked at (a
   * store may otherwise pass the loads below): a hart that takes the
   * request re-decodes from the new bytes. */
  atomic_thread_fence(memory_order_seq_cst);
  bool mine = false;
  if (self < 0 && vmx_pages_logging(p))
    for (uint64_t pn = first; pn <= last; pn++)
      vmx_pages_mark_dirty(p, -1, pn);
  for (uint64_t pn = first; pn <= last; pn++)
    for (unsigned s = 0; s < p->nshards; s++) {
      if (!atomic_load_explicit(&p->shard[s].code[pn], memory_order_relaxed))
        continue;
      if ((int)s == self)
        mine = true;
      else
        post(p, s, VMX_PAGES_INVAL, pn);
    }
  return mine;
}

void vmx_pages_code_added(vmx_pages_t *p, unsigned self, uint64_t pn) {
  for (unsigned s = 0; s < p->nshards; s++)
    if (s != self)
      post(p, s, VMX_PAGES_PROTECT, pn);
}

void vmx_pages_take(vmx_pages_t *p, unsigned shard,
                    void (*fn)(void *arg, unsigned kind, uint64_t pn), void *arg) {
  vmx_page_shard_t *sh = &p->shard[shard];
  if (!atomic_load_explicit(&sh->pending, memory_order_relaxed) ||
      !atomic_exchange_explicit(&sh->pending, false, memory_order_acquire))
    return;
  if (atomic_exchange_explicit(&sh->flush, false, memory_order_acquire))
    fn(arg, VMX_PAGES_FLUSH, 0);
  for (unsigned kind = 0; kind < VMX_PAGES_KINDS; kind++)
    for (size_t sw = 0; sw < sum_words(p); sw++) {
      if (!atomic_load_explicit(&sh->sum[kind][sw], memory_order_relaxed))
        continue;
      uint64_t words = atomic_exchange_explicit(&sh->sum[kind][sw], 0, memory_order_acquire);
      while (words) {
        size_t w = sw * 64 + (size_t)__builtin_ctzll(words);
        words &= words - 1;
        uint64_t bits = atomic_exchange_explicit(&sh->req[kind][w], 0, memory_order_acquire);
        while (bits) {
          uint64_t pn = w * 64 + (uint64_t)__builtin_ctzll(bits);
          bits &= bits - 1;
          fn(arg, kind, pn);
        }
      }
    }
}

void vmx_pages_clear_code(vmx_pages_t *p, unsigned shard) {
  /* Dropping the pages zeroes them (private anonymous memory) and gives
   * the memory back; other harts reading a slot meanwhile see NULL or the
   * old pointer, which they only test. */
  madvise(p->shard[shard].code, code_bytes(p), MADV_DONTNEED);
}

void vmx_pages_mark_dirty(vmx_pages_t *p, int shard, uint64_t pn) {
  _Atomic uint64_t *map = shard < 0 ? p->dirty_dev : p->shard[shard].dirty;
  uint64_t bit = (uint64_t)1 << (pn % 64);
  if (!(atomic_load_explicit(&map[pn / 64], memory_order_relaxed) & bit))
    atomic_fetch_or_explicit(&map[pn / 64], bit, memory_order_relaxed);
}

void vmx_pages_log_start(vmx_pages_t *p) {
  for (size_t w = 0; w < p->words; w++) {
    atomic_store_explicit(&p->dirty_dev[w], 0, memory_order_relaxed);
    for (unsigned s = 0; s < p->nshards; s++)
      atomic_store_explicit(&p->shard[s].dirty[w], 0, memory_order_relaxed);
  }
  atomic_store_explicit(&p->logging, true, memory_order_seq_cst);
  for (unsigned s = 0; s < p->nshards; s++) {
    atomic_store_explicit(&p->shard[s].flush, true, memory_order_release);
    wake_owner(&p->shard[s]);
  }
}

uint64_t vmx_pages_log_stop(vmx_pages_t *p) {
  atomic_store_explicit(&p->logging, false, memory_order_seq_cst);
  uint64_t n = 0;
  for (size_t w = 0; w < p->words; w++) {
    uint64_t bits = atomic_load_explicit(&p->dirty_dev[w], memory_order_relaxed);
    for (unsigned s = 0; s < p->nshards; s++)
      bits |= atomic_load_explicit(&p->shard[s].dirty[w], memory_order_relaxed);
    n += (uint64_t)__builtin_popcountll(bits);
  }
  return n;
}
