"""Boot an image in QEMU: the command line (accelerator choice, memory, vCPUs, e1000e on user networking with a
forwarded port, serial console, isa-debug-exit, QMP socket, gdb stub) and the Guest object that `cllm run`,
`cllm debug` and every boot test use: start, wait_for_serial, serial_text, wait_exit, shutdown (QMP `quit`)."""
import base64
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from .errors import CllmError
from .tools import log, run_tool

QEMU = "qemu-system-x86_64"
QBOOT = "/usr/share/qemu/qboot.rom"
EXIT_PORT = 0xF4
# The NIC: QEMU's 82574L (e1000e). Its 82540EM model (e1000, also driven by kernel/drivers/e1000.c) ignores
# received frames for 1 s after the driver writes RCTL (hw/net/e1000.c flush_queue_timer), which alone kept
# QEMU start to /health 200 above a second; the e1000e model receives at once.
NIC_MODEL = "e1000e"


def kvm_usable():
    """True when /dev/kvm can be opened read-write (the only test that matters to QEMU)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def resolve_accel(accel):
    if accel == "auto":
        return "kvm" if kvm_usable() else "tcg"
    if accel == "kvm" and not kvm_usable():
        raise CllmError("--accel kvm: /dev/kvm is missing or not usable (try --accel tcg)")
    if accel not in ("kvm", "tcg"):
        raise CllmError(f"--accel: expected auto, kvm or tcg, got {accel!r}")
    return accel


def free_port():
    """A TCP port on 127.0.0.1 that is free right now (the usual small race is acceptable for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SIMD_LEVELS = ("auto", "avx512", "avx2", "sse2", "scalar")


def kernel_cmdline(prompt=None, n_predict=None, extra=None, simd=None):
    """The Multiboot command line (-append): key=value words; the prompt is base64 (RFC 4648, standard
    alphabet) so it survives spaces and quotes; simd= caps the quant kernel set (kernel/core/main.c)."""
    words = []
    if simd is not None and simd != "auto":
        if simd not in SIMD_LEVELS:
            raise ValueError(f"simd {simd!r}: expected one of {', '.join(SIMD_LEVELS)}")
        words.append(f"simd={simd}")
    if prompt is not None:
        words.append("prompt=" + base64.b64encode(prompt.encode("utf-8")).decode("ascii"))
    if n_predict is not None:
        words.append(f"n_predict={int(n_predict)}")
    words += list(extra or [])
    return " ".join(words)


def qemu_argv(elf, *, accel, memory_mb=1024, smp=1, host_port=None, guest_port=8080, serial="stdio",
              append="", qmp_socket=None, gdb_port=None, paused=False, net_args=None):
    """The qemu-system-x86_64 command line. accel must be resolved ('kvm' or 'tcg'). serial: 'stdio' or a file
    path. host_port None: no NIC (`-nic none`) unless net_args (e.g. a tap or dgram -netdev plus its
    -device e1000 or e1000e) replaces the user-mode NIC."""
    argv = [QEMU]
    if accel == "kvm":
        argv += ["-accel", "kvm", "-cpu", "host"]
        if os.path.exists(QBOOT):
            # SeaBIOS under KVM takes ~7 s here, qboot a few ms. qboot runs no VGA BIOS (no text mode), so the
            # default devices (VGA, floppy, CD-ROM, parallel port) only cost start-up time: -nodefaults.
            argv += ["-bios", QBOOT, "-nodefaults"]
    else:
        argv += ["-accel", "tcg", "-cpu", "max"]
    argv += ["-m", str(memory_mb), "-smp", str(smp), "-kernel", elf]
    if append:
        argv += ["-append", append]
    argv += ["-device", f"isa-debug-exit,iobase={EXIT_PORT:#x},iosize=4"]
    argv += ["-serial", "stdio" if serial == "stdio" else f"file:{serial}"]
    argv += ["-display", "none", "-no-reboot", "-monitor", "none"]
    if net_args:
        argv += list(net_args)
    elif host_port is not None:
        argv += ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{host_port}-:{guest_port}",
                 "-device", f"{NIC_MODEL},netdev=n0"]
    else:
        argv += ["-nic", "none"]
    if qmp_socket:
        argv += ["-qmp", f"unix:{qmp_socket},server=on,wait=off"]
    if gdb_port is not None:
        argv += ["-gdb", f"tcp:127.0.0.1:{gdb_port}"]
    if paused:
        argv += ["-S"]
    return argv


def qemu_env_prefix():
    """`env GLIBC_TUNABLES=...` before the QEMU command line: glibc's malloc backs large allocations with
    transparent huge pages (glibc >= 2.35; older ones ignore the tunable). QEMU's Multiboot loader copies the
    whole image (the baked model: ~100 MB) through malloc'd buffers before the guest runs; with huge pages that
    took ~20 ms less here (QEMU start to the kernel's first serial byte, median of 10: 184 -> 164 ms). An `env`
    prefix rather than a changed environment, so the command line `-v` logs is the one that ran."""
    tun = os.environ.get("GLIBC_TUNABLES")
    return ["env", "GLIBC_TUNABLES=" + (tun + ":" if tun else "") + "glibc.malloc.hugetlb=1"]


def exit_code_of(status):
    """Kernel exit code from QEMU's exit status: the kernel writes c to port 0xf4, QEMU exits (c << 1) | 1."""
    if status is None:
        return None
    if status < 0:
        raise CllmError(f"QEMU was killed by signal {-status}")
    if status == 0:
        raise CllmError("QEMU exited with status 0: the guest reset (triple fault) or powered off without an "
                        "exit code")
    if status & 1:
        return (status - 1) >> 1
    raise CllmError(f"QEMU failed with status {status}")


def _die_with_parent():
    """In the QEMU child before exec: SIGTERM when the process that started it dies (Linux PR_SET_PDEATHSIG), so
    a killed test run or `cllm run` never leaves a QEMU behind."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Guest:
    """One QEMU process running an image. Use as a context manager; leaving it shuts QEMU down."""

    def __init__(self, elf, *, accel="auto", memory_mb=1024, smp=1, host_port="auto", guest_port=8080,
                 serial_log=None, serial_stdio=False, append="", gdb_port=None, paused=False, net_args=None):
        if not os.path.isfile(elf):
            raise CllmError(f"{elf}: no such image (run `cllm build` first)")
        self.elf = elf
        self.accel = resolve_accel(accel)
        self.memory_mb, self.smp, self.guest_port = memory_mb, smp, guest_port
        self.host_port = free_port() if host_port == "auto" else host_port
        self._tmp = tempfile.mkdtemp(prefix="cllm-qemu-")
        self.serial_stdio = serial_stdio
        self.serial_log = serial_log or os.path.join(self._tmp, "serial.log")
        self.qmp_socket = os.path.join(self._tmp, "qmp.sock")
        self.stderr_log = os.path.join(self._tmp, "qemu.stderr")
        self.append, self.gdb_port, self.paused, self.net_args = append, gdb_port, paused, net_args
        self.proc = None
        self.exit_status = None

    def argv(self):
        return qemu_argv(self.elf, accel=self.accel, memory_mb=self.memory_mb, smp=self.smp,
                         host_port=self.host_port, guest_port=self.guest_port,
                         serial="stdio" if self.serial_stdio else self.serial_log, append=self.append,
                         qmp_socket=self.qmp_socket, gdb_port=self.gdb_port, paused=self.paused,
                         net_args=self.net_args)

    def start(self):
        if shutil.which(QEMU) is None:  # checked here: behind `env`, run_tool would not see it missing
            raise CllmError(f"{QEMU}: command not found (run `make setup`)")
        if not self.serial_stdio:
            open(self.serial_log, "wb").close()
        err = open(self.stderr_log, "wb")
        # Own session: a terminal Ctrl-C reaches cllm only, which then asks QEMU to quit over QMP.
        self.proc = run_tool(qemu_env_prefix() + self.argv(), background=True, stdin=subprocess.DEVNULL, stderr=err,
                             stdout=None if self.serial_stdio else subprocess.DEVNULL, start_new_session=True,
                             # the death signal follows the starting *thread*: only tie it to the main one
                             preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread()
                             else None)
        err.close()
        self.started_at = time.monotonic()
        return self

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False

    # --- serial console -------------------------------------------------------------------------------------
    def serial_text(self):
        try:
            with open(self.serial_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_text(self):
        try:
            with open(self.stderr_log, "rb") as f:
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def wait_for_serial(self, pattern, timeout=30.0):
        """Wait until the serial log matches regex pattern; return the match. Raises CllmError (with the log's
        tail) on timeout or when QEMU exits first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.serial_text())
            if m:
                return m
            if self.proc.poll() is not None:
                self.exit_status = self.proc.returncode
                m = rx.search(self.serial_text())
                if m:
                    return m
                raise CllmError(f"QEMU exited (status {self.exit_status}) before the serial log matched {pattern!r}"
                                f"{self._tail()}")
            if time.monotonic() > deadline:
                raise CllmError(f"no {pattern!r} on the serial console within {timeout:.0f} s{self._tail()}")
            time.sleep(0.02)

    def _tail(self):
        text = self.serial_text().strip().splitlines()[-15:]
        err = self.stderr_text()
        return ("; serial log tail:\n" + "\n".join(text) if text else "; serial log empty") + \
            (f"\nqemu stderr: {err}" if err else "")

    # --- exit -----------------------------------------------------------------------------------------------
    def wait_exit(self, timeout=60.0):
        """Wait for QEMU to exit; return the kernel's exit code (see exit_code_of). On timeout QEMU is shut down
        and CllmError raised."""
        try:
            self.exit_status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.shutdown()
            raise CllmError(f"the guest did not exit within {timeout:.0f} s{self._tail()}") from None
        err = self.stderr_text()
        if self.exit_status == 1 and err and not self.serial_text():
            raise CllmError(f"QEMU failed: {err.splitlines()[0]}")
        return exit_code_of(self.exit_status)

    def qmp(self, command, **args):
        """One QMP command (synchronous); returns its result."""
        from qemu.qmp.legacy import QEMUMonitorProtocol
        mon = QEMUMonitorProtocol(self.qmp_socket)
        try:
            mon.connect()
            return mon.cmd(command, **args) if args else mon.cmd(command)
        finally:
            try:
                mon.close()
            except Exception:
                pass

    def status(self, timeout=5.0):
        """The VM run state from QMP query-status ("running", "paused", ...), retrying while the QMP socket
        comes up."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.qmp("query-status")["status"]
            except Exception as e:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise CllmError(f"QMP query-status failed: {e}") from None
                time.sleep(0.05)

    def shutdown(self, timeout=5.0):
        """Ask QEMU to quit over QMP, then terminate, then kill; remove the temporary files. Idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.qmp("quit")
            except Exception as e:  # QMP not up yet or already gone: fall back to signals
                log(f"QMP quit failed: {e}")
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if self.proc is not None:
            self.exit_status = self.proc.returncode
        if self.serial_log.startswith(self._tmp):
            self._saved_serial = self.serial_text()
            self.serial_text = lambda: self._saved_serial
        self._saved_err = self.stderr_text()
        self.stderr_text = lambda: self._saved_err
        shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def url(self):
        """Base URL of the guest's HTTP server through the forwarded port."""
        return f"http://127.0.0.1:{self.host_port}"

    def describe(self):
        return f"{self.accel.upper()}" + (" (qboot)" if self.accel == "kvm" and os.path.exists(QBOOT) else "")


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt inside the block, so `cllm run`/`cllm debug` shut QEMU down (it runs in
    its own session and would otherwise outlive us) the same way as on Ctrl-C."""
    def on_term(signum, frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
