"""Training time: each configuration on the whole training set, and on one fixed budget.

``test_fit`` trains every configuration once, with its own epochs, and leaves it in the
session cache for the accuracy and latency suites. ``test_fit_fixed_budget`` trains
each on the same images for the same epochs, so per-image cost compares directly.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmarks import configs
from mathocr.card import jsonable
from mathocr.datasets import SymbolSet, stratified_split


@pytest.mark.bench_configs("trainable")
def test_fit(benchmark, models, config):
    benchmark.group = "fit: each config's own budget"
    fitted = benchmark.pedantic(models.train, args=(config,), rounds=1, iterations=1)
    t = time.perf_counter()
    models.pipe(config, "onnx")
    export_s = time.perf_counter() - t
    clf = fitted.keras[-1]
    history = {k: round(float(v[-1]), 5) for k, v in clf.history_.items()}
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "fit",
                "config": config,
                "form": "keras",
                "n_images": fitted.n_images,
                "epochs": fitted.epochs,
                "n_parameters": int(clf.model_.count_params()),
                "final_epoch": history,
                "export_s": round(export_s, 3),
                "params": configs.config_params(config, models.budget),
            }
        )
    )


@pytest.mark.bench_configs("trainable")
def test_fit_fixed_budget(benchmark, data, budget, config):
    benchmark.group = "fit: fixed budget"
    X, y = data.training_arrays()
    whole = SymbolSet(X, np.asarray(y), "train")
    part, _ = stratified_split(whole, min(1.0, budget.fit_budget_images / len(whole)), configs.SUBSET_SEED)
    pipe = configs.make_bench_pipeline(config, budget, clf__epochs=budget.fit_budget_epochs)
    seconds: list[float] = []

    def fit() -> None:
        t = time.perf_counter()
        pipe.fit(part.X, part.y)
        seconds.append(time.perf_counter() - t)

    benchmark.pedantic(fit, rounds=1, iterations=1)
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "fit_budget",
                "config": config,
                "form": "keras",
                "n_images": len(part),
                "epochs": budget.fit_budget_epochs,
                "ms_per_image_epoch": round(1000 * seconds[0] / (len(part) * budget.fit_budget_epochs), 4),
            }
        )
    )
