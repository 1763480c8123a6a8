"""The HTTP API on the real kernel with a tiny synthetic model (models/make_tiny.py): every endpoint's fields and
types against llama.cpp's documented server API and OpenAI's API reference, streaming shapes, stop strings with
partial-match hold-back, n_probs, tokenize/detokenize round trips, embeddings against the numpy reference, queueing,
and every error case (llama.cpp's {"error":{"code","message","type"}})."""
import concurrent.futures
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent / "host" / "api"))
import apiboot  # noqa: E402
from conftest import build_image  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from make_tiny import make_tiny
    return make_tiny(str(tmp_path_factory.mktemp("apitiny") / "tiny-api.gguf"), qtype="q8_0")


@pytest.fixture(scope="module")
def guest(tmp_path_factory, tiny_model):
    res = build_image(tmp_path_factory.mktemp("apitiny-build") / "out", tiny_model,
                      config={"model_alias": "tiny-test", "n_ctx": 128})
    g = apiboot.boot(res.elf)
    yield g
    g.shutdown()
    assert "fault" not in g.serial_text().lower()


def post(g, path, body, **kw):
    return requests.post(g.url + path, json=body, timeout=60, **kw)


def check_error(r, status, typ, *words):
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert set(e) >= {"code", "message", "type"}
    assert e["code"] == status and e["type"] == typ and isinstance(e["message"], str)
    for w in words:
        assert w in e["message"], e["message"]
    return e["message"]


def greedy(g, prompt, n, **extra):
    body = {"prompt": prompt, "n_predict": n, "temperature": 0, "return_tokens": True, **extra}
    r = post(g, "/completion", body)
    assert r.status_code == 200, r.text
    return r.json()


# ---- info endpoints ----

def test_health(guest):
    r = requests.get(guest.url + "/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_props(guest):
    p = requests.get(guest.url + "/props").json()
    assert p["total_slots"] == 1 and p["model_path"] == "tiny-api.gguf"
    s = p["default_generation_settings"]
    assert s["n_ctx"] == 128
    par = s["params"]
    for k, t in [("n_predict", int), ("seed", int), ("temperature", float), ("top_k", int), ("top_p", float),
                 ("min_p", float), ("repeat_last_n", int), ("repeat_penalty", float), ("presence_penalty", float),
                 ("frequency_penalty", float), ("stop", list), ("ignore_eos", bool), ("n_probs", int),
                 ("samplers", list)]:
        assert isinstance(par[k], t), k
    assert abs(par["temperature"] - 0.8) < 1e-6 and par["top_k"] == 40
    assert isinstance(p["chat_template"], str) and isinstance(p["build_info"], str)


@pytest.mark.parametrize("path", ["/models", "/v1/models"])
def test_models(guest, path):
    m = requests.get(guest.url + path).json()
    assert m["object"] == "list" and len(m["data"]) == 1
    d = m["data"][0]
    assert d["id"] == "tiny-test" and d["object"] == "model" and isinstance(d["created"], int)
    assert d["meta"]["n_ctx_train"] == 256 and d["meta"]["n_vocab"] > 0 and d["meta"]["size"] > 0


def test_metrics_names(guest):
    greedy(guest, "hello", 3)
    r = requests.get(guest.url + "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    vals = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, v = line.rsplit(" ", 1)
            vals[name] = float(v)
    for k in ["llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total", "llamacpp:prompt_tokens_seconds",
              "llamacpp:predicted_tokens_seconds", "llamacpp:requests_processing", "llamacpp:requests_deferred",
              "llamacpp:kv_cache_usage_ratio", "llamacpp:kv_cache_tokens", "cllm_net_frames_in_total",
              "cllm_tcp_segments_in_total", "cllm_http_requests_total", 'cllm_http_responses_total{class="2xx"}']:
        assert k in vals, k
    assert vals["llamacpp:tokens_predicted_total"] >= 3 and vals["llamacpp:prompt_tokens_total"] >= 1
    assert vals["cllm_net_frames_in_total"] > 0 and 0 < vals["llamacpp:kv_cache_usage_ratio"] <= 1


# ---- /completion ----

def test_completion_fields(guest):
    j = greedy(guest, "once upon", 6)
    for k, t in [("content", str), ("tokens", list), ("stop", bool), ("stop_type", str), ("stopping_word", str),
                 ("tokens_predicted", int), ("tokens_evaluated", int), ("truncated", bool),
                 ("generation_settings", dict), ("timings", dict), ("model", str), ("id_slot", int),
                 ("tokens_cached", int), ("prompt", str)]:
        assert isinstance(j[k], t), k
    assert j["stop"] is True and j["model"] == "tiny-test"
    assert j["tokens_predicted"] == len(j["tokens"]) <= 6
    assert j["stop_type"] in ("eos", "limit") and (j["stop_type"] == "limit") == (len(j["tokens"]) == 6)
    tm = j["timings"]
    for k in ["prompt_n", "prompt_ms", "prompt_per_second", "predicted_n", "predicted_ms", "predicted_per_second"]:
        assert isinstance(tm[k], (int, float)), k
    assert tm["predicted_n"] == j["tokens_predicted"]
    assert j["generation_settings"]["n_predict"] == 6 and j["generation_settings"]["temperature"] == 0
    assert "completion_probabilities" not in j
    # content is the detokenized tokens
    d = post(guest, "/detokenize", {"tokens": j["tokens"]}).json()["content"]
    assert d == j["content"]
    # the prompt as tokens gives the same greedy continuation (no BOS: the tiny model's add_bos is off)
    ids = post(guest, "/tokenize", {"content": "once upon"}).json()["tokens"]
    j2 = greedy(guest, ids, 6)
    assert j2["tokens"] == j["tokens"] and j2["tokens_evaluated"] == len(ids)


def test_completions_alias_and_unknown_fields(guest):
    r = post(guest, "/completions", {"prompt": "abc", "n_predict": 2, "no_such_field": [1, {"x": None}],
                                     "temperature": 0})
    assert r.status_code == 200 and r.json()["tokens_predicted"] <= 2


def test_seed_repeatable(guest):
    body = {"prompt": "the", "n_predict": 8, "temperature": 1.5, "top_k": 0, "top_p": 1.0, "min_p": 0.0,
            "seed": 1234, "return_tokens": True, "cache_prompt": False}
    a, b = post(guest, "/completion", body).json(), post(guest, "/completion", body).json()
    assert a["tokens"] == b["tokens"]
    c = post(guest, "/completion", {**body, "seed": 99}).json()
    d = post(guest, "/completion", {**body, "seed": 99}).json()
    assert c["tokens"] == d["tokens"] and c["generation_settings"]["seed"] == 99


def test_n_predict_zero_and_ignore_eos(guest):
    j = greedy(guest, "abc", 0)
    assert j["content"] == "" and j["tokens_predicted"] == 0 and j["stop_type"] == "limit"
    j = greedy(guest, "abc", 20, ignore_eos=True)
    assert j["tokens_predicted"] == 20


def test_stop_word(guest):
    base = greedy(guest, "hello world", 24, ignore_eos=True)
    text = base["content"]
    # a stop string from the middle of the greedy output (3 bytes starting at byte 10 of the text)
    raw = text.encode()
    start = next(i for i in range(6, len(raw) - 3) if all(0x20 <= b < 0x7f for b in raw[i:i + 3]))
    stop = raw[start:start + 3].decode()
    cut = text[:text.index(stop)]
    j = greedy(guest, "hello world", 24, ignore_eos=True, stop=[stop, "NEVER-MATCHES"])
    assert j["stop_type"] == "word" and j["stopping_word"] == stop and j["content"] == cut
    # streamed: the concatenated content is the same (the partial match was held back, never sent)
    r = post(guest, "/completion", {"prompt": "hello world", "n_predict": 24, "temperature": 0, "ignore_eos": True,
                                    "stop": [stop], "stream": True}, stream=True)
    ev = apiboot.sse_json(r)
    assert "".join(e["content"] for e in ev) == cut
    assert ev[-1]["stop"] is True and ev[-1]["stop_type"] == "word" and ev[-1]["stopping_word"] == stop


def test_stream_native(guest):
    full = greedy(guest, "stream me", 10, ignore_eos=True)
    r = post(guest, "/completion", {"prompt": "stream me", "n_predict": 10, "temperature": 0, "ignore_eos": True,
                                    "stream": True}, stream=True)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers.get("transfer-encoding") == "chunked"
    ev = apiboot.sse_json(r)
    assert all(e["stop"] is False for e in ev[:-1]) and ev[-1]["stop"] is True
    assert [t for e in ev[:-1] for t in e["tokens"]] == full["tokens"]
    assert "".join(e["content"] for e in ev) == full["content"]
    assert ev[-1]["timings"]["predicted_n"] == 10 and ev[-1]["stop_type"] == "limit"
    for e in ev[:-1]:
        assert set(e) >= {"content", "tokens", "stop"}


def test_n_probs(guest):
    j = greedy(guest, "probs", 5, n_probs=3, ignore_eos=True)
    cp = j["completion_probabilities"]
    assert len(cp) == 5
    for entry, tok in zip(cp, j["tokens"]):
        assert entry["id"] == tok and isinstance(entry["token"], str) and isinstance(entry["bytes"], list)
        top = entry["top_logprobs"]
        assert len(top) == 3 and top[0]["id"] == tok   # greedy: the chosen token is the most probable
        lp = [t["logprob"] for t in top]
        assert lp == sorted(lp, reverse=True) and all(v <= 0 for v in lp)
        assert math.isclose(entry["logprob"], lp[0], rel_tol=1e-6)
        assert sum(math.exp(v) for v in lp) <= 1.0 + 1e-5


def test_queue_two_requests_one_slot(guest):
    body = {"prompt": "q", "n_predict": 30, "temperature": 0, "ignore_eos": True, "return_tokens": True}
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        rs = list(ex.map(lambda _: post(guest, "/completion", body), range(4)))
    assert all(r.status_code == 200 for r in rs)
    toks = [r.json()["tokens"] for r in rs]
    assert all(t == toks[0] for t in toks) and len(toks[0]) == 30


# ---- OpenAI routes ----

def test_v1_completions(guest):
    r = post(guest, "/v1/completions", {"model": "x", "prompt": "hello", "max_tokens": 4, "temperature": 0})
    j = r.json()
    assert r.status_code == 200 and j["object"] == "text_completion" and j["id"].startswith("cmpl-")
    assert isinstance(j["created"], int) and j["created"] > 1.6e9 and j["model"] == "tiny-test"
    assert isinstance(j["system_fingerprint"], str)
    c = j["choices"][0]
    assert c["index"] == 0 and isinstance(c["text"], str) and c["finish_reason"] in ("stop", "length")
    u = j["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] and u["completion_tokens"] <= 4
    native = greedy(guest, "hello", 4)
    assert c["text"] == native["content"]


def test_v1_chat_stream_usage(guest):
    r = post(guest, "/v1/chat/completions", {"messages": [{"role": "system", "content": "be brief"},
                                                          {"role": "user", "content": "hi"}],
                                             "max_tokens": 5, "temperature": 0, "stream": True,
                                             "stream_options": {"include_usage": True}}, stream=True)
    raw = [d for _, d in apiboot.sse_events(r)]
    assert raw[-1] == "[DONE]"
    ev = [json.loads(d) for d in raw[:-1]]
    assert all(e["object"] == "chat.completion.chunk" and e["id"].startswith("chatcmpl-") for e in ev)
    assert len({e["id"] for e in ev}) == 1
    assert ev[0]["choices"][0]["delta"]["role"] == "assistant"
    assert ev[-1]["choices"] == [] and ev[-1]["usage"]["completion_tokens"] <= 5
    fin = ev[-2]["choices"][0]
    assert fin["finish_reason"] in ("stop", "length")
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in ev[1:-2])
    j = post(guest, "/v1/chat/completions", {"messages": [{"role": "system", "content": "be brief"},
                                                          {"role": "user", "content": "hi"}],
                                             "max_tokens": 5, "temperature": 0}).json()
    assert j["object"] == "chat.completion" and j["choices"][0]["message"]["role"] == "assistant"
    assert j["choices"][0]["message"]["content"] == text
    assert j["usage"] == ev[-1]["usage"]


def test_apply_template_chatml(guest):
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
            {"role": "assistant", "content": "A1"}, {"role": "user", "content": [{"type": "text", "text": "U2"}]}]
    p = post(guest, "/apply-template", {"messages": msgs}).json()["prompt"]
    import jinja2
    chatml = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
              "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    flat = [dict(m, content=m["content"] if isinstance(m["content"], str) else m["content"][0]["text"])
            for m in msgs]
    assert p == jinja2.Template(chatml).render(messages=flat, add_generation_prompt=True)


# ---- tokenize / detokenize ----

def test_tokenize_roundtrip(guest):
    text = "Hello, world! 123 \u00e9t\u00e9 \U0001f600"
    toks = post(guest, "/tokenize", {"content": text}).json()["tokens"]
    assert all(isinstance(t, int) for t in toks)
    assert post(guest, "/detokenize", {"tokens": toks}).json()["content"] == text
    wp = post(guest, "/tokenize", {"content": text, "with_pieces": True}).json()["tokens"]
    assert [t["id"] for t in wp] == toks
    joined = b"".join(t["piece"].encode() if isinstance(t["piece"], str) else bytes(t["piece"]) for t in wp)
    assert joined == text.encode()


# ---- embeddings ----

def test_embeddings_match_reference(guest, tiny_model):
    from llama_ref import LlamaRef
    text = "embed this text"
    toks = post(guest, "/tokenize", {"content": text, "add_special": True}).json()["tokens"]
    ref = LlamaRef(tiny_model, act_quant=True, kv_f16=True)
    cap = {}
    orig = ref.matmul

    def mm(x, W):
        if W is ref.output:
            cap["h"] = x.copy()
        return orig(x, W)
    ref.matmul = mm
    ref.reset()
    ref.forward(toks, all_logits=True)
    want = cap["h"].astype(np.float64).mean(axis=0)
    want /= np.linalg.norm(want)
    a = post(guest, "/embedding", {"content": text}).json()
    assert isinstance(a, list) and a[0]["index"] == 0
    v = np.array(a[0]["embedding"][0])
    b = post(guest, "/v1/embeddings", {"input": text, "model": "x"}).json()
    assert b["object"] == "list" and b["data"][0]["object"] == "embedding"
    assert b["usage"]["prompt_tokens"] == len(toks)
    w = np.array(b["data"][0]["embedding"])
    b64 = post(guest, "/v1/embeddings", {"input": text, "encoding_format": "base64"}).json()
    import base64
    assert np.array_equal(np.frombuffer(base64.b64decode(b64["data"][0]["embedding"]), "<f4"), w.astype(np.float32))
    check_error(post(guest, "/v1/embeddings", {"input": text, "encoding_format": "hex"}), 400,
                "invalid_request_error", "encoding_format")
    assert v.shape == want.shape and np.allclose(v, w)
    assert abs(np.linalg.norm(v) - 1) < 1e-5
    assert float(v @ want) > 0.999


# ---- errors ----

def test_errors(guest):
    u = guest.url
    check_error(requests.post(u + "/completion", data=b"{not json", timeout=10), 400, "invalid_request_error",
                "JSON")
    check_error(requests.post(u + "/completion", data=b"[1,2]", timeout=10), 400, "invalid_request_error")
    check_error(post(guest, "/completion", {"prompt": "x", "temperature": "hot"}), 400, "invalid_request_error",
                "temperature")
    check_error(post(guest, "/completion", {"prompt": "x", "top_p": 2}), 400, "invalid_request_error", "top_p")
    check_error(post(guest, "/completion", {"prompt": "x", "n_predict": 1.5}), 400, "invalid_request_error",
                "n_predict")
    check_error(post(guest, "/completion", {"prompt": "x", "stream": "yes"}), 400, "invalid_request_error", "stream")
    check_error(post(guest, "/completion", {"prompt": "x", "stop": [1]}), 400, "invalid_request_error", "stop")
    check_error(post(guest, "/completion", {"prompt": ""}), 400, "invalid_request_error", "empty")
    check_error(post(guest, "/completion", {"prompt": []}), 400, "invalid_request_error", "empty")
    check_error(post(guest, "/completion", {}), 400, "invalid_request_error", "prompt")
    check_error(post(guest, "/completion", {"prompt": {"a": 1}}), 400, "invalid_request_error", "prompt")
    check_error(post(guest, "/completion", {"prompt": [1, 999999]}), 400, "invalid_request_error", "999999")
    msg = check_error(post(guest, "/completion", {"prompt": [5] * 200}), 400, "invalid_request_error", "200", "128")
    assert "context" in msg
    check_error(post(guest, "/v1/completions", {"prompt": "x", "n": 2}), 400, "invalid_request_error", "n = 1")
    check_error(post(guest, "/v1/chat/completions", {"messages": "hi"}), 400, "invalid_request_error", "messages")
    check_error(post(guest, "/v1/chat/completions", {"messages": []}), 400, "invalid_request_error", "messages")
    check_error(post(guest, "/v1/chat/completions", {"messages": [{"role": "wizard", "content": "x"}]}), 400,
                "invalid_request_error", "role")
    check_error(post(guest, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                                     "max_tokens": "ten"}), 400, "invalid_request_error",
                "max_tokens")
    check_error(post(guest, "/tokenize", {"content": 5}), 400, "invalid_request_error", "content")
    check_error(post(guest, "/detokenize", {"tokens": [-1]}), 400, "invalid_request_error", "token")
    check_error(post(guest, "/embedding", {}), 400, "invalid_request_error", "content")
    check_error(requests.get(u + "/no/such/route"), 404, "not_found_error")
    # still serving afterwards
    assert greedy(guest, "ok", 1)["tokens_predicted"] <= 1


# ---- prompt cache, penalties, leaks ----

def test_prompt_cache_reuses_prefix(guest):
    prompt = "the quick brown fox jumps over the lazy dog " * 2
    a = greedy(guest, prompt, 4, ignore_eos=True)
    b = greedy(guest, prompt, 4, ignore_eos=True)
    assert b["tokens"] == a["tokens"]
    assert b["timings"]["cache_n"] == b["tokens_evaluated"] - 1     # all but the last prompt token reused
    assert b["timings"]["prompt_n"] == 1
    c = greedy(guest, prompt, 4, ignore_eos=True, cache_prompt=False)
    assert c["tokens"] == a["tokens"] and c["timings"]["cache_n"] == 0


def test_repeat_penalty_changes_output(guest):
    a = greedy(guest, "ab ab ab", 30, ignore_eos=True)
    b = greedy(guest, "ab ab ab", 30, ignore_eos=True, repeat_penalty=5.0, repeat_last_n=-1)
    assert a["tokens"] != b["tokens"]
    assert len(set(b["tokens"])) >= len(set(a["tokens"]))
    assert b["generation_settings"]["repeat_penalty"] == 5.0


def heap_used(g):
    for line in requests.get(g.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("cllm_heap_used_bytes "):
            return float(line.split()[1])
    raise AssertionError("no cllm_heap_used_bytes")


def test_no_heap_leak_across_requests(guest):
    def mix():
        greedy(guest, "leak check", 5, n_probs=2)
        post(guest, "/completion", {"prompt": "x", "n_predict": 3, "stream": True, "stop": ["zz"]}).content
        post(guest, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 3,
                                             "stream": True, "stream_options": {"include_usage": True}}).content
        post(guest, "/v1/embeddings", {"input": "x"})
        post(guest, "/tokenize", {"content": "abc", "with_pieces": True})
        post(guest, "/completion", {"prompt": "x", "top_p": 7})
        requests.post(guest.url + "/completion", data=b"{bad", timeout=10)
        s, _ = apiboot.raw_request(guest.url, "/completion", {"prompt": "y", "n_predict": 100, "stream": True,
                                                              "ignore_eos": True}, read_bytes=1)
        s.close()
        greedy(guest, "after", 1)
    mix()
    before = heap_used(guest)
    for _ in range(3):
        mix()
    assert heap_used(guest) == before


# ---- two slots ----

@pytest.fixture(scope="module")
def guest2(tmp_path_factory, tiny_model):
    res = build_image(tmp_path_factory.mktemp("apitiny2-build") / "out", tiny_model,
                      config={"n_slots": 2, "n_ctx": 128})
    g = apiboot.boot(res.elf)
    yield g
    g.shutdown()


def test_slots_endpoint(guest2):
    sl = requests.get(guest2.url + "/slots", timeout=10).json()
    assert [s["id"] for s in sl] == [0, 1]
    for s in sl:
        assert s["n_ctx"] == 128 and isinstance(s["is_processing"], bool)
        assert set(s["next_token"]) >= {"has_next_token", "n_remain", "n_decoded"}


def test_two_slots_run_side_by_side(guest2):
    prompts = ["first prompt here", "a different one", "third", "and a fourth prompt"]
    alone = [greedy(guest2, p, 40, ignore_eos=True)["tokens"] for p in prompts]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        together = list(ex.map(lambda p: greedy(guest2, p, 40, ignore_eos=True), prompts))
    # each slot's KV cache is its own: concurrent results equal the sequential ones
    assert [j["tokens"] for j in together] == alone
    assert {j["id_slot"] for j in together} == {0, 1}
    assert requests.get(guest2.url + "/props").json()["total_slots"] == 2


def test_generation_stops_at_full_context(guest):
    ids = post(guest, "/tokenize", {"content": "abc"}).json()["tokens"][:1] * 120
    j = greedy(guest, ids, 100, ignore_eos=True)
    assert j["stop_type"] == "limit" and j["tokens_evaluated"] == 120
    assert 0 < j["tokens_predicted"] <= 128 - 120 + 1


def test_slow_reader_backpressure(guest):
    """A client that does not read while its stream fills every buffer gets the whole stream once it reads."""
    s, got = apiboot.raw_request(guest.url, "/completion", {"prompt": "x", "n_predict": 120, "ignore_eos": True,
                                                           "n_probs": 20, "stream": True, "temperature": 0},
                                 read_bytes=1)
    import time
    time.sleep(2.0)                                   # ~120 events of ~4 KB: more than the stream buffers hold
    assert requests.get(guest.url + "/health", timeout=5).status_code == 200
    s.settimeout(30)
    while not got.endswith(b"0\r\n\r\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    events = [json.loads(line[6:]) for line in got.split(b"\r\n") if line.startswith(b"data: ")]
    assert events[-1]["stop"] is True
    toks = [t for e in events[:-1] for t in e["tokens"]]
    assert len(toks) == events[-1]["tokens_predicted"] == 120
    assert len(got) > 2 * 65536                       # more than the stream buffer: backpressure was exercised
    assert sum(len(e["completion_probabilities"]) for e in events[:-1]) == len(toks)


# ---- random bodies ----

def _rand_value(rng, depth=0):
    kind = rng.integers(0, 9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return bool(rng.integers(0, 2))
    if kind == 2:
        return int(rng.choice([0, 1, -1, 2, 7, 255, 100000, 2**31, -2**31, 2**63 - 1, -2**63, 383, 384]))
    if kind == 3:
        return float(rng.choice([0.0, 0.5, -0.5, 1.0, 2.5, 1e308, -1e308, 1e-300, 3.0]))
    if kind in (4, 5):
        return "".join(rng.choice(list("ab \n\u00e9\u4e2d\U0001f600\"\\<|im_end|>\x00"), size=rng.integers(0, 12)))
    if kind == 6:
        return [_rand_value(rng, depth + 1) for _ in range(rng.integers(0, 4))]
    if kind == 7:
        return [int(x) for x in rng.integers(-2, 400, size=rng.integers(0, 6))]
    return {k: _rand_value(rng, depth + 1) for k in rng.choice(KEYS, size=rng.integers(0, 4))}


KEYS = ["prompt", "messages", "n_predict", "max_tokens", "temperature", "top_k", "top_p", "min_p", "seed", "stop",
        "stream", "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty", "ignore_eos", "n_probs",
        "cache_prompt", "n", "stream_options", "content", "tokens", "input", "role", "with_pieces", "add_special",
        "encoding_format", "max_completion_tokens", "return_tokens"]
ROUTES = ["/completion", "/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize", "/embedding",
          "/v1/embeddings", "/apply-template"]


def test_random_bodies_never_break_the_server(guest):
    rng = np.random.default_rng(1234)
    statuses = {}
    for i in range(300):
        if i % 2:       # a valid request with one random field
            body = {"prompt": "hi", "messages": [{"role": "user", "content": "hi"}], "content": "x",
                    "tokens": [1, 2], "input": "x", str(rng.choice(KEYS)): _rand_value(rng)}
        else:
            body = {k: _rand_value(rng) for k in rng.choice(KEYS, size=rng.integers(1, 7), replace=False)}
        if i % 2 == 0 and rng.random() < 0.5:
            body["prompt"] = _rand_value(rng)
        if i % 2 == 0 and rng.random() < 0.3:
            body["messages"] = [{"role": rng.choice(["user", "system", "assistant", "x"]),
                                 "content": _rand_value(rng)} for _ in range(rng.integers(0, 3))]
        for k in ("n_predict", "max_tokens", "max_completion_tokens"):
            if isinstance(body.get(k), int) and not isinstance(body[k], bool) and body[k] > 8:
                body[k] = 8
        body.setdefault("n_predict", 4)
        body.setdefault("max_tokens", 4)
        route = ROUTES[(i // 2) % len(ROUTES)]
        r = requests.post(guest.url + route, data=json.dumps(body), timeout=60,
                          headers={"Content-Type": "application/json"})
        r.content
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code in (200, 400), (route, body, r.text)
        if r.status_code == 400:
            assert r.json()["error"]["type"] == "invalid_request_error"
    assert statuses.get(200, 0) > 30 and statuses.get(400, 0) > 30, statuses
    assert requests.get(guest.url + "/health", timeout=5).status_code == 200


def test_openai_logprobs(guest):
    msgs = [{"role": "user", "content": "hi"}]
    j = post(guest, "/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "temperature": 0, "logprobs": True,
                                             "top_logprobs": 3, "ignore_eos": True}).json()
    content = j["choices"][0]["logprobs"]["content"]
    assert len(content) == j["usage"]["completion_tokens"] == 4
    for c in content:
        assert isinstance(c["token"], str) and isinstance(c["bytes"], list) and c["logprob"] <= 0
        assert len(c["top_logprobs"]) == 3 and math.isclose(c["top_logprobs"][0]["logprob"], c["logprob"])
    assert post(guest, "/v1/chat/completions", {"messages": msgs, "max_tokens": 2}).json()["choices"][0][
        "logprobs"] is None
    # streamed: the same entries spread over the chunks
    r = post(guest, "/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "temperature": 0, "logprobs": True,
                                             "top_logprobs": 3, "ignore_eos": True, "stream": True}, stream=True)
    streamed = [c for e in apiboot.sse_json(r) for ch in e["choices"] if ch.get("logprobs")
                for c in ch["logprobs"]["content"]]
    assert [c["token"] for c in streamed] == [c["token"] for c in content]
    # completions: logprobs = number of alternatives
    k = post(guest, "/v1/completions", {"prompt": "hello", "max_tokens": 4, "temperature": 0, "logprobs": 2,
                                        "ignore_eos": True}).json()["choices"][0]["logprobs"]
    assert len(k["tokens"]) == len(k["token_logprobs"]) == len(k["top_logprobs"]) == len(k["text_offset"]) == 4
    assert k["text_offset"] == sorted(k["text_offset"]) and k["text_offset"][0] == 0
    assert all(len(d) <= 2 for d in k["top_logprobs"])
    check_error(post(guest, "/v1/completions", {"prompt": "x", "logprobs": 9}), 400, "invalid_request_error",
                "logprobs")


# ---- a model that cannot be opened: /health stays 503 ----

def test_health_503_while_the_model_is_not_ready(tmp_path_factory):
    # 64 slots x 2048 positions of f32 KV cache (256 MiB) fit the build's 1 GiB plan but not the 64 MiB this
    # guest gets: engine_open fails, and the API says so instead of serving
    from make_tiny import make_tiny
    d = tmp_path_factory.mktemp("apitiny-oom")
    model = make_tiny(str(d / "tiny-2k.gguf"), qtype="q8_0", n_ctx=2048)
    res = build_image(d / "out", model, config={"n_slots": 64, "n_ctx": 2048, "kv_type": "f32"})
    from cllm_build.qemu import Guest
    with Guest(res.elf, accel=apiboot.accel(), memory_mb=64) as g:
        g.wait_for_serial(r"cllm: listening", timeout=60)
        g.wait_for_serial(r"api: cannot open the baked model", timeout=10)
        r = requests.get(g.url + "/health", timeout=10)
        check_error(r, 503, "unavailable_error", "Loading model")
        check_error(post(g, "/completion", {"prompt": "x"}), 500, "server_error", "failed to load")
        assert requests.get(g.url + "/v1/models", timeout=10).json()["data"][0]["meta"] is None
