/* GGUF reader (v2/v3, little-endian), zero-copy over the baked bytes. gguf_open walks the header twice with
   one bounds-checked cursor: the first walk checks the structure and counts what must be allocated, so every
   allocation is backed by bytes really present in the file; the second walk fills the tables. Then the
   semantic checks: duplicate names, alignment, tensor types, shapes, offsets and overlaps.
   API and error codes: llm/gguf.h; tensor formats: llm/ggml_types.h. */
#include "llm/gguf.h"
#include "core/heap.h"
#include "lib/fmt.h"
#include "lib/string.h"

/* Smallest encodings, used to bound counts by the bytes left before trusting them. */
#define GGUF_MIN_KV_BYTES 14      /* key length u64 + 1 key byte + value type u32 + 1 value byte */
#define GGUF_MIN_TENSOR_BYTES 33  /* name length u64 + 1 name byte + n_dims u32 + 1 dim u64 + type u32 + offset u64 */
#define GGUF_MAX_COUNT 0x7fffffffu /* keys / tensors (hash tables hold 32-bit indices) */

/* ---- cursor ---- */

struct cursor {
    const uint8_t *data;
    uint64_t size;
    uint64_t pos;
};

static uint64_t cur_left(const struct cursor *c) { return c->size - c->pos; }
static int cur_need(const struct cursor *c, uint64_t n) { return n <= c->size - c->pos; }

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t rd_u64(const uint8_t *p)
{
    return (uint64_t)rd_u32(p) | ((uint64_t)rd_u32(p + 4) << 32);
}

/* ---- errors ---- */

struct perr {
    char *buf;
    size_t len;
};

__attribute__((format(printf, 3, 4))) static int fail(struct perr *e, int code, const char *fmt, ...)
{
    if (e->buf && e->len) {
        va_list ap;
        va_start(ap, fmt);
        fmt_vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* A name from the file, made printable for a message (at most 48 bytes, other bytes as '?'). */
struct pname {
    char s[56];
};

static struct pname printable(const uint8_t *p, uint64_t len)
{
    struct pname n;
    uint64_t k = len < 48 ? len : 48, i;
    for (i = 0; i < k; i++)
        n.s[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    if (len > k) {
        n.s[i++] = '.';
        n.s[i++] = '.';
        n.s[i++] = '.';
    }
    n.s[i] = 0;
    return n;
}

const char *gguf_strerror(int err)
{
    switch (err) {
    case GGUF_OK: return "ok";
    case GGUF_E_TRUNCATED: return "truncated";
    case GGUF_E_MAGIC: return "magic";
    case GGUF_E_VERSION: return "version";
    case GGUF_E_COUNT: return "count";
    case GGUF_E_VALUE_TYPE: return "value_type";
    case GGUF_E_NESTED: return "nested";
    case GGUF_E_BOOL: return "bool";
    case GGUF_E_EMPTY_NAME: return "empty_name";
    case GGUF_E_DUP_KEY: return "dup_key";
    case GGUF_E_DUP_TENSOR: return "dup_tensor";
    case GGUF_E_ALIGNMENT: return "alignment";
    case GGUF_E_DIMS: return "dims";
    case GGUF_E_OVERFLOW: return "overflow";
    case GGUF_E_TENSOR_TYPE: return "tensor_type";
    case GGUF_E_BLOCK: return "block";
    case GGUF_E_OFFSET: return "offset";
    case GGUF_E_BOUNDS: return "bounds";
    case GGUF_E_OVERLAP: return "overlap";
    case GGUF_E_NOMEM: return "nomem";
    case GGUF_E_NOT_FOUND: return "not_found";
    case GGUF_E_TYPE: return "type";
    case GGUF_E_INVALID: return "invalid";
    case GGUF_E_NAME: return "name";
    default: return "unknown";
    }
}

/* Bytes of one scalar of a value type; 0 for string, array and unknown types. */
static uint64_t value_type_size(uint32_t t)
{
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

/* ---- the header walk ---- */

/* What the checking walk counts, so the filling walk can allocate exactly. */
struct walk_counts {
    uint64_t n_arr_strings;   /* string-array elements over all keys */
    uint64_t name_bytes;      /* key and tensor name bytes + one NUL each */
};

/* Tables the filling walk writes (NULL during the checking walk). */
struct walk_fill {
    struct gguf_kv *kv;
    struct gguf_tensor *tensors;
    uint64_t *str_offsets;
};

/* Reads a length-prefixed string; *p points at its bytes. what/idx name it in the error. */
static int walk_string(struct cursor *c, struct perr *e, const char *what, uint64_t idx,
                       const uint8_t **p, uint64_t *len)
{
    if (!cur_need(c, 8))
        return fail(e, GGUF_E_TRUNCATED, "%s #%llu: length runs past the end of the file at offset %llu", what,
                    (unsigned long long)idx, (unsigned long long)c->pos);
    uint64_t n = rd_u64(c->data + c->pos);
    c->pos += 8;
    if (!cur_need(c, n))
        return fail(e, GGUF_E_TRUNCATED, "%s #%llu: length %llu exceeds the %llu bytes left at offset %llu", what,
                    (unsigned long long)idx, (unsigned long long)n, (unsigned long long)cur_left(c),
                    (unsigned long long)c->pos);
    *p = c->data + c->pos;
    *len = n;
    c->pos += n;
    return 0;
}

static int check_bools(struct perr *e, const uint8_t *k, uint64_t klen, const uint8_t *v, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (v[i] > 1)
            return fail(e, GGUF_E_BOOL, "key '%s': bool value %u (element %llu) is neither 0 nor 1",
                        printable(k, klen).s, v[i], (unsigned long long)i);
    return 0;
}

static int walk_kvs(struct cursor *c, struct perr *e, uint64_t n_kv, struct walk_counts *cnt,
                    struct walk_fill *fill)
{
    uint64_t str_next = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        const uint8_t *key;
        uint64_t klen;
        int r = walk_string(c, e, "key", i, &key, &klen);
        if (r)
            return r;
        if (klen == 0)
            return fail(e, GGUF_E_EMPTY_NAME, "key #%llu: empty key", (unsigned long long)i);
        if (klen > 0xffffffffu)
            return fail(e, GGUF_E_OVERFLOW, "key #%llu: key length %llu too large", (unsigned long long)i,
                        (unsigned long long)klen);
        if (memchr(key, 0, klen))
            return fail(e, GGUF_E_NAME, "key #%llu ('%s'): contains a NUL byte", (unsigned long long)i,
                        printable(key, klen).s);
        cnt->name_bytes += klen + 1;
        struct pname kpn = printable(key, klen);
        const char *kp = kpn.s;
        if (!cur_need(c, 4))
            return fail(e, GGUF_E_TRUNCATED, "key '%s': value type runs past the end of the file", kp);
        uint32_t type = rd_u32(c->data + c->pos);
        c->pos += 4;
        struct gguf_kv kv = { .key = (const char *)key, .key_len = (uint32_t)klen, .type = type, .len = 1 };
        if (type == GGUF_TYPE_STRING) {
            r = walk_string(c, e, "string value of key", i, &kv.val, &kv.len);
            if (r)
                return r;
        } else if (type == GGUF_TYPE_ARRAY) {
            if (!cur_need(c, 12))
                return fail(e, GGUF_E_TRUNCATED, "key '%s': array header runs past the end of the file", kp);
            kv.arr_type = rd_u32(c->data + c->pos);
            kv.len = rd_u64(c->data + c->pos + 4);
            c->pos += 12;
            kv.val = c->data + c->pos;
            if (kv.arr_type == GGUF_TYPE_ARRAY)
                return fail(e, GGUF_E_NESTED, "key '%s': arrays of arrays are not supported", kp);
            if (kv.arr_type == GGUF_TYPE_STRING) {
                if (kv.len > cur_left(c) / 8)
                    return fail(e, GGUF_E_COUNT, "key '%s': %llu strings cannot fit in the %llu bytes left", kp,
                                (unsigned long long)kv.len, (unsigned long long)cur_left(c));
                if (fill)
                    kv.str_offsets = fill->str_offsets + str_next;
                for (uint64_t j = 0; j < kv.len; j++) {
                    const uint8_t *s;
                    uint64_t slen;
                    r = walk_string(c, e, "array string", j, &s, &slen);
                    if (r)
                        return fail(e, r, "key '%s': string %llu of %llu runs past the end of the file", kp,
                                    (unsigned long long)j, (unsigned long long)kv.len);
                    if (fill)
                        kv.str_offsets[j] = (uint64_t)(s - kv.val);
                }
                str_next += kv.len;
                cnt->n_arr_strings += kv.len;
            } else {
                uint64_t es = value_type_size(kv.arr_type);
                if (es == 0)
                    return fail(e, GGUF_E_VALUE_TYPE, "key '%s': unknown array element type %u", kp, kv.arr_type);
                if (kv.len > cur_left(c) / es)
                    return fail(e, GGUF_E_COUNT, "key '%s': %llu elements of %llu bytes exceed the %llu bytes left",
                                kp, (unsigned long long)kv.len, (unsigned long long)es,
                                (unsigned long long)cur_left(c));
                if (kv.arr_type == GGUF_TYPE_BOOL && (r = check_bools(e, key, klen, kv.val, kv.len)))
                    return r;
                c->pos += kv.len * es;
            }
        } else {
            uint64_t es = value_type_size(type);
            if (es == 0)
                return fail(e, GGUF_E_VALUE_TYPE, "key '%s': unknown value type %u", kp, type);
            if (!cur_need(c, es))
                return fail(e, GGUF_E_TRUNCATED, "key '%s': value runs past the end of the file", kp);
            kv.val = c->data + c->pos;
            if (type == GGUF_TYPE_BOOL && (r = check_bools(e, key, klen, kv.val, 1)))
                return r;
            c->pos += es;
        }
        if (fill)
            fill->kv[i] = kv;
    }
    return 0;
}

/* Tensor infos: only the encoding here; shapes and types are checked in check_tensors. */
static int walk_tensors(struct cursor *c, struct perr *e, uint64_t n_tensors, struct walk_counts *cnt,
                        struct walk_fill *fill)
{
    for (uint64_t i = 0; i < n_tensors; i++) {
        const uint8_t *name;
        uint64_t nlen;
        int r = walk_string(c, e, "tensor", i, &name, &nlen);
        if (r)
            return r;
        if (nlen == 0)
            return fail(e, GGUF_E_EMPTY_NAME, "tensor #%llu: empty name", (unsigned long long)i);
        if (nlen > 0xffffffffu)
            return fail(e, GGUF_E_OVERFLOW, "tensor #%llu: name length %llu too large", (unsigned long long)i,
                        (unsigned long long)nlen);
        if (memchr(name, 0, nlen))
            return fail(e, GGUF_E_NAME, "tensor #%llu ('%s'): name contains a NUL byte", (unsigned long long)i,
                        printable(name, nlen).s);
        cnt->name_bytes += nlen + 1;
        struct pname tpn = printable(name, nlen);
        const char *tp = tpn.s;
        if (!cur_need(c, 4))
            return fail(e, GGUF_E_TRUNCATED, "tensor '%s': n_dims runs past the end of the file", tp);
        uint32_t n_dims = rd_u32(c->data + c->pos);
        c->pos += 4;
        if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
            return fail(e, GGUF_E_DIMS, "tensor '%s': n_dims %u outside 1..%d", tp, n_dims, GGUF_MAX_DIMS);
        if (!cur_need(c, 8ull * n_dims + 12))
            return fail(e, GGUF_E_TRUNCATED, "tensor '%s': shape/type/offset run past the end of the file", tp);
        struct gguf_tensor t = { .name = (const char *)name, .name_len = (uint32_t)nlen, .n_dims = n_dims };
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
            t.ne[d] = 1;
            if (d < n_dims) {
                uint64_t v = rd_u64(c->data + c->pos);
                c->pos += 8;
                if (v > (uint64_t)INT64_MAX)
                    return fail(e, GGUF_E_DIMS, "tensor '%s': dimension %u is negative (%lld)", tp, d,
                                (long long)v);
                t.ne[d] = (int64_t)v;
            }
        }
        t.type = (enum ggml_type)rd_u32(c->data + c->pos);
        t.offset = rd_u64(c->data + c->pos + 4);
        c->pos += 12;
        if (fill)
            fill->tensors[i] = t;
    }
    return 0;
}

/* ---- hash tables (open addressing; slots hold index + 1) ---- */

static uint64_t hash_bytes(const void *p, uint64_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;            /* FNV-1a */
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_slots(uint64_t n)
{
    uint64_t s = 16;
    while (s < 2 * n)
        s <<= 1;
    return s;
}

/* Inserts entry idx named (name, len); returns the index of an existing entry with that name, or -1. */
static int64_t hash_insert(uint32_t *table, uint64_t mask, const char *name, uint32_t len, uint32_t idx,
                           const char *(*name_of)(const void *, uint32_t, uint32_t *), const void *ctx)
{
    for (uint64_t h = hash_bytes(name, len) & mask;; h = (h + 1) & mask) {
        if (table[h] == 0) {
            table[h] = idx + 1;
            return -1;
        }
        uint32_t olen;
        const char *o = name_of(ctx, table[h] - 1, &olen);
        if (olen == len && memcmp(o, name, len) == 0)
            return table[h] - 1;
    }
}

static int64_t hash_find(const uint32_t *table, uint64_t mask, const char *name, uint32_t len,
                         const char *(*name_of)(const void *, uint32_t, uint32_t *), const void *ctx)
{
    if (!table)
        return -1;
    for (uint64_t h = hash_bytes(name, len) & mask;; h = (h + 1) & mask) {
        if (table[h] == 0)
            return -1;
        uint32_t olen;
        const char *o = name_of(ctx, table[h] - 1, &olen);
        if (olen == len && memcmp(o, name, len) == 0)
            return table[h] - 1;
    }
}

static const char *kv_name(const void *ctx, uint32_t i, uint32_t *len)
{
    const struct gguf_file *f = ctx;
    *len = f->kv[i].key_len;
    return f->kv[i].key;
}

static const char *tensor_name(const void *ctx, uint32_t i, uint32_t *len)
{
    const struct gguf_file *f = ctx;
    *len = f->tensors[i].name_len;
    return f->tensors[i].name;
}

/* ---- semantic checks ---- */

static int check_alignment(struct gguf_file *f, struct perr *e)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t k = gguf_find_key(f, "general.alignment");
    if (k < 0)
        return 0;
    uint32_t a;
    if (gguf_get_u32(f, k, &a) != 0)
        return fail(e, GGUF_E_ALIGNMENT, "key 'general.alignment': type %u, expected uint32 (%d)", f->kv[k].type,
                    GGUF_TYPE_UINT32);
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(e, GGUF_E_ALIGNMENT, "key 'general.alignment': %u is not a power of two", a);
    f->alignment = a;
    return 0;
}

static int is_weight_type(uint32_t t)
{
    /* Q8_1 and Q8_K exist only as activation types (no dot product as weights, no reference dequantizer). */
    return ggml_type_is_supported(t) && t != GGML_TYPE_Q8_1 && t != GGML_TYPE_Q8_K;
}

static int check_tensors(struct gguf_file *f, struct perr *e)
{
    uint64_t data_bytes = f->size - f->data_offset;   /* caller ensured data_offset <= size when n_tensors > 0 */
    for (int64_t i = 0; i < f->n_tensors; i++) {
        struct gguf_tensor *t = &f->tensors[i];
        struct pname tpn = printable((const uint8_t *)t->name, t->name_len);
        const char *tp = tpn.s;
        if (!is_weight_type((uint32_t)t->type))
            return fail(e, GGUF_E_TENSOR_TYPE, "tensor '%s': type %u is not supported", tp, (unsigned)t->type);
        const struct ggml_type_traits *tt = ggml_get_type_traits(t->type);
        if (t->ne[0] % tt->blck_size != 0)
            return fail(e, GGUF_E_BLOCK, "tensor '%s': row length %lld is not a multiple of the %s block size %lld",
                        tp, (long long)t->ne[0], tt->name, (long long)tt->blck_size);
        uint64_t blocks = (uint64_t)(t->ne[0] / tt->blck_size), n = 1, bytes = 0;
        int over = blocks > (uint64_t)INT64_MAX / tt->type_size;   /* sizes stay below 2^63 */
        if (!over)
            bytes = blocks * tt->type_size;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS && !over; d++) {
            uint64_t v = (uint64_t)t->ne[d];
            if (v != 0 && n > (uint64_t)INT64_MAX / v)
                over = 1;
            else
                n *= v;
            if (d > 0) {
                if (v != 0 && bytes > (uint64_t)INT64_MAX / v)
                    over = 1;
                else
                    bytes *= v;
            }
        }
        if (over)
            return fail(e, GGUF_E_OVERFLOW, "tensor '%s': element count or byte size overflows 63 bits", tp);
        t->n_elements = (int64_t)n;
        t->size = bytes;
        if (t->offset % f->alignment != 0)
            return fail(e, GGUF_E_OFFSET, "tensor '%s': offset %llu is not a multiple of the alignment %llu", tp,
                        (unsigned long long)t->offset, (unsigned long long)f->alignment);
        if (t->offset > data_bytes || t->size > data_bytes - t->offset)
            return fail(e, GGUF_E_BOUNDS,
                        "tensor '%s': data [%llu, +%llu) outside the %llu-byte data section", tp,
                        (unsigned long long)t->offset, (unsigned long long)t->size, (unsigned long long)data_bytes);
        t->data = f->data + f->data_offset + t->offset;
    }
    return 0;
}

static void sift_down(uint32_t *ix, int64_t r, int64_t n, const struct gguf_tensor *t)
{
    for (;;) {
        int64_t ch = 2 * r + 1;
        if (ch >= n)
            return;
        if (ch + 1 < n && t[ix[ch + 1]].offset > t[ix[ch]].offset)
            ch++;
        if (t[ix[r]].offset >= t[ix[ch]].offset)
            return;
        uint32_t tmp = ix[r];
        ix[r] = ix[ch];
        ix[ch] = tmp;
        r = ch;
    }
}

/* Sorts tensor indices by offset (heap sort: no recursion, no quadratic case) and rejects overlapping data. */
static int check_overlaps(struct gguf_file *f, struct perr *e)
{
    int64_t n = f->n_tensors;
    if (n < 2)
        return 0;
    uint32_t *ix = kmalloc((size_t)n * sizeof *ix);
    if (!ix)
        return fail(e, GGUF_E_NOMEM, "out of memory sorting %lld tensors", (long long)n);
    for (int64_t i = 0; i < n; i++)
        ix[i] = (uint32_t)i;
    for (int64_t r = n / 2 - 1; r >= 0; r--)
        sift_down(ix, r, n, f->tensors);
    for (int64_t end = n - 1; end > 0; end--) {
        uint32_t tmp = ix[0];
        ix[0] = ix[end];
        ix[end] = tmp;
        sift_down(ix, 0, end, f->tensors);
    }
    int rc = 0;
    for (int64_t k = 0; k + 1 < n; k++) {
        const struct gguf_tensor *a = &f->tensors[ix[k]], *b = &f->tensors[ix[k + 1]];
        if (a->size > 0 && b->size > 0 && a->offset + a->size > b->offset) {
            if (ix[k] > ix[k + 1]) {   /* name the one declared later first, whatever the sort did with ties */
                const struct gguf_tensor *tmp = a;
                a = b;
                b = tmp;
            }
            rc = fail(e, GGUF_E_OVERLAP, "tensor '%s': data overlaps tensor '%s'",
                      printable((const uint8_t *)b->name, b->name_len).s,
                      printable((const uint8_t *)a->name, a->name_len).s);
            break;
        }
    }
    kfree(ix);
    return rc;
}

/* ---- open / free ---- */

void gguf_free(struct gguf_file *f)
{
    if (!f)
        return;
    kfree(f->kv);
    kfree(f->tensors);
    kfree(f->kv_hash);
    kfree(f->tensor_hash);
    kfree(f->names);
    kfree(f->str_offsets);
    memset(f, 0, sizeof *f);
}

int gguf_open(struct gguf_file *f, const uint8_t *data, uint64_t size, char *err, size_t errlen)
{
    struct perr e = { err, errlen };
    struct cursor c = { data, size, 0 };
    struct walk_counts cnt = { 0, 0 };
    int r;
    if (err && errlen)
        err[0] = 0;
    if (!f)
        return fail(&e, GGUF_E_INVALID, "no gguf_file");
    memset(f, 0, sizeof *f);
    if (!data && size)
        return fail(&e, GGUF_E_INVALID, "no data");
    f->data = data;
    f->size = size;

    if (!cur_need(&c, 4))
        return fail(&e, GGUF_E_TRUNCATED, "file of %llu bytes is too short for the magic", (unsigned long long)size);
    if (rd_u32(data) != GGUF_MAGIC)
        return fail(&e, GGUF_E_MAGIC, "magic %02x %02x %02x %02x is not \"GGUF\"", data[0], data[1], data[2],
                    data[3]);
    if (!cur_need(&c, 24))
        return fail(&e, GGUF_E_TRUNCATED, "file of %llu bytes is too short for the 24-byte header",
                    (unsigned long long)size);
    f->version = rd_u32(data + 4);
    if (f->version != 2 && f->version != 3)
        return fail(&e, GGUF_E_VERSION, "version %u not supported (2 and 3 are; big-endian files are not)",
                    f->version);
    uint64_t n_tensors = rd_u64(data + 8), n_kv = rd_u64(data + 16);
    c.pos = 24;
    if (n_kv > cur_left(&c) / GGUF_MIN_KV_BYTES || n_kv > GGUF_MAX_COUNT)
        return fail(&e, GGUF_E_COUNT, "key count %llu cannot fit in the %llu bytes left", (unsigned long long)n_kv,
                    (unsigned long long)cur_left(&c));
    if (n_tensors > (cur_left(&c) - n_kv * GGUF_MIN_KV_BYTES) / GGUF_MIN_TENSOR_BYTES || n_tensors > GGUF_MAX_COUNT)
        return fail(&e, GGUF_E_COUNT, "tensor count %llu cannot fit in the %llu bytes left",
                    (unsigned long long)n_tensors, (unsigned long long)cur_left(&c));

    /* walk 1: structure only */
    if ((r = walk_kvs(&c, &e, n_kv, &cnt, 0)) || (r = walk_tensors(&c, &e, n_tensors, &cnt, 0)))
        return r;
    uint64_t header_end = c.pos;

    /* allocate exactly what walk 1 found (all bounded by the file size) */
    f->n_kv = (int64_t)n_kv;
    f->n_tensors = (int64_t)n_tensors;
    f->kv = kcalloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->tensors = kcalloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    f->str_offsets = kmalloc((size_t)(cnt.n_arr_strings ? cnt.n_arr_strings : 1) * sizeof(uint64_t));
    f->names = kmalloc((size_t)(cnt.name_bytes ? cnt.name_bytes : 1));
    f->kv_hash_mask = hash_slots(n_kv) - 1;
    f->tensor_hash_mask = hash_slots(n_tensors) - 1;
    f->kv_hash = kcalloc(f->kv_hash_mask + 1, sizeof(uint32_t));
    f->tensor_hash = kcalloc(f->tensor_hash_mask + 1, sizeof(uint32_t));
    if (!f->kv || !f->tensors || !f->str_offsets || !f->names || !f->kv_hash || !f->tensor_hash) {
        gguf_free(f);
        return fail(&e, GGUF_E_NOMEM, "out of memory for %llu keys, %llu tensors, %llu array strings",
                    (unsigned long long)n_kv, (unsigned long long)n_tensors,
                    (unsigned long long)cnt.n_arr_strings);
    }

    /* walk 2: fill (cannot fail: walk 1 checked the same bytes) */
    struct walk_fill fill = { f->kv, f->tensors, f->str_offsets };
    struct walk_counts cnt2 = { 0, 0 };
    c.pos = 24;
    if ((r = walk_kvs(&c, &e, n_kv, &cnt2, &fill)) || (r = walk_tensors(&c, &e, n_tensors, &cnt2, &fill)))
        goto out;

    /* copy names into the arena (NUL-terminated), then index them and reject duplicates */
    char *np = f->names;
    for (uint64_t i = 0; i < n_kv; i++) {
        memcpy(np, f->kv[i].key, f->kv[i].key_len);
        np[f->kv[i].key_len] = 0;
        f->kv[i].key = np;
        np += f->kv[i].key_len + 1;
        int64_t dup = hash_insert(f->kv_hash, f->kv_hash_mask, f->kv[i].key, f->kv[i].key_len, (uint32_t)i,
                                  kv_name, f);
        if (dup >= 0) {
            r = fail(&e, GGUF_E_DUP_KEY, "key '%s': duplicate (keys #%lld and #%llu)",
                     printable((const uint8_t *)f->kv[i].key, f->kv[i].key_len).s, (long long)dup,
                     (unsigned long long)i);
            goto out;
        }
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        memcpy(np, f->tensors[i].name, f->tensors[i].name_len);
        np[f->tensors[i].name_len] = 0;
        f->tensors[i].name = np;
        np += f->tensors[i].name_len + 1;
        int64_t dup = hash_insert(f->tensor_hash, f->tensor_hash_mask, f->tensors[i].name, f->tensors[i].name_len,
                                  (uint32_t)i, tensor_name, f);
        if (dup >= 0) {
            r = fail(&e, GGUF_E_DUP_TENSOR, "tensor '%s': duplicate name (tensors #%lld and #%llu)",
                     printable((const uint8_t *)f->tensors[i].name, f->tensors[i].name_len).s, (long long)dup,
                     (unsigned long long)i);
            goto out;
        }
    }

    if ((r = check_alignment(f, &e)))
        goto out;
    /* the data section starts at the next multiple of the alignment after the header */
    uint64_t pad = (f->alignment - header_end % f->alignment) % f->alignment;
    f->data_offset = header_end + pad;
    if (n_tensors > 0 && (f->data_offset < header_end || f->data_offset > size)) {
        r = fail(&e, GGUF_E_TRUNCATED, "data section would start at %llu, past the end of the %llu-byte file",
                 (unsigned long long)f->data_offset, (unsigned long long)size);
        goto out;
    }
    if (f->data_offset > size)
        f->data_offset = size;   /* no tensors: an empty data section */
    if ((r = check_tensors(f, &e)) || (r = check_overlaps(f, &e)))
        goto out;
    return 0;
out:
    gguf_free(f);
    return r;
}

/* ---- lookups and getters ---- */

int64_t gguf_find_key(const struct gguf_file *f, const char *key)
{
    if (!f || !key)
        return -1;
    size_t len = strlen(key);
    if (len > 0xffffffffu)
        return -1;
    return hash_find(f->kv_hash, f->kv_hash_mask, key, (uint32_t)len, kv_name, f);
}

static const struct gguf_kv *kv_at(const struct gguf_file *f, int64_t i)
{
    return (f && i >= 0 && i < f->n_kv) ? &f->kv[i] : 0;
}

const char *gguf_get_key(const struct gguf_file *f, int64_t key_idx)
{
    const struct gguf_kv *kv = kv_at(f, key_idx);
    return kv ? kv->key : 0;
}

int gguf_get_kv_type(const struct gguf_file *f, int64_t key_idx)
{
    const struct gguf_kv *kv = kv_at(f, key_idx);
    return kv ? (int)kv->type : -1;
}

/* Copies a scalar of exactly type t (the host and the guest are both little-endian x86). */
static int get_scalar(const struct gguf_file *f, int64_t key_idx, uint32_t t, void *out)
{
    const struct gguf_kv *kv = kv_at(f, key_idx);
    if (!kv)
        return GGUF_E_NOT_FOUND;
    if (kv->type != t)
        return GGUF_E_TYPE;
    memcpy(out, kv->val, value_type_size(t));
    return 0;
}

int gguf_get_u8(const struct gguf_file *f, int64_t k, uint8_t *out) { return get_scalar(f, k, GGUF_TYPE_UINT8, out); }
int gguf_get_i8(const struct gguf_file *f, int64_t k, int8_t *out) { return get_scalar(f, k, GGUF_TYPE_INT8, out); }
int gguf_get_u16(const struct gguf_file *f, int64_t k, uint16_t *out) { return get_scalar(f, k, GGUF_TYPE_UINT16, out); }
int gguf_get_i16(const struct gguf_file *f, int64_t k, int16_t *out) { return get_scalar(f, k, GGUF_TYPE_INT16, out); }
int gguf_get_u32(const struct gguf_file *f, int64_t k, uint32_t *out) { return get_scalar(f, k, GGUF_TYPE_UINT32, out); }
int gguf_get_i32(const struct gguf_file *f, int64_t k, int32_t *out) { return get_scalar(f, k, GGUF_TYPE_INT32, out); }
int gguf_get_u64(const struct gguf_file *f, int64_t k, uint64_t *out) { return get_scalar(f, k, GGUF_TYPE_UINT64, out); }
int gguf_get_i64(const struct gguf_file *f, int64_t k, int64_t *out) { return get_scalar(f, k, GGUF_TYPE_INT64, out); }
int gguf_get_f32(const struct gguf_file *f, int64_t k, float *out) { return get_scalar(f, k, GGUF_TYPE_FLOAT32, out); }
int gguf_get_f64(const struct gguf_file *f, int64_t k, double *out) { return get_scalar(f, k, GGUF_TYPE_FLOAT64, out); }

int gguf_get_bool(const struct gguf_file *f, int64_t k, int *out)
{
    uint8_t b;
    int r = get_scalar(f, k, GGUF_TYPE_BOOL, &b);
    if (r == 0)
        *out = b;
    return r;
}

int gguf_get_str(const struct gguf_file *f, int64_t k, const char **ptr, uint64_t *len)
{
    const struct gguf_kv *kv = kv_at(f, k);
    if (!kv)
        return GGUF_E_NOT_FOUND;
    if (kv->type != GGUF_TYPE_STRING)
        return GGUF_E_TYPE;
    *ptr = (const char *)kv->val;
    *len = kv->len;
    return 0;
}

/* Integer of value type t at p widened to int64; GGUF_E_TYPE if t is not an integer or does not fit. */
static int read_int(uint32_t t, const uint8_t *p, int64_t *out)
{
    switch (t) {
    case GGUF_TYPE_UINT8: *out = p[0]; return 0;
    case GGUF_TYPE_INT8: *out = (int8_t)p[0]; return 0;
    case GGUF_TYPE_UINT16: *out = (uint16_t)(p[0] | (p[1] << 8)); return 0;
    case GGUF_TYPE_INT16: *out = (int16_t)(uint16_t)(p[0] | (p[1] << 8)); return 0;
    case GGUF_TYPE_UINT32: *out = rd_u32(p); return 0;
    case GGUF_TYPE_INT32: *out = (int32_t)rd_u32(p); return 0;
    case GGUF_TYPE_INT64: *out = (int64_t)rd_u64(p); return 0;
    case GGUF_TYPE_UINT64: {
        uint64_t v = rd_u64(p);
        if (v > (uint64_t)INT64_MAX)
            return GGUF_E_TYPE;
        *out = (int64_t)v;
        return 0;
    }
    default: return GGUF_E_TYPE;
    }
}

int gguf_get_int(const struct gguf_file *f, int64_t k, int64_t *out)
{
    const struct gguf_kv *kv = kv_at(f, k);
    if (!kv)
        return GGUF_E_NOT_FOUND;
    return read_int(kv->type, kv->val, out);
}

int gguf_get_arr(const struct gguf_file *f, int64_t k, uint32_t *elem_type, uint64_t *count, const void **data)
{
    const struct gguf_kv *kv = kv_at(f, k);
    if (!kv)
        return GGUF_E_NOT_FOUND;
    if (kv->type != GGUF_TYPE_ARRAY)
        return GGUF_E_TYPE;
    *elem_type = kv->arr_type;
    *count = kv->len;
    *data = kv->val;
    return 0;
}

/* The array at k with element type t (any integer type when t is UINT32_MAX) and index i in range. */
static const struct gguf_kv *arr_elem(const struct gguf_file *f, int64_t k, uint64_t i, uint32_t t, int *err)
{
    const struct gguf_kv *kv = kv_at(f, k);
    if (!kv) {
        *err = GGUF_E_NOT_FOUND;
        return 0;
    }
    if (kv->type != GGUF_TYPE_ARRAY || (t != UINT32_MAX && kv->arr_type != t)) {
        *err = GGUF_E_TYPE;
        return 0;
    }
    if (i >= kv->len) {
        *err = GGUF_E_NOT_FOUND;
        return 0;
    }
    return kv;
}

int gguf_get_arr_str(const struct gguf_file *f, int64_t k, uint64_t i, const char **ptr, uint64_t *len)
{
    int err;
    const struct gguf_kv *kv = arr_elem(f, k, i, GGUF_TYPE_STRING, &err);
    if (!kv)
        return err;
    const uint8_t *s = kv->val + kv->str_offsets[i];
    *ptr = (const char *)s;
    *len = rd_u64(s - 8);
    return 0;
}

int gguf_get_arr_f32(const struct gguf_file *f, int64_t k, uint64_t i, float *out)
{
    int err;
    const struct gguf_kv *kv = arr_elem(f, k, i, GGUF_TYPE_FLOAT32, &err);
    if (!kv)
        return err;
    memcpy(out, kv->val + 4 * i, 4);
    return 0;
}

int gguf_get_arr_i32(const struct gguf_file *f, int64_t k, uint64_t i, int32_t *out)
{
    int err;
    const struct gguf_kv *kv = arr_elem(f, k, i, GGUF_TYPE_INT32, &err);
    if (!kv)
        return err;
    memcpy(out, kv->val + 4 * i, 4);
    return 0;
}

int gguf_get_arr_int(const struct gguf_file *f, int64_t k, uint64_t i, int64_t *out)
{
    int err;
    const struct gguf_kv *kv = arr_elem(f, k, i, UINT32_MAX, &err);
    if (!kv)
        return err;
    uint64_t es = value_type_size(kv->arr_type);
    if (es == 0 || kv->arr_type == GGUF_TYPE_FLOAT32 || kv->arr_type == GGUF_TYPE_FLOAT64 ||
        kv->arr_type == GGUF_TYPE_BOOL)
        return GGUF_E_TYPE;
    return read_int(kv->arr_type, kv->val + es * i, out);
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
    if (!f || !name)
        return 0;
    size_t len = strlen(name);
    if (len > 0xffffffffu)
        return 0;
    int64_t i = hash_find(f->tensor_hash, f->tensor_hash_mask, name, (uint32_t)len, tensor_name, f);
    return i < 0 ? 0 : &f->tensors[i];
}

const struct gguf_tensor *gguf_get_tensor(const struct gguf_file *f, int64_t i)
{
    return (f && i >= 0 && i < f->n_tensors) ? &f->tensors[i] : 0;
}
