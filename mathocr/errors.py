"""The exceptions mathocr raises on bad input.

Every one derives from :class:`MathOCRError` (itself a ``ValueError``) and carries
a ``code`` that the command line and the web service use: the HTTP layer maps
codes to status codes, so callers never parse messages.
"""

from __future__ import annotations


class MathOCRError(ValueError):
    """Base class; ``code`` is a short machine-readable name."""

    code = "error"


class DataError(MathOCRError):
    """Training or evaluation data is missing or malformed."""

    code = "data_error"


class ModelError(MathOCRError):
    """A model file is missing, corrupt, or fails its integrity check."""

    code = "model_error"


class ImageError(MathOCRError):
    """The input is not a readable image (HTTP 400)."""

    code = "invalid_image"


class UnsupportedImageError(ImageError):
    """The input is an image in a format mathocr does not read (HTTP 415)."""

    code = "unsupported_media_type"


class ImageTooLargeError(ImageError):
    """The input exceeds the file-size or pixel-count limits (HTTP 413)."""

    code = "too_large"


class TooManyFieldsError(ImageTooLargeError):
    """A multipart form with more fields, or a larger field, than the web API accepts (HTTP 413)."""

    code = "too_many_fields"


class RegionError(ImageError):
    """A region of the image to read that is malformed or lies outside the image (HTTP 400)."""

    code = "invalid_region"


class ExpressionError(MathOCRError):
    """Nothing recognisable, or the recognised tokens are not a valid expression (HTTP 422)."""

    code = "invalid_expression"


class EmptyExpressionError(ExpressionError):
    """No symbol was found in the image."""

    code = "nothing_found"


class IncompleteExpressionError(ExpressionError):
    """The symbols read so far are the start of an expression, e.g. ``23+``, or a number
    alone, ``7``, which computes nothing (HTTP 422)."""

    code = "incomplete_expression"


class MalformedExpressionError(ExpressionError):
    """Symbols were read, but in no order an expression takes, e.g. ``1++2`` or ``*3``."""

    code = "malformed_expression"


class NoExpressionError(ExpressionError):
    """Marks were found, but none reads as a digit or an operator (a scribble, letters)."""

    code = "no_expression"


class EvaluationError(ExpressionError):
    """A valid expression that has no value, e.g. division by zero."""

    code = "division_by_zero"


HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    417: "expectation_failed",
    422: "invalid_expression",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "not_ready",
}
"""The ``code`` of an HTTP error that is not one of the exceptions above, by status: the web
app and its server (``mathocr.web``) answer these in the same JSON shape."""
