"""Photos of paper (issue 16): the page is found and only it is read; the table, its shadow,
ruled and squared lines and punched holes are no symbols; a pencil ``÷`` keeps its dots."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mathocr.preprocessing import to_grey
from mathocr.segmentation import find_page, segment

from ._expr_drawing import draw_page, shadow
from .test_segmentation import assert_boxes_close as boxes_close
from .test_segmentation import boxes_of

PAPER = (235, 232, 225)


def assert_boxes_close(found, expected):
    """Within 4 pixels: a photo's blur and noise move an edge by a pixel more than a drawing's."""
    boxes_close(found, expected, tol=4)


def on_a_table(page: np.ndarray, expected, left: int = 150, top: int = 120, seed: int = 0):
    """``page`` lying on a dark wood-like table that shows on its left and top, to the image's edges.

    Returns the photo, the expected boxes in it and the page's rectangle (x0, y0, x1, y1).
    """
    rng = np.random.default_rng(seed)
    h, w = page.shape[:2]
    grain = ndimage.gaussian_filter(rng.normal(0, 1, (h + top + 40, w + left + 40)), (1, 12))
    table = np.array([95, 65, 40], np.float32) + 10 * (grain / grain.std())[..., None]
    photo = table.copy()
    photo[top : top + h, left : left + w] = page
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    moved = [(x + left, y + top, bw, bh) for x, y, bw, bh in expected]
    return photo, moved, (left, top, left + w, top + h)


def inside(box, rect) -> bool:
    x, y, w, h = box
    return rect[0] <= x and rect[1] <= y and x + w <= rect[2] and y + h <= rect[3]


@pytest.mark.parametrize("depth", [0.0, 0.5])
def test_the_table_beside_the_page_is_no_symbol(depth):
    page, expected = draw_page("10+1", ink=(30, 40, 150), bg=PAPER, height=300, margin=120)
    photo, expected, rect = on_a_table(page, expected)
    if depth:
        photo = shadow(photo, depth)  # across the page's edge onto the table
    seg = segment(photo)
    assert seg.dark_ink and seg.lines == 1 and seg.warnings == []
    assert all(inside(box, rect) for box in boxes_of(seg))
    assert_boxes_close(boxes_of(seg), expected)


def test_a_dark_table_along_the_top_is_not_a_line_of_text():
    page, expected = draw_page("1+0", bg=PAPER, height=260, margin=100)
    photo, expected, _ = on_a_table(page, expected, left=0, top=200)
    seg = segment(photo)
    assert seg.lines == 1 and seg.warnings == []
    assert_boxes_close(boxes_of(seg), expected)


def test_find_page_only_where_there_is_a_darker_surround():
    page, expected = draw_page("10+1", bg=PAPER, height=300, margin=120)
    assert find_page(to_grey(page)) is None  # a scan or a canvas: the whole image is the page
    photo, expected, (x0, y0, x1, y1) = on_a_table(page, expected)
    found = find_page(to_grey(photo))
    assert found is not None
    assert (
        found[(y0 + y1) // 2, (x0 + x1) // 2] and not found[: y0 - 5].any() and not found[:, : x0 - 5].any()
    )
    # The expression, ink and all, is on the page.
    for x, y, w, h in expected:
        assert found[y : y + h, x : x + w].all()


@pytest.mark.parametrize("paper", ["ruled", "squared"])
def test_ruled_and_squared_lines_are_not_symbols(paper):
    page, expected = draw_page("10+1", ink=(25, 45, 165), bg=PAPER, height=300, margin=120)
    page = page.astype(np.float32)
    lines = np.zeros(page.shape[:2], bool)
    lines[7::36] = True
    if paper == "squared":
        lines[:, 11::36] = True
    # Printed lines, light blue and one or two pixels wide, under the ink.
    ink = page.min(axis=2) < 150
    page[lines & ~ink] = (150, 175, 225)
    seg = segment(page.astype(np.uint8))
    assert seg.lines == 1
    assert_boxes_close(boxes_of(seg), expected)


def test_punched_holes_are_not_symbols():
    page, expected = draw_page("10+1", bg=PAPER, height=400, margin=220)
    photo, expected, (x0, y0, _, y1) = on_a_table(page, expected)
    yy, xx = np.ogrid[: photo.shape[0], : photo.shape[1]]
    for cy in (y0 + 60, y1 - 60):  # the table seen through two binder holes
        photo[(yy - cy) ** 2 + (xx - x0 - 60) ** 2 <= 30**2] = (80, 55, 35)
    seg = segment(photo)
    assert_boxes_close(boxes_of(seg), expected)


@pytest.mark.parametrize("gap", [0.5, 4.0])
def test_a_lone_mark_far_beside_the_sum_is_no_symbol(gap):
    # A punched hole of a sheet far from the phone, blurred into a ring as large as the
    # digits and at their height: far from the sum (line heights) it is none of its
    # symbols; next to it, a mark like any.
    page, expected = draw_page("10+1", bg=PAPER, height=300, margin=420)
    x0, y0, _, h = expected[0]
    cx, cy, r = int(x0 - gap * h - h / 2), y0 + h // 2, h // 2
    yy, xx = np.ogrid[: page.shape[0], : page.shape[1]]
    page[np.abs(np.hypot(yy - cy, xx - cx) - r + 4) <= 4] = 0
    found = boxes_of(segment(page))
    if gap > 2.5:
        assert_boxes_close(found, expected)
    else:
        assert_boxes_close(found, [(cx - r, cy - r, 2 * r, 2 * r), *expected])


def test_marks_all_far_apart_are_all_kept():
    # No two marks near each other: no sum for any of them to be a stray beside.
    page, expected = draw_page("1+1", gap=300, bg=PAPER, height=300)
    assert_boxes_close(boxes_of(segment(page)), expected)


@pytest.mark.parametrize("text", ["0+1", "1-0"])
def test_a_heavy_digit_near_the_page_edge_is_no_punched_hole(text):
    # Black ink, darker than the table, a centimetre or two from the page's edge where a
    # binder's holes would be: strokes, not a solid disc of the table.
    page, expected = draw_page(text, stroke=14, bg=PAPER, height=300, margin=50)
    photo, expected, _ = on_a_table(page, expected)
    assert_boxes_close(boxes_of(segment(photo)), expected)


@pytest.mark.parametrize("table", [False, True])
def test_a_pencil_obelus_keeps_its_dots(table):
    # Grey pencil, the dots pressed far lighter than the bar (a third of its contrast:
    # under the ink threshold), a blurred and noisy photo of it.
    page, expected = draw_page("1÷1", ink=(110, 110, 110), bg=PAPER, height=300, margin=120)
    photo, expected, _ = on_a_table(page, expected) if table else (page.copy(), expected, None)
    x, y, w, h = expected[1]
    obelus = photo[y : y + h, x : x + w].astype(np.float32)
    dots = np.zeros(obelus.shape[:2], bool)
    dots[: h // 3], dots[-h // 3 :] = True, True
    obelus[dots] = 235 - 0.33 * (235 - obelus[dots])
    photo[y : y + h, x : x + w] = np.clip(obelus, 0, 255).astype(np.uint8)
    photo = ndimage.gaussian_filter(photo.astype(np.float32), (1.2, 1.2, 0))
    photo += np.random.default_rng(3).normal(0, 5, photo.shape)
    seg = segment(np.clip(photo, 0, 255).astype(np.uint8))
    assert len(seg.segments) == 3
    assert seg.segments[1].flags == ("obelus",) and seg.segments[1].parts == 3


def test_chalk_on_a_board_still_reads():
    page, expected = draw_page("10-1", ink=(235, 235, 230), bg=(35, 55, 45), height=300, margin=120)
    seg = segment(shadow(page, 0.3))
    assert not seg.dark_ink
    assert_boxes_close(boxes_of(seg), expected)


@pytest.mark.parametrize("wall", [60])
def test_chalk_on_a_board_beside_a_lighter_wall(wall):
    # The wall, at the top and left, is the brightest region; the writing is light, on the board.
    board, expected = draw_page("10-1", ink=(235, 235, 230), bg=(35, 55, 45), height=300, margin=120)
    h, w = board.shape[:2]
    photo = np.full((h + wall, w + wall, 3), (205, 200, 190), np.uint8)
    photo[wall:, wall:] = board
    assert find_page(to_grey(photo)) is None
    seg = segment(photo)
    assert not seg.dark_ink
    assert_boxes_close(boxes_of(seg), [(x + wall, y + wall, bw, bh) for x, y, bw, bh in expected])


def test_a_small_sheet_far_from_the_phone_is_found():
    # The sheet fills 4% of the frame (a twentieth of the photo's area is common at arm's
    # length); only its inside, a little less, is flat.
    page, expected = draw_page("10+1", glyph=40, stroke=5, gap=14, bg=PAPER, height=220, margin=90)
    photo, expected, rect = on_a_table(page, expected, left=600, top=500)
    big = np.zeros((1200, 1400, 3), np.uint8)
    big[: photo.shape[0], : photo.shape[1]] = photo
    big[photo.shape[0] :] = photo[-1:, : big.shape[1]].mean(axis=(0, 1))  # more of the table
    big[:, photo.shape[1] :] = photo[:, -1:].mean(axis=(0, 1))
    share = (rect[2] - rect[0]) * (rect[3] - rect[1]) / (big.shape[0] * big.shape[1])
    assert share < 0.04
    assert find_page(to_grey(big)) is not None
    seg = segment(big)
    assert seg.dark_ink and all(inside(box, rect) for box in boxes_of(seg))
    assert_boxes_close(boxes_of(seg), expected)


def test_a_few_bright_flecks_on_the_table_are_no_chalk():
    # Small, fine writing (few dark blocks on the page) and a table with a few bright
    # flecks of grain or dust: a board written in chalk leaves far more light marks.
    page, expected = draw_page("1-1", glyph=30, stroke=2, gap=14, bg=PAPER, height=300, margin=150)
    photo, expected, rect = on_a_table(page, expected, left=300, top=300)
    for y, x in [(30, 40), (150, 60), (520, 120), (60, 500)]:
        photo[y : y + 6, x : x + 6] = 225
    assert find_page(to_grey(photo)) is not None
    seg = segment(photo)
    assert seg.dark_ink and all(inside(box, rect) for box in boxes_of(seg))
    assert_boxes_close(boxes_of(seg), expected)


def test_punched_holes_where_the_sheet_runs_past_the_photos_edge():
    # The sheet is cut by the photo's left edge, its holes a little way in: the holes are
    # near the sheet's edge though the table shows only above it. Thin grey writing, far
    # thinner than the holes are wide, must not be taken for specks beside them.
    page, expected = draw_page("10+1", ink=(120, 120, 120), stroke=3, bg=PAPER, height=500, margin=160)
    photo, expected, (_, y0, _, y1) = on_a_table(page, expected, left=0, top=80)
    yy, xx = np.ogrid[: photo.shape[0], : photo.shape[1]]
    for cy in (y0 + 90, (y0 + y1) // 2, y1 - 90):
        photo[(yy - cy) ** 2 + (xx - 45) ** 2 <= 28**2] = (80, 55, 35)
    seg = segment(photo)
    assert_boxes_close(boxes_of(seg), expected)


def test_a_fleck_far_below_the_line_is_no_symbol():
    # A small dark mark at the bottom of the photo, many line heights under the sum (the
    # rim of the sheet, a crumb): no symbol of the line nearest it.
    page, expected = draw_page("1+0", bg=PAPER, height=700, margin=120)
    page[-30:-22, 200:240] = 40
    seg = segment(page)
    assert seg.lines == 1
    assert_boxes_close(boxes_of(seg), expected)


def test_a_minus_between_squared_paper_lines_is_no_obelus():
    # Pieces of faint printed lines just above and below a pencil minus: no dots of a ÷.
    page, expected = draw_page("1-1", ink=(110, 110, 110), bg=PAPER, height=300, margin=120)
    x, y, w, h = expected[1]
    for row in (y - w // 3, y + h + w // 3):
        page[row : row + 2, x + w // 3 : x + w // 3 + w // 3] = 194
    seg = segment(page)
    assert [s.flags for s in seg.segments] == [(), (), ()]
    assert_boxes_close(boxes_of(seg), expected)


def test_what_the_opening_leaves_of_printed_lines_is_no_symbol():
    # Ruled lines, and where a stretch of them prints thicker (the near side of a sheet
    # photographed at a slant, a line blurred about a punched hole) a piece the opening
    # keeps: far thinner than the pen, however long, it is line and no symbol.
    page, expected = draw_page("10+1", ink=(120, 120, 120), stroke=14, bg=PAPER, height=500, margin=220)
    lines = np.zeros(page.shape[:2], bool)
    lines[7::36] = True
    lines[7 + 36 * 6 : 10 + 36 * 6, 60:130] = True  # three pixels wide, 70 long, level with the sum
    page[lines & (page.min(axis=2) >= 150)] = (150, 175, 225)
    seg = segment(page)
    assert seg.lines == 1
    assert_boxes_close(boxes_of(seg), expected)
