"""Tokens -> syntax tree -> exact value, without ``eval``.

The grammar is school arithmetic as a handwritten calculator reads it::

    statement  := expression [ "=" [ expression ] ]      # "12+69=" computes, "1+1=2" checks
    expression := [ "-" ] term ( ("+" | "-") term )*
    term       := factor ( ("*" | "/") factor | group )*
    factor     := number | group
    group      := "(" expression ")"
    number     := digit+ [ "." digit+ ]

``*`` and ``/`` bind tighter than ``+`` and ``-``; operators of equal precedence
associate to the left (precedences come from :data:`mathocr.symbols.PRECEDENCE`). A
unary minus is allowed only at the start of an expression: at the very start, right
after ``(`` and right after ``=`` (so ``2*-3`` is malformed, ``2*(-3)`` is not). A
``(`` right after a number or a ``)`` multiplies: ``2(3+4)`` and ``(1+2)(3+4)``;
a number right after ``)`` (``(2)3``) is malformed. Brackets nest to any depth.
Decimals are written ``3.5`` or ``0.25`` (not ``.5``, not ``3.``).

Which token does what comes from its role in :data:`mathocr.symbols.VOCABULARY`
(digit, operator, open, close, equals, point); only the two operators with a meaning
of their own here are named: ``-`` (the unary minus) and ``*`` (implicit
multiplication).

Values are :class:`fractions.Fraction`, built from the digits as written, so
``1/3*3`` is exactly 1 and ``0.1+0.2`` exactly 3/10. Errors are
:class:`mathocr.errors.ExpressionError` subclasses whose message says what is wrong
and where (``position`` is a token index); each carries the offending ``tokens``:

* :class:`~mathocr.errors.EmptyExpressionError`: no tokens;
* :class:`~mathocr.errors.IncompleteExpressionError`: the tokens are the beginning of
  a valid statement that stops too early (``1+``, ``-``, ``(1+2``, ``3.``, ``2(``);
* :class:`~mathocr.errors.MalformedExpressionError`: anything else that does not
  parse (``1++2``, ``*3``, ``1+2)``, ``()``, ``=1``, ``1=2=3``, ``1.2.3``, ``(2)3``);
* :class:`~mathocr.errors.EvaluationError`: a division by zero, on either side of ``=``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from .errors import (
    EmptyExpressionError,
    EvaluationError,
    ExpressionError,
    IncompleteExpressionError,
    MalformedExpressionError,
)
from .symbols import ALIASES, BY_TOKEN, PRECEDENCE

_MINUS = "-"  # the one operator that may also be unary
_TIMES = "*"  # what a "(" right after a number or ")" means
_APPLY: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
assert set(_APPLY) == set(PRECEDENCE) and {_MINUS, _TIMES} <= set(PRECEDENCE)


@dataclass(frozen=True)
class Number:
    """A literal: ``text`` as written (leading zeros, decimal point), at token ``position``."""

    text: str
    position: int

    @property
    def value(self) -> Fraction:
        """The exact value, from the digits (never via a float): ``"0.25"`` -> ``1/4``.

        Examples
        --------
        >>> Number("0.25", 0).value, Number("007", 0).value
        (Fraction(1, 4), Fraction(7, 1))
        """
        whole, _, decimals = self.text.partition(".")
        return Fraction(int(whole + decimals), 10 ** len(decimals))


@dataclass(frozen=True)
class Negate:
    """A unary minus (at the start, after ``(`` or after ``=``) at token ``position``."""

    operand: Node
    position: int


@dataclass(frozen=True)
class BinOp:
    """``left op right``; ``position`` is the operator's token index (the ``(``'s for ``2(3)``)."""

    op: str
    left: Node
    right: Node
    position: int


Node = Number | Negate | BinOp


@dataclass(frozen=True)
class Statement:
    """What was written on a line: ``left``, or ``left =`` or ``left = right``.

    Attributes
    ----------
    left : Node
    right : Node or None
        None for ``12+69=`` and for a plain expression.
    equals : bool
        Whether an ``=`` was written.

    Examples
    --------
    >>> parse_statement("1+1=2").right
    Number(text='2', position=4)
    """

    left: Node
    right: Node | None
    equals: bool

    @property
    def computes(self) -> bool:
        """Whether a side holds an operation: a number alone (``7``, ``-3``, ``(5)``,
        ``7=7``) computes nothing.

        Examples
        --------
        >>> parse_statement("2(3)").computes, parse_statement("-3").computes
        (True, False)
        """
        return any(_operates(side) for side in (self.left, self.right) if side is not None)


def _operates(node: Node) -> bool:
    while isinstance(node, Negate):
        node = node.operand
    return isinstance(node, BinOp)


@dataclass(frozen=True)
class Check:
    """The values of a statement's sides.

    Attributes
    ----------
    value : fractions.Fraction
        The left side's value (the answer to ``12+69=``).
    right : fractions.Fraction or None
        The right side's value, None without a right side.
    correct : bool or None
        Whether both sides are equal; None without a right side.

    Examples
    --------
    >>> check("2*3=5")
    Check(value=Fraction(6, 1), right=Fraction(5, 1), correct=False)
    """

    value: Fraction
    right: Fraction | None
    correct: bool | None


def _error(cls: type[ExpressionError], message: str, tokens: Sequence[str]) -> ExpressionError:
    exc = cls(message)
    exc.tokens = list(tokens)  # type: ignore[attr-defined]
    return exc


def _role(token: str) -> str:
    return BY_TOKEN[token].role


def tokenize(expression: str | Iterable[str]) -> list[str]:
    """Normalise an expression to a list of one-character tokens.

    Parameters
    ----------
    expression : str or iterable of str
        ``"12+69"``, ``"12 × 3"`` or ``["1", "2", "+"]``. Glyph aliases of
        :data:`mathocr.symbols.ALIASES` (``×``, ``÷``, ``:``, ``−``, ``x``, ``,``)
        become their tokens; spaces are ignored.

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
    >>> tokenize("6:2"), tokenize("3,5")
    (['6', '/', '2'], ['3', '.', '5'])
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


# ---------------------------------------------------------------- the parser


def _tokens(tokens: str | Iterable[str]) -> list[str]:
    """:func:`tokenize`, refusing nothing to read."""
    toks = tokenize(tokens)
    if not toks:
        raise _error(EmptyExpressionError, "empty expression: no symbols to read", toks)
    return toks


def _number(toks: list[str], i: int) -> tuple[Number, int]:
    """Read ``digit+ ["." digit+]`` from ``toks[i]`` (a digit); return it and the next index."""
    start, n = i, len(toks)
    while i < n and _role(toks[i]) == "digit":
        i += 1
    if i < n and _role(toks[i]) == "point":
        point = i
        i += 1
        if i == n:
            raise _error(
                IncompleteExpressionError,
                f"expression ends with the decimal point at position {point}: digits must follow it",
                toks,
            )
        if _role(toks[i]) != "digit":
            raise _error(
                MalformedExpressionError,
                f"the decimal point at position {point} must be followed by digits, not {toks[i]!r}",
                toks,
            )
        while i < n and _role(toks[i]) == "digit":
            i += 1
        if i < n and _role(toks[i]) == "point":
            raise _error(
                MalformedExpressionError,
                f"a second decimal point at position {i} in the number at position {start}",
                toks,
            )
    return Number("".join(toks[start:i]), start), i


def _operand_error(toks: list[str], i: int, open_brackets: int) -> ExpressionError:
    """Why ``toks[i]`` cannot stand where a number, ``(`` or unary minus must."""
    tok, role = toks[i], _role(toks[i])
    prev = toks[i - 1] if i else None
    prev_role = _role(prev) if prev is not None else None
    if role == "close" and not open_brackets:
        message = f"a ')' at position {i} closes no '('"
    elif role == "point":
        message = f"the decimal point at position {i} has no digits before it (write 0.5, not .5)"
    elif prev is None:
        if role == "operator":
            message = f"expression starts with the operator {tok!r}"
        else:
            message = f"expression starts with {tok!r}: a number must come first"
    elif prev_role == "operator" and role == "operator":
        message = f"two operators in a row: {prev!r} then {tok!r} at position {i}"
    elif prev_role == "open" and role == "close":
        message = f"empty brackets: the '(' at position {i - 1} is closed at position {i} with nothing inside"
    elif role == "equals" and prev_role == "equals":
        message = f"a second '=' at position {i}: a statement has only one"
    elif role == "operator":
        message = f"the operator {tok!r} at position {i} follows {prev!r}: a number must come first"
    else:
        shown = f"the operator {prev!r}" if prev_role == "operator" else f"the {prev!r}"
        message = (
            f"{shown} at position {i - 1} is followed by {tok!r} at position {i}: "
            "a number must come between them"
        )
    return _error(MalformedExpressionError, message, toks)


def _end_error(toks: list[str]) -> ExpressionError:
    """Why the tokens stop too early where a number, ``(`` or unary minus must follow."""
    last = toks[-1]
    if toks == [_MINUS]:
        message = f"a lone {_MINUS!r} is not an expression"
    elif _role(last) == "operator":
        message = f"expression ends with the operator {last!r}: a number must follow it"
    else:
        message = f"expression ends with the {last!r} at position {len(toks) - 1}: a number must follow it"
    return _error(IncompleteExpressionError, message, toks)


def _unclosed(opens: list[int]) -> str:
    if len(opens) == 1:
        return f"the '(' at position {opens[0]} is never closed"
    listed = ", ".join(str(p) for p in opens[:-1]) + f" and {opens[-1]}"
    return f"the '(' at positions {listed} are never closed"


def _parse_statement(toks: list[str]) -> Statement:
    """Operator precedence parsing with explicit stacks (no recursion: any nesting depth)."""
    values: list[Node] = []
    ops: list[tuple[str, str, int]] = []  # (kind: "operator" | "negate" | "open", token, position)
    opens: list[int] = []  # positions of the open "(", outermost first

    def reduce_top() -> None:
        kind, tok, pos = ops.pop()
        if kind == "negate":
            values.append(Negate(values.pop(), pos))
        else:
            right = values.pop()
            values.append(BinOp(tok, values.pop(), right, pos))

    def reduce_down_to(precedence: int) -> None:
        """Apply the pending operators that bind at least as tightly, back to the last "("."""
        while (
            ops and ops[-1][0] != "open" and (ops[-1][0] == "negate" or PRECEDENCE[ops[-1][1]] >= precedence)
        ):
            reduce_top()

    left: Node | None = None
    equals_at: int | None = None
    want_operand, unary_ok = True, True
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        role = _role(tok)
        if want_operand:
            if role == "digit":
                number, i = _number(toks, i)
                values.append(number)
                want_operand = False
                continue
            if role == "open":
                ops.append(("open", tok, i))
                opens.append(i)
                unary_ok = True
            elif tok == _MINUS and unary_ok:
                ops.append(("negate", tok, i))
                unary_ok = False
            else:
                raise _operand_error(toks, i, len(opens))
        elif role == "operator":
            reduce_down_to(PRECEDENCE[tok])
            ops.append(("operator", tok, i))
            want_operand, unary_ok = True, False
        elif role == "open":  # implicit multiplication: 2(3+4), (1+2)(3+4)
            reduce_down_to(PRECEDENCE[_TIMES])
            ops += [("operator", _TIMES, i), ("open", tok, i)]
            opens.append(i)
            want_operand, unary_ok = True, True
        elif role == "close":
            if not opens:
                raise _error(MalformedExpressionError, f"a ')' at position {i} closes no '('", toks)
            reduce_down_to(0)
            ops.pop()
            opens.pop()
        elif role == "equals":
            if equals_at is not None:
                raise _error(
                    MalformedExpressionError, f"a second '=' at position {i}: a statement has only one", toks
                )
            if opens:
                raise _error(
                    MalformedExpressionError,
                    f"unbalanced brackets: {_unclosed(opens)} before the '=' at position {i}",
                    toks,
                )
            reduce_down_to(0)
            left, equals_at = values.pop(), i
            want_operand, unary_ok = True, True
        elif role == "digit":  # only after ")": a number consumes its own digits
            raise _error(
                MalformedExpressionError,
                f"the number at position {i} follows the ')' at position {i - 1}: "
                "put an operator between them",
                toks,
            )
        else:  # a point after ")"
            raise _error(
                MalformedExpressionError,
                f"the decimal point at position {i} follows the ')' at position {i - 1}: "
                "it belongs inside a number",
                toks,
            )
        i += 1
    if want_operand:
        if equals_at == n - 1:  # "12+69=": nothing to the right
            return Statement(left, None, True)  # type: ignore[arg-type]
        raise _end_error(toks)
    if opens:
        raise _error(IncompleteExpressionError, f"unbalanced brackets: {_unclosed(opens)}", toks)
    reduce_down_to(0)
    if left is None:
        return Statement(values.pop(), None, False)
    return Statement(left, values.pop(), True)


def parse_statement(tokens: str | Iterable[str]) -> Statement:
    """Parse a statement: an expression, ``12+69=`` (compute) or ``1+1=2`` (check).

    Parameters
    ----------
    tokens : str or iterable of str
        See :func:`tokenize`.

    Returns
    -------
    Statement

    Raises
    ------
    EmptyExpressionError
        No tokens.
    IncompleteExpressionError
        The tokens are the beginning of a statement: ``1+``, ``(1+2``, ``3.``.
    MalformedExpressionError
        Tokens in an order no statement takes: ``1++2``, ``)``, ``1=2=3``.
    ExpressionError
        An unknown symbol.

    Examples
    --------
    >>> s = parse_statement("12+69=")
    >>> s.left.op, s.right, s.equals
    ('+', None, True)
    """
    return _parse_statement(_tokens(tokens))


def parse(tokens: str | Iterable[str]) -> Node:
    """Parse an expression (no ``=``) into a syntax tree, honouring precedence and brackets.

    Parameters
    ----------
    tokens : str or iterable of str
        See :func:`tokenize`.

    Returns
    -------
    Number, Negate or BinOp
        Brackets leave no node of their own: ``(1+2)`` is the tree of ``1+2``.

    Raises
    ------
    EmptyExpressionError, IncompleteExpressionError, MalformedExpressionError, ExpressionError
        See :func:`parse_statement`; a ``=`` is malformed here.

    Examples
    --------
    >>> tree = parse("2+3*4")
    >>> tree.op, tree.left, tree.right.op
    ('+', Number(text='2', position=0), '*')
    >>> parse("2(3)")
    BinOp(op='*', left=Number(text='2', position=0), right=Number(text='3', position=2), position=1)
    """
    toks = _tokens(tokens)
    for i, tok in enumerate(toks):
        if _role(tok) == "equals":
            raise _error(
                MalformedExpressionError,
                f"the {tok!r} at position {i} makes this a statement, not an expression: "
                "read it with parse_statement",
                toks,
            )
    return _parse_statement(toks).left


# ---------------------------------------------------------------- evaluation


def _eval(node: Node, tokens: Sequence[str]) -> Fraction:
    """Post-order evaluation with an explicit stack (left before right, no recursion)."""
    todo: list[tuple[Node, bool]] = [(node, False)]
    done: list[Fraction] = []
    while todo:
        cur, children_done = todo.pop()
        if isinstance(cur, Number):
            done.append(cur.value)
        elif isinstance(cur, Negate):
            if children_done:
                done.append(-done.pop())
            else:
                todo += [(cur, True), (cur.operand, False)]
        elif not children_done:
            todo += [(cur, True), (cur.right, False), (cur.left, False)]
        else:
            right = done.pop()
            left = done.pop()
            if cur.op == "/" and right == 0:
                raise _error(
                    EvaluationError,
                    f"division by zero: the '/' at position {cur.position} divides by 0",
                    tokens,
                )
            done.append(_APPLY[cur.op](left, right))
    return done[0]


def _check(statement: Statement, tokens: Sequence[str]) -> Check:
    value = _eval(statement.left, tokens)
    if statement.right is None:
        return Check(value, None, None)
    right = _eval(statement.right, tokens)
    return Check(value, right, value == right)


def check(tokens: str | Iterable[str] | Statement) -> Check:
    """Compute a statement: the left side's value and, after ``=``, whether the right side agrees.

    Parameters
    ----------
    tokens : str, iterable of str, or a parsed Statement

    Returns
    -------
    Check

    Raises
    ------
    EmptyExpressionError, IncompleteExpressionError, MalformedExpressionError, ExpressionError
        See :func:`parse_statement`.
    EvaluationError
        Division by zero, on either side.

    Examples
    --------
    >>> check("1+1=2").correct, check("12+69=").value, check("12+69=").correct
    (True, Fraction(81, 1), None)
    """
    if isinstance(tokens, Statement):
        return _check(tokens, [])
    toks = tokenize(tokens)
    return _check(parse_statement(toks), toks)


def evaluate(expression: str | Iterable[str] | Node | Statement) -> Fraction:
    """Compute the exact value of an expression, or of a statement's left side.

    Parameters
    ----------
    expression : str, iterable of str, a parsed node or a Statement
        ``"12+69"``, ``"12+69="``, ``"1+1=3"`` (the right side is computed too, but
        only the left side's value is returned: see :func:`check`).

    Returns
    -------
    fractions.Fraction

    Raises
    ------
    EmptyExpressionError, IncompleteExpressionError, MalformedExpressionError, ExpressionError
        See :func:`parse_statement`.
    EvaluationError
        Division by zero, on either side of ``=``.

    Examples
    --------
    >>> evaluate("12+69")
    Fraction(81, 1)
    >>> evaluate("7/2-1*3"), evaluate("-8/4/2")
    (Fraction(1, 2), Fraction(-1, 1))
    >>> evaluate("2(0.5+1)"), evaluate("1+1=3")
    (Fraction(3, 1), Fraction(2, 1))
    """
    if isinstance(expression, Number | Negate | BinOp):
        return _eval(expression, [])
    return check(expression).value


def is_valid(tokens: str | Iterable[str]) -> bool:
    """True when ``tokens`` are a statement (their value may still be a division by zero).

    Examples
    --------
    >>> is_valid("1+2"), is_valid("1+"), is_valid("-3"), is_valid("2(3+4)=14")
    (True, False, True, True)
    """
    try:
        parse_statement(tokens)
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
    "PRECEDENCE",
    "BinOp",
    "Check",
    "Negate",
    "Node",
    "Number",
    "Statement",
    "check",
    "evaluate",
    "format_decimal",
    "format_fraction",
    "is_valid",
    "parse",
    "parse_statement",
    "to_text",
    "tokenize",
]
