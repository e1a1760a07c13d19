"""The expression reader mathocr replaced, rebuilt for the benchmarks' baseline row.

What the old project did with an image: one global threshold (dark ink on light paper
assumed), outer contours (here: 8-connected components, which give the same boxes),
left to right, each box squashed to 28x28 and classified, the argmax of each joined into
a string and evaluated (the old app used ``eval``; here mathocr's own exact evaluator
stands in, so nothing in the project calls ``eval``: the value differs only where
``eval`` would have rounded a float). It is used with the ``seed`` model, on the very
synthetic images the new solver reads, so the two exact-match rates compare.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from mathocr.errors import ExpressionError
from mathocr.expression import evaluate

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
        return text, evaluate(text)
    except ExpressionError:  # malformed, or a division by zero: the old app answered an error
        return text, None
