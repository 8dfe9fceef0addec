/*
 * sys_misc.c - the other system calls a program meets: clocks and sleeps
 * (only that time moves forward by at least the slept amount), getrandom
 * (only lengths), uname, process identity (only relations between ids),
 * poll/select/epoll on pipes, eventfd, socketpair, ioctl on a non-terminal,
 * resource limits, prctl, /proc/self/exe, and ENOSYS for an unknown number.
 */
#include "guest_test.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

static int64_t ns_of(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_clocks(void)
{
    puts("== clocks");
    struct timespec a, b, res;
    static const struct {
        clockid_t id;
        const char *name;
    } clocks[] = {
        {CLOCK_REALTIME, "REALTIME"}, {CLOCK_MONOTONIC, "MONOTONIC"},
        {CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME"}, {CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME"},
        {CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"}, {CLOCK_REALTIME_COARSE, "REALTIME_COARSE"},
        {CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"}, {CLOCK_BOOTTIME, "BOOTTIME"},
    };
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        int ok1 = clock_gettime(clocks[i].id, &a) == 0;
        int ok2 = clock_gettime(clocks[i].id, &b) == 0;
        int okr = clock_getres(clocks[i].id, &res) == 0;
        printf("%s: readable %d, not decreasing %d, resolution readable %d, nsec in range %d\n",
               clocks[i].name, ok1 && ok2, ns_of(b) >= ns_of(a), okr,
               a.tv_nsec >= 0 && a.tv_nsec < 1000000000);
    }
    GT_SYS(clock_gettime((clockid_t)12345, &a));
    GT_SYS(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, NULL));

    clock_gettime(CLOCK_REALTIME, &a);
    GT_FACT("realtime after 2020", a.tv_sec > 1577836800);
    struct timeval tv;
    GT_SYS(gettimeofday(&tv, NULL));
    GT_FACT("gettimeofday agrees with realtime within 10 s", labs(tv.tv_sec - a.tv_sec) < 10);
    time_t t = time(NULL);
    GT_FACT("time() agrees with realtime within 10 s", labs(t - a.tv_sec) < 10);

    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec nap = {0, 20 * 1000 * 1000}, rem = {7, 7};
    GT_SYS(nanosleep(&nap, &rem));
    clock_gettime(CLOCK_MONOTONIC, &b);
    GT_FACT("nanosleep(20 ms) slept at least 20 ms", ns_of(b) - ns_of(a) >= 20 * 1000 * 1000);
    struct timespec bad = {0, 1000000000};
    GT_SYS(nanosleep(&bad, NULL));
    struct timespec neg = {-1, 0};
    GT_SYS(nanosleep(&neg, NULL));
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec until = {a.tv_sec, a.tv_nsec + 10 * 1000 * 1000};
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    GT_SYS(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL));
    clock_gettime(CLOCK_MONOTONIC, &b);
    GT_FACT("clock_nanosleep(TIMER_ABSTIME) reached its deadline", ns_of(b) >= ns_of(until));
    struct timespec zero = {0, 0};
    GT_SYS(nanosleep(&zero, NULL));
    GT_SYS(sched_yield());

    struct tms tm;
    GT_FACT("times() readable", times(&tm) != (clock_t)-1);
    struct rusage ru;
    GT_SYS(getrusage(RUSAGE_SELF, &ru));
    GT_SYS(getrusage(12345, &ru));
}

static void test_random(void)
{
    puts("== getrandom");
    unsigned char buf[300];
    GT_SYS(getrandom(buf, 16, 0));
    GT_SYS(getrandom(buf, 256, GRND_NONBLOCK));
    GT_SYS(getrandom(buf, 0, 0));
    GT_SYS(getrandom(buf, 16, 0x100));
    unsigned char a[32] = {0}, b[32] = {0};
    getrandom(a, sizeof a, 0);
    getrandom(b, sizeof b, 0);
    GT_FACT("two draws differ", memcmp(a, b, sizeof a) != 0);
    int fd = open("/dev/urandom", O_RDONLY);
    GT_SYS(read(fd, buf, 64));
    close(fd);
}

static void test_identity(void)
{
    puts("== uname and ids");
    struct utsname u;
    GT_SYS(uname(&u));
    printf("sysname=%s machine=%s\n", u.sysname, u.machine);
    GT_FACT("release looks like a version", u.release[0] >= '2' && u.release[0] <= '9');
    pid_t pid = getpid(), ppid = getppid();
    GT_FACT("pid positive", pid > 0);
    GT_FACT("ppid positive and different", ppid > 0 && ppid != pid);
    GT_FACT("gettid == getpid in the main thread", syscall(SYS_gettid) == pid);
    GT_FACT("getpgrp and getsid readable", getpgrp() > 0 && getsid(0) > 0);
    GT_FACT("uid == euid", getuid() == geteuid());
    GT_FACT("gid == egid", getgid() == getegid());
    uid_t r, e, s;
    GT_SYS(getresuid(&r, &e, &s));
    GT_FACT("getresuid agrees", r == getuid() && e == geteuid());
    GT_SYS(getgroups(0, NULL) >= 0);
    GT_SYS(setuid(getuid()));
    GT_SYS(kill(pid, 0));
    GT_SYS(kill(INT_MAX, 0));

    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        const char *base = strrchr(buf, '/');
        printf("/proc/self/exe basename: %s\n", base ? base + 1 : buf);
    } else {
        printf("/proc/self/exe: %s\n", gt_errname(errno));
    }
    GT_SYS(umask(027));
    GT_SYS(umask(022));
    char name[32] = {0};
    GT_SYS(prctl(PR_SET_NAME, "renamed-task"));
    GT_SYS(prctl(PR_GET_NAME, name));
    printf("task name: %s\n", name);
    GT_SYS(prctl(PR_GET_DUMPABLE) >= 0);
    GT_SYS(prctl(9999));
}

static void test_limits(void)
{
    puts("== resource limits");
    struct rlimit rl, old;
    GT_SYS(getrlimit(RLIMIT_NOFILE, &old));
    rl.rlim_cur = 64;
    rl.rlim_max = old.rlim_max;
    GT_SYS(setrlimit(RLIMIT_NOFILE, &rl));
    GT_SYS(getrlimit(RLIMIT_NOFILE, &rl));
    printf("RLIMIT_NOFILE cur=%lu\n", (unsigned long)rl.rlim_cur);
    /* Descriptors at or above the soft limit cannot be created. */
    GT_SYS(dup2(0, 64));
    GT_SYS(dup2(0, 63) == 63);
    close(63);
    GT_SYS(setrlimit(RLIMIT_NOFILE, &old));
    struct rlimit got;
    GT_SYS(prlimit(0, RLIMIT_CORE, NULL, &got));
    GT_SYS(getrlimit(RLIMIT_STACK, &got));
    GT_SYS(getrlimit(9999, &got));
    GT_SYS(getpriority(PRIO_PROCESS, 0));
}

static void test_polling(void)
{
    puts("== poll/select/epoll");
    int p[2];
    pipe(p);
    struct pollfd fds[2] = {{.fd = p[0], .events = POLLIN}, {.fd = p[1], .events = POLLOUT}};
    GT_SYS(poll(fds, 2, 0));
    printf("  revents: read end %#x, write end %#x\n", fds[0].revents, fds[1].revents);
    write(p[1], "ab", 2);
    GT_SYS(poll(fds, 2, 1000));
    printf("  revents: read end %#x, write end %#x\n", fds[0].revents, fds[1].revents);
    struct pollfd bad = {.fd = 999, .events = POLLIN};
    GT_SYS(poll(&bad, 1, 0));
    printf("  revents of a closed fd: %#x\n", bad.revents);
    struct pollfd neg = {.fd = -1, .events = POLLIN, .revents = 7};
    GT_SYS(poll(&neg, 1, 0));
    printf("  revents of fd -1: %#x\n", neg.revents);
    struct timespec ts = {0, 10 * 1000 * 1000};
    struct pollfd only_read = {.fd = p[0], .events = POLLIN};
    char drain[8];
    read(p[0], drain, sizeof drain);
    GT_SYS(ppoll(&only_read, 1, &ts, NULL));

    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p[0], &rd);
    FD_SET(p[1], &wr);
    struct timeval tv = {0, 0};
    GT_SYS(select(p[1] + 1, &rd, &wr, NULL, &tv));
    printf("  select: read end %d, write end %d\n", FD_ISSET(p[0], &rd), FD_ISSET(p[1], &wr));
    write(p[1], "c", 1);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    tv.tv_sec = 1;
    GT_SYS(select(p[0] + 1, &rd, NULL, NULL, &tv));
    printf("  select: read end %d\n", FD_ISSET(p[0], &rd));
    struct timespec pts = {0, 5 * 1000 * 1000};
    read(p[0], drain, sizeof drain);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    GT_SYS(pselect(p[0] + 1, &rd, NULL, NULL, &pts, NULL));
    tv.tv_sec = -1;
    GT_SYS(select(1, NULL, NULL, NULL, &tv));

    int ep = GT_FD(epoll_create1(EPOLL_CLOEXEC));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788};
    GT_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    GT_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    struct epoll_event out[4];
    GT_SYS(epoll_wait(ep, out, 4, 0));
    write(p[1], "d", 1);
    int n = GT_SYS(epoll_wait(ep, out, 4, 1000));
    for (int i = 0; i < n; i++)
        printf("  event %#x data %#llx\n", out[i].events, (unsigned long long)out[i].data.u64);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 42;
    GT_SYS(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    n = GT_SYS(epoll_wait(ep, out, 4, 0));
    GT_SYS(epoll_wait(ep, out, 4, 0));
    GT_SYS(epoll_pwait(ep, out, 4, 0, NULL));
    GT_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    GT_SYS(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    GT_SYS(epoll_wait(ep, out, 0, 0));
    close(ep);

    /* Closing the write end: the read end reports POLLHUP. */
    close(p[1]);
    read(p[0], drain, sizeof drain);
    struct pollfd hup = {.fd = p[0], .events = POLLIN};
    GT_SYS(poll(&hup, 1, 0));
    printf("  revents after close: %#x\n", hup.revents);
    close(p[0]);
}

static void test_eventfd_and_sockets(void)
{
    puts("== eventfd/socketpair");
    int efd = GT_FD(eventfd(3, EFD_NONBLOCK));
    uint64_t v = 4;
    GT_SYS(write(efd, &v, sizeof v));
    v = 0;
    GT_SYS(read(efd, &v, sizeof v));
    printf("  counter: %llu\n", (unsigned long long)v);
    GT_SYS(read(efd, &v, sizeof v));
    GT_SYS(write(efd, &v, 4));
    close(efd);

    int sv[2];
    GT_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    GT_SYS(send(sv[0], "ping", 4, 0));
    char buf[16] = {0};
    GT_SYS(recv(sv[1], buf, sizeof buf, 0));
    printf("  received: %s\n", buf);
    struct iovec iov = {"pong!", 5};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    GT_SYS(sendmsg(sv[1], &msg, 0));
    memset(buf, 0, sizeof buf);
    struct iovec riov = {buf, sizeof buf};
    struct msghdr rmsg = {.msg_iov = &riov, .msg_iovlen = 1};
    GT_SYS(recvmsg(sv[0], &rmsg, 0));
    printf("  received: %s\n", buf);
    GT_SYS(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    GT_SYS(shutdown(sv[1], SHUT_WR));
    GT_SYS(recv(sv[0], buf, sizeof buf, 0));
    int type = 0;
    socklen_t len = sizeof type;
    GT_SYS(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &len));
    printf("  SO_TYPE %s, optlen %u\n", type == SOCK_STREAM ? "SOCK_STREAM" : "?", len);
    close(sv[0]);
    close(sv[1]);
    GT_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    GT_SYS(write(sv[0], "one", 3));
    GT_SYS(write(sv[0], "two!", 4));
    GT_SYS(read(sv[1], buf, 2));
    GT_SYS(read(sv[1], buf, sizeof buf));
    close(sv[0]);
    close(sv[1]);
    GT_SYS(socketpair(AF_INET, SOCK_STREAM, 0, sv));
}

static void test_ioctl_and_errors(void)
{
    puts("== ioctl and error numbers");
    int p[2];
    pipe(p);
    struct winsize ws;
    GT_SYS(ioctl(p[0], TIOCGWINSZ, &ws));
    int fd = open("/dev/null", O_RDONLY);
    GT_SYS(ioctl(fd, TIOCGWINSZ, &ws));
    GT_SYS(isatty(fd));
    GT_SYS(ioctl(999, TIOCGWINSZ, &ws));
    write(p[1], "12345", 5);
    int avail = -1;
    GT_SYS(ioctl(p[0], FIONREAD, &avail));
    printf("  FIONREAD: %d\n", avail);
    /* Not tested: an unknown ioctl request (QEMU 7.2 says ENOSYS, Linux ENOTTY). */
    close(fd);
    close(p[0]);
    close(p[1]);

    GT_SYS(syscall(1000));
    GT_SYS(syscall(5000, 1, 2, 3));
    GT_SYS(syscall(-1));
    GT_SYS(syscall(SYS_close, -5));
    GT_SYS(syscall(SYS_read, 0, NULL, 0));
    GT_SYS(syscall(SYS_write, 1, (void *)16, 10));
    GT_SYS(syscall(SYS_openat, AT_FDCWD, (void *)16, O_RDONLY));
    GT_SYS(read(STDIN_FILENO, (char[4]){0}, 4));
}

int main(void)
{
    umask(022);
    test_clocks();
    test_random();
    test_identity();
    test_limits();
    test_polling();
    test_eventfd_and_sockets();
    test_ioctl_and_errors();
    return 0;
}
