/* HTTP/1.1 request parsing (RFC 9112), pure and bounded: an incremental scanner that finds the end of the request
   head as bytes arrive, a parser for a complete head, and an incremental chunked-body decoder.
   The connection state machine that drives them is http/http_conn.c; tests in tests/host/http/ and tests/fuzz/.
   Every function returns 0 / a progress value or an HTTP status code to answer with (400, 413, 414, 431, 501, 505). */
#ifndef HTTP_HTTP_PARSE_H
#define HTTP_HTTP_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "core/limits.h"

enum http_method {
    HTTP_METHOD_UNKNOWN = 0,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_PATCH,
    HTTP_METHOD_COUNT,
};
#define HTTP_METHOD_BIT(m) (1u << (m))
const char *http_method_name(enum http_method m);

/* --- Finding the end of the head, incrementally --- */
enum http_scan_result { HTTP_SCAN_MORE = 0, HTTP_SCAN_DONE = 1 }; /* or an error status >= 400 */

struct http_head_scan {
    size_t pos;      /* bytes of the buffer examined so far */
    size_t start;    /* where the request line starts (empty lines before it are skipped, RFC 9112 2.2) */
    int state;
    bool first_line; /* still in the request line */
};

void http_head_scan_init(struct http_head_scan *s);
/* buf[0..len) is everything received so far (len only grows between calls). Returns HTTP_SCAN_MORE,
   HTTP_SCAN_DONE with *head_end set to the byte after the blank line, or a status: 400 for a bare CR or LF,
   obsolete line folding, or a control byte; 414 for a request line over max_head bytes; 431 for a head over max_head. */
int http_head_scan(struct http_head_scan *s, const char *buf, size_t len, size_t max_head, size_t *head_end);

/* --- The parsed head --- */
struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* without surrounding whitespace */
    size_t value_len;
};

enum http_body_kind { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

struct http_head {
    enum http_method method;
    const char *target;  /* request-target as sent */
    size_t target_len;
    const char *path;    /* origin-form path (for absolute-form, the part after the authority; "*" for OPTIONS *) */
    size_t path_len;
    const char *query;   /* after '?', without it; NULL when absent */
    size_t query_len;
    int version_minor;   /* 0 or 1: HTTP/1.0 or HTTP/1.1 (a higher 1.x is handled as 1.1) */
    struct http_header headers[CLLM_HTTP_MAX_HEADERS];
    size_t n_headers;
    enum http_body_kind body_kind;
    uint64_t content_length; /* for HTTP_BODY_LENGTH */
    bool keep_alive;         /* the connection may stay open after this exchange */
    bool expect_continue;    /* "Expect: 100-continue" */
    const char *error;       /* why parsing failed (static text) */
};

/* Parse the complete head buf[0..len) (from the request line through the blank line; what http_head_scan found).
   The head keeps pointers into buf. Returns 0, or the error status with head->error set:
   400 malformed syntax, missing/duplicate Host in 1.1, bad or conflicting Content-Length, Transfer-Encoding with
   Content-Length or in HTTP/1.0, a final transfer coding other than chunked; 413 Content-Length over max_body;
   417 an unknown expectation; 431 too many header fields; 501 unknown method or transfer coding;
   505 an HTTP major version other than 1. */
int http_parse_head(const char *buf, size_t len, uint64_t max_body, struct http_head *head);

/* Value of the first header so named (case-insensitive), or NULL. */
const struct http_header *http_head_find(const struct http_head *head, const char *name);
/* Does the comma-separated list in the named header(s) contain token (case-insensitive)? */
bool http_head_has_token(const struct http_head *head, const char *name, const char *token);

/* --- Chunked request bodies (RFC 9112 7.1), incrementally --- */
enum http_chunked_result { HTTP_CHUNKED_MORE = 0, HTTP_CHUNKED_DONE = 1 }; /* or an error status */

struct http_chunked {
    int state;
    uint64_t remaining;  /* data bytes left in the current chunk */
    uint64_t size;       /* chunk size being read */
    uint64_t total;      /* data bytes so far */
    uint64_t limit;      /* 413 beyond this */
    size_t line_len;     /* length of the current size or trailer line */
    size_t trailer_len;  /* bytes of trailer section */
    int digits;
};

void http_chunked_init(struct http_chunked *c, uint64_t limit);
/* Consume in[0..len), appending body data to out (out_cap bytes free, *produced set). Stops early when out is full
   (*consumed < len). Returns HTTP_CHUNKED_MORE, HTTP_CHUNKED_DONE (after the trailer section; bytes after it are not
   consumed), 400 for bad framing, 413 when the data exceeds the limit, 431 for a trailer section over
   CLLM_HTTP_MAX_HEADER bytes. Extensions and trailer fields are checked and discarded. */
int http_chunked_decode(struct http_chunked *c, const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
                        size_t out_cap, size_t *produced);

#endif
