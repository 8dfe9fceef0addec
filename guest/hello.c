/* The demo guest: a riscv64 program that vmx runs in user mode by default. */
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(int argc, char **argv) {
  struct utsname u;
  uname(&u);
  printf("Hello from a riscv64 guest on vmx!\n");
  printf("machine: %s, pid %d, argv[0]=%s\n", u.machine, (int)getpid(), argv[0]);
  unsigned long long a = 0, b = 1;
  for (int i = 0; i < 90; i++) {
    unsigned long long t = a + b;
    a = b;
    b = t;
  }
  printf("fib(90) = %llu, sqrt-ish: %.6f\n", a, 2.0 / 1.41421356);
  return 0;
}
