/* kernel/llm/workers.c itself (not the CLLM_HOST stand-in) with pthreads as application processors and the
   arch headers stubbed (tests/host/llm/stub/): random jobs, each row must be run exactly once by CPUs with valid
   indices before workers_run returns, also when a worker is slow (sleeps inside its chunks, like a vCPU the host
   did not schedule); then the cost of one job split over 2 CPUs. Driven by tests/test_smp_boot.py.
   Usage: workers_pthread CPUS JOBS SEED */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>
#include "llm/prof.h"
#include "llm/workers.h"

struct prof_counters prof;

#define MAX_ROWS 5000
static volatile int hits[MAX_ROWS];
static volatile int bad_cpu;
static int n_cpus;

struct job { int slow_cpu; };

static void mark_chunk(void *ctx, int64_t a, int64_t b, int cpu)
{
    const struct job *j = ctx;
    if (cpu < 0 || cpu >= n_cpus)
        bad_cpu = 1;
    if (cpu == j->slow_cpu) {
        struct timespec ts = { 0, 20000 };   /* 20 us: a descheduled vCPU */
        nanosleep(&ts, NULL);
    }
    for (int64_t r = a; r < b; r++)
        __atomic_fetch_add(&hits[r], 1, __ATOMIC_RELAXED);
}

static void spin_chunk(void *ctx, int64_t a, int64_t b, int cpu)
{
    (void)ctx, (void)cpu;
    uint64_t t = __rdtsc();
    while (__rdtsc() - t < (uint64_t)(b - a) * 200)
        ;
}

static void *ap_main(void *arg)
{
    workers_ap_loop((int)(intptr_t)arg);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    n_cpus = atoi(argv[1]);
    int jobs = atoi(argv[2]);
    srand((unsigned)atoi(argv[3]));
    workers_init(n_cpus);
    for (int c = 1; c < n_cpus; c++) {
        pthread_t t;
        pthread_create(&t, NULL, ap_main, (void *)(intptr_t)c);
    }
    workers_set_count(n_cpus);
    static const int aligns[] = { 1, 4, 16, 32 };
    for (int i = 0; i < jobs; i++) {
        int64_t n = 1 + rand() % MAX_ROWS, align = aligns[rand() % 4];
        struct job j = { (i % 7 == 3) ? 1 + rand() % (n_cpus > 1 ? n_cpus - 1 : 1) : -1 };
        for (int64_t r = 0; r < n; r++)
            hits[r] = 0;
        workers_run(mark_chunk, &j, n, align);
        for (int64_t r = 0; r < n; r++)
            if (hits[r] != 1) {
                printf("FAIL job %d: row %lld of %lld run %d times\n", i, (long long)r, (long long)n, hits[r]);
                return 1;
            }
        if (bad_cpu) {
            printf("FAIL job %d: cpu index out of range\n", i);
            return 1;
        }
    }
    uint64_t best = ~0ull;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t t0 = __rdtsc();
        for (int i = 0; i < 2000; i++)
            workers_run(spin_chunk, NULL, 960, 16);
        uint64_t t = (__rdtsc() - t0) / 2000;
        best = t < best ? t : best;
    }
    printf("ok %d jobs; a 192k-cycle job over %d CPUs: %llu cycles (solo fallbacks %llu)\n", jobs, n_cpus,
           (unsigned long long)best, (unsigned long long)workers_solo_runs());
    return 0;
}
