/*
 * sys_files.c - file and directory system calls, run in the empty working
 * directory compare.sh gives each run.  Prints return values, errno names
 * and the deterministic parts of stat results (size, mode, link count,
 * type, times the program set itself); never inode numbers, devices, block
 * counts, or descriptor numbers.
 */
#include "guest_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

static const char *type_name(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFIFO: return "fifo";
    case S_IFCHR: return "chardev";
    case S_IFSOCK: return "socket";
    default: return "other";
    }
}

/* Directory sizes and link counts depend on the host file system: omitted. */
static void print_stat(const char *what, const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        printf("  %s: type=dir perm=%04o\n", what, st->st_mode & 07777);
    else
        printf("  %s: type=%s perm=%04o size=%lld nlink=%lu\n", what, type_name(st->st_mode),
               st->st_mode & 07777, (long long)st->st_size, (unsigned long)st->st_nlink);
}

#define STAT(call, st)                                                         \
    do {                                                                       \
        if (GT_SYS(call) == 0)                                                 \
            print_stat(#call, &(st));                                          \
    } while (0)

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        printf("cannot write %s: %s\n", path, gt_errname(errno));
        exit(1);
    }
    close(fd);
}

/* Prints up to N bytes read from FD, escaping non-printable bytes. */
static void show_read(int fd, size_t n)
{
    char buf[256];
    ssize_t got = read(fd, buf, n < sizeof buf ? n : sizeof buf);
    if (got < 0) {
        printf("  read = -1 %s\n", gt_errname(errno));
        return;
    }
    printf("  read %zd: \"", got);
    for (ssize_t i = 0; i < got; i++)
        if (buf[i] >= 32 && buf[i] < 127)
            putchar(buf[i]);
        else
            printf("\\x%02x", (unsigned char)buf[i]);
    printf("\"\n");
}

static void test_open_read_write(void)
{
    puts("== open/read/write/lseek");
    int fd = GT_FD(open("a.txt", O_RDWR | O_CREAT | O_TRUNC, 0666));
    GT_SYS(write(fd, "hello, world\n", 13));
    GT_SYS(lseek(fd, 0, SEEK_CUR));
    GT_SYS(lseek(fd, 0, SEEK_SET));
    show_read(fd, 5);
    GT_SYS(lseek(fd, -3, SEEK_END));
    show_read(fd, 100);
    show_read(fd, 100);
    GT_SYS(lseek(fd, 20, SEEK_SET));
    GT_SYS(write(fd, "tail", 4));
    GT_SYS(lseek(fd, 10, SEEK_SET));
    show_read(fd, 100);
    GT_SYS(lseek(fd, -1, SEEK_SET));
    GT_SYS(lseek(fd, 0, 99));
    GT_SYS(close(fd));
    GT_SYS(close(fd));

    /* Lowest free descriptor: a freshly closed one is reused. */
    int a = open("a.txt", O_RDONLY), b = open("a.txt", O_RDONLY);
    close(a);
    int c = open("a.txt", O_RDONLY);
    GT_FACT("lowest free descriptor reused", c == a && b == a + 1);
    close(b);
    close(c);

    fd = GT_FD(open("a.txt", O_WRONLY | O_APPEND));
    GT_SYS(lseek(fd, 0, SEEK_SET));
    GT_SYS(write(fd, "+app", 4));
    GT_SYS(lseek(fd, 0, SEEK_CUR));
    GT_SYS(read(fd, (char[4]){0}, 4));
    close(fd);
    fd = GT_FD(open("a.txt", O_RDONLY));
    GT_SYS(write(fd, "x", 1));
    show_read(fd, 100);
    close(fd);

    GT_FD(open("a.txt", O_RDWR | O_CREAT | O_EXCL, 0644));
    GT_FD(open("a.txt", O_RDONLY | O_DIRECTORY));
    GT_FD(open("missing.txt", O_RDONLY));
    GT_FD(open("a.txt/inner", O_RDONLY));
    fd = GT_FD(open("a.txt", O_RDWR | O_TRUNC));
    GT_SYS(lseek(fd, 0, SEEK_END));
    close(fd);

    /* openat relative to a directory descriptor and to AT_FDCWD. */
    GT_SYS(mkdir("sub", 0777));
    int dir = GT_FD(open("sub", O_RDONLY | O_DIRECTORY));
    fd = GT_FD(openat(dir, "in-sub.txt", O_WRONLY | O_CREAT, 0600));
    GT_SYS(write(fd, "inside", 6));
    close(fd);
    fd = GT_FD(openat(AT_FDCWD, "sub/in-sub.txt", O_RDONLY));
    show_read(fd, 100);
    close(fd);
    int file = open("a.txt", O_RDONLY);
    GT_FD(openat(file, "x", O_RDONLY));
    GT_FD(openat(12345, "x", O_RDONLY));
    close(file);
    close(dir);

    fd = GT_FD(open("/dev/null", O_RDWR));
    GT_SYS(write(fd, "discard", 7));
    GT_SYS(read(fd, (char[8]){0}, 8));
    close(fd);
    fd = GT_FD(open("/dev/zero", O_RDONLY));
    show_read(fd, 4);
    close(fd);
    fd = GT_FD(open("/dev/full", O_WRONLY));
    GT_SYS(write(fd, "x", 1));
    close(fd);
    fd = GT_FD(open(".", O_RDONLY));
    GT_SYS(read(fd, (char[8]){0}, 8));
    close(fd);
}

static void test_vectored_and_positional(void)
{
    puts("== readv/writev/pread/pwrite");
    int fd = GT_FD(open("v.txt", O_RDWR | O_CREAT | O_TRUNC, 0644));
    struct iovec out[] = {{"one,", 4}, {"", 0}, {"two,", 4}, {"three", 5}};
    GT_SYS(writev(fd, out, 4));
    GT_SYS(lseek(fd, 0, SEEK_SET));
    char x[3] = {0}, y[1] = {0}, z[16] = {0};
    struct iovec in[] = {{x, 3}, {y, 1}, {z, sizeof z}};
    GT_SYS(readv(fd, in, 3));
    printf("  pieces: \"%.3s\" \"%.1s\" \"%s\"\n", x, y, z);
    GT_SYS(pwrite(fd, "TWO", 3, 4));
    GT_SYS(lseek(fd, 0, SEEK_CUR));
    char p[8] = {0};
    GT_SYS(pread(fd, p, 7, 2));
    printf("  pread: \"%s\"\n", p);
    GT_SYS(pread(fd, p, 7, 100));
    GT_SYS(lseek(fd, 0, SEEK_CUR));
    GT_SYS(pwrite(fd, "!", 1, -1));
    GT_SYS(preadv(fd, in, 2, 8));
    printf("  preadv: \"%.3s\" \"%.1s\"\n", x, y);
    struct iovec again[] = {{"AB", 2}, {"CD", 2}};
    GT_SYS(pwritev(fd, again, 2, 0));
    GT_SYS(lseek(fd, 0, SEEK_SET));
    show_read(fd, 100);
    volatile int negative = -1;
    GT_SYS(writev(fd, out, negative));
    close(fd);

    /* A hole reads as zeros. */
    fd = GT_FD(open("hole.bin", O_RDWR | O_CREAT | O_TRUNC, 0644));
    GT_SYS(pwrite(fd, "end", 3, 10000));
    GT_SYS(pread(fd, p, 4, 5000));
    printf("  hole bytes: %d %d %d %d\n", p[0], p[1], p[2], p[3]);
    struct stat st;
    STAT(fstat(fd, &st), st);
    close(fd);
}

static void print_statx(const char *what, const struct statx *sx)
{
    printf("  %s: basic=%s type=%s perm=%04o", what,
           (sx->stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS ? "all" : "partial",
           type_name(sx->stx_mode), sx->stx_mode & 07777);
    if (!S_ISDIR(sx->stx_mode))
        printf(" size=%llu nlink=%u", (unsigned long long)sx->stx_size, sx->stx_nlink);
    printf("\n");
}

static void test_stat(void)
{
    puts("== stat/fstat/lstat/fstatat/statx");
    struct stat st;
    struct statx sx;
    write_file("s.txt", "0123456789");
    GT_SYS(chmod("s.txt", 0640));
    GT_SYS(symlink("s.txt", "s.link"));
    GT_SYS(symlink("nowhere", "dangling"));
    GT_SYS(mkdir("sdir", 0750));

    STAT(stat("s.txt", &st), st);
    STAT(stat("s.link", &st), st);
    STAT(lstat("s.link", &st), st);
    STAT(lstat("dangling", &st), st);
    STAT(stat("dangling", &st), st);
    STAT(stat("sdir", &st), st);
    STAT(stat("/dev/null", &st), st);
    STAT(fstatat(AT_FDCWD, "s.link", &st, 0), st);
    STAT(fstatat(AT_FDCWD, "s.link", &st, AT_SYMLINK_NOFOLLOW), st);
    STAT(fstatat(AT_FDCWD, "s.txt", &st, 0x12345678), st);
    int fd = open("s.txt", O_RDONLY);
    STAT(fstat(fd, &st), st);
    STAT(fstatat(fd, "", &st, AT_EMPTY_PATH), st);
    STAT(fstatat(fd, "", &st, 0), st);
    int pipefd[2];
    pipe(pipefd);
    STAT(fstat(pipefd[0], &st), st);
    close(pipefd[0]);
    close(pipefd[1]);
    STAT(fstat(999, &st), st);
    STAT(stat("", &st), st);
    STAT(stat("no/such", &st), st);

    if (GT_SYS(statx(AT_FDCWD, "s.txt", 0, STATX_BASIC_STATS, &sx)) == 0)
        print_statx("statx s.txt", &sx);
    if (GT_SYS(statx(AT_FDCWD, "s.link", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx)) == 0)
        print_statx("statx s.link nofollow", &sx);
    if (GT_SYS(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx)) == 0)
        print_statx("statx fd", &sx);
    if (GT_SYS(statx(AT_FDCWD, "sdir", 0, STATX_BASIC_STATS, &sx)) == 0)
        print_statx("statx sdir", &sx);
    GT_SYS(statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &sx));
    close(fd);

    /* Times the program sets itself are deterministic. */
    struct timespec times[2] = {{1000000000, 123456789}, {1234567890, 500000000}};
    GT_SYS(utimensat(AT_FDCWD, "s.txt", times, 0));
    if (stat("s.txt", &st) == 0)
        printf("  atime=%lld.%09ld mtime=%lld.%09ld\n", (long long)st.st_atim.tv_sec,
               st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (statx(AT_FDCWD, "s.txt", 0, STATX_MTIME, &sx) == 0)
        printf("  statx mtime=%lld.%09u\n", (long long)sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec);
    struct timespec bad[2] = {{0, 2000000000}, {0, 0}};
    GT_SYS(utimensat(AT_FDCWD, "s.txt", bad, 0));

    GT_SYS(fchmodat(AT_FDCWD, "s.txt", 0604, 0));
    fd = open("s.txt", O_RDONLY);
    GT_SYS(fchmod(fd, 04755));
    STAT(fstat(fd, &st), st);
    close(fd);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/*
 * Lists a directory with raw getdents64 calls into a small buffer, so that
 * several calls are needed, and prints the entries sorted.
 */
static void list_dir(const char *path, size_t bufsize)
{
    char *names[64];
    size_t n = 0;
    int calls = 0;
    char buf[512] __attribute__((aligned(8)));
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, bufsize);
        if (got < 0) {
            printf("  getdents64(%zu) = -1 %s\n", bufsize, gt_errname(errno));
            break;
        }
        if (got == 0)
            break;
        calls++;
        for (long off = 0; off < got;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            char *entry = malloc(strlen(d->d_name) + 16);
            sprintf(entry, "%s(%s)", d->d_name,
                    d->d_type == DT_DIR ? "dir" : d->d_type == DT_REG ? "file"
                    : d->d_type == DT_LNK ? "symlink" : "?");
            if (n < 64)
                names[n++] = entry;
            off += d->d_reclen;
        }
    }
    qsort(names, n, sizeof names[0], compare_names);
    printf("  %s (%s):", path, calls > 1 ? "several calls" : calls ? "one call" : "no call");
    for (size_t i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");

    /* Rewinding returns the same number of entries. */
    GT_SYS(lseek(fd, 0, SEEK_SET));
    size_t again = 0;
    long got;
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long off = 0; off < got; off += ((struct linux_dirent64 *)(buf + off))->d_reclen)
            again++;
    printf("  after rewind: %zu entries\n", again);
    close(fd);
}

static void test_directories(void)
{
    puts("== directories");
    GT_SYS(mkdir("tree", 0777));
    GT_SYS(mkdir("tree", 0777));
    GT_SYS(mkdir("tree/a", 0700));
    GT_SYS(mkdir("tree/b", 0777));
    GT_SYS(mkdir("tree/missing/c", 0777));
    write_file("tree/file1", "1");
    write_file("tree/a_much_longer_file_name_to_fill_the_buffer_quickly", "2");
    GT_SYS(symlink("file1", "tree/link1"));
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "tree/n%02d", i);
        write_file(name, "n");
    }
    list_dir("tree", 512);
    list_dir("tree", 128);
    list_dir("tree", 8);

    /* readdir through libc, sorted. */
    DIR *d = opendir("tree");
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) != NULL)
        count++;
    closedir(d);
    printf("  readdir count: %d\n", count);
    GT_SYS(rmdir("tree"));
    GT_SYS(rmdir("tree/b"));
    GT_SYS(rmdir("tree/b"));
    GT_SYS(rmdir("tree/file1"));
    GT_SYS(unlink("tree/a"));
    GT_SYS(unlink("tree/file1"));
    GT_SYS(unlink("tree/file1"));
    GT_SYS(mkdirat(AT_FDCWD, "tree/at", 0755));
    GT_SYS(unlinkat(AT_FDCWD, "tree/at", 0));
    GT_SYS(unlinkat(AT_FDCWD, "tree/at", AT_REMOVEDIR));
    list_dir("tree", 512);
}

static void test_links_and_renames(void)
{
    puts("== links and renames");
    struct stat st;
    write_file("orig", "original");
    GT_SYS(link("orig", "hard"));
    STAT(stat("orig", &st), st);
    GT_SYS(link("orig", "hard"));
    GT_SYS(linkat(AT_FDCWD, "orig", AT_FDCWD, "hard2", 0));
    STAT(stat("hard2", &st), st);
    GT_SYS(unlink("hard2"));

    GT_SYS(symlink("orig", "sym"));
    GT_SYS(symlink("orig", "sym"));
    char buf[64];
    long n = GT_SYS(readlink("sym", buf, sizeof buf));
    if (n >= 0)
        printf("  target: %.*s\n", (int)n, buf);
    n = GT_SYS(readlink("sym", buf, 2));
    if (n >= 0)
        printf("  truncated: %.*s\n", (int)n, buf);
    n = GT_SYS(readlinkat(AT_FDCWD, "sym", buf, sizeof buf));
    GT_SYS(readlink("orig", buf, sizeof buf));
    GT_SYS(readlink("missing", buf, sizeof buf));
    GT_SYS(symlink("loop1", "loop2"));
    GT_SYS(symlink("loop2", "loop1"));
    GT_FD(open("loop1", O_RDONLY));
    GT_FD(open("sym", O_RDONLY | O_NOFOLLOW));

    /* An unlinked file stays readable through an open descriptor. */
    int fd = open("hard", O_RDONLY);
    GT_SYS(unlink("hard"));
    STAT(fstat(fd, &st), st);
    show_read(fd, 100);
    close(fd);

    write_file("r1", "first");
    write_file("r2", "second");
    GT_SYS(rename("r1", "r2"));
    fd = open("r2", O_RDONLY);
    show_read(fd, 100);
    close(fd);
    GT_SYS(access("r1", F_OK));
    GT_SYS(rename("r1", "r3"));
    GT_SYS(mkdir("rd", 0777));
    GT_SYS(mkdir("rd/inner", 0777));
    GT_SYS(rename("rd", "rd/inner/self"));
    GT_SYS(rename("r2", "rd"));
    GT_SYS(rename("rd", "r2"));
    GT_SYS(rename("rd/inner", "moved"));
    GT_SYS(renameat(AT_FDCWD, "moved", AT_FDCWD, "rd/back"));
    write_file("x1", "x1");
    write_file("x2", "x2");
    GT_SYS(renameat2(AT_FDCWD, "x1", AT_FDCWD, "x2", RENAME_NOREPLACE));
    GT_SYS(renameat2(AT_FDCWD, "x1", AT_FDCWD, "x2", RENAME_EXCHANGE));
    fd = open("x1", O_RDONLY);
    show_read(fd, 100);
    close(fd);
}

static void test_cwd(void)
{
    puts("== chdir/getcwd");
    char start[PATH_MAX], now[PATH_MAX];
    if (!getcwd(start, sizeof start)) {
        printf("getcwd failed: %s\n", gt_errname(errno));
        return;
    }
    GT_SYS(mkdir("c1", 0777));
    GT_SYS(mkdir("c1/c2", 0777));
    GT_SYS(chdir("c1/c2"));
    getcwd(now, sizeof now);
    printf("  cwd is start + \"%s\"\n", strncmp(now, start, strlen(start)) == 0 ?
           now + strlen(start) : "(elsewhere)");
    write_file("here.txt", "here");
    GT_SYS(chdir(".."));
    GT_SYS(access("c2/here.txt", R_OK));
    GT_SYS(chdir("../c1/./c2/../../c1"));
    getcwd(now, sizeof now);
    printf("  cwd is start + \"%s\"\n", strncmp(now, start, strlen(start)) == 0 ?
           now + strlen(start) : "(elsewhere)");
    int dir = open("c2", O_RDONLY | O_DIRECTORY);
    GT_SYS(fchdir(dir));
    close(dir);
    getcwd(now, sizeof now);
    printf("  after fchdir: start + \"%s\"\n", strncmp(now, start, strlen(start)) == 0 ?
           now + strlen(start) : "(elsewhere)");
    GT_SYS(chdir("missing"));
    GT_SYS(chdir("here.txt"));
    errno = 0;
    char tiny[2];
    printf("  getcwd(tiny) = %s %s\n", getcwd(tiny, sizeof tiny) ? "ok" : "NULL",
           gt_errname(errno));
    GT_SYS(syscall(SYS_getcwd, tiny, 1));
    GT_SYS(chdir(start));
    GT_SYS(chdir("/"));
    getcwd(now, sizeof now);
    printf("  root: \"%s\"\n", now);
    GT_SYS(chdir(start));
}

static void test_dup_and_fcntl(void)
{
    puts("== dup/dup2/dup3/fcntl");
    write_file("d.txt", "abcdefghij");
    int fd = open("d.txt", O_RDONLY);
    int copy = GT_FD(dup(fd));
    GT_SYS(lseek(copy, 4, SEEK_SET));
    printf("  shared offset: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    GT_SYS(dup2(fd, 100));
    GT_SYS(dup2(fd, fd) == fd);
    GT_SYS(dup2(fd, -1));
    GT_SYS(dup2(555, 101));
    GT_SYS(dup3(fd, 102, O_CLOEXEC));
    GT_SYS(fcntl(102, F_GETFD));
    GT_SYS(fcntl(100, F_GETFD));
    GT_SYS(dup3(fd, fd, 0));
    GT_SYS(dup3(fd, 103, 0x4000000));
    GT_SYS(fcntl(fd, F_DUPFD, 200));
    GT_SYS(fcntl(fd, F_DUPFD, 200));
    GT_SYS(fcntl(fd, F_DUPFD_CLOEXEC, 300));
    GT_SYS(fcntl(300, F_GETFD));
    GT_SYS(fcntl(fd, F_SETFD, FD_CLOEXEC));
    GT_SYS(fcntl(fd, F_GETFD));
    GT_SYS(fcntl(fd, F_SETFD, 0));
    GT_SYS(fcntl(fd, F_GETFD));
    GT_SYS(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    GT_SYS(fcntl(fd, F_SETFL, O_NONBLOCK | O_APPEND));
    GT_SYS(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    GT_SYS(fcntl(copy, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    GT_SYS(fcntl(999, F_GETFL));
    GT_SYS(fcntl(fd, 9999));
    /* Only the descriptors made above: the emulator may hold others. */
    static const int made[] = {100, 102, 200, 201, 300};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        close(made[i]);

    /* Record locks: a process never conflicts with its own locks. */
    int w = open("d.txt", O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 3};
    GT_SYS(fcntl(w, F_SETLK, &fl));
    struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    GT_SYS(fcntl(w, F_GETLK, &probe));
    printf("  F_GETLK type %s\n", probe.l_type == F_UNLCK ? "F_UNLCK" : "locked");
    fl.l_type = F_UNLCK;
    GT_SYS(fcntl(w, F_SETLK, &fl));
    fl.l_type = F_WRLCK;
    GT_SYS(fcntl(fd, F_SETLK, &fl));
    GT_SYS(flock(w, LOCK_EX | LOCK_NB));
    GT_SYS(flock(w, LOCK_UN));
    GT_SYS(flock(w, 0));
    close(w);
    close(fd);
    close(copy);
}

static void test_pipes(void)
{
    puts("== pipes");
    int p[2];
    GT_SYS(pipe(p));
    GT_SYS(write(p[1], "through the pipe", 16));
    show_read(p[0], 7);
    show_read(p[0], 100);
    GT_SYS(fcntl(p[0], F_GETPIPE_SZ));
    GT_SYS(fcntl(p[0], F_SETPIPE_SZ, 8192));
    GT_SYS(fcntl(p[0], F_GETPIPE_SZ));
    GT_SYS(lseek(p[0], 0, SEEK_SET));
    GT_SYS(write(p[0], "x", 1));
    GT_SYS(close(p[1]));
    show_read(p[0], 10);
    close(p[0]);

    GT_SYS(pipe2(p, O_CLOEXEC | O_NONBLOCK));
    GT_SYS(fcntl(p[0], F_GETFD));
    GT_SYS(fcntl(p[1], F_GETFL) & (O_ACCMODE | O_NONBLOCK));
    GT_SYS(read(p[0], (char[4]){0}, 4));
    /* Fill the pipe until it would block. */
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    long total = 0, n;
    while ((n = write(p[1], chunk, sizeof chunk)) > 0)
        total += n;
    printf("  filled %ld bytes, then %s\n", total, gt_errname(errno));
    signal(SIGPIPE, SIG_IGN);
    close(p[0]);
    GT_SYS(write(p[1], "x", 1));
    close(p[1]);
    GT_SYS(pipe2(p, 0x12345));
}

static void test_truncate(void)
{
    puts("== truncate/ftruncate");
    struct stat st;
    write_file("t.txt", "0123456789");
    int fd = open("t.txt", O_RDWR);
    GT_SYS(ftruncate(fd, 4));
    STAT(fstat(fd, &st), st);
    GT_SYS(ftruncate(fd, 8));
    show_read(fd, 100);
    GT_SYS(truncate("t.txt", 2));
    STAT(stat("t.txt", &st), st);
    GT_SYS(ftruncate(fd, -1));
    close(fd);
    fd = open("t.txt", O_RDONLY);
    GT_SYS(ftruncate(fd, 0));
    close(fd);
    GT_SYS(truncate("missing", 0));
    GT_SYS(truncate(".", 0));
    fd = open("t.txt", O_RDWR);
    GT_SYS(fsync(fd));
    GT_SYS(fdatasync(fd));
    GT_SYS(fallocate(fd, 0, 0, 100));
    STAT(fstat(fd, &st), st);
    close(fd);
}

static void test_access(void)
{
    puts("== access/faccessat");
    write_file("acc.txt", "x");
    chmod("acc.txt", 0644);
    GT_SYS(access("acc.txt", F_OK));
    GT_SYS(access("acc.txt", R_OK | W_OK));
    GT_SYS(access("acc.txt", X_OK));
    GT_SYS(access("acc.txt", 0x10));
    GT_SYS(access("missing", F_OK));
    GT_SYS(access("acc.txt/x", F_OK));
    GT_SYS(faccessat(AT_FDCWD, "acc.txt", R_OK, 0));
    GT_SYS(faccessat(AT_FDCWD, "acc.txt", R_OK, AT_EACCESS));
    GT_SYS(symlink("missing", "acc.link"));
    GT_SYS(faccessat(AT_FDCWD, "acc.link", F_OK, 0));
    GT_SYS(faccessat(AT_FDCWD, "acc.link", F_OK, AT_SYMLINK_NOFOLLOW));
    GT_SYS(syscall(SYS_faccessat, AT_FDCWD, "acc.txt", R_OK));
    GT_SYS(chmod("acc.txt", 0755));
    GT_SYS(access("acc.txt", X_OK));
}

static void test_long_names(void)
{
    puts("== name limits");
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    GT_FD(open(name, O_RDONLY | O_CREAT, 0644));
    name[255] = 0;
    int fd = GT_FD(open(name, O_RDONLY | O_CREAT, 0644));
    close(fd);
    GT_SYS(unlink(name));
    GT_FD(syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY));
    GT_SYS(mkdir("", 0777));
}

int main(void)
{
    umask(022);
    test_open_read_write();
    test_vectored_and_positional();
    test_stat();
    test_directories();
    test_links_and_renames();
    test_cwd();
    test_dup_and_fcntl();
    test_pipes();
    test_truncate();
    test_access();
    test_long_names();
    return 0;
}
