"""One renderer from pen trajectories to the images mathocr receives.

Strokes are sequences of ``(x, y)`` points, y growing downwards, in any unit: a UNIPEN
tablet's, a canvas's pixels, a unit box. :func:`render` draws them as

``"canvas"``
    a drawing page's export: round pen, black on white, anti-aliased;
``"paper"``
    pen or pencil on paper: grey ink on off-white, slightly blurred, sensor noise and
    JPEG compression;
``"lowres"``
    a small, thresholded scan enlarged without smoothing (blocky strokes, as old
    scanners, faxes and captcha images give);
``"box"``
    the same, with the glyph first stretched to fill a square box, as form readers
    and some digit datasets normalise (a thin ``1`` arrives wide).

Geometry is varied on the strokes themselves (:func:`distort`: slant, rotation,
stretch), before drawing, so every training image keeps the hard pen edges a real
drawing has; warping pixels instead blurs them (see the README's "What did not work").

Examples
--------
>>> import numpy as np
>>> one = [np.array([[0.55, 0.0], [0.45, 1.0]])]
>>> img = render(one, size=40, pen=4)
>>> img.dtype, img.ndim, int(img.min()) < 64 < 192 < int(img.max())
(dtype('uint8'), 2, True)
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

STYLES = ("canvas", "paper", "lowres", "box")

# Drawing at 4x and reducing gives the anti-aliased edge of a browser canvas.
_SUPERSAMPLE = 4


def _as_arrays(strokes: Sequence) -> list[np.ndarray]:
    out = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    out = [s for s in out if len(s)]
    if not out:
        raise ValueError("no strokes to draw: every stroke is empty")
    return out


def distort(
    strokes: Sequence,
    rng: np.random.Generator,
    *,
    rotate: float = 12.0,
    shear: float = 0.3,
    stretch: float = 0.35,
) -> list[np.ndarray]:
    """Apply one random affine change of shape to all strokes of a glyph.

    Parameters
    ----------
    strokes : sequence of (n, 2) arrays
    rng : numpy.random.Generator
    rotate : float
        Largest rotation, degrees either way.
    shear : float
        Largest horizontal shear (slant), ``dx = shear * dy``, either way.
    stretch : float
        Largest change of the width-to-height ratio, as a log2 factor either way
        (0.35: from 0.78x to 1.27x as wide).

    Returns
    -------
    list of ndarray

    Examples
    --------
    >>> s = distort([np.array([[0.0, 0.0], [0.0, 1.0]])], np.random.default_rng(0))
    >>> s[0].shape
    (2, 2)
    """
    arrays = _as_arrays(strokes)
    angle = np.radians(rng.uniform(-rotate, rotate))
    c, s = np.cos(angle), np.sin(angle)
    sx = 2.0 ** rng.uniform(-stretch, stretch)
    matrix = np.array([[c, -s], [s, c]]) @ np.array([[sx, rng.uniform(-shear, shear)], [0.0, 1.0]])
    centre = np.concatenate(arrays).mean(axis=0)
    return [(a - centre) @ matrix.T + centre for a in arrays]


def _fit(
    arrays: list[np.ndarray], size: float, margin: float, fill: bool = False
) -> tuple[list[np.ndarray], tuple[int, int]]:
    """Scale the strokes so their longer side (both sides with ``fill``) is ``size`` pixels.

    Returns the placed strokes and the canvas shape.
    """
    points = np.concatenate(arrays)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = high - low
    if fill:
        # A side with no extent (a lone bar) keeps the other side's scale.
        scale = np.where(extent > 0, size / np.maximum(extent, 1e-12), size / max(float(extent.max()), 1e-12))
    else:
        scale = size / float(extent.max()) if extent.max() > 0 else 1.0
    placed = [(a - low) * scale + margin for a in arrays]
    w, h = np.ceil((high - low) * scale + 2 * margin).astype(int) + 1
    return placed, (int(h), int(w))


def _draw(arrays: list[np.ndarray], shape: tuple[int, int], pen: float) -> np.ndarray:
    """Round-pen strokes, ink 255 on 0, anti-aliased."""
    k = _SUPERSAMPLE
    h, w = shape
    im = Image.new("L", (w * k, h * k), 0)
    draw = ImageDraw.Draw(im)
    width = max(1, round(pen * k))
    r = width / 2
    for a in arrays:
        pts = [(float(x) * k, float(y) * k) for x, y in a]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=width, joint="curve")
        for x, y in (pts[0], pts[-1]) if len(pts) > 1 else pts:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(im.reduce(k), dtype=np.uint8)


def render(
    strokes: Sequence,
    *,
    size: float = 56,
    pen: float = 3.0,
    style: str = "canvas",
    margin: float | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw strokes as a grey image, dark ink on a light ground.

    Parameters
    ----------
    strokes : sequence of (n, 2) arrays
        Points ``(x, y)``, y downwards, any unit.
    size : float
        The longer side of the ink, in pixels (the strokes are scaled to it).
    pen : float
        Pen width in pixels.
    style : {"canvas", "paper", "lowres", "box"}
        See the module docstring.
    margin : float, optional
        White space around the ink; defaults to the pen width plus 4 pixels.
    rng : numpy.random.Generator, optional
        Draws the ink colour, blur, noise and compression of ``"paper"`` and the scan
        size of ``"lowres"``; a fixed default makes the output repeatable.

    Returns
    -------
    ndarray of shape (h, w), uint8
        Dark ink on a light ground, as a scan or a canvas export arrives.

    Raises
    ------
    ValueError
        On an unknown style, a non-positive size or pen, or no points.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    if not (size > 0 and pen > 0):
        raise ValueError(f"size and pen must be positive, got size={size}, pen={pen}")
    rng = rng if rng is not None else np.random.default_rng(0)
    margin = pen + 4 if margin is None else margin
    if style in ("lowres", "box"):
        # Scanned small (10-20 px), thresholded, enlarged by whole pixels.
        small = float(rng.uniform(10, 20))
        arrays, shape = _fit(_as_arrays(strokes), small, 1.5, fill=style == "box")
        ink = _draw(arrays, shape, max(1.0, pen * small / size))
        factor = max(1, round(size / small))
        ink = np.where(ink >= 128, 255, 0).astype(np.uint8).repeat(factor, 0).repeat(factor, 1)
        return 255 - np.pad(ink, round(margin))
    arrays, shape = _fit(_as_arrays(strokes), size, margin)
    ink = _draw(arrays, shape, pen).astype(np.float32) / 255.0
    if style == "canvas":
        return (255 - np.round(ink * 255)).astype(np.uint8)
    paper = rng.uniform(200, 250)
    dark = rng.uniform(20, 130)  # ballpoint to pencil
    grey = paper - ink * (paper - dark)
    img = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    grey = np.asarray(img, dtype=np.float32) + rng.normal(0, rng.uniform(1, 6), size=shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(
        buf, "JPEG", quality=int(rng.integers(50, 95))
    )
    return np.asarray(Image.open(buf).convert("L"), dtype=np.uint8)
