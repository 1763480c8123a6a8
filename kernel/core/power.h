/* Leaving the machine: power_exit() reports a status through QEMU's isa-debug-exit device (port 0xf4, QEMU
   exits with (code << 1) | 1), then powers off (ACPI/QEMU ports) and finally halts forever. */
#ifndef CORE_POWER_H
#define CORE_POWER_H

void power_exit(int code) __attribute__((noreturn));
void power_off(void) __attribute__((noreturn));

#endif
