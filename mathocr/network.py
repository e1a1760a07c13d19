"""The Keras parts of mathocr: the symbol CNN and the training-time distortion layer.

:func:`symbol_cnn` is what :class:`mathocr.estimator.SymbolClassifier` passes to
scikeras as its ``model`` (the network as a parameter, as ``keras.wrappers`` and skorch
take it): it builds :func:`build_cnn` for the data's shape and classes and compiles it
with the classifier's ``compile_kwargs``. :class:`RandomDistortion` varies training
images; the classifier applies it to each training batch, so it is never part of a
built network or of its ONNX export.

Importing this module imports TensorFlow (seconds, hundreds of MB).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf


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
    convs_per_block: int | Sequence[int] = 2,
    dense: Sequence[int] = (128,),
    dropout: float = 0.25,
    batch_norm: bool = True,
    padding: str = "same",
    seed: int | None = None,
) -> keras.Sequential:
    """Build the CNN: blocks of 3x3 convolutions (each block ends in 2x2 max-pooling),
    dense layers, a softmax over ``n_classes``.

    The network is returned uncompiled (:func:`symbol_cnn` compiles it). Training-time
    distortion is not part of it: :class:`~mathocr.estimator.SymbolClassifier` applies
    :class:`RandomDistortion` to each training batch, so the exported model is the
    network alone.

    Parameters
    ----------
    n_classes : int
    input_shape : (int, int), default=(28, 28)
    filters : sequence of int, default=(32, 64)
        Convolution filters per block.
    convs_per_block : int or sequence of int, default=2
        Convolutions in each block: one number for every block, or one count per
        block (``(1, 2, 2)``).
    dense : sequence of int, default=(128,)
        Hidden dense layers.
    dropout : float, default=0.25
        After each dense layer; half of it after each block when ``batch_norm``.
    batch_norm : bool, default=True
    padding : {"same", "valid"}, default="same"
    seed : int, optional
        Seeds every initialiser and dropout layer (each its own seed drawn from it).

    Returns
    -------
    keras.Sequential

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
    per_block = _per_block(convs_per_block, len(filters))
    for i, (f, convs) in enumerate(zip(filters, per_block, strict=True)):
        for j in range(convs):
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
            h, w = h - 2 * convs, w - 2 * convs
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


def _per_block(convs_per_block: int | Sequence[int], n_blocks: int) -> tuple[int, ...]:
    """Convolutions per block as one count per block."""
    if isinstance(convs_per_block, int | np.integer):
        return (int(convs_per_block),) * n_blocks
    return _ints(convs_per_block, "convs_per_block")


def check_network(
    filters: Sequence[int] | int,
    convs_per_block: int | Sequence[int],
    dense: Sequence[int] | int,
    dropout: float,
    padding: str,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Check the network's hyper-parameters; return the layer sizes as tuples
    ``(filters, convs_per_block, dense)``, the convolutions as one count per block.

    Parameters
    ----------
    filters, convs_per_block, dense, dropout, padding
        As :func:`symbol_cnn` takes them; one number for ``filters`` or ``dense``
        means one layer (``--set clf__filters=32`` on the command line), one for
        ``convs_per_block`` the same count in every block.

    Returns
    -------
    filters, convs_per_block, dense : tuple of int

    Raises
    ------
    ValueError
        Naming the first parameter that is out of range.
    """
    filters_, dense_ = _ints(filters, "filters"), _ints(dense, "dense")
    if not filters_ or any(f < 1 for f in filters_):
        raise ValueError(f"filters must be a non-empty sequence of positive ints, got {filters!r}")
    if any(u < 1 for u in dense_):
        raise ValueError(f"dense must be a sequence of positive ints, got {dense!r}")
    if len(filters_) > 4:
        raise ValueError("at most 4 pooling blocks fit a 28x28 input")
    convs_ = _per_block(convs_per_block, len(filters_))
    if len(convs_) != len(filters_) or any(c < 1 for c in convs_):
        raise ValueError(
            f"convs_per_block must be an int >= 1 or one such int per block of filters {filters_}, "
            f"got {convs_per_block!r}"
        )
    if not 0 <= float(dropout) < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    return filters_, convs_, dense_


def symbol_cnn(
    meta: dict[str, Any],
    compile_kwargs: dict[str, Any],
    filters: Sequence[int] | int = (32, 64, 128),
    convs_per_block: int | Sequence[int] = 1,
    dense: Sequence[int] | int = (128,),
    dropout: float = 0.25,
    batch_norm: bool = True,
    padding: str = "same",
    random_state: int | np.random.RandomState | None = None,
) -> keras.Model:
    """Build and compile the symbol CNN: ``SymbolClassifier``'s scikeras ``model``.

    scikeras calls it when fitting starts, with the fitted data's ``meta`` and the
    classifier's ``compile_kwargs``; the other arguments are the classifier's
    hyper-parameters of the same names.

    Parameters
    ----------
    meta : dict
        scikeras' meta-parameters: ``n_classes_`` and ``X_shape_`` are used. An
        ``(n, features)`` table is built as one-pixel-high images (scikit-learn's
        generic checks pass such tables).
    compile_kwargs : dict
        Keyword arguments of ``keras.Model.compile`` (optimizer, loss, metrics, ...).
    filters, convs_per_block, dense, dropout, batch_norm, padding
        The network, see :func:`build_cnn`; one number for ``filters`` or ``dense``
        means one layer.
    random_state : int, optional
        Seeds the initialisers and dropout layers (see :func:`build_cnn`).

    Returns
    -------
    keras.Model
        Compiled.
    """
    filters_, convs_, dense_ = check_network(filters, convs_per_block, dense, dropout, padding)
    x_shape = meta["X_shape_"]
    shape = tuple(x_shape[1:3]) if len(x_shape) > 2 else (1, x_shape[1])
    model = build_cnn(
        n_classes=meta["n_classes_"],
        input_shape=shape,
        filters=filters_,
        convs_per_block=convs_,
        dense=dense_,
        dropout=float(dropout),
        batch_norm=bool(batch_norm),
        padding=str(padding),
        seed=int(random_state) if isinstance(random_state, int | np.integer) else None,
    )
    model.compile(**compile_kwargs)
    return model
