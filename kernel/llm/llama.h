/* The llama architecture: hyper-parameters from the GGUF metadata, weights pointing into the baked GGUF
   (never copied), run-state scratch buffers, and the forward pass (one token or a batch of prompt tokens).
   Reading order: llm/gguf.h (the file), llm/ggml_types.h (tensor formats), llm/ops.h (kernels), this file,
   llm/kv_cache.h, llm/sampler.h, llm/engine.h (glue). */
#ifndef LLM_LLAMA_H
#define LLM_LLAMA_H
#include <stddef.h>
#include <stdint.h>
#include "llm/gguf.h"
#include "llm/kv_cache.h"
#include "llm/ops.h"

/* Hyper-parameters: all from the metadata ("<arch>.embedding_length", ...), never constants. */
struct llama_hparams {
    int n_vocab;
    int n_ctx_train;       /* context_length the model was trained with */
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int head_dim;          /* attention.key_length, default n_embd / n_head */
    int n_rot;             /* rope.dimension_count, default head_dim */
    int n_ff;
    float rms_eps;
    float rope_base;       /* rope.freq_base */
    float rope_freq_scale; /* 1 / rope.scaling.factor for linear scaling, else 1 */
};

/* Read-only weights, each pointing into the GGUF bytes. Shapes are (rows, row length). */
struct llama_layer {
    const float *attn_norm;        /* (n_embd) */
    struct ops_weight wq;          /* (n_head * head_dim, n_embd) */
    struct ops_weight wk;          /* (n_head_kv * head_dim, n_embd) */
    struct ops_weight wv;          /* (n_head_kv * head_dim, n_embd) */
    struct ops_weight wo;          /* (n_embd, n_head * head_dim) */
    const float *ffn_norm;         /* (n_embd) */
    struct ops_weight w_gate;      /* (n_ff, n_embd) */
    struct ops_weight w_up;        /* (n_ff, n_embd) */
    struct ops_weight w_down;      /* (n_embd, n_ff) */
};

struct llama_model {
    char arch[32];
    struct llama_hparams hp;
    struct ops_weight tok_embd;    /* (n_vocab, n_embd) */
    const float *output_norm;      /* (n_embd) */
    struct ops_weight output;      /* (n_vocab, n_embd); token_embd when output.weight is absent (tied) */
    int tied_output;
    double *rope_inv_freq;         /* (n_rot / 2) base^(-2i/n_rot) * freq_scale / rope_freqs[i]; heap */
    struct llama_layer *layers;    /* (n_layer); heap */
};

/* Activation-quantization areas in qbuf: one per distinct activation type among the weights of one job (Q, K
   and V may use different types). */
#define LLAMA_QBUF_AREAS 3

/* Run state for one forward pass of up to n_batch tokens (shared by all slots: passes run one at a time). */
struct llama_scratch {
    int n_batch;
    int n_ctx;
    int n_cpu;       /* workers_max(): CPUs with their own attention scores */
    float *x;        /* (n_batch, n_embd) residual stream */
    float *xb;       /* (n_batch, max(n_embd, n_head * head_dim)) normed input / attention output */
    float *q;        /* (n_batch, n_head * head_dim) */
    float *k, *v;    /* (n_batch, n_head_kv * head_dim) */
    float *hb, *hb2; /* (n_batch, n_ff) */
    float *scores;   /* (n_cpu, scores_per_cpu) each CPU's attention rows: (n_head / n_head_kv, n_ctx) */
    size_t scores_per_cpu;
    float *rope_cs;  /* (n_batch, n_rot) cos/sin pairs per token */
    float *kt;       /* (n_head_kv, kt_blocks, head_dim, 8) one layer's keys as f32, transposed in blocks of 8
                        positions, for a batch's attention (llm/ops.h ops_attention_kv_prepare); NULL if n_batch 1 */
    float *v32;      /* (n_ctx, n_head_kv * head_dim) one layer's values as f32 (with kt; used for an fp16 cache) */
    int kt_blocks;   /* ceil(n_ctx / 8) */
    void *qbuf;      /* (LLAMA_QBUF_AREAS, qbuf_area bytes) activations quantized to the vec_dot types */
    size_t qbuf_area;  /* max over weights of ops_act_size, rounded up to 64 */
    void *base;      /* the one allocation all of the above live in */
};

/* Fill m from the GGUF: checks architecture, every hyper-parameter, every tensor's presence, type and shape.
   0, or -1 with a message in err. */
int llama_model_load(struct llama_model *m, const struct gguf_file *f, char *err, size_t errlen);
void llama_model_free(struct llama_model *m);

int llama_scratch_init(struct llama_scratch *s, const struct llama_model *m, int n_batch, int n_ctx);
void llama_scratch_free(struct llama_scratch *s);
size_t llama_scratch_bytes(const struct llama_model *m, int n_batch, int n_ctx);

/* Evaluate tokens[0..n) at positions pos0.. of the sequence in `slot` (1 <= n <= s->n_batch,
   pos0 + n <= kv->n_ctx), writing their K/V into the cache. logits: n_vocab floats for the last token, or
   (n, n_vocab) when all_logits; NULL for none. 0, or -1 on bad arguments (token id, sizes).
   Afterwards s->x holds the n tokens' final hidden states (before the output norm): llm/embed.c reads them. */
int llama_forward(const struct llama_model *m, struct llama_scratch *s, const struct kv_cache *kv, int slot,
                  const int32_t *tokens, int n, int pos0, float *logits, int all_logits);

#endif
