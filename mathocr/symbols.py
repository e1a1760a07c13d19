"""The vocabulary: one table of tokens, their roles and written forms.

Everything else in mathocr speaks in these tokens: ``0``-``9``, ``+ - * /``,
``=``, ``(``, ``)`` and ``.``. What a token is (its role, its operator precedence,
how it is shown, which glyphs and dataset folder names stand for it, whether the
classifier learns it or segmentation finds it by its shape) is written once, in
:data:`VOCABULARY`; the classes, the decoder's columns, the parser's precedence,
``synth``'s kinds, the page's display and the OpenAPI enum derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Symbol:
    """One token of the vocabulary.

    Attributes
    ----------
    token : str
        The ASCII token used everywhere (``"*"``, not ``"×"``).
    role : str
        ``"digit"``, ``"operator"`` (binary), ``"open"``, ``"close"``, ``"equals"`` or
        ``"point"`` (a decimal point).
    display : str
        How it is shown to people.
    precedence : int
        Binding strength of a binary operator (0 for other roles).
    learned : bool
        Whether the classifier has a class for it. The others are found by their shape
        and place (:mod:`mathocr.segmentation`): a decimal point is a dot on the
        baseline (UNIPEN's ``.`` samples are mostly not dots when drawn), ``=`` two
        stacked bars, a bracket a tall thin arc. Brackets were tried as classes and cost
        the unseen writers' ``1`` dearly (README, "School arithmetic").
    forms : dict of str to str
        Names (glyphs, dataset folders, words; lower case) that stand for it, each with
        its written form: ``"*"`` is drawn as a cross, a letter x, an asterisk or a dot,
        ``"/"`` as a slash, an obelus or a colon. Training balances forms, not tokens.
    """

    token: str
    role: str
    display: str
    precedence: int = 0
    learned: bool = True
    forms: dict[str, str] = field(default_factory=dict)


VOCABULARY: tuple[Symbol, ...] = (
    *(Symbol(d, "digit", d, forms={d: d}) for d in "0123456789"),
    Symbol(
        "+",
        "operator",
        "+",
        1,
        forms={"+": "plus", "plus": "plus", "add": "plus", "addition": "plus", "addition_plus": "plus"},
    ),
    Symbol(
        "-",
        "operator",
        "\u2212",
        1,
        forms={
            "-": "minus",
            "minus": "minus",
            "sub": "minus",
            "subtraction": "minus",
            "subtraction_minus": "minus",
            "\u2212": "minus",
            "\u2013": "minus",
        },
    ),
    Symbol(
        "*",
        "operator",
        "\u00d7",
        2,
        forms={
            "*": "cross",
            "times": "cross",
            "\u00d7": "cross",
            "mul": "cross",
            "multiplication": "cross",
            "multiplication_cross": "cross",
            "x": "x",
            "asterisk": "asterisk",
            "dot": "dot",
            "multiplication_dot": "dot",
            "\u00b7": "dot",
            "\u22c5": "dot",
        },
    ),
    Symbol(
        "/",
        "operator",
        "\u00f7",
        2,
        forms={
            "/": "slash",
            "slash": "slash",
            "forward_slash": "slash",
            "division_slash": "slash",
            "div": "obelus",
            "division": "obelus",
            "division_obelus": "obelus",
            "\u00f7": "obelus",
            ":": "colon",
            "colon": "colon",
        },
    ),
    Symbol("=", "equals", "=", learned=False, forms={"=": "equals", "equals": "equals", "eq": "equals"}),
    Symbol(
        "(", "open", "(", learned=False, forms={"(": "open", "open_paren": "open", "left_parenthesis": "open"}
    ),
    Symbol(
        ")",
        "close",
        ")",
        learned=False,
        forms={")": "close", "close_paren": "close", "right_parenthesis": "close"},
    ),
    Symbol(
        ".",
        "point",
        ".",
        learned=False,
        forms={".": "point", "point": "point", "decimal_point": "point", ",": "point"},
    ),
)
"""The one table of tokens; every other constant here derives from it."""

BY_TOKEN: dict[str, Symbol] = {s.token: s for s in VOCABULARY}
TOKENS: tuple[str, ...] = tuple(s.token for s in VOCABULARY)
"""Every token, learned or found by shape."""


def with_role(*roles: str) -> tuple[str, ...]:
    """The tokens with one of these roles, in table order.

    Examples
    --------
    >>> with_role("open", "close")
    ('(', ')')
    """
    return tuple(s.token for s in VOCABULARY if s.role in roles)


DIGITS: tuple[str, ...] = with_role("digit")
OPERATORS: tuple[str, ...] = with_role("operator")
CLASSES: tuple[str, ...] = tuple(s.token for s in VOCABULARY if s.learned)
"""The classifier's classes, in the order of ``classes_`` and probability columns."""
PRECEDENCE: dict[str, int] = {s.token: s.precedence for s in VOCABULARY if s.role == "operator"}

NOT_A_SYMBOL = ""
"""The training label of a mark that is no token (an ``@``, a ``%``, a ``?``): the
classifier learns to spread its probability over every class for such a mark, so that
it reads as hard to read rather than as a confident digit (Outlier Exposure; see
:class:`mathocr.estimator.SymbolClassifier`). Never a class, never predicted."""
NOT_A_SYMBOL_FORM = "not a symbol"
"""How such marks are named where a written form or class name is shown (weights, cards)."""

ALIASES: dict[str, str] = {name: s.token for s in VOCABULARY for name in s.forms}
"""Glyph, folder or word (lower case) -> token."""
FORMS: dict[str, str] = {name: form for s in VOCABULARY for name, form in s.forms.items()}
"""Glyph, folder or word (lower case) -> its written form (digits are their own form)."""
DISPLAY: dict[str, str] = {s.token: s.display for s in VOCABULARY}
"""How each token is shown to people."""


def canonical(name: str) -> str:
    """Map a glyph or folder name to its class token.

    Parameters
    ----------
    name : str
        A token, glyph or dataset folder name, e.g. ``"addition_plus"`` or ``"×"``.

    Returns
    -------
    str
        One of :data:`TOKENS`.

    Raises
    ------
    KeyError
        If the name is not a known alias; the message lists the accepted names.

    Examples
    --------
    >>> canonical("division_obelus")
    '/'
    >>> canonical("X")
    '*'
    """
    key = name.strip().lower()
    try:
        return ALIASES[key]
    except KeyError:
        raise KeyError(f"unknown symbol name {name!r}; known names: {', '.join(sorted(ALIASES))}") from None


def form(name: str) -> str:
    """The written form of a glyph or folder name: ``"division_obelus"`` -> ``"obelus"``.

    Digits are their own form. Raises KeyError for unknown names, like :func:`canonical`.

    Examples
    --------
    >>> form("forward_slash"), form("7")
    ('slash', '7')
    """
    key = name.strip().lower()
    canonical(key)
    return FORMS.get(key, key)


def is_known(name: str) -> bool:
    """Return True when ``name`` is a known glyph or folder-name alias."""
    return name.strip().lower() in ALIASES
