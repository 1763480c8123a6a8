/* HTTP/1.1 request parsing: head scanner, head parser and chunked decoder (RFC 9112, RFC 9110 for field semantics).
   Strict where the RFC allows a choice: CRLF only, no obsolete line folding, no whitespace before a field's colon,
   one space between request-line parts. Interface: http/http_parse.h; driven by http/http_conn.c. */
#include "http/http_parse.h"
#include "lib/string.h"

static const char *const method_names[HTTP_METHOD_COUNT] = {
    [HTTP_METHOD_UNKNOWN] = "UNKNOWN", [HTTP_METHOD_GET] = "GET",         [HTTP_METHOD_HEAD] = "HEAD",
    [HTTP_METHOD_POST] = "POST",       [HTTP_METHOD_PUT] = "PUT",         [HTTP_METHOD_DELETE] = "DELETE",
    [HTTP_METHOD_OPTIONS] = "OPTIONS", [HTTP_METHOD_PATCH] = "PATCH",
};

const char *http_method_name(enum http_method m)
{
    return (unsigned)m < HTTP_METHOD_COUNT ? method_names[m] : "UNKNOWN";
}

/* tchar (RFC 9110 5.6.2): the characters of a token. */
static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

/* field-value characters (RFC 9110 5.5): VCHAR, obs-text, SP, HTAB */
static bool is_field_char(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

static bool ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (lower((uint8_t)a[i]) != lower((uint8_t)b[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Head scanner */

enum { SCAN_LINE_START, SCAN_IN_LINE, SCAN_CR, SCAN_BLANK_CR };

void http_head_scan_init(struct http_head_scan *s)
{
    s->pos = 0;
    s->start = 0;
    s->state = SCAN_LINE_START;
    s->first_line = true;
}

int http_head_scan(struct http_head_scan *s, const char *buf, size_t len, size_t max_head, size_t *head_end)
{
    while (s->pos < len) {
        uint8_t c = (uint8_t)buf[s->pos];
        switch (s->state) {
        case SCAN_LINE_START:
            if (c == '\r') {
                s->state = SCAN_BLANK_CR;
                break;
            }
            if (c == '\n')
                return 400; /* bare LF */
            if (c == ' ' || c == '\t')
                return 400; /* obs-fold, or whitespace before the request line */
            s->state = SCAN_IN_LINE;
            __attribute__((fallthrough)); /* check the byte */
        case SCAN_IN_LINE:
            if (c == '\r') {
                s->state = SCAN_CR;
            } else if (c == '\n') {
                return 400;
            } else if (s->first_line ? (c < 0x20 || c >= 0x7f) : !is_field_char(c)) {
                return 400; /* control byte (or non-ASCII in the request line) */
            }
            break;
        case SCAN_CR:
            if (c != '\n')
                return 400; /* bare CR */
            s->first_line = false;
            s->state = SCAN_LINE_START;
            break;
        case SCAN_BLANK_CR:
            if (c != '\n')
                return 400;
            if (s->first_line) { /* an empty line before the request line: skip it */
                s->start = s->pos + 1;
                s->state = SCAN_LINE_START;
                break;
            }
            s->pos++;
            if (s->pos - s->start > max_head)
                return 431;
            *head_end = s->pos;
            return HTTP_SCAN_DONE;
        }
        s->pos++;
        if (s->pos - s->start > max_head)
            return s->first_line ? 414 : 431;
    }
    return HTTP_SCAN_MORE;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Head parser */

static int head_fail(struct http_head *h, int status, const char *why)
{
    h->error = why;
    return status;
}

/* Find the CRLF that ends the line starting at p; NULL when a bare CR or LF comes first or none is there. */
static const char *line_end(const char *p, const char *end)
{
    for (const char *q = p; q < end; q++) {
        if (*q == '\r')
            return (q + 1 < end && q[1] == '\n') ? q : NULL;
        if (*q == '\n')
            return NULL;
    }
    return NULL;
}

static int parse_request_line(const char *p, const char *eol, struct http_head *h)
{
    const char *m = p;
    while (p < eol && *p != ' ') {
        if (!is_tchar((uint8_t)*p))
            return head_fail(h, 400, "invalid character in method");
        p++;
    }
    size_t mlen = (size_t)(p - m);
    if (mlen == 0 || p >= eol)
        return head_fail(h, 400, "malformed request line");
    p++; /* SP */
    const char *t = p;
    while (p < eol && *p != ' ') {
        uint8_t c = (uint8_t)*p;
        if (c <= 0x20 || c >= 0x7f)
            return head_fail(h, 400, "invalid character in request target");
        p++;
    }
    if (p == t || p >= eol)
        return head_fail(h, 400, "malformed request line");
    h->target = t;
    h->target_len = (size_t)(p - t);
    p++; /* SP */
    if (eol - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' ||
        p[7] > '9')
        return head_fail(h, 400, "malformed HTTP version");
    if (p[5] != '1')
        return head_fail(h, 505, "HTTP version not supported");
    h->version_minor = p[7] == '0' ? 0 : 1;

    h->method = HTTP_METHOD_UNKNOWN;
    for (int i = 1; i < HTTP_METHOD_COUNT; i++)
        if (strlen(method_names[i]) == mlen && memcmp(method_names[i], m, mlen) == 0)
            h->method = (enum http_method)i;
    if (h->method == HTTP_METHOD_UNKNOWN)
        return head_fail(h, 501, "method not implemented");

    /* request-target forms (RFC 9112 3.2) */
    const char *tg = h->target, *tend = h->target + h->target_len;
    for (const char *q = tg; q < tend; q++)
        if (*q == '#')
            return head_fail(h, 400, "fragment in request target");
    const char *path = NULL;
    if (tg[0] == '/') {
        path = tg;
    } else if (h->target_len == 1 && tg[0] == '*') {
        if (h->method != HTTP_METHOD_OPTIONS)
            return head_fail(h, 400, "asterisk-form is only for OPTIONS");
        path = tg;
    } else {
        size_t skip = 0;
        if (h->target_len >= 7 && ieq(tg, 7, "http://"))
            skip = 7;
        else if (h->target_len >= 8 && ieq(tg, 8, "https://"))
            skip = 8;
        else
            return head_fail(h, 400, "unsupported request-target form");
        const char *a = tg + skip;
        while (a < tend && *a != '/' && *a != '?')
            a++;
        if (a == tg + skip)
            return head_fail(h, 400, "empty authority in absolute-form target");
        path = a;
    }
    const char *qm = path;
    while (qm < tend && *qm != '?')
        qm++;
    if (qm == path) { /* absolute-form without a path: "http://host" or "http://host?q" */
        h->path = "/";
        h->path_len = 1;
    } else {
        h->path = path;
        h->path_len = (size_t)(qm - path);
    }
    if (qm < tend) {
        h->query = qm + 1;
        h->query_len = (size_t)(tend - qm - 1);
    }
    return 0;
}

const struct http_header *http_head_find(const struct http_head *head, const char *name)
{
    for (size_t i = 0; i < head->n_headers; i++)
        if (ieq(head->headers[i].name, head->headers[i].name_len, name))
            return &head->headers[i];
    return NULL;
}

/* Iterate the elements of a comma-separated list value (RFC 9110 5.6.1): empty elements are skipped. */
static bool list_next(const char **p, const char *end, const char **item, size_t *item_len)
{
    while (*p < end) {
        const char *s = *p;
        while (*p < end && **p != ',')
            (*p)++;
        const char *e = *p;
        if (*p < end)
            (*p)++; /* the comma */
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            *item = s;
            *item_len = (size_t)(e - s);
            return true;
        }
    }
    return false;
}

bool http_head_has_token(const struct http_head *head, const char *name, const char *token)
{
    for (size_t i = 0; i < head->n_headers; i++) {
        const struct http_header *f = &head->headers[i];
        if (!ieq(f->name, f->name_len, name))
            continue;
        const char *p = f->value, *item;
        size_t n;
        while (list_next(&p, f->value + f->value_len, &item, &n))
            if (ieq(item, n, token))
                return true;
    }
    return false;
}

/* Content-Length (RFC 9110 8.6): every value of every field must be the same 1*DIGIT. */
static int parse_content_length(struct http_head *h, bool *present, uint64_t *value, bool *huge)
{
    *present = false;
    *huge = false;
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http_header *f = &h->headers[i];
        if (!ieq(f->name, f->name_len, "content-length"))
            continue;
        const char *p = f->value, *end = f->value + f->value_len, *item;
        size_t n;
        bool any = false;
        size_t commas = 0, items = 0;
        for (const char *q = p; q < end; q++)
            commas += *q == ',';
        while (list_next(&p, end, &item, &n)) {
            items++;
            uint64_t v = 0;
            bool big = false;
            for (size_t k = 0; k < n; k++) {
                if (item[k] < '0' || item[k] > '9')
                    return head_fail(h, 400, "malformed Content-Length");
                if (v > (UINT64_MAX - 9) / 10)
                    big = true;
                else
                    v = v * 10 + (uint64_t)(item[k] - '0');
            }
            if (*present && (v != *value || big != *huge))
                return head_fail(h, 400, "conflicting Content-Length values");
            *present = true;
            *value = v;
            *huge = big;
            any = true;
        }
        if (!any)
            return head_fail(h, 400, "empty Content-Length");
        if (items != commas + 1) /* "3," or ", 3": no empty elements where framing is decided */
            return head_fail(h, 400, "malformed Content-Length");
    }
    return 0;
}

/* Transfer-Encoding: chunked must be the last coding, applied once; other codings are not implemented. */
static int parse_transfer_encoding(struct http_head *h, bool *present)
{
    *present = false;
    size_t n_codings = 0, n_chunked = 0;
    bool last_chunked = false, unknown = false;
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http_header *f = &h->headers[i];
        if (!ieq(f->name, f->name_len, "transfer-encoding"))
            continue;
        *present = true;
        const char *p = f->value, *item;
        size_t n;
        while (list_next(&p, f->value + f->value_len, &item, &n)) {
            n_codings++;
            last_chunked = ieq(item, n, "chunked");
            if (last_chunked)
                n_chunked++;
            else
                unknown = true;
        }
    }
    if (!*present)
        return 0;
    if (n_codings == 0)
        return head_fail(h, 400, "empty Transfer-Encoding");
    if (!last_chunked)
        return head_fail(h, 400, "final transfer coding is not chunked");
    if (n_chunked > 1)
        return head_fail(h, 400, "chunked applied more than once");
    if (unknown)
        return head_fail(h, 501, "transfer coding not implemented");
    return 0;
}

int http_parse_head(const char *buf, size_t len, uint64_t max_body, struct http_head *h)
{
    memset(h, 0, sizeof *h);
    const char *p = buf, *end = buf + len;
    const char *eol = line_end(p, end);
    if (!eol)
        return head_fail(h, 400, "malformed request line");
    int st = parse_request_line(p, eol, h);
    if (st)
        return st;
    p = eol + 2;

    for (;;) {
        eol = line_end(p, end);
        if (!eol)
            return head_fail(h, 400, "header line not ended by CRLF");
        if (eol == p) { /* the blank line */
            p += 2;
            break;
        }
        if (*p == ' ' || *p == '\t')
            return head_fail(h, 400, "obsolete line folding");
        const char *n = p;
        while (n < eol && *n != ':') {
            if (!is_tchar((uint8_t)*n))
                return head_fail(h, 400, "invalid character in header name");
            n++;
        }
        if (n == p || n >= eol)
            return head_fail(h, 400, "malformed header line");
        const char *v = n + 1, *ve = eol;
        for (const char *q = v; q < ve; q++)
            if (!is_field_char((uint8_t)*q))
                return head_fail(h, 400, "invalid character in header value");
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (h->n_headers >= CLLM_HTTP_MAX_HEADERS)
            return head_fail(h, 431, "too many header fields");
        struct http_header *f = &h->headers[h->n_headers++];
        f->name = p;
        f->name_len = (size_t)(n - p);
        f->value = v;
        f->value_len = (size_t)(ve - v);
        p = eol + 2;
    }
    if (p != end)
        return head_fail(h, 400, "data after the head");

    size_t n_host = 0;
    for (size_t i = 0; i < h->n_headers; i++)
        if (ieq(h->headers[i].name, h->headers[i].name_len, "host"))
            n_host++;
    if (n_host > 1)
        return head_fail(h, 400, "more than one Host header");
    if (n_host == 0 && h->version_minor >= 1)
        return head_fail(h, 400, "missing Host header");

    bool has_cl, huge, has_te;
    uint64_t cl = 0;
    if ((st = parse_content_length(h, &has_cl, &cl, &huge)) != 0)
        return st;
    if ((st = parse_transfer_encoding(h, &has_te)) != 0) {
        if (h->version_minor == 0 && has_te)
            return head_fail(h, 400, "Transfer-Encoding in an HTTP/1.0 request");
        return st;
    }
    if (has_te && has_cl)
        return head_fail(h, 400, "both Content-Length and Transfer-Encoding");
    if (has_te && h->version_minor == 0)
        return head_fail(h, 400, "Transfer-Encoding in an HTTP/1.0 request");

    if (h->version_minor >= 1)
        h->keep_alive = !http_head_has_token(h, "connection", "close");
    else
        h->keep_alive = http_head_has_token(h, "connection", "keep-alive") &&
                        !http_head_has_token(h, "connection", "close");

    const struct http_header *ex = http_head_find(h, "expect");
    if (ex) {
        if (!ieq(ex->value, ex->value_len, "100-continue"))
            return head_fail(h, 417, "unsupported expectation");
        h->expect_continue = h->version_minor >= 1;
    }

    if (has_te) {
        h->body_kind = HTTP_BODY_CHUNKED;
    } else if (has_cl) {
        if (huge || cl > max_body)
            return head_fail(h, 413, "request body too large");
        h->content_length = cl;
        h->body_kind = cl ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Chunked decoder */

enum {
    CH_SIZE_FIRST,   /* first hex digit of a chunk size */
    CH_SIZE,         /* more hex digits, or what ends the size */
    CH_SIZE_WS,      /* whitespace after the size: ';' or CR next */
    CH_EXT,          /* chunk extensions */
    CH_EXT_QUOTED,
    CH_EXT_QUOTED_ESC,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START,
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
};

#define CHUNK_LINE_MAX 4096 /* bytes of one chunk-size line with its extensions */

void http_chunked_init(struct http_chunked *c, uint64_t limit)
{
    memset(c, 0, sizeof *c);
    c->state = CH_SIZE_FIRST;
    c->limit = limit;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int http_chunked_decode(struct http_chunked *c, const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
                        size_t out_cap, size_t *produced)
{
    size_t i = 0, o = 0;
    int ret = HTTP_CHUNKED_MORE;
    while (i < len && ret == HTTP_CHUNKED_MORE) {
        uint8_t b = in[i];
        if (c->state == CH_DATA) {
            uint64_t n = c->remaining;
            if (n > len - i)
                n = len - i;
            if (n > out_cap - o)
                n = out_cap - o;
            if (n == 0)
                break; /* out is full */
            memcpy(out + o, in + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
            c->remaining -= n;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        i++;
        if (c->state <= CH_SIZE_LF && ++c->line_len > CHUNK_LINE_MAX) {
            ret = 400;
            break;
        }
        if (c->state >= CH_TRAILER_START && c->state <= CH_END_LF &&
            ++c->trailer_len > CLLM_HTTP_MAX_HEADER) {
            ret = 431;
            break;
        }
        switch (c->state) {
        case CH_SIZE_FIRST:
        case CH_SIZE: {
            int h = hexval(b);
            if (h >= 0) {
                c->state = CH_SIZE;
                if (c->size && ++c->digits > 15) { /* 16 significant digits at most: no overflow */
                    ret = 413;
                    break;
                }
                c->size = c->size * 16 + (uint64_t)h;
                if (c->size > c->limit - c->total)
                    ret = 413;
                break;
            }
            if (c->state == CH_SIZE_FIRST) {
                ret = 400;
                break;
            }
            if (b == '\r')
                c->state = CH_SIZE_LF;
            else if (b == ' ' || b == '\t')
                c->state = CH_SIZE_WS;
            else if (b == ';')
                c->state = CH_EXT;
            else
                ret = 400;
            break;
        }
        case CH_SIZE_WS:
            if (b == ';')
                c->state = CH_EXT;
            else if (b == '\r')
                c->state = CH_SIZE_LF;
            else if (b != ' ' && b != '\t')
                ret = 400;
            break;
        case CH_EXT:
            if (b == '\r')
                c->state = CH_SIZE_LF;
            else if (b == '"')
                c->state = CH_EXT_QUOTED;
            else if (!(is_tchar(b) || b == ';' || b == '=' || b == ' ' || b == '\t'))
                ret = 400;
            break;
        case CH_EXT_QUOTED:
            if (b == '"')
                c->state = CH_EXT;
            else if (b == '\\')
                c->state = CH_EXT_QUOTED_ESC;
            else if (!is_field_char(b))
                ret = 400;
            break;
        case CH_EXT_QUOTED_ESC:
            if (!is_field_char(b))
                ret = 400;
            else
                c->state = CH_EXT_QUOTED;
            break;
        case CH_SIZE_LF:
            if (b != '\n') {
                ret = 400;
                break;
            }
            c->line_len = 0;
            c->digits = 0;
            if (c->size == 0) {
                c->state = CH_TRAILER_START;
            } else {
                c->total += c->size;
                c->remaining = c->size;
                c->size = 0;
                c->state = CH_DATA;
            }
            break;
        case CH_DATA_CR:
            if (b == '\r')
                c->state = CH_DATA_LF;
            else
                ret = 400;
            break;
        case CH_DATA_LF:
            if (b == '\n')
                c->state = CH_SIZE_FIRST;
            else
                ret = 400;
            break;
        case CH_TRAILER_START:
            if (b == '\r')
                c->state = CH_END_LF;
            else if (is_tchar(b))
                c->state = CH_TRAILER_NAME;
            else
                ret = 400; /* bare LF, obs-fold, or a bad name */
            break;
        case CH_TRAILER_NAME:
            if (b == ':')
                c->state = CH_TRAILER_VALUE;
            else if (!is_tchar(b))
                ret = 400;
            break;
        case CH_TRAILER_VALUE:
            if (b == '\r')
                c->state = CH_TRAILER_LF;
            else if (!is_field_char(b))
                ret = 400;
            break;
        case CH_TRAILER_LF:
            if (b == '\n')
                c->state = CH_TRAILER_START;
            else
                ret = 400;
            break;
        case CH_END_LF:
            if (b == '\n') {
                c->state = CH_DONE;
                ret = HTTP_CHUNKED_DONE;
            } else {
                ret = 400;
            }
            break;
        default:
            ret = 400;
        }
    }
    if (c->state == CH_DONE)
        ret = HTTP_CHUNKED_DONE;
    *consumed = i;
    *produced = o;
    return ret;
}
