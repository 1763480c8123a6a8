/* kmain: the boot checklist, then the event loop. Every subsystem's init is one line here.
   Entered at CPL 3 from kernel/arch/x86/boot.S with the Multiboot magic and info address. */
#include <stdint.h>
#include "core/log.h"
#include "core/power.h"
#include "core/serial.h"
#include "arch/x86/cpu.h"
#include "core/clock.h"
#include "core/cmdline.h"
#include "core/heap.h"
#include "core/mboot.h"
#include "core/vga.h"

extern const uint8_t __model_start[], __model_end[];

void kmain(uint32_t mb_magic, uint32_t mb_info)
{
    serial_init();                                  /* COM1 first: everything after can log */
    kprintf("cllm: booting (multiboot magic %#x, info at %#x)\n", (unsigned)mb_magic, (unsigned)mb_info);
    vga_init();                                     /* VGA text console: the log goes to both from here */
    cpu_init();                                     /* CPUID: vendor, brand, SIMD features, TSC leaves */
    mboot_init(mb_magic, mb_info);                  /* Multiboot info: memory map, command line (copied) */
    cmdline_init();                                 /* key=value words of the command line */
    clock_init();                                   /* TSC frequency (CPUID, kvmclock or PIT) -> clock_ns */
    heap_init_from_mboot();                         /* kmalloc over all free RAM: not image, model, loader data */
    kprintf("cllm: model %u bytes at %p\n", (unsigned)(__model_end - __model_start), (const void *)__model_start);
    kprintf("cllm: ok\n");
    power_exit(0);
}
