/* HTIF (see htif.h for the protocol). */
#include "devices/htif.h"

#include <string.h>

#define DEV_SYSTEM 0u
#define DEV_CONSOLE 1u
#define CMD_SYSCALL 0u
#define CMD_GETC 0u
#define CMD_PUTC 1u

#define SYS_WRITE 64u
#define SYS_EXIT 93u

/* Linux errno values the pk proxy answers with, negated. */
#define ERR_BADF ((uint64_t)-9)
#define ERR_FAULT ((uint64_t)-14)
#define ERR_NOSYS ((uint64_t)-38)

#define PAYLOAD_MASK 0xffffffffffffull

static uint64_t command(unsigned device, unsigned cmd, uint64_t payload) {
  return ((uint64_t)device << 56) | ((uint64_t)cmd << 48) | (payload & PAYLOAD_MASK);
}

/* Guest words are little-endian whatever the host is. */
static uint64_t le64_load(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | b[i];
  return v;
}

static bool read_u64(vmx_htif_t *h, uint64_t paddr, uint64_t *out) {
  uint8_t b[8];
  if (!h->io.mem_read(h->io.arg, paddr, b, sizeof b))
    return false;
  *out = le64_load(b);
  return true;
}

static void write_u64(vmx_htif_t *h, uint64_t paddr, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(v >> (8 * i));
  h->io.mem_write(h->io.arg, paddr, b, sizeof b);
}

void vmx_htif_init(vmx_htif_t *h, uint64_t tohost_addr, uint64_t fromhost_addr,
                   const vmx_htif_io_t *io) {
  memset(h, 0, sizeof *h);
  h->io = *io;
  h->tohost_addr = tohost_addr;
  h->fromhost_addr = fromhost_addr;
}

static void do_exit(vmx_htif_t *h, int code) {
  h->exited = true;
  if (h->io.exit)
    h->io.exit(h->io.arg, code);
}

/* Reads up to n bytes at paddr into buf; returns how many leading bytes
 * could be read (byte by byte once the whole range cannot). */
static size_t read_prefix(vmx_htif_t *h, uint64_t paddr, uint8_t *buf, size_t n) {
  if (paddr + n < paddr)
    n = (size_t)(0 - paddr); /* stop at the top of the address space */
  if (h->io.mem_read(h->io.arg, paddr, buf, n))
    return n;
  size_t got = 0;
  while (got < n && h->io.mem_read(h->io.arg, paddr + got, buf + got, 1))
    got++;
  return got;
}

/* SYS_write(fd, buf, len): the count written, or a negative errno. */
static uint64_t sys_write(vmx_htif_t *h, uint64_t fd, uint64_t buf, uint64_t len) {
  if (fd != 1 && fd != 2)
    return ERR_BADF;
  if (len > VMX_HTIF_WRITE_MAX)
    len = VMX_HTIF_WRITE_MAX;
  uint64_t done = 0;
  uint8_t chunk[256];
  while (done < len) {
    size_t n = len - done < sizeof chunk ? (size_t)(len - done) : sizeof chunk;
    n = read_prefix(h, buf + done, chunk, n);
    for (size_t i = 0; i < n && h->io.console; i++)
      h->io.console(h->io.arg, chunk[i]);
    done += n;
    if (n < sizeof chunk && done < len)
      break; /* ran into memory that cannot be read */
  }
  return done == 0 && len != 0 ? ERR_FAULT : done;
}

/* The pk/riscv-tests syscall proxy: magic_mem = {which, arg0, arg1, arg2, ...}. */
static void syscall_proxy(vmx_htif_t *h, uint64_t magic_mem) {
  uint8_t raw[8 * 8];
  uint64_t result;
  if (!h->io.mem_read(h->io.arg, magic_mem, raw, sizeof raw)) {
    result = ERR_FAULT;
  } else {
    uint64_t which = le64_load(raw), a0 = le64_load(raw + 8);
    uint64_t a1 = le64_load(raw + 16), a2 = le64_load(raw + 24);
    if (which == SYS_WRITE) {
      result = sys_write(h, a0, a1, a2);
    } else if (which == SYS_EXIT) {
      do_exit(h, (int)a0);
      return;
    } else {
      result = ERR_NOSYS;
    }
  }
  write_u64(h, magic_mem, result);
}

/* Handles one command; returns the fromhost answer, or 0 for none. */
static uint64_t dispatch(vmx_htif_t *h, uint64_t value) {
  unsigned device = (unsigned)(value >> 56);
  unsigned cmd = (unsigned)(value >> 48) & 0xff;
  uint64_t payload = value & PAYLOAD_MASK;
  if (device == DEV_SYSTEM && cmd == CMD_SYSCALL) {
    if (payload & 1) {
      do_exit(h, (int)(payload >> 1));
      return 0;
    }
    syscall_proxy(h, payload);
    return h->exited ? 0 : command(DEV_SYSTEM, CMD_SYSCALL, 1);
  }
  if (device == DEV_CONSOLE && cmd == CMD_PUTC) {
    uint8_t byte = (uint8_t)payload;
    if (h->io.console)
      h->io.console(h->io.arg, byte);
    return command(DEV_CONSOLE, CMD_PUTC, 0x100u | byte);
  }
  if (device == DEV_CONSOLE && cmd == CMD_GETC) {
    h->getc_cmd = value;
    h->getc_waiting = true;
    return 0;
  }
  return command(device, cmd, 0);
}

void vmx_htif_tohost(vmx_htif_t *h, uint64_t value) {
  if (value == 0 || h->exited)
    return;
  uint64_t answer = dispatch(h, value);
  if (h->exited)
    return;
  /* tohost first: a guest on another thread that sees fromhost may store
   * its next command at once, and it must not be wiped out. */
  write_u64(h, h->tohost_addr, 0);
  if (answer) {
    __atomic_thread_fence(__ATOMIC_RELEASE);
    write_u64(h, h->fromhost_addr, answer);
  }
}

void vmx_htif_store(vmx_htif_t *h, uint64_t paddr, unsigned size) {
  /* The store must end at the word's last byte, without starting below it. */
  if (paddr < h->tohost_addr || paddr - h->tohost_addr + size != 8)
    return;
  uint64_t value;
  if (read_u64(h, h->tohost_addr, &value))
    vmx_htif_tohost(h, value);
}

bool vmx_htif_input(vmx_htif_t *h, uint8_t byte) {
  if (!h->getc_waiting || h->exited)
    return false;
  h->getc_waiting = false;
  write_u64(h, h->fromhost_addr, (h->getc_cmd & ~PAYLOAD_MASK) | 0x100u | byte);
  return true;
}
