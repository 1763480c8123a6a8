/* libFuzzer harness for the tokenizer (kernel/llm/tokenizer*.c, pretokenize.c, unicode.c): arbitrary bytes
   through encode with every flag combination, on the vocabularies listed in TOK_FUZZ_VOCABS (files written by
   tests/host/tokenizer/tok_ctypes.py write_vocab_dump). Checks: no crash or sanitizer report, ids in range,
   the NOSPACE contract, the streaming detokenizer equals the pieces and never ends inside a character,
   and exact round trips of valid UTF-8 where the vocabulary has every byte. Run by tests/test_tokenizer_fuzz.py. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm/tokenizer.h"
#include "llm/unicode.h"

struct loaded {
    struct tokenizer t;
    bool roundtrip; /* the vocabulary has a token for every byte */
    void *data, *toks, *merges; /* kept for the process lifetime: the tokenizer points into them */
};

static struct loaded vocabs[8];
static int n_vocabs;

static void die(const char *msg)
{
    fprintf(stderr, "tok_fuzz: %s\n", msg);
    abort();
}

static const uint8_t *take(const uint8_t **p, const uint8_t *end, size_t n)
{
    if ((size_t)(end - *p) < n)
        die("truncated vocabulary dump");
    const uint8_t *r = *p;
    *p += n;
    return r;
}

static uint32_t take_u32(const uint8_t **p, const uint8_t *end)
{
    uint32_t v;
    memcpy(&v, take(p, end, 4), 4);
    return v;
}

static struct tokenizer_str take_str(const uint8_t **p, const uint8_t *end)
{
    struct tokenizer_str s;
    s.len = take_u32(p, end);
    s.ptr = (const char *)take(p, end, s.len);
    return s;
}

/* Dump: "CLTV", n_tokens, n_merges, model, pre, name, 6 x i64 ids, 3 x i8 flags, u8 roundtrip, tokens,
   u8 has_scores [f32 x n], u8 has_types [i32 x n], merges. Strings are u32 length + bytes. */
static void load_vocab(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open vocabulary dump");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)size); /* kept for the process lifetime: the tokenizer points into it */
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
        die("cannot read vocabulary dump");
    fclose(f);
    const uint8_t *p = data, *end = data + size;
    if (memcmp(take(&p, end, 4), "CLTV", 4) != 0)
        die("bad dump magic");
    struct tokenizer_vocab v;
    tokenizer_vocab_defaults(&v);
    v.n_tokens = take_u32(&p, end);
    v.n_merges = take_u32(&p, end);
    v.model = take_str(&p, end);
    v.pre = take_str(&p, end);
    v.name = take_str(&p, end);
    int64_t ids[6];
    memcpy(ids, take(&p, end, sizeof ids), sizeof ids);
    v.bos_id = ids[0], v.eos_id = ids[1], v.eot_id = ids[2], v.eom_id = ids[3], v.unk_id = ids[4], v.pad_id = ids[5];
    const int8_t *flags = (const int8_t *)take(&p, end, 3);
    v.add_bos = flags[0], v.add_eos = flags[1], v.add_space_prefix = flags[2];
    bool roundtrip = *take(&p, end, 1) != 0;
    struct tokenizer_str *toks = malloc(v.n_tokens * sizeof *toks);
    for (uint32_t i = 0; i < v.n_tokens; i++)
        toks[i] = take_str(&p, end);
    v.tokens = toks;
    if (*take(&p, end, 1))
        v.scores = take(&p, end, 4u * v.n_tokens);
    if (*take(&p, end, 1))
        v.token_types = take(&p, end, 4u * v.n_tokens);
    struct tokenizer_str *merges = malloc((v.n_merges ? v.n_merges : 1) * sizeof *merges);
    for (uint32_t i = 0; i < v.n_merges; i++)
        merges[i] = take_str(&p, end);
    v.merges = merges;
    struct loaded *l = &vocabs[n_vocabs++];
    l->data = data, l->toks = toks, l->merges = merges;
    if (tokenizer_init(&l->t, &v) != 0)
        die("tokenizer_init failed");
    l->roundtrip = roundtrip;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *list = getenv("TOK_FUZZ_VOCABS");
    if (!list)
        die("set TOK_FUZZ_VOCABS to vocabulary dumps separated by ':'");
    char *copy = strdup(list);
    for (char *s = strtok(copy, ":"); s && n_vocabs < 8; s = strtok(NULL, ":"))
        load_vocab(s);
    free(copy);
    return 0;
}

/* Length of the strictly valid UTF-8 sequence (no overlongs, surrogates, > U+10FFFF) at s[0], 0 if none. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t b = s[0];
    size_t k;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    else if (b >= 0xc2 && b <= 0xdf) k = 2, cp = b & 0x1f;
    else if (b >= 0xe0 && b <= 0xef) k = 3, cp = b & 0x0f;
    else if (b >= 0xf0 && b <= 0xf4) k = 4, cp = b & 0x07;
    else return 0;
    if (n < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[j] & 0x3f);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = utf8_seq(s + i, n - i)) == 0)
            return false;
    return true;
}

/* True if position e of s[0..n) is strictly inside a valid multi-byte character. */
static bool inside_char(const uint8_t *s, size_t n, size_t e)
{
    for (size_t back = 1; back <= 3 && back <= e; back++) {
        size_t k = utf8_seq(s + e - back, n - (e - back));
        if (k > back)
            return true;
    }
    return false;
}

static void check_one(const struct loaded *l, const uint8_t *text, size_t len, bool add_special, bool parse_special,
                      bool render_special)
{
    const struct tokenizer *t = &l->t;
    int max = (int)(3 * len + 8);
    int32_t *ids = malloc((size_t)max * sizeof *ids);
    int n = tokenizer_encode(t, (const char *)text, len, add_special, parse_special, ids, max);
    if (n < 0)
        die("encode failed within the documented bound");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->n_tokens)
            die("id out of range");
    if (n > 0) {
        int32_t *small = malloc((size_t)n * sizeof *small);
        if (tokenizer_encode(t, (const char *)text, len, add_special, parse_special, small, n - 1) != TOKENIZER_ERR_NOSPACE)
            die("a short array did not give NOSPACE");
        if (tokenizer_encode(t, (const char *)text, len, add_special, parse_special, small, n) != n ||
            memcmp(small, ids, (size_t)n * sizeof *ids) != 0)
            die("encode is not deterministic");
        free(small);
    }

    size_t cap = (size_t)n * (t->max_token_len + 4) + 8;
    char *pieces = malloc(cap), *streamed = malloc(cap);
    size_t np = 0, ns = 0, *ends = malloc(((size_t)n + 1) * sizeof *ends);
    struct detok_stream st;
    detok_stream_init(&st, t, render_special);
    for (int i = 0; i < n; i++) {
        int k = tokenizer_token_to_piece(t, ids[i], pieces + np, (int)(cap - np), render_special);
        if (k < 0 || (uint32_t)k > t->max_token_len)
            die("bad piece length");
        np += (size_t)k;
        int s = detok_stream_push(&st, ids[i], streamed + ns, (int)(cap - ns));
        if (s < 0)
            die("stream push failed");
        ns += (size_t)s;
        ends[i] = ns;
    }
    int s = detok_stream_flush(&st, streamed + ns, (int)(cap - ns));
    if (s < 0 || s > 3)
        die("bad flush");
    ns += (size_t)s;
    if (ns != np || memcmp(pieces, streamed, np) != 0)
        die("stream differs from the pieces");
    for (int i = 0; i < n; i++)
        if (inside_char((const uint8_t *)pieces, np, ends[i]))
            die("the stream cut a character");
    free(ends);

    /* SPM and Gemma 4 write U+2581 for spaces, so a U+2581 in the text comes back as a space */
    bool has_2581 = len >= 3 && memmem(text, len, "\xe2\x96\x81", 3) != NULL;
    if (l->roundtrip && !parse_special && !render_special && utf8_valid(text, len) &&
        !((t->kind == TOKENIZER_SPM || t->pre.escape_spaces) && has_2581)) {
        size_t off = 0;
        if (t->kind == TOKENIZER_SPM && t->add_space_prefix && len > 0) {
            if (np < 1 || pieces[0] != ' ')
                die("SPM output lacks its space prefix");
            off = 1;
        }
        if (np - off != len || memcmp(pieces + off, text, len) != 0)
            die("round trip differs");
    }
    free(pieces);
    free(streamed);
    free(ids);
}

/* Every pre-tokenizer on the text: words cover it exactly, none empty. */
static void check_pretokenizers(const uint8_t *text, size_t len)
{
    if (len == 0)
        return;
    uint32_t *cps = malloc(len * sizeof *cps), *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b);
    size_t n = 0;
    for (size_t pos = 0; pos < len;)
        cps[n++] = unicode_utf8_decode(text, len, &pos);
    for (int type = PRETOK_DEFAULT; type <= PRETOK_GPT4O; type++) {
        const uint32_t *words;
        size_t nw = pretok_split((enum pretok_type)type, cps, n, a, b, &words), sum = 0;
        for (size_t i = 0; i < nw; i++) {
            if (words[i] == 0)
                die("empty word");
            sum += words[i];
        }
        if (sum != n)
            die("words do not cover the text");
    }
    free(cps);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *text = data + 1;
    size_t len = size - 1;
    const struct loaded *l = &vocabs[sel % (unsigned)n_vocabs];
    check_one(l, text, len, sel & 0x10, sel & 0x20, sel & 0x40);
    if (sel & 0x80)
        check_pretokenizers(text, len);
    return 0;
}
