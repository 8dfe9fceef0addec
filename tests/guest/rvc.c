/*
 * rvc.c - prints the results of rvc.S, which runs every RV64C instruction,
 * and steps over a c.ebreak from a SIGTRAP handler.
 */
#include "guest_test.h"

#include <signal.h>
#include <ucontext.h>

void rvc_run(uint64_t *results, uint8_t *buffer);
uint64_t rvc_ebreak(void);
extern const char rvc_names[];
extern const uint64_t rvc_result_count;

/* Resumes after the breakpoint: 2 bytes for c.ebreak, 4 for ebreak. */
static void on_sigtrap(int sig, siginfo_t *info, void *ucv)
{
    ucontext_t *uc = ucv;
    uint16_t insn = *(const uint16_t *)uc->uc_mcontext.__gregs[REG_PC];
    printf("SIGTRAP code %d, instruction %04x\n", info->si_code, insn);
    uc->uc_mcontext.__gregs[REG_PC] += (insn & 3) == 3 ? 4 : 2;
}

int main(void)
{
    static uint64_t results[256];
    static uint8_t buffer[256] __attribute__((aligned(8)));
    for (size_t i = 0; i < sizeof buffer; i++)
        buffer[i] = (uint8_t)(0x81 + i * 29);
    rvc_run(results, buffer);

    const char *name = rvc_names;
    for (uint64_t i = 0; i < rvc_result_count; i++) {
        printf("%s = %016" PRIx64 "\n", name, results[i]);
        name += strlen(name) + 1;
    }

    struct sigaction sa = {.sa_sigaction = on_sigtrap, .sa_flags = SA_SIGINFO};
    sigaction(SIGTRAP, &sa, NULL);
    printf("c.ebreak resumed: %" PRIu64 "\n", rvc_ebreak());
    return 0;
}
