"""Synthetic expression images: ground truth, determinism, styles, tiny pools, held-out data."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mathocr.errors import DataError
from mathocr.expression import evaluate, is_valid
from mathocr.segmentation import segment
from mathocr.symbols import DIGITS
from mathocr.synth import STYLES, Style, glyph_kind, make_expression_set, random_tokens

from .conftest import render_symbol


@pytest.fixture(scope="module")
def pool() -> dict[str, list[np.ndarray]]:
    """Tiny glyphs drawn with a font, keyed like real pools (aliases included)."""
    rng = np.random.default_rng(0)
    glyphs = {t: [render_symbol(t, rng) for _ in range(3)] for t in "0123456789+-/"}
    glyphs["times"] = [render_symbol("*", rng) for _ in range(2)]
    dot = np.zeros((28, 28), np.uint8)
    dot[11:17, 11:17] = 255
    glyphs["dot"] = [dot]
    return glyphs


def test_items_carry_consistent_ground_truth(pool):
    items = make_expression_set(40, seed=3, symbols=pool)
    assert len(items) == 40
    for it in items:
        assert 3 <= len(it.tokens) <= 9 and is_valid(it.tokens)
        assert it.expression == "".join(it.tokens)
        assert it.value == evaluate(it.tokens)  # never a division by zero
        assert it.image.dtype == np.uint8 and it.image.ndim == 3 and it.image.shape[2] == 3
        assert len(it.boxes) == len(it.tokens) == len(it.kinds)
        h, w = it.image.shape[:2]
        for x, y, bw, bh in it.boxes:
            assert -2 <= x and x + bw <= w + 2 and -2 <= y and y + bh <= h + 2
    assert {it.style for it in items} == set(STYLES)  # default: cycle through all styles
    assert any("-" in it.tokens[1:] for it in items) and any("*" in it.tokens for it in items)


def test_deterministic_for_a_seed_and_independent_of_n(pool):
    a = make_expression_set(6, seed=11, symbols=pool)
    b = make_expression_set(9, seed=11, symbols=pool)
    c = make_expression_set(6, seed=12, symbols=pool)
    for x, y in zip(a, b[:6], strict=True):
        assert x.expression == y.expression and np.array_equal(x.image, y.image)
    assert [x.expression for x in a] != [x.expression for x in c]


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_renders_and_segments(pool, style):
    items = make_expression_set(4, styles=[style], seed=5, symbols=pool)
    for it in items:
        assert it.style == style
        seg = segment(it.image)
        assert seg.lines == 1
        # the font glyphs are clean: the segmenter finds one symbol per token
        assert len(seg.segments) == len(it.tokens), (style, it.expression)


def test_polarity_and_colour_styles(pool):
    chalk = make_expression_set(2, styles=["chalk", "screenshot"], seed=1, symbols=pool)
    for it in chalk:
        assert np.median(it.image) < 100  # a dark page
    clean = make_expression_set(1, styles=["clean"], seed=1, symbols=pool)[0]
    assert np.median(clean.image) > 200
    colour = make_expression_set(6, styles=["colour"], seed=1, symbols=pool)
    ink = [it.image[it.image.min(axis=2) < 120] for it in colour]
    assert any(np.ptp(px.mean(axis=0)) > 50 for px in ink if len(px))  # a coloured ink


def test_custom_style_and_errors(pool):
    mine = Style("mine", height=(30, 31), spacing=(0.5, 0.5))
    it = make_expression_set(1, styles=[mine], seed=0, symbols=pool)[0]
    assert it.style == "mine"
    with pytest.raises(ValueError, match="unknown style 'nope'"):
        make_expression_set(1, styles=["nope"], symbols=pool)
    with pytest.raises(ValueError, match="empty"):
        make_expression_set(1, styles=[], symbols=pool)
    without_plus = {k: v for k, v in pool.items() if k != "+"}
    with pytest.raises(DataError, match=r"no image of \+"):
        make_expression_set(1, symbols=without_plus)


def test_random_tokens():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        toks = random_tokens(rng)
        assert 3 <= len(toks) <= 9 and is_valid(toks)
        assert any(t in "+-*/" for t in toks[1:])
        evaluate(toks)
        numbers = re.split(r"[-+*/]", "".join(toks).lstrip("-"))
        assert all(n == "0" or not n.startswith("0") for n in numbers)
        seen.add(len(toks))
    assert seen == set(range(3, 10))
    assert len(random_tokens(rng, 5, 5)) == 5
    with pytest.raises(ValueError):
        random_tokens(rng, 2, 9)


def test_glyph_kinds():
    assert glyph_kind("dot") == glyph_kind("multiplication_dot") == "dot"
    assert glyph_kind("x") == glyph_kind("multiplication_cross") == "cross"
    assert glyph_kind("division_obelus") == "obelus"
    assert glyph_kind("slash") == "/" and glyph_kind("5") == "digit"


@pytest.mark.data
def test_heldout_pool_from_the_data_directory(data_dir):
    from mathocr.synth import heldout_symbols

    symbols = heldout_symbols(data_dir)
    assert all(d in symbols for d in DIGITS)
    assert {"division_obelus", "multiplication_dot", "x", "dot"} <= set(symbols)
    items = make_expression_set(16, seed=0, data_dir=data_dir)
    assert {it.style for it in items} == set(STYLES)
    found = sum(len(segment(it.image).segments) == len(it.tokens) for it in items)
    assert found >= 14
