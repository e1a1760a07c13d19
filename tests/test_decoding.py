"""Grammar-aware decoding: the statement automaton, shapes, priors and k-best readings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mathocr.decoding import (
    MAX_DEPTH,
    SHAPES,
    accepts,
    align_columns,
    apply_shapes,
    decode,
    geometry_log_prior,
)
from mathocr.expression import is_valid, parse_statement
from mathocr.symbols import CLASSES, DIGITS, TOKENS


def rows(*specs: dict[str, float]) -> np.ndarray:
    """Probability rows in TOKENS order from {token: p}; the other classes share what is left."""
    out = []
    for spec in specs:
        rest = (1.0 - sum(spec.values())) / (len(CLASSES) - len(spec))
        out.append([spec.get(t, rest if t in CLASSES else 0.0) for t in TOKENS])
    return np.array(out)


def test_decode_keeps_argmax_when_it_is_valid():
    p = rows({"1": 0.9}, {"2": 0.8}, {"+": 0.9}, {"6": 0.9}, {"9": 0.7})
    d = decode(p)
    assert "".join(d.symbols) == "12+69"
    assert d.changed == []
    assert d.confidences == pytest.approx([0.9, 0.8, 0.9, 0.9, 0.7])


def test_decode_reads_a_one_as_division_when_the_grammar_needs_it():
    p = rows({"8": 0.9}, {"1": 0.55, "/": 0.4}, {"2": 0.9}, {"+": 0.9}, {"3": 0.9})
    assert "".join(decode(p).symbols) == "812+3"  # valid and most probable
    p = rows({"8": 0.9}, {"/": 0.6, "1": 0.35}, {"+": 0.5, "2": 0.45})
    d = decode(p)
    assert "".join(d.symbols) == "8/2"
    assert d.changed == [2]


def test_decode_minus_between_digits_and_leading_minus():
    p = rows({"-": 0.6, "1": 0.3}, {"5": 0.9}, {"-": 0.5, "7": 0.4}, {"3": 0.9})
    assert "".join(decode(p).symbols) == "-5-3"
    p = rows({"4": 0.9}, {"+": 0.9}, {"*": 0.6, "7": 0.3}, {"2": 0.9})
    assert "".join(decode(p).symbols) == "4+72"


def test_decode_x_as_multiplication_sign():
    p = rows({"3": 0.9}, {"4": 0.45, "*": 0.4}, {"5": 0.9}, {"-": 0.9}, {"1": 0.9})
    assert "".join(decode(p).symbols) == "345-1"
    boxes = [(0, 0, 30, 60), (40, 25, 12, 12), (60, 0, 30, 60), (100, 28, 30, 4), (140, 0, 30, 60)]
    prior = geometry_log_prior(boxes, line_height=60)
    assert "".join(decode(p, prior).symbols) == "3*5-1"  # a small mark is no digit


def test_a_tall_stroke_is_a_slash_and_one_of_digit_height_a_one():
    from mathocr.decoding import ONE_SLASH_CAP, one_or_slash

    # The classifier, shown a leaning stroke between 3 and 4 (of "3?4+2"), is torn between 1 and /.
    tail, end = [{"+": 0.95}, {"2": 0.95}], [(115, 15, 30, 30), (155, 0, 30, 60)]
    p = rows({"3": 0.95}, {"1": 0.5, "/": 0.45}, {"4": 0.95}, *tail)
    tall = geometry_log_prior([(0, 0, 30, 60), (40, -10, 25, 86), (75, 0, 30, 60), *end], line_height=60)
    level = geometry_log_prior([(0, 0, 30, 60), (40, 0, 25, 58), (75, 0, 30, 60), *end], line_height=60)
    assert "".join(decode(p, tall).symbols) == "3/4+2"
    p = rows({"3": 0.95}, {"1": 0.4, "/": 0.55}, {"4": 0.95}, *tail)
    assert "".join(decode(p, level).symbols) == "314+2"
    # Never more than the cap, either way, and nothing for small marks (a ÷, a dot).
    odds = one_or_slash(np.array([0.3, 0.74, 0.8, 1.0, 2.0, 5.0]))
    assert odds[0] == odds[1] == 0.0
    assert np.all(np.abs(odds) <= ONE_SLASH_CAP) and odds[-1] == odds[-2] == ONE_SLASH_CAP
    assert np.all(np.diff(odds[2:]) >= 0)  # the taller, the likelier a slash


def test_decode_empty_and_single():
    assert decode(np.zeros((0, len(TOKENS)))).symbols == []
    # One mark or two compute nothing: no reading, but what they read as.
    for marks, read in (([{"+": 0.9}], ["+"]), ([{"7": 0.9}], ["7"]), ([{"1": 0.9}, {"2": 0.9}], ["1", "2"])):
        d = decode(rows(*marks))
        assert (d.symbols, d.readings, d.argmax, d.p_valid) == ([], [], read, 0.0)
    assert decode(rows({"+": 0.9}, {"+": 0.9}, {"2": 0.9})).symbols[0] in DIGITS  # "++2" is not valid


@pytest.mark.parametrize(
    "specs,expected",
    [
        # brackets: a "(" that reads a bit like "1" is a bracket where only a bracket fits
        (
            [{"(": 0.6, "1": 0.3}, {"1": 0.9}, {"+": 0.9}, {"2": 0.9}, {")": 0.9}, {"*": 0.9}, {"3": 0.9}],
            "(1+2)*3",
        ),
        ([{"2": 0.9}, {"(": 0.9}, {"3": 0.9}, {"+": 0.9}, {"4": 0.9}, {")": 0.6, "1": 0.35}], "2(3+4)"),
        # an unclosed bracket cannot be: the ")" reading of the last mark wins over "1"
        ([{"(": 0.9}, {"7": 0.9}, {"-": 0.9}, {"2": 0.9}, {"1": 0.5, ")": 0.45}], "(7-2)"),
        # unary minus after "("
        ([{"(": 0.9}, {"-": 0.9}, {"2": 0.9}, {")": 0.9}, {"*": 0.9}, {"3": 0.9}], "(-2)*3"),
        # "=": to compute, or an equation to check
        ([{"1": 0.9}, {"2": 0.9}, {"+": 0.9}, {"6": 0.9}, {"9": 0.9}, {"=": 0.9}], "12+69="),
        ([{"1": 0.9}, {"+": 0.9}, {"1": 0.9}, {"=": 0.8, "-": 0.15}, {"2": 0.9}], "1+1=2"),
        # a second "=" cannot be: it is the best thing that fits (a minus)
        ([{"1": 0.9}, {"=": 0.9}, {"1": 0.9}, {"=": 0.6, "-": 0.3}, {"0": 0.9}], "1=1-0"),
    ],
)
def test_decode_brackets_and_equations(specs, expected):
    d = decode(rows(*specs))
    assert "".join(d.symbols) == expected
    assert is_valid(d.symbols)


def test_a_point_found_by_its_shape_makes_a_decimal():
    # The classifier never learnt "." (a dot looks like a "·" to it); segmentation's flag does.
    p = rows({"3": 0.9}, {"*": 0.8, "1": 0.1}, {"5": 0.9}, {"+": 0.9}, {"1": 0.9})
    assert "".join(decode(p).symbols) == "3*5+1"
    shaped = apply_shapes(p, [(), ("point",), (), (), ()])
    assert "".join(decode(shaped).symbols) == "3.5+1"
    assert shaped.sum(axis=1) == pytest.approx(1.0)
    # a point needs digits on both sides: "2+3." is no number, so the dot stays a "·" or a digit
    p = rows({"2": 0.9}, {"+": 0.9}, {"3": 0.9}, {"*": 0.8, "1": 0.1})
    d = decode(apply_shapes(p, [(), (), (), ("point",)]))
    assert d.symbols and "." not in d.symbols


def test_colon_and_equals_shapes():
    p = rows({"6": 0.9}, {"*": 0.5, "+": 0.4}, {"2": 0.9})
    assert "".join(decode(apply_shapes(p, [(), ("colon",), ()])).symbols) == "6/2"
    p = rows({"1": 0.9}, {"+": 0.9}, {"5": 0.9}, {"-": 0.7, "=": 0.2}, {"6": 0.9})
    assert "".join(decode(apply_shapes(p, [(), (), (), ("equals",), ()])).symbols) == "1+5=6"


def test_a_straight_stroke_may_close_a_bracket_within_min_valid():
    from mathocr.solver import MIN_VALID

    # "(8" then a straight upright stroke the classifier reads as a 1, then "*2": only ")"
    # makes it an expression, and the shape's share must let the solver accept that reading.
    p = apply_shapes(
        rows({"1": 0.9}, {"8": 0.95}, {"1": 0.97}, {"*": 0.95}, {"2": 0.95}),
        [("open",), (), ("upright",), (), ()],
    )
    d = decode(p)
    assert "".join(d.readings[0].symbols) == "(8)*2"
    assert d.readings[0].probability >= MIN_VALID * np.prod(d.probabilities.max(axis=1))


def test_two_straight_strokes_may_be_brackets_within_min_valid():
    from mathocr.solver import MIN_VALID

    # "((8))*2" whose outer brackets are drawn straight, each read as a 1: read as ones it
    # is no expression, and the two shapes' shares must let the solver accept it.
    one = {"1": 0.97}
    p = apply_shapes(
        rows(one, {"1": 0.9}, {"8": 0.95}, {"1": 0.9}, one, {"*": 0.95}, {"2": 0.95}),
        [("upright",), ("open",), (), ("close",), ("upright",), (), ()],
    )
    d = decode(p)
    assert "".join(d.readings[0].symbols) == "((8))*2"
    assert d.readings[0].probability >= MIN_VALID * np.prod(d.probabilities.max(axis=1))


def test_an_arc_the_classifier_is_sure_is_another_digit_is_a_loose_bracket():
    # A 6 whose loop is a small curl at its foot passes for an arc; the classifier's
    # near certainty makes it a bracket only as likely as a loose arc, not near certain.
    flags = [("open",), (), ("close",), (), ()]
    p = apply_shapes(rows({"6": 0.99}, {"1": 0.9}, {"3": 0.995}, {"+": 0.99}, {"2": 0.99}), flags)
    assert p[0, TOKENS.index("(")] == pytest.approx(SHAPES["loose_open"]["("])
    assert p[2, TOKENS.index(")")] == pytest.approx(SHAPES["loose_close"][")"])
    readings = {"".join(r.symbols): r.probability for r in decode(p).readings}
    assert readings["613+2"] >= 0.9 * max(readings.values())  # a question, no longer "(1)+2" for sure
    # An arc the classifier reads as a 1 (a curved stroke) stays a near-certain bracket.
    p = apply_shapes(rows({"1": 0.99}, {"8": 0.95}, {"1": 0.99}, {"+": 0.99}, {"2": 0.99}), flags)
    assert p[0, TOKENS.index("(")] == pytest.approx(SHAPES["open"]["("])
    assert "".join(decode(p).symbols) == "(8)+2"


def test_brackets_nest_up_to_max_depth():
    assert accepts("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH + "+1")
    assert not accepts("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1) + "+1")
    assert is_valid("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))  # the parser has no limit


def test_p_valid_is_low_for_a_confident_invalid_drawing():
    d = decode(rows({"2": 0.95}, {"3": 0.95}, {"+": 0.95}))
    assert d.p_valid < 0.1
    d = decode(rows({"2": 0.95}, {"+": 0.95}, {"3": 0.95}))
    assert d.p_valid > 0.8


def test_align_columns_uses_classes_order():
    classes = list(reversed(CLASSES))
    p = np.eye(len(CLASSES))[[0, len(CLASSES) - 1]]
    aligned = align_columns(p, classes)
    assert TOKENS[int(aligned[0].argmax())] == CLASSES[-1]
    assert TOKENS[int(aligned[1].argmax())] == "0"
    # a token the model does not know (an older model: no "=" or brackets) has probability 0
    aligned = align_columns(np.array([[1.0]]), ["7"])
    assert aligned[0, TOKENS.index("7")] == 1 and aligned.sum() == 1
    with pytest.raises(ValueError, match="do not match"):
        align_columns(np.ones((1, 3)), CLASSES)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=10))
def test_the_automaton_accepts_what_the_parser_parses(tokens):
    # The decoder's grammar is the parser's, less what computes nothing (a number alone)
    # and what nests deeper than MAX_DEPTH brackets.
    deep = max(itertools.accumulate((t == "(") - (t == ")") for t in tokens), default=0) > MAX_DEPTH
    computes = is_valid(tokens) and parse_statement(tokens).computes
    assert accepts(tokens) == (computes and not deep)


def _brute_force(lp: np.ndarray) -> float:
    best = -np.inf
    for seq in itertools.product(range(len(TOKENS)), repeat=lp.shape[0]):
        if accepts([TOKENS[i] for i in seq]):
            best = max(best, float(sum(lp[i, c] for i, c in enumerate(seq))))
    return best


@given(
    st.integers(1, 3).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(0.001, 1.0), min_size=len(TOKENS), max_size=len(TOKENS)),
            min_size=n,
            max_size=n,
        )
    )
)
@settings(max_examples=30, deadline=None)
def test_decode_is_the_most_probable_valid_sequence(raw):
    p = np.array(raw)
    p /= p.sum(axis=1, keepdims=True)
    d = decode(p)
    best = _brute_force(np.log(p))
    if not d.readings:  # one or two marks: nothing computes
        assert best == -np.inf and d.symbols == []
        return
    assert is_valid(d.symbols)
    assert d.log_prob == pytest.approx(best)
    # the readings are valid, distinct and best first
    texts = [r.text for r in d.readings]
    assert len(set(texts)) == len(texts)
    probs = [r.probability for r in d.readings]
    assert probs == sorted(probs, reverse=True)
