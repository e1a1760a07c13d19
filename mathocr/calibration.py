"""Calibrated symbol confidences: temperature scaling, fitted on held-out writers.

A network trained to near-zero loss is over-confident on handwriting it has never
seen, and the solver's decisions (answer, ask, or refuse) are thresholds on its
probabilities. :func:`calibrate` fits one temperature with scikit-learn's
``CalibratedClassifierCV(method="temperature")`` on the pipeline's own features and
puts the calibrated classifier in the pipeline's last step, so every user of the
pipeline -- the solver, ``evaluate``, the bench -- gets calibrated probabilities.

The ONNX inference form (:class:`~mathocr.inference.OnnxSymbolClassifier`, what
``mathocr train`` ships) takes the fitted temperature itself
(:meth:`~mathocr.inference.OnnxSymbolClassifier.with_temperature`): the same
probabilities, without the wrapper's 0.7 ms a call. Other classifiers stay wrapped.

Examples
--------
>>> from mathocr.pipeline import load_pipeline               # doctest: +SKIP
>>> calibrated = calibrate(load_pipeline(), X_cal, y_cal)     # doctest: +SKIP
>>> expected_calibration_error(calibrated.predict_proba(X), y, calibrated.classes_)  # doctest: +SKIP
0.012
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from .inference import OnnxSymbolClassifier

N_BINS = 15


def calibrate(pipe: Pipeline, X: Sequence[np.ndarray], y: Sequence[str]) -> Pipeline:
    """A copy of a fitted pipeline whose classifier's probabilities are temperature-scaled.

    Parameters
    ----------
    pipe : Pipeline
        Fitted; its last step has ``predict_proba``. Already calibrated pipelines are
        recalibrated from their uncalibrated classifier.
    X : sequence of 2-D images
        Held-out images (never training images), every class present.
    y : sequence of str

    Returns
    -------
    Pipeline
        The same transformers; the last step is the classifier with the temperature
        (ONNX form), or a fitted ``CalibratedClassifierCV`` around the frozen classifier.
    """
    base = uncalibrated(pipe)
    features = base[:-1].transform(list(X))
    name, clf = base.steps[-1]
    missing = set(map(str, clf.classes_)) - set(map(str, y))
    if missing:
        raise ValueError(f"the calibration set has no example of {sorted(missing)}")
    calibrated = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")
    calibrated.fit(features, np.asarray(y))
    if isinstance(clf, OnnxSymbolClassifier):
        calibrated = clf.with_temperature(_fitted_temperature(calibrated))
    return Pipeline([*base.steps[:-1], (name, calibrated)])


def uncalibrated(pipe: Pipeline) -> Pipeline:
    """The pipeline with its calibration removed (itself when it has none)."""
    name, clf = pipe.steps[-1]
    if isinstance(clf, CalibratedClassifierCV):
        return Pipeline([*pipe.steps[:-1], (name, clf.estimator.estimator)])
    if isinstance(clf, OnnxSymbolClassifier) and temperature(pipe) != 1.0:
        return Pipeline([*pipe.steps[:-1], (name, clf.with_temperature(1.0))])
    return pipe


def temperature(pipe: Pipeline) -> float:
    """The fitted temperature (1.0 for an uncalibrated pipeline); above 1 softens."""
    clf = pipe.steps[-1][1]
    if isinstance(clf, CalibratedClassifierCV):
        return _fitted_temperature(clf)
    return float(getattr(clf, "temperature_", 1.0))


def _fitted_temperature(calibrated: CalibratedClassifierCV) -> float:
    return float(1.0 / calibrated.calibrated_classifiers_[0].calibrators[0].beta_)


def expected_calibration_error(
    proba: np.ndarray, y: Sequence[str], classes: Sequence[str], n_bins: int = N_BINS
) -> float:
    """Expected calibration error of the top-class confidence, equal-width bins.

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    >>> round(expected_calibration_error(p, ["a", "a", "b", "b"], ["a", "b"]), 3)
    0.3
    """
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray([str(c) for c in classes])
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == np.asarray([str(v) for v in y])
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        inside = bins == b
        error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


__all__ = ["calibrate", "expected_calibration_error", "temperature", "uncalibrated"]
