"""Chat templates through the booted kernel: the real kernel built by `cllm build` (the CLLM_CHAT_* strings derived
from the model's own template by cllm_build/chat_template.py) answers POST /apply-template with exactly what jinja2
renders from the original Jinja template: SmolLM2-135M-Instruct's template (default system message when there is
none), and a tiny model carrying a Llama 2 style template (BOS inside every user turn, system folded into the first
user turn; tests/data/chat_templates/llama2.jinja)."""
import sys
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.sandbox
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent / "host" / "api"))
import apiboot  # noqa: E402
from conftest import build_image  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "chat_templates"

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi there"}],
    [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"},
     {"role": "user", "content": "And 3+3?\nShow your work."}],
    [{"role": "system", "content": "Be brief.\nAnswer in English."}, {"role": "user", "content": "Name a colour."},
     {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "caf\u00e9 \u2603 {{ x }} \"q\" \\"},
     {"role": "assistant", "content": "<|im_end|> [/INST]"}, {"role": "user", "content": "One more?"}],
]


def reference(source, bos, eos):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    tpl = env.from_string(source)
    return lambda msgs: tpl.render(messages=msgs, add_generation_prompt=True, bos_token=bos, eos_token=eos)


def check_apply_template(g, ref):
    for conv in CONVERSATIONS:
        r = requests.post(g.url + "/apply-template", json={"messages": conv}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["prompt"] == ref(conv), conv


@pytest.fixture(scope="module")
def smollm2():
    import fetch
    import gguf
    path = fetch.smollm2_path()
    r = gguf.GGUFReader(path)
    toks = r.fields["tokenizer.ggml.tokens"]
    return (path, r.fields["tokenizer.chat_template"].contents(),
            toks.contents(r.fields["tokenizer.ggml.bos_token_id"].contents()),
            toks.contents(r.fields["tokenizer.ggml.eos_token_id"].contents()))


def test_smollm2_apply_template_equals_jinja(tmp_path, smollm2):
    path, source, bos, eos = smollm2
    res = build_image(tmp_path / "out", path, config={"n_ctx": 512})
    g = apiboot.boot(res.elf)
    try:
        check_apply_template(g, reference(source, bos, eos))
        # /props reports the model's own template text
        assert requests.get(g.url + "/props", timeout=30).json()["chat_template"] == source
    finally:
        g.shutdown()


def test_tiny_llama2_apply_template_equals_jinja(tmp_path, monkeypatch):
    import make_tiny
    source = (DATA / "llama2.jinja").read_text(encoding="utf-8")
    monkeypatch.setattr(make_tiny, "CHATML", source)
    model = make_tiny.make_tiny(str(tmp_path / "tiny-llama2.gguf"), qtype="q8_0")
    res = build_image(tmp_path / "out", model, config={"n_ctx": 256})
    g = apiboot.boot(res.elf)
    try:
        # make_tiny's vocabulary: BOS is "<|im_start|>" (id 1), EOS "<|im_end|>" (id 2)
        check_apply_template(g, reference(source, "<|im_start|>", "<|im_end|>"))
    finally:
        g.shutdown()
