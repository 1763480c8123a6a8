/* Embeddings: the final hidden state (after the output norm) of every prompt token, summed for mean pooling by
   the API (api/sched.c, /embedding and /v1/embeddings). Uses the llama forward pass of llm/llama.c without the
   output head; the header is llm/embed.h. */
#include "llm/embed.h"
#include "lib/math.h"

int embed_eval(struct engine *e, struct engine_seq *seq, const int32_t *tokens, int n, float *sum)
{
    const struct llama_model *m = &e->model;
    int d = m->hp.n_embd;
    if (n < 0 || seq->n_past + n > e->opt.n_ctx)
        return -1;
    for (int i = 0; i < n; i += e->opt.n_batch) {
        int chunk = n - i < e->opt.n_batch ? n - i : e->opt.n_batch;
        if (llama_forward(m, &e->scratch, &e->kv, seq->slot, tokens + i, chunk, seq->n_past, NULL, 0) != 0)
            return -1;
        for (int b = 0; b < chunk; b++) {
            float *h = e->scratch.xb;   /* free after the pass: one row of normed state at a time */
            ops_rmsnorm(h, e->scratch.x + (size_t)b * d, m->output_norm, d, m->hp.rms_eps);
            for (int j = 0; j < d; j++)
                sum[j] += h[j];
            seq->tokens[seq->n_past + b] = tokens[i + b];
        }
        seq->n_past += chunk;
        seq->have_logits = 0;
    }
    return 0;
}

void embed_normalize(float *v, int n, int n_tokens)
{
    double ss = 0;
    for (int j = 0; j < n; j++) {
        v[j] /= (float)n_tokens;
        ss += (double)v[j] * v[j];
    }
    float inv = ss > 0 ? (float)(1.0 / k_sqrt(ss)) : 0.0f;
    for (int j = 0; j < n; j++)
        v[j] *= inv;
}
