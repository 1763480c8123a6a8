"""Host harness for the HTTP server (kernel/http/, kernel/api/health.c): builds it with the fake TCP
(fake_tcp.c) and the test routes (harness.c) into a shared library, loads it with ctypes and plays HTTP
clients in Python. Responses are read back with h11 (an independent HTTP/1.1 implementation), so framing
errors in our output fail the tests. Used by tests/test_http_*.py and tests/test_json_*.py."""
import ctypes
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.path.join(ROOT, "tests", ".build", "http")
SOURCES = ["tests/host/shim.c", "kernel/lib/fmt.c", "kernel/lib/parse.c", "kernel/lib/math.c",
           "kernel/http/http_parse.c", "kernel/http/http_conn.c", "kernel/http/http_server.c",
           "kernel/http/router.c", "kernel/http/json.c", "kernel/api/health.c",
           "tests/host/http/fake_tcp.c", "tests/host/http/harness.c"]
HEADERS = ["kernel/http/http_parse.h", "kernel/http/http_conn.h", "kernel/http/http_server.h",
           "kernel/http/router.h", "kernel/http/json.h", "kernel/api/health.h", "kernel/core/limits.h",
           "kernel/net/tcp.h", "kernel/lib/parse.h", "kernel/lib/fmt.h"]
CFLAGS = ["-DCLLM_HOST", "-Ikernel", "-Itests/host/include", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
          "-ffp-contract=off", "-Wl,--wrap=kmalloc,--wrap=kcalloc,--wrap=krealloc,--wrap=kfree"]
MS = 1_000_000


def build_lib(name="libhttphost.so", defines=()):
    os.makedirs(BUILD, exist_ok=True)
    out = os.path.join(BUILD, name)
    deps = [os.path.join(ROOT, p) for p in SOURCES + HEADERS] + [__file__]
    if not os.path.exists(out) or os.path.getmtime(out) < max(os.path.getmtime(p) for p in deps):
        cmd = ["gcc", *CFLAGS, *defines, "-fPIC", "-shared", "-o", out + ".tmp", *SOURCES]
        subprocess.run(cmd, cwd=ROOT, check=True)
        os.replace(out + ".tmp", out)
    return out


class HttpStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in
                ("conns_accepted", "conns_refused", "conns_active", "conns_closed", "requests", "timeouts",
                 "bad_requests", "client_aborts", "bytes_in", "bytes_out")] + \
               [("responses_by_class", ctypes.c_uint64 * 6), ("responses_by_status", ctypes.c_uint32 * 600)]


def load(path):
    lib = ctypes.CDLL(path)
    u64, sz, i32 = ctypes.c_uint64, ctypes.c_size_t, ctypes.c_int
    lib.h_init.argtypes = [ctypes.c_uint16]
    lib.h_poll.argtypes = [u64]
    lib.fake_client_connect.argtypes = [ctypes.c_uint16]
    lib.fake_client_send.argtypes = [i32, ctypes.c_char_p, sz]
    lib.fake_client_recv.argtypes = [i32, ctypes.c_char_p, sz]
    lib.fake_client_recv.restype = sz
    lib.fake_client_set_send_cap.argtypes = [i32, sz]
    lib.fake_set_default_send_cap.argtypes = [sz]
    lib.http_reply_stream_write.argtypes = [ctypes.c_uint32, ctypes.c_char_p, sz]
    lib.http_reply_sse.argtypes = [ctypes.c_uint32, ctypes.c_char_p, sz]
    for f in ("http_reply_stream_write", "http_reply_sse", "http_reply_stream_end", "http_reply_alive",
              "http_reply_stream_begin", "http_reply_json", "http_reply_defer", "http_reply_error"):
        getattr(lib, f).restype = ctypes.c_bool
    lib.http_reply_stream_end.argtypes = [ctypes.c_uint32]
    lib.http_reply_alive.argtypes = [ctypes.c_uint32]
    lib.http_reply_stream_space.argtypes = [ctypes.c_uint32]
    lib.http_reply_stream_space.restype = sz
    lib.http_reply_json.argtypes = [ctypes.c_uint32, i32, ctypes.c_char_p, sz]
    lib.http_reply_error.argtypes = [ctypes.c_uint32, i32, ctypes.c_char_p]
    lib.http_reply_abort.argtypes = [ctypes.c_uint32]
    lib.http_conn_memory.restype = sz
    lib.http_conn_count_active.restype = sz
    lib.j_roundtrip.argtypes = [ctypes.c_char_p, sz, ctypes.c_char_p, sz, ctypes.POINTER(sz)]
    lib.j_parse_limits.argtypes = [ctypes.c_char_p, sz, sz, sz]
    lib.j_number.argtypes = [ctypes.c_char_p, sz, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_double)]
    lib.j_write_string.argtypes = [ctypes.c_char_p, sz, ctypes.c_char_p, sz]
    lib.j_write_string.restype = sz
    lib.j_write_double.argtypes = [ctypes.c_double, ctypes.c_char_p, sz]
    lib.j_write_double.restype = sz
    return lib


class Server:
    """One HTTP server instance (one library load) on a fake clock."""

    def __init__(self, lib_path=None, port=8080):
        self.lib = load(lib_path or build_lib())
        self.port = port
        self.now = 1
        assert self.lib.h_init(port) == 0

    def poll(self, advance_ms=0):
        self.now += int(advance_ms * MS)
        return self.lib.h_poll(self.now)

    def connect(self):
        return Client(self)

    def stats(self):
        st = HttpStats()
        self.lib.h_stats(ctypes.byref(st))
        return st

    def value(self, name, ctype=ctypes.c_int):
        return ctype.in_dll(self.lib, name).value

    def pending(self):
        return ctypes.c_uint32.in_dll(self.lib, "h_pending").value

    def leaks(self):
        """(connections the server still holds in TCP, live HTTP slots, outstanding heap blocks)."""
        return (self.lib.fake_tcp_server_open(), self.lib.http_conn_count_active(),
                ctypes.c_long.in_dll(self.lib, "h_allocs").value)


class Client:
    def __init__(self, server):
        self.s = server
        self.id = server.lib.fake_client_connect(server.port)
        assert self.id >= 0
        self.rx = b""

    def send(self, data, poll=True):
        self.s.lib.fake_client_send(self.id, data, len(data))
        if poll:
            self.s.poll()

    def recv(self):
        buf = ctypes.create_string_buffer(1 << 16)
        while True:
            n = self.s.lib.fake_client_recv(self.id, buf, len(buf))
            if not n:
                break
            self.rx += buf.raw[:n]
        return self.rx

    def take(self):
        self.recv()
        out, self.rx = self.rx, b""
        return out

    def drain(self):
        """take() while polling the server, until nothing more comes."""
        out = b""
        while True:
            got = self.take()
            self.s.poll()
            got += self.take()
            if not got:
                return out
            out += got

    def fin(self):
        self.s.lib.fake_client_fin(self.id)

    def reset(self):
        self.s.lib.fake_client_reset(self.id)

    def state(self):
        st = self.s.lib.fake_client_state(self.id)
        return {"accepted": bool(st & 1), "closed": bool(st & 2), "aborted": bool(st & 4), "unread": bool(st & 8)}

    def closed(self):
        return self.state()["closed"]

    def release(self):
        self.s.lib.fake_client_release(self.id)


def parse_responses(data, methods=None, allow_truncated=False):
    """Split raw server output into responses with h11: [(status, headers dict (lowercase), body bytes)].
    methods: the request methods in order (HEAD responses have no body). A framing error raises h11's
    RemoteProtocolError; an incomplete last response is left out (callers check the count). allow_truncated: data
    that simply stops (a connection reset mid-response) is not an error either."""
    import h11
    if not data:
        return []
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(data)
    methods = list(methods or [])
    out, eof = [], False
    while True:
        method = methods[len(out)] if len(out) < len(methods) else "GET"
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        status, headers, body = None, None, b""
        while True:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError:
                if allow_truncated and eof:
                    return out
                raise
            if ev is h11.NEED_DATA:
                if eof:
                    return out
                conn.receive_data(b"")
                eof = True
                continue
            if isinstance(ev, h11.InformationalResponse):
                continue
            if isinstance(ev, h11.Response):
                status = ev.status_code
                headers = {k.decode().lower(): v.decode() for k, v in ev.headers}
            elif isinstance(ev, h11.Data):
                body += bytes(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                out.append((status, headers, body))
                break
            else:  # ConnectionClosed or PAUSED
                return out
        if h11.MUST_CLOSE in (conn.our_state, conn.their_state) or h11.CLOSED in (conn.our_state, conn.their_state):
            return out
        if not conn.trailing_data[0]:
            return out
        conn.start_next_cycle()
