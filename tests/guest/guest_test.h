/*
 * guest_test.h - helpers shared by the riscv64 differential test programs.
 *
 * Every program prints each result it computes, one fact per line, so that a
 * run under qemu-riscv64 and a run under vmx differ exactly where the
 * emulators do.  Programs never print addresses, pids, times or inode
 * numbers: those differ between two correct runs.
 */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The name of an errno value ("ENOENT"), or "0" for success. */
static inline const char *gt_errname(int err)
{
    const char *name = err ? strerrorname_np(err) : "0";
    return name ? name : "E?";
}

/*
 * Prints "WHAT = RET" for a call that succeeded or "WHAT = -1 ENAME" for one
 * that failed, and returns RET.  errno is cleared first, so a stale value
 * never shows.
 */
#define GT_CALL(what, expr)                                                   \
    ({                                                                        \
        errno = 0;                                                            \
        long gt_ret_ = (long)(expr);                                          \
        int gt_err_ = errno;                                                  \
        if (gt_ret_ == -1)                                                    \
            printf("%s = -1 %s\n", (what), gt_errname(gt_err_));             \
        else                                                                  \
            printf("%s = %ld\n", (what), gt_ret_);                            \
        gt_ret_;                                                              \
    })

/* GT_CALL with the expression's own text as its label. */
#define GT_SYS(expr) GT_CALL(#expr, expr)

/*
 * For calls that return a file descriptor: prints "EXPR = fd" (the number
 * itself depends on what descriptors the emulator holds) or the error, and
 * returns the result.
 */
#define GT_FD(expr)                                                           \
    ({                                                                        \
        errno = 0;                                                            \
        long gt_ret_ = (long)(expr);                                          \
        int gt_err_ = errno;                                                  \
        if (gt_ret_ < 0)                                                      \
            printf("%s = -1 %s\n", #expr, gt_errname(gt_err_));               \
        else                                                                  \
            printf("%s = fd\n", #expr);                                       \
        (int)gt_ret_;                                                         \
    })

/* Prints a boolean fact: "WHAT: yes" or "WHAT: NO". */
#define GT_FACT(what, cond) printf("%s: %s\n", (what), (cond) ? "yes" : "NO")

/* Writes the buffered stdout before something that may kill the process. */
static inline void gt_flush(void)
{
    fflush(stdout);
}

#endif
