/*
 * sig_host.c - a guest waiting for signals sent from outside its process
 * (tests/guest/sig_host.sh sends them with kill): SIGUSR1 ends a pause(),
 * SIGTERM a read() on an empty pipe (EINTR: no SA_RESTART). Each handler
 * says what it got; the program prints "ready N" before each wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got_sig, got_code, from_outside;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    from_outside = si->si_pid != getpid();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("ready 1\n");
    while (!got_sig)
        pause();
    printf("pause ended by signal %d, si_code %d, from outside: %d\n", got_sig, got_code,
           from_outside);

    int fd[2];
    if (pipe(fd))
        return 1;
    got_sig = 0;
    printf("ready 2\n");
    char c;
    ssize_t n = read(fd[0], &c, 1);
    printf("read = %zd (%s), signal %d, si_code %d, from outside: %d\n", n,
           n < 0 ? strerrorname_np(errno) : "0", got_sig, got_code, from_outside);
    return 0;
}
