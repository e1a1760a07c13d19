"""Scikit-learn transformers that turn symbol crops of any size into MNIST-like inputs.

Both are stateless: ``fit`` only validates, so they clone, pickle and grid-search
like any scikit-learn transformer. Both accept a list of 2-D arrays of any sizes or
an ``(n, h, w)`` array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin

ImageBatch = Sequence[np.ndarray] | np.ndarray


def as_image_list(X: ImageBatch) -> list[np.ndarray]:
    """Validate a batch of images and return it as a list of 2-D arrays.

    Raises
    ------
    ValueError
        If an element is not 2-D, is empty, or holds non-finite values.
    """
    if isinstance(X, np.ndarray):
        if X.ndim == 4 and X.shape[-1] == 1:
            X = X[..., 0]
        if X.ndim != 3:
            raise ValueError(f"expected a list of 2-D images or an (n, h, w) array, got shape {X.shape}")
        return list(X)
    try:
        images = [np.asarray(x) for x in X]
    except TypeError:
        raise ValueError(f"expected a list of 2-D images, got {type(X).__name__}") from None
    for i, img in enumerate(images):
        if img.ndim == 3 and img.shape[-1] == 1:
            images[i] = img = img[..., 0]
        if img.ndim != 2:
            raise ValueError(f"image {i} has shape {img.shape}; expected a 2-D grey image")
        if img.size == 0:
            raise ValueError(f"image {i} is empty (shape {img.shape})")
        if img.dtype.kind not in "biuf":
            raise ValueError(f"image {i} has dtype {img.dtype}; expected numbers")
        if img.dtype.kind == "f" and not np.isfinite(img).all():
            raise ValueError(f"image {i} holds NaN or infinite values")
    return images


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Scale a finite numeric image to uint8 grey levels.

    Booleans become 0/255, floats in [0, 1] (the scikit-image convention) are
    stretched to 0-255, 16-bit images are scaled down; anything else is rounded and
    clipped.

    Examples
    --------
    >>> to_uint8(np.array([[0.0, 1.0]])), to_uint8(np.array([[65535]], np.uint16))
    (array([[  0, 255]], dtype=uint8), array([[255]], dtype=uint8))
    """
    if img.dtype == np.uint8:
        return img
    if img.dtype == bool:
        return img.astype(np.uint8) * 255
    a = img.astype(np.float64)
    if np.issubdtype(img.dtype, np.floating):
        a = a * 255.0 if a.size and a.min() >= 0.0 and a.max() <= 1.0 else a
    elif a.size and a.max() > 255:
        a = a * (255.0 / 65535.0) if a.max() <= 65535 else a * (255.0 / a.max())
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def otsu_threshold(img: np.ndarray) -> int:
    """Otsu's threshold of a uint8 image (the level that best separates two classes)."""
    return int(otsu_thresholds(np.bincount(img.ravel(), minlength=256)[None])[0])


def otsu_thresholds(hists: np.ndarray) -> np.ndarray:
    """Otsu's threshold of each row of ``hists``, ``(n, 256)`` grey-level counts.

    One pass over a whole batch: per image, the dozen array operations would cost
    more than the arithmetic.
    """
    hist = np.asarray(hists, dtype=np.float64)
    total = hist.sum(axis=1, keepdims=True)
    w0 = np.cumsum(hist, axis=1)
    w1 = total - w0
    m0 = np.cumsum(hist * np.arange(hist.shape[1]), axis=1)
    mt = m0[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 / total - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1
    return np.argmax(between, axis=1)


class _ImageTransformer(TransformerMixin, BaseEstimator):
    """Shared tags: stateless, and takes images rather than a feature table."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class Binarize(_ImageTransformer):
    """Threshold each image and return it as white ink (255) on black (0).

    Parameters
    ----------
    threshold : "otsu" or int, default="otsu"
        Otsu's level per image, or a fixed grey level (0-255) applied after the
        polarity is settled.
    polarity : {"auto", "light-ink", "dark-ink"}, default="auto"
        ``"auto"`` takes the median of the border pixels as the background and
        inverts the image when that background is light.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((5, 5), 255, np.uint8); img[2, 1:4] = 0   # dark ink on white
    >>> Binarize().transform([img])[0][2]
    array([  0, 255, 255, 255,   0], dtype=uint8)
    """

    def __init__(self, threshold: str | int = "otsu", polarity: str = "auto"):
        self.threshold = threshold
        self.polarity = polarity

    def _validate(self) -> None:
        if self.polarity not in ("auto", "light-ink", "dark-ink"):
            raise ValueError(f"polarity must be 'auto', 'light-ink' or 'dark-ink', got {self.polarity!r}")
        if self.threshold != "otsu" and not (
            isinstance(self.threshold, int | np.integer) and 0 <= self.threshold < 256
        ):
            raise ValueError(f"threshold must be 'otsu' or an int in [0, 255], got {self.threshold!r}")

    def fit(self, X: ImageBatch, y=None) -> Binarize:
        self._validate()
        as_image_list(X)
        return self

    def transform(self, X: ImageBatch) -> list[np.ndarray]:
        self._validate()
        images = []
        for img in as_image_list(X):
            img = to_uint8(img)
            if self.polarity == "dark-ink" or (self.polarity == "auto" and _light_background(img)):
                img = 255 - img
            images.append(img)
        if not images:
            return []
        hists = np.stack([np.bincount(img.ravel(), minlength=256) for img in images])
        inked = hists > 0
        lo, hi = np.argmax(inked, axis=1), 255 - np.argmax(inked[:, ::-1], axis=1)
        if self.threshold == "otsu":
            thresholds = otsu_thresholds(hists)
        else:
            thresholds = np.full(len(images), int(self.threshold))
        out = []
        for img, flat, t in zip(images, hi - lo < 16, thresholds, strict=True):
            # A flat image has no ink: Otsu would split noise.
            out.append(np.zeros_like(img) if flat else (img > t).view(np.uint8) * np.uint8(255))
        return out


def _light_background(img: np.ndarray) -> bool:
    # The border is mostly background: ink rarely covers more than half of it.
    light = int((img[0] > 127).sum()) + int((img[-1] > 127).sum())
    light += int((img[1:-1, 0] > 127).sum()) + int((img[1:-1, -1] > 127).sum())
    border = 2 * img.shape[1] + 2 * max(img.shape[0] - 2, 0)
    return 2 * light > border


class Normalize(_ImageTransformer):
    """Bring ink-on-black images to ``size`` x ``size`` floats in [0, 1].

    ``method="mnist"`` does what MNIST did to its digits: crop to the ink, scale so
    the longer side fits a ``box``-pixel square *keeping the aspect ratio* (a minus
    stays a thin bar, a 1 stays thin), then centre by mass. ``method="squash"`` is
    the old design: crop to the ink and stretch to ``size`` x ``size``.

    Parameters
    ----------
    size : int, default=28
    box : int, default=20
        Longest side of the ink after scaling (``method="mnist"`` only).
    method : {"mnist", "squash"}, default="mnist"
    min_thickness : float, default=1.5
        Thin dimensions are kept at least this many pixels so a minus does not vanish.

    Examples
    --------
    >>> import numpy as np
    >>> bar = np.zeros((40, 200), np.uint8); bar[18:22, 10:190] = 255
    >>> out = Normalize().transform([bar])
    >>> out.shape, int((out[0].max(axis=1) > 0.5).sum()) <= 3
    ((1, 28, 28), True)
    """

    def __init__(self, size: int = 28, box: int = 20, method: str = "mnist", min_thickness: float = 1.5):
        self.size = size
        self.box = box
        self.method = method
        self.min_thickness = min_thickness

    def _validate(self) -> None:
        if self.method not in ("mnist", "squash"):
            raise ValueError(f"method must be 'mnist' or 'squash', got {self.method!r}")
        if not (isinstance(self.size, int | np.integer) and self.size >= 4):
            raise ValueError(f"size must be an int >= 4, got {self.size!r}")
        if not (isinstance(self.box, int | np.integer) and 1 <= self.box <= self.size):
            raise ValueError(f"box must be an int in [1, size], got {self.box!r}")

    def fit(self, X: ImageBatch, y=None) -> Normalize:
        self._validate()
        as_image_list(X)
        return self

    def transform(self, X: ImageBatch) -> np.ndarray:
        self._validate()
        images = as_image_list(X)
        out = np.zeros((len(images), self.size, self.size), dtype=np.float32)
        for i, img in enumerate(images):
            img = to_uint8(img)
            rows = np.flatnonzero(img.any(axis=1))
            if rows.size == 0:
                continue
            cols = np.flatnonzero(img.any(axis=0))
            ink = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            if self.method == "squash":
                out[i] = _resize(ink, self.size, self.size)
            else:
                out[i] = self._mnist(ink)
        return out

    def _mnist(self, ink: np.ndarray) -> np.ndarray:
        h, w = ink.shape
        scale = self.box / max(h, w)
        # A thin dimension keeps at least `min_thickness` pixels so a minus does not vanish.
        floor = min(max(1, int(np.ceil(self.min_thickness))), self.box)
        nh = min(max(floor, round(h * scale)), self.box)
        nw = min(max(floor, round(w * scale)), self.box)
        small = _resize(ink, nh, nw)
        # A stroke thinner than a pixel after scaling comes out as faint grey: stretch it back.
        peak = small.max()
        if 0 < peak < 1:
            small /= peak
        mass = small.sum()
        cy = float(small.sum(axis=1) @ np.arange(nh)) / mass
        cx = float(small.sum(axis=0) @ np.arange(nw)) / mass
        half = self.size / 2  # where MNIST put the centre of mass
        # Centre by mass, without pushing ink off the canvas.
        top = min(max(round(half - cy), 0), self.size - nh)
        left = min(max(round(half - cx), 0), self.size - nw)
        canvas = np.zeros((self.size, self.size), dtype=np.float32)
        canvas[top : top + nh, left : left + nw] = small
        return canvas


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area-averaging resize of a uint8 image to floats in [0, 1]."""
    # Raw bytes in and out: Image.fromarray and np.asarray(image) cost three times
    # the resize itself on a symbol-sized image.
    pil = Image.frombytes("L", (img.shape[1], img.shape[0]), np.ascontiguousarray(img).tobytes())
    shrink = h <= img.shape[0] and w <= img.shape[1]
    resample = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
    small = pil.resize((w, h), resample).tobytes()
    return np.frombuffer(small, np.uint8).reshape(h, w).astype(np.float32) / np.float32(255.0)
