"""`cllm bench`: build the kernel with a model, boot it in QEMU and report llama-bench style numbers:
boot time (QEMU start to /health 200 as seen from the host, and kernel entry to listening from the serial log),
prompt processing (pp512) and generation (tg128) tokens/s measured through the HTTP API (/completion's llama.cpp
`timings` plus the host's wall clock), and peak guest memory. With vs_llama_cpp the same model, prompt tokens and
thread count run through llama.cpp on the host (llama-cpp-python) and the ratio is printed.
Neighbours: build.py (the image), qemu.py (Guest), cli.py (the click shell). docs/BENCHMARKS.md has results."""
import json
import os
import re
import time
import urllib.error
import urllib.request

from .errors import CllmError
from .qemu import Guest, kernel_cmdline

# Text tokenized by the guest (/tokenize) and repeated until the prompt has n_prompt tokens; llama.cpp gets the
# same token ids, so both sides evaluate the identical prompt.
FILLER = ("The quick brown fox jumps over the lazy dog while the committee discusses the annual budget, the "
          "weather turns cold, and seventeen engineers debug a network stack in a basement laboratory. ")


def _http(url, body=None, timeout=600.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
        return r.status, raw


def _json(url, body=None, timeout=600.0):
    status, raw = _http(url, body, timeout)
    return json.loads(raw)


def wait_first_serial(serial_log, proc, t0, timeout=60.0):
    """Poll the serial log file (every millisecond) until the kernel's first byte ("cllm: booting", written at
    its entry); returns QEMU start to that byte in ms."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.path.getsize(serial_log) > 0:
                return (time.monotonic() - t0) * 1e3
        except OSError:
            pass
        if proc.poll() is not None:
            raise CllmError(f"QEMU exited (status {proc.returncode}) before the kernel wrote to the serial port")
        if time.monotonic() > deadline:
            raise CllmError(f"no serial output within {timeout:.0f} s")
        time.sleep(0.001)


def wait_health(url, proc, timeout=60.0):
    """Poll GET /health until 200. Raises when QEMU exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            # A fresh connection every 50 ms: QEMU's slirp accepts on the host side at once and forwards the SYN;
            # one that reaches the guest before it has its address is dropped and only retransmitted seconds
            # later, so waiting longer on one connection would measure TCP's back-off, not the boot.
            status, _ = _http(url + "/health", timeout=0.05)
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if proc.poll() is not None:
            raise CllmError(f"QEMU exited (status {proc.returncode}) before /health answered 200")
        if time.monotonic() > deadline:
            raise CllmError(f"/health did not answer 200 within {timeout:.0f} s")
        time.sleep(0.002)


# Boot milestones in the kernel's log (core/main.c, arch/x86/smp.c, api/): name -> (regex, scale to ms)
BOOT_MARKS = {
    "boot_s_ms": (r"boot: loader hand-off to kmain (\d+) us", 1e-3),
    "kernel_init_ms": (r"cllm: initialised in (\d+) us from kernel entry", 1e-3),
    "kernel_listen_ms": (r"listening, (\d+) us from kernel entry", 1e-3),
    "model_ready_ms": (r"api: model ready in (\d+) ms", 1.0),
}


# The kernel's per-step boot profile (core/main.c kmain_log_steps): "boot: steps (...): serial=317 vga=93 ..."
BOOT_STEPS = re.compile(r"boot: steps \([^)]*\):((?: [\w+.-]+=\d+)+)")


def boot_steps(log):
    """[(step, microseconds)] from the kernel's boot profile line, in boot order; [] when it is missing."""
    m = BOOT_STEPS.search(log)
    if not m:
        return []
    return [(name, int(us)) for name, us in (w.split("=") for w in m.group(1).split())]


def boot_marks(log):
    """The boot milestones found in a serial log (missing ones are None)."""
    out = {}
    for name, (rx, scale) in BOOT_MARKS.items():
        m = re.search(rx, log)
        out[name] = int(m.group(1)) * scale if m else None
    return out


def prompt_tokens(url, n):
    """n token ids of FILLER text, tokenized by the guest's own tokenizer (no special tokens)."""
    toks = []
    while len(toks) < n:
        r = _json(url + "/tokenize", {"content": FILLER * 8, "add_special": False})
        got = [t if isinstance(t, int) else t["id"] for t in r["tokens"]]
        if not got:
            raise CllmError("/tokenize returned no tokens")
        toks += got
    return toks[:n]


def _vm_hwm_bytes(pid):
    """Peak resident set of the QEMU process (guest pages it touched plus QEMU itself), from /proc."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _metric(text, name):
    m = re.search(r"^" + re.escape(name) + r"(?:\{[^}]*\})? ([0-9.eE+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def bench_guest(elf, *, smp=1, accel="auto", memory_mb=1024, n_prompt=512, n_gen=128, reps=2, simd=None,
                echo=print):
    """Boot elf and measure. Returns a dict of results (see format_results)."""
    res = {"smp": smp, "n_prompt": n_prompt, "n_gen": n_gen}
    guest = Guest(elf, accel=accel, memory_mb=memory_mb, smp=smp, append=kernel_cmdline(simd=simd))
    res["accel"] = guest.accel
    t0 = time.monotonic()
    guest.start()
    with guest:
        res["first_serial_ms"] = wait_first_serial(guest.serial_log, guest.proc, t0)
        wait_health(guest.url, guest.proc)
        res["boot_health_ms"] = (time.monotonic() - t0) * 1e3
        try:  # the log is written out by the guest's idle loop: give it a moment (the steps line comes last)
            guest.wait_for_serial(BOOT_STEPS.pattern + r"\n", timeout=5)
        except CllmError:
            pass
        res.update(boot_marks(guest.serial_text()))
        res["boot_steps"] = boot_steps(guest.serial_text())
        m = re.search(r"smp: (\d+) CPUs? online", guest.serial_text())
        res["cpus_online"] = int(m.group(1)) if m else None
        m = re.search(r"llm: (\S+) quant kernels", guest.serial_text())
        res["kernels"] = m.group(1) if m else None
        toks = prompt_tokens(guest.url, n_prompt)
        res["prompt_tokens"] = toks
        pp, pp_wall, tg, tg_wall = [], [], [], []
        for _ in range(reps):
            t = time.monotonic()
            r = _json(guest.url + "/completion", {"prompt": toks, "n_predict": 1, "cache_prompt": False,
                                                  "temperature": 0})
            wall = time.monotonic() - t
            pp.append(r["timings"]["prompt_per_second"])
            pp_wall.append(n_prompt / wall)
            t = time.monotonic()
            r = _json(guest.url + "/completion", {"prompt": toks[:1], "n_predict": n_gen, "ignore_eos": True,
                                                  "cache_prompt": False, "temperature": 0})
            wall = time.monotonic() - t
            n_out = r["timings"]["predicted_n"]
            tg.append(r["timings"]["predicted_per_second"])
            tg_wall.append(n_out / wall)
            res["tg_predicted_n"] = n_out
        res["pp"], res["pp_wall"], res["tg"], res["tg_wall"] = max(pp), max(pp_wall), max(tg), max(tg_wall)
        try:
            _, raw = _http(guest.url + "/metrics")
            text = raw.decode("utf-8", "replace")
            peak, total = _metric(text, "cllm_heap_peak_bytes"), _metric(text, "cllm_heap_total_bytes")
        except (urllib.error.URLError, OSError):
            peak = total = None
        res["heap_peak_bytes"], res["heap_total_bytes"] = peak, total
        res["model_bytes"] = os.path.getsize(elf)
        res["qemu_rss_peak_bytes"] = _vm_hwm_bytes(guest.proc.pid)
    return res


def _llama_child():
    """Runs in a child process (a crash inside llama.cpp must not lose cllm's results): reads the request as JSON
    on stdin, prints the result as JSON."""
    import sys
    import numpy as np
    import llama_cpp
    import llama_cpp.llama_cpp as lc
    req = json.load(sys.stdin)
    tokens, n_gen, threads, reps = req["tokens"], req["n_gen"], req["threads"], req["reps"]
    # The extra buffer types (weight repacking, AMX) of llama.cpp 0.3.36 built with -march=native segfault on
    # this host for batches > 1; the plain CPU buffers work (docs/BENCHMARKS.md).
    default_params = lc.llama_model_default_params

    def model_params():
        p = default_params()
        if req.get("no_extra_bufts", True) and hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p
    lc.llama_model_default_params = model_params
    llm = llama_cpp.Llama(model_path=req["model"], n_ctx=max(1024, len(tokens) + n_gen + 8), n_batch=len(tokens),
                          n_ubatch=len(tokens), n_threads=threads, n_threads_batch=threads, verbose=False)
    llm.eval(tokens[:8])  # warm-up (first decode builds the graph and touches the weights)
    pp, tg = [], []
    for _ in range(reps):
        llm.reset()
        t = time.perf_counter()
        llm.eval(tokens)
        pp.append(len(tokens) / (time.perf_counter() - t))
        llm.reset()
        llm.eval(tokens[:1])
        t = time.perf_counter()
        for _ in range(n_gen):
            llm.eval([int(np.argmax(llm.scores[llm.n_tokens - 1]))])
        tg.append(n_gen / (time.perf_counter() - t))
    print(json.dumps({"pp": max(pp), "tg": max(tg), "threads": threads,
                      "version": getattr(llama_cpp, "__version__", "?")}))


def bench_llama_cpp(model_path, tokens, n_gen=128, threads=1, reps=2):
    """The same prompt tokens through llama.cpp on the host (llama-cpp-python's low-level eval, in a child
    process). Returns a dict with pp and tg tokens/s; raises CllmError when llama_cpp is missing or crashes."""
    import subprocess
    import sys
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise CllmError("--vs-llama-cpp: llama-cpp-python is not installed "
                        "(pip install llama-cpp-python==0.3.36)") from None
    from . import ROOT
    req = json.dumps({"model": model_path, "tokens": tokens, "n_gen": n_gen, "threads": threads, "reps": reps})
    p = subprocess.run([sys.executable, "-c", "from cllm_build.bench import _llama_child; _llama_child()"],
                       input=req, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise CllmError(f"llama.cpp run failed (status {p.returncode}): {(p.stderr or '').strip()[-300:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def format_boot(res):
    """The boot lines: the two headline numbers, then where the time went."""
    kl, fs, hm = res.get("kernel_listen_ms"), res.get("first_serial_ms"), res["boot_health_ms"]
    out = [f"boot: QEMU start to /health 200 {hm:.1f} ms; kernel entry to listening "
           + (f"{kl:.2f} ms" if kl is not None else "n/a (no 'listening' line on the serial console)")]
    parts = []
    if fs is not None:
        bs = res.get("boot_s_ms")
        parts.append(f"QEMU start to kernel entry (first serial byte: QEMU, qboot, loading the image"
                     + (f", boot.S {bs:.2f} ms" if bs is not None else "") + f") {fs:.1f} ms")
    if res.get("kernel_init_ms") is not None:
        parts.append(f"kernel entry to initialised {res['kernel_init_ms']:.2f} ms")
    if res.get("model_ready_ms") is not None:
        parts.append(f"model opened in {res['model_ready_ms']:.0f} ms (/health says 503 until then)")
    if fs is not None and kl is not None:
        parts.append(f"listening to /health 200 seen by the host ~{hm - fs - kl:.1f} ms")
    if parts:
        out.append("  " + "; ".join(parts))
    if res.get("boot_steps"):
        out.append("  kernel steps to listening (us): " + ", ".join(f"{n} {us}" for n, us in res["boot_steps"]))
    return out


def format_results(res, model_name, llama=None):
    """llama-bench style table."""
    out = []
    hdr = f"| model | backend | threads | test | t/s (API timings) | t/s (wall) |"
    out.append(hdr)
    out.append("|---|---|---|---|---|---|")
    be = f"cllm {res['accel'].upper()}"
    out.append(f"| {model_name} | {be} | {res['smp']} | pp{res['n_prompt']} | {res['pp']:.1f} | {res['pp_wall']:.1f} |")
    out.append(f"| {model_name} | {be} | {res['smp']} | tg{res['n_gen']} | {res['tg']:.1f} | {res['tg_wall']:.1f} |")
    if llama:
        out.append(f"| {model_name} | llama.cpp {llama['version']} (host) | {llama['threads']} | pp{res['n_prompt']} | "
                   f"{llama['pp']:.1f} | |")
        out.append(f"| {model_name} | llama.cpp {llama['version']} (host) | {llama['threads']} | tg{res['n_gen']} | "
                   f"{llama['tg']:.1f} | |")
    out.append("")
    out += format_boot(res)
    if res.get("cpus_online") is not None:
        out.append(f"CPUs online (serial log): {res['cpus_online']}")
    if res.get("kernels"):
        out.append(f"quant kernels (serial log): {res['kernels']}")
    mem = []
    if res.get("heap_peak_bytes") is not None:
        mem.append(f"guest heap peak {res['heap_peak_bytes'] / 2**20:.1f} MiB (plus the image, baked model included: "
                   f"{res['model_bytes'] / 2**20:.1f} MiB)")
    if res.get("qemu_rss_peak_bytes") is not None:
        mem.append(f"QEMU peak RSS (guest pages touched incl. the baked model, plus QEMU) "
                   f"{res['qemu_rss_peak_bytes'] / 2**20:.1f} MiB")
    out.append("memory: " + ("; ".join(mem) if mem else "n/a"))
    if llama:
        out.append(f"ratio cllm/llama.cpp: pp {res['pp'] / llama['pp']:.2f}x, tg {res['tg'] / llama['tg']:.2f}x")
    return "\n".join(out)


def bench(model_path, cfg, out_dir, *, smp=None, accel="auto", vs_llama_cpp=False, reps=2, n_prompt=512, n_gen=128,
          simd=None, echo=print):
    """Build (incrementally) into out_dir, boot, measure; return (results, llama results or None, text)."""
    from .build import build as do_build
    if not os.path.isfile(model_path):
        raise CllmError(f"{model_path}: no such model file")
    if smp is not None:
        cfg["smp"] = smp
    r = do_build(model_path, cfg, out_dir, echo=echo)
    echo(f"built {r.elf}; booting with {cfg['smp']} vCPU(s)")
    res = bench_guest(r.elf, smp=cfg["smp"], accel=accel, memory_mb=cfg["memory_mb"], reps=reps,
                      n_prompt=n_prompt, n_gen=n_gen, simd=simd, echo=echo)
    llama = None
    if vs_llama_cpp:
        echo(format_results(res, os.path.basename(model_path)))
        echo(f"running llama.cpp on the host with {cfg['smp']} thread(s)")
        llama = bench_llama_cpp(os.path.abspath(model_path), res["prompt_tokens"], res["n_gen"], cfg["smp"], reps)
    return res, llama, format_results(res, os.path.basename(model_path), llama)


def default_model():
    """SmolLM2-135M-Instruct Q4_1 from ~/.cache/cllm, fetched by the repository's models/fetch.py if missing."""
    path = os.path.expanduser("~/.cache/cllm/SmolLM2-135M-Instruct.Q4_1.gguf")
    if os.path.isfile(path):
        return path
    import sys
    from . import ROOT
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from models.fetch import smollm2_path
    return smollm2_path()
