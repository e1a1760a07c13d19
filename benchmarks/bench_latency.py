"""Latency: transformers alone, predict_proba per batch size, solve per image size, cold start.

Warm figures are medians of many rounds after a warm-up; cold start spawns a fresh
process per round (``import mathocr`` + ``load_pipeline`` + first ``predict_proba``) and
records its phases. Nothing here asserts a time: speed targets live in these figures.

Every benchmark here times its configurations round by round (the ``interleaved``
fixture, :mod:`benchmarks.interleave`): the first of, say, ``test_predict_proba[*-8]``
measures seed, default, ... in turn for each round, and each reports its own rounds, so
a host whose speed drifts during the run slows every configuration alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial

import numpy as np
import pytest

from benchmarks import configs


@pytest.mark.bench_configs("all")
def test_transformers(benchmark, interleaved, models, crops, budget, config):
    """Binarise + normalise of 64 crops: the part of predict_proba before the network."""
    benchmark.group = "transformers: 64 crops"
    batch = crops[:64]

    def call(config):
        return partial(models.pipe(config, "onnx")[:-1].transform, batch)

    interleaved(call, rounds=budget.rounds["transform"], warmup_rounds=1)
    method = models.pipe(config, "onnx").get_params()["normalise__method"]
    benchmark.extra_info.update(kind="transform", config=config, form=None, n=len(batch), normalise=method)


@pytest.mark.bench_configs("all")
@pytest.mark.parametrize("batch", configs.BATCH_SIZES)
def test_predict_proba(benchmark, interleaved, models, crops, budget, config, form, batch):
    benchmark.group = f"predict_proba: {batch} crops"
    X = crops[:batch]

    def call(config, form):
        return partial(models.pipe(config, form).predict_proba, X)

    interleaved(call, rounds=budget.predict_rounds(batch), warmup_rounds=2)
    benchmark.extra_info.update(kind="predict_proba", config=config, form=form, batch=batch)


@pytest.mark.bench_configs("serving")
@pytest.mark.parametrize("width", configs.IMAGE_WIDTHS)
def test_solve(benchmark, interleaved, models, pages, budget, config, form, width):
    from mathocr.solver import Solver

    benchmark.group = f"solve: {width} px wide"
    image, truth = pages[width]

    def call(config, form):
        return partial(Solver(models.pipe(config, form)).solve, image)

    solution = interleaved(call, rounds=budget.rounds["solve"], warmup_rounds=1)[-1]
    benchmark.extra_info.update(
        kind="solve",
        config=config,
        form=form,
        width=width,
        height=int(image.shape[0]),
        expression=solution.expression,
        correct=solution.expression == truth,
    )


# Runs in a fresh interpreter: the time a server or a CLI call waits before its first answer.
_COLD_START = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import mathocr
from mathocr.pipeline import load_pipeline
t1 = time.perf_counter()
pipe = load_pipeline(sys.argv[1])
t2 = time.perf_counter()
img = np.zeros((28, 28), np.uint8)
img[4:24, 12:16] = 255
pipe.predict_proba([img])
t3 = time.perf_counter()
# VmHWM, not getrusage: ru_maxrss survives fork + exec and would report the parent's peak.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2,
                  "max_rss_mb": int(hwm.split()[1]) / 1024}))
"""


@pytest.mark.bench_configs("serving")
def test_cold_start(benchmark, interleaved, models, budget, config, form):
    benchmark.group = "cold start"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def call(config, form):
        path = models.saved(config, form)

        def cold() -> dict:
            out = subprocess.run(
                [sys.executable, "-c", _COLD_START, str(path)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
                timeout=300,
            )
            return json.loads(out.stdout.strip().splitlines()[-1])

        return cold

    phases = interleaved(call, rounds=budget.rounds["cold_start"])
    path = models.saved(config, form)
    median = {k: round(float(np.median([p[k] for p in phases])), 4) for k in phases[0]}
    benchmark.extra_info.update(
        kind="cold_start", config=config, form=form, model_mb=round(path.stat().st_size / 2**20, 2), **median
    )
