/* Fork-join worker pool for the matrix products (llm/ops.c ops_matmul): workers_run splits [0, n) into one
   contiguous, `align`-multiple chunk per CPU; the boot CPU computes chunk 0 itself while the application
   processors (arch/x86/smp.c) compute the others, and returns when all are done. Synchronisation per call: one
   generation counter bump and one done flag per worker (atomics); idle workers spin briefly, then halt in the
   monitor until the boot CPU's wake IPI. When the host does not run the vCPUs together, the boot CPU notices
   that parallel products lose and runs the next ones alone for a while (workers.c). A chunk's result never depends on how rows were split, so any CPU count
   computes the same bits. Host builds (CLLM_HOST) run everything on the caller. */
#ifndef LLM_WORKERS_H
#define LLM_WORKERS_H
#include <stdint.h>

typedef void (*workers_fn)(void *ctx, int64_t begin, int64_t end);

#ifdef CLLM_HOST
static inline void workers_run(workers_fn fn, void *ctx, int64_t n, int64_t align)
{
    (void)align;
    if (n > 0)
        fn(ctx, 0, n);
}
static inline int workers_count(void) { return 1; }
static inline uint64_t workers_busy_cycles(int cpu) { (void)cpu; return 0; }
#else
void workers_run(workers_fn fn, void *ctx, int64_t n, int64_t align);
int workers_count(void);                 /* CPUs taking part, the boot CPU included */
void workers_init(int max_cpus);         /* smp.c, before starting APs */
void workers_set_count(int n);           /* smp.c, once the APs are up */
void workers_ap_loop(int cpu) __attribute__((noreturn));
uint64_t workers_solo_runs(void);        /* how often the boot CPU fell back to running products alone */
uint64_t workers_busy_cycles(int cpu);   /* TSC cycles CPU `cpu` spent in parallel jobs' chunks, since boot */
#endif

#endif
