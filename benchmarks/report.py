"""The report of a benchmark run: ``report.md``, every figure with its ratio to ``seed``.

:func:`write_report` reads the pytest-benchmark JSON the suites wrote (each benchmark's
figures are in its ``extra_info``, keyed by ``kind``, ``config`` and ``form``) and writes
``report.md``: the machine, the configurations, "default vs seed", accuracy, latency,
training and HTTP tables, and the plots of :mod:`benchmarks.plots`.

Examples
--------
>>> write_report("benchmarks/results/benchmark.json", "/tmp/report")  # doctest: +SKIP
PosixPath('/tmp/report/report.md')
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.configs import (
    ACCURACY_TARGET,
    ANSWERED_TARGET,
    BATCH_SIZES,
    BENCH_CONFIGS,
    EXPRESSION_SETS,
    FORMS,
    IMAGE_WIDTHS,
    INVALID_TARGET,
    SYNTH_SEED,
)
from benchmarks.plots import plots


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
    """The benchmarks of a ``--benchmark-json`` file written by the suites, and its header.

    Parameters
    ----------
    json_path : path-like
        pytest-benchmark JSON.

    Returns
    -------
    records : list of Record
        The benchmarks whose ``extra_info`` has a ``kind`` and a ``config`` (the suites').
    header : dict
        Everything else (``machine_info``, ``datetime``, ...).
    """
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


def _pct_cell(value: float | None, _seed: float | None) -> str:
    """A rate of the solver's decisions: no ratio to seed (its thresholds are not the model's)."""
    return "–" if value is None else _fmt_pct(value)


def _time_cell(seconds: float | None, seed: float | None) -> str:
    return "–" if seconds is None else _fmt_time(seconds) + _ratio(seconds, seed)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


class Figures:
    """Lookup of figures by (kind, config, form, key) over the records.

    Parameters
    ----------
    records : list of Record
        From :func:`load_records`; ``configs`` lists their configurations in
        :data:`benchmarks.configs.BENCH_CONFIGS` order.
    """

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.configs = list(dict.fromkeys(r.config for r in records))
        order = list(BENCH_CONFIGS)
        self.configs.sort(key=lambda c: order.index(c) if c in order else len(order))

    def find(self, kind: str, config: str, form: str | None = None, **match: Any) -> Record | None:
        """The first record of ``kind``, ``config`` (and ``form``) whose info has ``match``, or None."""
        for r in self.records:
            if r.kind == kind and r.config == config and (form is None or r.form == form):
                if all(r.info.get(k) == v for k, v in match.items()):
                    return r
        return None

    def get(self, kind: str, *keys: str) -> Callable[[str], Any]:
        """Per configuration, ``info[keys[0]][keys[1]]...`` of its ``kind`` record (None if absent).

        Examples
        --------
        >>> f.get("invalid", "per_kind", "scribble", "answered")("default")  # doctest: +SKIP
        0.0
        """

        def value(config: str) -> Any:
            r = self.find(kind, config)
            v: Any = None if r is None else r.info
            for k in keys:
                v = v.get(k) if isinstance(v, Mapping) else None
            return v

        return value

    def row(self, label: str, get: Callable[[str], Any], cell: Callable[[Any, Any], str]) -> list[str]:
        """One table row: ``cell(value, seed's value)`` per configuration (no ratio in seed's own column)."""
        seed = get("seed")
        return [label, *(cell(get(c), None if c == "seed" else seed) for c in self.configs)]


def _source_accuracy(f: Figures, config: str, source: str) -> float | None:
    r = f.find("symbols", config)
    return None if r is None else r.info["report"]["sources"].get(source, {}).get("accuracy")


def _role_accuracy(f: Figures, config: str, source: str, role: str) -> float | None:
    r = f.find("symbols", config)
    return None if r is None else r.info["report"]["sources"].get(source, {}).get("per_role", {}).get(role)


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
    f = Figures(records)
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
    lines += _answering_lines(f)
    lines += _latency_lines(f)
    lines += _training_lines(f, ours)
    lines += _http_lines(http)
    written = plots(f, out)
    if written:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in written] + [""]
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


def _config_lines(f: Figures, ours: Mapping) -> list[str]:
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
            f"Synthetic expressions: {b.get('synth_per_style')} per style, seed {SYNTH_SEED}."
            + (
                f" From unseen writers' glyphs: {b['unseen_per_style']} per pen style. "
                f"Invalid drawings: {b['invalid_items']}."
                if "invalid_items" in b
                else ""
            ),
        ]
    return [*lines, ""]


def _headline_lines(f: Figures) -> list[str]:
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


def _accuracy_lines(f: Figures) -> list[str]:
    if not any(r.kind in ("symbols", "expressions", "cross_source") for r in f.records):
        return []
    head = ["figure", *(f"`{c}`" for c in f.configs)]
    rows = []
    sources = list(
        dict.fromkeys(s for r in f.records if r.kind == "symbols" for s in r.info["report"]["sources"])
    )
    for src in sources:
        rows.append(f.row(f"{src} accuracy", lambda c, s=src: _source_accuracy(f, c, s), _acc_cell))
        roles = list(
            dict.fromkeys(
                role
                for r in f.records
                if r.kind == "symbols"
                for role in r.info["report"]["sources"].get(src, {}).get("per_role", {})
            )
        )
        if len(roles) > 1:  # digits and operators apart from the tokens that came later
            rows += [
                f.row(f"{src}, {role}", lambda c, s=src, k=role: _role_accuracy(f, c, s, k), _acc_cell)
                for role in roles
            ]

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
    if any(r.kind == "expressions_unseen" for r in f.records):
        rows.append(
            f.row(
                "expressions exact-match, unseen writers' glyphs",
                f.get("expressions_unseen", "exact_match"),
                _acc_cell,
            )
        )
    if any(r.kind == "expressions_photo" for r in f.records):
        rows.append(
            f.row(
                "expressions exact-match, photos of a sheet",
                f.get("expressions_photo", "exact_match"),
                _acc_cell,
            )
        )
        rows.append(
            f.row(
                "photos with a token read off the sheet",
                f.get("expressions_photo", "items_with_a_token_off_the_page"),
                lambda v, _s: "–" if v is None else str(v),
            )
        )
    for glyphs in dict.fromkeys(r.info.get("glyphs") for r in f.records if r.kind == "expressions_forms"):
        forms = next(
            list(r.info["per_form"])
            for r in f.records
            if r.kind == "expressions_forms" and r.info.get("glyphs") == glyphs
        )

        def form_figure(*keys, g=glyphs):
            def get(c):
                r = f.find("expressions_forms", c, glyphs=g)
                v: Any = None if r is None else r.info
                for k in keys:
                    v = v.get(k) if isinstance(v, Mapping) else None
                return v

            return get

        rows += [
            f.row(
                f"school forms exact-match, {glyphs}: {name}",
                form_figure("per_form", name, "exact_match"),
                _acc_cell,
            )
            for name in forms
        ]
        label = f"{glyphs}: equations read right whose `correct` is right"
        rows.append(f.row(label, form_figure("correct_right"), _acc_cell))
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

    srows = []
    for kind, prefix in (
        ("expressions", ""),
        ("expressions_unseen", "unseen writers, "),
        ("expressions_photo", "photo, "),
    ):
        styles = next((list(r.info["per_style"]) for r in f.records if r.kind == kind), [])
        srows += [f.row(prefix + st, f.get(kind, "per_style", st, "exact_match"), _acc_cell) for st in styles]
    if srows:
        lines += ["", "### Expression exact-match per style", ""]
        if any(r.kind == "expressions_unseen" for r in f.records):
            lines += [
                "Unseen writers: expressions composed from UNIPEN's held-out writers' glyphs "
                "(`mathocr.synth.unseen_writer_symbols`: the samples that are dots, "
                "`mathocr.datasets.dots`, left out), drawn in the pen styles "
                "(`mathocr.synth.PEN_STYLES`).",
                "",
            ]
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


def rejection_curve(
    confidence: Sequence[float], correct: Sequence[bool], has_value: Sequence[bool], max_points: int = 200
) -> dict[str, list[float]]:
    """Accuracy of the answers against the fraction answered, as a confidence threshold moves.

    A drawing is answered at threshold ``t`` when it has a value and its confidence is
    at least ``t``; drawings without a value are never answered.

    Parameters
    ----------
    confidence : sequence of float
        ``Solution.confidence`` of each drawing.
    correct : sequence of bool
        Whether each reading is right.
    has_value : sequence of bool
        Whether each drawing got a value (status ``ok`` or ``unsure``).
    max_points : int
        At most this many points, evenly spread over the thresholds.

    Returns
    -------
    dict
        ``threshold``, ``answered`` (fraction of all drawings) and ``accuracy`` (among
        those answered), from the strictest threshold to the loosest.

    Examples
    --------
    >>> curve = rejection_curve([0.9, 0.6, 0.8, 0.2], [True, False, True, True], [True, True, True, False])
    >>> curve["answered"], [round(a, 3) for a in curve["accuracy"]]
    ([0.25, 0.5, 0.75], [1.0, 1.0, 0.667])
    """
    conf = np.asarray(confidence, dtype=float)
    right = np.asarray(correct, dtype=bool)
    valued = np.asarray(has_value, dtype=bool)
    order = np.argsort(-conf[valued], kind="stable")
    c, hit = conf[valued][order], right[valued][order]
    k = np.arange(1, len(c) + 1)
    # A threshold takes all drawings of equal confidence or none: keep each tie's last.
    last = np.r_[c[1:] != c[:-1], True] if len(c) else np.zeros(0, bool)
    threshold, answered, accuracy = c[last], k[last] / len(conf), (np.cumsum(hit) / k)[last]
    keep = np.unique(np.linspace(0, len(threshold) - 1, min(len(threshold), max_points)).round().astype(int))
    return {
        "threshold": threshold[keep].tolist(),
        "answered": answered[keep].tolist(),
        "accuracy": accuracy[keep].tolist(),
    }


def accuracy_at(curve: Mapping[str, Sequence[float]], answered: float | None = None) -> float | None:
    """The accuracy on a rejection curve when answering at most ``answered`` of the drawings.

    Parameters
    ----------
    curve : mapping
        ``answered`` and ``accuracy`` lists (see :func:`rejection_curve`).
    answered : float, optional
        A fraction of all drawings; None for the loosest threshold (every drawing with a value).

    Returns
    -------
    float or None
        None when no threshold answers that many or fewer, or the curve is empty.

    Examples
    --------
    >>> accuracy_at({"answered": [0.25, 0.5, 0.75], "accuracy": [1.0, 1.0, 0.667]}, 0.6)
    1.0
    """
    answered_at, accuracy = list(curve.get("answered", [])), list(curve.get("accuracy", []))
    if not accuracy:
        return None
    if answered is None:
        return accuracy[-1]
    if answered_at[-1] < answered - 1e-9:
        return None  # even the loosest threshold answers fewer: the row would describe another point
    below = [i for i, a in enumerate(answered_at) if a <= answered + 1e-9]
    return accuracy[below[-1]] if below else None


def _codes_cell(codes: Mapping[str, int] | None, _seed: Any) -> str:
    """The two commonest error codes and their shares of the errors."""
    if not codes:
        return "–"
    total = sum(codes.values())
    top = sorted(codes.items(), key=lambda kv: -kv[1])[:2]
    return ", ".join(f"`{code}` {100 * n / total:.0f}%" for code, n in top)


def _answering_lines(f: Figures) -> list[str]:
    present = {r.kind for r in f.records if r.kind in ("invalid", "calibration") or "answering" in r.info}
    if not present:
        return []
    head = ["figure", *(f"`{c}`" for c in f.configs)]
    rows, code_rows = [], []
    for kind, name in EXPRESSION_SETS.items():
        if kind not in present:
            continue

        def curve_at(target, kind=kind):
            return lambda c: (
                accuracy_at(curve, target) if (curve := f.get(kind, "rejection_curve")(c)) else None
            )

        rows += [
            f.row(
                f"{name}: answered, status ok (target ≥ {ANSWERED_TARGET:.0%})",
                f.get(kind, "answering", "answered"),
                _pct_cell,
            ),
            f.row(f"{name}: unsure", f.get(kind, "answering", "unsure"), _pct_cell),
            f.row(f"{name}: rejected, status error", f.get(kind, "answering", "rejected"), _pct_cell),
            f.row(
                f"{name}: exact match among answered (target ≥ {ACCURACY_TARGET:.0%})",
                f.get(kind, "answering", "exact_among_answered"),
                _pct_cell,
            ),
            f.row(f"{name}: exact match answering every reading with a value", curve_at(None), _pct_cell),
            *(
                f.row(f"{name}: exact match answering {t:.0%} by confidence", curve_at(t), _pct_cell)
                for t in (0.95, 0.9)
            ),
        ]
        code_rows.append(f.row(f"{name}, rejected", f.get(kind, "answering", "codes"), _codes_cell))
    glyphs = ""
    if "invalid" in present:
        first = next(r for r in f.records if r.kind == "invalid")
        glyphs = first.info.get("glyphs", "")
        rows.append(
            f.row(
                f"invalid drawings answered with a value, ok or unsure (target ≤ {INVALID_TARGET:.0%})",
                f.get("invalid", "answered"),
                _pct_cell,
            )
        )
        for kind in first.info["per_kind"]:
            label = kind.replace("_", " ")
            rows.append(f.row(f"  {label}", f.get("invalid", "per_kind", kind, "answered"), _pct_cell))
            code_rows.append(
                f.row(f"invalid: {label}", f.get("invalid", "per_kind", kind, "codes"), _codes_cell)
            )
        if "sure" in first.info:  # runs before 2026-12-07 12:18 did not count them
            rows.append(
                f.row(
                    "invalid drawings answered as sure, status ok (wrong by construction)",
                    f.get("invalid", "sure"),
                    _pct_cell,
                )
            )
    lines = [
        "## Answering, doubting, refusing",
        "",
        "What `Solver` does with a drawing: answer (status `ok`), answer with alternatives "
        "(`unsure`), or refuse (`error`). Valid expressions should be answered, and right; "
        "invalid drawings (an operator at the end or the start, two in a row, a lone operator, "
        "scribbles, letters: `mathocr.synth.make_invalid_set`"
        + (f", symbols from {glyphs}' glyphs" if glyphs else "")
        + ') should get no value. The "by confidence" rows move a threshold on '
        "`Solution.confidence` (see the rejection curve plot).",
        "",
    ]
    if rows:
        lines += _table(head, rows)
    if code_rows:
        lines += ["", "### Error codes given", "", *_table(head, code_rows)]
    if "calibration" in present:
        lines += ["", *_calibration_lines(f, head)]
    return [*lines, ""]


def _calibration_lines(f: Figures, head: list[str]) -> list[str]:
    sources = next(list(r.info["ece_after"]) for r in f.records if r.kind == "calibration")

    def cell(r: Record | None, _seed: Any, source: str = "") -> str:
        if r is None or source not in r.info["ece_after"]:
            return "–"
        after = r.info["ece_after"][source]
        if not r.info.get("calibrated"):
            return f"{after:.4f} (no calibration step)"
        return f"{r.info['ece_before'][source]:.4f} → {after:.4f}"

    rows = [
        f.row(
            "all held-out symbols" if src == "all" else src,
            lambda c: f.find("calibration", c),
            lambda r, s, src=src: cell(r, s, src),
        )
        for src in sources
    ]
    return [
        "### Expected calibration error of symbol confidences",
        "",
        "Top-class confidence against accuracy on the held-out sets (`mathocr.calibration."
        "expected_calibration_error`), before calibration (`mathocr.calibration.uncalibrated`) → "
        "after; lower is better.",
        "",
        *_table(head, rows),
    ]


def _latency_lines(f: Figures) -> list[str]:
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


def _training_lines(f: Figures, ours: Mapping) -> list[str]:
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
        f"From `benchmarks/bench_http.py` (`{path.name}`, {date} UTC): the Flask app "
        "over loopback on gunicorn (the default), on waitress and on the pre-fork server it replaced.",
        "",
        *_table(["benchmark", "median round", "figures"], rows),
        "",
    ]


__all__ = ["Figures", "Record", "accuracy_at", "load_records", "rejection_curve", "write_report"]
