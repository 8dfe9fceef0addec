/* spin.c: a user-mode program that never ends, for tests/gdb/badinput.py:
 * it gives Ctrl-C (0x03) a running guest to interrupt. */
int main(void)
{
  volatile unsigned long i = 0;
  for (;;)
    i++;
}
