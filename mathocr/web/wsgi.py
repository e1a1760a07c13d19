"""WSGI entry point for servers other than ``mathocr serve``.

The model is loaded when this module is imported, once per worker process; its path
comes from ``$MATHOCR_MODEL`` (the bundled model when unset).

Examples
--------
Any WSGI server can serve it, e.g. gunicorn with mathocr's worker class (request heads
read by the event loop, JSON error answers; see :mod:`mathocr.web.worker`), or waitress::

    gunicorn -k mathocr.web.worker.ThreadWorker -w 2 --threads 4 mathocr.web.wsgi:app
    waitress-serve --threads 8 --listen 127.0.0.1:8000 mathocr.web.wsgi:app

Not with gunicorn's ``--preload``: this module warms the model up (runs ONNX Runtime) on
import, and workers forked after that abort at exit. ``mathocr serve`` preloads the
model and warms up each worker after the fork (:mod:`mathocr.web.server`).
"""

from __future__ import annotations

from mathocr.web.app import create_app

app = create_app()
