"""The one stroke renderer (mathocr.strokes)."""

from __future__ import annotations

import numpy as np
import pytest

from mathocr.strokes import STYLES, distort, render

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
