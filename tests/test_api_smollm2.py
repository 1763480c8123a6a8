"""The HTTP API on the real kernel serving SmolLM2-135M-Instruct Q4_1 (models/fetch.py): the `openai` Python SDK
as the client (chat and completions, streaming and not, usage, errors), greedy tokens through the API equal the
numpy reference's (tests/reference/llama_ref.py), streaming events spread over the generation, a client that
disconnects mid-stream frees its slot, and /health, /tokenize, /metrics answer while a request generates (queued
requests wait instead of being refused). Generation under KVM is a few tokens/s, so n_predict stays small."""
import concurrent.futures
import json
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent / "host" / "api"))
import apiboot  # noqa: E402
from conftest import build_image  # noqa: E402

ALIAS = "smollm2-test"


@pytest.fixture(scope="module")
def model_path():
    import fetch
    return fetch.smollm2_path()


@pytest.fixture(scope="module")
def guest(tmp_path_factory, model_path):
    res = build_image(tmp_path_factory.mktemp("apismol") / "out", model_path,
                      config={"model_alias": ALIAS, "n_ctx": 512})
    g = apiboot.boot(res.elf)
    yield g
    g.shutdown()
    assert "fault" not in g.serial_text().lower()


@pytest.fixture(scope="module")
def client(guest):
    import openai
    return openai.OpenAI(base_url=guest.url + "/v1", api_key="sk-none", max_retries=0, timeout=120)


def post(g, path, body, **kw):
    return requests.post(g.url + path, json=body, timeout=120, **kw)


def metrics(g):
    out = {}
    for line in requests.get(g.url + "/metrics", timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


# ---- greedy equals the reference ----

def test_greedy_equals_numpy_reference(guest, model_path):
    from llama_ref import LlamaRef
    prompt = "1, 2, 3, 4,"
    ids = post(guest, "/tokenize", {"content": prompt, "add_special": True}).json()["tokens"]
    ref = LlamaRef(model_path, act_quant=True, kv_f16=True)
    want = ref.generate_greedy(ids, 12)
    j = post(guest, "/completion", {"prompt": prompt, "n_predict": 12, "temperature": 0, "ignore_eos": True,
                                    "return_tokens": True}).json()
    assert j["tokens"] == want
    tm = j["timings"]
    print(f"\nAPI greedy: prompt {tm['prompt_n']} tokens at {tm['prompt_per_second']:.1f}/s, "
          f"{tm['predicted_n']} tokens at {tm['predicted_per_second']:.2f}/s")
    # the same through the OpenAI route and through the stream
    o = post(guest, "/v1/completions", {"prompt": prompt, "max_tokens": 12, "temperature": 0}).json()
    assert o["choices"][0]["text"] == j["content"]
    r = post(guest, "/completion", {"prompt": prompt, "n_predict": 12, "temperature": 0, "ignore_eos": True,
                                    "stream": True}, stream=True)
    ev = apiboot.sse_json(r)
    assert [t for e in ev for t in e["tokens"]] == want


# ---- the openai SDK ----

def test_chat_uses_smollm2_template(guest, model_path):
    """The toolchain's CLLM_CHAT_* strings reach the kernel: /apply-template equals jinja2 on SmolLM2's template
    (which adds its default system message when there is none)."""
    import gguf
    import jinja2
    tpl = gguf.GGUFReader(model_path).fields["tokenizer.chat_template"].contents()
    assert requests.get(guest.url + "/props", timeout=10).json()["chat_template"] == tpl
    for msgs in ([{"role": "user", "content": "Hi"}],
                 [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]):
        want = jinja2.Environment().from_string(tpl).render(messages=msgs, add_generation_prompt=True)
        assert post(guest, "/apply-template", {"messages": msgs}).json()["prompt"] == want


def test_openai_models(client):
    ms = client.models.list()
    assert [m.id for m in ms.data] == [ALIAS]


def test_openai_chat(client):
    c = client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "What is 2 + 2?"}],
                                       max_tokens=6, temperature=0)
    assert c.id.startswith("chatcmpl-") and c.object == "chat.completion" and c.model == ALIAS
    ch = c.choices[0]
    assert ch.message.role == "assistant" and isinstance(ch.message.content, str) and ch.message.content
    assert ch.finish_reason in ("stop", "length")
    assert c.usage.prompt_tokens > 5 and 0 < c.usage.completion_tokens <= 6
    assert c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens
    # max_completion_tokens is honoured too
    c2 = client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "What is 2 + 2?"}],
                                        max_completion_tokens=3, temperature=0)
    assert c2.usage.completion_tokens <= 3 and ch.message.content.startswith(c2.choices[0].message.content)


def test_openai_chat_stream(client):
    kw = dict(model=ALIAS, messages=[{"role": "system", "content": "You are terse."},
                                     {"role": "user", "content": "Name a colour."}], max_tokens=6, temperature=0)
    full = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(**kw, stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == full.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    fins = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert fins == [full.choices[0].finish_reason]


def test_openai_chat_logprobs(client):
    c = client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Say yes."}],
                                       max_tokens=3, temperature=0, logprobs=True, top_logprobs=2)
    lp = c.choices[0].logprobs.content
    assert len(lp) == c.usage.completion_tokens and all(len(x.top_logprobs) == 2 for x in lp)
    assert "".join(x.token for x in lp) == c.choices[0].message.content


def test_openai_completions(client):
    c = client.completions.create(model=ALIAS, prompt="The capital of France is", max_tokens=5, temperature=0)
    assert c.object == "text_completion" and c.id.startswith("cmpl-")
    assert isinstance(c.choices[0].text, str) and c.usage.completion_tokens <= 5
    s = list(client.completions.create(model=ALIAS, prompt="The capital of France is", max_tokens=5,
                                       temperature=0, stream=True))
    assert "".join(x.choices[0].text for x in s if x.choices) == c.choices[0].text
    assert s[-1].choices[0].finish_reason == c.choices[0].finish_reason


def test_openai_errors(client):
    import openai
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=ALIAS, prompt="x", max_tokens=2, n=2)
    assert e.value.status_code == 400 and "n = 1" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "x"}], temperature=-1)
    assert "temperature" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=ALIAS, messages=[], max_tokens=1)
    with pytest.raises(openai.NotFoundError):
        client.post("/no-such-route", cast_to=object, body={})


def test_openai_embeddings(client):
    e = client.embeddings.create(model=ALIAS, input="hello there", encoding_format="float")
    v = e.data[0].embedding
    assert len(v) == 576 and abs(sum(x * x for x in v) - 1) < 1e-4
    assert e.usage.prompt_tokens > 0
    # the SDK's default asks for base64 and decodes it: the same floats
    b = client.embeddings.create(model=ALIAS, input="hello there")
    assert b.data[0].embedding == pytest.approx(v, abs=1e-7)


# ---- serving while generating ----

def test_stream_events_spread_over_generation(guest):
    t0 = time.monotonic()
    r = post(guest, "/completion", {"prompt": "Once upon a time", "n_predict": 10, "temperature": 0,
                                    "ignore_eos": True, "stream": True}, stream=True)
    ev = apiboot.sse_events(r)
    times = [t - t0 for t, d in ev if not json.loads(d)["stop"]]
    assert len(times) >= 8
    total = ev[-1][0] - t0
    # tokens are flushed as produced: the first arrives early, the rest spread over the whole generation
    assert times[0] < 0.6 * total and times[-1] - times[0] > 0.4 * total, (times, total)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) < 0.5 * total


def token_seconds(g):
    """Seconds per generated token on this machine (KVM or TCG), from a short greedy request."""
    j = post(g, "/completion", {"prompt": "Hello", "n_predict": 3, "temperature": 0, "ignore_eos": True}).json()
    return j["timings"]["predicted_per_token_ms"] / 1000.0


def wait_metric(g, name, value, timeout=60):
    deadline = time.monotonic() + timeout
    while metrics(g)[name] != value:
        assert time.monotonic() < deadline, f"{name} never became {value}"
        time.sleep(0.05)


def test_health_tokenize_metrics_answer_during_generation(guest):
    tok_s = token_seconds(guest)
    n = int(min(400, max(24, 8 / tok_s)))             # about 8 s of generation, whatever the speed
    body = {"prompt": "Write a long story about a dragon.", "n_predict": n, "temperature": 0, "ignore_eos": True}
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        first = ex.submit(post, guest, "/completion", body)
        wait_metric(guest, "llamacpp:requests_processing", 1)
        second = ex.submit(post, guest, "/completion", {**body, "n_predict": 2})   # queued behind the first
        wait_metric(guest, "llamacpp:requests_deferred", 1)
        lat = []
        for _ in range(4):
            t = time.monotonic()
            assert requests.get(guest.url + "/health", timeout=5).status_code == 200
            assert post(guest, "/tokenize", {"content": "hi"}).status_code == 200
            lat.append(time.monotonic() - t)
        assert not first.done() and not second.done()
        assert first.result().status_code == 200 and second.result().status_code == 200
        assert first.result().json()["tokens_predicted"] == n
    print(f"\n/health + /tokenize during generation: max {max(lat) * 1000:.0f} ms ({tok_s * 1000:.0f} ms/token)")
    assert max(lat) < max(1.5, 4 * tok_s)          # each waits for at most the forward pass under way


def test_disconnect_mid_stream_frees_slot(guest):
    tok_s = token_seconds(guest)
    before = metrics(guest)["cllm_requests_cancelled_total"]
    s, got = apiboot.raw_request(guest.url, "/completion", {"prompt": "Tell me everything about the ocean.",
                                                            "n_predict": 480, "ignore_eos": True, "stream": True})
    while b"data: " not in got:
        got += s.recv(4096)
    s.close()                                        # gone after the first token
    t = time.monotonic()
    r = post(guest, "/completion", {"prompt": "Hi", "n_predict": 2, "temperature": 0})
    dt = time.monotonic() - t
    assert r.status_code == 200 and dt < 1.0 + 20 * tok_s, dt   # not after the other 479 tokens
    assert metrics(guest)["cllm_requests_cancelled_total"] == before + 1


def test_disconnect_while_waiting_for_a_whole_answer(guest):
    """A non-streaming client that gives up (closes) mid-generation frees the slot too."""
    tok_s = token_seconds(guest)
    before = metrics(guest)["cllm_requests_cancelled_total"]
    s, _ = apiboot.raw_request(guest.url, "/completion", {"prompt": "Count to one thousand.", "n_predict": 480,
                                                          "ignore_eos": True}, read_bytes=0)
    wait_metric(guest, "llamacpp:requests_processing", 1)
    s.close()
    wait_metric(guest, "llamacpp:requests_processing", 0, timeout=1.0 + 20 * tok_s)
    assert metrics(guest)["cllm_requests_cancelled_total"] == before + 1
