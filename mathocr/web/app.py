"""The Flask application that serves a fitted mathocr pipeline: drawing page and JSON API.

Use :func:`create_app` and a production WSGI server (``mathocr serve`` runs gunicorn; waitress on Windows);
the model is loaded, checked and warmed up once, in :func:`create_app`, and shared by
every request thread. Requests keep their data in memory only: nothing is written to
disk, so concurrent requests cannot see each other's images.

A solve answers the solver's JSON (:meth:`mathocr.solver.Solution.to_dict`): HTTP 200 with
``status`` ``"ok"``, or ``"unsure"`` when close ``alternatives`` come along. Every error is
answered as JSON of one shape, ``{"error": {"code": ..., "message": ...}}``, never as an HTML
traceback page; a 422 for an expression that cannot be computed (``incomplete_expression``,
``malformed_expression``, ``no_expression``, ...) also carries ``"status": "error"`` and the
reading as read: ``expression``, ``tokens``, ``confidence``, ``warnings``, ``alternatives``.

Examples
--------
>>> from mathocr.web import create_app
>>> app = create_app()                                    # doctest: +SKIP
>>> app.test_client().get("/healthz").json                # doctest: +SKIP
{'status': 'ok', 'version': '0.1.0'}
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import IO, Any

from flask import Blueprint, Flask, Request, Response, current_app, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

import mathocr
from mathocr import errors
from mathocr.errors import HTTP_CODES, RegionError
from mathocr.io import read_image, read_reduced
from mathocr.region import Region
from mathocr.segmentation import MAX_SIDE
from mathocr.symbols import DISPLAY

from .handwriting import render_png

__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "DEFAULT_MAX_UPLOAD_BYTES", "ApiError", "create_app", "openapi_spec"]

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""A phone photo is 2-6 MB as JPEG; base64 in JSON adds a third."""

DEFAULT_MAX_IMAGE_PIXELS = 25_000_000
"""A 24-megapixel photo fits. Below the reader's own limit because up to one decoded
image per server thread is held at once (25 MP in RGB is 75 MB)."""

DEFAULT_MAX_FORM_PARTS = 100
"""The API reads one form field; a few more (a browser's extras) are harmless."""

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger("mathocr.access")
"""One JSON line per request: ``id``, ``method``, ``path``, ``status``, ``ms``, ``symbols``."""

_DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?P<params>(;[^,]*)?),(?P<data>.*)$", re.DOTALL)


class ApiError(Exception):
    """An error to answer as JSON with an HTTP status, a code and a plain-words message.

    Examples
    --------
    >>> ApiError(400, "missing_image", "Send the picture in the field 'image'.").status
    400
    """

    def __init__(self, status: int, code: str, message: str, extra: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra or {})


def error_status(exc: errors.MathOCRError) -> int:
    """The HTTP status for a mathocr error; unknown kinds are the server's fault (500).

    Examples
    --------
    >>> error_status(errors.ImageTooLargeError("big"))
    413
    >>> error_status(errors.EmptyExpressionError("nothing"))
    422
    """
    # Most specific first: the image errors are all ImageError subclasses.
    for cls, status in (
        (errors.ImageTooLargeError, 413),
        (errors.UnsupportedImageError, 415),
        (errors.ImageError, 400),
        (errors.ExpressionError, 422),
    ):
        if isinstance(exc, cls):
            return status
    return 500


class InMemoryRequest(Request):
    """A request whose multipart uploads stay in memory.

    Werkzeug spools uploads above 500 KB to temporary files; the body is already capped
    by ``MAX_CONTENT_LENGTH``, and keeping it in memory means no request writes a file.
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


@dataclass
class ServingState:
    """What :func:`create_app` loaded: the solver and how it got it."""

    solver: Any
    model: str
    load_seconds: float
    warmup_seconds: float | None


def openapi_spec() -> dict[str, Any]:
    """The OpenAPI description kept in ``mathocr/web/openapi.json``, with the package version.

    Examples
    --------
    >>> openapi_spec()["openapi"]
    '3.0.3'
    """
    spec = json.loads(resources.files(__package__).joinpath("openapi.json").read_text("utf-8"))
    spec["info"]["version"] = mathocr.__version__
    return spec


def _load_solver(model: str | None) -> Any:
    # Imported here so that `import mathocr.web` stays cheap and so the tests can inject a solver.
    from mathocr.solver import Solver

    return Solver.load(model)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app and load the model, once, for the life of the process.

    Parameters
    ----------
    config : mapping, optional
        Flask settings and these keys:

        ``MATHOCR_MODEL``
            Path of the pipeline file; default ``$MATHOCR_MODEL``, then the bundled model.
        ``SOLVER``
            An object with ``solve(image) -> Solution`` to use instead of loading one;
            tests inject fakes through it. ``image`` is the upload decoded under this
            server's limits, a :class:`mathocr.io.Reduced`: the ``uint8`` pixels, decoded
            no larger than the solver looks at them (a large JPEG at a half, a quarter or
            an eighth of its size), with the scale back to the whole image's pixels. A
            request that names a region calls ``solve(image, region=Region(...))``
            instead (:class:`mathocr.region.Region`, in the whole image's pixels).
        ``MAX_CONTENT_LENGTH``
            Largest request body in bytes (default 10 MiB); larger ones get 413.
        ``MAX_IMAGE_PIXELS``
            Largest image, width x height (default 25 million); larger ones get 413.
        ``MAX_FORM_PARTS``
            Most multipart fields (default 100); more get 413 ``too_many_fields``.
        ``WARMUP``
            Solve one small drawing before serving so the first user does not pay
            ONNX Runtime's first-run cost (default True).
        ``METRICS``
            Serve Prometheus metrics on ``/metrics`` (default False). Set
            ``$PROMETHEUS_MULTIPROC_DIR`` before starting several worker processes so
            that every worker's counts are summed.

    Returns
    -------
    flask.Flask
        The WSGI application.

    Raises
    ------
    mathocr.errors.ModelError
        If the model file is missing or fails its integrity check.

    Examples
    --------
    >>> app = create_app({"MATHOCR_MODEL": "mathocr/models/default.joblib"})   # doctest: +SKIP
    >>> import waitress; waitress.serve(app, port=8000)                       # doctest: +SKIP
    """
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.request_class = InMemoryRequest
    app.json.sort_keys = False
    app.config.update(
        MATHOCR_MODEL=os.environ.get("MATHOCR_MODEL") or None,
        SOLVER=None,
        MAX_CONTENT_LENGTH=DEFAULT_MAX_UPLOAD_BYTES,
        MAX_IMAGE_PIXELS=DEFAULT_MAX_IMAGE_PIXELS,
        MAX_FORM_PARTS=DEFAULT_MAX_FORM_PARTS,
        WARMUP=True,
        METRICS=False,
    )
    app.config.update(config or {})
    # A data URL sent as a plain multipart field is held to the same limit as a file part.
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]
    # "//etc/passwd" or "/healthz/" are not this app's paths: 404, never a redirect.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False

    t0 = time.perf_counter()
    solver = app.config["SOLVER"]
    if solver is None:
        solver = _load_solver(app.config["MATHOCR_MODEL"])
        model = str(app.config["MATHOCR_MODEL"] or "bundled default")
    else:
        model = type(solver).__name__
    load_seconds = time.perf_counter() - t0
    warmup_seconds = None
    if app.config["WARMUP"]:
        t0 = time.perf_counter()
        solver.solve(read_image(render_png("12+3", size=(300, 100))))
        warmup_seconds = time.perf_counter() - t0
    app.extensions["mathocr"] = ServingState(solver, model, load_seconds, warmup_seconds)
    log.info("mathocr model %s loaded in %.2fs", model, load_seconds)

    app.register_blueprint(_bp)
    _register_error_handlers(app)
    app.before_request(_start_request)
    app.after_request(_security_headers)
    app.after_request(_finish_request)
    if app.config["METRICS"]:
        app.extensions["mathocr.metrics"] = _Metrics()
        app.add_url_rule("/metrics", "metrics", _metrics_page)
    return app


_bp = Blueprint("mathocr", __name__)


@_bp.get("/")
def index() -> ResponseReturnValue:
    """The drawing page."""
    return render_template(
        "index.html",
        version=mathocr.__version__,
        max_upload=current_app.config["MAX_CONTENT_LENGTH"],
        display=DISPLAY,
    )


@_bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers."""
    return jsonify(status="ok", version=mathocr.__version__)


@_bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: the model is loaded (and warmed up) and requests can be served."""
    state: ServingState | None = current_app.extensions.get("mathocr")
    if state is None or state.solver is None:
        raise ApiError(503, "not_ready", "The model is not loaded yet.")
    return jsonify(
        status="ready",
        # The file name only: a probe that anyone can reach need not show server paths.
        model=os.path.basename(state.model),
        load_seconds=round(state.load_seconds, 3),
        warmup_seconds=None if state.warmup_seconds is None else round(state.warmup_seconds, 3),
    )


@_bp.get("/api/v1/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_spec())


@_bp.post("/api/v1/solve")
def solve() -> ResponseReturnValue:
    """Read the uploaded image (or the region of it the request names), answer the Solution JSON."""
    data, region = _request_image()
    state: ServingState = current_app.extensions["mathocr"]
    # Decoded here, under this server's limits, so the solver gets pixels, never a path;
    # a phone photo no larger than segmentation looks at it (a quarter of the time and
    # memory of decoding 12 megapixels whole).
    image = read_reduced(
        data,
        side=getattr(state.solver, "max_side", MAX_SIDE),
        max_pixels=current_app.config["MAX_IMAGE_PIXELS"],
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        part=None if region is None else max(region.w, region.h),
    )
    # Without a region the solver is called as the SOLVER contract has always said: solve(image).
    solution = state.solver.solve(image) if region is None else state.solver.solve(image, region=region)
    g.symbols = len(getattr(solution, "tokens", None) or ())
    body = solution.to_dict()
    for line in body.get("lines", ()):
        if "code" in line:  # a line that could not be read: the API's one error shape
            line["error"] = {"code": line.pop("code"), "message": _sentence(line["error"])}
    if getattr(solution, "error", None):
        # One error shape for the whole API: the solver's flat "error"/"code" strings move
        # into {"error": {...}}; the rest (status, the reading as read) stays so that a page
        # can show "23 + ..." while the user is still writing.
        body.pop("code", None)
        body.pop("error", None)
        raise ApiError(422, solution.code or "invalid_expression", _sentence(solution.error), extra=body)
    return jsonify(body)


def _request_image() -> tuple[bytes, Region | None]:
    """The image bytes of the request and the region to read, from whichever accepted form it uses."""
    try:
        return _read_image_field()
    except OSError:
        # The client stopped sending mid-body (the server's read timed out or the
        # connection broke): the request is incomplete, not a server fault.
        raise ApiError(400, "bad_request", "The request body did not arrive in full.") from None


def _read_image_field() -> tuple[bytes, Region | None]:
    mimetype = request.mimetype
    region: Region | None = None
    if mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is not None:
            data = upload.read()
        elif "image" in request.form:
            data = _decode_data_url(request.form["image"])
        else:
            raise ApiError(400, "missing_image", "Send the picture in the form field 'image'.")
        region = _form_region()
    elif mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            body = json.loads(request.get_data(cache=False))
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: nesting deeper than the parser's stack ("[" x 100000).
            raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("image"), str):
            raise ApiError(
                400,
                "missing_image",
                'Send JSON like {"image": "data:image/png;base64,..."}.',
            )
        data = _decode_data_url(body["image"])
        region = _json_region(body.get("region"))
    elif mimetype.startswith("image/") or mimetype == "application/octet-stream":
        data = request.get_data(cache=False)
    elif not mimetype and not request.content_length:
        raise ApiError(400, "missing_image", "The request has no image.")
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Requests of type {mimetype or 'unknown'!r} are not accepted; send multipart/form-data "
            "with a file field 'image', JSON with a data URL, or the image itself.",
        )
    if not data:
        raise ApiError(400, "missing_image", "The image is empty.")
    return data, region


def _form_region() -> Region | None:
    """The multipart field ``region``, ``"x,y,w,h"``, when the form has one."""
    if "region" in request.files:
        # A file part would otherwise be ignored, and the whole image read without a word.
        raise RegionError('the region must be a plain form field "x,y,w,h", not a file')
    text = request.form.get("region")
    return None if text is None else Region.parse(text)


def _json_region(value: Any) -> Region | None:
    """The JSON member ``region``, ``{"x": .., "y": .., "w": .., "h": ..}``; null means none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        # Region.parse also takes "x,y,w,h" and lists; the JSON API has one documented form.
        raise RegionError('the region must be an object like {"x": 10, "y": 20, "w": 300, "h": 100}')
    return Region.parse(value)


def _decode_data_url(text: str) -> bytes:
    """Bytes of a ``data:image/...;base64,...`` URL, or of bare base64 text.

    Examples
    --------
    >>> _decode_data_url("data:image/png;base64,iVBORw==")
    b'\\x89PNG'
    """
    text = text.strip()
    match = _DATA_URL.match(text)
    if match:
        media_type = match["type"].strip().lower()
        if media_type and not media_type.startswith("image/"):
            raise ApiError(415, "unsupported_media_type", f"The data URL holds {media_type!r}, not an image.")
        if ";base64" not in match["params"].lower():
            raise ApiError(400, "invalid_base64", "The data URL must be base64-encoded (';base64,').")
        text = match["data"]
    try:
        # Browsers and tools wrap long base64 lines; whitespace is not data.
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", "The image is not valid base64.") from None


def _sentence(message: str) -> str:
    """The library's messages are clauses ("not an image: ..."); people read sentences."""
    return message[:1].upper() + message[1:]


def _error_response(status: int, code: str, message: str, extra: Mapping[str, Any] | None = None):
    body = {**(extra or {}), "error": {"code": code, "message": message}}
    response = jsonify(body)
    response.status_code = status
    return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> ResponseReturnValue:
        return _error_response(exc.status, exc.code, exc.message, exc.extra)

    @app.errorhandler(errors.MathOCRError)
    def _mathocr_error(exc: errors.MathOCRError) -> ResponseReturnValue:
        status = error_status(exc)
        if status == 500:
            # A model or data problem at request time is ours, not the user's: log, hide.
            log.error("mathocr error while serving %s", request.path, exc_info=exc)
            return _internal_error()
        # A solver that raises instead of returning a failed Solution still gives clients
        # the status field they branch on.
        extra = {"status": "error"} if status == 422 else None
        return _error_response(status, exc.code, _sentence(str(exc)), extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if status >= 500:
            return _internal_error()
        code = HTTP_CODES.get(status, "http_error")
        if status == 413 and _form_limit_refused():
            code = errors.TooManyFieldsError.code
        response = _error_response(status, code, _http_message(exc))
        # Keep protocol headers such as 405's Allow.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unexpected error while serving %s", request.path)
        return _internal_error()


def _http_message(exc: HTTPException) -> str:
    """Werkzeug's stock descriptions, in the plain words the page shows to people."""
    if exc.code == 404:
        return f"There is nothing at {request.path}."
    if exc.code == 405:
        allowed = ", ".join(
            m for m in getattr(exc, "valid_methods", None) or () if m not in ("HEAD", "OPTIONS")
        )
        return f"The method {request.method} is not allowed for {request.path}" + (
            f"; use {allowed}." if allowed else "."
        )
    if exc.code == 413:
        config = current_app.config
        limit = config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
        if _form_limit_refused():
            return (
                f"The form has too many fields or too large a field: the limits are "
                f"{config['MAX_FORM_PARTS']} fields and "
                f"{config['MAX_FORM_MEMORY_SIZE'] / (1024 * 1024):g} MB "
                "per field; send the picture in the one field 'image'."
            )
        return f"The upload is too large: the limit is {limit:g} MB."
    if exc.code == 400:
        return "The request is malformed (its body, form encoding or headers cannot be read)."
    return exc.description or exc.name


def _form_limit_refused() -> bool:
    """Whether a 413 came from a form limit: Werkzeug raises the same error for the body
    limit and the form limits; only a body within its limit points at the form."""
    length = request.content_length
    return (
        request.mimetype == "multipart/form-data"
        and length is not None
        and length <= current_app.config["MAX_CONTENT_LENGTH"]
    )


def _internal_error():
    return _error_response(
        500,
        "internal_error",
        "Something went wrong on the server while reading this image. Please try again; "
        "if it keeps happening, report it with the image.",
    )


def _security_headers(response):
    # Everything the page needs comes from this app: no inline script, no CDN.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _start_request() -> None:
    g.started = time.perf_counter()
    g.symbols = None
    # A caller's id (a proxy's, a client's) is kept when it is a plain token; else one is made.
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _finish_request(response: Response) -> Response:
    started = g.get("started")
    request_id = g.get("request_id") or uuid.uuid4().hex  # before_request did not run (a routing error)
    response.headers["X-Request-ID"] = request_id
    seconds = time.perf_counter() - started if started is not None else 0.0
    metrics: _Metrics | None = current_app.extensions.get("mathocr.metrics")
    if metrics is not None:
        try:
            metrics.observe(response.status_code, seconds)
        except Exception:  # counting must never cost a user their answer
            log.exception("could not record metrics")
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            json.dumps(
                {
                    "id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(seconds * 1000, 1),
                    "symbols": g.get("symbols"),
                }
            )
        )
    return response


class _Metrics:
    """Prometheus request count and latency by status, in a registry of this app's own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mathocr_http_requests", "HTTP requests answered, by status.", ["status"], registry=self.registry
        )
        self.latency = Histogram(
            "mathocr_http_request_seconds",
            "Time from the request's arrival in the app to its answer, by status.",
            ["status"],
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
            registry=self.registry,
        )

    def observe(self, status: int, seconds: float) -> None:
        self.requests.labels(str(status)).inc()
        self.latency.labels(str(status)).observe(seconds)

    def exposition(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Several worker processes: sum what each one wrote to the shared directory.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _metrics_page() -> ResponseReturnValue:
    from prometheus_client import CONTENT_TYPE_LATEST

    metrics: _Metrics = current_app.extensions["mathocr.metrics"]
    return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0])
