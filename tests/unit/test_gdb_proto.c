/* The GDB remote protocol layer: framing, encoding, hex helpers, command
 * decoding, qXfer slicing, the riscv64 target description (checked by
 * loading it into gdb-multiarch), and a bounded-time fuzz of framer+parser.
 *
 *   VMX_FUZZ_SEED=n     repeat a fuzz run (the seed is printed first)
 *   VMX_FUZZ_SECONDS=s  fuzz time budget (default 2)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fuzz.h"
#include "base/error.h"
#include "debug/gdb_proto.h"
#include "debug/gdb_target.h"

/* ---- Framing ---- */

#define MAX_EVENTS 16

typedef struct {
  size_t count;
  vmx_gdb_event_kind_t kind[MAX_EVENTS];
  char data[MAX_EVENTS][VMX_GDB_PACKET_MAX + 1];
  size_t len[MAX_EVENTS];
} events_t;

static void record(void *opaque, const vmx_gdb_event_t *ev) {
  events_t *e = opaque;
  assert_true(e->count < MAX_EVENTS);
  e->kind[e->count] = ev->kind;
  e->len[e->count] = ev->len;
  if (ev->kind == VMX_GDB_EV_PACKET) {
    memcpy(e->data[e->count], ev->data, ev->len);
    assert_int_equal(ev->data[ev->len], 0);
  }
  e->count++;
}

static events_t *feed(const char *bytes, size_t n, size_t chunk) {
  static events_t ev;
  static vmx_gdb_rx_t rx;
  memset(&ev, 0, sizeof ev);
  vmx_gdb_rx_init(&rx);
  for (size_t i = 0; i < n; i += chunk)
    vmx_gdb_rx_feed(&rx, bytes + i, n - i < chunk ? n - i : chunk, record, &ev);
  return &ev;
}

static void test_packets_frame_the_same_in_any_chunking(void **state) {
  const char stream[] = "+$g#67$m80000000,4#55-\x03";
  for (size_t chunk = 1; chunk <= sizeof stream; chunk++) {
    events_t *ev = feed(stream, sizeof stream - 1, chunk);
    assert_int_equal(ev->count, 5);
    assert_int_equal(ev->kind[0], VMX_GDB_EV_ACK);
    assert_int_equal(ev->kind[1], VMX_GDB_EV_PACKET);
    assert_string_equal(ev->data[1], "g");
    assert_int_equal(ev->kind[2], VMX_GDB_EV_PACKET);
    assert_string_equal(ev->data[2], "m80000000,4");
    assert_int_equal(ev->kind[3], VMX_GDB_EV_NACK);
    assert_int_equal(ev->kind[4], VMX_GDB_EV_INTERRUPT);
  }
}

static void test_bad_checksum_is_reported_not_delivered(void **state) {
  events_t *ev = feed("$g#68$g#zz$g#6", 14, 1);
  assert_int_equal(ev->count, 2);
  assert_int_equal(ev->kind[0], VMX_GDB_EV_BAD_CHECKSUM);
  assert_int_equal(ev->kind[1], VMX_GDB_EV_BAD_CHECKSUM);
}

static void test_checksum_digits_may_be_uppercase(void **state) {
  events_t *ev = feed("$m0,1#FA", 8, 3);
  assert_int_equal(ev->count, 1);
  assert_int_equal(ev->kind[0], VMX_GDB_EV_PACKET);
}

static void test_escapes_are_undone_and_star_is_literal(void **state) {
  /* X0,4: followed by '}' '$' '#' '*' escaped, then a literal '*'. */
  char pkt[64];
  const char payload[] = "X0,5:}]}\x04}\x03}\x0a*";
  unsigned sum = 0;
  for (size_t i = 0; i < sizeof payload - 1; i++)
    sum += (uint8_t)payload[i];
  int n = snprintf(pkt, sizeof pkt, "$%s#%02x", payload, sum & 0xff);
  events_t *ev = feed(pkt, (size_t)n, 1);
  assert_int_equal(ev->count, 1);
  assert_int_equal(ev->kind[0], VMX_GDB_EV_PACKET);
  assert_int_equal(ev->len[0], 10);
  assert_memory_equal(ev->data[0], "X0,5:}$#**", 10);
}

static void test_dollar_inside_a_packet_restarts_it(void **state) {
  events_t *ev = feed("$m0,$g#67", 9, 2);
  assert_int_equal(ev->count, 1);
  assert_string_equal(ev->data[0], "g");
}

static void test_garbage_between_packets_is_skipped(void **state) {
  events_t *ev = feed("xyz#00\n$?#3f!!", 14, 1);
  assert_int_equal(ev->count, 1);
  assert_string_equal(ev->data[0], "?");
}

static void test_interrupt_byte_inside_a_packet_is_data(void **state) {
  char pkt[32];
  int n = snprintf(pkt, sizeof pkt, "$X0,1:\x03#%02x", ('X' + '0' + ',' + '1' + ':' + 3) & 0xff);
  events_t *ev = feed(pkt, (size_t)n, 1);
  assert_int_equal(ev->count, 1);
  assert_int_equal(ev->kind[0], VMX_GDB_EV_PACKET);
  assert_int_equal(ev->data[0][5], 3);
}

static void test_oversize_packet_is_dropped_whole(void **state) {
  static char stream[VMX_GDB_PACKET_MAX + 64];
  size_t n = 0;
  stream[n++] = '$';
  for (size_t i = 0; i < VMX_GDB_PACKET_MAX + 1; i++)
    stream[n++] = 'a';
  memcpy(stream + n, "#00$g#67", 8);
  n += 8;
  events_t *ev = feed(stream, n, 7);
  assert_int_equal(ev->count, 2);
  assert_int_equal(ev->kind[0], VMX_GDB_EV_TOO_LONG);
  assert_int_equal(ev->kind[1], VMX_GDB_EV_PACKET);
  assert_string_equal(ev->data[1], "g");
}

static void test_packet_of_exactly_the_maximum_is_accepted(void **state) {
  static char stream[VMX_GDB_PACKET_MAX + 8];
  size_t n = 0;
  stream[n++] = '$';
  for (size_t i = 0; i < VMX_GDB_PACKET_MAX; i++)
    stream[n++] = '0';
  unsigned sum = (VMX_GDB_PACKET_MAX * '0') & 0xff;
  n += (size_t)snprintf(stream + n, 4, "#%02x", sum);
  events_t *ev = feed(stream, n, 1000);
  assert_int_equal(ev->count, 1);
  assert_int_equal(ev->kind[0], VMX_GDB_EV_PACKET);
  assert_int_equal(ev->len[0], VMX_GDB_PACKET_MAX);
}

/* ---- Encoding ---- */

static void test_encoder_escapes_and_checksums(void **state) {
  char buf[64];
  size_t n = vmx_gdb_tx_packet(buf, sizeof buf, "OK", 2);
  assert_int_equal(n, 6);
  assert_memory_equal(buf, "$OK#9a", 6);
  n = vmx_gdb_tx_packet(buf, sizeof buf, "a$#}*b", 6);
  assert_memory_equal(buf, "$a}\x04}\x03}]}\x0a" "b#", 12);
  assert_int_equal(vmx_gdb_tx_packet(buf, sizeof buf, "", 0), 4);
  assert_memory_equal(buf, "$#00", 4);
  assert_int_equal(vmx_gdb_tx_packet(buf, 5, "OK", 2), 0);
  assert_int_equal(vmx_gdb_tx_packet(buf, 6, "OK", 2), 6);
}

static void test_encoder_output_frames_back_to_the_payload(void **state) {
  uint8_t payload[256];
  static char wire[600];
  for (int i = 0; i < 256; i++)
    payload[i] = (uint8_t)i;
  size_t n = vmx_gdb_tx_packet(wire, sizeof wire, payload, sizeof payload);
  assert_true(n > 0);
  events_t *ev = feed(wire, n, 1);
  assert_int_equal(ev->count, 1);
  assert_int_equal(ev->kind[0], VMX_GDB_EV_PACKET);
  assert_int_equal(ev->len[0], 256);
  assert_memory_equal(ev->data[0], payload, 256);
}

static void test_hex_helpers(void **state) {
  char buf[32];
  uint8_t bytes[4];
  uint64_t v;
  assert_int_equal(vmx_gdb_hex_encode(buf, sizeof buf, "\x01\xab\xff", 3), 6);
  assert_memory_equal(buf, "01abff", 6);
  assert_int_equal(vmx_gdb_hex_encode(buf, 5, "\x01\xab\xff", 3), 0);
  assert_int_equal(vmx_gdb_hex_decode(bytes, "01ABff", 6), 0);
  assert_memory_equal(bytes, "\x01\xab\xff", 3);
  assert_int_equal(vmx_gdb_hex_decode(bytes, "01a", 3), VMX_EINVAL);
  assert_int_equal(vmx_gdb_hex_decode(bytes, "0g", 2), VMX_EINVAL);
  assert_int_equal(vmx_gdb_hex_reg(buf, 0x1122334455667788ull, 8), 16);
  assert_memory_equal(buf, "8877665544332211", 16);
  assert_int_equal(vmx_gdb_hex_reg(buf, 0x80000000u, 4), 8);
  assert_memory_equal(buf, "00000080", 8);
  assert_int_equal(vmx_gdb_hex_reg_parse("8877665544332211", 16, 8, &v), 0);
  assert_true(v == 0x1122334455667788ull);
  assert_int_equal(vmx_gdb_hex_reg_parse("00000080", 8, 4, &v), 0);
  assert_true(v == 0x80000000u);
  assert_int_equal(vmx_gdb_hex_reg_parse("000080", 6, 4, &v), VMX_EINVAL);
  assert_int_equal(vmx_gdb_hex_u64("ffffffffffffffff", 16, &v), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(vmx_gdb_hex_u64("000ffffffffffffffff", 19, &v), 0);
  assert_int_equal(vmx_gdb_hex_u64("10000000000000000", 17, &v), VMX_ERANGE);
  assert_int_equal(vmx_gdb_hex_u64("", 0, &v), VMX_EINVAL);
  assert_int_equal(vmx_gdb_hex_u64("12x", 3, &v), VMX_EINVAL);
}

/* ---- Commands ---- */

static vmx_gdb_cmd_t cmd;

static vmx_gdb_cmd_kind_t parse(const char *s) {
  /* An exactly sized heap copy without a NUL, so ASan sees any over-read. */
  size_t n = strlen(s);
  char *copy = malloc(n ? n : 1);
  memcpy(copy, s, n);
  vmx_gdb_cmd_kind_t k = vmx_gdb_parse(copy, n, &cmd);
  if (k == VMX_GDB_MALFORMED)
    assert_non_null(cmd.why);
  /* Pointers into the payload (qSupported) are checked by the caller
   * through copies made before this free. */
  static char keep[VMX_GDB_PACKET_MAX];
  if (k == VMX_GDB_QSUPPORTED) {
    memcpy(keep, copy, n);
    for (size_t i = 0; i < cmd.feature_count; i++) {
      cmd.supported[i].name = keep + (cmd.supported[i].name - copy);
      if (cmd.supported[i].value)
        cmd.supported[i].value = keep + (cmd.supported[i].value - copy);
    }
  }
  free(copy);
  return k;
}

static void expect_all(const char *const *payloads, size_t n, vmx_gdb_cmd_kind_t kind) {
  for (size_t i = 0; i < n; i++)
    if (parse(payloads[i]) != kind)
      fail_msg("\"%s\" parsed as %s, not %s", payloads[i], vmx_gdb_cmd_name(cmd.kind),
               vmx_gdb_cmd_name(kind));
}

static void test_parse_simple_commands(void **state) {
  assert_int_equal(parse("?"), VMX_GDB_HALT_REASON);
  assert_int_equal(parse("g"), VMX_GDB_READ_REGS);
  assert_int_equal(parse("k"), VMX_GDB_KILL);
  assert_int_equal(parse("qfThreadInfo"), VMX_GDB_THREAD_FIRST);
  assert_int_equal(parse("qsThreadInfo"), VMX_GDB_THREAD_NEXT);
  assert_int_equal(parse("qC"), VMX_GDB_CURRENT_THREAD);
  assert_int_equal(parse("QStartNoAckMode"), VMX_GDB_NOACK);
  assert_int_equal(parse("vCont?"), VMX_GDB_VCONT_QUERY);
  assert_int_equal(parse("gx"), VMX_GDB_MALFORMED);
  assert_int_equal(parse("k1"), VMX_GDB_MALFORMED);
}

static void test_unhandled_commands_are_unknown(void **state) {
  const char *unknown[] = {"", "qOffsets", "qSymbol::", "qTStatus", "vMustReplyEmpty",
                           "qCRC:0,10", "vCont", "qXfer:auxv:read::0,100",
                           "qXfer:features:write:target.xml:0:abc", "vFile:open:",
                           "Z5,1000,4", "qThreadExtraInfo,1", "!", "A", "i", "QThreadEvents:1"};
  expect_all(unknown, sizeof unknown / sizeof unknown[0], VMX_GDB_UNKNOWN);
}

static void test_parse_qsupported(void **state) {
  assert_int_equal(parse("qSupported:multiprocess+;swbreak+;hwbreak+;fork-events-;"
                         "xmlRegisters=i386,riscv;vContSupported+;qRelocInsn?"),
                   VMX_GDB_QSUPPORTED);
  assert_int_equal(cmd.feature_count, 7);
  assert_true(vmx_gdb_feature_on(&cmd, "multiprocess"));
  assert_true(vmx_gdb_feature_on(&cmd, "swbreak"));
  assert_false(vmx_gdb_feature_on(&cmd, "fork-events"));
  assert_false(vmx_gdb_feature_on(&cmd, "qRelocInsn"));
  assert_false(vmx_gdb_feature_on(&cmd, "multi"));
  assert_int_equal(cmd.supported[4].sign, '=');
  assert_int_equal(cmd.supported[4].value_len, 10);
  assert_memory_equal(cmd.supported[4].value, "i386,riscv", 10);
  assert_int_equal(parse("qSupported"), VMX_GDB_QSUPPORTED);
  assert_int_equal(cmd.feature_count, 0);
  assert_int_equal(parse("qSupportedx"), VMX_GDB_UNKNOWN);
  assert_int_equal(parse("qSupported,a+"), VMX_GDB_MALFORMED);
}

static void test_parse_registers(void **state) {
  assert_int_equal(parse("p20"), VMX_GDB_READ_REG);
  assert_int_equal(cmd.reg, 0x20);
  assert_int_equal(parse("p1041"), VMX_GDB_READ_REG);
  assert_int_equal(cmd.reg, 4161);
  assert_int_equal(parse("P20=0000008000000000"), VMX_GDB_WRITE_REG);
  assert_int_equal(cmd.reg, 0x20);
  assert_int_equal(cmd.data_len, 8);
  assert_true(cmd.value == 0x80000000ull);
  assert_int_equal(parse("P42=01000000"), VMX_GDB_WRITE_REG);
  assert_int_equal(cmd.data_len, 4);
  assert_true(cmd.value == 1);
  assert_int_equal(parse("G0011aabb"), VMX_GDB_WRITE_REGS);
  assert_int_equal(cmd.data_len, 4);
  assert_memory_equal(cmd.data, "\x00\x11\xaa\xbb", 4);
  const char *bad[] = {"p", "px", "p100000000", "P20", "P20=", "P20=0", "P=00", "G", "G0",
                       "G0z", "p1,2"};
  expect_all(bad, sizeof bad / sizeof bad[0], VMX_GDB_MALFORMED);
}

static void test_parse_memory(void **state) {
  assert_int_equal(parse("m80200000,40"), VMX_GDB_READ_MEM);
  assert_true(cmd.addr == 0x80200000 && cmd.len == 0x40);
  assert_int_equal(parse("mffffffff80000000,4"), VMX_GDB_READ_MEM);
  assert_true(cmd.addr == 0xffffffff80000000ull);
  assert_int_equal(parse("M1000,3:0a0b0c"), VMX_GDB_WRITE_MEM);
  assert_true(cmd.addr == 0x1000 && cmd.len == 3 && cmd.data_len == 3);
  assert_memory_equal(cmd.data, "\x0a\x0b\x0c", 3);
  assert_int_equal(parse("X1000,0:"), VMX_GDB_WRITE_MEM_BIN);
  assert_int_equal(cmd.data_len, 0);
  assert_int_equal(vmx_gdb_parse("X10,3:a\0b", 9, &cmd), VMX_GDB_WRITE_MEM_BIN);
  assert_int_equal(cmd.data_len, 3);
  assert_memory_equal(cmd.data, "a\0b", 3);
  const char *bad[] = {"m", "m10", "m10,", "m,4", "m10,4,", "m10000000000000000,4",
                       "M10,2:00", "M10,1:0", "M10,1:0g", "M10,1", "X10,2:a", "X10,1",
                       "X10:1,a"};
  expect_all(bad, sizeof bad / sizeof bad[0], VMX_GDB_MALFORMED);
}

static void test_parse_resume(void **state) {
  assert_int_equal(parse("c"), VMX_GDB_CONTINUE);
  assert_false(cmd.has_addr);
  assert_int_equal(cmd.sig, 0);
  assert_int_equal(parse("c80200000"), VMX_GDB_CONTINUE);
  assert_true(cmd.has_addr && cmd.addr == 0x80200000);
  assert_int_equal(parse("s"), VMX_GDB_STEP);
  assert_int_equal(parse("C0b"), VMX_GDB_CONTINUE);
  assert_true(cmd.sig == 11 && !cmd.has_addr);
  assert_int_equal(parse("S05;1000"), VMX_GDB_STEP);
  assert_true(cmd.sig == 5 && cmd.has_addr && cmd.addr == 0x1000);
  const char *bad[] = {"cx", "C", "C100", "C05;", "S05;x", "s1;2", "C05x"};
  expect_all(bad, sizeof bad / sizeof bad[0], VMX_GDB_MALFORMED);
}

static void test_parse_vcont(void **state) {
  assert_int_equal(parse("vCont;c"), VMX_GDB_VCONT);
  assert_int_equal(cmd.vcont_count, 1);
  assert_int_equal(cmd.vcont[0].action, 'c');
  assert_false(cmd.vcont[0].has_thread);
  assert_int_equal(parse("vCont;s:p1.2;C05:3;S0b:p1.-1;t:-1;c"), VMX_GDB_VCONT);
  assert_int_equal(cmd.vcont_count, 5);
  assert_int_equal(cmd.vcont[0].action, 's');
  assert_true(cmd.vcont[0].has_thread && cmd.vcont[0].thread.pid == 1 &&
              cmd.vcont[0].thread.tid == 2);
  assert_int_equal(cmd.vcont[1].action, 'C');
  assert_int_equal(cmd.vcont[1].sig, 5);
  assert_true(cmd.vcont[1].thread.pid == 0 && cmd.vcont[1].thread.tid == 3);
  assert_int_equal(cmd.vcont[2].sig, 11);
  assert_true(cmd.vcont[2].thread.pid == 1 && cmd.vcont[2].thread.tid == VMX_GDB_TID_ALL);
  assert_int_equal(cmd.vcont[3].action, 't');
  assert_true(cmd.vcont[3].thread.tid == VMX_GDB_TID_ALL);
  assert_int_equal(cmd.vcont[4].action, 'c');
  char many[512] = "vCont";
  for (int i = 0; i < VMX_GDB_VCONT_MAX + 1; i++)
    strcat(many, ";c:1");
  assert_int_equal(parse(many), VMX_GDB_MALFORMED);
  const char *bad[] = {"vCont;", "vCont;x", "vCont;C", "vCont;c:", "vCont;c;",
                       "vCont;c:p", "vCont;c:-2", "vCont;c:1.2", "vCont;r1,2"};
  expect_all(bad, sizeof bad / sizeof bad[0], VMX_GDB_MALFORMED);
}

static void test_parse_threads(void **state) {
  assert_int_equal(parse("Hg0"), VMX_GDB_SET_THREAD);
  assert_true(cmd.op == 'g' && cmd.thread.pid == 0 && cmd.thread.tid == VMX_GDB_TID_ANY);
  assert_int_equal(parse("Hcp1.-1"), VMX_GDB_SET_THREAD);
  assert_true(cmd.op == 'c' && cmd.thread.pid == 1 && cmd.thread.tid == -1);
  assert_int_equal(parse("Hgp-1.-1"), VMX_GDB_SET_THREAD);
  assert_true(cmd.thread.pid == -1);
  assert_int_equal(parse("Tp1.3"), VMX_GDB_THREAD_ALIVE);
  assert_true(cmd.thread.pid == 1 && cmd.thread.tid == 3);
  assert_int_equal(parse("T1f"), VMX_GDB_THREAD_ALIVE);
  assert_true(cmd.thread.tid == 0x1f);
  assert_int_equal(parse("qAttached"), VMX_GDB_ATTACHED);
  assert_false(cmd.has_pid);
  assert_int_equal(parse("qAttached:1"), VMX_GDB_ATTACHED);
  assert_true(cmd.has_pid && cmd.pid == 1);
  const char *bad[] = {"H", "Hg", "Hx1", "Hg1x", "T", "Tp", "T8000000000000000",
                       "qAttached:", "qC:1", "qfThreadInfo,"};
  expect_all(bad, sizeof bad / sizeof bad[0], VMX_GDB_MALFORMED);
}

static void test_parse_xfer(void **state) {
  assert_int_equal(parse("qXfer:features:read:target.xml:0,ffb"), VMX_GDB_XFER_FEATURES);
  assert_string_equal(cmd.annex, "target.xml");
  assert_true(cmd.offset == 0 && cmd.length == 0xffb);
  assert_int_equal(parse("qXfer:threads:read::1000,200"), VMX_GDB_XFER_THREADS);
  assert_true(cmd.offset == 0x1000 && cmd.length == 0x200);
  const char *bad[] = {"qXfer:features:read:target.xml", "qXfer:features:read::0,1",
                       "qXfer:features:read:target.xml:0", "qXfer:features:read:t:0,1,",
                       "qXfer:threads:read:x:0,1", "qXfer:threads:read::0",
                       "qXfer:features:read:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaaaaaaaaaaaaa:0,1"};
  expect_all(bad, sizeof bad / sizeof bad[0], VMX_GDB_MALFORMED);
}

static void test_parse_breakpoints(void **state) {
  assert_int_equal(parse("Z0,80200000,4"), VMX_GDB_INSERT_BP);
  assert_true(cmd.bp_type == 0 && cmd.addr == 0x80200000 && cmd.bp_kind == 4);
  assert_int_equal(parse("z1,1000,2"), VMX_GDB_REMOVE_BP);
  assert_true(cmd.bp_type == 1 && cmd.bp_kind == 2);
  assert_int_equal(parse("Z4,1000,8"), VMX_GDB_INSERT_BP);
  assert_int_equal(cmd.bp_type, 4);
  assert_int_equal(parse("Z0,1000,4;X1,0"), VMX_GDB_INSERT_BP);
  const char *bad[] = {"Z", "Z0", "Z0,", "Z0,1000", "Z0,1000,", "Zx,1,2", "Z0,1000,4x"};
  expect_all(bad, sizeof bad / sizeof bad[0], VMX_GDB_MALFORMED);
}

static void test_parse_monitor_detach_kill(void **state) {
  assert_int_equal(parse("qRcmd,696e666f"), VMX_GDB_MONITOR);
  assert_string_equal((char *)cmd.data, "info");
  assert_int_equal(parse("qRcmd,"), VMX_GDB_MONITOR);
  assert_string_equal((char *)cmd.data, "");
  assert_int_equal(parse("qRcmd,6"), VMX_GDB_MALFORMED);
  assert_int_equal(parse("qRcmd,zz"), VMX_GDB_MALFORMED);
  assert_int_equal(parse("D"), VMX_GDB_DETACH);
  assert_false(cmd.has_pid);
  assert_int_equal(parse("D;1a"), VMX_GDB_DETACH);
  assert_true(cmd.has_pid && cmd.pid == 0x1a);
  assert_int_equal(parse("D;"), VMX_GDB_MALFORMED);
  assert_int_equal(parse("D1"), VMX_GDB_MALFORMED);
  assert_int_equal(parse("vKill;1"), VMX_GDB_VKILL);
  assert_true(cmd.pid == 1);
  assert_int_equal(parse("vKill;"), VMX_GDB_MALFORMED);
}

static void test_every_kind_has_a_name(void **state) {
  for (int k = 0; k < VMX_GDB_CMD_KIND_COUNT; k++)
    assert_true(strlen(vmx_gdb_cmd_name((vmx_gdb_cmd_kind_t)k)) > 1);
  assert_string_equal(vmx_gdb_cmd_name(VMX_GDB_XFER_FEATURES), "XFER_FEATURES");
}

/* ---- qXfer slicing ---- */

static void test_xfer_slices_a_document(void **state) {
  const char doc[] = "<target>a*b</target>"; /* 20 bytes, one needing an escape */
  char out[64];
  size_t n = vmx_gdb_xfer_slice(doc, 20, 0, 8, out, sizeof out);
  assert_int_equal(n, 9);
  assert_memory_equal(out, "m<target>", 9);
  n = vmx_gdb_xfer_slice(doc, 20, 8, 100, out, sizeof out);
  assert_int_equal(n, 13);
  assert_memory_equal(out, "la*b</target>", 13);
  n = vmx_gdb_xfer_slice(doc, 20, 8, 12, out, sizeof out);
  assert_int_equal(out[0], 'l');
  n = vmx_gdb_xfer_slice(doc, 20, 20, 10, out, sizeof out);
  assert_int_equal(n, 1);
  assert_int_equal(out[0], 'l');
  n = vmx_gdb_xfer_slice(doc, 20, UINT64_MAX, UINT64_MAX, out, sizeof out);
  assert_int_equal(n, 1);
  /* cap counts escaped bytes: "ma" fits in 3 but "ma*" needs 4. */
  n = vmx_gdb_xfer_slice(doc, 20, 8, 10, out, 3);
  assert_int_equal(n, 2);
  assert_memory_equal(out, "ma", 2);
  n = vmx_gdb_xfer_slice(doc, 20, 8, 10, out, 4);
  assert_int_equal(n, 3);
  assert_memory_equal(out, "ma*", 3);
  assert_int_equal(vmx_gdb_xfer_slice(doc, 20, 0, 5, out, 0), 0);
}

static void test_xfer_slices_reassemble_the_whole_document(void **state) {
  size_t len;
  const char *xml = vmx_gdb_target_xml(true, &len);
  static char whole[65536], out[512], wire[1100];
  size_t got = 0;
  for (;;) {
    size_t n = vmx_gdb_xfer_slice(xml, len, got, 0x1ff, out, sizeof out);
    size_t w = vmx_gdb_tx_packet(wire, sizeof wire, out, n);
    assert_true(w > 0 && w - 4 <= sizeof out);
    memcpy(whole + got, out + 1, n - 1);
    got += n - 1;
    if (out[0] == 'l')
      break;
  }
  assert_int_equal(got, len);
  assert_memory_equal(whole, xml, len);
}

/* ---- The target description ---- */

static void test_register_map_matches_the_documented_numbering(void **state) {
  const vmx_gdb_reg_t *r;
  for (unsigned i = 0; i < 32; i++) {
    r = vmx_gdb_target_reg(false, i);
    assert_true(r && r->kind == VMX_GDB_REG_GPR && r->index == i && r->size == 8);
    r = vmx_gdb_target_reg(false, 33 + i);
    assert_true(r && r->kind == VMX_GDB_REG_FPR && r->index == i && r->size == 8);
  }
  r = vmx_gdb_target_reg(false, 32);
  assert_true(r && r->kind == VMX_GDB_REG_PC);
  assert_string_equal(vmx_gdb_target_reg(false, 2)->name, "sp");
  assert_string_equal(vmx_gdb_target_reg(false, 64)->name, "ft11");
  r = vmx_gdb_target_reg(false, 68);
  assert_true(r && r->kind == VMX_GDB_REG_FCSR && r->index == 3 && r->size == 4);
  assert_null(vmx_gdb_target_reg(false, 65));
  assert_null(vmx_gdb_target_reg(false, 65 + 0x300));
  assert_null(vmx_gdb_target_reg(false, VMX_GDB_REGNUM_PRIV));
  r = vmx_gdb_target_reg(true, 65 + 0x300);
  assert_true(r && r->kind == VMX_GDB_REG_CSR && r->index == 0x300);
  assert_string_equal(r->name, "mstatus");
  r = vmx_gdb_target_reg(true, 65 + 0x180);
  assert_string_equal(r->name, "satp");
  r = vmx_gdb_target_reg(true, VMX_GDB_REGNUM_PRIV);
  assert_true(r && r->kind == VMX_GDB_REG_PRIV);
  assert_null(vmx_gdb_target_reg(true, 65 + 0x7c0));
  assert_null(vmx_gdb_target_reg(true, 100000));
}

/* Loads the description into gdb-multiarch and checks that gdb accepts it
 * and numbers every register as vmx_gdb_target_reg does (remote number) and
 * nothing else: "maint print remote-registers" needs no live target. */
static void check_xml_with_gdb(bool sys_mode) {
  char dir[] = "/tmp/vmx-gdbxml-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char xml_path[64], cmdline[512];
  snprintf(xml_path, sizeof xml_path, "%s/target.xml", dir);
  size_t len;
  const char *xml = vmx_gdb_target_xml(sys_mode, &len);
  FILE *f = fopen(xml_path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(xml, 1, len, f), len);
  fclose(f);
  if (system("command -v gdb-multiarch >/dev/null 2>&1") != 0)
    fail_msg("gdb-multiarch not found on PATH: install it (Debian package gdb-multiarch); "
             "this test loads the target description into it");
  snprintf(cmdline, sizeof cmdline,
           "gdb-multiarch -nx -batch -ex 'set architecture riscv:rv64' "
           "-ex 'set tdesc filename %s' -ex 'maint print remote-registers' 2>&1",
           xml_path);
  FILE *p = popen(cmdline, "r");
  assert_non_null(p);
  char line[256];
  unsigned seen = 0, remote_regs = 0;
  while (fgets(line, sizeof line, p)) {
    if (strstr(line, "warning") || strstr(line, "rejected") || strstr(line, "rror"))
      fail_msg("gdb-multiarch complained about the %s description: %s",
               sys_mode ? "system" : "user", line);
    char name[64], type[64];
    unsigned nr, rel, off, size, rnr, goff;
    if (sscanf(line, " %63s %u %u %u %u %63s %u %u", name, &nr, &rel, &off, &size, type,
               &rnr, &goff) != 8)
      continue; /* a register without a remote number, or a heading */
    remote_regs++;
    const vmx_gdb_reg_t *r = vmx_gdb_target_reg(sys_mode, rnr);
    if (!r || strcmp(r->name, name) != 0 || r->size != size)
      fail_msg("gdb has %s as remote register %u (%u bytes); vmx has %s", name, rnr, size,
               r ? r->name : "nothing");
    if (rnr == 0 || rnr == 32 || rnr == 68 || rnr == 65 + 0x300 || rnr == VMX_GDB_REGNUM_PRIV)
      seen++;
  }
  pclose(p);
  unlink(xml_path);
  rmdir(dir);
  unsigned expected = 0;
  for (unsigned n = 0; n <= VMX_GDB_REGNUM_PRIV; n++)
    expected += vmx_gdb_target_reg(sys_mode, n) != NULL;
  assert_int_equal(remote_regs, expected);
  assert_int_equal(seen, sys_mode ? 5 : 3);
}

static void test_gdb_accepts_the_user_description(void **state) {
  check_xml_with_gdb(false);
}

static void test_gdb_accepts_the_system_description(void **state) {
  check_xml_with_gdb(true);
}

/* ---- Fuzz ---- */



static const char *const seeds[] = {
    "qSupported:multiprocess+;swbreak+;xmlRegisters=riscv", "?", "g", "G0011", "p20",
    "P20=0000008000000000", "m80200000,40", "M1000,3:0a0b0c", "X1000,2:ab", "c", "C05;10",
    "s", "S0b", "vCont?", "vCont;s:p1.2;c", "Hgp1.1", "Hc-1", "Tp1.2", "qfThreadInfo",
    "qsThreadInfo", "qC", "qAttached:1", "qXfer:features:read:target.xml:0,ffb",
    "qXfer:threads:read::0,200", "Z0,80200000,4", "z1,1000,2", "qRcmd,696e666f", "D;1",
    "k", "vKill;1", "QStartNoAckMode", "vMustReplyEmpty",
};

static size_t fuzz_payload(char *buf, size_t cap) {
  const char *s = seeds[rnd() % (sizeof seeds / sizeof seeds[0])];
  size_t n = strlen(s);
  memcpy(buf, s, n);
  int edits = (int)(rnd() % 4);
  static const char interesting[] = ",;:.=-p0f*}$#\x03\0";
  for (int e = 0; e < edits; e++) {
    switch (rnd() % 4) {
    case 0: if (n) buf[rnd() % n] = (char)rnd(); break;
    case 1: if (n) buf[rnd() % n] = interesting[rnd() % (sizeof interesting - 1)]; break;
    case 2: if (n) n = rnd() % n; break;
    case 3:
      while (n < cap && rnd() % 4)
        buf[n++] = rnd() & 1 ? (char)('0' + rnd() % 10) : interesting[rnd() % 8];
      break;
    }
  }
  return n;
}

typedef struct {
  uint64_t packets;
  vmx_gdb_cmd_t *cmd;
} fuzz_sink_t;

static void fuzz_event(void *opaque, const vmx_gdb_event_t *ev) {
  fuzz_sink_t *sink = opaque;
  if (ev->kind != VMX_GDB_EV_PACKET)
    return;
  sink->packets++;
  char *copy = malloc(ev->len ? ev->len : 1);
  memcpy(copy, ev->data, ev->len);
  vmx_gdb_cmd_kind_t k = vmx_gdb_parse(copy, ev->len, sink->cmd);
  assert_true((unsigned)k < VMX_GDB_CMD_KIND_COUNT);
  assert_true(k != VMX_GDB_MALFORMED || sink->cmd->why != NULL);
  free(copy);
}

static void test_framer_and_parser_survive_fuzzing(void **state) {
  double end = fuzz_begin(2.0);
  static vmx_gdb_rx_t rx;
  static vmx_gdb_cmd_t fuzz_cmd;
  static char payload[512], wire[2048];
  fuzz_sink_t sink = {0, &fuzz_cmd};
  uint64_t runs = 0, sent = 0;
  vmx_gdb_rx_init(&rx);
  while (runs % 256 != 0 || now_s() < end) {
    size_t n = fuzz_payload(payload, sizeof payload);
    size_t w;
    if (rnd() % 8 == 0) { /* raw noise, possibly corrupting the framing */
      w = rnd() % 64;
      for (size_t i = 0; i < w; i++)
        wire[i] = rnd() & 1 ? (char)rnd() : "$#}+-\x03"[rnd() % 6];
    } else {
      w = vmx_gdb_tx_packet(wire, sizeof wire, payload, n);
      sent++;
      if (rnd() % 8 == 0 && w)
        wire[rnd() % w] ^= (char)(1u << (rnd() % 8));
    }
    /* Every chunking must be handled: split at random points. */
    for (size_t i = 0; i < w;) {
      size_t chunk = 1 + rnd() % (w - i);
      uint8_t *heap = malloc(chunk);
      memcpy(heap, wire + i, chunk);
      vmx_gdb_rx_feed(&rx, heap, chunk, fuzz_event, &sink);
      free(heap);
      i += chunk;
    }
    runs++;
  }
  printf("fuzz: %llu inputs, %llu packets encoded, %llu parsed\n", (unsigned long long)runs,
         (unsigned long long)sent, (unsigned long long)sink.packets);
  assert_true(runs > 1000);
  assert_true(sink.packets > sent / 4);
}


/* ---- Against a real gdb ----
 *
 * A minimal stub built only from this layer, run as "test_gdb_proto --stub
 * [system]" on stdin/stdout, for gdb-multiarch's "target remote | ...": one
 * stopped hart whose x[n] is n * 0x100, pc 0x80200000, CSR n reads 0x1000 + n,
 * priv 3, and memory at a reads a & 0xff. It proves that real gdb traffic
 * frames, parses and is answered as the lead's server will answer it. */

typedef struct {
  bool system;
  bool noack;
  bool done;
  vmx_gdb_cmd_t cmd;
  char reply[VMX_GDB_PACKET_MAX];
  char wire[2 * VMX_GDB_PACKET_MAX + 4];
} stub_t;

static void stub_send(stub_t *st, const char *payload, size_t len) {
  size_t n = vmx_gdb_tx_packet(st->wire, sizeof st->wire, payload, len);
  if (n == 0 || fwrite(st->wire, 1, n, stdout) != n)
    exit(3);
  fflush(stdout);
}

static uint64_t stub_reg_value(const vmx_gdb_reg_t *r) {
  switch (r->kind) {
  case VMX_GDB_REG_GPR: return (uint64_t)r->index * 0x100;
  case VMX_GDB_REG_PC: return 0x80200000u;
  case VMX_GDB_REG_FPR: return 0;
  case VMX_GDB_REG_FCSR: return 0;
  case VMX_GDB_REG_CSR: return 0x1000u + r->index;
  case VMX_GDB_REG_PRIV: return 3;
  }
  return 0;
}

static size_t stub_answer(stub_t *st, const char *payload, size_t len) {
  vmx_gdb_cmd_t *c = &st->cmd;
  char *out = st->reply;
  const vmx_gdb_reg_t *r;
  size_t n = 0, xml_len;
  const char *xml;
  switch (vmx_gdb_parse(payload, len, c)) {
  case VMX_GDB_QSUPPORTED:
    return (size_t)sprintf(out, "PacketSize=%s;qXfer:features:read+;QStartNoAckMode+;"
                                "vContSupported+", VMX_GDB_PACKET_SIZE_STR);
  case VMX_GDB_NOACK: st->noack = true; return (size_t)sprintf(out, "OK");
  case VMX_GDB_HALT_REASON: return (size_t)sprintf(out, "T05thread:01;");
  case VMX_GDB_THREAD_FIRST: return (size_t)sprintf(out, "m01");
  case VMX_GDB_THREAD_NEXT: return (size_t)sprintf(out, "l");
  case VMX_GDB_CURRENT_THREAD: return (size_t)sprintf(out, "QC01");
  case VMX_GDB_ATTACHED: return (size_t)sprintf(out, "1");
  case VMX_GDB_SET_THREAD: return (size_t)sprintf(out, "OK");
  case VMX_GDB_VCONT_QUERY: return (size_t)sprintf(out, "vCont;c;C;s;S");
  case VMX_GDB_XFER_FEATURES:
    if (strcmp(c->annex, "target.xml") != 0)
      return (size_t)sprintf(out, "E00");
    xml = vmx_gdb_target_xml(st->system, &xml_len);
    return vmx_gdb_xfer_slice(xml, xml_len, c->offset, c->length, out, sizeof st->reply);
  case VMX_GDB_READ_REGS:
    for (unsigned i = 0; i < VMX_GDB_G_REGS; i++) {
      r = vmx_gdb_target_reg(st->system, i);
      n += vmx_gdb_hex_reg(out + n, stub_reg_value(r), r->size);
    }
    return n;
  case VMX_GDB_READ_REG:
    r = vmx_gdb_target_reg(st->system, c->reg);
    if (!r)
      return (size_t)sprintf(out, "E01");
    return vmx_gdb_hex_reg(out, stub_reg_value(r), r->size);
  case VMX_GDB_READ_MEM:
    for (uint64_t i = 0; i < c->len && n + 2 <= sizeof st->reply; i++) {
      uint8_t b = (uint8_t)(c->addr + i);
      n += vmx_gdb_hex_encode(out + n, 2, &b, 1);
    }
    return n;
  case VMX_GDB_KILL:
  case VMX_GDB_VKILL:
  case VMX_GDB_DETACH:
    st->done = true;
    return (size_t)sprintf(out, "OK");
  case VMX_GDB_MALFORMED: return (size_t)sprintf(out, "E01");
  default: return 0;
  }
}

static void stub_event(void *opaque, const vmx_gdb_event_t *ev) {
  stub_t *st = opaque;
  switch (ev->kind) {
  case VMX_GDB_EV_PACKET: {
    if (!st->noack)
      fputc('+', stdout);
    size_t n = stub_answer(st, ev->data, ev->len);
    stub_send(st, st->reply, n);
    break;
  }
  case VMX_GDB_EV_BAD_CHECKSUM:
    if (!st->noack)
      fputc('-', stdout);
    fflush(stdout);
    break;
  case VMX_GDB_EV_TOO_LONG:
    if (!st->noack)
      fputc('+', stdout);
    stub_send(st, "E22", 3);
    break;
  default: break;
  }
}

static int stub_main(bool system_mode) {
  static stub_t st;
  static vmx_gdb_rx_t rx;
  st.system = system_mode;
  vmx_gdb_rx_init(&rx);
  char buf[4096];
  ssize_t n;
  while (!st.done && (n = read(0, buf, sizeof buf)) > 0)
    vmx_gdb_rx_feed(&rx, buf, (size_t)n, stub_event, &st);
  return 0;
}

static char self_path[4096];

/* Runs gdb-multiarch against the stub with the given -ex commands and
 * returns its whole output (static buffer). */
static const char *run_gdb_against_stub(bool system_mode, const char *commands) {
  static char output[65536];
  char cmdline[8192];
  if (system("command -v gdb-multiarch >/dev/null 2>&1") != 0)
    fail_msg("gdb-multiarch not found on PATH: install it (Debian package gdb-multiarch)");
  snprintf(cmdline, sizeof cmdline,
           "timeout 60 gdb-multiarch -nx -batch -ex 'set remotetimeout 10' "
           "-ex 'target remote | %s --stub%s' %s 2>&1",
           self_path, system_mode ? " system" : "", commands);
  FILE *p = popen(cmdline, "r");
  assert_non_null(p);
  size_t n = fread(output, 1, sizeof output - 1, p);
  output[n] = 0;
  pclose(p);
  return output;
}

static void expect_in(const char *output, const char *text) {
  if (!strstr(output, text))
    fail_msg("gdb output lacks \"%s\":\n%s", text, output);
}

static void test_real_gdb_reads_registers_and_memory_through_the_layer(void **state) {
  const char *out = run_gdb_against_stub(
      true, "-ex 'p/x $pc' -ex 'p/x $a0' -ex 'p/x $mstatus' -ex 'p/x $satp' -ex 'p $priv' "
            "-ex 'p/x $fcsr' -ex 'x/2xw 0x1000' -ex 'info threads' -ex 'kill'");
  expect_in(out, "$1 = 0x80200000");
  expect_in(out, "$2 = 0xa00");
  expect_in(out, "$3 = 0x1300");
  expect_in(out, "$4 = 0x1180");
  expect_in(out, "$5 = 3");
  expect_in(out, "$6 = 0x0");
  expect_in(out, "0x03020100\t0x07060504");
  /* ("No executable has been specified" is the one warning expected.) */
  if (strstr(out, "rejected") || strstr(out, "rror") || strstr(out, "Ignoring") ||
      strstr(out, "too long"))
    fail_msg("gdb complained:\n%s", out);
}

static void test_real_gdb_user_mode_has_no_csrs(void **state) {
  const char *out =
      run_gdb_against_stub(false, "-ex 'p/x $sp' -ex 'p $mstatus' -ex 'p/x $fflags' -ex 'kill'");
  expect_in(out, "$1 = 0x200");
  expect_in(out, "$2 = void");
  expect_in(out, "$3 = 0x0");
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--stub") == 0)
    return stub_main(argc >= 3 && strcmp(argv[2], "system") == 0);
  ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (n <= 0)
    return 1;
  self_path[n] = 0;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_gdb_reads_registers_and_memory_through_the_layer),
      cmocka_unit_test(test_real_gdb_user_mode_has_no_csrs),
      cmocka_unit_test(test_packets_frame_the_same_in_any_chunking),
      cmocka_unit_test(test_bad_checksum_is_reported_not_delivered),
      cmocka_unit_test(test_checksum_digits_may_be_uppercase),
      cmocka_unit_test(test_escapes_are_undone_and_star_is_literal),
      cmocka_unit_test(test_dollar_inside_a_packet_restarts_it),
      cmocka_unit_test(test_garbage_between_packets_is_skipped),
      cmocka_unit_test(test_interrupt_byte_inside_a_packet_is_data),
      cmocka_unit_test(test_oversize_packet_is_dropped_whole),
      cmocka_unit_test(test_packet_of_exactly_the_maximum_is_accepted),
      cmocka_unit_test(test_encoder_escapes_and_checksums),
      cmocka_unit_test(test_encoder_output_frames_back_to_the_payload),
      cmocka_unit_test(test_hex_helpers),
      cmocka_unit_test(test_parse_simple_commands),
      cmocka_unit_test(test_unhandled_commands_are_unknown),
      cmocka_unit_test(test_parse_qsupported),
      cmocka_unit_test(test_parse_registers),
      cmocka_unit_test(test_parse_memory),
      cmocka_unit_test(test_parse_resume),
      cmocka_unit_test(test_parse_vcont),
      cmocka_unit_test(test_parse_threads),
      cmocka_unit_test(test_parse_xfer),
      cmocka_unit_test(test_parse_breakpoints),
      cmocka_unit_test(test_parse_monitor_detach_kill),
      cmocka_unit_test(test_every_kind_has_a_name),
      cmocka_unit_test(test_xfer_slices_a_document),
      cmocka_unit_test(test_xfer_slices_reassemble_the_whole_document),
      cmocka_unit_test(test_register_map_matches_the_documented_numbering),
      cmocka_unit_test(test_gdb_accepts_the_user_description),
      cmocka_unit_test(test_gdb_accepts_the_system_description),
      cmocka_unit_test(test_framer_and_parser_survive_fuzzing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
