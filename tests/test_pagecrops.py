"""Training crops cut from synthetic pages: labels line up, pages that do not are skipped."""

import numpy as np
import pytest

from mathocr.datasets import SymbolSet, TrainingData
from mathocr.pagecrops import SOURCE, _lined_up, page_crops
from mathocr.segmentation import Segment, segment
from mathocr.synth import SynthItem, iter_expressions, make_expression_set, symbol_pool

from .conftest import render_symbol


@pytest.fixture(scope="module")
def pool() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(1)
    return {t: [render_symbol(t, rng) for _ in range(3)] for t in "0123456789+-*/"}


def test_crops_are_the_segments_of_their_pages_with_their_tokens(pool):
    crops = page_crops(pool, 24, seed=3, styles=["clean", "thick", "photo"])
    items = make_expression_set(24, styles=["clean", "thick", "photo"], seed=3, symbols=pool)
    expected_crops, expected_labels = [], []
    for it in items:
        segs = segment(it.image).segments
        if len(segs) == len(it.tokens):
            expected_crops += [s.crop for s in segs]
            expected_labels += it.tokens
    assert crops.source == SOURCE and crops.balanced
    # clean stroke glyphs on generous spacing: (nearly) every page lines up
    assert len(crops) >= 0.9 * sum(len(it.tokens) for it in items)
    assert crops.y.tolist() == expected_labels
    assert all(np.array_equal(a, b) for a, b in zip(crops.X, expected_crops, strict=True))
    assert all(c.dtype == np.uint8 and c.ndim == 2 for c in crops.X)


def test_same_seed_same_crops(pool):
    a, b = page_crops(pool, 6, seed=5), page_crops(pool, 6, seed=5)
    assert a.digest() == b.digest() != page_crops(pool, 6, seed=6).digest()


def test_a_page_that_does_not_line_up_is_skipped(pool):
    item = next(iter_expressions(1, styles=["clean"], seed=0, symbols=pool))
    segs = segment(item.image).segments
    assert _lined_up(segs, item)
    assert not _lined_up(segs[:-1], item)  # a symbol lost
    moved = [Segment((s.box[0] + 10_000, *s.box[1:]), s.crop) for s in segs]
    assert not _lined_up(moved, item)  # same count, elsewhere
    swapped = [segs[1], segs[0], *segs[2:]]
    assert not _lined_up(swapped, item)


def test_no_pages_no_crops_and_bad_counts(pool):
    assert len(page_crops(pool, 0)) == 0
    with pytest.raises(ValueError, match="n_pages"):
        page_crops(pool, -1)


def test_iter_expressions_matches_make_expression_set(pool):
    items = list(iter_expressions(5, seed=9, symbols=pool))
    again = make_expression_set(5, seed=9, symbols=pool)
    assert [i.expression for i in items] == [i.expression for i in again]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(items, again, strict=True))
    assert isinstance(items[0], SynthItem)


def test_symbol_pool_keys_by_folder_or_token():
    img = np.zeros((28, 28), np.uint8)
    mnist = SymbolSet([img, img], np.array(["3", "3"]), "mnist/train")
    folders = SymbolSet([img], np.array(["/"]), "mdas/train", ["mdas/train/division_obelus/a.png"])
    pool = symbol_pool([mnist, folders])
    assert {k: len(v) for k, v in pool.items()} == {"3": 2, "division_obelus": 1}


def test_balanced_sets_keep_unit_weight_in_form_balancing():
    img = np.zeros((4, 4), np.uint8)
    common = SymbolSet([img] * 4, np.array(["1"] * 4), "a")
    rare = SymbolSet([img], np.array(["+"]), "b")
    pages = SymbolSet([img] * 3, np.array(["1", "+", "-"]), SOURCE, balanced=True)
    w = TrainingData({"a": common, "pages": pages, "b": rare}, {}).sample_weights()
    # the rare form weighs 4x (capped) a common image; each page crop as much as a common one
    raw = np.array([1, 1, 1, 1, 1, 1, 1, 4], float)
    np.testing.assert_allclose(w, raw / raw.mean())
    only_pages = TrainingData({"pages": pages}, {}).sample_weights()
    np.testing.assert_allclose(only_pages, 1.0)


@pytest.mark.data
def test_real_training_pages_use_training_images_only(data_dir):
    from mathocr.datasets import content_hash, load_training_data

    data = load_training_data(data_dir)
    pool = symbol_pool(data.train.values())
    held = {content_hash(img) for s in data.heldout.values() for img in s.X}
    assert not any(content_hash(img) in held for images in pool.values() for img in images)
    # every written form of the operators is drawn, each keyed by its own folder
    assert {"division_obelus", "x", "dot", "slash", "plus", "minus"} <= set(pool)
    crops = page_crops(pool, 32, seed=0)
    drawn = sum(len(it.tokens) for it in iter_expressions(32, seed=0, symbols=pool))
    assert len(crops) >= 0.9 * drawn
