"""Unseen-writer data: Semeion, UNIPEN in the training data, label cleaning, the report."""

from __future__ import annotations

import numpy as np
import pytest

from mathocr.datasets import (
    SEMEION_FILE,
    UNIPEN_MARKS,
    UNSEEN_WRITERS,
    SymbolSet,
    TrainingData,
    dots,
    load_semeion,
    load_training_data,
    render_pen_samples,
)
from mathocr.errors import DataError
from mathocr.symbols import CLASSES, NOT_A_SYMBOL
from mathocr.unipen import PenSample

from .conftest import make_symbol_set, write_data_dir
from .test_unipen import INK, STROKES, write_tree


def semeion_line(digit: int, pixels: np.ndarray) -> str:
    label = ["0"] * 10
    label[digit] = "1"
    return " ".join(f"{v:.4f}" for v in pixels.ravel()) + " " + " ".join(label)


def test_semeion_reads_uci_layout(tmp_path):
    one = np.zeros((16, 16))
    one[:, 7:9] = 1
    (tmp_path / SEMEION_FILE).parent.mkdir(parents=True)
    (tmp_path / SEMEION_FILE).write_text(semeion_line(1, one) + "\n" + semeion_line(7, 1 - one) + "\n")
    s = load_semeion(tmp_path)
    assert s.y.tolist() == ["1", "7"] and s.source == "semeion"
    img = s.X[0]
    assert img.shape == (80, 80) and img.dtype == np.uint8
    # enlarged 3x by whole pixels on a 16-pixel margin; ink on black
    assert img[16:64, 16 + 21 : 16 + 27].min() == 255 and img[:16].max() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [("0 1 2\n", r"semeion\.data:1: expected 256 pixels"), ("x " * 266 + "\n", "non-numeric")],
)
def test_semeion_bad_lines(tmp_path, text, message):
    (tmp_path / SEMEION_FILE).parent.mkdir(parents=True)
    (tmp_path / SEMEION_FILE).write_text(text)
    with pytest.raises(DataError, match=message):
        load_semeion(tmp_path)


def test_training_data_without_unipen_or_semeion_says_so(tiny_data_dir):
    data = load_training_data(tiny_data_dir)
    assert not data.pen_train
    assert any("no UNIPEN tree" in n for n in data.notes)
    assert any("no Semeion file" in n for n in data.notes)
    assert not set(UNSEEN_WRITERS) & set(data.heldout)


def test_training_data_with_unipen_and_semeion(tmp_path):
    root = write_data_dir(tmp_path / "d", n_per_class=3)
    segments = "".join(f'.SEGMENT CHARACTER {INK[i % 4]} OK "{i % 10}"\n' for i in range(40))
    unipen = root / "unipen" / "train_r01_v07"
    write_tree(unipen, segments)
    # a second provider with writers of the same names: each writer's side of the split
    # is drawn from its name, and these four fall on all three (prov's two calibrate)
    (unipen / "include" / "other" / "data").mkdir(parents=True)
    strokes = (unipen / "include" / "prov" / "data" / "s1.dat").read_text()
    (unipen / "include" / "other" / "data" / "s2.dat").write_text(strokes)
    (unipen / "data" / "1a" / "other").mkdir(parents=True)
    (unipen / "data" / "1a" / "other" / "d.dat").write_text(".INCLUDE other/data/s2.dat\n" + segments)
    (root / SEMEION_FILE).parent.mkdir(parents=True)
    (root / SEMEION_FILE).write_text(semeion_line(3, np.eye(16)) + "\n")
    data = load_training_data(root)
    assert not data.notes
    assert list(data.heldout)[:2] == list(UNSEEN_WRITERS)  # the headline sets come first
    writers = {"prov/wA", "prov/wB", "other/wA", "other/wB"}
    train_writers = {s.writer for s in data.pen_train}
    assert train_writers and train_writers < writers
    calibration = sum(len(s) for s in data.calibration.values())
    held = data.heldout["unipen/heldout-writers"]
    assert calibration > 0 and len(held) == 80 - len(data.pen_train) - calibration > 0
    data.add_pen_samples(data.pen_train, copies=2)
    assert len(data.train["unipen/train"]) == 2 * len(data.pen_train)
    weights = data.sample_weights()
    assert len(weights) == len(data.training_arrays()[1])


def test_training_writers_marks_that_are_no_symbol_train_as_such(tmp_path):
    root = write_data_dir(tmp_path / "d", n_per_class=3)
    labels = [str(i % 10) for i in range(30)] + ["@", "%", "|", "?", "="] * 4
    segments = "".join(f'.SEGMENT CHARACTER {INK[i % 4]} OK "{lab}"\n' for i, lab in enumerate(labels))
    # writer names whose side of the split is training (wC) and held out (wF)
    strokes = STROKES.replace("wA", "wC").replace("wB", "wF")
    write_tree(root / "unipen" / "train_r01_v07", segments, strokes=strokes)
    data = load_training_data(root)
    assert data.pen_marks and {s.label for s in data.pen_marks} == {"@", "%", "?"} <= set(UNIPEN_MARKS)
    assert {s.writer for s in data.pen_marks} <= {s.writer for s in data.pen_train}
    assert set(data.heldout["unipen/heldout-writers"].y) <= set(CLASSES)  # never reported on
    data.add_pen_marks(copies=2)
    marks = data.train["unipen/marks"]
    assert len(marks) == 2 * len(data.pen_marks) and set(marks.y) == {NOT_A_SYMBOL}
    assert set(marks.forms()) == {"not a symbol"}


@pytest.mark.parametrize("weight", [0.0, 0.5, 3.0])
def test_marks_weigh_a_chosen_share_of_one_written_form(weight):
    img = np.zeros((4, 4), np.uint8)
    ones = SymbolSet([img] * 4, np.array(["1"] * 4), "a")
    marks = SymbolSet([img] * 2, np.full(2, NOT_A_SYMBOL), "m", form_names=[NOT_A_SYMBOL] * 2)
    w = TrainingData({"a": ones, "m": marks}, {}).sample_weights(marks=weight)
    np.testing.assert_allclose(w[4:].sum(), weight * w[:4].sum())
    np.testing.assert_allclose(w[:4], w[0])


def test_asterisk_is_its_own_written_form():
    star = PenSample((np.array([[0, 0], [1, 1.0]]), np.array([[1, 0], [0, 1.0]])), "*", "p/w", "OK", "f:1")
    s = render_pen_samples([star], "u", copies=3, seed=1)
    assert s.forms().tolist() == ["asterisk"] * 3 and s.y.tolist() == ["*"] * 3
    # three copies, each drawn its own way
    assert len({img.shape for img in s.X}) > 1


@pytest.mark.slow
def test_label_issues_found_out_of_fold():
    from mathocr.cleaning import find_label_issues

    X, y = make_symbol_set(40, seed=3, tokens="0178")
    y = y.copy()
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), 8, replace=False)
    y[flipped] = np.where(y[flipped] == "0", "8", "0")
    groups = [f"w{i % 6}" for i in range(len(y))]
    issues = find_label_issues(X, y, groups, clf__filters=(8, 16), clf__dense=(32,), clf__epochs=10)
    found = set(np.flatnonzero(issues).tolist())
    assert len(found & set(flipped.tolist())) >= 6
    assert len(found - set(flipped.tolist())) <= 8


def ink_aspect(img: np.ndarray) -> float:
    ink = img > img.max() / 2
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)


def test_a_bar_is_never_stretched_to_fill_a_box_but_a_flagged_one_is():
    bar = PenSample((np.array([[0.5, 0.0], [0.45, 1.0]]),), "1", "p/w", "OK", "f:1")
    flagged = PenSample((np.array([[0.1, 0.3], [0.5, 0.0], [0.45, 1.0]]),), "1", "p/w", "OK", "f:2")
    bars = render_pen_samples([bar], "u", copies=60, seed=0)
    flags = render_pen_samples([flagged], "u", copies=60, seed=0)
    # a thin 1 stays thin in every style; a 1 with a flag is sometimes stretched to a square
    assert max(ink_aspect(img) for img in bars.X) < 0.6
    assert max(ink_aspect(img) for img in flags.X) > 0.85


def test_a_dot_is_told_by_its_writers_own_scale():
    def sample(label: str, writer: str, *points: tuple[float, float]) -> PenSample:
        return PenSample((np.array(points, dtype=np.float32),), label, writer, "OK", f"f:{len(points)}")

    big = [sample(d, "big", (0, 0), (30, 100)) for d in "023"]  # digits 100 units tall
    small = [sample(d, "small", (0, 0), (3, 10)) for d in "023"]  # digits 10 units tall
    marks = [
        sample("-", "big", (0, 50), (15, 51)),  # a short dash: 15% of the digits' height
        sample("-", "big", (0, 50), (40, 52)),  # a dash
        sample("-", "small", (0, 5), (4, 5)),  # 4 units: a dot beside "big"'s digits, not "small"'s
        sample("1", "big", (0, 0), (1, 100)),
        sample("/", "nobody", (0, 0), (1, 1)),  # no digits to judge by: kept
    ]
    assert dots(big + small + marks).tolist() == [False] * 6 + [True, False, False, False, False]
