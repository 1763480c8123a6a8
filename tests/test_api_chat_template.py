"""The kernel's chat-template renderer (kernel/api/chat_template.c, built for the host) against jinja2 rendering the
original Jinja templates of the common families (ChatML and SmolLM2's own, Llama 2, Llama 3, Mistral, Gemma,
Phi-3) for multi-turn conversations with and without a system message. The prefix/suffix strings given to the C
side here are what the toolchain is to derive from a GGUF's template (CLLM_CHAT_* defines)."""
import ctypes
import hashlib
import subprocess
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "tests" / ".build" / "api"
SRCS = ["tests/host/api/chat_host.c", "kernel/api/chat_template.c", "tests/host/shim.c", "kernel/lib/fmt.c",
        "kernel/lib/math.c", "kernel/lib/parse.c"]
ROLES = {"system": 0, "user": 1, "assistant": 2}


@pytest.fixture(scope="module")
def lib():
    flags = ["-DCLLM_HOST", "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"), "-O2", "-g",
             "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-shared", "-fPIC"]
    h = hashlib.sha256(" ".join(flags).encode())
    for s in SRCS + ["kernel/api/chat_template.h", "kernel/api/sbuf.h"]:
        h.update((ROOT / s).read_bytes())
    out = BUILD / f"libchat-{h.hexdigest()[:16]}.so"
    if not out.exists():
        BUILD.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        subprocess.run(["gcc", *flags, "-o", str(tmp), *[str(ROOT / s) for s in SRCS], "-lm"], check=True)
        tmp.replace(out)
    return ctypes.CDLL(str(out))


def render_c(lib, strs, add_bos, system_in_user, messages, add_gen=True):
    arr = (ctypes.c_char_p * 9)(*[s.encode() for s in strs])
    n = len(messages)
    roles = (ctypes.c_int * max(n, 1))(*[ROLES[m["role"]] for m in messages])
    contents = (ctypes.c_char_p * max(n, 1))(*[m["content"].encode() for m in messages])
    buf = ctypes.create_string_buffer(1 << 16)
    rc = lib.h_chat_render(arr, add_bos, system_in_user, n, roles, contents, int(add_gen), buf, len(buf))
    assert rc >= 0, rc
    return buf.raw[:rc].decode()


CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi there"}],
    [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
     {"role": "user", "content": "And 3+3?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."},
     {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "Another one?"}],
]
NO_SYSTEM = [c for c in CONVERSATIONS if c[0]["role"] != "system"]

CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA2 = ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
          "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
          "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
          "{% if loop.index0 == 0 and system_message != false %}"
          "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
          "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
          "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
          "{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}")
LLAMA3 = ("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
          "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
MISTRAL = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
           "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
           "{{ message['content'] + eos_token }}{% endif %}{% endfor %}")
GEMMA = ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
         "{% set first_user_prefix = messages[0]['content'] + '\\n\\n' %}{% set loop_messages = messages[1:] %}"
         "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
         "{% for message in loop_messages %}{% set role = 'model' if message['role'] == 'assistant' "
         "else message['role'] %}{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') + "
         "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
         "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}")
PHI3 = ("{% for message in messages %}{% if message['role'] == 'system' %}"
        "{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' %}"
        "{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'assistant' %}"
        "{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}")

# (name, jinja, bos, eos, the nine strings, add_bos, system_in_user, conversations)
FAMILIES = [
    ("chatml", CHATML, "", "",
     ["<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n", "<|im_start|>assistant\n",
      "<|im_end|>\n", "<|im_start|>assistant\n", "", ""], 0, 0, CONVERSATIONS),
    ("llama2", LLAMA2, "<s>", "</s>",
     ["<<SYS>>\n", "\n<</SYS>>\n\n", "<s>[INST] ", " [/INST]", " ", " </s>", "", "", "<s>"], 0, 1, CONVERSATIONS),
    ("llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>",
     ["<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
      "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
      "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>",
      "<|start_header_id|>assistant<|end_header_id|>\n\n", "", "<|begin_of_text|>"], 1, 0, CONVERSATIONS),
    ("mistral", MISTRAL, "<s>", "</s>",
     ["", "", "[INST] ", " [/INST]", "", "</s>", "", "", "<s>"], 1, 0, NO_SYSTEM),
    ("gemma", GEMMA, "<bos>", "<eos>",
     ["", "\n\n", "<start_of_turn>user\n", "<end_of_turn>\n", "<start_of_turn>model\n", "<end_of_turn>\n",
      "<start_of_turn>model\n", "", "<bos>"], 1, 1, CONVERSATIONS),
    ("phi3", PHI3, "<s>", "<|endoftext|>",
     ["<|system|>\n", "<|end|>\n", "<|user|>\n", "<|end|>\n", "<|assistant|>\n", "<|end|>\n", "<|assistant|>\n",
      "", ""], 0, 0, CONVERSATIONS),
]


@pytest.mark.parametrize("fam", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_family_equals_jinja(lib, fam):
    name, tpl, bos, eos, strs, add_bos, fold, convs = fam
    j = jinja2.Environment().from_string(tpl)
    for conv in convs:
        want = j.render(messages=conv, add_generation_prompt=True, bos_token=bos, eos_token=eos)
        assert render_c(lib, strs, add_bos, fold, conv) == want, (name, conv)


def test_defaults_are_chatml(lib):
    strs = (ctypes.c_char_p * 9)()
    flags = (ctypes.c_int * 2)()
    lib.h_chat_defaults(strs, flags)
    got = [s.decode() for s in strs]
    assert got == FAMILIES[0][4] and list(flags) == [0, 0]


def test_smollm2_template(lib):
    """SmolLM2's own template (from its GGUF) adds a default system message when there is none."""
    import gguf
    import fetch
    r = gguf.GGUFReader(fetch.smollm2_path())
    tpl = r.fields["tokenizer.chat_template"].contents()
    j = jinja2.Environment().from_string(tpl)
    default_sys = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    strs = list(FAMILIES[0][4])
    strs[7] = default_sys
    for conv in CONVERSATIONS:
        want = j.render(messages=conv, add_generation_prompt=True)
        assert render_c(lib, strs, 0, 0, conv) == want


def test_system_must_come_first(lib):
    strs = FAMILIES[0][4]
    arr = (ctypes.c_char_p * 9)(*[s.encode() for s in strs])
    roles = (ctypes.c_int * 2)(1, 0)
    contents = (ctypes.c_char_p * 2)(b"u", b"s")
    buf = ctypes.create_string_buffer(256)
    assert lib.h_chat_render(arr, 0, 0, 2, roles, contents, 1, buf, 256) == -1
