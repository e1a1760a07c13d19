"""Run the app on waitress: one process, or several sharing one listening socket.

Why several: solving an image is mostly Python and numpy work that holds the GIL, so
one process uses about one core however many threads it has. Measured on the 2-core
reference machine with 8 concurrent clients: one process answered 107 requests/s
(p50 79 ms); two processes on one socket 229 requests/s (p50 30 ms). waitress has
no process manager of its own, so this module forks the workers (POSIX only), gives
each its own app (the model is loaded after the fork: ONNX Runtime sessions must not
cross a fork), restarts a worker that dies, and stops them all on SIGTERM or Ctrl+C.

Examples
--------
>>> from deploy.server import serve
>>> serve({"MAX_CONTENT_LENGTH": 10 << 20}, port=8000, workers=2)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

import waitress

from .app import create_app

__all__ = ["default_workers", "serve"]

STARTUP_FAILED = 2
"""Exit status of a worker that could not build its app (e.g. a corrupt model file), and of
:func:`serve` then: the status the command line gives errors a user can fix."""

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


def _announce(host: str, port: int, workers: int, threads: int) -> None:
    where = f"[{host}]" if ":" in host else host
    print(
        f"mathocr serving http://{where}:{port}/ with {workers} process(es) x {threads} thread(s) "
        "(Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )


def serve(
    config: Mapping[str, Any],
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 1,
    workers: int = 1,
    max_body: int = 21 << 20,
) -> int:
    """Serve :func:`deploy.create_app` ``(config)`` until stopped.

    Parameters
    ----------
    config : mapping
        Passed to :func:`deploy.create_app` in every worker.
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
        0 after a clean stop; :data:`STARTUP_FAILED` when the workers could not start.

    Raises
    ------
    mathocr.errors.MathOCRError
        The model could not be loaded (single-process mode).
    OSError
        The address is in use or cannot be bound.
    """
    options = _waitress_options(threads, max_body)
    if workers <= 1 or not hasattr(os, "fork"):
        app = create_app(config)
        _announce(host, port, 1, threads)
        waitress.serve(app, host=host, port=port, **options)
        return 0

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024)
    _announce(host, port, workers, threads)
    children: dict[int, float] = {}  # pid -> start time
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us on Ctrl+C
            status = 0
            try:
                app = create_app(config)
            except Exception as exc:  # reported once, by the worker that saw it
                print(f"mathocr serve: error: {exc}", file=sys.stderr, flush=True)
                status = STARTUP_FAILED
            else:
                waitress.serve(app, sockets=[sock], **options)
            os._exit(status)
        children[pid] = time.monotonic()

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
        for _ in range(workers):
            spawn()
        respawns: list[float] = []
        status = 0
        while children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            children.pop(pid, None)
            if stopping:
                continue
            if os.waitstatus_to_exitcode(wait_status) == STARTUP_FAILED:
                status = STARTUP_FAILED
                stop()
                continue
            # A worker died (killed, out of memory): replace it, unless they keep dying.
            now = time.monotonic()
            respawns = [t for t in respawns if now - t < _RESPAWN_WINDOW_S] + [now]
            if len(respawns) > _MAX_RESPAWNS:
                print("mathocr serve: error: workers keep dying; stopping", file=sys.stderr, flush=True)
                status = STARTUP_FAILED
                stop()
                continue
            spawn()
        return status
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
