"""Run the app: gunicorn on Linux and macOS, waitress on Windows (and on request).

gunicorn (the server Flask's deployment docs list first) manages the worker processes:
``--workers`` processes (default one per core, at most 4: solving holds the GIL, so one
process uses about one core) with ``--threads`` request threads each. The app, and so the
model, is built once in the master process before the workers are forked
(``preload_app``): the workers share its memory copy-on-write, and a model that cannot be
loaded stops ``mathocr serve`` before anything listens. The worker class is
:class:`mathocr.web.worker.ThreadWorker`, gunicorn's ``gthread`` with request heads read by
the event loop (idle and slow-sending connections hold no thread) and JSON error answers.

gunicorn does not run on Windows; there (or with ``server="waitress"``) one waitress
process serves with ``threads`` threads.

Examples
--------
>>> from mathocr.web.server import serve
>>> serve({"MAX_CONTENT_LENGTH": 10 << 20}, port=8000, workers=2)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask

from .app import create_app

__all__ = [
    "GUNICORN_DEFAULTS",
    "STARTUP_FAILED",
    "default_server",
    "default_workers",
    "gunicorn_options",
    "serve",
]

STARTUP_FAILED = 2
"""Exit status of :func:`serve` when the workers could not start: the status the command
line gives errors a user can fix."""

GUNICORN_DEFAULTS: dict[str, Any] = {
    "worker_class": "mathocr.web.worker.ThreadWorker",
    # An idle connection (a new one before its first byte, or a kept-alive one) is
    # closed after this many seconds; it costs a file descriptor meanwhile, not a thread.
    "keepalive": 5,
    # A worker whose event loop is silent this long is killed and replaced.
    "timeout": 60,
    "graceful_timeout": 30,
    "limit_request_line": 8190,
    "limit_request_fields": 100,
    "limit_request_field_size": 8190,
    # Connections per worker, idle ones included (waitress's own limit is 100).
    "worker_connections": 1000,
    "backlog": 2048,
    "preload_app": True,
    "proc_name": "mathocr",
    "errorlog": "-",
    "loglevel": "info",
    # mathocr.web writes its own access log (one JSON line per request).
    "accesslog": None,
    # gunicornc's socket (in the home directory) is not needed: signals control the server.
    "control_socket_disable": True,
}
"""The gunicorn settings ``mathocr serve`` uses besides bind, workers and threads."""


def default_workers() -> int:
    """One worker process per CPU core, at most 4; 1 on Windows (no fork, no gunicorn)."""
    if sys.platform == "win32":
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def default_server() -> str:
    """``"gunicorn"`` where it runs (Linux, macOS), ``"waitress"`` on Windows."""
    return "waitress" if sys.platform == "win32" else "gunicorn"


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_options(host: str, port: int, workers: int, threads: int, **overrides: Any) -> dict[str, Any]:
    """The complete gunicorn settings for :func:`serve`.

    Examples
    --------
    >>> opts = gunicorn_options("::1", 8000, workers=2, threads=4)
    >>> opts["bind"], opts["workers"], opts["preload_app"]
    (['[::1]:8000'], 2, True)
    """
    chosen = {"bind": [_bind(host, port)], "workers": workers, "threads": threads}
    return {**GUNICORN_DEFAULTS, **chosen, **overrides}


def _announce(server: str, host: str, port: int, workers: int, threads: int) -> None:
    where = f"[{host}]" if ":" in host else host
    print(
        f"mathocr serving http://{where}:{port}/ on {server} with {workers} process(es) x {threads} "
        "thread(s) (Ctrl+C stops)",
        file=sys.stderr,
        flush=True,
    )


def _warm_up_worker(worker: Any) -> None:
    """gunicorn's post_worker_init: the warm-up solve, in each worker, after the fork.

    Not in the master: a process that has run ONNX Runtime and then forks leaves the
    children a runtime that aborts them at exit ("terminate called after throwing an
    instance of 'std::system_error'"). The model's arrays, loaded in the master, stay
    shared; each worker builds its own ONNX Runtime session (a few MB) here.
    """
    app: Flask = worker.wsgi
    state = app.extensions["mathocr"]
    if app.config.get("MATHOCR_WORKER_WARMUP"):
        import time

        from mathocr.io import read_image

        from .handwriting import render_png

        t0 = time.perf_counter()
        state.solver.solve(read_image(render_png("12+3", size=(300, 100))))
        state.warmup_seconds = time.perf_counter() - t0


def _run_gunicorn(app: Flask, options: Mapping[str, Any]) -> int:
    from gunicorn.app.base import BaseApplication

    from . import worker

    hooks = {
        "post_worker_init": _warm_up_worker,
        "pre_fork": worker.pre_fork,
        "child_exit": worker.child_exit,
    }
    options = {**hooks, **options}

    class _Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    try:
        _Application().run()
    except SystemExit as exc:  # gunicorn's arbiter ends with sys.exit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        # 1: the address could not be bound; 3: a worker failed to boot; 4: no app.
        if code:
            print(
                f"mathocr serve: error: gunicorn stopped with status {code} (its log above says why)",
                file=sys.stderr,
                flush=True,
            )
            return STARTUP_FAILED
        return 0
    return 0


def serve(
    config: Mapping[str, Any],
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 4,
    workers: int = 1,
    max_body: int = 21 << 20,
    server: str | None = None,
) -> int:
    """Serve :func:`mathocr.web.create_app` ``(config)`` until stopped.

    Parameters
    ----------
    config : mapping
        Passed to :func:`mathocr.web.create_app`, once, in this process.
    host, port : str, int
        Where to listen.
    threads : int
        Request threads per worker process.
    workers : int
        gunicorn worker processes (waitress: always one process).
    max_body : int
        Largest request body waitress buffers, in bytes (gunicorn streams bodies to the
        app, which refuses those over ``MAX_CONTENT_LENGTH`` before reading them).
    server : {"gunicorn", "waitress"}, optional
        Default: :func:`default_server`.

    Returns
    -------
    int
        0 after a clean stop; :data:`STARTUP_FAILED` when the workers could not start.

    Raises
    ------
    mathocr.errors.MathOCRError
        The model could not be loaded.
    OSError
        The address is in use or cannot be bound (waitress).
    """
    server = server or default_server()
    if server == "gunicorn":
        # Loaded (and its checksum checked) before any fork: one copy, shared by every
        # worker; the warm-up runs in each worker (see _warm_up_worker).
        warm = config.get("WARMUP", True)
        app = create_app({**config, "WARMUP": False, "MATHOCR_WORKER_WARMUP": warm})
        _announce("gunicorn", host, port, workers, threads)
        return _run_gunicorn(app, gunicorn_options(host, port, workers, threads))
    app = create_app(config)
    if server == "waitress":
        import waitress

        # With few threads, a request waiting for one is the design, not a fault; waitress
        # would log a warning for each (hundreds a second under load).
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        _announce("waitress", host, port, 1, threads)
        # Bodies stay in memory: waitress's temporary-file threshold is its body cap.
        waitress.serve(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="mathocr",
            max_request_body_size=max_body,
            inbuf_overflow=max_body,
            # waitress stops accepting at 100 open connections (its default), so 100 idle
            # ones stalled every other client; 500 stays under Windows' select() limit
            # (512), and a connection silent for 30 s is closed.
            connection_limit=500,
            channel_timeout=30,
        )
        return 0
    raise ValueError(f"unknown server {server!r}")
