/* Embeddings from the llama forward pass: per-token final hidden states (output norm applied), summed, then
   mean-pooled and L2-normalized (llama.cpp's pooling "mean" with Euclidean normalization). llm/embed.c. */
#ifndef LLM_EMBED_H
#define LLM_EMBED_H
#include "llm/engine.h"

/* Evaluate tokens[0..n) after seq->n_past in seq's slot (chunks of n_batch), adding each token's normalized final
   hidden state to sum (n_embd floats). Leaves no logits. 0, or -1 (context full / bad token). */
int embed_eval(struct engine *e, struct engine_seq *seq, const int32_t *tokens, int n, float *sum);
/* sum -> mean over n_tokens -> unit L2 norm (a zero vector stays zero). */
void embed_normalize(float *v, int n, int n_tokens);

#endif
