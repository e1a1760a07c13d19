"""The CNN and :class:`SymbolClassifier`, its scikit-learn face.

Importing this module imports TensorFlow (seconds, hundreds of MB): only training,
evaluation of the Keras form and ONNX export need it. Serving uses
:mod:`mathocr.inference`, which does not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from scikeras.wrappers import KerasClassifier


def _configure_tensorflow() -> None:
    # Measured on the 2-core reference machine: intra 2 / inter 1 is fastest; XLA's
    # JIT on CPU only adds compile time for a model this small.
    try:
        tf.config.threading.set_intra_op_parallelism_threads(min(2, os.cpu_count() or 1))
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.optimizer.set_jit(False)
    except RuntimeError:
        pass  # the runtime is already initialised (someone else configured it first)


_configure_tensorflow()


@keras.saving.register_keras_serializable(package="mathocr")
class RandomDistortion(keras.layers.Layer):
    """Random handwriting variation, applied per image during training only.

    One affine warp per image (rotation, horizontal shear, zoom, shift) plus a random
    thickening of the strokes by one or two pixels (grey dilation): canvas drawings
    and photos have shifted symbols written with many pens, while MNIST has one. With
    no rotation, shear or zoom the shifts are whole pixels, which leave every pixel
    value as it was. Identity at inference.

    Parameters
    ----------
    rotation : float
        Maximum rotation in degrees.
    shear : float
        Maximum horizontal shear (x shift per unit of y).
    zoom : float
        Maximum relative change of scale.
    shift : float
        Maximum shift as a fraction of the image size.
    render : float
        Probability of drawing the symbol again as a pen would: upscaled 3 times, cut
        at a random ink level (thinner or thicker strokes, hard edges), averaged back
        down (smooth edges). Large crisp canvas strokes reduced to 28 pixels look like
        that, and MNIST's digits do not: MNIST's test ones drawn again this way are read
        as ``/`` far more often than as MNIST draws them (see the README).
    stroke : float
        Probability of thickening the strokes (by two pixels in 3 cases of 8, else one).
    seed : int, optional
    """

    def __init__(
        self, rotation=10.0, shear=0.15, zoom=0.1, shift=0.08, render=0.5, stroke=0.4, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.rotation, self.shear, self.zoom, self.shift, self.stroke = rotation, shear, zoom, shift, stroke
        self.render = render
        self.seed = seed
        # A seed generator keeps the layer usable when TensorFlow's op determinism is on
        # (scikeras turns it on when random_state is set).
        self._seeds = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        n = tf.shape(x)[0]
        h, w = tf.cast(tf.shape(x)[1], tf.float32), tf.cast(tf.shape(x)[2], tf.float32)

        def uniform(limit):
            return keras.random.uniform((n,), -limit, limit, seed=self._seeds)

        theta = uniform(self.rotation * np.pi / 180)
        sh = uniform(self.shear)
        inv_scale = 1.0 / (1.0 + uniform(self.zoom))
        tx, ty = uniform(self.shift) * w, uniform(self.shift) * h
        if not (self.rotation or self.shear or self.zoom):
            # Bilinear sampling at whole-pixel offsets returns the pixels unchanged: a
            # shift alone then adds no blur that test images would not have.
            tx, ty = tf.round(tx), tf.round(ty)
        cos, sin = tf.cos(theta) * inv_scale, tf.sin(theta) * inv_scale
        # Output pixel (x, y) samples input M @ ((x, y) - c) + c + t, M = R(theta) S(sh) / scale.
        m00, m01, m10, m11 = cos, cos * sh - sin, sin, sin * sh + cos
        cx, cy = (w - 1) / 2, (h - 1) / 2
        a2 = cx - m00 * cx - m01 * cy + tx
        b2 = cy - m10 * cx - m11 * cy + ty
        zeros = tf.zeros_like(theta)
        transforms = tf.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x,
            transforms=transforms,
            output_shape=tf.shape(x)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )
        if self.render > 0:
            k = 3
            up = tf.image.resize(x, tf.shape(x)[1:3] * k, method="bilinear")
            cut = keras.random.uniform((n, 1, 1, 1), 0.2, 0.6, seed=self._seeds)
            drawn = tf.nn.avg_pool2d(tf.cast(up > cut, x.dtype), k, k, "VALID")
            use = keras.random.uniform((n, 1, 1, 1), seed=self._seeds) < self.render
            x = tf.where(use, drawn, x)
        if self.stroke > 0:
            # Thicken only: thinning MNIST's ones makes them indistinguishable from slashes.
            u = keras.random.uniform((n, 1, 1, 1), seed=self._seeds)
            one = tf.nn.max_pool2d(x, 2, 1, "SAME")
            two = tf.nn.max_pool2d(x, 3, 1, "SAME")
            x = tf.where(u < 0.375 * self.stroke, two, tf.where(u < self.stroke, one, x))
        return x

    def get_config(self):
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "shear": self.shear,
            "zoom": self.zoom,
            "shift": self.shift,
            "render": self.render,
            "stroke": self.stroke,
            "seed": self.seed,
        }


def build_cnn(
    n_classes: int,
    input_shape: tuple[int, int] = (28, 28),
    filters: Sequence[int] = (32, 64),
    convs_per_block: int = 2,
    dense: Sequence[int] = (128,),
    dropout: float = 0.25,
    batch_norm: bool = True,
    padding: str = "same",
    seed: int | None = None,
) -> keras.Sequential:
    """Build the CNN: blocks of 3x3 convolutions (each block ends in 2x2 max-pooling),
    dense layers, a softmax over ``n_classes``.

    Training-time distortion is not part of the network: :class:`SymbolClassifier`
    applies it to each training batch, so the exported model is the network alone.

    Examples
    --------
    >>> model = build_cnn(14, filters=(8,), dense=(16,))   # doctest: +SKIP
    >>> model.output_shape                                 # doctest: +SKIP
    (None, 14)
    """
    # Every random layer gets its own seed drawn from `seed`: Keras would otherwise draw
    # them from Python's global `random`, which other threads (a Dask worker's event
    # loop) also draw from, so the same search gave different fits on a cluster.
    rng = np.random.default_rng(seed)

    def next_seed() -> int | None:
        return None if seed is None else int(rng.integers(2**31 - 1))

    def init() -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=next_seed())

    layers: list = [keras.Input((*input_shape, 1))]
    h, w = input_shape
    for i, f in enumerate(filters):
        for j in range(convs_per_block):
            layers.append(
                keras.layers.Conv2D(
                    f,
                    3,
                    padding=padding,
                    use_bias=not batch_norm,
                    kernel_initializer=init(),
                    name=f"conv{i}_{j}",
                )
            )
            if batch_norm:
                layers.append(keras.layers.BatchNormalization(name=f"bn{i}_{j}"))
            layers.append(keras.layers.ReLU())
        # Pool only along sides that are still at least 2 pixels (tables given as
        # one-pixel-high images by scikit-learn's generic checks).
        if padding == "valid":
            h, w = h - 2 * convs_per_block, w - 2 * convs_per_block
        pool = (2 if h >= 2 else 1, 2 if w >= 2 else 1)
        layers.append(keras.layers.MaxPooling2D(pool))
        h, w = h // pool[0], w // pool[1]
        if dropout and batch_norm:
            layers.append(keras.layers.Dropout(dropout / 2, seed=next_seed()))
    layers.append(keras.layers.Flatten())
    for k, units in enumerate(dense):
        layers.append(
            keras.layers.Dense(units, activation="relu", kernel_initializer=init(), name=f"dense{k}")
        )
        if dropout:
            layers.append(keras.layers.Dropout(dropout, seed=next_seed()))
    layers.append(
        keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=init(), name="softmax")
    )
    return keras.Sequential(layers, name="mathocr_cnn")


def _ints(value, name: str) -> tuple[int, ...]:
    """A layer-size parameter as a tuple of ints; one number means one layer (``--set
    clf__filters=32`` on the command line)."""
    if isinstance(value, int | np.integer):
        return (int(value),)
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of ints, got {value!r}") from None


class SymbolClassifier(KerasClassifier):
    """A CNN that classifies one 28x28 symbol image, as a scikit-learn classifier.

    A :class:`scikeras.wrappers.KerasClassifier` whose network is built from the
    hyper-parameters below, so grid searches can tune them. Expects the output of
    :class:`mathocr.preprocessing.Normalize` (``(n, 28, 28)`` floats in [0, 1]);
    ``classes_`` holds the string tokens.

    Parameters
    ----------
    filters : tuple of int, default=(32, 64, 128)
        Convolution filters per block; each block ends in 2x2 max-pooling.
    convs_per_block : int, default=1
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
    learning_rate : float, default=2e-3
        Peak learning rate of Adam; it decays to zero along a cosine over training.
    epochs : int, default=12
    batch_size : int, default=128
    random_state : int, default=0
    verbose : int, default=0
        1 shows Keras' progress bar while fitting.

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
        convs_per_block: int = 1,
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
        **kwargs,
    ):
        # The network is always compiled with Adam on a cosine schedule (see
        # _keras_build_fn); say so in scikeras' own `optimizer` parameter too.
        kwargs.setdefault("optimizer", "adam")
        super().__init__(
            epochs=epochs, batch_size=batch_size, random_state=random_state, verbose=verbose, **kwargs
        )
        self.filters = filters
        self.convs_per_block = convs_per_block
        self.dense = dense
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.augment = augment
        self.warp = warp
        self.padding = padding
        self.learning_rate = learning_rate

    def _validate_hyperparameters(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Check every hyper-parameter; return the layer sizes as tuples (filters, dense)."""
        filters, dense = _ints(self.filters, "filters"), _ints(self.dense, "dense")
        if not filters or any(f < 1 for f in filters):
            raise ValueError(f"filters must be a non-empty sequence of positive ints, got {self.filters!r}")
        if any(u < 1 for u in dense):
            raise ValueError(f"dense must be a sequence of positive ints, got {self.dense!r}")
        if len(filters) > 4:
            raise ValueError("at most 4 pooling blocks fit a 28x28 input")
        if int(self.convs_per_block) < 1:
            raise ValueError(f"convs_per_block must be >= 1, got {self.convs_per_block!r}")
        if not 0 <= float(self.augment) <= 3:
            raise ValueError(f"augment must be a strength in [0, 3], got {self.augment!r}")
        if not 0 <= float(self.warp) <= 3:
            raise ValueError(f"warp must be a strength in [0, 3], got {self.warp!r}")
        if not 0 <= float(self.dropout) < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if float(self.learning_rate) <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {self.padding!r}")
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        return filters, dense

    def _keras_build_fn(self, compile_kwargs):
        filters, dense = self._validate_hyperparameters()
        # (n, features) tables are seen as one-pixel-high images (see _validate_data)
        shape = tuple(self.X_shape_[1:3]) if len(self.X_shape_) > 2 else (1, self.X_shape_[1])
        model = build_cnn(
            n_classes=self.n_classes_,
            input_shape=shape,
            filters=filters,
            convs_per_block=int(self.convs_per_block),
            dense=dense,
            dropout=float(self.dropout),
            batch_norm=bool(self.batch_norm),
            padding=str(self.padding),
            seed=self._seed(),
        )
        steps = int(np.ceil(self.X_shape_[0] / int(self.batch_size))) * int(self.epochs)
        schedule = keras.optimizers.schedules.CosineDecay(float(self.learning_rate), max(steps, 1))
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

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
        if layer is None:
            return super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)
        model = self.model_
        plain_step = model.train_step

        def train_step(data):
            # Distorting the batch here rather than in a layer keeps the network (and
            # its ONNX export) free of it.
            x, target, weight = keras.utils.unpack_x_y_sample_weight(data)
            if x.shape.rank == 3:  # (n, h, w) images: the network's input has a channel axis
                x = x[..., None]
            x = layer(x, training=True)
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
