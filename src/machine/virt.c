/* The RISC-V `virt` machine: options, RAM, boot images, harts and device
 * actors, the console, and the end of the run.
 *
 * Threads: one loop per hart (its vCPU actor runs guest code in slices
 * and is kicked by any message to its loop), and one device loop holding
 * the device actors (uart, plic, clint, syscon, htif), their host timers
 * and the console's stdin. A hart reaches a device by message: a read is
 * an ask answered with MMIO_DATA, a write is posted (MMIO_WRITE), so later
 * accesses of the same hart arrive after it. Devices raise interrupt lines
 * by IRQ_LINE to the PLIC and HART_IRQ to harts. The main thread only sets
 * up, waits for the end (POWER, Ctrl-A X, a failed hart) and tears down.
 */
#include "machine/virt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "actors/actor.h"
#include "actors/sched.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "bus/bus.h"
#include "cpu/riscv/cpu.h"
#include "cpu/riscv/priv.h"
#include "devices/aclint.h"
#include "devices/htif.h"
#include "devices/plic.h"
#include "devices/syscon.h"
#include "devices/uart16550.h"
#include "actors/vcpu.h"
#include "debug/dbg_vcpu.h"
#include "debug/gdbstub.h"
#include "debug/trace_exec.h"
#include "machine/boot.h"
#include "machine/devices.h"
#include "machine/fdt.h"
#include "mem/pages.h"
#include "mem/rv_mmu.h"

#define MiB ((uint64_t)1 << 20)
#define GUARD ((size_t)64 << 10)
#define ASK_TIMEOUT_NS UINT64_C(10000000000)

typedef struct vmx_virt vmx_virt_t;

typedef struct hart {
  vmx_rv_cpu_t cpu;
  vmx_rv_sys_t sys;
  vmx_vcpu_t vcpu;
  vmx_vcpu_dbg_t dbg;  /* under gdb (-gdb) */
  vmx_virt_t *m;
  unsigned index;
  vmx_loop_t *loop;
  /* -icount: the hart's own clock (bias_ns changes on the hart's thread
   * only, and is read by the CLINT actor while the hart waits for its ask),
   * its mtimecmp as the CLINT has it (written by the device loop), and
   * whether a timer changed in a way its current run's limit misses. */
  vmx_aclint_vclock_t clock;
  _Atomic uint64_t mtimecmp;
  bool resync;
} hart_t;

/* A device's MMIO range and the actor that owns it. */
typedef struct region {
  uint64_t base, size;
  vmx_addr_t actor;
  const char *name;
  bool sync_writes; /* a write waits until the device has done it */
} region_t;

typedef struct options {
  uint64_t ram_size;
  unsigned smp;
  const char *bios, *kernel, *initrd, *append;
  const char *gdb;   /* -gdb DEV / -s: where the GDB server listens */
  bool gdb_wait;     /* -S: harts wait for gdb before the first instruction */
  bool trace_exec;   /* --trace-exec: log every block entered */
  bool icount;       /* -icount: time from each hart's instruction count */
  unsigned icount_shift;
} options_t;

struct vmx_virt {
  options_t opt;
  uint8_t *map;
  size_t map_len;
  uint8_t *ram;
  uint64_t ram_size;
  unsigned nharts;
  hart_t *harts[VMX_VIRT_MAX_HARTS];
  vmx_pages_t *pages;           /* RAM's page descriptors, one shard per hart */
  uint64_t entry, fdt_addr, info_addr;

  vmx_sched_t *sched;
  vmx_bus_t *bus;
  vmx_loop_t *dev_loop;
  vmx_bus_sender_t dev_sender; /* device-loop code outside a receive */
  bool gdb;
  vmx_addr_t gdb_server;
  vmx_bus_sender_t main_sender; /* the main thread's */
  vmx_devmgr_t *dm;             /* virtio devices (-device, -drive, -netdev) */
  vmx_trace_exec_t *tracer;     /* --trace-exec */
  vmx_addr_t virtio_a;
  region_t regions[8];
  unsigned nregions;
  uint64_t tohost, fromhost;

  /* Device state: touched only on the device loop. */
  vmx_addr_t uart_a, plic_a, clint_a, syscon_a, htif_a;
  vmx_uart16550_t uart;
  /* What harts may read of the UART without asking its actor (the 8250
   * driver reads LSR before every byte it writes): each register's
   * vmx_uart16550_peek value, valid while no posted write is on its way
   * (writes_done == writes_sent). Written by the device loop, read by harts. */
  struct {
    _Atomic uint64_t writes_sent, writes_done;
    _Atomic int32_t reg[8];
  } uart_view;
  vmx_plic_t plic;
  vmx_aclint_t clint;
  vmx_syscon_t syscon;
  vmx_htif_t htif;
  uint64_t t0_ns;
  uv_timer_t mtimer[VMX_VIRT_MAX_HARTS], stimer[VMX_VIRT_MAX_HARTS];
  /* The monitor's calc_dirty_rate: a measurement over `period_s` seconds
   * of the pages written (mem/pages.h's dirty logging). */
  struct {
    uv_timer_t timer;
    enum { DIRTY_UNSTARTED, DIRTY_MEASURING, DIRTY_MEASURED } status;
    uint64_t start_ms, period_s, pages;
  } dirty;
  uint64_t sdeadline[VMX_VIRT_MAX_HARTS];
  bool timers_ready;
  _Atomic uint64_t clint_offset; /* -icount: the CLINT's mtime - now(), for the harts */

  /* Console. */
  uint8_t out[4096];
  size_t out_len;
  uint8_t in[4096];
  size_t in_len;
  uv_poll_t stdin_poll;
  bool stdin_polling, stdin_eof, escape;
  /* Where typed bytes go; Ctrl-A C moves on, as QEMU's stdio mux does:
   * the UART, a virtio console if there is one, the monitor. */
  enum { FOCUS_UART, FOCUS_VIRTCON, FOCUS_MONITOR } focus;
  char mon_line[256];
  size_t mon_len;
  bool tty_raw;
  struct termios tty_saved;

  /* The end of the run. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;
  int exit_code;
  bool reboot;                  /* the guest asked for a reset: run again */
};

/* ------------------------------------------------------------ the end */

static void machine_end(vmx_virt_t *m, int code, bool reboot) {
  pthread_mutex_lock(&m->lock);
  if (!m->done) {
    m->done = true;
    m->exit_code = code;
    m->reboot = reboot;
    pthread_cond_signal(&m->cond);
  }
  pthread_mutex_unlock(&m->lock);
}

static void machine_finish(vmx_virt_t *m, int code) { machine_end(m, code, false); }

/* ------------------------------------------------------------ time */

/* mtime: 10 MHz ticks of the host's monotonic clock since the machine
 * started. Any thread. Under -icount there is no machine-wide clock: every
 * access to the CLINT comes with the time of the hart that makes it, and
 * this is only the clock's start (0). */
static uint64_t machine_now(void *arg) {
  vmx_virt_t *m = arg;
  if (m->opt.icount)
    return 0;
  return (vmx_clock_ns(CLOCK_MONOTONIC) - m->t0_ns) / VMX_ACLINT_NS_PER_TICK;
}

/* The hart's retired instructions at this point of its run: the
 * interpreter takes a block's length from the budget on entering it, so
 * this is the count at the end of the current block (exact between
 * blocks); outside a run it is icount. */
static uint64_t hart_count(const vmx_rv_cpu_t *cpu) { return cpu->icount_limit - cpu->budget; }

static uint64_t hart_mtime(void *machine, vmx_rv_cpu_t *cpu, uint64_t now) {
  vmx_virt_t *m = machine;
  if (!m->opt.icount)
    return vmx_aclint_mtime(&m->clint);
  hart_t *h = cpu->opaque;
  return vmx_aclint_vclock_ticks(&h->clock, now) +
         atomic_load_explicit(&m->clint_offset, memory_order_acquire);
}

/* ------------------------------------------------------------ sending */

/* A message from device-loop code (a device model's callback or a host
 * timer) to dst. */
static void dev_send(vmx_virt_t *m, vmx_addr_t dst, vmx_msg_t *msg) {
  int rc = vmx_bus_send_wait(&m->dev_sender, dst, msg, ASK_TIMEOUT_NS);
  if (rc)
    vmx_log_error("virt: lost a %s message: %s", vmx_msg_schema(msg->env.type)->name,
                  vmx_strerror(rc));
}

/* Interrupt lines into a hart: the change is made at once (so a device
 * register write the hart waits for has taken effect when it returns) and
 * a HART_IRQ tells the hart, which wakes it from wfi and is what a trace
 * records. */
static void hart_lines(vmx_virt_t *m, unsigned hart, uint64_t set, uint64_t clear) {
  if (hart >= m->nharts)
    return;
  vmx_rv_sys_set_lines(&m->harts[hart]->cpu, set, clear);
  vmx_msg_t msg = VMX_MSG_INIT(HART_IRQ);
  msg.body.hart_irq.set = set;
  msg.body.hart_irq.clear = clear;
  dev_send(m, m->harts[hart]->vcpu.addr, &msg);
}

/* ------------------------------------------------------------ console */

static void console_flush(vmx_virt_t *m) {
  size_t off = 0;
  while (off < m->out_len) {
    ssize_t n = write(STDOUT_FILENO, m->out + off, m->out_len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* stdout is gone: drop the output, keep the guest running */
    off += (size_t)n;
  }
  m->out_len = 0;
}

static void console_put(vmx_virt_t *m, uint8_t byte) {
  if (m->out_len == sizeof m->out)
    console_flush(m);
  m->out[m->out_len++] = byte;
}

static void tty_restore(vmx_virt_t *m) {
  if (m->tty_raw) {
    tcsetattr(STDIN_FILENO, TCSANOW, &m->tty_saved);
    m->tty_raw = false;
  }
}

static void tty_raw(vmx_virt_t *m) {
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &m->tty_saved))
    return;
  struct termios t = m->tty_saved;
  /* As QEMU's stdio: raw input (Ctrl-C goes to the guest), output
   * post-processing kept. */
  t.c_iflag &= ~(unsigned)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t.c_lflag &= ~(unsigned)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= ~(unsigned)(CSIZE | PARENB);
  t.c_cflag |= CS8;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
    m->tty_raw = true;
}

/* Moves typed bytes into the focused device while it has room: the UART's
 * FIFO, or the virtio console's receive buffers. */
static void console_feed(vmx_virt_t *m) {
  if (!m->in_len)
    return;
  size_t n = m->focus == FOCUS_VIRTCON ? vmx_devmgr_console_in(m->dm, m->in, m->in_len)
                                       : vmx_uart16550_rx(&m->uart, m->in, m->in_len);
  memmove(m->in, m->in + n, m->in_len - n);
  m->in_len -= n;
}

static void stdin_poll_cb(uv_poll_t *h, int status, int events);

static void stdin_poll_update(vmx_virt_t *m) {
  if (!m->stdin_eof && m->in_len < sizeof m->in / 2) {
    if (!m->stdin_polling && uv_poll_start(&m->stdin_poll, UV_READABLE, stdin_poll_cb) == 0)
      m->stdin_polling = true;
  } else if (m->stdin_polling) {
    uv_poll_stop(&m->stdin_poll);
    m->stdin_polling = false;
  }
}

static void console_puts(vmx_virt_t *m, const char *s) {
  for (; *s; s++) {
    if (*s == '\n')
      console_put(m, '\r');
    console_put(m, (uint8_t)*s);
  }
}

static void dirty_done(uv_timer_t *t) {
  vmx_virt_t *m = t->data;
  m->dirty.pages = vmx_pages_log_stop(m->pages);
  m->dirty.status = DIRTY_MEASURED;
}

/* calc_dirty_rate [-b] SECONDS, as QEMU's (dirty-bitmap mode; -r, the
 * dirty ring, is KVM's). */
static void dirty_start(vmx_virt_t *m, const char *args) {
  char flag[8] = "";
  unsigned long secs = 0;
  char extra;
  bool ok = sscanf(args, "%lu %c", &secs, &extra) == 1 ||
            (sscanf(args, "%7s %lu %c", flag, &secs, &extra) == 2 && !strcmp(flag, "-b"));
  if (!ok || secs < 1 || secs > 60) {
    console_puts(m, "usage: calc_dirty_rate [-b] SECONDS (1 to 60; -b, the dirty bitmap, is the "
                    "only mode)\n");
    return;
  }
  if (m->dirty.status == DIRTY_MEASURING) {
    console_puts(m, "calc_dirty_rate: a measurement is running (info dirty_rate)\n");
    return;
  }
  m->dirty.status = DIRTY_MEASURING;
  m->dirty.start_ms = (vmx_clock_ns(CLOCK_MONOTONIC) - m->t0_ns) / 1000000;
  m->dirty.period_s = secs;
  vmx_pages_log_start(m->pages);
  uv_timer_start(&m->dirty.timer, dirty_done, secs * 1000, 0);
}

/* info dirty_rate, in QEMU's words. */
static void dirty_info(vmx_virt_t *m) {
  static const char *const status[] = {"unstarted", "measuring", "measured"};
  char out[512];
  int n = snprintf(out, sizeof out, "Status: %s\n", status[m->dirty.status]);
  if (m->dirty.status != DIRTY_UNSTARTED)
    n += snprintf(out + n, sizeof out - (size_t)n,
                  "Start Time: %" PRIu64 " (ms)\nPeriod: %" PRIu64 " (sec)\nMode: dirty-bitmap\n",
                  m->dirty.start_ms, m->dirty.period_s);
  if (m->dirty.status == DIRTY_MEASURED)
    snprintf(out + n, sizeof out - (size_t)n,
             "Dirty pages: %" PRIu64 "\nDirty rate: %" PRIu64 " (MB/s)\n", m->dirty.pages,
             m->dirty.pages * 4096 / m->dirty.period_s / 1000000);
  console_puts(m, out);
}

/* One monitor command line (Ctrl-A C). Device loop. */
static void monitor_run(vmx_virt_t *m, char *line) {
  while (*line == ' ')
    line++;
  size_t len = strlen(line);
  while (len && line[len - 1] == ' ')
    line[--len] = 0;
  char out[2048], err[256];
  if (!strcmp(line, "help") || !strcmp(line, "?")) {
    console_puts(m, "info devices        the devices and their state\n"
                    "info stats          the actor runtime's counters\n"
                    "screendump FILE.png [-f png]  write the virtio-gpu screen as PNG\n"
                    "calc_dirty_rate [-b] SECONDS  count the RAM pages written in SECONDS\n"
                    "info dirty_rate     its result\n"
                    "quit                end vmx\n"
                    "(Ctrl-A C goes back to the guest's console)\n");
  } else if (!strcmp(line, "info devices")) {
    vmx_devmgr_info(m->dm, out, sizeof out);
    console_puts(m, out);
  } else if (!strncmp(line, "calc_dirty_rate", 15) && (line[15] == ' ' || !line[15])) {
    dirty_start(m, line + 15);
  } else if (!strcmp(line, "info dirty_rate")) {
    dirty_info(m);
  } else if (!strcmp(line, "info stats")) {
    console_flush(m);
    vmx_vcpu_stats_print(stdout, m->bus);
  } else if (!strncmp(line, "screendump ", 11)) {
    /* screendump FILE [-f png] (QEMU's form; PNG is the only format) */
    char file[200], fmt[16] = "png";
    int got = sscanf(line + 11, "%199s -f %15s", file, fmt);
    if (got < 1 || strcmp(fmt, "png")) {
      console_puts(m, "usage: screendump FILE.png [-f png]\n");
    } else if (vmx_devmgr_screendump(m->dm, file, err, sizeof err)) {
      console_puts(m, err);
      console_puts(m, "\n");
    }
  } else if (!strcmp(line, "quit") || !strcmp(line, "q")) {
    console_flush(m);
    machine_finish(m, 0);
    return;
  } else if (line[0]) {
    snprintf(out, sizeof out, "unknown command '%.200s' (try help)\n", line);
    console_puts(m, out);
  }
  console_puts(m, "(vmx) ");
}

/* A typed byte for the monitor: a line editor with echo. */
static void monitor_key(vmx_virt_t *m, uint8_t c) {
  if (c == '\r' || c == '\n') {
    console_puts(m, "\n");
    m->mon_line[m->mon_len] = 0;
    m->mon_len = 0;
    monitor_run(m, m->mon_line);
  } else if ((c == 0x7f || c == 8) && m->mon_len) {
    m->mon_len--;
    console_puts(m, "\b \b");
  } else if (c >= 0x20 && c < 0x7f && m->mon_len + 1 < sizeof m->mon_line) {
    m->mon_line[m->mon_len++] = (char)c;
    console_put(m, c);
  }
}

/* Console input with QEMU's escapes: Ctrl-A X quits, Ctrl-A C moves the
 * input on (serial console, virtio console if any, monitor), Ctrl-A H
 * helps, Ctrl-A Ctrl-A sends one Ctrl-A. Device loop. */
static void console_input(vmx_virt_t *m, const uint8_t *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = buf[i];
    if (m->escape) {
      m->escape = false;
      if (c == 'x' || c == 'X') {
        console_flush(m);
        fprintf(stderr, "vmx: terminated (Ctrl-A X)\r\n");
        machine_finish(m, 0);
        return;
      }
      if (c == 'h' || c == 'H') {
        fprintf(stderr, "\r\nC-a h    print this help\r\nC-a x    exit vmx\r\n"
                        "C-a c    switch input: serial console, virtio console, monitor\r\n"
                        "C-a C-a  send C-a\r\n");
        continue;
      }
      if (c == 'c' || c == 'C') {
        m->in_len = 0; /* what the last device did not take yet is dropped */
        m->mon_len = 0;
        m->focus = m->focus == FOCUS_UART && vmx_devmgr_has_console(m->dm) ? FOCUS_VIRTCON
                   : m->focus == FOCUS_MONITOR                              ? FOCUS_UART
                                                                            : FOCUS_MONITOR;
        console_puts(m, m->focus == FOCUS_MONITOR ? "\nvmx monitor (help lists the commands)\n(vmx) "
                                                  : "\n");
        console_flush(m);
        continue;
      }
      if (c != 1)
        continue;
    } else if (c == 1) {
      m->escape = true;
      continue;
    }
    if (m->focus == FOCUS_MONITOR) {
      monitor_key(m, c);
      continue;
    }
    if (m->in_len < sizeof m->in)
      m->in[m->in_len++] = c;
  }
  console_flush(m);
  if (m->in_len) {
    /* To the UART actor, which feeds its FIFO. */
    vmx_msg_t msg = VMX_MSG_INIT(CONSOLE_IN);
    msg.body.console_in.count = 0;
    dev_send(m, m->uart_a, &msg);
  }
}

static void stdin_poll_cb(uv_poll_t *h, int status, int events) {
  vmx_virt_t *m = h->data;
  (void)events;
  uint8_t buf[256];
  ssize_t n = status < 0 ? 0 : read(STDIN_FILENO, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0) {
    m->stdin_eof = true;
    stdin_poll_update(m);
    return;
  }
  console_input(m, buf, (size_t)n);
  stdin_poll_update(m);
}

/* Starts reading stdin on the device loop (a pipe or a terminal; other
 * kinds of stdin, such as /dev/null or a file, give no input). */
static void console_start(vmx_virt_t *m, uv_loop_t *uv) {
  m->stdin_poll.data = m;
  if (uv_poll_init(uv, &m->stdin_poll, STDIN_FILENO) != 0) {
    m->stdin_eof = true;
    return;
  }
  stdin_poll_update(m);
}

/* ------------------------------------------------------------ UART actor */

static void uart_tx(void *arg, uint8_t byte) { console_put(arg, byte); }

static void uart_irq(void *arg, bool level) {
  vmx_virt_t *m = arg;
  vmx_msg_t msg = VMX_MSG_INIT(IRQ_LINE);
  msg.body.irq_line.line = VMX_VIRT_UART0_IRQ;
  msg.body.irq_line.level = level;
  dev_send(m, m->plic_a, &msg);
}

/* Answers an MMIO_READ with value. */
static int mmio_reply(vmx_actor_ctx_t *ctx, uint64_t value, bool ok) {
  vmx_msg_t r = VMX_MSG_INIT(MMIO_DATA);
  r.body.mmio_data.value = value;
  r.body.mmio_data.ok = ok;
  return vmx_actor_reply(ctx, &r);
}

/* Answers a write that was sent as an ask (sync_writes regions). */
static int mmio_ack(vmx_actor_ctx_t *ctx, const vmx_msg_t *msg) {
  return msg->env.corr ? mmio_reply(ctx, 0, true) : 0;
}

static bool mmio_size_ok(uint32_t size) { return size == 1 || size == 2 || size == 4 || size == 8; }

/* The cases of a device actor's receive that serve register accesses with
 * the device model `model` (vmx_<model>_read/_write) on state dev, setting
 * rc: a read is answered with MMIO_DATA, a write acknowledged when it was
 * asked for. Bad sizes read as no register and are not written. `done` is
 * a statement run after the model's access and before the answer. */
#define MMIO_CASES_THEN(ctx, msg, model, dev, done)                                \
  case VMX_MSG_MMIO_READ: {                                                        \
    const vmx_msg_mmio_read_t *r_ = &(msg)->body.mmio_read;                        \
    bool ok_ = mmio_size_ok(r_->size);                                             \
    uint64_t v_ = ok_ ? vmx_##model##_read(dev, r_->offset, r_->size) : 0;         \
    done;                                                                          \
    rc = mmio_reply(ctx, v_, ok_);                                                 \
    break;                                                                         \
  }                                                                                \
  case VMX_MSG_MMIO_WRITE: {                                                       \
    const vmx_msg_mmio_write_t *w_ = &(msg)->body.mmio_write;                      \
    if (mmio_size_ok(w_->size))                                                    \
      vmx_##model##_write(dev, w_->offset, w_->size, w_->value);                   \
    done;                                                                          \
    rc = mmio_ack(ctx, msg);                                                       \
    break;                                                                         \
  }
#define MMIO_CASES(ctx, msg, model, dev) MMIO_CASES_THEN(ctx, msg, model, dev, (void)0)

/* Publishes the UART registers harts may read without asking: each copy
 * first, then (for a hart's posted write just done) the count, each a
 * release, so a hart that sees every write done sees their effects. */
static void uart_view_publish(vmx_virt_t *m, bool write_done) {
  for (unsigned off = 0; off < 8; off++)
    atomic_store_explicit(&m->uart_view.reg[off], vmx_uart16550_peek(&m->uart, off),
                          memory_order_release);
  if (write_done)
    atomic_fetch_add_explicit(&m->uart_view.writes_done, 1, memory_order_release);
}

static int uart_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_virt_t *m = state;
  int rc = 0;
  switch (msg->env.type) {
  /* Published before the answer: the hart's next read of the copy (LSR
   * right after RBR) must see what this access changed. */
  MMIO_CASES_THEN(ctx, msg, uart16550, &m->uart,
                  uart_view_publish(m, msg->env.type == VMX_MSG_MMIO_WRITE))
  case VMX_MSG_CONSOLE_IN:
    break;
  default:
    return 0;
  }
  console_feed(m);
  stdin_poll_update(m);
  console_flush(m);
  uart_view_publish(m, false); /* input may have come in */
  return rc;
}

/* A hart's one-byte read of the UART at off from the published copy: false
 * when it must ask (a register whose read changes something, or a posted
 * write not yet done, whose effect the copy may lack). */
static bool uart_view_read(vmx_virt_t *m, uint64_t off, uint64_t *val) {
  uint64_t sent = atomic_load_explicit(&m->uart_view.writes_sent, memory_order_acquire);
  if (atomic_load_explicit(&m->uart_view.writes_done, memory_order_acquire) != sent)
    return false;
  int32_t v = atomic_load_explicit(&m->uart_view.reg[off], memory_order_acquire);
  if (v < 0)
    return false;
  *val = (uint64_t)v;
  return true;
}

/* ------------------------------------------------------------ virtio actor */

/* The eight virtio-mmio slots, one actor for all (devices.h). */
static int virtio_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_virt_t *m = state;
  int rc = 0;
  switch (msg->env.type) {
  MMIO_CASES(ctx, msg, devmgr, m->dm)
  default:
    return 0;
  }
  console_flush(m);
  return rc;
}

static void virtio_irq(void *arg, unsigned line, bool level) {
  vmx_virt_t *m = arg;
  vmx_msg_t msg = VMX_MSG_INIT(IRQ_LINE);
  msg.body.irq_line.line = line;
  msg.body.irq_line.level = level;
  dev_send(m, m->plic_a, &msg);
}

static void virtio_console_out(void *arg, const uint8_t *buf, size_t n) {
  vmx_virt_t *m = arg;
  for (size_t i = 0; i < n; i++)
    console_put(m, buf[i]);
}

static void virtio_console_ready(void *arg) {
  vmx_virt_t *m = arg;
  console_feed(m);
  stdin_poll_update(m);
}

/* ------------------------------------------------------------ PLIC actor */

static void plic_eip(void *arg, unsigned ctx, bool level) {
  uint64_t bit = VMX_RV_MIP(ctx & 1 ? VMX_RV_IRQ_SEI : VMX_RV_IRQ_MEI);
  hart_lines(arg, ctx / 2, level ? bit : 0, level ? 0 : bit);
}

static int plic_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_virt_t *m = state;
  int rc = 0;
  switch (msg->env.type) {
  MMIO_CASES(ctx, msg, plic, &m->plic)
  case VMX_MSG_IRQ_LINE:
    if (msg->body.irq_line.line < VMX_PLIC_SOURCES)
      vmx_plic_set_irq(&m->plic, msg->body.irq_line.line, msg->body.irq_line.level);
    break;
  default:
    break;
  }
  return rc;
}

/* ------------------------------------------------------------ CLINT actor */

static void clint_msip(void *arg, unsigned hart, bool level) {
  uint64_t bit = VMX_RV_MIP(VMX_RV_IRQ_MSI);
  hart_lines(arg, hart, level ? bit : 0, level ? 0 : bit);
}

static void clint_mtip(void *arg, unsigned hart, bool level) {
  vmx_virt_t *m = arg;
  if (m->opt.icount)
    return; /* each hart raises its own MTIP (hart_timer_sync) */
  uint64_t bit = VMX_RV_MIP(VMX_RV_IRQ_MTI);
  hart_lines(m, hart, level ? bit : 0, level ? 0 : bit);
}

/* Arms a host timer for when the clock that reads `now` reaches deadline
 * (rounded up to the next millisecond: the callbacks check the time again
 * and re-arm if early). */
static void timer_arm(uv_timer_t *t, uint64_t now, uint64_t deadline, uv_timer_cb cb) {
  uv_timer_stop(t);
  if (deadline == UINT64_MAX)
    return;
  uint64_t ms = deadline > now ? (deadline - now + 9999) / 10000 : 0;
  uv_timer_start(t, cb, ms, 0);
}

static void mtimer_cb(uv_timer_t *t) {
  vmx_virt_t *m = t->data;
  vmx_aclint_tick(&m->clint); /* raises MTIP, or re-arms an early timer */
}

static void clint_armed(void *arg, unsigned hart, uint64_t deadline) {
  vmx_virt_t *m = arg;
  if (hart < m->nharts && m->timers_ready && !m->opt.icount)
    timer_arm(&m->mtimer[hart], machine_now(m),
              deadline == VMX_ACLINT_DISARMED ? UINT64_MAX : deadline, mtimer_cb);
}

static void stimer_cb(uv_timer_t *t) {
  vmx_virt_t *m = t->data;
  unsigned hart = (unsigned)(t - m->stimer);
  uint64_t deadline = m->sdeadline[hart], now = vmx_aclint_mtime(&m->clint);
  if (now < deadline) {
    timer_arm(t, now, deadline, stimer_cb);
    return;
  }
  hart_lines(m, hart, 0, 0); /* the hart sees STIP from its own stimecmp */
}

/* The host timers of every hart; on the device loop, once. */
static void timers_init(vmx_virt_t *m, uv_loop_t *uv) {
  if (m->timers_ready)
    return;
  for (unsigned i = 0; i < m->nharts; i++) {
    uv_timer_init(uv, &m->mtimer[i]);
    uv_timer_init(uv, &m->stimer[i]);
    m->mtimer[i].data = m->stimer[i].data = m;
    m->sdeadline[i] = UINT64_MAX;
  }
  uv_timer_init(uv, &m->dirty.timer);
  m->dirty.timer.data = m;
  m->dirty.status = DIRTY_UNSTARTED;
  m->timers_ready = true;
}

static void timers_close(vmx_virt_t *m) {
  if (!m->timers_ready)
    return;
  for (unsigned i = 0; i < m->nharts; i++) {
    uv_close((uv_handle_t *)&m->mtimer[i], NULL);
    uv_close((uv_handle_t *)&m->stimer[i], NULL);
  }
  if (m->dirty.status == DIRTY_MEASURING)
    vmx_pages_log_stop(m->pages);
  uv_close((uv_handle_t *)&m->dirty.timer, NULL);
  m->timers_ready = false;
}

/* -icount: the hart that sent msg, or nharts. */
static unsigned sender_hart(const vmx_virt_t *m, const vmx_msg_t *msg) {
  for (unsigned i = 0; i < m->nharts; i++)
    if (m->harts[i] && m->harts[i]->vcpu.addr == msg->env.src)
      return i;
  return m->nharts;
}

/* -icount: the sender's clock at the count its message is stamped with
 * (the hart waits for the answer, so its bias holds still meanwhile). */
static uint64_t sender_now(const vmx_virt_t *m, unsigned hart, const vmx_msg_t *msg) {
  if (hart >= m->nharts || msg->env.icount == VMX_ICOUNT_NONE)
    return 0;
  return vmx_aclint_vclock_ticks(&m->harts[hart]->clock, msg->env.icount);
}

/* -icount: gives the harts the CLINT's timer state after a write. The
 * writer reads it when its write returns; any other hart whose timer
 * changed gets a HART_IRQ, which makes it look again (at a count that
 * depends on host timing: only a hart's own timer writes are exact). */
static void clint_publish(vmx_virt_t *m, unsigned writer) {
  uint64_t off = vmx_aclint_offset(&m->clint);
  bool off_changed = atomic_exchange_explicit(&m->clint_offset, off, memory_order_acq_rel) != off;
  for (unsigned i = 0; i < m->nharts; i++) {
    uint64_t cmp = vmx_aclint_mtimecmp(&m->clint, i);
    bool changed = atomic_exchange_explicit(&m->harts[i]->mtimecmp, cmp, memory_order_acq_rel) != cmp;
    if ((changed || off_changed) && i != writer)
      hart_lines(m, i, 0, 0);
  }
}

static int clint_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_virt_t *m = state;
  timers_init(m, vmx_loop_uv(vmx_actor_loop(ctx)));
  int rc = 0;
  if (m->opt.icount && (msg->env.type == VMX_MSG_MMIO_READ || msg->env.type == VMX_MSG_MMIO_WRITE)) {
    unsigned hart = sender_hart(m, msg);
    uint64_t now = sender_now(m, hart, msg);
    if (msg->env.type == VMX_MSG_MMIO_READ) {
      const vmx_msg_mmio_read_t *r = &msg->body.mmio_read;
      bool ok = mmio_size_ok(r->size);
      return mmio_reply(ctx, ok ? vmx_aclint_read_at(&m->clint, r->offset, r->size, now) : 0, ok);
    }
    const vmx_msg_mmio_write_t *w = &msg->body.mmio_write;
    if (mmio_size_ok(w->size)) {
      vmx_aclint_write_at(&m->clint, w->offset, w->size, w->value, now);
      clint_publish(m, hart);
    }
    return mmio_ack(ctx, msg);
  }
  switch (msg->env.type) {
  MMIO_CASES(ctx, msg, aclint, &m->clint)
  case VMX_MSG_TIMER_SET: {
    unsigned hart = msg->body.timer_set.hart;
    if (hart < m->nharts) {
      m->sdeadline[hart] = msg->body.timer_set.deadline;
      /* stimecmp counts in mtime (the CLINT's time, with its offset). */
      timer_arm(&m->stimer[hart], vmx_aclint_mtime(&m->clint), m->sdeadline[hart], stimer_cb);
    }
    break;
  }
  default:
    break;
  }
  return rc;
}

/* ------------------------------------------------------------ syscon, HTIF */

static void syscon_event(void *arg, vmx_syscon_event_t ev, int code) {
  vmx_virt_t *m = arg;
  console_flush(m);
  machine_end(m, ev == VMX_SYSCON_RESET ? 0 : code, ev == VMX_SYSCON_RESET);
}

static int syscon_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_virt_t *m = state;
  int rc = 0;
  switch (msg->env.type) {
  MMIO_CASES(ctx, msg, syscon, &m->syscon)
  default:
    break;
  }
  return rc;
}

static bool ram_range(vmx_virt_t *m, uint64_t pa, size_t len, uint8_t **p) {
  if (pa < VMX_VIRT_DRAM_BASE || pa - VMX_VIRT_DRAM_BASE > m->ram_size ||
      len > m->ram_size - (pa - VMX_VIRT_DRAM_BASE))
    return false;
  *p = m->ram + (pa - VMX_VIRT_DRAM_BASE);
  return true;
}

static bool htif_mem_read(void *arg, uint64_t pa, void *buf, size_t len) {
  uint8_t *p;
  if (!ram_range(arg, pa, len, &p))
    return false;
  memcpy(buf, p, len);
  return true;
}

static bool htif_mem_write(void *arg, uint64_t pa, const void *buf, size_t len) {
  uint8_t *p;
  if (!ram_range(arg, pa, len, &p))
    return false;
  memcpy(p, buf, len);
  return true;
}

static void htif_console(void *arg, uint8_t byte) { console_put(arg, byte); }

static void htif_exit(void *arg, int code) {
  vmx_virt_t *m = arg;
  console_flush(m);
  machine_finish(m, code);
}

static int htif_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_virt_t *m = state;
  (void)ctx;
  if (msg->env.type == VMX_MSG_MMIO_WRITE) {
    vmx_htif_store(&m->htif, msg->body.mmio_write.offset, msg->body.mmio_write.size);
    console_flush(m);
  }
  return 0;
}

/* ------------------------------------------------------------ harts */

static const region_t *region_find(const vmx_virt_t *m, uint64_t pa, unsigned size) {
  for (unsigned i = 0; i < m->nregions; i++) {
    const region_t *r = &m->regions[i];
    if (pa >= r->base && pa - r->base < r->size && size <= r->size - (pa - r->base))
      return r;
  }
  return NULL;
}

/* ------------------------------------------------------------ -icount */

/* Sets the hart's MTIP from its clock after `count` instructions and
 * returns the count at which a timer (MTIP from mtimecmp, STIP from Sstc's
 * stimecmp) next falls due, or UINT64_MAX. Hart thread. */
static uint64_t hart_timer_sync(hart_t *h, uint64_t count) {
  vmx_virt_t *m = h->m;
  uint64_t off = atomic_load_explicit(&m->clint_offset, memory_order_acquire);
  uint64_t now = vmx_aclint_vclock_ticks(&h->clock, count);
  uint64_t limit = UINT64_MAX;
  uint64_t due = vmx_aclint_due(atomic_load_explicit(&h->mtimecmp, memory_order_acquire), off, now);
  uint64_t bit = VMX_RV_MIP(VMX_RV_IRQ_MTI);
  bool level = due <= now;
  if (level != !!(atomic_load_explicit(&h->sys.ext_mip, memory_order_relaxed) & bit))
    vmx_rv_sys_set_lines(&h->cpu, level ? bit : 0, level ? 0 : bit);
  if (!level && due != VMX_ACLINT_DISARMED)
    limit = vmx_aclint_vclock_icount_at(&h->clock, due);
  if (h->sys.menvcfg & VMX_RV_MENVCFG_STCE) {
    uint64_t sdue = vmx_aclint_due(h->sys.stimecmp, off, now);
    if (sdue > now && sdue != VMX_ACLINT_DISARMED) {
      uint64_t at = vmx_aclint_vclock_icount_at(&h->clock, sdue);
      limit = at < limit ? at : limit;
    }
  }
  return limit;
}

/* A wfi found nothing pending: moves the clock to the first timer that
 * would wake it (one enabled in mie), as QEMU's -icount sleep=off does.
 * Returns false when no timer would: the hart waits for a message. */
static bool hart_skip(hart_t *h) {
  uint64_t count = h->cpu.icount, now = vmx_aclint_vclock_ticks(&h->clock, count);
  uint64_t off = atomic_load_explicit(&h->m->clint_offset, memory_order_acquire);
  uint64_t target = VMX_ACLINT_DISARMED;
  if (h->sys.mie & VMX_RV_MIP(VMX_RV_IRQ_MTI))
    target = vmx_aclint_due(atomic_load_explicit(&h->mtimecmp, memory_order_acquire), off, now);
  if ((h->sys.menvcfg & VMX_RV_MENVCFG_STCE) && (h->sys.mie & VMX_RV_MIP(VMX_RV_IRQ_STI))) {
    uint64_t sdue = vmx_aclint_due(h->sys.stimecmp, off, now);
    target = sdue < target ? sdue : target;
  }
  if (target == VMX_ACLINT_DISARMED || target <= now)
    return false;
  vmx_aclint_vclock_skip(&h->clock, count, target);
  return true;
}

/* The hart's timers changed from inside its run (stimecmp, menvcfg.STCE, a
 * write to the CLINT): the run ends at the next block boundary, whose count
 * depends only on the guest's code, and hart_run starts it again with the
 * new limit. */
static void hart_resync(hart_t *h) {
  h->resync = true;
  atomic_fetch_or_explicit(&h->cpu.exit_request, VMX_RV_REQ_EXIT, memory_order_relaxed);
}

/* The hart's own write to the CLINT has been done (the ask returned): MTIP
 * takes its new level now, the deadline at the next block boundary. */
static void hart_timer_written(hart_t *h) {
  hart_timer_sync(h, hart_count(&h->cpu));
  hart_resync(h);
}

/* The hart's run: under -icount it stops at the count of each timer
 * deadline (icount_limit), where hart_timer_sync raises the line before the
 * next instruction, and a wfi with nothing pending jumps the clock to the
 * next deadline instead of waiting in host time. */
static vmx_rv_exit_t hart_run(vmx_rv_cpu_t *cpu) {
  hart_t *h = cpu->opaque;
  if (!h->m->opt.icount)
    return vmx_rv_cpu_run_sys(cpu);
  for (;;) {
    h->resync = false;
    cpu->icount_limit = hart_timer_sync(h, cpu->icount);
    vmx_rv_exit_t why = vmx_rv_cpu_run_sys(cpu);
    if (why == VMX_RV_EXIT_LIMIT)
      continue; /* a timer fell due */
    if (why == VMX_RV_EXIT_WFI && hart_skip(h))
      continue;
    if (why == VMX_RV_EXIT_REQUEST && h->resync && h->vcpu.ctx &&
        !vmx_actor_mail_waiting(h->vcpu.ctx))
      continue;
    return why;
  }
}

static bool hart_mmio_read(void *machine, vmx_rv_cpu_t *cpu, uint64_t pa, unsigned size,
                           uint64_t *val) {
  vmx_virt_t *m = machine;
  hart_t *h = cpu->opaque;
  const region_t *r = region_find(m, pa, size);
  if (!r || !h->vcpu.ctx)
    return false;
  if (r->actor == m->uart_a && size == 1 && pa - r->base < 8 &&
      uart_view_read(m, pa - r->base, val))
    return true;
  if (m->opt.icount)
    cpu->icount = hart_count(cpu); /* what the ask is stamped with */
  vmx_msg_t req = VMX_MSG_INIT(MMIO_READ), reply;
  req.body.mmio_read.offset = pa - r->base;
  req.body.mmio_read.size = size;
  int rc = vmx_actor_ask(h->vcpu.ctx, r->actor, &req, &reply, ASK_TIMEOUT_NS);
  if (rc || reply.env.type != VMX_MSG_MMIO_DATA) {
    vmx_log_error("hart %u: read of %s at 0x%" PRIx64 " got no answer: %s", h->index, r->name,
                  pa, vmx_strerror(rc ? rc : VMX_EIO));
    return false;
  }
  *val = reply.body.mmio_data.value;
  return reply.body.mmio_data.ok;
}

static bool hart_mmio_write(void *machine, vmx_rv_cpu_t *cpu, uint64_t pa, unsigned size,
                            uint64_t val) {
  vmx_virt_t *m = machine;
  hart_t *h = cpu->opaque;
  vmx_addr_t dst;
  uint64_t off;
  bool sync = false;
  if (m->htif_a != VMX_ADDR_NONE && (pa >> 12) == (m->tohost >> 12)) {
    /* The watched RAM page: the store is in RAM already. */
    if (pa + size <= m->tohost || pa >= m->tohost + 8)
      return true;
    dst = m->htif_a;
    off = pa;
  } else {
    const region_t *r = region_find(m, pa, size);
    if (!r)
      return false;
    dst = r->actor;
    off = pa - r->base;
    sync = r->sync_writes;
  }
  if (!h->vcpu.ctx)
    return false;
  if (m->opt.icount)
    cpu->icount = hart_count(cpu); /* what the message is stamped with */
  vmx_msg_t msg = VMX_MSG_INIT(MMIO_WRITE);
  msg.body.mmio_write.offset = off;
  msg.body.mmio_write.size = size;
  msg.body.mmio_write.value = val;
  int rc;
  if (sync) {
    /* Interrupt controllers: software expects a write (msip = 0, a PLIC
     * enable) to hold when the next instruction runs. */
    vmx_msg_t reply;
    rc = vmx_actor_ask(h->vcpu.ctx, dst, &msg, &reply, ASK_TIMEOUT_NS);
    if (rc)
      vmx_log_error("hart %u: write to 0x%" PRIx64 " got no answer: %s", h->index, pa,
                    vmx_strerror(rc));
    if (m->opt.icount && dst == m->clint_a)
      hart_timer_written(h);
    return true;
  }
  /* Counted before it can arrive: until it is done, harts ask the UART. */
  bool uart = dst == m->uart_a;
  if (uart)
    atomic_fetch_add_explicit(&m->uart_view.writes_sent, 1, memory_order_acq_rel);
  for (unsigned tries = 0; (rc = vmx_actor_send(h->vcpu.ctx, dst, &msg)) == VMX_EAGAIN &&
                           tries < 100000; tries++)
    vmx_clock_sleep_ns(10000); /* the device loop is behind: wait for room */
  if (rc && uart)
    atomic_fetch_sub_explicit(&m->uart_view.writes_sent, 1, memory_order_acq_rel);
  if (rc)
    vmx_log_error("hart %u: write to 0x%" PRIx64 " lost: %s", h->index, pa, vmx_strerror(rc));
  return true;
}

static void hart_timer_changed(void *machine, vmx_rv_cpu_t *cpu, uint64_t stimecmp) {
  vmx_virt_t *m = machine;
  hart_t *h = cpu->opaque;
  if (m->opt.icount) {
    hart_resync(h);
    return;
  }
  if (!h->vcpu.ctx)
    return;
  vmx_msg_t msg = VMX_MSG_INIT(TIMER_SET);
  msg.body.timer_set.hart = h->index;
  msg.body.timer_set.deadline = stimecmp;
  int rc;
  for (unsigned tries = 0; (rc = vmx_actor_send(h->vcpu.ctx, m->clint_a, &msg)) == VMX_EAGAIN &&
                           tries < 100000; tries++)
    vmx_clock_sleep_ns(10000); /* the device loop is behind: wait for room */
  if (rc)
    vmx_log_error("hart %u: timer update lost: %s", h->index, vmx_strerror(rc));
}

static const vmx_rv_machine_ops_t hart_ops = {
    .mmio_read = hart_mmio_read,
    .mmio_write = hart_mmio_write,
    .mtime = hart_mtime,
    .timer_changed = hart_timer_changed,
};

static int hart_on_exit(vmx_vcpu_t *v, vmx_rv_exit_t why) {
  switch (why) {
  case VMX_RV_EXIT_WFI: return VMX_VCPU_IDLE;
  case VMX_RV_EXIT_REQUEST:
  case VMX_RV_EXIT_LIMIT: return VMX_VCPU_CONTINUE;
  default: {
    hart_t *h = v->arg;
    vmx_log_error("hart %u: unexpected exit %d at pc 0x%" PRIx64, h->index, (int)why,
                  h->cpu.pc);
    machine_finish(h->m, 1);
    return VMX_VCPU_DONE;
  }
  }
}

/* HART_IRQ and timer wake-ups: the lines are set already (hart_lines);
 * the message only wakes the hart, whose next run looks at its interrupts. */
static int hart_on_message(vmx_vcpu_t *v, const vmx_msg_t *msg) {
  (void)v;
  (void)msg;
  return 0;
}

static int load_images(vmx_virt_t *m);

/* The hart's reset state: what harts_start gives it (the debugger's
 * `monitor reset`). */
static void hart_setup(hart_t *h) {
  vmx_virt_t *m = h->m;
  vmx_rv_dbg_t *dbg = h->cpu.dbg;
  memset(h->cpu.x, 0, sizeof h->cpu.x);
  memset(h->cpu.f, 0, sizeof h->cpu.f);
  h->cpu.fflags = h->cpu.frm = 0;
  h->cpu.resv_valid = false;
  h->sys.ram = m->ram;
  h->sys.ram_base = VMX_VIRT_DRAM_BASE;
  h->sys.ram_size = m->ram_size;
  h->sys.watch_pa = m->tohost ? m->tohost & ~(uint64_t)0xfff : UINT64_MAX;
  h->sys.pages = m->pages;
  h->sys.shard = h->index;
  h->sys.ops = &hart_ops;
  h->sys.machine = m;
  vmx_rv_sys_init(&h->cpu, &h->sys, h->index);
  h->cpu.dbg = dbg;
  h->cpu.pc = m->entry;
  h->cpu.x[10] = h->index;
  h->cpu.x[11] = m->fdt_addr;
  h->cpu.x[12] = m->info_addr;
  if (m->opt.icount) {
    /* hart_count reads icount until the first run sets a limit. */
    h->cpu.icount_limit = h->cpu.icount;
    h->cpu.budget = 0;
  }
}

static void hart_reset(vmx_vcpu_t *v) {
  hart_t *h = v->arg;
  hart_setup(h);
  vmx_rv_tlb_flush(&h->cpu, UINT64_MAX);
}

/* gdb's `monitor reset`, on the server's thread with every hart halted:
 * the images go back into RAM (each hart then resets itself). */
static int gdb_reset(void *arg) {
  vmx_virt_t *m = arg;
  return load_images(m) ? VMX_EIO : 0;
}

static void gdb_kill(void *arg) { machine_finish(arg, 0); }

static void hart_thread_start(vmx_loop_t *loop, void *arg) {
  hart_t *h = arg;
  vmx_sched_error_t err;
  unsigned pu;
  if (h->m->sched && vmx_sched_pin_loop(h->m->sched, h->index, &pu, &err))
    vmx_log_debug("hart loop %s not pinned: %s", vmx_loop_name(loop), err.text);
}

static void dev_thread_start(vmx_loop_t *loop, void *arg) {
  vmx_virt_t *m = arg;
  vmx_sched_error_t err;
  unsigned pu;
  if (m->sched && vmx_sched_pin_loop(m->sched, m->nharts, &pu, &err))
    vmx_log_debug("device loop %s not pinned: %s", vmx_loop_name(loop), err.text);
}

/* ------------------------------------------------------------ options */

static void usage(FILE *out) {
  fprintf(out,
          "usage: vmx -M virt [OPTIONS]\n"
          "\n"
          "Boots a RISC-V 64 `virt` machine (as QEMU's) with its console on stdio.\n"
          "\n"
          "  -M virt           the machine (the only one so far)\n"
          "  -m SIZE           RAM (default 128M; suffixes K, M, G; plain numbers are MiB)\n"
          "  -smp N            harts, 1 to %u (default 1)\n"
          "  -bios FILE|none   M-mode firmware (default %s);\n"
          "                    none: -kernel is a bare-metal ELF run in M-mode\n"
          "  -kernel FILE      a RISC-V Linux Image or a RISC-V ELF\n"
          "  -initrd FILE      initial ramdisk for Linux\n"
          "  -append CMDLINE   kernel command line\n"
          "  -nographic        accepted for QEMU compatibility (the console is always stdio)\n"
          "  -gdb tcp:[HOST]:PORT  serve gdb there (HOST defaults to 127.0.0.1); harts are\n"
          "                    gdb's threads 1..N\n"
          "  -s                -gdb tcp::1234\n"
          "  -device NAME[,OPTS]  a virtio device (-device help lists them)\n"
          "  -drive file=IMG,format=raw|qcow2[,if=virtio|none][,id=ID][,readonly=on]\n"
          "  -netdev user,id=ID[,hostfwd=tcp::HOSTPORT-:GUESTPORT]  user-mode network\n"
          "  -display none     the only display: see the monitor's screendump\n"
          "  -S                do not start the harts until gdb continues them\n"
          "  -icount [shift=]N[,sleep=off]  deterministic time: each hart's clock runs\n"
          "                    2^N ns per instruction it retires (N 0 to 10), and a hart\n"
          "                    idle in wfi jumps to its next timer deadline\n"
          "  --trace-exec      log every block of guest code entered on stderr, named\n"
          "                    from -kernel's ELF symbols and DWARF lines when it has them\n"
          "  --cpu-affinity LIST, --numa-node N   where the loop threads run\n"
          "\n"
          "Console: Ctrl-A X quits, Ctrl-A C opens the monitor (info devices, info stats,\n"
          "screendump FILE.png, calc_dirty_rate SECONDS, info dirty_rate, quit), Ctrl-A H\n"
          "lists the escapes. The exit status is 0 after a\n"
          "guest power-off, or the code the guest passed to the test device or HTIF.\n",
          VMX_VIRT_MAX_HARTS, VMX_VIRT_DEFAULT_BIOS);
}

static bool parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return false;
  uint64_t mul = MiB;
  if (*end) {
    switch (*end) {
    case 'k': case 'K': mul = 1024; break;
    case 'm': case 'M': mul = MiB; break;
    case 'g': case 'G': mul = MiB * 1024; break;
    default: return false;
    }
    if (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
      return false;
  }
  if (v > UINT64_MAX / mul)
    return false;
  *out = v * mul;
  return true;
}

/* -icount's value, QEMU's way: "N" or "shift=N", and "sleep=off" (the only
 * mode vmx has), separated by commas. */
static bool parse_icount(const char *val, unsigned *shift) {
  char buf[128];
  if (strlen(val) >= sizeof buf) {
    vmx_log_error("-icount %s: too long", val);
    return false;
  }
  strcpy(buf, val);
  bool have_shift = false;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    const char *num = NULL;
    if (!strncmp(tok, "shift=", 6))
      num = tok + 6;
    else if (tok == buf && tok[0] >= '0' && tok[0] <= '9')
      num = tok;
    if (num) {
      char *end;
      errno = 0;
      unsigned long n = strtoul(num, &end, 10);
      if (!strcmp(num, "auto")) {
        vmx_log_error("-icount shift=auto: vmx has no adaptive mode; give shift=0 to %u",
                      VMX_ACLINT_MAX_SHIFT);
        return false;
      }
      if (errno || end == num || *end || n > VMX_ACLINT_MAX_SHIFT) {
        vmx_log_error("-icount %s: shift must be a number from 0 to %u", val, VMX_ACLINT_MAX_SHIFT);
        return false;
      }
      *shift = (unsigned)n;
      have_shift = true;
    } else if (!strcmp(tok, "sleep=on")) {
      vmx_log_error("-icount %s: vmx has sleep=off only (idle harts skip to their next timer)",
                    val);
      return false;
    } else if (strcmp(tok, "sleep=off")) {
      vmx_log_error("-icount %s: unknown option '%s' (give [shift=]N[,sleep=off])", val, tok);
      return false;
    }
  }
  if (!have_shift) {
    vmx_log_error("-icount %s: give the shift: -icount shift=N (N from 0 to %u)", val,
                  VMX_ACLINT_MAX_SHIFT);
    return false;
  }
  return true;
}

/* Returns 0, 1 (error, reported) or 2 (help shown). */
static int parse_options(int argc, char **argv, options_t *o, vmx_sched_opts_t *so,
                         vmx_devmgr_t *dm) {
  o->ram_size = 128 * MiB;
  o->smp = 1;
  o->bios = VMX_VIRT_DEFAULT_BIOS;
  bool machine = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-help")) {
      usage(stdout);
      return 2;
    }
    if (!strcmp(a, "-nographic"))
      continue;
    if (!strcmp(a, "-s")) {
      o->gdb = "tcp::1234";
      continue;
    }
    if (!strcmp(a, "-S")) {
      o->gdb_wait = true;
      continue;
    }
    if (!strcmp(a, "--trace-exec")) {
      o->trace_exec = true;
      continue;
    }
    int src = vmx_sched_opts_arg(so, argc, argv, &i, NULL);
    if (src < 0)
      return 1;
    if (src > 0)
      continue;
    if (!val) {
      vmx_log_error("%s: missing value (try 'vmx -M virt --help')", a);
      return 1;
    }
    i++;
    if (!strcmp(a, "-M") || !strcmp(a, "-machine")) {
      if (strcmp(val, "virt")) {
        vmx_log_error("-M %s: unknown machine (vmx has 'virt')", val);
        return 1;
      }
      machine = true;
    } else if (!strcmp(a, "-m")) {
      if (!parse_size(val, &o->ram_size) || o->ram_size < 16 * MiB ||
          o->ram_size > (uint64_t)64 << 30 || (o->ram_size & (MiB - 1))) {
        vmx_log_error("-m %s: RAM must be a whole number of MiB from 16M to 64G", val);
        return 1;
      }
    } else if (!strcmp(a, "-smp")) {
      char *end;
      unsigned long n = strtoul(val, &end, 10);
      if (*end || n < 1 || n > VMX_VIRT_MAX_HARTS) {
        vmx_log_error("-smp %s: the number of harts must be 1 to %u", val, VMX_VIRT_MAX_HARTS);
        return 1;
      }
      o->smp = (unsigned)n;
    } else if (!strcmp(a, "-bios")) {
      o->bios = strcmp(val, "none") ? val : NULL;
    } else if (!strcmp(a, "-kernel")) {
      o->kernel = val;
    } else if (!strcmp(a, "-initrd")) {
      o->initrd = val;
    } else if (!strcmp(a, "-append")) {
      o->append = val;
    } else if (!strcmp(a, "-gdb")) {
      o->gdb = val;
    } else if (!strcmp(a, "-icount")) {
      if (!parse_icount(val, &o->icount_shift))
        return 1;
      o->icount = true;
    } else if (!strcmp(a, "-device") || !strcmp(a, "-drive") || !strcmp(a, "-netdev")) {
      char err[512];
      if (!strcmp(a, "-device") && !strcmp(val, "help")) {
        vmx_devmgr_help(stdout);
        return 2;
      }
      int drc = !strcmp(a, "-device") ? vmx_devmgr_add_device(dm, val, err, sizeof err)
                : !strcmp(a, "-drive")  ? vmx_devmgr_add_drive(dm, val, err, sizeof err)
                                        : vmx_devmgr_add_netdev(dm, val, err, sizeof err);
      if (drc) {
        vmx_log_error("%s", err);
        return 1;
      }
    } else if (!strcmp(a, "-display")) {
      if (strcmp(val, "none")) {
        vmx_log_error("-display %s: vmx shows no window (use -display none and the monitor's "
                      "screendump)", val);
        return 1;
      }
    } else {
      vmx_log_error("unknown option '%s' (try 'vmx -M virt --help')", a);
      return 1;
    }
  }
  if (!machine) {
    vmx_log_error("no machine: give -M virt (try 'vmx -M virt --help')");
    return 1;
  }
  if (!o->kernel && !o->bios) {
    vmx_log_error("nothing to run: give -kernel (a bare-metal ELF with -bios none)");
    return 1;
  }
  if (o->gdb_wait && !o->gdb) {
    vmx_log_error("-S waits for gdb: give -gdb tcp::PORT or -s too");
    return 1;
  }
  if (o->icount && (o->gdb || o->trace_exec)) {
    /* Both run harts through the debug interpreter, outside hart_run's
     * timer limits. */
    vmx_log_error("-icount does not work with %s yet", o->gdb ? "-gdb (or -s)" : "--trace-exec");
    return 1;
  }
  if (!o->kernel && (o->initrd || o->append)) {
    vmx_log_error("-initrd and -append need -kernel");
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------ set-up */

static int ram_map(vmx_virt_t *m) {
  m->map_len = m->ram_size + 2 * GUARD;
  m->map = mmap(NULL, m->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m->map == MAP_FAILED) {
    m->map = NULL;
    return VMX_ENOMEM;
  }
  m->ram = m->map + GUARD;
  if (mprotect(m->ram, m->ram_size, PROT_READ | PROT_WRITE)) {
    munmap(m->map, m->map_len);
    m->map = NULL;
    return VMX_ENOMEM;
  }
  madvise(m->ram, m->ram_size, MADV_HUGEPAGE);
  return 0;
}

/* Loads firmware, kernel, initrd and the device tree; sets the entry. */
static int load_images(vmx_virt_t *m) {
  char err[512];
  const uint64_t base = VMX_VIRT_DRAM_BASE;
  vmx_boot_image_t fw = {0}, k = {0};
  uint64_t kernel_addr = base;
  int rc;
  if (m->opt.bios) {
    rc = vmx_boot_load_firmware(m->opt.bios, m->ram, base, m->ram_size, &fw, err, sizeof err);
    if (rc)
      goto fail;
    kernel_addr = vmx_boot_kernel_addr(fw.end);
    m->entry = fw.entry;
    m->tohost = fw.tohost;
    m->fromhost = fw.fromhost;
  }
  if (m->opt.kernel) {
    rc = vmx_boot_load_kernel(m->opt.kernel, m->ram, base, m->ram_size, kernel_addr, &k, err,
                              sizeof err);
    if (rc)
      goto fail;
    if (!m->opt.bios) {
      if (!k.elf) {
        snprintf(err, sizeof err, "%s: -bios none runs a bare-metal ELF; a Linux Image needs "
                                  "firmware (-bios)", m->opt.kernel);
        rc = VMX_EINVAL;
        goto fail;
      }
      m->entry = k.entry;
      m->tohost = k.tohost;
      m->fromhost = k.fromhost;
    } else if (fw.end > k.start && k.end > fw.start) {
      snprintf(err, sizeof err, "%s overlaps the firmware %s in RAM", m->opt.kernel, m->opt.bios);
      rc = VMX_EINVAL;
      goto fail;
    }
  }
  vmx_fdt_config_t cfg;
  vmx_fdt_config_virt(&cfg, m->ram_size, m->nharts);
  cfg.bootargs = m->opt.append;
  if (m->opt.initrd) {
    rc = vmx_boot_load_initrd(m->opt.initrd, m->ram, base, m->ram_size, k.start, k.end,
                              &cfg.initrd_start, &cfg.initrd_end, err, sizeof err);
    if (rc)
      goto fail;
  }
  void *fdt;
  size_t fdt_size;
  rc = vmx_fdt_build(&cfg, &fdt, &fdt_size, err, sizeof err);
  if (rc)
    goto fail;
  rc = vmx_boot_place_fdt(m->ram, base, m->ram_size, fdt, fdt_size, &m->fdt_addr, err, sizeof err);
  free(fdt);
  if (rc)
    goto fail;
  if (cfg.initrd_end > m->fdt_addr) {
    snprintf(err, sizeof err, "%s does not fit below the device tree in %" PRIu64 " MiB of RAM",
             m->opt.initrd, m->ram_size / MiB);
    rc = VMX_ENOSPACE;
    goto fail;
  }
  if (m->opt.bios) {
    m->info_addr = vmx_boot_fw_dynamic_info_addr(m->fdt_addr);
    rc = vmx_boot_fw_dynamic_info(m->ram, base, m->ram_size, m->info_addr,
                                  m->opt.kernel ? kernel_addr : 0, VMX_BOOT_NEXT_MODE_S, 0, err,
                                  sizeof err);
    if (rc)
      goto fail;
  }
  return 0;
fail:
  vmx_log_error("%s", err);
  return rc;
}

static int add_region(vmx_virt_t *m, const char *name, uint64_t base, uint64_t size,
                      bool sync_writes, vmx_actor_receive_fn receive, vmx_addr_t *addr) {
  vmx_actor_def_t def = {.name = name, .receive = receive, .state = m, .mailbox_max = 4096};
  int rc = vmx_actor_spawn(m->dev_loop, &def, addr);
  if (rc)
    return rc;
  if (size)
    m->regions[m->nregions++] = (region_t){base, size, *addr, name, sync_writes};
  return 0;
}

static int devices_start(vmx_virt_t *m) {
  vmx_uart16550_init(&m->uart, &(vmx_uart16550_io_t){uart_tx, uart_irq, m});
  atomic_store(&m->uart_view.writes_sent, 0);
  atomic_store(&m->uart_view.writes_done, 0);
  uart_view_publish(m, false);
  int rc = vmx_plic_init(&m->plic, m->nharts, &(vmx_plic_io_t){plic_eip, m});
  if (!rc)
    rc = vmx_aclint_init(&m->clint, m->nharts,
                         &(vmx_aclint_io_t){machine_now, clint_msip, clint_mtip, clint_armed, m});
  if (rc)
    return rc;
  vmx_syscon_init(&m->syscon, &(vmx_syscon_io_t){syscon_event, m});
  m->htif_a = VMX_ADDR_NONE;
  if ((rc = add_region(m, "uart", VMX_VIRT_UART0_BASE, VMX_UART16550_SIZE, false, uart_receive,
                       &m->uart_a)) ||
      (rc = add_region(m, "plic", VMX_VIRT_PLIC_BASE, vmx_plic_size(m->nharts), true, plic_receive,
                       &m->plic_a)) ||
      (rc = add_region(m, "clint", VMX_VIRT_CLINT_BASE, VMX_ACLINT_SIZE, true, clint_receive,
                       &m->clint_a)) ||
      (rc = add_region(m, "syscon", VMX_VIRT_TEST_BASE, VMX_SYSCON_SIZE, false, syscon_receive,
                       &m->syscon_a)) ||
      (rc = add_region(m, "virtio", VMX_DEVMGR_BASE, VMX_DEVMGR_SLOTS * VMX_DEVMGR_STRIDE, false,
                       virtio_receive, &m->virtio_a)))
    return rc;
  if (m->tohost) {
    vmx_htif_init(&m->htif, m->tohost, m->fromhost,
                  &(vmx_htif_io_t){htif_mem_read, htif_mem_write, htif_console, htif_exit, m});
    if ((rc = add_region(m, "htif", 0, 0, false, htif_receive, &m->htif_a)))
      return rc;
  }
  return 0;
}

/* A device wrote guest RAM (a buffer the driver gave it): code decoded
 * from it goes. */
static void ram_written(void *arg, uint64_t gpa, uint64_t len) {
  vmx_virt_t *m = arg;
  vmx_pages_written(m->pages, -1, gpa, len);
}

/* The console, the timers and the virtio devices are set up on the device
 * loop's thread, by an actor there that ends after its one message. */
static int console_actor(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_virt_t *m = state;
  (void)msg;
  uv_loop_t *uv = vmx_loop_uv(vmx_actor_loop(ctx));
  console_start(m, uv);
  timers_init(m, uv);
  vmx_guest_ram_t ram = {m->ram, VMX_VIRT_DRAM_BASE, m->ram_size, ram_written, m};
  vmx_devmgr_io_t io = {virtio_irq, virtio_console_out, virtio_console_ready, m};
  char err[512];
  if (vmx_devmgr_start(m->dm, uv, &ram, &io, err, sizeof err)) {
    vmx_log_error("%s", err);
    machine_finish(m, 1);
  }
  return vmx_actor_stop(ctx, vmx_actor_self(ctx), 0);
}

static void dev_thread_exit(vmx_loop_t *loop, const vmx_loop_stats_t *stats, void *arg) {
  vmx_virt_t *m = arg;
  (void)loop;
  (void)stats;
  console_flush(m);
  if (!m->stdin_eof || m->stdin_polling)
    uv_close((uv_handle_t *)&m->stdin_poll, NULL);
  timers_close(m);
  vmx_devmgr_stop(m->dm);
}

static int harts_start(vmx_virt_t *m) {
  for (unsigned i = 0; i < m->nharts; i++) {
    hart_t *h = aligned_alloc(64, (sizeof *h + 63) & ~(size_t)63);
    if (!h)
      return VMX_ENOMEM;
    memset(h, 0, sizeof *h);
    m->harts[i] = h;
    h->m = m;
    h->index = i;
    h->clock.shift = m->opt.icount_shift;
    atomic_store(&h->mtimecmp, UINT64_MAX);
    int rc = vmx_rv_cpu_init(&h->cpu, NULL, 0, NULL);
    if (rc)
      return rc;
    h->cpu.opaque = h;
    vmx_pages_attach(m->pages, i, &h->cpu.exit_request, VMX_RV_REQ_CODE);
    hart_setup(h);
    char name[16];
    snprintf(name, sizeof name, "hart%u", i);
    vmx_loop_options_t lo = {
        .name = name,
        .ring_slots = 1023,
        .max_actors = 4,
        .on_thread_start = hart_thread_start,
        .hook_arg = h,
        .kick = (uint32_t *)&h->cpu.exit_request,
    };
    rc = vmx_loop_start(m->bus, &lo, &h->loop);
    if (rc)
      return rc;
    h->vcpu.cpu = &h->cpu;
    h->vcpu.run = hart_run;
    h->vcpu.on_exit = hart_on_exit;
    h->vcpu.on_message = hart_on_message;
    h->vcpu.on_reset = hart_reset;
    h->vcpu.arg = h;
    if (m->gdb) {
      vmx_dbg_vcpu_attach(&h->vcpu, &h->dbg, m->gdb_server, i + 1);
      h->dbg.halted = m->opt.gdb_wait;
    }
    if (m->tracer) {
      vmx_trace_exec_attach(m->tracer, &h->dbg.pts, i);
      h->cpu.dbg = &h->dbg.pts;
    }
  }
  /* Spawn them all paused-free only once every loop exists, so the first
   * IPI of hart 0 finds hart 1. */
  for (unsigned i = 0; i < m->nharts; i++) {
    char name[16];
    snprintf(name, sizeof name, "hart%u", i);
    int rc = vmx_vcpu_spawn(m->harts[i]->loop, &m->harts[i]->vcpu, name, true);
    if (rc)
      return rc;
  }
  for (unsigned i = 0; i < m->nharts; i++) {
    vmx_msg_t msg = VMX_MSG_INIT(VCPU_RESUME);
    int rc = vmx_bus_send_wait(&m->main_sender, m->harts[i]->vcpu.addr, &msg, ASK_TIMEOUT_NS);
    if (rc)
      return rc;
  }
  return 0;
}

/* The ELF file whose symbols name guest addresses: -kernel when it is an
 * ELF (a bare-metal program, an ELF kernel), else -bios when it is one. */
static const char *elf_symbols(const vmx_virt_t *m) {
  const char *files[] = {m->opt.kernel, m->opt.bios};
  for (unsigned i = 0; i < 2; i++) {
    unsigned char magic[4];
    FILE *f = files[i] ? fopen(files[i], "rb") : NULL;
    bool elf = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "\177ELF", 4);
    if (f)
      fclose(f);
    if (elf)
      return files[i];
  }
  return NULL;
}

/* A termination signal, seen by the main thread's wait. */
static volatile sig_atomic_t vmx__virt_signal;

static void on_fatal_signal(int sig) { vmx__virt_signal = sig; }

/* One power cycle of the machine on the loaded images: the bus, the
 * device loop and devices, the GDB server, the harts; then waits for the
 * end and tears all of it down. Returns the exit status; m->reboot tells
 * whether the guest asked for a reset (the caller reloads the images and
 * runs again, as a reset board would). */
static int machine_run(vmx_virt_t *m) {
  int status = 1;
  m->nregions = 0;
  m->done = m->reboot = false;
  m->exit_code = 0;
  m->in_len = m->mon_len = 0;
  m->stdin_polling = m->escape = false;
  m->focus = FOCUS_UART;
  m->gdb = false;
  int rc = vmx_bus_init(&m->bus, NULL);
  if (rc) {
    vmx_log_error("cannot set up the bus: %s", vmx_strerror(rc));
    return 1;
  }
  vmx_bus_sender_init(m->bus, &m->dev_sender);
  vmx_bus_sender_init(m->bus, &m->main_sender);
  m->t0_ns = vmx_clock_ns(CLOCK_MONOTONIC);
  /* New each power cycle: the harts' blocks are. */
  m->pages = vmx_pages_new(VMX_VIRT_DRAM_BASE, m->ram_size, m->nharts);
  if (!m->pages) {
    vmx_log_error("out of memory for the page descriptors");
    vmx_bus_close(m->bus);
    m->bus = NULL;
    return 1;
  }
  atomic_store(&m->clint_offset, 0);
  vmx_loop_options_t dlo = {
      .name = "devices",
      .on_thread_start = dev_thread_start,
      .on_thread_exit = dev_thread_exit,
      .hook_arg = m,
  };
  rc = vmx_loop_start(m->bus, &dlo, &m->dev_loop);
  if (!rc)
    rc = devices_start(m);
  vmx_addr_t console_a;
  if (!rc)
    rc = vmx_actor_spawn(m->dev_loop,
                         &(vmx_actor_def_t){.name = "console", .receive = console_actor, .state = m},
                         &console_a);
  if (!rc) {
    vmx_msg_t msg = VMX_MSG_INIT(CONSOLE_IN);
    rc = vmx_bus_send_wait(&m->main_sender, console_a, &msg, ASK_TIMEOUT_NS);
  }
  if (rc) {
    vmx_log_error("cannot start the devices: %s", vmx_strerror(rc));
    goto stop;
  }
  if (m->opt.gdb) {
    char host[64], err[300];
    unsigned port;
    if (vmx_gdb_parse_address(m->opt.gdb, host, sizeof host, &port)) {
      vmx_log_error("-gdb %s: give tcp:[HOST]:PORT", m->opt.gdb);
      goto stop;
    }
    vmx_gdb_opts_t go = {.host = host, .port = port, .system = true,
                         .start_running = !m->opt.gdb_wait, .on_kill = gdb_kill,
                         .on_reset = gdb_reset, .arg = m, .symbols = elf_symbols(m)};
    if (vmx_gdb_server_spawn(m->bus, &go, &m->gdb_server, err, sizeof err)) {
      vmx_log_error("%s", err);
      goto stop;
    }
    m->gdb = true;
  }
  if (!m->tty_raw)
    tty_raw(m);
  signal(SIGTERM, on_fatal_signal);
  signal(SIGINT, on_fatal_signal);
  signal(SIGHUP, on_fatal_signal);
  rc = harts_start(m);
  if (rc) {
    vmx_log_error("cannot start the harts: %s", vmx_strerror(rc));
    goto stop;
  }
  pthread_mutex_lock(&m->lock);
  while (!m->done) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&m->cond, &m->lock, &until);
    if (vmx__virt_signal && !m->done) {
      m->done = true;
      m->exit_code = 128 + vmx__virt_signal;
    }
  }
  status = m->exit_code;
  pthread_mutex_unlock(&m->lock);
  if (m->gdb && !m->reboot)
    vmx_gdb_notify_exit(&m->main_sender, m->gdb_server, status);
stop:
  if (m->bus) {
    /* Stop the harts first (a message kicks a hart out of guest code),
     * then drain and end every loop. */
    for (unsigned i = 0; i < m->nharts; i++) {
      if (m->harts[i] && m->harts[i]->vcpu.addr != VMX_ADDR_NONE) {
        vmx_msg_t msg = VMX_MSG_INIT(VCPU_STOP);
        vmx_bus_send_wait(&m->main_sender, m->harts[i]->vcpu.addr, &msg, ASK_TIMEOUT_NS);
      }
    }
    vmx_loop_stop_all(m->bus, UINT64_C(5000000000));
    vmx_bus_close(m->bus);
    m->bus = NULL;
  }
  for (unsigned i = 0; i < m->nharts; i++) {
    if (m->harts[i]) {
      vmx_rv_cpu_close(&m->harts[i]->cpu);
      free(m->harts[i]);
      m->harts[i] = NULL;
    }
  }
  vmx_pages_free(m->pages);
  m->pages = NULL;
  return status;
}

int vmx_virt_main(int argc, char **argv) {
  vmx_virt_t *m = calloc(1, sizeof *m);
  if (!m) {
    vmx_log_error("out of memory");
    return 1;
  }
  vmx_sched_opts_t so = {0};
  m->dm = vmx_devmgr_new();
  int rc = m->dm ? parse_options(argc, argv, &m->opt, &so, m->dm) : 1;
  if (rc) {
    vmx_devmgr_free(m->dm);
    free(m);
    return rc == 2 ? 0 : 1;
  }
  int status = 1;
  char derr[512];
  if (vmx_devmgr_prepare(m->dm, derr, sizeof derr)) {
    vmx_log_error("%s", derr);
    vmx_devmgr_free(m->dm);
    free(m);
    return 1;
  }
  m->ram_size = m->opt.ram_size;
  m->nharts = m->opt.smp;
  pthread_mutex_init(&m->lock, NULL);
  pthread_cond_init(&m->cond, NULL);
  if (ram_map(m)) {
    vmx_log_error("cannot allocate %" PRIu64 " MiB of guest RAM", m->ram_size / MiB);
    goto out;
  }
  if (load_images(m))
    goto out;

  vmx_sched_error_t serr;
  if (vmx_sched_init(&m->sched, &so, &serr)) {
    vmx_log_error("%s", serr.text);
    goto out;
  }
  if (vmx_sched_membind(m->sched, m->ram, m->ram_size, &serr))
    vmx_log_debug("guest RAM not bound to a node: %s", serr.text);
  if (m->opt.trace_exec)
    m->tracer = vmx_trace_exec_new(elf_symbols(m), 0);
  for (;;) {
    status = machine_run(m);
    if (!m->reboot || vmx__virt_signal)
      break;
    if (load_images(m)) {
      status = 1;
      break;
    }
  }
  tty_restore(m);
out:
  vmx_devmgr_free(m->dm);
  if (m->sched)
    vmx_sched_close(m->sched);
  if (m->map)
    munmap(m->map, m->map_len);
  free(m);
  return status;
}
