"""`mathocr solve`: human output, the --json contract, exit status, stdin, --help.

Most tests call :func:`mathocr.cli.main` with a fake classifier; the ones at the end run
the installed command (``python -m mathocr``) with the bundled model, as scripts do, and
check what lands on stdout and stderr and the exit status.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mathocr import cli
from mathocr.solver import Solver
from mathocr.symbols import CLASSES

from ._expr_drawing import ScriptedClassifier, ShapeClassifier, draw_page, one_hot, page_with_a_table_edge


@pytest.fixture
def fake_model(monkeypatch):
    """Solver.load returns a solver over a rule-based fake classifier; records the path."""
    clf = ShapeClassifier()
    paths = []

    def load(cls, path=None, **kwargs):
        paths.append(path)
        return cls(clf, **kwargs)

    monkeypatch.setattr(Solver, "load", classmethod(load))
    return clf, paths


def write_png(path: Path, text: str) -> str:
    Image.fromarray(draw_page(text)[0]).save(path)
    return str(path)


def test_json_contract(tmp_path, capsys, fake_model):
    clf, paths = fake_model
    a = write_png(tmp_path / "a.png", "10+1")
    b = write_png(tmp_path / "b.png", "1÷10")
    assert cli.main(["solve", a, b, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["file"] == a and first["expression"] == "10+1" and first["value"] == "11"
    assert first["decimal"] == "11" and first["warnings"] == []
    assert set(first) == {
        "file",
        "status",
        "expression",
        "value",
        "decimal",
        "confidence",
        "tokens",
        "warnings",
        "alternatives",
    }
    assert first["status"] == "ok" and first["alternatives"] == [] and 0 < first["confidence"] <= 1
    tok = first["tokens"][0]
    assert set(tok) == {"symbol", "confidence", "box"}
    assert tok["symbol"] == "1" and isinstance(tok["confidence"], float)
    assert len(tok["box"]) == 4 and all(isinstance(v, int) for v in tok["box"])
    assert second["expression"] == "1/10" and second["value"] == "1/10" and second["decimal"] == "0.1"
    assert clf.calls == [8]  # all crops of all images in one batch
    assert paths == [None]


def test_close_readings_are_printed_as_alternatives(tmp_path, capsys, monkeypatch):
    slash = np.full(len(CLASSES), 0.004)
    slash[CLASSES.index("1")], slash[CLASSES.index("/")] = 0.52, 0.43
    scripted = ScriptedClassifier([one_hot("1"), slash, one_hot("2"), one_hot("+"), one_hot("3")])
    monkeypatch.setattr(Solver, "load", classmethod(lambda cls, path=None, **kw: cls(scripted, **kw)))
    a = write_png(tmp_path / "a.png", "11111")
    assert cli.main(["solve", a]) == 0
    assert capsys.readouterr().out == f"{a}: 112+3 = 115  [unsure, or: 1/2+3 = 7/2 (3.5)]\n"


def test_a_symbol_changed_to_make_an_expression_is_printed_as_unsure(tmp_path, capsys, monkeypatch):
    # "4+23/" as read, and "4+231" answered: which one the writer meant is not for us to say.
    slash = np.full(len(CLASSES), 0.004)
    slash[CLASSES.index("1")], slash[CLASSES.index("/")] = 0.2, 0.75
    scripted = ScriptedClassifier([one_hot("4"), one_hot("+"), one_hot("2"), one_hot("3"), slash])
    monkeypatch.setattr(Solver, "load", classmethod(lambda cls, path=None, **kw: cls(scripted, **kw)))
    a = write_png(tmp_path / "a.png", "11111")
    assert cli.main(["solve", a]) == 0
    out = capsys.readouterr()
    assert out.out == f"{a}: 4+231 = 235  [unsure, or: 4+23/ = no value (incomplete expression)]\n"
    assert "the 5th symbol could be 1 or ÷" in out.err


def test_incomplete_expression_is_an_error_that_says_what_was_read(tmp_path, capsys, monkeypatch):
    scripted = ScriptedClassifier([one_hot("2", 0.97), one_hot("3", 0.97), one_hot("+", 0.97)])
    monkeypatch.setattr(Solver, "load", classmethod(lambda cls, path=None, **kw: cls(scripted, **kw)))
    a = write_png(tmp_path / "a.png", "111")
    assert cli.main(["solve", a]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert "23 + …" in out.err and "(read: 23+)" in out.err


def test_failed_images_exit_1_and_report_errors(tmp_path, capsys, fake_model):
    good = write_png(tmp_path / "good.png", "1+1")
    blank = tmp_path / "blank.png"
    Image.new("L", (80, 40), 255).save(blank)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    missing = str(tmp_path / "missing.png")
    code = cli.main(["solve", good, str(blank), str(junk), missing, "--json"])
    assert code == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["value"] == "2"
    assert out[1]["code"] == "nothing_found" and out[1]["file"] == str(blank) and "value" not in out[1]
    assert out[2]["code"] == "invalid_image" and "not an image" in out[2]["error"]
    assert out[3]["code"] == "invalid_image" and "no such file" in out[3]["error"]


def test_error_with_recognised_tokens(tmp_path, capsys, fake_model):
    path = write_png(tmp_path / "eq.png", "1=1=1")  # two "=": no statement
    assert cli.main(["solve", path, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["code"] == "malformed_expression" and "'='" in out["error"]
    assert out["tokens"] and out["expression"] == "1=1=1"


def test_equations_are_marked(tmp_path, capsys, fake_model):
    right, wrong = write_png(tmp_path / "r.png", "1-1=0"), write_png(tmp_path / "w.png", "10-1=1")
    assert cli.main(["solve", right, wrong]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{right}: 1-1=0: right",
        f"{wrong}: 10-1=1: wrong, 10-1 is 9",
    ]


def test_human_readable_output(tmp_path, capsys, fake_model):
    a = write_png(tmp_path / "a.png", "1÷10")
    b = write_png(tmp_path / "b.png", "10+1=")
    blank = tmp_path / "blank.png"
    Image.new("L", (80, 40), 255).save(blank)
    assert cli.main(["solve", a, b, str(blank)]) == 1
    captured = capsys.readouterr()
    # stdout: results only, one line per solved image; warnings and errors: stderr.
    assert captured.out.splitlines() == [f"{a}: 1/10 = 1/10 (0.1)", f"{b}: 10+1 = 11"]
    assert captured.err.splitlines() == [f"{blank}: error: no symbols found in the image"]


def test_json_mode_writes_nothing_on_stderr(tmp_path, capsys, fake_model):
    a = write_png(tmp_path / "a.png", "10+1=")
    blank = tmp_path / "blank.png"
    Image.new("L", (80, 40), 255).save(blank)
    assert cli.main(["solve", a, str(blank), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    first, second = (json.loads(line) for line in captured.out.splitlines())
    assert (first["expression"], first["value"]) == ("10+1=", "11") and second["code"] == "nothing_found"


def test_stdin_and_model_option(tmp_path, capsys, fake_model, monkeypatch):
    _, paths = fake_model
    buf = io.BytesIO()
    Image.fromarray(draw_page("10-1")[0]).save(buf, "PNG")

    class Stdin:
        buffer = io.BytesIO(buf.getvalue())

    monkeypatch.setattr(sys, "stdin", Stdin())
    assert cli.main(["solve", "-", "--json", "--model", "m.joblib"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file"] == "-" and out["value"] == "9"
    assert paths == ["m.joblib"]


def test_model_errors_are_one_line(monkeypatch, capsys, tmp_path):
    from mathocr.errors import ModelError

    def load(cls, path=None, **kwargs):
        raise ModelError("model file x is corrupt")

    monkeypatch.setattr(Solver, "load", classmethod(load))
    assert cli.main(["solve", "whatever.png"]) == 2
    assert "model file x is corrupt" in capsys.readouterr().err


def test_solve_needs_an_image(capsys):
    with pytest.raises(SystemExit):
        cli.main(["solve"])


def test_array_round_trip_is_deterministic(tmp_path, capsys, fake_model):
    path = write_png(tmp_path / "a.png", "10*1".replace("*", "x"))
    cli.main(["solve", path, "--json"])
    first = capsys.readouterr().out
    cli.main(["solve", path, "--json"])
    assert capsys.readouterr().out == first
    assert np.isfinite(json.loads(first)["tokens"][0]["confidence"])


# ---------------------------------------------------------------- many images


@pytest.fixture
def pages(tmp_path) -> Path:
    folder = tmp_path / "pages"
    (folder / "b").mkdir(parents=True)
    write_png(folder / "1.png", "10+1")
    write_png(folder / "b" / "2.png", "1÷10")
    (folder / "3.png").write_bytes(b"not an image at all")
    return folder


def test_folder_to_csv_file_with_a_summary(pages, tmp_path, capsys, fake_model):
    out = tmp_path / "results.csv"
    assert cli.main(["solve", str(pages), "--output", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    # stderr is no terminal here: no progress bar, only the summary line.
    summary = rf"{re.escape(str(out))}: 3 images in [\d.]+ s \([\d.,]+ images/s\): "
    summary += r"2 ok, 0 unsure, 1 error \(invalid_image 1\)\n"
    assert re.fullmatch(summary, captured.err), captured.err
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["file"] for r in rows] == [str(pages / n) for n in ("1.png", "3.png", "b/2.png")]
    assert [r["value"] for r in rows] == ["11", "", "1/10"]
    assert rows[1]["code"] == "invalid_image" and rows[2]["decimal"] == "0.1"


def test_manifest_glob_and_csv_on_stdout(pages, tmp_path, capsys, fake_model):
    manifest = tmp_path / "list.csv"
    manifest.write_text("image,mark\npages/b/2.png,3\n")
    code = cli.main(["solve", str(pages / "*.png"), "--manifest", str(manifest), "--column", "image"])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{pages / '1.png'}: 10+1 = 11", f"{tmp_path / 'pages/b/2.png'}: 1/10 = 1/10 (0.1)"]
    assert cli.main(["solve", "--manifest", str(manifest), "--column", "image", "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0].startswith("file,status,expression,value")
    assert out.out.splitlines()[1].startswith(f"{tmp_path / 'pages/b/2.png'},ok,1/10,1/10,0.1,")
    assert out.err == ""


def test_resume_continues_a_killed_jsonl_output(pages, tmp_path, capsys, fake_model):
    clf, _ = fake_model
    out = tmp_path / "out.jsonl"
    assert cli.main(["solve", str(pages), "-o", str(out), "--batch-size", "1"]) == 1
    full = out.read_text()
    first, second, _ = full.splitlines(keepends=True)
    out.write_text(first + second[:40])  # killed while writing the second line
    clf.calls.clear()
    capsys.readouterr()
    assert cli.main(["solve", str(pages), "-o", str(out), "--resume", "--batch-size", "1"]) == 1
    assert out.read_text() == full
    assert clf.calls == [4]  # only b/2.png was classified again (3.png is no image: no call)
    err = capsys.readouterr().err
    assert "2 images in " in err and "1 skipped, already in the output" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume"], "--resume needs --output FILE"),
        (["--workers", "2", "--scheduler", "tcp://x:1"], "not both"),
        (["--output", "results.txt"], "use .jsonl, .csv or .parquet, or --format"),
        (["--jobs", "0"], "expected a positive integer"),
        (["--region", "1,2,3"], "--region: the region must be four whole numbers"),
        (["--region", "1,2,0,4"], "width and height must be at least 1 pixel"),
    ],
)
def test_batch_usage_errors_exit_2(args, message, capsys, fake_model):
    _, paths = fake_model
    code = None
    try:
        code = cli.main(["solve", "a.png", *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert paths == []  # refused before the model was loaded


def test_region_reads_one_box_of_every_image(tmp_path, capsys, fake_model):
    page, _, (x, y, w, h) = page_with_a_table_edge("10+1")
    a = tmp_path / "a.png"
    Image.fromarray(page).save(a)
    b = write_png(tmp_path / "b.png", "1+1")  # too small for the region: fails alone
    assert cli.main(["solve", str(a), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["expression"] == "010+1"  # the block read as a 0
    region = f"{x},{y},{w},{h}"
    assert cli.main(["solve", str(a), b, "--json", "--region", region]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["expression"] == "10+1" and first["value"] == "11"
    assert all(t["box"][0] >= x and t["box"][1] >= y for t in first["tokens"])  # whole-image pixels
    assert second["code"] == "invalid_region" and "outside" in second["error"]
    out = tmp_path / "out.csv"
    assert cli.main(["solve", str(a), "--region", region, "--output", str(out)]) == 0
    assert next(csv.DictReader(out.open()))["expression"] == "10+1"


def test_unwritable_output_is_one_line(pages, tmp_path, capsys, fake_model):
    out = tmp_path / "no-such-folder" / "out.jsonl"
    assert cli.main(["solve", str(pages), "--output", str(out)]) == 2
    assert (
        capsys.readouterr().err
        == f"mathocr solve: error: cannot write {str(out)!r}: No such file or directory\n"
    )


def test_workers_without_dask_is_one_line(capsys, fake_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    assert cli.main(["solve", "a.png", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mathocr solve: error: --workers and --scheduler need dask.distributed")
    assert "pip install" in err and len(err.splitlines()) == 1


# ---------------------------------------------------------------- --help


@pytest.mark.parametrize("command", [None, *(c[0] for c in cli.COMMANDS)])
def test_help_is_plain_text(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"] if command else ["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: mathocr")
    for markup in ("``", ":mod:", ":func:", ":class:", ":data:", ".. "):
        assert markup not in text, f"reStructuredText {markup!r} in --help"
    if command in (None, "solve"):
        assert "exit status:" in text
        assert "  0 " in text and "  1 " in text and "  2 " in text


def test_solve_help_documents_the_exit_statuses_main_returns(capsys):
    with pytest.raises(SystemExit):
        cli.main(["solve", "--help"])
    text = capsys.readouterr().out
    statuses = text.split("exit status:")[1].split("\n\n")[0]
    codes = [line.split()[0] for line in statuses.splitlines() if line[:5].strip().isdigit()]
    assert codes == ["0", "1", "2", "130", "141"]


# ---------------------------------------------------------------- the real command
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "mathocr" / "samples" / "12+69.png"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m mathocr ARGS`` with the bundled model, as a script runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("MATHOCR_MODEL", "PYTHONWARNINGS")}
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "mathocr", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    """The bundled sample, a blank page, a page of a few specks and a 12000x12000 page."""
    folder = tmp_path_factory.mktemp("cli-images")
    blank = folder / "blank.png"
    Image.new("L", (300, 120), 255).save(blank)
    specks = np.full((120, 300), 255, np.uint8)
    for y, x in ((40, 30), (80, 200), (20, 150)):
        specks[y, x : x + 2] = 0  # 2x1-pixel dots: dust, not handwriting
    Image.fromarray(specks).save(folder / "specks.png")
    Image.new("L", (12000, 12000), 255).save(folder / "huge.png")  # 144 megapixels, ~170 kB
    return {
        "sample": SAMPLE,
        "blank": blank,
        "specks": folder / "specks.png",
        "huge": folder / "huge.png",
    }


def assert_no_python_noise(stderr: str) -> None:
    """Nothing from Python's warnings machinery or a traceback: only mathocr's own lines."""
    assert "Warning" not in stderr, stderr
    assert "site-packages" not in stderr, stderr
    assert "Traceback" not in stderr, stderr


def test_text_mode_results_on_stdout_errors_on_stderr(images, tmp_path):
    missing = tmp_path / "missing.png"
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    names = [str(images["sample"]), str(images["blank"]), str(junk), str(missing)]
    r = run_cli("solve", *names, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [f"{images['sample']}: 12+69 = 81"]
    err = [line for line in r.stderr.splitlines() if ": error: " in line]
    assert err == [
        f"{images['blank']}: error: no symbols found in the image",
        f"{junk}: error: " + err[1].split(": error: ", 1)[1],
        f"{missing}: error: no such file: {str(missing)!r}",
    ]
    assert "not an image" in err[1] or "cannot" in err[1]
    assert "12+69" not in r.stderr


def test_all_solved_exits_0_with_nothing_on_stderr(tmp_path):
    r = run_cli("solve", str(SAMPLE), str(SAMPLE), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{SAMPLE}: 12+69 = 81\n" * 2
    assert r.stderr == ""


def test_json_mode_one_object_per_image_and_line(images, tmp_path):
    missing = str(tmp_path / "missing.png")
    names = [str(images["sample"]), str(images["blank"]), missing, str(images["sample"])]
    r = run_cli("solve", "--json", *names, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(names)
    objects = [json.loads(line) for line in lines]
    assert all(isinstance(o, dict) for o in objects)
    assert [o["file"] for o in objects] == names
    assert objects[0]["expression"] == "12+69" and objects[0]["value"] == "81"
    assert objects[1]["code"] == "nothing_found" and "value" not in objects[1]
    assert objects[2]["code"] == "invalid_image" and "no such file" in objects[2]["error"]
    assert objects[3] == objects[0]
    assert ": error: " not in r.stderr  # errors are in the JSON, not repeated on stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("solve",), "the following arguments are required: IMAGE"),
        (("solve", "--no-such-option", str(SAMPLE)), "unrecognized arguments"),
        (("solve", "--model", "no-such-model.joblib", str(SAMPLE)), "no-such-model.joblib"),
    ],
    ids=["no-image", "bad-option", "missing-model"],
)
def test_usage_and_fatal_errors_exit_2(args, message, tmp_path):
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_closed_stdout_exits_141_quietly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MATHOCR_MODEL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mathocr", "solve", str(SAMPLE), str(SAMPLE)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head -0`: the reader is gone before the first result
    try:
        err = proc.stderr.read().decode("utf-8", "replace")
        assert proc.wait(timeout=300) == 141, err
    finally:
        proc.kill()
        proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.parametrize("which", ["sample", "blank", "specks", "huge"])
def test_no_warning_text_on_stderr(which, images, tmp_path):
    """Only mathocr's own messages reach the terminal: no Python warnings, no library paths."""
    path = images[which]
    r = run_cli("solve", str(path), cwd=tmp_path)
    assert_no_python_noise(r.stderr)
    if which == "sample":
        assert (r.returncode, r.stdout, r.stderr) == (0, f"{path}: 12+69 = 81\n", "")
        return
    # Every line on stderr is mathocr's own, about this image.
    assert all(line.startswith(f"{path}: ") for line in r.stderr.splitlines()), r.stderr
    if which == "specks":
        # Whether a few specks are noise or symbols is the segmenter's call; either way the
        # answer is one line on the right stream and the exit status says which.
        assert (r.returncode, len(r.stdout.splitlines())) in ((0, 1), (1, 0)), r
    else:
        assert (r.returncode, r.stdout) == (1, "")
        assert len(r.stderr.splitlines()) == 1, r.stderr
        assert r.stderr.startswith(f"{path}: error: ")
        assert ("too large" if which == "huge" else "no symbols found") in r.stderr
    # The same, as JSON: one object on stdout, nothing on stderr.
    r = run_cli("solve", "--json", str(path), cwd=tmp_path)
    assert_no_python_noise(r.stderr)
    assert r.stderr == ""
    (obj,) = (json.loads(line) for line in r.stdout.splitlines())
    assert obj["file"] == str(path)
    if which != "specks":
        assert obj["code"] == ("too_large" if which == "huge" else "nothing_found")
