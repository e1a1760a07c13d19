"""Page -> ordered symbol segments, on drawn pages of every kind."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from mathocr.segmentation import binarize, ink_signal, segment

from ._expr_drawing import draw_page, shadow


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


def test_several_lines_are_reported():
    top, _ = draw_page("10+1")
    page = np.concatenate([top, top], axis=0)
    seg = segment(page)
    assert seg.lines == 2
    assert any("2 lines" in w for w in seg.warnings)
    assert len(seg.segments) == 8  # stacked digits are not merged across lines


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
    flags = [s.flags for s in segment(page).segments]
    assert flags == [(), (), (), ("wide",), (), (), ("tall",)]


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
