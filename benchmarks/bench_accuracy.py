"""Accuracy: symbols per class and source, expressions per style, and across operator sources.

The timed part is the evaluation itself (useful as throughput); the figures that matter
are in ``extra_info``: ``report`` (:func:`mathocr.evaluation.evaluate_sets`: accuracy,
per-class accuracy and confusion per held-out source), ``exact_match`` and
``per_style`` for expressions, ``operator_accuracy`` for cross-source training.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from benchmarks import configs
from mathocr.card import jsonable
from mathocr.datasets import stratified_split
from mathocr.evaluation import evaluate_sets

HELDOUT_OF = {"mdas": "mdas/test", "bhmsds": "bhmsds/heldout"}


@pytest.mark.bench_configs("all")
def test_symbol_accuracy(benchmark, models, data, crops, config):
    benchmark.group = "accuracy: held-out symbols"
    pipe = models.pipe(config, "onnx")
    report = benchmark.pedantic(evaluate_sets, args=(pipe, data.heldout), rounds=1, iterations=1)
    info = {"kind": "symbols", "config": config, "form": "onnx", "report": report}
    if configs.BENCH_CONFIGS[config].trainable:
        # The served (ONNX) form must be the trained (Keras) network, to float rounding.
        keras = models.pipe(config, "keras").predict_proba(crops[:64])
        info["onnx_vs_keras_max_abs_diff"] = float(np.abs(pipe.predict_proba(crops[:64]) - keras).max())
    benchmark.extra_info.update(jsonable(info))


@pytest.mark.bench_configs("all")
def test_expression_accuracy(benchmark, models, synth_items, config):
    from mathocr.solver import Solver

    benchmark.group = "accuracy: synthetic expressions"
    solver = Solver(models.pipe(config, "onnx"))
    images = [item.image for item in synth_items]
    solutions = benchmark.pedantic(
        solver.solve_many, args=(images,), kwargs={"on_error": "return"}, rounds=1, iterations=1
    )
    per_style: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for item, sol in zip(synth_items, solutions, strict=True):
        exact = sol.expression == item.expression
        per_style[item.style].append((exact, sol.error is None and sol.value == item.value))
    hits = [h for v in per_style.values() for h in v]
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "expressions",
                "config": config,
                "form": "onnx",
                **_rates(hits),
                "failed": sum(sol.error is not None for sol in solutions),
                "per_style": {style: _rates(v) for style, v in per_style.items()},
            }
        )
    )


def _rates(hits: list[tuple[bool, bool]]) -> dict:
    """Count and rates of (exact match, value correct) pairs."""
    return {
        "n": len(hits),
        "exact_match": float(np.mean([h[0] for h in hits])),
        "value_correct": float(np.mean([h[1] for h in hits])),
    }


@pytest.mark.bench_configs("seed")
def test_expression_accuracy_old_path(benchmark, models, synth_items, config):
    """The old reading path (global threshold, contours, squash, argmax, evaluation) with the seed model."""
    from benchmarks.old_design import old_expression

    benchmark.group = "accuracy: synthetic expressions"
    pipe = models.pipe(config, "keras")
    answers = benchmark.pedantic(
        lambda: [old_expression(pipe, item.image) for item in synth_items], rounds=1, iterations=1
    )
    hits = [
        (text == item.expression, value == item.value)
        for item, (text, value) in zip(synth_items, answers, strict=True)
    ]
    benchmark.extra_info.update(
        jsonable({"kind": "expressions_old_path", "config": config, "form": "keras", **_rates(hits)})
    )


@pytest.mark.bench_configs("cross")
@pytest.mark.parametrize("direction", ["mdas->bhmsds", "bhmsds->mdas"])
def test_cross_source(benchmark, data, budget, config, direction):
    """Digits + one operator source for training; operators of the other source for testing."""
    benchmark.group = "accuracy: cross-source"
    train_src, test_src = direction.split("->")
    op_sets = [s for name, s in data.train.items() if name.startswith(train_src + "/")]
    test_key = HELDOUT_OF[test_src]
    if not op_sets or test_key not in data.heldout:
        pytest.skip(f"needs both operator sources ({train_src} and {test_src})")
    mnist = data.train["mnist/train"]
    smallest = min(int((mnist.y == c).sum()) for c in set(mnist.y.tolist()))
    digits, _ = stratified_split(
        mnist, min(1.0, budget.cross_digits_per_class / smallest), configs.SUBSET_SEED
    )
    X = [*digits.X, *(img for s in op_sets for img in s.X)]
    y = np.concatenate([digits.y, *(s.y for s in op_sets)])
    pipe = configs.make_bench_pipeline(config, budget, clf__epochs=budget.cross_epochs)
    benchmark.pedantic(pipe.fit, args=(X, y), rounds=1, iterations=1)
    report = evaluate_sets(pipe, data.heldout)
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "cross_source",
                "config": config,
                "form": "keras",
                "direction": direction,
                "n_train": len(y),
                "epochs": budget.cross_epochs,
                "operator_accuracy": report["sources"][test_key]["accuracy"],
                "same_source_accuracy": report["sources"].get(HELDOUT_OF[train_src], {}).get("accuracy"),
                "report": report,
            }
        )
    )
