"""cllm_build/model.py on good models: every weight type the kernel supports (models/make_tiny.py) and the real
SmolLM2-135M-Instruct Q4_1 are accepted, with hyper-parameters and tensor layout equal to what the reference
reader (gguf.GGUFReader) reads; the memory plan's KV cache follows the formula."""
import hashlib

import gguf
import pytest

from cllm_build.config import defaults
from cllm_build.model import SUPPORTED_TYPES, check_model, plan_memory
from make_tiny import TYPES, make_tiny


def reference_hparams(path):
    r = gguf.GGUFReader(path)
    f = {k: r.fields[k].contents() for k in r.fields}
    n_head = f["llama.attention.head_count"]
    return r, {"n_layer": f["llama.block_count"], "n_embd": f["llama.embedding_length"],
               "n_ff": f["llama.feed_forward_length"], "n_head": n_head,
               "n_head_kv": f.get("llama.attention.head_count_kv", n_head),
               "head_dim": f["llama.embedding_length"] // n_head, "n_ctx_train": f["llama.context_length"],
               "n_vocab": len(r.fields["tokenizer.ggml.tokens"].data)}


def test_supported_types_are_make_tiny_types():
    assert {t.name.lower() for t in SUPPORTED_TYPES} == set(TYPES)


@pytest.mark.parametrize("qtype", TYPES)
def test_every_supported_type_accepted(qtype, tmp_path):
    path = make_tiny(str(tmp_path / f"{qtype}.gguf"), qtype=qtype)
    info = check_model(path)
    r, hp = reference_hparams(path)
    assert info.hparams == hp
    assert [(t.name, t.type, t.offset, t.n_bytes) for t in info.tensors] == \
        [(t.name, t.tensor_type, t.data_offset, t.n_bytes) for t in r.tensors]
    assert info.sha256 == hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_smollm2_accepted():
    from fetch import smollm2_path
    path = smollm2_path()
    info = check_model(path)
    _, hp = reference_hparams(path)
    assert info.hparams == hp
    assert hp["n_layer"] == 30 and hp["n_embd"] == 576 and hp["n_head_kv"] == 3   # the published model card
    cfg = defaults()
    plan = plan_memory(info.hparams, cfg, info.file_size, 4 << 20)
    assert plan["kv_cache"] == 30 * 2048 * 3 * 64 * 2 * 2
    assert plan["fits"] and plan["total"] < 256 << 20
