"""The expression reader mathocr replaced, rebuilt for the benchmarks' baseline row.

What the old project did with an image: one global threshold (dark ink on light paper
assumed), outer contours (here: 8-connected components, which give the same boxes),
left to right, each box squashed to 28x28 and classified, the argmax of each joined into
a string and handed to ``eval``. It is used with the ``seed`` model, on the very
synthetic images the new solver reads, so the two exact-match rates compare.
``eval`` only ever sees strings of digits and ``+-*/`` built here.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

THRESHOLD = 127


def old_expression(pipe: Any, image: np.ndarray) -> tuple[str, Fraction | None]:
    """Read one page the old way: ``(expression string, value or None)``."""
    grey = np.asarray(Image.fromarray(image).convert("L")) if image.ndim == 3 else image
    ink = grey < THRESHOLD
    labels, n = ndimage.label(ink, structure=np.ones((3, 3), bool))
    if n == 0:
        return "", None
    boxes = sorted(ndimage.find_objects(labels), key=lambda s: s[1].start)
    crops = [np.where(ink[s], 255, 0).astype(np.uint8) for s in boxes]
    proba = pipe.predict_proba(crops)
    text = "".join(str(pipe.classes_[i]) for i in np.argmax(proba, axis=1))
    try:
        # The old design's evaluation; `text` holds only digits and + - * /.
        value = eval(text, {"__builtins__": {}})
        return text, Fraction(value).limit_denominator(10**6)
    except Exception:  # SyntaxError, ZeroDivisionError: the old app answered an error
        return text, None
