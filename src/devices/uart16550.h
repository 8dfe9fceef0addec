/* The ns16550a UART of the riscv `virt` machine (0x10000000, PLIC source 10),
 * as QEMU 7.2's hw/char/serial.c presents it to the guest.
 *
 * Registers are bytes at offsets 0..7 (reg-shift 0), aliased through the
 * 0x100-byte region as QEMU does (offset & 7):
 *
 *   0  RBR (read) / THR (write); DLL when LCR.DLAB
 *   1  IER (bits 3:0);           DLM when LCR.DLAB
 *   2  IIR (read) / FCR (write)
 *   3  LCR    4  MCR (bits 4:0)    5  LSR (read only)
 *   6  MSR (read only)             7  SCR
 *
 * Accesses of 1, 2, 4 or 8 bytes aligned to their size reach the register at
 * their offset: reads return its byte zero-extended, writes take the low
 * byte (QEMU's serial_mm behaviour). Anything else reads 0 and is ignored.
 *
 * Model choices (a pure state machine: no threads, no timers, no allocation):
 *   - Transmission is instant: a THR write hands the byte to io.tx at once,
 *     so LSR.THRE and LSR.TEMT always read 1 and the THRE interrupt is
 *     pending again right after every THR write (when IER.THRI is set).
 *   - The receiver holds 16 bytes with FCR.FE set, 1 without.
 *     vmx_uart16550_rx refuses what does not fit, so there is no overrun
 *     from host input; the loopback path (MCR.LOOP) can overrun and sets
 *     LSR.OE.
 *   - The character-timeout interrupt (IIR 0xC) is pending whenever the FIFO
 *     holds data below its trigger level: host input arrives in batches, so
 *     the line is idle as soon as a batch is queued. Above the trigger level
 *     the interrupt is the ordinary RX-data one (IIR 0x4).
 *   - The modem lines are fixed at DCD|DSR|CTS (MSR 0xB0) outside loopback.
 *
 * Interrupt priority (IIR), highest first, as in QEMU: line status (OE/BI,
 * IER.RLSI), character timeout and RX data (IER.RDI), THR empty (IER.THRI,
 * cleared by reading IIR or writing THR), modem status (IER.MSI).
 *
 * Thread-safety: none; the owner (one actor) serialises every call. The
 * callbacks run synchronously inside the call that caused them.
 */
#ifndef VMX_DEVICES_UART16550_H
#define VMX_DEVICES_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMX_UART16550_SIZE 0x100u /* bytes of the MMIO region on `virt` */
#define VMX_UART16550_FIFO 16u    /* receive FIFO depth */

/* What the UART does to the outside. Any pointer may be NULL. */
typedef struct vmx_uart16550_io {
  void (*tx)(void *arg, uint8_t byte); /* the guest sent a byte (not in loopback) */
  void (*irq)(void *arg, bool level);  /* the interrupt line changed level */
  void *arg;
} vmx_uart16550_io_t;

/* The device state; the caller allocates it and treats it as opaque. */
typedef struct vmx_uart16550 {
  vmx_uart16550_io_t io;
  uint8_t rx_fifo[VMX_UART16550_FIFO];
  unsigned rx_head;    /* index of the oldest byte */
  unsigned rx_count;   /* bytes queued: at most 16 with FCR.FE, else 1 */
  unsigned rx_trigger; /* FCR trigger level: 1, 4, 8 or 14 */
  uint16_t divisor;
  uint8_t ier, fcr, lcr, mcr, lsr_errors, msr, scr;
  bool thr_ipending;   /* THR-empty interrupt armed (QEMU's thr_ipending) */
  bool irq_level;      /* the level last reported through io.irq */
} vmx_uart16550_t;

/* Puts u in its reset state (QEMU's serial_reset: 9600 8N1 divisor 12,
 * MCR.OUT2, FIFO off, no interrupt) and keeps a copy of *io (io may be
 * NULL). Calls no callback: the line starts low. */
void vmx_uart16550_init(vmx_uart16550_t *u, const vmx_uart16550_io_t *io);

/* A guest read of size bytes at off (relative to the base). Reading RBR pops
 * the FIFO, reading IIR acknowledges a THR-empty interrupt, reading LSR
 * clears OE/BI; io.irq may be called. */
uint64_t vmx_uart16550_read(vmx_uart16550_t *u, uint64_t off, unsigned size);

/* What a one-byte read at off would return when that read changes nothing
 * (LSR without an error to clear, IER, LCR, MCR, SCR, the divisor), else -1:
 * a hart may serve it from a copy, without asking the device's owner. */
int vmx_uart16550_peek(const vmx_uart16550_t *u, uint64_t off);

/* A guest write of size bytes at off. A THR write calls io.tx (or loops the
 * byte back into the receiver when MCR.LOOP); io.irq may be called. */
void vmx_uart16550_write(vmx_uart16550_t *u, uint64_t off, unsigned size, uint64_t val);

/* Queues up to n bytes of host input (console keystrokes) into the
 * receiver and returns how many fit (0..n); the caller keeps the rest and
 * retries when vmx_uart16550_rx_room says there is room again (after the
 * guest reads RBR). io.irq may be called. */
size_t vmx_uart16550_rx(vmx_uart16550_t *u, const uint8_t *buf, size_t n);

/* True when at least one more input byte fits. */
bool vmx_uart16550_rx_room(const vmx_uart16550_t *u);

#endif
