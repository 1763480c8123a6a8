/* The kernel command line (Multiboot cmdline, QEMU -append): whitespace-separated words, key=value or a bare
   key (value ""). The toolchain passes e.g. `prompt=<base64> n_predict=32` (cllm_build/qemu.py
   kernel_cmdline); base64 (RFC 4648, standard or URL-safe alphabet, padding optional) carries text with
   spaces. Parsing is pure (host-tested); cmdline_init() parses the boot command line from core/mboot.c. */
#ifndef CORE_CMDLINE_H
#define CORE_CMDLINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"

#define CMDLINE_MAX_ARGS 64

struct cmdline {
    char buf[MBOOT_CMDLINE_MAX]; /* the words, NUL-separated */
    int n;
    const char *key[CMDLINE_MAX_ARGS], *val[CMDLINE_MAX_ARGS];
};

/* Returns the number of words kept (extra words beyond CMDLINE_MAX_ARGS or past the buffer are dropped). */
int cmdline_parse(struct cmdline *cl, const char *s);
const char *cmdline_find(const struct cmdline *cl, const char *key); /* last value of key, NULL if absent */

/* Decodes base64 text in[0..len) into out (cap bytes). Returns the decoded length, -1 on a character outside
   the alphabet, misplaced padding, a dangling single character, or when out is too small. */
long base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* The boot command line (after mboot_init). */
void cmdline_init(void);
const char *cmdline_get(const char *key);
bool cmdline_get_u64(const char *key, uint64_t *out);           /* false: absent or not a whole number */
long cmdline_get_base64(const char *key, uint8_t *out, size_t cap); /* -1: absent or bad base64 */

#endif
