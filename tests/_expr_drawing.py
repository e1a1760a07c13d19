"""Helpers for the expression-reading tests: drawn pages and fake classifiers.

Pages are crude symbols drawn with a round pen by :func:`mathocr.strokes.render_line`,
so no data file is needed. The fake classifiers implement ``predict_proba`` +
``classes_`` like a fitted pipeline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mathocr.strokes import render_line
from mathocr.symbols import CLASSES


def _ring(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """A closed ellipse of pen positions; a small one under a wide pen is a filled dot."""
    t = np.linspace(0, 2 * np.pi, 49)
    return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])


def _bar(x0: float, x1: float, y: float) -> np.ndarray:
    return np.array([[x0, y], [x1, y]], dtype=float)


def glyph_strokes(c: str, glyph: int, stroke: int) -> list[np.ndarray]:
    """The pen path of one crude symbol, in pixels from its ink's left and a digit's top.

    Paths stop half a pen width inside the ink box so the round pen fills the box
    exactly: a ``1`` is ``stroke`` wide and ``glyph`` tall.
    """
    s2, half, mid = stroke // 2, stroke / 2, glyph // 2
    # Bars sit where an integer rectangle of rows mid - s2 .. mid - s2 + stroke would.
    bar_y = mid - s2 + half
    if c == "1":
        return [np.array([[half, half], [half, glyph - half]])]
    if c == "0":
        w = int(glyph * 0.55)
        return [_ring(w / 2, glyph / 2, (w - stroke) / 2, (glyph - stroke) / 2)]
    if c == "-":
        return [_bar(half, int(glyph * 0.5) - half, bar_y)]
    if c == "+":
        w = int(glyph * 0.5)
        x = w // 2 - s2 + half
        return [
            _bar(half, w - half, bar_y),
            np.array([[x, mid - w // 2 + half], [x, mid - w // 2 + w - half]]),
        ]
    if c == "/":
        w = int(glyph * 0.45)
        return [np.array([[half, glyph - half], [w - half, half]])]
    if c == "x":
        w = int(glyph * 0.45)
        y0 = mid - w // 2
        return [
            np.array([[half, y0 + half], [w - half, y0 + w - half]]),
            np.array([[half, y0 + w - half], [w - half, y0 + half]]),
        ]
    if c == ".":
        w = int(stroke * 1.6)
        return [_ring(w / 2, mid - w // 2 + w / 2, (w - stroke) / 2, (w - stroke) / 2)]
    if c == "÷":
        w, r = int(glyph * 0.55), int(stroke * 0.9)
        dot = r - half  # the pen's own width makes up the rest of the dot
        return [
            _bar(half, w - half, bar_y),
            _ring(w // 2, mid - glyph // 4, dot, dot),
            _ring(w // 2, mid + glyph // 4, dot, dot),
        ]
    if c == "=":
        w, off = int(glyph * 0.55), glyph // 8
        return [_bar(half, w - half, mid - off - half), _bar(half, w - half, mid + off + half)]
    if c == ",":  # a decimal point: a dot on the baseline
        w = int(stroke * 1.6)
        return [_ring(w / 2, glyph - w / 2, (w - stroke) / 2, (w - stroke) / 2)]
    if c == ":":
        w, r = int(stroke * 1.6), glyph // 5
        dot = (w - stroke) / 2
        return [_ring(w / 2, mid - r, dot, dot), _ring(w / 2, mid + r, dot, dot)]
    if c in "()":
        # An arc a little taller than a digit, reaching above and below it.
        t = np.linspace(-1.0, 1.0, 25)
        bulge = glyph * 0.18 * (1.0 - t**2)
        x = (glyph * 0.18 - bulge if c == "(" else bulge) + half
        return [np.column_stack([x, mid + t * glyph * 0.6])]
    if c == "[":  # a bracket drawn square: hooks right at both ends
        top, bottom, w = mid - glyph * 0.6, mid + glyph * 0.6, glyph * 0.4
        return [np.array([[w, top], [half, top], [half, bottom], [w, bottom]])]
    if c == "8":  # two loops, one above the other
        w = int(glyph * 0.5)
        r = (glyph / 2 - stroke) / 2 + half / 2
        return [
            _ring(w / 2, glyph / 4 + half / 2, (w - stroke) / 2, r),
            _ring(w / 2, 3 * glyph / 4 - half / 2, (w - stroke) / 2, r),
        ]
    if c == "@":  # a scribbled coil: three loops drawn over each other, moving right
        t = np.linspace(0, 6 * np.pi, 120)
        r = (glyph - stroke) * 0.4
        return [np.column_stack([r + glyph * 0.025 * t + r * np.cos(t + np.pi), mid + r * np.sin(t)])]
    if c == "]":  # a ")" hooked like a 7: no arc, taller than a digit
        top, bottom, w = mid - glyph * 0.6, mid + glyph * 0.6, glyph * 0.35
        return [np.array([[half, top + glyph * 0.27], [w, top], [w - glyph * 0.05, bottom]])]
    raise ValueError(c)


def draw_page(
    text: str,
    *,
    glyph: int = 80,
    stroke: int = 8,
    gap: int = 30,
    ink: tuple[int, int, int] = (0, 0, 0),
    bg: tuple[int, int, int] = (255, 255, 255),
    slant: float = 0.0,
    margin: int = 40,
    height: int | None = None,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Draw crude symbols left to right; return (RGB page, expected ink boxes).

    Symbols: ``1`` bar, ``0`` ring, ``-`` dash, ``+`` cross, ``/`` slash,
    ``x`` diagonal cross, ``.`` dot at mid-height, ``,`` dot on the baseline (a decimal
    point), ``:`` colon, ``÷`` obelus, ``=`` equals, ``(`` and ``)`` brackets (``[`` drawn
    square, ``]`` hooked like a 7). ``glyph`` is a digit's
    height, ``stroke`` the pen's width, ``gap`` the white between symbols, all in
    pixels; ``slant`` lifts each symbol by that many pixels per pixel along the line.
    """
    glyphs: list[list[np.ndarray]] = []
    x = 0.0
    for c in text:
        strokes = glyph_strokes(c, glyph, stroke)
        # A rising line: each symbol stands higher by how far along the line it starts.
        glyphs.append([(a - (0.0, slant * x)) / glyph for a in strokes])
        x += np.ptp(np.concatenate(strokes)[:, 0]) + stroke + gap
    # The margin is white around the ink: render_line measures it from the pen's path.
    line, boxes = render_line(glyphs, height=glyph, gap=gap / glyph, pen=stroke, margin=margin + stroke / 2)
    h = height or int(glyph * 2.2 + abs(slant) * line.shape[1])
    # The line in the middle of the page, cut to it where the page is lower than the line.
    top = (h - line.shape[0]) // 2
    cover = np.zeros((h, line.shape[1]), np.float32)
    cover[max(top, 0) : top + line.shape[0]] = (255 - line[max(-top, 0) : h - top]) / 255
    page = np.asarray(bg, np.float32) + cover[..., None] * (
        np.asarray(ink, np.float32) - np.asarray(bg, np.float32)
    )
    return np.round(page).astype(np.uint8), [(bx, by + top, bw, bh) for bx, by, bw, bh in boxes]


def shadow(page: np.ndarray, depth: float = 0.6, seed: int = 0) -> np.ndarray:
    """Darken a page with a soft shadow edge and a gradient, as a phone photo would."""
    h, w = page.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    edge = 1.0 - depth / (1.0 + np.exp(-(xx - 0.55 * w + 0.3 * yy) / (0.06 * w)))
    light = edge * (1.0 - 0.3 * yy / h)
    rng = np.random.default_rng(seed)
    out = page.astype(np.float32) * (light[..., None] if page.ndim == 3 else light)
    out += rng.normal(0, 3, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def one_hot(symbol: str, p: float = 0.95, classes=CLASSES) -> np.ndarray:
    row = np.full(len(classes), (1.0 - p) / (len(classes) - 1))
    row[list(classes).index(symbol)] = p
    return row


class ShapeClassifier:
    """A fake fitted pipeline that recognises the shapes of :func:`draw_page` by rules.

    Columns are in a shuffled ``classes_`` order on purpose: callers must use
    ``classes_``. Each call is recorded in ``calls`` (number of crops).
    """

    def __init__(self, p: float = 0.95):
        self.classes_ = np.array(list("+-*/") + list("9876543210"))
        self.p = p
        self.calls: list[int] = []

    def label(self, crop: np.ndarray) -> str:
        ink = crop > 127
        _, n = ndimage.label(ink, structure=np.ones((3, 3)))
        if n >= 3:
            return "/"  # an obelus
        if n == 2:
            return "-"  # what a classifier may well say of '='
        ys, xs = np.nonzero(ink)
        h, w = np.ptp(ys) + 1, np.ptp(xs) + 1
        if ndimage.binary_fill_holes(ink).sum() > 1.3 * ink.sum():
            return "0"
        if h > 2.5 * w:
            return "1"
        if w > 2.5 * h:
            return "-"
        if ink.sum() > 0.6 * h * w:
            return "*"  # a filled dot
        corr = np.corrcoef(xs, ys)[0, 1]
        if corr < -0.7:
            return "/"
        centre = np.abs(xs - xs.mean()) < w / 6
        return "+" if centre.mean() > 0.3 else "*"

    def predict_proba(self, crops) -> np.ndarray:
        self.calls.append(len(crops))
        return np.stack([one_hot(self.label(np.asarray(c)), self.p, self.classes_) for c in crops])


class ScriptedClassifier:
    """A fake pipeline answering given probability rows, in order, whatever the crops."""

    def __init__(self, rows, classes=CLASSES):
        self.classes_ = np.array(classes)
        self.rows = [np.asarray(r, dtype=float) for r in rows]
        self.calls: list[int] = []

    def predict_proba(self, crops) -> np.ndarray:
        n = len(crops)
        self.calls.append(n)
        out, self.rows = self.rows[:n], self.rows[n:]
        assert len(out) == n, "more crops than scripted rows"
        return np.stack(out)


# ---------------------------------------------------------------- pages with more than the sum
def page_with_a_table_edge(text: str) -> tuple[np.ndarray, list[tuple[int, int, int, int]], tuple[int, ...]]:
    """``text`` drawn by :func:`draw_page` on a larger page beside a dark block (a table's edge).

    Returns the page, the expression's ink boxes on it and the region that holds it, x, y, w, h.
    """
    line, boxes = draw_page(text)
    h, w = line.shape[:2]
    page = np.full((h + 240, w + 320, 3), 255, np.uint8)
    page[20:200, 10:230] = 25  # above and left of the expression, never inside its region
    page[200 : 200 + h, 280 : 280 + w] = line
    return page, [(x + 280, y + 200, bw, bh) for x, y, bw, bh in boxes], (280, 200, w, h)


DESK_SUM_BOX = (430, 400, 740, 260)
"""x, y, w, h of a box around the sum of :func:`desk_photo`, in its pixels (``scale=1``)."""


def desk_photo(scale: int = 1):
    """A 1200x700 RGB PIL image (times ``scale``): "25+17" in the web page's pen at the bottom
    right, and a dark block at the top left, a table's edge in a photo."""
    from PIL import Image

    from mathocr.web.handwriting import render

    im = Image.new("RGB", (1200, 700), (255, 255, 255))
    im.paste(render("25+17", (700, 220)).convert("RGB"), (450, 420))
    im.paste((30, 25, 20), (40, 40, 400, 300))
    return im.resize((1200 * scale, 700 * scale)) if scale != 1 else im


def sideways_jpeg(upright) -> bytes:
    """``upright`` (a PIL image) as a phone stores it: turned on its side, EXIF orientation 6
    ("rotate 90° clockwise to show"), so that a reader that applies EXIF gets ``upright`` back."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    upright.rotate(90, expand=True).save(buf, format="JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()
