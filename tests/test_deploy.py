"""The Flask app of ``mathocr.web``: every route and every error, through Flask's test client.

Most tests serve the real bundled model with real PNG/JPEG bytes drawn by
:mod:`mathocr.web.handwriting`; a few inject a fake solver to reach failures that the real
one cannot be made to produce (an internal fault).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from PIL import Image, ImageDraw, PngImagePlugin
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from mathocr import errors
from mathocr.io import Reduced
from mathocr.region import Region
from mathocr.solver import Alternative, Solution, Solver, Token
from mathocr.symbols import TOKENS
from mathocr.web import create_app
from mathocr.web.app import DEFAULT_MAX_UPLOAD_BYTES, openapi_spec
from mathocr.web.handwriting import render, render_png

from ._expr_drawing import DESK_SUM_BOX, desk_photo, sideways_jpeg

ROOT = Path(__file__).resolve().parents[1]
SOLVE = "/api/v1/solve"
# What create_app() serves here: $MATHOCR_MODEL when set, else the bundled model.
ENV_MODEL = os.environ.get("MATHOCR_MODEL") or None
ERROR_KEYS = {"code", "message"}


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def app():
    """The app with the bundled model, as ``mathocr serve`` builds it."""
    return create_app()


@pytest.fixture()
def client(app):
    return app.test_client()


def png(text: str, size: tuple[int, int] = (600, 200)) -> bytes:
    return render_png(text, size=size)


def jpeg(text: str, size: tuple[int, int] = (600, 200)) -> bytes:
    buf = io.BytesIO()
    render(text, size).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def multipart(client, data: bytes, filename: str = "drawing.png", field: str = "image"):
    return client.post(SOLVE, data={field: (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is JSON of the one error shape, with a message in plain words."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body["error"]) == ERROR_KEYS
    if code is not None:
        assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert message and message[0].isupper()
    assert "Traceback" not in message and "File " not in message
    return body


SOLUTION_KEYS = {
    "status",
    "expression",
    "value",
    "decimal",
    "tokens",
    "confidence",
    "warnings",
    "alternatives",
}
ALTERNATIVE_KEYS = {"expression", "value", "decimal", "confidence", "code"}


def assert_solution(body: dict) -> None:
    assert set(body) >= SOLUTION_KEYS
    assert body["status"] in {"ok", "unsure"}
    assert isinstance(body["expression"], str)
    assert 0.0 <= body["confidence"] <= 1.0
    assert all(isinstance(w, str) for w in body["warnings"])
    # Other readings come only with "unsure", and never repeat the best one.
    assert bool(body["alternatives"]) == (body["status"] == "unsure")
    for alt in body["alternatives"]:
        assert set(alt) == ALTERNATIVE_KEYS and alt["expression"] != body["expression"]
        assert 0.0 <= alt["confidence"] <= 1.0
    for token in body["tokens"]:
        assert set(token) >= {"symbol", "confidence", "box"}
        assert 0.0 <= token["confidence"] <= 1.0
        assert len(token["box"]) == 4 and all(isinstance(v, int) for v in token["box"])
    assert body["expression"] == "".join(t["symbol"] for t in body["tokens"])


def assert_unsolved(response, code: str) -> dict:
    """A 422 in the one error shape that also carries the solver's reading as read."""
    body = assert_error(response, 422, code)
    assert body["status"] == "error"
    assert "code" not in body and "value" not in body  # the code lives in body["error"]
    assert 0.0 <= body["confidence"] <= 1.0
    assert body["alternatives"] == [] and isinstance(body["warnings"], list)
    if "tokens" in body:  # several lines are joined with a newline
        assert body["expression"].replace("\n", "") == "".join(t["symbol"] for t in body["tokens"])
    return body


def scribble_png(size: tuple[int, int] = (600, 200)) -> bytes:
    """A wavy line across the page: ink, but no symbol."""
    im = Image.new("L", size, 255)
    ImageDraw.Draw(im).line(
        [(50 + 5 * i, 100 + 60 * math.sin(0.9 * i)) for i in range(100)], fill=0, width=10
    )
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# Expressions whose drawings the bundled model reads right (checked by test_reads_drawings):
# the app tests assert exact answers on them.
READABLE = {"12+3": "15", "7-4": "3", "25+17": "42", "8*3": "24"}


# ---------------------------------------------------------------- pages and probes
def test_page_is_served_with_local_assets_only(client):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<canvas id="pad"' in html and 'id="file"' in html and 'id="solve"' in html
    assert 'id="undo"' in html and 'id="clear"' in html and 'id="pen"' in html
    # Offline: nothing is fetched from another origin.
    assert 'src="http' not in html and 'href="http' not in html and "//cdn" not in html
    assert "'self'" in r.headers["Content-Security-Policy"]
    for asset, mimetype in (("/static/app.js", "text/javascript"), ("/static/app.css", "text/css")):
        a = client.get(asset)
        assert a.status_code == 200 and a.mimetype == mimetype
        text = a.get_data(as_text=True).replace("http://www.w3.org/2000/svg", "")
        assert "http://" not in text and "https://" not in text
        a.close()


def test_healthz_and_readyz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ready" and body["model"] == (
        os.path.basename(ENV_MODEL) if ENV_MODEL else "bundled default"
    )
    assert body["warmup_seconds"] is not None


def test_readyz_is_503_without_a_model(app):
    state = app.extensions.pop("mathocr")
    try:
        assert_error(app.test_client().get("/readyz"), 503, "not_ready")
    finally:
        app.extensions["mathocr"] = state


def test_openapi_description_is_served_and_kept_in_the_package(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    assert spec == openapi_spec()
    on_disk = json.loads((ROOT / "mathocr" / "web" / "openapi.json").read_text("utf-8"))
    assert spec["paths"] == on_disk["paths"]
    assert set(spec["paths"]) == {"/api/v1/solve", "/healthz", "/readyz", "/api/v1/openapi.json"}
    statuses = set(spec["paths"]["/api/v1/solve"]["post"]["responses"])
    assert statuses == {"200", "400", "413", "415", "422", "500"}


def _conforms(spec: dict, schema: dict, value: Any, where: str = "$") -> list[str]:
    """Where ``value`` breaks the OpenAPI 3.0 ``schema``, for the keywords this API's
    description uses (a full validator would be one more dependency for a few rules)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _conforms(spec, spec["components"]["schemas"][name], value, where)
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null"]
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    kind = schema.get("type")
    if kind and not isinstance(value, kinds[kind]):
        return [f"{where}: not {kind}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    if kind in ("number", "integer") and not low <= value <= high:
        problems.append(f"{where}: {value} out of range")
    if kind == "object":
        problems += [f"{where}: {key} missing" for key in schema.get("required", []) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems += _conforms(spec, sub, value[key], f"{where}.{key}")
    if kind == "array":
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            problems.append(f"{where}: {len(value)} items")
        for i, item in enumerate(value):
            problems += _conforms(spec, schema.get("items", {}), item, f"{where}[{i}]")
    return problems


def test_openapi_documents_statuses_and_error_codes():
    spec = openapi_spec()
    schemas = spec["components"]["schemas"]
    assert schemas["Solution"]["properties"]["status"]["enum"] == ["ok", "unsure", "error"]
    # The tokens are the vocabulary's, in its order: the file follows mathocr.symbols.
    assert schemas["Token"]["properties"]["symbol"]["enum"] == list(TOKENS)
    assert {"status", "confidence", "alternatives"} <= set(schemas["Solution"]["required"])
    assert schemas["UnsolvedError"]["properties"]["status"]["enum"] == ["error"]
    codes = schemas["UnsolvedError"]["properties"]["error"]["properties"]["code"]["enum"]
    assert set(codes) == {
        "nothing_found",
        "no_expression",
        "incomplete_expression",
        "malformed_expression",
        "invalid_expression",
        "division_by_zero",
    }
    responses = spec["paths"]["/api/v1/solve"]["post"]["responses"]
    for status, schema, names in (
        ("200", schemas["Solution"], {"ok", "unsure"}),
        ("422", schemas["UnsolvedError"], {"incomplete_expression", "malformed_expression", "no_expression"}),
    ):
        examples = responses[status]["content"]["application/json"]["examples"]
        assert names <= set(examples)
        for name, example in examples.items():
            assert _conforms(spec, schema, example["value"]) == [], name
    incomplete = responses["422"]["content"]["application/json"]["examples"]["incomplete_expression"]["value"]
    assert incomplete["expression"] == "23+" and incomplete["error"]["code"] == "incomplete_expression"


@pytest.mark.parametrize(
    "text",
    [
        "1,2,3,4",
        " 1 , 2 ,3, 4 ",
        "0,0,1,1",
        "1,2,3",
        "1,2,3,4,5",
        "-1,2,3,4",
        "1.0,2,3,4",
        "1,2,3,4\n",
        "1\t,2,3,4",
        "\u0661,2,3,4",
        "1234567890,1,1,1",
        "",
    ],
)
def test_openapi_region_pattern_is_what_the_server_parses(text):
    """The form field's pattern accepts exactly the text the server reads as four numbers
    (sizes of 0 match it and are refused for what they are: empty boxes)."""
    spec = openapi_spec()
    form = spec["paths"]["/api/v1/solve"]["post"]["requestBody"]["content"]["multipart/form-data"]
    pattern = form["schema"]["properties"]["region"]["pattern"]
    # ECMA-262's "$" (JSON Schema's regexes) never matches before a final newline; Python's does.
    matches = re.fullmatch(pattern.removeprefix("^").removesuffix("$"), text) is not None
    try:
        Region.parse(text)
        parsed = True
    except errors.RegionError as exc:
        parsed = "at least 1 pixel" in str(exc)
    assert matches == parsed


def test_openapi_documents_the_region():
    spec = openapi_spec()
    post = spec["paths"]["/api/v1/solve"]["post"]
    content = post["requestBody"]["content"]
    assert "region" in content["multipart/form-data"]["schema"]["properties"]
    assert content["application/json"]["schema"]["properties"]["region"] == {
        "$ref": "#/components/schemas/Region"
    }
    region = spec["components"]["schemas"]["Region"]
    assert region["required"] == ["x", "y", "w", "h"] and region["additionalProperties"] is False
    assert region["nullable"] is True
    assert _conforms(spec, region, region["example"]) == []
    assert _conforms(spec, region, {"x": 0, "y": 0, "w": 0, "h": 1}) != []
    assert "invalid_region" in spec["components"]["responses"]["BadRequest"]["description"]
    for text in (
        post["description"],
        region["description"],
        spec["components"]["schemas"]["Token"]["properties"]["box"]["description"],
    ):
        assert "EXIF" in text


def test_answers_match_the_openapi_description(client):
    spec = openapi_spec()
    schemas = spec["components"]["schemas"]
    blank = io.BytesIO()
    Image.new("L", (600, 200), 255).save(blank, format="PNG")
    for data, status, schema in (
        (png("12+3"), 200, schemas["Solution"]),
        (png("23+"), 422, schemas["UnsolvedError"]),
        (png("1++2"), 422, schemas["UnsolvedError"]),
        (scribble_png(), 422, schemas["UnsolvedError"]),
        (blank.getvalue(), 422, schemas["UnsolvedError"]),
    ):
        r = multipart(client, data)
        assert r.status_code == status
        assert _conforms(spec, schema, r.get_json()) == []


# ---------------------------------------------------------------- solving real drawings
def test_reads_drawings(app):
    """The bundled model reads the stroke drawings the other tests rely on."""
    solver = app.extensions["mathocr"].solver
    from mathocr.io import read_image

    for text, value in READABLE.items():
        solution = solver.solve(read_image(png(text)))
        assert (solution.expression, str(solution.value)) == (text, value)


@pytest.mark.parametrize("text", sorted(READABLE))
def test_solve_multipart_png(client, text):
    r = multipart(client, png(text))
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert_solution(body)
    assert (body["expression"], body["value"]) == (text, READABLE[text])
    assert body["status"] == "ok" and body["alternatives"] == []
    assert r.headers["Cache-Control"] == "no-store"


def test_solve_json_data_url_matches_multipart(client):
    data = png("25+17")
    a = multipart(client, data).get_json()
    b = client.post(SOLVE, json={"image": data_url(data)})
    assert b.status_code == 200
    assert b.get_json() == a
    # Bare base64, and base64 wrapped over lines as some tools write it, are accepted too.
    wrapped = "\n".join(base64.encodebytes(data).decode().split("\n"))
    assert client.post(SOLVE, json={"image": wrapped}).get_json() == a


def test_solve_raw_body_and_jpeg(client):
    r = client.post(SOLVE, data=png("7-4"), content_type="image/png")
    assert r.status_code == 200 and r.get_json()["value"] == "3"
    r = multipart(client, jpeg("7-4"), "photo.jpg")
    assert r.status_code == 200 and r.get_json()["value"] == "3"


def test_transparent_canvas_export_is_composited(client):
    """A canvas exported without a background: black ink on alpha 0."""
    grey = np.asarray(render("8*3"))
    rgba = np.zeros((*grey.shape, 4), np.uint8)
    rgba[..., 3] = 255 - grey
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    r = multipart(client, buf.getvalue())
    assert r.status_code == 200 and r.get_json()["value"] == "24"


def test_boxes_are_in_image_pixels(client):
    r = multipart(client, png("12+3", size=(600, 200)))
    for token in r.get_json()["tokens"]:
        x, y, w, h = token["box"]
        assert 0 <= x and 0 <= y and x + w <= 600 and y + h <= 200 and w > 0 and h > 0


# ---------------------------------------------------------------- a region of the image
SUM_REGION = dict(zip("xywh", DESK_SUM_BOX, strict=True))


def encoded(im: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def solve_region(client, data: bytes, region: str | None, filename: str = "photo.png"):
    fields: dict[str, Any] = {"image": (io.BytesIO(data), filename)}
    if region is not None:
        fields["region"] = region
    return client.post(SOLVE, data=fields, content_type="multipart/form-data")


def inside(box: list[int], region: dict[str, int]) -> bool:
    x, y, w, h = box
    return (
        region["x"] <= x
        and region["y"] <= y
        and x + w <= region["x"] + region["w"]
        and y + h <= region["y"] + region["h"]
    )


def test_region_reads_only_the_box_and_answers_in_image_pixels(client):
    data = encoded(desk_photo())
    whole = solve_region(client, data, None).get_json()
    assert any(t["box"][0] < 400 for t in whole["tokens"])  # the dark block became a symbol
    r = solve_region(client, data, "430,400,740,260")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert_solution(body)
    assert (body["expression"], body["value"]) == ("25+17", "42")
    assert all(inside(t["box"], SUM_REGION) for t in body["tokens"])
    # Exactly the boxes of the cut-out picture, moved by the region's corner: whole-image pixels.
    cut = encoded(desk_photo().crop((430, 400, 1170, 660)))
    alone = multipart(client, cut).get_json()
    assert [t["box"] for t in body["tokens"]] == [
        [x + 430, y + 400, w, h] for x, y, w, h in (t["box"] for t in alone["tokens"])
    ]
    # The same region as JSON gives the same answer; null is no region at all.
    assert client.post(SOLVE, json={"image": data_url(data), "region": SUM_REGION}).get_json() == body
    assert client.post(SOLVE, json={"image": data_url(data), "region": None}).get_json() == whole


def test_region_past_the_edges_is_clipped(client):
    data = encoded(desk_photo())
    exact = solve_region(client, data, "430,400,770,300").get_json()
    clipped = solve_region(client, data, "430,400,99999,99999")
    assert clipped.status_code == 200 and clipped.get_json() == exact
    assert exact["expression"] == "25+17"


def test_region_is_in_the_pixels_of_the_photo_shown_upright(client):
    """A phone JPEG stored sideways with EXIF orientation 6: the region and the boxes are in
    the upright picture's pixels, as a browser shows it, not in the stored ones."""
    upright = desk_photo()
    sideways = sideways_jpeg(upright)
    assert Image.open(io.BytesIO(sideways)).size == (700, 1200)
    r = solve_region(client, sideways, "430,400,740,260", "phone.jpg")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["expression"] == "25+17"
    assert all(inside(t["box"], SUM_REGION) for t in body["tokens"])
    reference = solve_region(client, encoded(upright), "430,400,740,260").get_json()
    for a, b in zip(body["tokens"], reference["tokens"], strict=True):
        assert max(abs(u - v) for u, v in zip(a["box"], b["box"], strict=True)) <= 3
    # x 800 is inside the upright picture (1200 wide) but not the stored one (700 wide).
    assert solve_region(client, sideways, "800,400,300,260").status_code in (200, 422)


def test_a_large_photo_is_decoded_reduced_and_answered_in_its_own_pixels(client):
    """A 3600x2100 phone JPEG reaches the solver decoded at half its size (Pillow's draft
    decode), yet the boxes are in the photo's pixels, with and without a region."""
    big = sideways_jpeg(desk_photo(scale=3))
    app, fake = fake_app(Solution("1", Fraction(1), [Token("1", 0.9, (5, 6, 7, 8))]))
    assert multipart(app.test_client(), big, filename="phone.jpg").status_code == 200
    seen = fake.seen[0]
    assert seen.scale == 2.0 and seen.size == (3600, 2100) and seen.pixels.shape[:2] == (1050, 1800)
    for region, small in ((None, None), ("1290,1200,2220,780", "430,400,740,260")):
        body = solve_region(client, big, region, "phone.jpg").get_json()
        reference = solve_region(client, encoded(desk_photo()), small).get_json()
        assert body["expression"] == reference["expression"]
        assert region is None or body["expression"] == "25+17"
        for a, b in zip(body["tokens"], reference["tokens"], strict=True):
            assert max(abs(u - 3 * v) for u, v in zip(a["box"], b["box"], strict=True)) <= 12


@pytest.mark.parametrize(
    "region",
    [
        "",
        "430,400,740",
        "430,400,740,260,1",
        "a,b,c,d",
        "-1,400,740,260",
        "430.5,400,740,260",
        "430,400,0,260",
        "1" * 5000 + ",1,1,1",
        "430;400;740;260",
    ],
)
def test_400_malformed_region_in_a_form(client, region):
    data = encoded(desk_photo())
    body = assert_error(solve_region(client, data, region), 400, "invalid_region")
    assert len(body["error"]["message"]) < 200  # quotes what was sent, not all of it


@pytest.mark.parametrize(
    "region",
    [
        "430,400,740,260",
        [430, 400, 740, 260],
        {"x": 430, "y": 400, "w": 740},
        {"x": 430, "y": 400, "w": 740, "h": 260, "z": 1},
        {"x": 430.0, "y": 400, "w": 740, "h": 260},
        {"x": "430", "y": 400, "w": 740, "h": 260},
        {"x": True, "y": 400, "w": 740, "h": 260},
        {"x": 430, "y": -1, "w": 740, "h": 260},
        {"x": 430, "y": 400, "w": 740, "h": 0},
        {"x": 430, "y": 400, "w": 740, "h": None},
        {"x": 10**30, "y": 400, "w": 740, "h": 260},
    ],
)
def test_400_malformed_region_in_json(client, region):
    data = encoded(desk_photo())
    assert_error(client.post(SOLVE, json={"image": data_url(data), "region": region}), 400, "invalid_region")


def test_400_region_outside_the_image_or_sent_as_a_file(client):
    data = encoded(desk_photo())
    body = assert_error(solve_region(client, data, "1200,0,10,10"), 400, "invalid_region")
    assert "outside the 1200x700 image" in body["error"]["message"]
    assert_error(solve_region(client, data, "0,700,10,10"), 400, "invalid_region")
    fields = {
        "image": (io.BytesIO(data), "photo.png"),
        "region": (io.BytesIO(b"430,400,740,260"), "region.txt"),
    }
    r = client.post(SOLVE, data=fields, content_type="multipart/form-data")
    assert_error(r, 400, "invalid_region")


def test_the_solver_gets_the_region_only_when_one_is_sent():
    app, solver = fake_app(Solution("1", Fraction(1), [Token("1", 0.9, (5, 6, 7, 8))]))
    client = app.test_client()
    assert multipart(client, png("1")).status_code == 200
    assert solve_region(client, png("1"), "1,2,3,4").status_code == 200
    # Without a region the solver is called as the SOLVER contract says: solve(image).
    assert solver.keywords == [{}, {"region": Region(1, 2, 3, 4)}]


# ---------------------------------------------------------------- 4xx errors
def test_400_missing_or_malformed_bodies(client):
    assert_error(client.post(SOLVE), 400, "missing_image")
    assert_error(multipart(client, png("1"), field="picture"), 400, "missing_image")
    assert_error(multipart(client, b""), 400, "missing_image")
    assert_error(client.post(SOLVE, data=b"{not json", content_type="application/json"), 400, "invalid_json")
    assert_error(client.post(SOLVE, json=["image"]), 400, "missing_image")
    assert_error(client.post(SOLVE, json={"image": 42}), 400, "missing_image")
    assert_error(client.post(SOLVE, json={"picture": data_url(png("1"))}), 400, "missing_image")
    assert_error(client.post(SOLVE, json={"image": "data:image/png;base64,@@@"}), 400, "invalid_base64")
    assert_error(client.post(SOLVE, json={"image": "data:image/png,rawtext"}), 400, "invalid_base64")
    assert_error(client.post(SOLVE, json={"image": "data:image/png;base64,"}), 400, "missing_image")


def test_400_not_an_image(client):
    assert_error(multipart(client, b"hello, world"), 400, "invalid_image")
    assert_error(multipart(client, png("12+3")[:300]), 400, "invalid_image")  # truncated
    assert_error(client.post(SOLVE, json={"image": data_url(b"GIF89a garbage")}), 400, "invalid_image")
    assert_error(client.post(SOLVE, data=os.urandom(2000), content_type="image/jpeg"), 400)


def test_413_body_too_large(client):
    big = b"\x89PNG" + b"\0" * (DEFAULT_MAX_UPLOAD_BYTES + 10)
    assert_error(client.post(SOLVE, data=big, content_type="image/png"), 413, "too_large")
    body = assert_error(multipart(client, big), 413, "too_large")
    assert "10 MB" in body["error"]["message"]
    assert_error(client.post(SOLVE, json={"image": data_url(big)}), 413, "too_large")


def test_413_too_many_pixels(client):
    # 6000 x 5000 = 30 megapixels, but a 1-bit blank PNG of a few kilobytes.
    buf = io.BytesIO()
    Image.new("1", (6000, 5000), 1).save(buf, format="PNG")
    assert len(buf.getvalue()) < 100_000
    body = assert_error(multipart(client, buf.getvalue()), 413, "too_large")
    assert "pixels" in body["error"]["message"]


def test_413_limits_are_configurable():
    small = create_app({"MAX_CONTENT_LENGTH": 5000, "MAX_IMAGE_PIXELS": 10_000, "WARMUP": False})
    c = small.test_client()
    assert_error(multipart(c, os.urandom(6000)), 413, "too_large")
    assert_error(c.post(SOLVE, data=png("1", size=(200, 100)), content_type="image/png"), 413, "too_large")


def test_415_unsupported_types(client):
    assert_error(client.post(SOLVE, data=b"1+2", content_type="text/plain"), 415, "unsupported_media_type")
    r = client.post(SOLVE, data={"image": "x"}, content_type="application/x-www-form-urlencoded")
    assert_error(r, 415, "unsupported_media_type")
    r = client.post(SOLVE, json={"image": data_url(b"1+2", "text/plain")})
    assert_error(r, 415, "unsupported_media_type")
    # A real document format that is not an image.
    assert_error(
        multipart(client, b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "scan.pdf"), 415, "unsupported_media_type"
    )


def test_422_nothing_recognisable(client):
    blank = io.BytesIO()
    Image.new("L", (600, 200), 255).save(blank, format="PNG")
    body = assert_unsolved(multipart(client, blank.getvalue()), "nothing_found")
    assert body.get("tokens", []) == []


def test_two_lines_are_read_line_by_line(client):
    # A worksheet: each line on its own, in reading order, through the real model.
    r = multipart(client, png("12+3\n45-6", size=(600, 300)))
    assert r.status_code == 200
    body = r.get_json()
    assert body["expression"] == "12+3\n45-6" and "value" not in body
    assert [(line["expression"], line["value"]) for line in body["lines"]] == [("12+3", "15"), ("45-6", "39")]
    assert len(body["tokens"]) == 8


def test_422_when_no_line_reads(client):
    r = multipart(client, png("12+\n4*", size=(600, 300)))
    body = assert_unsolved(r, "incomplete_expression")
    assert len(body["tokens"]) == 5 and body["expression"] == "12+\n4*"
    assert [line["error"]["code"] for line in body["lines"]] == ["incomplete_expression"] * 2
    assert "value" not in body or body["value"] is None
    assert "code" not in body  # one error shape: the code lives in body["error"]


def test_422_incomplete_expression_carries_the_reading_so_far(client):
    # What the drawing page sends while the user is still writing "23+4".
    body = assert_unsolved(multipart(client, png("23+")), "incomplete_expression")
    assert body["expression"] == "23+"
    assert [t["symbol"] for t in body["tokens"]] == ["2", "3", "+"]
    assert body["confidence"] > 0.5
    # Plain words: no pixel coordinates, no raw probabilities.
    assert "x=" not in body["error"]["message"] and "0." not in body["error"]["message"]


@pytest.mark.parametrize("text", ["1++2", "+3"])
def test_422_malformed_expression_says_what_was_read(client, text):
    body = assert_unsolved(multipart(client, png(text)), "malformed_expression")
    assert body["expression"] == text


def test_422_no_expression_for_a_scribble(client):
    body = assert_unsolved(multipart(client, scribble_png()), "no_expression")
    assert body["warnings"] and all("x=" not in w for w in body["warnings"])


def test_422_division_by_zero(client):
    r = multipart(client, png("7/0"))
    if r.status_code == 200:  # pragma: no cover - depends on the model reading "/" and "0"
        pytest.fail(f"7/0 read as {r.get_json()['expression']!r}")
    body = assert_error(r, 422)
    assert body["error"]["code"] in {"division_by_zero", "invalid_expression"}


def test_404_and_405_are_json(client):
    body = assert_error(client.get("/no/such/page"), 404, "not_found")
    assert "/no/such/page" in body["error"]["message"]
    r = client.get(SOLVE)
    assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]
    assert_error(client.delete("/healthz"), 405, "method_not_allowed")
    assert_error(client.put("/api/v1/openapi.json"), 405)


def test_odd_paths_are_404s_never_redirects(client):
    for path in ("/static/../app.py", "/api//v1/solve", "/api/v1/solve/../openapi.json"):
        r = client.get(path)
        assert r.status_code in (404, 405) and r.mimetype == "application/json", path
        assert "Location" not in r.headers
    r = client.get("/healthz/")  # a trailing slash is the same resource, not a 308
    assert r.status_code == 200 and "Location" not in r.headers


def test_deeply_nested_json_is_invalid_json_not_a_500(client):
    r = client.post(SOLVE, data=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    assert_error(r, 400, "invalid_json")
    r = client.post(SOLVE, data=b'{"image": ' * 50_000, content_type="application/json")
    assert_error(r, 400, "invalid_json")


def test_form_limits_have_their_own_message(client):
    r = client.post(SOLVE, data={f"f{i}": "x" for i in range(2000)}, content_type="multipart/form-data")
    body = assert_error(r, 413, "too_many_fields")
    assert "100 fields" in body["error"]["message"] and "the limit is 10 MB" not in body["error"]["message"]


def test_pixel_limit_message_quotes_mathocrs_limit(client):
    # A header announcing 20000 x 20000 (400 MP): refused from the header, before decoding.
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 1, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )
    body = assert_error(multipart(client, data), 413, "too_large")
    assert "25,000,000" in body["error"]["message"] and "178956970" not in body["error"]["message"]


def test_request_id_is_echoed_and_each_request_logged_as_json(client, caplog):
    caplog.set_level("INFO", logger="mathocr.access")
    r = client.post(SOLVE, data=png("12+3"), content_type="image/png", headers={"X-Request-ID": "req-7"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "req-7"
    r2 = client.get("/nope", headers={"X-Request-ID": "x" * 500})  # too long: replaced
    assert r2.headers["X-Request-ID"] != "x" * 500 and len(r2.headers["X-Request-ID"]) == 32
    records = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "mathocr.access"]
    solved = next(rec for rec in records if rec["id"] == "req-7")
    assert solved["status"] == 200 and solved["symbols"] == 4 and solved["ms"] > 0
    assert solved["method"] == "POST" and solved["path"] == SOLVE
    missing = next(rec for rec in records if rec["id"] == r2.headers["X-Request-ID"])
    assert missing["status"] == 404 and missing["symbols"] is None


def test_metrics_are_off_by_default_and_count_by_status_when_on(client):
    assert_error(client.get("/metrics"), 404, "not_found")
    app = create_app({"SOLVER": FakeSolver(RuntimeError("boom")), "WARMUP": False, "METRICS": True})
    c = app.test_client()
    c.get("/healthz")
    c.get("/healthz")
    multipart(c, png("1"))
    text = c.get("/metrics").get_data(as_text=True)
    assert 'mathocr_http_requests_total{status="200"} 2.0' in text
    assert 'mathocr_http_requests_total{status="500"} 1.0' in text
    assert 'mathocr_http_request_seconds_count{status="200"} 2.0' in text


# ---------------------------------------------------------------- 500 and injected solvers
class FakeSolver:
    """Answers a fixed Solution, or raises what it is given."""

    def __init__(self, result: Solution | BaseException):
        self.result = result
        self.seen: list[np.ndarray] = []
        self.keywords: list[dict[str, Any]] = []

    def solve(self, image, **kwargs):
        self.seen.append(image)
        self.keywords.append(kwargs)
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def fake_app(result) -> tuple:
    solver = FakeSolver(result)
    return create_app({"SOLVER": solver, "WARMUP": False}), solver


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("boom at /srv/secret/model.py line 12"),
        errors.ModelError("model /srv/secret/default.joblib is corrupt"),
        MemoryError(),
        KeyError("secret"),
    ],
)
def test_500_hides_internals(exc, caplog):
    app, _ = fake_app(exc)
    r = multipart(app.test_client(), png("1"))
    body = assert_error(r, 500, "internal_error")
    text = r.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text and "<html" not in text.lower()
    assert body == {"error": body["error"]}
    assert any(rec.exc_info for rec in caplog.records)  # logged for the operator instead


def test_expression_errors_raised_by_the_solver_are_422():
    app, _ = fake_app(errors.EvaluationError("division by zero: 1/0 has no value"))
    body = assert_error(multipart(app.test_client(), png("1")), 422, "division_by_zero")
    assert body["error"]["message"] == "Division by zero: 1/0 has no value"
    assert body["status"] == "error"


def test_unsure_is_200_with_the_alternatives():
    tokens = [
        Token("7", 0.99, (10, 20, 30, 40)),
        Token("+", 0.52, (50, 25, 30, 30)),
        Token("1", 0.98, (90, 20, 8, 40)),
    ]
    sol = Solution(
        "7+1",
        Fraction(8),
        tokens,
        warnings=["the 2nd symbol could be + or ×"],
        confidence=0.55,
        alternatives=[
            Alternative("7*1", Fraction(7), 0.41),
            Alternative("7/0", None, 0.02, "division_by_zero"),
        ],
    )
    app, _ = fake_app(sol)
    r = multipart(app.test_client(), png("7+1"))
    assert r.status_code == 200
    body = r.get_json()
    assert_solution(body)
    assert (body["status"], body["expression"], body["value"], body["confidence"]) == (
        "unsure",
        "7+1",
        "8",
        0.55,
    )
    assert body["warnings"] == ["the 2nd symbol could be + or ×"]
    assert body["alternatives"] == [
        {"expression": "7*1", "value": "7", "decimal": "7", "confidence": 0.41, "code": None},
        {"expression": "7/0", "value": None, "decimal": None, "confidence": 0.02, "code": "division_by_zero"},
    ]
    assert "error" not in body


@pytest.mark.parametrize(
    "exc",
    [
        errors.IncompleteExpressionError("read 1 + … so far: a number must follow the last sign"),
        errors.MalformedExpressionError("read 1 + + 2: the signs are not in an order that can be computed"),
        errors.NoExpressionError("nothing here reads as numbers and signs"),
        errors.ExpressionError("found 2 lines of writing"),
    ],
    ids=lambda exc: exc.code,
)
def test_solution_errors_are_422_with_the_solution(exc):
    tokens = [Token("1", 0.97, (10, 20, 30, 40)), Token("+", 0.88, (50, 20, 30, 30))]
    sol = Solution.failure(exc, tokens, ["the 2nd symbol is hard to read"], confidence=0.85)
    app, solver = fake_app(sol)
    body = assert_unsolved(multipart(app.test_client(), png("1+")), exc.code)
    assert body["error"]["message"] == str(exc)[:1].upper() + str(exc)[1:]
    assert (body["expression"], body["confidence"]) == ("1+", 0.85)
    assert body["warnings"] == ["the 2nd symbol is hard to read"]
    assert [t["box"] for t in body["tokens"]] == [[10, 20, 30, 40], [50, 20, 30, 30]]
    # The body is the solver's answer, reshaped only where the API's one error shape says so.
    expected = {k: v for k, v in sol.to_dict().items() if k not in ("error", "code")}
    assert {k: v for k, v in body.items() if k != "error"} == expected
    # The solver got decoded pixels, never bytes or a path.
    seen = solver.seen[0]
    assert isinstance(seen, Reduced) and seen.pixels.shape[:2] == (200, 600)
    assert (seen.scale, seen.size) == (1.0, (600, 200))


# ---------------------------------------------------------------- serving properties
def test_model_is_loaded_once_per_process(monkeypatch):
    calls = []
    real_load = Solver.load.__func__

    def counting_load(cls, path=None):
        calls.append(path)
        return real_load(cls, path)

    monkeypatch.setattr(Solver, "load", classmethod(counting_load))
    app = create_app()
    c = app.test_client()
    for text in ("12+3", "7-4", "8*3"):
        assert multipart(c, png(text)).status_code == 200
    assert calls == [ENV_MODEL]


def test_model_path_from_config_and_environment(monkeypatch, tmp_path):
    from mathocr.pipeline import DEFAULT_MODEL

    app = create_app({"MATHOCR_MODEL": str(DEFAULT_MODEL), "WARMUP": False})
    assert app.extensions["mathocr"].model == str(DEFAULT_MODEL)
    monkeypatch.setenv("MATHOCR_MODEL", str(tmp_path / "missing.joblib"))
    with pytest.raises(errors.ModelError):
        create_app()


def test_tampered_model_is_refused_before_unpickling(tmp_path):
    from mathocr.pipeline import DEFAULT_MODEL

    copy = tmp_path / "model.joblib"
    data = bytearray(DEFAULT_MODEL.read_bytes())
    copy.write_bytes(bytes(data))
    (tmp_path / "model.joblib.sha256").write_bytes(
        Path(str(DEFAULT_MODEL) + ".sha256").read_bytes().replace(b"default.joblib", b"model.joblib")
    )
    assert create_app({"MATHOCR_MODEL": str(copy), "WARMUP": False}).extensions["mathocr"].solver
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(errors.ModelError):
        create_app({"MATHOCR_MODEL": str(copy)})


def test_no_file_is_written_per_request(client):
    """Uploads above Werkzeug's 500 KB spooling threshold stay in memory."""
    info = PngImagePlugin.PngInfo()
    info.add_text("padding", "x" * 1_200_000)  # a 1.2 MB upload of a small drawing
    buf = io.BytesIO()
    render("12+3").save(buf, format="PNG", pnginfo=info)
    assert len(buf.getvalue()) > 1_000_000
    writes: list[tuple] = []
    watching = threading.Event()

    def hook(event, args):
        if not watching.is_set():
            return
        if event == "open" and args[0] is not None and not isinstance(args[0], int):
            mode, flags = args[1] or "", args[2] or 0
            if any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                writes.append(args)
        elif event in ("tempfile.mkstemp", "tempfile.mkdtemp", "os.mkdir", "os.rename", "os.remove"):
            writes.append((event, *args))

    # Encoded up front: the test client itself would spool a large multipart body to disk.
    boundary, body = encode_multipart({"image": FileStorage(io.BytesIO(buf.getvalue()), "big.png")})
    as_json = json.dumps({"image": data_url(buf.getvalue())})
    sys.addaudithook(hook)
    watching.set()
    try:
        r = client.post(SOLVE, data=body, content_type=f"multipart/form-data; boundary={boundary}")
        r2 = client.post(SOLVE, data=as_json, content_type="application/json")
    finally:
        watching.clear()
    assert r.status_code == 200 and r.get_json()["value"] == "15"
    assert r2.status_code == 200
    assert writes == []


def test_concurrent_requests_never_mix(app):
    texts = sorted(READABLE) * 4
    images = {t: png(t) for t in set(texts)}
    expected = {t: multipart(app.test_client(), images[t]).get_json() for t in images}
    results: dict[int, tuple[str, dict]] = {}
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        c = app.test_client()
        barrier.wait()
        for j in range(i, len(texts), 8):
            r = multipart(c, images[texts[j]])
            results[j] = (texts[j], r.get_json())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == len(texts)
    for text, body in results.values():
        assert body == expected[text]


def test_serving_never_imports_tensorflow():
    code = (
        "import sys\n"
        "from mathocr.web import create_app\n"
        "from mathocr.web.handwriting import render_png\n"
        "c = create_app().test_client()\n"
        "r = c.post('/api/v1/solve', data=render_png('12+3'), content_type='image/png')\n"
        "assert r.status_code == 200, r.data\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'scikeras', 'tf2onnx') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr


# ---------------------------------------------------------------- the command line
@pytest.mark.skipif(sys.platform == "win32", reason="gunicorn does not run on Windows")
def test_serve_command_configures_gunicorn(monkeypatch):
    from mathocr import cli
    from mathocr.web import server

    seen = {}
    monkeypatch.setattr(server, "_run_gunicorn", lambda app, options: seen.update(app=app, **options) or 0)
    assert cli.main(["serve", "--host", "::1", "--port", "8123", "--threads", "3", "--workers", "2"]) == 0
    assert (seen["bind"], seen["workers"], seen["threads"]) == (["[::1]:8123"], 2, 3)
    assert seen["worker_class"] == "mathocr.web.worker.ThreadWorker"
    # One model, loaded before the fork; the warm-up runs in each worker, after it.
    assert seen["preload_app"] is True
    app = seen["app"]
    assert app.extensions["mathocr"].model == (ENV_MODEL or "bundled default")
    assert app.config["WARMUP"] is False and app.config["MATHOCR_WORKER_WARMUP"] is True
    assert seen["keepalive"] > 0 and seen["timeout"] > 0 and seen["graceful_timeout"] > 0
    assert seen["limit_request_line"] > 0 and seen["limit_request_field_size"] > 0
    args = cli.build_parser().parse_args(["serve"])
    defaults = (args.host, args.port, args.threads, args.workers, args.model, args.server, args.metrics)
    assert defaults == ("127.0.0.1", 8000, None, None, None, None, False)


def test_serve_command_runs_waitress_on_request(monkeypatch):
    import waitress

    from mathocr import cli

    seen = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: seen.update(app=app, **kw))
    argv = ["serve", "--server", "waitress", "--host", "0.0.0.0", "--port", "8123", "--threads", "3"]
    assert cli.main(argv) == 0
    assert (seen["host"], seen["port"], seen["threads"]) == ("0.0.0.0", 8123, 3)
    assert seen["app"].extensions["mathocr"].model == (ENV_MODEL or "bundled default")
    assert seen["app"].extensions["mathocr"].warmup_seconds is not None
    # Bodies stay in memory: waitress's temp-file threshold is its body cap.
    assert seen["inbuf_overflow"] == seen["max_request_body_size"] > DEFAULT_MAX_UPLOAD_BYTES


@pytest.mark.skipif(sys.platform == "win32", reason="gunicorn does not run on Windows")
def test_gunicorn_protocol_errors_are_json():
    from mathocr.web.worker import json_error_bytes

    raw = json_error_bytes(431, "Request Header Fields Too Large", "The request headers are too large.")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head and f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {
        "error": {"code": "headers_too_large", "message": "The request headers are too large."}
    }


@pytest.mark.parametrize(
    "option",
    [
        ["--workers", "0"],
        ["--threads", "0"],
        ["--max-upload-mb", "-1"],
        ["--server", "waitress", "--workers", "2"],
    ],
)
def test_serve_command_rejects_bad_options(option, capsys):
    from mathocr import cli

    assert cli.main(["serve", *option]) == 2
    assert "must be" in capsys.readouterr().err


def test_serve_command_reports_a_bad_model(tmp_path, capsys):
    from mathocr import cli

    assert cli.main(["serve", "--workers", "1", "--model", str(tmp_path / "nope.joblib")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mathocr serve: error:") and "Traceback" not in err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="worker processes need os.fork")
def test_serve_workers_report_a_bad_model_and_exit(tmp_path):
    """Every worker fails to load the model: one clear error, exit status 2, no hang."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mathocr",
            "serve",
            "--workers",
            "2",
            "--port",
            str(_free_port()),
            "--model",
            str(tmp_path / "nope.joblib"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "mathocr serve: error:" in proc.stderr and "nope.joblib" in proc.stderr
    assert "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("server", ["gunicorn", "waitress"] if sys.platform != "win32" else ["waitress"])
def test_mathocr_serve_end_to_end(server):
    """`python -m mathocr serve` answers over real HTTP: gunicorn with 2 workers, or waitress."""
    port = _free_port()
    workers = 2 if server == "gunicorn" else 1
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mathocr",
            "serve",
            "--server",
            server,
            "--port",
            str(port),
            "--threads",
            "2",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                    assert json.load(r)["status"] == "ready"
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
        req = urllib.request.Request(
            base + SOLVE, data=png("12+3"), headers={"Content-Type": "image/png"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert len(r.headers["X-Request-ID"]) == 32
            assert json.load(r)["value"] == "15"
        _solve_concurrently(req, clients=6)
        try:
            urllib.request.urlopen(base + "/missing", timeout=5)
        except urllib.error.HTTPError as e:
            assert e.code == 404 and json.load(e)["error"]["code"] == "not_found"
        if workers > 1:
            _check_workers_are_replaced(proc.pid, workers, base, req)
    finally:
        children = psutil.Process(proc.pid).children() if proc.poll() is None else []
        proc.terminate()
        proc.wait(timeout=30)
        # Stopping the server stops its workers too: none is left serving the port.
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive
    log = proc.stdout.read()
    # Requests waiting for a thread are expected, not worth a warning line each.
    assert "Task queue depth" not in log
    # Workers end cleanly (an ONNX Runtime session inherited across fork aborted them).
    assert "terminate called" not in log and "SIGABRT" not in log and "Traceback" not in log


def _solve_concurrently(req: urllib.request.Request, clients: int) -> None:
    values: list[str] = []

    def one() -> None:
        with urllib.request.urlopen(req, timeout=30) as r:
            values.append(json.load(r)["value"])

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert values == ["15"] * clients


def _check_workers_are_replaced(pid: int, workers: int, base: str, req: urllib.request.Request) -> None:
    """A worker that dies (killed, out of memory) is replaced and the server keeps answering."""
    parent = psutil.Process(pid)
    before = parent.children()
    assert len(before) == workers
    before[0].kill()
    before[0].wait(timeout=10)
    deadline = time.monotonic() + 30
    while True:
        now = parent.children()
        if len(now) == workers and before[0].pid not in {c.pid for c in now}:
            break
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.1)
    for _ in range(4):
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.load(r)["value"] == "15"


def test_lines_and_marked_equations_match_the_openapi_description():
    spec = openapi_spec()
    wrong = Solution("2*3=5", Fraction(6), [Token("2", 0.99, (10, 20, 30, 40))], correct=False)
    unread = Solution.failure(
        errors.IncompleteExpressionError("a number must follow the +"), [Token("+", 0.9, (50, 60, 20, 20))]
    )
    app, _ = fake_app(Solution.of_lines([wrong, unread]))
    r = multipart(app.test_client(), png("1"))
    assert r.status_code == 200
    body = r.get_json()
    assert _conforms(spec, spec["components"]["schemas"]["Solution"], body) == []
    assert body["status"] == "unsure" and body["expression"] == "2*3=5\n+" and "value" not in body
    first, second = body["lines"]
    assert (first["correct"], first["value"]) == (False, "6")
    assert second["status"] == "error"
    assert second["error"] == {"code": "incomplete_expression", "message": "A number must follow the +"}
    # Every line unreadable: a 422 that still carries each line.
    app, _ = fake_app(Solution.of_lines([unread, unread]))
    body = assert_error(multipart(app.test_client(), png("1")), 422, "incomplete_expression")
    assert _conforms(spec, spec["components"]["schemas"]["UnsolvedError"], body) == []
    assert [line["error"]["code"] for line in body["lines"]] == ["incomplete_expression"] * 2
