/* The riscv64 target description for gdb: see gdb_target.h. */
#include "debug/gdb_target.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ABI names of x0..x31, in gdb's riscv-64bit-cpu.xml; with the type gdb
 * gives each (pointers print as addresses or symbols). */
static const struct {
  const char *name;
  const char *type;
} gprs[32] = {
    {"zero", "int"}, {"ra", "code_ptr"}, {"sp", "data_ptr"}, {"gp", "data_ptr"},
    {"tp", "data_ptr"}, {"t0", "int"}, {"t1", "int"}, {"t2", "int"},
    {"fp", "data_ptr"}, {"s1", "int"}, {"a0", "int"}, {"a1", "int"},
    {"a2", "int"}, {"a3", "int"}, {"a4", "int"}, {"a5", "int"},
    {"a6", "int"}, {"a7", "int"}, {"s2", "int"}, {"s3", "int"},
    {"s4", "int"}, {"s5", "int"}, {"s6", "int"}, {"s7", "int"},
    {"s8", "int"}, {"s9", "int"}, {"s10", "int"}, {"s11", "int"},
    {"t3", "int"}, {"t4", "int"}, {"t5", "int"}, {"t6", "int"},
};

static const char *const fprs[32] = {
    "ft0", "ft1", "ft2",  "ft3",  "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0",
    "fa1", "fa2", "fa3",  "fa4",  "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5",
    "fs6", "fs7", "fs8",  "fs9",  "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
};

static const vmx_gdb_reg_t fcsr_regs[3] = {
    {VMX_GDB_REG_FCSR, 0x001, 4, "fflags"},
    {VMX_GDB_REG_FCSR, 0x002, 4, "frm"},
    {VMX_GDB_REG_FCSR, 0x003, 4, "fcsr"},
};

/* The CSRs system mode shows: those vmx's hart implements (cpu/riscv/priv.c),
 * under the names gdb knows them by. fflags/frm/fcsr are in the fpu feature. */
#define PMPADDR(n) {VMX_GDB_REG_CSR, 0x3b0 + n, 8, "pmpaddr" #n}
static const vmx_gdb_reg_t csr_regs[] = {
    {VMX_GDB_REG_CSR, 0x100, 8, "sstatus"},    {VMX_GDB_REG_CSR, 0x104, 8, "sie"},
    {VMX_GDB_REG_CSR, 0x105, 8, "stvec"},      {VMX_GDB_REG_CSR, 0x106, 8, "scounteren"},
    {VMX_GDB_REG_CSR, 0x10a, 8, "senvcfg"},    {VMX_GDB_REG_CSR, 0x140, 8, "sscratch"},
    {VMX_GDB_REG_CSR, 0x141, 8, "sepc"},       {VMX_GDB_REG_CSR, 0x142, 8, "scause"},
    {VMX_GDB_REG_CSR, 0x143, 8, "stval"},      {VMX_GDB_REG_CSR, 0x144, 8, "sip"},
    {VMX_GDB_REG_CSR, 0x14d, 8, "stimecmp"},   {VMX_GDB_REG_CSR, 0x180, 8, "satp"},
    {VMX_GDB_REG_CSR, 0x300, 8, "mstatus"},    {VMX_GDB_REG_CSR, 0x301, 8, "misa"},
    {VMX_GDB_REG_CSR, 0x302, 8, "medeleg"},    {VMX_GDB_REG_CSR, 0x303, 8, "mideleg"},
    {VMX_GDB_REG_CSR, 0x304, 8, "mie"},        {VMX_GDB_REG_CSR, 0x305, 8, "mtvec"},
    {VMX_GDB_REG_CSR, 0x306, 8, "mcounteren"}, {VMX_GDB_REG_CSR, 0x30a, 8, "menvcfg"},
    {VMX_GDB_REG_CSR, 0x320, 8, "mcountinhibit"},
    {VMX_GDB_REG_CSR, 0x340, 8, "mscratch"},   {VMX_GDB_REG_CSR, 0x341, 8, "mepc"},
    {VMX_GDB_REG_CSR, 0x342, 8, "mcause"},     {VMX_GDB_REG_CSR, 0x343, 8, "mtval"},
    {VMX_GDB_REG_CSR, 0x344, 8, "mip"},        {VMX_GDB_REG_CSR, 0x3a0, 8, "pmpcfg0"},
    {VMX_GDB_REG_CSR, 0x3a2, 8, "pmpcfg2"},
    PMPADDR(0), PMPADDR(1), PMPADDR(2),  PMPADDR(3),  PMPADDR(4),  PMPADDR(5),
    PMPADDR(6), PMPADDR(7), PMPADDR(8),  PMPADDR(9),  PMPADDR(10), PMPADDR(11),
    PMPADDR(12), PMPADDR(13), PMPADDR(14), PMPADDR(15),
    {VMX_GDB_REG_CSR, 0xb00, 8, "mcycle"},     {VMX_GDB_REG_CSR, 0xb02, 8, "minstret"},
    {VMX_GDB_REG_CSR, 0xc00, 8, "cycle"},      {VMX_GDB_REG_CSR, 0xc01, 8, "time"},
    {VMX_GDB_REG_CSR, 0xc02, 8, "instret"},    {VMX_GDB_REG_CSR, 0xf11, 8, "mvendorid"},
    {VMX_GDB_REG_CSR, 0xf12, 8, "marchid"},    {VMX_GDB_REG_CSR, 0xf13, 8, "mimpid"},
    {VMX_GDB_REG_CSR, 0xf14, 8, "mhartid"},    {VMX_GDB_REG_CSR, 0xf15, 8, "mconfigptr"},
};
#undef PMPADDR

static const vmx_gdb_reg_t priv_reg = {VMX_GDB_REG_PRIV, 0, 8, "priv"};

/* ---- The XML documents, built once ---- */

#define XML_CAP 16384

typedef struct {
  char text[XML_CAP];
  size_t len;
} xml_doc_t;

/* Written once under target_once, read-only after. */
static xml_doc_t xml_docs[2]; /* [0] user, [1] system */
static vmx_gdb_reg_t gpr_regs[32], fpr_regs[32];
static pthread_once_t target_once = PTHREAD_ONCE_INIT;

static void put(xml_doc_t *doc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(xml_doc_t *doc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(doc->text + doc->len, XML_CAP - doc->len, fmt, ap);
  va_end(ap);
  /* Our own fixed text: XML_CAP is sized for it (checked in release builds too). */
  if (n < 0 || (size_t)n >= XML_CAP - doc->len)
    abort();
  doc->len += (size_t)n;
}

static void put_reg(xml_doc_t *doc, const char *name, int bits, const char *type,
                    unsigned regnum) {
  put(doc, "    <reg name=\"%s\" bitsize=\"%d\" type=\"%s\" regnum=\"%u\"/>\n", name, bits,
      type, regnum);
}

static void build_xml(xml_doc_t *doc, bool system) {
  doc->len = 0;
  put(doc, "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
           "<target version=\"1.0\">\n  <architecture>riscv:rv64</architecture>\n");
  put(doc, "  <feature name=\"org.gnu.gdb.riscv.cpu\">\n");
  for (unsigned i = 0; i < 32; i++)
    put_reg(doc, gprs[i].name, 64, gprs[i].type, i);
  put_reg(doc, "pc", 64, "code_ptr", 32);
  put(doc, "  </feature>\n  <feature name=\"org.gnu.gdb.riscv.fpu\">\n"
           "    <union id=\"riscv_double\">\n"
           "      <field name=\"float\" type=\"ieee_single\"/>\n"
           "      <field name=\"double\" type=\"ieee_double\"/>\n"
           "    </union>\n");
  for (unsigned i = 0; i < 32; i++)
    put_reg(doc, fprs[i], 64, "riscv_double", 33 + i);
  for (unsigned i = 0; i < 3; i++)
    put_reg(doc, fcsr_regs[i].name, 32, "int", VMX_GDB_REGNUM_CSR0 + fcsr_regs[i].index);
  put(doc, "  </feature>\n");
  if (system) {
    put(doc, "  <feature name=\"org.gnu.gdb.riscv.csr\">\n");
    for (size_t i = 0; i < sizeof csr_regs / sizeof csr_regs[0]; i++)
      put_reg(doc, csr_regs[i].name, 64, "int", VMX_GDB_REGNUM_CSR0 + csr_regs[i].index);
    put(doc, "  </feature>\n  <feature name=\"org.gnu.gdb.riscv.virtual\">\n");
    put_reg(doc, priv_reg.name, 64, "int", VMX_GDB_REGNUM_PRIV);
    put(doc, "  </feature>\n");
  }
  put(doc, "</target>\n");
}

static void target_init(void) {
  for (unsigned i = 0; i < 32; i++) {
    gpr_regs[i] = (vmx_gdb_reg_t){VMX_GDB_REG_GPR, (uint16_t)i, 8, gprs[i].name};
    fpr_regs[i] = (vmx_gdb_reg_t){VMX_GDB_REG_FPR, (uint16_t)i, 8, fprs[i]};
  }
  build_xml(&xml_docs[0], false);
  build_xml(&xml_docs[1], true);
}

const char *vmx_gdb_target_xml(bool system, size_t *len) {
  pthread_once(&target_once, target_init);
  if (len)
    *len = xml_docs[system].len;
  return xml_docs[system].text;
}

/* ---- Register numbers ---- */

const vmx_gdb_reg_t *vmx_gdb_target_reg(bool system, unsigned regnum) {
  /* The same tables as the XML, so the two cannot disagree. */
  static const vmx_gdb_reg_t pc = {VMX_GDB_REG_PC, 0, 8, "pc"};
  pthread_once(&target_once, target_init);
  if (regnum < 32)
    return &gpr_regs[regnum];
  if (regnum == 32)
    return &pc;
  if (regnum < 65)
    return &fpr_regs[regnum - 33];
  if (regnum >= VMX_GDB_REGNUM_CSR0 + 1 && regnum <= VMX_GDB_REGNUM_CSR0 + 3)
    return &fcsr_regs[regnum - VMX_GDB_REGNUM_CSR0 - 1];
  if (!system)
    return NULL;
  if (regnum == VMX_GDB_REGNUM_PRIV)
    return &priv_reg;
  for (size_t i = 0; i < sizeof csr_regs / sizeof csr_regs[0]; i++)
    if (VMX_GDB_REGNUM_CSR0 + (unsigned)csr_regs[i].index == regnum)
      return &csr_regs[i];
  return NULL;
}
