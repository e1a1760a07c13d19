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
from dataclasses import dataclass, field

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
class Reading:
    """One valid token sequence and its probability under the model.

    Attributes
    ----------
    symbols : list of str
    probability : float
        Product of the (prior-weighted, per-symbol normalised) probabilities of its
        tokens: the model's probability that this is what was written.
    """

    symbols: list[str]
    probability: float

    @property
    def text(self) -> str:
        return "".join(self.symbols)


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
        Each symbol's own most probable token (with the log-prior), whatever the grammar
        says: what the drawing reads as.
    log_prob : float
        Score of the sequence (log-probabilities plus log-priors).
    readings : list of Reading
        The most probable valid readings, best first (``readings[0]`` is ``symbols``).
    probabilities : ndarray of shape (n, 14)
        Per-symbol probabilities as the search weighed them (classifier times
        log-prior, each row normalised).
    p_valid : float
        The model's probability that the drawing is a valid expression at all: the
        summed probability of every valid token sequence. Low for ``23+`` or ``1++2``
        read with confidence, whatever the best valid reading is.
    """

    symbols: list[str]
    confidences: list[float]
    argmax: list[str]
    log_prob: float
    readings: list[Reading] = field(default_factory=list)
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, len(CLASSES))))
    p_valid: float = 1.0

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


# The expression automaton: state -> {token kind: next state}. Accepting: NUMBER.
_START, _SIGN, _NUMBER, _OPERATOR = range(4)
_NEXT = {
    _START: {"minus": _SIGN, "digit": _NUMBER},
    _SIGN: {"digit": _NUMBER},
    _NUMBER: {"digit": _NUMBER, "op": _OPERATOR},
    _OPERATOR: {"digit": _NUMBER},
}
_KIND_COLS = {"digit": _DIGIT_COLS, "op": _OP_COLS, "minus": np.array([_MINUS])}
N_BEST = 8
"""How many valid readings :func:`decode` keeps."""


def normalise(proba: np.ndarray, log_prior: np.ndarray | None = None) -> np.ndarray:
    """Per-symbol probabilities with the log-prior applied, each row summing to 1.

    Examples
    --------
    >>> normalise(np.array([[0.5, 0.5]]), np.log(np.array([[1.0, 3.0]]))).round(2).tolist()
    [[0.25, 0.75]]
    """
    lp = np.log(np.clip(np.asarray(proba, dtype=np.float64), _FLOOR, None))
    if log_prior is not None:
        lp = lp + log_prior
    lp -= lp.max(axis=1, keepdims=True)
    q = np.exp(lp)
    return q / q.sum(axis=1, keepdims=True)


def decode(proba: np.ndarray, log_prior: np.ndarray | None = None, n_best: int = N_BEST) -> Decoded:
    """Most probable valid token sequences (a k-best search over the expression automaton).

    Parameters
    ----------
    proba : array of shape (n, 14)
        Class probabilities in :data:`mathocr.symbols.CLASSES` order (see
        :func:`align_columns`).
    log_prior : array of shape (n, 14), optional
        Added to the log-probabilities (see :func:`geometry_log_prior`).
    n_best : int
        How many readings to keep in :attr:`Decoded.readings`.

    Returns
    -------
    Decoded
        Empty when ``n == 0``.

    Examples
    --------
    The classifier's first choices read ``8/+``; an expression cannot end with an
    operator, so the best valid reading keeps ``/`` and takes the last mark's
    most likely digit, and the model's doubt shows in ``p_valid``:

    >>> p = np.full((3, 14), 1e-4)
    >>> p[0, CLASSES.index("8")] = 0.9
    >>> p[1, CLASSES.index("/")], p[1, CLASSES.index("1")] = 0.7, 0.25
    >>> p[2, CLASSES.index("+")], p[2, CLASSES.index("2")] = 0.6, 0.35
    >>> d = decode(p)
    >>> d.symbols, [r.text for r in d.readings[:2]], round(d.p_valid, 2)
    (['8', '/', '2'], ['8/2', '812'], 0.37)
    """
    proba = np.asarray(proba, dtype=np.float64)
    n = proba.shape[0]
    if n == 0:
        return Decoded([], [], [], 0.0)
    q = normalise(proba, log_prior)
    lq = np.log(np.clip(q, 1e-300, None))
    # Beam per automaton state: (log-prob, tokens). Every valid sequence's best
    # n_best continuations survive, since the automaton's future depends only on the state.
    beams: dict[int, list[tuple[float, tuple[int, ...]]]] = {_START: [(0.0, ())]}
    # Forward sums over all valid sequences, for p_valid.
    mass = {_START: 1.0}
    for i in range(n):
        nxt: dict[int, list[tuple[float, tuple[int, ...]]]] = {}
        nmass: dict[int, float] = {}
        for state, hyps in beams.items():
            for kind, to in _NEXT[state].items():
                cols = _KIND_COLS[kind]
                nmass[to] = nmass.get(to, 0.0) + mass[state] * float(q[i, cols].sum())
                best = cols[np.argsort(-lq[i, cols])[:n_best]]
                nxt.setdefault(to, []).extend(
                    (score + lq[i, c], (*toks, int(c))) for score, toks in hyps for c in best
                )
        beams = {st: sorted(h, key=lambda t: -t[0])[:n_best] for st, h in nxt.items()}
        mass = nmass
    final = beams.get(_NUMBER, [])
    if not final:  # a lone '-' cannot be a valid expression, but a lone digit always can
        raise ValueError("no valid expression: every digit has probability 0")
    readings = [Reading([CLASSES[c] for c in toks], float(np.exp(score))) for score, toks in final]
    best_cols = final[0][1]
    symbols = readings[0].symbols
    confidences = [float(proba[i, c]) for i, c in enumerate(best_cols)]
    argmax = [CLASSES[int(c)] for c in np.argmax(q, axis=1)]
    log_prob = float(sum(np.log(np.clip(proba[i, c], _FLOOR, None)) for i, c in enumerate(best_cols)))
    if log_prior is not None:
        log_prob += float(sum(log_prior[i, c] for i, c in enumerate(best_cols)))
    return Decoded(symbols, confidences, argmax, log_prob, readings, q, float(mass.get(_NUMBER, 0.0)))


__all__ = ["Decoded", "Reading", "align_columns", "decode", "geometry_log_prior", "normalise"]
