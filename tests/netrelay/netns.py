"""Network namespaces and the lossy relay as context managers for the tests (tests/test_net_lossy.py,
tests/test_net_boot.py). Everything created here is named with a per-process suffix and removed on exit."""
import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent


def run(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def can_create_netns():
    name = f"cllmprobe{os.getpid()}"
    r = run("ip", "netns", "add", name, check=False)
    if r.returncode != 0:
        return False
    run("ip", "netns", "del", name, check=False)
    return os.path.exists("/dev/net/tun")


@contextlib.contextmanager
def netns(tag):
    """A fresh namespace with loopback up; yields its name."""
    name = f"cllm{tag}{os.getpid() % 100000}"
    run("ip", "netns", "del", name, check=False)
    run("ip", "netns", "add", name)
    try:
        run("ip", "-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        run("ip", "netns", "del", name, check=False)


def tap_name(tag):
    """A tap device name unique to this process (IFNAMSIZ: at most 15 characters)."""
    return f"cllt{os.getpid() % 1000000}{tag}"[:15]


def ns_exec(ns, *args, timeout=120, check=True):
    return run("ip", "netns", "exec", ns, *args, timeout=timeout, check=check)


def ping(ns, dst, count=20, interval=0.02, size=56, wait=1.0):
    r = ns_exec(ns, sys.executable, str(HERE / "pinger.py"), dst, "--count", str(count), "--interval",
                str(interval), "--size", str(size), "--wait", str(wait), timeout=count * interval + wait + 30)
    return json.loads(r.stdout.strip().splitlines()[-1])


class Relay:
    """tests/netrelay/relay.py as a child process. qemu_port: where QEMU's dgram backend listens."""

    def __init__(self, ns, tap, qemu_port, tap_addr, loss=0.0, dup=0.0, reorder=0.0, seed=1):
        self.tmp = tempfile.mkdtemp(prefix="cllm-relay-")
        self.ready = os.path.join(self.tmp, "ready")
        self.stats_path = os.path.join(self.tmp, "stats.json")
        self.log = open(os.path.join(self.tmp, "relay.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "relay.py"), "--qemu", f"127.0.0.1:{qemu_port}", "--tap", tap,
             "--netns", ns, "--tap-addr", tap_addr, "--loss", str(loss), "--dup", str(dup), "--reorder",
             str(reorder), "--seed", str(seed), "--stats", self.stats_path, "--ready", self.ready],
            stdout=self.log, stderr=subprocess.STDOUT)
        t_end = time.time() + 10
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.time() > t_end:
                raise RuntimeError("relay did not start: " + pathlib.Path(self.log.name).read_text())
            time.sleep(0.02)
        self.port = int(pathlib.Path(self.ready).read_text().strip().rsplit(":", 1)[1])

    def stats(self):
        try:
            return json.loads(pathlib.Path(self.stats_path).read_text())
        except (OSError, ValueError):
            return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.stats()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
