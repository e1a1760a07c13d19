"""``mathocr bench --quick`` end to end: the suites run, the report and plots come out.

This keeps the benchmark suite from rotting; it measures nothing (tiny data, 1 epoch).
The data directory is ``$MATHOCR_DATA`` (a few images per class of it) when set, else a
generated miniature.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.configs import BENCH_CONFIGS, parse_configs
from benchmarks.harness import README_END, README_START, update_readme
from mathocr import cli
from mathocr.cli import main

pytest_plugins = ["pytester"]


def test_parse_configs():
    assert parse_configs(None, quick=True) == ["seed", "default"]
    assert parse_configs(None) == list(BENCH_CONFIGS)
    assert parse_configs(["default,narrow", "squash"]) == ["seed", "default", "narrow", "squash"]
    with pytest.raises(ValueError, match="unknown benchmark config"):
        parse_configs("default,best")


def test_unknown_config_is_a_usage_error(capsys, tmp_path):
    assert main(["bench", "--quick", "--configs", "nope", "--output", str(tmp_path)]) == 2
    assert "unknown benchmark config" in capsys.readouterr().err


def test_bench_outside_a_source_checkout_is_a_clear_error(capfd, monkeypatch, tmp_path):
    # As installed from a wheel: site-packages/mathocr/cli.py, no benchmarks/ beside it.
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "mathocr" / "cli.py"))
    assert main(["bench", "--list"]) == 2
    err = capfd.readouterr().err
    assert "mathocr bench runs from a source checkout" in err and "Traceback" not in err


def test_round_robin_interleaves_configurations():
    from benchmarks.interleave import round_robin

    order: list[str] = []
    clock = iter(range(100))
    calls = {(("config", c),): (lambda c=c: order.append(c) or c) for c in ("seed", "default", "narrow")}
    durations, results = round_robin(calls, rounds=2, warmup_rounds=1, timer=lambda: next(clock))
    assert order == ["seed", "default", "narrow"] * 3  # warm-up round, then two timed rounds
    assert durations[(("config", "seed"),)] == [1, 1] and results[(("config", "narrow"),)] == ["narrow"] * 2


_ROUND_ROBIN_SUITE = """
import pytest

from benchmarks.interleave import RoundRobin

LOG = []
ROBIN = RoundRobin()


@pytest.fixture
def interleaved(request, benchmark):
    return lambda factory, **kw: ROBIN.run(request.node, benchmark, factory, **kw)


@pytest.mark.parametrize("config", ["seed", "default", "narrow"])
@pytest.mark.parametrize("batch", [1, 8])
def test_call(benchmark, interleaved, config, batch):
    def factory(config):
        if (config, batch) == ("narrow", 8):
            pytest.skip("narrow is not measured at 8")
        return lambda: LOG.append((config, batch)) or config

    assert interleaved(factory, rounds=3, warmup_rounds=1) == [config] * 3
    assert benchmark.stats.stats.rounds == 3


def test_rounds_went_round_robin():
    by_batch = {b: [c for c, bb in LOG if bb == b] for b in (1, 8)}
    assert by_batch[1] == ["seed", "default", "narrow"] * 4  # warm-up + 3 rounds, each over all
    assert by_batch[8] == ["seed", "default"] * 4
    assert len({bb for _, bb in LOG[:12]}) == 1  # one group measured whole before the next
"""


def test_latency_rounds_interleave_through_pytest_benchmark(pytester):
    pytester.syspathinsert(Path(__file__).resolve().parents[1])
    pytester.makepyfile(test_round_robin=_ROUND_ROBIN_SUITE)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "--benchmark-columns=rounds")
    result.assert_outcomes(passed=6, skipped=1)


def test_missing_data_is_a_clear_error_and_no_stale_report(capfd, tmp_path):
    (tmp_path / "benchmark.json").write_text('{"benchmarks": []}')  # a previous run's figures
    missing = str(tmp_path / "nope")
    rc = main(["bench", "--data-dir", missing, "--configs", "default", "--output", str(tmp_path)])
    captured = capfd.readouterr()
    said = captured.out + captured.err
    assert rc != 0 and "Traceback" not in said
    assert "no data directory" in said and "no report written" in captured.err
    assert not (tmp_path / "benchmark.json").exists() and not (tmp_path / "report.md").exists()


def test_rejection_curve_and_the_accuracy_at_a_fraction_answered():
    from benchmarks.report import accuracy_at, rejection_curve

    # Two ties at 0.9, one wrong reading at 0.5, one drawing without a value.
    curve = rejection_curve([0.9, 0.9, 0.5, 0.99], [True, True, False, True], [True, True, True, False])
    assert curve == {"threshold": [0.9, 0.5], "answered": [0.5, 0.75], "accuracy": [1.0, 2 / 3]}
    assert accuracy_at(curve) == 2 / 3  # every reading with a value answered
    assert accuracy_at(curve, 0.6) == 1.0
    assert accuracy_at(curve, 0.9) is None  # no threshold answers 90%: a quarter has no value
    assert accuracy_at(curve, 0.25) is None  # the strictest threshold already answers half
    assert rejection_curve([0.3], [False], [False]) == {"threshold": [], "answered": [], "accuracy": []}
    many = rejection_curve(np.linspace(0, 1, 1000), np.ones(1000, bool), np.ones(1000, bool), max_points=50)
    assert len(many["answered"]) == 50 and many["answered"][-1] == 1.0


def _has_unipen() -> bool:
    """Whether ``mathocr bench --quick`` here reads a data directory with UNIPEN (unseen writers)."""
    from mathocr.datasets import UNIPEN_DIR, data_home

    root = data_home()
    return (root / "mnist").is_dir() and (root / "symbols").is_dir() and (root / UNIPEN_DIR).is_dir()


@pytest.mark.slow
def test_bench_quick_writes_report_and_plots(tmp_path):
    from mathocr.synth import INVALID_KINDS

    assert main(["bench", "--quick", "--output", str(tmp_path)]) == 0

    data = json.loads((tmp_path / "benchmark.json").read_text())
    seen = {(b["extra_info"]["kind"], b["extra_info"]["config"]) for b in data["benchmarks"]}
    kinds = (
        "fit",
        "fit_budget",
        "symbols",
        "expressions",
        "cross_source",
        "transform",
        "predict_proba",
        "solve",
        "cold_start",
        "invalid",
        "calibration",
    )
    unseen = _has_unipen()
    if unseen:
        kinds += ("expressions_unseen",)
    assert {(k, c) for k in kinds for c in ("seed", "default")} <= seen
    assert ("expressions_old_path", "seed") in seen
    invalid = next(b["extra_info"] for b in data["benchmarks"] if b["extra_info"]["kind"] == "invalid")
    assert invalid["n"] == 12 and list(invalid["per_kind"]) == list(INVALID_KINDS)
    assert invalid["glyphs"] == ("unseen writers" if unseen else "held-out symbols")
    expressions = next(
        b["extra_info"] for b in data["benchmarks"] if b["extra_info"]["kind"] == "expressions"
    )
    answering = expressions["answering"]
    assert answering["answered"] + answering["unsure"] + answering["rejected"] == pytest.approx(1.0)
    assert set(expressions["rejection_curve"]) == {"threshold", "answered", "accuracy"}
    # Latency rounds are measured round-robin and handed to pytest-benchmark: its stats hold them.
    predict = [b for b in data["benchmarks"] if b["extra_info"]["kind"] == "predict_proba"]
    assert predict and all(b["stats"]["rounds"] == 3 and b["stats"]["median"] > 0 for b in predict)
    assert {b["options"]["timer"] for b in predict} == {"perf_counter"}
    host = data["machine_info"]["mathocr"]["host"]
    assert host["cpu_count"] and host["libraries"]["scikit-learn"]

    report = (tmp_path / "report.md").read_text()
    assert "| figure | `seed` | `default` |" in report
    for row in (
        "| mnist/test accuracy |",
        "| expressions exact-match |",
        "| predict_proba, 8 crops, onnx |",
        "| predict_proba, 512 crops, keras |",
        "| fit, fixed budget (same images and epochs) |",
        "| cold start (new process: import + load + first predict), onnx |",
        "| synthetic, held-out symbols: answered, status ok (target ≥ 97%) |",
        "| synthetic, held-out symbols: exact match among answered (target ≥ 99%) |",
        "| synthetic, held-out symbols: exact match answering 95% by confidence |",
        "| invalid drawings answered with a value, ok or unsure (target ≤ 1%) |",
        *(f"|   {kind.replace('_', ' ')} |" for kind in INVALID_KINDS),
        "| invalid drawings answered as sure, status ok (wrong by construction) |",
        *(f"| invalid: {kind.replace('_', ' ')} |" for kind in INVALID_KINDS),
        "| all held-out symbols |",
        *(
            ("| expressions exact-match, unseen writers' glyphs |", "| unseen writers, paper |")
            if unseen
            else ()
        ),
    ):
        assert any(line.startswith(row) for line in report.splitlines()), row
    assert "### Error codes given" in report and "### Expected calibration error" in report
    # Every figure of "default" carries its ratio to "seed".
    row = next(line for line in report.splitlines() if line.startswith("| predict_proba, 8 crops, onnx"))
    seed_cell, default_cell = row.split("|")[2:4]
    assert "(×" not in seed_cell and "(×" in default_cell
    assert "## default vs seed" in report
    assert "| expressions exact-match, old reading path" in report
    for png in (
        "accuracy_vs_latency.png",
        "per_class_accuracy.png",
        "latency_by_batch.png",
        "rejection_curve.png",
    ):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert f"]({png})" in report
    assert json.loads((tmp_path / "run.json").read_text())["exit_status"] == 0

    # A full run into benchmarks/results refreshes the README's "Last results" block.
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{README_START}\nSTALE FIGURES\n{README_END}\n\nrest\n")
    assert update_readme(readme, tmp_path / "report.md")
    text = readme.read_text()
    assert "STALE FIGURES" not in text and text.endswith("rest\n")
    assert "| figure | seed | default | ratio |" in text

    # The report can be rebuilt from the saved JSON alone.
    (tmp_path / "report.md").unlink()
    assert main(["bench", "--from-json", str(tmp_path / "benchmark.json")]) == 0
    assert (tmp_path / "report.md").read_text().startswith("# mathocr benchmarks")
