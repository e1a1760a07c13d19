"""The vocabulary: the 14 symbol classes and the aliases that map to them.

Everything else in mathocr speaks in these tokens: ``0``-``9``, ``+``, ``-``,
``*`` and ``/``. Glyph aliases (``x``, ``×``, ``·``, ``÷``) and dataset folder
names (``addition_plus``, ``forward_slash``, ...) are resolved here and only here.
"""

from __future__ import annotations

DIGITS: tuple[str, ...] = tuple("0123456789")
OPERATORS: tuple[str, ...] = ("+", "-", "*", "/")
CLASSES: tuple[str, ...] = DIGITS + OPERATORS
"""The 14 classes, in the order used for ``classes_`` and probability columns."""

# Folder names and glyphs seen in public symbol datasets (the Kaggle "handwritten
# math symbols" layout, mdas, bhmsds) and in user text. Keys are lower-case.
ALIASES: dict[str, str] = {
    **{d: d for d in DIGITS},
    **{op: op for op in OPERATORS},
    # addition
    "plus": "+",
    "add": "+",
    "addition": "+",
    "addition_plus": "+",
    # subtraction
    "minus": "-",
    "sub": "-",
    "subtraction": "-",
    "subtraction_minus": "-",
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    # multiplication
    "times": "*",
    "x": "*",
    "\u00d7": "*",  # multiplication sign
    "\u00b7": "*",  # middle dot
    "\u22c5": "*",  # dot operator
    "mul": "*",
    "multiplication": "*",
    "multiplication_cross": "*",
    "multiplication_dot": "*",
    "dot": "*",
    "asterisk": "*",
    # division
    "div": "/",
    "\u00f7": "/",  # obelus
    "division": "/",
    "division_obelus": "/",
    "division_slash": "/",
    "forward_slash": "/",
    "slash": "/",
}

# The written forms behind each operator token, keyed by folder name or glyph: one
# token can be drawn several ways ("*" as a cross, a letter x or a dot; "/" as a slash
# or an obelus), and training balances forms, not only tokens.
FORMS: dict[str, str] = {
    "+": "plus",
    "plus": "plus",
    "add": "plus",
    "addition": "plus",
    "addition_plus": "plus",
    "-": "minus",
    "minus": "minus",
    "sub": "minus",
    "subtraction": "minus",
    "subtraction_minus": "minus",
    "\u2212": "minus",
    "\u2013": "minus",
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
    "/": "slash",
    "slash": "slash",
    "forward_slash": "slash",
    "division_slash": "slash",
    "div": "obelus",
    "division": "obelus",
    "division_obelus": "obelus",
    "\u00f7": "obelus",
}

# How each token is shown to people.
DISPLAY: dict[str, str] = {**{c: c for c in CLASSES}, "*": "\u00d7", "/": "\u00f7", "-": "\u2212"}


def canonical(name: str) -> str:
    """Map a glyph or folder name to its class token.

    Parameters
    ----------
    name : str
        A token, glyph or dataset folder name, e.g. ``"addition_plus"`` or ``"×"``.

    Returns
    -------
    str
        One of :data:`CLASSES`.

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
