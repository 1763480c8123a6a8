/* UTF-8 decoding/encoding with llama.cpp's error behaviour and GPT-2's byte <-> code point map.
   The class tables are generated into unicode_tables.c; the lookups are inline in unicode.h. */
#include "llm/unicode.h"

uint32_t unicode_utf8_decode(const uint8_t *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    uint8_t b0 = s[i];
    uint32_t cp;
    unsigned n;

    if (b0 < 0x80) {
        *pos = i + 1;
        return b0;
    }
    if ((b0 & 0xe0) == 0xc0) {
        n = 2;
        cp = b0 & 0x1fu;
    } else if ((b0 & 0xf0) == 0xe0) {
        n = 3;
        cp = b0 & 0x0fu;
    } else if ((b0 & 0xf8) == 0xf0) {
        n = 4;
        cp = b0 & 0x07u;
    } else {
        *pos = i + 1; /* continuation byte or 0xF8..0xFF as lead */
        return UNICODE_REPLACEMENT;
    }
    if (len - i < n) {
        *pos = i + 1;
        return UNICODE_REPLACEMENT;
    }
    for (unsigned k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80) {
            *pos = i + 1;
            return UNICODE_REPLACEMENT;
        }
        cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    if (cp > UNICODE_MAX_CP) {
        *pos = i + 1;
        return UNICODE_REPLACEMENT;
    }
    *pos = i + n;
    return cp;
}

unsigned unicode_utf8_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | ((cp >> 18) & 0x07));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

size_t unicode_utf8_complete_prefix(const uint8_t *s, size_t len)
{
    /* Look back at most 3 bytes for the lead byte of a sequence that the end of s cuts short. */
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        uint8_t b = s[len - back];
        if ((b & 0xc0) == 0x80)
            continue; /* continuation byte: keep looking for its lead */
        unsigned need = 0;
        if (b >= 0xc2 && b <= 0xdf)
            need = 2;
        else if (b >= 0xe0 && b <= 0xef)
            need = 3;
        else if (b >= 0xf0 && b <= 0xf4)
            need = 4;
        return (need > back) ? len - back : len;
    }
    return len;
}

/* Bytes that GPT-2 keeps as their own code point: '!'..'~', 0xA1..0xAC, 0xAE..0xFF. */
static bool byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
}

/* The other 68 bytes, numbered in byte order from U+0100: 0x00..0x20 (33), 0x7F..0xA0 (34), 0xAD. */
uint32_t unicode_byte_to_cp(uint8_t b)
{
    if (byte_is_printable(b))
        return b;
    if (b <= 0x20)
        return 0x100u + b;
    if (b <= 0xa0)
        return 0x100u + 33 + (b - 0x7fu);
    return 0x100u + 67; /* 0xAD */
}

int unicode_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68)
        return -1;
    uint32_t n = cp - 0x100;
    if (n < 33)
        return (int)n;
    if (n < 67)
        return (int)(0x7f + (n - 33));
    return 0xad;
}
