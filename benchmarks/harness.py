"""The runner of ``mathocr bench``: the suites in a pytest subprocess, then the report.

:func:`run_suite` runs ``bench_training.py``, ``bench_accuracy.py`` and
``bench_latency.py`` (this folder) with ``--benchmark-json``, records the run in
``run.json``, writes the report (:func:`benchmarks.report.write_report`) and, after a
full run into ``benchmarks/results``, refreshes the "Last results" section of
``benchmarks/README.md`` (:func:`update_readme`).

Examples
--------
>>> suite_command("out.json", quick=True)[1:3]  # doctest: +SKIP
['-m', 'pytest']
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.configs import parse_configs
from benchmarks.report import write_report
from mathocr.card import command_line

HERE = Path(__file__).resolve().parent
"""This folder: the suites, their ``conftest.py`` and ``pytest.ini``."""
RESULTS = HERE / "results"
"""Where a full run's figures are kept (and the README's "Last results" come from)."""

SUITE_FILES = ("bench_training.py", "bench_accuracy.py", "bench_latency.py")
"""The suites ``mathocr bench`` runs, in this order (training first fills the model cache)."""


def suite_command(
    json_path: str | os.PathLike,
    *,
    quick: bool = False,
    configs: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    pytest_args: Sequence[str] = (),
) -> list[str]:
    """The pytest command line that runs the suites and writes pytest-benchmark JSON.

    Parameters
    ----------
    json_path : path-like
        Where pytest-benchmark writes its JSON.
    quick, configs, data_dir, pytest_args
        As for :func:`run_suite`.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        For an unknown configuration name.

    Examples
    --------
    >>> cmd = suite_command("out.json", quick=True)            # doctest: +SKIP
    >>> cmd[:3]                                                # doctest: +SKIP
    ['/usr/bin/python3', '-m', 'pytest']
    """
    cmd = [sys.executable, "-m", "pytest", *(str(HERE / f) for f in SUITE_FILES)]
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
        Names from :data:`benchmarks.configs.BENCH_CONFIGS`; ``"seed"`` is always added.
        Default: all (full) or :data:`benchmarks.configs.QUICK_CONFIGS` (quick).
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
    rc = subprocess.call(cmd, cwd=HERE.parent)
    run = {
        "command": command_line(),
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
    readme = HERE / "README.md"
    if not quick and out.resolve() == RESULTS.resolve() and readme.is_file():
        update_readme(readme, report)
    return rc


README_START = "<!-- last-results:start (written by `mathocr bench`) -->"
README_END = "<!-- last-results:end -->"


def update_readme(readme: str | os.PathLike, report: str | os.PathLike) -> bool:
    """Put a report's date, machine and "default vs seed" table between the README's markers.

    A full ``mathocr bench`` run into ``benchmarks/results`` calls this, so the README
    always shows the last committed results.

    Parameters
    ----------
    readme : path-like
        A Markdown file with the :data:`README_START` and :data:`README_END` markers.
    report : path-like
        A ``report.md`` written by :func:`benchmarks.report.write_report`.

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


__all__ = [
    "README_END",
    "README_START",
    "RESULTS",
    "SUITE_FILES",
    "run_suite",
    "suite_command",
    "update_readme",
]
