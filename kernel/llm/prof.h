/* Per-phase TSC cycle counters of the forward pass, as seen by the CPU that runs it (the boot CPU): where a
   token's time goes (quantize, matrix products, attention, norms, ...). llm/llama.c and llm/engine.c lap them,
   llm/workers.c adds the time the caller spent waiting for other CPUs' chunks (PROF_WAIT) and keeps each
   CPU's busy cycles; llm/engine_boot.c prints them after the prompt= self-test. Statistics only: nothing
   reads them to decide anything. */
#ifndef LLM_PROF_H
#define LLM_PROF_H
#include <stdint.h>

enum prof_phase {
    PROF_EMBED,      /* embedding rows, RoPE cos/sin table */
    PROF_NORM,       /* RMSNorm and residual adds on the caller */
    PROF_QUANT,      /* activation quantization before a product */
    PROF_PRODUCT,    /* the caller's share of the product jobs, with the work fused into them (RoPE, KV-cache
                        stores, SwiGLU, residual adds, quantizing for the next product: llm/llama.c) */
    PROF_ATTN,       /* the caller's share of the attention jobs */
    PROF_SAMPLE,     /* the sampler */
    PROF_WAIT,       /* the caller idle in a parallel job: publishing it, waiting for chunks others took */
    PROF_COUNT
};

struct prof_counters {
    uint64_t cycles[PROF_COUNT];
    uint64_t joins;            /* parallel jobs run (fork-joins with at least one other CPU) */
    uint64_t forwards;         /* forward passes */
    uint64_t tokens;           /* tokens through the forward pass */
};

extern struct prof_counters prof;

static inline uint64_t prof_tsc(void) { return __builtin_ia32_rdtsc(); }

/* A running lap: prof_lap charges the cycles since the last lap to phase p, minus the PROF_WAIT cycles that
   llm/workers.c added meanwhile (they are charged to PROF_WAIT only). */
struct prof_mark {
    uint64_t tsc, wait;
};

static inline void prof_start(struct prof_mark *m)
{
    m->tsc = prof_tsc();
    m->wait = prof.cycles[PROF_WAIT];
}

static inline void prof_lap(struct prof_mark *m, enum prof_phase p)
{
    uint64_t t = prof_tsc(), w = prof.cycles[PROF_WAIT];
    prof.cycles[p] += (t - m->tsc) - (w - m->wait);
    m->tsc = t;
    m->wait = w;
}

void prof_reset(void);
const char *prof_phase_name(enum prof_phase p);

#endif
