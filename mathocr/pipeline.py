"""Build, convert, save and load the symbol pipeline.

``binarise -> normalise -> clf``: the same object is trained on symbol images and
serves crops from pages, so training and serving cannot drift apart.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from .errors import ModelError
from .preprocessing import Binarize, Normalize

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = MODELS_DIR / "default.joblib"

# Named configurations: step parameters keyed like Pipeline.set_params.
CONFIGS: dict[str, dict[str, Any]] = {
    # The best model found (see mathocr/models/default.json for how it was measured).
    "default": {
        "normalise__method": "mnist",
        "clf__filters": (16, 32, 64),
        "clf__convs_per_block": 2,
        "clf__dense": (128,),
        "clf__dropout": 0.25,
        "clf__batch_norm": True,
        "clf__augment": 1.0,
        "clf__warp": 0.0,
        "clf__epochs": 12,
        "clf__batch_size": 128,
        "clf__learning_rate": 2e-3,
    },
    # The design mathocr replaces, kept as the baseline for benchmarks: Conv64-Conv64
    # (valid padding, pooled), Dense64-Dense64, crops squashed to 28x28, 5 epochs,
    # no augmentation, no batch norm (145k parameters).
    "seed": {
        "normalise__method": "squash",
        "clf__filters": (64, 64),
        "clf__convs_per_block": 1,
        "clf__padding": "valid",
        "clf__dense": (64, 64),
        "clf__dropout": 0.0,
        "clf__batch_norm": False,
        "clf__augment": False,
        "clf__epochs": 5,
        "clf__batch_size": 32,
        "clf__learning_rate": 1e-3,
    },
}


def make_pipeline(config: str = "default", **params: Any) -> Pipeline:
    """Build an unfitted pipeline ``binarise -> normalise -> clf``.

    Parameters
    ----------
    config : {"default", "seed"}
        Named configuration to start from.
    **params
        Overrides in ``Pipeline.set_params`` form, e.g. ``clf__epochs=1``.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> pipe = make_pipeline("default", clf__epochs=1)      # doctest: +SKIP
    >>> pipe.fit(images, tokens).predict(images[:2])        # doctest: +SKIP
    array(['7', '+'], dtype=object)
    """
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}; choose one of {', '.join(CONFIGS)}")
    from .estimator import SymbolClassifier  # imports TensorFlow

    pipe = Pipeline(
        [
            ("binarise", Binarize()),
            ("normalise", Normalize()),
            ("clf", SymbolClassifier()),
        ]
    )
    pipe.set_params(**{**CONFIGS[config], **params})
    return pipe


def to_inference(pipe: Pipeline, n_threads: int = 1) -> Pipeline:
    """Return a copy of a fitted pipeline whose classifier runs on ONNX Runtime.

    The result is still a fitted scikit-learn ``Pipeline`` with the same
    ``classes_`` and (to float rounding) the same probabilities, but it neither
    imports nor needs TensorFlow.
    """
    from .inference import OnnxSymbolClassifier

    steps = list(pipe.steps)
    name, clf = steps[-1]
    if not isinstance(clf, OnnxSymbolClassifier):
        steps[-1] = (name, OnnxSymbolClassifier.from_classifier(clf, n_threads=n_threads))
    return Pipeline(steps)


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def card_path(path: str | os.PathLike) -> Path:
    """Where the model card of the model file ``path`` lives (``model.joblib`` -> ``model.json``)."""
    return Path(path).with_suffix(".json")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a pickled pipeline depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in (
        "mathocr",
        "numpy",
        "scipy",
        "scikit-learn",
        "pillow",
        "onnxruntime",
        "tensorflow-cpu",
        "keras",
        "scikeras",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def save_pipeline(pipe: Pipeline, path: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
    """Pickle ``pipe`` to ``path`` with its SHA-256 beside it, and its model card.

    Writes ``path``, ``path.sha256`` (``sha256sum`` format) and, when ``card`` is
    given, ``path`` with a ``.json`` suffix. Files are written whole or not at all.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    joblib.dump(pipe, buf, compress=3)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    _atomic_write(path, data)
    _atomic_write(_digest_path(path), f"{digest}  {path.name}\n".encode())
    if card is not None:
        card = {**card, "sha256": digest, "file": path.name, "libraries": library_versions()}
        _atomic_write(card_path(path), (json.dumps(card, indent=2, default=str) + "\n").encode())
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_pipeline(path: str | os.PathLike | None = None, verify: bool = True) -> Pipeline:
    """Load a fitted pipeline, checking its SHA-256 before unpickling it.

    Unpickling runs code, so a file whose digest does not match the ``.sha256``
    file beside it is refused before it is unpickled.

    Parameters
    ----------
    path : path-like, optional
        A file written by :func:`save_pipeline`; the bundled default when None.
    verify : bool, default True
        Refuse files without a matching ``.sha256`` beside them.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Raises
    ------
    mathocr.errors.ModelError
        Missing file, missing or mismatched digest, or a file that does not unpickle
        to a pipeline.

    Examples
    --------
    >>> pipe = load_pipeline()                  # doctest: +SKIP
    >>> pipe.predict_proba(crops).shape         # doctest: +SKIP
    (7, 14)
    """
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        hint = " (the bundled model is missing: reinstall mathocr)" if path == DEFAULT_MODEL else ""
        raise ModelError(f"no model file at {path}{hint}")
    data = path.read_bytes()
    if verify:
        digest_file = _digest_path(path)
        if not digest_file.is_file():
            raise ModelError(
                f"{digest_file} is missing: refusing to unpickle {path} without an integrity check"
            )
        expected = (digest_file.read_text().split() or [""])[0]
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ModelError(
                f"{path} does not match its SHA-256 ({actual[:12]}... != {expected[:12]}...): "
                "refusing to unpickle a modified or corrupt file"
            )
    try:
        pipe = joblib.load(io.BytesIO(data))
    except Exception as exc:  # a pickle can fail in many ways; all mean "not a model file"
        raise ModelError(f"{path} is not a readable mathocr model: {type(exc).__name__}: {exc}") from None
    if not hasattr(pipe, "predict_proba") or not hasattr(pipe, "classes_"):
        raise ModelError(f"{path} does not hold a fitted classifier pipeline")
    return pipe


def load_card(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the model card written beside a model file (the bundled one when None)."""
    p = card_path(path if path is not None else DEFAULT_MODEL)
    if not p.is_file():
        raise ModelError(f"no model card at {p}")
    return json.loads(p.read_text())
