/*
 * sys_mm.c - memory-management system calls: anonymous and file-backed
 * mmap (shared and private), MAP_FIXED, munmap, mprotect, mremap, msync,
 * brk, and the faults (SIGSEGV with SEGV_MAPERR/SEGV_ACCERR, SIGBUS past
 * the end of a file) that accesses to the results raise.  Addresses are
 * never printed, only offsets between them.
 */
#include "guest_test.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGE 4096L

static sigjmp_buf fault_jump;
static uintptr_t fault_base;

static void on_fault(int sig, siginfo_t *info, void *uc)
{
    printf("  caught %s code %d at base%+ld\n", sigabbrev_np(sig), info->si_code,
           (long)((uintptr_t)info->si_addr - fault_base));
    siglongjmp(fault_jump, 1);
}

/* Reads or writes one byte at P and reports whether a fault interrupted it. */
static void probe(const char *what, volatile uint8_t *p, int write, uintptr_t base)
{
    printf("%s:\n", what);
    fault_base = base;
    if (!sigsetjmp(fault_jump, 1)) {
        if (write)
            *p = 0x5a;
        printf("  ok, byte %02x\n", *p);
    }
}

static uint8_t *map_anon(size_t len, int prot)
{
    uint8_t *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap failed: %s\n", gt_errname(errno));
        exit(1);
    }
    return p;
}

static unsigned long checksum(const uint8_t *p, size_t len)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = sum * 31 + p[i];
    return sum;
}

#define MMAP_FAILS(call)                                                       \
    do {                                                                       \
        errno = 0;                                                             \
        void *r_ = (call);                                                     \
        printf("%s = %s\n", #call, r_ == MAP_FAILED ? gt_errname(errno) : "mapped"); \
        if (r_ != MAP_FAILED)                                                  \
            munmap(r_, PAGE);                                                  \
    } while (0)

static void test_anonymous(void)
{
    puts("== anonymous mappings");
    printf("page size: sysconf %ld, auxv %lu\n", sysconf(_SC_PAGESIZE), getauxval(AT_PAGESZ));
    uint8_t *p = map_anon(16 * PAGE, PROT_READ | PROT_WRITE);
    printf("fresh memory checksum: %lu\n", checksum(p, 16 * PAGE));
    GT_FACT("page aligned", ((uintptr_t)p & (PAGE - 1)) == 0);
    for (long i = 0; i < 16 * PAGE; i++)
        p[i] = (uint8_t)(i * 7 + i / 4096);
    printf("written checksum: %lu\n", checksum(p, 16 * PAGE));

    /* MAP_FIXED over pages 4..5 replaces them with zeros, nothing else. */
    uint8_t *q = mmap(p + 4 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    GT_FACT("MAP_FIXED at the requested address", q == p + 4 * PAGE);
    printf("after MAP_FIXED: pages 3,4,5,6 start with %02x %02x %02x %02x\n", p[3 * PAGE + 1],
           p[4 * PAGE + 1], p[5 * PAGE + 1], p[6 * PAGE + 1]);
    /* Unmapping a middle page splits the mapping. */
    GT_SYS(munmap(p + 10 * PAGE, PAGE));
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    probe("read unmapped middle page", p + 10 * PAGE + 5, 0, (uintptr_t)p);
    probe("read page after the hole", p + 11 * PAGE + 5, 0, (uintptr_t)p);

    GT_SYS(mprotect(p, PAGE, PROT_READ));
    probe("write read-only page", p + 100, 1, (uintptr_t)p);
    probe("read read-only page", p + 100, 0, (uintptr_t)p);
    GT_SYS(mprotect(p, PAGE, PROT_NONE));
    probe("read PROT_NONE page", p + 200, 0, (uintptr_t)p);
    GT_SYS(mprotect(p, PAGE, PROT_READ | PROT_WRITE));
    probe("write after restoring RW", p + 200, 1, (uintptr_t)p);
    GT_SYS(mprotect(p + 1, PAGE, PROT_READ));
    GT_SYS(mprotect(p + 10 * PAGE, PAGE, PROT_READ));
    GT_SYS(mprotect(p, PAGE, 0x100));
    GT_SYS(munmap(p, 16 * PAGE));
    probe("read after munmap", p + 3 * PAGE, 0, (uintptr_t)p);
    GT_SYS(munmap(p + 1, PAGE));
    GT_SYS(munmap(p, 0));

    MMAP_FAILS(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    MMAP_FAILS(mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0));
    MMAP_FAILS(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 999, 0));
    MMAP_FAILS(mmap((void *)(PAGE * 17 + 1), PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));

    /* A large reservation: only the touched pages need memory. */
    size_t big = 1UL << 30;
    uint8_t *huge = mmap(NULL, big, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (huge != MAP_FAILED) {
        huge[0] = 1;
        huge[big / 2] = 2;
        huge[big - 1] = 3;
        printf("1 GiB mapping: %d %d %d\n", huge[0], huge[big / 2], huge[big - 1]);
        munmap(huge, big);
    } else {
        printf("1 GiB mapping failed: %s\n", gt_errname(errno));
    }

    /* Guest addresses far outside any mapping fault. */
    probe("read at 1<<40", (uint8_t *)(1UL << 40), 0, 1UL << 40);
    probe("read at -4096", (uint8_t *)-4096L, 0, (uintptr_t)-4096L);
    probe("write at 0x10", (uint8_t *)0x10, 1, 0);
}

static void test_file_backed(void)
{
    puts("== file-backed mappings");
    int fd = open("map.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char block[PAGE];
    for (int i = 0; i < 3; i++) {
        memset(block, 'A' + i, sizeof block);
        write(fd, block, sizeof block);
    }
    write(fd, "tail", 4); /* the file ends 4 bytes into its fourth page */

    uint8_t *shared = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (shared == MAP_FAILED) {
        printf("shared mmap failed: %s\n", gt_errname(errno));
        exit(1);
    }
    printf("shared: %c %c %c %.4s then %d\n", shared[0], shared[PAGE], shared[2 * PAGE],
           (char *)shared + 3 * PAGE, shared[3 * PAGE + 4]);
    shared[1] = 'x';
    GT_SYS(msync(shared, PAGE, MS_SYNC));
    char got[4] = {0};
    pread(fd, got, 3, 0);
    printf("file after store through the mapping: %.3s\n", got);
    pwrite(fd, "WRITE", 5, PAGE);
    printf("mapping after write(): %.5s\n", (char *)shared + PAGE);
    probe("read the last partial page past EOF", shared + 3 * PAGE + 100, 0, (uintptr_t)shared);
    probe("read a page wholly past EOF", shared + 4 * PAGE + 8, 0, (uintptr_t)shared);
    GT_SYS(msync(shared, PAGE, 0x7f));
    GT_SYS(msync(shared + 1, PAGE, MS_SYNC));
    GT_SYS(munmap(shared, 5 * PAGE));

    uint8_t *priv = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE);
    if (priv != MAP_FAILED) {
        priv[0] = 'p';
        pread(fd, got, 3, PAGE);
        printf("private mapping at offset 1 page: mapped %c%c, file still %.3s\n", priv[0],
               priv[1], got);
        pwrite(fd, "Z", 1, 2 * PAGE);
        munmap(priv, 2 * PAGE);
    }

    int ro = open("map.bin", O_RDONLY);
    MMAP_FAILS(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
    MMAP_FAILS(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0));
    MMAP_FAILS(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 100));
    uint8_t *rmap = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
    GT_SYS(mprotect(rmap, PAGE, PROT_READ | PROT_WRITE));
    munmap(rmap, PAGE);
    close(ro);

    /* A shared anonymous mapping. */
    uint8_t *sa = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sa[10] = 42;
    printf("shared anonymous: %d\n", sa[10]);
    munmap(sa, PAGE);
    close(fd);
}

static void test_mremap(void)
{
    puts("== mremap");
    uint8_t *p = map_anon(2 * PAGE, PROT_READ | PROT_WRITE);
    for (long i = 0; i < 2 * PAGE; i++)
        p[i] = (uint8_t)(i ^ (i >> 8));
    unsigned long before = checksum(p, 2 * PAGE);

    errno = 0;
    void *r = mremap(p, PAGE, 2 * PAGE, 0);
    printf("grow in place into a mapped page: %s\n", r == MAP_FAILED ? gt_errname(errno) : "moved?");

    uint8_t *g = mremap(p, 2 * PAGE, 64 * PAGE, MREMAP_MAYMOVE);
    if (g == MAP_FAILED) {
        printf("mremap grow failed: %s\n", gt_errname(errno));
        return;
    }
    printf("grown: old contents %s, new tail checksum %lu\n",
           checksum(g, 2 * PAGE) == before ? "kept" : "LOST", checksum(g + 2 * PAGE, 62 * PAGE));
    g[63 * PAGE] = 9;

    uint8_t *s = mremap(g, 64 * PAGE, PAGE, 0);
    GT_FACT("shrink stays in place", s == g);
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &sa, NULL);
    probe("read past the shrunk end", g + 2 * PAGE, 0, (uintptr_t)g);

    /* MREMAP_FIXED onto a reserved range. */
    uint8_t *target = mmap(NULL, 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *f = mremap(s, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target + PAGE);
    GT_FACT("MREMAP_FIXED moved to the target", f == target + PAGE);
    printf("moved byte: %02x\n", f[5]);
    probe("read the old address", s, 0, (uintptr_t)s);
    errno = 0;
    r = mremap(f + 1, PAGE, PAGE, 0);
    printf("mremap unaligned: %s\n", r == MAP_FAILED ? gt_errname(errno) : "ok?");
    errno = 0;
    r = mremap(f, PAGE, 2 * PAGE, MREMAP_FIXED);
    printf("MREMAP_FIXED without MAYMOVE: %s\n", r == MAP_FAILED ? gt_errname(errno) : "ok?");
    munmap(target, 4 * PAGE);
}

static void test_brk(void)
{
    puts("== brk");
    uintptr_t start = syscall(SYS_brk, 0);
    GT_FACT("brk(0) is nonzero", start != 0);
    uintptr_t grown = syscall(SYS_brk, start + 64 * PAGE);
    printf("grow by 64 pages: %+ld\n", (long)(grown - start));
    uint8_t *heap = (uint8_t *)start;
    printf("new heap reads %d\n", heap[1000] + heap[64 * PAGE - 1]);
    memset(heap, 0x77, 64 * PAGE);
    printf("written checksum %lu\n", checksum(heap, 64 * PAGE));
    uintptr_t shrunk = syscall(SYS_brk, start + PAGE);
    printf("shrink to 1 page: %+ld\n", (long)(shrunk - start));
    /* Not probed: QEMU 7.2 keeps the pages above a lowered break mapped. */
    uintptr_t again = syscall(SYS_brk, start + 2 * PAGE);
    printf("regrow: %+ld, regrown page reads %d\n", (long)(again - start), heap[PAGE + 10]);
    uintptr_t low = syscall(SYS_brk, start - 1024 * PAGE);
    printf("brk below the start leaves it at %+ld\n", (long)(low - start));
    uintptr_t absurd = syscall(SYS_brk, (uintptr_t)1 << 62);
    printf("absurd brk leaves it at %+ld\n", (long)(absurd - start));
    syscall(SYS_brk, start);

    /* malloc goes through brk and mmap. */
    char *small = malloc(100), *large = malloc(1 << 20);
    memset(small, 1, 100);
    memset(large, 2, 1 << 20);
    printf("malloc: %d %d\n", small[99], large[(1 << 20) - 1]);
    free(large);
    free(small);
}

static void test_madvise_and_friends(void)
{
    puts("== madvise/mlock/mincore");
    uint8_t *p = map_anon(4 * PAGE, PROT_READ | PROT_WRITE);
    p[0] = 1;
    /* Only the return values: QEMU 7.2 ignores advice, so contents differ. */
    GT_SYS(madvise(p, 4 * PAGE, MADV_WILLNEED));
    GT_SYS(madvise(p, 4 * PAGE, MADV_DONTNEED));
    GT_SYS(madvise(p + 1, PAGE, MADV_NORMAL));
    GT_SYS(mlock(p, PAGE));
    GT_SYS(munlock(p, PAGE));
    munmap(p, 4 * PAGE);

    /* A deep stack: 4 MiB of locals touched from the top down. */
    volatile uint8_t *deep = __builtin_alloca(4 << 20);
    for (long i = (4 << 20) - 1; i >= 0; i -= PAGE)
        deep[i] = (uint8_t)i;
    printf("4 MiB stack frame: %d\n", deep[PAGE - 1]);
}

int main(void)
{
    test_anonymous();
    test_file_backed();
    test_mremap();
    test_brk();
    test_madvise_and_friends();
    return 0;
}
