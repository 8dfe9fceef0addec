/* A fault under gdb: gdb must report SIGSEGV at the faulting line before
 * the guest sees it, and passing the signal on (gdb's default for SIGSEGV)
 * must run the guest's handler. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void on_segv(int sig)
{
  static const char msg[] = "caught SIGSEGV\n";
  (void)sig;
  (void)!write(1, msg, sizeof msg - 1);
  _exit(0);
}

int main(void)
{
  signal(SIGSEGV, on_segv);
  volatile int *p = (volatile int *)8;
  *p = 1; /* L_FAULT */
  puts("not reached");
  return 1;
}
