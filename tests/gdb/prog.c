/* prog.c: the user-mode program that tests/gdb/run.sh debugs with
 * gdb-multiarch through `vmx run-user -g PORT`.
 *
 * Built -O0 -g so that every source line is a statement gdb can stop on.
 * The marker comments (L_NAME) let run.sh find the line numbers with grep;
 * it checks the values below (work(4) = 1+4+9+16 = 30, scale(1.5) = 3.75,
 * counter ends at 3) in gdb's transcript and in the program's output. */
#include <stdio.h>

int counter;
double ratio;

int square(int x)
{
  return x * x; /* L_SQUARE */
}

int work(int n)
{
  int sum = 0; /* L_WORK_SUM */
  for (int i = 1; i <= n; i++) /* L_WORK_FOR */
    sum += square(i); /* L_WORK_CALL */
  return sum;
}

double scale(double v)
{
  return v * 2.5;
}

void count(int n)
{
  for (int i = 0; i < n; i++)
    counter++; /* L_COUNT_INC */
}

int main(void)
{
  int limit = 4;
  int total = work(limit); /* L_MAIN_WORK */
  printf("total=%d\n", total);
  ratio = scale(1.5);
  printf("ratio=%.2f\n", ratio);
  count(3);
  printf("counter=%d\n", counter);
  /* 0 unless gdb changed limit (run.sh's setvar scenario makes it 5). */
  return total == 30 ? 0 : 7;
}
