"""Builds and runs the libFuzzer harnesses tests/fuzz/http_fuzz.c and tests/fuzz/json_fuzz.c (clang,
-fsanitize=fuzzer,address,undefined) over the HTTP/JSON sources and the fake TCP. Used by tests/test_http_fuzz.py
and tests/test_json_fuzz.py; FUZZ_SECONDS overrides the run time (see those files for a long run)."""
import os
import subprocess

from httphost import ROOT, SOURCES

BUILD = os.path.join(ROOT, "tests", ".build", "fuzz")
FLAGS = ["-DCLLM_HOST", "-Ikernel", "-Itests/host/include", "-O1", "-g", "-ffp-contract=off",
         "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined",
         "-Wl,--wrap=kmalloc,--wrap=kcalloc,--wrap=krealloc,--wrap=kfree"]


def build(name):
    os.makedirs(BUILD, exist_ok=True)
    out = os.path.join(BUILD, name)
    srcs = ["tests/fuzz/%s.c" % name] + SOURCES
    newest = max(os.path.getmtime(os.path.join(ROOT, p)) for p in srcs + ["kernel/http/http_conn.h",
                                                                          "kernel/http/json.h",
                                                                          "kernel/http/http_parse.h"])
    if not os.path.exists(out) or os.path.getmtime(out) < newest:
        subprocess.run(["clang", *FLAGS, "-o", out, *srcs], cwd=ROOT, check=True)
    return out


def run(name, seeds, seconds, max_len):
    """Run the fuzzer for `seconds` on a corpus seeded with `seeds` (bytes). Returns (returncode, log tail)."""
    exe = build(name)
    corpus = os.path.join(BUILD, name + "_corpus")
    os.makedirs(corpus, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(corpus, "seed%03d" % i), "wb") as f:
            f.write(s)
    seconds = int(os.environ.get("FUZZ_SECONDS", seconds))
    p = subprocess.run([exe, "-max_total_time=%d" % seconds, "-max_len=%d" % max_len, "-timeout=10",
                        "-rss_limit_mb=2048", "-artifact_prefix=%s/" % BUILD, "-print_final_stats=1", corpus],
                       cwd=BUILD, capture_output=True, text=True)
    return p.returncode, p.stderr[-3000:]
