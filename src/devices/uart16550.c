/* The ns16550a UART (see uart16550.h for the model and its choices). */
#include "devices/uart16550.h"

#include <string.h>

enum {
  REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
  REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7,
};

#define LCR_DLAB 0x80u

#define IER_RDI 0x01u  /* RX data available (and character timeout) */
#define IER_THRI 0x02u /* THR empty */
#define IER_RLSI 0x04u /* line status */
#define IER_MSI 0x08u  /* modem status */

#define IIR_NO_INT 0x01u
#define IIR_MSI 0x00u
#define IIR_THRI 0x02u
#define IIR_RDI 0x04u
#define IIR_RLSI 0x06u
#define IIR_CTI 0x0cu
#define IIR_FIFO 0xc0u /* both "FIFO enabled" bits */

#define FCR_FE 0x01u  /* FIFO enable */
#define FCR_RFR 0x02u /* receive FIFO reset */
#define FCR_XFR 0x04u /* transmit FIFO reset */
#define FCR_STICKY 0xc9u /* bits that read back in QEMU's fcr: trigger, DMA, FE */

#define MCR_LOOP 0x10u
#define MCR_MASK 0x1fu
#define MCR_OUT2 0x08u

#define LSR_DR 0x01u
#define LSR_OE 0x02u
#define LSR_BI 0x10u
#define LSR_THRE 0x20u
#define LSR_TEMT 0x40u
#define LSR_INT_ANY 0x1eu /* OE, PE, FE, BI: what raises the line-status interrupt */

#define MSR_DELTAS 0x0fu
#define MSR_RESET 0xb0u /* DCD | DSR | CTS */

static unsigned rx_cap(const vmx_uart16550_t *u) {
  return (u->fcr & FCR_FE) ? VMX_UART16550_FIFO : 1u;
}

/* Appends one byte; a full receiver is an overrun (the byte is lost, as on
 * the 16550A, whose FIFO contents are never overwritten). */
static void rx_push(vmx_uart16550_t *u, uint8_t byte) {
  if (u->rx_count >= rx_cap(u)) {
    u->lsr_errors |= LSR_OE;
    return;
  }
  u->rx_fifo[(u->rx_head + u->rx_count) % VMX_UART16550_FIFO] = byte;
  u->rx_count++;
}

static uint8_t rx_pop(vmx_uart16550_t *u) {
  if (u->rx_count == 0)
    return 0;
  uint8_t byte = u->rx_fifo[u->rx_head];
  u->rx_head = (u->rx_head + 1) % VMX_UART16550_FIFO;
  u->rx_count--;
  return byte;
}

static uint8_t lsr_value(const vmx_uart16550_t *u) {
  return (uint8_t)(u->lsr_errors | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0));
}

/* The interrupt identification in priority order (QEMU's serial_update_irq). */
static uint8_t pending_id(const vmx_uart16550_t *u) {
  bool fifo = u->fcr & FCR_FE;
  if ((u->ier & IER_RLSI) && (u->lsr_errors & LSR_INT_ANY))
    return IIR_RLSI;
  if ((u->ier & IER_RDI) && fifo && u->rx_count > 0 && u->rx_count < u->rx_trigger)
    return IIR_CTI;
  if ((u->ier & IER_RDI) && u->rx_count > 0)
    return IIR_RDI;
  if ((u->ier & IER_THRI) && u->thr_ipending)
    return IIR_THRI;
  if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
    return IIR_MSI;
  return IIR_NO_INT;
}

static void update_irq(vmx_uart16550_t *u) {
  bool level = pending_id(u) != IIR_NO_INT;
  if (level == u->irq_level)
    return;
  u->irq_level = level;
  if (u->io.irq)
    u->io.irq(u->io.arg, level);
}

void vmx_uart16550_init(vmx_uart16550_t *u, const vmx_uart16550_io_t *io) {
  memset(u, 0, sizeof *u);
  if (io)
    u->io = *io;
  u->divisor = 12;
  u->mcr = MCR_OUT2;
  u->msr = MSR_RESET;
  u->rx_trigger = 1;
}

/* An access the model serves: 1, 2, 4 or 8 bytes, aligned, inside the region. */
static bool access_ok(uint64_t off, unsigned size) {
  if (size != 1 && size != 2 && size != 4 && size != 8)
    return false;
  return off < VMX_UART16550_SIZE && off % size == 0;
}

static uint8_t read_rbr(vmx_uart16550_t *u) {
  uint8_t byte = rx_pop(u);
  if (u->rx_count == 0)
    u->lsr_errors &= (uint8_t)~LSR_BI;
  update_irq(u);
  return byte;
}

static uint8_t read_iir(vmx_uart16550_t *u) {
  uint8_t id = pending_id(u);
  if (id == IIR_THRI) {
    u->thr_ipending = false;
    update_irq(u);
  }
  return (uint8_t)(id | ((u->fcr & FCR_FE) ? IIR_FIFO : 0));
}

static uint8_t read_msr(vmx_uart16550_t *u) {
  if (u->mcr & MCR_LOOP) {
    /* Loopback ties OUT2/OUT1 to DCD/RI, RTS to CTS and DTR to DSR. */
    return (uint8_t)(((u->mcr & 0x0c) << 4) | ((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5));
  }
  uint8_t msr = u->msr;
  if (msr & MSR_DELTAS) {
    u->msr &= (uint8_t)~MSR_DELTAS;
    update_irq(u);
  }
  return msr;
}

uint64_t vmx_uart16550_read(vmx_uart16550_t *u, uint64_t off, unsigned size) {
  if (!access_ok(off, size))
    return 0;
  bool dlab = u->lcr & LCR_DLAB;
  switch (off & 7) {
  case REG_RBR_THR:
    return dlab ? (u->divisor & 0xff) : read_rbr(u);
  case REG_IER:
    return dlab ? (u->divisor >> 8) : u->ier;
  case REG_IIR_FCR:
    return read_iir(u);
  case REG_LCR:
    return u->lcr;
  case REG_MCR:
    return u->mcr;
  case REG_LSR: {
    uint8_t lsr = lsr_value(u);
    if (u->lsr_errors & (LSR_BI | LSR_OE)) {
      u->lsr_errors &= (uint8_t)~(LSR_BI | LSR_OE);
      update_irq(u);
    }
    return lsr;
  }
  case REG_MSR:
    return read_msr(u);
  default:
    return u->scr;
  }
}

int vmx_uart16550_peek(const vmx_uart16550_t *u, uint64_t off) {
  bool dlab = u->lcr & LCR_DLAB;
  switch (off) {
  case REG_RBR_THR: return dlab ? (u->divisor & 0xff) : -1;
  case REG_IER: return dlab ? (u->divisor >> 8) : u->ier;
  case REG_LCR: return u->lcr;
  case REG_MCR: return u->mcr;
  case REG_LSR: return u->lsr_errors & (LSR_BI | LSR_OE) ? -1 : lsr_value(u);
  case REG_SCR: return u->scr;
  default: return -1; /* IIR and MSR may clear what they report */
  }
}

static void write_thr(vmx_uart16550_t *u, uint8_t byte) {
  if (u->mcr & MCR_LOOP)
    rx_push(u, byte);
  else if (u->io.tx)
    u->io.tx(u->io.arg, byte);
  /* The byte left at once: THR is empty again and says so. */
  u->thr_ipending = true;
  update_irq(u);
}

static void write_ier(vmx_uart16550_t *u, uint8_t val) {
  uint8_t changed = (u->ier ^ val) & 0x0f;
  u->ier = val & 0x0f;
  /* QEMU (after Bochs): turning IER.THRI on re-arms the THRE interrupt, since
   * THR is empty; drivers kick transmission this way. */
  if (changed & IER_THRI)
    u->thr_ipending = (u->ier & IER_THRI) != 0;
  if (changed)
    update_irq(u);
}

static void write_fcr(vmx_uart16550_t *u, uint8_t val) {
  static const unsigned trigger[4] = {1, 4, 8, 14};
  /* Turning the FIFOs on or off flushes both. */
  if ((val ^ u->fcr) & FCR_FE)
    val |= FCR_RFR | FCR_XFR;
  if (val & FCR_RFR) {
    u->rx_head = 0;
    u->rx_count = 0;
    u->lsr_errors &= (uint8_t)~LSR_BI;
  }
  if (val & FCR_XFR)
    u->thr_ipending = true;
  u->rx_trigger = trigger[val >> 6];
  u->fcr = val & FCR_STICKY;
  update_irq(u);
}

void vmx_uart16550_write(vmx_uart16550_t *u, uint64_t off, unsigned size, uint64_t val) {
  if (!access_ok(off, size))
    return;
  uint8_t byte = (uint8_t)val;
  bool dlab = u->lcr & LCR_DLAB;
  switch (off & 7) {
  case REG_RBR_THR:
    if (dlab)
      u->divisor = (uint16_t)((u->divisor & 0xff00) | byte);
    else
      write_thr(u, byte);
    break;
  case REG_IER:
    if (dlab)
      u->divisor = (uint16_t)((u->divisor & 0x00ff) | (byte << 8));
    else
      write_ier(u, byte);
    break;
  case REG_IIR_FCR:
    write_fcr(u, byte);
    break;
  case REG_LCR:
    u->lcr = byte;
    break;
  case REG_MCR:
    u->mcr = byte & MCR_MASK;
    break;
  case REG_LSR:
  case REG_MSR:
    break; /* read only */
  default:
    u->scr = byte;
    break;
  }
}

size_t vmx_uart16550_rx(vmx_uart16550_t *u, const uint8_t *buf, size_t n) {
  size_t room = rx_cap(u) - u->rx_count;
  size_t take = n < room ? n : room;
  for (size_t i = 0; i < take; i++)
    rx_push(u, buf[i]);
  if (take)
    update_irq(u);
  return take;
}

bool vmx_uart16550_rx_room(const vmx_uart16550_t *u) {
  return u->rx_count < rx_cap(u);
}
