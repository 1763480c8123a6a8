/* panic() (core/panic.h): the message and a backtrace on both consoles, then power_exit(PANIC_EXIT_CODE).
   Backtrace: the frame-pointer chain when the build keeps frame pointers (-fno-omit-frame-pointer), and in
   any case a scan of the stack for words that point into the kernel image (possible return addresses,
   oldest last; stale ones can appear). Resolve them with `addr2line -e OUT/cllm64.elf ADDR...`. */
#include "core/panic.h"
#include "core/log.h"
#include "core/power.h"
#include "core/vga.h"
#include "lib/fmt.h"
#include <stdarg.h>
#include <stdint.h>

#define PANIC_EXIT_CODE 2 /* QEMU exits with 5; arch/x86/fault.c uses its own code for CPU exceptions */
#define PANIC_SCAN_WORDS 256

extern const char __kernel_start[], __kernel_end[];

static int in_text(uint64_t a)
{
    return a >= (uint64_t)(uintptr_t)__kernel_start && a < (uint64_t)(uintptr_t)__kernel_end;
}

static int panicking;

void panic(const char *fmt, ...)
{
    if (panicking++) /* a panic while panicking: just leave */
        power_exit(PANIC_EXIT_CODE);
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kprintf("\nPANIC: %s\n", msg);

    uint64_t rbp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    uint64_t sp = rbp;
    kprintf("  frames:");
    for (int depth = 0; depth < 16; depth++) {
        if (rbp < 0x1000 || (rbp & 7) || rbp < sp || rbp - sp > (1u << 20))
            break; /* not a plausible frame above the last one */
        const uint64_t *fp = (const uint64_t *)(uintptr_t)rbp;
        if (!in_text(fp[1]))
            break;
        kprintf(" %#llx", (unsigned long long)fp[1]);
        sp = rbp;
        rbp = fp[0];
    }
    kprintf("\n  stack scan:");
    const uint64_t *s = (const uint64_t *)__builtin_frame_address(0);
    int shown = 0;
    for (int i = 0; i < PANIC_SCAN_WORDS && shown < 24; i++)
        if (in_text(s[i])) {
            kprintf(" %#llx", (unsigned long long)s[i]);
            shown++;
        }
    kprintf("\n");
    vga_sync();
    power_exit(PANIC_EXIT_CODE);
}
