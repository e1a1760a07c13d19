""":class:`SymbolClassifier`, the symbol CNN's scikit-learn face.

The network itself is :func:`mathocr.network.symbol_cnn`, passed to scikeras as the
``model`` parameter; this module adds what training needs around it (the optimizer's
learning-rate schedule, the distortion of training batches) and what scikit-learn
expects (string classes, tags, one row per image).

Importing this module imports TensorFlow (seconds, hundreds of MB): only training,
evaluation of the Keras form and ONNX export need it. Serving uses
:mod:`mathocr.inference`, which does not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from scikeras.utils.transformers import ClassifierLabelEncoder
from scikeras.wrappers import KerasClassifier

from .network import RandomDistortion, check_network, symbol_cnn
from .symbols import NOT_A_SYMBOL

__all__ = ["RandomDistortion", "SymbolClassifier"]

# SymbolClassifier's hyper-parameters that scikeras passes to the `model` function,
# by name, when it builds the network (as it passes any extra keyword argument).
NETWORK_PARAMS = ("filters", "convs_per_block", "dense", "dropout", "batch_norm", "padding", "random_state")


def _marks(y: np.ndarray) -> np.ndarray:
    """Which labels are :data:`~mathocr.symbols.NOT_A_SYMBOL` (never true for numeric labels)."""
    y = np.asarray(y)
    if y.dtype.kind not in "OU":
        return np.zeros(y.shape[:1], dtype=bool)
    return y.reshape(len(y), -1)[:, 0].astype(str) == NOT_A_SYMBOL


class _LabelEncoder(ClassifierLabelEncoder):
    """scikeras' target encoder, with :data:`~mathocr.symbols.NOT_A_SYMBOL` marks kept out
    of the classes: coded -1 for a sparse loss, a uniform row for a one-hot loss."""

    def fit(self, y: np.ndarray) -> _LabelEncoder:
        marks = _marks(y)
        if marks.all():
            raise ValueError("every label is NOT_A_SYMBOL: there is no class to learn")
        return super().fit(np.asarray(y)[~marks])

    def transform(self, y: np.ndarray) -> np.ndarray:
        marks = _marks(y)
        if not marks.any():
            return super().transform(y)
        known = super().transform(np.asarray(y)[~marks])
        out = np.empty((len(marks), *known.shape[1:]), dtype=known.dtype)
        out[~marks] = known
        out[marks] = 1.0 / self.n_classes_ if known.ndim == 2 and known.shape[1] > 1 else -1
        return out


class SymbolClassifier(KerasClassifier):
    """A CNN that classifies one 28x28 symbol image, as a scikit-learn classifier.

    A :class:`scikeras.wrappers.KerasClassifier` whose network, ``model``
    (:func:`mathocr.network.symbol_cnn`), is built from the hyper-parameters below, so
    grid searches can tune them. Expects the output of
    :class:`mathocr.preprocessing.Normalize` (``(n, 28, 28)`` floats in [0, 1]);
    ``classes_`` holds the string tokens.

    Parameters
    ----------
    filters : tuple of int, default=(32, 64, 128)
        Convolution filters per block; each block ends in 2x2 max-pooling.
    convs_per_block : int or tuple of int, default=1
        Convolutions in each block, or one count per block.
    dense : tuple of int, default=(128,)
        Hidden dense layers.
    dropout : float, default=0.25
    batch_norm : bool, default=True
    augment : float, default=1.0
        Strength of the random distortion of training images (:class:`RandomDistortion`):
        at 1.0, shifts up to 8% of the side (2 pixels), half the images drawn again
        with a pen of random width and smooth edges, and strokes thickened by one or two
        pixels in 40% of them; 0 or False turns it off.
    warp : float, default=0.0
        Strength of the sub-pixel part of the distortion: at 1.0, rotation up to 10
        degrees, shear 0.15 and zoom 10%, and shifts no longer whole pixels. Off by
        default: warped training images are blurred where test images are not, and
        with it the operator sets' slashes become indistinguishable from MNIST's
        leaning ones (see the README).
    padding : {"same", "valid"}, default="same"
    learning_rate : float or None, default=2e-3
        Peak learning rate of the optimizer; it decays to zero along a cosine over
        training. None keeps the optimizer's own, constant learning rate (scikeras'
        ``optimizer__learning_rate``).
    epochs : int, default=12
    batch_size : int, default=128
    random_state : int, default=0
        Seeds the network's initialisers and dropout, the distortion, and TensorFlow
        while fitting.
    verbose : int, default=0
        1 shows Keras' progress bar while fitting.
    model : callable, default=:func:`mathocr.network.symbol_cnn`
        scikeras' ``model``: builds and compiles the Keras model. It is called with
        scikeras' ``meta`` and ``compile_kwargs`` and, by name, with ``filters``,
        ``convs_per_block``, ``dense``, ``dropout``, ``batch_norm``, ``padding`` and
        ``random_state`` (and any extra keyword argument given here, as scikeras does).
    optimizer : str, class or instance, default="adam"
        scikeras' ``optimizer`` (``optimizer__*`` parameters are routed to it), with
        ``learning_rate`` as its schedule.
    loss : str or callable, default="sparse_categorical_crossentropy"
        scikeras' ``loss``; ``"categorical_crossentropy"`` one-hot encodes the targets.
    metrics : str or list, default="accuracy"
        scikeras' ``metrics``, reported while fitting and in ``history_``.
    **kwargs
        Other scikeras parameters (``callbacks``, ``shuffle``, routed ``fit__*``, ...).

    Notes
    -----
    Training images labelled :data:`~mathocr.symbols.NOT_A_SYMBOL` are marks that are no
    token. They are not a class: the network is taught to spread its probability evenly
    over the classes for them (Outlier Exposure, Hendrycks et al., ICLR 2019), so that a
    letter or a scribble reads as hard to read, not as a confident digit. With the sparse
    loss each such image gets a fresh random class each time it is seen, which in
    expectation is the cross-entropy to the uniform distribution; with
    ``"categorical_crossentropy"`` its target is the uniform row itself. Their weight is
    the sample weight given to ``fit``.

    Examples
    --------
    >>> from mathocr.estimator import SymbolClassifier          # doctest: +SKIP
    >>> clf = SymbolClassifier(filters=(8,), dense=(16,), epochs=1)
    >>> clf.fit(X28, y).predict(X28[:3])                        # doctest: +SKIP
    array(['7', '+', '2'], dtype=object)
    """

    def __init__(
        self,
        filters: Sequence[int] = (32, 64, 128),
        convs_per_block: int | tuple[int, ...] = 1,
        dense: Sequence[int] = (128,),
        dropout: float = 0.25,
        batch_norm: bool = True,
        augment: float = 1.0,
        warp: float = 0.0,
        padding: str = "same",
        learning_rate: float = 2e-3,
        epochs: int = 12,
        batch_size: int = 128,
        random_state: int | None = 0,
        verbose: int = 0,
        model: Callable[..., keras.Model] = symbol_cnn,
        optimizer: Any = "adam",
        loss: Any = "sparse_categorical_crossentropy",
        metrics: Any = "accuracy",
        **kwargs,
    ):
        super().__init__(
            model=model,
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            epochs=epochs,
            batch_size=batch_size,
            random_state=random_state,
            verbose=verbose,
            **kwargs,
        )
        # scikeras passes the parameters named in _user_params (its record of the extra
        # keyword arguments) to the `model` function by name: add the network's.
        self._user_params = {*getattr(self, "_user_params", ()), *NETWORK_PARAMS}
        self.filters = filters
        self.convs_per_block = convs_per_block
        self.dense = dense
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.augment = augment
        self.warp = warp
        self.padding = padding
        self.learning_rate = learning_rate

    def _validate_hyperparameters(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Check every hyper-parameter; return the layer sizes as tuples (filters,
        convolutions per block, dense)."""
        sizes = check_network(self.filters, self.convs_per_block, self.dense, self.dropout, self.padding)
        if not 0 <= float(self.augment) <= 3:
            raise ValueError(f"augment must be a strength in [0, 3], got {self.augment!r}")
        if not 0 <= float(self.warp) <= 3:
            raise ValueError(f"warp must be a strength in [0, 3], got {self.warp!r}")
        if self.learning_rate is not None and float(self.learning_rate) <= 0:
            raise ValueError(f"learning_rate must be > 0 or None, got {self.learning_rate!r}")
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        return sizes

    def _build_keras_model(self) -> keras.Model:
        # Every bad value fails here, before a layer is built.
        self._validate_hyperparameters()
        return super()._build_keras_model()

    def _get_compile_kwargs(self) -> dict[str, Any]:
        """scikeras' compile arguments, the optimizer given ``learning_rate``'s cosine schedule."""
        kwargs = super()._get_compile_kwargs()
        if self.learning_rate is not None:
            steps = int(np.ceil(self.X_shape_[0] / int(self.batch_size))) * int(self.epochs)
            schedule = keras.optimizers.schedules.CosineDecay(float(self.learning_rate), max(steps, 1))
            optimizer = kwargs["optimizer"]  # an instance: scikeras made it from a name or class
            kwargs["optimizer"] = type(optimizer).from_config(
                {**optimizer.get_config(), "learning_rate": schedule}
            )
        return kwargs

    @property
    def target_encoder(self) -> _LabelEncoder:
        categories = "auto" if self.classes_ is None else [self.classes_]
        return _LabelEncoder(loss=self.loss, categories=categories)

    def __repr__(self) -> str:
        # A function's repr holds its address: print its name, so the repr (and the test
        # ids scikit-learn's checks make from it) is the same in every process.
        return re.sub(r"<function (\S+) at 0x[0-9a-fA-F]+>", r"\1", super().__repr__())

    def _seed(self) -> int | None:
        return int(self.random_state) if isinstance(self.random_state, int | np.integer) else None

    def _distortion(self) -> RandomDistortion | None:
        a, w = float(self.augment), float(self.warp)
        if not (a or w):
            return None
        seed = self._seed()
        return RandomDistortion(
            rotation=10.0 * w,
            shear=0.15 * w,
            zoom=0.1 * w,
            shift=0.08 * max(a, w),
            render=0.5 * min(a, 1.0),
            stroke=0.4 * min(a, 1.0),
            seed=None if seed is None else seed + 1,
        )

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        layer = self._distortion()
        # Sparse targets of marks that are no symbol are -1 (see _LabelEncoder).
        marks = bool(np.any(np.asarray(y) < 0))
        if layer is None and not marks:
            return super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
        model = self.model_
        plain_step = model.train_step
        n_classes = int(self.n_classes_)
        seed = self._seed()
        seeds = keras.random.SeedGenerator(None if seed is None else seed + 2)

        def train_step(data):
            # Distorting the batch here rather than in a layer keeps the network (and
            # its ONNX export) free of it.
            x, target, weight = keras.utils.unpack_x_y_sample_weight(data)
            if x.shape.rank == 3:  # (n, h, w) images: the network's input has a channel axis
                x = x[..., None]
            if layer is not None:
                x = layer(x, training=True)
            if marks:
                # A new random class at every sight: no mark can be learnt as one class.
                drawn = keras.random.randint(keras.ops.shape(target), 0, n_classes, seed=seeds)
                target = keras.ops.where(target < 0, keras.ops.cast(drawn, target.dtype), target)
            return plain_step(keras.utils.pack_x_y_sample_weight(x, target, weight))

        model.train_step = train_step
        model.train_function = None  # Keras caches the compiled step: rebuild it with ours
        try:
            return super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
        finally:
            del model.train_step
            model.train_function = None

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        from scipy.sparse import issparse

        if issparse(X):
            raise TypeError("sparse input is not supported: pass images as a dense (n, h, w) array")
        X, y = super()._validate_data(X, y, reset=reset, y_numeric=y_numeric)
        if X is not None and X.ndim == 2:
            # scikit-learn's generic checks pass flat (n, features) tables: treat each row
            # as a one-pixel-high image so the network still gets a 2-D input.
            X = X.reshape(X.shape[0], 1, X.shape[1])
        return X, y

    def predict_proba(self, X, **kwargs):
        """Class probabilities, shape ``(n_samples, n_classes)`` (one row per image)."""
        proba = np.asarray(super().predict_proba(X, **kwargs))
        # scikeras squeezes the result: one image would come back as a 1-D array.
        return proba.reshape(len(X), -1) if proba.ndim == 1 else proba

    def _predict_raw(self, X, **kwargs):
        # Keras' Model.predict builds a tf.data pipeline per call (~100 ms for 8
        # images); predict_on_batch runs the compiled function directly (~3 ms).
        from sklearn.exceptions import NotFittedError

        if not self.initialized_:
            raise NotFittedError("This SymbolClassifier is not fitted yet; call fit first.")
        X, _ = self._validate_data(X=X, y=None)
        X = self.feature_encoder_.transform(X)
        X = np.asarray(X, dtype=np.float32)
        if X.ndim == 3:
            X = X[..., None]
        out = [
            np.asarray(self.model_.predict_on_batch(X[i : i + 1024])) for i in range(0, max(len(X), 1), 1024)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.n_classes_), np.float32)

    def __sklearn_tags__(self):
        # scikeras 0.13 predates scikit-learn's tags API: without this the estimator is
        # not recognised as a classifier (GridSearchCV would use KFold, and classifier
        # scorers refuse it).
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = True
        return tags

    def to_onnx(self) -> bytes:
        """Export the trained network to ONNX (what :mod:`mathocr.inference` runs)."""
        import tempfile

        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        model = self.model_  # training-time distortion is never part of the network
        model(np.zeros((1, *model.input_shape[1:]), np.float32))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            model.export(path, format="onnx", verbose=False)
            with open(path, "rb") as fh:
                return fh.read()
