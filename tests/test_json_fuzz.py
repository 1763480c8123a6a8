"""Short libFuzzer run (15 s) of tests/fuzz/json_fuzz.c: the JSON parser, and the writer's fixed point on what the
parser accepts, under ASan+UBSan with an allocation balance check.
Long run:  FUZZ_SECONDS=14400 python3 -m pytest -q tests/test_json_fuzz.py
or by hand:  tests/.build/fuzz/json_fuzz -jobs=2 -workers=2 tests/.build/fuzz/json_fuzz_corpus"""
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "host", "http"))
import fuzzbuild  # noqa: E402


def test_json_fuzz_short_run():
    data = os.path.join(os.path.dirname(__file__), "data", "json")
    seeds = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(data, "*.json")))]
    rc, log = fuzzbuild.run("json_fuzz", [s for s in seeds if len(s) < 4096], 15, 8192)
    assert rc == 0, log
    assert "Done" in log
