/* virtio-rng; see virtio_rng.h. */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "base/error.h"

typedef struct rng {
  vmx_virtq_elem_t *elem; /* 16 KiB: one chain at a time */
} rng_t;

/* Fills n bytes at p from getrandom; returns how many were filled. */
static size_t fill_random(uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = getrandom(p + done, n - done, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    done += (size_t)r;
  }
  return done;
}

static void rng_notify(vmx_virtio_dev_t *d, unsigned q) {
  rng_t *r = d->backend;
  vmx_virtq_elem_t *e = r->elem;
  while (vmx_virtq_pop(d, q, e) == 1) {
    size_t budget = VMX_VIRTIO_RNG_CHAIN_MAX, written = 0;
    for (unsigned i = e->nout; i < e->nout + e->nin && budget > 0; i++) {
      size_t n = e->iov[i].len < budget ? e->iov[i].len : budget;
      size_t got = fill_random(e->iov[i].base, n);
      written += got;
      budget -= n;
      if (got < n)
        break;
    }
    vmx_virtio_push(d, q, e->head, (uint32_t)written, d->generation);
  }
}

static const vmx_virtio_ops_t rng_ops = {
    .name = "virtio-rng",
    .device_id = 4,
    .nqueues = 1,
    .queue_max = VMX_VIRTIO_RNG_QUEUE_MAX,
    .notify = rng_notify,
};

int vmx_virtio_rng_create(vmx_virtio_dev_t *d, const vmx_guest_ram_t *ram,
                          const vmx_virtio_io_t *io, char *err, size_t errlen) {
  rng_t *r = calloc(1, sizeof *r);
  if (r)
    r->elem = malloc(sizeof *r->elem);
  if (r == NULL || r->elem == NULL) {
    free(r);
    if (err && errlen)
      snprintf(err, errlen, "virtio-rng: out of memory");
    return VMX_ENOMEM;
  }
  vmx_virtio_init(d, &rng_ops, r, ram, io);
  return 0;
}

void vmx_virtio_rng_destroy(vmx_virtio_dev_t *d) {
  rng_t *r = d->backend;
  if (r) {
    free(r->elem);
    free(r);
  }
  d->backend = NULL;
}
