"""Model cards: what a saved pipeline was trained on, how, on which machine, and how well it reads.

``mathocr train`` writes :func:`model_card` beside the model it saves (``model.json``),
``mathocr gridsearch`` its search card (:func:`mathocr.gridsearch.search_card`) with the
same :func:`data_digests`, and the benchmarks record :func:`machine_info` in their JSON.
Every value goes through :func:`jsonable`, so a card is plain JSON.

Examples
--------
>>> jsonable({"filters": (32, 64), "acc": np.float32(0.5)})
{'filters': [32, 64], 'acc': 0.5}
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .symbols import NOT_A_SYMBOL_FORM

# lscpu fields kept in a machine record; "Flags" is cut to the vector extensions.
_LSCPU_KEYS = (
    "Architecture",
    "Model name",
    "CPU(s)",
    "Thread(s) per core",
    "Core(s) per socket",
    "Socket(s)",
    "CPU max MHz",
    "L2 cache",
    "L3 cache",
    "Hypervisor vendor",
    "Flags",
)


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays, tuples, sets and paths made JSON types.

    Parameters
    ----------
    obj : Any
        Nested mappings and sequences of anything.

    Returns
    -------
    Any
        Dicts with string keys, lists, str, int, float, bool or None; anything else
        becomes its ``str``.

    Examples
    --------
    >>> jsonable({1: np.arange(2), "p": Path("a")})
    {'1': [0, 1], 'p': 'a'}
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def machine_info() -> dict[str, Any]:
    """The machine a run measures: CPU (``lscpu``), usable cores, memory, load, libraries.

    Returns
    -------
    dict
        ``platform``, ``cpu_count``, ``load_average``, ``libraries``, and where the
        system tells them ``usable_cores``, ``lscpu``, ``memory_gib``, ``cgroup_cpus``.

    Examples
    --------
    >>> sorted(machine_info())[:3]  # doctest: +SKIP
    ['cpu_count', 'libraries', 'load_average']
    """
    from .pipeline import library_versions

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "libraries": library_versions(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        lscpu = {}
        for line in out.splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in _LSCPU_KEYS:
                if key == "Flags":  # only the vector extensions that matter for the CNN
                    value = " ".join(f for f in value.split() if f.startswith(("avx", "fma", "amx")))
                lscpu[key] = value
        info["lscpu"] = lscpu
    except (OSError, subprocess.SubprocessError):
        info["lscpu"] = {"Model name": platform.processor() or "unknown"}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    try:
        quota = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota and quota[0] != "max":
            info["cgroup_cpus"] = round(int(quota[0]) / int(quota[1]), 2)
    except (OSError, ValueError, IndexError):
        pass
    return info


def command_line() -> str | None:
    """The ``mathocr ...`` command this process runs, or None when it is not the console script.

    Examples
    --------
    >>> command_line()  # under pytest  # doctest: +SKIP
    """
    if sys.argv and "mathocr" in sys.argv[0]:
        return "mathocr " + shlex.join(sys.argv[1:])
    return None


def data_digests(sets: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Size and content hash of each named symbol set (:meth:`mathocr.datasets.SymbolSet.digest`).

    Parameters
    ----------
    sets : mapping of str to SymbolSet
        E.g. ``TrainingData.train`` or ``TrainingData.heldout``.

    Returns
    -------
    dict
        ``{name: {"n": images, "sha256": digest}}``.
    """
    return {name: {"n": len(s), "sha256": s.digest()} for name, s in sets.items()}


def _listed(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}


def model_card(
    trained: Any,
    model: Any,
    data: Any,
    y: Sequence[Any],
    *,
    config: str,
    form: str,
    overrides: Mapping[str, Any],
    fit_seconds: float,
    started: float,
    options: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    latency_images: Sequence[np.ndarray] | None = None,
) -> dict[str, Any]:
    """The model card of a trained pipeline, as ``mathocr train`` writes it beside the model.

    Parameters
    ----------
    trained : sklearn.pipeline.Pipeline
        The pipeline as fitted (Keras form): its settings and training history.
    model : sklearn.pipeline.Pipeline
        The pipeline as saved (``trained`` or its ONNX inference form): its classes and
        latency.
    data : mathocr.datasets.TrainingData
        The data it was trained on and is evaluated with (digests of both).
    y : sequence
        The training labels, as fitted (counts per class).
    config : str
        The named configuration it started from.
    form : {"keras", "onnx"}
        The form saved.
    overrides : mapping
        The parameters set on top of ``config``.
    fit_seconds : float
        Wall time of ``fit``.
    started : float
        ``time.time()`` when the command started (for the total time).
    options : mapping, optional
        Further training options recorded after the class counts (limits, synthetic
        pages, weighting).
    metrics : mapping, optional
        :func:`mathocr.evaluation.evaluate_sets` of ``model`` on the held-out sets.
    latency_images : sequence of ndarray, optional
        8 images: ``predict_proba`` latency of ``model`` on them is measured now.

    Returns
    -------
    dict
        ``config``, ``form``, ``classes``, ``settings``, ``overrides``, ``command``,
        ``training`` (times, counts, options, ``machine``, ``history``), ``data``
        (``train`` and ``heldout`` digests), ``metrics``, ``latency_predict_proba_8``.
    """
    from .evaluation import predict_proba_latency

    settings = {k: v for k, v in trained.get_params().items() if "__" in k and not callable(v)}
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    return {
        "config": config,
        "form": form,
        "classes": [str(c) for c in model.classes_],
        "settings": _listed(settings),
        "overrides": _listed(overrides),
        "command": command_line(),
        "training": {
            "seconds_fit": round(fit_seconds, 1),
            "seconds_total": round(time.time() - started, 1),
            "n_images": len(y),
            "per_class": {str(c) or NOT_A_SYMBOL_FORM: int(n) for c, n in zip(classes, counts, strict=True)},
            **(options or {}),
            # Training time and latency differ ~3x between hosts of the same size (with
            # and without AVX-512): a card's timings mean little without its machine
            # (its libraries are already under "libraries").
            "machine": jsonable({k: v for k, v in machine_info().items() if k != "libraries"}),
            "history": {k: [round(float(v), 5) for v in vs] for k, vs in trained[-1].history_.items()},
        },
        "data": {"train": data_digests(data.train), "heldout": data_digests(data.heldout)},
        "metrics": metrics,
        "latency_predict_proba_8": None
        if latency_images is None
        else predict_proba_latency(model, list(latency_images)),
    }


__all__ = ["command_line", "data_digests", "jsonable", "machine_info", "model_card"]
