/* The device manager of the `virt` machine (see devices.h). */
#include "machine/devices.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "block/image.h"
#include "devices/slirp_net.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_gpu.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"

#define MAX_DRIVES 8
#define MAX_NETDEVS 4
#define OPT_MAX 1024

typedef enum { DEV_BLK, DEV_NET, DEV_RNG, DEV_CONSOLE, DEV_GPU } dev_kind_t;

/* One entry of the registry: what `-device NAME` makes. */
typedef struct devtype {
  const char *name;        /* QEMU's name */
  const char *alias;       /* a short one */
  dev_kind_t kind;
  const char *const keys[6]; /* options it takes */
  const char *help;
} devtype_t;

static const devtype_t types[] = {
    {"virtio-blk-device", "virtio-blk", DEV_BLK, {"drive", "serial"},
     "a disk: drive=ID names a -drive (raw or qcow2), serial=TEXT is its id"},
    {"virtio-net-device", "virtio-net", DEV_NET, {"netdev", "mac"},
     "a network card: netdev=ID names a -netdev user (libslirp), mac=52:54:00:12:34:56"},
    {"virtio-rng-device", "virtio-rng", DEV_RNG, {0}, "entropy from the host's getrandom"},
    {"virtconsole", "virtio-console", DEV_CONSOLE, {0},
     "a second console (hvc0): output on vmx's console, input once its driver is ready"},
    {"virtio-gpu-device", "virtio-gpu", DEV_GPU, {"xres", "yres"},
     "a 2D framebuffer (virtio-gpu), xres=1280,yres=800 by default; `screendump FILE.png` in the monitor"},
};

typedef struct drive {
  vmx_drive_opts_t o;
  vmx_image_t *img;
  bool used;
} drive_t;

typedef struct netdev {
  char id[64];
  char spec[OPT_MAX];
  bool used;
} netdev_t;

typedef struct device {
  const devtype_t *type;
  char opts[OPT_MAX];     /* its options after the name */
  int drive, netdev;      /* index, or -1 */
  unsigned slot;
  bool live;
} device_t;

struct vmx_devmgr {
  drive_t drives[MAX_DRIVES];
  unsigned ndrives;
  netdev_t netdevs[MAX_NETDEVS];
  unsigned nnetdevs;
  device_t devs[VMX_DEVMGR_SLOTS];
  unsigned ndevs;
  int by_slot[VMX_DEVMGR_SLOTS]; /* device index, or -1: empty */

  /* Running (device loop thread). */
  vmx_devmgr_io_t io;
  vmx_virtio_dev_t slot[VMX_DEVMGR_SLOTS];
  struct slot_ctx {
    vmx_devmgr_t *dm;
    unsigned index;
  } ctx[VMX_DEVMGR_SLOTS];
  bool started;
};

static const vmx_virtio_ops_t empty_ops = {.name = "empty", .device_id = 0, .nqueues = 0};

vmx_devmgr_t *vmx_devmgr_new(void) {
  vmx_devmgr_t *dm = calloc(1, sizeof *dm);
  if (dm)
    for (unsigned i = 0; i < VMX_DEVMGR_SLOTS; i++)
      dm->by_slot[i] = -1;
  return dm;
}

void vmx_devmgr_free(vmx_devmgr_t *dm) {
  if (!dm)
    return;
  for (unsigned i = 0; i < dm->ndrives; i++)
    vmx_image_close(dm->drives[i].img);
  free(dm);
}

/* ------------------------------------------------------------ options */

/* The value of key in "a=b,key=v,..." (QEMU's ",," escapes a comma) into
 * out; false if absent. */
static bool opt_get(const char *opts, const char *key, char *out, size_t cap) {
  size_t klen = strlen(key);
  const char *p = opts;
  while (p && *p) {
    if (!strncmp(p, key, klen) && p[klen] == '=') {
      const char *v = p + klen + 1;
      size_t n = 0;
      while (*v && !(*v == ',' && v[1] != ',') && n + 1 < cap) {
        if (*v == ',')
          v++;
        out[n++] = *v++;
      }
      out[n] = 0;
      return true;
    }
    while (*p && !(*p == ',' && p[1] != ','))
      p += (*p == ',') ? 2 : 1;
    if (*p == ',')
      p++;
  }
  return false;
}

/* Checks that every key of opts is one of keys. */
static int opt_check(const char *what, const char *opts, const char *const *keys, size_t nkeys,
                     char *err, size_t errlen) {
  const char *p = opts;
  while (*p) {
    const char *eq = strchr(p, '=');
    const char *end = p;
    while (*end && !(*end == ',' && end[1] != ','))
      end += (*end == ',') ? 2 : 1;
    size_t klen = eq && eq < end ? (size_t)(eq - p) : (size_t)(end - p);
    bool ok = false;
    for (size_t i = 0; i < nkeys && keys[i]; i++)
      ok |= strlen(keys[i]) == klen && !strncmp(keys[i], p, klen);
    if (!ok || !eq || eq > end) {
      snprintf(err, errlen, "%s: %s '%.*s' (try -device help)", what,
               ok ? "missing value for" : "unknown option", (int)klen, p);
      return VMX_EINVAL;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

int vmx_devmgr_add_drive(vmx_devmgr_t *dm, const char *spec, char *err, size_t errlen) {
  if (dm->ndrives == MAX_DRIVES) {
    snprintf(err, errlen, "-drive: at most %d drives", MAX_DRIVES);
    return VMX_EINVAL;
  }
  drive_t *d = &dm->drives[dm->ndrives];
  memset(d, 0, sizeof *d);
  int rc = vmx_drive_parse(spec, &d->o, err, errlen);
  if (rc)
    return rc;
  dm->ndrives++;
  return 0;
}

int vmx_devmgr_add_netdev(vmx_devmgr_t *dm, const char *spec, char *err, size_t errlen) {
  if (dm->nnetdevs == MAX_NETDEVS) {
    snprintf(err, errlen, "-netdev: at most %d", MAX_NETDEVS);
    return VMX_EINVAL;
  }
  if (strncmp(spec, "user", 4) || (spec[4] && spec[4] != ',')) {
    snprintf(err, errlen, "-netdev %s: vmx has user-mode networking only (-netdev user,id=ID,...)",
             spec);
    return VMX_EINVAL;
  }
  netdev_t *n = &dm->netdevs[dm->nnetdevs];
  memset(n, 0, sizeof *n);
  if (!opt_get(spec, "id", n->id, sizeof n->id) || !n->id[0]) {
    snprintf(err, errlen, "-netdev %s: give it an id= for -device virtio-net-device,netdev=ID", spec);
    return VMX_EINVAL;
  }
  if (strlen(spec) >= sizeof n->spec) {
    snprintf(err, errlen, "-netdev: options too long");
    return VMX_EINVAL;
  }
  int rc = vmx_slirp_net_check(spec, err, errlen);
  if (rc)
    return rc;
  snprintf(n->spec, sizeof n->spec, "%s", spec);
  dm->nnetdevs++;
  return 0;
}

int vmx_devmgr_add_device(vmx_devmgr_t *dm, const char *spec, char *err, size_t errlen) {
  size_t nlen = strcspn(spec, ",");
  const devtype_t *t = NULL;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if ((strlen(types[i].name) == nlen && !strncmp(types[i].name, spec, nlen)) ||
        (strlen(types[i].alias) == nlen && !strncmp(types[i].alias, spec, nlen)))
      t = &types[i];
  if (!t) {
    snprintf(err, errlen, "-device %.*s: unknown device (try -device help)", (int)nlen, spec);
    return VMX_EINVAL;
  }
  if (dm->ndevs == VMX_DEVMGR_SLOTS) {
    snprintf(err, errlen, "-device %s: all %d virtio-mmio slots are taken", t->name, VMX_DEVMGR_SLOTS);
    return VMX_EINVAL;
  }
  device_t *d = &dm->devs[dm->ndevs];
  memset(d, 0, sizeof *d);
  d->type = t;
  d->drive = d->netdev = -1;
  const char *opts = spec[nlen] ? spec + nlen + 1 : "";
  if (strlen(opts) >= sizeof d->opts) {
    snprintf(err, errlen, "-device %s: options too long", t->name);
    return VMX_EINVAL;
  }
  int rc = opt_check(t->name, opts, t->keys, sizeof t->keys / sizeof t->keys[0], err, errlen);
  if (rc)
    return rc;
  snprintf(d->opts, sizeof d->opts, "%s", opts);
  dm->ndevs++;
  return 0;
}

void vmx_devmgr_help(FILE *out) {
  fprintf(out, "Devices (-device NAME[,KEY=VALUE...]; each takes a virtio-mmio slot, 8 in all):\n");
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    const devtype_t *t = &types[i];
    fprintf(out, "  %-18s (or %s)\n      %s\n", t->name, t->alias, t->help);
    if (t->keys[0]) {
      fprintf(out, "      options:");
      for (size_t k = 0; k < sizeof t->keys / sizeof t->keys[0] && t->keys[k]; k++)
        fprintf(out, " %s=", t->keys[k]);
      fprintf(out, "\n");
    }
  }
  fprintf(out, "Back ends:\n"
               "  -drive file=IMG,format=raw|qcow2,if=virtio|none,id=ID,readonly=on|off\n"
               "      if=virtio (the default) adds a virtio-blk-device by itself\n"
               "  -netdev user,id=ID[,net=10.0.2.0/24][,hostfwd=tcp::HOSTPORT-:GUESTPORT]...\n");
}

int vmx_devmgr_prepare(vmx_devmgr_t *dm, char *err, size_t errlen) {
  /* if=virtio drives become devices of their own, after the -device ones. */
  for (unsigned i = 0; i < dm->ndrives; i++) {
    drive_t *dr = &dm->drives[i];
    if (dr->o.if_none)
      continue;
    if (dm->ndevs == VMX_DEVMGR_SLOTS) {
      snprintf(err, errlen, "-drive %s: all %d virtio-mmio slots are taken", dr->o.file,
               VMX_DEVMGR_SLOTS);
      return VMX_EINVAL;
    }
    device_t *d = &dm->devs[dm->ndevs++];
    memset(d, 0, sizeof *d);
    d->type = &types[0];
    d->drive = (int)i;
    d->netdev = -1;
    dr->used = true;
  }
  for (unsigned k = 0; k < dm->ndevs; k++) {
    device_t *d = &dm->devs[k];
    char ref[64];
    if (d->type->kind == DEV_BLK && d->drive < 0) {
      if (!opt_get(d->opts, "drive", ref, sizeof ref)) {
        snprintf(err, errlen, "-device %s: give drive=ID (a -drive ...,if=none,id=ID)", d->type->name);
        return VMX_EINVAL;
      }
      for (unsigned i = 0; i < dm->ndrives; i++)
        if (!strcmp(dm->drives[i].o.id, ref))
          d->drive = (int)i;
      if (d->drive < 0) {
        snprintf(err, errlen, "-device %s: no -drive with id=%s", d->type->name, ref);
        return VMX_EINVAL;
      }
      if (dm->drives[d->drive].used) {
        snprintf(err, errlen, "-device %s: drive %s is used twice", d->type->name, ref);
        return VMX_EINVAL;
      }
      dm->drives[d->drive].used = true;
    }
    if (d->type->kind == DEV_NET) {
      if (!opt_get(d->opts, "netdev", ref, sizeof ref)) {
        snprintf(err, errlen, "-device %s: give netdev=ID (a -netdev user,id=ID)", d->type->name);
        return VMX_EINVAL;
      }
      for (unsigned i = 0; i < dm->nnetdevs; i++)
        if (!strcmp(dm->netdevs[i].id, ref))
          d->netdev = (int)i;
      if (d->netdev < 0) {
        snprintf(err, errlen, "-device %s: no -netdev with id=%s", d->type->name, ref);
        return VMX_EINVAL;
      }
      if (dm->netdevs[d->netdev].used) {
        snprintf(err, errlen, "-device %s: netdev %s is used twice", d->type->name, ref);
        return VMX_EINVAL;
      }
      dm->netdevs[d->netdev].used = true;
    }
    /* QEMU fills the slots from the top: the first device is at 0x10008000. */
    d->slot = VMX_DEVMGR_SLOTS - 1 - k;
    dm->by_slot[d->slot] = (int)k;
  }
  for (unsigned i = 0; i < dm->ndrives; i++) {
    drive_t *dr = &dm->drives[i];
    if (!dr->used) {
      snprintf(err, errlen, "-drive %s: if=none but no -device virtio-blk-device,drive=%s uses it",
               dr->o.file, dr->o.id);
      return VMX_EINVAL;
    }
    int rc = vmx_image_open(dr->o.file, dr->o.format[0] ? dr->o.format : NULL, dr->o.readonly,
                            &dr->img, err, errlen);
    if (rc)
      return rc;
  }
  return 0;
}

/* ------------------------------------------------------------ running */

static void slot_irq(void *arg, bool level) {
  struct slot_ctx *c = arg;
  c->dm->io.irq(c->dm->io.arg, VMX_DEVMGR_IRQ0 + c->index, level);
}

static void slot_report(void *arg, const char *message) {
  struct slot_ctx *c = arg;
  int k = c->dm->by_slot[c->index];
  vmx_log_error("%s at 0x%x: %s", k < 0 ? "empty virtio-mmio slot" : c->dm->devs[k].type->name,
                VMX_DEVMGR_BASE + VMX_DEVMGR_STRIDE * c->index, message);
}

static void console_tx(void *arg, const uint8_t *buf, size_t n) {
  vmx_devmgr_t *dm = arg;
  if (dm->io.console)
    dm->io.console(dm->io.arg, buf, n);
}

static void console_rx_ready(void *arg) {
  vmx_devmgr_t *dm = arg;
  if (dm->io.console_ready)
    dm->io.console_ready(dm->io.arg);
}

static int create(vmx_devmgr_t *dm, device_t *d, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                  char *err, size_t errlen) {
  vmx_virtio_dev_t *v = &dm->slot[d->slot];
  vmx_virtio_io_t io = {slot_irq, slot_report, &dm->ctx[d->slot]};
  char val[256];
  switch (d->type->kind) {
  case DEV_BLK: {
    int rc = vmx_virtio_blk_create(v, loop, ram, &io, dm->drives[d->drive].img, err, errlen);
    if (!rc && opt_get(d->opts, "serial", val, sizeof val))
      vmx_virtio_blk_set_serial(v, val);
    return rc;
  }
  case DEV_NET: {
    int rc = vmx_virtio_net_create(v, loop, ram, &io, dm->netdevs[d->netdev].spec, err, errlen);
    if (!rc && opt_get(d->opts, "mac", val, sizeof val)) {
      unsigned b[6];
      uint8_t mac[6];
      if (sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
        snprintf(err, errlen, "%s: mac=%s is not like 52:54:00:12:34:56", d->type->name, val);
        vmx_virtio_net_destroy(v);
        return VMX_EINVAL;
      }
      for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
      vmx_virtio_net_set_mac(v, mac);
    }
    return rc;
  }
  case DEV_RNG:
    return vmx_virtio_rng_create(v, ram, &io, err, errlen);
  case DEV_CONSOLE:
    return vmx_virtio_console_create(v, ram, &io,
                                     &(vmx_virtio_console_io_t){console_tx, console_rx_ready, dm},
                                     err, errlen);
  case DEV_GPU:
    return vmx_virtio_gpu_create(v, loop, ram, &io, d->opts, err, errlen);
  }
  return VMX_EINVAL;
}

int vmx_devmgr_start(vmx_devmgr_t *dm, uv_loop_t *loop, const vmx_guest_ram_t *ram,
                     const vmx_devmgr_io_t *io, char *err, size_t errlen) {
  dm->io = *io;
  for (unsigned i = 0; i < VMX_DEVMGR_SLOTS; i++) {
    dm->ctx[i] = (struct slot_ctx){dm, i};
    vmx_virtio_init(&dm->slot[i], &empty_ops, NULL, ram,
                    &(vmx_virtio_io_t){slot_irq, slot_report, &dm->ctx[i]});
  }
  dm->started = true;
  for (unsigned k = 0; k < dm->ndevs; k++) {
    int rc = create(dm, &dm->devs[k], loop, ram, err, errlen);
    if (rc)
      return rc;
    dm->devs[k].live = true;
  }
  return 0;
}

void vmx_devmgr_stop(vmx_devmgr_t *dm) {
  for (unsigned k = 0; k < dm->ndevs; k++) {
    device_t *d = &dm->devs[k];
    if (!d->live)
      continue;
    vmx_virtio_dev_t *v = &dm->slot[d->slot];
    switch (d->type->kind) {
    case DEV_BLK:
      vmx_virtio_blk_destroy(v);
      vmx_image_flush(dm->drives[d->drive].img);
      break;
    case DEV_NET: vmx_virtio_net_destroy(v); break;
    case DEV_RNG: vmx_virtio_rng_destroy(v); break;
    case DEV_CONSOLE: vmx_virtio_console_destroy(v); break;
    case DEV_GPU: vmx_virtio_gpu_destroy(v); break;
    }
    d->live = false;
  }
  dm->started = false;
}

uint64_t vmx_devmgr_read(vmx_devmgr_t *dm, uint64_t off, unsigned size) {
  unsigned i = (unsigned)(off / VMX_DEVMGR_STRIDE);
  uint64_t in = off % VMX_DEVMGR_STRIDE;
  if (!dm->started || i >= VMX_DEVMGR_SLOTS || in >= VMX_VIRTIO_MMIO_SIZE)
    return 0;
  return vmx_virtio_mmio_read(&dm->slot[i], in, size);
}

void vmx_devmgr_write(vmx_devmgr_t *dm, uint64_t off, unsigned size, uint64_t val) {
  unsigned i = (unsigned)(off / VMX_DEVMGR_STRIDE);
  uint64_t in = off % VMX_DEVMGR_STRIDE;
  if (!dm->started || i >= VMX_DEVMGR_SLOTS || in >= VMX_VIRTIO_MMIO_SIZE)
    return;
  vmx_virtio_mmio_write(&dm->slot[i], in, size, val);
}

size_t vmx_devmgr_info(vmx_devmgr_t *dm, char *buf, size_t cap) {
  size_t n = 0;
  n += (size_t)snprintf(buf + n, cap - n, "uart ns16550a at 0x10000000 (irq 10), plic, clint, syscon\n");
  for (unsigned k = 0; k < dm->ndevs && n < cap; k++) {
    const device_t *d = &dm->devs[k];
    const vmx_virtio_dev_t *v = &dm->slot[d->slot];
    n += (size_t)snprintf(buf + n, cap - n, "%s at 0x%x (irq %u): status 0x%x%s", d->type->name,
                          VMX_DEVMGR_BASE + VMX_DEVMGR_STRIDE * d->slot, VMX_DEVMGR_IRQ0 + d->slot,
                          v->status, (v->status & VMX_VIRTIO_S_NEEDS_RESET) ? " NEEDS-RESET" : "");
    if (d->drive >= 0 && n < cap)
      n += (size_t)snprintf(buf + n, cap - n, ", %s %s%s", vmx_image_format(dm->drives[d->drive].img),
                            dm->drives[d->drive].o.file, dm->drives[d->drive].o.readonly ? " (read-only)" : "");
    if (d->netdev >= 0 && n < cap)
      n += (size_t)snprintf(buf + n, cap - n, ", %s", dm->netdevs[d->netdev].spec);
    if (n < cap)
      n += (size_t)snprintf(buf + n, cap - n, "\n");
  }
  return n < cap ? n : cap - 1;
}

int vmx_devmgr_screendump(vmx_devmgr_t *dm, const char *path, char *err, size_t errlen) {
  for (unsigned k = 0; k < dm->ndevs; k++)
    if (dm->devs[k].type->kind == DEV_GPU && dm->devs[k].live)
      return vmx_virtio_gpu_screendump(&dm->slot[dm->devs[k].slot], path, err, errlen);
  snprintf(err, errlen, "no display: add -device virtio-gpu-device");
  return VMX_EINVAL;
}

bool vmx_devmgr_has_console(const vmx_devmgr_t *dm) {
  for (unsigned k = 0; k < dm->ndevs; k++)
    if (dm->devs[k].type->kind == DEV_CONSOLE)
      return true;
  return false;
}

size_t vmx_devmgr_console_in(vmx_devmgr_t *dm, const uint8_t *buf, size_t n) {
  for (unsigned k = 0; k < dm->ndevs; k++)
    if (dm->devs[k].type->kind == DEV_CONSOLE && dm->devs[k].live)
      return vmx_virtio_console_rx(&dm->slot[dm->devs[k].slot], buf, n);
  return 0;
}
