/* rt.c: output through HTIF, check bookkeeping and the trap handler of the
 * bare-metal tests (see rt.h). */
#include "rt.h"

/* ---- HTIF ----
 * tohost = device << 56 | command << 48 | payload. Device 0 command 0 with
 * payload bit 0 set is exit(payload >> 1); device 1 command 1 writes the low
 * byte to the console, and the host answers in fromhost, which we clear. */
extern volatile u64 tohost, fromhost;

#ifdef RT_VIRT_CONSOLE
/* Development variant for QEMU's virt machine, which has no HTIF: the
 * ns16550 UART and the SiFive test finisher. */
#define UART_THR ((volatile unsigned char *)0x10000000)
#define UART_LSR ((volatile unsigned char *)0x10000005)
#define FINISHER ((volatile u32 *)0x100000)

void rt_putchar(int c)
{
  while (!(*UART_LSR & 0x20)) {
  }
  *UART_THR = (unsigned char)c;
}

_Noreturn void rt_exit(unsigned code)
{
  *FINISHER = code ? (code << 16) | 0x3333 : 0x5555;
  for (;;) {
  }
}
#else
void rt_putchar(int c)
{
  tohost = (1ull << 56) | (1ull << 48) | (unsigned char)c;
  while (fromhost == 0) {
  }
  fromhost = 0;
}

_Noreturn void rt_exit(unsigned code)
{
  for (;;) {
    tohost = ((u64)code << 1) | 1;
  }
}
#endif

void *rt_memset(void *d, int c, unsigned long n)
{
  volatile unsigned char *p = d;
  while (n--) {
    *p++ = (unsigned char)c;
  }
  return d;
}

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *d, int c, unsigned long n) { return rt_memset(d, c, n); }

void *memcpy(void *d, const void *s, unsigned long n)
{
  volatile unsigned char *dp = d;
  const volatile unsigned char *sp = s;
  while (n--) {
    *dp++ = *sp++;
  }
  return d;
}

/* ---- printf-lite: %s %c %d %u %x %p, with l/ll, width and 0 flag ---- */
static void put_str(const char *s)
{
  while (*s) {
    rt_putchar(*s++);
  }
}

static void put_num(u64 v, unsigned base, int neg, int width, char pad)
{
  char buf[24];
  int n = 0;
  do {
    buf[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  if (neg) {
    buf[n++] = '-';
  }
  while (width-- > n) {
    rt_putchar(pad);
  }
  while (n) {
    rt_putchar(buf[--n]);
  }
}

static void rt_vprintf(const char *fmt, va_list ap)
{
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      rt_putchar(*fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0, longs = 0;
    if (*fmt == '0') {
      pad = '0';
      fmt++;
    }
    while (*fmt >= '0' && *fmt <= '9') {
      width = width * 10 + (*fmt++ - '0');
    }
    while (*fmt == 'l') {
      longs++;
      fmt++;
    }
    switch (*fmt) {
    case 's':
      put_str(va_arg(ap, const char *));
      break;
    case 'c':
      rt_putchar(va_arg(ap, int));
      break;
    case 'd': {
      i64 v = longs ? va_arg(ap, i64) : va_arg(ap, int);
      put_num(v < 0 ? -(u64)v : (u64)v, 10, v < 0, width, pad);
      break;
    }
    case 'u':
      put_num(longs ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, 0, width, pad);
      break;
    case 'x':
      put_num(longs ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, 0, width, pad);
      break;
    case 'p':
      put_str("0x");
      put_num((u64)va_arg(ap, void *), 16, 0, width, pad);
      break;
    case '%':
      rt_putchar('%');
      break;
    default:
      rt_putchar('?');
      break;
    }
  }
}

void rt_printf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  rt_vprintf(fmt, ap);
  va_end(ap);
}

/* ---- checks ---- */
static const char *test_name = "baremetal";
unsigned rt_failures;
static unsigned passes, skips;

void test_begin(const char *name)
{
  test_name = name;
  rt_printf("START %s\n", name);
}

int check(int ok, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  put_str(ok ? "PASS: " : "FAIL: ");
  rt_vprintf(fmt, ap);
  rt_putchar('\n');
  va_end(ap);
  if (ok) {
    passes++;
  } else {
    rt_failures++;
  }
  return ok;
}

int check_eq(const char *what, u64 got, u64 want)
{
  if (got == want) {
    return check(1, "%s = 0x%lx", what, got);
  }
  return check(0, "%s = 0x%lx, expected 0x%lx", what, got, want);
}

void skip(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  put_str("SKIP: ");
  rt_vprintf(fmt, ap);
  rt_putchar('\n');
  va_end(ap);
  skips++;
}

void note(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  put_str("NOTE: ");
  rt_vprintf(fmt, ap);
  rt_putchar('\n');
  va_end(ap);
}

_Noreturn void test_end(void)
{
  rt_printf("RESULT %s: %u passed, %u failed, %u skipped\n", test_name, passes,
            rt_failures, skips);
  rt_printf("END %s\n", test_name);
  rt_exit(rt_failures > 255 ? 255 : rt_failures);
}

/* ---- traps ---- */
struct frame {
  i64 vec;   /* x0's slot: the vector slot taken */
  u64 x[31]; /* x1..x31, x[i - 1] is register i */
  u64 epc, cause, tval, status, mode, pad;
};
#define REG(f, n) ((f)->x[(n) - 1])

volatile struct trap_ev traps[MAX_TRAPS];
volatile unsigned ntraps;
void (*volatile irq_hook)(u64 code, int to);

/* The M-mode context saved by run_in() (crt.S): ra sp gp tp s0..s11. */
extern u64 m_ctx[16];
extern char s_trap_stack_top[];
_Noreturn void s_forward_exit(u64 value);

#define EXIT_MAGIC_A7 0x564d58ull
#define EXIT_MAGIC_A6 0x45584954ull

void traps_reset(void)
{
  ntraps = 0;
}

/* The code at a trapping pc is read through its identity address: all code
 * is identity-mapped except .utext's user alias. */
static u64 code_address(u64 pc)
{
  if (utext_alias && pc >= utext_alias &&
      pc < utext_alias + (u64)(utext_end - utext_start)) {
    return pc - utext_alias + (u64)utext_start;
  }
  return pc;
}

static unsigned insn_length(u64 pc)
{
  unsigned short parcel = *(volatile unsigned short *)code_address(pc);
  return (parcel & 3) == 3 ? 4 : 2;
}

/* End of a run_in(): resume M after the run_in() call, with its registers. */
static void resume_m(struct frame *f)
{
  static const int sregs[12] = {8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27};
  REG(f, 1) = m_ctx[0];
  REG(f, 2) = m_ctx[1];
  REG(f, 3) = m_ctx[2];
  REG(f, 4) = m_ctx[3];
  for (int i = 0; i < 12; i++) {
    REG(f, sregs[i]) = m_ctx[4 + i];
  }
  f->epc = m_ctx[0];
  f->status = (f->status | MSTATUS_MPP) & ~MSTATUS_MPIE;
  csr_write(sscratch, (u64)s_trap_stack_top);
}

void trap_handle(struct frame *f)
{
  int to = (int)f->mode;
  int from = to == PRV_M ? (int)((f->status >> 11) & 3) : (int)((f->status >> 8) & 1);
  int intr = (i64)f->cause < 0;
  u64 code = f->cause & ~CAUSE_INTR;

  int exit_call = code == EXC_ECALL_U || code == EXC_ECALL_S ||
                  (code == EXC_BREAKPOINT && to == PRV_M && from == PRV_S);
  if (!intr && exit_call && REG(f, 17) == EXIT_MAGIC_A7 && REG(f, 16) == EXIT_MAGIC_A6) {
    if (to == PRV_S) {
      s_forward_exit(REG(f, 10));
    }
    resume_m(f);
    return;
  }
  unsigned n = ntraps;
  if (n >= MAX_TRAPS) {
    rt_printf("FAIL: more than %d traps: cause 0x%lx epc 0x%lx tval 0x%lx\n",
              MAX_TRAPS, f->cause, f->epc, f->tval);
    rt_failures++;
    test_end();
  }
  traps[n].cause = f->cause;
  traps[n].tval = f->tval;
  traps[n].epc = f->epc;
  traps[n].vec = f->vec;
  traps[n].status = f->status;
  traps[n].from = from;
  traps[n].to = to;
  ntraps = n + 1;

  if (intr) {
    if (irq_hook) {
      irq_hook(code, to);
    } else if (to == PRV_M) {
      csr_clear(mie, 1ull << code);
    } else {
      csr_clear(sie, 1ull << code);
    }
    return;
  }
  if (code == EXC_FETCH_MISALIGNED || code == EXC_FETCH_ACCESS || code == EXC_FETCH_PAGE) {
    f->epc = REG(f, 1);
  } else {
    f->epc += insn_length(f->epc);
  }
}

static const char *mode_name(int m)
{
  return m == PRV_M ? "M" : m == PRV_S ? "S" : m == PRV_U ? "U" : "?";
}

void traps_print(void)
{
  for (unsigned i = 0; i < ntraps; i++) {
    rt_printf("  trap %u: cause 0x%lx tval 0x%lx epc 0x%lx vec %ld %s->%s\n", i,
              traps[i].cause, traps[i].tval, traps[i].epc, traps[i].vec,
              mode_name(traps[i].from), mode_name(traps[i].to));
  }
}

int expect_trap(const char *what, u64 cause, int from, int to, u64 tval_want, int tval_ok)
{
  int ok = ntraps == 1 && traps[0].cause == cause && traps[0].from == from &&
           traps[0].to == to && (!tval_ok || traps[0].tval == tval_want);
  const char *kind = (i64)cause < 0 ? "interrupt" : "cause";
  if (tval_ok) {
    check(ok, "%s: %s %lu %s->%s tval 0x%lx", what, kind, cause & ~CAUSE_INTR,
          mode_name(from), mode_name(to), tval_want);
  } else {
    check(ok, "%s: %s %lu %s->%s", what, kind, cause & ~CAUSE_INTR, mode_name(from),
          mode_name(to));
  }
  if (!ok) {
    rt_printf("  %u traps logged\n", ntraps);
    traps_print();
  }
  return ok;
}

int expect_no_trap(const char *what)
{
  int ok = check(ntraps == 0, "%s: no trap", what);
  if (!ok) {
    traps_print();
  }
  return ok;
}

void write_fetch_stub(void *page)
{
  volatile u32 *w = page;
  w[0] = FETCH_STUB_INSN0;
  w[1] = FETCH_STUB_INSN1;
  __asm__ volatile("fence.i" ::: "memory");
}
