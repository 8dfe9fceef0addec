/* The RV64GC interpreter: pre-decoded blocks run by threaded dispatch
 * (computed goto), with exact retired-instruction counting.
 *
 * Counting: inside a run the cpu counts down `budget`, the instructions
 * left before icount_limit. Entering a block takes its length from the
 * budget up front; an exit in the middle of a block (fault, illegal
 * instruction, ebreak) gives back the instructions that did not retire, and
 * every exit turns the budget back into icount. So icount is exact at every
 * exit, and a block only runs whole when the budget covers it; otherwise the
 * cpu steps one instruction at a time up to the limit.
 *
 * Guest memory: a load or store at guest address a checks a against
 * mem_limit and then uses mem_base + a; unmapped pages inside the guest
 * range raise a host SIGSEGV which vmx_rv_cpu_host_fault() turns into a
 * VMX_RV_EXIT_FAULT through the sigsetjmp in vmx_rv_cpu_run().
 */
#include <string.h>

#include "cpu/riscv/fpu.h"
#include "cpu/riscv/interp.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Handler kinds, from insns.def. */
enum { KIND_ALU, KIND_MEM, KIND_BR, KIND_SYS, KIND_AMO, KIND_CSR, KIND_FP };
static const uint8_t vmx__kind[VMX_RV_OP_COUNT] = {
#define X(name, match, mask, fmt, kind) [VMX_RV_OP_##name] = KIND_##kind,
#include "cpu/riscv/insns.def"
#undef X
  [VMX_RV_OP_ILLEGAL] = KIND_SYS,
};

/* True for ops whose rd names an integer register (writes to x0 go to the
 * sink x[32]); FP ops handle x0 themselves. */
static bool vmx__writes_xrd(const vmx_rv_insn_t *in) {
  switch (vmx__kind[in->op]) {
  case KIND_ALU: case KIND_BR: case KIND_AMO: case KIND_CSR: return true;
  case KIND_MEM:
    return in->op != VMX_RV_OP_FLW && in->op != VMX_RV_OP_FLD;
  default: return false;
  }
}

static bool vmx__ends_block(uint16_t op) {
  return vmx__kind[op] == KIND_BR || vmx__kind[op] == KIND_SYS;
}

/* Reads 16 bits of code at guest pc; a fault lands in vmx_rv_cpu_run()'s
 * sigsetjmp as a fetch fault at pc. */
static uint16_t vmx__fetch16(vmx_rv_cpu_t *cpu, uint64_t pc) {
  vmx__rv_tls.fetch_pc = pc;
  if (pc > cpu->mem_limit - 2) {
    cpu->fault_addr = pc;
    cpu->fault_host_code = 1; /* SEGV_MAPERR */
    siglongjmp(vmx__rv_tls.jb, 1);
  }
  uint16_t v;
  memcpy(&v, cpu->mem_base + pc, 2);
  return v;
}

/* Raises a fetch fault unless the owner allows execution at addr. */
static void vmx__fetch_allowed(vmx_rv_cpu_t *cpu, uint64_t addr) {
  if (!cpu->fetch_check)
    return;
  int code = cpu->fetch_check(cpu, addr);
  if (code) {
    vmx__rv_tls.fetch_pc = addr;
    cpu->fault_addr = addr;
    cpu->fault_host_code = code;
    siglongjmp(vmx__rv_tls.jb, 1);
  }
}

/* Decodes one instruction at pc into in (with the fetch-fault guard on). */
static void vmx__decode_at(vmx_rv_cpu_t *cpu, vmx_rv_insn_t *in, uint64_t pc) {
  vmx__rv_tls.fetching = true;
  vmx__rv_tls.fetch_insn_pc = pc;
  uint16_t lo = vmx__fetch16(cpu, pc);
  if (vmx_rv_insn_len(lo) == 4 && ((pc + 2) & 0xfff) == 0)
    vmx__fetch_allowed(cpu, pc + 2);
  uint16_t hi = vmx_rv_insn_len(lo) == 4 ? vmx__fetch16(cpu, pc + 2) : 0;
  vmx__rv_tls.fetching = false;
  vmx_rv_decode(in, lo, hi);
}

/* Rewrites operands into the interpreter's form: x0 destinations to the
 * sink, pc-relative immediates to absolute addresses. */
static void vmx__prepare(vmx_rv_insn_t *in, uint64_t pc, const void *const *labels) {
  if (in->rd == 0 && vmx__writes_xrd(in))
    in->rd = 32;
  switch (in->op) {
  case VMX_RV_OP_AUIPC: case VMX_RV_OP_JAL:
  case VMX_RV_OP_BEQ: case VMX_RV_OP_BNE: case VMX_RV_OP_BLT:
  case VMX_RV_OP_BGE: case VMX_RV_OP_BLTU: case VMX_RV_OP_BGEU:
    in->imm = (int64_t)(pc + (uint64_t)in->imm);
    break;
  default: break;
  }
  in->impl = labels[in->op];
}

static vmx_rv_block_t *vmx__block_alloc(vmx_rv_bcache_t *bc) {
  size_t need = sizeof(vmx_rv_block_t) + (VMX_RV_BLOCK_MAX + 1) * sizeof(vmx_rv_insn_t);
  if (bc->used + need > VMX_RV_BCACHE_ARENA) {
    memset(bc->bucket, 0, sizeof bc->bucket);
    bc->used = 0;
  }
  return (vmx_rv_block_t *)(bc->arena + bc->used);
}

static inline unsigned vmx__bucket(uint64_t pc) {
  return (unsigned)((pc >> 1) ^ (pc >> 14)) & (VMX_RV_BCACHE_BUCKETS - 1);
}

/* Builds (or finds) the block at pc. The caller must not hold pointers
 * into blocks across this call: building may reset the arena. */
static vmx_rv_block_t *vmx__block_get(vmx_rv_cpu_t *cpu, uint64_t pc, const void *const *labels,
                                      const void *end_label) {
  vmx_rv_bcache_t *bc = cpu->bcache;
  unsigned h = vmx__bucket(pc);
  for (vmx_rv_block_t *b = bc->bucket[h]; b; b = b->hash_next)
    if (b->pc == pc)
      return b;
  vmx__rv_tls.fetching = true;
  vmx__rv_tls.fetch_insn_pc = pc;
  vmx__fetch_allowed(cpu, pc);
  vmx_rv_block_t *b = vmx__block_alloc(bc);
  uint64_t a = pc;
  uint32_t n = 0;
  while (n < VMX_RV_BLOCK_MAX) {
    /* An instruction that crosses into the next page starts its own block,
     * so a fault on that page is reported for the right instruction. */
    if (n > 0 && (a & 0xfff) == 0xffe) {
      uint16_t lo = vmx__fetch16(cpu, a);
      if (vmx_rv_insn_len(lo) == 4)
        break;
    }
    vmx_rv_insn_t *in = &b->insn[n];
    vmx__decode_at(cpu, in, a);
    in->pc_off = (uint16_t)(a - pc);
    in->idx = (uint8_t)n;
    vmx__prepare(in, a, labels);
    a += in->len;
    n++;
    if (vmx__ends_block(in->op) || (a & 0xfff) == 0)
      break;
  }
  b->pc = pc;
  b->end_pc = a;
  b->n = n;
  b->chain[0] = b->chain[1] = NULL;
  memset(&b->insn[n], 0, sizeof b->insn[n]);
  b->insn[n].impl = end_label;
  b->insn[n].pc_off = (uint16_t)(a - pc);
  b->insn[n].idx = (uint8_t)n;
  bc->used += sizeof(vmx_rv_block_t) + (n + 1) * sizeof(vmx_rv_insn_t);
  bc->used = (bc->used + 63) & ~(size_t)63;
  b->hash_next = bc->bucket[h];
  bc->bucket[h] = b;
  return b;
}

static inline int64_t sx32(uint64_t v) { return (int64_t)(int32_t)v; }

/* The block an instruction belongs to (idx is its index in the block). */
static inline const vmx_rv_block_t *vmx__insn_block(const vmx_rv_insn_t *in) {
  return (const vmx_rv_block_t *)((const uint8_t *)(in - in->idx) - offsetof(vmx_rv_block_t, insn));
}

vmx_rv_exit_t vmx_rv_cpu_run(vmx_rv_cpu_t *cpu) {
  static const void *const labels[VMX_RV_OP_COUNT] = {
#define X(name, match, mask, fmt, kind) [VMX_RV_OP_##name] = &&L_##name,
#include "cpu/riscv/insns.def"
#undef X
    [VMX_RV_OP_ILLEGAL] = &&L_ILLEGAL,
  };
  vmx__rv_tls_t *tls = &vmx__rv_tls;
  /* The single-instruction block used near the icount limit. */
  union {
    vmx_rv_block_t b;
    uint8_t space[sizeof(vmx_rv_block_t) + 2 * sizeof(vmx_rv_insn_t)];
  } step;

  tls->cpu = cpu;
  tls->fetching = false;
  cpu->cur_insn = NULL;
  cpu->budget = cpu->icount <= cpu->icount_limit ? cpu->icount_limit - cpu->icount : 0;
  if (sigsetjmp(tls->jb, 0)) {
    /* A guest access faulted (see vmx_rv_cpu_host_fault). */
    cpu = tls->cpu;
    if (tls->fetching) {
      tls->fetching = false;
      cpu->fault_kind = VMX_RV_FAULT_FETCH;
      cpu->fault_addr = tls->fetch_pc;
      cpu->pc = tls->fetch_insn_pc;
      /* Only the block's first instruction can fault on fetch, and the
       * block had not been entered: nothing to take back from icount. */
    } else {
      const vmx_rv_insn_t *in = cpu->cur_insn;
      const vmx_rv_block_t *b = vmx__insn_block(in);
      cpu->budget += b->n - in->idx;
      cpu->icount = cpu->icount_limit - cpu->budget;
      cpu->pc = b->pc + in->pc_off;
      uint16_t op = in->op;
      bool load = (op >= VMX_RV_OP_LB && op <= VMX_RV_OP_LWU) || op == VMX_RV_OP_FLW ||
                  op == VMX_RV_OP_FLD || op == VMX_RV_OP_LR_W || op == VMX_RV_OP_LR_D;
      cpu->fault_kind = load ? VMX_RV_FAULT_LOAD : VMX_RV_FAULT_STORE;
    }
    cpu->cur_insn = NULL;
    tls->cpu = NULL;
    return VMX_RV_EXIT_FAULT;
  }

  /* Registers are reached through cpu (x is its first field) rather than
   * through locals: this function is one big register-starved loop, and
   * every local that lives across handlers costs a spill somewhere. */
#define x (cpu->x)
#define f (cpu->f)
  uint8_t *const mem = cpu->mem_base;
  const uint64_t lim = cpu->mem_limit;
  vmx_rv_block_t *blk = NULL;
  const vmx_rv_insn_t *in;
  uint64_t pc = cpu->pc;
  vmx_rv_exit_t why;
  vmx_rv_block_t **link = NULL; /* the chain slot of blk that leads to pc */

#define NEXT do { in++; goto *in->impl; } while (0)
#define EXIT(reason) do { why = (reason); goto leave; } while (0)
/* Exit at instruction `in` without retiring it. */
#define EXIT_AT_INSN(reason) do {                                   \
    cpu->budget += blk->n - in->idx;                                \
    pc = blk->pc + in->pc_off;                                      \
    EXIT(reason);                                                   \
  } while (0)
#define ADDR (x[in->rs1] + (uint64_t)in->imm)
#define CHECK(a, size) do {                                         \
    if (unlikely((a) > lim - (size))) {                             \
      cpu->fault_addr = (a);                                        \
      cpu->fault_host_code = 1; /* SEGV_MAPERR */                   \
      goto out_of_range;                                            \
    }                                                               \
    cpu->cur_insn = in;                                             \
  } while (0)
#define LOAD(type, conv) do {                                       \
    uint64_t a_ = ADDR; type v_;                                    \
    CHECK(a_, sizeof(type));                                        \
    memcpy(&v_, mem + a_, sizeof v_);                               \
    x[in->rd] = conv v_;                                            \
    NEXT;                                                           \
  } while (0)
#define STORE(type, val) do {                                       \
    uint64_t a_ = ADDR; type v_ = (type)(val);                      \
    CHECK(a_, sizeof(type));                                        \
    memcpy(mem + a_, &v_, sizeof v_);                               \
    NEXT;                                                           \
  } while (0)
#define BRANCH(cond) do {                                           \
    if (cond) { pc = (uint64_t)in->imm; link = &blk->chain[0]; }    \
    else { pc = blk->end_pc; link = &blk->chain[1]; }               \
    goto chain;                                                     \
  } while (0)

next_block:
  if (unlikely(atomic_load_explicit(&cpu->exit_request, memory_order_relaxed))) {
    atomic_store_explicit(&cpu->exit_request, 0, memory_order_relaxed);
    EXIT(VMX_RV_EXIT_REQUEST);
  }
  {
    uint64_t gen = atomic_load_explicit(cpu->code_gen, memory_order_acquire);
    if (unlikely(gen != cpu->bcache_gen)) {
      cpu->bcache_gen = gen;
      vmx_rv_cpu_flush_code(cpu);
    }
  }
  if (unlikely(cpu->budget == 0))
    EXIT(VMX_RV_EXIT_LIMIT);
  blk = vmx__block_get(cpu, pc, labels, &&L_BLOCK_END);
enter:
  if (unlikely(cpu->budget < blk->n)) {
    /* Near the limit: run the first instruction alone. */
    step.b.pc = pc;
    step.b.n = 1;
    step.b.chain[0] = step.b.chain[1] = NULL;
    step.b.insn[0] = blk->insn[0];
    step.b.end_pc = pc + blk->insn[0].len;
    memset(&step.b.insn[1], 0, sizeof step.b.insn[1]);
    step.b.insn[1].impl = &&L_BLOCK_END;
    step.b.insn[1].pc_off = blk->insn[0].len;
    blk = &step.b;
  }
  cpu->budget -= blk->n;
  in = blk->insn;
  goto *in->impl;

chain: {
    /* Fast path: a cached successor, no exit request, budget for the whole
     * block, code unchanged. Anything else goes the slow way round. */
    vmx_rv_block_t *succ = *link;
    if (likely(succ && succ->pc == pc &&
               !atomic_load_explicit(&cpu->exit_request, memory_order_relaxed) &&
               cpu->budget >= succ->n &&
               atomic_load_explicit(cpu->code_gen, memory_order_relaxed) == cpu->bcache_gen)) {
      blk = succ;
      cpu->budget -= blk->n;
      in = blk->insn;
      goto *in->impl;
    }
    if (blk == &step.b || atomic_load_explicit(&cpu->exit_request, memory_order_relaxed) ||
        cpu->budget == 0 ||
        atomic_load_explicit(cpu->code_gen, memory_order_relaxed) != cpu->bcache_gen)
      goto next_block;
    size_t used_before = cpu->bcache->used;
    succ = vmx__block_get(cpu, pc, labels, &&L_BLOCK_END);
    /* A build that reset the arena freed blk: only link when it did not. */
    if (cpu->bcache->used >= used_before)
      *link = succ;
    blk = succ;
    goto enter;
  }

L_BLOCK_END:
  pc = blk->end_pc;
  link = &blk->chain[1];
  goto chain;

  /* RV64I */
L_LUI: x[in->rd] = (uint64_t)in->imm; NEXT;
L_AUIPC: x[in->rd] = (uint64_t)in->imm; NEXT;
L_JAL: x[in->rd] = blk->end_pc; pc = (uint64_t)in->imm; link = &blk->chain[0]; goto chain;
L_JALR: {
    uint64_t t = (x[in->rs1] + (uint64_t)in->imm) & ~(uint64_t)1;
    x[in->rd] = blk->end_pc;
    pc = t;
    link = &blk->chain[0]; /* the last target: returns and calls through one pointer */
    goto chain;
  }
L_BEQ: BRANCH(x[in->rs1] == x[in->rs2]);
L_BNE: BRANCH(x[in->rs1] != x[in->rs2]);
L_BLT: BRANCH((int64_t)x[in->rs1] < (int64_t)x[in->rs2]);
L_BGE: BRANCH((int64_t)x[in->rs1] >= (int64_t)x[in->rs2]);
L_BLTU: BRANCH(x[in->rs1] < x[in->rs2]);
L_BGEU: BRANCH(x[in->rs1] >= x[in->rs2]);
L_LB: LOAD(int8_t, (uint64_t)(int64_t));
L_LH: LOAD(int16_t, (uint64_t)(int64_t));
L_LW: LOAD(int32_t, (uint64_t)(int64_t));
L_LD: LOAD(uint64_t, );
L_LBU: LOAD(uint8_t, (uint64_t));
L_LHU: LOAD(uint16_t, (uint64_t));
L_LWU: LOAD(uint32_t, (uint64_t));
L_SB: STORE(uint8_t, x[in->rs2]);
L_SH: STORE(uint16_t, x[in->rs2]);
L_SW: STORE(uint32_t, x[in->rs2]);
L_SD: STORE(uint64_t, x[in->rs2]);
L_ADDI: x[in->rd] = x[in->rs1] + (uint64_t)in->imm; NEXT;
L_SLTI: x[in->rd] = (int64_t)x[in->rs1] < in->imm; NEXT;
L_SLTIU: x[in->rd] = x[in->rs1] < (uint64_t)in->imm; NEXT;
L_XORI: x[in->rd] = x[in->rs1] ^ (uint64_t)in->imm; NEXT;
L_ORI: x[in->rd] = x[in->rs1] | (uint64_t)in->imm; NEXT;
L_ANDI: x[in->rd] = x[in->rs1] & (uint64_t)in->imm; NEXT;
L_SLLI: x[in->rd] = x[in->rs1] << in->imm; NEXT;
L_SRLI: x[in->rd] = x[in->rs1] >> in->imm; NEXT;
L_SRAI: x[in->rd] = (uint64_t)((int64_t)x[in->rs1] >> in->imm); NEXT;
L_ADD: x[in->rd] = x[in->rs1] + x[in->rs2]; NEXT;
L_SUB: x[in->rd] = x[in->rs1] - x[in->rs2]; NEXT;
L_SLL: x[in->rd] = x[in->rs1] << (x[in->rs2] & 63); NEXT;
L_SLT: x[in->rd] = (int64_t)x[in->rs1] < (int64_t)x[in->rs2]; NEXT;
L_SLTU: x[in->rd] = x[in->rs1] < x[in->rs2]; NEXT;
L_XOR: x[in->rd] = x[in->rs1] ^ x[in->rs2]; NEXT;
L_SRL: x[in->rd] = x[in->rs1] >> (x[in->rs2] & 63); NEXT;
L_SRA: x[in->rd] = (uint64_t)((int64_t)x[in->rs1] >> (x[in->rs2] & 63)); NEXT;
L_OR: x[in->rd] = x[in->rs1] | x[in->rs2]; NEXT;
L_AND: x[in->rd] = x[in->rs1] & x[in->rs2]; NEXT;
L_ADDIW: x[in->rd] = (uint64_t)sx32(x[in->rs1] + (uint64_t)in->imm); NEXT;
L_SLLIW: x[in->rd] = (uint64_t)sx32((uint32_t)x[in->rs1] << in->imm); NEXT;
L_SRLIW: x[in->rd] = (uint64_t)sx32((uint32_t)x[in->rs1] >> in->imm); NEXT;
L_SRAIW: x[in->rd] = (uint64_t)(int64_t)((int32_t)x[in->rs1] >> in->imm); NEXT;
L_ADDW: x[in->rd] = (uint64_t)sx32(x[in->rs1] + x[in->rs2]); NEXT;
L_SUBW: x[in->rd] = (uint64_t)sx32(x[in->rs1] - x[in->rs2]); NEXT;
L_SLLW: x[in->rd] = (uint64_t)sx32((uint32_t)x[in->rs1] << (x[in->rs2] & 31)); NEXT;
L_SRLW: x[in->rd] = (uint64_t)sx32((uint32_t)x[in->rs1] >> (x[in->rs2] & 31)); NEXT;
L_SRAW: x[in->rd] = (uint64_t)(int64_t)((int32_t)x[in->rs1] >> (x[in->rs2] & 31)); NEXT;
L_FENCE: __atomic_thread_fence(__ATOMIC_SEQ_CST); NEXT;
L_ECALL: pc = blk->end_pc; EXIT(VMX_RV_EXIT_ECALL);
L_EBREAK: EXIT_AT_INSN(VMX_RV_EXIT_EBREAK);
L_FENCE_I:
  vmx_rv_cpu_flush_code(cpu);
  pc = blk->end_pc;
  goto next_block;

  /* Zicsr: rs1 = x0 (or uimm 0) for csrrs/csrrc means "no write". */
L_CSRRW: L_CSRRS: L_CSRRC: L_CSRRWI: L_CSRRSI: L_CSRRCI: {
    uint32_t csr = (uint32_t)in->imm;
    bool imm_form = in->op >= VMX_RV_OP_CSRRWI;
    uint64_t src = imm_form ? in->rs1 : x[in->rs1];
    uint64_t now = cpu->icount_limit - cpu->budget - (blk->n - in->idx);
    uint64_t old = 0;
    bool reads = !(in->op == VMX_RV_OP_CSRRW || in->op == VMX_RV_OP_CSRRWI) || in->rd != 32;
    bool writes = in->op == VMX_RV_OP_CSRRW || in->op == VMX_RV_OP_CSRRWI || in->rs1 != 0;
    if (reads && !vmx_rv_csr_read(cpu, csr, now, &old))
      goto illegal;
    if (writes) {
      uint64_t v = src;
      if (in->op == VMX_RV_OP_CSRRS || in->op == VMX_RV_OP_CSRRSI) v = old | src;
      if (in->op == VMX_RV_OP_CSRRC || in->op == VMX_RV_OP_CSRRCI) v = old & ~src;
      if (!vmx_rv_csr_write(cpu, csr, v))
        goto illegal;
    }
    x[in->rd] = old;
    NEXT;
  }

  /* M */
L_MUL: x[in->rd] = x[in->rs1] * x[in->rs2]; NEXT;
L_MULH: x[in->rd] = (uint64_t)(((__int128)(int64_t)x[in->rs1] * (int64_t)x[in->rs2]) >> 64); NEXT;
L_MULHSU:
  x[in->rd] = (uint64_t)(((__int128)(int64_t)x[in->rs1] * (unsigned __int128)x[in->rs2]) >> 64);
  NEXT;
L_MULHU: x[in->rd] = (uint64_t)(((unsigned __int128)x[in->rs1] * x[in->rs2]) >> 64); NEXT;
L_DIV: {
    int64_t a = (int64_t)x[in->rs1], b = (int64_t)x[in->rs2];
    x[in->rd] = b == 0 ? UINT64_MAX : (a == INT64_MIN && b == -1) ? (uint64_t)a : (uint64_t)(a / b);
    NEXT;
  }
L_DIVU: {
    uint64_t a = x[in->rs1], b = x[in->rs2];
    x[in->rd] = b == 0 ? UINT64_MAX : a / b;
    NEXT;
  }
L_REM: {
    int64_t a = (int64_t)x[in->rs1], b = (int64_t)x[in->rs2];
    x[in->rd] = b == 0 ? (uint64_t)a : (a == INT64_MIN && b == -1) ? 0 : (uint64_t)(a % b);
    NEXT;
  }
L_REMU: {
    uint64_t a = x[in->rs1], b = x[in->rs2];
    x[in->rd] = b == 0 ? a : a % b;
    NEXT;
  }
L_MULW: x[in->rd] = (uint64_t)sx32(x[in->rs1] * x[in->rs2]); NEXT;
L_DIVW: {
    int32_t a = (int32_t)x[in->rs1], b = (int32_t)x[in->rs2];
    x[in->rd] = (uint64_t)(int64_t)(b == 0 ? -1 : (a == INT32_MIN && b == -1) ? a : a / b);
    NEXT;
  }
L_DIVUW: {
    uint32_t a = (uint32_t)x[in->rs1], b = (uint32_t)x[in->rs2];
    x[in->rd] = (uint64_t)sx32(b == 0 ? UINT32_MAX : a / b);
    NEXT;
  }
L_REMW: {
    int32_t a = (int32_t)x[in->rs1], b = (int32_t)x[in->rs2];
    x[in->rd] = (uint64_t)(int64_t)(b == 0 ? a : (a == INT32_MIN && b == -1) ? 0 : a % b);
    NEXT;
  }
L_REMUW: {
    uint32_t a = (uint32_t)x[in->rs1], b = (uint32_t)x[in->rs2];
    x[in->rd] = (uint64_t)sx32(b == 0 ? a : a % b);
    NEXT;
  }

  /* A: host atomics on the guest's memory, so they are atomic with respect
   * to guest threads on other host threads. */
#define AMO_ADDR(size) ({                                            \
    uint64_t a_ = x[in->rs1];                                        \
    if (unlikely(a_ & ((size) - 1))) {                               \
      cpu->fault_addr = a_;                                          \
      goto misaligned;                                               \
    }                                                                \
    CHECK(a_, size);                                                 \
    mem + a_;                                                        \
  })
#define AMO_W(expr) do {                                             \
    int32_t *p_ = (int32_t *)AMO_ADDR(4);                            \
    int32_t s_ = (int32_t)x[in->rs2], o_ = __atomic_load_n(p_, __ATOMIC_RELAXED); \
    while (!__atomic_compare_exchange_n(p_, &o_, (int32_t)(expr), false, \
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {} \
    x[in->rd] = (uint64_t)(int64_t)o_;                               \
    NEXT;                                                            \
  } while (0)
#define AMO_D(expr) do {                                             \
    int64_t *p_ = (int64_t *)AMO_ADDR(8);                            \
    int64_t s_ = (int64_t)x[in->rs2], o_ = __atomic_load_n(p_, __ATOMIC_RELAXED); \
    while (!__atomic_compare_exchange_n(p_, &o_, (int64_t)(expr), false, \
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {} \
    x[in->rd] = (uint64_t)o_;                                        \
    NEXT;                                                            \
  } while (0)
L_LR_W: {
    int32_t *p = (int32_t *)AMO_ADDR(4);
    int32_t v = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    cpu->resv_addr = x[in->rs1];
    cpu->resv_val = (uint64_t)(int64_t)v;
    cpu->resv_valid = true;
    x[in->rd] = (uint64_t)(int64_t)v;
    NEXT;
  }
L_LR_D: {
    int64_t *p = (int64_t *)AMO_ADDR(8);
    int64_t v = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    cpu->resv_addr = x[in->rs1];
    cpu->resv_val = (uint64_t)v;
    cpu->resv_valid = true;
    x[in->rd] = (uint64_t)v;
    NEXT;
  }
L_SC_W: {
    int32_t *p = (int32_t *)AMO_ADDR(4);
    int32_t expect = (int32_t)cpu->resv_val;
    bool ok = cpu->resv_valid && cpu->resv_addr == x[in->rs1] &&
              __atomic_compare_exchange_n(p, &expect, (int32_t)x[in->rs2], false,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    cpu->resv_valid = false;
    x[in->rd] = !ok;
    NEXT;
  }
L_SC_D: {
    int64_t *p = (int64_t *)AMO_ADDR(8);
    int64_t expect = (int64_t)cpu->resv_val;
    bool ok = cpu->resv_valid && cpu->resv_addr == x[in->rs1] &&
              __atomic_compare_exchange_n(p, &expect, (int64_t)x[in->rs2], false,
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    cpu->resv_valid = false;
    x[in->rd] = !ok;
    NEXT;
  }
L_AMOSWAP_W: AMO_W(s_);
L_AMOADD_W: AMO_W((uint32_t)o_ + (uint32_t)s_);
L_AMOXOR_W: AMO_W(o_ ^ s_);
L_AMOAND_W: AMO_W(o_ & s_);
L_AMOOR_W: AMO_W(o_ | s_);
L_AMOMIN_W: AMO_W(o_ < s_ ? o_ : s_);
L_AMOMAX_W: AMO_W(o_ > s_ ? o_ : s_);
L_AMOMINU_W: AMO_W((uint32_t)o_ < (uint32_t)s_ ? o_ : s_);
L_AMOMAXU_W: AMO_W((uint32_t)o_ > (uint32_t)s_ ? o_ : s_);
L_AMOSWAP_D: AMO_D(s_);
L_AMOADD_D: AMO_D((uint64_t)o_ + (uint64_t)s_);
L_AMOXOR_D: AMO_D(o_ ^ s_);
L_AMOAND_D: AMO_D(o_ & s_);
L_AMOOR_D: AMO_D(o_ | s_);
L_AMOMIN_D: AMO_D(o_ < s_ ? o_ : s_);
L_AMOMAX_D: AMO_D(o_ > s_ ? o_ : s_);
L_AMOMINU_D: AMO_D((uint64_t)o_ < (uint64_t)s_ ? o_ : s_);
L_AMOMAXU_D: AMO_D((uint64_t)o_ > (uint64_t)s_ ? o_ : s_);

  /* F and D loads and stores; compute ops are in fpu.c. */
L_FLW: {
    uint64_t a = ADDR; uint32_t v;
    CHECK(a, 4);
    memcpy(&v, mem + a, 4);
    f[in->rd] = vmx_rv_box32(v);
    NEXT;
  }
L_FLD: {
    uint64_t a = ADDR;
    CHECK(a, 8);
    memcpy(&f[in->rd], mem + a, 8);
    NEXT;
  }
L_FSW: STORE(uint32_t, f[in->rs2]);
L_FSD: STORE(uint64_t, f[in->rs2]);
#define X(name, match, mask, fmt, kind) VMX__FP_CASE_##kind(name)
#define VMX__FP_CASE_FP(name) L_##name: if (unlikely(vmx_rv_fp_##name(cpu, in))) goto illegal; NEXT;
#define VMX__FP_CASE_ALU(name)
#define VMX__FP_CASE_MEM(name)
#define VMX__FP_CASE_BR(name)
#define VMX__FP_CASE_SYS(name)
#define VMX__FP_CASE_AMO(name)
#define VMX__FP_CASE_CSR(name)
#include "cpu/riscv/insns.def"
#undef X

L_ILLEGAL:
illegal:
  cpu->exit_insn = in->bits;
  EXIT_AT_INSN(VMX_RV_EXIT_ILLEGAL);

out_of_range:
  /* An address outside guest memory: the same exit a host fault gives. */
  cpu->fault_kind = (vmx__kind[in->op] == KIND_MEM &&
                     ((in->op >= VMX_RV_OP_LB && in->op <= VMX_RV_OP_LWU) ||
                      in->op == VMX_RV_OP_FLW || in->op == VMX_RV_OP_FLD)) ||
                            in->op == VMX_RV_OP_LR_W || in->op == VMX_RV_OP_LR_D
                        ? VMX_RV_FAULT_LOAD
                        : VMX_RV_FAULT_STORE;
  EXIT_AT_INSN(VMX_RV_EXIT_FAULT);

misaligned:
  cpu->fault_kind = VMX_RV_FAULT_MISALIGNED;
  cpu->fault_host_code = 1; /* BUS_ADRALN */
  EXIT_AT_INSN(VMX_RV_EXIT_FAULT);

#undef x
#undef f
leave:
  cpu->icount = cpu->icount_limit - cpu->budget;
  cpu->pc = pc;
  cpu->cur_insn = NULL;
  tls->cpu = NULL;
  return why;
}
