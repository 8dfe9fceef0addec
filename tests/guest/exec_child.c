/*
 * exec_child.c - the program fork_exec.c executes: prints the arguments,
 * the environment (sorted) and parts of the auxiliary vector it was given,
 * reports which descriptors listed in CHECK_FDS survived the exec, and exits
 * with the status named by EXIT_CODE (default 7).
 */
#include "guest_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>

extern char **environ;

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    printf("[child] argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("[child] argv[%d]=\"%s\"\n", i, argv[i]);
    printf("[child] argv[argc] is NULL: %s\n", argv[argc] == NULL ? "yes" : "NO");

    size_t n = 0;
    while (environ[n])
        n++;
    char **sorted = malloc((n + 1) * sizeof *sorted);
    memcpy(sorted, environ, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_strings);
    /* CHECK_FDS holds descriptor numbers, which depend on the emulator. */
    for (size_t i = 0; i < n; i++)
        printf("[child] env %s\n", strncmp(sorted[i], "CHECK_FDS=", 10) == 0
                                        ? "CHECK_FDS=(descriptor numbers)" : sorted[i]);
    free(sorted);

    printf("[child] AT_PAGESZ=%lu AT_HWCAP=%#lx AT_SECURE=%lu AT_RANDOM set=%d\n",
           getauxval(AT_PAGESZ), getauxval(AT_HWCAP), getauxval(AT_SECURE),
           getauxval(AT_RANDOM) != 0);
    GT_FACT("[child] AT_ENTRY, AT_PHDR set", getauxval(AT_ENTRY) != 0 && getauxval(AT_PHDR) != 0);

    const char *fds = getenv("CHECK_FDS");
    if (fds) {
        char *copy = strdup(fds), *save = NULL;
        int k = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            printf("[child] inherited descriptor %d: %s\n", k++,
                   fcntl(atoi(tok), F_GETFD) >= 0 ? "open" : "closed");
        free(copy);
    }
    const char *code = getenv("EXIT_CODE");
    return code ? atoi(code) : 7;
}
