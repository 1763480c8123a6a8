/* JSON parser and writer (RFC 8259). The parser is recursive descent over the whole input, with a depth limit and
   an arena whose total size is bounded; the writer tracks nesting so that separators are always right.
   Interface and limits: http/json.h. Numbers: lib/parse.h (parse) and lib/fmt.h (print). */
#include "http/json.h"
#include "core/heap.h"
#include "core/limits.h"
#include "lib/fmt.h"
#include "lib/parse.h"
#include "lib/string.h"

/* ------------------------------------------------------------------------------------------------------------ */
/* UTF-8 */

size_t json_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp)
{
    if (len == 0)
        return 0;
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t n;
    uint32_t c, min;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        n = 2; c = b0 & 0x1f; min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        n = 3; c = b0 & 0x0f; min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        n = 4; c = b0 & 0x07; min = 0x10000;
    } else {
        return 0; /* continuation byte, overlong lead C0/C1, or F5..FF */
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Arena: a list of blocks, freed together. */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    /* data follows, 16-byte aligned */
};
#define ARENA_HDR ((sizeof(struct arena_block) + 15u) & ~(size_t)15u)
#define ARENA_FIRST_BLOCK 4096u
#define ARENA_MAX_BLOCK (1024u * 1024u)

struct parser {
    const char *p, *end, *start;
    size_t depth, max_depth, max_memory;
    struct json_doc *doc;
    struct json_error *err;
    bool failed;
};

static void fail(struct parser *ps, const char *at, const char *message)
{
    if (ps->failed)
        return;
    ps->failed = true;
    if (ps->err) {
        ps->err->offset = (size_t)(at - ps->start);
        ps->err->message = message;
    }
}

static void *arena_alloc(struct parser *ps, size_t n)
{
    n = (n + 7u) & ~(size_t)7u;
    struct arena_block *b = ps->doc->arena;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : ARENA_FIRST_BLOCK;
        if (cap > ARENA_MAX_BLOCK)
            cap = ARENA_MAX_BLOCK;
        if (cap < n)
            cap = n;
        if (ps->doc->memory + ARENA_HDR + cap > ps->max_memory) {
            fail(ps, ps->p, "document too large (memory limit)");
            return NULL;
        }
        struct arena_block *nb = kmalloc(ARENA_HDR + cap);
        if (!nb) {
            fail(ps, ps->p, "out of memory");
            return NULL;
        }
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        ps->doc->arena = nb;
        ps->doc->memory += ARENA_HDR + cap;
        b = nb;
    }
    void *r = (char *)b + ARENA_HDR + b->used;
    b->used += n;
    return r;
}

void json_doc_free(struct json_doc *doc)
{
    if (!doc)
        return;
    struct arena_block *b = doc->arena;
    while (b) {
        struct arena_block *next = b->next;
        kfree(b);
        b = next;
    }
    doc->arena = NULL;
    doc->root = NULL;
    doc->memory = 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Parser */

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(struct parser *ps, const char *q, uint32_t *out)
{
    if (ps->end - q < 4) {
        fail(ps, q, "truncated \\u escape");
        return false;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(q[i]);
        if (h < 0) {
            fail(ps, q + i, "bad hex digit in \\u escape");
            return false;
        }
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return true;
}

/* ps->p is at the opening quote. Decodes into the arena; out/out_len get the NUL-terminated UTF-8 text. */
static bool parse_string(struct parser *ps, const char **out, size_t *out_len)
{
    const char *open = ps->p;
    const char *q = open + 1;
    /* Find the closing quote first: the decoded text is never longer than the raw span. */
    const char *close = q;
    while (close < ps->end && *close != '"') {
        if (*close == '\\')
            close++;
        close++;
    }
    if (close >= ps->end) {
        fail(ps, open, "unterminated string");
        return false;
    }
    char *dst = arena_alloc(ps, (size_t)(close - q) + 1);
    if (!dst)
        return false;
    size_t n = 0;
    while (q < close) {
        uint8_t c = (uint8_t)*q;
        if (c == '\\') {
            char e = q[1];
            q += 2;
            switch (e) {
            case '"': dst[n++] = '"'; break;
            case '\\': dst[n++] = '\\'; break;
            case '/': dst[n++] = '/'; break;
            case 'b': dst[n++] = '\b'; break;
            case 'f': dst[n++] = '\f'; break;
            case 'n': dst[n++] = '\n'; break;
            case 'r': dst[n++] = '\r'; break;
            case 't': dst[n++] = '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!read_hex4(ps, q, &cp))
                    return false;
                q += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    fail(ps, q - 6, "lone low surrogate in \\u escape");
                    return false;
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (close - q < 6 || q[0] != '\\' || q[1] != 'u') {
                        fail(ps, q - 6, "high surrogate not followed by a low surrogate");
                        return false;
                    }
                    if (!read_hex4(ps, q + 2, &lo))
                        return false;
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        fail(ps, q, "high surrogate not followed by a low surrogate");
                        return false;
                    }
                    q += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                n += utf8_encode(cp, dst + n);
                break;
            }
            default:
                fail(ps, q - 1, "invalid escape");
                return false;
            }
        } else if (c < 0x20) {
            fail(ps, q, "control character in string");
            return false;
        } else if (c < 0x80) {
            dst[n++] = (char)c;
            q++;
        } else {
            uint32_t cp;
            size_t k = json_utf8_decode((const uint8_t *)q, (size_t)(close - q), &cp);
            if (!k) {
                fail(ps, q, "invalid UTF-8 in string");
                return false;
            }
            memcpy(dst + n, q, k);
            n += k;
            q += k;
        }
    }
    dst[n] = 0;
    *out = dst;
    *out_len = n;
    ps->p = close + 1;
    return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool parse_number(struct parser *ps, struct json_value *v)
{
    const char *s = ps->p, *q = s;
    bool integral = true;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || !is_digit(*q)) {
        fail(ps, s, "invalid number");
        return false;
    }
    if (*q == '0') {
        q++;
        if (q < ps->end && is_digit(*q)) {
            fail(ps, s, "leading zero in number");
            return false;
        }
    } else {
        while (q < ps->end && is_digit(*q))
            q++;
    }
    if (q < ps->end && *q == '.') {
        integral = false;
        q++;
        if (q >= ps->end || !is_digit(*q)) {
            fail(ps, q, "digit expected after decimal point");
            return false;
        }
        while (q < ps->end && is_digit(*q))
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || !is_digit(*q)) {
            fail(ps, q, "digit expected in exponent");
            return false;
        }
        while (q < ps->end && is_digit(*q))
            q++;
    }
    size_t len = (size_t)(q - s);
    if (integral) {
        int64_t i;
        bool overflow = false;
        size_t used = parse_i64(s, len, &i, &overflow);
        if (used == len && !overflow) {
            v->type = JSON_INT;
            v->u.i = i;
            ps->p = q;
            return true;
        }
    }
    double d;
    size_t used = parse_double(s, len, &d);
    if (used != len) {
        fail(ps, s, "invalid number");
        return false;
    }
    if (d - d != 0) { /* infinite (NaN cannot come from this grammar) */
        fail(ps, s, "number out of range");
        return false;
    }
    v->type = JSON_DOUBLE;
    v->u.d = d;
    ps->p = q;
    return true;
}

static bool match_word(struct parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
        fail(ps, ps->p, "invalid literal");
        return false;
    }
    ps->p += n;
    return true;
}

static struct json_value *parse_value(struct parser *ps);

static bool parse_container(struct parser *ps, struct json_value *v, bool object)
{
    if (++ps->depth > ps->max_depth) {
        fail(ps, ps->p, "nesting too deep");
        return false;
    }
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    v->u.list.first = NULL;
    v->u.list.count = 0;
    struct json_value **tail = &v->u.list.first;
    char closer = object ? '}' : ']';
    ps->p++; /* the opener */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == closer) {
        ps->p++;
        ps->depth--;
        return true;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, ps->p, "object key (string) expected");
                return false;
            }
            if (!parse_string(ps, &key, &key_len))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail(ps, ps->p, "':' expected after object key");
                return false;
            }
            ps->p++;
        }
        struct json_value *item = parse_value(ps);
        if (!item)
            return false;
        item->key = key;
        item->key_len = key_len;
        *tail = item;
        tail = &item->next;
        v->u.list.count++;
        skip_ws(ps);
        if (ps->p >= ps->end) {
            fail(ps, ps->p, object ? "unterminated object" : "unterminated array");
            return false;
        }
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == closer) {
            ps->p++;
            ps->depth--;
            return true;
        }
        fail(ps, ps->p, object ? "',' or '}' expected" : "',' or ']' expected");
        return false;
    }
}

static struct json_value *parse_value(struct parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, ps->p, "value expected");
        return NULL;
    }
    struct json_value *v = arena_alloc(ps, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    bool ok;
    switch (*ps->p) {
    case '{': ok = parse_container(ps, v, true); break;
    case '[': ok = parse_container(ps, v, false); break;
    case '"':
        v->type = JSON_STRING;
        ok = parse_string(ps, &v->u.str.s, &v->u.str.len);
        break;
    case 't': v->type = JSON_BOOL; v->u.b = true; ok = match_word(ps, "true", 4); break;
    case 'f': v->type = JSON_BOOL; v->u.b = false; ok = match_word(ps, "false", 5); break;
    case 'n': v->type = JSON_NULL; ok = match_word(ps, "null", 4); break;
    default:
        if (*ps->p == '-' || is_digit(*ps->p)) {
            ok = parse_number(ps, v);
        } else {
            fail(ps, ps->p, "unexpected character");
            ok = false;
        }
    }
    return ok ? v : NULL;
}

bool json_parse_limits(const char *text, size_t len, const struct json_limits *lim, struct json_doc *doc,
                       struct json_error *err)
{
    struct parser ps = {
        .p = text, .end = text + len, .start = text,
        .max_depth = lim->max_depth > 1000 ? 1000 : lim->max_depth,
        .max_memory = lim->max_memory, .doc = doc, .err = err,
    };
    doc->root = NULL;
    doc->arena = NULL;
    doc->memory = 0;
    if (err) {
        err->offset = 0;
        err->message = NULL;
    }
    struct json_value *root = parse_value(&ps);
    if (root) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, ps.p, "unexpected data after the value");
    }
    if (ps.failed || !root) {
        json_doc_free(doc);
        return false;
    }
    doc->root = root;
    return true;
}

bool json_parse(const char *text, size_t len, struct json_doc *doc, struct json_error *err)
{
    struct json_limits lim = { .max_depth = CLLM_JSON_MAX_DEPTH, .max_memory = CLLM_JSON_MAX_MEMORY };
    return json_parse_limits(text, len, &lim, doc, err);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Lookups */

const struct json_value *json_object_get(const struct json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    const struct json_value *found = NULL;
    for (const struct json_value *m = obj->u.list.first; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            found = m;
    return found;
}

const struct json_value *json_array_at(const struct json_value *arr, size_t index)
{
    if (!arr || arr->type != JSON_ARRAY)
        return NULL;
    const struct json_value *it = arr->u.list.first;
    while (it && index--)
        it = it->next;
    return it;
}

bool json_is_number(const struct json_value *v) { return v && (v->type == JSON_INT || v->type == JSON_DOUBLE); }

bool json_get_double(const struct json_value *v, double *out)
{
    if (!json_is_number(v))
        return false;
    *out = v->type == JSON_INT ? (double)v->u.i : v->u.d;
    return true;
}

bool json_get_i64(const struct json_value *v, int64_t *out)
{
    if (!v)
        return false;
    if (v->type == JSON_INT) {
        *out = v->u.i;
        return true;
    }
    /* -2^63 <= d < 2^63 and integral */
    if (v->type == JSON_DOUBLE && v->u.d >= -9223372036854775808.0 && v->u.d < 9223372036854775808.0 &&
        (double)(int64_t)v->u.d == v->u.d) {
        *out = (int64_t)v->u.d;
        return true;
    }
    return false;
}

bool json_get_bool(const struct json_value *v, bool *out)
{
    if (!v || v->type != JSON_BOOL)
        return false;
    *out = v->u.b;
    return true;
}

bool json_get_string(const struct json_value *v, const char **s, size_t *len)
{
    if (!v || v->type != JSON_STRING)
        return false;
    *s = v->u.str.s;
    *len = v->u.str.len;
    return true;
}

const char *json_type_name(const struct json_value *v)
{
    if (!v)
        return "missing";
    switch (v->type) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_INT: return "integer";
    case JSON_DOUBLE: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "unknown";
}

bool json_string_equals(const struct json_value *v, const char *s)
{
    if (!v || v->type != JSON_STRING)
        return false;
    size_t n = strlen(s);
    return v->u.str.len == n && memcmp(v->u.str.s, s, n) == 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Writer */

void json_writer_init(struct json_writer *w, size_t max_bytes)
{
    memset(w, 0, sizeof *w);
    w->max = max_bytes;
    w->owned = true;
}

void json_writer_init_buf(struct json_writer *w, char *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    w->max = cap;
    if (cap == 0)
        w->failed = true;
    else
        buf[0] = 0;
}

void json_writer_free(struct json_writer *w)
{
    if (w->owned)
        kfree(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    w->failed = true;
}

const char *json_writer_result(const struct json_writer *w, size_t *len)
{
    if (w->failed || !w->done || w->depth != 0 || !w->buf)
        return NULL;
    if (len)
        *len = w->len;
    return w->buf;
}

/* Room for n more bytes plus the NUL. */
static bool w_reserve(struct json_writer *w, size_t n)
{
    if (w->failed)
        return false;
    if (w->len + n + 1 <= w->cap)
        return true;
    if (!w->owned || w->len + n + 1 > w->max) {
        w->failed = true;
        return false;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
        cap *= 2;
    if (cap > w->max)
        cap = w->max;
    char *nb = krealloc(w->buf, cap);
    if (!nb) {
        w->failed = true;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

static void w_put(struct json_writer *w, const char *s, size_t n)
{
    if (!w_reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

/* Before any value: the separator, and the checks that a value may go here. */
static bool w_before_value(struct json_writer *w)
{
    if (w->failed)
        return false;
    if (w->depth == 0) {
        if (w->done) { /* a second top-level value */
            w->failed = true;
            return false;
        }
        return true;
    }
    uint64_t bit = 1ull << (w->depth - 1);
    if (w->is_object & bit) {
        if (!w->want_value) {
            w->failed = true; /* a value where a key belongs */
            return false;
        }
        w->want_value = false;
        return true;
    }
    if (w->has_items & bit)
        w_put(w, ",", 1);
    w->has_items |= bit;
    return !w->failed;
}

static void w_after_value(struct json_writer *w)
{
    if (w->depth == 0)
        w->done = true;
}

static void w_open(struct json_writer *w, bool object)
{
    if (!w_before_value(w))
        return;
    if (w->depth >= 64) {
        w->failed = true;
        return;
    }
    w_put(w, object ? "{" : "[", 1);
    uint64_t bit = 1ull << w->depth;
    w->depth++;
    if (object)
        w->is_object |= bit;
    else
        w->is_object &= ~bit;
    w->has_items &= ~bit;
}

static void w_close(struct json_writer *w, bool object)
{
    if (w->failed)
        return;
    if (w->depth == 0 || w->want_value || (((w->is_object >> (w->depth - 1)) & 1) != object)) {
        w->failed = true;
        return;
    }
    w->depth--;
    w_put(w, object ? "}" : "]", 1);
    w_after_value(w);
}

void json_write_object_begin(struct json_writer *w) { w_open(w, true); }
void json_write_object_end(struct json_writer *w) { w_close(w, true); }
void json_write_array_begin(struct json_writer *w) { w_open(w, false); }
void json_write_array_end(struct json_writer *w) { w_close(w, false); }

/* Length of the maximal subpart of the ill-formed sequence at s (at least 1): one U+FFFD replaces it, as Unicode
   chapter 3 ("U+FFFD substitution of maximal subparts") recommends. */
static size_t utf8_bad_len(const uint8_t *s, size_t len)
{
    uint8_t b0 = s[0], lo = 0x80, hi = 0xbf;
    size_t need;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        need = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        need = 3;
        if (b0 == 0xe0)
            lo = 0xa0;
        if (b0 == 0xed)
            hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        need = 4;
        if (b0 == 0xf0)
            lo = 0x90;
        if (b0 == 0xf4)
            hi = 0x8f;
    } else {
        return 1;
    }
    size_t i = 1;
    while (i < need && i < len) {
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b & 0xc0) != 0x80)
            break;
        i++;
    }
    return i;
}

static void w_string_body(struct json_writer *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    w_put(w, "\"", 1);
    size_t i = 0;
    while (i < n && !w->failed) {
        /* the longest run that needs no escaping, copied at once */
        size_t j = i;
        while (j < n) {
            uint8_t c = (uint8_t)s[j];
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                break;
            j++;
        }
        if (j > i) {
            w_put(w, s + i, j - i);
            i = j;
            continue;
        }
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t k = json_utf8_decode((const uint8_t *)s + i, n - i, &cp);
            if (k) {
                w_put(w, s + i, k);
                i += k;
            } else {
                w_put(w, "\xef\xbf\xbd", 3); /* U+FFFD */
                i += utf8_bad_len((const uint8_t *)s + i, n - i);
            }
            continue;
        }
        char esc[6];
        size_t en = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            en = 6;
        }
        w_put(w, esc, en);
        i++;
    }
    w_put(w, "\"", 1);
}

void json_write_key_n(struct json_writer *w, const char *key, size_t n)
{
    if (w->failed)
        return;
    if (w->depth == 0 || !((w->is_object >> (w->depth - 1)) & 1) || w->want_value) {
        w->failed = true;
        return;
    }
    uint64_t bit = 1ull << (w->depth - 1);
    if (w->has_items & bit)
        w_put(w, ",", 1);
    w->has_items |= bit;
    w_string_body(w, key, n);
    w_put(w, ":", 1);
    w->want_value = true;
}

void json_write_key(struct json_writer *w, const char *key) { json_write_key_n(w, key, strlen(key)); }

void json_write_string_n(struct json_writer *w, const char *s, size_t n)
{
    if (!w_before_value(w))
        return;
    w_string_body(w, s, n);
    w_after_value(w);
}

void json_write_string(struct json_writer *w, const char *s) { json_write_string_n(w, s, strlen(s)); }

/* Decimal digits of v, right-aligned ending at end; returns the first digit. */
static char *u64_digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

void json_write_i64(struct json_writer *w, int64_t v)
{
    char buf[24];
    char *p = u64_digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, buf + sizeof buf);
    if (v < 0)
        *--p = '-';
    if (!w_before_value(w))
        return;
    w_put(w, p, (size_t)(buf + sizeof buf - p));
    w_after_value(w);
}

void json_write_u64(struct json_writer *w, uint64_t v)
{
    char buf[24];
    char *p = u64_digits(v, buf + sizeof buf);
    if (!w_before_value(w))
        return;
    w_put(w, p, (size_t)(buf + sizeof buf - p));
    w_after_value(w);
}

void json_write_double(struct json_writer *w, double v)
{
    char buf[40];
    int n = fmt_double_shortest(buf, sizeof buf, v); /* Python repr() style: "0.1", "1.0", "1e+16" */
    if (n < 0) { /* NaN or infinite: JSON has no such number */
        json_write_null(w);
        return;
    }
    if ((size_t)n >= sizeof buf) {
        w->failed = true;
        return;
    }
    if (!w_before_value(w))
        return;
    w_put(w, buf, (size_t)n);
    w_after_value(w);
}

void json_write_bool(struct json_writer *w, bool v)
{
    if (!w_before_value(w))
        return;
    if (v)
        w_put(w, "true", 4);
    else
        w_put(w, "false", 5);
    w_after_value(w);
}

void json_write_null(struct json_writer *w)
{
    if (!w_before_value(w))
        return;
    w_put(w, "null", 4);
    w_after_value(w);
}

void json_write_value(struct json_writer *w, const struct json_value *v)
{
    if (!v) {
        w->failed = true;
        return;
    }
    switch (v->type) {
    case JSON_NULL: json_write_null(w); break;
    case JSON_BOOL: json_write_bool(w, v->u.b); break;
    case JSON_INT: json_write_i64(w, v->u.i); break;
    case JSON_DOUBLE: json_write_double(w, v->u.d); break;
    case JSON_STRING: json_write_string_n(w, v->u.str.s, v->u.str.len); break;
    case JSON_ARRAY:
    case JSON_OBJECT: {
        bool obj = v->type == JSON_OBJECT;
        w_open(w, obj);
        for (const struct json_value *m = v->u.list.first; m && !w->failed; m = m->next) {
            if (obj)
                json_write_key_n(w, m->key, m->key_len);
            json_write_value(w, m);
        }
        w_close(w, obj);
        break;
    }
    }
}

void json_write_member_string(struct json_writer *w, const char *key, const char *s)
{
    json_write_key(w, key);
    json_write_string(w, s);
}

void json_write_member_i64(struct json_writer *w, const char *key, int64_t v)
{
    json_write_key(w, key);
    json_write_i64(w, v);
}

void json_write_member_double(struct json_writer *w, const char *key, double v)
{
    json_write_key(w, key);
    json_write_double(w, v);
}

void json_write_member_bool(struct json_writer *w, const char *key, bool v)
{
    json_write_key(w, key);
    json_write_bool(w, v);
}

void json_write_member_null(struct json_writer *w, const char *key)
{
    json_write_key(w, key);
    json_write_null(w);
}
