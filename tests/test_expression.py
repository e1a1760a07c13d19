"""Parsing, exact evaluation and grammar-aware decoding."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathocr.decoding import align_columns, decode, geometry_log_prior
from mathocr.errors import EmptyExpressionError, EvaluationError, ExpressionError
from mathocr.expression import (
    BinOp,
    Negate,
    Number,
    evaluate,
    format_decimal,
    format_fraction,
    is_valid,
    parse,
    to_text,
    tokenize,
)
from mathocr.symbols import CLASSES, DIGITS, OPERATORS

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


@given(st.lists(st.sampled_from(CLASSES), max_size=8))
@settings(max_examples=300, deadline=None)
def test_is_valid_matches_the_grammar(tokens):
    pattern = r"-?\d+([-+*/]\d+)*"
    assert is_valid(tokens) == bool(re.fullmatch(pattern, "".join(tokens)))


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", EmptyExpressionError, "empty expression"),
        ("+1", ExpressionError, "starts with the operator '\\+'"),
        ("1+", ExpressionError, "ends with the operator '\\+'"),
        ("1+*2", ExpressionError, "two operators in a row: '\\+' then '\\*' at position 2"),
        ("1--2", ExpressionError, "two operators in a row"),
        ("-", ExpressionError, "a lone '-'"),
        ("1a2", ExpressionError, "unknown symbol 'a' at position 1"),
        ("8/0", EvaluationError, "division by zero: the '/' at position 1"),
        ("1+2/(0)", ExpressionError, "unknown symbol"),
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


# ---------------------------------------------------------------- decoding


def rows(*specs: dict[str, float]) -> np.ndarray:
    """Probability rows in CLASSES order from {token: p}; the rest share what is left."""
    out = []
    for spec in specs:
        rest = (1.0 - sum(spec.values())) / (len(CLASSES) - len(spec))
        out.append([spec.get(c, rest) for c in CLASSES])
    return np.array(out)


def test_decode_keeps_argmax_when_it_is_valid():
    p = rows({"1": 0.9}, {"2": 0.8}, {"+": 0.9}, {"6": 0.9}, {"9": 0.7})
    d = decode(p)
    assert "".join(d.symbols) == "12+69"
    assert d.changed == []
    assert d.confidences == pytest.approx([0.9, 0.8, 0.9, 0.9, 0.7])


def test_decode_reads_a_one_as_division_when_the_grammar_needs_it():
    # argmax "8+1+" is invalid: the last mark must be a digit, and "1" at the end
    # competes with "/" in the middle.
    p = rows({"8": 0.9}, {"1": 0.55, "/": 0.4}, {"2": 0.9})
    assert "".join(decode(p).symbols) == "812"  # valid and most probable
    p = rows({"8": 0.9}, {"/": 0.6, "1": 0.35}, {"+": 0.5, "2": 0.45})
    d = decode(p)
    assert "".join(d.symbols) == "8/2"
    assert d.changed == [2]


def test_decode_minus_between_digits_and_leading_minus():
    p = rows({"-": 0.6, "1": 0.3}, {"5": 0.9}, {"-": 0.5, "7": 0.4}, {"3": 0.9})
    assert "".join(decode(p).symbols) == "-5-3"
    # two operators in a row cannot be: one becomes its best digit
    p = rows({"4": 0.9}, {"+": 0.9}, {"*": 0.6, "7": 0.3}, {"2": 0.9})
    assert "".join(decode(p).symbols) == "4+72"


def test_decode_x_as_multiplication_sign():
    # an "x" the classifier splits between * and a digit-like shape
    p = rows({"3": 0.9}, {"4": 0.45, "*": 0.4}, {"5": 0.9})
    assert "".join(decode(p).symbols) == "345"
    prior = geometry_log_prior([(0, 0, 30, 60), (40, 25, 12, 12), (60, 0, 30, 60)], line_height=60)
    assert "".join(decode(p, prior).symbols) == "3*5"  # a small mark is no digit


def test_decode_empty_and_single():
    assert decode(np.zeros((0, 14))).symbols == []
    assert decode(rows({"+": 0.9})).symbols[0] in DIGITS  # a lone operator is not valid


def test_align_columns_uses_classes_order():
    classes = list(reversed(CLASSES))
    p = np.eye(14)[[0, 13]]  # "/" then "0" in reversed order
    aligned = align_columns(p, classes)
    assert CLASSES[int(aligned[0].argmax())] == "/"
    assert CLASSES[int(aligned[1].argmax())] == "0"
    # a class the model does not know has probability 0
    aligned = align_columns(np.array([[1.0]]), ["7"])
    assert aligned[0, CLASSES.index("7")] == 1 and aligned.sum() == 1
    with pytest.raises(ValueError, match="do not match"):
        align_columns(np.ones((1, 3)), CLASSES)


def _brute_force(lp: np.ndarray) -> float:
    best = -np.inf
    for seq in itertools.product(range(14), repeat=lp.shape[0]):
        if is_valid([CLASSES[i] for i in seq]):
            best = max(best, float(sum(lp[i, c] for i, c in enumerate(seq))))
    return best


@given(
    st.integers(1, 3).flatmap(
        lambda n: st.lists(st.lists(st.floats(0.001, 1.0), min_size=14, max_size=14), min_size=n, max_size=n)
    )
)
@settings(max_examples=40, deadline=None)
def test_decode_is_the_most_probable_valid_sequence(raw):
    p = np.array(raw)
    p /= p.sum(axis=1, keepdims=True)
    d = decode(p)
    assert is_valid(d.symbols)
    assert d.log_prob == pytest.approx(_brute_force(np.log(p)))
