/*
 * fork_exec.c - processes.  Without arguments: fork and the wait family
 * (exit codes, deaths by signal, WNOHANG, ECHILD, waitid), copy-on-write
 * memory, shared descriptors and offsets, pipes between parent and child,
 * getppid.  With the path of exec_child as argument: vfork + execve with
 * chosen argv and envp, descriptors kept or closed by FD_CLOEXEC,
 * posix_spawn, and execve failures (ENOENT, EACCES, ENOEXEC).
 */
#include "guest_test.h"

#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void describe_status(const char *what, int status)
{
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(status)));
    else
        printf("%s: status %#x\n", what, status);
}

/* Forks a child that runs BODY(ARG) and returns its wait status. */
static int run_child(void (*body)(int), int arg)
{
    gt_flush();
    pid_t pid = fork();
    if (pid < 0) {
        printf("fork failed: %s\n", gt_errname(errno));
        exit(1);
    }
    if (pid == 0) {
        body(arg);
        _exit(99);
    }
    int status = 0;
    struct rusage ru;
    pid_t got = wait4(pid, &status, 0, &ru);
    if (got != pid)
        printf("wait4 returned another pid: %s\n", gt_errname(errno));
    return status;
}

static void exit_with(int code)
{
    exit(code);
}

static void die_by(int sig)
{
    if (sig == SIGSEGV)
        *(volatile int *)(uintptr_t)(sig - SIGSEGV) = 1;
    if (sig == SIGABRT)
        abort();
    raise(sig);
}

static void test_exit_statuses(void)
{
    puts("== exit statuses");
    static const int codes[] = {0, 1, 42, 255, 256 + 3};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "exit(%d)", codes[i]);
        describe_status(what, run_child(exit_with, codes[i]));
    }
    static const int sigs[] = {SIGKILL, SIGTERM, SIGSEGV, SIGABRT, SIGUSR1, SIGINT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "death by %s", sigabbrev_np(sigs[i]));
        describe_status(what, run_child(die_by, sigs[i]));
    }
}

static int cow_value = 1;

static void test_fork_semantics(void)
{
    puts("== fork semantics");
    pid_t parent = getpid();
    int p[2];
    pipe(p);
    gt_flush();
    pid_t pid = fork();
    if (pid == 0) {
        cow_value = 2;
        char msg[64];
        int n = snprintf(msg, sizeof msg, "ppid matches %d, own pid differs %d, cow %d",
                         getppid() == parent, getpid() != parent, cow_value);
        write(p[1], msg, n);
        _exit(0);
    }
    close(p[1]);
    char buf[128] = {0};
    read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    printf("child says: %s\n", buf);
    printf("parent cow value still %d\n", cow_value);

    /* The child inherits the descriptor and shares its offset. */
    int fd = open("shared.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "parent,", 7);
    gt_flush();
    pid = fork();
    if (pid == 0) {
        write(fd, "child,", 6);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    write(fd, "parent again", 12);
    printf("offset after both wrote: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    pread(fd, buf, 25, 0);
    printf("file: %.25s\n", buf);
    close(fd);

    /* Two pipes: the child upper-cases what the parent sends. */
    int down[2], up[2];
    pipe(down);
    pipe(up);
    gt_flush();
    pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        char c;
        while (read(down[0], &c, 1) == 1) {
            c = (char)toupper((unsigned char)c);
            write(up[1], &c, 1);
        }
        _exit(0);
    }
    close(down[0]);
    close(up[1]);
    write(down[1], "through a child and back", 24);
    close(down[1]);
    int n = 0, r;
    while ((r = read(up[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    buf[n] = 0;
    close(up[0]);
    int status;
    waitpid(pid, &status, 0);
    printf("round trip: %s\n", buf);
    describe_status("pipe child", status);
}

static void test_wait_family(void)
{
    puts("== wait family");
    int status = -1;
    GT_SYS(waitpid(-1, &status, 0));
    GT_SYS(waitpid(-1, &status, WNOHANG));
    GT_SYS(wait4(-1, &status, 0x40000000, NULL));

    int gate[2];
    pipe(gate);
    gt_flush();
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(gate[1]);
        read(gate[0], &c, 1); /* returns 0 once the parent closes its end */
        _exit(5);
    }
    close(gate[0]);
    GT_SYS(waitpid(pid, &status, WNOHANG));
    close(gate[1]);
    siginfo_t info = {0};
    GT_SYS(waitid(P_PID, pid, &info, WEXITED | WNOWAIT));
    printf("waitid WNOWAIT: code %s status %d pid matches %d\n",
           info.si_code == CLD_EXITED ? "CLD_EXITED" : "other", info.si_status, info.si_pid == pid);
    GT_SYS(waitpid(pid, &status, 0) == pid);
    describe_status("after WNOWAIT", status);
    GT_SYS(waitpid(pid, &status, 0));

    /* Several children reaped in any order; reported in pid order. */
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        gt_flush();
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(10 + i);
    }
    int codes[3] = {0};
    for (int i = 0; i < 3; i++) {
        pid_t got = wait(&status);
        for (int k = 0; k < 3; k++)
            if (got == kids[k])
                codes[k] = WEXITSTATUS(status);
    }
    printf("three children exited %d %d %d\n", codes[0], codes[1], codes[2]);
    GT_SYS(wait(&status));
}

extern char **environ;

static void test_exec(const char *child)
{
    puts("== vfork + execve");
    int keep = open("/dev/null", O_RDONLY);
    int drop = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char fds[64];
    snprintf(fds, sizeof fds, "CHECK_FDS=%d,%d", keep, drop);
    char *argv[] = {"child-argv0", "first arg", "", "with\nnewline", "--flag=1", NULL};
    char *envp[] = {"ALPHA=1", "EXIT_CODE=7", "EMPTY=", fds, "ZETA=last", NULL};
    gt_flush();
    pid_t pid = vfork();
    if (pid == 0) {
        execve(child, argv, envp);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    describe_status("vfork child", status);
    close(keep);
    close(drop);

    /* fork + exec with an empty environment and a single argument. */
    char *argv1[] = {"only", NULL};
    char *envp1[] = {"EXIT_CODE=0", NULL};
    gt_flush();
    pid = fork();
    if (pid == 0) {
        execve(child, argv1, envp1);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    describe_status("fork child", status);

    char *argv2[] = {"spawned", "x", NULL};
    char *envp2[] = {"EXIT_CODE=33", NULL};
    gt_flush();
    int rc = posix_spawn(&pid, child, NULL, NULL, argv2, envp2);
    printf("posix_spawn: %s\n", gt_errname(rc));
    if (rc == 0) {
        waitpid(pid, &status, 0);
        describe_status("spawned child", status);
    }
}

static void test_exec_failures(void)
{
    puts("== execve failures");
    char *argv[] = {"x", NULL};
    char *envp[] = {NULL};
    GT_SYS(execve("/nonexistent/program", argv, envp));
    GT_SYS(execve("", argv, envp));
    GT_SYS(execve(".", argv, envp));
    int fd = open("not-executable", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "\177ELF", 4);
    close(fd);
    GT_SYS(execve("./not-executable", argv, envp));
    fd = open("plain-text", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    write(fd, "just some text\n", 15);
    close(fd);
    GT_SYS(execve("./plain-text", argv, envp));
    GT_SYS(execve("./plain-text/x", argv, envp));
    puts("still running after failed execs");
}

int main(int argc, char **argv)
{
    /* Children that die by SIGSEGV or SIGABRT must not leave core files. */
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    if (argc > 1) {
        test_exec(argv[1]);
        test_exec_failures();
    } else {
        test_exit_statuses();
        test_fork_semantics();
        test_wait_family();
    }
    return 0;
}
