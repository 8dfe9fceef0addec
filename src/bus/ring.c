/* The bus's lock-free ring: ck_ring's multi-producer, single-consumer mode over
 * fixed 128-byte slots.
 *
 * Producers reserve a slot with a CAS on the producer head, copy the encoded
 * message in, and commit in reservation order (ck_ring's p_tail), so the
 * consumer sees whole messages in FIFO order. Messages are encoded before the
 * reservation, so the window between reserve and commit is one memcpy of at
 * most 124 bytes.
 *
 * One departure from ck: the commit. ck_ring_enqueue_commit_mpsc spins until
 * the previous ticket has committed. When producers outnumber cores (vCPU and
 * device loops on a 2-core host), the previous producer may have been
 * preempted inside its window, and every later producer then burns its whole
 * time slice spinning; measured: four producers and a consumer on two cores
 * moved ~200 messages/s. commit() below does the same ordered store of p_tail
 * with the same fences, but yields after a short spin.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"

CK_RING_PROTOTYPE(vmx_ring_slot, vmx_ring_slot)

int vmx_ring_init(vmx_ring_t *r, unsigned capacity) {
  if (capacity == 0 || capacity > (1u << 24))
    return VMX_EINVAL;
  /* ck_ring holds size - 1 entries and needs a power-of-two size. */
  unsigned size = 2;
  while (size - 1 < capacity)
    size <<= 1;
  void *slots = NULL;
  if (posix_memalign(&slots, 64, (size_t)size * sizeof(vmx_ring_slot_t)) != 0)
    return VMX_ENOMEM;
  memset(&r->ring, 0, sizeof r->ring);
  ck_ring_init(&r->ring, size);
  r->slots = slots;
  return 0;
}

void vmx_ring_close(vmx_ring_t *r) {
  free(r->slots);
  r->slots = NULL;
}

/* ck's _ck_ring_enqueue_commit_mp, yielding while an earlier ticket is
 * still open. */
static void commit(ck_ring_t *ring, unsigned ticket) {
  for (unsigned spins = 0; ck_pr_load_uint(&ring->p_tail) != ticket; spins++) {
    if (spins < 128)
      ck_pr_stall();
    else
      sched_yield();
  }
  /* The slot's bytes before the new tail (consumers load p_tail, then
   * fence_load, then read the slot). */
  ck_pr_fence_store();
  ck_pr_store_uint(&ring->p_tail, ticket + 1);
}

bool vmx_ring_push(vmx_ring_t *r, const void *bytes, size_t len) {
  unsigned ticket;
  vmx_ring_slot_t *slot = ck_ring_enqueue_reserve_mpsc_vmx_ring_slot(&r->ring, r->slots, &ticket);
  if (!slot)
    return false;
  slot->len = (uint16_t)len;
  slot->flags = 0;
  memcpy(slot->bytes, bytes, len);
  commit(&r->ring, ticket);
  return true;
}

bool vmx_ring_pop(vmx_ring_t *r, vmx_ring_slot_t *out) {
  return ck_ring_dequeue_mpsc_vmx_ring_slot(&r->ring, r->slots, out);
}

unsigned vmx_ring_depth(const vmx_ring_t *r) { return ck_ring_size(&r->ring); }

unsigned vmx_ring_capacity(const vmx_ring_t *r) { return ck_ring_capacity(&r->ring) - 1; }

uint32_t vmx_ring_produced(const vmx_ring_t *r) {
  /* ck_pr_load is a volatile (relaxed) load; callers order it with their own
   * fences (see vmx_bus_quiescent). p_head counts reservations: a message
   * reserved but not yet committed already counts as in flight. */
  return ck_pr_load_uint(&r->ring.p_head);
}
