/* COM1 serial console (16550 UART at 0x3f8, 115200 8N1): the log and the test harness read it. */
#ifndef CORE_SERIAL_H
#define CORE_SERIAL_H
#include <stddef.h>

void serial_init(void);
void serial_write(const char *s, size_t n);

#endif
