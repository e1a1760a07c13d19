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

import dataclasses
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .decoding import align_columns, decode, geometry_log_prior
from .errors import (
    EmptyExpressionError,
    ExpressionError,
    ImageError,
    IncompleteExpressionError,
    MalformedExpressionError,
    MathOCRError,
    NoExpressionError,
)
from .expression import evaluate, format_decimal, format_fraction, is_valid
from .io import MAX_BYTES, MAX_PIXELS, read_image
from .region import Region, RegionLike
from .segmentation import MAX_SIDE, Segmentation, segment
from .symbols import CLASSES, DIGITS, DISPLAY

LOW_CONFIDENCE = 0.8
"""A symbol whose most probable reading is below this (calibrated) is "hard to read": a
warning, and see :data:`UNREADABLE_SHARE`."""

MIN_VALID = 0.1
"""When the best valid reading is less than this fraction as probable as the symbols as
read, there is no answer: ``23+`` is incomplete, ``1++2`` malformed, whatever valid
reading is nearest (it would have to overrule a symbol the model is sure of)."""

UNSURE_RATIO = 0.2
"""A valid reading at least this fraction as probable as the best one is an alternative,
and makes the answer ``unsure``."""

UNREADABLE_SHARE = 0.5
"""A drawing with more than this share of its marks hard to read holds no expression.

The four thresholds were chosen together with the bundled, calibrated model on synthetic
development sets (400 valid and 300 invalid drawings from the training sources' held-out
glyphs, seeds 11 and 12; not the benchmark's sets): answered with confidence 68%, and of
those 98.9% exact; invalid drawings given a value 26%, down from 39% with 0.5 / 0.05 /
0.1 and only all-unreadable drawings refused. See the README's "Answers, doubts and refusals"."""

MAX_ALTERNATIVES = 4

BATCH_SIZE = 32
"""Images per classifier call in :meth:`Solver.solve_many`: some 200 crops of typical
drawings. Throughput is flat from 16 images a call up (the classifier's per-call cost is
spread), while memory is not: ONNX Runtime keeps the buffers of the largest call, about
110 MB at 32 images of 600x200 drawings, 170 MB at 64, 290 MB at 128."""

CLASS_WEIGHTS: dict[str, float] = {}
"""No re-weighting by default: the bundled model's probabilities are used as they are."""


def _parse_region(region: RegionLike | None) -> Region | None:
    return None if region is None else Region.parse(region)


def _offset(seg: Segmentation, dx: int, dy: int) -> Segmentation:
    """``seg`` with its boxes moved by ``(dx, dy)``: from a region's pixels to the image's."""
    if not (dx or dy):
        return seg
    moved = [
        dataclasses.replace(s, box=(s.box[0] + dx, s.box[1] + dy, s.box[2], s.box[3])) for s in seg.segments
    ]
    return dataclasses.replace(seg, segments=moved)


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
class Alternative:
    """Another valid reading of the same drawing.

    Attributes
    ----------
    expression : str
    value : Fraction or None
        None when it has no value (division by zero).
    confidence : float
        The model's probability of this reading.
    """

    expression: str
    value: Fraction | None
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "value": None if self.value is None else format_fraction(self.value),
            "decimal": None if self.value is None else format_decimal(self.value),
            "confidence": round(float(self.confidence), 4),
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
    confidence : float
        The model's probability that :attr:`expression` is what was written (for an
        error, that the symbols are as read).
    alternatives : list of Alternative
        Other readings close enough to the best to ask about, best first; only when
        :attr:`status` is ``"unsure"``.
    """

    expression: str
    value: Fraction | None
    tokens: list[Token]
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    code: str | None = None
    confidence: float = 1.0
    alternatives: list[Alternative] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when a value was computed (status ``"ok"`` or ``"unsure"``)."""
        return self.error is None

    @property
    def status(self) -> str:
        """``"ok"``: one confident reading; ``"unsure"``: a value, but see
        :attr:`alternatives`; ``"error"``: no value (see :attr:`code`)."""
        if self.error is not None:
            return "error"
        return "unsure" if self.alternatives else "ok"

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of the command line and the web API.

        Returns
        -------
        dict
            ``status`` (``ok``, ``unsure`` or ``error``), ``confidence``, ``warnings``
            and ``alternatives``; with a value: ``expression``, ``value`` (exact:
            ``"81"`` or ``"7/2"``), ``decimal``, ``tokens``; on failure: ``error``,
            ``code``, plus ``expression`` and ``tokens`` as read when symbols were read.

        Examples
        --------
        >>> Solution("7/2", Fraction(7, 2), [Token("7", 0.99, (1, 2, 3, 4))]).to_dict()["value"]
        '7/2'
        """
        tokens = [t.to_dict() for t in self.tokens]
        common = {
            "confidence": round(float(self.confidence), 4),
            "warnings": list(self.warnings),
            "alternatives": [a.to_dict() for a in self.alternatives],
        }
        if self.error is not None:
            out: dict[str, Any] = {
                "status": "error",
                "error": self.error,
                "code": self.code or ExpressionError.code,
            }
            if tokens:
                out["expression"] = self.expression
                out["tokens"] = tokens
            return {**out, **common}
        value = self.value if self.value is not None else Fraction(0)
        return {
            "status": self.status,
            "expression": self.expression,
            "value": format_fraction(value),
            "decimal": format_decimal(value),
            "tokens": tokens,
            **common,
        }

    @classmethod
    def failure(
        cls,
        exc: MathOCRError,
        tokens: Sequence[Token] = (),
        warnings: Sequence[str] = (),
        confidence: float = 0.0,
    ) -> Solution:
        """A Solution for an error (used for unreadable images in batches)."""
        expression = "".join(t.symbol for t in tokens)
        return cls(expression, None, list(tokens), list(warnings), str(exc), exc.code, confidence)


def ordinal(n: int) -> str:
    """``1`` -> ``"1st"``, ``12`` -> ``"12th"``, ``23`` -> ``"23rd"``.

    Examples
    --------
    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd']
    """
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _shown(tokens: Sequence[str]) -> str:
    """Tokens as people write them: ``23 × 4 − 1``.

    Examples
    --------
    >>> _shown(["2", "3", "*", "-", "1"])
    '23 × − 1'
    """
    out = ""
    for i, t in enumerate(tokens):
        glue = i and not (t in DIGITS and tokens[i - 1] in DIGITS)
        out += (" " if glue else "") + DISPLAY.get(t, t)
    return out


def _explain(as_read: list[str]) -> MathOCRError:
    """Why the symbols, as read, are no expression: the error a person can act on."""
    if not any(t in DIGITS for t in as_read):
        shown = _shown(as_read)
        if len(as_read) == 1:
            # A lone '-' is how a negative number starts; anything else cannot start one.
            if as_read[0] == "-":
                return IncompleteExpressionError("only a minus sign so far: write a number after it")
            return MalformedExpressionError(f"only the sign {shown}: an expression needs numbers")
        return MalformedExpressionError(f"only signs ({shown}), no numbers: an expression needs numbers")
    end = len(as_read)
    while end and as_read[end - 1] not in DIGITS:
        end -= 1
    if end < len(as_read) and is_valid(as_read[:end]):
        return IncompleteExpressionError(
            f"read {_shown(as_read)} … so far: a number must follow the last sign"
        )
    return MalformedExpressionError(
        f"read {_shown(as_read)}: the signs are not in an order that can be computed "
        "(two in a row, or one at the start)"
    )


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
        A symbol whose best reading is less probable than this is hard to read
        (:data:`LOW_CONFIDENCE`).
    min_valid : float
        When the best valid reading is less than this fraction as probable as the
        symbols as read, answer an error that says what was read (:data:`MIN_VALID`).
    unsure_ratio : float
        Readings at least this fraction as probable as the best are alternatives
        (:data:`UNSURE_RATIO`); 1.0 never asks.
    max_alternatives : int
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
        min_valid: float = MIN_VALID,
        unsure_ratio: float = UNSURE_RATIO,
        max_alternatives: int = MAX_ALTERNATIVES,
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
        self.min_valid = min_valid
        self.unsure_ratio = unsure_ratio
        self.max_alternatives = max_alternatives
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

    def solve(self, image: Any, region: RegionLike | None = None) -> Solution:
        """Read one image, or the part of it inside ``region``.

        Parameters
        ----------
        image : path, bytes, binary file object, PIL image or ndarray
        region : Region, "x,y,w,h", sequence of 4 ints or mapping, optional
            Read only this rectangle (see :meth:`Region.parse`), in pixels of the image as
            shown upright (after EXIF orientation). The crop happens before segmentation,
            so nothing outside it (a table edge, a shadow) can become a symbol; a region
            running past the right or bottom edge is clipped to the image. Token boxes
            are in the whole image's pixels all the same.

        Returns
        -------
        Solution
            With :attr:`Solution.error` set when the symbols do not form a
            computable expression (nothing found, malformed, division by zero).

        Raises
        ------
        mathocr.errors.RegionError
            A malformed region, or one that starts outside the image.
        mathocr.errors.ImageError
            Unreadable, unsupported or too large input.

        Examples
        --------
        >>> solver = Solver.load()                                      # doctest: +SKIP
        >>> solver.solve("photo.jpg", region=(120, 340, 600, 180)).expression  # doctest: +SKIP
        '12+69'
        >>> tokens = solver.solve("photo.jpg", region="120,340,600,180").tokens  # doctest: +SKIP
        >>> all(t.box[0] >= 120 and t.box[1] >= 340 for t in tokens)  # the photo's pixels  # doctest: +SKIP
        True
        """
        return self._solve_chunk([image], "raise", _parse_region(region))[0]

    def solve_many(
        self,
        images: Iterable[Any],
        *,
        on_error: str = "raise",
        batch_size: int = BATCH_SIZE,
        region: RegionLike | None = None,
    ) -> Iterator[Solution]:
        """Read many images lazily, classifying their symbols a chunk of images at a time.

        Images are taken from ``images`` only as needed, ``batch_size`` at a time, so a
        generator of millions of paths is read in bounded memory; the symbols of a chunk's
        images go to the classifier in one call, which is what makes batches fast.

        Parameters
        ----------
        images : iterable
            Inputs accepted by :meth:`solve`; any iterable, a generator included.
        on_error : {"raise", "return"}
            What to do with an unreadable image: raise its
            :class:`~mathocr.errors.ImageError` (when its chunk is reached), or yield a
            failed Solution in its place (batch jobs, the command line).
        batch_size : int, default :data:`BATCH_SIZE`
            Images decoded and classified together; memory grows with it.
        region : Region, "x,y,w,h", sequence of 4 ints or mapping, optional
            The same rectangle of every image (see :meth:`solve`); an image that it
            does not reach fails like an unreadable one (code ``invalid_region``).

        Yields
        ------
        Solution
            One per image, in the order of ``images``.

        Examples
        --------
        >>> solver = Solver.load()                                       # doctest: +SKIP
        >>> for sol in solver.solve_many(["a.png", "b.png"], on_error="return"):  # doctest: +SKIP
        ...     print(sol.status, sol.expression)
        ok 12+69
        error
        >>> solutions = list(solver.solve_many(paths))                  # doctest: +SKIP
        """
        # Checked here, not at the first next(): a wrong argument is the caller's bug now.
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        return self._solve_chunks(iter(images), on_error, int(batch_size), _parse_region(region))

    # ----------------------------------------------------------------- helpers

    def _solve_chunks(
        self, images: Iterator[Any], on_error: str, batch_size: int, region: Region | None
    ) -> Iterator[Solution]:
        while chunk := list(itertools.islice(images, batch_size)):
            yield from self._solve_chunk(chunk, on_error, region)

    def _solve_chunk(self, images: list[Any], on_error: str, region: Region | None = None) -> list[Solution]:
        """Solve one chunk: all the crops of its images in one classifier call."""
        segs: list[Segmentation | ImageError] = []
        for image in images:
            try:
                segs.append(self._segment(image, region))
            except ImageError as exc:
                if on_error == "raise":
                    raise
                segs.append(exc)
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

    def _segment(self, image: Any, region: Region | None) -> Segmentation:
        """Decode one input and cut its symbols out; only the page's crops outlive this call."""
        page = self.read(image)
        if region is None:
            return segment(page, max_side=self.max_side)
        box = region.within(page.shape[1], page.shape[0])
        return _offset(segment(box.crop(page), max_side=self.max_side), box.x, box.y)

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
            warnings.append("the '=' at the end was ignored")
            segments, proba = segments[:-1], proba[:-1]
        if not segments:
            return Solution.failure(EmptyExpressionError("no symbols found in the image"), (), warnings)

        boxes, flags = [s.box for s in segments], [s.flags for s in segments]
        decoded = decode(proba, geometry_log_prior(boxes, seg.line_height, flags=flags))
        q = decoded.probabilities
        readable = [
            float(q[i].max()) >= self.low_confidence and "wide" not in s.flags for i, s in enumerate(segments)
        ]
        for i, s in enumerate(segments):
            which = f"the {ordinal(i + 1)} symbol"
            if "tall" in s.flags:
                warnings.append(f"{which} is much taller than the others: a bracket or a letter?")
            if "wide" in s.flags:
                warnings.append(f"{which} is unusually wide: symbols touching, or a scribble?")

        as_read = decoded.argmax
        read_confidence = float(np.prod(q.max(axis=1)))
        read_tokens = [
            Token(t, float(proba[i, CLASSES.index(t)]), s.box)
            for i, (t, s) in enumerate(zip(as_read, segments, strict=True))
        ]
        if readable.count(False) > UNREADABLE_SHARE * len(readable):
            exc = NoExpressionError("nothing here reads as numbers and signs: write digits and + − × ÷")
            return Solution.failure(exc, read_tokens, warnings, read_confidence)
        if seg.lines > 1:
            exc = ExpressionError(
                f"found {seg.lines} lines of writing; only one expression on one line can be solved"
            )
            return Solution.failure(exc, read_tokens, warnings, read_confidence)
        inner = [i for i, s in enumerate(segments) if "equals" in s.flags]
        if inner:
            exc = ExpressionError(
                f"the {ordinal(inner[0] + 1)} symbol looks like '=', which is not supported: "
                "write only the expression to compute"
            )
            return Solution.failure(exc, read_tokens, warnings, read_confidence)
        if decoded.readings[0].probability < self.min_valid * read_confidence:
            # The classifier is sure of symbols that make no expression: say what was read
            # rather than bend a confident symbol into the nearest valid reading.
            return Solution.failure(_explain(as_read), read_tokens, warnings, read_confidence)

        best = decoded.readings[0]
        total = sum(r.probability for r in decoded.readings)
        for i, sym in enumerate(best.symbols):
            # Doubt that the grammar settles (a lone stroke before "2+69" can only be a 1) is
            # no doubt about the answer: weigh each symbol among the valid readings only.
            agree = sum(r.probability for r in decoded.readings if r.symbols[i] == sym) / total
            if sym != as_read[i]:
                warnings.append(
                    f"the {ordinal(i + 1)} symbol could be {DISPLAY[sym]} or {DISPLAY[as_read[i]]}"
                )
            elif agree < self.low_confidence:
                warnings.append(f"the {ordinal(i + 1)} symbol is hard to read")
        tokens = [
            Token(sym, float(proba[i, CLASSES.index(sym)]), s.box)
            for i, (sym, s) in enumerate(zip(best.symbols, segments, strict=True))
        ]
        try:
            value = evaluate(best.symbols)
        except ExpressionError as exc:
            return Solution.failure(exc, tokens, warnings, best.probability)
        alternatives = []
        for reading in decoded.readings[1:]:
            if (
                len(alternatives) == self.max_alternatives
                or reading.probability < self.unsure_ratio * best.probability
            ):
                break
            try:
                alt_value: Fraction | None = evaluate(reading.symbols)
            except ExpressionError:
                alt_value = None
            alternatives.append(Alternative(reading.text, alt_value, reading.probability))
        return Solution(
            best.text, value, tokens, warnings, confidence=best.probability, alternatives=alternatives
        )


__all__ = [
    "BATCH_SIZE",
    "LOW_CONFIDENCE",
    "MIN_VALID",
    "UNSURE_RATIO",
    "Alternative",
    "Solution",
    "Solver",
    "Token",
    "ordinal",
]
