/* The worker pool (see workers.h). One job at a time, published by the boot CPU in one cache line (`pool`), so
   a worker gets everything with one transfer (a line moving between these cores costs ~0.5 us):
   - job: fn, ctx, n, align, cpus;
   - cursor: (generation << 32) | next row. Every CPU, the boot CPU included, grabs chunks with a CAS that
     only succeeds while the generation matches and rows remain, so a worker that the host has not scheduled
     (2 vCPUs on a busy 2-core host) simply gets no rows and the others do them: no CPU ever waits for another
     to *start*, only for a chunk already taken to finish. Chunks shrink as the job drains (guided
     scheduling): a grab takes 1/cpus of the rows left, rounded up to `align`, so there are few grabs (each a
     line transfer) and the last ones are small (the CPUs finish close together);
   - done: each CPU counts the rows it ever finished in its own line (64 bits, only grows); the boot CPU
     remembers each count as it was when the previous job completed (no CPU can finish rows between jobs), and
     the job is complete when the others' growth since then plus its own rows is n. The boot CPU then closes the
     cursor
     (row field CLOSED, with an atomic exchange) before writing the next job, so a late worker's CAS can never
     succeed on stale fields;
   - gen: the wake word. An idle worker spins on it for WORKER_SPIN_CYCLES (the gaps between the jobs of one
     forward pass are microseconds), then sets its `sleeping` flag and halts in the monitor (MON_WAIT_WORD
     re-checks gen with interrupts off); the boot CPU sends the wake IPI only to sleepers. Both sides order
     `sleeping` and `gen` sequentially consistently (Dekker), so no wake-up is lost.
   Results never depend on which CPU computed which rows. */
#include "llm/workers.h"
#include <stdbool.h>
#include "arch/x86/io.h"
#include "arch/x86/monitor.h"
#include "arch/x86/smp.h"
#include "llm/prof.h"

#define WORKER_SPIN_CYCLES 20000000ull  /* TSC cycles (~5-10 ms) of spinning before halting */
#define CURSOR_CLOSED 0xffffffffu

/* Per CPU, two lines: `sleeping` rarely changes (the boot CPU reads it every job without a transfer); the
   counters change every job and are written by their CPU only. */
struct worker_slot {
    volatile uint64_t sleeping;  /* 1 while (about to be) halted */
    uint8_t pad[56];
    volatile uint64_t done;      /* rows this CPU finished, all jobs together */
    uint64_t busy;               /* TSC cycles spent running chunks (statistics) */
    uint8_t pad2[48];
} __attribute__((aligned(64)));

static struct {
    volatile uint64_t gen;       /* the wake word: bumped once per job */
    volatile uint64_t cursor;
    workers_fn fn;
    void *ctx;
    int64_t n, align, cpus;
} pool __attribute__((aligned(64)));
_Static_assert(sizeof pool <= 64, "the published job fits one cache line");
static struct worker_slot slot[SMP_MAX_CPUS];
static int n_workers = 1;        /* CPUs taking part in workers_run: grows while smp_poll brings APs up */
static int n_max = 1;            /* fixed by workers_init: n_workers never exceeds it */

void workers_init(int max_cpus)
{
    n_max = max_cpus < 1 ? 1 : max_cpus > SMP_MAX_CPUS ? SMP_MAX_CPUS : max_cpus;
    n_workers = 1;
    pool.cursor = CURSOR_CLOSED;
}

void workers_set_count(int n) { n_workers = n < 1 ? 1 : n > n_max ? n_max : n; }
int workers_count(void) { return n_workers; }
int workers_max(void) { return n_max; }

/* Grab and run chunks of generation g until none are left (or the job is closed); returns the rows done. */
static int64_t work(uint32_t g, int cpu)
{
    int64_t rows = 0;
    for (;;) {
        uint64_t c = __atomic_load_n(&pool.cursor, __ATOMIC_ACQUIRE);
        uint32_t row = (uint32_t)c;
        if ((uint32_t)(c >> 32) != g || row == CURSOR_CLOSED)
            return rows;
        workers_fn fn = pool.fn;
        void *ctx = pool.ctx;
        int64_t n = pool.n, align = pool.align, parts = pool.cpus;
        if ((int64_t)row >= n)
            return rows;
        int64_t chunk = (n - (int64_t)row + parts - 1) / parts;
        chunk = (chunk + align - 1) / align * align;
        int64_t end = (int64_t)row + chunk < n ? (int64_t)row + chunk : n;
        if (!__atomic_compare_exchange_n(&pool.cursor, &c, ((uint64_t)g << 32) | (uint64_t)end, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        fn(ctx, row, end, cpu);     /* the fields read above are this generation's: it cannot complete without us */
        rows += end - (int64_t)row;
        __atomic_store_n(&slot[cpu].done, slot[cpu].done + (uint64_t)(end - (int64_t)row), __ATOMIC_RELEASE);
    }
}

static uint64_t done_base[SMP_MAX_CPUS];   /* slot[c].done when the last job completed (boot CPU only) */

/* Rows of the current job finished by CPUs 1..cpus-1 so far */
static int64_t done_by_others(int cpus)
{
    uint64_t rows = 0;
    for (int c = 1; c < cpus; c++)
        rows += __atomic_load_n(&slot[c].done, __ATOMIC_ACQUIRE) - done_base[c];
    return (int64_t)rows;
}

/* Solo fallback. When the host does not run the vCPUs together (more runnable threads than cores), a worker
   that took a chunk and was preempted makes the boot CPU wait a whole host time slice. The boot CPU therefore
   sums, over a window of WORKERS_WINDOW parallel products, their elapsed time and what running alone would have
   cost (its own time per row in each product times the product's rows). If parallel lost over the window, it
   runs the next solo_run products alone (the workers fall asleep), then measures another window. solo_run
   starts at WORKERS_SOLO_RUN and doubles (up to WORKERS_SOLO_MAX, ~40 tokens of SmolLM2) each time the retry
   loses again, and is reset when a window wins. Windows (not single products) because small products (the K
   and V projections) may lose while the large ones win. Results are the same either way; only speed differs. */
#define WORKERS_WINDOW 64
#define WORKERS_SOLO_RUN 256
#define WORKERS_SOLO_MAX 8192
static int solo_left;
static int solo_run = WORKERS_SOLO_RUN;
static int win_n;
static uint64_t win_par, win_solo;  /* TSC cycles */
static uint64_t solo_runs;     /* times the fallback engaged (for the log / debugging) */

static void note_parallel(uint64_t t_all, uint64_t t_own, int64_t rows_own, int64_t n)
{
    if (rows_own <= 0)
        return;
    win_par += t_all;
    win_solo += (uint64_t)((double)t_own * (double)n / (double)rows_own);
    if (++win_n < WORKERS_WINDOW)
        return;
    if (win_par > win_solo) {
        solo_left = solo_run;
        solo_runs++;
        if (solo_run < WORKERS_SOLO_MAX)
            solo_run *= 2;
    } else {
        solo_run = WORKERS_SOLO_RUN;
    }
    win_n = 0;
    win_par = win_solo = 0;
}

uint64_t workers_solo_runs(void) { return solo_runs; }

uint64_t workers_busy_cycles(int cpu) { return cpu >= 0 && cpu < SMP_MAX_CPUS ? slot[cpu].busy : 0; }

void workers_run(workers_fn fn, void *ctx, int64_t n, int64_t align)
{
    if (n <= 0)
        return;
    int cpus = n_workers;
    if (align < 1)
        align = 1;
    if (cpus <= 1 || n < 2 * align || n >= CURSOR_CLOSED) {
        fn(ctx, 0, n, 0);
        return;
    }
    if (solo_left > 0) {
        solo_left--;
        fn(ctx, 0, n, 0);
        return;
    }
    uint64_t t0 = rdtsc();
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.align = align;
    pool.cpus = cpus;
    uint32_t g = (uint32_t)pool.gen + 1;
    __atomic_store_n(&pool.cursor, (uint64_t)g << 32, __ATOMIC_SEQ_CST);   /* publishes the job fields */
    __atomic_store_n(&pool.gen, pool.gen + 1, __ATOMIC_SEQ_CST);
    for (int c = 1; c < cpus; c++)
        if (__atomic_load_n(&slot[c].sleeping, __ATOMIC_SEQ_CST))
            smp_wake(c);
    uint64_t tw = rdtsc();
    int64_t own = work(g, 0);
    uint64_t t1 = rdtsc();
    while (own + done_by_others(cpus) != n)
        cpu_relax();
    for (int c = 1; c < cpus; c++)
        done_base[c] = slot[c].done;      /* complete: nobody holds a chunk, the counts cannot move */
    __atomic_exchange_n(&pool.cursor, ((uint64_t)g << 32) | CURSOR_CLOSED, __ATOMIC_ACQ_REL);
    uint64_t t2 = rdtsc();
    slot[0].busy += t1 - tw;
    prof.cycles[PROF_WAIT] += (tw - t0) + (t2 - t1);
    prof.joins++;
    note_parallel(t2 - t0, t1 - t0, own, n);
}

void workers_ap_loop(int cpu)
{
    uint64_t seen = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE);
    for (;;) {
        uint64_t t0 = rdtsc();
        uint64_t g;
        while ((g = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE)) == seen) {
            cpu_relax();
            if (rdtsc() - t0 > WORKER_SPIN_CYCLES) {
                __atomic_store_n(&slot[cpu].sleeping, 1, __ATOMIC_SEQ_CST);
                if (__atomic_load_n(&pool.gen, __ATOMIC_SEQ_CST) == seen)
                    monitor_call(MON_WAIT_WORD, (uint64_t)(uintptr_t)&pool.gen, seen, 0);
                __atomic_store_n(&slot[cpu].sleeping, 0, __ATOMIC_SEQ_CST);
                t0 = rdtsc();
            }
        }
        seen = g;
        if (cpu >= n_workers)
            continue;          /* started after smp.c counted the CPUs: never takes part (cpu indexes scratch) */
        uint64_t tb = rdtsc();
        work((uint32_t)g, cpu);
        slot[cpu].busy += rdtsc() - tb;
    }
}
