/*
 * threads.c - POSIX threads on clone/futex: atomic and LR/SC counters
 * contended by four threads, mutexes and condition variables, barriers,
 * thread-local storage, join values, pthread_exit, cancellation, signals
 * aimed at one thread, and raw futex calls.  Results are printed after the
 * threads are joined, in index order, so the output does not depend on
 * scheduling.
 */
#include "guest_test.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#define NTHREADS 4
#define ITERATIONS 20000

static uint64_t amo_counter;
static uint64_t lrsc_counter;
static uint32_t lrsc_word_counter;
static uint64_t locked_counter;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_line;

static __thread int tls_value = 5;
static __thread char tls_name[16] = "main";

static void lrsc_add(uint64_t *p, uint64_t n)
{
    uint64_t old, fail;
    __asm__ volatile("1: lr.d %0, (%2)\n add %0, %0, %3\n sc.d %1, %0, (%2)\n bnez %1, 1b"
                     : "=&r"(old), "=&r"(fail) : "r"(p), "r"(n) : "memory");
}

static void lrsc_add_w(uint32_t *p, uint32_t n)
{
    uint64_t old, fail;
    __asm__ volatile("1: lr.w.aq %0, (%2)\n addw %0, %0, %3\n sc.w.rl %1, %0, (%2)\n bnez %1, 1b"
                     : "=&r"(old), "=&r"(fail) : "r"(p), "r"((uint64_t)n) : "memory");
}

struct worker {
    int index;
    pid_t tid;
    int tls_seen;
    char name_seen[16];
};

static void *count_worker(void *arg)
{
    struct worker *w = arg;
    w->tid = syscall(SYS_gettid);
    tls_value = 100 * (w->index + 1);
    snprintf(tls_name, sizeof tls_name, "worker%d", w->index);
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < ITERATIONS; i++) {
        __atomic_fetch_add(&amo_counter, 1, __ATOMIC_RELAXED);
        lrsc_add(&lrsc_counter, 3);
        lrsc_add_w(&lrsc_word_counter, 0x10001);
        if (i % 16 == 0) {
            pthread_mutex_lock(&counter_lock);
            locked_counter += 2;
            pthread_mutex_unlock(&counter_lock);
        }
    }
    pthread_barrier_wait(&start_line);
    /* Every thread has written its own copy by now: none sees another's. */
    w->tls_seen = tls_value;
    memcpy(w->name_seen, tls_name, sizeof tls_name);
    return (void *)(long)(w->index * 10 + 1);
}

static void test_counters(void)
{
    puts("== contended counters");
    pthread_t threads[NTHREADS];
    struct worker workers[NTHREADS];
    pthread_barrier_init(&start_line, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        workers[i] = (struct worker){.index = i};
        GT_CALL("pthread_create", pthread_create(&threads[i], NULL, count_worker, &workers[i]));
    }
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        GT_CALL("pthread_join", pthread_join(threads[i], &ret));
        printf("thread %d returned %ld, tls %d, tls name %s\n", i, (long)ret, workers[i].tls_seen,
               workers[i].name_seen);
    }
    printf("amoadd counter: %" PRIu64 "\n", amo_counter);
    printf("lr/sc counter: %" PRIu64 "\n", lrsc_counter);
    printf("lr.w/sc.w counter: %#" PRIx32 "\n", lrsc_word_counter);
    printf("mutex counter: %" PRIu64 "\n", locked_counter);
    printf("main tls: %d %s\n", tls_value, tls_name);
    int distinct = 1;
    for (int i = 0; i < NTHREADS; i++) {
        if (workers[i].tid == getpid() || workers[i].tid <= 0)
            distinct = 0;
        for (int j = 0; j < i; j++)
            if (workers[i].tid == workers[j].tid)
                distinct = 0;
    }
    GT_FACT("thread ids distinct from each other and the pid", distinct);
    pthread_barrier_destroy(&start_line);
}

/* A bounded queue between one producer and three consumers. */
#define QUEUE_SIZE 8
#define ITEMS 3000
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    int items[QUEUE_SIZE];
    int head, count, done;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void *producer(void *arg)
{
    for (int i = 1; i <= ITEMS; i++) {
        pthread_mutex_lock(&queue.lock);
        while (queue.count == QUEUE_SIZE)
            pthread_cond_wait(&queue.not_full, &queue.lock);
        queue.items[(queue.head + queue.count++) % QUEUE_SIZE] = i;
        pthread_cond_signal(&queue.not_empty);
        pthread_mutex_unlock(&queue.lock);
    }
    pthread_mutex_lock(&queue.lock);
    queue.done = 1;
    pthread_cond_broadcast(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    long sum = 0;
    for (;;) {
        pthread_mutex_lock(&queue.lock);
        while (queue.count == 0 && !queue.done)
            pthread_cond_wait(&queue.not_empty, &queue.lock);
        if (queue.count == 0) {
            pthread_mutex_unlock(&queue.lock);
            break;
        }
        int item = queue.items[queue.head];
        queue.head = (queue.head + 1) % QUEUE_SIZE;
        queue.count--;
        pthread_cond_signal(&queue.not_full);
        pthread_mutex_unlock(&queue.lock);
        sum += item;
    }
    return (void *)sum;
}

static void test_condvar_queue(void)
{
    puts("== mutex + condition variable queue");
    pthread_t prod, cons[3];
    pthread_create(&prod, NULL, producer, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&cons[i], NULL, consumer, NULL);
    pthread_join(prod, NULL);
    long total = 0;
    for (int i = 0; i < 3; i++) {
        void *sum;
        pthread_join(cons[i], &sum);
        total += (long)sum;
    }
    printf("consumed sum: %ld (expected %ld)\n", total, (long)ITEMS * (ITEMS + 1) / 2);

    /* A timed wait that nobody signals times out. */
    pthread_mutex_lock(&queue.lock);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 20 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    int rc = pthread_cond_timedwait(&queue.not_empty, &queue.lock, &deadline);
    printf("pthread_cond_timedwait: %s\n", gt_errname(rc));
    pthread_mutex_unlock(&queue.lock);
    GT_CALL("pthread_mutex_trylock on a free mutex", pthread_mutex_trylock(&queue.lock));
    printf("pthread_mutex_trylock on a held mutex: %s\n", gt_errname(pthread_mutex_trylock(&queue.lock)));
    pthread_mutex_unlock(&queue.lock);

    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t checked;
    pthread_mutex_init(&checked, &attr);
    pthread_mutex_lock(&checked);
    printf("relock of an error-checking mutex: %s\n", gt_errname(pthread_mutex_lock(&checked)));
    pthread_mutex_unlock(&checked);
    printf("unlock of an unlocked error-checking mutex: %s\n",
           gt_errname(pthread_mutex_unlock(&checked)));
}

static __attribute__((noinline)) void exit_two_frames_down(void)
{
    pthread_exit((void *)77);
}

static __attribute__((noinline)) void exit_one_frame_down(void)
{
    exit_two_frames_down();
}

static void *exits_early(void *arg)
{
    exit_one_frame_down();
    return (void *)1;
}

static void *uses_stack(void *arg)
{
    size_t len = (size_t)arg;
    volatile char *buf = __builtin_alloca(len);
    for (size_t i = 0; i < len; i += 1024)
        buf[i] = (char)(i >> 10);
    return (void *)(long)buf[1024];
}

static void *sleeper(void *arg)
{
    for (;;)
        pause();
    return NULL;
}

static sem_t detached_done;

static void *detached(void *arg)
{
    sem_post(&detached_done);
    return NULL;
}

static void test_lifecycle(void)
{
    puts("== thread lifecycle");
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, exits_early, NULL);
    pthread_join(t, &ret);
    printf("pthread_exit value: %ld\n", (long)ret);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    GT_CALL("create with a 64 KiB stack", pthread_create(&t, &attr, uses_stack, (void *)(16 * 1024L)));
    pthread_join(t, &ret);
    printf("small stack result: %ld\n", (long)ret);
    pthread_attr_setstacksize(&attr, 16 * 1024 * 1024);
    GT_CALL("create with a 16 MiB stack", pthread_create(&t, &attr, uses_stack, (void *)(12 * 1024 * 1024L)));
    pthread_join(t, &ret);
    printf("large stack result: %ld\n", (long)ret);
    pthread_attr_destroy(&attr);

    /* Many short-lived threads, one after another. */
    long sum = 0;
    for (long i = 0; i < 64; i++) {
        pthread_create(&t, NULL, uses_stack, (void *)2048L);
        pthread_join(t, &ret);
        sum += (long)ret + 1;
    }
    printf("64 sequential threads: %ld\n", sum);

    sem_init(&detached_done, 0, 0);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, detached, NULL);
    sem_wait(&detached_done);
    puts("detached thread ran");
    pthread_attr_destroy(&attr);

    /* Cancelling a thread blocked in pause(). */
    pthread_create(&t, NULL, sleeper, NULL);
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
    GT_CALL("pthread_cancel", pthread_cancel(t));
    pthread_join(t, &ret);
    printf("cancelled thread returned PTHREAD_CANCELED: %s\n", ret == PTHREAD_CANCELED ? "yes" : "NO");
    printf("join of the calling thread: %s\n", gt_errname(pthread_join(pthread_self(), NULL)));
}

static volatile pid_t signalled_tid;

static void on_usr1(int sig)
{
    signalled_tid = syscall(SYS_gettid);
}

static void *wait_for_signal(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    *(pid_t *)arg = syscall(SYS_gettid);
    while (!signalled_tid)
        sched_yield();
    return NULL;
}

/* pthread_kill reaches the named thread, and sigmasks are per thread. */
static void test_thread_signals(void)
{
    puts("== signals to threads");
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    volatile pid_t target_tid = 0;
    pthread_t t;
    pthread_create(&t, NULL, wait_for_signal, (void *)&target_tid);
    while (!target_tid)
        sched_yield();
    GT_CALL("pthread_kill", pthread_kill(t, SIGUSR1));
    pthread_join(t, NULL);
    GT_FACT("handler ran on the target thread", signalled_tid == target_tid);
    sigset_t pending;
    sigpending(&pending);
    GT_FACT("nothing pending in main", !sigismember(&pending, SIGUSR1));
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void test_raw_futex(void)
{
    puts("== raw futex");
    static uint32_t word = 1;
    struct timespec timeout = {0, 10 * 1000 * 1000};
    GT_SYS(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0));
    GT_SYS(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, &timeout, NULL, 0));
    GT_SYS(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
    GT_SYS(syscall(SYS_futex, &word, FUTEX_WAKE, 1, NULL, NULL, 0));
    GT_SYS(syscall(SYS_futex, (void *)8, FUTEX_WAIT, 0, NULL, NULL, 0));
    GT_SYS(syscall(SYS_futex, &word, 0x7f, 0, NULL, NULL, 0));
}

int main(void)
{
    test_counters();
    test_condvar_queue();
    test_lifecycle();
    test_thread_signals();
    test_raw_futex();
    return 0;
}
