"""Chat templates through `cllm build`: tiny models (models/make_tiny.py) carrying each template family build, the
build says which template it uses, and the generated cllm_config.h holds the family's strings as C literals (the
expected lines are written out here by hand from the families' formats) that compile with the kernel's flags; a
model without a template gets ChatML; a template the kernel cannot represent stops the build with exit status 1
and one line. A minimal kernel (conftest.write_mini_kernel) plus a C file using every CLLM_CHAT_* define keeps
these fast; the real kernel is built with SmolLM2's template in tests/test_chat_template_boot.py."""
from pathlib import Path

import gguf
import pytest

from conftest import write_mini_kernel

DATA = Path(__file__).resolve().parent / "data" / "chat_templates"

USES_DEFINES_C = r"""/* every chat define, compiled with the kernel's flags */
#include "cllm_config.h"
const char *const mini_chat_strings[] = {
    CLLM_CHAT_SYSTEM_PREFIX, CLLM_CHAT_SYSTEM_SUFFIX, CLLM_CHAT_USER_PREFIX, CLLM_CHAT_USER_SUFFIX,
    CLLM_CHAT_ASSISTANT_PREFIX, CLLM_CHAT_ASSISTANT_SUFFIX, CLLM_CHAT_GENERATION_PROMPT, CLLM_CHAT_DEFAULT_SYSTEM,
    CLLM_CHAT_TEMPLATE,
};
const int mini_chat_flags[] = { CLLM_CHAT_ADD_BOS, CLLM_CHAT_SYSTEM_IN_USER };
"""

# family -> lines cllm_config.h must contain (C source text, escapes written out by hand)
EXPECT = {
    "llama3": ['#define CLLM_CHAT_USER_PREFIX "<|start_header_id|>user<|end_header_id|>\\n\\n"',
               '#define CLLM_CHAT_USER_SUFFIX "<|eot_id|>"',
               '#define CLLM_CHAT_GENERATION_PROMPT "<|start_header_id|>assistant<|end_header_id|>\\n\\n"',
               "#define CLLM_CHAT_ADD_BOS 1", "#define CLLM_CHAT_SYSTEM_IN_USER 0"],
    "gemma": ['#define CLLM_CHAT_USER_PREFIX "<start_of_turn>user\\n"',
              '#define CLLM_CHAT_ASSISTANT_PREFIX "<start_of_turn>model\\n"',
              '#define CLLM_CHAT_SYSTEM_SUFFIX "\\n\\n"',
              "#define CLLM_CHAT_SYSTEM_IN_USER 1"],
    "llama2": ['#define CLLM_CHAT_SYSTEM_PREFIX "<<SYS>>\\n"', '#define CLLM_CHAT_USER_PREFIX "<|im_start|>[INST] "',
               '#define CLLM_CHAT_USER_SUFFIX " [/INST]"', '#define CLLM_CHAT_ASSISTANT_SUFFIX " <|im_end|>"',
               "#define CLLM_CHAT_ADD_BOS 0", "#define CLLM_CHAT_SYSTEM_IN_USER 1"],
    "phi3": ['#define CLLM_CHAT_USER_PREFIX "<|user|>\\n"', '#define CLLM_CHAT_ASSISTANT_SUFFIX "<|end|>\\n"',
             '#define CLLM_CHAT_GENERATION_PROMPT "<|assistant|>\\n"'],
    "mistral": ['#define CLLM_CHAT_USER_PREFIX "[INST] "', '#define CLLM_CHAT_ASSISTANT_SUFFIX "<|im_end|>"',
                '#define CLLM_CHAT_GENERATION_PROMPT ""', "#define CLLM_CHAT_ADD_BOS 1"],
    "escapes": ['#define CLLM_CHAT_USER_PREFIX "<\\357\\275\\234User\\357\\275\\234>"',
                '#define CLLM_CHAT_SYSTEM_PREFIX "\\302\\253sys\\302\\273 \\"rules\\" \\\\ \\077\\077= "'],
    "chatml": ['#define CLLM_CHAT_USER_PREFIX "<|im_start|>user\\n"', '#define CLLM_CHAT_USER_SUFFIX "<|im_end|>\\n"'],
}
# make_tiny's vocabulary: BOS is token 1 "<|im_start|>", EOS token 2 "<|im_end|>" (what bos_token/eos_token render)


@pytest.fixture(scope="module")
def kdir(tmp_path_factory):
    d = write_mini_kernel(tmp_path_factory.mktemp("chatk") / "kernel")
    (Path(d) / "core" / "chat_uses.c").write_text(USES_DEFINES_C)
    return d


def tiny_with_template(path, template, monkeypatch):
    import make_tiny
    with monkeypatch.context() as m:
        if template is None:
            m.setattr(gguf.GGUFWriter, "add_chat_template", lambda self, value: None)
        else:
            m.setattr(make_tiny, "CHATML", template)
        make_tiny.make_tiny(str(path), qtype="q8_0", n_layer=1)
    return path


def build(cli, tmp_path, kdir, model):
    return cli(["build", "--model", model, "--out", tmp_path / "out", "--kernel-dir", kdir, "--n-ctx", "256"])


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_family_builds_with_its_strings(cli, tmp_path, kdir, monkeypatch, name):
    model = tiny_with_template(tmp_path / f"{name}.gguf", (DATA / f"{name}.jinja").read_text(encoding="utf-8"),
                               monkeypatch)
    r = build(cli, tmp_path, kdir, model)
    assert r.exit_code == 0, r.output
    line = [ln for ln in r.output.splitlines() if ln.startswith("chat template: ")]
    assert len(line) == 1 and line[0].startswith("chat template: from the GGUF"), r.output
    header = (tmp_path / "out" / "gen" / "cllm_config.h").read_text(encoding="utf-8")
    lines = header.splitlines()
    for want in EXPECT[name]:
        assert any(ln == want or ln.startswith(want + " /* ") for ln in lines), (want, header)
    assert (tmp_path / "out" / "cllm.elf").exists()


def test_no_template_gets_chatml(cli, tmp_path, kdir, monkeypatch):
    model = tiny_with_template(tmp_path / "none.gguf", None, monkeypatch)
    assert "tokenizer.chat_template" not in gguf.GGUFReader(str(model)).fields
    r = build(cli, tmp_path, kdir, model)
    assert r.exit_code == 0, r.output
    assert "chat template: ChatML (the model has no tokenizer.chat_template)" in r.output.splitlines()
    header = (tmp_path / "out" / "gen" / "cllm_config.h").read_text(encoding="utf-8")
    for want in EXPECT["chatml"] + ['#define CLLM_CHAT_GENERATION_PROMPT "<|im_start|>assistant\\n"',
                                    '#define CLLM_CHAT_DEFAULT_SYSTEM ""']:
        assert any(ln == want or ln.startswith(want + " /* ") for ln in header.splitlines()), (want, header)


@pytest.mark.parametrize("name", sorted(p.stem for p in DATA.glob("bad_*.jinja")))
def test_unrepresentable_template_stops_the_build(cli, tmp_path, kdir, monkeypatch, name):
    source = (DATA / f"{name}.jinja").read_text(encoding="utf-8")
    expect = source.split("{# expect:", 1)[1].split("#}", 1)[0].strip()
    model = tiny_with_template(tmp_path / f"{name}.gguf", source, monkeypatch)
    r = build(cli, tmp_path, kdir, model)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cllm: error: chat template: ") and expect in lines[0], r.output
    assert not (tmp_path / "out" / "cllm.elf").exists()
