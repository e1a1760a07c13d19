"""Accuracy: symbols per class and source, expressions per style, across operator sources, and
what the solver answers, doubts and refuses.

The timed part is the evaluation itself (useful as throughput); the figures that matter
are in ``extra_info``: ``report`` (:func:`mathocr.evaluation.evaluate_sets`: accuracy,
per-class accuracy and confusion per held-out source), ``exact_match``, ``per_style``,
``answering`` (answered, unsure, rejected, exact among answered) and ``rejection_curve``
for expressions (held-out symbols: ``expressions``; unseen writers' glyphs:
``expressions_unseen``; phone photos of a sheet: ``expressions_photo``, with
``items_with_a_token_off_the_page``), ``per_kind`` for invalid drawings (``invalid``), ``ece_before``
and ``ece_after`` for calibration, ``operator_accuracy`` for cross-source training.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from benchmarks import configs
from benchmarks.report import rejection_curve
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
    benchmark.group = "accuracy: synthetic expressions"
    _expression_figures(benchmark, models, config, synth_items, "expressions")


@pytest.mark.bench_configs("all")
def test_unseen_expression_accuracy(benchmark, models, unseen_items, config):
    """Expressions composed from UNIPEN's held-out writers' glyphs, in the pen styles."""
    benchmark.group = "accuracy: synthetic expressions, unseen writers"
    _expression_figures(benchmark, models, config, unseen_items, "expressions_unseen")


@pytest.mark.bench_configs("all")
def test_school_forms_accuracy(benchmark, models, form_items, config):
    """Brackets, decimals, ``:``, ``=`` to compute or check, two lines: exact match per form.

    ``correct`` is judged on the equations whose both sides were read right: there it must
    say whether the written answer is the value (issue: marking homework).
    """
    form_items, glyphs = form_items
    benchmark.group = f"accuracy: synthetic expressions, school forms, {glyphs}"
    solutions = _solve(benchmark, models, config, [item.image for item in form_items])
    per_form: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    marked, exacts = [], []
    for item, sol in zip(form_items, solutions, strict=True):
        exact = sol.expression == item.expression
        exacts.append(exact)
        per_form[item.form].append((exact, sol.ok and (exact or sol.value == item.value)))
        if item.correct is not None and exact:
            marked.append(sol.correct is item.correct)
    hits = [h for v in per_form.values() for h in v]
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "expressions_forms",
                "glyphs": glyphs,
                "config": config,
                "form": "onnx",
                **_rates(hits),
                "per_form": {name: _rates(v) for name, v in per_form.items()},
                "equations_read_right": len(marked),
                "correct_right": float(np.mean(marked)) if marked else None,
                "answering": _answering(solutions, np.array(exacts)),
            }
        )
    )


@pytest.fixture(scope="module")
def photo_items(bench_data_dir, budget) -> list[tuple]:
    """Phone photos of a sheet on a table (:data:`mathocr.synth.PHOTO_STYLES`), as the phone
    saves them: (JPEG bytes with EXIF orientation, expression, value, style, sheet outline).

    Only the encoded photos are kept: a decoded 3000x3000 photo is 27 MB.
    """
    from benchmarks.configs import SYNTH_SEED
    from mathocr.synth import PHOTO_STYLES, iter_expressions

    items = iter_expressions(
        budget.synth_per_style * len(PHOTO_STYLES),
        styles=list(PHOTO_STYLES),
        seed=SYNTH_SEED,
        data_dir=bench_data_dir,
    )
    return [(it.data, it.expression, it.value, it.style, it.page) for it in items]


@pytest.mark.bench_configs("serving")
def test_photo_expression_accuracy(benchmark, models, photo_items, config):
    """Photos of a sheet: exact match per style, and every token read from the page, never the table."""
    from matplotlib.path import Path as Outline

    benchmark.group = "accuracy: synthetic expressions, photos of a sheet"
    solutions = _solve(benchmark, models, config, [data for data, *_ in photo_items])
    per_style: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    off_page = 0
    for (_, expression, value, style, page), sol in zip(photo_items, solutions, strict=True):
        per_style[style].append((sol.expression == expression, sol.ok and sol.value == value))
        sheet = Outline(page)
        off_page += any(
            not sheet.contains_point((x + w / 2, y + h / 2)) for x, y, w, h in (t.box for t in sol.tokens)
        )
    hits = [h for v in per_style.values() for h in v]
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "expressions_photo",
                "config": config,
                "form": "onnx",
                **_rates(hits),
                "per_style": {style: _rates(v) for style, v in per_style.items()},
                "items_with_a_token_off_the_page": off_page,
            }
        )
    )


def _solve(benchmark, models, config: str, images: list) -> list:
    """The ``config``'s solver on ``images`` (arrays or encoded files; ONNX form), timed as the benchmark."""
    from mathocr.solver import Solver

    solver = Solver(models.pipe(config, "onnx"))
    return benchmark.pedantic(
        lambda: list(solver.solve_many(images, on_error="return")), rounds=1, iterations=1
    )


def _expression_figures(benchmark, models, config: str, items: list, kind: str) -> None:
    """Solve valid expressions: exact match and value per style, answering, the rejection curve."""
    solutions = _solve(benchmark, models, config, [item.image for item in items])
    per_style: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for item, sol in zip(items, solutions, strict=True):
        per_style[item.style].append((sol.expression == item.expression, sol.ok and sol.value == item.value))
    hits = [h for v in per_style.values() for h in v]
    exact = np.array([sol.expression == item.expression for item, sol in zip(items, solutions, strict=True)])
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": kind,
                "config": config,
                "form": "onnx",
                **_rates(hits),
                "failed": sum(not sol.ok for sol in solutions),
                "per_style": {style: _rates(v) for style, v in per_style.items()},
                "answering": _answering(solutions, exact),
                "rejection_curve": rejection_curve(
                    [sol.confidence for sol in solutions], exact, [sol.ok for sol in solutions]
                ),
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


def _answering(solutions: list, exact: np.ndarray) -> dict:
    """What the solver did with valid expressions: answered (``ok``), ``unsure``, rejected.

    ``exact_among_answered`` is the accuracy of the ``ok`` answers: with ``answered`` it
    is the solver's operating point on the rejection curve.
    """
    status = np.array([sol.status for sol in solutions])
    ok = status == "ok"
    return {
        "answered": float(ok.mean()),
        "unsure": float((status == "unsure").mean()),
        "rejected": float((status == "error").mean()),
        "exact_among_answered": float(exact[ok].mean()) if ok.any() else None,
        "codes": dict(Counter(sol.code for sol in solutions if not sol.ok)),
    }


@pytest.mark.bench_configs("all")
def test_invalid_drawings(benchmark, models, invalid_items, config):
    """Invalid and garbage drawings: how many get a value (status ok or unsure), per kind."""
    items, glyphs = invalid_items
    benchmark.group = "rejection: invalid drawings"
    solutions = _solve(benchmark, models, config, [item.image for item in items])
    per_kind: dict[str, list] = defaultdict(list)
    for item, sol in zip(items, solutions, strict=True):
        per_kind[item.kind].append(sol)
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "invalid",
                "config": config,
                "form": "onnx",
                "glyphs": glyphs,
                "n": len(items),
                "answered": float(np.mean([sol.ok for sol in solutions])),
                # A value given as sure for a drawing that has none: the worst answer there is.
                "sure": float(np.mean([sol.status == "ok" for sol in solutions])),
                "per_kind": {
                    kind: {
                        "n": len(sols),
                        "answered": float(np.mean([sol.ok for sol in sols])),
                        "codes": dict(Counter(sol.code for sol in sols if not sol.ok)),
                    }
                    for kind, sols in per_kind.items()
                },
                # What was drawn, and what was answered: the cases to look at first.
                "answered_examples": [
                    {"kind": item.kind, "drawn": item.text, "read": sol.expression, "status": sol.status}
                    for item, sol in zip(items, solutions, strict=True)
                    if sol.ok
                ][:20],
            }
        )
    )


@pytest.mark.bench_configs("all")
def test_calibration(benchmark, models, data, config):
    """Expected calibration error of the symbol confidences per held-out source, before and after calibration.

    "Before" is the classifier without its calibration step
    (:func:`mathocr.calibration.uncalibrated`); a model without one has the same figures.
    """
    from mathocr.calibration import expected_calibration_error, uncalibrated

    benchmark.group = "calibration: held-out symbols"
    pipe = models.pipe(config, "onnx")
    raw = uncalibrated(pipe)

    def ece(model) -> dict[str, float]:
        sets = [(name, s) for name, s in data.heldout.items() if len(s)]
        probas = [model.predict_proba(s.X) for _, s in sets]
        out = {
            name: expected_calibration_error(p, s.y, model.classes_)
            for (name, s), p in zip(sets, probas, strict=True)
        }
        truth = np.concatenate([s.y for _, s in sets])
        out["all"] = expected_calibration_error(np.concatenate(probas), truth, model.classes_)
        return out

    after = benchmark.pedantic(ece, args=(pipe,), rounds=1, iterations=1)
    benchmark.extra_info.update(
        jsonable(
            {
                "kind": "calibration",
                "config": config,
                "form": "onnx",
                "calibrated": raw is not pipe,
                "ece_before": after if raw is pipe else ece(raw),
                "ece_after": after,
            }
        )
    )


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
