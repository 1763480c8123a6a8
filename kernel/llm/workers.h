/* Fork-join worker pool for the forward pass's parallel jobs (matrix products with their fused element-wise
   work, attention: llm/llama.c, llm/ops.c): workers_run splits [0, n) into `align`-multiple chunks that every
   CPU, the caller included, takes from a shared cursor, and returns when all are done. Synchronisation per call:
   one generation counter bump, one CAS per chunk, one done counter (atomics); idle workers spin briefly, then
   halt in the monitor until the boot CPU's wake IPI. When the host does not run the vCPUs together, the boot CPU notices
   that parallel products lose and runs the next ones alone for a while (workers.c). A chunk's result never depends on how rows were split, so any CPU count
   computes the same bits. Host builds (CLLM_HOST) run everything on the caller. */
#ifndef LLM_WORKERS_H
#define LLM_WORKERS_H
#include <stdint.h>

/* One chunk [begin, end) of a job, run on CPU `cpu` (0 = the caller; always < workers_max(), so a job can
   index per-CPU scratch sized by workers_max() with it; workers_count() grows while the APs come up, after the
   model's scratch was allocated). */
typedef void (*workers_fn)(void *ctx, int64_t begin, int64_t end, int cpu);

#ifdef CLLM_HOST
/* Host builds (tests/host/llm/workers_host.c): the caller runs every chunk, by default the whole range at once;
   workers_host_set_split(k) makes each job k-`align` chunks run last-first with cpu indices 0 and 1 alternating,
   so tests see whether any result depends on how a job was split. */
void workers_run(workers_fn fn, void *ctx, int64_t n, int64_t align);
int workers_count(void);                 /* 2: the cpu indices the split mode uses */
int workers_max(void);                   /* 2 */
uint64_t workers_busy_cycles(int cpu);   /* 0 */
void workers_host_set_split(int k);
#else
void workers_run(workers_fn fn, void *ctx, int64_t n, int64_t align);
int workers_count(void);                 /* CPUs taking part now, the boot CPU included */
int workers_max(void);                   /* the most workers_count() will ever be (the MADT's CPUs, capped) */
void workers_init(int max_cpus);         /* smp.c, before starting APs */
void workers_set_count(int n);           /* smp.c, as each AP comes up (never above max_cpus) */
void workers_ap_loop(int cpu) __attribute__((noreturn));
uint64_t workers_solo_runs(void);        /* how often the boot CPU fell back to running products alone */
uint64_t workers_busy_cycles(int cpu);   /* TSC cycles CPU `cpu` spent in parallel jobs' chunks, since boot */
#endif

#endif
