"""Serving mathocr over HTTP: a Flask app factory, the drawing page and the JSON API.

Run it with ``mathocr serve`` (waitress, a production WSGI server), or point any WSGI
server at :mod:`mathocr.web.wsgi`. See ``mathocr/web/README.md``.

Examples
--------
>>> from mathocr.web import create_app
>>> app = create_app()          # loads the bundled model once  # doctest: +SKIP
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
