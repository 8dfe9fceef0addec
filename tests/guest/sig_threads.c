/*
 * sig_threads.c - guest threads signalling each other: the signal path that
 * vmx carries as VCPU_SIGNAL messages between vCPU actors.
 *
 *  1. tgkill ping-pong between two threads with handlers and sigsuspend;
 *  2. rt_tgsigqueueinfo ping-pong with sigwaitinfo (si_code, si_pid, value);
 *  3. a thread blocked in read() on a pipe or in nanosleep() interrupted by
 *     a handler without SA_RESTART (EINTR), and read() restarted under
 *     SA_RESTART;
 *  4. raise() and an unblocked tgkill to oneself run the handler before
 *     the call returns;
 *  5. kill() of the own process while all but one thread block the signal:
 *     that thread takes it, every time.
 * Every round trip is counted; the counts are printed at the end.
 */
#include "guest_test.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#define ROUNDS 300

static pid_t tid_of_main, tid_of_peer;
static _Atomic int main_hits, peer_hits;

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

static void tgkill_to(pid_t tid, int sig)
{
    if (syscall(SYS_tgkill, getpid(), tid, sig) != 0) {
        printf("tgkill failed: %s\n", gt_errname(errno));
        exit(1);
    }
}

static void on_usr1(int sig)
{
    (void)sig;
    if (my_tid() == tid_of_main)
        atomic_fetch_add(&main_hits, 1);
    else
        atomic_fetch_add(&peer_hits, 1);
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* Waits in sigsuspend (SIGUSR1 open) until *hits reaches want. */
static void suspend_until(_Atomic int *hits, int want)
{
    sigset_t open_set;
    sigprocmask(SIG_BLOCK, NULL, &open_set);
    sigdelset(&open_set, SIGUSR1);
    while (atomic_load(hits) < want) {
        int r = sigsuspend(&open_set);
        if (r != -1 || errno != EINTR) {
            printf("sigsuspend: %d %s\n", r, gt_errname(errno));
            exit(1);
        }
    }
}

/* ---- 1. tgkill ping-pong with handlers -------------------------------- */

static void *pingpong_peer(void *arg)
{
    (void)arg;
    tid_of_peer = my_tid();
    for (int i = 1; i <= ROUNDS; i++) {
        if (i == 1)
            tgkill_to(tid_of_main, SIGUSR1); /* "ready" */
        suspend_until(&peer_hits, i);
        tgkill_to(tid_of_main, SIGUSR1);
    }
    return NULL;
}

static void test_pingpong(void)
{
    pthread_t th;
    set_handler(SIGUSR1, on_usr1, 0);
    pthread_create(&th, NULL, pingpong_peer, NULL);
    suspend_until(&main_hits, 1);
    for (int i = 1; i <= ROUNDS; i++) {
        tgkill_to(tid_of_peer, SIGUSR1);
        suspend_until(&main_hits, i + 1);
    }
    pthread_join(th, NULL);
    printf("pingpong: main handled %d, peer handled %d\n", atomic_load(&main_hits),
           atomic_load(&peer_hits));
}

/* ---- 2. sigqueue ping-pong with sigwaitinfo --------------------------- */

static int queue_to(pid_t tid, int sig, int value)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = value;
    return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si);
}

static int wait_usr2(int *value, int *code, int *from_us)
{
    sigset_t set;
    siginfo_t si;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    int sig = sigwaitinfo(&set, &si);
    *value = si.si_value.sival_int;
    *code = si.si_code;
    *from_us = si.si_pid == getpid();
    return sig;
}

static int sigwait_errors;

static void *sigwait_peer(void *arg)
{
    (void)arg;
    tid_of_peer = my_tid();
    queue_to(tid_of_main, SIGUSR2, 0);
    for (int i = 1; i <= ROUNDS; i++) {
        int value, code, from_us;
        int sig = wait_usr2(&value, &code, &from_us);
        if (sig != SIGUSR2 || value != i || code != SI_QUEUE || !from_us)
            sigwait_errors++;
        queue_to(tid_of_main, SIGUSR2, -i);
    }
    return NULL;
}

static void test_sigwait(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pthread_t th;
    pthread_create(&th, NULL, sigwait_peer, NULL);
    int value, code, from_us, replies = 0;
    wait_usr2(&value, &code, &from_us);
    for (int i = 1; i <= ROUNDS; i++) {
        queue_to(tid_of_peer, SIGUSR2, i);
        int sig = wait_usr2(&value, &code, &from_us);
        if (sig == SIGUSR2 && value == -i && code == SI_QUEUE && from_us)
            replies++;
    }
    pthread_join(th, NULL);
    /* tgkill to a blocked signal: pending, seen by sigpending, taken by sigwait. */
    tgkill_to(my_tid(), SIGUSR2);
    sigset_t pend;
    sigpending(&pend);
    printf("sigwait: %d replies, %d bad requests; pending after tgkill: %d\n", replies,
           sigwait_errors, sigismember(&pend, SIGUSR2));
    int sig = wait_usr2(&value, &code, &from_us);
    printf("sigwait: took %d, si_code %d\n", sig, code);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- 3. EINTR and SA_RESTART on waiting calls ------------------------- */

static int pipe_fd[2];
static _Atomic int stage;   /* the peer is about to wait (1) */

static void *reader(void *arg)
{
    (void)arg;
    tid_of_peer = my_tid();
    char c;
    atomic_store(&stage, 1);
    errno = 0;
    ssize_t n = read(pipe_fd[0], &c, 1);
    printf("read: %zd %s\n", n, gt_errname(n < 0 ? errno : 0));
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    tid_of_peer = my_tid();
    struct timespec ts = {20, 0};
    atomic_store(&stage, 1);
    errno = 0;
    int r = nanosleep(&ts, NULL);
    printf("nanosleep: %d %s\n", r, gt_errname(r ? errno : 0));
    return NULL;
}

static void short_sleep(void)
{
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Starts fn, waits until it is about to wait, signals it, and (feed)
 * writes a byte so a restarted read returns. */
static void interrupt_one(void *(*fn)(void *), bool feed)
{
    pthread_t th;
    atomic_store(&stage, 0);
    pthread_create(&th, NULL, fn, NULL);
    while (!atomic_load(&stage))
        sched_yield();
    short_sleep();
    int before = atomic_load(&peer_hits);
    tgkill_to(tid_of_peer, SIGUSR1);
    if (feed) {
        short_sleep();
        if (write(pipe_fd[1], "x", 1) != 1)
            printf("write failed\n");
    }
    pthread_join(th, NULL);
    printf("handler ran %d time(s)\n", atomic_load(&peer_hits) - before);
}

static void test_eintr(void)
{
    if (pipe(pipe_fd))
        printf("pipe failed\n");
    set_handler(SIGUSR1, on_usr1, 0);
    printf("read, handler without SA_RESTART:\n");
    interrupt_one(reader, false);
    printf("nanosleep, handler with SA_RESTART:\n");
    set_handler(SIGUSR1, on_usr1, SA_RESTART);
    interrupt_one(sleeper, false);
    printf("read, handler with SA_RESTART:\n");
    interrupt_one(reader, true);
}

/* ---- 3b. a signal to oneself runs its handler before the call returns -- */

static void test_self(void)
{
    set_handler(SIGUSR1, on_usr1, 0);
    int before = atomic_load(&main_hits);
    raise(SIGUSR1);
    printf("raise: handler ran %d time(s) before it returned\n", atomic_load(&main_hits) - before);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    before = atomic_load(&main_hits);
    tgkill_to(my_tid(), SIGUSR1);
    int held = atomic_load(&main_hits) - before;
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("blocked tgkill: %d before unblocking, %d once sigprocmask returned\n", held,
           atomic_load(&main_hits) - before);
}

/* ---- 4. process-directed kill, one thread open ------------------------ */

#define KILLS 100
static sem_t handled, workers_ready;
static _Atomic int stop_workers;
static pid_t open_tid;
static _Atomic int by_open, by_other;

static void on_usr2(int sig)
{
    (void)sig;
    if (my_tid() == open_tid)
        atomic_fetch_add(&by_open, 1);
    else
        atomic_fetch_add(&by_other, 1);
    sem_post(&handled);
}

static void *worker(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    if (arg) {
        open_tid = my_tid();
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    sem_post(&workers_ready);
    while (!atomic_load(&stop_workers)) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_process_kill(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    set_handler(SIGUSR2, on_usr2, SA_RESTART);
    sem_init(&handled, 0, 0);
    sem_init(&workers_ready, 0, 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, worker, i == 1 ? (void *)1 : NULL);
    for (int i = 0; i < 3; i++)
        sem_wait(&workers_ready);
    for (int i = 0; i < KILLS; i++) {
        kill(getpid(), SIGUSR2);
        while (sem_wait(&handled) != 0)
            ;
    }
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    printf("kill: %d taken by the open thread, %d by others\n", atomic_load(&by_open),
           atomic_load(&by_other));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    tid_of_main = my_tid();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    test_pingpong();
    test_sigwait();
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    test_eintr();
    test_self();
    test_process_kill();
    return 0;
}
