/* The virtio-mmio (version 2) transport and the split virtqueue; see
 * virtio.h. References are to the virtio 1.2 specification.
 *
 * Guest memory: every ring, table and buffer is reached through
 * vmx_guest_ram_ptr with its full length, so a hostile guest can make a pop
 * fail but never make it read or write outside RAM. The host is
 * little-endian (x86_64, riscv64, aarch64), as virtio's rings are, so the
 * ring fields are read in place (memcpy for unaligned-safe access). */
#include "devices/virtio.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio rings are read in place: a little-endian host is assumed"
#endif

/* A split-ring descriptor (2.7.5). */
typedef struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
} virtq_desc_t;
_Static_assert(sizeof(virtq_desc_t) == 16, "virtq_desc is 16 bytes");

#define TRANSPORT_FEATURES                                                              \
  ((1ull << VMX_VIRTIO_F_INDIRECT_DESC) | (1ull << VMX_VIRTIO_F_EVENT_IDX) |             \
   (1ull << VMX_VIRTIO_F_VERSION_1))

void *vmx_guest_ram_ptr(const vmx_guest_ram_t *ram, uint64_t gpa, uint64_t len) {
  if (ram == NULL || ram->host == NULL || gpa < ram->base)
    return NULL;
  uint64_t off = gpa - ram->base;
  if (off > ram->size || len > ram->size - off)
    return NULL;
  return ram->host + off;
}

/* Ring sizes in bytes for a queue of num entries (2.7), with the event-idx
 * word included (the driver allocates it whether or not it is used). */
static uint64_t avail_bytes(uint16_t num) { return 6 + 2 * (uint64_t)num; }
static uint64_t used_bytes(uint16_t num) { return 6 + 8 * (uint64_t)num; }

static void update_irq(vmx_virtio_dev_t *d) {
  bool level = d->interrupt_status != 0;
  if (level == d->irq_level)
    return;
  d->irq_level = level;
  if (d->io.irq)
    d->io.irq(d->io.arg, level);
}

static void raise_interrupt(vmx_virtio_dev_t *d, uint32_t bits) {
  d->interrupt_status |= bits;
  update_irq(d);
}

static void report(vmx_virtio_dev_t *d, const char *fmt, ...) {
  if (d->io.report == NULL)
    return;
  char msg[200];
  int n = snprintf(msg, sizeof msg, "%s: ", d->ops->name ? d->ops->name : "virtio");
  if (n < 0 || (size_t)n >= sizeof msg)
    n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  va_end(ap);
  d->io.report(d->io.arg, msg);
}

/* Sets NEEDS_RESET and, once the driver is running, tells it with a
 * configuration-change interrupt (3.1.1 / 2.1.2). */
static void needs_reset(vmx_virtio_dev_t *d) {
  bool first = (d->status & VMX_VIRTIO_S_NEEDS_RESET) == 0;
  d->status |= VMX_VIRTIO_S_NEEDS_RESET;
  if (first && (d->status & VMX_VIRTIO_S_DRIVER_OK))
    raise_interrupt(d, VMX_VIRTIO_INT_CONFIG);
}

void vmx_virtio_fail(vmx_virtio_dev_t *d, const char *why) {
  report(d, "%s; device needs reset", why ? why : "device error");
  needs_reset(d);
}

/* A malformed ring on queue q: counted, reported, the queue stops. Returns
 * -1 for vmx_virtq_pop to pass on. */
static int malformed(vmx_virtio_dev_t *d, unsigned q, const char *fmt, ...) {
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  d->malformed++;
  if (q < VMX_VIRTIO_MAX_QUEUES)
    d->q[q].broken = true;
  report(d, "queue %u: malformed ring: %s; device needs reset", q, why);
  needs_reset(d);
  return -1;
}

static void queue_reset(vmx_virtq_t *vq) { memset(vq, 0, sizeof *vq); }

static void device_reset(vmx_virtio_dev_t *d) {
  d->generation++;
  d->status = 0;
  d->driver_features = 0;
  d->device_features_sel = d->driver_features_sel = d->queue_sel = 0;
  for (unsigned i = 0; i < VMX_VIRTIO_MAX_QUEUES; i++)
    queue_reset(&d->q[i]);
  d->interrupt_status = 0;
  update_irq(d);
  if (d->ops->reset)
    d->ops->reset(d);
}

void vmx_virtio_init(vmx_virtio_dev_t *d, const vmx_virtio_ops_t *ops, void *backend,
                     const vmx_guest_ram_t *ram, const vmx_virtio_io_t *io) {
  memset(d, 0, sizeof *d);
  d->ops = ops;
  d->backend = backend;
  if (ram)
    d->ram = *ram;
  if (io)
    d->io = *io;
}

uint64_t vmx_virtio_device_features(const vmx_virtio_dev_t *d) {
  return d->ops->features | TRANSPORT_FEATURES;
}

bool vmx_virtio_has_feature(const vmx_virtio_dev_t *d, unsigned bit) {
  return bit < 64 && (d->driver_features >> bit) & 1;
}

bool vmx_virtq_usable(const vmx_virtio_dev_t *d, unsigned q) {
  return q < d->ops->nqueues && q < VMX_VIRTIO_MAX_QUEUES && d->q[q].ready &&
         (d->status & VMX_VIRTIO_S_DRIVER_OK) && !(d->status & VMX_VIRTIO_S_NEEDS_RESET);
}

/* The queue QueueSel names, or NULL when it names none. */
static vmx_virtq_t *selected(vmx_virtio_dev_t *d) {
  if (d->queue_sel >= d->ops->nqueues || d->queue_sel >= VMX_VIRTIO_MAX_QUEUES)
    return NULL;
  return &d->q[d->queue_sel];
}

/* QueueReady=1: the size must be a power of 2 no larger than QueueNumMax and
 * the three rings aligned (2.7) and inside RAM; otherwise the device needs
 * reset and the queue stays not ready. */
static void queue_enable(vmx_virtio_dev_t *d, vmx_virtq_t *vq) {
  unsigned q = (unsigned)(vq - d->q);
  uint16_t num = vq->num;
  if (num == 0 || num > d->ops->queue_max || (num & (num - 1)) != 0) {
    malformed(d, q, "queue size %u (max %u, must be a power of 2)", num, d->ops->queue_max);
    return;
  }
  if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3)) {
    malformed(d, q, "misaligned ring (desc 0x%llx avail 0x%llx used 0x%llx)",
              (unsigned long long)vq->desc, (unsigned long long)vq->avail,
              (unsigned long long)vq->used);
    return;
  }
  if (!vmx_guest_ram_ptr(&d->ram, vq->desc, 16 * (uint64_t)num) ||
      !vmx_guest_ram_ptr(&d->ram, vq->avail, avail_bytes(num)) ||
      !vmx_guest_ram_ptr(&d->ram, vq->used, used_bytes(num))) {
    malformed(d, q, "ring outside RAM (desc 0x%llx avail 0x%llx used 0x%llx)",
              (unsigned long long)vq->desc, (unsigned long long)vq->avail,
              (unsigned long long)vq->used);
    return;
  }
  vq->ready = true;
  vq->broken = false;
  vq->last_avail = vq->used_idx = 0;
  vq->signalled_valid = false;
}

/* Status write (2.1, 3.1.1): 0 resets; FEATURES_OK is kept only when the
 * accepted features are a subset of the offered ones and include VERSION_1;
 * NEEDS_RESET stays until reset. */
static void status_write(vmx_virtio_dev_t *d, uint32_t val) {
  if (val == 0) {
    device_reset(d);
    return;
  }
  uint32_t old = d->status;
  val &= 0xff & ~VMX_VIRTIO_S_NEEDS_RESET;
  if ((val & VMX_VIRTIO_S_FEATURES_OK) && !(old & VMX_VIRTIO_S_FEATURES_OK)) {
    uint64_t offered = vmx_virtio_device_features(d);
    bool subset = (d->driver_features & ~offered) == 0;
    bool modern = vmx_virtio_has_feature(d, VMX_VIRTIO_F_VERSION_1);
    if (!subset || !modern) {
      report(d, "FEATURES_OK refused: driver features 0x%llx, offered 0x%llx",
             (unsigned long long)d->driver_features, (unsigned long long)offered);
      val &= ~VMX_VIRTIO_S_FEATURES_OK;
    }
  }
  d->status = val | (old & VMX_VIRTIO_S_NEEDS_RESET);
  if ((val & VMX_VIRTIO_S_DRIVER_OK) && !(old & VMX_VIRTIO_S_DRIVER_OK) && d->ops->driver_ok)
    d->ops->driver_ok(d);
}

static uint64_t config_read(vmx_virtio_dev_t *d, uint64_t off, unsigned size) {
  uint64_t c = off - VMX_VIRTIO_MMIO_CONFIG;
  if ((size != 1 && size != 2 && size != 4 && size != 8) || c >= d->ops->config_size ||
      size > d->ops->config_size - c || d->ops->config_read == NULL)
    return 0;
  return d->ops->config_read(d, (uint32_t)c, size);
}

static void config_write(vmx_virtio_dev_t *d, uint64_t off, unsigned size, uint64_t val) {
  uint64_t c = off - VMX_VIRTIO_MMIO_CONFIG;
  if ((size != 1 && size != 2 && size != 4 && size != 8) || c >= d->ops->config_size ||
      size > d->ops->config_size - c || d->ops->config_write == NULL)
    return;
  d->ops->config_write(d, (uint32_t)c, size, val);
}

uint64_t vmx_virtio_mmio_read(vmx_virtio_dev_t *d, uint64_t off, unsigned size) {
  if (off >= VMX_VIRTIO_MMIO_CONFIG)
    return off < VMX_VIRTIO_MMIO_SIZE ? config_read(d, off, size) : 0;
  if (size != 4 || (off & 3))
    return 0;
  vmx_virtq_t *vq = selected(d);
  uint64_t features = vmx_virtio_device_features(d);
  switch (off) {
  case VMX_VIRTIO_MMIO_MAGIC: return VMX_VIRTIO_MAGIC;
  case VMX_VIRTIO_MMIO_VERSION: return 2;
  case VMX_VIRTIO_MMIO_DEVICE_ID: return d->ops->device_id;
  case VMX_VIRTIO_MMIO_VENDOR_ID: return VMX_VIRTIO_VENDOR;
  case VMX_VIRTIO_MMIO_DEVICE_FEATURES:
    return d->device_features_sel == 0   ? (uint32_t)features
           : d->device_features_sel == 1 ? (uint32_t)(features >> 32)
                                         : 0;
  case VMX_VIRTIO_MMIO_QUEUE_NUM_MAX: return vq ? d->ops->queue_max : 0;
  case VMX_VIRTIO_MMIO_QUEUE_NUM: return vq ? vq->num : 0;
  case VMX_VIRTIO_MMIO_QUEUE_READY: return vq ? vq->ready : 0;
  case VMX_VIRTIO_MMIO_INTERRUPT_STATUS: return d->interrupt_status;
  case VMX_VIRTIO_MMIO_STATUS: return d->status;
  case VMX_VIRTIO_MMIO_QUEUE_DESC_LOW: return vq ? (uint32_t)vq->desc : 0;
  case VMX_VIRTIO_MMIO_QUEUE_DESC_HIGH: return vq ? (uint32_t)(vq->desc >> 32) : 0;
  case VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW: return vq ? (uint32_t)vq->avail : 0;
  case VMX_VIRTIO_MMIO_QUEUE_DRIVER_HIGH: return vq ? (uint32_t)(vq->avail >> 32) : 0;
  case VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW: return vq ? (uint32_t)vq->used : 0;
  case VMX_VIRTIO_MMIO_QUEUE_DEVICE_HIGH: return vq ? (uint32_t)(vq->used >> 32) : 0;
  case VMX_VIRTIO_MMIO_SHM_LEN_LOW:
  case VMX_VIRTIO_MMIO_SHM_LEN_HIGH:
  case VMX_VIRTIO_MMIO_SHM_BASE_LOW:
  case VMX_VIRTIO_MMIO_SHM_BASE_HIGH: return 0xffffffffu;
  case VMX_VIRTIO_MMIO_CONFIG_GENERATION: return d->config_generation;
  default: return 0;
  }
}

/* Sets the low or high half of a ring address while the queue is not ready. */
static void set_half(uint64_t *addr, bool high, uint32_t val) {
  if (high)
    *addr = (*addr & 0xffffffffull) | ((uint64_t)val << 32);
  else
    *addr = (*addr & ~0xffffffffull) | val;
}

void vmx_virtio_mmio_write(vmx_virtio_dev_t *d, uint64_t off, unsigned size, uint64_t val) {
  if (off >= VMX_VIRTIO_MMIO_CONFIG) {
    if (off < VMX_VIRTIO_MMIO_SIZE)
      config_write(d, off, size, val);
    return;
  }
  if (size != 4 || (off & 3))
    return;
  uint32_t v = (uint32_t)val;
  vmx_virtq_t *vq = selected(d);
  bool setup = vq && !vq->ready; /* queue registers are writable only then */
  switch (off) {
  case VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL: d->device_features_sel = v; break;
  case VMX_VIRTIO_MMIO_DRIVER_FEATURES:
    if (d->status & VMX_VIRTIO_S_FEATURES_OK)
      break; /* features are fixed once accepted */
    if (d->driver_features_sel == 0)
      d->driver_features = (d->driver_features & ~0xffffffffull) | v;
    else if (d->driver_features_sel == 1)
      d->driver_features = (d->driver_features & 0xffffffffull) | ((uint64_t)v << 32);
    break;
  case VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL: d->driver_features_sel = v; break;
  case VMX_VIRTIO_MMIO_QUEUE_SEL: d->queue_sel = v; break;
  case VMX_VIRTIO_MMIO_QUEUE_NUM:
    if (setup)
      vq->num = v > 0xffff ? 0 : (uint16_t)v; /* an impossible size fails at QueueReady */
    break;
  case VMX_VIRTIO_MMIO_QUEUE_READY:
    if (vq && (v & 1) && !vq->ready)
      queue_enable(d, vq);
    else if (vq && !(v & 1))
      vq->ready = false;
    break;
  case VMX_VIRTIO_MMIO_QUEUE_NOTIFY:
    if (vmx_virtq_usable(d, v & 0xffff) && d->ops->notify)
      d->ops->notify(d, v & 0xffff);
    break;
  case VMX_VIRTIO_MMIO_INTERRUPT_ACK:
    d->interrupt_status &= ~v;
    update_irq(d);
    break;
  case VMX_VIRTIO_MMIO_STATUS: status_write(d, v); break;
  case VMX_VIRTIO_MMIO_QUEUE_DESC_LOW:
  case VMX_VIRTIO_MMIO_QUEUE_DESC_HIGH:
    if (setup)
      set_half(&vq->desc, off == VMX_VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
    break;
  case VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW:
  case VMX_VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
    if (setup)
      set_half(&vq->avail, off == VMX_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
    break;
  case VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW:
  case VMX_VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
    if (setup)
      set_half(&vq->used, off == VMX_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
    break;
  default: break;
  }
}

/* The rings of a usable queue, re-checked against RAM on every use. */
typedef struct rings {
  uint8_t *desc, *avail, *used;
} rings_t;

static bool rings_get(vmx_virtio_dev_t *d, const vmx_virtq_t *vq, rings_t *r) {
  r->desc = vmx_guest_ram_ptr(&d->ram, vq->desc, 16 * (uint64_t)vq->num);
  r->avail = vmx_guest_ram_ptr(&d->ram, vq->avail, avail_bytes(vq->num));
  r->used = vmx_guest_ram_ptr(&d->ram, vq->used, used_bytes(vq->num));
  return r->desc && r->avail && r->used;
}

/* avail->idx with acquire order: the ring entries and descriptors the
 * driver wrote before publishing idx are visible after this load (2.7.13). */
static uint16_t avail_idx(const rings_t *r) {
  return __atomic_load_n((uint16_t *)(r->avail + 2), __ATOMIC_ACQUIRE);
}

static uint16_t load16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

/* Appends one buffer segment of a chain, checking order and count. */
static int add_seg(vmx_virtio_dev_t *d, unsigned q, vmx_virtq_elem_t *e, const virtq_desc_t *dd) {
  uint8_t *p = vmx_guest_ram_ptr(&d->ram, dd->addr, dd->len);
  if (p == NULL)
    return malformed(d, q, "head %u: buffer 0x%llx+%u outside RAM", e->head,
                     (unsigned long long)dd->addr, dd->len);
  bool writable = dd->flags & VMX_VIRTQ_DESC_F_WRITE;
  if (!writable && e->nin > 0)
    return malformed(d, q, "head %u: readable segment after a writable one", e->head);
  if (e->nout + e->nin >= VMX_VIRTQ_MAX_SEGS)
    return malformed(d, q, "head %u: more than %u segments", e->head, VMX_VIRTQ_MAX_SEGS);
  e->iov[e->nout + e->nin] = (vmx_virtq_iov_t){p, dd->len};
  if (writable && d->ram.written)
    d->ram.written(d->ram.written_arg, dd->addr, dd->len);
  if (writable)
    e->nin++;
  else
    e->nout++;
  return 0;
}

/* Walks the chain starting at head in the descriptor table (num entries),
 * following at most one indirect table. Every step is bounded: a chain may
 * visit at most as many descriptors as its table holds (2.7.5.3.1, 2.7.5.3.2),
 * so a loop is found after at most num + 65536 steps. */
static int walk_chain(vmx_virtio_dev_t *d, unsigned q, uint8_t *table, uint32_t num,
                      vmx_virtq_elem_t *e) {
  uint32_t i = e->head, steps = 0;
  bool indirect = false;
  for (;;) {
    if (i >= num)
      return malformed(d, q, "head %u: descriptor index %u out of range (%u)", e->head, i, num);
    if (++steps > num)
      return malformed(d, q, "head %u: descriptor chain loops or exceeds %u", e->head, num);
    virtq_desc_t dd;
    memcpy(&dd, table + 16 * (size_t)i, 16);
    if (dd.flags & VMX_VIRTQ_DESC_F_INDIRECT) {
      if (indirect)
        return malformed(d, q, "head %u: nested indirect table", e->head);
      if (!vmx_virtio_has_feature(d, VMX_VIRTIO_F_INDIRECT_DESC))
        return malformed(d, q, "head %u: indirect descriptor not negotiated", e->head);
      if (dd.flags & VMX_VIRTQ_DESC_F_NEXT)
        return malformed(d, q, "head %u: indirect descriptor with NEXT", e->head);
      if (dd.len == 0 || dd.len % 16 != 0)
        return malformed(d, q, "head %u: indirect table length %u", e->head, dd.len);
      table = vmx_guest_ram_ptr(&d->ram, dd.addr, dd.len);
      if (table == NULL)
        return malformed(d, q, "head %u: indirect table 0x%llx+%u outside RAM", e->head,
                         (unsigned long long)dd.addr, dd.len);
      indirect = true;
      num = dd.len / 16;
      i = 0;
      steps = 0;
      continue;
    }
    if (add_seg(d, q, e, &dd) < 0)
      return -1;
    if (!(dd.flags & VMX_VIRTQ_DESC_F_NEXT))
      return 0;
    i = dd.next;
  }
}

int vmx_virtq_pop(vmx_virtio_dev_t *d, unsigned q, vmx_virtq_elem_t *e) {
  if (q >= d->ops->nqueues || q >= VMX_VIRTIO_MAX_QUEUES)
    return 0;
  vmx_virtq_t *vq = &d->q[q];
  if (vq->broken || (d->status & VMX_VIRTIO_S_NEEDS_RESET))
    return -1;
  if (!vmx_virtq_usable(d, q))
    return 0;
  rings_t r;
  if (!rings_get(d, vq, &r))
    return malformed(d, q, "ring outside RAM");
  bool event_idx = vmx_virtio_has_feature(d, VMX_VIRTIO_F_EVENT_IDX);
  uint16_t idx = avail_idx(&r);
  if (idx == vq->last_avail && event_idx) {
    /* Ask for a notification at the next buffer (avail_event, 2.7.10),
     * then look again so a buffer added meanwhile is not missed. */
    __atomic_store_n((uint16_t *)(r.used + 4 + 8 * (size_t)vq->num), vq->last_avail,
                     __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    idx = avail_idx(&r);
  }
  uint16_t pending = (uint16_t)(idx - vq->last_avail);
  if (pending == 0)
    return 0;
  if (pending > vq->num)
    return malformed(d, q, "avail idx %u is %u ahead of %u (queue size %u)", idx, pending,
                     vq->last_avail, vq->num);
  uint16_t head = load16(r.avail + 4 + 2 * (size_t)(vq->last_avail % vq->num));
  e->head = head;
  e->nout = e->nin = 0;
  if (walk_chain(d, q, r.desc, vq->num, e) < 0)
    return -1;
  vq->last_avail++;
  /* Relaxed: avail_event is a hint; a late store costs at most one extra
   * notification, and the empty-ring path above fences before re-reading. */
  if (event_idx)
    __atomic_store_n((uint16_t *)(r.used + 4 + 8 * (size_t)vq->num), vq->last_avail,
                     __ATOMIC_RELAXED);
  return 1;
}

/* vring_need_event (2.7.10): true when event_idx lies in (old, new]. */
static bool need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old) {
  return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/* Whether the driver wants an interrupt for the used entries published up
 * to vq->used_idx (2.7.7, 2.7.10). */
static bool should_interrupt(vmx_virtio_dev_t *d, vmx_virtq_t *vq, const rings_t *r) {
  /* The used idx store must be visible before the driver's flag/event word
   * is read, or both sides may decide the other one will act. */
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (!vmx_virtio_has_feature(d, VMX_VIRTIO_F_EVENT_IDX))
    return !(load16(r->avail) & VMX_VIRTQ_AVAIL_F_NO_INTERRUPT);
  uint16_t used_event = load16(r->avail + 4 + 2 * (size_t)vq->num);
  bool valid = vq->signalled_valid;
  uint16_t old = vq->signalled_used;
  vq->signalled_valid = true;
  vq->signalled_used = vq->used_idx;
  return !valid || need_event(used_event, vq->used_idx, old);
}

void vmx_virtio_push(vmx_virtio_dev_t *d, unsigned q, uint16_t head, uint32_t written,
                     uint32_t generation) {
  if (generation != d->generation || !vmx_virtq_usable(d, q) || d->q[q].broken)
    return;
  vmx_virtq_t *vq = &d->q[q];
  rings_t r;
  if (head >= vq->num || !rings_get(d, vq, &r))
    return;
  uint8_t *elem = r.used + 4 + 8 * (size_t)(vq->used_idx % vq->num);
  uint32_t id = head;
  memcpy(elem, &id, 4);
  memcpy(elem + 4, &written, 4);
  vq->used_idx++;
  /* Release: the element and the buffer contents are visible before the
   * driver sees the new used idx (2.7.8). */
  __atomic_store_n((uint16_t *)(r.used + 2), vq->used_idx, __ATOMIC_RELEASE);
  if (should_interrupt(d, vq, &r))
    raise_interrupt(d, VMX_VIRTIO_INT_USED);
}

void vmx_virtio_config_changed(vmx_virtio_dev_t *d) {
  d->config_generation++;
  raise_interrupt(d, VMX_VIRTIO_INT_CONFIG);
}

size_t vmx_virtq_read(const vmx_virtq_elem_t *e, size_t off, void *dst, size_t n) {
  size_t done = 0;
  for (unsigned i = 0; i < e->nout && done < n; i++) {
    size_t len = e->iov[i].len;
    if (off >= len) {
      off -= len;
      continue;
    }
    size_t k = len - off < n - done ? len - off : n - done;
    memmove((uint8_t *)dst + done, e->iov[i].base + off, k); /* guest buffers may overlap */
    done += k;
    off = 0;
  }
  return done;
}

size_t vmx_virtq_write(const vmx_virtq_elem_t *e, size_t off, const void *src, size_t n) {
  size_t done = 0;
  for (unsigned i = e->nout; i < e->nout + e->nin && done < n; i++) {
    size_t len = e->iov[i].len;
    if (off >= len) {
      off -= len;
      continue;
    }
    size_t k = len - off < n - done ? len - off : n - done;
    memmove(e->iov[i].base + off, (const uint8_t *)src + done, k);
    done += k;
    off = 0;
  }
  return done;
}

size_t vmx_virtq_out_len(const vmx_virtq_elem_t *e) {
  size_t n = 0;
  for (unsigned i = 0; i < e->nout; i++)
    n += e->iov[i].len;
  return n;
}

size_t vmx_virtq_in_len(const vmx_virtq_elem_t *e) {
  size_t n = 0;
  for (unsigned i = e->nout; i < e->nout + e->nin; i++)
    n += e->iov[i].len;
  return n;
}
