/* The system-mode interpreter with breakpoints, watchpoints and exact
 * stepping, for a hart a debugger is attached to (see interp.inc). */
#define VMX_RV_SYS 1
#define VMX_RV_DEBUG 1
#include "cpu/riscv/interp.inc"
