/* Token sampling with llama.cpp's parameters and in llama.cpp's order:
     penalties (repeat / presence / frequency over the last repeat_last_n accepted tokens)
     -> top-k -> top-p -> min-p -> temperature -> draw from the softmax.
   temperature <= 0 is greedy (argmax after the penalties). top-p and min-p see the distribution at
   temperature 1 (temperature comes last, as in llama.cpp). The random numbers come from xoshiro256**
   seeded through splitmix64 (both public-domain designs by Vigna), so a seed gives the same tokens on every
   machine. Used per sequence by llm/engine.c; logits come from llm/llama.c. */
#ifndef LLM_SAMPLER_H
#define LLM_SAMPLER_H
#include <stddef.h>
#include <stdint.h>

struct sampler_params {
    float temperature;        /* <= 0: greedy */
    int top_k;                /* <= 0: all tokens */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off; keeps p >= min_p * p_max */
    float repeat_penalty;     /* 1: off; logit > 0 divided by it, logit <= 0 multiplied */
    float presence_penalty;   /* 0: off; subtracted once from every token in the window */
    float frequency_penalty;  /* 0: off; subtracted count times */
    int repeat_last_n;        /* penalty window in tokens; 0: off (the caller maps llama.cpp's -1 to n_ctx) */
    uint64_t seed;
    int n_probs;              /* > 0: keep the top n_probs candidates' probabilities after each draw */
};

/* llama.cpp's defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, penalties off, last_n 64. */
void sampler_params_default(struct sampler_params *p);

struct sampler_candidate {
    int32_t id;
    float logit;
    float p;
};

struct sampler {
    struct sampler_params p;
    int n_vocab;
    uint64_t rng[4];                 /* xoshiro256** state */
    struct sampler_candidate *cand;  /* (n_vocab) working set; after a draw: the final candidates, best first */
    int n_cand;
    int probs_valid;                 /* cand[0..n_cand) carry probabilities (n_probs > 0) */
    int32_t *count;                  /* (n_vocab) scratch for the penalties, all zero between calls */
    int32_t *hist;                   /* (repeat_last_n) ring of the last accepted tokens */
    int hist_len, hist_pos;
};

/* 0, or -1 when out of memory / bad sizes. */
int sampler_init(struct sampler *s, const struct sampler_params *p, int n_vocab);
void sampler_free(struct sampler *s);
/* Forget the history and reseed (a new request on a reused sampler). */
void sampler_reset(struct sampler *s, uint64_t seed);

/* Remember a token for the penalties (prompt tokens and sampled tokens alike, as llama.cpp's server). */
void sampler_accept(struct sampler *s, int32_t token);

/* Choose the next token from n_vocab logits (not modified). Does not accept it. */
int32_t sampler_sample(struct sampler *s, const float *logits);

/* After sampler_sample with n_probs > 0: up to n of the final candidates, most probable first, with their
   probabilities after the whole chain (greedy: the softmax of the penalized logits). Returns the count. */
int sampler_top_probs(const struct sampler *s, int n, int32_t *ids, float *probs);

/* The generator itself, exposed for tests: next 64 random bits, and a double in [0, 1). */
uint64_t sampler_rng_next(uint64_t st[4]);
void sampler_rng_seed(uint64_t st[4], uint64_t seed);

#endif
