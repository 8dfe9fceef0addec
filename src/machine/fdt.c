/* The `virt` machine's device tree (see fdt.h), written with libfdt's
 * sequential-write API. Node order, names and properties follow the tree
 * QEMU 7.2 dumps (-machine dumpdtb=FILE) for the same machine. */
#include "machine/fdt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "base/error.h"

#define FDT_START_SIZE  (16u << 10)
#define FDT_MAX_SIZE    (1u << 20)
#define ISA_MAX_LEN     1024

/* Interrupt numbers on each hart's riscv,cpu-intc (RISC-V priv §3.1.9 mip). */
#define IRQ_S_EXT  9
#define IRQ_M_SOFT 3
#define IRQ_M_TIMER 7
#define IRQ_M_EXT  11

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    int n = snprintf(err, errlen, "device tree: ");
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
      vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---- phandles ------------------------------------------------------------ */

/* Fixed phandles: hart i's cpu node and its interrupt controller, then the
 * PLIC and the test device. */
static uint32_t ph_cpu(unsigned hart) { return 1 + 2 * hart; }
static uint32_t ph_intc(unsigned hart) { return 2 + 2 * hart; }
static uint32_t ph_plic(const vmx_fdt_config_t *c) { return 1 + 2 * c->nharts; }
static uint32_t ph_test(const vmx_fdt_config_t *c) { return 2 + 2 * c->nharts; }

/* ---- the ISA string -------------------------------------------------------- */

/* The ISA string split for riscv,isa-base ("rv64i") and the string list
 * riscv,isa-extensions ("i\0m\0...\0zicsr\0"). */
typedef struct isa_split {
  char base[8];
  char *exts;          /* heap */
  size_t exts_len;     /* bytes, including every terminating NUL */
} isa_split_t;

static bool has_ext(const isa_split_t *s, const char *name, size_t len) {
  for (size_t at = 0; at < s->exts_len; at += strlen(s->exts + at) + 1)
    if (strlen(s->exts + at) == len && !memcmp(s->exts + at, name, len))
      return true;
  return false;
}

static void add_ext(isa_split_t *s, const char *name, size_t len) {
  if (has_ext(s, name, len))
    return;
  memcpy(s->exts + s->exts_len, name, len);
  s->exts[s->exts_len + len] = '\0';
  s->exts_len += len + 1;
}

/* Splits "rv64imafdc_zicsr_zifencei" (RISC-V unpriv ch. "ISA Extension
 * Naming Conventions"); G stands for IMAFD_Zicsr_Zifencei. */
static int isa_split(const char *isa, isa_split_t *s, char *err, size_t errlen) {
  size_t len = isa ? strlen(isa) : 0;
  if (!isa || len > ISA_MAX_LEN)
    return fail(err, errlen, VMX_EINVAL, "missing or over-long ISA string");
  bool xlen_ok = !strncmp(isa, "rv64", 4) || !strncmp(isa, "rv32", 4);
  if (!xlen_ok || !strchr("ieg", isa[4]) || !isa[4])
    return fail(err, errlen, VMX_EINVAL,
                "ISA string \"%s\" must start with rv64 or rv32 and then i, e or g", isa);
  /* Each extension name is at most as long as the string, plus G's expansion. */
  s->exts = malloc(2 * len + 64);
  if (!s->exts)
    return fail(err, errlen, VMX_ENOMEM, "out of memory");
  s->exts_len = 0;
  snprintf(s->base, sizeof s->base, "%.4s%c", isa, isa[4] == 'e' ? 'e' : 'i');

  const char *p = isa + 4;
  for (; *p && *p != '_'; p++) {
    if (*p < 'a' || *p > 'z' || strchr("sxz", *p))
      return fail(err, errlen, VMX_EINVAL,
                  "ISA string \"%s\": '%c' is not a single-letter extension "
                  "(multi-letter ones follow '_')", isa, *p);
    if (*p == 'g') {
      static const char *const g[] = {"i", "m", "a", "f", "d", "zicsr", "zifencei"};
      for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        add_ext(s, g[i], strlen(g[i]));
    } else {
      add_ext(s, p, 1);
    }
  }
  while (*p == '_') {
    const char *name = ++p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
      p++;
    if (p == name || (*p && *p != '_'))
      return fail(err, errlen, VMX_EINVAL,
                  "ISA string \"%s\": bad extension name at offset %zu", isa,
                  (size_t)(name - isa));
    add_ext(s, name, (size_t)(p - name));
  }
  return 0;
}

/* ---- checking the configuration ------------------------------------------- */

static bool region_ok(uint64_t base, uint64_t size) { return base + size >= base; }

static int check_irq(const vmx_fdt_config_t *c, const char *what, uint32_t irq,
                     char *err, size_t errlen) {
  if (!c->plic_size)
    return fail(err, errlen, VMX_EINVAL, "%s needs a PLIC for its interrupt", what);
  if (irq == 0 || irq > c->plic_ndev)
    return fail(err, errlen, VMX_EINVAL, "%s interrupt %" PRIu32 " is not a PLIC source (1..%" PRIu32 ")",
                what, irq, c->plic_ndev);
  return 0;
}

static int check_config(const vmx_fdt_config_t *c, char *err, size_t errlen) {
  if (c->nharts < 1 || c->nharts > VMX_FDT_MAX_HARTS)
    return fail(err, errlen, VMX_EINVAL, "%u harts (1..%d supported)", c->nharts,
                VMX_FDT_MAX_HARTS);
  if (!c->ram_size || !region_ok(c->ram_base, c->ram_size))
    return fail(err, errlen, VMX_EINVAL, "bad RAM region 0x%" PRIx64 " + 0x%" PRIx64,
                c->ram_base, c->ram_size);
  if (!c->timebase_frequency)
    return fail(err, errlen, VMX_EINVAL, "timebase-frequency of 0");
  if (c->initrd_end < c->initrd_start)
    return fail(err, errlen, VMX_EINVAL, "initrd ends (0x%" PRIx64 ") before it starts (0x%" PRIx64 ")",
                c->initrd_end, c->initrd_start);
  if (c->plic_size && !c->plic_ndev)
    return fail(err, errlen, VMX_EINVAL, "PLIC with no interrupt sources");
  if (c->nvirtio > VMX_FDT_MAX_VIRTIO)
    return fail(err, errlen, VMX_EINVAL, "%u virtio-mmio slots (at most %d)", c->nvirtio,
                VMX_FDT_MAX_VIRTIO);
  if (!region_ok(c->clint_base, c->clint_size) || !region_ok(c->plic_base, c->plic_size) ||
      !region_ok(c->uart_base, c->uart_size) || !region_ok(c->test_base, c->test_size))
    return fail(err, errlen, VMX_EINVAL, "a device region wraps around the address space");
  int rc = 0;
  if (c->uart_size)
    rc = check_irq(c, "the UART", c->uart_irq, err, errlen);
  for (unsigned i = 0; !rc && i < c->nvirtio; i++) {
    if (!c->virtio[i].size || !region_ok(c->virtio[i].base, c->virtio[i].size))
      return fail(err, errlen, VMX_EINVAL, "virtio-mmio slot %u has a bad region", i);
    rc = check_irq(c, "a virtio-mmio slot", c->virtio[i].irq, err, errlen);
  }
  return rc;
}

/* ---- writing --------------------------------------------------------------- */

/* The blob being written; the first libfdt error stops all later writes. */
typedef struct writer {
  void *fdt;
  int err;             /* 0 or a negative FDT_ERR_* */
} writer_t;

static void w_begin(writer_t *w, const char *name) {
  if (!w->err)
    w->err = fdt_begin_node(w->fdt, name);
}

static void w_begin_at(writer_t *w, const char *name, uint64_t addr) {
  char full[64];
  snprintf(full, sizeof full, "%s@%" PRIx64, name, addr);
  w_begin(w, full);
}

static void w_end(writer_t *w) {
  if (!w->err)
    w->err = fdt_end_node(w->fdt);
}

static void w_prop(writer_t *w, const char *name, const void *val, size_t len) {
  if (!w->err)
    w->err = fdt_property(w->fdt, name, val, (int)len);
}

static void w_string(writer_t *w, const char *name, const char *val) {
  w_prop(w, name, val, strlen(val) + 1);
}

/* A string list, given as its strings followed by NULL. */
static void w_strings(writer_t *w, const char *name, ...) {
  char buf[256];
  size_t len = 0;
  va_list ap;
  va_start(ap, name);
  for (const char *s; (s = va_arg(ap, const char *));) {
    size_t n = strlen(s) + 1;
    if (len + n > sizeof buf)
      abort();           /* our own literals only */
    memcpy(buf + len, s, n);
    len += n;
  }
  va_end(ap);
  w_prop(w, name, buf, len);
}

static void w_cells(writer_t *w, const char *name, const uint32_t *cells, size_t n) {
  fdt32_t be[4 * VMX_FDT_MAX_HARTS];
  if (n > sizeof be / sizeof be[0])
    abort();             /* sized for the largest interrupts-extended */
  for (size_t i = 0; i < n; i++)
    be[i] = cpu_to_fdt32(cells[i]);
  w_prop(w, name, be, n * sizeof be[0]);
}

static void w_cell(writer_t *w, const char *name, uint32_t val) { w_cells(w, name, &val, 1); }

static void w_u64(writer_t *w, const char *name, uint64_t val) {
  if (!w->err)
    w->err = fdt_property_u64(w->fdt, name, val);
}

static void w_empty(writer_t *w, const char *name) { w_prop(w, name, NULL, 0); }

/* reg = <base size> with #address-cells = #size-cells = 2. */
static void w_reg(writer_t *w, uint64_t base, uint64_t size) {
  uint32_t cells[4] = {(uint32_t)(base >> 32), (uint32_t)base, (uint32_t)(size >> 32),
                       (uint32_t)size};
  w_cells(w, "reg", cells, 4);
}

/* interrupts-extended = <intc0 a intc0 b intc1 a intc1 b ...>. */
static void w_per_hart_irqs(writer_t *w, const vmx_fdt_config_t *c, uint32_t a, uint32_t b) {
  uint32_t cells[4 * VMX_FDT_MAX_HARTS];
  for (unsigned h = 0; h < c->nharts; h++) {
    cells[4 * h + 0] = ph_intc(h);
    cells[4 * h + 1] = a;
    cells[4 * h + 2] = ph_intc(h);
    cells[4 * h + 3] = b;
  }
  w_cells(w, "interrupts-extended", cells, 4 * c->nharts);
}

/* ---- nodes ----------------------------------------------------------------- */

static void node_chosen(writer_t *w, const vmx_fdt_config_t *c) {
  w_begin(w, "chosen");
  if (c->uart_size) {
    char path[64];
    snprintf(path, sizeof path, "/soc/serial@%" PRIx64, c->uart_base);
    w_string(w, "stdout-path", path);
  }
  if (c->bootargs)
    w_string(w, "bootargs", c->bootargs);
  if (c->initrd_start || c->initrd_end) {
    w_u64(w, "linux,initrd-start", c->initrd_start);
    w_u64(w, "linux,initrd-end", c->initrd_end);
  }
  w_end(w);
}

static void node_syscon_action(writer_t *w, const vmx_fdt_config_t *c, const char *name,
                               uint32_t value) {
  char compatible[32];
  snprintf(compatible, sizeof compatible, "syscon-%s", name);
  w_begin(w, name);
  w_cell(w, "value", value);
  w_cell(w, "offset", 0);
  w_cell(w, "regmap", ph_test(c));
  w_string(w, "compatible", compatible);
  w_end(w);
}

static void node_memory(writer_t *w, const vmx_fdt_config_t *c) {
  w_begin_at(w, "memory", c->ram_base);
  w_string(w, "device_type", "memory");
  w_reg(w, c->ram_base, c->ram_size);
  w_end(w);
}

static void node_cpu(writer_t *w, const vmx_fdt_config_t *c, const isa_split_t *isa,
                     unsigned hart) {
  w_begin_at(w, "cpu", hart);
  w_cell(w, "phandle", ph_cpu(hart));
  w_string(w, "device_type", "cpu");
  w_cell(w, "reg", hart);
  w_string(w, "status", "okay");
  w_string(w, "compatible", "riscv");
  w_string(w, "riscv,isa", c->isa);
  w_string(w, "riscv,isa-base", isa->base);
  w_prop(w, "riscv,isa-extensions", isa->exts, isa->exts_len);
  if (c->mmu_type)
    w_string(w, "mmu-type", c->mmu_type);
  w_begin(w, "interrupt-controller");
  w_cell(w, "#interrupt-cells", 1);
  w_empty(w, "interrupt-controller");
  w_string(w, "compatible", "riscv,cpu-intc");
  w_cell(w, "phandle", ph_intc(hart));
  w_end(w);
  w_end(w);
}

static void node_cpus(writer_t *w, const vmx_fdt_config_t *c, const isa_split_t *isa) {
  w_begin(w, "cpus");
  w_cell(w, "#address-cells", 1);
  w_cell(w, "#size-cells", 0);
  w_cell(w, "timebase-frequency", c->timebase_frequency);
  for (unsigned h = 0; h < c->nharts; h++)
    node_cpu(w, c, isa, h);
  w_begin(w, "cpu-map");
  w_begin(w, "cluster0");
  for (unsigned h = 0; h < c->nharts; h++) {
    char core[16];
    snprintf(core, sizeof core, "core%u", h);
    w_begin(w, core);
    w_cell(w, "cpu", ph_cpu(h));
    w_end(w);
  }
  w_end(w);
  w_end(w);
  w_end(w);
}

/* A device with one PLIC interrupt. */
static void node_plic_device(writer_t *w, const vmx_fdt_config_t *c, const char *name,
                             uint64_t base, uint64_t size, uint32_t irq) {
  w_begin_at(w, name, base);
  w_cell(w, "interrupts", irq);
  w_cell(w, "interrupt-parent", ph_plic(c));
  w_reg(w, base, size);
  /* The caller adds what differs (compatible, clock-frequency) and ends the node. */
}

static void node_soc(writer_t *w, const vmx_fdt_config_t *c) {
  w_begin(w, "soc");
  w_cell(w, "#address-cells", 2);
  w_cell(w, "#size-cells", 2);
  w_string(w, "compatible", "simple-bus");
  w_empty(w, "ranges");
  if (c->uart_size) {
    node_plic_device(w, c, "serial", c->uart_base, c->uart_size, c->uart_irq);
    w_cell(w, "clock-frequency", c->uart_clock);
    w_string(w, "compatible", "ns16550a");
    w_end(w);
  }
  if (c->test_size) {
    w_begin_at(w, "test", c->test_base);
    w_cell(w, "phandle", ph_test(c));
    w_reg(w, c->test_base, c->test_size);
    w_strings(w, "compatible", "sifive,test1", "sifive,test0", "syscon", NULL);
    w_end(w);
  }
  /* Highest slot first, as QEMU lists them: Linux probes the transports in
   * tree order, so its device numbering follows QEMU's. */
  for (unsigned i = c->nvirtio; i-- > 0;) {
    const vmx_fdt_virtio_t *v = &c->virtio[i];
    node_plic_device(w, c, "virtio_mmio", v->base, v->size, v->irq);
    w_string(w, "compatible", "virtio,mmio");
    w_end(w);
  }
  if (c->plic_size) {
    w_begin_at(w, "plic", c->plic_base);
    w_cell(w, "phandle", ph_plic(c));
    w_cell(w, "riscv,ndev", c->plic_ndev);
    w_reg(w, c->plic_base, c->plic_size);
    /* Context 2h is hart h's M mode, 2h + 1 its S mode. */
    w_per_hart_irqs(w, c, IRQ_M_EXT, IRQ_S_EXT);
    w_empty(w, "interrupt-controller");
    w_strings(w, "compatible", "sifive,plic-1.0.0", "riscv,plic0", NULL);
    w_cell(w, "#address-cells", 0);
    w_cell(w, "#interrupt-cells", 1);
    w_end(w);
  }
  if (c->clint_size) {
    w_begin_at(w, "clint", c->clint_base);
    w_per_hart_irqs(w, c, IRQ_M_SOFT, IRQ_M_TIMER);
    w_reg(w, c->clint_base, c->clint_size);
    w_strings(w, "compatible", "sifive,clint0", "riscv,clint0", NULL);
    w_end(w);
  }
  w_end(w);
}

static int write_tree(void *buf, size_t size, const vmx_fdt_config_t *c,
                      const isa_split_t *isa) {
  writer_t w = {buf, fdt_create(buf, (int)size)};
  if (!w.err)
    w.err = fdt_finish_reservemap(buf);
  w_begin(&w, "");
  w_cell(&w, "#address-cells", 2);
  w_cell(&w, "#size-cells", 2);
  w_string(&w, "compatible", "riscv-virtio");
  w_string(&w, "model", "riscv-virtio,qemu");
  node_chosen(&w, c);
  if (c->test_size) {
    node_syscon_action(&w, c, "poweroff", VMX_FDT_SYSCON_POWEROFF);
    node_syscon_action(&w, c, "reboot", VMX_FDT_SYSCON_REBOOT);
  }
  node_memory(&w, c);
  node_cpus(&w, c, isa);
  node_soc(&w, c);
  w_end(&w);
  if (!w.err)
    w.err = fdt_finish(buf);
  return w.err;
}

/* ---- the public API -------------------------------------------------------- */

void vmx_fdt_config_virt(vmx_fdt_config_t *cfg, uint64_t ram_size, unsigned nharts) {
  *cfg = (vmx_fdt_config_t){
      .ram_base = 0x80000000, .ram_size = ram_size, .nharts = nharts,
      .isa = "rv64imafdc_zicsr_zifencei_sstc", .mmu_type = "riscv,sv57",
      .timebase_frequency = 10000000,
      .clint_base = 0x2000000, .clint_size = 0x10000,
      /* QEMU sizes the PLIC for its 512-hart maximum: 0x200000 + 1024 * 0x1000. */
      .plic_base = 0xc000000, .plic_size = 0x600000, .plic_ndev = 95,
      .uart_base = 0x10000000, .uart_size = 0x100, .uart_irq = 10, .uart_clock = 3686400,
      .test_base = 0x100000, .test_size = 0x1000,
      .nvirtio = VMX_FDT_MAX_VIRTIO,
  };
  for (unsigned i = 0; i < VMX_FDT_MAX_VIRTIO; i++)
    cfg->virtio[i] = (vmx_fdt_virtio_t){0x10001000 + 0x1000 * (uint64_t)i, 0x1000, 1 + i};
}

int vmx_fdt_build(const vmx_fdt_config_t *cfg, void **out, size_t *out_size,
                  char *err, size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  if (!cfg || !out || !out_size)
    return fail(err, errlen, VMX_EINVAL, "no configuration or no output");
  *out = NULL;
  *out_size = 0;
  int rc = check_config(cfg, err, errlen);
  isa_split_t isa = {.exts = NULL};
  if (!rc)
    rc = isa_split(cfg->isa, &isa, err, errlen);
  if (rc) {
    free(isa.exts);
    return rc;
  }
  void *buf = NULL;
  int frc = -FDT_ERR_NOSPACE;
  for (size_t size = FDT_START_SIZE; frc == -FDT_ERR_NOSPACE && size <= FDT_MAX_SIZE;
       size *= 2) {
    void *bigger = realloc(buf, size);
    if (!bigger) {
      free(buf);
      free(isa.exts);
      return fail(err, errlen, VMX_ENOMEM, "out of memory");
    }
    buf = bigger;
    frc = write_tree(buf, size, cfg, &isa);
  }
  free(isa.exts);
  if (frc) {
    free(buf);
    return fail(err, errlen, VMX_EINVAL, "libfdt: %s", fdt_strerror(frc));
  }
  size_t total = fdt_totalsize(buf);
  void *exact = realloc(buf, total);
  *out = exact ? exact : buf;
  *out_size = total;
  return 0;
}
