"""The one stroke renderer (mathocr.strokes)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mathocr.strokes import STYLES, distort, render, render_line

ONE = [np.array([[0.55, 0.0], [0.45, 1.0]])]
PLUS = [np.array([[0.0, 0.5], [1.0, 0.5]]), np.array([[0.5, 0.0], [0.5, 1.0]])]


@pytest.mark.parametrize("style", STYLES)
def test_every_style_draws_dark_ink_on_light_ground(style):
    img = render(PLUS, size=40, pen=4, style=style, rng=np.random.default_rng(0))
    assert img.dtype == np.uint8 and img.ndim == 2
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    assert border.mean() > 180
    centre = img[img.shape[0] // 2, img.shape[1] // 2]
    assert centre < border.mean() - 60


def test_canvas_scales_the_longer_side_and_keeps_aspect():
    img = render(ONE, size=60, pen=3, margin=0)
    ys, xs = np.nonzero(img < 128)
    assert 56 <= ys.max() - ys.min() <= 62
    assert xs.max() - xs.min() < 15


def test_box_style_stretches_a_thin_stroke_to_a_square():
    rng = np.random.default_rng(3)
    img = render(ONE, size=48, pen=3, style="box", rng=rng)
    ys, xs = np.nonzero(img < 128)
    width, height = xs.max() - xs.min(), ys.max() - ys.min()
    assert width > 0.7 * height


def test_pen_width_shows():
    thin = (render(ONE, size=60, pen=2) < 128).sum()
    thick = (render(ONE, size=60, pen=8) < 128).sum()
    assert thick > 3 * thin


def test_same_rng_same_image():
    a = render(PLUS, style="paper", rng=np.random.default_rng(5))
    b = render(PLUS, style="paper", rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_distort_keeps_strokes_and_points():
    out = distort(PLUS, np.random.default_rng(0), rotate=20, shear=0.5, stretch=0.5)
    assert [s.shape for s in out] == [(2, 2), (2, 2)]
    assert not np.allclose(out[0], PLUS[0])


def test_wobble_bends_strokes_smoothly_within_its_size():
    t = np.linspace(0, 2 * np.pi, 200)
    ring = [np.column_stack([np.cos(t), np.sin(t)])]  # side 2
    still = {"rotate": 0, "shear": 0, "stretch": 0}
    np.testing.assert_allclose(distort(ring, np.random.default_rng(1), **still)[0], ring[0])
    moved = [
        distort(ring, np.random.default_rng(seed), **still, wobble=0.1)[0] - ring[0] for seed in range(20)
    ]
    shift = np.array([np.linalg.norm(m, axis=1).max() for m in moved])
    assert (shift > 0.01).all() and (shift <= 0.1 * 2 * np.sqrt(2) + 1e-9).all()
    # neighbouring points move together: a bend, not noise
    steps = np.array([np.linalg.norm(np.diff(m, axis=0), axis=1).max() for m in moved])
    assert (steps < 0.1 * shift + 0.01).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"style": "crayon"}, "style must be one of"), ({"pen": 0}, "must be positive")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        render(ONE, **kwargs)


def test_no_points():
    with pytest.raises(ValueError, match="no strokes"):
        render([np.zeros((0, 2))])


def test_page_draws_the_strokes_where_they_are():
    img = render([[(20, 10), (20, 50)], [(60, 30)]], pen=6, page=(80, 64))
    assert img.shape == (64, 80)
    ys, xs = np.nonzero(img < 128)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (17, 62, 7, 52)  # pen 6: 3 around each point
    assert img[30, 20] == 0 and img[30, 60] == 0 and img[30, 40] == 255


def test_page_without_strokes_is_blank():
    assert (render([], page=(30, 20)) == 255).all()
    assert render([], style="paper", page=(30, 20)).shape == (20, 30)


@pytest.mark.parametrize("style", ["lowres", "box"])
def test_page_keeps_places_only_in_styles_that_keep_them(style):
    with pytest.raises(ValueError, match="with page"):
        render(ONE, style=style, page=(40, 40))


def test_render_line_boxes_are_the_ink_of_each_glyph():
    image, boxes = render_line([ONE, PLUS, ONE], height=60, gap=0.3, pen=6)
    labels, n = ndimage.label(image < 128)
    assert n == 3
    found = [
        (s[1].start, s[0].start, s[1].stop - s[1].start, s[0].stop - s[0].start)
        for s in ndimage.find_objects(labels)
    ]
    assert np.abs(np.array(sorted(found)) - np.array(boxes)).max() <= 1


def test_render_line_spaces_glyphs_by_the_gap_and_keeps_their_height():
    minus = [np.array([[0.0, 0.5], [1.0, 0.5]])]
    _, boxes = render_line([ONE, minus, ONE], height=50, gap=0.4, pen=4)
    (x0, y0, w0, h0), (x1, y1, w1, _), (x2, _, _, _) = boxes
    assert x1 - (x0 + w0) == x2 - (x1 + w1) == 20  # 0.4 of the height, ink to ink
    assert h0 == 54 and w1 == 54  # a unit is 50 pixels, and the pen adds 2 on each side
    assert y1 == y0 + 25  # the minus stays in the middle of the line


def test_render_line_on_paper_and_its_errors():
    image, _ = render_line([ONE, PLUS], style="paper", rng=np.random.default_rng(2))
    assert image.dtype == np.uint8 and image.min() < 150 < np.median(image)
    with pytest.raises(ValueError, match="style must be one of canvas, paper"):
        render_line([ONE], style="lowres")
    with pytest.raises(ValueError, match="no glyphs"):
        render_line([])
    with pytest.raises(ValueError, match="gap not negative"):
        render_line([ONE], gap=-1)
