"""Synthetic images of handwritten expressions, with ground truth.

For evaluation, expressions are composed from **held-out** symbol images only
(never training images): digits from the MNIST test set, operators from
``mdas/test`` and ``bhmsds/heldout`` (see :func:`mathocr.datasets.load_training_data`).
Training draws its pages from the training images instead (:func:`symbol_pool`,
:mod:`mathocr.pagecrops`). Each item is
drawn in a *style* (stroke width, scale, spacing, baseline slant, rotation, noise,
blur, JPEG compression, ink colour, paper, shadows, polarity), deterministically
for a seed: item ``i`` of seed ``s`` is the same whatever ``n`` is. The glyphs of
writers training never saw (:func:`unseen_writer_symbols`) are drawn in the pen styles
(:data:`PEN_STYLES`). Phone photos of a sheet on a table, 3000x3000 JPEG files with an EXIF
orientation, are drawn in :data:`PHOTO_STYLES`.

Expressions come in *forms* (:data:`EXPRESSION_FORMS`): plain (``38*5-7``), with
brackets (``2(3+4)``), decimals (``12.75``), a colon for division (``12:4``), to compute
(``12+69=``), a written check, right or wrong (``3*4=12``), and two lines, one below
the other; ``forms=`` picks them, plain by default. ``=``, ``(`` and ``)`` come from the
pool where it has them (UNIPEN's writers do) and are drawn with the pen otherwise (the
training sources have none); decimal points and colons are always drawn, dots of the
pen's width, as nobody's samples of them are usable.

Drawings that hold no expression come from the same machinery
(:func:`make_invalid_set`): operators misplaced (``23+``, ``*12``, ``1++2``, ``+``),
random scribbles, and words of hand-made letters, the last two drawn as pen strokes by
:mod:`mathocr.strokes`; each records its kind (:data:`INVALID_KINDS`).

Tests pass their own tiny glyphs through ``symbols=`` and need no data.

Examples
--------
>>> import numpy as np
>>> bar = np.zeros((28, 28), np.uint8); bar[12:16, 4:24] = 255
>>> pool = {t: [np.rot90(bar, k=int(t) % 2) if t.isdigit() else bar] for t in "0123456789+-*/"}
>>> items = make_expression_set(2, styles=["clean"], seed=1, symbols=pool)
>>> items[0].image.dtype, items[0].image.ndim, len(items[0].tokens) >= 3
(dtype('uint8'), 3, True)
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.special import ndtri

from . import strokes as pen_strokes
from .datasets import SymbolSet
from .errors import DataError, EvaluationError
from .expression import check, evaluate
from .io import read_image
from .symbols import DIGITS, OPERATORS, canonical, form

# ---------------------------------------------------------------------------- glyph kinds

# A token has several written forms of different sizes (mathocr.symbols' table): "*" is
# a cross, a letter x, an asterisk or a small dot; "/" a slash, an obelus or a colon.
# Kinds decide the drawn size and place.
_KIND_OF_FORM = {
    "plus": "+",
    "minus": "-",
    "cross": "cross",
    "x": "cross",
    "asterisk": "cross",
    "dot": "dot",
    "slash": "/",
    "obelus": "obelus",
    "colon": "colon",
    "equals": "=",
    "open": "(",
    "close": ")",
    "point": "point",
}

# Longer-side size of each kind relative to the digit height, and whether the size
# applies to the height or the width (flat symbols) rather than the longer side.
_SIZE: dict[str, tuple[float, float, str]] = {
    "digit": (0.85, 1.05, "height"),
    "+": (0.5, 0.72, "long"),
    "-": (0.45, 0.7, "width"),
    "cross": (0.45, 0.65, "long"),
    "dot": (0.13, 0.2, "long"),
    "/": (0.66, 1.9, "height"),
    "obelus": (0.55, 0.75, "width"),
    "=": (0.5, 0.75, "width"),
    "(": (0.8, 1.9, "height"),
    ")": (0.8, 1.9, "height"),
    # Drawn, never scaled from an image (_drawn_marks): a point is a dot 1.5-2.5 pen
    # widths across, a colon two such dots with about 0.2 digit heights between them.
    # Nominal sizes.
    "point": (0.15, 0.25, "long"),
    "colon": (0.5, 0.7, "height"),
}

# Kinds whose size is drawn log-normal (median and spread of its logarithm, relative to the
# digit height) within their _SIZE range rather than uniform. Writers draw the slash taller
# than their digits: its height over the writer's median digit has median 1.17 among
# UNIPEN's calibration writers (1.26 among the training writers, 1.17 among the held-out
# ones) and a log spread of 0.35 (training writers, 1.4826 median absolute deviations;
# a quarter of slashes are no taller than the digits). The digits' median is 0.95 here.
# Brackets likewise: 1.26 times the median digit among the calibration writers (1.34 among
# the training writers, 1.33 among the held-out ones), log spread 0.26 (training writers);
# 18% of the training writers' brackets are no taller than 1.05 digits.
_LOG_NORMAL: dict[str, tuple[float, float]] = {
    "/": (0.95 * 1.17, 0.35),
    "(": (0.95 * 1.26, 0.26),
    ")": (0.95 * 1.26, 0.26),
}

# Kinds drawn as dots of the line's pen, whatever the pool holds: UNIPEN's "." samples
# are mostly not dots, and no source has a colon.
_DRAWN_KINDS = frozenset({"point", "colon"})
# Kinds that stand on the baseline; the others float at mid-height.
_ON_BASELINE = frozenset({"digit", "/", "point"})


def glyph_kind(name: str) -> str:
    """The drawn kind of a glyph name, from its written form (:func:`mathocr.symbols.form`).

    ``digit``, ``+``, ``-``, ``cross`` (a cross, letter x or asterisk), ``dot``, ``/``,
    ``obelus``, ``colon``, ``=``, ``(``, ``)`` or ``point`` (a decimal point).

    Raises
    ------
    KeyError
        For a name that is no alias of :mod:`mathocr.symbols`.

    Examples
    --------
    >>> glyph_kind("division_obelus"), glyph_kind("7"), glyph_kind("forward_slash")
    ('obelus', 'digit', '/')
    >>> glyph_kind(":"), glyph_kind("."), glyph_kind("equals"), glyph_kind("(")
    ('colon', 'point', '=', '(')
    """
    written = form(name)
    return "digit" if written in DIGITS else _KIND_OF_FORM[written]


# ---------------------------------------------------------------------------- styles


@dataclass(frozen=True)
class Style:
    """How an expression is drawn; ranges are sampled uniformly per image.

    Attributes
    ----------
    name : str
    height : (min, max)
        Digit height in pixels.
    ink_cut : (min, max)
        Level at which the upscaled glyph is cut: low = thick strokes, high = thin.
    dilate : (min, max)
        Extra stroke growth in pixels (thick markers).
    spacing : (min, max)
        Gap between symbols, relative to the digit height.
    slant : (min, max)
        Baseline slope (dy/dx).
    rotation : (min, max)
        Rotation of the whole image, degrees.
    jitter : float
        Vertical wobble of each symbol, relative to the digit height.
    blur, noise : (min, max)
        Gaussian blur sigma (pixels) and additive noise sigma (grey levels).
    jpeg : (min, max) or None
        JPEG quality range; None for no compression.
    ink : {"black", "colour", "pencil", "light", "pen"}
        ``"pen"``: blue or black ballpoint, or grey pencil.
    paper : {"white", "paper", "dark", "black"}
    shadow : bool
        A soft shadow or uneven light across the page.
    scene : bool
        The page is a sheet photographed on a darker table (:data:`PHOTO_STYLES`): ruled,
        squared or plain paper, at an angle and in perspective, a shadow across sheet and
        table, phone-camera blur and noise, saved as a 3000x3000 JPEG with an EXIF
        orientation.
    """

    name: str
    height: tuple[float, float] = (40, 72)
    ink_cut: tuple[float, float] = (0.25, 0.45)
    dilate: tuple[float, float] = (0, 0)
    spacing: tuple[float, float] = (0.15, 0.45)
    slant: tuple[float, float] = (0.0, 0.0)
    rotation: tuple[float, float] = (0.0, 0.0)
    jitter: float = 0.04
    blur: tuple[float, float] = (0.0, 0.0)
    noise: tuple[float, float] = (0.0, 0.0)
    jpeg: tuple[int, int] | None = None
    ink: str = "black"
    paper: str = "white"
    shadow: bool = False
    scene: bool = False


_BASE = Style("clean")
STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        _BASE,
        replace(_BASE, name="thick", ink_cut=(0.15, 0.3), dilate=(1.0, 3.0)),
        replace(_BASE, name="thin", height=(28, 44), ink_cut=(0.5, 0.65)),
        replace(_BASE, name="large", height=(90, 160)),
        replace(_BASE, name="tight", spacing=(0.04, 0.12)),
        replace(_BASE, name="slanted", slant=(-0.12, 0.12), jitter=0.05),
        replace(_BASE, name="rotated", rotation=(-6.0, 6.0)),
        replace(_BASE, name="noisy", noise=(8.0, 22.0)),
        replace(_BASE, name="blurry", blur=(0.8, 2.0)),
        replace(_BASE, name="jpeg", jpeg=(15, 45)),
        replace(_BASE, name="colour", ink="colour"),
        replace(_BASE, name="pencil", ink="pencil", paper="paper", noise=(2.0, 6.0)),
        replace(
            _BASE,
            name="photo",
            paper="paper",
            shadow=True,
            rotation=(-3.0, 3.0),
            noise=(3.0, 8.0),
            blur=(0.3, 1.0),
            jpeg=(55, 90),
            ink="colour",
        ),
        replace(_BASE, name="shadow", shadow=True, paper="paper"),
        replace(_BASE, name="chalk", ink="light", paper="dark", noise=(4.0, 10.0), blur=(0.3, 0.8)),
        replace(_BASE, name="screenshot", ink="light", paper="black"),
    )
}
"""The named styles; ``make_expression_set(styles=None)`` cycles through all of them."""

PEN_STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        # A drawing page's export (mathocr.strokes' "canvas"): the clean page, by the name
        # the stroke renderer gives it.
        replace(_BASE, name="canvas"),
        # Pen or pencil on paper (mathocr.strokes' "paper"): grey ink on off-white, a
        # little blur, sensor noise and JPEG compression, in the same ranges.
        replace(
            _BASE, name="paper", ink="pencil", paper="paper", blur=(0.3, 1.0), noise=(1.0, 6.0), jpeg=(50, 95)
        ),
    )
}
"""The styles of :data:`mathocr.strokes.STYLES` a whole expression is drawn in; apart from
:data:`STYLES` so the default cycle (and the training pages drawn from it) stays as it is.
``styles=["canvas", "paper"]`` names them."""

PHOTO_STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        # A phone photo of a sheet on a table (issue 16): blue or black ballpoint or grey
        # pencil (ink "pen"), digit height in the sheet's pixels before the 2x upscaling.
        replace(
            _BASE,
            name="sheet",
            height=(35.0, 90.0),
            ink="pen",
            paper="paper",
            shadow=True,
            rotation=(-2.0, 2.0),
            blur=(0.4, 1.1),
            noise=(2.0, 6.0),
            jpeg=(70, 92),
            scene=True,
        ),
    )
}
"""Whole photographed scenes, apart from :data:`STYLES` for the same reason as
:data:`PEN_STYLES`. An item of one is 3000x3000: ``SynthItem.page`` is the sheet's outline
and ``SynthItem.data`` the JPEG as a phone saves it (pixels stored sideways or upside down,
an EXIF orientation to turn them upright). ``styles=["sheet"]`` names it."""


# ---------------------------------------------------------------------------- items


@dataclass
class SynthItem:
    """One synthetic expression image with its ground truth.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    tokens : list of str
        ASCII tokens in reading order (``:`` is ``/``, ``×`` is ``*``); for several
        lines, the tokens of every line one after the other, without a separator.
    expression : str
        The ASCII expression: ``"".join(tokens)`` for one line, else the lines joined
        by ``"\\n"``.
    value : Fraction
        The value of the first line (of its left side, for ``12+69=`` or ``3*4=12``).
    style : str
    boxes : list of (x, y, w, h)
        Where each token's ink was placed (after rotation: the box of the rotated box).
    kinds : list of str
        The drawn form of each token (``cross``, ``dot``, ``obelus``, ``colon``,
        ``point``, ...).
    page : ndarray of float, shape (4, 2), or None
        :data:`PHOTO_STYLES` only: the sheet's corners ``(x, y)`` in ``image``, clockwise
        from its top left; everything outside is the table.
    data : bytes or None
        :data:`PHOTO_STYLES` only: the encoded photo (JPEG, EXIF orientation);
        :func:`mathocr.io.read_image` of it is ``image``.
    form : str
        Its :data:`EXPRESSION_FORMS` entry.
    lines : list of str
        The ASCII expression of each written line (default: ``expression``'s lines).
    correct : bool or None
        For a written check ``a=b`` (form ``"check"``): whether ``b`` is ``a``'s value;
        None when the item checks nothing.
    """

    image: np.ndarray
    tokens: list[str]
    expression: str
    value: Fraction
    style: str
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    page: np.ndarray | None = None
    data: bytes | None = None
    form: str = "plain"
    lines: list[str] = field(default_factory=list)
    correct: bool | None = None

    def __post_init__(self) -> None:
        if not self.lines:
            self.lines = self.expression.split("\n")


def random_tokens(
    rng: np.random.Generator, min_len: int = 3, max_len: int = 9, max_digits: int = 3
) -> list[str]:
    """A random valid expression of ``min_len``-``max_len`` tokens with at least one operator.

    Multi-digit numbers have no leading zero; division by zero is avoided.

    Examples
    --------
    >>> toks = random_tokens(np.random.default_rng(0))
    >>> 3 <= len(toks) <= 9
    True
    """
    if min_len < 3 or max_len < min_len:
        raise ValueError(f"need 3 <= min_len <= max_len, got {min_len}, {max_len}")
    while True:
        length = int(rng.integers(min_len, max_len + 1))
        sign = length >= 4 and rng.random() < 0.1
        rest = length - int(sign)
        # m numbers of 1..max_digits digits joined by m-1 operators fill `rest` tokens.
        lo = max(2, -(-(rest + 1) // (max_digits + 1)))
        hi = (rest + 1) // 2
        if lo > hi:
            continue
        m = int(rng.integers(lo, hi + 1))
        digits = rest - (m - 1)
        sizes = np.ones(m, dtype=int)
        for _ in range(digits - m):
            free = np.flatnonzero(sizes < max_digits)
            sizes[rng.choice(free)] += 1
        tokens = ["-"] if sign else []
        for k, size in enumerate(sizes):
            if k:
                tokens.append(str(rng.choice(OPERATORS)))
            tokens.extend(_number(rng, int(size)))
        try:
            evaluate(tokens)
        except EvaluationError:
            continue
        return tokens


def _number(rng: np.random.Generator, size: int) -> list[str]:
    """The digits of a random ``size``-digit number, without a leading zero."""
    first = rng.integers(1 if size > 1 else 0, 10)
    return [str(first), *(str(d) for d in rng.integers(0, 10, size=size - 1))]


# ---------------------------------------------------------------------------- expression forms

# Lines of the other forms stay about as long as plain ones.
_MAX_LINE = 12


def _operator(rng: np.random.Generator) -> str:
    return str(rng.choice(OPERATORS))


def _value(tokens: Sequence[str]) -> Fraction | None:
    """``tokens``' value, or None for a division by zero."""
    try:
        return evaluate(list(tokens))
    except EvaluationError:
        return None


def _plain(rng: np.random.Generator, min_len: int, max_len: int, correct: bool) -> list[list[str]]:
    return [random_tokens(rng, min_len, max_len)]


def _group(rng: np.random.Generator, nested: bool) -> list[str]:
    """``(a op b)``, sometimes ``(-a op b)``; ``nested``: one operand is a group itself."""
    inner = ["-"] if rng.random() < 0.25 else []  # a unary minus right after "("
    inner += _number(rng, int(rng.integers(1, 3)))
    if not nested:
        return ["(", *inner, _operator(rng), *_number(rng, int(rng.integers(1, 3))), ")"]
    deeper = ["(", *_number(rng, 1), _operator(rng), *_number(rng, 1), ")"]
    if rng.random() < 0.3:
        return ["(", *inner, *deeper, ")"]  # implicit multiplication inside: (2(3+4))
    if rng.random() < 0.5:
        return ["(", *inner, _operator(rng), *deeper, ")"]
    return ["(", *deeper, _operator(rng), *_number(rng, int(rng.integers(1, 3))), ")"]


def _parentheses(rng: np.random.Generator, min_len: int, max_len: int, correct: bool) -> list[list[str]]:
    """One or two bracket groups: ``12-(3+4)``, ``(3+4)*2``, ``2(3+4)``, ``(1+2)*(3-4)``, ..."""
    while True:
        group = _group(rng, nested=rng.random() < 0.3)
        a = _number(rng, int(rng.integers(1, 3)))
        shape = int(rng.integers(5))
        if shape == 0:
            tokens = [*a, _operator(rng), *group]
        elif shape == 1:
            tokens = [*group, _operator(rng), *a]
        elif shape == 2:
            tokens = [*a, *group]  # implicit multiplication
        elif shape == 3:
            second = _group(rng, nested=False)
            tokens = [*group, *second] if rng.random() < 0.2 else [*group, _operator(rng), *second]
        else:
            tokens = [*a, _operator(rng), *group, _operator(rng), *_number(rng, 1)]
        if rng.random() < 0.1:
            tokens = ["-", *tokens]
        if len(tokens) <= _MAX_LINE and _value(tokens) is not None:
            return [tokens]


def _decimal_number(rng: np.random.Generator) -> list[str]:
    """``3.5``, ``0.25``, ``12.75``: one or two places, the last not a zero."""
    places = int(rng.integers(1, 3))
    fraction = [*(str(d) for d in rng.integers(0, 10, size=places - 1)), str(rng.integers(1, 10))]
    return [*_number(rng, int(rng.integers(1, 3))), ".", *fraction]


def _decimal(rng: np.random.Generator, min_len: int, max_len: int, correct: bool) -> list[list[str]]:
    """Two or three numbers, at least one of them a decimal."""
    while True:
        m = int(rng.integers(2, 4))
        decimal = rng.random(m) < 0.5
        decimal[rng.integers(m)] = True
        tokens = ["-"] if rng.random() < 0.1 else []
        for k in range(m):
            if k:
                tokens.append(_operator(rng))
            tokens += _decimal_number(rng) if decimal[k] else _number(rng, int(rng.integers(1, 3)))
        if len(tokens) <= _MAX_LINE and _value(tokens) is not None:
            return [tokens]


def _colon(rng: np.random.Generator, min_len: int, max_len: int, correct: bool) -> list[list[str]]:
    """A plain expression with at least one division, every division written ``:``."""
    while True:
        tokens = random_tokens(rng, min_len, max_len)
        ops = [k for k, t in enumerate(tokens) if k and t in OPERATORS]
        tokens[int(rng.choice(ops))] = "/"
        if _value(tokens) is not None:
            return [[":" if t == "/" else t for t in tokens]]


def _compute(rng: np.random.Generator, min_len: int, max_len: int, correct: bool) -> list[list[str]]:
    """``12+69=``: a plain expression to compute."""
    return [[*random_tokens(rng, min_len, max_len), "="]]


def _decimal_text(value: Fraction, places: int = 2) -> str | None:
    """``value`` written out when it terminates within ``places`` decimals, else None.

    Examples
    --------
    >>> _decimal_text(Fraction(-3, 4)), _decimal_text(Fraction(12)), _decimal_text(Fraction(1, 3))
    ('-0.75', '12', None)
    """
    for p in range(places + 1):
        scaled = value * 10**p
        if scaled.denominator == 1:
            digits = str(abs(scaled.numerator)).rjust(p + 1, "0")
            text = f"{digits[:-p]}.{digits[-p:]}" if p else digits
            return f"-{text}" if value < 0 else text
    return None


def _check(rng: np.random.Generator, min_len: int, max_len: int, correct: bool) -> list[list[str]]:
    """``a=b``: ``b`` is ``a``'s value when ``correct``, else near it.

    A wrong ``b`` is off by 1-10, or, when ``a``'s value is a decimal, sometimes by 0.1-0.9.
    """
    short = max(min_len, min(max_len, 7))
    while True:
        left = random_tokens(rng, min_len, short)
        value = evaluate(left)
        if not correct:
            step = Fraction(1, 10) if value.denominator > 1 and rng.random() < 0.5 else Fraction(1)
            value += int(rng.choice([-1, 1])) * int(rng.integers(1, 10 if step < 1 else 11)) * step
        right = _decimal_text(value)
        if right is not None and len(right) <= 5 and len(left) + 1 + len(right) <= _MAX_LINE:
            return [[*left, "=", *right]]


def _two_lines(rng: np.random.Generator, min_len: int, max_len: int, correct: bool) -> list[list[str]]:
    """Two plain expressions, the second written below the first."""
    return [random_tokens(rng, min_len, max_len), random_tokens(rng, min_len, max_len)]


@dataclass(frozen=True)
class ExpressionForm:
    """One way of writing expressions (an entry of :data:`EXPRESSION_FORMS`).

    Attributes
    ----------
    name : str
    make : callable
        ``make(rng, min_len, max_len, correct)`` -> the written lines, each a list of
        glyph names (tokens, or ``":"`` for a division written as a colon); ``correct``
        says whether a written check is to be right.
    pool : tuple of str
        The tokens whose glyphs must come from the pool. ``=``, ``(`` and ``)`` are drawn
        with the pen when the pool has none; points and colons are always drawn.
    """

    name: str
    make: Callable[[np.random.Generator, int, int, bool], list[list[str]]]
    pool: tuple[str, ...] = (*DIGITS, *OPERATORS)


EXPRESSION_FORMS: dict[str, ExpressionForm] = {
    f.name: f
    for f in (
        ExpressionForm("plain", _plain),
        ExpressionForm("parentheses", _parentheses),
        ExpressionForm("decimal", _decimal),
        ExpressionForm("colon", _colon, (*DIGITS, *(t for t in OPERATORS if t != "/"))),
        ExpressionForm("compute", _compute),
        ExpressionForm("check", _check),
        ExpressionForm("two_lines", _two_lines),
    )
}
"""How expressions are written: ``plain`` (:func:`random_tokens`: ``38*5-7``);
``parentheses`` (one or two bracket groups, sometimes nested, a unary minus after ``(``,
an implicit multiplication ``2(3+4)``); ``decimal`` (``3.5``, ``0.25``, ``12.75``: at
least one per expression); ``colon`` (division written ``:``; the token is ``/``, the
kind ``colon``); ``compute`` (``12+69=``); ``check`` (``a=b``, right for half the items,
``SynthItem.correct`` says which); ``two_lines`` (two plain expressions, one below the
other). ``plain``, ``colon``, ``compute`` and ``two_lines`` honour ``min_len``/``max_len``
(``check`` takes its left side from at most 7 of them); the others keep their own
lengths, at most 12 tokens a line."""


def _forms(forms: Iterable[str | ExpressionForm]) -> list[ExpressionForm]:
    """The chosen forms (names or ExpressionForm)."""
    chosen = [forms] if isinstance(forms, str) else forms
    return _chosen(chosen, EXPRESSION_FORMS, ExpressionForm, "expression form")


def _chosen(values: Iterable[Any], known: Mapping[str, Any], kind: type, what: str) -> list[Any]:
    """``values`` as objects of ``kind``: each given as one or by its name in ``known``."""
    chosen = []
    for v in values:
        if not isinstance(v, kind) and v not in known:
            raise ValueError(f"unknown {what} {v!r}; known: {', '.join(known)}")
        chosen.append(v if isinstance(v, kind) else known[v])
    if not chosen:
        raise ValueError(f"{what}s is empty: choose at least one")
    return chosen


# ---------------------------------------------------------------------------- symbol pool


def _clean_glyph(img: np.ndarray) -> np.ndarray | None:
    """Ink-on-black glyph as floats in [0, 1], cropped to its ink; None if blank."""
    g = np.asarray(img, dtype=np.float32)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    lo = float(np.median(border))
    hi = float(np.percentile(g, 99.5))
    if hi - lo < 30:
        return None
    g = np.clip((g - lo) / (hi - lo), 0.0, 1.0)
    g[g < 0.1] = 0.0
    rows, cols = np.flatnonzero(g.max(axis=1) > 0.3), np.flatnonzero(g.max(axis=0) > 0.3)
    if rows.size == 0:
        return None
    return g[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _folder_name(path: str) -> str:
    return Path(path).parent.name


def symbol_pool(sets: Iterable[SymbolSet]) -> dict[str, tuple[np.ndarray, ...]]:
    """Glyph name -> images of some symbol sets, in the form ``make_expression_set`` takes.

    Images read from a class folder are keyed by that folder's name (``"x"``,
    ``"division_obelus"``), so each written form keeps its drawn size; the others
    (MNIST) by their token.

    Parameters
    ----------
    sets : iterable of mathocr.datasets.SymbolSet

    Returns
    -------
    dict

    Examples
    --------
    >>> from mathocr.datasets import SymbolSet
    >>> img = np.zeros((28, 28), np.uint8)
    >>> s = SymbolSet([img, img], np.array(["7", "/"]), "demo", ["a/7/1.png", "a/div/2.png"])
    >>> pool = symbol_pool([s])
    >>> sorted(pool)
    ['7', 'div']
    """
    pool: dict[str, list[np.ndarray]] = {}
    for s in sets:
        for i, img in enumerate(s.X):
            key = _folder_name(s.paths[i]) if s.paths else str(s.y[i])
            pool.setdefault(key, []).append(img)
    return {k: tuple(v) for k, v in pool.items()}


TRAINING_SOURCES_HELDOUT = ("mnist/test", "mdas/test", "bhmsds/heldout")
UNSEEN_WRITER_SOURCES = ("unipen/heldout-writers",)


@lru_cache(maxsize=2)
def _heldout_sets(root: str) -> dict[str, SymbolSet]:
    """The held-out sets of a data directory, loaded once for every pool drawn from them."""
    from .datasets import load_training_data

    return load_training_data(root).heldout


def _every_token(pool: dict[str, tuple[np.ndarray, ...]], where: str) -> dict[str, tuple[np.ndarray, ...]]:
    """``pool``, if it has a glyph of every token; else a DataError naming what is missing."""
    missing = [t for t in (*DIGITS, *OPERATORS) if not any(canonical(k) == t for k in pool)]
    if missing:
        raise DataError(f"no held-out image of {', '.join(missing)} in {where}")
    return pool


@lru_cache(maxsize=2)
def _heldout_pool(root: str) -> dict[str, tuple[np.ndarray, ...]]:
    heldout = _heldout_sets(root)
    pool = symbol_pool(heldout[s] for s in TRAINING_SOURCES_HELDOUT if s in heldout)
    return _every_token(pool, f"{', '.join(TRAINING_SOURCES_HELDOUT)} under {root}")


def unseen_writer_symbols(data_dir: str | os.PathLike | None = None) -> dict[str, tuple[np.ndarray, ...]]:
    """The glyphs of UNIPEN's held-out writers (digits, ``+ - * /`` and ``= ( )``), keyed by token.

    Expressions composed from them test what the symbol benchmark cannot: writers,
    and a source, that training never saw a sample of. They are drawn as the
    ``unipen/heldout-writers`` report draws them, less the samples that are dots
    (:func:`mathocr.datasets.dots`): enlarged into an operator's slot, a dot labelled
    ``-`` is a ``·`` (a multiplication) to any reader, and an expression holding one
    has no right answer.

    Raises
    ------
    mathocr.errors.DataError
        If the data directory has no UNIPEN tree.

    Examples
    --------
    >>> symbols = unseen_writer_symbols()                          # doctest: +SKIP
    >>> make_expression_set(4, styles=["canvas", "paper"], symbols=symbols)[0].style  # doctest: +SKIP
    'canvas'
    """
    from .datasets import data_home

    return _unseen_pool(str(data_home(data_dir)))


@lru_cache(maxsize=2)
def _unseen_pool(root: str) -> dict[str, tuple[np.ndarray, ...]]:
    from .datasets import UNIPEN_TOKENS, dots, load_unipen, render_pen_samples, unipen_writer_groups

    held = unipen_writer_groups(load_unipen(root, UNIPEN_TOKENS))[2]
    held = [s for s, dot in zip(held, dots(held), strict=True) if not dot]
    pool = symbol_pool([render_pen_samples(held, UNSEEN_WRITER_SOURCES[0], augment=False)])
    return _every_token(pool, f"{UNSEEN_WRITER_SOURCES[0]} under {root}")


def heldout_symbols(data_dir: str | os.PathLike | None = None) -> dict[str, tuple[np.ndarray, ...]]:
    """The held-out symbol images, keyed by glyph name (digit or dataset folder name).

    Parameters
    ----------
    data_dir : path-like, optional
        See :func:`mathocr.datasets.data_home`.

    Returns
    -------
    dict
        ``"0"``-``"9"`` from MNIST test; ``"addition_plus"``, ``"division_obelus"``,
        ``"x"``, ``"dot"``, ... from ``mdas/test`` and ``bhmsds/heldout``.
    """
    from .datasets import data_home

    return _heldout_pool(str(data_home(data_dir)))


def _prepare_pool(
    symbols: Mapping[str, Sequence[np.ndarray]], needs: Iterable[str] = (*DIGITS, *OPERATORS)
) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Token -> [(kind, raw image)] from any glyph-name -> images mapping.

    Points and colons are left out (they are always drawn); every token of ``needs``
    must have an image.
    """
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, images in symbols.items():
        token, kind = canonical(name), glyph_kind(name)
        if kind not in _DRAWN_KINDS:
            out.setdefault(token, []).extend((kind, img) for img in images)
    missing = [t for t in dict.fromkeys(needs) if not out.get(t)]
    if missing:
        raise DataError(f"the symbol pool has no image of {', '.join(missing)}")
    return out


def _pick_glyph(options: list[tuple[str, np.ndarray]], rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A random usable glyph (cleaned lazily: a pool holds thousands)."""
    for _ in range(50):
        kind, raw = options[int(rng.integers(len(options)))]
        g = _clean_glyph(raw)
        if g is not None:
            return kind, g
    raise DataError("the symbol pool holds only blank images for a token")


# Stands in for the image of a kind drawn at the pen's width (_drawn_marks).
_NO_IMAGE = np.ones((1, 1), np.float32)


def _glyph_of(
    name: str, pool: dict[str, list[tuple[str, np.ndarray]]], rng: np.random.Generator
) -> tuple[str, np.ndarray]:
    """The glyph that writes ``name``: from the pool, drawn with the pen, or a dot to draw.

    A point or a colon is always drawn later, at the line's pen width; ``=``, ``(`` and
    ``)`` come from the pool when it has them, else from hand-made strokes.
    """
    kind = glyph_kind(name)
    if kind in _DRAWN_KINDS:
        return kind, _NO_IMAGE
    token = canonical(name)
    if pool.get(token):
        return _pick_glyph(pool[token], rng)
    if token in _PEN_SYMBOLS:
        return _pen_glyph(_PEN_SYMBOLS[token](rng), rng, kind)
    raise DataError(f"the symbol pool has no image of {token}")


# ---------------------------------------------------------------------------- rendering


def _resize(g: np.ndarray, width: int, height: int) -> np.ndarray:
    im = Image.fromarray(g.astype(np.float32), mode="F")
    return np.asarray(im.resize((max(1, width), max(1, height)), Image.Resampling.BILINEAR))


def _render_glyph(
    kind: str, g: np.ndarray, digit_h: float, style: Style, rng: np.random.Generator
) -> np.ndarray:
    lo, hi, mode = _SIZE.get(kind, _SIZE["digit"])
    if kind in _LOG_NORMAL:
        median, spread = _LOG_NORMAL[kind]
        target = digit_h * float(np.clip(median * np.exp(spread * ndtri(rng.uniform())), lo, hi))
    else:
        target = digit_h * rng.uniform(lo, hi)
    h, w = g.shape
    if mode == "height":
        scale = target / h
    elif mode == "width":
        scale = target / w
    else:
        scale = target / max(h, w)
    # Thin glyphs (a minus) keep at least a pen's thickness.
    pen = 0.1 * digit_h
    new_w = max(2, round(w * scale), round(pen) if mode == "height" else 2)
    new_h = max(2, round(h * scale), round(pen) if mode == "width" else 2)
    big = _resize(g, new_w, new_h)
    pad = 4 + int(np.ceil(style.dilate[1])) + int(np.ceil(scale))
    big = np.pad(big, pad)
    if scale > 1.5:
        # Smooth the enlarged pixels into a pen-like stroke: no blocks, no gaps.
        big = ndimage.gaussian_filter(big, 0.3 * scale)
        big /= max(float(big.max()), 1e-6)
    cut = rng.uniform(*style.ink_cut)
    # A soft cut of the smooth upscaled glyph sets the stroke width.
    alpha = np.clip((big - cut) / 0.2 + 0.5, 0.0, 1.0)
    r = rng.uniform(*style.dilate)
    if r >= 0.5:
        size = 2 * round(r) + 1
        alpha = ndimage.grey_dilation(alpha, footprint=_disk(size))
    return alpha


def _stroke_width(alpha: np.ndarray) -> float:
    ink = alpha > 0.5
    if not ink.any():
        return 0.0
    edge = ink & ~ndimage.binary_erosion(ink)
    return 2.0 * float(ink.sum()) / max(float(edge.sum()), 1.0)


def _same_pen(alphas: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """Thicken operators drawn thinner than the digits: one pen writes a whole line.

    The operator sources are drawn with finer strokes than MNIST's digits.
    """
    digits = [_stroke_width(a) for kind, a in alphas if kind == "digit"]
    if not digits:
        return alphas
    pen = float(np.median(digits))
    out = []
    for kind, a in alphas:
        if kind != "digit" and kind not in _DRAWN_KINDS:
            grow = round(pen - _stroke_width(a))
            if grow >= 1:
                a = ndimage.grey_dilation(np.pad(a, grow), footprint=_disk(grow + 1))
        out.append((kind, a))
    return out


def _drawn_marks(
    alphas: list[tuple[str, np.ndarray | None]], digit_h: float, rng: np.random.Generator
) -> list[tuple[str, np.ndarray]]:
    """Draw the points and colons of a line (None alphas) as dots of its pen's width.

    A point is a dot 1.5-2.5 pen widths across; a colon two dots of 1.3-2.1, one above
    the other, 0.15-0.28 digit heights (at least a pen width) between them, their
    centres about 0.3-0.5 digit heights apart. The pen is the digits' median stroke width.
    """
    if all(a is not None for _, a in alphas):
        return alphas
    widths = [_stroke_width(a) for kind, a in alphas if kind == "digit" and a is not None]
    pen = max(float(np.median(widths)) if widths else 0.0, 0.06 * digit_h, 1.5)
    out = []
    for kind, a in alphas:
        if a is None and kind == "point":
            a = _dot(pen * rng.uniform(1.5, 2.5), rng)
        elif a is None:
            upper, lower = (_dot(pen * rng.uniform(1.3, 2.1), rng) for _ in range(2))
            gap = round(max(digit_h * rng.uniform(0.15, 0.28), pen))
            shift = round(rng.normal(0, 0.15) * pen)
            width = max(upper.shape[1], lower.shape[1]) + abs(shift)
            a = np.zeros((upper.shape[0] + gap + lower.shape[0], width), np.float32)
            ux, lx = max(0, shift), max(0, -shift)
            a[: upper.shape[0], ux : ux + upper.shape[1]] = upper
            a[upper.shape[0] + gap :, lx : lx + lower.shape[1]] = lower
        out.append((kind, a))
    return out


def _dot(diameter: float, rng: np.random.Generator) -> np.ndarray:
    """A filled, slightly oval dot about ``diameter`` pixels across, anti-aliased, padded."""
    rx, ry = np.maximum(diameter / 2 * rng.uniform(0.85, 1.15, 2), 1.0)
    size = int(np.ceil(2 * max(rx, ry))) + 6
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot((xx - c) / rx, (yy - c) / ry)
    return np.clip((1.0 - r) * (rx + ry) / 2 + 0.5, 0.0, 1.0).astype(np.float32)


def _disk(size: int) -> np.ndarray:
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size]
    return (yy - c) ** 2 + (xx - c) ** 2 <= c * c + 0.5


def _ink_box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0.5), np.flatnonzero(alpha.max(axis=0) > 0.5)
    if rows.size == 0:
        return 0, 0, 0, 0
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def _layout(
    glyphs: list[tuple[str, np.ndarray]],
    digit_h: float,
    style: Style,
    rng: np.random.Generator,
    breaks: Sequence[int] = (),
):
    """Place glyph alphas on a canvas; return (alpha canvas, ink boxes).

    A glyph whose index is in ``breaks`` starts a new line, 1.5-2 digit heights below
    the last one's baseline, left aligned with the first give or take 0.3 digit heights.
    """
    slant = rng.uniform(*style.slant)
    margin = int(digit_h * rng.uniform(0.4, 0.9))
    xs, ys = [], []
    x = float(margin)
    baseline, gap, ends = 0.0, 0.0, []
    for j, (kind, a) in enumerate(glyphs):
        if j in breaks:
            ends.append(x - gap)
            baseline += digit_h * rng.uniform(1.5, 2.0)
            x = margin + digit_h * rng.uniform(-0.3, 0.3)
        bx, by, bw, bh = _ink_box(a)
        if kind in _ON_BASELINE:
            bottom = baseline  # digits, slashes and points stand on the baseline
            top = bottom - bh
        else:
            top = baseline - digit_h * 0.5 - bh / 2.0  # operators float at mid-height
        top += rng.normal(0, style.jitter) * digit_h + slant * (x - margin)
        xs.append(x - bx)
        ys.append(top - by)
        gap = rng.uniform(*style.spacing) * digit_h
        if kind == "point" or (j + 1 < len(glyphs) and glyphs[j + 1][0] == "point"):
            gap *= 0.5  # a decimal point is written close to its digits
        x += bw + gap
    width = int(np.ceil(max([*ends, x - rng.uniform(*style.spacing) * digit_h]) + margin))
    ys_arr = np.array(ys)
    heights = np.array([a.shape[0] for _, a in glyphs])
    y_min = float(ys_arr.min())
    y_max = float((ys_arr + heights).max())
    top_margin = int(digit_h * rng.uniform(0.3, 0.8))
    height = int(np.ceil(y_max - y_min)) + top_margin + int(digit_h * rng.uniform(0.3, 0.8))
    canvas = np.zeros((height, width + 8), dtype=np.float32)
    boxes = []
    for (_, a), gx, gy in zip(glyphs, xs, ys, strict=False):
        ox, oy = round(gx), round(gy - y_min) + top_margin
        h, w = a.shape
        ox = min(max(ox, 0), canvas.shape[1] - w)
        oy = min(max(oy, 0), canvas.shape[0] - h)
        region = canvas[oy : oy + h, ox : ox + w]
        np.maximum(region, a[: region.shape[0], : region.shape[1]], out=region)
        bx, by, bw, bh = _ink_box(a)
        boxes.append((ox + bx, oy + by, bw, bh))
    return canvas, boxes


def _rotate(canvas: np.ndarray, boxes, angle: float):
    if abs(angle) < 1e-3:
        return canvas, boxes
    h, w = canvas.shape
    im = Image.fromarray(canvas, mode="F").rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    out = np.asarray(im)
    H, W = out.shape
    t = np.deg2rad(angle)
    c, s = np.cos(t), np.sin(t)
    new = []
    for x, y, bw, bh in boxes:
        xs = np.array([x, x + bw, x, x + bw], dtype=float) - w / 2.0
        ys = np.array([y, y, y + bh, y + bh], dtype=float) - h / 2.0
        # PIL rotates counter-clockwise for positive angles (y pointing down).
        rx = c * xs + s * ys + W / 2.0
        ry = -s * xs + c * ys + H / 2.0
        x0, y0 = int(np.floor(rx.min())), int(np.floor(ry.min()))
        new.append((x0, y0, int(np.ceil(rx.max())) - x0, int(np.ceil(ry.max())) - y0))
    return out, new


_COLOURS = np.array(
    [(20, 20, 20), (200, 30, 30), (25, 50, 170), (20, 110, 40), (120, 30, 140), (60, 60, 90)],
    dtype=np.float32,
)
_LIGHT = np.array([(245, 245, 245), (250, 240, 160), (170, 220, 250), (250, 190, 200)], dtype=np.float32)


def _background(shape: tuple[int, int], style: Style, rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    if style.paper == "white":
        base = np.array([255, 255, 255], np.float32) - rng.uniform(0, 10)
    elif style.paper == "paper":
        base = np.array([rng.uniform(215, 250), rng.uniform(205, 245), rng.uniform(185, 235)], np.float32)
    elif style.paper == "dark":
        base = np.array([rng.uniform(20, 50), rng.uniform(40, 75), rng.uniform(30, 60)], np.float32)
    else:
        base = np.array([rng.uniform(0, 25)] * 3, np.float32)
    bg = np.broadcast_to(base, (h, w, 3)).copy()
    if style.paper in ("paper", "dark"):
        # Fibres and blotches: smooth low-amplitude texture.
        tex = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)).astype(np.float32), rng.uniform(1.0, 3.0))
        tex *= rng.uniform(3.0, 7.0) / (tex.std() + 1e-6)
        bg += tex[..., None]
    return bg


def _light(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Multiplicative illumination: a soft shadow edge plus a gradient."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    t = rng.uniform(0, 2 * np.pi)
    d = (xx - w * rng.uniform(0.2, 0.8)) * np.cos(t) + (yy - h * rng.uniform(0.2, 0.8)) * np.sin(t)
    softness = rng.uniform(0.05, 0.3) * max(h, w)
    depth = rng.uniform(0.3, 0.55)
    shadow = 1.0 - depth / (1.0 + np.exp(-d / softness))
    gx = 1.0 - rng.uniform(0, 0.25) * xx / max(w - 1, 1)
    return shadow * gx


def _ink_colour(style: Style, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    if style.ink == "black":
        return np.array([rng.uniform(0, 40)] * 3, np.float32), 1.0
    if style.ink == "colour":
        return _COLOURS[rng.integers(len(_COLOURS))] + rng.uniform(-15, 15, 3).astype(np.float32), 1.0
    if style.ink == "pencil":
        return np.array([rng.uniform(60, 110)] * 3, np.float32), rng.uniform(0.6, 0.9)
    if style.ink == "pen":
        return _pen_ink(rng)
    return _LIGHT[rng.integers(len(_LIGHT))], rng.uniform(0.8, 1.0)


# ---------------------------------------------------------------------------- photographed sheets

PHOTO_SIDE = 3000
"""Side of a :data:`PHOTO_STYLES` photo; the scene is composed at half of it and enlarged."""

_PENS = np.array([(25, 45, 165), (35, 60, 190), (30, 30, 38), (15, 15, 20)], dtype=np.float32)
"""Blue and black ballpoint."""


def _pen_ink(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Blue or black ballpoint, or grey pencil (faint: its dots are the hard part)."""
    if rng.random() < 0.3:
        return np.array([rng.uniform(70, 120)] * 3, np.float32), rng.uniform(0.5, 0.85)
    colour = _PENS[rng.integers(len(_PENS))] + rng.uniform(-10, 10, 3).astype(np.float32)
    return colour, rng.uniform(0.85, 1.0)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 projective map taking four ``src`` points to four ``dst`` points."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.append(np.linalg.solve(np.array(rows, float), np.array(rhs, float)), 1.0).reshape(3, 3)


def _project(hom: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = np.column_stack([points, np.ones(len(points))]) @ hom.T
    return p[:, :2] / p[:, 2:]


def _warp(a: np.ndarray, hom: np.ndarray, side: int) -> np.ndarray:
    """``a`` (2-D float, 0-255 or 0-1) seen through ``hom`` in a ``side`` x ``side`` frame (PIL: fast)."""
    inv = np.linalg.inv(hom)
    inv /= inv[2, 2]
    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    out = im.transform(
        (side, side), Image.Transform.PERSPECTIVE, tuple(inv.ravel()[:8]), Image.Resampling.BILINEAR
    )
    return np.asarray(out)


def _smooth_noise(side: int, rng: np.random.Generator, sigma: tuple[float, float]) -> np.ndarray:
    """Unit-deviation smooth noise, ``side`` x ``side`` (wood grain when ``sigma`` differs per axis).

    Drawn at half the side and enlarged: texture is smooth, and a photo takes seconds less.
    """
    tex = ndimage.gaussian_filter(rng.standard_normal((side // 2, side // 2), dtype=np.float32), sigma)
    return _upsample(tex / (tex.std() + 1e-6), side)


def _upsample(a: np.ndarray, side: int) -> np.ndarray:
    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    return np.asarray(im.resize((side, side), Image.Resampling.BILINEAR))


def _table(side: int, rng: np.random.Generator) -> np.ndarray:
    """A surface darker than paper: brown wood with its grain, or a dark grey desk."""
    if rng.random() < 0.5:
        base = np.array([rng.uniform(70, 125), rng.uniform(45, 85), rng.uniform(20, 50)], np.float32)
        tex = _smooth_noise(side, rng, (rng.uniform(0.5, 1.0), rng.uniform(8, 20)))
        amp = rng.uniform(6, 14)
    else:
        base = np.array([rng.uniform(35, 95)] * 3, np.float32) + rng.uniform(-6, 6, 3).astype(np.float32)
        tex = _smooth_noise(side, rng, (1.5, 1.5))
        amp = rng.uniform(3, 8)
    return base + amp * tex[..., None]


def _sheet(alpha: np.ndarray, digit_h: float, rng: np.random.Generator):
    """A sheet holding the expression's ink: (ink alpha, rules alpha, holes mask, ink offset (x, y))."""
    h, w = alpha.shape
    sw = round(max(w * rng.uniform(1.3, 2.2), 12 * digit_h))
    sh = round(max(h * rng.uniform(1.8, 3.0), sw * rng.uniform(0.5, 1.3)))
    # The writing anywhere but in the outer sixth of the spare paper.
    x0 = int(rng.integers(max(1, (sw - w) // 6), max(2, sw - w - (sw - w) // 6)))
    y0 = int(rng.integers(max(1, (sh - h) // 6), max(2, sh - h - (sh - h) // 6)))
    ink = np.zeros((sh, sw), np.float32)
    ink[y0 : y0 + h, x0 : x0 + w] = alpha
    rules = np.zeros_like(ink)
    kind = rng.choice(["plain", "ruled", "squared"])
    width = rng.uniform(0.8, 1.8)
    if kind != "plain":
        step = digit_h * (rng.uniform(1.1, 1.5) if kind == "ruled" else rng.uniform(0.45, 0.7))
        offset = rng.uniform(0, step)
        ys = np.arange(sh, dtype=np.float32)
        rules = np.maximum(rules, _line_profile(ys, offset, step, width)[:, None])
        if kind == "squared":
            xs = np.arange(sw, dtype=np.float32)
            rules = np.maximum(rules, _line_profile(xs, rng.uniform(0, step), step, width)[None, :])
    holes = np.zeros(ink.shape, bool)
    if rng.random() < 0.3 and x0 > 2.2 * digit_h:
        # A binder's punched holes along the left edge, clear of the writing: 6 mm holes
        # 1 cm from the edge, beside digits about 6 mm tall.
        r, cx = 0.5 * digit_h, min(0.5 * x0, 1.6 * digit_h)
        yy, xx = np.ogrid[:sh, :sw]
        for cy in np.linspace(0.2, 0.8, int(rng.integers(2, 5))) * sh:
            holes |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return ink, rules, holes, (x0, y0)


def _line_profile(pos: np.ndarray, offset: float, step: float, width: float) -> np.ndarray:
    """Coverage of printed lines every ``step`` pixels, ``width`` wide, anti-aliased."""
    d = np.abs((pos - offset + step / 2) % step - step / 2)
    return np.clip(width / 2 + 0.5 - d, 0.0, 1.0)


_FRAMED = 0.06  # the writing's least margin in a photo's frame, a share of its side


def _placement(
    shape: tuple[int, int], ink_box: np.ndarray, angle: float, side: int, rng: np.random.Generator
) -> np.ndarray:
    """Where the sheet's corners land in the frame: turned by ``angle`` degrees (clockwise),
    in perspective, the writing in view."""
    sh, sw = shape
    corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], float)
    (x0, y0), (x1, y1) = ink_box
    writing = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
    centre = ink_box.mean(axis=0)
    t = np.deg2rad(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    target = side * (0.5 + rng.uniform(-0.1, 0.1, 2))
    zoom = rng.uniform(0.9, 1.1)
    # Whoever photographs a sum frames all of it: the writing is kept within the frame's
    # middle, a margin wider than the perspective below moves it, and no larger than that.
    turned = (writing - centre) @ rot.T
    zoom = min(zoom, (1 - 2 * _FRAMED) * side / np.ptp(turned, axis=0).max())
    ink = turned * zoom + target
    shift = np.maximum(_FRAMED * side - ink.min(axis=0), 0)
    shift -= np.maximum(ink.max(axis=0) + shift - (1 - _FRAMED) * side, 0)
    target, ink = target + shift, ink + shift
    dst = (corners - centre) @ rot.T * zoom + target
    # Perspective: the phone is not held square to the sheet.
    dst += rng.uniform(-0.05, 0.05, (4, 2)) * side
    # The table shows on at least one side: push the sheet off the frame's centre if it fills
    # it, the way that keeps the writing in view.
    lo, hi = dst.min(axis=0), dst.max(axis=0)
    if lo.min() < 0 and hi.max() > side and (lo < 0.05 * side).all() and (hi > 0.95 * side).all():
        axis, sign = int(rng.integers(2)), rng.choice([-1.0, 1.0])
        push = sign * rng.uniform(0.1, 0.25) * side
        for step in (push, -push):
            moved = ink[:, axis] + step
            if moved.min() >= _FRAMED * side and moved.max() <= (1 - _FRAMED) * side:
                dst[:, axis] += step
                break
    return dst


# EXIF orientation -> how the upright pixels are stored (exif_transpose undoes it).
_STORED = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def _exif_jpeg(upright: np.ndarray, quality: int, rng: np.random.Generator) -> bytes:
    """JPEG bytes as a phone writes them: pixels as the sensor saw them, an EXIF tag to turn them."""
    orientation = int(rng.choice(list(_STORED)))
    im = Image.fromarray(upright)
    if _STORED[orientation] is not None:
        im = im.transpose(_STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()  # in memory: nothing is written to disk
    im.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def _photograph(canvas: np.ndarray, boxes, digit_h: float, style: Style, rng: np.random.Generator):
    """A scene style's photo of the expression's ink: (upright image, boxes, sheet outline, JPEG bytes)."""
    half = PHOTO_SIDE // 2
    # The sheet lies at an angle on the table, the phone turned with the writing give or
    # take a few degrees (the reader does not straighten lines): the writing is turned
    # the other way on the sheet.
    angle = rng.uniform(-25, 25)
    canvas, boxes = _rotate(canvas, boxes, angle + rng.uniform(-4, 4))
    alpha, rules, holes, (ox, oy) = _sheet(canvas, digit_h, rng)
    sh, sw = alpha.shape
    corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], float)
    ink_box = np.array([[ox, oy], [ox + canvas.shape[1], oy + canvas.shape[0]]], float)
    hom = _homography(corners, _placement(alpha.shape, ink_box, angle, half, rng))
    cover = _warp(np.where(holes, 0.0, 1.0), hom, half)[..., None]
    a_ink = _warp(alpha, hom, half)[..., None]
    a_rule = _warp(rules, hom, half)[..., None] * rng.uniform(0.35, 0.7)
    ink, opacity = _pen_ink(rng)
    paper = np.array([rng.uniform(225, 250), rng.uniform(222, 248), rng.uniform(210, 240)], np.float32)
    rule_colour = np.array([rng.uniform(120, 170), rng.uniform(150, 190), rng.uniform(200, 235)], np.float32)
    sheet = paper + 2.5 * _smooth_noise(half, rng, (1.0, 1.0))[..., None]
    sheet = sheet * (1 - a_rule) + rule_colour * a_rule
    sheet = sheet * (1 - a_ink * opacity) + ink * (a_ink * opacity)
    img = _table(half, rng) * (1 - cover) + sheet * cover
    img *= _light((half, half), rng)[..., None]
    sigma = rng.uniform(*style.blur)
    img = ndimage.gaussian_filter(img, (sigma, sigma, 0))
    img += rng.uniform(*style.noise) * rng.standard_normal(img.shape, dtype=np.float32)
    small = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    upright = np.asarray(small.resize((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.BILINEAR))
    quality = int(rng.integers(style.jpeg[0], style.jpeg[1] + 1)) if style.jpeg else 92
    data = _exif_jpeg(upright, quality, rng)
    # What a reader decodes (JPEG artefacts included) is the item's image.
    image = read_image(data)
    scale = PHOTO_SIDE / half
    out = []
    for x, y, w, h in boxes:
        # The box's corners on the sheet, then in the photo.
        x, y = x + ox, y + oy
        on_sheet = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], float)
        p = _project(hom, on_sheet) * scale
        x0, y0 = np.floor(p.min(axis=0)).astype(int)
        x1, y1 = np.ceil(p.max(axis=0)).astype(int)
        out.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    return image, out, _project(hom, corners) * scale, data


def render(
    tokens: Sequence[str],
    glyphs: Sequence[tuple[str, np.ndarray]],
    style: Style,
    rng: np.random.Generator,
    breaks: Sequence[int] = (),
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Draw cleaned glyphs (kind, ink-on-black floats) in a style; return (RGB image, boxes).

    Glyphs of kind ``point`` or ``colon`` are drawn as dots of the digits' pen whatever
    their image; a glyph whose index is in ``breaks`` starts a new line below.
    """
    image, boxes, _page, _data = _draw(tokens, glyphs, style, rng, breaks)
    return image, boxes


def _draw(
    tokens: Sequence[str],
    glyphs: Sequence[tuple[str, np.ndarray]],
    style: Style,
    rng: np.random.Generator,
    breaks: Sequence[int] = (),
):
    """:func:`render`, plus a scene style's sheet outline and JPEG bytes (else None, None)."""
    if len(tokens) != len(glyphs):
        raise ValueError("one glyph per token is needed")
    digit_h = rng.uniform(*style.height)
    alphas = [
        (kind, None if kind in _DRAWN_KINDS else _render_glyph(kind, g, digit_h, style, rng))
        for kind, g in glyphs
    ]
    alphas = _drawn_marks(_same_pen(alphas), digit_h, rng)
    canvas, boxes = _layout(alphas, digit_h, style, rng, breaks)
    canvas, boxes = _rotate(canvas, boxes, rng.uniform(*style.rotation))
    if style.scene:
        return _photograph(canvas, boxes, digit_h, style, rng)
    sigma = rng.uniform(*style.blur)
    if sigma > 0.05:
        canvas = ndimage.gaussian_filter(canvas, sigma)
    ink, opacity = _ink_colour(style, rng)
    bg = _background(canvas.shape, style, rng)
    a = np.clip(canvas, 0, 1)[..., None] * opacity
    img = bg * (1.0 - a) + ink * a
    if style.shadow:
        img *= _light(canvas.shape, rng)[..., None]
    noise = rng.uniform(*style.noise)
    if noise > 0:
        img += rng.normal(0, noise, img.shape).astype(np.float32)
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if style.jpeg is not None:
        buf = io.BytesIO()  # in memory: nothing is written to disk
        Image.fromarray(out).save(buf, "JPEG", quality=int(rng.integers(style.jpeg[0], style.jpeg[1] + 1)))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out, boxes, None, None


def make_expression_set(
    n: int,
    styles: Iterable[str | Style] | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    symbols: Mapping[str, Sequence[np.ndarray]] | None = None,
    min_len: int = 3,
    max_len: int = 9,
    forms: Iterable[str | ExpressionForm] = ("plain",),
) -> list[SynthItem]:
    """Compose ``n`` synthetic expression images with their ground truth.

    Parameters
    ----------
    n : int
    styles : iterable of style names or Style, optional
        Item ``i`` is drawn in ``styles[i % len(styles)]``; default: all of :data:`STYLES`.
    seed : int
        Item ``i`` depends only on ``(seed, i)``, the pool, the styles and the forms.
    data_dir : path-like, optional
        Where the held-out symbols are read from when ``symbols`` is None.
    symbols : mapping, optional
        Glyph name (a token, an alias such as ``"x"``, ``"dot"`` or a dataset folder
        name such as ``"division_obelus"``) -> list of ink-on-black uint8 images.
        Every token the forms write needs at least one image, except ``=``, ``(``
        and ``)`` (drawn with the pen when missing) and the point and colon (always
        drawn at the pen's width; their images are never used).
    min_len, max_len : int
        Number of tokens of each plain expression (see :data:`EXPRESSION_FORMS`).
    forms : iterable of form names or ExpressionForm
        How the expressions are written (:data:`EXPRESSION_FORMS`); the form turns once
        per round of styles: item ``i`` is of ``forms[(i // len(styles)) % len(forms)]``,
        so ``len(styles) * len(forms)`` items give every style every form. The default,
        plain expressions only, draws exactly the items it drew before forms existed.

    Returns
    -------
    list of SynthItem

    Raises
    ------
    ValueError
        An unknown style or form, or none.
    mathocr.errors.DataError
        No data directory, or a token without any image.

    Examples
    --------
    >>> items = make_expression_set(1000, styles=["photo"], seed=0)   # doctest: +SKIP
    >>> items[0].expression, items[0].value                          # doctest: +SKIP
    ('38*5-7', Fraction(183, 1))
    """
    return list(iter_expressions(n, styles, seed, data_dir, symbols, min_len, max_len, forms=forms))


def iter_expressions(
    n: int,
    styles: Iterable[str | Style] | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    symbols: Mapping[str, Sequence[np.ndarray]] | None = None,
    min_len: int = 3,
    max_len: int = 9,
    forms: Iterable[str | ExpressionForm] = ("plain",),
) -> Iterator[SynthItem]:
    """The items of :func:`make_expression_set`, one at a time (same parameters).

    Thousands of page images need not be held at once: training cuts each into its
    symbols and keeps only those.

    Examples
    --------
    >>> bar = np.zeros((28, 28), np.uint8); bar[12:16, 4:24] = 255
    >>> pool = {t: [bar] for t in "0123456789+-*/"}
    >>> [it.expression for it in iter_expressions(2, seed=4, symbols=pool)] == [
    ...     it.expression for it in make_expression_set(2, seed=4, symbols=pool)]
    True
    >>> items = iter_expressions(4, styles=["clean", "paper"], symbols=pool, forms=["compute", "check"])
    >>> [(it.style, it.form, it.expression[-1] == "=") for it in items]  # doctest: +NORMALIZE_WHITESPACE
    [('clean', 'compute', True), ('paper', 'compute', True),
     ('clean', 'check', False), ('paper', 'check', False)]
    """
    chosen = _styles(styles)
    written = _forms(forms)
    needs = [t for f in written for t in f.pool]
    pool = _prepare_pool(symbols if symbols is not None else heldout_symbols(data_dir), needs)
    names = [f.name for f in written]
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        # Style i % S; the form turns once per round of styles (turn = i // S).
        turn, s = divmod(i, len(chosen))
        style, spec = chosen[s], written[turn % len(written)]
        # A check is right or wrong in turn: each style's own checks alternate (count:
        # how many of this form the style drew before), and so do neighbouring styles'.
        count = (turn // len(names)) * names.count(spec.name) + names[: turn % len(names)].count(spec.name)
        correct = (count + s + seed) % 2 == 0
        lines = spec.make(rng, min_len, max_len, correct)
        written_names = [name for line in lines for name in line]
        tokens = [canonical(name) for name in written_names]
        glyphs = [_glyph_of(name, pool, rng) for name in written_names]
        breaks = list(itertools.accumulate(len(line) for line in lines[:-1]))
        image, boxes, page, data = _draw(tokens, glyphs, style, rng, breaks)
        kinds = [k for k, _ in glyphs]
        texts = ["".join(canonical(name) for name in line) for line in lines]
        first = check([canonical(name) for name in lines[0]])
        yield SynthItem(
            image,
            tokens,
            "\n".join(texts),
            first.value,
            style.name,
            boxes,
            kinds,
            page,
            data,
            form=spec.name,
            lines=texts,
            correct=first.correct,
        )


# ---------------------------------------------------------------------------- invalid drawings

INVALID_KINDS: tuple[str, ...] = (
    "trailing_operator",
    "leading_operator",
    "double_operator",
    "lone_operator",
    "scribble",
    "letters",
)
"""What :func:`iter_invalid` draws: ``23+``; ``+3``, ``*12``; ``1++2``, ``4*/5``; ``+`` alone;
random pen scribbles (zigzags, coils of loops, wandering lines); a short word of letters."""

# Drawn with the pen renderer, not composed from the symbol pool.
_PEN_KINDS = frozenset({"scribble", "letters"})

# Item i of an invalid set draws from its own stream, so that with the seed of an
# expression set it repeats none of that set's expressions.
_INVALID_STREAM = 1


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> np.ndarray:
    """Points of an elliptic arc from ``start`` to ``stop`` degrees, counter-clockwise as seen (y down)."""
    t = np.radians(np.linspace(start, stop, max(8, round(abs(stop - start) / 10))))
    return np.column_stack([cx + rx * np.cos(t), cy - ry * np.sin(t)])


def _path(*parts: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """One pen stroke through the points of ``parts`` in turn."""
    return np.vstack([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in parts])


# Hand-made letters in a unit box (y down; x-height from 0.35, ascenders from 0): there
# is no letter data. Each is varied by mathocr.strokes.distort when drawn.
LETTER_STROKES: dict[str, tuple[np.ndarray, ...]] = {
    "a": (_path(_arc(0.45, 0.68, 0.32, 0.3, 20, 370), [[0.78, 0.38], [0.8, 1.0]]),),
    "b": (_path([[0.2, 0.0], [0.2, 1.0]]), _arc(0.48, 0.7, 0.28, 0.3, 180, 540)),
    "c": (_arc(0.5, 0.67, 0.35, 0.32, 45, 315),),
    "e": (_path([[0.15, 0.67]], _arc(0.5, 0.67, 0.35, 0.32, 0, 320)),),
    "h": (_path([[0.2, 0.0], [0.2, 1.0]]), _path(_arc(0.5, 0.62, 0.3, 0.25, 180, 0), [[0.8, 1.0]])),
    "k": (_path([[0.2, 0.0], [0.2, 1.0]]), _path([[0.8, 0.35], [0.22, 0.7], [0.8, 1.0]])),
    "m": (
        _path(
            [[0.1, 1.0]],
            _arc(0.3, 0.55, 0.2, 0.18, 180, 0),
            [[0.5, 1.0]],
            _arc(0.7, 0.55, 0.2, 0.18, 180, 0),
            [[0.9, 1.0]],
        ),
    ),
    "n": (_path([[0.15, 1.0]], _arc(0.5, 0.6, 0.35, 0.22, 180, 0), [[0.85, 1.0]]),),
    "r": (_path([[0.2, 0.38], [0.2, 1.0]]), _arc(0.5, 0.62, 0.3, 0.22, 180, 60)),
    "w": (_path([[0.0, 0.38], [0.25, 1.0], [0.5, 0.55], [0.75, 1.0], [1.0, 0.38]]),),
    "z": (_path([[0.15, 0.38], [0.85, 0.38], [0.15, 1.0], [0.85, 1.0]]),),
}
"""Stroke templates of the letters :func:`iter_invalid` writes."""


def scribble_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Random pen marks that are no symbol: a zigzag, a coil of loops or a wandering line.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    list of ndarray
        One or two strokes of ``(x, y)`` points, y downwards, in arbitrary units.

    Examples
    --------
    >>> marks = scribble_strokes(np.random.default_rng(0))
    >>> all(m.ndim == 2 and m.shape[1] == 2 and len(m) >= 4 for m in marks)
    True
    """
    shape = int(rng.integers(3))
    if shape == 0:
        n = int(rng.integers(4, 13))
        x = np.cumsum(rng.uniform(0.2, 0.8, n))
        y = (np.arange(n) % 2).astype(float) + rng.normal(0, 0.15, n)
        return [np.column_stack([x, y])]
    if shape == 1:
        # x advancing more slowly than the radius turns the circle into loops.
        turns, r = rng.uniform(1.5, 5.0), rng.uniform(0.35, 0.6)
        t = np.linspace(0, 2 * np.pi * turns, round(40 * turns))
        advance = r * rng.uniform(0.4, 1.4) * t / (2 * np.pi)
        return [np.column_stack([advance + r * np.cos(t), r * rng.uniform(0.7, 1.3) * np.sin(t)])]
    # A smoothed random walk, once or twice.
    return [
        ndimage.gaussian_filter1d(
            np.cumsum(rng.normal(0, 1, (int(rng.integers(30, 90)), 2)), axis=0), 3, axis=0
        )
        for _ in range(int(rng.integers(1, 3)))
    ]


def _pen_glyph(
    strokes: Sequence[np.ndarray], rng: np.random.Generator, kind: str = "digit"
) -> tuple[str, np.ndarray]:
    """Strokes drawn as a canvas export by :func:`mathocr.strokes.render`, as a glyph for :func:`render`.

    Sized and placed as ``kind``: letters and scribbles stand on the baseline at digit height.
    """
    size = rng.uniform(40, 64)
    drawn = pen_strokes.render(
        strokes, size=size, pen=rng.uniform(0.06, 0.12) * size, style="canvas", rng=rng
    )
    glyph = _clean_glyph(255 - drawn)  # the canvas is dark on white: glyphs are ink on black
    if glyph is None:
        raise ValueError("the strokes drew no ink")
    return kind, glyph


def _bracket_strokes(token: str, rng: np.random.Generator) -> list[np.ndarray]:
    """A hand-made ``(`` or ``)``: an arc of an ellipse, one unit tall, top to bottom."""
    sweep = rng.uniform(40, 60)  # half the arc, degrees
    rx, ry = rng.uniform(0.55, 0.85), 0.5 / np.sin(np.radians(sweep))
    if token == "(":
        arc = _arc(1.0, 0.5, rx, ry, 180 - sweep, 180 + sweep)
    else:
        arc = _arc(0.0, 0.5, rx, ry, sweep, -sweep)
    return pen_strokes.distort([arc], rng, rotate=6.0, shear=0.15, stretch=0.25)


def _equals_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """A hand-made ``=``: two bars, one unit long, about half a unit apart."""
    gap = rng.uniform(0.5, 0.7)
    upper = [[rng.uniform(0.0, 0.1), 0.0], [rng.uniform(0.9, 1.0), rng.normal(0, 0.03)]]
    lower = [[rng.uniform(0.0, 0.12), gap], [rng.uniform(0.88, 1.02), gap + rng.normal(0, 0.03)]]
    return pen_strokes.distort([np.array(upper), np.array(lower)], rng, rotate=4.0, shear=0.2, stretch=0.15)


# The symbols drawn with the pen when a pool has none (the training sources have none).
_PEN_SYMBOLS: dict[str, Callable[[np.random.Generator], list[np.ndarray]]] = {
    "=": _equals_strokes,
    "(": lambda rng: _bracket_strokes("(", rng),
    ")": lambda rng: _bracket_strokes(")", rng),
}


def _pen_marks(kind: str, rng: np.random.Generator) -> tuple[str, list[tuple[str, np.ndarray]]]:
    """The text and glyphs of a ``scribble`` (``"~"``) or ``letters`` item."""
    if kind == "scribble":
        return "~", [_pen_glyph(scribble_strokes(rng), rng)]
    word = "".join(rng.choice(list(LETTER_STROKES), size=int(rng.integers(1, 5))))
    return word, [_pen_glyph(pen_strokes.distort(LETTER_STROKES[c], rng), rng) for c in word]


def invalid_tokens(kind: str, rng: np.random.Generator) -> list[str]:
    """Random tokens of an operator misuse: one of the first four :data:`INVALID_KINDS`.

    Parameters
    ----------
    kind : {"trailing_operator", "leading_operator", "double_operator", "lone_operator"}
    rng : numpy.random.Generator

    Returns
    -------
    list of str
        Never a valid expression (:func:`mathocr.expression.is_valid` is False).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> invalid_tokens("trailing_operator", rng)[-1] in "+-*/"
    True
    """
    if kind == "lone_operator":
        return [str(rng.choice(OPERATORS))]
    if kind == "double_operator":
        tokens = random_tokens(rng, 3, 8)
        at = int(rng.choice([i for i, t in enumerate(tokens) if i and t in OPERATORS]))
        return [*tokens[: at + 1], str(rng.choice(OPERATORS)), *tokens[at + 1 :]]
    # A plain number or a whole expression (its sign dropped: "-" may lead), then the misuse.
    base = random_tokens(rng, 3, 7) if rng.random() < 0.5 else _number(rng, int(rng.integers(1, 4)))
    base = base[1:] if base[0] == "-" else base
    if kind == "trailing_operator":
        return [*base, str(rng.choice(OPERATORS))]
    if kind == "leading_operator":
        return [str(rng.choice(["+", "*", "/"])), *base]
    raise ValueError(f"{kind!r} is not an operator misuse; those are {', '.join(INVALID_KINDS[:4])}")


@dataclass
class InvalidItem:
    """One synthetic drawing that holds no computable expression.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    kind : str
        One of :data:`INVALID_KINDS`.
    text : str
        What was drawn: ``"23+"``, ``"*12"``, a word such as ``"kea"``, ``"~"`` for a scribble.
    style : str
    boxes : list of (x, y, w, h)
        Where each drawn mark's ink was placed.
    """

    image: np.ndarray
    kind: str
    text: str
    style: str
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


def make_invalid_set(
    symbols: Mapping[str, Sequence[np.ndarray]],
    n: int,
    seed: int = 0,
    *,
    styles: Iterable[str | Style] | None = None,
    kinds: Sequence[str] = INVALID_KINDS,
) -> list[InvalidItem]:
    """Draw ``n`` invalid or garbage drawings, each recording its kind.

    Parameters
    ----------
    symbols : mapping
        Glyph name -> ink-on-black images, as for :func:`make_expression_set` (for
        evaluation: :func:`unseen_writer_symbols` or :func:`heldout_symbols`).
    n : int
    seed : int
        Item ``i`` depends only on ``(seed, i)``, the pool, the styles and the kinds.
    styles : iterable of style names or Style, optional
        Default: all of :data:`STYLES`.
    kinds : sequence of str
        Item ``i`` is of ``kinds[i % len(kinds)]``, drawn in the styles in turn.

    Returns
    -------
    list of InvalidItem

    Raises
    ------
    ValueError
        An unknown kind or style.
    mathocr.errors.DataError
        A token without any image in ``symbols``.

    Examples
    --------
    >>> bar = np.zeros((28, 28), np.uint8); bar[12:16, 4:24] = 255
    >>> items = make_invalid_set({t: [bar] for t in "0123456789+-*/"}, 6, seed=1)
    >>> [it.kind for it in items] == list(INVALID_KINDS)
    True
    """
    return list(iter_invalid(symbols, n, seed, styles=styles, kinds=kinds))


def iter_invalid(
    symbols: Mapping[str, Sequence[np.ndarray]],
    n: int,
    seed: int = 0,
    *,
    styles: Iterable[str | Style] | None = None,
    kinds: Sequence[str] = INVALID_KINDS,
) -> Iterator[InvalidItem]:
    """The items of :func:`make_invalid_set`, one at a time (same parameters).

    Operator misuses are composed from the pool like :func:`iter_expressions`'
    expressions; scribbles and letters are drawn by :mod:`mathocr.strokes` and composed
    the same way, so every kind comes in every style.

    Examples
    --------
    >>> bar = np.zeros((28, 28), np.uint8); bar[12:16, 4:24] = 255
    >>> item = next(iter_invalid({t: [bar] for t in "0123456789+-*/"}, 1, kinds=["letters"]))
    >>> item.kind, item.text.isalpha()
    ('letters', True)
    """
    chosen = _styles(styles)
    kinds = tuple(kinds)
    unknown = sorted(set(kinds) - set(INVALID_KINDS))
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {', '.join(INVALID_KINDS)}, got {list(kinds)!r}")
    pool = _prepare_pool(symbols)
    for i in range(n):
        rng = np.random.default_rng([seed, i, _INVALID_STREAM])
        kind = kinds[i % len(kinds)]
        # Every kind meets every style: the style turns once per round of kinds.
        style = chosen[(i // len(kinds)) % len(chosen)]
        if kind in _PEN_KINDS:
            text, glyphs = _pen_marks(kind, rng)
        else:
            tokens = invalid_tokens(kind, rng)
            text, glyphs = "".join(tokens), [_pick_glyph(pool[t], rng) for t in tokens]
        image, boxes = render(list(text), glyphs, style, rng)
        yield InvalidItem(image, kind, text, style.name, boxes)


def _styles(styles: Iterable[str | Style] | None) -> list[Style]:
    """The chosen styles (names or Style), default every one of :data:`STYLES`."""
    if styles is None:
        return list(STYLES.values())
    return _chosen(styles, {**STYLES, **PEN_STYLES, **PHOTO_STYLES}, Style, "style")


__all__ = [
    "EXPRESSION_FORMS",
    "INVALID_KINDS",
    "LETTER_STROKES",
    "PEN_STYLES",
    "PHOTO_STYLES",
    "STYLES",
    "ExpressionForm",
    "InvalidItem",
    "Style",
    "SynthItem",
    "glyph_kind",
    "heldout_symbols",
    "invalid_tokens",
    "iter_expressions",
    "iter_invalid",
    "make_expression_set",
    "make_invalid_set",
    "random_tokens",
    "render",
    "scribble_strokes",
    "symbol_pool",
    "unseen_writer_symbols",
]
