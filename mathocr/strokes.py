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

:func:`render` scales one glyph to a size, or, given a ``page``, draws strokes that
are already in that page's pixels where they are; :func:`render_line` sets several glyphs
side by side and draws them as one expression. Every glyph image mathocr and its tests
make goes through here: the training renderer, the web page's warm-up and demo strokes,
and the pages the tests read.

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
# The styles that keep the strokes' geometry, so strokes can be drawn at given pixels.
PLACED_STYLES = ("canvas", "paper")

# Drawing at 4x and reducing gives the anti-aliased edge of a browser canvas.
_SUPERSAMPLE = 4


def _as_arrays(strokes: Sequence) -> list[np.ndarray]:
    out = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    out = [s for s in out if len(s)]
    if not out:
        raise ValueError("no strokes to draw: every stroke is empty")
    return out


def spread(strokes: Sequence) -> float:
    """The ink's extent across its main axis over its extent along it.

    0 for a straight bar (a plain ``1``, a ``/``, a ``-``), about 0.3 or more once a
    ``1`` has a flag or a foot, 0.5-0.9 for the other digits and ``+``.

    Examples
    --------
    >>> round(spread([np.array([[0.5, 0.0], [0.4, 1.0]])]), 3)
    0.0
    >>> spread([np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.5, -0.5], [0.5, 0.5]])]) > 0.9
    True
    """
    points = np.concatenate(_as_arrays(strokes))
    points = points - points.mean(axis=0)
    if len(points) < 2:
        return 0.0
    # The principal axes of the points; full_matrices gives both even for one direction.
    _u, _s, axes = np.linalg.svd(points, full_matrices=True)
    extent = np.ptp(points @ axes.T, axis=0)
    return float(extent[1] / extent[0]) if extent[0] > 0 else 0.0


def distort(
    strokes: Sequence,
    rng: np.random.Generator,
    *,
    rotate: float = 12.0,
    shear: float = 0.3,
    stretch: float = 0.35,
    wobble: float = 0.0,
) -> list[np.ndarray]:
    """Apply one random change of shape to all strokes of a glyph: affine, then a wobble.

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
    wobble : float
        Size of a smooth random displacement of every point (a sum of three plane waves
        per axis, up to one cycle across the glyph), as a share of the glyph's larger
        side: loops open or close, curves bend, strokes meet or miss, as from one writer
        to the next. Done on the strokes, so the pen still draws hard edges.

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
    arrays = [(a - centre) @ matrix.T + centre for a in arrays]
    if wobble:
        side = max(float(np.ptp(np.concatenate(arrays), axis=0).max()), 1e-12)
        waves = rng.uniform(-1.0, 1.0, (2, 3, 2)) * (2 * np.pi / side)  # per axis, wave, direction
        phases = rng.uniform(0, 2 * np.pi, (2, 3))
        sizes = rng.uniform(-1.0, 1.0, (2, 3)) * (wobble * side / 3)
        arrays = [
            a + np.stack([(np.sin(a @ waves[j].T + phases[j]) * sizes[j]).sum(axis=1) for j in (0, 1)], 1)
            for a in arrays
        ]
    return arrays


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
    page: tuple[int, int] | None = None,
) -> np.ndarray:
    """Draw strokes as a grey image, dark ink on a light ground.

    Parameters
    ----------
    strokes : sequence of (n, 2) arrays
        Points ``(x, y)``, y downwards, any unit (pixels with ``page``).
    size : float
        The longer side of the pen's path, in pixels (the strokes are scaled to it).
    pen : float
        Pen width in pixels.
    style : {"canvas", "paper", "lowres", "box"}
        See the module docstring; with ``page``, ``"canvas"`` or ``"paper"``.
    margin : float, optional
        Space between the outermost pen positions and the image's edge, in pixels (the
        ink reaches half a pen width into it); defaults to the pen width plus 4 pixels.
    rng : numpy.random.Generator, optional
        Draws the ink colour, blur, noise and compression of ``"paper"`` and the scan
        size of ``"lowres"``; a fixed default makes the output repeatable.
    page : (int, int), optional
        Width and height of a page whose pixels the strokes are already in: they are
        drawn where they are, not scaled (``size`` and ``margin`` are then unused), and
        no strokes at all give a blank page.

    Returns
    -------
    ndarray of shape (h, w), uint8
        Dark ink on a light ground, as a scan or a canvas export arrives.

    Raises
    ------
    ValueError
        On an unknown style, a non-positive size or pen, or no points (without
        ``page``).

    Examples
    --------
    >>> page = render([[(10, 10), (50, 30)]], pen=4, page=(60, 40))
    >>> page.shape, int(page[20, 30]) < 64 < 192 < int(page[5, 50])
    ((40, 60), True)
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    if not (size > 0 and pen > 0):
        raise ValueError(f"size and pen must be positive, got size={size}, pen={pen}")
    rng = rng if rng is not None else np.random.default_rng(0)
    if page is not None:
        if style not in PLACED_STYLES:
            # lowres and box scan the glyph again at their own size: no place is kept.
            raise ValueError(f"with page, style must be one of {', '.join(PLACED_STYLES)}, got {style!r}")
        width, height = page
        arrays = [a for a in (np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes) if len(a)]
        return _finish(_draw(arrays, (int(height), int(width)), pen), style, rng)
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
    return _finish(_draw(arrays, shape, pen), style, rng)


def _finish(drawn: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """Drawn ink (255 on 0) as a ``"canvas"`` export or as ink on ``"paper"``."""
    ink = drawn.astype(np.float32) / 255.0
    if style == "canvas":
        return (255 - np.round(ink * 255)).astype(np.uint8)
    paper = rng.uniform(200, 250)
    dark = rng.uniform(20, 130)  # ballpoint to pencil
    grey = paper - ink * (paper - dark)
    img = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    grey = np.asarray(img, dtype=np.float32) + rng.normal(0, rng.uniform(1, 6), size=ink.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).save(
        buf, "JPEG", quality=int(rng.integers(50, 95))
    )
    return np.asarray(Image.open(buf).convert("L"), dtype=np.uint8)


Box = tuple[int, int, int, int]


def render_line(
    glyphs: Sequence[Sequence],
    *,
    height: float = 56,
    gap: float = 0.3,
    pen: float = 3.0,
    style: str = "canvas",
    margin: float | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, list[Box]]:
    """Set several glyphs side by side, as one written line, and draw them at once.

    Each glyph's strokes share one unit, the height of a digit, and one vertical
    origin: a digit spans y 0 to 1, an operator written smaller and centred (a ``-``
    at y 0.5) keeps its place in the line. Horizontally each glyph is moved to start
    ``gap`` after the previous one's ink ends, wherever its own x starts.

    Parameters
    ----------
    glyphs : sequence of sequences of (n, 2) arrays
        The strokes of each glyph, left to right; points ``(x, y)``, y downwards.
    height : float
        Pixels per unit: the height of a digit.
    gap : float
        White space between neighbouring glyphs' ink, in units.
    pen : float
        Pen width in pixels.
    style : {"canvas", "paper"}
        As :func:`render`.
    margin : float, optional
        As :func:`render`: from the outermost pen positions to the image's edge.
    rng : numpy.random.Generator, optional
        As :func:`render`.

    Returns
    -------
    image : ndarray of shape (h, w), uint8
        Dark ink on a light ground.
    boxes : list of (x, y, w, h)
        Each glyph's ink box in the image's pixels, as a segmenter reports one: the
        ground truth a test of reading the line compares with.

    Raises
    ------
    ValueError
        On a style other than ``"canvas"`` or ``"paper"``, a non-positive height or
        pen, a negative gap, or a glyph without points.

    Examples
    --------
    >>> one = [np.array([[0.5, 0.0], [0.5, 1.0]])]
    >>> minus = [np.array([[0.0, 0.5], [0.6, 0.5]])]
    >>> image, boxes = render_line([one, minus, one], height=40, gap=0.25, pen=4)
    >>> boxes
    [(6, 6, 4, 44), (20, 26, 28, 4), (58, 6, 4, 44)]
    >>> image.shape, int(image[28, 30]) < 64 < 192 < int(image[10, 30])
    ((56, 68), True)
    """
    if style not in PLACED_STYLES:
        raise ValueError(f"style must be one of {', '.join(PLACED_STYLES)}, got {style!r}")
    if not (height > 0 and pen > 0 and gap >= 0):
        raise ValueError(f"height and pen must be positive and gap not negative, got {height}, {pen}, {gap}")
    if not glyphs:
        raise ValueError("no glyphs to draw")
    margin = pen + 4 if margin is None else margin
    placed: list[np.ndarray] = []
    spans: list[tuple[float, float, float, float]] = []  # each glyph's pen path: x0, y0, x1, y1
    x = 0.0
    for glyph in glyphs:
        arrays = [a * height for a in _as_arrays(glyph)]
        points = np.concatenate(arrays)
        (left, top), (right, bottom) = points.min(axis=0), points.max(axis=0)
        placed += [a - (left - x, 0.0) for a in arrays]
        spans.append((x, top, x + right - left, bottom))
        # The pen reaches half its width past the path on either side.
        x += right - left + pen + gap * height
    top = min(s[1] for s in spans)
    offset = np.array([margin, margin - top])
    width = spans[-1][2] + 2 * margin
    depth = max(s[3] for s in spans) - top + 2 * margin
    image = render(
        [a + offset for a in placed],
        pen=pen,
        style=style,
        rng=rng,
        page=(int(np.ceil(width)), int(np.ceil(depth))),
    )
    half = pen / 2
    boxes = []
    for x0, y0, x1, y1 in spans:
        # A pixel is ink when the pen covers its larger part: round the ink's edges.
        left, up = round(x0 + margin - half), round(y0 - top + margin - half)
        right, down = round(x1 + margin + half), round(y1 - top + margin + half)
        boxes.append((left, up, right - left, down - up))
    return image, boxes
