/* The slot scheduler (see sched.h). */
#include "api/sched.h"
#include "api/model.h"
#include "api/respond.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/limits.h"
#include "core/log.h"
#include "llm/embed.h"
#include "lib/string.h"
#include "net/net.h"

struct sched_slot {
    struct engine_seq seq;     /* open for the scheduler's lifetime: its slot's KV cache is the prompt cache */
    bool open;
    struct task *task;         /* NULL when free */
};

static struct sched_slot *slots;
static int n_slots;
static struct task *q_head, *q_tail;
static int q_len;
static bool model_tried;
static int prefill_chunk = 8;          /* adapted to max(CLLM_SCHED_STEP_US, a decode step) */
static uint64_t decode_ns;             /* moving average of one decode step */
static char *piece;                    /* detokenizer output: max_token_len + 8 bytes */
static int piece_len;
static struct sched_stats stats;
static uint64_t net_seen, net_last_ns;  /* frames received at the last look, and when that count last moved */
static uint64_t yield_since;            /* when the current run of yields to the network began, 0: none */

void sched_init(void) {}

/* ---- queue ---- */

static void on_cancel(void *ctx)
{
    struct task *t = ctx;
    t->cancelled = true;               /* reaped at the next sched_step (never inside http_server_poll) */
}

bool sched_submit(struct task *t)
{
    if (q_len >= CLLM_SCHED_MAX_QUEUE)
        return false;
    t->state = TASK_QUEUED;
    t->t_queued = clock_ns();
    t->next = NULL;
    if (q_tail)
        q_tail->next = t;
    else
        q_head = t;
    q_tail = t;
    q_len++;
    stats.requests++;
    http_reply_defer(t->reply, on_cancel, t);
    return true;
}

static void queue_remove(struct task *t)
{
    struct task **pp = &q_head, *prev = NULL;
    while (*pp && *pp != t) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = t->next;
    if (q_tail == t)
        q_tail = prev;
    q_len--;
}

/* ---- slots ---- */

static void slots_open(struct engine *e)
{
    piece_len = (int)e->tok.max_token_len + 8;
    piece = kmalloc((size_t)piece_len);
    if (!piece) {
        log_error("api: out of memory for the detokenizer buffer");
        return;
    }
    n_slots = e->opt.n_slots;
    slots = kcalloc((size_t)n_slots, sizeof *slots);
    if (!slots) {
        n_slots = 0;
        return;
    }
    struct sampler_params sp;
    sampler_params_default(&sp);
    for (int i = 0; i < n_slots; i++)
        slots[i].open = engine_seq_open(e, &slots[i].seq, &sp) == 0;
}

static int common_prefix(const struct engine_seq *seq, const int32_t *tok, int n)
{
    int k = 0;
    while (k < seq->n_past && k < n && seq->tokens[k] == tok[k])
        k++;
    return k;
}

/* The free slot that shares the longest prefix with t's prompt (prompt caching), else the first free one. */
static struct sched_slot *slot_pick(const struct task *t)
{
    struct sched_slot *best = NULL;
    int best_k = -1;
    for (int i = 0; i < n_slots; i++) {
        struct sched_slot *s = &slots[i];
        if (!s->open || s->task)
            continue;
        int k = t->par.cache_prompt ? common_prefix(&s->seq, t->prompt, t->n_prompt) : 0;
        if (k > best_k) {
            best = s;
            best_k = k;
        }
    }
    return best;
}

static void slot_release(struct sched_slot *s)
{
    s->task = NULL;
}

/* Free a task whose reply is finished or given up: a reply still open (an answer that could not be queued)
   is aborted first, so the connection never calls the cancel hook on freed memory. */
static void task_drop(struct task *t)
{
    if (http_reply_alive(t->reply))
        http_reply_abort(t->reply);
    task_free(t);
}

/* Fail a task that is on a slot: 500 before the stream started, an aborted connection after. */
static void task_fail(struct sched_slot *s, struct task *t, const char *why)
{
    log_warn("api: request failed: %s", why);
    stats.requests_failed++;
    if (t->stream_started)
        http_reply_abort(t->reply);
    else
        http_reply_error(t->reply, 500, why);
    slot_release(s);
    task_drop(t);
}

static bool task_start(struct engine *e, struct sched_slot *s, struct task *t, uint64_t now)
{
    struct engine_seq *seq = &s->seq;
    s->task = t;
    t->slot = (int)(s - slots);
    t->state = TASK_PREFILL;
    t->t_prompt0 = now;
    if (t->api == TASK_API_EMBED_NATIVE || t->api == TASK_API_EMBED_OAI) {
        seq->n_past = 0;
        seq->have_logits = 0;
        t->embd = kcalloc((size_t)e->model.hp.n_embd, sizeof *t->embd);
        if (!t->embd) {
            task_fail(s, t, "out of memory");
            return false;
        }
        return true;
    }
    struct sampler_params sp = t->par.sp;
    if (sp.repeat_last_n < 0 || sp.repeat_last_n > e->opt.n_ctx)
        sp.repeat_last_n = e->opt.n_ctx;        /* llama.cpp: -1 is the whole context */
    sampler_free(&seq->smp);
    int cap = t->par.n_predict >= 0 ? t->par.n_predict + 1 : 64;
    t->out = kmalloc((size_t)cap * sizeof *t->out);
    t->cap_out = cap;
    if (t->par.sp.n_probs > 0)
        t->probs = kmalloc((size_t)cap * sizeof *t->probs);
    if (sampler_init(&seq->smp, &sp, e->model.hp.n_vocab) != 0 || !t->out ||
        (t->par.sp.n_probs > 0 && !t->probs)) {
        seq->n_past = 0;
        task_fail(s, t, "out of memory");
        return false;
    }
    if (t->par.cache_prompt) {
        int kept = engine_seq_keep_prefix(seq, t->prompt, t->n_prompt);
        for (int i = 0; i < kept; i++)
            sampler_accept(&seq->smp, t->prompt[i]);
        t->n_cached = kept;
    } else {
        seq->n_past = 0;
        seq->have_logits = 0;
    }
    detok_stream_init(&t->ds, &e->tok, false);
    if (t->par.stream && !respond_stream_open(t)) {
        slot_release(s);
        task_drop(t);                            /* the client is gone, or the stream could not start */
        return false;
    }
    return true;
}

/* ---- stop strings ---- */

/* Earliest full match of a stop string that ends in the text added since old_len: sets t->stop_word and returns
   the match position, or -1. */
static long stop_find(struct task *t, size_t old_len)
{
    long best = -1;
    const char *txt = t->text.p;
    for (int i = 0; i < t->par.n_stop; i++) {
        size_t sl = t->par.stop_len[i];
        if (t->text.len < sl)
            continue;
        size_t from = old_len >= sl - 1 ? old_len - (sl - 1) : 0;
        for (size_t p = from; p + sl <= t->text.len; p++)
            if (memcmp(txt + p, t->par.stop[i], sl) == 0) {
                if (best < 0 || (long)p < best) {
                    best = (long)p;
                    t->stop_word = i;
                }
                break;
            }
    }
    return best;
}

/* Bytes at the end of the text that could be the start of a stop string: held back from the stream. */
static size_t stop_holdback(const struct task *t)
{
    size_t hold = 0;
    for (int i = 0; i < t->par.n_stop; i++) {
        size_t sl = t->par.stop_len[i];
        for (size_t k = sl - 1; k > hold; k--)
            if (k <= t->text.len && memcmp(t->text.p + t->text.len - k, t->par.stop[i], k) == 0) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Stream what is ready: text up to the hold-back point and the tokens not yet reported. */
static void stream_flush(struct task *t, bool final)
{
    size_t upto = t->text.len - (final ? 0 : stop_holdback(t));
    if (upto < t->sent)
        upto = t->sent;
    if (upto == t->sent && (t->api != TASK_API_NATIVE || t->tok_sent == t->n_out || !final))
        return;
    if (respond_stream_delta(t, t->text.p ? t->text.p + t->sent : "", upto - t->sent, t->tok_sent, t->n_out)) {
        t->sent = upto;
        t->tok_sent = t->n_out;
    }
}

static void task_finish(struct sched_slot *s, struct task *t, enum task_stop why, uint64_t now)
{
    t->stop = why;
    t->state = TASK_DONE;
    t->t_gen1 = now;
    if (why != TASK_STOP_WORD) {
        char tail[8];
        int n = detok_stream_flush(&t->ds, tail, sizeof tail);
        if (n > 0)
            sbuf_add(&t->text, tail, (size_t)n);
    }
    stats.predicted_tokens += (uint64_t)t->n_out;
    stats.predicted_ns += now - t->t_prompt1;
    if (t->par.stream)
        stream_flush(t, true);
    (void)s;
}

/* One decode unit: sample, record, check stops, stream, evaluate the token. */
static bool task_decode(struct engine *e, struct sched_slot *s, struct task *t, uint64_t now)
{
    struct engine_seq *seq = &s->seq;
    if (t->par.stream && http_reply_stream_space(t->reply) < 8192) {
        if (!http_reply_alive(t->reply))
            t->cancelled = true;
        return false;                            /* the client reads slower than we generate: wait */
    }
    if (t->n_out >= t->par.n_predict && t->par.n_predict >= 0) {
        task_finish(s, t, TASK_STOP_LIMIT, now);
        return true;
    }
    int32_t tok = engine_seq_sample(e, seq);
    if (tok < 0) {
        task_fail(s, t, "sampling failed");
        return true;
    }
    if (!t->par.ignore_eos && engine_token_is_eog(e, tok)) {
        task_finish(s, t, TASK_STOP_EOS, clock_ns());
        return true;
    }
    if (t->n_out >= t->cap_out) {
        int cap = t->cap_out * 2;
        int32_t *o = krealloc(t->out, (size_t)cap * sizeof *o);
        struct task_prob *p = t->probs ? krealloc(t->probs, (size_t)cap * sizeof *p) : NULL;
        if (o)
            t->out = o;
        if (p)
            t->probs = p;
        if (!o || (t->probs && !p)) {
            task_fail(s, t, "out of memory");
            return true;
        }
        t->cap_out = cap;
    }
    if (t->probs) {
        struct task_prob *pr = &t->probs[t->n_out];
        pr->id = tok;
        pr->n = sampler_top_probs(&seq->smp, t->par.sp.n_probs, pr->top_id, pr->top_p);
        pr->p = 0.0f;                                /* the drawn token is one of the final candidates */
        for (int k = 0; k < seq->smp.n_cand && seq->smp.probs_valid; k++)
            if (seq->smp.cand[k].id == tok) {
                pr->p = seq->smp.cand[k].p;
                break;
            }
    }
    t->out[t->n_out++] = tok;
    size_t old_len = t->text.len;
    int n = detok_stream_push(&t->ds, tok, piece, piece_len);
    if (n > 0)
        sbuf_add(&t->text, piece, (size_t)n);
    if (t->text.failed) {
        task_fail(s, t, "the generated text exceeds the response limit");
        return true;
    }
    long at = t->par.n_stop ? stop_find(t, old_len) : -1;
    if (at >= 0) {
        sbuf_truncate(&t->text, (size_t)at);
        task_finish(s, t, TASK_STOP_WORD, clock_ns());
        return true;
    }
    if (t->par.stream)
        stream_flush(t, false);
    if ((t->par.n_predict >= 0 && t->n_out >= t->par.n_predict) || seq->n_past >= e->opt.n_ctx) {
        task_finish(s, t, TASK_STOP_LIMIT, clock_ns());
        return true;
    }
    uint64_t t0 = clock_ns();
    if (engine_seq_eval(e, seq, &tok, 1) != 0) {
        task_fail(s, t, "evaluation failed");
        return true;
    }
    uint64_t dt = clock_ns() - t0;
    decode_ns = decode_ns ? (decode_ns * 7 + dt) / 8 : dt;
    stats.decode_calls++;
    stats.busy_slot_sum++;
    if ((uint64_t)seq->n_past > stats.n_tokens_max)
        stats.n_tokens_max = (uint64_t)seq->n_past;
    return true;
}

/* One prefill chunk. */
static bool task_prefill(struct engine *e, struct sched_slot *s, struct task *t)
{
    struct engine_seq *seq = &s->seq;
    bool embed = t->api == TASK_API_EMBED_NATIVE || t->api == TASK_API_EMBED_OAI;
    int left = t->n_prompt - seq->n_past;
    int chunk = left < prefill_chunk ? left : prefill_chunk;
    uint64_t t0 = clock_ns();
    int rc = embed ? embed_eval(e, seq, t->prompt + seq->n_past, chunk, t->embd)
                   : engine_seq_eval(e, seq, t->prompt + seq->n_past, chunk);
    uint64_t t1 = clock_ns();
    if (rc != 0) {
        seq->n_past = 0;
        task_fail(s, t, "prompt evaluation failed");
        return true;
    }
    stats.decode_calls++;
    stats.busy_slot_sum++;
    /* adapt the chunk so one step lasts about CLLM_SCHED_STEP_US, or as long as a decode step if that is longer
       (the loop already waits that long between network polls while generating) */
    uint64_t per_tok = (t1 - t0) / (uint64_t)chunk + 1;
    uint64_t target = (uint64_t)CLLM_SCHED_STEP_US * 1000u;
    if (decode_ns > target)
        target = decode_ns;
    uint64_t want = target / per_tok;
    if (chunk == prefill_chunk || want < (uint64_t)prefill_chunk) {
        int next = want < 1 ? 1 : want > (uint64_t)e->opt.n_batch ? e->opt.n_batch : (int)want;
        if (next > 2 * prefill_chunk)
            next = 2 * prefill_chunk;               /* grow gently: bigger chunks cost more per step */
        prefill_chunk = next;
    }
    if (seq->n_past < t->n_prompt)
        return true;
    t->t_prompt1 = t1;
    stats.prompt_tokens += (uint64_t)(t->n_prompt - t->n_cached);
    stats.prompt_ns += t1 - t->t_prompt0;
    if ((uint64_t)seq->n_past > stats.n_tokens_max)
        stats.n_tokens_max = (uint64_t)seq->n_past;
    if (embed) {
        embed_normalize(t->embd, e->model.hp.n_embd, t->n_prompt);
        respond_embedding(t, t->embd, e->model.hp.n_embd);
        seq->n_past = 0;                            /* its K/V are no generation prefix (no logits kept) */
        slot_release(s);
        task_drop(t);
        return true;
    }
    t->state = TASK_DECODE;
    return true;
}

bool sched_step(uint64_t now)
{
    if (!model_tried) {
        model_tried = true;
        if (api_model_open() == 0)
            slots_open(api_model_engine());
        return true;
    }
    struct engine *e = api_model_engine();
    if (!e)
        return false;
    bool worked = false;
    /* reap cancelled tasks first: a client that left frees its slot at once */
    for (struct task *t = q_head, *nx; t; t = nx) {
        nx = t->next;
        if (t->cancelled) {
            queue_remove(t);
            stats.requests_cancelled++;
            task_free(t);
        }
    }
    for (int i = 0; i < n_slots; i++) {
        struct task *t = slots[i].task;
        if (t && t->cancelled) {
            stats.requests_cancelled++;
            slot_release(&slots[i]);
            task_free(t);
            worked = true;
        }
    }
    /* A forward pass holds the loop for its whole duration, so while frames are arriving (a request, the rest
       of a handshake) give the network a few ms first: the loop then halts until the next interrupt. Bounded by
       CLLM_SCHED_NET_YIELD_US per step, so generation never starves. */
    struct net_stats ns;
    net_get_stats(&ns);
    if (ns.frames_in != net_seen) {
        net_seen = ns.frames_in;
        net_last_ns = now;
    }
    bool busy = q_head != NULL;
    for (int i = 0; i < n_slots && !busy; i++)
        busy = slots[i].task != NULL;
    if (busy && now - net_last_ns < (uint64_t)CLLM_SCHED_NET_QUIET_US * 1000u) {
        if (!yield_since)
            yield_since = now;
        if (now - yield_since < (uint64_t)CLLM_SCHED_NET_YIELD_US * 1000u)
            return worked;
    }
    yield_since = 0;
    /* start queued tasks on free slots, oldest first */
    while (q_head) {
        struct sched_slot *s = slot_pick(q_head);
        if (!s)
            break;
        struct task *t = q_head;
        queue_remove(t);
        task_start(e, s, t, now);
        worked = true;
    }
    for (int i = 0; i < n_slots; i++) {
        struct sched_slot *s = &slots[i];
        struct task *t = s->task;
        if (!t)
            continue;
        if (t->state == TASK_PREFILL)
            worked |= task_prefill(e, s, t);
        else if (t->state == TASK_DECODE)
            worked |= task_decode(e, s, t, clock_ns());
        t = s->task;
        if (t && t->state == TASK_DONE && !t->cancelled) {
            worked = true;
            if (t->par.stream && (t->sent < t->text.len || (t->api == TASK_API_NATIVE && t->tok_sent < t->n_out))) {
                stream_flush(t, true);                  /* the last text first (retried while TCP is full) */
                if (t->sent < t->text.len || (t->api == TASK_API_NATIVE && t->tok_sent < t->n_out)) {
                    if (!http_reply_alive(t->reply))
                        t->cancelled = true;
                    continue;
                }
            }
            if (respond_finish(t)) {
                slot_release(s);
                task_drop(t);
            }
        }
    }
    return worked;
}

void sched_get_stats(struct sched_stats *st)
{
    *st = stats;
    st->processing = 0;
    st->kv_tokens = 0;
    for (int i = 0; i < n_slots; i++) {
        if (slots[i].task)
            st->processing++;
        st->kv_tokens += slots[i].seq.n_past;
    }
    st->deferred = q_len;
    struct engine *e = api_model_engine();
    st->kv_capacity = e ? e->opt.n_ctx * e->opt.n_slots : 0;
    st->n_slots = n_slots;
    st->prefill_chunk = prefill_chunk;
}

bool sched_slot_info(int i, struct sched_slot_info *info)
{
    if (i < 0 || i >= n_slots)
        return false;
    const struct task *t = slots[i].task;
    memset(info, 0, sizeof *info);
    info->n_past = slots[i].seq.n_past;
    if (t) {
        info->is_processing = true;
        info->n_prompt = t->n_prompt;
        info->n_decoded = t->n_out;
        info->n_remain = t->par.n_predict < 0 ? -1 : t->par.n_predict - t->n_out;
        info->stream = t->par.stream;
    }
    return true;
}
