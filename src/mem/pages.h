/* Physical page descriptors of guest RAM, sharded by hart.
 *
 * What a page holds that the harts must know about is decoded code: a store
 * to a page from which some hart has decoded blocks must drop those blocks
 * before that hart runs them again. With that known for every page, fence.i
 * costs nothing more than a look at the hart's requests (Linux issues tens
 * of thousands of them in a boot, one for nearly every executable page it
 * maps), and a store to code is noticed even without one, as QEMU does.
 *
 * The descriptors are split into one shard per hart, and each shard is
 * written by its own hart only, so harts never contend on a cache line:
 *   - code[page]: the first of this hart's blocks decoded from the page
 *     (the interpreter chains the rest), or NULL. Other threads only test it
 *     for NULL.
 *   - two request bitmaps over the pages, which any thread may set and the
 *     owner takes: INVAL (a store or a device wrote the page: drop your
 *     blocks there) and PROTECT (someone decoded code there: make your
 *     store TLB entries for the page take the slow path). Setting a bit
 *     raises the hart's exit request, so it looks at them at its next block
 *     boundary; fence.i looks at them at once. A summary word per 64 bitmap
 *     words keeps the look cheap.
 *
 * The other thing a page holds is whether it was written while dirty
 * logging is on (vmx_pages_log_start): each hart sets bits in its shard's
 * own bitmap (its store TLB entries for pages it has not marked carry
 * VMX_RV_TLB_DIRTY, so the first store comes to the slow path), devices in
 * a bitmap of their own; the reader ORs them. Starting asks every hart to
 * drop its store TLB entries (a FLUSH request), so writes through entries
 * filled before are missed until the hart's next block boundary: right for
 * measuring a dirty rate (the monitor's calc_dirty_rate), not yet for
 * migration, which will need the harts to answer before it counts.
 *
 * Ordering. A hart links a block into its page's list before it reads the
 * block's bytes (with a full fence when the page was not yet code there);
 * a writer makes its write, fences and then looks at the slots
 * (vmx_pages_written): either it sees the slot and asks for the drop, or
 * the decoder reads the new bytes. An AMO or SC is announced after its
 * write. A store TLB entry keeps NOTIFY until it is refilled, even when
 * the page has no code left, since a hart may decode it again at once.
 *
 * What remains (QEMU 7.2's MTTCG keeps wider gaps: its fence.i does not
 * reach other harts at all): a hart whose store entry for a page was
 * filled before any hart had code there stores through it unannounced
 * until it takes the PROTECT that the first decode posted, at its next
 * block boundary. Taking it, the hart asks for the page's code to be
 * dropped if it had such an entry, so code decoded in that window goes
 * before the decoder's next fence.i, unless the storing hart reaches its
 * synchronising store (the one the decoder waits for before fence.i)
 * within the same block as the code write. */
#ifndef VMX_MEM_PAGES_H
#define VMX_MEM_PAGES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMX_PAGES_SHIFT 12
#define VMX_PAGES_MAX_SHARDS 64

enum { VMX_PAGES_INVAL, VMX_PAGES_PROTECT, VMX_PAGES_KINDS };
/* What vmx_pages_take's callback gets for a FLUSH request (pn is 0). */
#define VMX_PAGES_FLUSH VMX_PAGES_KINDS

typedef struct vmx_page_shard {
  _Atomic(void *) *code;               /* npages entries */
  _Atomic uint64_t *req[VMX_PAGES_KINDS];  /* npages bits each */
  _Atomic uint64_t *sum[VMX_PAGES_KINDS];  /* one bit per word of req */
  _Atomic uint64_t *dirty;             /* npages bits: written while logging */
  _Atomic bool flush;                  /* FLUSH asked: drop the store TLB entries */
  _Atomic bool pending;                /* some request bit may be set */
  _Atomic uint32_t *exit_request;      /* the hart's; NULL until attached */
  uint32_t req_bit;                    /* what to set in it */
} vmx_page_shard_t;

typedef struct vmx_pages {
  uint64_t base, npages;
  unsigned nshards;
  size_t words;                        /* uint64_t words of one request bitmap */
  _Atomic bool logging;                /* dirty logging on */
  _Atomic uint64_t *dirty_dev;         /* npages bits: written by devices while logging */
  vmx_page_shard_t shard[];
} vmx_pages_t;

/* Descriptors for RAM [base, base+size) (page-aligned) and nshards harts,
 * everything clear; NULL when out of memory or nshards is 0 or above
 * VMX_PAGES_MAX_SHARDS. */
vmx_pages_t *vmx_pages_new(uint64_t base, uint64_t size, unsigned nshards);
void vmx_pages_free(vmx_pages_t *p);

/* Requests to shard become req_bit in *exit_request. */
void vmx_pages_attach(vmx_pages_t *p, unsigned shard, _Atomic uint32_t *exit_request,
                      uint32_t req_bit);

/* Page number of pa, or UINT64_MAX when pa is not in RAM. */
static inline uint64_t vmx_pages_index(const vmx_pages_t *p, uint64_t pa) {
  uint64_t off = pa - p->base;
  return pa >= p->base && (off >> VMX_PAGES_SHIFT) < p->npages ? off >> VMX_PAGES_SHIFT
                                                                 : UINT64_MAX;
}

/* Guest-physical address of page pn. */
static inline uint64_t vmx_pages_addr(const vmx_pages_t *p, uint64_t pn) {
  return p->base + (pn << VMX_PAGES_SHIFT);
}

/* The owner's code slot of page pn. */
static inline _Atomic(void *) *vmx_pages_code(vmx_pages_t *p, unsigned shard, uint64_t pn) {
  return &p->shard[shard].code[pn];
}

/* Whether any hart has code decoded from page pn. */
static inline bool vmx_pages_has_code(const vmx_pages_t *p, uint64_t pn) {
  for (unsigned s = 0; s < p->nshards; s++)
    if (atomic_load_explicit(&p->shard[s].code[pn], memory_order_relaxed))
      return true;
  return false;
}

/* [pa, pa+len) was written (by shard self, or by a device when self is
 * negative): every other hart with code there gets an INVAL request (and
 * a device's write is logged as dirty). Returns whether self itself has
 * code in the range (it must drop it). */
bool vmx_pages_written(vmx_pages_t *p, int self, uint64_t pa, uint64_t len);

/* Shard self has decoded its first code from page pn: every other hart
 * gets a PROTECT request for it. */
void vmx_pages_code_added(vmx_pages_t *p, unsigned self, uint64_t pn);

/* Takes shard's pending requests, calling fn for each (owner thread).
 * Costs one load when there are none. */
void vmx_pages_take(vmx_pages_t *p, unsigned shard,
                    void (*fn)(void *arg, unsigned kind, uint64_t pn), void *arg);

/* Clears every code slot of shard (its blocks are all gone). */
void vmx_pages_clear_code(vmx_pages_t *p, unsigned shard);

static inline bool vmx_pages_logging(const vmx_pages_t *p) {
  return atomic_load_explicit(&p->logging, memory_order_relaxed);
}

/* Page pn was written by shard (a device when negative) while logging;
 * whether shard has marked it already. */
void vmx_pages_mark_dirty(vmx_pages_t *p, int shard, uint64_t pn);
static inline bool vmx_pages_dirty_in(const vmx_pages_t *p, unsigned shard, uint64_t pn) {
  return atomic_load_explicit(&p->shard[shard].dirty[pn / 64], memory_order_relaxed) &
         ((uint64_t)1 << (pn % 64));
}

/* Starts dirty logging with every bitmap clear and asks every hart to drop
 * its store TLB entries. Any thread. */
void vmx_pages_log_start(vmx_pages_t *p);

/* Ends it; returns the number of pages written since the start (by any
 * hart or device). */
uint64_t vmx_pages_log_stop(vmx_pages_t *p);

#endif
