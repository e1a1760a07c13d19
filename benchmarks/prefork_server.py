"""The server ``mathocr serve`` ran before gunicorn, kept as it was: the baseline of ``bench_http.py``.

A parent process binds the port and forks one waitress process per core (at most 4), each
with one request thread; a shared-memory "least connections" gate decides which process
accepts the next connection; the parent respawns workers that die. It stalled with ~50 idle
connections, the reason it was replaced (benchmarks/README.md, "HTTP"). Run as::

    python benchmarks/prefork_server.py --port 8000
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

import waitress

from mathocr.web.app import create_app

_RESPAWN_WINDOW_S = 10.0
_MAX_RESPAWNS = 5


def default_workers() -> int:
    """One worker process per CPU core, at most 4; 1 where ``os.fork`` is missing (Windows)."""
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def _waitress_options(threads: int, max_body: int) -> dict[str, Any]:
    # waitress buffers a whole body before the app sees it: cap it a little above
    # Flask's limit (so the app still answers 413 as JSON) and keep it in memory,
    # never in a temporary file.
    return {
        "threads": threads,
        "ident": "mathocr",
        "max_request_body_size": max_body,
        "inbuf_overflow": max_body,
    }


def _quiet_queue_warnings() -> None:
    # With one thread per worker, a request waiting for the one before it is the
    # design, not a fault; waitress would log a warning for each (hundreds a second
    # under load, each costing CPU that the requests need).
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class _Balance:
    """Open connections per worker, in memory the forked workers share.

    Workers share one listening socket and the kernel hands each new connection to
    whichever asks first, so a keep-alive client stays with a worker picked at
    random: measured with 8 clients on 2 workers, splits like 6/2 cut throughput by
    up to a third against 4/4. Here a worker takes new connections only while it
    holds no more than any other (nginx's "least connections"). The least loaded
    always keeps listening, so a new connection is never left in the backlog.
    """

    UNKNOWN = 2**31 - 1  # a worker not serving yet (starting, replaced) holds no one back

    def __init__(self, workers: int):
        self._mem = mmap.mmap(-1, 4 * workers)  # anonymous and shared across fork
        self.counts = memoryview(self._mem).cast("i")
        for slot in range(workers):
            self.forget(slot)

    def forget(self, slot: int) -> None:
        self.counts[slot] = self.UNKNOWN

    def gate(self, server: Any, sock: socket.socket, slot: int) -> None:
        """Make ``server``'s listener on ``sock`` accept only while this worker is least loaded."""
        # create_server returns the listener itself for one socket, else a holder of several.
        channels = server._map if getattr(server, "socket", None) is sock else server.map
        listener = next(d for d in channels.values() if getattr(d, "socket", None) is sock)
        readable, counts = listener.readable, self.counts

        def least_loaded() -> bool:
            # Called by waitress before every select(); its own checks (connection
            # limit, idle-channel clean-up) still run first.
            ok = readable()
            mine = counts[slot] = len(channels)
            return ok and mine <= min(counts)

        listener.readable = least_loaded


def _announce(host: str, port: int, workers: int, threads: int) -> None:
    where = f"[{host}]" if ":" in host else host
    print(
        f"mathocr serving http://{where}:{port}/ with {workers} process(es) x {threads} thread(s) "
        "(Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )


def prefork_serve(
    config: Mapping[str, Any],
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 1,
    workers: int = 1,
    max_body: int = 21 << 20,
) -> int:
    """Serve :func:`mathocr.web.create_app` ``(config)`` until stopped.

    Parameters
    ----------
    config : mapping
        Passed to :func:`mathocr.web.create_app` in every worker.
    host, port : str, int
        Where to listen.
    threads : int
        Request threads per worker process.
    workers : int
        Processes sharing the listening socket (forked; 1 where fork is missing).
    max_body : int
        Largest request body waitress buffers, in bytes.

    Returns
    -------
    int
        0 after a clean stop; 2 when the workers could not start.

    Raises
    ------
    mathocr.errors.MathOCRError
        The model could not be loaded (single-process mode).
    OSError
        The address is in use or cannot be bound.
    """
    options = _waitress_options(threads, max_body)
    _quiet_queue_warnings()
    if workers <= 1 or not hasattr(os, "fork"):
        app = create_app(config)
        _announce(host, port, 1, threads)
        waitress.serve(app, host=host, port=port, **options)
        return 0

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024)
    _announce(host, port, workers, threads)
    balance = _Balance(workers)
    children: dict[int, int] = {}  # pid -> slot in `balance`
    stopping = False

    def spawn(slot: int) -> None:
        balance.forget(slot)
        pid = os.fork()
        if pid == 0:  # the worker: whatever happens, it never returns into the parent's loop
            status = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us on Ctrl+C
                try:
                    app = create_app(config)
                except Exception as exc:  # reported once, by the worker that saw it
                    print(f"mathocr serve: error: {exc}", file=sys.stderr, flush=True)
                    status = 2
                else:
                    server = waitress.create_server(app, sockets=[sock], **options)
                    balance.gate(server, sock, slot)
                    server.run()
                    status = 0
            finally:
                os._exit(status)
        children[pid] = slot

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for slot in range(workers):
            spawn(slot)
        respawns: list[float] = []
        status = 0
        while children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            slot = children.pop(pid, None)
            if slot is None:
                continue
            balance.forget(slot)
            if stopping:
                continue
            if os.waitstatus_to_exitcode(wait_status) == 2:
                status = 2
                stop()
                continue
            # A worker died (killed, out of memory): replace it, unless they keep dying.
            now = time.monotonic()
            respawns = [t for t in respawns if now - t < _RESPAWN_WINDOW_S] + [now]
            if len(respawns) > _MAX_RESPAWNS:
                print("mathocr serve: error: workers keep dying; stopping", file=sys.stderr, flush=True)
                status = 2
                stop()
                continue
            spawn(slot)
        return status
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()


def _serve_prefork(argv: list[str]) -> None:
    from mathocr.web.server import default_workers

    port = int(argv[argv.index("--port") + 1])
    limit = 10 << 20
    workers = default_workers()
    sys.exit(
        prefork_serve(
            {"MAX_CONTENT_LENGTH": limit},
            port=port,
            threads=1 if workers > 1 else 4,
            workers=workers,
            max_body=2 * limit + (1 << 20),
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    _serve_prefork(sys.argv)
