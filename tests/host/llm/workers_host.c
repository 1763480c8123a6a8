/* Host stand-in for kernel/llm/workers.c (see llm/workers.h, CLLM_HOST): the caller runs every chunk of a job.
   By default one chunk [0, n); with workers_host_set_split(k), chunks of k * align rows, last chunk first,
   cpu index alternating 0/1, so tests can check that results do not depend on the split (what the booted
   kernel's CPUs do in any interleaving). */
#include "llm/workers.h"

static int split;

void workers_host_set_split(int k) { split = k > 0 ? k : 0; }
int workers_count(void) { return 2; }
int workers_max(void) { return 2; }
uint64_t workers_busy_cycles(int cpu) { (void)cpu; return 0; }

void workers_run(workers_fn fn, void *ctx, int64_t n, int64_t align)
{
    if (n <= 0)
        return;
    if (!split) {
        fn(ctx, 0, n, 0);
        return;
    }
    int64_t chunk = (int64_t)split * (align < 1 ? 1 : align);
    int64_t n_chunks = (n + chunk - 1) / chunk;
    for (int64_t c = n_chunks - 1; c >= 0; c--)
        fn(ctx, c * chunk, (c + 1) * chunk < n ? (c + 1) * chunk : n, (int)(c & 1));
}
