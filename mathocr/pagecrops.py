"""Training crops cut from synthetic pages, exactly as solving cuts them.

The symbol datasets are single glyphs, each drawn and scanned its own way. What the
classifier sees when solving is different: a segment of a page drawn in one pen,
blurred, compressed, thresholded and cut out by :func:`mathocr.segmentation.segment`.
A classifier trained on the glyphs alone reads a ``+`` drawn with a thick pen as ``*``
and a ``÷`` whose dots touch the bar as ``+`` far more often on such pages than on
the datasets' own test images.

This module draws expressions from **training** images (:func:`mathocr.synth.symbol_pool`
over the training sets), segments each page and keeps the crops of the pages where
the segments line up one to one with the drawn symbols, labelled with their tokens.

Examples
--------
>>> import numpy as np
>>> bar = np.zeros((28, 28), np.uint8); bar[10:18, 4:24] = 255
>>> pool = {t: [bar] for t in "0123456789+-*/"}
>>> crops = page_crops(pool, 4, seed=0, styles=["clean"])
>>> crops.source, crops.balanced, len(crops) == len(crops.y) > 0
('synthetic/pages', True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .datasets import SymbolSet
from .segmentation import Segment, segment
from .synth import Style, SynthItem, iter_expressions

SOURCE = "synthetic/pages"
PAGE_SEED = 0
"""Seed of the pages ``mathocr train`` draws; the benchmarks draw theirs with other seeds."""


def _lined_up(segments: Sequence[Segment], item: SynthItem) -> bool:
    """True when segment k is drawn symbol k for every k: same count, centres inside."""
    if len(segments) != len(item.tokens):
        return False
    for s, (x, y, w, h) in zip(segments, item.boxes, strict=True):
        cx, cy = s.box[0] + s.box[2] / 2.0, s.box[1] + s.box[3] / 2.0
        # A little slack: the drawn box is of the alpha mask, the segment of thresholded ink.
        pad = 2 + 0.1 * max(w, h)
        if not (x - pad <= cx <= x + w + pad and y - pad <= cy <= y + h + pad):
            return False
    return True


def page_crops(
    symbols: Mapping[str, Sequence[np.ndarray]],
    n_pages: int,
    seed: int = 0,
    styles: Iterable[str | Style] | None = None,
) -> SymbolSet:
    """Segment ``n_pages`` synthetic expressions and return their labelled crops.

    Parameters
    ----------
    symbols : mapping
        Glyph name -> ink-on-black images, as :func:`mathocr.synth.symbol_pool` builds
        from the training sets. Never pass held-out images: the crops are for training.
    n_pages : int
        Number of pages to draw; pages whose segmentation does not line up with the
        drawn symbols (a few percent: touching symbols, a dropped dot) are skipped.
    seed : int, default=0
    styles : iterable of style names or Style, optional
        Default: every style of :data:`mathocr.synth.STYLES`, in turn.

    Returns
    -------
    SymbolSet
        Source ``"synthetic/pages"``, ``balanced=True`` (tokens are drawn uniformly).

    Examples
    --------
    >>> from mathocr.datasets import load_training_data             # doctest: +SKIP
    >>> from mathocr.synth import symbol_pool                       # doctest: +SKIP
    >>> pool = symbol_pool(load_training_data().train.values())     # doctest: +SKIP
    >>> len(page_crops(pool, 100, seed=0))                          # doctest: +SKIP
    580
    """
    if int(n_pages) < 0:
        raise ValueError(f"n_pages must be >= 0, got {n_pages!r}")
    crops: list[np.ndarray] = []
    labels: list[str] = []
    for item in iter_expressions(int(n_pages), styles, seed, symbols=symbols):
        segments = segment(item.image).segments
        if _lined_up(segments, item):
            crops.extend(s.crop for s in segments)
            labels.extend(item.tokens)
    return SymbolSet(crops, np.asarray(labels, dtype="<U1"), SOURCE, balanced=True)


__all__ = ["PAGE_SEED", "SOURCE", "page_crops"]
