import gzip

import numpy as np
import pytest
from PIL import Image

from mathocr import datasets
from mathocr.datasets import (
    content_hash,
    data_home,
    deduplicate,
    load_mnist,
    load_symbol_folder,
    load_training_data,
    read_idx,
)
from mathocr.errors import DataError
from mathocr.symbols import CLASSES

from .conftest import write_data_dir, write_idx


def test_data_home_order(monkeypatch, tmp_path):
    monkeypatch.setenv("MATHOCR_DATA", str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("MATHOCR_DATA")
    assert "mathocr" in str(data_home())


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, compress):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a-idx3-ubyte", arr, compress=compress)
    name = "a-idx3-ubyte.gz" if compress else "a-idx3-ubyte"
    np.testing.assert_array_equal(read_idx(tmp_path / name), arr)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    arr = np.zeros((4, 5, 5), np.uint8)
    write_idx(tmp_path / "x", arr, compress=False)
    raw = (tmp_path / "x").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n....")
    with pytest.raises(DataError, match="not an IDX"):
        read_idx(tmp_path / "png")
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "bad.gz")
    with gzip.open(tmp_path / "cut.gz", "wb") as fh:
        fh.write(raw)
    (tmp_path / "cut2.gz").write_bytes((tmp_path / "cut.gz").read_bytes()[:-10])
    with pytest.raises(DataError):
        read_idx(tmp_path / "cut2.gz")


def test_load_mnist_from_data_dir(tiny_data_dir):
    X, y = load_mnist("train", tiny_data_dir, download=False)
    assert X.dtype == np.uint8 and X.shape[1:] == (28, 28) and len(X) == len(y) == 60
    assert set(y) == set("0123456789")
    Xt, _ = load_mnist("test", tiny_data_dir, download=False)
    assert len(Xt) == 30


def test_load_mnist_missing_names_directory_and_files(tmp_path):
    with pytest.raises(DataError) as err:
        load_mnist("test", tmp_path, download=False)
    msg = str(err.value)
    assert str(tmp_path / "mnist") in msg and "t10k-images-idx3-ubyte" in msg and "MATHOCR_DATA" in msg


def test_load_mnist_download_failure_is_clear(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="download failed"):
        load_mnist("train", tmp_path, download=True)
    assert not list((tmp_path / "mnist").glob("*.part"))


def test_load_mnist_mismatched_files(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28)))
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte", np.zeros(4))
    with pytest.raises(DataError, match="disagree"):
        load_mnist("test", tmp_path, download=False)


def test_symbol_folder_kaggle_layout_and_polarity(tmp_path):
    for name in ("+", "-", "times", "div", "forward_slash", "notes"):
        (tmp_path / name).mkdir()
    for i, name in enumerate(("+", "-", "times", "div", "forward_slash")):
        img = np.full((45, 45), 255, np.uint8)  # dark ink on white, 45x45 like the Kaggle set
        img[20:25, 5:40] = 0
        Image.fromarray(img).save(tmp_path / name / f"{i}.png")
        Image.fromarray(255 - img).save(tmp_path / name / f"{i}_inv.jpg")
    (tmp_path / "div" / "readme.txt").write_text("not an image")
    s = load_symbol_folder(tmp_path)
    assert sorted(s.y.tolist()) == sorted(["+", "+", "-", "-", "*", "*", "/", "/", "/", "/"])
    for img in s.X:
        assert img.shape == (45, 45) and img[0, 0] < 50 and img[22, 20] > 200  # ink on black


def test_symbol_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_symbol_folder(tmp_path / "nope")
    (tmp_path / "cats").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_symbol_folder(tmp_path)
    (tmp_path / "plus").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_symbol_folder(tmp_path)
    (tmp_path / "plus" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=r"broken\.png"):
        load_symbol_folder(tmp_path)


def test_transparent_symbol_is_composited(tmp_path):
    (tmp_path / "minus").mkdir()
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[9:11, 2:18] = (0, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "minus" / "a.png")
    img = load_symbol_folder(tmp_path).X[0]
    assert img[10, 10] == 255 and img[0, 0] == 0


def test_deduplicate_keeps_first_occurrence(symbol_set):
    X, y = symbol_set
    a = datasets.SymbolSet(X[:5], y[:5], "held")
    b = datasets.SymbolSet([*X[3:8], X[0].copy()], np.concatenate([y[3:8], y[:1]]), "train")
    held, train = deduplicate([a, b])
    assert len(held) == 5 and len(train) == 3
    assert not {content_hash(i) for i in held.X} & {content_hash(i) for i in train.X}


def test_training_data_never_contains_heldout_images(tmp_path):
    root = write_data_dir(tmp_path, n_per_class=5)
    # plant a duplicate of an mdas test image into mdas train: it must stay held out only
    test_img = next((root / "symbols/mdas/test/addition_plus").iterdir())
    (root / "symbols/mdas/train/addition_plus/dup.png").write_bytes(test_img.read_bytes())
    data = load_training_data(root, download=False)
    held = {content_hash(i) for s in data.heldout.values() for i in s.X if s.source != "mnist/test"}
    train = {content_hash(i) for s in data.train.values() for i in s.X if s.source != "mnist/train"}
    assert held and train and not held & train
    assert set(data.heldout) == {"mnist/test", "mdas/test", "bhmsds/heldout"}
    assert set(data.train) == {"mnist/train", "mdas/train", "mdas/val", "bhmsds/train"}
    # the split is fixed: same seed, same digests
    again = load_training_data(root, download=False)
    assert again.heldout["bhmsds/heldout"].digest() == data.heldout["bhmsds/heldout"].digest()
    X, y = data.training_arrays()
    assert len(X) == len(y) and set(y) == set("0123456789+-*/")


def test_training_data_limit_per_class(tiny_data_dir):
    data = load_training_data(tiny_data_dir, limit_per_class=2, download=False)
    _, counts = np.unique(data.train["mnist/train"].y, return_counts=True)
    assert counts.max() == 2


def test_missing_symbols_dir_is_clear(tmp_path):
    with pytest.raises(DataError, match="symbols"):
        load_training_data(tmp_path, download=False)


@pytest.mark.data
def test_real_data_splits(data_dir):
    data = load_training_data(data_dir)
    assert len(data.train["mnist/train"]) == 60000 and len(data.heldout["mnist/test"]) == 10000
    # mdas ships mirrored duplicates: de-duplication must have removed some
    assert len(data.train["mdas/train"]) < 4803
    held = {content_hash(i) for i in data.heldout["mdas/test"].X}
    assert not held & {content_hash(i) for s in ("mdas/train", "mdas/val") for i in data.train[s].X}
    # UNIPEN: training, calibration and held-out writers are three disjoint groups, and the
    # calibration set holds every class (temperature scaling needs them all)
    from mathocr.datasets import load_unipen, unipen_writer_groups

    train, cal, test = unipen_writer_groups(load_unipen(data_dir))
    groups = [{s.writer for s in part} for part in (train, cal, test)]
    assert all(groups) and not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    calibration = data.calibration["unipen/calibration-writers"]
    assert len(calibration) == len(cal) and set(calibration.y) == set(CLASSES)
    assert len(data.heldout["unipen/heldout-writers"]) == len(test)
