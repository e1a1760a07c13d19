"""Abuse over real loopback HTTP: ``mathocr serve`` (gunicorn, 2 workers) must not stall,
answer 5xx, answer anything but JSON, or mix answers up.

One server (the bundled model) serves every test of the module. The bounds here are
"does not stall" bounds, generous on purpose: the server this replaced took 15-20 s to
answer ``/healthz`` with 50 idle connections open, stock gunicorn ``gthread`` more than 30 s
with 200; the speed targets live in ``benchmarks/bench_http.py``.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mathocr.web.handwriting import render_png

from .test_io import png_header_only

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="gunicorn does not run on Windows"),
]

ROOT = Path(__file__).resolve().parents[1]
SOLVE = "/api/v1/solve"
PNG = {"Content-Type": "image/png"}
STALL_S = 2.0  # a stalled server takes 15 s and more; a healthy one answers in milliseconds


class Server:
    def __init__(self, *args: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mathocr", "serve", "--port", str(self.port), "--workers", "2", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.05)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server("--metrics")
    yield s
    s.stop()
    # Workers stop cleanly: no abort at exit, nothing left listening.
    assert "terminate called" not in s.stderr() and "SIGABRT" not in s.stderr()
    s.log.close()


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict, dict, float]:
    """(status, headers, JSON body, seconds) of one request on a fresh connection."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        raw = r.read()
        head = {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()
    assert head.get("content-type", "").startswith("application/json"), (r.status, raw[:200])
    return r.status, head, json.loads(raw), time.perf_counter() - t0


def raw_exchange(port: int, data: bytes, read_timeout: float = 10) -> tuple[int, dict, dict]:
    """Send bytes as they are (what http.client would refuse to send); parse the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            got = b"".join(chunks)
            if b"\r\n\r\n" in got:
                head, _, body = got.partition(b"\r\n\r\n")
                length = [int(v) for k, v in _headers(head).items() if k == "content-length"]
                if length and len(body) >= length[0]:
                    break
    got = b"".join(chunks)
    assert got, "no answer"
    head, _, body = got.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = _headers(head)
    assert headers.get("content-type", "").startswith("application/json"), got[:300]
    return status, headers, json.loads(body)


def _headers(head: bytes) -> dict:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def assert_json_error(status: int, body: dict, expected: int, code: str | None = None) -> None:
    assert status == expected, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"][0].isupper()
    if code:
        assert body["error"]["code"] == code, body


def multipart(fields: dict[str, bytes], boundary: str = "b0undary") -> tuple[bytes, str]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="x.png"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------- no stalls
def test_idle_connections_do_not_stall_healthz(server):
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(200)]
    try:
        time.sleep(0.3)  # every one accepted and waiting
        seconds = []
        for _ in range(20):
            status, _, body, took = request(server.port, "GET", "/healthz")
            assert status == 200 and body["status"] == "ok"
            seconds.append(took)
        assert max(seconds) < STALL_S, seconds
        # ... while the idle connections were still open, not closed to make room.
        for s in idle:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1, socket.MSG_PEEK)
    finally:
        for s in idle:
            s.close()


def test_slow_senders_beside_normal_clients(server):
    """Slowloris: clients that send their request head, or their body, a few bytes at a
    time hold no thread; normal clients beside them are answered at once, each with its
    own answer, and the slow ones are served too."""
    drawing = render_png("8*3")
    slow_head = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: yes\r\n\r\n".encode()
    slow_body = (
        f"POST {SOLVE} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        f"Content-Length: {len(drawing)}\r\n\r\n"
    ).encode() + drawing
    slow_answers: list[int] = []
    lock = threading.Lock()

    def slow_client(data: bytes) -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            pieces = 40  # the whole request takes about 3 s
            step = -(-len(data) // pieces)
            for i in range(0, len(data), step):
                s.sendall(data[i : i + step])
                time.sleep(3 / pieces)
            answer = s.recv(65536)
        with lock:
            slow_answers.append(int(answer.split(b" ", 2)[1]))

    # 3x the 2 x 4 request threads, half sending heads slowly, half bodies.
    slow = [threading.Thread(target=slow_client, args=(d,)) for d in [slow_head, slow_body] * 12]
    for t in slow:
        t.start()
    time.sleep(0.5)  # every slow client is mid-request
    images = {text: render_png(text) for text in ("12+3", "7-4", "25+17")}
    expected = {"12+3": "15", "7-4": "3", "25+17": "42"}
    worst = 0.0
    try:
        for _ in range(3):
            for text, data in images.items():
                status, _, body, took = request(server.port, "POST", SOLVE, data, PNG)
                assert status == 200 and body["value"] == expected[text]
                worst = max(worst, took)
    finally:
        for t in slow:
            t.join(timeout=30)
    assert worst < STALL_S
    assert slow_answers == [200] * len(slow)  # slow, but served


def test_keep_alive_connections_are_balanced_over_the_workers(server):
    """Left to the kernel, 8 clients often split 8/0 or 7/1 over two workers; here each
    new connection goes to the worker holding fewer."""
    import psutil

    time.sleep(0.5)  # connections closed by earlier tests are noticed by the workers
    connections = []
    try:
        for _ in range(12):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", "/healthz")
            assert conn.getresponse().read()
            connections.append(conn)

        def established(worker: psutil.Process) -> int:
            conns = worker.net_connections("tcp")
            return sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == server.port for c in conns)

        assert sorted(established(w) for w in psutil.Process(server.proc.pid).children()) == [6, 6]
    finally:
        for conn in connections:
            conn.close()


def test_head_that_never_ends_is_closed_with_a_json_408(server):
    from mathocr.web.worker import HEAD_TIMEOUT_S

    with socket.create_connection(("127.0.0.1", server.port), timeout=HEAD_TIMEOUT_S + 10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = s.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and json.loads(body)["error"]["code"] == "request_timeout"


def test_concurrent_answers_are_never_mixed(server):
    texts = ["12+3", "7-4", "25+17", "8*3"] * 6
    expected = {"12+3": "15", "7-4": "3", "25+17": "42", "8*3": "24"}
    images = {t: render_png(t) for t in expected}
    got: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def client(mine: list[str]) -> None:
        for text in mine:
            status, _, body, _ = request(
                server.port, "POST", SOLVE, images[text], {"Content-Type": "image/png"}
            )
            with lock:
                got.append((text, status, body.get("value")))

    threads = [threading.Thread(target=client, args=(texts[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(got) == sorted((t, 200, expected[t]) for t in texts)


# ---------------------------------------------------------------- the fuzz list: JSON, never 5xx
def test_deeply_nested_json_is_a_400(server):
    body = b"[" * 100_000 + b"]" * 100_000
    status, _, payload, _ = request(server.port, "POST", SOLVE, body, {"Content-Type": "application/json"})
    assert_json_error(status, payload, 400, "invalid_json")


def test_body_over_the_limit_is_refused_before_it_is_read(server):
    """A 25 MiB body is announced, 64 KiB sent: the 413 comes without the rest."""
    head = (
        f"POST {SOLVE} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {25 << 20}\r\n\r\n"
    ).encode()
    status, _, body = raw_exchange(server.port, head + b"\0" * 65536)
    assert_json_error(status, body, 413, "too_large")
    assert "10 MB" in body["error"]["message"]


def test_huge_header_is_a_json_431(server):
    status, _, body = raw_exchange(
        server.port, b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n"
    )
    assert_json_error(status, body, 431, "headers_too_large")
    assert "8,190 bytes" in body["error"]["message"]


def test_long_request_line_is_a_json_414(server):
    status, _, body = raw_exchange(server.port, b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_error(status, body, 414, "uri_too_long")


@pytest.mark.parametrize(
    "data",
    [
        b"POST /api/v1/solve HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /api/v1/solve HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
        b"G@T /healthz HTTP/1.1\r\n\r\n",
    ],
    ids=["bad-content-length", "two-content-lengths", "bad-version", "tls-hello", "bad-method"],
)
def test_malformed_http_is_a_json_400(server, data):
    status, _, body = raw_exchange(server.port, data)
    assert_json_error(status, body, 400, "bad_request")


@pytest.mark.parametrize("path", ["//etc/passwd", "/..%2f..%2fetc/passwd", "/healthz/", "/static/../app.py"])
def test_odd_paths_are_json_404s_not_redirects(server, path):
    status, _, body = raw_exchange(server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    if path == "/healthz/":  # the same resource; never a redirect
        assert status == 200 and body["status"] == "ok"
    else:
        assert_json_error(status, body, 404, "not_found")


def test_many_form_fields_get_their_own_message(server):
    data, ctype = multipart({f"f{i}": b"x" for i in range(2000)})
    status, _, body, _ = request(server.port, "POST", SOLVE, data, {"Content-Type": ctype})
    assert_json_error(status, body, 413, "too_many_fields")
    assert (
        "100 fields" in body["error"]["message"]
        and "too large: the limit is 10 MB" not in body["error"]["message"]
    )


def test_huge_image_quotes_mathocrs_pixel_limit(server):
    data, ctype = multipart({"image": png_header_only(20_000, 20_000)})
    status, _, body, _ = request(server.port, "POST", SOLVE, data, {"Content-Type": ctype})
    assert_json_error(status, body, 413, "too_large")
    assert "25,000,000" in body["error"]["message"] and "178956970" not in body["error"]["message"]


def test_truncated_body_is_a_json_400_not_a_500(server):
    head = f"POST {SOLVE} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(head.encode() + b"\x89PNG" * 10)
        s.shutdown(socket.SHUT_WR)  # the client gives up mid-body
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
            if b"}\n" in answer or answer.endswith(b"}"):
                break
    if answer:  # an answer, if any, is a JSON 4xx
        head_, _, body = answer.partition(b"\r\n\r\n")
        assert head_.split(b" ")[1].startswith(b"4") and json.loads(body)["error"]


# ---------------------------------------------------------------- operations
def test_request_id_is_echoed_and_logged_with_status_ms_and_symbols(server):
    status, headers, _, _ = request(
        server.port,
        "POST",
        SOLVE,
        render_png("12+3"),
        {"Content-Type": "image/png", "X-Request-ID": "abuse-42"},
    )
    assert status == 200 and headers["x-request-id"] == "abuse-42"
    _, made, _, _ = request(server.port, "GET", "/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made["x-request-id"]) == 32  # an unusable id is replaced, not echoed
    deadline = time.monotonic() + 5
    while True:
        lines = [
            line for line in server.stderr().splitlines() if "mathocr.access" in line and "abuse-42" in line
        ]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    record = json.loads(lines[0][lines[0].index("{") :])
    assert record["id"] == "abuse-42" and record["status"] == 200 and record["symbols"] == 4
    assert record["path"] == SOLVE and record["ms"] > 0


def test_metrics_count_requests_by_status_over_all_workers(server):
    for _ in range(6):
        request(server.port, "GET", "/no/such/page")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    counts = {
        line.split("{")[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("mathocr_http_requests_total{")
    }
    assert counts['status="404"'] >= 6  # whichever worker answered each
    assert 'mathocr_http_request_seconds_bucket{le="0.05",status="200"}' in text


def test_metrics_are_off_by_default():
    from mathocr.web import create_app

    app = create_app({"SOLVER": object(), "WARMUP": False})
    r = app.test_client().get("/metrics")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_graceful_reload_keeps_answering(server):
    """SIGHUP: gunicorn replaces every worker; requests meanwhile are answered, not refused."""
    import psutil

    master = psutil.Process(server.proc.pid)
    before = {p.pid for p in master.children()}
    master.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while True:
        status, _, body, took = request(server.port, "GET", "/healthz")
        assert status == 200 and took < STALL_S
        now = {p.pid for p in master.children()}
        if len(now) == 2 and not now & before:
            break
        assert time.monotonic() < deadline, "the workers were not replaced"
        time.sleep(0.05)
    status, _, body, _ = request(server.port, "POST", SOLVE, render_png("7-4"), PNG)
    assert status == 200 and body["value"] == "3"


# ---------------------------------------------------------------- schemathesis, over HTTP
@pytest.fixture(scope="module")
def http_schema(server):
    import schemathesis

    return schemathesis.openapi.from_url(f"http://127.0.0.1:{server.port}/api/v1/openapi.json")


def _schemathesis_over_http():
    import schemathesis
    from hypothesis import HealthCheck, settings

    schema = schemathesis.pytest.from_fixture("http_schema")

    @schema.parametrize()
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def test_openapi_conformance_over_http(case):
        """The same checks as tests/test_api_fuzz.py, through gunicorn and its worker class:
        every answer conforms to the description (JSON, documented statuses), none is a 5xx."""
        case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])

    return test_openapi_conformance_over_http


test_openapi_conformance_over_http = _schemathesis_over_http()


def test_no_5xx_was_answered(server):
    """Across everything above (run in file order): the access log holds no 5xx."""
    statuses = [
        json.loads(line[line.index("{") :])["status"]
        for line in server.stderr().splitlines()
        if "mathocr.access" in line
    ]
    assert statuses and max(statuses) < 500
    assert "Traceback" not in server.stderr()
