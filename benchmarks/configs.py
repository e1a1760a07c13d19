"""The configurations a benchmark run compares, and the budgets it runs them on.

:data:`BENCH_CONFIGS` holds every configuration (``"seed"``, the old design, is the
baseline of every ratio); :func:`budget` gives the ``"quick"`` (CI) or ``"full"`` amounts
of data, epochs and repetitions; :func:`make_bench_pipeline` builds a configuration's
unfitted pipeline under a budget. The suites (``bench_*.py``), the runner
(:mod:`benchmarks.harness`) and the report (:mod:`benchmarks.report`) read them from here.

Examples
--------
>>> list(BENCH_CONFIGS)[:3]
['seed', 'default', 'default-3ep']
>>> budget("quick").epochs
1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mathocr.card import jsonable
from mathocr.pipeline import CONFIGS, make_pipeline

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class BenchConfig:
    """One configuration compared by the benchmarks.

    Attributes
    ----------
    name : str
    base : {"default", "seed", "bundled"}
        The named pipeline configuration it starts from; ``"bundled"`` is the shipped
        model file itself (measured, never trained).
    params : dict
        Overrides in ``Pipeline.set_params`` form.
    note : str
        What it shows, for the report.
    """

    name: str
    base: str
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def trainable(self) -> bool:
        """Whether the run trains it (every configuration but the shipped model)."""
        return self.base != "bundled"


# Variants train 3 epochs to keep the full run under 40 minutes on 2 cores;
# "default-3ep" is the default design on the same budget, so a variant is compared
# with it rather than with "default" and its own epochs.
VARIANT_EPOCHS = 3


def _configs() -> dict[str, BenchConfig]:
    # Width and depth variants are derived from the current default design, so they
    # keep meaning "narrower" and "shallower" whatever "default" becomes.
    filters = tuple(CONFIGS["default"]["clf__filters"])
    dense = tuple(CONFIGS["default"]["clf__dense"])
    narrow = {
        "clf__filters": tuple(max(1, f // 2) for f in filters),
        "clf__dense": tuple(max(1, u // 2) for u in dense),
    }
    configs = [
        BenchConfig("seed", "seed", {}, "the old design: the baseline of every ratio"),
        BenchConfig("default", "default", {}, "the shipped design, its own epochs"),
        BenchConfig(
            "default-3ep",
            "default",
            {"clf__epochs": VARIANT_EPOCHS},
            "default at the variants' epochs: their reference",
        ),
        BenchConfig(
            "squash",
            "default",
            {"normalise__method": "squash", "clf__epochs": VARIANT_EPOCHS},
            "crops squashed to 28x28 (the old normalisation) instead of the MNIST way",
        ),
        # The augmentation variant is the opposite of whatever default does.
        BenchConfig(
            "no-augment",
            "default",
            {"clf__augment": 0, "clf__epochs": VARIANT_EPOCHS},
            "no training-time distortion",
        )
        if float(CONFIGS["default"]["clf__augment"])
        else BenchConfig(
            "augment",
            "default",
            {"clf__augment": 1.0, "clf__epochs": VARIANT_EPOCHS},
            "training-time distortion (whole-pixel shifts, thicker strokes)",
        ),
        BenchConfig(
            "warp",
            "default",
            {"clf__augment": 1.0, "clf__warp": 1.0, "clf__epochs": VARIANT_EPOCHS},
            "sub-pixel distortion too (rotation, shear, zoom): what it does to the slashes",
        ),
        BenchConfig(
            "narrow",
            "default",
            {**narrow, "clf__epochs": VARIANT_EPOCHS},
            "half the width: half the filters and dense units of default",
        ),
    ]
    if len(filters) > 1:
        configs.append(
            BenchConfig(
                "shallow",
                "default",
                {"clf__filters": filters[:-1], "clf__epochs": VARIANT_EPOCHS},
                "one convolution block fewer than default",
            )
        )
    configs.append(
        BenchConfig("bundled", "bundled", {}, "mathocr/models/default.joblib as shipped (not retrained)")
    )
    return {c.name: c for c in configs}


BENCH_CONFIGS: dict[str, BenchConfig] = _configs()
"""Every configuration the suite knows, by name."""

QUICK_CONFIGS = ("seed", "default")
FULL_CONFIGS = tuple(BENCH_CONFIGS)
# Serving figures (solve, cold start) differ between configurations only through
# predict_proba, which is measured for all of them: these three are enough.
SERVING_CONFIGS = ("seed", "default", "bundled")
# Cross-source generalisation is what normalisation and augmentation are for.
CROSS_CONFIGS = ("seed", "default", "squash", "no-augment" if "no-augment" in BENCH_CONFIGS else "augment")
FORMS = ("keras", "onnx")
BATCH_SIZES = (1, 8, 64, 512)
IMAGE_WIDTHS = (400, 800, 1600, 3200)
SYNTH_SEED = 2026
SUBSET_SEED = 7

EXPRESSION_SETS = {
    "expressions": "synthetic, held-out symbols",
    "expressions_unseen": "synthetic, unseen writers",
}
"""The record kinds of the valid expression sets, and how the report names them."""

ANSWERED_TARGET, ACCURACY_TARGET, INVALID_TARGET = 0.97, 0.99, 0.01
"""The solver's targets: answer (status ok) at least 97% of valid expressions, 99% of those
exactly; give a value (ok or unsure) to at most 1% of invalid drawings."""


@dataclass(frozen=True)
class Budget:
    """How much data, training and repetition a run uses.

    Attributes
    ----------
    quick : bool
    limit_per_class : int or None
        Images per class and source (training and held-out); None for all.
    epochs : int or None
        Overrides every configuration's epochs (quick runs); None keeps their own.
    fit_budget_images, fit_budget_epochs : int
        The fixed budget every configuration trains on in the training-time benchmark.
    cross_digits_per_class, cross_epochs : int
        Training budget of the cross-source benchmark (digits per class, epochs).
    synth_per_style : int
        Synthetic expression images per style.
    unseen_per_style : int
        Synthetic expressions from unseen writers' glyphs per pen style (canvas, paper).
    invalid_items : int
        Invalid and garbage drawings (:func:`mathocr.synth.make_invalid_set`), every kind alike.
    forms_items : int
        Expressions of school arithmetic from unseen writers' glyphs (brackets, decimals,
        ``:``, ``=`` to compute or to check, two lines), every form and pen style alike.
    rounds : dict
        Timed repetitions per latency benchmark kind.
    """

    quick: bool
    limit_per_class: int | None
    epochs: int | None
    fit_budget_images: int
    fit_budget_epochs: int
    cross_digits_per_class: int
    cross_epochs: int
    synth_per_style: int
    unseen_per_style: int
    invalid_items: int
    forms_items: int
    rounds: dict[str, int]

    def predict_rounds(self, batch: int) -> int:
        """Timed rounds of ``predict_proba`` on ``batch`` crops: more for small batches, ~0.5-2 s each.

        Parameters
        ----------
        batch : int
            Crops per call.

        Returns
        -------
        int
        """
        if self.quick:
            return 3
        return int(np.clip(2000 // batch, 10, 200))


_BUDGETS = {
    "full": Budget(
        quick=False,
        limit_per_class=None,
        epochs=None,
        fit_budget_images=6000,
        fit_budget_epochs=1,
        cross_digits_per_class=500,
        cross_epochs=3,
        synth_per_style=63,  # 1,008 expressions over the 16 styles
        unseen_per_style=250,
        invalid_items=600,  # 100 of each kind
        forms_items=1200,  # 200 of each form, 100 per pen style
        rounds={"transform": 30, "solve": 10, "cold_start": 3},
    ),
    "quick": Budget(
        quick=True,
        limit_per_class=20,
        epochs=1,
        fit_budget_images=300,
        fit_budget_epochs=1,
        cross_digits_per_class=10,
        cross_epochs=1,
        synth_per_style=2,
        unseen_per_style=2,
        invalid_items=12,  # 2 of each kind
        forms_items=12,  # 2 of each form
        rounds={"transform": 3, "solve": 2, "cold_start": 1},
    ),
}


def budget(name: str) -> Budget:
    """The ``"quick"`` or ``"full"`` budget.

    Parameters
    ----------
    name : {"quick", "full"}

    Returns
    -------
    Budget

    Raises
    ------
    ValueError
        For another name.

    Examples
    --------
    >>> budget("full").cross_epochs
    3
    """
    try:
        return _BUDGETS[name]
    except KeyError:
        raise ValueError(f"unknown budget {name!r}; choose quick or full") from None


def parse_configs(text: str | Sequence[str] | None, quick: bool = False) -> list[str]:
    """Validate a configuration selection; ``"seed"`` is always included, first.

    Parameters
    ----------
    text : str or sequence of str or None
        Comma-separated names, or a list of them (each may hold commas); None or empty
        for the default selection.
    quick : bool
        The default selection is :data:`QUICK_CONFIGS` instead of all.

    Returns
    -------
    list of str
        The names, without duplicates.

    Raises
    ------
    ValueError
        For a name not in :data:`BENCH_CONFIGS`.

    Examples
    --------
    >>> parse_configs("default,narrow")
    ['seed', 'default', 'narrow']
    """
    if text is None or text == "" or text == []:
        names = list(QUICK_CONFIGS if quick else FULL_CONFIGS)
    else:
        items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
        names = [n.strip() for n in items if n.strip()]
    unknown = [n for n in names if n not in BENCH_CONFIGS]
    if unknown:
        raise ValueError(
            f"unknown benchmark config(s) {', '.join(unknown)}; known: {', '.join(BENCH_CONFIGS)}"
        )
    # Every ratio is to "seed" measured in the same run.
    return list(dict.fromkeys(["seed", *names]))


def config_params(name: str, run_budget: Budget) -> dict[str, Any]:
    """Pipeline parameters of a trainable configuration under a budget.

    Parameters
    ----------
    name : str
        A trainable name from :data:`BENCH_CONFIGS`.
    run_budget : Budget
        Its ``epochs``, when set (quick runs), replaces the configuration's.

    Returns
    -------
    dict
        Overrides in ``Pipeline.set_params`` form.

    Raises
    ------
    ValueError
        For ``"bundled"``, which is measured, not trained.
    """
    cfg = BENCH_CONFIGS[name]
    if not cfg.trainable:
        raise ValueError(f"{name!r} is the shipped model: it is measured, not trained")
    params = dict(cfg.params)
    if run_budget.epochs is not None:
        params["clf__epochs"] = run_budget.epochs
    return params


def make_bench_pipeline(name: str, run_budget: Budget, **overrides: Any) -> Pipeline:
    """An unfitted pipeline for a benchmark configuration.

    Parameters
    ----------
    name : str
        A trainable name from :data:`BENCH_CONFIGS`.
    run_budget : Budget
        See :func:`config_params`.
    **overrides
        Further parameters, applied last (e.g. ``clf__epochs=1``).

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> pipe = make_bench_pipeline("narrow", budget("quick"))   # doctest: +SKIP
    >>> pipe.get_params()["clf__filters"], pipe.get_params()["clf__epochs"]   # doctest: +SKIP
    ((16, 32), 1)
    """
    return make_pipeline(BENCH_CONFIGS[name].base, **{**config_params(name, run_budget), **overrides})


def describe_configs(names: Sequence[str], run_budget: Budget) -> dict[str, Any]:
    """The configurations of a run, as recorded in the JSON (base, overrides, epochs, note).

    Parameters
    ----------
    names : sequence of str
        Names from :data:`BENCH_CONFIGS`.
    run_budget : Budget
        The run's budget (quick runs cap the epochs).

    Returns
    -------
    dict
        ``{name: {"base", "params", "epochs", "note"}}``.
    """
    out = {}
    for n in names:
        cfg = BENCH_CONFIGS[n]
        params = config_params(n, run_budget) if cfg.trainable else {}
        epochs = {**CONFIGS[cfg.base], **params}.get("clf__epochs") if cfg.trainable else None
        out[n] = {"base": cfg.base, "params": jsonable(params), "epochs": epochs, "note": cfg.note}
    return out


__all__ = [
    "ACCURACY_TARGET",
    "ANSWERED_TARGET",
    "BATCH_SIZES",
    "BENCH_CONFIGS",
    "CROSS_CONFIGS",
    "EXPRESSION_SETS",
    "FORMS",
    "IMAGE_WIDTHS",
    "INVALID_TARGET",
    "QUICK_CONFIGS",
    "SERVING_CONFIGS",
    "SUBSET_SEED",
    "SYNTH_SEED",
    "BenchConfig",
    "Budget",
    "budget",
    "config_params",
    "describe_configs",
    "make_bench_pipeline",
    "parse_configs",
]
