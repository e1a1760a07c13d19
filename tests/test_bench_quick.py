"""``mathocr bench --quick`` end to end: the suites run, the report and plots come out.

This keeps the benchmark suite from rotting; it measures nothing (tiny data, 1 epoch).
The data directory is ``$MATHOCR_DATA`` (a few images per class of it) when set, else a
generated miniature.
"""

from __future__ import annotations

import json

import pytest

from mathocr.bench import BENCH_CONFIGS, README_END, README_START, parse_configs, update_readme
from mathocr.cli import main


def test_parse_configs():
    assert parse_configs(None, quick=True) == ["seed", "default"]
    assert parse_configs(None) == list(BENCH_CONFIGS)
    assert parse_configs(["default,narrow", "squash"]) == ["seed", "default", "narrow", "squash"]
    with pytest.raises(ValueError, match="unknown benchmark config"):
        parse_configs("default,best")


def test_unknown_config_is_a_usage_error(capsys, tmp_path):
    assert main(["bench", "--quick", "--configs", "nope", "--output", str(tmp_path)]) == 2
    assert "unknown benchmark config" in capsys.readouterr().err


def test_missing_data_is_a_clear_error_and_no_stale_report(capfd, tmp_path):
    (tmp_path / "benchmark.json").write_text('{"benchmarks": []}')  # a previous run's figures
    missing = str(tmp_path / "nope")
    rc = main(["bench", "--data-dir", missing, "--configs", "default", "--output", str(tmp_path)])
    captured = capfd.readouterr()
    said = captured.out + captured.err
    assert rc != 0 and "Traceback" not in said
    assert "no data directory" in said and "no report written" in captured.err
    assert not (tmp_path / "benchmark.json").exists() and not (tmp_path / "report.md").exists()


@pytest.mark.slow
def test_bench_quick_writes_report_and_plots(tmp_path):
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
    )
    assert {(k, c) for k in kinds for c in ("seed", "default")} <= seen
    assert ("expressions_old_path", "seed") in seen
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
    ):
        assert any(line.startswith(row) for line in report.splitlines()), row
    # Every figure of "default" carries its ratio to "seed".
    row = next(line for line in report.splitlines() if line.startswith("| predict_proba, 8 crops, onnx"))
    seed_cell, default_cell = row.split("|")[2:4]
    assert "(×" not in seed_cell and "(×" in default_cell
    assert "## default vs seed" in report
    assert "| expressions exact-match, old reading path" in report
    for png in ("accuracy_vs_latency.png", "per_class_accuracy.png", "latency_by_batch.png"):
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
