"""The one function that runs external tools (gcc, as, ld, objcopy, qemu, gdb, pip, unzip).

Every command line is logged, shell-quoted so it can be pasted and rerun by hand, when verbose logging is on
(`cllm -v ...`). Callers never use subprocess directly."""
import shlex
import subprocess
import sys
import threading

from .errors import CllmError

_verbose = False
_log_lock = threading.Lock()


def set_verbose(on):
    global _verbose
    _verbose = bool(on)


def is_verbose():
    return _verbose


def log(msg):
    """Print a verbose-only line on stderr."""
    if _verbose:
        with _log_lock:
            print(msg, file=sys.stderr, flush=True)


def run_tool(argv, *, background=False, check=True, capture=True, cwd=None, env=None, what=None, **popen_kw):
    """Run argv (a list of strings).

    background=False: wait, return subprocess.CompletedProcess (stdout/stderr as text when capture=True);
    a non-zero status raises CllmError naming the tool and its first error line, unless check=False.
    background=True: return the running subprocess.Popen (the caller owns it and waits/kills it);
    popen_kw go to Popen (stdin/stdout/stderr/start_new_session...)."""
    argv = [str(a) for a in argv]
    log("+ " + shlex.join(argv))
    try:
        if background:
            return subprocess.Popen(argv, cwd=cwd, env=env, **popen_kw)
        proc = subprocess.run(argv, cwd=cwd, env=env, text=True,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None, **popen_kw)
    except FileNotFoundError:
        raise CllmError(f"{argv[0]}: command not found (run `make setup`)") from None
    except OSError as e:
        raise CllmError(f"{argv[0]}: cannot run: {e.strerror}") from None
    if check and proc.returncode != 0:
        out = ((proc.stderr or "") + (proc.stdout or "")).strip()
        if out:  # the tool's own words first (at most 40 lines), then our one-line error
            lines = out.splitlines()
            with _log_lock:
                print("\n".join(lines[:40] + ([f"... ({len(lines) - 40} more lines)"] if len(lines) > 40 else [])),
                      file=sys.stderr, flush=True)
        first = _first_error_line(out)
        name = what or argv[0]
        raise CllmError(f"{name} failed (status {proc.returncode})" + (f": {first}" if first else ""))
    return proc


def _first_error_line(out):
    lines = [l for l in out.splitlines() if l.strip()]
    for l in lines:
        low = l.lower()
        if "error" in low or "undefined reference" in low or "multiple definition" in low:
            return l.strip()
    return lines[0].strip() if lines else ""
