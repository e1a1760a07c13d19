"""HTTP serving benchmark: the Flask app on gunicorn, waitress and the pre-gunicorn server.

Run::

    python -m pytest benchmarks/bench_http.py -q

Every server is a separate process started like a user starts it (``python -m mathocr
serve``), so the client threads here do not share its interpreter. Figures go to
``benchmark.extra_info`` (seconds unless named ``_ms`` / ``_mb``):

* ``test_concurrent_solve``: 8 client threads posting 600x200 PNG drawings of 7 symbols
  as the page does (multipart) to ``mathocr serve`` as users start it (its default
  worker processes and threads); errors (must be 0), p50/p99 latency, throughput, and
  the resident memory of each server process after warm-up.
* ``test_concurrent_solve_one_process``: the same load on one process with 8 threads
  (``--workers 1 --threads 8``), to show what the worker processes buy.
* ``test_cold_start``: process spawn to ``/readyz`` and to the first answer; RSS then.
* ``test_old_design``: the old request path, for the ratio: the upload is written to one
  shared file and the model is reloaded (``Solver.load``: ``load_pipeline`` with its
  integrity check, then unpickling) inside every request. It also counts the answers
  that came back for *another* request's image, which the shared file causes.

* ``test_compare_servers``: in one run, ``mathocr serve`` on gunicorn (the default),
  ``mathocr serve --server waitress`` and the server ``mathocr serve`` ran before gunicorn
  (waitress in pre-forked workers with a shared-memory connection balancer, kept as
  ``benchmarks/prefork_server.py``); also gunicorn with stock ``gthread`` workers and with 1 and 2
  threads per worker. All run at once; each gets the same measurements: the 8-client load
  above, in 5 rounds that take turns in a rotating order (medians of the rounds);
  ``/healthz`` latency while 200 idle TCP connections are open (probes time out after
  20 s, and the phase ends after 30 s); the memory of all its processes together (RSS,
  and PSS, which counts a page shared by n processes as 1/n in each, so copy-on-write
  sharing shows). Ratios are to the pre-gunicorn server.

Counts and time are bounded; nothing asserts a timing.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (the old-design server) from anywhere
    sys.path.insert(0, str(ROOT))

from mathocr.web.handwriting import render_png  # noqa: E402

CLIENTS = 8
# Seven symbols each, as a typical drawing on the page (600x200 canvas).
EXPRESSIONS = ("12+69-3", "45*7-18", "8/4+350", "903-27+6", "6*7+123", "77-4*12")
SIZE = (600, 200)
READY_TIMEOUT = 60.0


# ---------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def multipart_body(data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file field ``image``, as the page's FormData."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="drawing.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


class Server:
    """A server process on a free loopback port; ``ready_s`` is spawn to ``/readyz`` = 200."""

    def __init__(self, args: list[str]):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        # A file, not a pipe: nobody reads a pipe while the load runs, and a server
        # that fills it (a log line per request) would block mid-benchmark.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, *args, "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            text=True,
        )
        self.ready_s = self._wait_ready()

    def _wait_ready(self) -> float:
        deadline = self.t0 + READY_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.t0
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.stderr()[-2000:]}")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError("server did not become ready")
            time.sleep(0.02)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def rss_mb(self) -> float:
        """Resident memory of the largest server process (the workers when there are several)."""
        return max(self.rss_per_process_mb())

    def rss_per_process_mb(self) -> list[float]:
        main = psutil.Process(self.proc.pid)
        return [round(p.memory_info().rss / 2**20, 1) for p in [main, *main.children()]]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def post(conn: http.client.HTTPConnection, body: bytes, content_type: str) -> tuple[int, dict, float]:
    t0 = time.perf_counter()
    conn.request("POST", "/api/v1/solve", body=body, headers={"Content-Type": content_type})
    response = conn.getresponse()
    raw = response.read()
    try:
        payload = json.loads(raw)
    except ValueError:  # the old design's error pages are HTML
        payload = {"not_json": raw[:200].decode("latin-1")}
    return response.status, payload, time.perf_counter() - t0


def load_run(port: int, per_client: int, images: dict[str, bytes]) -> dict:
    """CLIENTS threads, each with a keep-alive connection, each sending ``per_client`` images."""
    names = sorted(images)
    bodies = {n: multipart_body(images[n]) for n in names}
    latencies: list[float] = []
    answers: list[tuple[str, int, dict]] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        try:
            for j in range(per_client):
                name = names[(i + j) % len(names)]
                status, payload, seconds = post(conn, *bodies[name])
                with lock:
                    latencies.append(seconds)
                    answers.append((name, status, payload))
        except Exception as exc:  # a dropped connection is an error of the run, not a crash
            with lock:
                failures.append(repr(exc))
        finally:
            conn.close()

    t0, cpu0 = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    wall = time.perf_counter() - t0
    client_cpu = time.process_time() - cpu0
    lat = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "failures": failures,
        "answers": answers,
        "wall_s": wall,
        # The clients run on the same cores as the server: what they take, it does not get.
        "client_cpu_ms_per_request": 1000 * client_cpu / max(len(latencies), 1),
        "throughput_rps": len(latencies) / wall if wall else 0.0,
        "p50_ms": float(np.percentile(lat, 50)) if lat.size else float("nan"),
        "p99_ms": float(np.percentile(lat, 99)) if lat.size else float("nan"),
        "mean_ms": float(lat.mean()) if lat.size else float("nan"),
    }


def reference_answers(port: int, images: dict[str, bytes]) -> dict[str, dict]:
    """One answer per image, sent alone: what every concurrent answer must equal."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        return {name: post(conn, *multipart_body(data))[1] for name, data in images.items()}
    finally:
        conn.close()


def check(run: dict, expected: dict[str, dict]) -> dict:
    http_errors = sum(1 for _, status, _ in run["answers"] if status >= 500 or status in (400, 413, 415))
    mixed = sum(1 for name, _, payload in run["answers"] if payload != expected[name])
    return {"errors": http_errors + len(run["failures"]), "answers_for_another_image": mixed}


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    return {text: render_png(text, size=SIZE) for text in EXPRESSIONS}


SERVE = ["-m", "mathocr", "serve"]  # as users start it: default workers and threads


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server(SERVE)
    yield s
    s.stop()


_results: dict[str, dict] = {}


# ---------------------------------------------------------------- benchmarks
def test_concurrent_solve(benchmark, server, images):
    _results["new"] = _concurrent(benchmark, server, images)


def test_concurrent_solve_one_process(benchmark, images):
    s = Server([*SERVE, "--workers", "1", "--threads", str(CLIENTS)])
    try:
        info = _concurrent(benchmark, s, images)
    finally:
        s.stop()
    new = _results.get("new")
    if new:
        info["p50_ratio_over_default"] = round(info["p50_ms"] / new["p50_ms"], 2)
        info["throughput_ratio_default_over_this"] = round(new["throughput_rps"] / info["throughput_rps"], 2)
        benchmark.extra_info.update(info)


def _concurrent(benchmark, server: Server, images: dict[str, bytes]) -> dict:
    from mathocr.web.server import default_workers

    expected = reference_answers(server.port, images)
    load_run(server.port, 2, images)  # warm-up: threads, connections, ONNX Runtime arenas
    runs: list[dict] = []

    def one_round() -> None:
        runs.append(load_run(server.port, 12, images))

    benchmark.pedantic(one_round, rounds=3, iterations=1)
    answers = [a for r in runs for a in r["answers"]]
    merged = {"answers": answers, "failures": [f for r in runs for f in r["failures"]]}
    lat = np.array([r["p50_ms"] for r in runs])
    rss = server.rss_per_process_mb()
    args = server.args

    def option(name: str, default: object) -> object:
        return args[args.index(name) + 1] if name in args else default

    info = {
        "clients": CLIENTS,
        "server_processes": len(rss) - 1 if len(rss) > 1 else 1,
        "server_workers_option": option("--workers", default_workers()),
        "server_threads_option": option("--threads", "default"),
        "requests": len(answers),
        **check(merged, expected),
        "status_counts": {str(s): sum(1 for _, st, _ in answers if st == s) for s in {a[1] for a in answers}},
        "p50_ms": float(np.median(lat)),
        "p99_ms": float(max(r["p99_ms"] for r in runs)),
        "throughput_rps": float(np.mean([r["throughput_rps"] for r in runs])),
        "client_cpu_ms_per_request": round(float(np.mean([r["client_cpu_ms_per_request"] for r in runs])), 2),
        "cpu_count": os.cpu_count(),
        "rss_mb_after_warmup": max(rss),
        "rss_mb_per_process": " ".join(f"{x:g}" for x in rss),
        "server_ready_s": round(server.ready_s, 3),
    }
    benchmark.extra_info.update(info)
    assert info["errors"] == 0 and not merged["failures"]
    assert info["answers_for_another_image"] == 0
    return info


def test_cold_start(benchmark, images):
    body, ctype = multipart_body(images[EXPRESSIONS[0]])
    samples: list[dict] = []

    def cold_start() -> None:
        s = Server(SERVE)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
            status, _, _ = post(conn, body, ctype)
            first = time.perf_counter() - s.t0
            conn.close()
            samples.append(
                {"ready_s": s.ready_s, "first_answer_s": first, "status": status, "rss_mb": s.rss_mb()}
            )
        finally:
            s.stop()

    benchmark.pedantic(cold_start, rounds=3, iterations=1)
    info = {
        "ready_s_median": round(float(np.median([x["ready_s"] for x in samples])), 3),
        "first_answer_s_median": round(float(np.median([x["first_answer_s"] for x in samples])), 3),
        "first_answer_s_max": round(float(max(x["first_answer_s"] for x in samples)), 3),
        "rss_mb_after_first_answer": round(float(np.median([x["rss_mb"] for x in samples])), 1),
        "target_first_answer_s": 2.0,
    }
    benchmark.extra_info.update(info)
    assert all(x["status"] in (200, 422) for x in samples)


IDLE_CONNECTIONS = 200
SERVERS = {
    "gunicorn": SERVE,
    "waitress": [*SERVE, "--server", "waitress"],
    # What `mathocr serve` ran before gunicorn, with its defaults (2 workers x 1 thread here).
    "prefork": [str(Path(__file__).resolve().with_name("prefork_server.py"))],
    # mathocr serve's gunicorn settings with gunicorn's own gthread worker instead of
    # mathocr.web.worker.ThreadWorker: why the worker class exists.
    "gunicorn-stock-gthread": [str(Path(__file__).resolve()), "stock-gthread-server"],
    # The default's threads per worker (4) against fewer.
    "gunicorn-threads-1": [*SERVE, "--threads", "1"],
    "gunicorn-threads-2": [*SERVE, "--threads", "2"],
}
ROUNDS = 5


def idle_probe(port: int, idle: int = IDLE_CONNECTIONS, probes: int = 30) -> dict:
    """``/healthz`` latency, one fresh connection per probe, while ``idle`` connections sit open."""
    sockets = []
    try:
        for _ in range(idle):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.2)
        latencies, failures = [], 0
        deadline = time.monotonic() + 30
        for _ in range(probes):
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                conn.request("GET", "/healthz")
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError:
                ok = False
            latencies.append(time.perf_counter() - t0)
            failures += not ok
            if time.monotonic() > deadline:
                break
    finally:
        for sock in sockets:
            sock.close()
    lat = np.array(latencies) * 1000
    return {
        "idle_connections": idle,
        "healthz_probes": len(lat),
        "healthz_failures": failures,
        "healthz_p50_ms": round(float(np.percentile(lat, 50)), 1),
        "healthz_p99_ms": round(float(np.percentile(lat, 99)), 1),
        "healthz_max_ms": round(float(lat.max()), 1),
    }


def memory_mb(server: Server) -> dict:
    """RSS and PSS of the server's processes, summed."""
    main = psutil.Process(server.proc.pid)
    procs = [main, *main.children(recursive=True)]
    rss = sum(p.memory_info().rss for p in procs)
    try:
        pss = sum(p.memory_full_info().pss for p in procs)
    except (AttributeError, psutil.AccessDenied):  # PSS is Linux-only
        pss = float("nan")
    return {"processes": len(procs), "rss_mb_all": round(rss / 2**20, 1), "pss_mb_all": round(pss / 2**20, 1)}


def test_compare_servers(benchmark, images):
    """gunicorn, waitress and the pre-gunicorn server, measured alike in one run.

    Every server runs at once (idle while another is measured) and the load rounds take
    turns, in a rotating order, so that a change in what else the machine runs falls on
    all of them alike.
    """
    results: dict[str, dict] = {}

    def measure_all() -> None:
        servers: dict[str, Server] = {}
        try:
            for name, args in SERVERS.items():
                servers[name] = Server(args)
            expected = {name: reference_answers(s.port, images) for name, s in servers.items()}
            runs: dict[str, list[dict]] = {name: [] for name in servers}
            names = list(servers)
            for name in names:
                load_run(servers[name].port, 2, images)  # warm-up
            for round_ in range(ROUNDS):
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    runs[name].append(load_run(servers[name].port, 12, images))
            for name, s in servers.items():
                merged = {
                    "answers": [a for r in runs[name] for a in r["answers"]],
                    "failures": [f for r in runs[name] for f in r["failures"]],
                }
                results[name] = {
                    "ready_s": round(s.ready_s, 2),
                    **memory_mb(s),
                    "requests": len(merged["answers"]),
                    **check(merged, expected[name]),
                    "p50_ms": round(float(np.median([r["p50_ms"] for r in runs[name]])), 1),
                    "p99_ms": round(float(np.median([r["p99_ms"] for r in runs[name]])), 1),
                    "throughput_rps": round(float(np.median([r["throughput_rps"] for r in runs[name]])), 1),
                    **idle_probe(s.port),
                }
        finally:
            for s in servers.values():
                s.stop()

    benchmark.pedantic(measure_all, rounds=1, iterations=1)
    base = results["prefork"]
    for name, r in results.items():
        r["p50_ratio_to_prefork"] = round(r["p50_ms"] / base["p50_ms"], 2)
        r["throughput_ratio_to_prefork"] = round(r["throughput_rps"] / base["throughput_rps"], 2)
        r["pss_ratio_to_prefork"] = round(r["pss_mb_all"] / base["pss_mb_all"], 2)
        benchmark.extra_info.update({f"{name}_{k}": v for k, v in r.items()})
        print(name, json.dumps(r))
    for name, r in results.items():
        assert r["errors"] == 0 and r["answers_for_another_image"] == 0, name


def test_old_design(benchmark, images):
    """The old request path under the same 8 clients, fewer requests (each reloads the model)."""
    s = Server([str(Path(__file__).resolve()), "old-server"])
    try:
        # Sent one at a time the shared file is harmless: these are the right answers.
        expected = reference_answers(s.port, images)
        runs: list[dict] = []
        benchmark.pedantic(lambda: runs.append(load_run(s.port, 3, images)), rounds=1, iterations=1)
        rss = s.rss_mb()
    finally:
        s.stop()
    run = runs[0]
    info = {
        "clients": CLIENTS,
        "requests": run["requests"],
        **check(run, expected),
        "p50_ms": run["p50_ms"],
        "p99_ms": run["p99_ms"],
        "throughput_rps": run["throughput_rps"],
        "rss_mb": round(rss, 1),
    }
    new = _results.get("new")
    if new:
        info["p50_ratio_old_over_new"] = round(info["p50_ms"] / new["p50_ms"], 1)
        info["throughput_ratio_new_over_old"] = round(new["throughput_rps"] / info["throughput_rps"], 1)
    benchmark.extra_info.update(info)


# ---------------------------------------------------------------- the old design, for the ratio
def old_design_app(upload_path: Path):
    """The request path this project replaced: shared upload file, model reloaded per request."""
    from flask import Flask, jsonify, request

    from mathocr.solver import Solver

    app = Flask("old_design")

    @app.get("/readyz")
    def readyz():
        return jsonify(status="ready")

    @app.post("/api/v1/solve")
    def solve():
        request.files["image"].save(upload_path)  # one path for every request
        # load_pipeline(): read, verify, unpickle, build the ONNX session; every request.
        solver = Solver.load(os.environ.get("MATHOCR_MODEL") or None)
        solution = solver.solve(str(upload_path))
        return jsonify(solution.to_dict()), 422 if solution.error else 200

    return app


def _serve_old(argv: list[str]) -> None:
    import waitress

    port = int(argv[argv.index("--port") + 1])
    with tempfile.TemporaryDirectory() as tmp:
        waitress.serve(old_design_app(Path(tmp) / "upload.png"), host="127.0.0.1", port=port, threads=CLIENTS)


if __name__ == "__main__" and sys.argv[1:2] == ["old-server"]:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    _serve_old(sys.argv)
elif __name__ == "__main__" and sys.argv[1:2] == ["stock-gthread-server"]:
    from mathocr.web import server as _server
    from mathocr.web.app import create_app

    _port = int(sys.argv[sys.argv.index("--port") + 1])
    _app = create_app({"WARMUP": False, "MATHOCR_WORKER_WARMUP": True})
    _opts = _server.gunicorn_options("127.0.0.1", _port, _server.default_workers(), 4, worker_class="gthread")
    sys.exit(_server._run_gunicorn(_app, _opts))
