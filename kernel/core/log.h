/* Leveled logging to the consoles (serial and VGA): "[   1.234567] I net: message".
   The level threshold comes from the build configuration (CLLM_LOG_LEVEL). Log lines are queued for the serial
   port and written out by the idle event loop (core/serial.h; `log=sync` on the command line writes them at
   once); kprintf writes raw text at once, after whatever is queued.
   In host builds tests/host/shim.c writes to stderr. */
#ifndef CORE_LOG_H
#define CORE_LOG_H

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN = 1, LOG_LEVEL_INFO = 2, LOG_LEVEL_DEBUG = 3 };

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
