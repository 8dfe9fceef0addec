/*
 * bad.c - ways for a program to end, chosen by argv[1]; each test compares
 * the exit status (128+N for a death by signal N) and what was printed
 * before the end.
 *   sigill              illegal instruction, no handler     -> 132
 *   segv                store to NULL, no handler           -> 139
 *   abort               abort()                             -> 134
 *   stack-overflow      unbounded recursion                 -> 139
 *   signal N            raise(N) with the default action
 *   exit N              exit(N) (status N & 255)
 *   thread-exit N       exit(N) from a second thread while main waits
 *   unflushed N         buffered output without a newline, then exit(N)
 *   return N            return N from main
 */
#include "guest_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

static void *exit_from_thread(void *arg)
{
    printf("thread calls exit(%ld)\n", (long)arg);
    exit((int)(long)arg);
}

/* Intentionally unbounded: it ends in SIGSEGV when the stack runs out. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(volatile char *prev, int depth)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[1023] = prev ? prev[0] : 0;
    return recurse(frame, depth + 1) + frame[512];
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        puts("usage: bad MODE [N]");
        return 2;
    }
    const char *mode = argv[1];
    int n = argc > 2 ? atoi(argv[2]) : 0;
    /* Deaths by signal must not leave core files in the working directory. */
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    printf("mode %s\n", mode);
    gt_flush();

    if (strcmp(mode, "sigill") == 0) {
        __asm__ volatile(".2byte 0");
    } else if (strcmp(mode, "segv") == 0) {
        *(volatile int *)(uintptr_t)(argc - 2) = 1;
    } else if (strcmp(mode, "abort") == 0) {
        abort();
    } else if (strcmp(mode, "stack-overflow") == 0) {
        return recurse(NULL, 0);
    } else if (strcmp(mode, "signal") == 0) {
        raise(n);
    } else if (strcmp(mode, "exit") == 0) {
        exit(n);
    } else if (strcmp(mode, "thread-exit") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exit_from_thread, (void *)(long)n);
        for (;;)
            pause();
    } else if (strcmp(mode, "unflushed") == 0) {
        printf("no newline and no flush before exit");
        exit(n);
    } else if (strcmp(mode, "return") == 0) {
        return n;
    }
    puts("still alive");
    return 3;
}
