/* VGA text console (80x25 at 0xb8000, colour text mode 3, as the firmware leaves it): the second console
   beside COM1; core/log.c writes every line to both. Writes go to a RAM shadow that reaches the frame buffer
   at most every 50 ms or on vga_sync(), only the cells that changed (the VGA window is slow emulated MMIO). */
#ifndef CORE_VGA_H
#define CORE_VGA_H
#include <stddef.h>

/* Clears the screen and hides the cursor; -1 (and vga_write stays a no-op) when there is no text mode to
   write to: under qboot no VGA BIOS runs, so the text buffer does not keep what is written. */
int vga_init(void);
void vga_write(const char *s, size_t n);  /* \n \r \t \b handled; scrolls at the bottom; shown within 50 ms */
void vga_sync(void);                      /* show what was written now (idle loop, panic); cheap when clean */

#endif
