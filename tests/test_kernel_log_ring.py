"""The console queue (kernel/core/log_ring.c, used by core/serial.c to write the log from the idle loop) built for
the host: random writes of every size (empty, small, wrapping, larger than the ring) interleaved with bounded
drains, checked against the plain concatenation of what was written. Nothing may be lost, duplicated or
reordered, the ring never holds more than its size, and a drain never writes more than asked, in at most two
pieces (the wrap)."""
import ctypes
import pathlib
import random
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "lib"))
import hostbuild  # noqa: E402


@pytest.fixture(scope="module")
def ring():
    lib = ctypes.CDLL(str(hostbuild.build("liblogring.so", ["tests/host/core/log_ring_check.c",
                                                            "kernel/core/log_ring.c"], shared=True)))
    lib.lr_init.argtypes = [ctypes.c_size_t]
    lib.lr_put.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.lr_drain.argtypes = [ctypes.c_size_t]
    for f in ("lr_drain", "lr_used", "lr_out_len", "lr_sink_calls"):
        getattr(lib, f).restype = ctypes.c_size_t
    lib.lr_out.restype = ctypes.c_void_p
    return lib


def out_bytes(lib):
    return ctypes.string_at(lib.lr_out(), lib.lr_out_len())


@pytest.mark.parametrize("cap,seed", [(1, 1), (7, 2), (64, 3), (4096, 4), (32768, 5)])
def test_ring_keeps_everything_in_order(ring, cap, seed):
    rnd = random.Random(seed)
    assert ring.lr_init(cap) == 0
    written = bytearray()
    for step in range(3000):
        if rnd.random() < 0.6:  # a write: mostly log-line sized, sometimes bigger than the ring
            n = rnd.choice([0, 1, rnd.randrange(1, 200), rnd.randrange(1, 3 * cap + 2)])
            data = rnd.randbytes(n)
            ring.lr_put(data, n)
            written += data
        else:                   # a bounded drain, as the idle event loop does
            max_bytes = rnd.choice([0, 1, rnd.randrange(1, 300), 10 ** 6])
            before_out, before_calls, before_used = ring.lr_out_len(), ring.lr_sink_calls(), ring.lr_used()
            got = ring.lr_drain(max_bytes)
            assert got == min(max_bytes, before_used)
            assert ring.lr_out_len() - before_out == got
            assert ring.lr_sink_calls() - before_calls <= 2
        used = ring.lr_used()
        assert used <= cap
        # what reached the sink is a prefix of what was written, and the rest is exactly what the ring holds
        assert ring.lr_out_len() + used == len(written), step
        if step % 50 == 0:
            out = out_bytes(ring)
            assert out == written[:len(out)], step
    ring.lr_drain(10 ** 9)
    assert ring.lr_used() == 0 and out_bytes(ring) == bytes(written)


def test_ring_under_load_never_blocks_a_writer(ring):
    """A writer that never lets the ring drain (a busy event loop) still gets every byte out, in order: the
    oldest queued bytes are written to make room."""
    assert ring.lr_init(1000) == 0
    lines = [f"[{i:6d}] I line {i} {'x' * (i % 97)}\n".encode() for i in range(20000)]
    for line in lines:
        ring.lr_put(line, len(line))
        assert ring.lr_used() <= 1000
    ring.lr_drain(10 ** 9)
    assert out_bytes(ring) == b"".join(lines)
