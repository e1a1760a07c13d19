import numpy as np
import pytest
from sklearn.base import clone

from mathocr.preprocessing import (
    Binarize,
    Normalize,
    ink_is_dark,
    otsu_threshold,
    otsu_thresholds,
    to_grey,
    to_ink_on_black,
)


def bar(h=40, w=200, thick=4):
    img = np.zeros((h, w), np.uint8)
    img[h // 2 - thick // 2 : h // 2 + thick // 2, 10 : w - 10] = 255
    return img


def test_binarize_either_polarity_gives_ink_on_black():
    light_ink = bar()
    dark_ink = 255 - light_ink
    a, b = Binarize().transform([light_ink, dark_ink])
    np.testing.assert_array_equal(a, b)
    assert a.max() == 255 and a[0, 0] == 0 and set(np.unique(a)) == {0, 255}


def test_binarize_fixed_threshold_and_forced_polarity():
    img = np.full((10, 10), 200, np.uint8)
    img[4:6, 2:8] = 30
    out = Binarize(threshold=100, polarity="dark-ink").transform([img])[0]
    assert out[5, 5] == 255 and out[0, 0] == 0


def test_binarize_blank_image_has_no_ink():
    for fill in (0, 128, 255):
        out = Binarize().transform([np.full((12, 9), fill, np.uint8)])[0]
        assert out.shape == (12, 9) and out.max() == 0


def test_binarize_accepts_floats_and_3d_array():
    X = np.zeros((3, 10, 10), np.float64)
    X[:, 4:6, 2:8] = 1.0
    out = Binarize().fit_transform(X)
    assert len(out) == 3 and all(o[5, 5] == 255 for o in out)


def test_one_polarity_rule_for_crops():
    dark = 255 - bar()
    assert ink_is_dark(dark) and not ink_is_dark(bar())
    np.testing.assert_array_equal(to_ink_on_black(dark), bar())
    np.testing.assert_array_equal(to_ink_on_black(bar()), bar())
    # Ink may cover part of the border: the majority of border pixels is the background.
    touching = dark.copy()
    touching[:, :30] = 0
    assert ink_is_dark(touching)
    # Exactly half the border light is not "mostly light": left as it is.
    half = np.zeros((4, 4), np.uint8)
    half[:2] = 255
    assert not ink_is_dark(half)
    # Training images and Binarize decide with the same rule.
    from mathocr import datasets

    assert datasets.to_ink_on_black is to_ink_on_black
    for img in (dark, bar(), touching, half):
        binarised = Binarize(threshold=127).transform([img])[0]
        np.testing.assert_array_equal(binarised, (to_ink_on_black(img) > 127) * np.uint8(255))


def test_page_polarity_ignores_a_dark_border():
    # A scan with a dark frame round the sheet: the border is dark, so is the ink.
    page = np.full((300, 400), 220, np.uint8)
    page[:3], page[-3:], page[:, :3], page[:, -3:] = 20, 20, 20, 20
    page[120:180, 100:108] = 30  # a "1"
    page[146:154, 150:220] = 30  # a "-"
    assert ink_is_dark(page, scope="page")
    assert not ink_is_dark(page, scope="crop")  # the border rule is for crops only
    assert not ink_is_dark(255 - page, scope="page")
    with pytest.raises(ValueError, match="scope"):
        ink_is_dark(page, scope="sheet")
    with pytest.raises(ValueError, match="2-D"):
        ink_is_dark(np.zeros((4, 4, 3), np.uint8))


def test_to_grey_is_pillows_luma():
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_grey(rgb), np.asarray(Image.fromarray(rgb).convert("L")))
    grey = rgb[..., 0]
    assert to_grey(grey) is grey
    with pytest.raises(ValueError, match="uint8"):
        to_grey(rgb.astype(np.float32))


def test_otsu_separates_two_levels():
    img = np.array([[10] * 50 + [200] * 50], np.uint8)
    assert 10 <= otsu_threshold(img) < 200


def _otsu_by_definition(img):
    # The level maximising the between-class variance, by brute force.
    best, level = -1.0, 0
    v = img.ravel().astype(np.float64)
    for t in range(256):
        a, b = v[v <= t], v[v > t]
        if a.size and b.size:
            between = a.size * b.size * (a.mean() - b.mean()) ** 2
            if between > best + 1e-9:
                best, level = between, t
    return level


def test_batched_otsu_matches_the_definition_image_by_image():
    rng = np.random.default_rng(3)
    sizes = rng.integers(2, 30, (20, 2))
    images = [rng.integers(0, 256, (h, w)).astype(np.uint8) for h, w in sizes]
    images += [np.array([[10] * 50 + [200] * 50], np.uint8), np.full((4, 4), 9, np.uint8)]
    hists = np.stack([np.bincount(im.ravel(), minlength=256) for im in images])
    batched = otsu_thresholds(hists)
    assert [int(t) for t in batched] == [otsu_threshold(im) for im in images]
    for im, t in zip(images[:-1], batched[:-1], strict=True):  # a flat image has no threshold
        assert t == _otsu_by_definition(im)


def test_normalize_keeps_a_minus_thin_and_a_one_thin():
    out = Normalize().transform([bar(), bar().T])
    minus, one = out
    assert minus.shape == (28, 28)
    rows = (minus > 0.3).any(axis=1).sum()
    cols = (minus > 0.3).any(axis=0).sum()
    assert cols == 20 and rows <= 3
    assert (one > 0.3).any(axis=1).sum() == 20 and (one > 0.3).any(axis=0).sum() <= 3


def test_normalize_centres_by_mass():
    img = np.zeros((50, 50), np.uint8)
    img[5:15, 30:40] = 255
    out = Normalize().transform([img])[0]
    ys, xs = np.nonzero(out)
    cy, cx = np.average(ys, weights=out[ys, xs]), np.average(xs, weights=out[ys, xs])
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


def test_normalize_odd_inputs():
    blank = np.zeros((30, 30), np.uint8)
    pixel = np.zeros((30, 30), np.uint8)
    pixel[3, 7] = 255
    wide = np.full((1, 5000), 255, np.uint8)
    tall = np.full((3000, 2), 255, np.uint8)
    tiny = np.full((1, 1), 255, np.uint8)
    out = Normalize().transform([blank, pixel, wide, tall, tiny])
    assert out.shape == (5, 28, 28) and out.dtype == np.float32
    assert out[0].max() == 0
    for o in out[1:]:
        assert 0 < o.max() <= 1 and np.isfinite(o).all()
    assert (out[2] > 0).any(axis=0).sum() == 20  # a hairline stays visible and long


def test_squash_stretches_to_full_size():
    out = Normalize(method="squash").transform([bar()])[0]
    assert (out > 0.5).all()


def test_pipeline_of_both_matches_mnist_style_input():
    rng = np.random.default_rng(0)
    img = np.zeros((28, 28), np.uint8)
    img[6:22, 12:16] = 255  # a '1' already MNIST-sized
    out = Normalize().transform(Binarize().transform([img, rng.integers(0, 2, (5, 5)) * 255]))
    assert out.shape == (2, 28, 28)


@pytest.mark.parametrize(
    "est,bad",
    [
        (Binarize(polarity="sideways"), "polarity"),
        (Binarize(threshold=300), "threshold"),
        (Normalize(method="zoom"), "method"),
        (Normalize(box=40), "box"),
        (Normalize(size=2), "size"),
    ],
)
def test_bad_parameters_are_clear_errors(est, bad):
    with pytest.raises(ValueError, match=bad):
        est.fit([np.zeros((5, 5))])


@pytest.mark.parametrize(
    "X,msg",
    [
        ([np.zeros((2, 2, 3))], "2-D"),
        ([np.zeros((0, 4))], "empty"),
        (np.zeros((4, 4)), "shape"),
        ([np.full((3, 3), np.nan)], "NaN"),
        ([np.array([["a"]])], "dtype"),
        (5, "list"),
    ],
)
def test_bad_inputs_are_clear_errors(X, msg):
    with pytest.raises(ValueError, match=msg):
        Normalize().transform(X)


def test_transformers_clone_and_params():
    n = Normalize(box=16, method="squash")
    c = clone(n)
    assert c.get_params() == n.get_params() and c is not n
    b = Binarize().set_params(threshold=90)
    assert clone(b).threshold == 90
