"""The inference form of a trained :class:`~mathocr.estimator.SymbolClassifier`.

:class:`OnnxSymbolClassifier` runs the exported network with ONNX Runtime. It is
still a scikit-learn classifier (``predict``, ``predict_proba``, ``score``,
``classes_``) and still pickles, but unpickling it imports neither TensorFlow nor
Keras: measured here a process that serves it starts in well under a second and
holds under 100 MB, where the Keras form costs ~7 s and ~650 MB.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .errors import ModelError


class OnnxSymbolClassifier(ClassifierMixin, BaseEstimator):
    """A trained symbol CNN, run by ONNX Runtime; made with :meth:`from_classifier`.

    It cannot be trained: ``fit`` raises. Train a
    :class:`~mathocr.estimator.SymbolClassifier` (or a pipeline from
    :func:`mathocr.pipeline.make_pipeline`) and convert it.

    Parameters
    ----------
    n_threads : int, default=1
        ONNX Runtime intra-op threads. One is fastest for the small batches of
        serving, and lets a multi-threaded server run requests side by side.

    Attributes
    ----------
    onnx_model_ : bytes
        The serialised ONNX graph.
    classes_ : ndarray of str
    params_ : dict
        The hyper-parameters of the classifier it was converted from.
    temperature_ : float
        The probabilities are ``softmax(log(p) / temperature_)`` of the network's: 1.0
        as converted; :func:`mathocr.calibration.calibrate` fits it
        (:meth:`with_temperature`).

    Examples
    --------
    >>> fast = OnnxSymbolClassifier.from_classifier(trained_symbol_classifier)  # doctest: +SKIP
    >>> fast.predict_proba(X28).shape                                            # doctest: +SKIP
    (8, 14)
    """

    def __init__(self, n_threads: int = 1):
        self.n_threads = n_threads

    @classmethod
    def from_classifier(cls, clf: Any, n_threads: int = 1) -> OnnxSymbolClassifier:
        """Convert a fitted :class:`~mathocr.estimator.SymbolClassifier`."""
        check_is_fitted(clf, "model_")
        est = cls(n_threads=n_threads)
        est.onnx_model_ = clf.to_onnx()
        est.classes_ = np.asarray(clf.classes_)
        est.n_classes_ = len(est.classes_)
        est.input_shape_ = tuple(int(d) for d in clf.model_.input_shape[1:])
        est.params_ = {k: v for k, v in clf.get_params().items() if not callable(v)}
        est.temperature_ = 1.0
        return est

    def with_temperature(self, temperature: float) -> OnnxSymbolClassifier:
        """A copy whose probabilities are temperature-scaled (the same network, shared).

        Temperature scaling as scikit-learn's ``CalibratedClassifierCV(method="temperature")``
        applies it to ``predict_proba``, done here instead of in that wrapper: the wrapper
        costs about 0.7 ms a call (its checks and tag copies), as much as the network on 8
        symbols.

        Parameters
        ----------
        temperature : float
            Above 1 softens the probabilities, below 1 sharpens them; 1.0 takes the
            calibration off.

        Returns
        -------
        OnnxSymbolClassifier

        Examples
        --------
        >>> soft = fast.with_temperature(1.65)                     # doctest: +SKIP
        >>> soft.predict_proba(X28).max() < fast.predict_proba(X28).max()  # doctest: +SKIP
        True
        """
        check_is_fitted(self, "onnx_model_")
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        scaled = copy.copy(self)
        scaled.temperature_ = float(temperature)
        return scaled

    def fit(self, X, y=None):
        raise ModelError(
            "the ONNX inference form cannot be trained; fit mathocr.pipeline.make_pipeline(...) "
            "and convert it with mathocr.pipeline.to_inference"
        )

    def _session(self):
        session = getattr(self, "_session_cache", None)
        if session is None:
            with _LOCK:
                session = getattr(self, "_session_cache", None)
                if session is None:
                    import onnxruntime as ort

                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = int(self.n_threads)
                    opts.inter_op_num_threads = 1
                    try:
                        session = ort.InferenceSession(
                            self.onnx_model_, opts, providers=["CPUExecutionProvider"]
                        )
                    except Exception as exc:  # onnxruntime raises its own, untyped errors
                        raise ModelError(f"the ONNX model cannot be loaded: {exc}") from None
                    self._input_name = session.get_inputs()[0].name
                    self._session_cache = session
        return session

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self, "onnx_model_")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim == len(self.input_shape_):  # (n, h, w): add the channel axis
            X = X[..., None]
        if X.shape[1:] != self.input_shape_:
            raise ValueError(f"expected images of shape {self.input_shape_[:2]}, got {X.shape[1:]}")
        if len(X) == 0:
            return np.zeros((0, self.n_classes_), np.float32)
        session = self._session()
        proba = session.run(None, {self._input_name: np.ascontiguousarray(X)})[0]
        temperature = getattr(self, "temperature_", 1.0)  # models pickled before it had one
        if temperature == 1.0:
            return proba
        # As scikit-learn's temperature scaling: logits taken as log(p + 1e-12).
        logits = np.log(proba.astype(np.float64) + 1e-12) / temperature
        logits -= logits.max(axis=1, keepdims=True)
        scaled = np.exp(logits)
        return scaled / scaled.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable token of each image."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __getstate__(self):
        state = self.__dict__.copy()
        # An ONNX Runtime session cannot be pickled; it is rebuilt on first use.
        state.pop("_session_cache", None)
        state.pop("_input_name", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


_LOCK = threading.Lock()
