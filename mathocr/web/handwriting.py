"""Pen strokes for arithmetic expressions, as a person would draw them on the page's canvas.

The app uses them to warm the model up at start-up; the tests, the browser test and the
HTTP benchmark use the very same strokes, drawn by the one stroke renderer
(:mod:`mathocr.strokes`) or replayed as mouse movements, so every layer is exercised
with one kind of "handwriting".

Glyphs live in a unit box (x right, y down, both 0..1); :func:`layout` places them
side by side in pixel coordinates and :func:`render_png` draws them as thick round
strokes, black on white, like the drawing page exports.

Examples
--------
>>> from mathocr.web.handwriting import layout, render_png
>>> strokes = layout("1+2", size=(600, 200))
>>> len(strokes)            # one stroke for "1", two for "+", one for "2"
4
>>> render_png("1+2")[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from PIL import Image

from ..strokes import render as draw_strokes

Point = tuple[float, float]
Stroke = list[Point]

__all__ = ["GLYPHS", "layout", "render", "render_png"]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24) -> Stroke:
    """Points on an elliptical arc; angles in degrees, 0 = right, 90 = down (screen y)."""
    return [
        (
            cx + rx * math.cos(math.radians(start + (end - start) * i / n)),
            cy + ry * math.sin(math.radians(start + (end - start) * i / n)),
        )
        for i in range(n + 1)
    ]


# Shapes close to how digits are written in MNIST: single strokes where people use one,
# no serifs, a slight closing overlap on loops so the pen line has no gap.
GLYPHS: dict[str, list[Stroke]] = {
    "0": [_arc(0.5, 0.5, 0.32, 0.45, -90, 275)],
    "1": [[(0.55, 0.03), (0.45, 0.97)]],
    "2": [[*_arc(0.5, 0.3, 0.32, 0.25, 190, 370, 12), (0.62, 0.55), (0.15, 0.96), (0.88, 0.94)]],
    "3": [[*_arc(0.48, 0.27, 0.3, 0.23, 200, 450, 14), *_arc(0.48, 0.72, 0.34, 0.24, 270, 500, 14)]],
    "4": [[(0.58, 0.03), (0.12, 0.66), (0.9, 0.66)], [(0.68, 0.32), (0.66, 0.97)]],
    "5": [[(0.82, 0.05), (0.28, 0.05), (0.22, 0.45), *_arc(0.5, 0.68, 0.33, 0.28, 235, 500, 16)]],
    "6": [[(0.72, 0.04), (0.32, 0.45), *_arc(0.5, 0.7, 0.3, 0.26, 200, 560, 20)]],
    "7": [[(0.12, 0.05), (0.88, 0.05), (0.38, 0.97)]],
    "8": [[*_arc(0.5, 0.27, 0.26, 0.23, 90, 450, 18), *_arc(0.5, 0.73, 0.32, 0.24, -90, 270, 18)]],
    "9": [[*_arc(0.48, 0.3, 0.3, 0.25, 0, 370, 18), (0.78, 0.33), (0.72, 0.97)]],
    # Operators are smaller than digits and centred on the line, as people write them.
    "+": [[(0.1, 0.5), (0.9, 0.5)], [(0.5, 0.12), (0.5, 0.88)]],
    "-": [[(0.08, 0.5), (0.92, 0.5)]],
    "*": [[(0.15, 0.15), (0.85, 0.85)], [(0.85, 0.15), (0.15, 0.85)]],
    "/": [[(0.25, 0.97), (0.75, 0.03)]],
    "=": [[(0.08, 0.3), (0.92, 0.3)], [(0.08, 0.7), (0.92, 0.7)]],
    # Brackets as curved as writers' (the middle 0.17 of their height off their chord, the
    # median of UNIPEN's training writers' brackets; a flatter arc is a curved 1 as often).
    "(": [_arc(1.0, 0.5, 1.0, 0.5, 100, 260, 12)],
    ")": [_arc(0.0, 0.5, 1.0, 0.5, -80, 80, 12)],
    # A dot is a tiny loop: the pen's width makes it round.
    ".": [_arc(0.5, 0.5, 0.15, 0.15, 0, 360, 8)],
    ":": [_arc(0.5, 0.08, 0.15, 0.08, 0, 360, 8), _arc(0.5, 0.92, 0.15, 0.08, 0, 360, 8)],
}

# Height of each glyph relative to a digit, and its width relative to its own height. A
# slash stands taller than the digits, as writers draw it (UNIPEN's training writers: 1.26
# times their median digit; mathocr.decoding.ONE_SLASH_HEIGHT).
_SCALE: dict[str, float] = {
    "+": 0.55,
    "-": 0.55,
    "*": 0.45,
    "/": 1.25,
    "=": 0.45,
    "(": 0.93,
    ")": 0.93,
    ".": 0.08,
    ":": 0.5,
}
_ASPECT: dict[str, float] = {
    "1": 0.45,
    "-": 1.0,
    "+": 1.0,
    "*": 1.0,
    "/": 0.6,
    "=": 1.2,
    "(": 0.3,
    ")": 0.3,
    ".": 1.0,
    ":": 0.16,
}
_ON_BASELINE = frozenset(".")  # a decimal point sits on the line, not in its middle


def layout(
    text: str,
    size: tuple[int, int] = (600, 200),
    margin: float = 0.12,
) -> list[Stroke]:
    """Place the glyphs of ``text`` side by side in a canvas of ``size`` pixels.

    Parameters
    ----------
    text : str
        Symbols from :data:`GLYPHS`, e.g. ``"12+69"``; spaces are ignored; ``"\\n"``
        starts another line (the lines share the height).
    size : (int, int)
        Width and height of the canvas in pixels.
    margin : float
        Blank border, as a fraction of the height.

    Returns
    -------
    list of list of (float, float)
        Strokes in pixel coordinates, in drawing order.

    Raises
    ------
    KeyError
        If a symbol has no glyph.

    Examples
    --------
    >>> layout("1", size=(100, 100))[0][0]
    (51.7, 14.3)
    """
    lines = text.split("\n")
    if len(lines) > 1:
        band = size[1] / len(lines)
        return [
            [(x, round(y + i * band, 1)) for x, y in stroke]
            for i, line in enumerate(lines)
            for stroke in layout(line, (size[0], round(band)), margin)
        ]
    width, height = size
    symbols = [c for c in text if not c.isspace()]
    for c in symbols:
        if c not in GLYPHS:
            raise KeyError(f"no glyph for {c!r}; known: {''.join(GLYPHS)}")
    digit_h = height * (1 - 2 * margin)
    gap = digit_h * 0.28
    widths = [digit_h * _SCALE.get(c, 1.0) * _ASPECT.get(c, 0.62) for c in symbols]
    total = sum(widths) + gap * max(len(symbols) - 1, 0)
    # Shrink everything when the text does not fit, so any length stays inside the canvas.
    shrink = min(1.0, (width * (1 - margin)) / total) if total else 1.0
    x = (width - total * shrink) / 2
    strokes: list[Stroke] = []
    for c, w in zip(symbols, widths, strict=True):
        h = digit_h * _SCALE.get(c, 1.0) * shrink
        w *= shrink
        top = height / 2 + digit_h * shrink / 2 - h if c in _ON_BASELINE else height / 2 - h / 2
        for stroke in GLYPHS[c]:
            strokes.append([(round(x + px * w, 1), round(top + py * h, 1)) for px, py in stroke])
        x += w + gap * shrink
    return strokes


def render(
    text: str,
    size: tuple[int, int] = (600, 200),
    pen: float | None = None,
    strokes: Sequence[Stroke] | None = None,
) -> Image.Image:
    """Draw ``text`` as black pen strokes on white; returns a greyscale PIL image.

    Parameters
    ----------
    text : str
        The expression to draw (ignored when ``strokes`` is given).
    size : (int, int)
        Image width and height.
    pen : float, optional
        Pen width in pixels; by default 1/18 of the height, like the page's default pen.
    strokes : sequence of strokes, optional
        Pre-computed strokes (from :func:`layout`) to draw instead of ``text``.

    Examples
    --------
    >>> render("7", size=(60, 60)).size
    (60, 60)
    """
    pen = pen or max(2.0, size[1] / 18)
    # Drawn where layout() put them, as the page's canvas does (round pen, anti-aliased).
    grey = draw_strokes(strokes if strokes is not None else layout(text, size), pen=pen, page=size)
    return Image.fromarray(grey)


def render_png(text: str, size: tuple[int, int] = (600, 200), pen: float | None = None) -> bytes:
    """Draw ``text`` like :func:`render` and return PNG bytes.

    Examples
    --------
    >>> len(render_png("1+1")) > 100
    True
    """
    buf = io.BytesIO()
    render(text, size, pen).save(buf, format="PNG")
    return buf.getvalue()
