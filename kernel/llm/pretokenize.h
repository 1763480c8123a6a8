/* Pre-tokenizers of byte-level BPE vocabularies: split text (as code points) into words before BPE merges,
   reproducing what llama.cpp does for each `tokenizer.ggml.pre` value. Each pre-tokenizer is a list of
   passes (one regex each in llama.cpp); every pass splits every segment the previous pass left.
   Hand-written matchers over the class tables of unicode.h, no regex engine. Used by tokenizer_bpe.c. */
#ifndef LLM_PRETOKENIZE_H
#define LLM_PRETOKENIZE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum pretok_type {
    PRETOK_DEFAULT,        /* no or "default" pre value: punctuation runs, GPT-2 words, number runs, digit triples */
    PRETOK_GPT2,           /* GPT-2's regex: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
    PRETOK_LLAMA3,         /* Llama 3's regex: case-insensitive contractions, \p{N}{1,3}, \s*[\r\n]+ ... */
    PRETOK_QWEN2,          /* Llama 3's regex with single digits */
    PRETOK_QWEN35,         /* Qwen2's with combining marks inside letter runs */
    PRETOK_STARCODER,      /* single digits, then GPT-2's regex (starcoder, smollm, refact, command-r, ...) */
    PRETOK_FALCON,         /* punctuation runs, GPT-2's regex, digit triples */
    PRETOK_DEEPSEEK_LLM,   /* DeepSeek LLM's six regexes */
    PRETOK_DEEPSEEK_CODER, /* DeepSeek Coder's five regexes */
    PRETOK_NEWLINES,       /* runs of '\n' and runs of everything else (Gemma 4's SentencePiece-like BPE) */
    PRETOK_BLOOM,          /* " ?[^(\s|.,!?…。，、।۔،)]+" (bloom, poro-chat, gpt3-finnish) */
    PRETOK_VIKING,         /* the same, then single digits */
    PRETOK_TEKKEN,         /* Mistral's Tekken: words split at lower -> upper case changes, single digits */
    PRETOK_GPT4O,          /* the same with contractions and \p{N}{1,3} (gpt-4o, llama4); keep last */
};

struct pretok_config {
    enum pretok_type type;
    bool ignore_merges;   /* a word that is a whole token is emitted as is, without merging */
    bool add_bos;         /* llama.cpp's default for add_bos before the GGUF key overrides it */
    bool clean_spaces;    /* llama.cpp's detokenizer clean-up default (informational) */
    bool raw_bytes;       /* words stay raw UTF-8 (no GPT-2 byte map); fallback to <0xXX> tokens */
    bool escape_spaces;   /* ' ' is written U+2581 before splitting (and read back as ' ') */
    bool no_default_bos;  /* no BOS unless the GGUF names one (chatglm) */
};

/* Look up a `tokenizer.ggml.pre` value (len bytes, not NUL-terminated; len 0 = absent). Returns 0, or -1 for
   a name llama.cpp would not know or that this module does not implement. */
int pretok_config_from_name(const char *name, size_t len, struct pretok_config *cfg);

/* Split cps[0..n) into words. lens_a and lens_b are scratch arrays of at least n entries each (n >= 1).
   Returns the number of words; *words points into lens_a or lens_b at their lengths in code points
   (all > 0, summing to n). */
size_t pretok_split(enum pretok_type type, const uint32_t *cps, size_t n,
                    uint32_t *lens_a, uint32_t *lens_b, const uint32_t **words);

#endif
