"""The plots of a benchmark report: accuracy vs latency, per-class accuracy, latency by batch,
rejection curves.

Examples
--------
>>> plots(Figures(load_records("benchmark.json")[0]), Path("out"))  # doctest: +SKIP
[PosixPath('out/accuracy_vs_latency.png'), ...]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.configs import ACCURACY_TARGET, ANSWERED_TARGET, BATCH_SIZES, EXPRESSION_SETS

if TYPE_CHECKING:
    from benchmarks.report import Figures


def plots(f: Figures, out: Path) -> list[Path]:
    """Write the PNG plots of a run's figures (those its benchmarks give data for).

    Parameters
    ----------
    f : benchmarks.report.Figures
        The run's figures.
    out : pathlib.Path
        Folder for ``accuracy_vs_latency.png``, ``per_class_accuracy.png``,
        ``latency_by_batch.png`` and ``rejection_curve.png``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    written = []
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(f.configs)}

    # Accuracy vs latency: what each configuration buys and costs.
    points = []
    for c in f.configs:
        lat = f.find("predict_proba", c, "onnx", batch=8)
        sym = f.find("symbols", c)
        expr = f.find("expressions", c)
        if lat and sym:
            srcs = sym.info["report"]["sources"].values()
            points.append(
                (
                    c,
                    1000 * lat.median_s,
                    float(np.mean([s["accuracy"] for s in srcs])),
                    expr.info["exact_match"] if expr else None,
                )
            )
    if points:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, idx, ylabel in (
            (axes[0], 2, "symbol accuracy, mean over held-out sources"),
            (axes[1], 3, "expression exact-match (synthetic)"),
        ):
            for p in points:
                if p[idx] is None:
                    continue
                ax.scatter(p[1], 100 * p[idx], color=colours[p[0]], s=50)
                ax.annotate(p[0], (p[1], 100 * p[idx]), textcoords="offset points", xytext=(5, 4), fontsize=8)
            ax.set_xlabel("predict_proba latency, 8 crops, ONNX (ms)")
            ax.set_ylabel(ylabel + " (%)")
            ax.grid(alpha=0.3)
        fig.suptitle("Accuracy vs latency")
        fig.tight_layout()
        written.append(out / "accuracy_vs_latency.png")
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)

    # Per-class accuracy by source: where each configuration fails.
    cols: list[tuple[str, str]] = []
    table: dict[str, dict[tuple[str, str], float]] = {}
    for c in f.configs:
        sym = f.find("symbols", c)
        if not sym:
            continue
        table[c] = {}
        for src, rep in sym.info["report"]["sources"].items():
            for cls, acc in rep["per_class"].items():
                key = (src.split("/")[0], cls)
                table[c][key] = acc
                if key not in cols:
                    cols.append(key)
    if table:
        grid = np.array([[table[c].get(k, np.nan) for k in cols] for c in table])
        fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(cols) + 2), 0.5 * len(table) + 2))
        lo = float(np.nanmin(grid)) if np.isfinite(grid).any() else 0.0
        im = ax.imshow(100 * grid, cmap="RdYlGn", vmin=100 * min(lo, 0.9), vmax=100, aspect="auto")
        ax.set_xticks(range(len(cols)), [f"{s}\n{c}" for s, c in cols], fontsize=7)
        ax.set_yticks(range(len(table)), list(table))
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{100 * grid[i, j]:.1f}", ha="center", va="center", fontsize=6)
        fig.colorbar(im, ax=ax, label="accuracy (%)")
        ax.set_title("Per-class accuracy on held-out sets, by source")
        fig.tight_layout()
        written.append(out / "per_class_accuracy.png")
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)

    # Latency by batch size: per crop, both forms.
    series = {}
    for r in f.records:
        if r.kind == "predict_proba":
            series.setdefault((r.config, r.form), []).append(
                (r.info["batch"], 1000 * r.median_s / r.info["batch"])
            )
    if series:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for (c, form), pts in sorted(series.items()):
            pts.sort()
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="o",
                color=colours.get(c, "k"),
                linestyle="-" if form == "onnx" else "--",
                label=f"{c} ({form})",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(BATCH_SIZES, [str(b) for b in BATCH_SIZES])
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_xlabel("batch size (crops)")
        ax.set_ylabel("predict_proba time per crop (ms)")
        ax.set_title("Latency by batch size (solid: ONNX Runtime, dashed: Keras)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        written.append(out / "latency_by_batch.png")
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)

    # Rejection curves: the accuracy bought by answering fewer, and where the solver stands.
    sets = [
        (kind, name)
        for kind, name in EXPRESSION_SETS.items()
        if any(r.kind == kind and "rejection_curve" in r.info for r in f.records)
    ]
    if sets:
        fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4.5), squeeze=False)
        for ax, (kind, name) in zip(axes[0], sets, strict=True):
            for c in f.configs:
                r = f.find(kind, c)
                curve = r.info.get("rejection_curve", {}) if r else {}
                if not curve.get("answered"):
                    continue
                answered, accuracy = 100 * np.asarray(curve["answered"]), 100 * np.asarray(curve["accuracy"])
                ax.plot(answered, accuracy, color=colours[c], label=c)
                point = r.info.get("answering", {})
                if point.get("exact_among_answered") is not None:
                    ax.scatter(
                        100 * point["answered"],
                        100 * point["exact_among_answered"],
                        color=colours[c],
                        edgecolors="black",
                        s=60,
                        zorder=3,
                    )
            if not ax.lines:
                # A model that answers nothing (a quick run's) still gets its plot, saying so.
                ax.text(0.5, 0.5, "no drawing answered", ha="center", transform=ax.transAxes)
            ax.axvline(100 * ANSWERED_TARGET, color="grey", linestyle=":", linewidth=1)
            ax.axhline(100 * ACCURACY_TARGET, color="grey", linestyle=":", linewidth=1)
            ax.set_xlabel("answered (% of drawings)")
            ax.set_ylabel("exact match among answered (%)")
            ax.set_title(name)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.suptitle(
            "Rejection curves: a threshold on Solution.confidence; dots: the solver's status ok; "
            "dotted: the targets"
        )
        fig.tight_layout()
        written.append(out / "rejection_curve.png")
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)
    return written


__all__ = ["plots"]
