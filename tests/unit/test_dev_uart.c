/* The ns16550a UART (src/devices/uart16550.c): the register behaviour the
 * Linux 8250 driver and OpenSBI's uart8250 rely on, as QEMU 7.2 shows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "devices/uart16550.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

typedef struct fixture {
  vmx_uart16550_t uart;
  uint8_t sent[64];
  size_t nsent;
  bool level;
  int irq_calls;
} fixture_t;

static void on_tx(void *arg, uint8_t byte) {
  fixture_t *f = arg;
  if (f->nsent < sizeof f->sent)
    f->sent[f->nsent++] = byte;
}

static void on_irq(void *arg, bool level) {
  fixture_t *f = arg;
  assert_true(level != f->level); /* the device reports changes only */
  f->level = level;
  f->irq_calls++;
}

static int setup(void **state) {
  static fixture_t f;
  memset(&f, 0, sizeof f);
  vmx_uart16550_io_t io = {on_tx, on_irq, &f};
  vmx_uart16550_init(&f.uart, &io);
  *state = &f;
  return 0;
}

static uint8_t rd(fixture_t *f, unsigned reg) {
  return (uint8_t)vmx_uart16550_read(&f->uart, reg, 1);
}

static void wr(fixture_t *f, unsigned reg, uint8_t val) {
  vmx_uart16550_write(&f->uart, reg, 1, val);
}

static void test_reset_state_is_idle_and_empty(void **state) {
  fixture_t *f = *state;
  assert_int_equal(rd(f, IIR), 0x01);
  assert_int_equal(rd(f, LSR), 0x60); /* THRE | TEMT */
  assert_int_equal(rd(f, MSR), 0xb0); /* DCD | DSR | CTS */
  assert_int_equal(rd(f, MCR), 0x08); /* OUT2 */
  assert_int_equal(rd(f, LCR), 0);
  assert_int_equal(rd(f, IER), 0);
  assert_false(f->level);
  assert_int_equal(f->irq_calls, 0);
}

static void test_thr_write_transmits_at_once(void **state) {
  fixture_t *f = *state;
  wr(f, THR, 'h');
  wr(f, THR, 'i');
  assert_int_equal(f->nsent, 2);
  assert_memory_equal(f->sent, "hi", 2);
  assert_int_equal(rd(f, LSR) & 0x60, 0x60);
  assert_int_equal(f->irq_calls, 0); /* IER is 0 */
}

static void test_dlab_maps_offsets_0_and_1_to_the_divisor(void **state) {
  fixture_t *f = *state;
  wr(f, IER, 0x05);
  wr(f, LCR, 0x83); /* DLAB, 8 bits */
  assert_int_equal(rd(f, DLL), 12);
  assert_int_equal(rd(f, DLM), 0);
  wr(f, DLL, 0x34);
  wr(f, DLM, 0x12);
  assert_int_equal(rd(f, DLL), 0x34);
  assert_int_equal(rd(f, DLM), 0x12);
  assert_int_equal(f->nsent, 0); /* a DLL write is not a THR write */
  wr(f, LCR, 0x03);
  assert_int_equal(rd(f, IER), 0x05);
  assert_int_equal(rd(f, LCR), 0x03);
  wr(f, LCR, 0x83);
  assert_int_equal(rd(f, DLL), 0x34);
}

static void test_rx_fifo_fills_to_16_and_drains_in_order(void **state) {
  fixture_t *f = *state;
  wr(f, FCR, 0x07); /* enable and clear both FIFOs, trigger 1 */
  uint8_t in[20];
  for (int i = 0; i < 20; i++)
    in[i] = (uint8_t)('a' + i);
  assert_true(vmx_uart16550_rx_room(&f->uart));
  assert_int_equal(vmx_uart16550_rx(&f->uart, in, 20), 16);
  assert_false(vmx_uart16550_rx_room(&f->uart));
  assert_int_equal(vmx_uart16550_rx(&f->uart, in + 16, 4), 0);
  for (int i = 0; i < 16; i++) {
    assert_int_equal(rd(f, LSR) & 0x01, 0x01);
    assert_int_equal(rd(f, RBR), 'a' + i);
    assert_true(vmx_uart16550_rx_room(&f->uart));
  }
  assert_int_equal(rd(f, LSR) & 0x01, 0);
  assert_int_equal(rd(f, RBR), 0); /* empty FIFO reads 0 */
  assert_int_equal(vmx_uart16550_rx(&f->uart, in + 16, 4), 4);
  assert_int_equal(rd(f, RBR), 'q');
}

static void test_rx_without_fifo_holds_one_byte(void **state) {
  fixture_t *f = *state;
  assert_int_equal(vmx_uart16550_rx(&f->uart, (const uint8_t *)"xyz", 3), 1);
  assert_false(vmx_uart16550_rx_room(&f->uart));
  assert_int_equal(rd(f, RBR), 'x');
  assert_true(vmx_uart16550_rx_room(&f->uart));
}

static void test_rx_data_raises_and_draining_lowers_the_line(void **state) {
  fixture_t *f = *state;
  wr(f, FCR, 0x01);
  wr(f, IER, 0x01); /* RDI */
  assert_false(f->level);
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"ab", 2);
  assert_true(f->level);
  assert_int_equal(f->irq_calls, 1);
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"c", 1);
  assert_int_equal(f->irq_calls, 1); /* already high: no call */
  assert_int_equal(rd(f, IIR), 0xc4); /* FIFO bits | RX data */
  rd(f, RBR);
  rd(f, RBR);
  assert_true(f->level);
  rd(f, RBR);
  assert_false(f->level);
  assert_int_equal(rd(f, IIR), 0xc1);
  assert_int_equal(f->irq_calls, 2);
}

static void test_masking_rdi_hides_rx_data(void **state) {
  fixture_t *f = *state;
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"a", 1);
  assert_false(f->level);
  wr(f, IER, 0x01);
  assert_true(f->level);
  wr(f, IER, 0x00);
  assert_false(f->level);
}

static void test_iir_priority_rx_data_over_thr_empty(void **state) {
  fixture_t *f = *state;
  wr(f, IER, 0x03); /* RDI | THRI: THR is empty, so THRE is pending at once */
  assert_true(f->level);
  assert_int_equal(rd(f, IIR) & 0x0f, 0x02);
  /* Reading IIR acknowledged THRE. */
  assert_int_equal(rd(f, IIR) & 0x0f, 0x01);
  assert_false(f->level);
  wr(f, THR, '!'); /* THR empties again at once: THRE pending */
  assert_true(f->level);
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"k", 1);
  assert_int_equal(rd(f, IIR) & 0x0f, 0x04); /* RX data outranks THRE */
  assert_int_equal(rd(f, RBR), 'k');
  assert_int_equal(rd(f, IIR) & 0x0f, 0x02); /* then THRE shows */
  assert_int_equal(rd(f, IIR) & 0x0f, 0x01);
  assert_false(f->level);
}

static void test_line_status_outranks_rx_data(void **state) {
  fixture_t *f = *state;
  wr(f, MCR, 0x10); /* loopback; FIFO off: one byte of room */
  wr(f, IER, 0x05); /* RDI | RLSI */
  wr(f, THR, '1');
  assert_int_equal(rd(f, IIR) & 0x0f, 0x04);
  wr(f, THR, '2'); /* overrun */
  assert_int_equal(rd(f, IIR) & 0x0f, 0x06);
  assert_int_equal(rd(f, LSR) & 0x03, 0x03); /* DR | OE; the read clears OE */
  assert_int_equal(rd(f, LSR) & 0x03, 0x01);
  assert_int_equal(rd(f, IIR) & 0x0f, 0x04);
  assert_int_equal(rd(f, RBR), '1');
  assert_false(f->level);
}

static void test_trigger_level_gives_timeout_then_rx_data(void **state) {
  fixture_t *f = *state;
  wr(f, FCR, 0x81); /* FIFO, trigger 8 (Linux's 16550A setting) */
  wr(f, IER, 0x01);
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"abc", 3);
  assert_true(f->level);
  assert_int_equal(rd(f, IIR), 0xcc); /* character timeout */
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"defgh", 5);
  assert_int_equal(rd(f, IIR), 0xc4); /* 8 bytes: trigger reached */
  assert_int_equal(rd(f, RBR), 'a');
  assert_int_equal(rd(f, IIR), 0xcc);
}

static void test_thre_interrupt_rearms_when_ier_thri_turns_on(void **state) {
  fixture_t *f = *state;
  wr(f, IER, 0x02);
  assert_true(f->level);
  rd(f, IIR);
  assert_false(f->level);
  wr(f, IER, 0x02); /* unchanged: nothing */
  assert_false(f->level);
  wr(f, IER, 0x00);
  wr(f, IER, 0x02);
  assert_true(f->level);
}

static void test_loopback_feeds_the_receiver_not_tx(void **state) {
  fixture_t *f = *state;
  wr(f, FCR, 0x01);
  wr(f, MCR, 0x1b); /* LOOP | OUT2 | RTS | DTR */
  wr(f, THR, 'L');
  assert_int_equal(f->nsent, 0);
  assert_int_equal(rd(f, LSR) & 0x01, 0x01);
  assert_int_equal(rd(f, RBR), 'L');
  assert_int_equal(rd(f, MSR), 0xb0); /* DCD(OUT2) | DSR(DTR) | CTS(RTS) */
  wr(f, MCR, 0x10);
  assert_int_equal(rd(f, MSR), 0x00);
  wr(f, MCR, 0x00);
  wr(f, THR, 'T');
  assert_int_equal(f->nsent, 1);
}

static void test_fcr_receiver_reset_flushes(void **state) {
  fixture_t *f = *state;
  wr(f, FCR, 0x01);
  wr(f, IER, 0x01);
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"abc", 3);
  assert_true(f->level);
  wr(f, FCR, 0x03);
  assert_false(f->level);
  assert_int_equal(rd(f, LSR) & 0x01, 0);
  /* Turning the FIFO off flushes too. */
  vmx_uart16550_rx(&f->uart, (const uint8_t *)"abc", 3);
  wr(f, FCR, 0x00);
  assert_int_equal(rd(f, LSR) & 0x01, 0);
  assert_int_equal(rd(f, IIR), 0x01); /* no FIFO bits */
}

static void test_scr_and_register_aliases(void **state) {
  fixture_t *f = *state;
  wr(f, SCR, 0x5a);
  assert_int_equal(rd(f, SCR), 0x5a);
  assert_int_equal(vmx_uart16550_read(&f->uart, 0x0f, 1), 0x5a); /* offset & 7 */
  assert_int_equal(vmx_uart16550_read(&f->uart, 0xff, 1), 0x5a);
  assert_int_equal(vmx_uart16550_read(&f->uart, 0x100, 1), 0); /* outside */
  vmx_uart16550_write(&f->uart, 0x100, 1, 'x');
  assert_int_equal(f->nsent, 0);
}

static void test_wide_aligned_accesses_reach_the_byte_register(void **state) {
  fixture_t *f = *state;
  assert_int_equal(vmx_uart16550_read(&f->uart, MCR, 4), 0x08);
  vmx_uart16550_write(&f->uart, THR, 4, 0x12345641);
  assert_int_equal(f->nsent, 1);
  assert_int_equal(f->sent[0], 0x41);
  assert_int_equal(vmx_uart16550_read(&f->uart, LSR, 1), 0x60);
  assert_int_equal(vmx_uart16550_read(&f->uart, 1, 4), 0); /* unaligned */
  assert_int_equal(vmx_uart16550_read(&f->uart, 0, 3), 0); /* no such size */
  vmx_uart16550_write(&f->uart, 2, 4, 'y');
  assert_int_equal(f->nsent, 1);
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* What a hart may read from the published copy: exactly what a read would
 * return, for the registers whose read changes nothing, and -1 for the
 * others (RBR pops, IIR clears THRI, MSR its deltas, LSR an error). */
static void test_peek_matches_reads_without_side_effects(void **state) {
  fixture_t *f = *state;
  wr(f, SCR, 0x5a);
  wr(f, IER, 0x03);
  wr(f, LCR, 0x03);
  wr(f, MCR, 0x0b);
  const unsigned quiet[] = {IER, LCR, MCR, LSR, SCR};
  for (unsigned i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
    assert_int_equal(vmx_uart16550_peek(&f->uart, quiet[i]), rd(f, quiet[i]));
  assert_int_equal(vmx_uart16550_peek(&f->uart, RBR), -1);
  assert_int_equal(vmx_uart16550_peek(&f->uart, IIR), -1);
  assert_int_equal(vmx_uart16550_peek(&f->uart, MSR), -1);
  /* DLAB: offsets 0 and 1 are the divisor, which reads without effect. */
  wr(f, LCR, 0x83);
  assert_int_equal(vmx_uart16550_peek(&f->uart, DLL), rd(f, DLL));
  assert_int_equal(vmx_uart16550_peek(&f->uart, DLM), rd(f, DLM));
  wr(f, LCR, 0x03);
  /* Data ready shows in the copy; an overrun makes LSR a real read. */
  wr(f, MCR, 0x10);
  wr(f, THR, '1');
  assert_int_equal(vmx_uart16550_peek(&f->uart, LSR) & 0x01, 0x01);
  wr(f, THR, '2');
  assert_int_equal(vmx_uart16550_peek(&f->uart, LSR), -1);
  assert_int_equal(rd(f, LSR) & 0x03, 0x03);
  assert_int_equal(vmx_uart16550_peek(&f->uart, LSR), rd(f, LSR));
}

static void test_any_offset_and_size_is_safe(void **state) {
  fixture_t *f = *state;
  static const unsigned sizes[] = {1, 2, 4, 8, 0, 3, 16};
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  print_message("seed %#llx\n", (unsigned long long)seed);
  for (uint64_t off = 0; off < VMX_UART16550_SIZE + 16; off++) {
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      vmx_uart16550_read(&f->uart, off, sizes[i]);
      vmx_uart16550_write(&f->uart, off, sizes[i], xorshift(&seed));
      uint8_t in[20];
      vmx_uart16550_rx(&f->uart, in, (size_t)(xorshift(&seed) % 20));
    }
  }
  vmx_uart16550_read(&f->uart, UINT64_MAX - 7, 8);
  vmx_uart16550_write(&f->uart, UINT64_MAX, 1, 0);
  assert_true(f->uart.rx_count <= VMX_UART16550_FIFO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_reset_state_is_idle_and_empty, setup),
      cmocka_unit_test_setup(test_thr_write_transmits_at_once, setup),
      cmocka_unit_test_setup(test_dlab_maps_offsets_0_and_1_to_the_divisor, setup),
      cmocka_unit_test_setup(test_rx_fifo_fills_to_16_and_drains_in_order, setup),
      cmocka_unit_test_setup(test_rx_without_fifo_holds_one_byte, setup),
      cmocka_unit_test_setup(test_rx_data_raises_and_draining_lowers_the_line, setup),
      cmocka_unit_test_setup(test_masking_rdi_hides_rx_data, setup),
      cmocka_unit_test_setup(test_iir_priority_rx_data_over_thr_empty, setup),
      cmocka_unit_test_setup(test_line_status_outranks_rx_data, setup),
      cmocka_unit_test_setup(test_trigger_level_gives_timeout_then_rx_data, setup),
      cmocka_unit_test_setup(test_thre_interrupt_rearms_when_ier_thri_turns_on, setup),
      cmocka_unit_test_setup(test_loopback_feeds_the_receiver_not_tx, setup),
      cmocka_unit_test_setup(test_fcr_receiver_reset_flushes, setup),
      cmocka_unit_test_setup(test_scr_and_register_aliases, setup),
      cmocka_unit_test_setup(test_wide_aligned_accesses_reach_the_byte_register, setup),
      cmocka_unit_test_setup(test_any_offset_and_size_is_safe, setup),
      cmocka_unit_test_setup(test_peek_matches_reads_without_side_effects, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
