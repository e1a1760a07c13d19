"""mathocr: read a handwritten arithmetic expression from an image and compute its exact value.

The heavy parts (TensorFlow, ONNX Runtime) are imported only when first used, so
``import mathocr`` stays cheap.

Examples
--------
>>> import mathocr
>>> solver = mathocr.Solver.load()              # doctest: +SKIP
>>> solver.solve("drawing.png").expression      # doctest: +SKIP
'12+69'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_pipeline": "mathocr.pipeline",
    "save_pipeline": "mathocr.pipeline",
    "make_pipeline": "mathocr.pipeline",
    "Solver": "mathocr.solver",
    "Solution": "mathocr.solver",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mathocr' has no attribute {name!r}")
