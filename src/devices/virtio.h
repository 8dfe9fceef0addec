/* The virtio-mmio transport (version 2, "modern", virtio 1.2 section 4.2.2)
 * and the split virtqueue (virtio 1.2 section 2.7), shared by every virtio
 * device type (blk, net, console, rng, gpu).
 *
 * Register layout of one slot (offsets in bytes, 32-bit registers):
 *   0x000 MagicValue "virt"      0x004 Version 2      0x008 DeviceID
 *   0x00c VendorID "QEMU"        0x010 DeviceFeatures 0x014 DeviceFeaturesSel
 *   0x020 DriverFeatures         0x024 DriverFeaturesSel
 *   0x030 QueueSel  0x034 QueueNumMax  0x038 QueueNum  0x044 QueueReady
 *   0x050 QueueNotify  0x060 InterruptStatus  0x064 InterruptACK
 *   0x070 Status  0x080/0x084 QueueDesc  0x090/0x094 QueueDriver
 *   0x0a0/0x0a4 QueueDevice  0x0b0-0x0bc SHMLen/SHMBase (no shared memory
 *   regions: all read ~0, as QEMU, which Linux takes as "none")
 *   0x0fc ConfigGeneration  0x100.. device config
 *
 * Model choices:
 *   - FEATURES_OK is refused (the bit reads back clear) when the driver
 *     accepted a bit that was not offered or did not accept VERSION_1.
 *   - Writing 0 to Status resets the device: ops->reset runs, generation
 *     increments (so pushes of chains popped before are ignored), queues and
 *     InterruptStatus clear and the line drops.
 *   - The interrupt line is (InterruptStatus != 0): bit 0 used buffer,
 *     bit 1 configuration change.
 *   - A malformed ring never makes the transport touch memory outside RAM:
 *     the device is marked NEEDS_RESET, io.report is told why, `malformed`
 *     counts it, and a configuration-change interrupt is raised.
 *
 * Thread-safety: none; everything runs on the device loop's thread.
 */
#ifndef VMX_DEVICES_VIRTIO_H
#define VMX_DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Guest RAM as devices see it: one host mapping of [base, base+size). */
typedef struct vmx_guest_ram {
  uint8_t *host;  /* host address of guest-physical `base` */
  uint64_t base;  /* guest-physical address of RAM's first byte (0x80000000 on virt) */
  uint64_t size;
  /* Optional: told of every device-writable buffer as a chain is popped,
   * before the device writes it (the harts drop code decoded from it). */
  void (*written)(void *arg, uint64_t gpa, uint64_t len);
  void *written_arg;
} vmx_guest_ram_t;

/* Host pointer to [gpa, gpa+len) when the whole range is in RAM (len may be
 * 0), else NULL. Overflow-safe. Devices never touch guest memory any other way. */
void *vmx_guest_ram_ptr(const vmx_guest_ram_t *ram, uint64_t gpa, uint64_t len);

#define VMX_VIRTIO_MMIO_SIZE 0x200u     /* bytes of one virtio-mmio slot */
#define VMX_VIRTQ_MAX_SEGS 1024u        /* segments of one chain, at most */
#define VMX_VIRTIO_MAX_QUEUES 8u

/* Device status bits (virtio 1.2, 2.1). */
#define VMX_VIRTIO_S_ACKNOWLEDGE 1u
#define VMX_VIRTIO_S_DRIVER 2u
#define VMX_VIRTIO_S_DRIVER_OK 4u
#define VMX_VIRTIO_S_FEATURES_OK 8u
#define VMX_VIRTIO_S_NEEDS_RESET 64u
#define VMX_VIRTIO_S_FAILED 128u

/* Transport feature bits the transport offers on every device by itself. */
#define VMX_VIRTIO_F_INDIRECT_DESC 28
#define VMX_VIRTIO_F_EVENT_IDX 29
#define VMX_VIRTIO_F_VERSION_1 32

/* InterruptStatus bits. */
#define VMX_VIRTIO_INT_USED 1u
#define VMX_VIRTIO_INT_CONFIG 2u

/* virtio-mmio register offsets (virtio 1.2, 4.2.2). */
#define VMX_VIRTIO_MMIO_MAGIC 0x000
#define VMX_VIRTIO_MMIO_VERSION 0x004
#define VMX_VIRTIO_MMIO_DEVICE_ID 0x008
#define VMX_VIRTIO_MMIO_VENDOR_ID 0x00c
#define VMX_VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VMX_VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VMX_VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VMX_VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VMX_VIRTIO_MMIO_QUEUE_SEL 0x030
#define VMX_VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VMX_VIRTIO_MMIO_QUEUE_NUM 0x038
#define VMX_VIRTIO_MMIO_QUEUE_READY 0x044
#define VMX_VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VMX_VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VMX_VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VMX_VIRTIO_MMIO_STATUS 0x070
#define VMX_VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VMX_VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VMX_VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VMX_VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VMX_VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VMX_VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VMX_VIRTIO_MMIO_SHM_SEL 0x0ac       /* shared memory regions: none */
#define VMX_VIRTIO_MMIO_SHM_LEN_LOW 0x0b0   /* reads ~0: "no such region" */
#define VMX_VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VMX_VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VMX_VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VMX_VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VMX_VIRTIO_MMIO_CONFIG 0x100

#define VMX_VIRTIO_MAGIC 0x74726976u  /* "virt" */
#define VMX_VIRTIO_VENDOR 0x554d4551u /* "QEMU" */

/* Split-ring descriptor flags (virtio 1.2, 2.7.5) and ring flags. */
#define VMX_VIRTQ_DESC_F_NEXT 1u
#define VMX_VIRTQ_DESC_F_WRITE 2u
#define VMX_VIRTQ_DESC_F_INDIRECT 4u
#define VMX_VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VMX_VIRTQ_USED_F_NO_NOTIFY 1u

typedef struct vmx_virtq_iov {
  uint8_t *base;   /* host pointer inside guest RAM */
  uint32_t len;
} vmx_virtq_iov_t;

/* One descriptor chain taken from the available ring: the device-readable
 * ("out") segments first, then the device-writable ("in") ones. Indirect
 * tables are followed. */
typedef struct vmx_virtq_elem {
  uint16_t head;               /* index of the chain's first descriptor */
  unsigned nout, nin;
  vmx_virtq_iov_t iov[VMX_VIRTQ_MAX_SEGS];  /* iov[0..nout) out, iov[nout..nout+nin) in */
} vmx_virtq_elem_t;   /* large (16 KiB): allocate it, don't put it on a small stack */

typedef struct vmx_virtio_dev vmx_virtio_dev_t;

/* What a device type (blk, net, rng, console, gpu) gives the transport. */
typedef struct vmx_virtio_ops {
  const char *name;          /* "virtio-blk", ... */
  uint32_t device_id;        /* virtio device id: net 1, blk 2, console 3, rng 4, gpu 16 */
  unsigned nqueues;          /* 1..VMX_VIRTIO_MAX_QUEUES */
  uint16_t queue_max;        /* QueueNumMax, a power of 2 */
  uint64_t features;         /* device-specific feature bits offered (transport adds its own) */
  /* Device config space (offset 0x100 of the slot). Reads of `size` bytes
   * (1, 2, 4, 8) at off < config_size; may be NULL (reads 0). */
  uint32_t config_size;
  uint64_t (*config_read)(vmx_virtio_dev_t *d, uint32_t off, unsigned size);
  void (*config_write)(vmx_virtio_dev_t *d, uint32_t off, unsigned size, uint64_t val); /* may be NULL */
  /* The driver wrote QueueNotify for queue q (q < nqueues, queue ready,
   * DRIVER_OK set). The device pops chains with vmx_virtq_pop and
   * returns them with vmx_virtio_push (now or later, from the same thread). */
  void (*notify)(vmx_virtio_dev_t *d, unsigned q);
  /* The device was reset (driver wrote 0 to Status). Drop queued work;
   * completions of work already in flight must be discarded (compare
   * d->generation, which the transport increments on every reset). May be NULL. */
  void (*reset)(vmx_virtio_dev_t *d);
  /* Status became DRIVER_OK (the driver is ready). May be NULL. */
  void (*driver_ok)(vmx_virtio_dev_t *d);
} vmx_virtio_ops_t;

/* What the transport does to the outside. Any pointer may be NULL. */
typedef struct vmx_virtio_io {
  void (*irq)(void *arg, bool level);              /* the slot's interrupt line */
  void (*report)(void *arg, const char *message);  /* a guest error (malformed ring ...) */
  void *arg;
} vmx_virtio_io_t;

typedef struct vmx_virtq {      /* one split virtqueue */
  uint16_t num;                 /* QueueNum */
  bool ready;
  uint64_t desc, avail, used;   /* guest-physical addresses */
  uint16_t last_avail;          /* next avail index to take */
  uint16_t used_idx;            /* next used index to write */
  uint16_t signalled_used; bool signalled_valid;   /* event-idx bookkeeping */
  bool broken;                  /* malformed: pops return -1 until reset */
} vmx_virtq_t;

struct vmx_virtio_dev {
  const vmx_virtio_ops_t *ops;
  void *backend;                /* the device type's state */
  vmx_guest_ram_t ram;
  vmx_virtio_io_t io;
  uint32_t status, generation, config_generation, interrupt_status;
  uint64_t driver_features;     /* negotiated */
  uint32_t device_features_sel, driver_features_sel, queue_sel;
  vmx_virtq_t q[VMX_VIRTIO_MAX_QUEUES];
  uint64_t malformed;           /* count of malformed-ring events */
  bool irq_level;               /* the level last given to io.irq */
};

/* Sets d to reset state for ops/backend/ram/io (io may be NULL). Calls no
 * callback: the line starts low. */
void vmx_virtio_init(vmx_virtio_dev_t *d, const vmx_virtio_ops_t *ops, void *backend,
                     const vmx_guest_ram_t *ram, const vmx_virtio_io_t *io);
/* Register access at off (0..0x1ff) of the slot, sizes 1/2/4 (8 in config).
 * Registers below 0x100 take only aligned 4-byte accesses; others read 0 and
 * are ignored. */
uint64_t vmx_virtio_mmio_read(vmx_virtio_dev_t *d, uint64_t off, unsigned size);
void vmx_virtio_mmio_write(vmx_virtio_dev_t *d, uint64_t off, unsigned size, uint64_t val);

/* The feature bits the device offers: ops->features plus the transport's
 * VERSION_1, INDIRECT_DESC and EVENT_IDX. */
uint64_t vmx_virtio_device_features(const vmx_virtio_dev_t *d);
/* True when the driver negotiated feature bit `bit`. */
bool vmx_virtio_has_feature(const vmx_virtio_dev_t *d, unsigned bit);
/* True when queue q exists, is ready and the device is DRIVER_OK and not
 * NEEDS_RESET: the device may pop and push. */
bool vmx_virtq_usable(const vmx_virtio_dev_t *d, unsigned q);

/* Takes the next available chain of queue q into *e: 1 when one was taken,
 * 0 when the ring is empty, -1 when the ring is malformed (descriptor loop,
 * index out of range, address or length outside RAM, too many segments,
 * writable before readable, nested indirect ...): the device is then marked
 * NEEDS_RESET, io.report is told why, a config-change interrupt is raised,
 * and the caller must stop using the queue. Returns 0 also when the queue is
 * not usable (not ready, no DRIVER_OK) and -1 once the device needs reset. */
int vmx_virtq_pop(vmx_virtio_dev_t *d, unsigned q, vmx_virtq_elem_t *e);
/* Returns a chain to the used ring with `written` bytes written into its
 * in-segments, and interrupts the driver unless event-idx / NO_INTERRUPT
 * suppresses it. Ignored after a reset that happened since the pop (pass
 * the generation you saw at pop time): */
void vmx_virtio_push(vmx_virtio_dev_t *d, unsigned q, uint16_t head, uint32_t written,
                     uint32_t generation);
/* Config space changed (e.g. disk resized): bumps config_generation, interrupts. */
void vmx_virtio_config_changed(vmx_virtio_dev_t *d);
/* Marks the device NEEDS_RESET with a reason (device-level errors). */
void vmx_virtio_fail(vmx_virtio_dev_t *d, const char *why);

/* Copy helpers across an element's segments: */
size_t vmx_virtq_read(const vmx_virtq_elem_t *e, size_t off, void *dst, size_t n);   /* from out segs */
size_t vmx_virtq_write(const vmx_virtq_elem_t *e, size_t off, const void *src, size_t n); /* into in segs */
size_t vmx_virtq_out_len(const vmx_virtq_elem_t *e);
size_t vmx_virtq_in_len(const vmx_virtq_elem_t *e);

#endif
