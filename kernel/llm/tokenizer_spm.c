/* SentencePiece-style tokenizer ("llama" vocabularies), as llama.cpp runs it: spaces become U+2581, the text
   is split into UTF-8 characters, and adjacent pieces whose concatenation is a token are merged, highest
   token score first (leftmost on ties), until no pair is a token. Pieces that are not tokens fall back to
   <0xXX> byte tokens. The driver (special tokens, BOS/EOS) is in tokenizer.c. */
#include "llm/tokenizer.h"
#include "llm/unicode.h"
#include "core/heap.h"
#include "lib/string.h"

struct spm_sym {
    uint32_t off, n;      /* bytes in the escaped text; n = 0 once merged into the left neighbour */
    int32_t prev, next;
};

struct spm_bigram {
    float score;
    uint32_t left, right;
    uint32_t size;        /* bytes of both pieces when queued: a changed size means the entry is stale */
};

struct spm_heap {
    struct spm_bigram *v;
    size_t n, cap;
    bool nomem;           /* a push found no memory: the result is abandoned */
};

/* a before b in the queue: higher score, then the leftmost */
static bool spm_before(const struct spm_bigram *a, const struct spm_bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void spm_heap_push(struct spm_heap *h, struct spm_bigram x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap * 2 + 16;
        struct spm_bigram *v = krealloc(h->v, cap * sizeof *v);
        if (!v) {
            h->nomem = true;
            return;
        }
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!spm_before(&x, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = x;
}

static struct spm_bigram spm_heap_pop(struct spm_heap *h)
{
    struct spm_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && spm_before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!spm_before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

static void spm_try_bigram(const struct tokenizer *t, const char *s, const struct spm_sym *syms, int32_t left,
                           int32_t right, struct spm_heap *h)
{
    if (left < 0 || right < 0)
        return;
    uint32_t size = syms[left].n + syms[right].n;
    int32_t id = tokenizer_find_token(t, s + syms[left].off, size);
    if (id < 0)
        return;
    struct spm_bigram b = {t->tokens[id].score, (uint32_t)left, (uint32_t)right, size};
    spm_heap_push(h, b);
}

int tokenizer_spm_encode(const struct tokenizer *t, const char *text, size_t len, bool space_prefix,
                         struct tokenizer_out *o)
{
    static const char sp[3] = {'\xe2', '\x96', '\x81'}; /* U+2581 */
    /* the escaped text has at most 3 bytes per input byte (+ the prefix) */
    size_t cap = 3 * (len + 1);
    char *s = kmalloc(cap);
    struct spm_sym *syms = 0;
    struct spm_heap heap = {0, 0, 0, false};
    int err = TOKENIZER_ERR_NOMEM;
    if (!s)
        goto done;

    /* escape: optional leading space, every ' ' -> U+2581 */
    size_t n = 0;
    if (space_prefix) {
        memcpy(s, sp, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + n, sp, 3);
            n += 3;
        } else {
            s[n++] = text[i];
        }
    }

    /* one piece per UTF-8 character (by its lead byte; a cut-off last character stays short); a lead byte
       before a space can take part of its U+2581 (invalid input), so count them first */
    size_t count = 0;
    for (size_t off = 0; off < n; count++) {
        size_t l = unicode_utf8_len((uint8_t)s[off]);
        off += l < n - off ? l : n - off;
    }
    syms = kmalloc((count ? count : 1) * sizeof *syms);
    if (!syms)
        goto done;
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

    for (int32_t i = 1; i < n_syms; i++)
        spm_try_bigram(t, s, syms, i - 1, i, &heap);
    while (heap.n > 0) {
        struct spm_bigram b = spm_heap_pop(&heap);
        struct spm_sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = (int32_t)b.left;
        spm_try_bigram(t, s, syms, l->prev, (int32_t)b.left, &heap);
        spm_try_bigram(t, s, syms, (int32_t)b.left, l->next, &heap);
    }
    if (heap.nomem)
        goto done;

    for (int32_t i = n_syms ? 0 : -1; i != -1; i = syms[i].next) {
        int32_t id = tokenizer_find_token(t, s + syms[i].off, syms[i].n);
        if (id >= 0) {
            tokenizer_out_push(o, id);
            continue;
        }
        for (uint32_t k = 0; k < syms[i].n; k++) {
            int32_t bt = t->byte_token[(uint8_t)s[syms[i].off + k]];
            if (bt < 0)
                bt = t->unk_id; /* llama.cpp fails here; a vocabulary without byte tokens is unusual */
            if (bt >= 0)
                tokenizer_out_push(o, bt);
        }
    }
    err = 0;
done:
    kfree(s);
    kfree(syms);
    kfree(heap.v);
    return err;
}
