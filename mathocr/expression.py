"""Tokens -> syntax tree -> exact value, without ``eval``.

The grammar is the one a handwritten calculator needs::

    expression := ["-"] number (operator number)*
    number     := digit+
    operator   := "+" | "-" | "*" | "/"

``*`` and ``/`` bind tighter than ``+`` and ``-``; operators of equal precedence
associate to the left. Values are :class:`fractions.Fraction`, so ``1/3*3`` is
exactly 1. Errors are :class:`mathocr.errors.ExpressionError` subclasses whose
message says what is wrong and where; each carries the offending ``tokens``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from .errors import EmptyExpressionError, EvaluationError, ExpressionError
from .symbols import ALIASES, DIGITS

PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True)
class Number:
    """A literal: ``text`` as written (leading zeros kept), at token ``position``."""

    text: str
    position: int

    @property
    def value(self) -> int:
        return int(self.text)


@dataclass(frozen=True)
class Negate:
    """The optional leading minus."""

    operand: Node
    position: int


@dataclass(frozen=True)
class BinOp:
    """``left op right``; ``position`` is the operator's token index."""

    op: str
    left: Node
    right: Node
    position: int


Node = Number | Negate | BinOp


def _error(cls: type[ExpressionError], message: str, tokens: Sequence[str]) -> ExpressionError:
    exc = cls(message)
    exc.tokens = list(tokens)  # type: ignore[attr-defined]
    return exc


def tokenize(expression: str | Iterable[str]) -> list[str]:
    """Normalise an expression to a list of one-character tokens.

    Parameters
    ----------
    expression : str or iterable of str
        ``"12+69"``, ``"12 × 3"`` or ``["1", "2", "+"]``. Glyph aliases (``×``,
        ``÷``, ``−``, ``x``) become their tokens; spaces are ignored.

    Returns
    -------
    list of str

    Raises
    ------
    ExpressionError
        For a character that is no symbol of the vocabulary.

    Examples
    --------
    >>> tokenize("12 × 3÷4")
    ['1', '2', '*', '3', '/', '4']
    """
    chars = list(expression) if isinstance(expression, str) else [str(t) for t in expression]
    tokens: list[str] = []
    for i, ch in enumerate(chars):
        if ch.isspace():
            continue
        token = ALIASES.get(ch.strip().lower())
        if token is None:
            raise _error(ExpressionError, f"unknown symbol {ch!r} at position {i}", chars)
        tokens.append(token)
    return tokens


def parse(tokens: str | Iterable[str]) -> Node:
    """Parse tokens into a syntax tree, honouring precedence and left associativity.

    Parameters
    ----------
    tokens : str or iterable of str
        See :func:`tokenize`.

    Returns
    -------
    Number, Negate or BinOp

    Raises
    ------
    EmptyExpressionError
        No tokens.
    ExpressionError
        Malformed: an operator at the start or end, two operators in a row, an
        unknown symbol.

    Examples
    --------
    >>> tree = parse("2+3*4")
    >>> tree.op, tree.left, tree.right.op
    ('+', Number(text='2', position=0), '*')
    """
    toks = tokenize(tokens)
    if not toks:
        raise _error(EmptyExpressionError, "empty expression: no symbols to read", toks)
    pos = 0

    def number() -> Node:
        nonlocal pos
        start = pos
        while pos < len(toks) and toks[pos] in DIGITS:
            pos += 1
        if pos == start:
            if pos == len(toks):
                raise _error(
                    ExpressionError,
                    f"expression ends with the operator {toks[-1]!r}: a number must follow it",
                    toks,
                )
            if pos == 0:
                raise _error(ExpressionError, f"expression starts with the operator {toks[0]!r}", toks)
            raise _error(
                ExpressionError,
                f"two operators in a row: {toks[pos - 1]!r} then {toks[pos]!r} at position {pos}",
                toks,
            )
        return Number("".join(toks[start:pos]), start)

    # Operator precedence climbing: two levels, left associative.
    def operand() -> Node:
        nonlocal pos
        if pos == 0 and toks[0] == "-" and len(toks) > 1:
            pos = 1
            return Negate(number(), 0)
        return number()

    def term(first: Node) -> Node:
        nonlocal pos
        node = first
        while pos < len(toks) and PRECEDENCE[toks[pos]] == 2:
            op_pos = pos
            pos += 1
            node = BinOp(toks[op_pos], node, number(), op_pos)
        return node

    if toks == ["-"]:
        raise _error(ExpressionError, "a lone '-' is not an expression", toks)
    node = term(operand())
    while pos < len(toks):
        op_pos = pos
        pos += 1
        node = BinOp(toks[op_pos], node, term(number()), op_pos)
    return node


def _eval(node: Node, tokens: Sequence[str]) -> Fraction:
    if isinstance(node, Number):
        return Fraction(node.value)
    if isinstance(node, Negate):
        return -_eval(node.operand, tokens)
    left = _eval(node.left, tokens)
    right = _eval(node.right, tokens)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if right == 0:
        raise _error(
            EvaluationError,
            f"division by zero: the '/' at position {node.position} divides by 0",
            tokens,
        )
    return left / right


def evaluate(expression: str | Iterable[str] | Node) -> Fraction:
    """Compute the exact value of an expression.

    Parameters
    ----------
    expression : str, iterable of str, or a parsed node

    Returns
    -------
    fractions.Fraction

    Raises
    ------
    EmptyExpressionError, ExpressionError
        See :func:`parse`.
    EvaluationError
        Division by zero.

    Examples
    --------
    >>> evaluate("12+69")
    Fraction(81, 1)
    >>> evaluate("7/2-1*3")
    Fraction(1, 2)
    >>> evaluate("-8/4/2")
    Fraction(-1, 1)
    """
    if isinstance(expression, (Number, Negate, BinOp)):
        return _eval(expression, [])
    toks = tokenize(expression)
    return _eval(parse(toks), toks)


def is_valid(tokens: str | Iterable[str]) -> bool:
    """True when ``tokens`` parse (their value may still be a division by zero).

    Examples
    --------
    >>> is_valid("1+2"), is_valid("1+"), is_valid("-3")
    (True, False, True)
    """
    try:
        parse(tokens)
    except ExpressionError:
        return False
    return True


def format_fraction(value: Fraction) -> str:
    """Exact value as text: an integer ``"81"`` or a reduced fraction ``"-7/2"``.

    Examples
    --------
    >>> format_fraction(Fraction(81)), format_fraction(Fraction(-14, 4))
    ('81', '-7/2')
    """
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def format_decimal(value: Fraction, places: int = 12) -> str:
    """Value as a decimal: exact when it terminates within ``places`` digits, else rounded.

    Examples
    --------
    >>> format_decimal(Fraction(7, 2)), format_decimal(Fraction(1, 3)), format_decimal(Fraction(-5))
    ('3.5', '0.333333333333', '-5')
    """
    value = Fraction(value)
    with localcontext() as ctx:
        ctx.prec = max(28, len(str(abs(value.numerator))) + places + 2)
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        text = format(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def to_text(tokens: Iterable[str]) -> str:
    """Join tokens into the ASCII expression string.

    Examples
    --------
    >>> to_text(["1", "2", "*", "3"])
    '12*3'
    """
    return "".join(tokens)


__all__ = [
    "BinOp",
    "Negate",
    "Node",
    "Number",
    "evaluate",
    "format_decimal",
    "format_fraction",
    "is_valid",
    "parse",
    "to_text",
    "tokenize",
]
