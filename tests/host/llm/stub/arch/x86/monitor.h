/* Host stand-in for kernel/arch/x86/monitor.h: MON_WAIT_WORD returns at once (a spurious wake-up, which the
   worker loop must tolerate anyway). */
#include <stdint.h>
#define MON_WAIT_WORD 1
static inline uint64_t monitor_call(int op, uint64_t a, uint64_t b, uint64_t c)
{
    (void)op, (void)a, (void)b, (void)c;
    return 0;
}
