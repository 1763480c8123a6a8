/* COM1 16550 UART (PC16550D datasheet): initialised once, then written through the monitor's block write
   (one trap per call, not per byte: port I/O is a trap from CPL 3). */
#include "core/serial.h"
#include "arch/x86/io.h"

#define COM1 0x3f8
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2 /* FIFO control */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LCR_DLAB 0x80
#define UART_LCR_8N1 0x03

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);
    outb(COM1 + UART_LCR, UART_LCR_DLAB);
    outb(COM1 + UART_DLL, 1); /* 115200 baud: divisor 1 */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, UART_LCR_8N1);
    outb(COM1 + UART_FCR, 0xc7); /* enable and clear FIFOs, 14-byte threshold */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

void serial_write(const char *s, size_t n)
{
    if (n)
        monitor_call(MON_SERIAL_WRITE, (uint64_t)(uintptr_t)s, n, 0);
}
