/* The trace recorder and reader: every bus message (or those of chosen
 * topics) to a msgpack file, and back.
 *
 * The file format (version 1) is a sequence of msgpack objects, so any
 * msgpack tool can read it:
 *
 *   header   [ "VMXTRACE", format, schema, created_ns, host ]
 *              format      uint: VMX_TRACE_FORMAT (1)
 *              schema      uint: vmx_trace_schema_hash() of the writer, a hash
 *                          of messages.def (names, versions, topics, fields)
 *              created_ns  uint: CLOCK_REALTIME at open, ns since the epoch
 *              host        str: the writer's host name
 *   record   [ loop, t_ns, bytes ]   (repeated to the end of the file)
 *              loop        uint: index of the loop that delivered the message
 *              t_ns        uint: CLOCK_MONOTONIC ns since the trace was opened
 *              bytes       bin: the message exactly as encoded on the bus
 *                          (bus.h, "On the wire"), at most VMX_MSG_MAX_ENCODED
 *
 * Records of one loop are in delivery order; records of different loops are
 * interleaved in blocks (each loop buffers its own): sort by t_ns for a
 * global order.
 *
 * Writing: the file is written under a temporary name (PATH.tmp.PID) and
 * renamed to PATH only by a successful vmx_trace_close, so a crash or a
 * failed write never replaces an older trace with a half-written one.
 */
#ifndef VMX_BUS_TRACE_H
#define VMX_BUS_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bus/bus.h"

#define VMX_TRACE_MAGIC "VMXTRACE"
#define VMX_TRACE_FORMAT 1

typedef struct vmx_trace_rec vmx_trace_rec_t;
typedef struct vmx_trace_reader vmx_trace_reader_t;

/* Why opening, writing or reading a trace failed: a line naming the file and,
 * for damaged input, the byte offset ("t.bin: bad magic at offset 0"). */
typedef struct vmx_trace_error {
  size_t offset; /* where in the file, when the input is at fault */
  char text[320];
} vmx_trace_error_t;

/* The hash of messages.def that headers carry (FNV-1a over every topic and
 * message: name, version, topic, field names and types). Traces with another
 * hash may hold messages this build cannot decode. */
uint64_t vmx_trace_schema_hash(void);

/* Parses a comma-separated list of topic names ("SYSTEM,TEST", case as in
 * messages.def) into a mask for vmx_trace_open. NULL, "" or "all" is every
 * topic. Returns 0, or VMX_EINVAL with err naming the unknown topic. */
int vmx_trace_topics_parse(const char *list, uint64_t *mask, vmx_trace_error_t *err);

/* Starts recording the messages of topics (a comma-separated list of topic
 * names; NULL or "all" for every topic) delivered on bus into path. Returns
 * 0 and *out; VMX_EINVAL (bad topic list), VMX_EIO (cannot create the file),
 * VMX_ENOMEM (also when the bus has no tap slot left); err (may be NULL)
 * says why. One call is all a command needs: open it with vmx_loop_bus() of
 * any loop before sending, close it at exit. */
int vmx_trace_open(vmx_bus_t *bus, const char *path, const char *topics, vmx_trace_rec_t **out,
                   vmx_trace_error_t *err);

/* Messages recorded so far (any thread; a relaxed count). */
uint64_t vmx_trace_count(const vmx_trace_rec_t *rec);

/* Stops recording, flushes every buffer, closes the file and renames it to
 * its final path, but keeps rec's memory: for a process about to exit while
 * loops may still be running taps (a late tap call finds its buffer valid and
 * writes nothing more to the file). Returns as vmx_trace_close. */
int vmx_trace_finish(vmx_trace_rec_t *rec);

/* Stops recording, flushes every buffer, closes the file and renames it to
 * its final path; frees rec. Call after vmx_loop_stop_all (taps may run
 * until the loops stop) and before vmx_bus_close. Returns 0, or VMX_EIO if
 * any write failed (the temporary file is then removed and an older trace at
 * the path is left as it was; the reason is logged). NULL is a no-op. */
int vmx_trace_close(vmx_trace_rec_t *rec);

/* The header of a trace file. */
typedef struct vmx_trace_header {
  uint32_t format;
  uint64_t schema;     /* the writer's vmx_trace_schema_hash() */
  uint64_t created_ns; /* CLOCK_REALTIME, ns since the epoch */
  char host[256];
} vmx_trace_header_t;

/* One record, decoded. bytes points into the reader: valid until the next
 * vmx_trace_next or vmx_trace_read_close. */
typedef struct vmx_trace_record {
  size_t offset;   /* of the record in the file */
  unsigned loop;
  uint64_t t_ns;
  const uint8_t *bytes;
  size_t len;
  vmx_msg_t msg;   /* bytes, decoded and checked */
} vmx_trace_record_t;

/* Opens a trace and checks its header. Returns 0 and *out; VMX_EIO (cannot
 * read it), VMX_ENOMEM, or VMX_EINVAL (not a trace, damaged header, unknown
 * format version); err (may be NULL) says why and where. */
int vmx_trace_read_open(const char *path, vmx_trace_reader_t **out, vmx_trace_error_t *err);

/* The header read by vmx_trace_read_open. */
const vmx_trace_header_t *vmx_trace_read_header(const vmx_trace_reader_t *r);

/* Reads the next record into *rec. Returns 1 for a record, 0 at the end of
 * the file, or VMX_EINVAL for a damaged or truncated record (and on every
 * later call): vmx_trace_read_error() then names the offset. Every length,
 * type and range is checked; it never reads past the file's end. */
int vmx_trace_next(vmx_trace_reader_t *r, vmx_trace_record_t *rec);

/* The last error of r ("t.bin: truncated record at offset 1234 (needs 40
 * bytes, 12 left)"), or NULL if there was none. */
const vmx_trace_error_t *vmx_trace_read_error(const vmx_trace_reader_t *r);

/* Frees r. NULL is a no-op. */
void vmx_trace_read_close(vmx_trace_reader_t *r);

/* `vmx trace dump FILE`: prints the header as one JSON line, then one JSON
 * line per record, to out; errors go to err. Returns the exit status: 0, 1
 * (damaged or unreadable file, after the good records), 2 (usage). */
int vmx_trace_main(int argc, char **argv, FILE *out, FILE *err);

#endif
