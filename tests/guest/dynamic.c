/*
 * dynamic.c - a dynamically linked program, run with -L and the cross
 * sysroot: the interpreter, libc and libm are loaded from the sysroot, and
 * dlopen finds a further library there at run time.
 */
#include "guest_test.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <sys/auxv.h>

static int compare_ints(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int main(int argc, char **argv)
{
    GT_FACT("loaded by an interpreter (AT_BASE set)", getauxval(AT_BASE) != 0);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        printf("/proc/self/exe basename: %s\n", strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe);
    }

    volatile double x = 2.0;
    printf("libm: sqrt %.17g exp %.17g log %.17g pow %.17g\n", sqrt(x), exp(x), log(x), pow(x, 0.5));
    printf("libc: strtod %.17g, %a\n", strtod("3.14159", NULL), 1.0 / 3.0);
    int v[] = {5, 3, 9, 1, 7};
    qsort(v, 5, sizeof v[0], compare_ints);
    printf("qsort: %d %d %d %d %d\n", v[0], v[1], v[2], v[3], v[4]);

    void *lib = dlopen("libm.so.6", RTLD_NOW);
    if (!lib) {
        printf("dlopen failed\n");
        return 1;
    }
    double (*cosine)(double) = (double (*)(double))dlsym(lib, "cos");
    printf("dlsym cos: %s, cos(0.5) = %.17g\n", cosine ? "found" : "missing",
           cosine ? cosine(0.5) : 0.0);
    printf("dlsym of a missing symbol: %s\n", dlsym(lib, "no_such_symbol") ? "found" : "NULL");
    dlclose(lib);
    printf("dlopen of a missing library: %s\n", dlopen("libnothere.so.9", RTLD_NOW) ? "loaded" : "NULL");
    return 0;
}
