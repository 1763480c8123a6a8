/* libFuzzer harness for kernel/http/json.c: parse the input; when it parses, write the tree back, and that text
   must parse again and write back to the same bytes (a fixed point). The input as a raw string value must also
   come out as JSON that parses to a string. Arena blocks must all be freed. Run from tests/test_json_fuzz.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/json.h"

extern long h_allocs;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static size_t emit(const struct json_value *v, char **out)
{
    struct json_writer w;
    json_writer_init(&w, 1 << 26);
    json_write_value(&w, v);
    size_t n = 0;
    const char *s = json_writer_result(&w, &n);
    check(s != NULL, "writer failed on a parsed tree");
    *out = malloc(n + 1);
    memcpy(*out, s, n + 1);
    json_writer_free(&w);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_doc doc;
    struct json_error err;
    if (json_parse((const char *)data, size, &doc, &err)) {
        char *a, *b;
        size_t na = emit(doc.root, &a);
        struct json_doc doc2;
        check(json_parse(a, na, &doc2, &err), "our output does not parse");
        size_t nb = emit(doc2.root, &b);
        check(na == nb && memcmp(a, b, na) == 0, "not a fixed point");
        json_doc_free(&doc2);
        free(a);
        free(b);
        json_doc_free(&doc);
    } else {
        check(err.offset <= size && err.message != NULL, "error report");
    }
    struct json_writer w;
    json_writer_init(&w, 1 << 26);
    json_write_string_n(&w, (const char *)data, size);
    size_t n = 0;
    const char *s = json_writer_result(&w, &n);
    check(s != NULL, "string writer failed");
    check(json_parse(s, n, &doc, &err) && doc.root->type == JSON_STRING, "written string does not parse");
    json_doc_free(&doc);
    json_writer_free(&w);
    check(h_allocs == 0, "heap block leaked");
    return 0;
}
