/* power_exit and power_off (core/power.h): both go through the ring-0 monitor. */
#include "core/power.h"
#include "arch/x86/monitor.h"

void power_exit(int code)
{
    monitor_call(MON_EXIT, (uint64_t)(uint32_t)code, 0, 0);
    for (;;)
        ;
}

void power_off(void)
{
    power_exit(0);
}
