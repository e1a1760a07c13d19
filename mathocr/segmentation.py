"""Page -> ordered symbol crops with their boxes.

The steps, each chosen to survive phone photos as well as clean canvas drawings:

1. **Work size.** Huge photos are reduced (integer box filter) so that the long
   side is at most ``max_side``; boxes are mapped back to original pixels.
2. **Page.** In a photo of a sheet lying on something darker, the page is
   found (:func:`find_page`: regions of a small-block brightness map split at the sharp
   steps of a page edge; a shadow's edge is soft) and everything off it is read as the
   paper beside it, so the table weighs neither in the polarity nor in the paper level,
   and never becomes ink.
3. **Ink signal.** A background is estimated per channel at a scale larger than a
   stroke (block means, then a grey *closing* that erases strokes but keeps the
   slow light changes and shadow edges), and subtracted. The ink signal is the
   largest per-channel difference, so a red, blue or grey ink on any paper gives a
   strong signal; the polarity (dark ink on light, or chalk on a board) is found
   from which side of the background the strong deviations lie
   (:func:`mathocr.preprocessing.ink_is_dark`, ``scope="page"``).
4. **Threshold** at a fraction of the ink contrast, never below the paper noise.
   (Otsu is avoided: it degenerates when ink covers under 1% of a photo.)
5. **Components** (8-connected) with specks dropped relative to the stroke width:
   marks too small for a dot of this pen, and small slivers much thinner than it.
   Ruled or squared paper's lines (large marks far thinner than the pen) are opened
   away; marks far thicker than the pen at the image's edge (the table, a shadow) or
   shaped as a solid disc (a punched hole) are background (the pen is measured on the
   other marks). The dots of a ``÷`` drawn
   lighter than its bar are taken at half the threshold.
6. **Lines.** Tall components that overlap vertically form a line; lines stacked over
   each other (overlapping horizontally) are the several lines of text of the image
   (one exercise each), numbered top to bottom. A bracket, taller than the digits,
   stays on its line. A small mark far above or below its line (:data:`STRAY`) is none
   of its symbols.
7. **Symbols.** Components of one line whose boxes overlap horizontally are parts of
   one symbol (``÷`` is a bar and two dots, a broken ``5``, an ``x`` in two
   strokes) and are merged, as are two small marks stacked (``:``, ``=``). Some
   symbols are told by their shape, which the classifier does not learn: two stacked
   bars are flagged ``"equals"``, a bar between two dots ``"obelus"``, two stacked
   dots ``"colon"`` and a dot low between two digits ``"point"`` (a decimal point; a
   dot at mid-height is a multiplication). An upright arc is a bracket (``"open"``,
   ``"close"``) when it stands taller than the digits, or, of the digits' height, when
   another bracket faces it along its line.
8. **Order** line by line, left to right, and one crop per symbol: white ink on black,
   masked to the symbol's own components, with a background margin.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from .preprocessing import block_means, ink_is_dark, page_block_size, to_grey

MAX_SIDE = 1600
"""Long side, in pixels, above which an image is reduced before segmenting."""

MAX_COMPONENTS = 400
"""At most this many marks are considered (the largest); more means a busy photo."""

SLIVER = 0.5
"""A mark under half the line height whose own stroke width (twice its area over its
edge length) is under this fraction of the page's stroke width is dropped as a speck.
Measured on held-out symbols drawn with one pen: dots, the parts of a ``÷``, minus
signs and cross strokes are all at least 0.63 of it; slivers of blurred edges and
broken-off fragments of digits mostly under 0.45."""

THICK = 2.5
"""A mark at the image's edge whose own stroke width (twice its area over its edge length)
is over this many times the pen's is no stroke of it: the table, a shadow."""

DISC = 2.5
"""A solid disc whose own stroke width (for a disc, its radius) is over this many times the
pen's is no mark of it: a punched hole. The largest disc a pen leaves, a multiplication
dot, is about twice the pen wide (a radius of one pen width); a heavy digit whose loops
ink filled measures up to 1.8 pen widths and can fill its box as a disc does."""

THIN_LINE = 0.5
"""Marks thinner than this fraction of the pen, when large or many, are ruled or squared
paper's lines: they are opened away before reading (with a pen at least 4 pixels wide,
whose strokes the opening keeps). Every mark of the pen is at least ~0.63 of it
(:data:`SLIVER`)."""

LINE_LEFT = 0.25
"""Where a page's printed lines were opened away (:data:`THIN_LINE`), a mark left whose own
stroke width is under this fraction of the pen's is what remains of them, however long (a
squared sheet's lines printed thicker where the sheet is nearer the phone: 0.21 of the pen).
The thinnest strokes of digits written with the pen measure about half of it."""

DOT = 0.3
"""A dot (a decimal point, either dot of a ``:``) has its longer side at most this fraction
of its line's height (the median full-size mark's), or, for a heavy pen, at most three pen
widths and 0.65 of that height (:func:`_dot_size`); it is roughly round (its longer side at
most twice its shorter, its ink at least 0.55 of its box, and :data:`ROUND`) and no speck
(its shorter side at least 0.6 of the pen's width)."""

ROUND = 0.65
"""A dot is round: the largest disc inside it is at least this fraction of its longer side
across (a disc's is its whole width, a dot slightly oval about 0.75). A heavy ``x`` fills its
box as much as a dot but is thick only where its strokes cross (about half its size), and a
short stroke's stub is half as thick as long."""

COLON_ROUND = 0.55
"""The dots of a ``:`` may be rounder than a stroke's stub and less round than
:data:`ROUND`: their place (two small marks stacked upright in the line's middle,
:func:`_is_colon`) says what they are, and a dot drawn with a short drag on a large canvas
is an oval (the page's own handwriting at 600x200, its dots 15 by 24 pixels: 0.63), which
left ``6:33`` read ``6/33`` or ``6+33``, asked. On the 280 drawings of the page's own
handwriting above: right and sure 160 -> 174 (colons 20 -> 34 of 40); the 4,400 development
drawings of writers' glyphs read as before but one (a wrong reading refused, now asked)."""

POINT_LOW = 0.85
"""A dot between two full-height marks whose lowest ink lies at least this far down their
vertical band (0 at their top, 1 at their bottom), its centre at least 0.6 down and not
a quarter band below the band, is a decimal point; a dot higher up is a
multiplication dot. On the held-out synthetic pages, 99% of points reach 0.88 or lower,
99% of multiplication dots stop at 0.76 or higher; the end of a 4's cross bar broken
off (reaching 0.7 to 0.8) is no point."""

OPEN_FOUR = (0.2, 0.3, 0.65)
"""An open ``4`` drawn in two strokes that do not touch, an ``L`` and an upright stroke
right of it, is one symbol (:func:`_merge_groups`): the stroke begins at most 0.2 of the
taller part's height right of the ``L``, hangs at least 0.3 of it below the ``L``, and
the ``L``'s rightmost ink is its bar, at least 0.65 of the way down. Measured on
synthetic expressions (600 from the UNIPEN calibration writers' glyphs, 400 from
held-out symbols): 75 of 75 split ``4``s meet it and none of 4,207 pairs of neighbouring
symbols. Of the 56 pairs near enough and shaped alike, one hangs as low (0.31, a ``*1``),
its left mark's rightmost ink high (0.04); the ``4``s' bars lie 0.71 to 0.93 down."""

_APART = 0.3  # pixel gap, in pen widths, below which a dot is a piece of the digit it nearly touches


def _dot_size(height, sw: float):
    """The longest side a dot may have on a line of this ``height`` written with a pen ``sw`` wide."""
    return np.maximum(DOT * height, np.minimum(3.0 * sw, 0.65 * height))


_MIN_CONTRAST = 24.0  # grey levels; below this nothing counts as ink
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass
class Segment:
    """One symbol found on the page.

    Attributes
    ----------
    box : (x, y, w, h)
        Bounding box of the symbol's ink in original-image pixels.
    crop : 2-D uint8 array
        The symbol, white ink on black, with a margin of background.
    parts : int
        Number of connected components merged into it.
    line : int
        Index of the text line it belongs to, top to bottom (0 for single-line images).
    flags : tuple of str
        Shape remarks. At most one of the shapes that name a symbol: ``"equals"`` (two
        stacked bars, ``=``), ``"obelus"`` (a bar between two dots, ``÷``), ``"colon"``
        (two stacked dots about the line's middle, ``:``, a division) and ``"point"`` (one
        dot low between two full-height marks, a decimal point; a dot at mid-height has
        no flag: a multiplication), or for one upright stroke ``"open"`` (an arc bulging
        left, ``(``, taller than the digits or facing a partner on its line:
        :func:`_flag_paired_arcs`), ``"close"`` (``)``), ``"loose_open"`` or ``"loose_close"`` (the
        same bulge in a stroke that leans or is hooked at its ends, ``[``: likelier a
        bracket than not) or ``"upright"`` (a ``1``, or a straight bracket: the grammar
        decides), or for a line's last mark ``"joined_equals"`` (one flat piece crossing
        two strokes, or two flat bars barely overlapping: a ``=`` drawn joined, nearly as
        likely as not; :data:`EQUALS_JOINED`), the same anywhere on a line for one flat solid
        bar twice the pen thick, a ``=`` whose bars ran together (:data:`EQUALS_MERGED`).
        Then ``"tall"`` (far taller than the line's symbols), ``"wide"`` (far wider) and
        ``"loops"`` (ink enclosing three holes or more: :data:`SCRIBBLE_LOOPS`), for marks
        that may be no one symbol.
    """

    box: tuple[int, int, int, int]
    crop: np.ndarray
    parts: int = 1
    line: int = 0
    flags: tuple[str, ...] = ()


@dataclass
class Segmentation:
    """The symbols of one image, in reading order.

    Attributes
    ----------
    segments : list of Segment
    line_height : float
        Typical height of a full-size symbol (a digit), original pixels.
    stroke_width : float
        Typical stroke width, original pixels.
    lines : int
        Number of text lines (1 for one expression, more for one exercise per line, each
        read on its own: :attr:`Segment.line`; 0 when empty).
    dark_ink : bool
        True for dark ink on a light page, False for light ink on a dark one.
    warnings : list of str
    """

    segments: list[Segment]
    line_height: float
    stroke_width: float
    lines: int
    dark_ink: bool = True
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- ink signal


def _reduce(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink by an integer factor so the long side is at most ``max_side``."""
    factor = math.ceil(max(image.shape[:2]) / max_side)
    if factor <= 1:
        return image, 1.0
    small = np.asarray(Image.fromarray(image).reduce(factor))
    return small, image.shape[1] / small.shape[1]


def _upsample(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a block map (2-D float, or 3-channel 0-255) to ``shape`` (via PIL: fast)."""
    size = (shape[1], shape[0])
    if small.ndim == 2:
        im = Image.fromarray(np.ascontiguousarray(small, dtype=np.float32), mode="F")
        return np.asarray(im.resize(size, Image.Resampling.BILINEAR))
    rgb = np.clip(small + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def ink_signal(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per-pixel ink strength, whatever the ink colour, polarity and lighting.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB ``uint8``.

    Returns
    -------
    signal : ndarray of float32, shape (H, W)
        Contrast of each pixel against the local background, in grey levels
        (0 on clean paper, up to 255 for black on white).
    dark_ink : bool
        True when the ink is darker than its background.

    Examples
    --------
    >>> page = np.full((40, 60), 230, np.uint8); page[10:30, 28:32] = 20
    >>> signal, dark = ink_signal(page)
    >>> dark, int(signal[20, 30]), int(signal[5, 5])
    (True, 232, 0)
    """
    img = np.ascontiguousarray(image)
    k = page_block_size(img.shape)
    lum = to_grey(img)
    found = _page_blocks(lum)
    page = None
    if found is not None:
        blank, page = _blank_outside(img, *found)
        lum, img = to_grey(blank), blank
    # Polarity by mathocr's one rule, for a whole page: a page's border and light
    # say nothing, so the crops' border rule would not do (see ink_is_dark).
    means = block_means(lum, k)
    dark_ink = ink_is_dark(lum, scope="page", means=means)
    if img.ndim == 3:
        sample = img[::4, ::4]
        if int((sample.max(axis=2) - sample.min(axis=2)).max()) < 24:
            img = lum  # no colour anywhere: one channel does, three times faster

    # Closing (dark ink) / opening (light ink) of block means: the paper level,
    # with strokes thinner than the window erased and shadow edges kept.
    morph = ndimage.grey_closing if dark_ink else ndimage.grey_opening
    per_channel = () if img.ndim == 2 else (1,)
    closed = morph(means if img is lum else block_means(img, k), size=(5, 5, *per_channel), mode="nearest")
    bg = ndimage.uniform_filter(closed, (3, 3, *per_channel), mode="nearest")
    # Even paper (a canvas export, a scan) is one level: upsampling the block map
    # to full size would cost more than the rest of this function.
    flat = float(bg.max() - bg.min()) < 1.0
    full = np.float32(bg.mean()) if flat and img.ndim == 2 else _upsample(bg, img.shape[:2])
    if img.ndim == 2:
        diff = full - img if dark_ink else img - full
    else:
        d = np.subtract(full, img, dtype=np.int16) if dark_ink else np.subtract(img, full, dtype=np.int16)
        diff = np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2]).astype(np.float32)
    if dark_ink:
        # Relative to the paper's brightness: ink in a shadow is as dark, relative
        # to the shadowed paper, as ink in the light.
        if img.ndim == 2:
            paper = full
        else:
            paper = np.float32(bg.max(axis=2).mean()) if flat else _upsample(bg.max(axis=2), img.shape[:2])
        diff *= 255.0 / np.maximum(paper, 48.0)
    signal = np.asarray(diff, dtype=np.float32)
    np.clip(signal, 0, 255, out=signal)
    if page is not None:
        signal[~page] = 0.0  # the table, and the page's edge against it
    return signal, dark_ink


PAGE_EDGE = 0.3
"""Least step of log brightness across a few pixels that is a page edge: paper at least
1.35 times as bright as the table beside it. A shadow's soft edge and the paper's texture
change the log brightness by under 0.05 between neighbouring blocks; ruled lines and
strokes are erased first (a grey closing)."""

PAGE_BLOCKS = 150
"""The page is found on a grid of about this many blocks along the long side."""

PAGE_AREA = 0.02
"""Least share of the photo a page takes (its flat inside: without the blocks along its
edge). A sheet photographed from a metre away fills 5% of the frame."""

HOLE_SOLID = 0.5
"""A dark patch near the page's edge is a punched hole (the table seen through the paper)
only if it is solid: the widest disc of pixels as dark as the table inside it spans at
least this fraction of its box's longer side. On 120 synthetic photos (seed 11, not the
bench's) the 67 holes measured 0.58 or more; a heavy ``5`` written near the edge, 0.32 (a
pen's stroke is as wide as the pen, however dark, and a digit is longer than wide)."""

HOLE_NEAR = 0.12
"""A punched hole lies within this share of the page's size (the square root of its area
as seen) of its edge, or of the image's border where the page runs past it. On 300
synthetic photos (seeds 7 and 11, not the bench's) the dark solid patches taken for
holes lay within 0.11; a heavy ``5`` at 0.137 had been taken for one (a binder's holes
are about a centimetre in from the edge of a page 25 cm across)."""

CHALK_BLOCKS = 10
"""Least number of light peaks on a dark surface that make it a board written on in chalk
(the "page" beside it a wall): a chalk digit a thirtieth of the frame high leaves about ten."""


def find_page(image: np.ndarray) -> np.ndarray | None:
    """Where the paper is, in a photo that also shows what it lies on.

    The image is cut into small blocks; their log mean brightness, with strokes and
    printed lines erased by a grey closing, is split into regions at the sharp steps a
    page edge makes (a shadow's edge is soft, and crosses the page as part of it). The
    page is the brightest large region with the holes in it filled (ink, punched holes),
    less the blocks along its edge, where paper and table mix.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB ``uint8`` (dark ink on a light page).

    Returns
    -------
    ndarray of bool, shape of ``lum``, or None
        True on the page; None when there is no darker surround to remove (a canvas
        export, a scan, a photo filled by the page, chalk on a board).

    Examples
    --------
    >>> photo = np.full((300, 300), 60, np.uint8); photo[40:260, 80:300] = 230
    >>> page = find_page(photo)
    >>> bool(page[150, 200]), bool(page[150, 20]), bool(page[150, 85])
    (True, False, False)
    """
    grey = to_grey(np.asarray(image))
    found = _page_blocks(grey)
    return None if found is None else _blocks_to_pixels(found[0], found[1], grey.shape)


def _blocks_to_pixels(grid: np.ndarray, b: int, shape: tuple[int, ...]) -> np.ndarray:
    full = np.repeat(np.repeat(grid, b, axis=0), b, axis=1)
    return full[: shape[0], : shape[1]]


def _page_blocks(lum: np.ndarray) -> tuple[np.ndarray, int] | None:
    """:func:`find_page` on its grid: (page mask per block, block side), or None."""
    b = max(2, round(max(lum.shape) / PAGE_BLOCKS))
    if min(lum.shape) < 8 * b:
        return None
    raw = np.log(block_means(lum, b) + 8.0)
    log = ndimage.grey_closing(raw, size=(3, 3), mode="nearest")
    step = ndimage.grey_dilation(log, size=(3, 3)) - ndimage.grey_erosion(log, size=(3, 3))
    # Regions are cut apart where they narrow to a block or two: where an edge meets the
    # image border at a slant, the table would otherwise reach the page along the border.
    flat = step < PAGE_EDGE
    regions, n = ndimage.label(ndimage.binary_erosion(flat, border_value=1))
    if n < 2:
        return None
    index = np.arange(1, n + 1)
    size = ndimage.sum_labels(np.ones_like(log), regions, index)
    level = ndimage.median(log, regions, index)
    large = size >= PAGE_AREA * log.size
    if not large.any():
        return None
    page = int(index[large][np.argmax(level[large])])
    own = ndimage.binary_dilation(regions == page) & flat
    # What the page lies on reaches the image's border; a large dark patch clear of the
    # border lies on the page (a cut that narrow corridors made, not the table).
    edge_ids = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
    lying = (size >= 0.01 * log.size) & ~np.isin(index, edge_ids) & (index != page)
    own |= ndimage.binary_dilation(np.isin(regions, index[lying])) & flat
    mask = ndimage.binary_fill_holes(own)
    # The page must be brighter than what is around it, and leave some of it.
    rest = (regions > 0) & ~mask
    if mask.mean() > 0.97 or rest.sum() < 0.02 * log.size:
        return None
    dark = level[page - 1] - np.log(1.35)
    if np.median(log[rest]) > dark:
        return None
    # Clear light strokes on what is darker than the "page" (peaks an opening cuts), more
    # than clear dark ones on it (dips the closing filled): chalk on a board, the page a
    # wall beside it. Only peaks enclosed by the dark surface count, apart from the page:
    # a strip of the page that its punched holes cut off is no chalk, and neither are a
    # few bright flecks of wood grain.
    surface = np.isin(regions, index[level < dark])
    enclosed, _ = ndimage.label(ndimage.binary_fill_holes(surface) & ~surface)
    pages = np.unique(enclosed[ndimage.binary_dilation(mask, iterations=2)])
    off = (enclosed > 0) & ~np.isin(enclosed, pages)
    light = np.count_nonzero((raw - ndimage.grey_opening(raw, size=(5, 5), mode="nearest"))[off] > 0.5)
    if light >= CHALK_BLOCKS and light > np.count_nonzero((log - raw)[mask] > 0.5):
        return None
    # Holes in the page as dark as the table near its edge are the table seen through
    # it (a binder's punched holes, about a centimetre in); ink as dark (a heavy digit)
    # is written further in, or is strokes where a hole is solid (HOLE_SOLID).
    holes, k = ndimage.label(mask & ~own)
    if k:
        index = np.arange(1, k + 1)
        # The page's edge, or the image's border where the page runs past it.
        inside = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        reach = min(PAGE_BLOCKS / 10, HOLE_NEAR * np.sqrt(np.count_nonzero(mask)))
        near = ndimage.minimum(inside, holes, index) <= reach
        darkest = ndimage.minimum(log, holes, index)
        dark_px = np.exp(dark) - 8.0  # the log level back in grey levels
        solid = np.zeros(k, dtype=bool)
        spans = ndimage.find_objects(holes)
        for q in np.flatnonzero(near & (darkest < dark)):
            rows, cols = spans[q]
            patch = lum[rows.start * b : rows.stop * b, cols.start * b : cols.stop * b] < dark_px
            widest = 2.0 * ndimage.distance_transform_edt(patch).max()
            solid[q] = widest >= HOLE_SOLID * max(patch.shape)
        mask &= ~np.isin(holes, index[solid])
    mask = ndimage.binary_erosion(mask, iterations=2, border_value=0)
    return (mask, b) if mask.any() else None


def _blank_outside(img: np.ndarray, grid: np.ndarray, b: int) -> tuple[np.ndarray, np.ndarray]:
    """``img`` with everything off the page replaced by the nearest page block's mean, and the page mask.

    The table, seen as the paper beside it (shadow and all), then weighs neither in the
    ink's polarity nor in the paper level estimated along the page's edge.
    """
    means = block_means(img, b)
    _, (iy, ix) = ndimage.distance_transform_edt(~grid, return_indices=True)
    h, w = img.shape[:2]
    size = (grid.shape[1] * b, grid.shape[0] * b)
    # Enlarged by PIL (nearest): a tenth of the cost of numpy's repeat on a photo.
    fill = Image.fromarray(np.clip(means[iy, ix] + 0.5, 0, 255).astype(np.uint8)).resize(
        size, Image.Resampling.NEAREST
    )
    page = Image.fromarray(grid.astype(np.uint8)).resize(size, Image.Resampling.NEAREST)
    page_px = np.asarray(page)[:h, :w].astype(bool)
    out = img.copy()
    off = ~page_px if img.ndim == 2 else ~page_px[..., None]
    np.copyto(out, np.asarray(fill)[:h, :w], where=off)
    return out, page_px


def _threshold(signal: np.ndarray) -> tuple[float, float]:
    """Return (threshold, ink level) for an ink signal."""
    sub = signal[::2, ::2] if signal.size > 40_000 else signal
    if 2 * np.count_nonzero(sub) < sub.size:
        # Mostly clean paper (signal >= 0): the median and its deviation are exactly 0.
        med = mad = 0.0
    else:
        med = float(np.median(sub))
        mad = float(np.median(np.abs(sub - med)))
    noise = med + 6.0 * 1.4826 * mad
    floor = max(noise, _MIN_CONTRAST)
    cand = sub[sub > floor]
    if cand.size < 3:
        return floor, 0.0
    level = float(np.percentile(cand, 90))
    # Half the contrast keeps stroke widths true on anti-aliased and blurred ink.
    return max(floor, 0.45 * level), level


def binarize(image: np.ndarray) -> np.ndarray:
    """Ink mask of a page: True where there is ink.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB ``uint8``.

    Returns
    -------
    ndarray of bool, shape (H, W)

    Examples
    --------
    >>> page = np.full((40, 60), 200, np.uint8); page[10:30, 28:32] = 60
    >>> int(binarize(page).sum())
    80
    """
    signal, _ = ink_signal(image)
    thr, level = _threshold(signal)
    if level <= 0:
        return np.zeros(signal.shape, dtype=bool)
    return signal > thr


# ---------------------------------------------------------------------------- components


def _components(mask: np.ndarray):
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.zeros(mask.shape, np.int32), 0, np.zeros((0, 4), int), np.zeros(0), np.zeros(0)
    # Label only the inked rectangle: on a typical page that is under half of it,
    # and labelling and finding boxes cost in proportion to the area scanned.
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    labels = np.zeros(mask.shape, np.int32)
    labels[r0:r1, c0:c1], n = ndimage.label(mask[r0:r1, c0:c1], structure=_EIGHT)
    slices = ndimage.find_objects(labels[r0:r1, c0:c1])
    boxes = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices], dtype=np.int64)
    boxes += [c0, r0, c0, r0]
    sub, lab = mask[r0:r1, c0:c1], labels[r0:r1, c0:c1]
    area = np.bincount(lab[sub], minlength=n + 1)[1:].astype(np.float64)
    inner = np.zeros_like(sub)  # the rectangle's edge is never inside a mark
    inner[1:-1, 1:-1] = sub[1:-1, 1:-1] & sub[:-2, 1:-1] & sub[2:, 1:-1] & sub[1:-1, :-2] & sub[1:-1, 2:]
    perim = np.bincount(lab[sub & ~inner], minlength=n + 1)[1:].astype(np.float64)
    # A stroke of width w and length L has area wL and ~2L edge pixels.
    width = 2.0 * area / np.maximum(perim, 1.0)
    return labels, n, boxes, area, width


def _filled(area: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Marks whose ink fills their box as a solid disc does (pi/4 of it; a filled 8 about 0.6)."""
    return area >= 0.72 * np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)


def _at_border(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Which marks (``x0, y0, x1, y1`` boxes) the image's border cuts."""
    return (boxes[:, 0] == 0) | (boxes[:, 1] == 0) | (boxes[:, 2] == shape[1]) | (boxes[:, 3] == shape[0])


def _pen_width(area: np.ndarray, width: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]) -> float:
    """The page's stroke width, from its large marks (no solid disc, nor the table at the border); 0 if none.

    Marks across a third of the image both ways are no symbol of a line of them (the mesh
    of squared paper's lines) and would hide the symbols' size: they are left out when
    others remain.
    """
    if not area.size:
        return 0.0
    extent = boxes[:, 2:] - boxes[:, :2]
    symbol = (extent[:, 0] <= shape[1] / 3) | (extent[:, 1] <= shape[0] / 3)
    if not symbol.any():
        symbol[:] = True
    # Solid discs say nothing of the pen (a dot's width is its size; a punched hole is far
    # wider than any stroke), nor does a mark cut by the image's border and far larger
    # than any other (the table, a shadow; a symbol that touches the border is the size
    # of the others): the pen is measured on the other marks.
    disc = _filled(area, boxes) & (extent.max(axis=1) <= 1.3 * extent.min(axis=1))
    edge = _at_border(boxes, shape)
    rest = symbol & ~disc & ~edge
    if rest.any():
        symbol &= ~disc & ~(edge & (area > 4.0 * area[rest].max()))
    big = symbol & (area >= max(4.0, 0.1 * area[symbol].max()))
    return float(np.median(width[big])) if big.any() else 0.0


def _open_lines(mask: np.ndarray) -> np.ndarray:
    """``mask`` opened by a 3x3 square: printed lines 1-2 pixels wide go, wider strokes stay."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    out = np.zeros_like(mask)
    out[r0:r1, c0:c1] = ndimage.binary_opening(mask[r0:r1, c0:c1], structure=_EIGHT)
    return out


def _background_marks(
    boxes: np.ndarray, area: np.ndarray, width: np.ndarray, sw: float, shape: tuple[int, int]
) -> np.ndarray:
    """Marks far thicker than the pen, which are none of its strokes: the table or a shadow
    at the image's edge, and solid discs (a punched hole). A heavy digit whose loops ink
    filled can be as thick, but is never a disc nor at the edge."""
    return (_at_border(boxes, shape) & (width > THICK * sw)) | (_filled(area, boxes) & (width > DISC * sw))


def _faint_dots(
    signal: np.ndarray, labels: np.ndarray, boxes: np.ndarray, ids: np.ndarray, thr: float, line_h: float
) -> list[tuple[int, np.ndarray]]:
    """The dots of a ``÷`` drawn lighter than its bar (a pencil's dots): below the threshold,
    above half of it, apart from the bar even at that level (a blurred bar's halo is not),
    one straight above a bar and one straight below, where the ink has no mark.

    Found dots are written into ``labels`` (new label values); returns (label, box) per dot.
    Both are needed: a faint mark on one side only is as likely a smudge as a dot.
    """
    found: list[tuple[int, np.ndarray]] = []
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bars = np.flatnonzero((w >= 2 * h) & (w >= 0.25 * line_h) & (w <= 1.2 * line_h))
    next_label = int(labels.max()) + 1
    for i in bars:
        x0, y0, x1, y1 = boxes[i]
        top, bottom = max(0, y0 - w[i]), min(signal.shape[0], y1 + w[i])
        window = (slice(top, bottom), slice(x0, x1))
        own = labels[window] == ids[i]
        if np.isin(labels[window][~own], ids).any():
            continue  # the ink has marks there already: nothing faint is missing
        faint, k = ndimage.label(signal[window] > 0.5 * thr, structure=_EIGHT)
        objs = ndimage.find_objects(faint)
        size = ndimage.sum_labels(np.ones_like(faint), faint, np.arange(1, k + 1))
        joined = set(np.unique(faint[own]).tolist())
        dots = [_largest_dot(objs, size, joined, side, y0 - top, y1 - top, w[i]) for side in (-1, 1)]
        if None in dots:
            continue
        (a, b), (c, d) = ((objs[j][1].start, objs[j][1].stop) for j in dots)
        if abs((a + b) - (c + d)) > 0.6 * w[i] or min(size[dots]) < 0.3 * max(size[dots]):
            continue  # a dot over the bar and one under it, alike
        for j in dots:
            sl = objs[j]
            pixels = np.zeros(faint.shape, bool)
            pixels[sl] = faint[sl] == j + 1
            labels[window][pixels] = next_label
            found.append(
                (
                    next_label,
                    np.array([x0 + sl[1].start, top + sl[0].start, x0 + sl[1].stop, top + sl[0].stop]),
                )
            )
            next_label += 1
    return found


def _largest_dot(objs, size, joined, side: int, bar_top: int, bar_bottom: int, bar: int) -> int | None:
    """Index of the largest faint mark above (``side`` -1) or below (+1) a bar ``bar`` pixels
    long, apart from it: a dot, no longer than 0.4 of the bar nor than 2.5 times its own
    width (no piece of a ruled or squared paper's line), its centre over the bar's middle
    and within 0.6 of its length of it. None if there is none."""
    best = None
    for j, sl in enumerate(objs):
        if sl is None or j + 1 in joined or size[j] < 4:
            continue
        ys, xs = sl
        gap = bar_top - ys.stop if side < 0 else ys.start - bar_bottom
        long, short = sorted((ys.stop - ys.start, xs.stop - xs.start), reverse=True)
        dot = long <= 0.4 * bar and long <= 2.5 * short
        centred = 0.2 * bar <= (xs.start + xs.stop) / 2 <= 0.8 * bar
        if 0 <= gap <= 0.6 * bar and dot and centred and (best is None or size[j] > size[best]):
            best = j
    return best


def _connected(adjacent: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of a small symmetric boolean adjacency matrix: (count, label per node).

    Label propagation with pointer jumping: for the few dozen marks of a page this
    takes microseconds, where building a sparse graph for scipy takes a quarter of a
    millisecond.
    """
    n = len(adjacent)
    label = np.arange(n)
    while True:
        new = np.minimum(label, np.where(adjacent, label[None, :], n).min(axis=1, initial=n))
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    roots, label = np.unique(label, return_inverse=True)
    return len(roots), label


def _line_clusters(boxes: np.ndarray, tall: np.ndarray) -> tuple[np.ndarray, int]:
    """Cluster components into text lines; return (line id per component, line count).

    Full-height marks that overlap vertically form clusters. Clusters side by side are
    one line (slanted, or broken where its marks jump); only clusters stacked over each
    other (overlapping horizontally) make several lines, numbered top to bottom. A
    bracket, taller than the digits and reaching below them, overlaps its own line's
    marks and stays in it.
    """
    n = len(boxes)
    x0, y0, x1, y1 = boxes.T
    idx = np.flatnonzero(tall)
    h = (y1 - y0)[idx]
    yov = np.minimum(y1[idx, None], y1[None, idx]) - np.maximum(y0[idx, None], y0[None, idx])
    # Marks far apart along a line are linked through those between them: on a slanted
    # page the end of one line can be level with the start of the next.
    xgap = np.maximum(x0[idx, None], x0[None, idx]) - np.minimum(x1[idx, None], x1[None, idx])
    same = (yov >= 0.3 * np.minimum(h[:, None], h[None, :])) & (
        xgap <= 2.5 * np.maximum(h[:, None], h[None, :])
    )
    k, lab = _connected(same)
    if k == 1:
        return np.zeros(n, dtype=int), 1
    # Clusters side by side are one slanted line; clusters stacked over each other
    # (overlapping horizontally) are separate lines.
    cx0 = np.array([x0[idx][lab == c].min() for c in range(k)])
    cx1 = np.array([x1[idx][lab == c].max() for c in range(k)])
    cy0 = np.array([y0[idx][lab == c].min() for c in range(k)])
    cy1 = np.array([y1[idx][lab == c].max() for c in range(k)])
    xov = np.minimum(cx1[:, None], cx1[None, :]) - np.maximum(cx0[:, None], cx0[None, :])
    minw = np.minimum((cx1 - cx0)[:, None], (cx1 - cx0)[None, :])
    stacked = (xov > 0.3 * minw) & ~np.eye(k, dtype=bool)
    if not stacked.any():
        return np.zeros(n, dtype=int), 1
    # Clusters not stacked and at one height (their spans overlap) are pieces of one line.
    cyov = np.minimum(cy1[:, None], cy1[None, :]) - np.maximum(cy0[:, None], cy0[None, :])
    n_lines, row = _connected(~stacked & (cyov > 0))
    mark_row = row[lab]
    middle = (y0 + y1)[idx] / 2.0
    height = np.array([middle[mark_row == r].mean() for r in range(n_lines)])
    rank = np.empty(n_lines, dtype=int)
    rank[np.argsort(height)] = np.arange(n_lines)
    line = np.empty(n, dtype=int)
    line[idx] = rank[mark_row]
    # Every other mark joins the line of the full-height mark nearest to it, a vertical
    # distance counting double: lines run across.
    rest = np.flatnonzero(~tall)
    if rest.size:
        cxs, cys = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        d = np.abs(cxs[rest, None] - cxs[None, idx]) + 2.0 * np.abs(cys[rest, None] - cys[None, idx])
        line[rest] = line[idx[np.argmin(d, axis=1)]]
    return line, n_lines


STRAY = 2.0
"""A small mark, or one cut by the image's border, further than this many line heights above
or below the full-height marks of the line nearest it is none of its symbols: a fleck at a
photo's edge, the rim of the sheet or of a punched hole, a corner of the table. Every
symbol the lines hold (a minus, the dots of a colon, a decimal point) is within their
height."""

STRAY_SIDE = 2.5
"""A mark alone on its line, further than this many line heights from the line's other marks
(left or right; a line of three marks or more), is none of its symbols: a punched hole beside
the sum on a sheet photographed from afar, as large as its digits. Nobody leaves such a gap
inside an expression. On 150 development sheet photos (seed 7; not the bench's) 134 -> 137
read right; seed 11 138 both; 2,400 drawings of held-out symbols in every style and form, and
1,600 of UNIPEN writers' glyphs (valid, invalid, the school forms) read the same."""


def _strays(
    boxes: np.ndarray, tall: np.ndarray, line: np.ndarray, line_h: float, shape: tuple[int, int]
) -> np.ndarray:
    """Marks under full height, or cut by the image's border, far above or below the full-height
    marks of their line (:data:`STRAY`): a corner of the table in a photo is no symbol either.
    And a mark alone, far to the side of its line's other marks (:data:`STRAY_SIDE`)."""
    stray = np.zeros(len(boxes), dtype=bool)
    edge = _at_border(boxes, shape)
    for k in np.unique(line[tall & ~edge]):
        core = tall & ~edge & (line == k)
        top, bottom = boxes[core, 1].min(), boxes[core, 3].max()
        off = np.maximum(top - boxes[:, 3], boxes[:, 1] - bottom)
        stray |= (~tall | edge) & (line == k) & (off > STRAY * line_h)
    for k in np.unique(line):
        # Along the line: a lone mark far from the rest (a punched hole beside the sum).
        idx = np.flatnonzero((line == k) & ~stray)
        idx = idx[np.argsort(boxes[idx, 0])]
        if len(idx) < 3:
            continue
        reach = np.maximum.accumulate(boxes[idx, 2])
        cut = np.flatnonzero(boxes[idx[1:], 0] - reach[:-1] > STRAY_SIDE * line_h) + 1
        groups = np.split(idx, cut)
        main = max(groups, key=len)
        if len(main) < 2:
            continue  # every mark far from the others: no sum to be beside
        for g in groups:
            if len(g) == 1:
                stray[g] = True
    return stray


def _pixel_gap(labels: np.ndarray, box: np.ndarray, a: int, b: int) -> float:
    """Smallest distance between the pixels of components ``a`` and ``b`` inside ``box``."""
    x0, y0, x1, y1 = box
    sub = labels[y0:y1, x0:x1]
    dist = ndimage.distance_transform_edt(sub != a)
    return float(dist[sub == b].min()) if (sub == b).any() else np.inf


def _crop(labels: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box
    return labels[y0:y1, x0:x1]


def _is_round(labels: np.ndarray, box: np.ndarray, label: int, share: float = ROUND) -> bool:
    """Whether the mark ``label`` is about as thick as it is long (``share``): a dot.

    A heavy ``x`` fills its box as much as a dot but is thick only where its strokes
    cross; a short stroke is half as thick as long.
    """
    crop = _crop(labels, box)
    inside = np.zeros((crop.shape[0] + 2, crop.shape[1] + 2), dtype=bool)
    inside[1:-1, 1:-1] = crop == label
    return bool(2.0 * ndimage.distance_transform_edt(inside).max() >= share * max(box[2:] - box[:2]))


def _ends_in_a_bar(labels: np.ndarray, box: np.ndarray, label: int) -> bool:
    """Whether the rightmost ink of mark ``label`` lies low in its box, as an ``L``'s bar
    does (:data:`OPEN_FOUR`)."""
    own = _crop(labels, box) == label
    rows = np.nonzero(own[:, -max(2, own.shape[1] // 6) :])[0]
    return bool(rows.size) and rows.mean() >= OPEN_FOUR[2] * own.shape[0]


def _union_box(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def _merge_groups(
    boxes: np.ndarray,
    tall: np.ndarray,
    line: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray,
    line_h: float,
    sw: float,
    blob: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Group id per component (the parts of one symbol), and the shape found per component.

    Parts overlap horizontally (``÷``, a ``+`` or ``x`` in two strokes, a broken
    stroke), or are two small marks stacked (the dots of ``:``, the bars of ``=``). A
    small mark that is no operator on its own (off the line's middle, or touching a
    digit) belongs to the full-height mark next to it, except a decimal point.

    The shape is ``"colon"`` for both dots of a ``:`` and ``"point"`` for a decimal point
    (:func:`_dot_shape`), ``""`` for every other component.
    """
    n = len(boxes)
    x0, y0, x1, y1 = (boxes[:, i].astype(np.float64) for i in range(4))
    w, h = x1 - x0, y1 - y0
    ov = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    union = np.maximum(x1[:, None], x1[None, :]) - np.minimum(x0[:, None], x0[None, :])
    same_line = line[:, None] == line[None, :]
    minw = np.minimum(w[:, None], w[None, :])
    join = (ov >= 0.5 * minw) & same_line
    # Two full-height marks side by side are two symbols even when a slanted one
    # reaches over the other, unless they largely coincide (an x in two strokes)
    # or their ink nearly touches (a digit broken in two).
    yov = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    level = yov >= 0.5 * np.minimum(h[:, None], h[None, :])  # side by side, not stacked
    side = join & tall[:, None] & tall[None, :] & level & (ov < 0.5 * union)
    for i, j in zip(*np.nonzero(np.triu(side, 1)), strict=False):
        if _pixel_gap(labels, _union_box(boxes[i], boxes[j]), ids[i], ids[j]) > max(2.0, 0.6 * sw):
            join[i, j] = join[j, i] = False
    # An open 4 in two strokes (OPEN_FOUR): the L (i) and, right of it, a narrow upright
    # stroke (j) that starts near it, about level with its top, and hangs below its foot.
    near, hangs, _ = OPEN_FOUR
    taller = np.maximum.outer(h, h)
    four = (
        tall[:, None]
        & tall[None, :]
        & same_line
        & ~join
        & ((x0 + x1)[:, None] < (x0 + x1)[None, :])
        & (x0[None, :] - x1[:, None] <= near * taller)
        & (y1[None, :] - y1[:, None] >= hangs * taller)
        & (y0[None, :] - y0[:, None] >= -near * taller)
        & (h[:, None] <= 1.1 * h[None, :])
        & (w[None, :] <= 0.5 * h[None, :])
    )
    for i, j in zip(*np.nonzero(four), strict=True):
        if _ends_in_a_bar(labels, boxes[i], ids[i]):
            join[i, j] = join[j, i] = True
    # The height of this line's full-size marks, per mark.
    ref = np.full(n, line_h)
    for k in np.unique(line[tall]):
        ref[line == k] = np.median(h[tall & (line == k)])
    long = np.maximum(w, h)
    dot = blob & ~tall & (long <= _dot_size(ref, sw))
    full = tall & (h >= 0.7 * ref)  # digits and brackets; not a "+", nor a piece of a digit
    # Two small marks stacked, overlapping horizontally less than the rule above asks
    # (a sloppy ":" or "="), with a clear gap between them, are one symbol too.
    bar = ~tall & (w >= EQUALS_FLAT * h)
    twins = (dot[:, None] & dot[None, :]) | (
        bar[:, None] & bar[None, :] & (minw >= EQUALS_SIMILAR * np.maximum.outer(w, w))
    )
    vgap = -yov
    clear = np.maximum(2.0, 0.3 * np.maximum.outer(h, h))
    stacked = twins & same_line & (ov >= 0.25 * minw) & (vgap >= clear) & (vgap <= 0.6 * ref[:, None])
    is_round = functools.cache(lambda k, share=ROUND: _is_round(labels, boxes[k], ids[k], share))
    for i, j in zip(*np.nonzero(np.triu(stacked & ~join, 1)), strict=True):
        if not dot[i] or (is_round(i) and is_round(j)):
            join[i, j] = join[j, i] = True
    _, group = _connected(join)

    shape = np.full(n, "", dtype=object)
    tall_idx = np.flatnonzero(tall)
    if tall_idx.size == 0:
        return group, shape
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        if tall[members].any():
            continue
        gx0, gy0, gx1, gy1 = x0[members].min(), y0[members].min(), x1[members].max(), y1[members].max()
        cand = tall_idx[line[tall_idx] == line[members[0]]]
        if cand.size == 0:
            continue
        dx = np.maximum(0.0, np.maximum(x0[cand] - gx1, gx0 - x1[cand]))
        dy = np.maximum(0.0, np.maximum(y0[cand] - gy1, gy0 - y1[cand]))
        gap = np.maximum(dx, dy)
        k = int(np.argmin(gap))
        # The line's middle band where the mark is: from its nearest full-height marks.
        near = cand[np.argsort(np.abs((x0 + x1)[cand] - (gx0 + gx1)))[:2]]
        top, bottom = y0[near].mean(), y1[near].mean()
        cy = (gy0 + gy1) / 2.0
        if len(members) <= 2 and dot[members].all():
            shape[members] = _dot_shape(members, cand, cand[full[cand]], boxes, labels, ids, sw, is_round)
            if shape[members[0]]:
                continue
        centred = top + 0.2 * (bottom - top) <= cy <= bottom - 0.2 * (bottom - top)
        # A bar reaching over the top or bottom of a digit is part of it (the top
        # of a 5); a minus sits level with the digit's middle.
        j = cand[k]
        xov = min(gx1, x1[j]) - max(gx0, x0[j])
        rel = (cy - y0[j]) / max(y1[j] - y0[j], 1.0)
        at_end = xov > 0 and (rel < 0.35 or rel > 0.65)
        if gap[k] <= 0 or at_end or (not centred and gap[k] <= 0.3 * line_h):
            group[members] = group[j]
    # A "=" is a symbol already (5=-3). Two small marks next to each other are the pieces
    # of one operator (an x broken where its strokes cross can leave two stacked stubs
    # like a colon, with a third beside them): a colon or a point joined to one is none.
    fixed = np.zeros(n, dtype=bool)
    for g in np.unique(group):
        members = group == g
        fixed[members] = _is_equals(boxes[members])
    group = _join_small_neighbours(group, boxes, tall, line, line_h, fixed)
    size = np.bincount(group)[group]
    shape[((shape == "colon") & (size != 2)) | ((shape == "point") & (size != 1))] = ""
    return group, shape


TWO_BARS = (0.4, 0.1)
"""Two small marks side by side are two symbols, not the pieces of one, when each is at
least the first of these times the line's height wide and the gap between them at least
the second: two minus signs (``2--30``, which the grammar refuses), not a minus drawn in
two strokes, whose pieces are each shorter or nearly touch. In 300 invalid development
drawings (not the bench's) the join had made 4 of 50 double operators one ``-`` (pieces
0.54-0.77 of the line wide, 0.12-0.26 apart) and given 3 of them a value; in 700 valid
ones it joined 3 pairs, none of them this wide."""


def _join_small_neighbours(
    group: np.ndarray,
    boxes: np.ndarray,
    tall: np.ndarray,
    line: np.ndarray,
    line_h: float,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Merge two small marks next to each other: the pieces of one operator (a minus drawn
    in two strokes, an ``x`` broken where its strokes cross), unless each is as wide as an
    operator and a clear gap parts them (:data:`TWO_BARS`). Marks ``fixed`` (the bars of a
    ``=``: ``5=-3``) are a symbol already and are left alone."""
    ids = np.unique(group)
    gb = np.array([[*boxes[group == g, :2].min(axis=0), *boxes[group == g, 2:].max(axis=0)] for g in ids])
    small = np.array([not tall[group == g].any() for g in ids])
    if fixed is not None:
        small &= np.array([not fixed[group == g].any() for g in ids])
    gline = np.array([line[group == g][0] for g in ids])
    order = np.argsort((gb[:, 0] + gb[:, 2]) / 2.0)
    wide, apart = TWO_BARS
    for a, b in itertools.pairwise(order):
        if not (small[a] and small[b]) or gline[a] != gline[b]:
            continue
        gap = gb[b, 0] - gb[a, 2]
        yov = min(gb[a, 3], gb[b, 3]) - max(gb[a, 1], gb[b, 1])
        two = min(gb[a, 2] - gb[a, 0], gb[b, 2] - gb[b, 0]) >= wide * line_h and gap >= apart * line_h
        if gap <= 0.3 * line_h and yov >= 0 and not two:
            group[group == ids[b]] = ids[a]
            gb[b] = [*np.minimum(gb[a, :2], gb[b, :2]), *np.maximum(gb[a, 2:], gb[b, 2:])]
            ids[b] = ids[a]
    return group


def _is_colon(part_boxes: np.ndarray, top: float, bottom: float) -> bool:
    """Two dots stacked one over the other (overlapping horizontally, the line through
    their centres within 20 degrees of upright: the stubs of a broken ``x`` lie on a
    diagonal), a clear gap between them (0.3 of a dot's height, at most 0.6 of the band),
    the pair's middle in the middle half of the line's band from ``top`` to ``bottom``:
    ``:``.

    Examples
    --------
    >>> _is_colon(np.array([[10, 24, 22, 36], [11, 48, 23, 60]]), 0.0, 80.0)
    True
    >>> _is_colon(np.array([[10, 2, 22, 14], [11, 22, 23, 34]]), 0.0, 80.0)  # high up
    False
    """
    if len(part_boxes) != 2:
        return False
    a, b = part_boxes[np.argsort(part_boxes[:, 1] + part_boxes[:, 3])].astype(np.float64)
    w = part_boxes[:, 2] - part_boxes[:, 0]
    h = part_boxes[:, 3] - part_boxes[:, 1]
    band = bottom - top
    ov = min(a[2], b[2]) - max(a[0], b[0])
    gap = b[1] - a[3]
    middle = (a[1] + b[3]) / 2.0
    dcx, dcy = abs((a[0] + a[2]) - (b[0] + b[2])) / 2.0, ((b[1] + b[3]) - (a[1] + a[3])) / 2.0
    return bool(
        ov >= 0.25 * w.min()
        and dcx <= 0.35 * dcy
        and max(2.0, 0.3 * h.max()) <= gap <= 0.6 * band
        and top + 0.25 * band <= middle <= bottom - 0.25 * band
    )


def _dot_shape(
    members: np.ndarray,
    tall: np.ndarray,
    full: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    ids: np.ndarray,
    sw: float,
    is_round,
) -> str:
    """``"colon"``, ``"point"`` or ``""`` for one dot or two (``members``) of a line whose
    full-height marks are the indices ``tall``, of which ``full`` reach the full height;
    ``is_round(i)`` says whether mark ``i`` is round (:func:`_is_round`).

    The dots must lie between two full-height marks (the nearest on either side, whose
    tops and feet make the band), at most the band's height from the nearest mark on
    either side that stands on the line (a full-height mark, or a piece of a digit that
    reaches its foot: the bowl of a ``5`` whose bar is apart), apart from each of these
    (a piece broken off a digit nearly touches it, or has ink of a mark of ``tall``
    within half a band straight over or under it), and be no longer than a dot on that
    band (:data:`DOT`). Two such dots stacked are a colon (:func:`_is_colon`); one low in
    the band (:data:`POINT_LOW`) is a decimal point.
    """
    x0, y0, x1, y1 = (boxes[:, c].astype(np.float64) for c in range(4))
    gx0, gy0, gx1, gy1 = x0[members].min(), y0[members].min(), x1[members].max(), y1[members].max()
    cx, cy = (gx0 + gx1) / 2.0, (gy0 + gy1) / 2.0
    mid = (x0[full] + x1[full]) / 2.0
    left, right = full[mid < cx], full[mid > cx]
    if left.size == 0 or right.size == 0:
        return ""
    a, b = left[np.argmax(x1[left])], right[np.argmin(x0[right])]
    top, bottom = (y0[a] + y0[b]) / 2.0, (y1[a] + y1[b]) / 2.0
    band = bottom - top
    # The nearest marks either side may be a piece of a digit short of the full height
    # (the bowl of a 5 whose bar is apart, a loop of an 8 in two), which stands on the
    # line as a point does; a "+" does not.
    based = np.union1d(tall[y1[tall] >= bottom - 0.1 * band], [a, b])
    t_mid = (x0[based] + x1[based]) / 2.0
    t_left, t_right = based[t_mid < cx], based[t_mid > cx]
    a_near = t_left[np.argmax(x1[t_left])]
    b_near = t_right[np.argmin(x0[t_right])]
    long = np.maximum(x1 - x0, y1 - y0)[members]
    if band <= 0 or long.max() > _dot_size(band, sw) or gx0 - x1[a_near] > band or x0[b_near] - gx1 > band:
        return ""
    if len(members) == 2:
        found = "colon" if _is_colon(boxes[members], top, bottom) else ""
    elif len(members) == 1:
        low = gy1 >= top + POINT_LOW * band and top + 0.6 * band <= cy <= bottom + 0.25 * band
        found = "point" if low else ""
    else:
        found = ""
    if not found or not all(is_round(i, COLON_ROUND if found == "colon" else ROUND) for i in members):
        return ""
    # No ink of a full-height mark (nor of a "+", nor of a piece of a digit) over or under
    # the dots nearby: a dot under the bar of a 7 may be a point, a stub at the end of a
    # digit's stroke or of an x's arm is none.
    r0, r1 = max(0, int(gy0 - 0.5 * band)), int(gy1 + 0.5 * band) + 1
    if np.isin(labels[r0:r1, int(gx0) : int(gx1)], ids[tall]).any():
        return ""
    apart = max(2.0, _APART * sw)
    pairs = ((i, j) for i in members for j in {a, b, a_near, b_near})
    if all(_pixel_gap(labels, _union_box(boxes[i], boxes[j]), ids[i], ids[j]) > apart for i, j in pairs):
        return found
    return ""


EQUALS_FLAT = 1.7
"""How many times as wide as high each bar of a ``=`` is at least. Measured on UNIPEN's
``=`` glyphs drawn alone (training writers, 345; held-out, 139; the first reader and
split): 2.0 found 73.6% / 84.2% of them, 1.7 75.7% / 85.6%, with no two-part glyph of
another token taken for a ``=`` (14,765 / 3,968 of them); 1.5 took three ``5`` and ``(``
of the training writers. The rest are bars joined in one stroke or one bar far shorter
than the other (:data:`EQUALS_SIMILAR`)."""

EQUALS_SIMILAR = 0.4
"""The shorter bar of a ``=`` is at least this share of the longer. On UNIPEN's glyphs
drawn alone (today's reader and split; a 4 px pen at 96 and 48 px), 0.5 -> 0.4 found 306
-> 308 of the training writers' 340 ``=`` and 89 -> 93 of the held-out writers' 100, and
took one held-out ``5`` of 238 (a flag and a flat body), none of the training writers'.
In expressions of the held-out writers' glyphs (600, seed 77; not the bench's) two ``=``
read as ``-`` were bars 0.45 and 0.48 as long as each other."""


def _is_equals(part_boxes: np.ndarray) -> bool:
    """Two flat bars of similar length, one over the other, overlapping horizontally: ``=``.

    The bars may differ in length (:data:`EQUALS_SIMILAR`), slant (each still
    :data:`EQUALS_FLAT` times as wide as its box is high) and be offset (overlapping by
    0.3 of the shorter); two bars side by side (``-`` and ``-``) are not stacked.

    Examples
    --------
    >>> _is_equals(np.array([[0, 20, 40, 28], [4, 40, 36, 48]]))
    True
    >>> _is_equals(np.array([[0, 20, 40, 28], [50, 22, 90, 30]]))  # side by side
    False
    """
    if len(part_boxes) != 2:
        return False
    w = part_boxes[:, 2] - part_boxes[:, 0]
    similar = w.min() >= EQUALS_SIMILAR * w.max()
    a, b = part_boxes[np.argsort(part_boxes[:, 1] + part_boxes[:, 3])]
    over = min(a[2], b[2]) - max(a[0], b[0]) >= 0.3 * w.min()
    return bool(_flat_and_stacked(part_boxes) and similar and over)


def _flat_and_stacked(part_boxes: np.ndarray) -> bool:
    """Two pieces, each :data:`EQUALS_FLAT` times as wide as high, one over the other."""
    w = part_boxes[:, 2] - part_boxes[:, 0]
    h = part_boxes[:, 3] - part_boxes[:, 1]
    a, b = part_boxes[np.argsort(part_boxes[:, 1] + part_boxes[:, 3])]
    stacked = (b[1] + b[3]) - (a[1] + a[3]) >= h.max()  # centres half the taller bar apart
    return bool(np.all(w >= EQUALS_FLAT * h) and stacked)


EQUALS_JOINED = (0.6, 1.3, 0.45)
"""A ``=`` whose bars are joined: the last mark of a line, lower than this share of the line's
height, at least this many times as wide as high, and either one piece with two strokes one
over the other (a gap of half a pen or more) in at least this share of its columns, a ``=``
drawn in one stroke (upper bar, back, lower bar) or bars a wide pen ran together, which the
classifier reads as ``-``, ``5`` or ``2``; or two flat bars one over the other that overlap
too little for :func:`_is_equals` (read as ``/`` or ``-``). Flagged ``"joined_equals"``:
nearly as likely a ``=`` as not (:data:`mathocr.decoding.SHAPES`), so that a reading the
classifier is sure of stays what was read and the answer asks (``12+69=`` or ``12+69-``, the
unfinished minus). Only at a line's end, where a ``-`` or ``*`` makes no expression: in the
middle of one, a ``-`` or ``*`` of one writer in thirty has the same shape. Measured on the
development forms and expressions (600 forms of UNIPEN's held-out writers' glyphs, 600 of
the calibration writers', 1,000 expressions of the held-out writers'; seeds 77 and 79, not
the bench's): of their 383 ``=``, 344 are found as two bars; of the 39 others, 8 are the
last mark of their line and meet this rule, and no other last mark does (a ``-``, ``*`` or
digit); anywhere on the line it would also take 9 ``-`` and 57 ``*``. Three more are two
offset bars at a line's end. Forms read right: 9 more, none fewer (compute 86 -> 89% and 71
-> 77% of 100)."""


def _stacked_share(own: np.ndarray, sw: float) -> float:
    """The share of a mark's inked columns that cross two strokes, one over the other.

    Two strokes: the column's ink has a gap of at least half the pen (and a pixel).

    Examples
    --------
    >>> bars = np.zeros((9, 20), bool); bars[1:3, 2:18] = True; bars[6:8, 0:20] = True
    >>> round(_stacked_share(bars, 2.0), 2)
    0.8
    """
    gap = max(1.0, 0.5 * sw)
    inked = stacked = 0
    for column in own.T:
        ys = np.flatnonzero(column)
        if len(ys):
            inked += 1
            stacked += bool((np.diff(ys) - 1 >= gap).any())
    return stacked / inked if inked else 0.0


def _joined_equals(own: np.ndarray, part_boxes: np.ndarray, line_h: float, sw: float) -> bool:
    """A low flat mark that is a ``=`` drawn joined (:data:`EQUALS_JOINED`), wherever it stands.

    Examples
    --------
    >>> bars = np.zeros((9, 20), bool); bars[1:3, :] = True; bars[6:8, :] = True; bars[:, :2] = True
    >>> _joined_equals(bars, np.array([[0, 0, 20, 9]]), line_h=30.0, sw=2.0)   # a "⊏": one piece
    True
    >>> _joined_equals(bars, np.array([[0, 0, 20, 9]]), line_h=12.0, sw=2.0)   # as tall as a digit
    False
    """
    if _low_and_flat(part_boxes, line_h) is None:
        return False
    if len(part_boxes) == 1:
        return _stacked_share(own, sw) >= EQUALS_JOINED[2]
    return len(part_boxes) == 2 and _flat_and_stacked(part_boxes)


def _low_and_flat(part_boxes: np.ndarray, line_h: float) -> tuple[float, float] | None:
    """The width and height of a mark's box if it is as low and flat as a ``=`` drawn joined
    (:data:`EQUALS_JOINED`), else None."""
    low, flat, _ = EQUALS_JOINED
    w, h = part_boxes[:, 2:].max(axis=0) - part_boxes[:, :2].min(axis=0)
    return (float(w), float(h)) if h < low * line_h and w >= flat * h else None


EQUALS_MERGED = (1.35, 1.5, 2.5)
"""A ``=`` whose bars the pen ran into one solid bar: one low flat piece (as
:data:`EQUALS_JOINED`) whose columns hold at least the first of these times the pen's
width plus the second in pixels of ink (the median column; a ``-`` is one pen thick), and
no taller than the third times the pen. A person writing small with the page's pen draws
it: the bars of a ``=`` stand a third of a digit apart (UNIPEN's writers: median 0.32 of
their digits' height, one in twenty under 0.19), so at digits five or six pens tall they
touch; the classifier reads the bar as ``*`` or ``-`` with confidence (``30*72=2170`` read
``30*72*2170`` and answered as sure). Measured on the development sets' low flat marks
(not the bench's): of 64 page-drawn ``-`` none, of 46 page-drawn merged ``=`` 45; of the
unseen writers' 742 ``-`` (canvas and paper) 3 (two of them small ``z`` shapes), of the
held-out symbols' 476 ``-`` and every one of 594 ``*`` none. Flagged ``"joined_equals"``
wherever it stands on its line: a ``=`` nearly as likely as not, so that a ``-`` or ``*`` the
classifier is sure of stays what was read and the answer asks. On 280 drawings of the page's
own handwriting (every form; 600x200, 900x300 and 400x150; pens 0.7-1.5 times the page's):
wrong answers given as sure 7 -> 2, valid drawings refused 14 -> 1, answers asked 103 -> 121.
On the 4,400 development drawings of writers' glyphs one answer read right, asked either way,
now reads ``9-0-6`` as ``9=0-6`` (its minus a small ``z``); on 3,900 valid drawings of the
bench's kind (seed 2026) one more is read right (``5-4=7``, a thick pen) and three right
answers ask. Flagged as a ``=`` likelier than not (0.7), it would have read 4 more of the
page's drawings right and sure, and 4 of the bench's kind wrong: in drawings composed of
glyphs each drawn and scaled its own way, a thick ``-`` or a small ``×`` drawn heavy is as
thick (paper, screenshot and shadow styles). The pixels
added to the pen's share keep small pens' dashes out: at 3-4 px a dash's antialiased edge
alone makes it 1.5 pens thick (16 of the 742 at 1.45 pens with nothing added)."""


def _merged_bars(own: np.ndarray, part_boxes: np.ndarray, line_h: float, sw: float) -> bool:
    """A ``=`` whose bars ran together into one solid bar (:data:`EQUALS_MERGED`).

    Examples
    --------
    >>> bar = np.ones((20, 60), bool)    # two pens thick, pen 10
    >>> _merged_bars(bar, np.array([[0, 0, 60, 20]]), line_h=80.0, sw=10.0)
    True
    >>> _merged_bars(bar[5:15], np.array([[0, 0, 60, 10]]), line_h=80.0, sw=10.0)   # a -
    False
    """
    thick, extra, tallest = EQUALS_MERGED
    box = _low_and_flat(part_boxes, line_h)
    if len(part_boxes) != 1 or box is None or box[1] > tallest * sw:
        return False
    return bool(np.median(own.sum(axis=0)) >= thick * sw + extra)


def _is_obelus(part_boxes: np.ndarray) -> bool:
    """A flat bar with one small mark above it and one below, within its span: ``÷``."""
    if len(part_boxes) != 3:
        return False
    w = part_boxes[:, 2] - part_boxes[:, 0]
    h = part_boxes[:, 3] - part_boxes[:, 1]
    bar = int(np.argmax(w))
    if w[bar] < 2.0 * h[bar]:
        return False
    dots = [i for i in range(3) if i != bar]
    bx0, by0, bx1, by1 = part_boxes[bar]
    small = all(max(w[i], h[i]) <= 0.6 * w[bar] for i in dots)
    centres = [(part_boxes[i, 0] + part_boxes[i, 2]) / 2.0 for i in dots]
    within = all(bx0 <= c <= bx1 for c in centres)
    above = sum(part_boxes[i, 3] <= by0 + 0.5 * h[bar] for i in dots)
    below = sum(part_boxes[i, 1] >= by1 - 0.5 * h[bar] for i in dots)
    return small and within and above == 1 and below == 1


UPRIGHT_ASPECT = 0.6
"""A mark at least 0.8 of the line's height and at most this much as wide as it is tall
is an upright stroke: a ``1``, or a bracket (:func:`_bracket_shape`)."""

BULGE = 0.1
"""An upright stroke whose middle lies this share of its height off the line between its
ends is an arc: ``(`` bulging left, ``)`` right. Chosen on UNIPEN's training writers
(rendered alone): 76% of their ``(`` and 82% of their ``)`` are arcs, 1.1% of their ``1``
and 0.4% of their ``7``; on the held-out writers 79%, 77%, 1.7% and 0.4%."""

BRACKET_HEIGHT = 1.05
"""An arc is a bracket when it is at least this much taller than the line's symbols (their
typical height, :attr:`Segmentation.line_height`); a lower one counts as an upright stroke.
Measured on expressions of UNIPEN's held-out writers (bench, 500): without this rule 13
readings changed, 9 of them a curved ``1``, ``5`` or ``9`` read as a bracket (refused)."""

STROKE_WIDTH = 0.35
"""An upright stroke is one stroke: no row of its ink is wider than this share of its
height (the bar of a ``7`` or a ``2``, the loops of a ``0`` are), but for its ends
(:data:`STROKE_ENDS`)."""

STROKE_ENDS = 0.1
"""The share of an upright stroke's height at each end where its ink may be wider: the
hooks of a bracket drawn as ``[`` (:func:`_bracket_shape`). Measured on UNIPEN's glyphs
drawn alone (one stroke, a 4 px pen at 96 px), with a leaning arc counted too: arcs among
the held-out writers' 112 ``(`` and 121 ``)`` 83 / 99 -> 95 / 104, among their 2,116 digits
14 -> 21; the training writers' 534 / 511 brackets 458 / 434 -> 479 / 446, their 11,697
digits 140 -> 219 (mostly ``3`` and ``7``, seldom taller than the line, and so seldom
read as brackets: :data:`BRACKET_HEIGHT`). The new arcs are loose (``"loose_open"``,
``"loose_close"``): a bracket more likely than not, not near certain."""


UPRIGHT_SLANT = 0.3
"""A stroke whose ends lie further apart sideways than this share of its height is slanted:
a ``/`` (UNIPEN's lean about 0.5), no upright ``1``. A slanted stroke whose middle bulges
(:data:`BULGE`) is still an arc: many writers lean their brackets."""


ARCS = frozenset({"open", "close", "loose_open", "loose_close"})
"""The flags of an arc (:func:`_bracket_shape`): a bracket, likely."""


def _flag_paired_arcs(segments: list[Segment], uprights: list[tuple[int, bool, str | None]]) -> None:
    """Flag the arcs no taller than the digits that have a partner on their line as brackets.

    Alone, such an arc is more often a curved ``1`` than a bracket (:data:`BRACKET_HEIGHT`),
    but an arc bulging left with one bulging right further along its line is a pair of
    brackets written at the digits' height, ``(3+4)*2``; so is such an arc with an upright
    straight stroke on its open side, ``(3+4|``, of any height: the grammar then reads the
    straight stroke as ``)`` or ``1`` (its ``"upright"`` flag). A fifth of UNIPEN's
    writers' brackets are no taller than 1.05 of their digits (18% of the training
    writers', 20% of the held-out writers'), and a seventh of their ``)`` are straight (34
    of 243 in the development forms below).

    Measured on development drawings (not the bench's) of brackets drawn as tall as the
    writers draw them (:data:`mathocr.synth._LOG_NORMAL`), with the bundled model: read
    right 367 -> 422 and 418 -> 446 of 600 (UNIPEN's held-out writers' glyphs, seeds 77 and
    5), 492 -> 511 of 600 (the training sources' held-out symbols), wrong answers given as
    sure 16 -> 9 and 14 -> 10; the 2,800 valid and 2,400 invalid drawings without brackets
    (the other development sets) are read exactly as before. Any mark taller than the digits
    as a partner (a slash among them) read 8 and 10 more right, and 4 of those without
    brackets wrong (a curved ``1`` and a tall slash read ``(/``). A straight partner of the
    digits' height too (eighteenth sitting; before, only one taller than the digits), for an
    arc that is no loose one (the bar of a ``7`` makes it a loose arc: ``7+1+78+2`` was asked
    as ``)``): 2, 1 and 2 more read right of those 600 each, 2, 3 and 2 more answered as sure
    (each right), wrong answers given as sure unchanged; the 1,400 other valid and 1,200
    invalid drawings read exactly as before. Any loose arc with a straight partner made two right
    answers ask and one read wrong.
    """
    opens = [i for i, taller, shape in uprights if not taller and shape in ("open", "loose_open")]
    closes = [i for i, taller, shape in uprights if not taller and shape in ("close", "loose_close")]
    straight = [i for i, taller, shape in uprights if shape == "upright"]

    def before(i: int, j: int) -> bool:
        a, b = segments[i], segments[j]
        return a.line == b.line and a.box[0] + a.box[2] <= b.box[0]

    # A straight stroke pairs only with a true arc: a 7 is a loose one (its bar a hook).
    sure = {i for i, _, shape in uprights if shape in ("open", "close")}
    paired = {i: "open" for i in opens if any(before(i, j) for j in closes)}
    paired |= {j: "close" for j in closes if any(before(i, j) for i in opens)}
    paired |= {i: "open" for i in opens if i in sure and any(before(i, j) for j in straight)}
    paired |= {j: "close" for j in closes if j in sure and any(before(i, j) for i in straight)}
    for i, flag in paired.items():
        segments[i] = dataclasses.replace(segments[i], flags=(*segments[i].flags, flag))


SCRIBBLE_LOOPS = 3
"""A mark whose ink encloses this many holes or more (each at least :data:`LOOP_AREA`
pen widths squared) is flagged ``"loops"``: a coil scribbled over and over, which the
classifier reads as a ``0`` at 99% (5 of the 7 scribbles given a value among 300 invalid
development drawings of UNIPEN's calibration writers; not the bench's). No symbol is drawn
so: a ``0`` encloses one hole, an ``8`` two. A ``0`` with a stroke through it, an ``8``
whose loops cross, a busy ``*`` may reach three (UNIPEN's glyphs drawn alone: 32 of the
training writers' 14,810, 22 of the held-out writers' 2,714, 9 of them one writer's
slashed ``0``; in the development expressions 1 of 4,293 marks), so the flag makes a mark
unreadable, not impossible: a drawing is refused only when most of its marks are
(:data:`mathocr.solver.UNREADABLE_SHARE`). Counting costs about 0.3 ms a drawing (segmenting
200 development drawings, interleaved: 3.65 -> 3.96 ms each)."""

LOOP_AREA = 2.0
"""The least area, in pen widths squared, of a hole that counts towards
:data:`SCRIBBLE_LOOPS` (smaller ones are the slivers where strokes cross)."""


def _loops(own: np.ndarray, sw: float) -> int:
    """The holes a mark's ink encloses, each at least :data:`LOOP_AREA` pen widths squared."""
    background, n = ndimage.label(~own)
    if n < 2:
        return 0
    sizes = np.bincount(background.ravel(), minlength=n + 1)
    sizes[0] = 0
    # Background that reaches the mark's box is outside it, not enclosed.
    sizes[np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])] = 0
    return int(np.count_nonzero(sizes >= LOOP_AREA * sw * sw))


def _bracket_shape(own: np.ndarray) -> str | None:
    """The shape of one tall stroke: an arc, an upright stroke or None (neither).

    ``"open"`` or ``"close"`` for an arc bulging left or right, ``"loose_open"`` or
    ``"loose_close"`` for one that leans (:data:`UPRIGHT_SLANT`) or is hooked at its ends
    (:data:`STROKE_ENDS`), ``"upright"`` for a straight upright stroke, None for a slanted
    straight stroke or no single stroke.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:60, 0:40]
    >>> arc = np.abs(xx - (4 + 12 * ((yy - 30) / 30) ** 2)) < 3     # bulges left
    >>> _bracket_shape(arc), _bracket_shape(arc[:, ::-1]), _bracket_shape(np.abs(xx - 10) < 3)
    ('open', 'close', 'upright')
    >>> _bracket_shape(np.abs(xx - (35 - yy * 0.5)) < 3) is None      # a slash
    True
    >>> square = (np.abs(xx - 6) < 3) | ((yy < 6) & (xx < 30)) | ((yy > 53) & (xx < 30))
    >>> _bracket_shape(square)                                        # [
    'loose_open'
    """
    rows = np.flatnonzero(own.any(axis=1))
    if rows.size < 5:
        return "upright"
    ink = own[rows]
    xs = np.arange(own.shape[1])
    mid = (ink * xs).sum(axis=1) / ink.sum(axis=1)
    first, last = ink.argmax(axis=1), own.shape[1] - 1 - ink[:, ::-1].argmax(axis=1)
    height = float(rows[-1] - rows[0] + 1)
    t = (rows - rows[0]) / max(rows[-1] - rows[0], 1)
    body = (t >= STROKE_ENDS) & (t <= 1.0 - STROKE_ENDS)
    width = last - first + 1
    if width[body].max() > STROKE_WIDTH * height:
        return None  # a bar or a loop: a 7, a 2, a 0, no single stroke
    k = max(1, rows.size // 10)
    top, bottom = mid[:k].mean(), mid[-k:].mean()
    upright = abs(bottom - top) <= UPRIGHT_SLANT * height
    chord = top + (bottom - top) * t
    bulge = float((mid - chord)[np.abs(t - 0.5) < 0.2].mean()) / height
    if abs(bulge) >= BULGE:
        side = "open" if bulge < 0 else "close"
        return side if upright and width.max() <= STROKE_WIDTH * height else f"loose_{side}"
    return "upright" if upright else None


# ---------------------------------------------------------------------------- segment


def segment(image: np.ndarray, max_side: int = MAX_SIDE) -> Segmentation:
    """Find the symbols of an image, in reading order: line by line, each left to right.

    The image may hold one expression or several, one per line. Some symbols are told
    by their shape and flagged (:attr:`Segment.flags`): a decimal point (``"point"``)
    and a colon (``"colon"``), which the classifier does not learn, and the ``=`` and
    ``÷`` whose parts are separate marks (``"equals"``, ``"obelus"``).

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` grey or ``(H, W, 3)`` RGB ``uint8``, as :func:`mathocr.io.read_image`
        returns; any ink colour and either polarity.
    max_side : int, default :data:`MAX_SIDE`
        Larger images are reduced before segmenting (boxes stay in original pixels).

    Returns
    -------
    Segmentation

    Examples
    --------
    >>> page = np.full((60, 120), 255, np.uint8)
    >>> page[10:50, 20:26] = 0                      # a "1"
    >>> page[28:32, 45:75] = 0                      # a "-"
    >>> page[10:50, 90:96] = 0                      # another "1"
    >>> seg = segment(page)
    >>> [s.box for s in seg.segments]
    [(20, 10, 6, 40), (45, 28, 30, 4), (90, 10, 6, 40)]
    >>> page[28:32, 45:75] = 255; page[43:50, 52:59] = 0    # a dot on the baseline
    >>> [s.flags for s in segment(page).segments]
    [(), ('point',), ()]
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"expected a uint8 (H, W) or (H, W, 3) array, got {img.dtype} {img.shape}")
    orig_h, orig_w = img.shape[:2]
    work, scale = _reduce(img, max_side)
    signal, dark_ink = ink_signal(work)
    thr, level = _threshold(signal)
    warnings: list[str] = []
    empty = Segmentation([], 0.0, 0.0, 0, dark_ink, warnings)
    if level <= 0:
        return empty
    mask = signal > thr
    labels, n, boxes, area, width = _components(mask)
    if n == 0:
        return empty

    sw = _pen_width(area, width, boxes, mask.shape)
    if sw == 0:
        return empty  # nothing but specks of one to three pixels: no symbol is that small
    speck = 0.1
    lines_opened = False
    thin = width < THIN_LINE * sw
    lined = sw >= 4.0 and (np.any(thin & (area >= 4.0 * sw * sw)) or area[thin].sum() > 0.25 * area.sum())
    if lined or sw < 4.0:
        # Large or many marks far thinner than the pen: ruled or squared paper's lines.
        # An opening wipes them out and leaves strokes of this pen whole; what is left of
        # the lines is smaller than a dot of this pen (a disc about a pen wide). Where the
        # lines hold the strokes together they pass for the pen (under 4 pixels): then
        # the opening is kept if it leaves strokes far wider than that.
        opened = _open_lines(mask)
        parts = _components(opened)
        wide = _pen_width(parts[3], parts[4], parts[2], mask.shape)
        if lined or wide >= max(4.0, 2.5 * sw):
            mask, (labels, n, boxes, area, width), sw, speck = opened, parts, wide, 0.6
            lines_opened = True
            if sw == 0:
                return empty
    # Specks: smaller than a dot a pen of this width would leave.
    keep = (area >= max(3.0, speck * sw * sw)) & ~_background_marks(boxes, area, width, sw, mask.shape)
    if keep.sum() > MAX_COMPONENTS:
        order = np.argsort(-area)
        keep[:] = False
        keep[order[:MAX_COMPONENTS]] = True
        warnings.append(
            f"more than {MAX_COMPONENTS} separate marks found; only the largest were read "
            "(is this a photo of a busy page?)"
        )
    ids = np.flatnonzero(keep) + 1  # label values
    boxes = boxes[keep]
    if len(ids) == 0:
        return empty
    heights = (boxes[:, 3] - boxes[:, 1]).astype(np.float64)
    # The height of full-size symbols: robust to a few tiny (dots) or huge (a rule,
    # a bracket) marks.
    line_h = float(np.median(heights[heights >= 0.5 * max(np.median(heights), heights.max() / 4.0)]))
    upper = float(np.percentile(heights, 75))
    if line_h < 0.75 * upper:
        # Small marks are half of them or more (the dots and bars of "3:8", "7:8=3", "1÷1"),
        # and pulled the median down: the full-size symbols are the upper quartile's like.
        line_h = float(np.median(heights[heights >= 0.6 * upper]))
    # Specks again, relative to the symbols: far smaller than a multiplication dot, or
    # a small mark thinner than half the pen (a sliver of a digit's blurred edge, a
    # scratch): every dot, bar or stroke the pen leaves is at least ~0.6 of its width.
    side = np.maximum(heights, boxes[:, 2] - boxes[:, 0])
    small = (side < 0.06 * line_h) | ((side < 0.5 * line_h) & (width[ids - 1] < SLIVER * sw))
    if lines_opened:
        # The page's lines were opened away: what is left of them far thinner than the
        # pen, however long, is lines still (where they thicken about a punched hole).
        small |= width[ids - 1] < LINE_LEFT * sw
    if small.any() and not small.all():
        ids, boxes, heights = ids[~small], boxes[~small], heights[~small]
    dots = _faint_dots(signal, labels, boxes, ids, thr, line_h)
    if dots:
        ids = np.append(ids, [d for d, _ in dots])
        boxes = np.vstack([boxes, [b for _, b in dots]])
        heights = (boxes[:, 3] - boxes[:, 1]).astype(np.float64)
    # Blobs: marks shaped as a dot by their box (roughly square, filled: a dot, also a
    # heavy x). Round ones a few pen widths across (a decimal point, a colon's dot) are no
    # full-height marks even where a heavy pen makes them half as high as the digits.
    widths = (boxes[:, 2] - boxes[:, 0]).astype(np.float64)
    ink = np.zeros(len(ids))
    own = ids <= n
    ink[own] = area[ids[own] - 1]
    for k in np.flatnonzero(~own):  # the faint dots of a ÷, labelled afterwards
        ink[k] = np.count_nonzero(_crop(labels, boxes[k]) == ids[k])
    long, short = np.maximum(heights, widths), np.minimum(heights, widths)
    blob = (long <= 2.0 * short) & (ink >= 0.55 * heights * widths) & (short >= 0.6 * sw)
    heavy = np.flatnonzero(blob & (heights >= 0.5 * line_h) & (long <= min(3.0 * sw, 0.65 * line_h)))
    round_ = [k for k in heavy if _is_round(labels, boxes[k], ids[k])]
    tall = heights >= 0.5 * line_h
    tall[round_] = False

    line, n_lines = _line_clusters(boxes, tall)
    stray = _strays(boxes, tall, line, line_h, mask.shape)
    if stray.any():
        ids, boxes, tall, line, blob = ids[~stray], boxes[~stray], tall[~stray], line[~stray], blob[~stray]
    group, shape = _merge_groups(boxes, tall, line, labels, ids, line_h, sw, blob)

    segments: list[Segment] = []
    # Upright marks that are no arc taller than the digits: a 1, or a bracket. With each,
    # whether it is taller and its stroke's shape (:func:`_bracket_shape`).
    uprights: list[tuple[int, bool, str | None]] = []
    flat_signal_scale = 127.0 / max(level - thr, 1.0)
    groups = np.unique(group)
    # Each line's last symbol (the rightmost by its centre, as they are ordered below), the
    # one place a "=" drawn joined is looked for: later keys of the dict win.
    centre = {g: (boxes[group == g, 0].min() + boxes[group == g, 2].max()) / 2.0 for g in groups}
    ends = set({int(line[np.argmax(group == g)]): g for g in sorted(groups, key=centre.__getitem__)}.values())
    for g in groups:
        members = np.flatnonzero(group == g)
        pb = boxes[members]
        x0, y0 = int(pb[:, 0].min()), int(pb[:, 1].min())
        x1, y1 = int(pb[:, 2].max()), int(pb[:, 3].max())
        sub_lab = labels[y0:y1, x0:x1]
        own = sub_lab == ids[members[0]] if len(members) == 1 else np.isin(sub_lab, ids[members])
        # Graded ink inside the symbol's own mask: a threshold at 128 or Otsu on the
        # crop both give back exactly this mask.
        vals = 128.0 + (signal[y0:y1, x0:x1] - thr) * flat_signal_scale
        bw, bh = x1 - x0, y1 - y0
        margin = max(3, round(0.12 * max(bw, bh)))
        crop = np.zeros((bh + 2 * margin, bw + 2 * margin), np.uint8)
        crop[margin : margin + bh, margin : margin + bw] = np.where(own, np.clip(vals, 128, 255), 0)
        flags = []
        if _is_equals(pb):
            flags.append("equals")
        elif _is_obelus(pb):
            flags.append("obelus")
        elif shape[members[0]]:
            flags.append(shape[members[0]])  # "colon" or "point"
        elif len(members) == 1 and bh >= 0.8 * line_h and bw <= UPRIGHT_ASPECT * bh:
            # A bracket stands taller than the digits it holds (an arc of digit height is a
            # curved 1 or 9 far more often, unless another bracket faces it: below, as the
            # other upright strokes on a line that has an arc).
            taller = bh >= BRACKET_HEIGHT * line_h
            stroke = _bracket_shape(own)
            if taller and stroke in ARCS:
                flags.append(stroke)
            else:
                uprights.append((len(segments), taller, stroke))
        if bh > 1.8 * line_h:
            flags.append("tall")
        if (bw > 1.6 * line_h and bh > 0.5 * line_h) or bw > 2.5 * line_h:
            flags.append("wide")
        if _loops(own, sw) >= SCRIBBLE_LOOPS:
            flags.append("loops")
        if not flags and (
            _merged_bars(own, pb, line_h, sw) or (g in ends and _joined_equals(own, pb, line_h, sw))
        ):
            flags.append("joined_equals")
        ox0, oy0 = math.floor(x0 * scale), math.floor(y0 * scale)
        ox1, oy1 = min(orig_w, math.ceil(x1 * scale)), min(orig_h, math.ceil(y1 * scale))
        segments.append(
            Segment((ox0, oy0, ox1 - ox0, oy1 - oy0), crop, len(members), int(line[members[0]]), tuple(flags))
        )
    _flag_paired_arcs(segments, uprights)
    arcs = {s.line for s in segments if ARCS & set(s.flags)}
    for i, taller, stroke in uprights:
        # Beside an arc, a straight upright stroke may be the other bracket, and so may a
        # mark taller than the digits whatever its shape (a ")" hooked like a 7): the
        # grammar decides.
        if segments[i].line in arcs and (taller or stroke is not None):
            segments[i] = dataclasses.replace(segments[i], flags=(*segments[i].flags, "upright"))
    segments.sort(key=lambda s: (s.line, s.box[0] + s.box[2] / 2.0))
    return Segmentation(segments, line_h * scale, sw * scale, n_lines, dark_ink, warnings)
