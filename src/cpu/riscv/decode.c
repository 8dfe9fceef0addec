/* RV64GC decoder. 32-bit words are matched against insns.def through a
 * per-major-opcode candidate list; RVC words are first expanded to their
 * 32-bit equivalents (unpriv ch. 16, "RVC instruction set listings"). */
#include "cpu/riscv/decode.h"

#include <pthread.h>
#include <string.h>

typedef enum { F_R, F_I, F_S, F_B, F_U, F_J, F_SH, F_CSR, F_A, F_F, F_R4, F_N } vmx__fmt_t;

typedef struct {
  uint32_t match, mask;
  uint16_t op;
  uint8_t fmt;
} vmx__pattern_t;

static const vmx__pattern_t vmx__patterns[] = {
#define X(name, match, mask, fmt, kind) {match, mask, VMX_RV_OP_##name, F_##fmt},
#include "cpu/riscv/insns.def"
#undef X
};
#define NPATTERNS (sizeof vmx__patterns / sizeof vmx__patterns[0])

static const char *const vmx__names[VMX_RV_OP_COUNT] = {
#define X(name, match, mask, fmt, kind) [VMX_RV_OP_##name] = #name,
#include "cpu/riscv/insns.def"
#undef X
  [VMX_RV_OP_ILLEGAL] = "ILLEGAL",
};

/* Candidates per major opcode (bits 6:2 of a 32-bit word). */
static struct {
  uint16_t first[33];
  uint16_t index[NPATTERNS];
} vmx__by_opcode;
static pthread_once_t vmx__once = PTHREAD_ONCE_INIT;

static void vmx__build_index(void) {
  unsigned n = 0;
  for (unsigned major = 0; major < 32; major++) {
    vmx__by_opcode.first[major] = (uint16_t)n;
    for (unsigned i = 0; i < NPATTERNS; i++)
      if (((vmx__patterns[i].match >> 2) & 31) == major)
        vmx__by_opcode.index[n++] = (uint16_t)i;
  }
  vmx__by_opcode.first[32] = (uint16_t)n;
}

static inline uint32_t bits(uint32_t w, unsigned hi, unsigned lo) {
  return (w >> lo) & ((1u << (hi - lo + 1)) - 1);
}
static inline int64_t sext(uint64_t v, unsigned width) {
  return (int64_t)(v << (64 - width)) >> (64 - width);
}

/* --- RVC expansion ------------------------------------------------------- */

static uint32_t enc_r(uint32_t op, uint32_t rd, uint32_t f3, uint32_t rs1, uint32_t rs2, uint32_t f7) {
  return op | rd << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | f7 << 25;
}
static uint32_t enc_i(uint32_t op, uint32_t rd, uint32_t f3, uint32_t rs1, int32_t imm) {
  return op | rd << 7 | f3 << 12 | rs1 << 15 | ((uint32_t)imm & 0xfff) << 20;
}
static uint32_t enc_s(uint32_t op, uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = (uint32_t)imm;
  return op | (u & 0x1f) << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | ((u >> 5) & 0x7f) << 25;
}
static uint32_t enc_b(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t imm) {
  uint32_t u = (uint32_t)imm;
  return 0x63 | ((u >> 11) & 1) << 7 | ((u >> 1) & 0xf) << 8 | f3 << 12 | rs1 << 15 | rs2 << 20 |
         ((u >> 5) & 0x3f) << 25 | ((u >> 12) & 1) << 31;
}
static uint32_t enc_j(uint32_t rd, int32_t imm) {
  uint32_t u = (uint32_t)imm;
  return 0x6f | rd << 7 | ((u >> 12) & 0xff) << 12 | ((u >> 11) & 1) << 20 |
         ((u >> 1) & 0x3ff) << 21 | ((u >> 20) & 1) << 31;
}

/* Expands a 16-bit RVC word to its 32-bit equivalent, or returns 0 for a
 * reserved or illegal encoding (0 is itself illegal). */
static uint32_t vmx__expand_rvc(uint32_t c) {
  uint32_t rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
  uint32_t rdp = bits(c, 4, 2) + 8, rs1p = bits(c, 9, 7) + 8;
  int32_t imm6 = (int32_t)sext(bits(c, 12, 12) << 5 | bits(c, 6, 2), 6);
  switch ((c & 3) << 3 | bits(c, 15, 13)) {
  case 000: { /* c.addi4spn */
    uint32_t nz = bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 3;
    return nz ? enc_i(0x13, rdp, 0, 2, (int32_t)nz) : 0;
  }
  case 001: /* c.fld */
    return enc_i(0x07, rdp, 3, rs1p, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));
  case 002: /* c.lw */
    return enc_i(0x03, rdp, 2, rs1p, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6));
  case 003: /* c.ld */
    return enc_i(0x03, rdp, 3, rs1p, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));
  case 005: /* c.fsd */
    return enc_s(0x27, 3, rs1p, rdp, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));
  case 006: /* c.sw */
    return enc_s(0x23, 2, rs1p, rdp, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6));
  case 007: /* c.sd */
    return enc_s(0x23, 3, rs1p, rdp, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));
  case 010: /* c.addi (c.nop when rd = 0) */
    return enc_i(0x13, rd, 0, rd, imm6);
  case 011: /* c.addiw */
    return rd ? enc_i(0x1b, rd, 0, rd, imm6) : 0;
  case 012: /* c.li */
    return enc_i(0x13, rd, 0, 0, imm6);
  case 013:
    if (rd == 2) { /* c.addi16sp */
      int32_t nz = (int32_t)sext(bits(c, 12, 12) << 9 | bits(c, 6, 6) << 4 | bits(c, 5, 5) << 6 |
                                 bits(c, 4, 3) << 7 | bits(c, 2, 2) << 5, 10);
      return nz ? enc_i(0x13, 2, 0, 2, nz) : 0;
    }
    /* c.lui */
    return imm6 ? (0x37 | rd << 7 | ((uint32_t)imm6 & 0xfffff) << 12) : 0;
  case 014: /* arithmetic on rd' */
    switch (bits(c, 11, 10)) {
    case 0: return enc_i(0x13, rs1p, 5, rs1p, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 2)));
    case 1: return enc_i(0x13, rs1p, 5, rs1p, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 2) | 0x400));
    case 2: return enc_i(0x13, rs1p, 7, rs1p, imm6);
    default: {
      static const uint8_t f3[4] = {0, 4, 6, 7};
      uint32_t sel = bits(c, 6, 5);
      if (!bits(c, 12, 12))
        return enc_r(0x33, rs1p, f3[sel], rs1p, rdp, sel == 0 ? 0x20 : 0);
      if (sel >= 2)
        return 0;
      return enc_r(0x3b, rs1p, 0, rs1p, rdp, sel == 0 ? 0x20 : 0); /* c.subw, c.addw */
    }
    }
  case 015: /* c.j */
    return enc_j(0, (int32_t)sext(bits(c, 12, 12) << 11 | bits(c, 11, 11) << 4 | bits(c, 10, 9) << 8 |
                                  bits(c, 8, 8) << 10 | bits(c, 7, 7) << 6 | bits(c, 6, 6) << 7 |
                                  bits(c, 5, 3) << 1 | bits(c, 2, 2) << 5, 12));
  case 016: case 017: { /* c.beqz, c.bnez */
    int32_t off = (int32_t)sext(bits(c, 12, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
                                bits(c, 4, 3) << 1 | bits(c, 2, 2) << 5, 9);
    return enc_b(bits(c, 13, 13), rs1p, 0, off);
  }
  case 020: /* c.slli */
    return enc_i(0x13, rd, 1, rd, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 2)));
  case 021: /* c.fldsp */
    return enc_i(0x07, rd, 3, 2, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6));
  case 022: /* c.lwsp */
    return rd ? enc_i(0x03, rd, 2, 2, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6)) : 0;
  case 023: /* c.ldsp */
    return rd ? enc_i(0x03, rd, 3, 2, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6)) : 0;
  case 024:
    if (!bits(c, 12, 12)) {
      if (rs2 == 0) /* c.jr */
        return rd ? enc_i(0x67, 0, 0, rd, 0) : 0;
      return enc_r(0x33, rd, 0, 0, rs2, 0); /* c.mv */
    }
    if (rs2 == 0) {
      if (rd == 0)
        return 0x00100073; /* c.ebreak */
      return enc_i(0x67, 1, 0, rd, 0); /* c.jalr */
    }
    return enc_r(0x33, rd, 0, rd, rs2, 0); /* c.add */
  case 025: /* c.fsdsp */
    return enc_s(0x27, 3, 2, rs2, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6));
  case 026: /* c.swsp */
    return enc_s(0x23, 2, 2, rs2, (int32_t)(bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6));
  case 027: /* c.sdsp */
    return enc_s(0x23, 3, 2, rs2, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6));
  default: /* 004 is reserved */
    return 0;
  }
}

/* --- 32-bit decode ------------------------------------------------------- */

static void vmx__fields(vmx_rv_insn_t *in, uint32_t w, vmx__fmt_t fmt) {
  in->rd = (uint8_t)bits(w, 11, 7);
  in->rs1 = (uint8_t)bits(w, 19, 15);
  in->rs2 = (uint8_t)bits(w, 24, 20);
  switch (fmt) {
  case F_R: break;
  case F_I: in->imm = sext(bits(w, 31, 20), 12); break;
  case F_S: in->imm = sext(bits(w, 31, 25) << 5 | bits(w, 11, 7), 12); break;
  case F_B:
    in->imm = sext(bits(w, 31, 31) << 12 | bits(w, 7, 7) << 11 | bits(w, 30, 25) << 5 | bits(w, 11, 8) << 1, 13);
    break;
  case F_U: in->imm = sext(w & 0xfffff000u, 32); break;
  case F_J:
    in->imm = sext(bits(w, 31, 31) << 20 | bits(w, 19, 12) << 12 | bits(w, 20, 20) << 11 | bits(w, 30, 21) << 1, 21);
    break;
  case F_SH: in->imm = bits(w, 25, 20); break;
  case F_CSR: in->imm = bits(w, 31, 20); break;
  case F_A: in->rm = (uint8_t)bits(w, 26, 25); break;
  case F_F: in->rm = (uint8_t)bits(w, 14, 12); break;
  case F_R4: in->rm = (uint8_t)bits(w, 14, 12); in->rs3 = (uint8_t)bits(w, 31, 27); break;
  case F_N: break;
  }
  /* Only the fields a format defines stay set. */
  if (fmt == F_U || fmt == F_J)
    in->rs1 = in->rs2 = 0;
  if (fmt == F_I || fmt == F_SH || fmt == F_CSR)
    in->rs2 = 0;
  if (fmt == F_S || fmt == F_B)
    in->rd = 0;
  if (fmt == F_N)
    in->rd = in->rs1 = in->rs2 = 0;
}

static void vmx__decode32(vmx_rv_insn_t *in, uint32_t w) {
  pthread_once(&vmx__once, vmx__build_index);
  unsigned major = (w >> 2) & 31;
  for (unsigned k = vmx__by_opcode.first[major]; k < vmx__by_opcode.first[major + 1]; k++) {
    const vmx__pattern_t *p = &vmx__patterns[vmx__by_opcode.index[k]];
    if ((w & p->mask) == p->match) {
      in->op = p->op;
      vmx__fields(in, w, (vmx__fmt_t)p->fmt);
      return;
    }
  }
  in->op = VMX_RV_OP_ILLEGAL;
}

void vmx_rv_decode(vmx_rv_insn_t *in, uint16_t lo, uint16_t hi) {
  memset(in, 0, sizeof *in);
  if ((lo & 3) == 3) {
    in->len = 4;
    in->bits = (uint32_t)lo | (uint32_t)hi << 16;
    if ((lo & 0x1f) == 0x1f) { /* 48-bit and longer encodings: none in RV64GC */
      in->op = VMX_RV_OP_ILLEGAL;
      return;
    }
    vmx__decode32(in, in->bits);
    return;
  }
  in->len = 2;
  uint32_t w = vmx__expand_rvc(lo);
  in->bits = w ? w : lo;
  if (!w)
    in->op = VMX_RV_OP_ILLEGAL;
  else
    vmx__decode32(in, w);
}

const char *vmx_rv_op_name(vmx_rv_op_t op) {
  return op < VMX_RV_OP_COUNT ? vmx__names[op] : "?";
}
