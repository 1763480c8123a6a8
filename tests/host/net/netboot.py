"""Boot helpers for the network boot tests: build a test image whose kmain is tests/host/net/guest_main.c (a copy
of kernel/ with core/main.c swapped), and run it in QEMU with any -netdev (user with forwards, tap, dgram), with
the serial log in a file and helpers to wait for markers and read QEMU's CPU time."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cllm_build.qemu import qemu_argv, resolve_accel  # noqa: E402

GUEST_MAIN = ROOT / "tests" / "host" / "net" / "guest_main.c"


_built = {}


def build_guest(model, network=None, test_main=True):
    """Build a test image (once per process and configuration; under tests/.build/netboot/, where the
    toolchain's incremental build reuses objects: the kernel copy keeps the sources' mtimes).
    network: the cllm.json "network" object (None: DHCP defaults). test_main: swap in guest_main.c; False builds
    the real kernel (its own kmain) with that network configuration. Returns the ELF path."""
    import hashlib
    import json
    from cllm_build.build import build
    from cllm_build.config import load_config
    key = json.dumps({"network": network or {}, "test_main": test_main}, sort_keys=True)
    if (key, str(model)) in _built:
        return _built[(key, str(model))]
    out_dir = ROOT / "tests" / ".build" / "netboot" / hashlib.sha256(key.encode()).hexdigest()[:12]
    out_dir.mkdir(parents=True, exist_ok=True)
    kdir = out_dir / "kernel"
    if kdir.exists():
        shutil.rmtree(kdir)
    shutil.copytree(ROOT / "kernel", kdir)  # copy2: mtimes kept
    if test_main:
        shutil.copy2(GUEST_MAIN, kdir / "core" / "main.c")
    cfg_path = out_dir / "cllm.json"
    cfg_path.write_text(json.dumps({"network": network} if network else {}))
    elf = build(str(model), load_config(str(cfg_path)), str(out_dir / "out"), echo=lambda m: None,
                kernel_dir=str(kdir)).elf
    _built[(key, str(model))] = elf
    return elf


class Qemu:
    """qemu-system-x86_64 on an image with the given netdev/device arguments; prefix: e.g. ["ip", "netns",
    "exec", NS] to run it inside a namespace."""

    def __init__(self, elf, net_args, accel="auto", memory_mb=256, prefix=()):
        self.tmp = tempfile.mkdtemp(prefix="cllm-netboot-")
        self.serial = os.path.join(self.tmp, "serial.log")
        self.accel = resolve_accel(accel)
        argv = qemu_argv(elf, accel=self.accel, memory_mb=memory_mb, serial=self.serial)
        i = argv.index("-nic")
        argv[i:i + 2] = list(net_args)
        self.argv = list(prefix) + argv
        self.stderr = open(os.path.join(self.tmp, "qemu.stderr"), "w")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr)
        self.t_start = time.monotonic()

    def text(self):
        try:
            return pathlib.Path(self.serial).read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, pattern, timeout=30.0):
        """Wait until the serial log matches pattern; returns the match. Raises with the log on timeout/exit."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = rx.search(self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} in the serial log (QEMU status {self.proc.poll()}):\n"
                             + self.text()[-4000:] + "\nstderr: " + pathlib.Path(self.stderr.name).read_text()[-2000:])

    def cpu_seconds(self):
        """User + system CPU time QEMU has used so far (from /proc)."""
        pid = self.qemu_pid()
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def qemu_pid(self):
        """The QEMU process (ip netns exec execs it, so it is our child's pid either way)."""
        return self.proc.pid

    def wait_exit(self, timeout=30.0):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
