/* Sampling chain (see sampler.h). Candidates are sorted with a heap so that top-k costs O(n + k log n). */
#include "llm/sampler.h"
#include "llm/ops.h"
#include "core/heap.h"
#include "lib/math.h"
#include "lib/string.h"

void sampler_params_default(struct sampler_params *p)
{
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->presence_penalty = 0.0f;
    p->frequency_penalty = 0.0f;
    p->repeat_last_n = 64;
    p->seed = 0;
    p->n_probs = 0;
}

/* ---- random numbers: splitmix64 to seed, xoshiro256** to generate ---- */

static uint64_t sampler_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sampler_rng_seed(uint64_t st[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        st[i] = sampler_splitmix64(&seed);
}

static uint64_t sampler_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sampler_rng_next(uint64_t st[4])
{
    uint64_t result = sampler_rotl(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = sampler_rotl(st[3], 45);
    return result;
}

static double sampler_uniform(uint64_t st[4])
{
    return (double)(sampler_rng_next(st) >> 11) * (1.0 / 9007199254740992.0);  /* 53 bits / 2^53 */
}

/* ---- setup ---- */

int sampler_init(struct sampler *s, const struct sampler_params *p, int n_vocab)
{
    memset(s, 0, sizeof *s);
    if (n_vocab < 1 || p->repeat_last_n < 0)
        return -1;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->cand = kmalloc((size_t)n_vocab * sizeof *s->cand);
    s->count = kcalloc((size_t)n_vocab, sizeof *s->count);
    s->hist = kmalloc((size_t)(p->repeat_last_n ? p->repeat_last_n : 1) * sizeof *s->hist);
    if (!s->cand || !s->count || !s->hist) {
        sampler_free(s);
        return -1;
    }
    sampler_rng_seed(s->rng, p->seed);
    return 0;
}

void sampler_free(struct sampler *s)
{
    kfree(s->cand);
    kfree(s->count);
    kfree(s->hist);
    s->cand = NULL;
    s->count = s->hist = NULL;
}

void sampler_reset(struct sampler *s, uint64_t seed)
{
    s->hist_len = s->hist_pos = 0;
    s->n_cand = 0;
    s->probs_valid = 0;
    s->p.seed = seed;
    sampler_rng_seed(s->rng, seed);
}

void sampler_accept(struct sampler *s, int32_t token)
{
    int cap = s->p.repeat_last_n;
    if (cap <= 0 || token < 0 || token >= s->n_vocab)
        return;
    s->hist[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % cap;
    if (s->hist_len < cap)
        s->hist_len++;
}

/* ---- the chain ---- */

static int sampler_penalties_active(const struct sampler *s)
{
    const struct sampler_params *p = &s->p;
    return s->hist_len > 0 && (p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f ||
                               p->frequency_penalty != 0.0f);
}

static void sampler_penalties(struct sampler *s)
{
    const struct sampler_params *p = &s->p;
    if (!sampler_penalties_active(s))
        return;
    for (int i = 0; i < s->hist_len; i++)
        s->count[s->hist[i]]++;
    for (int i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[i];
        int c = s->count[t];
        if (c == 0)
            continue;                        /* already applied */
        float *l = &s->cand[t].logit;        /* cand is still in id order here */
        if (p->repeat_penalty != 1.0f)
            *l = *l <= 0.0f ? *l * p->repeat_penalty : *l / p->repeat_penalty;
        *l -= (float)c * p->frequency_penalty + p->presence_penalty;
        s->count[t] = 0;
    }
}

static int sampler_better(const struct sampler_candidate *a, const struct sampler_candidate *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static void sampler_sift_down(struct sampler_candidate *h, int n, int i)
{
    for (;;) {
        int best = i, l = 2 * i + 1, r = l + 1;
        if (l < n && sampler_better(&h[l], &h[best]))
            best = l;
        if (r < n && sampler_better(&h[r], &h[best]))
            best = r;
        if (best == i)
            return;
        struct sampler_candidate t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

/* Min-heap on "better" (the worst kept candidate at the root) for the bounded top-k selection. */
static void sampler_sift_down_min(struct sampler_candidate *h, int n, int i)
{
    for (;;) {
        int worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && sampler_better(&h[worst], &h[l]))
            worst = l;
        if (r < n && sampler_better(&h[worst], &h[r]))
            worst = r;
        if (worst == i)
            return;
        struct sampler_candidate t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* Keep the k best of cand[0..n) in cand[0..k), best first (ties: lower id first).
   Small k: one pass keeping a k-element min-heap (most candidates cost one compare), O(n log k);
   large k: heapsort of the whole array, O(n + k log n). */
static void sampler_sort_top(struct sampler_candidate *c, int n, int k)
{
    if (k < n / 8) {
        for (int i = k / 2 - 1; i >= 0; i--)
            sampler_sift_down_min(c, k, i);
        for (int i = k; i < n; i++)
            if (sampler_better(&c[i], &c[0])) {
                c[0] = c[i];
                sampler_sift_down_min(c, k, 0);
            }
        for (int m = k - 1; m > 0; m--) {      /* pop the worst to the back: ends best first */
            struct sampler_candidate t = c[0];
            c[0] = c[m];
            c[m] = t;
            sampler_sift_down_min(c, m, 0);
        }
        return;
    }
    for (int i = n / 2 - 1; i >= 0; i--)
        sampler_sift_down(c, n, i);
    /* Pop the best to the end k times: the popped items are at c[n-1], c[n-2], ... (best first). */
    for (int i = 0; i < k; i++) {
        struct sampler_candidate t = c[0];
        c[0] = c[n - 1 - i];
        c[n - 1 - i] = t;
        sampler_sift_down(c, n - 1 - i, 0);
    }
    for (int i = 0, j = n - 1; i < j; i++, j--) {   /* reverse: the popped tail becomes the head */
        struct sampler_candidate t = c[i];
        c[i] = c[j];
        c[j] = t;
    }
}

/* cand[0..n) sorted: p = softmax(logit). */
static void sampler_softmax(struct sampler_candidate *c, int n)
{
    float max = c[0].logit;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        c[i].p = k_expf(c[i].logit - max);
        sum += c[i].p;
    }
    for (int i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
}

int32_t sampler_sample(struct sampler *s, const float *logits)
{
    const struct sampler_params *p = &s->p;
    int n = s->n_vocab;
    if (p->temperature <= 0.0f && p->n_probs <= 0 && !sampler_penalties_active(s)) {
        s->n_cand = 0;
        s->probs_valid = 0;
        return ops_argmax(logits, n);    /* the candidate scan's answer, straight from the logits */
    }
    for (int i = 0; i < n; i++) {
        s->cand[i].id = i;
        s->cand[i].logit = logits[i];
        s->cand[i].p = 0.0f;
    }
    s->probs_valid = 0;
    sampler_penalties(s);

    if (p->temperature <= 0.0f) {
        if (p->n_probs <= 0) {                   /* plain argmax: no sorting */
            int best = 0;
            for (int i = 1; i < n; i++)
                if (s->cand[i].logit > s->cand[best].logit)
                    best = i;
            s->n_cand = 0;
            return best;
        }
        int k = p->n_probs < n ? p->n_probs : n;
        /* probabilities over the whole vocabulary, then keep the top k */
        float max = s->cand[0].logit;
        for (int i = 1; i < n; i++)
            if (s->cand[i].logit > max)
                max = s->cand[i].logit;
        double sum = 0.0;
        for (int i = 0; i < n; i++)
            sum += k_expf(s->cand[i].logit - max);
        sampler_sort_top(s->cand, n, k);
        for (int i = 0; i < k; i++)
            s->cand[i].p = (float)(k_expf(s->cand[i].logit - max) / sum);
        s->n_cand = k;
        s->probs_valid = 1;
        return s->cand[0].id;
    }

    /* top-k (also sorts: every later step needs the candidates best first) */
    int k = (p->top_k > 0 && p->top_k < n) ? p->top_k : n;
    sampler_sort_top(s->cand, n, k);
    n = k;

    /* top-p: the smallest prefix whose probability reaches top_p */
    if (p->top_p < 1.0f) {
        sampler_softmax(s->cand, n);
        double cum = 0.0;
        for (int i = 0; i < n; i++) {
            cum += s->cand[i].p;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }

    /* min-p: p_i >= min_p * p_max, i.e. logit_i >= logit_max + log(min_p) */
    if (p->min_p > 0.0f) {
        float floor_logit = s->cand[0].logit + k_logf(p->min_p);
        int m = 1;
        while (m < n && s->cand[m].logit >= floor_logit)
            m++;
        n = m;
    }

    for (int i = 0; i < n; i++)
        s->cand[i].logit /= p->temperature;
    sampler_softmax(s->cand, n);

    double u = sampler_uniform(s->rng), cum = 0.0;
    int pick = n - 1;
    for (int i = 0; i < n; i++) {
        cum += s->cand[i].p;
        if (u < cum) {
            pick = i;
            break;
        }
    }
    s->n_cand = n;
    s->probs_valid = p->n_probs > 0;
    return s->cand[pick].id;
}

int sampler_top_probs(const struct sampler *s, int n, int32_t *ids, float *probs)
{
    if (!s->probs_valid)
        return 0;
    if (n > s->n_cand)
        n = s->n_cand;
    for (int i = 0; i < n; i++) {
        ids[i] = s->cand[i].id;
        probs[i] = s->cand[i].p;
    }
    return n;
}
