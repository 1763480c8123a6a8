/* Tokenizer core: vocabulary hash tables, special-token handling, the encode driver (special tokens split
   the text into fragments, then tokenizer_spm.c or tokenizer_bpe.c encodes each text fragment), token
   pieces and the streaming detokenizer. API and data layout in tokenizer.h. */
#include "llm/tokenizer.h"
#include "llm/unicode.h"
#include "core/heap.h"
#include "lib/string.h"

#define SLOT_EMPTY 0xffffffffu
#define TOKENIZER_LOAD_AHEAD 16 /* hash-table inserts in flight while loading (prefetched slots) */

const char *tokenizer_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case TOKENIZER_ERR_NOMEM: return "out of memory";
    case TOKENIZER_ERR_NOSPACE: return "token array too small";
    case TOKENIZER_ERR_INVALID: return "invalid tokenizer vocabulary";
    case TOKENIZER_ERR_UNSUPPORTED: return "unsupported tokenizer model or pre-tokenizer";
    default: return "unknown tokenizer error";
    }
}

void tokenizer_vocab_defaults(struct tokenizer_vocab *v)
{
    memset(v, 0, sizeof *v);
    v->bos_id = v->eos_id = v->eot_id = v->eom_id = v->unk_id = v->pad_id = -1;
    v->add_bos = v->add_eos = v->add_space_prefix = -1;
}

/* ---- hashing ---- */

static inline uint64_t load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* 64-bit multiply-xorshift hash over bytes, folded to 32 bits; seed separates key kinds. */
static uint32_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        h = (h ^ load_u64(p)) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    h = (h ^ tail) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

#define SEED_TOKEN 0x746f6b656eull
#define SEED_MERGE 0x6d65726765ull

static uint32_t table_size_for(uint32_t n)
{
    uint32_t size = 16;
    while (size < 2u * n + 2u)
        size <<= 1;
    return size;
}

static int32_t token_lookup(const struct tokenizer *t, const char *text, size_t len, uint32_t h)
{
    uint32_t mask = t->token_index_mask;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = t->token_index[i].id;
        if (id == SLOT_EMPTY)
            return -1;
        if (t->token_index[i].hash == h && t->tokens[id].len == len && memcmp(t->tokens[id].text, text, len) == 0)
            return (int32_t)id;
    }
}

int32_t tokenizer_find_token(const struct tokenizer *t, const char *text, size_t len)
{
    if (len == 0 || len > t->max_token_len)
        return -1;
    return token_lookup(t, text, len, hash_bytes(text, len, SEED_TOKEN));
}

/* Insert token id (its text hashes to h); a later token with the same text replaces an earlier one (llama.cpp's
   map). */
static void token_insert(struct tokenizer *t, uint32_t id, uint32_t h)
{
    const struct tokenizer_token *tok = &t->tokens[id];
    uint32_t mask = t->token_index_mask;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t other = t->token_index[i].id;
        if (other == SLOT_EMPTY) {
            t->token_index[i].id = id;
            t->token_index[i].hash = h;
            return;
        }
        if (t->token_index[i].hash == h && t->tokens[other].len == tok->len &&
            memcmp(t->tokens[other].text, tok->text, tok->len) == 0) {
            t->token_index[i].id = id;
            return;
        }
    }
}

/* Merge keys: the bytes of left and right (adjacent in memory at lookup time) plus where they split. */
static uint32_t merge_hash(const char *left, size_t left_len, const char *right, size_t right_len)
{
    uint64_t seed = SEED_MERGE + left_len;
    uint32_t hl = hash_bytes(left, left_len, seed);
    return hash_bytes(right, right_len, seed ^ ((uint64_t)hl << 17));
}

static bool merge_equal(const struct tokenizer_merge *m, const char *left, size_t left_len, const char *right,
                        size_t right_len)
{
    return m->left_len == left_len && m->right_len == right_len && memcmp(m->text, left, left_len) == 0 &&
           memcmp(m->text + left_len + 1, right, right_len) == 0;
}

int32_t tokenizer_find_merge(const struct tokenizer *t, const char *left, size_t left_len, size_t right_len)
{
    if (t->n_merges == 0)
        return -1;
    const char *right = left + left_len;
    uint32_t h = merge_hash(left, left_len, right, right_len);
    uint32_t mask = t->merge_index_mask;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t rank = t->merge_index[i].id;
        if (rank == SLOT_EMPTY)
            return -1;
        if (t->merge_index[i].hash == h && merge_equal(&t->merges[rank], left, left_len, right, right_len))
            return (int32_t)rank;
    }
}

/* Insert merge rank (its key hashes to h); the first of equal merges keeps its rank (llama.cpp's emplace). */
static void merge_insert(struct tokenizer *t, uint32_t rank, uint32_t h)
{
    const struct tokenizer_merge *m = &t->merges[rank];
    const char *right = m->text + m->left_len + 1;
    uint32_t mask = t->merge_index_mask;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t other = t->merge_index[i].id;
        if (other == SLOT_EMPTY) {
            t->merge_index[i].id = rank;
            t->merge_index[i].hash = h;
            return;
        }
        if (t->merge_index[i].hash == h && merge_equal(&t->merges[other], m->text, m->left_len, right, m->right_len))
            return;
    }
}

/* ---- init ---- */

static bool str_is(struct tokenizer_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static bool str_contains(struct tokenizer_str s, const char *lit)
{
    size_t n = strlen(lit);
    for (size_t i = 0; i + n <= s.len; i++) {
        size_t k = 0;
        while (k < n && (s.ptr[i + k] | 0x20) == lit[k]) /* ASCII case-insensitive: lit is lower case */
            k++;
        if (k == n)
            return true;
    }
    return false;
}

static uint16_t attr_from_type(int32_t type)
{
    switch (type) {
    case TOKEN_TYPE_UNKNOWN: return TOKEN_ATTR_UNKNOWN;
    case TOKEN_TYPE_UNUSED: return TOKEN_ATTR_UNUSED;
    case TOKEN_TYPE_NORMAL: return TOKEN_ATTR_NORMAL;
    case TOKEN_TYPE_CONTROL: return TOKEN_ATTR_CONTROL;
    case TOKEN_TYPE_USER_DEFINED: return TOKEN_ATTR_USER_DEFINED;
    case TOKEN_TYPE_BYTE: return TOKEN_ATTR_BYTE;
    default: return 0; /* undefined */
    }
}

static int32_t find_lit(const struct tokenizer *t, const char *lit)
{
    return tokenizer_find_token(t, lit, strlen(lit));
}

static void eog_add(struct tokenizer *t, int32_t id)
{
    if (id < 0)
        return;
    for (uint32_t i = 0; i < t->n_eog; i++)
        if (t->eog_ids[i] == id)
            return;
    if (t->n_eog < TOKENIZER_MAX_EOG)
        t->eog_ids[t->n_eog++] = id;
}

static void eog_remove(struct tokenizer *t, int32_t id)
{
    for (uint32_t i = 0; i < t->n_eog; i++) {
        if (t->eog_ids[i] == id) {
            t->eog_ids[i] = t->eog_ids[--t->n_eog];
            return;
        }
    }
}

static void mark_control(struct tokenizer *t, int32_t id)
{
    if (id >= 0)
        t->tokens[id].attr |= TOKEN_ATTR_CONTROL;
}

/* llama.cpp finds end-of-turn and end-of-generation tokens by their text and makes them control tokens. */
static void tokenizer_find_eog(struct tokenizer *t)
{
    static const char *const eot_names[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
        "_<EOT>", "[EOT]", "<\357\275\234end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>",
    };
    static const char *const eog_names[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<|tool_response>", "</s>", "<eos>", "<turn|>", "[e~[",
        "<\357\275\234end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    };
    /* FIM pad / repo / file-separator tokens also end generation */
    static const char *const fim_names[] = {
        "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
        "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
        "<|file_sep|>",
    };
    if (t->eot_id < 0) {
        for (size_t i = 0; i < sizeof eot_names / sizeof eot_names[0] && t->eot_id < 0; i++)
            t->eot_id = find_lit(t, eot_names[i]);
    }
    mark_control(t, t->eot_id);
    if (t->eom_id < 0)
        t->eom_id = find_lit(t, "<|eom_id|>");
    mark_control(t, t->eom_id);
    for (size_t i = 0; i < sizeof fim_names / sizeof fim_names[0]; i++) {
        int32_t id = find_lit(t, fim_names[i]);
        mark_control(t, id);
        eog_add(t, id);
    }
    for (size_t i = 0; i < sizeof eog_names / sizeof eog_names[0]; i++) {
        int32_t id = find_lit(t, eog_names[i]);
        mark_control(t, id);
        eog_add(t, id);
    }
    eog_add(t, t->eos_id);
    eog_add(t, t->eot_id);
    eog_add(t, t->eom_id);
    /* llama.cpp's exceptions: with <|return|> and <|call|> (gpt-oss) or <|calls|> and <|flush|> (solar-open),
       <|end|> is an ordinary user-defined token; with <|tool_response>, </s> is an ordinary token (gemma4) */
    int32_t end = find_lit(t, "<|end|>");
    if (end >= 0 && ((find_lit(t, "<|return|>") >= 0 && find_lit(t, "<|call|>") >= 0) ||
                     (find_lit(t, "<|calls|>") >= 0 && find_lit(t, "<|flush|>") >= 0))) {
        eog_remove(t, end);
        t->tokens[end].attr = TOKEN_ATTR_USER_DEFINED;
    }
    int32_t s_end = find_lit(t, "</s>");
    if (s_end >= 0 && s_end != t->eos_id && find_lit(t, "<|tool_response>") >= 0) {
        eog_remove(t, s_end);
        t->tokens[s_end].attr = TOKEN_ATTR_NORMAL;
    }
}

/* Special tokens in the order llama.cpp tries them: longest text first (ties: lower id first). */
static int tokenizer_build_specials(struct tokenizer *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->n_tokens; i++)
        if ((t->tokens[i].attr & (TOKEN_ATTR_CONTROL | TOKEN_ATTR_USER_DEFINED | TOKEN_ATTR_UNKNOWN)) && t->tokens[i].len)
            n++;
    t->specials = kmalloc((n ? n : 1) * sizeof *t->specials);
    if (!t->specials)
        return TOKENIZER_ERR_NOMEM;
    t->n_specials = 0;
    for (uint32_t i = 0; i < t->n_tokens; i++)
        if ((t->tokens[i].attr & (TOKEN_ATTR_CONTROL | TOKEN_ATTR_USER_DEFINED | TOKEN_ATTR_UNKNOWN)) && t->tokens[i].len)
            t->specials[t->n_specials++] = (int32_t)i;
    /* insertion sort by length (stable); the list is short and init-only */
    for (uint32_t i = 1; i < n; i++) {
        int32_t id = t->specials[i];
        uint32_t len = t->tokens[id].len, j = i;
        while (j > 0 && t->tokens[t->specials[j - 1]].len < len) {
            t->specials[j] = t->specials[j - 1];
            j--;
        }
        t->specials[j] = id;
    }
    return 0;
}

static int32_t special_id(int64_t from_key, int32_t fallback, uint32_t n_tokens)
{
    int32_t id = fallback;
    if (id >= 0 && (uint32_t)id >= n_tokens)
        id = -1;
    if (from_key >= 0 && (uint64_t)from_key < n_tokens)
        id = (int32_t)from_key;
    return id;
}

static int tokenizer_load_tokens(struct tokenizer *t, const struct tokenizer_vocab *v)
{
    for (uint32_t i = 0; i < v->n_tokens; i++) {
        struct tokenizer_str s;
        if (v->tokens)
            s = v->tokens[i];
        else if (v->token_text(v->ctx, i, &s) != 0)
            return TOKENIZER_ERR_INVALID;
        if (s.len > 0xffffu || (s.len && !s.ptr))
            return TOKENIZER_ERR_INVALID;
        struct tokenizer_token *tok = &t->tokens[i];
        tok->text = s.ptr;
        tok->len = (uint32_t)s.len;
        if (tok->len > t->max_token_len)
            t->max_token_len = tok->len;
        if (v->scores) {
            memcpy(&tok->score, (const char *)v->scores + 4u * i, 4);
        } else {
            tok->score = 0.0f;
        }
        if (v->token_types) {
            int32_t type;
            memcpy(&type, (const char *)v->token_types + 4u * i, 4);
            tok->attr = attr_from_type(type);
        } else {
            tok->attr = TOKEN_ATTR_NORMAL;
        }
    }
    /* Hash tables are built with TOKENIZER_LOAD_AHEAD inserts in flight: the hash of an entry that many places
       ahead is computed and its slot prefetched, so the cache misses of the random slots overlap (the tables are
       ~1 MiB each; loading them was most of the model's open time). The order of the inserts is unchanged. */
    uint32_t ahead[TOKENIZER_LOAD_AHEAD];
    for (uint32_t i = 0; i < v->n_tokens + TOKENIZER_LOAD_AHEAD; i++) {
        if (i >= TOKENIZER_LOAD_AHEAD) { /* first: entry i takes over entry j's place in ahead[] */
            uint32_t j = i - TOKENIZER_LOAD_AHEAD;
            if (t->tokens[j].len > 0) /* llama.cpp renames empty tokens "[EMPTY_i]"; they never match here */
                token_insert(t, j, ahead[j % TOKENIZER_LOAD_AHEAD]);
        }
        if (i < v->n_tokens) {
            const struct tokenizer_token *tok = &t->tokens[i];
            uint32_t h = hash_bytes(tok->text, tok->len, SEED_TOKEN);
            ahead[i % TOKENIZER_LOAD_AHEAD] = h;
            __builtin_prefetch(&t->token_index[h & t->token_index_mask], 1);
        }
    }
    return 0;
}

static int tokenizer_load_merges(struct tokenizer *t, const struct tokenizer_vocab *v)
{
    uint32_t ahead[TOKENIZER_LOAD_AHEAD]; /* as for the tokens: inserts in flight, same order */
    for (uint32_t i = 0; i < v->n_merges + TOKENIZER_LOAD_AHEAD; i++) {
        if (i >= TOKENIZER_LOAD_AHEAD) { /* first, as for the tokens */
            uint32_t j = i - TOKENIZER_LOAD_AHEAD;
            if (t->merges[j].left_len && t->merges[j].right_len)
                merge_insert(t, j, ahead[j % TOKENIZER_LOAD_AHEAD]);
        }
        if (i < v->n_merges) {
            struct tokenizer_str s;
            if (v->merges)
                s = v->merges[i];
            else if (v->merge_text(v->ctx, i, &s) != 0)
                return TOKENIZER_ERR_INVALID;
            struct tokenizer_merge *m = &t->merges[i];
            m->text = s.ptr;
            m->left_len = m->right_len = 0;
            /* split at the first space after the first byte, as llama.cpp does; no space: never matches */
            for (size_t k = 1; k < s.len; k++) {
                if (s.ptr[k] == ' ') {
                    m->left_len = (uint32_t)k;
                    m->right_len = (uint32_t)(s.len - k - 1);
                    break;
                }
            }
            if (m->left_len && m->right_len) {
                uint32_t h = merge_hash(m->text, m->left_len, m->text + m->left_len + 1, m->right_len);
                ahead[i % TOKENIZER_LOAD_AHEAD] = h;
                __builtin_prefetch(&t->merge_index[h & t->merge_index_mask], 1);
            }
        }
    }
    return 0;
}

int tokenizer_init(struct tokenizer *t, const struct tokenizer_vocab *v)
{
    int err;
    memset(t, 0, sizeof *t);
    if (v->n_tokens == 0 || v->n_tokens >= 0x7fffffffu || (!v->tokens && !v->token_text))
        return TOKENIZER_ERR_INVALID;

    bool spm = str_is(v->model, "llama");
    bool gemma4 = str_is(v->model, "gemma4"); /* BPE over raw UTF-8 with U+2581 for spaces */
    if (!spm && !gemma4 && !str_is(v->model, "gpt2"))
        return TOKENIZER_ERR_UNSUPPORTED;
    t->kind = spm ? TOKENIZER_SPM : TOKENIZER_BPE;
    if (!spm) {
        struct tokenizer_str pre = gemma4 ? (struct tokenizer_str){"gemma4", 6} : v->pre;
        if (pretok_config_from_name(pre.ptr, pre.len, &t->pre) != 0)
            return TOKENIZER_ERR_UNSUPPORTED;
        if (v->n_merges && !v->merges && !v->merge_text)
            return TOKENIZER_ERR_INVALID;
    }

    t->n_tokens = v->n_tokens;
    uint32_t tsize = table_size_for(v->n_tokens);
    t->tokens = kmalloc((size_t)v->n_tokens * sizeof *t->tokens);
    t->token_index = kmalloc((size_t)tsize * sizeof *t->token_index);
    err = TOKENIZER_ERR_NOMEM;
    if (!t->tokens || !t->token_index)
        goto fail;
    memset(t->token_index, 0xff, (size_t)tsize * sizeof *t->token_index);
    t->token_index_mask = tsize - 1;
    if ((err = tokenizer_load_tokens(t, v)) != 0)
        goto fail;

    if (!spm && v->n_merges) {
        uint32_t msize = table_size_for(v->n_merges);
        t->n_merges = v->n_merges;
        t->merges = kmalloc((size_t)v->n_merges * sizeof *t->merges);
        t->merge_index = kmalloc((size_t)msize * sizeof *t->merge_index);
        err = TOKENIZER_ERR_NOMEM;
        if (!t->merges || !t->merge_index)
            goto fail;
        memset(t->merge_index, 0xff, (size_t)msize * sizeof *t->merge_index);
        t->merge_index_mask = msize - 1;
        if ((err = tokenizer_load_merges(t, v)) != 0)
            goto fail;
    }

    /* llama.cpp's defaults per model, then the GGUF keys (ids out of range are ignored) */
    uint32_t n = v->n_tokens;
    t->bos_id = special_id(v->bos_id, spm ? 1 : (gemma4 || t->pre.no_default_bos) ? -1 : 11, n);
    t->eos_id = special_id(v->eos_id, spm ? 2 : gemma4 ? -1 : 11, n);
    t->unk_id = special_id(v->unk_id, spm ? 0 : -1, n);
    t->eot_id = special_id(v->eot_id, -1, n);
    t->eom_id = special_id(v->eom_id, -1, n);
    t->pad_id = special_id(v->pad_id, -1, n);
    t->add_bos = spm ? true : t->pre.add_bos;
    t->add_eos = false;
    t->add_space_prefix = spm;
    if (v->add_bos >= 0)
        t->add_bos = v->add_bos != 0;
    if (v->add_eos >= 0)
        t->add_eos = v->add_eos != 0;
    if (v->add_space_prefix >= 0)
        t->add_space_prefix = v->add_space_prefix != 0;
    if (!spm && t->pre.type == PRETOK_NEWLINES)
        t->add_bos = true; /* llama.cpp's Gemma 4 workaround */
    if ((t->add_bos && t->bos_id < 0) || (t->add_eos && t->eos_id < 0)) {
        err = TOKENIZER_ERR_INVALID;
        goto fail;
    }

    /* the GPT-2 byte map, and SPM's byte-fallback tokens */
    for (unsigned b = 0; b < 256; b++) {
        uint8_t buf[4];
        t->byte_utf8_len[b] = (uint8_t)unicode_utf8_encode(unicode_byte_to_cp((uint8_t)b), buf);
        memcpy(t->byte_utf8[b], buf, 2);
        char hex[7] = {'<', '0', 'x', "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15], '>', 0};
        t->byte_token[b] = tokenizer_find_token(t, hex, 6);
        if (t->byte_token[b] < 0 && spm) {
            char raw = (char)b;
            t->byte_token[b] = tokenizer_find_token(t, &raw, 1);
        }
    }

    tokenizer_find_eog(t);
    /* gpt-oss: these are always rendered */
    static const char *const always_user[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};
    for (size_t i = 0; i < sizeof always_user / sizeof always_user[0]; i++) {
        int32_t id = find_lit(t, always_user[i]);
        if (id >= 0)
            t->tokens[id].attr = TOKEN_ATTR_USER_DEFINED;
    }
    if ((err = tokenizer_build_specials(t)) != 0)
        goto fail;
    /* phi-3: special tokens eat the white space after them, except <unk>, <s>, <|endoftext|> */
    if (str_contains(v->name, "phi-3") || str_contains(v->name, "phi3")) {
        for (uint32_t i = 0; i < t->n_specials; i++)
            t->tokens[t->specials[i]].attr |= TOKEN_ATTR_RSTRIP;
        int32_t id = find_lit(t, "</s>");
        if (id >= 0)
            t->tokens[id].attr |= TOKEN_ATTR_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t i = 0; i < 3; i++)
            if ((id = find_lit(t, keep[i])) >= 0)
                t->tokens[id].attr &= (uint16_t)~TOKEN_ATTR_RSTRIP;
    }
    if (spm) {
        t->nl_id = t->byte_token['\n'];
    } else {
        int32_t nl;
        struct tokenizer_out o = {&nl, 1, 0};
        t->nl_id = (tokenizer_bpe_encode(t, "\n", 1, &o) == 0 && o.n >= 1) ? nl : t->pad_id;
    }
    return 0;

fail:
    tokenizer_free(t);
    return err;
}

void tokenizer_free(struct tokenizer *t)
{
    kfree(t->tokens);
    kfree(t->token_index);
    kfree(t->merges);
    kfree(t->merge_index);
    kfree(t->specials);
    memset(t, 0, sizeof *t);
}

bool tokenizer_is_eog(const struct tokenizer *t, int32_t id)
{
    for (uint32_t i = 0; i < t->n_eog; i++)
        if (t->eog_ids[i] == id)
            return true;
    return false;
}

/* ---- encode ---- */

struct fragment {
    int32_t id;        /* token, or -1 for text */
    uint32_t off, len; /* text fragments: bytes of the input */
};

struct fragments {
    struct fragment *f;
    size_t n, cap;
};

static int frag_push(struct fragments *fs, int32_t id, size_t off, size_t len)
{
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        struct fragment *f = krealloc(fs->f, cap * sizeof *f);
        if (!f)
            return TOKENIZER_ERR_NOMEM;
        fs->f = f;
        fs->cap = cap;
    }
    fs->f[fs->n].id = id;
    fs->f[fs->n].off = (uint32_t)off;
    fs->f[fs->n].len = (uint32_t)len;
    fs->n++;
    return 0;
}

static bool is_c_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static const char *find_bytes(const char *hay, size_t hay_len, const char *needle, size_t n)
{
    if (n > hay_len)
        return 0;
    const char *end = hay + hay_len - n + 1;
    for (const char *p = hay; p < end;) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p)
            return 0;
        if (memcmp(p, needle, n) == 0)
            return p;
        p++;
    }
    return 0;
}

/* Split text fragments at every occurrence of one special token (llama.cpp's order: all occurrences of the
   longest special token first, then the next one in the remaining text, ...). */
static int split_on_special(const struct tokenizer *t, const char *text, int32_t id, struct fragments *in,
                            struct fragments *out)
{
    const struct tokenizer_token *tok = &t->tokens[id];
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        struct fragment fr = in->f[i];
        if (fr.id >= 0) {
            if (frag_push(out, fr.id, 0, 0))
                return TOKENIZER_ERR_NOMEM;
            continue;
        }
        size_t off = fr.off, len = fr.len;
        for (;;) {
            const char *hit = find_bytes(text + off, len, tok->text, tok->len);
            if (!hit) {
                if (len > 0 && frag_push(out, -1, off, len))
                    return TOKENIZER_ERR_NOMEM;
                break;
            }
            size_t left = (size_t)(hit - (text + off));
            if (tok->attr & TOKEN_ATTR_LSTRIP)
                while (left > 0 && is_c_space(text[off + left - 1]))
                    left--;
            if (left > 0 && frag_push(out, -1, off, left))
                return TOKENIZER_ERR_NOMEM;
            if (frag_push(out, id, 0, 0))
                return TOKENIZER_ERR_NOMEM;
            size_t roff = (size_t)(hit - text) + tok->len;
            size_t rlen = off + len - roff;
            if (tok->attr & TOKEN_ATTR_RSTRIP)
                while (rlen > 0 && is_c_space(text[roff])) {
                    roff++;
                    rlen--;
                }
            off = roff;
            len = rlen;
            if (len == 0)
                break;
        }
    }
    return 0;
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool add_special,
                     bool parse_special, int32_t *out, int max_out)
{
    struct tokenizer_out o = {out, max_out < 0 ? 0 : max_out, 0};
    struct fragments a = {0, 0, 0}, b = {0, 0, 0};
    int err = 0;

    if (len > 0x3fffffffu)
        return TOKENIZER_ERR_INVALID;
    if (len > 0) {
        if ((err = frag_push(&a, -1, 0, len)) != 0)
            goto done;
        /* which bytes occur: special tokens starting with another byte cannot match */
        uint8_t seen[256] = {0};
        for (size_t i = 0; i < len; i++)
            seen[(uint8_t)text[i]] = 1;
        for (uint32_t s = 0; s < t->n_specials; s++) {
            int32_t id = t->specials[s];
            const struct tokenizer_token *tok = &t->tokens[id];
            if (!parse_special && (tok->attr & (TOKEN_ATTR_CONTROL | TOKEN_ATTR_UNKNOWN)))
                continue; /* user-defined tokens are matched even then */
            if (tok->len > len || !seen[(uint8_t)tok->text[0]])
                continue;
            if ((err = split_on_special(t, text, id, &a, &b)) != 0)
                goto done;
            struct fragments tmp = a;
            a = b;
            b = tmp;
        }
    }

    bool prev_special = true; /* SPM: a space goes before the first text and text after a special token */
    if (add_special && t->add_bos)
        tokenizer_out_push(&o, t->bos_id);
    for (size_t i = 0; i < a.n; i++) {
        const struct fragment *fr = &a.f[i];
        if (fr->id >= 0) {
            tokenizer_out_push(&o, fr->id);
            prev_special = true;
            continue;
        }
        if (t->kind == TOKENIZER_SPM) {
            err = tokenizer_spm_encode(t, text + fr->off, fr->len, t->add_space_prefix && prev_special, &o);
        } else {
            err = tokenizer_bpe_encode(t, text + fr->off, fr->len, &o);
        }
        if (err)
            goto done;
        prev_special = false;
    }
    if (add_special && t->add_eos)
        tokenizer_out_push(&o, t->eos_id);
    err = o.n > o.max ? TOKENIZER_ERR_NOSPACE : o.n;
done:
    kfree(a.f);
    kfree(b.f);
    return err;
}

/* ---- pieces ---- */

struct piece_writer {
    char *buf;
    int cap, n;
};

static void pw_put(struct piece_writer *w, const void *p, size_t n)
{
    if (n > 0 && w->n + (int)n <= w->cap)
        memcpy(w->buf + w->n, p, n);
    w->n += (int)n;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* <0xXX> -> the byte (strtol-like: what llama.cpp reads from characters 3 and 4) */
static int byte_token_value(const struct tokenizer_token *tok)
{
    if (tok->len < 5)
        return -1;
    int hi = hex_val(tok->text[3]), lo = hex_val(tok->text[4]);
    if (hi < 0)
        return -1;
    return lo < 0 ? hi : hi * 16 + lo;
}

int tokenizer_token_to_piece(const struct tokenizer *t, int32_t id, char *buf, int len, bool render_special)
{
    if (id < 0 || (uint32_t)id >= t->n_tokens)
        return 0;
    const struct tokenizer_token *tok = &t->tokens[id];
    struct piece_writer w = {buf, len < 0 ? 0 : len, 0};
    uint16_t attr = tok->attr;

    if (!render_special && (attr & (TOKEN_ATTR_UNKNOWN | TOKEN_ATTR_CONTROL)))
        return 0;
    if (attr & (TOKEN_ATTR_UNKNOWN | TOKEN_ATTR_CONTROL | TOKEN_ATTR_USER_DEFINED)) {
        pw_put(&w, tok->text, tok->len);
    } else if (attr & TOKEN_ATTR_NORMAL) {
        if (t->kind == TOKENIZER_SPM || t->pre.escape_spaces) {
            /* U+2581 (E2 96 81) -> ' ' */
            for (uint32_t i = 0; i < tok->len;) {
                if (i + 3 <= tok->len && memcmp(tok->text + i, "\xe2\x96\x81", 3) == 0) {
                    pw_put(&w, " ", 1);
                    i += 3;
                } else {
                    pw_put(&w, tok->text + i, 1);
                    i++;
                }
            }
        } else {
            /* byte-level: each code point of the text is one byte; code points outside the map are kept
               as they are (llama.cpp writes an [UNK_BYTE_...] marker there) */
            const uint8_t *s = (const uint8_t *)tok->text;
            for (size_t i = 0; i < tok->len;) {
                size_t start = i;
                uint32_t cp = unicode_utf8_decode(s, tok->len, &i);
                int byte = unicode_cp_to_byte(cp);
                if (byte >= 0) {
                    uint8_t c = (uint8_t)byte;
                    pw_put(&w, &c, 1);
                } else {
                    pw_put(&w, s + start, i - start);
                }
            }
        }
    } else if (attr & TOKEN_ATTR_BYTE) {
        int byte = byte_token_value(tok);
        if (byte >= 0) {
            uint8_t c = (uint8_t)byte;
            pw_put(&w, &c, 1);
        }
    }
    return w.n <= w.cap ? w.n : -w.n;
}

/* ---- streaming detokenizer ---- */

void detok_stream_init(struct detok_stream *s, const struct tokenizer *t, bool render_special)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->render_special = render_special;
}

int detok_stream_push(struct detok_stream *s, int32_t id, char *out, int out_len)
{
    int room = out_len - s->n_pending;
    if (room < 0) {
        int n = tokenizer_token_to_piece(s->t, id, 0, 0, s->render_special);
        return -(s->n_pending + (n < 0 ? -n : n));
    }
    int n = tokenizer_token_to_piece(s->t, id, out + s->n_pending, room, s->render_special);
    if (n < 0)
        return -(s->n_pending + (-n));
    memcpy(out, s->pending, s->n_pending);
    size_t total = (size_t)s->n_pending + (size_t)n;
    size_t done = unicode_utf8_complete_prefix((const uint8_t *)out, total);
    s->n_pending = (uint8_t)(total - done);
    memcpy(s->pending, out + done, s->n_pending);
    return (int)done;
}

int detok_stream_flush(struct detok_stream *s, char *out, int out_len)
{
    if (out_len < s->n_pending)
        return -(int)s->n_pending;
    int n = s->n_pending;
    memcpy(out, s->pending, (size_t)n);
    s->n_pending = 0;
    return n;
}
