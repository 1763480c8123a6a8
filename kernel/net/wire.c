/* Dotted-quad parse and format for IPv4 addresses (the config strings and the log). Byte-order helpers are
   inline in net/wire.h. */
#include "net/wire.h"
#include "lib/fmt.h"

int wire_parse_ipv4(const char *s, uint32_t *out)
{
    uint32_t ip = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (unsigned)(*s - '0');
            if (++digits > 3 || v > 255)
                return -1;
            s++;
        }
        if (!digits)
            return -1;
        ip = ip << 8 | v;
        if (part < 3 && *s++ != '.')
            return -1;
    }
    if (*s)
        return -1;
    *out = ip;
    return 0;
}

char *wire_format_ipv4(uint32_t ip, char *buf)
{
    fmt_snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(ip >> 24), (unsigned)(ip >> 16 & 255),
                 (unsigned)(ip >> 8 & 255), (unsigned)(ip & 255));
    return buf;
}
