"""Scikit-learn transformers that turn symbol crops of any size into MNIST-like inputs.

Both are stateless: ``fit`` only validates, so they clone, pickle and grid-search
like any scikit-learn transformer. Both accept a list of 2-D arrays of any sizes or
an ``(n, h, w)`` array.

This module also owns mathocr's one ink-polarity rule, :func:`ink_is_dark` (with
:func:`to_ink_on_black`): training images (:mod:`mathocr.datasets`), :class:`Binarize`
and the page segmentation (:mod:`mathocr.segmentation`) all decide polarity with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage
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


# ---------------------------------------------------------------------------- ink polarity


def ink_is_dark(
    image: np.ndarray, scope: Literal["crop", "page"] = "crop", *, means: np.ndarray | None = None
) -> bool:
    """Whether the ink of a grey image is darker than its background: mathocr's one polarity rule.

    A single symbol and a whole page need different evidence, so ``scope`` says
    which one ``image`` is; every caller names its case instead of keeping a rule of
    its own.

    Parameters
    ----------
    image : ndarray
        2-D ``uint8`` grey image.
    scope : {"crop", "page"}, default="crop"
        ``"crop"``: one symbol (a training image, a crop cut from a page), whose
        border is background, since ink rarely covers half of it: the ink is dark
        when more than half of the border pixels (each counted once) are light
        (> 127). Used by :func:`to_ink_on_black` (training images) and
        :class:`Binarize`.

        ``"page"``: a whole page or photo (:func:`mathocr.segmentation.ink_signal`).
        Its border may be a desk, a shadow or a finger and its light uneven, so the
        border says nothing: the image is cut into blocks of
        :func:`page_block_size` pixels and, where a block holds ink, its extreme pixel
        lies far on the ink's side of the surrounding paper (the median of the
        neighbouring block means), while a shadow edge pushes both ways alike. The
        ink is dark when the darker deviations (beyond 12 grey levels) outweigh the
        lighter ones.
    means : ndarray, optional
        ``"page"`` only: the page's :func:`block_means` for :func:`page_block_size`,
        when the caller has them already (segmentation reuses them).

    Returns
    -------
    bool

    Examples
    --------
    >>> img = np.full((5, 5), 255, np.uint8); img[2, 1:4] = 0   # dark ink on white
    >>> ink_is_dark(img), ink_is_dark(255 - img)
    (True, False)
    """
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {img.shape}")
    if scope == "crop":
        light = int((img[0] > 127).sum()) + int((img[-1] > 127).sum())
        light += int((img[1:-1, 0] > 127).sum()) + int((img[1:-1, -1] > 127).sum())
        border = 2 * img.shape[1] + 2 * max(img.shape[0] - 2, 0)
        return 2 * light > border
    if scope == "page":
        return _page_ink_is_dark(img, page_block_size(img.shape), means)
    raise ValueError(f"scope must be 'crop' or 'page', got {scope!r}")


def to_ink_on_black(image: np.ndarray, scope: Literal["crop", "page"] = "crop") -> np.ndarray:
    """Return a ``uint8`` grey image as light ink on a dark background, inverted when its ink is dark.

    Parameters
    ----------
    image : ndarray
        2-D grey image (cast to ``uint8``).
    scope : {"crop", "page"}, default="crop"
        What the image is; see :func:`ink_is_dark`, which decides the polarity.

    Returns
    -------
    ndarray of uint8
        ``255 - image`` when the ink is dark, else ``image`` itself.

    Examples
    --------
    >>> img = np.full((5, 5), 255, np.uint8); img[2, 1:4] = 0
    >>> to_ink_on_black(img)[2]
    array([  0, 255, 255, 255,   0], dtype=uint8)
    """
    img = np.asarray(image, dtype=np.uint8)
    return 255 - img if ink_is_dark(img, scope) else img


def to_grey(image: np.ndarray) -> np.ndarray:
    """Return a ``uint8`` image as 2-D grey: RGB by Pillow's ``"L"`` conversion (ITU-R 601-2 luma).

    A 2-D image is returned as it is. :func:`mathocr.io.read_image` keeps colour
    (segmentation uses it); this is how its RGB becomes grey, for training images and
    pages alike.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, 3)`` ``uint8``.

    Returns
    -------
    ndarray of uint8, shape (H, W)

    Raises
    ------
    ValueError
        For any other dtype or shape.

    Examples
    --------
    >>> to_grey(np.array([[[255, 0, 0], [255, 255, 255]]], np.uint8))
    array([[ 76, 255]], dtype=uint8)
    """
    img = np.asarray(image)
    if img.ndim == 2:
        return img
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W) or (H, W, 3) image, got {img.dtype} {img.shape}")
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).convert("L"))


def page_block_size(shape: tuple[int, ...]) -> int:
    """Side, in pixels, of the blocks a page's background is estimated from.

    The background window is ~1/3 of the short side (5 blocks): wider than any
    stroke, narrower than the light changes across a photographed page.

    Parameters
    ----------
    shape : tuple of int
        The page's shape; its first two entries are height and width.

    Returns
    -------
    int
    """
    window = min(max(min(shape[:2]) / 3.0, 15.0), 400.0)
    return max(1, round(window / 5.0))


def block_means(a: np.ndarray, k: int) -> np.ndarray:
    """Per ``k`` x ``k`` block mean of a ``uint8`` image (partial blocks at the edges included), via PIL.

    Parameters
    ----------
    a : ndarray
        ``(H, W)`` or ``(H, W, 3)`` ``uint8``.
    k : int
        Block side in pixels.

    Returns
    -------
    ndarray of float32, shape ``(ceil(H / k), ceil(W / k)[, 3])``
    """
    return np.asarray(Image.fromarray(a).reduce(k), dtype=np.float32)


def _block_extremes(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per k x k block minimum and maximum of a 2-D array (a ragged edge is dropped)."""
    hb, wb = max(1, a.shape[0] // k), max(1, a.shape[1] // k)
    kh, kw = min(k, a.shape[0]), min(k, a.shape[1])
    # Across the k rows of a block first: whole contiguous rows at a time, so the
    # reduction over k-wide runs is left for an array k times smaller.
    bands = a[: hb * kh, : wb * kw].reshape(hb, kh, wb * kw)
    lo = bands.min(axis=1).reshape(hb, wb, kw).min(axis=2)
    hi = bands.max(axis=1).reshape(hb, wb, kw).max(axis=2)
    return lo.astype(np.float32), hi.astype(np.float32)


def _page_ink_is_dark(lum: np.ndarray, k: int, means: np.ndarray | None = None) -> bool:
    """The ``"page"`` rule of :func:`ink_is_dark` for a grey page and block size ``k``."""
    lum = np.ascontiguousarray(lum)
    # Every other pixel is enough for the extremes: strokes are wider than that.
    step = 2 if k >= 4 else 1
    lo, hi = _block_extremes(lum[::step, ::step], k // step)
    if means is None:
        means = block_means(lum, k)
    h, w = min(lo.shape[0], means.shape[0]), min(lo.shape[1], means.shape[1])
    lo, hi = lo[:h, :w], hi[:h, :w]
    paper = ndimage.median_filter(means[:h, :w], size=5, mode="nearest")
    darker = float(np.clip(paper - lo - 12.0, 0, None).sum())
    lighter = float(np.clip(hi - paper - 12.0, 0, None).sum())
    return darker >= lighter


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
        ``"auto"`` inverts the image when its ink is dark by :func:`ink_is_dark`
        (``scope="crop"``: more than half of the border pixels are light).

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
            if self.polarity == "dark-ink" or (self.polarity == "auto" and ink_is_dark(img)):
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
