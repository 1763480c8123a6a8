/* Pre-tokenizers of byte-level BPE vocabularies (see pretokenize.h). The GPT-2 and Llama-3-style splitters
   follow llama.cpp's hand-written versions of those regexes (including how they treat segment ends);
   the other passes reproduce what llama.cpp's std::regex fallback finds: leftmost matches, the text
   between matches kept as segments, \s matching White_Space, non-ASCII white space never in a class. */
#include "llm/pretokenize.h"
#include "llm/unicode.h"
#include "lib/string.h"

struct seg_out {
    uint32_t *lens;
    size_t n;
};

static void out_push(struct seg_out *o, size_t len)
{
    if (len > 0)
        o->lens[o->n++] = (uint32_t)len;
}

/* ---- class tests with "outside the segment" as its own value ---- */

#define F_OUT 0xffu /* position outside the segment: no class, not even unassigned */

static inline unsigned flags_at(const uint32_t *cps, size_t i, size_t e)
{
    return i < e ? unicode_flags(cps[i]) : F_OUT;
}
static inline bool f_letter(unsigned f) { return f != F_OUT && (f & UNICODE_CLASS_MASK) == UNICODE_CLASS_LETTER; }
static inline bool f_number(unsigned f) { return f != F_OUT && (f & UNICODE_CLASS_MASK) == UNICODE_CLASS_NUMBER; }
static inline bool f_mark(unsigned f) { return f != F_OUT && (f & UNICODE_CLASS_MASK) == UNICODE_CLASS_MARK; }
static inline bool f_space(unsigned f) { return f != F_OUT && (f & UNICODE_WHITESPACE); }
/* [^\s\p{L}\p{N}] inside the segment */
static inline bool f_other(unsigned f) { return f != F_OUT && !f_space(f) && !f_letter(f) && !f_number(f); }

static inline uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Length of a contraction ('s 't 'm 'd 're 've 'll) at cps[p], 0 if none. */
static size_t match_contraction(const uint32_t *cps, size_t p, size_t e, bool any_case)
{
    if (p + 1 >= e || cps[p] != '\'')
        return 0;
    uint32_t c1 = any_case ? ascii_lower(cps[p + 1]) : cps[p + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
        return 2;
    if (p + 2 >= e)
        return 0;
    uint32_t c2 = any_case ? ascii_lower(cps[p + 2]) : cps[p + 2];
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
        return 3;
    return 0;
}

/* ---- GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ ---- */

static void pass_gpt2(const uint32_t *cps, size_t s, size_t e, struct seg_out *o)
{
    size_t pos = s;
    while (pos < e) {
        size_t start = pos;
        uint32_t cp = cps[pos];
        size_t n = match_contraction(cps, pos, e, false);
        if (n) {
            out_push(o, n);
            pos += n;
            continue;
        }
        unsigned f2 = (cp == ' ') ? flags_at(cps, pos + 1, e) : flags_at(cps, pos, e);
        if (f_letter(f2) || f_number(f2) || f_other(f2)) {
            bool (*same)(unsigned) = f_letter(f2) ? f_letter : f_number(f2) ? f_number : f_other;
            pos += (cp == ' ');
            while (same(flags_at(cps, pos, e)))
                pos++;
            out_push(o, pos - start);
            continue;
        }
        size_t n_ws = 0;
        while (f_space(flags_at(cps, pos + n_ws, e)))
            n_ws++;
        if (n_ws > 1 && pos + n_ws < e)
            pos += n_ws - 1; /* \s+(?!\S): leave the last space to the word after it */
        else if (n_ws > 0)
            pos += n_ws;
        else
            pos += 1;
        out_push(o, pos - start);
    }
}

/* ---- Llama 3 family:
   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
   Qwen2: \p{N} instead of \p{N}{1,3}. Qwen3.5: [\p{L}\p{M}]+ for letters and no \p{M} in the punctuation run. */

/* \p{L} (Qwen3.5: [\p{L}\p{M}]) and [^\s\p{L}\p{N}] (Qwen3.5: [^\s\p{L}\p{M}\p{N}]) */
static inline bool f_letterish(unsigned f, bool marks) { return f_letter(f) || (marks && f_mark(f)); }
static inline bool f_otherish(unsigned f, bool marks) { return f_other(f) && !(marks && f_mark(f)); }

static void split_llama3_like(const uint32_t *cps, size_t s, size_t e, struct seg_out *o, size_t max_digits,
                              bool marks)
{
    size_t pos = s;
    while (pos < e) {
        size_t start = pos;
        uint32_t cp = cps[pos];
        unsigned f = flags_at(cps, pos, e);
        size_t n = match_contraction(cps, pos, e, true);
        if (n) {
            out_push(o, n);
            pos += n;
            continue;
        }
        if (!(cp == '\r' || cp == '\n' || f_number(f))) {
            unsigned f1 = flags_at(cps, pos + 1, e);
            if (f_letterish(f, marks) || f_letterish(f1, marks)) {
                pos++;
                while (f_letterish(flags_at(cps, pos, e), marks))
                    pos++;
                out_push(o, pos - start);
                continue;
            }
        }
        if (f_number(f)) {
            size_t run = 0;
            while (f_number(flags_at(cps, pos + run, e)) && run < max_digits)
                run++;
            pos += run;
            out_push(o, run);
            continue;
        }
        unsigned f2 = (cp == ' ') ? flags_at(cps, pos + 1, e) : f;
        /* llama.cpp's version accepts a lone space at the segment end here (f2 outside): same split as \s+ */
        if (f2 == F_OUT || f_otherish(f2, marks)) {
            pos += (cp == ' ');
            while (f_otherish(flags_at(cps, pos, e), marks))
                pos++;
            while (pos < e && (cps[pos] == '\r' || cps[pos] == '\n'))
                pos++;
            out_push(o, pos - start);
            continue;
        }
        size_t n_ws = 0, end_rn = 0;
        while (f_space(flags_at(cps, pos + n_ws, e))) {
            if (cps[pos + n_ws] == '\r' || cps[pos + n_ws] == '\n')
                end_rn = pos + n_ws + 1;
            n_ws++;
        }
        if (end_rn > 0)
            pos = end_rn; /* \s*[\r\n]+ */
        else if (n_ws > 1 && pos + n_ws < e)
            pos += n_ws - 1; /* \s+(?!\S) */
        else if (n_ws > 0)
            pos += n_ws;
        else
            pos += 1;
        out_push(o, pos - start);
    }
}

static void pass_llama3(const uint32_t *cps, size_t s, size_t e, struct seg_out *o) { split_llama3_like(cps, s, e, o, 3, false); }
static void pass_qwen2(const uint32_t *cps, size_t s, size_t e, struct seg_out *o) { split_llama3_like(cps, s, e, o, 1, false); }
static void pass_qwen35(const uint32_t *cps, size_t s, size_t e, struct seg_out *o) { split_llama3_like(cps, s, e, o, 1, true); }

/* ---- Tekken and GPT-4o (llama.cpp runs them through std::regex, ASCII case only):
   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+C?
   |[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*C?
   |\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
   with C the contractions (GPT-4o only). "Upper" = a letter that is not a-z, "lower" = not A-Z: letters
   outside ASCII are both. */

static inline bool cp_upperish(uint32_t cp) { return unicode_is_letter(cp) && !(cp >= 'a' && cp <= 'z'); }
static inline bool cp_lowerish(uint32_t cp) { return unicode_is_letter(cp) && !(cp >= 'A' && cp <= 'Z'); }

static void split_case_words(const uint32_t *cps, size_t s, size_t e, struct seg_out *o, size_t max_digits,
                             bool contractions)
{
    size_t pos = s;
    while (pos < e) {
        size_t start = pos;
        uint32_t cp = cps[pos];
        unsigned f = flags_at(cps, pos, e);
        /* the two letter alternatives, with their optional non-letter, non-digit, non-newline prefix */
        size_t q = (!f_letter(f) && !f_number(f) && cp != '\r' && cp != '\n') ? pos + 1 : pos;
        size_t k = 0; /* "upper" run */
        while (q + k < e && cp_upperish(cps[q + k]))
            k++;
        size_t end = 0;
        if (q + k < e && cp_lowerish(cps[q + k])) {
            end = q + k; /* upper* lower+ */
            while (end < e && cp_lowerish(cps[end]))
                end++;
        } else {
            /* backtrack the upper run to its last letter that is also "lower" (a non-ASCII letter) */
            size_t c = k;
            while (c > 0 && !cp_lowerish(cps[q + c - 1]))
                c--;
            if (c > 0)
                end = q + c;      /* upper* lower+ with a one-letter lower part */
            else if (k > 0)
                end = q + k;      /* upper+ lower* */
        }
        if (end) {
            if (contractions)
                end += match_contraction(cps, end, e, true);
            pos = end;
            out_push(o, pos - start);
            continue;
        }
        if (f_number(f)) {
            size_t run = 0;
            while (f_number(flags_at(cps, pos + run, e)) && run < max_digits)
                run++;
            pos += run;
            out_push(o, run);
            continue;
        }
        unsigned f2 = (cp == ' ') ? flags_at(cps, pos + 1, e) : f;
        if (f_other(f2)) {
            pos += (cp == ' ');
            while (f_other(flags_at(cps, pos, e)))
                pos++;
            while (pos < e && (cps[pos] == '\r' || cps[pos] == '\n' || cps[pos] == '/'))
                pos++;
            out_push(o, pos - start);
            continue;
        }
        size_t n_ws = 0, end_rn = 0;
        while (f_space(flags_at(cps, pos + n_ws, e))) {
            if (cps[pos + n_ws] == '\r' || cps[pos + n_ws] == '\n')
                end_rn = pos + n_ws + 1;
            n_ws++;
        }
        if (end_rn > 0)
            pos = end_rn;
        else if (n_ws > 1 && pos + n_ws < e)
            pos += n_ws - 1;
        else if (n_ws > 0)
            pos += n_ws;
        else
            pos += 1; /* cannot happen: every code point matches one alternative */
        out_push(o, pos - start);
    }
}

static void pass_tekken(const uint32_t *cps, size_t s, size_t e, struct seg_out *o) { split_case_words(cps, s, e, o, 1, false); }
static void pass_gpt4o(const uint32_t *cps, size_t s, size_t e, struct seg_out *o) { split_case_words(cps, s, e, o, 3, true); }

/* ---- single-regex passes, as std::regex_iterator finds them: leftmost match, gaps kept ----
   A matcher returns the match length at p (0: none) and may move *next to the next position worth trying. */

typedef size_t (*matcher_fn)(const uint32_t *cps, size_t p, size_t e, size_t *next);

static void find_split(const uint32_t *cps, size_t s, size_t e, struct seg_out *o, matcher_fn match)
{
    size_t gap = s, p = s;
    while (p < e) {
        size_t next = p + 1;
        size_t n = match(cps, p, e, &next);
        if (n == 0) {
            p = next;
            continue;
        }
        out_push(o, p - gap);
        out_push(o, n);
        p += n;
        gap = p;
    }
    out_push(o, e - gap);
}

/* The code point the std::wregex fallback sees: non-ASCII white space is replaced by '\v'. */
static inline uint32_t wide_view(uint32_t cp)
{
    return (cp > 0x7f && unicode_is_space(cp)) ? 0x0bu : cp;
}

struct cp_range {
    uint32_t lo, hi;
};

static bool in_ranges(uint32_t cp, const struct cp_range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return true;
    return false;
}

typedef bool (*class_fn)(uint32_t cp);

/* X+ at p */
static size_t run_of(const uint32_t *cps, size_t p, size_t e, class_fn in)
{
    size_t q = p;
    while (q < e && in(cps[q]))
        q++;
    return q - p;
}

/* \s?X+ at p (X never contains white space) */
static size_t opt_space_run(const uint32_t *cps, size_t p, size_t e, class_fn in)
{
    if (unicode_is_space(cps[p]) && p + 1 < e && in(cps[p + 1]))
        return 1 + run_of(cps, p + 1, e, in);
    return run_of(cps, p, e, in);
}

static bool c_number(uint32_t cp) { return unicode_is_number(cp); }
static bool c_letter(uint32_t cp) { return unicode_is_letter(cp); }
static bool c_punct(uint32_t cp) { return unicode_class_of(cp) == UNICODE_CLASS_PUNCT; }
static bool c_digit(uint32_t cp) { return cp >= '0' && cp <= '9'; }
static bool c_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

/* [\p{P}\$\+<=>\^~\|] (default) and the same with '`' (falcon) */
static bool c_punct_default(uint32_t cp)
{
    return c_punct(cp) || cp == '$' || cp == '+' || cp == '<' || cp == '=' || cp == '>' || cp == '^' ||
           cp == '~' || cp == '|';
}
static bool c_punct_falcon(uint32_t cp) { return c_punct_default(cp) || cp == '`'; }

/* DeepSeek LLM's letter class, as published in its tokenizer.json (A-Za-z, Latin, Greek, Cyrillic, ...). */
static const struct cp_range ds_latin[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x01BA},
    {0x01BC, 0x01BF}, {0x01C4, 0x0293}, {0x0295, 0x02AF}, {0x0370, 0x0373}, {0x0376, 0x0377}, {0x037B, 0x037D},
    {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03F5},
    {0x03F7, 0x0481}, {0x048A, 0x052F}, {0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4},
    {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
    {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
    {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E},
    {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};
/* [!-/:-~！-／：-～‘-‟　-。] (U+3000 is white space, so never in the class as std::wregex sees it) */
static const struct cp_range ds_punct[] = {
    {0x0021, 0x002F}, {0x003A, 0x007E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};
/* [一-龥ࠀ-一가-퟿] */
static const struct cp_range ds_cjk[] = {
    {0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF},
};

/* [^(\s|.,!?…。，、।۔،)] : std::wregex sees non-ASCII white space as '\v', which \s takes */
static bool c_bloom_word(uint32_t cp)
{
    static const uint32_t stop[] = {'(', '|', '.', ',', '!', '?', ')', 0x2026, 0x3002, 0xFF0C, 0x3001, 0x0964, 0x06D4,
                                    0x060C};
    if (unicode_is_space(cp))
        return false;
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (cp == stop[i])
            return false;
    return true;
}

static bool c_ds_latin(uint32_t cp) { return in_ranges(wide_view(cp), ds_latin, sizeof ds_latin / sizeof ds_latin[0]); }
static bool c_ds_punct(uint32_t cp) { return in_ranges(wide_view(cp), ds_punct, sizeof ds_punct / sizeof ds_punct[0]); }
static bool c_ds_cjk(uint32_t cp) { return in_ranges(wide_view(cp), ds_cjk, sizeof ds_cjk / sizeof ds_cjk[0]); }

static size_t m_number(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; (void)e; return c_number(c[p]); }
static size_t m_number_run(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return run_of(c, p, e, c_number); }
static size_t m_crlf(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; (void)e; return c_crlf(c[p]); }
static size_t m_punct_default(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return run_of(c, p, e, c_punct_default); }
static size_t m_punct_falcon(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return run_of(c, p, e, c_punct_falcon); }
static size_t m_space_letters(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return opt_space_run(c, p, e, c_letter); }
static size_t m_space_punct(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return opt_space_run(c, p, e, c_punct); }
static size_t m_ds_latin(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return opt_space_run(c, p, e, c_ds_latin); }
static size_t m_ds_punct(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return opt_space_run(c, p, e, c_ds_punct); }
static size_t m_ds_cjk(const uint32_t *c, size_t p, size_t e, size_t *nx) { (void)nx; return run_of(c, p, e, c_ds_cjk); }

/* " ?[^(\s|.,!?…。，、।۔،)]+" */
static size_t m_bloom(const uint32_t *c, size_t p, size_t e, size_t *nx)
{
    (void)nx;
    if (c[p] == ' ' && p + 1 < e && c_bloom_word(c[p + 1]))
        return 1 + run_of(c, p + 1, e, c_bloom_word);
    return run_of(c, p, e, c_bloom_word);
}

/* [0-9][0-9][0-9] */
static size_t m_digit3(const uint32_t *c, size_t p, size_t e, size_t *nx)
{
    (void)nx;
    return (p + 3 <= e && c_digit(c[p]) && c_digit(c[p + 1]) && c_digit(c[p + 2])) ? 3 : 0;
}

/* \s+$ : the white space run that reaches the segment end */
static size_t m_space_end(const uint32_t *c, size_t p, size_t e, size_t *nx)
{
    size_t q = p;
    while (q < e && unicode_is_space(c[q]))
        q++;
    if (q == e)
        return q - p;
    *nx = q + 1; /* every start inside this run ends at the same non-space */
    return 0;
}

/* [^\n]+|[\n]+ : every run of newlines and every run of other characters */
static void pass_newlines(const uint32_t *cps, size_t s, size_t e, struct seg_out *o)
{
    size_t start = s;
    for (size_t p = s + 1; p <= e; p++) {
        if (p == e || (cps[p] == '\n') != (cps[start] == '\n')) {
            out_push(o, p - start);
            start = p;
        }
    }
}

/* One pass: a hand-written splitter, or the leftmost-match search with a matcher. */
typedef void (*splitter_fn)(const uint32_t *cps, size_t s, size_t e, struct seg_out *o);
struct pretok_pass {
    splitter_fn split;
    matcher_fn match;
};

#define MAX_PASSES 6
static const struct pretok_pass pretok_passes[][MAX_PASSES + 1] = {
    [PRETOK_DEFAULT] = {{0, m_punct_default}, {pass_gpt2, 0}, {0, m_number_run}, {0, m_digit3}},
    [PRETOK_GPT2] = {{pass_gpt2, 0}},
    [PRETOK_LLAMA3] = {{pass_llama3, 0}},
    [PRETOK_QWEN2] = {{pass_qwen2, 0}},
    [PRETOK_QWEN35] = {{pass_qwen35, 0}},
    [PRETOK_STARCODER] = {{0, m_number}, {pass_gpt2, 0}},
    [PRETOK_FALCON] = {{0, m_punct_falcon}, {pass_gpt2, 0}, {0, m_digit3}},
    [PRETOK_DEEPSEEK_LLM] = {{0, m_crlf}, {0, m_ds_latin}, {0, m_ds_punct}, {0, m_space_end}, {0, m_ds_cjk},
                             {0, m_number_run}},
    [PRETOK_DEEPSEEK_CODER] = {{0, m_crlf}, {0, m_space_letters}, {0, m_space_punct}, {0, m_ds_cjk}, {0, m_number}},
    [PRETOK_NEWLINES] = {{pass_newlines, 0}},
    [PRETOK_BLOOM] = {{0, m_bloom}},
    [PRETOK_VIKING] = {{0, m_bloom}, {0, m_number}},
    [PRETOK_TEKKEN] = {{pass_tekken, 0}},
    [PRETOK_GPT4O] = {{pass_gpt4o, 0}},
};

size_t pretok_split(enum pretok_type type, const uint32_t *cps, size_t n,
                    uint32_t *lens_a, uint32_t *lens_b, const uint32_t **words)
{
    uint32_t *cur = lens_a, *other = lens_b;
    size_t n_cur = 0;
    if (n > 0)
        cur[n_cur++] = (uint32_t)n;
    for (const struct pretok_pass *pass = pretok_passes[type]; pass->split || pass->match; pass++) {
        struct seg_out o = {other, 0};
        size_t s = 0;
        for (size_t i = 0; i < n_cur; i++) {
            if (pass->split)
                pass->split(cps, s, s + cur[i], &o);
            else
                find_split(cps, s, s + cur[i], &o, pass->match);
            s += cur[i];
        }
        other = cur;
        cur = o.lens;
        n_cur = o.n;
    }
    *words = cur;
    return n_cur;
}

/* ---- names, as llama.cpp maps them ---- */

struct pretok_name {
    const char *name;
    enum pretok_type type;
    bool ignore_merges, add_bos, clean_spaces, raw_bytes, no_default_bos;
};

static const struct pretok_name pretok_names[] = {
    {"default", PRETOK_DEFAULT, false, false, true, false, false},
    {"llama3", PRETOK_LLAMA3, true, true, true, false, false},
    {"llama-v3", PRETOK_LLAMA3, true, true, true, false, false},
    {"llama-bpe", PRETOK_LLAMA3, true, true, true, false, false},
    {"falcon3", PRETOK_LLAMA3, true, true, true, false, false},
    {"falcon-h1", PRETOK_LLAMA3, true, true, true, false, false},
    {"pixtral", PRETOK_LLAMA3, true, true, true, false, false},
    {"midm-2.0", PRETOK_LLAMA3, true, true, true, false, false},
    {"lfm2", PRETOK_LLAMA3, true, true, true, false, false},
    {"dbrx", PRETOK_LLAMA3, false, false, true, false, false},
    {"smaug-bpe", PRETOK_LLAMA3, false, false, true, false, false},
    {"deepseek-llm", PRETOK_DEEPSEEK_LLM, false, false, false, false, false},
    {"deepseek-coder", PRETOK_DEEPSEEK_CODER, false, false, false, false, false},
    {"falcon", PRETOK_FALCON, false, false, true, false, false},
    {"mpt", PRETOK_GPT2, false, false, true, false, false},
    {"gpt-2", PRETOK_GPT2, false, false, true, false, false},
    {"phi-2", PRETOK_GPT2, false, false, true, false, false},
    {"jina-es", PRETOK_GPT2, false, false, true, false, false},
    {"jina-de", PRETOK_GPT2, false, false, true, false, false},
    {"gigachat", PRETOK_GPT2, false, false, true, false, false},
    {"jina-v2-es", PRETOK_GPT2, false, false, true, false, false},
    {"jina-v2-de", PRETOK_GPT2, false, false, true, false, false},
    {"a.x-4.0", PRETOK_GPT2, false, false, true, false, false},
    {"mellum", PRETOK_GPT2, false, false, true, false, false},
    {"modern-bert", PRETOK_GPT2, false, false, true, false, false},
    {"exaone4", PRETOK_GPT2, false, false, true, false, false},
    {"olmo", PRETOK_GPT2, false, false, true, false, false},
    {"jais", PRETOK_GPT2, false, false, true, false, false},
    {"trillion", PRETOK_GPT2, false, false, false, false, false},
    {"granite-docling", PRETOK_GPT2, false, false, false, false, false},
    {"starcoder", PRETOK_STARCODER, false, false, true, false, false},
    {"refact", PRETOK_STARCODER, false, false, true, false, false},
    {"command-r", PRETOK_STARCODER, false, false, false, false, false},
    {"smollm", PRETOK_STARCODER, false, false, false, false, false},
    {"codeshell", PRETOK_STARCODER, false, false, true, false, false},
    {"exaone", PRETOK_STARCODER, false, false, true, false, false},
    {"minerva-7b", PRETOK_STARCODER, false, false, true, false, false},
    {"mellum2", PRETOK_STARCODER, false, false, true, false, false},
    {"qwen2", PRETOK_QWEN2, false, false, false, false, false},
    {"deepseek-r1-qwen", PRETOK_QWEN2, false, false, false, false, false},
    {"kormo", PRETOK_QWEN2, false, false, false, false, false},
    {"f2llmv2", PRETOK_QWEN2, false, false, false, false, false},
    {"megrez", PRETOK_QWEN2, false, false, true, false, false},
    {"stablelm2", PRETOK_QWEN2, false, false, true, false, false},
    {"hunyuan", PRETOK_QWEN2, false, false, false, false, false},
    {"solar-open", PRETOK_QWEN2, false, false, false, false, false},
    {"qwen35", PRETOK_QWEN35, false, false, false, false, false},
    {"gemma4", PRETOK_NEWLINES, false, true, true, true, false},
    {"granite-embed-multi-311m", PRETOK_NEWLINES, false, true, true, true, false},
    {"poro-chat", PRETOK_BLOOM, false, false, false, false, false},
    {"bloom", PRETOK_BLOOM, false, false, true, false, false},
    {"gpt3-finnish", PRETOK_BLOOM, false, false, true, false, false},
    {"viking", PRETOK_VIKING, false, false, false, false, false},
    {"chatglm-bpe", PRETOK_LLAMA3, false, false, true, false, true},
    {"glm4", PRETOK_LLAMA3, true, false, true, false, true},
    {"glm5", PRETOK_LLAMA3, true, false, true, false, true},
    {"tekken", PRETOK_TEKKEN, true, true, false, false, false},
    {"gpt-4o", PRETOK_GPT4O, false, false, false, false, false},
    {"llama4", PRETOK_GPT4O, false, false, false, false, false},
};

int pretok_config_from_name(const char *name, size_t len, struct pretok_config *cfg)
{
    const struct pretok_name *hit = &pretok_names[0]; /* absent: llama.cpp warns and uses the default */
    if (len > 0) {
        hit = 0;
        for (size_t i = 0; i < sizeof pretok_names / sizeof pretok_names[0]; i++) {
            if (strlen(pretok_names[i].name) == len && memcmp(pretok_names[i].name, name, len) == 0) {
                hit = &pretok_names[i];
                break;
            }
        }
        if (!hit)
            return -1;
    }
    cfg->type = hit->type;
    cfg->ignore_merges = hit->ignore_merges;
    cfg->add_bos = hit->add_bos;
    cfg->clean_spaces = hit->clean_spaces;
    cfg->raw_bytes = hit->raw_bytes;
    cfg->escape_spaces = hit->raw_bytes; /* the two go together in llama.cpp (gemma4) */
    cfg->no_default_bos = hit->no_default_bos;
    return 0;
}
