/* kmain: the boot checklist, then the event loop. Every subsystem's init is one line here.
   Entered at CPL 3 from kernel/arch/x86/boot.S with the Multiboot magic and info address. */
#include <stdint.h>
#include "api/api.h"
#include "api/sched.h"
#include "arch/x86/cpu.h"
#include "arch/x86/fault.h"
#include "arch/x86/io.h"
#include "arch/x86/irq.h"
#include "arch/x86/smp.h"
#include "core/clock.h"
#include "core/cmdline.h"
#include "core/heap.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mboot.h"
#include "core/power.h"
#include "core/serial.h"
#include "core/vga.h"
#include "drivers/pci.h"
#include "http/http_server.h"
#include "llm/engine_boot.h"
#include "llm/ggml_types.h"
#include "net/net.h"

extern const uint8_t __model_start[], __model_end[];

void kmain(uint32_t mb_magic, uint32_t mb_info)
{
    clock_ns();                                     /* the clock counts from here: kernel entry at CPL 3 */
    serial_init();                                  /* COM1 first: everything after can log */
    kprintf("cllm: booting (multiboot magic %#x, info at %#x)\n", (unsigned)mb_magic, (unsigned)mb_info);
    if (vga_init() < 0)                             /* VGA text console: the log goes to both from here */
        kprintf("vga: no text mode (no VGA BIOS ran, e.g. qboot): serial console only\n");
    cpu_init();                                     /* CPUID: vendor, brand, SIMD features, TSC leaves */
    ggml_types_init_simd(GGML_CPU_SSE2 |            /* quant kernels: SIMD twins by CPU feature */
                         (cpu_features.ssse3 ? GGML_CPU_SSSE3 : 0) |
                         (cpu_features.avx2 && cpu_features.avx_usable ? GGML_CPU_AVX2 : 0) |
                         (cpu_features.fma && cpu_features.avx_usable ? GGML_CPU_FMA : 0));
    log_info("llm: %s quant kernels", ggml_types_simd_name());
    mboot_init(mb_magic, mb_info);                  /* Multiboot info: memory map, command line (copied) */
    cmdline_init();                                 /* key=value words of the command line */
    if (cmdline_get("fault"))                       /* fault=pf|ud|de|gp: the exception path's self-test */
        fault_selftest(cmdline_get("fault"));
    clock_init();                                   /* TSC frequency (CPUID, kvmclock or PIT) -> clock_ns */
    heap_init_from_mboot();                         /* kmalloc over all free RAM: not image, model, loader data */
    irq_init();                                     /* LAPIC on, 100 Hz tick, IOAPIC pins masked until routed */
    smp_init();                                     /* MADT CPUs up (INIT-SIPI-SIPI); APs run the matmul workers */
    kprintf("cllm: model %u bytes at %p\n", (unsigned)(__model_end - __model_start), (const void *)__model_start);
    pci_init();                                     /* enumerate PCI, assign BARs the firmware left unset */
    if (net_init() < 0)                             /* e1000, then DHCP or the static address */
        log_error("net: no usable network interface; serving nothing");
    if (!http_server_init(CLLM_HTTP_PORT))          /* listen; routes: GET /health */
        log_error("http: cannot listen on port %u", (unsigned)CLLM_HTTP_PORT);
    api_init();                                     /* API routes; /health says 503 until the model is open */
    log_info("cllm: initialised in %llu us from kernel entry; HTTP on port %u", (unsigned long long)clock_us(),
             (unsigned)CLLM_HTTP_PORT);
    engine_boot_selftest();                         /* prompt= on the command line: print its completion, power off */

    int announced = 0;
    for (;;) {
        bool worked = net_poll();                   /* RX ring, ARP/IP/TCP/DHCP, protocol timers, TX flush */
        worked |= http_server_poll(clock_ns());     /* accept, parse, route, push response bytes */
        worked |= sched_step(clock_ns());           /* open the model once, then one unit of work per slot */
        if (!announced && net_is_configured()) {
            announced = 1;
            log_info("cllm: listening, %llu us from kernel entry", (unsigned long long)clock_us());
        }
        if (!worked)
            cpu_wait_irq();                         /* halt until the tick or a device interrupt */
        irq_take_pending();
    }
}
