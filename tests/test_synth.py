"""Synthetic images: expressions (ground truth, determinism, styles) and invalid drawings (kinds)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from mathocr.errors import DataError
from mathocr.expression import evaluate, is_valid
from mathocr.segmentation import segment
from mathocr.symbols import DIGITS
from mathocr.synth import (
    INVALID_KINDS,
    LETTER_STROKES,
    PEN_STYLES,
    STYLES,
    Style,
    glyph_kind,
    invalid_tokens,
    make_expression_set,
    make_invalid_set,
    random_tokens,
    scribble_strokes,
)

from .conftest import render_symbol


@pytest.fixture(scope="module")
def pool() -> dict[str, list[np.ndarray]]:
    """Tiny glyphs drawn from pen strokes, keyed like real pools (aliases included)."""
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
        # the stroke glyphs are clean: the segmenter finds one symbol per token
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


def test_pen_styles_draw_expressions_apart_from_the_default_cycle(pool):
    assert set(PEN_STYLES) == {"canvas", "paper"} and not set(PEN_STYLES) & set(STYLES)
    items = make_expression_set(4, styles=["canvas", "paper"], seed=2, symbols=pool)
    assert [it.style for it in items] == ["canvas", "paper"] * 2
    canvas, paper = items[0].image, items[1].image
    assert np.median(canvas) > 240  # a white page
    assert np.median(paper) < np.median(canvas)  # off-white paper


# ---------------------------------------------------------------------------- invalid drawings


def test_invalid_set_draws_every_kind_in_every_style(pool):
    styles = ["clean", "photo", "paper"]
    items = make_invalid_set(pool, 4 * len(INVALID_KINDS), seed=2, styles=styles)
    kinds = [it.kind for it in items]
    assert kinds == list(INVALID_KINDS) * 4
    assert [it.style for it in items[:12]] == ["clean"] * 6 + ["photo"] * 6
    for it in items:
        assert it.image.dtype == np.uint8 and it.image.ndim == 3 and it.image.shape[2] == 3
        assert np.ptp(it.image) > 60, (it.kind, it.style)  # ink on the page, not a blank one
        assert len(it.boxes) == len(it.text) and all(w > 0 and h > 0 for _, _, w, h in it.boxes)
        if it.kind == "scribble":
            assert it.text == "~"
        elif it.kind == "letters":
            assert 1 <= len(it.text) <= 4 and set(it.text) <= set(LETTER_STROKES)
        else:
            assert not is_valid(list(it.text)), it.text


def test_invalid_set_is_deterministic_per_seed(pool):
    a = make_invalid_set(pool, 8, seed=4)
    b = make_invalid_set(pool, 12, seed=4)
    c = make_invalid_set(pool, 8, seed=5)
    for x, y in zip(a, b[:8], strict=True):
        assert (x.kind, x.text, x.style) == (y.kind, y.text, y.style) and np.array_equal(x.image, y.image)
    assert [x.text for x in a] != [x.text for x in c]
    # Not the expression set of the same seed with an operator added.
    valid = make_expression_set(6, seed=4, symbols=pool)
    assert not any(x.text.startswith(v.expression) for x, v in zip(a, valid, strict=False))


def test_invalid_set_kinds_and_errors(pool):
    letters = make_invalid_set(pool, 3, seed=0, kinds=["letters"])
    assert {it.kind for it in letters} == {"letters"}
    with pytest.raises(ValueError, match="kinds must be some of"):
        make_invalid_set(pool, 1, kinds=["sums"])
    with pytest.raises(ValueError, match="kinds must be some of"):
        make_invalid_set(pool, 1, kinds=[])
    with pytest.raises(ValueError, match="unknown style"):
        make_invalid_set(pool, 1, styles=["nope"])


@pytest.mark.parametrize("kind", INVALID_KINDS[:4])
def test_invalid_tokens_misuse_an_operator(kind):
    rng = np.random.default_rng(0)
    for _ in range(200):
        toks = invalid_tokens(kind, rng)
        assert not is_valid(toks) and set(toks) <= set("0123456789+-*/")
        if kind == "lone_operator":
            assert len(toks) == 1 and toks[0] in "+-*/"
        elif kind == "leading_operator":
            assert toks[0] in "+*/" and toks[1].isdigit()
        elif kind == "trailing_operator":
            assert toks[-1] in "+-*/" and toks[0].isdigit()
        else:
            assert any(a in "+-*/" and b in "+-*/" for a, b in itertools.pairwise(toks))
    with pytest.raises(ValueError, match="not an operator misuse"):
        invalid_tokens("letters", rng)


def test_scribbles_and_letters_are_strokes():
    rng = np.random.default_rng(1)
    for _ in range(30):
        marks = scribble_strokes(rng)
        assert 1 <= len(marks) <= 2 and all(m.ndim == 2 and m.shape[1] == 2 and len(m) >= 4 for m in marks)
        assert all(np.isfinite(m).all() for m in marks)
    for name, strokes in LETTER_STROKES.items():
        points = np.concatenate(strokes)
        assert points.min() >= -0.01 and points.max() <= 1.01, name  # the unit box


@pytest.mark.data
def test_unseen_writer_pool_draws_expressions_and_invalid_drawings(data_dir):
    from mathocr.synth import unseen_writer_symbols

    symbols = unseen_writer_symbols(data_dir)
    assert set(DIGITS) | set("+-*/") <= set(symbols)
    items = make_expression_set(4, styles=["canvas", "paper"], seed=0, symbols=symbols)
    assert all(segment(it.image).lines == 1 for it in items)
    invalid = make_invalid_set(symbols, len(INVALID_KINDS), seed=0, styles=["paper"])
    assert [it.kind for it in invalid] == list(INVALID_KINDS)


def test_the_sheet_style_is_a_phone_photo_of_paper_on_a_table(pool):
    import io

    from matplotlib.path import Path as Outline
    from PIL import Image

    from mathocr.io import read_image
    from mathocr.preprocessing import to_grey
    from mathocr.synth import PHOTO_SIDE, PHOTO_STYLES

    assert not set(PHOTO_STYLES) & set(STYLES)  # the default cycle and training pages stay as they were
    items = make_expression_set(2, styles=list(PHOTO_STYLES), seed=4, symbols=pool)
    orientations = set()
    for it in items:
        assert it.style == "sheet" and it.image.shape == (PHOTO_SIDE, PHOTO_SIDE, 3)
        orientations.add(Image.open(io.BytesIO(it.data)).getexif().get(0x0112))
        assert np.array_equal(read_image(it.data), it.image)  # the EXIF orientation turns it upright
        sheet = Outline(it.page)
        for x, y, w, h in it.boxes:
            assert sheet.contains_points([(x, y), (x + w, y), (x, y + h), (x + w, y + h)]).all()
        grey = to_grey(it.image[::10, ::10])
        yy, xx = np.mgrid[: grey.shape[0], : grey.shape[1]] * 10
        on = sheet.contains_points(np.column_stack([xx.ravel(), yy.ravel()])).reshape(grey.shape)
        assert 0.05 < on.mean() < 0.95 and np.median(grey[~on]) < np.median(grey[on]) - 60  # a darker table
        # Read as the reader reads it: one symbol per token, none from the table.
        seg = segment(it.image)
        assert len(seg.segments) == len(it.tokens), it.expression
        assert all(
            sheet.contains_point((x + w / 2, y + h / 2)) for x, y, w, h in (s.box for s in seg.segments)
        )
    assert orientations <= {1, 3, 6, 8} and orientations != {1}
    again = make_expression_set(1, styles=["sheet"], seed=4, symbols=pool)[0]
    assert again.data == items[0].data and again.expression == items[0].expression
