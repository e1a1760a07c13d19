"""Accuracy figures of a fitted pipeline on held-out symbol sets.

Used by ``mathocr train`` (for the model card), ``mathocr evaluate`` and the
benchmarks, so every figure mathocr reports is computed one way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from .calibration import expected_calibration_error
from .datasets import UNSEEN_WRITERS, SymbolSet
from .symbols import BY_TOKEN, CLASSES


def evaluate_sets(pipe: Any, sets: Mapping[str, SymbolSet]) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix, per source and overall.

    Parameters
    ----------
    pipe : fitted pipeline or classifier with ``predict``
    sets : mapping of source name to :class:`~mathocr.datasets.SymbolSet`

    Returns
    -------
    dict
        ``{"sources": {name: report}, "labels": [...]}`` where a report holds
        ``n``, ``accuracy``, ``per_class`` (token -> accuracy, classes present only),
        ``per_role`` (role of :data:`mathocr.symbols.VOCABULARY` -> accuracy: digits,
        operators, brackets, equals),
        ``confusion`` (rows: true, columns: predicted, in ``labels`` order) and ``ece``
        (expected calibration error of the top-class confidence).

    Examples
    --------
    >>> report = evaluate_sets(pipe, data.heldout)          # doctest: +SKIP
    >>> report["sources"]["mnist/test"]["accuracy"]         # doctest: +SKIP
    0.9962
    """
    labels = list(CLASSES)
    out: dict[str, Any] = {"labels": labels, "sources": {}}
    for name, s in sets.items():
        if len(s) == 0:
            continue
        proba = np.asarray(pipe.predict_proba(s.X))
        classes = np.asarray(pipe.classes_).astype(str)
        pred = classes[proba.argmax(axis=1)]
        truth = np.asarray(s.y).astype(str)
        per_class = {c: round(float((pred[truth == c] == c).mean()), 5) for c in labels if (truth == c).any()}
        role = np.array([BY_TOKEN[t].role if t in BY_TOKEN else "" for t in truth])
        out["sources"][name] = {
            "n": len(s),
            "accuracy": round(float((pred == truth).mean()), 5),
            # Digits and operators apart from the tokens added later (brackets, "="): figures
            # that stay comparable with models and reports from before them.
            "per_role": {
                r: round(float((pred[role == r] == truth[role == r]).mean()), 5)
                for r in dict.fromkeys(role.tolist())
                if r
            },
            "errors": int((pred != truth).sum()),
            "per_class": per_class,
            "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
            "ece": round(expected_calibration_error(proba, truth, classes), 5),
            "writers": "unseen" if name in UNSEEN_WRITERS else "seen",
        }
    return out


def predict_proba_latency(pipe: Any, images: list[np.ndarray], repeat: int = 200) -> dict[str, float]:
    """Median and 90th-percentile wall time (ms) of ``pipe.predict_proba(images)``, warm."""
    pipe.predict_proba(images)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        pipe.predict_proba(images)
        times.append((time.perf_counter() - t) * 1000)
    return {
        "median_ms": round(float(np.median(times)), 3),
        "p90_ms": round(float(np.percentile(times, 90)), 3),
    }


_GROUP_TITLES = {
    "unseen": "unseen writers (no image of theirs was trained on):",
    "seen": "\ntraining sources (their held-out splits):",
}


def format_report(report: Mapping[str, Any]) -> str:
    """Plain-text tables of an :func:`evaluate_sets` report."""
    lines = []
    group = None
    for name, r in report["sources"].items():
        if r.get("writers") != group:
            group = r.get("writers")
            lines.append(_GROUP_TITLES.get(group, ""))
        ece = f", calibration error {100 * r['ece']:.2f}%" if "ece" in r else ""
        lines.append(f"{name}: accuracy {100 * r['accuracy']:.2f}% ({r['errors']} errors in {r['n']}){ece}")
        if len(r.get("per_role", {})) > 1:
            lines.append("  by role: " + ", ".join(f"{k} {100 * a:.2f}%" for k, a in r["per_role"].items()))
        lines.append("  " + "  ".join(f"{c}:{100 * a:.1f}" for c, a in r["per_class"].items()))
    for name, r in report["sources"].items():
        present = [i for i, c in enumerate(report["labels"]) if c in r["per_class"]]
        used = sorted(set(present) | {j for i in present for j, v in enumerate(r["confusion"][i]) if v})
        head = "      " + "".join(f"{report['labels'][j]:>6}" for j in used)
        lines += [f"\nconfusion matrix, {name} (rows: true, columns: predicted)", head]
        for i in present:
            row = r["confusion"][i]
            lines.append(f"{report['labels'][i]:>6}" + "".join(f"{row[j]:>6}" for j in used))
    return "\n".join(lines)


def plot_confusion(report: Mapping[str, Any], path: str) -> None:
    """Write one confusion-matrix heat map per source into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["sources"])
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4.6), squeeze=False)
    labels = report["labels"]
    for ax, name in zip(axes[0], names, strict=False):
        cm = np.asarray(report["sources"][name]["confusion"], dtype=float)
        rows = cm.sum(axis=1, keepdims=True)
        ax.imshow(np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0), cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        acc = report["sources"][name]["accuracy"]
        ax.set_title(f"{name}: {100 * acc:.2f}%")
        for i, j in zip(*np.nonzero(cm), strict=False):
            if i != j:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7, color="red")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
