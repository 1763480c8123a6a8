/* Kernel command line parsing and base64 decoding (core/cmdline.h). The raw string comes from core/mboot.c. */
#include "core/cmdline.h"
#include "lib/parse.h"
#include "lib/string.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int cmdline_parse(struct cmdline *cl, const char *s)
{
    cl->n = 0;
    size_t w = 0;
    while (*s) {
        while (is_space(*s))
            s++;
        if (!*s)
            break;
        size_t start = w;
        char *eq = NULL;
        while (*s && !is_space(*s)) {
            if (w + 1 < sizeof cl->buf) {
                if (*s == '=' && !eq)
                    eq = &cl->buf[w];
                cl->buf[w++] = *s;
            }
            s++;
        }
        if (w + 1 >= sizeof cl->buf || cl->n >= CMDLINE_MAX_ARGS) {
            w = start; /* no room: drop this word */
            continue;
        }
        cl->buf[w++] = 0;
        cl->key[cl->n] = &cl->buf[start];
        if (eq) {
            *eq = 0;
            cl->val[cl->n] = eq + 1;
        } else {
            cl->val[cl->n] = &cl->buf[w - 1]; /* "" */
        }
        cl->n++;
    }
    return cl->n;
}

const char *cmdline_find(const struct cmdline *cl, const char *key)
{
    for (int i = cl->n - 1; i >= 0; i--)
        if (strcmp(cl->key[i], key) == 0)
            return cl->val[i];
    return NULL;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

long base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0, chars = 0;
    size_t i = 0;
    for (; i < len && in[i] != '='; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        chars++;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (chars % 4 == 1)
        return -1; /* one character holds only 6 bits: not a whole byte */
    size_t pad = 0;
    for (; i < len; i++, pad++)
        if (in[i] != '=')
            return -1; /* data after padding */
    if (pad && (pad > 2 || (chars + pad) % 4 != 0))
        return -1;
    if (bits && (acc & ((1u << bits) - 1)))
        return -1; /* non-canonical: leftover bits must be zero */
    return (long)o;
}

static struct cmdline boot_cmdline;

#ifndef CLLM_HOST
#include "core/log.h"
#include "core/mboot.h"

void cmdline_init(void)
{
    int n = cmdline_parse(&boot_cmdline, mboot_get()->cmdline);
    for (int i = 0; i < n; i++)
        log_info("cmdline: %s%s%.*s%s", boot_cmdline.key[i], boot_cmdline.val[i][0] ? "=" : "", 60,
                 boot_cmdline.val[i], strlen(boot_cmdline.val[i]) > 60 ? "..." : "");
}
#endif

const char *cmdline_get(const char *key) { return cmdline_find(&boot_cmdline, key); }

bool cmdline_get_u64(const char *key, uint64_t *out)
{
    const char *v = cmdline_get(key);
    if (!v)
        return false;
    size_t len = strlen(v);
    bool ovf = false;
    uint64_t x;
    if (len == 0 || parse_u64(v, len, &x, &ovf) != len || ovf)
        return false;
    *out = x;
    return true;
}

long cmdline_get_base64(const char *key, uint8_t *out, size_t cap)
{
    const char *v = cmdline_get(key);
    return v ? base64_decode(v, strlen(v), out, cap) : -1;
}
