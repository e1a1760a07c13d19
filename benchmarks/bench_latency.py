"""Latency: transformers alone, predict_proba per batch size, solve per image size, cold start.

Warm figures are medians of many rounds after a warm-up; cold start spawns a fresh
process per round (``import mathocr`` + ``load_pipeline`` + first ``predict_proba``) and
records its phases. Nothing here asserts a time: speed targets live in these figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mathocr import bench


@pytest.mark.bench_configs("all")
def test_transformers(benchmark, models, crops, budget, config):
    """Binarise + normalise of 64 crops: the part of predict_proba before the network."""
    benchmark.group = "transformers: 64 crops"
    pre = models.pipe(config, "onnx")[:-1]
    batch = crops[:64]
    benchmark.pedantic(pre.transform, args=(batch,), rounds=budget.rounds["transform"], warmup_rounds=1)
    method = pre.get_params()["normalise__method"]
    benchmark.extra_info.update(kind="transform", config=config, form=None, n=len(batch), normalise=method)


@pytest.mark.bench_configs("all")
@pytest.mark.parametrize("batch", bench.BATCH_SIZES)
def test_predict_proba(benchmark, models, crops, budget, config, form, batch):
    benchmark.group = f"predict_proba: {batch} crops"
    pipe = models.pipe(config, form)
    X = crops[:batch]
    benchmark.pedantic(pipe.predict_proba, args=(X,), rounds=budget.predict_rounds(batch), warmup_rounds=2)
    benchmark.extra_info.update(kind="predict_proba", config=config, form=form, batch=batch)


@pytest.mark.bench_configs("serving")
@pytest.mark.parametrize("width", bench.IMAGE_WIDTHS)
def test_solve(benchmark, models, pages, budget, config, form, width):
    from mathocr.solver import Solver

    benchmark.group = f"solve: {width} px wide"
    image, truth = pages[width]
    solver = Solver(models.pipe(config, form))
    solution = benchmark.pedantic(solver.solve, args=(image,), rounds=budget.rounds["solve"], warmup_rounds=1)
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
def test_cold_start(benchmark, models, budget, config, form):
    benchmark.group = "cold start"
    path = models.saved(config, form)
    phases: list[dict] = []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def cold() -> None:
        out = subprocess.run(
            [sys.executable, "-c", _COLD_START, str(path)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=300,
        )
        phases.append(json.loads(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(cold, rounds=budget.rounds["cold_start"], iterations=1)
    median = {k: round(float(np.median([p[k] for p in phases])), 4) for k in phases[0]}
    benchmark.extra_info.update(
        kind="cold_start", config=config, form=form, model_mb=round(path.stat().st_size / 2**20, 2), **median
    )
