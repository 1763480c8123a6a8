/* power_exit and power_off, declared in core/power.h. */
#include "core/power.h"
#include "arch/x86/io.h"

#define ISA_DEBUG_EXIT_PORT 0xf4 /* QEMU -device isa-debug-exit,iobase=0xf4,iosize=0x04 */

void power_off(void)
{
    outw(0x604, 0x2000);  /* QEMU q35/pc ACPI PM1a control: SLP_TYP=0, SLP_EN */
    outw(0xb004, 0x2000); /* older QEMU / Bochs */
    for (;;) {
        irq_disable();
        cpu_halt();
    }
}

void power_exit(int code)
{
    outl(ISA_DEBUG_EXIT_PORT, (uint32_t)code);
    power_off();
}
