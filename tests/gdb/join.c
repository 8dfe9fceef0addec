/* A thread stops at a breakpoint while the main thread waits in the kernel
 * (pthread_join's futex wait): gdb must still see and read the main thread,
 * and the join must go on as if nothing happened once gdb continues. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

volatile int hits;

int worker_step(int i)
{
  hits++;
  return i * 2; /* L_WORKER_STEP */
}

static void *worker(void *arg)
{
  usleep(200000); /* the main thread is in pthread_join by now */
  return (void *)(long)worker_step((int)(long)arg);
}

int main(void)
{
  pthread_t t;
  void *ret;
  pthread_create(&t, NULL, worker, (void *)21);
  pthread_join(t, &ret); /* L_MAIN_JOIN */
  printf("joined ret=%ld hits=%d\n", (long)ret, hits);
  return 0;
}
