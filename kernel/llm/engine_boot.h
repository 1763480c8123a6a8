/* Boot-time use of the engine before (and without) the HTTP API: with `prompt=<base64>` (and optionally
   `n_predict=N`) on the kernel command line (cllm run --prompt), open the baked model, print its greedy
   completion on the console, and power off. Implementation in llm/engine_boot.c. */
#ifndef LLM_ENGINE_BOOT_H
#define LLM_ENGINE_BOOT_H

/* Returns 0 at once when the command line has no prompt. Otherwise runs the prompt and never returns:
   power_exit(0) after the completion, power_exit(1) when the model, the prompt or the generation fails. */
int engine_boot_selftest(void);

#endif
