"""Chat templates of real models: llama.cpp's collection (vendor/llama.cpp/models/templates/*.jinja inside the
llama-cpp-python sdist that models/fetch.py downloads; read in place, not copied here). Every template either
derives, and then kernel/api/chat_template.c (host build, tests/host/chat/) renders random conversations exactly as
jinja2 renders the original, or stops with one line starting "chat template: " (never a traceback). A few outcomes
are pinned: families the kernel represents (Qwen2.5, Phi-3.5, DeepSeek R1, Granite, Mistral Small) and ones it
cannot, for the reason read off the template (Llama 3.1 always writes a system turn, Gemma trims contents)."""
import ctypes
import os
import re
import tarfile

import pytest

from cllm_build import chat_template as ct
from cllm_build.errors import CllmError
from test_chat_template_host import ROLE_ID, build_lib, random_conversations, reference, system_supported

BOS, EOS = "<s>", "</s>"


@pytest.fixture(scope="module")
def templates():
    import fetch
    out = {}
    with tarfile.open(fetch.llama_cpp_sdist_path()) as t:
        for m in t.getmembers():
            if m.isfile() and "/vendor/llama.cpp/models/templates/" in m.name and m.name.endswith(".jinja"):
                with t.extractfile(m) as f:
                    out[os.path.basename(m.name)[:-6]] = f.read().decode("utf-8")
    assert len(out) > 40
    return out


@pytest.fixture(scope="module")
def lib():
    return build_lib("/* strings given at run time */\n")


def render_with(lib, c, messages):
    strs = [c.prefix["system"], c.suffix["system"], c.prefix["user"], c.suffix["user"], c.prefix["assistant"],
            c.suffix["assistant"], c.generation_prompt, c.default_system, c.bos_text]
    arr = (ctypes.c_char_p * 9)(*[s.encode("utf-8") for s in strs])
    n = len(messages)
    raw = [m["content"].encode("utf-8") for m in messages]
    roles = (ctypes.c_int * n)(*[ROLE_ID[m["role"]] for m in messages])
    contents = (ctypes.c_char_p * n)(*raw)
    lens = (ctypes.c_int * n)(*[len(r) for r in raw])
    out = ctypes.create_string_buffer(1 << 18)
    rc = lib.h_chat_render_with(arr, int(c.add_bos), int(c.system_in_user), n, roles, contents, lens, out, len(out))
    assert rc >= 0, rc
    return out.raw[:rc].decode("utf-8")


def test_every_template_derives_or_fails_in_one_line(templates, lib):
    ok = []
    for name, src in sorted(templates.items()):
        try:
            c = ct.derive(src, BOS, EOS)
        except CllmError as e:
            msg = str(e)
            assert "\n" not in msg and msg.startswith("chat template: ") and len(msg) < 400, (name, msg)
            continue
        ok.append(name)
        # {% generation %} blocks (training markup) as always-true ifs, whitespace control kept
        plain = re.sub(r"\{%(-?)\s*generation\s*(-?)%\}", r"{%\1 if true \2%}", src)
        plain = re.sub(r"\{%(-?)\s*endgeneration\s*(-?)%\}", r"{%\1 endif \2%}", plain)
        ref = reference(plain, BOS, EOS)
        sys_ok = system_supported(ref)
        convs = [conv for conv in random_conversations(len(name), 25, sys_ok) if conv[-1]["role"] == "user"]
        for conv in convs:
            want = ref(conv)
            got = render_with(lib, c, conv)
            assert got == want, (name, conv, got, want)
            assert c.render(conv) == got
    print(f"\n{len(ok)} of {len(templates)} llama.cpp templates representable: {', '.join(ok)}")
    assert len(ok) >= 20


@pytest.mark.parametrize("name", ["Qwen-Qwen2.5-7B-Instruct", "microsoft-Phi-3.5-mini-instruct",
                                  "deepseek-ai-DeepSeek-R1-Distill-Llama-8B", "ibm-granite-granite-3.3-2B-Instruct",
                                  "mistralai-Ministral-3-14B-Reasoning-2512", "Qwen-Qwen3-0.6B"])
def test_known_representable(templates, name):
    c = ct.derive(templates[name], BOS, EOS)
    assert "checked against jinja2" in c.summary or "render differently" in c.summary


@pytest.mark.parametrize("name,reason", [
    ("meta-llama-Llama-3.1-8B-Instruct", "empty system turn"),
    ("google-gemma-2-2b-it", "content is trimmed"),
    ("mistralai-Mistral-Nemo-Instruct-2407", "system message is placed after the first user message"),
])
def test_known_unrepresentable(templates, name, reason):
    with pytest.raises(CllmError, match=reason):
        ct.derive(templates[name], BOS, EOS)
