/* virtio_hostile.c: a hostile driver against a virtio-rng device on the
 * virt machine's virtio-mmio slots (0x10001000 + 0x1000 * i).
 *
 * It negotiates VERSION_1, sets up a queue whose only descriptor chains back
 * to itself and notifies: the device must flag NEEDS_RESET (virtio 1.2,
 * 2.1.2: "the device has experienced an error from which it can't
 * recover") with a configuration-change interrupt, and this program must
 * keep running. Then it resets the device, sets the queue up properly and
 * reads 16 random bytes.
 *
 * QEMU 7.2 flags this case: virtqueue_get_avail_bytes (virtio-rng's request
 * size) counts more descriptors than the queue holds, calls virtio_error
 * ("Looped descriptor"), which for a VERSION_1 device sets NEEDS_RESET and
 * notifies a config change. Run it under QEMU with
 *   -global virtio-mmio.force-legacy=false -device virtio-rng-device
 * (modern virtio-mmio, version 2). */
#include "rt.h"

#define SLOT0 0x10001000ull
#define NSLOTS 8
#define QNUM 8u
#define WAIT_TICKS (MTIME_HZ * 2) /* 2 s: generous for QEMU's async rng backend */

#define MAGIC 0x000
#define VERSION 0x004
#define DEVICE_ID 0x008
#define DEVICE_FEATURES 0x010
#define DEVICE_FEATURES_SEL 0x014
#define DRIVER_FEATURES 0x020
#define DRIVER_FEATURES_SEL 0x024
#define QUEUE_SEL 0x030
#define QUEUE_NUM_MAX 0x034
#define QUEUE_NUM 0x038
#define QUEUE_READY 0x044
#define QUEUE_NOTIFY 0x050
#define INTERRUPT_STATUS 0x060
#define INTERRUPT_ACK 0x064
#define STATUS 0x070
#define QUEUE_DESC_LOW 0x080
#define QUEUE_DESC_HIGH 0x084
#define QUEUE_DRIVER_LOW 0x090
#define QUEUE_DRIVER_HIGH 0x094
#define QUEUE_DEVICE_LOW 0x0a0
#define QUEUE_DEVICE_HIGH 0x0a4

#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 64u

#define DESC_F_NEXT 1u
#define DESC_F_WRITE 2u

struct desc {
  u64 addr;
  u32 len;
  uint16_t flags, next;
};

static struct desc desc[QNUM] __attribute__((aligned(4096)));
static volatile uint16_t avail[3 + QNUM] __attribute__((aligned(4096))); /* flags idx ring used_event */
static volatile u32 used[2 + 2 * QNUM] __attribute__((aligned(4096)));   /* flags|idx, {id,len}..., avail_event */
static volatile unsigned char buf[16] __attribute__((aligned(64)));

static u64 base;

static inline void fence(void) { __asm__ volatile("fence rw, rw" ::: "memory"); }
static u32 rd(u32 off) { return *(volatile u32 *)(base + off); }
static void wr(u32 off, u32 v) { *(volatile u32 *)(base + off) = v; }
static uint16_t used_idx(void) { return (uint16_t)(used[0] >> 16); }

/* Finds the first version-2 virtio-rng slot; 0 when there is none. */
static u64 find_rng(void) {
  for (int i = 0; i < NSLOTS; i++) {
    u64 b = SLOT0 + 0x1000ull * i;
    u64 magic = probe_load32(b + MAGIC);
    if (magic == PROBE_POISON || magic != 0x74726976)
      continue;
    u32 version = *(volatile u32 *)(b + VERSION), id = *(volatile u32 *)(b + DEVICE_ID);
    if (id == 4 && version == 2)
      return b;
    if (id == 4)
      note("slot %d: virtio-rng with version %u (legacy; want 2)", i, version);
  }
  return 0;
}

/* Reset, ACKNOWLEDGE, DRIVER, VERSION_1 only, FEATURES_OK; returns Status. */
static u32 negotiate(void) {
  wr(STATUS, 0);
  fence();
  wr(STATUS, S_ACK);
  wr(STATUS, S_ACK | S_DRIVER);
  wr(DEVICE_FEATURES_SEL, 1);
  u32 hi = rd(DEVICE_FEATURES);
  check(hi & 1, "the device offers VERSION_1 (features[63:32] 0x%x)", hi);
  wr(DRIVER_FEATURES_SEL, 0);
  wr(DRIVER_FEATURES, 0);
  wr(DRIVER_FEATURES_SEL, 1);
  wr(DRIVER_FEATURES, 1);
  wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
  return rd(STATUS);
}

/* Queue 0 at desc/avail/used with one chain (desc[0]) made available. */
static void queue_up(void) {
  wr(QUEUE_SEL, 0);
  u32 max = rd(QUEUE_NUM_MAX);
  check(max >= QNUM, "QueueNumMax %u >= %u", max, QNUM);
  check_eq("QueueReady before set-up", rd(QUEUE_READY), 0);
  wr(QUEUE_NUM, QNUM);
  wr(QUEUE_DESC_LOW, (u32)(u64)desc);
  wr(QUEUE_DESC_HIGH, (u32)((u64)desc >> 32));
  wr(QUEUE_DRIVER_LOW, (u32)(u64)avail);
  wr(QUEUE_DRIVER_HIGH, (u32)((u64)avail >> 32));
  wr(QUEUE_DEVICE_LOW, (u32)(u64)used);
  wr(QUEUE_DEVICE_HIGH, (u32)((u64)used >> 32));
  wr(QUEUE_READY, 1);
  wr(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
  /* The chain is published only now: QEMU 7.2's virtio_set_status stores
   * the written Status after the device's set_status hook has run, so a
   * NEEDS_RESET raised while DRIVER_OK is being written would be lost. */
  avail[2] = 0; /* ring[0]: chain head 0 */
  fence();      /* descriptors and ring entry before idx (2.7.13) */
  avail[1] = 1; /* idx */
  fence();
  wr(QUEUE_NOTIFY, 0);
}

static void clear_rings(void) {
  rt_memset(desc, 0, sizeof desc);
  rt_memset((void *)avail, 0, sizeof avail);
  rt_memset((void *)used, 0, sizeof used);
  rt_memset((void *)buf, 0, sizeof buf);
  fence();
}

static void test_loop(void) {
  rt_printf("-- a descriptor that chains to itself\n");
  u32 st = negotiate();
  check(st & S_FEATURES_OK, "FEATURES_OK accepted (Status 0x%x)", st);
  clear_rings();
  desc[0] = (struct desc){(u64)buf, sizeof buf, DESC_F_WRITE | DESC_F_NEXT, 0};
  queue_up();
  int flagged = wait_until(rd(STATUS) & S_NEEDS_RESET, WAIT_TICKS);
  check(flagged, "Status gets NEEDS_RESET (Status 0x%x)", rd(STATUS));
  u32 isr = rd(INTERRUPT_STATUS);
  check(isr & 2, "a configuration-change interrupt is pending (InterruptStatus 0x%x)", isr);
  wr(INTERRUPT_ACK, isr);
  check_eq("nothing was returned to the used ring", used_idx(), 0);
  check(1, "the program keeps running after the device gave up");
}

static void test_good(void) {
  rt_printf("-- reset, then a proper request\n");
  wr(STATUS, 0);
  fence();
  check_eq("Status reads 0 after reset", rd(STATUS), 0);
  u32 st = negotiate();
  check(st & S_FEATURES_OK, "FEATURES_OK accepted again (Status 0x%x)", st);
  clear_rings();
  desc[0] = (struct desc){(u64)buf, sizeof buf, DESC_F_WRITE, 0};
  queue_up();
  int done = wait_until(used_idx() == 1, WAIT_TICKS);
  fence();
  check(done, "the chain comes back in the used ring (used idx %u)", used_idx());
  check_eq("used id", used[1], 0);
  check_eq("used len", used[2], sizeof buf);
  int nonzero = 0;
  for (unsigned i = 0; i < sizeof buf; i++)
    nonzero |= buf[i];
  check(nonzero, "16 random bytes, not all zero (%x %x %x %x ...)", buf[0], buf[1], buf[2], buf[3]);
  check(!(rd(STATUS) & S_NEEDS_RESET), "no NEEDS_RESET (Status 0x%x)", rd(STATUS));
  check(rd(INTERRUPT_STATUS) & 1, "a used-buffer interrupt is pending");
  wr(INTERRUPT_ACK, rd(INTERRUPT_STATUS));
  check_eq("InterruptStatus after ack", rd(INTERRUPT_STATUS), 0);
  wr(STATUS, 0);
}

int main(void) {
  test_begin("virtio_hostile");
  base = find_rng();
  if (base == 0) {
#ifdef RT_VIRT_CONSOLE
    check(0, "a version-2 virtio-rng device in one of the 8 virtio-mmio slots");
#else
    skip("no virtio-mmio slots on this machine");
#endif
    test_end();
  }
  note("virtio-rng at 0x%lx", base);
  test_loop();
  test_good();
  test_end();
}
