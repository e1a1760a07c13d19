"""Tokenizing, parsing and exact evaluation of statements (decoding: tests/test_decoding.py)."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathocr import symbols
from mathocr.errors import (
    EmptyExpressionError,
    EvaluationError,
    ExpressionError,
    IncompleteExpressionError,
    MalformedExpressionError,
)
from mathocr.expression import (
    PRECEDENCE,
    BinOp,
    Check,
    Negate,
    Number,
    Statement,
    check,
    evaluate,
    format_decimal,
    format_fraction,
    is_valid,
    parse,
    parse_statement,
    to_text,
    tokenize,
)
from mathocr.symbols import DIGITS, OPERATORS, TOKENS

# ---------------------------------------------------------------- a reference evaluator


def reference_value(tokens: list[str]) -> Fraction:
    """Independent evaluation: group numbers, fold * and / into terms, then sum terms."""
    sign = 1
    if tokens[0] == "-":
        sign, tokens = -1, tokens[1:]
    numbers, ops, cur = [], [], ""
    for t in tokens:
        if t in DIGITS:
            cur += t
        else:
            numbers.append(Fraction(int(cur)))
            ops.append(t)
            cur = ""
    numbers.append(Fraction(int(cur)))
    numbers[0] *= sign
    terms, term_ops = [numbers[0]], []
    for op, num in zip(ops, numbers[1:], strict=True):
        if op == "*":
            terms[-1] = terms[-1] * num
        elif op == "/":
            if num == 0:
                raise ZeroDivisionError
            terms[-1] = terms[-1] / num
        else:
            terms.append(num)
            term_ops.append(op)
    total = terms[0]
    for op, term in zip(term_ops, terms[1:], strict=True):
        total = total + term if op == "+" else total - term
    return total


number_st = st.text(alphabet=DIGITS, min_size=1, max_size=4)


@st.composite
def valid_tokens(draw) -> list[str]:
    parts = [draw(number_st)]
    for _ in range(draw(st.integers(0, 5))):
        parts += [draw(st.sampled_from(OPERATORS)), draw(number_st)]
    tokens = [c for part in parts for c in part]
    return (["-"] if draw(st.booleans()) else []) + tokens


# ---------------------------------------------------------------- parse / evaluate


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12+69", 81),
        ("2+3*4", 14),
        ("2*3+4", 10),
        ("8-3-2", 3),
        ("8/4/2", 1),
        ("7/2", Fraction(7, 2)),
        ("1/3*3", 1),
        ("-3+5", 2),
        ("-8/4/2", -1),
        ("10-2*3+8/4", 6),
        ("007", 7),
        ("0", 0),
    ],
)
def test_evaluate_examples(text, value):
    assert evaluate(text) == value
    assert isinstance(evaluate(text), Fraction)


def test_precedence_and_left_associativity_in_the_tree():
    tree = parse("1-2-3*4/5")
    # ((1 - 2) - ((3 * 4) / 5))
    assert isinstance(tree, BinOp) and tree.op == "-"
    assert isinstance(tree.left, BinOp) and tree.left.op == "-"
    assert tree.right.op == "/" and tree.right.left.op == "*"
    assert parse("-5") == Negate(Number("5", 1), 0)


def test_tokenize_accepts_glyph_aliases_and_lists():
    assert tokenize("12 × 3 ÷ 4 − 1") == list("12*3/4-1")
    assert tokenize(["1", "x", "2"]) == ["1", "*", "2"]
    assert evaluate(["1", "2", "+", "3"]) == 15


@given(valid_tokens())
@settings(max_examples=300, deadline=None)
def test_evaluation_matches_reference_fraction_arithmetic(tokens):
    printed = to_text(tokens)
    assert is_valid(printed)
    try:
        expected = reference_value(tokens)
    except ZeroDivisionError:
        with pytest.raises(EvaluationError, match="division by zero"):
            evaluate(printed)
        return
    assert evaluate(printed) == expected
    assert evaluate(tokens) == expected


@given(st.lists(st.sampled_from(DIGITS + OPERATORS), max_size=8))
@settings(max_examples=300, deadline=None)
def test_is_valid_matches_the_grammar_without_brackets_points_or_equals(tokens):
    pattern = r"-?\d+([-+*/]\d+)*"
    assert is_valid(tokens) == bool(re.fullmatch(pattern, "".join(tokens)))


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", EmptyExpressionError, "empty expression"),
        ("+1", MalformedExpressionError, "starts with the operator '\\+'"),
        ("1+", IncompleteExpressionError, "ends with the operator '\\+'"),
        ("1+*2", MalformedExpressionError, "two operators in a row: '\\+' then '\\*' at position 2"),
        ("1--2", MalformedExpressionError, "two operators in a row"),
        ("-", IncompleteExpressionError, "a lone '-'"),
        ("1a2", ExpressionError, "unknown symbol 'a' at position 1"),
        ("8/0", EvaluationError, "division by zero: the '/' at position 1"),
        ("1+2/(0)", EvaluationError, "division by zero: the '/' at position 3"),
        ("1+0/0*2", EvaluationError, "division by zero: the '/' at position 3"),
    ],
)
def test_every_error_has_a_clear_message_and_keeps_the_tokens(text, error, message):
    with pytest.raises(error, match=message) as info:
        evaluate(text)
    assert info.value.tokens == [c for c in text if not c.isspace()] or text == ""
    assert info.value.code == error.code


def test_division_by_zero_error_code():
    with pytest.raises(EvaluationError) as info:
        evaluate("1/0")
    assert info.value.code == "division_by_zero"


@pytest.mark.parametrize(
    ("value", "exact", "decimal"),
    [
        (Fraction(81), "81", "81"),
        (Fraction(-7, 2), "-7/2", "-3.5"),
        (Fraction(1, 3), "1/3", "0.333333333333"),
        (Fraction(2, 3), "2/3", "0.666666666667"),
        (Fraction(1, 8), "1/8", "0.125"),
        (Fraction(10**20), str(10**20), str(10**20)),
    ],
)
def test_formats(value, exact, decimal):
    assert format_fraction(value) == exact
    assert format_decimal(value) == decimal


def test_the_package_never_calls_eval():
    forbidden = re.compile(r"(?<![\w.])" + "ev" + r"al\s*\(")
    root = Path(__file__).resolve().parents[1]
    offenders = [
        p.relative_to(root).as_posix()
        for folder in ("mathocr", "deploy", "benchmarks")
        if (root / folder).is_dir()
        for p in (root / folder).rglob("*.py")
        if forbidden.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# ---------------------------------------------------------------- brackets, decimals, implicit multiplication


def test_precedence_is_the_vocabularys():
    assert PRECEDENCE is symbols.PRECEDENCE
    assert PRECEDENCE["*"] > PRECEDENCE["+"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("((1+2)*(3-4))/5", Fraction(-3, 5)),
        ("(((1+2)))*3", 9),
        ("((((7))))", 7),
        ("1-(2-3)", 2),
        ("(8-4)-2", 2),
        ("-(3-5)", 2),
        ("-(2)", -2),
        ("-(-(1))", 1),
        ("(-2)*3", -6),
        ("2*(-3)", -6),
        ("-2*3", -6),
        ("2(3+4)", 14),
        ("(1+2)(3+4)", 21),
        ("2(3)(4)", 24),
        ("1+2(3)", 7),
        ("12/2(3)", 18),  # implicit multiplication is "*": left associative with "/"
        ("(2)*3", 6),
        ("0.1+0.2", Fraction(3, 10)),
        ("1.5*4", 6),
        ("3.5*2", 7),
        ("0.25", Fraction(1, 4)),
        ("10.00", 10),
        ("007.50", Fraction(15, 2)),
        ("2(0.5+1)", 3),
        ("6:2", 3),
        ("3,5*2", 7),
        ("12 ÷ (2 × 3)", 2),
    ],
)
def test_evaluate_brackets_decimals_and_implicit_multiplication(text, value):
    result = evaluate(text)
    assert result == value
    assert isinstance(result, Fraction)
    assert is_valid(text)


def test_tokenize_colon_and_comma():
    assert tokenize("6:2") == ["6", "/", "2"]
    assert tokenize("3,5") == ["3", ".", "5"]
    assert tokenize("(1 + 2) = 3") == list("(1+2)=3")


def test_decimals_are_exact_and_keep_their_text():
    assert evaluate("0.1+0.2") == Fraction(3, 10)
    assert evaluate("0.1+0.2") != 0.1 + 0.2  # the float sum is not 3/10
    number = parse("0.50")
    assert number == Number("0.50", 0)
    assert number.value == Fraction(1, 2) and isinstance(number.value, Fraction)
    assert Number("123", 0).value == 123 and isinstance(Number("123", 0).value, Fraction)


def test_brackets_leave_no_node_and_implicit_multiplication_is_a_binop_at_the_bracket():
    assert parse("((7))") == Number("7", 2)
    assert parse("2(3)") == BinOp("*", Number("2", 0), Number("3", 2), 1)
    tree = parse("(1+2)(3+4)")
    assert isinstance(tree, BinOp) and tree.op == "*" and tree.position == 5
    assert tree.left == BinOp("+", Number("1", 1), Number("2", 3), 2)
    assert parse("-(3-5)") == Negate(BinOp("-", Number("3", 2), Number("5", 4), 3), 0)
    assert parse("(-2)*3") == BinOp("*", Negate(Number("2", 2), 1), Number("3", 5), 4)


def test_precedence_and_left_associativity_with_brackets():
    # 8-(4-2): the bracket makes the right side a subtree
    tree = parse("8-(4-2)")
    assert tree.op == "-" and tree.left == Number("8", 0) and tree.right.op == "-"
    # 8/4/2 = (8/4)/2 ; 2+3*4 = 2+(3*4) ; (2+3)*4
    assert parse("8/4/2").left.op == "/"
    assert evaluate("(2+3)*4") == 20 and evaluate("2+3*4") == 14
    assert evaluate("2*3(4)") == 24 and parse("2*3(4)").left.op == "*"


def test_deep_nesting_and_long_expressions_do_not_recurse():
    assert evaluate("(" * 3000 + "1" + ")" * 3000) == 1
    assert evaluate("+".join(["1"] * 5000)) == 5000
    assert evaluate("-" + "(" * 2000 + "2" + ")" * 2000 + "=-2") == -2


# ---------------------------------------------------------------- statements


def test_statements_and_checks():
    assert check("1+1=2") == Check(Fraction(2), Fraction(2), True)
    assert check("1+1=2").correct is True
    result = check("2*3=5")
    assert result.correct is False and result.value == 6 and result.right == 5
    assert check("12+69=") == Check(Fraction(81), None, None)
    assert check("12+69=").correct is None
    assert check("7").correct is None and check("7").value == 7
    assert check("2+2=2*2").correct is True
    assert check("1/3*3=1").correct is True
    assert check("0.1+0.2=0.3").correct is True
    assert check("-1=-(1)").correct is True
    assert check("(1+2)(3+4)=21").correct is True


def test_parse_statement_shapes():
    assert parse_statement("7") == Statement(Number("7", 0), None, False)
    assert parse_statement("12+69=") == Statement(BinOp("+", Number("12", 0), Number("69", 3), 2), None, True)
    stmt = parse_statement("1+1=2")
    assert stmt.equals and stmt.right == Number("2", 4)
    assert parse_statement("1=-2").right == Negate(Number("2", 3), 2)
    assert check(stmt).correct is True  # a parsed Statement is accepted


def test_evaluate_a_statement_gives_its_left_side():
    assert evaluate("1+1=3") == 2
    assert evaluate("12+69=") == 81
    assert evaluate(parse("2(3)")) == 6
    assert evaluate(parse_statement("2*3=5")) == 6


def test_parse_rejects_a_statement():
    for text in ("12+69=", "1+1=2"):
        with pytest.raises(MalformedExpressionError, match="parse_statement") as info:
            parse(text)
        assert info.value.tokens == list(text)
    assert parse_statement("12+69=").left == parse("12+69")


@pytest.mark.parametrize("text", ["1=1/0", "2*3=4/(2-2)", "1/0=1", "1/0="])
def test_division_by_zero_on_either_side(text):
    assert is_valid(text)
    for compute in (check, evaluate):
        with pytest.raises(EvaluationError, match="division by zero: the '/' at position") as info:
            compute(text)
        assert info.value.tokens == list(text)
        assert info.value.code == "division_by_zero"


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1+1=2", True),
        ("12+69=", True),
        ("(1+2)*3", True),
        ("-(2)", True),
        ("2(3+4)", True),
        ("3.5*2", True),
        ("1=-1", True),
        ("8/0", True),
        ("1+1==2", False),
        ("(2)3", False),
        ("2*-3", False),
        ("3.", False),
        (".5", False),
        ("", False),
        ("=", False),
        ("1?", False),
        ("-", False),
    ],
)
def test_is_valid_on_statements(text, valid):
    assert is_valid(text) is valid


# ---------------------------------------------------------------- errors of the new grammar


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        # incomplete: the beginning of a valid statement
        ("1+", IncompleteExpressionError, "expression ends with the operator '+': a number must follow it"),
        (
            "2*(3-",
            IncompleteExpressionError,
            "expression ends with the operator '-': a number must follow it",
        ),
        ("-", IncompleteExpressionError, "a lone '-' is not an expression"),
        ("(-", IncompleteExpressionError, "expression ends with the operator '-'"),
        ("(1+2", IncompleteExpressionError, "unbalanced brackets: the '(' at position 0 is never closed"),
        ("((1)+2", IncompleteExpressionError, "unbalanced brackets: the '(' at position 0 is never closed"),
        ("(1+(2", IncompleteExpressionError, "the '(' at positions 0 and 3 are never closed"),
        ("3.", IncompleteExpressionError, "expression ends with the decimal point at position 1"),
        ("1+2=3.", IncompleteExpressionError, "ends with the decimal point at position 5"),
        (
            "(",
            IncompleteExpressionError,
            "expression ends with the '(' at position 0: a number must follow it",
        ),
        ("2(", IncompleteExpressionError, "expression ends with the '(' at position 1"),
        ("1=(", IncompleteExpressionError, "expression ends with the '(' at position 2"),
        # malformed: two operators, a leading operator
        ("1++2", MalformedExpressionError, "two operators in a row: '+' then '+' at position 2"),
        ("2*-3", MalformedExpressionError, "two operators in a row: '*' then '-' at position 2"),
        ("*3", MalformedExpressionError, "expression starts with the operator '*'"),
        ("/3", MalformedExpressionError, "expression starts with the operator '/'"),
        ("+3", MalformedExpressionError, "expression starts with the operator '+'"),
        (
            "(*3)",
            MalformedExpressionError,
            "the operator '*' at position 1 follows '(': a number must come first",
        ),
        ("1=*3", MalformedExpressionError, "the operator '*' at position 2 follows '='"),
        # malformed: brackets
        (")", MalformedExpressionError, "a ')' at position 0 closes no '('"),
        ("(1+2))", MalformedExpressionError, "a ')' at position 5 closes no '('"),
        ("1+2)", MalformedExpressionError, "a ')' at position 3 closes no '('"),
        ("1=2)", MalformedExpressionError, "a ')' at position 3 closes no '('"),
        ("()", MalformedExpressionError, "empty brackets: the '(' at position 0 is closed at position 1"),
        ("2*()", MalformedExpressionError, "empty brackets: the '(' at position 2"),
        ("(1+)", MalformedExpressionError, "the operator '+' at position 2 is followed by ')' at position 3"),
        ("(2)3", MalformedExpressionError, "the number at position 3 follows the ')' at position 2"),
        ("(2).5", MalformedExpressionError, "the decimal point at position 3 follows the ')' at position 2"),
        (
            "(1=1)",
            MalformedExpressionError,
            "unbalanced brackets: the '(' at position 0 is never closed before",
        ),
        # malformed: equals
        ("=", MalformedExpressionError, "expression starts with '='"),
        ("=2", MalformedExpressionError, "expression starts with '='"),
        ("1=2=3", MalformedExpressionError, "a second '=' at position 3: a statement has only one"),
        ("1==2", MalformedExpressionError, "a second '=' at position 2"),
        ("1+=2", MalformedExpressionError, "the operator '+' at position 1 is followed by '=' at position 2"),
        ("(=", MalformedExpressionError, "the '(' at position 0 is followed by '=' at position 1"),
        # malformed: decimal points
        (
            "1.2.3",
            MalformedExpressionError,
            "a second decimal point at position 3 in the number at position 0",
        ),
        ("..", MalformedExpressionError, "the decimal point at position 0 has no digits before it"),
        (".5", MalformedExpressionError, "the decimal point at position 0 has no digits before it"),
        ("1+.5", MalformedExpressionError, "the decimal point at position 2 has no digits before it"),
        (
            "3..",
            MalformedExpressionError,
            "the decimal point at position 1 must be followed by digits, not '.'",
        ),
        (
            "3.+1",
            MalformedExpressionError,
            "the decimal point at position 1 must be followed by digits, not '+'",
        ),
        # empty
        ("", EmptyExpressionError, "empty expression: no symbols to read"),
        ("   ", EmptyExpressionError, "empty expression"),
    ],
)
def test_errors_of_each_family(text, error, message):
    tokens = [c for c in text if not c.isspace()]
    readers = (parse_statement, check, evaluate) + (() if "=" in text else (parse,))
    for read in readers:
        with pytest.raises(error, match=re.escape(message)) as info:
            read(text)
        assert type(info.value) is error
        assert info.value.tokens == tokens
        assert info.value.code == error.code
    assert is_valid(text) is False


# ---------------------------------------------------------------- random token strings


class _Incomplete(Exception):
    pass


class _Malformed(Exception):
    pass


def reference_statement(tokens: list[str]) -> tuple[Fraction | None, Fraction | None, bool]:
    """Independent recursive-descent reading of the grammar: (left, right, equals).

    A value is None where a division by zero makes it undefined. Raises _Incomplete
    where the tokens run out while something is required (an LL(1) grammar: exactly
    the prefixes of statements), _Malformed at the first token that cannot stand there.
    """
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: tuple[str, ...]) -> str:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise _Incomplete
        if tok not in expected:
            raise _Malformed
        pos += 1
        return tok

    def apply(op: str, a: Fraction | None, b: Fraction | None) -> Fraction | None:
        if a is None or b is None or (op == "/" and b == 0):
            return None
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        return a * b if op == "*" else a / b

    def number() -> Fraction:
        text = take(DIGITS)
        while peek() in DIGITS:
            text += take(DIGITS)
        if peek() == ".":
            text += take((".",)) + take(DIGITS)
            while peek() in DIGITS:
                text += take(DIGITS)
        return Fraction(text)

    def group() -> Fraction | None:
        take(("(",))
        value = expression()
        take((")",))
        return value

    def factor() -> Fraction | None:
        return group() if peek() == "(" else number()

    def term() -> Fraction | None:
        value = factor()
        while peek() in ("*", "/", "("):
            op = take(("*", "/")) if peek() != "(" else "*"
            value = apply(op, value, factor())
        return value

    def expression() -> Fraction | None:
        negative = peek() == "-"
        if negative:
            take(("-",))
        value = term()
        if negative and value is not None:
            value = -value
        while peek() in ("+", "-"):
            op = take(("+", "-"))
            value = apply(op, value, term())
        return value

    left = expression()
    right, equals = None, False
    if peek() == "=":
        take(("=",))
        equals = True
        if peek() is not None:
            right = expression()
    if peek() is not None:
        raise _Malformed
    return left, right, equals


def test_random_token_strings_against_an_independent_reference():
    rng = np.random.default_rng(20240607)
    n_valid = n_incomplete = 0
    for _ in range(4000):
        tokens = [str(t) for t in rng.choice(TOKENS, size=int(rng.integers(1, 10)))]
        valid = is_valid(tokens)
        assert isinstance(valid, bool)
        try:
            left, right, equals = reference_statement(tokens)
        except _Incomplete:
            expected_error: type[ExpressionError] | None = IncompleteExpressionError
            n_incomplete += 1
        except _Malformed:
            expected_error = MalformedExpressionError
        else:
            expected_error = None
        assert valid is (expected_error is None), tokens
        if expected_error is not None:
            with pytest.raises(expected_error) as info:
                parse_statement(tokens)
            assert type(info.value) is expected_error and info.value.tokens == tokens
            continue
        n_valid += 1
        # a valid statement has a value or is a division by zero, nothing else
        try:
            value = evaluate(tokens)
        except EvaluationError as exc:
            assert exc.tokens == tokens
            has_right = equals and tokens[-1] != "="
            assert left is None or (has_right and right is None)
            continue
        assert isinstance(value, Fraction) and value == left, tokens
        result = check(tokens)
        assert result.right == right and result.correct == (None if right is None else left == right)
        assert parse_statement(tokens).equals is equals
    assert n_valid > 50 and n_incomplete > 50  # the sample exercises both
