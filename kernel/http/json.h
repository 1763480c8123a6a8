/* JSON (RFC 8259): a strict parser into a read-only tree, bounded in depth and memory, and a writer that can only
   emit valid JSON. Request handlers in api/ parse bodies with json_parse() and build answers with json_writer.
   Pure: builds for the host (tests/host/http/, tests/fuzz/json_fuzz.c). Numbers use lib/parse.h and lib/fmt.h. */
#ifndef HTTP_JSON_H
#define HTTP_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_INT,    /* a number written without fraction or exponent that fits int64 */
    JSON_DOUBLE, /* any other number (finite: numbers too large for a double are rejected) */
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value {
    enum json_type type;
    const char *key;          /* member name (UTF-8, NUL-terminated) when the parent is an object, else NULL */
    size_t key_len;
    struct json_value *next;  /* next item or member of the parent, NULL after the last */
    union {
        bool b;
        int64_t i;
        double d;
        struct { const char *s; size_t len; } str;                /* UTF-8, NUL-terminated, may contain \0 */
        struct { struct json_value *first; size_t count; } list;  /* array items or object members, in order */
    } u;
};

struct json_limits {
    size_t max_depth;   /* nesting of arrays/objects; at most 1000 */
    size_t max_memory;  /* bytes the tree may use */
};

struct json_doc {
    struct json_value *root;
    void *arena;        /* private: the blocks the tree lives in */
    size_t memory;      /* bytes of arena in use */
};

struct json_error {
    size_t offset;        /* byte offset in the input where parsing failed */
    const char *message;  /* static text */
};

/* Parse len bytes (no NUL needed) with the limits of core/limits.h (CLLM_JSON_MAX_DEPTH/MEMORY).
   The whole input must be one value with optional whitespace around it. On failure doc->root is NULL, no memory is
   held, and err (if not NULL) says where and why. Free a successful parse with json_doc_free. */
bool json_parse(const char *text, size_t len, struct json_doc *doc, struct json_error *err);
bool json_parse_limits(const char *text, size_t len, const struct json_limits *lim, struct json_doc *doc,
                       struct json_error *err);
void json_doc_free(struct json_doc *doc);

/* Lookups: NULL/false when v is NULL or of another type, so they chain without checks. */
const struct json_value *json_object_get(const struct json_value *obj, const char *key); /* the last member so named */
const struct json_value *json_array_at(const struct json_value *arr, size_t index);
bool json_is_number(const struct json_value *v);
bool json_get_double(const struct json_value *v, double *out);   /* INT or DOUBLE */
bool json_get_i64(const struct json_value *v, int64_t *out);     /* INT, or a DOUBLE with an exact int64 value */
bool json_get_bool(const struct json_value *v, bool *out);
bool json_get_string(const struct json_value *v, const char **s, size_t *len);
bool json_string_equals(const struct json_value *v, const char *s);
const char *json_type_name(const struct json_value *v); /* "null", "boolean", "integer", "number", "string",
                                                           "array", "object"; "missing" for NULL (for messages) */

/* UTF-8: length of the valid sequence at s (1..4) and its code point, or 0 when s starts an invalid sequence
   (overlong, surrogate, above U+10FFFF, truncated). */
size_t json_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp);

/* The writer: appends to a growing heap buffer (json_writer_init, at most max_bytes) or to a fixed buffer the caller
   owns (json_writer_init_buf). Separators are automatic. Misuse (a value where a key belongs, unbalanced ends) or
   running out of room marks the writer failed; json_writer_result() then returns NULL, never broken JSON.
   Invalid UTF-8 in strings is replaced by U+FFFD, control characters are escaped, NaN and infinities become null. */
struct json_writer {
    char *buf;
    size_t len, cap, max;
    bool owned;            /* buf is ours (heap) */
    bool failed;
    bool want_value;       /* a key was written and its value is due */
    bool done;             /* one complete top-level value written */
    int depth;
    uint64_t is_object;    /* bit d: the container at depth d is an object */
    uint64_t has_items;    /* bit d: the container at depth d already holds something */
};

void json_writer_init(struct json_writer *w, size_t max_bytes);
void json_writer_init_buf(struct json_writer *w, char *buf, size_t cap);
void json_writer_free(struct json_writer *w);       /* frees a heap buffer; a fixed buffer stays the caller's */
const char *json_writer_result(const struct json_writer *w, size_t *len); /* NUL-terminated, or NULL on failure */

void json_write_object_begin(struct json_writer *w);
void json_write_object_end(struct json_writer *w);
void json_write_array_begin(struct json_writer *w);
void json_write_array_end(struct json_writer *w);
void json_write_key(struct json_writer *w, const char *key);
void json_write_key_n(struct json_writer *w, const char *key, size_t n);
void json_write_string(struct json_writer *w, const char *s);
void json_write_string_n(struct json_writer *w, const char *s, size_t n);
void json_write_i64(struct json_writer *w, int64_t v);
void json_write_u64(struct json_writer *w, uint64_t v);
void json_write_double(struct json_writer *w, double v); /* shortest text that reads back as the same double */
void json_write_bool(struct json_writer *w, bool v);
void json_write_null(struct json_writer *w);
void json_write_value(struct json_writer *w, const struct json_value *v); /* a parsed tree, re-emitted */

/* Object members in one call. */
void json_write_member_string(struct json_writer *w, const char *key, const char *s);
void json_write_member_i64(struct json_writer *w, const char *key, int64_t v);
void json_write_member_double(struct json_writer *w, const char *key, double v);
void json_write_member_bool(struct json_writer *w, const char *key, bool v);
void json_write_member_null(struct json_writer *w, const char *key);

#endif
