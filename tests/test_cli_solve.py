"""`mathocr solve`: human output, the --json contract, exit status, stdin."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mathocr import cli
from mathocr.solver import Solver

from ._expr_drawing import ShapeClassifier, draw_page


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
    assert set(first) == {"file", "expression", "value", "decimal", "tokens", "warnings"}
    tok = first["tokens"][0]
    assert set(tok) == {"symbol", "confidence", "box"}
    assert tok["symbol"] == "1" and isinstance(tok["confidence"], float)
    assert len(tok["box"]) == 4 and all(isinstance(v, int) for v in tok["box"])
    assert second["expression"] == "1/10" and second["value"] == "1/10" and second["decimal"] == "0.1"
    assert clf.calls == [8]  # all crops of all images in one batch
    assert paths == [None]


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
    path = write_png(tmp_path / "eq.png", "1+1=10")
    assert cli.main(["solve", path, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["code"] == "invalid_expression" and "'='" in out["error"]
    assert out["tokens"] and out["expression"]


def test_human_readable_output(tmp_path, capsys, fake_model):
    a = write_png(tmp_path / "a.png", "1÷10")
    b = write_png(tmp_path / "b.png", "10+1=")
    blank = tmp_path / "blank.png"
    Image.new("L", (80, 40), 255).save(blank)
    assert cli.main(["solve", a, b, str(blank)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{a}: 1/10 = 1/10 (0.1)"
    assert out[1] == f"{b}: 10+1 = 11"
    assert out[2].startswith("  warning: a trailing '='")
    assert out[3] == f"{blank}: error: no symbols found in the image"


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
