"""Synthetic images: expressions (ground truth, determinism, styles) and invalid drawings (kinds)."""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np
import pytest
from scipy import ndimage

from mathocr.errors import DataError
from mathocr.expression import check, evaluate, is_valid
from mathocr.segmentation import segment
from mathocr.symbols import ALIASES, DIGITS
from mathocr.synth import (
    _SIZE,
    EXPRESSION_FORMS,
    INVALID_KINDS,
    LETTER_STROKES,
    PEN_STYLES,
    STYLES,
    Style,
    glyph_kind,
    invalid_tokens,
    iter_expressions,
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


def test_a_photo_frames_all_of_the_writing():
    # A long sum on a sheet that fills the frame, at any angle, perspective and push off
    # the centre: none of it is cut off by the photo's edge.
    from mathocr.synth import _homography, _placement, _project

    sheet, side = (1100, 1500), 1500
    (x0, y0), (x1, y1) = ink = np.array([[150.0, 450.0], [1350.0, 650.0]])
    writing = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    corners = np.array([[0, 0], [sheet[1], 0], [sheet[1], sheet[0]], [0, sheet[0]]], float)
    for seed in range(300):
        rng = np.random.default_rng(seed)
        dst = _placement(sheet, ink, float(rng.uniform(-25, 25)), side, rng)
        seen = _project(_homography(corners, dst), writing)
        assert (seen >= 0).all() and (seen <= side).all(), seed


# ---------------------------------------------------------------------------- expression forms


def bars(stroke: int = 4) -> dict[str, list[np.ndarray]]:
    """Glyphs of numpy bars, keyed like a real pool: each digit a post with a crossbar of its own."""
    pool = {}
    for d in DIGITS:
        g = np.zeros((28, 28), np.uint8)
        g[4:24, 12 : 12 + stroke] = 255
        g[4 + 2 * int(d) : 7 + 2 * int(d), 8:20] = 255
        pool[d] = [g]
    minus = np.zeros((28, 28), np.uint8)
    minus[12 : 12 + stroke, 4:24] = 255
    plus = minus.copy()
    plus[4:24, 12 : 12 + stroke] = 255
    slash = np.zeros((28, 28), np.uint8)
    cross = np.zeros((28, 28), np.uint8)
    for i in range(20):
        slash[23 - i, 6 + i // 2 : 6 + stroke + i // 2] = 255
    for i in range(18):
        cross[5 + i, 5 + i] = cross[5 + i, 22 - i] = 255
    dot = np.zeros((28, 28), np.uint8)
    dot[11:17, 11:17] = 255
    obelus = minus.copy()
    obelus[4:8, 12:16] = obelus[20:24, 12:16] = 255
    pool.update(
        {"+": [plus], "minus": [minus], "/": [slash], "x": [cross], "dot": [dot], "division_obelus": [obelus]}
    )
    return pool


@pytest.fixture(scope="module")
def thin() -> dict[str, list[np.ndarray]]:
    return bars(stroke=2)


def _digest(image: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()[:16]


def test_plain_items_are_those_drawn_before_forms_existed():
    # Pinned from the code before EXPRESSION_FORMS (benchmark rows keep their numbers):
    # the default form draws the same rng values in the same order. The hashes also
    # depend on numpy, Pillow and SciPy giving the same pixels.
    styles = ["clean", "thick", "jpeg", "canvas", "paper", "photo", "rotated", "chalk"]
    items = make_expression_set(8, styles=styles, seed=7, symbols=bars())
    assert [(it.expression, _digest(it.image)) for it in items] == [
        ("8+0-38/14", "64455397c7f10b6c"),
        ("2+2+5-5*8", "3765e95aee239ad2"),
        ("49*6", "7f3193dfa754b823"),
        ("2+70-0/1", "9eb9ab33aa7d096d"),
        ("52-422", "95da52e5d910f21c"),
        ("55-561", "64d6259cb08ee341"),
        ("9-0-98*48", "9bc53d28695b65aa"),
        ("1-1", "8c0250cad49311bd"),
    ]
    assert items[0].kinds == ["digit", "+", "digit", "-", "digit", "digit", "obelus", "digit", "digit"]
    assert items[0].boxes[:2] == [(26, 45, 37, 62), (76, 52, 40, 40)]
    assert all(it.form == "plain" and it.lines == [it.expression] and it.correct is None for it in items)
    every_style = make_expression_set(16, seed=3, symbols=bars(), forms=("plain",))
    assert [it.expression for it in every_style] == [
        *("60+3-642", "85*913*58", "-1+14", "1+385", "8*4", "1+8", "608-5", "56-1/6"),
        *("3-9", "2/5/6", "7-3", "-6-4*4", "82*79", "0*13/18/2", "0*5-6+5", "50/65"),
    ]
    # Their slashes stand as tall as writers draw them since 2026-12-07 (synth._LOG_NORMAL): the
    # same rng values, other pixels.
    joined = hashlib.sha256(b"".join(it.image.tobytes() for it in every_style)).hexdigest()[:16]
    assert joined == "28e4dc4b7cbc3c7f"


def test_glyph_kind_of_every_alias_has_a_size():
    for name in ALIASES:
        assert glyph_kind(name) in _SIZE, name
    assert glyph_kind("asterisk") == glyph_kind("×") == "cross"
    assert glyph_kind(":") == glyph_kind("colon") == "colon" and glyph_kind("÷") == "obelus"
    assert (glyph_kind("."), glyph_kind("="), glyph_kind("("), glyph_kind(")")) == ("point", "=", "(", ")")
    with pytest.raises(KeyError):
        glyph_kind("@")


def _check_item(it) -> None:
    """Ground truth every item of every form keeps."""
    assert it.expression == "\n".join(it.lines)
    assert it.tokens == [t for line in it.lines for t in line]
    assert len(it.boxes) == len(it.tokens) == len(it.kinds)
    assert all(w > 0 and h > 0 for _, _, w, h in it.boxes)
    result = check(it.lines[0])
    assert it.value == result.value == evaluate(it.lines[0]) and it.correct == result.correct
    for line in it.lines:
        assert is_valid(line) and 3 <= len(line) <= 12, line
    assert it.image.dtype == np.uint8 and it.image.ndim == 3 and np.ptp(it.image) > 60


def _digit_height(it) -> float:
    return float(np.median([h for (_, _, _, h), k in zip(it.boxes, it.kinds, strict=True) if k == "digit"]))


def test_parentheses_are_balanced_nested_signed_and_multiply(thin):
    items = make_expression_set(60, styles=["clean"], seed=1, symbols=thin, forms=["parentheses"])
    depths, signed, implicit, heights = set(), 0, 0, []
    for it in items:
        _check_item(it)
        assert it.form == "parentheses" and "(" in it.tokens and it.correct is None
        depth = 0
        for t in it.tokens:
            depth += (t == "(") - (t == ")")
            assert depth >= 0
            depths.add(depth)
        assert depth == 0
        signed += "(-" in it.expression
        implicit += bool(re.search(r"[\d)]\(", it.expression))
        # Brackets as tall as writers draw them, centred on the digits' middle.
        dh = _digit_height(it)
        digit_boxes = [b for b, k in zip(it.boxes, it.kinds, strict=True) if k == "digit"]
        middle = np.median([y + h / 2 for _, y, _, h in digit_boxes])
        for (_, y, _, h), k, t in zip(it.boxes, it.kinds, it.tokens, strict=True):
            if t in "()":
                assert k == t and 0.75 * dh < h < 2.3 * dh, (it.expression, h, dh)
                assert abs(y + h / 2 - middle) < 0.25 * dh
                heights.append(h / dh)
    assert max(depths) == 2 and signed >= 3 and implicit >= 3
    # Most stand taller than the digits; some, as a fifth of UNIPEN writers' do, no taller.
    assert 1.15 < np.median(heights) < 1.45 and 0.05 < np.mean(np.array(heights) <= 1.05) < 0.35


def test_decimals_have_a_small_point_on_the_baseline(thin):
    items = make_expression_set(30, styles=["clean"], seed=2, symbols=thin, forms=["decimal"])
    for it in items:
        _check_item(it)
        assert re.search(r"\d\.\d", it.expression) and it.kinds.count("point") == it.tokens.count(".")
        assert all(re.fullmatch(r"\d+(\.\d+)?", n) for n in re.split(r"[-+*/]", it.expression.lstrip("-")))
        dh = _digit_height(it)
        for i, (t, k) in enumerate(zip(it.tokens, it.kinds, strict=True)):
            if t != ".":
                continue
            assert k == "point"
            _, y, w, h = it.boxes[i]
            assert max(w, h) < 0.4 * dh and h < 0.4 * dh  # a dot
            before, after = it.boxes[i - 1], it.boxes[i + 1]  # digits on both sides
            bottom = (before[1] + before[3] + after[1] + after[3]) / 2
            assert abs(y + h - bottom) < 0.2 * dh, (it.expression, y + h, bottom)


def test_colon_is_two_stacked_dots_for_a_division(thin):
    pool = {k: v for k, v in thin.items() if k != "/"}  # the colon form writes no slash
    items = make_expression_set(12, styles=["clean"], seed=3, symbols=pool, forms=["colon"])
    for it in items:
        _check_item(it)
        assert "/" in it.tokens and ":" not in it.expression
        assert [k for t, k in zip(it.tokens, it.kinds, strict=True) if t == "/"] == [
            "colon"
        ] * it.tokens.count("/")
        dh = _digit_height(it)
        ink = it.image.min(axis=2) < 128
        for (x, y, w, h), k in zip(it.boxes, it.kinds, strict=True):
            if k != "colon":
                continue
            labels, n = ndimage.label(ink[y : y + h, x : x + w])
            assert n == 2
            (y0, x0), (y1, x1) = ndimage.center_of_mass(labels > 0, labels, [1, 2])
            assert abs(y1 - y0) > 2 * abs(x1 - x0) and 0.2 * dh < abs(y1 - y0) < 0.8 * dh  # stacked
            assert w < 0.4 * dh


def test_compute_ends_with_a_flat_equals_at_mid_height(thin):
    items = make_expression_set(12, styles=["clean", "paper"], seed=4, symbols=thin, forms=["compute"])
    for it in items:
        _check_item(it)
        assert it.tokens[-1] == "=" and it.tokens.count("=") == 1 and it.kinds[-1] == "="
        assert it.value == evaluate(it.tokens[:-1]) and it.correct is None
        dh = _digit_height(it)
        _, y, w, h = it.boxes[-1]
        assert w > h and 0.4 * dh < w < 0.9 * dh
        assert abs(y + h / 2 - (it.boxes[0][1] + it.boxes[0][3] / 2)) < 0.6 * dh


def test_checks_are_right_for_half_the_items(thin):
    items = make_expression_set(32, styles=["clean", "canvas"], seed=5, symbols=thin, forms=["check"])
    for it in items:
        _check_item(it)
        right = it.expression.split("=")[1]
        assert re.fullmatch(r"-?\d+(\.\d+)?", right)
        assert it.correct == (evaluate(right) == it.value)
    assert [it.correct for it in items].count(True) == 16
    # Right and wrong in each style.
    assert {(it.style, it.correct) for it in items} == {
        (s, c) for s in ("clean", "canvas") for c in (True, False)
    }
    again = make_expression_set(32, styles=["clean", "canvas"], seed=5, symbols=thin, forms=["check"])
    assert [it.expression for it in again] == [it.expression for it in items]


def test_two_lines_one_below_the_other(thin):
    items = make_expression_set(10, styles=["clean", "canvas"], seed=6, symbols=thin, forms=["two_lines"])
    for it in items:
        _check_item(it)
        assert it.expression.count("\n") == 1 and len(it.lines) == 2
        assert it.value == evaluate(it.lines[0])
        n = len(it.lines[0])
        first, second = it.boxes[:n], it.boxes[n:]
        assert min(y for _, y, _, _ in second) > max(y + h for _, y, _, h in first)
        assert abs(first[0][0] - second[0][0]) < 1.0 * _digit_height(it)  # left aligned, give or take


def test_forms_and_styles_combine(thin):
    items = list(iter_expressions(4, styles=["clean", "paper"], symbols=thin, forms=["compute", "check"]))
    assert [(it.style, it.form) for it in items] == [
        ("clean", "compute"),
        ("paper", "compute"),
        ("clean", "check"),
        ("paper", "check"),
    ]
    with pytest.raises(ValueError, match="unknown expression form 'nope'"):
        make_expression_set(1, symbols=thin, forms=["nope"])
    with pytest.raises(ValueError, match="forms is empty"):
        make_expression_set(1, symbols=thin, forms=[])
    # Items depend on (seed, i) and the forms, not on n.
    a = make_expression_set(5, seed=9, symbols=thin, forms=list(EXPRESSION_FORMS))
    b = make_expression_set(7, seed=9, symbols=thin, forms=list(EXPRESSION_FORMS))
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=False))


@pytest.mark.parametrize("form", list(EXPRESSION_FORMS))
def test_every_form_in_every_style(thin, form):
    styles = [*STYLES, *PEN_STYLES]
    items = make_expression_set(len(styles), styles=styles, seed=8, symbols=thin, forms=[form])
    assert [it.style for it in items] == styles
    for it in items:
        _check_item(it)
        h, w = it.image.shape[:2]
        assert all(-2 <= x and x + bw <= w + 2 and -2 <= y and y + bh <= h + 2 for x, y, bw, bh in it.boxes)


def test_a_photographed_sheet_of_two_lines(thin):
    it = make_expression_set(1, styles=["sheet"], seed=1, symbols=thin, forms=["two_lines"])[0]
    _check_item(it)
    assert it.data is not None and it.page is not None


def test_brackets_and_equals_from_the_pool_when_it_has_them(thin):
    # The training sources have no = ( ): drawn with the pen, narrow arcs and two bars.
    drawn = make_expression_set(12, styles=["clean"], seed=7, symbols=thin, forms=["parentheses", "compute"])
    block = np.zeros((28, 28), np.uint8)
    block[4:24, 4:24] = 255
    pooled = make_expression_set(
        12,
        styles=["clean"],
        seed=7,
        symbols={**thin, "(": [block], ")": [block], "=": [block]},
        forms=["parentheses", "compute"],
    )
    for items, square in ((drawn, False), (pooled, True)):
        shapes = [(w / h, k) for it in items for (_, _, w, h), k in zip(it.boxes, it.kinds, strict=True)]
        assert {k for _, k in shapes} >= {"(", ")", "="}
        for ratio, k in shapes:
            if k in "()":
                assert (ratio > 0.8) == square, (k, ratio)
    ink = [it.image.min(axis=2) < 128 for it in drawn]
    equals = [
        ndimage.label(i[y : y + h, x : x + w])[1]
        for it, i in zip(drawn, ink, strict=True)
        for (x, y, w, h), k in zip(it.boxes, it.kinds, strict=True)
        if k == "="
    ]
    assert equals and all(n == 2 for n in equals)  # two bars


def test_points_and_colons_are_never_taken_from_the_pool(thin):
    blob = np.full((28, 28), 255, np.uint8)
    pool = {**thin, ".": [blob], ":": [blob]}
    plain = make_expression_set(4, seed=2, symbols=pool)
    assert [it.expression for it in plain] == [
        it.expression for it in make_expression_set(4, seed=2, symbols=thin)
    ]
    assert "colon" not in {k for it in plain for k in it.kinds}
    items = make_expression_set(4, styles=["clean"], seed=2, symbols=pool, forms=["decimal", "colon"])
    for it in items:
        dh = _digit_height(it)
        assert all(
            w < 0.4 * dh
            for (_, _, w, _), k in zip(it.boxes, it.kinds, strict=True)
            if k in ("point", "colon")
        )


@pytest.mark.data
def test_unseen_writers_write_every_form(data_dir):
    from mathocr.synth import unseen_writer_symbols

    symbols = unseen_writer_symbols(data_dir)
    assert {"=", "(", ")"} <= set(symbols)
    forms = list(EXPRESSION_FORMS)
    items = make_expression_set(
        2 * len(forms), styles=["canvas", "paper"], seed=0, symbols=symbols, forms=forms
    )
    assert [it.form for it in items] == [f for f in forms for _ in range(2)]
    for it in items:
        _check_item(it)
        assert segment(it.image).lines == len(it.lines), it.expression
