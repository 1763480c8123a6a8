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
#include "lib/fmt.h"
#include "lib/string.h"
#include "drivers/pci.h"
#include "http/http_server.h"
#include "llm/engine_boot.h"
#include "llm/ggml_types.h"
#include "net/net.h"

extern const uint8_t __model_start[], __model_end[];

/* The event loop's first sched_step opens the model (~15 ms of tokenizer and tensor tables, api/sched.c), during
   which nothing else runs; until the address is configured (DHCP's first exchange takes a round trip or two) or
   this much time has passed since kernel entry, it waits, so the kernel is reachable first (/health says 503
   while the model opens) and a missing DHCP server delays the model little. */
#define KMAIN_NET_FIRST_NS 100000000ull /* 100 ms */
/* The queued log is written out when the loop is idle; while it is busy (a long generation), a piece still goes
   out this often: at most ~2.5 ms of traps per 100 ms, and only while something is queued. */
#define KMAIN_LOG_MAX_DELAY_NS 100000000ull /* 100 ms */

/* The quant kernel set: the best the CPU has (AVX-512 VNNI, AVX2+FMA, SSE2), capped by `simd=` on the command
   line (scalar|sse2|avx2|avx512; `cllm run/bench --simd`), so the slower paths can be measured and tested on a
   machine that has the faster ones. An unknown value is logged and ignored. */
static void kmain_init_simd(void)
{
    const struct cpu_features *f = &cpu_features;
    uint32_t have = GGML_CPU_SSE2 | (f->ssse3 ? GGML_CPU_SSSE3 : 0) |
                    (f->avx2 && f->avx_usable ? GGML_CPU_AVX2 : 0) | (f->fma && f->avx_usable ? GGML_CPU_FMA : 0) |
                    (f->avx512_usable && f->avx512bw && f->avx512vl && f->avx512vnni ? GGML_CPU_AVX512 : 0);
    const char *cap = cmdline_get("simd");
    if (cap) {
        if (strcmp(cap, "scalar") == 0)
            have = 0;
        else if (strcmp(cap, "sse2") == 0)
            have &= GGML_CPU_SSE2 | GGML_CPU_SSSE3;
        else if (strcmp(cap, "avx2") == 0)
            have &= ~GGML_CPU_AVX512;
        else if (strcmp(cap, "avx512") != 0 && strcmp(cap, "auto") != 0)
            log_warn("simd=%s: unknown (scalar|sse2|avx2|avx512|auto), ignored", cap);
    }
    ggml_types_init_simd(have);
    log_info("llm: %s quant kernels%s%s", ggml_types_simd_name(), cap ? ", simd=" : "", cap ? cap : "");
}

/* log=sync on the command line: write every log line at once instead of queueing it for the idle loop (slower
   boot, but a hang before the event loop still shows everything logged so far). */
static void kmain_init_log(void)
{
    const char *mode = cmdline_get("log");
    if (mode && strcmp(mode, "sync") == 0)
        serial_set_sync(true);
    else if (mode && strcmp(mode, "queue") != 0)
        log_warn("log=%s: unknown (sync|queue), ignored", mode);
}

/* Up to CLLM_LOG_DRAIN_BYTES of the queued log (core/serial.h), in pieces of KMAIN_LOG_PIECE bytes (~20 us per
   byte under kvm-pvm), stopping early when a frame has arrived: a request waits for at most one piece. Returns
   the bytes written. */
#define KMAIN_LOG_PIECE 32
static size_t kmain_drain_log(void)
{
    size_t done = 0, n;
    while (done < CLLM_LOG_DRAIN_BYTES && !net_rx_ready() && (n = serial_drain(KMAIN_LOG_PIECE)) != 0)
        done += n;
    return done;
}

/* Boot profile: the TSC after each step of the checklist below, logged as one line ("boot: steps ...", in
   microseconds; `cllm bench` prints it) once the kernel listens, so a slow step shows without a debugger. */
#define KMAIN_MAX_STEPS 24
static struct kmain_step { const char *name; uint64_t tsc; } kmain_steps[KMAIN_MAX_STEPS];
static int kmain_nsteps;

static void kmain_step(const char *name)
{
    if (kmain_nsteps < KMAIN_MAX_STEPS)
        kmain_steps[kmain_nsteps++] = (struct kmain_step){name, rdtsc()};
}

static void kmain_log_steps(void)
{
    char line[400];
    size_t n = 0;
    uint64_t khz = clock_tsc_hz() / 1000u, prev = clock_tsc_boot();
    for (int i = 0; i < kmain_nsteps && khz && n < sizeof line; i++) {
        uint64_t ticks = kmain_steps[i].tsc - prev;
        prev = kmain_steps[i].tsc;
        n += (size_t)fmt_snprintf(line + n, sizeof line - n, " %s=%llu", kmain_steps[i].name,
                                  (unsigned long long)(ticks * 1000u / khz));
    }
    log_info("boot: steps (us from kernel entry, each after the one before):%s", n ? line : " n/a");
}

/* boot.S stamps the TSC when the loader jumps to _start; kmain's clock starts at its own entry. Under kvm-pvm
   the CPL-0 code between the two is emulated, so this is where a slow boot.S shows. */
static void kmain_log_boot_time(void)
{
    extern const uint64_t boot_tsc_entry;
    uint64_t khz = clock_tsc_hz() / 1000u, entry = clock_tsc_boot();
    if (!boot_tsc_entry || !khz || entry < boot_tsc_entry)
        return;
    uint64_t ticks = entry - boot_tsc_entry;
    log_info("boot: loader hand-off to kmain %llu us (boot.S, emulated at CPL 0 under kvm-pvm); TSC at _start %llu",
             (unsigned long long)(ticks / khz * 1000u + ticks % khz * 1000u / khz),
             (unsigned long long)boot_tsc_entry);
}

void kmain(uint32_t mb_magic, uint32_t mb_info)
{
    clock_ns();                                     /* the clock counts from here: kernel entry at CPL 3 */
    serial_init();                                  /* COM1 first: everything after can log */
    serial_write("cllm: booting\n", 14);            /* at once, and short: the host times kernel entry by it */
    kmain_step("serial");
    log_info("cllm: multiboot magic %#x, info at %#x", (unsigned)mb_magic, (unsigned)mb_info);
    if (vga_init() < 0)                             /* VGA text console: the log goes to both from here */
        log_info("vga: no text mode (no VGA BIOS ran, e.g. qboot): serial console only");
    kmain_step("vga");
    cpu_init();                                     /* CPUID: vendor, brand, SIMD features, TSC leaves */
    mboot_init(mb_magic, mb_info);                  /* Multiboot info: memory map, command line (copied) */
    cmdline_init();                                 /* key=value words of the command line */
    kmain_init_log();                               /* log=sync: every log line written at once (debugging) */
    kmain_init_simd();                              /* quant kernels: SIMD twins by CPU feature, simd= caps */
    if (cmdline_get("fault"))                       /* fault=pf|ud|de|gp: the exception path's self-test */
        fault_selftest(cmdline_get("fault"));
    kmain_step("cpu+cmdline");
    clock_init();                                   /* TSC frequency (CPUID, kvmclock or PIT) -> clock_ns */
    kmain_log_boot_time();                          /* how long boot.S took (loader hand-off to kmain) */
    kmain_step("clock");
    heap_init_from_mboot();                         /* kmalloc over all free RAM: not image, model, loader data */
    kmain_step("heap");
    irq_init();                                     /* LAPIC on, IOAPIC pins masked until routed, tick calibrating */
    kmain_step("irq");
    smp_init();                                     /* MADT CPUs: the first AP's INIT-SIPI (smp_poll does the rest) */
    kmain_step("smp");
    log_info("cllm: model %u bytes at %p", (unsigned)(__model_end - __model_start), (const void *)__model_start);
    pci_init_until_class(PCI_CLASS_NETWORK);        /* enumerate PCI up to the NIC (pci_poll: the rest, later) */
    kmain_step("pci");
    if (net_init() < 0)                             /* e1000, then DHCP or the static address */
        log_error("net: no usable network interface; serving nothing");
    kmain_step("net");
    if (!http_server_init(CLLM_HTTP_PORT))          /* listen; routes: GET /health */
        log_error("http: cannot listen on port %u", (unsigned)CLLM_HTTP_PORT);
    api_init();                                     /* API routes; /health says 503 until the model is open */
    kmain_step("http+api");
    irq_start_timer();                              /* the 100 Hz tick (its calibration window spans the boot) */
    log_info("cllm: initialised in %llu us from kernel entry; HTTP on port %u", (unsigned long long)clock_us(),
             (unsigned)CLLM_HTTP_PORT);
    engine_boot_selftest();                         /* prompt= on the command line: print its completion, power off */

    int announced = 0;
    uint64_t log_drained_ns = 0;
    for (;;) {
        bool worked = net_poll();                   /* RX ring, ARP/IP/TCP/DHCP, protocol timers, TX flush */
        if (!announced && net_is_configured()) {    /* an address (static or DHCP) and the listener: reachable */
            announced = 1;
            kmain_step("listen");
            log_info("cllm: listening, %llu us from kernel entry", (unsigned long long)clock_us());
            kmain_log_steps();
        }
        worked |= http_server_poll(clock_ns());     /* accept, parse, route, push response bytes */
        worked |= smp_poll();                       /* APs coming up: the next one started as each arrives */
        worked |= pci_poll();                       /* the rest of the PCI scan, a slot at a time */
        if (net_is_configured() || clock_ns() > KMAIN_NET_FIRST_NS) /* network first (see KMAIN_NET_FIRST_NS) */
            worked |= sched_step(clock_ns());       /* open the model once, then one unit of work per slot */
        if (!worked) {
            if (!kmain_drain_log() && !net_rx_ready()) /* idle: a piece of the queued log, if any, */
                cpu_wait_irq();                     /* else halt until the tick or a device interrupt */
            log_drained_ns = clock_ns();
        } else if (serial_pending() && clock_ns() - log_drained_ns > KMAIN_LOG_MAX_DELAY_NS) {
            serial_drain(CLLM_LOG_DRAIN_BYTES);     /* busy for long: a piece anyway, so the log keeps up */
            log_drained_ns = clock_ns();
        }
        irq_take_pending();
    }
}
