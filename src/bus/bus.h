/* The unified event bus: typed msgpack messages, lock-free per-loop rings,
 * routing by actor address, taps, back-pressure.
 *
 * What the bus promises
 *
 *   - Every message type is one entry of messages.def (name, version, topic,
 *     fields). A message is an envelope (vmx_envelope_t) plus a typed body.
 *   - On the wire (rings, mailboxes, traces) a message is one msgpack array:
 *       [type, version, src, dst, seq, icount|nil, corr, [field, ...]]
 *     Encoding uses msgpack-c's packer. Decoding is a schema-driven msgpack
 *     reader (codec.c) that checks every tag, length, range and count and
 *     answers bad input with VMX_EINVAL and a message naming the offset and the
 *     field; it never crashes. (msgpack-c's generic unpacker costs ~200 ns per
 *     small message on our machines, more than the whole same-loop budget; the
 *     fuzz test checks the reader against msgpack-c.)
 *   - Each consumer (a loop of the actor runtime) owns one endpoint: a
 *     multi-producer, single-consumer ck_ring of fixed 128-byte slots. Senders
 *     on any thread encode into it without locks and wake the consumer.
 *   - Routing is by address: an address names the loop (its endpoint) and the
 *     actor slot on it. Messages from one sender to one destination arrive in
 *     the order sent.
 *   - A full ring never drops a message: the send fails with VMX_EAGAIN (the
 *     caller must handle it) or, for the _wait variants, waits. Every refusal
 *     is counted on the destination endpoint (vmx_bus_endpoint_t.backpressure).
 *   - Taps subscribe to topics and see every message of those topics at
 *     delivery, without senders knowing (the trace recorder, monitors).
 *
 * Threads: everything here is safe from any thread unless a function says
 * "consumer only" (the endpoint's owning thread).
 */
#ifndef VMX_BUS_BUS_H
#define VMX_BUS_BUS_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ck_ring.h>

#include "base/error.h"

/* ---------------------------------------------------------------- addresses */

/* An actor address: bits 0-15 the actor's slot on its loop, 16-31 the loop
 * (endpoint) index, 32-63 a serial number that is never reused on that loop,
 * so a stale address never reaches a newer actor. 0 is "no address". */
typedef uint64_t vmx_addr_t;

#define VMX_ADDR_NONE ((vmx_addr_t)0)
/* Loop index of senders that are not actors (vmx_bus_sender_t). */
#define VMX_ADDR_EXTERNAL_LOOP 0xffffu

static inline vmx_addr_t vmx_addr_make(unsigned loop, unsigned slot, uint32_t serial) {
  return (vmx_addr_t)serial << 32 | (vmx_addr_t)(loop & 0xffff) << 16 | (slot & 0xffff);
}
static inline unsigned vmx_addr_loop(vmx_addr_t a) { return (unsigned)(a >> 16) & 0xffff; }
static inline unsigned vmx_addr_slot(vmx_addr_t a) { return (unsigned)a & 0xffff; }
static inline uint32_t vmx_addr_serial(vmx_addr_t a) { return (uint32_t)(a >> 32); }

/* ------------------------------------------------------------ field types */

/* A short string field: at most VMX_STR_MAX - 1 bytes, NUL-terminated, no NUL
 * inside. Names of actors and devices, not payloads. */
#define VMX_STR_MAX 16
typedef struct vmx_str {
  char s[VMX_STR_MAX];
} vmx_str_t;

/* Copies at most VMX_STR_MAX - 1 bytes of text into dst (truncating). */
void vmx_str_set(vmx_str_t *dst, const char *text);

/* The field types of messages.def: T(TYPE, C type, largest msgpack encoding in
 * bytes, name used in documents and JSON). */
#define VMX_FIELD_TYPES(T)                  \
  T(BOOL, bool, 1, "bool")                  \
  T(U32, uint32_t, 5, "u32")                \
  T(U64, uint64_t, 9, "u64")                \
  T(I32, int32_t, 5, "i32")                 \
  T(I64, int64_t, 9, "i64")                 \
  T(F64, double, 9, "f64")                  \
  T(ADDR, vmx_addr_t, 9, "addr")            \
  T(STR, vmx_str_t, VMX_STR_MAX, "str")

typedef enum {
#define T(TYPE, ctype, max, name) VMX_FIELD_##TYPE,
  VMX_FIELD_TYPES(T)
#undef T
} vmx_field_type_t;

#define T(TYPE, ctype, max, name) typedef ctype vmx__field_##TYPE##_t;
VMX_FIELD_TYPES(T)
#undef T

/* ------------------------------------------------------- topics and types */

typedef enum {
#define VMX_TOPIC(NAME, doc) VMX_TOPIC_##NAME,
#include "bus/messages.def"
  VMX_TOPIC_COUNT
} vmx_topic_t;

#define VMX_TOPIC_BIT(NAME) (UINT64_C(1) << VMX_TOPIC_##NAME)
#define VMX_TOPICS_ALL (~UINT64_C(0))

/* Message type codes: 0 is never a valid type; the rest follow messages.def. */
typedef enum {
  VMX_MSG_INVALID = 0,
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) VMX_MSG_##NAME,
#include "bus/messages.def"
  VMX_MSG_COUNT /* one past the last type code */
} vmx_msg_type_t;

/* One body struct per type: vmx_msg_ping_t has the fields of PING. */
#define VMX_FIELD(TYPE, fname, doc) vmx__field_##TYPE##_t fname;
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) \
  typedef struct vmx_msg_##name {                        \
    fields                                               \
  } vmx_msg_##name##_t;
#include "bus/messages.def"
#undef VMX_FIELD

/* "Not a vCPU": the envelope's icount when the sender counts no instructions. */
#define VMX_ICOUNT_NONE UINT64_MAX

/* The envelope every message carries. */
typedef struct vmx_envelope {
  uint32_t type;      /* VMX_MSG_* */
  uint32_t version;   /* the schema version of type; the sender's bus fills it */
  vmx_addr_t src;     /* sending actor or sender; VMX_ADDR_NONE for timers' own */
  vmx_addr_t dst;     /* destination actor */
  uint64_t seq;       /* per-sender sequence number, from 1, +1 per message */
  uint64_t icount;    /* sender vCPU's retired instructions, or VMX_ICOUNT_NONE */
  uint64_t corr;      /* ask correlation token; 0 for a one-way message */
} vmx_envelope_t;

typedef struct vmx_msg {
  vmx_envelope_t env;
  union {
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields) vmx_msg_##name##_t name;
#include "bus/messages.def"
  } body;
} vmx_msg_t;

/* A message of type NAME with an empty envelope and a zero body; set the body
 * through msg.body.name. */
#define VMX_MSG_INIT(NAME) ((vmx_msg_t){.env = {.type = VMX_MSG_##NAME}})

/* ------------------------------------------------------------------ schema */

typedef struct vmx_field_schema {
  const char *name;
  vmx_field_type_t type;
  const char *doc;
} vmx_field_schema_t;

typedef struct vmx_msg_schema {
  const char *name;    /* "PING" */
  uint32_t type;       /* VMX_MSG_PING */
  uint32_t version;
  vmx_topic_t topic;
  const char *doc;
  unsigned nfields;
  const vmx_field_schema_t *fields;
} vmx_msg_schema_t;

/* The schema of message type `type`, or NULL if there is no such type. */
const vmx_msg_schema_t *vmx_msg_schema(uint32_t type);

/* The name of a topic ("SYSTEM"), or NULL if topic >= VMX_TOPIC_COUNT. */
const char *vmx_topic_name(unsigned topic);
/* The documentation line of a topic, or NULL. */
const char *vmx_topic_doc(unsigned topic);

/* The name a field type has in documents and JSON ("u64"), or NULL. */
const char *vmx_field_type_name(vmx_field_type_t type);

/* The topic of message type `type`; VMX_TOPIC_COUNT if there is no such type. */
vmx_topic_t vmx_msg_topic(uint32_t type);

/* Writes docs/messages.md: every topic and message with its fields, from
 * messages.def. Returns 0 or VMX_EIO. */
int vmx_msg_write_markdown(FILE *out);

/* ------------------------------------------------------------------- codec */

/* Largest encoding of the envelope around a body: array header, type,
 * version, five u64s and the body's array header. */
#define VMX_MSG_ENVELOPE_MAX (1 + 5 + 5 + 5 * 9 + 3)
/* A message's encoding is at most this long (one ring slot's payload). */
#define VMX_MSG_MAX_ENCODED 124

/* Compile-time proof that every message fits a slot. */
#define VMX_FIELD(TYPE, fname, doc) +VMX__FIELD_MAX_##TYPE
#define T(TYPE, ctype, max, name) enum { VMX__FIELD_MAX_##TYPE = max };
VMX_FIELD_TYPES(T)
#undef T
#define VMX_MSG(NAME, name, version, TOPIC, doc, fields)                            \
  _Static_assert(VMX_MSG_ENVELOPE_MAX + 0 fields <= VMX_MSG_MAX_ENCODED,             \
                 "message " #NAME " may not fit one ring slot: name bulk data by " \
                 "handle, or raise VMX_RING_SLOT_SIZE");
#include "bus/messages.def"
#undef VMX_FIELD
_Static_assert(VMX_STR_MAX <= 32, "STR fields are encoded as msgpack fixstr");

/* Where and why a decode failed. */
typedef struct vmx_msg_error {
  size_t offset;  /* byte offset in the input where the problem is */
  char text[160]; /* "offset 9: PING.value: expected an unsigned integer, found str" */
} vmx_msg_error_t;

/* Encodes msg (its envelope as given, version taken from the schema) into buf.
 * Returns 0 and sets *len, or VMX_EINVAL if msg->env.type is not a message
 * type, or VMX_ERANGE if cap is too small (never for cap >=
 * VMX_MSG_MAX_ENCODED). Thread-safe; no allocation. */
int vmx_msg_encode(const vmx_msg_t *msg, void *buf, size_t cap, size_t *len);

/* Decodes exactly len bytes of buf into *out. Returns 0, or VMX_EINVAL for
 * any malformed input (wrong tag, truncated, trailing bytes, unknown type,
 * other version, wrong field count, value out of range, string too long or
 * holding a NUL); then *err (if not NULL) names the offset and the field.
 * *out is unspecified after an error. Never reads outside buf[0, len). */
int vmx_msg_decode(const void *buf, size_t len, vmx_msg_t *out, vmx_msg_error_t *err);

/* Decodes only the envelope of an encoded message (for routing), with the
 * checks of vmx_msg_decode up to the body's array header. */
int vmx_msg_decode_envelope(const void *buf, size_t len, vmx_envelope_t *env,
                            vmx_msg_error_t *err);

/* Prints msg as one JSON object (no newline), e.g.
 *   {"type":"PING","v":1,"src":"0.0#1","dst":"1.2#7","seq":3,"icount":null,
 *    "corr":0,"body":{"value":5,"sent_ns":0}}
 * Addresses print as "loop.slot#serial". Returns 0 or VMX_EIO. */
int vmx_msg_print_json(FILE *out, const vmx_msg_t *msg);

/* -------------------------------------------------------------------- ring */

/* One ring entry: an encoded message. 128 bytes, two cache lines. */
#define VMX_RING_SLOT_SIZE 128
struct vmx_ring_slot {
  uint16_t len;   /* bytes used in bytes[] */
  uint16_t flags; /* VMX_SLOT_* (used by mailboxes) */
  uint8_t bytes[VMX_RING_SLOT_SIZE - 4];
};
typedef struct vmx_ring_slot vmx_ring_slot_t;
_Static_assert(sizeof(vmx_ring_slot_t) == VMX_RING_SLOT_SIZE, "slot layout");
_Static_assert(VMX_MSG_MAX_ENCODED <= sizeof(((vmx_ring_slot_t *)0)->bytes), "slot room");

/* A bounded multi-producer, single-consumer FIFO of slots (ck_ring). */
typedef struct vmx_ring {
  alignas(64) ck_ring_t ring; /* ck keeps the consumer and producer heads on
                                 separate cache lines */
  vmx_ring_slot_t *slots;
} vmx_ring_t;

/* Makes a ring that holds at least `capacity` slots (rounded up to 2^k - 1;
 * 1 <= capacity <= 2^24). Returns 0, VMX_EINVAL or VMX_ENOMEM. */
int vmx_ring_init(vmx_ring_t *r, unsigned capacity);
/* Frees the slots. No thread may use the ring any more. */
void vmx_ring_close(vmx_ring_t *r);
/* Appends len bytes (len <= VMX_MSG_MAX_ENCODED) as one slot. Any thread.
 * Returns false if the ring is full (nothing is written). */
bool vmx_ring_push(vmx_ring_t *r, const void *bytes, size_t len);
/* Removes the oldest slot into *out. Consumer only. Returns false if empty. */
bool vmx_ring_pop(vmx_ring_t *r, vmx_ring_slot_t *out);
/* Slots in the ring now (a snapshot; exact only on the consumer when no
 * producer runs). */
unsigned vmx_ring_depth(const vmx_ring_t *r);
/* The most slots the ring holds. */
unsigned vmx_ring_capacity(const vmx_ring_t *r);
/* Slots ever reserved by producers, modulo 2^32 (for quiescence checks). */
uint32_t vmx_ring_produced(const vmx_ring_t *r);

/* --------------------------------------------------------------------- bus */

typedef struct vmx_bus vmx_bus_t;

typedef struct vmx_bus_options {
  unsigned max_endpoints; /* loops the bus can hold; default 256, at most 0xfffe */
  unsigned max_asks;      /* concurrent cross-loop asks; default 1024 */
  /* An asker whose answer has not come after this long, while the
   * destination's ring holds messages and has not moved, wakes the
   * destination loop again (counted in vmx_bus_endpoint_t.rescues).
   * 0: the default, 2 ms; VMX_BUS_REWAKE_NEVER: never (tests that watch the
   * raw wake protocol). */
  uint64_t ask_rewake_ns;
} vmx_bus_options_t;

#define VMX_BUS_REWAKE_NEVER UINT64_MAX

/* Creates a bus (opts may be NULL for defaults). Returns 0, VMX_EINVAL or
 * VMX_ENOMEM. The bus owns its endpoints; vmx_bus_close frees everything. */
int vmx_bus_init(vmx_bus_t **out, const vmx_bus_options_t *opts);

/* Frees the bus and its endpoints. Every consumer thread must have stopped
 * (vmx_loop_stop_all) and no sender may use it any more. */
void vmx_bus_close(vmx_bus_t *bus);

/* ---------------------------------------------------------------- senders */

/* A sender that is not an actor: a host thread, a test, the CLI. Owned and
 * used by one thread at a time; it has its own address and sequence numbers. */
typedef struct vmx_bus_sender {
  vmx_bus_t *bus;
  vmx_addr_t addr;
  uint64_t next_seq;
  const uint64_t *icount; /* if not NULL, stamped into every message it sends */
} vmx_bus_sender_t;

/* Gives s an address of its own on bus. Returns 0. */
int vmx_bus_sender_init(vmx_bus_t *bus, vmx_bus_sender_t *s);

/* Sends msg (type and body set by the caller) to dst without waiting: fills
 * msg->env (src, dst, seq, icount, corr = 0, version), encodes it and puts it
 * in dst's loop ring. Returns 0; VMX_EAGAIN if that ring is full (nothing was
 * sent; counted as back-pressure; the caller must retry or give up);
 * VMX_ENOENT if dst names no open loop or the bus is stopping; VMX_EINVAL for
 * a bad type. Delivery to a dead actor is counted as a dead letter there. */
int vmx_bus_send(vmx_bus_sender_t *s, vmx_addr_t dst, vmx_msg_t *msg);

/* Like vmx_bus_send, but while the ring is full it waits (spin, yield, then
 * sleep) up to timeout_ns; VMX_EAGAIN only when the time runs out. */
int vmx_bus_send_wait(vmx_bus_sender_t *s, vmx_addr_t dst, vmx_msg_t *msg, uint64_t timeout_ns);

/* Sends req to dst as a request and waits up to timeout_ns for the answer,
 * which lands in *reply. Returns 0; VMX_ENOENT if dst does not exist (now or
 * at delivery); VMX_ENOSYS if dst's receive returned without replying; the
 * negative code dst's receive failed with; VMX_EAGAIN on timeout or if all
 * ask records are in use. Blocks the calling thread. */
int vmx_bus_ask(vmx_bus_sender_t *s, vmx_addr_t dst, vmx_msg_t *req, vmx_msg_t *reply,
                uint64_t timeout_ns);

/* ------------------------------------------------------------------- taps */

/* A tap: called for every message of a subscribed topic at delivery, on the
 * delivering loop's thread (loop = its index), just before the receiving
 * actor runs; replies to asks are tapped where they are made. msg and bytes
 * (its encoding) are valid only during the call. Several loops call a tap at
 * once: it must be thread-safe (a tracer keeps one buffer per loop index),
 * quick, and must not send to a topic it taps. */
typedef void (*vmx_bus_tap_fn)(void *arg, unsigned loop, const vmx_msg_t *msg,
                               const uint8_t *bytes, size_t len);

#define VMX_BUS_MAX_TAPS 16

/* Subscribes fn to the topics in the mask (VMX_TOPIC_BIT(...) ORed, or
 * VMX_TOPICS_ALL). Any thread, any time; messages delivered after the call
 * returns are tapped. Sets *id. Returns 0, VMX_EINVAL (fn NULL, mask 0) or
 * VMX_ENOMEM (VMX_BUS_MAX_TAPS subscriptions were made). */
int vmx_bus_subscribe(vmx_bus_t *bus, uint64_t topics, vmx_bus_tap_fn fn, void *arg,
                      unsigned *id);

/* Ends subscription id. A call of fn already under way on a loop may still
 * finish after this returns: keep arg valid until the loops have stopped.
 * Returns 0 or VMX_EINVAL. */
int vmx_bus_unsubscribe(vmx_bus_t *bus, unsigned id);

/* --------------------------------------------------------------- endpoints */

/* A consumer's inbound side: its ring, its wake-up, and the counters the bus
 * needs. The actor runtime's loops are the consumers; fields are public so the
 * loop can update its counters without calls. */
typedef void (*vmx_bus_wake_fn)(void *arg);

typedef struct vmx_bus_endpoint {
  /* Producers push; the consumer pops. */
  vmx_ring_t ring;

  /* Written by producers (any thread). */
  alignas(64) uint32_t wake_pending; /* 1 while a wake-up is owed or under way */
  uint64_t backpressure;             /* sends refused or delayed: ring full */
  uint64_t rescues; /* asker re-wakes that found the loop stalled (see ask_wait) */

  /* Written by the consumer only; read by anyone with acquire loads. */
  alignas(64) uint64_t ring_done;  /* ring messages fully handled or dropped */
  uint64_t local_in;               /* messages the consumer queued itself */
  uint64_t local_done;             /* ... of those, fully handled or dropped */
  uint64_t ring_hwm;               /* deepest the ring was seen */

  /* Set once by vmx_bus_endpoint_open; read-only after. */
  alignas(64) unsigned index;
  uint32_t closed;          /* 1 after vmx_bus_endpoint_close (release/acquire) */
  vmx_bus_wake_fn wake;
  void *wake_arg;
  uint32_t *kick;           /* optional exit-request flag; producers store 1 */
  void *owner;
} vmx_bus_endpoint_t;

typedef struct vmx_bus_endpoint_options {
  unsigned ring_slots;  /* slots in the inbound ring; default 4095 */
  vmx_bus_wake_fn wake; /* called by a producer when the consumer may sleep;
                           must be thread-safe (writes an eventfd) */
  void *wake_arg;
  /* Optional: a flag the consumer polls while busy (a vCPU's exit request at
   * block boundaries). Every send to this endpoint stores 1 to it with release
   * order after the message is in the ring; the consumer clears it. */
  uint32_t *kick;
  void *owner;          /* the consumer object (a vmx_loop_t) */
} vmx_bus_endpoint_options_t;

/* Adds an endpoint; its index (the loop field of addresses) is ep->index.
 * Returns 0, VMX_EINVAL (wake is NULL), VMX_ENOMEM (or max_endpoints reached).
 * Any thread. */
int vmx_bus_endpoint_open(vmx_bus_t *bus, const vmx_bus_endpoint_options_t *opts,
                          vmx_bus_endpoint_t **out);

/* After this, sends to ep fail with VMX_ENOENT. The memory stays until
 * vmx_bus_close, so late senders stay safe. */
void vmx_bus_endpoint_close(vmx_bus_endpoint_t *ep);

/* Number of endpoints ever opened, and the one at index i (NULL if none). */
unsigned vmx_bus_endpoint_count(vmx_bus_t *bus);
vmx_bus_endpoint_t *vmx_bus_endpoint_at(vmx_bus_t *bus, unsigned i);

/* Consumer only: call before sleeping. Clears wake_pending, then looks at the
 * ring once more. Returns true if the consumer may sleep (a later send will
 * call wake), false if messages arrived and it must go on. */
bool vmx_bus_endpoint_may_sleep(vmx_bus_endpoint_t *ep);

/* ---------------------------------------------------------------- shutdown */

/* Refuses new messages from senders that are not actors (vmx_bus_send* and
 * vmx_bus_ask then fail with VMX_ENOENT) and returns once every such send
 * already under way has landed in a ring. Actors keep sending. */
void vmx_bus_stop_senders(vmx_bus_t *bus);

/* True once vmx_bus_stop_senders has been called. */
bool vmx_bus_stopping(vmx_bus_t *bus);

/* True if no message is in flight on any endpoint: every message put in a
 * ring or queued by a consumer has been handled. Meaningful once nothing but
 * message handling creates messages (senders stopped, timers stopped). */
bool vmx_bus_quiescent(vmx_bus_t *bus);

/* ------------------------------------- internal to src/bus and src/actors */

/* Puts msg (envelope filled in) into dst's ring once. external: the sender is
 * not an actor (refused while stopping). Returns as vmx_bus_send. */
int vmx__bus_post(vmx_bus_t *bus, vmx_msg_t *msg, bool external);

/* vmx__bus_post, waiting while the ring is full, up to timeout_ns. */
int vmx__bus_post_wait(vmx_bus_t *bus, vmx_msg_t *msg, bool external, uint64_t timeout_ns);

/* Cross-loop ask: req's envelope is filled but for corr. Returns as
 * vmx_bus_ask; *sent tells whether the request went out. */
int vmx__bus_ask(vmx_bus_t *bus, vmx_msg_t *req, vmx_msg_t *reply, bool external,
                 uint64_t timeout_ns, bool *sent);

/* Completes the ask with token corr: status 0 with *reply (envelope filled), or
 * a negative code and reply NULL. Returns 0, or VMX_ENOENT if the asker gave
 * up (timed out) already. */
int vmx__bus_ask_complete(vmx_bus_t *bus, uint64_t corr, int status, const vmx_msg_t *reply);

/* Calls the taps subscribed to msg's topic. bytes may be NULL: the message is
 * then encoded here if some tap wants it. Consumer thread of `loop`. */
void vmx__bus_tap(vmx_bus_t *bus, unsigned loop, const vmx_msg_t *msg, const uint8_t *bytes,
                  size_t len);

/* True if some tap wants messages of type `type` (a relaxed load: a tap
 * subscribed concurrently may miss the messages being delivered right now). */
bool vmx__bus_tapped(vmx_bus_t *bus, uint32_t type);

#endif
