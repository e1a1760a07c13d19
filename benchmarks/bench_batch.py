"""Batch solving benchmark: ``mathocr solve FOLDER --output`` on many synthetic drawings.

Run::

    python -m pytest benchmarks/bench_batch.py -q --benchmark-json benchmarks/results/batch.json
    MATHOCR_BENCH_BATCH_IMAGES=2000 python -m pytest benchmarks/bench_batch.py -q   # a quicker look

Each run is the command as users start it (``python -m mathocr solve``), in a separate
process, on a folder of 600x200 PNG drawings of 5-9 symbol expressions
(:func:`mathocr.synth.random_tokens` drawn by :func:`mathocr.web.handwriting.render_png`;
500 distinct drawings, hard-linked to make up the count, 1,000 a sub-folder). Figures go to
``benchmark.extra_info``:

* ``test_throughput[one-process]``, ``[two-processes]`` (``--jobs 2``),
  ``[local-cluster-2]`` (``--workers 2``: a Dask ``LocalCluster`` of 2 worker processes):
  images/s as the command's summary reports it (from its first input to its last result:
  model loads in the workers included, the interpreter start and a cluster's start not),
  images/s end to end (the whole command), speed-up over one process, the statuses and
  error codes, peak memory (RSS of the command and all its children, sampled every 0.1 s)
  and the memory over the run (median RSS of its first and last quarters: flat means equal),
  CPU seconds of the whole process tree per image and the cores it kept busy, and the host's
  load average before and after (another job on the same cores lowers images/s, not CPU per image).
* ``test_memory_many_images``: ``MATHOCR_BENCH_BATCH_BIG`` images (default 100,000) through
  one process: the same memory figures. Skipped when that variable is ``0``.

Targets (reported, not asserted): one process >= 150 images/s on a 2-core host, two workers
>= 1.7x one, peak memory <= 500 MB for 100,000 images. Counts and time are bounded;
nothing asserts a timing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mathocr.synth import random_tokens  # noqa: E402
from mathocr.web.handwriting import render_png  # noqa: E402

N_IMAGES = int(os.environ.get("MATHOCR_BENCH_BATCH_IMAGES", "10000"))
N_BIG = int(os.environ.get("MATHOCR_BENCH_BATCH_BIG", "100000"))
DISTINCT = 500
PER_FOLDER = 1000
SIZE = (600, 200)
TARGETS = {"one_process_images_per_s": 150, "two_workers_speedup": 1.7, "peak_mb_100k": 500}
MODES = {
    "one-process": [],
    "two-processes": ["--jobs", "2"],
    "local-cluster-2": ["--workers", "2"],
}
_RATES: dict[str, float] = {}  # images/s of each mode, for the speed-ups


def make_folder(root: Path, n: int) -> Path:
    """``n`` drawings under ``root``: DISTINCT rendered, the rest hard links to them."""
    rng = np.random.default_rng(2026)
    pool = root / "distinct"
    pool.mkdir(parents=True, exist_ok=True)
    sources = []
    for i in range(DISTINCT):
        path = pool / f"{i:03d}.png"
        if not path.exists():
            path.write_bytes(render_png("".join(random_tokens(rng, 5, 9)), SIZE))
        sources.append(path)
    folder = root / f"images-{n}"
    if not folder.exists():
        tmp = root / f"images-{n}.partial"
        for i in range(n):
            sub = tmp / f"{i // PER_FOLDER:04d}"
            if i % PER_FOLDER == 0:
                sub.mkdir(parents=True, exist_ok=True)
            os.link(sources[i % DISTINCT], sub / f"{i:07d}.png")
        tmp.rename(folder)
    return folder


class Sampler:
    """RSS of a process and all its descendants, every ``every`` seconds, in a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.proc = psutil.Process(pid)
        self.every = every
        self.samples: list[float] = []
        self.cpu: dict[int, float] = {}  # last CPU seconds seen of each process of the tree
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                        times = p.cpu_times()
                        self.cpu[p.pid] = times.user + times.system
                    except psutil.Error:
                        pass
                self.samples.append(total / 2**20)
            except psutil.Error:
                break
            self._stop.wait(self.every)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        s = np.array(self.samples) if self.samples else np.zeros(1)
        q = max(len(s) // 4, 1)
        return {
            "peak_mb": round(float(s.max()), 1),
            "first_quarter_median_mb": round(float(np.median(s[:q])), 1),
            "last_quarter_median_mb": round(float(np.median(s[-q:])), 1),
            "samples": len(s),
            # Contention from other jobs stretches the wall time, not this: compare it across runs.
            "cpu_s": round(sum(self.cpu.values()), 1),
        }


def load_average() -> tuple[float, ...]:
    """The host's 1, 5 and 15-minute load averages."""
    return tuple(round(x, 2) for x in os.getloadavg())


SUMMARY = re.compile(r"(?P<n>[\d,]+) images in (?P<s>[\d.]+) s \((?P<rate>[\d,.]+) images/s\)")


def solve_folder(folder: Path, out: Path, extra: list[str]) -> dict:
    """Run ``mathocr solve FOLDER --output OUT`` and measure it."""
    out.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "mathocr",
        "solve",
        str(folder),
        "--output",
        str(out),
        "--no-progress",
        *extra,
    ]
    env = {k: v for k, v in os.environ.items() if k != "MATHOCR_MODEL"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid)
    _, err = proc.communicate(timeout=3600)
    wall = time.perf_counter() - t0
    memory = sampler.stop()
    match = SUMMARY.search(err)
    assert proc.returncode in (0, 1) and match, err
    statuses: dict[str, int] = {}
    codes: dict[str, int] = {}
    n_lines = 0
    with out.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            n_lines += 1
            statuses[rec["status"]] = statuses.get(rec["status"], 0) + 1
            if rec["status"] == "error":
                codes[rec["code"]] = codes.get(rec["code"], 0) + 1
    return {
        "command": " ".join(["mathocr", *cmd[3:]]),
        "images": int(match["n"].replace(",", "")),
        "lines_written": n_lines,
        "images_per_s": float(match["rate"].replace(",", "")),
        "solve_s": float(match["s"]),
        "wall_s": round(wall, 2),
        "images_per_s_end_to_end": round(n_lines / wall, 1),
        "statuses": statuses,
        "error_codes": codes,
        "memory": memory,
        "cpu_ms_per_image": round(1000 * memory["cpu_s"] / max(n_lines, 1), 2),
        "busy_cores": round(memory["cpu_s"] / wall, 2),
        "load_average_after": load_average(),
        "summary": err.strip().splitlines()[-1],
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("batch")


@pytest.mark.parametrize("mode", list(MODES))
def test_throughput(benchmark, workdir, mode):
    folder = make_folder(workdir, N_IMAGES)
    # Another job on the same cores halves what one process gets: say so next to the figures.
    result: dict = {"load_average_before": load_average()}
    benchmark.pedantic(
        lambda: result.update(solve_folder(folder, workdir / f"{mode}.jsonl", MODES[mode])),
        rounds=1,
        iterations=1,
    )
    assert result["lines_written"] == N_IMAGES
    _RATES[mode] = result["images_per_s"]
    if mode != "one-process" and "one-process" in _RATES:
        result["speedup_over_one_process"] = round(result["images_per_s"] / _RATES["one-process"], 2)
    result["targets"] = TARGETS
    benchmark.extra_info.update(result)
    print(
        f"\n{mode}: {result['summary']}; end to end {result['images_per_s_end_to_end']} images/s; "
        f"memory {result['memory']}; {result['cpu_ms_per_image']} CPU ms/image on "
        f"{result['busy_cores']} cores; load {result['load_average_before']} -> "
        f"{result['load_average_after']}; speed-up {result.get('speedup_over_one_process', '-')}"
    )


@pytest.mark.skipif(N_BIG == 0, reason="MATHOCR_BENCH_BATCH_BIG=0")
def test_memory_many_images(benchmark, workdir):
    folder = make_folder(workdir, N_BIG)
    result: dict = {}
    benchmark.pedantic(
        lambda: result.update(solve_folder(folder, workdir / "big.jsonl", [])), rounds=1, iterations=1
    )
    assert result["lines_written"] == N_BIG
    result["targets"] = TARGETS
    benchmark.extra_info.update(result)
    print(f"\n{N_BIG} images: {result['summary']}; memory {result['memory']}")
