/* The sifive_test finisher (see syscon.h). */
#include "devices/syscon.h"

#include <string.h>

#define FINISHER_FAIL 0x3333u
#define FINISHER_PASS 0x5555u
#define FINISHER_RESET 0x7777u

void vmx_syscon_init(vmx_syscon_t *s, const vmx_syscon_io_t *io) {
  memset(s, 0, sizeof *s);
  if (io)
    s->io = *io;
}

uint64_t vmx_syscon_read(vmx_syscon_t *s, uint64_t off, unsigned size) {
  return 0;
}

void vmx_syscon_write(vmx_syscon_t *s, uint64_t off, unsigned size, uint64_t val) {
  if (off != 0 || (size != 2 && size != 4))
    return;
  uint32_t v = size == 2 ? (uint16_t)val : (uint32_t)val;
  int code = (int)(v >> 16);
  switch (v & 0xffff) {
  case FINISHER_PASS:
    code = 0;
    break;
  case FINISHER_FAIL:
    break;
  case FINISHER_RESET:
    if (s->io.event)
      s->io.event(s->io.arg, VMX_SYSCON_RESET, 0);
    return;
  default:
    return;
  }
  if (s->io.event)
    s->io.event(s->io.arg, VMX_SYSCON_POWEROFF, code);
}
