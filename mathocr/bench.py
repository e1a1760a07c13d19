"""Benchmark configurations, the ``mathocr bench`` runner and its report.

The suites live in ``benchmarks/bench_*.py`` (pytest-benchmark); this module holds
what both they and the command line need, so each thing is defined once:

* :data:`BENCH_CONFIGS`, the configurations compared in one run (``"seed"``, the old
  design, is the baseline of every ratio), and :class:`Budget`, the quick and full
  amounts of data, epochs and repetitions;
* :func:`run_suite`, which runs the suites in a pytest subprocess with
  ``--benchmark-json`` and then writes the report;
* :func:`write_report`, which turns that JSON into ``report.md`` (tables of every
  figure with its ratio to ``"seed"`` measured in the same run) and PNG plots.

Examples
--------
>>> list(BENCH_CONFIGS)[:3]
['seed', 'default', 'default-3ep']
>>> budget("quick").epochs
1
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------- configurations


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
        return self.base != "bundled"


# Variants train 3 epochs to keep the full run under 40 minutes on 2 cores;
# "default-3ep" is the default design on the same budget, so a variant is compared
# with it rather than with "default" and its own epochs.
VARIANT_EPOCHS = 3


def _configs() -> dict[str, BenchConfig]:
    # Width and depth variants are derived from the current default design, so they
    # keep meaning "narrower" and "shallower" whatever "default" becomes.
    from .pipeline import CONFIGS

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
    rounds: dict[str, int]

    def predict_rounds(self, batch: int) -> int:
        """Rounds for one ``predict_proba`` batch: more for small batches, ~0.5-2 s each."""
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
        rounds={"transform": 3, "solve": 2, "cold_start": 1},
    ),
}


def budget(name: str) -> Budget:
    """The ``"quick"`` or ``"full"`` budget.

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
    """Validate a configuration selection (comma-separated or a list); ``"seed"`` always included.

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
    """Pipeline parameters of a trainable configuration under a budget (epochs capped for quick runs)."""
    cfg = BENCH_CONFIGS[name]
    if not cfg.trainable:
        raise ValueError(f"{name!r} is the shipped model: it is measured, not trained")
    params = dict(cfg.params)
    if run_budget.epochs is not None:
        params["clf__epochs"] = run_budget.epochs
    return params


def make_bench_pipeline(name: str, run_budget: Budget, **overrides: Any):
    """An unfitted pipeline for a benchmark configuration.

    Examples
    --------
    >>> pipe = make_bench_pipeline("narrow", budget("quick"))   # doctest: +SKIP
    >>> pipe.get_params()["clf__filters"], pipe.get_params()["clf__epochs"]   # doctest: +SKIP
    ((16, 32), 1)
    """
    from .pipeline import make_pipeline

    return make_pipeline(BENCH_CONFIGS[name].base, **{**config_params(name, run_budget), **overrides})


# ---------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    """The machine a run measures: CPU (``lscpu``), usable cores, memory, load, libraries."""
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
        keep = (
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
        lscpu = {}
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in keep:
                value = value.strip()
                if key.strip() == "Flags":  # only the vector extensions that matter for the CNN
                    value = " ".join(f for f in value.split() if f.startswith(("avx", "fma", "amx")))
                lscpu[key.strip()] = value
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


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays, tuples and paths made JSON types (for ``extra_info``)."""
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


# ---------------------------------------------------------------------------- runner

SUITE_FILES = ("bench_training.py", "bench_accuracy.py", "bench_latency.py")
"""The suites ``mathocr bench`` runs, in this order (training first fills the model cache)."""


def benchmarks_dir() -> Path:
    """The ``benchmarks/`` folder of the source checkout mathocr runs from.

    Raises
    ------
    mathocr.errors.MathOCRError
        When mathocr is installed without its sources (the suites are not packaged).
    """
    from .errors import MathOCRError

    here = Path(__file__).resolve().parents[1] / "benchmarks"
    if not (here / "conftest.py").is_file():
        raise MathOCRError(
            f"no benchmark suites at {here}: `mathocr bench` runs from a source checkout "
            "(git clone ...; pip install -e '.[dev]')"
        )
    return here


def suite_command(
    json_path: str | os.PathLike,
    *,
    quick: bool = False,
    configs: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    pytest_args: Sequence[str] = (),
) -> list[str]:
    """The pytest command line that runs the suites and writes pytest-benchmark JSON.

    Examples
    --------
    >>> cmd = suite_command("out.json", quick=True)            # doctest: +SKIP
    >>> cmd[:3]                                                # doctest: +SKIP
    ['/usr/bin/python3', '-m', 'pytest']
    """
    where = benchmarks_dir()
    cmd = [sys.executable, "-m", "pytest", *(str(where / f) for f in SUITE_FILES)]
    cmd += [
        "-p",
        "no:cacheprovider",
        "-q",
        "-rs",
        f"--benchmark-json={json_path}",
        "--benchmark-columns=median,rounds",
        "--benchmark-group-by=group",
    ]
    cmd += ["--bench-configs", ",".join(parse_configs(list(configs) if configs else None, quick))]
    if quick:
        cmd.append("--bench-quick")
    if data_dir is not None:
        cmd += ["--bench-data-dir", str(data_dir)]
    return [*cmd, *pytest_args]


def run_suite(
    output: str | os.PathLike,
    *,
    quick: bool = False,
    configs: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    http_json: str | os.PathLike | None = None,
    pytest_args: Sequence[str] = (),
) -> int:
    """Run the benchmark suites and write ``benchmark.json``, ``run.json``, ``report.md`` and plots.

    Parameters
    ----------
    output : path-like
        Folder for the results (created).
    quick : bool
        Tiny data, 1 epoch, few repetitions: checks the suite works (CI), measures little.
    configs : sequence of str, optional
        Names from :data:`BENCH_CONFIGS`; ``"seed"`` is always added. Default: all
        (full) or :data:`QUICK_CONFIGS` (quick).
    data_dir : path-like, optional
        See :func:`mathocr.datasets.data_home`. A quick run without data generates
        a miniature data directory.
    http_json : path-like, optional
        pytest-benchmark JSON of ``benchmarks/bench_http.py`` to include; by default
        ``<output>/http.json`` when it exists.
    pytest_args : sequence of str
        Extra pytest arguments (``-k``, ``-x``, ...).

    Returns
    -------
    int
        pytest's exit status (the report is written whenever the JSON was).

    Examples
    --------
    >>> run_suite("/tmp/bench", quick=True)     # doctest: +SKIP
    0
    """
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "benchmark.json"
    json_path.unlink(missing_ok=True)  # a run that stops early must not report the previous run's figures
    cmd = suite_command(json_path, quick=quick, configs=configs, data_dir=data_dir, pytest_args=pytest_args)
    started = _dt.datetime.now(_dt.UTC)
    t = time.perf_counter()
    print("running: " + shlex.join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=benchmarks_dir().parent)
    run = {
        "command": "mathocr " + shlex.join(sys.argv[1:]) if sys.argv and "mathocr" in sys.argv[0] else None,
        "pytest": shlex.join(cmd[1:]),
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - t, 1),
        "exit_status": rc,
        "quick": quick,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    if not json_path.is_file() or json_path.stat().st_size == 0:
        # pytest stopped before any benchmark ran (it said why above).
        print(f"no benchmark ran (pytest exit status {rc}); no report written", file=sys.stderr)
        json_path.unlink(missing_ok=True)
        return rc or 1
    report = write_report(json_path, out, http_json=http_json, run=run)
    readme = benchmarks_dir() / "README.md"
    if not quick and out.resolve() == (benchmarks_dir() / "results").resolve() and readme.is_file():
        update_readme(readme, report)
    return rc


README_START = "<!-- last-results:start (written by `mathocr bench`) -->"
README_END = "<!-- last-results:end -->"


def update_readme(readme: str | os.PathLike, report: str | os.PathLike) -> bool:
    """Put a report's date, machine and "default vs seed" table between the README's markers.

    A full ``mathocr bench`` run into ``benchmarks/results`` calls this, so the README
    always shows the last committed results.

    Returns
    -------
    bool
        Whether the README had the markers (and was updated).

    Examples
    --------
    >>> update_readme("benchmarks/README.md", "benchmarks/results/report.md")  # doctest: +SKIP
    True
    """
    readme, report = Path(readme), Path(report)
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    lines = report.read_text().splitlines()
    measured = next((ln for ln in lines if ln.startswith("Measured ")), "")
    cpu = next((ln for ln in lines if ln.startswith("| CPU |")), "")
    cores = next((ln for ln in lines if ln.startswith("| cores |")), "")
    head = next((i for i, ln in enumerate(lines) if ln == "## default vs seed"), None)
    table: list[str] = []
    if head is not None:
        for ln in lines[head + 1 :]:
            if ln.startswith("## "):
                break
            table.append(ln)
    cells = [x.split("|")[2].strip() for x in (cpu, cores) if x.count("|") >= 3]
    machine = f"{cells[0]}, cores: {cells[1]}" if len(cells) == 2 else ""
    rel = os.path.relpath(report, readme.parent)
    block = [
        README_START,
        "",
        (measured.split("; raw figures")[0] + f" on {machine}.") if machine else measured,
        *table,
        f"All figures, per configuration, with plots: [{rel}]({rel}).",
        "",
        README_END,
    ]
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + "\n".join(block) + text[end:])
    return True


# ---------------------------------------------------------------------------- report


@dataclass
class Record:
    """One benchmark of a pytest-benchmark JSON file, flattened for the report."""

    kind: str
    config: str
    form: str | None
    median_s: float
    info: dict[str, Any]
    name: str


def load_records(json_path: str | os.PathLike) -> tuple[list[Record], dict[str, Any]]:
    """The benchmarks of a ``--benchmark-json`` file written by the suites, and its header."""
    data = json.loads(Path(json_path).read_text())
    records = []
    for b in data.get("benchmarks", []):
        info = b.get("extra_info") or {}
        if "kind" not in info or "config" not in info:
            continue  # not one of ours (e.g. bench_http's)
        records.append(
            Record(
                info["kind"], info["config"], info.get("form"), float(b["stats"]["median"]), info, b["name"]
            )
        )
    header = {k: v for k, v in data.items() if k != "benchmarks"}
    return records, header


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _fmt_time(seconds: float) -> str:
    if seconds >= 10:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.01:
        return f"{1000 * seconds:.0f} ms"
    return f"{1000 * seconds:.2f} ms"


def _ratio(value: float | None, seed: float | None) -> str:
    if value is None or seed is None or seed == 0:
        return ""
    return f" (×{value / seed:.2f})"


def _acc_cell(acc: float | None, seed: float | None) -> str:
    if acc is None:
        return "–"
    cell = _fmt_pct(acc)
    if seed is not None and seed > 0:
        cell += f" (×{acc / seed:.3f}"
        # Accuracy ratios near 1 hide the difference; the error ratio shows it.
        if 1 - seed > 0:
            cell += f"; errors ×{(1 - acc) / (1 - seed):.2f}"
        cell += ")"
    return cell


def _time_cell(seconds: float | None, seed: float | None) -> str:
    return "–" if seconds is None else _fmt_time(seconds) + _ratio(seconds, seed)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


class _Figures:
    """Lookup of figures by (kind, config, form, key) over the records."""

    def __init__(self, records: list[Record]):
        self.records = records
        self.configs = list(dict.fromkeys(r.config for r in records))
        order = list(BENCH_CONFIGS)
        self.configs.sort(key=lambda c: order.index(c) if c in order else len(order))

    def find(self, kind: str, config: str, form: str | None = None, **match: Any) -> Record | None:
        for r in self.records:
            if r.kind == kind and r.config == config and (form is None or r.form == form):
                if all(r.info.get(k) == v for k, v in match.items()):
                    return r
        return None

    def row(self, label: str, get, cell) -> list[str]:
        """One table row: ``cell(value, seed's value)`` per configuration (no ratio in seed's own column)."""
        seed = get("seed")
        return [label, *(cell(get(c), None if c == "seed" else seed) for c in self.configs)]


def _source_accuracy(f: _Figures, config: str, source: str) -> float | None:
    r = f.find("symbols", config)
    return None if r is None else r.info["report"]["sources"].get(source, {}).get("accuracy")


def _class_accuracy(report: Mapping[str, Any]) -> dict[str, float]:
    """Per-class accuracy over all held-out sources together (from the confusion matrices)."""
    labels = report["labels"]
    cm = sum(np.asarray(s["confusion"], dtype=float) for s in report["sources"].values())
    rows = cm.sum(axis=1)
    return {c: float(cm[i, i] / rows[i]) for i, c in enumerate(labels) if rows[i] > 0}


def write_report(
    json_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    http_json: str | os.PathLike | None = None,
    run: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``report.md`` and the PNG plots for a suite's pytest-benchmark JSON.

    Parameters
    ----------
    json_path : path-like
        Written by the suites (``--benchmark-json``).
    output : path-like
        Folder for ``report.md``, ``accuracy_vs_latency.png``, ``per_class_accuracy.png``
        and ``latency_by_batch.png``.
    http_json : path-like, optional
        pytest-benchmark JSON of ``benchmarks/bench_http.py``; default
        ``<output>/http.json`` when present.
    run : mapping, optional
        What :func:`run_suite` records (command, wall time); default ``<output>/run.json``.

    Returns
    -------
    pathlib.Path
        The report.

    Examples
    --------
    >>> write_report("benchmarks/results/benchmark.json", "benchmarks/results")  # doctest: +SKIP
    PosixPath('benchmarks/results/report.md')
    """
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    records, header = load_records(json_path)
    if run is None and (out / "run.json").is_file():
        run = json.loads((out / "run.json").read_text())
    http = Path(http_json) if http_json is not None else out / "http.json"
    f = _Figures(records)
    machine = header.get("machine_info", {})
    ours = machine.get("mathocr", {})
    lines: list[str] = []
    date = header.get("datetime", "")[:19].replace("T", " ")
    quick = bool(ours.get("budget", {}).get("quick"))
    title = "# mathocr benchmarks"
    if quick:
        title += " (quick run: tiny data, 1 epoch — checks that the suite works, not the figures)"
    lines += [title, ""]
    lines += _machine_lines(date, machine, ours, run, json_path)
    lines += _config_lines(f, ours)
    lines += _headline_lines(f)
    lines += _accuracy_lines(f)
    lines += _latency_lines(f)
    lines += _training_lines(f, ours)
    lines += _http_lines(http)
    plots = _plots(f, out)
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    path = out / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def _machine_lines(date: str, machine: Mapping, ours: Mapping, run: Mapping | None, json_path) -> list[str]:
    host = ours.get("host", {})
    lscpu = host.get("lscpu", {})
    libs = host.get("libraries", {})
    lines = [
        f"Measured {date} UTC"
        + (f", {run['wall_s'] / 60:.1f} minutes" if run and run.get("wall_s") else "")
        + f"; raw figures: `{Path(json_path).name}` (pytest-benchmark JSON)."
    ]
    if run and run.get("command"):
        lines[-1] += f" Command: `{run['command']}`."
    lines += ["", "| machine | |", "|---|---|"]
    lines.append(f"| CPU | {lscpu.get('Model name', machine.get('cpu', {}).get('brand_raw', '?'))} |")
    cores = f"{host.get('usable_cores', host.get('cpu_count', '?'))} usable"
    if lscpu:
        threads = lscpu.get("Thread(s) per core", "?")
        cores += f" of {lscpu.get('CPU(s)', '?')} CPU(s), {threads} thread(s) per core"
    if "cgroup_cpus" in host:
        cores += f"; cgroup quota {host['cgroup_cpus']} CPUs"
    lines.append(f"| cores | {cores} |")
    if lscpu.get("Flags"):
        lines.append(f"| vector extensions | {lscpu['Flags']} |")
    if "memory_gib" in host:
        lines.append(f"| memory | {host['memory_gib']} GiB |")
    if host.get("load_average"):
        lines.append(
            f"| load average at start | {', '.join(map(str, host['load_average']))} "
            "(the machine is shared: figures are comparable within one run) |"
        )
    lines.append(f"| system | {host.get('platform', machine.get('system', '?'))} |")
    if libs:
        lines.append("| libraries | " + ", ".join(f"{k} {v}" for k, v in libs.items()) + " |")
    return [*lines, ""]


def _config_lines(f: _Figures, ours: Mapping) -> list[str]:
    b = ours.get("budget", {})
    lines = [
        "## Configurations",
        "",
        "Each configuration is trained once per run (fixed seeds) and reused by every benchmark. "
        "Ratios are to `seed` measured in the same run; for accuracy the error ratio is given too.",
        "",
    ]
    configs = ours.get("configs", {})
    rows = []
    for name in f.configs:
        c = configs.get(name, {})
        params = ", ".join(f"{k}={v}" for k, v in c.get("params", {}).items()) or "–"
        rows.append([f"`{name}`", c.get("base", "?"), str(c.get("epochs", "–")), params, c.get("note", "")])
    lines += _table(["config", "from", "epochs", "overrides", "what it shows"], rows)
    if b:
        limit = b.get("limit_per_class")
        data = (
            f"at most {limit} images per class and source"
            if limit
            else "all of it (MNIST 60k + mdas train/val + 80% of bhmsds; held out: MNIST test, mdas test, "
            "the other 20% of bhmsds)"
        )
        lines += [
            "",
            f"Data: {data}. Cross-source: about {b.get('cross_digits_per_class')} digits per class + one "
            f"operator source, {b.get('cross_epochs')} epoch(s) for every config. Fixed training budget: "
            f"{b.get('fit_budget_images')} images, {b.get('fit_budget_epochs')} epoch. "
            f"Synthetic expressions: {b.get('synth_per_style')} per style, seed {SYNTH_SEED}.",
        ]
    return [*lines, ""]


def _headline_lines(f: _Figures) -> list[str]:
    if "seed" not in f.configs or "default" not in f.configs:
        return []
    lines = [
        "## default vs seed",
        "",
        "`seed` is measured in the Keras form it was served in; `default` in the ONNX form mathocr serves.",
        "",
    ]

    def pair(label, kind, key=None, form_seed="keras", form_new="onnx", acc=False, **match):
        s, d = f.find(kind, "seed", form_seed, **match), f.find(kind, "default", form_new, **match)
        if s is None or d is None:
            return None
        sv = s.info[key] if key else s.median_s
        dv = d.info[key] if key else d.median_s
        if acc:
            return [label, _fmt_pct(sv), _fmt_pct(dv), f"errors ×{(1 - dv) / (1 - sv):.2f}" if sv < 1 else ""]
        return [label, _fmt_time(sv), _fmt_time(dv), f"×{dv / sv:.2f}" if sv else ""]

    rows = []
    for src in ("mnist/test", "mdas/test", "bhmsds/heldout"):
        s, d = _source_accuracy(f, "seed", src), _source_accuracy(f, "default", src)
        if s is not None and d is not None:
            rows.append(
                [
                    f"{src} accuracy",
                    _fmt_pct(s),
                    _fmt_pct(d),
                    f"errors ×{(1 - d) / (1 - s):.2f}" if s < 1 else "",
                ]
            )
    old = f.find("expressions_old_path", "seed")
    if old is not None:
        rows.append(
            [
                "expressions exact-match, old reading path (global threshold, contours, squash, argmax, "
                "evaluation of the string) with the seed model",
                _fmt_pct(old.info["exact_match"]),
                "",
                "",
            ]
        )
    for row in (
        pair(
            "expressions exact-match (synthetic, all styles)",
            "expressions",
            "exact_match",
            "onnx",
            "onnx",
            acc=True,
        ),
        pair("predict_proba, 8 crops", "predict_proba", batch=8),
        pair("predict_proba, 512 crops", "predict_proba", batch=512),
        pair("solve, 800 px wide image", "solve", width=800),
        pair("cold start: import + load + first predict", "cold_start"),
    ):
        if row:
            rows.append(row)
    return [*lines, *_table(["figure", "seed", "default", "ratio"], rows), ""]


def _accuracy_lines(f: _Figures) -> list[str]:
    if not any(r.kind in ("symbols", "expressions", "cross_source") for r in f.records):
        return []
    head = ["figure", *(f"`{c}`" for c in f.configs)]
    rows = []
    sources = list(
        dict.fromkeys(s for r in f.records if r.kind == "symbols" for s in r.info["report"]["sources"])
    )
    for src in sources:
        rows.append(f.row(f"{src} accuracy", lambda c, s=src: _source_accuracy(f, c, s), _acc_cell))

    def macro(c):
        vals = [_source_accuracy(f, c, s) for s in sources]
        return None if any(v is None for v in vals) or not vals else float(np.mean(vals))

    if sources:
        rows.append(f.row("mean over sources", macro, _acc_cell))

    def expr(key):
        def get(c):
            r = f.find("expressions", c)
            return None if r is None else r.info[key]

        return get

    rows.append(f.row("expressions exact-match", expr("exact_match"), _acc_cell))
    rows.append(f.row("expressions value correct", expr("value_correct"), _acc_cell))
    for direction in ("mdas->bhmsds", "bhmsds->mdas"):

        def cross(c, d=direction):
            r = f.find("cross_source", c, direction=d)
            return None if r is None else r.info["operator_accuracy"]

        if any(cross(c) is not None for c in f.configs):
            train, test = direction.split("->")
            rows.append(
                f.row(
                    f"cross-source: trained on {train} operators, tested on {test} held-out", cross, _acc_cell
                )
            )

    def onnx_diff(c):
        r = f.find("symbols", c)
        return None if r is None else r.info.get("onnx_vs_keras_max_abs_diff")

    rows.append(
        f.row(
            "ONNX vs Keras form: max \\|Δ probability\\| (64 crops)",
            onnx_diff,
            lambda v, _s: "–" if v is None else f"{v:.1e}",
        )
    )
    lines = [
        "## Accuracy",
        "",
        "Symbols: held-out sets, ONNX form (`mathocr.evaluation.evaluate_sets`). "
        "Expressions: synthetic images from held-out symbols (`mathocr.synth`), solved by "
        "`Solver(pipeline)`. Cross-source: operator accuracy on a source never seen in training.",
        "",
    ]
    lines += _table(head, rows)

    styles = []
    for r in f.records:
        if r.kind == "expressions":
            styles = list(r.info["per_style"])
            break
    if styles:
        lines += ["", "### Expression exact-match per style", ""]
        srows = []
        for st in styles:

            def get(c, st=st):
                r = f.find("expressions", c)
                return None if r is None else r.info["per_style"][st]["exact_match"]

            srows.append(f.row(st, get, _acc_cell))
        lines += _table(head, srows)

    per_class = {c: _class_accuracy(r.info["report"]) for c in f.configs if (r := f.find("symbols", c))}
    if per_class:
        lines += ["", "### Per-class accuracy (all held-out sources)", ""]
        labels = list(dict.fromkeys(k for v in per_class.values() for k in v))
        lines += _table(
            head,
            [
                f.row(f"`{lab}`", lambda c, lab=lab: per_class.get(c, {}).get(lab), _acc_cell)
                for lab in labels
            ],
        )
    return [*lines, ""]


def _latency_lines(f: _Figures) -> list[str]:
    kinds = {r.kind for r in f.records}
    if not kinds & {"transform", "predict_proba", "solve", "cold_start"}:
        return []
    head = ["figure (median)", *(f"`{c}`" for c in f.configs)]
    rows = []

    def get(kind, form=None, **match):
        return lambda c: r.median_s if (r := f.find(kind, c, form, **match)) else None

    if "transform" in kinds:
        n = next(r.info["n"] for r in f.records if r.kind == "transform")
        rows.append(
            f.row(f"transformers alone (binarise + normalise), {n} crops", get("transform"), _time_cell)
        )
    for form in FORMS:
        for b in BATCH_SIZES:
            if any(
                r.kind == "predict_proba" and r.form == form and r.info.get("batch") == b for r in f.records
            ):
                rows.append(
                    f.row(
                        f"predict_proba, {b} crop{'s' * (b > 1)}, {form}",
                        get("predict_proba", form, batch=b),
                        _time_cell,
                    )
                )
    for form in FORMS:
        for w in IMAGE_WIDTHS:
            recs = [r for r in f.records if r.kind == "solve" and r.form == form and r.info.get("width") == w]
            if recs:
                label = f"solve, {w}×{recs[0].info['height']} px, {form}"
                rows.append(f.row(label, get("solve", form, width=w), _time_cell))
    for form in FORMS:
        if any(r.kind == "cold_start" and r.form == form for r in f.records):
            rows.append(
                f.row(
                    f"cold start (new process: import + load + first predict), {form}",
                    get("cold_start", form),
                    _time_cell,
                )
            )
    lines = [
        "## Latency",
        "",
        "Warm medians on one thread of inference (ONNX Runtime intra-op threads = 1; TensorFlow as "
        "configured by `mathocr.estimator`). Inputs are real crops from segmented synthetic pages. "
        "Cold start is measured from process spawn. Ratios compare the same form "
        "(Keras with Keras, ONNX with ONNX).",
        "",
    ]
    lines += _table(head, rows)
    cold = [r for r in f.records if r.kind == "cold_start"]
    if cold:
        lines += ["", "Cold start phases (median of rounds):", ""]
        lines += _table(
            ["config", "form", "import mathocr", "load_pipeline", "first predict_proba", "peak RSS"],
            [
                [
                    f"`{r.config}`",
                    r.form or "",
                    _fmt_time(r.info["import_s"]),
                    _fmt_time(r.info["load_s"]),
                    _fmt_time(r.info["first_predict_s"]),
                    f"{r.info['max_rss_mb']:.0f} MB",
                ]
                for r in cold
            ],
        )
    return [*lines, ""]


def _training_lines(f: _Figures, ours: Mapping) -> list[str]:
    if not any(r.kind in ("fit", "fit_budget") for r in f.records):
        return []
    head = ["figure", *(f"`{c}`" for c in f.configs)]
    rows = []

    def info(kind, key):
        return lambda c: r.info.get(key) if (r := f.find(kind, c)) else None

    rows.append(
        f.row(
            "fit, each config's own budget",
            lambda c: r.median_s if (r := f.find("fit", c)) else None,
            _time_cell,
        )
    )
    rows.append(
        f.row(
            "  epochs × images",
            lambda c: f.find("fit", c),
            lambda r, _s: f"{r.info['epochs']} × {r.info['n_images']}" if r else "–",
        )
    )
    rows.append(
        f.row(
            "  parameters",
            info("fit", "n_parameters"),
            lambda v, s: "–" if v is None else f"{v:,}" + _ratio(v, s),
        )
    )
    rows.append(
        f.row(
            "fit, fixed budget (same images and epochs)",
            lambda c: r.median_s if (r := f.find("fit_budget", c)) else None,
            _time_cell,
        )
    )
    rows.append(
        f.row(
            "  per image and epoch",
            info("fit_budget", "ms_per_image_epoch"),
            lambda v, s: "–" if v is None else f"{v:.3f} ms" + _ratio(v, s),
        )
    )
    rows.append(
        f.row(
            "ONNX export",
            info("fit", "export_s"),
            lambda v, s: "–" if v is None else _fmt_time(v) + _ratio(v, s),
        )
    )
    return [
        "## Training",
        "",
        "Wall time of `pipeline.fit` on this machine (one round; 2 cores shared).",
        "",
        *_table(head, rows),
        "",
    ]


def _http_lines(path: Path) -> list[str]:
    if not path.is_file():
        return [
            "## HTTP",
            "",
            f"No HTTP figures in this run (`{path.name}` absent): "
            "`python -m pytest benchmarks/bench_http.py --benchmark-json <output>/http.json` adds them.",
            "",
        ]
    data = json.loads(path.read_text())
    rows = []
    for b in data.get("benchmarks", []):
        scalars = {k: v for k, v in (b.get("extra_info") or {}).items() if isinstance(v, (int, float, str))}
        shown = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in scalars.items())
        rows.append([f"`{b['name']}`", _fmt_time(b["stats"]["median"]), shown])
    date = data.get("datetime", "")[:19].replace("T", " ")
    return [
        "## HTTP",
        "",
        f"From `benchmarks/bench_http.py` (`{path.name}`, {date} UTC): waitress + the Flask "
        "app over loopback, and the old request path for comparison.",
        "",
        *_table(["benchmark", "median round", "figures"], rows),
        "",
    ]


# ---------------------------------------------------------------------------- plots


def _plots(f: _Figures, out: Path) -> list[Path]:
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
    return written


__all__ = [
    "BATCH_SIZES",
    "BENCH_CONFIGS",
    "IMAGE_WIDTHS",
    "BenchConfig",
    "Budget",
    "budget",
    "describe_configs",
    "machine_info",
    "make_bench_pipeline",
    "parse_configs",
    "run_suite",
    "update_readme",
    "write_report",
]


def describe_configs(names: Sequence[str], run_budget: Budget) -> dict[str, Any]:
    """The configurations of a run, as recorded in the JSON (base, overrides, epochs, note)."""
    from .pipeline import CONFIGS

    out = {}
    for n in names:
        cfg = BENCH_CONFIGS[n]
        params = config_params(n, run_budget) if cfg.trainable else {}
        epochs = {**CONFIGS[cfg.base], **params}.get("clf__epochs") if cfg.trainable else None
        out[n] = {"base": cfg.base, "params": jsonable(params), "epochs": epochs, "note": cfg.note}
    return out
