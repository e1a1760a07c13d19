"""Class probabilities -> the most probable token sequence that is a valid expression.

Each symbol's classifier probabilities are combined with the grammar of
:mod:`mathocr.expression` by a Viterbi search over a four-state automaton::

    START --'-'--> SIGN --digit--> NUMBER --digit--> NUMBER
    START --digit--------------->  NUMBER --op-->    OPERATOR --digit--> NUMBER

accepting in ``NUMBER``. The search maximises the sum of log-probabilities, so a
``/`` the classifier thought slightly more likely to be ``1`` still becomes ``/``
between two numbers, and a trailing or doubled operator is read as the digit it
most resembles instead of failing. Geometry enters as a log-prior: a mark much
smaller than the line's digits is unlikely to be a digit (a dot, a minus).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .symbols import CLASSES, DIGITS

_DIGIT_COLS = np.arange(len(DIGITS))
_OP_COLS = np.arange(len(DIGITS), len(CLASSES))
_MINUS = CLASSES.index("-")
_FLOOR = 1e-9  # probabilities are floored so that log never sees zero

SMALL_SYMBOL = (0.35, 0.65)
"""Digits get a log-prior falling from 0 (longer side at 0.65 of the line height) to
:data:`SMALL_DIGIT_LOG_PRIOR` (at 0.35 and below): a dot, a minus, a small ``+``."""

SMALL_DIGIT_LOG_PRIOR = float(np.log(1e-3))
"""Log-prior of a digit for the smallest marks (soft: a confident digit still wins)."""

OBELUS_LOG_PRIOR = float(np.log(1e-3))
"""Log-prior of every class but ``/`` for a mark whose parts are a bar between two dots
(``÷``): three separate marks in that arrangement are no digit, plus, minus or times,
however the classifier sees the merged crop (thick dots close to the bar look like ``+``)."""
_SLASH = CLASSES.index("/")


@dataclass
class Decoded:
    """The decoded sequence.

    Attributes
    ----------
    symbols : list of str
        Tokens of the most probable valid expression (``CLASSES`` vocabulary).
    confidences : list of float
        Classifier probability of each chosen token.
    argmax : list of str
        The classifier's own first choice for each symbol.
    log_prob : float
        Score of the sequence (log-probabilities plus log-priors).
    """

    symbols: list[str]
    confidences: list[float]
    argmax: list[str]
    log_prob: float

    @property
    def changed(self) -> list[int]:
        """Indices where the grammar overruled the classifier's first choice."""
        return [i for i, (s, a) in enumerate(zip(self.symbols, self.argmax, strict=False)) if s != a]


def align_columns(proba: np.ndarray, classes: Sequence) -> np.ndarray:
    """Reorder probability columns from ``classes`` order into :data:`CLASSES` order.

    Classes the model does not know get probability 0.

    Parameters
    ----------
    proba : array of shape (n, len(classes))
    classes : sequence
        The model's ``classes_``.

    Returns
    -------
    ndarray of shape (n, 14)

    Examples
    --------
    >>> p = align_columns(np.array([[0.2, 0.8]]), ["+", "7"])
    >>> float(p[0, CLASSES.index("7")]), float(p[0, CLASSES.index("+")])
    (0.8, 0.2)
    """
    proba = np.asarray(proba, dtype=np.float64)
    names = [str(c) for c in classes]
    if proba.ndim != 2 or proba.shape[1] != len(names):
        raise ValueError(f"probabilities of shape {proba.shape} do not match {len(names)} classes")
    out = np.zeros((proba.shape[0], len(CLASSES)))
    for j, name in enumerate(names):
        if name in CLASSES:
            out[:, CLASSES.index(name)] = proba[:, j]
    return out


def geometry_log_prior(
    boxes: Sequence[Sequence[float]],
    line_height: float,
    small: tuple[float, float] = SMALL_SYMBOL,
    flags: Sequence[Sequence[str]] | None = None,
) -> np.ndarray:
    """Log-prior of each class for each box, from its size relative to the line and its shape.

    Parameters
    ----------
    boxes : sequence of (x, y, w, h)
    line_height : float
        Height of a full-size symbol (see :attr:`Segmentation.line_height`).
    small : (low, high)
        Relative sizes between which the digits' log-prior ramps from
        :data:`SMALL_DIGIT_LOG_PRIOR` up to 0.
    flags : sequence of sequences of str, optional
        Shape remarks per box (:attr:`mathocr.segmentation.Segment.flags`); ``"obelus"``
        makes every class but ``/`` :data:`OBELUS_LOG_PRIOR` less likely.

    Returns
    -------
    ndarray of shape (n, 14)

    Examples
    --------
    >>> prior = geometry_log_prior([(0, 0, 8, 8), (10, 0, 30, 60)], line_height=60)
    >>> bool(prior[0, 0] < 0), bool(prior[1, 0] == 0)
    (True, True)
    """
    prior = np.zeros((len(boxes), len(CLASSES)))
    if line_height <= 0 or len(boxes) == 0:
        return prior
    size = np.array([max(b[2], b[3]) for b in boxes], dtype=np.float64) / line_height
    lo, hi = small
    ramp = np.clip((hi - size) / (hi - lo), 0.0, 1.0) * SMALL_DIGIT_LOG_PRIOR
    prior[:, _DIGIT_COLS] = ramp[:, None]
    for i, remarks in enumerate(flags or ()):
        if "obelus" in remarks:
            slash = prior[i, _SLASH]
            prior[i] += OBELUS_LOG_PRIOR
            prior[i, _SLASH] = slash
    return prior


def decode(proba: np.ndarray, log_prior: np.ndarray | None = None) -> Decoded:
    """Most probable valid token sequence (Viterbi over the expression automaton).

    Parameters
    ----------
    proba : array of shape (n, 14)
        Class probabilities in :data:`mathocr.symbols.CLASSES` order (see
        :func:`align_columns`).
    log_prior : array of shape (n, 14), optional
        Added to the log-probabilities (see :func:`geometry_log_prior`).

    Returns
    -------
    Decoded
        Empty when ``n == 0``.

    Examples
    --------
    The classifier's first choices read ``8/+``; an expression cannot end with an
    operator, so the best valid reading keeps ``/`` and takes the last mark's
    most likely digit:

    >>> p = np.full((3, 14), 1e-4)
    >>> p[0, CLASSES.index("8")] = 0.9
    >>> p[1, CLASSES.index("/")], p[1, CLASSES.index("1")] = 0.7, 0.25
    >>> p[2, CLASSES.index("+")], p[2, CLASSES.index("2")] = 0.6, 0.35
    >>> decode(p).symbols
    ['8', '/', '2']
    """
    proba = np.asarray(proba, dtype=np.float64)
    n = proba.shape[0]
    if n == 0:
        return Decoded([], [], [], 0.0)
    lp = np.log(np.clip(proba, _FLOOR, None))
    if log_prior is not None:
        lp = lp + log_prior
    best_digit = _DIGIT_COLS[np.argmax(lp[:, _DIGIT_COLS], axis=1)]
    best_op = _OP_COLS[np.argmax(lp[:, _OP_COLS], axis=1)]
    digit_lp = lp[np.arange(n), best_digit]
    op_lp = lp[np.arange(n), best_op]

    # States: 0 START, 1 SIGN, 2 NUMBER, 3 OPERATOR. score[i, s]: best log-prob of
    # tokens 0..i ending in state s; back[i, s]: the state before token i.
    neg = -np.inf
    score = np.full((n, 4), neg)
    back = np.zeros((n, 4), dtype=np.int8)
    score[0, 1] = lp[0, _MINUS]
    score[0, 2] = digit_lp[0]
    for i in range(1, n):
        prev = score[i - 1]
        # a digit may follow SIGN, NUMBER or OPERATOR
        j = 1 + int(np.argmax(prev[1:]))
        score[i, 2], back[i, 2] = prev[j] + digit_lp[i], j
        score[i, 3], back[i, 3] = prev[2] + op_lp[i], 2
    if not np.isfinite(score[-1, 2]):  # n == 1 and no digit at all: impossible with the floor
        raise ValueError("no valid expression: every digit has probability 0")
    symbols = [""] * n
    state = 2
    for i in range(n - 1, -1, -1):
        if state == 2:
            symbols[i] = CLASSES[best_digit[i]]
        elif state == 3:
            symbols[i] = CLASSES[best_op[i]]
        else:
            symbols[i] = "-"
        state = int(back[i, state]) if i > 0 else state
    cols = [CLASSES.index(s) for s in symbols]
    confidences = [float(proba[i, c]) for i, c in enumerate(cols)]
    argmax = [CLASSES[int(c)] for c in np.argmax(proba, axis=1)]
    return Decoded(symbols, confidences, argmax, float(score[-1, 2]))


__all__ = ["Decoded", "align_columns", "decode", "geometry_log_prior"]
