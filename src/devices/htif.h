/* HTIF, the host-target interface of spike and riscv-tests: two 64-bit words
 * in guest RAM, tohost and fromhost, at the addresses of the guest ELF's
 * `tohost` and `fromhost` symbols. The guest stores a command into tohost;
 * the host acts on it, writes tohost back to 0 and answers in fromhost.
 *
 * A command is device = bits 63:56, cmd = bits 55:48, payload = bits 47:0:
 *
 *   device 0 cmd 0, payload bit 0 set: exit with status payload >> 1
 *       (riscv-tests: 1 = pass, (n << 1) | 1 = test n failed).
 *   device 0 cmd 0, payload bit 0 clear: payload is the guest address of a
 *       "magic_mem" block, uint64_t[8] = {which, arg0, arg1, arg2, ...}, of
 *       the riscv-tests/pk syscall proxy. Served: SYS_write (64) to fd 1 or
 *       2 (the bytes go to io.console; at most 1 MiB per call, a short
 *       count when the buffer runs into unreadable memory) and SYS_exit
 *       (93). The result, as a Linux syscall would return it (-EFAULT,
 *       -EBADF, -ENOSYS on error), is stored into magic_mem[0]; fromhost
 *       becomes 1, as on spike, which riscv-tests' syscall() polls for.
 *   device 1 cmd 1: console putchar of payload & 0xff; fromhost becomes
 *       (1 << 56) | (1 << 48) | 0x100 | byte, as on spike and QEMU.
 *   device 1 cmd 0: console getchar. Like spike, the request waits for
 *       input: no answer until vmx_htif_input supplies a byte.
 *   anything else: fromhost becomes the command's device and cmd bits with
 *       payload 0 (QEMU's answer), and nothing else happens.
 *
 * Guest memory is reached only through io.mem_read/io.mem_write; a failed
 * access is never fatal (magic_mem that cannot be read is answered with
 * -EFAULT where possible, and fromhost is still written).
 *
 * Thread-safety: none; the owner serialises every call. Callbacks run
 * synchronously inside the call that caused them.
 */
#ifndef VMX_DEVICES_HTIF_H
#define VMX_DEVICES_HTIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMX_HTIF_WRITE_MAX (1u << 20) /* bytes one SYS_write may print */

/* What HTIF needs from and does to the outside. mem_read and mem_write are
 * required; console and exit may be NULL. */
typedef struct vmx_htif_io {
  /* Copies len bytes of guest-physical memory at paddr; false if any byte
   * is not RAM. */
  bool (*mem_read)(void *arg, uint64_t paddr, void *buf, size_t len);
  /* Stores len bytes at paddr; false if any byte is not RAM. */
  bool (*mem_write)(void *arg, uint64_t paddr, const void *buf, size_t len);
  /* One byte of guest console output. */
  void (*console)(void *arg, uint8_t byte);
  /* The guest asked to exit with status code (called once; later commands
   * are ignored). */
  void (*exit)(void *arg, int code);
  void *arg;
} vmx_htif_io_t;

/* The device state; the caller allocates it and treats it as opaque. */
typedef struct vmx_htif {
  vmx_htif_io_t io;
  uint64_t tohost_addr;
  uint64_t fromhost_addr;
  uint64_t getc_cmd;  /* the waiting getchar command, when getc_waiting */
  bool getc_waiting;
  bool exited;
} vmx_htif_t;

/* Keeps the two word addresses and a copy of *io (required, with mem_read
 * and mem_write set). Calls no callback. */
void vmx_htif_init(vmx_htif_t *h, uint64_t tohost_addr, uint64_t fromhost_addr,
                   const vmx_htif_io_t *io);

/* Acts on value, which the guest just stored into tohost (0 is "no
 * command" and is ignored), then writes tohost back to 0 and answers in
 * fromhost as described above. */
void vmx_htif_tohost(vmx_htif_t *h, uint64_t value);

/* The guest just stored size bytes at paddr, overlapping tohost, and the
 * bytes are already in RAM. A command starts, as in QEMU, with the store
 * that writes the word's high half: a 64-bit store, or the second of two
 * 32-bit stores (riscv-tests writes the low word, then 0 to the high one).
 * Then tohost is read back through io.mem_read and handed to
 * vmx_htif_tohost; other stores do nothing. */
void vmx_htif_store(vmx_htif_t *h, uint64_t paddr, unsigned size);

/* Answers a waiting getchar with byte. Returns false, leaving the byte to
 * the caller, when no getchar is waiting. */
bool vmx_htif_input(vmx_htif_t *h, uint8_t byte);

#endif
