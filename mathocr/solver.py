"""The solver: an image of a handwritten expression -> its tokens and exact value.

::

    image -> io.read_image -> segmentation.segment -> crops
          -> pipeline.predict_proba (all crops of all images, one batch)
          -> decoding.decode (grammar + geometry) -> expression.evaluate -> Solution

Nothing here guesses silently: content the model cannot read (several lines, an
``=`` inside the expression, marks shaped unlike any symbol, low-confidence or
grammar-corrected symbols) is reported in :attr:`Solution.warnings`, or as an
error when no trustworthy value exists.

Examples
--------
>>> solver = Solver.load()                     # doctest: +SKIP
>>> solution = solver.solve("drawing.png")     # doctest: +SKIP
>>> solution.expression, solution.value        # doctest: +SKIP
('12+69', Fraction(81, 1))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .decoding import align_columns, decode, geometry_log_prior
from .errors import EmptyExpressionError, ExpressionError, ImageError, MathOCRError
from .expression import evaluate, format_decimal, format_fraction
from .io import MAX_BYTES, MAX_PIXELS, read_image
from .segmentation import MAX_SIDE, Segmentation, segment
from .symbols import CLASSES

LOW_CONFIDENCE = 0.5
"""Tokens whose probability is below this are reported in the warnings."""

CLASS_WEIGHTS: dict[str, float] = {}
"""No re-weighting by default: the bundled model's probabilities are used as they are."""


@dataclass
class Token:
    """One recognised symbol.

    Attributes
    ----------
    symbol : str
        ``0``-``9``, ``+``, ``-``, ``*`` or ``/``.
    confidence : float
        The classifier's probability for this symbol.
    box : (x, y, w, h)
        Where it is, in original image pixels.
    """

    symbol: str
    confidence: float
    box: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "confidence": round(float(self.confidence), 4),
            "box": [int(v) for v in self.box],
        }


@dataclass
class Solution:
    """What was read from one image.

    Attributes
    ----------
    expression : str
        ASCII tokens, e.g. ``"12+69"``; ``""`` when nothing was recognised.
    value : Fraction or None
        The exact value; None when :attr:`error` is set.
    tokens : list of Token
    warnings : list of str
        Doubts about the reading (low confidence, corrected symbols, odd marks).
    error : str or None
        Why there is no value (nothing found, malformed, division by zero, ...).
    code : str or None
        Machine-readable code of the error (see :mod:`mathocr.errors`).
    """

    expression: str
    value: Fraction | None
    tokens: list[Token]
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    code: str | None = None

    @property
    def ok(self) -> bool:
        """True when a value was computed."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of the command line and the web API.

        Returns
        -------
        dict
            Success: ``expression``, ``value`` (exact: ``"81"`` or ``"7/2"``),
            ``decimal``, ``tokens``, ``warnings``. Failure: ``error``, ``code``,
            ``warnings``, plus ``expression`` and ``tokens`` when symbols were read.

        Examples
        --------
        >>> Solution("7/2", Fraction(7, 2), [Token("7", 0.99, (1, 2, 3, 4))]).to_dict()["value"]
        '7/2'
        """
        tokens = [t.to_dict() for t in self.tokens]
        if self.error is not None:
            out: dict[str, Any] = {"error": self.error, "code": self.code or ExpressionError.code}
            if tokens:
                out["expression"] = self.expression
                out["tokens"] = tokens
            out["warnings"] = list(self.warnings)
            return out
        value = self.value if self.value is not None else Fraction(0)
        return {
            "expression": self.expression,
            "value": format_fraction(value),
            "decimal": format_decimal(value),
            "tokens": tokens,
            "warnings": list(self.warnings),
        }

    @classmethod
    def failure(
        cls, exc: MathOCRError, tokens: Sequence[Token] = (), warnings: Sequence[str] = ()
    ) -> Solution:
        """A Solution for an error (used for unreadable images in batches)."""
        return cls("".join(t.symbol for t in tokens), None, list(tokens), list(warnings), str(exc), exc.code)


def _where(box: tuple[int, int, int, int]) -> str:
    return f"at x={box[0]}"


class Solver:
    """Read handwritten arithmetic with a fitted symbol pipeline.

    Parameters
    ----------
    pipeline : estimator
        Anything with ``predict_proba(list_of_crops)`` and ``classes_``, e.g. the
        result of :func:`mathocr.pipeline.load_pipeline`.
    max_pixels, max_bytes : int
        Input limits (see :func:`mathocr.io.read_image`).
    max_side : int
        Photos larger than this are reduced before segmenting.
    low_confidence : float
        Threshold under which a token's probability is reported as a warning.
    class_weights : mapping of token to float, optional
        Factors applied to the classifier's probabilities (then renormalised) before
        decoding, e.g. ``{"/": 2.0}`` to favour slashes over ones for a writer whose
        ones lean; :data:`CLASS_WEIGHTS` (none) by default.

    Examples
    --------
    >>> solver = Solver.load()                               # doctest: +SKIP
    >>> [s.expression for s in solver.solve_many(["a.png", "b.jpg"])]  # doctest: +SKIP
    ['12+69', '7/2']
    """

    def __init__(
        self,
        pipeline: Any,
        *,
        max_pixels: int = MAX_PIXELS,
        max_bytes: int = MAX_BYTES,
        max_side: int = MAX_SIDE,
        low_confidence: float = LOW_CONFIDENCE,
        class_weights: Mapping[str, float] | None = None,
    ) -> None:
        if not hasattr(pipeline, "predict_proba"):
            raise TypeError(
                f"{type(pipeline).__name__} has no predict_proba; pass a fitted classifier pipeline"
            )
        try:
            classes = list(pipeline.classes_)
        except AttributeError:
            raise TypeError(f"{type(pipeline).__name__} has no classes_: is it fitted?") from None
        self.pipeline = pipeline
        self.classes_ = [str(c) for c in classes]
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.max_side = max_side
        self.low_confidence = low_confidence
        weights = CLASS_WEIGHTS if class_weights is None else class_weights
        unknown = set(weights) - set(self.classes_)
        if unknown or any(w <= 0 for w in weights.values()):
            raise ValueError(f"class_weights must map known classes to positive numbers, got {weights!r}")
        self.class_weights = dict(weights)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, **kwargs: Any) -> Solver:
        """Load a saved pipeline (the bundled default when ``path`` is None).

        Parameters
        ----------
        path : path-like, optional
        **kwargs
            Passed to :class:`Solver`.

        Returns
        -------
        Solver

        Raises
        ------
        mathocr.errors.ModelError
            Missing or corrupt model file.

        Examples
        --------
        >>> Solver.load().solve("drawing.png").value   # doctest: +SKIP
        Fraction(81, 1)
        """
        from .pipeline import load_pipeline

        return cls(load_pipeline(path), **kwargs)

    # ------------------------------------------------------------------ public

    def read(self, image: Any) -> np.ndarray:
        """Decode one input with this solver's limits (see :func:`mathocr.io.read_image`)."""
        return read_image(image, max_pixels=self.max_pixels, max_bytes=self.max_bytes)

    def solve(self, image: Any) -> Solution:
        """Read one image.

        Parameters
        ----------
        image : path, bytes, binary file object, PIL image or ndarray

        Returns
        -------
        Solution
            With :attr:`Solution.error` set when the symbols do not form a
            computable expression (nothing found, malformed, division by zero).

        Raises
        ------
        mathocr.errors.ImageError
            Unreadable, unsupported or too large input.

        Examples
        --------
        >>> Solver.load().solve(b"...png bytes...")   # doctest: +SKIP
        """
        return self.solve_many([image])[0]

    def solve_many(self, images: Iterable[Any], *, on_error: str = "raise") -> list[Solution]:
        """Read several images, classifying all their symbols in one batch.

        Parameters
        ----------
        images : iterable
            Inputs accepted by :meth:`solve`.
        on_error : {"raise", "return"}
            What to do with an unreadable image: raise its
            :class:`~mathocr.errors.ImageError`, or return a failed Solution in its
            place (batch jobs, the command line).

        Returns
        -------
        list of Solution, in the order of ``images``

        Examples
        --------
        >>> Solver.load().solve_many(["a.png", "b.png"])   # doctest: +SKIP
        """
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        pages: list[np.ndarray | ImageError] = []
        for image in images:
            try:
                pages.append(self.read(image))
            except ImageError as exc:
                if on_error == "raise":
                    raise
                pages.append(exc)
        segs = [p if isinstance(p, ImageError) else segment(p, max_side=self.max_side) for p in pages]
        crops = [s.crop for seg in segs if isinstance(seg, Segmentation) for s in seg.segments]
        proba = self._predict(crops)
        out: list[Solution] = []
        start = 0
        for seg in segs:
            if isinstance(seg, ImageError):
                out.append(Solution.failure(seg))
                continue
            n = len(seg.segments)
            out.append(self._finish(seg, proba[start : start + n]))
            start += n
        return out

    # ----------------------------------------------------------------- helpers

    def _predict(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, len(self.classes_)))
        proba = np.asarray(self.pipeline.predict_proba(crops), dtype=np.float64)
        proba = align_columns(proba, self.classes_)
        if self.class_weights:
            scale = np.array([self.class_weights.get(c, 1.0) for c in CLASSES])
            proba = proba * scale
            proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def _finish(self, seg: Segmentation, proba: np.ndarray) -> Solution:
        warnings = list(seg.warnings)
        segments = list(seg.segments)
        if segments and "equals" in segments[-1].flags:
            # "12+69=" is how people write a sum to be computed.
            warnings.append(f"a trailing '=' {_where(segments[-1].box)} was ignored")
            segments, proba = segments[:-1], proba[:-1]
        if not segments:
            return Solution.failure(EmptyExpressionError("no symbols found in the image"), (), warnings)

        boxes, flags = [s.box for s in segments], [s.flags for s in segments]
        prior = geometry_log_prior(boxes, seg.line_height, flags=flags)
        decoded = decode(proba, prior)
        picks = zip(decoded.symbols, decoded.confidences, segments, strict=True)
        tokens = [Token(sym, conf, s.box) for sym, conf, s in picks]
        changed = set(decoded.changed)
        for i, (tok, s) in enumerate(zip(tokens, segments, strict=True)):
            label = f"symbol {i + 1} ('{tok.symbol}' {_where(tok.box)})"
            if i in changed:
                looks = decoded.argmax[i]
                p_looks = float(np.max(proba[i]))
                warnings.append(
                    f"{label} was read as '{tok.symbol}' to make a valid expression, "
                    f"though it looks more like '{looks}' ({p_looks:.2f})"
                )
            elif tok.confidence < self.low_confidence:
                warnings.append(f"{label} was read with low confidence ({tok.confidence:.2f})")
            if "tall" in s.flags:
                warnings.append(f"{label} is much taller than the other symbols: a bracket or a letter?")
            if "wide" in s.flags:
                warnings.append(f"{label} is unusually wide: touching symbols, or a mark that is no symbol?")

        expression = "".join(decoded.symbols)
        try:
            if seg.lines > 1:
                raise ExpressionError(
                    f"found {seg.lines} lines of text; only one expression on one line can be solved"
                )
            inner = [i for i, s in enumerate(segments) if "equals" in s.flags]
            if inner:
                raise ExpressionError(
                    f"symbol {inner[0] + 1} {_where(segments[inner[0]].box)} looks like '=', which is "
                    "not supported: write only the expression to compute"
                )
            value = evaluate(decoded.symbols)
        except ExpressionError as exc:
            return Solution.failure(exc, tokens, warnings)
        return Solution(expression, value, tokens, warnings)


__all__ = ["LOW_CONFIDENCE", "Solution", "Solver", "Token"]
