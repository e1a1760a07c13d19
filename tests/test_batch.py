"""mathocr.batch: input discovery, ordered streaming, writers, resuming, processes and Dask.

Most tests solve small drawn pages with a rule-based fake classifier; the slow ones at the
end start real worker processes (a process pool, a Dask ``LocalCluster``, a killed
``mathocr solve``) with the bundled model.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from mathocr import batch
from mathocr.errors import MathOCRError
from mathocr.region import Region
from mathocr.solver import Solver

from ._expr_drawing import ShapeClassifier, draw_page

TEXTS = ("1+1", "10-1", "0-1-1", "11-0", "1/10", "110+1", "1-1")


def write_png(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw_page(text)[0]).save(path)
    return str(path)


class CountingSolver(Solver):
    """A solver over the fake classifier that records every source it reads."""

    def __init__(self) -> None:
        super().__init__(ShapeClassifier())
        self.read_sources: list = []

    def read_reduced(self, image, part=None):
        self.read_sources.append(image)
        if image == "boom":
            raise RuntimeError("a bug, hit by this image only")
        return super().read_reduced(image, part)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Drawings in a folder and a sub-folder, plus files that are not images."""
    root = tmp_path_factory.mktemp("pages")
    for i, text in enumerate(TEXTS):
        write_png(root / ("sub" if i % 3 == 0 else "") / f"{i:02d}.png", text)
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"skipped: hidden")
    (root / "junk.png").write_bytes(b"not an image at all")
    return root


def expected_names(folder: Path) -> list[str]:
    names = [f"{i:02d}.png" for i in range(len(TEXTS)) if i % 3] + ["junk.png"]
    return [str(folder / n) for n in sorted(names)] + [
        str(folder / "sub" / f"{i:02d}.png") for i in range(len(TEXTS)) if i % 3 == 0
    ]


# ---------------------------------------------------------------- inputs


def test_folders_are_searched_recursively_in_name_order(folder):
    names = [name for name, _ in batch.iter_inputs([str(folder)])]
    assert names == expected_names(folder)


def test_globs_paths_and_stdin(folder):
    stdin = io.BytesIO(b"png bytes")
    missing = str(folder / "missing-*.png")
    items = list(batch.iter_inputs([str(folder / "sub" / "*.png"), "-", "a.png", missing], stdin=stdin))
    assert [name for name, _ in items] == [
        str(folder / "sub" / "00.png"),
        str(folder / "sub" / "03.png"),
        str(folder / "sub" / "06.png"),
        "-",
        "a.png",
        missing,  # matches nothing: kept, so it becomes a result that says so
    ]
    assert items[3][1] == b"png bytes"


def test_csv_and_jsonl_manifests(tmp_path):
    (tmp_path / "m.csv").write_text("id,image\n1,a.png\n2,/abs/b.png\n3,\n")
    assert list(batch.iter_manifest(tmp_path / "m.csv", "image")) == [str(tmp_path / "a.png"), "/abs/b.png"]
    (tmp_path / "m.jsonl").write_text('{"path": "x/c.png"}\n\n{"path": "d.png", "label": 3}\n')
    items = list(batch.iter_inputs(["first.png"], manifest=tmp_path / "m.jsonl"))
    assert [n for n, _ in items] == ["first.png", str(tmp_path / "x" / "c.png"), str(tmp_path / "d.png")]
    with pytest.raises(MathOCRError, match="no 'path' column"):
        list(batch.iter_manifest(tmp_path / "m.csv"))
    (tmp_path / "bad.jsonl").write_text('{"path": "a.png"}\n[1, 2]\n')
    with pytest.raises(MathOCRError, match="line 2: not a JSON object"):
        list(batch.iter_manifest(tmp_path / "bad.jsonl"))
    with pytest.raises(MathOCRError, match="cannot read the manifest"):
        list(batch.iter_manifest(tmp_path / "missing.csv"))


# ---------------------------------------------------------------- solving


def test_records_in_input_order_and_failures_do_not_stop_the_run(folder):
    solver = CountingSolver()
    items = [*batch.iter_inputs([str(folder)]), ("boom", "boom"), ("gone.png", str(folder / "gone.png"))]
    records = list(batch.solve_records(items, solver=solver, batch_size=3))
    assert [r["file"] for r in records] == [name for name, _ in items]
    by_name = {r["file"]: r for r in records}
    assert by_name[str(folder / "01.png")]["expression"] == "10-1"
    assert by_name[str(folder / "01.png")]["value"] == "9"
    assert by_name[str(folder / "junk.png")]["code"] == "invalid_image"
    assert "no such file" in by_name["gone.png"]["error"]
    # An unexpected exception fails its image only; the chunk's other images are solved.
    assert by_name["boom"]["status"] == "error" and "RuntimeError" in by_name["boom"]["error"]
    assert by_name["gone.png"]["code"] == "invalid_image"
    assert sum(r["status"] != "error" for r in records) == len(TEXTS)


def test_records_match_the_json_contract(folder):
    solver = Solver(ShapeClassifier())
    path = str(folder / "01.png")
    (rec,) = batch.solve_records([(path, path)], solver=solver)
    assert rec == {"file": path, **solver.solve(path).to_dict()}


def test_inputs_are_consumed_a_chunk_at_a_time(tmp_path):
    """Bounded memory: a run pulls inputs only as far as the chunk it is solving."""
    page = write_png(tmp_path / "a.png", "1+1")
    pulled = []

    def endless():
        for i in range(10**9):
            pulled.append(i)
            yield f"p{i}", page

    seen = []

    def stop_after_three_chunks(rec):
        seen.append((rec["file"], len(pulled)))
        if len(seen) == 12:
            raise KeyboardInterrupt

    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        batch.run(
            endless(), out, solver=Solver(ShapeClassifier()), batch_size=4, on_record=stop_after_three_chunks
        )
    assert [pulled_then for _, pulled_then in seen[::4]] == [4, 8, 12]
    assert len(out.read_text().splitlines()) == 12  # written and flushed, chunk by chunk


# ---------------------------------------------------------------- writers and resuming


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_run_writes_every_image_once_in_order_with_a_summary(folder, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    summary = batch.run(batch.iter_inputs([str(folder)]), out, solver=Solver(ShapeClassifier()), batch_size=2)
    names = expected_names(folder)
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        rows = list(csv.DictReader(out.open(newline="")))
        assert tuple(rows[0]) == batch.CSV_COLUMNS
    assert [r["file"] for r in rows] == names
    assert {r["status"] for r in rows} <= {"ok", "unsure", "error"}
    assert summary.total == len(names) and summary.errors == {"invalid_image": 1}
    assert summary.ok + summary.unsure == len(TEXTS) and summary.skipped == 0
    assert str(summary).startswith(f"{len(names)} images in ")
    assert "1 error (invalid_image 1)" in str(summary)


def test_csv_rows_stay_on_one_line(tmp_path):
    rec = {"file": "a\nb.png", "status": "error", "error": "two\nlines", "code": "x", "confidence": 0.0}
    rec |= {"warnings": ["w1", "w\n2"], "alternatives": []}
    buf = io.StringIO()
    batch.CsvWriter(buf).write([rec])
    _header, row = buf.getvalue().splitlines()
    assert row.startswith("a b.png,error,") and "two lines" in row and "w1; w 2" in row


def half_written(reference: Path, out: Path, keep: int) -> None:
    """``out``: the first ``keep`` lines of ``reference`` and half of the next, as a killed run leaves."""
    lines = reference.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:keep]) + lines[keep][: len(lines[keep]) // 2])


@pytest.mark.parametrize(("fmt", "keep"), [("jsonl", 4), ("csv", 5), ("csv", 0)])
def test_resume_after_a_kill_redoes_and_loses_nothing(folder, tmp_path, fmt, keep):
    items = list(batch.iter_inputs([str(folder)]))
    reference = tmp_path / f"reference.{fmt}"
    batch.run(items, reference, solver=Solver(ShapeClassifier()), batch_size=3)
    out = tmp_path / f"out.{fmt}"
    half_written(reference, out, keep)  # for CSV line 1 is the header; keep=0 cuts the header itself
    done = keep - (fmt == "csv" and keep > 0)

    solver = CountingSolver()
    summary = batch.run(items, out, resume=True, solver=solver, batch_size=3)
    assert out.read_bytes() == reference.read_bytes()  # each image once, in order, the same results
    assert solver.read_sources == [source for _, source in items[done:]]  # nothing solved twice
    assert summary.skipped == done and summary.total == len(items) - done

    # Resuming a complete output solves nothing.
    solver = CountingSolver()
    summary = batch.run(items, out, resume=True, solver=solver)
    assert solver.read_sources == [] and summary.total == 0 and summary.skipped == len(items)
    assert out.read_bytes() == reference.read_bytes()


def test_resume_counts_repeated_names(tmp_path):
    page = write_png(tmp_path / "a.png", "1+1")
    other = write_png(tmp_path / "b.png", "10")
    items = [(page, page), (other, other), (page, page)]
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"file": page, "status": "ok"}) + "\n")
    solver = CountingSolver()
    summary = batch.run(items, out, resume=True, solver=solver)
    assert solver.read_sources == [other, page]
    assert [json.loads(line)["file"] for line in out.read_text().splitlines()] == [page, other, page]
    assert (summary.skipped, summary.unmatched) == (1, 0)


def test_resume_says_when_the_output_matches_no_input(tmp_path):
    page = write_png(tmp_path / "a.png", "1+1")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"file": "elsewhere/a.png", "status": "ok"}) + "\n")
    summary = batch.run([(page, page)], out, resume=True, solver=Solver(ShapeClassifier()))
    assert (summary.total, summary.skipped, summary.unmatched) == (1, 0, 1)
    assert str(summary).endswith("; 1 result in the output matches no input")


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"name": "not ours"}\n')
    with pytest.raises(MathOCRError, match="line 1: not a result"):
        batch.read_done(foreign, "jsonl")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MathOCRError, match="unexpected header"):
        batch.read_done(tmp_path / "other.csv", "csv")
    with pytest.raises(MathOCRError, match="Parquet"):
        batch.read_done(tmp_path / "x.parquet", "parquet")
    assert batch.read_done(tmp_path / "missing.jsonl", "jsonl") == collections.Counter()


def test_output_format_from_suffix_or_option():
    assert batch.output_format("a.JSONL") == "jsonl" and batch.output_format("a.ndjson") == "jsonl"
    assert batch.output_format("a.csv") == "csv" and batch.output_format("a.parquet") == "parquet"
    assert batch.output_format("a.txt", "csv") == "csv"
    with pytest.raises(MathOCRError, match="--format"):
        batch.output_format("results.txt")


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(MathOCRError, match=r"pip install .mathocr\[parquet\]."):
        batch.run([], tmp_path / "out.parquet", solver=Solver(ShapeClassifier()))


def test_parquet_output(folder, tmp_path):
    import pyarrow.parquet as pq  # in the dev extra: the test set always has it

    out = tmp_path / "out.parquet"
    batch.run(batch.iter_inputs([str(folder)]), out, solver=Solver(ShapeClassifier()), batch_size=2)
    table = pq.read_table(out)
    assert tuple(table.column_names) == batch.CSV_COLUMNS
    assert table.column("file").to_pylist() == expected_names(folder)


def test_dask_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(MathOCRError, match=r"need dask\.distributed"), batch.dask_client(workers=2):
        pass


def test_a_region_reaches_every_image(folder):
    solver = Solver(ShapeClassifier())
    items = list(batch.iter_inputs([str(folder)]))
    region = Region(0, 0, 70, 200)  # the left part of each drawing
    records = list(batch.solve_records(items, solver=solver, region=region, batch_size=2))
    assert records == [
        batch.record(name, next(solver.solve_many([src], on_error="return", region=region)))
        for name, src in items
    ]
    whole = list(batch.solve_records(items, solver=solver))
    assert [r.get("expression") for r in records] != [r.get("expression") for r in whole]


# ---------------------------------------------------------------- real processes (slow)


@pytest.fixture(scope="module")
def bundled_reference(folder) -> list[dict]:
    from mathocr.errors import ModelError

    try:
        solver = Solver.load()
    except (ModelError, ImportError, OSError) as exc:
        pytest.skip(f"no bundled model: {exc}")
    items = [*batch.iter_inputs([str(folder)]), ("missing.png", str(folder / "missing.png"))]
    return list(batch.solve_records(items, solver=solver))


@pytest.mark.slow
def test_local_processes_give_the_same_records_in_order(folder, bundled_reference):
    items = [*batch.iter_inputs([str(folder)]), ("missing.png", str(folder / "missing.png"))]
    records = list(batch.solve_records(items, jobs=2, batch_size=2))
    assert records == bundled_reference


@pytest.mark.slow
def test_a_region_reaches_the_local_processes(folder, bundled_reference):
    items = list(batch.iter_inputs([str(folder)]))
    region = Region(0, 0, 70, 200)
    here = list(batch.solve_records(items, solver=Solver.load(), region=region))
    assert list(batch.solve_records(items, jobs=2, batch_size=2, region=region)) == here
    assert here != bundled_reference[: len(here)]


@pytest.mark.slow
def test_dask_local_cluster_loads_the_model_once_per_worker(folder, bundled_reference, monkeypatch):
    # Relative paths, as users give them: the workers must get them made absolute.
    monkeypatch.chdir(folder)
    items = [*batch.iter_inputs(["."]), ("missing.png", "missing.png")]
    with batch.dask_client(workers=2) as client:
        records = list(batch.solve_records(items, client=client, batch_size=2))
        loads = client.run(batch.model_loads)
    assert [r["file"] for r in records] == [name for name, _ in items]
    assert [{k: v for k, v in r.items() if k != "file"} for r in records] == [
        {k: v for k, v in r.items() if k != "file"} for r in bundled_reference
    ]
    # 5 chunks on 2 workers: each worker that took any loaded the bundled model exactly once.
    assert loads and all(counts == {None: 1} for counts in loads.values() if counts), loads


@pytest.mark.slow
def test_killed_command_resumes_without_redoing_or_losing_an_image(tmp_path):
    """SIGKILL ``mathocr solve --output`` half-way, then ``--resume``: each image once, in order."""
    from mathocr.web.handwriting import render_png

    (tmp_path / "pages").mkdir()
    data = render_png("12+69")
    for i in range(400):
        (tmp_path / "pages" / f"{i:03d}.png").write_bytes(data)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "mathocr", "solve", "pages", "--output", str(out), "--batch-size", "4"]
    env = {k: v for k, v in os.environ.items() if k != "MATHOCR_MODEL"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while (not out.exists() or out.stat().st_size < 20_000) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stderr.close()
    done = batch.read_done(out, "jsonl").total()  # cuts a half-written last line, if any
    assert 0 < done < 400
    r = subprocess.run([*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr
    assert f"{400 - done} images in " in r.stderr and f"{done} skipped" in r.stderr
    names = [json.loads(line)["file"] for line in out.read_text().splitlines()]
    assert names == [os.path.join("pages", f"{i:03d}.png") for i in range(400)]
