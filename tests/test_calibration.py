"""Calibrated confidences: temperature scaling in the pipeline, and its error measure."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mathocr.calibration import calibrate, expected_calibration_error, temperature, uncalibrated


def flatten(X):
    return np.asarray([np.asarray(x, dtype=float).ravel() for x in X])


@pytest.fixture(scope="module")
def overconfident():
    """A pipeline fitted with almost no regularisation on few, noisy images: over-confident."""
    rng = np.random.default_rng(0)
    classes = np.array(["1", "7", "+"])

    means = {c: rng.normal(0, 1, (4, 4)) for c in classes}

    def images(n):
        y = classes[rng.integers(0, 3, n)]
        return [means[c] + rng.normal(0, 1.6, (4, 4)) for c in y], y

    Xtr, ytr = images(60)
    pipe = Pipeline(
        [("flat", FunctionTransformer(flatten)), ("clf", LogisticRegression(C=1e4, max_iter=5000))]
    )
    pipe.fit(Xtr, ytr)
    Xcal, ycal = images(600)
    Xte, yte = images(600)
    return pipe, (Xcal, ycal), (Xte, yte)


def test_temperature_softens_an_overconfident_model_and_lowers_its_error(overconfident):
    pipe, (Xcal, ycal), (Xte, yte) = overconfident
    before = expected_calibration_error(pipe.predict_proba(Xte), yte, pipe.classes_)
    cal = calibrate(pipe, Xcal, ycal)
    after = expected_calibration_error(cal.predict_proba(Xte), yte, cal.classes_)
    assert temperature(cal) > 1.2 and temperature(pipe) == 1.0
    assert after < before / 2
    # same steps, same classes, the same first choices: only the confidences move
    assert [n for n, _ in cal.steps] == ["flat", "clf"]
    assert list(cal.classes_) == list(pipe.classes_)
    assert (cal.predict(Xte) == pipe.predict(Xte)).all()
    # it pickles, and the calibration comes off again
    again = pickle.loads(pickle.dumps(cal))
    np.testing.assert_allclose(again.predict_proba(Xte[:5]), cal.predict_proba(Xte[:5]))
    assert uncalibrated(cal).steps[-1][1] is pipe.steps[-1][1]
    # recalibrating starts from the raw classifier, not from the calibrated one
    assert temperature(calibrate(cal, Xcal, ycal)) == pytest.approx(temperature(cal), rel=1e-3)


def test_a_calibration_set_must_hold_every_class(overconfident):
    pipe, (Xcal, ycal), _ = overconfident
    keep = ycal != "+"
    with pytest.raises(ValueError, match=r"no example of \['\+'\]"):
        calibrate(pipe, [x for x, k in zip(Xcal, keep, strict=True) if k], ycal[keep])


def test_expected_calibration_error():
    y = ["a", "b"] * 50
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]] * 50)
    assert expected_calibration_error(perfect, y, ["a", "b"]) == 0.0
    # always 90% sure and always wrong: error 0.9
    wrong = np.array([[0.1, 0.9], [0.9, 0.1]] * 50)
    assert expected_calibration_error(wrong, y, ["a", "b"]) == pytest.approx(0.9)
    # 80% sure and right 80% of the time: calibrated
    y8 = ["a"] * 80 + ["b"] * 20
    assert expected_calibration_error(np.tile([0.8, 0.2], (100, 1)), y8, ["a", "b"]) == pytest.approx(0.0)
