/* threads.c: the multithreaded program of run.sh's threads scenario.
 *
 * NWORKERS workers each call worker_step() (where gdb puts its breakpoint)
 * a few times. No thread ever waits in a system call while a breakpoint
 * can hit: the workers and main spin on C11 atomics, and main joins only
 * after every worker is done (vmx cannot halt a thread blocked in a system
 * call, so gdb could not read its registers at a stop). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define NWORKERS 3
#define STEPS 5

static atomic_int ready;
static atomic_int go;
static atomic_int done;
static long results[NWORKERS];

__attribute__((noinline)) long worker_step(int id, long i)
{
  return id * 100 + i;
}

static void *worker_main(void *arg)
{
  int id = (int)(long)arg;
  long sum = 0;

  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&go)) {
  }
  for (long i = 0; i < STEPS; i++)
    sum += worker_step(id, i);
  results[id] = sum;
  atomic_fetch_add(&done, 1);
  /* Stay out of exit's system calls until every worker is done. */
  while (atomic_load(&done) < NWORKERS) {
  }
  return NULL;
}

int main(void)
{
  pthread_t t[NWORKERS];

  for (long id = 0; id < NWORKERS; id++)
    if (pthread_create(&t[id], NULL, worker_main, (void *)id) != 0) {
      perror("pthread_create");
      return 1;
    }
  while (atomic_load(&ready) < NWORKERS) {
  }
  atomic_store(&go, 1);
  while (atomic_load(&done) < NWORKERS) {
  }
  for (int id = 0; id < NWORKERS; id++)
    pthread_join(t[id], NULL);
  for (int id = 0; id < NWORKERS; id++)
    printf("worker %d sum=%ld\n", id, results[id]);
  return 0;
}
