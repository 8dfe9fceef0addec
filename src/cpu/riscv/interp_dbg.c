/* The user-mode interpreter with breakpoints, watchpoints and exact
 * stepping, for a cpu a debugger is attached to (see interp.inc). */
#define VMX_RV_SYS 0
#define VMX_RV_DEBUG 1
#include "cpu/riscv/interp.inc"
