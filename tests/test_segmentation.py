"""Page -> ordered symbol segments, on drawn pages of every kind."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from mathocr.segmentation import ARCS, binarize, ink_signal, segment

from ._expr_drawing import draw_page, shadow


def named(segment) -> tuple[str, ...]:
    """The flags that name a dot, bar or colon: without the upright strokes' bracket remarks."""
    return tuple(f for f in segment.flags if f not in ("upright", *ARCS))


def boxes_of(seg):
    return [s.box for s in seg.segments]


def assert_boxes_close(found, expected, tol=3):
    assert len(found) == len(expected), (found, expected)
    for f, e in zip(found, expected, strict=True):
        assert np.abs(np.array(f) - np.array(e)).max() <= tol, (f, e)


def test_symbols_in_reading_order_with_original_boxes():
    page, expected = draw_page("10+1-0")
    seg = segment(page)
    assert_boxes_close(boxes_of(seg), expected)
    assert seg.lines == 1 and seg.warnings == []
    assert seg.dark_ink
    assert seg.line_height == pytest.approx(80, abs=3)
    assert seg.stroke_width == pytest.approx(8, abs=3)


def test_crops_are_ink_on_black_masked_with_a_margin():
    page, _ = draw_page("1+0")
    for s in segment(page).segments:
        c = s.crop
        assert c.ndim == 2 and c.dtype == np.uint8
        border = np.concatenate([c[0], c[-1], c[:, 0], c[:, -1]])
        assert border.max() == 0  # background all round: the pipeline's polarity check holds
        assert c.max() == 255 and (c > 0).sum() > 20
        assert c.shape[0] >= s.box[3] + 6 and c.shape[1] >= s.box[2] + 6


def test_crop_mask_hides_neighbouring_ink():
    # a slash leaning over a 1: the slash's box holds part of the 1, the crop must not
    page = np.full((120, 200), 255, np.uint8)
    page[20:100, 60:66] = 0  # the "1"
    for i in range(80):
        page[99 - i, 40 + i // 2 : 46 + i // 2] = 0  # a "/" from (40,99) up to (85,20)
    seg = segment(page)
    assert len(seg.segments) in (1, 2)  # touching or not, the 1's ink is never in two crops
    total = sum(int((s.crop > 0).sum()) for s in seg.segments)
    assert total <= int((page < 128).sum()) + 5


INKS = {
    "black on white": ((0, 0, 0), (255, 255, 255)),
    "red marker": ((200, 30, 30), (250, 250, 250)),
    "blue pen on yellow": ((30, 40, 160), (250, 235, 140)),
    "grey pencil": ((130, 130, 130), (235, 230, 220)),
    "white chalk on blackboard": ((235, 235, 235), (30, 50, 40)),
    "white on black screenshot": ((255, 255, 255), (0, 0, 0)),
    "yellow on white": ((230, 200, 0), (255, 255, 255)),
}


@pytest.mark.parametrize("name", INKS)
def test_any_ink_colour_and_polarity(name):
    ink, bg = INKS[name]
    page, expected = draw_page("10+1", ink=ink, bg=bg)
    seg = segment(page)
    assert_boxes_close(boxes_of(seg), expected)
    light_ink = np.mean(ink) > np.mean(bg)
    assert seg.dark_ink is not light_ink


def test_grey_input_and_inverted_grey():
    page, expected = draw_page("1-0")
    grey = page[..., 0].copy()
    assert_boxes_close(boxes_of(segment(grey)), expected)
    assert_boxes_close(boxes_of(segment(255 - grey)), expected)


@pytest.mark.parametrize("depth", [0.4, 0.7])
def test_shadow_gradient_is_not_ink(depth):
    page, expected = draw_page("10+1-0")
    seg = segment(shadow(page, depth))
    assert_boxes_close(boxes_of(seg), expected)


def test_paper_texture_and_noise():
    page, expected = draw_page("10-1")
    rng = np.random.default_rng(1)
    from scipy import ndimage

    texture = ndimage.gaussian_filter(rng.normal(0, 1, page.shape[:2]), 3)
    noisy = page.astype(float) - 12 * texture[..., None] / texture.std() + rng.normal(0, 8, page.shape)
    seg = segment(np.clip(noisy, 0, 255).astype(np.uint8))
    assert_boxes_close(boxes_of(seg), expected, tol=4)


def test_obelus_is_one_symbol():
    page, expected = draw_page("1÷1")
    seg = segment(page)
    assert len(seg.segments) == 3
    assert seg.segments[1].parts == 3
    assert seg.segments[1].flags == ("obelus",)
    assert "obelus" not in seg.segments[0].flags + seg.segments[2].flags
    assert_boxes_close(boxes_of(seg), expected, tol=4)


def test_obelus_shape_needs_a_bar_between_two_dots():
    from mathocr.segmentation import _is_obelus

    dot_bar_dot = np.array([[10, 0, 16, 6], [0, 10, 26, 14], [10, 18, 16, 24]])
    assert _is_obelus(dot_bar_dot)
    assert not _is_obelus(dot_bar_dot[:2])  # one dot: no
    assert not _is_obelus(np.array([[10, 0, 16, 6], [0, 10, 26, 14], [10, 2, 16, 8]]))  # both above
    assert not _is_obelus(np.array([[40, 0, 46, 6], [0, 10, 26, 14], [10, 18, 16, 24]]))  # off the bar
    assert not _is_obelus(np.array([[10, 0, 16, 6], [0, 10, 12, 22], [10, 18, 16, 24]]))  # no flat bar


def test_cross_in_two_strokes_and_broken_stroke_are_merged():
    page = np.full((140, 240), 255, np.uint8)
    page[30:110, 30:38] = 0  # "1"
    # an x whose second stroke was drawn with the pen lifted at the crossing
    for i in range(40):
        page[50 + i, 90 + i : 96 + i] = 0
        if not 15 <= i <= 25:
            page[89 - i, 90 + i : 96 + i] = 0
    # a "1" broken in the middle
    page[30:65, 190:198] = 0
    page[70:110, 190:198] = 0
    seg = segment(page)
    assert [s.parts for s in seg.segments] == [1, 3, 2]


def test_a_minus_in_two_strokes_is_one_and_two_minus_signs_are_two():
    page = np.full((140, 400), 255, np.uint8)
    page[30:110, 30:38] = 0  # "1"
    page[66:74, 70:95] = page[66:74, 99:124] = 0  # one minus, the pen lifted halfway
    page[30:110, 160:168] = 0  # "1"
    page[66:74, 200:240] = page[66:74, 252:292] = 0  # two minus signs, a clear gap apart
    page[30:110, 330:338] = 0  # "1"
    seg = segment(page)
    assert [s.parts for s in seg.segments] == [1, 2, 1, 1, 1, 1]


def _open_four(x: float, gap: float = 6.0, hang: float = 30.0) -> list[np.ndarray]:
    """An open 4 in two strokes that do not touch (pen 8): an L 50 px high whose bar ends
    at ``x``, and an upright stroke ``gap`` px of paper right of it, hanging ``hang`` px
    below the L."""
    ell = np.array([[x - 40, 60], [x - 45, 110], [x, 110]])
    stroke = np.array([[x + gap + 10, 62], [x + gap + 8, 110 + hang]])
    return [ell, stroke]


def test_an_open_four_in_two_strokes_is_one_symbol():
    # "1 4": the digits of `write` are 80 px high from y=60; the 4 is drawn as many
    # UNIPEN writers draw it, its upright stroke apart from the L.
    seg = segment(write("1", marks=_open_four(260)))
    assert [s.parts for s in seg.segments] == [1, 2]
    x, _, w, h = seg.segments[1].box
    assert x < 220 and x + w > 270 and h >= 80  # from the L's top to the stroke's foot


@pytest.mark.parametrize(
    "marks",
    [
        _open_four(260, gap=30.0),  # the stroke a digit's width away: an L-ish mark and a 1
        _open_four(260, hang=5.0),  # the stroke ending level with the L: no 4's stem
    ],
    ids=["apart", "level"],
)
def test_an_l_and_a_stroke_that_are_no_open_four_stay_two_marks(marks):
    assert [s.parts for s in segment(write("1", marks=marks)).segments] == [1, 1, 1]


def test_specks_are_ignored():
    page, expected = draw_page("10+1")
    rng = np.random.default_rng(0)
    page = page.copy()
    ys, xs = rng.integers(0, page.shape[0], 60), rng.integers(0, page.shape[1], 60)
    page[ys, xs] = 0  # salt specks
    seg = segment(page)
    assert_boxes_close(boxes_of(seg), expected)


def test_slivers_thinner_than_the_pen_are_ignored():
    # Broken-off slivers of a blurred edge sit beside digits, above the size of a
    # speck: one pixel wide where the pen is eight, they are no dot or minus.
    page, expected = draw_page("10+1")
    page = page.copy()
    (x0, y0, w0, h0), (x1, _, _, _) = expected[:2]
    gap = (x0 + w0 + x1) // 2
    page[y0 + h0 // 3 : y0 + h0 // 3 + 12, gap] = 0  # a vertical hair
    page[y0 + 2 * h0 // 3 : y0 + 2 * h0 // 3 + 10, gap + 1] = 0  # and another below: ":"
    seg = segment(page)
    assert_boxes_close(boxes_of(seg), expected)


def test_multiplication_dot_and_minus_are_kept():
    page, expected = draw_page("1.1-1")
    seg = segment(page)
    assert_boxes_close(boxes_of(seg), expected)


def test_multi_digit_numbers_with_tight_spacing():
    page, expected = draw_page("1010+1", gap=6)
    assert_boxes_close(boxes_of(segment(page)), expected)


def test_slanted_baseline_is_one_line():
    page, expected = draw_page("10+10-1", slant=0.12)
    seg = segment(page)
    assert seg.lines == 1 and seg.warnings == []
    assert_boxes_close(boxes_of(seg), expected)


def test_equals_is_flagged_not_silently_merged():
    page, _ = draw_page("1+1=")
    seg = segment(page)
    assert len(seg.segments) == 4
    assert seg.segments[-1].flags == ("equals",)
    assert seg.segments[-1].parts == 2
    assert all("equals" not in s.flags for s in seg.segments[:-1])


def test_several_lines_are_read_line_by_line():
    top, _ = draw_page("10+1")
    page = np.concatenate([top, top], axis=0)
    seg = segment(page)
    assert seg.lines == 2 and seg.warnings == []  # several lines are no longer a problem
    assert len(seg.segments) == 8  # stacked digits are not merged across lines
    assert [s.line for s in seg.segments] == [0] * 4 + [1] * 4
    assert all(s.box[1] > 100 for s in seg.segments[4:])


def test_large_photo_is_reduced_with_boxes_in_original_pixels():
    page, expected = draw_page("10-1", glyph=400, stroke=40, gap=150)
    seg = segment(page, max_side=400)  # reduced by 3
    assert_boxes_close(boxes_of(seg), expected, tol=6)


def test_unusual_shapes_are_flagged():
    page = np.full((240, 900), 255, np.uint8)
    for x in (50, 100, 150, 650, 700):
        page[80:160, x : x + 8] = 0  # digits "1"
    page[116:124, 200:600] = 0  # a long rule, no symbol
    page[5:235, 800:806] = 0  # a bar far taller than the digits (a bracket?)
    flags = [named(s) for s in segment(page).segments]
    assert flags == [(), (), (), ("wide",), (), (), ("tall",)]


def test_a_coil_of_loops_is_flagged_and_digits_are_not():
    # A scribbled coil encloses four holes; a 0 one, an 8 two. A heavier pen closes the
    # coil's holes to slivers, which do not count.
    assert [named(s) for s in segment(draw_page("0+8@1", stroke=4)[0]).segments] == [
        (),
        (),
        (),
        ("loops",),
        (),
    ]
    assert [named(s) for s in segment(draw_page("0@", stroke=8)[0]).segments] == [(), ()]


def test_empty_and_flat_pages():
    for page in (
        np.full((50, 80), 255, np.uint8),
        np.zeros((50, 80, 3), np.uint8),
        np.random.default_rng(0).normal(200, 3, (50, 80)).clip(0, 255).astype(np.uint8),
    ):
        seg = segment(page)
        assert seg.segments == [] and seg.lines == 0


def test_a_page_of_specks_only_is_empty_without_warnings():
    # Marks of 1-3 pixels only: there is no large mark to measure the pen from (that
    # used to be np.median of an empty selection: "Mean of empty slice").
    page = np.full((100, 200), 255, np.uint8)
    rng = np.random.default_rng(0)
    page[rng.integers(0, 100, 8), rng.integers(0, 200, 8)] = 0
    page[50, 100:103] = 0  # one of three pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seg = segment(page)
    assert seg.segments == [] and seg.lines == 0


@pytest.mark.parametrize("which", ["sample", "blank", "specks", "photo"])
def test_normal_pages_raise_no_warnings(which):
    from pathlib import Path

    from mathocr.io import read_image

    if which == "sample":
        page = read_image(Path(__file__).parents[1] / "mathocr" / "samples" / "12+69.png")
    elif which == "blank":
        page = np.full((300, 400, 3), 250, np.uint8)
    elif which == "specks":
        page = np.full((300, 400), 240, np.uint8)
        page[np.random.default_rng(1).integers(0, 300, 20), np.random.default_rng(2).integers(0, 400, 20)] = 0
    else:
        page = shadow(draw_page("10+1-0")[0], 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seg = segment(page)
    assert len(seg.segments) == {"sample": 5, "blank": 0, "specks": 0, "photo": 6}[which]


def test_bad_input_type():
    with pytest.raises(ValueError, match="uint8"):
        segment(np.zeros((10, 10), np.float32))


def test_binarize_and_ink_signal():
    page = np.full((40, 60), 230, np.uint8)
    page[10:30, 28:32] = 20
    mask = binarize(page)
    assert mask.sum() == 80 and mask[20, 30]
    signal, dark = ink_signal(Image.fromarray(page).convert("RGB"))
    assert dark and signal[20, 30] > 200 and signal[0, 0] == 0


def test_connected_matches_scipy_on_random_graphs():
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    from mathocr.segmentation import _connected

    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 30, 120):
        for density in (0.0, 0.02, 0.1, 0.5):
            a = rng.random((n, n)) < density
            a = a | a.T
            k, lab = _connected(a)
            k_ref, lab_ref = connected_components(csr_matrix(a), directed=False)
            assert k == k_ref
            # Same partition, whatever the numbering.
            assert len(set(zip(lab.tolist(), lab_ref.tolist(), strict=True))) == k
    chain = np.eye(200, k=1, dtype=bool) | np.eye(200, k=-1, dtype=bool)
    assert _connected(chain)[0] == 1


# ---------------------------------------------------------------- shapes: . : = ( ) and lines
def _disc(cx: float, cy: float, diameter: float, pen: float) -> np.ndarray:
    """A pen path that leaves a filled dot ``diameter`` across (a spiral under a wide pen)."""
    r = max(diameter / 2 - pen / 2, 0.3)
    t = np.linspace(0, 6 * np.pi, 49)
    radius = np.minimum(r, r * (1.5 - t / (4 * np.pi)))
    return np.column_stack([cx + radius * np.cos(t), cy + radius * np.sin(t)])


def _arc(cx, cy, rx, ry, a0, a1):
    t = np.radians(np.linspace(a0, a1, 25))
    return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])


def _glyph(c: str, g: float, pen: float, dot: float, bracket: float = 1.24) -> list[np.ndarray]:
    """Pen paths of one symbol, x from 0, y from a digit's top (``g`` its height; brackets
    ``bracket`` digits tall, centred on the digits)."""
    from mathocr.web.handwriting import GLYPHS

    if c.isdigit():
        w = g * (0.45 if c == "1" else 0.62)
        return [np.array(st) * (w, g) for st in GLYPHS[c]]
    if c in "+-":
        size = 0.55 * g
        return [np.array(st) * size + (0, 0.5 * g - size / 2) for st in GLYPHS[c]]
    if c == ".":  # a decimal point, on the baseline
        return [_disc(0, g - dot / 2, dot, pen)]
    if c == "·":  # a multiplication dot, at mid-height
        return [_disc(0, g / 2, dot, pen)]
    if c == ":":
        return [_disc(0, 0.3 * g, dot, pen), _disc(0, 0.7 * g, dot, pen)]
    if c == "=":
        return [
            np.array([[0, 0.38 * g], [0.5 * g, 0.38 * g]]),
            np.array([[0, 0.62 * g], [0.5 * g, 0.62 * g]]),
        ]
    if c == "÷":
        return [
            np.array([[0, 0.5 * g], [0.55 * g, 0.5 * g]]),
            *(_disc(0.275 * g, y * g, dot, pen) for y in (0.22, 0.78)),
        ]
    if c == "/":
        return [np.array([[0.45 * g, 0], [0, g]])]
    if c == "(":  # taller than a digit, reaching above and below it
        return [_arc(0.45 * g, 0.5 * g, 0.4 * g, bracket / 2 * g, 125, 235)]
    if c == ")":
        return [_arc(-0.15 * g, 0.5 * g, 0.4 * g, bracket / 2 * g, -55, 55)]
    if c == "[":  # a bracket drawn square: hooks right at both ends
        return [np.array([[0.4 * g, -0.12 * g], [0, -0.12 * g], [0, 1.12 * g], [0.4 * g, 1.12 * g]])]
    if c == "]":  # a ")" hooked like a 7: no arc, no single upright stroke, taller than digits
        return [np.array([[0, 0.15 * g], [0.35 * g, -0.12 * g], [0.3 * g, 1.12 * g]])]
    raise ValueError(c)


def write(*lines, g=80.0, pen=8.0, gap=24.0, pitch=1.8, dot=None, slant=0.0, marks=(), bracket=1.24):
    """Pen-drawn lines of symbols (digits shaped as the web page draws them), as a page;
    ``marks`` are extra pen paths in page pixels. Lines are ``pitch`` digit heights apart;
    each symbol on a line ``slant`` pixels higher per pixel further right."""
    from mathocr.strokes import render

    dot = 1.8 * pen if dot is None else dot
    margin, strokes, width = 60.0, [], 0.0
    for k, text in enumerate(lines):
        x, top = margin, margin + k * pitch * g + abs(slant) * 800
        for c in text:
            if c == " ":
                x += 0.4 * g
                continue
            paths = _glyph(c, g, pen, dot, bracket)
            left = min(p[:, 0].min() for p in paths)
            strokes += [p - (left, 0) + (x, top - slant * (x - margin)) for p in paths]
            x += max(p[:, 0].max() for p in paths) - left + pen + gap
        width = max(width, x)
    marks = [np.asarray(m, float) for m in marks]
    width = max([width, *(m[:, 0].max() + pen for m in marks)])
    size = (int(width + margin), int(2 * margin + ((len(lines) - 1) * pitch + 1) * g + 2 * abs(slant) * 800))
    return render([*strokes, *marks], pen=pen, page=size)


def shapes(seg) -> list[list[tuple[str, ...]]]:
    """The flags of each line's segments."""
    return [[named(s) for s in seg.segments if s.line == k] for k in range(seg.lines)]


@pytest.mark.parametrize("text", ["3.5", "1.1", "0.25", "7.5", "12.75"])
def test_a_dot_on_the_baseline_between_digits_is_a_decimal_point(text):
    seg = segment(write(text))
    assert seg.lines == 1 and seg.warnings == []
    flags = [named(s) for s in seg.segments]
    assert flags == [("point",) if c == "." else () for c in text]
    point = seg.segments[text.index(".")]
    assert point.parts == 1 and max(point.box[2:]) < 0.3 * seg.line_height
    assert point.box[1] > seg.segments[0].box[1] + 0.6 * seg.line_height  # low on the line


def test_a_dot_at_mid_height_is_a_multiplication_not_a_point():
    seg = segment(write("3·5"))
    assert len(seg.segments) == 3 and [named(s) for s in seg.segments] == [(), (), ()]
    seg = segment(write("3.5·2"))
    assert [named(s) for s in seg.segments] == [(), ("point",), (), (), ()]


@pytest.mark.parametrize("where", ["end of line", "start of line"])
def test_a_low_dot_without_a_digit_on_each_side_is_no_point(where):
    # "3." or ".5": nothing tells a point from a stray mark; the old rules apply.
    seg = segment(write("3." if where == "end of line" else ".5"))
    assert all("point" not in s.flags for s in seg.segments)


def test_a_speck_is_not_a_point():
    # A speck far smaller than the pen's dot, where a decimal point would be: dropped.
    page = write("35")
    d3, d5 = segment(page).segments
    x = (d3.box[0] + d3.box[2] + d5.box[0]) // 2
    page[d3.box[1] + d3.box[3] - 4 : d3.box[1] + d3.box[3] - 1, x : x + 3] = 0
    seg = segment(page)
    assert len(seg.segments) == 2 and all(named(s) == () for s in seg.segments)
    # A sliver (a hair of a blurred edge) is no point either.
    page[d3.box[1] + d3.box[3] - 12 : d3.box[1] + d3.box[3], x] = 0
    seg = segment(page)
    assert len(seg.segments) == 2 and all(named(s) == () for s in seg.segments)


def test_pieces_of_digits_are_no_points():
    # Digits the web page's way (80 pixels high, a pen of 8), from x = 60, y = 60:
    # a 4 whose cross bar's end broke off (a stub low beside its stem, 4 pixels from
    # the bar), a 1, a 5 whose top bar is a stroke of its own, and a 1.
    from mathocr.web.handwriting import GLYPHS

    g, w = 80.0, 0.62 * 80.0
    four = [
        np.array([[0.58, 0.03], [0.12, 0.66], [0.78, 0.66]]) * (w, g) + 60,
        np.array([[0.68, 0.32], [0.66, 0.97]]) * (w, g) + 60,
        np.array([[111.0, 112.8], [113.0, 112.8]]),
    ]
    stroke = np.array(GLYPHS["5"][0])
    five = [
        np.array([[0.85, 0.02], [0.45, 0.02]]) * (w, g) + (220, 60),
        np.vstack([[0.27, 0.14], stroke[2:]]) * (w, g) + (220, 60),
    ]
    ones = [np.array([[x, 60.0], [x, 140.0]]) for x in (170.0, 320.0)]
    seg = segment(write("", marks=[*four, ones[0], *five, ones[1]]))
    assert seg.lines == 1
    assert all(named(s) == () for s in seg.segments)
    assert [s.parts for s in seg.segments][-2:] == [2, 1]  # the 5's bar is merged, as before


def test_a_point_beside_a_digit_in_pieces_is_a_point():
    # "2.53" with the 5 written as its bar and, apart, its bowl with a short stem: the
    # bowl alone falls short of the digits' height, yet it is the point's neighbour, and
    # the 3 beyond it is further from the point than a digit's height.
    from mathocr.web.handwriting import GLYPHS

    g, w, pen, dot = 80.0, 0.62 * 80.0, 8.0, 14.4
    bowl = np.array(GLYPHS["5"][0][3:])
    glyph = {c: [np.array(st) * (w, g) for st in GLYPHS[c]] for c in "23"}
    five = [
        np.array([[0.82, 0.05], [0.28, 0.05]]) * (w, g),
        np.vstack([[0.24, 0.38], bowl]) * (w, g),
    ]
    x2, xp, x5, x3 = 60.0, 60.0 + w + 16, 60.0 + w + 16 + dot + 16, 60.0 + 2 * w + 48 + dot
    marks = [
        *(np.add(st, (x2, 60)) for st in glyph["2"]),
        _disc(xp + dot / 2, 60 + g - dot / 2, dot, pen),
        *(np.add(st, (x5, 60)) for st in five),
        *(np.add(st, (x3, 60)) for st in glyph["3"]),
    ]
    seg = segment(write("", marks=marks))
    assert seg.lines == 1
    assert [named(s) for s in seg.segments] == [(), ("point",), (), ()]
    assert [s.parts for s in seg.segments] == [1, 1, 2, 1]  # the 5's bar and bowl, one symbol


def test_a_colon_is_one_segment_flagged_as_division():
    seg = segment(write("6:2"))
    assert len(seg.segments) == 3
    assert [named(s) for s in seg.segments] == [(), ("colon",), ()]
    assert seg.segments[1].parts == 2
    # A sloppy colon: the lower dot to the right of the upper, overlapping it by less
    # than half its width: still one symbol.
    g, pen, dot = 80.0, 8.0, 14.4
    six, two = segment(write("6 2")).segments
    cx = (six.box[0] + six.box[2] + two.box[0]) / 2
    colon = [_disc(cx - 4, 60 + 0.32 * g, dot, pen), _disc(cx + 4, 60 + 0.7 * g, dot, pen)]
    seg = segment(write("6 2", marks=colon))
    assert [named(s) for s in seg.segments] == [(), ("colon",), ()]
    assert seg.segments[1].parts == 2


def test_a_colon_of_oval_dots_is_a_colon():
    # Dots drawn with a short drag on a large canvas are ovals (15 by 24 pixels on the
    # page's own 600x200 canvas): their place, two small marks stacked in the line's
    # middle, says what they are. A stroke's stub, half as thick as long, is no dot.
    g, pen = 80.0, 8.0
    six, two = segment(write("6 2")).segments
    cx = (six.box[0] + six.box[2] + two.box[0]) / 2

    def dots(drag: float) -> list[np.ndarray]:
        return [np.array([(cx, y - drag / 2), (cx, y + drag / 2)]) for y in (60 + 0.3 * g, 60 + 0.7 * g)]

    # Each dot is a pen wide and a pen plus the drag long: 1 / 1.6 (as the page's), 1 / 2.
    for drag, flag in ((0.6 * pen, ("colon",)), (pen, ())):
        seg = segment(write("6 2", marks=dots(drag)))
        assert seg.segments[1].parts == 2 and [named(s) for s in seg.segments] == [(), flag, ()], drag


def test_a_solid_bar_twice_the_pen_thick_may_be_a_joined_equals():
    # Bars of a "=" drawn closer than a pen's width apart run into one solid bar,
    # anywhere on the line: 12=34 with a small "=" (the page's pen, small writing).
    g, pen = 80.0, 8.0
    _, two, three, _ = segment(write("12  34")).segments
    x0, x1 = two.box[0] + two.box[2] + 12, three.box[0] - 12
    mid = 60 + 0.5 * g

    def bars(apart: float) -> list[np.ndarray]:
        return [np.array([(x0, mid + d), (x1, mid + d)]) for d in (-apart / 2, apart / 2)]

    seg = segment(write("12  34", marks=bars(pen)))
    assert seg.segments[2].parts == 1
    assert [named(s) for s in seg.segments] == [(), (), ("joined_equals",), (), ()]
    # A minus of the same pen is one pen thick; bars apart are an "=" of two parts.
    assert all(named(s) == () for s in segment(write("12  34", marks=bars(0.0))).segments)
    apart = segment(write("12  34", marks=bars(3 * pen))).segments[2]
    assert apart.parts == 2 and named(apart) == ("equals",)


def test_colon_and_obelus_are_told_apart():
    seg = segment(write("8÷2:4"))
    assert [named(s) for s in seg.segments] == [(), ("obelus",), (), ("colon",), ()]
    assert [s.parts for s in seg.segments] == [1, 3, 1, 2, 1]


EQUALS = {
    "level": [[(0, 0.38), (0.5, 0.38)], [(0, 0.62), (0.5, 0.62)]],
    "lengths differ": [[(0, 0.38), (0.5, 0.38)], [(0.08, 0.62), (0.38, 0.62)]],
    "slanted": [[(0, 0.46), (0.5, 0.32)], [(0.02, 0.63), (0.5, 0.5)]],  # the boxes overlap
    "offset": [[(0, 0.38), (0.45, 0.38)], [(0.3, 0.6), (0.75, 0.62)]],  # by under half
    "close together": [[(0, 0.44), (0.5, 0.44)], [(0, 0.58), (0.5, 0.58)]],
}


@pytest.mark.parametrize("how", EQUALS)
def test_handwritten_equals_is_merged_and_flagged(how):
    g = 80.0
    seg = segment(write("12  12"))
    x = (seg.segments[1].box[0] + seg.segments[1].box[2] + seg.segments[2].box[0]) / 2 - 0.3 * g
    bars = [np.array(b) * g + (x, 60) for b in EQUALS[how]]
    seg = segment(write("12  12", marks=bars))
    assert len(seg.segments) == 5
    assert [named(s) for s in seg.segments] == [(), (), ("equals",), (), ()]
    assert seg.segments[2].parts == 2


def test_two_minus_signs_and_an_obelus_are_not_equals():
    seg = segment(write("5--3"))  # side by side: two minus signs
    assert [named(s) for s in seg.segments] == [(), (), (), ()]
    seg = segment(write("8÷2"))
    assert [named(s) for s in seg.segments] == [(), ("obelus",), ()]
    seg = segment(write("1=-1"))  # a = then a minus: two symbols
    assert [named(s) for s in seg.segments] == [(), ("equals",), (), ()]
    assert seg.segments[1].parts == 2 and seg.segments[2].parts == 1


def test_equals_shape():
    from mathocr.segmentation import _is_equals

    assert _is_equals(np.array([[0, 20, 40, 28], [4, 40, 36, 48]]))
    assert _is_equals(np.array([[0, 18, 40, 30], [2, 28, 42, 40]]))  # slanted: boxes overlap
    assert _is_equals(np.array([[0, 10, 36, 30], [2, 34, 38, 54]]))  # steeper: 1.8 as wide as high
    assert not _is_equals(np.array([[0, 10, 30, 30], [2, 34, 32, 54]]))  # 1.5: too steep for bars
    assert not _is_equals(np.array([[0, 20, 40, 28], [44, 22, 84, 30]]))  # - then -
    assert not _is_equals(np.array([[0, 20, 40, 28], [10, 40, 16, 46]]))  # a bar and a dot
    assert not _is_equals(np.array([[0, 20, 40, 28], [30, 40, 70, 48]]))  # barely overlapping
    assert _is_equals(np.array([[0, 20, 40, 28], [10, 40, 28, 48]]))  # the shorter 0.45 of the longer
    assert not _is_equals(np.array([[0, 20, 40, 28], [10, 40, 24, 48]]))  # 0.35: a bar and a stub


def test_hooked_and_leaning_brackets_are_loose_arcs():
    from mathocr.segmentation import _bracket_shape

    yy, xx = np.mgrid[0:60, 0:40]
    square = (np.abs(xx - 6) < 3) | ((yy < 6) & (xx < 30)) | ((yy > 53) & (xx < 30))
    assert _bracket_shape(square) == "loose_open"
    assert _bracket_shape(square[:, ::-1]) == "loose_close"
    leaning = np.abs(xx - (4 + 24 * yy / 59 - 14 * np.sin(np.pi * yy / 59))) < 3  # ( leaning right
    assert _bracket_shape(leaning) == "loose_open"
    arc = np.abs(xx - (4 + 12 * ((yy - 30) / 30) ** 2)) < 3
    assert _bracket_shape(arc) == "open"
    assert _bracket_shape(np.abs(xx - (35 - yy * 0.5)) < 3) is None  # a straight slash
    seven = (np.abs(xx - 30) < 3) | ((yy < 5) & (xx > 2))  # a bar over a stroke, wide at one end
    assert _bracket_shape(seven) in (None, "upright")


def test_brackets_stay_on_their_line():
    seg = segment(write("(1+2)"))
    assert seg.lines == 1 and seg.warnings == []
    assert len(seg.segments) == 5 and all(named(s) == () for s in seg.segments)
    assert seg.segments[0].box[3] > seg.segments[1].box[3]  # taller than the digits
    seg = segment(write("2(3+4)", "(1+2)=3", pitch=1.5))
    assert seg.lines == 2
    assert [len(line) for line in shapes(seg)] == [6, 7]
    assert shapes(seg)[1][5] == ("equals",)


def test_three_lines_in_reading_order():
    seg = segment(write("(1+2)=3", "2.5·2", "6:3=2"))
    assert seg.lines == 3 and seg.warnings == []
    assert shapes(seg) == [
        [(), (), (), (), (), ("equals",), ()],
        [(), ("point",), (), (), ()],
        [(), ("colon",), (), ("equals",), ()],
    ]
    # Line by line, each left to right.
    for k in range(3):
        xs = [s.box[0] for s in seg.segments if s.line == k]
        assert xs == sorted(xs)
    tops = [min(s.box[1] for s in seg.segments if s.line == k) for k in range(3)]
    assert tops == sorted(tops)
    assert [s.line for s in seg.segments] == sorted(s.line for s in seg.segments)


def test_two_slanted_lines_close_together():
    # The end of the first line is level with the start of the second.
    seg = segment(write("10.5+2.5=13", "7:2=3.5", pitch=1.4, slant=0.08))
    assert seg.lines == 2
    assert shapes(seg) == [
        [(), (), ("point",), (), (), (), ("point",), (), ("equals",), (), ()],
        [(), ("colon",), (), ("equals",), (), ("point",), ()],
    ]


def test_small_marks_do_not_set_the_line_height():
    # Dots and bars are most of the marks of "7:8=3" and "1÷1": the line is the digits' height.
    for text in ("7:8=3", "1÷1", "3:8"):
        seg = segment(write(text))
        assert seg.line_height == pytest.approx(81, abs=4), text
        assert all("tall" not in s.flags and "wide" not in s.flags for s in seg.segments)


def test_a_heavy_pen_dot_is_still_a_point():
    # A marker's dot is about half as high as its digits: no full-height mark for that.
    seg = segment(write("3.5", g=54, pen=11, dot=32))
    assert seg.segments[1].box[3] > 0.5 * seg.line_height
    assert [named(s) for s in seg.segments] == [(), ("point",), ()]


def test_square_and_hooked_brackets():
    # A bracket drawn square is an arc still, a looser one (its hooks are wider than a
    # single stroke): a bracket more likely than not.
    seg = segment(write("[1+2)"))
    assert [s.flags for s in seg.segments] == [("loose_open",), ("upright",), (), (), ("close",)]
    # A ")" hooked like a 7 is no arc; taller than the digits on a line with a bracket, it
    # may be the other one: the grammar decides.
    seg = segment(write("(1+2]"))
    assert [s.flags for s in seg.segments] == [("open",), ("upright",), (), (), ("upright",)]
    # On a line without a bracket it is whatever the classifier says.
    seg = segment(write("1+2]"))
    assert [s.flags for s in seg.segments] == [(), (), (), ()]


def test_brackets_are_told_by_their_arc():
    seg = segment(write("(1+2)"))
    assert [s.flags for s in seg.segments] == [("open",), ("upright",), (), (), ("close",)]
    # A slash leans: neither a bracket nor an upright 1.
    seg = segment(write("8/2"))
    assert [s.flags for s in seg.segments] == [(), (), ()]


def test_brackets_of_the_digits_height_are_told_by_their_partner():
    # Alone, an arc no taller than the digits is a curved 1 as often as a bracket.
    assert [s.flags for s in segment(write("(3+4", bracket=0.95)).segments] == [(), (), (), ()]
    # Facing one another along the line, two are a pair of brackets: (3+4)*2.
    seg = segment(write("(3+4)-2", bracket=1.05))
    assert seg.segments[0].box[3] <= seg.line_height
    arcs = [s.flags[0] if ARCS & set(s.flags) else None for s in seg.segments]
    assert arcs == ["open", None, None, None, "close", None, None]
    # So is one with a straight upright stroke on its open side, taller than the digits
    # or as tall (a straight ")"): the grammar reads that stroke as ")" or "1".
    plain = segment(write("(3+4")).segments
    end = max(s.box[0] + s.box[2] for s in plain) + 30
    _, y, _, h = plain[1].box  # the 3
    for top, bottom, taller in ((48.0, 152.0, True), (y + 4.0, y + h - 4.0, False)):
        seg = segment(write("(3+4", bracket=0.95, marks=[np.array([(end, top), (end, bottom)])]))
        assert seg.segments[-1].box[3] >= 1.05 * seg.line_height if taller else seg.segments[-1].box[3] == h
        assert seg.segments[0].flags[0] == "open" and "upright" in seg.segments[-1].flags
    # A straight stroke on the arc's other side is no partner.
    seg = segment(write("3+4(", bracket=0.95, marks=[np.array([(30.0, 60.0), (30.0, 140.0)])]))
    assert all(s.flags == () for s in seg.segments)
    # Two arcs bulging the same way, or away from one another, are no pair.
    for text in ("(3+4(", ")3+4("):
        assert all(s.flags == () for s in segment(write(text, bracket=0.95)).segments), text
    # Nor is a slash beside an arc: it leans.
    assert all(s.flags == () for s in segment(write("(3/4", bracket=0.95)).segments)


def _z_equals(x: float, g: float = 80.0, top: float = 60.0) -> np.ndarray:
    """A ``=`` in one stroke: the upper bar, back down to the left, the lower bar."""
    upper, lower = top + 0.38 * g, top + 0.62 * g
    return np.array([(x, upper), (x + 0.5 * g, upper), (x, lower), (x + 0.5 * g, lower)])


def test_a_joined_equals_ends_a_line_not_its_middle():
    end = max(s.box[0] + s.box[2] for s in segment(write("12+69")).segments) + 30
    seg = segment(write("12+69", marks=[_z_equals(end)]))
    assert len(seg.segments) == 6 and seg.segments[-1].parts == 1
    assert [s.flags for s in seg.segments][-1] == ("joined_equals",)
    # the same stroke between two numbers is a - or * of one writer as often: no flag
    seg = segment(write("12  69"))
    x = (seg.segments[1].box[0] + seg.segments[1].box[2] + seg.segments[2].box[0]) / 2 - 20
    seg = segment(write("12  69", marks=[_z_equals(x)]))
    assert len(seg.segments) == 5 and "joined_equals" not in seg.segments[2].flags
    # a plain bar at the end is a minus, an unfinished expression
    assert segment(write("12+69-")).segments[-1].flags == ()
    # two bars one over the other that barely overlap are a = too; side by side, a broken minus
    y0, y1 = 60 + 0.38 * 80, 60 + 0.62 * 80
    offset = [np.array([(end, y0), (end + 36, y0)]), np.array([(end + 32, y1), (end + 68, y1)])]
    seg = segment(write("12+69", marks=offset))
    assert len(seg.segments) == 6 and seg.segments[-1].parts == 2
    assert seg.segments[-1].flags == ("joined_equals",)
    broken = [np.array([(end, y1), (end + 24, y1)]), np.array([(end + 36, y1), (end + 60, y1)])]
    assert all(s.flags == () for s in segment(write("12+69", marks=broken)).segments)


def test_stacked_share_counts_columns_that_cross_two_strokes():
    from mathocr.segmentation import _stacked_share

    bar = np.zeros((12, 30), bool)
    bar[4:8, :] = True
    assert _stacked_share(bar, 4.0) == 0.0
    z = bar.copy()
    z[4:8, :] = False
    z[1:3, :] = True
    z[9:11, :] = True
    assert _stacked_share(z, 4.0) == 1.0
    assert _stacked_share(z, 20.0) == 0.0  # the gap is narrower than half such a pen
    assert _stacked_share(np.zeros((5, 5), bool), 2.0) == 0.0
