/* The vCPU side of the debugger (see dbg_vcpu.h). */
#include "debug/dbg_vcpu.h"

#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "cpu/riscv/priv.h"
#include "mem/rv_mmu.h"

#define CSR_FFLAGS 0x001
#define CSR_FRM 0x002
#define CSR_FCSR 0x003

void vmx_dbg_vcpu_attach(vmx_vcpu_t *v, vmx_vcpu_dbg_t *d, vmx_addr_t server, uint32_t thread) {
  memset(d, 0, sizeof *d);
  d->server = server;
  d->thread = thread;
  d->halted = true;
  d->saved_limit = v->cpu->icount_limit;
  v->dbg = d;
  v->cpu->dbg = &d->pts;
}

void vmx_dbg_vcpu_inherit(vmx_vcpu_dbg_t *child, const vmx_vcpu_dbg_t *parent, uint32_t thread) {
  *child = *parent;
  child->pts.stepping = child->pts.wp_off = false;
  child->thread = thread;
  child->halted = false;
  child->stepping = false;
}

vmx_rv_exit_t vmx_dbg_vcpu_run(vmx_rv_cpu_t *cpu) {
  return cpu->sys ? vmx_rv_cpu_run_sys_dbg(cpu) : vmx_rv_cpu_run_dbg(cpu);
}

/* ------------------------------------------------------------ registers */

/* A CSR as a debugger sees it: every privilege level's, whatever the hart
 * runs at. */
static bool csr_access(vmx_rv_cpu_t *cpu, uint32_t csr, uint64_t *val, bool write) {
  if (!cpu->sys || csr == CSR_FFLAGS || csr == CSR_FRM || csr == CSR_FCSR)
    return write ? vmx_rv_csr_write(cpu, csr, *val) : vmx_rv_csr_read(cpu, csr, cpu->icount, val);
  unsigned priv = cpu->sys->priv;
  vmx_rv_sys_set_priv(cpu, VMX_RV_PRIV_M);
  bool ok = write ? vmx_rv_sys_csr_write(cpu, csr, *val, cpu->icount)
                  : vmx_rv_sys_csr_read(cpu, csr, cpu->icount, val);
  vmx_rv_sys_set_priv(cpu, priv); /* with the regimes a written mstatus now gives */
  if (write)
    vmx_rv_cpu_flush_code(cpu);
  return ok;
}

int vmx_dbg_reg(vmx_rv_cpu_t *cpu, uint32_t regno, uint64_t *val, unsigned *size, bool write) {
  *size = 8;
  if (regno < 32) {
    if (write && regno != 0)
      cpu->x[regno] = *val;
    else if (!write)
      *val = cpu->x[regno];
    return 0;
  }
  if (regno == VMX_DBG_REG_PC) {
    if (write)
      cpu->pc = *val;
    else
      *val = cpu->pc;
    return 0;
  }
  if (regno >= VMX_DBG_REG_F0 && regno < VMX_DBG_REG_F0 + 32) {
    if (write)
      cpu->f[regno - VMX_DBG_REG_F0] = *val;
    else
      *val = cpu->f[regno - VMX_DBG_REG_F0];
    return 0;
  }
  if (regno == VMX_GDB_REGNUM_PRIV) {
    if (!cpu->sys)
      return VMX_EINVAL;
    if (write) {
      if (*val != VMX_RV_PRIV_U && *val != VMX_RV_PRIV_S && *val != VMX_RV_PRIV_M)
        return VMX_EINVAL;
      vmx_rv_sys_set_priv(cpu, (unsigned)*val);
      vmx_rv_tlb_flush(cpu, UINT64_MAX);
    } else {
      *val = cpu->sys->priv;
    }
    return 0;
  }
  if (regno >= VMX_GDB_REGNUM_CSR0 && regno < VMX_GDB_REGNUM_CSR0 + 4096) {
    uint32_t csr = regno - VMX_GDB_REGNUM_CSR0;
    if (csr <= CSR_FCSR)
      *size = 4;
    if (!write)
      *val = 0;
    return csr_access(cpu, csr, val, write) ? 0 : VMX_EINVAL;
  }
  return VMX_EINVAL;
}

/* --------------------------------------------------------------- memory */

/* Copies between host addresses without faulting: the kernel checks the
 * pages (an unmapped or read-only guest page ends the copy). */
static size_t host_copy(void *guest, void *buf, size_t len, bool write) {
  struct iovec local = {buf, len}, remote = {guest, len};
  ssize_t n = write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
                    : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  return n < 0 ? 0 : (size_t)n;
}

/* System mode: the RAM host address of virtual address va, or NULL. */
static uint8_t *sys_ram(vmx_rv_cpu_t *cpu, uint64_t va, bool write) {
  vmx_rv_sys_t *sys = cpu->sys;
  static const unsigned regimes[] = {VMX_RV_MMU_S_SUM, VMX_RV_MMU_U};
  uint64_t pa;
  unsigned cause = vmx_rv_mmu_translate(cpu, va, write ? VMX_RV_ACC_STORE : VMX_RV_ACC_LOAD,
                                        sys->mmu_data, &pa);
  /* A debugger may look at pages the hart could not touch right now
   * (user pages from the kernel, code that is execute-only); an address
   * nothing maps stays unreadable (not taken as physical). */
  for (unsigned i = 0; cause && i < sizeof regimes / sizeof regimes[0]; i++)
    cause = vmx_rv_mmu_translate(cpu, va, VMX_RV_ACC_FETCH, regimes[i], &pa);
  if (cause || pa < sys->ram_base || pa - sys->ram_base >= sys->ram_size)
    return NULL;
  return sys->ram + (pa - sys->ram_base);
}

size_t vmx_dbg_mem(vmx_rv_cpu_t *cpu, uint64_t addr, void *buf, size_t len, bool write) {
  uint8_t *b = buf;
  size_t done = 0;
  while (done < len) {
    uint64_t a = addr + done;
    size_t chunk = 4096 - (a & 4095);
    if (chunk > len - done)
      chunk = len - done;
    uint8_t *host;
    if (cpu->sys) {
      host = sys_ram(cpu, a, write);
    } else {
      host = vmx_rv_g2h(cpu, a, chunk);
    }
    if (!host)
      break;
    size_t n = host_copy(host, b + done, chunk, write);
    done += n;
    if (n < chunk)
      break;
  }
  if (write)
    vmx_rv_cpu_flush_code(cpu); /* the debugger may have patched code */
  return done;
}

/* ------------------------------------------------------------- stopping */

/* Halts v (a step in progress ends, its icount limit restored) and fills
 * *m, the DBG_STOPPED that says so. */
static void halt_here(vmx_vcpu_t *v, unsigned reason, vmx_msg_t *m) {
  vmx_vcpu_dbg_t *d = v->dbg;
  if (d->stepping) {
    d->stepping = false;
    d->pts.stepping = false;
    v->cpu->icount_limit = d->saved_limit;
  }
  d->halted = true;
  *m = VMX_MSG_INIT(DBG_STOPPED);
  m->body.dbg_stopped.reason = reason;
  m->body.dbg_stopped.epoch = d->epoch;
  m->body.dbg_stopped.thread = d->thread;
  m->body.dbg_stopped.pc = v->cpu->pc;
  m->body.dbg_stopped.icount = v->cpu->icount;
}

/* Stops v for the debugger and tells the server why. */
static void stop(vmx_vcpu_t *v, unsigned reason, unsigned watch, uint64_t addr, int code) {
  vmx_vcpu_dbg_t *d = v->dbg;
  vmx_msg_t m;
  halt_here(v, reason, &m);
  m.body.dbg_stopped.watch = watch;
  m.body.dbg_stopped.addr = addr;
  m.body.dbg_stopped.code = code;
  int rc = v->ctx ? vmx_actor_send(v->ctx, d->server, &m) : VMX_EINVAL;
  if (rc)
    vmx_log_error("vCPU %u: cannot tell the debugger it stopped: %s", d->thread, vmx_strerror(rc));
}

bool vmx_dbg_vcpu_exit(vmx_vcpu_t *v, vmx_rv_exit_t why) {
  vmx_vcpu_dbg_t *d = v->dbg;
  vmx_rv_cpu_t *cpu = v->cpu;
  switch (why) {
  case VMX_RV_EXIT_BREAKPOINT:
    stop(v, VMX_DBG_BREAKPOINT, 0, 0, 0);
    return true;
  case VMX_RV_EXIT_WATCH: {
    /* Let the access happen (one instruction, watchpoints off), then
     * report: gdb expects to find the new value in place. */
    const struct vmx_rv_watch *w = &d->pts.wp[d->pts.hit];
    unsigned type = w->kind == VMX_RV_WATCH_WRITE ? 2 : w->kind == VMX_RV_WATCH_READ ? 3 : 4;
    uint64_t addr = w->addr;
    uint64_t limit = cpu->icount_limit;
    bool stepping = d->pts.stepping;
    cpu->icount_limit = cpu->icount + 1;
    d->pts.wp_off = true;
    d->pts.stepping = true;
    vmx_rv_exit_t again;
    do /* a message's kick ends a run before the instruction: run it again */
      again = vmx_dbg_vcpu_run(cpu);
    while (again == VMX_RV_EXIT_REQUEST);
    d->pts.wp_off = false;
    d->pts.stepping = stepping;
    cpu->icount_limit = limit;
    if (again == VMX_RV_EXIT_FAULT)
      return vmx_dbg_vcpu_exit(v, again); /* the access faulted: gdb hears of the signal */
    stop(v, VMX_DBG_WATCHPOINT, type, addr, 0);
    return true;
  }
  case VMX_RV_EXIT_LIMIT:
  case VMX_RV_EXIT_WFI:
    if (!d->stepping)
      return false;
    stop(v, VMX_DBG_STEPPED, 0, 0, 0);
    return true;
  case VMX_RV_EXIT_FAULT:
  case VMX_RV_EXIT_ILLEGAL:
  case VMX_RV_EXIT_EBREAK:
    if (cpu->sys)
      return false; /* system mode takes these as traps inside the run */
    d->fault_exit = why;
    d->fault_sig = why == VMX_RV_EXIT_ILLEGAL ? VMX_GDB_SIGILL
                   : why == VMX_RV_EXIT_EBREAK ? VMX_GDB_SIGTRAP
                   : cpu->fault_kind == VMX_RV_FAULT_MISALIGNED ? VMX_GDB_SIGBUS
                                                                : VMX_GDB_SIGSEGV;
    stop(v, VMX_DBG_SIGNAL, 0, 0, d->fault_sig);
    return true;
  default:
    return false;
  }
}

/* ------------------------------------------------------------- messages */

/* Answers the debugger's ask. It may have stopped waiting (a halt it gave
 * up on while the vCPU was in a system call, and then asked again): that
 * is no failure of the vCPU. */
static int answer(vmx_actor_ctx_t *ctx, vmx_msg_t *r) {
  int rc = vmx_actor_reply(ctx, r);
  return rc == VMX_ENOENT ? 0 : rc;
}

static int done(vmx_actor_ctx_t *ctx, int status, uint32_t len) {
  vmx_msg_t r = VMX_MSG_INIT(DBG_DONE);
  r.body.dbg_done.status = status;
  r.body.dbg_done.len = len;
  return answer(ctx, &r);
}

static int regs(vmx_vcpu_t *v, vmx_actor_ctx_t *ctx, const vmx_msg_dbg_regs_t *q) {
  uint8_t *buf = (uint8_t *)(uintptr_t)q->buf;
  if (q->regno < 0) {
    /* The g set, 8 bytes each, little-endian (the host's order too). */
    if (q->len < VMX_GDB_G_REGS * 8)
      return done(ctx, VMX_EINVAL, 0);
    for (uint32_t r = 0; r < VMX_GDB_G_REGS; r++) {
      uint64_t val;
      unsigned size;
      if (q->write)
        memcpy(&val, buf + 8 * r, 8);
      vmx_dbg_reg(v->cpu, r, &val, &size, q->write);
      if (!q->write)
        memcpy(buf + 8 * r, &val, 8);
    }
    return done(ctx, 0, VMX_GDB_G_REGS * 8);
  }
  uint64_t val = 0;
  unsigned size;
  if (q->write)
    memcpy(&val, buf, q->len < 8 ? q->len : 8);
  int rc = vmx_dbg_reg(v->cpu, (uint32_t)q->regno, &val, &size, q->write);
  if (rc)
    return done(ctx, rc, 0);
  if (!q->write) {
    if (q->len < size)
      return done(ctx, VMX_EINVAL, 0);
    memcpy(buf, &val, size);
  }
  return done(ctx, 0, size);
}

static int point(vmx_vcpu_t *v, vmx_actor_ctx_t *ctx, const vmx_msg_dbg_point_t *q) {
  vmx_rv_dbg_t *p = &v->dbg->pts;
  if (q->type <= 1) {
    unsigned i = 0;
    while (i < p->nbp && p->bp[i] != q->addr)
      i++;
    if (q->insert && i == p->nbp) {
      if (p->nbp == VMX_RV_DBG_MAX_BP)
        return done(ctx, VMX_ENOSPACE, 0);
      p->bp[p->nbp++] = q->addr;
    } else if (!q->insert && i < p->nbp) {
      p->bp[i] = p->bp[--p->nbp];
    }
    vmx_rv_cpu_flush_code(v->cpu); /* blocks are built around breakpoints */
    return done(ctx, 0, 0);
  }
  if (q->type > 4 || q->len == 0)
    return done(ctx, VMX_EINVAL, 0);
  unsigned kind = q->type == 2 ? VMX_RV_WATCH_WRITE
                  : q->type == 3 ? VMX_RV_WATCH_READ
                                 : VMX_RV_WATCH_READ | VMX_RV_WATCH_WRITE;
  unsigned i = 0;
  while (i < p->nwp && !(p->wp[i].addr == q->addr && p->wp[i].len == q->len && p->wp[i].kind == kind))
    i++;
  if (q->insert && i == p->nwp) {
    if (p->nwp == VMX_RV_DBG_MAX_WP)
      return done(ctx, VMX_ENOSPACE, 0);
    p->wp[p->nwp++] = (struct vmx_rv_watch){.addr = q->addr, .len = q->len, .kind = kind};
  } else if (!q->insert && i < p->nwp) {
    p->wp[i] = p->wp[--p->nwp];
  }
  return done(ctx, 0, 0);
}

int vmx_dbg_vcpu_message(vmx_vcpu_t *v, vmx_actor_ctx_t *ctx, const vmx_msg_t *msg) {
  vmx_vcpu_dbg_t *d = v->dbg;
  if (!d)
    return 0;
  switch (msg->env.type) {
  case VMX_MSG_DBG_HALT: {
    vmx_msg_t r;
    halt_here(v, VMX_DBG_HALTED, &r);
    return answer(ctx, &r);
  }
  case VMX_MSG_DBG_RESUME:
    d->epoch = msg->body.dbg_resume.epoch;
    d->halted = false;
    if (d->fault_sig) {
      /* gdb passes the fault's signal on: the guest gets it now (the
       * owner turns the exit into that signal). Any other answer drops it,
       * and the instruction runs again. */
      int sig = d->fault_sig;
      d->fault_sig = 0;
      if (msg->body.dbg_resume.signal == sig && v->on_exit(v, d->fault_exit) == VMX_VCPU_DONE) {
        v->stopping = true;
        return vmx_actor_stop(ctx, vmx_actor_self(ctx), 0);
      }
    }
    if (msg->body.dbg_resume.step && !d->stepping) {
      d->stepping = true;
      d->pts.stepping = true;
      d->saved_limit = v->cpu->icount_limit;
      v->cpu->icount_limit = v->cpu->icount + 1;
    }
    return 1;
  case VMX_MSG_DBG_REGS:
    return regs(v, ctx, &msg->body.dbg_regs);
  case VMX_MSG_DBG_MEM: {
    const vmx_msg_dbg_mem_t *q = &msg->body.dbg_mem;
    size_t n = vmx_dbg_mem(v->cpu, q->addr, (void *)(uintptr_t)q->buf, q->len, q->write);
    return done(ctx, n || !q->len ? 0 : VMX_EFAULT, (uint32_t)n);
  }
  case VMX_MSG_DBG_POINT:
    return point(v, ctx, &msg->body.dbg_point);
  case VMX_MSG_DBG_RESET:
    if (!v->on_reset)
      return done(ctx, VMX_ENOSYS, 0);
    v->on_reset(v);
    vmx_rv_cpu_flush_code(v->cpu);
    return done(ctx, 0, 0);
  default:
    return 0;
  }
}
