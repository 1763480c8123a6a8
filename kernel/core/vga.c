/* VGA text console (core/vga.h): a shadow of the 80x25 screen in RAM, copied to 0xb8000 (only the 8-byte
   groups that changed) at most every VGA_FLUSH_INTERVAL_NS, and by vga_sync(). Measured under KVM here: one
   8-byte store to the VGA window costs ~17 us (an MMIO exit), a full-screen scroll ~500 of them, so flushing
   on every line would cost milliseconds per log line. Cursor: hidden once at init (CRT controller index
   0x0a, bit 5); moving it would cost port writes (~130 us each as monitor calls) on every line. */
#include "core/vga.h"
#include "arch/x86/io.h"
#include "core/clock.h"
#include "lib/string.h"
#include <stdbool.h>
#include <stdint.h>

#define VGA_COLS 80
#define VGA_ROWS 25
#define VGA_TEXT_BASE 0xb8000u
#define VGA_ATTR 0x07              /* light grey on black */
#define VGA_CRTC_INDEX 0x3d4
#define VGA_CRTC_DATA 0x3d5
#define VGA_CRTC_CURSOR_START 0x0a /* bit 5: cursor disable */

static uint16_t shadow[VGA_ROWS * VGA_COLS];
static uint16_t shown[VGA_ROWS * VGA_COLS]; /* what the frame buffer holds */
static int row, col;
static bool ready, dirty;
static uint64_t last_flush_ns;

#define VGA_FLUSH_INTERVAL_NS 50000000u /* 50 ms */

static void vga_flush(void)
{
    volatile uint64_t *fb = (volatile uint64_t *)(uintptr_t)VGA_TEXT_BASE;
    const uint64_t *want = (const uint64_t *)shadow;
    uint64_t *have = (uint64_t *)shown;
    for (int i = 0; i < VGA_ROWS * VGA_COLS / 4; i++)
        if (want[i] != have[i]) {
            fb[i] = want[i];
            have[i] = want[i];
        }
    dirty = false;
    last_flush_ns = clock_ns();
}

void vga_sync(void)
{
    if (ready && dirty)
        vga_flush();
}

/* True when the text buffer keeps what is written: not so when no VGA BIOS set up text mode (qboot under KVM
   leaves the sequencer's map mask at 0, so writes vanish and reads return 0). */
static bool vga_probe(void)
{
    volatile uint16_t *fb = (volatile uint16_t *)(uintptr_t)VGA_TEXT_BASE;
    uint16_t old = fb[0];
    fb[0] = 0x5a3c;
    bool ok = fb[0] == 0x5a3c;
    fb[0] = old;
    return ok;
}

int vga_init(void)
{
    if (!vga_probe())
        return -1;
    for (int i = 0; i < VGA_ROWS * VGA_COLS; i++) {
        shadow[i] = (uint16_t)(VGA_ATTR << 8 | ' ');
        shown[i] = 0; /* force the first flush to write everything */
    }
    row = col = 0;
    outb(VGA_CRTC_INDEX, VGA_CRTC_CURSOR_START);
    outb(VGA_CRTC_DATA, 0x20);
    ready = true;
    vga_flush();
    return 0;
}

static void vga_newline(void)
{
    col = 0;
    if (++row < VGA_ROWS)
        return;
    memmove(shadow, shadow + VGA_COLS, sizeof shadow - VGA_COLS * sizeof shadow[0]);
    for (int c = 0; c < VGA_COLS; c++)
        shadow[(VGA_ROWS - 1) * VGA_COLS + c] = (uint16_t)(VGA_ATTR << 8 | ' ');
    row = VGA_ROWS - 1;
}

void vga_write(const char *s, size_t n)
{
    if (!ready)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\n':
            vga_newline();
            break;
        case '\r':
            col = 0;
            break;
        case '\t':
            do {
                shadow[row * VGA_COLS + col] = (uint16_t)(VGA_ATTR << 8 | ' ');
                if (++col == VGA_COLS)
                    vga_newline();
            } while (col % 8);
            break;
        case '\b':
            if (col)
                col--;
            break;
        default:
            if (c < 32 || c >= 127)
                c = '?'; /* UTF-8 and controls: code page 437 has other glyphs there */
            shadow[row * VGA_COLS + col] = (uint16_t)(VGA_ATTR << 8 | c);
            if (++col == VGA_COLS)
                vga_newline();
        }
    }
    dirty = true;
    if (clock_ns() - last_flush_ns >= VGA_FLUSH_INTERVAL_NS)
        vga_flush();
}
