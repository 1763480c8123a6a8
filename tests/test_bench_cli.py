"""`cllm bench` (cllm_build/bench.py) end to end on the tiny model: it builds, boots with 2 vCPUs, measures through
the HTTP API and prints the llama-bench style table, boot times and memory. The numbers themselves are
benchmarks (docs/BENCHMARKS.md), never asserted beyond being present and positive."""
import re

import pytest

from cllm_build.bench import _metric, format_results
from cllm_build.qemu import kvm_usable


def test_metric_parser_reads_prometheus_lines():
    text = "# HELP a x\n# TYPE a gauge\na 12\nb{x=\"1\"} 3.5e+06\nab 7\n"
    assert _metric(text, "a") == 12 and _metric(text, "b") == 3.5e6 and _metric(text, "c") is None


def test_format_has_ratio_with_llama():
    res = {"accel": "kvm", "smp": 2, "n_prompt": 512, "n_gen": 128, "pp": 100.0, "pp_wall": 90.0, "tg": 50.0,
           "tg_wall": 45.0, "boot_health_ms": 300.0, "kernel_listen_ms": 5.0, "heap_peak_bytes": 2 ** 20,
           "model_bytes": 2 ** 21, "qemu_rss_peak_bytes": 2 ** 22, "cpus_online": 2}
    out = format_results(res, "m.gguf", {"pp": 200.0, "tg": 25.0, "threads": 2, "version": "0.3.36"})
    assert "ratio cllm/llama.cpp: pp 0.50x, tg 2.00x" in out
    assert "| m.gguf | cllm KVM | 2 | pp512 | 100.0 | 90.0 |" in out


@pytest.mark.parametrize("accel", ["tcg", pytest.param("kvm", marks=pytest.mark.skipif(not kvm_usable(),
                                                                                        reason="/dev/kvm"))])
def test_cllm_bench_tiny(cli, tiny_gguf, tmp_path, accel):
    r = cli(["bench", "--model", tiny_gguf, "--out", str(tmp_path / "b"), "--smp", "2", "--accel", accel,
             "--reps", "1", "--n-prompt", "64", "--n-gen", "16"])
    assert r.exit_code == 0, r.output
    rows = re.findall(r"^\| tiny-q4_1\.gguf \| cllm (KVM|TCG) \| 2 \| (pp64|tg16) \| ([0-9.]+) \| ([0-9.]+) \|$",
                      r.output, re.M)
    assert [x[1] for x in rows] == ["pp64", "tg16"], r.output
    assert all(float(x[2]) > 0 and float(x[3]) > 0 for x in rows), r.output
    m = re.search(r"boot: QEMU start to /health 200 ([0-9.]+) ms; kernel entry to listening ([0-9.]+) ms", r.output)
    assert m and float(m.group(1)) > float(m.group(2)) > 0, r.output
    assert "CPUs online (serial log): 2" in r.output
    assert re.search(r"memory: guest heap peak [0-9.]+ MiB", r.output), r.output
