"""Shared fixtures: tiny generated data, so the suite runs without the full data set.

Tests that need the real data directory are marked ``data`` and read it through
``$MATHOCR_DATA`` (CI sets it); without it they are skipped with that reason.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mathocr.strokes import distort, render
from mathocr.web.handwriting import GLYPHS

FOLDERS = {"+": "plus", "-": "minus", "*": "times", "/": "div"}


def render_symbol(token: str, rng: np.random.Generator, size: int = 28, dark_ink: bool = False) -> np.ndarray:
    """A ``size`` x ``size`` grey image of ``token``: the web page's pen strokes, jittered.

    Light ink on black like MNIST (dark on white with ``dark_ink``), drawn by
    :func:`mathocr.strokes.render` from :data:`mathocr.web.handwriting.GLYPHS` (``*`` is
    a cross, ``/`` a slash). Turned by up to 8 degrees, never sheared: a ``1`` leans
    about 6 degrees and a ``/`` about 28, and a tiny classifier must tell them apart.
    Neither stretched nor drawn with pens far apart: the few epochs the tests train for
    must leave a confident classifier (the cleanlab test counts on it).
    """
    strokes = distort(GLYPHS[token], rng, rotate=8.0, shear=0.0, stretch=0.0)
    # Digits about 15 pixels tall in the 28-pixel box, leaving room for the shift below.
    glyph = rng.uniform(10, 14)
    pen = glyph * rng.uniform(0.15, 0.22)
    # The margin keeps the pen's round caps inside.
    ink = 255 - render(strokes, size=glyph, pen=pen, margin=pen, rng=rng)
    # Centred with a shift of up to 2 pixels, as a scanned symbol is seldom centred.
    h, w = ink.shape
    top = (size - h) // 2 + int(rng.integers(-2, 3))
    left = (size - w) // 2 + int(rng.integers(-2, 3))
    arr = np.zeros((size, size), np.uint8)
    arr[max(top, 0) : top + h, max(left, 0) : left + w] = ink[
        max(-top, 0) : size - top, max(-left, 0) : size - left
    ]
    return 255 - arr if dark_ink else arr


def make_symbol_set(n_per_class: int = 20, seed: int = 0, tokens: str = "0123456789+-*/"):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for _ in range(n_per_class):
        for t in tokens:
            X.append(render_symbol(t, rng))
            y.append(t)
    return X, np.asarray(y)


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def write_data_dir(root: Path, n_per_class: int = 6, seed: int = 0) -> Path:
    """A miniature data directory laid out like the real one (mnist/, symbols/mdas, symbols/bhmsds)."""
    rng = np.random.default_rng(seed)
    mnist = root / "mnist"
    mnist.mkdir(parents=True)
    for split, n in (("train", n_per_class), ("t10k", max(2, n_per_class // 2))):
        labels = np.repeat(np.arange(10), n)
        images = np.stack([render_symbol(str(d), rng) for d in labels])
        write_idx(mnist / f"{split}-images-idx3-ubyte", images)
        write_idx(mnist / f"{split}-labels-idx1-ubyte", labels)
    mdas_names = {
        "+": "addition_plus",
        "-": "subtraction_minus",
        "*": "multiplication_cross",
        "/": "division_obelus",
    }
    for part, n in (("train", n_per_class), ("val", 2), ("test", 3)):
        for token, name in mdas_names.items():
            folder = root / "symbols" / "mdas" / part / name
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(render_symbol(token, rng)).save(folder / f"{i}.png")
    for token, name in {"+": "plus", "-": "minus", "*": "x", "/": "slash"}.items():
        folder = root / "symbols" / "bhmsds" / name
        folder.mkdir(parents=True)
        for i in range(n_per_class):
            # bhmsds is dark ink on white
            Image.fromarray(render_symbol(token, rng, dark_ink=True)).save(folder / f"{name}-{i}.png")
    return root


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def symbol_set():
    return make_symbol_set(20, seed=1)


TINY_PARAMS = {
    "clf__filters": (8, 16),
    "clf__convs_per_block": 1,
    "clf__dense": (32,),
    "clf__epochs": 8,
    "clf__dropout": 0.0,
    "clf__batch_size": 32,
    "clf__augment": False,
    "clf__learning_rate": 5e-3,
}


@pytest.fixture(scope="session")
def tiny_pipeline(symbol_set):
    """A really fitted (small, quickly trained) Keras-form pipeline."""
    from mathocr.pipeline import make_pipeline

    X, y = symbol_set
    return make_pipeline("default", **TINY_PARAMS).fit(X, y)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The full data directory; tests using it are marked ``data``."""
    env = os.environ.get("MATHOCR_DATA")
    if not env or not (Path(env) / "mnist").is_dir():
        pytest.skip("needs the full data directory: set MATHOCR_DATA (CI sets it)")
    return Path(env)


# ---------------------------------------------------------------------------- markers

# Slow tests, so `pytest -m "not slow"` is the quick set a developer runs (CI runs
# everything). Tests in files of this directory mark themselves with
# @pytest.mark.slow; these rules also catch the heavy ones by what they use:
SLOW_FIXTURES = {
    "tiny_pipeline": "fits a Keras pipeline for 8 epochs (once per session)",
    "local_run": "runs a grid search through the command line",
}
SLOW_TESTS = {
    "test_same_search_on_dask_cluster_ranks_like_local": "starts a Dask LocalCluster of two processes",
    "test_train_command_writes_a_loadable_model_and_its_card": "runs `mathocr train` end to end",
    "test_mathocr_serve_end_to_end": "starts `mathocr serve` (gunicorn, 2 workers; waitress) over HTTP",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        name = getattr(item, "originalname", item.name)
        if (
            item.get_closest_marker("browser")
            or name in SLOW_TESTS
            or SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ()))
        ):
            item.add_marker(pytest.mark.slow)
