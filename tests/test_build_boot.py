"""Boot tests (Solo5 style: a marker on the serial console and an exit status through isa-debug-exit) of
cllm_build/qemu.py and `cllm run`: a minimal kernel under TCG and KVM (exit codes, triple fault, the Multiboot
command line, SIGTERM -> QMP quit), and a smoke boot of whatever kernel is in kernel/ (it prints `cllm: ok`)."""
import base64
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from cllm_build.build import build
from cllm_build.config import load_config
from cllm_build.errors import CllmError
from cllm_build.qemu import Guest, kernel_cmdline, kvm_usable, qemu_argv
from conftest import ROOT, write_mini_kernel

ACCELS = ["tcg", pytest.param("kvm", marks=pytest.mark.skipif(not kvm_usable(), reason="/dev/kvm not usable"))]


def mini_image(tmp_path, model, **kw):
    kdir = write_mini_kernel(tmp_path / "kernel", **kw)
    return build(model, load_config(None), str(tmp_path / "out"), echo=lambda m: None, kernel_dir=kdir).elf


def test_qemu_command_line():
    a = qemu_argv("k.elf", accel="kvm", memory_mb=512, smp=2, host_port=18080, guest_port=8080,
                  serial="/tmp/s.log", append="x=1", qmp_socket="/tmp/q.sock")
    cmd = " ".join(a)
    assert a[0] == "qemu-system-x86_64" and "-accel kvm -cpu host" in cmd and "-bios /usr/share/qemu/qboot.rom" in cmd
    assert "-m 512 -smp 2 -kernel k.elf -append x=1" in cmd
    assert "-device isa-debug-exit,iobase=0xf4,iosize=4" in cmd and "-serial file:/tmp/s.log" in cmd
    assert "-netdev user,id=n0,hostfwd=tcp:127.0.0.1:18080-:8080 -device e1000e,netdev=n0" in cmd
    assert "-nodefaults" in cmd  # qboot runs no VGA BIOS: no default VGA, floppy, CD-ROM under KVM
    assert "-qmp unix:/tmp/q.sock,server=on,wait=off" in cmd and "-no-reboot" in cmd and "-display none" in cmd
    t = " ".join(qemu_argv("k.elf", accel="tcg", gdb_port=1234, paused=True))
    assert "-accel tcg -cpu max" in t and "-gdb tcp:127.0.0.1:1234" in t and t.endswith("-S") and "qboot" not in t
    assert "-nodefaults" not in t  # SeaBIOS under TCG sets up VGA text mode: the VGA console test uses it
    assert "-nic none" in t
    n = " ".join(qemu_argv("k.elf", accel="tcg", net_args=["-netdev", "tap,id=n0", "-device", "e1000,netdev=n0"]))
    assert "-netdev tap,id=n0 -device e1000,netdev=n0" in n and "-nic" not in n and "user," not in n


@pytest.mark.parametrize("accel", ACCELS)
def test_mini_kernel_boots(accel, mini_build):
    with Guest(mini_build.elf, accel=accel) as g:
        g.wait_for_serial(r"cllm: ok", timeout=30)
        assert g.wait_exit(timeout=30) == 0
        assert "mini: http port 8080" in g.serial_text()
        assert g.accel == accel


def test_exit_code_and_cmdline(tmp_path, corpus_gguf):
    elf = mini_image(tmp_path, corpus_gguf, exit_code=42)
    prompt = 'héllo "wörld" 1+1=2'
    with Guest(elf, accel="tcg", append=kernel_cmdline(prompt, 7)) as g:
        assert g.wait_exit(timeout=30) == 42
        m = re.search(r"cmdline: \[(.*)\]", g.serial_text())
    words = dict(w.split("=", 1) for w in m.group(1).split() if "=" in w)   # QEMU puts the image path first
    assert base64.b64decode(words["prompt"]).decode("utf-8") == prompt and words["n_predict"] == "7"


def test_triple_fault_is_reported(tmp_path, corpus_gguf):
    elf = mini_image(tmp_path, corpus_gguf, fault=True)
    with Guest(elf, accel="tcg") as g:
        with pytest.raises(CllmError, match="triple fault"):
            g.wait_exit(timeout=30)


def qemu_processes_with(marker):
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if "qemu-system" in cmd and marker in cmd:
                pids.append(int(pid))
    return pids


def test_qmp_status_and_quit(tmp_path, corpus_gguf):
    elf = mini_image(tmp_path, corpus_gguf, hang=True)
    g = Guest(elf, accel="tcg").start()
    try:
        g.wait_for_serial("cllm: ok", timeout=30)
        assert g.status() == "running"
        g.qmp("stop")
        assert g.status() == "paused"
    finally:
        g.shutdown()
    assert g.proc.returncode == 0    # QMP quit: QEMU exits cleanly


def test_cllm_run_exit_code(tmp_path, corpus_gguf):
    elf = mini_image(tmp_path, corpus_gguf, exit_code=3)
    log = tmp_path / "serial.log"
    p = subprocess.run([sys.executable, "-m", "cllm_build", "run", elf, "--accel", "tcg", "--serial-log", log,
                        "--port", "0"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 3, p.stderr
    assert "under TCG" in p.stderr and "kernel exit code 3" in p.stderr
    assert "cllm: ok" in log.read_text()


def test_cllm_run_sigterm_quits_qemu(tmp_path, corpus_gguf):
    elf = mini_image(tmp_path, corpus_gguf, hang=True)
    log = tmp_path / "serial.log"
    p = subprocess.Popen([sys.executable, "-m", "cllm_build", "run", elf, "--accel", "tcg", "--serial-log", log,
                          "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.time() + 30
        while "cllm: ok" not in (log.read_text() if log.exists() else ""):
            assert time.time() < deadline and p.poll() is None, "guest did not boot"
            time.sleep(0.05)
        assert qemu_processes_with(str(log))
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "stopped (QMP quit)" in err
    assert not qemu_processes_with(str(log))


@pytest.mark.parametrize("accel", ACCELS)
def test_main_kernel_smoke(accel, main_build):
    """Whatever kernel is in kernel/ boots with a tiny model to its end-of-boot marker: `cllm: ok` (the first
    kernel, which then exits 0) or `cllm: listening` (the server, which must then answer GET /health through the
    forwarded port). Never a panic or a fault."""
    import requests
    with Guest(main_build.elf, accel=accel) as g:
        m = g.wait_for_serial(r"cllm: (ok|listening)", timeout=120)
        if m.group(1) == "ok":
            assert g.wait_exit(timeout=30) == 0
        else:
            r = requests.get(g.url + "/health", timeout=20)
            assert r.status_code == 200, r.text
        log = g.serial_text()
    assert "PANIC" not in log and "FAULT" not in log, log[-3000:]
