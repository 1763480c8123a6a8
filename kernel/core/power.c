/* power_exit and power_off (core/power.h): both go through the ring-0 monitor, after the queued log
   (core/serial.h) has reached the serial port. */
#include "core/power.h"
#include "arch/x86/monitor.h"
#include "core/serial.h"

void power_exit(int code)
{
    serial_flush();
    monitor_call(MON_EXIT, (uint64_t)(uint32_t)code, 0, 0);
    for (;;)
        ;
}

void power_off(void)
{
    power_exit(0);
}
