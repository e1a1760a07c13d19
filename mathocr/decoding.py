"""Class probabilities -> the most probable token sequences that are valid statements.

Each symbol's classifier probabilities are combined with the grammar of
:mod:`mathocr.expression` by a k-best Viterbi search over a finite automaton that
accepts exactly its statements that compute something (a number alone is no sum:
:attr:`mathocr.expression.Statement.computes`) up to :data:`MAX_DEPTH` nested brackets.
Its states are ``(phase, depth, side, computes)``: ``phase`` says what may come next (an
operand with or without a unary minus, more digits, the digits after a decimal point, an
operator after a number or a ``)``), ``depth`` counts open brackets, ``side`` whether an
``=`` was written and ``computes`` whether an operation was. Which token does what comes
from the roles in :data:`mathocr.symbols.VOCABULARY`, never from a list of characters here.

The search maximises the sum of log-probabilities, so a ``/`` the classifier thought
slightly more likely to be ``1`` still becomes ``/`` between two numbers. Geometry
enters as a log-prior: a mark much smaller than the line's digits is unlikely to be
a digit (a dot, a minus), a straight stroke taller than the digits is likelier a ``/``
than a ``1`` (:func:`one_or_slash`), and tokens found by their shape (a decimal point, the two
dots of ``:``, the bars of ``=``, brackets) take their probability from segmentation
(:func:`apply_shapes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .symbols import BY_TOKEN, TOKENS

_DIGIT_COLS = np.array([j for j, t in enumerate(TOKENS) if BY_TOKEN[t].role == "digit"])
_SLASH = TOKENS.index("/")
_ONE = TOKENS.index("1")
_FLOOR = 1e-9  # probabilities are floored so that log never sees zero

MAX_DEPTH = 3
"""Deepest nesting of brackets the decoder reads (``((1+2)*3)`` is depth 2)."""

SMALL_SYMBOL = (0.35, 0.65)
"""Digits get a log-prior falling from 0 (longer side at 0.65 of the line height) to
:data:`SMALL_DIGIT_LOG_PRIOR` (at 0.35 and below): a dot, a minus, a small ``+``."""

SMALL_DIGIT_LOG_PRIOR = float(np.log(1e-3))
"""Log-prior of a digit for the smallest marks (soft: a confident digit still wins)."""

OBELUS_LOG_PRIOR = float(np.log(1e-3))
"""Log-prior of every class but ``/`` for a mark whose parts are a bar between two dots
(``÷``): three separate marks in that arrangement are no digit, plus, minus or times,
however the classifier sees the merged crop (thick dots close to the bar look like ``+``)."""

ONE_SLASH_HEIGHT: dict[str, tuple[float, float]] = {"1": (0.971, 0.218), "/": (1.26, 0.349)}
"""How tall a ``1`` and a ``/`` stand against the digits around them: the median of their
height over the writer's median digit height (``0``, ``2``-``9``), and the spread of its
logarithm (1.4826 median absolute deviations), on UNIPEN's 203 training writers (1,196
ones, 435 slashes). Writers draw the slash taller: the held-out writers' medians are 0.97
and 1.17, the calibration writers' 0.93 and 1.17. The classifier sees every mark scaled
to the same box, so this is news to it."""

ONE_SLASH_CAP = 1.0
"""The most the height moves the odds of ``/`` against ``1`` (in log odds, either way): a
straight stroke at the digits' height is a ``1`` twice as likely as the classifier alone
says, one half as tall again a ``/`` 2.7 times. On UNIPEN's writers no model was
trained on (their symbols alone, each against the writer's own digits; the bundled model):
held-out writers' ``1`` 81.9 -> 83.8% and ``/`` 95.5 -> 97.7%, all 14 classes 95.53 ->
95.77%; calibration writers' ``1`` 72.9 -> 78.3% and ``/`` 94.4 -> 91.5%, all 95.57 ->
95.94%. Writers with fewer than three digits get no cue there."""

ONE_SLASH_FROM = 0.75
"""The cue is for full-height marks only: a mark lower than this share of the line's
height (a small ``÷``, a dot) is no ``1``-or-``/`` question."""

ONE_SLASH_TO = 1.6
"""Heights above this share of the line count as this: the cue does not grow further."""


def one_or_slash(height: np.ndarray) -> np.ndarray:
    """Log odds of ``/`` against ``1`` for marks of this height (a share of the line's).

    Examples
    --------
    >>> one_or_slash(np.array([0.5, 0.95, 1.5])).round(2).tolist()
    [0.0, -0.79, 1.0]
    """
    h = np.asarray(height, dtype=np.float64)
    x = np.log(np.clip(h, ONE_SLASH_FROM, ONE_SLASH_TO))

    def log_density(token: str) -> np.ndarray:
        median, spread = ONE_SLASH_HEIGHT[token]
        return -0.5 * ((x - np.log(median)) / spread) ** 2 - np.log(spread)

    odds = np.clip(log_density("/") - log_density("1"), -ONE_SLASH_CAP, ONE_SLASH_CAP)
    return np.where(h >= ONE_SLASH_FROM, odds, 0.0)


SHAPES: dict[str, dict[str, float]] = {
    "point": {".": 0.95},
    "colon": {"/": 0.95},
    "equals": {"=": 0.95},
    "joined_equals": {"=": 0.45},
    "open": {"(": 0.9},
    "close": {")": 0.9},
    "loose_open": {"(": 0.5},
    "loose_close": {")": 0.5},
    "upright": {"(": 0.3, ")": 0.3},
}
"""Segmentation flags (:attr:`mathocr.segmentation.Segment.flags`) that name tokens by their
shape, and the probability the flag gives each; the rest keeps the classifier's reading. A
dot on the baseline between digits, two stacked dots, two stacked bars are near certain (two
bars might still be a ``÷`` whose dots were lost), a line's last mark of one flat piece
crossing two strokes (or of two barely overlapping bars) a ``=`` nearly as likely as not (a
``=`` drawn joined, or a ``-`` left unfinished: under 0.5, so a ``-`` read at 0.82 or more
stays the reading as read, and the answer asks; at 0.5 one invalid drawing of the bench, a
trailing operator, was answered as sure; since the eighteenth sitting also a solid flat bar
twice the pen thick anywhere on a line, its bars run together: at 0.7 it read 4 more of 280
drawings of the page's own handwriting right and sure, but 4 drawings of writers' glyphs of the
bench's kind wrong, a thick ``-`` or ``×`` read ``=``); an upright arc is a bracket, or a curved ``1`` the
grammar can still read as one (on UNIPEN's training writers 77-83% of brackets are arcs,
2.6% of ones); an arc that leans or is hooked at its ends (``[``) is a bracket more likely
than not; a straight upright stroke is a ``1`` or a straight bracket, which only a bracket
on the other side can tell (segmentation flags ``"upright"`` only on a line with an arc, and
there any mark taller than the digits too). Its bracket share must stay at least
:data:`mathocr.solver.MIN_VALID` of the rest, or a reading that needs the bracket is
refused: at 0.1 against ``MIN_VALID`` 0.2, UNIPEN calibration writers' bracketed expressions
(120, seed 11; not the bench's) went from 20.0% to 18.3% exact, at 0.2 20.8%. With today's
model and ``MIN_VALID`` 0.3 (thirteenth sitting), the development forms' bracketed
expressions (100 each of UNIPEN's held-out and calibration writers' glyphs, seed 77; not the
bench's) read 75 and 52 right at 0.2, 78 and 52 at 0.25, 81 and 53 at 0.3, 82 and 49 at
0.35; giving it only to strokes taller than the digits was no better (81 and 54 from 0.95 of
their height, 78 and 55 from 1.05, 76 and 53 from 1.15)."""


ARC_VETO = 0.98
"""An arc the classifier reads as a symbol other than ``1`` or ``/`` with at least this
probability (a ``6`` whose loop is a small curl at its foot, a ``3`` whose cusp barely
bends) is a bracket only as likely as a loose arc (``"loose_open"``, ``"loose_close"``):
the grammar still makes it a bracket where it needs one. UNIPEN's ``(`` and ``)`` drawn
alone (1,045 of the training writers', 177 of the calibration writers', 232 of the
held-out writers') are read so in 5, 2 and 1 cases (a ``)`` hooked as a ``7``, mostly)."""

_SURE_ARC = {"open": "loose_open", "close": "loose_close"}
# The columns of every token but those one stroke may be (a 1, a slash, a bracket).
_NOT_STROKE = np.array([j for j, t in enumerate(TOKENS) if t not in ("1", "/", "(", ")")])


def align_columns(proba: np.ndarray, classes: Sequence) -> np.ndarray:
    """Reorder probability columns from ``classes`` order into :data:`~mathocr.symbols.TOKENS` order.

    Tokens the model does not know (a model trained before ``=`` and brackets were
    classes; the shape-found ``.``) get probability 0.

    Parameters
    ----------
    proba : array of shape (n, len(classes))
    classes : sequence
        The model's ``classes_``.

    Returns
    -------
    ndarray of shape (n, len(TOKENS))

    Examples
    --------
    >>> p = align_columns(np.array([[0.2, 0.8]]), ["+", "7"])
    >>> float(p[0, TOKENS.index("7")]), float(p[0, TOKENS.index("+")])
    (0.8, 0.2)
    """
    proba = np.asarray(proba, dtype=np.float64)
    names = [str(c) for c in classes]
    if proba.ndim != 2 or proba.shape[1] != len(names):
        raise ValueError(f"probabilities of shape {proba.shape} do not match {len(names)} classes")
    out = np.zeros((proba.shape[0], len(TOKENS)))
    for j, name in enumerate(names):
        if name in TOKENS:
            out[:, TOKENS.index(name)] = proba[:, j]
    return out


def apply_shapes(proba: np.ndarray, flags: Sequence[Sequence[str]]) -> np.ndarray:
    """Give tokens found by their shape (:data:`SHAPES`) their probability.

    Parameters
    ----------
    proba : array of shape (n, len(TOKENS))
    flags : sequence of sequences of str
        Shape remarks per symbol (:attr:`mathocr.segmentation.Segment.flags`).

    Returns
    -------
    ndarray of shape (n, len(TOKENS))
        A copy; a flagged row is its shape's probability (:data:`SHAPES`) on its token,
        the rest the classifier's row scaled down.

    Examples
    --------
    >>> p = align_columns(np.array([[0.9, 0.1]]), ["*", "1"])
    >>> q = apply_shapes(p, [("point",)])
    >>> round(float(q[0, TOKENS.index(".")]), 3), round(float(q[0, TOKENS.index("*")]), 3)
    (0.95, 0.045)
    """
    out = np.array(proba, dtype=np.float64, copy=True)
    for i, remarks in enumerate(flags):
        flag = next((f for f in remarks if f in SHAPES), None)
        if flag is None:
            continue
        if flag in _SURE_ARC and out[i, _NOT_STROKE].max() >= ARC_VETO * out[i].sum():
            flag = _SURE_ARC[flag]
        row = out[i] / max(float(out[i].sum()), _FLOOR) * (1.0 - sum(SHAPES[flag].values()))
        for token, p in SHAPES[flag].items():
            row[TOKENS.index(token)] += p
        out[i] = row
    return out


def geometry_log_prior(
    boxes: Sequence[Sequence[float]],
    line_height: float,
    small: tuple[float, float] = SMALL_SYMBOL,
    flags: Sequence[Sequence[str]] | None = None,
) -> np.ndarray:
    """Log-prior of each token for each box, from its size relative to the line and its shape.

    A mark much smaller than the line is unlikely to be a digit; a full-height one is a
    ``/`` rather than a ``1`` the taller it stands (:func:`one_or_slash`).

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
        makes every token but ``/`` :data:`OBELUS_LOG_PRIOR` less likely.

    Returns
    -------
    ndarray of shape (n, len(TOKENS))

    Examples
    --------
    >>> prior = geometry_log_prior([(0, 0, 8, 8), (10, 0, 30, 60)], line_height=60)
    >>> bool(prior[0, 0] < 0), bool(prior[1, 0] == 0)
    (True, True)
    """
    prior = np.zeros((len(boxes), len(TOKENS)))
    if line_height <= 0 or len(boxes) == 0:
        return prior
    size = np.array([max(b[2], b[3]) for b in boxes], dtype=np.float64) / line_height
    lo, hi = small
    ramp = np.clip((hi - size) / (hi - lo), 0.0, 1.0) * SMALL_DIGIT_LOG_PRIOR
    prior[:, _DIGIT_COLS] = ramp[:, None]
    # A straight stroke is a 1 or a /; how tall it stands against the line says which.
    odds = one_or_slash(np.array([b[3] for b in boxes], dtype=np.float64) / line_height)
    prior[:, _SLASH] += odds / 2.0
    prior[:, _ONE] -= odds / 2.0
    for i, remarks in enumerate(flags or ()):
        if "obelus" in remarks:
            slash = prior[i, _SLASH]
            prior[i] += OBELUS_LOG_PRIOR
            prior[i, _SLASH] = slash
    return prior


# ---------------------------------------------------------------------------- the automaton

# Phases: what may come next.
_OPERAND = "operand"  # start of a side or after "(": a number, "(" or a unary minus
_SIGNED = "signed"  # after a unary minus: a number or "("
_AFTER_OP = "after_op"  # after a binary operator: a number or "("
_INT = "int"  # inside a number's whole part
_POINT = "point"  # just after a decimal point: a digit must follow
_FRAC = "frac"  # inside a number's decimals
_CLOSED = "closed"  # after ")"
_EQUALS = "equals"  # just after "=": the right side, or nothing ("12+69=")
_FIRST = (_OPERAND, 0, 0, 0)

State = tuple[str, int, int, int]


def _step(state: State, role: str, token: str) -> State | None:
    """The state after ``token`` (of ``role``), or None where the grammar forbids it."""
    phase, depth, side, computes = state
    expects_operand = phase in (_OPERAND, _SIGNED, _AFTER_OP, _EQUALS)
    after_operand = phase in (_INT, _FRAC, _CLOSED)
    if role == "digit":
        if phase in (_INT, _FRAC) or expects_operand:
            return (_FRAC if phase in (_POINT, _FRAC) else _INT, depth, side, computes)
        if phase == _POINT:
            return (_FRAC, depth, side, computes)
        return None
    if role == "point":
        return (_POINT, depth, side, computes) if phase == _INT else None
    if role == "open":
        # After a number or ")" a bracket multiplies: 2(3+4), (1+2)(3+4).
        if depth < MAX_DEPTH and (expects_operand or after_operand):
            return (_OPERAND, depth + 1, side, computes or int(after_operand))
        return None
    if role == "close":
        return (_CLOSED, depth - 1, side, computes) if depth > 0 and after_operand else None
    if role == "operator":
        if after_operand:
            return (_AFTER_OP, depth, side, 1)
        if token == "-" and phase in (_OPERAND, _EQUALS):
            return (_SIGNED, depth, side, computes)
        return None
    if role == "equals":
        return (_EQUALS, 0, 1, computes) if side == 0 and depth == 0 and after_operand else None
    raise ValueError(f"no grammar for the role {role!r}")


def _accepting(state: State) -> bool:
    phase, depth, _side, computes = state
    return depth == 0 and phase in (_INT, _FRAC, _CLOSED, _EQUALS) and bool(computes)


def _table() -> tuple[list[State], np.ndarray]:
    """The reachable states (the first one first) and ``next[s, j]``: the state index after
    token column ``j`` in state ``s``, -1 where the grammar forbids it."""
    states, index, rows = [_FIRST], {_FIRST: 0}, []
    for state in states:  # grows while it is walked: a breadth-first search
        row = []
        for token in TOKENS:
            to = _step(state, BY_TOKEN[token].role, token)
            if to is not None and to not in index:
                index[to] = len(states)
                states.append(to)
            row.append(-1 if to is None else index[to])
        rows.append(row)
    return states, np.array(rows, dtype=np.int64)


_STATES, _NEXT = _table()
_ACCEPTING = np.array([_accepting(st) for st in _STATES])
N_BEST = 8
"""How many valid readings :func:`decode` keeps."""

PRUNE = 25.0
"""Prefixes this many nats (a factor of 1e-11) less probable than the best prefix so far
are dropped. A reading made of one is far below :data:`mathocr.solver.MIN_VALID` of the
symbols as read, so it could never be the answer; if pruning leaves no valid reading,
the search is repeated without it."""
_VALID_NEXT = _NEXT >= 0


def accepts(tokens: Sequence[str]) -> bool:
    """Whether the decoder's automaton accepts ``tokens`` (a valid statement).

    Examples
    --------
    >>> accepts("2(3+4)="), accepts("1++2"), accepts("(1+2")
    (True, False, False)
    """
    state: State | None = _FIRST
    for token in tokens:
        state = _step(state, BY_TOKEN[token].role, token) if token in BY_TOKEN else None
        if state is None:
            return False
    return _accepting(state)


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
        Tokens of the most probable valid statement (:data:`~mathocr.symbols.TOKENS`).
    confidences : list of float
        Probability of each chosen token (before the log-prior).
    argmax : list of str
        Each symbol's own most probable token (with the log-prior), whatever the grammar
        says: what the drawing reads as.
    log_prob : float
        Score of the sequence (log-probabilities plus log-priors).
    readings : list of Reading
        The most probable valid readings, best first (``readings[0]`` is ``symbols``).
    probabilities : ndarray of shape (n, len(TOKENS))
        Per-symbol probabilities as the search weighed them (classifier times
        log-prior, each row normalised).
    p_valid : float
        The model's probability that the drawing is a valid statement at all: the
        summed probability of every valid token sequence. Low for ``23+`` or ``1++2``
        read with confidence, whatever the best valid reading is.
    """

    symbols: list[str]
    confidences: list[float]
    argmax: list[str]
    log_prob: float
    readings: list[Reading] = field(default_factory=list)
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, len(TOKENS))))
    p_valid: float = 1.0

    @property
    def changed(self) -> list[int]:
        """Indices where the grammar overruled the classifier's first choice."""
        return [i for i, (s, a) in enumerate(zip(self.symbols, self.argmax, strict=False)) if s != a]


def decode(proba: np.ndarray, log_prior: np.ndarray | None = None, n_best: int = N_BEST) -> Decoded:
    """Most probable valid token sequences (a k-best search over the statement automaton).

    Parameters
    ----------
    proba : array of shape (n, len(TOKENS))
        Token probabilities in :data:`mathocr.symbols.TOKENS` order (see
        :func:`align_columns` and :func:`apply_shapes`).
    log_prior : array of shape (n, len(TOKENS)), optional
        Added to the log-probabilities (see :func:`geometry_log_prior`).
    n_best : int
        How many readings to keep in :attr:`Decoded.readings`.

    Returns
    -------
    Decoded
        Empty when ``n == 0``. Without readings (``symbols`` and ``readings`` empty,
        ``argmax`` and ``probabilities`` filled in, ``p_valid`` 0) when no valid
        statement has ``n`` symbols (one or two marks compute nothing) or a probability
        above 0.

    Examples
    --------
    The classifier's first choices read ``8/+``; an expression cannot end with an
    operator, so the best valid reading keeps ``/`` and takes the last mark's
    most likely digit, and the model's doubt shows in ``p_valid``:

    >>> p = np.full((3, len(TOKENS)), 1e-4)
    >>> p[0, TOKENS.index("8")] = 0.9
    >>> p[1, TOKENS.index("/")], p[1, TOKENS.index("1")] = 0.7, 0.25
    >>> p[2, TOKENS.index("+")], p[2, TOKENS.index("2")] = 0.6, 0.35
    >>> d = decode(p)
    >>> d.symbols, [r.text for r in d.readings[:2]], round(d.p_valid, 2)
    (['8', '/', '2'], ['8/2', '8/0'], 0.27)
    """
    proba = np.asarray(proba, dtype=np.float64)
    n = proba.shape[0]
    if n == 0:
        return Decoded([], [], [], 0.0)
    q = normalise(proba, log_prior)
    lq = np.log(np.clip(q, 1e-300, None))
    k_best = max(1, int(n_best))
    ends, paths = _search(lq, k_best, PRUNE)
    if not paths:
        ends, paths = _search(lq, k_best, np.inf)
    mass = np.zeros(len(_STATES))  # forward sums over all valid sequences, for p_valid
    mass[0] = 1.0
    for i in range(n):
        flow = mass[:, None] * q[i][None, :]
        mass = np.bincount(_NEXT[_VALID_NEXT], weights=flow[_VALID_NEXT], minlength=len(_STATES))
    argmax = [TOKENS[int(c)] for c in np.argmax(q, axis=1)]
    p_valid = float(mass[_ACCEPTING].sum())
    if not paths:  # too few marks for an operation: one or two
        return Decoded([], [], argmax, -np.inf, [], q, p_valid)
    readings = [
        Reading([TOKENS[c] for c in cols], float(np.exp(score)))
        for score, cols in zip(ends, paths, strict=True)
    ]
    best_cols = paths[0]
    symbols = readings[0].symbols
    confidences = [float(proba[i, c]) for i, c in enumerate(best_cols)]
    log_prob = float(sum(np.log(np.clip(proba[i, c], _FLOOR, None)) for i, c in enumerate(best_cols)))
    if log_prior is not None:
        log_prob += float(sum(log_prior[i, c] for i, c in enumerate(best_cols)))
    return Decoded(symbols, confidences, argmax, log_prob, readings, q, p_valid)


def _search(lq: np.ndarray, k_best: int, prune: float) -> tuple[list[float], list[list[int]]]:
    """The ``k_best`` best accepted paths: (log-probabilities, token columns), best first;
    none where no accepted path is left."""
    n_states, n_tokens = len(_STATES), len(TOKENS)
    # k-best Viterbi over the automaton, vectorised: scores[s, r] is the r-th best
    # log-probability of a prefix ending in state s (every valid sequence's best k
    # continuations survive, since the automaton's future depends only on the state).
    scores = np.full((n_states, k_best), -np.inf)
    scores[0, 0] = 0.0
    back: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per step: (prev state, prev rank, column)
    for row in lq:
        top = scores[:, 0]
        live = np.flatnonzero(top >= top.max() - prune)
        to = np.broadcast_to(_NEXT[live][:, None, :], (len(live), k_best, n_tokens)).ravel()
        cand = (scores[live][:, :, None] + row[None, None, :]).ravel()
        ok = np.flatnonzero((to >= 0) & np.isfinite(cand))
        cand, to = cand[ok], to[ok]
        order = np.lexsort((-cand, to))  # grouped by next state, best first
        grouped = to[order]
        rank = np.arange(len(order)) - np.searchsorted(grouped, grouped, side="left")
        keep = rank < k_best
        pick = order[keep]
        src_live, src_rank, col = np.unravel_index(ok[pick], (len(live), k_best, n_tokens))
        scores = np.full((n_states, k_best), -np.inf)
        scores[to[pick], rank[keep]] = cand[pick]
        prev_state = np.full((n_states, k_best), -1)
        prev_rank = np.zeros((n_states, k_best), dtype=np.int64)
        column = np.zeros((n_states, k_best), dtype=np.int64)
        prev_state[to[pick], rank[keep]] = live[src_live]
        prev_rank[to[pick], rank[keep]] = src_rank
        column[to[pick], rank[keep]] = col
        back.append((prev_state, prev_rank, column))
    ends = [(float(scores[st, r]), int(st), r) for st in np.flatnonzero(_ACCEPTING) for r in range(k_best)]
    ends = sorted((e for e in ends if np.isfinite(e[0])), key=lambda e: -e[0])[:k_best]
    paths = []
    for _score, st, r in ends:
        cols = []
        for prev_state, prev_rank, column in reversed(back):
            cols.append(int(column[st, r]))
            st, r = int(prev_state[st, r]), int(prev_rank[st, r])
        paths.append(cols[::-1])
    return [e[0] for e in ends], paths


__all__ = [
    "MAX_DEPTH",
    "SHAPES",
    "Decoded",
    "Reading",
    "accepts",
    "align_columns",
    "apply_shapes",
    "decode",
    "geometry_log_prior",
    "normalise",
    "one_or_slash",
]
