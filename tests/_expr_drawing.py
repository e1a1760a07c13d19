"""Helpers for the expression-reading tests: drawn pages and fake classifiers.

Pages are drawn with PIL (lines and ellipses), so no data file is needed. The fake
classifiers implement ``predict_proba`` + ``classes_`` like a fitted pipeline.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from mathocr.symbols import CLASSES


def draw_page(
    text: str,
    *,
    glyph: int = 80,
    stroke: int = 8,
    gap: int = 30,
    ink=(0, 0, 0),
    bg=(255, 255, 255),
    slant: float = 0.0,
    margin: int = 40,
    height: int | None = None,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Draw crude symbols left to right; return (RGB page, expected ink boxes).

    Symbols: ``1`` bar, ``0`` ring, ``-`` dash, ``+`` cross, ``/`` slash,
    ``x`` diagonal cross, ``.`` dot, ``÷`` obelus, ``=`` equals.
    """
    widths = {
        "1": stroke,
        "0": int(glyph * 0.55),
        "-": int(glyph * 0.5),
        "+": int(glyph * 0.5),
        "/": int(glyph * 0.45),
        "x": int(glyph * 0.45),
        ".": int(stroke * 1.6),
        "÷": int(glyph * 0.55),
        "=": int(glyph * 0.55),
    }
    total = sum(widths[c] for c in text) + gap * (len(text) - 1) + 2 * margin
    h = height or int(glyph * 2.2 + abs(slant) * total)
    im = Image.new("RGB", (total, h), bg)
    d = ImageDraw.Draw(im)
    x = margin
    boxes = []
    base_top = (h - glyph) // 2 if slant >= 0 else (h - glyph) // 2 + int(abs(slant) * total / 2)
    for c in text:
        w = widths[c]
        top = int(base_top - slant * (x - margin)) if slant else base_top
        mid = top + glyph // 2
        s2 = stroke // 2
        if c == "1":
            d.rectangle([x, top, x + stroke - 1, top + glyph - 1], fill=ink)
            boxes.append((x, top, stroke, glyph))
        elif c == "0":
            d.ellipse([x, top, x + w - 1, top + glyph - 1], outline=ink, width=stroke)
            boxes.append((x, top, w, glyph))
        elif c == "-":
            d.rectangle([x, mid - s2, x + w - 1, mid - s2 + stroke - 1], fill=ink)
            boxes.append((x, mid - s2, w, stroke))
        elif c == "+":
            d.rectangle([x, mid - s2, x + w - 1, mid - s2 + stroke - 1], fill=ink)
            d.rectangle(
                [x + w // 2 - s2, mid - w // 2, x + w // 2 - s2 + stroke - 1, mid - w // 2 + w - 1], fill=ink
            )
            boxes.append((x, mid - w // 2, w, w))
        elif c == "/":
            d.line([(x + s2, top + glyph - s2), (x + w - s2, top + s2)], fill=ink, width=stroke)
            boxes.append((x, top, w, glyph))
        elif c == "x":
            y0 = mid - w // 2
            d.line([(x + s2, y0 + s2), (x + w - s2, y0 + w - s2)], fill=ink, width=stroke)
            d.line([(x + s2, y0 + w - s2), (x + w - s2, y0 + s2)], fill=ink, width=stroke)
            boxes.append((x, y0, w, w))
        elif c == ".":
            d.ellipse([x, mid - w // 2, x + w - 1, mid - w // 2 + w - 1], fill=ink)
            boxes.append((x, mid - w // 2, w, w))
        elif c == "÷":
            r = int(stroke * 0.9)
            d.rectangle([x, mid - s2, x + w - 1, mid - s2 + stroke - 1], fill=ink)
            cx = x + w // 2
            d.ellipse([cx - r, mid - glyph // 4 - r, cx + r, mid - glyph // 4 + r], fill=ink)
            d.ellipse([cx - r, mid + glyph // 4 - r, cx + r, mid + glyph // 4 + r], fill=ink)
            boxes.append((x, mid - glyph // 4 - r, w, glyph // 2 + 2 * r + 1))
        elif c == "=":
            off = glyph // 8
            d.rectangle([x, mid - off - stroke, x + w - 1, mid - off - 1], fill=ink)
            d.rectangle([x, mid + off, x + w - 1, mid + off + stroke - 1], fill=ink)
            boxes.append((x, mid - off - stroke, w, 2 * off + 2 * stroke))
        else:
            raise ValueError(c)
        x += w + gap
    return np.asarray(im), boxes


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


def one_hot(symbol: str, p: float = 0.9, classes=CLASSES) -> np.ndarray:
    row = np.full(len(classes), (1.0 - p) / (len(classes) - 1))
    row[list(classes).index(symbol)] = p
    return row


class ShapeClassifier:
    """A fake fitted pipeline that recognises the shapes of :func:`draw_page` by rules.

    Columns are in a shuffled ``classes_`` order on purpose: callers must use
    ``classes_``. Each call is recorded in ``calls`` (number of crops).
    """

    def __init__(self, p: float = 0.9):
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
