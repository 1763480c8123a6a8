/* GPT-2 byte-level BPE ("gpt2" vocabularies), as llama.cpp runs it: the pre-tokenizer (pretokenize.c) cuts
   the text into words, each word's bytes are mapped to GPT-2's printable code points, and adjacent pieces
   are merged by merge rank (lowest first, leftmost on ties). Gemma 4 ("gemma4") is the same over raw UTF-8
   with U+2581 for spaces and <0xXX> byte fallback. The driver is in tokenizer.c. */
#include "llm/tokenizer.h"
#include "llm/unicode.h"
#include "core/heap.h"
#include "lib/string.h"

struct bpe_sym {
    uint32_t off, n;      /* bytes in the mapped word; n = 0 once merged into the left neighbour */
    int32_t prev, next;
};

struct bpe_bigram {
    int32_t rank;
    uint32_t left, right;
    uint32_t size;        /* bytes of both pieces when queued: a changed size means the entry is stale */
};

/* Per-call scratch, grown to the longest word; the queue grows as merges need it. */
struct bpe_scratch {
    char *enc;
    size_t enc_cap;
    struct bpe_sym *syms;  /* at most one piece per byte of the mapped word: enc_cap entries */
    struct bpe_bigram *heap;
    size_t n_heap, heap_cap;
    bool nomem;            /* a queue push found no memory: the result is abandoned */
};

static bool bpe_before(const struct bpe_bigram *a, const struct bpe_bigram *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void bpe_heap_push(struct bpe_scratch *sc, struct bpe_bigram x)
{
    if (sc->n_heap == sc->heap_cap) {
        size_t cap = sc->heap_cap * 2 + 16;
        struct bpe_bigram *h = krealloc(sc->heap, cap * sizeof *h);
        if (!h) {
            sc->nomem = true;
            return;
        }
        sc->heap = h;
        sc->heap_cap = cap;
    }
    struct bpe_bigram *h = sc->heap;
    size_t i = sc->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bpe_before(&x, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

static struct bpe_bigram bpe_heap_pop(struct bpe_scratch *sc)
{
    struct bpe_bigram *h = sc->heap;
    struct bpe_bigram top = h[0], last = h[--sc->n_heap];
    size_t n = sc->n_heap, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && bpe_before(&h[c + 1], &h[c]))
            c++;
        if (!bpe_before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0)
        h[i] = last;
    return top;
}

static void bpe_try_bigram(const struct tokenizer *t, const char *s, const struct bpe_sym *syms, int32_t left,
                           int32_t right, struct bpe_scratch *sc)
{
    if (left < 0 || right < 0)
        return;
    int32_t rank = tokenizer_find_merge(t, s + syms[left].off, syms[left].n, syms[right].n);
    if (rank < 0)
        return;
    struct bpe_bigram b = {rank, (uint32_t)left, (uint32_t)right, syms[left].n + syms[right].n};
    bpe_heap_push(sc, b);
}

static int scratch_reserve(struct bpe_scratch *sc, size_t enc_len)
{
    if (enc_len > sc->enc_cap) {
        size_t cap = enc_len < 64 ? 64 : enc_len + enc_len / 2;
        kfree(sc->enc);
        kfree(sc->syms);
        sc->enc = kmalloc(cap);
        sc->syms = kmalloc(cap * sizeof *sc->syms);
        sc->enc_cap = cap;
        if (!sc->enc || !sc->syms) {
            sc->enc_cap = 0;
            return TOKENIZER_ERR_NOMEM;
        }
    }
    return 0;
}

/* Merge one mapped word s[0..n) and emit its tokens. */
static void bpe_merge_word(const struct tokenizer *t, const char *s, size_t n, struct bpe_scratch *sc,
                           struct tokenizer_out *o)
{
    struct bpe_sym *syms = sc->syms;
    int32_t n_syms = 0;
    for (size_t off = 0; off < n;) {
        size_t l = unicode_utf8_len((uint8_t)s[off]);
        if (l > n - off)
            l = n - off;
        syms[n_syms].off = (uint32_t)off;
        syms[n_syms].n = (uint32_t)l;
        syms[n_syms].prev = n_syms - 1;
        off += l;
        syms[n_syms].next = off == n ? -1 : n_syms + 1;
        n_syms++;
    }
    sc->n_heap = 0;
    for (int32_t i = 1; i < n_syms; i++)
        bpe_try_bigram(t, s, syms, i - 1, i, sc);
    while (sc->n_heap > 0) {
        struct bpe_bigram b = bpe_heap_pop(sc);
        struct bpe_sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = (int32_t)b.left;
        bpe_try_bigram(t, s, syms, l->prev, (int32_t)b.left, sc);
        bpe_try_bigram(t, s, syms, (int32_t)b.left, l->next, sc);
    }
    for (int32_t i = n_syms ? 0 : -1; i != -1; i = syms[i].next) {
        int32_t id = tokenizer_find_token(t, s + syms[i].off, syms[i].n);
        if (id >= 0) {
            tokenizer_out_push(o, id);
            continue;
        }
        /* not a token: llama.cpp tries each byte of the mapped text as a one-byte token (raw-byte
           vocabularies: as its <0xXX> token) */
        for (uint32_t k = 0; k < syms[i].n; k++) {
            if (t->pre.raw_bytes)
                id = t->byte_token[(uint8_t)s[syms[i].off + k]];
            else
                id = tokenizer_find_token(t, s + syms[i].off + k, 1);
            if (id >= 0)
                tokenizer_out_push(o, id);
        }
    }
}

/* Every ' ' as U+2581 (Gemma 4), into a new buffer of at most 3 * len bytes. */
static char *escape_spaces(const char *text, size_t *len)
{
    char *out = kmalloc(3 * *len);
    if (!out)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < *len; i++) {
        if (text[i] == ' ') {
            memcpy(out + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            out[n++] = text[i];
        }
    }
    *len = n;
    return out;
}

static bool all_newlines(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\n')
            return false;
    return true;
}

int tokenizer_bpe_encode(const struct tokenizer *t, const char *text, size_t len, struct tokenizer_out *o)
{
    if (len == 0)
        return 0;
    char *escaped = 0;
    if (t->pre.escape_spaces) {
        if (!(escaped = escape_spaces(text, &len)))
            return TOKENIZER_ERR_NOMEM;
        text = escaped;
    }
    uint32_t *cps = kmalloc(len * sizeof *cps);
    uint32_t *lens_a = kmalloc(len * sizeof *lens_a);
    uint32_t *lens_b = kmalloc(len * sizeof *lens_b);
    struct bpe_scratch sc = {0, 0, 0, 0, 0, 0, false};
    int err = TOKENIZER_ERR_NOMEM;
    if (!cps || !lens_a || !lens_b)
        goto done;

    size_t n_cps = 0;
    for (size_t pos = 0; pos < len;)
        cps[n_cps++] = unicode_utf8_decode((const uint8_t *)text, len, &pos);

    const uint32_t *words;
    size_t n_words = pretok_split(t->pre.type, cps, n_cps, lens_a, lens_b, &words);
    size_t start = 0;
    for (size_t w = 0; w < n_words; w++) {
        size_t end = start + words[w];
        /* each code point: up to 4 UTF-8 bytes, each mapped to a 1- or 2-byte character */
        size_t need = 0;
        for (size_t i = start; i < end; i++) {
            uint8_t u[4];
            unsigned k = unicode_utf8_encode(cps[i], u);
            if (t->pre.raw_bytes)
                need += k;
            else
                for (unsigned j = 0; j < k; j++)
                    need += t->byte_utf8_len[u[j]];
        }
        if ((err = scratch_reserve(&sc, need)) != 0)
            goto done;
        size_t n = 0;
        for (size_t i = start; i < end; i++) {
            uint8_t u[4];
            unsigned k = unicode_utf8_encode(cps[i], u);
            if (t->pre.raw_bytes) {
                memcpy(sc.enc + n, u, k);
                n += k;
                continue;
            }
            for (unsigned j = 0; j < k; j++) {
                memcpy(sc.enc + n, t->byte_utf8[u[j]], t->byte_utf8_len[u[j]]);
                n += t->byte_utf8_len[u[j]];
            }
        }
        /* a word that is a whole token as it is: llama3-style ignore_merges, and Gemma 4's newline runs */
        bool whole_first = t->pre.ignore_merges || (t->pre.type == PRETOK_NEWLINES && all_newlines(sc.enc, n));
        int32_t whole;
        if (whole_first && (whole = tokenizer_find_token(t, sc.enc, n)) >= 0)
            tokenizer_out_push(o, whole);
        else
            bpe_merge_word(t, sc.enc, n, &sc, o);
        if (sc.nomem) {
            err = TOKENIZER_ERR_NOMEM;
            goto done;
        }
        start = end;
    }
    err = 0;
done:
    kfree(escaped);
    kfree(cps);
    kfree(lens_a);
    kfree(lens_b);
    kfree(sc.enc);
    kfree(sc.syms);
    kfree(sc.heap);
    return err;
}
