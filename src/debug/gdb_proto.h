/* The GDB remote serial protocol, without a connection or a target: framing
 * of the byte stream, packet encoding, hex helpers, decoding of the commands
 * the vmx server handles, and qXfer slicing. Everything here is a pure
 * function or a state machine owned by one caller; nothing allocates, nothing
 * is global, so every function is safe to call from any thread on its own
 * data. (The server loop, vCPU access and stop replies live in gdbstub.c.)
 *
 * Reference: GDB manual, appendix E "GDB Remote Serial Protocol".
 *
 *   bytes from gdb --> vmx_gdb_rx_feed --> events (packet, ^C, +, -, ...)
 *   packet payload --> vmx_gdb_parse   --> vmx_gdb_cmd_t
 *   reply payload  --> vmx_gdb_tx_packet --> "$payload#cs" bytes to gdb
 */
#ifndef VMX_DEBUG_GDB_PROTO_H
#define VMX_DEBUG_GDB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest packet accepted: data characters between '$' and '#', as sent
 * (escaped). Advertise it in the qSupported reply as "PacketSize=4000" (hex,
 * VMX_GDB_PACKET_SIZE_STR); gdb then never sends more, and sizes its m/X
 * requests to fit. Replies should stay within it too. */
#define VMX_GDB_PACKET_MAX 0x4000
#define VMX_GDB_PACKET_SIZE_STR "4000"

/* ---- Framing: bytes in, events out ---- */

typedef enum {
  VMX_GDB_EV_PACKET,       /* data/len: the unescaped payload, checksum good */
  VMX_GDB_EV_BAD_CHECKSUM, /* a whole packet whose checksum did not match: answer '-'
                              (in no-ack mode, drop it) */
  VMX_GDB_EV_TOO_LONG,     /* a whole packet over VMX_GDB_PACKET_MAX, dropped; the
                              server acks it ('+', so gdb does not resend) and replies
                              with an error such as "E22" */
  VMX_GDB_EV_INTERRUPT,    /* 0x03 outside a packet: stop the target */
  VMX_GDB_EV_ACK,          /* '+' outside a packet */
  VMX_GDB_EV_NACK,         /* '-' outside a packet: resend the last reply */
} vmx_gdb_event_kind_t;

typedef struct {
  vmx_gdb_event_kind_t kind;
  /* For VMX_GDB_EV_PACKET: the payload, valid only during the callback,
   * NUL-terminated for convenience (it may hold NULs itself: X packets). */
  const char *data;
  size_t len;
} vmx_gdb_event_t;

typedef void (*vmx_gdb_rx_cb)(void *opaque, const vmx_gdb_event_t *ev);

/* Receiver state. Embed it (it holds a VMX_GDB_PACKET_MAX buffer) and
 * initialise it with vmx_gdb_rx_init. Fields are private. */
typedef struct {
  int state;
  uint8_t sum;         /* running checksum of the raw data bytes */
  int csum_hi;         /* first checksum digit's value, -1 if not a hex digit */
  bool overflow;       /* more than VMX_GDB_PACKET_MAX raw bytes */
  size_t raw_len;
  size_t len;
  char payload[VMX_GDB_PACKET_MAX + 1];
} vmx_gdb_rx_t;

/* Resets rx to "between packets". */
void vmx_gdb_rx_init(vmx_gdb_rx_t *rx);

/* Feeds n bytes (any split of the stream: one byte at a time works) and
 * calls cb(opaque, event) for each event completed, in stream order.
 * Bytes outside packets other than '+', '-', 0x03 and '$' are skipped; a '$'
 * inside a packet abandons it and starts a new one. '}' escapes the next byte
 * (x ^ 0x20); '*' is taken literally (run-length encoding only occurs in
 * replies). Acks are never required: the framer works the same in no-ack
 * mode. cb may not call vmx_gdb_rx_feed on the same rx. */
void vmx_gdb_rx_feed(vmx_gdb_rx_t *rx, const void *buf, size_t n, vmx_gdb_rx_cb cb,
                     void *opaque);

/* ---- Encoding ---- */

/* Writes "$" payload "#" checksum into buf, escaping '$', '#', '}' and '*'
 * ('}' then x ^ 0x20), and returns the number of bytes written (the output is
 * not NUL-terminated). Returns 0 if the packet does not fit in cap. */
size_t vmx_gdb_tx_packet(char *buf, size_t cap, const void *payload, size_t len);

/* Writes 2*n lowercase hex digits for bytes[0..n) and returns 2*n, or 0 if
 * they do not fit in cap. No NUL is written. */
size_t vmx_gdb_hex_encode(char *out, size_t cap, const void *bytes, size_t n);

/* Decodes hexlen hex digits into hexlen/2 bytes at out. Returns 0, or
 * VMX_EINVAL for an odd length or a non-hex digit (out partly written). */
int vmx_gdb_hex_decode(void *out, const char *hex, size_t hexlen);

/* Writes the size-byte (1..8) little-endian value val as 2*size hex digits
 * (the target byte order of riscv64 registers) and returns 2*size. out must
 * hold 2*size bytes; no NUL is written. */
size_t vmx_gdb_hex_reg(char *out, uint64_t val, unsigned size);

/* Parses exactly 2*size hex digits (size 1..8) as a little-endian value.
 * Returns 0, or VMX_EINVAL for a wrong length or a non-hex digit. */
int vmx_gdb_hex_reg_parse(const char *hex, size_t hexlen, unsigned size, uint64_t *val);

/* Parses s[0..len) as one big-endian hex number of 1..16 significant digits
 * (leading zeros allowed). Returns 0, VMX_EINVAL if empty or not all hex,
 * VMX_ERANGE if it does not fit in 64 bits. */
int vmx_gdb_hex_u64(const char *s, size_t len, uint64_t *val);

/* ---- Commands ---- */

/* Every packet kind vmx_gdb_parse tells apart; one line each. Packets that
 * are well-formed but not listed (qOffsets, qSymbol, qTStatus,
 * vMustReplyEmpty, ...) are VMX_GDB_UNKNOWN: the server answers "". */
#define VMX_GDB_CMD_KINDS(X)                                                        \
  X(UNKNOWN,        "not handled: answer an empty packet")                          \
  X(MALFORMED,      "a known command with bad arguments: answer E01")               \
  X(QSUPPORTED,     "qSupported[:feature;...]: features in cmd.supported")          \
  X(HALT_REASON,    "?: why the target stopped")                                    \
  X(READ_REGS,      "g: all registers of the g set")                                \
  X(WRITE_REGS,     "G hex: data/data_len, register bytes in g order")              \
  X(READ_REG,       "p n: reg")                                                     \
  X(WRITE_REG,      "P n=v: reg, data/data_len (target order), value")              \
  X(READ_MEM,       "m addr,len")                                                   \
  X(WRITE_MEM,      "M addr,len:hex: addr, len, data (decoded, len bytes)")         \
  X(WRITE_MEM_BIN,  "X addr,len:bin: addr, len, data (unescaped, len bytes)")       \
  X(CONTINUE,       "c [addr] / C sig[;addr]: sig (0 for c), has_addr, addr")       \
  X(STEP,           "s [addr] / S sig[;addr]: sig (0 for s), has_addr, addr")       \
  X(VCONT_QUERY,    "vCont?: answer vCont;c;C;s;S;t")                               \
  X(VCONT,          "vCont;action[:thread]...: vcont[0..vcont_count)")              \
  X(SET_THREAD,     "H op thread: op ('g' or 'c'), thread")                         \
  X(THREAD_ALIVE,   "T thread")                                                     \
  X(THREAD_FIRST,   "qfThreadInfo")                                                 \
  X(THREAD_NEXT,    "qsThreadInfo")                                                 \
  X(CURRENT_THREAD, "qC")                                                           \
  X(ATTACHED,       "qAttached[:pid]: has_pid, pid")                                \
  X(XFER_FEATURES,  "qXfer:features:read:annex:off,len: annex, offset, length")     \
  X(XFER_THREADS,   "qXfer:threads:read::off,len: offset, length")                  \
  X(INSERT_BP,      "Z type,addr,kind: bp_type (0..4), addr, bp_kind")              \
  X(REMOVE_BP,      "z type,addr,kind: bp_type (0..4), addr, bp_kind")              \
  X(MONITOR,        "qRcmd,hex: the command text in data (NUL-terminated)")         \
  X(DETACH,         "D or D;pid: has_pid, pid")                                     \
  X(KILL,           "k")                                                            \
  X(VKILL,          "vKill;pid: pid")                                               \
  X(NOACK,          "QStartNoAckMode: answer OK, then stop acking")

typedef enum {
#define X(name, doc) VMX_GDB_##name,
  VMX_GDB_CMD_KINDS(X)
#undef X
  VMX_GDB_CMD_KIND_COUNT
} vmx_gdb_cmd_kind_t;

/* A thread id: "p<pid>.<tid>" (multiprocess) or "<tid>". -1 means all, 0
 * means any. "p<pid>" alone means all threads of pid (tid -1). pid is 0 when
 * the plain form was used. */
#define VMX_GDB_TID_ALL (-1)
#define VMX_GDB_TID_ANY 0
typedef struct {
  int64_t pid;
  int64_t tid;
} vmx_gdb_tid_t;

/* One vCont action: 'c', 'C', 's', 'S' or 't'; sig for 'C'/'S'; the thread it
 * applies to (has_thread false: every thread not named by an earlier action). */
typedef struct {
  char action;
  uint8_t sig;
  bool has_thread;
  vmx_gdb_tid_t thread;
} vmx_gdb_vcont_t;

#define VMX_GDB_VCONT_MAX 32
#define VMX_GDB_FEATURES_MAX 32
#define VMX_GDB_ANNEX_MAX 64

/* One qSupported entry: "name+", "name-", "name?" (sign) or "name=value"
 * (sign '='). name and value point into the parsed payload. */
typedef struct {
  const char *name;
  size_t name_len;
  char sign;
  const char *value;
  size_t value_len;
} vmx_gdb_feature_t;

/* A decoded command. Only the fields the kind's line above names are set.
 * Pointers (supported[].name/value) point into the payload given to
 * vmx_gdb_parse; data is a copy. The struct is large (data holds a whole
 * packet): keep one per connection rather than many on a stack. */
typedef struct {
  vmx_gdb_cmd_kind_t kind;
  const char *why;      /* MALFORMED: a static text saying what was wrong */
  char op;              /* SET_THREAD: 'g' or 'c' */
  uint8_t sig;          /* CONTINUE/STEP: signal (0 without one) */
  bool has_addr;        /* CONTINUE/STEP: an address to resume at */
  bool has_pid;         /* ATTACHED, DETACH */
  int bp_type;          /* INSERT_BP/REMOVE_BP: 0 sw, 1 hw, 2 write, 3 read, 4 access */
  uint32_t reg;         /* READ_REG, WRITE_REG: the gdb register number */
  uint64_t addr;
  uint64_t len;         /* READ_MEM, WRITE_MEM, WRITE_MEM_BIN */
  uint64_t bp_kind;     /* INSERT_BP/REMOVE_BP: breakpoint size (2 or 4 on RISC-V) */
  uint64_t value;       /* WRITE_REG: the data as a little-endian number if data_len <= 8 */
  uint64_t offset, length; /* XFER_*: the slice asked for */
  int64_t pid;
  vmx_gdb_tid_t thread; /* SET_THREAD, THREAD_ALIVE */
  char annex[VMX_GDB_ANNEX_MAX]; /* XFER_FEATURES: e.g. "target.xml" */
  size_t vcont_count;
  vmx_gdb_vcont_t vcont[VMX_GDB_VCONT_MAX];
  size_t feature_count; /* QSUPPORTED: entries beyond VMX_GDB_FEATURES_MAX are ignored */
  vmx_gdb_feature_t supported[VMX_GDB_FEATURES_MAX];
  size_t data_len;
  uint8_t data[VMX_GDB_PACKET_MAX + 1];
} vmx_gdb_cmd_t;

/* Classifies and decodes payload[0..len) (no NUL needed; never read past
 * len) into *out and returns out->kind. A known command with arguments that
 * do not parse (missing fields, non-hex digits, numbers over 64 bits,
 * lengths that disagree with the data) is VMX_GDB_MALFORMED with out->why
 * set; anything else unrecognised is VMX_GDB_UNKNOWN. */
vmx_gdb_cmd_kind_t vmx_gdb_parse(const char *payload, size_t len, vmx_gdb_cmd_t *out);

/* The name of a kind ("QSUPPORTED", ...), for logs and tests. */
const char *vmx_gdb_cmd_name(vmx_gdb_cmd_kind_t kind);

/* True if the qSupported command in cmd listed feature name with sign '+'
 * (e.g. "multiprocess", "swbreak"). */
bool vmx_gdb_feature_on(const vmx_gdb_cmd_t *cmd, const char *name);

/* ---- qXfer ---- */

/* Builds the reply payload to "qXfer:object:read:annex:off,len" for the
 * document doc[0..doclen): "l" if off is at or past the end, else "m" (more
 * follows) or "l" (this slice reaches the end) and then up to len bytes of
 * the document from off. The bytes are left unescaped, because
 * vmx_gdb_tx_packet escapes the whole payload; the slice is cut so that,
 * escaped, the reply takes at most cap bytes (use cap = VMX_GDB_PACKET_MAX
 * and an out buffer of that size). A slice cut short gets "m", so gdb asks
 * for the rest. Returns the payload length (>= 1 when cap >= 1). */
size_t vmx_gdb_xfer_slice(const char *doc, size_t doclen, uint64_t off, uint64_t len,
                          char *out, size_t cap);

#endif
