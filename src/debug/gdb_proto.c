/* The GDB remote serial protocol without a connection: see gdb_proto.h. */
#include "debug/gdb_proto.h"

#include <stdint.h>
#include <string.h>

#include "base/error.h"

static int hex_value(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static const char hex_digits[] = "0123456789abcdef";

/* ---- Framing ---- */

enum {
  RX_IDLE,     /* between packets */
  RX_DATA,     /* after '$' */
  RX_ESCAPE,   /* after '}' inside a packet */
  RX_CSUM_HI,  /* after '#' */
  RX_CSUM_LO,  /* after the first checksum digit */
};

void vmx_gdb_rx_init(vmx_gdb_rx_t *rx) {
  rx->state = RX_IDLE;
  rx->sum = 0;
  rx->csum_hi = -1;
  rx->overflow = false;
  rx->raw_len = 0;
  rx->len = 0;
  rx->payload[0] = 0;
}

static void rx_start_packet(vmx_gdb_rx_t *rx) {
  vmx_gdb_rx_init(rx);
  rx->state = RX_DATA;
}

static void rx_emit(vmx_gdb_rx_cb cb, void *opaque, vmx_gdb_event_kind_t kind,
                    const char *data, size_t len) {
  vmx_gdb_event_t ev = {.kind = kind, .data = data, .len = len};
  cb(opaque, &ev);
}

/* One data byte of a packet: counted in the checksum and the raw length,
 * stored unescaped unless the packet has already overflowed. */
static void rx_data_byte(vmx_gdb_rx_t *rx, uint8_t raw, uint8_t value) {
  rx->sum = (uint8_t)(rx->sum + raw);
  if (++rx->raw_len > VMX_GDB_PACKET_MAX)
    rx->overflow = true;
  if (!rx->overflow)
    rx->payload[rx->len++] = (char)value;
}

static void rx_finish_packet(vmx_gdb_rx_t *rx, int csum_lo, vmx_gdb_rx_cb cb, void *opaque) {
  bool good = rx->csum_hi >= 0 && csum_lo >= 0 && (rx->csum_hi << 4 | csum_lo) == rx->sum;
  vmx_gdb_event_kind_t kind = rx->overflow ? VMX_GDB_EV_TOO_LONG
                              : good       ? VMX_GDB_EV_PACKET
                                           : VMX_GDB_EV_BAD_CHECKSUM;
  rx->payload[rx->len] = 0;
  size_t len = rx->len;
  rx->state = RX_IDLE;
  rx_emit(cb, opaque, kind, kind == VMX_GDB_EV_PACKET ? rx->payload : NULL,
          kind == VMX_GDB_EV_PACKET ? len : 0);
}

static void rx_byte_idle(vmx_gdb_rx_t *rx, uint8_t c, vmx_gdb_rx_cb cb, void *opaque) {
  switch (c) {
  case '$': rx_start_packet(rx); break;
  case '+': rx_emit(cb, opaque, VMX_GDB_EV_ACK, NULL, 0); break;
  case '-': rx_emit(cb, opaque, VMX_GDB_EV_NACK, NULL, 0); break;
  case 0x03: rx_emit(cb, opaque, VMX_GDB_EV_INTERRUPT, NULL, 0); break;
  default: break; /* line noise between packets */
  }
}

void vmx_gdb_rx_feed(vmx_gdb_rx_t *rx, const void *buf, size_t n, vmx_gdb_rx_cb cb,
                     void *opaque) {
  const uint8_t *bytes = buf;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = bytes[i];
    /* A '$' anywhere in a packet means gdb gave up on it and started anew:
     * it escapes '$' in data, so a raw one is never part of a payload. */
    if (c == '$' && rx->state != RX_IDLE) {
      rx_start_packet(rx);
      continue;
    }
    switch (rx->state) {
    case RX_IDLE: rx_byte_idle(rx, c, cb, opaque); break;
    case RX_DATA:
      if (c == '#') {
        rx->state = RX_CSUM_HI;
      } else if (c == '}') {
        rx->sum = (uint8_t)(rx->sum + c);
        rx->state = RX_ESCAPE;
      } else {
        rx_data_byte(rx, c, c);
      }
      break;
    case RX_ESCAPE:
      /* The escape character counts in the checksum but not in the length. */
      rx_data_byte(rx, c, c ^ 0x20);
      rx->state = RX_DATA;
      break;
    case RX_CSUM_HI:
      rx->csum_hi = hex_value(c);
      rx->state = RX_CSUM_LO;
      break;
    case RX_CSUM_LO: rx_finish_packet(rx, hex_value(c), cb, opaque); break;
    }
  }
}

/* ---- Encoding ---- */

static bool needs_escape(uint8_t c) {
  return c == '$' || c == '#' || c == '}' || c == '*';
}

size_t vmx_gdb_tx_packet(char *buf, size_t cap, const void *payload, size_t len) {
  const uint8_t *in = payload;
  size_t pos = 0;
  uint8_t sum = 0;
  if (cap < 4)
    return 0;
  buf[pos++] = '$';
  for (size_t i = 0; i < len; i++) {
    uint8_t c = in[i];
    bool esc = needs_escape(c);
    if (pos + (esc ? 2 : 1) + 3 > cap)
      return 0;
    if (esc) {
      buf[pos++] = '}';
      sum = (uint8_t)(sum + '}');
      c ^= 0x20;
    }
    buf[pos++] = (char)c;
    sum = (uint8_t)(sum + c);
  }
  buf[pos++] = '#';
  buf[pos++] = hex_digits[sum >> 4];
  buf[pos++] = hex_digits[sum & 15];
  return pos;
}

size_t vmx_gdb_hex_encode(char *out, size_t cap, const void *bytes, size_t n) {
  const uint8_t *in = bytes;
  if (n > cap / 2)
    return 0;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex_digits[in[i] >> 4];
    out[2 * i + 1] = hex_digits[in[i] & 15];
  }
  return 2 * n;
}

int vmx_gdb_hex_decode(void *out, const char *hex, size_t hexlen) {
  uint8_t *bytes = out;
  if (hexlen % 2)
    return VMX_EINVAL;
  for (size_t i = 0; i < hexlen / 2; i++) {
    int hi = hex_value((uint8_t)hex[2 * i]), lo = hex_value((uint8_t)hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return VMX_EINVAL;
    bytes[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

size_t vmx_gdb_hex_reg(char *out, uint64_t val, unsigned size) {
  for (unsigned i = 0; i < size; i++) {
    uint8_t b = (uint8_t)(val >> (8 * i));
    out[2 * i] = hex_digits[b >> 4];
    out[2 * i + 1] = hex_digits[b & 15];
  }
  return 2 * (size_t)size;
}

int vmx_gdb_hex_reg_parse(const char *hex, size_t hexlen, unsigned size, uint64_t *val) {
  uint8_t bytes[8];
  if (size < 1 || size > 8 || hexlen != 2 * (size_t)size)
    return VMX_EINVAL;
  if (vmx_gdb_hex_decode(bytes, hex, hexlen) != 0)
    return VMX_EINVAL;
  uint64_t v = 0;
  for (unsigned i = 0; i < size; i++)
    v |= (uint64_t)bytes[i] << (8 * i);
  *val = v;
  return 0;
}

int vmx_gdb_hex_u64(const char *s, size_t len, uint64_t *val) {
  uint64_t v = 0;
  if (len == 0)
    return VMX_EINVAL;
  for (size_t i = 0; i < len; i++) {
    int d = hex_value((uint8_t)s[i]);
    if (d < 0)
      return VMX_EINVAL;
    if (v >> 60)
      return VMX_ERANGE;
    v = v << 4 | (uint64_t)d;
  }
  *val = v;
  return 0;
}

/* ---- Command parsing ---- */

/* A read position in the payload; nothing reads at or past end. */
typedef struct {
  const char *p;
  const char *end;
} cursor_t;

typedef enum { PARSE_OK, PARSE_BAD, PARSE_UNKNOWN } parse_result_t;

static bool at_end(const cursor_t *c) {
  return c->p >= c->end;
}

static bool take_char(cursor_t *c, char ch) {
  if (at_end(c) || *c->p != ch)
    return false;
  c->p++;
  return true;
}

/* A hex number of one or more digits, up to the first non-hex character. */
static bool take_hex(cursor_t *c, uint64_t *val) {
  const char *start = c->p;
  while (c->p < c->end && hex_value((uint8_t)*c->p) >= 0)
    c->p++;
  return vmx_gdb_hex_u64(start, (size_t)(c->p - start), val) == 0;
}

static bool take_hex_max(cursor_t *c, uint64_t max, uint64_t *val) {
  return take_hex(c, val) && *val <= max;
}

/* A pid or tid: "-1" (all) or hex up to INT64_MAX. */
static bool take_id(cursor_t *c, int64_t *id) {
  uint64_t v;
  if (take_char(c, '-')) {
    if (!take_char(c, '1'))
      return false;
    *id = -1;
    return true;
  }
  if (!take_hex_max(c, INT64_MAX, &v))
    return false;
  *id = (int64_t)v;
  return true;
}

/* "p<pid>[.<tid>]" or "<tid>". */
static bool take_thread(cursor_t *c, vmx_gdb_tid_t *t) {
  if (take_char(c, 'p')) {
    if (!take_id(c, &t->pid))
      return false;
    t->tid = VMX_GDB_TID_ALL;
    return !take_char(c, '.') || take_id(c, &t->tid);
  }
  t->pid = 0;
  return take_id(c, &t->tid);
}

static size_t remaining(const cursor_t *c) {
  return (size_t)(c->end - c->p);
}

#define BAD(out, text) ((out)->why = (text), PARSE_BAD)

static parse_result_t parse_none(cursor_t *c, vmx_gdb_cmd_t *out) {
  return at_end(c) ? PARSE_OK : BAD(out, "unexpected arguments");
}

/* Hex digits to the end of the packet, decoded into out->data. */
static parse_result_t take_hex_data(cursor_t *c, vmx_gdb_cmd_t *out) {
  size_t n = remaining(c);
  if (n % 2 || n / 2 > VMX_GDB_PACKET_MAX || vmx_gdb_hex_decode(out->data, c->p, n) != 0)
    return BAD(out, "bad hex data");
  out->data_len = n / 2;
  c->p = c->end;
  return PARSE_OK;
}

static parse_result_t parse_write_regs(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (at_end(c))
    return BAD(out, "no register data");
  return take_hex_data(c, out);
}

static parse_result_t parse_read_reg(cursor_t *c, vmx_gdb_cmd_t *out) {
  uint64_t n;
  if (!take_hex_max(c, UINT32_MAX, &n) || !at_end(c))
    return BAD(out, "bad register number");
  out->reg = (uint32_t)n;
  return PARSE_OK;
}

static parse_result_t parse_write_reg(cursor_t *c, vmx_gdb_cmd_t *out) {
  uint64_t n;
  if (!take_hex_max(c, UINT32_MAX, &n) || !take_char(c, '='))
    return BAD(out, "bad register number");
  out->reg = (uint32_t)n;
  if (at_end(c) || take_hex_data(c, out) != PARSE_OK)
    return BAD(out, "bad register value");
  out->value = 0;
  for (size_t i = 0; i < out->data_len && i < 8; i++)
    out->value |= (uint64_t)out->data[i] << (8 * i);
  return PARSE_OK;
}

static bool take_addr_len(cursor_t *c, vmx_gdb_cmd_t *out) {
  return take_hex(c, &out->addr) && take_char(c, ',') && take_hex(c, &out->len);
}

static parse_result_t parse_read_mem(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (!take_addr_len(c, out) || !at_end(c))
    return BAD(out, "expected addr,length");
  return PARSE_OK;
}

static parse_result_t parse_write_mem(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (!take_addr_len(c, out) || !take_char(c, ':'))
    return BAD(out, "expected addr,length:data");
  if (remaining(c) % 2 || remaining(c) / 2 != out->len)
    return BAD(out, "data length differs from the length field");
  return take_hex_data(c, out);
}

static parse_result_t parse_write_mem_bin(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (!take_addr_len(c, out) || !take_char(c, ':'))
    return BAD(out, "expected addr,length:data");
  if (remaining(c) != out->len)
    return BAD(out, "data length differs from the length field");
  memcpy(out->data, c->p, remaining(c));
  out->data_len = remaining(c);
  return PARSE_OK;
}

/* c/s [addr] */
static parse_result_t parse_resume(cursor_t *c, vmx_gdb_cmd_t *out) {
  out->sig = 0;
  out->has_addr = !at_end(c);
  if (out->has_addr && (!take_hex(c, &out->addr) || !at_end(c)))
    return BAD(out, "bad resume address");
  return PARSE_OK;
}

/* C/S sig[;addr] */
static parse_result_t parse_resume_sig(cursor_t *c, vmx_gdb_cmd_t *out) {
  uint64_t sig;
  if (!take_hex_max(c, 0xff, &sig))
    return BAD(out, "bad signal number");
  out->sig = (uint8_t)sig;
  out->has_addr = take_char(c, ';');
  if (out->has_addr && !take_hex(c, &out->addr))
    return BAD(out, "bad resume address");
  return at_end(c) ? PARSE_OK : BAD(out, "unexpected arguments");
}

static parse_result_t parse_set_thread(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (take_char(c, 'g'))
    out->op = 'g';
  else if (take_char(c, 'c'))
    out->op = 'c';
  else
    return BAD(out, "H operation is neither g nor c");
  if (!take_thread(c, &out->thread) || !at_end(c))
    return BAD(out, "bad thread id");
  return PARSE_OK;
}

static parse_result_t parse_thread_alive(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (!take_thread(c, &out->thread) || !at_end(c))
    return BAD(out, "bad thread id");
  return PARSE_OK;
}

/* Z/z type,addr,kind[;cond...]: conditions are not advertised, so gdb sends
 * none; any are ignored. Types past 4 are answered as unsupported. */
static parse_result_t parse_breakpoint(cursor_t *c, vmx_gdb_cmd_t *out) {
  uint64_t type;
  if (!take_hex(c, &type) || !take_char(c, ',') || !take_hex(c, &out->addr) ||
      !take_char(c, ',') || !take_hex(c, &out->bp_kind))
    return BAD(out, "expected type,addr,kind");
  if (!at_end(c) && *c->p != ';')
    return BAD(out, "unexpected arguments");
  if (type > 4)
    return PARSE_UNKNOWN;
  out->bp_type = (int)type;
  return PARSE_OK;
}

static parse_result_t parse_optional_pid(cursor_t *c, vmx_gdb_cmd_t *out, char sep) {
  uint64_t pid;
  out->has_pid = take_char(c, sep);
  if (out->has_pid) {
    if (!take_hex_max(c, INT64_MAX, &pid))
      return BAD(out, "bad process id");
    out->pid = (int64_t)pid;
  }
  return at_end(c) ? PARSE_OK : BAD(out, "unexpected arguments");
}

static parse_result_t parse_detach(cursor_t *c, vmx_gdb_cmd_t *out) {
  return parse_optional_pid(c, out, ';');
}

static parse_result_t parse_attached(cursor_t *c, vmx_gdb_cmd_t *out) {
  return parse_optional_pid(c, out, ':');
}

static parse_result_t parse_vkill(cursor_t *c, vmx_gdb_cmd_t *out) {
  uint64_t pid;
  if (!take_hex_max(c, INT64_MAX, &pid) || !at_end(c))
    return BAD(out, "bad process id");
  out->pid = (int64_t)pid;
  out->has_pid = true;
  return PARSE_OK;
}

/* One "name+", "name-", "name?" or "name=value" entry of qSupported. */
static void add_feature(vmx_gdb_cmd_t *out, const char *s, size_t n) {
  if (n == 0 || out->feature_count >= VMX_GDB_FEATURES_MAX)
    return;
  vmx_gdb_feature_t *f = &out->supported[out->feature_count++];
  const char *eq = memchr(s, '=', n);
  f->name = s;
  f->value = NULL;
  f->value_len = 0;
  if (eq) {
    f->name_len = (size_t)(eq - s);
    f->sign = '=';
    f->value = eq + 1;
    f->value_len = n - f->name_len - 1;
  } else if (s[n - 1] == '+' || s[n - 1] == '-' || s[n - 1] == '?') {
    f->name_len = n - 1;
    f->sign = s[n - 1];
  } else {
    f->name_len = n;
    f->sign = '+'; /* a bare name is not in the protocol; take it as supported */
  }
}

static parse_result_t parse_qsupported(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (at_end(c))
    return PARSE_OK;
  if (!take_char(c, ':'))
    return BAD(out, "expected ':'");
  while (!at_end(c)) {
    const char *semi = memchr(c->p, ';', remaining(c));
    const char *stop = semi ? semi : c->end;
    add_feature(out, c->p, (size_t)(stop - c->p));
    c->p = semi ? semi + 1 : c->end;
  }
  return PARSE_OK;
}

static bool take_offset_length(cursor_t *c, vmx_gdb_cmd_t *out) {
  return take_hex(c, &out->offset) && take_char(c, ',') && take_hex(c, &out->length) &&
         at_end(c);
}

static parse_result_t parse_xfer_features(cursor_t *c, vmx_gdb_cmd_t *out) {
  const char *colon = memchr(c->p, ':', remaining(c));
  if (!colon)
    return BAD(out, "expected annex:offset,length");
  size_t n = (size_t)(colon - c->p);
  if (n == 0 || n >= VMX_GDB_ANNEX_MAX)
    return BAD(out, "bad annex name");
  memcpy(out->annex, c->p, n);
  out->annex[n] = 0;
  c->p = colon + 1;
  return take_offset_length(c, out) ? PARSE_OK : BAD(out, "expected offset,length");
}

static parse_result_t parse_xfer_threads(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (!take_char(c, ':'))
    return BAD(out, "threads take no annex");
  return take_offset_length(c, out) ? PARSE_OK : BAD(out, "expected offset,length");
}

static parse_result_t parse_monitor(cursor_t *c, vmx_gdb_cmd_t *out) {
  if (take_hex_data(c, out) != PARSE_OK)
    return BAD(out, "bad hex command text");
  out->data[out->data_len] = 0;
  return PARSE_OK;
}

static bool take_vcont_action(cursor_t *c, vmx_gdb_vcont_t *a) {
  uint64_t sig = 0;
  if (at_end(c) || !strchr("cCsSt", *c->p) || *c->p == 0)
    return false;
  a->action = *c->p++;
  if ((a->action == 'C' || a->action == 'S') && !take_hex_max(c, 0xff, &sig))
    return false;
  a->sig = (uint8_t)sig;
  a->has_thread = take_char(c, ':');
  if (a->has_thread)
    return take_thread(c, &a->thread);
  a->thread.pid = 0;
  a->thread.tid = VMX_GDB_TID_ALL;
  return true;
}

static parse_result_t parse_vcont(cursor_t *c, vmx_gdb_cmd_t *out) {
  out->vcont_count = 0;
  do {
    if (out->vcont_count == VMX_GDB_VCONT_MAX)
      return BAD(out, "too many vCont actions");
    if (!take_vcont_action(c, &out->vcont[out->vcont_count++]))
      return BAD(out, "bad vCont action");
  } while (take_char(c, ';'));
  return at_end(c) ? PARSE_OK : BAD(out, "bad vCont action");
}

typedef parse_result_t (*parse_fn)(cursor_t *c, vmx_gdb_cmd_t *out);

/* The one table of handled packets. A one-letter name matches the first
 * character; a longer name matches when the payload starts with it and, unless
 * the name ends in a separator, the next character is the end or one of
 * ":;," (so "qC" does not match "qCRC:..."). */
static const struct {
  const char *name;
  vmx_gdb_cmd_kind_t kind;
  parse_fn parse;
} commands[] = {
    {"?", VMX_GDB_HALT_REASON, parse_none},
    {"g", VMX_GDB_READ_REGS, parse_none},
    {"G", VMX_GDB_WRITE_REGS, parse_write_regs},
    {"p", VMX_GDB_READ_REG, parse_read_reg},
    {"P", VMX_GDB_WRITE_REG, parse_write_reg},
    {"m", VMX_GDB_READ_MEM, parse_read_mem},
    {"M", VMX_GDB_WRITE_MEM, parse_write_mem},
    {"X", VMX_GDB_WRITE_MEM_BIN, parse_write_mem_bin},
    {"c", VMX_GDB_CONTINUE, parse_resume},
    {"C", VMX_GDB_CONTINUE, parse_resume_sig},
    {"s", VMX_GDB_STEP, parse_resume},
    {"S", VMX_GDB_STEP, parse_resume_sig},
    {"H", VMX_GDB_SET_THREAD, parse_set_thread},
    {"T", VMX_GDB_THREAD_ALIVE, parse_thread_alive},
    {"Z", VMX_GDB_INSERT_BP, parse_breakpoint},
    {"z", VMX_GDB_REMOVE_BP, parse_breakpoint},
    {"D", VMX_GDB_DETACH, parse_detach},
    {"k", VMX_GDB_KILL, parse_none},
    {"qSupported", VMX_GDB_QSUPPORTED, parse_qsupported},
    {"qfThreadInfo", VMX_GDB_THREAD_FIRST, parse_none},
    {"qsThreadInfo", VMX_GDB_THREAD_NEXT, parse_none},
    {"qC", VMX_GDB_CURRENT_THREAD, parse_none},
    {"qAttached", VMX_GDB_ATTACHED, parse_attached},
    {"qXfer:features:read:", VMX_GDB_XFER_FEATURES, parse_xfer_features},
    {"qXfer:threads:read:", VMX_GDB_XFER_THREADS, parse_xfer_threads},
    {"qRcmd,", VMX_GDB_MONITOR, parse_monitor},
    {"QStartNoAckMode", VMX_GDB_NOACK, parse_none},
    {"vCont?", VMX_GDB_VCONT_QUERY, parse_none},
    {"vCont;", VMX_GDB_VCONT, parse_vcont},
    {"vKill;", VMX_GDB_VKILL, parse_vkill},
};

static bool name_matches(const char *name, const char *payload, size_t len) {
  size_t n = strlen(name);
  if (n > len || memcmp(name, payload, n) != 0)
    return false;
  if (n == 1 || strchr(":;,?", name[n - 1]) || n == len)
    return true;
  return strchr(":;,", payload[n]) != NULL && payload[n] != 0;
}

vmx_gdb_cmd_kind_t vmx_gdb_parse(const char *payload, size_t len, vmx_gdb_cmd_t *out) {
  out->kind = VMX_GDB_UNKNOWN;
  out->why = NULL;
  out->has_addr = out->has_pid = false;
  out->data_len = out->feature_count = out->vcont_count = 0;
  out->annex[0] = 0;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (!name_matches(commands[i].name, payload, len))
      continue;
    size_t n = strlen(commands[i].name);
    cursor_t c = {payload + n, payload + len};
    switch (commands[i].parse(&c, out)) {
    case PARSE_OK: out->kind = commands[i].kind; break;
    case PARSE_BAD: out->kind = VMX_GDB_MALFORMED; break;
    case PARSE_UNKNOWN: out->kind = VMX_GDB_UNKNOWN; break;
    }
    return out->kind;
  }
  return out->kind;
}

const char *vmx_gdb_cmd_name(vmx_gdb_cmd_kind_t kind) {
  static const char *const names[] = {
#define X(name, doc) #name,
      VMX_GDB_CMD_KINDS(X)
#undef X
  };
  return (unsigned)kind < VMX_GDB_CMD_KIND_COUNT ? names[kind] : "?";
}

bool vmx_gdb_feature_on(const vmx_gdb_cmd_t *cmd, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < cmd->feature_count; i++) {
    const vmx_gdb_feature_t *f = &cmd->supported[i];
    if (f->name_len == n && memcmp(f->name, name, n) == 0)
      return f->sign == '+';
  }
  return false;
}

/* ---- qXfer ---- */

size_t vmx_gdb_xfer_slice(const char *doc, size_t doclen, uint64_t off, uint64_t len,
                          char *out, size_t cap) {
  if (cap == 0)
    return 0;
  if (off >= doclen) {
    out[0] = 'l';
    return 1;
  }
  uint64_t left = doclen - off;
  uint64_t want = len < left ? len : left;
  size_t pos = 1, escaped = 1;
  for (uint64_t i = 0; i < want; i++) {
    uint8_t c = (uint8_t)doc[off + i];
    size_t cost = needs_escape(c) ? 2 : 1;
    if (escaped + cost > cap)
      break;
    escaped += cost;
    out[pos++] = (char)c;
  }
  out[0] = pos - 1 == left ? 'l' : 'm';
  return pos;
}
