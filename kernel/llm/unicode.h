/* Unicode helpers for the tokenizer: UTF-8 decoding with llama.cpp's error behaviour, code point classes
   (\p{L}, \p{N}, ... and \s) from the generated tables in unicode_tables.c (tools/gen_unicode_tables.py),
   and GPT-2's reversible byte <-> code point map. Used by pretokenize.c and tokenizer*.c. */
#ifndef LLM_UNICODE_H
#define LLM_UNICODE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* General category classes, as the regexes of the pre-tokenizers see them. */
enum unicode_class {
    UNICODE_CLASS_UNASSIGNED = 0, /* Cn (llama.cpp: "undefined") */
    UNICODE_CLASS_NUMBER = 1,     /* \p{N} */
    UNICODE_CLASS_LETTER = 2,     /* \p{L} */
    UNICODE_CLASS_SEPARATOR = 3,  /* \p{Z} */
    UNICODE_CLASS_MARK = 4,       /* \p{M} */
    UNICODE_CLASS_PUNCT = 5,      /* \p{P} */
    UNICODE_CLASS_SYMBOL = 6,     /* \p{S} */
    UNICODE_CLASS_CONTROL = 7,    /* Cc Cf Cs Co */
};
#define UNICODE_CLASS_MASK 0x07u
#define UNICODE_WHITESPACE 0x08u  /* White_Space property: what \s matches */

#define UNICODE_REPLACEMENT 0xFFFDu
#define UNICODE_MAX_CP 0x10FFFFu

extern const char unicode_tables_version[];
extern const uint16_t unicode_stage1[];
extern const uint8_t unicode_stage2[];

/* Class byte of a code point: enum unicode_class | UNICODE_WHITESPACE. Above U+10FFFF: unassigned. */
static inline uint8_t unicode_flags(uint32_t cp)
{
    if (cp > UNICODE_MAX_CP)
        return UNICODE_CLASS_UNASSIGNED;
    return unicode_stage2[((uint32_t)unicode_stage1[cp >> 8] << 8) | (cp & 0xffu)];
}
static inline enum unicode_class unicode_class_of(uint32_t cp) { return (enum unicode_class)(unicode_flags(cp) & UNICODE_CLASS_MASK); }
static inline bool unicode_is_letter(uint32_t cp) { return unicode_class_of(cp) == UNICODE_CLASS_LETTER; }
static inline bool unicode_is_number(uint32_t cp) { return unicode_class_of(cp) == UNICODE_CLASS_NUMBER; }
static inline bool unicode_is_space(uint32_t cp) { return (unicode_flags(cp) & UNICODE_WHITESPACE) != 0; }

/* Length of the UTF-8 sequence a lead byte announces, from its high nibble (1 for continuation bytes). */
static inline unsigned unicode_utf8_len(uint8_t lead)
{
    static const uint8_t len_by_nibble[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    return len_by_nibble[lead >> 4];
}

/* Decode one code point at s[*pos] (len bytes in all) and advance *pos. Follows llama.cpp: a bad lead byte,
   a missing or wrong continuation byte gives U+FFFD and skips one byte; overlong forms and surrogates
   are accepted as decoded. Values above U+10FFFF (lead bytes F5..F7), which make llama.cpp throw, are
   treated like a bad lead byte. Never reads past s[len - 1]. */
uint32_t unicode_utf8_decode(const uint8_t *s, size_t len, size_t *pos);

/* Encode cp (<= U+10FFFF) as UTF-8 into out (4 bytes of room); returns the byte count. */
unsigned unicode_utf8_encode(uint32_t cp, uint8_t *out);

/* Length of the longest prefix of s that is a complete-or-invalid sequence, i.e. everything except a
   trailing incomplete (but so far valid) UTF-8 sequence. */
size_t unicode_utf8_complete_prefix(const uint8_t *s, size_t len);

/* GPT-2 byte-level map: every byte has a printable code point (bytes ! .. ~, 0xA1 .. 0xAC, 0xAE .. 0xFF map to
   themselves, the other 68 to U+0100 + n in byte order). */
uint32_t unicode_byte_to_cp(uint8_t b);
int unicode_cp_to_byte(uint32_t cp); /* the byte, or -1 when cp is not in the map */

#endif
