/* The GDB remote-protocol server (see gdbstub.h). One connection at a time;
 * everything runs on the server's loop thread: the TCP callbacks and the
 * actor's receive (DBG_STOPPED and DBG_THREAD from vCPUs). The server asks
 * vCPUs through a sender of its own and waits for each answer, which is why
 * it needs a loop of its own. */
#include "debug/gdbstub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/error.h"
#include "base/log.h"
#include "debug/dbg_vcpu.h"
#include "debug/gdb_proto.h"
#include "debug/gdb_target.h"
#include "debug/symbols.h"

#define ASK_NS UINT64_C(2000000000)
#define KICK_AFTER_NS UINT64_C(20000000) /* a halt unanswered this long: kick */
#define MAX_POINTS 128
#define SIGINT_GDB 2
#define SIGTRAP_GDB 5

typedef struct gthread {
  uint32_t id;
  vmx_addr_t vcpu;
  uint64_t pc, icount; /* as of its last stop */
} gthread_t;

typedef struct point {
  unsigned type;
  uint64_t addr, len;
} point_t;

struct vmx_gdb_server {
  vmx_gdb_opts_t o;
  char host[64];
  vmx_loop_t *loop;
  uv_tcp_t listener;
  uv_tcp_t conn;
  bool connected, closing;
  vmx_addr_t self;
  vmx_bus_sender_t tx;
  vmx_symbols_t *sym;    /* names pc and ra in `monitor info registers` */

  bool noack;
  char *last;            /* the last packet sent, for a '-' */
  size_t last_len;

  gthread_t *th;
  unsigned nth, cap;
  uint32_t g_thread, c_thread; /* H selections (0: the stop thread) */
  unsigned info_next;    /* qsThreadInfo position */

  bool running;
  uint32_t epoch;
  struct {
    int sig;
    uint32_t thread;
    unsigned watch;
    uint64_t addr;
    bool fault;          /* the thread holds a guest fault, reported as sig */
  } stop;
  bool exited;
  int exit_code;

  point_t pts[MAX_POINTS];
  unsigned npts;

  vmx_gdb_rx_t rx;
  vmx_gdb_cmd_t cmd;
  uint8_t buf[VMX_GDB_PACKET_MAX];
  /* Buffers lent to vCPUs by handle. They live as long as the server, so
   * a vCPU that answers after the server stopped waiting (a timeout) can
   * only write stale bytes, never into a dead stack frame. */
  uint8_t regs[VMX_GDB_G_REGS * 8]; /* a g set, for a short G */
  uint64_t word;                    /* one register */
  char out[VMX_GDB_PACKET_MAX + 16];
  char frame[2 * VMX_GDB_PACKET_MAX + 16];
};

/* ------------------------------------------------------------ threads */

static gthread_t *thread_find(vmx_gdb_server_t *s, uint32_t id) {
  for (unsigned i = 0; i < s->nth; i++)
    if (s->th[i].id == id)
      return &s->th[i];
  return NULL;
}

static void thread_add(vmx_gdb_server_t *s, uint32_t id, vmx_addr_t vcpu) {
  gthread_t *t = thread_find(s, id);
  if (t) {
    t->vcpu = vcpu;
    return;
  }
  if (s->nth == s->cap) {
    unsigned cap = s->cap ? 2 * s->cap : 8;
    gthread_t *n = realloc(s->th, cap * sizeof *n);
    if (!n)
      return;
    s->th = n;
    s->cap = cap;
  }
  unsigned i = s->nth++;
  while (i > 0 && s->th[i - 1].id > id) {
    s->th[i] = s->th[i - 1];
    i--;
  }
  s->th[i] = (gthread_t){.id = id, .vcpu = vcpu};
}

static void thread_remove(vmx_gdb_server_t *s, uint32_t id) {
  for (unsigned i = 0; i < s->nth; i++) {
    if (s->th[i].id == id) {
      memmove(&s->th[i], &s->th[i + 1], (s->nth - i - 1) * sizeof s->th[0]);
      s->nth--;
      break;
    }
  }
  if (s->g_thread == id)
    s->g_thread = 0;
  if (s->c_thread == id)
    s->c_thread = 0;
}

/* The thread a g/m/p packet means: Hg's choice, else the one that stopped. */
static gthread_t *thread_current(vmx_gdb_server_t *s, uint32_t sel) {
  gthread_t *t = sel ? thread_find(s, sel) : NULL;
  if (!t)
    t = thread_find(s, s->stop.thread);
  if (!t && s->nth)
    t = &s->th[0];
  return t;
}

/* -------------------------------------------------------- vCPU control */

static int ask(vmx_gdb_server_t *s, gthread_t *t, vmx_msg_t *req, vmx_msg_t *reply) {
  return vmx_bus_ask(&s->tx, t->vcpu, req, reply, ASK_NS);
}

/* Halts one vCPU and notes where it is. A vCPU that is gone is forgotten;
 * one that does not answer in time (blocked in a system call) is left. */
static void halt(vmx_gdb_server_t *s, gthread_t *t) {
  vmx_msg_t q = VMX_MSG_INIT(DBG_HALT), r;
  int rc = s->o.kick ? vmx_bus_ask(&s->tx, t->vcpu, &q, &r, KICK_AFTER_NS) : ask(s, t, &q, &r);
  if (rc == VMX_EAGAIN && s->o.kick) {
    /* Busy in the kernel: interrupt the wait and ask again. */
    s->o.kick(s->o.arg, t->id);
    q = (vmx_msg_t)VMX_MSG_INIT(DBG_HALT);
    rc = ask(s, t, &q, &r);
  }
  if (rc == 0 && r.env.type == VMX_MSG_DBG_STOPPED) {
    t->pc = r.body.dbg_stopped.pc;
    t->icount = r.body.dbg_stopped.icount;
  } else if (rc == VMX_ENOENT) {
    thread_remove(s, t->id);
  } else {
    vmx_log_debug("gdb: thread %u did not halt: %s", t->id, vmx_strerror(rc));
  }
}

static void halt_all(vmx_gdb_server_t *s) {
  for (unsigned i = s->nth; i-- > 0;)
    halt(s, &s->th[i]);
  s->running = false;
}

static void resume_one(vmx_gdb_server_t *s, gthread_t *t, bool step, int sig) {
  vmx_msg_t m = VMX_MSG_INIT(DBG_RESUME);
  m.body.dbg_resume.epoch = s->epoch;
  m.body.dbg_resume.step = step;
  m.body.dbg_resume.signal = sig;
  int rc = vmx_bus_send_wait(&s->tx, t->vcpu, &m, ASK_NS);
  if (rc)
    vmx_log_debug("gdb: cannot resume thread %u: %s", t->id, vmx_strerror(rc));
}

/* Reads or writes register regno (-1: the g set) of t through buf. Returns
 * 0, or a negative code (no answer, or the vCPU's refusal). */
static int regs_ask(vmx_gdb_server_t *s, gthread_t *t, int regno, bool write, void *buf, size_t len) {
  vmx_msg_t q = VMX_MSG_INIT(DBG_REGS), r;
  q.body.dbg_regs.regno = regno;
  q.body.dbg_regs.write = write;
  q.body.dbg_regs.buf = (uint64_t)(uintptr_t)buf;
  q.body.dbg_regs.len = (uint32_t)len;
  int rc = ask(s, t, &q, &r);
  return rc ? rc : r.body.dbg_done.status;
}

static int point_apply(vmx_gdb_server_t *s, gthread_t *t, bool insert, const point_t *p) {
  vmx_msg_t q = VMX_MSG_INIT(DBG_POINT), r;
  q.body.dbg_point.insert = insert;
  q.body.dbg_point.type = p->type;
  q.body.dbg_point.addr = p->addr;
  q.body.dbg_point.len = p->len;
  int rc = ask(s, t, &q, &r);
  return rc ? rc : r.body.dbg_done.status;
}

/* Removes every breakpoint and watchpoint and lets the guest run on
 * (detach, or the connection went away). */
static void release(vmx_gdb_server_t *s) {
  if (s->exited)
    return;
  if (s->running)
    halt_all(s);
  for (unsigned i = 0; i < s->npts; i++)
    for (unsigned j = 0; j < s->nth; j++)
      point_apply(s, &s->th[j], false, &s->pts[i]);
  s->npts = 0;
  s->epoch++;
  /* A fault gdb was told of goes to the guest, as if gdb had passed it. */
  for (unsigned j = 0; j < s->nth; j++)
    resume_one(s, &s->th[j], false,
               s->stop.fault && s->th[j].id == s->stop.thread ? s->stop.sig : 0);
  s->stop.fault = false;
  s->running = true;
}

/* ------------------------------------------------------------ sending */

typedef struct write_req {
  uv_write_t req;
  char data[];
} write_req_t;

static void write_done(uv_write_t *req, int status) { free(req); }

static void send_raw(vmx_gdb_server_t *s, const char *data, size_t len) {
  if (!s->connected || s->closing)
    return;
  write_req_t *w = malloc(sizeof *w + len);
  if (!w)
    return;
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&s->conn, &b, 1, write_done))
    free(w);
}

static void reply_len(vmx_gdb_server_t *s, const char *payload, size_t len) {
  size_t n = vmx_gdb_tx_packet(s->frame, sizeof s->frame, payload, len);
  if (n == 0) {
    n = vmx_gdb_tx_packet(s->frame, sizeof s->frame, "E01", 3);
  }
  char *copy = malloc(n);
  if (copy) {
    memcpy(copy, s->frame, n);
    free(s->last);
    s->last = copy;
    s->last_len = n;
  }
  send_raw(s, s->frame, n);
}

static void reply(vmx_gdb_server_t *s, const char *payload) { reply_len(s, payload, strlen(payload)); }

static void reply_error(vmx_gdb_server_t *s, int code) {
  char e[8];
  snprintf(e, sizeof e, "E%02x", code & 0xff);
  reply(s, e);
}

/* The stop reply for the last stop. */
static void reply_stop(vmx_gdb_server_t *s) {
  if (s->exited) {
    char w[8];
    snprintf(w, sizeof w, "W%02x", s->exit_code & 0xff);
    reply(s, w);
    return;
  }
  if (!thread_find(s, s->stop.thread) && s->nth)
    s->stop.thread = s->th[0].id; /* the stopped thread is gone (or none stopped yet) */
  int n = snprintf(s->out, sizeof s->out, "T%02xthread:%x;", s->stop.sig, s->stop.thread);
  if (s->stop.watch) {
    static const char *const kind[] = {[2] = "watch", [3] = "rwatch", [4] = "awatch"};
    snprintf(s->out + n, sizeof s->out - (size_t)n, "%s:%" PRIx64 ";", kind[s->stop.watch],
             s->stop.addr);
  }
  reply(s, s->out);
}

/* ---------------------------------------------------------- commands */

static void cmd_regs(vmx_gdb_server_t *s, int regno, bool write, const uint8_t *data, size_t len) {
  gthread_t *t = thread_current(s, s->g_thread);
  if (!t) {
    reply_error(s, 1);
    return;
  }
  const vmx_gdb_reg_t *reg = NULL;
  if (regno >= 0 && !(reg = vmx_gdb_target_reg(s->o.system, (unsigned)regno))) {
    reply_error(s, 1);
    return;
  }
  size_t size = regno < 0 ? VMX_GDB_G_REGS * 8 : reg->size;
  if (write) {
    if (len != size && !(regno < 0 && len <= size && len % 8 == 0)) {
      reply_error(s, 1);
      return;
    }
    memset(s->buf, 0, size);
    memcpy(s->buf, data, len);
    if (regno < 0 && len < size) {
      /* A short G: keep the registers it does not cover. */
      if (regs_ask(s, t, -1, false, s->regs, sizeof s->regs)) {
        reply_error(s, 14);
        return;
      }
      memcpy(s->buf + len, s->regs + len, size - len);
    }
  }
  if (regs_ask(s, t, regno, write, s->buf, size)) {
    reply_error(s, 14);
    return;
  }
  if (write) {
    reply(s, "OK");
    return;
  }
  size_t n = vmx_gdb_hex_encode(s->out, sizeof s->out, s->buf, size);
  reply_len(s, s->out, n);
}

static void cmd_mem(vmx_gdb_server_t *s, uint64_t addr, uint64_t len, bool write, const uint8_t *data) {
  gthread_t *t = thread_current(s, s->g_thread);
  if (!t) {
    reply_error(s, 1);
    return;
  }
  if (write && len > sizeof s->buf) {
    reply_error(s, 22);
    return;
  }
  if (!write && len > (VMX_GDB_PACKET_MAX - 8) / 2)
    len = (VMX_GDB_PACKET_MAX - 8) / 2; /* a read answers what fits; gdb asks for the rest */
  if (len == 0) {
    reply(s, write ? "OK" : "");
    return;
  }
  if (write)
    memcpy(s->buf, data, len);
  vmx_msg_t q = VMX_MSG_INIT(DBG_MEM), r;
  q.body.dbg_mem.addr = addr;
  q.body.dbg_mem.write = write;
  q.body.dbg_mem.buf = (uint64_t)(uintptr_t)s->buf;
  q.body.dbg_mem.len = (uint32_t)len;
  int rc = ask(s, t, &q, &r);
  if (rc || r.body.dbg_done.status || (write && r.body.dbg_done.len != len)) {
    reply_error(s, 14);
    return;
  }
  if (write) {
    /* Other vCPUs may hold decoded copies of what changed. */
    for (unsigned i = 0; i < s->nth; i++) {
      if (&s->th[i] == t)
        continue;
      vmx_msg_t f = VMX_MSG_INIT(DBG_MEM), fr;
      f.body.dbg_mem.write = true; /* zero bytes: only drop decoded code */
      ask(s, &s->th[i], &f, &fr);
    }
    reply(s, "OK");
    return;
  }
  size_t n = vmx_gdb_hex_encode(s->out, sizeof s->out, s->buf, r.body.dbg_done.len);
  reply_len(s, s->out, n);
}

static void cmd_point(vmx_gdb_server_t *s, bool insert, int type, uint64_t addr, uint64_t len) {
  if (type < 0 || type > 4) {
    reply(s, "");
    return;
  }
  /* Software and hardware breakpoints are the same thing here. */
  point_t p = {.type = type <= 1 ? 0 : (unsigned)type, .addr = addr, .len = type <= 1 ? 0 : len};
  unsigned i = 0;
  while (i < s->npts && !(s->pts[i].type == p.type && s->pts[i].addr == p.addr && s->pts[i].len == p.len))
    i++;
  if (insert && i == s->npts && s->npts == MAX_POINTS) {
    reply_error(s, 28);
    return;
  }
  int rc = 0;
  unsigned j = 0;
  while (j < s->nth) {
    int r = point_apply(s, &s->th[j], insert, &p);
    if (r == VMX_ENOENT) {
      thread_remove(s, s->th[j].id); /* the thread ended */
      continue;
    }
    if (r) {
      rc = r;
      break;
    }
    j++;
  }
  if (rc) {
    /* All or nothing: take it back from the threads that took it. */
    while (insert && j-- > 0)
      point_apply(s, &s->th[j], false, &p);
    reply_error(s, 22);
    return;
  }
  if (insert && i == s->npts)
    s->pts[s->npts++] = p;
  else if (!insert && i < s->npts)
    s->pts[i] = s->pts[--s->npts];
  reply(s, "OK");
}

/* Resumes per the actions: step[i] for the threads to step; with any step,
 * only those run (the others stay halted, as with gdb's scheduler-locking
 * during a step); else every thread not told 't' continues. */
static void cmd_resume(vmx_gdb_server_t *s, const vmx_gdb_vcont_t *acts, size_t nacts) {
  if (s->exited) {
    reply_stop(s);
    return;
  }
  char act[512];
  uint8_t sig[512];
  unsigned n = s->nth < sizeof act ? s->nth : sizeof act;
  bool any_step = false;
  for (unsigned i = 0; i < n; i++) {
    act[i] = 0;
    sig[i] = 0;
    for (size_t k = 0; k < nacts; k++) {
      const vmx_gdb_vcont_t *a = &acts[k];
      bool match = !a->has_thread || a->thread.tid == VMX_GDB_TID_ALL ||
                   (a->thread.tid == VMX_GDB_TID_ANY && i == 0) || a->thread.tid == (int64_t)s->th[i].id;
      if (match) {
        act[i] = a->action == 'S' ? 's' : a->action == 'C' ? 'c' : a->action;
        sig[i] = (a->action == 'S' || a->action == 'C') ? a->sig : 0;
        break;
      }
    }
    if (act[i] == 's')
      any_step = true;
  }
  s->epoch++;
  s->running = true;
  s->stop.watch = 0;
  s->stop.fault = false;
  for (unsigned i = 0; i < n; i++) {
    if (act[i] == 's')
      resume_one(s, &s->th[i], true, sig[i]);
    else if (act[i] == 'c' && !any_step)
      resume_one(s, &s->th[i], false, sig[i]);
  }
}

static void simple_resume(vmx_gdb_server_t *s, bool step, int sig, bool has_addr, uint64_t addr) {
  gthread_t *t = thread_current(s, s->c_thread);
  if (!t) {
    reply_error(s, 1);
    return;
  }
  s->word = addr;
  if (has_addr && regs_ask(s, t, VMX_DBG_REG_PC, true, &s->word, sizeof s->word)) {
    reply_error(s, 14);
    return;
  }
  vmx_gdb_vcont_t a = {.action = step ? (sig ? 'S' : 's') : (sig ? 'C' : 'c'), .sig = (uint8_t)sig,
                       .has_thread = step, .thread = {.tid = (int64_t)t->id}};
  cmd_resume(s, &a, 1);
}

static void thread_info(vmx_gdb_server_t *s, bool first) {
  if (first)
    s->info_next = 0;
  if (s->info_next >= s->nth) {
    reply(s, "l");
    return;
  }
  size_t n = 0;
  s->out[n++] = 'm';
  while (s->info_next < s->nth && n + 20 < sizeof s->out) {
    n += (size_t)snprintf(s->out + n, sizeof s->out - n, "%s%x", n > 1 ? "," : "",
                          s->th[s->info_next].id);
    s->info_next++;
  }
  reply_len(s, s->out, n);
}

static void xfer_threads(vmx_gdb_server_t *s, uint64_t off, uint64_t len) {
  size_t cap = 64 + (size_t)s->nth * 64;
  char *doc = malloc(cap);
  if (!doc) {
    reply_error(s, 12);
    return;
  }
  size_t n = (size_t)snprintf(doc, cap, "<?xml version=\"1.0\"?>\n<threads>\n");
  for (unsigned i = 0; i < s->nth; i++)
    n += (size_t)snprintf(doc + n, cap - n, "<thread id=\"%x\" name=\"%s %u\"/>\n", s->th[i].id,
                          s->o.system ? "hart" : "thread", s->o.system ? s->th[i].id - 1 : s->th[i].id);
  n += (size_t)snprintf(doc + n, cap - n, "</threads>\n");
  size_t r = vmx_gdb_xfer_slice(doc, n, off, len, s->out, VMX_GDB_PACKET_MAX);
  free(doc);
  reply_len(s, s->out, r);
}

/* `monitor info registers`: t's integer registers (pc and ra by symbol),
 * and in system mode the main trap CSRs and the privilege level, into
 * text. Returns the length. */
static size_t info_registers(vmx_gdb_server_t *s, gthread_t *t, char *text, size_t cap) {
  static const char *const abi[32] = {"zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2",
                                      "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
                                      "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7",
                                      "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"};
  static const struct { const char *name; unsigned csr; } csrs[] = {
      {"mstatus", 0x300}, {"mepc", 0x341}, {"mcause", 0x342}, {"mtval", 0x343},
      {"mtvec", 0x305}, {"mie", 0x304}, {"mip", 0x344}, {"satp", 0x180},
      {"sepc", 0x141}, {"scause", 0x142}, {"stval", 0x143}, {"stvec", 0x105}};
  uint64_t v[VMX_GDB_G_REGS];
  if (!t || regs_ask(s, t, -1, false, s->regs, sizeof s->regs))
    return (size_t)snprintf(text, cap, "cannot read the registers\n");
  memcpy(v, s->regs, sizeof v);
  char pc_at[256], ra_at[256];
  vmx_symbols_format(s->sym, v[32], pc_at, sizeof pc_at);
  vmx_symbols_format(s->sym, v[1], ra_at, sizeof ra_at);
  size_t n = (size_t)snprintf(text, cap, "thread %u  pc %016" PRIx64 " %s\n  ra %016" PRIx64 " %s\n",
                              t->id, v[32], pc_at, v[1], ra_at);
  for (unsigned i = 0; i < 32 && n < cap; i++)
    n += (size_t)snprintf(text + n, cap - n, "x%-2u/%-4s %016" PRIx64 "%s", i, abi[i], v[i],
                          i % 4 == 3 ? "\n" : "  ");
  if (!s->o.system)
    return n;
  for (unsigned i = 0; i < sizeof csrs / sizeof csrs[0] && n < cap; i++) {
    s->word = 0;
    regs_ask(s, t, (int)(VMX_GDB_REGNUM_CSR0 + csrs[i].csr), false, &s->word, sizeof s->word);
    uint64_t val = s->word;
    n += (size_t)snprintf(text + n, cap - n, "%-8s %016" PRIx64 "%s", csrs[i].name, val,
                          i % 4 == 3 ? "\n" : "  ");
  }
  s->word = 0;
  regs_ask(s, t, VMX_GDB_REGNUM_PRIV, false, &s->word, sizeof s->word);
  uint64_t priv = s->word;
  if (n < cap)
    n += (size_t)snprintf(text + n, cap - n, "priv     %c\n", priv == 3 ? 'M' : priv == 1 ? 'S' : 'U');
  return n;
}

/* `monitor ...`: the output goes back hex-encoded. */
static void monitor(vmx_gdb_server_t *s, const char *line) {
  char text[2048];
  size_t n = 0;
  gthread_t *t = thread_current(s, s->g_thread);
  if (!strcmp(line, "help") || !line[0]) {
    n = (size_t)snprintf(text, sizeof text,
                         "monitor commands:\n  info registers  the current thread's registers\n"
                         "  icount          instructions the current thread has retired\n"
                         "  reset           reload the images and reset the harts (system\n"
                         "                  mode; devices keep their state)\n"
                         "  help            this list\n");
  } else if (!strcmp(line, "info registers")) {
    n = info_registers(s, t, text, sizeof text);
  } else if (!strcmp(line, "icount")) {
    if (t)
      n = (size_t)snprintf(text, sizeof text, "%" PRIu64 "\n", t->icount);
  } else if (!strcmp(line, "reset")) {
    int rc = s->o.on_reset ? s->o.on_reset(s->o.arg) : VMX_ENOSYS;
    for (unsigned i = 0; rc == 0 && i < s->nth; i++) {
      vmx_msg_t q = VMX_MSG_INIT(DBG_RESET), r;
      rc = ask(s, &s->th[i], &q, &r);
      if (rc == 0)
        rc = r.body.dbg_done.status;
      halt(s, &s->th[i]); /* notes the new pc and icount */
    }
    n = (size_t)snprintf(text, sizeof text, rc ? "reset: %s\n" : "the machine is reset\n",
                         vmx_strerror(rc));
  } else {
    n = (size_t)snprintf(text, sizeof text, "unknown monitor command '%s' (try 'monitor help')\n", line);
  }
  if (n >= sizeof text)
    n = sizeof text - 1;
  size_t h = vmx_gdb_hex_encode(s->out, sizeof s->out, text, n);
  reply_len(s, s->out, h);
}

static void close_conn(vmx_gdb_server_t *s);

static void handle(vmx_gdb_server_t *s, const char *payload, size_t len) {
  vmx_gdb_cmd_t *c = &s->cmd;
  switch (vmx_gdb_parse(payload, len, c)) {
  case VMX_GDB_QSUPPORTED:
    reply(s, "PacketSize=" VMX_GDB_PACKET_SIZE_STR ";qXfer:features:read+;qXfer:threads:read+;"
             "QStartNoAckMode+;vContSupported+");
    break;
  case VMX_GDB_NOACK:
    reply(s, "OK");
    s->noack = true;
    break;
  case VMX_GDB_HALT_REASON: reply_stop(s); break;
  case VMX_GDB_READ_REGS: cmd_regs(s, -1, false, NULL, 0); break;
  case VMX_GDB_WRITE_REGS: cmd_regs(s, -1, true, c->data, c->data_len); break;
  case VMX_GDB_READ_REG: cmd_regs(s, (int)c->reg, false, NULL, 0); break;
  case VMX_GDB_WRITE_REG: cmd_regs(s, (int)c->reg, true, c->data, c->data_len); break;
  case VMX_GDB_READ_MEM: cmd_mem(s, c->addr, c->len, false, NULL); break;
  case VMX_GDB_WRITE_MEM:
  case VMX_GDB_WRITE_MEM_BIN: cmd_mem(s, c->addr, c->len, true, c->data); break;
  case VMX_GDB_CONTINUE: simple_resume(s, false, c->sig, c->has_addr, c->addr); break;
  case VMX_GDB_STEP: simple_resume(s, true, c->sig, c->has_addr, c->addr); break;
  case VMX_GDB_VCONT_QUERY: reply(s, "vCont;c;C;s;S;t"); break;
  case VMX_GDB_VCONT: cmd_resume(s, c->vcont, c->vcont_count); break;
  case VMX_GDB_SET_THREAD: {
    uint32_t id = c->thread.tid > 0 ? (uint32_t)c->thread.tid : 0;
    if (id && !thread_find(s, id)) {
      reply_error(s, 1);
      break;
    }
    if (c->op == 'g')
      s->g_thread = id;
    else
      s->c_thread = id;
    reply(s, "OK");
    break;
  }
  case VMX_GDB_THREAD_ALIVE:
    if (c->thread.tid > 0 && thread_find(s, (uint32_t)c->thread.tid))
      reply(s, "OK");
    else
      reply_error(s, 1);
    break;
  case VMX_GDB_THREAD_FIRST: thread_info(s, true); break;
  case VMX_GDB_THREAD_NEXT: thread_info(s, false); break;
  case VMX_GDB_CURRENT_THREAD: {
    gthread_t *t = thread_current(s, s->g_thread);
    char q[24];
    snprintf(q, sizeof q, "QC%x", t ? t->id : 1u);
    reply(s, q);
    break;
  }
  case VMX_GDB_ATTACHED: reply(s, "1"); break;
  case VMX_GDB_XFER_FEATURES: {
    if (strcmp(c->annex, "target.xml")) {
      reply_error(s, 0);
      break;
    }
    size_t doclen;
    const char *doc = vmx_gdb_target_xml(s->o.system, &doclen);
    size_t n = vmx_gdb_xfer_slice(doc, doclen, c->offset, c->length, s->out, VMX_GDB_PACKET_MAX);
    reply_len(s, s->out, n);
    break;
  }
  case VMX_GDB_XFER_THREADS: xfer_threads(s, c->offset, c->length); break;
  case VMX_GDB_INSERT_BP: cmd_point(s, true, c->bp_type, c->addr, c->bp_kind); break;
  case VMX_GDB_REMOVE_BP: cmd_point(s, false, c->bp_type, c->addr, c->bp_kind); break;
  case VMX_GDB_MONITOR: monitor(s, (const char *)c->data); break;
  case VMX_GDB_DETACH:
    reply(s, "OK");
    release(s);
    close_conn(s);
    break;
  case VMX_GDB_KILL:
  case VMX_GDB_VKILL:
    if (c->kind == VMX_GDB_VKILL)
      reply(s, "OK");
    if (s->o.on_kill)
      s->o.on_kill(s->o.arg);
    break;
  case VMX_GDB_MALFORMED:
    vmx_log_debug("gdb: malformed packet (%s)", c->why ? c->why : "?");
    reply(s, "E01");
    break;
  case VMX_GDB_UNKNOWN:
  default:
    reply(s, "");
    break;
  }
}

static void on_event(void *opaque, const vmx_gdb_event_t *ev) {
  vmx_gdb_server_t *s = opaque;
  switch (ev->kind) {
  case VMX_GDB_EV_PACKET:
    if (!s->noack)
      send_raw(s, "+", 1);
    handle(s, ev->data, ev->len);
    break;
  case VMX_GDB_EV_BAD_CHECKSUM:
    if (!s->noack)
      send_raw(s, "-", 1);
    break;
  case VMX_GDB_EV_TOO_LONG:
    if (!s->noack)
      send_raw(s, "+", 1);
    reply(s, "E22");
    break;
  case VMX_GDB_EV_INTERRUPT:
    if (s->running && !s->exited) {
      halt_all(s);
      s->stop.sig = SIGINT_GDB;
      s->stop.watch = 0;
      gthread_t *t = thread_current(s, s->c_thread);
      s->stop.thread = t ? t->id : 1;
      reply_stop(s);
    }
    break;
  case VMX_GDB_EV_ACK:
    break;
  case VMX_GDB_EV_NACK:
    if (s->last)
      send_raw(s, s->last, s->last_len);
    break;
  }
}

/* --------------------------------------------------------- connection */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static __thread char space[65536];
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(space, sizeof space);
}

static void conn_closed(uv_handle_t *h) {
  vmx_gdb_server_t *s = h->data;
  s->connected = false;
  s->closing = false;
}

static void close_conn(vmx_gdb_server_t *s) {
  if (!s->connected || s->closing)
    return;
  s->closing = true;
  uv_close((uv_handle_t *)&s->conn, conn_closed);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  vmx_gdb_server_t *s = st->data;
  if (n < 0) {
    /* gdb went away (quit, killed, or mid-packet): the guest runs on. */
    if (n != UV_EOF)
      vmx_log_debug("gdb: connection: %s", uv_strerror((int)n));
    release(s);
    close_conn(s);
    return;
  }
  if (n > 0)
    vmx_gdb_rx_feed(&s->rx, buf->base, (size_t)n, on_event, s);
}

static void accept_cb(uv_stream_t *l, int status) {
  vmx_gdb_server_t *s = l->data;
  if (status < 0)
    return;
  if (s->connected) {
    /* One debugger at a time: refuse the newcomer. */
    uv_tcp_t *extra = malloc(sizeof *extra);
    if (extra && uv_tcp_init(l->loop, extra) == 0 && uv_accept(l, (uv_stream_t *)extra) == 0)
      uv_close((uv_handle_t *)extra, (uv_close_cb)free);
    else
      free(extra);
    return;
  }
  uv_tcp_init(l->loop, &s->conn);
  s->conn.data = s;
  if (uv_accept(l, (uv_stream_t *)&s->conn)) {
    uv_close((uv_handle_t *)&s->conn, NULL);
    return;
  }
  uv_tcp_nodelay(&s->conn, 1);
  s->connected = true;
  s->noack = false;
  vmx_gdb_rx_init(&s->rx);
  /* Attaching stops the guest, as with QEMU. */
  if (s->running && !s->exited) {
    halt_all(s);
    s->stop.sig = SIGTRAP_GDB;
    s->stop.watch = 0;
    s->stop.thread = s->nth ? s->th[0].id : 1;
  }
  uv_read_start((uv_stream_t *)&s->conn, alloc_cb, read_cb);
}

/* -------------------------------------------------------------- actor */

static int server_receive(vmx_actor_ctx_t *ctx, void *state, const vmx_msg_t *msg) {
  vmx_gdb_server_t *s = state;
  switch (msg->env.type) {
  case VMX_MSG_DBG_STOPPED: {
    const vmx_msg_dbg_stopped_t *e = &msg->body.dbg_stopped;
    gthread_t *t = thread_find(s, e->thread);
    if (t) {
      t->pc = e->pc;
      t->icount = e->icount;
    }
    if (!s->running || e->epoch != s->epoch)
      return 0; /* stale: all-stop reports one stop per resume */
    if (!s->connected) {
      /* No gdb (it detached or went away): a fault goes to the guest as
       * if gdb had passed it on; anything else runs on. */
      if (t)
        resume_one(s, t, false, e->reason == VMX_DBG_SIGNAL ? e->code : 0);
      return 0;
    }
    halt_all(s);
    s->stop.sig = e->reason == VMX_DBG_SIGNAL ? e->code : SIGTRAP_GDB;
    s->stop.thread = e->thread;
    s->stop.watch = e->reason == VMX_DBG_WATCHPOINT ? e->watch : 0;
    s->stop.addr = e->addr;
    s->stop.fault = e->reason == VMX_DBG_SIGNAL;
    s->g_thread = s->c_thread = 0;
    if (s->connected)
      reply_stop(s);
    return 0;
  }
  case VMX_MSG_DBG_THREAD: {
    const vmx_msg_dbg_thread_t *e = &msg->body.dbg_thread;
    if (e->alive) {
      thread_add(s, e->thread, e->vcpu);
      gthread_t *t = thread_find(s, e->thread);
      if (t && !s->running)
        halt(s, t);
      return 0;
    }
    if (e->code < 0) {
      thread_remove(s, e->thread);
      return 0;
    }
    /* The guest ended. */
    s->exited = true;
    s->exit_code = e->code;
    s->running = false;
    if (s->connected) {
      char w[8];
      snprintf(w, sizeof w, "W%02x", e->code & 0xff);
      size_t n = vmx_gdb_tx_packet(s->frame, sizeof s->frame, w, strlen(w));
      uv_buf_t b = uv_buf_init(s->frame, (unsigned)n);
      uv_try_write((uv_stream_t *)&s->conn, &b, 1);
    }
    vmx_msg_t r = VMX_MSG_INIT(DBG_DONE);
    vmx_actor_reply(ctx, &r);
    return 0;
  }
  default:
    return 0;
  }
}

/* ---------------------------------------------------------------- API */

int vmx_gdb_parse_address(const char *spec, char *hostbuf, size_t hostcap, unsigned *port) {
  const char *p = spec;
  if (!strncmp(p, "tcp:", 4))
    p += 4;
  const char *colon = strrchr(p, ':');
  const char *num = colon ? colon + 1 : p;
  size_t hlen = colon ? (size_t)(colon - p) : 0;
  if (hlen >= hostcap)
    return VMX_EINVAL;
  memcpy(hostbuf, p, hlen);
  hostbuf[hlen] = 0;
  char *end;
  unsigned long v = strtoul(num, &end, 10);
  if (!*num || *end || v == 0 || v > 65535)
    return VMX_EINVAL;
  *port = (unsigned)v;
  return 0;
}

static int server_start(vmx_loop_t *loop, const vmx_gdb_opts_t *opts, vmx_addr_t *addr, char *err,
                        size_t errlen) {
  vmx_gdb_server_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return VMX_ENOMEM;
  }
  s->o = *opts;
  snprintf(s->host, sizeof s->host, "%s", opts->host && opts->host[0] ? opts->host : "127.0.0.1");
  s->o.host = s->host;
  s->loop = loop;
  s->stop.sig = SIGTRAP_GDB;
  s->stop.thread = 1;
  s->running = opts->start_running;
  if (opts->symbols) {
    char serr[256];
    if (vmx_symbols_open(opts->symbols, opts->symbols_bias, &s->sym, serr, sizeof serr))
      vmx_log_debug("gdb: no symbols for the monitor: %s", serr);
  }
  s->o.symbols = NULL;
  vmx_gdb_rx_init(&s->rx);
  vmx_bus_sender_init(vmx_loop_bus(loop), &s->tx);

  struct sockaddr_storage sa;
  int rc = uv_ip4_addr(s->host, (int)opts->port, (struct sockaddr_in *)&sa);
  if (rc)
    rc = uv_ip6_addr(s->host, (int)opts->port, (struct sockaddr_in6 *)&sa);
  if (rc) {
    snprintf(err, errlen, "gdb: bad address '%s'", s->host);
    free(s);
    return VMX_EINVAL;
  }
  uv_loop_t *uv = vmx_loop_uv(loop);
  uv_tcp_init(uv, &s->listener);
  s->listener.data = s;
  rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 1, accept_cb);
  if (rc) {
    snprintf(err, errlen, "gdb: cannot listen on %s:%u: %s", s->host, opts->port, uv_strerror(rc));
    uv_close((uv_handle_t *)&s->listener, NULL);
    /* s stays allocated: the loop still holds the closing handle. */
    return VMX_EIO;
  }
  vmx_actor_def_t def = {.name = "gdb", .receive = server_receive, .state = s, .mailbox_max = 1024};
  rc = vmx_actor_spawn(loop, &def, &s->self);
  if (rc) {
    snprintf(err, errlen, "gdb: cannot start the server actor: %s", vmx_strerror(rc));
    return rc;
  }
  *addr = s->self;
  return 0;
}

typedef struct start_ctx {
  const vmx_gdb_opts_t *opts;
  vmx_addr_t addr;
  int rc;
  char err[256];
} start_ctx_t;

static void start_hook(vmx_loop_t *loop, void *arg) {
  start_ctx_t *c = arg;
  c->rc = server_start(loop, c->opts, &c->addr, c->err, sizeof c->err);
}

int vmx_gdb_server_spawn(vmx_bus_t *bus, const vmx_gdb_opts_t *opts, vmx_addr_t *addr, char *err,
                         size_t errlen) {
  start_ctx_t c = {.opts = opts};
  vmx_loop_options_t lo = {.name = "gdb", .max_actors = 4, .on_thread_start = start_hook,
                           .hook_arg = &c};
  vmx_loop_t *loop;
  int rc = vmx_loop_start(bus, &lo, &loop);
  if (rc) {
    snprintf(err, errlen, "gdb: cannot start its loop: %s", vmx_strerror(rc));
    return rc;
  }
  if (c.rc) {
    snprintf(err, errlen, "%s", c.err);
    return c.rc;
  }
  *addr = c.addr;
  return 0;
}

void vmx_gdb_notify_exit(vmx_bus_sender_t *sender, vmx_addr_t server, int code) {
  vmx_msg_t q = VMX_MSG_INIT(DBG_THREAD), r;
  q.body.dbg_thread.alive = false;
  q.body.dbg_thread.code = code < 0 ? 0 : code;
  vmx_bus_ask(sender, server, &q, &r, UINT64_C(1000000000));
}
