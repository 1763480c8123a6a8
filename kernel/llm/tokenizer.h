/* Tokenizers built from a GGUF's tokenizer.ggml.* metadata, matching llama.cpp token for token:
   SentencePiece-style ("llama": score-driven merges, byte fallback <0xXX>, space prefix) in tokenizer_spm.c,
   GPT-2 byte-level BPE ("gpt2": merge ranks after a pre-tokenizer, pretokenize.c) in tokenizer_bpe.c.
   This file's functions (vocabulary tables, special tokens, encode, pieces, streaming detokenizer) are in
   tokenizer.c. No dependency on the GGUF reader: the caller hands the metadata over in tokenizer_vocab. */
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "llm/pretokenize.h"

/* Error values (all negative). */
enum tokenizer_error {
    TOKENIZER_ERR_NOMEM = -1,       /* kmalloc failed */
    TOKENIZER_ERR_NOSPACE = -2,     /* the output array is too small (encode) */
    TOKENIZER_ERR_INVALID = -3,     /* inconsistent vocabulary or arguments */
    TOKENIZER_ERR_UNSUPPORTED = -4, /* tokenizer model or pre-tokenizer this module does not implement */
};
const char *tokenizer_strerror(int err);

/* tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
enum tokenizer_token_type {
    TOKEN_TYPE_UNDEFINED = 0,
    TOKEN_TYPE_NORMAL = 1,
    TOKEN_TYPE_UNKNOWN = 2,
    TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4,
    TOKEN_TYPE_UNUSED = 5,
    TOKEN_TYPE_BYTE = 6,
};

/* Per-token attribute bits derived from the type (and llama.cpp's fix-ups by token text / model name). */
enum tokenizer_attr {
    TOKEN_ATTR_UNKNOWN = 1u << 0,
    TOKEN_ATTR_UNUSED = 1u << 1,
    TOKEN_ATTR_NORMAL = 1u << 2,
    TOKEN_ATTR_CONTROL = 1u << 3,
    TOKEN_ATTR_USER_DEFINED = 1u << 4,
    TOKEN_ATTR_BYTE = 1u << 5,
    TOKEN_ATTR_LSTRIP = 1u << 7,   /* matching the special token eats white space to its left */
    TOKEN_ATTR_RSTRIP = 1u << 8,   /* ... and to its right */
};

struct tokenizer_str {
    const char *ptr;
    size_t len;
};

/* What the tokenizer needs from the GGUF metadata. Every byte pointed to (token texts, merges, scores,
   types) must stay valid and unchanged for the tokenizer's lifetime: in the kernel they point into the
   baked GGUF and are never copied. */
struct tokenizer_vocab {
    uint32_t n_tokens;                       /* tokenizer.ggml.tokens count */
    const struct tokenizer_str *tokens;      /* token texts as an array, or NULL to use token_text() */
    /* token i's text; called once per i in increasing order during tokenizer_init; nonzero = error */
    int (*token_text)(void *ctx, uint32_t i, struct tokenizer_str *out);
    const void *scores;                      /* n_tokens little-endian float32 (may be unaligned) or NULL */
    const void *token_types;                 /* n_tokens little-endian int32 (may be unaligned) or NULL */
    uint32_t n_merges;                       /* tokenizer.ggml.merges count ("a b" strings), gpt2 only */
    const struct tokenizer_str *merges;      /* as an array, or NULL to use merge_text() */
    int (*merge_text)(void *ctx, uint32_t i, struct tokenizer_str *out); /* once per i, increasing */
    void *ctx;                               /* passed to the callbacks */
    struct tokenizer_str model;              /* tokenizer.ggml.model: "llama" (SPM), "gpt2" or "gemma4" (BPE) */
    struct tokenizer_str pre;                /* tokenizer.ggml.pre, len 0 when absent */
    struct tokenizer_str name;               /* general.name (llama.cpp fixes attributes for phi-3), may be empty */
    int64_t bos_id, eos_id, eot_id, eom_id, unk_id, pad_id; /* -1 when the key is absent */
    int8_t add_bos, add_eos, add_space_prefix; /* tokenizer.ggml.add_*: -1 when absent, else 0 or 1 */
};
/* A tokenizer_vocab with every optional key marked absent. */
void tokenizer_vocab_defaults(struct tokenizer_vocab *v);

enum tokenizer_kind {
    TOKENIZER_SPM, /* "llama" */
    TOKENIZER_BPE, /* "gpt2" */
};

struct tokenizer_token {
    const char *text;   /* points into the vocabulary's bytes */
    uint32_t len;
    uint16_t attr;      /* enum tokenizer_attr bits */
    float score;        /* SPM merge priority */
};

struct tokenizer_merge {
    const char *text;   /* "left right" */
    uint32_t left_len, right_len;
};

#define TOKENIZER_MAX_EOG 16

/* One open-addressing slot: the entry (token id or merge rank, UINT32_MAX = empty) and its key's hash,
   side by side so a probe touches one cache line. */
struct tokenizer_slot {
    uint32_t id;
    uint32_t hash;
};

struct tokenizer {
    enum tokenizer_kind kind;
    struct pretok_config pre;               /* BPE only */
    uint32_t n_tokens;
    struct tokenizer_token *tokens;         /* (n_tokens) */
    struct tokenizer_slot *token_index;     /* token text -> id */
    uint32_t token_index_mask;
    uint32_t n_merges;
    struct tokenizer_merge *merges;         /* (n_merges), index = rank */
    struct tokenizer_slot *merge_index;     /* (left, right) -> merge rank */
    uint32_t merge_index_mask;
    int32_t *specials;                      /* control / user-defined / unknown ids, longest text first */
    uint32_t n_specials;
    uint32_t max_token_len;                 /* bytes: also the longest piece token_to_piece writes */
    int32_t bos_id, eos_id, eot_id, eom_id, unk_id, pad_id, nl_id; /* -1 = none */
    int32_t eog_ids[TOKENIZER_MAX_EOG];     /* tokens that end generation (EOS, EOT, <|im_end|>, ...) */
    uint32_t n_eog;
    bool add_bos, add_eos, add_space_prefix;
    uint8_t byte_utf8[256][2];              /* GPT-2 byte -> code point, as UTF-8 (1 or 2 bytes) */
    uint8_t byte_utf8_len[256];
    int32_t byte_token[256];                /* <0xXX> byte-fallback token of each byte (SPM: or the raw byte) */
};

/* Build the lookup tables (a few ms for a 50k vocabulary). Returns 0 or an enum tokenizer_error;
   on error nothing stays allocated. */
int tokenizer_init(struct tokenizer *t, const struct tokenizer_vocab *v);
void tokenizer_free(struct tokenizer *t);

/* Token id of an exact text, -1 if none. */
int32_t tokenizer_find_token(const struct tokenizer *t, const char *text, size_t len);

/* Tokenize len bytes of text (any bytes; invalid UTF-8 is handled as llama.cpp does). add_special adds
   BOS/EOS as the metadata says; parse_special turns the texts of control tokens into those tokens
   (user-defined tokens are always matched, as in llama.cpp). Returns the token count, or
   TOKENIZER_ERR_NOSPACE if more than max_out tokens would be needed (3 * len + 8 suffice for every
   vocabulary that has U+2581 / all byte tokens), or TOKENIZER_ERR_NOMEM. */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool add_special,
                     bool parse_special, int32_t *out, int max_out);

/* The bytes a token stands for: GPT-2 byte-level decoding, or SPM's U+2581 -> ' ' and <0xXX> -> byte.
   Control and unknown tokens give their text only when render_special, unused ones give nothing.
   Returns the length written, or -(length needed) when len is too small (nothing is written then).
   Never more than t->max_token_len bytes. Unknown ids give 0. */
int tokenizer_token_to_piece(const struct tokenizer *t, int32_t id, char *buf, int len, bool render_special);

/* True for tokens that end generation. */
bool tokenizer_is_eog(const struct tokenizer *t, int32_t id);

/* Streaming detokenizer: feeds token pieces through and holds back a UTF-8 sequence the last piece left
   incomplete, so the output never splits a character. Bytes that can never complete a character
   (invalid UTF-8) are passed through unchanged. */
struct detok_stream {
    const struct tokenizer *t;
    bool render_special;
    uint8_t n_pending;
    uint8_t pending[4];
};
void detok_stream_init(struct detok_stream *s, const struct tokenizer *t, bool render_special);
/* Append token id; writes the bytes now complete to out and returns their count, or -(room needed) if
   out_len is too small (then the token is not consumed). out_len >= t->max_token_len + 3 always works. */
int detok_stream_push(struct detok_stream *s, int32_t id, char *out, int out_len);
/* Emit what is still held back (an incomplete sequence at the end of the stream); at most 3 bytes. */
int detok_stream_flush(struct detok_stream *s, char *out, int out_len);

/* Internal to the tokenizer_*.c files. */
struct tokenizer_out {
    int32_t *ids;
    int max, n; /* n counts past max when the array is full */
};
static inline void tokenizer_out_push(struct tokenizer_out *o, int32_t id)
{
    if (o->n < o->max)
        o->ids[o->n] = id;
    o->n++;
}
int tokenizer_spm_encode(const struct tokenizer *t, const char *text, size_t len, bool space_prefix,
                         struct tokenizer_out *o);
int tokenizer_bpe_encode(const struct tokenizer *t, const char *text, size_t len, struct tokenizer_out *o);
int32_t tokenizer_find_merge(const struct tokenizer *t, const char *left, size_t left_len, size_t right_len);

#endif
