"""Chat templates, host side: cllm_build/chat_template.py derives the kernel's representation from Jinja templates
(SmolLM2's own from its GGUF, and the synthetic families in tests/data/chat_templates/), emits it as CLLM_CHAT_*
literals, and kernel/api/chat_template.c compiled for the host with exactly those literals (tests/host/chat/) must
render every conversation as jinja2 renders the original template. The reference is a jinja2 environment set up
here (sandboxed, trim_blocks/lstrip_blocks as chat front ends use), independent of the module's own renderer.
Templates the kernel cannot represent must fail with one line that says why."""
import ctypes
import datetime
import hashlib
import json
import random
import subprocess
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.sandbox
import pytest

from cllm_build import chat_template as ct
from cllm_build.errors import CllmError
from cllm_build.render import _env as render_env

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "chat_templates"
BUILD = ROOT / "tests" / ".build" / "chat"
SRCS = ["tests/host/chat/chat_render.c", "kernel/api/chat_template.c", "tests/host/shim.c", "kernel/lib/fmt.c",
        "kernel/lib/math.c", "kernel/lib/parse.c"]
DEPS = ["kernel/api/chat_template.h", "kernel/api/sbuf.h", "kernel/core/limits.h", "templates/config.h.j2"]
ROLE_ID = {"system": 0, "user": 1, "assistant": 2}
BOS, EOS = "<s>", "</s>"
GOOD = ["chatml", "llama2", "llama3", "mistral", "gemma", "phi3", "qwen2", "escapes"]
BAD = sorted(p.stem for p in DATA.glob("bad_*.jinja"))


def reference(source, bos=BOS, eos=EOS):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    env.filters["tojson"] = lambda x, indent=None, **kw: json.dumps(x, ensure_ascii=False, indent=indent)
    tpl = env.from_string(source)
    return lambda msgs, agp=True: tpl.render(messages=msgs, add_generation_prompt=agp, bos_token=bos, eos_token=eos)


def header_text(defines):
    """cllm_config.h as the build writes it (templates/config.h.j2), holding only these defines."""
    return render_env().get_template("config.h.j2").render(defines=defines)


def build_lib(header):
    flags = ["-DCLLM_HOST", "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"), "-O2", "-g",
             "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-shared", "-fPIC"]
    h = hashlib.sha256(" ".join(flags).encode() + header.encode())
    for s in SRCS + DEPS:
        h.update((ROOT / s).read_bytes())
    key = h.hexdigest()[:16]
    out = BUILD / f"libchat-{key}.so"
    if not out.exists():
        BUILD.mkdir(parents=True, exist_ok=True)
        hdr = BUILD / f"chat-{key}.h"
        hdr.write_text(header, encoding="utf-8")
        tmp = out.with_suffix(".tmp")
        subprocess.run(["gcc", *flags, "-include", str(hdr), "-o", str(tmp), *[str(ROOT / s) for s in SRCS], "-lm"],
                       check=True)
        tmp.replace(out)
    lib = ctypes.CDLL(str(out))
    lib.h_chat_string.restype = ctypes.c_char_p
    lib.h_chat_jinja.restype = ctypes.c_char_p
    return lib


def render_c(lib, messages, bos=BOS, agp=True):
    n = len(messages)
    raw = [m["content"].encode("utf-8") for m in messages]
    roles = (ctypes.c_int * max(n, 1))(*[ROLE_ID[m["role"]] for m in messages])
    bufs = [ctypes.create_string_buffer(r, len(r) + 1) for r in raw]
    contents = (ctypes.c_char_p * max(n, 1))(*[ctypes.cast(b, ctypes.c_char_p) for b in bufs])
    lens = (ctypes.c_int * max(n, 1))(*[len(r) for r in raw])
    out = ctypes.create_string_buffer(1 << 18)
    rc = lib.h_chat_render(bos.encode(), n, roles, contents, lens, int(agp), out, len(out))
    assert rc >= 0, rc
    return out.raw[:rc].decode("utf-8")


POOL = ["Hello!", "What is 2+2?", "4", "line one\nline two\n", "\n\nleading newlines", "{{ bos_token }}{% endfor %}",
        "<|im_end|><|eot_id|>[/INST]</s><end_of_turn>", "quotes \" and backslashes \\ and ??= ??/ ??'",
        "caf\u00e9 na\u00efve \u2603 \u65e5\u672c\u8a9e \U0001f600", "tab\there", "a" * 500, "x", "Be concise.",
        "You are a pirate.\nSpeak like one."]


def random_conversations(seed, n, with_system):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        turns = rng.randrange(1, 10) | 1          # odd: ends with a user message, as chat requests do
        if rng.random() < 0.25:
            turns += 1                             # or with an assistant message (continuation)
        conv = [{"role": "user" if i % 2 == 0 else "assistant", "content": rng.choice(POOL)} for i in range(turns)]
        if with_system and rng.random() < 0.5:
            conv.insert(0, {"role": "system", "content": rng.choice(POOL)})
        out.append(conv)
    return out


FIXED = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"}],
    [{"role": "system", "content": "You are\na pirate."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Arr."}, {"role": "user", "content": "More\n\nplease"},
     {"role": "assistant", "content": "{{ 'no' }}"}, {"role": "user", "content": "<|im_start|>x"}],
]


def system_supported(ref):
    try:
        ref([{"role": "system", "content": "QZS"}, {"role": "user", "content": "u"}])
        return "QZS" in ref([{"role": "system", "content": "QZS"}, {"role": "user", "content": "u"}])
    except jinja2.exceptions.TemplateError:
        return False


def check_template(source, bos, eos, chat):
    ref = reference(source, bos, eos)
    lib = build_lib(header_text(chat.defines()))
    # the literals decode to the derived strings
    strs = [lib.h_chat_string(i).decode() for i in range(8)]
    want = [chat.prefix["system"], chat.suffix["system"], chat.prefix["user"], chat.suffix["user"],
            chat.prefix["assistant"], chat.suffix["assistant"], chat.generation_prompt, chat.default_system]
    assert strs == want
    assert [lib.h_chat_flag(0), lib.h_chat_flag(1)] == [int(chat.add_bos), int(chat.system_in_user)]
    assert lib.h_chat_jinja().decode() == source
    sys_ok = system_supported(ref)
    convs = [c for c in FIXED if sys_ok or c[0]["role"] != "system"] + random_conversations(len(source), 60, sys_ok)
    for conv in convs:
        want = ref(conv)
        got = render_c(lib, conv, bos)
        assert got == want, (conv, got, want)
        assert chat.render(conv) == got
    return len(convs)


@pytest.mark.parametrize("name", GOOD)
def test_family_kernel_equals_jinja(name):
    source = (DATA / f"{name}.jinja").read_text(encoding="utf-8")
    chat = ct.derive(source, BOS, EOS)
    assert check_template(source, BOS, EOS, chat) > 40


def test_smollm2_kernel_equals_jinja():
    import fetch
    chat = ct.for_model(fetch.smollm2_path())
    import gguf
    r = gguf.GGUFReader(fetch.smollm2_path())
    source = r.fields["tokenizer.chat_template"].contents()
    toks = r.fields["tokenizer.ggml.tokens"]
    bos = toks.contents(r.fields["tokenizer.ggml.bos_token_id"].contents())
    eos = toks.contents(r.fields["tokenizer.ggml.eos_token_id"].contents())
    assert chat.default_system and "SmolLM" in chat.default_system   # its template adds one when there is none
    check_template(source, bos, eos, chat)


def test_family_strings():
    """The derived strings are the families' published formats (written out here by hand)."""
    want = {
        "llama2": (dict(system=("<<SYS>>\n", "\n<</SYS>>\n\n"), user=("<s>[INST] ", " [/INST]"),
                        assistant=(" ", " </s>")), "", False, True),
        "llama3": (dict(system=("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>"),
                        user=("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
                        assistant=("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>")),
                   "<|start_header_id|>assistant<|end_header_id|>\n\n", True, False),
        "gemma": (dict(system=("", "\n\n"), user=("<start_of_turn>user\n", "<end_of_turn>\n"),
                       assistant=("<start_of_turn>model\n", "<end_of_turn>\n")), "<start_of_turn>model\n", True, True),
        "phi3": (dict(system=("<|system|>\n", "<|end|>\n"), user=("<|user|>\n", "<|end|>\n"),
                      assistant=("<|assistant|>\n", "<|end|>\n")), "<|assistant|>\n", False, False),
        "mistral": (dict(system=("", "\n\n"), user=("[INST] ", " [/INST]"), assistant=("", "</s>")), "", True, True),
    }
    for name, (roles, gen, add_bos, fold) in want.items():
        c = ct.derive((DATA / f"{name}.jinja").read_text(encoding="utf-8"), BOS, EOS)
        assert {r: (c.prefix[r], c.suffix[r]) for r in roles} == roles, name
        assert (c.generation_prompt, c.add_bos, c.system_in_user, c.default_system) == (gen, add_bos, fold, ""), name


def test_no_template_is_chatml():
    c = ct.for_metadata({"tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.bos_token_id": 0})
    assert "ChatML" in c.summary
    # without defines the kernel uses its own ChatML defaults: the same strings
    lib = build_lib("/* no chat defines */\n")
    assert [lib.h_chat_string(i).decode() for i in range(8)] == [
        c.prefix["system"], c.suffix["system"], c.prefix["user"], c.suffix["user"], c.prefix["assistant"],
        c.suffix["assistant"], c.generation_prompt, c.default_system]
    check_template(ct.CHATML_JINJA, "", "", c)


@pytest.mark.parametrize("name", BAD)
def test_unrepresentable_fails_with_one_line(name):
    source = (DATA / f"{name}.jinja").read_text(encoding="utf-8")
    expect = source.split("{# expect:", 1)[1].split("#}", 1)[0].strip()
    with pytest.raises(CllmError) as e:
        ct.derive(source, BOS, EOS)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("chat template: ") and expect in msg, msg


def test_template_rejecting_system_folds_it():
    """Mistral v0.1 style: system messages raise. The kernel folds them into the first user turn (said in the
    summary); conversations without one still equal jinja2's."""
    src = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
           "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
           "{{ message['content'] + eos_token }}{% else %}{{ raise_exception('Only user and assistant roles are "
           "supported!') }}{% endif %}{% endfor %}")
    c = ct.derive(src, BOS, EOS)
    assert c.system_in_user and "rejects system messages" in c.summary
    check_template(src, BOS, EOS, c)
    lib = build_lib(header_text(c.defines()))
    got = render_c(lib, [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert got == "<s>[INST] S\n\nU [/INST]"


def test_generation_tag():
    """`{% generation %}` blocks (training-mask markup some templates carry) render their body; the reference is the
    same template with the tags removed."""
    src = ("{% for message in messages %}{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}"
           "{% generation %}{{ message['content'] + '<|im_end|>\\n' }}{% endgeneration %}{% else %}"
           "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endif %}"
           "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    plain = src.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    c = ct.derive(src, BOS, EOS)
    assert c.fields() == ct.derive(plain, BOS, EOS).fields()
    ref = reference(plain)
    for conv in FIXED + random_conversations(1, 20, True):
        assert c.render(conv) == ref(conv)


def test_qwen2_default_system():
    c = ct.derive((DATA / "qwen2.jinja").read_text(encoding="utf-8"), BOS, EOS)
    assert c.default_system == "You are a helpful assistant." and not c.system_in_user


def test_c_literal_round_trip():
    """c_literal escapes any text so that gcc reads back exactly its UTF-8 bytes (long, split literals too)."""
    rng = random.Random(5)
    alphabet = [chr(c) for c in range(1, 128)] + ["\u00e9", "\u2603", "\U0001f600", "?", "?", "\\", "\"", "\n"]
    texts = ["", "??=", "??/", "a??'b", "\\0", "1\u00e91", "\x01" + "7", "\"" * 100, "x" * 5000,
             "".join(rng.choice(alphabet) for _ in range(3000))]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 200))) for _ in range(50)]
    src = ["#include <stddef.h>"]
    for i, t in enumerate(texts):
        src.append(f"#define LIT{i} {ct.c_literal(t)}")
        src.append(f"const char lit{i}[] = LIT{i};\nsize_t lit{i}_len = sizeof lit{i} - 1;")
    BUILD.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256("\n".join(src).encode()).hexdigest()[:16]
    c_path, so = BUILD / f"lit-{key}.c", BUILD / f"lit-{key}.so"
    c_path.write_text("\n".join(src) + "\n", encoding="utf-8")
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wtrigraphs", "-trigraphs", "-shared",
                    "-fPIC", "-o", str(so), str(c_path)], check=True)
    lib = ctypes.CDLL(str(so))
    for i, t in enumerate(texts):
        n = ctypes.c_size_t.in_dll(lib, f"lit{i}_len").value
        got = ctypes.string_at(ctypes.addressof(ctypes.c_char.in_dll(lib, f"lit{i}")), n)
        assert got == t.encode("utf-8"), (i, t)


def test_build_summary_is_one_line():
    for name in GOOD:
        c = ct.derive((DATA / f"{name}.jinja").read_text(encoding="utf-8"), BOS, EOS)
        assert "\n" not in c.summary and c.summary.startswith("from the GGUF"), c.summary
    assert json.dumps(c.fields())


def test_trailing_assistant_differences_are_noted_not_fatal():
    """A template that renders a conversation ending with an assistant message its own way (here: refuses it)
    still builds, the summary says so, and conversations ending with a user message still equal jinja2's through
    the C renderer. One that only omits the generation prompt after an assistant message is fully representable
    (the assistant prefix moves into the user suffix)."""
    refuse = ("{% for m in messages %}{{ '<u>' if m['role'] == 'user' else '<a>' }}{{ m['content'] }}{% endfor %}"
              "{% if messages[-1]['role'] != 'user' %}{{ raise_exception('last must be user') }}{% endif %}"
              "{% if add_generation_prompt %}<a>{% endif %}")
    no_gen = ("{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] + '<|end|>' }}{% endfor %}"
              "{% if add_generation_prompt and messages[-1]['role'] == 'user' %}{{ '<|assistant|>' }}{% endif %}")
    for src, how in ((refuse, "render differently (the template refuses them: last must be user)"),
                     (no_gen, "checked against jinja2")):
        c = ct.derive(src, BOS, EOS)
        assert how in c.summary, c.summary
        ref = reference(src)
        lib = build_lib(header_text(c.defines()))
        for conv in FIXED + random_conversations(7, 30, system_supported(ref)):
            if conv[-1]["role"] == "user" or src is no_gen:
                assert render_c(lib, conv) == ref(conv), conv
