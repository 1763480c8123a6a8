/* panic(): print the message and a backtrace on the consoles, then power_exit with a non-zero status.
   Never called from code reachable by network input (errors there are values). */
#ifndef CORE_PANIC_H
#define CORE_PANIC_H

void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
