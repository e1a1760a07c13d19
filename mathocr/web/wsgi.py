"""WSGI entry point for servers other than ``mathocr serve``.

The model is loaded when this module is imported, once per worker process; its path
comes from ``$MATHOCR_MODEL`` (the bundled model when unset).

Examples
--------
Any WSGI server can serve it, e.g. waitress's own runner::

    waitress-serve --threads 8 --listen 127.0.0.1:8000 mathocr.web.wsgi:app
"""

from __future__ import annotations

from mathocr.web.app import create_app

app = create_app()
