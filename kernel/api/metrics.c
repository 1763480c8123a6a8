/* GET /metrics: Prometheus text exposition (format 0.0.4) of the scheduler's counters under llama.cpp's
   llamacpp:* names, plus the network (net/net.h), TCP (net/tcp.h) and HTTP (http_server_get_stats) counters
   under cllm_*, and where the forward pass's time went (llm/prof.h phases, worker busy time). */
#include "api/api.h"
#include "api/sched.h"
#include "core/clock.h"
#include "core/heap.h"
#include "http/http_server.h"
#include "llm/prof.h"
#include "llm/workers.h"
#include "net/net.h"
#include "net/tcp.h"

static void metric(struct sbuf *b, const char *name, const char *type, const char *help, double v)
{
    sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    char num[40];
    if (fmt_double_shortest(num, sizeof num, v) < 0)
        num[0] = '0', num[1] = 0;
    sbuf_printf(b, "%s %s\n", name, num);
}

static void metrics_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)req;
    (void)ctx;
    struct sched_stats s;
    struct net_stats ns;
    struct tcp_stats ts;
    struct http_stats hs;
    struct heap_stats heap;
    heap_get_stats(&heap);                        /* before this reply allocates anything */
    sched_get_stats(&s);
    net_get_stats(&ns);
    tcp_get_stats(&ts);
    http_server_get_stats(&hs);
    struct sbuf b;
    sbuf_init(&b, 1 << 20);
    double pt = (double)s.prompt_ns / 1e9, gt = (double)s.predicted_ns / 1e9;
    metric(&b, "llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.",
           (double)s.prompt_tokens);
    metric(&b, "llamacpp:prompt_seconds_total", "counter", "Prompt process time", pt);
    metric(&b, "llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed.",
           (double)s.predicted_tokens);
    metric(&b, "llamacpp:tokens_predicted_seconds_total", "counter", "Predict process time", gt);
    metric(&b, "llamacpp:n_decode_total", "counter", "Total number of forward passes.", (double)s.decode_calls);
    metric(&b, "llamacpp:n_busy_slots_per_decode", "gauge", "Average number of busy slots per forward pass.",
           s.decode_calls ? (double)s.busy_slot_sum / (double)s.decode_calls : 0.0);
    metric(&b, "llamacpp:prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.",
           pt > 0 ? (double)s.prompt_tokens / pt : 0.0);
    metric(&b, "llamacpp:predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.",
           gt > 0 ? (double)s.predicted_tokens / gt : 0.0);
    metric(&b, "llamacpp:requests_processing", "gauge", "Number of requests processing.", s.processing);
    metric(&b, "llamacpp:requests_deferred", "gauge", "Number of requests deferred.", s.deferred);
    metric(&b, "llamacpp:n_tokens_max", "counter", "Largest observed n_tokens.", (double)s.n_tokens_max);
    metric(&b, "llamacpp:kv_cache_tokens", "gauge", "KV-cache tokens.", s.kv_tokens);
    metric(&b, "llamacpp:kv_cache_usage_ratio", "gauge", "KV-cache usage. 1 means 100 percent usage.",
           s.kv_capacity ? (double)s.kv_tokens / s.kv_capacity : 0.0);
    metric(&b, "cllm_requests_total", "counter", "Generation and embedding requests queued.", (double)s.requests);
    metric(&b, "cllm_requests_cancelled_total", "counter", "Requests whose client left.",
           (double)s.requests_cancelled);
    metric(&b, "cllm_requests_failed_total", "counter", "Requests that failed in the engine.",
           (double)s.requests_failed);
    metric(&b, "cllm_slots", "gauge", "Generation slots.", s.n_slots);
    metric(&b, "cllm_prefill_chunk_tokens", "gauge", "Current prefill chunk size.", s.prefill_chunk);
    metric(&b, "cllm_heap_used_bytes", "gauge", "Kernel heap bytes allocated.", (double)heap.used);
    metric(&b, "cllm_heap_total_bytes", "gauge", "Kernel heap bytes in all regions.", (double)heap.total);
    metric(&b, "cllm_heap_peak_bytes", "gauge", "Most kernel heap bytes ever allocated.", (double)heap.peak);
    metric(&b, "cllm_net_frames_in_total", "counter", "Ethernet frames received.", (double)ns.frames_in);
    metric(&b, "cllm_net_frames_out_total", "counter", "Ethernet frames sent.", (double)ns.frames_out);
    metric(&b, "cllm_net_bytes_in_total", "counter", "Ethernet bytes received.", (double)ns.bytes_in);
    metric(&b, "cllm_net_bytes_out_total", "counter", "Ethernet bytes sent.", (double)ns.bytes_out);
    metric(&b, "cllm_net_drops_total", "counter", "Frames dropped (short, not for us, ethertype, TX full).",
           (double)(ns.drop_short + ns.drop_not_for_us + ns.drop_ethertype + ns.drop_tx_full + ns.drop_too_big +
                    ns.drop_no_address));
    metric(&b, "cllm_ip_bad_checksum_total", "counter", "IPv4 headers with bad checksums.",
           (double)ns.ip_bad_checksum);
    metric(&b, "cllm_ip_fragments_dropped_total", "counter", "IPv4 fragments dropped.",
           (double)ns.ip_fragments_dropped);
    metric(&b, "cllm_tcp_segments_in_total", "counter", "TCP segments received.", (double)ts.segs_in);
    metric(&b, "cllm_tcp_segments_out_total", "counter", "TCP segments sent.", (double)ts.segs_out);
    metric(&b, "cllm_tcp_retransmits_total", "counter", "TCP retransmissions.", (double)ts.retransmits);
    metric(&b, "cllm_tcp_connections_opened_total", "counter", "TCP connections opened.", (double)ts.conns_opened);
    metric(&b, "cllm_tcp_connections_active", "gauge", "TCP connections open now.", (double)ts.conns_active);
    metric(&b, "cllm_tcp_resets_in_total", "counter", "TCP resets received.", (double)ts.resets_in);
    metric(&b, "cllm_http_requests_total", "counter", "HTTP requests parsed.", (double)hs.requests);
    metric(&b, "cllm_http_connections_active", "gauge", "HTTP connections open now.", (double)hs.conns_active);
    metric(&b, "cllm_http_bad_requests_total", "counter", "HTTP requests rejected as malformed.",
           (double)hs.bad_requests);
    metric(&b, "cllm_http_timeouts_total", "counter", "HTTP connections timed out.", (double)hs.timeouts);
    metric(&b, "cllm_http_client_aborts_total", "counter", "Replies abandoned by their client.",
           (double)hs.client_aborts);
    metric(&b, "cllm_http_bytes_in_total", "counter", "HTTP bytes received.", (double)hs.bytes_in);
    metric(&b, "cllm_http_bytes_out_total", "counter", "HTTP bytes sent.", (double)hs.bytes_out);
    sbuf_adds(&b, "# HELP cllm_http_responses_total HTTP responses by status class.\n"
                  "# TYPE cllm_http_responses_total counter\n");
    for (int c = 1; c <= 5; c++)
        sbuf_printf(&b, "cllm_http_responses_total{class=\"%dxx\"} %llu\n", c,
                    (unsigned long long)hs.responses_by_class[c]);
    double tsc_hz = clock_tsc_hz() ? (double)clock_tsc_hz() : 1e9;
    char num[40];
    sbuf_adds(&b, "# HELP cllm_forward_seconds_total Forward-pass time on the boot CPU by phase (wait: idle in a "
                  "parallel job).\n# TYPE cllm_forward_seconds_total counter\n");
    for (int p = 0; p < PROF_COUNT; p++) {
        if (fmt_double_shortest(num, sizeof num, (double)prof.cycles[p] / tsc_hz) < 0)
            num[0] = '0', num[1] = 0;
        sbuf_printf(&b, "cllm_forward_seconds_total{phase=\"%s\"} %s\n", prof_phase_name((enum prof_phase)p), num);
    }
    metric(&b, "cllm_forward_tokens_total", "counter", "Tokens through the forward pass.", (double)prof.tokens);
    metric(&b, "cllm_forward_jobs_total", "counter", "Parallel jobs shared with other CPUs.", (double)prof.joins);
    metric(&b, "cllm_workers_solo_runs_total", "counter", "Times the boot CPU fell back to running jobs alone.",
           (double)workers_solo_runs());
    sbuf_adds(&b, "# HELP cllm_worker_busy_seconds_total Time each CPU spent in parallel jobs' chunks.\n"
                  "# TYPE cllm_worker_busy_seconds_total counter\n");
    for (int c = 0; c < workers_count(); c++) {
        if (fmt_double_shortest(num, sizeof num, (double)workers_busy_cycles(c) / tsc_hz) < 0)
            num[0] = '0', num[1] = 0;
        sbuf_printf(&b, "cllm_worker_busy_seconds_total{cpu=\"%d\"} %s\n", c, num);
    }
    if (b.failed)
        http_reply_error(reply, 500, "out of memory");
    else
        http_reply_send(reply, 200, "text/plain; version=0.0.4", b.p, b.len);
    sbuf_free(&b);
}

void metrics_init(void)
{
    router_add(HTTP_METHOD_BIT(HTTP_METHOD_GET), "/metrics", metrics_handle, 0);
}
