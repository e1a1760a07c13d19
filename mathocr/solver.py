"""The solver: an image of a handwritten expression -> its tokens and exact value.

::

    image -> io.read_image -> segmentation.segment -> crops
          -> pipeline.predict_proba (all crops of all images, one batch)
          -> decoding.decode (grammar + geometry) -> expression.evaluate -> Solution

Each line of writing is read on its own: an expression (``(19-6)*5``), a sum to
compute (``12+69=``) or an equation to check (``1+1=2``: :attr:`Solution.correct`).
Nothing here guesses silently: marks shaped unlike any symbol, low-confidence or
grammar-corrected symbols are reported in :attr:`Solution.warnings`, or as an error
when no trustworthy value exists.

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
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .decoding import SHAPES, align_columns, apply_shapes, decode, geometry_log_prior, normalise
from .errors import (
    EmptyExpressionError,
    ExpressionError,
    ImageError,
    IncompleteExpressionError,
    MalformedExpressionError,
    MathOCRError,
    NoExpressionError,
)
from .expression import check, evaluate, format_decimal, format_fraction, parse_statement
from .io import MAX_BYTES, MAX_PIXELS, Reduced, read_image, read_reduced
from .region import Region, RegionLike
from .segmentation import MAX_SIDE, Segment, Segmentation, segment
from .symbols import DIGITS, DISPLAY, TOKENS, with_role

LOW_CONFIDENCE = 0.9
"""A symbol whose most probable reading is below this (calibrated) is "hard to read": a
warning, and see :data:`UNREADABLE_SHARE`.

0.8 -> 0.9 (sixteenth sitting), with the bundled model, on development sets of UNIPEN's
held-out writers' glyphs and the training sources' held-out symbols (seeds 5 and 77; not
the benchmark's): invalid drawings given a value 148 -> 112 and 148 -> 114 of 1,200 each
(letters 47 -> 17 and 59 -> 32 of 200, scribbles 25 -> 21 and 25 -> 19), given one as sure
73 -> 58 and 74 -> 60. Of 4,400 valid drawings (plain expressions and school forms), one
read right before is refused and one wrong answer given as sure is no longer; 300 photos
read the same. A letter is read as the digit it looks like, but seldom at nine in ten;
a digit of an expression seldom below it. 0.94 refuses 9 more of the valid drawings read right
than 0.9 does, for 19 fewer invalid ones given a value."""

MIN_VALID = 0.3
"""When the best valid reading is less than this fraction as probable as the symbols as
read, there is no answer: ``23+`` is incomplete, ``1++2`` malformed, whatever valid
reading is nearest (it would have to overrule a symbol the model is sure of).

Chosen with :data:`UNSURE_RATIO` for the bundled model on the development sets (400 valid
drawings of the training sources' held-out symbols, seed 11; 300 valid and 300 invalid
drawings of UNIPEN's calibration writers' glyphs, seeds 11 and 12; not the benchmark's).
0.2 -> 0.3: invalid drawings given a value 23.0% -> 20.0%, valid held-out-symbol
drawings answered ``ok`` 62.5% -> 61.5%. 0.5 would give 17.0% and 59.0%, and would
refuse a bracket that only the shape of a straight stroke makes (``SHAPES["upright"]``
in :mod:`mathocr.decoding` gives it 0.3 of the row, three quarters of the rest)."""

UNSURE_RATIO = 0.1
"""A valid reading at least this fraction as probable as the best one is an alternative,
and makes the answer ``unsure``. So, always, are the symbols as read when the answer had
to change one of them to make an expression (``4+33/`` read, ``4+331`` answered): they are
more probable than the answer, and a drawing that is not finished yet looks just so.

0.2 -> 0.1 on the development sets (see :data:`MIN_VALID`), with the bundled model:
answers given as sure that are wrong 4 -> 1 of 400 (held-out symbols; ``ok`` 75.5% ->
61.5%) and 20 -> 8 of 300 (calibration writers; ``ok`` 59.0% -> 46.3%, exact among
them 88.7% -> 94.2%, where 4 of the 8 are one writer's ``00`` labelled ``0``). The
answers it no longer gives as sure keep their value, with the alternatives to choose
from. A model's sharper probabilities call for choosing it again: the previous bundled
model, softer, gave no wrong answer as sure on the held-out symbols at 0.2."""

UNREADABLE_SHARE = 0.5
"""A drawing with this share of its marks or more hard to read holds no expression.

Half or more, not more than half (until the fifteenth sitting): a word of letters is read
as digits nobody is sure of (an ``r`` a ``5``, an ``e`` a ``0`` or an ``8``), and with an
even count of marks, half of them hard to read used to leave the word answered. In a
drawing of two marks or more, a stroke torn between ``1`` and ``/`` is not hard to read:
the line tells which (a valid ``1/22`` has two such marks of four). On the development
sets (not the benchmark's), invalid drawings given a value fell from 188 to 151 of 1,200
(UNIPEN's held-out writers' glyphs, seed 77; letters 94 -> 57 of 200) and from 122 to 98 of
600 (calibration writers', seed 5; letters 49 -> 25 of 100); of 5,700 valid drawings, 5 more
were read right (refused before: torn strokes were most of their marks) and none fewer. Half
or more without the strokes' exception refused 7 valid drawings read right (``1/22``,
``51/5``); the exception for a lone mark too would give a lone ``/`` the value 1. A drawing
of one readable mark and one hard one (``8`` and a ``+`` read at 0.5) is refused: no value
is better than ``82``.

The four thresholds were first chosen together with the bundled, calibrated model on synthetic
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


def _offset(seg: Segmentation, dx: int, dy: int, scale: float = 1.0) -> Segmentation:
    """``seg`` with its boxes moved by ``(dx, dy)`` then scaled: from a region's pixels of a
    reduced picture to the whole image's."""
    if not (dx or dy) and scale == 1.0:
        return seg

    def place(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x0, y0 = math.floor((box[0] + dx) * scale), math.floor((box[1] + dy) * scale)
        x1, y1 = math.ceil((box[0] + dx + box[2]) * scale), math.ceil((box[1] + dy + box[3]) * scale)
        return (x0, y0, x1 - x0, y1 - y0)

    moved = [dataclasses.replace(s, box=place(s.box)) for s in seg.segments]
    return dataclasses.replace(
        seg, segments=moved, line_height=seg.line_height * scale, stroke_width=seg.stroke_width * scale
    )


@dataclass
class Token:
    """One recognised symbol.

    Attributes
    ----------
    symbol : str
        A token of :data:`~mathocr.symbols.TOKENS`: ``0``-``9``, ``+ - * / = ( ) .``.
    confidence : float
        The probability of this symbol (the classifier's, or segmentation's for one found
        by its shape: a decimal point).
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
    """Another reading of the same drawing.

    Attributes
    ----------
    expression : str
    value : Fraction or None
        None when it has no value: see :attr:`code`.
    confidence : float
        The model's probability of this reading.
    code : str or None
        Why it has no value (an error code of :mod:`mathocr.errors`): ``division_by_zero``,
        or, for the symbols as the classifier read them where the answer changed one of
        them to make an expression, ``incomplete_expression`` (``4+33/`` read before
        ``4+331``) or ``malformed_expression``.
    """

    expression: str
    value: Fraction | None
    confidence: float
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "value": None if self.value is None else format_fraction(self.value),
            "decimal": None if self.value is None else format_decimal(self.value),
            "confidence": round(float(self.confidence), 4),
            "code": self.code,
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
        :attr:`status` is ``"unsure"``. Where the answer changed a symbol to make an
        expression, the symbols as read come first, with no value (``4+33/``).
    correct : bool or None
        For an equation ``a=b``: whether ``b`` is the value of ``a`` (:attr:`value`
        is the value of ``a``, the right answer). None for an expression or ``a=``.
    lines : list of Solution
        With several lines of writing: each line read on its own, top to bottom;
        :attr:`expression` joins theirs with ``"\\n"`` and :attr:`value` is None. Empty
        for one line.
    """

    expression: str
    value: Fraction | None
    tokens: list[Token]
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    code: str | None = None
    confidence: float = 1.0
    alternatives: list[Alternative] = field(default_factory=list)
    correct: bool | None = None
    lines: list[Solution] = field(default_factory=list)

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
        if self.lines:
            return "ok" if all(line.status == "ok" for line in self.lines) else "unsure"
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
            if self.lines:
                out["lines"] = [line.to_dict() for line in self.lines]
            return {**out, **common}
        if self.lines:
            return {
                "status": self.status,
                "expression": self.expression,
                "lines": [line.to_dict() for line in self.lines],
                "tokens": tokens,
                **common,
            }
        value = self.value if self.value is not None else Fraction(0)
        out = {
            "status": self.status,
            "expression": self.expression,
            "value": format_fraction(value),
            "decimal": format_decimal(value),
        }
        if self.correct is not None:
            out["correct"] = self.correct
        return {**out, "tokens": tokens, **common}

    @classmethod
    def of_lines(cls, lines: Sequence[Solution], warnings: Sequence[str] = ()) -> Solution:
        """One Solution for several lines of writing, each read on its own.

        It is an error only when no line could be read; a line that could not be read
        among others that could makes it ``unsure``, with a warning naming the line.

        Examples
        --------
        >>> a = Solution("1+1=2", Fraction(2), [], correct=True)
        >>> b = Solution.failure(IncompleteExpressionError("a number must follow the +"))
        >>> both = Solution.of_lines([a, b])
        >>> both.status, both.expression, both.warnings
        ('unsure', '1+1=2\\n', ['the 2nd line could not be read: a number must follow the +'])
        """
        lines = list(lines)
        notes = list(warnings)
        notes += [
            f"the {ordinal(k + 1)} line could not be read: {line.error}"
            for k, line in enumerate(lines)
            if line.error is not None
        ]
        failed = [line for line in lines if line.error is not None]
        error = code = None
        if len(failed) == len(lines):
            error, code = "no line could be read", failed[0].code
        return cls(
            "\n".join(line.expression for line in lines),
            None,
            [t for line in lines for t in line.tokens],
            notes,
            error,
            code,
            float(np.prod([line.confidence for line in lines])),
            lines=lines,
        )

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


_NUMERALS = frozenset((*DIGITS, *with_role("point")))
_SHAPED = frozenset(flag for flag, tokens in SHAPES.items() if max(tokens.values()) >= 0.5)
"""Marks whose shape names their token (a point, a colon, ``=``, a bracket): readable,
whatever the classifier, which has no class for them, makes of them."""

_ODD_SHAPES: dict[str, str] = {
    "tall": "is much taller than the others: a letter, or two symbols?",
    "wide": "is unusually wide: symbols touching, or a scribble?",
    "loops": "is a tangle of loops: a scribble?",
}
"""Segmentation flags of marks that may be no one symbol, and what the warning says of them."""

_NO_SYMBOL = frozenset({"wide", "loops"})
"""Of :data:`_ODD_SHAPES`, marks shaped as no one symbol (symbols run together, a
scribble): unreadable, however sure the classifier is of them."""

_ONE_OR_SLASH = [TOKENS.index("1"), TOKENS.index("/")]
"""The tokens one straight stroke may be: which, only its line tells (issue 13)."""


def _shown(tokens: Sequence[str]) -> str:
    """Tokens as people write them: ``23 × 4 − 1``.

    Examples
    --------
    >>> _shown(["2", "3", "*", "-", "1"])
    '23 × − 1'
    """
    out = ""
    for i, t in enumerate(tokens):
        glue = i and not (t in _NUMERALS and tokens[i - 1] in _NUMERALS)
        out += (" " if glue else "") + DISPLAY.get(t, t)
    return out


def _unreadable(hard: list[int], n: int) -> NoExpressionError:
    """Why a drawing of ``n`` marks, those at ``hard`` hard to read, holds no expression.

    Examples
    --------
    >>> str(_unreadable([1, 3], 4))
    'the 2nd and 4th of 4 symbols are hard to read: write them again'
    """
    if len(hard) == n:
        return NoExpressionError("nothing here reads as numbers and signs: write digits and + − × ÷ = ( )")
    names = [ordinal(i + 1) for i in hard]
    if len(names) == 1:
        return NoExpressionError(f"the {names[0]} of {n} symbols is hard to read: write it again")
    which = ", ".join(names[:-1]) + " and " + names[-1]
    return NoExpressionError(f"the {which} of {n} symbols are hard to read: write them again")


def _explain(as_read: list[str]) -> MathOCRError:
    """Why the symbols, as read, are no expression: the error a person can act on."""
    shown = _shown(as_read)
    if not any(t in DIGITS for t in as_read):
        if as_read in (["-"], ["("], ["-", "("], ["(", "-"]):
            # How an expression starts: not wrong, only unfinished.
            return IncompleteExpressionError(f"only {shown} so far: write a number after it")
        if len(as_read) == 1:
            return MalformedExpressionError(f"only the sign {shown}: an expression needs numbers")
        return MalformedExpressionError(f"only signs ({shown}), no numbers: an expression needs numbers")
    try:
        statement = parse_statement(as_read)
    except IncompleteExpressionError:
        return IncompleteExpressionError(f"read {shown} … so far: it is not finished")
    except ExpressionError as exc:
        return MalformedExpressionError(f"read {shown}: {_plain(str(exc))}")
    if not statement.computes:
        return IncompleteExpressionError(f"read {shown} … so far: a number alone, nothing to compute")
    # The symbols as read do parse, yet the decoder found no valid reading near them (a
    # reading deeper in brackets than it follows): say so rather than guess.
    return MalformedExpressionError(f"read {shown}: too many brackets inside each other")


def _alternative(symbols: list[str], probability: float) -> Alternative:
    """A reading to offer beside the answer, with its value or why it has none."""
    try:
        statement = parse_statement(symbols)
        if not statement.computes:
            return Alternative("".join(symbols), None, probability, IncompleteExpressionError.code)
        return Alternative("".join(symbols), evaluate(statement), probability)
    except ExpressionError as exc:
        return Alternative("".join(symbols), None, probability, exc.code)


def _plain(message: str) -> str:
    """The parser's message for people: positions as ordinals ("the 3rd symbol")."""
    return re.sub(r"at position (\d+)", lambda m: f"(the {ordinal(int(m.group(1)) + 1)} symbol)", message)


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
        (:data:`UNSURE_RATIO`), and so are the symbols as read where the answer changed
        one of them to make an expression; 1.0 never asks.
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

    def read_reduced(self, image: Any, part: int | None = None) -> Reduced:
        """Decode one input no larger than segmentation looks at it (:attr:`max_side`).

        See :func:`mathocr.io.read_reduced`; ``part`` is the longer side of the region
        that will be read, if any. This is how :meth:`solve` reads its inputs.
        """
        return read_reduced(image, self.max_side, self.max_pixels, self.max_bytes, part=part)

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
        """Decode one input and cut its symbols out; only the page's crops outlive this call.

        A large JPEG is decoded no larger than segmentation looks at it (the region's part
        of it at least :attr:`max_side` on its longer side); boxes come back in the whole
        image's pixels all the same.
        """
        if region is None:
            page, scale, _size = self.read_reduced(image)
            return _offset(segment(page, max_side=self.max_side), 0, 0, scale)
        # Only the region needs max_side pixels: the whole image is read finer in proportion.
        page, scale, (width, height) = self.read_reduced(image, part=max(region.w, region.h))
        box = region.within(width, height)
        if scale != 1.0:
            x0, y0 = math.floor(box.x / scale), math.floor(box.y / scale)
            x1, y1 = math.ceil((box.x + box.w) / scale), math.ceil((box.y + box.h) / scale)
            box = Region(x0, y0, x1 - x0, y1 - y0).within(page.shape[1], page.shape[0])
        return _offset(segment(box.crop(page), max_side=self.max_side), box.x, box.y, scale)

    def _predict(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, len(TOKENS)))
        proba = np.asarray(self.pipeline.predict_proba(crops), dtype=np.float64)
        proba = align_columns(proba, self.classes_)
        if self.class_weights:
            scale = np.array([self.class_weights.get(t, 1.0) for t in TOKENS])
            proba = proba * scale
            proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def _finish(self, seg: Segmentation, proba: np.ndarray) -> Solution:
        """Read each line of ``seg`` (``proba`` in :data:`~mathocr.symbols.TOKENS` order)."""
        if not seg.segments:
            return Solution.failure(EmptyExpressionError("no symbols found in the image"), (), seg.warnings)
        lines = np.array([s.line for s in seg.segments])
        numbers = sorted(set(lines.tolist()))
        if len(numbers) == 1:
            return self._finish_line(seg.segments, proba, seg.line_height, list(seg.warnings))
        return Solution.of_lines(
            [
                self._finish_line(
                    [s for s, keep in zip(seg.segments, lines == k, strict=True) if keep],
                    proba[lines == k],
                    seg.line_height,
                    [],
                )
                for k in numbers
            ],
            list(seg.warnings),
        )

    def _finish_line(
        self, segments: list[Segment], proba: np.ndarray, line_height: float, warnings: list[str]
    ) -> Solution:
        """Decode one line of writing: an expression, ``12+69=`` or ``1+1=2``."""
        boxes, flags = [s.box for s in segments], [s.flags for s in segments]
        prior = geometry_log_prior(boxes, line_height, flags=flags)
        # A mark is unreadable when the classifier cannot tell what it is; the share a
        # shape gives to other tokens (a straight stroke may be a bracket) is no doubt of its.
        with_prior = normalise(proba, prior)
        own = with_prior.max(axis=1)
        if len(segments) > 1:
            # One stroke is a 1 or a slash, and which is for the line to say (the grammar,
            # its height): torn between the two, the mark is not hard to read. Alone it is.
            own = np.maximum(own, with_prior[:, _ONE_OR_SLASH].sum(axis=1))
        proba = apply_shapes(proba, flags)
        decoded = decode(proba, prior)
        q = decoded.probabilities
        readable = [
            (float(own[i]) >= self.low_confidence or bool(_SHAPED & set(s.flags)))
            and not _NO_SYMBOL & set(s.flags)
            for i, s in enumerate(segments)
        ]
        for i, s in enumerate(segments):
            warnings += [
                f"the {ordinal(i + 1)} symbol {says}" for flag, says in _ODD_SHAPES.items() if flag in s.flags
            ]

        as_read = decoded.argmax
        read_confidence = float(np.prod(q.max(axis=1)))
        read_tokens = [
            Token(t, float(proba[i, TOKENS.index(t)]), s.box)
            for i, (t, s) in enumerate(zip(as_read, segments, strict=True))
        ]
        hard = [i for i, ok in enumerate(readable) if not ok]
        if len(hard) >= UNREADABLE_SHARE * len(readable):
            return Solution.failure(_unreadable(hard, len(readable)), read_tokens, warnings, read_confidence)
        if not decoded.readings or decoded.readings[0].probability < self.min_valid * read_confidence:
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
            Token(sym, float(proba[i, TOKENS.index(sym)]), s.box)
            for i, (sym, s) in enumerate(zip(best.symbols, segments, strict=True))
        ]
        try:
            result = check(best.symbols)
        except ExpressionError as exc:
            return Solution.failure(exc, tokens, warnings, best.probability)
        alternatives = []
        for reading in decoded.readings[1:]:
            if (
                len(alternatives) == self.max_alternatives
                or reading.probability < self.unsure_ratio * best.probability
            ):
                break
            alternatives.append(_alternative(reading.symbols, reading.probability))
        if best.symbols != as_read and self.unsure_ratio < 1.0:
            # The answer changed a symbol the classifier read otherwise to make an expression
            # of them: a stroke after "33" is a 1, or a "/" not yet followed by its number.
            # Which the writer meant, the drawing does not say: ask, never answer as sure.
            alternatives = [_alternative(as_read, read_confidence), *alternatives][: self.max_alternatives]
        return Solution(
            best.text,
            result.value,
            tokens,
            warnings,
            confidence=best.probability,
            alternatives=alternatives,
            correct=result.correct,
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
