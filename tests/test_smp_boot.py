"""SMP (kernel/arch/x86/smp.c, acpi.c, ap_boot.S) and the worker pool (kernel/llm/workers.c):
- the MADT parser against tables built here byte by byte from the ACPI 6.5 layout (5.2.12);
- the worker pool's own code on the host with pthreads as CPUs: every row of random jobs exactly once;
- the booted kernel with 2 vCPUs brings up the AP (serial log) and its greedy tokens equal both the 1-vCPU run's
  and the numpy reference's (tiny model under TCG and KVM; SmolLM2-135M under KVM);
- with 2 vCPUs the HTTP API answers /health and a greedy /completion with the same tokens as 1 vCPU, /metrics
  shows the forward pass's phase counters, and /health and /tokenize answer during a long generation.
How the jobs are split does not change any result: tests/test_llm_ops_simd.py runs every job split into small
chunks in reverse order on the host and compares bit for bit.
Speed is measured by `cllm bench` (docs/BENCHMARKS.md), never asserted here."""
import concurrent.futures
import ctypes
import json
import re
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from cllm_build.build import build
from cllm_build.config import load_config
from cllm_build.qemu import Guest, kernel_cmdline, kvm_usable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "reference"))
sys.path.insert(0, str(ROOT / "models"))
from llama_ref import LlamaRef  # noqa: E402

ACCELS = ["tcg", pytest.param("kvm", marks=pytest.mark.skipif(not kvm_usable(), reason="/dev/kvm not usable"))]
TIE_GAP = 0.25


# ---- MADT parser (host build) ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def acpi_lib(tmp_path_factory):
    so = tmp_path_factory.mktemp("acpi") / "libacpi.so"
    subprocess.run(["gcc", "-DCLLM_HOST", "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"),
                    "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(so),
                    str(ROOT / "kernel/arch/x86/acpi.c"), str(ROOT / "tests/host/shim.c"),
                    str(ROOT / "kernel/lib/fmt.c"), str(ROOT / "kernel/lib/math.c"), str(ROOT / "kernel/lib/parse.c")],
                   check=True)
    lib = ctypes.CDLL(str(so))
    lib.acpi_madt_parse.restype = ctypes.c_int
    lib.acpi_madt_parse.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint32), ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_uint32)]
    return lib


def madt(entries, lapic=0xFEE00000, fix_checksum=True, length_delta=0):
    """An MADT: 36-byte header (signature, length, revision, checksum, OEM fields), local APIC address, flags,
    then the interrupt controller structures."""
    body = struct.pack("<II", lapic, 1) + b"".join(entries)
    length = 36 + len(body)
    hdr = bytearray(b"APIC" + struct.pack("<I", length + length_delta) + bytes([5, 0]) + b"CLLMTS" + b"TESTMADT" +
                    struct.pack("<III", 1, 0x4C4C4D43, 1))
    t = bytearray(hdr + body)
    if fix_checksum:
        t[9] = (-sum(t)) & 0xFF
    return bytes(t)


def lapic_entry(uid, apic_id, flags):       # type 0, length 8
    return struct.pack("<BBBBI", 0, 8, uid, apic_id, flags)


def x2apic_entry(apic_id, flags, uid):      # type 9, length 16
    return struct.pack("<BBHIII", 9, 16, 0, apic_id, flags, uid)


def ioapic_entry():                          # type 1, length 12: not a processor
    return struct.pack("<BBBBII", 1, 12, 0, 0, 0xFEC00000, 0)


def parse(lib, table, max_ids=16):
    ids = (ctypes.c_uint32 * max_ids)()
    lapic = ctypes.c_uint32(0)
    n = lib.acpi_madt_parse(table, len(table), ids, max_ids, ctypes.byref(lapic))
    return n, list(ids[:max(0, min(n, max_ids))]), lapic.value


def test_madt_processors(acpi_lib):
    t = madt([lapic_entry(0, 0, 1), ioapic_entry(), lapic_entry(1, 2, 1), lapic_entry(2, 5, 0),  # disabled
              lapic_entry(3, 7, 2),                                                             # online capable
              x2apic_entry(300, 1, 9), x2apic_entry(2, 1, 10)])                                 # duplicate id 2
    n, ids, lapic = parse(acpi_lib, t)
    assert (n, ids, lapic) == (4, [0, 2, 7, 300], 0xFEE00000)


def test_madt_more_cpus_than_room(acpi_lib):
    t = madt([lapic_entry(i, i, 1) for i in range(10)])
    n, ids, _ = parse(acpi_lib, t, max_ids=4)
    assert n == 10 and ids == [0, 1, 2, 3]


@pytest.mark.parametrize("damage", ["checksum", "signature", "length", "entry_len0", "entry_overrun"])
def test_madt_malformed(acpi_lib, damage):
    good = madt([lapic_entry(0, 0, 1), lapic_entry(1, 1, 1)])
    if damage == "checksum":
        t = bytearray(good)
        t[9] ^= 1
    elif damage == "signature":
        t = bytearray(good)
        t[0:4] = b"APIX"
    elif damage == "length":
        t = madt([lapic_entry(0, 0, 1)], length_delta=64)
    elif damage == "entry_len0":
        t = madt([lapic_entry(0, 0, 1), b"\x00\x00\x00\x00"])
    else:
        t = madt([lapic_entry(0, 0, 1), b"\x00\x09\x00\x00"])
    assert parse(acpi_lib, bytes(t))[0] == -1


# ---- the worker pool with pthreads (host build of kernel/llm/workers.c) -------------------------------------

@pytest.fixture(scope="module")
def workers_bin(tmp_path_factory):
    exe = tmp_path_factory.mktemp("workers") / "workers_pthread"
    subprocess.run(["gcc", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-I" + str(ROOT / "tests/host/llm/stub"),
                    "-I" + str(ROOT / "kernel"), "-I" + str(ROOT / "tests/host/include"), "-o", str(exe),
                    str(ROOT / "tests/host/llm/workers_pthread.c"), str(ROOT / "kernel/llm/workers.c"), "-lpthread"],
                   check=True)
    return exe


@pytest.mark.parametrize("cpus", [1, 2, 3, 4])
def test_workers_run_every_row_once(workers_bin, cpus):
    """Random jobs (1..5000 rows, alignments 1..32) over 1-4 CPUs, some with a worker that sleeps inside its
    chunks: every row runs exactly once, on a CPU index below the count, before workers_run returns."""
    r = subprocess.run([str(workers_bin), str(cpus), "2000", str(cpus)], capture_output=True, text=True, timeout=300)
    print(r.stdout)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr


# ---- booted kernel -----------------------------------------------------------------------------------------

def boot_prompt(elf, accel, smp, prompt, n_predict, timeout):
    with Guest(elf, accel=accel, memory_mb=1024, smp=smp, append=kernel_cmdline(prompt, n_predict)) as g:
        code = g.wait_exit(timeout=timeout)
        log = g.serial_text()
    assert code == 0, log[-3000:]
    ids = {}
    for key in ("prompt tokens", "tokens"):
        m = re.search(rf"^llm: {key}:((?: \d+)*)\s*$", log, re.M)
        assert m, log[-3000:]
        ids[key] = [int(x) for x in m.group(1).split()]
    return ids["prompt tokens"], ids["tokens"], log


def assert_smp_log(log, n):
    m = re.search(r"smp: (\d+) CPUs? online", log)
    assert m and int(m.group(1)) == n, log[-3000:]
    for cpu in range(1, n):
        assert re.search(rf"smp: CPU {cpu} \(APIC \d+\) online after \d+ us", log), log[-3000:]
    assert re.search(rf"acpi: MADT at 0x[0-9a-f]+ \((RSDT|XSDT)\), local APIC 0xfee00000, {n} processor", log), \
        log[-3000:]


def reference_greedy(path, prompt_ids, n):
    ref = LlamaRef(path, act_quant=True, kv_f16=True)
    steps = []
    out = ref.generate_greedy(prompt_ids, n, steps=steps)
    top2 = np.sort(np.array(steps), axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() >= TIE_GAP, "the reference has a near-tie here: choose another prompt"
    return out


@pytest.mark.parametrize("accel", ACCELS)
def test_smp2_tokens_equal_smp1_tiny(main_build, tiny_gguf, accel):
    prompt, n = "print(\"hello\")", 12
    p1, one, log1 = boot_prompt(main_build.elf, accel, 1, prompt, n, timeout=180)
    p2, two, log2 = boot_prompt(main_build.elf, accel, 2, prompt, n, timeout=180)
    assert_smp_log(log1, 1)
    assert_smp_log(log2, 2)
    assert p1 == p2 and len(one) == n
    assert two == one
    assert one == reference_greedy(tiny_gguf, p1, n)


@pytest.fixture(scope="module")
def smollm2_build(tmp_path_factory):
    import fetch
    path = fetch.smollm2_path()
    return path, build(path, load_config(None, {"smp": 2}), str(tmp_path_factory.mktemp("smollm2") / "out"),
                       echo=lambda m: None)


@pytest.mark.skipif(not kvm_usable(), reason="/dev/kvm not usable")
def test_smp2_tokens_equal_smp1_smollm2_kvm(smollm2_build):
    path, b = smollm2_build
    prompt, n = "1, 2, 3, 4,", 24
    p1, one, _ = boot_prompt(b.elf, "kvm", 1, prompt, n, timeout=600)
    p2, two, log2 = boot_prompt(b.elf, "kvm", 2, prompt, n, timeout=600)
    assert_smp_log(log2, 2)
    assert p1 == p2 and len(one) == n
    assert two == one
    assert one == reference_greedy(path, p1, n)


def _metrics(url):
    """/metrics as {series: value} (Prometheus text: 'name{labels} value' per line, '#' comments)"""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as m:
        return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in m.read().decode().splitlines()
                                         if line and not line.startswith("#"))}


def _post(url, body, timeout=300):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read())


@pytest.mark.skipif(not kvm_usable(), reason="/dev/kvm not usable")
def test_smp2_api_serves_health_and_completion_kvm(smollm2_build):
    path, b = smollm2_build
    prompt, n = "1, 2, 3, 4,", 16
    p_ids, ref_tokens, _ = boot_prompt(b.elf, "kvm", 1, prompt, n, timeout=600)
    with Guest(b.elf, accel="kvm", memory_mb=1024, smp=2) as g:
        g.wait_for_serial(r"listening, \d+ us from kernel entry", timeout=60)
        deadline_ok = False
        for _ in range(600):
            try:
                with urllib.request.urlopen(g.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        deadline_ok = True
                        break
            except OSError:
                pass
            time.sleep(0.05)
        assert deadline_ok, g.serial_text()[-3000:]
        # the APs are started by the event loop once the kernel listens (arch/x86/smp.h): /health may say 200 just
        # before the last one is online
        g.wait_for_serial(r"smp: \d+ CPUs? online", timeout=30)
        assert_smp_log(g.serial_text(), 2)
        status, r = _post(g.url + "/completion", {"prompt": p_ids, "n_predict": n, "temperature": 0,
                                                  "return_tokens": True, "cache_prompt": False})
        assert status == 200
        assert r["tokens"] == ref_tokens
        assert r["timings"]["predicted_n"] == n
        with urllib.request.urlopen(g.url + "/health", timeout=5) as h:
            assert h.status == 200
        # the forward pass's phase counters (llm/prof.h) and both CPUs' busy time are exported
        vals = _metrics(g.url)
        assert vals["cllm_forward_tokens_total"] >= len(p_ids) + n - 1
        assert vals['cllm_forward_seconds_total{phase="product"}'] > 0
        assert vals['cllm_forward_seconds_total{phase="attn"}'] > 0
        assert 'cllm_worker_busy_seconds_total{cpu="1"}' in vals
        # the network is served while both CPUs compute: /health and /tokenize answer in the middle of a long
        # generation (about 3 s of it at the speed just measured), which then completes in full
        n_long = int(min(1500, max(64, 3 * r["timings"]["predicted_per_second"])))
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            long_gen = ex.submit(_post, g.url + "/completion", {"prompt": "Tell me a long story.", "n_predict": n_long,
                                                                "temperature": 0, "ignore_eos": True})
            for _ in range(400):
                if _metrics(g.url).get("llamacpp:requests_processing") == 1 or long_gen.done():
                    break
                time.sleep(0.005)
            answered = 0
            while not long_gen.done() and answered < 5:
                with urllib.request.urlopen(g.url + "/health", timeout=5) as h:
                    assert h.status == 200
                status, tk = _post(g.url + "/tokenize", {"content": "hello"}, timeout=5)
                assert status == 200 and len(tk["tokens"]) >= 1
                answered += not long_gen.done()     # counted only if the generation was still running after it
            print(f"\nn_long {n_long}: {answered} answers during the generation")
            assert answered >= 1, "the generation ended before the server answered anything else"
            status, lr = long_gen.result()
        assert status == 200 and lr["tokens_predicted"] == n_long
